//! Weighted failover (`ip_vs_fo.c`).
//!
//! Sends every new connection to the destination with the highest weight among those
//! without OVERLOAD. The scan keeps a running maximum that starts at 0 and is replaced only
//! by a strictly greater weight, so weight-0 servers are never chosen and on ties the first
//! in list order (the most recently added) wins. Connection counts are not looked at.
//! The scheduler keeps no state.

use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::time::Time;

/// Weighted failover scheduler (stateless).
#[derive(Debug, Default, Clone)]
pub struct Fo;

impl Fo {
    /// A weighted failover scheduler.
    pub fn new() -> Fo {
        Fo
    }
}

impl Scheduler for Fo {
    fn name(&self) -> &'static str {
        "fo"
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        let mut best = None;
        let mut hw = 0;
        for (id, d) in dests.iter() {
            if !d.is_overloaded() && d.weight > hw {
                best = Some(id);
                hw = d.weight;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;

    fn fo() -> Harness {
        Harness::new(Box::new(Fo::new()))
    }

    /// Confirmed on the real kernel (Linux 6.12.95+deb12-amd64, ipvsadm 1.31, ipvs-vm guest,
    /// one SYN per connection from a local client): `ipvsadm -A -t 10.0.0.1:80 -s fo`, real
    /// servers .1 w2, .2 w4, .3 w4 added in that order: `rs3 rs3 rs3`; after `-e … -r .3 -w 1`:
    /// `rs2 rs2`; after `-e … -r .2 -w 0`: `rs1 rs1`.
    #[test]
    fn highest_weight_first_in_list_on_ties() {
        let mut h = fo();
        h.add("10.1.0.1", 2);
        let b = h.add("10.1.0.2", 4);
        let c = h.add("10.1.0.3", 4);
        for _ in 0..3 {
            h.pick_and_connect(true);
        }
        assert_eq!(h.slab.get(c).activeconns, 3);
        h.set_weight(c, 1);
        assert_eq!(h.picks(2), ["10.1.0.2", "10.1.0.2"]);
        h.set_weight(b, 0);
        assert_eq!(h.picks(2), ["10.1.0.1", "10.1.0.1"]);
    }

    /// Load does not matter; OVERLOAD fails over to the next highest weight.
    #[test]
    fn overload_fails_over() {
        let mut h = fo();
        let a = h.add("10.1.0.1", 10);
        let b = h.add("10.1.0.2", 5);
        h.add("10.1.0.3", 5);
        h.slab.get_mut(a).activeconns = 1_000_000;
        assert_eq!(h.picks(2), ["10.1.0.1", "10.1.0.1"]);
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.picks(2), ["10.1.0.3", "10.1.0.3"]);
        h.del(a);
        h.set_weight(b, 6);
        assert_eq!(h.picks(1), ["10.1.0.2"]);
    }

    #[test]
    fn none_when_nothing_is_usable() {
        let mut h = fo();
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 0);
        h.add("10.1.0.2", 0);
        assert_eq!(h.pick(), None);
        h.set_weight(a, i32::MAX);
        assert_eq!(h.pick(), Some(a));
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.pick(), None);
    }
}
