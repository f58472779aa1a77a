//! Distribution properties of the hashing schedulers (sh, mh) over many clients, through
//! the public API only.
//!
//! Clients are 100 000 pseudo-random IPv4 addresses (a fixed xorshift sequence), so the
//! number of clients landing on a destination is binomial around its table share `p`;
//! the tolerances below are 5 standard deviations `sqrt(p(1-p)/N)` (about 0.7 percentage
//! points at most), plus, for Maglev, the table's own rounding (a partial last round
//! of at most `sum(turns)` slots out of 4093).

use std::net::{IpAddr, Ipv4Addr};

use lvs_core::sched::{DestList, PacketInfo, SchedParams, SchedService, Scheduler, new_scheduler};
use lvs_core::{Af, Dest, DestId, DestSlab, ForwardMethod, Protocol, ServiceFlags, Time};

const CLIENTS: usize = 100_000;
/// Maglev's table size M.
const MH_M: usize = 4093;

/// A service's destinations in kernel list order (new ones at the head) and its scheduler.
struct Svc {
    slab: DestSlab,
    order: Vec<DestId>,
    svc: SchedService,
    sched: Box<dyn Scheduler>,
}

impl Svc {
    fn new(name: &str) -> Svc {
        let slab = DestSlab::new();
        let order = Vec::new();
        let svc = SchedService {
            af: Af::Inet,
            flags: ServiceFlags::default(),
        };
        let mut sched = new_scheduler(name, &SchedParams::default()).expect("scheduler");
        sched
            .init_service(&DestList::new(&order, &slab), &svc)
            .expect("init");
        Svc {
            slab,
            order,
            svc,
            sched,
        }
    }

    fn add(&mut self, i: u8, weight: i32) -> DestId {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 1, i));
        let id = self
            .slab
            .insert(Dest::new(ip, 80, ForwardMethod::Masq).with_weight(weight));
        self.order.insert(0, id);
        let list = DestList::new(&self.order, &self.slab);
        self.sched.add_dest(&list, &self.svc, id).expect("add");
        id
    }

    fn del(&mut self, id: DestId) {
        let pos = self.order.iter().position(|&d| d == id).expect("listed");
        self.order.remove(pos);
        self.slab.get_mut(id).flags.0 &= !lvs_core::DestFlags::AVAILABLE;
        let list = DestList::new(&self.order, &self.slab);
        self.sched.del_dest(&list, &self.svc, id, pos).expect("del");
    }

    fn pick(&mut self, client: IpAddr) -> Option<DestId> {
        let pkt = PacketInfo::new(
            Protocol::Tcp,
            client,
            40000,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            80,
        );
        let list = DestList::new(&self.order, &self.slab);
        self.sched.schedule(&list, &self.svc, &pkt, Time::ZERO)
    }
}

/// `CLIENTS` distinct-enough pseudo-random client addresses (xorshift32, fixed seed).
fn clients() -> Vec<IpAddr> {
    let mut x: u32 = 0x1234_5678;
    (0..CLIENTS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            IpAddr::V4(Ipv4Addr::from(x))
        })
        .collect()
}

fn shares(s: &mut Svc, ids: &[DestId], clients: &[IpAddr]) -> Vec<f64> {
    let mut n = vec![0usize; ids.len()];
    for &c in clients {
        let id = s.pick(c).expect("a destination");
        n[ids.iter().position(|&d| d == id).expect("known dest")] += 1;
    }
    n.iter().map(|&k| k as f64 / clients.len() as f64).collect()
}

fn five_sigma(p: f64) -> f64 {
    5.0 * (p * (1.0 - p) / CLIENTS as f64).sqrt()
}

#[test]
fn sh_shares_equal_bucket_shares() {
    let weights = [1, 2, 3, 4];
    let mut s = Svc::new("sh");
    let ids: Vec<DestId> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| s.add(2 + i as u8, w))
        .collect();
    // Buckets are dealt in list order (newest first: weights 4, 3, 2, 1), `w` consecutive
    // buckets per destination per round: 25 full rounds of 10 = 250, then 4 + 2 more.
    let buckets = [25.0, 50.0, 75.0 + 2.0, 100.0 + 4.0];
    let got = shares(&mut s, &ids, &clients());
    for k in 0..4 {
        let p = buckets[k] / 256.0;
        assert!(
            (got[k] - p).abs() <= five_sigma(p),
            "dest {k}: share {} vs bucket share {p}",
            got[k]
        );
    }
}

#[test]
fn mh_shares_are_weight_proportional() {
    for weights in [[1, 1, 1, 1], [1, 2, 3, 4]] {
        let mut s = Svc::new("mh");
        let ids: Vec<DestId> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| s.add(2 + i as u8, w))
            .collect();
        let total: i32 = weights.iter().sum();
        let got = shares(&mut s, &ids, &clients());
        for k in 0..4 {
            let p = f64::from(weights[k]) / f64::from(total);
            // the table differs from p*M by at most one partial round (total slots)
            let table_slack = f64::from(total) / MH_M as f64;
            assert!(
                (got[k] - p).abs() <= five_sigma(p) + table_slack,
                "weights {weights:?} dest {k}: share {} vs {p}",
                got[k]
            );
        }
    }
}

#[test]
fn mh_removal_disrupts_about_one_nth() {
    const N: usize = 10;
    let mut s = Svc::new("mh");
    let ids: Vec<DestId> = (0..N).map(|i| s.add(2 + i as u8, 1)).collect();
    let clients = clients();
    let before: Vec<DestId> = clients.iter().map(|&c| s.pick(c).unwrap()).collect();
    let victim = ids[3];
    s.del(victim);
    let after: Vec<DestId> = clients.iter().map(|&c| s.pick(c).unwrap()).collect();
    let on_victim = before.iter().filter(|&&d| d == victim).count();
    let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    let moved_others = before
        .iter()
        .zip(&after)
        .filter(|&(b, a)| *b != victim && b != a)
        .count();
    // every client of the removed server moves (and none lands on it)
    assert!(after.iter().all(|&d| d != victim));
    assert!(moved >= on_victim);
    // that is about 1/N of the clients ...
    let p = 1.0 / N as f64;
    let frac_victim = on_victim as f64 / CLIENTS as f64;
    assert!((frac_victim - p).abs() <= five_sigma(p) + 1.0 / MH_M as f64);
    // ... and Maglev moves few others: a slot changes owner only when the rebuilt
    // permutation walk reaches it in a different order. Here about 1% of the clients
    // move between surviving servers; we allow up to 3%.
    let frac_others = moved_others as f64 / CLIENTS as f64;
    assert!(frac_others < 0.03, "other clients moved: {frac_others}");
    let total = moved as f64 / CLIENTS as f64;
    assert!(total < p + 0.03, "total disruption {total}");
}

#[test]
fn sh_removal_reshuffles_but_mh_does_not() {
    // Contrast that makes the consistent-hashing test meaningful: sh's modulo-like
    // table moves most clients when one of ten servers goes.
    const N: usize = 10;
    let clients = clients();
    let mut s = Svc::new("sh");
    let ids: Vec<DestId> = (0..N).map(|i| s.add(2 + i as u8, 1)).collect();
    let before: Vec<DestId> = clients.iter().map(|&c| s.pick(c).unwrap()).collect();
    s.del(ids[3]);
    let moved = clients
        .iter()
        .zip(&before)
        .filter(|&(&c, &b)| s.pick(c) != Some(b))
        .count();
    assert!(moved as f64 / CLIENTS as f64 > 0.5);
}
