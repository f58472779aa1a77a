//! `vrrp_script` shared by its trackers (root, network namespaces): lvs-keepalived runs a
//! script once per interval however many VRRP instances and sync groups track it, as
//! keepalived 2.2.7 does (one timer per script).
//!
//! Namespace `d` runs the daemon (`-P`) with VI_A and VI_B (instances of their own) and
//! VI_C (in sync group G1, which tracks the script) on eth0, all tracking `chk`, which
//! appends a line to a file per run. Over ~5 s the file must grow by one line per second,
//! not three; a SIGHUP that restarts VI_B (priority changed, script unchanged) must not
//! start a second runner nor reset the script.
//!
//! Needs root, iproute2 and the binary (`cargo build -p lvs-keepalived --bins`):
//! `cargo test -p lvs-keepalived --test vrrp_script_netns -- --ignored`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lvs_testkit::{Lab, bin_path};

/// A scratch directory, removed when dropped (also when the test fails).
struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn conf(dir: &Path, prio_b: u8) -> String {
    let d = dir.display();
    let inst = |name: &str, vrid: u8, prio: u8, track: bool| {
        let track = if track {
            "    track_script {\n        chk\n    }\n"
        } else {
            ""
        };
        format!(
            "vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    priority {prio}
    advert_int 1
{track}    virtual_ipaddress {{
        10.79.0.{vrid}/24 dev eth0
    }}
}}
"
        )
    };
    format!(
        "global_defs {{
    router_id scr
    enable_script_security
    script_user root
}}
vrrp_script chk {{
    script \"/bin/sh -c 'echo run >> {d}/runs'\"
    interval 1
    weight -10
}}
vrrp_sync_group G1 {{
    group {{
        VI_C
    }}
    track_script {{
        chk
    }}
}}
{}{}{}",
        inst("VI_A", 71, 100, true),
        inst("VI_B", 72, prio_b, true),
        inst("VI_C", 73, 100, false),
    )
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .unwrap_or_default()
        .lines()
        .count()
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lines written during `secs` seconds from now.
fn runs_during(dir: &Path, secs: u64) -> usize {
    let n = runs(dir);
    std::thread::sleep(Duration::from_secs(secs));
    runs(dir) - n
}

#[test]
#[ignore = "needs root and network namespaces; run by make test"]
fn a_script_tracked_three_times_runs_once_per_interval() {
    let mut lab = Lab::new("scr").unwrap();
    lab.add_ns("d").unwrap();
    lab.add_ns("p").unwrap();
    lab.veth("d", "eth0", "p", "eth0").unwrap();
    lab.addr("d", "eth0", "10.79.0.1/24").unwrap();
    lab.addr("p", "eth0", "10.79.0.2/24").unwrap();
    let dir = std::env::temp_dir().join(format!("lvs-scr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = TmpDir(dir.clone());
    let d = tmp.0.display();
    std::fs::write(dir.join("k.conf"), conf(&dir, 100)).unwrap();
    let cmd = format!(
        "exec {} -n -l -P -f {d}/k.conf -p {d}/k.pid >>{d}/daemon.log 2>&1",
        bin_path("lvs-keepalived").unwrap().display()
    );
    let idx = lab.spawn("d", &["sh", "-c", &cmd]).unwrap();
    let log = || std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();

    wait_for("the first run", Duration::from_secs(10), || runs(&dir) >= 1);
    // Three trackers (two instances, one group), one run per second: 5 in 5 s (give or
    // take one at the edges), where a run per tracker would be 15.
    let n = runs_during(&dir, 5);
    assert!((4..=6).contains(&n), "{n} runs in 5 s\n{}", log());

    // Reload: VI_B restarts, the script (unchanged) keeps its one runner.
    std::fs::write(dir.join("k.conf"), conf(&dir, 90)).unwrap();
    let pid = std::fs::read_to_string(dir.join("k.pid")).unwrap();
    lab.exec("d", &["kill", "-HUP", pid.trim()]).unwrap();
    wait_for("the reload", Duration::from_secs(5), || {
        log().contains("Reload finished")
    });
    let n = runs_during(&dir, 5);
    assert!(
        (4..=6).contains(&n),
        "{n} runs in 5 s after the reload\n{}",
        log()
    );
    let l = log();
    assert!(l.contains("(VI_B) configuration changed"), "{l}");
    // One verdict for all trackers, never re-evaluated by the reload.
    assert_eq!(l.matches("VRRP_Script(chk) succeeded").count(), 1, "{l}");

    lab.exec("d", &["kill", "-TERM", pid.trim()]).unwrap();
    let _ = lab.terminate(idx);
    eprintln!("{}", log());
}
