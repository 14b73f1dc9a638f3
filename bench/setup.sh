#!/usr/bin/env bash
# Installs the load generator of the benchmark: h2load from Debian's
# nghttp2-client, at a pinned version when the archive still has it.
# Idempotent: does nothing when the wanted h2load is already installed.
#
#   bench/setup.sh                                   # as root, or with sudo available
#   H2LOAD_DEB_VERSION=any bench/setup.sh            # accept whatever apt offers
set -euo pipefail

# The version the figures in BENCHMARKS.md were measured with (Debian 12 bookworm).
WANT="${H2LOAD_DEB_VERSION:-1.52.0-1+deb12u3}"

have_version() {
  dpkg-query -W -f='${Status} ${Version}\n' nghttp2-client 2>/dev/null |
    awk '$3 == "installed" {print $4}'
}

installed="$(have_version || true)"
if command -v h2load >/dev/null 2>&1 && { [ "$WANT" = any ] || [ "$installed" = "$WANT" ]; }; then
  echo "h2load already installed: nghttp2-client ${installed:-unknown} ($(command -v h2load))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench/setup.sh: apt-get not found; install h2load (nghttp2-client) with your package manager" >&2
  exit 2
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "bench/setup.sh: run as root or install sudo (apt-get needs it)" >&2
    exit 2
  fi
fi

$SUDO apt-get update -qq
if [ "$WANT" = any ]; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client
elif apt-cache madison nghttp2-client | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$WANT"; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "nghttp2-client=$WANT"
else
  echo "bench/setup.sh: nghttp2-client $WANT is not in this apt archive; installing the candidate instead" >&2
  echo "  (figures may differ from BENCHMARKS.md; set H2LOAD_DEB_VERSION=any to silence this)" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client
fi
echo "installed: nghttp2-client $(have_version) ($(command -v h2load))"
h2load --version | head -n 1
