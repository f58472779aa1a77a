//! Tunnelling (LVS-TUN, `ip_vs_tunnel_xmit`): IPIP and GUE encapsulation on the director,
//! decapsulation on the real-server side.
//!
//! The inner packet is copied byte for byte: the caller has already decremented its TTL
//! ([`crate::decrement_ttl`]), which fixed its header checksum. The outer header is built
//! entirely from the inner header and [`Outer`], so the output is a pure function of the
//! input; the exact field values are listed on [`encap_ipip`] and [`encap_gue`].

use core::net::IpAddr;
use core::ops::Range;

use crate::parse::{L3_OFFSET, parse_frame, parse_l3};
use crate::rewrite::check_ip;
use crate::{Af, Error, Fragment, Result, addr16, ethernet, ipv4, ipv6, proto, udp};

/// Length of the GUE header this crate writes and accepts (version 0, no options).
pub const GUE_HEADER_LEN: usize = 4;

/// The outer Ethernet and IP endpoints of a tunnel packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Outer {
    /// Ethernet source (the director's interface).
    pub src_mac: [u8; 6],
    /// Ethernet destination (the next hop towards the real server).
    pub dst_mac: [u8; 6],
    /// Outer IP source (the director's address towards the real server).
    pub src: IpAddr,
    /// Outer IP destination (the real server); same family as `src`.
    pub dst: IpAddr,
}

/// The DS field of the outer header from the inner one: the kernel's
/// `INET_ECN_encapsulate(inner, inner)`. The DSCP is copied; the ECN field is copied,
/// except CE (0b11), which becomes ECT(0) (0b10), RFC 3168 §9.1.1 full-functionality
/// mode. (RFC 6040 "normal mode" would copy CE; the kernel and this crate do not.)
#[inline]
pub const fn ecn_encapsulate(inner_dsfield: u8) -> u8 {
    let ecn = inner_dsfield & 0x03;
    (inner_dsfield & !0x03) | if ecn == 0x03 { 0x02 } else { ecn }
}

/// What the outer header needs from the inner packet.
struct Inner<'a> {
    af: Af,
    packet: &'a [u8],
    ttl: u8,
    dsfield: u8,
    df: bool,
}

fn inner(frame: &[u8]) -> Result<Inner<'_>> {
    let (af, end) = check_ip(frame)?;
    let packet = &frame[L3_OFFSET..end];
    Ok(match af {
        Af::Inet => {
            let p = ipv4::Packet::new_unchecked(packet);
            Inner {
                af,
                packet,
                ttl: p.ttl(),
                dsfield: p.dsfield(),
                df: p.dont_frag(),
            }
        }
        Af::Inet6 => {
            let p = ipv6::Packet::new_unchecked(packet);
            Inner {
                af,
                packet,
                ttl: p.hop_limit(),
                dsfield: p.traffic_class(),
                df: true,
            }
        }
    })
}

const fn inner_proto(af: Af) -> u8 {
    match af {
        Af::Inet => proto::IPIP,
        Af::Inet6 => proto::IPV6,
    }
}

/// Build Ethernet + outer IP (+ UDP + GUE when `gue` holds the ports) + inner packet.
fn encap(
    inner_frame: &[u8],
    out: &mut [u8],
    outer: &Outer,
    gue: Option<(u16, u16)>,
) -> Result<usize> {
    let inner = inner(inner_frame)?;
    let af = Af::of(&outer.src);
    if Af::of(&outer.dst) != af {
        return Err(Error::FamilyMismatch);
    }
    let ip_hlen = match af {
        Af::Inet => ipv4::HEADER_LEN,
        Af::Inet6 => ipv6::HEADER_LEN,
    };
    let tun_hlen = if gue.is_some() {
        udp::HEADER_LEN + GUE_HEADER_LEN
    } else {
        0
    };
    let ip_payload = tun_hlen + inner.packet.len();
    let ip_len = match af {
        Af::Inet => ip_hlen + ip_payload,
        Af::Inet6 => ip_payload,
    };
    let ip_len = u16::try_from(ip_len).map_err(|_| Error::TooLong)?;
    let total = L3_OFFSET + ip_hlen + ip_payload;
    if out.len() < total {
        return Err(Error::BufferTooSmall);
    }
    let out = &mut out[..total];
    let next = if gue.is_some() {
        proto::UDP
    } else {
        inner_proto(inner.af)
    };
    let tos = ecn_encapsulate(inner.dsfield);
    let (src, dst) = (addr16(outer.src), addr16(outer.dst));

    let mut eth = ethernet::Frame::new_unchecked(&mut out[..]);
    eth.set_dst_addr(outer.dst_mac);
    eth.set_src_addr(outer.src_mac);
    eth.set_ethertype(match af {
        Af::Inet => ethernet::ETHERTYPE_IPV4,
        Af::Inet6 => ethernet::ETHERTYPE_IPV6,
    });
    let ip = &mut out[L3_OFFSET..];
    match af {
        Af::Inet => {
            let mut p = ipv4::Packet::new_unchecked(&mut ip[..]);
            p.set_version_and_header_len(4, ipv4::HEADER_LEN);
            p.set_dsfield(tos);
            p.set_total_len(ip_len);
            p.set_ident(0);
            p.set_flags_frag(if inner.df { ipv4::FLAG_DF } else { 0 });
            p.set_ttl(inner.ttl);
            p.set_protocol(next);
            p.set_src_addr([src[0], src[1], src[2], src[3]]);
            p.set_dst_addr([dst[0], dst[1], dst[2], dst[3]]);
            p.fill_checksum();
        }
        Af::Inet6 => {
            let mut p = ipv6::Packet::new_unchecked(&mut ip[..]);
            p.set_version_tc_flow(tos, 0);
            p.set_payload_len(ip_len);
            p.set_next_header(next);
            p.set_hop_limit(inner.ttl);
            p.set_src_addr(src);
            p.set_dst_addr(dst);
        }
    }
    let body = &mut ip[ip_hlen..];
    body[tun_hlen..].copy_from_slice(inner.packet);
    if let Some((sport, dport)) = gue {
        body[udp::HEADER_LEN..tun_hlen].copy_from_slice(&[0, inner_proto(inner.af), 0, 0]);
        let mut u = udp::Packet::new_unchecked(&mut body[..]);
        u.set_src_port(sport);
        u.set_dst_port(dport);
        u.set_len(ip_payload as u16);
        u.set_checksum(0);
        if af == Af::Inet6 {
            u.fill_checksum(&src, &dst);
        }
    }
    Ok(total)
}

/// IPIP encapsulation (LVS-TUN `--tun-type ipip`): write Ethernet + outer IP header + the
/// inner IP packet of `inner_frame` into `out`; returns the frame length.
///
/// The inner packet is `inner_frame` from its IP header to its IP length (Ethernet padding
/// dropped). The outer header, field by field:
/// * Ethernet: `outer.dst_mac`, `outer.src_mac`, ethertype of the outer family.
/// * Outer IPv4 (when `outer.src` is IPv4): version 4, IHL 5, DS field =
///   [`ecn_encapsulate`]`(inner DS field/traffic class)`, total length, **id 0**, flags =
///   DF if the inner IPv4 packet has DF or the inner packet is IPv6 (never MF, offset 0),
///   TTL = inner TTL/hop limit, protocol 4 (IPv4 inner) or 41 (IPv6 inner), header
///   checksum computed in full, `outer.src`, `outer.dst`. The kernel picks the id with
///   `ip_select_ident` and copies DF only with `pmtu_disc` on (the default); a fixed id 0
///   keeps the output deterministic (RFC 6864 allows any id on DF packets).
/// * Outer IPv6 (when `outer.src` is IPv6): version 6, traffic class as above, **flow label
///   0**, payload length, next header 4 or 41, hop limit = inner TTL/hop limit.
///
/// Errors: those of a malformed inner IP header, [`Error::FamilyMismatch`] if
/// `outer.src`/`outer.dst` differ in family, [`Error::TooLong`] if the outer length field
/// would overflow, [`Error::BufferTooSmall`].
pub fn encap_ipip(inner_frame: &[u8], out: &mut [u8], outer: &Outer) -> Result<usize> {
    encap(inner_frame, out, outer, None)
}

/// GUE encapsulation (LVS-TUN `--tun-type gue`, without `--tun-csum`/`--tun-remcsum`):
/// Ethernet + outer IP + UDP + GUE + inner IP packet; returns the frame length.
///
/// Outer Ethernet and IP as [`encap_ipip`], except protocol/next header 17. Then:
/// * UDP: source port `sport` (the caller's flow hash, the kernel's
///   `udp_flow_src_port`), destination port `dport` (`--tun-port`), length = 8 + 4 +
///   inner length, checksum **0 for an IPv4 outer header**, and for an IPv6 outer header
///   computed in full over the pseudo-header, UDP, GUE and inner packet (0 written as
///   `0xffff`).
/// * GUE (draft-ietf-intarea-gue, variant 0): 4 bytes `[0x00, proto, 0x00, 0x00]`: version
///   0, C = 0, hlen 0, proto/ctype 4 (IPv4 inner) or 41 (IPv6 inner), flags 0.
///
/// Errors: as [`encap_ipip`].
pub fn encap_gue(
    inner_frame: &[u8],
    out: &mut [u8],
    outer: &Outer,
    sport: u16,
    dport: u16,
) -> Result<usize> {
    encap(inner_frame, out, outer, Some((sport, dport)))
}

/// Replace the outer headers by an Ethernet header in front of the inner packet: the
/// inner packet starts at `inner`, its IP length is checked against `end`.
fn strip(frame: &mut [u8], inner: usize, end: usize, inner_proto: u8) -> Result<Range<usize>> {
    let (ethertype, len) = match inner_proto {
        proto::IPIP => {
            let p = ipv4::Packet::new_checked(&frame[inner..end])?;
            if p.version() != 4 {
                return Err(Error::Malformed);
            }
            (ethernet::ETHERTYPE_IPV4, usize::from(p.total_len()))
        }
        proto::IPV6 => {
            let p = ipv6::Packet::new_checked(&frame[inner..end])?;
            if p.version() != 6 {
                return Err(Error::Malformed);
            }
            (
                ethernet::ETHERTYPE_IPV6,
                ipv6::HEADER_LEN + usize::from(p.payload_len()),
            )
        }
        _ => return Err(Error::Unsupported),
    };
    let old = ethernet::Frame::new_unchecked(&frame[..]);
    let (src, dst) = (old.src_addr(), old.dst_addr());
    let start = inner - ethernet::HEADER_LEN;
    let mut eth = ethernet::Frame::new_unchecked(&mut frame[start..inner]);
    eth.set_dst_addr(dst);
    eth.set_src_addr(src);
    eth.set_ethertype(ethertype);
    Ok(start..inner + len)
}

/// IPIP decapsulation (the real-server side): strip the outer IP header of a frame whose
/// outer protocol/next header is 4 or 41, writing an Ethernet header (same MAC addresses,
/// ethertype of the inner packet) right in front of the inner packet. Returns the range of
/// the decapsulated frame in `frame`: in XDP, `bpf_xdp_adjust_head(ctx, start)` after the
/// same 14-byte write.
///
/// Nothing else changes: no checksum is verified or updated (the inner packet has its own)
/// and the inner TTL is left alone. The outer destination is not checked against the
/// host's addresses: the caller does that with [`parse_frame`]. The inner header must be
/// whole and of the version the outer protocol announces, and within the outer packet.
///
/// Errors: those of a malformed outer or inner header; [`Error::Fragment`] if the outer
/// packet is a fragment; [`Error::Unsupported`] if the outer protocol is not 4 or 41 (or an
/// IPv6 outer header is followed by extension headers).
pub fn decap_ipip(frame: &mut [u8]) -> Result<Range<usize>> {
    let l3 = parse_l3(frame)?;
    if l3.fragment != Fragment::No {
        return Err(Error::Fragment);
    }
    strip(frame, l3.l4_offset, l3.l3_end, l3.protocol)
}

/// GUE decapsulation: strip outer IP, UDP and a 4-byte GUE header (version 0, C = 0,
/// hlen 0, flags 0, proto/ctype 4 or 41) and write an Ethernet header in front of the
/// inner packet, as [`decap_ipip`]. The UDP destination port is not checked (the caller
/// matched it to its GUE port) and the UDP checksum is not verified.
///
/// Errors: as [`decap_ipip`]; [`Error::Unsupported`] if the outer packet is not UDP or the
/// GUE header has another version, the control bit, options or flags;
/// [`Error::Truncated`] if the UDP payload is shorter than the GUE header.
pub fn decap_gue(frame: &mut [u8]) -> Result<Range<usize>> {
    let info = parse_frame(frame)?;
    if info.fragment != Fragment::No {
        return Err(Error::Fragment);
    }
    if info.protocol != proto::UDP {
        return Err(Error::Unsupported);
    }
    let u = udp::Packet::new_unchecked(&frame[info.l4_offset..info.l3_end]);
    let gue = u.payload();
    if gue.len() < GUE_HEADER_LEN {
        return Err(Error::Truncated);
    }
    if gue[0] != 0 || gue[2] != 0 || gue[3] != 0 {
        return Err(Error::Unsupported);
    }
    let inner_proto = gue[1];
    let inner = info.l4_offset + udp::HEADER_LEN + GUE_HEADER_LEN;
    let end = info.l4_offset + usize::from(u.len());
    strip(frame, inner, end, inner_proto)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn ecn_table() {
        // Not-ECT, ECT(1), ECT(0) are copied; CE becomes ECT(0); DSCP is kept.
        assert_eq!(ecn_encapsulate(0xb8), 0xb8);
        assert_eq!(ecn_encapsulate(0xb9), 0xb9);
        assert_eq!(ecn_encapsulate(0xba), 0xba);
        assert_eq!(ecn_encapsulate(0xbb), 0xba);
        assert_eq!(ecn_encapsulate(0x03), 0x02);
    }
}
