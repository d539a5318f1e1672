package heartbeat

import "time"

// lifetimes are when this process started and, from the embedded store,
// when the previous one started and took its last snapshot.
type lifetimes struct {
	started, prevStarted, prevAlive time.Time
}

// state is an agent's state at now. An agent not heard from since this
// process started gets interval + grace from the start before it counts as
// stale, so that a restart does not flag the whole fleet; one that was
// stale already at the previous process's last snapshot gets none.
func state(a agentRecord, o *Override, g *Group, now time.Time, l lifetimes) string {
	if o.active(now) {
		if o.Healthy {
			return StatePaused
		}
		return StateStale
	}
	limit := g.Interval.Duration + g.Grace.Duration
	graceFrom := l.started
	if !l.prevAlive.IsZero() && time.Unix(0, a.Last).Before(l.prevAlive) && state(a, nil, g, l.prevAlive, lifetimes{started: l.prevStarted}) == StateStale {
		graceFrom = time.Time{}
	}
	if a.Last == 0 {
		since := time.Unix(0, a.Registered)
		if graceFrom.After(since) {
			since = graceFrom
		}
		if now.Sub(since) > limit {
			return StateStale
		}
		return StateNew
	}
	last := time.Unix(0, a.Last)
	age := now.Sub(last)
	switch {
	case age <= g.Interval.Duration:
		return StateUp
	case age <= limit:
		return StateLate
	case last.Before(graceFrom) && now.Sub(graceFrom) <= limit:
		return StateLate
	default:
		return StateStale
	}
}

// nextRecord is an agent's record after a heartbeat at time at in group:
// env, ip and service are taken from hb where it gives them, and the last
// heartbeat only moves forward. known says whether prev is a registered
// agent's record; a new one is registered at.
func nextRecord(prev agentRecord, known bool, group string, hb Heartbeat, at time.Time) agentRecord {
	rec := prev
	if !known {
		rec = agentRecord{Registered: at.UnixNano()}
	}
	rec.Group = group
	if hb.Env != "" {
		rec.Env = hb.Env
	}
	if hb.IP != "" {
		rec.IP = hb.IP
	}
	if hb.Service != "" {
		rec.Service = hb.Service
	}
	if at.UnixNano() > rec.Last {
		rec.Last = at.UnixNano()
	}
	return rec
}

// merge is the fleet after a read of the store: what was stored, except
// where memory heard an agent later, or first heard it after the read
// began (at began, Unix nanoseconds).
func merge(stored, cur map[string]*agent, began int64) map[string]*agent {
	for id, a := range cur {
		if s, ok := stored[id]; ok && a.Last > s.Last {
			stored[id] = a
		} else if !ok && a.Last >= began {
			stored[id] = a
		}
	}
	return stored
}
