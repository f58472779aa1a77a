//! In-place rewrites of a whole Ethernet frame: TTL, the NAT/FULLNAT tuple, ICMP errors
//! about a connection, MAC addresses.
//!
//! Every function validates the frame completely before it writes a byte, so on `Err` the
//! buffer is untouched; none of them panics on any input.
//!
//! | method / direction | rewrite |
//! |---|---|
//! | DR (every forwarded frame) | [`decrement_ttl`], [`set_macs`] |
//! | NAT in | [`rewrite_tuple`]`(f, None, Some((RIP, rport)))` |
//! | NAT out | [`rewrite_tuple`]`(f, Some((VIP, vport)), None)` |
//! | FULLNAT in | [`rewrite_tuple`]`(f, Some((LIP, lport)), Some((RIP, rport)))` |
//! | FULLNAT out | [`rewrite_tuple`]`(f, Some((VIP, vport)), Some((CIP, cport)))` |
//! | ICMP error, NAT in / out | [`rewrite_icmp_error_in`], [`rewrite_icmp_error_out`] |
//! | ICMP error, FULLNAT in / out | [`rewrite_icmp_error_in_fullnat`], [`rewrite_icmp_error_out_fullnat`] |

use core::net::IpAddr;

use crate::checksum::{self, Update};
use crate::parse::{L3_OFFSET, parse_frame};
use crate::{
    Af, Error, Fragment, FrameInfo, Result, addr16, be16, ethernet, icmpv4, ipv4, ipv6, proto,
    put16, tcp, udp,
};

/// Validate Ethernet and the fixed IP header (version, IHL, lengths) only; returns the
/// family and the end of the IP packet in the frame. Extension headers and the transport
/// header are not looked at.
pub(crate) fn check_ip(frame: &[u8]) -> Result<(Af, usize)> {
    let eth = ethernet::Frame::new_checked(frame)?;
    let ip = &frame[L3_OFFSET..];
    match eth.ethertype() {
        ethernet::ETHERTYPE_IPV4 => {
            if ip.len() < ipv4::HEADER_LEN {
                return Err(Error::Truncated);
            }
            let p = ipv4::Packet::new_unchecked(ip);
            if p.version() != 4 {
                return Err(Error::Malformed);
            }
            p.check_len()?;
            Ok((Af::Inet, L3_OFFSET + usize::from(p.total_len())))
        }
        ethernet::ETHERTYPE_IPV6 => {
            if ip.len() < ipv6::HEADER_LEN {
                return Err(Error::Truncated);
            }
            let p = ipv6::Packet::new_unchecked(ip);
            if p.version() != 6 {
                return Err(Error::Malformed);
            }
            p.check_len()?;
            Ok((
                Af::Inet6,
                L3_OFFSET + ipv6::HEADER_LEN + usize::from(p.payload_len()),
            ))
        }
        _ => Err(Error::Unsupported),
    }
}

/// Decrement the IPv4 TTL or the IPv6 hop limit by one; returns the new value.
///
/// IPv4: the header checksum is updated incrementally (RFC 1624 eqn. 3 over the
/// TTL/protocol word); this gives the same bytes as the kernel's `ip_decrease_ttl`, and as
/// a full recomputation when the checksum was correct. An incorrect checksum stays
/// incorrect. Only Ethernet and the fixed IP header are validated (IPv6 extension headers
/// are allowed here). Errors: [`Error::TtlExceeded`] if the TTL/hop limit is 0 or 1 (the
/// caller sends ICMP time exceeded), and the errors of a malformed header.
pub fn decrement_ttl(frame: &mut [u8]) -> Result<u8> {
    let (af, _) = check_ip(frame)?;
    let ip = &mut frame[L3_OFFSET..];
    match af {
        Af::Inet => {
            let mut p = ipv4::Packet::new_unchecked(ip);
            let ttl = p.ttl();
            if ttl <= 1 {
                return Err(Error::TtlExceeded);
            }
            let proto = u16::from(p.protocol());
            let old = (u16::from(ttl) << 8) | proto;
            let new = (u16::from(ttl - 1) << 8) | proto;
            let c = checksum::update16(p.checksum(), old, new);
            p.set_ttl(ttl - 1);
            p.set_checksum(c);
            Ok(ttl - 1)
        }
        Af::Inet6 => {
            let mut p = ipv6::Packet::new_unchecked(ip);
            let hop = p.hop_limit();
            if hop <= 1 {
                return Err(Error::TtlExceeded);
            }
            p.set_hop_limit(hop - 1);
            Ok(hop - 1)
        }
    }
}

/// Set the Ethernet source and destination MAC addresses (DR: the real server's MAC as
/// destination; every frame the director transmits). Errors: [`Error::Truncated`] if the
/// frame is shorter than an Ethernet header.
pub fn set_macs(frame: &mut [u8], src: [u8; 6], dst: [u8; 6]) -> Result<()> {
    let mut eth = ethernet::Frame::new_checked(frame)?;
    eth.set_src_addr(src);
    eth.set_dst_addr(dst);
    Ok(())
}

/// The address bytes of `addr` (4 or 16) if it is of family `af`.
fn addr_bytes(af: Af, addr: IpAddr) -> Result<[u8; 16]> {
    if Af::of(&addr) != af {
        return Err(Error::FamilyMismatch);
    }
    Ok(addr16(addr))
}

/// Offsets of the source and destination addresses in the frame.
const fn addr_offsets(af: Af) -> (usize, usize) {
    match af {
        Af::Inet => (
            L3_OFFSET + ipv4::SRC_ADDR_OFFSET,
            L3_OFFSET + ipv4::DST_ADDR_OFFSET,
        ),
        Af::Inet6 => (
            L3_OFFSET + ipv6::SRC_ADDR_OFFSET,
            L3_OFFSET + ipv6::DST_ADDR_OFFSET,
        ),
    }
}

/// Set the source and/or destination address and port of a TCP, UDP, ICMP or ICMPv6
/// packet, with incremental checksum updates: the NAT/FULLNAT workhorse.
///
/// | use | `new_src` | `new_dst` |
/// |---|---|---|
/// | NAT in | `None` | `Some((RIP, rport))` |
/// | NAT out | `Some((VIP, vport))` | `None` |
/// | FULLNAT in | `Some((LIP, lport))` | `Some((RIP, rport))` |
/// | FULLNAT out | `Some((VIP, vport))` | `Some((CIP, cport))` |
///
/// Exactly what is written:
/// * the IP source/destination address for each `Some`;
/// * TCP/UDP: the source/destination port for each `Some`; ICMP and ICMPv6 have no ports
///   and the ports given are ignored (an ICMP error message keeps its quote unchanged: see
///   [`rewrite_icmp_error`]);
/// * IPv4 header checksum: one RFC 1624 eqn. 3 update over the words of the changed
///   addresses (see [`crate::checksum`]);
/// * transport checksum: one RFC 1624 eqn. 3 update over the words of every field named by
///   a `Some` (address words, which are in the pseudo-header, and the port word) — TCP
///   always; UDP only if its checksum is nonzero, a zero checksum means "none" and stays 0
///   (IPv4; an IPv6 zero checksum, legal only for tunnels per RFC 6935, is left as is too),
///   and a resulting 0 is written `0xffff`; ICMPv6 for the address words (pseudo-header);
///   ICMPv4 none (no pseudo-header).
///
/// When the input checksums were correct, the output equals a full recomputation. An
/// incorrect checksum stays incorrect by the same amount. Nothing is verified.
///
/// This deliberately differs from the kernel for IPv4 UDP with checksum 0, which IPVS
/// fills with a full checksum (`udp_snat_handler`); here the packet keeps "no checksum",
/// which needs no pass over the payload in XDP.
///
/// Errors: those of [`parse_frame`]; [`Error::Fragment`] for any fragment (the transport
/// checksum covers the reassembled datagram: fragments go to the kernel, which
/// reassembles); [`Error::Unsupported`] for other protocols (SCTP's CRC32c is not
/// incremental); [`Error::FamilyMismatch`] for an address of the other family.
pub fn rewrite_tuple(
    frame: &mut [u8],
    new_src: Option<(IpAddr, u16)>,
    new_dst: Option<(IpAddr, u16)>,
) -> Result<()> {
    let info = parse_frame(frame)?;
    if info.fragment != Fragment::No {
        return Err(Error::Fragment);
    }
    // (checksum offset in the frame, whether the ports and address words are covered)
    let (csum_at, has_ports, pseudo) = match (info.af, info.protocol) {
        (_, proto::TCP) => (Some(info.l4_offset + tcp::CHECKSUM.start), true, true),
        (_, proto::UDP) => {
            let at = info.l4_offset + udp::CHECKSUM.start;
            (
                if be16(frame, at) == 0 { None } else { Some(at) },
                true,
                true,
            )
        }
        (Af::Inet, proto::ICMP) => (None, false, false),
        (Af::Inet6, proto::ICMPV6) => (Some(info.l4_offset + 2), false, true),
        _ => return Err(Error::Unsupported),
    };
    let alen = info.af.addr_len();
    let src = match new_src {
        Some((a, p)) => Some((addr_bytes(info.af, a)?, p)),
        None => None,
    };
    let dst = match new_dst {
        Some((a, p)) => Some((addr_bytes(info.af, a)?, p)),
        None => None,
    };

    let ip_csum_at = L3_OFFSET + ipv4::CHECKSUM_OFFSET;
    let mut ip_update = Update::new(be16(frame, ip_csum_at));
    let mut l4_update = Update::new(csum_at.map_or(0, |at| be16(frame, at)));
    let (saddr_at, daddr_at) = addr_offsets(info.af);
    let l4 = info.l4_offset;
    for (new, old_addr, port_at) in [(src, &info.saddr, l4), (dst, &info.daddr, l4 + 2)] {
        let Some((addr, port)) = new else { continue };
        ip_update.bytes(&old_addr[..alen], &addr[..alen]);
        if pseudo {
            l4_update.bytes(&old_addr[..alen], &addr[..alen]);
        }
        if has_ports {
            l4_update.word(be16(frame, port_at), port);
        }
    }

    // Validation is over: write.
    for (new, addr_at, port_at) in [(src, saddr_at, l4), (dst, daddr_at, l4 + 2)] {
        let Some((addr, port)) = new else { continue };
        frame[addr_at..addr_at + alen].copy_from_slice(&addr[..alen]);
        if has_ports {
            put16(frame, port_at, port);
        }
    }
    if info.af == Af::Inet {
        put16(frame, ip_csum_at, ip_update.finish());
    }
    if let Some(at) = csum_at {
        let c = l4_update.finish();
        let c = if info.protocol == proto::UDP {
            checksum::udp_nonzero(c)
        } else {
            c
        };
        put16(frame, at, c);
    }
    Ok(())
}

/// Turn a transport checksum that is only the pseudo-header seed of a checksum-offloaded
/// sender into the full checksum; leave a correct full checksum alone.
///
/// A packet that a Linux sender handed to a device with transmit checksum offload
/// (`CHECKSUM_PARTIAL`, e.g. any veth) carries in its TCP/UDP checksum field the folded,
/// uncomplemented sum of the pseudo-header, and the device fills in the rest. When such a
/// frame is copied out of the kernel (AF_XDP) and sent again as a plain packet, nothing fills
/// it in any more. Returns `Ok(true)` when the seed was replaced by the full checksum,
/// `Ok(false)` when the checksum already verified (or is an IPv4 UDP "no checksum" 0, or the
/// packet is a fragment or not TCP/UDP), and [`Error::BadChecksum`] when it is neither.
pub fn complete_partial_checksum(frame: &mut [u8]) -> Result<bool> {
    let info = parse_frame(frame)?;
    if info.fragment != Fragment::No {
        return Ok(false);
    }
    let field = match info.protocol {
        proto::TCP => tcp::CHECKSUM,
        proto::UDP => udp::CHECKSUM,
        _ => return Ok(false),
    };
    let l4 = info.l4_offset;
    let at = l4 + field.start;
    let current = be16(frame, at);
    if info.protocol == proto::UDP && current == 0 && info.af == Af::Inet {
        return Ok(false);
    }
    let alen = info.af.addr_len();
    let segment = &frame[l4..info.l3_end];
    let full = checksum::transport(
        &info.saddr[..alen],
        &info.daddr[..alen],
        info.protocol,
        segment,
        field,
    );
    let full = if info.protocol == proto::UDP {
        checksum::udp_nonzero(full)
    } else {
        full
    };
    if current == full {
        return Ok(false);
    }
    let seed = checksum::pseudo_header(
        &info.saddr[..alen],
        &info.daddr[..alen],
        info.protocol,
        segment.len() as u32,
    );
    if current != seed {
        return Err(Error::BadChecksum);
    }
    put16(frame, at, full);
    Ok(true)
}

/// Rewrite an ICMP/ICMPv6 error message about a connection: the outer addresses, and the
/// addresses and ports of the quoted packet. The general form of the four
/// `rewrite_icmp_error_*` functions.
///
/// Exactly what is done, as the kernel's `ip_vs_nat_icmp`/`ip_vs_nat_icmp_v6`:
/// 1. Verify first (IPVS drops NAT'ed ICMP with a bad checksum, and a full recomputation
///    must not launder a corrupt packet): the outer IPv4 header checksum and the ICMP
///    checksum over the whole message (ICMPv6: with its pseudo-header). Failure:
///    [`Error::BadChecksum`].
/// 2. Set the outer source/destination address for each `Some`.
/// 3. Set the quoted packet's source/destination address and, if it is TCP, UDP or SCTP,
///    port for each `Some` (ports of other quoted protocols are ignored). The quoted
///    packet's own TCP/UDP/SCTP checksum is **not** changed (the quote is usually cut
///    short; IPVS leaves it too).
/// 4. Recompute in full: the quoted IPv4 header checksum (over its IHL), then the ICMP
///    checksum over the whole message from the ICMP header to the end of the IP packet
///    (ICMPv6: with the pseudo-header of the new outer addresses), then the outer IPv4
///    header checksum.
///
/// Errors: those of [`parse_frame`]; [`Error::NotIcmpError`] if the frame is not an ICMP
/// error of a type IPVS relates to connections (v4 3, 4, 11; v6 1–4) with a parseable
/// quote; [`Error::Fragment`] if the outer packet is a fragment, or the quoted one a later
/// fragment while ports are to be set; [`Error::FamilyMismatch`]; [`Error::BadChecksum`].
pub fn rewrite_icmp_error(
    frame: &mut [u8],
    outer_src: Option<IpAddr>,
    outer_dst: Option<IpAddr>,
    emb_src: Option<(IpAddr, u16)>,
    emb_dst: Option<(IpAddr, u16)>,
) -> Result<()> {
    let info: FrameInfo = parse_frame(frame)?;
    if info.fragment != Fragment::No {
        return Err(Error::Fragment);
    }
    let emb = info.icmp_error.ok_or(Error::NotIcmpError)?;
    let af = info.af;
    let alen = af.addr_len();
    let has_ports = matches!(emb.protocol, proto::TCP | proto::UDP | proto::SCTP);
    if has_ports && emb.fragment == Fragment::Later && (emb_src.is_some() || emb_dst.is_some()) {
        return Err(Error::Fragment);
    }
    let map_addr = |a: Option<IpAddr>| a.map(|a| addr_bytes(af, a)).transpose();
    let map_ep = |e: Option<(IpAddr, u16)>| {
        e.map(|(a, p)| addr_bytes(af, a).map(|a| (a, p)))
            .transpose()
    };
    let osrc = map_addr(outer_src)?;
    let odst = map_addr(outer_dst)?;
    let esrc = map_ep(emb_src)?;
    let edst = map_ep(emb_dst)?;

    // 1. Verify.
    let icmp = info.l4_offset..info.l3_end;
    let ok = match af {
        Af::Inet => {
            let ip = ipv4::Packet::new_unchecked(&frame[L3_OFFSET..]);
            ip.verify_checksum()
                && icmpv4::Packet::new_unchecked(&frame[icmp.clone()]).verify_checksum()
        }
        Af::Inet6 => {
            let ph =
                checksum::pseudo_header(&info.saddr, &info.daddr, proto::ICMPV6, icmp.len() as u32);
            checksum::combine(&[ph, checksum::data(&frame[icmp.clone()])]) == 0xffff
        }
    };
    if !ok {
        return Err(Error::BadChecksum);
    }

    // 2. Outer addresses.
    let (saddr_at, daddr_at) = addr_offsets(af);
    if let Some(a) = osrc {
        frame[saddr_at..saddr_at + alen].copy_from_slice(&a[..alen]);
    }
    if let Some(a) = odst {
        frame[daddr_at..daddr_at + alen].copy_from_slice(&a[..alen]);
    }

    // 3. Quoted addresses and ports.
    let rel = |at: usize| emb.l3_offset + at - L3_OFFSET;
    let (esaddr_at, edaddr_at) = (rel(saddr_at), rel(daddr_at));
    for (e, addr_at, port_at) in [
        (esrc, esaddr_at, emb.l4_offset),
        (edst, edaddr_at, emb.l4_offset + 2),
    ] {
        let Some((addr, port)) = e else { continue };
        frame[addr_at..addr_at + alen].copy_from_slice(&addr[..alen]);
        if has_ports && emb.fragment != Fragment::Later {
            put16(frame, port_at, port);
        }
    }

    // 4. Checksums, inside out.
    let icmp_csum_at = info.l4_offset + icmpv4::CHECKSUM.start;
    match af {
        Af::Inet => {
            ipv4::Packet::new_unchecked(&mut frame[emb.l3_offset..info.l3_end]).fill_checksum();
            put16(frame, icmp_csum_at, 0);
            let c = !checksum::data(&frame[icmp]);
            put16(frame, icmp_csum_at, c);
            ipv4::Packet::new_unchecked(&mut frame[L3_OFFSET..]).fill_checksum();
        }
        Af::Inet6 => {
            let mut s = [0u8; 16];
            s.copy_from_slice(&frame[saddr_at..saddr_at + 16]);
            let mut d = [0u8; 16];
            d.copy_from_slice(&frame[daddr_at..daddr_at + 16]);
            let c = checksum::transport(&s, &d, proto::ICMPV6, &frame[icmp], 2..4);
            put16(frame, icmp_csum_at, c);
        }
    }
    Ok(())
}

/// NAT, client side → real server (`ip_vs_in_icmp`): an error about a packet the director
/// sent from VIP:vport to the client. Sets outer destination := `rs_addr`, quoted source
/// := `rs_addr`:`rs_port`. See [`rewrite_icmp_error`] for checksums and errors.
pub fn rewrite_icmp_error_in(frame: &mut [u8], rs_addr: IpAddr, rs_port: u16) -> Result<()> {
    rewrite_icmp_error(frame, None, Some(rs_addr), Some((rs_addr, rs_port)), None)
}

/// NAT, real server → client (`ip_vs_out_icmp`): an error about a packet the client sent
/// to the real server. Sets outer source := `vaddr`, quoted destination := `vaddr`:`vport`.
/// See [`rewrite_icmp_error`] for checksums and errors.
pub fn rewrite_icmp_error_out(frame: &mut [u8], vaddr: IpAddr, vport: u16) -> Result<()> {
    rewrite_icmp_error(frame, Some(vaddr), None, None, Some((vaddr, vport)))
}

/// FULLNAT, client side → real server: an error about VIP:vport → CIP:cport, which the
/// real server sent as RIP:rport → LIP:lport. Sets outer source := `laddr`, outer
/// destination := `raddr`, quoted source := `raddr`:`rport`, quoted destination :=
/// `laddr`:`lport`. See [`rewrite_icmp_error`].
pub fn rewrite_icmp_error_in_fullnat(
    frame: &mut [u8],
    laddr: IpAddr,
    lport: u16,
    raddr: IpAddr,
    rport: u16,
) -> Result<()> {
    rewrite_icmp_error(
        frame,
        Some(laddr),
        Some(raddr),
        Some((raddr, rport)),
        Some((laddr, lport)),
    )
}

/// FULLNAT, real server → client: an error about LIP:lport → RIP:rport, which the client
/// sent as CIP:cport → VIP:vport. Sets outer source := `vaddr`, outer destination :=
/// `caddr`, quoted source := `caddr`:`cport`, quoted destination := `vaddr`:`vport`. See
/// [`rewrite_icmp_error`].
pub fn rewrite_icmp_error_out_fullnat(
    frame: &mut [u8],
    vaddr: IpAddr,
    vport: u16,
    caddr: IpAddr,
    cport: u16,
) -> Result<()> {
    rewrite_icmp_error(
        frame,
        Some(vaddr),
        Some(caddr),
        Some((caddr, cport)),
        Some((vaddr, vport)),
    )
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::build::{Builder, verify_frame};

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    #[test]
    fn decrement_ttl_v6_and_extension_headers() {
        let src = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut f = Builder::new(A, B).ipv6(src, src).ttl(9).udp(1, 2).build();
        // A hop-by-hop header is fine for the TTL (only the fixed header is read).
        f[14 + 6] = 0;
        assert_eq!(decrement_ttl(&mut f), Ok(8));
        assert_eq!(f[14 + 7], 8);
    }

    #[test]
    fn decrement_ttl_v4_with_options() {
        let mut f = Builder::new(A, B)
            .ipv4([1, 2, 3, 4], [5, 6, 7, 8])
            .ip_options(&[7, 4, 0, 0])
            .ttl(200)
            .tcp(1, 2)
            .build();
        assert_eq!(decrement_ttl(&mut f), Ok(199));
        verify_frame(&f).unwrap();
    }

    #[test]
    fn set_macs_short_frame() {
        let mut f = [0u8; 13];
        assert_eq!(set_macs(&mut f, A, B), Err(Error::Truncated));
        let mut f = [0u8; 14];
        set_macs(&mut f, A, B).unwrap();
        assert_eq!(&f[..12], &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn rewrite_only_ports_changes_only_l4() {
        let f0 = Builder::new(A, B)
            .ipv4([1, 2, 3, 4], [5, 6, 7, 8])
            .tcp(1000, 80)
            .build();
        let mut f = f0.clone();
        rewrite_tuple(&mut f, None, Some((IpAddr::from([5, 6, 7, 8]), 8080))).unwrap();
        // The IP header is unchanged (same address).
        assert_eq!(&f[..34], &f0[..34]);
        verify_frame(&f).unwrap();
        assert_eq!(u16::from_be_bytes([f[36], f[37]]), 8080);
    }
}
