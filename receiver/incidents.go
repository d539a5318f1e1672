package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

const bucketIncidents = "incidents" // per rule and alert: attempts and last start

// incident is what the engine remembers per rule and alert.
type incident struct {
	StartsAt  time.Time `json:"starts_at"` // the incident the attempts count for
	Attempts  int       `json:"attempts"`
	LastStart time.Time `json:"last_start"`
}

// incidents keeps incident state through the write-behind it shares with
// the journal: a count is visible to the next remediation of the alert at
// once, and durable within the flush interval.
type incidents struct{ wb *writeBehind }

func (s incidents) load(ctx context.Context, key string) (incident, error) {
	var inc incident
	b, err := s.wb.Get(ctx, bucketIncidents, key)
	if errors.Is(err, store.ErrNotFound) {
		return inc, nil
	}
	if err != nil {
		return inc, err
	}
	_ = json.Unmarshal(b, &inc)
	return inc, nil
}

func (s incidents) save(key string, inc incident) error {
	b, err := marshalIncident(inc)
	if err != nil {
		return err
	}
	s.wb.Put(bucketIncidents, key, b)
	return nil
}
