//! Certificates: a CA and a serving certificate for `S.N.svc` (what
//! `tenantguard certs` writes and `serve` makes for itself when it has no TLS
//! files), and loading PEM key pairs, chains included, for rustls.
//!
//! Keys are ECDSA P-256; the CA lives 10 years, serving certificates 1 year.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot generate certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("{path}: the private key is not usable by rustls: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("the private key {key} does not belong to the certificate {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
}

/// A generated CA and serving certificate, as PEM.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// DNS names a Service `S` in namespace `N` is reached by.
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
        format!("{service}.{namespace}"),
        service.to_string(),
    ]
}

/// A new CA and a serving certificate for `names` (DNS names or IP addresses).
pub fn generate(names: &[String]) -> Result<Bundle, CertError> {
    let now = OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate()?;
    let ca = ca_params(now - Duration::hours(1), now + Duration::days(3650))?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let leaf = serving_params(names, now - Duration::hours(1), now + Duration::days(365))?;
    let cert = leaf.signed_by(&key, &Issuer::new(ca, ca_key))?;
    Ok(Bundle {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A new CA valid from `now` (seconds since the epoch) for `days`: its
/// certificate and key, as PEM.
pub fn generate_ca_at(now: i64, days: i64) -> Result<(String, String), CertError> {
    let start = at(now)?;
    let key = KeyPair::generate()?;
    let cert = ca_params(start, start + Duration::days(days))?.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A serving certificate for `names`, valid from `now` for `days`, signed
/// by the CA whose key is `ca_key_pem` (a CA from [`generate_ca_at`]): its
/// certificate and key, as PEM.
pub fn issue_serving_at(
    ca_key_pem: &str,
    names: &[String],
    now: i64,
    days: i64,
) -> Result<(String, String), CertError> {
    let start = at(now)?;
    let end = start + Duration::days(days);
    let issuer = Issuer::new(ca_params(start, end)?, KeyPair::from_pem(ca_key_pem)?);
    let key = KeyPair::generate()?;
    let cert = serving_params(names, start, end)?.signed_by(&key, &issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn at(unix: i64) -> Result<OffsetDateTime, CertError> {
    Ok(OffsetDateTime::from_unix_timestamp(unix).map_err(|_| rcgen::Error::Time)?)
}

/// The one shape of tenantguard's CA.
fn ca_params(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, CertError> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "tenantguard webhook CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = not_before;
    ca.not_after = not_after;
    Ok(ca)
}

/// The one shape of tenantguard's serving certificate for `names`.
fn serving_params(
    names: &[String],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, CertError> {
    let mut leaf = CertificateParams::new(names.to_vec())?;
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("tenantguard", String::as_str),
    );
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    Ok(leaf)
}

fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), CertError> {
    let err = |source| CertError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let mut f = opts.open(path).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(err)?;
    }
    f.write_all(contents.as_bytes()).map_err(err)
}

/// Writes `ca.crt`, `tls.crt` and `tls.key` (mode 0600) into `dir`.
pub fn write_bundle(bundle: &Bundle, dir: &Path) -> Result<(), CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write_file(&dir.join("ca.crt"), &bundle.ca_pem, 0o644)?;
    write_file(&dir.join("tls.crt"), &bundle.cert_pem, 0o644)?;
    write_file(&dir.join("tls.key"), &bundle.key_pem, 0o600)
}

/// Parses a PEM certificate chain and private key into what rustls serves.
pub fn certified_key_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<CertifiedKey, CertError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(CertError::NoCertificate {
            path: cert_path.to_path_buf(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| CertError::NoKey {
        path: key_path.to_path_buf(),
    })?;
    let signing = any_supported_type(&key).map_err(|e| CertError::BadKey {
        path: key_path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let ck = CertifiedKey::new(chain, signing);
    ck.keys_match().map_err(|_| CertError::Mismatch {
        cert: cert_path.to_path_buf(),
        key: key_path.to_path_buf(),
    })?;
    Ok(ck)
}

/// Reads a PEM certificate chain and key from files.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, CertError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| CertError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    Ok(Arc::new(certified_key_from_pem(
        &read(cert)?,
        &read(key)?,
        cert,
        key,
    )?))
}

/// Seconds since the Unix epoch when the first certificate of a PEM chain
/// expires, read from its DER (`notAfter` of the TBSCertificate validity).
pub fn not_after_unix(cert_pem: &[u8]) -> Option<i64> {
    validity_unix(cert_pem).map(|(_, after)| after)
}

/// `(notBefore, notAfter)` of the first certificate of a PEM chain, in
/// seconds since the Unix epoch.
pub fn validity_unix(cert_pem: &[u8]) -> Option<(i64, i64)> {
    let der = CertificateDer::pem_slice_iter(cert_pem).next()?.ok()?;
    der::validity(der.as_ref())
}

/// Just enough DER to find a certificate's `notAfter`.
mod der {
    fn read_tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let tag = *buf.first()?;
        let first = *buf.get(1)? as usize;
        let (len, hdr) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *buf.get(2 + i)? as usize;
            }
            (len, 2 + n)
        };
        let body = buf.get(hdr..hdr + len)?;
        Some((tag, body, &buf[hdr + len..]))
    }

    pub fn validity(cert: &[u8]) -> Option<(i64, i64)> {
        let (_, cert_body, _) = read_tlv(cert)?;
        let (_, tbs, _) = read_tlv(cert_body)?;
        let mut rest = tbs;
        // [0] version (optional), serial, signature algorithm, issuer, validity
        let (tag, _, r) = read_tlv(rest)?;
        rest = if tag == 0xa0 { read_tlv(r)?.2 } else { r };
        rest = read_tlv(rest)?.2; // signature
        rest = read_tlv(rest)?.2; // issuer
        let (_, validity, _) = read_tlv(rest)?;
        let (tag_nb, not_before, after_nb) = read_tlv(validity)?;
        let (tag, not_after, _) = read_tlv(after_nb)?;
        Some((time(tag_nb, not_before)?, time(tag, not_after)?))
    }

    fn time(tag: u8, time: &[u8]) -> Option<i64> {
        let s = std::str::from_utf8(time).ok()?;
        let (year, rest) = match tag {
            0x17 => {
                let y: i64 = s.get(0..2)?.parse().ok()?;
                (if y < 50 { 2000 + y } else { 1900 + y }, s.get(2..)?)
            }
            0x18 => (s.get(0..4)?.parse().ok()?, s.get(4..)?),
            _ => return None,
        };
        let num = |r: std::ops::Range<usize>| rest.get(r)?.parse::<i64>().ok();
        let (month, day, hour, min, sec) =
            (num(0..2)?, num(2..4)?, num(4..6)?, num(6..8)?, num(8..10)?);
        // Days from civil (Howard Hinnant's algorithm).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146097 + doe - 719468;
        Some(days * 86400 + hour * 3600 + min * 60 + sec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_loads_and_reports_expiry() {
        let names = service_names("tenantguard", "tenantguard-system");
        let b = generate(&names).unwrap();
        let ck = certified_key_from_pem(
            b.cert_pem.as_bytes(),
            b.key_pem.as_bytes(),
            Path::new("tls.crt"),
            Path::new("tls.key"),
        )
        .unwrap();
        assert_eq!(ck.cert.len(), 1);
        let exp = not_after_unix(b.cert_pem.as_bytes()).unwrap();
        let in_a_year = OffsetDateTime::now_utc().unix_timestamp() + 365 * 86400;
        assert!((exp - in_a_year).abs() < 60, "{exp} vs {in_a_year}");
        let (nb, na) = validity_unix(b.ca_pem.as_bytes()).unwrap();
        assert_eq!(na - nb, 3650 * 86400 + 3600);
    }

    #[test]
    fn chain_is_accepted_and_mismatch_rejected() {
        let b = generate(&["a.example".into()]).unwrap();
        let other = generate(&["b.example".into()]).unwrap();
        let chain = format!("{}{}", b.cert_pem, b.ca_pem);
        let ck = certified_key_from_pem(
            chain.as_bytes(),
            b.key_pem.as_bytes(),
            Path::new("c"),
            Path::new("k"),
        )
        .unwrap();
        assert_eq!(ck.cert.len(), 2);
        let err = certified_key_from_pem(
            b.cert_pem.as_bytes(),
            other.key_pem.as_bytes(),
            Path::new("c"),
            Path::new("k"),
        )
        .unwrap_err();
        assert!(matches!(err, CertError::Mismatch { .. }), "{err}");
        let err = certified_key_from_pem(
            b"junk",
            b.key_pem.as_bytes(),
            Path::new("c"),
            Path::new("k"),
        )
        .unwrap_err();
        assert!(matches!(err, CertError::NoCertificate { .. }), "{err}");
    }

    #[test]
    fn ca_and_serving_at_a_given_time() {
        let now = 1_700_000_000;
        let (ca, ca_key) = generate_ca_at(now, 3650).unwrap();
        assert_eq!(
            validity_unix(ca.as_bytes()),
            Some((now, now + 3650 * 86400))
        );
        let (crt, key) = issue_serving_at(&ca_key, &["tg.ns.svc".into()], now, 365).unwrap();
        assert_eq!(
            validity_unix(crt.as_bytes()),
            Some((now, now + 365 * 86400))
        );
        certified_key_from_pem(
            crt.as_bytes(),
            key.as_bytes(),
            Path::new("c"),
            Path::new("k"),
        )
        .unwrap();
        assert!(issue_serving_at("junk", &["x".into()], now, 1).is_err());
    }

    #[test]
    fn key_file_mode_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        write_bundle(&generate(&["x".into()]).unwrap(), dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("tls.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(dir.path().join("ca.crt").exists());
    }
}
