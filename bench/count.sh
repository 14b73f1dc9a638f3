#!/usr/bin/env bash
# Instructions per request of the engine alone (no HTTP, no TLS), counted by
# callgrind, for the engine benchmark's bodies (bench/workload.rs): /mutate,
# /validate, and the floor's parse-and-allow on each body (examples/
# enginecount.rs). Counts do not depend on how busy the machine is, so
# before/after comparisons hold on a shared machine.
#
#   bench/count.sh                       # every case (a few minutes)
#   bench/count.sh pod-1000c netpol-5000p
#   NO_BUILD=1 bench/count.sh ...        # use target/release/examples/enginecount as built
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind callgrind_annotate; do
  command -v "$tool" >/dev/null || { echo "bench/count.sh: $tool not found (valgrind package)" >&2; exit 2; }
done
[ -n "${NO_BUILD:-}" ] || cargo build --quiet --release --example enginecount
bin=target/release/examples/enginecount
out=target/count
mkdir -p "$out"
list=$("$bin" --list)
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  mapfile -t cases < <(awk '{print $1}' <<<"$list")
fi
printf "%-16s %9s %13s %13s %13s %13s %8s %8s\n" case bytes mutate floor validate floor-v mut/fl val/fl
for c in "${cases[@]}"; do
  bytes=$(awk -v c="$c" '$1 == c {print $3}' <<<"$list")
  [ -n "$bytes" ] || { echo "no case $c" >&2; exit 2; }
  n=40; [ "$bytes" -gt 100000 ] && n=4; [ "$bytes" -gt 1000000 ] && n=2
  f="$out/$c.cg"
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect='enginecount::measured_*' \
    --callgrind-out-file="$f" "$bin" "$c" "$n" >/dev/null 2>"$out/$c.log"
  callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
    awk -v n="$n" -v c="$c" -v b="$bytes" '
      /enginecount::measured_/ {
        gsub(",", "", $1)
        for (k in names) {}
        if ($0 ~ /measured_mutate/) m = $1 / n
        else if ($0 ~ /measured_validate/) v = $1 / n
        else if ($0 ~ /measured_floor_mutate/) f = $1 / n
        else if ($0 ~ /measured_floor_validate/) fv = $1 / n
      }
      END { printf "%-16s %9d %13d %13d %13d %13d %7.2fx %7.2fx\n", c, b, m, f, v, fv, m / f, v / fv }'
done
echo "(callgrind files: $out/CASE.cg; callgrind_annotate --inclusive=yes FILE)"
