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
# failurePolicy of the other entries (webhook.failurePolicy), and timeoutSeconds.
webhook_policy = os.environ.get("WEBHOOK_POLICY") or "Fail"
want_timeout = int(os.environ.get("WEBHOOK_TIMEOUT") or 5)
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
# With a client CA the webhook port refuses the kubelet (no client
# certificate): the probes go to the plain metrics listener.
probe_at = ("metrics", "HTTP") if os.environ.get("CLIENT_CA") else ("https", "HTTPS")
for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    get = c.get(probe, {}).get("httpGet", {})
    expect((get.get("path"), get.get("port"), get.get("scheme")) == (path, *probe_at), f"{probe}: {get}")
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
        want_policy = covered_policy if h["name"] in ("mutate.tenantguard.io", "validate.tenantguard.io") else webhook_policy
        expect(h.get("failurePolicy") == want_policy,
               f"{where}: failurePolicy {h.get('failurePolicy')}, expected {want_policy}")
        expect(h.get("matchPolicy") == "Equivalent", f"{where}: matchPolicy")
        expect(h.get("timeoutSeconds", 0) <= 30, f"{where}: timeoutSeconds")
        expect(h.get("timeoutSeconds") == want_timeout, f"{where}: timeoutSeconds {h.get('timeoutSeconds')}, expected {want_timeout}")
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
want_vap = 1 if os.environ.get("EXEMPT_POLICY", "1") == "1" else 0
expect(len(vap) == want_vap and len(binding) == want_vap,
       f"{want_vap} exempt-namespaces policy and binding, found {len(vap)}, {len(binding)}")
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
if os.environ.get("FALLBACK"):
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

# The Deployment's promises (DESIGN "Helm chart"): 2+ replicas (or an HPA
# that never goes below 2), anti-affinity over nodes, a PodDisruptionBudget
# that still lets a node drain, probes, resource limits, non-root, read-only
# root filesystem; and nothing else carrying the replicas' labels.
selector = dep.get("spec", {}).get("selector", {}).get("matchLabels", {})
pod_labels = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
expect(selector and all(pod_labels.get(k) == v for k, v in selector.items()), f"Deployment selector {selector} vs pod labels")
hpa = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
replicas = dep.get("spec", {}).get("replicas")
if hpa:
    expect(replicas is None, "with an HPA the Deployment must not set replicas")
    replicas = hpa[0]["spec"].get("minReplicas", 1)
expect(isinstance(replicas, int) and replicas >= 2, f"replicas: {replicas}, expected 2 or more")
anti = pod.get("affinity", {}).get("podAntiAffinity", {})
terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
    t.get("podAffinityTerm", {}) for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
expect(any(t.get("topologyKey") == "kubernetes.io/hostname"
           and selects(t.get("labelSelector", {}), pod_labels) for t in terms),
       f"replicas need pod anti-affinity over kubernetes.io/hostname selecting them: {anti}")
pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
expect(len(pdbs) == 1, f"one PodDisruptionBudget, found {len(pdbs)}")
for b in pdbs:
    spec = b.get("spec", {})
    expect(selects(spec.get("selector", {}), pod_labels), f"PDB selector {spec.get('selector')} misses the replicas")
    mu, ma = spec.get("maxUnavailable"), spec.get("minAvailable")
    allows = (mu is not None and mu not in (0, "0%")) or (isinstance(ma, int) and ma < replicas) or (
        isinstance(ma, str) and ma.endswith("%") and int(ma[:-1]) < 100)
    expect(allows, f"PDB {spec} lets no replica be evicted (replicas {replicas}): no node could drain")
for probe in ("readinessProbe", "livenessProbe"):
    expect(c.get(probe), f"container needs a {probe}")
limits = c.get("resources", {}).get("limits", {})
expect(limits.get("cpu") and limits.get("memory"), f"container needs cpu and memory limits: {c.get('resources')}")
expect(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation must be false")
uid = sc.get("runAsUser", pod.get("securityContext", {}).get("runAsUser"))
expect(uid != 0, f"runAsUser {uid}: must not be root")
# Only the replicas carry their labels: the helm test's pod, say, must not be
# counted by the PDB, the Service or the anti-affinity.
others = [d for d in docs if d["kind"] == "Pod" and selects({"matchLabels": selector}, d["metadata"].get("labels", {}))]
expect(not others, f"pods other than the replicas match the Deployment selector: {[d['metadata']['name'] for d in others]}")
expect(svc.get("spec", {}).get("selector") == selector, f"Service selector {svc.get('spec', {}).get('selector')}")
# The server's own request timeout stays below the webhooks' (the apiserver
# would give up first and apply failurePolicy).
args = c.get("args", [])
if "--request-timeout" in args:
    t = float(args[args.index("--request-timeout") + 1])
    expect(t < want_timeout, f"--request-timeout {t} must stay below the webhooks' timeoutSeconds {want_timeout}")

# The NetworkPolicy for tenantguard's own pods: the webhook port open (the
# apiserver's address cannot be selected), the metrics port only from the
# monitoring namespace, nothing else open.
netpols = [d for d in docs if d["kind"] == "NetworkPolicy"]
if os.environ.get("NETPOL", "1") == "1":
    expect(len(netpols) == 1, f"one NetworkPolicy, found {len(netpols)}")
for n in netpols:
    spec = n.get("spec", {})
    expect(selects(spec.get("podSelector", {}), pod_labels), "NetworkPolicy must select the replicas")
    expect("Ingress" in spec.get("policyTypes", []), "NetworkPolicy must restrict Ingress")
    metrics_ns = os.environ.get("METRICS_NS") or "monitoring"
    for r in spec.get("ingress", []):
        ports = {p.get("port") for p in r.get("ports", [])}
        expect(ports and ports <= {8443, 9090, "https", "metrics"}, f"NetworkPolicy opens more than the two ports: {r}")
        if ports & {9090, "metrics"}:
            peers = r.get("from", [])
            expect(peers and all(p.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": metrics_ns}
                                 for p in peers),
                   f"metrics port must be open to namespace {metrics_ns} only: {r}")
    expect(any(ports_of == {8443} or ports_of == {"https"} for ports_of in
               [{p.get("port") for p in r.get("ports", [])} for r in spec.get("ingress", []) if not r.get("from")]),
           f"the webhook port must be open to the apiserver: {spec.get('ingress')}")

# RBAC (DESIGN: watch Namespaces and Tenants; Leases for the audit's and the
# controller's leader; PolicyReports when the audit runs), bound to the
# service account the replicas run as.
def grants(rules, group, resource, verbs):
    return any(group in r.get("apiGroups", []) and resource in r.get("resources", []) and not r.get("resourceNames")
               and set(verbs) <= set(r.get("verbs", [])) for r in rules)
if os.environ.get("RBAC", "1") == "1":
    expect(grants(cluster_rules, "", "namespaces", ["get", "list", "watch"]), "ClusterRole: watch namespaces")
    expect(grants(cluster_rules, "tenantguard.io", "tenants", ["get", "list", "watch"]), "ClusterRole: watch tenants")
    expect(grants(role_rules, "coordination.k8s.io", "leases", ["get", "create", "update"]), "Role: leases")
    audit_on = os.environ.get("AUDIT", "1") == "1"
    expect(grants(cluster_rules, "wgpolicyk8s.io", "policyreports", ["list", "create", "patch", "delete"]) == audit_on,
           f"ClusterRole: PolicyReports exactly when the audit runs ({audit_on})")
    sa = pod.get("serviceAccountName")
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        b = one(kind, fullname)
        expect({"kind": "ServiceAccount", "name": sa, "namespace": ns} in b.get("subjects", []),
               f"{kind} must bind the replicas' service account {sa}: {b.get('subjects')}")
    # Cluster-wide write access to Secrets would let a compromised webhook
    # read every tenant's: only the Role, in its own namespace.
    expect(not any("secrets" in r.get("resources", []) for r in cluster_rules), "ClusterRole must not grant Secrets")

# The Tenant CRD, cluster-scoped, rendered with the release (crds.install).
crds = [d for d in docs if d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"] == "tenants.tenantguard.io"]
if os.environ.get("TENANT_CRD", "1") == "1":
    expect(len(crds) == 1 and crds[0]["spec"]["scope"] == "Cluster"
           and crds[0]["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep",
           f"one cluster-scoped Tenant CRD kept on uninstall, found {len(crds)}")
else:
    expect(not crds, "crds.install false: no Tenant CRD")
# The PolicyReport CRD only when reports.installCRD is true.
prcrd = [d for d in docs if d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"] == "policyreports.wgpolicyk8s.io"]
expect(len(prcrd) == (1 if os.environ.get("REPORT_CRD") else 0), f"PolicyReport CRD rendered {len(prcrd)} times")

# The ServiceMonitor, when there is one, scrapes the Service's metrics port.
for m in [d for d in docs if d["kind"] == "ServiceMonitor"]:
    spec = m.get("spec", {})
    expect(selects(spec.get("selector", {}), svc["metadata"].get("labels", {})), "ServiceMonitor must select the Service")
    expect(ns in spec.get("namespaceSelector", {}).get("matchNames", []), "ServiceMonitor must look in the release namespace")
    expect(all(e.get("port") in svc_ports for e in spec.get("endpoints", [])), f"ServiceMonitor ports {spec.get('endpoints')}")
expect(len([d for d in docs if d["kind"] == "ServiceMonitor"]) == (1 if os.environ.get("SERVICE_MONITOR") else 0),
       "ServiceMonitor exactly when serviceMonitor.enabled")

for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY

# name|namespace|extra exempt namespaces (JSON)|helm arguments|environment of
# the assertions: what the values change (WEBHOOK_POLICY, WEBHOOK_TIMEOUT,
# FALLBACK=1 for the CEL fallback, SERVICE_MONITOR=1, REPORT_CRD=1, METRICS_NS,
# AUDIT=0, NETPOL=0, RBAC=0, TENANT_CRD=0, EXEMPT_POLICY=0, CLIENT_CA=1)
# (cases whose name starts with fallback-ignore expect failurePolicy Ignore on
# the entries the CEL fallback covers)
cases=(
  "tls-self|tenantguard-system|[]||"
  "tls-self-named|tg|[]|--set tls.self.secretName=webhook-certs|"
  "tls-generate|tenantguard-system|[]|--set tls.mode=generate|"
  "tls-certManager|tenantguard-system|[]|-f $CHART/ci/certmanager-values.yaml|"
  "tls-secret|tenantguard-system|[]|-f $CHART/ci/secret-values.yaml|"
  "all-values|tenantguard-system|[\"monitoring\",\"cert-manager\",\"infra\"]|-f $CHART/ci/all-values.yaml|WEBHOOK_TIMEOUT=10 SERVICE_MONITOR=1 REPORT_CRD=1 METRICS_NS=observability CLIENT_CA=1"
  # Values cannot take the built-in and release namespaces out of the exclusion.
  "exempt-emptied|platform-guard|[]|--set-json webhook.exemptNamespaces=[] --set-json webhook.extraMatchExpressions=[]|"
  # Nor can a Settings document with an exempt list of its own: its names are
  # added, the built-in and release namespaces stay.
  "settings-exempt-replaced|team-guard|[\"team-infra\"]|-f $CHART/ci/settings-exempt-values.yaml|"
  "tls-secret-base64|tenantguard-system|[]|-f $CHART/ci/secret-values.yaml --set tls.caBundle=LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==|"
  # The fallback installed, and the entries it covers set to Ignore.
  "fallback-ignore|tenantguard-system|[]|--set fallback.validatingAdmissionPolicy=true --set fallback.failurePolicy=Ignore|FALLBACK=1"
  # Ignore asked for without the fallback: the entries stay Fail.
  "fallback-off|tenantguard-system|[]|--set fallback.failurePolicy=Ignore|"
  # failurePolicy and timeoutSeconds are configurable, for every entry.
  "failure-ignore|tenantguard-system|[]|--set webhook.failurePolicy=Ignore --set webhook.timeoutSeconds=12|WEBHOOK_POLICY=Ignore WEBHOOK_TIMEOUT=12"
  # Every optional feature off (the webhooks' exclusions do not depend on them)...
  "features-off|tenantguard-system|[]|--set networkPolicy.enabled=false --set dashboard.enabled=false --set exemptNamespacePolicy.enabled=false --set audit.interval=0 --set crds.install=false|NETPOL=0 AUDIT=0 TENANT_CRD=0 EXEMPT_POLICY=0"
  # ...and on.
  "features-on|tenantguard-system|[]|--set serviceMonitor.enabled=true --set reports.installCRD=true --set fallback.validatingAdmissionPolicy=true --set autoscaling.enabled=true|SERVICE_MONITOR=1 REPORT_CRD=1 FALLBACK=1"
)
known=()
for c in "${cases[@]}"; do
  IFS='|' read -r name ns exempt args envs <<<"$c"
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
    covered=Fail
    [[ "$name" == fallback-ignore* || "$envs" == *WEBHOOK_POLICY=Ignore* ]] && covered=Ignore
    # shellcheck disable=SC2086 # $envs is a list of NAME=value
    check "$name: webhook and deployment assertions" env SELF_SECRET="$self_secret" $envs \
      "$PYTHON" "$OUT/assert.py" "$OUT/$name.yaml" "$OUT/$name.known.yaml" "$mode" "$ns" "$exempt" \
      "$covered"
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
# Every other case too (certManager, secret, the fallback, all values).
for c in "${cases[@]}"; do
  IFS='|' read -r name ns exempt args envs <<<"$c"
  [[ "$args" == *tls.mode=generate* ]] && continue
  # shellcheck disable=SC2086
  "$HELM" template tg "$CHART" --namespace "$ns" --kube-version "$K8S_VERSION" $args >"$OUT/again-$name.yaml" 2>&1
  # shellcheck disable=SC2086
  if "$HELM" template tg "$CHART" --namespace "$ns" --kube-version "$K8S_VERSION" $args 2>&1 | cmp -s - "$OUT/again-$name.yaml"; then
    pass "$name: helm template twice is byte-identical"
  else
    fail "$name: helm template twice is byte-identical"
  fi
done
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

# The Tenant CRD is in the plain render (no --include-crds): helm template,
# helm upgrade, Argo CD and Flux all install and upgrade it with the release.
if "$HELM" template tg "$CHART" --namespace tenantguard-system >"$OUT/plain.yaml" 2>&1 &&
  "$PYTHON" -c 'import sys, yaml; sys.exit(0 if [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"] == "tenants.tenantguard.io"] else 1)' "$OUT/plain.yaml"; then
  pass "helm template without --include-crds renders the Tenant CRD"
else
  fail "helm template without --include-crds renders the Tenant CRD" "$(head -5 "$OUT/plain.yaml")"
fi

# NOTES show the server-side dry run (rendered by a client-only dry run).
if out="$("$HELM" install tg "$CHART" --namespace tenantguard-system --dry-run=client 2>&1)" &&
  grep -q "kubectl apply --dry-run=server" <<<"$(sed -n '/^NOTES:/,$p' <<<"$out")"; then
  pass "NOTES show kubectl apply --dry-run=server"
else
  fail "NOTES show kubectl apply --dry-run=server" "$(tail -20 <<<"$out")"
fi

# Values the schema cannot judge alone (they compare two values or read the
# policy files) are refused by the templates, with a message saying why.
printf 'policies:\n  extra:\n    more-settings.yaml: |\n      apiVersion: tenantguard.io/v1alpha1\n      kind: Settings\n      spec: {}\n' >"$OUT/two-settings.yaml"
"$PYTHON" -c 'import yaml; print(yaml.safe_dump({"tenants": [{"name": f"tenant-{i:05d}", "spec": {"owners": [{"kind": "Group", "name": f"tenant-{i:05d}-admins-of-a-long-team-name"}]}} for i in range(6000)]}))' >"$OUT/many-tenants.yaml"
# name|expected in the message|helm arguments
refusals=(
  "a PDB no replica can satisfy (minAvailable = replicas)|no node could ever be drained|--set podDisruptionBudget.minAvailable=2"
  "a PDB of minAvailable 100%|no node could ever be drained|--set podDisruptionBudget.minAvailable=100%"
  "a PDB the HPA's minimum cannot satisfy|no node could ever be drained|--set autoscaling.enabled=true --set autoscaling.minReplicas=3 --set podDisruptionBudget.minAvailable=3"
  "a second Settings document|a second Settings document|-f $OUT/two-settings.yaml"
  "a policies ConfigMap over the apiserver's 1 MiB|over the apiserver's 1 MiB limit|-f $OUT/many-tenants.yaml"
  "a tls.caBundle that is no PEM certificate|must be a PEM CA certificate|-f $CHART/ci/secret-values.yaml --set tls.caBundle=bm90IGEgY2VydA=="
  "server.requestTimeoutSeconds not below webhook.timeoutSeconds|must be below webhook.timeoutSeconds|--set webhook.timeoutSeconds=3"
)
for r in "${refusals[@]}"; do
  IFS='|' read -r what want args <<<"$r"
  # shellcheck disable=SC2086
  if out="$("$HELM" template tg "$CHART" $args 2>&1)"; then
    fail "refused: $what" "rendered without error"
  elif grep -qF "$want" <<<"$out"; then
    pass "refused: $what"
  else
    fail "refused: $what" "$out"
  fi
done
# ...and their passing twins render.
check "accepted: minAvailable below the replicas" "$HELM" template tg "$CHART" --set replicaCount=3 --set podDisruptionBudget.minAvailable=2
check "accepted: maxUnavailable instead of minAvailable" "$HELM" template tg "$CHART" --set podDisruptionBudget.minAvailable=2 --set podDisruptionBudget.maxUnavailable=1
check "accepted: settings.yaml in policies.extra replaces the baseline's" "$HELM" template tg "$CHART" -f "$CHART/ci/settings-exempt-values.yaml"
check "accepted: a shorter server.requestTimeoutSeconds" "$HELM" template tg "$CHART" --set webhook.timeoutSeconds=3 --set-json server.requestTimeoutSeconds=2.5

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
