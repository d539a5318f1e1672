// Settings users override with `mixin { _config+:: { ... } }`.
{
  _config+:: {
    // Selectors of the two jobs.
    exporterSelector: 'job="selfheal"',
    receiverSelector: 'job="selfheal-receiver"',
    // Probe results come from both scrape styles: the static checks of
    // /metrics (job selfheal) and /probe (job selfheal-probe, whose targets
    // carry check and target labels: see examples/prometheus.yml).
    probeSelector: 'job=~"selfheal|selfheal-probe"',

    // ICServerConnectFailed: the OCP defaults, fire at once, clear five
    // minutes after recovery.
    icServerHealthMetric: 'ic_server_health',
    icServerLabels: ['ic_server_address', 'ocp_address'],
    icServerFor: '0s',
    icServerKeepFiringFor: '5m',

    // KeyServiceInstanceDown and RedisUnreachable read the static checks
    // of these names.
    keyServiceCheck: 'key_service',
    keyServiceFor: '1m',
    redisCheck: 'redis',
    redisFor: '1m',
    // GossipPortDown reads the static check of this name (OpenGSLB agents
    // gossip on 7946).
    gossipCheck: 'gossip',
    gossipFor: '1m',

    // AgentStale and AgentsManyStale: OpenGSLB's thresholds.
    agentStaleFor: '5m',
    agentsManyStaleRatio: 0.3,
    agentsManyStaleFor: '5m',
    agentLostFor: '1m',

    // AgentCertificateExpiringSoon.
    certWarningDays: 14,
    certCriticalDays: 3,

    // SelfhealRemediationFailed: the receiver's own health, not a page per
    // incident (each incident it gives up on pages once, as an escalation):
    // a rule whose actions mostly fail, over a window long enough to span
    // its retries.
    remediationWindow: '1h',
    remediationFailedRatio: 0.5,
    remediationFailedMin: 3,
    remediationFailedFor: '15m',

    // Down and reload alerts.
    downFor: '5m',
    reloadFailedFor: '10m',
    storeDownFor: '5m',
    cannotActFor: '2m',
    // A pause that holds a rule this long was likely forgotten.
    pausedLongFor: '4h',
    storeDataLostWindow: '30m',

    // Where alerts link to.
    runbookURLBase: 'https://github.com/selfheal/selfheal/blob/main/mixins/selfheal/runbooks/',
    grafanaURL: 'http://grafana:3000',
    dashboardUIDs: {
      overview: 'selfheal-overview',
      remediation: 'selfheal-remediation',
    },
  },
}
