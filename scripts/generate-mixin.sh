#!/usr/bin/env bash
# Generates the rule files and dashboards from the mixin.
#   scripts/generate-mixin.sh RULES_DIR DASHBOARDS_DIR [JSONNET_CONFIG_OVERRIDE]
# The optional third argument is jsonnet merged into _config, e.g.
#   '{agentStaleFor: "10s"}' for a test build with short durations.
set -euo pipefail
rules=${1:?rules dir}
dashboards=${2:?dashboards dir}
override=${3:-"{}"}
cd "$(dirname "$0")/.."
mkdir -p "$rules" "$dashboards"
mixin="(import 'mixin.libsonnet') + { _config+:: $override }"
header='# Generated from mixins/selfheal by `make generate`; edit the mixin, not this file.'
jsonnet() { go tool jsonnet -J mixins/selfheal "$@"; }
for part in alerts:prometheusAlerts rules:prometheusRules; do
  file=${part%%:*}; field=${part#*:}
  { echo "$header"; jsonnet -S -e "std.manifestYamlDoc(($mixin).$field, indent_array_in_object=false, quote_keys=false)"; } > "$rules/$file.yml"
done
rm -f "$dashboards"/*.json
jsonnet -m "$dashboards" -e "($mixin).grafanaDashboards" > /dev/null
