//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`), read the way the
//! apiserver reads them and compared exactly, whatever their size.
//!
//! Reference: apimachinery `resource.Quantity`
//! (<https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/>):
//!
//! ```text
//! <quantity>        ::= <signedNumber><suffix>
//! <signedNumber>    ::= <number> | <sign><number>
//! <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//! <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
//! <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
//! <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
//! <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>
//! ```
//!
//! The exponent's `<signedNumber>` is an integer (apimachinery parses it with
//! `strconv.ParseInt`). Two places where apimachinery's scanner is laxer than
//! its grammar are refused here, because a value Kubernetes misreads cannot be
//! judged: a number without any digit (`.`, `-`, `+`, which the scanner reads
//! as zero), and an exponent outside 32 bits (apimachinery truncates it to
//! `int32`, so `1e4294967296` would become `1`).
//!
//! A value is held as its significant decimal digits and a power of ten, a
//! binary suffix multiplied into the digits, so two quantities compare exactly
//! with no arithmetic that can overflow: `1e1000000`, forty-digit mantissas and
//! fractions below a nano-unit included. Nothing is rounded. The apiserver
//! rounds a value up to the next nano-unit; that never reverses the order of
//! two values and never makes a non-zero value zero, so an exact comparison
//! decides as Kubernetes does, or more strictly.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// A quantity: `digits × 10^exp`, negative when `negative`.
///
/// Canonical, so the derived equality is numeric equality: `digits` holds
/// decimal digit values (0–9) with no leading and no trailing zero, is empty
/// for zero, and zero is never negative and has `exp` 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quantity {
    negative: bool,
    digits: Digits,
    exp: i64,
}

/// The most digits held without an allocation: every quantity people write
/// (a binary suffix adds at most 19 digits to the ones written) fits.
const INLINE_DIGITS: usize = 38;

/// A quantity's digit values, most significant first: inline up to
/// [`INLINE_DIGITS`], boxed beyond. Compared, hashed and shown as the slice
/// they hold, so where they are stored never makes two quantities differ.
#[derive(Clone)]
pub(crate) enum Digits {
    Inline { len: u8, buf: [u8; INLINE_DIGITS] },
    Heap(Box<[u8]>),
}

impl Digits {
    fn new(digits: &[u8]) -> Digits {
        match u8::try_from(digits.len()) {
            Ok(len) if digits.len() <= INLINE_DIGITS => {
                let mut buf = [0u8; INLINE_DIGITS];
                buf[..digits.len()].copy_from_slice(digits);
                Digits::Inline { len, buf }
            }
            _ => Digits::Heap(digits.into()),
        }
    }
}

impl std::ops::Deref for Digits {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Digits::Inline { len, buf } => &buf[..usize::from(*len)],
            Digits::Heap(b) => b,
        }
    }
}

impl PartialEq for Digits {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Digits {}

impl std::hash::Hash for Digits {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl fmt::Debug for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// Why a quantity cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Nothing but whitespace.
    Empty,
    /// No digit before the suffix (`.`, `-`, `Gi`, `abc`).
    NoDigits,
    /// Not one of the suffixes Kubernetes knows (`2gi`, `1K`, `1.2.3`, `1 Gi`).
    Suffix,
    /// An `e` exponent that is not an integer (`1e`, `1e1.5`).
    Exponent,
    /// An exponent outside 32 bits, which Kubernetes truncates.
    ExponentRange,
    /// A JSON value that is neither a string nor a number.
    NotAStringOrNumber,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unreadable::Empty => "it is empty",
            Unreadable::NoDigits => "it has no digits before the suffix",
            Unreadable::Suffix => {
                "its suffix is not one of n u m k M G T P E Ki Mi Gi Ti Pi Ei or an e exponent"
            }
            Unreadable::Exponent => "its e exponent is not a whole number",
            Unreadable::ExponentRange => {
                "its exponent is beyond what Kubernetes reads (at most 2147483647)"
            }
            Unreadable::NotAStringOrNumber => "a quantity is a string or a number",
        })
    }
}

/// A quantity that cannot be read, with the input shown (shortened) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown} is not a Kubernetes quantity: {reason} (examples: 500m, 2, 128Mi, 1.5Gi, 1e3)")]
pub struct QuantityError {
    shown: String,
    pub reason: Unreadable,
}

/// Inputs are echoed into denial messages: keep them short.
const SHOWN_CHARS: usize = 40;

impl QuantityError {
    fn new(input: &str, reason: Unreadable) -> Self {
        let mut shown: String = input.chars().take(SHOWN_CHARS).collect();
        if shown.len() < input.len() {
            shown.push('…');
        }
        QuantityError {
            shown: format!("{shown:?}"),
            reason,
        }
    }
}

impl Quantity {
    fn zero() -> Quantity {
        Quantity {
            negative: false,
            digits: Digits::new(&[]),
            exp: 0,
        }
    }

    /// Reads a quantity from a JSON value the way the apiserver decodes one
    /// (`Quantity.UnmarshalJSON`): a string, surrounding whitespace ignored,
    /// or a number read from its text. serde_json keeps integers exact and
    /// writes a float as its shortest round-trip decimal, which is also what
    /// kubectl sends for a YAML float. Callers decide what `null` means.
    pub fn from_json(v: &Value) -> Result<Quantity, QuantityError> {
        match v {
            Value::String(s) => s.parse(),
            Value::Number(n) => n.to_string().parse(),
            other => Err(QuantityError::new(
                &other.to_string(),
                Unreadable::NotAStringOrNumber,
            )),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// -1, 0 or 1.
    fn signum(&self) -> i8 {
        match (self.is_zero(), self.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }

    /// Compares absolute values of two non-zero quantities.
    fn cmp_magnitude(&self, other: &Quantity) -> Ordering {
        // The power of ten just above the leading digit decides first; i128
        // because a length plus an exponent must not wrap.
        let order = |q: &Quantity| q.digits.len() as i128 + i128::from(q.exp);
        // Then the digits: with no trailing zeros, a shorter list that is a
        // prefix of a longer one is the smaller value.
        order(self)
            .cmp(&order(other))
            .then_with(|| (*self.digits).cmp(&*other.digits))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        match self.signum().cmp(&other.signum()) {
            Ordering::Equal if self.is_zero() => Ordering::Equal,
            Ordering::Equal if self.negative => other.cmp_magnitude(self),
            Ordering::Equal => self.cmp_magnitude(other),
            by_sign => by_sign,
        }
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    /// Surrounding whitespace is ignored, as the apiserver ignores it when it
    /// decodes a quantity from JSON (and Tenant fields end up in JSON).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s.trim().as_bytes()).map_err(|reason| QuantityError::new(s, reason))
    }
}

fn digit_count(s: &[u8]) -> usize {
    s.iter().take_while(|c| c.is_ascii_digit()).count()
}

fn parse(s: &[u8]) -> Result<Quantity, Unreadable> {
    let (negative, rest) = match s {
        [] => return Err(Unreadable::Empty),
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    let (int, rest) = rest.split_at(digit_count(rest));
    let (frac, rest) = match rest {
        [b'.', after @ ..] => after.split_at(digit_count(after)),
        _ => (&rest[..0], rest),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(Unreadable::NoDigits);
    }
    let (exp10, bits) = suffix(rest)?;
    let frac_len = i64::try_from(frac.len()).map_err(|_| Unreadable::ExponentRange)?;
    // Moving the decimal point behind the last fraction digit.
    let exp = exp10
        .checked_sub(frac_len)
        .ok_or(Unreadable::ExponentRange)?;
    // The significant digits, written behind room for the at most 19
    // leading digits a binary suffix adds: straight into the inline
    // storage unless the input is very long.
    let (int, frac) = match int.iter().position(|&c| c != b'0') {
        Some(i) => (&int[i..], frac),
        None => (
            &int[..0],
            &frac[frac.iter().take_while(|&&c| c == b'0').count()..],
        ),
    };
    let n = int.len() + frac.len();
    if n == 0 {
        return Ok(Quantity::zero());
    }
    let room = if bits == 0 { 0 } else { 19 };
    let mut inline = [0u8; INLINE_DIGITS];
    let mut heap = Vec::new();
    let work: &mut [u8] = if room + n <= INLINE_DIGITS {
        &mut inline[..room + n]
    } else {
        heap.resize(room + n, 0);
        &mut heap
    };
    let (w_int, w_frac) = work[room..].split_at_mut(int.len());
    for (w, c) in w_int.iter_mut().zip(int) {
        *w = c - b'0';
    }
    for (w, c) in w_frac.iter_mut().zip(frac) {
        *w = c - b'0';
    }
    let start = times_pow2(work, room, bits);
    let trailing = work[start..].iter().rev().take_while(|&&d| d == 0).count();
    let end = work.len() - trailing;
    let trailing = i64::try_from(trailing).map_err(|_| Unreadable::ExponentRange)?;
    let exp = exp.checked_add(trailing).ok_or(Unreadable::ExponentRange)?;
    let digits = if heap.is_empty() {
        // The digits move to the front of the buffer they are in.
        inline.copy_within(start..end, 0);
        Digits::Inline {
            // At most INLINE_DIGITS.
            len: (end - start) as u8,
            buf: inline,
        }
    } else {
        Digits::new(&heap[start..end])
    };
    Ok(Quantity {
        negative,
        digits,
        exp,
    })
}

/// The suffix as (power of ten, power of two).
fn suffix(s: &[u8]) -> Result<(i64, u32), Unreadable> {
    Ok(match s {
        b"" => (0, 0),
        b"n" => (-9, 0),
        b"u" => (-6, 0),
        b"m" => (-3, 0),
        b"k" => (3, 0),
        b"M" => (6, 0),
        b"G" => (9, 0),
        b"T" => (12, 0),
        b"P" => (15, 0),
        // `E` alone is exa; `E` followed by a number is an exponent.
        b"E" => (18, 0),
        b"Ki" => (0, 10),
        b"Mi" => (0, 20),
        b"Gi" => (0, 30),
        b"Ti" => (0, 40),
        b"Pi" => (0, 50),
        b"Ei" => (0, 60),
        [b'e' | b'E', exp @ ..] => (exponent(exp)?, 0),
        _ => return Err(Unreadable::Suffix),
    })
}

fn exponent(s: &[u8]) -> Result<i64, Unreadable> {
    let (negative, digits) = match s {
        [b'-', d @ ..] => (true, d),
        [b'+', d @ ..] => (false, d),
        d => (false, d),
    };
    if digits.is_empty() || digit_count(digits) != digits.len() {
        return Err(Unreadable::Exponent);
    }
    let mut value: i64 = 0;
    for &c in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(c - b'0')))
            .ok_or(Unreadable::ExponentRange)?;
    }
    let value = if negative { -value } else { value };
    if i32::try_from(value).is_err() {
        return Err(Unreadable::ExponentRange);
    }
    Ok(value)
}

/// `digits × 2^bits` in decimal digits, most significant first, in place:
/// `work[room..]` holds the digits, `work[..room]` is free for the leading
/// digits the product gains (at most 19, as `bits` ≤ 60); returns where the
/// product starts.
fn times_pow2(work: &mut [u8], room: usize, bits: u32) -> usize {
    if bits == 0 {
        return room;
    }
    // Binary suffixes go up to Ei (2^60), so with a digit of at most 9 and
    // a carry below the factor, `v` stays under 10 * 2^60 < 2^64: u64
    // arithmetic (a division by 10 is a multiplication) is exact.
    debug_assert!(bits <= 60 && room >= 19);
    let factor = 1u64 << bits;
    let mut carry = 0u64;
    for d in work[room..].iter_mut().rev() {
        let v = u64::from(*d) * factor + carry;
        *d = (v % 10) as u8;
        carry = v / 10;
    }
    // The carry (below 2^60 < 10^19) becomes the leading digits.
    let mut start = room;
    while carry > 0 {
        start -= 1;
        work[start] = (carry % 10) as u8;
        carry /= 10;
    }
    start
}

mod arith;

#[cfg(test)]
mod tests;
