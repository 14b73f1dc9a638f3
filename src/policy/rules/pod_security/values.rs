//! The allowed values of the Pod Security Standards (`latest`), and the
//! small readers `pod-security` judges JSON with.

use serde_json::Value;

/// Capabilities `baseline` lets a container add (the container runtimes'
/// default set).
pub const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The one capability `restricted` lets a container add.
pub const RESTRICTED_CAPABILITY: &str = "NET_BIND_SERVICE";

/// Sysctls namespaced to the pod and safe to set (`baseline`): upstream's
/// list at `latest`, the 1.27, 1.29, 1.32 and 1.37 additions included.
pub const SAFE_SYSCTLS: [&str; 14] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

/// SELinux types a pod may run as (`""` is unset).
pub const SELINUX_TYPES: [&str; 5] = [
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Volume sources `restricted` allows.
pub const RESTRICTED_VOLUMES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
    "image",
];

/// The beta AppArmor annotation of a container, `<prefix><container name>`.
pub const APPARMOR_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// The fields of a container that hold a probe or a lifecycle hook handler.
pub(super) const HANDLERS: [(&str, Option<&str>); 5] = [
    ("livenessProbe", None),
    ("readinessProbe", None),
    ("startupProbe", None),
    ("lifecycle", Some("postStart")),
    ("lifecycle", Some("preStop")),
];

/// The value at `v`, unless absent or null.
pub(super) fn set(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// A flag that must be false: anything but unset or `false` is refused.
pub(super) fn raised(v: Option<&Value>) -> bool {
    !matches!(set(v), None | Some(Value::Bool(false)))
}

/// `"x"` for strings, the JSON text otherwise: values are echoed in messages.
pub(super) fn show(v: &Value) -> String {
    const MAX: usize = 60;
    let s = match v.as_str() {
        Some(s) => format!("{s:?}"),
        None => v.to_string(),
    };
    if s.chars().count() <= MAX {
        return s;
    }
    let mut short: String = s.chars().take(MAX).collect();
    short.push('…');
    short
}
