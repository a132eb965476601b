#!/usr/bin/env bash
# The Grafana dashboard type-checked against Grafana's own schema (@grafana/schema, for the
# Grafana version docker-compose.yml runs) with TypeScript in strict mode: the dashboard, and
# each stat, table and timeseries panel against its panel type's options and field config.
# Object literals get TypeScript's excess-property check, so an unknown or misspelt key
# fails as surely as a wrong type. Installs both packages from npm into a cache directory.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's|.*image: docker.io/grafana/grafana:\([0-9.]*\).*|\1|p' docker-compose.yml | head -1)
[ -n "$version" ] || { echo "no grafana image version in docker-compose.yml" >&2; exit 1; }
dir="${XDG_CACHE_HOME:-$HOME/.cache}/mcp-sync-monitor/grafana-schema-$version"
mkdir -p "$dir"
if [ ! -x "$dir/node_modules/.bin/tsc" ] || [ ! -d "$dir/node_modules/@grafana/schema" ]; then
  (cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent \
    "@grafana/schema@$version" typescript@5 >/dev/null)
fi
python3 - "$dir/check.ts" <<'PY'
import json, sys
d = json.load(open("dashboards/mcp-sync-monitor.json"))
raw = "@grafana/schema/dist/esm/raw/composable"
typed = {
    "stat": ("StatPanelCfg", f"{raw}/stat/panelcfg/x/StatPanelCfg_types.gen", False),
    "table": ("TablePanelCfg", f"{raw}/table/panelcfg/x/TablePanelCfg_types.gen", True),
    "timeseries": ("TimeSeriesPanelCfg", f"{raw}/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen", True),
}
out = ["import type { Dashboard, Panel } from '@grafana/schema';",
       "// JSON holds an enum's value, not the enum: each string enum is read as its values.",
       "type Json<T> = T extends string ? `${T}` : T extends object ? { [K in keyof T]: Json<T[K]> } : T;"]
for kind, (alias, path, field) in typed.items():
    names = f"Options as {alias}Options" + (f", FieldConfig as {alias}FieldConfig" if field else "")
    out.append(f"import type {{ {names} }} from '{path}';")
out.append(f"export const dashboard: Json<Dashboard> = {json.dumps(d, indent=2)};")
for p in d["panels"]:
    t = typed.get(p["type"])
    if t:
        alias, _, field = t
        generic = f"{alias}Options" + (f", {alias}FieldConfig" if field else "")
        out.append(f"export const panel{p['id']}: Json<Panel<{generic}>> = {json.dumps(p, indent=2)};")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
"$dir/node_modules/.bin/tsc" --strict --noEmit --skipLibCheck false --moduleResolution node \
  --target es2020 --module commonjs --baseUrl "$dir" "$dir/check.ts"
echo "  dashboards/mcp-sync-monitor.json type-checks against @grafana/schema $version (TypeScript strict)"
