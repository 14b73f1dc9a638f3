//! Exact sums and differences of quantities, and writing a quantity back as
//! text the apiserver reads to the same value (for ResourceQuota `hard` and
//! the Tenant's status). No floats anywhere: a budget that is off by a
//! rounding error is a budget a tenant can exceed.

use std::fmt;

use super::Quantity;

/// The most digits an exact sum may need once both terms are aligned to the
/// same power of ten. Real quantities (nano-units up to exa-units) need
/// about 30; `1e1000000 + 1m` would need a million, and is refused instead.
const MAX_ALIGNED_DIGITS: usize = 4096;

impl Quantity {
    /// `self + other`, exactly; None when the terms are too far apart in
    /// scale (see [`MAX_ALIGNED_DIGITS`]).
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        if self.is_zero() {
            return Some(other.clone());
        }
        if other.is_zero() {
            return Some(self.clone());
        }
        let exp = self.exp.min(other.exp);
        let a = aligned(self, exp)?;
        let b = aligned(other, exp)?;
        let (negative, magnitude) = if self.negative == other.negative {
            (self.negative, add_le(&a, &b))
        } else {
            match self.cmp_magnitude(other) {
                std::cmp::Ordering::Equal => return Some(Quantity::zero()),
                std::cmp::Ordering::Greater => (self.negative, sub_le(&a, &b)),
                std::cmp::Ordering::Less => (other.negative, sub_le(&b, &a)),
            }
        };
        Some(from_le(negative, magnitude, exp))
    }

    /// `self - other`, exactly (see [`Quantity::checked_add`]).
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        self.checked_add(&other.negated())
    }

    /// `-self`.
    pub fn negated(&self) -> Quantity {
        let mut q = self.clone();
        q.negative = !q.is_zero() && !q.negative;
        q
    }

    /// Zero.
    pub fn zero_value() -> Quantity {
        Quantity::zero()
    }

    /// The nearest `f64`, for Prometheus gauges only (never for arithmetic
    /// or comparisons); beyond `f64`'s range, infinity.
    pub fn to_f64_lossy(&self) -> f64 {
        if self.is_zero() {
            return 0.0;
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{digits}e{}", self.exp)
            .parse()
            .unwrap_or(f64::NAN)
    }
}

/// The digits of `q` as a multiple of `10^exp` (`exp` ≤ `q.exp`), least
/// significant first.
fn aligned(q: &Quantity, exp: i64) -> Option<Vec<u8>> {
    let shift = usize::try_from(q.exp.checked_sub(exp)?).ok()?;
    if shift.checked_add(q.digits.len())? > MAX_ALIGNED_DIGITS {
        return None;
    }
    let mut out = vec![0u8; shift];
    out.extend(q.digits.iter().rev());
    Some(out)
}

fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0u8;
    for i in 0..a.len().max(b.len()) {
        let s = a.get(i).copied().unwrap_or(0) + b.get(i).copied().unwrap_or(0) + carry;
        out.push(s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out
}

/// `a - b` for `a ≥ b`.
fn sub_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    for (i, &d) in a.iter().enumerate() {
        let mut v = d as i8 - b.get(i).copied().unwrap_or(0) as i8 - borrow;
        borrow = 0;
        if v < 0 {
            v += 10;
            borrow = 1;
        }
        out.push(v as u8);
    }
    out
}

/// The canonical quantity of little-endian digits times `10^exp`.
fn from_le(negative: bool, mut le: Vec<u8>, mut exp: i64) -> Quantity {
    while le.last() == Some(&0) {
        le.pop();
    }
    let trailing = le.iter().take_while(|&&d| d == 0).count();
    le.drain(..trailing);
    if le.is_empty() {
        return Quantity::zero();
    }
    exp += trailing as i64;
    le.reverse();
    Quantity {
        negative,
        digits: super::Digits::new(&le),
        exp,
    }
}

/// Decimal SI suffixes by power of ten.
const DECIMAL: [(i64, &str); 10] = [
    (18, "E"),
    (15, "P"),
    (12, "T"),
    (9, "G"),
    (6, "M"),
    (3, "k"),
    (0, ""),
    (-3, "m"),
    (-6, "u"),
    (-9, "n"),
];

/// Binary SI suffixes by power of 1024.
const BINARY: [(u32, &str); 6] = [
    (6, "Ei"),
    (5, "Pi"),
    (4, "Ti"),
    (3, "Gi"),
    (2, "Mi"),
    (1, "Ki"),
];

impl Quantity {
    /// The shortest of the decimal-suffix form and, for whole numbers that
    /// fit 128 bits, the binary-suffix form (`8Gi` rather than `8589934592`).
    fn decimal_text(&self) -> String {
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        match DECIMAL.iter().find(|(e, _)| *e <= self.exp) {
            Some((e, suffix)) if self.exp - e <= 18 => {
                let zeros = "0".repeat((self.exp - e) as usize);
                format!("{digits}{zeros}{suffix}")
            }
            _ => format!("{digits}e{}", self.exp),
        }
    }

    fn binary_text(&self) -> Option<String> {
        if self.exp < 0 {
            return None;
        }
        let mut v: u128 = 0;
        for &d in self.digits.iter() {
            v = v.checked_mul(10)?.checked_add(u128::from(d))?;
        }
        for _ in 0..self.exp {
            v = v.checked_mul(10)?;
        }
        BINARY.iter().find_map(|(p, suffix)| {
            let unit = 1u128 << (10 * p);
            (v % unit == 0).then(|| format!("{}{suffix}", v / unit))
        })
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let decimal = self.decimal_text();
        let text = match self.binary_text() {
            Some(b) if b.len() < decimal.len() => b,
            _ => decimal,
        };
        if self.negative {
            f.write_str("-")?;
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn sums_and_differences_are_exact() {
        let cases = [
            ("1", "500m", "1500m"),
            ("4", "-1500m", "2500m"),
            ("1Gi", "512Mi", "1536Mi"),
            ("8Gi", "-8Gi", "0"),
            ("100m", "-250m", "-150m"),
            ("1n", "1E", "1000000000000000000000000001n"),
            ("0.1", "0.2", "300m"),
            ("0", "-5", "-5"),
            ("-2", "-3", "-5"),
            ("999", "1", "1k"),
        ];
        for (a, b, want) in cases {
            let got = q(a).checked_add(&q(b)).unwrap();
            assert_eq!(got, q(want), "{a} + {b}");
            assert_eq!(got.checked_sub(&q(b)).unwrap(), q(a), "({a} + {b}) - {b}");
            assert_eq!(q(b).checked_add(&q(a)).unwrap(), got, "commutes");
        }
        assert_eq!(q("5").checked_sub(&q("5")).unwrap(), Quantity::zero_value());
        assert!(!q("5").checked_sub(&q("5")).unwrap().is_negative());
        assert!(
            q("1e100000").checked_add(&q("1m")).is_none(),
            "too far apart"
        );
        assert_eq!(
            q("1e100000").checked_add(&q("1e100000")).unwrap(),
            q("2e100000")
        );
    }

    #[test]
    fn written_back_as_the_same_value() {
        let cases = [
            ("0", "0"),
            ("1500m", "1500m"),
            ("1.5", "1500m"),
            ("8Gi", "8Gi"),
            ("1536Mi", "1536Mi"),
            ("1000", "1k"),
            ("1024", "1Ki"),
            ("2048000", "2048k"),
            ("1048576000", "1000Mi"),
            ("5", "5"),
            ("100n", "100n"),
            ("1e-12", "1e-12"),
            ("1e40", "1e40"),
            ("-250m", "-250m"),
            ("12345", "12345"),
            ("4", "4"),
        ];
        for (input, want) in cases {
            let text = q(input).to_string();
            assert_eq!(text, want, "{input}");
            assert_eq!(q(&text), q(input), "{input} reads back");
        }
    }
}
