package collector

import (
	"fmt"
	"strings"

	"github.com/go-kit/log"
)

// reasonLogger passes a probe's log lines on, whatever their level, and
// keeps the last one: when the probe fails, it says why (a status code, a
// refused connection, a body that did not match), and the status page
// shows it beside the failure. It is rendered only then.
type reasonLogger struct {
	next log.Logger
	last []any
}

func (r *reasonLogger) Log(keyvals ...any) error {
	r.last = keyvals
	return r.next.Log(keyvals...)
}

// reason is the last line, rendered.
func (r *reasonLogger) reason() string {
	if r.last == nil {
		return ""
	}
	return reason(r.last)
}

// reason renders a log line's message and its own fields: "msg: k=v ...",
// without the level and the check and target every line of it carries.
func reason(keyvals []any) string {
	var msg string
	var rest []string
	for i := 0; i+1 < len(keyvals); i += 2 {
		k := fmt.Sprint(keyvals[i])
		switch k {
		case "msg":
			msg = fmt.Sprint(keyvals[i+1])
		case "level", "check", "target", "ts", "caller":
		default:
			rest = append(rest, k+"="+fmt.Sprint(keyvals[i+1]))
		}
	}
	if len(rest) == 0 {
		return msg
	}
	return msg + ": " + strings.Join(rest, " ")
}
