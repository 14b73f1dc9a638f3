//! Image references and prefixes: Docker's normalization case by case, the
//! segment-wise match with its neighbours, and properties over generated
//! references.

use super::*;
use proptest::prelude::*;

fn name(s: &str) -> String {
    ImageName::parse(s)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .to_string()
}

#[test]
fn normalized_the_docker_way() {
    #[rustfmt::skip]
    let cases = [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1.27", "docker.io/library/nginx"),
        ("nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io/library/nginx"),
        ("nginx:1.27@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io/library/nginx"),
        ("user/app", "docker.io/user/app"),
        ("user/app:v1", "docker.io/user/app"),
        ("docker.io/nginx", "docker.io/library/nginx"),
        ("docker.io/library/nginx:latest", "docker.io/library/nginx"),
        ("index.docker.io/nginx", "docker.io/library/nginx"),
        ("Index.Docker.IO/user/app", "docker.io/user/app"),
        ("ghcr.io/acme/app:v1", "ghcr.io/acme/app"),
        ("localhost/app", "localhost/app"),
        ("localhost:5000/x", "localhost:5000/x"),
        ("localhost:5000/x:tag", "localhost:5000/x"),
        ("registry.example.com:5000/acme/team/app:1.0", "registry.example.com:5000/acme/team/app"),
        ("Registry.Example.COM/acme/app", "Registry.Example.COM/acme/app"),
        ("[::1]:5000/app", "[::1]:5000/app"),
        ("a.b/c__d/e-f/g--h/i.j", "a.b/c__d/e-f/g--h/i.j"),
        // A first segment without '.', ':' or capitals is a Docker Hub namespace.
        ("localhost5000/x", "docker.io/localhost5000/x"),
        // With capitals it is a host, as Docker reads it.
        ("Acme/app", "Acme/app"),
        // No '/': the ':' is a tag, not a port.
        ("localhost:5000", "docker.io/library/localhost"),
    ];
    for (input, want) in cases {
        assert_eq!(name(input), want, "{input}");
    }
    let i = ImageName::parse("Registry.Example.COM/acme/app").unwrap();
    assert_eq!(i.host(), "registry.example.com");
    assert_eq!(i.path(), "acme/app");
}

#[test]
fn unreadable_references() {
    #[rustfmt::skip]
    let cases: [(&str, ImageError); 14] = [
        ("", ImageError::Empty),
        ("acme/App", ImageError::UppercasePath("App".into())),
        ("ghcr.io/Acme/app", ImageError::UppercasePath("Acme".into())),
        ("NGINX:1", ImageError::UppercasePath("NGINX".into())),
        (" nginx", ImageError::BadSegment(" nginx".into())),
        ("nginx ", ImageError::BadSegment("nginx ".into())),
        ("ghcr.io//app", ImageError::BadSegment("".into())),
        ("ghcr.io/app/", ImageError::BadSegment("".into())),
        ("ghcr.io/a..b", ImageError::BadSegment("a..b".into())),
        ("ghcr.io/-a", ImageError::BadSegment("-a".into())),
        ("nginx:", ImageError::BadTag("".into())),
        ("nginx:.x", ImageError::BadTag(".x".into())),
        ("nginx@sha256:abc", ImageError::BadDigest("sha256:abc".into())),
        ("bad_host.io/app", ImageError::BadHost("bad_host.io".into())),
    ];
    for (input, want) in cases {
        assert_eq!(ImageName::parse(input), Err(want), "{input:?}");
    }
    assert!(matches!(
        ImageName::parse(&format!("ghcr.io/{}", "a".repeat(260))),
        Err(ImageError::TooLong(_))
    ));
    assert!(ImageName::parse("host:port/app").is_err());
    assert!(ImageName::parse("[zz]:5000/app").is_err());
    assert!(ImageName::parse("ghcr.io/a:b/c").is_err());
}

fn admits(prefix: &str, image: &str) -> bool {
    let p = Prefix::parse(prefix).unwrap_or_else(|e| panic!("{prefix:?}: {e}"));
    p.admits(&ImageName::parse(image).unwrap_or_else(|e| panic!("{image:?}: {e}")))
}

#[test]
fn prefixes_match_whole_segments() {
    #[rustfmt::skip]
    let cases = [
        ("registry.example.com/acme", "registry.example.com/acme/app", true),
        ("registry.example.com/acme/", "registry.example.com/acme/app:v1", true),
        ("registry.example.com/acme", "registry.example.com/acme/team/app", true),
        ("registry.example.com/acme", "registry.example.com/acme", true),
        ("registry.example.com/acme", "registry.example.com/acme-evil/app", false),
        ("registry.example.com/acme/", "registry.example.com/acme-evil/app", false),
        ("registry.example.com/acme", "registry.example.com/acmeevil", false),
        ("registry.example.com/acme", "registry.example.com/other/acme/app", false),
        ("registry.example.com/acme", "registry.example.com.evil.io/acme/app", false),
        ("registry.example.com/acme", "evil.io/registry.example.com/acme/app", false),
        ("registry.example.com/acme", "registry.example.com:443/acme/app", false),
        ("registry.example.com/acme", "REGISTRY.example.com/acme/app", true),
        ("Registry.Example.com/acme", "registry.example.com/acme/app", true),
        ("ghcr.io", "ghcr.io/anyone/app", true),
        ("ghcr.io/", "ghcr.io/anyone/app", true),
        ("ghcr.io", "ghcr.io.evil.io/app", false),
        ("docker.io/library", "nginx", true),
        ("docker.io/library/", "nginx:1.27", true),
        ("docker.io/library", "docker.io/nginx", true),
        ("docker.io/library", "bitnami/nginx", false),
        ("index.docker.io/library", "nginx", true),
        ("docker.io/bitnami", "bitnami/nginx", true),
        ("docker.io/bitnami", "nginx", false),
        ("bitnami/nginx", "bitnami/nginx:1", true),
        ("bitnami/nginx", "docker.io/bitnami/nginx-evil", false),
        ("library/nginx", "nginx", true),
        ("docker.io", "nginx", true),
        ("docker.io", "ghcr.io/library/nginx", false),
        ("localhost:5000", "localhost:5000/x", true),
        ("localhost:5000", "localhost/x", false),
        ("localhost", "localhost:5000/x", false),
    ];
    for (prefix, image, want) in cases {
        assert_eq!(admits(prefix, image), want, "{prefix} vs {image}");
    }
}

#[test]
fn bad_prefixes() {
    for p in [
        "",
        "/",
        "nginx",
        "bitnami/",
        "ghcr.io/acme:v1",
        "ghcr.io/acme@sha256:0123456789abcdef0123456789abcdef",
        "ghcr.io/Acme/",
        "ghcr.io//x",
        "bad_host.io/x",
    ] {
        assert!(Prefix::parse(p).is_err(), "{p:?}");
    }
    assert_eq!(
        Prefix::parse("nginx").unwrap_err().to_string(),
        "\"nginx\" alone could be the official image or a Docker Hub namespace; write docker.io/library/nginx for the official image or docker.io/nginx/ for the namespace"
    );
    assert_eq!(
        Prefix::parse("Registry.Example.com/acme")
            .unwrap()
            .to_string(),
        "registry.example.com/acme/"
    );
}

/// A DNS-name host, some with a port.
fn host() -> impl Strategy<Value = String> {
    (
        prop::collection::vec("[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", 1..4),
        "(com|io|example|[a-z]{2,5})",
        prop::option::of(1u16..65535),
    )
        .prop_map(|(labels, tld, port)| {
            let h = format!("{}.{tld}", labels.join("."));
            match port {
                Some(p) => format!("{h}:{p}"),
                None => h,
            }
        })
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9]{1,5}([._-][a-z0-9]{1,5}){0,2}", 1..4).prop_map(|s| s.join("/"))
}

/// A reference in many written forms: with or without a host, a tag, a digest.
fn reference() -> impl Strategy<Value = String> {
    (
        prop::option::of(host()),
        path(),
        prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}"),
        prop::option::of("[0-9a-f]{64}"),
    )
        .prop_map(|(host, path, tag, digest)| {
            let mut s = match host {
                Some(h) => format!("{h}/{path}"),
                // Without a host the first segment must not read as one.
                None => match path.split_once('/') {
                    Some((first, rest)) => format!("{}/{rest}", first.replace('.', "-")),
                    None => path,
                },
            };
            if let Some(t) = tag {
                s = format!("{s}:{t}");
            }
            if let Some(d) = digest {
                s = format!("{s}@sha256:{d}");
            }
            s
        })
}

proptest! {
    #[test]
    fn normalization_is_idempotent(r in reference()) {
        let once = ImageName::parse(&r).unwrap();
        let twice = ImageName::parse(&once.to_string()).unwrap();
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(once.to_string(), twice.to_string());
    }

    #[test]
    fn tags_and_digests_do_not_change_the_name(h in host(), p in path(), t in "[a-z0-9]{1,8}") {
        let bare = ImageName::parse(&format!("{h}/{p}")).unwrap();
        let tagged = ImageName::parse(&format!("{h}/{p}:{t}")).unwrap();
        prop_assert_eq!(bare, tagged);
    }

    #[test]
    fn another_host_never_matches(a in host(), b in host(), p in path(), q in path()) {
        let host_of = |h: &str| Prefix::parse(h).unwrap().host;
        prop_assume!(host_of(&a) != host_of(&b));
        let prefix = Prefix::parse(&format!("{a}/{p}")).unwrap();
        let whole = Prefix::parse(&a).unwrap();
        // Even an image whose path repeats the prefix's host and path.
        for image in [format!("{b}/{p}"), format!("{b}/{p}/{q}"), format!("{b}/{a}/{p}")] {
            if let Ok(img) = ImageName::parse(&image) {
                prop_assert!(!prefix.admits(&img), "{} admits {}", prefix, image);
                prop_assert!(!whole.admits(&img), "{} admits {}", whole, image);
            }
        }
    }

    #[test]
    fn a_match_is_the_prefix_plus_whole_segments(a in host(), p in path(), r in reference()) {
        let prefix = Prefix::parse(&format!("{a}/{p}")).unwrap();
        if let Ok(img) = ImageName::parse(&r) {
            if prefix.admits(&img) {
                let full = format!("{}/{}/", img.host(), img.path());
                prop_assert!(full.starts_with(&prefix.to_string()), "{} admits {}", prefix, r);
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
        let _ = ImageName::parse(&s);
        let _ = Prefix::parse(&s);
    }
}
