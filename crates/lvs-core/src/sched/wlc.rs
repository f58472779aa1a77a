//! Weighted least-connection (`ip_vs_wlc.c`).
//!
//! Picks the destination with the smallest `overhead / weight`, where the overhead is
//! [`Dest::overhead`](crate::Dest::overhead) (`(activeconns << 8) + inactconns`). The first
//! destination without OVERLOAD and with weight > 0 is the initial candidate; each later one
//! (OVERLOAD skipped) replaces it only when `loh * w(d) > doh * w(least)` in 64-bit
//! arithmetic, so the first in list order wins ties and a weight-0 server never wins.
//! The scheduler keeps no state.

use super::{DestList, PacketInfo, SchedService, Scheduler, weighted_least};
use crate::dest::{Dest, DestId};
use crate::time::Time;

/// Weighted least-connection scheduler (stateless).
#[derive(Debug, Default, Clone)]
pub struct Wlc;

impl Wlc {
    /// A weighted least-connection scheduler.
    pub fn new() -> Wlc {
        Wlc
    }
}

impl Scheduler for Wlc {
    fn name(&self) -> &'static str {
        "wlc"
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        weighted_least(dests, Dest::overhead)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;

    fn wlc() -> Harness {
        Harness::new(Box::new(Wlc::new()))
    }

    /// `n` picks, each opening an active connection on the chosen server.
    /// Confirmed on the real kernel (Linux 6.12.95+deb12-amd64, ipvsadm 1.31, ipvs-vm guest,
    /// one SYN per connection from a local client, each counted active): `ipvsadm -A -t
    /// 10.0.0.1:80 -s wlc`, real servers .1 w4, .2 w3, .3 w2 added in that order, 18
    /// connections: `rs3 rs2 rs1 rs1 rs2 rs3 rs1 rs2 rs1 rs3 rs2 rs1 rs1 rs2 rs3 rs1 rs2 rs1`.
    #[test]
    fn fresh_service_sequence() {
        let mut h = wlc();
        h.add("10.1.0.1", 4);
        h.add("10.1.0.2", 3);
        h.add("10.1.0.3", 2);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assert_eq!(
            h.connect_active(18),
            [
                r3, r2, r1, r1, r2, r3, r1, r2, r1, r3, r2, r1, r1, r2, r3, r1, r2, r1
            ]
        );
        // After 18 connections the loads are exactly proportional to the weights.
        let active: Vec<u32> = h
            .order
            .iter()
            .map(|&id| h.slab.get(id).activeconns)
            .collect();
        assert_eq!(active, [4, 6, 8]);
    }

    /// Confirmed on 6.12.95 (weights 1, 2, 1 for .1 .2 .3, 8 connections):
    /// `rs3 rs2 rs1 rs2 rs3 rs2 rs1 rs2`.
    #[test]
    fn ties_go_to_the_first_in_list() {
        let mut h = wlc();
        h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 2);
        h.add("10.1.0.3", 1);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assert_eq!(h.connect_active(8), [r3, r2, r1, r2, r3, r2, r1, r2]);
    }

    /// A weight-0 server is never chosen, not even when idle. Confirmed on 6.12.95 (weights
    /// 0, 2, 1 for .1 .2 .3, 4 connections): `rs3 rs2 rs2 rs3`.
    #[test]
    fn weight_zero_never_wins() {
        let mut h = wlc();
        h.add("10.1.0.1", 0);
        h.add("10.1.0.2", 2);
        h.add("10.1.0.3", 1);
        let (r2, r3) = ("10.1.0.2", "10.1.0.3");
        assert_eq!(h.connect_active(4), [r3, r2, r2, r3]);
    }

    /// The first candidate must have weight > 0 and no OVERLOAD; later OVERLOAD ones are
    /// skipped.
    #[test]
    fn first_candidate_skips_quiesced_and_overloaded() {
        let mut h = wlc();
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 1);
        let c = h.add("10.1.0.3", 0);
        // list .3(w0) .2 .1
        h.slab.get_mut(a).activeconns = 1;
        assert_eq!(h.pick(), Some(b));
        h.slab.get_mut(b).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), Some(a));
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), None);
        h.set_weight(c, 1);
        assert_eq!(h.pick(), Some(c));
    }

    /// Inactive connections count 1, active ones 256; the comparison is cross-multiplied.
    #[test]
    fn overhead_and_cross_multiplication() {
        let mut h = wlc();
        let a = h.add("10.1.0.1", 3);
        let b = h.add("10.1.0.2", 1);
        // b: 1 active = 256 / 1 ; a: 3 active + 1 inactive = 769 / 3 > 256
        h.slab.get_mut(b).activeconns = 1;
        h.slab.get_mut(a).activeconns = 3;
        h.slab.get_mut(a).inactconns = 1;
        assert_eq!(h.pick(), Some(b));
        // a: 768 / 3 = 256: tie, the first in list (b) stays
        h.slab.get_mut(a).inactconns = 0;
        assert_eq!(h.pick(), Some(b));
        // a: 767 / 3 < 256
        h.slab.get_mut(a).activeconns = 2;
        h.slab.get_mut(a).inactconns = 255;
        assert_eq!(h.pick(), Some(a));
    }

    #[test]
    fn empty_and_all_unusable() {
        let mut h = wlc();
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 0);
        assert_eq!(h.pick(), None);
        h.set_weight(a, 1);
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), None);
    }

    /// Weights and loads at their limits do not overflow (64-bit products), and the
    /// comparison is exact at the edge.
    #[test]
    fn extreme_values() {
        let mut h = wlc();
        let a = h.add("10.1.0.1", i32::MAX);
        let b = h.add("10.1.0.2", 1);
        // a: overhead u32::MAX over weight 2^31 - 1, a load of 2 + 2^-31
        h.slab.get_mut(a).activeconns = u32::MAX >> 8;
        h.slab.get_mut(a).inactconns = 255;
        h.slab.get_mut(b).activeconns = 2; // 512 / 1
        assert_eq!(h.pick(), Some(a));
        h.slab.get_mut(b).activeconns = 0;
        h.slab.get_mut(b).inactconns = 2; // 2 / 1 < 2 + 2^-31
        assert_eq!(h.pick(), Some(b));
        h.slab.get_mut(b).inactconns = 3;
        assert_eq!(h.pick(), Some(a));
    }
}
