//! VRRP advertisement codec (sans-IO): VRRPv2 (RFC 3768, IPv4, with the 8 bytes of
//! authentication data) and VRRPv3 (RFC 5798, IPv4 and IPv6), the IPv4 header keepalived
//! puts in front of them, the Internet checksums, and the gratuitous ARP / unsolicited
//! neighbour advertisement frames sent on takeover.
//!
//! Parsing never panics: every malformed input gives a [`PacketError`]. The checks here are
//! the ones that need no configuration (length, version, type, checksum); the checks against
//! an instance's configuration (VRID, TTL, authentication, address list, interval) are in
//! [`super::instance`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// IP protocol number of IPsec AH (VRRPv2 `auth_type AH`, not supported here).
pub const IPPROTO_AH: u8 = 51;
/// The IPv4 VRRP multicast group.
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 VRRP multicast group.
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit of every advertisement; a multicast advert with another TTL is invalid.
pub const VRRP_TTL: u8 = 255;
/// The only VRRP packet type: ADVERTISEMENT.
pub const TYPE_ADVERT: u8 = 1;
/// Length of the VRRPv2 authentication data.
pub const AUTH_LEN: usize = 8;
/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = 8;
/// Length of the IPv4 header keepalived builds (no options).
pub const IPV4_HEADER_LEN: usize = 20;
/// TOS keepalived puts in the IPv4 header (and traffic class for IPv6): network control.
pub const TOS_VRRP: u8 = 0xc0;
/// VRRPv2 authentication type: none.
pub const AUTH_NONE: u8 = 0;
/// VRRPv2 authentication type: simple password.
pub const AUTH_PASS: u8 = 1;
/// VRRPv2 authentication type: IPsec AH.
pub const AUTH_AH: u8 = 2;
/// Largest VRRPv3 Max Adver Int (12 bits, centiseconds).
pub const V3_MAX_ADVER_INT: u16 = 0x0fff;

/// VRRP protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRPv2 (RFC 3768): IPv4 only, interval in seconds, authentication data.
    V2,
    /// VRRPv3 (RFC 5798): IPv4 and IPv6, interval in centiseconds, pseudo-header checksum.
    V3,
}

impl Version {
    /// The number in the version field.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// Address family of an instance (decided by its virtual addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    /// Length of one address of this family.
    pub fn addr_len(self) -> usize {
        match self {
            Family::Inet => 4,
            Family::Inet6 => 16,
        }
    }

    /// The VRRP multicast group of this family.
    pub fn mcast_group(self) -> IpAddr {
        match self {
            Family::Inet => IpAddr::V4(MCAST_V4),
            Family::Inet6 => IpAddr::V6(MCAST_V6),
        }
    }
}

/// Why bytes are not a well-formed VRRP advertisement.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than the fixed header.
    #[error("packet too short: {0} bytes")]
    TooShort(usize),
    /// Not an IPv4 header (version nibble, IHL).
    #[error("bad IPv4 header")]
    BadIpHeader,
    /// The IPv4 total length differs from the received length.
    #[error("ip_tot_len mismatch against received length: {tot_len} and received {received}")]
    TotalLength {
        /// Total length in the IPv4 header.
        tot_len: usize,
        /// Bytes received.
        received: usize,
    },
    /// The IP protocol is IPsec AH, which is not supported.
    #[error("IPsec AH authentication is not supported")]
    AhNotSupported,
    /// The IP protocol is not VRRP.
    #[error("IP protocol {0} is not VRRP")]
    NotVrrp(u8),
    /// The version field is neither 2 nor 3.
    #[error("unknown VRRP version {0}")]
    BadVersion(u8),
    /// VRRPv2 over IPv6 does not exist.
    #[error("VRRPv2 over IPv6")]
    V2OverIpv6,
    /// The type field is not ADVERTISEMENT.
    #[error("invalid packet type {0}, expected 1")]
    BadType(u8),
    /// The length does not match the address count.
    #[error("vrrp packet length {got}, expected {expected}")]
    BadLength {
        /// Received VRRP length.
        got: usize,
        /// Length implied by version, family and address count.
        expected: usize,
    },
    /// Source and destination are of different families.
    #[error("source and destination address families differ")]
    MixedFamilies,
    /// The checksum does not verify.
    #[error("invalid VRRPv{0} checksum")]
    Checksum(u8),
}

/// Why an advertisement cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// More than 255 addresses.
    #[error("too many addresses: {0} (at most 255)")]
    TooManyAddresses(usize),
    /// An address, the source or the destination is not of the packet's family.
    #[error("address family mismatch")]
    FamilyMismatch,
    /// VRRPv2 is IPv4 only.
    #[error("VRRPv2 over IPv6")]
    V2OverIpv6,
    /// The interval does not fit the field (v2: 1..=255 s, v3: 1..=4095 cs).
    #[error("advertisement interval {0} does not fit the field")]
    Interval(u16),
}

/// A VRRP advertisement, either version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// Protocol version.
    pub version: Version,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority (0 = the master resigns, 255 = the address owner).
    pub priority: u8,
    /// VRRPv2 authentication type ([`AUTH_NONE`], [`AUTH_PASS`], [`AUTH_AH`]); 0 for v3.
    pub auth_type: u8,
    /// VRRPv2 authentication data (the zero-padded password for PASS); zeros for v3.
    pub auth_data: [u8; AUTH_LEN],
    /// The advertisement interval field: seconds for v2, centiseconds for v3.
    pub adver_int: u16,
    /// The virtual addresses, all of one family.
    pub addrs: Vec<IpAddr>,
}

impl Advert {
    /// The advertisement interval in centiseconds.
    pub fn interval_cs(&self) -> u32 {
        match self.version {
            Version::V2 => u32::from(self.adver_int) * 100,
            Version::V3 => u32::from(self.adver_int),
        }
    }

    /// Length of the VRRP message (header, addresses, v2 authentication data).
    pub fn len(&self, family: Family) -> usize {
        let auth = if self.version == Version::V2 {
            AUTH_LEN
        } else {
            0
        };
        HEADER_LEN + self.addrs.len() * family.addr_len() + auth
    }

    /// Always false: a message has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The VRRP message with its checksum, for `src` → `dst` (v3 puts them in the
    /// pseudo-header; keepalived 2.2 includes the pseudo-header for IPv4 too).
    pub fn emit(&self, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, BuildError> {
        let family = Family::of(src);
        if Family::of(dst) != family || self.addrs.iter().any(|a| Family::of(*a) != family) {
            return Err(BuildError::FamilyMismatch);
        }
        if self.addrs.len() > 255 {
            return Err(BuildError::TooManyAddresses(self.addrs.len()));
        }
        let mut out = Vec::with_capacity(self.len(family));
        match self.version {
            Version::V2 => {
                if family == Family::Inet6 {
                    return Err(BuildError::V2OverIpv6);
                }
                if self.adver_int == 0 || self.adver_int > 255 {
                    return Err(BuildError::Interval(self.adver_int));
                }
                out.extend_from_slice(&[
                    0x20 | TYPE_ADVERT,
                    self.vrid,
                    self.priority,
                    self.addrs.len() as u8,
                    self.auth_type,
                    self.adver_int as u8,
                    0,
                    0,
                ]);
            }
            Version::V3 => {
                if self.adver_int == 0 || self.adver_int > V3_MAX_ADVER_INT {
                    return Err(BuildError::Interval(self.adver_int));
                }
                let [hi, lo] = self.adver_int.to_be_bytes();
                out.extend_from_slice(&[
                    0x30 | TYPE_ADVERT,
                    self.vrid,
                    self.priority,
                    self.addrs.len() as u8,
                    hi,
                    lo,
                    0,
                    0,
                ]);
            }
        }
        for a in &self.addrs {
            match a {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        if self.version == Version::V2 {
            out.extend_from_slice(&self.auth_data);
        }
        let csum = vrrp_checksum(self.version, src, dst, &out);
        out[6..8].copy_from_slice(&csum.to_be_bytes());
        Ok(out)
    }

    /// Parse and verify a VRRP message received from `src` to `dst`: length, version, type
    /// and checksum.
    pub fn parse(payload: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advert, PacketError> {
        if payload.len() < HEADER_LEN {
            return Err(PacketError::TooShort(payload.len()));
        }
        let family = Family::of(src);
        if Family::of(dst) != family {
            return Err(PacketError::MixedFamilies);
        }
        let version = match payload[0] >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            v => return Err(PacketError::BadVersion(v)),
        };
        if version == Version::V2 && family == Family::Inet6 {
            return Err(PacketError::V2OverIpv6);
        }
        let ptype = payload[0] & 0x0f;
        if ptype != TYPE_ADVERT {
            return Err(PacketError::BadType(ptype));
        }
        let count = usize::from(payload[3]);
        let auth = if version == Version::V2 { AUTH_LEN } else { 0 };
        let expected = HEADER_LEN + count * family.addr_len() + auth;
        if payload.len() != expected {
            return Err(PacketError::BadLength {
                got: payload.len(),
                expected,
            });
        }
        if vrrp_checksum(version, src, dst, payload) != 0 {
            return Err(PacketError::Checksum(version.number()));
        }
        let mut addrs = Vec::with_capacity(count);
        let body = &payload[HEADER_LEN..HEADER_LEN + count * family.addr_len()];
        for chunk in body.chunks_exact(family.addr_len()) {
            addrs.push(match family {
                Family::Inet => IpAddr::V4(Ipv4Addr::new(chunk[0], chunk[1], chunk[2], chunk[3])),
                Family::Inet6 => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(chunk);
                    IpAddr::V6(Ipv6Addr::from(o))
                }
            });
        }
        let mut auth_data = [0u8; AUTH_LEN];
        let (auth_type, adver_int) = match version {
            Version::V2 => {
                auth_data.copy_from_slice(&payload[expected - AUTH_LEN..]);
                (payload[4], u16::from(payload[5]))
            }
            Version::V3 => (
                0,
                u16::from_be_bytes([payload[4], payload[5]]) & V3_MAX_ADVER_INT,
            ),
        };
        Ok(Advert {
            version,
            vrid: payload[1],
            priority: payload[2],
            auth_type,
            auth_data,
            adver_int,
            addrs,
        })
    }
}

/// The one's-complement sum of `data` added to `acc` (not folded, not complemented).
fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Fold and complement a 32-bit one's-complement accumulator.
fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    fold(sum16(data, 0))
}

/// The sum of an IPv4 / IPv6 pseudo-header for upper-layer protocol `proto` and length `len`.
fn pseudo_header_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let acc = sum16(&s.octets(), 0);
            let acc = sum16(&d.octets(), acc);
            acc + u32::from(proto) + (len as u32 & 0xffff)
        }
        (s, d) => {
            let s = to_v6(s);
            let d = to_v6(d);
            let acc = sum16(&s.octets(), 0);
            let acc = sum16(&d.octets(), acc);
            acc + (len as u32 >> 16) + (len as u32 & 0xffff) + u32::from(proto)
        }
    }
}

fn to_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// The VRRP checksum of `msg` as sent from `src` to `dst`: v2 covers the message only,
/// v3 adds the pseudo-header (for IPv4 too, as keepalived 2.2 does by default). Computed
/// over a message whose checksum field holds a checksum, the result is 0 when it verifies.
pub fn vrrp_checksum(version: Version, src: IpAddr, dst: IpAddr, msg: &[u8]) -> u16 {
    match version {
        Version::V2 => internet_checksum(msg),
        Version::V3 => fold(sum16(
            msg,
            pseudo_header_sum(src, dst, IPPROTO_VRRP, msg.len()),
        )),
    }
}

/// The fields of a received IPv4 header that VRRP needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Info {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub id: u16,
    /// Type of service.
    pub tos: u8,
}

/// Split a received IPv4 datagram (as a raw IPv4 socket returns it, header included) into
/// its header fields and the VRRP message.
pub fn parse_ipv4(buf: &[u8]) -> Result<(Ipv4Info, &[u8]), PacketError> {
    if buf.len() < IPV4_HEADER_LEN {
        return Err(PacketError::TooShort(buf.len()));
    }
    if buf[0] >> 4 != 4 {
        return Err(PacketError::BadIpHeader);
    }
    let ihl = usize::from(buf[0] & 0x0f) * 4;
    if ihl < IPV4_HEADER_LEN || ihl > buf.len() {
        return Err(PacketError::BadIpHeader);
    }
    let tot_len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if tot_len != buf.len() {
        return Err(PacketError::TotalLength {
            tot_len,
            received: buf.len(),
        });
    }
    match buf[9] {
        IPPROTO_VRRP => {}
        IPPROTO_AH => return Err(PacketError::AhNotSupported),
        p => return Err(PacketError::NotVrrp(p)),
    }
    let info = Ipv4Info {
        src: Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]),
        dst: Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]),
        ttl: buf[8],
        id: u16::from_be_bytes([buf[4], buf[5]]),
        tos: buf[1],
    };
    Ok((info, &buf[ihl..]))
}

/// An IPv4 datagram carrying `payload` as keepalived builds it: TOS 0xc0, no DF, protocol
/// 112, with the header checksum filled in.
pub fn emit_ipv4(id: u16, src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let total = (IPV4_HEADER_LEN + payload.len()) as u16;
    let mut out = Vec::with_capacity(usize::from(total));
    out.extend_from_slice(&[0x45, TOS_VRRP]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0, 0, ttl, IPPROTO_VRRP, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let csum = internet_checksum(&out);
    out[10..12].copy_from_slice(&csum.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A received advertisement with what the IP layer told about it.
#[derive(Clone, Copy, Debug)]
pub struct Received<'a> {
    /// Source address (the sender's primary address).
    pub src: IpAddr,
    /// Destination address (the multicast group, or ours in unicast).
    pub dst: IpAddr,
    /// TTL / hop limit, when known.
    pub ttl: Option<u8>,
    /// The VRRP message.
    pub payload: &'a [u8],
}

impl<'a> Received<'a> {
    /// From a whole IPv4 datagram (raw socket, header included).
    pub fn from_ipv4(buf: &'a [u8]) -> Result<Received<'a>, PacketError> {
        let (ip, payload) = parse_ipv4(buf)?;
        Ok(Received {
            src: IpAddr::V4(ip.src),
            dst: IpAddr::V4(ip.dst),
            ttl: Some(ip.ttl),
            payload,
        })
    }

    /// The VRID byte, if there is one (for dispatching to an instance before parsing).
    pub fn vrid(&self) -> Option<u8> {
        self.payload.get(1).copied()
    }
}

/// Length of a gratuitous ARP frame.
pub const GARP_FRAME_LEN: usize = 42;

/// A gratuitous ARP as keepalived sends it: an ARP request, broadcast, sender IP = target IP
/// = `ip`, sender MAC = `mac`, target MAC ff:ff:ff:ff:ff:ff.
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr) -> [u8; GARP_FRAME_LEN] {
    let mut f = [0u8; GARP_FRAME_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f[14..22].copy_from_slice(&[0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    f[32..38].copy_from_slice(&[0xff; 6]);
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// All-nodes multicast, the destination of unsolicited neighbour advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The ICMPv6 message of an unsolicited neighbour advertisement for `target` from `target`
/// to ff02::1: flags O (and R if `router`), option Target Link-Layer Address = `mac`.
pub fn unsolicited_na(mac: [u8; 6], target: Ipv6Addr, router: bool) -> Vec<u8> {
    let flags = 0x20 | if router { 0x80 } else { 0 };
    let mut m = vec![136, 0, 0, 0, flags, 0, 0, 0];
    m.extend_from_slice(&target.octets());
    m.extend_from_slice(&[2, 1]);
    m.extend_from_slice(&mac);
    let csum = fold(sum16(
        &m,
        pseudo_header_sum(IpAddr::V6(target), IpAddr::V6(ALL_NODES), 58, m.len()),
    ));
    m[2..4].copy_from_slice(&csum.to_be_bytes());
    m
}

/// The Ethernet frame of an unsolicited NA: to 33:33:00:00:00:01, IPv6 from `target` to
/// ff02::1, hop limit 255.
pub fn unsolicited_na_frame(mac: [u8; 6], target: Ipv6Addr, router: bool) -> Vec<u8> {
    let icmp = unsolicited_na(mac, target, router);
    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&target.octets());
    f.extend_from_slice(&ALL_NODES.octets());
    f.extend_from_slice(&icmp);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    /// Captured from keepalived 2.2.7: v2, PASS "secret12", VRID 51, prio 150, 1 s, one VIP.
    const V2_PASS_IP: [u8; 40] = [
        0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xcf, 0xc9, 0x0a, 0xc8, 0x00,
        0x01, 0xe0, 0x00, 0x00, 0x12, //
        0x21, 0x33, 0x96, 0x01, 0x01, 0x01, 0xcf, 0x1f, 0x0a, 0xc8, 0x00, 0x64, 0x73, 0x65, 0x63,
        0x72, 0x65, 0x74, 0x31, 0x32,
    ];
    /// Same instance, priority 0 on SIGTERM.
    const V2_PRIO0: [u8; 20] = [
        0x21, 0x33, 0x00, 0x01, 0x01, 0x01, 0x65, 0x20, 0x0a, 0xc8, 0x00, 0x64, 0x73, 0x65, 0x63,
        0x72, 0x65, 0x74, 0x31, 0x32,
    ];
    /// v2 unicast, no auth, VRID 60, prio 100, 10.200.0.2 -> 10.200.0.1, VIP 10.200.0.110.
    const V2_UNICAST: [u8; 20] = [
        0x21, 0x3c, 0x64, 0x01, 0x00, 0x01, 0x6f, 0x8b, 0x0a, 0xc8, 0x00, 0x6e, 0, 0, 0, 0, 0, 0,
        0, 0,
    ];
    /// v3 IPv4, VRID 51, prio 150, two VIPs, 100 cs.
    const V3_V4_IP: [u8; 36] = [
        0x45, 0xc0, 0x00, 0x24, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xcf, 0xcd, 0x0a, 0xc8, 0x00,
        0x01, 0xe0, 0x00, 0x00, 0x12, //
        0x31, 0x33, 0x96, 0x02, 0x00, 0x64, 0x36, 0xb1, 0x0a, 0xc8, 0x00, 0x64, 0x0a, 0xc8, 0x00,
        0x65,
    ];
    /// v3 IPv6, VRID 52, prio 150, 50 cs, VIP fd00:200::100, from fe80::d808:d7ff:fe7a:4616.
    const V3_V6: [u8; 24] = [
        0x31, 0x34, 0x96, 0x01, 0x00, 0x32, 0x45, 0xdf, 0xfd, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0x01, 0x00,
    ];

    fn v6_src() -> IpAddr {
        "fe80::d808:d7ff:fe7a:4616".parse().unwrap()
    }

    fn pass(s: &[u8]) -> [u8; 8] {
        let mut p = [0u8; 8];
        p[..s.len()].copy_from_slice(s);
        p
    }

    #[test]
    fn v2_pass_parses_and_rebuilds_byte_for_byte() {
        let rx = Received::from_ipv4(&V2_PASS_IP).unwrap();
        assert_eq!(rx.src, v4([10, 200, 0, 1]));
        assert_eq!(rx.dst, IpAddr::V4(MCAST_V4));
        assert_eq!(rx.ttl, Some(255));
        let adv = Advert::parse(rx.payload, rx.src, rx.dst).unwrap();
        assert_eq!(
            adv,
            Advert {
                version: Version::V2,
                vrid: 51,
                priority: 150,
                auth_type: AUTH_PASS,
                auth_data: pass(b"secret12"),
                adver_int: 1,
                addrs: vec![v4([10, 200, 0, 100])],
            }
        );
        assert_eq!(adv.interval_cs(), 100);
        let msg = adv.emit(rx.src, rx.dst).unwrap();
        assert_eq!(msg, rx.payload);
        let ip = emit_ipv4(1, Ipv4Addr::new(10, 200, 0, 1), MCAST_V4, 255, &msg);
        assert_eq!(ip, V2_PASS_IP);
    }

    #[test]
    fn v2_priority_zero_and_unicast_rebuild() {
        let mut adv = Advert {
            version: Version::V2,
            vrid: 51,
            priority: 0,
            auth_type: AUTH_PASS,
            auth_data: pass(b"secret12"),
            adver_int: 1,
            addrs: vec![v4([10, 200, 0, 100])],
        };
        let src = v4([10, 200, 0, 1]);
        let mc = IpAddr::V4(MCAST_V4);
        assert_eq!(adv.emit(src, mc).unwrap(), V2_PRIO0);
        assert_eq!(Advert::parse(&V2_PRIO0, src, mc).unwrap(), adv);

        adv = Advert {
            version: Version::V2,
            vrid: 60,
            priority: 100,
            auth_type: AUTH_NONE,
            auth_data: [0; 8],
            adver_int: 1,
            addrs: vec![v4([10, 200, 0, 110])],
        };
        let (s, d) = (v4([10, 200, 0, 2]), v4([10, 200, 0, 1]));
        assert_eq!(adv.emit(s, d).unwrap(), V2_UNICAST);
        assert_eq!(Advert::parse(&V2_UNICAST, s, d).unwrap(), adv);
    }

    #[test]
    fn v2_checksum_covers_auth_data() {
        // Over the first 12 bytes only it would be 0x3c9e; keepalived's is 0xcf1f.
        let mut m = V2_PASS_IP[20..].to_vec();
        m[6] = 0;
        m[7] = 0;
        assert_eq!(internet_checksum(&m), 0xcf1f);
        assert_eq!(internet_checksum(&m[..12]), 0x3c9e);
    }

    #[test]
    fn v3_ipv4_with_pseudo_header() {
        let rx = Received::from_ipv4(&V3_V4_IP).unwrap();
        let adv = Advert::parse(rx.payload, rx.src, rx.dst).unwrap();
        assert_eq!(adv.version, Version::V3);
        assert_eq!(adv.vrid, 51);
        assert_eq!(adv.priority, 150);
        assert_eq!(adv.adver_int, 100);
        assert_eq!(adv.interval_cs(), 100);
        assert_eq!(
            adv.addrs,
            vec![v4([10, 200, 0, 100]), v4([10, 200, 0, 101])]
        );
        let msg = adv.emit(rx.src, rx.dst).unwrap();
        assert_eq!(msg, rx.payload);
        assert_eq!(
            emit_ipv4(1, Ipv4Addr::new(10, 200, 0, 1), MCAST_V4, 255, &msg),
            V3_V4_IP
        );
        // Without the pseudo-header the checksum would be 0x220d (RFC 9568 style).
        let mut m = msg.clone();
        m[6] = 0;
        m[7] = 0;
        assert_eq!(internet_checksum(&m), 0x220d);
    }

    #[test]
    fn v3_ipv6() {
        let dst = IpAddr::V6(MCAST_V6);
        let adv = Advert::parse(&V3_V6, v6_src(), dst).unwrap();
        assert_eq!(adv.vrid, 52);
        assert_eq!(adv.adver_int, 50);
        assert_eq!(adv.addrs, vec!["fd00:200::100".parse::<IpAddr>().unwrap()]);
        assert_eq!(adv.emit(v6_src(), dst).unwrap(), V3_V6);
    }

    #[test]
    fn rejects_malformed() {
        let src = v4([10, 200, 0, 1]);
        let mc = IpAddr::V4(MCAST_V4);
        let good = V2_PASS_IP[20..].to_vec();
        let mut bad = good.clone();
        bad[7] ^= 1;
        assert_eq!(Advert::parse(&bad, src, mc), Err(PacketError::Checksum(2)));
        let mut bad = good.clone();
        bad[0] = 0x41;
        assert_eq!(
            Advert::parse(&bad, src, mc),
            Err(PacketError::BadVersion(4))
        );
        let mut bad = good.clone();
        bad[0] = 0x22;
        assert_eq!(Advert::parse(&bad, src, mc), Err(PacketError::BadType(2)));
        let mut bad = good.clone();
        bad[3] = 2;
        assert_eq!(
            Advert::parse(&bad, src, mc),
            Err(PacketError::BadLength {
                got: 20,
                expected: 24
            })
        );
        assert_eq!(
            Advert::parse(&good[..5], src, mc),
            Err(PacketError::TooShort(5))
        );
        // A v3 IPv4 advert checked with another destination fails (pseudo-header).
        let rx = Received::from_ipv4(&V3_V4_IP).unwrap();
        assert_eq!(
            Advert::parse(rx.payload, rx.src, v4([10, 200, 0, 2])),
            Err(PacketError::Checksum(3))
        );
        // v2 bytes from an IPv6 source.
        assert_eq!(
            Advert::parse(&good, v6_src(), IpAddr::V6(MCAST_V6)),
            Err(PacketError::V2OverIpv6)
        );
        // IP layer.
        let mut ip = V2_PASS_IP.to_vec();
        ip.push(0);
        assert_eq!(
            Received::from_ipv4(&ip).unwrap_err(),
            PacketError::TotalLength {
                tot_len: 40,
                received: 41
            }
        );
        let mut ip = V2_PASS_IP.to_vec();
        ip[9] = 51;
        assert_eq!(
            Received::from_ipv4(&ip).unwrap_err(),
            PacketError::AhNotSupported
        );
        ip[9] = 6;
        assert_eq!(
            Received::from_ipv4(&ip).unwrap_err(),
            PacketError::NotVrrp(6)
        );
    }

    #[test]
    fn build_errors() {
        let mut adv = Advert {
            version: Version::V2,
            vrid: 1,
            priority: 100,
            auth_type: 0,
            auth_data: [0; 8],
            adver_int: 0,
            addrs: vec![v4([10, 0, 0, 1])],
        };
        let s = v4([10, 0, 0, 2]);
        let d = IpAddr::V4(MCAST_V4);
        assert_eq!(adv.emit(s, d), Err(BuildError::Interval(0)));
        adv.adver_int = 1;
        assert_eq!(
            adv.emit(v6_src(), IpAddr::V6(MCAST_V6)),
            Err(BuildError::FamilyMismatch)
        );
        adv.version = Version::V3;
        adv.adver_int = 4096;
        assert_eq!(adv.emit(s, d), Err(BuildError::Interval(4096)));
        adv.adver_int = 4095;
        adv.addrs = vec![v4([10, 0, 0, 1]); 256];
        assert_eq!(adv.emit(s, d), Err(BuildError::TooManyAddresses(256)));
    }

    #[test]
    fn garp_matches_capture() {
        let mac = [0xe6, 0xf4, 0xda, 0x4f, 0xe5, 0x05];
        let f = garp_frame(mac, Ipv4Addr::new(10, 200, 0, 100));
        let expect: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe6, 0xf4, 0xda, 0x4f, 0xe5, 0x05, 0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0xe6, 0xf4, 0xda, 0x4f, 0xe5, 0x05, 10,
            200, 0, 100, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 10, 200, 0, 100,
        ];
        assert_eq!(f, expect);
    }

    #[test]
    fn unsolicited_na_matches_capture() {
        let mac = [0xda, 0x08, 0xd7, 0x7a, 0x46, 0x16];
        let target: Ipv6Addr = "fd00:200::100".parse().unwrap();
        let m = unsolicited_na(mac, target, false);
        let mut expect = vec![0x88, 0x00, 0x5f, 0x04, 0x20, 0, 0, 0];
        expect.extend_from_slice(&target.octets());
        expect.extend_from_slice(&[2, 1, 0xda, 0x08, 0xd7, 0x7a, 0x46, 0x16]);
        assert_eq!(m, expect);
        let f = unsolicited_na_frame(mac, target, false);
        assert_eq!(&f[14 + 40..], &expect[..]);
        assert_eq!(f[14 + 7], 255);
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                                 v6 in any::<bool>()) {
            let _ = Received::from_ipv4(&bytes).map(|rx| Advert::parse(rx.payload, rx.src, rx.dst));
            let (s, d) = if v6 {
                (v6_src(), IpAddr::V6(MCAST_V6))
            } else {
                (v4([10, 0, 0, 1]), IpAddr::V4(MCAST_V4))
            };
            let _ = Advert::parse(&bytes, s, d);
        }

        #[test]
        fn emit_then_parse_roundtrips(vrid in any::<u8>(), prio in any::<u8>(), v3 in any::<bool>(),
                                      n in 0usize..20, int in 1u16..256, pw in any::<[u8; 8]>()) {
            let addrs: Vec<IpAddr> = (0..n).map(|i| v4([10, 1, (i >> 8) as u8, i as u8])).collect();
            let adv = Advert {
                version: if v3 { Version::V3 } else { Version::V2 },
                vrid, priority: prio,
                auth_type: if v3 { 0 } else { AUTH_PASS },
                auth_data: if v3 { [0; 8] } else { pw },
                adver_int: int, addrs,
            };
            let (s, d) = (v4([10, 0, 0, 1]), IpAddr::V4(MCAST_V4));
            let bytes = adv.emit(s, d).unwrap();
            prop_assert_eq!(Advert::parse(&bytes, s, d).unwrap(), adv);
        }
    }
}
