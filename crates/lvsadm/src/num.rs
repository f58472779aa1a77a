//! The C library's number and address conversions that ipvsadm relies on, re-done so that
//! every accepted and rejected spelling matches glibc: `strtol` (base 10, as in
//! `string_to_number`), `atoi`, `inet_aton` and `inet_ntop`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// C `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The result of `strtol(s, &end, 10)`: the value (saturated like strtol on a 64-bit
/// `long`), whether it overflowed (ERANGE) and how many bytes were consumed (0 when no
/// digits were found, as `end == s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strtol {
    /// Converted value (clamped to `i64::MIN..=i64::MAX` on overflow).
    pub value: i64,
    /// `errno == ERANGE`.
    pub overflow: bool,
    /// Bytes consumed; 0 when nothing was converted.
    pub consumed: usize,
}

/// `strtol(s, &end, 10)` on a 64-bit target.
pub fn strtol10(s: &str) -> Strtol {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    // Accumulate the magnitude in i128 so that overflow can be detected exactly.
    let mut mag: i128 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        if !overflow {
            mag = mag * 10 + i128::from(b[i] - b'0');
            if mag > i128::from(i64::MAX) + 1 {
                overflow = true;
            }
        }
        i += 1;
    }
    if i == start {
        return Strtol {
            value: 0,
            overflow: false,
            consumed: 0,
        };
    }
    let signed = if neg { -mag } else { mag };
    let (value, range) = if overflow || signed > i128::from(i64::MAX) {
        (if neg { i64::MIN } else { i64::MAX }, true)
    } else if signed < i128::from(i64::MIN) {
        (i64::MIN, true)
    } else {
        (signed as i64, false)
    };
    Strtol {
        value,
        overflow: range,
        consumed: i,
    }
}

/// ipvsadm's `string_to_number(s, min, max)`: the whole string must be a base-10 number
/// (leading white space and a sign allowed, as strtol does) within `min..=max`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let r = strtol10(s);
    if r.consumed == 0 || r.consumed != s.len() || r.overflow {
        return None;
    }
    (min..=max).contains(&r.value).then_some(r.value)
}

/// C `atoi(s)` as glibc implements it: `(int) strtol(s, NULL, 10)` (trailing garbage
/// ignored, no error, the `long` truncated to `int`).
pub fn atoi(s: &str) -> i32 {
    strtol10(s).value as i32
}

/// `strtoul(s, &end, 0)` for a string that starts with a decimal digit: returns the value
/// (None on overflow of 64 bits) and the bytes consumed.
fn strtoul0(b: &[u8]) -> (Option<u64>, usize) {
    let (base, mut i) = if b.len() >= 2 && b[0] == b'0' && (b[1] | 0x20) == b'x' {
        if b.len() >= 3 && b[2].is_ascii_hexdigit() {
            (16, 2)
        } else {
            // "0x" with no hex digit: only the "0" is converted.
            return (Some(0), 1);
        }
    } else if b.first() == Some(&b'0') {
        (8, 0)
    } else {
        (10, 0)
    };
    let mut v: Option<u64> = Some(0);
    while i < b.len() {
        let d = match (b[i] as char).to_digit(base) {
            Some(d) => u64::from(d),
            None => break,
        };
        v = v
            .and_then(|x| x.checked_mul(u64::from(base)))
            .and_then(|x| x.checked_add(d));
        i += 1;
    }
    (v, i)
}

/// glibc `inet_aton`: "a.b.c.d", "a.b.c" (c 16 bits), "a.b" (b 24 bits) or "a" (32 bits),
/// each part decimal, octal (leading 0) or hex (0x); trailing white space and anything
/// after it are ignored.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    const MAX: [u64; 4] = [0xffff_ffff, 0x00ff_ffff, 0xffff, 0xff];
    let b = s.as_bytes();
    let mut parts: Vec<u8> = Vec::with_capacity(3);
    let mut i = 0;
    let val;
    loop {
        if i >= b.len() || !b[i].is_ascii_digit() {
            return None;
        }
        let (v, n) = strtoul0(&b[i..]);
        let v = v?;
        if v > 0xffff_ffff {
            return None;
        }
        i += n;
        if i < b.len() && b[i] == b'.' {
            if parts.len() > 2 || v > 0xff {
                return None;
            }
            parts.push(v as u8);
            i += 1;
        } else {
            val = v;
            break;
        }
    }
    if i < b.len() && !(b[i].is_ascii() && is_c_space(b[i])) {
        return None;
    }
    if val > MAX[parts.len()] {
        return None;
    }
    let mut word: u32 = 0;
    for (k, p) in parts.iter().enumerate() {
        word |= u32::from(*p) << (24 - 8 * k);
    }
    word |= val as u32;
    Some(Ipv4Addr::from(word))
}

/// glibc `inet_ntop(AF_INET6, ...)`: the longest run (leftmost on ties) of two or more zero
/// groups becomes "::", and addresses whose first 96 bits are zero (with a non-trivial
/// tail) or that are IPv4-mapped end in dotted-quad form.
pub fn inet_ntop6(a: &Ipv6Addr) -> String {
    let w = a.segments();
    let (mut best_base, mut best_len) = (None::<usize>, 0usize);
    let (mut cur_base, mut cur_len) = (None::<usize>, 0usize);
    for (i, &x) in w.iter().enumerate() {
        if x == 0 {
            if cur_base.is_none() {
                cur_base = Some(i);
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if let Some(cb) = cur_base {
            if best_base.is_none() || cur_len > best_len {
                best_base = Some(cb);
                best_len = cur_len;
            }
            cur_base = None;
        }
    }
    if let Some(cb) = cur_base
        && (best_base.is_none() || cur_len > best_len)
    {
        best_base = Some(cb);
        best_len = cur_len;
    }
    if best_len < 2 {
        best_base = None;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some(bb) = best_base
            && i >= bb
            && i < bb + best_len
        {
            if i == bb {
                out.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best_base == Some(0) && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            out.push_str(&format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15]));
            return out;
        }
        out.push_str(&format!("{:x}", w[i]));
        i += 1;
    }
    if best_base.is_some_and(|bb| bb + best_len == 8) {
        out.push(':');
    }
    out
}

/// `inet_ntop` for either family.
pub fn ntop(a: &std::net::IpAddr) -> String {
    match a {
        std::net::IpAddr::V4(v) => v.to_string(),
        std::net::IpAddr::V6(v) => inet_ntop6(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_cases() {
        assert_eq!(string_to_number("10", 0, 20), Some(10));
        assert_eq!(string_to_number(" 10", 0, 20), Some(10));
        assert_eq!(string_to_number("+10", 0, 20), Some(10));
        assert_eq!(string_to_number("-0", 0, 20), Some(0));
        assert_eq!(string_to_number("10 ", 0, 20), None);
        assert_eq!(string_to_number("", 0, 20), None);
        assert_eq!(string_to_number("+", 0, 20), None);
        assert_eq!(string_to_number("0x10", 0, 20), None);
        assert_eq!(string_to_number("99999999999999999999", 0, i64::MAX), None);
        assert_eq!(atoi("48abc"), 48);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("4294967360"), 64);
        assert_eq!(atoi("-1"), -1);
    }

    #[test]
    fn aton_cases() {
        let a = |s: &str| inet_aton(s).map(|x| x.to_string());
        assert_eq!(a("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("10.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("10").as_deref(), Some("0.0.0.10"));
        assert_eq!(a("0x0a000001").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("012.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("1.2.3.4 junk").as_deref(), Some("1.2.3.4"));
        assert_eq!(a("1.2.3.256"), None);
        assert_eq!(a("1.2.3.4.5"), None);
        assert_eq!(a("08"), None);
        assert_eq!(a("0x"), None);
        assert_eq!(a(" 1.2.3.4"), None);
        assert_eq!(a("1..2"), None);
        assert_eq!(a("1.2.3."), None);
        assert_eq!(a("4294967295").as_deref(), Some("255.255.255.255"));
        assert_eq!(a("4294967296"), None);
        assert_eq!(a("1.16777216"), None);
    }

    #[test]
    fn ntop6_cases() {
        let n = |s: &str| inet_ntop6(&s.parse().unwrap());
        assert_eq!(n("2001:db8::1"), "2001:db8::1");
        assert_eq!(n("::"), "::");
        assert_eq!(n("::1"), "::1");
        assert_eq!(n("1::"), "1::");
        assert_eq!(n("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(n("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(n("1:0:1:0:0:1:0:0"), "1:0:1::1:0:0");
        assert_eq!(n("1:0:0:1:0:0:1:1"), "1::1:0:0:1:1");
        assert_eq!(n("1:2:3:4:5:6:0:8"), "1:2:3:4:5:6:0:8");
    }
}
