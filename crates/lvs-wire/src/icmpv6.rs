//! ICMP for IPv6 (RFC 4443); the checksum covers the IPv6 pseudo-header.

use crate::{Error, Result, be16, be32, checksum, proto, put16, put32};

mod field {
    use crate::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const REST: Field = 4..8;
}

/// Length of the ICMPv6 header (type, code, checksum and the 4-byte rest of header).
pub const HEADER_LEN: usize = field::REST.end;
/// The checksum field's range in the header.
pub const CHECKSUM: core::ops::Range<usize> = field::CHECKSUM;

/// Destination unreachable.
pub const TYPE_DST_UNREACH: u8 = 1;
/// Packet too big.
pub const TYPE_PKT_TOOBIG: u8 = 2;
/// Time exceeded.
pub const TYPE_TIME_EXCEED: u8 = 3;
/// Parameter problem.
pub const TYPE_PARAMPROB: u8 = 4;
/// Echo request.
pub const TYPE_ECHO_REQUEST: u8 = 128;
/// Echo reply.
pub const TYPE_ECHO_REPLY: u8 = 129;
/// Destination unreachable code: port unreachable.
pub const CODE_PORT_UNREACH: u8 = 4;
/// Time exceeded code: hop limit exceeded in transit.
pub const CODE_EXC_HOPLIMIT: u8 = 0;

/// `true` for the error types (1 to 4; every type below 128 is an error, but only these
/// four carry an embedded packet that IPVS relates to connections).
#[inline]
pub const fn is_conn_error(msg_type: u8) -> bool {
    matches!(
        msg_type,
        TYPE_DST_UNREACH | TYPE_PKT_TOOBIG | TYPE_TIME_EXCEED | TYPE_PARAMPROB
    )
}

/// `true` for every error message type (type < 128, RFC 4443 §2.1).
#[inline]
pub const fn is_error(msg_type: u8) -> bool {
    msg_type < 128
}

/// A view of an ICMPv6 message; the buffer is exactly the message (header and data).
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

    /// `Ok` if the 8-byte header is in the buffer.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
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

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message code.
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The 4-byte rest of header as one number.
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        be32(self.buffer.as_ref(), field::REST.start)
    }

    /// Echo identifier (echo request/reply).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::REST.start)
    }

    /// Echo sequence number (echo request/reply).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        be16(self.buffer.as_ref(), field::REST.start + 2)
    }

    /// MTU of a packet-too-big message.
    #[inline]
    pub fn mtu(&self) -> u32 {
        self.rest_of_header()
    }

    /// The data after the header: for an error message, the quoted original packet.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// `true` if the checksum verifies with the pseudo-header of `src` and `dst`; the
    /// upper-layer length is the buffer length.
    #[inline]
    pub fn verify_checksum(&self, src: &[u8; 16], dst: &[u8; 16]) -> bool {
        let b = self.buffer.as_ref();
        let ph = checksum::pseudo_header(src, dst, proto::ICMPV6, b.len() as u32);
        checksum::combine(&[ph, checksum::data(b)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the message type.
    #[inline]
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    /// Set the message code.
    #[inline]
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Set the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM.start, value);
    }

    /// Set the 4-byte rest of header.
    #[inline]
    pub fn set_rest_of_header(&mut self, value: u32) {
        put32(self.buffer.as_mut(), field::REST.start, value);
    }

    /// The data after the header, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Compute the checksum in full with the pseudo-header of `src` and `dst` and store it.
    #[inline]
    pub fn fill_checksum(&mut self, src: &[u8; 16], dst: &[u8; 16]) {
        let c = checksum::transport(
            src,
            dst,
            proto::ICMPV6,
            self.buffer.as_ref(),
            field::CHECKSUM,
        );
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const SRC: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const DST: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    #[test]
    fn test_roundtrip() {
        let mut b = [0u8; 12];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(TYPE_PKT_TOOBIG);
        p.set_msg_code(0);
        p.set_rest_of_header(1280);
        p.data_mut().copy_from_slice(&[0x60, 0, 0, 0]);
        p.fill_checksum(&SRC, &DST);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.msg_type(), TYPE_PKT_TOOBIG);
        assert_eq!(p.mtu(), 1280);
        assert_eq!(p.data(), &[0x60, 0, 0, 0]);
        assert!(p.verify_checksum(&SRC, &DST));
        assert!(!p.verify_checksum(&DST, &DST));
        // Hand sum: pseudo (fe80*2 + 1 + 2 + 12 + 58) + 0x0200 + 0x0500 + 0x6000.
        let sum: u32 = 0xfe80 * 2 + 1 + 2 + 12 + 58 + 0x0200 + 0x0500 + 0x6000;
        let folded = ((sum & 0xffff) + (sum >> 16)) as u16;
        assert_eq!(p.checksum(), !folded);
    }

    #[test]
    fn test_error_types() {
        assert!(is_conn_error(TYPE_PARAMPROB) && !is_conn_error(TYPE_ECHO_REQUEST));
        assert!(is_error(TYPE_DST_UNREACH) && !is_error(TYPE_ECHO_REPLY));
    }

    #[test]
    fn test_truncated() {
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&[0u8; 8][..n]), Err(Error::Truncated));
        }
    }
}
