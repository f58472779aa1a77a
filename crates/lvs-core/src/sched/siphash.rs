//! The kernel's `hsiphash` as built on 64-bit machines (`lib/siphash.c`): SipHash-1-3.
//!
//! On 64-bit kernels `hsiphash()` is not HalfSipHash but full SipHash with one compression
//! round per 8-byte block and three finalization rounds, keyed by two 64-bit words, and its
//! 64-bit result is truncated to 32 bits. The `mh` scheduler hashes one 32-bit value with
//! it; [`hsiphash_u32`] is exactly that call (`hsiphash(&v, 4, key)`). 32-bit kernels use
//! HalfSipHash-1-3 instead and therefore build different Maglev tables; we follow 64-bit.

/// A `hsiphash_key_t` on a 64-bit kernel: two `unsigned long` words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SipKey(pub u64, pub u64);

/// The SipHash state `v0..v3`.
struct State([u64; 4]);

impl State {
    fn new(key: SipKey) -> State {
        // "somepseudorandomlygeneratedbytes", split in four little-endian words.
        State([
            0x736f_6d65_7073_6575 ^ key.0,
            0x646f_7261_6e64_6f6d ^ key.1,
            0x6c79_6765_6e65_7261 ^ key.0,
            0x7465_6462_7974_6573 ^ key.1,
        ])
    }

    /// One SipRound.
    fn round(&mut self) {
        let [mut v0, mut v1, mut v2, mut v3] = self.0;
        v0 = v0.wrapping_add(v1);
        v1 = v1.rotate_left(13);
        v1 ^= v0;
        v0 = v0.rotate_left(32);
        v2 = v2.wrapping_add(v3);
        v3 = v3.rotate_left(16);
        v3 ^= v2;
        v0 = v0.wrapping_add(v3);
        v3 = v3.rotate_left(21);
        v3 ^= v0;
        v2 = v2.wrapping_add(v1);
        v1 = v1.rotate_left(17);
        v1 ^= v2;
        v2 = v2.rotate_left(32);
        self.0 = [v0, v1, v2, v3];
    }

    /// Absorb one 64-bit message word with `c` compression rounds.
    fn compress(&mut self, m: u64, c: usize) {
        self.0[3] ^= m;
        for _ in 0..c {
            self.round();
        }
        self.0[0] ^= m;
    }

    /// Finalize with `d` rounds and return `v0 ^ v1 ^ v2 ^ v3`.
    fn finish(mut self, d: usize) -> u64 {
        self.0[2] ^= 0xff;
        for _ in 0..d {
            self.round();
        }
        self.0[0] ^ self.0[1] ^ self.0[2] ^ self.0[3]
    }
}

/// SipHash-`c`-`d` of `data` under `key` (the published algorithm, any length).
pub(crate) fn siphash(c: usize, d: usize, key: SipKey, data: &[u8]) -> u64 {
    let mut st = State::new(key);
    let mut blocks = data.chunks_exact(8);
    for blk in blocks.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(blk);
        st.compress(u64::from_le_bytes(w), c);
    }
    // Last word: the remaining bytes little-endian, the length (mod 256) in the top byte.
    let mut last = (data.len() as u64 & 0xff) << 56;
    for (i, &b) in blocks.remainder().iter().enumerate() {
        last |= u64::from(b) << (8 * i);
    }
    st.compress(last, c);
    st.finish(d)
}

/// `hsiphash(&v, sizeof(u32), key)` on a 64-bit kernel: SipHash-1-3 of the four bytes of
/// `v` in memory order (little-endian, as on x86-64 and arm64), truncated to 32 bits.
pub(crate) fn hsiphash_u32(v: u32, key: SipKey) -> u32 {
    // Truncation is the kernel's `return (u32)(v0 ^ v1 ^ v2 ^ v3)`.
    siphash(1, 3, key, &v.to_le_bytes()) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hasher;

    /// The test vector of the SipHash paper (Aumasson & Bernstein, appendix A): key
    /// 00 01 .. 0f, message 00 01 .. 0e (15 bytes), SipHash-2-4 = 0xa129ca6149be45e5. It
    /// checks the round function, the key/constant setup and the length/tail encoding
    /// that SipHash-1-3 shares with SipHash-2-4.
    #[test]
    fn siphash24_paper_vector() {
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0u8..15).collect();
        assert_eq!(siphash(2, 4, SipKey(k0, k1), &msg), 0xa129_ca61_49be_45e5);
    }

    /// The first entries of the reference implementation's `vectors.h` table for
    /// SipHash-2-4 (same key, messages 00..(n-1) of length n = 0, 1, 8).
    #[test]
    fn siphash24_reference_table() {
        let key = SipKey(
            u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]),
            u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]),
        );
        let msg: Vec<u8> = (0u8..64).collect();
        assert_eq!(siphash(2, 4, key, &msg[..0]), 0x726f_db47_dd0e_0e31);
        assert_eq!(siphash(2, 4, key, &msg[..1]), 0x74f8_39c5_93dc_67fd);
        assert_eq!(siphash(2, 4, key, &msg[..8]), 0x93f5_f579_9a93_2462);
    }

    /// An independent SipHash-1-3: Rust's `DefaultHasher` is SipHash-1-3 with a zero key
    /// (it hashes raw `write` bytes and appends the byte count as SipHash does). Its exact
    /// algorithm is not a stability promise, so the values it gave (Rust 1.95) are also
    /// pinned as constants.
    #[test]
    fn siphash13_matches_std_default_hasher() {
        let zero = SipKey(0, 0);
        for v in [
            0u32,
            1,
            0x0a00_0001,
            0xdead_beef,
            u32::MAX,
            80 + 0x0a01_0002,
        ] {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            h.write(&v.to_le_bytes());
            assert_eq!(
                siphash(1, 3, zero, &v.to_le_bytes()),
                h.finish(),
                "v={v:#x}"
            );
        }
        assert_eq!(hsiphash_u32(0, zero), PINNED_ZERO_KEY_0);
        assert_eq!(hsiphash_u32(0x0a00_0001, zero), PINNED_ZERO_KEY_0A000001);
    }

    const PINNED_ZERO_KEY_0: u32 = 0x9ac4_8af0;
    const PINNED_ZERO_KEY_0A000001: u32 = 0x3d66_7eda;

    #[test]
    fn length_byte_counts_all_bytes() {
        // Two messages that differ only in length must differ (the tail word carries len).
        let k = SipKey(1, 2);
        assert_ne!(siphash(1, 3, k, &[0; 4]), siphash(1, 3, k, &[0; 5]));
        assert_ne!(siphash(1, 3, k, &[0; 8]), siphash(1, 3, k, &[0; 16]));
    }
}
