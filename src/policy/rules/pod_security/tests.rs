//! pod-security: a pass and a fail case for every check of the Pod Security
//! Standards at both levels, the captured requests, and the UPDATE rules.
use super::*;
use crate::policy::rules::testing::World;
use serde_json::json;

/// acme is `baseline` (the default), globex `restricted`, initech `privileged`.
fn world() -> World {
    let mut w = World::new()
        .with_tenant("acme", "{}")
        .with_tenant("globex", "podSecurity: restricted")
        .with_tenant("initech", "podSecurity: privileged");
    w.inventory.add_namespace("initech-prod", Some("initech"));
    w
}

const B: &str = "acme-prod";
const R: &str = "globex-prod";

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn paths(ns: &str, obj: &Value) -> Vec<String> {
    let w = world();
    validate(&w.ctx(ns, obj), &Params::default())
        .into_iter()
        .map(|v| v.path)
        .collect()
}

/// A container that passes `restricted`, with `extra` merged into it.
fn rc(extra: Value) -> Value {
    let mut c = json!({"name": "app", "image": "app", "securityContext": {
        "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}});
    json_patch::merge(&mut c, &extra);
    c
}

/// A pod that passes `restricted`, with `extra` merged into its spec.
fn rpod(extra: Value) -> Value {
    let mut spec = json!({
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [rc(json!({}))]});
    json_patch::merge(&mut spec, &extra);
    pod(spec)
}

/// A container with `sc` as its securityContext, in a plain pod.
fn sc(sc: Value) -> Value {
    pod(json!({"containers": [{"name": "app", "securityContext": sc}]}))
}

type Case = (&'static str, &'static str, Value, Vec<&'static str>);

const C0: &str = "spec.containers[0].securityContext";

#[test]
#[rustfmt::skip]
fn baseline_cases() {
    let cases: Vec<Case> = vec![
        ("minimal pod", B, pod(json!({"containers": [{"name": "app", "image": "nginx"}]})), vec![]),
        ("restricted pod passes baseline", B, rpod(json!({})), vec![]),
        // host namespaces
        ("hostNetwork false", B, pod(json!({"hostNetwork": false, "hostPID": false, "hostIPC": false})), vec![]),
        ("hostNetwork", B, pod(json!({"hostNetwork": true})), vec!["spec.hostNetwork"]),
        ("hostPID", B, pod(json!({"hostPID": true})), vec!["spec.hostPID"]),
        ("hostIPC", B, pod(json!({"hostIPC": true})), vec!["spec.hostIPC"]),
        ("hostPID as a string", B, pod(json!({"hostPID": "true"})), vec!["spec.hostPID"]),
        // privileged
        ("privileged false", B, sc(json!({"privileged": false})), vec![]),
        ("privileged", B, sc(json!({"privileged": true})), vec!["spec.containers[0].securityContext.privileged"]),
        ("privileged init container", B, pod(json!({"containers": [{"name": "a"}], "initContainers": [{"name": "i", "securityContext": {"privileged": true}}]})),
            vec!["spec.initContainers[0].securityContext.privileged"]),
        ("privileged restartable sidecar", B, pod(json!({"containers": [{"name": "a"}], "initContainers": [{"name": "s", "restartPolicy": "Always", "securityContext": {"privileged": true}}]})),
            vec!["spec.initContainers[0].securityContext.privileged"]),
        ("privileged ephemeral container", B, pod(json!({"containers": [{"name": "a"}], "ephemeralContainers": [{"name": "d", "securityContext": {"privileged": true}}]})),
            vec!["spec.ephemeralContainers[0].securityContext.privileged"]),
        ("containers not a list", B, pod(json!({"containers": {"name": "a", "securityContext": {"privileged": true}}})), vec!["spec.containers"]),
        ("ephemeralContainers not a list", B, pod(json!({"containers": [], "ephemeralContainers": "dbg"})), vec!["spec.ephemeralContainers"]),
        ("null container lists", B, pod(json!({"containers": null, "initContainers": null})), vec![]),
        ("one bad container among good ones", B, pod(json!({"containers": [{"name": "a"}, {"name": "b", "securityContext": {"privileged": true}}, {"name": "c"}]})),
            vec!["spec.containers[1].securityContext.privileged"]),
        // capabilities
        ("baseline capabilities added", B, sc(json!({"capabilities": {"add": ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]}})), vec![]),
        ("dropping anything", B, sc(json!({"capabilities": {"drop": ["ALL", "NET_RAW"]}})), vec![]),
        ("SYS_ADMIN added", B, sc(json!({"capabilities": {"add": ["CHOWN", "SYS_ADMIN"]}})), vec!["spec.containers[0].securityContext.capabilities.add[1]"]),
        ("NET_RAW added", B, sc(json!({"capabilities": {"add": ["NET_RAW"]}})), vec!["spec.containers[0].securityContext.capabilities.add[0]"]),
        ("ALL added", B, sc(json!({"capabilities": {"add": ["ALL"]}})), vec!["spec.containers[0].securityContext.capabilities.add[0]"]),
        ("lower-case name is not the baseline one", B, sc(json!({"capabilities": {"add": ["chown"]}})), vec!["spec.containers[0].securityContext.capabilities.add[0]"]),
        ("CAP_ prefix is not the baseline one", B, sc(json!({"capabilities": {"add": ["CAP_SYS_ADMIN"]}})), vec!["spec.containers[0].securityContext.capabilities.add[0]"]),
        ("add not a list", B, sc(json!({"capabilities": {"add": "SYS_ADMIN"}})), vec!["spec.containers[0].securityContext.capabilities.add"]),
        // hostPath
        ("emptyDir and secret volumes", B, pod(json!({"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "secret": {"secretName": "s"}}]})), vec![]),
        ("nfs is fine at baseline", B, pod(json!({"volumes": [{"name": "a", "nfs": {"server": "x", "path": "/"}}]})), vec![]),
        ("hostPath", B, pod(json!({"volumes": [{"name": "a", "emptyDir": {}}, {"name": "root", "hostPath": {"path": "/"}}]})), vec!["spec.volumes[1].hostPath"]),
        // hostPort
        ("container port without hostPort", B, pod(json!({"containers": [{"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 0}]}]})), vec![]),
        ("hostPort", B, pod(json!({"containers": [{"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 443, "hostPort": 443}]}]})),
            vec!["spec.containers[0].ports[1].hostPort"]),
        ("hostPort in an init container", B, pod(json!({"containers": [{"name": "a"}], "initContainers": [{"name": "i", "ports": [{"containerPort": 1, "hostPort": 1}]}]})),
            vec!["spec.initContainers[0].ports[0].hostPort"]),
        // AppArmor
        ("AppArmor annotation runtime/default and localhost", B, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": "runtime/default", "container.apparmor.security.beta.kubernetes.io/b": "localhost/prof"}}, "spec": {}}), vec![]),
        ("AppArmor annotation empty (upstream allows it)", B, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": ""}}, "spec": {}}), vec![]),
        ("AppArmor annotation in capitals", B, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": "Runtime/Default"}}, "spec": {}}), vec!["metadata.annotations.container.apparmor.security.beta.kubernetes.io/a"]),
        ("AppArmor annotation unconfined", B, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": "unconfined"}}, "spec": {}}), vec!["metadata.annotations.container.apparmor.security.beta.kubernetes.io/a"]),
        ("AppArmor annotation in a template", B, json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"metadata": {"annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": "unconfined"}}, "spec": {}}}}), vec!["spec.template.metadata.annotations.container.apparmor.security.beta.kubernetes.io/a"]),
        ("appArmorProfile RuntimeDefault and Localhost", B, pod(json!({"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "a", "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}}]})), vec![]),
        ("pod appArmorProfile Unconfined", B, pod(json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}})), vec!["spec.securityContext.appArmorProfile.type"]),
        ("container appArmorProfile Unconfined", B, sc(json!({"appArmorProfile": {"type": "Unconfined"}})), vec!["spec.containers[0].securityContext.appArmorProfile.type"]),
        // SELinux
        ("SELinux allowed types and a level", B, pod(json!({"securityContext": {"seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"}},
            "containers": [{"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_init_t"}}}, {"name": "b", "securityContext": {"seLinuxOptions": {"type": "container_kvm_t"}}},
            {"name": "c", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}, {"name": "d", "securityContext": {"seLinuxOptions": {"type": ""}}}]})), vec![]),
        ("SELinux spc_t", B, pod(json!({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}})), vec!["spec.securityContext.seLinuxOptions.type"]),
        ("SELinux container type unconfined_t", B, sc(json!({"seLinuxOptions": {"type": "unconfined_t"}})), vec!["spec.containers[0].securityContext.seLinuxOptions.type"]),
        ("SELinux user and role", B, sc(json!({"seLinuxOptions": {"user": "system_u", "role": "system_r"}})),
            vec!["spec.containers[0].securityContext.seLinuxOptions.user", "spec.containers[0].securityContext.seLinuxOptions.role"]),
        ("SELinux empty user", B, pod(json!({"securityContext": {"seLinuxOptions": {"user": "", "role": ""}}})), vec![]),
        // procMount
        ("procMount Default", B, sc(json!({"procMount": "Default"})), vec![]),
        ("procMount Unmasked", B, sc(json!({"procMount": "Unmasked"})), vec!["spec.containers[0].securityContext.procMount"]),
        // A user namespace relaxes procMount at baseline (policy 1.35); hostUsers true or unset does not.
        ("procMount Unmasked in a user namespace", B, pod(json!({"hostUsers": false, "containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}]})), vec![]),
        ("procMount Unmasked with hostUsers true", B, pod(json!({"hostUsers": true, "containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}]})),
            vec!["spec.containers[0].securityContext.procMount"]),
        ("hostUsers \"false\" is not false", B, pod(json!({"hostUsers": "false", "containers": [{"name": "a", "securityContext": {"procMount": "Unmasked"}}]})),
            vec!["spec.containers[0].securityContext.procMount"]),
        // seccomp
        ("seccomp RuntimeDefault and Localhost", B, pod(json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}}]})), vec![]),
        ("pod seccomp Unconfined", B, pod(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})), vec!["spec.securityContext.seccompProfile.type"]),
        ("container seccomp Unconfined", B, sc(json!({"seccompProfile": {"type": "Unconfined"}})), vec!["spec.containers[0].securityContext.seccompProfile.type"]),
        // sysctls
        ("safe sysctls", B, pod(json!({"securityContext": {"sysctls": [
            {"name": "kernel.shm_rmid_forced", "value": "1"}, {"name": "net.ipv4.ip_local_port_range", "value": "1 2"},
            {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}, {"name": "net.ipv4.tcp_syncookies", "value": "1"},
            {"name": "net.ipv4.ping_group_range", "value": "0 1"}, {"name": "net.ipv4.ip_local_reserved_ports", "value": "1"},
            {"name": "net.ipv4.tcp_keepalive_time", "value": "1"}, {"name": "net.ipv4.tcp_fin_timeout", "value": "1"},
            {"name": "net.ipv4.tcp_keepalive_intvl", "value": "1"}, {"name": "net.ipv4.tcp_keepalive_probes", "value": "1"},
            {"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"}, {"name": "net.ipv4.tcp_wmem", "value": "4096 16384 4194304"},
            {"name": "net.ipv4.tcp_slow_start_after_idle", "value": "0"}, {"name": "net.ipv4.tcp_notsent_lowat", "value": "16384"}]}})), vec![]),
        ("a near miss of a safe sysctl", B, pod(json!({"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_mem", "value": "1 2 3"}]}})),
            vec!["spec.securityContext.sysctls[0].name"]),
        ("unsafe sysctl among safe ones", B, pod(json!({"securityContext": {"sysctls": [
            {"name": "kernel.shm_rmid_forced", "value": "1"}, {"name": "kernel.msgmax", "value": "1"}]}})), vec!["spec.securityContext.sysctls[1].name"]),
        ("sysctl with slashes", B, pod(json!({"securityContext": {"sysctls": [{"name": "net/ipv4/ip_forward", "value": "1"}]}})), vec!["spec.securityContext.sysctls[0].name"]),
        // Windows hostProcess
        ("hostProcess false", B, pod(json!({"securityContext": {"windowsOptions": {"hostProcess": false}}})), vec![]),
        ("pod hostProcess", B, pod(json!({"securityContext": {"windowsOptions": {"hostProcess": true}}})), vec!["spec.securityContext.windowsOptions.hostProcess"]),
        ("container hostProcess", B, sc(json!({"windowsOptions": {"hostProcess": true}})), vec!["spec.containers[0].securityContext.windowsOptions.hostProcess"]),
        // probe and lifecycle hosts
        ("probes without host", B, pod(json!({"containers": [{"name": "a", "livenessProbe": {"httpGet": {"port": 80, "host": ""}},
            "readinessProbe": {"tcpSocket": {"port": 80}}, "lifecycle": {"preStop": {"exec": {"command": ["x"]}}}}]})), vec![]),
        ("probe host", B, pod(json!({"containers": [{"name": "a", "livenessProbe": {"httpGet": {"port": 80, "host": "169.254.169.254"}},
            "startupProbe": {"tcpSocket": {"port": 22, "host": "10.0.0.1"}}}]})),
            vec!["spec.containers[0].livenessProbe.httpGet.host", "spec.containers[0].startupProbe.tcpSocket.host"]),
        ("lifecycle host", B, pod(json!({"containers": [{"name": "a", "lifecycle": {"postStart": {"httpGet": {"port": 80, "host": "kubernetes.default"}}}}]})),
            vec!["spec.containers[0].lifecycle.postStart.httpGet.host"]),
        // restricted-only checks are not baseline's
        ("baseline does not require restricted fields", B, pod(json!({"securityContext": {"runAsUser": 0},
            "volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}], "containers": [{"name": "a", "securityContext": {"runAsNonRoot": false, "allowPrivilegeEscalation": true}}]})), vec![]),
        // several at once, all reported
        ("everything at once", B, pod(json!({"hostNetwork": true, "volumes": [{"name": "r", "hostPath": {"path": "/"}}],
            "containers": [{"name": "a", "securityContext": {"privileged": true, "capabilities": {"add": ["SYS_ADMIN"]}}}]})),
            vec!["spec.hostNetwork", "spec.volumes[0].hostPath", "spec.containers[0].securityContext.privileged", "spec.containers[0].securityContext.capabilities.add[0]"]),
        // malformed structure is refused, not skipped
        ("securityContext not an object", B, sc(json!("privileged")), vec!["spec.containers[0].securityContext"]),
        ("volumes not a list", B, pod(json!({"volumes": {"hostPath": {"path": "/"}}})), vec!["spec.volumes"]),
    ];
    for (name, ns, obj, want) in cases {
        assert_eq!(paths(ns, &obj), want, "{name}");
    }
}

#[test]
#[rustfmt::skip]
fn restricted_cases() {
    let cases: Vec<Case> = vec![
        ("restricted pod", R, rpod(json!({})), vec![]),
        // baseline still applies
        ("privileged", R, rpod(json!({"containers": [rc(json!({"securityContext": {"privileged": true}}))]})), vec!["spec.containers[0].securityContext.privileged"]),
        ("hostPID", R, rpod(json!({"hostPID": true})), vec!["spec.hostPID"]),
        // volume types (replaces the hostPath check)
        ("allowed volume types", R, rpod(json!({"volumes": [{"name": "a", "configMap": {"name": "c"}}, {"name": "b", "csi": {"driver": "d"}},
            {"name": "c", "downwardAPI": {}}, {"name": "d", "emptyDir": {}}, {"name": "e", "ephemeral": {}}, {"name": "f", "persistentVolumeClaim": {"claimName": "x"}},
            {"name": "g", "projected": {"sources": []}}, {"name": "h", "secret": {"secretName": "s"}}, {"name": "i", "image": {"reference": "r"}}]})), vec![]),
        ("hostPath reported once", R, rpod(json!({"volumes": [{"name": "r", "hostPath": {"path": "/"}}]})), vec!["spec.volumes[0].hostPath"]),
        ("nfs", R, rpod(json!({"volumes": [{"name": "a", "emptyDir": {}}, {"name": "n", "nfs": {"server": "s", "path": "/"}}]})), vec!["spec.volumes[1].nfs"]),
        ("gitRepo", R, rpod(json!({"volumes": [{"name": "g", "gitRepo": {"repository": "r"}}]})), vec!["spec.volumes[0].gitRepo"]),
        ("an unknown volume type", R, rpod(json!({"volumes": [{"name": "g", "madeUp": {}}]})), vec!["spec.volumes[0].madeUp"]),
        // allowPrivilegeEscalation
        ("allowPrivilegeEscalation unset", R, rpod(json!({"containers": [rc(json!({"securityContext": {"allowPrivilegeEscalation": null}}))]})),
            vec!["spec.containers[0].securityContext.allowPrivilegeEscalation"]),
        ("allowPrivilegeEscalation true", R, rpod(json!({"containers": [rc(json!({"securityContext": {"allowPrivilegeEscalation": true}}))]})),
            vec!["spec.containers[0].securityContext.allowPrivilegeEscalation"]),
        ("no securityContext at all", R, rpod(json!({"containers": [{"name": "a"}]})),
            vec!["spec.containers[0].securityContext.capabilities.drop", "spec.containers[0].securityContext.allowPrivilegeEscalation"]),
        // runAsNonRoot
        ("runAsNonRoot in every container", R, rpod(json!({"securityContext": {"runAsNonRoot": null},
            "containers": [rc(json!({"securityContext": {"runAsNonRoot": true}}))], "initContainers": [rc(json!({"name": "i", "securityContext": {"runAsNonRoot": true}}))]})), vec![]),
        ("runAsNonRoot unset", R, rpod(json!({"securityContext": {"runAsNonRoot": null}})), vec!["spec.securityContext.runAsNonRoot"]),
        ("runAsNonRoot missing in one container", R, rpod(json!({"securityContext": {"runAsNonRoot": null},
            "containers": [rc(json!({"securityContext": {"runAsNonRoot": true}})), rc(json!({"name": "b"}))]})), vec!["spec.securityContext.runAsNonRoot"]),
        ("runAsNonRoot false at pod level", R, rpod(json!({"securityContext": {"runAsNonRoot": false},
            "containers": [rc(json!({"securityContext": {"runAsNonRoot": true}}))]})), vec!["spec.securityContext.runAsNonRoot"]),
        ("runAsNonRoot false in a container", R, rpod(json!({"containers": [rc(json!({"securityContext": {"runAsNonRoot": false}}))]})),
            vec!["spec.containers[0].securityContext.runAsNonRoot"]),
        // runAsUser
        // A user namespace (policy 1.35): runAsNonRoot and runAsUser are not judged; procMount still is.
        ("user namespace: root allowed", R, rpod(json!({"hostUsers": false, "securityContext": {"runAsNonRoot": false, "runAsUser": 0},
            "containers": [rc(json!({"securityContext": {"runAsUser": 0, "runAsNonRoot": false}}))]})), vec![]),
        ("user namespace: runAsNonRoot unset", R, rpod(json!({"hostUsers": false, "securityContext": {"runAsNonRoot": null}})), vec![]),
        ("user namespace: procMount Unmasked at restricted", R, rpod(json!({"hostUsers": false, "containers": [rc(json!({"securityContext": {"procMount": "Unmasked"}}))]})),
            vec!["spec.containers[0].securityContext.procMount"]),
        ("user namespace: the other restricted checks stay", R, pod(json!({"hostUsers": false, "containers": [{"name": "a"}]})),
            vec!["spec.containers[0].securityContext.capabilities.drop", "spec.containers[0].securityContext.allowPrivilegeEscalation", "spec.securityContext.seccompProfile.type"]),
        ("hostUsers true: root refused", R, rpod(json!({"hostUsers": true, "securityContext": {"runAsUser": 0}})), vec!["spec.securityContext.runAsUser"]),
        ("runAsUser 1000", R, rpod(json!({"securityContext": {"runAsUser": 1000}, "containers": [rc(json!({"securityContext": {"runAsUser": 1001}}))]})), vec![]),
        ("pod runAsUser 0", R, rpod(json!({"securityContext": {"runAsUser": 0}})), vec!["spec.securityContext.runAsUser"]),
        ("container runAsUser 0", R, rpod(json!({"containers": [rc(json!({"securityContext": {"runAsUser": 0}}))]})), vec!["spec.containers[0].securityContext.runAsUser"]),
        // seccomp (replaces the baseline seccomp check)
        ("seccomp in every container", R, rpod(json!({"securityContext": {"seccompProfile": null},
            "containers": [rc(json!({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}}))]})), vec![]),
        ("seccomp unset", R, rpod(json!({"securityContext": {"seccompProfile": null}})), vec!["spec.securityContext.seccompProfile.type"]),
        ("pod seccomp Unconfined reported once", R, rpod(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})), vec!["spec.securityContext.seccompProfile.type"]),
        ("container seccomp Unconfined", R, rpod(json!({"containers": [rc(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}))]})),
            vec!["spec.containers[0].securityContext.seccompProfile.type"]),
        // capabilities (replaces the baseline capability check)
        ("NET_BIND_SERVICE added", R, rpod(json!({"containers": [rc(json!({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}}))]})), vec![]),
        ("CHOWN added (baseline only)", R, rpod(json!({"containers": [rc(json!({"securityContext": {"capabilities": {"add": ["CHOWN"]}}}))]})),
            vec!["spec.containers[0].securityContext.capabilities.add[0]"]),
        ("SYS_ADMIN reported once", R, rpod(json!({"containers": [rc(json!({"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}))]})),
            vec!["spec.containers[0].securityContext.capabilities.add[0]"]),
        ("drop without ALL", R, rpod(json!({"containers": [rc(json!({"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}))]})),
            vec!["spec.containers[0].securityContext.capabilities.drop"]),
        ("drop all in lower case", R, rpod(json!({"containers": [rc(json!({"securityContext": {"capabilities": {"drop": ["all"]}}}))]})),
            vec!["spec.containers[0].securityContext.capabilities.drop"]),
        ("ephemeral container must comply too", R, rpod(json!({"ephemeralContainers": [{"name": "debug"}]})),
            vec!["spec.ephemeralContainers[0].securityContext.capabilities.drop", "spec.ephemeralContainers[0].securityContext.allowPrivilegeEscalation"]),
        ("init container must comply too", R, rpod(json!({"initContainers": [rc(json!({"name": "i", "securityContext": {"capabilities": {"drop": []}}}))]})),
            vec!["spec.initContainers[0].securityContext.capabilities.drop"]),
        // Windows pods: no Linux-only checks
        ("windows pod", R, pod(json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true}, "containers": [{"name": "a"}]})), vec![]),
        ("windows pod still needs runAsNonRoot", R, pod(json!({"os": {"name": "windows"}, "containers": [{"name": "a"}]})), vec!["spec.securityContext.runAsNonRoot"]),
        // templates
        ("deployment template", R, json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}),
            vec!["spec.template.spec.containers[0].securityContext.capabilities.drop", "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
                 "spec.template.spec.securityContext.runAsNonRoot", "spec.template.spec.securityContext.seccompProfile.type"]),
    ];
    for (name, ns, obj, want) in cases {
        assert_eq!(paths(ns, &obj), want, "{name}");
    }
}

#[test]
fn scope() {
    let bad = pod(
        json!({"hostPID": true, "containers": [{"name": "a", "securityContext": {"privileged": true}}]}),
    );
    assert!(
        paths("initech-prod", &bad).is_empty(),
        "privileged level checks nothing"
    );
    assert!(paths("monitoring", &bad).is_empty(), "platform namespace");
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"hostPID": true}});
    assert!(paths(B, &svc).is_empty(), "a Service is no pod");
    for (kind, api, spec_path) in [
        ("CronJob", "batch/v1", "spec.jobTemplate.spec.template.spec"),
        ("Job", "batch/v1", "spec.template.spec"),
        ("StatefulSet", "apps/v1", "spec.template.spec"),
        ("DaemonSet", "apps/v1", "spec.template.spec"),
        ("ReplicaSet", "apps/v1", "spec.template.spec"),
        ("ReplicationController", "v1", "spec.template.spec"),
    ] {
        let mut obj = json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}});
        let spec = json!({"hostIPC": true});
        let ptr: Vec<&str> = spec_path.split('.').collect();
        let mut cur = &mut obj;
        for seg in &ptr {
            cur = &mut cur[*seg];
        }
        *cur = spec;
        assert_eq!(paths(B, &obj), [format!("{spec_path}.hostIPC")], "{kind}");
    }
    // The Settings' level is the default for tenants that declare none.
    let mut w = world();
    w.settings.pod_security = PodSecurityLevel::Restricted;
    let plain = pod(json!({"containers": [{"name": "a"}]}));
    assert_eq!(validate(&w.ctx(B, &plain), &Params::default()).len(), 4);
    w.settings.pod_security = PodSecurityLevel::Privileged;
    assert!(validate(&w.ctx(B, &bad), &Params::default()).is_empty());
    // ... but a Tenant's own level wins.
    assert!(!validate(&w.ctx(R, &plain), &Params::default()).is_empty());
}

#[test]
fn messages() {
    let w = world();
    let obj = pod(
        json!({"containers": [{"name": "a"}, {"name": "nginx", "securityContext": {"privileged": true}}]}),
    );
    let v = validate(&w.ctx(B, &obj), &Params::default());
    assert_eq!(
        v[0].message,
        "spec.containers[1].securityContext.privileged: must be false or unset for the baseline level (container \"nginx\")"
    );
    let obj = sc(json!({"capabilities": {"add": ["SYS_ADMIN"]}}));
    let m = &validate(&w.ctx(B, &obj), &Params::default())[0].message;
    assert!(
        m.starts_with(&format!(
            "{C0}.capabilities.add[0]: \"SYS_ADMIN\" may not be added; only AUDIT_WRITE, CHOWN"
        )),
        "{m}"
    );
    let obj = pod(
        json!({"securityContext": {"runAsNonRoot": null}, "containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}),
    );
    let v = validate(&w.ctx(R, &obj), &Params::default());
    let m = &v[0].message;
    assert_eq!(
        m,
        "spec.securityContext.runAsNonRoot: is unset; it must be true here or in every container (spec.containers[0] \"a\" does not set it) for the restricted level"
    );
}

/// The captured requests of tests/fixtures/real, moved into tenant namespaces.
#[test]
fn captured_requests() {
    let w = world();
    let load = |f: &str| -> Value {
        let path = format!("{}/tests/fixtures/real/pod/{f}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let req: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        req["object"].clone()
    };
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "create-privileged-init-container.json",
            B,
            vec!["spec.initContainers[0].securityContext.privileged"],
        ),
        (
            "create-hostpath-volumes-two-init.json",
            B,
            vec![
                "spec.volumes[0].hostPath",
                "spec.volumes[1].hostPath",
                "spec.volumes[2].hostPath",
            ],
        ),
        ("create-sysctls.json", B, vec![]),
        (
            "create-hostnetwork-hostpid.json",
            B,
            vec![
                "spec.hostNetwork",
                "spec.hostPID",
                "spec.hostIPC",
                "spec.containers[0].ports[0].hostPort",
            ],
        ),
        (
            "create-ephemeral-container.json",
            B,
            vec!["spec.ephemeralContainers[0].securityContext.privileged"],
        ),
        ("create-two-containers-with-resources.json", B, vec![]),
        ("create-by-replicaset-controller.json", B, vec![]),
    ];
    for (file, ns, want) in cases {
        let obj = load(file);
        let got: Vec<String> = validate(&w.ctx(ns, &obj), &Params::default())
            .into_iter()
            .map(|v| v.path)
            .collect();
        assert_eq!(got, want, "{file}");
        assert!(
            validate(&w.ctx("initech-prod", &obj), &Params::default()).is_empty(),
            "{file} at privileged"
        );
    }
    // Safe sysctls pass baseline; an unsafe one among them does not.
    let mut obj = load("create-sysctls.json");
    obj["spec"]["securityContext"]["sysctls"][2]["name"] = json!("kernel.core_pattern");
    let got: Vec<String> = validate(&w.ctx(B, &obj), &Params::default())
        .into_iter()
        .map(|v| v.path)
        .collect();
    assert_eq!(got, ["spec.securityContext.sysctls[2].name"]);
}

#[test]
fn updates() {
    let w = world();
    let old = pod(json!({"hostPID": true, "containers": [{"name": "a"}]}));
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"] = json!({"x": "y"});
    let judge = |obj: &Value, old: &Value| {
        let mut ctx = w.ctx(B, obj);
        ctx.operation = Operation::Update;
        ctx.old_object = Some(old);
        validate(&ctx, &Params::default()).len()
    };
    assert_eq!(
        judge(&relabelled, &old),
        0,
        "a label change of an old pod is not judged"
    );
    let mut changed = old.clone();
    changed["spec"]["containers"][0]["image"] = json!("b");
    assert_eq!(judge(&changed, &old), 1, "a spec change is judged");
    // pods/ephemeralcontainers: the Pod sent carries the new debug container.
    let clean = pod(json!({"containers": [{"name": "a"}]}));
    let mut debug = clean.clone();
    debug["spec"]["ephemeralContainers"] =
        json!([{"name": "d", "securityContext": {"privileged": true}}]);
    assert_eq!(
        judge(&debug, &clean),
        1,
        "an added privileged ephemeral container"
    );
    let mut ok = clean.clone();
    ok["spec"]["ephemeralContainers"] = json!([{"name": "d", "image": "busybox"}]);
    assert_eq!(judge(&ok, &clean), 0);
    // pods/ephemeralcontainers is always judged, even when the Pod sent
    // equals the old one (the subresource exists only to add containers).
    let mut ctx = w.ctx(B, &old);
    ctx.operation = Operation::Update;
    ctx.old_object = Some(&old);
    ctx.subresource = "ephemeralcontainers";
    assert_eq!(
        validate(&ctx, &Params::default()).len(),
        1,
        "ephemeralcontainers"
    );
    // An AppArmor annotation added to an unchanged spec is judged.
    let mut aa = clean.clone();
    aa["metadata"]["annotations"] =
        json!({"container.apparmor.security.beta.kubernetes.io/a": "unconfined"});
    assert_eq!(judge(&aa, &clean), 1);
}

/// Whatever passes `restricted` passes `baseline`.
#[test]
fn restricted_implies_baseline() {
    let specs = [
        json!({}),
        json!({"hostNetwork": true}),
        json!({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}),
        json!({"containers": [rc(json!({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}}))]}),
        json!({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "x"}}}),
        json!({"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}}),
    ];
    for extra in specs {
        let obj = rpod(extra.clone());
        let view = crate::podspec::pod("", "Pod", &obj).expect("a pod");
        if judge(&view, PodSecurityLevel::Restricted).is_empty() {
            assert!(
                judge(&view, PodSecurityLevel::Baseline).is_empty(),
                "{extra}"
            );
        }
    }
}

/// `ContainerFields::of` matches the fields of `HANDLERS` by name; a
/// handler added there must be found there too.
#[test]
fn container_fields_find_every_handler() {
    let mut c = serde_json::Map::new();
    for (i, (field, _)) in HANDLERS.iter().enumerate() {
        c.insert(field.to_string(), json!(i));
    }
    let f = ContainerFields::of(&c);
    for (i, (field, _)) in HANDLERS.iter().enumerate() {
        assert_eq!(f.handlers[i], c.get(*field), "{field}");
    }
}
