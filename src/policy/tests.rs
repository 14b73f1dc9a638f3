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
