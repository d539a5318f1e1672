package receiver

import (
	"context"
	"testing"
	"time"

	"github.com/selfheal/selfheal/internal/testutil"
)

// TestALeftoverLockOfThisReplicaIsTakenBack: on Redis, a lock found in
// this replica's own name (a release that never reached a stalled store)
// is taken at once, not waited out for its minute; one in another
// replica's name is waited for.
func TestALeftoverLockOfThisReplicaIsTakenBack(t *testing.T) {
	rd := testutil.StartRedis(t, testutil.RedisOptions{})
	st := openRedisStore(t, rd.Addr)
	for _, c := range []struct {
		name, holder string
		taken        bool
	}{
		{"own leftover", "host-a-1", true},
		{"another replica's", "host-b-2", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := "heal|" + c.name
			if won, err := st.Claim(context.Background(), bucketLocks, key, []byte(c.holder), time.Minute); err != nil || !won {
				t.Fatalf("the leftover claim: %v %v", won, err)
			}
			l := newLocks(st, true, "host-a-1", time.Minute)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			unlock, err := l.lockAlert(ctx, key)
			if (err == nil) != c.taken {
				t.Fatalf("lock: %v, want taken %v", err, c.taken)
			}
			if err != nil {
				return
			}
			if h, err := st.Holder(context.Background(), bucketLocks, key); err != nil || string(h) != "host-a-1" {
				t.Fatalf("holder %q %v", h, err)
			}
			unlock()
		})
	}
}
