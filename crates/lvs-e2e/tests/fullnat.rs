//! FULLNAT through lvsd: SNAT to a local address of the service's pool plus DNAT, across
//! subnets where the real servers have no route to the client, IPv4 and IPv6.

use std::time::{Duration, Instant};

use lvs_e2e::{Plan, Routed, V4, V6, client_of, hostport, tally};
use lvs_testkit::bin_path;

fn fullnat(plan: Plan, lip: &str, lip_net: &str, tag: &str) {
    // Real servers have no default route: only a route to the local-address network.
    let mut lab = Routed::new(tag, plan, false).expect("lab");
    let full = if lip.contains(':') { 128 } else { 32 };
    lab.lab.addr("d", "lo", &format!("{lip}/{full}")).unwrap();
    for (i, rs) in ["r1", "r2"].iter().enumerate() {
        lab.lab
            .route(rs, &[lip_net, "via", lab.plan.dir_rs[i]])
            .unwrap();
    }
    lab.start_echo(8080).unwrap();
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "rr"]).unwrap();
    for rs in lab.plan.rs {
        let r = hostport(rs, 8080);
        lab.adm(&["-a", "-t", &vip, "-r", &r, "--fullnat"]).unwrap();
    }
    lab.adm(&["--add-laddr", "-z", lip, "-t", &vip]).unwrap();
    let lines = lab.http_gets(80, 20).expect("requests through the VIP");
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(t.get("rs1"), Some(&10), "{t:?}");
    assert_eq!(t.get("rs2"), Some(&10), "{t:?}");
    // The real servers see the local address, not the client.
    for l in &lines {
        assert_eq!(client_of(l).as_deref(), Some(lip), "{l}");
    }
    // The client address is unreachable from the real servers: FULLNAT is what makes this
    // work.
    let ping = lab
        .lab
        .try_exec("r1", &["ip", "route", "get", lab.plan.client])
        .unwrap();
    assert!(
        !ping.status.success(),
        "r1 must have no route to the client"
    );
    let list = lab.adm(&["-Ln"]).unwrap();
    assert!(list.contains("FullNat"), "{list}");
    let laddrs = lab.adm(&["--get-laddr", "-t", &vip]).unwrap();
    assert!(laddrs.contains(lip), "{laddrs}");
}

#[test]
fn fullnat_ipv4_across_subnets() {
    fullnat(V4, "10.3.0.1", "10.3.0.0/24", "fn4");
}

#[test]
fn fullnat_ipv6_across_subnets() {
    fullnat(V6, "fd03::1", "fd03::/64", "fn6");
}

// ---- Proxy Protocol v2 -----------------------------------------------------------------------

/// A counter of lvsd's data-plane status (refreshed every second), waiting up to 5 s for
/// it to reach `at_least`; its last value.
fn counter_at_least(lab: &Routed, name: &str, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let st = lab.api().dataplane().unwrap();
        let v = st
            .counters
            .iter()
            .find(|(k, _)| k == name)
            .map_or(0, |(_, v)| *v);
        if v >= at_least || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A FULLNAT lab with two services on the VIP: port 80 with `--proxy-protocol` to
/// lvs-echo `--proxy-protocol` on the real servers' port 8081 (which refuses a connection
/// without a valid PROXY v2 header, or with a second one), port 81 without the option to
/// the plain lvs-echo on 8080 (which refuses a connection that starts with a header).
/// Returns the lab and the two services.
fn pp_lab(plan: Plan, lip: &str, lip_net: &str, tag: &str) -> (Routed, String, String) {
    let mut lab = Routed::new(tag, plan, false).expect("lab");
    let full = if lip.contains(':') { 128 } else { 32 };
    lab.lab.addr("d", "lo", &format!("{lip}/{full}")).unwrap();
    for (i, rs) in ["r1", "r2"].iter().enumerate() {
        lab.lab
            .route(rs, &[lip_net, "via", lab.plan.dir_rs[i]])
            .unwrap();
    }
    // Plain servers on 8080, PROXY protocol servers on 8081.
    lab.start_echo(8080).unwrap();
    let echo = bin_path("lvs-echo").unwrap();
    for (i, rs) in ["r1", "r2"].iter().enumerate() {
        let hp = hostport(lab.plan.rs[i], 8081);
        lab.lab
            .spawn(
                rs,
                &[
                    echo.to_str().unwrap(),
                    &format!("rs{}", i + 1),
                    "--proxy-protocol",
                    "--tcp",
                    &hp,
                ],
            )
            .unwrap();
    }
    for rs in ["r1", "r2"] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while lab
            .lab
            .try_exec(rs, &["ss", "-Hltn", "sport = :8081"])
            .unwrap()
            .stdout
            .is_empty()
        {
            assert!(Instant::now() < deadline, "lvs-echo on 8081 in {rs}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let (vip_pp, vip_plain) = (hostport(lab.plan.vip, 80), hostport(lab.plan.vip, 81));
    lab.adm(&["-A", "-t", &vip_pp, "-s", "rr", "--proxy-protocol"])
        .unwrap();
    lab.adm(&["-A", "-t", &vip_plain, "-s", "rr"]).unwrap();
    for rs in lab.plan.rs {
        for (vip, port) in [(&vip_pp, 8081), (&vip_plain, 8080)] {
            lab.adm(&["-a", "-t", vip, "-r", &hostport(rs, port), "--fullnat"])
                .unwrap();
        }
    }
    for vip in [&vip_pp, &vip_plain] {
        lab.adm(&["--add-laddr", "-z", lip, "-t", vip]).unwrap();
    }
    (lab, vip_pp, vip_plain)
}

/// FULLNAT with `--proxy-protocol`: the real servers learn the client's address and the
/// VIP from the header, although the connections come from the local address; transfers
/// of several MB in both directions arrive intact through the sequence translation; a
/// first data segment without room for the header works too; a service without the
/// option sends no header.
fn proxy_protocol(plan: Plan, lip: &str, lip_net: &str, tag: &str) {
    let (lab, vip_pp, _) = pp_lab(plan, lip, lip_net, tag);
    let list = lab.adm(&["-Ln"]).unwrap();
    assert!(list.contains("proxy-protocol"), "{list}");
    // A UDP service cannot have the option.
    let vip_udp = hostport(lab.plan.vip, 53);
    let (code, _, err) = lab
        .lvsadm(&["-A", "-u", &vip_udp, "--proxy-protocol"])
        .unwrap();
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("TCP"), "{err}");
    assert!(!lab.adm(&["-Ln"]).unwrap().contains("UDP"));

    // The PROXY header names the client and the VIP; the connection itself comes from the
    // local address.
    let lines = lab
        .http_gets(80, 20)
        .expect("requests through the PP service");
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(t.get("rs1"), Some(&10), "{t:?}");
    assert_eq!(t.get("rs2"), Some(&10), "{t:?}");
    for l in &lines {
        assert!(!l.contains("error="), "{l}");
        assert_eq!(client_of(l).as_deref(), Some(lab.plan.client), "{l}");
        assert!(l.contains(&format!(" vip={vip_pp}")), "{l}");
        let proxy = hostport(lip, 0);
        assert!(
            l.contains(&format!(" proxy={}", proxy.trim_end_matches('0'))),
            "{l}"
        );
    }
    // No header without the option.
    let lines = lab
        .http_gets(81, 10)
        .expect("requests through the plain service");
    for l in &lines {
        assert!(!l.contains("error="), "{l}");
        assert_eq!(client_of(l).as_deref(), Some(lip), "{l}");
    }

    // Several MB in both directions, compared by checksum.
    let n = 8_000_000u64;
    let url = format!("http://{vip_pp}/bytes/{n}");
    assert_eq!(
        lvs_e2e::download_sha256(&lab.lab, &url, 60).unwrap(),
        lvs_e2e::pattern_sha256(n).unwrap(),
        "download"
    );
    let (got, want) = lvs_e2e::upload_echo(&lab.lab, &vip_pp, n).unwrap();
    assert_eq!(got, want, "upload echoed back");

    // A first data segment of a whole MSS has no room for the header within the MTU: the
    // header goes on its own before it (segmentation offload off, so that the client's
    // segments reach the director as they are).
    lab.lab
        .exec("c", &["ethtool", "-K", "eth0", "tso", "off", "gso", "off"])
        .unwrap();
    let before = counter_at_least(&lab, "pp_header_separate", 0);
    let pad = "a".repeat(1600);
    let url = format!("http://{vip_pp}/");
    let out = lab
        .lab
        .exec(
            "c",
            &[
                "curl",
                "-s",
                "-m",
                "10",
                "-g",
                "-H",
                &format!("X-Pad: {pad}"),
                &url,
            ],
        )
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(client_of(&line).as_deref(), Some(lab.plan.client), "{line}");
    assert!(
        counter_at_least(&lab, "pp_header_separate", before + 1) > before,
        "the header went on its own"
    );
    // Every way the header went out was used, and XDP punted the segments that needed it.
    assert!(counter_at_least(&lab, "pp_header_handshake", 1) >= 1);
    assert!(counter_at_least(&lab, "pp_header_inserted", 1) >= 1);
    assert!(counter_at_least(&lab, "punt_pp", 1) >= 1);
    let st = lab.api().dataplane().unwrap();
    println!("{:?}", st.counters);
}

/// The header-carrying segments lost on the way to the real server (the header segment
/// after the handshake and the first data segment with the header in front, dropped by an
/// nftables rule on the real servers): the client retransmits its first data segment, XDP
/// punts it again (`FF_PP_FIRST`) and lvsd puts the header in front of it again.
#[test]
fn fullnat_proxy_protocol_header_lost_then_retransmitted() {
    let (lab, _, _) = pp_lab(V4, "10.3.0.1", "10.3.0.0/24", "ppl");
    for rs in ["r1", "r2"] {
        for cmd in [
            "add table inet pploss",
            "add chain inet pploss in { type filter hook input priority 0 ; }",
            // conntrack counts every packet before the filter: #1 SYN, #2 the handshake's
            // ACK, #3 the header segment, #4 the first data segment with the header
            "add rule inet pploss in tcp dport 8081 ct original packets 3-4 counter drop",
        ] {
            lab.lab.exec(rs, &["nft", cmd]).unwrap();
        }
        lab.lab
            .sysctl(rs, "net.netfilter.nf_conntrack_acct", "1")
            .unwrap();
    }
    let line = lab.http_get(80).expect("request with the header lost once");
    assert_eq!(client_of(&line).as_deref(), Some(lab.plan.client), "{line}");
    let dropped: usize = ["r1", "r2"]
        .iter()
        .map(|rs| {
            let out = lab
                .lab
                .exec(rs, &["nft", "list", "chain", "inet", "pploss", "in"])
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            // "... counter packets N bytes M drop"
            text.split_whitespace()
                .skip_while(|w| *w != "counter")
                .nth(2)
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(dropped, 2, "the rule dropped both header-carrying segments");
    assert_eq!(counter_at_least(&lab, "pp_header_handshake", 1), 1);
    assert_eq!(counter_at_least(&lab, "pp_header_inserted", 2), 2);
}

#[test]
fn fullnat_proxy_protocol_ipv4() {
    proxy_protocol(V4, "10.3.0.1", "10.3.0.0/24", "pp4");
}

#[test]
fn fullnat_proxy_protocol_ipv6() {
    proxy_protocol(V6, "fd03::1", "fd03::/64", "pp6");
}
