package journal

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/selfheal/selfheal/receiver/action"
)

// MaxActions caps one page of entries (the actions API's limit).
const MaxActions = 1000

// Filter selects entries for Query.
type Filter struct {
	Rule, AlertName, Result string
	Fingerprint             string // one alert's entries: an incident's attempts
	Since                   time.Time
	Before                  string // a journal id: only older entries (the next page's cursor)
	Limit                   int    // 0 for all
}

func (f *Filter) matches(e *Entry) bool {
	return (f.Rule == "" || e.Rule == f.Rule) && (f.AlertName == "" || e.AlertName == f.AlertName) && (f.Result == "" || e.Result == f.Result) &&
		(f.Fingerprint == "" || e.Fingerprint == f.Fingerprint)
}

var (
	idPattern          = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]{8}$`)
	fingerprintPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// ParseFilter reads ?rule=&alertname=&result=&fingerprint=&since=&before=&limit=,
// for the actions API and the journal page alike.
func ParseFilter(q url.Values, now time.Time) (Filter, error) {
	f := Filter{Rule: q.Get("rule"), AlertName: q.Get("alertname"), Result: q.Get("result"), Fingerprint: q.Get("fingerprint"), Before: q.Get("before"), Limit: 100}
	if f.Fingerprint != "" && !fingerprintPattern.MatchString(f.Fingerprint) {
		return f, fmt.Errorf("fingerprint %q is not an alert fingerprint (16 hex digits)", f.Fingerprint)
	}
	switch f.Result {
	case "", action.ResultQueued, action.ResultPaused, action.ResultAwaitingApproval, action.ResultExpired, action.ResultCancelled, action.ResultRunning, action.ResultSuccess, action.ResultFailed, action.ResultRefused, action.ResultDryRun, action.ResultSkipped, action.ResultInterrupted:
	default:
		return f, fmt.Errorf("unknown result %q", f.Result)
	}
	if f.Before != "" && !idPattern.MatchString(f.Before) {
		return f, fmt.Errorf("before %q is not a journal id (the next field of an answer)", f.Before)
	}
	if s := q.Get("since"); s != "" {
		since, err := parseSince(s, now)
		if err != nil {
			return f, err
		}
		f.Since = since
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxActions {
			return f, fmt.Errorf("limit must be 1 to %d", MaxActions)
		}
		f.Limit = n
	}
	return f, nil
}

// parseSince takes a duration back from now ("1h", "30m") or an RFC3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return now.Add(-time.Duration(d)), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q is neither a duration (1h) nor an RFC3339 time", s)
	}
	return t, nil
}
