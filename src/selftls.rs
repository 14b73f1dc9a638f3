//! TLS `mode: self`: what tenantguard does with its own CA and serving
//! certificate, decided by a pure function of what the Secret holds and the
//! time, so every case is tested with a fake clock.
//!
//! The Secret holds `ca.crt` (every CA the webhook configurations trust,
//! newest first: this is the `caBundle`), `ca.key` (the newest CA's key),
//! `tls.crt` and `tls.key`. The steps, one per pass:
//!
//! - no Secret: create it (a CA and a serving certificate);
//! - the Secret is there but unusable: write nothing, keep serving the last
//!   good certificate, and say how to fix it (delete the Secret);
//! - a CA in the bundle has expired and is not the newest: drop it;
//! - the newest CA has less than a third of its life left: roll it (a new
//!   CA first in the bundle, the old one still trusted), serving certificate
//!   unchanged so the apiserver keeps trusting it while the bundle spreads;
//! - the serving certificate has less than a third of its life left, or was
//!   not issued by the newest CA, and the newest CA has been trusted for at
//!   least the overlap period: issue a new serving certificate from it;
//! - otherwise keep everything.

/// When a certificate is valid, in seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

impl Validity {
    /// Less than a third of the certificate's life is left at `now`.
    pub fn due(&self, now: i64) -> bool {
        let life = (self.not_after - self.not_before).max(0);
        now >= self.not_after - life / 3
    }

    pub fn expired(&self, now: i64) -> bool {
        now >= self.not_after
    }
}

/// What the Secret holds, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The CAs of `ca.crt`, newest (the one `ca.key` belongs to) first.
    pub cas: Vec<Validity>,
    pub serving: Validity,
    /// The serving certificate was signed by the newest CA.
    pub serving_by_newest: bool,
}

/// What the Secret looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Missing,
    /// Present but not usable (why, for the log).
    Unusable(String),
    Usable(Observed),
}

/// One step towards a Secret that needs nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Keep,
    Create,
    /// Write nothing; serve the last good certificate.
    KeepLastGood(String),
    /// Drop these (expired, older) CAs from the bundle, by index.
    DropCas(Vec<usize>),
    RollCa,
    RenewServing,
}

/// How long a newly added CA is trusted before it signs the serving
/// certificate: long enough for the patched `caBundle` to reach every
/// apiserver.
pub const DEFAULT_OVERLAP_SECS: i64 = 3600;

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::certs;

pub fn plan(found: &Found, now: i64, overlap: i64) -> Step {
    let o = match found {
        Found::Missing => return Step::Create,
        Found::Unusable(why) => return Step::KeepLastGood(why.clone()),
        Found::Usable(o) => o,
    };
    let Some(newest) = o.cas.first() else {
        return Step::KeepLastGood("ca.crt holds no certificate".into());
    };
    let expired: Vec<usize> = (1..o.cas.len())
        .filter(|&i| o.cas[i].expired(now))
        .collect();
    if !expired.is_empty() {
        return Step::DropCas(expired);
    }
    if newest.due(now) {
        return Step::RollCa;
    }
    let trusted_long_enough = now >= newest.not_before + overlap;
    let wants_new = o.serving.due(now) || !o.serving_by_newest;
    // An expired serving certificate cannot get worse by waiting: renew now.
    if wants_new && (trusted_long_enough || o.serving.expired(now)) {
        return Step::RenewServing;
    }
    Step::Keep
}

/// The Secret's four keys, as PEM text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretData {
    pub ca_crt: String,
    pub ca_key: String,
    pub tls_crt: String,
    pub tls_key: String,
}

fn pem_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .collect()
}

/// Reads what the Secret holds; `None` when there is no Secret.
pub fn observe(data: Option<&SecretData>) -> Found {
    let Some(d) = data else {
        return Found::Missing;
    };
    let cas = pem_certs(&d.ca_crt);
    let mut validities = Vec::new();
    for ca in &cas {
        match certs::validity_unix(to_pem(ca).as_bytes()) {
            Some((nb, na)) => validities.push(Validity {
                not_before: nb,
                not_after: na,
            }),
            None => {
                return Found::Unusable("ca.crt: a certificate without a readable validity".into())
            }
        }
    }
    let Some(newest) = cas.first() else {
        return Found::Unusable("ca.crt holds no PEM certificate".into());
    };
    // ca.key must sign what the newest CA's holders trust: try it.
    let newest_from = validities[0].not_before;
    let key_signs_newest =
        certs::issue_serving_at(&d.ca_key, &["key-check".into()], newest_from, 1)
            .ok()
            .and_then(|(crt, _)| pem_certs(&crt).into_iter().next())
            .is_some_and(|leaf| signed_by(&leaf, newest, newest_from));
    if !key_signs_newest {
        return Found::Unusable(
            "ca.key is not a usable PEM private key of the first CA in ca.crt".into(),
        );
    }
    let (cp, kp) = (Path::new("tls.crt"), Path::new("tls.key"));
    if let Err(e) =
        certs::certified_key_from_pem(d.tls_crt.as_bytes(), d.tls_key.as_bytes(), cp, kp)
    {
        return Found::Unusable(e.to_string());
    }
    let Some((nb, na)) = certs::validity_unix(d.tls_crt.as_bytes()) else {
        return Found::Unusable("tls.crt: no readable validity".into());
    };
    let serving = Validity {
        not_before: nb,
        not_after: na,
    };
    let serving_by_newest = pem_certs(&d.tls_crt).first().is_some_and(|leaf| {
        signed_by(
            leaf,
            newest,
            serving.not_before.max(validities[0].not_before),
        )
    });
    Found::Usable(Observed {
        cas: validities,
        serving,
        serving_by_newest,
    })
}

/// How long the certificates `apply` makes live, in days.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub ca_days: i64,
    pub serving_days: i64,
}

impl Default for Lifetimes {
    /// The CA 10 years, the serving certificate 1 year.
    fn default() -> Self {
        Lifetimes {
            ca_days: 3650,
            serving_days: 365,
        }
    }
}

/// Carries `step` out on `data` at `now`: the Secret's new contents, or
/// `None` when nothing is to be written.
pub fn apply(
    step: &Step,
    data: Option<&SecretData>,
    names: &[String],
    now: i64,
    life: Lifetimes,
) -> Result<Option<SecretData>, certs::CertError> {
    let current = data.cloned().unwrap_or_default();
    let new = match step {
        Step::Keep | Step::KeepLastGood(_) => return Ok(None),
        Step::Create => {
            let (ca_crt, ca_key) = certs::generate_ca_at(now, life.ca_days)?;
            let (tls_crt, tls_key) =
                certs::issue_serving_at(&ca_key, names, now, life.serving_days)?;
            SecretData {
                ca_crt,
                ca_key,
                tls_crt,
                tls_key,
            }
        }
        Step::DropCas(drop) => SecretData {
            ca_crt: pem_certs(&current.ca_crt)
                .iter()
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, c)| to_pem(c))
                .collect(),
            ..current
        },
        Step::RollCa => {
            let (ca_crt, ca_key) = certs::generate_ca_at(now, life.ca_days)?;
            SecretData {
                ca_crt: format!("{ca_crt}{}", current.ca_crt),
                ca_key,
                ..current
            }
        }
        Step::RenewServing => {
            let (tls_crt, tls_key) =
                certs::issue_serving_at(&current.ca_key, names, now, life.serving_days)?;
            SecretData {
                tls_crt,
                tls_key,
                ..current
            }
        }
    };
    Ok(Some(new))
}

fn to_pem(der: &CertificateDer<'_>) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Whether `leaf` chains to `ca` (checked at `at`, when both are valid).
fn signed_by(leaf: &CertificateDer<'_>, ca: &CertificateDer<'static>, at: i64) -> bool {
    use rustls::client::danger::ServerCertVerifier;
    let mut roots = rustls::RootCertStore::empty();
    if roots.add(ca.clone()).is_err() {
        return false;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(verifier) =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
    else {
        return false;
    };
    let Ok(secs) = u64::try_from(at.saturating_add(1)) else {
        return false;
    };
    // Only the chain matters here, not the name: a name error means the
    // chain itself verified (webpki checks the name last).
    let now = rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
    let Ok(name) = rustls_pki_types::ServerName::try_from("name-check.invalid") else {
        return false;
    };
    match verifier.verify_server_cert(leaf, &[], &name, &[], now) {
        Ok(_) => true,
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. },
        )) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86400;
    const YEAR: i64 = 365 * DAY;

    fn v(from: i64, life: i64) -> Validity {
        Validity {
            not_before: from,
            not_after: from + life,
        }
    }

    fn fresh() -> Observed {
        Observed {
            cas: vec![v(0, 10 * YEAR)],
            serving: v(0, YEAR),
            serving_by_newest: true,
        }
    }

    #[test]
    fn steps_with_a_fake_clock() {
        let h = DEFAULT_OVERLAP_SECS;
        let cases: Vec<(&str, Found, i64, Step)> = vec![
            ("no Secret", Found::Missing, 0, Step::Create),
            (
                "unusable Secret",
                Found::Unusable("tls.key: no key".into()),
                0,
                Step::KeepLastGood("tls.key: no key".into()),
            ),
            ("fresh", Found::Usable(fresh()), DAY, Step::Keep),
            (
                "serving with just over a third left",
                Found::Usable(fresh()),
                YEAR - YEAR / 3 - 1,
                Step::Keep,
            ),
            (
                "serving with a third left",
                Found::Usable(fresh()),
                YEAR - YEAR / 3,
                Step::RenewServing,
            ),
            (
                "serving expired",
                Found::Usable(fresh()),
                YEAR + 1,
                Step::RenewServing,
            ),
            (
                "CA with a third left",
                Found::Usable(Observed {
                    serving: v(7 * YEAR, YEAR),
                    ..fresh()
                }),
                10 * YEAR - 10 * YEAR / 3,
                Step::RollCa,
            ),
            (
                "just rolled: the old serving certificate stays for the overlap",
                Found::Usable(Observed {
                    cas: vec![v(7 * YEAR, 10 * YEAR), v(0, 10 * YEAR)],
                    serving: v(7 * YEAR - DAY, YEAR),
                    serving_by_newest: false,
                }),
                7 * YEAR + h - 1,
                Step::Keep,
            ),
            (
                "overlap over: serve from the new CA",
                Found::Usable(Observed {
                    cas: vec![v(7 * YEAR, 10 * YEAR), v(0, 10 * YEAR)],
                    serving: v(7 * YEAR - DAY, YEAR),
                    serving_by_newest: false,
                }),
                7 * YEAR + h,
                Step::RenewServing,
            ),
            (
                "old CA expired: dropped from the bundle",
                Found::Usable(Observed {
                    cas: vec![v(7 * YEAR, 10 * YEAR), v(0, 10 * YEAR)],
                    serving: v(10 * YEAR, YEAR),
                    serving_by_newest: true,
                }),
                10 * YEAR,
                Step::DropCas(vec![1]),
            ),
            (
                "old CA still valid: kept in the bundle",
                Found::Usable(Observed {
                    cas: vec![v(7 * YEAR, 10 * YEAR), v(0, 10 * YEAR)],
                    serving: v(10 * YEAR - 2 * DAY, YEAR),
                    serving_by_newest: true,
                }),
                10 * YEAR - 1,
                Step::Keep,
            ),
            (
                "empty bundle",
                Found::Usable(Observed {
                    cas: vec![],
                    ..fresh()
                }),
                0,
                Step::KeepLastGood("ca.crt holds no certificate".into()),
            ),
        ];
        for (name, found, now, want) in cases {
            assert_eq!(plan(&found, now, h), want, "{name}");
        }
    }

    /// Runs plan and apply to a fixed point at `now`; the steps taken.
    fn settle(data: &mut Option<SecretData>, now: i64) -> Vec<Step> {
        let names = vec!["tenantguard.tg.svc".to_string()];
        let mut steps = vec![];
        loop {
            let step = plan(&observe(data.as_ref()), now, DEFAULT_OVERLAP_SECS);
            match apply(&step, data.as_ref(), &names, now, Lifetimes::default()).unwrap() {
                Some(new) => *data = Some(new),
                None => return steps,
            }
            steps.push(step);
            assert!(steps.len() < 5, "no fixed point: {steps:?}");
        }
    }

    #[test]
    fn lifecycle_with_a_fake_clock() {
        let t0 = 1_700_000_000;
        let mut data = None;
        assert_eq!(settle(&mut data, t0), vec![Step::Create]);
        assert_eq!(settle(&mut data, t0 + 100 * DAY), vec![]);
        // A third of the serving certificate's life left: renewed, same CA.
        let ca_before = data.as_ref().unwrap().ca_crt.clone();
        assert_eq!(
            settle(&mut data, t0 + YEAR - YEAR / 3),
            vec![Step::RenewServing]
        );
        assert_eq!(data.as_ref().unwrap().ca_crt, ca_before);
        // A third of the CA's life left: rolled, both trusted, and the
        // serving certificate stays on the old CA for the overlap.
        let roll = t0 + 10 * YEAR - 10 * YEAR / 3;
        let mut at = t0 + YEAR - YEAR / 3;
        while at + YEAR - YEAR / 3 < roll {
            at += YEAR - YEAR / 3;
            assert_eq!(settle(&mut data, at), vec![Step::RenewServing], "at {at}");
        }
        let serving_before = data.as_ref().unwrap().tls_crt.clone();
        assert_eq!(settle(&mut data, roll), vec![Step::RollCa]);
        let d = data.clone().unwrap();
        assert_eq!(pem_certs(&d.ca_crt).len(), 2);
        assert!(d.ca_crt.ends_with(&ca_before));
        assert_eq!(d.tls_crt, serving_before);
        let Found::Usable(o) = observe(Some(&d)) else {
            panic!("unusable after the roll")
        };
        assert!(!o.serving_by_newest);
        // After the overlap the serving certificate comes from the new CA.
        assert_eq!(
            settle(&mut data, roll + DEFAULT_OVERLAP_SECS),
            vec![Step::RenewServing]
        );
        let Found::Usable(o) = observe(data.as_ref()) else {
            panic!("unusable after renewal")
        };
        assert!(o.serving_by_newest);
        assert_eq!(o.cas.len(), 2);
        // The old CA expires: dropped from the bundle.
        let mut d = data.clone().unwrap();
        let old_expiry = t0 + 10 * YEAR;
        // Keep the serving certificate fresh enough that only the drop is due.
        d.tls_crt = certs::issue_serving_at(&d.ca_key, &["x".into()], old_expiry - DAY, 365)
            .map(|(c, k)| {
                d.tls_key = k;
                c
            })
            .unwrap();
        let mut data = Some(d);
        assert_eq!(settle(&mut data, old_expiry), vec![Step::DropCas(vec![1])]);
        assert_eq!(pem_certs(&data.unwrap().ca_crt).len(), 1);
    }

    #[test]
    fn a_bad_secret_is_never_overwritten() {
        let good = apply(
            &Step::Create,
            None,
            &["x".into()],
            1_700_000_000,
            Lifetimes::default(),
        )
        .unwrap()
        .unwrap();
        let cases = [
            (
                "no CA",
                SecretData {
                    ca_crt: String::new(),
                    ..good.clone()
                },
            ),
            (
                "bad CA key",
                SecretData {
                    ca_key: "junk".into(),
                    ..good.clone()
                },
            ),
            (
                "bad tls.key",
                SecretData {
                    tls_key: "junk".into(),
                    ..good.clone()
                },
            ),
            (
                "key of another pair",
                SecretData {
                    tls_key: good.ca_key.clone(),
                    ..good.clone()
                },
            ),
        ];
        for (name, bad) in cases {
            let step = plan(&observe(Some(&bad)), 1_700_000_000, DEFAULT_OVERLAP_SECS);
            assert!(matches!(step, Step::KeepLastGood(_)), "{name}: {step:?}");
            assert_eq!(
                apply(&step, Some(&bad), &["x".into()], 0, Lifetimes::default()).unwrap(),
                None,
                "{name}"
            );
        }
    }

    #[test]
    fn a_third_of_the_life() {
        let c = v(100, 300);
        assert!(!c.due(299));
        assert!(c.due(300));
        assert!(!c.expired(399));
        assert!(c.expired(400));
    }
}
