//! IPv4 packets (RFC 791), options honoured through the IHL field.

use crate::{Error, Result, be16, checksum, put16};

mod field {
    use crate::Field;
    pub const VER_IHL: usize = 0;
    pub const DSFIELD: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;
/// Offset of the TTL byte in the header.
pub const TTL_OFFSET: usize = field::TTL;
/// Offset of the header checksum in the header.
pub const CHECKSUM_OFFSET: usize = field::CHECKSUM.start;
/// Offset of the source address in the header.
pub const SRC_ADDR_OFFSET: usize = field::SRC_ADDR.start;
/// Offset of the destination address in the header.
pub const DST_ADDR_OFFSET: usize = field::DST_ADDR.start;
/// The Don't Fragment bit of the flags/fragment-offset word.
pub const FLAG_DF: u16 = 0x4000;
/// The More Fragments bit of the flags/fragment-offset word.
pub const FLAG_MF: u16 = 0x2000;
/// The fragment-offset bits (in 8-byte units) of the flags/fragment-offset word.
pub const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
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

    /// Wrap the IPv4 header quoted in an ICMP error after [`Packet::check_len_quoted`].
    #[inline]
    pub fn new_checked_quoted(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len_quoted()?;
        Ok(p)
    }

    /// `Ok` if the header (IHL × 4 bytes, IHL ≥ 5) and the whole packet (total length ≥
    /// header length) are in the buffer. Bytes after the total length (Ethernet padding)
    /// are allowed and ignored by [`Packet::payload`]. The version is not checked.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        self.check_len_quoted()?;
        if usize::from(self.total_len()) > self.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Like [`Packet::check_len`], but the packet may end before its total length, as the
    /// copy of an original packet inside an ICMP error does: only the header must be whole.
    #[inline]
    pub fn check_len_quoted(&self) -> Result<()> {
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
        if usize::from(self.total_len()) < hlen {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// The wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The IP version (4 for a valid packet).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The whole DS field / TOS byte (DSCP << 2 | ECN).
    #[inline]
    pub fn dsfield(&self) -> u8 {
        self.buffer.as_ref()[field::DSFIELD]
    }

    /// Differentiated services code point.
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.dsfield() >> 2
    }

    /// Explicit congestion notification bits.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.dsfield() & 0x03
    }

    /// Total length (header and data) in bytes.
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT.start)
    }

    /// The flags/fragment-offset word as it is on the wire.
    #[inline]
    pub fn flags_frag(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLG_OFF.start)
    }

    /// Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    /// More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (self.flags_frag() & FRAG_OFFSET_MASK) << 3
    }

    /// `true` if this is a fragment (More Fragments set or a nonzero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.flags_frag() & (FLAG_MF | FRAG_OFFSET_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[12], b[13], b[14], b[15]]
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[16], b[17], b[18], b[19]]
    }

    /// The options (bytes 20 to the header length).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The header, options included.
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// The payload: from the header length to the total length, or to the end of the
    /// buffer if that comes first (a quoted packet).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let start = self.header_len();
        let end = usize::from(self.total_len()).clamp(start, b.len());
        &b[start..end]
    }

    /// `true` if the header checksum verifies.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.header()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set version (high nibble) and header length in bytes (a multiple of 4, 20 to 60).
    #[inline]
    pub fn set_version_and_header_len(&mut self, version: u8, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = (version << 4) | ((header_len / 4) as u8 & 0x0f);
    }

    /// Set the DS field / TOS byte.
    #[inline]
    pub fn set_dsfield(&mut self, value: u8) {
        self.buffer.as_mut()[field::DSFIELD] = value;
    }

    /// Set the total length.
    #[inline]
    pub fn set_total_len(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::LENGTH.start, value);
    }

    /// Set the identification.
    #[inline]
    pub fn set_ident(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::IDENT.start, value);
    }

    /// Set the flags/fragment-offset word as it goes on the wire.
    #[inline]
    pub fn set_flags_frag(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::FLG_OFF.start, value);
    }

    /// Set the time to live.
    #[inline]
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Set the payload protocol.
    #[inline]
    pub fn set_protocol(&mut self, value: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = value;
    }

    /// Set the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM.start, value);
    }

    /// Set the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: [u8; 4]) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr);
    }

    /// Set the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: [u8; 4]) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr);
    }

    /// Compute the header checksum in full (over the header length, options included) and
    /// store it.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = !checksum::data(self.header());
        self.set_checksum(c);
    }

    /// The options, mutable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// The payload, mutable (same bounds as [`Packet::payload`]).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = usize::from(self.total_len()).clamp(start, self.buffer.as_ref().len());
        &mut self.buffer.as_mut()[start..end]
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // 20-byte header + 4 bytes of options (NOP NOP NOP EOL) + 4 bytes payload + 2 padding.
    static PACKET: [u8; 30] = [
        0x46, 0xb8, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, 0x01, 0x01, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00,
    ];

    fn with_checksum() -> [u8; 30] {
        let mut b = PACKET;
        Packet::new_unchecked(&mut b[..]).fill_checksum();
        b
    }

    #[test]
    fn test_deconstruct() {
        let b = with_checksum();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.dscp(), 46);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.total_len(), 28);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 6);
        assert_eq!(p.src_addr(), [10, 0, 0, 1]);
        assert_eq!(p.dst_addr(), [10, 0, 0, 2]);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        assert!(p.verify_checksum());
    }

    #[test]
    fn test_construct() {
        let mut b = [0u8; 30];
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_version_and_header_len(4, 24);
        p.set_dsfield(0xb8);
        p.set_total_len(28);
        p.set_ident(0x1234);
        p.set_flags_frag(FLAG_DF);
        p.set_ttl(64);
        p.set_protocol(6);
        p.set_src_addr([10, 0, 0, 1]);
        p.set_dst_addr([10, 0, 0, 2]);
        p.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        p.payload_mut().copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        p.fill_checksum();
        assert_eq!(b, with_checksum());
    }

    #[test]
    fn test_fragment_fields() {
        let mut b = with_checksum();
        Packet::new_unchecked(&mut b[..]).set_flags_frag(FLAG_MF | 3);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.more_frags() && p.is_fragment());
        assert_eq!(p.frag_offset(), 24);
    }

    #[test]
    fn test_small_ihl() {
        let mut b = PACKET;
        b[0] = 0x44;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Malformed));
    }

    #[test]
    fn test_total_len_below_header() {
        let mut b = PACKET;
        b[3] = 20;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Malformed));
    }

    #[test]
    fn test_total_len_overflow() {
        let mut b = PACKET;
        b[3] = 31;
        assert_eq!(Packet::new_checked(&b[..]), Err(Error::Truncated));
        // A quoted header only needs its header to be whole.
        let q = Packet::new_checked_quoted(&b[..]).unwrap();
        assert_eq!(q.payload().len(), 6);
    }

    #[test]
    fn test_truncated_everywhere() {
        let b = with_checksum();
        for n in 0..28 {
            assert_eq!(
                Packet::new_checked(&b[..n]),
                Err(Error::Truncated),
                "len {n}"
            );
        }
    }
}
