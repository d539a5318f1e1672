package heartbeat

// Registering an agent (room in its group, max_agents) and putting a
// recorded heartbeat in memory.

// join reserves room in group for a new agent id, or refuses it when the
// group holds max_agents with those joining; the reservation ends with the
// returned function, once the agent is counted or was not recorded. A
// second heartbeat of an id already joining shares its reservation.
func (t *Tracker) join(id string, group *Group) (func(), error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.joining[id]; ok {
		return func() {}, nil
	}
	n := t.sizes[group.Group]
	for _, g := range t.joining {
		if g == group.Group {
			n++
		}
	}
	if n >= group.MaxAgents {
		return nil, ErrGroupFull
	}
	t.joining[id] = group.Group
	return func() {
		t.mu.Lock()
		delete(t.joining, id)
		t.mu.Unlock()
	}, nil
}

// applyLocked puts a recorded heartbeat in memory.
func (t *Tracker) applyLocked(id string, rec agentRecord) {
	if cur, ok := t.agents[id]; ok {
		if cur.Last > rec.Last { // a concurrent, later heartbeat won
			rec.Last = cur.Last
		}
		if cur.agentRecord != rec {
			if cur.Group != rec.Group || cur.Env != rec.Env || cur.IP != rec.IP || cur.Service != rec.Service {
				cur.labels = labelBlock(id, rec)
			}
			cur.agentRecord = rec
		}
	} else {
		t.agents[id] = newAgent(id, rec)
		t.sizes[rec.Group]++
	}
	t.persist.changed(id)
}
