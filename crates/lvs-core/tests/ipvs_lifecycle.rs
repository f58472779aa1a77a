//! The director model end to end: configuration errors, connection lifecycle per method,
//! persistence, thresholds, deletion semantics, FULLNAT and stats, driven through
//! `Ipvs::process_in` / `process_out` / `poll` with simulated time.

use std::net::IpAddr;

use lvs_core::conn::{Conn, TcpState};
use lvs_core::ipvs::TEMPLATE_ASSURED;
use lvs_core::{
    Af, DestConfig, ForwardMethod, InVerdict, Ipvs, IpvsError, LaddrError, OutVerdict, PacketMeta,
    Persistence, Protocol, ServiceConfig, ServiceFlags, ServiceKey, TcpFlags, Time, TunnelConfig,
    TunnelType,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn t(secs: u64) -> Time {
    Time::from_secs(secs)
}

const VIP: &str = "10.0.0.1";

fn tcp_svc() -> ServiceKey {
    ServiceKey::tcp(ip(VIP), 80)
}

fn director(sched: &str, method: ForwardMethod, rports: u16, n: usize) -> Ipvs {
    let mut ipvs = Ipvs::default();
    ipvs.add_service(&ServiceConfig::new(tcp_svc(), sched))
        .unwrap();
    for i in 1..=n {
        ipvs.add_dest(
            &tcp_svc(),
            &DestConfig::new(ip(&format!("192.168.1.{i}")), rports, method),
        )
        .unwrap();
    }
    ipvs
}

fn syn(client: &str, sport: u16) -> PacketMeta {
    PacketMeta::tcp(ip(client), sport, ip(VIP), 80, TcpFlags::SYN)
}

fn pkt(client: &str, sport: u16, flags: TcpFlags) -> PacketMeta {
    PacketMeta::tcp(ip(client), sport, ip(VIP), 80, flags)
}

fn forwarded(v: InVerdict) -> Conn {
    match v {
        InVerdict::Forward { conn, .. } => conn,
        other => panic!("expected Forward, got {other:?}"),
    }
}

fn counts(ipvs: &Ipvs, addr: &str) -> (u32, u32, u32) {
    let d = ipvs
        .dests_of(&tcp_svc())
        .into_iter()
        .find(|(_, d)| d.addr == ip(addr))
        .map(|(_, d)| (d.activeconns, d.inactconns, d.persistconns));
    d.unwrap_or_else(|| panic!("{addr} not in service"))
}

fn state(ipvs: &Ipvs, conn: &Conn) -> &'static str {
    let (_, c) = ipvs
        .conns()
        .iter()
        .find(|(_, c)| c.caddr == conn.caddr && c.cport == conn.cport && !c.is_template())
        .expect("connection present");
    Ipvs::state_name(c)
}

// ---------------------------------------------------------------- configuration

#[test]
fn service_errors_are_the_kernel_kinds() {
    let mut ipvs = Ipvs::default();
    let k = tcp_svc();
    assert_eq!(
        ipvs.add_service(&ServiceConfig::new(k, "nosuch")),
        Err(IpvsError::SchedulerNotFound)
    );
    assert!(matches!(
        ipvs.add_service(&ServiceConfig::new(k, "a-very-long-scheduler-name")),
        Err(IpvsError::Invalid { .. })
    ));
    ipvs.add_service(&ServiceConfig::new(k, "rr")).unwrap();
    assert_eq!(
        ipvs.add_service(&ServiceConfig::new(k, "wlc")),
        Err(IpvsError::ServiceExists)
    );
    let other = ServiceKey::udp(ip(VIP), 53);
    assert_eq!(
        ipvs.edit_service(&ServiceConfig::new(other, "rr")),
        Err(IpvsError::NoSuchService)
    );
    assert_eq!(
        ipvs.del_service(&other, t(0)),
        Err(IpvsError::NoSuchService)
    );
    assert_eq!(ipvs.zero_service(&other), Err(IpvsError::NoSuchService));
    let mut bad = ServiceConfig::new(other, "rr");
    bad.persistence = Some(Persistence {
        timeout: 0,
        prefix_len: 32,
    });
    assert!(matches!(
        ipvs.add_service(&bad),
        Err(IpvsError::Invalid { .. })
    ));
    bad.persistence = Some(Persistence {
        timeout: lvs_core::types::MAX_TIMEOUT + 1,
        prefix_len: 32,
    });
    assert!(matches!(
        ipvs.add_service(&bad),
        Err(IpvsError::Invalid { .. })
    ));
    let mut pe = ServiceConfig::new(other, "rr").persistent(360);
    pe.pe_name = Some("sip".into());
    assert_eq!(ipvs.add_service(&pe), Err(IpvsError::SchedulerNotFound));
    assert!(matches!(
        ipvs.add_service(&ServiceConfig::new(
            ServiceKey::Fwmark {
                af: Af::Inet,
                mark: 0
            },
            "rr"
        )),
        Err(IpvsError::Invalid { .. })
    ));
    // Nothing half-applied: only the first service exists.
    assert_eq!(ipvs.services().count(), 1);
}

#[test]
fn dest_errors_are_the_kernel_kinds() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 8080, 1);
    let k = tcp_svc();
    let missing = ServiceKey::tcp(ip("10.0.0.2"), 80);
    let d = DestConfig::new(ip("192.168.1.9"), 8080, ForwardMethod::Masq);
    assert_eq!(
        ipvs.add_dest(&missing, &d),
        Err(IpvsError::ServiceNotDefined)
    );
    assert_eq!(
        ipvs.edit_dest(&missing, &d),
        Err(IpvsError::ServiceNotDefined)
    );
    assert_eq!(
        ipvs.del_dest(&missing, d.addr, d.port, t(0)),
        Err(IpvsError::ServiceNotDefined)
    );
    let exists = DestConfig::new(ip("192.168.1.1"), 8080, ForwardMethod::Masq);
    assert_eq!(ipvs.add_dest(&k, &exists), Err(IpvsError::DestExists));
    assert_eq!(ipvs.edit_dest(&k, &d), Err(IpvsError::NoSuchDest));
    assert_eq!(
        ipvs.del_dest(&k, d.addr, 8080, t(0)),
        Err(IpvsError::NoSuchDest)
    );
    assert_eq!(
        ipvs.add_dest(&k, &d.weight(-1)),
        Err(IpvsError::OutOfRange { what: "weight" })
    );
    let mut thr = d;
    thr.u_threshold = 10;
    thr.l_threshold = 11;
    assert!(matches!(
        ipvs.add_dest(&k, &thr),
        Err(IpvsError::OutOfRange { .. })
    ));
    let v6 = DestConfig::new(ip("2001:db8::1"), 8080, ForwardMethod::Masq);
    assert!(matches!(
        ipvs.add_dest(&k, &v6),
        Err(IpvsError::Invalid { .. })
    ));
    // Mixed family is fine for tunnels.
    let v6tun = DestConfig::new(ip("2001:db8::1"), 80, ForwardMethod::Tunnel);
    ipvs.add_dest(&k, &v6tun).unwrap();
    let mut gue = DestConfig::new(ip("192.168.1.7"), 80, ForwardMethod::Tunnel);
    gue.tunnel = TunnelConfig {
        kind: TunnelType::Gue,
        port: 0,
        ..TunnelConfig::default()
    };
    assert!(matches!(
        ipvs.add_dest(&k, &gue),
        Err(IpvsError::Invalid { .. })
    ));
    let mcast = DestConfig::new(ip("224.0.0.5"), 80, ForwardMethod::Route);
    assert!(matches!(
        ipvs.add_dest(&k, &mcast),
        Err(IpvsError::Invalid { .. })
    ));
    assert_eq!(ipvs.dests_of(&k).len(), 2);
}

#[test]
fn dest_list_is_newest_first_and_edit_keeps_order() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 8080, 3);
    let names: Vec<String> = ipvs
        .dests_of(&tcp_svc())
        .iter()
        .map(|(_, d)| d.addr.to_string())
        .collect();
    assert_eq!(names, ["192.168.1.3", "192.168.1.2", "192.168.1.1"]);
    ipvs.edit_dest(
        &tcp_svc(),
        &DestConfig::new(ip("192.168.1.1"), 8080, ForwardMethod::Masq).weight(5),
    )
    .unwrap();
    let first = ipvs.dests_of(&tcp_svc())[2].1.weight;
    assert_eq!(first, 5);
}

#[test]
fn edit_service_rebinds_the_scheduler() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 8080, 2);
    let c1 = forwarded(ipvs.process_in(&syn("1.1.1.1", 1000), t(0)));
    assert_eq!(c1.daddr_ip(), ip("192.168.1.2"));
    // A fresh rr bound by -E starts again at the head.
    ipvs.edit_service(&ServiceConfig::new(tcp_svc(), "wlc"))
        .unwrap();
    ipvs.edit_service(&ServiceConfig::new(tcp_svc(), "rr"))
        .unwrap();
    let c2 = forwarded(ipvs.process_in(&syn("1.1.1.1", 1001), t(0)));
    assert_eq!(c2.daddr_ip(), ip("192.168.1.2"));
    assert_eq!(ipvs.service(&tcp_svc()).unwrap().scheduler(), "rr");
    assert_eq!(
        ipvs.edit_service(&ServiceConfig::new(tcp_svc(), "bogus")),
        Err(IpvsError::SchedulerNotFound)
    );
    assert_eq!(ipvs.service(&tcp_svc()).unwrap().scheduler(), "rr");
}

// ---------------------------------------------------------------- TCP lifecycle

#[test]
fn nat_tcp_lifecycle_states_counters_and_expiry() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 8080, 1);
    let c = forwarded(ipvs.process_in(&syn("1.1.1.1", 40000), t(0)));
    assert_eq!(c.daddr_ip(), ip("192.168.1.1"));
    assert_eq!(c.dport, 8080, "port mapping VIP:80 -> RIP:8080");
    assert_eq!(c.flags.fwd(), ForwardMethod::Masq);
    assert_eq!(state(&ipvs, &c), "SYN_RECV");
    assert_eq!(counts(&ipvs, "192.168.1.1"), (1, 0, 0));

    // SYN-ACK from the real server.
    let reply = |f| PacketMeta::tcp(ip("192.168.1.1"), 8080, ip("1.1.1.1"), 40000, f);
    assert!(matches!(
        ipvs.process_out(&reply(TcpFlags::SYN_ACK), t(0)),
        OutVerdict::Forward { .. }
    ));
    assert_eq!(state(&ipvs, &c), "SYN_RECV");
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 40000, TcpFlags::ACK), t(1)));
    assert_eq!(state(&ipvs, &c), "ESTABLISHED");
    assert_eq!(counts(&ipvs, "192.168.1.1"), (1, 0, 0));

    // Client closes: ESTABLISHED -fin-> CLOSE_WAIT (inactive), server FIN -> TIME_WAIT.
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 40000, TcpFlags::FIN_ACK), t(2)));
    assert_eq!(state(&ipvs, &c), "CLOSE_WAIT");
    assert_eq!(counts(&ipvs, "192.168.1.1"), (0, 1, 0));
    ipvs.process_out(&reply(TcpFlags::FIN_ACK), t(2));
    assert_eq!(state(&ipvs, &c), "TIME_WAIT");
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 40000, TcpFlags::ACK), t(3)));
    assert_eq!(state(&ipvs, &c), "TIME_WAIT");

    // TIME_WAIT lasts 120 s from the last packet.
    ipvs.poll(t(3 + 119));
    assert_eq!(ipvs.conns().len(), 1);
    ipvs.poll(t(3 + 120));
    assert_eq!(ipvs.conns().len(), 0);
    assert_eq!(counts(&ipvs, "192.168.1.1"), (0, 0, 0));

    // Stats: 4 in, 2 out, 1 conn.
    let s = ipvs.service(&tcp_svc()).unwrap().stats.shown();
    assert_eq!((s.conns, s.inpkts, s.outpkts), (1, 4, 2));
    assert_eq!(ipvs.stats().shown().inpkts, 4);
}

#[test]
fn dr_uses_the_input_only_table() {
    let mut ipvs = director("rr", ForwardMethod::Route, 80, 1);
    let c = forwarded(ipvs.process_in(&syn("1.1.1.1", 40000), t(0)));
    assert_eq!(c.flags.fwd(), ForwardMethod::Route);
    assert_eq!(state(&ipvs, &c), "SYN_RECV");
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 40000, TcpFlags::ACK), t(0)));
    assert_eq!(state(&ipvs, &c), "ESTABLISHED");
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 40000, TcpFlags::FIN_ACK), t(1)));
    // INPUT_ONLY: ESTABLISHED -fin-> FIN_WAIT (the normal INPUT table says CLOSE_WAIT).
    assert_eq!(state(&ipvs, &c), "FIN_WAIT");
    assert_eq!(counts(&ipvs, "192.168.1.1"), (0, 1, 0));
    // FIN_WAIT times out after 120 s.
    ipvs.poll(t(1 + 120));
    assert_eq!(ipvs.conns().len(), 0);
    // No replies pass a DR director: out lookups find nothing.
    let reply = PacketMeta::tcp(ip("192.168.1.1"), 80, ip("1.1.1.1"), 40000, TcpFlags::ACK);
    assert_eq!(ipvs.process_out(&reply, t(200)), OutVerdict::Pass);
}

#[test]
fn rst_closes_and_idle_syn_recv_expires() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 1);
    let c = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    // INPUT rst in SYN_RECV stays SYN_RECV (the kernel table's sSR column).
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::RST), t(0)));
    assert_eq!(state(&ipvs, &c), "SYN_RECV");
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK), t(0)));
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::RST), t(0)));
    assert_eq!(state(&ipvs, &c), "CLOSE");
    assert_eq!(counts(&ipvs, "192.168.1.1"), (0, 1, 0));
    ipvs.poll(t(10));
    assert_eq!(ipvs.conns().len(), 0);

    // A SYN nobody answers: SYN_RECV times out after 60 s.
    forwarded(ipvs.process_in(&syn("1.1.1.1", 2), t(100)));
    ipvs.poll(t(159));
    assert_eq!(ipvs.conns().len(), 1);
    ipvs.poll(t(160));
    assert_eq!(ipvs.conns().len(), 0);
}

#[test]
fn packets_not_for_ipvs_pass() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 1);
    // Not a service.
    let other = PacketMeta::tcp(ip("1.1.1.1"), 1, ip("10.0.0.9"), 80, TcpFlags::SYN);
    assert_eq!(ipvs.process_in(&other, t(0)), InVerdict::Pass);
    // A non-SYN of no connection.
    assert_eq!(
        ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK), t(0)),
        InVerdict::Pass
    );
    // SYN+RST is not scheduled.
    let synrst = TcpFlags {
        syn: true,
        rst: true,
        ..TcpFlags::default()
    };
    assert_eq!(
        ipvs.process_in(&pkt("1.1.1.1", 1, synrst), t(0)),
        InVerdict::Pass
    );
    assert_eq!(ipvs.conns().len(), 0);
    // sloppy_tcp schedules on any non-RST packet.
    ipvs.config_mut().sloppy_tcp = true;
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK), t(0)));
}

#[test]
fn no_destination_is_unreachable() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 0);
    assert_eq!(
        ipvs.process_in(&syn("1.1.1.1", 1), t(0)),
        InVerdict::Unreachable
    );
    // Non-persistent port-0 service: never scheduled.
    let mut ipvs = Ipvs::default();
    let k = ServiceKey::tcp(ip(VIP), 0);
    ipvs.add_service(&ServiceConfig::new(k, "rr")).unwrap();
    ipvs.add_dest(
        &k,
        &DestConfig::new(ip("192.168.1.1"), 0, ForwardMethod::Route),
    )
    .unwrap();
    assert_eq!(
        ipvs.process_in(&syn("1.1.1.1", 1), t(0)),
        InVerdict::Unreachable
    );
}

// ---------------------------------------------------------------- UDP and one-packet

#[test]
fn udp_is_always_inactive_and_lasts_300s() {
    let mut ipvs = Ipvs::default();
    let k = ServiceKey::udp(ip(VIP), 53);
    ipvs.add_service(&ServiceConfig::new(k, "rr")).unwrap();
    ipvs.add_dest(
        &k,
        &DestConfig::new(ip("192.168.1.1"), 53, ForwardMethod::Masq),
    )
    .unwrap();
    let q = PacketMeta::udp(ip("1.1.1.1"), 5353, ip(VIP), 53);
    let c = forwarded(ipvs.process_in(&q, t(0)));
    assert_eq!(Ipvs::state_name(&c), "UDP");
    let reply = PacketMeta::udp(ip("192.168.1.1"), 53, ip("1.1.1.1"), 5353);
    assert!(matches!(
        ipvs.process_out(&reply, t(1)),
        OutVerdict::Forward { .. }
    ));
    let d = ipvs.dests_of(&k)[0].1.clone();
    assert_eq!((d.activeconns, d.inactconns), (0, 1));
    ipvs.poll(t(300));
    assert_eq!(ipvs.conns().len(), 1);
    ipvs.poll(t(301));
    assert_eq!(ipvs.conns().len(), 0);
}

#[test]
fn one_packet_scheduling_schedules_every_datagram() {
    let mut ipvs = Ipvs::default();
    let k = ServiceKey::udp(ip(VIP), 53);
    let mut cfg = ServiceConfig::new(k, "rr");
    cfg.flags = ServiceFlags(ServiceFlags::ONEPACKET);
    ipvs.add_service(&cfg).unwrap();
    for i in 1..=2 {
        ipvs.add_dest(
            &k,
            &DestConfig::new(ip(&format!("192.168.1.{i}")), 53, ForwardMethod::Masq),
        )
        .unwrap();
    }
    let q = PacketMeta::udp(ip("1.1.1.1"), 5353, ip(VIP), 53);
    let picks: Vec<String> = (0..4)
        .map(|_| match ipvs.process_in(&q, t(0)) {
            InVerdict::Forward { id: None, conn } => conn.daddr_ip().to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        picks,
        ["192.168.1.2", "192.168.1.1", "192.168.1.2", "192.168.1.1"]
    );
    assert_eq!(ipvs.conns().len(), 0);
    assert!(ipvs.dests_of(&k).iter().all(|(_, d)| d.inactconns == 0));
    assert_eq!(ipvs.service(&k).unwrap().stats.shown().conns, 4);
}

// ---------------------------------------------------------------- persistence

fn persistent_director(prefix_len: u8) -> Ipvs {
    let mut ipvs = Ipvs::default();
    let mut cfg = ServiceConfig::new(tcp_svc(), "rr");
    cfg.persistence = Some(Persistence {
        timeout: 360,
        prefix_len,
    });
    ipvs.add_service(&cfg).unwrap();
    for i in 1..=2 {
        ipvs.add_dest(
            &tcp_svc(),
            &DestConfig::new(ip(&format!("192.168.1.{i}")), 8080, ForwardMethod::Masq),
        )
        .unwrap();
    }
    ipvs
}

#[test]
fn persistence_keeps_a_client_on_one_server_until_the_template_expires() {
    let mut ipvs = persistent_director(32);
    let a = forwarded(ipvs.process_in(&syn("1.1.1.1", 1000), t(0)));
    let b = forwarded(ipvs.process_in(&syn("1.1.1.1", 1001), t(1)));
    let other = forwarded(ipvs.process_in(&syn("2.2.2.2", 1000), t(1)));
    assert_eq!(a.daddr, b.daddr, "same client, same real server");
    assert_ne!(a.daddr, other.daddr, "rr moved on for the next client");
    assert_eq!(a.dport, 8080);
    // Templates: <TCP, 1.1.1.1:0, VIP:80> -> RS:8080, counted in persistconns.
    let tpls: Vec<Conn> = ipvs
        .conns()
        .iter()
        .filter(|(_, c)| c.is_template())
        .map(|(_, c)| *c)
        .collect();
    assert_eq!(tpls.len(), 2);
    let tpl = tpls.iter().find(|c| c.caddr_ip() == ip("1.1.1.1")).unwrap();
    assert_eq!(
        (tpl.cport, tpl.vport, tpl.dport, tpl.n_control),
        (0, 80, 8080, 2)
    );
    assert_eq!(Ipvs::state_name(tpl), "NONE");
    let rs_a = a.daddr_ip().to_string();
    assert_eq!(counts(&ipvs, &rs_a).2, 1);

    // The connections die (SYN_RECV, 60 s); the template lives on while it controls
    // them, then until 360 s after the last new connection (t=1).
    ipvs.poll(t(61));
    assert_eq!(
        ipvs.conns()
            .iter()
            .filter(|(_, c)| !c.is_template())
            .count(),
        0
    );
    assert_eq!(ipvs.conns().len(), 2);
    let c = forwarded(ipvs.process_in(&syn("1.1.1.1", 1002), t(300)));
    assert_eq!(c.daddr, a.daddr, "template still valid at t=300");
    // Now controlled again; the template's timer restarted at t=300.
    ipvs.poll(t(300 + 61));
    ipvs.poll(t(300 + 359));
    assert!(
        ipvs.conns()
            .iter()
            .any(|(_, c)| c.is_template() && c.caddr_ip() == ip("1.1.1.1"))
    );
    ipvs.poll(t(300 + 360));
    assert!(
        !ipvs
            .conns()
            .iter()
            .any(|(_, c)| c.is_template() && c.caddr_ip() == ip("1.1.1.1"))
    );
    assert_eq!(counts(&ipvs, &rs_a).2, 0);
}

#[test]
fn template_outliving_its_timeout_is_kept_while_it_controls() {
    let mut ipvs = persistent_director(32);
    let a = forwarded(ipvs.process_in(&syn("1.1.1.1", 1000), t(0)));
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1000, TcpFlags::ACK), t(0)));
    // ESTABLISHED assures the template.
    let tpl = ipvs
        .conns()
        .iter()
        .find(|(_, c)| c.is_template())
        .unwrap()
        .1;
    assert_eq!(tpl.state & TEMPLATE_ASSURED, TEMPLATE_ASSURED);
    assert_eq!(Ipvs::state_name(tpl), "ASSURED");
    // Keep the connection alive past the template's 360 s.
    for s in (100..=800).step_by(100) {
        forwarded(ipvs.process_in(&pkt("1.1.1.1", 1000, TcpFlags::ACK), t(s)));
        ipvs.poll(t(s));
    }
    let tpl = ipvs
        .conns()
        .iter()
        .find(|(_, c)| c.is_template())
        .unwrap()
        .1;
    assert_eq!(tpl.timeout_ms, 60_000, "re-armed in 60 s steps");
    assert_eq!(tpl.daddr, a.daddr);
}

#[test]
fn persistence_netmask_groups_clients() {
    let mut ipvs = persistent_director(24);
    let a = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    let b = forwarded(ipvs.process_in(&syn("1.1.1.200", 1), t(0)));
    let c = forwarded(ipvs.process_in(&syn("1.1.2.1", 1), t(0)));
    assert_eq!(a.daddr, b.daddr);
    assert_ne!(a.daddr, c.daddr);
    let tpl = ipvs
        .conns()
        .iter()
        .find(|(_, c)| c.is_template() && c.caddr_ip() == ip("1.1.1.0"));
    assert!(tpl.is_some(), "template keyed by the masked client network");
}

#[test]
fn fwmark_persistence_binds_ports_of_one_client_together() {
    let mut ipvs = Ipvs::default();
    let k = ServiceKey::Fwmark {
        af: Af::Inet,
        mark: 20,
    };
    ipvs.add_service(&ServiceConfig::new(k, "rr").persistent(360))
        .unwrap();
    for i in 1..=2 {
        ipvs.add_dest(
            &k,
            &DestConfig::new(ip(&format!("192.168.1.{i}")), 0, ForwardMethod::Route),
        )
        .unwrap();
    }
    let http = PacketMeta::tcp(ip("1.1.1.1"), 1000, ip(VIP), 80, TcpFlags::SYN).with_mark(20);
    let https = PacketMeta::tcp(ip("1.1.1.1"), 1001, ip(VIP), 443, TcpFlags::SYN).with_mark(20);
    let a = forwarded(ipvs.process_in(&http, t(0)));
    let b = forwarded(ipvs.process_in(&https, t(0)));
    assert_eq!(a.daddr, b.daddr);
    assert_eq!(
        (a.dport, b.dport),
        (80, 443),
        "dest port 0 keeps the packet's port"
    );
    let tpl = ipvs
        .conns()
        .iter()
        .find(|(_, c)| c.is_template())
        .unwrap()
        .1;
    assert_eq!(tpl.protocol, 0, "fwmark templates have protocol IP");
    assert_eq!(tpl.vaddr_ip(), ip("0.0.0.20"));
    // Unmarked traffic is not for this service.
    let plain = PacketMeta::tcp(ip("1.1.1.1"), 1002, ip(VIP), 80, TcpFlags::SYN);
    assert_eq!(ipvs.process_in(&plain, t(0)), InVerdict::Pass);
}

#[test]
fn port_zero_persistent_service_covers_every_port() {
    let mut ipvs = Ipvs::default();
    let k = ServiceKey::tcp(ip(VIP), 0);
    ipvs.add_service(&ServiceConfig::new(k, "rr").persistent(60))
        .unwrap();
    for i in 1..=2 {
        ipvs.add_dest(
            &k,
            &DestConfig::new(ip(&format!("192.168.1.{i}")), 0, ForwardMethod::Route),
        )
        .unwrap();
    }
    let a = forwarded(ipvs.process_in(
        &PacketMeta::tcp(ip("1.1.1.1"), 5, ip(VIP), 22, TcpFlags::SYN),
        t(0),
    ));
    let b = forwarded(ipvs.process_in(
        &PacketMeta::tcp(ip("1.1.1.1"), 6, ip(VIP), 80, TcpFlags::SYN),
        t(0),
    ));
    assert_eq!(a.daddr, b.daddr);
    assert_eq!((a.dport, b.dport), (22, 80));
}

#[test]
fn quiesced_dest_keeps_persistent_clients_unless_expire_quiescent_template() {
    for expire_quiescent in [false, true] {
        let mut ipvs = persistent_director(32);
        ipvs.config_mut().expire_quiescent_template = expire_quiescent;
        let a = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
        ipvs.edit_dest(
            &tcp_svc(),
            &DestConfig::new(a.daddr_ip(), 8080, ForwardMethod::Masq).weight(0),
        )
        .unwrap();
        let b = forwarded(ipvs.process_in(&syn("1.1.1.1", 2), t(1)));
        assert_eq!(a.daddr == b.daddr, !expire_quiescent);
    }
}

// ---------------------------------------------------------------- weight 0 and deletion

#[test]
fn weight_zero_stops_new_connections_but_existing_continue() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 2);
    let a = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    assert_eq!(a.daddr_ip(), ip("192.168.1.2"));
    ipvs.edit_dest(
        &tcp_svc(),
        &DestConfig::new(ip("192.168.1.2"), 80, ForwardMethod::Masq).weight(0),
    )
    .unwrap();
    for p in 2..6 {
        let c = forwarded(ipvs.process_in(&syn("1.1.1.1", p), t(0)));
        assert_eq!(c.daddr_ip(), ip("192.168.1.1"));
    }
    let again = forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK), t(1)));
    assert_eq!(again.daddr_ip(), ip("192.168.1.2"));
}

#[test]
fn deleted_dest_drops_packets_or_expires_with_expire_nodest_conn() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 2);
    let a = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    ipvs.del_dest(&tcp_svc(), a.daddr_ip(), 80, t(0)).unwrap();
    assert_eq!(
        ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK), t(1)),
        InVerdict::Drop
    );
    assert_eq!(ipvs.trash_len(), 1, "still referenced");

    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 2);
    ipvs.config_mut().expire_nodest_conn = true;
    let a = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    let b = forwarded(ipvs.process_in(&syn("1.1.1.1", 2), t(0)));
    ipvs.del_dest(&tcp_svc(), a.daddr_ip(), 80, t(0)).unwrap();
    // Background flush: the connection to the deleted server is gone at once.
    assert_eq!(ipvs.conns().len(), 1);
    // A retransmitted SYN is scheduled anew on the remaining server.
    let again = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(1)));
    assert_eq!(again.daddr, b.daddr);
}

#[test]
fn deleted_dest_is_revived_with_its_counters_within_the_trash_period() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 1);
    forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    ipvs.del_dest(&tcp_svc(), ip("192.168.1.1"), 80, t(0))
        .unwrap();
    ipvs.add_dest(
        &tcp_svc(),
        &DestConfig::new(ip("192.168.1.1"), 80, ForwardMethod::Masq),
    )
    .unwrap();
    assert_eq!(
        counts(&ipvs, "192.168.1.1"),
        (1, 0, 0),
        "revived with its connection"
    );
    let s = ipvs.dests_of(&tcp_svc())[0].1.stats.shown();
    assert_eq!(s.conns, 1);
    // The old connection forwards again.
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK), t(1)));

    // Once unreferenced for 120 s the record is freed and a re-add starts from zero.
    ipvs.del_dest(&tcp_svc(), ip("192.168.1.1"), 80, t(1))
        .unwrap();
    ipvs.expire_all(t(2));
    ipvs.poll(t(3));
    assert_eq!(ipvs.trash_len(), 1);
    ipvs.poll(t(3 + 120));
    assert_eq!(ipvs.trash_len(), 0);
    ipvs.add_dest(
        &tcp_svc(),
        &DestConfig::new(ip("192.168.1.1"), 80, ForwardMethod::Masq),
    )
    .unwrap();
    assert_eq!(ipvs.dests_of(&tcp_svc())[0].1.stats.shown().conns, 0);
}

#[test]
fn deleting_a_service_stops_its_traffic_at_once() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 1);
    forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    ipvs.del_service(&tcp_svc(), t(0)).unwrap();
    assert_eq!(
        ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK), t(1)),
        InVerdict::Drop
    );
    assert_eq!(ipvs.process_in(&syn("1.1.1.1", 2), t(1)), InVerdict::Pass);
    ipvs.flush(t(1));
    assert_eq!(ipvs.services().count(), 0);
}

#[test]
fn syn_on_time_wait_connection_is_rescheduled() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 2);
    let a = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK), t(0)));
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::RST), t(0)));
    // CLOSE: a new SYN on the same tuple expires it and schedules afresh (conn_reuse_mode).
    let b = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(1)));
    assert_ne!(
        a.daddr, b.daddr,
        "rr advanced: a new connection was scheduled"
    );
    assert_eq!(ipvs.conns().len(), 1);
    assert_eq!(ipvs.service(&tcp_svc()).unwrap().stats.shown().conns, 2);
}

// ---------------------------------------------------------------- thresholds

#[test]
fn upper_threshold_sets_overload_and_hysteresis_clears_it() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 2);
    let mut d = DestConfig::new(ip("192.168.1.2"), 80, ForwardMethod::Masq);
    d.u_threshold = 4;
    ipvs.edit_dest(&tcp_svc(), &d).unwrap();
    // rr: .2 .1 .2 .1 ... .2 reaches 4 conns after 8 picks.
    for p in 0..8 {
        forwarded(ipvs.process_in(&syn("1.1.1.1", 100 + p), t(0)));
    }
    let d2 = |ipvs: &Ipvs| {
        ipvs.dests_of(&tcp_svc())
            .into_iter()
            .find(|(_, d)| d.addr == ip("192.168.1.2"))
            .unwrap()
            .1
            .clone()
    };
    assert!(d2(&ipvs).is_overloaded());
    for p in 8..12 {
        let c = forwarded(ipvs.process_in(&syn("1.1.1.1", 100 + p), t(0)));
        assert_eq!(c.daddr_ip(), ip("192.168.1.1"), "overloaded server skipped");
    }
    // Close .2's connections one by one: OVERLOAD clears when conns*4 < u*3, i.e. at 2.
    let mine: Vec<u16> = ipvs
        .conns()
        .iter()
        .filter(|(_, c)| c.daddr_ip() == ip("192.168.1.2"))
        .map(|(_, c)| c.cport)
        .collect();
    assert_eq!(mine.len(), 4);
    let close = |ipvs: &mut Ipvs, port: u16, at: u64| {
        forwarded(ipvs.process_in(&pkt("1.1.1.1", port, TcpFlags::ACK), t(at)));
        forwarded(ipvs.process_in(&pkt("1.1.1.1", port, TcpFlags::RST), t(at)));
    };
    close(&mut ipvs, mine[0], 1);
    ipvs.poll(t(11));
    assert!(d2(&ipvs).is_overloaded(), "3 of 4: still overloaded");
    close(&mut ipvs, mine[1], 12);
    ipvs.poll(t(22));
    assert!(!d2(&ipvs).is_overloaded(), "2*4 < 4*3: cleared");
}

// ---------------------------------------------------------------- FULLNAT

#[test]
fn fullnat_allocates_local_ports_and_finds_replies_by_them() {
    let mut ipvs = director("rr", ForwardMethod::FullNat, 8080, 1);
    assert_eq!(
        ipvs.process_in(&syn("1.1.1.1", 1), t(0)),
        InVerdict::Drop,
        "no local address configured"
    );
    ipvs.add_laddr(&tcp_svc(), ip("172.16.0.1")).unwrap();
    assert!(matches!(
        ipvs.add_laddr(&tcp_svc(), ip("172.16.0.1")),
        Err(IpvsError::Laddr(LaddrError::Exists))
    ));
    let c = forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    assert_eq!(c.flags.fwd(), ForwardMethod::FullNat);
    assert_eq!((c.laddr_ip(), c.lport), (ip("172.16.0.1"), 1024));
    let c2 = forwarded(ipvs.process_in(&syn("1.1.1.2", 1), t(0)));
    assert_eq!(c2.lport, 1025);
    // The reply comes back to LIP:lport.
    let reply = PacketMeta::tcp(
        ip("192.168.1.1"),
        8080,
        ip("172.16.0.1"),
        1024,
        TcpFlags::SYN_ACK,
    );
    match ipvs.process_out(&reply, t(0)) {
        OutVerdict::Forward { conn, .. } => assert_eq!(conn.caddr_ip(), ip("1.1.1.1")),
        other => panic!("{other:?}"),
    }
    assert_eq!(ipvs.laddrs(&tcp_svc()).unwrap()[0].used_ports, 2);
    // Ports return on expiry.
    ipvs.poll(t(61));
    assert_eq!(ipvs.conns().len(), 0);
    assert_eq!(ipvs.laddrs(&tcp_svc()).unwrap()[0].used_ports, 0);
}

// ---------------------------------------------------------------- stats

#[test]
fn stats_count_per_dest_service_and_total_and_zero() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 2);
    forwarded(ipvs.process_in(&syn("1.1.1.1", 1).with_len(60), t(0)));
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK).with_len(1500), t(0)));
    let reply =
        PacketMeta::tcp(ip("192.168.1.2"), 80, ip("1.1.1.1"), 1, TcpFlags::ACK).with_len(400);
    ipvs.process_out(&reply, t(0));
    let d = ipvs.dests_of(&tcp_svc())[0].1.stats.shown();
    assert_eq!(
        (d.conns, d.inpkts, d.inbytes, d.outpkts, d.outbytes),
        (1, 2, 1560, 1, 400)
    );
    let s = ipvs.service(&tcp_svc()).unwrap().stats.shown();
    assert_eq!(s, d);
    assert_eq!(ipvs.stats().shown(), d);
    // Rates after one estimator tick (2 s): a quarter of the 2-second delta per second.
    ipvs.poll(t(2));
    let r = ipvs.service(&tcp_svc()).unwrap().stats.rates();
    assert_eq!(r.inbps, ((((1560u64 << 4) >> 2) + 0xF) >> 5));
    ipvs.zero_all();
    assert_eq!(ipvs.stats().shown().inpkts, 0);
    assert_eq!(ipvs.service(&tcp_svc()).unwrap().stats.rates().inbps, 0);
}

#[test]
fn set_timeouts_changes_established_fin_and_udp() {
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 1);
    ipvs.set_timeouts(10, 0, 5).unwrap();
    assert_eq!(ipvs.config().timeouts.get(), (10, 120, 5));
    assert!(
        ipvs.set_timeouts(lvs_core::types::MAX_TIMEOUT + 1, 0, 0)
            .is_err()
    );
    forwarded(ipvs.process_in(&syn("1.1.1.1", 1), t(0)));
    forwarded(ipvs.process_in(&pkt("1.1.1.1", 1, TcpFlags::ACK), t(0)));
    ipvs.poll(t(9));
    assert_eq!(ipvs.conns().len(), 1);
    ipvs.poll(t(10));
    assert_eq!(ipvs.conns().len(), 0);
    let _ = TcpState::Established;
    let _ = Protocol::Tcp;
}

// ---------------------------------------------------------------- fast-path hooks

#[test]
fn fast_path_activity_keeps_connections_alive_and_counts() {
    use lvs_core::conn::Direction;
    let mut ipvs = director("rr", ForwardMethod::Masq, 80, 1);
    ipvs.set_journal(true);
    let id = match ipvs.process_in(&syn("1.1.1.1", 1), t(0)) {
        InVerdict::Forward { id: Some(id), .. } => id,
        other => panic!("{other:?}"),
    };
    // The fast path saw the handshake's ACK: ESTABLISHED, active.
    ipvs.observe(id, Direction::Input, TcpFlags::ACK, t(1));
    let c = *ipvs.conns().get(id).unwrap();
    assert_eq!(Ipvs::state_name(&c), "ESTABLISHED");
    assert_eq!(counts(&ipvs, "192.168.1.1"), (1, 0, 0));
    // 900 s after t=1 the entry would expire; the fast path saw it at t=800.
    ipvs.poll_with(t(901), |_, _| Some(t(800)));
    assert!(
        ipvs.conns().get(id).is_some(),
        "re-armed from the last fast-path packet"
    );
    assert!(ipvs.drain_removed().is_empty());
    ipvs.poll_with(t(1700), |_, _| Some(t(800)));
    assert!(ipvs.conns().get(id).is_none());
    let removed = ipvs.drain_removed();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].0, id);
    assert_eq!(removed[0].1.caddr_ip(), ip("1.1.1.1"));
    // Fast-path counters land on the dest, the service and the totals.
    let did = ipvs.dests_of(&tcp_svc())[0].0;
    ipvs.add_dest_traffic(did, (10, 1000), (5, 500));
    let s = ipvs.service(&tcp_svc()).unwrap().stats.shown();
    assert_eq!(
        (s.inpkts, s.inbytes, s.outpkts, s.outbytes),
        (11, 1060, 5, 500)
    );
    assert_eq!(ipvs.stats().shown().outbytes, 500);
}
