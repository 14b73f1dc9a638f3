//! The Tenant CRD the chart installs is generated from the Rust types
//! (`tenantguard crd`); this fails when the committed YAML drifts from them.
//! To fix: `cargo run -- crd > charts/tenantguard/files/tenants.tenantguard.io.yaml`.

use kube::CustomResourceExt;
use tenantguard::policy::Tenant;

const COMMITTED: &str = "charts/tenantguard/files/tenants.tenantguard.io.yaml";

#[test]
fn committed_crd_matches_the_types() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    let committed = std::fs::read_to_string(&path).expect("the committed CRD");
    let generated = serde_yaml_ng::to_string(&Tenant::crd()).expect("CRD as YAML");
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{COMMITTED} differs from Tenant::crd() from line {}: regenerate it with \
             `cargo run -- crd > {COMMITTED}`\ncommitted: {:?}\ngenerated: {:?}",
            first + 1,
            committed.lines().nth(first),
            generated.lines().nth(first)
        );
    }
}

#[test]
fn crd_is_cluster_scoped_with_status_and_columns() {
    let crd = serde_json::to_value(Tenant::crd()).unwrap();
    assert_eq!(crd["metadata"]["name"], "tenants.tenantguard.io");
    assert_eq!(crd["spec"]["scope"], "Cluster");
    let v = &crd["spec"]["versions"][0];
    assert_eq!(v["name"], "v1alpha1");
    // The controller writes status through the status subresource.
    assert_eq!(v["subresources"]["status"], serde_json::json!({}));
    let columns: Vec<&str> = v["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Ready", "Namespaces", "Age"]);
    let status = &v["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"];
    for field in ["conditions", "namespaces", "namespaceCount", "lastError"] {
        assert!(status.get(field).is_some(), "status.{field} missing");
    }
}
