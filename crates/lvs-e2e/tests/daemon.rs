//! lvsd as a daemon: SIGTERM detaches XDP cleanly, a restart finds no stale state, a
//! SIGKILLed lvsd leaves its flows forwarding until the next one replaces its programs,
//! and packets that are not for a service (ARP, the director's own services) pass
//! untouched.

use std::time::{Duration, Instant};

use lvs_e2e::{Routed, V4, file_sha256, hostport, pattern_sha256, slow_download, tally, wait_rc};
use lvs_testkit::bin_path;

/// An rr NAT service `vip` with one real server, `rs`'s echo on port 8080.
fn nat_service(lab: &Routed, vip: &str, rs: usize) {
    lab.adm(&["-A", "-t", vip, "-s", "rr"]).unwrap();
    let rip = hostport(lab.plan.rs[rs], 8080);
    lab.adm(&["-a", "-t", vip, "-r", &rip, "-m"]).unwrap();
}

#[test]
fn sigterm_detaches_and_a_restart_starts_clean() {
    let mut lab = Routed::new("sg", V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    let vip = hostport(lab.plan.vip, 80);
    nat_service(&lab, &vip, 0);
    lab.http_get(80).unwrap();
    let links = lab.lab.exec("d", &["ip", "-o", "link", "show"]).unwrap();
    assert!(String::from_utf8_lossy(&links.stdout).contains("xdpgeneric"));
    let st = lab.stop_lvsd().unwrap();
    assert!(st.success(), "{st}");
    let links = lab.lab.exec("d", &["ip", "-o", "link", "show"]).unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(
        !links.contains("xdp"),
        "no XDP program left behind: {links}"
    );
    assert!(
        !std::path::Path::new(&lab.socket).exists(),
        "socket removed"
    );
    // Restart: empty table, and it forwards again once configured.
    let lvsd = bin_path("lvsd").unwrap();
    let socket = lab.socket.clone();
    lab.lab
        .spawn("d", &[lvsd.to_str().unwrap(), "--socket", &socket])
        .unwrap();
    for _ in 0..100 {
        if lab.api().info().is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        lab.adm(&["-Ln"]).unwrap(),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    );
    assert_eq!(lab.api().dataplane().map(|s| s.flows).unwrap_or(0), 0);
    nat_service(&lab, &vip, 1);
    let t = tally([lab.http_get(80).unwrap().as_str()]);
    assert_eq!(t.get("rs2"), Some(&1));
}

/// The director's XDP/TC attachments and their state, as the tools show them.
fn attachments(lab: &Routed) -> String {
    let mut out = String::new();
    for args in [
        &["ip", "-o", "link", "show"][..],
        &["tc", "filter", "show", "dev", "eth0", "ingress"],
        &["tc", "qdisc", "show", "dev", "eth0"],
    ] {
        let o = lab.lab.exec("d", args).unwrap();
        out.push_str(&String::from_utf8_lossy(&o.stdout));
    }
    out
}

/// lvsd is SIGKILLed with a download running: its programs stay attached and finish the
/// download from their flow table (as kernel IPVS would); new connections get no answer
/// (no slow path), not a reset. A restarted lvsd replaces the stale programs and starts
/// from empty maps; SIGTERM then leaves nothing behind.
#[test]
fn a_killed_lvsd_leaves_its_flows_forwarding_and_a_restart_replaces_it() {
    let mut lab = Routed::new("kl", V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    let vip = hostport(lab.plan.vip, 80);
    nat_service(&lab, &vip, 0);
    const BYTES: u64 = 2_000_000;
    let (rc, body) = slow_download(&mut lab, "kl", BYTES, "400k");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&body).map(|m| m.len()).unwrap_or(0) < 100_000 {
        assert!(Instant::now() < deadline, "the download did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.kill_lvsd();
    let left = attachments(&lab);
    assert!(left.contains("xdpgeneric"), "{left}");
    assert!(left.contains("lvs_tc"), "{left}");
    // No slow path: a new connection is not answered, and not reset either.
    let out = lab
        .lab
        .try_exec("c", &["curl", "-s", "-m", "1", &format!("http://{vip}/")])
        .unwrap();
    assert_eq!(out.status.code(), Some(28), "curl timed out (no RST)");
    assert_eq!(
        wait_rc(&rc, Duration::from_secs(30)),
        Some(0),
        "the download finished after lvsd died"
    );
    assert_eq!(
        file_sha256(&body).unwrap(),
        pattern_sha256(BYTES).unwrap(),
        "and arrived intact"
    );

    // Restart: the stale programs are replaced, the table is empty, it forwards again.
    lab.restart_lvsd().unwrap();
    assert_eq!(lab.api().dataplane().map(|s| s.flows).unwrap_or(1), 0);
    let now = attachments(&lab);
    assert_eq!(now.matches("name lvs_tc").count(), 1, "{now}");
    assert_eq!(lab.adm(&["-Ln"]).unwrap().lines().count(), 3);
    nat_service(&lab, &vip, 1);
    assert!(lab.http_get(80).unwrap().contains("server=rs2"));
    assert!(lab.stop_lvsd().unwrap().success());
    let after = attachments(&lab);
    assert!(!after.contains("xdp"), "{after}");
    assert!(!after.contains("lvs_tc"), "{after}");
    assert!(!after.contains("clsact"), "{after}");
}

#[test]
fn traffic_not_for_a_service_passes_untouched() {
    let mut lab = Routed::new("pt", V4, true).expect("lab");
    // A service of the director itself (like its ssh), on the director's own address and
    // on the VIP's address but another port.
    let echo = bin_path("lvs-echo").unwrap();
    let own = hostport(lab.plan.dir_client, 2222);
    let vip_other = hostport(lab.plan.vip, 2223);
    lab.lab
        .spawn(
            "d",
            &[
                echo.to_str().unwrap(),
                "director",
                "--tcp",
                &own,
                "--tcp",
                &vip_other,
            ],
        )
        .unwrap();
    lab.start_echo(8080).unwrap();
    let vip = hostport(lab.plan.vip, 80);
    nat_service(&lab, &vip, 0);
    std::thread::sleep(Duration::from_millis(300));
    for target in [own, vip_other] {
        let out = lab
            .lab
            .exec(
                "c",
                &["curl", "-s", "-m", "3", &format!("http://{target}/")],
            )
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("server=director"),
            "{target}"
        );
    }
    // The service itself still works, and nothing of the above became a connection.
    assert!(lab.http_get(80).unwrap().contains("server=rs1"));
    let conns = lab.adm(&["-Lnc"]).unwrap();
    assert_eq!(conns.lines().count(), 3, "{conns}");
}
