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

    #[test]
    fn a_third_of_the_life() {
        let c = v(100, 300);
        assert!(!c.due(299));
        assert!(c.due(300));
        assert!(!c.expired(399));
        assert!(c.expired(400));
    }
}
