//! Weighted overflow (`ip_vs_ovf.c`).
//!
//! Sends new connections to the destination with the highest weight, as long as its number
//! of active connections does not exceed its weight; then the next highest takes the
//! overflow. Destinations with OVERLOAD, weight 0, or `activeconns > weight` are skipped;
//! among the rest the highest weight wins with a strict `>`, so ties go to the first in
//! list order. Inactive connections do not count. The scheduler keeps no state.

use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;

/// Weighted overflow scheduler (stateless).
#[derive(Debug, Default, Clone)]
pub struct Ovf;

impl Ovf {
    /// A weighted overflow scheduler.
    pub fn new() -> Ovf {
        Ovf
    }
}

impl Scheduler for Ovf {
    fn name(&self) -> &'static str {
        "ovf"
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        let mut best: Option<(DestId, i32)> = None;
        for (id, d) in dests.iter() {
            let w = d.weight;
            if d.is_overloaded() || i64::from(d.activeconns) > i64::from(w) || w == 0 {
                continue;
            }
            if best.is_none_or(|(_, hw)| w > hw) {
                best = Some((id, w));
            }
        }
        best.map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;

    fn ovf() -> Harness {
        Harness::new(Box::new(Ovf::new()))
    }

    /// Confirmed on the real kernel (Linux 6.12.95+deb12-amd64, ipvsadm 1.31, ipvs-vm guest,
    /// one SYN per connection from a local client, each counted active): `ipvsadm -A -t
    /// 10.0.0.1:80 -s ovf`, real servers .1 w2, .2 w3, .3 w1 added in that order, 10
    /// connections: `rs2 rs2 rs2 rs2 rs1 rs1 rs1 rs3 rs3` and the 10th got no real server.
    /// A server takes weight + 1 connections (it is skipped only when active > weight).
    #[test]
    fn overflows_by_weight() {
        let mut h = ovf();
        h.add("10.1.0.1", 2);
        h.add("10.1.0.2", 3);
        h.add("10.1.0.3", 1);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assert_eq!(
            h.connect_active(10),
            [r2, r2, r2, r2, r1, r1, r1, r3, r3, "-"]
        );
    }

    /// Confirmed on 6.12.95 (weights 2, 2 for .1 .2, 7 connections):
    /// `rs2 rs2 rs2 rs1 rs1 rs1` and none for the 7th.
    #[test]
    fn ties_go_to_the_first_in_list() {
        let mut h = ovf();
        h.add("10.1.0.1", 2);
        h.add("10.1.0.2", 2);
        let (r1, r2) = ("10.1.0.1", "10.1.0.2");
        assert_eq!(h.connect_active(7), [r2, r2, r2, r1, r1, r1, "-"]);
    }

    /// Inactive connections do not count; closing active ones brings a server back.
    #[test]
    fn only_active_connections_count() {
        let mut h = ovf();
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 2);
        h.slab.get_mut(b).inactconns = 1000;
        assert_eq!(h.pick(), Some(b));
        h.slab.get_mut(b).activeconns = 3;
        assert_eq!(h.pick(), Some(a));
        h.slab.get_mut(b).activeconns = 2;
        assert_eq!(h.pick(), Some(b));
    }

    #[test]
    fn quiesced_overloaded_and_empty() {
        let mut h = ovf();
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 0);
        assert_eq!(h.pick(), Some(a));
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), None);
        h.set_weight(b, 5);
        assert_eq!(h.pick(), Some(b));
        // activeconns above i32::MAX compare correctly with the weight
        h.set_weight(b, i32::MAX);
        h.slab.get_mut(b).activeconns = u32::MAX;
        assert_eq!(h.pick(), None);
        h.slab.get_mut(b).activeconns = i32::MAX as u32;
        assert_eq!(h.pick(), Some(b));
    }
}
