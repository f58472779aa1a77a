//! Firewall-mark services (`-f MARK`) end to end: a real nftables mangle rule marks the
//! packets, lvs_nf hands the first packet of each flow to lvsd, the rest of the flow is
//! forwarded by XDP/TC like any connection. The seeds' "port affinity" of 80 and 443: with
//! persistence, both ports of one client land on the same real server.

use std::time::Duration;

use lvs_e2e::{Routed, V4, V6, hostport, tally};

/// `curl` from the client, from source address `src`, to `vip:port`: the echo line.
fn get_from(lab: &Routed, src: &str, port: u16) -> String {
    let url = format!("http://{}/", hostport(lab.plan.vip, port));
    let out = lab
        .lab
        .exec(
            "c",
            &["curl", "-s", "-m", "5", "-g", "--interface", src, &url],
        )
        .unwrap();
    assert!(
        out.status.success(),
        "curl {url} from {src}: {}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The seeds' mangle rule, as nftables: packets to `vip` ports 80 and 443 get `mark`.
fn nft(lab: &Routed, family: &str, vip: &str, mark: u32) {
    let chain = "{ type filter hook prerouting priority mangle; }";
    let rule = format!("{family} daddr {vip} tcp dport {{ 80, 443 }} meta mark set {mark}");
    for cmd in [
        format!("nft add table {family} lvsmark"),
        format!("nft add chain {family} lvsmark pre '{chain}'"),
        format!("nft add rule {family} lvsmark pre {rule}"),
    ] {
        lab.lab.exec("d", &["sh", "-c", &cmd]).unwrap();
    }
}

#[test]
fn port_affinity_80_443_ipv4_nat() {
    let mut lab = Routed::new("fm4", V4, true).expect("lab");
    lab.start_echo(80).unwrap();
    lab.start_echo(443).unwrap();
    // A second client address on the same client namespace.
    let other = "10.1.0.3";
    lab.lab
        .exec(
            "c",
            &["ip", "addr", "add", &format!("{other}/24"), "dev", "eth0"],
        )
        .unwrap();
    nft(&lab, "ip", lab.plan.vip, 20);
    lab.adm(&["-A", "-f", "20", "-s", "rr", "-p", "60"])
        .unwrap();
    for rs in lab.plan.rs {
        lab.adm(&["-a", "-f", "20", "-r", rs, "-m"]).unwrap();
    }

    let mut seen = Vec::new();
    for src in [lab.plan.client, other] {
        let mut lines = Vec::new();
        for port in [80, 443, 80, 443, 443, 80] {
            let l = get_from(&lab, src, port);
            assert!(l.contains(&format!("client={src}:")), "{l}");
            lines.push(l);
        }
        let t = tally(lines.iter().map(String::as_str));
        assert_eq!(
            t.len(),
            1,
            "both ports of {src} on one real server: {lines:?}"
        );
        seen.push(t.keys().next().cloned().unwrap());
    }
    assert_ne!(
        seen[0], seen[1],
        "rr scheduled the second client's template on the other real server"
    );

    let list = lab.adm(&["-Ln"]).unwrap();
    assert!(list.contains("FWM  20 rr persistent 60"), "{list}");
    let conns = lab.adm(&["-Lnc"]).unwrap();
    assert!(
        conns
            .lines()
            .filter(|l| l.contains("TIME_WAIT")
                || l.contains("FIN_WAIT")
                || l.contains("ESTABLISHED")
                || l.contains("CLOSE"))
            .count()
            >= 12,
        "twelve connections listed: {conns}"
    );
    // Templates of a firewall-mark service carry the mark as their virtual address.
    assert!(conns.contains("0.0.0.20:0"), "fwmark templates: {conns}");

    // The hook counted what it handed over.
    // (The status is refreshed every second.)
    std::thread::sleep(Duration::from_millis(1200));
    let dp = lab.api().dataplane().unwrap();
    let handed = dp
        .counters
        .iter()
        .find(|(k, _)| k == "nf_handed")
        .map(|(_, v)| *v)
        .unwrap_or(0);
    assert!(handed >= 12, "first packets handed over by lvs_nf: {dp:?}");

    // Deleting the service stops its traffic at once: the VIP is the director's own
    // address with nothing listening, so the client is refused.
    lab.adm(&["-D", "-f", "20"]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let url = format!("http://{}/", hostport(lab.plan.vip, 80));
    let out = lab
        .lab
        .try_exec("c", &["curl", "-s", "-m", "3", "--interface", other, &url])
        .unwrap();
    assert!(
        !out.status.success(),
        "served after the service was deleted"
    );
}

#[test]
fn fwmark_service_ipv6_nat() {
    let mut lab = Routed::new("fm6", V6, true).expect("lab");
    lab.start_echo(80).unwrap();
    lab.start_echo(443).unwrap();
    nft(&lab, "ip6", lab.plan.vip, 21);
    lab.adm(&["-A", "-f", "21", "-6", "-s", "rr"]).unwrap();
    for rs in lab.plan.rs {
        lab.adm(&["-a", "-f", "21", "-6", "-r", rs, "-m"]).unwrap();
    }
    let mut lines = Vec::new();
    for port in [80, 443, 80, 443] {
        let l = get_from(&lab, lab.plan.client, port);
        assert!(l.contains(&format!("client=[{}]:", lab.plan.client)), "{l}");
        lines.push(l);
    }
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(
        (t.get("rs1"), t.get("rs2")),
        (Some(&2), Some(&2)),
        "rr without persistence alternates: {lines:?}"
    );
    let list = lab.adm(&["-Ln"]).unwrap();
    assert!(list.contains("FWM  21 IPv6 rr"), "{list}");
}
