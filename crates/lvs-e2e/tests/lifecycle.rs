//! Connection lifecycle through lvsd (NAT, IPv4): states in `-Lnc`, RST, timeouts that
//! expire entries and their XDP flows, weight 0, deleting a real server or a service, data
//! integrity, many concurrent connections, counters.

use std::time::{Duration, Instant};

use lvs_e2e::{
    Routed, V4, download_sha256, file_sha256, hostport, pattern_sha256, slow_download, tally,
    wait_rc, wait_server,
};
use lvs_testkit::bin_path;

fn nat_lab(tag: &str) -> Routed {
    let mut lab = Routed::new(tag, V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "rr"]).unwrap();
    for i in 0..2 {
        lab.adm(&[
            "-a",
            "-t",
            &vip,
            "-r",
            &hostport(lab.plan.rs[i], 8080),
            "-m",
        ])
        .unwrap();
    }
    lab
}

#[test]
fn states_and_rst_are_listed_with_ipvs_names() {
    let lab = nat_lab("st");
    lab.http_gets(80, 2).unwrap();
    let conns = lab.adm(&["-Lnc"]).unwrap();
    let rows: Vec<&str> = conns.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "{conns}");
    // HTTP/1.0: the server closes first; the last ACK leaves the entry in TIME_WAIT.
    assert!(rows.iter().all(|r| r.contains("TIME_WAIT")), "{conns}");
    assert!(
        rows.iter().all(|r| r.contains(" 01:5")),
        "expiry about 2 min: {conns}"
    );
    // A port where nothing listens: the real server answers RST, the entry goes to CLOSE.
    let vip81 = hostport(lab.plan.vip, 81);
    lab.adm(&["-A", "-t", &vip81, "-s", "rr"]).unwrap();
    lab.adm(&["-a", "-t", &vip81, "-r", &hostport(lab.plan.rs[0], 9), "-m"])
        .unwrap();
    let url = format!("http://{vip81}/");
    let out = lab
        .lab
        .try_exec("c", &["curl", "-s", "-m", "3", &url])
        .unwrap();
    assert!(!out.status.success(), "connection refused expected");
    std::thread::sleep(Duration::from_millis(300));
    let conns = lab.adm(&["-Lnc"]).unwrap();
    let row = conns
        .lines()
        .find(|l| l.contains(":81 "))
        .unwrap_or_else(|| panic!("no entry for :81 in {conns}"));
    assert!(row.contains("CLOSE"), "{row}");
}

#[test]
fn timeouts_expire_entries_and_their_xdp_flows() {
    let lab = nat_lab("to");
    lab.adm(&["--set", "0", "0", "1"]).unwrap();
    let vip = hostport(lab.plan.vip, 53);
    lab.adm(&["-A", "-u", &vip, "-s", "rr"]).unwrap();
    lab.adm(&[
        "-a",
        "-u",
        &vip,
        "-r",
        &hostport(lab.plan.rs[0], 8080),
        "-m",
    ])
    .unwrap();
    let echo = bin_path("lvs-echo").unwrap();
    let out = lab
        .lab
        .exec("c", &[echo.to_str().unwrap(), "--udp-clients", &vip, "4"])
        .unwrap();
    assert_eq!(
        tally(String::from_utf8_lossy(&out.stdout).lines()).get("rs1"),
        Some(&4)
    );
    std::thread::sleep(Duration::from_millis(1100));
    let st = lab.api().dataplane().unwrap();
    assert!(st.flows >= 8, "4 UDP connections, 2 flows each: {st:?}");
    assert_eq!(
        lab.adm(&["-L", "--timeout"]).unwrap(),
        "Timeout (tcp tcpfin udp): 900 120 1\n"
    );
    // UDP timeout 1 s: gone from the table and from XDP within a second or two.
    std::thread::sleep(Duration::from_millis(2500));
    let conns = lab.adm(&["-Lnc"]).unwrap();
    assert_eq!(conns.lines().count(), 2, "only the header left: {conns}");
    let st = lab.api().dataplane().unwrap();
    assert_eq!(st.flows, 0, "{st:?}");
}

#[test]
fn weight_zero_stops_new_connections_but_existing_ones_finish() {
    let mut lab = nat_lab("wz");
    let (rc, body) = slow_download(&mut lab, "dl", 600_000, "200k");
    let busy = wait_server(&body);
    assert!(busy == "rs1" || busy == "rs2", "download started: {busy:?}");
    let idx = if busy == "rs1" { 0 } else { 1 };
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&[
        "-e",
        "-t",
        &vip,
        "-r",
        &hostport(lab.plan.rs[idx], 8080),
        "-m",
        "-w",
        "0",
    ])
    .unwrap();
    let lines = lab.http_gets(80, 10).unwrap();
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(
        !t.contains_key(&busy),
        "quiesced server got new connections: {t:?}"
    );
    assert_eq!(
        wait_rc(&rc, Duration::from_secs(15)),
        Some(0),
        "download finished"
    );
    assert_eq!(std::fs::metadata(&body).unwrap().len(), 600_000);
}

#[test]
fn deleting_a_real_server_drops_its_connections() {
    let mut lab = nat_lab("dd");
    let (rc, body) = slow_download(&mut lab, "dl", 2_000_000, "100k");
    let busy = wait_server(&body);
    assert!(busy == "rs1" || busy == "rs2", "download started: {busy:?}");
    let idx = if busy == "rs1" { 0 } else { 1 };
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-d", "-t", &vip, "-r", &hostport(lab.plan.rs[idx], 8080)])
        .unwrap();
    // expire_nodest_conn = 0: the connection's packets are dropped; curl times out.
    let code = wait_rc(&rc, Duration::from_secs(25)).expect("curl ended");
    assert_ne!(code, 0, "download must not complete");
    assert!(std::fs::metadata(&body).map_or(0, |m| m.len()) < 2_000_000);
    // New connections go to the remaining server.
    let t = tally(lab.http_gets(80, 4).unwrap().iter().map(String::as_str));
    assert_eq!(t.len(), 1);
    assert!(!t.contains_key(&busy));
}

#[test]
fn deleting_a_service_stops_its_traffic_at_once() {
    let mut lab = nat_lab("ds");
    let (rc, body) = slow_download(&mut lab, "dl", 2_000_000, "100k");
    let busy = wait_server(&body);
    assert!(busy == "rs1" || busy == "rs2", "download started: {busy:?}");
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-D", "-t", &vip]).unwrap();
    let code = wait_rc(&rc, Duration::from_secs(25)).expect("curl ended");
    assert_ne!(code, 0);
    assert!(lab.http_get(80).is_err(), "no service, no answer");
}

#[test]
fn a_100_mb_transfer_arrives_intact() {
    let lab = nat_lab("in");
    let n = 100_000_000u64;
    let url = format!("http://{}/bytes/{n}", hostport(lab.plan.vip, 80));
    assert_eq!(
        download_sha256(&lab.lab, &url, 120).unwrap(),
        pattern_sha256(n).unwrap()
    );
}

/// Packets of checksum-offloading senders (TSO over veth) carry only the pseudo-header
/// seed in their TCP checksum, and NAT must update it as a seed (`lvs_tc`'s
/// `bpf_l4_csum_replace`). With transmit checksum offload off on the director's
/// interfaces, the kernel completes every checksum from that seed (and segments the
/// aggregates) in software on the way out: a wrong seed would corrupt every segment and
/// the client would drop them all.
#[test]
fn a_transfer_through_a_director_without_checksum_offload_arrives_intact() {
    let lab = nat_lab("co");
    for i in ["eth0", "eth1", "eth2"] {
        lab.lab
            .exec("d", &["ethtool", "-K", i, "tx", "off"])
            .unwrap();
    }
    let n = 20_000_000u64;
    let url = format!("http://{}/bytes/{n}", hostport(lab.plan.vip, 80));
    assert_eq!(
        download_sha256(&lab.lab, &url, 60).unwrap(),
        pattern_sha256(n).unwrap()
    );
    // The fast path did the work: lvs_tc forwarded, nothing was dropped for lack of a punt
    // (lvsd refreshes the status every second).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let st = lab.api().dataplane().unwrap();
        let c = |k: &str| {
            st.counters
                .iter()
                .find(|(n, _)| n == k)
                .map_or(0, |(_, v)| *v)
        };
        assert_eq!(c("tc_drop"), 0, "{st:?}");
        if c("pass_to_tc") > 100 && c("fwd_redirect") > 100 {
            break;
        }
        assert!(Instant::now() < deadline, "{st:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The director's neighbour cache emptied again and again during a download: every flow
/// hit whose next hop has no entry at that moment is forwarded by `lvs_tc` with
/// `bpf_redirect_neigh` (the kernel resolves the MAC address), and the data arrives intact.
#[test]
fn flushed_neighbour_entries_are_resolved_by_the_fast_path() {
    let mut lab = nat_lab("nf");
    let n = 1_000_000u64;
    let (rc, body) = slow_download(&mut lab, "dl", n, "2M");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&rc).is_err() && Instant::now() < deadline {
        lab.lab.exec("d", &["ip", "neigh", "flush", "all"]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        wait_rc(&rc, Duration::from_secs(5)),
        Some(0),
        "download finished"
    );
    assert_eq!(file_sha256(&body).unwrap(), pattern_sha256(n).unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let st = lab.api().dataplane().unwrap();
        let c = |k: &str| {
            st.counters
                .iter()
                .find(|(n, _)| n == k)
                .map_or(0, |(_, v)| *v)
        };
        assert_eq!(c("tc_drop"), 0, "{st:?}");
        if c("tc_fwd_neigh") > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no bpf_redirect_neigh: {st:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_thousand_concurrent_connections_complete() {
    let lab = nat_lab("cc");
    let url = format!("http://{}/", hostport(lab.plan.vip, 80));
    let cfg = format!("/tmp/{}-urls", lab.lab.ns_name("c"));
    let body: String = (0..1000)
        .map(|_| format!("url = \"{url}\"\noutput = /dev/null\n"))
        .collect();
    std::fs::write(&cfg, body).unwrap();
    let out = lab
        .lab
        .exec(
            "c",
            &[
                "curl",
                "-s",
                "-m",
                "60",
                "--parallel",
                "--parallel-max",
                "1000",
                "-K",
                &cfg,
                "-w",
                "%{http_code}\n",
            ],
        )
        .unwrap();
    let codes = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        codes.lines().filter(|c| *c == "200").count(),
        1000,
        "{codes}"
    );
    let svcs = lab.api().services().unwrap();
    assert_eq!(svcs[0].stats.conns, 1000);
    let _ = std::fs::remove_file(cfg);
}

#[test]
fn counters_include_the_fast_path() {
    let lab = nat_lab("ct");
    lab.http_gets(80, 4).unwrap();
    // XDP's per-real-server counters are folded in every second.
    std::thread::sleep(Duration::from_millis(1500));
    let svcs = lab.api().services().unwrap();
    let s = &svcs[0].stats;
    assert_eq!(s.conns, 4);
    // Per connection at least SYN, ACK, request, ACKs, FIN in; SYN-ACK, data, FIN out.
    assert!(s.inpkts >= 4 * 5, "{s:?}");
    assert!(s.outpkts >= 4 * 3, "{s:?}");
    assert!(svcs[0].dests.iter().all(|d| d.stats.conns == 2));
    let st = lab.api().dataplane().unwrap();
    let fwd: u64 = st
        .counters
        .iter()
        .filter(|(k, _)| k.starts_with("fwd_"))
        .map(|(_, v)| v)
        .sum();
    assert!(fwd > 0, "established packets forwarded in XDP: {st:?}");
}
