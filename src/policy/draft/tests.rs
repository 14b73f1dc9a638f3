//! Drafts: reads see earlier writes, writes make what is missing as
//! `podspec::map_at` does, and nothing is copied but what is written.
use super::*;
use serde_json::json;

fn keys(ptr: &str) -> Vec<Step<'_>> {
    Step::keys(ptr).collect()
}

#[test]
fn nothing_written_is_no_edit() {
    let obj = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "x"}]}});
    let mut d = Draft::new(&obj);
    assert!(d.edit().is_none());
    assert_eq!(
        d.view().pointer("/metadata/labels").get("a").as_str(),
        Some("b")
    );
    // Asking for a map that is there, and writing nothing into it, changes nothing.
    assert!(d.map_at(keys("/metadata/labels")).is_some());
    assert_eq!(d.to_value(), obj);
    // A path through a list item that is not there is refused.
    assert!(d
        .map_at([Step::Key("spec"), Step::Key("containers"), Step::Index(3)])
        .is_none());
    assert_eq!(d.to_value(), obj);
}

#[test]
fn writes_make_missing_and_null_maps() {
    let obj = json!({"metadata": {"name": "p", "annotations": null}, "spec": {}});
    let mut d = Draft::new(&obj);
    d.map_at(keys("/spec/template/metadata/labels"))
        .unwrap()
        .insert("t".into(), json!("acme"));
    d.map_at(keys("/metadata/annotations"))
        .unwrap()
        .insert("a".into(), json!("1"));
    d.list_at(keys("/spec/tolerations"))
        .unwrap()
        .push(json!({"key": "k"}));
    assert_eq!(
        d.to_value(),
        json!({"metadata": {"name": "p", "annotations": {"a": "1"}},
               "spec": {"template": {"metadata": {"labels": {"t": "acme"}}}, "tolerations": [{"key": "k"}]}})
    );
}

#[test]
fn writes_stop_at_values_of_another_type() {
    let obj = json!({"metadata": 5, "spec": {"nodeSelector": "x", "tolerations": {}, "containers": {"a": 1}}});
    let mut d = Draft::new(&obj);
    assert!(d.map_at(keys("/metadata/labels")).is_none());
    assert!(d.map_at(keys("/spec/nodeSelector")).is_none());
    assert!(d.list_at(keys("/spec/tolerations")).is_none());
    assert!(
        d.map_at(keys("/spec/tolerations")).is_some(),
        "a map is a map"
    );
    assert!(d
        .map_at([Step::Key("spec"), Step::Key("containers"), Step::Index(0)])
        .is_none());
    assert!(
        d.map_at([Step::Key("spec"), Step::Key("missing"), Step::Index(0)])
            .is_none(),
        "an index is never made up"
    );
    assert_eq!(d.to_value(), obj);
}

#[test]
fn reads_see_earlier_writes() {
    let obj = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let mut d = Draft::new(&obj);
    let path = [
        Step::Key("spec"),
        Step::Key("containers"),
        Step::Index(1),
        Step::Key("resources"),
    ];
    d.map_at(path)
        .unwrap()
        .insert("limits".into(), json!({"cpu": "1"}));
    d.map_at(keys("/metadata/labels"))
        .unwrap()
        .insert("t".into(), json!("acme"));
    let v = d.view();
    assert_eq!(
        v.pointer("/metadata/labels").get("t").as_str(),
        Some("acme")
    );
    assert_eq!(v.pointer("/metadata/labels").get("app").as_str(), Some("x"));
    let containers = v.pointer("/spec/containers");
    assert_eq!(containers.list_len(), Some(2));
    assert!(containers.at(1).is_object());
    assert_eq!(containers.at(0).get("name").as_str(), Some("a"));
    assert_eq!(
        containers
            .at(1)
            .get("resources")
            .get("limits")
            .get("cpu")
            .as_str(),
        Some("1")
    );
    // A read above the writes gets a copy with them in.
    assert_eq!(
        containers.value().unwrap().into_owned(),
        json!([{"name": "a"}, {"name": "b", "resources": {"limits": {"cpu": "1"}}}])
    );
    // A write above earlier writes keeps them.
    d.map_at(keys("/spec"))
        .unwrap()
        .insert("nodeName".into(), json!("n"));
    assert_eq!(
        d.to_value(),
        json!({"metadata": {"labels": {"app": "x", "t": "acme"}},
               "spec": {"nodeName": "n", "containers": [{"name": "a"}, {"name": "b", "resources": {"limits": {"cpu": "1"}}}]}})
    );
    // ... and a write below one goes into its copy.
    d.map_at([
        Step::Key("spec"),
        Step::Key("containers"),
        Step::Index(0),
        Step::Key("resources"),
    ])
    .unwrap()
    .insert("requests".into(), json!({}));
    assert_eq!(
        d.view()
            .pointer("/spec/containers")
            .at(0)
            .get("resources")
            .value()
            .unwrap()
            .into_owned(),
        json!({"requests": {}})
    );
}

#[test]
fn unset_and_shapes() {
    let obj = json!({"a": null, "b": [1], "c": {}});
    let d = Draft::new(&obj);
    let v = d.view();
    assert!(v.get("a").is_unset() && v.get("zz").is_unset());
    assert!(!v.get("b").is_unset() && !v.get("c").is_unset());
    assert_eq!(v.get("b").list_len(), Some(1));
    assert_eq!(v.get("c").list_len(), None);
    assert!(v.get("c").is_object() && !v.get("b").is_object());
    assert!(v.get("b").get("x").value().is_none());
    assert!(v.get("c").at(0).value().is_none());
}
