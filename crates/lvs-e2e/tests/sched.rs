//! Schedulers and persistence observed end to end through lvsd (NAT, IPv4).

use std::time::Duration;

use lvs_e2e::{Routed, V4, hostport, tally};

fn lab(tag: &str) -> Routed {
    let mut lab = Routed::new(tag, V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    lab
}

fn rs(lab: &Routed, i: usize) -> String {
    hostport(lab.plan.rs[i], 8080)
}

#[test]
fn wrr_three_to_one_splits_75_25() {
    let lab = lab("wr");
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "wrr"]).unwrap();
    lab.adm(&["-a", "-t", &vip, "-r", &rs(&lab, 0), "-m", "-w", "3"])
        .unwrap();
    lab.adm(&["-a", "-t", &vip, "-r", &rs(&lab, 1), "-m", "-w", "1"])
        .unwrap();
    let lines = lab.http_gets(80, 100).unwrap();
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(
        (t.get("rs1"), t.get("rs2")),
        (Some(&75), Some(&25)),
        "{t:?}"
    );
}

#[test]
fn sh_keeps_a_client_on_one_server() {
    let lab = lab("sh");
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "sh"]).unwrap();
    lab.adm(&["-a", "-t", &vip, "-r", &rs(&lab, 0), "-m"])
        .unwrap();
    lab.adm(&["-a", "-t", &vip, "-r", &rs(&lab, 1), "-m"])
        .unwrap();
    let lines = lab.http_gets(80, 20).unwrap();
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(t.len(), 1, "one client, one server: {t:?}");
    assert_eq!(t.values().sum::<usize>(), 20);
}

#[test]
fn persistence_keeps_a_client_until_the_template_expires() {
    let lab = lab("ps");
    // UDP so connections end quickly: udp timeout 1 s, persistence 2 s.
    let vip = hostport(lab.plan.vip, 53);
    lab.adm(&["--set", "0", "0", "1"]).unwrap();
    lab.adm(&["-A", "-u", &vip, "-s", "rr", "-p", "2"]).unwrap();
    lab.adm(&["-a", "-u", &vip, "-r", &rs(&lab, 0), "-m"])
        .unwrap();
    lab.adm(&["-a", "-u", &vip, "-r", &rs(&lab, 1), "-m"])
        .unwrap();
    let echo = lvs_testkit::bin_path("lvs-echo").unwrap();
    let burst = || {
        let out = lab
            .lab
            .exec("c", &[echo.to_str().unwrap(), "--udp-clients", &vip, "6"])
            .unwrap();
        tally(String::from_utf8_lossy(&out.stdout).lines())
    };
    let first = burst();
    assert_eq!(
        first.len(),
        1,
        "persistent: all six on one server {first:?}"
    );
    assert_eq!(first.values().sum::<usize>(), 6);
    let conns = lab.adm(&["-Lnc"]).unwrap();
    assert!(
        conns
            .lines()
            .any(|l| l.contains("ASSURED") || l.contains("NONE")),
        "template listed: {conns}"
    );
    // Connections end after 1 s, the template 2 s after the last new connection; then rr
    // moves on to the other server.
    std::thread::sleep(Duration::from_millis(3500));
    let after = burst();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(
        first.keys().next(),
        after.keys().next(),
        "the template expired, the next connection was scheduled afresh"
    );
}
