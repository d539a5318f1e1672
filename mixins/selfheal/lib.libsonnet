// Small helpers shared by alerts and dashboards.
{
  runbook(c, alert):: c.runbookURLBase + alert + '.md',
  dashboard(c, name):: c.grafanaURL + '/d/' + c.dashboardUIDs[name],
  labels(list):: std.join(', ', list),
}
