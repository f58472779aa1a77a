//! ICMP and ICMPv6 errors the director generates itself: fragmentation needed / packet too
//! big (§4 step 3), port unreachable (`nat_icmp_send`) and time exceeded (TTL ≤ 1).
//!
//! Every generated frame, field by field:
//! * Ethernet: the original's addresses swapped (destination := original source, source
//!   := original destination), the original's ethertype.
//! * IPv4: version 4, IHL 5, **DS field 0xc0** (precedence "internetwork control", not
//!   ECT; Linux also ORs in the legacy TOS bits `RT_TOS` of the original, this crate does
//!   not), total length, **id 0, DF 0**, TTL 64, protocol 1, checksum computed in full,
//!   source `our_src`, destination the original's source.
//! * IPv6: version 6, traffic class 0, flow label 0, payload length, next header 58,
//!   **hop limit 64**, source `our_src`, destination the original's source.
//! * ICMP header: type/code, the 4-byte rest of header (the MTU for fragmentation needed /
//!   packet too big, else 0), checksum computed in full over the whole message (ICMPv6:
//!   with the pseudo-header).
//! * The quote: the original IP packet from its IP header, up to its IP length (Ethernet
//!   padding dropped), cut so that the whole IP packet is at most **576 bytes (IPv4:
//!   548-byte quote) or 1280 bytes (IPv6: 1232-byte quote)**, as Linux's `icmp_send` and
//!   `icmp6_send` do.
//!
//! No error is generated (→ [`Error::IcmpNotAllowed`]) about (RFC 1122 §3.2.2, RFC 4443
//! §2.4(e), as Linux): a later fragment; an ICMP error message (v4 types 3, 4, 5, 11, 12;
//! v6 types below 128); a packet whose source is unspecified, multicast or (IPv4) the
//! limited broadcast; a packet to an IPv4 multicast or limited-broadcast destination; a
//! packet to an IPv6 multicast destination, except for packet too big.

use core::net::IpAddr;

use crate::parse::{L3_OFFSET, parse_l3};
use crate::{Af, Error, Result, addr16, ethernet, icmpv4, icmpv6, ipv4, ipv6, proto};

/// Largest IPv4 packet carrying a generated ICMP error (RFC 1812 §4.3.2.3).
pub const ICMPV4_ERROR_MAX: usize = 576;
/// Largest IPv6 packet carrying a generated ICMPv6 error (the IPv6 minimum MTU).
pub const ICMPV6_ERROR_MAX: usize = 1280;
/// TTL / hop limit of generated errors.
pub const ICMP_ERROR_TTL: u8 = 64;
/// IPv4 DS field of generated errors (`IPTOS_PREC_INTERNETCONTROL`).
pub const ICMPV4_ERROR_TOS: u8 = 0xc0;

/// Which error to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpKind {
    /// IPv4 type 3 code 4 with the next-hop MTU (must fit 16 bits); IPv6 type 2 code 0
    /// with the MTU.
    FragNeeded {
        /// The MTU to report.
        mtu: u32,
    },
    /// IPv4 type 3 code 3; IPv6 type 1 code 4.
    PortUnreachable,
    /// IPv4 type 11 code 0; IPv6 type 3 code 0.
    TimeExceeded,
}

impl IcmpKind {
    /// `(type, code, rest of header)` for family `af`.
    fn header(self, af: Af) -> Result<(u8, u8, u32)> {
        Ok(match (self, af) {
            (IcmpKind::FragNeeded { mtu }, Af::Inet) => {
                if mtu > 0xffff {
                    return Err(Error::TooLong);
                }
                (icmpv4::TYPE_DEST_UNREACH, icmpv4::CODE_FRAG_NEEDED, mtu)
            }
            (IcmpKind::FragNeeded { mtu }, Af::Inet6) => (icmpv6::TYPE_PKT_TOOBIG, 0, mtu),
            (IcmpKind::PortUnreachable, Af::Inet) => {
                (icmpv4::TYPE_DEST_UNREACH, icmpv4::CODE_PORT_UNREACH, 0)
            }
            (IcmpKind::PortUnreachable, Af::Inet6) => {
                (icmpv6::TYPE_DST_UNREACH, icmpv6::CODE_PORT_UNREACH, 0)
            }
            (IcmpKind::TimeExceeded, Af::Inet) => {
                (icmpv4::TYPE_TIME_EXCEEDED, icmpv4::CODE_EXC_TTL, 0)
            }
            (IcmpKind::TimeExceeded, Af::Inet6) => {
                (icmpv6::TYPE_TIME_EXCEED, icmpv6::CODE_EXC_HOPLIMIT, 0)
            }
        })
    }
}

fn v4_bad_src(a: &[u8]) -> bool {
    a[..4] == [0, 0, 0, 0] || (a[0] & 0xf0) == 0xe0 || a[..4] == [255, 255, 255, 255]
}

fn v4_bad_dst(a: &[u8]) -> bool {
    (a[0] & 0xf0) == 0xe0 || a[..4] == [255, 255, 255, 255]
}

/// Build the ICMP/ICMPv6 error `kind` about `orig_frame` into `out`, sent from `our_src`
/// to the original's source; returns the frame length. The fields are listed in the
/// [module docs](self).
///
/// Errors: those of a malformed original IP header ([`Error::Unsupported`] includes IPv6
/// extension headers other than one Fragment header), [`Error::FamilyMismatch`] if
/// `our_src` is of the other family, [`Error::IcmpNotAllowed`], [`Error::TooLong`] for an
/// IPv4 MTU above 65535, [`Error::BufferTooSmall`].
pub fn build_icmp_error(
    orig_frame: &[u8],
    out: &mut [u8],
    our_src: IpAddr,
    kind: IcmpKind,
) -> Result<usize> {
    let l3 = parse_l3(orig_frame)?;
    let af = l3.af;
    if Af::of(&our_src) != af {
        return Err(Error::FamilyMismatch);
    }
    let (msg_type, code, rest) = kind.header(af)?;

    // RFC 1122 / RFC 4443 restrictions.
    if l3.fragment == crate::Fragment::Later {
        return Err(Error::IcmpNotAllowed);
    }
    let first_l4 = orig_frame[l3.l4_offset..l3.l3_end].first().copied();
    let allowed = match af {
        Af::Inet => {
            let is_err = l3.protocol == proto::ICMP && first_l4.is_some_and(icmpv4::is_error);
            !is_err && !v4_bad_src(&l3.saddr) && !v4_bad_dst(&l3.daddr)
        }
        Af::Inet6 => {
            let is_err = l3.protocol == proto::ICMPV6 && first_l4.is_some_and(icmpv6::is_error);
            let src_bad = l3.saddr == [0; 16] || l3.saddr[0] == 0xff;
            let dst_mcast = l3.daddr[0] == 0xff;
            !is_err && !src_bad && (!dst_mcast || matches!(kind, IcmpKind::FragNeeded { .. }))
        }
    };
    if !allowed {
        return Err(Error::IcmpNotAllowed);
    }

    let orig_ip = &orig_frame[L3_OFFSET..l3.l3_end];
    let (ip_hlen, max) = match af {
        Af::Inet => (ipv4::HEADER_LEN, ICMPV4_ERROR_MAX),
        Af::Inet6 => (ipv6::HEADER_LEN, ICMPV6_ERROR_MAX),
    };
    let quote_len = orig_ip.len().min(max - ip_hlen - icmpv4::HEADER_LEN);
    let icmp_len = icmpv4::HEADER_LEN + quote_len;
    let total = L3_OFFSET + ip_hlen + icmp_len;
    if out.len() < total {
        return Err(Error::BufferTooSmall);
    }
    let out = &mut out[..total];

    let orig_eth = ethernet::Frame::new_unchecked(orig_frame);
    let mut eth = ethernet::Frame::new_unchecked(&mut out[..]);
    eth.set_dst_addr(orig_eth.src_addr());
    eth.set_src_addr(orig_eth.dst_addr());
    eth.set_ethertype(orig_eth.ethertype());

    let src = addr16(our_src);
    let dst = l3.saddr;
    let (ip, icmp) = out[L3_OFFSET..].split_at_mut(ip_hlen);
    icmp[icmpv4::HEADER_LEN..].copy_from_slice(&orig_ip[..quote_len]);
    match af {
        Af::Inet => {
            let mut p = ipv4::Packet::new_unchecked(&mut ip[..]);
            p.set_version_and_header_len(4, ipv4::HEADER_LEN);
            p.set_dsfield(ICMPV4_ERROR_TOS);
            p.set_total_len((ip_hlen + icmp_len) as u16);
            p.set_ident(0);
            p.set_flags_frag(0);
            p.set_ttl(ICMP_ERROR_TTL);
            p.set_protocol(proto::ICMP);
            p.set_checksum(0);
            p.set_src_addr([src[0], src[1], src[2], src[3]]);
            p.set_dst_addr([dst[0], dst[1], dst[2], dst[3]]);
            p.fill_checksum();
            let mut m = icmpv4::Packet::new_unchecked(&mut icmp[..]);
            m.set_msg_type(msg_type);
            m.set_msg_code(code);
            m.set_rest_of_header(rest);
            m.fill_checksum();
        }
        Af::Inet6 => {
            let mut p = ipv6::Packet::new_unchecked(&mut ip[..]);
            p.set_version_tc_flow(0, 0);
            p.set_payload_len(icmp_len as u16);
            p.set_next_header(proto::ICMPV6);
            p.set_hop_limit(ICMP_ERROR_TTL);
            p.set_src_addr(src);
            p.set_dst_addr(dst);
            let mut m = icmpv6::Packet::new_unchecked(&mut icmp[..]);
            m.set_msg_type(msg_type);
            m.set_msg_code(code);
            m.set_rest_of_header(rest);
            m.fill_checksum(&src, &dst);
        }
    }
    Ok(total)
}

/// IPv4 "fragmentation needed and DF set" (type 3 code 4, next-hop MTU in bytes 6–7;
/// `mtu` above 65535 is [`Error::TooLong`]) or ICMPv6 "packet too big" (type 2, 32-bit
/// MTU). See [`build_icmp_error`] and the [module docs](self).
pub fn build_icmp_frag_needed(
    orig_frame: &[u8],
    mtu: u32,
    out: &mut [u8],
    our_src: IpAddr,
) -> Result<usize> {
    build_icmp_error(orig_frame, out, our_src, IcmpKind::FragNeeded { mtu })
}

/// IPv4 port unreachable (type 3 code 3) or ICMPv6 port unreachable (type 1 code 4). See
/// [`build_icmp_error`] and the [module docs](self).
pub fn build_icmp_port_unreachable(
    orig_frame: &[u8],
    out: &mut [u8],
    our_src: IpAddr,
) -> Result<usize> {
    build_icmp_error(orig_frame, out, our_src, IcmpKind::PortUnreachable)
}

/// IPv4 TTL exceeded in transit (type 11 code 0) or ICMPv6 hop limit exceeded (type 3
/// code 0). See [`build_icmp_error`] and the [module docs](self).
pub fn build_icmp_time_exceeded(
    orig_frame: &[u8],
    out: &mut [u8],
    our_src: IpAddr,
) -> Result<usize> {
    build_icmp_error(orig_frame, out, our_src, IcmpKind::TimeExceeded)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::build::{Builder, verify_frame};

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    /// The IPv4 quote is cut at 548 bytes: a 548-byte original fits whole, 549 does not.
    #[test]
    fn quote_limit_boundaries() {
        let mut out = [0u8; 1600];
        for (ip_len, quoted) in [(548usize, 548usize), (549, 548), (100, 100)] {
            let orig = Builder::new(A, B)
                .ipv4([192, 0, 2, 1], [198, 51, 100, 1])
                .udp(1, 2)
                .payload(&alloc::vec![7u8; ip_len - 28])
                .build();
            let n =
                build_icmp_port_unreachable(&orig, &mut out, IpAddr::from([10, 0, 0, 1])).unwrap();
            assert_eq!(n, 14 + 20 + 8 + quoted);
            assert_eq!(&out[42..n], &orig[14..14 + quoted]);
            verify_frame(&out[..n]).unwrap();
        }
        let src6 = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        for (ip_len, quoted) in [(1232usize, 1232usize), (1233, 1232)] {
            let orig = Builder::new(A, B)
                .ipv6(src6, src6)
                .udp(1, 2)
                .payload(&alloc::vec![7u8; ip_len - 48])
                .build();
            let mut out = [0u8; 1400];
            let n = build_icmp_time_exceeded(&orig, &mut out, IpAddr::from(src6)).unwrap();
            assert_eq!(n, 14 + 40 + 8 + quoted);
            assert_eq!(n - 14, 1280.min(48 + ip_len));
            verify_frame(&out[..n]).unwrap();
        }
    }
}
