//! The case tables of `require-limits`: named attacks and the clean
//! neighbours that must stay admitted.

use super::*;
use crate::policy::rules::testing::World;
use serde_json::json;

fn paths(ns: &str, obj: Value, params: &Params) -> Vec<String> {
    let w = World::new();
    validate(&w.ctx(ns, &obj), params)
        .into_iter()
        .map(|v| v.path)
        .collect()
}

fn pod(containers: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": containers})
}

const FULL: &str = r#"{"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}"#;

#[test]
fn cases() {
    let full: Value = serde_json::from_str(FULL).unwrap();
    let p = Params::default();
    let cases: Vec<(&str, &str, Value, Vec<&str>)> = vec![
        (
            "clean pod",
            "acme-prod",
            pod(json!({"containers": [{"name": "app", "resources": full}]})),
            vec![],
        ),
        (
            "no resources",
            "acme-prod",
            pod(json!({"containers": [{"name": "app"}]})),
            vec![
                "spec.containers[0].resources.limits.cpu",
                "spec.containers[0].resources.limits.memory",
            ],
        ),
        (
            "memory only",
            "acme-prod",
            pod(
                json!({"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}),
            ),
            vec!["spec.containers[0].resources.limits.cpu"],
        ),
        (
            "second container and init container",
            "acme-prod",
            pod(json!({
            "initContainers": [{"name": "init", "resources": {"limits": {"cpu": "1"}}}],
            "containers": [{"name": "a", "resources": full}, {"name": "b", "resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}]})),
            vec!["spec.initContainers[0].resources.limits.memory"],
        ),
        (
            "request above limit",
            "acme-prod",
            pod(
                json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "2", "memory": "1024Mi"}}}]}),
            ),
            vec!["spec.containers[0].resources.requests.cpu"],
        ),
        (
            "bad quantity",
            "acme-prod",
            pod(
                json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "lots", "memory": "1Gi"}}}]}),
            ),
            vec!["spec.containers[0].resources.limits.cpu"],
        ),
        (
            "bad request quantity",
            "acme-prod",
            pod(
                json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"memory": "2gi"}}}]}),
            ),
            vec!["spec.containers[0].resources.requests.memory"],
        ),
        (
            "huge request above the limit",
            "acme-prod",
            pod(
                json!({"containers": [{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1e30"}}}]}),
            ),
            vec!["spec.containers[0].resources.requests.cpu"],
        ),
        (
            "ephemeral containers are not judged",
            "acme-prod",
            pod(
                json!({"containers": [{"name": "app", "resources": full}], "ephemeralContainers": [{"name": "debug"}]}),
            ),
            vec![],
        ),
        (
            "deployment template",
            "acme-prod",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}}),
            vec![
                "spec.template.spec.containers[0].resources.limits.cpu",
                "spec.template.spec.containers[0].resources.limits.memory",
            ],
        ),
        (
            "cronjob template",
            "acme-prod",
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "job", "resources": {"limits": {"cpu": "1"}}}]}}}}}}),
            vec!["spec.jobTemplate.spec.template.spec.containers[0].resources.limits.memory"],
        ),
        (
            "kind out of scope",
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Service", "spec": {}}),
            vec![],
        ),
        (
            "no spec at all",
            "acme-prod",
            json!({"apiVersion": "v1", "kind": "Pod"}),
            vec![],
        ),
    ];
    for (name, ns, obj, want) in cases {
        assert_eq!(paths(ns, obj, &p), want, "{name}");
    }
}

/// A container with `limits` and `requests` as given.
fn with(limits: Value, requests: Value) -> Value {
    pod(
        json!({"containers": [{"name": "app", "resources": {"limits": limits, "requests": requests}}]}),
    )
}

const CPU_LIMIT: &str = "spec.containers[0].resources.limits.cpu";
const MEM_LIMIT: &str = "spec.containers[0].resources.limits.memory";
const CPU_REQ: &str = "spec.containers[0].resources.requests.cpu";
const MEM_REQ: &str = "spec.containers[0].resources.requests.memory";

/// Zero limits in every spelling, quantities that overflow fixed-width
/// arithmetic, unreadable and negative quantities (attacks), and the
/// neighbours that must stay admitted.
#[test]
fn zero_limits_and_exact_quantities() {
    let p = Params::default();
    let mut cases: Vec<(String, Value, Vec<&str>)> = Vec::new();
    for zero in [
        json!("0"),
        json!("0Gi"),
        json!("0m"),
        json!("0.0"),
        json!("-0"),
        json!("0e5"),
        json!("+0Ki"),
        json!(".0"),
        json!(" 0 "),
        json!(0),
        json!(0.0),
    ] {
        cases.push((
            format!("zero cpu limit {zero}"),
            with(json!({"cpu": zero, "memory": "1Gi"}), json!({})),
            vec![CPU_LIMIT],
        ));
        cases.push((
            format!("zero memory limit {zero}, request zero too"),
            with(json!({"cpu": "1", "memory": zero}), json!({"memory": zero})),
            vec![MEM_LIMIT],
        ));
        cases.push((
            format!("zero request {zero} under a real limit"),
            with(
                json!({"cpu": "1", "memory": "1Gi"}),
                json!({"cpu": zero, "memory": zero}),
            ),
            vec![],
        ));
    }
    let named: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "both limits zero",
            with(json!({"cpu": "0", "memory": "0"}), json!({})),
            vec![CPU_LIMIT, MEM_LIMIT],
        ),
        (
            "request that wraps an i128 of nano-units, above 512Mi",
            with(
                json!({"cpu": "1", "memory": "512Mi"}),
                json!({"memory": "170141183460469231731687303715884105727e-29"}),
            ),
            vec![MEM_REQ],
        ),
        (
            "the same digits below 2Gi",
            with(
                json!({"cpu": "1", "memory": "2Gi"}),
                json!({"memory": "170141183460469231731687303715884105727e-29"}),
            ),
            vec![],
        ),
        (
            "huge exponent request",
            with(
                json!({"cpu": "1", "memory": "1Gi"}),
                json!({"cpu": "1e1000000"}),
            ),
            vec![CPU_REQ],
        ),
        (
            "huge exponent limit over a huger request",
            with(
                json!({"cpu": "1e1000000", "memory": "1Gi"}),
                json!({"cpu": "1e1000001"}),
            ),
            vec![CPU_REQ],
        ),
        (
            "long digit string one byte over 1Gi",
            with(
                json!({"cpu": "1", "memory": "1Gi"}),
                json!({"memory": "1073741824.000000000000000000000000000001"}),
            ),
            vec![MEM_REQ],
        ),
        (
            "Ei beyond any integer, above the limit",
            with(
                json!({"cpu": "1", "memory": "8Ei"}),
                json!({"memory": "99999999999999999999999Ei"}),
            ),
            vec![MEM_REQ],
        ),
        (
            "unreadable request",
            with(
                json!({"cpu": "1", "memory": "1Gi"}),
                json!({"memory": "1.5.Gi"}),
            ),
            vec![MEM_REQ],
        ),
        (
            "unreadable request without a limit to compare with",
            with(
                json!({"cpu": "1", "memory": "1Gi"}),
                json!({"ephemeral-storage": "lots"}),
            ),
            vec!["spec.containers[0].resources.requests.ephemeral-storage"],
        ),
        (
            "request exponent Kubernetes truncates",
            with(
                json!({"cpu": "1", "memory": "1Gi"}),
                json!({"cpu": "1e4294967296"}),
            ),
            vec![CPU_REQ],
        ),
        (
            "request that is not a string or number",
            with(
                json!({"cpu": "1", "memory": "1Gi"}),
                json!({"cpu": {"value": 1}}),
            ),
            vec![CPU_REQ],
        ),
        (
            "unreadable limit",
            with(json!({"cpu": ".", "memory": "1Gi"}), json!({})),
            vec![CPU_LIMIT],
        ),
        (
            "unreadable limit of a resource nobody requires",
            with(
                json!({"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "one"}),
                json!({}),
            ),
            vec!["spec.containers[0].resources.limits.nvidia.com/gpu"],
        ),
        (
            "negative limit",
            with(json!({"cpu": "-1", "memory": "1Gi"}), json!({})),
            vec![CPU_LIMIT],
        ),
        (
            "negative request",
            with(
                json!({"cpu": "1", "memory": "1Gi"}),
                json!({"cpu": "-500m"}),
            ),
            vec![CPU_REQ],
        ),
        (
            "limits not a map",
            with(json!(["cpu", "memory"]), json!({})),
            vec!["spec.containers[0].resources.limits"],
        ),
        (
            "requests not a map",
            with(json!({"cpu": "1", "memory": "1Gi"}), json!("all")),
            vec!["spec.containers[0].resources.requests"],
        ),
        (
            "a null request is not set",
            with(json!({"cpu": "1", "memory": "1Gi"}), json!({"cpu": null})),
            vec![],
        ),
        (
            "1e3 equals 1k",
            with(json!({"cpu": "1k", "memory": "1Gi"}), json!({"cpu": "1e3"})),
            vec![],
        ),
        (
            "0.5 equals 500m",
            with(json!({"cpu": "500m", "memory": "1Gi"}), json!({"cpu": 0.5})),
            vec![],
        ),
        (
            "0.5Gi equals 512Mi",
            with(
                json!({"cpu": "1", "memory": "512Mi"}),
                json!({"memory": "0.5Gi"}),
            ),
            vec![],
        ),
        (
            "a tiny limit is still a limit",
            with(json!({"cpu": "1n", "memory": "1"}), json!({})),
            vec![],
        ),
        (
            "a zero limit of a resource nobody requires is no limit, and allowed",
            with(
                json!({"cpu": "1", "memory": "1Gi", "ephemeral-storage": "0"}),
                json!({"ephemeral-storage": "1Gi"}),
            ),
            vec![],
        ),
    ];
    cases.extend(named.into_iter().map(|(n, o, w)| (n.to_string(), o, w)));
    for (name, obj, want) in cases {
        assert_eq!(paths("acme-prod", obj, &p), want, "{name}");
    }
}

#[test]
fn messages_say_why() {
    let w = World::new();
    let msgs = |obj: Value| -> Vec<String> {
        validate(&w.ctx("acme-prod", &obj), &Params::default())
            .into_iter()
            .map(|v| v.message)
            .collect()
    };
    let m = msgs(with(json!({"cpu": "0", "memory": "1Gi"}), json!({})));
    assert_eq!(m.len(), 1);
    assert!(
        m[0].starts_with(
            "spec.containers[0] \"app\": resources.limits.cpu is 0, and a zero limit is no limit"
        ),
        "{}",
        m[0]
    );
    let m = msgs(with(
        json!({"cpu": "1", "memory": "1Gi"}),
        json!({"memory": "2gi"}),
    ));
    assert!(
        m[0].contains("resources.requests.memory: \"2gi\" is not a Kubernetes quantity"),
        "{}",
        m[0]
    );
    let m = msgs(with(json!({"cpu": "-1", "memory": "1Gi"}), json!({})));
    assert!(
        m[0].contains("resources.limits.cpu is -1, a negative quantity"),
        "{}",
        m[0]
    );
    let long = format!("1{}", "0".repeat(100_000));
    let m = msgs(with(
        json!({"cpu": "1", "memory": "1Gi"}),
        json!({"cpu": long}),
    ));
    assert!(
        m[0].len() < 300,
        "the echoed request is shortened: {} bytes",
        m[0].len()
    );
}

#[test]
fn message_names_container_and_fix() {
    let w = World::new();
    let obj = pod(json!({"containers": [{"name": "app"}]}));
    let v = validate(&w.ctx("acme-prod", &obj), &Params::default());
    assert!(
        v[1].message
            .starts_with("spec.containers[0] \"app\": resources.limits.memory is not set"),
        "{}",
        v[1].message
    );
}

#[test]
fn update_is_judged_except_a_terminating_pods_finalizer_removal() {
    use crate::policy::rules::Operation::Update;
    let w = World::new();
    let run = |new: &Value, old: &Value| {
        let mut ctx = w.ctx("acme-prod", new);
        ctx.operation = Update;
        ctx.old_object = Some(old);
        validate(&ctx, &Params::default()).len()
    };
    let old = pod(json!({"containers": [{"name": "app"}]}));
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"] = json!({"x": "y"});
    assert_eq!(run(&relabelled, &old), 2, "UPDATE is judged");
    let mut dying = old.clone();
    dying["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    dying["metadata"]["finalizers"] = json!(["example.com/x"]);
    let mut released = dying.clone();
    released["metadata"]["finalizers"] = json!([]);
    assert_eq!(
        run(&released, &dying),
        0,
        "finalizer removal on the way out"
    );
    let mut dying_changed = released.clone();
    dying_changed["spec"]["containers"][0]["image"] = json!("new");
    assert_eq!(
        run(&dying_changed, &dying),
        2,
        "a spec change is judged even then"
    );
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 5,
        "template": {"spec": {"containers": [{"name": "web"}]}}}});
    assert_eq!(
        run(&deploy, &deploy),
        2,
        "a workload template is always judged"
    );
}

#[test]
fn resources_parameter() {
    let p = Params {
        resources: vec!["memory".into()],
    };
    let obj =
        pod(json!({"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}));
    assert!(paths("acme-prod", obj, &p).is_empty());
    assert!(Params {
        resources: vec!["".into()]
    }
    .check()
    .is_err());
}

/// A container's limits are kept inline up to four and in a list beyond:
/// requests are compared with their own limit whichever holds it.
#[test]
fn many_limits_are_all_compared() {
    let p = Params::default();
    let limits = json!({"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi",
        "example.com/a": "2", "example.com/b": "3", "hugepages-2Mi": "4Mi"});
    let at = |r: &str| format!("spec.containers[0].resources.requests.{r}");
    for (name, requests, want) in [
        (
            "every request at its limit",
            json!({"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi",
            "example.com/a": "2", "example.com/b": "3", "hugepages-2Mi": "4Mi"}),
            vec![],
        ),
        (
            "the fifth limit exceeded",
            json!({"example.com/b": "4"}),
            vec![at("example.com/b")],
        ),
        (
            "the sixth limit exceeded",
            json!({"hugepages-2Mi": "5Mi"}),
            vec![at("hugepages-2Mi")],
        ),
        (
            "the first and the sixth exceeded",
            json!({"cpu": "2", "hugepages-2Mi": "1Gi"}),
            vec![at("cpu"), at("hugepages-2Mi")],
        ),
    ] {
        let got = paths("acme-prod", with(limits.clone(), requests), &p);
        assert_eq!(got, want, "{name}");
    }
}

/// A missing limit's message suggests containerDefaults only to a tenant
/// without them; with them, it says when they are filled in.
#[test]
fn the_fix_suggested_follows_the_tenant() {
    let obj = pod(json!({"containers": [{"name": "app"}]}));
    let bare = World::new();
    let with_defaults = World::new().with_tenant(
        "acme",
        "containerDefaults: {limits: {cpu: 500m, memory: 512Mi}}",
    );
    for (world, want, not) in [
        (&bare, "declare containerDefaults", "are filled in when"),
        (
            &with_defaults,
            "containerDefaults are filled in when a pod or pod template is created or changed",
            "declare containerDefaults",
        ),
    ] {
        let found = validate(&world.ctx("acme-prod", &obj), &Params::default());
        assert_eq!(found.len(), 2);
        for v in found {
            assert!(v.message.contains(want), "{}", v.message);
            assert!(!v.message.contains(not), "{}", v.message);
        }
    }
}
