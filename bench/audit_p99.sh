#!/usr/bin/env bash
# The webhook's p50/p99 with and without a concurrent audit scan, in one
# command: installs h2load when it is missing (bench/setup.sh), then builds
# release and runs examples/auditload, which prints the table and writes it
# to target/auditload-last.md.
#
#   bench/audit_p99.sh            # 3 windows of 10 s per phase
#   bench/audit_p99.sh --quick    # 1 window of 5 s per phase
#   bench/audit_p99.sh --help     # every option (objects, namespaces, rate)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v h2load >/dev/null 2>&1; then
  bench/setup.sh
fi
exec cargo run --quiet --release --example auditload -- "$@"
