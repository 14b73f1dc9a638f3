//! `pod-security` (validating): the Kubernetes Pod Security Standards, at the
//! tenant's `podSecurity` level (`TenantRef::pod_security`: the Tenant's,
//! else the Settings', `baseline` by default), for Pods and every pod
//! template. A privileged pod or a hostPath mount reaches the node, and from
//! the node every other tenant's Secrets, tokens and Vault Agent caches: no
//! other isolation tenantguard keeps survives that.
//!
//! The checks, field paths and allowed values are those of the upstream
//! `pod-security-admission` library at version `latest`:
//!
//! - `baseline`: host namespaces (`hostNetwork`, `hostPID`, `hostIPC`),
//!   `privileged`, `capabilities.add` outside the baseline list, `hostPath`
//!   volumes, non-zero `hostPort`s, AppArmor (the beta annotations and
//!   `appArmorProfile` at pod and container level: `Unconfined` refused,
//!   `RuntimeDefault`/`Localhost` and `runtime/default`/`localhost/*`/`""`
//!   allowed), SELinux (`type` only from the container types, `user` and
//!   `role` unset), `procMount` other than `Default` (unless the pod runs in
//!   a user namespace, `hostUsers: false`, since 1.35), seccomp `Unconfined`,
//!   sysctls outside the safe list, Windows `hostProcess`, and (since 1.34)
//!   a `host` in the `httpGet`/`tcpSocket` of probes and lifecycle hooks,
//!   which would make the kubelet call any address from the node.
//! - `restricted`: all of baseline, plus volume types (only `configMap`,
//!   `csi`, `downwardAPI`, `emptyDir`, `ephemeral`, `persistentVolumeClaim`,
//!   `projected`, `secret`, `image`), `allowPrivilegeEscalation: false`,
//!   `runAsNonRoot: true` (at pod level or in every container, never
//!   `false`) and no `runAsUser: 0` (both skipped, since 1.35, for a pod in a
//!   user namespace, `hostUsers: false`, where root is not the node's root),
//!   `procMount` `Default` or unset whatever `hostUsers` says, seccomp
//!   `RuntimeDefault` or `Localhost` (at
//!   pod level or in every container), and capabilities `drop: [ALL]` with
//!   nothing added but `NET_BIND_SERVICE`. As upstream, the restricted
//!   volume, seccomp and capability checks replace their baseline
//!   counterparts (one finding per field, not two), and Windows pods
//!   (`spec.os.name: windows`) are exempt from `allowPrivilegeEscalation`,
//!   seccomp and capabilities, which do not exist there.
//! - `privileged`: nothing is checked.
//!
//! Containers, initContainers (restartable sidecars included) and
//! ephemeralContainers alike. One violation per offending field, at its
//! dotted path, saying what value the level allows. A value of the wrong
//! type is never read as harmless: a flag that must be false is refused
//! unless it is `false` or unset.
//!
//! Operations: CREATE and UPDATE. As the other pod rules do
//! ([`Ctx::changed`]), an UPDATE that leaves the pod spec and its AppArmor
//! annotations as they were is not judged (a label or finalizer change must
//! not be blocked by a pod that predates the policy). A
//! `pods/ephemeralcontainers` UPDATE (the one subresource this rule sees)
//! carries the whole Pod with its new `spec.ephemeralContainers` and is
//! always judged, as the pod it makes.
//!
//! References:
//! <https://kubernetes.io/docs/concepts/security/pod-security-standards/>,
//! <https://kubernetes.io/docs/concepts/security/pod-security-admission/>.

use serde::Deserialize;
use serde_json::{Map, Value};

use std::fmt::Display;

use super::{Ctx, Effect, Kinds, Operation, Rule, Scope, Violation};
use crate::podspec::{self, ContainerList, ContainerView, Field, Item, PodView};
use crate::policy::PodSecurityLevel;

mod fields;
mod pod_level;
mod values;

use fields::ContainerFields;

use pod_level::{pod_level_restricted, Missing};

use values::{raised, set, show, HANDLERS};
pub use values::{
    APPARMOR_PREFIX, BASELINE_CAPABILITIES, RESTRICTED_CAPABILITY, RESTRICTED_VOLUMES,
    SAFE_SYSCTLS, SELINUX_TYPES,
};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

/// `pod-security`.
pub struct PodSecurity;

impl Rule for PodSecurity {
    const ID: &'static str = "pod-security";
    const SCOPE: Scope = Scope::TenantObjects;
    /// A pod's security fields are written on CREATE and changed by UPDATEs
    /// (a workload's template, a Pod's ephemeral containers); a DELETE
    /// carries no object.
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Update];
    /// Pods and every pod template.
    const KINDS: Kinds = Kinds::Only(podspec::POD_KINDS);
    /// `kubectl debug` adds ephemeral containers through this subresource,
    /// never through the Pod itself.
    const SUBRESOURCES: &'static [&'static str] = &["ephemeralcontainers"];
    type Params = Params;
    const EFFECT: Effect<Params> = Effect::Validate(validate);
}

/// Collects the findings of one pod at one level.
struct Judge<'a> {
    level: PodSecurityLevel,
    /// The pod's spec path, e.g. `spec.template.spec`.
    sp: &'a str,
    /// The pod runs in a user namespace (`hostUsers: false`): upstream
    /// relaxes `procMount` at baseline and `runAsNonRoot`/`runAsUser` at
    /// restricted for it (policy version 1.35).
    userns: bool,
    out: Vec<Violation>,
}

/// Paths are passed down as [`Field`]s and [`Item`]s and formatted only
/// into a violation: a pod that passes costs no string.
impl<'a> Judge<'a> {
    fn deny(&mut self, path: String, what: &str, who: Option<&ContainerView<'_>>) {
        let who = who.map_or_else(String::new, |c| format!(" (container {:?})", c.name()));
        let message = format!("{path}: {what} for the {} level{who}", self.level.as_str());
        self.out.push(Violation::new(path, message));
    }

    /// The object at `v` (a securityContext and the like): None when unset,
    /// and a violation when it is not an object.
    fn section<'v>(
        &mut self,
        v: Option<&'v Value>,
        path: &dyn Display,
    ) -> Option<&'v Map<String, Value>> {
        match set(v)? {
            Value::Object(m) => Some(m),
            other => {
                self.deny(
                    path.to_string(),
                    &format!(
                        "is {}, not an object, so it cannot be judged; fix its structure",
                        show(other)
                    ),
                    None,
                );
                None
            }
        }
    }

    /// The items of an optional list; a value that is not a list is
    /// reported (it cannot be judged) and yields nothing.
    fn list<'v>(&mut self, v: Option<&'v Value>, path: &dyn Display) -> &'v [Value] {
        match v {
            None | Some(Value::Null) => &[],
            Some(Value::Array(a)) => a,
            Some(_) => {
                self.out.push(Violation::new(
                    path.to_string(),
                    format!("{path}: is not a list, so it cannot be judged; fix its structure"),
                ));
                &[]
            }
        }
    }

    fn restricted(&self) -> bool {
        self.level == PodSecurityLevel::Restricted
    }

    fn must_be_false(
        &mut self,
        m: &Map<String, Value>,
        key: &str,
        at: &dyn Display,
        who: Option<&ContainerView<'_>>,
    ) {
        if raised(m.get(key)) {
            self.deny(format!("{at}.{key}"), "must be false or unset", who);
        }
    }

    fn host_namespaces(&mut self, spec: &Map<String, Value>) {
        for key in ["hostNetwork", "hostPID", "hostIPC"] {
            let sp = self.sp;
            self.must_be_false(spec, key, &sp, None);
        }
    }

    /// `windowsOptions.hostProcess`, `seLinuxOptions`, `appArmorProfile` and
    /// (at baseline) seccomp `Unconfined`: judged alike at pod and container level.
    fn common_context(
        &mut self,
        sc: &Map<String, Value>,
        at: &dyn Display,
        who: Option<&ContainerView<'_>>,
    ) {
        let wo_path = Field(at, "windowsOptions");
        if let Some(wo) = self.section(sc.get("windowsOptions"), &wo_path) {
            self.must_be_false(wo, "hostProcess", &wo_path, who);
        }
        let se_path = Field(at, "seLinuxOptions");
        if let Some(se) = self.section(sc.get("seLinuxOptions"), &se_path) {
            if let Some(t) = set(se.get("type")) {
                if !t.as_str().is_some_and(|t| SELINUX_TYPES.contains(&t)) {
                    self.deny(
                        format!("{se_path}.type"),
                        &format!(
                            "is {}; it must be unset or one of container_t, container_init_t, container_kvm_t, container_engine_t",
                            show(t)
                        ),
                        who,
                    );
                }
            }
            for key in ["user", "role"] {
                if let Some(v) = set(se.get(key)) {
                    if v.as_str() != Some("") {
                        self.deny(
                            format!("{se_path}.{key}"),
                            &format!("is {}; it must be unset", show(v)),
                            who,
                        );
                    }
                }
            }
        }
        let aa_path = Field(at, "appArmorProfile");
        if let Some(aa) = self.section(sc.get("appArmorProfile"), &aa_path) {
            let t = aa.get("type").unwrap_or(&Value::Null);
            if !matches!(t.as_str(), Some("RuntimeDefault" | "Localhost")) {
                self.deny(
                    format!("{aa_path}.type"),
                    &format!("is {}; it must be RuntimeDefault or Localhost (or leave appArmorProfile unset)", show(t)),
                    who,
                );
            }
        }
        if !self.restricted() {
            let sp_path = Field(at, "seccompProfile");
            if let Some(sp) = self.section(sc.get("seccompProfile"), &sp_path) {
                let t = sp.get("type").unwrap_or(&Value::Null);
                if !matches!(t.as_str(), Some(s) if s != "Unconfined") {
                    self.deny(
                        format!("{sp_path}.type"),
                        &format!("is {}; it must be RuntimeDefault or Localhost (or leave seccompProfile unset), never Unconfined", show(t)),
                        who,
                    );
                }
            }
        }
    }

    fn pod_context(&mut self, sc: &Map<String, Value>, at: &dyn Display) {
        self.common_context(sc, at, None);
        let sysctls_path = Field(at, "sysctls");
        for (i, s) in self
            .list(sc.get("sysctls"), &sysctls_path)
            .iter()
            .enumerate()
        {
            let name = s.get("name").unwrap_or(&Value::Null);
            if !name.as_str().is_some_and(|n| SAFE_SYSCTLS.contains(&n)) {
                self.deny(
                    format!("{sysctls_path}[{i}].name"),
                    &format!(
                        "{} is not a safe sysctl; only {} are allowed",
                        show(name),
                        SAFE_SYSCTLS.join(", ")
                    ),
                    None,
                );
            }
        }
        if self.restricted() && !self.userns {
            if let Some(u) = set(sc.get("runAsUser")) {
                if u.as_i64() == Some(0) || !u.is_number() {
                    self.deny(
                        format!("{at}.runAsUser"),
                        &format!("is {}; it must not be 0 (root)", show(u)),
                        None,
                    );
                }
            }
        }
    }

    fn volumes(&mut self, spec: &Map<String, Value>) {
        let sp = self.sp;
        let path = Field(&sp, "volumes");
        let list = self.list(spec.get("volumes"), &path);
        for (i, vol) in list.iter().enumerate() {
            let at = Item(&path, i);
            let Some(vol) = self.section(Some(vol), &at) else {
                continue;
            };
            for (key, v) in vol {
                if key == "name" || v.is_null() {
                    continue;
                }
                if self.restricted() {
                    if !RESTRICTED_VOLUMES.contains(&key.as_str()) {
                        self.deny(
                            format!("{at}.{key}"),
                            &format!(
                                "{key} volumes are not allowed; use one of {}",
                                RESTRICTED_VOLUMES.join(", ")
                            ),
                            None,
                        );
                    }
                } else if key == "hostPath" {
                    self.deny(
                        format!("{at}.hostPath"),
                        "hostPath volumes are not allowed (they mount the node's filesystem)",
                        None,
                    );
                }
            }
        }
    }

    fn apparmor_annotations(&mut self, pod: &PodView<'_>) {
        let Some(annotations) = pod.annotations() else {
            return;
        };
        for (key, v) in annotations {
            if !key.starts_with(APPARMOR_PREFIX) {
                continue;
            }
            // Upstream also admits an empty value (the runtime's default).
            let ok = v.as_str().is_some_and(|s| {
                s.is_empty() || s == "runtime/default" || s.starts_with("localhost/")
            });
            if !ok {
                self.deny(
                    format!("{}.annotations.{key}", pod.at.meta_path),
                    &format!(
                        "is {}; it must be runtime/default, localhost/<profile> or empty",
                        show(v)
                    ),
                    None,
                );
            }
        }
    }

    fn container<'c>(&mut self, c: &ContainerView<'c>, windows: bool, missing: &mut Missing<'c>) {
        let at = c.at(self.sp);
        let Some(cm) = self.section(Some(c.value), &at) else {
            return;
        };
        let fields = ContainerFields::of(cm);
        self.host_ports(fields.ports, &at, c);
        self.handler_hosts(&fields, &at, c);
        let sc_path = Field(&at, "securityContext");
        let sc = self.section(fields.security_context, &sc_path);
        let empty = Map::new();
        let sc = sc.unwrap_or(&empty);
        self.must_be_false(sc, "privileged", &sc_path, Some(c));
        let proc_mount = set(sc.get("procMount")).filter(|_| self.restricted() || !self.userns);
        if let Some(pm) = proc_mount {
            if pm.as_str() != Some("Default") {
                self.deny(
                    format!("{sc_path}.procMount"),
                    &format!("is {}; it must be Default or unset", show(pm)),
                    Some(c),
                );
            }
        }
        self.common_context(sc, &sc_path, Some(c));
        self.capabilities(sc, &sc_path, c, windows);
        if !self.restricted() {
            return;
        }
        if !windows && sc.get("allowPrivilegeEscalation") != Some(&Value::Bool(false)) {
            self.deny(
                format!("{sc_path}.allowPrivilegeEscalation"),
                "must be false",
                Some(c),
            );
        }
        if !self.userns {
            self.run_as_non_root(sc, &sc_path, c, missing);
        }
        if !windows {
            let sp_path = Field(&sc_path, "seccompProfile");
            match self.section(sc.get("seccompProfile"), &sp_path) {
                None if set(sc.get("seccompProfile")).is_none() => missing.seccomp.push(*c),
                None => {}
                Some(sp) => {
                    let t = sp.get("type").unwrap_or(&Value::Null);
                    if !matches!(t.as_str(), Some("RuntimeDefault" | "Localhost")) {
                        self.deny(
                            format!("{sp_path}.type"),
                            &format!("is {}; it must be RuntimeDefault or Localhost", show(t)),
                            Some(c),
                        );
                    }
                }
            }
        }
    }

    /// `restricted`'s `runAsNonRoot` and `runAsUser` of a container (a
    /// container leaving `runAsNonRoot` to the pod goes to `missing`).
    fn run_as_non_root<'c>(
        &mut self,
        sc: &Map<String, Value>,
        sc_path: &dyn Display,
        c: &ContainerView<'c>,
        missing: &mut Missing<'c>,
    ) {
        match set(sc.get("runAsNonRoot")) {
            None => missing.run_as_non_root.push(*c),
            Some(Value::Bool(true)) => {}
            Some(v) => self.deny(
                format!("{sc_path}.runAsNonRoot"),
                &format!("is {}; it must be true or unset", show(v)),
                Some(c),
            ),
        }
        if let Some(u) = set(sc.get("runAsUser")) {
            if u.as_i64() == Some(0) || !u.is_number() {
                self.deny(
                    format!("{sc_path}.runAsUser"),
                    &format!("is {}; it must not be 0 (root)", show(u)),
                    Some(c),
                );
            }
        }
    }

    fn host_ports(&mut self, ports: Option<&Value>, at: &dyn Display, c: &ContainerView<'_>) {
        let path = Field(at, "ports");
        let ports = self.list(ports, &path);
        for (i, p) in ports.iter().enumerate() {
            if let Some(hp) = set(p.get("hostPort")) {
                if hp.as_i64() != Some(0) {
                    self.deny(
                        format!("{path}[{i}].hostPort"),
                        &format!("is {}; it must be 0 or unset", show(hp)),
                        Some(c),
                    );
                }
            }
        }
    }

    /// `host` in a probe's or lifecycle hook's `httpGet`/`tcpSocket`.
    fn handler_hosts(
        &mut self,
        fields: &ContainerFields<'_>,
        at: &dyn Display,
        c: &ContainerView<'_>,
    ) {
        for (i, (field, hook)) in HANDLERS.into_iter().enumerate() {
            let h = fields.handlers[i];
            let h = match hook {
                Some(hook) => h.and_then(|l| l.get(hook)),
                None => h,
            };
            let Some(h) = set(h) else {
                continue;
            };
            for action in ["httpGet", "tcpSocket"] {
                if let Some(host) = set(h.get(action).and_then(|a| a.get("host"))) {
                    if host.as_str() != Some("") {
                        let handler = hook
                            .map_or_else(|| field.to_string(), |hook| format!("{field}.{hook}"));
                        self.deny(
                            format!("{at}.{handler}.{action}.host"),
                            &format!("is {}; it must be unset (the kubelet would call that address from the node)", show(host)),
                            Some(c),
                        );
                    }
                }
            }
        }
    }

    fn capabilities(
        &mut self,
        sc: &Map<String, Value>,
        sc_path: &dyn Display,
        c: &ContainerView<'_>,
        windows: bool,
    ) {
        let path = Field(sc_path, "capabilities");
        let caps = self.section(sc.get("capabilities"), &path);
        if self.restricted() && windows {
            return;
        }
        let add = caps.map_or(&[][..], |m| self.list(m.get("add"), &Field(&path, "add")));
        let drop = caps.map_or(&[][..], |m| self.list(m.get("drop"), &Field(&path, "drop")));
        for (i, cap) in add.iter().enumerate() {
            let name = cap.as_str();
            let ok = if self.restricted() {
                name == Some(RESTRICTED_CAPABILITY)
            } else {
                name.is_some_and(|n| BASELINE_CAPABILITIES.contains(&n))
            };
            if !ok {
                let allowed = if self.restricted() {
                    RESTRICTED_CAPABILITY.to_string()
                } else {
                    BASELINE_CAPABILITIES.join(", ")
                };
                self.deny(
                    format!("{path}.add[{i}]"),
                    &format!("{} may not be added; only {allowed} may", show(cap)),
                    Some(c),
                );
            }
        }
        if self.restricted() && !drop.iter().any(|d| d.as_str() == Some("ALL")) {
            self.deny(format!("{path}.drop"), "must include ALL", Some(c));
        }
    }
}

/// Whether an UPDATE changes what this rule judges. A
/// `pods/ephemeralcontainers` request is always judged: it exists only to
/// add containers to a running pod.
fn judged(ctx: &Ctx<'_>, pod: &PodView<'_>) -> bool {
    if ctx.operation != Operation::Update
        || ctx.subresource == "ephemeralcontainers"
        || ctx.changed(&[pod.at.spec_ptr])
    {
        return true;
    }
    let apparmor = |o: Option<&Value>| -> Vec<(String, Value)> {
        o.and_then(|o| o.pointer(&format!("{}/annotations", pod.at.meta_ptr)))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with(APPARMOR_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    apparmor(ctx.object) != apparmor(ctx.old_object)
}

/// The findings for `pod` at `level` (none at `privileged`).
pub fn judge(pod: &PodView<'_>, level: PodSecurityLevel) -> Vec<Violation> {
    if level == PodSecurityLevel::Privileged {
        return Vec::new();
    }
    let mut j = Judge {
        level,
        sp: pod.at.spec_path,
        userns: false,
        out: Vec::new(),
    };
    let Some(spec) = j.section(Some(pod.spec), &pod.at.spec_path) else {
        return j.out;
    };
    j.userns = spec.get("hostUsers") == Some(&Value::Bool(false));
    let windows = spec
        .get("os")
        .and_then(|o| o.get("name"))
        .and_then(Value::as_str)
        == Some("windows");
    j.host_namespaces(spec);
    let sp = j.sp;
    let psc_path = Field(&sp, "securityContext");
    let psc = j.section(spec.get("securityContext"), &psc_path);
    let empty = Map::new();
    let psc = psc.unwrap_or(&empty);
    j.pod_context(psc, &psc_path);
    j.volumes(spec);
    j.apparmor_annotations(pod);
    // A container list of another shape hides its containers from every
    // check: say so rather than pass them.
    for list in ContainerList::ALL {
        j.list(spec.get(list.field()), &Field(&sp, list.field()));
    }
    let mut missing = Missing::default();
    for c in pod.containers(&ContainerList::ALL) {
        j.container(&c, windows, &mut missing);
    }
    if j.restricted() {
        pod_level_restricted(&mut j, psc, &psc_path, &missing, windows);
    }
    j.out
}

pub fn validate(ctx: &Ctx<'_>, _params: &Params) -> Vec<Violation> {
    let (Some(tenant), Some(pod)) = (ctx.tenant, ctx.pod()) else {
        return Vec::new();
    };
    let level = tenant.pod_security();
    if level == PodSecurityLevel::Privileged || !judged(ctx, &pod) {
        return Vec::new();
    }
    judge(&pod, level)
}

#[cfg(test)]
mod tests;
