//! Connections created by a fast path (XDP) and adopted by the model: the schedule it is
//! given (`Ipvs::fast_plan`), id reservation, and `Ipvs::adopt` leaving the model exactly
//! as `Ipvs::process_in` leaves it for the same first packet.

use std::net::IpAddr;

use lvs_core::conn::{ConnId, Direction};
use lvs_core::ipvs::{Adopt, AdoptError, wrr_period};
use lvs_core::{
    DestConfig, DestId, ForwardMethod, InVerdict, Ipvs, PacketMeta, Protocol, ServiceConfig,
    ServiceId, ServiceKey, TcpFlags, Time, TunnelConfig, TunnelType,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const VIP: &str = "10.0.0.1";

fn key(p: Protocol) -> ServiceKey {
    ServiceKey::Addr {
        protocol: p,
        addr: ip(VIP),
        port: 80,
    }
}

/// A director with one service of `sched` and real servers 192.168.1.{1..} with `weights`.
fn director(p: Protocol, sched: &str, method: ForwardMethod, weights: &[i32]) -> Ipvs {
    let mut ipvs = Ipvs::default();
    ipvs.add_service(&ServiceConfig::new(key(p), sched))
        .unwrap();
    for (i, w) in weights.iter().enumerate() {
        let cfg = DestConfig::new(ip(&format!("192.168.1.{}", i + 1)), 8080, method).weight(*w);
        ipvs.add_dest(&key(p), &cfg).unwrap();
    }
    ipvs
}

fn sid(ipvs: &Ipvs, p: Protocol) -> ServiceId {
    let target = *ipvs.service(&key(p)).unwrap().key();
    (0..64)
        .map(ServiceId)
        .find(|s| ipvs.service_by_id(*s).is_some_and(|x| *x.key() == target))
        .unwrap()
}

fn dest_ids(ipvs: &Ipvs, p: Protocol) -> Vec<DestId> {
    ipvs.dests_of(&key(p))
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

fn picked(v: InVerdict) -> (ConnId, lvs_core::conn::Conn) {
    match v {
        InVerdict::Forward { id: Some(id), conn } => (id, conn),
        other => panic!("expected Forward, got {other:?}"),
    }
}

#[test]
fn wrr_period_is_the_model_schedulers_cycle() {
    for weights in [
        vec![1, 1],
        vec![3, 1],
        vec![4, 3, 2],
        vec![5, 0, 10],
        vec![6, 4, 2],
        vec![1, 7, 3, 7],
    ] {
        let mut ipvs = director(Protocol::Tcp, "wrr", ForwardMethod::Masq, &weights);
        let ids = dest_ids(&ipvs, Protocol::Tcp);
        // the scheduler's list order (IPVS adds real servers at the head)
        let listed: Vec<i32> = ids.iter().map(|d| ipvs.dest(*d).unwrap().weight).collect();
        let seq = wrr_period(&listed);
        let total: i32 = weights.iter().sum();
        let g = weights
            .iter()
            .filter(|w| **w > 0)
            .fold(0, |g, &w| if g == 0 { w } else { gcd(g, w) });
        assert_eq!(seq.len() as i32, total / g, "{weights:?}");
        // the model's own wrr picks, three periods: a rotation of the period repeated
        let picks: Vec<usize> = (0..3 * seq.len())
            .map(|i| {
                let pkt =
                    PacketMeta::tcp(ip("10.9.0.1"), 1000 + i as u16, ip(VIP), 80, TcpFlags::SYN);
                let (_, c) = picked(ipvs.process_in(&pkt, Time::from_secs(1)));
                ids.iter().position(|d| Some(*d) == c.dest()).unwrap()
            })
            .collect();
        let p = seq.len();
        let rot = (0..p).find(|&k| (0..picks.len()).all(|i| picks[i] == seq[(i + k) % p]));
        assert!(
            rot.is_some(),
            "{weights:?}: model {picks:?} vs period {seq:?}"
        );
    }
    assert!(wrr_period(&[0, 0]).is_empty());
}

fn gcd(a: i32, b: i32) -> i32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[test]
fn fast_plan_eligibility() {
    let p = Protocol::Tcp;
    let weight = |ipvs: &Ipvs, d: &DestId| ipvs.dest(*d).unwrap().weight;
    let ipvs = director(p, "rr", ForwardMethod::Masq, &[1, 0, 2]);
    let ids = dest_ids(&ipvs, p);
    let plan = ipvs.fast_plan(sid(&ipvs, p)).unwrap();
    let positive: Vec<DestId> = ids
        .iter()
        .copied()
        .filter(|d| weight(&ipvs, d) > 0)
        .collect();
    assert_eq!(plan.seq, positive, "rr: list order, weight 0 skipped");
    assert_eq!(plan.seq.len(), 2);
    let ipvs = director(p, "wrr", ForwardMethod::Route, &[2, 1]);
    let ids = dest_ids(&ipvs, p);
    let heavy = *ids.iter().find(|d| weight(&ipvs, d) == 2).unwrap();
    let light = *ids.iter().find(|d| weight(&ipvs, d) == 1).unwrap();
    let seq = ipvs.fast_plan(sid(&ipvs, p)).unwrap().seq;
    assert_eq!(seq.iter().filter(|d| **d == heavy).count(), 2);
    assert_eq!(seq.iter().filter(|d| **d == light).count(), 1);
    assert_eq!(seq[0], heavy, "cw starts at the maximum weight");
    // schedulers other than rr/wrr, no positive weight, FULLNAT, thresholds, persistence
    for (sched, m, w) in [
        ("wlc", ForwardMethod::Masq, vec![1]),
        ("rr", ForwardMethod::Masq, vec![0]),
        ("rr", ForwardMethod::Masq, vec![]),
        ("rr", ForwardMethod::FullNat, vec![1]),
    ] {
        let ipvs = director(p, sched, m, &w);
        assert_eq!(ipvs.fast_plan(sid(&ipvs, p)), None, "{sched} {m:?} {w:?}");
    }
    let mut ipvs = director(p, "rr", ForwardMethod::Masq, &[1]);
    let mut cfg = DestConfig::new(ip("192.168.1.9"), 8080, ForwardMethod::Masq);
    cfg.u_threshold = 10;
    ipvs.add_dest(&key(p), &cfg).unwrap();
    assert_eq!(ipvs.fast_plan(sid(&ipvs, p)), None, "threshold");
    let mut ipvs = Ipvs::default();
    ipvs.add_service(&ServiceConfig::new(key(p), "rr").persistent(300))
        .unwrap();
    ipvs.add_dest(
        &key(p),
        &DestConfig::new(ip("192.168.1.1"), 80, ForwardMethod::Masq),
    )
    .unwrap();
    assert_eq!(ipvs.fast_plan(sid(&ipvs, p)), None, "persistent");
    // tunnels: IPIP yes, GUE no
    let mut ipvs = director(p, "rr", ForwardMethod::Tunnel, &[1]);
    assert!(ipvs.fast_plan(sid(&ipvs, p)).is_some());
    let mut cfg = DestConfig::new(ip("192.168.1.7"), 80, ForwardMethod::Tunnel);
    cfg.tunnel = TunnelConfig {
        kind: TunnelType::Gue,
        port: 6080,
        ..Default::default()
    };
    ipvs.add_dest(&key(p), &cfg).unwrap();
    assert_eq!(ipvs.fast_plan(sid(&ipvs, p)), None, "GUE");
    // a wrr period longer than 256
    let ipvs = director(p, "wrr", ForwardMethod::Masq, &[200, 199]);
    assert_eq!(ipvs.fast_plan(sid(&ipvs, p)), None, "period 399");
}

/// The same first packet through `process_in` (slow path) and through a fast path +
/// `adopt` (+ the state event for TCP, + XDP's real-server counters): identical model.
fn same_as_slow_path(p: Protocol, method: ForwardMethod) {
    let weights = [1, 1];
    let now = Time::from_secs(100);
    let len = 60;
    let first = match p {
        Protocol::Tcp => PacketMeta::tcp(ip("10.9.0.7"), 40000, ip(VIP), 80, TcpFlags::SYN),
        _ => PacketMeta::udp(ip("10.9.0.7"), 40000, ip(VIP), 80),
    }
    .with_len(len);
    let mut slow = director(p, "rr", method, &weights);
    let (sid_slow, conn_slow) = picked(slow.process_in(&first, now));

    let mut fast = director(p, "rr", method, &weights);
    let ids = fast.reserve_conn_ids(4);
    assert_eq!(ids.len(), 4);
    let a = Adopt {
        service: sid(&fast, p),
        dest: conn_slow.dest().unwrap(),
        id: ids[2],
        protocol: p,
        caddr: ip("10.9.0.7"),
        cport: 40000,
        vaddr: ip(VIP),
        vport: 80,
    };
    let adopted = fast.adopt(&a, now).unwrap();
    assert_eq!(adopted.dport, 8080);
    if p == Protocol::Tcp {
        assert_eq!(adopted.state, 0, "NONE until the state event");
        fast.observe_counted(a.id, Direction::Input, TcpFlags::SYN, 1, now);
    }
    fast.add_dest_traffic(a.dest, (1, u64::from(len)), (0, 0));
    let cs = *slow.conns().get(sid_slow).unwrap();
    let cf = *fast.conns().get(a.id).unwrap();
    assert_eq!(cf, cs, "{p:?} {method:?}");
    for (ds, df) in dest_ids(&slow, p).iter().zip(dest_ids(&fast, p)) {
        let (ds, df) = (slow.dest(*ds).unwrap(), fast.dest(df).unwrap());
        assert_eq!(
            (df.activeconns, df.inactconns, df.stats.shown()),
            (ds.activeconns, ds.inactconns, ds.stats.shown())
        );
    }
    let (ss, sf) = (
        slow.service(&key(p)).unwrap().stats.shown(),
        fast.service(&key(p)).unwrap().stats.shown(),
    );
    assert_eq!(sf, ss);
    assert_eq!(sf.conns, 1);
    assert_eq!(fast.stats().shown(), slow.stats().shown());
    assert_eq!(Ipvs::state_name(&cf), Ipvs::state_name(&cs));
    // expiry at the same moment, counters back to zero
    let exp = cs.expires;
    slow.poll(Time::from_millis(exp.as_millis() - 1));
    fast.poll(Time::from_millis(exp.as_millis() - 1));
    assert!(fast.conns().get(a.id).is_some());
    slow.poll(exp);
    fast.poll(exp);
    assert!(slow.conns().get(sid_slow).is_none());
    assert!(fast.conns().get(a.id).is_none());
    for did in dest_ids(&fast, p) {
        let d = fast.dest(did).unwrap();
        assert_eq!((d.activeconns, d.inactconns), (0, 0));
    }
    // the other reserved ids are still reserved, not reused
    let (idn, _) = picked(fast.process_in(&first, exp));
    assert!(!ids.contains(&idn) || idn == a.id);
}

#[test]
fn adopt_equals_slow_path_tcp_nat() {
    same_as_slow_path(Protocol::Tcp, ForwardMethod::Masq);
}

#[test]
fn adopt_equals_slow_path_tcp_dr() {
    same_as_slow_path(Protocol::Tcp, ForwardMethod::Route);
}

#[test]
fn adopt_equals_slow_path_udp_nat() {
    same_as_slow_path(Protocol::Udp, ForwardMethod::Masq);
}

#[test]
fn adopt_equals_slow_path_udp_tun() {
    same_as_slow_path(Protocol::Udp, ForwardMethod::Tunnel);
}

#[test]
fn adopt_refusals_change_nothing() {
    let p = Protocol::Tcp;
    let now = Time::from_secs(5);
    let mut ipvs = director(p, "rr", ForwardMethod::Masq, &[1, 1]);
    let ids = ipvs.reserve_conn_ids(2);
    let dests = dest_ids(&ipvs, p);
    let base = Adopt {
        service: sid(&ipvs, p),
        dest: dests[0],
        id: ids[0],
        protocol: p,
        caddr: ip("10.9.0.7"),
        cport: 40000,
        vaddr: ip(VIP),
        vport: 80,
    };
    let before = |ipvs: &Ipvs| {
        (
            ipvs.conns().len(),
            ipvs.service(&key(p)).unwrap().stats.shown(),
            ipvs.conns().reserved_len(),
        )
    };
    let snap = before(&ipvs);
    let not_reserved = Adopt { id: 77, ..base };
    assert_eq!(ipvs.adopt(&not_reserved, now), Err(AdoptError::NotReserved));
    let wrong_port = Adopt { vport: 81, ..base };
    assert_eq!(ipvs.adopt(&wrong_port, now), Err(AdoptError::ServiceGone));
    let wrong_svc = Adopt {
        service: ServiceId(99),
        ..base
    };
    assert_eq!(ipvs.adopt(&wrong_svc, now), Err(AdoptError::ServiceGone));
    assert_eq!(before(&ipvs), snap);
    // a slow-path connection holds the tuple
    let syn = PacketMeta::tcp(ip("10.9.0.7"), 40000, ip(VIP), 80, TcpFlags::SYN);
    picked(ipvs.process_in(&syn, now));
    let snap = before(&ipvs);
    assert_eq!(ipvs.adopt(&base, now), Err(AdoptError::TupleTaken));
    assert_eq!(before(&ipvs), snap);
    // the real server was deleted
    let other = Adopt {
        cport: 40001,
        ..base
    };
    let d0 = ipvs.dest(dests[0]).unwrap().addr;
    ipvs.del_dest(&key(p), d0, 8080, now).unwrap();
    let snap = before(&ipvs);
    assert_eq!(ipvs.adopt(&other, now), Err(AdoptError::DestGone));
    assert_eq!(before(&ipvs), snap);
    assert!(ipvs.conns().is_reserved(ids[0]));
    assert!(ipvs.release_conn_id(ids[0]));
    assert!(!ipvs.release_conn_id(ids[0]));
    // still fine towards the remaining server
    let ok = Adopt {
        dest: dests[1],
        id: ids[1],
        cport: 40002,
        ..base
    };
    let c = ipvs.adopt(&ok, now).unwrap();
    assert_eq!(c.dest(), Some(dests[1]));
    let d1 = ipvs.dest(dests[1]).unwrap();
    assert_eq!(d1.activeconns + d1.inactconns, 1);
}
