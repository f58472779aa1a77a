//! VRRP interop: lvs-keepalived's VRRP (the `lvs-vrrp-test` binary) and Debian's real
//! keepalived 2.2 in the same virtual router, in network namespaces joined by a bridge,
//! with an observer that records gratuitous ARPs / NAs (`arp_accept`).
//!
//! For VRRPv2 (1 s, PASS auth), VRRPv3 IPv4 (0.1 s), VRRPv3 IPv6 (0.5 s) and VRRPv2 unicast:
//! - ours master alone, keepalived with a higher priority preempts it (ours yields and
//!   removes the VIP), keepalived is SIGKILLed and ours takes over;
//! - ours with a higher priority preempts keepalived; ours resigns on SIGTERM (priority 0)
//!   and keepalived takes over within the skew time; ours comes back and preempts again;
//!   ours is SIGKILLed and keepalived takes over after the master-down interval.
//!
//! Takeover times (kill → VIP present on the other side) are printed; run with
//! `--nocapture` to see them. Needs root and keepalived (`make deps` installs it).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use lvs_testkit::{Lab, bin_path, run};

/// Addresses of one family in the lab.
struct Net {
    ka: &'static str,
    ours: &'static str,
    obs: &'static str,
    plen: u8,
    vip: &'static str,
}

const NET4: Net = Net {
    ka: "10.200.0.1",
    ours: "10.200.0.2",
    obs: "10.200.0.3",
    plen: 24,
    vip: "10.200.0.100",
};

const NET6: Net = Net {
    ka: "fd00:200::1",
    ours: "fd00:200::2",
    obs: "fd00:200::3",
    plen: 64,
    vip: "fd00:200::100",
};

/// One VRRP group configuration, shared by both sides.
struct Group {
    /// 2 or 3.
    version: u8,
    /// advert_int in seconds (text, as both configs take it).
    advert_int: &'static str,
    vrid: u8,
    auth: Option<&'static str>,
    unicast: bool,
    net: &'static Net,
}

impl Group {
    fn advert_secs(&self) -> f64 {
        self.advert_int.parse().unwrap()
    }

    /// Master_Down_Interval of a backup with priority `prio`.
    fn down_interval(&self, prio: u32) -> Duration {
        let adv = self.advert_secs();
        Duration::from_secs_f64(3.0 * adv + f64::from(256 - prio) / 256.0 * self.skew_unit())
    }

    fn skew_unit(&self) -> f64 {
        if self.version == 2 {
            1.0
        } else {
            self.advert_secs()
        }
    }

    fn skew(&self, prio: u32) -> Duration {
        Duration::from_secs_f64(f64::from(256 - prio) / 256.0 * self.skew_unit())
    }
}

struct Vrrp {
    lab: Lab,
    dir: PathBuf,
    group: Group,
    ka: Option<usize>,
    ours: Option<usize>,
    ours_mac: String,
    ka_mac: String,
    /// keepalived runs so far (each run gets its own pid files: a SIGKILLed VRRP child may
    /// linger as a zombie, and keepalived refuses to start while its pid file names one).
    ka_runs: u32,
    /// More flags for lvs-vrrp-test.
    extra: Vec<String>,
}

fn mac_of(lab: &Lab, ns: &str) -> String {
    let out = run(&[
        "ip",
        "-n",
        &lab.ns_name(ns),
        "-br",
        "link",
        "show",
        "dev",
        "eth0",
    ])
    .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string()
}

impl Vrrp {
    fn new(tag: &str, group: Group) -> Vrrp {
        assert!(
            Command::new("keepalived").arg("--version").output().is_ok(),
            "keepalived is not installed (make deps installs it)"
        );
        let mut lab = Lab::new(tag).expect("lab");
        lab.add_ns("br").unwrap();
        lab.bridge("br", "br0").unwrap();
        for (i, ns) in ["ka", "ours", "obs"].into_iter().enumerate() {
            lab.add_ns(ns).unwrap();
            let port = format!("p{i}");
            lab.veth("br", &port, ns, "eth0").unwrap();
            lab.enslave("br", &port, "br0").unwrap();
        }
        let net = group.net;
        for (ns, a) in [("ka", net.ka), ("ours", net.ours), ("obs", net.obs)] {
            if a.contains(':') {
                // No DAD delays, no router solicitations: the link-local address is usable at once.
                lab.sysctl(ns, "net.ipv6.conf.eth0.accept_dad", "0")
                    .unwrap();
            }
            lab.addr(ns, "eth0", &format!("{a}/{}", net.plen)).unwrap();
        }
        // The observer learns the VIP's MAC from gratuitous ARPs / unsolicited NAs.
        lab.sysctl("obs", "net.ipv4.conf.eth0.arp_accept", "1")
            .unwrap();
        // (Linux creates entries from unsolicited NAs only on a forwarding interface.)
        lab.sysctl("obs", "net.ipv6.conf.eth0.forwarding", "1")
            .unwrap();
        lab.sysctl("obs", "net.ipv6.conf.eth0.accept_untracked_na", "1")
            .unwrap();
        let dir = std::env::temp_dir().join(lab.ns_name("vrrp"));
        std::fs::create_dir_all(&dir).unwrap();
        // Our notify script: records its arguments, one run per line.
        let notify = dir.join("notify.sh");
        std::fs::write(
            &notify,
            format!("#!/bin/sh\necho \"$@\" >> {}/notify.log\n", dir.display()),
        )
        .unwrap();
        run(&["chmod", "755", &notify.display().to_string()]).unwrap();
        let ours_mac = mac_of(&lab, "ours");
        let ka_mac = mac_of(&lab, "ka");
        // IPv6 adverts go out from the link-local address: wait until DAD is over.
        if net.vip.contains(':') {
            for ns in ["ka", "ours", "obs"] {
                let t0 = Instant::now();
                loop {
                    let out = lab
                        .exec(
                            ns,
                            &["ip", "-6", "addr", "show", "dev", "eth0", "scope", "link"],
                        )
                        .unwrap();
                    let s = String::from_utf8_lossy(&out.stdout).to_string();
                    if s.contains("fe80") && !s.contains("tentative") {
                        break;
                    }
                    assert!(
                        t0.elapsed() < Duration::from_secs(5),
                        "no link-local in {ns}: {s}"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        Vrrp {
            lab,
            dir,
            group,
            ka: None,
            ours: None,
            ours_mac,
            ka_mac,
            ka_runs: 0,
            extra: Vec::new(),
        }
    }

    fn ka_conf(&self, prio: u8) -> String {
        let g = &self.group;
        let mut c = String::new();
        c.push_str(&format!(
            "global_defs {{\n  router_id ka\n  vrrp_version {}\n}}\n",
            g.version
        ));
        c.push_str("vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n");
        c.push_str(&format!(
            "  virtual_router_id {}\n  priority {prio}\n  advert_int {}\n",
            g.vrid, g.advert_int
        ));
        if let Some(p) = g.auth {
            c.push_str(&format!(
                "  authentication {{\n    auth_type PASS\n    auth_pass {p}\n  }}\n"
            ));
        }
        if g.unicast {
            c.push_str(&format!(
                "  unicast_src_ip {}\n  unicast_peer {{\n    {}\n  }}\n",
                g.net.ka, g.net.ours
            ));
        }
        c.push_str(&format!(
            "  virtual_ipaddress {{\n    {}/{} dev eth0\n  }}\n}}\n",
            g.net.vip, g.net.plen
        ));
        c
    }

    fn start_keepalived(&mut self, prio: u8) {
        let conf = self.dir.join("ka.conf");
        std::fs::write(&conf, self.ka_conf(prio)).unwrap();
        let out = Command::new("keepalived")
            .args(["-t", "-f"])
            .arg(&conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "keepalived -t rejects our test config: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.ka_runs += 1;
        let d = self.dir.display();
        let n = self.ka_runs;
        let cmd = format!(
            "exec keepalived -n -l -D -P -f {d}/ka.conf -p {d}/ka{n}.pid -r {d}/ka{n}-vrrp.pid >>{d}/ka.log 2>&1"
        );
        self.ka = Some(self.lab.spawn("ka", &["sh", "-c", &cmd]).unwrap());
    }

    /// SIGKILL keepalived's VRRP child, then its parent (a crash). The child first: killing
    /// the parent alone makes the child (parent-death signal SIGTERM) resign with priority 0.
    fn kill_keepalived(&mut self) {
        let child = std::fs::read_to_string(self.dir.join(format!("ka{}-vrrp.pid", self.ka_runs)))
            .unwrap_or_default();
        let pid: u32 = child
            .trim()
            .parse()
            .expect("keepalived VRRP child pid file");
        run(&["kill", "-KILL", &pid.to_string()]).unwrap();
        if let Some(i) = self.ka.take() {
            self.lab.kill(i);
        }
    }

    fn start_ours(&mut self, prio: u8) {
        let g = &self.group;
        let bin = bin_path("lvs-vrrp-test").unwrap();
        let mut args = vec![
            bin.display().to_string(),
            "--interface".into(),
            "eth0".into(),
            "--vrid".into(),
            g.vrid.to_string(),
            "--priority".into(),
            prio.to_string(),
            "--version".into(),
            g.version.to_string(),
            "--advert-int".into(),
            g.advert_int.into(),
            "--vip".into(),
            format!("{}/{}", g.net.vip, g.net.plen),
            "--notify".into(),
            self.dir.join("notify.sh").display().to_string(),
        ];
        args.extend(self.extra.iter().cloned());
        if let Some(p) = g.auth {
            args.extend(["--auth-pass".into(), p.into()]);
        }
        if g.unicast {
            args.extend([
                "--unicast-src".into(),
                g.net.ours.into(),
                "--unicast-peer".into(),
                g.net.ka.into(),
            ]);
        }
        let d = self.dir.display();
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let cmd = format!("exec {} >>{d}/ours.log 2>&1", quoted.join(" "));
        self.ours = Some(self.lab.spawn("ours", &["sh", "-c", &cmd]).unwrap());
    }

    fn term_ours(&mut self) {
        let i = self.ours.take().unwrap();
        let st = self.lab.terminate(i).unwrap();
        assert!(st.success(), "lvs-vrrp-test exit status on SIGTERM: {st}");
    }

    fn kill_ours(&mut self) {
        let i = self.ours.take().unwrap();
        self.lab.kill(i);
    }

    fn has_vip(&self, ns: &str) -> bool {
        let out = run(&[
            "ip",
            "-n",
            &self.lab.ns_name(ns),
            "addr",
            "show",
            "dev",
            "eth0",
        ])
        .unwrap();
        let want = format!(" {}/", self.group.net.vip);
        String::from_utf8_lossy(&out.stdout).contains(&want)
    }

    /// Wait until the VIP is present (or absent) in `ns`; returns the time it took.
    fn wait_vip(&self, ns: &str, present: bool, timeout: Duration) -> Duration {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.has_vip(ns) == present {
                return t0.elapsed();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!(
            "VIP {} not {} in {ns} after {timeout:?}\n--- ours.log\n{}\n--- ka.log\n{}",
            self.group.net.vip,
            if present { "present" } else { "gone" },
            self.log("ours.log"),
            self.log("ka.log")
        );
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// The MAC the observer has for the VIP (learned from gratuitous ARP / NA).
    fn observed_mac(&self) -> Option<String> {
        let out = self
            .lab
            .try_exec("obs", &["ip", "neigh", "show", self.group.net.vip])
            .ok()?;
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        let mut it = s.split_whitespace();
        while let Some(w) = it.next() {
            if w == "lladdr" {
                return it.next().map(str::to_string);
            }
        }
        None
    }

    fn wait_observed_mac(&self, mac: &str) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if self.observed_mac().as_deref() == Some(mac) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "observer has {:?} for the VIP, expected {mac}",
            self.observed_mac()
        );
    }

    fn stable_for(&self, master: &str, backup: &str, d: Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < d {
            assert!(self.has_vip(master), "{master} lost the VIP");
            assert!(!self.has_vip(backup), "{backup} got the VIP too");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Vrrp {
    fn drop(&mut self) {
        // The lab kills every process in its namespaces and deletes them.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Both scenarios of the module doc for one group configuration; prints the takeover times.
fn interop(tag: &str, group: Group) {
    let what = format!(
        "VRRPv{} {} advert_int {}{}",
        group.version,
        if group.net.vip.contains(':') {
            "IPv6"
        } else {
            "IPv4"
        },
        group.advert_int,
        if group.unicast { " unicast" } else { "" }
    );
    let mut v = Vrrp::new(tag, group);
    let g = &v.group;
    let slack = Duration::from_millis(700);
    let down100 = g.down_interval(100);
    let down150 = g.down_interval(150);
    let skew100 = g.skew(100);
    let skew50 = g.skew(50);
    let adv = Duration::from_secs_f64(g.advert_secs());

    // 1. Ours alone (prio 100) becomes master after its master-down interval.
    v.start_ours(100);
    let t = v.wait_vip("ours", true, down100 + slack);
    assert!(
        t + Duration::from_millis(200) >= down100,
        "ours too early: {t:?}"
    );
    v.wait_observed_mac(&v.ours_mac.clone());

    // 2. keepalived with prio 150 preempts: it waits its own down interval, ours yields.
    let t0 = Instant::now();
    v.start_keepalived(150);
    v.wait_vip("ka", true, down150 + Duration::from_secs(2));
    v.wait_vip("ours", false, Duration::from_secs(1));
    let preempt = t0.elapsed();
    v.wait_observed_mac(&v.ka_mac.clone());
    v.stable_for("ka", "ours", adv * 4);

    // 3. keepalived crashes (SIGKILL): ours takes over after its master-down interval.
    v.kill_keepalived();
    let t_kill = v.wait_vip("ours", true, down100 + slack);
    v.wait_observed_mac(&v.ours_mac.clone());
    // keepalived leaves its VIP behind after SIGKILL (as real keepalived does): remove it.
    let ka_ns = v.lab.ns_name("ka");
    let vip = format!("{}/{}", v.group.net.vip, v.group.net.plen);
    let _ = run(&["ip", "-n", &ka_ns, "addr", "del", &vip, "dev", "eth0"]);

    // 4. keepalived back as a backup (prio 100) under ours (restarted with prio 150).
    v.term_ours();
    v.wait_vip("ours", false, Duration::from_secs(1));
    v.start_keepalived(100);
    v.wait_vip("ka", true, down100 + Duration::from_secs(2));
    let t0 = Instant::now();
    v.start_ours(150);
    v.wait_vip("ours", true, down150 + slack);
    v.wait_vip("ka", false, Duration::from_secs(1));
    let preempt_ours = t0.elapsed();
    v.wait_observed_mac(&v.ours_mac.clone());
    v.stable_for("ours", "ka", adv * 4);

    // 5. Ours resigns (SIGTERM → priority 0): keepalived takes over after its skew time.
    let t0 = Instant::now();
    v.term_ours();
    let t_term = v.wait_vip("ka", true, skew100 + slack);
    let term_total = t0.elapsed();
    assert!(!v.has_vip("ours"), "ours kept the VIP after SIGTERM");
    v.wait_observed_mac(&v.ka_mac.clone());

    // 6. Ours back, preempts again, then crashes: keepalived takes over.
    v.start_ours(150);
    v.wait_vip("ours", true, down150 + slack);
    v.wait_vip("ka", false, Duration::from_secs(1));
    v.stable_for("ours", "ka", adv * 3);
    v.kill_ours();
    let t_kill_ours = v.wait_vip("ka", true, down100 + slack);
    // Like keepalived, a SIGKILLed run leaves its VIP behind...
    assert!(v.has_vip("ours"));
    // ...and the next start removes it, then stays backup under keepalived's master.
    v.start_ours(50);
    v.wait_vip("ours", false, Duration::from_secs(2));
    v.stable_for("ka", "ours", adv * 4 + skew50);

    // keepalived's `notify` arguments, in the order of our transitions.
    let expect: Vec<String> = [
        "BACKUP 100",
        "MASTER 100",
        "BACKUP 100",
        "MASTER 100",
        "STOP 100",
        "BACKUP 150",
        "MASTER 150",
        "STOP 150",
        "BACKUP 150",
        "MASTER 150",
        "BACKUP 50",
    ]
    .iter()
    .map(|s| format!("INSTANCE VI_1 {s}"))
    .collect();
    let got: Vec<String> = v.log("notify.log").lines().map(str::to_string).collect();
    assert_eq!(got, expect, "notify script runs");

    let log = v.log("ka.log");
    for bad in [
        "invalid passwd",
        "Invalid VRRPv",
        "unexpected ip number count",
        "advertisement interval mismatch",
        "invalid TTL",
        "wrong version",
        "not present in MASTER advert",
    ] {
        assert!(!log.contains(bad), "keepalived complained: {bad}\n{log}");
    }
    println!(
        "{what}: keepalived SIGKILL -> VIP on ours {t_kill:?} (master-down {down100:?}); \
         ours SIGKILL -> VIP on keepalived {t_kill_ours:?}; \
         ours SIGTERM (prio 0) -> VIP on keepalived {t_term:?} (skew {skew100:?}, SIGTERM to VIP {term_total:?}); \
         keepalived preempts ours {preempt:?}; ours preempts keepalived {preempt_ours:?}"
    );
}

/// track_script (weight -60) and track_interface (weight 0) on our side hand the VIP to
/// keepalived and take it back (VRRPv3, 0.1 s).
#[test]
fn vrrp_tracking_hands_over_to_keepalived() {
    let mut v = Vrrp::new(
        "tk",
        Group {
            version: 3,
            advert_int: "0.1",
            vrid: 55,
            auth: None,
            unicast: false,
            net: &NET4,
        },
    );
    let slack = Duration::from_millis(700);
    let down100 = v.group.down_interval(100);
    let down150 = v.group.down_interval(150);
    let skew100 = v.group.skew(100);
    // A veth pair inside our namespace: trk1 down takes trk0's carrier away.
    v.lab.veth("ours", "trk0", "ours", "trk1").unwrap();
    let flag = v.dir.join("ok");
    std::fs::write(&flag, "").unwrap();
    v.extra = vec![
        "--script".into(),
        format!("chk=test -e {}", flag.display()),
        "--script-interval".into(),
        "0.1".into(),
        "--track-script".into(),
        "chk:-60".into(),
        "--track-interface".into(),
        "trk0".into(),
    ];
    v.start_ours(150);
    v.wait_vip("ours", true, down150 + slack);
    v.start_keepalived(100);
    v.stable_for("ours", "ka", Duration::from_millis(800));

    // The script fails: 150 - 60 = 90 < 100, keepalived preempts after its down interval.
    std::fs::remove_file(&flag).unwrap();
    let t = v.wait_vip("ka", true, down100 + slack);
    v.wait_vip("ours", false, Duration::from_secs(1));
    println!("track_script failing -> VIP on keepalived after {t:?}");
    // It recovers: 150 again, ours preempts.
    std::fs::write(&flag, "").unwrap();
    v.wait_vip("ours", true, down150 + slack);
    v.wait_vip("ka", false, Duration::from_secs(1));

    // The tracked interface loses its carrier: FAULT, priority 0, keepalived within skew.
    v.lab
        .exec("ours", &["ip", "link", "set", "trk1", "down"])
        .unwrap();
    let t = v.wait_vip("ka", true, skew100 + slack);
    assert!(!v.has_vip("ours"));
    println!("track_interface down -> VIP on keepalived after {t:?}");
    v.stable_for("ka", "ours", Duration::from_millis(500));
    // Carrier back: BACKUP, then preemption.
    v.lab
        .exec("ours", &["ip", "link", "set", "trk1", "up"])
        .unwrap();
    v.wait_vip("ours", true, down150 + slack + Duration::from_secs(1));
    // Notify scripts run in the background: the MASTER line may land just after the VIP.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while v.log("notify.log").lines().count() < 7 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let notes = v.log("notify.log");
    let states: Vec<&str> = notes
        .lines()
        .map(|l| l.split_whitespace().nth(2).unwrap_or(""))
        .collect();
    assert_eq!(
        states,
        [
            "BACKUP", "MASTER", "BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"
        ],
        "{notes}"
    );
}

#[test]
fn vrrp_v2_pass_interop_with_keepalived() {
    interop(
        "v2",
        Group {
            version: 2,
            advert_int: "1",
            vrid: 51,
            auth: Some("secret12"),
            unicast: false,
            net: &NET4,
        },
    );
}

#[test]
fn vrrp_v3_ipv4_fast_interop_with_keepalived() {
    interop(
        "v3",
        Group {
            version: 3,
            advert_int: "0.1",
            vrid: 52,
            auth: None,
            unicast: false,
            net: &NET4,
        },
    );
}

#[test]
fn vrrp_v3_ipv6_interop_with_keepalived() {
    interop(
        "v6",
        Group {
            version: 3,
            advert_int: "0.5",
            vrid: 53,
            auth: None,
            unicast: false,
            net: &NET6,
        },
    );
}

#[test]
fn vrrp_v2_unicast_interop_with_keepalived() {
    interop(
        "vu",
        Group {
            version: 2,
            advert_int: "1",
            vrid: 54,
            auth: None,
            unicast: true,
            net: &NET4,
        },
    );
}
