//! Direct routing through lvsd on a shared L2 segment: only the destination MAC changes,
//! the real servers answer the client directly, IPv4 and IPv6.

use lvs_e2e::{Bridged, client_of, hostport, tally};

/// The classic DR real-server set-up, by hand (what `lvsadm realserver setup --method dr`
/// automates): VIP on lo, no ARP answers or announcements for it.
fn manual_realserver(lab: &Bridged) {
    let full = if lab.vip.contains(':') { 128 } else { 32 };
    for rs in ["r1", "r2"] {
        lab.lab
            .addr(rs, "lo", &format!("{}/{full}", lab.vip))
            .unwrap();
        for k in [
            "net.ipv4.conf.all.arp_ignore=1",
            "net.ipv4.conf.eth0.arp_ignore=1",
            "net.ipv4.conf.all.arp_announce=2",
            "net.ipv4.conf.eth0.arp_announce=2",
        ] {
            lab.lab.exec(rs, &["sysctl", "-qw", k]).unwrap();
        }
    }
}

fn dr(v6: bool, tag: &str) {
    let mut lab = Bridged::new(tag, v6).expect("lab");
    manual_realserver(&lab);
    lab.start_echo_on_vip(80).unwrap();
    let vip = hostport(&lab.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "rr"]).unwrap();
    for rs in &lab.rs {
        lab.adm(&["-a", "-t", &vip, "-r", rs, "-g"]).unwrap();
    }
    let lines: Vec<String> = (0..20)
        .map(|_| lab.http_get(80).expect("request through the VIP"))
        .collect();
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(t.get("rs1"), Some(&10), "{t:?}");
    assert_eq!(t.get("rs2"), Some(&10), "{t:?}");
    for l in &lines {
        assert_eq!(client_of(l).as_deref(), Some(lab.client.as_str()), "{l}");
    }
    let list = lab.adm(&["-Ln"]).unwrap();
    assert!(list.contains("Route"), "{list}");
    // Replies bypass the director: it saw client packets only (OutPkts 0).
    let stats = lab.adm(&["-Ln", "--stats", "--exact"]).unwrap();
    let svc_line = stats
        .lines()
        .find(|l| l.starts_with("TCP"))
        .expect("service line");
    let fields: Vec<&str> = svc_line.split_whitespace().collect();
    assert_eq!(fields[4], "0", "no reply passed the director: {stats}");
}

#[test]
fn dr_ipv4_rewrites_only_the_mac() {
    dr(false, "dr4");
}

#[test]
fn dr_ipv6_rewrites_only_the_mac() {
    dr(true, "dr6");
}
