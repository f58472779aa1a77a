//! Map types of `bpf/lvs_nf.bpf.c`, the netfilter hook of firewall-mark services
//! (`bpf/include/lvs_nf_types.h`, mirrored 1:1; sizes checked on both sides).

use crate::{AF_INET, AF_INET6};

/// Most bytes of a packet the hook hands over (`LVS_NF_DATA_MAX`).
pub const NF_DATA_MAX: usize = 2048;
/// Size of `LVS_NF_RING` in bytes (`LVS_NF_RING_BYTES`).
pub const NF_RING_BYTES: u32 = 1 << 21;
/// Capacity of `LVS_FWMARKS` (`LVS_FWMARKS_MAX`).
pub const FWMARKS_MAX: u32 = 4096;

/// Key of `LVS_FWMARKS` (`struct lvs_fwmark_key`, 8 bytes): a firewall-mark service.
/// Producer: lvsd.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FwmarkKey {
    /// The mark (host order, nonzero).
    pub mark: u32,
    /// [`AF_INET`] or [`AF_INET6`].
    pub af: u8,
    /// Zero.
    pub pad: [u8; 3],
}

impl FwmarkKey {
    /// The key of firewall-mark service `mark` of the IPv4 (`v6` false) or IPv6 family.
    pub fn new(mark: u32, v6: bool) -> FwmarkKey {
        FwmarkKey {
            mark,
            af: if v6 { AF_INET6 } else { AF_INET },
            pad: [0; 3],
        }
    }
}

/// A record of `LVS_NF_RING` (`struct lvs_nf_rec`): 16 bytes of header, then the packet.
/// Producer: lvs_nf. Only the layout is described here; records are read from the ring's
/// bytes with [`NfRec::header_from_bytes`].
#[derive(Clone, Copy, Debug)]
pub struct NfRec;

impl NfRec {
    /// Offset of the packet bytes in a record.
    pub const DATA_OFFSET: usize = 16;
    /// Size of a record.
    pub const SIZE: usize = Self::DATA_OFFSET + NF_DATA_MAX;

    /// `(ifindex, mark, len)` of a record, `None` if it is too short.
    pub fn header_from_bytes(b: &[u8]) -> Option<(u32, u32, u32)> {
        let u32_at = |i: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
        };
        Some((u32_at(0)?, u32_at(4)?, u32_at(8)?))
    }
}

/// Indexes of `LVS_NF_STATS` (`enum lvs_nf_stat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum NfStat {
    /// Packets with a nonzero mark that were looked up.
    Seen = 0,
    /// Packets handed to lvsd (and dropped in the kernel).
    Handed = 1,
    /// Matched but too long or non-linear: dropped.
    TooBig = 2,
    /// Matched but the ring was full: dropped.
    RingFull = 3,
}

// SAFETY: `#[repr(C)]`, `Copy`, integer and byte-array fields only, no implicit padding (size
// asserted below), so every bit pattern is valid.
#[cfg(feature = "user")]
#[allow(unsafe_code)]
unsafe impl aya::Pod for FwmarkKey {}

const _: () = {
    assert!(core::mem::size_of::<FwmarkKey>() == 8);
    assert!(NfRec::SIZE == 16 + 2048);
};

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn fwmark_key_layout() {
        assert_eq!(size_of::<FwmarkKey>(), 8);
        assert_eq!(offset_of!(FwmarkKey, mark), 0);
        assert_eq!(offset_of!(FwmarkKey, af), 4);
        assert_eq!(FwmarkKey::new(20, true).af, 10);
        assert_eq!(FwmarkKey::new(20, false).af, 2);
    }

    #[test]
    fn record_header() {
        let mut b = [0u8; NfRec::SIZE];
        b[0..4].copy_from_slice(&7u32.to_ne_bytes());
        b[4..8].copy_from_slice(&20u32.to_ne_bytes());
        b[8..12].copy_from_slice(&60u32.to_ne_bytes());
        assert_eq!(NfRec::header_from_bytes(&b), Some((7, 20, 60)));
        assert_eq!(NfRec::header_from_bytes(&b[..11]), None);
    }
}
