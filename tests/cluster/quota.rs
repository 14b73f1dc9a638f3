//! `quota.scope: Tenant`: three namespaces of acme share one budget. The
//! stand-in apiserver runs no ResourceQuota controller, so the test plays
//! it ([`ApiServer::set_quota_used`]) and watches the onboarding controller
//! keep each namespace's `hard` at its own use plus what acme has left.

use serde_json::{json, Value};

use super::apiserver::ApiServer;
use super::{eventually, namespace, world, Replica};

const QUOTA: &str = "tenantguard-quota";
const NAMESPACES: [&str; 3] = ["acme-prod", "acme-dev", "acme-stage"];

fn acme(quota: Value) -> Value {
    json!({"apiVersion": "tenantguard.io/v1alpha1", "kind": "Tenant", "metadata": {"name": "acme"},
        "spec": {"owners": [{"kind": "Group", "name": "acme-admins"}], "quota": quota}})
}

fn hard_of(server: &ApiServer, ns: &str) -> Option<Value> {
    server
        .get("resourcequotas", ns, QUOTA)
        .map(|q| q["spec"]["hard"].clone())
}

/// Waits until every namespace's `hard` is the one expected.
async fn shares(server: &ApiServer, want: &[(&str, Value)]) {
    eventually(&format!("hard to become {want:?}"), || {
        want.iter()
            .all(|(ns, h)| hard_of(server, ns).as_ref() == Some(h))
            .then_some(())
    })
    .await;
}

/// A sample of the replica's metrics whose line names all of `labels`.
fn sample(replica: &Replica, name: &str, labels: &[&str]) -> Option<f64> {
    replica.metrics.render().lines().find_map(|l| {
        let (head, value) = l.rsplit_once(' ')?;
        (head.starts_with(&format!("{name}{{")) && labels.iter().all(|x| head.contains(x)))
            .then(|| value.parse().ok())
            .flatten()
    })
}

fn cpu_mem(cpu: &str, mem: &str) -> Value {
    json!({"requests.cpu": cpu, "requests.memory": mem})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_namespaces_share_one_budget() {
    let server = world();
    server.put(acme(
        json!({"scope": "Tenant", "hard": cpu_mem("4", "8Gi")}),
    ));
    server.put(namespace("acme-stage", Some("acme")));
    let replica = Replica::start(&server, "replica-a", true);

    // Nothing used: each may take the whole budget.
    let all = cpu_mem("4", "8Gi");
    shares(&server, &NAMESPACES.map(|n| (n, all.clone()))).await;

    // Usage in one lowers what the others may use.
    server.set_quota_used("acme-prod", QUOTA, cpu_mem("1500m", "3Gi"));
    shares(
        &server,
        &[
            ("acme-prod", cpu_mem("4", "8Gi")),
            ("acme-dev", cpu_mem("2500m", "5Gi")),
            ("acme-stage", cpu_mem("2500m", "5Gi")),
        ],
    )
    .await;
    server.set_quota_used("acme-dev", QUOTA, cpu_mem("500m", "1Gi"));
    shares(
        &server,
        &[
            ("acme-prod", cpu_mem("3500m", "7Gi")),
            ("acme-dev", cpu_mem("2500m", "5Gi")),
            ("acme-stage", cpu_mem("2", "4Gi")),
        ],
    )
    .await;

    // The Tenant's status and the metrics show the same tenant-wide figures.
    let status = eventually("acme's tenant-wide quota in its status", || {
        server
            .get("tenants", "", "acme")
            .map(|t| t["status"].clone())
            .filter(|s| s["quota"]["used"] == cpu_mem("2", "4Gi"))
    })
    .await;
    assert_eq!(status["quota"]["hard"], all, "{status}");
    assert_eq!(status["namespaceCount"], 3, "{status}");
    let tenant = "tenant=\"acme\"";
    let cpu = "resource=\"requests.cpu\"";
    let mem = "resource=\"requests.memory\"";
    eventually("the metrics", || {
        (sample(&replica, "tenantguard_tenant_quota_used", &[tenant, cpu]) == Some(2.0))
            .then_some(())
    })
    .await;
    assert_eq!(
        sample(&replica, "tenantguard_tenant_quota_hard", &[tenant, cpu]),
        Some(4.0)
    );
    assert_eq!(
        sample(&replica, "tenantguard_tenant_quota_hard", &[tenant, mem]),
        Some(8.0 * 1024.0 * 1024.0 * 1024.0)
    );
    assert_eq!(
        sample(&replica, "tenantguard_tenant_quota_used", &[tenant, mem]),
        Some(4.0 * 1024.0 * 1024.0 * 1024.0)
    );
    assert_eq!(
        sample(&replica, "tenantguard_tenant_namespaces", &[tenant]),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &replica,
            "tenantguard_tenant_namespaces",
            &["tenant=\"globex\""]
        ),
        Some(1.0)
    );

    // Deleting a namespace (and, as the namespace controller does, its
    // quota) returns its share to the others.
    server.delete("resourcequotas", "acme-prod", QUOTA);
    server.delete("namespaces", "", "acme-prod");
    shares(
        &server,
        &[
            ("acme-dev", cpu_mem("4", "8Gi")),
            ("acme-stage", cpu_mem("3500m", "7Gi")),
        ],
    )
    .await;
    eventually("two namespaces in the metrics", || {
        (sample(&replica, "tenantguard_tenant_namespaces", &[tenant]) == Some(2.0)).then_some(())
    })
    .await;

    // Changing the Tenant's hard re-applies.
    server.put(acme(
        json!({"scope": "Tenant", "hard": cpu_mem("6", "8Gi")}),
    ));
    shares(
        &server,
        &[
            ("acme-dev", cpu_mem("6", "8Gi")),
            ("acme-stage", cpu_mem("5500m", "7Gi")),
        ],
    )
    .await;

    // Overshoot (both took the remainder at once): the next reconcile
    // holds each at its own use, so nothing more is admitted anywhere.
    server.set_quota_used("acme-dev", QUOTA, cpu_mem("4", "1Gi"));
    server.set_quota_used("acme-stage", QUOTA, cpu_mem("3", "1Gi"));
    shares(
        &server,
        &[
            ("acme-dev", cpu_mem("4", "7Gi")),
            ("acme-stage", cpu_mem("3", "7Gi")),
        ],
    )
    .await;
    let status = eventually("the overshoot in the status", || {
        server
            .get("tenants", "", "acme")
            .map(|t| t["status"].clone())
            .filter(|s| s["quota"]["used"] == cpu_mem("7", "2Gi"))
    })
    .await;
    assert_eq!(status["quota"]["hard"], cpu_mem("6", "8Gi"), "{status}");

    // Changing the scope back: every namespace gets the whole hard again,
    // and the tenant-wide figures leave the status and the metrics.
    server.put(acme(json!({"hard": cpu_mem("6", "8Gi")})));
    shares(
        &server,
        &[
            ("acme-dev", cpu_mem("6", "8Gi")),
            ("acme-stage", cpu_mem("6", "8Gi")),
        ],
    )
    .await;
    eventually("the status without a tenant-wide quota", || {
        server
            .get("tenants", "", "acme")
            .filter(|t| t["status"].get("quota").is_none() && t["status"]["namespaceCount"] == 2)
    })
    .await;
    eventually("the metrics without acme's budget", || {
        sample(&replica, "tenantguard_tenant_quota_hard", &[tenant, cpu])
            .is_none()
            .then_some(())
    })
    .await;
    // Everything it asked for, the chart's ClusterRole grants.
    super::rbac::assert_allowed(&server.calls());
    replica.stop().await;
}
