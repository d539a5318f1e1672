package systemd

import (
	"slices"
	"strconv"
	"strings"
)

// journalArgs asks for the unit's last n lines newest first, so that an
// output cut at action.MaxOutput keeps the newest.
func journalArgs(unit string, n int) []string {
	return []string{"journalctl", "--unit", unit, "--lines", strconv.Itoa(n), "--reverse", "--no-pager", "--output", "short-iso"}
}

// oldestFirst puts journalArgs' output back in order; a line cut short by
// the output's cap is dropped.
func oldestFirst(out string) string {
	if i := strings.LastIndex(out, "… ("); i >= 0 && strings.HasSuffix(out, " more bytes)") {
		out = out[:i]
		if j := strings.LastIndexByte(out, '\n'); j >= 0 {
			out = out[:j]
		} else {
			out = ""
		}
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	slices.Reverse(lines)
	return strings.Join(lines, "\n")
}
