//! The Internet checksum: RFC 1071 sums, the TCP/UDP/ICMPv6 pseudo-header and the RFC 1624
//! incremental update.
//!
//! # Arithmetic, pinned down for the XDP twin
//!
//! * **Sum** ([`data`], [`combine`], [`pseudo_header`]): the one's complement sum of
//!   big-endian 16-bit words (an odd trailing byte is the high byte of a word whose low byte
//!   is zero), accumulated in a wide integer and **folded** with end-around carry
//!   (`while s > 0xffff { s = (s & 0xffff) + (s >> 16) }`). A folded sum is `0` only if
//!   every word was zero; otherwise it is in `1..=0xffff`.
//! * **Full checksum**: the complement of the folded sum of everything covered (checksum
//!   field taken as zero). It is therefore never `0xffff` for real headers.
//! * **Verification**: the folded sum of everything covered, checksum field included, is
//!   `0xffff`.
//! * **Incremental update** ([`Update`], [`update16`], [`update32`], [`update128`]):
//!   RFC 1624 equation 3, `HC' = ~(~HC + ~m + m')`, in **one** accumulation for all the
//!   fields an operation changes, then a single fold and complement. This is what the
//!   kernel's `csum_replace4`/`inet_proto_csum_replace4` and `ip_vs_check_diff*` compute
//!   and what `bpf_csum_diff(old, new, ~HC)` followed by a fold gives in XDP. When the
//!   original checksum was a correct full checksum, the result equals the full checksum of
//!   the rewritten data, bit for bit (both are the unique value in `0..=0xfffe` with the
//!   right residue modulo `0xffff`).
//! * **UDP**: a transmitted UDP checksum of `0` means "no checksum". Whenever this crate
//!   computes a UDP checksum (full or incremental) and the result is `0`, it writes
//!   `0xffff` instead ([`udp_nonzero`], the kernel's `CSUM_MANGLED_0`).

use crate::Field;

/// Fold a wide one's complement accumulator to 16 bits with end-around carry.
#[inline]
pub const fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Add the big-endian 16-bit words of `data` to `acc` without folding.
#[inline]
pub fn accumulate(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// The folded RFC 1071 sum of `data` (not complemented).
#[inline]
pub fn data(data: &[u8]) -> u16 {
    fold(accumulate(0, data))
}

/// The folded one's complement sum of already folded partial sums (not complemented).
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    let mut acc = 0u64;
    for s in sums {
        acc += u64::from(*s);
    }
    fold(acc)
}

/// The folded sum of the TCP/UDP/ICMPv6 pseudo-header (not complemented).
///
/// `src` and `dst` are 4 bytes (IPv4, RFC 793 layout: addresses, zero, protocol, 16-bit
/// length) or 16 bytes (IPv6, RFC 8200 §8.1: addresses, 32-bit length, zeros, next header).
/// Both layouts sum to the same value for the same numbers, so one function serves both;
/// `length` is the upper-layer length in bytes.
#[inline]
pub fn pseudo_header(src: &[u8], dst: &[u8], protocol: u8, length: u32) -> u16 {
    let mut acc = accumulate(0, src);
    acc = accumulate(acc, dst);
    acc += u64::from(protocol);
    acc += u64::from(length >> 16) + u64::from(length & 0xffff);
    fold(acc)
}

/// The full checksum of a transport segment: the complement of the folded sum of the
/// pseudo-header and `segment`, with the checksum field at `csum` (an even offset inside
/// `segment`) taken as zero whatever it holds.
///
/// `segment` is the whole upper-layer message (header and data); its length is the
/// pseudo-header length. A `csum` range outside `segment` is treated as absent.
#[inline]
pub fn transport(src: &[u8], dst: &[u8], protocol: u8, segment: &[u8], csum: Field) -> u16 {
    let len = segment.len() as u32;
    let mut acc = u64::from(pseudo_header(src, dst, protocol, len));
    match (segment.get(..csum.start), segment.get(csum.end..)) {
        (Some(head), Some(tail)) if csum.start <= csum.end => {
            acc = accumulate(accumulate(acc, head), tail);
        }
        _ => acc = accumulate(acc, segment),
    }
    !fold(acc)
}

/// Map a computed UDP checksum of `0` to `0xffff` (a transmitted `0` means "none").
#[inline]
pub const fn udp_nonzero(csum: u16) -> u16 {
    if csum == 0 { 0xffff } else { csum }
}

/// An RFC 1624 equation 3 incremental update of one checksum over several changed fields,
/// computed in a single accumulation: `HC' = ~fold(~HC + Σ~m + Σm')`.
///
/// Feed each changed field with [`Update::word`] or [`Update::bytes`] (old and new value of
/// the same length) and take the new checksum from [`Update::finish`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Update {
    acc: u64,
}

impl Update {
    /// Start from the checksum field's current value `csum`.
    #[inline]
    pub const fn new(csum: u16) -> Update {
        Update { acc: !csum as u64 }
    }

    /// A 16-bit word changed from `old` to `new`.
    #[inline]
    pub fn word(&mut self, old: u16, new: u16) -> &mut Self {
        self.acc += u64::from(!old) + u64::from(new);
        self
    }

    /// A field changed from `old` to `new`; both have the same even length and start at an
    /// even offset of the covered data (true of every address and port).
    #[inline]
    pub fn bytes(&mut self, old: &[u8], new: &[u8]) -> &mut Self {
        for (o, n) in old.chunks(2).zip(new.chunks(2)) {
            let o = u16::from_be_bytes([o[0], *o.get(1).unwrap_or(&0)]);
            let n = u16::from_be_bytes([n[0], *n.get(1).unwrap_or(&0)]);
            self.word(o, n);
        }
        self
    }

    /// The new checksum field value.
    #[inline]
    pub const fn finish(&self) -> u16 {
        !fold(self.acc)
    }
}

/// RFC 1624 update of `csum` after a 16-bit word changed from `old` to `new`.
#[inline]
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    Update::new(csum).word(old, new).finish()
}

/// RFC 1624 update of `csum` after a 32-bit field (an IPv4 address) changed.
#[inline]
pub fn update32(csum: u16, old: [u8; 4], new: [u8; 4]) -> u16 {
    Update::new(csum).bytes(&old, &new).finish()
}

/// RFC 1624 update of `csum` after a 128-bit field (an IPv6 address) changed.
#[inline]
pub fn update128(csum: u16, old: &[u8; 16], new: &[u8; 16]) -> u16 {
    Update::new(csum).bytes(old, new).finish()
}

#[cfg(test)]
mod test {
    use super::*;

    // RFC 1071 §3 example: words 0x0001 0xf203 0xf4f5 0xf6f7 sum to 0xddf2.
    #[test]
    fn rfc1071_example() {
        assert_eq!(
            data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    #[test]
    fn odd_length_pads_low_byte() {
        assert_eq!(data(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn fold_zero_only_for_zero() {
        assert_eq!(fold(0), 0);
        assert_eq!(fold(0xffff), 0xffff);
        assert_eq!(fold(0x1_fffe), 0xffff);
        assert_eq!(fold(0x1_0000), 1);
    }

    // A well-known IPv4 header (Wikipedia "IPv4 header checksum"): checksum 0xb861.
    #[test]
    fn ipv4_header_example() {
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(!data(&hdr), 0xb861);
    }

    #[test]
    fn pseudo_header_layouts_agree() {
        // IPv6 pseudo-header laid out literally (RFC 8200 §8.1).
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut lit = [0u8; 40];
        lit[..16].copy_from_slice(&src);
        lit[16..32].copy_from_slice(&dst);
        lit[32..36].copy_from_slice(&70000u32.to_be_bytes());
        lit[39] = 6;
        assert_eq!(pseudo_header(&src, &dst, 6, 70000), data(&lit));
        // IPv4 pseudo-header laid out literally (RFC 793).
        let lit4 = [10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0x01, 0x00];
        assert_eq!(
            pseudo_header(&[10, 0, 0, 1], &[10, 0, 0, 2], 17, 256),
            data(&lit4)
        );
    }

    #[test]
    fn transport_ignores_stored_checksum() {
        let mut seg = [0x12u8, 0x34, 0x00, 0x50, 0x00, 0x0a, 0xab, 0xcd, 0x61, 0x62];
        let a = transport(&[1, 2, 3, 4], &[5, 6, 7, 8], 17, &seg, 6..8);
        seg[6] = 0;
        seg[7] = 0;
        let b = transport(&[1, 2, 3, 4], &[5, 6, 7, 8], 17, &seg, 6..8);
        assert_eq!(a, b);
        seg[6..8].copy_from_slice(&a.to_be_bytes());
        assert_eq!(
            combine(&[
                pseudo_header(&[1, 2, 3, 4], &[5, 6, 7, 8], 17, 10),
                data(&seg)
            ]),
            0xffff
        );
    }

    // RFC 1624 §4 example: HC 0xdd2f, m 0x5555 -> m' 0x3285 gives HC' 0x0000.
    #[test]
    fn rfc1624_example() {
        assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    // The kernel's `ip_decrease_ttl` formula and equation 3 agree on every input.
    #[test]
    fn ttl_decrement_matches_ip_decrease_ttl() {
        for csum in (0u32..=0xffff).step_by(7).chain([0xfeff, 0xffff, 0xff00]) {
            for ttl in [2u8, 64, 255] {
                let proto = 6u16;
                let old = (u16::from(ttl) << 8) | proto;
                let new = (u16::from(ttl - 1) << 8) | proto;
                let mut k = csum + 0x0100;
                k += u32::from(k >= 0xffff);
                let kernel = k as u16;
                assert_eq!(update16(csum as u16, old, new), kernel, "csum {csum:#x}");
            }
        }
    }

    proptest::proptest! {
        /// After a full checksum, any change of 16-, 32- or 128-bit fields updated
        /// incrementally gives exactly the full checksum of the new data.
        #[test]
        fn incremental_equals_full(
            mut data in proptest::collection::vec(proptest::prelude::any::<u8>(), 60..120),
            at in 1usize..20,
            new in proptest::collection::vec(proptest::prelude::any::<u8>(), 16),
            width in proptest::sample::select(&[2usize, 4, 16][..]),
        ) {
            // The checksum lives in bytes 0..2; the changed field at an even offset.
            let at = at * 2;
            data[0] = 0;
            data[1] = 0;
            let c = !super::data(&data);
            data[..2].copy_from_slice(&c.to_be_bytes());
            let old = data[at..at + width].to_vec();
            data[at..at + width].copy_from_slice(&new[..width]);
            let got = match width {
                2 => update16(c, u16::from_be_bytes([old[0], old[1]]), u16::from_be_bytes([new[0], new[1]])),
                4 => update32(c, old[..4].try_into().unwrap(), new[..4].try_into().unwrap()),
                _ => update128(c, &old[..16].try_into().unwrap(), &new[..16].try_into().unwrap()),
            };
            data[0] = 0;
            data[1] = 0;
            proptest::prop_assert_eq!(got, !super::data(&data));
        }
    }
}
