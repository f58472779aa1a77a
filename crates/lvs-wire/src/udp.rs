//! UDP datagrams (RFC 768; IPv6 rules from RFC 8200 §8.1).

use crate::{Error, Result, be16, checksum, proto, put16};

mod field {
    use crate::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// Length of a UDP header.
pub const HEADER_LEN: usize = field::CHECKSUM.end;
/// The checksum field's range in the header.
pub const CHECKSUM: core::ops::Range<usize> = field::CHECKSUM;

/// A view of a UDP datagram; the datagram is the first `len()` bytes of the buffer.
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

    /// `Ok` if the header is in the buffer and the length field is between 8 and the
    /// buffer length.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let ulen = usize::from(self.len());
        if ulen < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if ulen > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT.start)
    }

    /// Length field (header and data).
    #[inline]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Checksum (0 = none, legal for IPv4 only).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The data after the header, up to the length field.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.len()).clamp(HEADER_LEN, b.len());
        &b[HEADER_LEN..end]
    }

    /// `true` if the checksum verifies with the pseudo-header of `src` and `dst` (4 or 16
    /// bytes each) over the length field's bytes. A zero checksum verifies for IPv4
    /// (4-byte addresses) and fails for IPv6.
    #[inline]
    pub fn verify_checksum(&self, src: &[u8], dst: &[u8]) -> bool {
        if self.checksum() == 0 {
            return src.len() == 4;
        }
        let b = self.buffer.as_ref();
        let seg = &b[..usize::from(self.len()).min(b.len())];
        let ph = checksum::pseudo_header(src, dst, proto::UDP, seg.len() as u32);
        checksum::combine(&[ph, checksum::data(seg)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the source port.
    #[inline]
    pub fn set_src_port(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT.start, value);
    }

    /// Set the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT.start, value);
    }

    /// Set the length field.
    #[inline]
    pub fn set_len(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::LENGTH.start, value);
    }

    /// Set the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM.start, value);
    }

    /// The data after the header, mutable (same bounds as [`Packet::payload`]).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len()).clamp(HEADER_LEN, self.buffer.as_ref().len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Compute the checksum in full over the length field's bytes with the pseudo-header
    /// of `src` and `dst` and store it; a result of 0 is stored as `0xffff`.
    #[inline]
    pub fn fill_checksum(&mut self, src: &[u8], dst: &[u8]) {
        let b = self.buffer.as_ref();
        let seg = &b[..usize::from(self.len()).min(b.len())];
        let c = checksum::transport(src, dst, proto::UDP, seg, field::CHECKSUM);
        self.set_checksum(checksum::udp_nonzero(c));
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const SRC: [u8; 4] = [192, 168, 1, 1];
    const DST: [u8; 4] = [192, 168, 1, 2];

    static DATAGRAM: [u8; 14] = [
        0xbf, 0x00, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 0xaa, 0x00, 0x00, 0xff, 0x00, 0x00,
    ];

    #[test]
    fn test_deconstruct_construct() {
        let mut b = DATAGRAM;
        Packet::new_unchecked(&mut b[..]).fill_checksum(&SRC, &DST);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.src_port(), 48896);
        assert_eq!(p.dst_port(), 53);
        assert_eq!(p.len(), 12);
        assert_eq!(p.payload(), &[0xaa, 0x00, 0x00, 0xff]);
        assert!(p.verify_checksum(&SRC, &DST));

        let mut c = [0u8; 14];
        let mut q = Packet::new_unchecked(&mut c[..]);
        q.set_src_port(48896);
        q.set_dst_port(53);
        q.set_len(12);
        q.payload_mut().copy_from_slice(&[0xaa, 0x00, 0x00, 0xff]);
        q.fill_checksum(&SRC, &DST);
        assert_eq!(c, b);
    }

    #[test]
    fn test_zero_checksum() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert!(p.verify_checksum(&SRC, &DST));
        assert!(!p.verify_checksum(&[0; 16], &[0; 16]));
    }

    #[test]
    fn test_computed_zero_becomes_ffff() {
        // Choose the payload so that the full checksum is 0: the sum must fold to 0xffff.
        let mut b = [0u8; 10];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_len(10);
        let ph = checksum::pseudo_header(&SRC, &DST, proto::UDP, 10);
        let partial = checksum::combine(&[ph, 10]);
        p.payload_mut().copy_from_slice(&(!partial).to_be_bytes());
        p.fill_checksum(&SRC, &DST);
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(&SRC, &DST));
    }

    #[test]
    fn test_bad_length() {
        let mut b = DATAGRAM;
        b[5] = 7;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Malformed));
        b[5] = 15;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Truncated));
        for n in 0..12 {
            assert_eq!(Packet::new_checked(&DATAGRAM[..n]), Err(Error::Truncated));
        }
    }
}
