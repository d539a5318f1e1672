// Recording rules for expressions the dashboards reuse. Each keeps the job
// label so the dashboards' job variable selects them.
{
  local c = $._config,
  prometheusRules+:: {
    groups+: [
      {
        name: 'selfheal.rules',
        rules: [
          {
            // The OCP metric expression: one series per IC-Server and OCP node.
            record: 'selfheal:ic_server_health:min',
            expr: 'min by (job, %s) (%s{%s})' % [std.join(', ', c.icServerLabels), c.icServerHealthMetric, c.exporterSelector],
          },
          {
            record: 'selfheal:agents_stale:ratio',
            expr: 'max by (job, group) (selfheal_stale_agents{%s}) / max by (job, group) (selfheal_agents_registered{%s} > 0)' % [c.exporterSelector, c.exporterSelector],
          },
          {
            record: 'selfheal:probe_success:avg_by_check',
            expr: 'avg by (job, check) (selfheal_probe_success{%s})' % c.exporterSelector,
          },
          {
            record: 'selfheal:remediation_actions:rate5m',
            expr: 'sum by (job, rule, result) (rate(selfheal_remediation_actions_total{%s}[5m]))' % c.receiverSelector,
          },
        ],
      },
    ],
  },
}
