//! lvsd's optional TCP listener (`--listen ADDR:PORT --token-file PATH`), on the loopback
//! of a network namespace of its own (root): every request needs the bearer token; the Unix
//! socket needs none; `/metrics` and `/v1/config` are served on both.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use lvs_api::client::Client;
use lvs_testkit::Lab;

const TOKEN: &str = "t0k3n-for-the-tcp-listener";

struct Daemon {
    lab: Lab,
    socket: String,
    token_file: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.token_file);
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn token_file(lab: &Lab, mode: u32) -> String {
    let path = format!("/tmp/{}-token", lab.ns_name("d"));
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// lvsd without data plane in namespace `d`, listening on `listen` there.
fn start(tag: &str, listen: &str) -> Daemon {
    let mut lab = Lab::new(tag).expect("lab (root needed)");
    lab.add_ns("d").unwrap();
    let socket = format!("/tmp/{}-lvsd.sock", lab.ns_name("d"));
    let token_file = token_file(&lab, 0o600);
    lab.spawn(
        "d",
        &[
            env!("CARGO_BIN_EXE_lvsd"),
            "--no-dataplane",
            "--socket",
            &socket,
            "--listen",
            listen,
            "--token-file",
            &token_file,
        ],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Client::new(&socket).info().is_err() {
        assert!(Instant::now() < deadline, "lvsd did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Daemon {
        lab,
        socket,
        token_file,
    }
}

/// curl in the namespace: (HTTP status, body).
fn curl(d: &Daemon, args: &[&str]) -> (u16, String) {
    let mut full = vec!["curl", "-s", "-m", "5", "-w", "\n%{http_code}", "-g"];
    full.extend_from_slice(args);
    let out = d.lab.try_exec("d", &full).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn bearer(t: &str) -> String {
    format!("Authorization: Bearer {t}")
}

#[test]
fn tcp_needs_the_token_and_the_unix_socket_does_not() {
    let d = start("tk", "127.0.0.1:9180");
    let url = |p: &str| format!("http://127.0.0.1:9180{p}");

    // No token, a wrong one, another scheme: 401 with an ApiError, nothing served.
    for extra in [
        vec![],
        vec!["-H".to_string(), bearer("wrong")],
        vec!["-H".to_string(), bearer(&format!("{TOKEN}x"))],
        vec!["-H".to_string(), format!("Authorization: Basic {TOKEN}")],
    ] {
        let mut args: Vec<&str> = extra.iter().map(String::as_str).collect();
        let u = url("/v1/info");
        args.push(&u);
        let (code, body) = curl(&d, &args);
        assert_eq!(code, 401, "{extra:?}: {body}");
        let e: lvs_api::ApiError = serde_json::from_str(&body).unwrap();
        assert_eq!(e.kind, lvs_api::ErrorKind::Unauthorized);
    }
    let h = bearer(TOKEN);
    let (code, body) = curl(&d, &["-H", &h, &url("/v1/info")]);
    assert_eq!(code, 200, "{body}");
    let info: lvs_api::Info = serde_json::from_str(&body).unwrap();
    assert_eq!(info.num_services, 0);
    // The scheme is case-insensitive (RFC 6750).
    let lower = format!("Authorization: bearer {TOKEN}");
    assert_eq!(curl(&d, &["-H", &lower, &url("/v1/info")]).0, 200);
    // Metrics need it too.
    assert_eq!(curl(&d, &[&url("/metrics")]).0, 401);
    let (code, metrics) = curl(&d, &["-H", &h, &url("/metrics")]);
    assert_eq!(code, 200);
    assert!(metrics.contains("\nlvs_services 0\n"), "{metrics}");

    // A whole configuration applied over TCP is what the Unix socket reads back.
    let config = serde_json::json!({
        "services": [{
            "service": {
                "key": {"kind": "addr", "protocol": "tcp", "addr": "10.0.0.1", "port": 80},
                "scheduler": "rr", "flags": 0, "persistence": null, "pe": null
            },
            "dests": [{"addr": "10.2.0.11", "port": 8080, "method": "masq", "weight": 2}]
        }]
    })
    .to_string();
    let (code, body) = curl(
        &d,
        &[
            "-X",
            "PUT",
            "-H",
            &h,
            "-H",
            "Content-Type: application/json",
            "--data",
            &config,
            &url("/v1/config"),
        ],
    );
    assert_eq!(code, 200, "{body}");
    let s: lvs_api::ApplySummary = serde_json::from_str(&body).unwrap();
    assert!(s.applied);
    assert_eq!((s.services_added, s.dests_added), (1, 1));
    let unix = Client::new(&d.socket);
    let back = unix.config().unwrap();
    assert_eq!(back.services.len(), 1);
    assert_eq!(back.services[0].dests[0].weight, 2);
    // Without the token the same PUT changes nothing.
    let (code, _) = curl(
        &d,
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data",
            r#"{"services":[]}"#,
            &url("/v1/config"),
        ],
    );
    assert_eq!(code, 401);
    assert_eq!(unix.config().unwrap(), back);
    // The Unix socket needs no token, for metrics either.
    let m = unix.metrics().unwrap();
    assert!(m.contains("\nlvs_services 1\n"), "{m}");
    assert!(
        m.contains("lvs_backend_weight{local_address=\"10.0.0.1\",local_port=\"80\",remote_address=\"10.2.0.11\",remote_port=\"8080\",proto=\"TCP\",local_mark=\"\",family=\"inet\"} 2\n"),
        "{m}"
    );
}

#[test]
fn ipv6_loopback_works_too() {
    let d = start("t6", "[::1]:9181");
    let h = bearer(TOKEN);
    assert_eq!(curl(&d, &["http://[::1]:9181/v1/info"]).0, 401);
    assert_eq!(curl(&d, &["-H", &h, "http://[::1]:9181/v1/info"]).0, 200);
}

#[test]
fn a_token_file_others_can_read_refuses_to_start() {
    let mut lab = Lab::new("tb").expect("lab (root needed)");
    lab.add_ns("d").unwrap();
    let path = token_file(&lab, 0o644);
    let socket = format!("/tmp/{}-lvsd.sock", lab.ns_name("d"));
    let out = lab
        .try_exec(
            "d",
            &[
                env!("CARGO_BIN_EXE_lvsd"),
                "--no-dataplane",
                "--socket",
                &socket,
                "--listen",
                "127.0.0.1:9182",
                "--token-file",
                &path,
            ],
        )
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!std::path::Path::new(&socket).exists(), "nothing served");
    // --listen without a token file is refused before anything starts.
    let out = lab
        .try_exec(
            "d",
            &[
                env!("CARGO_BIN_EXE_lvsd"),
                "--no-dataplane",
                "--socket",
                &socket,
                "--listen",
                "127.0.0.1:9182",
            ],
        )
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token-file"));
}
