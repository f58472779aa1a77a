//! lvsd as a daemon: SIGTERM detaches XDP cleanly, a restart finds no stale state, and
//! packets that are not for a service (ARP, the director's own services) pass untouched.

use std::time::Duration;

use lvs_e2e::{Routed, V4, hostport, tally};
use lvs_testkit::bin_path;

#[test]
fn sigterm_detaches_and_a_restart_starts_clean() {
    let mut lab = Routed::new("sg", V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "rr"]).unwrap();
    lab.adm(&[
        "-a",
        "-t",
        &vip,
        "-r",
        &hostport(lab.plan.rs[0], 8080),
        "-m",
    ])
    .unwrap();
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
    lab.adm(&["-A", "-t", &vip, "-s", "rr"]).unwrap();
    lab.adm(&[
        "-a",
        "-t",
        &vip,
        "-r",
        &hostport(lab.plan.rs[1], 8080),
        "-m",
    ])
    .unwrap();
    let t = tally([lab.http_get(80).unwrap().as_str()]);
    assert_eq!(t.get("rs2"), Some(&1));
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
    lab.adm(&["-A", "-t", &vip, "-s", "rr"]).unwrap();
    lab.adm(&[
        "-a",
        "-t",
        &vip,
        "-r",
        &hostport(lab.plan.rs[0], 8080),
        "-m",
    ])
    .unwrap();
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
