package receiver

import (
	"testing"
	"time"
)

// TestTaskState: a backlog record's flags give the task's state and back,
// and putting a task off keeps a retry a retry.
func TestTaskState(t *testing.T) {
	at := time.Unix(1000, 0)
	for _, c := range []struct {
		name                 string
		retry, delayed       bool
		want, afterPutOff    taskState
		wantRetry, wantDelay bool
	}{
		{"from a notification", false, false, stateFresh, stateDeferred, false, false},
		{"deferred", false, true, stateDeferred, stateDeferred, false, true},
		{"a retry", true, true, stateRetry, stateRetry, true, true},
	} {
		tk := &task{state: taskStateOf(c.retry, c.delayed)}
		if tk.state != c.want || tk.retry() != c.wantRetry || tk.delayed() != c.wantDelay {
			t.Errorf("%s: state %d retry %v delayed %v", c.name, tk.state, tk.retry(), tk.delayed())
		}
		tk.putOff(at)
		if tk.state != c.afterPutOff || !tk.notBefore.Equal(at) || !tk.delayed() {
			t.Errorf("%s put off: state %d, not before %v", c.name, tk.state, tk.notBefore)
		}
	}
}
