//! `tenantguard check` with the allow-lists of issue 14: tenancy and objects
//! in one input, the JSON report's rule ids and paths, and a Tenant whose
//! registry prefix cannot be read (exit 2 naming the Tenant and the field).

use super::{check, result, rules};

const TENANCY: &str = "\
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec:
  containerDefaults: {limits: {cpu: 500m, memory: 512Mi}}
  allowed:
    registries: [registry.example.com/acme/]
    priorityClasses: [tenant-high]
---
apiVersion: v1
kind: Namespace
metadata: {name: acme-prod, labels: {tenantguard.io/tenant: acme}}
";

#[test]
fn allow_lists_in_one_input() {
    let objects = "\
---
apiVersion: v1
kind: Pod
metadata: {name: good, namespace: acme-prod}
spec:
  priorityClassName: tenant-high
  containers: [{name: app, image: registry.example.com/acme/app:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: acme-prod}
spec:
  priorityClassName: system-node-critical
  containers:
    - {name: app, image: registry.example.com/acme/app:1}
    - {name: side, image: registry.example.com/acme-evil/side}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: acme-prod}
spec: {type: NodePort, ports: [{port: 80}]}
";
    let run = check(
        &["-f", "-", "-o", "json"],
        Some(&format!("{TENANCY}{objects}")),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(result(&report, "-#3", "good")["allowed"], true);
    let bad = result(&report, "-#4", "bad");
    assert_eq!(rules(bad), ["allowed-classes", "allowed-registries"]);
    let paths: Vec<&str> = bad["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["spec.priorityClassName", "spec.containers[1].image"]
    );
    let svc = result(&report, "-#5", "web");
    assert_eq!(rules(svc), ["service-types"]);
    assert_eq!(svc["violations"][0]["path"], "spec.type");
}

#[test]
fn unreadable_registry_prefix_is_exit_2_naming_tenant_and_field() {
    let tenancy = TENANCY.replace(
        "registries: [registry.example.com/acme/]",
        "registries: [registry.example.com/acme/, \"ghcr.io/acme:v1\"]",
    );
    let run = check(&["-f", "-"], Some(&tenancy));
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("Tenant \"acme\": spec.allowed.registries[1] \"ghcr.io/acme:v1\" is not a registry prefix"),
        "{}",
        run.stderr
    );
}
