//! Health checkers against real servers in network namespaces (root).
//!
//! Each test builds a lab: namespace `d` (the director, where the checkers run on a
//! thread that entered it) and namespace `r` (the real servers: lvs-echo, openssl
//! s_server), joined by a veth pair. Servers are killed and started again, addresses
//! removed and put back, and the operations the checkers emit are asserted in order.
//!
//! Needs root, iproute2, openssl and the workspace binaries (`cargo build -p lvs-testkit
//! --bins`; lvsd for the last test): `cargo test -p lvs-keepalived --test check_netns --
//! --ignored` (`make test` runs it).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lvs_api::{Method, Protocol, ServiceKey};
use lvs_keepalived::check::probe::spawn_script;
use lvs_keepalived::check::*;
use lvs_testkit::{Lab, bin_path};
use md5::{Digest, Md5};

const MS: Duration = Duration::from_millis(1);
const WAIT: Duration = Duration::from_secs(30);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Namespaces d (10.77.0.1, fd77::1) and r (10.77.0.2, .3, fd77::2).
fn lab(tag: &str) -> Lab {
    let mut lab = Lab::new(tag).unwrap();
    lab.add_ns("d").unwrap();
    lab.add_ns("r").unwrap();
    lab.veth("d", "eth0", "r", "eth0").unwrap();
    lab.addr("d", "eth0", "10.77.0.1/24").unwrap();
    lab.addr("d", "eth0", "fd77::1/64").unwrap();
    lab.addr("r", "eth0", "10.77.0.2/24").unwrap();
    lab.addr("r", "eth0", "10.77.0.3/24").unwrap();
    lab.addr("r", "eth0", "fd77::2/64").unwrap();
    lab
}

fn echo(lab: &mut Lab, name: &str, args: &[&str]) -> usize {
    let bin = bin_path("lvs-echo").unwrap();
    let mut v = vec![bin.to_str().unwrap(), name];
    v.extend_from_slice(args);
    let idx = lab.spawn("r", &v).unwrap();
    std::thread::sleep(300 * MS);
    idx
}

/// A scratch directory, removed when dropped (also when the test fails).
struct TmpDir(PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmpdir(tag: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!("lvs-check-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TmpDir(d)
}

fn key(proto: Protocol, addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: proto,
        addr: ip(addr),
        port,
    }
}

/// A virtual server with fast timers: delay_loop 1 s, delay_before_retry 300 ms,
/// connect_timeout 1 s, retry 1, no warmup.
fn fast_vs(k: ServiceKey) -> VirtualServerSpec {
    let mut vs = VirtualServerSpec::new(k);
    vs.delay_loop = Some(1000 * MS);
    vs.delay_before_retry = Some(300 * MS);
    vs.connect_timeout = Some(1000 * MS);
    vs.retry = Some(1);
    vs.warmup = Some(Duration::ZERO);
    vs
}

fn rs(addr: &str, port: u16, kind: CheckerKind) -> RealServerSpec {
    let mut r = RealServerSpec::new(ip(addr), port);
    r.checkers.push(CheckerSpec::new(kind));
    r
}

/// The checkers running in namespace `d` on their own thread.
struct Running {
    rx: mpsc::Receiver<Event>,
    handle: CheckerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    seen: Vec<Event>,
    used: Vec<usize>,
}

impl Running {
    fn start(lab: &Lab, specs: Vec<VirtualServerSpec>) -> Running {
        Running::start_with(lab, specs, |_| {})
    }

    /// Also hand every event to `also` (e.g. a [`LvsdSink`]'s emitter).
    fn start_with(
        lab: &Lab,
        specs: Vec<VirtualServerSpec>,
        mut also: impl FnMut(Event) + Send + 'static,
    ) -> Running {
        let checks = Checks::new(specs).unwrap();
        let path = format!("/run/netns/{}", lab.ns_name("d"));
        let (tx, rx) = mpsc::channel();
        let (handle, ctl) = CheckerHandle::new();
        let thread = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(run_checkers(
                checks,
                move |e| {
                    if let Event::Op(Op::RunScript { script, .. }) = &e {
                        spawn_script(script).unwrap();
                    }
                    also(e.clone());
                    let _ = tx.send(e);
                },
                ctl,
            ));
        });
        Running {
            rx,
            handle,
            thread: Some(thread),
            seen: Vec::new(),
            used: Vec::new(),
        }
    }

    /// Wait for an op matching `pred` that no earlier wait took (ops of different
    /// services may come in any order); returns it. Panics with everything seen on
    /// timeout.
    fn wait_op(&mut self, what: &str, pred: impl Fn(&Op) -> bool) -> Op {
        let end = Instant::now() + WAIT;
        let mut i = 0;
        loop {
            while i < self.seen.len() {
                if !self.used.contains(&i)
                    && let Event::Op(o) = &self.seen[i]
                    && pred(o)
                {
                    self.used.push(i);
                    return o.clone();
                }
                i += 1;
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(e) => self.seen.push(e),
                Err(_) => panic!("timed out waiting for {what}; seen:\n{}", self.dump()),
            }
        }
    }

    /// Collect whatever comes within `d`.
    fn settle(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while let Ok(e) = self
            .rx
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            self.seen.push(e);
        }
    }

    fn dump(&self) -> String {
        self.seen
            .iter()
            .map(|e| format!("  {e:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Short forms of the dest ops seen so far, per service.
    fn ops_by_service(&self) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &self.seen {
            let Event::Op(o) = e else { continue };
            let (svc, s) = match o {
                Op::AddDest { service, dest } => {
                    (service, format!("add {} w{}", dest.addr, dest.weight))
                }
                Op::EditDest { service, dest } => {
                    (service, format!("edit {} w{}", dest.addr, dest.weight))
                }
                Op::DelDest { service, addr, .. } => (service, format!("del {addr}")),
                Op::RunScript { .. } => continue,
            };
            let name = match svc {
                ServiceKey::Addr {
                    protocol,
                    addr,
                    port,
                } => format!("{protocol:?} {addr}:{port}"),
                ServiceKey::Fwmark { mark, .. } => format!("fwm {mark}"),
            };
            m.entry(name).or_default().push(s);
        }
        m
    }

    fn logs(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                Event::Log(l) => Some(l.clone()),
                Event::Op(_) => None,
            })
            .collect()
    }

    fn stop(&mut self) {
        self.handle.shutdown(true);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        while let Ok(e) = self.rx.try_recv() {
            self.seen.push(e);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_del(addr: &str) -> impl Fn(&Op) -> bool {
    let a = ip(addr);
    move |o| matches!(o, Op::DelDest { addr, .. } if *addr == a)
}

fn is_add(addr: &str) -> impl Fn(&Op) -> bool {
    let a = ip(addr);
    move |o| matches!(o, Op::AddDest { dest, .. } if dest.addr == a)
}

fn is_op_on(svc: ServiceKey, inner: impl Fn(&Op) -> bool) -> impl Fn(&Op) -> bool {
    move |o| {
        let s = match o {
            Op::AddDest { service, .. }
            | Op::EditDest { service, .. }
            | Op::DelDest { service, .. } => service,
            Op::RunScript { .. } => return false,
        };
        *s == svc && inner(o)
    }
}

fn pattern_md5(n: usize) -> [u8; 16] {
    let out = std::process::Command::new(bin_path("lvs-echo").unwrap())
        .args(["--pattern", &n.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.stdout.len(), n);
    Md5::digest(&out.stdout).into()
}

#[test]
#[ignore = "needs root and network namespaces: make test runs it"]
fn each_checker_sees_its_server_go_down_and_come_back() {
    let mut lab = lab("ck1");
    let srv = echo(
        &mut lab,
        "rs",
        &[
            "--tcp",
            "10.77.0.2:8080",
            "--tcp",
            "[fd77::2]:8080",
            "--udp",
            "10.77.0.2:5353",
        ],
    );

    let tcp = key(Protocol::Tcp, "10.77.0.100", 80);
    let http = key(Protocol::Tcp, "10.77.0.100", 81);
    let udp = key(Protocol::Udp, "10.77.0.100", 53);
    let ping = key(Protocol::Tcp, "10.77.0.100", 82);
    let tcp6 = key(Protocol::Tcp, "fd77::100", 80);

    let mut specs = Vec::new();
    let mut v = fast_vs(tcp);
    v.real_servers.push(rs("10.77.0.2", 8080, CheckerKind::Tcp));
    specs.push(v);
    let mut v = fast_vs(http);
    let mut url = UrlSpec::new("/bytes/3000");
    url.digest = Some(pattern_md5(3000));
    v.real_servers.push(rs(
        "10.77.0.2",
        8080,
        CheckerKind::Http(HttpSpec::new(false, vec![url])),
    ));
    specs.push(v);
    let mut v = fast_vs(udp);
    v.real_servers.push(rs(
        "10.77.0.2",
        5353,
        CheckerKind::Udp(UdpSpec {
            require_reply: true,
            reply: Some(
                HexPattern::parse(
                    &"server=rs"
                        .bytes()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>(),
                    true,
                )
                .unwrap(),
            ),
            max_reply_length: 255,
            ..UdpSpec::default()
        }),
    ));
    specs.push(v);
    let mut v = fast_vs(ping);
    v.real_servers.push(rs("10.77.0.3", 0, CheckerKind::Ping));
    specs.push(v);
    let mut v = fast_vs(tcp6);
    v.real_servers.push(rs("fd77::2", 8080, CheckerKind::Tcp));
    specs.push(v);

    let mut run = Running::start(&lab, specs);
    // Non-alpha: every real server is added at start; the checks then pass quietly.
    for svc in [tcp, http, udp, ping, tcp6] {
        run.wait_op(
            "initial add",
            is_op_on(svc, |o| matches!(o, Op::AddDest { .. })),
        );
    }
    run.settle(3000 * MS);
    assert!(
        run.ops_by_service().values().all(|v| v.len() == 1),
        "a check failed while the servers were up:\n{}",
        run.dump()
    );

    // The server process dies: TCP, HTTP, UDP and TCP/IPv6 see it; PING does not.
    lab.kill(srv);
    run.wait_op("tcp del", is_op_on(tcp, is_del("10.77.0.2")));
    run.wait_op("http del", is_op_on(http, is_del("10.77.0.2")));
    run.wait_op("udp del", is_op_on(udp, is_del("10.77.0.2")));
    run.wait_op("tcp6 del", is_op_on(tcp6, is_del("fd77::2")));
    // The address goes: PING fails.
    lab.exec("r", &["ip", "addr", "del", "10.77.0.3/24", "dev", "eth0"])
        .unwrap();
    run.wait_op("ping del", is_op_on(ping, is_del("10.77.0.3")));

    // Everything comes back.
    let _srv = echo(
        &mut lab,
        "rs",
        &[
            "--tcp",
            "10.77.0.2:8080",
            "--tcp",
            "[fd77::2]:8080",
            "--udp",
            "10.77.0.2:5353",
        ],
    );
    lab.addr("r", "eth0", "10.77.0.3/24").unwrap();
    run.wait_op("tcp add", is_op_on(tcp, is_add("10.77.0.2")));
    run.wait_op("http add", is_op_on(http, is_add("10.77.0.2")));
    run.wait_op("udp add", is_op_on(udp, is_add("10.77.0.2")));
    run.wait_op("tcp6 add", is_op_on(tcp6, is_add("fd77::2")));
    run.wait_op("ping add", is_op_on(ping, is_add("10.77.0.3")));
    run.settle(500 * MS);
    for (svc, ops) in run.ops_by_service() {
        let addr = if svc.contains("fd77") {
            "fd77::2"
        } else if svc.ends_with(":82") {
            "10.77.0.3"
        } else {
            "10.77.0.2"
        };
        assert_eq!(
            ops,
            [
                format!("add {addr} w1"),
                format!("del {addr}"),
                format!("add {addr} w1")
            ],
            "{svc}:\n{}",
            run.dump()
        );
    }
    let logs = run.logs();
    for l in [
        "Removing service [10.77.0.2]:tcp:8080 from VS [10.77.0.100]:tcp:80",
        "Adding service [10.77.0.2]:tcp:8080 to VS [10.77.0.100]:tcp:80",
        "TCP_CHECK on service [10.77.0.2]:tcp:8080 failed after 1 retries.",
        "UDP_CHECK on service [10.77.0.2]:udp:5353 failed after 1 retries.",
        "HTTP_CHECK on service [10.77.0.2]:tcp:8080 failed after 1 retries.",
        "Remote Web server [10.77.0.2]:tcp:8080 succeed on service.",
        "TCP connection to [fd77::2]:tcp:8080 success.",
    ] {
        assert!(
            logs.iter().any(|x| x == l),
            "missing log {l:?}:\n{}",
            run.dump()
        );
    }
}

#[test]
#[ignore = "needs root and network namespaces: make test runs it"]
fn inhibit_on_failure_and_http_mismatches() {
    let mut lab = lab("ck2");
    let srv = echo(&mut lab, "rs", &["--tcp", "10.77.0.2:8080"]);
    let inhibit = key(Protocol::Tcp, "10.77.0.100", 80);
    let digest = key(Protocol::Tcp, "10.77.0.100", 81);
    let status = key(Protocol::Tcp, "10.77.0.100", 82);
    let mut specs = Vec::new();
    let mut v = fast_vs(inhibit);
    let mut r = rs("10.77.0.2", 8080, CheckerKind::Tcp);
    r.weight = 3;
    r.inhibit_on_failure = Some(true);
    v.real_servers.push(r);
    specs.push(v);
    // A digest that does not match the body.
    let mut v = fast_vs(digest);
    let mut url = UrlSpec::new("/bytes/100");
    url.digest = Some(pattern_md5(101));
    v.real_servers.push(rs(
        "10.77.0.2",
        8080,
        CheckerKind::Http(HttpSpec::new(false, vec![url])),
    ));
    specs.push(v);
    // A status code outside status_code.
    let mut v = fast_vs(status);
    let mut url = UrlSpec::new("/");
    url.status_codes = vec![(404, 404)];
    v.real_servers.push(rs(
        "10.77.0.2",
        8080,
        CheckerKind::Http(HttpSpec::new(false, vec![url])),
    ));
    specs.push(v);

    let mut run = Running::start(&lab, specs);
    run.wait_op("digest del", is_op_on(digest, is_del("10.77.0.2")));
    run.wait_op("status del", is_op_on(status, is_del("10.77.0.2")));
    lab.kill(srv);
    run.wait_op(
        "inhibit",
        is_op_on(
            inhibit,
            |o| matches!(o, Op::EditDest { dest, .. } if dest.weight == 0),
        ),
    );
    let _srv = echo(&mut lab, "rs", &["--tcp", "10.77.0.2:8080"]);
    run.wait_op(
        "enable",
        is_op_on(
            inhibit,
            |o| matches!(o, Op::EditDest { dest, .. } if dest.weight == 3),
        ),
    );
    run.settle(2500 * MS);
    let m = run.ops_by_service();
    assert_eq!(
        m["Tcp 10.77.0.100:80"],
        ["add 10.77.0.2 w3", "edit 10.77.0.2 w0", "edit 10.77.0.2 w3"]
    );
    // The mismatching urls never bring their server back.
    assert_eq!(
        m["Tcp 10.77.0.100:81"],
        ["add 10.77.0.2 w1", "del 10.77.0.2"]
    );
    assert_eq!(
        m["Tcp 10.77.0.100:82"],
        ["add 10.77.0.2 w1", "del 10.77.0.2"]
    );
    let logs = run.logs();
    assert!(
        logs.iter()
            .any(|l| l == "Disabling service [10.77.0.2]:tcp:8080 of VS [10.77.0.100]:tcp:80")
    );
    assert!(
        logs.iter()
            .any(|l| l == "Enabling service [10.77.0.2]:tcp:8080 of VS [10.77.0.100]:tcp:80")
    );
}

#[test]
#[ignore = "needs root and network namespaces: make test runs it"]
fn misc_check_with_misc_dynamic_and_timeout() {
    let lab = lab("ck3");
    let dir = tmpdir("misc");
    let code = dir.join("code");
    std::fs::write(&code, "0").unwrap();
    // The script probes the real server for real (lvs-echo's UDP client inside d) and
    // exits with the code in the file when it answers.
    let script = format!(
        "{} --udp-client 10.77.0.2:5353 1 | grep -q server= || exit 1; exit $(cat {})",
        bin_path("lvs-echo").unwrap().display(),
        code.display()
    );
    let svc = key(Protocol::Udp, "10.77.0.100", 53);
    let mut v = fast_vs(svc);
    let mut r = RealServerSpec::new(ip("10.77.0.2"), 5353);
    r.weight = 10;
    r.checkers
        .push(CheckerSpec::new(CheckerKind::Misc(MiscSpec {
            script: Script::new(["/bin/sh", "-c", &script]),
            timeout: Some(5000 * MS),
            dynamic: true,
        })));
    v.real_servers.push(r);
    let slow = key(Protocol::Udp, "10.77.0.100", 54);
    let mut v2 = fast_vs(slow);
    let mut r = RealServerSpec::new(ip("10.77.0.3"), 5353);
    r.checkers
        .push(CheckerSpec::new(CheckerKind::Misc(MiscSpec {
            script: Script::new(["/bin/sleep", "10"]),
            timeout: Some(500 * MS),
            dynamic: false,
        })));
    v2.real_servers.push(r);

    let mut lab = lab;
    let srv = echo(&mut lab, "rs", &["--udp", "10.77.0.2:5353"]);
    let mut run = Running::start(&lab, vec![v, v2]);
    run.wait_op("add", is_op_on(svc, is_add("10.77.0.2")));
    // Killed at misc_timeout: down.
    run.wait_op("timeout del", is_op_on(slow, is_del("10.77.0.3")));
    // misc_dynamic: exit 7 is weight 5, exit 2 weight 0, exit 0 the configured 10.
    std::fs::write(&code, "7").unwrap();
    run.wait_op(
        "weight 5",
        is_op_on(
            svc,
            |o| matches!(o, Op::EditDest { dest, .. } if dest.weight == 5),
        ),
    );
    std::fs::write(&code, "2").unwrap();
    run.wait_op(
        "weight 0",
        is_op_on(
            svc,
            |o| matches!(o, Op::EditDest { dest, .. } if dest.weight == 0),
        ),
    );
    std::fs::write(&code, "0").unwrap();
    run.wait_op(
        "weight 10",
        is_op_on(
            svc,
            |o| matches!(o, Op::EditDest { dest, .. } if dest.weight == 10),
        ),
    );
    // The server dies: the script exits 1, the server is removed; it comes back with the
    // weight of the exit code.
    lab.kill(srv);
    run.wait_op("del", is_op_on(svc, is_del("10.77.0.2")));
    std::fs::write(&code, "6").unwrap();
    let _srv = echo(&mut lab, "rs", &["--udp", "10.77.0.2:5353"]);
    run.wait_op("back", is_op_on(svc, is_add("10.77.0.2")));
    let m = run.ops_by_service();
    assert_eq!(
        m["Udp 10.77.0.100:53"],
        [
            "add 10.77.0.2 w10",
            "edit 10.77.0.2 w5",
            "edit 10.77.0.2 w0",
            "edit 10.77.0.2 w10",
            "del 10.77.0.2",
            "add 10.77.0.2 w4"
        ],
        "{}",
        run.dump()
    );
    assert!(run.logs().iter().any(|l| l == "Misc check for [[10.77.0.3]:udp:5353 VS [10.77.0.100]:udp:54] by [/bin/sleep] timed out after 1 retry."), "{}", run.dump());
}

#[test]
#[ignore = "needs root and network namespaces: make test runs it"]
fn quorum_and_sorry_server() {
    let mut lab = lab("ck4");
    let dir = tmpdir("quorum");
    let log = dir.join("scripts.log");
    let s1 = echo(&mut lab, "rs1", &["--tcp", "10.77.0.2:8080"]);
    let _s2 = echo(&mut lab, "rs2", &["--tcp", "10.77.0.3:8080"]);
    let svc = key(Protocol::Tcp, "10.77.0.100", 80);
    let mut v = fast_vs(svc);
    v.quorum = 2;
    v.sorry_server = Some(SorryServerSpec {
        addr: ip("10.77.0.9"),
        port: 8080,
        method: Some(Method::Masq),
        inhibit: false,
    });
    let sh = |word: &str| {
        Script::new([
            "/bin/sh",
            "-c",
            &format!("echo {word} >> {}", log.display()),
        ])
    };
    v.quorum_up = Some(sh("quorum_up"));
    v.quorum_down = Some(sh("quorum_down"));
    let mut r1 = rs("10.77.0.2", 8080, CheckerKind::Tcp);
    r1.notify_down = Some(sh("rs1_down"));
    r1.notify_up = Some(sh("rs1_up"));
    v.real_servers.push(r1);
    v.real_servers.push(rs("10.77.0.3", 8080, CheckerKind::Tcp));
    let mut run = Running::start(&lab, vec![v]);
    run.wait_op("add .3", is_add("10.77.0.3"));
    lab.kill(s1);
    run.wait_op("sorry in", is_add("10.77.0.9"));
    let _s1 = echo(&mut lab, "rs1", &["--tcp", "10.77.0.2:8080"]);
    run.wait_op("sorry out", is_del("10.77.0.9"));
    run.wait_op(".3 back", is_add("10.77.0.3"));
    run.settle(300 * MS);
    // .2 dies: removed, quorum lost, the alive .3 leaves and the sorry server comes in;
    // .2 back: no change in lvsd until quorum is back, then the sorry server goes and
    // the alive servers return.
    assert_eq!(
        run.ops_by_service()["Tcp 10.77.0.100:80"],
        [
            "add 10.77.0.2 w1",
            "add 10.77.0.3 w1",
            "del 10.77.0.2",
            "del 10.77.0.3",
            "add 10.77.0.9 w1",
            "del 10.77.0.9",
            "add 10.77.0.2 w1",
            "add 10.77.0.3 w1",
        ],
        "{}",
        run.dump()
    );
    let logs = run.logs();
    for l in [
        "Lost quorum 2-0=2 > 1 for VS [10.77.0.100]:tcp:80",
        "Adding sorry server [10.77.0.9]:tcp:8080 to VS [10.77.0.100]:tcp:80",
        "Gained quorum 2+0=2 <= 2 for VS [10.77.0.100]:tcp:80",
        "Removing sorry server [10.77.0.9]:tcp:8080 from VS [10.77.0.100]:tcp:80",
    ] {
        assert!(
            logs.iter().any(|x| x == l),
            "missing {l:?}:\n{}",
            run.dump()
        );
    }
    // The scripts ran: quorum_up at start, then notify_down and quorum_down together
    // (started at the same instant, not waited for, so in either order), then notify_up
    // and quorum_up.
    std::thread::sleep(500 * MS);
    let ran = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = ran.lines().collect();
    assert_eq!(lines.len(), 5, "{ran}");
    lines[1..3].sort();
    lines[3..5].sort();
    assert_eq!(
        lines,
        [
            "quorum_up",
            "quorum_down",
            "rs1_down",
            "quorum_up",
            "rs1_up"
        ],
        "{ran}"
    );
}

#[test]
#[ignore = "needs root and network namespaces: make test runs it"]
fn ssl_get_against_openssl_s_server() {
    let mut lab = lab("ck5");
    let dir = tmpdir("ssl");
    let body = b"healthy over TLS\n";
    std::fs::write(dir.join("health.txt"), body).unwrap();
    lvs_testkit::run(&[
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=rs.test",
        "-days",
        "1",
        "-keyout",
        dir.join("key.pem").to_str().unwrap(),
        "-out",
        dir.join("cert.pem").to_str().unwrap(),
    ])
    .unwrap();
    let serve = format!(
        "cd {} && exec openssl s_server -quiet -accept 10.77.0.2:8443 -cert cert.pem -key key.pem -WWW",
        dir.display()
    );
    let start = |lab: &mut Lab| {
        let i = lab.spawn("r", &["sh", "-c", &serve]).unwrap();
        std::thread::sleep(800 * MS);
        i
    };
    let srv = start(&mut lab);
    let svc = key(Protocol::Tcp, "10.77.0.100", 443);
    let bad = key(Protocol::Tcp, "10.77.0.100", 444);
    let mut v = fast_vs(svc);
    let mut url = UrlSpec::new("/health.txt");
    url.digest = Some(Md5::digest(body).into());
    let mut h = HttpSpec::new(true, vec![url]);
    h.virtualhost = Some("rs.test".into());
    h.enable_sni = true;
    v.real_servers
        .push(rs("10.77.0.2", 8443, CheckerKind::Http(h)));
    let mut v2 = fast_vs(bad);
    let mut url = UrlSpec::new("/health.txt");
    url.digest = Some([7; 16]);
    v2.real_servers.push(rs(
        "10.77.0.2",
        8443,
        CheckerKind::Http(HttpSpec::new(true, vec![url])),
    ));
    let mut run = Running::start(&lab, vec![v, v2]);
    run.wait_op("initial add", is_op_on(svc, is_add("10.77.0.2")));
    run.wait_op("bad digest del", is_op_on(bad, is_del("10.77.0.2")));
    run.settle(2000 * MS);
    lab.kill(srv);
    run.wait_op("del", is_op_on(svc, is_del("10.77.0.2")));
    let _srv = start(&mut lab);
    run.wait_op("add", is_op_on(svc, is_add("10.77.0.2")));
    let m = run.ops_by_service();
    assert_eq!(
        m["Tcp 10.77.0.100:443"],
        ["add 10.77.0.2 w1", "del 10.77.0.2", "add 10.77.0.2 w1"],
        "{}",
        run.dump()
    );
    assert_eq!(
        m["Tcp 10.77.0.100:444"],
        ["add 10.77.0.2 w1", "del 10.77.0.2"],
        "{}",
        run.dump()
    );
}

#[test]
#[ignore = "needs root and network namespaces: make test runs it"]
fn ha_suspend_follows_the_virtual_address() {
    let mut lab = lab("ck6");
    let srv = echo(&mut lab, "rs", &["--tcp", "10.77.0.2:8080"]);
    let svc = key(Protocol::Tcp, "10.77.0.100", 80);
    let mut v = fast_vs(svc);
    v.ha_suspend = true;
    v.real_servers.push(rs("10.77.0.2", 8080, CheckerKind::Tcp));
    let mut run = Running::start(&lab, vec![v]);
    run.wait_op("add", is_add("10.77.0.2"));
    // The VIP is not here: checkers are suspended, a dead server goes unnoticed.
    lab.kill(srv);
    run.settle(3000 * MS);
    assert_eq!(
        run.ops_by_service()["Tcp 10.77.0.100:80"],
        ["add 10.77.0.2 w1"],
        "{}",
        run.dump()
    );
    // The VIP arrives (as VRRP would add it) and the driver is told: checks resume.
    lab.addr("d", "eth0", "10.77.0.100/24").unwrap();
    run.handle.address_added(ip("10.77.0.100"));
    run.wait_op("del", is_del("10.77.0.2"));
    let logs = run.logs();
    assert!(logs.iter().any(|l| l == "Deactivating healthchecker for service [10.77.0.2]:tcp:8080 for VS [10.77.0.100]:tcp:80"));
    assert!(logs.iter().any(|l| l == "Activating healthchecker for service [10.77.0.2]:tcp:8080 for VS [10.77.0.100]:tcp:80"));
}

#[test]
#[ignore = "needs root, network namespaces and the lvsd binary: make test runs it"]
fn lvsd_follows_the_checkers_through_lvsd_sink() {
    use lvs_api::client::Client;
    let mut lab = lab("ck7");
    let dir = tmpdir("lvsd");
    let sock = dir.join("lvsd.sock");
    lab.spawn_lvsd("d", &sock, &["--no-dataplane"]).unwrap();
    let client = Client::new(&sock);
    let svc = key(Protocol::Tcp, "10.77.0.100", 80);
    client
        .add_service(&lvs_api::ServiceSpec {
            key: svc,
            scheduler: "wlc".into(),
            flags: 0,
            persistence: None,
            pe: None,
            proxy_protocol: false,
        })
        .unwrap();
    let srv = echo(&mut lab, "rs1", &["--tcp", "10.77.0.2:8080"]);
    let _s2 = echo(&mut lab, "rs2", &["--tcp", "10.77.0.3:8080"]);
    let mut v = fast_vs(svc);
    let mut r1 = rs("10.77.0.2", 8080, CheckerKind::Tcp);
    r1.weight = 2;
    v.real_servers.push(r1);
    let mut r2 = rs("10.77.0.3", 8080, CheckerKind::Tcp);
    r2.inhibit_on_failure = Some(true);
    r2.weight = 5;
    v.real_servers.push(r2);
    let logged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let l2 = logged.clone();
    let sink = LvsdSink::spawn(Client::new(&sock), move |l| {
        l2.lock().unwrap().push(l.to_string())
    });
    let mut run = Running::start_with(&lab, vec![v], sink.emitter());
    // What lvsd has: (addr, weight) per real server.
    let dests = || -> Vec<(IpAddr, i32)> {
        let mut d: Vec<_> = client.services().unwrap()[0]
            .dests
            .iter()
            .map(|d| (d.spec.addr, d.spec.weight))
            .collect();
        d.sort();
        d
    };
    let wait_for = |want: Vec<(IpAddr, i32)>| {
        let t0 = Instant::now();
        loop {
            let got = dests();
            if got == want {
                return;
            }
            assert!(t0.elapsed() < WAIT, "lvsd has {got:?}, want {want:?}");
            std::thread::sleep(100 * MS);
        }
    };
    wait_for(vec![(ip("10.77.0.2"), 2), (ip("10.77.0.3"), 5)]);
    lab.kill(srv);
    wait_for(vec![(ip("10.77.0.3"), 5)]);
    let _srv = echo(&mut lab, "rs1", &["--tcp", "10.77.0.2:8080"]);
    wait_for(vec![(ip("10.77.0.2"), 2), (ip("10.77.0.3"), 5)]);
    // The NAT real server keeps its port; the inhibited one goes to weight 0 and back.
    lab.exec("r", &["ip", "addr", "del", "10.77.0.3/24", "dev", "eth0"])
        .unwrap();
    wait_for(vec![(ip("10.77.0.2"), 2), (ip("10.77.0.3"), 0)]);
    assert_eq!(
        client.services().unwrap()[0]
            .dests
            .iter()
            .find(|d| d.spec.addr == ip("10.77.0.2"))
            .unwrap()
            .spec
            .port,
        8080
    );
    // Shutdown takes both out.
    run.stop();
    drop(run);
    sink.finish();
    wait_for(vec![]);
    assert!(
        logged
            .lock()
            .unwrap()
            .iter()
            .any(|l| l == "Removing service [10.77.0.2]:tcp:8080 from VS [10.77.0.100]:tcp:80")
    );
}
