//! SMTP_CHECK, DNS_CHECK and FILE_CHECK against lvsd in network namespaces (root).
//!
//! Namespace `d` runs lvsd (no data plane) and the checkers (on a thread that entered it,
//! applying their ops through [`LvsdSink`]); namespace `r` runs a tiny SMTP responder and
//! a tiny DNS responder written here with std::net. Each responder is stopped and started
//! again, a tracked file is rewritten, and lvsd's real servers must follow.
//!
//! Needs root, iproute2 and lvsd (`cargo build --workspace --bins`):
//! `cargo test -p lvs-keepalived --test smtp_dns_file_netns -- --ignored` (`make test`
//! runs it).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lvs_api::client::Client;
use lvs_api::{Protocol, ServiceKey};
use lvs_keepalived::check::*;
use lvs_testkit::Lab;

const MS: Duration = Duration::from_millis(1);
const WAIT: Duration = Duration::from_secs(30);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Run `f` on a new thread inside namespace `ns` of the lab.
fn in_ns<T: Send + 'static>(
    lab: &Lab,
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{}", lab.ns_name(ns));
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
}

/// A responder thread in namespace r, stopped (its socket closed) on drop.
struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An SMTP server at `addr`: greets with 220, answers HELO with 250 and QUIT with 221.
/// The HELO line it gets is kept in `helos`.
fn smtp_server(lab: &Lab, addr: &str, helos: Arc<std::sync::Mutex<Vec<String>>>) -> Responder {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let addr = addr.to_string();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = in_ns(lab, "r", move || {
        let l = TcpListener::bind(&addr).unwrap();
        l.set_nonblocking(true).unwrap();
        ready_tx.send(()).unwrap();
        while !s2.load(Ordering::SeqCst) {
            let Ok((s, _)) = l.accept() else {
                std::thread::sleep(20 * MS);
                continue;
            };
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(2000 * MS)).unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let _ = w.write_all(b"220 mx.test ESMTP ready\r\n");
            let mut line = String::new();
            if r.read_line(&mut line).is_err() || !line.starts_with("HELO ") {
                continue;
            }
            helos.lock().unwrap().push(line.trim_end().to_string());
            let _ = w.write_all(b"250 mx.test\r\n");
            line.clear();
            if r.read_line(&mut line).is_ok() && line == "QUIT\r\n" {
                let _ = w.write_all(b"221 bye\r\n");
            }
        }
    });
    ready_rx.recv_timeout(WAIT).unwrap();
    Responder {
        stop,
        thread: Some(thread),
    }
}

/// A DNS server at `addr` that answers every query with QR set and `rcode`, no records.
fn dns_server(lab: &Lab, addr: &str, rcode: u8) -> Responder {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let addr = addr.to_string();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = in_ns(lab, "r", move || {
        let s = UdpSocket::bind(&addr).unwrap();
        s.set_read_timeout(Some(50 * MS)).unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 512];
        while !s2.load(Ordering::SeqCst) {
            let Ok((n, from)) = s.recv_from(&mut buf) else {
                continue;
            };
            if n < 12 {
                continue;
            }
            let mut reply = buf[..n].to_vec();
            reply[2] |= 0x80; // QR
            reply[3] = (reply[3] & 0xf0) | (rcode & 0x0f);
            let _ = s.send_to(&reply, from);
        }
    });
    ready_rx.recv_timeout(WAIT).unwrap();
    Responder {
        stop,
        thread: Some(thread),
    }
}

struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key(proto: Protocol, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: proto,
        addr: ip("10.78.0.100"),
        port,
    }
}

/// delay_loop 1 s, delay_before_retry 300 ms, connect_timeout 1 s, retry 1, no warmup.
fn fast_vs(k: ServiceKey, addr: &str, port: u16, kind: CheckerKind) -> VirtualServerSpec {
    let mut vs = VirtualServerSpec::new(k);
    vs.delay_loop = Some(1000 * MS);
    vs.delay_before_retry = Some(300 * MS);
    vs.connect_timeout = Some(1000 * MS);
    vs.retry = Some(1);
    vs.warmup = Some(Duration::ZERO);
    let mut rs = RealServerSpec::new(ip(addr), port);
    rs.checkers.push(CheckerSpec::new(kind));
    vs.real_servers.push(rs);
    vs
}

#[test]
#[ignore = "needs root, network namespaces and the lvsd binary: make test runs it"]
fn smtp_dns_and_file_checks_drive_lvsd() {
    let mut lab = Lab::new("ckx").unwrap();
    lab.add_ns("d").unwrap();
    lab.add_ns("r").unwrap();
    lab.veth("d", "eth0", "r", "eth0").unwrap();
    lab.addr("d", "eth0", "10.78.0.1/24").unwrap();
    lab.addr("r", "eth0", "10.78.0.2/24").unwrap();
    lab.addr("r", "eth0", "10.78.0.3/24").unwrap();
    let dir = std::env::temp_dir().join(format!("lvs-ckx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TmpDir(dir);
    let sock = dir.0.join("lvsd.sock");
    lab.spawn_lvsd("d", &sock, &["--no-dataplane"]).unwrap();
    let client = Client::new(&sock);
    let smtp_svc = key(Protocol::Tcp, 25);
    let dns_svc = key(Protocol::Udp, 53);
    let file_svc = key(Protocol::Tcp, 80);
    for k in [smtp_svc, dns_svc, file_svc] {
        client
            .add_service(&lvs_api::ServiceSpec {
                key: k,
                scheduler: "wlc".into(),
                flags: 0,
                persistence: None,
                pe: None,
                proxy_protocol: false,
            })
            .unwrap();
    }
    let helos = Arc::new(std::sync::Mutex::new(Vec::new()));
    let smtp = smtp_server(&lab, "10.78.0.2:2525", helos.clone());
    let dns = dns_server(&lab, "10.78.0.2:5353", 0);
    let tracked = dir.0.join("maint");
    std::fs::write(&tracked, "0\n").unwrap();

    let smtp_vs = fast_vs(
        smtp_svc,
        "10.78.0.2",
        2525,
        CheckerKind::Smtp(SmtpSpec {
            helo_name: "lvs.test".into(),
        }),
    );
    let mut dns_vs = fast_vs(
        dns_svc,
        "10.78.0.2",
        5353,
        CheckerKind::Dns(DnsSpec {
            qtype: 1,
            name: "www.example.test".into(),
        }),
    );
    // DNS_CHECK retries are its own (3 by default): one keeps the test short.
    dns_vs.retry = Some(1);
    let mut file_vs = fast_vs(
        file_svc,
        "10.78.0.3",
        80,
        CheckerKind::File(FileCheckSpec {
            name: "maint".into(),
            path: tracked.clone(),
            weight: 0,
            reverse: false,
            init: None,
        }),
    );
    file_vs.real_servers[0].weight = 3;
    let checks = Checks::new(vec![smtp_vs, dns_vs, file_vs]).unwrap();

    let logged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let l2 = logged.clone();
    let sink = LvsdSink::spawn(Client::new(&sock), move |l| {
        l2.lock().unwrap().push(l.to_string())
    });
    let (handle, ctl) = CheckerHandle::new();
    let emit = sink.emitter();
    let run = in_ns(&lab, "d", move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run_checkers(checks, emit, ctl));
    });

    // (service, real server, weight) in lvsd.
    let dests = || -> Vec<(u16, IpAddr, i32)> {
        let mut v = Vec::new();
        for s in client.services().unwrap() {
            let ServiceKey::Addr { port, .. } = s.spec.key else {
                continue;
            };
            for d in &s.dests {
                v.push((port, d.spec.addr, d.spec.weight));
            }
        }
        v.sort();
        v
    };
    let wait_for = |want: &[(u16, &str, i32)]| {
        let want: Vec<(u16, IpAddr, i32)> = want.iter().map(|&(p, a, w)| (p, ip(a), w)).collect();
        let t0 = Instant::now();
        loop {
            let got = dests();
            if got == want {
                return;
            }
            assert!(
                t0.elapsed() < WAIT,
                "lvsd has {got:?}, want {want:?}; log: {:#?}",
                logged.lock().unwrap()
            );
            std::thread::sleep(100 * MS);
        }
    };
    let all = [
        (25, "10.78.0.2", 1),
        (53, "10.78.0.2", 1),
        (80, "10.78.0.3", 3),
    ];
    wait_for(&all);
    // Let the first checks pass (1 s after start), then take the SMTP server away.
    std::thread::sleep(1500 * MS);
    assert!(
        helos.lock().unwrap().iter().any(|h| h == "HELO lvs.test"),
        "the SMTP server saw no HELO"
    );
    drop(smtp);
    wait_for(&[(53, "10.78.0.2", 1), (80, "10.78.0.3", 3)]);
    let smtp = smtp_server(&lab, "10.78.0.2:2525", helos.clone());
    wait_for(&all);
    // The DNS server goes: its port is closed (ICMP port unreachable → ECONNREFUSED).
    drop(dns);
    wait_for(&[(25, "10.78.0.2", 1), (80, "10.78.0.3", 3)]);
    // Back, but answering SERVFAIL: still down.
    let bad_dns = dns_server(&lab, "10.78.0.2:5353", 2);
    std::thread::sleep(2500 * MS);
    wait_for(&[(25, "10.78.0.2", 1), (80, "10.78.0.3", 3)]);
    drop(bad_dns);
    let _dns = dns_server(&lab, "10.78.0.2:5353", 0);
    wait_for(&all);
    // The tracked file: non-zero takes the real server out, 0 brings it back, deleting
    // the file counts as 0.
    std::fs::write(&tracked, "1\n").unwrap();
    wait_for(&[(25, "10.78.0.2", 1), (53, "10.78.0.2", 1)]);
    std::fs::write(&tracked, "0\n").unwrap();
    wait_for(&all);
    std::fs::write(&tracked, "7\n").unwrap();
    wait_for(&[(25, "10.78.0.2", 1), (53, "10.78.0.2", 1)]);
    std::fs::remove_file(&tracked).unwrap();
    wait_for(&all);
    // Shutdown takes everything out.
    handle.shutdown(true);
    run.join().unwrap();
    sink.finish();
    wait_for(&[]);
    drop(smtp);
    let log = logged.lock().unwrap();
    for want in [
        "SMTP_CHECK Error connecting to server [10.78.0.2]:2525",
        "Remote SMTP server [10.78.0.2]:tcp:2525 succeed on service.",
        "DNS_CHECK ([10.78.0.2]:udp:5353) failed to read socket; errno 111 (Connection refused) after 1 retries",
    ] {
        assert!(log.iter().any(|l| l == want), "{want:?} not in {log:#?}");
    }
}
