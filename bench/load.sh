#!/usr/bin/env bash
# The load benchmark in one command: installs h2load when it is missing
# (bench/setup.sh), then builds release and runs examples/loadbench, which
# prints the tenantguard/floor table and writes it to target/loadbench-last.md.
#
#   bench/load.sh            # full run, a few minutes
#   bench/load.sh --quick    # about a minute
#   bench/load.sh --help     # every option (repetitions, requests, rate, soak)
#   bench/load.sh --tenancy-scale [ARGS]  # RSS and start-up to /readyz with
#                            # 10k/1k and 100k/10k namespaces/tenants, from an
#                            # --inventory file and from the stand-in apiserver
#                            # (examples/tenancy_scale.rs; no h2load needed)
#   bench/load.sh --tenancy-scale --file-only [ARGS]  # only from the file, e.g.
#                            # --sizes 10000x10 for the 100k/10k case alone
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--tenancy-scale" ]; then
  shift
  if [ "${1:-}" = "--file-only" ]; then
    shift
    exec cargo run --quiet --release --example tenancy_scale -- "$@"
  fi
  exec cargo run --quiet --release --example tenancy_scale -- --cluster "$@"
fi
if ! command -v h2load >/dev/null 2>&1; then
  bench/setup.sh
fi
exec cargo run --quiet --release --example loadbench -- "$@"
