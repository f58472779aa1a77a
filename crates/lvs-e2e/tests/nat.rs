//! NAT (masquerading) through lvsd, IPv4 and IPv6, TCP and UDP, driven by real clients.

use lvs_api::{DestRequest, DestSpec, Method, Protocol, ServiceKey, ServiceSpec, Tunnel};
use lvs_e2e::{Plan, Routed, V4, V6, client_of, hostport, tally};

fn service(plan: &Plan, protocol: Protocol, port: u16, sched: &str) -> ServiceSpec {
    ServiceSpec {
        key: ServiceKey::Addr {
            protocol,
            addr: plan.vip.parse().unwrap(),
            port,
        },
        scheduler: sched.into(),
        flags: 0,
        persistence: None,
        pe: None,
        proxy_protocol: false,
    }
}

fn add_rs(lab: &Routed, svc: &ServiceSpec, port: u16, method: Method, weights: [i32; 2]) {
    for (i, rs) in lab.plan.rs.iter().enumerate() {
        lab.api()
            .add_dest(&DestRequest {
                service: svc.key,
                dest: DestSpec {
                    addr: rs.parse().unwrap(),
                    port,
                    method,
                    tunnel: Tunnel::default(),
                    weight: weights[i],
                    u_threshold: 0,
                    l_threshold: 0,
                },
            })
            .unwrap();
    }
}

fn nat_tcp(plan: Plan, tag: &str) {
    let mut lab = Routed::new(tag, plan, true).expect("lab");
    lab.start_echo(8080).unwrap();
    let svc = service(&lab.plan, Protocol::Tcp, 80, "rr");
    lab.api().add_service(&svc).unwrap();
    add_rs(&lab, &svc, 8080, Method::Masq, [1, 1]);
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines.push(lab.http_get(80).expect("request through the VIP"));
    }
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(t.get("rs1"), Some(&50), "{t:?}");
    assert_eq!(t.get("rs2"), Some(&50), "{t:?}");
    for l in &lines {
        assert_eq!(client_of(l).as_deref(), Some(lab.plan.client), "{l}");
    }
    // The model saw every connection; closed ones linger in TIME_WAIT (client closed
    // first: FIN_WAIT/TIME_WAIT per the INPUT/OUTPUT tables).
    let conns = lab.api().conns().unwrap();
    assert_eq!(conns.len(), 100, "{conns:?}");
    assert!(conns.iter().all(|c| c.protocol == "TCP"));
    let svcs = lab.api().services().unwrap();
    assert_eq!(svcs[0].stats.conns, 100);
    let st = lab.stop_lvsd().unwrap();
    assert!(st.success(), "lvsd exit {st}");
}

#[test]
fn nat_tcp_ipv4_rr_splits_evenly_and_keeps_the_client_address() {
    nat_tcp(V4, "nt4");
}

#[test]
fn nat_tcp_ipv6_rr_splits_evenly_and_keeps_the_client_address() {
    nat_tcp(V6, "nt6");
}

#[test]
fn nat_udp_ipv4() {
    let mut lab = Routed::new("nu4", V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    let svc = service(&lab.plan, Protocol::Udp, 53, "rr");
    lab.api().add_service(&svc).unwrap();
    add_rs(&lab, &svc, 8080, Method::Masq, [1, 1]);
    let echo = lvs_testkit::bin_path("lvs-echo").unwrap();
    let out = lab
        .lab
        .exec(
            "c",
            &[
                echo.to_str().unwrap(),
                "--udp-clients",
                &hostport(lab.plan.vip, 53),
                "10",
            ],
        )
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let t = tally(text.lines());
    assert_eq!(t.get("rs1"), Some(&5), "{text}");
    assert_eq!(t.get("rs2"), Some(&5), "{text}");
    for l in text.lines() {
        assert_eq!(client_of(l).as_deref(), Some(lab.plan.client), "{l}");
    }
    let conns = lab.api().conns().unwrap();
    assert_eq!(conns.len(), 10);
    assert!(conns.iter().all(|c| c.state == "UDP"));
    let svcs = lab.api().services().unwrap();
    assert!(
        svcs[0]
            .dests
            .iter()
            .all(|d| d.inactconns == 5 && d.activeconns == 0)
    );
}

#[test]
fn icmp_port_unreachable_from_a_real_server_reaches_the_client() {
    let mut lab = Routed::new("ni4", V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    // Nothing listens on 8081: the real server answers ICMP port unreachable, quoting
    // client -> RIP:8081; the director must translate it to quote client -> VIP:54.
    let vip = hostport(lab.plan.vip, 54);
    lab.adm(&["-A", "-u", &vip, "-s", "rr"]).unwrap();
    lab.adm(&[
        "-a",
        "-u",
        &vip,
        "-r",
        &hostport(lab.plan.rs[0], 8081),
        "-m",
    ])
    .unwrap();
    let echo = lvs_testkit::bin_path("lvs-echo").unwrap();
    let out = lab
        .lab
        .exec("c", &[echo.to_str().unwrap(), "--udp-clients", &vip, "3"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| *l == "refused").count(),
        3,
        "{text}"
    );
    // The status is refreshed every second.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let st = lab.api().dataplane().unwrap();
    let punted = st
        .counters
        .iter()
        .find(|(k, _)| k == "punt_icmp")
        .map_or(0, |(_, v)| *v);
    assert!(punted >= 3, "{st:?}");
}
