#!/usr/bin/env bash
# Where the time goes, per request, in instructions: valgrind's callgrind
# counts them exactly, so the figures do not depend on a noisy machine.
# Profiles the floor and `tenantguard serve` (10,000-namespace inventory) on
# N sequential HTTP/1.1 requests to /mutate, then N to /validate, with the
# bodies of the load benchmark; start-up is not counted (instrumentation is
# switched on after a warm-up). Needs valgrind and h2load (bench/setup.sh).
#
#   bench/profile.sh          # N=1000; the callgrind files stay in target/profile/
#   N=300 bench/profile.sh
#   SIM=1 N=300 bench/profile.sh   # also simulate the caches and branch
#                             # predictor: misses per request (same count of
#                             # instructions can take more cycles when the
#                             # code misses the L1 instruction cache more)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000}"
for tool in valgrind callgrind_control callgrind_annotate h2load; do
  command -v "$tool" >/dev/null || { echo "bench/profile.sh: $tool not found (valgrind package; h2load: bench/setup.sh)" >&2; exit 2; }
done
cargo build --quiet --release --bin tenantguard --example floor --example loadbench
out="target/profile"
rm -rf "$out" && mkdir -p "$out"
target/release/examples/loadbench --no-build --prepare "$out/inputs" >/dev/null
in="$out/inputs"

# profile NAME CMD...: callgrind files $out/NAME.<pid>.1 (mutate) and .2 (validate)
profile() {
  local name=$1; shift
  valgrind --tool=callgrind --instr-atstart=no ${SIM:+--cache-sim=yes --branch-sim=yes} \
    --callgrind-out-file="$out/$name.%p" "$@" \
    2>"$out/$name.log" &
  local vpid=$! addr=""
  for _ in $(seq 1 600); do   # up to 120 s: valgrind starts slowly
    addr=$(grep -o 'webhook=[0-9.:]*' "$out/$name.log" | head -n 1 | cut -d= -f2 || true)
    [ -n "$addr" ] && break
    sleep 0.2
  done
  [ -n "$addr" ] || { echo "$name did not start; see $out/$name.log" >&2; kill "$vpid"; exit 1; }
  local h=(-H 'content-type: application/json' --h1 -c 1)
  h2load "${h[@]}" -n 50 -d "$in/mutate.json" "https://$addr/mutate" >/dev/null
  h2load "${h[@]}" -n 50 -d "$in/validate.json" "https://$addr/validate" >/dev/null
  callgrind_control -i on "$vpid" >/dev/null 2>&1
  h2load "${h[@]}" -n "$N" -d "$in/mutate.json" "https://$addr/mutate" | grep -q "$N succeeded"
  callgrind_control -d mutate "$vpid" >/dev/null 2>&1
  h2load "${h[@]}" -n "$N" -d "$in/validate.json" "https://$addr/validate" | grep -q "$N succeeded"
  callgrind_control -d validate "$vpid" >/dev/null 2>&1
  kill "$vpid"; wait "$vpid" 2>/dev/null || true
}

profile floor target/release/examples/floor --listen 127.0.0.1:0 \
  --tls-cert "$in/certs/tls.crt" --tls-key "$in/certs/tls.key"
profile tenantguard target/release/tenantguard serve --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --log-format text --policies policies \
  --inventory "$in/inventory-10k.yaml" --tls-cert "$in/certs/tls.crt" --tls-key "$in/certs/tls.key"

per_request() { awk -v n="$N" '/^summary:/ {printf "%.0f", $2 / n}' "$1"; }
echo "instructions per request (callgrind, $N sequential HTTP/1.1 requests over TLS, one connection)"
printf "%-10s %12s %12s %8s\n" endpoint floor tenantguard ratio
for part in 1:/mutate 2:/validate; do
  f=$(per_request "$(ls "$out"/floor.*."${part%%:*}")")
  t=$(per_request "$(ls "$out"/tenantguard.*."${part%%:*}")")
  awk -v e="${part#*:}" -v f="$f" -v t="$t" 'BEGIN {printf "%-10s %12s %12s %7.2fx\n", e, f, t, t / f}'
done

if [ -n "${SIM:-}" ]; then
  echo
  echo "per request, simulated (valgrind: 32 KiB L1i/L1d; I1mr = L1 instruction misses, D1mr/D1mw = L1 data read/write misses, Bcm/Bim = mispredicted conditional/indirect branches)"
  for part in 1:/mutate 2:/validate; do
    for name in floor tenantguard; do
      awk -v n="$N" -v who="$name ${part#*:}" '
        /^events:/ { for (i = 2; i <= NF; i++) ev[i] = $i }
        /^summary:/ {
          printf "%-24s", who
          for (i = 2; i <= NF; i++) if (ev[i] ~ /^(Ir|I1mr|D1mr|D1mw|Bc|Bcm|Bi|Bim)$/) printf " %s=%.0f", ev[i], $i / n
          print ""
        }' "$(ls "$out/$name".*."${part%%:*}")"
    done
  done
fi

# Inclusive cost per request of the functions that make up a request
# (recursive entries, marked 'N by callgrind, are left out).
pattern='admission::(review|decode|encode|raw_object) |Engine::(mutate|validate) |engine::patch::walk |clone_subtree |drop_in_place<tenantguard::engine::Request>|drop_in_place<serde_json::value::Value> |server::handle::|rules::[a-z_]+::(mutate|validate) |dedicated_nodes |Span::make_with |with_label_values |floor_answer |core::fmt::write |process_new_packets |TowerToHyperServiceFuture|RouteFuture<E> as core::future::future::Future>::poll '
for part in 1:mutate 2:validate; do
  for name in floor tenantguard; do
    echo; echo "== $name /${part#*:}: inclusive instructions per request"
    callgrind_annotate --inclusive=yes --threshold=100 "$(ls "$out/$name".*."${part%%:*}")" 2>/dev/null |
      grep -v "'[0-9]" | grep -E "$pattern" |
      awk -v n="$N" '{gsub(",", "", $1); f=$0; sub(/^[^?]*\?\?\?:/, "", f); sub(/ \[.*$/, "", f); printf "%10.0f  %s\n", $1 / n, f}' | head -n 25
  done
done
echo; echo "callgrind files: $out/ (callgrind_annotate --inclusive=yes FILE, or kcachegrind)"
