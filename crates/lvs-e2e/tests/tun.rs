//! IP tunnelling through lvsd: IPIP (IPv4 in IPv4, IPv6 in IPv6, and across families) to
//! real servers set up with `lvsadm realserver setup --method tun` (this kernel has no
//! ipip module: lvs-rs's BPF decapsulation, at TC ingress on these veths), replies straight
//! from the real servers, ICMP fragmentation needed when a DF packet no longer fits once
//! encapsulated, and uploads: the client's TSO aggregates are encapsulated whole by
//! `lvs_tc` on the director.

use std::collections::BTreeMap;
use std::time::Duration;

use lvs_e2e::{Plan, Routed, V4_ROUTED_VIP, V6_ROUTED_VIP, client_of, hostport, tally};
use lvs_testkit::bin_path;

fn tun_lab(plan: Plan, tag: &str) -> Routed {
    tun_lab_with(plan, tag, |_| {})
}

/// The TUN lab; `before_setup` runs after the namespaces are built and before the real
/// servers are set up (addresses added there are tunnel endpoints).
fn tun_lab_with(plan: Plan, tag: &str, before_setup: impl Fn(&Routed)) -> Routed {
    // The director must not own the VIP: the real servers' replies (source VIP) are routed
    // back through it.
    let mut lab = Routed::build(tag, plan, true, false).expect("lab");
    before_setup(&lab);
    let adm = bin_path("lvsadm").unwrap();
    let echo = bin_path("lvs-echo").unwrap();
    for (i, rs) in ["r1", "r2"].iter().enumerate() {
        lab.lab
            .exec(
                rs,
                &[
                    adm.to_str().unwrap(),
                    "realserver",
                    "setup",
                    "--vip",
                    lab.plan.vip,
                    "--method",
                    "tun",
                ],
            )
            .unwrap();
        let hp = hostport(lab.plan.vip, 80);
        let name = format!("rs{}", i + 1);
        lab.lab
            .spawn(
                rs,
                &[echo.to_str().unwrap(), &name, "--tcp", &hp, "--udp", &hp],
            )
            .unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    lab
}

fn tun(plan: Plan, tag: &str) {
    let lab = tun_lab(plan, tag);
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "rr"]).unwrap();
    for rs in lab.plan.rs {
        lab.adm(&["-a", "-t", &vip, "-r", rs, "-i"]).unwrap();
    }
    let lines = lab.http_gets(80, 20).expect("requests through the VIP");
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(
        (t.get("rs1"), t.get("rs2")),
        (Some(&10), Some(&10)),
        "{t:?}"
    );
    for l in &lines {
        assert_eq!(client_of(l).as_deref(), Some(lab.plan.client), "{l}");
    }
    let list = lab.adm(&["-Ln", "--stats", "--exact"]).unwrap();
    assert!(list.contains("Tunnel") || lab.adm(&["-Ln"]).unwrap().contains("Tunnel"));
    let svc = list.lines().find(|l| l.starts_with("TCP")).unwrap();
    assert_eq!(
        svc.split_whitespace().nth(4),
        Some("0"),
        "replies bypass: {list}"
    );
}

#[test]
fn tun_ipip_ipv4() {
    tun(V4_ROUTED_VIP, "tu4");
}

#[test]
fn tun_ipip_ipv6() {
    tun(V6_ROUTED_VIP, "tu6");
}

#[test]
fn tun_too_big_for_the_tunnel_gets_frag_needed() {
    let lab = tun_lab(V4_ROUTED_VIP, "tuf");
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-A", "-u", &vip, "-s", "rr"]).unwrap();
    lab.adm(&["-a", "-u", &vip, "-r", lab.plan.rs[0], "-i"])
        .unwrap();
    let echo = bin_path("lvs-echo").unwrap();
    // 1472 bytes of UDP payload = a 1500-byte IP packet with DF: 1520 once encapsulated.
    let out = lab
        .lab
        .exec(
            "c",
            &[echo.to_str().unwrap(), "--udp-clients", &vip, "1", "1472"],
        )
        .unwrap();
    let _ = out;
    let route = lab
        .lab
        .exec("c", &["ip", "route", "get", lab.plan.vip])
        .unwrap();
    let route = String::from_utf8_lossy(&route.stdout);
    assert!(
        route.contains("mtu 1480"),
        "path MTU learnt from frag-needed: {route}"
    );
    // A datagram that fits goes through.
    let out = lab
        .lab
        .exec(
            "c",
            &[echo.to_str().unwrap(), "--udp-clients", &vip, "1", "1400"],
        )
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("server=rs1"), "{text}");
}

/// lvsd's data-plane counters once they have settled (the status is refreshed every
/// second).
fn counters(lab: &Routed) -> BTreeMap<String, u64> {
    std::thread::sleep(Duration::from_millis(1500));
    lab.api()
        .dataplane()
        .unwrap()
        .counters
        .into_iter()
        .collect()
}

const UPLOAD: u64 = 24_000_000;

/// POST `UPLOAD` random bytes from the client to `http://VIP/echo` (lvs-echo returns the
/// body), compare the SHA-256 of what came back with the file's; the counters after.
fn upload(lab: &Routed, what: &str) -> BTreeMap<String, u64> {
    let vip = hostport(lab.plan.vip, 80);
    let (got, want) = lvs_e2e::upload_echo(&lab.lab, &vip, UPLOAD).unwrap();
    assert_eq!(
        got, want,
        "{what}: {UPLOAD} bytes uploaded through the tunnel and echoed back"
    );
    counters(lab)
}

fn tun_service(lab: &Routed, rs: &[&str]) {
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "rr"]).unwrap();
    for r in rs {
        lab.adm(&["-a", "-t", &vip, "-r", r, "-i"]).unwrap();
    }
}

/// Uploads through a TUN service: the client's veth sends TSO aggregates (up to 64 KB),
/// which generic XDP cannot redirect; `lvs_tc` encapsulates them whole and the real server's
/// TC decapsulator takes them apart again. Before, they were dropped (README "Not yet").
fn tun_upload(plan: Plan, tag: &str) {
    let lab = tun_lab(plan, tag);
    tun_service(&lab, &lab.plan.rs);
    let c = upload(&lab, tag);
    let get = |k: &str| c.get(k).copied().unwrap_or(0);
    assert!(get("pass_to_tc") > 0, "{c:?}");
    assert_eq!(
        (get("encap_error"), get("tc_drop"), get("tc_too_big")),
        (0, 0, 0),
        "{c:?}"
    );
    // Aggregates, not single segments, went through: far fewer skbs than 1448-byte
    // segments (the client's ACKs of the echo included).
    let forwarded = get("fwd_redirect") + get("fwd_tx");
    assert!(
        forwarded < UPLOAD / 1448 / 2,
        "{forwarded} skbs forwarded for {UPLOAD} bytes: {c:?}"
    );
    // A second upload on another connection: round robin, the other real server.
    upload(&lab, tag);
}

#[test]
fn tun_upload_ipv4() {
    tun_upload(V4_ROUTED_VIP, "tv4");
}

#[test]
fn tun_upload_ipv6() {
    tun_upload(V6_ROUTED_VIP, "tv6");
}

/// Across families: an IPv4 VIP tunnelled to a real server's IPv6 address (4 in 6), and
/// an IPv6 VIP to an IPv4 address (6 in 4).
#[test]
fn tun_upload_across_families() {
    for (plan, tag, rs_other, dir_other, plen) in [
        (V4_ROUTED_VIP, "tx4", "fd02:1::11", "fd02:1::1", 64),
        (V6_ROUTED_VIP, "tx6", "10.2.1.11", "10.2.1.1", 24),
    ] {
        let lab = tun_lab_with(plan, tag, |l| {
            l.lab
                .addr("d", "eth1", &format!("{dir_other}/{plen}"))
                .unwrap();
            l.lab
                .addr("r1", "eth0", &format!("{rs_other}/{plen}"))
                .unwrap();
        });
        tun_service(&lab, &[rs_other]);
        let lines = lab.http_gets(80, 4).expect("requests through the VIP");
        for l in &lines {
            assert!(l.starts_with("server=rs1 "), "{tag}: {l}");
            assert_eq!(client_of(l).as_deref(), Some(lab.plan.client), "{l}");
        }
        let c = upload(&lab, tag);
        assert_eq!(c.get("encap_error").copied().unwrap_or(0), 0, "{c:?}");
    }
}

/// The tunnel's route has a smaller MTU (locked, so forwarding enforces it) than the
/// client's segments: the first aggregates do not fit once encapsulated and are dropped
/// (`tc_too_big`: no AF_XDP frame holds an aggregate, so the slow path cannot answer
/// them); the retransmitted single segment is punted and answered with fragmentation
/// needed / packet too big, the client lowers its path MTU, and the upload completes.
fn tun_upload_small_mtu(plan: Plan, tag: &str, route_mtu: u32, overhead: u32) {
    let lab = tun_lab(plan, tag);
    let rs = lab.plan.rs[0];
    let v6 = rs.contains(':');
    let mtu = route_mtu.to_string();
    let mut route = vec!["route", "replace", rs, "dev", "eth1", "mtu", "lock", &mtu];
    if v6 {
        route.insert(0, "-6");
    }
    let mut cmd = vec!["ip"];
    cmd.extend(route);
    lab.lab.exec("d", &cmd).unwrap();
    tun_service(&lab, &[rs]);
    let c = upload(&lab, tag);
    let get = |k: &str| c.get(k).copied().unwrap_or(0);
    assert!(get("tc_too_big") >= 1, "{c:?}");
    assert!(get("punt_frag_needed") >= 1, "{c:?}");
    assert_eq!(get("encap_error"), 0, "{c:?}");
    let got = lab
        .lab
        .exec("c", &["ip", "route", "get", lab.plan.vip])
        .unwrap();
    let got = String::from_utf8_lossy(&got.stdout);
    let learnt = route_mtu - overhead;
    assert!(
        got.contains(&format!("mtu {learnt}")),
        "path MTU {learnt} learnt from the director: {got}"
    );
}

#[test]
fn tun_upload_through_a_smaller_tunnel_mtu_ipv4() {
    tun_upload_small_mtu(V4_ROUTED_VIP, "tm4", 1300, 20);
}

#[test]
fn tun_upload_through_a_smaller_tunnel_mtu_ipv6() {
    tun_upload_small_mtu(V6_ROUTED_VIP, "tm6", 1400, 40);
}
