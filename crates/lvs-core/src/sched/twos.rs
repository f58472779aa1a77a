//! Power of two choices (`ip_vs_twos.c`).
//!
//! Draws two destinations at random, each with probability proportional to its weight, and
//! takes the one with the smaller `overhead / weight` (the first draw on ties). Only
//! destinations without OVERLOAD and with weight > 0 take part. Draw `r` is uniform in
//! `[0, total]` (the kernel adds 1 to the total "so that the random weights are inclusive"),
//! and the chosen destination is the first whose cumulative weight reaches `r`, so the first
//! usable destination in list order gets one extra chance. The random numbers come from a
//! SplitMix64 generator seeded with [`SchedParams::seed`], so runs are reproducible (the
//! kernel's own choices, from its RNG, are not).
//!
//! Overflow: the kernel sums the weights and multiplies weight by overhead in `int`, which
//! wraps once a total exceeds `i32::MAX` (e.g. weight 100 with more than 83 886 active
//! connections). We compute in `i64` instead, which cannot overflow here and agrees with the
//! kernel whenever the kernel's arithmetic does not overflow.

use super::{DestList, PacketInfo, SchedParams, SchedService, Scheduler};
use crate::dest::{Dest, DestId};
use crate::time::Time;

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, well-mixed 64-bit generator.
#[derive(Debug, Clone)]
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, n)` without modulo bias (Lemire's multiply-and-reject, the
    /// method of the kernel's `get_random_u32_below`, on 64 bits). `n` must be > 0.
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            // 2^64 mod n: low parts below it would bias the result.
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }
}

/// Power-of-two-choices scheduler with its random number generator.
#[derive(Debug, Clone)]
pub struct Twos {
    rng: SplitMix64,
}

impl Twos {
    /// A power-of-two-choices scheduler whose random numbers are seeded with `params.seed`.
    pub fn new(params: &SchedParams) -> Twos {
        Twos {
            rng: SplitMix64::new(params.seed),
        }
    }
}

/// Whether `d` takes part in the draw.
fn usable(d: &Dest) -> bool {
    !d.is_overloaded() && d.weight > 0
}

/// The kernel's second stage for given draws `r1`, `r2` (each in `[0, total]`): walk the
/// usable destinations subtracting weights; a draw picks the first destination at which it
/// drops to 0 or below. Then the second pick wins only if strictly less loaded per weight.
/// `fallback` is the kernel's initial `choice1` (the last usable destination), kept for the
/// unreachable case that the first draw picks nothing.
fn choose(dests: &DestList<'_>, mut r1: i64, mut r2: i64, fallback: DestId) -> DestId {
    // (id, weight, overhead); the kernel starts with weight -1 and overhead 0.
    let mut c1: Option<(DestId, i64, i64)> = None;
    let mut c2: Option<(DestId, i64, i64)> = None;
    for (id, d) in dests.iter() {
        if !usable(d) {
            continue;
        }
        let w = i64::from(d.weight);
        r1 -= w;
        r2 -= w;
        if r1 <= 0 && c1.is_none() {
            c1 = Some((id, w, i64::from(d.overhead())));
        }
        if r2 <= 0 && c2.is_none() {
            c2 = Some((id, w, i64::from(d.overhead())));
        }
        if c1.is_some() && c2.is_some() {
            break;
        }
    }
    let (id1, w1, o1) = c1.unwrap_or((fallback, -1, 0));
    match c2 {
        Some((id2, w2, o2)) if w2 * o1 > w1 * o2 => id2,
        _ => id1,
    }
}

impl Scheduler for Twos {
    fn name(&self) -> &'static str {
        "twos"
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        let mut total: i64 = 0;
        let mut last = None;
        for (id, d) in dests.iter() {
            if usable(d) {
                total += i64::from(d.weight);
                last = Some(id);
            }
        }
        let last = last?;
        // total >= 1 here, and at most len * i32::MAX: positive as u64.
        let bound = total.unsigned_abs() + 1;
        let r1 = self.rng.below(bound) as i64;
        let r2 = self.rng.below(bound) as i64;
        Some(choose(dests, r1, r2, last))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::{DestFlags, DestSlab};

    fn twos() -> Harness {
        Harness::new(Box::new(Twos::new(&SchedParams::default())))
    }

    #[test]
    fn splitmix64_reference_vectors() {
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 0x599E_D017_FB08_FC85);
        assert_eq!(r.next_u64(), 0x2C73_F084_5854_0FA5);
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut r = SplitMix64::new(7);
        let mut seen = [0u32; 5];
        for _ in 0..5000 {
            let v = r.below(5);
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
        assert_eq!(r.below(1), 0);
        for _ in 0..100 {
            assert!(r.below(u64::MAX) < u64::MAX);
            assert!(r.below(3 << 62) < 3 << 62);
        }
    }

    /// A list .3(w2) .2(w0) .1(w3), loads .3 = 1 active, .1 = 1 inactive.
    fn fixture() -> (DestSlab, Vec<DestId>, [DestId; 3]) {
        let mut h = twos();
        let a = h.add("10.1.0.1", 3);
        let b = h.add("10.1.0.2", 0);
        let c = h.add("10.1.0.3", 2);
        h.slab.get_mut(c).activeconns = 1; // 256
        h.slab.get_mut(a).inactconns = 1; // 1
        (h.slab, h.order, [a, b, c])
    }

    /// The draw-to-destination mapping and the comparison, for chosen draws (total = 5, so
    /// draws are in 0..=5): 0..=2 -> .3 (first usable, one extra chance), 3..=5 -> .1.
    #[test]
    fn choice_for_given_draws() {
        let (slab, order, [a, _b, c]) = fixture();
        let l = DestList::new(&order, &slab);
        for r in 0..=2 {
            assert_eq!(choose(&l, r, r, a), c, "r = {r}");
        }
        for r in 3..=5 {
            assert_eq!(choose(&l, r, r, a), a, "r = {r}");
        }
        // .3 vs .1: 3 * 256 > 2 * 1, the second draw (.1) wins.
        assert_eq!(choose(&l, 0, 5, a), a);
        // .1 vs .3: 2 * 1 > 3 * 256 is false, the first draw (.1) stays.
        assert_eq!(choose(&l, 5, 0, a), a);
    }

    /// Equal load per weight keeps the first draw.
    #[test]
    fn tie_keeps_the_first_draw() {
        let (mut slab, order, [a, _b, c]) = fixture();
        slab.get_mut(c).activeconns = 0;
        slab.get_mut(c).inactconns = 2; // 2 / 2
        slab.get_mut(a).inactconns = 3; // 3 / 3
        let l = DestList::new(&order, &slab);
        assert_eq!(choose(&l, 0, 5, a), c);
        assert_eq!(choose(&l, 5, 0, a), a);
        slab.get_mut(a).inactconns = 2; // 2 / 3 < 2 / 2: .1 better
        let l = DestList::new(&order, &slab);
        assert_eq!(choose(&l, 0, 5, a), a);
        assert_eq!(choose(&l, 5, 0, a), a);
    }

    /// Confirmed on the real kernel (Linux 6.12.95+deb12-amd64, ipvs-vm): `ipvsadm -A -t
    /// 10.0.0.1:80 -s twos`, .1 w1 and .2 w0: 5 connections all went to rs1.
    #[test]
    fn never_quiesced_or_overloaded() {
        let mut h = twos();
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 0);
        let c = h.add("10.1.0.3", 7);
        h.slab.get_mut(c).flags.0 |= DestFlags::OVERLOAD;
        for _ in 0..200 {
            assert_eq!(h.pick_and_connect(true), Some(a));
        }
        h.set_weight(b, 1);
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        for _ in 0..50 {
            assert_eq!(h.pick(), Some(b));
        }
    }

    #[test]
    fn none_when_nothing_is_usable() {
        let mut h = twos();
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 0);
        assert_eq!(h.pick(), None);
        h.set_weight(a, 4);
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), None);
    }

    /// The same seed gives the same choices; another seed other ones.
    #[test]
    fn deterministic_per_seed() {
        let run = |seed: u64| {
            let mut h = Harness::new(Box::new(Twos::new(&SchedParams {
                seed,
                ..SchedParams::default()
            })));
            for i in 1..=5 {
                h.add(&format!("10.1.0.{i}"), i);
            }
            h.picks(40)
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    /// The less loaded of two draws wins: with one idle and one very busy server of equal
    /// weight, the busy one is chosen only when both draws land on it (about 1/4).
    #[test]
    fn prefers_the_less_loaded() {
        let mut h = twos();
        h.add("10.1.0.1", 10);
        let b = h.add("10.1.0.2", 10);
        h.slab.get_mut(b).activeconns = 1000;
        let n = 4000;
        let busy = (0..n).filter(|_| h.pick() == Some(b)).count();
        // P(both draws on .2) = (11/21)^2 ~ 0.274 (.2 is first: r in 0..=10)
        assert!((900..1300).contains(&busy), "busy picked {busy} times");
    }

    /// Huge weights and loads: no overflow, still a usable destination.
    #[test]
    fn extreme_values() {
        let mut h = twos();
        let ids: Vec<_> = (1..=8)
            .map(|i| h.add(&format!("10.1.0.{i}"), i32::MAX))
            .collect();
        for &id in &ids {
            h.slab.get_mut(id).activeconns = u32::MAX >> 8;
            h.slab.get_mut(id).inactconns = 255;
        }
        for _ in 0..100 {
            assert!(h.pick().is_some());
        }
    }
}
