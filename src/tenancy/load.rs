//! Loading an inventory from files: Namespace and Tenant objects in YAML or
//! JSON, one file or a directory of them, and the hosts Ingresses and
//! Gateway API routes claim; other kinds are ignored.

mod plain;
mod streaming;

use std::path::Path;

use serde_json::Value;

use super::{Inventory, UnknownNamespaces};
use crate::model::Tenant;
use crate::tenant_label::{self, TenantLabel};
use crate::TENANT_LABEL;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("--inventory: {0}")]
    Manifest(crate::manifest::InputError),
    #[error("{origin}: Tenant {name:?}: {message}")]
    InvalidTenant {
        origin: String,
        name: String,
        message: String,
    },
    #[error("{origin}: Namespace {name:?}: metadata.labels[\"{TENANT_LABEL}\"] is {value}, not a string; set it to the name of a tenant (or remove it for a platform namespace)")]
    MalformedTenantLabel {
        origin: String,
        name: String,
        value: String,
    },
    #[error("Tenant {name:?}: {message}")]
    InvalidOwners { name: String, message: String },
}

/// Checks, once the whole tenancy is known (files, policies, input), that
/// every declared tenant's owners count: a ServiceAccount owner must live
/// in a namespace of the same tenant (DESIGN, "Owners"). The first Tenant
/// in name order with a problem is the error, every problem of it listed.
pub fn check_owners(inv: &Inventory) -> Result<(), InventoryError> {
    let mut names: Vec<&str> = inv.tenant_names().collect();
    names.sort_unstable();
    for name in names {
        let problems = inv.owner_problems(name);
        if !problems.is_empty() {
            return Err(InventoryError::InvalidOwners {
                name: name.to_string(),
                message: problems.join("; "),
            });
        }
    }
    Ok(())
}

/// Loads Namespace and Tenant objects from a file or directory of YAML/JSON;
/// other kinds are ignored.
pub fn load_inventory(path: &Path) -> Result<Inventory, InventoryError> {
    let mut inv = Inventory::new(UnknownNamespaces::Platform);
    let mut files = Vec::new();
    inventory_files(path, &mut files)?;
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| InventoryError::Read {
            path: file.display().to_string(),
            source,
        })?;
        let name = file.display().to_string();
        if !streaming::absorb_yaml(&mut inv, &name, &text) {
            // JSON, Lists and anything unusual: the general manifest reader.
            let objects = crate::manifest::read_inputs(std::slice::from_ref(&file), None)
                .map_err(InventoryError::Manifest)?;
            for o in &objects {
                absorb(&mut inv, &o.object, &o.source, o.line)?;
            }
        }
    }
    Ok(inv)
}

fn inventory_files(path: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), InventoryError> {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let read_err = |source| InventoryError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if crate::manifest::is_hidden(&p) {
            continue;
        }
        let manifest = matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        );
        if p.is_dir() {
            inventory_files(&p, out)?;
        } else if manifest {
            out.push(p);
        }
    }
    Ok(())
}

/// Whether objects of this apiVersion and kind claim hosts.
fn claim_kind(api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    crate::hosts::ClaimKind::of(group, kind).is_some_and(|k| k.claims())
}

/// Adds a Namespace or Tenant object to the inventory, and the hosts an
/// Ingress or route claims; other kinds are ignored. `source` (`file#N`)
/// and `line` (where its document starts) place it in errors.
pub fn absorb(
    inv: &mut Inventory,
    obj: &Value,
    source: &str,
    line: usize,
) -> Result<bool, InventoryError> {
    let origin = || format!("{source} (line {line})");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    match (api, kind) {
        ("v1", "Namespace") => match tenant_label::of_object(Some(obj)) {
            TenantLabel::Malformed(v) => Err(InventoryError::MalformedTenantLabel {
                origin: origin(),
                name: obj
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                value: v.to_string(),
            }),
            _ => Ok(inv.add_namespace_object(obj)),
        },
        (crate::API_VERSION, "Tenant") => {
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            // The error names the field (`spec.maxNamespaces: invalid value
            // ...`), not only what was wrong with it.
            let tenant: Tenant =
                serde_path_to_error::deserialize::<_, crate::model::TenantDocument>(obj)
                    .map_err(|e| InventoryError::InvalidTenant {
                        origin: origin(),
                        name: name.clone(),
                        message: match e.path().to_string().as_str() {
                            "." => e.into_inner().to_string(),
                            path => format!("{path}: {}", e.into_inner()),
                        },
                    })?
                    .into();
            tenant
                .validate()
                .map_err(|e| InventoryError::InvalidTenant {
                    origin: origin(),
                    name,
                    message: e.to_string(),
                })?;
            inv.add_tenant(&tenant);
            Ok(true)
        }
        (api, kind) if claim_kind(api, kind) => Ok(inv.claims_mut().absorb(obj)),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::NamespaceTenancy;

    #[test]
    fn streaming_inventory_reads_what_the_general_reader_reads() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {tenantguard.io/tenant: acme}}\n---\n# c\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: m}\n---\napiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
        std::fs::write(dir.path().join("inv.yaml"), yaml).unwrap();
        let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: g, labels: {tenantguard.io/tenant: globex}}}\n";
        std::fs::write(dir.path().join("list.yaml"), list).unwrap();
        let inv = load_inventory(dir.path()).unwrap();
        assert_eq!(inv.namespace("a"), NamespaceTenancy::Tenant("acme"));
        assert_eq!(inv.namespace("m"), NamespaceTenancy::Platform);
        assert_eq!(
            inv.namespace("g"),
            NamespaceTenancy::Tenant("globex"),
            "a List goes through the general reader"
        );
        assert!(inv.is_declared("acme"));
        std::fs::write(dir.path().join("bad.yaml"), "apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: b}\nspec: {quota: {hard: {cpu: lots}}}\n").unwrap();
        let err = load_inventory(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("lots"),
            "an invalid Tenant is reported precisely: {err}"
        );
    }

    /// The streaming reader keeps only the tenant label of a Namespace and
    /// reads a Tenant once; what it declares is what the documents say,
    /// whatever their style.
    #[test]
    fn streaming_reader_styles() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n    team: x\n    tenantguard.io/tenant: acme\n    kubernetes.io/metadata.name: a\n  annotations: {tenantguard.io/tenant: globex}\n---\nkind: Namespace\napiVersion: v1\nmetadata: {name: n, labels: null}\n---\napiVersion: tenantguard.io/v1alpha1\nkind: \"Tenant\"\nmetadata: {name: quoted}\n---\napiVersion: example.com/v1\nkind: Tenant\nmetadata: {name: other}\n---\napiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  egress: {allowedCIDRs: [203.0.113.0/24]}\n";
        let file = dir.path().join("inv.yaml");
        std::fs::write(&file, yaml).unwrap();
        let inv = load_inventory(&file).unwrap();
        assert_eq!(inv.namespace("a"), NamespaceTenancy::Tenant("acme"));
        assert_eq!(inv.namespace("n"), NamespaceTenancy::Platform);
        assert!(inv.is_declared("quoted") && inv.is_declared("acme"));
        assert!(!inv.is_declared("other"), "another API group's Tenant");
        let cidrs = &inv.tenant_entry("acme").unwrap().spec.egress;
        assert_eq!(cidrs.as_ref().unwrap().allowed_cidrs, ["203.0.113.0/24"]);
        // Parsed straight into a Tenant, an unknown field still fails the
        // streaming reader over to the precise one.
        std::fs::write(&file, format!("{yaml}---\napiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {{name: b}}\nspec: {{quotas: {{}}}}\n")).unwrap();
        let err = load_inventory(&file).unwrap_err().to_string();
        assert!(err.contains("unknown field `quotas`"), "{err}");
    }

    /// A file large enough to be read on several threads, with a bad
    /// document deep in it (past the middle): the error names the file,
    /// the document and its line, as for a small file.
    #[test]
    fn a_bad_document_deep_in_a_large_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inv.yaml");
        let ns = |i: usize, labels: &str| {
            format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ns-{i:05}, labels: {labels}}}\n")
        };
        let good = "{tenantguard.io/tenant: acme, team: web}";
        let bad_at = 6_000;
        for (bad, want) in [
            (
                "{tenantguard.io/tenant: [acme]}",
                format!("inv.yaml#{} (line {}): Namespace \"ns-{bad_at:05}\": metadata.labels[\"tenantguard.io/tenant\"] is [\"acme\"], not a string", bad_at + 1, 4 * bad_at + 2),
            ),
            (
                "{tenantguard.io/tenant: acme",
                format!("inv.yaml: document {}: not valid YAML: ", bad_at + 1),
            ),
        ] {
            let text: String = (0..8_000)
                .map(|i| ns(i, if i == bad_at { bad } else { good }))
                .collect();
            assert!(text.len() > 2 * 256 * 1024, "read on two threads");
            std::fs::write(&file, &text).unwrap();
            let err = load_inventory(&file).unwrap_err().to_string();
            assert!(err.contains(&want), "{err}");
            if bad.ends_with("acme") {
                // The document starts on line 1 + 4 × 6,000; the error is past it.
                assert!(err.contains(&format!(" at line {} column", 4 * bad_at + 5)), "{err}");
            }
        }
    }

    #[test]
    fn a_bad_tenant_is_named_by_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inv.yaml");
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: x-prod}\n---\n";
        for (spec, want) in [
            (
                "maxNamespaces: -1",
                "spec.maxNamespaces: invalid value: integer `-1`",
            ),
            (
                "maxNamespaces: \"3\"",
                "spec.maxNamespaces: invalid type: string \"3\"",
            ),
            (
                "podSecurity: root",
                "spec.podSecurity: unknown variant `root`",
            ),
            (
                "quota: {scope: Cluster}",
                "spec.quota.scope: unknown variant `Cluster`",
            ),
            (
                "owners: [{kind: User, name: a}, {kind: Robot, name: r}]",
                "spec.owners[1].kind: unknown variant `Robot`",
            ),
            (
                "owners: [{kind: User}]",
                "spec.owners[0]: missing field `name`",
            ),
            (
                "frobnicate: 1",
                "spec.frobnicate: unknown field `frobnicate`",
            ),
            (
                "vault: {agentResources: {requests: {cpu: [1]}}}",
                "spec.vault.agentResources.requests.cpu: invalid type: sequence",
            ),
        ] {
            let text = format!("{ns}apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {{name: x}}\nspec:\n  {spec}\n");
            std::fs::write(&file, &text).unwrap();
            let err = load_inventory(&file).unwrap_err().to_string();
            assert!(
                err.contains("inv.yaml#2 (line 5): Tenant \"x\": "),
                "{spec}: {err}"
            );
            assert!(err.contains(want), "{spec}: {err}");
        }
    }

    #[test]
    fn ingresses_and_routes_are_claims() {
        use crate::hosts::{ClaimKind, ClaimRef, Host};
        let dir = tempfile::tempdir().unwrap();
        let yaml = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: globex-prod}\nspec: {rules: [{host: Shop.Globex.example}]}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: api, namespace: globex-prod}\nspec: {hostnames: ['*.api.example']}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: infra}\nspec: {listeners: [{name: a, hostname: gw.example}]}\n";
        std::fs::write(dir.path().join("a.yaml"), yaml).unwrap();
        let json = r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TLSRoute", "metadata": {"name": "db", "namespace": "globex-prod"}, "spec": {"hostnames": ["db.example"]}}]}"#;
        std::fs::write(dir.path().join("b.json"), json).unwrap();
        let inv = load_inventory(dir.path()).unwrap();
        let claims = inv.claims();
        assert_eq!(claims.objects(), 3, "the Gateway claims nothing");
        let web = ClaimRef::new("globex-prod", ClaimKind::Ingress, "web");
        assert_eq!(
            claims.claimed_by(&web),
            [Host::parse("shop.globex.example").unwrap()]
        );
        let under = Host::parse("x.api.example").unwrap();
        assert_eq!(claims.overlapping(&under).len(), 1);
        let db = Host::parse("db.example").unwrap();
        assert_eq!(claims.overlapping(&db).len(), 1, "a List item (JSON)");
        let mut copy = Inventory::default();
        copy.merge(inv);
        assert_eq!(copy.claims().objects(), 3, "merge keeps the claims");
    }

    #[test]
    fn empty_and_malformed_tenant_labels() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inv.yaml");
        let ns = |label: &str| {
            format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: n, labels: {{tenantguard.io/tenant: {label}}}}}\n")
        };
        // YAML streaming and the general (JSON) reader agree.
        for (name, text) in [("yaml", ns("\"\"")), ("json", String::new())] {
            let path = if name == "json" {
                let p = dir.path().join("inv.json");
                std::fs::write(&p, r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": {"tenantguard.io/tenant": ""}}}"#).unwrap();
                p
            } else {
                std::fs::write(&file, text).unwrap();
                file.clone()
            };
            let inv = load_inventory(&path).unwrap();
            assert_eq!(
                inv.namespace("n"),
                NamespaceTenancy::Platform,
                "{name}: empty is missing"
            );
        }
        for bad in ["5", "true", "[acme]", "{a: b}"] {
            std::fs::write(&file, ns(bad)).unwrap();
            let err = load_inventory(&file).unwrap_err().to_string();
            assert!(err.contains("Namespace \"n\""), "{bad}: {err}");
            assert!(err.contains("not a string"), "{bad}: {err}");
        }
    }

    #[test]
    fn service_account_owners_must_live_in_the_tenant() {
        let tenant = "apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  owners:\n  - {kind: Group, name: acme-admins}\n  - {kind: ServiceAccount, name: ci, namespace: acme-ci}\n";
        let ns = |labels: &str| {
            format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: acme-ci{labels}}}\n")
        };
        let cases: Vec<(&str, String, Option<&str>)> = vec![
            (
                "namespace of the tenant",
                ns(", labels: {tenantguard.io/tenant: acme}"),
                None,
            ),
            (
                "no such namespace",
                String::new(),
                Some("\"acme-ci\" does not exist"),
            ),
            (
                "a platform namespace",
                ns(""),
                Some("\"acme-ci\" is a platform namespace"),
            ),
            (
                "another tenant's namespace",
                ns(", labels: {tenantguard.io/tenant: globex}"),
                Some("\"acme-ci\" belongs to tenant \"globex\""),
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inv.yaml");
        for (name, namespaces, want) in cases {
            std::fs::write(&file, format!("{tenant}{namespaces}")).unwrap();
            let inv = load_inventory(&file).unwrap();
            match (check_owners(&inv), want) {
                (Ok(()), None) => {}
                (Err(e), Some(needle)) => {
                    let e = e.to_string();
                    assert!(
                        e.starts_with("Tenant \"acme\": spec.owners[1]: ServiceAccount \"ci\""),
                        "{name}: {e}"
                    );
                    assert!(e.contains(needle), "{name}: {e}");
                }
                (got, _) => panic!("{name}: {got:?}"),
            }
        }
    }
}
