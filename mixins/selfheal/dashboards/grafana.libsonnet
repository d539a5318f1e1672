// A few helpers for plain Grafana dashboard JSON (grafonnet cannot be
// fetched here, and these few fields are all the dashboards need).
{
  datasource:: { type: 'prometheus', uid: '${datasource}' },

  dashboard(title, uid, tags=['selfheal']):: {
    title: title,
    uid: uid,
    tags: tags,
    timezone: 'utc',
    schemaVersion: 39,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    editable: true,
    panels: [],
    templating: { list: [] },
    addPanels(panels):: self {
      // Lay panels out two per row, 12 wide and 8 high, in order.
      panels: [
        panels[i] { id: i + 1, gridPos: { x: (i % 2) * 12, y: std.floor(i / 2) * 8, w: 12, h: 8 } }
        for i in std.range(0, std.length(panels) - 1)
      ],
    },
    addVariables(vars):: self { templating: { list: vars } },
  },

  datasourceVariable:: {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: {},
    hide: 0,
  },

  jobVariable(metric, default):: {
    name: 'job',
    label: 'Job',
    type: 'query',
    datasource: $.datasource,
    query: 'label_values(%s, job)' % metric,
    definition: 'label_values(%s, job)' % metric,
    current: { text: default, value: default },
    refresh: 2,
    hide: 0,
  },

  target(expr, legend):: {
    datasource: $.datasource,
    expr: expr,
    legendFormat: legend,
    refId: 'A',
  },

  timeseries(title, description, unit, targets):: {
    type: 'timeseries',
    title: title,
    description: description,
    datasource: $.datasource,
    fieldConfig: { defaults: { unit: unit, custom: { fillOpacity: 10 } }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
    targets: [targets[i] { refId: std.char(65 + i) } for i in std.range(0, std.length(targets) - 1)],
  },

  stat(title, description, unit, targets, thresholds=[]):: {
    type: 'stat',
    title: title,
    description: description,
    datasource: $.datasource,
    fieldConfig: {
      defaults: {
        unit: unit,
        thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] + thresholds },
      },
      overrides: [],
    },
    options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'background' },
    targets: [targets[i] { refId: std.char(65 + i) } for i in std.range(0, std.length(targets) - 1)],
  },
}
