package systemd

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/dbus"

	"github.com/selfheal/selfheal/receiver/action"
)

// bus is this host's systemd through the system bus
// ($DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket), and its
// journal through journalctl, run without a shell.
type bus struct {
	conn *dbus.Conn
}

func dialBus(ctx context.Context) (manager, error) {
	c, err := dbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to systemd on the system bus%s: %w", busHint(os.Getuid()), err)
	}
	return &bus{conn: c}, nil
}

// busHint explains a refused connection when uid is in systemd's range of
// dynamic users (61184-65519), whom dbus-daemon refuses.
func busHint(uid int) string {
	if uid < 61184 || uid > 65519 {
		return ""
	}
	return fmt.Sprintf(" as uid %d, a dynamic user (DynamicUser=yes), which dbus-daemon refuses: run the receiver as a user of its own (docs/install.md)", uid)
}

func (b *bus) show(ctx context.Context, unit string) (unitState, error) {
	p := map[string]string{}
	props, err := b.conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return unitState{}, fmt.Errorf("reading %s: %w", unit, err)
	}
	if strings.HasSuffix(unit, ".service") {
		svc, err := b.conn.GetUnitTypePropertiesContext(ctx, unit, "Service")
		if err != nil {
			return unitState{}, fmt.Errorf("reading %s: %w", unit, err)
		}
		for k, v := range svc {
			props[k] = v
		}
	}
	for _, k := range properties {
		p[k] = busValue(props[k])
	}
	return stateOf(p), nil
}

// busValue prints a D-Bus property as systemctl show would.
func busValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case []byte: // InvocationID
		return hex.EncodeToString(v)
	case string:
		return v
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case int32:
		return strconv.Itoa(int(v))
	}
	return fmt.Sprint(v)
}

func (b *bus) queue(ctx context.Context, op, unit string) error {
	var err error
	switch op {
	case "start":
		_, err = b.conn.StartUnitContext(ctx, unit, "replace", nil)
	case "stop":
		_, err = b.conn.StopUnitContext(ctx, unit, "replace", nil)
	default:
		_, err = b.conn.RestartUnitContext(ctx, unit, "replace", nil)
	}
	if err != nil {
		return fmt.Errorf("systemd refused to %s %s: %w", op, unit, err)
	}
	return nil
}

func (b *bus) journal(ctx context.Context, unit string, n int) (string, error) {
	args := journalArgs(unit, n)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.WaitDelay = time.Second
	var out action.LimitedBuffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("journalctl: %w", err)
	}
	return oldestFirst(out.String()), nil
}

func (b *bus) close() { b.conn.Close() }
