//! IPv6 packets (RFC 8200): the fixed header, and the Fragment header when it directly
//! follows it. Other extension headers are not walked.

use crate::{Error, Result, be16, be32, put16, put32};

mod field {
    use crate::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;
/// Offset of the hop limit byte in the header.
pub const HOP_LIMIT_OFFSET: usize = field::HOP_LIMIT;
/// Offset of the source address in the header.
pub const SRC_ADDR_OFFSET: usize = field::SRC_ADDR.start;
/// Offset of the destination address in the header.
pub const DST_ADDR_OFFSET: usize = field::DST_ADDR.start;
/// Length of the Fragment extension header.
pub const FRAG_HEADER_LEN: usize = 8;

/// A view of an IPv6 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap `buffer` without checking it.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap `buffer` after [`Packet::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Wrap the IPv6 header quoted in an ICMPv6 error after [`Packet::check_len_quoted`].
    #[inline]
    pub fn new_checked_quoted(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len_quoted()?;
        Ok(p)
    }

    /// `Ok` if the fixed header and the payload length are in the buffer (bytes after it
    /// are ignored by [`Packet::payload`]). The version is not checked.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        self.check_len_quoted()?;
        if HEADER_LEN + usize::from(self.payload_len()) > self.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// `Ok` if the fixed header is in the buffer; the payload may be cut short, as in the
    /// copy of an original packet inside an ICMPv6 error.
    #[inline]
    pub fn check_len_quoted(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The IP version (6 for a valid packet).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Traffic class (DSCP << 2 | ECN).
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        ((be16(self.buffer.as_ref(), 0) >> 4) & 0xff) as u8
    }

    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), field::VER_TC_FLOW.start) & 0x000f_ffff
    }

    /// Payload length (everything after the fixed header).
    #[inline]
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Next header.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC_ADDR]);
        a
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST_ADDR]);
        a
    }

    /// The payload: the payload length after the fixed header, or up to the end of the
    /// buffer if that comes first (a quoted packet).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(b.len());
        &b[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set version 6, the traffic class and the flow label (low 20 bits of `flow_label`).
    #[inline]
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let w = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        put32(self.buffer.as_mut(), field::VER_TC_FLOW.start, w);
    }

    /// Set the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::LENGTH.start, value);
    }

    /// Set the next header.
    #[inline]
    pub fn set_next_header(&mut self, value: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = value;
    }

    /// Set the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value;
    }

    /// Set the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: [u8; 16]) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr);
    }

    /// Set the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: [u8; 16]) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr);
    }

    /// The payload, mutable (same bounds as [`Packet::payload`]).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(self.buffer.as_ref().len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The fields of a Fragment header (RFC 8200 §4.5) at the start of `buf`: `(next header,
/// fragment offset in bytes, more fragments)`, or `Truncated` if `buf` is shorter than
/// [`FRAG_HEADER_LEN`].
#[inline]
pub fn fragment_header(buf: &[u8]) -> Result<(u8, u16, bool)> {
    if buf.len() < FRAG_HEADER_LEN {
        return Err(Error::Truncated);
    }
    let w = be16(buf, 2);
    Ok((buf[0], w & 0xfff8, w & 1 != 0))
}

#[cfg(test)]
mod test {
    use super::*;

    static PACKET: [u8; 46] = [
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x04, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x00,
        0x00,
    ];

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 4);
        assert_eq!(p.next_header(), 17);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr()[15], 1);
        assert_eq!(p.dst_addr()[15], 2);
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn test_construct() {
        let mut b = [0u8; 46];
        let src = Packet::new_checked(&PACKET[..]).unwrap();
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version_tc_flow(0xb8, 0x12345);
        p.set_payload_len(4);
        p.set_next_header(17);
        p.set_hop_limit(64);
        p.set_src_addr(src.src_addr());
        p.set_dst_addr(src.dst_addr());
        p.payload_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(b, PACKET);
    }

    #[test]
    fn test_truncated_everywhere() {
        for n in 0..44 {
            assert_eq!(
                Packet::new_checked(&PACKET[..n]),
                Err(Error::Truncated),
                "len {n}"
            );
        }
        assert!(Packet::new_checked_quoted(&PACKET[..40]).is_ok());
    }

    #[test]
    fn test_fragment_header() {
        assert_eq!(
            fragment_header(&[6, 0, 0x05, 0x39, 0, 0, 0, 1]),
            Ok((6, 0x0538, true))
        );
        assert_eq!(fragment_header(&[6, 0, 0, 0]), Err(Error::Truncated));
    }
}
