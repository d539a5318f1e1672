package heartbeat

import (
	"errors"
	"time"

	"github.com/selfheal/selfheal/internal/promtext"
)

// Agent states, as healthchecks.io names them.
const (
	StateUp     = "up"     // heard within interval
	StateLate   = "late"   // past interval, within interval + grace
	StateStale  = "stale"  // past interval + grace
	StateNew    = "new"    // expected or registered, never heard, not yet stale
	StatePaused = "paused" // an operator override is active
)

// States lists every state, for metrics that export a count per state.
var States = []string{StateUp, StateLate, StateStale, StateNew, StatePaused}

// Override is an operator's manual verdict on an agent, such as "the agent
// is disconnected but the backend was checked and is healthy". It takes the
// agent out of the stale count until it expires.
type Override struct {
	Healthy   bool      `json:"healthy"`
	Reason    string    `json:"reason"`
	ExpiresAt time.Time `json:"expires_at"`
	SetAt     time.Time `json:"set_at"`
}

func (o *Override) active(now time.Time) bool { return o != nil && now.Before(o.ExpiresAt) }

// agentRecord is what is stored per agent.
type agentRecord struct {
	Group      string `json:"group"`
	Env        string `json:"env,omitempty"`
	IP         string `json:"ip,omitempty"`
	Service    string `json:"service,omitempty"`
	Last       int64  `json:"last,omitempty"` // Unix nanoseconds of the last heartbeat, 0 if never
	Registered int64  `json:"registered"`     // Unix nanoseconds of registration
}

type agent struct {
	id string
	agentRecord
	override *Override
	// labels is the agent's label block for per-agent series, built when
	// its details change rather than escaped anew on every scrape.
	labels []byte
}

func newAgent(id string, rec agentRecord) *agent {
	return &agent{id: id, agentRecord: rec, labels: labelBlock(id, rec)}
}

// labelBlock renders {group="…",agent="…",agent_env="…",agent_ip="…",agent_service="…"}.
func labelBlock(id string, r agentRecord) []byte {
	b := make([]byte, 0, 64+len(id)+len(r.Group)+len(r.Env)+len(r.IP)+len(r.Service))
	b = append(b, `{group="`...)
	b = promtext.AppendEscaped(b, r.Group, true)
	b = append(b, `",agent="`...)
	b = promtext.AppendEscaped(b, id, true)
	b = append(b, `",agent_env="`...)
	b = promtext.AppendEscaped(b, r.Env, true)
	b = append(b, `",agent_ip="`...)
	b = promtext.AppendEscaped(b, r.IP, true)
	b = append(b, `",agent_service="`...)
	b = promtext.AppendEscaped(b, r.Service, true)
	return append(b, `"} `...)
}

// AgentView is an agent as the API shows it.
type AgentView struct {
	ID            string     `json:"id"`
	Group         string     `json:"group"`
	Env           string     `json:"env"`
	IP            string     `json:"ip"`
	Service       string     `json:"service"`
	Status        string     `json:"status"`
	LastHeartbeat *time.Time `json:"last_heartbeat"`
	Override      *Override  `json:"override,omitempty"`
}

// Heartbeat is what an agent may say about itself.
type Heartbeat struct {
	Group   string `json:"group"`
	Env     string `json:"env"`
	IP      string `json:"ip"`
	Service string `json:"service"`
}

// Errors of the tracker; the API maps them to status codes.
var (
	ErrUnknownGroup = errors.New("unknown group")
	ErrUnknownAgent = errors.New("unknown agent")
	ErrWrongGroup   = errors.New("agent belongs to another group")
	ErrNoGroup      = errors.New("group is required: several groups are configured")
	ErrStoreDown    = errors.New("store unavailable")
	ErrGroupFull    = errors.New("the group has max_agents agents")
)
