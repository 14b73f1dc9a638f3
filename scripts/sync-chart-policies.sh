#!/usr/bin/env bash
# Copies the baseline policies (policies/*.yaml) into the chart
# (charts/tenantguard/policies/), which serves them as a ConfigMap: the repo's
# policies/ is the one source of truth, the chart holds a copy because Helm can
# only read files inside the chart.
#
#   scripts/sync-chart-policies.sh          make the chart's copy identical
#   scripts/sync-chart-policies.sh --check  exit 1 (listing the differences) when they differ
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/policies"
DEST="$ROOT/charts/tenantguard/policies"

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# A missing policies/ counts as empty: then the chart must ship none either.
names() { [[ -d "$1" ]] && find "$1" -maxdepth 1 -type f -name '*.yaml' -printf '%f\n' | sort; true; }

differences=0
while IFS= read -r f; do
  [[ -n "$f" ]] || continue
  if [[ ! -f "$SRC/$f" ]]; then
    echo "extra in chart: charts/tenantguard/policies/$f"
  elif [[ ! -f "$DEST/$f" ]]; then
    echo "missing in chart: policies/$f"
  elif ! cmp -s "$SRC/$f" "$DEST/$f"; then
    echo "differs: policies/$f"
  else
    continue
  fi
  differences=$((differences + 1))
done < <({ names "$SRC"; names "$DEST"; } | sort -u)

if $check; then
  if ((differences > 0)); then
    echo "the chart's policies differ from policies/: run scripts/sync-chart-policies.sh" >&2
    exit 1
  fi
  echo "chart policies match policies/ ($(names "$SRC" | wc -l) files)"
  exit 0
fi

((differences > 0)) || { echo "chart policies already match policies/"; exit 0; }
mkdir -p "$DEST"
find "$DEST" -maxdepth 1 -type f -name '*.yaml' -delete
if [[ -d "$SRC" ]]; then
  find "$SRC" -maxdepth 1 -type f -name '*.yaml' -exec cp {} "$DEST/" \;
fi
echo "copied policies/*.yaml ($(names "$SRC" | wc -l) files) into charts/tenantguard/policies/"
