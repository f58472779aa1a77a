//! A packet builder and checksum verifier for fixture tests (feature `test-util`).
//!
//! Everything here is written independently of the rest of the crate: its own byte
//! layout and its own **straightforward full checksum** (concatenate the covered bytes,
//! add 16-bit words in a `u32`, fold, complement). Fixture tests build an input frame and
//! the expected output frame with it, run the code under test on the input and compare
//! bytes, then check every checksum of the result with [`verify_frame`]. Nothing in this
//! module uses `crate::checksum` or the views, so a bug there cannot hide in both sides.
//!
//! ```
//! use lvs_wire::build::Builder;
//! let frame = Builder::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
//!     .ipv4([10, 0, 0, 1], [10, 0, 0, 2])
//!     .tcp(40000, 80)
//!     .payload(b"hello")
//!     .build();
//! lvs_wire::build::verify_frame(&frame).unwrap();
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The complement of the folded 16-bit one's complement sum of `bytes`: the Internet
/// checksum, computed the obvious way.
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        sum += (u32::from(bytes[i]) << 8) | u32::from(bytes[i + 1]);
        i += 2;
    }
    if i < bytes.len() {
        sum += u32::from(bytes[i]) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The bytes of the pseudo-header (RFC 793 for 4-byte, RFC 8200 for 16-byte addresses)
/// followed by `segment`.
fn with_pseudo(src: &[u8], dst: &[u8], proto: u8, segment: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(src);
    v.extend_from_slice(dst);
    if src.len() == 4 {
        v.push(0);
        v.push(proto);
        v.extend_from_slice(&(segment.len() as u16).to_be_bytes());
    } else {
        v.extend_from_slice(&(segment.len() as u32).to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, proto]);
    }
    v.extend_from_slice(segment);
    v
}

/// The IP layer of a built packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ip {
    /// IPv4.
    V4 {
        /// Source address.
        src: [u8; 4],
        /// Destination address.
        dst: [u8; 4],
        /// TTL (default 64).
        ttl: u8,
        /// DS field (default 0).
        tos: u8,
        /// Identification (default 0x1234).
        id: u16,
        /// Don't Fragment (default true).
        df: bool,
        /// More Fragments (default false).
        mf: bool,
        /// Fragment offset in bytes, a multiple of 8 (default 0).
        frag_offset: u16,
        /// Options, padded by the caller to a multiple of 4 (default none).
        options: Vec<u8>,
    },
    /// IPv6.
    V6 {
        /// Source address.
        src: [u8; 16],
        /// Destination address.
        dst: [u8; 16],
        /// Hop limit (default 64).
        hop_limit: u8,
        /// Traffic class (default 0).
        tclass: u8,
        /// Flow label (default 0).
        flow: u32,
        /// A Fragment header: (offset in bytes, more fragments, identification).
        frag: Option<(u16, bool, u32)>,
    },
}

/// The transport layer of a built packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum L4 {
    /// No transport header: the payload follows the IP header; `proto` is the protocol.
    Raw {
        /// IP protocol / next header.
        proto: u8,
    },
    /// TCP.
    Tcp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgement number.
        ack: u32,
        /// Flag bits (FIN 1, SYN 2, RST 4, PSH 8, ACK 16).
        flags: u16,
        /// Window.
        window: u16,
        /// Options, padded by the caller to a multiple of 4.
        options: Vec<u8>,
    },
    /// UDP.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Send checksum 0 ("none").
        no_checksum: bool,
    },
    /// ICMP (IPv4 packet) or ICMPv6 (IPv6 packet).
    Icmp {
        /// Type.
        msg_type: u8,
        /// Code.
        code: u8,
        /// The 4-byte rest of header.
        rest: u32,
    },
}

/// A fluent builder of one Ethernet frame with correct checksums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Builder {
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    ip: Option<Ip>,
    l4: L4,
    payload: Vec<u8>,
    pad_to: usize,
}

impl Builder {
    /// Start a frame from `src_mac` to `dst_mac`.
    pub fn new(src_mac: [u8; 6], dst_mac: [u8; 6]) -> Builder {
        Builder {
            src_mac,
            dst_mac,
            ip: None,
            l4: L4::Raw { proto: 59 },
            payload: Vec::new(),
            pad_to: 0,
        }
    }

    /// IPv4 from `src` to `dst` (TTL 64, TOS 0, id 0x1234, DF).
    pub fn ipv4(mut self, src: [u8; 4], dst: [u8; 4]) -> Builder {
        self.ip = Some(Ip::V4 {
            src,
            dst,
            ttl: 64,
            tos: 0,
            id: 0x1234,
            df: true,
            mf: false,
            frag_offset: 0,
            options: Vec::new(),
        });
        self
    }

    /// IPv6 from `src` to `dst` (hop limit 64, traffic class 0, flow label 0).
    pub fn ipv6(mut self, src: [u8; 16], dst: [u8; 16]) -> Builder {
        self.ip = Some(Ip::V6 {
            src,
            dst,
            hop_limit: 64,
            tclass: 0,
            flow: 0,
            frag: None,
        });
        self
    }

    /// Replace the IP layer.
    pub fn ip(mut self, ip: Ip) -> Builder {
        self.ip = Some(ip);
        self
    }

    /// Set the TTL / hop limit.
    pub fn ttl(mut self, value: u8) -> Builder {
        match &mut self.ip {
            Some(Ip::V4 { ttl, .. }) => *ttl = value,
            Some(Ip::V6 { hop_limit, .. }) => *hop_limit = value,
            None => {}
        }
        self
    }

    /// Set the DS field / traffic class.
    pub fn tos(mut self, value: u8) -> Builder {
        match &mut self.ip {
            Some(Ip::V4 { tos, .. }) => *tos = value,
            Some(Ip::V6 { tclass, .. }) => *tclass = value,
            None => {}
        }
        self
    }

    /// IPv4: set the Don't Fragment flag.
    pub fn df(mut self, value: bool) -> Builder {
        if let Some(Ip::V4 { df, .. }) = &mut self.ip {
            *df = value;
        }
        self
    }

    /// IPv4: set the identification.
    pub fn id(mut self, value: u16) -> Builder {
        if let Some(Ip::V4 { id, .. }) = &mut self.ip {
            *id = value;
        }
        self
    }

    /// IPv4: set the options.
    pub fn ip_options(mut self, value: &[u8]) -> Builder {
        if let Some(Ip::V4 { options, .. }) = &mut self.ip {
            *options = value.to_vec();
        }
        self
    }

    /// Make a fragment: offset in bytes and More Fragments (IPv6: adds a Fragment header
    /// with identification 0x01020304).
    pub fn fragment(mut self, offset: u16, more: bool) -> Builder {
        match &mut self.ip {
            Some(Ip::V4 {
                mf, frag_offset, ..
            }) => {
                *mf = more;
                *frag_offset = offset;
            }
            Some(Ip::V6 { frag, .. }) => *frag = Some((offset, more, 0x0102_0304)),
            None => {}
        }
        self
    }

    /// TCP from `sport` to `dport` (seq 1000, ack 0, ACK|PSH, window 65535).
    pub fn tcp(mut self, sport: u16, dport: u16) -> Builder {
        self.l4 = L4::Tcp {
            sport,
            dport,
            seq: 1000,
            ack: 0,
            flags: 0x18,
            window: 65535,
            options: Vec::new(),
        };
        self
    }

    /// TCP: set the flag bits.
    pub fn tcp_flags(mut self, value: u16) -> Builder {
        if let L4::Tcp { flags, .. } = &mut self.l4 {
            *flags = value;
        }
        self
    }

    /// TCP: set the sequence and acknowledgement numbers.
    pub fn tcp_seq_ack(mut self, seq_value: u32, ack_value: u32) -> Builder {
        if let L4::Tcp { seq, ack, .. } = &mut self.l4 {
            *seq = seq_value;
            *ack = ack_value;
        }
        self
    }

    /// TCP: set the options.
    pub fn tcp_options(mut self, value: &[u8]) -> Builder {
        if let L4::Tcp { options, .. } = &mut self.l4 {
            *options = value.to_vec();
        }
        self
    }

    /// UDP from `sport` to `dport` with a checksum.
    pub fn udp(mut self, sport: u16, dport: u16) -> Builder {
        self.l4 = L4::Udp {
            sport,
            dport,
            no_checksum: false,
        };
        self
    }

    /// UDP: send checksum 0 ("none").
    pub fn udp_no_checksum(mut self) -> Builder {
        if let L4::Udp { no_checksum, .. } = &mut self.l4 {
            *no_checksum = true;
        }
        self
    }

    /// ICMP / ICMPv6 (by the IP version) with type, code and rest of header.
    pub fn icmp(mut self, msg_type: u8, code: u8, rest: u32) -> Builder {
        self.l4 = L4::Icmp {
            msg_type,
            code,
            rest,
        };
        self
    }

    /// No transport header: the payload follows the IP header with protocol `proto`.
    pub fn raw(mut self, proto: u8) -> Builder {
        self.l4 = L4::Raw { proto };
        self
    }

    /// Set the transport payload.
    pub fn payload(mut self, data: &[u8]) -> Builder {
        self.payload = data.to_vec();
        self
    }

    /// Pad the frame with zeros to at least `len` bytes (Ethernet minimum is 60).
    pub fn pad_to(mut self, len: usize) -> Builder {
        self.pad_to = len;
        self
    }

    fn proto(&self) -> u8 {
        match (&self.l4, &self.ip) {
            (L4::Raw { proto }, _) => *proto,
            (L4::Tcp { .. }, _) => 6,
            (L4::Udp { .. }, _) => 17,
            (L4::Icmp { .. }, Some(Ip::V6 { .. })) => 58,
            (L4::Icmp { .. }, _) => 1,
        }
    }

    /// The transport segment with its checksum.
    fn segment(&self, src: &[u8], dst: &[u8]) -> Vec<u8> {
        let mut s = Vec::new();
        let proto = self.proto();
        let csum_at = match &self.l4 {
            L4::Raw { .. } => None,
            L4::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                options,
            } => {
                s.extend_from_slice(&sport.to_be_bytes());
                s.extend_from_slice(&dport.to_be_bytes());
                s.extend_from_slice(&seq.to_be_bytes());
                s.extend_from_slice(&ack.to_be_bytes());
                let off = ((20 + options.len()) / 4) as u16;
                s.extend_from_slice(&((off << 12) | (flags & 0x0fff)).to_be_bytes());
                s.extend_from_slice(&window.to_be_bytes());
                s.extend_from_slice(&[0, 0, 0, 0]);
                s.extend_from_slice(options);
                Some(16)
            }
            L4::Udp {
                sport,
                dport,
                no_checksum,
            } => {
                s.extend_from_slice(&sport.to_be_bytes());
                s.extend_from_slice(&dport.to_be_bytes());
                s.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
                s.extend_from_slice(&[0, 0]);
                if *no_checksum { None } else { Some(6) }
            }
            L4::Icmp {
                msg_type,
                code,
                rest,
            } => {
                s.extend_from_slice(&[*msg_type, *code, 0, 0]);
                s.extend_from_slice(&rest.to_be_bytes());
                Some(2)
            }
        };
        s.extend_from_slice(&self.payload);
        if let Some(at) = csum_at {
            let c = if proto == 1 {
                internet_checksum(&s)
            } else {
                internet_checksum(&with_pseudo(src, dst, proto, &s))
            };
            let c = if proto == 17 && c == 0 { 0xffff } else { c };
            s[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
        s
    }

    /// The frame.
    pub fn build(&self) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.src_mac);
        match &self.ip {
            None => f.extend_from_slice(&[0x88, 0xb5]),
            Some(Ip::V4 {
                src,
                dst,
                ttl,
                tos,
                id,
                df,
                mf,
                frag_offset,
                options,
            }) => {
                f.extend_from_slice(&[0x08, 0x00]);
                let seg = self.segment(src, dst);
                let hlen = 20 + options.len();
                let mut h = Vec::new();
                h.push(0x40 | (hlen / 4) as u8);
                h.push(*tos);
                h.extend_from_slice(&((hlen + seg.len()) as u16).to_be_bytes());
                h.extend_from_slice(&id.to_be_bytes());
                let flags = (u16::from(*df) << 14) | (u16::from(*mf) << 13) | (frag_offset / 8);
                h.extend_from_slice(&flags.to_be_bytes());
                h.push(*ttl);
                h.push(self.proto());
                h.extend_from_slice(&[0, 0]);
                h.extend_from_slice(src);
                h.extend_from_slice(dst);
                h.extend_from_slice(options);
                let c = internet_checksum(&h);
                h[10..12].copy_from_slice(&c.to_be_bytes());
                f.extend_from_slice(&h);
                f.extend_from_slice(&seg);
            }
            Some(Ip::V6 {
                src,
                dst,
                hop_limit,
                tclass,
                flow,
                frag,
            }) => {
                f.extend_from_slice(&[0x86, 0xdd]);
                let seg = self.segment(src, dst);
                let ext = if frag.is_some() { 8 } else { 0 };
                let w = (6u32 << 28) | (u32::from(*tclass) << 20) | (flow & 0xfffff);
                f.extend_from_slice(&w.to_be_bytes());
                f.extend_from_slice(&((ext + seg.len()) as u16).to_be_bytes());
                f.push(if frag.is_some() { 44 } else { self.proto() });
                f.push(*hop_limit);
                f.extend_from_slice(src);
                f.extend_from_slice(dst);
                if let Some((offset, more, ident)) = frag {
                    f.push(self.proto());
                    f.push(0);
                    f.extend_from_slice(&((offset & 0xfff8) | u16::from(*more)).to_be_bytes());
                    f.extend_from_slice(&ident.to_be_bytes());
                }
                f.extend_from_slice(&seg);
            }
        }
        while f.len() < self.pad_to {
            f.push(0);
        }
        f
    }
}

/// The IP packet inside `frame`: from byte 14 to the IP length (padding dropped).
pub fn ip_packet(frame: &[u8]) -> &[u8] {
    let ip = &frame[14..];
    let len = if ip[0] >> 4 == 4 {
        usize::from(u16::from_be_bytes([ip[2], ip[3]]))
    } else {
        40 + usize::from(u16::from_be_bytes([ip[4], ip[5]]))
    };
    &ip[..len]
}

/// Verify every checksum of an Ethernet frame by full recomputation: see [`verify_ip`].
pub fn verify_frame(frame: &[u8]) -> Result<(), String> {
    if frame.len() < 14 {
        return Err("short Ethernet header".into());
    }
    verify_ip(ip_packet(frame))
}

/// Verify every checksum of an IP packet by full recomputation: the IPv4 header checksum;
/// the TCP, UDP (a zero IPv4 UDP checksum passes; a zero IPv6 one fails), ICMP and ICMPv6
/// checksum (not for later fragments); in an ICMP error, the quoted IPv4 header's checksum
/// when the quote holds the whole header; and recursively the inner packet of IPIP (4,
/// 41) and of GUE (UDP whose payload starts `[0, 4|41, 0, 0]`).
pub fn verify_ip(ip: &[u8]) -> Result<(), String> {
    let (src, dst, proto, l4, later_frag, v4): (&[u8], &[u8], u8, &[u8], bool, bool) =
        match ip.first().map(|b| b >> 4) {
            Some(4) => {
                let hlen = usize::from(ip[0] & 0xf) * 4;
                if internet_checksum(&ip[..hlen]) != 0 {
                    return Err(format!("IPv4 header checksum wrong: {:02x?}", &ip[..hlen]));
                }
                let off = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
                (&ip[12..16], &ip[16..20], ip[9], &ip[hlen..], off != 0, true)
            }
            Some(6) => {
                let (proto, l4, later) = if ip[6] == 44 {
                    let off = u16::from_be_bytes([ip[42], ip[43]]) & 0xfff8;
                    (ip[40], &ip[48..], off != 0)
                } else {
                    (ip[6], &ip[40..], false)
                };
                (&ip[8..24], &ip[24..40], proto, l4, later, false)
            }
            _ => return Err("not an IP packet".into()),
        };
    if later_frag {
        return Ok(());
    }
    match proto {
        6 | 58 if internet_checksum(&with_pseudo(src, dst, proto, l4)) != 0 => {
            return Err(format!("checksum of protocol {proto} wrong"));
        }
        17 => {
            let zero = l4[6] == 0 && l4[7] == 0;
            if zero && !v4 {
                return Err("IPv6 UDP checksum 0".into());
            }
            if !zero && internet_checksum(&with_pseudo(src, dst, 17, l4)) != 0 {
                return Err("UDP checksum wrong".into());
            }
            let data = &l4[8..];
            if data.len() > 24
                && data[0] == 0
                && (data[1] == 4 || data[1] == 41)
                && data[2..4] == [0, 0]
            {
                verify_ip(&data[4..])?;
            }
        }
        1 => {
            if internet_checksum(l4) != 0 {
                return Err("ICMP checksum wrong".into());
            }
            let quote = &l4[8..];
            if matches!(l4[0], 3 | 4 | 5 | 11 | 12) && quote.len() >= 20 && quote[0] >> 4 == 4 {
                let hlen = usize::from(quote[0] & 0xf) * 4;
                if quote.len() >= hlen && internet_checksum(&quote[..hlen]) != 0 {
                    return Err("quoted IPv4 header checksum wrong".into());
                }
            }
        }
        4 | 41 => verify_ip(l4)?,
        _ => {}
    }
    Ok(())
}
