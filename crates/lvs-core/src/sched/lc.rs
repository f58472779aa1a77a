//! Least-connection (`ip_vs_lc.c`).
//!
//! Picks the destination with the smallest [`Dest::overhead`](crate::Dest::overhead)
//! (`(activeconns << 8) + inactconns`), ignoring weights except that weight 0 quiesces a
//! server. OVERLOAD destinations are skipped. The comparison is a strict `<` over the list
//! in order, so on ties the first destination in the list (the most recently added) wins.
//! The scheduler keeps no state.

use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;

/// Least-connection scheduler (stateless).
#[derive(Debug, Default, Clone)]
pub struct Lc;

impl Lc {
    /// A least-connection scheduler.
    pub fn new() -> Lc {
        Lc
    }
}

impl Scheduler for Lc {
    fn name(&self) -> &'static str {
        "lc"
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        let mut least: Option<(DestId, u32)> = None;
        for (id, d) in dests.iter() {
            if d.is_overloaded() || d.weight == 0 {
                continue;
            }
            let doh = d.overhead();
            if least.is_none_or(|(_, loh)| doh < loh) {
                least = Some((id, doh));
            }
        }
        least.map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;

    fn lc() -> Harness {
        Harness::new(Box::new(Lc::new()))
    }

    /// Confirmed on the real kernel (Linux 6.12.95+deb12-amd64, ipvsadm 1.31, ipvs-vm guest,
    /// one SYN per connection from a local client, each counted active): `ipvsadm -A -t
    /// 10.0.0.1:80 -s lc`, real servers .1 .2 .3 (w1) added in that order, 7 connections:
    /// `rs3 rs2 rs1 rs3 rs2 rs1 rs3`; then `-e … -r .2 -w 0`, 4 connections: `rs1 rs3 rs1 rs3`.
    #[test]
    fn ties_go_to_the_newest_and_weight_zero_quiesces() {
        let mut h = lc();
        h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 1);
        h.add("10.1.0.3", 1);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        let got: Vec<_> = (0..7)
            .map(|_| h.pick_and_connect(true).map(|id| h.name(id)))
            .collect();
        assert_eq!(
            got,
            [r3, r2, r1, r3, r2, r1, r3].map(|s| Some(s.to_string()))
        );
        h.set_weight(b, 0);
        // loads .3 3, .2 2 (quiesced), .1 2
        let got: Vec<_> = (0..4)
            .map(|_| h.pick_and_connect(true).map(|id| h.name(id)))
            .collect();
        assert_eq!(got, [r1, r3, r1, r3].map(|s| Some(s.to_string())));
    }

    /// Weights other than 0 do not matter. Confirmed on 6.12.95 (weights 1, 5, 1 for .1 .2
    /// .3, 6 connections): `rs3 rs2 rs1 rs3 rs2 rs1`.
    #[test]
    fn weights_are_ignored() {
        let mut h = lc();
        h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 5);
        h.add("10.1.0.3", 1);
        let got: Vec<_> = (0..6)
            .map(|_| h.pick_and_connect(true).map(|id| h.name(id)))
            .collect();
        let want: Vec<_> = ["10.1.0.3", "10.1.0.2", "10.1.0.1"]
            .repeat(2)
            .into_iter()
            .map(|s| Some(s.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    /// An active connection costs 256 inactive ones.
    #[test]
    fn overhead_weighs_active_256_times() {
        let mut h = lc();
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 1);
        h.slab.get_mut(b).activeconns = 1; // 256
        h.slab.get_mut(a).inactconns = 255; // 255
        assert_eq!(h.picks(1), ["10.1.0.1"]);
        h.slab.get_mut(a).inactconns = 256; // tie: first in list (.2)
        assert_eq!(h.picks(1), ["10.1.0.2"]);
        h.slab.get_mut(a).inactconns = 257;
        assert_eq!(h.picks(1), ["10.1.0.2"]);
        h.slab.get_mut(b).inactconns = 2; // 258
        assert_eq!(h.picks(1), ["10.1.0.1"]);
    }

    /// Confirmed on 6.12.95 (`-a … -r .1 -w 1 -x 2`, then .2 w1; 6 connections):
    /// `rs2 rs1 rs2 rs1 rs2 rs2` (.1 overloaded from its 2nd connection on).
    #[test]
    fn overloaded_is_skipped() {
        let mut h = lc();
        let a = h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 1);
        let mut got = Vec::new();
        for _ in 0..6 {
            let id = h.pick_and_connect(true).unwrap();
            got.push(h.name(id));
            let d = h.slab.get_mut(a);
            if d.conns() >= 2 {
                d.flags.0 |= DestFlags::OVERLOAD;
            }
        }
        assert_eq!(
            got,
            [
                "10.1.0.2", "10.1.0.1", "10.1.0.2", "10.1.0.1", "10.1.0.2", "10.1.0.2"
            ]
        );
    }

    #[test]
    fn none_when_nothing_is_usable() {
        let mut h = lc();
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 0);
        assert_eq!(h.pick(), None);
        h.set_weight(a, 3);
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), None);
        h.slab.get_mut(a).flags.0 &= !DestFlags::OVERLOAD;
        assert_eq!(h.pick(), Some(a));
    }

    /// A quiesced server with no connections still loses to a loaded one.
    #[test]
    fn quiesced_idle_server_is_not_picked() {
        let mut h = lc();
        let a = h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 0);
        h.slab.get_mut(a).activeconns = 1000;
        assert_eq!(h.pick(), Some(a));
    }
}
