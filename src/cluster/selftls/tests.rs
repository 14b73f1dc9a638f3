//! The flags of TLS mode self.

use super::*;

use crate::cli::testing::serve;
use crate::cli::Cli;
use clap::Parser;

const SELF: [&str; 4] = [
    "--tls-self-secret",
    "tenantguard-tls",
    "--tls-self-webhooks",
    "tg-mutate,tg-validate",
];

#[test]
fn options_from_flags() {
    assert!(from_args(&serve(&["--cluster"]), false).unwrap().is_none());
    let mut args = SELF.to_vec();
    args.extend([
        "--cluster",
        "--own-namespace",
        "tg",
        "--tls-self-service",
        "guard",
    ]);
    let o = from_args(&serve(&args), false).unwrap().unwrap();
    assert_eq!(
        (o.secret.as_str(), o.namespace.as_str()),
        ("tenantguard-tls", "tg")
    );
    assert_eq!(
        (o.mutating.as_str(), o.validating.as_str()),
        ("tg-mutate", "tg-validate")
    );
    assert_eq!(o.names[0], "guard.tg.svc");
    assert_eq!(o.interval, Duration::from_secs(60));
    // In a pod the cluster is implied.
    assert!(from_args(&serve(&SELF), true).unwrap().is_some());
}

#[test]
fn bad_flags_say_what_to_do() {
    let cases: [(&str, Vec<&str>, &str); 3] = [
        ("no cluster", SELF.to_vec(), "--cluster"),
        (
            "one webhook",
            vec![
                "--cluster",
                "--tls-self-secret",
                "s",
                "--tls-self-webhooks",
                "only-one",
            ],
            "MUTATING,VALIDATING",
        ),
        (
            "an empty name",
            vec![
                "--cluster",
                "--tls-self-secret",
                "s",
                "--tls-self-webhooks",
                "m,",
            ],
            "empty",
        ),
    ];
    for (name, args, want) in cases {
        let err = from_args(&serve(&args), false).unwrap_err().to_string();
        assert!(err.contains(want), "{name}: {err}");
    }
    // With files, or without the webhooks, the flags do not parse.
    for args in [
        vec![
            "serve",
            "--tls-self-secret",
            "s",
            "--tls-self-webhooks",
            "m,v",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
        ],
        vec!["serve", "--tls-self-secret", "s"],
    ] {
        let mut all = vec!["tenantguard"];
        all.extend(args);
        assert!(Cli::try_parse_from(&all).is_err(), "{all:?}");
    }
}
