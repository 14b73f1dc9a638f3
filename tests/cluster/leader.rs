//! Lease-based leader election: a stale Lease is taken over once it has
//! expired, a leader that stops renewing is replaced, a graceful stop hands
//! over at once, and only the holder reconciles.

use tenantguard::cluster::leader::LeaderElector;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::apiserver::ApiServer;
use super::{eventually, fixture, lease, namespace, rbac, world, Replica};

struct Candidate {
    leading: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn campaign(server: &ApiServer, identity: &str) -> Candidate {
    let (leading_tx, leading) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    // Nothing runs under this candidate's leadership: idle from the start.
    let (_idle_tx, idle) = watch::channel(true);
    let elector = LeaderElector::new(server.client(identity), lease(identity));
    let task = tokio::spawn(async move {
        let _keep = _idle_tx;
        elector.run(leading_tx, stop_rx, idle).await
    });
    Candidate {
        leading,
        stop,
        task,
    }
}

fn holder(server: &ApiServer) -> (Option<String>, i64) {
    let l = server
        .get("leases", rbac::OWN_NAMESPACE, "tenantguard-controller")
        .expect("the Lease");
    (
        l["spec"]["holderIdentity"].as_str().map(str::to_string),
        l["spec"]["leaseTransitions"].as_i64().unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_changes_hands_when_its_holder_goes() {
    let server = ApiServer::new();
    // Left by a pod that is gone: it expires, then one candidate takes it.
    server.put(fixture("lease-held-by-old-pod.json"));
    let a = campaign(&server, "replica-a");
    let b = campaign(&server, "replica-b");
    let first = eventually("a leader", || {
        match (*a.leading.borrow(), *b.leading.borrow()) {
            (true, false) => Some("replica-a"),
            (false, true) => Some("replica-b"),
            _ => None,
        }
    })
    .await;
    assert_eq!(
        holder(&server),
        (Some(first.to_string()), 4),
        "taken over from the old pod"
    );

    // The leader dies without releasing: the other waits out the lease.
    let (dead, survivor, name) = if first == "replica-a" {
        (a, b, "replica-b")
    } else {
        (b, a, "replica-a")
    };
    dead.task.abort();
    let _ = dead.task.await;
    eventually("the survivor to lead", || {
        survivor.leading.borrow().then_some(())
    })
    .await;
    assert_eq!(holder(&server), (Some(name.to_string()), 5));

    // A graceful stop releases the Lease: a newcomer need not wait it out.
    survivor.stop.send(true).unwrap();
    survivor.task.await.unwrap();
    assert_eq!(holder(&server).0, None, "released");
    let c = campaign(&server, "replica-c");
    eventually("the newcomer to lead", || c.leading.borrow().then_some(())).await;
    assert_eq!(holder(&server), (Some("replica-c".to_string()), 6));
    c.stop.send(true).unwrap();
    c.task.await.unwrap();
    rbac::assert_allowed(&server.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_reconciles() {
    let server = world();
    let a = Replica::start(&server, "replica-a", true);
    let b = Replica::start(&server, "replica-b", true);
    let has = |ns: &str| {
        server
            .get("serviceaccounts", ns, "tenant-workload")
            .is_some()
    };
    eventually("the baseline", || {
        (has("acme-prod") && has("globex-prod")).then_some(())
    })
    .await;
    let first = holder(&server).0.expect("a holder");
    let (leader, other) = if first == "replica-a" { (a, b) } else { (b, a) };
    assert_eq!(leader.metric("tenantguard_leader"), Some(1.0));
    assert_eq!(other.metric("tenantguard_leader"), Some(0.0));

    // Hand over: the leader stops; the other takes the released Lease and
    // repairs what is done meanwhile.
    leader.stop().await;
    server.delete("serviceaccounts", "acme-prod", "tenant-workload");
    server.put(namespace("acme-staging", Some("acme")));
    eventually("the new leader's work", || {
        (has("acme-prod") && has("acme-staging")).then_some(())
    })
    .await;
    assert_ne!(holder(&server).0, Some(first.clone()));
    other.stop().await;

    let calls = server.calls();
    let writes: Vec<_> = calls.iter().filter(|c| c.verb == "patch").collect();
    assert!(!writes.is_empty());
    for c in &writes {
        assert_eq!(
            c.lease_holder.as_deref(),
            Some(c.client.as_str()),
            "{} wrote {}/{} in {} while not holding the Lease",
            c.client,
            c.resource,
            c.name,
            c.namespace
        );
    }
    assert!(writes.iter().any(|c| c.client == first));
    assert!(writes.iter().any(|c| c.client != first));
    rbac::assert_allowed(&calls);
}
