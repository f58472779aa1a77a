//! Maglev hashing (`ip_vs_mh.c`).
//!
//! Each destination gets a pseudo-random permutation of the M = 4093 lookup-table slots
//! (`offset = h1(dest) % M`, `skip = h2(dest) % (M-1) + 1`, h = the kernel's 64-bit
//! `hsiphash`, i.e. SipHash-1-3, with fixed keys). The table is populated in rounds over
//! the list (newest first): each destination claims its next free preferred slot `turns`
//! times per round, `turns = (last_weight / gcd) >> rshift` (at least 1 if last_weight is
//! non-zero), until all M slots are taken. Using `last_weight` means a quiesced (weight 0)
//! server keeps its slots. The table is rebuilt on every add, delete and edit. A client
//! (address, plus source port with `mh-port`) looks up slot `h1(client) % M`; weight <= 0
//! or OVERLOAD there means "no destination" unless `mh-fallback` re-hashes with offsets.

use std::net::IpAddr;

use super::siphash::{SipKey, hsiphash_u32};
use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::{Dest, DestId};
use crate::error::SchedError;
use crate::time::Time;
use crate::types::{Af, ServiceFlags, fold_addr};

/// Table sizes selectable by `CONFIG_IP_VS_MH_TAB_INDEX` (8..=17).
const PRIMES: [usize; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];
/// `CONFIG_IP_VS_MH_TAB_INDEX` default.
const CONFIG_TAB_INDEX: usize = 12;
/// `IP_VS_MH_TAB_SIZE`: the prime M, 4093.
pub const TAB_SIZE: usize = PRIMES[CONFIG_TAB_INDEX - 8];
/// `IP_VS_MH_TAB_BITS`: significant bits kept of `weight / gcd`.
const TAB_BITS: u32 = (CONFIG_TAB_INDEX / 2) as u32;

/// `generate_hash_secret`: the two fixed keys.
const HASH1: SipKey = SipKey(2_654_435_761, 2_654_435_761);
const HASH2: SipKey = SipKey(2_654_446_892, 2_654_446_892);

/// Maglev state: the lookup table and the weight scaling of its last build.
#[derive(Debug, Clone)]
pub struct Mh {
    /// Slot -> destination (`None` everywhere when no destination has a non-zero
    /// last_weight).
    table: Vec<Option<DestId>>,
    /// gcd of the positive last_weights (0 if none).
    gcd: i32,
    /// Right shift applied to `last_weight / gcd`.
    rshift: u32,
}

impl Default for Mh {
    fn default() -> Self {
        Mh {
            table: vec![None; TAB_SIZE],
            gcd: 0,
            rshift: 0,
        }
    }
}

/// The 32-bit address the kernel hashes for `addr` in a service of family `af`:
/// `addr->ip` for IPv4 services (for an IPv6 tunnel destination that is its first word),
/// the xor of the four words for IPv6 services.
fn fold_as(af: Af, addr: &IpAddr) -> u32 {
    match (af, addr) {
        (Af::Inet, IpAddr::V6(a)) => {
            let o = a.octets();
            u32::from_be_bytes([o[0], o[1], o[2], o[3]])
        }
        _ => fold_addr(addr),
    }
}

/// `ip_vs_mh_hashkey`: `hsiphash(offset + port + fold(addr))`.
fn hashkey(af: Af, addr: &IpAddr, port: u16, key: SipKey, offset: u32) -> u32 {
    let v = offset
        .wrapping_add(u32::from(port))
        .wrapping_add(fold_as(af, addr));
    hsiphash_u32(v, key)
}

/// `is_unavailable`: weight <= 0 or OVERLOAD.
fn unavailable(d: &Dest) -> bool {
    d.weight <= 0 || d.is_overloaded()
}

/// `fls`: 1-based index of the highest set bit, 0 for 0.
fn fls(x: i32) -> u32 {
    if x <= 0 {
        // Only reached with x == 0 (max weight / gcd is positive); negative has bit 31.
        if x == 0 { 0 } else { 32 }
    } else {
        32 - x.leading_zeros()
    }
}

/// gcd of two positive numbers.
fn gcd(mut a: i32, mut b: i32) -> i32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Per-destination permutation state (`struct ip_vs_mh_dest_setup`).
#[derive(Clone, Copy, Debug)]
struct Setup {
    skip: usize,
    perm: usize,
    turns: i32,
}

impl Mh {
    /// A fresh Maglev scheduler (empty table).
    pub fn new() -> Mh {
        Mh::default()
    }

    /// The destination in table slot `i` (for inspection and tests).
    pub fn slot(&self, i: usize) -> Option<DestId> {
        self.table.get(i).copied().flatten()
    }

    /// `ip_vs_mh_gcd_weight` and `ip_vs_mh_shift_weight` over the list's last_weights.
    fn scale(dests: &DestList<'_>) -> (i32, u32) {
        let mut g = 0;
        let mut max = 0;
        for (_, d) in dests.iter() {
            let w = d.last_weight;
            if w > 0 {
                g = if g > 0 { gcd(w, g) } else { w };
            }
            max = max.max(w);
        }
        if g < 1 {
            return (0, 0);
        }
        let shift = fls(max / g).saturating_sub(TAB_BITS);
        (g, shift)
    }

    /// The number of slots a destination claims per round.
    fn turns(last_weight: i32, gcd: i32, rshift: u32) -> i32 {
        let t = (last_weight / gcd) >> rshift;
        if t != 0 {
            t
        } else {
            i32::from(last_weight != 0)
        }
    }

    /// `ip_vs_mh_dest_changed` / init: recompute the scaling and rebuild the table.
    fn reassign(&mut self, dests: &DestList<'_>, svc: &SchedService) -> Result<(), SchedError> {
        let (g, shift) = Mh::scale(dests);
        self.gcd = g;
        self.rshift = shift;
        if dests.len() > TAB_SIZE {
            return Err(SchedError::TooManyDests {
                sched: "mh",
                max: TAB_SIZE,
            });
        }
        if self.gcd < 1 {
            self.table.fill(None);
            return Ok(());
        }
        // ip_vs_mh_permutate
        let mut setup: Vec<Setup> = dests
            .iter()
            .map(|(_, d)| {
                let h1 = hashkey(svc.af, &d.addr, d.port, HASH1, 0) as usize;
                let h2 = hashkey(svc.af, &d.addr, d.port, HASH2, 0) as usize;
                Setup {
                    skip: h2 % (TAB_SIZE - 1) + 1,
                    perm: h1 % TAB_SIZE,
                    turns: Mh::turns(d.last_weight, self.gcd, self.rshift),
                }
            })
            .collect();
        // ip_vs_mh_populate: rounds over the list until every slot is taken. Some
        // destination has turns >= 1 (gcd >= 1), so each round places at least one.
        let mut taken = vec![false; TAB_SIZE];
        let mut n = 0;
        let mut dt_count = 0;
        'rounds: loop {
            let mut i = 0;
            while i < setup.len() {
                let ds = &mut setup[i];
                if ds.turns < 1 {
                    i += 1;
                    continue;
                }
                let mut c = ds.perm;
                while taken[c] {
                    ds.perm += ds.skip;
                    if ds.perm >= TAB_SIZE {
                        ds.perm -= TAB_SIZE;
                    }
                    c = ds.perm;
                }
                taken[c] = true;
                self.table[c] = Some(dests.id(i));
                n += 1;
                if n == TAB_SIZE {
                    break 'rounds;
                }
                dt_count += 1;
                if dt_count >= ds.turns {
                    dt_count = 0;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    fn usable(dests: &DestList<'_>, id: DestId) -> bool {
        dests.try_get(id).is_some_and(|d| !unavailable(d))
    }

    fn get(&self, dests: &DestList<'_>, af: Af, addr: &IpAddr, port: u16) -> Option<DestId> {
        let hash = hashkey(af, addr, port, HASH1, 0) as usize % TAB_SIZE;
        let id = self.table[hash]?;
        Mh::usable(dests, id).then_some(id)
    }

    fn get_fallback(
        &self,
        dests: &DestList<'_>,
        af: Af,
        addr: &IpAddr,
        port: u16,
    ) -> Option<DestId> {
        let ihash = hashkey(af, addr, port, HASH1, 0) as usize % TAB_SIZE;
        let id = self.table[ihash]?;
        if Mh::usable(dests, id) {
            return Some(id);
        }
        for offset in 0..TAB_SIZE {
            let roffset = ((offset + ihash) % TAB_SIZE) as u32;
            let hash = hashkey(af, addr, port, HASH1, roffset) as usize % TAB_SIZE;
            let id = self.table[hash]?;
            if Mh::usable(dests, id) {
                return Some(id);
            }
        }
        None
    }
}

impl Scheduler for Mh {
    fn name(&self) -> &'static str {
        "mh"
    }

    fn init_service(&mut self, dests: &DestList<'_>, svc: &SchedService) -> Result<(), SchedError> {
        self.table.fill(None);
        self.reassign(dests, svc)
    }

    fn add_dest(
        &mut self,
        dests: &DestList<'_>,
        svc: &SchedService,
        _: DestId,
    ) -> Result<(), SchedError> {
        self.reassign(dests, svc)
    }

    fn del_dest(
        &mut self,
        dests: &DestList<'_>,
        svc: &SchedService,
        _: DestId,
        _: usize,
    ) -> Result<(), SchedError> {
        self.reassign(dests, svc)
    }

    fn upd_dest(
        &mut self,
        dests: &DestList<'_>,
        svc: &SchedService,
        _: DestId,
    ) -> Result<(), SchedError> {
        self.reassign(dests, svc)
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        svc: &SchedService,
        pkt: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        let (addr, port) = super::sh::hash_input(svc, pkt);
        if svc.flags.has(ServiceFlags::SCHED1) {
            self.get_fallback(dests, svc.af, &addr, port)
        } else {
            self.get(dests, svc.af, &addr, port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::{DestFlags, DestSlab};
    use crate::types::ForwardMethod;

    use super::super::testutil::{octet, picks_by_source};

    /// Real servers 10.0.1.2, .3, .4 (port 80) added in that order, as in the guest.
    fn service(flags: u32, weights: [i32; 3]) -> (Harness, [DestId; 3]) {
        Harness::guest_service(Box::new(Mh::new()), flags, weights)
    }

    /// A standalone Mh built over the harness's list, to inspect its table.
    fn table_of(h: &Harness) -> Mh {
        let mut mh = Mh::new();
        mh.init_service(&DestList::new(&h.order, &h.slab), &h.svc)
            .unwrap();
        mh
    }

    fn slot_counts(mh: &Mh, ids: &[DestId]) -> Vec<usize> {
        ids.iter()
            .map(|&id| (0..TAB_SIZE).filter(|&i| mh.slot(i) == Some(id)).count())
            .collect()
    }

    // Kernel-observed vectors.
    //
    // Linux 6.12.95 (Debian 6.12.95+deb12-amd64, x86-64), ipvsadm 1.31, in the ipvs-vm
    // guest. The clients are local addresses (IPVS schedules locally generated packets at
    // LOCAL_OUT), one UDP datagram per client, then `ipvsadm -Lnc` gives client -> server:
    //
    //     ip link add dum0 type dummy; ip link set dum0 up
    //     for a in <SOURCES>; do ip addr add $a/32 dev dum0; done
    //     ip route add 10.0.0.0/16 dev dum0
    //     ipvsadm -A -u 10.0.0.1:PORT -s mh [-b FLAGS]
    //     ipvsadm -a -u 10.0.0.1:PORT -r 10.0.1.2:80 -m -w W1   # then .3 W2, then .4 W3
    //     [ipvsadm -e ... -r 10.0.1.3:80 -m -w 0 | ipvsadm -d ... -r 10.0.1.3:80]
    //     python3: socket(AF_INET, SOCK_DGRAM).bind((SRC, SPORT)).sendto(b'x', (VIP, PORT))
    //     ipvsadm -Lnc
    //
    // These pin the SipHash-1-3 keys, the permutation, the population order and the
    // client hash all at once: any difference would move some of the 30 clients.

    const W111: [u8; 30] = [
        2, 3, 3, 2, 2, 3, 2, 4, 3, 3, 2, 2, 2, 2, 2, 3, 2, 4, 2, 2, 4, 3, 3, 2, 3, 4, 4, 2, 3, 2,
    ];

    /// weights 1, 1, 1 (port 83) and 3, 3, 3 (port 90: identical, gcd scaling).
    #[test]
    fn kernel_observed_equal_weights() {
        let (mut h, _) = service(0, [1, 1, 1]);
        assert_eq!(picks_by_source(&mut h), W111);
        let (mut h, _) = service(0, [3, 3, 3]);
        assert_eq!(picks_by_source(&mut h), W111);
    }

    /// weights 1, 2, 3 (port 84).
    #[test]
    fn kernel_observed_weights_1_2_3() {
        let (mut h, _) = service(0, [1, 2, 3]);
        let kernel: [u8; 30] = [
            4, 3, 4, 2, 2, 3, 2, 4, 3, 3, 4, 2, 4, 2, 2, 3, 2, 4, 2, 2, 4, 3, 3, 4, 4, 4, 4, 4, 4,
            3,
        ];
        assert_eq!(picks_by_source(&mut h), kernel);
    }

    /// weights 1, 64, 200 (port 89): max/gcd = 200, fls = 8, rshift = 2, turns 1, 16, 50.
    #[test]
    fn kernel_observed_weights_with_rshift() {
        let (mut h, _) = service(0, [1, 64, 200]);
        let kernel: [u8; 30] = [
            4, 4, 4, 4, 4, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 2, 4, 4, 2, 4, 3, 3, 4, 4, 4, 4, 4, 4,
            3,
        ];
        assert_eq!(picks_by_source(&mut h), kernel);
    }

    /// `-b mh-port`, weights 1, 1, 1, client 192.168.50.1 from ports 1000..=1029 (port 85).
    #[test]
    fn kernel_observed_mh_port() {
        let (mut h, _) = service(ServiceFlags::SCHED2, [1, 1, 1]);
        let kernel: [u8; 30] = [
            2, 4, 3, 4, 3, 3, 4, 4, 3, 4, 4, 4, 2, 3, 4, 4, 4, 4, 2, 3, 4, 3, 4, 3, 2, 3, 4, 3, 4,
            2,
        ];
        let got: Vec<u8> = (1000..1030)
            .map(|p| {
                let id = h.pick_from("192.168.50.1", p);
                octet(&h, id)
            })
            .collect();
        assert_eq!(got, kernel);
    }

    /// `-b mh-fallback`, weights 1, 1, 1, then 10.0.1.3 edited to weight 0 (port 88). Its
    /// slots stay (last_weight), its clients are re-hashed to the others, everybody else
    /// keeps their server.
    #[test]
    fn kernel_observed_fallback_quiesced() {
        let (mut h, ids) = service(ServiceFlags::SCHED1, [1, 1, 1]);
        h.set_weight(ids[1], 0);
        let kernel: [u8; 30] = [
            2, 4, 4, 2, 2, 4, 2, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 4, 2, 2, 4, 4, 4, 2, 4, 4, 4, 2, 4,
            2,
        ];
        let got = picks_by_source(&mut h);
        assert_eq!(got, kernel);
        for i in 0..30 {
            if W111[i] != 3 {
                assert_eq!(got[i], W111[i]);
            }
        }
        // Without fallback those clients get nothing.
        let (mut h, ids) = service(0, [1, 1, 1]);
        h.set_weight(ids[1], 0);
        let got = picks_by_source(&mut h);
        for i in 0..30 {
            assert_eq!(got[i], if W111[i] == 3 { 0 } else { W111[i] });
        }
    }

    /// weights 1, 1, 1, then 10.0.1.3 deleted (port 92): the table is rebuilt with two
    /// servers, which is not the same as the fallback above (e.g. 192.168.50.23).
    #[test]
    fn kernel_observed_after_delete() {
        let (mut h, ids) = service(0, [1, 1, 1]);
        h.del(ids[1]);
        let kernel: [u8; 30] = [
            2, 4, 4, 2, 2, 4, 2, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 4, 2, 2, 4, 4, 2, 2, 4, 4, 4, 2, 4,
            2,
        ];
        assert_eq!(picks_by_source(&mut h), kernel);
    }

    /// Second guest run (same setup): `-a` of 10.0.1.3 with `-w 0` between .2 and .4
    /// (port 93 without flags, port 96 with `mh-fallback`: identical). In the kernel a new
    /// destination's last_weight is its initial weight even when 0, so .3 gets no slots at
    /// all and no client fails: the table equals the one without .3 (port 92).
    ///
    /// `Dest::with_weight(0)` keeps `last_weight` at 1, so the test sets it to 0 by hand
    /// (see the report: the owner must do the same on `-a -w 0`).
    #[test]
    fn kernel_observed_added_with_weight_zero() {
        let kernel: [u8; 30] = [
            2, 4, 4, 2, 2, 4, 2, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2, 4, 2, 2, 4, 4, 2, 2, 4, 4, 4, 2, 4,
            2,
        ];
        for flags in [0, ServiceFlags::SCHED1] {
            let mut h = Harness::with_flags(Box::new(Mh::new()), ServiceFlags(flags));
            h.add("10.0.1.2", 1);
            let d3 = h.add("10.0.1.3", 0);
            h.slab.get_mut(d3).last_weight = 0;
            h.add("10.0.1.4", 1);
            assert_eq!(picks_by_source(&mut h), kernel);
        }
    }

    /// Second guest run: weights 1, 1, 1, then `-e` 10.0.1.3 to 0 and then to 2 (port
    /// 94): last_weight becomes 2, the table is that of weights 1, 2, 1.
    #[test]
    fn kernel_observed_edit_to_zero_then_two() {
        let (mut h, ids) = service(0, [1, 1, 1]);
        h.set_weight(ids[1], 0);
        h.set_weight(ids[1], 2);
        let kernel: [u8; 30] = [
            3, 3, 3, 2, 2, 3, 2, 4, 3, 3, 3, 2, 2, 2, 2, 3, 2, 3, 2, 2, 4, 3, 3, 2, 3, 4, 4, 2, 3,
            3,
        ];
        assert_eq!(picks_by_source(&mut h), kernel);
        let (mut h, _) = service(0, [1, 2, 1]);
        assert_eq!(picks_by_source(&mut h), kernel);
    }

    #[test]
    fn scale_and_turns() {
        assert_eq!(fls(0), 0);
        assert_eq!(fls(1), 1);
        assert_eq!(fls(200), 8);
        assert_eq!(fls(i32::MAX), 31);
        // 1, 64, 200: gcd 1, rshift 8 - 6 = 2
        assert_eq!(Mh::turns(1, 1, 2), 1); // 1 >> 2 = 0 -> 1
        assert_eq!(Mh::turns(64, 1, 2), 16);
        assert_eq!(Mh::turns(200, 1, 2), 50);
        assert_eq!(Mh::turns(0, 1, 2), 0);
        let (h, _) = service(0, [1, 64, 200]);
        assert_eq!(Mh::scale(&DestList::new(&h.order, &h.slab)), (1, 2));
        let (h, _) = service(0, [6, 4, 10]);
        assert_eq!(Mh::scale(&DestList::new(&h.order, &h.slab)), (2, 0));
        let (h, _) = service(0, [i32::MAX, i32::MAX, 1]);
        assert_eq!(Mh::scale(&DestList::new(&h.order, &h.slab)), (1, 25));
        assert_eq!(Mh::turns(i32::MAX, 1, 25), 63);
    }

    #[test]
    fn table_is_full_and_weight_proportional() {
        let (h, ids) = service(0, [1, 2, 3]);
        let mh = table_of(&h);
        assert!((0..TAB_SIZE).all(|i| mh.slot(i).is_some()));
        let c = slot_counts(&mh, &ids);
        assert_eq!(c.iter().sum::<usize>(), TAB_SIZE);
        // Round-robin claiming with turns 1:2:3 gives 682/1364/2047 up to a partial round.
        for (k, w) in [1usize, 2, 3].into_iter().enumerate() {
            let ideal = TAB_SIZE * w / 6;
            assert!(c[k].abs_diff(ideal) <= 3, "{c:?}");
        }
        let (h, ids) = service(0, [1, 1, 1]);
        let c = slot_counts(&table_of(&h), &ids);
        assert!(c.iter().all(|&x| x.abs_diff(TAB_SIZE / 3) <= 1), "{c:?}");
    }

    #[test]
    fn quiesced_keeps_slots_and_edit_back_restores() {
        let (mut h, ids) = service(0, [1, 1, 1]);
        let before = table_of(&h).table;
        h.set_weight(ids[1], 0);
        // last_weight is still 1: same table
        assert_eq!(table_of(&h).table, before);
        h.set_weight(ids[1], 1);
        assert_eq!(picks_by_source(&mut h), W111);
        // an OVERLOAD flag acts like weight 0 for the lookup
        h.slab.get_mut(ids[2]).flags.0 |= DestFlags::OVERLOAD;
        let got = picks_by_source(&mut h);
        for i in 0..30 {
            assert_eq!(got[i], if W111[i] == 4 { 0 } else { W111[i] });
        }
    }

    #[test]
    fn zero_last_weights_empty_the_table() {
        let (mut h, ids) = service(ServiceFlags::SCHED1, [1, 1, 1]);
        for &id in &ids {
            let d = h.slab.get_mut(id);
            d.weight = 0;
            d.last_weight = 0; // as after `-a ... -w 0` in the kernel
        }
        let list = DestList::new(&h.order, &h.slab);
        h.sched.upd_dest(&list, &h.svc, ids[0]).unwrap();
        assert_eq!(h.pick(), None);
        let mh = table_of(&h);
        assert!((0..TAB_SIZE).all(|i| mh.slot(i).is_none()));
        // one with last_weight 0 among others: it gets no slots at all
        let (mut h, ids) = service(0, [1, 1, 1]);
        h.slab.get_mut(ids[0]).last_weight = 0;
        let c = slot_counts(&table_of(&h), &ids);
        assert_eq!(c[0], 0);
        assert_eq!(c[1] + c[2], TAB_SIZE);
        h.set_weight(ids[1], 1);
        assert!(picks_by_source(&mut h).iter().all(|&o| o == 3 || o == 4));
    }

    #[test]
    fn too_many_dests() {
        let mut slab = DestSlab::new();
        let mut order = Vec::new();
        for i in 0..TAB_SIZE {
            let ip = IpAddr::from([10, 9, (i >> 8) as u8, i as u8]);
            order.insert(0, slab.insert(Dest::new(ip, 80, ForwardMethod::Masq)));
        }
        let svc = SchedService {
            af: Af::Inet,
            flags: ServiceFlags::default(),
        };
        let mut mh = Mh::new();
        mh.init_service(&DestList::new(&order, &slab), &svc)
            .unwrap();
        // M destinations of weight 1 fill M slots: one each.
        let mut seen = vec![false; slab.len()];
        for i in 0..TAB_SIZE {
            seen[mh.slot(i).unwrap().0 as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        let extra = slab.insert(Dest::new(
            "10.8.0.1".parse().unwrap(),
            80,
            ForwardMethod::Masq,
        ));
        order.insert(0, extra);
        let err = SchedError::TooManyDests {
            sched: "mh",
            max: TAB_SIZE,
        };
        let list = DestList::new(&order, &slab);
        assert_eq!(mh.add_dest(&list, &svc, extra), Err(err.clone()));
        // the table was left as it was
        assert!((0..TAB_SIZE).all(|i| mh.slot(i) != Some(extra)));
        assert_eq!(Mh::new().init_service(&list, &svc), Err(err));
    }

    #[test]
    fn empty_and_huge_weights() {
        let mut h = Harness::with_flags(Box::new(Mh::new()), ServiceFlags(ServiceFlags::SCHED1));
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", i32::MAX);
        let b = h.add("10.1.0.2", 1);
        assert!(h.pick().is_some());
        let mh = table_of(&h);
        let c = slot_counts(&mh, &[a, b]);
        // turns 63 and 1
        assert!(c[1] >= 1 && c[1] < 100, "{c:?}");
        h.del(a);
        h.del(b);
        assert_eq!(h.pick(), None);
    }

    #[test]
    fn ipv6_tunnel_dest_in_ipv4_service_folds_first_word() {
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(fold_as(Af::Inet, &v6), 0x2001_0db8);
        assert_eq!(fold_as(Af::Inet6, &v6), 0x2001_0db8 ^ 1);
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(fold_as(Af::Inet6, &v4), 0x0a00_0001);
    }
}
