//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`), compared exactly.
//!
//! Reference: <https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/>.
//! Values are held in nano-units as `i128`, which covers every suffix up to
//! `Ei` without rounding, so `1Gi` equals `1073741824` and `0.5` equals `500m`.

use std::fmt;
use std::str::FromStr;

/// A parsed quantity in nano-units (1 = 10⁻⁹ of the base unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i128);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError(String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a Kubernetes quantity (examples: 500m, 2, 128Mi, 1.5Gi)",
            self.0
        )
    }
}

impl std::error::Error for QuantityError {}

impl Quantity {
    pub fn nanos(self) -> i128 {
        self.0
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).ok_or_else(|| QuantityError(s.to_string()))
    }
}

fn parse(s: &str) -> Option<Quantity> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
        return None;
    }
    // mantissa * 10^exp10 * 2^exp2 nano-units
    let digits = format!("{int_part}{frac_part}");
    let mantissa: i128 = digits.parse().ok()?;
    let mut exp10: i32 = 9 - frac_part.len() as i32;
    let mut exp2: u32 = 0;
    match suffix {
        "" => {}
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        "Ki" => exp2 = 10,
        "Mi" => exp2 = 20,
        "Gi" => exp2 = 30,
        "Ti" => exp2 = 40,
        "Pi" => exp2 = 50,
        "Ei" => exp2 = 60,
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let e: i32 = exp.parse().ok()?;
            if !(-40..=40).contains(&e) {
                return None;
            }
            exp10 += e;
        }
    }
    let mut value = mantissa.checked_mul(1i128.checked_shl(exp2)?)?;
    if exp10 >= 0 {
        value = value.checked_mul(10i128.checked_pow(exp10 as u32)?)?;
    } else {
        // Below a nano-unit: Kubernetes rounds up, so do we.
        let div = 10i128.checked_pow(exp10.unsigned_abs())?;
        value = (value + div - 1) / div;
    }
    Some(Quantity(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> i128 {
        s.parse::<Quantity>().unwrap().nanos()
    }

    #[test]
    fn equal_values_in_different_notations() {
        let cases = [
            ("500m", "0.5"),
            ("1Gi", "1073741824"),
            ("1k", "1000"),
            ("1e3", "1k"),
            ("1E3", "1000"),
            ("2", "2000m"),
            ("128Mi", "134217728"),
            ("1.5Gi", "1536Mi"),
            ("100n", "0.0000001"),
            ("+1", "1"),
        ];
        for (a, b) in cases {
            assert_eq!(q(a), q(b), "{a} vs {b}");
        }
    }

    #[test]
    fn ordering() {
        assert!(q("500m") < q("1"));
        assert!(q("512Mi") < q("1Gi"));
        assert!(q("1G") < q("1Gi"));
        assert!(q("-1") < q("0"));
        assert!(q("1E") < q("1Ei"));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "abc",
            "1.2.3",
            "1Xi",
            ".",
            "1e999",
            "m",
            "1 Gi",
            "99999999999999999999999999999999999999Ei",
        ] {
            assert!(s.parse::<Quantity>().is_err(), "{s:?} parsed");
        }
    }
}
