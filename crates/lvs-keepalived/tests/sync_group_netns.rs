//! `vrrp_sync_group` in network namespaces (root), lvs-keepalived and, when installed,
//! Debian's keepalived 2.2.7 run on the same configuration in the same lab, with the same
//! assertions.
//!
//! Namespace `d` runs the daemon (`-P`, VRRP only) with two instances of one sync group,
//! VI_A on eth0 and VI_B on eth1 (veth pairs to namespace `p`, where nothing answers:
//! both become MASTER). Taking eth1 down must take both to FAULT (both VIPs removed,
//! VI_A's too although eth0 is up); eth1 up again brings both back to MASTER; the group
//! and instance notify lines are compared.
//!
//! Needs root, iproute2 and the binary (`cargo build -p lvs-keepalived --bins`):
//! `cargo test -p lvs-keepalived --test sync_group_netns -- --ignored`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lvs_testkit::{Lab, bin_path};

const VIP_A: &str = "10.78.0.100";
const VIP_B: &str = "10.78.1.100";

/// The running daemon's log file, printed when a wait times out.
static DAEMON_LOG: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// A scratch directory, removed when dropped (also when the test fails).
struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn conf(dir: &Path) -> String {
    let n = dir.join("notify.sh");
    format!(
        "global_defs {{
    router_id sg
    enable_script_security
    script_user root
}}
vrrp_sync_group G1 {{
    group {{
        VI_A
        VI_B
    }}
    notify {n}
    notify_fault \"{n} group-fault\"
}}
vrrp_instance VI_A {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority 100
    advert_int 1
    notify {n}
    virtual_ipaddress {{
        {VIP_A}/24 dev eth0
    }}
}}
vrrp_instance VI_B {{
    state BACKUP
    interface eth1
    virtual_router_id 62
    priority 100
    advert_int 1
    notify {n}
    virtual_ipaddress {{
        {VIP_B}/24 dev eth1
    }}
}}
",
        n = n.display()
    )
}

fn has_addr(lab: &Lab, ifname: &str, addr: &str) -> bool {
    let out = lab
        .exec("d", &["ip", "-4", "-o", "addr", "show", "dev", ifname])
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(&format!("inet {addr}/"))
}

fn vips(lab: &Lab) -> (bool, bool) {
    (has_addr(lab, "eth0", VIP_A), has_addr(lab, "eth1", VIP_B))
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        if t0.elapsed() >= limit {
            // The daemon's log, to see why.
            if let Some(d) = DAEMON_LOG.lock().unwrap().as_ref() {
                eprintln!("{}", std::fs::read_to_string(d).unwrap_or_default());
            }
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    t0.elapsed()
}

fn notify_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("notify.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Wait until every line of `want` is in the notify log after its first `from` lines;
/// returns those new lines, sorted (scripts run in the background, in any order).
fn wait_notifies(dir: &Path, from: usize, want: &[&str]) -> Vec<String> {
    wait_for(
        &format!("notify lines {want:?}"),
        Duration::from_secs(5),
        || {
            let l = notify_lines(dir);
            want.iter().all(|w| l.iter().skip(from).any(|x| x == w))
        },
    );
    // Scripts of the same step may still be starting.
    std::thread::sleep(Duration::from_millis(300));
    let mut l: Vec<String> = notify_lines(dir).into_iter().skip(from).collect();
    l.sort();
    l
}

/// What one daemon did: the notify lines of each phase.
#[derive(Debug, PartialEq)]
struct Run {
    master: Vec<String>,
    fault: Vec<String>,
    recovered: Vec<String>,
    stop: Vec<String>,
}

fn run(daemon: &str) -> Run {
    let mut lab = Lab::new("sg").unwrap();
    lab.add_ns("d").unwrap();
    lab.add_ns("p").unwrap();
    lab.veth("d", "eth0", "p", "eth0").unwrap();
    lab.veth("d", "eth1", "p", "eth1").unwrap();
    lab.addr("d", "eth0", "10.78.0.1/24").unwrap();
    lab.addr("d", "eth1", "10.78.1.1/24").unwrap();
    lab.addr("p", "eth0", "10.78.0.2/24").unwrap();
    lab.addr("p", "eth1", "10.78.1.2/24").unwrap();
    let dir = std::env::temp_dir().join(format!("lvs-sg-{daemon}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = TmpDir(dir.clone());
    let d = tmp.0.display();
    let script = dir.join("notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {d}/notify.log\n"),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["755"])
        .arg(&script)
        .status()
        .unwrap();
    std::fs::write(dir.join("k.conf"), conf(&dir)).unwrap();
    let cmd = if daemon == "keepalived" {
        format!(
            "exec keepalived -n -l -D -P -f {d}/k.conf -p {d}/k.pid -r {d}/v.pid >>{d}/daemon.log 2>&1"
        )
    } else {
        format!(
            "exec {} -n -l -P -f {d}/k.conf -p {d}/k.pid >>{d}/daemon.log 2>&1",
            bin_path("lvs-keepalived").unwrap().display()
        )
    };
    let idx = lab.spawn("d", &["sh", "-c", &cmd]).unwrap();
    *DAEMON_LOG.lock().unwrap() = Some(dir.join("daemon.log"));
    let log = || std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();

    // No peer: both instances become MASTER, together.
    let t = wait_for("both VIPs", Duration::from_secs(10), || {
        vips(&lab) == (true, true)
    });
    eprintln!("{daemon}: both MASTER after {t:?}");
    let master = wait_notifies(
        &dir,
        0,
        &[
            "INSTANCE VI_A MASTER 100",
            "INSTANCE VI_B MASTER 100",
            "GROUP G1 MASTER 0",
        ],
    );

    // eth1 down: VI_B is down, and its group takes VI_A (eth0 is up) to FAULT with it.
    let n = notify_lines(&dir).len();
    lab.exec("d", &["ip", "link", "set", "eth1", "down"])
        .unwrap();
    let t = wait_for("both VIPs removed", Duration::from_secs(5), || {
        vips(&lab) == (false, false)
    });
    eprintln!("{daemon}: both VIPs removed {t:?} after eth1 down");
    let fault = wait_notifies(
        &dir,
        n,
        &[
            "INSTANCE VI_A FAULT 100",
            "INSTANCE VI_B FAULT 100",
            "GROUP G1 FAULT 0",
            "group-fault",
        ],
    );
    // VI_A stays in FAULT with its group.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(vips(&lab), (false, false), "{}", log());

    // eth1 up: both leave FAULT (BACKUP), then become MASTER again.
    let n = notify_lines(&dir).len();
    lab.exec("d", &["ip", "link", "set", "eth1", "up"]).unwrap();
    let t = wait_for("both VIPs back", Duration::from_secs(10), || {
        vips(&lab) == (true, true)
    });
    eprintln!("{daemon}: both VIPs back {t:?} after eth1 up");
    let recovered = wait_notifies(
        &dir,
        n,
        &[
            "INSTANCE VI_A BACKUP 100",
            "INSTANCE VI_B BACKUP 100",
            "GROUP G1 BACKUP 0",
            "INSTANCE VI_A MASTER 100",
            "INSTANCE VI_B MASTER 100",
            "GROUP G1 MASTER 0",
        ],
    );

    let n = notify_lines(&dir).len();
    let pid = std::fs::read_to_string(dir.join("k.pid")).unwrap();
    lab.exec("d", &["kill", "-TERM", pid.trim()]).unwrap();
    let stop = wait_notifies(
        &dir,
        n,
        &[
            "INSTANCE VI_A STOP 100",
            "INSTANCE VI_B STOP 100",
            "GROUP G1 STOP 0",
        ],
    );
    let _ = lab.terminate(idx);
    eprintln!("{daemon} log:\n{}", log());
    Run {
        master,
        fault,
        recovered,
        stop,
    }
}

#[test]
#[ignore = "needs root and network namespaces; run by make test"]
fn interface_down_takes_the_whole_group_to_fault() {
    let ours = run("lvs-keepalived");
    eprintln!("lvs-keepalived: {ours:#?}");
    let have_keepalived = std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .is_ok();
    if have_keepalived {
        let theirs = run("keepalived");
        eprintln!("keepalived: {theirs:#?}");
        assert_eq!(ours, theirs, "the same notifies in every phase");
    } else {
        eprintln!("keepalived not installed: not compared");
    }
}
