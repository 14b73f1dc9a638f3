//! Named cases for the quantity grammar and its order; the property tests
//! against an independent exact oracle are in `tests/quantity.rs`.

use super::*;
use serde_json::json;

fn q(s: &str) -> Quantity {
    s.parse::<Quantity>()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn unreadable(s: &str) -> Unreadable {
    match s.parse::<Quantity>() {
        Ok(v) => panic!("{s:?} parsed as {v:?}"),
        Err(e) => e.reason,
    }
}

#[test]
fn equal_values_in_different_notations() {
    let cases = [
        ("500m", "0.5"),
        ("1Gi", "1073741824"),
        ("1k", "1000"),
        ("1e3", "1k"),
        ("1E3", "1000"),
        ("1E+3", "1k"),
        ("1e0003", "1k"),
        ("2", "2000m"),
        ("128Mi", "134217728"),
        ("1.5Gi", "1536Mi"),
        ("100n", "0.0000001"),
        ("+1", "1"),
        ("1.", "1"),
        (".5", "500m"),
        ("1.G", "1G"),
        ("0.5Ki", "512"),
        ("1Ei", "1152921504606846976"),
        ("001.500", "1.5"),
        ("1E", "1e18"),
        ("0.5e-9", "0.5n"),
        (
            "12345678901234567890123456789012345678901234567890",
            "1.2345678901234567890123456789012345678901234567890e49",
        ),
        // Surrounding whitespace, which the apiserver's JSON decoding trims.
        (" 1Gi\t", "1Gi"),
    ];
    for (a, b) in cases {
        assert_eq!(q(a), q(b), "{a} vs {b}");
        assert_eq!(q(a).cmp(&q(b)), Ordering::Equal, "{a} vs {b}");
    }
}

#[test]
fn zero_in_every_spelling() {
    for s in [
        "0",
        "0Gi",
        "0m",
        "0.0",
        "-0",
        "+0",
        "0e5",
        "0E-7",
        "00",
        ".0",
        "0.",
        "-0.000Ki",
        "0n",
        "0Ei",
        "0e2147483647",
    ] {
        let v = q(s);
        assert!(v.is_zero(), "{s}");
        assert!(!v.is_negative(), "{s}: zero is not negative");
        assert_eq!(v, q("0"), "{s}");
    }
    assert!(!q("1n").is_zero());
    assert!(!q("0.0000000000000000001").is_zero());
}

#[test]
fn ordering() {
    let less = [
        ("500m", "1"),
        ("512Mi", "1Gi"),
        ("1G", "1Gi"),
        ("-1", "0"),
        ("-1Gi", "-1G"),
        ("1E", "1Ei"),
        ("999m", "1"),
        ("1", "1.0000000000000000000000000000000000000001"),
        ("1073741824", "1073741825"),
        ("1Gi", "1073741825"),
        ("1023Mi", "1Gi"),
        ("1e29", "1e30"),
        // The review's overflow: about 1.7 G bytes, above 512Mi, not wrapped negative.
        ("512Mi", "170141183460469231731687303715884105727e-29"),
        ("1Gi", "170141183460469231731687303715884105727e-29"),
        ("170141183460469231731687303715884105727e-29", "2Gi"),
        // Sizes no integer type holds.
        ("9Ei", "1e1000000"),
        ("1e1000000", "1e1000001"),
        ("1e-1000000", "1n"),
        ("-1e1000000", "-9Ei"),
        ("0", "1e-2147483648"),
        ("99999999999999999999999999999999999999Ei", "1e100"),
        ("1e2147483647", "10e2147483647"),
    ];
    for (a, b) in less {
        assert!(q(a) < q(b), "{a} < {b}");
        assert!(q(b) > q(a), "{b} > {a}");
        assert!(q(&neg(a)) > q(&neg(b)), "-({a}) > -({b})");
    }
}

/// The spelling of `-s`, for the mirrored checks above.
fn neg(s: &str) -> String {
    match s.strip_prefix('-') {
        Some(rest) => rest.to_string(),
        None => format!("-{s}"),
    }
}

#[test]
fn rejects_what_kubernetes_rejects_or_misreads() {
    use Unreadable::*;
    let cases = [
        ("", Empty),
        ("   ", Empty),
        ("abc", NoDigits),
        ("Gi", NoDigits),
        (".", NoDigits),
        ("-", NoDigits),
        ("+", NoDigits),
        ("-.", NoDigits),
        (".G", NoDigits),
        ("1.2.3", Suffix),
        ("1.1.M", Suffix),
        ("1+1.0M", Suffix),
        ("1Xi", Suffix),
        ("2gi", Suffix),
        ("1K", Suffix),
        ("1kk", Suffix),
        ("0.1mi", Suffix),
        ("0.1am", Suffix),
        (".5i", Suffix),
        ("1i", Suffix),
        ("1 Gi", Suffix),
        ("1e3Ki", Exponent),
        ("1Mi3", Suffix),
        ("1e", Exponent),
        ("1E+", Exponent),
        ("-3.01e-", Exponent),
        ("1e1.5", Exponent),
        ("1e1e1", Exponent),
        ("1EE", Exponent),
        ("1e+-3", Exponent),
        ("1e2147483648", ExponentRange),
        ("1e-2147483649", ExponentRange),
        ("1e4294967296", ExponentRange),
        ("1e99999999999999999999999", ExponentRange),
        ("١", NoDigits),
        ("1\u{0}", Suffix),
        ("--1", NoDigits),
    ];
    for (s, why) in cases {
        assert_eq!(unreadable(s), why, "{s:?}");
    }
}

#[test]
fn negative_values_parse_and_say_so() {
    assert!(q("-1").is_negative());
    assert!(q("-0.5Gi").is_negative());
    assert!(!q("1").is_negative());
}

#[test]
fn from_json_reads_strings_and_numbers() {
    assert_eq!(Quantity::from_json(&json!("500m")), Ok(q("0.5")));
    assert_eq!(Quantity::from_json(&json!(" 2 ")), Ok(q("2")));
    assert_eq!(Quantity::from_json(&json!(2)), Ok(q("2")));
    assert_eq!(Quantity::from_json(&json!(-3)), Ok(q("-3")));
    assert_eq!(Quantity::from_json(&json!(0.5)), Ok(q("500m")));
    assert_eq!(Quantity::from_json(&json!(1e30)), Ok(q("1e30")));
    assert_eq!(Quantity::from_json(&json!(1000.0)), Ok(q("1k")));
    assert_eq!(
        Quantity::from_json(&json!(u64::MAX)),
        Ok(q("18446744073709551615"))
    );
    for v in [json!(null), json!(true), json!([]), json!({"cpu": 1})] {
        assert_eq!(
            Quantity::from_json(&v).map_err(|e| e.reason),
            Err(Unreadable::NotAStringOrNumber),
            "{v}"
        );
    }
}

#[test]
fn error_message_names_the_input_shortened() {
    let e = "2gi".parse::<Quantity>().unwrap_err().to_string();
    assert!(
        e.starts_with("\"2gi\" is not a Kubernetes quantity: its suffix"),
        "{e}"
    );
    assert!(e.contains("examples: 500m"), "{e}");
    let long = format!("1{}x", "0".repeat(10_000));
    let e = long.parse::<Quantity>().unwrap_err().to_string();
    assert!(e.len() < 300, "{} bytes", e.len());
    assert!(e.contains('…'), "{e}");
}

#[test]
fn long_inputs_are_read_in_linear_time() {
    let big = format!("{}Ei", "9".repeat(200_000));
    let bigger = format!("1{}Ei", "0".repeat(200_000));
    assert!(q(&big) < q(&bigger));
    let tiny = format!("0.{}1", "0".repeat(200_000));
    assert!(q(&tiny) > q("0"));
    assert!(q(&tiny) < q("1e-200000"));
}

/// Digits are held inline up to `INLINE_DIGITS` and boxed beyond; values
/// on either side of that line, and a binary suffix that needs the room
/// behind the written digits, read and compare as any other.
#[test]
fn digit_storage_boundaries() {
    let nines = |n: usize| "9".repeat(n);
    let equal: Vec<(String, String)> = vec![
        // 19 digits times 2^60: the product fills the inline work space.
        (
            "9999999999999999999Ei".into(),
            "11529215046068469758847078495393153024".into(),
        ),
        // 20 digits times 2^60: the work space goes to the heap.
        (
            "99999999999999999999Ei".into(),
            "115292150460684697598847078495393153024".into(),
        ),
        (
            "12345678901234567890123456789012345678Ki".into(),
            "12641975194864197519486419751948641974272".into(),
        ),
        // Exactly INLINE_DIGITS significant digits, and one more.
        (
            nines(INLINE_DIGITS),
            format!("9.{}e37", nines(INLINE_DIGITS - 1)),
        ),
        (
            nines(INLINE_DIGITS + 1),
            format!("0.{}e39", nines(INLINE_DIGITS + 1)),
        ),
    ];
    for (a, b) in &equal {
        assert_eq!(q(a), q(b), "{a} vs {b}");
        assert_eq!(q(a).cmp(&q(b)), Ordering::Equal, "{a} vs {b}");
    }
    let inline_max = q(&nines(INLINE_DIGITS));
    let heap_min = q(&format!("1{}1", "0".repeat(INLINE_DIGITS - 1)));
    assert!(inline_max < heap_min);
    assert!(
        q(&format!("-{}", nines(INLINE_DIGITS)))
            > q(&format!("-1{}1", "0".repeat(INLINE_DIGITS - 1)))
    );
    // Trailing zeros are not significant: a long written value with few
    // significant digits is held inline, equal to its short spelling.
    assert_eq!(q(&format!("12{}", "0".repeat(100))), q("12e100"));
    assert_eq!(q(&format!("0.{}5", "0".repeat(100))), q("5e-101"));
}
