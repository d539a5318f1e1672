package receiver

// Refusal reasons: each means the receiver will not heal, and pages through
// SelfhealRemediationFailed. Cooldown, store_unavailable and
// lease_unconfirmed are a deferral's reasons, not a refusal's.
const (
	ReasonInvalidLabel     = "invalid_label"
	ReasonCooldown         = "cooldown"
	ReasonPaused           = "paused"
	ReasonStoreUnavailable = "store_unavailable"
	ReasonLeaseUnconfirmed = "lease_unconfirmed"
	ReasonMaxAttempts      = "max_attempts"
	ReasonPoolMinHealthy   = "pool_min_healthy"
	ReasonPoolMaxRemoved   = "pool_max_removed"
)
