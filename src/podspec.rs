//! Finds the PodSpec in a Pod and in every workload's pod template, with its
//! field path, so no rule walks workload kinds on its own.
//!
//! Reference: <https://kubernetes.io/docs/concepts/workloads/pods/#pod-templates>.

use std::fmt;

use serde_json::Value;

use crate::model::GroupKind;

/// Pod and every kind with a pod template: the kinds [`locate`] finds a pod
/// in, for rules to declare as the kinds they judge.
pub const POD_KINDS: &[GroupKind] = &[
    GroupKind::new("", "Pod"),
    GroupKind::new("", "PodTemplate"),
    GroupKind::new("", "ReplicationController"),
    GroupKind::new("apps", "Deployment"),
    GroupKind::new("apps", "StatefulSet"),
    GroupKind::new("apps", "DaemonSet"),
    GroupKind::new("apps", "ReplicaSet"),
    GroupKind::new("batch", "Job"),
    GroupKind::new("batch", "CronJob"),
];

/// [`POD_KINDS`] followed by `extra`, for a rule that judges pods and more:
/// `const JUDGED: [GroupKind; 10] = pod_kinds_and(&[GroupKind::new("", "Service")]);`
/// (`N` must be `POD_KINDS.len() + extra.len()`; anything else fails to compile).
pub const fn pod_kinds_and<const N: usize>(extra: &[GroupKind]) -> [GroupKind; N] {
    assert!(
        N == POD_KINDS.len() + extra.len(),
        "pod_kinds_and: N must be POD_KINDS.len() + extra.len()"
    );
    let mut out = [GroupKind::new("", ""); N];
    let mut i = 0;
    while i < POD_KINDS.len() {
        out[i] = POD_KINDS[i];
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        out[i + j] = extra[j];
        j += 1;
    }
    out
}

/// Where a kind keeps its pod: dotted paths for messages, JSON pointers for access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodLocation {
    /// e.g. `spec.template.spec`.
    pub spec_path: &'static str,
    /// e.g. `spec.template.metadata`.
    pub meta_path: &'static str,
    pub spec_ptr: &'static str,
    pub meta_ptr: &'static str,
}

const POD: PodLocation = PodLocation {
    spec_path: "spec",
    meta_path: "metadata",
    spec_ptr: "/spec",
    meta_ptr: "/metadata",
};

const TEMPLATE: PodLocation = PodLocation {
    spec_path: "spec.template.spec",
    meta_path: "spec.template.metadata",
    spec_ptr: "/spec/template/spec",
    meta_ptr: "/spec/template/metadata",
};

const CRONJOB: PodLocation = PodLocation {
    spec_path: "spec.jobTemplate.spec.template.spec",
    meta_path: "spec.jobTemplate.spec.template.metadata",
    spec_ptr: "/spec/jobTemplate/spec/template/spec",
    meta_ptr: "/spec/jobTemplate/spec/template/metadata",
};

const POD_TEMPLATE: PodLocation = PodLocation {
    spec_path: "template.spec",
    meta_path: "template.metadata",
    spec_ptr: "/template/spec",
    meta_ptr: "/template/metadata",
};

/// Where `group`/`kind` keeps its pod, if it has one.
pub fn locate(group: &str, kind: &str) -> Option<PodLocation> {
    match (group, kind) {
        ("", "Pod") => Some(POD),
        ("", "PodTemplate") => Some(POD_TEMPLATE),
        ("", "ReplicationController")
        | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job") => Some(TEMPLATE),
        ("batch", "CronJob") => Some(CRONJOB),
        _ => None,
    }
}

/// Whether the kind is a workload (has a pod template), as opposed to a Pod.
pub fn is_workload(group: &str, kind: &str) -> bool {
    locate(group, kind).is_some_and(|l| l != POD)
}

/// A pod (or pod template) found in an object.
#[derive(Debug, Clone, Copy)]
pub struct PodView<'a> {
    pub at: PodLocation,
    /// The PodSpec (`Value::Null` when absent).
    pub spec: &'a Value,
    /// The pod's metadata (`Value::Null` when absent).
    pub metadata: &'a Value,
}

static NULL: Value = Value::Null;

/// The pod inside `obj`, for kinds that have one.
pub fn pod<'a>(group: &str, kind: &str, obj: &'a Value) -> Option<PodView<'a>> {
    let at = locate(group, kind)?;
    // A chain of `get`s to what holds the pod's spec and, beside it, its
    // metadata: the keys of `at.spec_ptr` less its last (checked in the
    // tests). Every pod rule asks, so no pointer is split here.
    let parent = parent_keys(&at).iter().try_fold(obj, |v, key| v.get(*key));
    Some(PodView {
        at,
        spec: parent.and_then(|p| p.get("spec")).unwrap_or(&NULL),
        metadata: parent.and_then(|p| p.get("metadata")).unwrap_or(&NULL),
    })
}

/// The keys from an object to the parent of its pod's `spec` and `metadata`.
fn parent_keys(at: &PodLocation) -> &'static [&'static str] {
    match at.spec_ptr {
        "/template/spec" => &["template"],
        "/spec/template/spec" => &["spec", "template"],
        "/spec/jobTemplate/spec/template/spec" => &["spec", "jobTemplate", "spec", "template"],
        _ => &[],
    }
}

/// `Value::pointer` without its allocations: a pointer with no `~` escape
/// (every pointer tenantguard writes itself) is walked token by token;
/// others go to `Value::pointer`. Array indices are read as RFC 6901 has
/// them (digits, no leading zero), as `Value::pointer` reads them.
pub fn pointer<'v>(v: &'v Value, ptr: &str) -> Option<&'v Value> {
    if ptr.contains('~') {
        return v.pointer(ptr);
    }
    if ptr.is_empty() {
        return Some(v);
    }
    let rest = ptr.strip_prefix('/')?;
    rest.split('/').try_fold(v, |at, token| match at {
        Value::Object(m) => m.get(token),
        Value::Array(a) => index(token).and_then(|i| a.get(i)),
        _ => None,
    })
}

fn index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

/// The three lists of containers in a PodSpec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerList {
    Containers,
    InitContainers,
    EphemeralContainers,
}

impl ContainerList {
    pub const ALL: [ContainerList; 3] = [
        ContainerList::Containers,
        ContainerList::InitContainers,
        ContainerList::EphemeralContainers,
    ];

    pub fn field(self) -> &'static str {
        match self {
            ContainerList::Containers => "containers",
            ContainerList::InitContainers => "initContainers",
            ContainerList::EphemeralContainers => "ephemeralContainers",
        }
    }
}

/// A container with where it is.
#[derive(Debug, Clone, Copy)]
pub struct ContainerView<'a> {
    pub list: ContainerList,
    pub index: usize,
    pub value: &'a Value,
}

impl<'a> ContainerView<'a> {
    pub fn name(&self) -> &'a str {
        self.value.get("name").and_then(Value::as_str).unwrap_or("")
    }

    /// `spec.containers[0]` style path, under the pod's spec path.
    pub fn path(&self, spec_path: &str) -> String {
        format!("{spec_path}.{}[{}]", self.list.field(), self.index)
    }

    /// [`ContainerView::path`] written only when shown (a message's path).
    pub fn at<'s>(&self, spec_path: &'s str) -> ContainerPath<'s> {
        ContainerPath {
            spec_path,
            list: self.list,
            index: self.index,
        }
    }

    /// [`ContainerView::label`] written only when shown (the name, too, is
    /// looked up only then).
    pub fn who<'s>(&self, spec_path: &'s str) -> ContainerLabel<'s, 'a> {
        ContainerLabel {
            at: self.at(spec_path),
            container: *self,
        }
    }

    /// `spec.containers[0] "app"`: how messages name a container.
    pub fn label(&self, spec_path: &str) -> String {
        format!("{} {:?}", self.path(spec_path), self.name())
    }
}

/// `spec.containers[0]`, formatted when shown: rules pass it down and
/// format it only into a violation.
#[derive(Debug, Clone, Copy)]
pub struct ContainerPath<'s> {
    spec_path: &'s str,
    list: ContainerList,
    index: usize,
}

impl fmt::Display for ContainerPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}[{}]",
            self.spec_path,
            self.list.field(),
            self.index
        )
    }
}

/// `spec.containers[0] "app"`, formatted when shown.
#[derive(Debug, Clone, Copy)]
pub struct ContainerLabel<'s, 'a> {
    at: ContainerPath<'s>,
    container: ContainerView<'a>,
}

impl fmt::Display for ContainerLabel<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.at, self.container.name())
    }
}

/// `parent.key`, formatted when shown (a field path under construction).
#[derive(Clone, Copy)]
pub struct Field<'p>(pub &'p dyn fmt::Display, pub &'p str);

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// `parent[index]`, formatted when shown.
#[derive(Clone, Copy)]
pub struct Item<'p>(pub &'p dyn fmt::Display, pub usize);

impl fmt::Display for Item<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

impl<'a> PodView<'a> {
    /// Containers of the given lists, in order.
    pub fn containers(
        &self,
        lists: &'a [ContainerList],
    ) -> impl Iterator<Item = ContainerView<'a>> + 'a {
        let spec = self.spec;
        lists.iter().flat_map(move |list| {
            spec.get(list.field())
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .map(move |(index, value)| ContainerView {
                    list: *list,
                    index,
                    value,
                })
        })
    }

    pub fn labels(&self) -> Option<&'a serde_json::Map<String, Value>> {
        self.metadata.get("labels").and_then(Value::as_object)
    }

    pub fn annotations(&self) -> Option<&'a serde_json::Map<String, Value>> {
        self.metadata.get("annotations").and_then(Value::as_object)
    }
}

/// Whether toleration `t` (a PodSpec `tolerations[]` item) matches the taint
/// `key=value`, as the scheduler decides it: an empty key matches every key,
/// `Exists` every value, an empty operator means `Equal`; any other operator
/// matches nothing. The effect is the caller's to compare (an empty one
/// matches every effect). The one reading of a toleration.
pub fn toleration_matches(t: &Value, key: &str, value: &str) -> bool {
    let field = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or("");
    let t_key = field("key");
    (t_key.is_empty() || t_key == key)
        && match field("operator") {
            "Exists" => true,
            "" | "Equal" => field("value") == value,
            _ => false,
        }
}

/// The map at `key` in `parent`, created as `{}` when missing or null (a
/// null is what `kubectl` and Helm write for an empty field). None when
/// something else is there: the rule then leaves the object alone and
/// validation reports it. The one get-or-create of a JSON map.
pub fn map_at<'a>(
    parent: &'a mut serde_json::Map<String, Value>,
    key: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    let slot = parent
        .entry(key)
        .or_insert_with(|| Value::Object(Default::default()));
    if slot.is_null() {
        *slot = Value::Object(Default::default());
    }
    slot.as_object_mut()
}

/// The object at `ptr`, each step made by [`map_at`]. Returns None when
/// something on the way is not an object.
pub fn object_at<'a>(
    root: &'a mut Value,
    ptr: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    let mut cur = root.as_object_mut()?;
    for seg in ptr.split('/').skip(1) {
        cur = map_at(cur, seg)?;
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parent_keys_spell_every_spec_pointer() {
        for gk in POD_KINDS {
            let at = locate(gk.group, gk.kind).unwrap();
            let mut ptr: String = parent_keys(&at).iter().map(|k| format!("/{k}")).collect();
            ptr.push_str("/spec");
            assert_eq!(ptr, at.spec_ptr, "{gk:?}");
            assert_eq!(
                at.meta_ptr,
                format!("{}metadata", ptr.strip_suffix("spec").unwrap())
            );
        }
    }

    #[test]
    fn pod_finds_spec_and_metadata_at_every_location() {
        let pod = json!({"spec": {"containers": []}, "metadata": {"name": "m"}});
        let tpl = json!({"spec": {"template": pod.clone()}, "metadata": {"name": "t"}});
        let obj = json!({"spec": {"template": pod.clone(), "jobTemplate": tpl.clone()},
            "template": pod.clone(), "metadata": {"name": "o"}});
        for (g, k) in [
            ("", "Pod"),
            ("", "PodTemplate"),
            ("apps", "Deployment"),
            ("batch", "CronJob"),
        ] {
            let view = super::pod(g, k, &obj).unwrap();
            assert_eq!(Some(view.spec), obj.pointer(view.at.spec_ptr), "{k}");
            assert_eq!(Some(view.metadata), obj.pointer(view.at.meta_ptr), "{k}");
        }
        let bare = json!({"kind": "Deployment"});
        let view = super::pod("apps", "Deployment", &bare).unwrap();
        assert!(view.spec.is_null() && view.metadata.is_null());
    }

    #[test]
    fn pointer_reads_as_value_pointer_does() {
        let v = json!({"a": {"b": [10, {"c": 1}], "": 2, "x/y": 3, "m~n": 4, "0": 5},
            "l": [[1, 2]]});
        for p in [
            "",
            "/",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1/c",
            "/a/b/01",
            "/a/b/+1",
            "/a/b/-1",
            "/a/b/2",
            "/a/b/",
            "/a/",
            "/a/x~1y",
            "/a/m~0n",
            "/a/0",
            "/l/0/1",
            "/l/00/1",
            "a",
            "/a/b/0/c",
            "/z",
            "/a/b/18446744073709551616",
        ] {
            assert_eq!(pointer(&v, p), v.pointer(p), "{p:?}");
        }
    }

    #[test]
    fn tolerations_match_taints_as_the_scheduler_does() {
        use serde_json::json;
        for (t, want) in [
            (json!({"key": "pool", "value": "acme"}), true),
            (
                json!({"key": "pool", "operator": "Equal", "value": "acme"}),
                true,
            ),
            (
                json!({"key": "pool", "operator": "Equal", "value": "globex"}),
                false,
            ),
            (json!({"key": "pool", "operator": "Exists"}), true),
            (json!({"operator": "Exists"}), true),
            (json!({"key": "", "operator": "Exists"}), true),
            (json!({"key": "other", "operator": "Exists"}), false),
            (
                json!({"key": "pool", "operator": "Lt", "value": "acme"}),
                false,
            ),
            (json!({"key": "pool"}), false),
            (json!({"key": 5, "operator": "Exists"}), true),
        ] {
            assert_eq!(toleration_matches(&t, "pool", "acme"), want, "{t}");
        }
    }

    #[test]
    fn pod_kinds_are_exactly_the_kinds_with_a_pod() {
        for gk in POD_KINDS {
            assert!(locate(gk.group, gk.kind).is_some(), "{gk:?}");
        }
        // Same names in other groups, and look-alikes, have no pod.
        for (g, k) in [
            ("apps", "Pod"),
            ("", "Deployment"),
            ("batch", "Pod"),
            ("", "pod"),
            ("extensions", "ReplicaSet"),
            ("", "Service"),
        ] {
            assert!(locate(g, k).is_none(), "{g}/{k}");
            assert!(!POD_KINDS.iter().any(|gk| gk.is(g, k)), "{g}/{k}");
        }
    }

    #[test]
    fn locations_by_kind() {
        let cases = [
            ("", "Pod", Some("spec")),
            ("apps", "Deployment", Some("spec.template.spec")),
            ("apps", "StatefulSet", Some("spec.template.spec")),
            ("apps", "DaemonSet", Some("spec.template.spec")),
            ("apps", "ReplicaSet", Some("spec.template.spec")),
            ("", "ReplicationController", Some("spec.template.spec")),
            ("batch", "Job", Some("spec.template.spec")),
            (
                "batch",
                "CronJob",
                Some("spec.jobTemplate.spec.template.spec"),
            ),
            ("", "Service", None),
            ("evil.example", "Deployment", None),
        ];
        for (g, k, want) in cases {
            assert_eq!(locate(g, k).map(|l| l.spec_path), want, "{g}/{k}");
        }
    }

    #[test]
    fn containers_in_order_with_paths() {
        let d = json!({"spec": {"template": {"spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "a"}, {"name": "b"}]}}}});
        let p = pod("apps", "Deployment", &d).unwrap();
        let got: Vec<_> = p
            .containers(&ContainerList::ALL)
            .map(|c| c.label(p.at.spec_path))
            .collect();
        assert_eq!(
            got,
            [
                "spec.template.spec.containers[0] \"a\"",
                "spec.template.spec.containers[1] \"b\"",
                "spec.template.spec.initContainers[0] \"init\""
            ]
        );
    }

    #[test]
    fn object_at_creates_path_but_not_through_scalars() {
        let mut v = json!({"spec": {"template": null}});
        object_at(&mut v, "/spec/template/metadata").unwrap();
        assert_eq!(v, json!({"spec": {"template": {"metadata": {}}}}));
        let mut bad = json!({"spec": 5});
        assert!(object_at(&mut bad, "/spec/template").is_none());
    }
}
