//! Property tests of the director model: whatever the sequence of packets, configuration
//! changes and time steps, counters never leak. After every connection and template has
//! expired, every activeconns/inactconns/persistconns is 0, the table is empty and every
//! FULLNAT port is back in its pool.

use std::net::{IpAddr, Ipv4Addr};

use lvs_core::{
    Af, DestConfig, ForwardMethod, Ipvs, PacketMeta, ServiceConfig, ServiceKey, TcpFlags, Time,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// A client packet: client index, source port, service index, TCP flags selector.
    In(u8, u8, u8, u8),
    /// A reply from the connection's real server (if the client has one).
    Out(u8, u8, u8, u8),
    /// Set a real server's weight.
    Weight(u8, u8, u8),
    /// Delete a real server.
    Del(u8, u8),
    /// (Re-)add a real server.
    Add(u8, u8),
    /// Advance the clock by this many seconds.
    Tick(u16),
    /// Toggle expire_nodest_conn.
    Nodest(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..6, 0u8..4, 0u8..4, 0u8..6).prop_map(|(a, b, c, d)| Op::In(a, b, c, d)),
        3 => (0u8..6, 0u8..4, 0u8..4, 0u8..6).prop_map(|(a, b, c, d)| Op::Out(a, b, c, d)),
        1 => (0u8..4, 0u8..3, 0u8..3).prop_map(|(a, b, c)| Op::Weight(a, b, c)),
        1 => (0u8..4, 0u8..3).prop_map(|(a, b)| Op::Del(a, b)),
        1 => (0u8..4, 0u8..3).prop_map(|(a, b)| Op::Add(a, b)),
        2 => (0u16..400).prop_map(Op::Tick),
        1 => any::<bool>().prop_map(Op::Nodest),
    ]
}

fn vip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
}

/// Four services: TCP NAT rr, TCP DR persistent wlc /24, UDP NAT sh, TCP FULLNAT lc.
fn services() -> Vec<(ServiceKey, ServiceConfig, ForwardMethod)> {
    let t80 = ServiceKey::tcp(vip(), 80);
    let t443 = ServiceKey::tcp(vip(), 443);
    let u53 = ServiceKey::udp(vip(), 53);
    let t8080 = ServiceKey::tcp(vip(), 8080);
    let mut p = ServiceConfig::new(t443, "wlc").persistent(100);
    if let Some(pp) = p.persistence.as_mut() {
        pp.prefix_len = 24;
    }
    vec![
        (t80, ServiceConfig::new(t80, "rr"), ForwardMethod::Masq),
        (t443, p, ForwardMethod::Route),
        (u53, ServiceConfig::new(u53, "sh"), ForwardMethod::Masq),
        (
            t8080,
            ServiceConfig::new(t8080, "lc"),
            ForwardMethod::FullNat,
        ),
    ]
}

fn rs(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1 + i))
}

fn client(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(1, 1, i / 3, 1 + i))
}

fn flags(sel: u8) -> TcpFlags {
    match sel {
        0 | 1 => TcpFlags::SYN,
        2 => TcpFlags::ACK,
        3 => TcpFlags::FIN_ACK,
        4 => TcpFlags::RST,
        _ => TcpFlags::SYN_ACK,
    }
}

fn packet(svc: &ServiceKey, c: IpAddr, sport: u16, f: TcpFlags) -> PacketMeta {
    match svc {
        ServiceKey::Addr {
            protocol: lvs_core::Protocol::Udp,
            port,
            ..
        } => PacketMeta::udp(c, sport, vip(), *port),
        other => PacketMeta::tcp(c, sport, vip(), other.port(), f),
    }
}

fn check_no_leaks(ipvs: &mut Ipvs, mut now: Time) -> Result<(), TestCaseError> {
    // Let every timer run: connections, then templates kept alive by them (60 s steps).
    for _ in 0..10 {
        now = now.add_millis(1_000_000);
        ipvs.poll(now);
    }
    prop_assert_eq!(ipvs.conns().len(), 0);
    let svcs: Vec<ServiceKey> = ipvs.services().map(|s| *s.key()).collect();
    for k in &svcs {
        for (_, d) in ipvs.dests_of(k) {
            prop_assert_eq!(
                (d.activeconns, d.inactconns, d.persistconns),
                (0, 0, 0),
                "leaked counters on {}",
                d.addr
            );
            prop_assert!(!d.is_overloaded() || d.u_threshold != 0);
        }
        for l in ipvs.laddrs(k).unwrap() {
            prop_assert_eq!(l.used_ports, 0, "leaked FULLNAT ports on {}", l.addr);
        }
    }
    prop_assert_eq!(ipvs.trash_len(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn counters_never_leak(ops in proptest::collection::vec(op(), 1..300)) {
        let mut ipvs = Ipvs::default();
        let svcs = services();
        for (k, cfg, fwd) in &svcs {
            ipvs.add_service(cfg).unwrap();
            for i in 0..3 {
                let mut d = DestConfig::new(rs(i), k.port(), *fwd);
                d.u_threshold = if i == 0 { 3 } else { 0 };
                ipvs.add_dest(k, &d).unwrap();
            }
            if *fwd == ForwardMethod::FullNat {
                ipvs.add_laddr(k, IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1))).unwrap();
            }
        }
        let mut now = Time::from_secs(1);
        for op in ops {
            match op {
                Op::In(c, sp, s, f) => {
                    let (k, _, _) = &svcs[usize::from(s)];
                    let p = packet(k, client(c), 1000 + u16::from(sp), flags(f));
                    let _ = ipvs.process_in(&p, now);
                }
                Op::Out(c, sp, s, f) => {
                    let (k, _, _) = &svcs[usize::from(s)];
                    // Reply from whichever real server the client's connection uses.
                    let conn = ipvs.conns().iter().find(|(_, x)| {
                        !x.is_template() && x.caddr_ip() == client(c)
                            && x.cport == 1000 + u16::from(sp) && x.vport == k.port()
                    }).map(|(_, x)| *x);
                    if let Some(x) = conn {
                        let (dst, dport) = if x.lport != 0 {
                            (x.laddr_ip(), x.lport)
                        } else {
                            (x.caddr_ip(), x.cport)
                        };
                        let mut p = packet(k, x.daddr_ip(), x.dport, flags(f));
                        p.sport = x.dport;
                        p.daddr = dst;
                        p.dport = dport;
                        let _ = ipvs.process_out(&p, now);
                    }
                }
                Op::Weight(s, i, w) => {
                    let (k, _, fwd) = &svcs[usize::from(s)];
                    let d = DestConfig::new(rs(i), k.port(), *fwd).weight(i32::from(w));
                    let _ = ipvs.edit_dest(k, &d);
                }
                Op::Del(s, i) => {
                    let (k, _, _) = &svcs[usize::from(s)];
                    let _ = ipvs.del_dest(k, rs(i), k.port(), now);
                }
                Op::Add(s, i) => {
                    let (k, _, fwd) = &svcs[usize::from(s)];
                    let _ = ipvs.add_dest(k, &DestConfig::new(rs(i), k.port(), *fwd));
                }
                Op::Tick(secs) => {
                    now = now.add_millis(u64::from(secs) * 1000);
                    ipvs.poll(now);
                }
                Op::Nodest(b) => ipvs.config_mut().expire_nodest_conn = b,
            }
            // Invariant at every step: the counters equal what the table holds.
            for (k, _, _) in &svcs {
                for (id, d) in ipvs.dests_of(k) {
                    let mut act = 0;
                    let mut inact = 0;
                    let mut tpl = 0;
                    for (_, c) in ipvs.conns().iter() {
                        if c.dest() != Some(id) { continue; }
                        if c.is_template() { tpl += 1 }
                        else if c.flags.has(lvs_core::conn::ConnFlags::INACTIVE) { inact += 1 }
                        else { act += 1 }
                    }
                    prop_assert_eq!((d.activeconns, d.inactconns, d.persistconns), (act, inact, tpl));
                }
            }
        }
        let _ = Af::Inet;
        check_no_leaks(&mut ipvs, now)?;
    }
}
