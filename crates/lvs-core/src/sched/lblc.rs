//! Locality-based least-connection (`ip_vs_lblc.c`).
//!
//! The scheduler remembers, per packet *destination* address, the real server it chose
//! last (a 1024-bucket cache keyed by `hash_32(fold(daddr), 10)`, each entry with a
//! `lastuse` time). A cached server is reused while it is still in the service, has a
//! positive weight and is not "overloaded" in lblc's own sense (more active connections than its
//! weight while some server has fewer than half its weight; the OVERLOAD flag is *not*
//! looked at here). Otherwise a weighted-least-connection pick over the service replaces
//! the entry. A periodic check (every 60 s of the `now` passed to [`Scheduler::on_timer`])
//! removes entries unused for `lblc_expiration` on every 30th run, and, when the cache
//! holds more than 16384 entries, entries unused for 6 minutes until enough are gone.
//!
//! The cache machinery ([`Cache`], [`DestRef`], [`is_overloaded`]) is shared with lblcr.

use std::net::IpAddr;

use super::{DestList, PacketInfo, SchedParams, SchedService, Scheduler, hash_32, weighted_least};
use crate::dest::{Dest, DestId};
use crate::error::SchedError;
use crate::time::Time;
use crate::types::fold_addr;

/// `CONFIG_IP_VS_LBLC_TAB_BITS` (and lblcr's).
const TAB_BITS: u32 = 10;
/// Number of cache buckets.
const TAB_SIZE: usize = 1 << TAB_BITS;
/// `CHECK_EXPIRE_INTERVAL`: the period of the expiry timer, ms.
pub(super) const CHECK_EXPIRE_INTERVAL_MS: u64 = 60 * 1000;
/// `ENTRY_TIMEOUT`: idle time after which an oversized cache may drop an entry, ms.
pub(super) const ENTRY_TIMEOUT_MS: u64 = 6 * 60 * 1000;
/// `COUNT_FOR_FULL_EXPIRATION`: every this many timer runs, a full expiration pass.
pub(super) const COUNT_FOR_FULL_EXPIRATION: u32 = 30;
/// `max_size`: above this many entries the timer collects idle entries.
pub(super) const MAX_SIZE: usize = TAB_SIZE * 16;

/// A destination remembered by a cache entry: its handle plus its identity, so that a
/// handle reused for another real server is not mistaken for the remembered one.
///
/// (The kernel holds a reference that keeps the `ip_vs_dest` alive in the trash; here the
/// owner may recycle the handle once the destination leaves its service, and the identity
/// check turns such a stale handle into "not available".)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DestRef {
    pub id: DestId,
    addr: IpAddr,
    port: u16,
}

impl DestRef {
    /// Remember `id`, which must be stored in `dests`.
    pub fn new(dests: &DestList<'_>, id: DestId) -> DestRef {
        let d = dests.get(id);
        DestRef {
            id,
            addr: d.addr,
            port: d.port,
        }
    }

    /// The record, if the handle still holds the same real server (possibly deleted,
    /// like a kernel destination in the trash).
    pub fn record<'a>(&self, dests: &DestList<'a>) -> Option<&'a Dest> {
        dests
            .try_get(self.id)
            .filter(|d| d.addr == self.addr && d.port == self.port)
    }

    /// The record if the destination is still in this service (`IP_VS_DEST_F_AVAILABLE`).
    pub fn available<'a>(&self, dests: &DestList<'a>) -> Option<&'a Dest> {
        self.record(dests)
            .filter(|d| d.is_available() && dests.ids().contains(&self.id))
    }
}

/// lblc/lblcr's `is_overloaded`: `d` has more active connections than its weight and some
/// destination of the service has fewer than half of its own weight.
pub(super) fn is_overloaded(d: &Dest, dests: &DestList<'_>) -> bool {
    i64::from(d.activeconns) > i64::from(d.weight)
        && dests
            .iter()
            .any(|(_, m)| i64::from(m.activeconns) * 2 < i64::from(m.weight))
}

/// One cache entry: a destination address and what is remembered for it.
#[derive(Clone, Debug)]
pub(super) struct Entry<V> {
    pub addr: IpAddr,
    pub lastuse: Time,
    pub val: V,
}

/// The lblc/lblcr hash table with its expiry timer state (`struct ip_vs_lblc_table`).
#[derive(Clone, Debug)]
pub(super) struct Cache<V> {
    buckets: Vec<Vec<Entry<V>>>,
    entries: usize,
    rover: usize,
    counter: u32,
    /// When the periodic check runs next (`None` until a first `now` is seen).
    next_check: Option<Time>,
    /// `lblc_expiration` / `lblcr_expiration`, ms.
    pub expiration_ms: u64,
}

impl<V> Cache<V> {
    /// An empty cache whose full expiration drops entries idle for `expiration_s`.
    pub fn new(expiration_s: u32) -> Cache<V> {
        Cache {
            buckets: (0..TAB_SIZE).map(|_| Vec::new()).collect(),
            entries: 0,
            rover: 0,
            counter: 1,
            next_check: None,
            expiration_ms: u64::from(expiration_s) * 1000,
        }
    }

    /// Forget everything (a new binding to a service).
    pub fn reset(&mut self) {
        *self = Cache::new(0).with_expiration(self.expiration_ms);
    }

    fn with_expiration(mut self, ms: u64) -> Cache<V> {
        self.expiration_ms = ms;
        self
    }

    /// `ip_vs_lblc_hashkey`.
    fn key(addr: &IpAddr) -> usize {
        hash_32(fold_addr(addr), TAB_BITS) as usize
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// The entry for `addr`.
    pub fn get(&self, addr: &IpAddr) -> Option<&Entry<V>> {
        self.buckets[Cache::<V>::key(addr)]
            .iter()
            .find(|e| e.addr == *addr)
    }

    /// The entry for `addr`, mutably.
    pub fn get_mut(&mut self, addr: &IpAddr) -> Option<&mut Entry<V>> {
        self.buckets[Cache::<V>::key(addr)]
            .iter_mut()
            .find(|e| e.addr == *addr)
    }

    /// Add an entry for `addr` (which has none), used at `now`.
    pub fn insert(&mut self, addr: IpAddr, val: V, now: Time) {
        self.buckets[Cache::<V>::key(&addr)].push(Entry {
            addr,
            lastuse: now,
            val,
        });
        self.entries += 1;
    }

    /// The kernel arms the timer when the service is bound; we arm it at the first time
    /// we are told (a schedule or a timer call), since binding carries no time.
    pub fn arm(&mut self, now: Time) {
        if self.next_check.is_none() {
            self.next_check = Some(now.add_millis(CHECK_EXPIRE_INTERVAL_MS));
        }
    }

    /// Run the periodic check if it is due (`ip_vs_lblc_check_expire`), then re-arm it
    /// one interval later.
    pub fn on_timer(&mut self, now: Time) {
        self.arm(now);
        if self.next_check.is_some_and(|t| now >= t) {
            self.check_expire(now);
            self.next_check = Some(now.add_millis(CHECK_EXPIRE_INTERVAL_MS));
        }
    }

    /// Drop the entries of bucket `j` idle for at least `idle_ms`; returns how many.
    fn sweep_bucket(&mut self, j: usize, now: Time, idle_ms: u64) -> usize {
        let b = &mut self.buckets[j];
        let before = b.len();
        b.retain(|e| now < e.lastuse.add_millis(idle_ms));
        let dropped = before - b.len();
        self.entries -= dropped;
        dropped
    }

    /// `ip_vs_lblc_check_expire`.
    fn check_expire(&mut self, now: Time) {
        if self.counter.is_multiple_of(COUNT_FOR_FULL_EXPIRATION) {
            // ip_vs_lblc_full_check: every bucket, starting after the rover (which
            // ends where it started).
            let exp = self.expiration_ms;
            let mut j = self.rover;
            for _ in 0..TAB_SIZE {
                j = (j + 1) % TAB_SIZE;
                self.sweep_bucket(j, now, exp);
            }
            self.rover = j;
            self.counter = 1;
            return;
        }
        if self.entries <= MAX_SIZE {
            self.counter += 1;
            return;
        }
        let mut goal = ((self.entries - MAX_SIZE) * 4 / 3).min(MAX_SIZE / 2) as i64;
        let mut j = self.rover;
        for _ in 0..TAB_SIZE {
            j = (j + 1) % TAB_SIZE;
            goal -= self.sweep_bucket(j, now, ENTRY_TIMEOUT_MS) as i64;
            if goal <= 0 {
                break;
            }
        }
        self.rover = j;
    }
}

/// Locality-based least-connection state: the destination-address cache.
#[derive(Debug, Clone)]
pub struct Lblc {
    cache: Cache<DestRef>,
}

impl Lblc {
    /// A fresh lblc scheduler; cache entries expire after `params.lblc_expiration` s.
    pub fn new(params: &SchedParams) -> Lblc {
        Lblc {
            cache: Cache::new(params.lblc_expiration),
        }
    }

    /// Number of cached destination addresses.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// The real server cached for destination address `daddr`, if any.
    pub fn cached(&self, daddr: &IpAddr) -> Option<DestId> {
        self.cache.get(daddr).map(|e| e.val.id)
    }
}

impl Scheduler for Lblc {
    fn name(&self) -> &'static str {
        "lblc"
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
        if let Some(en) = self.cache.get_mut(&pkt.daddr) {
            en.lastuse = now;
            if let Some(d) = en.val.available(dests)
                && d.weight > 0
                && !is_overloaded(d, dests)
            {
                return Some(en.val.id);
            }
        }
        let id = weighted_least(dests, Dest::overhead)?;
        let r = DestRef::new(dests, id);
        // ip_vs_lblc_new: a different destination replaces the entry (a fresh entry in
        // the kernel, i.e. lastuse = now, which it already is).
        match self.cache.get_mut(&pkt.daddr) {
            Some(en) => {
                if en.val != r {
                    en.val = r;
                    en.lastuse = now;
                }
            }
            None => self.cache.insert(pkt.daddr, r, now),
        }
        Some(id)
    }

    fn on_timer(&mut self, _: &DestList<'_>, now: Time) {
        self.cache.on_timer(now);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;
    use crate::types::Protocol;

    /// A packet from 192.168.50.1 to `daddr`:80.
    pub(crate) fn pkt(daddr: &str) -> PacketInfo {
        PacketInfo::new(
            Protocol::Udp,
            "192.168.50.1".parse().unwrap(),
            7000,
            daddr.parse().unwrap(),
            80,
        )
    }

    /// Schedule with `s` over the harness's list (the harness's own scheduler is unused).
    pub(crate) fn pick(s: &mut dyn Scheduler, h: &Harness, daddr: &str) -> Option<DestId> {
        s.schedule(
            &DestList::new(&h.order, &h.slab),
            &h.svc,
            &pkt(daddr),
            h.now,
        )
    }

    /// Pick and account a new UDP connection (inactive) on the result, as IPVS does.
    pub(crate) fn connect(s: &mut dyn Scheduler, h: &mut Harness, daddr: &str) -> u8 {
        match pick(s, h, daddr) {
            Some(id) => {
                h.slab.get_mut(id).inactconns += 1;
                match h.slab.get(id).addr {
                    IpAddr::V4(a) => a.octets()[3],
                    IpAddr::V6(_) => 255,
                }
            }
            None => 0,
        }
    }

    /// The guest sequence of destination addresses (last octet, 10.0.N.x).
    pub(crate) const SEQ: [u8; 15] = [1, 2, 3, 4, 5, 6, 1, 2, 3, 7, 8, 1, 9, 10, 2];
    /// What the kernel chose for [`SEQ`], lblc and lblcr alike (last octet of 10.0.1.x).
    pub(crate) const KERNEL_SEQ: [u8; 15] = [4, 3, 2, 4, 3, 4, 4, 3, 2, 4, 3, 4, 4, 3, 3];

    /// Real servers 10.0.1.2 w1, .3 w2, .4 w3 added in that order (list .4, .3, .2).
    pub(crate) fn harness() -> Harness {
        let mut h = Harness::new(Box::new(super::super::Rr::new()));
        h.add("10.0.1.2", 1);
        h.add("10.0.1.3", 2);
        h.add("10.0.1.4", 3);
        h
    }

    fn id_of(h: &Harness, addr: &str) -> DestId {
        let ip: IpAddr = addr.parse().unwrap();
        *h.order
            .iter()
            .find(|&&id| h.slab.get(id).addr == ip)
            .unwrap()
    }

    /// Observed on Linux 6.12.95 (Debian 6.12.95+deb12-amd64), ipvsadm 1.31, ipvs-vm
    /// guest. A local client sends one UDP datagram per line, each from a new source port
    /// (so each is a new connection, counted as inactive), through a firewall-mark service:
    /// ```text
    /// ip link add dum0 type dummy; ip link set dum0 up
    /// ip addr add 192.168.50.1/32 dev dum0; ip route add 10.0.0.0/16 dev dum0
    /// nft add table ip t
    /// nft add chain ip t out '{ type route hook output priority mangle; }'
    /// nft add rule ip t out ip daddr 10.0.3.0/24 meta mark set 2
    /// ipvsadm -A -f 2 -s lblc
    /// ipvsadm -a -f 2 -r 10.0.1.2:80 -m -w 1
    /// ipvsadm -a -f 2 -r 10.0.1.3:80 -m -w 2
    /// ipvsadm -a -f 2 -r 10.0.1.4:80 -m -w 3
    /// # python3: from 192.168.50.1:7000+n to 10.0.3.D:80 for D in
    /// #   1 2 3 4 5 6 1 2 3 7 8 1 9 10 2 ; then ipvsadm -Lnc
    /// ```
    /// Result (sport order): .4 .3 .2 .4 .3 .4 .4 .3 .2 .4 .3 .4 .4 .3 .3 — the
    /// repeated addresses stay on their first server (cache hits; the load only counts
    /// inactive connections, which lblc's overload test ignores), new ones follow wlc.
    #[test]
    fn kernel_observed_sequence() {
        let mut h = harness();
        let mut s = Lblc::new(&SchedParams::default());
        let got: Vec<u8> = SEQ
            .iter()
            .map(|d| connect(&mut s, &mut h, &format!("10.0.3.{d}")))
            .collect();
        assert_eq!(got, KERNEL_SEQ);
        assert_eq!(s.cache_len(), 10);
    }

    #[test]
    fn overload_heuristic_moves_the_entry() {
        let mut h = harness();
        let mut s = Lblc::new(&SchedParams::default());
        let d4 = id_of(&h, "10.0.1.4");
        let d3 = id_of(&h, "10.0.1.3");
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d4));
        // 4 active > weight 3, but nobody has active*2 < weight: stays
        for id in h.order.clone() {
            h.slab.get_mut(id).activeconns = 4;
        }
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d4));
        // .3 drops to 0 active (0*2 < 2): .4 is overloaded -> wlc pick = .3
        h.slab.get_mut(d3).activeconns = 0;
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d3));
        assert_eq!(s.cached(&"10.0.3.1".parse().unwrap()), Some(d3));
        // active == weight is not overloaded
        h.slab.get_mut(d3).activeconns = 2;
        h.slab.get_mut(d4).activeconns = 0;
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d3));
        h.slab.get_mut(d3).activeconns = 3;
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d4));
    }

    /// One destination address, every pick becoming an active connection: the entry
    /// sticks to a server until it has more active connections than its weight *and*
    /// another server is below half of its weight.
    #[test]
    fn sticky_until_overloaded_with_connection_accounting() {
        let mut h = Harness::new(Box::new(Lblc::new(&SchedParams::default())));
        h.add("10.0.1.2", 1);
        h.add("10.0.1.3", 2);
        h.add("10.0.1.4", 3);
        let got: Vec<String> = (0..12)
            .map(|_| {
                let id = h.pick_and_connect(true).unwrap();
                h.name(id)
            })
            .collect();
        // .4 until 4 > 3 with .3 idle; .3 until 3 > 2 with .2 idle; then .2 forever, as
        // nobody is below half its weight any more.
        let want = [4, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2, 2].map(|o| format!("10.0.1.{o}"));
        assert_eq!(got, want);
    }

    #[test]
    fn overload_flag_is_not_checked_for_cached_entries() {
        let mut h = harness();
        let mut s = Lblc::new(&SchedParams::default());
        let d4 = id_of(&h, "10.0.1.4");
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d4));
        h.slab.get_mut(d4).flags.0 |= DestFlags::OVERLOAD;
        // cache hit still returns it ...
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d4));
        // ... but a new address skips it in the wlc pick
        assert_ne!(pick(&mut s, &h, "10.0.3.2"), Some(d4));
    }

    #[test]
    fn quiesced_or_deleted_cached_dest_is_replaced() {
        let mut h = harness();
        let mut s = Lblc::new(&SchedParams::default());
        let d4 = id_of(&h, "10.0.1.4");
        let d3 = id_of(&h, "10.0.1.3");
        let d2 = id_of(&h, "10.0.1.2");
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d4));
        h.set_weight(d4, 0);
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d3));
        h.set_weight(d4, 3);
        // the entry now says .3 and stays there
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d3));
        h.del(d3);
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d4));
        // a reused handle (same id, other server) is not the cached one
        h.del(d4);
        h.slab.get_mut(d4).addr = "10.9.9.9".parse().unwrap();
        h.slab.get_mut(d4).flags.0 |= DestFlags::AVAILABLE;
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), Some(d2));
        // nothing usable: None, and the entry is kept
        h.set_weight(d2, 0);
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), None);
        assert_eq!(s.cached(&"10.0.3.1".parse().unwrap()), Some(d2));
    }

    #[test]
    fn empty_service() {
        let h = Harness::new(Box::new(super::super::Rr::new()));
        let mut s = Lblc::new(&SchedParams::default());
        assert_eq!(pick(&mut s, &h, "10.0.3.1"), None);
        assert_eq!(s.cache_len(), 0);
    }

    /// Drive the timer once a second from `from` to `to` seconds.
    pub(crate) fn run_timer(s: &mut dyn Scheduler, h: &Harness, from: u64, to: u64) {
        let list = DestList::new(&h.order, &h.slab);
        for t in from..=to {
            s.on_timer(&list, Time::from_secs(t));
        }
    }

    #[test]
    fn full_expiration_on_the_thirtieth_check() {
        let mut h = harness();
        let params = SchedParams {
            lblc_expiration: 600,
            ..SchedParams::default()
        };
        let mut s = Lblc::new(&params);
        // timer armed at t=0 by the first schedule: checks at 60, 120, ..., 1800 s
        assert!(pick(&mut s, &h, "10.0.3.1").is_some());
        h.now = Time::from_secs(1300);
        assert!(pick(&mut s, &h, "10.0.3.2").is_some());
        h.now = Time::from_secs(1200);
        assert!(pick(&mut s, &h, "10.0.3.3").is_some());
        run_timer(&mut s, &h, 0, 1799);
        // 29 checks so far, all partial (table small): nothing dropped
        assert_eq!(s.cache_len(), 3);
        // 30th check at 1800 s: full pass drops entries with now >= lastuse + 600:
        // .1 (lastuse 0) and .3 (lastuse 1200, exactly due); .2 (lastuse 1300) stays
        run_timer(&mut s, &h, 1800, 1800);
        assert_eq!(s.cache_len(), 1);
        assert!(s.cached(&"10.0.3.1".parse().unwrap()).is_none());
        assert!(s.cached(&"10.0.3.2".parse().unwrap()).is_some());
        // the next full pass is 30 checks later (3600 s), though .2 is due at 1900 s
        run_timer(&mut s, &h, 1801, 3599);
        assert_eq!(s.cache_len(), 1);
        run_timer(&mut s, &h, 3600, 3600);
        assert_eq!(s.cache_len(), 0);
    }

    #[test]
    fn full_expiration_boundary_is_inclusive() {
        let params = SchedParams {
            lblc_expiration: 1800,
            ..SchedParams::default()
        };
        // used at 0, 30th check at exactly 0 + 1800 s: dropped
        let h = harness();
        let mut s = Lblc::new(&params);
        assert!(pick(&mut s, &h, "10.0.3.1").is_some());
        run_timer(&mut s, &h, 0, 1800);
        assert_eq!(s.cache_len(), 0);
        // timer armed at 0, used 1 ms later: the 30th check is 1 ms early, kept
        let mut h = harness();
        let mut s = Lblc::new(&params);
        run_timer(&mut s, &h, 0, 0);
        h.now = Time::from_millis(1);
        assert!(pick(&mut s, &h, "10.0.3.1").is_some());
        run_timer(&mut s, &h, 1, 1800);
        assert_eq!(s.cache_len(), 1);
    }

    #[test]
    fn timer_is_driven_by_now_only() {
        let h = harness();
        let params = SchedParams {
            lblc_expiration: 0,
            ..SchedParams::default()
        };
        let mut s = Lblc::new(&params);
        assert!(pick(&mut s, &h, "10.0.3.1").is_some());
        // many calls at the same instant run no check at all
        let list = DestList::new(&h.order, &h.slab);
        for _ in 0..100 {
            s.on_timer(&list, Time::from_secs(59));
        }
        // a late timer call runs one check, not several
        s.on_timer(&list, Time::from_secs(10_000));
        assert_eq!(s.cache_len(), 1);
        for k in 1..=28u64 {
            s.on_timer(&list, Time::from_secs(10_000 + 60 * k));
        }
        assert_eq!(s.cache_len(), 1);
        s.on_timer(&list, Time::from_secs(10_000 + 60 * 29));
        assert_eq!(s.cache_len(), 0);
    }

    /// Fill a cache past `MAX_SIZE` with `extra` more entries, all used at t = 0.
    pub(crate) fn fill(s: &mut dyn Scheduler, h: &Harness, extra: usize) -> Vec<IpAddr> {
        let addrs: Vec<IpAddr> = (0..MAX_SIZE + extra)
            .map(|i| IpAddr::from([10, 100 + (i >> 16) as u8, (i >> 8) as u8, i as u8]))
            .collect();
        let list = DestList::new(&h.order, &h.slab);
        for a in &addrs {
            let mut p = pkt("10.0.0.1");
            p.daddr = *a;
            assert!(s.schedule(&list, &h.svc, &p, Time::ZERO).is_some());
        }
        addrs
    }

    #[test]
    fn oversized_cache_collects_idle_entries_bucket_by_bucket() {
        let h = harness();
        let mut s = Lblc::new(&SchedParams::default());
        let addrs = fill(&mut s, &h, 10);
        assert_eq!(s.cache_len(), MAX_SIZE + 10);
        let per_bucket = |b: usize| addrs.iter().filter(|a| Cache::<()>::key(a) == b).count();
        // checks at 60..300 s: entries are not yet idle for 6 min, nothing goes
        run_timer(&mut s, &h, 1, 300);
        assert_eq!(s.cache_len(), MAX_SIZE + 10);
        // 360 s: goal = 10*4/3 = 13; bucket 1 (after the rover 0) is swept whole first
        run_timer(&mut s, &h, 301, 360);
        let mut left = MAX_SIZE + 10 - per_bucket(1);
        let mut b = 1;
        while MAX_SIZE + 10 - left < 13 {
            b += 1;
            left -= per_bucket(b);
        }
        assert_eq!(s.cache_len(), left);
        assert!(left <= MAX_SIZE);
    }
}
