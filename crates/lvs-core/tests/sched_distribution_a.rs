//! Long-run distribution properties of the rr, wrr, lc, wlc, sed, fo and twos schedulers,
//! through the public API only, for random weight vectors (1..=20, 1..=8 real servers).
//!
//! - wrr: over whole cycles each server's share is exactly `weight / sum` (also after an
//!   edit of one weight mid-stream).
//! - rr and lc (connections never closed): exactly equal shares over whole rounds.
//! - wlc and sed (active connections never closed): `|a_i - N * w_i / W| <= n` after any
//!   number N of connections, where `n` is the number of servers and `W` the weight sum.
//!   Justification: both pick an argmin of `load_i / w_i` (wlc: `a_i`, sed: `a_i + 1`), so
//!   each server's ratio exceeds the current minimum `m` by at most `1 / w_i` (it was the
//!   minimum when last picked, and the minimum never decreases). Hence
//!   `m * w_i <= load_i <= m * w_i + 1`; summing gives `N` within `n` of `m * W`, so every
//!   `a_i` is within `n` of `N * w_i / W`.
//! - twos: without load, each draw is the weighted lottery of the kernel (draw in
//!   `[0, W]`, so the first server in list order has `w + 1` chances out of `W + 1`): shares
//!   are checked against that exact expectation within 5 standard deviations. With active
//!   connections never closed the shares approach the weights (loose tolerance, 0.03).
//! - fo: always the first server in list order with the highest weight.

use std::net::{IpAddr, Ipv4Addr};

use lvs_core::sched::{DestList, PacketInfo, SchedParams, SchedService, Scheduler, new_scheduler};
use lvs_core::{Af, Dest, DestId, DestSlab, ForwardMethod, Protocol, ServiceFlags, Time};
use proptest::prelude::*;

/// A service: its real servers in kernel list order (newest first) and its scheduler.
struct Svc {
    slab: DestSlab,
    order: Vec<DestId>,
    /// Handles in the order the servers were added (index = position in `weights`).
    ids: Vec<DestId>,
    svc: SchedService,
    sched: Box<dyn Scheduler>,
}

impl Svc {
    /// `name` bound to an empty service, then one server per weight, added in order.
    fn new(name: &str, weights: &[i32]) -> Svc {
        let mut sched = new_scheduler(name, &SchedParams::default()).expect("scheduler");
        let slab = DestSlab::new();
        let svc = SchedService {
            af: Af::Inet,
            flags: ServiceFlags::default(),
        };
        sched
            .init_service(&DestList::new(&[], &slab), &svc)
            .expect("init_service");
        let mut s = Svc {
            slab,
            order: Vec::new(),
            ids: Vec::new(),
            svc,
            sched,
        };
        for (i, &w) in weights.iter().enumerate() {
            let octet = u8::try_from(i + 1).expect("few servers");
            let addr = IpAddr::V4(Ipv4Addr::new(10, 1, 0, octet));
            let id = s
                .slab
                .insert(Dest::new(addr, 80, ForwardMethod::Masq).with_weight(w));
            s.order.insert(0, id);
            s.ids.push(id);
            let list = DestList::new(&s.order, &s.slab);
            s.sched.add_dest(&list, &s.svc, id).expect("add_dest");
        }
        s
    }

    /// Index (in add order) of the server picked for a new connection.
    fn pick(&mut self) -> Option<usize> {
        let pkt = PacketInfo::new(
            Protocol::Tcp,
            "192.0.2.1".parse().expect("address"),
            40000,
            "10.0.0.1".parse().expect("address"),
            80,
        );
        let list = DestList::new(&self.order, &self.slab);
        let id = self.sched.schedule(&list, &self.svc, &pkt, Time::ZERO)?;
        Some(
            self.ids
                .iter()
                .position(|&x| x == id)
                .expect("a known server"),
        )
    }

    /// Pick and open an active connection on the chosen server.
    fn connect(&mut self) -> Option<usize> {
        let i = self.pick()?;
        self.slab.get_mut(self.ids[i]).activeconns += 1;
        Some(i)
    }

    /// `ipvsadm -e -w`: change the weight of server `i` and tell the scheduler.
    fn set_weight(&mut self, i: usize, w: i32) {
        let id = self.ids[i];
        self.slab.get_mut(id).weight = w;
        let list = DestList::new(&self.order, &self.slab);
        self.sched.upd_dest(&list, &self.svc, id).expect("upd_dest");
    }

    /// Picks per server over `n` picks (panics if a pick fails).
    fn count(&mut self, n: usize, connect: bool) -> Vec<u64> {
        let mut c = vec![0u64; self.ids.len()];
        for _ in 0..n {
            let i = if connect { self.connect() } else { self.pick() };
            c[i.expect("a destination")] += 1;
        }
        c
    }
}

fn weights() -> impl Strategy<Value = Vec<i32>> {
    prop::collection::vec(1..=20i32, 1..=8)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Picks in one wrr cycle: `sum / gcd`.
fn wrr_cycle(w: &[i32]) -> (usize, i64) {
    let g = w.iter().fold(0i64, |g, &x| gcd(i64::from(x), g));
    let sum: i64 = w.iter().map(|&x| i64::from(x)).sum();
    (usize::try_from(sum / g).expect("small"), g)
}

/// Skip one (partial) cycle, then check `cycles` whole cycles give exactly `w / gcd` each.
fn check_wrr_cycles(s: &mut Svc, w: &[i32], cycles: u64) -> Result<(), TestCaseError> {
    let (len, g) = wrr_cycle(w);
    // The first wrap to cw = mw happens within one cycle; from there the sequence has
    // period `len`, so any `len` consecutive picks hold exactly one cycle.
    s.count(len, false);
    let got = s.count(len * usize::try_from(cycles).expect("small"), false);
    let want: Vec<u64> = w
        .iter()
        .map(|&x| u64::try_from(i64::from(x) / g).expect("positive") * cycles)
        .collect();
    prop_assert_eq!(got, want);
    Ok(())
}

/// `|a_i * W - N * w_i| <= n * W` for every server.
fn check_within_n(counts: &[u64], w: &[i32]) -> Result<(), TestCaseError> {
    let total_w: i64 = w.iter().map(|&x| i64::from(x)).sum();
    let n_conns: i64 = counts
        .iter()
        .map(|&c| i64::try_from(c).expect("small"))
        .sum();
    let n = i64::try_from(w.len()).expect("small");
    for (i, (&c, &wi)) in counts.iter().zip(w).enumerate() {
        let dev = i64::try_from(c).expect("small") * total_w - n_conns * i64::from(wi);
        prop_assert!(
            dev.abs() <= n * total_w,
            "server {} (w {}): {} of {} connections, weights {:?}",
            i,
            wi,
            c,
            n_conns,
            w
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn wrr_shares_are_exact_over_whole_cycles(w in weights()) {
        let mut s = Svc::new("wrr", &w);
        check_wrr_cycles(&mut s, &w, 3)?;
    }

    #[test]
    fn wrr_shares_are_exact_after_an_edit(
        w in weights(),
        at in 0usize..8,
        new_w in 1..=20i32,
        before in 0usize..50,
    ) {
        let mut s = Svc::new("wrr", &w);
        s.count(before, false);
        let i = at % w.len();
        s.set_weight(i, new_w);
        let mut w2 = w.clone();
        w2[i] = new_w;
        check_wrr_cycles(&mut s, &w2, 2)?;
    }

    #[test]
    fn rr_and_lc_share_equally(w in weights(), rounds in 1u64..20) {
        let n = w.len();
        let per = usize::try_from(rounds).expect("small");
        for name in ["rr", "lc"] {
            let mut s = Svc::new(name, &w);
            let got = s.count(n * per, true);
            prop_assert_eq!(got, vec![rounds; n], "{}", name);
        }
    }

    #[test]
    fn wlc_and_sed_follow_the_weights(w in weights(), n_conns in 0usize..600) {
        for name in ["wlc", "sed"] {
            let mut s = Svc::new(name, &w);
            let got = s.count(n_conns, true);
            check_within_n(&got, &w)?;
        }
    }

    #[test]
    fn fo_always_takes_the_first_highest(w in prop::collection::vec(0..=20i32, 1..=8)) {
        let mut s = Svc::new("fo", &w);
        let max = *w.iter().max().expect("non-empty");
        // list order is newest first: the highest weight added last wins ties
        let want = if max == 0 { None } else { w.iter().rposition(|&x| x == max) };
        for _ in 0..5 {
            prop_assert_eq!(s.connect(), want);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn twos_without_load_is_the_weighted_lottery(w in weights()) {
        const N: usize = 20_000;
        let mut s = Svc::new("twos", &w);
        let got = s.count(N, false);
        let total = f64::from(w.iter().sum::<i32>()) + 1.0;
        let last = w.len() - 1; // added last = first in list order
        for (i, (&c, &wi)) in got.iter().zip(&w).enumerate() {
            let p = (f64::from(wi) + if i == last { 1.0 } else { 0.0 }) / total;
            let sd = (p * (1.0 - p) / N as f64).sqrt();
            let share = c as f64 / N as f64;
            prop_assert!(
                (share - p).abs() <= 5.0 * sd + 1e-9,
                "server {} (w {}): share {} expected {} weights {:?}", i, wi, share, p, w
            );
        }
    }

    #[test]
    fn twos_with_load_follows_the_weights(w in weights()) {
        const N: usize = 10_000;
        let mut s = Svc::new("twos", &w);
        let got = s.count(N, true);
        let total = f64::from(w.iter().sum::<i32>());
        for (i, (&c, &wi)) in got.iter().zip(&w).enumerate() {
            let share = c as f64 / N as f64;
            let p = f64::from(wi) / total;
            prop_assert!(
                (share - p).abs() <= 0.03,
                "server {} (w {}): share {} expected {} weights {:?}", i, wi, share, p, w
            );
        }
    }
}
