//! Weighted round-robin (`ip_vs_wrr.c`).
//!
//! The state is a current weight `cw`, a maximum `mw` (highest weight minus `gcd - 1`), a step
//! `di` (the gcd of the positive weights) and a current position `cl` (the list head at first).
//! A pick scans forward from the position after `cl` for a destination with weight `>= cw`
//! and no OVERLOAD flag; at the end of the list `cw` drops by `di` and the scan restarts at
//! the head; when `cw` falls to 0 it wraps to `mw`. Adding, deleting or editing a destination
//! recomputes `di`/`mw`, moves `cl` back to the head and clamps `cw`. Because `cw` is clamped
//! rather than reset, a fresh service often starts part-way through the cycle (see the tests).

use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::DestId;
use crate::error::SchedError;
use crate::time::Time;

/// Weighted round-robin state (`struct ip_vs_wrr_mark`).
#[derive(Debug, Default, Clone)]
pub struct Wrr {
    /// List position of the current destination; `None` is the list head.
    cl: Option<usize>,
    /// Current weight.
    cw: i32,
    /// Maximum weight, reduced by `di - 1`.
    mw: i32,
    /// Decreasing interval: gcd of the positive weights (1 if there are none).
    di: i32,
}

impl Wrr {
    /// A fresh weighted round-robin scheduler (not yet bound to a service).
    pub fn new() -> Wrr {
        Wrr {
            cl: None,
            cw: 0,
            mw: 0,
            di: 1,
        }
    }

    /// Recompute `di` and `mw` from the current weights (`ip_vs_wrr_gcd_weight`,
    /// `ip_vs_wrr_max_weight`).
    fn recompute(&mut self, dests: &DestList<'_>) {
        let mut g = 0;
        let mut max = 0;
        for (_, d) in dests.iter() {
            if d.weight > 0 {
                g = if g > 0 { gcd(d.weight, g) } else { d.weight };
            }
            max = max.max(d.weight);
        }
        self.di = if g > 0 { g } else { 1 };
        // max >= di whenever some weight is positive, so this stays >= 1 (or 0 for none).
        self.mw = max - (self.di - 1);
    }

    /// `ip_vs_wrr_dest_changed`: back to the head, new `di`/`mw`, clamp `cw`.
    fn dest_changed(&mut self, dests: &DestList<'_>) {
        self.cl = None;
        self.recompute(dests);
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = (self.cw / self.di) * self.di + 1;
        }
    }
}

/// Greatest common divisor of two positive numbers.
fn gcd(mut a: i32, mut b: i32) -> i32 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

impl Scheduler for Wrr {
    fn name(&self) -> &'static str {
        "wrr"
    }

    fn init_service(&mut self, dests: &DestList<'_>, _: &SchedService) -> Result<(), SchedError> {
        self.cl = None;
        self.recompute(dests);
        self.cw = self.mw;
        Ok(())
    }

    fn add_dest(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: DestId,
    ) -> Result<(), SchedError> {
        self.dest_changed(dests);
        Ok(())
    }

    fn del_dest(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: DestId,
        _: usize,
    ) -> Result<(), SchedError> {
        self.dest_changed(dests);
        Ok(())
    }

    fn upd_dest(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: DestId,
    ) -> Result<(), SchedError> {
        self.dest_changed(dests);
        Ok(())
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        // "No available dests?": cl stays where it is.
        if self.mw == 0 {
            return None;
        }
        let n = dests.len();
        // The callbacks keep cl inside the list; a stale position is treated as the head.
        let last = self.cl.filter(|&p| p < n);
        // Highest weight a pass could match: lets a run of passes that cannot match be
        // skipped in one step (the kernel walks them one by one; same outcome).
        let max_usable = dests
            .iter()
            .filter(|(_, d)| !d.is_overloaded())
            .map(|(_, d)| d.weight)
            .max()
            .unwrap_or(0);
        let mut start = last.map_or(0, |p| p + 1);
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        loop {
            for i in start..n {
                let d = dests.at(i);
                if !d.is_overloaded() && d.weight >= self.cw {
                    self.cl = Some(i);
                    return Some(dests.id(i));
                }
                if stop == Some(i) {
                    // "all destinations are overloaded"
                    self.cl = Some(i);
                    return None;
                }
            }
            // The scan ran off the end of the list: the next one starts at the head.
            start = 0;
            self.cw -= self.di;
            if self.cw <= 0 {
                self.cw = self.mw;
                if last_pass || last.is_none() {
                    self.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                // The first traversal at weight >= 1 covered only the dests after `last`.
                stop = last;
            }
            // Fast-forward over whole-list passes that match nothing: while cw stays above
            // both the highest usable weight and di, each pass fails without reaching `stop`
            // (there is none yet: it needs cw <= di), cannot wrap, and leaves last_pass false.
            let floor = max_usable.max(self.di);
            if stop.is_none() && self.cw > floor {
                let skip = (self.cw - floor - 1) / self.di;
                self.cw -= skip * self.di;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;

    fn wrr() -> Harness {
        Harness::new(Box::new(Wrr::new()))
    }

    /// Confirmed on the real kernel (Linux 6.12.95+deb12-amd64, ipvsadm 1.31, ipvs-vm guest,
    /// one SYN per connection from a local client): `ipvsadm -A -t 10.0.0.1:80 -s wrr`,
    /// `-a … -r 10.0.1.1:80 -m -w 4`, `-r 10.0.1.2:80 -w 3`, `-r 10.0.1.3:80 -w 2`, 20 connections:
    /// `rs3 rs2 rs1 rs1 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1 rs1 rs2 rs1 rs3 rs2 rs1 rs3 rs2`.
    /// Why: the first add sees only weight 4, so di = 4 and mw = cw = 1; the later adds make
    /// di = 1, mw = 4 but keep cw = 1 (it is neither 0 nor above mw). The first pass is
    /// therefore the cw = 1 pass, then the cycle starts at cw = 4.
    #[test]
    fn fresh_service_starts_at_the_first_weight() {
        let mut h = wrr();
        h.add("10.1.0.1", 4);
        h.add("10.1.0.2", 3);
        h.add("10.1.0.3", 2);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assert_eq!(
            h.picks(20),
            [
                r3, r2, r1, // cw 1 (left over from the first add)
                r1, // cw 4
                r2, r1, // cw 3
                r3, r2, r1, // cw 2
                r3, r2, r1, // cw 1
                r1, r2, r1, r3, r2, r1, r3, r2, // next cycle
            ]
        );
    }

    /// The reference's example: bound to an existing list (A=4, B=3, C=2, list A B C), the
    /// cycle starts at cw = mw. Confirmed on 6.12.95: `-A … -s rr`, add .3 w2, .2 w3, .1 w4
    /// (list .1 .2 .3), `ipvsadm -E -t 10.0.0.1:80 -s wrr`, 13 connections:
    /// `rs1 rs1 rs2 rs1 rs2 rs3 rs1 rs2 rs3 rs1 rs1 rs2 rs1`.
    #[test]
    fn bound_to_existing_list_starts_at_mw() {
        let mut h = Harness::new(Box::new(super::super::Rr::new()));
        h.add("10.1.0.3", 2);
        h.add("10.1.0.2", 3);
        h.add("10.1.0.1", 4);
        let mut w = Wrr::new();
        w.init_service(&DestList::new(&h.order, &h.slab), &h.svc)
            .unwrap();
        h.sched = Box::new(w);
        let (a, b, c) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assert_eq!(h.picks(13), [a, a, b, a, b, c, a, b, c, a, a, b, a]);
    }

    /// Confirmed on 6.12.95 (same setup, then `ipvsadm -e … -r 10.0.1.2:80 -m -w 1` after 5
    /// connections): `rs3 rs2 rs1 rs1 rs2 | rs1 rs3 rs1 rs3 rs2 rs1 rs1 rs1 rs3 rs1 rs3 rs2`.
    #[test]
    fn edit_mid_stream_restarts_at_head() {
        let mut h = wrr();
        h.add("10.1.0.1", 4);
        let b = h.add("10.1.0.2", 3);
        h.add("10.1.0.3", 2);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assert_eq!(h.picks(5), [r3, r2, r1, r1, r2]);
        // cw = 3 now; edit: di 1, mw 4, cw stays 3, cl back to the head.
        h.set_weight(b, 1);
        assert_eq!(
            h.picks(12),
            [r1, r3, r1, r3, r2, r1, r1, r1, r3, r1, r3, r2]
        );
    }

    /// Confirmed on 6.12.95 (`ipvsadm -d … -r 10.0.1.2:80` after 5 connections):
    /// `rs3 rs2 rs1 rs1 rs2 | rs1 rs3 rs1 rs1 rs3 rs1 rs1 rs3 rs1 rs1`.
    #[test]
    fn delete_mid_stream() {
        let mut h = wrr();
        h.add("10.1.0.1", 4);
        let b = h.add("10.1.0.2", 3);
        h.add("10.1.0.3", 2);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        assert_eq!(h.picks(5), [r3, r2, r1, r1, r2]);
        h.del(b);
        // list .3(2) .1(4), cw 3 from the head: .1 ; cw 2: .3 .1 ; cw 1: .3 .1 ; cw 4: .1 ...
        assert_eq!(h.picks(10), [r1, r3, r1, r1, r3, r1, r1, r3, r1, r1]);
    }

    /// Confirmed on 6.12.95 (`ipvsadm -a … -r 10.0.1.4:80 -m -w 5` after 4 connections):
    /// `rs3 rs2 rs1 rs1 | rs4 rs1 rs4 rs2 rs1 rs4 rs3 rs2 rs1 rs4 rs3 rs2 rs1 rs4`.
    #[test]
    fn add_mid_stream() {
        let mut h = wrr();
        h.add("10.1.0.1", 4);
        h.add("10.1.0.2", 3);
        h.add("10.1.0.3", 2);
        let (r1, r2, r3, r4) = ("10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4");
        assert_eq!(h.picks(4), [r3, r2, r1, r1]);
        // cw 4, mw becomes 5 (cw kept), cl to the head; list .4 .3 .2 .1
        h.add(r4, 5);
        assert_eq!(
            h.picks(14),
            [r4, r1, r4, r2, r1, r4, r3, r2, r1, r4, r3, r2, r1, r4]
        );
    }

    /// gcd 2: di = 2, mw = 6 - 1 = 5, passes at cw 5, 3, 1. Confirmed on 6.12.95 (weights
    /// 6, 4, 2 added in that order, 14 connections):
    /// `rs3 rs2 rs1 rs1 rs2 rs1 rs3 rs2 rs1 rs1 rs2 rs1 rs3 rs2`.
    #[test]
    fn common_divisor_steps() {
        let mut h = wrr();
        h.add("10.1.0.1", 6);
        h.add("10.1.0.2", 4);
        h.add("10.1.0.3", 2);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        // First add: di 6, mw 1, cw 1; second: di 2, mw 5, cw = (1/2)*2+1 = 1; third same.
        assert_eq!(
            h.picks(14),
            [r3, r2, r1, r1, r2, r1, r3, r2, r1, r1, r2, r1, r3, r2]
        );
    }

    /// Confirmed on 6.12.95 (weights 6, 4, 2 added in that order, then
    /// `ipvsadm -e … -r 10.0.1.3:80 -m -w 4` after 3 connections):
    /// `rs3 rs2 rs1 | rs3 rs2 rs1 rs1 rs3 rs2 rs1 rs3 rs2 rs1`; and (same start, `-e` of
    /// 10.0.1.1 to weight 2 after 5 connections)
    /// `rs3 rs2 rs1 rs1 rs2 | rs2 rs3 rs2 rs1 rs2 rs3 rs2 rs1 rs2 rs3`.
    #[test]
    fn edit_with_common_divisor() {
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        let mut h = wrr();
        h.add(r1, 6);
        h.add(r2, 4);
        let c = h.add(r3, 2);
        assert_eq!(h.picks(3), [r3, r2, r1]);
        // cw is still 1 (it wraps only at the next pick); di 2, (1 / 2) * 2 + 1 = 1.
        h.set_weight(c, 4);
        assert_eq!(h.picks(10), [r3, r2, r1, r1, r3, r2, r1, r3, r2, r1]);

        let mut h = wrr();
        let a = h.add(r1, 6);
        h.add(r2, 4);
        h.add(r3, 2);
        assert_eq!(h.picks(5), [r3, r2, r1, r1, r2]);
        // cw 3; weights 2 4 2: di 2, mw 3, cw (3 / 2) * 2 + 1 = 3.
        h.set_weight(a, 2);
        assert_eq!(h.picks(10), [r2, r3, r2, r1, r2, r3, r2, r1, r2, r3]);
    }

    /// An edit that makes di > 1 rounds cw up to `(cw / di) * di + 1` (4 -> 5 here).
    /// Confirmed on 6.12.95 (.1 w6 then .2 w5, 6 connections, `-e … -r .2 -m -w 4`, 8 more):
    /// `rs2 rs1 rs1 rs2 rs1 rs2 | rs1 rs2 rs1 rs2 rs1 rs1 rs2 rs1`.
    #[test]
    fn edit_rounds_cw_to_the_new_step() {
        let (r1, r2) = ("10.1.0.1", "10.1.0.2");
        let mut h = wrr();
        h.add(r1, 6);
        let b = h.add(r2, 5);
        // cw 1: .2 .1 ; cw 6: .1 ; cw 5: .2 .1 ; cw 4: .2 (cl = .2, cw 4)
        assert_eq!(h.picks(6), [r2, r1, r1, r2, r1, r2]);
        h.set_weight(b, 4);
        // di 2, mw 5, cw 5: .1 ; cw 3: .2 .1 ; cw 1: .2 .1 ; cw 5: .1 ; cw 3: .2
        assert_eq!(h.picks(8), [r1, r2, r1, r2, r1, r1, r2, r1]);
    }

    /// A quiesced server is never picked, even at the start (cw is never 0 while mw > 0).
    /// Confirmed on 6.12.95 (weights 3, 0, 1 added in that order):
    /// `rs3 rs1 rs1 rs1 rs3 rs1 rs1 rs1`.
    #[test]
    fn weight_zero_is_skipped() {
        let mut h = wrr();
        h.add("10.1.0.1", 3);
        let b = h.add("10.1.0.2", 0);
        h.add("10.1.0.3", 1);
        let (r1, r3) = ("10.1.0.1", "10.1.0.3");
        // adds: (3) di 3 mw 1 cw 1; (0) same; (1) di 1 mw 3 cw 1.
        assert_eq!(h.picks(8), [r3, r1, r1, r1, r3, r1, r1, r1]);
        // cl .1, cw 2. A (no-op) edit moves cl back to the head; cw 2 is kept.
        h.set_weight(b, 0);
        assert_eq!(h.picks(3), [r1, r3, r1]);
    }

    /// Confirmed on 6.12.95: one server w1, 2 connections, `-e -w 0`, 2 connections (no
    /// destination: the SYNs create no entry), `-e -w 1`, 2 connections.
    #[test]
    fn single_server_quiesced_and_back() {
        let mut h = wrr();
        let a = h.add("10.1.0.1", 1);
        assert_eq!(h.picks(2), ["10.1.0.1", "10.1.0.1"]);
        h.set_weight(a, 0);
        assert_eq!(h.picks(2), ["-", "-"]);
        h.set_weight(a, 1);
        assert_eq!(h.picks(2), ["10.1.0.1", "10.1.0.1"]);
    }

    /// A service created empty has cw = 0; the first add must lift it to mw (the `cw == 0`
    /// case), or the first pass would accept weight 0. Confirmed on 6.12.95 (.1 w1 then .2
    /// w0, 3 connections): `rs1 rs1 rs1`.
    #[test]
    fn first_add_lifts_cw_from_zero() {
        let mut h = wrr();
        h.add("10.1.0.1", 1);
        h.add("10.1.0.2", 0);
        assert_eq!(h.picks(3), ["10.1.0.1", "10.1.0.1", "10.1.0.1"]);
    }

    #[test]
    fn empty_and_all_zero() {
        let mut h = wrr();
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 0);
        h.add("10.1.0.2", 0);
        assert_eq!(h.picks(3), ["-", "-", "-"]);
        h.del(a);
        assert_eq!(h.pick(), None);
    }

    #[test]
    fn overloaded_is_skipped_and_all_overloaded_fails() {
        let mut h = wrr();
        let a = h.add("10.1.0.1", 4);
        let b = h.add("10.1.0.2", 1);
        let (r1, r2) = ("10.1.0.1", "10.1.0.2");
        assert_eq!(h.picks(6), [r2, r1, r1, r1, r1, r2]);
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.picks(3), [r2, r2, r2]);
        h.slab.get_mut(b).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.picks(2), ["-", "-"]);
        h.slab.get_mut(a).flags.0 &= !DestFlags::OVERLOAD;
        assert_eq!(h.picks(2), [r1, r1]);
    }

    /// OVERLOAD set by an upper threshold as connections arrive. Confirmed on 6.12.95:
    /// `-a … -r .1 -m -w 4 -x 3`, then .2 w1; 8 connections:
    /// `rs2 rs1 rs1 rs1 rs2 rs2 rs2 rs2` (.1 is overloaded once it has 3 connections).
    #[test]
    fn upper_threshold_overload() {
        let mut h = wrr();
        let a = h.add("10.1.0.1", 4);
        h.add("10.1.0.2", 1);
        let mut got = Vec::new();
        for _ in 0..8 {
            let id = h.pick_and_connect(true).expect("a destination");
            got.push(h.name(id));
            let d = h.slab.get_mut(a);
            if d.conns() >= 3 {
                d.flags.0 |= DestFlags::OVERLOAD;
            }
        }
        let (r1, r2) = ("10.1.0.1", "10.1.0.2");
        assert_eq!(got, [r2, r1, r1, r1, r2, r2, r2, r2]);
    }

    /// When the scan started mid-list, the final weight >= 1 pass stops at the start point:
    /// `cl` is left on it, so the next call starts after it.
    #[test]
    fn failed_scan_stops_at_last() {
        let mut h = wrr();
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 1);
        let c = h.add("10.1.0.3", 1);
        // list .3 .2 .1, all weight 1: plain rotation
        assert_eq!(h.picks(2), ["10.1.0.3", "10.1.0.2"]);
        for id in [a, b, c] {
            h.slab.get_mut(id).flags.0 |= DestFlags::OVERLOAD;
        }
        assert_eq!(h.pick(), None);
        // cl was left on .2 (the stop): the next pick continues with .1.
        h.slab.get_mut(c).flags.0 &= !DestFlags::OVERLOAD;
        h.slab.get_mut(a).flags.0 &= !DestFlags::OVERLOAD;
        assert_eq!(h.picks(3), ["10.1.0.1", "10.1.0.3", "10.1.0.1"]);
    }

    /// A failed scan that wrapped after its last pass (cw <= di) without having restarted
    /// gives up at the wrap and leaves cl at the head with cw = mw. The first 5 picks were
    /// confirmed on 6.12.95 (.1 w1, .2 w2, .3 w2 added in that order): `rs3 rs2 rs1 rs3 rs2`.
    #[test]
    fn failed_scan_after_last_pass_resets_to_head() {
        let mut h = wrr();
        let c = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 2);
        let a = h.add("10.1.0.3", 2);
        let (r1, r2, r3) = ("10.1.0.1", "10.1.0.2", "10.1.0.3");
        // cw 1: .3 .2 .1 ; cw 2: .3 .2 (cl = .2, cw 2)
        assert_eq!(h.picks(5), [r3, r2, r1, r3, r2]);
        for id in [a, b, c] {
            h.slab.get_mut(id).flags.0 |= DestFlags::OVERLOAD;
        }
        assert_eq!(h.pick(), None);
        for id in [a, b, c] {
            h.slab.get_mut(id).flags.0 &= !DestFlags::OVERLOAD;
        }
        // From the head at cw 2 (had it stopped at .2 with cw 1, .1 would come next).
        assert_eq!(h.picks(4), [r3, r2, r3, r2]);
    }

    /// Huge weights: no overflow, and a run of hopeless passes is skipped quickly (without
    /// the fast-forward this test walks about 2^31 passes: minutes in a debug build).
    #[test]
    fn extreme_weights() {
        let mut h = wrr();
        let a = h.add("10.1.0.1", i32::MAX);
        let b = h.add("10.1.0.2", 1);
        let (r1, r2) = ("10.1.0.1", "10.1.0.2");
        // cw 1 left from the first add (di = MAX, mw = 1): .2 .1, then cw = MAX: .1, .1 ...
        assert_eq!(h.picks(4), [r2, r1, r1, r1]);
        h.slab.get_mut(a).flags.0 |= DestFlags::OVERLOAD;
        // only .2 (weight 1) is usable: cw counts down to 1 (skipped in one step).
        assert_eq!(h.picks(2), [r2, r2]);
        h.slab.get_mut(b).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(h.picks(2), ["-", "-"]);
        h.set_weight(a, i32::MAX - 1);
        h.set_weight(b, i32::MAX);
        h.slab.get_mut(a).flags.0 &= !DestFlags::OVERLOAD;
        h.slab.get_mut(b).flags.0 &= !DestFlags::OVERLOAD;
        // cl at the head, cw 1 (kept): .2 .1, then cw MAX: .2, cw MAX - 1: .2 .1
        assert_eq!(h.picks(5), [r2, r1, r2, r2, r1]);
    }
}
