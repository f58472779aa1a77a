//! Two directors, each running lvsd and lvs-keepalived from an unchanged keepalived.conf
//! (VRRP v3, `lvs_sync_daemon`, virtual servers with health checks): the master's
//! processes are SIGKILLed (its links stay up) and the backup takes over the addresses by
//! VRRP and keeps the master's connections through the sync daemon that lvs-keepalived
//! switched to master.
//!
//! Measured and printed (docs/perf.md): the takeover time, from the SIGKILL to the first
//! answer through the VIP from the backup; and, in the same lab with the same advert_int,
//! Debian's keepalived (VRRP only, `-P`) doing the same job, as the peer.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lvs_e2e::{DIRECTORS, Pair, PairKind, file_sha256, hostport, pattern_sha256, tally};
use lvs_testkit::bin_path;

/// Held idle connections.
const HELD: usize = 100;
const HTTP: u16 = 80;
const LINES: u16 = 81;
const PERSIST: u16 = 90;
/// The slow download that runs across the failover.
const DOWNLOAD: u64 = 3_000_000;

fn server_of(line: &str) -> Option<&str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("server="))
}

/// keepalived.conf of director `d` (priority 150 for `a`, 100 for `b`).
fn keepalived_conf(p: &Pair, d: usize, with_virtual_servers: bool) -> String {
    let prio = if d == 0 { 150 } else { 100 };
    let sync_if = p.sync_interface();
    let vips: String = p
        .floating()
        .iter()
        .map(|(ifn, cidr)| format!("        {cidr} dev {ifn}\n"))
        .collect();
    let mut c = format!(
        "! lvs-keepalived failover test, director {name}
global_defs {{
    router_id lvs_{name}
    lvs_sync_daemon {sync_if} VI_1
}}

vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {prio}
    version 3
    advert_int 0.1
    garp_master_delay 1
    virtual_ipaddress {{
{vips}    }}
}}
",
        name = DIRECTORS[d]
    );
    if !with_virtual_servers {
        return c;
    }
    let (kind, check) = match p.kind {
        PairKind::Nat | PairKind::Nat6 => ("NAT", true),
        // DR real servers listen on the VIP, which the director owns too: no TCP_CHECK.
        PairKind::Dr => ("DR", false),
    };
    for (port, persist) in [(HTTP, false), (LINES, false), (PERSIST, true)] {
        c.push_str(&format!(
            "\nvirtual_server {} {port} {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind {kind}\n    protocol TCP\n",
            p.vip
        ));
        if persist {
            c.push_str("    persistence_timeout 120\n");
        }
        for rs in &p.rs {
            c.push_str(&format!(
                "    real_server {rs} {port} {{\n        weight 1\n"
            ));
            if check {
                c.push_str("        TCP_CHECK {\n            connect_timeout 1\n        }\n");
            }
            c.push_str("    }\n");
        }
        c.push_str("}\n");
    }
    c
}

fn conf_path(p: &Pair, d: usize) -> PathBuf {
    std::env::temp_dir().join(format!("{}-keepalived.conf", p.lab.ns_name(DIRECTORS[d])))
}

/// Start lvs-keepalived on director `d`; its index in the lab.
fn start_keepalived(p: &mut Pair, d: usize) -> usize {
    start_keepalived_with(p, d, "")
}

/// Start lvs-keepalived on director `d` with `extra` appended to its configuration.
fn start_keepalived_with(p: &mut Pair, d: usize, extra: &str) -> usize {
    let path = conf_path(p, d);
    std::fs::write(&path, keepalived_conf(p, d, true) + extra).unwrap();
    let bin = bin_path("lvs-keepalived").unwrap();
    let pid = std::env::temp_dir().join(format!("{}-ka.pid", p.lab.ns_name(DIRECTORS[d])));
    let sock = p.sockets[d].clone();
    let cmd = format!(
        "LVSD_SOCKET={sock} exec {} -n -l -f {} -p {}",
        bin.display(),
        path.display(),
        pid.display()
    );
    p.lab.spawn(DIRECTORS[d], &["sh", "-c", &cmd]).unwrap()
}

/// Whether director `d` holds the VIP.
fn holds_vip(p: &Pair, d: usize) -> bool {
    let out = p
        .lab
        .exec(DIRECTORS[d], &["ip", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(&format!(" {}/", p.vip))
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One request with a short timeout.
fn try_get(p: &Pair, port: u16, timeout: &str) -> Option<String> {
    let url = format!("http://{}/", hostport(&p.vip, port));
    let out = p
        .lab
        .try_exec("c", &["curl", "-s", "-m", timeout, "-g", &url])
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Requests in a loop until one is answered: the time it took.
fn time_to_answer(p: &Pair, since: Instant) -> Duration {
    loop {
        if try_get(p, HTTP, "0.2").is_some() {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "no answer after failover"
        );
    }
}

/// Both directors' lvsd have the services (put there by lvs-keepalived) with both real
/// servers alive.
fn wait_configured(p: &Pair) {
    for d in 0..2 {
        wait_for(
            "lvs-keepalived to configure lvsd",
            Duration::from_secs(20),
            || {
                let l = p.adm(d, &["-Ln"]).unwrap_or_default();
                p.rs.iter().all(|rs| l.matches(rs.as_str()).count() >= 3)
            },
        );
    }
}

/// With a slow download across the failover, checked byte for byte.
fn failover(kind: PairKind, tag: &str) {
    let mut p = Pair::new(tag, kind).expect("lab");
    p.start_servers(&[HTTP, PERSIST], &[LINES]).unwrap();
    let ka_a = start_keepalived(&mut p, 0);
    wait_for("a to become master", Duration::from_secs(10), || {
        holds_vip(&p, 0)
    });
    let _ka_b = start_keepalived(&mut p, 1);
    wait_configured(&p);
    // a is master and its sync daemon master, b backup.
    wait_for("sync roles", Duration::from_secs(10), || {
        let a = p.adm(0, &["-L", "--daemon"]).unwrap_or_default();
        let b = p.adm(1, &["-L", "--daemon"]).unwrap_or_default();
        a.starts_with("master sync daemon") && b.starts_with("backup sync daemon")
    });
    assert!(!holds_vip(&p, 1));

    // Held connections, a persistent client, a slow download, all through a.
    let dir = std::env::temp_dir().join(format!("{}-hold", p.lab.ns_name("c")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let echo = bin_path("lvs-echo").unwrap();
    let held = HELD.to_string();
    p.lab
        .spawn(
            "c",
            &[
                echo.to_str().unwrap(),
                "--hold",
                &hostport(&p.vip, LINES),
                &held,
                dir.to_str().unwrap(),
            ],
        )
        .unwrap();
    wait_for("held connections", Duration::from_secs(30), || {
        dir.join("round1").exists()
    });
    let round1: Vec<String> = std::fs::read_to_string(dir.join("round1"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(round1.len(), HELD);
    let t = tally(round1.iter().map(String::as_str));
    assert_eq!(t.len(), 2, "rr over both real servers: {t:?}");
    let persistent: Vec<String> = (0..3).map(|_| p.http_get(PERSIST).unwrap()).collect();
    let pinned = server_of(&persistent[0]).unwrap().to_string();
    assert!(
        persistent
            .iter()
            .all(|l| server_of(l) == Some(pinned.as_str()))
    );

    // The download: real servers' egress shaped so it lasts across the failover.
    let body = dir.join("body");
    let rc = dir.join("rc");
    for rs in ["r1", "r2"] {
        p.lab
            .exec(
                rs,
                &[
                    "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", "4mbit",
                    "burst", "16kb", "latency", "500ms",
                ],
            )
            .unwrap();
    }
    let url = format!("http://{}/bytes/{DOWNLOAD}", hostport(&p.vip, HTTP));
    let script = format!(
        "curl -s -m 60 -o {} {url}; echo $? > {}",
        body.display(),
        rc.display()
    );
    p.lab.spawn("c", &["bash", "-c", &script]).unwrap();
    wait_for("the download to start", Duration::from_secs(10), || {
        std::fs::metadata(&body).is_ok_and(|m| m.len() > 100_000)
    });
    // b has learnt a's connections: the held ones and the download (a sync master sends
    // a buffer when it is full or 2 s old, as IPVS does, so a connection younger than
    // that may not have reached the backup yet: the same window as with the kernel).
    wait_for(
        "b to learn the connections",
        Duration::from_secs(10),
        || {
            let l = p.adm(1, &["-Lnc"]).unwrap_or_default();
            let est = |port: u16| {
                l.lines()
                    .filter(|l| l.contains(&format!(":{port} ")) && l.contains("ESTABLISHED"))
                    .count()
            };
            est(LINES) >= HELD && est(HTTP) >= 1
        },
    );

    // The master's lvsd and lvs-keepalived are SIGKILLed; its links stay up, and its
    // kernel keeps the VIPs (nobody removes them). Packets still in flight to a are
    // forwarded by a's XDP/TC programs, which stay attached with their flows
    // (lvs-dataplane's `persist`), until the client and the real servers follow b's
    // gratuitous ARPs. (tests/sync.rs covers the machine's death: links down.)
    let t0 = Instant::now();
    p.kill_lvsd(0);
    p.lab.kill(ka_a);
    let takeover = time_to_answer(&p, t0);
    assert!(holds_vip(&p, 1), "b holds the VIP");

    std::fs::write(dir.join("go"), b"").unwrap();
    wait_for(
        "held connections' second round",
        Duration::from_secs(90),
        || dir.join("round2").exists(),
    );
    let round2: Vec<String> = std::fs::read_to_string(dir.join("round2"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let survived = round1
        .iter()
        .zip(&round2)
        .filter(|(a, b)| server_of(a).is_some() && server_of(a) == server_of(b))
        .count();
    eprintln!(
        "lvs-keepalived failover {kind:?}: {survived}/{HELD} held connections survived, \
         takeover (SIGKILL → first answer from b) {takeover:?}"
    );
    assert_eq!(survived, HELD, "round1 {round1:?}\nround2 {round2:?}");
    wait_for("the download to finish", Duration::from_secs(60), || {
        rc.exists()
    });
    let code = std::fs::read_to_string(&rc).unwrap();
    assert_eq!(code.trim(), "0", "the download completed");
    assert_eq!(
        file_sha256(body.to_str().unwrap()).unwrap(),
        pattern_sha256(DOWNLOAD).unwrap(),
        "the download arrived intact"
    );
    eprintln!("the {DOWNLOAD}-byte download across the failover arrived intact");

    // New connections are scheduled over both real servers; the persistent client keeps
    // its server (the template came with the sync).
    let lines: Vec<String> = (0..4).map(|_| p.http_get(HTTP).unwrap()).collect();
    let servers: BTreeSet<_> = lines.iter().filter_map(|l| server_of(l)).collect();
    assert_eq!(servers.len(), 2, "{lines:?}");
    for _ in 0..3 {
        let l = p.http_get(PERSIST).unwrap();
        assert_eq!(server_of(&l), Some(pinned.as_str()), "{l}");
    }
    // lvs-keepalived on b switched lvsd's sync daemon to master.
    let d = p.adm(1, &["-L", "--daemon"]).unwrap();
    assert!(d.starts_with("master sync daemon"), "{d}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nat_failover_with_vrrp_and_sync_keeps_connections() {
    failover(PairKind::Nat, "kan");
}

#[test]
fn dr_failover_with_vrrp_and_sync_keeps_connections() {
    failover(PairKind::Dr, "kad");
}

/// Takeover time (until the VIP is on the backup) after SIGTERM (the master resigns with
/// priority 0) and after SIGKILL, lvs-keepalived against Debian's keepalived (`-P`, VRRP
/// only; lvsd configured with lvsadm) with the same configuration in the same lab.
#[test]
fn takeover_times_against_keepalived() {
    let mut results = Vec::new();
    for peer in ["lvs-keepalived", "keepalived"] {
        for how in ["SIGTERM", "SIGKILL"] {
            let mut p = Pair::new("kat", PairKind::Nat).expect("lab");
            p.start_servers(&[HTTP], &[]).unwrap();
            for d in 0..2 {
                let vip = hostport(&p.vip, HTTP);
                p.adm(d, &["-A", "-t", &vip, "-s", "rr"]).unwrap();
                for rs in p.rs.clone() {
                    p.adm(d, &["-a", "-t", &vip, "-r", &hostport(&rs, HTTP), "-m"])
                        .unwrap();
                }
            }
            let mut idx = Vec::new();
            for (d, director) in DIRECTORS.iter().enumerate() {
                let path = conf_path(&p, d);
                let mut text = keepalived_conf(&p, d, false);
                // The sync daemon is not what is measured here.
                text = text.replace(
                    &format!("    lvs_sync_daemon {} VI_1\n", p.sync_interface()),
                    "",
                );
                std::fs::write(&path, text).unwrap();
                let ns = p.lab.ns_name(director);
                let tmp = std::env::temp_dir();
                let cmd = if peer == "keepalived" {
                    format!(
                        "exec keepalived -n -l -P -f {} -p {t}/{ns}-k.pid -r {t}/{ns}-v.pid -c {t}/{ns}-c.pid",
                        path.display(),
                        t = tmp.display()
                    )
                } else {
                    format!(
                        "exec {} -n -l -P -f {} -p {}/{ns}-k.pid",
                        bin_path("lvs-keepalived").unwrap().display(),
                        path.display(),
                        tmp.display()
                    )
                };
                idx.push(p.lab.spawn(director, &["sh", "-c", &cmd]).unwrap());
                if d == 0 {
                    wait_for("a to become master", Duration::from_secs(10), || {
                        holds_vip(&p, 0)
                    });
                }
            }
            std::thread::sleep(Duration::from_millis(500));
            assert!(try_get(&p, HTTP, "1").is_some(), "served through a");
            let t0 = Instant::now();
            // keepalived: the parent (-p) and its VRRP child (-r); lvs-keepalived: one process.
            let (t, ns) = (std::env::temp_dir(), p.lab.ns_name("a"));
            let parent = format!("$(cat {}/{ns}-k.pid)", t.display());
            let child = format!("$(cat {}/{ns}-v.pid 2>/dev/null)", t.display());
            let cmd = if how == "SIGTERM" {
                // keepalived's parent passes SIGTERM on to its VRRP child.
                format!("kill -TERM {parent}")
            } else {
                format!("kill -KILL {parent} {child}")
            };
            p.lab.exec(DIRECTORS[0], &["sh", "-c", &cmd]).unwrap();
            // The takeover: the VIP is on b (VRRP's job; polled every few ms), then b
            // answers through it.
            while !holds_vip(&p, 1) {
                assert!(
                    t0.elapsed() < Duration::from_secs(20),
                    "b never took the VIP"
                );
            }
            let t = t0.elapsed();
            eprintln!("takeover after {how}, {peer}: VIP on b after {t:?}");
            results.push((peer, how, t));
            for i in idx {
                p.lab.kill(i);
            }
        }
    }
    eprintln!("takeover times (advert_int 0.1, VRRPv3): {results:?}");
    for (_, _, t) in &results {
        assert!(*t < Duration::from_secs(5), "{results:?}");
    }
}

/// A second instance for the reload test (VRID 52, its own VIP), priority `prio`.
fn second_instance(prio: u8) -> String {
    format!(
        "\nvrrp_instance VI_2 {{\n    interface eth0\n    virtual_router_id 52\n    priority {prio}\n    version 3\n    advert_int 0.1\n    virtual_ipaddress {{\n        10.1.0.101/32 dev eth0\n    }}\n}}\n"
    )
}

/// SIGHUP: the new configuration reaches lvsd in one transactional apply. Services and
/// real servers that stay keep their connections, a removed service goes, an added one
/// comes; the VRRP instance that stays unchanged (VI_1) keeps its state (its master does
/// not resign), the one whose configuration changed (VI_2) restarts.
#[test]
fn reload_keeps_connections_and_vrrp_state() {
    let mut p = Pair::new("kar", PairKind::Nat).expect("lab");
    p.start_servers(&[HTTP, PERSIST], &[LINES]).unwrap();
    let ka = start_keepalived_with(&mut p, 0, &second_instance(120));
    wait_for("a to become master", Duration::from_secs(10), || {
        holds_vip(&p, 0)
    });
    wait_for("the services", Duration::from_secs(20), || {
        let l = p.adm(0, &["-Ln"]).unwrap_or_default();
        p.rs.iter().all(|rs| l.matches(rs.as_str()).count() >= 3)
    });
    // Held connections through the LINES service.
    let dir = std::env::temp_dir().join(format!("{}-hold", p.lab.ns_name("c")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let echo = bin_path("lvs-echo").unwrap();
    p.lab
        .spawn(
            "c",
            &[
                echo.to_str().unwrap(),
                "--hold",
                &hostport(&p.vip, LINES),
                "20",
                dir.to_str().unwrap(),
            ],
        )
        .unwrap();
    wait_for("held connections", Duration::from_secs(30), || {
        dir.join("round1").exists()
    });
    let round1 = std::fs::read_to_string(dir.join("round1")).unwrap();
    // Watch for a VRRP resign (priority 0) during the reload.
    let vdump = dir.join("vrrp.txt");
    let cmd = format!(
        "exec tcpdump -l -n -i eth0 'ip proto 112' > {} 2>/dev/null",
        vdump.display()
    );
    p.lab.spawn("b", &["sh", "-c", &cmd]).unwrap();
    std::thread::sleep(Duration::from_millis(500));

    // New configuration: PERSIST (90) removed, 8443 added, LINES and HTTP unchanged; VI_1
    // unchanged, VI_2's priority changed.
    let path = conf_path(&p, 0);
    let old = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&second_instance(120), &second_instance(130));
    let start = old
        .find(&format!("\nvirtual_server {} {PERSIST} {{", p.vip))
        .unwrap();
    // The block ends where the next top-level block starts.
    let end = ["\nvirtual_server", "\nvrrp_instance"]
        .iter()
        .filter_map(|b| old[start + 1..].find(b))
        .min()
        .map_or(old.len(), |e| e + start + 1);
    let mut new = format!("{}{}", &old[..start], &old[end..]);
    new.push_str(&format!(
        "\nvirtual_server {} 8443 {{\n    lb_algo sh\n    lb_kind NAT\n    protocol TCP\n    real_server {} 8443 {{\n        weight 2\n    }}\n}}\n",
        p.vip, p.rs[0]
    ));
    std::fs::write(&path, new).unwrap();
    p.lab
        .exec(
            "a",
            &[
                "sh",
                "-c",
                &format!(
                    "kill -HUP $(cat {}/{}-ka.pid)",
                    std::env::temp_dir().display(),
                    p.lab.ns_name("a")
                ),
            ],
        )
        .unwrap();
    wait_for("the reload", Duration::from_secs(20), || {
        let l = p.adm(0, &["-Ln"]).unwrap_or_default();
        l.contains(":8443 sh") && !l.contains(&format!(":{PERSIST} rr"))
    });
    // The held connections still answer, from the same real servers.
    std::fs::write(dir.join("go"), b"").unwrap();
    wait_for(
        "held connections' second round",
        Duration::from_secs(30),
        || dir.join("round2").exists(),
    );
    let round2 = std::fs::read_to_string(dir.join("round2")).unwrap();
    let same = round1
        .lines()
        .zip(round2.lines())
        .filter(|(a, b)| server_of(a).is_some() && server_of(a) == server_of(b))
        .count();
    assert_eq!(same, 20, "round1 {round1}\nround2 {round2}");
    assert!(holds_vip(&p, 0), "the master kept the VIP");
    std::thread::sleep(Duration::from_secs(1));
    let adverts = std::fs::read_to_string(&vdump).unwrap_or_default();
    assert!(
        !adverts.contains("vrid 51, prio 0,"),
        "VI_1's master resigned during the reload: {adverts}"
    );
    assert!(
        adverts.contains("vrid 52, prio 0,"),
        "VI_2 (changed) restarted: {adverts}"
    );
    assert!(
        adverts.contains("vrid 52, prio 130,"),
        "VI_2 runs with its new priority: {adverts}"
    );
    assert!(
        adverts.lines().filter(|l| l.contains("vrid 51,")).count() > 5,
        "VI_1's adverts kept coming: {adverts}"
    );
    p.lab.kill(ka);
    let _ = std::fs::remove_dir_all(&dir);
}
