package ctl

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/selfheal/selfheal/receiver/action"
	"github.com/selfheal/selfheal/receiver/journal"
)

type actionsFlags struct {
	rule, alertname, result, since string
	limit                          int
	follow                         bool
	every                          time.Duration
}

func (c *cli) actionsCommand(app *kingpin.Application, run map[string]func() error) {
	cmd := app.Command("actions", "The receiver's journal: one line per remediation, newest first (-o wide adds each step).")
	var f actionsFlags
	cmd.Flag("rule", "Only this rule's remediations.").StringVar(&f.rule)
	cmd.Flag("alertname", "Only remediations of this alert.").StringVar(&f.alertname)
	cmd.Flag("result", "Only this result: success, failed, refused, interrupted, dry_run, queued, running, skipped.").StringVar(&f.result)
	cmd.Flag("since", "Only since: a duration back (1h) or an RFC3339 time.").StringVar(&f.since)
	cmd.Flag("limit", "How many entries at most.").Default("50").IntVar(&f.limit)
	cmd.Flag("follow", "Keep printing remediations as they are journaled or change, oldest first, until interrupted.").Short('f').BoolVar(&f.follow)
	cmd.Flag("follow.interval", "How often --follow asks the receiver.").Default("2s").DurationVar(&f.every)
	run[cmd.FullCommand()] = func() error { return c.actions(f) }
}

func (f *actionsFlags) query() url.Values {
	q := url.Values{"limit": {fmt.Sprint(f.limit)}}
	for k, v := range map[string]string{"rule": f.rule, "alertname": f.alertname, "result": f.result, "since": f.since} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func (c *cli) actions(f actionsFlags) error {
	s, err := c.service("receiver")
	if err != nil {
		return err
	}
	entries, err := fetchActions(c, s, f.query())
	if err != nil {
		return err
	}
	if !f.follow {
		if c.f.output == outJSON {
			return writeJSON(c.out, entries)
		}
		return c.printActions(entries, true)
	}
	return c.follow(s, f, entries)
}

func fetchActions(c *cli, s *service, q url.Values) ([]journal.Entry, error) {
	var answer struct {
		Actions []journal.Entry `json:"actions"`
	}
	err := s.call(c.ctx, http.MethodGet, "/api/v1/actions", q, nil, &answer)
	return answer.Actions, err
}

// follow prints what is journaled from now on: each remediation when it
// first appears and again when its result changes, oldest first, like
// kubectl get --watch. It ends when the context is cancelled (Ctrl-C).
func (c *cli) follow(s *service, f actionsFlags, first []journal.Entry) error {
	seen := map[string]string{} // id -> result printed
	header := true
	show := func(entries []journal.Entry) error {
		var fresh []journal.Entry
		for _, e := range entries {
			if seen[e.ID] != e.Result {
				seen[e.ID] = e.Result
				fresh = append(fresh, e)
			}
		}
		slices.Reverse(fresh)
		if len(fresh) == 0 {
			return nil
		}
		err := c.printActions(fresh, header)
		header = false
		return err
	}
	if err := show(first); err != nil {
		return err
	}
	tick := time.NewTicker(f.every)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return nil
		case <-tick.C:
		}
		entries, err := fetchActions(c, s, f.query())
		if err != nil {
			if c.ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := show(entries); err != nil {
			return err
		}
	}
}

func (c *cli) printActions(entries []journal.Entry, header bool) error {
	if c.f.output == outJSON {
		for _, e := range entries {
			if err := writeJSON(c.out, e); err != nil {
				return err
			}
		}
		return nil
	}
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, actionRow(e))
	}
	var b strings.Builder
	if err := table(&b, []string{"WHEN", "RULE", "ALERT", "INSTANCE", "STATUS", "RESULT", "ATTEMPT", "REASON"}, rows); err != nil {
		return err
	}
	// The header, then a line per entry; wide puts each entry's steps
	// under its line. --follow prints the header once.
	lines := strings.SplitAfter(b.String(), "\n")
	if header {
		io.WriteString(c.out, lines[0])
	}
	for i, e := range entries {
		io.WriteString(c.out, lines[i+1])
		if c.f.output == outWide {
			for _, st := range stepLines(e) {
				io.WriteString(c.out, "    "+st+"\n")
			}
		}
	}
	return nil
}

func actionRow(e journal.Entry) []string {
	attempt := ""
	if e.Attempt > 0 {
		attempt = fmt.Sprint(e.Attempt)
	}
	result := e.Result
	if e.DryRun && result != action.ResultDryRun {
		result += " (dry run)"
	}
	if e.Result == action.ResultQueued && e.NotBefore != nil {
		result += ", next " + e.NotBefore.UTC().Format("2006-01-02T15:04:05Z")
	}
	target := e.Target
	if target == "" {
		target = e.Labels["instance"] // an entry from before targets
	}
	if target == "" {
		target = "-"
	}
	return []string{e.When().UTC().Format("2006-01-02T15:04:05Z"), e.Rule, e.AlertName, target, e.Status, result, attempt, e.Reason}
}

// stepLines says each step on a line: what ran, its result, exit code or
// HTTP status, why, and the start of its output.
func stepLines(e journal.Entry) []string {
	var out []string
	for i, st := range e.Steps {
		line := fmt.Sprintf("%d. %s %s: %s", i+1, st.Action, st.What, st.Result)
		if st.OnFailure {
			line = fmt.Sprintf("%d. on failure: %s %s: %s", i+1, st.Action, st.What, st.Result)
		}
		switch {
		case st.ExitCode != nil:
			line += fmt.Sprintf(" (exit %d)", *st.ExitCode)
		case st.HTTPStatus != 0:
			line += fmt.Sprintf(" (HTTP %d)", st.HTTPStatus)
		}
		if st.Reason != "" {
			line += " " + st.Reason
		}
		if o := strings.TrimSpace(st.Output); o != "" {
			if len(o) > 200 {
				o = o[:200] + "…"
			}
			line += ": " + oneLine(o)
		}
		out = append(out, line)
		if st.Observed != nil && st.Observed.Log != "" {
			out = append(out, evidenceLines(st.Observed.Log)...)
		}
	}
	return out
}

// evidenceLines shows the last lines of an object's log kept before a
// step acted on it, at most five, under the step.
func evidenceLines(log string) []string {
	lines := strings.Split(log, "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	out := []string{"   its log before the action:"}
	for _, l := range lines {
		out = append(out, "   | "+oneLine(l))
	}
	return out
}
