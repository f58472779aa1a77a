//! keepalived's value readers (lib/parser.c `read_unsigned`, `read_int`, `read_timer`,
//! `read_decimal_unsigned`, `check_true_false`; lib/utils.c `inet_stosockaddr`;
//! keepalived/vrrp/vrrp_ipaddress.c `parse_ipaddress`) with their messages, as they behave
//! under `-t` (a malformed number is rejected; keepalived's daemon mode would accept the
//! leading digits with a warning for some keywords).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::diag::Level;

/// Messages produced while reading a value.
pub(crate) type Msgs = Vec<(Level, String)>;

/// Microseconds per second (`TIMER_HZ`).
pub(crate) const TIMER_HZ: u64 = 1_000_000;

fn c_isspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// `strtoul`/`strtoull` in base 10: (value, bytes consumed, overflowed, negative sign seen).
fn strtou(s: &[u8]) -> (u64, usize, bool) {
    let mut i = 0;
    while i < s.len() && c_isspace(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    let mut over = false;
    while i < s.len() && s[i].is_ascii_digit() {
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add((s[i] - b'0') as u64))
        {
            Some(x) => v = x,
            None => over = true,
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    if over {
        return (u64::MAX, i, true);
    }
    (if neg { v.wrapping_neg() } else { v }, i, false)
}

/// `strtol` in base 10: (value, bytes consumed, out of range).
fn strtol(s: &[u8]) -> (i64, usize, bool) {
    let mut i = 0;
    while i < s.len() && c_isspace(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    let mut over = false;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v * 10 + (s[i] - b'0') as i128;
        if v > i64::MAX as i128 + 1 {
            over = true;
            v = i64::MAX as i128 + 1;
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    let v = if neg { -v } else { v };
    if over || v > i64::MAX as i128 || v < i64::MIN as i128 {
        return (if neg { i64::MIN } else { i64::MAX }, i, true);
    }
    (v as i64, i, false)
}

/// `read_unsigned(str, min, max, ignore_error)` under `-t`.
pub(crate) fn read_unsigned(s: &str, min: u32, max: u32, m: &mut Msgs) -> Option<u32> {
    let b = s.as_bytes();
    let offset = b
        .iter()
        .take_while(|&&c| matches!(c, b' ' | b'\t' | b'\x0c' | b'\n' | b'\r' | b'\x0b'))
        .count();
    let (val, used, over) = strtou(&b[offset..]);
    if b.get(offset) == Some(&b'-') {
        m.push((Level::InvalidNumber, format!("negative number '{s}'")));
    } else if offset + used < b.len() {
        m.push((Level::InvalidNumber, format!("invalid number '{s}'")));
    } else if over || val > u32::MAX as u64 {
        m.push((
            Level::InvalidNumber,
            format!("number '{s}' outside unsigned integer range"),
        ));
    } else if val < min as u64 || val > max as u64 {
        m.push((
            Level::InvalidNumber,
            format!("number '{s}' outside range [{min}, {max}]"),
        ));
    } else {
        return Some(val as u32);
    }
    None
}

/// `read_int(str, min, max, ignore_error)` under `-t`.
pub(crate) fn read_int(s: &str, min: i32, max: i32, m: &mut Msgs) -> Option<i32> {
    let b = s.as_bytes();
    let (val, used, over) = strtol(b);
    if used < b.len() {
        m.push((Level::InvalidNumber, format!("invalid number '{s}'")));
    } else if over || val < i32::MIN as i64 || val > i32::MAX as i64 {
        m.push((
            Level::InvalidNumber,
            format!("number '{s}' outside integer range"),
        ));
    } else if val < min as i64 || val > max as i64 {
        m.push((
            Level::InvalidNumber,
            format!("number '{s}' outside range [{min}, {max}]"),
        ));
    } else {
        return Some(val as i32);
    }
    None
}

/// `read_decimal_unsigned_long_func`: a decimal with at most `shift` decimal places, returned
/// multiplied by 10^shift. Mirrors keepalived's quirks: too many decimal places is reported but
/// rounded and accepted; trailing garbage is reported but accepted when the leading value is in
/// range (`ignore_error`).
pub(crate) fn read_decimal(
    s: &str,
    min: u64,
    max: u64,
    shift: u32,
    ignore_error: bool,
    m: &mut Msgs,
) -> Option<u64> {
    let b = s.as_bytes();
    if b.first() == Some(&b'-') {
        m.push((Level::InvalidNumber, format!("negative number '{s}'")));
        return None;
    }
    let dp = b.iter().position(|&c| c == b'.');
    let mut num_dp = dp.map(|d| b.len() - d - 1).unwrap_or(0);
    let mut round_up = false;
    if num_dp > shift as usize {
        m.push((
            Level::InvalidNumber,
            format!("number '{s}' has too many decimal places"),
        ));
        if let Some(d) = dp {
            round_up = b.get(d + shift as usize + 1).is_some_and(|&c| c >= b'5');
        }
        num_dp = shift as usize;
    }
    let mut upd: Vec<u8> = match dp {
        Some(d) => {
            let mut v = b[..d].to_vec();
            v.extend_from_slice(&b[d + 1..d + 1 + num_dp]);
            v
        }
        None => b.to_vec(),
    };
    upd.extend(std::iter::repeat_n(b'0', shift as usize - num_dp));
    let (mut val, used, over) = strtou(&upd);
    if round_up {
        val = val.wrapping_add(1);
    }
    let valid = used == upd.len();
    if !valid {
        m.push((Level::InvalidNumber, format!("invalid number '{s}'")));
    } else if over {
        m.push((
            Level::InvalidNumber,
            format!("number '{s}' outside unsigned decimal range"),
        ));
        return None;
    } else if val < min || val > max {
        let p = 10u64.pow(shift);
        let w = shift as usize;
        m.push((
            Level::InvalidNumber,
            format!(
                "number '{s}' outside range [{}.{:0w$}, {}.{:0w$}]",
                min / p,
                min % p,
                max / p,
                max % p,
            ),
        ));
    } else {
        return Some(val);
    }
    (ignore_error && val >= min && val <= max).then_some(val)
}

/// `read_timer(strvec, index, res, min, max, ignore_error)`: seconds with microsecond
/// resolution; `max == 0` means no limit (`TIMER_MAXIMUM`).
pub(crate) fn read_timer(
    s: &str,
    min: u64,
    max: u64,
    ignore_error: bool,
    m: &mut Msgs,
) -> Option<u64> {
    let max = if max == 0 { u64::MAX - 1 } else { max };
    read_decimal(s, min, max, 6, ignore_error, m)
}

/// `check_true_false`: `Some(true)` for on/true/yes, `Some(false)` for off/false/no.
pub(crate) fn check_true_false(s: &str) -> Option<bool> {
    match s {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// glibc `inet_pton` for the family chosen by keepalived (`:` present means IPv6).
pub(crate) fn inet_pton(s: &str, v6: bool) -> Option<IpAddr> {
    if v6 {
        s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        s.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// `inet_stosockaddr(ip, port)`: the address (anything from the first `-` or `/` on is
/// ignored) and the port. `Err(())` when either is invalid (the port's messages are added).
pub(crate) fn inet_stosockaddr(
    ip: &str,
    port: Option<&str>,
    m: &mut Msgs,
) -> Result<(IpAddr, Option<u16>), ()> {
    let v6 = ip.contains(':');
    let port = match port {
        Some(p) => Some(read_unsigned(p, 1, 65535, m).ok_or(())? as u16),
        None => None,
    };
    let cut = ip.find('-').or_else(|| ip.find('/')).unwrap_or(ip.len());
    let addr = inet_pton(&ip[..cut], v6).ok_or(())?;
    Ok((addr, port))
}

/// `parse_ipaddress(NULL, str, allow_subnet_mask)`: `ADDR[/LEN]`. Returns the address and
/// prefix length, or `None` with "VRRP parsed invalid IP" when the address is bad.
pub(crate) fn parse_ipaddress(
    s: &str,
    allow_subnet_mask: bool,
    m: &mut Msgs,
) -> Option<(IpAddr, u8)> {
    let v6 = s.contains(':');
    let full: u8 = if v6 { 128 } else { 32 };
    let mut prefix = full;
    let slash = if allow_subnet_mask { s.find('/') } else { None };
    let addr_str = match slash {
        Some(p) => {
            let mut mm = Msgs::new();
            match read_unsigned(&s[p + 1..], 0, full as u32, &mut mm) {
                Some(v) => prefix = v as u8,
                None => {
                    m.extend(mm);
                    m.push((
                        Level::GeneralError,
                        format!(
                            "Invalid address prefix len {} for address {s} - using {full}",
                            &s[p + 1..]
                        ),
                    ));
                }
            }
            &s[..p]
        }
        None => s,
    };
    match inet_pton(addr_str, v6) {
        Some(a) => Some((a, prefix)),
        None => {
            m.push((
                Level::GeneralError,
                format!("VRRP parsed invalid IP {s}. skipping IP..."),
            ));
            None
        }
    }
}

/// `read_hex_str`: pairs of hex digits, blanks allowed between bytes (a lone digit is one
/// byte); with `allow_wildcard`, `x`/`X` nibbles are wildcards recorded in the mask. Returns
/// (data, mask) or `None` when invalid or empty. Like keepalived 2.2.7, a string whose last
/// byte is `ff` is taken as invalid (0xff is its error marker).
pub(crate) fn read_hex_str(s: &str, allow_wildcard: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    let b = s.as_bytes();
    let nib = |c: u8| -> Option<(u8, u8)> {
        match c {
            b'0'..=b'9' => Some((c - b'0', 0)),
            b'a'..=b'f' => Some((c - b'a' + 10, 0)),
            b'A'..=b'F' => Some((c - b'A' + 10, 0)),
            b'x' | b'X' if allow_wildcard => Some((0, 0xf)),
            _ => None,
        }
    };
    let mut data = Vec::new();
    let mut mask = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let (mut v, mut mk) = nib(b[i])?;
        i += 1;
        if i < b.len() && b[i] != b' ' {
            let (lo, lm) = nib(b[i])?;
            i += 1;
            v = v << 4 | lo;
            mk = mk << 4 | lm;
        }
        data.push(v);
        mask.push(mk);
    }
    if data.is_empty() || data.last() == Some(&0xff) {
        return None;
    }
    Some((data, mask))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_messages() {
        let mut m = Msgs::new();
        assert_eq!(read_unsigned("51", 1, 255, &mut m), Some(51));
        assert_eq!(read_unsigned("300", 1, 255, &mut m), None);
        assert_eq!(m.last().unwrap().1, "number '300' outside range [1, 255]");
        assert_eq!(read_unsigned("-1", 1, 255, &mut m), None);
        assert_eq!(m.last().unwrap().1, "negative number '-1'");
        assert_eq!(read_unsigned("abc", 1, 255, &mut m), None);
        assert_eq!(m.last().unwrap().1, "invalid number 'abc'");
        assert_eq!(read_unsigned("99999999999", 1, 255, &mut m), None);
        assert_eq!(
            m.last().unwrap().1,
            "number '99999999999' outside unsigned integer range"
        );
    }

    #[test]
    fn decimal_timers() {
        let mut m = Msgs::new();
        assert_eq!(read_timer("1", 0, 0, true, &mut m), Some(1_000_000));
        assert_eq!(read_timer("0.5", 0, 0, true, &mut m), Some(500_000));
        assert_eq!(read_timer(".25", 0, 0, true, &mut m), Some(250_000));
        assert!(m.is_empty());
        assert_eq!(read_timer("1.0000005", 0, 0, true, &mut m), Some(1_000_001));
        assert_eq!(
            m.last().unwrap().1,
            "number '1.0000005' has too many decimal places"
        );
        // keepalived reports the garbage but keeps the digits read before it (here 2 us).
        assert_eq!(read_timer("2x", 0, 0, true, &mut m), Some(2));
        assert_eq!(m.last().unwrap().1, "invalid number '2x'");
        assert_eq!(read_timer("2x", 0, 0, false, &mut m), None);
        assert_eq!(
            read_decimal("300", 10_000, 255_000_000, 6, true, &mut m),
            None
        );
        assert_eq!(
            m.last().unwrap().1,
            "number '300' outside range [0.010000, 255.000000]"
        );
    }

    #[test]
    fn addresses() {
        let mut m = Msgs::new();
        assert_eq!(
            inet_stosockaddr("10.0.0.1/24", None, &mut m),
            Ok(("10.0.0.1".parse().unwrap(), None))
        );
        assert_eq!(
            inet_stosockaddr("fd00::1", Some("80"), &mut m),
            Ok(("fd00::1".parse().unwrap(), Some(80)))
        );
        assert!(inet_stosockaddr("10.0.0.256", None, &mut m).is_err());
        assert_eq!(
            parse_ipaddress("10.0.0.1/24", true, &mut m),
            Some(("10.0.0.1".parse().unwrap(), 24))
        );
        assert_eq!(
            parse_ipaddress("fd00::1", true, &mut m),
            Some(("fd00::1".parse().unwrap(), 128))
        );
        assert!(parse_ipaddress("192.168.100./24", true, &mut m).is_none());
        assert_eq!(
            m.last().unwrap().1,
            "VRRP parsed invalid IP 192.168.100./24. skipping IP..."
        );
    }

    #[test]
    fn hex() {
        assert_eq!(
            read_hex_str("0a 0B fe", false),
            Some((vec![10, 11, 254], vec![0, 0, 0]))
        );
        assert!(
            read_hex_str("0a ff", false).is_none(),
            "keepalived's 0xff quirk"
        );
        assert_eq!(read_hex_str("a", false), Some((vec![10], vec![0])));
        assert_eq!(read_hex_str("0x", true), Some((vec![0], vec![0x0f])));
        assert!(read_hex_str("0g", false).is_none());
        assert_eq!(read_hex_str("a", false), Some((vec![10], vec![0])));
        assert!(read_hex_str("  ", false).is_none());
    }
}
