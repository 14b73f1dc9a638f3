//! Loader tests: every error names its file and line.
use super::*;

fn load(text: &str) -> Result<PolicySet, PolicyError> {
    load_sources([("p.yaml", text)])
}

#[test]
fn empty_directory_turns_every_rule_on() {
    let set = load("").unwrap();
    assert_eq!(set.policies.len(), RuleId::ALL.len());
    assert_eq!(set.policy(RuleId::RequireLimits).action, Action::Deny);
    assert_eq!(set.policy(RuleId::TenantLabels).action, Action::Apply);
}

#[test]
fn unknown_rule_names_file_and_line() {
    let err =
        load("# c\n---\napiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {rule: nope}\n")
            .unwrap_err()
            .to_string();
    assert!(err.starts_with("p.yaml:3: unknown rule \"nope\""), "{err}");
}

#[test]
fn unknown_field_names_its_line() {
    let text = "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec:\n  rule: require-limits\n  actoin: Warn\n";
    let err = load(text).unwrap_err().to_string();
    assert!(err.starts_with("p.yaml:5:"), "{err}");
    assert!(err.contains("actoin"), "{err}");
}

#[test]
fn mutating_rule_rejects_deny() {
    let text = "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {rule: tenant-labels, action: Deny}\n";
    let err = load(text).unwrap_err().to_string();
    assert!(err.contains("use one of Apply, Off"), "{err}");
}

#[test]
fn duplicate_policy_and_settings_are_errors() {
    let p = "apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: {rule: require-limits}\n";
    let err = load(&format!("{p}---\n{p}")).unwrap_err().to_string();
    assert!(err.contains("already configured by p.yaml:1"), "{err}");
    let s = "apiVersion: tenantguard.io/v1alpha1\nkind: Settings\nspec: {}\n";
    let err = load(&format!("{s}---\n{s}")).unwrap_err().to_string();
    assert!(err.starts_with("p.yaml:5: a second Settings"), "{err}");
}

#[test]
fn settings_fields_load() {
    let s = "apiVersion: tenantguard.io/v1alpha1\nkind: Settings\nspec:\n  sharedNamespaces: [kube-system, monitoring]\n  admins: {users: [root]}\n";
    let set = load(s).unwrap();
    assert_eq!(
        set.settings.shared_namespaces,
        ["kube-system", "monitoring"]
    );
    assert!(set.settings.is_admin("root", &[]));
    assert!(!set.settings.is_admin("bob", &["system:masters".into()]));
}

#[test]
fn cluster_cidrs_load_and_bad_ones_name_their_line() {
    let head = "apiVersion: tenantguard.io/v1alpha1\nkind: Settings\nspec:\n";
    let set = load(&format!(
        "{head}  clusterCIDRs: [10.42.0.0/16, \"10.43.7.1/16\", \"fd00:42::/56\"]\n"
    ))
    .unwrap();
    let got: Vec<String> = set
        .settings
        .cluster_cidrs
        .iter()
        .map(ToString::to_string)
        .collect();
    // Host bits are dropped: the range is what counts.
    assert_eq!(got, ["10.42.0.0/16", "10.43.0.0/16", "fd00:42::/56"]);
    assert!(load(head).unwrap().settings.cluster_cidrs.is_empty());
    let err = load(&format!(
        "{head}  clusterCIDRs: [10.42.0.0/16, 10.43.0.0]\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("p.yaml:4:"), "{err}");
    assert!(
        err.contains("clusterCIDRs[1]: \"10.43.0.0\" is not a CIDR"),
        "{err}"
    );
    // The field is spelled as DESIGN names it; anything else is unknown.
    let err = load(&format!("{head}  clusterCidrs: [10.42.0.0/16]\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("clusterCidrs"), "{err}");
}

#[test]
fn tenant_without_spec_is_declared_with_defaults() {
    let set = load("apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\n")
        .unwrap();
    assert_eq!(set.tenants.len(), 1);
    assert_eq!(set.tenants[0].name(), "acme");
    let err =
        load("apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: a}\nspek: {}\n")
            .unwrap_err()
            .to_string();
    assert!(err.starts_with("p.yaml:4:"), "{err}");
}

#[test]
fn wrong_api_version_and_kind() {
    let err = load("apiVersion: v1\nkind: Policy\nspec: {rule: require-limits}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("apiVersion is \"v1\""), "{err}");
    let err = load("apiVersion: tenantguard.io/v1alpha1\nkind: Pod\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("kind is \"Pod\""), "{err}");
}

#[test]
fn bad_yaml_is_an_error_with_line() {
    let err = load("apiVersion: tenantguard.io/v1alpha1\nkind: Policy\nspec: [\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("p.yaml:"), "{err}");
}

#[test]
fn tenant_quantities_are_read_and_default_limits_are_positive() {
    let tenant = |spec: &str| {
        load(&format!(
            "apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {{name: acme}}\nspec: {spec}\n"
        ))
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let cases = [
        (
            "{containerDefaults: {limits: {cpu: 500m, memory: 1Gi}, requests: {cpu: '0'}}}",
            None,
        ),
        ("{quota: {hard: {pods: '0', limits.cpu: '4'}}}", None),
        (
            "{containerDefaults: {limits: {cpu: '0'}}}",
            Some("spec.containerDefaults.limits.cpu: \"0\" is zero, and a zero limit is no limit"),
        ),
        (
            "{containerDefaults: {limits: {memory: 0Gi}}}",
            Some("spec.containerDefaults.limits.memory: \"0Gi\" is zero"),
        ),
        (
            "{containerDefaults: {requests: {cpu: -100m}}}",
            Some("spec.containerDefaults.requests.cpu: \"-100m\" is negative"),
        ),
        (
            "{quota: {hard: {limits.memory: -1Gi}}}",
            Some("spec.quota.hard.limits.memory: \"-1Gi\" is negative"),
        ),
        (
            "{containerDefaults: {limits: {cpu: 2gi}}}",
            Some("spec.containerDefaults.limits.cpu: \"2gi\" is not a Kubernetes quantity"),
        ),
    ];
    for (spec, want) in cases {
        match (tenant(spec), want) {
            (Ok(()), None) => {}
            (Err(e), Some(w)) => assert!(e.contains(w), "{spec}: {e}"),
            (got, _) => panic!("{spec}: {got:?}, expected {want:?}"),
        }
    }
}

#[test]
fn exempt_cases() {
    let listed = load(
        "apiVersion: tenantguard.io/v1alpha1\nkind: Settings\nspec: {exemptNamespaces: [infra]}\n",
    )
    .unwrap();
    let emptied =
        load("apiVersion: tenantguard.io/v1alpha1\nkind: Settings\nspec: {exemptNamespaces: []}\n")
            .unwrap();
    let defaults = Settings::default();
    let cases: Vec<(&str, &Settings, &str, bool)> = vec![
        ("a default exempt namespace", &defaults, "kube-system", true),
        ("the own namespace", &defaults, "tg-system", true),
        ("a tenant namespace", &defaults, "acme-prod", false),
        ("a listed namespace", &listed.settings, "infra", true),
        (
            "the list replaces the defaults",
            &listed.settings,
            "kube-system",
            false,
        ),
        (
            "the own namespace with an emptied list",
            &emptied.settings,
            "tg-system",
            true,
        ),
        (
            "nothing else with an emptied list",
            &emptied.settings,
            "kube-public",
            false,
        ),
        ("names compare exactly", &defaults, "kube-system-x", false),
    ];
    for (name, settings, ns, want) in cases {
        assert_eq!(settings.is_exempt(ns, "tg-system"), want, "{name}");
    }
}

#[test]
fn round_two_settings_fields_load_and_are_checked() {
    let ok = "apiVersion: tenantguard.io/v1alpha1\nkind: Settings\nspec:\n  podSecurity: restricted\n  protectedNamespaceKeys: [example.com/]\n  ingressHostnames: [\"*.{tenant}.apps.example.com\"]\n  allowed: {registries: [registry.example.com/], serviceTypes: [ClusterIP]}\n  defaultStorageClass: standard\n  vault: {agentResources: {requests: {cpu: 50m, memory: 64Mi}, limits: {cpu: 250m, memory: 128Mi}}}\n";
    let set = load(ok).unwrap();
    assert_eq!(set.settings.pod_security, PodSecurityLevel::Restricted);
    assert_eq!(set.settings.default_storage_class, "standard");
    assert_eq!(
        set.settings.allowed.service_types.as_deref(),
        Some(&["ClusterIP".to_string()][..])
    );

    for (bad, says) in [
        (
            "allowed: {serviceTypes: [Nodeport]}",
            "allowed.serviceTypes[0]",
        ),
        (
            "ingressHostnames: [\"acme..example\"]",
            "ingressHostnames[0]",
        ),
        (
            "vault: {agentResources: {limits: {cpu: \"0\"}}}",
            "vault.agentResources.limits.cpu",
        ),
        (
            "vault: {agentResources: {limits: {gpu: \"1\"}}}",
            "vault.agentResources.limits.gpu",
        ),
        ("podSecurity: strict", "podSecurity"),
        (
            "allowed: {registries: [ghcr.io/acme, nginx]}",
            "allowed.registries[1] \"nginx\" is not a registry prefix",
        ),
    ] {
        let text = format!("apiVersion: tenantguard.io/v1alpha1\nkind: Settings\nspec:\n  {bad}\n");
        let err = load(&text).unwrap_err().to_string();
        assert!(err.starts_with("p.yaml:"), "{bad}: {err}");
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn round_two_tenant_fields_are_checked() {
    for (bad, says) in [
        (
            "allowed: {serviceTypes: [Ingress]}",
            "spec.allowed.serviceTypes[0]",
        ),
        (
            "allowed: {registries: [\"\"]}",
            "spec.allowed.registries[0]",
        ),
        (
            "ingress: {hostnames: [\"-bad.example\"]}",
            "spec.ingress.hostnames[0]",
        ),
        (
            "vault: {agentResources: {requests: {memory: lots}}}",
            "spec.vault.agentResources.requests.memory",
        ),
        ("quota: {scope: Cluster}", "scope"),
        (
            "allowed: {registries: [\"ghcr.io/acme:v1\"]}",
            "spec.allowed.registries[0] \"ghcr.io/acme:v1\" is not a registry prefix",
        ),
        (
            "allowed: {registries: [ghcr.io/Acme/]}",
            "spec.allowed.registries[0] \"ghcr.io/Acme/\" is not a registry prefix such as registry.example.com/acme/: the repository path segment \"Acme\" has uppercase letters",
        ),
    ] {
        let text = format!("apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {{name: acme}}\nspec:\n  {bad}\n");
        let err = load(&text).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
    let ok = "apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  podSecurity: privileged\n  maxNamespaces: 3\n  quota: {scope: Tenant, hard: {pods: \"10\"}}\n  ingress: {hostnames: [\"*.acme.example\", acme.apps.example.com.]}\n";
    assert!(load(ok).is_ok());
}
