package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/selfheal/selfheal/internal/store"
)

// incident is what the engine remembers per rule and alert.
type incident struct {
	StartsAt  time.Time `json:"starts_at"` // the incident the attempts count for
	Attempts  int       `json:"attempts"`
	LastStart time.Time `json:"last_start"`
}

// incidents reads incident state; it is written with the start of each
// attempt (recordStart), durably, before the actions run.
type incidents struct{ st store.Store }

func (s incidents) load(ctx context.Context, key string) (incident, error) {
	var inc incident
	b, err := s.st.Get(ctx, bucketIncidents, key)
	if errors.Is(err, store.ErrNotFound) {
		return inc, nil
	}
	if err != nil {
		return inc, err
	}
	_ = json.Unmarshal(b, &inc)
	return inc, nil
}
