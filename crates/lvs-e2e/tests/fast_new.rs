//! New connections created by XDP itself (rr/wrr services without persistence, NAT and
//! DR): they are served, the fast path's counter rises while no first packet is punted,
//! and the model lists, counts and expires them as it does connections it scheduled.

use std::time::Duration;

use lvs_api::client::Client;
use lvs_api::{DestRequest, DestSpec, Method, Protocol, ServiceKey, ServiceSpec, Tunnel};
use lvs_e2e::{Bridged, Routed, V4, hostport, tally};

/// At least `n` connections were created in XDP since the counters read `fast0` and
/// `punt0`, and no first packet went to the slow path.
fn assert_all_fast(api: &Client, fast0: u64, punt0: u64, n: u64) {
    assert!(counter(api, "new_fast") - fast0 >= n);
    assert_eq!(counter(api, "punt_new"), punt0, "a first packet was punted");
}

fn counter(api: &Client, name: &str) -> u64 {
    api.dataplane()
        .unwrap()
        .counters
        .iter()
        .find(|(n, _)| n == name)
        .map_or(0, |(_, v)| *v)
}

/// The data-plane status is refreshed every second.
fn settle() {
    std::thread::sleep(Duration::from_millis(1500));
}

fn service(vip: &str, protocol: Protocol, port: u16, sched: &str) -> ServiceSpec {
    ServiceSpec {
        key: ServiceKey::Addr {
            protocol,
            addr: vip.parse().unwrap(),
            port,
        },
        scheduler: sched.into(),
        flags: 0,
        persistence: None,
        pe: None,
        proxy_protocol: false,
    }
}

fn add_rs(lab: &Routed, svc: &ServiceSpec, port: u16, weights: [i32; 2]) {
    for (i, rs) in lab.plan.rs.iter().enumerate() {
        lab.api()
            .add_dest(&DestRequest {
                service: svc.key,
                dest: DestSpec {
                    addr: rs.parse().unwrap(),
                    port,
                    method: Method::Masq,
                    tunnel: Tunnel::default(),
                    weight: weights[i],
                    u_threshold: 0,
                    l_threshold: 0,
                },
            })
            .unwrap();
    }
}

/// Conns column of the first `proto` service line of `-Ln --stats --exact`.
fn stats_conns(stats: &str, proto: &str) -> u64 {
    let line = stats
        .lines()
        .find(|l| l.starts_with(proto))
        .unwrap_or_else(|| panic!("no {proto} line: {stats}"));
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn nat_rr_tcp_and_wrr_udp_created_in_xdp() {
    let mut lab = Routed::new("fn4", V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    let api = lab.api();
    let tcp = service(lab.plan.vip, Protocol::Tcp, 80, "rr");
    api.add_service(&tcp).unwrap();
    add_rs(&lab, &tcp, 8080, [1, 1]);
    settle();
    let (fast0, punt0) = (counter(&api, "new_fast"), counter(&api, "punt_new"));
    let lines: Vec<String> = (0..40)
        .map(|_| lab.http_get(80).expect("request through the VIP"))
        .collect();
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(
        (t.get("rs1"), t.get("rs2")),
        (Some(&20), Some(&20)),
        "{t:?}"
    );
    settle();
    let fast = counter(&api, "new_fast") - fast0;
    assert!(fast >= 40, "only {fast} connections created in XDP");
    assert_eq!(
        counter(&api, "punt_new"),
        punt0,
        "a first packet was punted"
    );
    // listed with their states, counted, per real server
    let lnc = lab.adm(&["-Lnc"]).unwrap();
    let rows: Vec<&str> = lnc.lines().filter(|l| l.starts_with("TCP")).collect();
    assert_eq!(rows.len(), 40, "{lnc}");
    for r in &rows {
        let state = r.split_whitespace().nth(2).unwrap();
        assert!(
            state == "TIME_WAIT" || state == "FIN_WAIT",
            "closed connection in state {state}: {lnc}"
        );
    }
    let stats = lab.adm(&["-Ln", "--stats", "--exact"]).unwrap();
    assert_eq!(stats_conns(&stats, "TCP"), 40, "{stats}");
    let svcs = api.services().unwrap();
    assert!(
        svcs[0]
            .dests
            .iter()
            .all(|d| d.inactconns == 20 && d.activeconns == 0),
        "{svcs:?}"
    );

    // UDP, wrr 2:1, short timeout: 30 datagrams from 30 ports, then they expire
    let mut to = api.timeouts().unwrap();
    to.udp = 2;
    api.set_timeouts(&to).unwrap();
    let udp = service(lab.plan.vip, Protocol::Udp, 53, "wrr");
    api.add_service(&udp).unwrap();
    add_rs(&lab, &udp, 8080, [2, 1]);
    settle();
    let fast0 = counter(&api, "new_fast");
    let echo = lvs_testkit::bin_path("lvs-echo").unwrap();
    let out = lab
        .lab
        .exec(
            "c",
            &[
                echo.to_str().unwrap(),
                "--udp-clients",
                &hostport(lab.plan.vip, 53),
                "30",
            ],
        )
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let t = tally(text.lines());
    assert_eq!(
        (t.get("rs1"), t.get("rs2")),
        (Some(&20), Some(&10)),
        "{text}"
    );
    settle();
    assert_all_fast(&api, fast0, punt0, 30);
    let lnc = lab.adm(&["-Lnc"]).unwrap();
    assert_eq!(
        lnc.lines().filter(|l| l.starts_with("UDP")).count(),
        30,
        "{lnc}"
    );
    let stats = lab.adm(&["-Ln", "--stats", "--exact"]).unwrap();
    assert_eq!(stats_conns(&stats, "UDP"), 30, "{stats}");
    let flows_before = api.dataplane().unwrap().flows;
    std::thread::sleep(Duration::from_secs(3));
    settle();
    let conns = api.conns().unwrap();
    assert!(
        conns.iter().all(|c| c.protocol == "TCP"),
        "UDP connections did not expire: {conns:?}"
    );
    // their flows went with them (two per NAT connection)
    assert_eq!(api.dataplane().unwrap().flows, flows_before - 60);
    let svcs = api.services().unwrap();
    let u = svcs
        .iter()
        .find(|s| matches!(s.spec.key, ServiceKey::Addr { port: 53, .. }))
        .unwrap();
    assert!(
        u.dests
            .iter()
            .all(|d| d.inactconns == 0 && d.activeconns == 0)
    );
    let st = lab.stop_lvsd().unwrap();
    assert!(st.success(), "lvsd exit {st}");
}

#[test]
fn dr_rr_created_in_xdp() {
    let mut lab = Bridged::new("fnd", false).expect("lab");
    for rs in ["r1", "r2"] {
        lab.lab.addr(rs, "lo", &format!("{}/32", lab.vip)).unwrap();
        for k in [
            "net.ipv4.conf.all.arp_ignore=1",
            "net.ipv4.conf.eth0.arp_ignore=1",
            "net.ipv4.conf.all.arp_announce=2",
            "net.ipv4.conf.eth0.arp_announce=2",
        ] {
            lab.lab.exec(rs, &["sysctl", "-qw", k]).unwrap();
        }
    }
    lab.start_echo_on_vip(80).unwrap();
    let api = Client::new(&lab.socket);
    let vip = hostport(&lab.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "wrr"]).unwrap();
    for rs in &lab.rs {
        lab.adm(&["-a", "-t", &vip, "-r", rs, "-g", "-w", "1"])
            .unwrap();
    }
    settle();
    let (fast0, punt0) = (counter(&api, "new_fast"), counter(&api, "punt_new"));
    let lines: Vec<String> = (0..20)
        .map(|_| lab.http_get(80).expect("request through the VIP"))
        .collect();
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(
        (t.get("rs1"), t.get("rs2")),
        (Some(&10), Some(&10)),
        "{t:?}"
    );
    settle();
    assert_all_fast(&api, fast0, punt0, 20);
    let lnc = lab.adm(&["-Lnc"]).unwrap();
    let rows: Vec<&str> = lnc.lines().filter(|l| l.starts_with("TCP")).collect();
    assert_eq!(rows.len(), 20, "{lnc}");
    // DR sees the client's side only: FIN_WAIT / TIME_WAIT-like INPUT_ONLY states
    for r in &rows {
        let state = r.split_whitespace().nth(2).unwrap();
        assert!(
            ["FIN_WAIT", "TIME_WAIT", "CLOSE", "ESTABLISHED"].contains(&state),
            "{state}: {lnc}"
        );
    }
    let stats = lab.adm(&["-Ln", "--stats", "--exact"]).unwrap();
    assert_eq!(stats_conns(&stats, "TCP"), 20, "{stats}");
}
