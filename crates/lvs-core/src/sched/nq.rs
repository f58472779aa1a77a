//! Never queue (`ip_vs_nq.c`).
//!
//! Scans the list in order, skipping OVERLOAD and weight-0 destinations. The first
//! destination with no active connection is returned at once ("never queue" behind busy
//! servers while one is idle). Otherwise it behaves like [`Sed`](super::Sed): the least
//! `(activeconns + 1) / weight`, replacing the candidate only when
//! `loh * w(d) > doh * w(least)` in 64-bit arithmetic, so ties go to the first in the list.
//! The scheduler keeps no state.

use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;

/// Never-queue scheduler (stateless).
#[derive(Debug, Default, Clone)]
pub struct Nq;

impl Nq {
    /// A never-queue scheduler.
    pub fn new() -> Nq {
        Nq
    }
}

impl Scheduler for Nq {
    fn name(&self) -> &'static str {
        "nq"
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        // (id, overhead, weight) of the current least loaded destination.
        let mut least: Option<(DestId, i64, i64)> = None;
        for (id, d) in dests.iter() {
            if d.is_overloaded() || d.weight == 0 {
                continue;
            }
            if d.activeconns == 0 {
                return Some(id);
            }
            let doh = i64::from(super::sed::sed_overhead(d));
            let w = i64::from(d.weight);
            if least.is_none_or(|(_, loh, lw)| loh * w > doh * lw) {
                least = Some((id, doh, w));
            }
        }
        least.map(|(id, _, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;

    fn nq() -> Harness {
        Harness::new(Box::new(Nq::new()))
    }

    /// Confirmed on the real kernel (Linux 6.12.95+deb12-amd64, ipvsadm 1.31, ipvs-vm guest,
    /// one SYN per connection from a local client, each counted active): `ipvsadm -A -t
    /// 10.0.0.1:80 -s nq`, real servers .1 w4, .2 w3, .3 w2 added in that order, 18
    /// connections: `rs3 rs2 rs1 rs1 rs2 rs1 rs3 rs2 rs1 rs1 rs2 rs3 rs1 rs2 rs1 rs3 rs2 rs1`
    /// (idle servers first, in list order, then shortest expected delay).
    #[test]
    fn fresh_service_sequence() {
        let mut h = nq();
        h.add("10.1.0.1", 4);
        h.add("10.1.0.2", 3);
        h.add("10.1.0.3", 2);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assert_eq!(
            h.connect_active(18),
            [
                r3, r2, r1, r1, r2, r1, r3, r2, r1, r1, r2, r3, r1, r2, r1, r3, r2, r1
            ]
        );
    }

    /// Confirmed on 6.12.95 (weights 1, 3 for .1 .2, 8 connections):
    /// `rs2 rs1 rs2 rs2 rs2 rs2 rs2 rs1`.
    #[test]
    fn idle_first_then_ties_to_the_first_in_list() {
        let mut h = nq();
        h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 3);
        let (r1, r2) = ("10.1.0.1", "10.1.0.2");
        assert_eq!(h.connect_active(8), [r2, r1, r2, r2, r2, r2, r2, r1]);
    }

    /// An idle server wins over a much faster busy one; an idle server that is quiesced or
    /// overloaded does not count.
    #[test]
    fn idle_beats_weight() {
        let mut h = nq();
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 1000);
        let c = h.add("10.1.0.3", 0);
        h.slab.get_mut(b).activeconns = 1;
        h.slab.get_mut(a).inactconns = 100; // inactive ones do not make it busy
        assert_eq!(h.pick(), Some(a));
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), Some(b)); // .3 is idle but quiesced
        h.set_weight(c, 1);
        assert_eq!(h.pick(), Some(c));
    }

    #[test]
    fn empty_and_all_unusable() {
        let mut h = nq();
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 0);
        assert_eq!(h.pick(), None);
        h.set_weight(a, 2);
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), None);
        h.slab.get_mut(a).flags.0 &= !DestFlags::OVERLOAD;
        h.slab.get_mut(a).activeconns = 7;
        assert_eq!(h.pick(), Some(a));
    }

    #[test]
    fn extreme_values() {
        let mut h = nq();
        let a = h.add("10.1.0.1", i32::MAX);
        let b = h.add("10.1.0.2", 1);
        h.slab.get_mut(a).activeconns = u32::MAX - 1; // (2^32 - 1) / (2^31 - 1) ~ 2
        h.slab.get_mut(b).activeconns = 2; // 3 / 1
        assert_eq!(h.pick(), Some(a));
        h.slab.get_mut(b).activeconns = 1; // 2 / 1 < 2.000…: b
        assert_eq!(h.pick(), Some(b));
    }
}
