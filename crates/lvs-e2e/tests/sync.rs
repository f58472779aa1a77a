//! Connection sync between two directors (each its own lvsd), NAT and DR: established
//! connections made through director `a` (sync master) appear on director `b` (sync
//! backup) with the same state and real server; after `a` dies (SIGKILL, links down) and
//! the addresses move to `b` (by hand here: what VRRP does), every connection still
//! answers through `b`, new connections are scheduled normally, and a persistent client
//! stays on its real server.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use lvs_e2e::{Pair, PairKind, hostport, tally};
use lvs_testkit::bin_path;

/// Held connections per test.
const HELD: usize = 40;
/// Ports: HTTP round robin, line echo round robin (held connections), HTTP persistent.
const HTTP: u16 = 80;
const LINES: u16 = 81;
const PERSIST: u16 = 90;

/// `-Lnc` rows as (source, virtual) → (state, destination).
fn conn_rows(listing: &str) -> BTreeMap<(String, String), (String, String)> {
    listing
        .lines()
        .skip(2)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6).then(|| {
                (
                    (f[3].to_string(), f[4].to_string()),
                    (f[2].to_string(), f[5].to_string()),
                )
            })
        })
        .collect()
}

/// Which of the lab's real servers `rs1`/`rs2` is.
fn pinned_index(name: &str) -> usize {
    usize::from(name == "rs2")
}

fn server_of(line: &str) -> Option<&str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("server="))
}

fn configure(p: &Pair, d: usize) {
    let method = match p.kind {
        PairKind::Nat | PairKind::Nat6 => "-m",
        PairKind::Dr => "-g",
    };
    for (port, persist) in [(HTTP, false), (LINES, false), (PERSIST, true)] {
        let vip = hostport(&p.vip, port);
        let mut args = vec!["-A", "-t", &vip, "-s", "rr"];
        if persist {
            args.extend_from_slice(&["-p", "120"]);
        }
        p.adm(d, &args).unwrap();
        for rs in &p.rs {
            let r = hostport(rs, port);
            p.adm(d, &["-a", "-t", &vip, "-r", &r, method]).unwrap();
        }
    }
}

/// Held connections through `a`, then `a` dies and `b` takes over: how many survived.
/// With `sync`, checks everything the module documentation says; without, only counts.
fn failover(kind: PairKind, tag: &str, sync: bool) -> usize {
    let mut p = Pair::new(tag, kind).expect("lab");
    p.start_servers(&[HTTP, PERSIST], &[LINES]).unwrap();
    configure(&p, 0);
    configure(&p, 1);
    let ifn = p.sync_interface();
    if sync {
        start_sync(&p, ifn);
    }
    p.activate(0).unwrap();
    let (dir, round1) = hold(&mut p);
    let pinned = if sync {
        let pinned = check_synced(&p);
        let method = match kind {
            PairKind::Nat | PairKind::Nat6 => "-m",
            PairKind::Dr => "-g",
        };
        let vip = hostport(&p.vip, PERSIST);
        let rs = hostport(&p.rs[pinned_index(&pinned)], PERSIST);
        p.adm(1, &["-e", "-t", &vip, "-r", &rs, method, "-w", "0"])
            .unwrap();
        Some(pinned)
    } else {
        None
    };

    // a dies; b takes the addresses.
    let t0 = Instant::now();
    p.kill_director(0).unwrap();
    p.activate(1).unwrap();
    std::fs::write(dir.join("go"), b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !dir.join("round2").exists() {
        assert!(Instant::now() < deadline, "held connections did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = t0.elapsed();
    let round2: Vec<String> = std::fs::read_to_string(dir.join("round2"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    let survived = round1
        .iter()
        .zip(&round2)
        .filter(|(a, b)| server_of(a).is_some() && server_of(a) == server_of(b))
        .count();
    eprintln!(
        "sync failover {kind:?} (sync {}): {survived}/{HELD} established connections \
         survived (round 2 done {took:?} after the kill)",
        if sync { "on" } else { "off" }
    );
    let Some(pinned) = pinned else {
        return survived;
    };
    assert_eq!(survived, HELD, "round1 {round1:?}\nround2 {round2:?}");

    // New connections through b: scheduled over both real servers.
    let lines: Vec<String> = (0..4).map(|_| p.http_get(HTTP).unwrap()).collect();
    let servers: BTreeSet<_> = lines.iter().filter_map(|l| server_of(l)).collect();
    assert_eq!(servers.len(), 2, "{lines:?}");
    // The persistent client keeps its real server, through the synced template only: on
    // b that server is quiesced for the service (weight 0, set before the failover), so
    // scheduling afresh would never pick it.
    for _ in 0..3 {
        let l = p.http_get(PERSIST).unwrap();
        assert_eq!(server_of(&l), Some(pinned.as_str()), "{l}");
    }
    survived
}

/// The sync group: the default (IPv4) except for the IPv6 lab, which syncs over IPv6.
fn group(p: &Pair) -> Option<&'static str> {
    (p.kind == PairKind::Nat6).then_some("ff02::8848")
}

fn start_sync(p: &Pair, ifn: &str) {
    for (d, role) in [(0, "master"), (1, "backup")] {
        let mut args = vec!["--start-daemon", role, "--mcast-interface", ifn];
        if let Some(g) = group(p) {
            args.extend_from_slice(&["--mcast-group", g]);
        }
        p.adm(d, &args).unwrap();
        let (maxlen, g) = match group(p) {
            Some(g) => (1452, g),
            None => (1472, "224.0.0.81"),
        };
        assert_eq!(
            p.adm(d, &["-L", "--daemon"]).unwrap(),
            format!(
                "{role} sync daemon (mcast={ifn}, syncid=0, maxlen={maxlen}, group={g}, port=8848, ttl=1)\n"
            )
        );
    }
}

/// HELD long-lived connections from the client through the active director, one
/// exchange each: (the control directory, the answers).
fn hold(p: &mut Pair) -> (std::path::PathBuf, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("{}-hold", p.lab.ns_name("c")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let echo = bin_path("lvs-echo").unwrap();
    let vip_lines = hostport(&p.vip, LINES);
    let held = HELD.to_string();
    p.lab
        .spawn(
            "c",
            &[
                echo.to_str().unwrap(),
                "--hold",
                &vip_lines,
                &held,
                dir.to_str().unwrap(),
            ],
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("round1").exists() {
        assert!(Instant::now() < deadline, "held connections not opened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let round1: Vec<String> = std::fs::read_to_string(dir.join("round1"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(round1.len(), HELD);
    let t = tally(round1.iter().map(String::as_str));
    assert_eq!(
        (t.get("rs1"), t.get("rs2")),
        (Some(&20), Some(&20)),
        "{t:?}"
    );
    (dir, round1)
}

/// A persistent client goes through `a`; `b` learns `a`'s held connections and the
/// client's template (same state, same real server). Returns the client's real server.
fn check_synced(p: &Pair) -> String {
    let persistent: Vec<String> = (0..3).map(|_| p.http_get(PERSIST).unwrap()).collect();
    let pinned = server_of(&persistent[0]).unwrap().to_string();
    assert!(
        persistent.iter().all(|l| server_of(l) == Some(&pinned)),
        "{persistent:?}"
    );
    // b learns them (sync messages leave within 2 s): same state, same real server.
    let on_a = conn_rows(&p.adm(0, &["-Lnc"]).unwrap());
    let held_on_a: BTreeMap<_, _> = on_a
        .iter()
        .filter(|((_, v), (st, _))| v.ends_with(&format!(":{LINES}")) && st == "ESTABLISHED")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(held_on_a.len(), HELD, "{on_a:?}");
    // The persistence template too (source = the client network, port 0).
    let tpl_key = (hostport(&p.client, 0), hostport(&p.vip, PERSIST));
    let tpl_on_a = on_a.get(&tpl_key).cloned();
    assert_eq!(
        tpl_on_a.as_ref().map(|(_, d)| d.clone()),
        Some(hostport(&p.rs[pinned_index(&pinned)], PERSIST))
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let on_b = conn_rows(&p.adm(1, &["-Lnc"]).unwrap());
        let tpl_on_b = on_b.get(&tpl_key).map(|(_, d)| d.clone());
        if held_on_a.iter().all(|(k, v)| on_b.get(k) == Some(v))
            && tpl_on_b == tpl_on_a.as_ref().map(|(_, d)| d.clone())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b did not learn a's connections and template:\na: {on_a:?}\nb: {on_b:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let counters = &p.api(1).sync_daemons().unwrap()[0].counters;
    assert_eq!(
        (counters.malformed, counters.rejected),
        (0, 0),
        "{counters:?}"
    );
    assert!(p.api(0).sync_daemons().unwrap()[0].counters.sent_messages > 0);
    pinned
}

#[test]
fn nat_failover_keeps_established_connections() {
    assert_eq!(failover(PairKind::Nat, "syn", true), HELD);
}

#[test]
fn nat_ipv6_failover_keeps_established_connections() {
    assert_eq!(failover(PairKind::Nat6, "sy6", true), HELD);
}

#[test]
fn dr_failover_keeps_established_connections() {
    assert_eq!(failover(PairKind::Dr, "syd", true), HELD);
}

/// The control: without sync, b knows none of them and they die (b's stack resets them),
/// so the tests above measure the sync and nothing else.
#[test]
fn without_sync_the_connections_die() {
    assert_eq!(failover(PairKind::Nat, "syx", false), 0);
}

/// `--start-daemon` / `--stop-daemon` / `-L --daemon` against lvsd, with ipvsadm's
/// messages and exit statuses (recorded from ipvsadm 1.31 on Linux 6.12).
#[test]
fn daemon_commands() {
    let p = Pair::new("syc", PairKind::Dr).expect("lab");
    assert_eq!(
        p.lvsadm(0, &["-L", "--daemon"]).unwrap(),
        (0, String::new(), String::new())
    );
    assert_eq!(
        p.lvsadm(
            0,
            &["--start-daemon", "master", "--mcast-interface", "nosuch"]
        )
        .unwrap(),
        (255, String::new(), "No such device\n".into())
    );
    p.adm(
        0,
        &["--start-daemon", "master", "--mcast-interface", "eth0"],
    )
    .unwrap();
    assert_eq!(
        p.lvsadm(
            0,
            &["--start-daemon", "master", "--mcast-interface", "eth0"]
        )
        .unwrap(),
        (255, String::new(), "Daemon has already run\n".into())
    );
    assert_eq!(
        p.lvsadm(0, &["--stop-daemon", "backup"]).unwrap(),
        (255, String::new(), "No daemon is running\n".into())
    );
    p.adm(
        0,
        &[
            "--start-daemon",
            "backup",
            "--mcast-interface",
            "eth0",
            "--syncid",
            "7",
            "--sync-maxlen",
            "900",
            "--mcast-ttl",
            "3",
            "--mcast-port",
            "9000",
            "--mcast-group",
            "224.0.0.99",
        ],
    )
    .unwrap();
    assert_eq!(
        p.adm(0, &["-Ln", "--daemon"]).unwrap(),
        "master sync daemon (mcast=eth0, syncid=0, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n\
         backup sync daemon (mcast=eth0, syncid=7, maxlen=1024, group=224.0.0.99, port=9000, ttl=3)\n"
    );
    p.adm(0, &["--stop-daemon", "master"]).unwrap();
    assert_eq!(
        p.lvsadm(0, &["--stop-daemon", "master"]).unwrap(),
        (255, String::new(), "No daemon is running\n".into())
    );
    p.adm(0, &["--stop-daemon", "backup"]).unwrap();
    assert_eq!(p.adm(0, &["-L", "--daemon"]).unwrap(), "");
    // A large maxlen works (fragmented), as with the kernel.
    p.adm(
        0,
        &[
            "--start-daemon",
            "master",
            "--mcast-interface",
            "eth0",
            "--sync-maxlen",
            "65507",
        ],
    )
    .unwrap();
    assert_eq!(
        p.adm(0, &["-L", "--daemon"]).unwrap(),
        "master sync daemon (mcast=eth0, syncid=0, maxlen=65507, group=224.0.0.81, port=8848, ttl=1)\n"
    );
}
