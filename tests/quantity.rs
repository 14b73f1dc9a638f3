//! Property tests of `tenantguard::quantity` against oracles written
//! independently of it:
//!
//! - the order, zero and sign of generated spellings agree with exact
//!   rational arithmetic on big integers (`num-bigint`);
//! - respellings of one value compare equal, and one unit in the last place
//!   more compares greater, at any size;
//! - a string is read exactly when it matches the documented apimachinery
//!   grammar (as a regular expression) with an exponent that fits 32 bits;
//! - reading never panics, on any string or JSON value.
//!
//! `kube_quantity` was considered as a differential oracle and not used: it
//! parses the number through an `f64`, so it is neither exact nor the same
//! grammar (`inf`, `1e3` read by the float parser).

use std::cmp::Ordering;
use std::sync::LazyLock;

use num_bigint::BigInt;
use proptest::prelude::*;
use regex::Regex;
use serde_json::{json, Value};
use tenantguard::quantity::Quantity;

/// A quantity spelled from parts, with its exact value known.
#[derive(Debug, Clone)]
struct Spelled {
    sign: &'static str,
    int: String,
    frac: Option<String>,
    /// (text, power of ten, power of two)
    suffix: (String, i64, u32),
}

impl Spelled {
    fn text(&self) -> String {
        let frac = self
            .frac
            .as_ref()
            .map_or(String::new(), |f| format!(".{f}"));
        format!("{}{}{frac}{}", self.sign, self.int, self.suffix.0)
    }

    /// The exact value as numerator / denominator (denominator positive).
    fn exact(&self) -> (BigInt, BigInt) {
        let frac = self.frac.clone().unwrap_or_default();
        let digits = format!("0{}{frac}", self.int);
        let mut num: BigInt = digits.parse().expect("digits");
        if self.sign == "-" {
            num = -num;
        }
        num <<= self.suffix.2;
        let exp = self.suffix.1 - frac.len() as i64;
        let ten = BigInt::from(10);
        let pow = ten.pow(exp.unsigned_abs() as u32);
        if exp >= 0 {
            (num * pow, BigInt::from(1))
        } else {
            (num, pow)
        }
    }
}

fn exact_cmp(a: &Spelled, b: &Spelled) -> Ordering {
    let (an, ad) = a.exact();
    let (bn, bd) = b.exact();
    (an * bd).cmp(&(bn * ad))
}

fn suffix() -> impl Strategy<Value = (String, i64, u32)> {
    let named = prop::sample::select(vec![
        ("", 0, 0),
        ("n", -9, 0),
        ("u", -6, 0),
        ("m", -3, 0),
        ("k", 3, 0),
        ("M", 6, 0),
        ("G", 9, 0),
        ("T", 12, 0),
        ("P", 15, 0),
        ("E", 18, 0),
        ("Ki", 0, 10),
        ("Mi", 0, 20),
        ("Gi", 0, 30),
        ("Ti", 0, 40),
        ("Pi", 0, 50),
        ("Ei", 0, 60),
    ])
    .prop_map(|(s, e, b)| (s.to_string(), e, b));
    let exponent = (
        prop::sample::select(vec!["e", "E"]),
        -40i64..40,
        any::<bool>(),
        0usize..3,
    )
        .prop_map(|(letter, e, plus, zeros)| {
            let sign = if e < 0 {
                "-"
            } else if plus {
                "+"
            } else {
                ""
            };
            let text = format!("{letter}{sign}{}{}", "0".repeat(zeros), e.unsigned_abs());
            (text, e, 0)
        });
    prop_oneof![named, exponent]
}

fn spelled() -> impl Strategy<Value = Spelled> {
    (
        prop::sample::select(vec!["", "+", "-"]),
        "[0-9]{0,24}",
        prop::option::of("[0-9]{0,14}"),
        suffix(),
    )
        .prop_map(|(sign, int, frac, suffix)| {
            // The grammar needs a digit before or after the point.
            let int = if int.is_empty() && frac.as_deref().unwrap_or("").is_empty() {
                "0".to_string()
            } else {
                int
            };
            Spelled {
                sign,
                int,
                frac,
                suffix,
            }
        })
}

/// Strings made of the grammar's pieces, so that many are quantities and
/// the rest fail in one place.
fn near_quantity() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "+",
        "-",
        ".",
        "0",
        "1",
        "9",
        "12",
        "007",
        "e",
        "E",
        "i",
        "K",
        "Ki",
        "k",
        "m",
        "M",
        "Mi",
        "n",
        "u",
        "G",
        "Gi",
        "T",
        "Ti",
        "P",
        "Pi",
        "Ei",
        "E5",
        "e-3",
        "e+",
        "e+12",
        "e2147483647",
        "e-2147483648",
        "e2147483648",
        "e99999999999999999999",
        " ",
        "\t",
        "x",
        "\u{a0}",
    ]);
    prop::collection::vec(pieces, 0..6).prop_map(|p| p.concat())
}

fn read(s: &str) -> Quantity {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should be read: {e}"))
}

/// The documented grammar of apimachinery's `resource.Quantity`.
static GRAMMAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE]([+-]?[0-9]+))?$")
        .expect("grammar")
});

fn grammar_accepts(s: &str) -> bool {
    let Some(m) = GRAMMAR.captures(s.trim()) else {
        return false;
    };
    // Kubernetes reads the exponent as 32 bits; a wider one is misread.
    m.get(4).is_none_or(|e| {
        let e: BigInt = e.as_str().parse().expect("exponent digits");
        e >= BigInt::from(i32::MIN) && e <= BigInt::from(i32::MAX)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn order_agrees_with_exact_arithmetic(a in spelled(), b in spelled()) {
        let (qa, qb) = (read(&a.text()), read(&b.text()));
        prop_assert_eq!(qa.cmp(&qb), exact_cmp(&a, &b), "{} vs {}", a.text(), b.text());
        prop_assert_eq!(qa == qb, exact_cmp(&a, &b) == Ordering::Equal);
        let (num, _) = a.exact();
        prop_assert_eq!(qa.is_zero(), num == BigInt::from(0), "{}", a.text());
        prop_assert_eq!(qa.is_negative(), num < BigInt::from(0), "{}", a.text());
    }

    /// The same value spelled with the point moved and the exponent made up
    /// for it, at exponents no integer type holds.
    #[test]
    fn respellings_are_equal_and_one_more_is_greater(
        digits in "[1-9][0-9]{0,40}",
        exp in -2_000_000_000i64..2_000_000_000,
        shift in 0usize..30,
        negative in any::<bool>(),
    ) {
        let sign = if negative { "-" } else { "" };
        let plain = read(&format!("{sign}{digits}e{exp}"));
        let padded = read(&format!("{sign}{digits}{}e{}", "0".repeat(shift), exp - shift as i64));
        let fraction = read(&format!("{sign}0.{}{digits}e{}", "0".repeat(shift), exp + (shift + digits.len()) as i64));
        prop_assert_eq!(&plain, &padded);
        prop_assert_eq!(&plain, &fraction);
        let next = (digits.parse::<BigInt>().expect("digits") + BigInt::from(1)).to_string();
        let bigger = read(&format!("{sign}{next}e{exp}"));
        let want = if negative { Ordering::Greater } else { Ordering::Less };
        prop_assert_eq!(plain.cmp(&bigger), want, "{}e{} vs {}e{}", digits, exp, next, exp);
        // A larger power of ten wins whatever the digits, within 32 bits.
        let up = read(&format!("{sign}1e{}", exp + digits.len() as i64));
        prop_assert_eq!(plain.cmp(&up), want);
    }

    /// Binary suffixes are exact multiples of 1024.
    #[test]
    fn binary_suffixes_are_powers_of_two(n in "[0-9]{1,30}", step in 0usize..6) {
        let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
        let n_big: BigInt = n.parse().expect("digits");
        let times_1024: BigInt = n_big << 10usize;
        prop_assert_eq!(
            read(&format!("{n}{}", suffixes[step + 1])),
            read(&format!("{times_1024}{}", suffixes[step]))
        );
    }

    #[test]
    fn read_exactly_what_the_grammar_accepts(
        s in prop_oneof![near_quantity(), "[ 0-9+.eEinumkKMGTPx-]{0,14}"]
    ) {
        let got = s.parse::<Quantity>();
        prop_assert_eq!(got.is_ok(), grammar_accepts(&s), "{:?}: {:?}", s, got);
    }

    #[test]
    fn never_panics_on_any_string(s in any::<String>()) {
        if let Ok(q) = s.parse::<Quantity>() {
            prop_assert_eq!(q.cmp(&q), Ordering::Equal);
            prop_assert!(grammar_accepts(&s), "{:?}", s);
        }
        let _ = Quantity::from_json(&Value::String(s));
    }

    #[test]
    fn never_panics_on_any_json_scalar(
        v in prop_oneof![
            any::<f64>().prop_map(|f| json!(f)),
            any::<i64>().prop_map(|i| json!(i)),
            any::<u64>().prop_map(|u| json!(u)),
            any::<bool>().prop_map(|b| json!(b)),
            Just(Value::Null),
            "[0-9.eE+-]{0,30}".prop_map(|s| json!(s)),
        ]
    ) {
        if let Ok(q) = Quantity::from_json(&v) {
            prop_assert_eq!(q.cmp(&q), Ordering::Equal);
        }
    }
}
