#!/usr/bin/env bash
# Tests the Helm chart without a cluster: lint (strict) and render it for each
# TLS mode and for ci/all-values.yaml, validate every rendered object against
# the Kubernetes schemas, assert on the webhook configurations, check that the
# schema rejects bad values and that the chart's policies match policies/.
# Tools come from scripts/setup-tools.sh (pinned, in .tools/).
set -uo pipefail # no -e: every check runs and is counted

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/charts/tenantguard"
HELM="$ROOT/.tools/bin/helm"
VALIDATE="$ROOT/.tools/bin/kubernetes-validate"
PYTHON="$ROOT/.tools/venv/bin/python"
K8S_VERSION=1.33.0 # the schemas objects are validated against

for tool in "$HELM" "$VALIDATE" "$PYTHON"; do
  if [[ ! -x "$tool" ]]; then
    echo "missing ${tool#"$ROOT"/}: run scripts/setup-tools.sh first" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
done

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
# shellcheck disable=SC2001 # indent a multi-line message
fail() { failed=$((failed + 1)); echo "FAIL $1"; [[ -z "${2:-}" ]] || sed 's/^/     /' <<<"$2"; }
# check NAME CMD...: runs CMD, passes when it exits 0, shows its output when not.
check() {
  local name="$1" out
  shift
  if out="$("$@" 2>&1)"; then pass "$name"; else fail "$name" "$out"; fi
}

# Assertions on one rendered release; also writes the objects that
# kubernetes-validate knows (everything but CRD-backed kinds) to a second file.
cat >"$OUT/assert.py" <<'PY'
import base64, json, os, sys, yaml

rendered, known_out, mode, ns = sys.argv[1:5]
extra_exempt = json.loads(sys.argv[5]) if len(sys.argv) > 5 else []
# failurePolicy of the entries the CEL fallback covers (the others: Fail).
covered_policy = sys.argv[6] if len(sys.argv) > 6 else "Fail"
docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
errors = []
def expect(cond, msg):
    if not cond:
        errors.append(msg)

# Kinds served by CRDs that kubernetes-validate has no schema for.
CRD_GROUPS = ("cert-manager.io/", "monitoring.coreos.com/", "tenantguard.io/")
with open(known_out, "w") as f:
    yaml.safe_dump_all([d for d in docs if not d["apiVersion"].startswith(CRD_GROUPS)], f)

def one(kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    expect(len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0] if found else {}

svc = one("Service")
svc_ports = {p["name"]: p for p in svc.get("spec", {}).get("ports", [])}
expect(svc_ports.get("https", {}).get("port") == 443 and svc_ports["https"].get("targetPort") == "https",
       "Service must expose port 443 -> targetPort https")
dep = one("Deployment")
pod = dep.get("spec", {}).get("template", {}).get("spec", {})
c = (pod.get("containers") or [{}])[0]
fullname = svc["metadata"]["name"]
# The Secret of mode self: tls.self.secretName when the case sets it.
self_secret = os.environ.get("SELF_SECRET") or f"{fullname}-self-tls"
tls_args = (["--tls-self-secret", self_secret, "--tls-self-webhooks", f"{fullname},{fullname}",
             "--tls-self-service", fullname] if mode == "self" else
            ["--tls-cert", "/etc/tenantguard/tls/tls.crt", "--tls-key", "/etc/tenantguard/tls/tls.key"])
want_args = ["serve", "--listen", "0.0.0.0:8443", "--metrics-listen", "0.0.0.0:9090", *tls_args,
             "--policies", "/etc/tenantguard/policies", "--log-format", "json"]
expect(c.get("args", [])[:len(want_args)] == want_args, f"server args: {c.get('args')}")
expect({(p["name"], p["containerPort"]) for p in c.get("ports", [])} == {("https", 8443), ("metrics", 9090)},
       "container ports https 8443 and metrics 9090")
for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    get = c.get(probe, {}).get("httpGet", {})
    expect((get.get("path"), get.get("port"), get.get("scheme")) == (path, "https", "HTTPS"), f"{probe}: {get}")
sc = c.get("securityContext", {})
expect(sc.get("readOnlyRootFilesystem") is True and sc.get("capabilities", {}).get("drop") == ["ALL"]
       and pod.get("securityContext", {}).get("runAsNonRoot") is True, "container must be locked down")
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
expect(mounts.get("/etc/tenantguard/policies") == "policies", f"mounts: {mounts}")
if mode == "self":
    # Mode self mounts nothing for TLS: the server reads its Secret itself.
    expect("tls" not in mounts.values() and "/etc/tenantguard/tls" not in mounts, f"mode self mounts TLS: {mounts}")
    expect(not any(v["name"] == "tls" for v in pod.get("volumes", [])), "mode self has a tls volume")
else:
    expect(mounts.get("/etc/tenantguard/tls") == "tls", f"mounts: {mounts}")
env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c.get("env", [])}
expect(env.get("TENANTGUARD_NAMESPACE") == "metadata.namespace"
       and env.get("TENANTGUARD_SERVICE_ACCOUNT") == "spec.serviceAccountName", f"env: {env}")

tls_secret = next((v["secret"]["secretName"] for v in pod.get("volumes", []) if v["name"] == "tls"), None)
secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
must_exclude = {"kube-system", "kube-public", "kube-node-lease", ns, *extra_exempt}
# Entries by blast radius: <verb> (pods, pod templates, services: what the CEL
# fallback also judges), objects.<verb> (other namespaced kinds), both in tenant
# namespaces only, and namespaces.<verb> (Namespace objects, wider selector).
for kind, verb, path, names in (
        ("MutatingWebhookConfiguration", "mutate", "/mutate",
         ["mutate.tenantguard.io", "namespaces.mutate.tenantguard.io"]),
        ("ValidatingWebhookConfiguration", "validate", "/validate",
         ["validate.tenantguard.io", "objects.validate.tenantguard.io", "namespaces.validate.tenantguard.io"])):
    cfg = one(kind)
    hooks = cfg.get("webhooks", [])
    expect([h["name"] for h in hooks] == names, f"{kind}: webhooks {[h['name'] for h in hooks]}")
    for h in hooks:
        where = f"{kind} {h['name']}"
        expect(h.get("admissionReviewVersions") == ["v1"], f"{where}: admissionReviewVersions")
        expect(h.get("sideEffects") == "None", f"{where}: sideEffects")
        want_policy = covered_policy if h["name"] in ("mutate.tenantguard.io", "validate.tenantguard.io") else "Fail"
        expect(h.get("failurePolicy") == want_policy,
               f"{where}: failurePolicy {h.get('failurePolicy')}, expected {want_policy}")
        expect(h.get("matchPolicy") == "Equivalent", f"{where}: matchPolicy")
        expect(h.get("timeoutSeconds", 0) <= 30, f"{where}: timeoutSeconds")
        if kind.startswith("Mutating"):
            expect(h.get("reinvocationPolicy") == "IfNeeded", f"{where}: reinvocationPolicy")
        s = h.get("clientConfig", {}).get("service", {})
        expect(s == {"name": svc["metadata"]["name"], "namespace": ns, "path": path, "port": 443},
               f"{where}: service {s}")
        # matchExpressions are ANDed: one NotIn holding them all keeps them out,
        # whatever else the selector says.
        sel = h.get("namespaceSelector", {})
        notin = [e for e in sel.get("matchExpressions", [])
                 if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"]
        expect(any(must_exclude <= set(e.get("values", [])) for e in notin),
               f"{where}: namespaceSelector must exclude {sorted(must_exclude)}: {sel}")
        ca = h.get("clientConfig", {}).get("caBundle")
        if mode == "self":
            expect(ca is None, f"{where}: caBundle is set by tenantguard in mode self, not rendered")
            expect("cert-manager.io/inject-ca-from" not in cfg["metadata"].get("annotations", {}),
                   f"{where}: no cert-manager injection in mode self")
        elif mode == "certManager":
            expect(ca is None, f"{where}: caBundle is injected by cert-manager, not rendered")
            ref = cfg["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from", "")
            cert = one("Certificate", ref.split("/")[-1]) if ref.startswith(ns + "/") else {}
            svc_dns = f"{svc['metadata']['name']}.{ns}.svc"
            expect(set(cert.get("spec", {}).get("dnsNames", [])) >= {svc_dns, svc_dns + ".cluster.local"},
                   f"{where}: inject-ca-from {ref!r} must name the serving Certificate")
            expect(cert.get("spec", {}).get("secretName") == tls_secret, "Certificate must fill the mounted Secret")
        else:
            expect(bool(ca) and base64.b64decode(ca).startswith(b"-----BEGIN CERTIFICATE-----"),
                   f"{where}: caBundle must be base64 PEM")
        if mode == "generate":
            expect(ca == secrets.get(tls_secret, {}).get("data", {}).get("ca.crt"),
                   f"{where}: caBundle must be the generated Secret's CA")

# TLS mode self: no Secret rendered (tenantguard creates its own, nothing is
# looked up), and RBAC on exactly its Secret and its two configurations.
def rules_of(kind, name):
    return [r for d in docs if d["kind"] == kind and d["metadata"]["name"] == name for r in d.get("rules", [])]
role_rules = rules_of("Role", fullname)
cluster_rules = rules_of("ClusterRole", fullname)
secret_rules = [r for r in role_rules if "secrets" in r.get("resources", [])]
hook_rules = [r for r in cluster_rules
              if {"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} & set(r.get("resources", []))]
if mode == "self":
    expect(not [d for d in docs if d["kind"] == "Secret" and d.get("type") == "kubernetes.io/tls"],
           "mode self must render no TLS Secret")
    expect(not [d for d in docs if d["apiVersion"].startswith("cert-manager.io/")], "mode self: no cert-manager objects")
    named = [r for r in secret_rules if r.get("resourceNames")]
    expect(len(named) == 1 and named[0]["resourceNames"] == [self_secret]
           and set(named[0]["verbs"]) == {"get", "update"},
           f"Role: get/update on Secret {self_secret} by resourceNames: {secret_rules}")
    # create cannot be restricted by name; it is the only verb granted without one.
    expect(all(r.get("resourceNames") or r["verbs"] == ["create"] for r in secret_rules),
           f"Role: only create may be granted on Secrets without resourceNames: {secret_rules}")
    expect(len(hook_rules) == 1 and hook_rules[0].get("resourceNames") == [fullname]
           and set(hook_rules[0]["verbs"]) == {"get", "patch"}
           and set(hook_rules[0]["resources"]) == {"mutatingwebhookconfigurations", "validatingwebhookconfigurations"},
           f"ClusterRole: get/patch on webhook configurations {fullname} only: {hook_rules}")
else:
    expect(not secret_rules and not hook_rules, f"only mode self may touch Secrets or webhook configurations: {secret_rules} {hook_rules}")

# The exempt namespaces' ValidatingAdmissionPolicy: on by default, every exempt
# namespace in its list, bound with Deny. (tests/chart_vap.rs runs its CEL.)
vap = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy" and d["metadata"]["name"].endswith("-exempt-namespaces")]
binding = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"
           and d["metadata"]["name"].endswith("-exempt-namespaces")]
expect(len(vap) == 1 and len(binding) == 1, f"one exempt-namespaces policy and binding, found {len(vap)}, {len(binding)}")
for p in vap[:1]:
    spec = p.get("spec", {})
    rules = spec.get("matchConstraints", {}).get("resourceRules", [])
    expect(any(r.get("apiGroups") == [""] and "namespaces" in r.get("resources", [])
               and {"CREATE", "UPDATE", "DELETE"} <= set(r.get("operations", [])) for r in rules),
           f"the policy must match namespaces CREATE/UPDATE/DELETE: {rules}")
    expect(spec.get("failurePolicy") == "Fail", "the exempt-namespaces policy fails closed")
    exempt = next((v["expression"] for v in spec.get("variables", []) if v["name"] == "exempt"), "")
    listed = set(json.loads(exempt.split(" in ", 1)[1])) if " in " in exempt else set()
    expect(must_exclude <= listed, f"the policy must list {sorted(must_exclude)}: {exempt}")
    b = binding[0].get("spec", {}) if binding else {}
    expect(b.get("policyName") == p["metadata"]["name"] and b.get("validationActions") == ["Deny"],
           f"binding: {b}")

# The CEL fallback (tenantguard vap's objects): only when asked for; then one
# policy and binding per rule it covers, every binding that selects
# namespaces leaving out the exempt ones, messages naming their rule.
fallback = [d for d in docs if d["kind"].startswith("ValidatingAdmissionPolicy")
            and d["metadata"].get("labels", {}).get("tenantguard.io/rule")]
if covered_policy == "Ignore":
    rules_seen = sorted({d["metadata"]["labels"]["tenantguard.io/rule"] for d in fallback})
    expect(rules_seen == ["namespace-ownership", "pod-security", "require-limits", "service-types"],
           f"fallback rules: {rules_seen}")
    for d in fallback:
        rule = d["metadata"]["labels"]["tenantguard.io/rule"]
        spec = d.get("spec", {})
        if d["kind"] == "ValidatingAdmissionPolicy":
            for v in spec.get("validations", []):
                expect(v.get("message", "").startswith(f"[{rule}] "), f"fallback {rule}: message {v.get('message')}")
        else:
            expect(spec.get("validationActions") == ["Deny"], f"fallback {rule}: {spec.get('validationActions')}")
            sel = spec.get("matchResources", {}).get("namespaceSelector")
            if rule == "namespace-ownership":
                expect(sel is None, f"fallback {rule} binds every namespace: {sel}")
            else:
                exprs = (sel or {}).get("matchExpressions", [])
                expect({"key": "tenantguard.io/tenant", "operator": "Exists"} in exprs, f"fallback {rule}: {sel}")
                excluded = set().union(*[set(e.get("values", [])) for e in exprs
                                         if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"])
                expect(must_exclude <= excluded, f"fallback {rule} must leave out {sorted(must_exclude)}: {sel}")
else:
    expect(not fallback, f"the fallback is off, yet rendered: {[d['metadata']['name'] for d in fallback]}")

def covered(rules, group, resource, ops):
    return any(group in r["apiGroups"] and resource in r["resources"] and set(ops) <= set(r["operations"])
               for r in rules)
def all_rules(kind):
    return [r for h in one(kind).get("webhooks", []) for r in h.get("rules", [])]
mut = all_rules("MutatingWebhookConfiguration")
val = all_rules("ValidatingWebhookConfiguration")
workloads = [("", "pods"), ("", "services"), ("", "replicationcontrollers"), ("apps", "deployments"),
             ("apps", "statefulsets"), ("apps", "daemonsets"), ("apps", "replicasets"),
             ("batch", "jobs"), ("batch", "cronjobs")]
for g, r in workloads + [("", "namespaces")]:
    expect(covered(mut, g, r, ["CREATE", "UPDATE"]), f"mutating rules miss {g}/{r}")
    expect(covered(val, g, r, ["CREATE", "UPDATE"]), f"validating rules miss {g}/{r}")
# Judged (cross-tenant-selectors: clusterCIDRs) but never mutated.
for g, r in [("", "endpoints"), ("discovery.k8s.io", "endpointslices")]:
    expect(covered(val, g, r, ["CREATE", "UPDATE"]), f"validating rules miss {g}/{r}")
for g, r in [("", "namespaces"), ("networking.k8s.io", "networkpolicies"), ("", "resourcequotas"),
             ("", "limitranges"), ("", "serviceaccounts"), ("rbac.authorization.k8s.io", "roles"),
             ("rbac.authorization.k8s.io", "rolebindings")]:
    expect(covered(val, g, r, ["CREATE", "UPDATE", "DELETE"]), f"validating rules miss {g}/{r} incl. DELETE")
# The round-2 rules' kinds: pod-security and allowed-registries (ephemeral
# containers), ingress-hosts and allowed-classes (Ingresses, Gateway API),
# allowed-classes (PersistentVolumeClaims).
expect(covered(val, "", "pods/ephemeralcontainers", ["UPDATE"]), "validating rules miss pods/ephemeralcontainers")
# The apiserver keeps the labels of these UPDATEs: namespace-ownership and
# namespace-metadata judge them.
for r in ["namespaces/status", "namespaces/finalize"]:
    expect(covered(val, "", r, ["UPDATE"]), f"validating rules miss {r}")
for g, r in [("networking.k8s.io", "ingresses"), ("", "persistentvolumeclaims"),
             ("gateway.networking.k8s.io", "gateways"), ("gateway.networking.k8s.io", "httproutes"),
             ("gateway.networking.k8s.io", "grpcroutes"), ("gateway.networking.k8s.io", "tlsroutes")]:
    expect(covered(val, g, r, ["CREATE", "UPDATE"]), f"validating rules miss {g}/{r}")

# Blast radius: which entries the apiserver sends a request to, evaluated as it
# does: the entry's rules match group/resource/operation, and its
# namespaceSelector matches the labels of the object's namespace, or, for a
# Namespace itself, the object's own labels (the new object's on CREATE and
# UPDATE, the old object's on DELETE). Every namespace carries
# kubernetes.io/metadata.name.
def selects(sel, labels):
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and not (k in labels and labels[k] in vals): return False
        if op == "NotIn" and k in labels and labels[k] in vals: return False
        if op == "Exists" and k not in labels: return False
        if op == "DoesNotExist" and k in labels: return False
    return True
def rule_matches(r, group, resource, op):
    return ((group in r["apiGroups"] or "*" in r["apiGroups"]) and (resource in r["resources"] or "*" in r["resources"])
            and (op in r["operations"] or "*" in r["operations"]))
def sent_to(group, resource, op, labels):
    out = []
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for h in one(kind).get("webhooks", []):
            if any(rule_matches(r, group, resource, op) for r in h.get("rules", [])) \
                    and selects(h.get("namespaceSelector", {}), labels):
                out.append(h["name"])
    return out
def ns_labels(name, tenant=None, **more):
    labels = {"kubernetes.io/metadata.name": name, **more}
    if tenant is not None:
        labels["tenantguard.io/tenant"] = tenant
    return labels
NS_VAL, NS_MUT = "namespaces.validate.tenantguard.io", "namespaces.mutate.tenantguard.io"
cases = [
    # (what, group, resource, operation, labels matched, entries expected)
    ("Namespace CREATE with the tenant label", "", "namespaces", "CREATE", ns_labels("acme-prod", "acme"), [NS_MUT, NS_VAL]),
    ("Namespace CREATE without a label", "", "namespaces", "CREATE", ns_labels("scratch"), [NS_MUT, NS_VAL]),
    ("Namespace UPDATE adding the label (new labels)", "", "namespaces", "UPDATE", ns_labels("scratch", "acme"), [NS_MUT, NS_VAL]),
    ("Namespace UPDATE changing the label (new labels)", "", "namespaces", "UPDATE", ns_labels("acme-prod", "globex"), [NS_MUT, NS_VAL]),
    ("Namespace UPDATE removing the label (new labels)", "", "namespaces", "UPDATE", ns_labels("acme-prod"), [NS_MUT, NS_VAL]),
    ("Namespace UPDATE emptying the label (new labels)", "", "namespaces", "UPDATE", ns_labels("acme-prod", ""), [NS_MUT, NS_VAL]),
    ("Namespace DELETE of a tenant namespace (old labels)", "", "namespaces", "DELETE", ns_labels("acme-prod", "acme"), [NS_VAL]),
    ("Namespace DELETE of a platform namespace (old labels)", "", "namespaces", "DELETE", ns_labels("platform-tools"), [NS_VAL]),
    ("namespaces/status UPDATE adding the label (new labels)", "", "namespaces/status", "UPDATE", ns_labels("scratch", "acme"), [NS_VAL]),
    ("namespaces/finalize UPDATE removing the label (new labels)", "", "namespaces/finalize", "UPDATE", ns_labels("acme-prod"), [NS_VAL]),
    ("Pod in a platform namespace", "", "pods", "CREATE", ns_labels("ingress-nginx"), []),
    ("Pod in a namespace with an empty tenant label", "", "pods", "CREATE", ns_labels("odd", ""), []),
    ("Deployment in a platform namespace", "apps", "deployments", "UPDATE", ns_labels("platform-tools"), []),
    ("NetworkPolicy DELETE in a platform namespace", "networking.k8s.io", "networkpolicies", "DELETE", ns_labels("cni"), []),
    ("Pod in a tenant namespace", "", "pods", "CREATE", ns_labels("acme-prod", "acme"),
     ["mutate.tenantguard.io", "validate.tenantguard.io"]),
    ("kubectl debug in a tenant namespace", "", "pods/ephemeralcontainers", "UPDATE", ns_labels("acme-prod", "acme"),
     ["validate.tenantguard.io"]),
    ("Service in a tenant namespace", "", "services", "UPDATE", ns_labels("acme-prod", "acme"),
     ["mutate.tenantguard.io", "validate.tenantguard.io"]),
    ("Ingress in a tenant namespace", "networking.k8s.io", "ingresses", "CREATE", ns_labels("acme-prod", "acme"),
     ["objects.validate.tenantguard.io"]),
    ("HTTPRoute in a tenant namespace", "gateway.networking.k8s.io", "httproutes", "UPDATE", ns_labels("acme-prod", "acme"),
     ["objects.validate.tenantguard.io"]),
    ("managed NetworkPolicy DELETE in a tenant namespace", "networking.k8s.io", "networkpolicies", "DELETE",
     ns_labels("acme-prod", "acme"), ["objects.validate.tenantguard.io"]),
]
for exempt in sorted(must_exclude):
    cases += [
        (f"Pod in exempt {exempt}, even tenant-labelled", "", "pods", "CREATE", ns_labels(exempt, "acme"), []),
        (f"Namespace {exempt} UPDATE adding a tenant label", "", "namespaces", "UPDATE", ns_labels(exempt, "acme"), []),
        (f"Namespace {exempt} DELETE", "", "namespaces", "DELETE", ns_labels(exempt), []),
    ]
for what, g, r, op, labels, want in cases:
    got = sent_to(g, r, op, labels)
    expect(sorted(got) == sorted(want), f"blast radius: {what}: sent to {got}, expected {want}")

pol_cm = next((v["configMap"]["name"] for v in pod.get("volumes", []) if v["name"] == "policies"), None)
expect(pol_cm, "the Deployment must mount the policies ConfigMap")
pol = one("ConfigMap", pol_cm) if pol_cm else {}
for name, text in (pol.get("data") or {}).items():
    for d in yaml.safe_load_all(text):
        expect(d is None or d.get("apiVersion") == "tenantguard.io/v1alpha1", f"policies/{name}: apiVersion")
dash = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
for d in dash:
    board = json.loads(d["data"]["tenantguard.json"])
    tenant = [v for v in board["templating"]["list"] if v["name"] == "tenant"]
    expect(tenant and "label_values(tenantguard_admission_requests_total, tenant)" in json.dumps(tenant),
           "dashboard needs the tenant variable")
    exprs = json.dumps([t.get("expr", "") for p in board["panels"] for t in p.get("targets", [])])
    for metric in ["tenantguard_tenant_quota_used", "tenantguard_tenant_quota_hard", "tenantguard_tenant_namespaces"]:
        expect(metric in exprs, f"dashboard needs a panel of {metric} (budget use per tenant)")

for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY

# name|namespace|extra exempt namespaces (JSON)|helm arguments
# (cases whose name starts with fallback-ignore expect failurePolicy Ignore on
# the entries the CEL fallback covers)
cases=(
  "tls-self|tenantguard-system|[]|"
  "tls-self-named|tg|[]|--set tls.self.secretName=webhook-certs"
  "tls-generate|tenantguard-system|[]|--set tls.mode=generate"
  "tls-certManager|tenantguard-system|[]|-f $CHART/ci/certmanager-values.yaml"
  "tls-secret|tenantguard-system|[]|-f $CHART/ci/secret-values.yaml"
  "all-values|tenantguard-system|[\"monitoring\",\"cert-manager\",\"infra\"]|-f $CHART/ci/all-values.yaml"
  # Values cannot take the built-in and release namespaces out of the exclusion.
  "exempt-emptied|platform-guard|[]|--set-json webhook.exemptNamespaces=[] --set-json webhook.extraMatchExpressions=[]"
  "tls-secret-base64|tenantguard-system|[]|-f $CHART/ci/secret-values.yaml --set tls.caBundle=LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="
  # The fallback installed, and the entries it covers set to Ignore.
  "fallback-ignore|tenantguard-system|[]|--set fallback.validatingAdmissionPolicy=true --set fallback.failurePolicy=Ignore"
  # Ignore asked for without the fallback: the entries stay Fail.
  "fallback-off|tenantguard-system|[]|--set fallback.failurePolicy=Ignore"
)
known=()
for c in "${cases[@]}"; do
  IFS='|' read -r name ns exempt args <<<"$c"
  mode=self
  [[ "$args" == *tls.mode=generate* ]] && mode=generate
  [[ "$args" == *certmanager* || "$args" == *all-values* ]] && mode=certManager
  [[ "$args" == *secret-values* ]] && mode=secret
  # shellcheck disable=SC2086 # $args is a list of helm flags
  check "$name: helm lint --strict" "$HELM" lint --strict --namespace "$ns" "$CHART" $args
  # shellcheck disable=SC2086
  if out="$("$HELM" template tg "$CHART" --namespace "$ns" --kube-version "$K8S_VERSION" --include-crds $args 2>&1 >"$OUT/$name.yaml")"; then
    pass "$name: helm template"
    self_secret=""
    [[ "$args" =~ tls\.self\.secretName=([^ ]+) ]] && self_secret="${BASH_REMATCH[1]}"
    check "$name: webhook and deployment assertions" env SELF_SECRET="$self_secret" \
      "$PYTHON" "$OUT/assert.py" "$OUT/$name.yaml" "$OUT/$name.known.yaml" "$mode" "$ns" "$exempt" \
      "$([[ "$name" == fallback-ignore* ]] && echo Ignore || echo Fail)"
    known+=("$OUT/$name.known.yaml")
  else
    fail "$name: helm template" "$out"
  fi
done

# One kubernetes-validate run for all renders (it is slow to start). Strict:
# unknown fields are errors; an unknown kind only warns there, so fail on that too.
if ((${#known[@]} > 0)); then
  out="$("$VALIDATE" --strict --quiet -k "$K8S_VERSION" "${known[@]}" 2>&1)"
  status=$?
  if ((status == 0)) && ! grep -q . <<<"$out"; then
    pass "kubernetes-validate --strict -k $K8S_VERSION (${#known[@]} renders)"
  else
    fail "kubernetes-validate --strict -k $K8S_VERSION" "$out"
  fi
fi

# The default (TLS mode self) looks nothing up and generates nothing: two
# renders in a row are byte-identical (helm template, Argo CD and Flux agree).
if "$HELM" template tg "$CHART" --namespace tenantguard-system --kube-version "$K8S_VERSION" >"$OUT/again-1.yaml" 2>&1 &&
  "$HELM" template tg "$CHART" --namespace tenantguard-system --kube-version "$K8S_VERSION" >"$OUT/again-2.yaml" 2>&1 &&
  cmp -s "$OUT/again-1.yaml" "$OUT/again-2.yaml"; then
  pass "default mode: helm template twice is byte-identical"
else
  fail "default mode: helm template twice is byte-identical" "$(diff "$OUT/again-1.yaml" "$OUT/again-2.yaml" | head -20)"
fi
# (generate, the legacy mode, is not: it makes a new CA on every render.)
"$HELM" template tg "$CHART" --set tls.mode=generate >"$OUT/gen-1.yaml" 2>&1
"$HELM" template tg "$CHART" --set tls.mode=generate >"$OUT/gen-2.yaml" 2>&1
if cmp -s "$OUT/gen-1.yaml" "$OUT/gen-2.yaml"; then
  fail "the determinism check can fail (generate differs between renders)" "identical"
else
  pass "the determinism check can fail (generate differs between renders)"
fi
# Every lookup call sits in the branch of the legacy generate mode.
if out="$("$PYTHON" - "$CHART/templates" <<'PY'
import pathlib, re, sys
bad = []
for f in sorted(p for p in pathlib.Path(sys.argv[1]).rglob("*") if p.is_file()):
    branch = ""
    for n, line in enumerate(f.read_text().splitlines(), 1):
        m = re.search(r"\{\{-?\s*(if|else if|else|end)\b(.*?)\}\}", line)
        if m and re.match(r"\s*\{\{-?\s*(if|else)", line):
            branch = m.group(0)
        if re.search(r"\blookup\s+\"", line) and 'eq $mode "generate"' not in branch:
            bad.append(f"{f.name}:{n}: {line.strip()}")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
)"; then
  pass "lookup is called only in the generate mode's branch"
else
  fail "lookup is called only in the generate mode's branch" "$out"
fi

# The fallback with policies of your own needs their own generation...
if out="$("$HELM" template tg "$CHART" --set fallback.validatingAdmissionPolicy=true --set tenants[0].name=acme 2>&1)"; then
  fail "fallback with own tenants and no fallback.objects is refused" "rendered without error"
elif grep -q "tenantguard vap --policies" <<<"$out"; then
  pass "fallback with own tenants and no fallback.objects is refused"
else
  fail "fallback with own tenants and no fallback.objects is refused" "$out"
fi
# ...passed in fallback.objects; anything but its objects is refused.
check "fallback.objects from --set-file renders" "$HELM" template tg "$CHART" \
  --set fallback.validatingAdmissionPolicy=true --set tenants[0].name=acme --set-file fallback.objects="$CHART/files/vap.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' >"$OUT/not-vap.yaml"
if out="$("$HELM" template tg "$CHART" --set fallback.validatingAdmissionPolicy=true --set-file fallback.objects="$OUT/not-vap.yaml" 2>&1)"; then
  fail "fallback.objects with other kinds is refused" "rendered without error"
else
  pass "fallback.objects with other kinds is refused"
fi

# The schema must reject each bad values file (a typo, a wrong type, ...).
for f in "$CHART"/ci/bad-values/*.yaml; do
  if out="$("$HELM" template tg "$CHART" -f "$f" 2>&1)"; then
    fail "bad values rejected: ${f#"$CHART"/}" "rendered without error"
  elif grep -qi "schema" <<<"$out"; then
    pass "bad values rejected: ${f#"$CHART"/}"
  else
    fail "bad values rejected: ${f#"$CHART"/}" "failed, but not by the schema: $out"
  fi
done

check "chart policies match policies/" "$ROOT/scripts/sync-chart-policies.sh" --check

echo "$passed passed, $failed failed"
((failed == 0))
