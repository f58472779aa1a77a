//! Transactional apply of a whole configuration (`Ipvs::apply_setup`): the diff touches
//! only what changed, connections and counters of what stays survive, and a document with
//! any bad item changes nothing.

use std::net::IpAddr;

use lvs_core::apply::{Step, service_name};
use lvs_core::{
    Af, ApplyReport, DestConfig, ForwardMethod, InVerdict, Ipvs, IpvsError, LaddrError, PacketMeta,
    Persistence, Protocol, SchedError, ServiceConfig, ServiceFlags, ServiceKey, ServiceSetup,
    Setup, TcpFlags, Time, TunnelConfig, TunnelType,
};

/// The `mh` lookup table size (kernel default `CONFIG_IP_VS_MH_TAB_INDEX` 12: the prime
/// 4093), the most real servers an `mh` service holds.
const MH_TAB_SIZE: usize = 4093;
use proptest::prelude::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::tcp(ip(addr), port)
}

fn dest(addr: &str, port: u16, fwd: ForwardMethod, weight: i32) -> DestConfig {
    DestConfig::new(ip(addr), port, fwd).weight(weight)
}

fn svc(key: ServiceKey, sched: &str, dests: Vec<DestConfig>) -> ServiceSetup {
    ServiceSetup {
        service: ServiceConfig::new(key, sched),
        dests,
        laddrs: Vec::new(),
    }
}

/// A director with a bit of everything: NAT with persistence, IPv6 DR, an fwmark service,
/// a FULLNAT service with local addresses, a tunnel with GUE, thresholds, weight 0.
fn rich() -> Setup {
    let mut web = svc(
        tcp("10.0.0.1", 80),
        "wlc",
        vec![
            dest("10.2.0.11", 8080, ForwardMethod::Masq, 3),
            dest("10.2.0.12", 8080, ForwardMethod::Masq, 0),
        ],
    );
    web.service.persistence = Some(Persistence {
        timeout: 360,
        prefix_len: 24,
    });
    web.dests[0].u_threshold = 100;
    web.dests[0].l_threshold = 10;
    let mut v6 = svc(
        ServiceKey::udp(ip("fd00::1"), 53),
        "sh",
        vec![dest("fd00::11", 53, ForwardMethod::Route, 1)],
    );
    v6.service.flags = ServiceFlags(ServiceFlags::SCHED1);
    let fwm = svc(
        ServiceKey::Fwmark {
            af: Af::Inet,
            mark: 7,
        },
        "rr",
        vec![dest("10.2.0.13", 0, ForwardMethod::Route, 1)],
    );
    let mut full = svc(
        tcp("10.0.0.2", 443),
        "rr",
        vec![
            dest("10.2.0.11", 443, ForwardMethod::FullNat, 1),
            dest("10.2.0.12", 443, ForwardMethod::FullNat, 2),
        ],
    );
    full.laddrs = vec![ip("10.2.0.200"), ip("10.2.0.201")];
    let mut tun = svc(
        tcp("10.0.0.3", 80),
        "mh",
        vec![dest("10.3.0.1", 80, ForwardMethod::Tunnel, 1)],
    );
    tun.dests[0].tunnel = TunnelConfig {
        kind: TunnelType::Gue,
        port: 6080,
        ..TunnelConfig::default()
    };
    Setup {
        services: vec![web, v6, fwm, full, tun],
        timeouts: Some((900, 120, 300)),
    }
}

fn apply(ipvs: &mut Ipvs, s: &Setup) -> ApplyReport {
    ipvs.apply_setup(s, Time::ZERO)
        .unwrap_or_else(|e| panic!("apply failed: {e}"))
}

fn syn(client: &str, sport: u16, vip: &str, vport: u16) -> PacketMeta {
    PacketMeta::tcp(ip(client), sport, ip(vip), vport, TcpFlags::SYN)
}

#[test]
fn a_document_applied_to_an_empty_director_reads_back_identically() {
    let mut ipvs = Ipvs::default();
    let want = rich();
    let r = apply(&mut ipvs, &want);
    assert_eq!(r.services_added, 5);
    assert_eq!(r.dests_added, 7);
    assert_eq!(r.laddrs_added, 2);
    assert!(!r.timeouts_changed, "the defaults were asked for");
    assert_eq!(ipvs.setup(), want, "real servers keep document order");
}

#[test]
fn get_then_put_is_a_noop() {
    let mut ipvs = Ipvs::default();
    apply(&mut ipvs, &rich());
    // Change the table by hand, as ipvsadm would, then read it back and apply that.
    ipvs.add_dest(
        &tcp("10.0.0.1", 80),
        &dest("10.2.0.14", 8080, ForwardMethod::Masq, 5),
    )
    .unwrap();
    ipvs.set_timeouts(0, 0, 30).unwrap();
    let now = ipvs.setup();
    let plan = ipvs.plan(&now).unwrap();
    assert_eq!(plan.steps, Vec::<Step>::new());
    let r = apply(&mut ipvs, &now);
    assert!(r.is_noop(), "{r:?}");
    assert_eq!(r.services_unchanged, 5);
    assert_eq!(r.dests_unchanged, 8);
    assert_eq!(ipvs.setup(), now);
}

#[test]
fn what_stays_keeps_its_connections_counters_and_handles() {
    let mut ipvs = Ipvs::default();
    let mut want = rich();
    apply(&mut ipvs, &want);
    let web = tcp("10.0.0.1", 80);
    // Two connections to the web service (the weight-0 server gets none).
    for p in [1000, 1001] {
        let v = ipvs.process_in(&syn("192.0.2.1", p, "10.0.0.1", 80), Time::ZERO);
        assert!(matches!(v, InVerdict::Forward { .. }), "{v:?}");
    }
    let conns_before = ipvs.conns().len();
    let ids_before: Vec<_> = ipvs.dests_of(&web).iter().map(|(id, _)| *id).collect();
    let web_conns = ipvs.service(&web).unwrap().stats.total.conns;
    assert_eq!(web_conns, 2);

    // Reload: web stays as it is; full gets a new weight for one server, loses the
    // other and gains one; fwm is removed; a new UDP service appears; tun switches
    // scheduler; the UDP timeout changes.
    want.services[3].dests[0].weight = 5;
    want.services[3].dests.retain(|d| d.addr != ip("10.2.0.12"));
    want.services[3]
        .dests
        .push(dest("10.2.0.14", 443, ForwardMethod::FullNat, 1));
    want.services[3].laddrs = vec![ip("10.2.0.201"), ip("10.2.0.202")];
    want.services.remove(2);
    want.services[3].service.scheduler = "rr".into();
    want.services.push(svc(
        ServiceKey::udp(ip("10.0.0.9"), 514),
        "lc",
        vec![dest("10.2.0.11", 514, ForwardMethod::Masq, 1)],
    ));
    want.timeouts = Some((0, 0, 60));
    let r = apply(&mut ipvs, &want);
    assert_eq!(
        r,
        ApplyReport {
            services_added: 1,
            services_edited: 1,
            services_deleted: 1,
            services_unchanged: 3,
            dests_added: 2,
            dests_edited: 1,
            dests_deleted: 1,
            dests_unchanged: 4,
            laddrs_added: 1,
            laddrs_deleted: 1,
            timeouts_changed: true,
        }
    );
    assert_eq!(ipvs.conns().len(), conns_before, "no connection touched");
    let ids_after: Vec<_> = ipvs.dests_of(&web).iter().map(|(id, _)| *id).collect();
    assert_eq!(ids_after, ids_before, "same real servers, same handles");
    assert_eq!(ipvs.service(&web).unwrap().stats.total.conns, web_conns);
    assert_eq!(
        ipvs.dests_of(&web)
            .iter()
            .map(|(_, d)| d.activeconns + d.inactconns)
            .sum::<u32>(),
        2
    );
    // The result is the document (new servers at the head of the kept list).
    let got = ipvs.setup();
    assert_eq!(got.services.len(), 5);
    let full = got
        .services
        .iter()
        .find(|s| s.service.key == tcp("10.0.0.2", 443))
        .unwrap();
    let order: Vec<_> = full.dests.iter().map(|d| (d.addr, d.weight)).collect();
    assert_eq!(
        order,
        [(ip("10.2.0.14"), 1), (ip("10.2.0.11"), 5)],
        "new server at the head, the edited one in place"
    );
    assert_eq!(full.laddrs, [ip("10.2.0.201"), ip("10.2.0.202")]);
    assert_eq!(ipvs.config().timeouts.get(), (900, 120, 60));
    assert!(ipvs.plan(&want).unwrap().steps.is_empty(), "converged");
}

#[test]
fn a_scheduler_keeps_its_state_when_its_service_is_untouched() {
    let mut ipvs = Ipvs::default();
    let key = tcp("10.0.0.1", 80);
    let want = Setup {
        services: vec![svc(
            key,
            "rr",
            vec![
                dest("10.2.0.11", 80, ForwardMethod::Route, 1),
                dest("10.2.0.12", 80, ForwardMethod::Route, 1),
                dest("10.2.0.13", 80, ForwardMethod::Route, 1),
            ],
        )],
        timeouts: None,
    };
    apply(&mut ipvs, &want);
    let pick = |ipvs: &mut Ipvs, p: u16| match ipvs
        .process_in(&syn("192.0.2.1", p, "10.0.0.1", 80), Time::ZERO)
    {
        InVerdict::Forward { conn, .. } => conn.daddr_ip(),
        other => panic!("{other:?}"),
    };
    let first = pick(&mut ipvs, 1);
    apply(&mut ipvs, &want);
    let second = pick(&mut ipvs, 2);
    assert_ne!(first, second, "rr went on to the next server");
}

fn assert_refused(ipvs: &mut Ipvs, want: &Setup, item: &str, error: IpvsError) {
    let before = ipvs.setup();
    let conns = ipvs.conns().len();
    let e = ipvs.apply_setup(want, Time::ZERO).unwrap_err();
    assert_eq!(e.item, item, "{e}");
    assert_eq!(e.error, error, "{e}");
    assert_eq!(ipvs.setup(), before, "nothing applied");
    assert_eq!(ipvs.conns().len(), conns);
    assert!(e.to_string().starts_with(item));
}

#[test]
fn any_bad_item_changes_nothing_and_is_named() {
    let mut ipvs = Ipvs::default();
    apply(&mut ipvs, &rich());
    ipvs.process_in(&syn("192.0.2.1", 1000, "10.0.0.1", 80), Time::ZERO);

    // Everything else in these documents is a valid change (a deleted service, an edit,
    // new servers): the bad item comes late, so a half-apply would show.
    let base = || {
        let mut w = rich();
        w.services.remove(1);
        w.services[0].dests[0].weight = 7;
        w.services.push(svc(
            tcp("10.0.0.4", 80),
            "rr",
            vec![dest("10.2.0.11", 80, ForwardMethod::Route, 1)],
        ));
        w
    };
    let mut w = base();
    w.services.push(svc(tcp("10.0.0.5", 80), "nosuch", vec![]));
    assert_refused(
        &mut ipvs,
        &w,
        "service TCP 10.0.0.5:80",
        IpvsError::SchedulerNotFound,
    );

    let mut w = base();
    w.services[2]
        .dests
        .push(dest("10.2.0.99", 443, ForwardMethod::FullNat, -1));
    assert_refused(
        &mut ipvs,
        &w,
        "real server 10.2.0.99:443 of service TCP 10.0.0.2:443",
        IpvsError::OutOfRange { what: "weight" },
    );

    let mut w = base();
    w.services[0].dests[1].l_threshold = 5;
    w.services[0].dests[1].u_threshold = 4;
    assert_refused(
        &mut ipvs,
        &w,
        "real server 10.2.0.12:8080 of service TCP 10.0.0.1:80",
        IpvsError::OutOfRange {
            what: "lower threshold",
        },
    );

    let mut w = base();
    w.services[0]
        .dests
        .push(dest("fd00::5", 8080, ForwardMethod::Masq, 1));
    assert_refused(
        &mut ipvs,
        &w,
        "real server [fd00::5]:8080 of service TCP 10.0.0.1:80",
        IpvsError::Invalid {
            reason: "different address family is allowed only for tunneling servers",
        },
    );

    let mut w = base();
    w.timeouts = Some((0, 0, u32::MAX));
    assert_refused(
        &mut ipvs,
        &w,
        "timeouts",
        IpvsError::Invalid {
            reason: "timeout out of range",
        },
    );

    let mut w = base();
    w.services[0].service.persistence = Some(Persistence {
        timeout: 0,
        prefix_len: 32,
    });
    assert_refused(
        &mut ipvs,
        &w,
        "service TCP 10.0.0.1:80",
        IpvsError::Invalid {
            reason: "persistence timeout out of range",
        },
    );
}

#[test]
fn the_document_itself_is_checked() {
    let mut ipvs = Ipvs::default();
    apply(&mut ipvs, &rich());
    let mut w = rich();
    w.services.push(w.services[0].clone());
    assert_refused(
        &mut ipvs,
        &w,
        "service TCP 10.0.0.1:80",
        IpvsError::ServiceExists,
    );
    // A server listed twice: both copies equal the live one, so only the document check
    // can see it.
    let mut w = rich();
    let d = w.services[0].dests[0];
    w.services[0].dests.push(d);
    assert_refused(
        &mut ipvs,
        &w,
        "real server 10.2.0.11:8080 of service TCP 10.0.0.1:80",
        IpvsError::DestExists,
    );
    let mut w = rich();
    w.services[3].laddrs.push(ip("10.2.0.200"));
    assert_refused(
        &mut ipvs,
        &w,
        "local address 10.2.0.200 of service TCP 10.0.0.2:443",
        LaddrError::Exists.into(),
    );
    let mut w = rich();
    w.services[3].laddrs.push(ip("fd00::200"));
    assert_refused(
        &mut ipvs,
        &w,
        "local address fd00::200 of service TCP 10.0.0.2:443",
        IpvsError::Invalid {
            reason: "local address family differs from the service's",
        },
    );
}

#[test]
fn servers_go_before_a_scheduler_switch_is_judged() {
    // mh holds at most MH_TAB_SIZE servers. Switching an rr service with one server too
    // many to mh while dropping one works only if the drop comes first.
    let key = tcp("10.0.0.1", 80);
    let all: Vec<DestConfig> = (0..=MH_TAB_SIZE)
        .map(|i| {
            let a = std::net::Ipv4Addr::from(0x0a02_0000 + u32::try_from(i).unwrap() + 1);
            DestConfig::new(IpAddr::V4(a), 80, ForwardMethod::Route)
        })
        .collect();
    let mut ipvs = Ipvs::default();
    apply(
        &mut ipvs,
        &Setup {
            services: vec![svc(key, "rr", all.clone())],
            timeouts: None,
        },
    );
    let mut too_many = svc(key, "mh", all.clone());
    too_many.service.scheduler = "mh".into();
    let w = Setup {
        services: vec![too_many],
        timeouts: None,
    };
    let e = ipvs.apply_setup(&w, Time::ZERO).unwrap_err();
    assert_eq!(e.item, format!("service {}", service_name(&key)));
    assert_eq!(
        e.error,
        IpvsError::Sched(SchedError::TooManyDests {
            sched: "mh",
            max: MH_TAB_SIZE
        })
    );
    assert_eq!(ipvs.service(&key).unwrap().scheduler(), "rr");
    let w = Setup {
        services: vec![svc(key, "mh", all[1..].to_vec())],
        timeouts: None,
    };
    let r = apply(&mut ipvs, &w);
    assert_eq!((r.services_edited, r.dests_deleted), (1, 1));
    assert_eq!(ipvs.service(&key).unwrap().scheduler(), "mh");
}

#[test]
fn an_empty_document_deletes_everything_and_timeouts_zero_keep_values() {
    let mut ipvs = Ipvs::default();
    apply(&mut ipvs, &rich());
    let r = apply(
        &mut ipvs,
        &Setup {
            services: vec![],
            timeouts: Some((0, 0, 0)),
        },
    );
    assert_eq!(r.services_deleted, 5);
    assert!(!r.timeouts_changed);
    assert_eq!(ipvs.services().count(), 0);
}

#[test]
fn item_names_follow_ipvsadm() {
    assert_eq!(
        service_name(&ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr: ip("fd00::1"),
            port: 9
        }),
        "SCTP [fd00::1]:9"
    );
    assert_eq!(
        service_name(&ServiceKey::Fwmark {
            af: Af::Inet6,
            mark: 3
        }),
        "FWM 3 IPv6"
    );
}

// ---------------------------------------------------------------- properties

fn arb_dest(af6: bool) -> impl Strategy<Value = DestConfig> {
    (0u8..6, 0u16..3, 0i32..4, prop::bool::ANY).prop_map(move |(h, p, w, masq)| {
        let addr = if af6 {
            ip(&format!("fd02::{}", h + 1))
        } else {
            ip(&format!("10.2.0.{}", h + 1))
        };
        let fwd = if masq {
            ForwardMethod::Masq
        } else {
            ForwardMethod::Route
        };
        DestConfig::new(addr, 8080 + p, fwd).weight(w)
    })
}

fn arb_service() -> impl Strategy<Value = ServiceSetup> {
    (
        0u8..4,
        prop::bool::ANY,
        prop::sample::select(vec!["rr", "wrr", "lc", "sh", "mh"]),
        prop::option::of(1u32..1000),
        prop::collection::vec(arb_dest(false), 0..5),
    )
        .prop_map(|(v, udp, sched, persist, mut dests)| {
            let addr = ip(&format!("10.0.0.{}", v + 1));
            let key = if udp {
                ServiceKey::udp(addr, 53)
            } else {
                ServiceKey::tcp(addr, 80)
            };
            let mut seen = std::collections::HashSet::new();
            dests.retain(|d| seen.insert((d.addr, d.port)));
            let mut s = svc(key, sched, dests);
            s.service.persistence = persist.map(|timeout| Persistence {
                timeout,
                prefix_len: 32,
            });
            s
        })
}

fn arb_setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec(arb_service(), 0..6),
        prop::option::of((0u32..5, 0u32..5, 0u32..5)),
    )
        .prop_map(|(mut services, timeouts)| {
            let mut seen = std::collections::HashSet::new();
            services.retain(|s| seen.insert(s.service.key));
            Setup { services, timeouts }
        })
}

proptest! {
    /// Any document applied over any other yields exactly that document, and applying it
    /// again is a no-op.
    #[test]
    fn apply_converges(a in arb_setup(), b in arb_setup()) {
        let mut ipvs = Ipvs::default();
        apply(&mut ipvs, &a);
        let before = ipvs.config().timeouts.get();
        apply(&mut ipvs, &b);
        let got = ipvs.setup();
        let mut want = b.clone();
        let keep = |n: u32, o: u32| if n == 0 { o } else { n };
        want.timeouts = Some(match b.timeouts {
            Some((t, f, u)) => (keep(t, before.0), keep(f, before.1), keep(u, before.2)),
            None => before,
        });
        // Services that stayed keep their creation order, new ones follow: compare as sets
        // of services, each with its exact list.
        prop_assert_eq!(got.services.len(), want.services.len());
        for s in &want.services {
            let g = got.services.iter().find(|g| g.service.key == s.service.key);
            prop_assert!(g.is_some());
            let g = g.unwrap();
            prop_assert_eq!(&g.service, &s.service);
            let mut gd = g.dests.clone();
            let mut wd = s.dests.clone();
            gd.sort_by_key(|d| (d.addr, d.port));
            wd.sort_by_key(|d| (d.addr, d.port));
            prop_assert_eq!(gd, wd);
        }
        prop_assert_eq!(got.timeouts, want.timeouts);
        let again = ipvs.apply_setup(&got, Time::ZERO).unwrap();
        prop_assert!(again.is_noop());
    }
}
