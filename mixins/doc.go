// Package mixins holds the lint of the selfheal monitoring mixin: the
// generated alerts, recording rules and dashboards are checked for what
// promtool does not check (labels, annotations, runbooks, dashboard
// structure, PromQL in dashboards).
package mixins
