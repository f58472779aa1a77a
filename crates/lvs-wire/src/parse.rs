//! [`parse_frame`]: everything the director reads from a frame to classify it.

use crate::ethernet::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::{Af, Error, Result, be16, icmpv4, icmpv6, ipv4, ipv6, proto, tcp, udp};

/// Where a packet stands in IP fragmentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fragment {
    /// Not a fragment.
    #[default]
    No,
    /// The first fragment (offset 0, more fragments): it carries the transport header.
    First,
    /// A later fragment (offset > 0): it has no transport header, so no ports.
    Later,
}

impl Fragment {
    /// `true` for [`Fragment::First`] and [`Fragment::Later`].
    #[inline]
    pub const fn is_fragment(self) -> bool {
        !matches!(self, Fragment::No)
    }
}

/// TCP flag bits as on the wire (low byte of the offset/flags word).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// SYN.
    #[inline]
    pub const fn syn(self) -> bool {
        self.0 & tcp::FLG_SYN as u8 != 0
    }

    /// FIN.
    #[inline]
    pub const fn fin(self) -> bool {
        self.0 & tcp::FLG_FIN as u8 != 0
    }

    /// ACK.
    #[inline]
    pub const fn ack(self) -> bool {
        self.0 & tcp::FLG_ACK as u8 != 0
    }

    /// RST.
    #[inline]
    pub const fn rst(self) -> bool {
        self.0 & tcp::FLG_RST as u8 != 0
    }
}

/// The IP and transport header quoted in an ICMP or ICMPv6 error message, as IPVS reads it
/// to find the connection the error is about. Its family is the outer packet's family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Embedded {
    /// Offset of the quoted IP header in the frame.
    pub l3_offset: usize,
    /// Offset of the quoted transport header in the frame (after IPv4 options or an IPv6
    /// Fragment header). May equal the end of the quote.
    pub l4_offset: usize,
    /// Transport protocol of the quoted packet.
    pub protocol: u8,
    /// Source address of the quoted packet (`Addr16` layout).
    pub saddr: [u8; 16],
    /// Destination address of the quoted packet (`Addr16` layout).
    pub daddr: [u8; 16],
    /// Source port (TCP, UDP, SCTP; else 0).
    pub sport: u16,
    /// Destination port (TCP, UDP, SCTP; else 0).
    pub dport: u16,
    /// Whether the quoted packet was a fragment; for [`Fragment::Later`] the ports are 0.
    pub fragment: Fragment,
}

/// What [`parse_frame`] found in a frame. Addresses are in the `Addr16` layout of
/// `lvs-core` (IPv4 in the first four bytes, the rest zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    /// Ethertype ([`ETHERTYPE_IPV4`] or [`ETHERTYPE_IPV6`]).
    pub ethertype: u16,
    /// Address family.
    pub af: Af,
    /// Offset of the IP header (14: untagged Ethernet II).
    pub l3_offset: usize,
    /// Offset of the transport header: after the IPv4 header with its options, or after
    /// the IPv6 header and a Fragment header if one follows it.
    pub l4_offset: usize,
    /// End of the IP packet in the frame (`l3_offset + ip_len`); bytes after it are
    /// Ethernet padding.
    pub l3_end: usize,
    /// Transport protocol (for IPv6 fragments: the Fragment header's next header).
    pub protocol: u8,
    /// Source address.
    pub saddr: [u8; 16],
    /// Destination address.
    pub daddr: [u8; 16],
    /// Source port (TCP, UDP, SCTP; 0 for other protocols and later fragments).
    pub sport: u16,
    /// Destination port (TCP, UDP, SCTP; 0 for other protocols and later fragments).
    pub dport: u16,
    /// TCP flags (0 for other protocols and later fragments).
    pub tcp_flags: TcpFlags,
    /// The length IPVS counts in its byte stats: the IPv4 total length, or the IPv6
    /// payload length + 40.
    pub ip_len: u32,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 DS field / IPv6 traffic class (DSCP << 2 | ECN).
    pub dsfield: u8,
    /// IPv4 Don't Fragment flag; always `true` for IPv6, which routers never fragment.
    pub df: bool,
    /// Fragment status.
    pub fragment: Fragment,
    /// ICMP/ICMPv6 `(type, code)` when the protocol is ICMP or ICMPv6 and the packet is
    /// not a later fragment.
    pub icmp: Option<(u8, u8)>,
    /// For ICMP error types 3, 4, 11 and ICMPv6 error types 1 to 4: the quoted packet's
    /// tuple. `None` for other messages, and for error messages whose quote is too short
    /// (less than a whole IP header, or less than the 4 port bytes of TCP/UDP/SCTP), of
    /// the wrong IP version, or has IPv6 extension headers other than one Fragment header.
    pub icmp_error: Option<Embedded>,
}

impl FrameInfo {
    /// The source address as an [`core::net::IpAddr`].
    #[inline]
    pub fn src_ip(&self) -> core::net::IpAddr {
        crate::ip_from_addr16(self.af, self.saddr)
    }

    /// The destination address as an [`core::net::IpAddr`].
    #[inline]
    pub fn dst_ip(&self) -> core::net::IpAddr {
        crate::ip_from_addr16(self.af, self.daddr)
    }
}

/// The IP-level facts of a frame (no transport parsing), shared by every operation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct L3 {
    pub ethertype: u16,
    pub af: Af,
    pub l4_offset: usize,
    pub l3_end: usize,
    pub protocol: u8,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub ttl: u8,
    pub dsfield: u8,
    pub df: bool,
    pub fragment: Fragment,
}

/// Offset of the IP header in an untagged Ethernet II frame.
pub(crate) const L3_OFFSET: usize = ethernet::HEADER_LEN;

/// IPv6 extension headers this crate does not walk (RFC 8200 §4, IANA list).
const fn is_ipv6_ext(nh: u8) -> bool {
    matches!(nh, 0 | 43 | 44 | 51 | 60 | 135 | 139 | 140)
}

/// Past the IPv6 fixed header: a single Fragment header is understood, any other
/// extension header is `Unsupported`. `payload` is what follows the fixed header (possibly
/// cut short). Returns (upper protocol, bytes of extension header, fragment status).
fn ipv6_upper(next_header: u8, payload: &[u8]) -> Result<(u8, usize, Fragment)> {
    if next_header == proto::IPV6_FRAG {
        let (nh, offset, more) = ipv6::fragment_header(payload)?;
        if is_ipv6_ext(nh) {
            return Err(Error::Unsupported);
        }
        let frag = if offset != 0 {
            Fragment::Later
        } else if more {
            Fragment::First
        } else {
            // An atomic fragment (RFC 6946): offset 0, no more fragments.
            Fragment::No
        };
        Ok((nh, ipv6::FRAG_HEADER_LEN, frag))
    } else if is_ipv6_ext(next_header) {
        Err(Error::Unsupported)
    } else {
        Ok((next_header, 0, Fragment::No))
    }
}

fn v4_fragment(p: &ipv4::Packet<&[u8]>) -> Fragment {
    if p.frag_offset() != 0 {
        Fragment::Later
    } else if p.more_frags() {
        Fragment::First
    } else {
        Fragment::No
    }
}

/// Parse Ethernet and the IP header; validates lengths, version, IHL.
pub(crate) fn parse_l3(frame: &[u8]) -> Result<L3> {
    let eth = ethernet::Frame::new_checked(frame)?;
    let ethertype = eth.ethertype();
    let ip = &frame[L3_OFFSET..];
    match ethertype {
        ETHERTYPE_IPV4 => {
            if ip.len() < ipv4::HEADER_LEN {
                return Err(Error::Truncated);
            }
            let p = ipv4::Packet::new_unchecked(ip);
            if p.version() != 4 {
                return Err(Error::Malformed);
            }
            p.check_len()?;
            let mut saddr = [0u8; 16];
            saddr[..4].copy_from_slice(&p.src_addr());
            let mut daddr = [0u8; 16];
            daddr[..4].copy_from_slice(&p.dst_addr());
            Ok(L3 {
                ethertype,
                af: Af::Inet,
                l4_offset: L3_OFFSET + p.header_len(),
                l3_end: L3_OFFSET + usize::from(p.total_len()),
                protocol: p.protocol(),
                saddr,
                daddr,
                ttl: p.ttl(),
                dsfield: p.dsfield(),
                df: p.dont_frag(),
                fragment: v4_fragment(&p),
            })
        }
        ETHERTYPE_IPV6 => {
            if ip.len() < ipv6::HEADER_LEN {
                return Err(Error::Truncated);
            }
            let p = ipv6::Packet::new_unchecked(ip);
            if p.version() != 6 {
                return Err(Error::Malformed);
            }
            p.check_len()?;
            let (protocol, ext, fragment) = ipv6_upper(p.next_header(), p.payload())?;
            Ok(L3 {
                ethertype,
                af: Af::Inet6,
                l4_offset: L3_OFFSET + ipv6::HEADER_LEN + ext,
                l3_end: L3_OFFSET + ipv6::HEADER_LEN + usize::from(p.payload_len()),
                protocol,
                saddr: p.src_addr(),
                daddr: p.dst_addr(),
                ttl: p.hop_limit(),
                dsfield: p.traffic_class(),
                df: true,
                fragment,
            })
        }
        _ => Err(Error::Unsupported),
    }
}

/// Ports at the start of a TCP/UDP/SCTP header, if the 4 bytes are there.
fn ports(l4: &[u8]) -> Option<(u16, u16)> {
    if l4.len() < 4 {
        None
    } else {
        Some((be16(l4, 0), be16(l4, 2)))
    }
}

/// Parse the IP header quoted at `off..end` of `frame` (family `af`).
pub(crate) fn parse_embedded(frame: &[u8], af: Af, off: usize, end: usize) -> Option<Embedded> {
    let quote = frame.get(off..end)?;
    let (l4_rel, protocol, saddr, daddr, fragment) = match af {
        Af::Inet => {
            let p = ipv4::Packet::new_checked_quoted(quote).ok()?;
            if p.version() != 4 {
                return None;
            }
            let mut s = [0u8; 16];
            s[..4].copy_from_slice(&p.src_addr());
            let mut d = [0u8; 16];
            d[..4].copy_from_slice(&p.dst_addr());
            (p.header_len(), p.protocol(), s, d, v4_fragment(&p))
        }
        Af::Inet6 => {
            let p = ipv6::Packet::new_checked_quoted(quote).ok()?;
            if p.version() != 6 {
                return None;
            }
            let (nh, ext, frag) = ipv6_upper(p.next_header(), p.payload()).ok()?;
            (ipv6::HEADER_LEN + ext, nh, p.src_addr(), p.dst_addr(), frag)
        }
    };
    let (sport, dport) = match protocol {
        proto::TCP | proto::UDP | proto::SCTP if fragment != Fragment::Later => {
            ports(&quote[l4_rel..])?
        }
        _ => (0, 0),
    };
    Some(Embedded {
        l3_offset: off,
        l4_offset: off + l4_rel,
        protocol,
        saddr,
        daddr,
        sport,
        dport,
        fragment,
    })
}

/// Parse an untagged Ethernet II frame carrying IPv4 or IPv6 and, unless it is a later
/// fragment, its TCP, UDP, SCTP, ICMP or ICMPv6 header.
///
/// Checks: the Ethernet header; IP version; IPv4 IHL ≥ 5, header and total length within
/// the frame (trailing Ethernet padding is allowed); IPv6 payload length within the frame;
/// the transport header within the IP packet (TCP: data offset ≥ 5 and the options; UDP:
/// 8 bytes and, unless a first fragment, a length field between 8 and the IP payload
/// length; SCTP: the 12-byte common header; ICMP/ICMPv6: 8 bytes). Other protocols are
/// accepted without ports. No checksum is verified. Errors: [`Error::Truncated`],
/// [`Error::Malformed`], and [`Error::Unsupported`] for another ethertype (including an
/// 802.1Q tag) and for IPv6 extension headers other than one Fragment header.
pub fn parse_frame(frame: &[u8]) -> Result<FrameInfo> {
    let l3 = parse_l3(frame)?;
    let ip_len = (l3.l3_end - L3_OFFSET) as u32;
    let mut info = FrameInfo {
        ethertype: l3.ethertype,
        af: l3.af,
        l3_offset: L3_OFFSET,
        l4_offset: l3.l4_offset,
        l3_end: l3.l3_end,
        protocol: l3.protocol,
        saddr: l3.saddr,
        daddr: l3.daddr,
        sport: 0,
        dport: 0,
        tcp_flags: TcpFlags(0),
        ip_len,
        ttl: l3.ttl,
        dsfield: l3.dsfield,
        df: l3.df,
        fragment: l3.fragment,
        icmp: None,
        icmp_error: None,
    };
    if l3.fragment == Fragment::Later {
        return Ok(info);
    }
    let l4 = &frame[l3.l4_offset..l3.l3_end];
    match (l3.af, l3.protocol) {
        (_, proto::TCP) => {
            let t = tcp::Packet::new_checked(l4)?;
            info.sport = t.src_port();
            info.dport = t.dst_port();
            info.tcp_flags = TcpFlags(t.flags() as u8);
        }
        (_, proto::UDP) => {
            if l3.fragment == Fragment::First {
                if l4.len() < udp::HEADER_LEN {
                    return Err(Error::Truncated);
                }
            } else {
                udp::Packet::new_checked(l4)?;
            }
            let u = udp::Packet::new_unchecked(l4);
            info.sport = u.src_port();
            info.dport = u.dst_port();
        }
        (_, proto::SCTP) => {
            if l4.len() < 12 {
                return Err(Error::Truncated);
            }
            (info.sport, info.dport) = (be16(l4, 0), be16(l4, 2));
        }
        (Af::Inet, proto::ICMP) => {
            let i = icmpv4::Packet::new_checked(l4)?;
            info.icmp = Some((i.msg_type(), i.msg_code()));
            if icmpv4::is_conn_error(i.msg_type()) {
                let off = l3.l4_offset + icmpv4::HEADER_LEN;
                info.icmp_error = parse_embedded(frame, Af::Inet, off, l3.l3_end);
            }
        }
        (Af::Inet6, proto::ICMPV6) => {
            let i = icmpv6::Packet::new_checked(l4)?;
            info.icmp = Some((i.msg_type(), i.msg_code()));
            if icmpv6::is_conn_error(i.msg_type()) {
                let off = l3.l4_offset + icmpv6::HEADER_LEN;
                info.icmp_error = parse_embedded(frame, Af::Inet6, off, l3.l3_end);
            }
        }
        _ => {}
    }
    Ok(info)
}
