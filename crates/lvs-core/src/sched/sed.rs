//! Shortest expected delay (`ip_vs_sed.c`).
//!
//! Like [`Wlc`](super::Wlc), but the load of a destination is `activeconns + 1`: the
//! expected delay of the new connection if it joined that server (inactive connections are
//! ignored). The first destination without OVERLOAD and with weight > 0 is the initial
//! candidate; each later one (OVERLOAD skipped) replaces it when
//! `loh * w(d) > doh * w(least)` in 64-bit arithmetic, so ties go to the first in the list.
//! The scheduler keeps no state.

use super::{DestList, PacketInfo, SchedService, Scheduler, weighted_least};
use crate::dest::{Dest, DestId};
use crate::time::Time;

/// Shortest-expected-delay scheduler (stateless).
#[derive(Debug, Default, Clone)]
pub struct Sed;

impl Sed {
    /// A shortest-expected-delay scheduler.
    pub fn new() -> Sed {
        Sed
    }
}

/// `ip_vs_sed_dest_overhead`: active connections plus the new one (unsigned, wrapping).
pub(crate) fn sed_overhead(d: &Dest) -> u32 {
    d.activeconns.wrapping_add(1)
}

impl Scheduler for Sed {
    fn name(&self) -> &'static str {
        "sed"
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        weighted_least(dests, sed_overhead)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;

    fn sed() -> Harness {
        Harness::new(Box::new(Sed::new()))
    }

    /// Confirmed on the real kernel (Linux 6.12.95+deb12-amd64, ipvsadm 1.31, ipvs-vm guest,
    /// one SYN per connection from a local client, each counted active): `ipvsadm -A -t
    /// 10.0.0.1:80 -s sed`, real servers .1 w4, .2 w3, .3 w2 added in that order, 18
    /// connections: `rs1 rs2 rs3 rs1 rs2 rs1 rs3 rs2 rs1 rs1 rs2 rs3 rs1 rs2 rs1 rs3 rs2 rs1`.
    #[test]
    fn fresh_service_sequence() {
        let mut h = sed();
        h.add("10.1.0.1", 4);
        h.add("10.1.0.2", 3);
        h.add("10.1.0.3", 2);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assert_eq!(
            h.connect_active(18),
            [
                r1, r2, r3, r1, r2, r1, r3, r2, r1, r1, r2, r3, r1, r2, r1, r3, r2, r1
            ]
        );
    }

    /// Confirmed on 6.12.95 (weights 1, 3 for .1 .2, 8 connections):
    /// `rs2 rs2 rs2 rs1 rs2 rs2 rs2 rs1`.
    #[test]
    fn ties_go_to_the_first_in_list() {
        let mut h = sed();
        h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 3);
        let (r1, r2) = ("10.1.0.1", "10.1.0.2");
        assert_eq!(h.connect_active(8), [r2, r2, r2, r1, r2, r2, r2, r1]);
    }

    /// Inactive connections do not count.
    #[test]
    fn inactive_connections_are_ignored() {
        let mut h = sed();
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 1);
        h.slab.get_mut(b).inactconns = 1000;
        assert_eq!(h.pick(), Some(b));
        h.slab.get_mut(b).activeconns = 1;
        assert_eq!(h.pick(), Some(a));
    }

    #[test]
    fn quiesced_overloaded_and_empty() {
        let mut h = sed();
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 0);
        let c = h.add("10.1.0.3", 5);
        h.slab.get_mut(a).activeconns = 50;
        // list .3 .2(w0) .1: .3 idle wins
        assert_eq!(h.pick(), Some(c));
        h.slab.get_mut(c).flags.0 |= DestFlags::OVERLOAD;
        // .2 is quiesced: .1 despite its load
        assert_eq!(h.pick(), Some(a));
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), None);
        h.set_weight(b, 1);
        assert_eq!(h.pick(), Some(b));
    }

    /// `activeconns + 1` wraps like the kernel's unsigned arithmetic instead of panicking.
    #[test]
    fn extreme_values() {
        let mut h = sed();
        let a = h.add("10.1.0.1", i32::MAX);
        let b = h.add("10.1.0.2", i32::MAX);
        h.slab.get_mut(b).activeconns = u32::MAX; // overhead wraps to 0
        h.slab.get_mut(a).activeconns = 0; // overhead 1
        assert_eq!(h.pick(), Some(b));
        h.slab.get_mut(b).activeconns = u32::MAX - 1;
        assert_eq!(h.pick(), Some(a));
    }
}
