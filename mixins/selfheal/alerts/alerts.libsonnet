local lib = import '../lib.libsonnet';

{
  local c = $._config,
  local annotate(alert, summary, description, dashboard=null) = {
    summary: summary,
    description: description,
    runbook_url: lib.runbook(c, alert),
  } + (if dashboard != null then { dashboard_url: lib.dashboard(c, dashboard) } else {}),

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'selfheal-connectivity',
        rules: [
          {
            alert: 'ICServerConnectFailed',
            // The OCP expression itself, not the recording rule: an alert
            // reading a rule of another group lags one evaluation behind,
            // and this alert must fire at once.
            expr: 'min by (%s) (%s{%s}) == 0' % [std.join(', ', c.icServerLabels), c.icServerHealthMetric, c.exporterSelector],
            'for': c.icServerFor,
            keep_firing_for: c.icServerKeepFiringFor,
            labels: { severity: 'critical' },
            annotations: annotate(
              'ICServerConnectFailed',
              '{{ $labels.ic_server_address }} IC-Server connection failed',
              'OCP node {{ $labels.ocp_address }} cannot connect to IC-Server {{ $labels.ic_server_address }}.',
              'overview',
            ),
          },
          {
            alert: 'KeyServiceInstanceDown',
            // The key-service instance (host:port) becomes the instance
            // label, which remediation templates use.
            // Replicas of the exporter probing the same target are one target:
            // "without (instance)" makes it one alert, whatever their number.
            expr: 'label_replace(min without (instance) (selfheal_probe_success{%s, check="%s"}), "instance", "$1", "target", "(?:https?://)?([^/]+).*") == 0' % [c.probeSelector, c.keyServiceCheck],
            'for': c.keyServiceFor,
            labels: { severity: 'critical' },
            annotations: annotate(
              'KeyServiceInstanceDown',
              'Key service instance {{ $labels.instance }} is down',
              'The key service at {{ $labels.instance }} does not answer "The API is available and operational" on {{ $labels.target }}.',
              'overview',
            ),
          },
          {
            alert: 'RedisUnreachable',
            expr: 'min without (instance) (selfheal_probe_success{%s, check="%s"}) == 0' % [c.probeSelector, c.redisCheck],
            'for': c.redisFor,
            labels: { severity: 'critical' },
            annotations: annotate(
              'RedisUnreachable',
              'Redis {{ $labels.target }} is unreachable{{ with $labels.env }} from {{ . }}{{ end }}',
              'The Redis at {{ $labels.target }} does not answer PING{{ with $labels.env }} from environment {{ . }}{{ end }}; every agent that reports through it will look lost.',
              'overview',
            ),
          },
          {
            alert: 'GossipPortDown',
            expr: 'min without (instance) (selfheal_probe_success{%s, check="%s"}) == 0' % [c.probeSelector, c.gossipCheck],
            'for': c.gossipFor,
            labels: { severity: 'critical' },
            annotations: annotate(
              'GossipPortDown',
              'Gossip port {{ $labels.target }} does not accept connections',
              'Nothing accepts TCP connections on the gossip port {{ $labels.target }}; agents gossiping to it cannot report and will go stale.',
              'overview',
            ),
          },
          {
            alert: 'AgentCertificateExpiringSoon',
            expr: '(min without (instance) (selfheal_probe_tls_cert_expiry_timestamp_seconds{%s}) - time()) < %d * 86400' % [c.probeSelector, c.certWarningDays],
            labels: { severity: 'warning' },
            annotations: annotate(
              'AgentCertificateExpiringSoon',
              'TLS certificate of {{ $labels.target }} expires in {{ $value | humanizeDuration }}',
              'The certificate presented by {{ $labels.target }} (check {{ $labels.check }}) expires in {{ $value | humanizeDuration }}; renew it before the link breaks.',
            ),
          },
          {
            alert: 'AgentCertificateExpiringSoon',
            expr: '(min without (instance) (selfheal_probe_tls_cert_expiry_timestamp_seconds{%s}) - time()) < %d * 86400' % [c.probeSelector, c.certCriticalDays],
            labels: { severity: 'critical' },
            annotations: annotate(
              'AgentCertificateExpiringSoon',
              'TLS certificate of {{ $labels.target }} expires in {{ $value | humanizeDuration }}',
              'The certificate presented by {{ $labels.target }} (check {{ $labels.check }}) expires in {{ $value | humanizeDuration }}; renew it now.',
            ),
          },
        ],
      },
      {
        name: 'selfheal-agents',
        rules: [
          {
            alert: 'AgentStale',
            expr: 'max by (group) (selfheal_stale_agents{%s}) > 0' % c.exporterSelector,
            'for': c.agentStaleFor,
            labels: { severity: 'warning' },
            annotations: annotate(
              'AgentStale',
              '{{ $value }} agents of group {{ $labels.group }} are stale',
              '{{ $value }} agents of group {{ $labels.group }} have sent no heartbeat for longer than their interval and grace.',
              'overview',
            ),
          },
          {
            alert: 'AgentsManyStale',
            expr: 'max by (group) (selfheal_stale_agents{%s}) / max by (group) (selfheal_agents_registered{%s} > 0) > %g' % [c.exporterSelector, c.exporterSelector, c.agentsManyStaleRatio],
            'for': c.agentsManyStaleFor,
            labels: { severity: 'critical' },
            annotations: annotate(
              'AgentsManyStale',
              'More than %d%% of agents of group {{ $labels.group }} are stale' % (100 * c.agentsManyStaleRatio),
              '{{ $value | humanizePercentage }} of the agents of group {{ $labels.group }} are stale: more likely a network, Redis or overwatch problem than single agents.',
              'overview',
            ),
          },
          {
            alert: 'AgentLost',
            // env repeats agent_env so that RedisUnreachable of the same
            // environment can inhibit it in Alertmanager.
            expr: 'label_replace(max by (group, agent, agent_env, agent_ip, agent_service) (selfheal_agent_stale{%s}), "env", "$1", "agent_env", "(.+)") == 1' % c.exporterSelector,
            'for': c.agentLostFor,
            labels: { severity: 'warning' },
            annotations: annotate(
              'AgentLost',
              'Agent {{ $labels.agent }} ({{ $labels.agent_env }}) cannot be reached',
              'Agent {{ $labels.agent }} of group {{ $labels.group }} in env {{ $labels.agent_env }} (ip {{ $labels.agent_ip }}, service {{ $labels.agent_service }}) has stopped sending heartbeats.',
              'overview',
            ),
          },
        ],
      },
      {
        name: 'selfheal-self',
        rules: [
          {
            alert: 'SelfhealRemediationFailed',
            expr: |||
              (
                sum by (rule) (increase(selfheal_remediation_actions_total{%(sel)s, result="failed"}[%(w)s]))
                /
                sum by (rule) (increase(selfheal_remediation_actions_total{%(sel)s, result=~"success|failed"}[%(w)s]))
              ) > %(ratio)s
              and
              sum by (rule) (increase(selfheal_remediation_actions_total{%(sel)s, result="failed"}[%(w)s])) >= %(min)s
            ||| % { sel: c.receiverSelector, w: c.remediationWindow, ratio: c.remediationFailedRatio, min: c.remediationFailedMin },
            'for': c.remediationFailedFor,
            labels: { severity: 'warning' },
            annotations: annotate(
              'SelfhealRemediationFailed',
              'Self-healing rule {{ $labels.rule }} mostly fails',
              'More than %d%% of the actions of remediation rule {{ $labels.rule }} failed in the last %s (at least %d): the rule or what it calls is broken. Each incident it gave up on has paged once already, as an escalation; this is about the rule. See /journal?rule={{ $labels.rule }} on the receiver.' % [c.remediationFailedRatio * 100, c.remediationWindow, c.remediationFailedMin],
              'remediation',
            ),
          },
          {
            alert: 'SelfhealExporterDown',
            expr: 'up{%(sel)s} == 0 or absent(up{%(sel)s})' % { sel: c.exporterSelector },
            'for': c.downFor,
            labels: { severity: 'critical' },
            annotations: annotate(
              'SelfhealExporterDown',
              'selfheal_exporter {{ $labels.instance }} is down',
              'Prometheus cannot scrape selfheal_exporter{{ with $labels.instance }} at {{ . }}{{ end }}: no probe or heartbeat alert can fire while it is down.',
            ),
          },
          {
            alert: 'SelfhealReceiverDown',
            expr: 'up{%(sel)s} == 0 or absent(up{%(sel)s})' % { sel: c.receiverSelector },
            'for': c.downFor,
            labels: { severity: 'critical' },
            annotations: annotate(
              'SelfhealReceiverDown',
              'selfheal_receiver {{ $labels.instance }} is down',
              'Prometheus cannot scrape selfheal_receiver{{ with $labels.instance }} at {{ . }}{{ end }}: alerts are not being remediated.',
            ),
          },
          {
            alert: 'SelfhealConfigReloadFailed',
            // One alert per job: the same bad file reaches every replica.
            expr: 'count by (job) (selfheal_exporter_config_last_reload_successful{%s} == 0) or count by (job) (selfheal_receiver_config_last_reload_successful{%s} == 0)' % [c.exporterSelector, c.receiverSelector],
            'for': c.reloadFailedFor,
            labels: { severity: 'warning' },
            annotations: annotate(
              'SelfhealConfigReloadFailed',
              'Configuration reload of {{ $labels.job }} failed',
              'The last configuration reload of {{ $labels.job }} failed on {{ $value }} instance(s); they still run the previous configuration.',
            ),
          },
          {
            alert: 'SelfhealStoreDown',
            // One alert per job: replicas share one Redis.
            expr: 'count by (job) (selfheal_store_up{%s} == 0) or count by (job) (selfheal_store_up{%s} == 0)' % [c.exporterSelector, c.receiverSelector],
            'for': c.storeDownFor,
            labels: { severity: 'warning' },
            annotations: annotate(
              'SelfhealStoreDown',
              'State store of {{ $labels.job }} is unavailable',
              '{{ $labels.job }} cannot reach its store on {{ $value }} instance(s): heartbeats are refused with 503 and remediation state cannot be recorded.',
            ),
          },
          {
            alert: 'SelfhealReceiverCannotAct',
            // One alert per job: it matters when no replica may act.
            expr: 'max by (job) (selfheal_receiver_lease_confirmed{%s}) == 0' % c.receiverSelector,
            'for': c.cannotActFor,
            labels: { severity: 'critical' },
            annotations: annotate(
              'SelfhealReceiverCannotAct',
              'No replica of {{ $labels.job }} may start remediations',
              'No replica of {{ $labels.job }} had its lease acknowledged by a Redis replica lately, so none starts a remediation: its Redis primary is cut off from its replicas, or has none left. Alerts it heals wait unhealed, and page only through escalate_after.',
            ),
          },
          {
            alert: 'SelfhealReceiverPausedLong',
            // One alert per rule and job: replicas share their pauses.
            expr: 'max by (job, rule) (selfheal_receiver_paused{%s}) == 1' % c.receiverSelector,
            'for': c.pausedLongFor,
            labels: { severity: 'warning' },
            annotations: annotate(
              'SelfhealReceiverPausedLong',
              'Rule {{ $labels.rule }} of {{ $labels.job }} has been paused for more than %s' % c.pausedLongFor,
              'A pause has held the remediations of rule {{ $labels.rule }} for more than %s: its alerts are accepted and held, and nothing heals them until the pause ends or someone resumes it.' % c.pausedLongFor,
            ),
          },
          {
            alert: 'SelfhealStoreDataLost',
            expr: 'count by (job) (increase(selfheal_store_data_lost_total{%s}[%s]) > 0) or count by (job) (increase(selfheal_store_data_lost_total{%s}[%s]) > 0)' % [c.exporterSelector, c.storeDataLostWindow, c.receiverSelector, c.storeDataLostWindow],
            labels: { severity: 'critical' },
            annotations: annotate(
              'SelfhealStoreDataLost',
              'The shared store of {{ $labels.job }} lost its data',
              'The Redis that {{ $labels.job }} shares came back without what it held (restarted empty, flushed, or failed over to a replica that never synced): deduplication claims, attempts, cooldowns, pool state, open escalations and agent registrations recorded before are gone.',
            ),
          },
        ],
      },
    ],
  },
}
