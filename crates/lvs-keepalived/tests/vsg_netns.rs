//! `virtual_server group` end to end (root): the lvs-keepalived daemon against lvsd in a
//! network namespace.
//!
//! Namespace `d` runs lvsd (`--no-dataplane`: its tables only) and `lvs-keepalived -C`
//! (checkers only) on a configuration whose virtual server is a group of two VIPs;
//! namespace `r` runs the real servers (lvs-echo). The test reads lvsd's tables through
//! its control socket: both services with both real servers, a failed real server gone
//! from both, back in both, a reload that changes the group's entries, and SIGTERM.
//!
//! Needs root, iproute2 and the workspace binaries (`cargo build --workspace --bins`):
//! `cargo test -p lvs-keepalived --test vsg_netns -- --ignored` (`make unit` runs it).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lvs_api::ServiceKey;
use lvs_api::client::Client;
use lvs_testkit::{Lab, bin_path};

const WAIT: Duration = Duration::from_secs(30);

/// A scratch directory, removed when dropped (also when the test fails).
struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn conf(entries: &str) -> String {
    format!(
        "virtual_server_group G {{
{entries}
}}
virtual_server group G {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.78.0.2 8080 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
    real_server 10.78.0.3 8080 {{
        weight 3
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
}}
"
    )
}

/// lvsd's tables: service → sorted "addr:port wW".
fn tables(client: &Client) -> BTreeMap<String, Vec<String>> {
    let mut m = BTreeMap::new();
    for s in client.services().unwrap_or_default() {
        let name = match s.spec.key {
            ServiceKey::Addr { addr, port, .. } => format!("{addr}:{port}"),
            ServiceKey::Fwmark { mark, .. } => format!("fwm {mark}"),
        };
        let mut d: Vec<String> = s
            .dests
            .iter()
            .map(|d| format!("{}:{} w{}", d.spec.addr, d.spec.port, d.spec.weight))
            .collect();
        d.sort();
        m.insert(name, d);
    }
    m
}

fn wait_tables(client: &Client, what: &str, want: &[(&str, &[&str])]) {
    let want: BTreeMap<String, Vec<String>> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    let t0 = Instant::now();
    loop {
        let got = tables(client);
        if got == want {
            return;
        }
        assert!(
            t0.elapsed() < WAIT,
            "{what}: lvsd has {got:#?}, want {want:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs root, network namespaces and the workspace binaries: make unit runs it"]
fn a_group_of_two_vips_follows_its_real_servers_in_both_services() {
    let mut lab = Lab::new("vsg").unwrap();
    lab.add_ns("d").unwrap();
    lab.add_ns("r").unwrap();
    lab.veth("d", "eth0", "r", "eth0").unwrap();
    lab.addr("d", "eth0", "10.78.0.1/24").unwrap();
    lab.addr("r", "eth0", "10.78.0.2/24").unwrap();
    lab.addr("r", "eth0", "10.78.0.3/24").unwrap();
    let dir = std::env::temp_dir().join(format!("lvs-vsg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _tmp = TmpDir(dir.clone());
    let sock = dir.join("lvsd.sock");
    lab.spawn_lvsd("d", &sock, &["--no-dataplane"]).unwrap();
    let client = Client::new(&sock);
    let echo = bin_path("lvs-echo").unwrap();
    let echo = echo.to_str().unwrap();
    let rs1 = lab
        .spawn("r", &[echo, "rs1", "--tcp", "10.78.0.2:8080"])
        .unwrap();
    lab.spawn("r", &[echo, "rs2", "--tcp", "10.78.0.3:8080"])
        .unwrap();
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, conf("    10.78.0.100-101 80")).unwrap();
    let pid = dir.join("ka.pid");
    let cmd = format!(
        "LVSD_SOCKET={} exec {} -n -l -C -f {} -p {}",
        sock.display(),
        bin_path("lvs-keepalived").unwrap().display(),
        path.display(),
        pid.display()
    );
    let ka = lab.spawn("d", &["sh", "-c", &cmd]).unwrap();
    let both: &[&str] = &["10.78.0.2:8080 w1", "10.78.0.3:8080 w3"];
    let only2: &[&str] = &["10.78.0.3:8080 w3"];
    wait_tables(
        &client,
        "start",
        &[("10.78.0.100:80", both), ("10.78.0.101:80", both)],
    );
    // One checker per real server: its failure takes it out of both services.
    lab.kill(rs1);
    wait_tables(
        &client,
        "rs1 down",
        &[("10.78.0.100:80", only2), ("10.78.0.101:80", only2)],
    );
    let _rs1 = lab
        .spawn("r", &[echo, "rs1", "--tcp", "10.78.0.2:8080"])
        .unwrap();
    wait_tables(
        &client,
        "rs1 back",
        &[("10.78.0.100:80", both), ("10.78.0.101:80", both)],
    );
    // Reload with 10.78.0.101 replaced by 10.78.0.102 and a fwmark entry added: the
    // service of 10.78.0.100 stays, 101 goes, 102 and the fwmark come with the servers.
    std::fs::write(
        &path,
        conf("    10.78.0.100 80\n    10.78.0.102 80\n    fwmark 9"),
    )
    .unwrap();
    lab.exec(
        "d",
        &["sh", "-c", &format!("kill -HUP $(cat {})", pid.display())],
    )
    .unwrap();
    wait_tables(
        &client,
        "reload",
        &[
            ("10.78.0.100:80", both),
            ("10.78.0.102:80", both),
            ("fwm 9", both),
        ],
    );
    // SIGTERM: the services this process owns leave lvsd.
    let status = lab.terminate(ka).unwrap();
    assert!(status.success(), "{status:?}");
    wait_tables(&client, "stop", &[]);
}
