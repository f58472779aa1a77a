//! PROXY protocol version 2 headers (HAProxy's `proxy-protocol.txt`, section 2.2): the
//! binary header a FULLNAT director puts in front of a client's TCP stream so that the
//! real server learns the client's address.
//!
//! ```text
//! 0                   12     13      14      16
//! +-------------------+------+-------+-------+---------------------------+-------+
//! | signature (12)    | 0x21 | fam   | len   | addresses (12 / 36 / 216) | TLVs  |
//! +-------------------+------+-------+-------+---------------------------+-------+
//!   \r\n\r\n\0\r\nQUIT\n  ver 2    0x11 TCP/IPv4   big-endian: bytes after byte 16
//!                       cmd 1    0x21 TCP/IPv6
//! ```
//!
//! Addresses: source address, destination address, source port, destination port, all in
//! network order. [`build_v2`] writes the PROXY command for TCP over IPv4 (28 bytes) or
//! IPv6 (52 bytes) with no TLVs; [`parse_v2`] reads any version 2 header (LOCAL or PROXY,
//! every family, TLVs skipped), as a receiver does.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{Error, Result};

/// The 12 bytes every version 2 header starts with.
pub const SIGNATURE: [u8; 12] = [
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
];
/// Length of the fixed part: signature, version/command, family/transport, length.
pub const FIXED_LEN: usize = 16;
/// Length of a TCP over IPv4 header without TLVs.
pub const LEN_TCP4: usize = FIXED_LEN + 12;
/// Length of a TCP over IPv6 header without TLVs.
pub const LEN_TCP6: usize = FIXED_LEN + 36;
/// The longest header [`build_v2`] writes.
pub const MAX_BUILT_LEN: usize = LEN_TCP6;

/// Version 2 in the high nibble, command PROXY (1) in the low one.
const VER_CMD_PROXY: u8 = 0x21;
/// Family INET (1) / INET6 (2) in the high nibble, transport STREAM (1) in the low one.
const FAM_TCP4: u8 = 0x11;
const FAM_TCP6: u8 = 0x21;

/// The length of the header [`build_v2`] writes for addresses of this family.
#[inline]
pub const fn header_len(af: crate::Af) -> usize {
    match af {
        crate::Af::Inet => LEN_TCP4,
        crate::Af::Inet6 => LEN_TCP6,
    }
}

/// Write the version 2 header of a TCP connection from `src` (the client) to `dst` (the
/// address the client connected to, the VIP) into `out`; returns its length
/// ([`LEN_TCP4`] or [`LEN_TCP6`]). Command PROXY, no TLVs.
///
/// Errors: [`Error::FamilyMismatch`] if the two addresses are of different families,
/// [`Error::BufferTooSmall`] if `out` is shorter than the header (nothing written).
pub fn build_v2(src: SocketAddr, dst: SocketAddr, out: &mut [u8]) -> Result<usize> {
    let (fam, addr_len) = match (src.ip(), dst.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => (FAM_TCP4, 4),
        (IpAddr::V6(_), IpAddr::V6(_)) => (FAM_TCP6, 16),
        _ => return Err(Error::FamilyMismatch),
    };
    let body = 2 * addr_len + 4;
    let len = FIXED_LEN + body;
    let out = out.get_mut(..len).ok_or(Error::BufferTooSmall)?;
    out[..12].copy_from_slice(&SIGNATURE);
    out[12] = VER_CMD_PROXY;
    out[13] = fam;
    out[14..16].copy_from_slice(&(body as u16).to_be_bytes());
    let a = FIXED_LEN;
    out[a..a + addr_len].copy_from_slice(&crate::addr16(src.ip())[..addr_len]);
    out[a + addr_len..a + 2 * addr_len].copy_from_slice(&crate::addr16(dst.ip())[..addr_len]);
    let p = a + 2 * addr_len;
    out[p..p + 2].copy_from_slice(&src.port().to_be_bytes());
    out[p + 2..p + 4].copy_from_slice(&dst.port().to_be_bytes());
    Ok(len)
}

/// The command of a version 2 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// LOCAL (0): a connection the proxy made itself (health checks); the receiver uses
    /// the connection's own addresses.
    Local,
    /// PROXY (1): a relayed connection; the addresses are the original ones.
    Proxy,
}

/// The transport of a version 2 header (low nibble of byte 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UNSPEC (0).
    Unspec,
    /// STREAM (1): TCP.
    Stream,
    /// DGRAM (2): UDP.
    Dgram,
}

/// A parsed version 2 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// LOCAL or PROXY.
    pub command: Command,
    /// The transport the addresses belong to.
    pub transport: Transport,
    /// Source and destination for the INET and INET6 families; `None` for UNSPEC and
    /// UNIX (whose 108-byte paths are skipped).
    pub addrs: Option<(SocketAddr, SocketAddr)>,
    /// Length of the whole header, TLVs included: the stream's data starts after it.
    pub len: usize,
}

/// Why [`parse_v2`] did not return a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// The buffer is a correct beginning but too short: at least this many bytes are
    /// needed (16 until the length field is in, then the whole header).
    Incomplete(usize),
    /// The first bytes are not the version 2 signature.
    NoSignature,
    /// The version nibble is not 2.
    Version(u8),
    /// The command nibble is neither LOCAL nor PROXY.
    Command(u8),
    /// The family or transport nibble is not defined.
    Family(u8),
    /// The length field is shorter than the address block of the family.
    Length(u16),
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::Incomplete(n) => write!(f, "incomplete PROXY header: {n} bytes needed"),
            ParseError::NoSignature => f.write_str("no PROXY protocol v2 signature"),
            ParseError::Version(v) => write!(f, "PROXY protocol version {v}, not 2"),
            ParseError::Command(c) => write!(f, "unknown PROXY command {c}"),
            ParseError::Family(b) => write!(f, "unknown PROXY family/transport byte {b:#04x}"),
            ParseError::Length(l) => write!(f, "PROXY header length {l} too short"),
        }
    }
}

impl core::error::Error for ParseError {}

/// Parse the version 2 header at the start of `buf` (a receiver's view: the bytes read
/// from the connection so far). TLVs are skipped (their bytes are inside
/// [`Header::len`]).
pub fn parse_v2(buf: &[u8]) -> core::result::Result<Header, ParseError> {
    // A prefix of the signature is an incomplete header, anything else is no header.
    let sig = buf.len().min(SIGNATURE.len());
    if buf[..sig] != SIGNATURE[..sig] {
        return Err(ParseError::NoSignature);
    }
    if buf.len() < FIXED_LEN {
        return Err(ParseError::Incomplete(FIXED_LEN));
    }
    let ver = buf[12] >> 4;
    if ver != 2 {
        return Err(ParseError::Version(ver));
    }
    let command = match buf[12] & 0x0f {
        0 => Command::Local,
        1 => Command::Proxy,
        c => return Err(ParseError::Command(c)),
    };
    let transport = match buf[13] & 0x0f {
        0 => Transport::Unspec,
        1 => Transport::Stream,
        2 => Transport::Dgram,
        _ => return Err(ParseError::Family(buf[13])),
    };
    let body = u16::from_be_bytes([buf[14], buf[15]]);
    let need = match buf[13] >> 4 {
        0 => 0,
        1 => 12,
        2 => 36,
        3 => 216,
        _ => return Err(ParseError::Family(buf[13])),
    };
    if usize::from(body) < need {
        return Err(ParseError::Length(body));
    }
    let len = FIXED_LEN + usize::from(body);
    if buf.len() < len {
        return Err(ParseError::Incomplete(len));
    }
    let a = &buf[FIXED_LEN..len];
    let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
    let addrs = match buf[13] >> 4 {
        1 => {
            let s = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            let d = Ipv4Addr::new(a[4], a[5], a[6], a[7]);
            Some((
                SocketAddr::new(s.into(), port(8)),
                SocketAddr::new(d.into(), port(10)),
            ))
        }
        2 => {
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&a[..16]);
            d.copy_from_slice(&a[16..32]);
            Some((
                SocketAddr::new(Ipv6Addr::from(s).into(), port(32)),
                SocketAddr::new(Ipv6Addr::from(d).into(), port(34)),
            ))
        }
        _ => None,
    };
    Ok(Header {
        command,
        transport,
        addrs,
        len,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_bytes() {
        let mut b = [0u8; 64];
        let n = build_v2(sa("192.0.2.1:40000"), sa("198.51.100.7:443"), &mut b).unwrap();
        assert_eq!(n, LEN_TCP4);
        assert_eq!(
            &b[..n],
            &[
                0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // sig
                0x21, 0x11, 0x00, 0x0c, // v2 PROXY, TCP/IPv4, 12 bytes
                192, 0, 2, 1, 198, 51, 100, 7, // addresses
                0x9c, 0x40, 0x01, 0xbb, // 40000, 443
            ]
        );
    }

    #[test]
    fn ipv6_bytes() {
        let mut b = [0u8; 64];
        let n = build_v2(sa("[2001:db8::1]:1234"), sa("[2001:db8::2]:80"), &mut b).unwrap();
        assert_eq!(n, LEN_TCP6);
        assert_eq!(&b[12..16], &[0x21, 0x21, 0x00, 0x24]);
        assert_eq!(b[16], 0x20);
        assert_eq!(b[16 + 15], 1);
        assert_eq!(b[32 + 15], 2);
        assert_eq!(&b[48..52], &[0x04, 0xd2, 0x00, 0x50]);
    }

    #[test]
    fn build_errors_write_nothing() {
        let mut b = [0xaau8; 64];
        assert_eq!(
            build_v2(sa("192.0.2.1:1"), sa("[2001:db8::2]:80"), &mut b),
            Err(Error::FamilyMismatch)
        );
        assert_eq!(
            build_v2(sa("192.0.2.1:1"), sa("192.0.2.2:2"), &mut b[..27]),
            Err(Error::BufferTooSmall)
        );
        assert!(b.iter().all(|&x| x == 0xaa));
    }

    #[test]
    fn round_trip_and_every_prefix_is_incomplete() {
        for (s, d) in [
            ("10.1.0.2:55555", "10.1.0.100:80"),
            ("[fd01::2]:1", "[fd01::100]:65535"),
        ] {
            let mut b = [0u8; 64];
            let n = build_v2(sa(s), sa(d), &mut b).unwrap();
            // Data after the header is not part of it.
            b[n] = b'G';
            let h = parse_v2(&b[..n + 1]).unwrap();
            assert_eq!(h.command, Command::Proxy);
            assert_eq!(h.transport, Transport::Stream);
            assert_eq!(h.addrs, Some((sa(s), sa(d))));
            assert_eq!(h.len, n);
            for k in 0..n {
                assert!(
                    matches!(parse_v2(&b[..k]), Err(ParseError::Incomplete(_))),
                    "prefix {k}"
                );
            }
        }
    }

    #[test]
    fn tlvs_unix_local_and_bad_headers() {
        let mut b = [0u8; 300];
        let n = build_v2(sa("10.0.0.1:1"), sa("10.0.0.2:2"), &mut b).unwrap();
        // A 5-byte NOOP TLV (type 4) after the addresses: length 17.
        b[15] = 17;
        b[n..n + 5].copy_from_slice(&[4, 0, 2, 0, 0]);
        let h = parse_v2(&b[..n + 5]).unwrap();
        assert_eq!(h.len, n + 5);
        assert_eq!(h.addrs, Some((sa("10.0.0.1:1"), sa("10.0.0.2:2"))));
        // LOCAL, UNSPEC, no addresses.
        let mut l = [0u8; 16];
        l[..12].copy_from_slice(&SIGNATURE);
        l[12] = 0x20;
        let h = parse_v2(&l).unwrap();
        assert_eq!((h.command, h.addrs, h.len), (Command::Local, None, 16));
        // UNIX stream: 216 bytes of paths.
        let mut u = [0u8; 232];
        u[..12].copy_from_slice(&SIGNATURE);
        u[12] = 0x21;
        u[13] = 0x31;
        u[14..16].copy_from_slice(&216u16.to_be_bytes());
        assert_eq!(parse_v2(&u).unwrap().len, 232);

        assert_eq!(
            parse_v2(b"GET / HTTP/1.0\r\n\r\n"),
            Err(ParseError::NoSignature)
        );
        assert_eq!(parse_v2(b""), Err(ParseError::Incomplete(FIXED_LEN)));
        let mut bad = [0u8; 28];
        bad.copy_from_slice(&b[..28]);
        bad[15] = 12;
        bad[12] = 0x11;
        assert_eq!(parse_v2(&bad), Err(ParseError::Version(1)));
        bad[12] = 0x23;
        assert_eq!(parse_v2(&bad), Err(ParseError::Command(3)));
        bad[12] = 0x21;
        bad[13] = 0x41;
        assert_eq!(parse_v2(&bad), Err(ParseError::Family(0x41)));
        bad[13] = 0x13;
        assert_eq!(parse_v2(&bad), Err(ParseError::Family(0x13)));
        bad[13] = 0x21; // IPv6 needs 36 bytes, the length says 12
        assert_eq!(parse_v2(&bad), Err(ParseError::Length(12)));
    }
}
