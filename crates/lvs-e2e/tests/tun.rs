//! IP tunnelling through lvsd: IPIP (IPv4 in IPv4, IPv6 in IPv6) to real servers set up with
//! `lvsadm realserver setup --method tun` (this kernel has no ipip module: our XDP
//! decapsulation), replies straight from the real servers, and ICMP fragmentation needed
//! when a DF packet no longer fits once encapsulated.

use lvs_e2e::{Plan, Routed, V4_ROUTED_VIP, V6_ROUTED_VIP, client_of, hostport, tally};
use lvs_testkit::bin_path;

fn tun_lab(plan: Plan, tag: &str) -> Routed {
    // The director must not own the VIP: the real servers' replies (source VIP) are routed
    // back through it.
    let mut lab = Routed::build(tag, plan, true, false).expect("lab");
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
