package escalation

import (
	"fmt"
	"strings"
	"time"

	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/journal"
)

// historySummary says what ran for an incident, attempt by attempt, oldest
// first (entries come newest first): every attempt's steps with their
// results, and what is still pending.
func historySummary(entries []journal.Entry) string {
	parts := make([]string, 0, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		parts = append(parts, Summary(&entries[i]))
	}
	return strings.Join(parts, "\n\n")
}

// withCurrent puts cur in place of its older version among entries
// (newest first), or first when they lack it.
func withCurrent(entries []journal.Entry, cur *journal.Entry) []journal.Entry {
	if cur == nil {
		return entries
	}
	for i := range entries {
		if entries[i].ID == cur.ID {
			entries[i] = *cur
			return entries
		}
	}
	return append([]journal.Entry{*cur}, entries...)
}

// Summary says what ran, in order: each step's result, exit code or HTTP
// status, and the start of its output.
func Summary(en *journal.Entry) string {
	if len(en.Steps) == 0 {
		s := en.Result
		if en.Attempt > 0 {
			s = fmt.Sprintf("attempt %d, %s", en.Attempt, en.Result)
		}
		if en.Result == action.ResultQueued && en.NotBefore != nil {
			s += ", next " + en.NotBefore.UTC().Format(time.RFC3339)
		}
		if en.Reason != "" {
			s += ": " + en.Reason
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "attempt %d, %s", en.Attempt, en.Result)
	for i, step := range en.Steps {
		undo := ""
		if step.OnFailure {
			undo = "on failure: "
		}
		fmt.Fprintf(&b, "\n%d. %s%s %s: %s", i+1, undo, step.Action, step.What, step.Result)
		switch {
		case step.ExitCode != nil:
			fmt.Fprintf(&b, " (exit %d)", *step.ExitCode)
		case step.HTTPStatus != 0:
			fmt.Fprintf(&b, " (HTTP %d)", step.HTTPStatus)
		}
		if step.Reason != "" {
			b.WriteString(" " + step.Reason)
		}
		if out := strings.TrimSpace(step.Output); out != "" {
			b.WriteString(": " + action.Truncate(out, 200))
		}
	}
	return b.String()
}
