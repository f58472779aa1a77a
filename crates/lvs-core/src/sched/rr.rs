//! Round-robin (`ip_vs_rr.c`).
//!
//! The scheduler remembers the last destination it chose ("head" before the first pick)
//! and scans forward circularly from the one after it, returning the first destination
//! with weight > 0 and no OVERLOAD flag. The first pick of a fresh service is therefore the
//! first list element: the most recently added real server.

use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::error::SchedError;
use crate::time::Time;

/// Round-robin state: the list position of the last pick (`None` = the list head).
#[derive(Debug, Default, Clone)]
pub struct Rr {
    /// Position (index in list order) of the remembered node; `None` is the head sentinel.
    last: Option<usize>,
}

impl Rr {
    /// A fresh round-robin scheduler.
    pub fn new() -> Rr {
        Rr::default()
    }
}

impl Scheduler for Rr {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn init_service(&mut self, _: &DestList<'_>, _: &SchedService) -> Result<(), SchedError> {
        self.last = None;
        Ok(())
    }

    fn add_dest(
        &mut self,
        _: &DestList<'_>,
        _: &SchedService,
        _: DestId,
    ) -> Result<(), SchedError> {
        // The new node is linked at the head: the remembered node moves one position down.
        if let Some(p) = self.last.as_mut() {
            *p += 1;
        }
        Ok(())
    }

    fn del_dest(
        &mut self,
        _: &DestList<'_>,
        _: &SchedService,
        _: DestId,
        pos: usize,
    ) -> Result<(), SchedError> {
        // The kernel moves the remembered pointer to the predecessor of a deleted node
        // (`p->next->prev`); nodes after the deleted one shift up by one.
        self.last = match self.last {
            Some(p) if p == pos => pos.checked_sub(1),
            Some(p) if p > pos => Some(p - 1),
            other => other,
        };
        Ok(())
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        let n = dests.len();
        if n == 0 {
            return None;
        }
        // Circular scan over the list with the head sentinel at "position n": start right
        // after the remembered node, stop when we come back to it.
        let start = self.last.map_or(0, |p| p + 1);
        for k in 0..n {
            let i = (start + k) % n;
            let d = dests.at(i);
            if !d.is_overloaded() && d.weight > 0 {
                self.last = Some(i);
                return Some(dests.id(i));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;

    #[test]
    fn fresh_service_starts_with_the_newest() {
        let mut h = Harness::new(Box::new(Rr::new()));
        h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 1);
        h.add("10.1.0.3", 1);
        // list: .3 .2 .1
        assert_eq!(
            h.picks(7),
            [
                "10.1.0.3", "10.1.0.2", "10.1.0.1", "10.1.0.3", "10.1.0.2", "10.1.0.1", "10.1.0.3"
            ]
        );
    }

    #[test]
    fn skips_quiesced_and_overloaded() {
        let mut h = Harness::new(Box::new(Rr::new()));
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 0);
        h.add("10.1.0.3", 1);
        assert_eq!(h.picks(4), ["10.1.0.3", "10.1.0.1", "10.1.0.3", "10.1.0.1"]);
        h.slab.get_mut(a).flags.0 |= crate::dest::DestFlags::OVERLOAD;
        assert_eq!(h.picks(2), ["10.1.0.3", "10.1.0.3"]);
        h.set_weight(b, 1);
        assert_eq!(h.picks(3), ["10.1.0.2", "10.1.0.3", "10.1.0.2"]);
    }

    #[test]
    fn none_when_nothing_is_usable() {
        let mut h = Harness::new(Box::new(Rr::new()));
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 0);
        assert_eq!(h.pick(), None);
        h.set_weight(a, 2);
        assert_eq!(h.picks(2), ["10.1.0.1", "10.1.0.1"]);
    }

    #[test]
    fn add_keeps_position() {
        let mut h = Harness::new(Box::new(Rr::new()));
        h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 1);
        // list .2 .1 ; pick .2
        assert_eq!(h.picks(1), ["10.1.0.2"]);
        h.add("10.1.0.3", 1);
        // list .3 .2 .1 ; remembered .2 -> next is .1, then wraps to .3
        assert_eq!(h.picks(3), ["10.1.0.1", "10.1.0.3", "10.1.0.2"]);
    }

    #[test]
    fn delete_of_remembered_moves_to_predecessor() {
        let mut h = Harness::new(Box::new(Rr::new()));
        h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 1);
        h.add("10.1.0.3", 1);
        // list .3 .2 .1
        assert_eq!(h.picks(2), ["10.1.0.3", "10.1.0.2"]);
        h.del(b);
        // remembered .2 deleted -> predecessor .3; next pick is .1
        assert_eq!(h.picks(3), ["10.1.0.1", "10.1.0.3", "10.1.0.1"]);
    }

    #[test]
    fn delete_of_remembered_first_goes_to_head() {
        let mut h = Harness::new(Box::new(Rr::new()));
        h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 1);
        let c = h.add("10.1.0.3", 1);
        assert_eq!(h.picks(1), ["10.1.0.3"]);
        h.del(c);
        // back to the head: the first element (.2) is next
        assert_eq!(h.picks(2), ["10.1.0.2", "10.1.0.1"]);
    }
}
