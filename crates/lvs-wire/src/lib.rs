//! `lvs-wire`: zero-copy packet views and the exact packet rewrites of every LVS forwarding
//! method.
//!
//! The per-packet work of lvs-rs runs in an XDP program written in C. Every rewrite that
//! program performs has a twin here, and the two must produce **byte-identical** output for
//! the same input. Every choice that could differ between two correct implementations
//! (checksum arithmetic and the representation of zero, TTL, IP id, ECN, the fields of an
//! encapsulation header, how much of a packet an ICMP error quotes) is therefore fixed and
//! written down in the docs of the function that makes it. `shared/reference/ipvs.md` §4 is
//! the specification of what each method does to a packet.
//!
//! # Two layers
//!
//! 1. **Views** ([`ethernet::Frame`], [`ipv4::Packet`], [`ipv6::Packet`], [`tcp::Packet`],
//!    [`udp::Packet`], [`icmpv4::Packet`], [`icmpv6::Packet`]): a thin wrapper around any
//!    `T: AsRef<[u8]>` (setters need `AsMut<[u8]>` too) with one accessor per header field,
//!    named after the RFC. Offsets are `Range<usize>` constants in a private `field`
//!    module of each view. **Contract:** once `check_len()` (or `new_checked()`) returned
//!    `Ok(())`, no accessor or setter panics on any content. `new_unchecked()` skips that
//!    check and is only for buffers the caller built itself. The [`checksum`] module holds
//!    the RFC 1071 sum, the pseudo-header and the RFC 1624 incremental update.
//! 2. **Operations** on a whole untagged Ethernet II frame in a byte slice:
//!    [`parse_frame`] extracts everything the director needs to classify a packet
//!    ([`FrameInfo`]); [`rewrite`] holds the in-place rewrites (TTL, NAT/FULLNAT tuple,
//!    ICMP errors for a connection, MAC addresses); [`encap`] builds and strips IPIP and
//!    GUE tunnels; [`generate`] builds the ICMP errors the director sends itself;
//!    [`tcpseq`] translates TCP sequence numbers and inserts the [`proxy`] (PROXY
//!    protocol v2) header of FULLNAT with Proxy Protocol. Every
//!    operation returns a [`Result`], never panics, and leaves its buffer untouched when it
//!    returns an error.
//!
//! The optional `test-util` feature adds [`build`], a packet builder with its own
//! straightforward checksum code, for fixture tests here and in later crates.
//!
//! # Conventions
//!
//! * Addresses are [`core::net::IpAddr`] in arguments. [`FrameInfo`] stores them as
//!   `[u8; 16]` plus an [`Af`], IPv4 in the first four bytes and the rest zero, the
//!   `Addr16` convention of `lvs-core`.
//! * Ports and every multi-byte field are host-order integers in the API and big-endian on
//!   the wire.
//! * Only untagged Ethernet II frames are handled (no 802.1Q tag); IPv6 packets whose fixed
//!   header is followed by an extension header other than a single Fragment header are "not
//!   parsed" ([`Error::Unsupported`]): an XDP program passes them to the kernel.
//!
//! # Where the output deliberately differs from Linux IPVS
//!
//! * An IPv4 UDP checksum of 0 ("none") stays 0 through NAT; IPVS computes a full one.
//! * IPv4 headers changed by NAT get an incremental checksum update where IPVS recomputes
//!   (`ip_send_check`); the bytes are the same whenever the input checksum was correct.
//! * Tunnel headers carry IP id 0 (IPVS: `ip_select_ident`) and always copy DF.
//! * Generated ICMP errors use DS field 0xc0 without Linux's `RT_TOS` bits of the original.
//! * Fragments are refused by the rewrites that need the transport header (IPVS
//!   reassembles first); the XDP program passes them to the kernel.

#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

#[cfg(any(test, feature = "test-util"))]
extern crate alloc;

use core::fmt;
use core::net::IpAddr;

pub mod checksum;
pub mod encap;
pub mod ethernet;
pub mod generate;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
mod parse;
pub mod proxy;
pub mod rewrite;
pub mod tcp;
pub mod tcpseq;
pub mod udp;

#[cfg(any(test, feature = "test-util"))]
pub mod build;

pub use encap::{Outer, decap_gue, decap_ipip, ecn_encapsulate, encap_gue, encap_ipip};
pub use generate::{
    IcmpKind, build_icmp_error, build_icmp_frag_needed, build_icmp_port_unreachable,
    build_icmp_time_exceeded,
};
pub use parse::{Embedded, Fragment, FrameInfo, TcpFlags, parse_frame};
pub use rewrite::{
    complete_partial_checksum, decrement_ttl, rewrite_icmp_error, rewrite_icmp_error_in,
    rewrite_icmp_error_in_fullnat, rewrite_icmp_error_out, rewrite_icmp_error_out_fullnat,
    rewrite_tuple, set_macs,
};
pub use tcpseq::{
    seq_translate_in, seq_translate_out, tcp_insert_payload, tcp_rebuild, tcp_seq_flags_len,
};

/// A byte range of a header field.
pub(crate) type Field = core::ops::Range<usize>;

/// IP protocol numbers used by this crate.
pub mod proto {
    /// ICMP for IPv4.
    pub const ICMP: u8 = 1;
    /// IPv4 encapsulated in IP (IPIP).
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IP.
    pub const IPV6: u8 = 41;
    /// IPv6 Fragment extension header.
    pub const IPV6_FRAG: u8 = 44;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// Address family of a packet, named as in `lvs-core` (`AF_INET`, `AF_INET6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Af {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

impl Af {
    /// The family of `addr`.
    #[inline]
    pub const fn of(addr: &IpAddr) -> Af {
        match addr {
            IpAddr::V4(_) => Af::Inet,
            IpAddr::V6(_) => Af::Inet6,
        }
    }

    /// Length of an address of this family in bytes (4 or 16).
    #[inline]
    pub const fn addr_len(self) -> usize {
        match self {
            Af::Inet => 4,
            Af::Inet6 => 16,
        }
    }
}

/// Why a frame could not be parsed, rewritten or built. Nothing was written when one is
/// returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before a header, or before the length a header announces.
    Truncated,
    /// A header field is impossible: wrong IP version, IHL below 5, TCP data offset below
    /// 5, a length field smaller than its header.
    Malformed,
    /// A valid frame this crate does not handle ("not parsed"): another ethertype, an
    /// 802.1Q tag, IPv6 extension headers, an IPv6 jumbogram, a protocol the operation has
    /// no rewrite for.
    Unsupported,
    /// The operation needs the transport header of a packet that is an IP fragment.
    Fragment,
    /// The TTL or hop limit is 1 or 0: the caller sends ICMP time exceeded instead.
    TtlExceeded,
    /// An address argument is of the other family than the packet.
    FamilyMismatch,
    /// The operation needs an ICMP error message carrying an embedded IP header.
    NotIcmpError,
    /// A checksum the operation verifies before recomputing it is wrong.
    BadChecksum,
    /// The output buffer is too small for the result.
    BufferTooSmall,
    /// The result would exceed the 65535-byte limit of an IP length field.
    TooLong,
    /// An ICMP error must not be sent about this packet (RFC 1122 §3.2.2, RFC 4443 §2.4(e)).
    IcmpNotAllowed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated packet",
            Error::Malformed => "malformed header",
            Error::Unsupported => "unsupported packet (not parsed)",
            Error::Fragment => "operation needs the transport header of a fragment",
            Error::TtlExceeded => "TTL or hop limit exceeded",
            Error::FamilyMismatch => "address family differs from the packet's",
            Error::NotIcmpError => "not an ICMP error message",
            Error::BadChecksum => "bad checksum",
            Error::BufferTooSmall => "output buffer too small",
            Error::TooLong => "packet too long for an IP length field",
            Error::IcmpNotAllowed => "no ICMP error may be sent about this packet",
        })
    }
}

impl core::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Read a big-endian `u16` at `at` (caller has checked the length).
#[inline]
pub(crate) fn be16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

/// Read a big-endian `u32` at `at` (caller has checked the length).
#[inline]
pub(crate) fn be32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// Write a big-endian `u16` at `at` (caller has checked the length).
#[inline]
pub(crate) fn put16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Write a big-endian `u32` at `at` (caller has checked the length).
#[inline]
pub(crate) fn put32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// The address bytes of `addr` in the `Addr16` layout (IPv4 in the first four bytes).
#[inline]
pub fn addr16(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// The address of family `af` stored in `Addr16` layout in `bytes`.
#[inline]
pub fn ip_from_addr16(af: Af, bytes: [u8; 16]) -> IpAddr {
    match af {
        Af::Inet => IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]]),
        Af::Inet6 => IpAddr::from(bytes),
    }
}
