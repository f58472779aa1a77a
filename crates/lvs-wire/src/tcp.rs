//! TCP segments (RFC 9293): the fixed header, options honoured through the data offset.

use crate::{Error, Result, be16, be32, checksum, proto, put16, put32};

mod field {
    use crate::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    pub const FLAGS: Field = 12..14;
    pub const WIN_SIZE: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = field::URGENT.end;
/// The checksum field's range in the header.
pub const CHECKSUM: core::ops::Range<usize> = field::CHECKSUM;
/// FIN flag.
pub const FLG_FIN: u16 = 0x001;
/// SYN flag.
pub const FLG_SYN: u16 = 0x002;
/// RST flag.
pub const FLG_RST: u16 = 0x004;
/// PSH flag.
pub const FLG_PSH: u16 = 0x008;
/// ACK flag.
pub const FLG_ACK: u16 = 0x010;
/// URG flag.
pub const FLG_URG: u16 = 0x020;

/// A view of a TCP segment; the buffer is exactly the segment (header and data).
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

    /// `Ok` if the header, options included, is in the buffer (data offset ≥ 5).
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hlen = self.header_len();
        if hlen < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if hlen > len {
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

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ_NUM.start)
    }

    /// Acknowledgement number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK_NUM.start)
    }

    /// Header length in bytes (data offset × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::FLAGS.start] >> 4) * 4
    }

    /// The flag bits (`FLG_*`, low 12 bits of the offset/flags word).
    #[inline]
    pub fn flags(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS.start) & 0x0fff
    }

    /// FIN flag.
    #[inline]
    pub fn fin(&self) -> bool {
        self.flags() & FLG_FIN != 0
    }

    /// SYN flag.
    #[inline]
    pub fn syn(&self) -> bool {
        self.flags() & FLG_SYN != 0
    }

    /// RST flag.
    #[inline]
    pub fn rst(&self) -> bool {
        self.flags() & FLG_RST != 0
    }

    /// ACK flag.
    #[inline]
    pub fn ack(&self) -> bool {
        self.flags() & FLG_ACK != 0
    }

    /// Window size.
    #[inline]
    pub fn window_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WIN_SIZE.start)
    }

    /// Checksum.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent_at(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT.start)
    }

    /// The options.
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The data after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// `true` if the checksum verifies with the pseudo-header of `src` and `dst` (4 or 16
    /// bytes each); the segment length is the buffer length.
    #[inline]
    pub fn verify_checksum(&self, src: &[u8], dst: &[u8]) -> bool {
        let b = self.buffer.as_ref();
        let ph = checksum::pseudo_header(src, dst, proto::TCP, b.len() as u32);
        checksum::combine(&[ph, checksum::data(b)]) == 0xffff
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

    /// Set the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, value: u32) {
        put32(self.buffer.as_mut(), field::SEQ_NUM.start, value);
    }

    /// Set the acknowledgement number.
    #[inline]
    pub fn set_ack_number(&mut self, value: u32) {
        put32(self.buffer.as_mut(), field::ACK_NUM.start, value);
    }

    /// Set the header length in bytes (a multiple of 4, 20 to 60) and the flag bits.
    #[inline]
    pub fn set_header_len_and_flags(&mut self, header_len: usize, flags: u16) {
        let w = (((header_len / 4) as u16) << 12) | (flags & 0x0fff);
        put16(self.buffer.as_mut(), field::FLAGS.start, w);
    }

    /// Set the window size.
    #[inline]
    pub fn set_window_len(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::WIN_SIZE.start, value);
    }

    /// Set the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM.start, value);
    }

    /// Set the urgent pointer.
    #[inline]
    pub fn set_urgent_at(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::URGENT.start, value);
    }

    /// The options, mutable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// The data after the header, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }

    /// Compute the checksum in full with the pseudo-header of `src` and `dst` and store it.
    #[inline]
    pub fn fill_checksum(&mut self, src: &[u8], dst: &[u8]) {
        let c = checksum::transport(src, dst, proto::TCP, self.buffer.as_ref(), field::CHECKSUM);
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const SRC: [u8; 4] = [192, 168, 1, 1];
    const DST: [u8; 4] = [192, 168, 1, 2];

    // SYN with one MSS option, and 4 bytes of data.
    static SEGMENT: [u8; 28] = [
        0xbf, 0x00, 0x00, 0x50, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x60, 0x02, 0x01,
        0x23, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0xaa, 0x00, 0x00, 0xff,
    ];

    #[test]
    fn test_deconstruct_construct() {
        let mut b = SEGMENT;
        Packet::new_unchecked(&mut b[..]).fill_checksum(&SRC, &DST);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.src_port(), 48896);
        assert_eq!(p.dst_port(), 80);
        assert_eq!(p.seq_number(), 0x0123_4567);
        assert_eq!(p.ack_number(), 0x89ab_cdef);
        assert_eq!(p.header_len(), 24);
        assert!(p.syn() && !p.ack() && !p.fin() && !p.rst());
        assert_eq!(p.window_len(), 0x0123);
        assert_eq!(p.urgent_at(), 0);
        assert_eq!(p.options(), &[0x02, 0x04, 0x05, 0xb4]);
        assert_eq!(p.payload(), &[0xaa, 0x00, 0x00, 0xff]);
        assert!(p.verify_checksum(&SRC, &DST));
        assert!(!p.verify_checksum(&DST, &[192, 168, 1, 3]));

        let mut c = [0u8; 28];
        let mut q = Packet::new_unchecked(&mut c[..]);
        q.set_src_port(48896);
        q.set_dst_port(80);
        q.set_seq_number(0x0123_4567);
        q.set_ack_number(0x89ab_cdef);
        q.set_header_len_and_flags(24, FLG_SYN);
        q.set_window_len(0x0123);
        q.set_urgent_at(0);
        q.options_mut().copy_from_slice(&[0x02, 0x04, 0x05, 0xb4]);
        q.payload_mut().copy_from_slice(&[0xaa, 0x00, 0x00, 0xff]);
        q.fill_checksum(&SRC, &DST);
        assert_eq!(c, b);
    }

    #[test]
    fn test_bad_data_offset() {
        let mut b = SEGMENT;
        b[12] = 0x40;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Malformed));
        b[12] = 0xf0;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Truncated));
    }

    #[test]
    fn test_truncated_everywhere() {
        for n in 0..24 {
            assert_eq!(
                Packet::new_checked(&SEGMENT[..n]),
                Err(Error::Truncated),
                "len {n}"
            );
        }
    }
}
