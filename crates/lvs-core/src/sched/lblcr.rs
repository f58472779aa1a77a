//! Locality-based least-connection with replication (`ip_vs_lblcr.c`).
//!
//! Like lblc, but each destination address maps to a *set* of real servers (newest member
//! first) with a `lastmod` time. A packet goes to the set's weighted-least-connection
//! member among those still in the service with weight > 0 and no OVERLOAD flag
//! (`set_min`). If there is none, or it is overloaded in lblc's sense (more active
//! connections than its weight while some server has fewer than half its weight), a
//! weighted-least-connection pick over the whole service is made and added to the set.
//! When a set has more than one member and was not modified for `lblcr_expiration`, its
//! most loaded member (`set_max`) is dropped. Whole entries expire as in lblc (same
//! periodic check, driven by the `now` passed to [`Scheduler::on_timer`]).

use std::net::IpAddr;

use super::lblc::{Cache, DestRef, is_overloaded};
use super::{DestList, PacketInfo, SchedParams, SchedService, Scheduler, weighted_least};
use crate::dest::{Dest, DestId};
use crate::error::SchedError;
use crate::time::Time;

/// A destination set (`struct ip_vs_dest_set`).
#[derive(Clone, Debug)]
struct DestSet {
    /// Members, the most recently inserted first.
    members: Vec<DestRef>,
    /// Last insertion or removal.
    lastmod: Time,
}

impl DestSet {
    /// `ip_vs_dest_set_insert(set, dest, check = true)`.
    fn insert(&mut self, r: DestRef, now: Time) {
        if !self.members.contains(&r) {
            self.members.insert(0, r);
            self.lastmod = now;
        }
    }

    /// `ip_vs_dest_set_erase`.
    fn erase(&mut self, r: DestRef, now: Time) {
        if let Some(i) = self.members.iter().position(|&m| m == r) {
            self.members.remove(i);
            self.lastmod = now;
        }
    }

    /// `ip_vs_dest_set_min`: the weighted least-connection member that is still in the
    /// service. The first candidate needs weight > 0; OVERLOAD members are skipped.
    fn min<'a>(&self, dests: &DestList<'a>) -> Option<(DestRef, &'a Dest)> {
        let mut it = self.members.iter();
        let (mut least_ref, mut least) = loop {
            let r = it.next()?;
            // A member whose record is gone is treated like one in the trash.
            let Some(d) = r.record(dests) else { continue };
            if d.is_overloaded() {
                continue;
            }
            if d.weight > 0 && r.available(dests).is_some() {
                break (*r, d);
            }
        };
        let mut loh = i64::from(least.overhead());
        for r in it {
            let Some(d) = r.record(dests) else { continue };
            if d.is_overloaded() {
                continue;
            }
            let doh = i64::from(d.overhead());
            if loh * i64::from(d.weight) > doh * i64::from(least.weight)
                && r.available(dests).is_some()
            {
                least_ref = *r;
                least = d;
                loh = doh;
            }
        }
        Some((least_ref, least))
    }

    /// `ip_vs_dest_set_max`: the weighted most-connection member with weight > 0 (deleted
    /// members included, OVERLOAD ignored).
    fn max(&self, dests: &DestList<'_>) -> Option<DestRef> {
        let mut it = self.members.iter();
        let (mut most_ref, mut most) = loop {
            let r = it.next()?;
            let Some(d) = r.record(dests) else { continue };
            if d.weight > 0 {
                break (*r, d);
            }
        };
        let mut moh = i64::from(most.overhead());
        for r in it {
            let Some(d) = r.record(dests) else { continue };
            let doh = i64::from(d.overhead());
            if moh * i64::from(d.weight) < doh * i64::from(most.weight) && d.weight > 0 {
                most_ref = *r;
                most = d;
                moh = doh;
            }
        }
        Some(most_ref)
    }
}

/// Locality-based least-connection with replication: the destination-address cache of
/// server sets.
#[derive(Debug, Clone)]
pub struct Lblcr {
    cache: Cache<DestSet>,
}

impl Lblcr {
    /// A fresh lblcr scheduler; entries and set members expire after
    /// `params.lblc_expiration` s (`lblcr_expiration`).
    pub fn new(params: &SchedParams) -> Lblcr {
        Lblcr {
            cache: Cache::new(params.lblc_expiration),
        }
    }

    /// Number of cached destination addresses.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// The server set cached for destination address `daddr` (most recent member first),
    /// empty if there is no entry.
    pub fn cached_set(&self, daddr: &IpAddr) -> Vec<DestId> {
        self.cache
            .get(daddr)
            .map(|e| e.val.members.iter().map(|r| r.id).collect())
            .unwrap_or_default()
    }
}

impl Scheduler for Lblcr {
    fn name(&self) -> &'static str {
        "lblcr"
    }

    fn init_service(&mut self, _: &DestList<'_>, _: &SchedService) -> Result<(), SchedError> {
        self.cache.reset();
        Ok(())
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        pkt: &PacketInfo,
        now: Time,
    ) -> Option<DestId> {
        self.cache.arm(now);
        let expiration = self.cache.expiration_ms;
        if let Some(en) = self.cache.get_mut(&pkt.daddr) {
            en.lastuse = now;
            let set = &mut en.val;
            // The least loaded member is chosen before the cleanup below, and is used
            // even if the cleanup removes it (as the kernel does).
            let min = set.min(dests);
            if set.members.len() > 1
                && now > set.lastmod.add_millis(expiration)
                && let Some(m) = set.max(dests)
            {
                set.erase(m, now);
            }
            if let Some((r, d)) = min
                && !is_overloaded(d, dests)
            {
                return Some(r.id);
            }
            let id = weighted_least(dests, Dest::overhead)?;
            set.insert(DestRef::new(dests, id), now);
            return Some(id);
        }
        let id = weighted_least(dests, Dest::overhead)?;
        let set = DestSet {
            members: vec![DestRef::new(dests, id)],
            lastmod: now,
        };
        self.cache.insert(pkt.daddr, set, now);
        Some(id)
    }

    fn on_timer(&mut self, _: &DestList<'_>, now: Time) {
        self.cache.on_timer(now);
    }
}

#[cfg(test)]
mod tests {
    use super::super::lblc::tests::{KERNEL_SEQ, SEQ, connect, fill, harness, pick, run_timer};
    use super::super::lblc::{ENTRY_TIMEOUT_MS, MAX_SIZE};
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;

    fn id_of(h: &Harness, addr: &str) -> DestId {
        let ip: IpAddr = addr.parse().unwrap();
        *h.order
            .iter()
            .find(|&&id| h.slab.get(id).addr == ip)
            .unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Observed on Linux 6.12.95 (Debian 6.12.95+deb12-amd64), ipvsadm 1.31, ipvs-vm
    /// guest, with the commands of lblc's `kernel_observed_sequence` but `-s lblcr`,
    /// fwmark 3 and daddrs 10.0.4.D:
    /// ```text
    /// nft add rule ip t out ip daddr 10.0.4.0/24 meta mark set 3
    /// ipvsadm -A -f 3 -s lblcr
    /// ipvsadm -a -f 3 -r 10.0.1.2:80 -m -w 1
    /// ipvsadm -a -f 3 -r 10.0.1.3:80 -m -w 2
    /// ipvsadm -a -f 3 -r 10.0.1.4:80 -m -w 3
    /// # python3: from 192.168.50.1:7000+n to 10.0.4.D:80 for D in
    /// #   1 2 3 4 5 6 1 2 3 7 8 1 9 10 2 ; then ipvsadm -Lnc
    /// ```
    /// Result: .4 .3 .2 .4 .3 .4 .4 .3 .2 .4 .3 .4 .4 .3 .3 (same as lblc).
    #[test]
    fn kernel_observed_sequence() {
        let mut h = harness();
        let mut s = Lblcr::new(&SchedParams::default());
        let got: Vec<u8> = SEQ
            .iter()
            .map(|d| connect(&mut s, &mut h, &format!("10.0.4.{d}")))
            .collect();
        assert_eq!(got, KERNEL_SEQ);
        assert_eq!(s.cache_len(), 10);
        assert!((1..=10).all(|d| s.cached_set(&ip(&format!("10.0.4.{d}"))).len() == 1));
    }

    #[test]
    fn overload_adds_a_member_and_set_min_balances() {
        let mut h = harness();
        let mut s = Lblcr::new(&SchedParams::default());
        let d4 = id_of(&h, "10.0.1.4");
        let d3 = id_of(&h, "10.0.1.3");
        let d2 = id_of(&h, "10.0.1.2");
        let a = ip("10.0.4.1");
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d4));
        // .4 overloaded (5 > 3 active, .3 has 0*2 < 2): wlc over the service -> .3 (or .2)
        h.slab.get_mut(d4).activeconns = 5;
        h.slab.get_mut(d2).activeconns = 1;
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3));
        assert_eq!(s.cached_set(&a), vec![d3, d4]);
        // now set_min over {.3, .4} picks by overhead/weight: .3 (0/2) < .4 (5*256/3)
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3));
        // .3 gets busier than .4 relative to weight: set_min moves to .4
        // (.3: 6*256/2 = 768 per weight unit, .4: 3*256/3 = 256), which is not
        // overloaded (3 active > weight 3 is false), so it is used
        h.slab.get_mut(d3).activeconns = 6;
        h.slab.get_mut(d4).activeconns = 3;
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d4));
        assert_eq!(s.cached_set(&a), vec![d3, d4]);
    }

    #[test]
    fn set_min_skips_overload_flag_deleted_and_quiesced() {
        let mut h = harness();
        let mut s = Lblcr::new(&SchedParams::default());
        let d4 = id_of(&h, "10.0.1.4");
        let d3 = id_of(&h, "10.0.1.3");
        let d2 = id_of(&h, "10.0.1.2");
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d4));
        // OVERLOAD flag on the only member: no set_min -> wlc (skips .4) -> .3 added
        h.slab.get_mut(d4).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3));
        assert_eq!(s.cached_set(&ip("10.0.4.1")), vec![d3, d4]);
        h.slab.get_mut(d4).flags.0 &= !DestFlags::OVERLOAD;
        // both usable, equal load: the first member (.3) wins ties
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3));
        // .3 quiesced: .4
        h.set_weight(d3, 0);
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d4));
        // .4 deleted: set has nothing usable -> wlc -> .2 added
        h.del(d4);
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d2));
        assert_eq!(s.cached_set(&ip("10.0.4.1")), vec![d2, d3, d4]);
    }

    #[test]
    fn old_sets_shed_their_most_loaded_member() {
        let mut h = harness();
        let params = SchedParams {
            lblc_expiration: 100,
            ..SchedParams::default()
        };
        let mut s = Lblcr::new(&params);
        let d4 = id_of(&h, "10.0.1.4");
        let d3 = id_of(&h, "10.0.1.3");
        let a = ip("10.0.4.1");
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d4));
        h.slab.get_mut(d4).activeconns = 5;
        h.now = Time::from_secs(10);
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3)); // lastmod = 10 s
        assert_eq!(s.cached_set(&a), vec![d3, d4]);
        // not yet: now must be strictly after lastmod + 100 s
        h.now = Time::from_secs(110);
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3));
        assert_eq!(s.cached_set(&a), vec![d3, d4]);
        h.now = Time::from_millis(110_001);
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3));
        // .4 (5*256/3) is the most loaded: removed
        assert_eq!(s.cached_set(&a), vec![d3]);
        // a single member is never removed
        h.now = Time::from_secs(1000);
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3));
        assert_eq!(s.cached_set(&a), vec![d3]);
    }

    #[test]
    fn removed_min_is_still_returned_once() {
        let mut h = harness();
        let params = SchedParams {
            lblc_expiration: 100,
            ..SchedParams::default()
        };
        let mut s = Lblcr::new(&params);
        let d4 = id_of(&h, "10.0.1.4");
        let d3 = id_of(&h, "10.0.1.3");
        let d2 = id_of(&h, "10.0.1.2");
        let a = ip("10.0.4.1");
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d4));
        h.slab.get_mut(d4).activeconns = 5;
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3)); // set {.3, .4}
        // .4 deleted and idle; .3 busy but not overloaded (2 active, weight 2)
        h.slab.get_mut(d4).activeconns = 0;
        h.del(d4);
        h.slab.get_mut(d3).activeconns = 2;
        h.now = Time::from_secs(200);
        // set_min = .3 (the only available member); set_max = .3 too (2*256 per 2
        // against .4's 0): .3 is erased from the set, yet returned
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), Some(d3));
        assert_eq!(s.cached_set(&a), vec![d4]);
        // next time the set has nothing usable: wlc over the service, added
        let got = pick(&mut s, &h, "10.0.4.1");
        assert_eq!(got, Some(d2));
        assert_eq!(s.cached_set(&a), vec![d2, d4]);
    }

    #[test]
    fn no_destination_keeps_entry() {
        let mut h = harness();
        let mut s = Lblcr::new(&SchedParams::default());
        let ids = h.order.clone();
        assert!(pick(&mut s, &h, "10.0.4.1").is_some());
        for id in ids {
            h.set_weight(id, 0);
        }
        assert_eq!(pick(&mut s, &h, "10.0.4.1"), None);
        assert_eq!(pick(&mut s, &h, "10.0.4.2"), None);
        assert_eq!(s.cache_len(), 1);
        let empty = Harness::new(Box::new(super::super::Rr::new()));
        assert_eq!(pick(&mut s, &empty, "10.0.4.3"), None);
    }

    #[test]
    fn entries_expire_like_lblc() {
        let mut h = harness();
        let params = SchedParams {
            lblc_expiration: 600,
            ..SchedParams::default()
        };
        let mut s = Lblcr::new(&params);
        assert!(pick(&mut s, &h, "10.0.4.1").is_some());
        h.now = Time::from_secs(1300);
        assert!(pick(&mut s, &h, "10.0.4.2").is_some());
        run_timer(&mut s, &h, 0, 1799);
        assert_eq!(s.cache_len(), 2);
        run_timer(&mut s, &h, 1800, 1800);
        assert_eq!(s.cache_len(), 1);
        assert!(s.cached_set(&ip("10.0.4.1")).is_empty());
    }

    #[test]
    fn oversized_cache_collects_idle_entries() {
        let h = harness();
        let mut s = Lblcr::new(&SchedParams::default());
        fill(&mut s, &h, 100);
        assert_eq!(s.cache_len(), MAX_SIZE + 100);
        run_timer(&mut s, &h, 1, ENTRY_TIMEOUT_MS / 1000 - 1);
        assert_eq!(s.cache_len(), MAX_SIZE + 100);
        // goal = 100*4/3 = 133 entries, swept whole buckets at a time (~16 each)
        run_timer(&mut s, &h, ENTRY_TIMEOUT_MS / 1000, ENTRY_TIMEOUT_MS / 1000);
        let gone = MAX_SIZE + 100 - s.cache_len();
        assert!((133..133 + 64).contains(&gone), "{gone}");
    }
}
