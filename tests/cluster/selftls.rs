//! TLS `mode: self` against the stand-in apiserver: replicas that each run
//! the task and serve TLS from their own certificate store, checked the
//! way the apiserver would check them: a handshake that trusts only the
//! `caBundle` of tenantguard's webhook configuration, for the Service's
//! DNS name, at the (fake) time of the test. Time is a fake clock moved on
//! by the test, so renewal and rollover take seconds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use serde_json::json;
use tenantguard::cluster::selftls;
use tenantguard::selftls::Lifetimes;
use tokio::sync::watch;

use super::apiserver::{ApiServer, Fault};
use super::common::{self, Opts};
use super::{eventually, rbac};

#[path = "selftls_harness.rs"]
mod harness;

use harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_secret_one_certificate_our_bundles_only() {
    let api = cluster();
    let someone_else = api.get("validatingwebhookconfigurations", "", "someone-else");
    // Both replicas' first reads are held, so both find no Secret and race to create it.
    let (release, hold) = watch::channel(false);
    let held = api.fault(Method::GET, "/secrets/", Fault::Hold(hold));
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let a = TlsReplica::start(&api, "replica-a", &clock, Lifetimes::default()).await;
    let b = TlsReplica::start(&api, "replica-b", &clock, Lifetimes::default()).await;

    // Nothing is served before the Secret is read, not even to a client
    // that would take any certificate: no throwaway certificate.
    for r in [&a, &b] {
        let refused = handshake(r.addr, None, t0).await;
        assert!(
            refused.is_err(),
            "served before the Secret was read: {refused:?}"
        );
    }
    // Whether or not both reads were held at once, exactly one create wins.
    release.send_replace(true);
    api.clear_fault(held);

    let cert_a = served(&api, &a, t0 + 60, |_| true).await;
    let cert_b = served(&api, &b, t0 + 60, |_| true).await;
    assert_eq!(cert_a, cert_b, "the replicas serve different certificates");
    assert_eq!(cert_a, der(&secret_key(&api, "tls.crt").unwrap()));
    assert_eq!(agreed_bundle(&api), secret_key(&api, "ca.crt"));
    assert_eq!(
        bundles(&api, "validatingwebhookconfigurations", VALIDATING).len(),
        2
    );

    let calls = api.calls();
    let creates: Vec<u16> = calls
        .iter()
        .filter(|c| c.resource == "secrets" && c.verb == "create")
        .map(|c| c.status)
        .collect();
    assert_eq!(
        creates.iter().filter(|s| **s == 201).count(),
        1,
        "{creates:?}"
    );
    assert!(
        creates.iter().all(|s| *s == 201 || *s == 409),
        "{creates:?}"
    );
    // Only our two configurations were patched, by JSON patch.
    for c in calls.iter().filter(|c| c.verb == "patch") {
        assert!(
            (c.resource == "mutatingwebhookconfigurations" && c.name == MUTATING)
                || (c.resource == "validatingwebhookconfigurations" && c.name == VALIDATING),
            "patched {} {}",
            c.resource,
            c.name
        );
        assert_eq!(c.content_type, "application/json-patch+json");
    }
    assert_eq!(
        api.get("validatingwebhookconfigurations", "", "someone-else"),
        someone_else
    );
    assert_eq!(a.cert_errors() + b.cert_errors(), 0);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serving_certificate_is_renewed_before_it_expires() {
    let api = cluster();
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let a = TlsReplica::start(&api, "replica-a", &clock, short(30, 3)).await;
    let b = TlsReplica::start(&api, "replica-b", &clock, short(30, 3)).await;
    let first = served(&api, &a, t0 + 60, |_| true).await;
    served(&api, &b, t0 + 60, |c| c == first).await;
    let ca = secret_key(&api, "ca.crt").unwrap();

    // A day before expiry (two thirds of three days gone): a new certificate
    // from the same CA, served by both replicas, neither restarted.
    let later = t0 + 2 * DAY;
    clock.store(later, Ordering::SeqCst);
    let renewed = served(&api, &a, later, |c| c != first).await;
    served(&api, &b, later, |c| c == renewed).await;
    assert_eq!(secret_key(&api, "ca.crt").unwrap(), ca, "the CA changed");
    assert_eq!(agreed_bundle(&api).unwrap(), ca);
    assert_eq!(renewed, der(&secret_key(&api, "tls.crt").unwrap()));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_rolls_over_with_both_trusted_during_the_overlap() {
    let api = cluster();
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    // The CA and the serving certificate both live three days.
    let r = TlsReplica::start(&api, "replica-a", &clock, short(3, 3)).await;
    let first = served(&api, &r, t0 + 60, |_| true).await;
    let old_ca = secret_key(&api, "ca.crt").unwrap();

    // Two days on the CA is due: a new CA first in the bundle, the old one
    // still there, and the serving certificate unchanged (its CA is trusted).
    let roll = t0 + 2 * DAY;
    clock.store(roll, Ordering::SeqCst);
    let bundle = eventually("the bundle to hold two CAs", || {
        agreed_bundle(&api).filter(|b| pem_count(b) == 2)
    })
    .await;
    assert!(bundle.ends_with(&old_ca), "the old CA left the bundle");
    let new_ca = bundle.strip_suffix(&old_ca).unwrap().to_string();
    assert_eq!(
        handshake(r.addr, Some(&bundle), roll).await,
        Ok(first.clone())
    );
    assert!(
        handshake(r.addr, Some(&new_ca), roll).await.is_err(),
        "served from the new CA before the overlap"
    );

    // After the overlap the serving certificate comes from the new CA; the
    // bundle still trusts both.
    let after = roll + tenantguard::selftls::DEFAULT_OVERLAP_SECS;
    clock.store(after, Ordering::SeqCst);
    let start = tokio::time::Instant::now();
    let renewed = loop {
        if let Ok(c) = handshake(r.addr, Some(&new_ca), after).await {
            break c;
        }
        assert!(
            start.elapsed() < super::DEADLINE,
            "never served from the new CA"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_ne!(renewed, first);
    assert_eq!(agreed_bundle(&api).map(|b| pem_count(&b)), Some(2));

    // Once the old CA has expired it leaves the bundle.
    let expired = t0 + 3 * DAY + 1;
    clock.store(expired, Ordering::SeqCst);
    let bundle = eventually("the expired CA to be dropped", || {
        agreed_bundle(&api).filter(|b| pem_count(b) == 1)
    })
    .await;
    assert_eq!(bundle, new_ca);
    assert_eq!(handshake(r.addr, Some(&bundle), expired).await, Ok(renewed));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_secret_leaves_the_last_good_certificate_serving() {
    let api = cluster();
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let r = TlsReplica::start(&api, "replica-a", &clock, Lifetimes::default()).await;
    let good = served(&api, &r, t0 + 60, |_| true).await;
    let bundle = agreed_bundle(&api).unwrap();

    // Someone breaks the key.
    let mut broken = api.get("secrets", NS, SECRET).unwrap();
    broken["data"]["tls.key"] = json!(b64("not a key"));
    api.put(broken);
    eventually("the problem to be reported", || {
        (r.cert_errors() == 1).then_some(())
    })
    .await;
    // Reported, not overwritten, and the last good certificate still served
    // with the bundle unchanged.
    assert_eq!(secret_key(&api, "tls.key").unwrap(), "not a key");
    assert_eq!(
        handshake(r.addr, Some(&bundle), t0 + 60).await,
        Ok(good.clone())
    );
    assert_eq!(agreed_bundle(&api).unwrap(), bundle);
    // Reported once per change, not on every pass.
    let passes = api.calls().len();
    eventually("a few more passes", || {
        (api.calls().len() > passes + 5).then_some(())
    })
    .await;
    assert_eq!(r.cert_errors(), 1);

    // The documented fix: delete the Secret; a new CA and certificate are
    // made, served, and the bundles follow.
    api.delete("secrets", NS, SECRET);
    let fresh = served(&api, &r, t0 + 60, |c| c != good).await;
    assert_ne!(agreed_bundle(&api).unwrap(), bundle);
    assert_eq!(fresh, der(&secret_key(&api, "tls.crt").unwrap()));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_lost_a_race_is_planned_again_on_what_won() {
    let api = cluster();
    let t0 = 1_800_000_000;
    let later = t0 + 2 * DAY;
    let at = Arc::new(AtomicI64::new(t0));
    // The task reads the clock between reading the Secret and writing its
    // step; at `later` this clock first plays someone else changing the
    // Secret right then, so the renewal's update carries a stale
    // resourceVersion.
    let raced = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (api2, at2, raced2) = (api.clone(), at.clone(), raced.clone());
    let clock: selftls::Clock = Arc::new(move || {
        let now = at2.load(Ordering::SeqCst);
        if now >= later && !raced2.swap(true, Ordering::SeqCst) {
            if let Some(mut other) = api2.get("secrets", NS, SECRET) {
                other["metadata"]["labels"]["team"] = json!("platform");
                api2.put(other);
            }
        }
        now
    });
    let r = TlsReplica::start_named(
        &api,
        "replica-a",
        clock,
        short(30, 3),
        (SECRET, MUTATING, VALIDATING),
    )
    .await;
    let first = served(&api, &r, t0 + 60, |_| true).await;

    at.store(later, Ordering::SeqCst);
    let renewed = served(&api, &r, later, |c| c != first).await;
    assert!(raced.load(Ordering::SeqCst));
    let puts: Vec<u16> = api
        .calls()
        .iter()
        .filter(|c| c.resource == "secrets" && c.verb == "update")
        .map(|c| c.status)
        .collect();
    assert_eq!(puts, vec![409, 200]);
    // Re-read and re-planned: the other change is kept, the renewal applied.
    let s = api.get("secrets", NS, SECRET).unwrap();
    assert_eq!(s["metadata"]["labels"]["team"], "platform");
    assert_eq!(renewed, der(&secret_key(&api, "tls.crt").unwrap()));
    r.stop().await;
}

/// Everything the task asks of the apiserver, for the RBAC check: with the
/// Secret and both configurations named `name`, a create, the caBundle
/// patches, then (time moved on) a renewal by update.
pub async fn exercise(api: &ApiServer, name: &str) {
    api.put(configuration(
        "MutatingWebhookConfiguration",
        name,
        &["mutate.tenantguard.io"],
        None,
    ));
    api.put(configuration(
        "ValidatingWebhookConfiguration",
        name,
        &["validate.tenantguard.io"],
        None,
    ));
    let t0 = 1_800_000_000;
    let clock = Arc::new(AtomicI64::new(t0));
    let now = clock.clone();
    let r = TlsReplica::start_named(
        api,
        "replica-a",
        Arc::new(move || now.load(Ordering::SeqCst)),
        Lifetimes::default(),
        (name, name, name),
    )
    .await;
    let bundled = |api: &ApiServer| {
        let s = api.get("secrets", NS, name)?;
        let want = s["data"]["ca.crt"].clone();
        let all_set = [
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
        ]
        .iter()
        .all(|res| {
            api.get(res, "", name)
                .is_some_and(|c| c["webhooks"][0]["clientConfig"]["caBundle"] == want)
        });
        all_set.then_some(s["data"]["tls.crt"].clone())
    };
    let first = eventually("the Secret and both caBundles", || bundled(api)).await;
    clock.store(t0 + 300 * DAY, Ordering::SeqCst);
    eventually("a renewal", || bundled(api).filter(|c| *c != first)).await;
    r.stop().await;
}

/// The real `tenantguard serve` in mode self: nothing served (so not ready)
/// until its Secret is read, then the certificate it created, trusted by
/// the caBundle it set, and `/readyz` answers 200 over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_in_mode_self_serves_its_own_secret() {
    let api = super::world();
    for c in [
        configuration(
            "MutatingWebhookConfiguration",
            MUTATING,
            &["mutate.tenantguard.io"],
            None,
        ),
        configuration(
            "ValidatingWebhookConfiguration",
            VALIDATING,
            &["validate.tenantguard.io"],
            None,
        ),
    ] {
        api.put(c);
    }
    let (release, hold) = watch::channel(false);
    let held = api.fault(Method::GET, "/secrets/", Fault::Hold(hold));
    let addr = api.serve_http("tenantguard-0").await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = super::kubeconfig_file(dir.path(), addr);
    let server = common::start(Opts {
        extra: [
            "--cluster",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--leader-identity",
            "tenantguard-0",
            "--tls-self-secret",
            SECRET,
            "--tls-self-webhooks",
            &format!("{MUTATING},{VALIDATING}"),
        ]
        .map(String::from)
        .to_vec(),
        no_tls_files: true,
        ..Opts::default()
    });
    let refused = handshake(server.addr, None, 0).await;
    assert!(
        refused.is_err(),
        "served before its Secret was read: {refused:?}"
    );

    release.send_replace(true);
    api.clear_fault(held);
    let bundle = eventually("the caBundles", || agreed_bundle(&api)).await;
    let ca = common::write_file(dir.path(), "ca.crt", &bundle);
    // Trusting only the bundle, with real time and the Service's name.
    let mut c = None;
    common::eventually(
        "/readyz over the Secret's certificate",
        Duration::from_secs(30),
        async || {
            if c.is_none() {
                c = common::Client::connect_to(server.addr, &ca, common::Proto::H2)
                    .await
                    .ok();
            }
            match c.as_mut() {
                Some(c) => c
                    .request("GET", "/readyz", vec![])
                    .await
                    .is_ok_and(|r| r.status == 200),
                None => false,
            }
        },
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(
        handshake(server.addr, Some(&bundle), now).await,
        Ok(der(&secret_key(&api, "tls.crt").unwrap()))
    );
    let text = common::metrics(server.metrics_addr).await;
    assert!(
        text.contains("tenantguard_certificate_reloads_total{result=\"success\"} 1"),
        "{text}"
    );
    rbac::assert_allowed(
        &api.calls()
            .into_iter()
            .filter(|c| {
                !matches!(
                    c.resource.as_str(),
                    "secrets" | "mutatingwebhookconfigurations" | "validatingwebhookconfigurations"
                )
            })
            .collect::<Vec<_>>(),
    );
}
