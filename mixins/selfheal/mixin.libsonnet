// The selfheal monitoring mixin: alerts, recording rules and dashboards
// for selfheal_exporter and selfheal_receiver. Override settings with
//   (import 'mixin.libsonnet') { _config+:: { exporterSelector: 'job="x"' } }
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
