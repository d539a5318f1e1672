package serve

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/selfheal/selfheal/internal/store"
)

// epochEvery is how often a shared store's epoch is checked.
const epochEvery = 5 * time.Second

// WatchStoreLoss checks, every few seconds until ctx ends, whether a shared
// store lost its data (a store.EpochWatcher: Redis), and logs and counts it
// in selfheal_store_data_lost_total, then calls each of then. The embedded
// store cannot lose its data without the process noticing at start.
func WatchStoreLoss(ctx context.Context, st store.Store, reg prometheus.Registerer, logger log.Logger, then ...func(context.Context)) {
	r, ok := st.(store.EpochWatcher)
	if !ok {
		return
	}
	lost := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "selfheal_store_data_lost_total",
		Help: "Times the shared store was found to have lost its data (Redis restarted empty, FLUSHALL, a failover to a replica that never synced): what it held before is gone.",
	})
	reg.MustRegister(lost)
	go r.WatchEpoch(ctx, epochEvery, func() {
		lost.Inc()
		level.Error(logger).Log("msg", "The shared store lost its data: deduplication claims, attempts, cooldowns, pool state, open escalations and registrations recorded before are gone")
		for _, fn := range then {
			fn(ctx)
		}
	})
}
