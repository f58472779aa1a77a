//! Shared set-up of the end-to-end tests: labs with a client, a director running `lvsd`
//! and real servers running `lvs-echo`, all in network namespaces of their own.
//!
//! Every test builds its own lab with a unique prefix; the lab deletes its namespaces when
//! dropped, also when the test fails.

#![warn(missing_docs, rust_2018_idioms)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use lvs_api::client::Client;
use lvs_testkit::{Lab, bin_path};

/// Addresses of one lab, for one address family.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Client address.
    pub client: &'static str,
    /// Virtual address.
    pub vip: &'static str,
    /// Real servers' addresses.
    pub rs: [&'static str; 2],
    /// Prefix length of the links.
    pub plen: u8,
    /// Director's address on the client link.
    pub dir_client: &'static str,
    /// Director's addresses on the real-server links.
    pub dir_rs: [&'static str; 2],
}

/// IPv4 addresses.
pub const V4: Plan = Plan {
    client: "10.1.0.2",
    vip: "10.1.0.100",
    rs: ["10.2.1.11", "10.2.2.12"],
    plen: 24,
    dir_client: "10.1.0.1",
    dir_rs: ["10.2.1.1", "10.2.2.1"],
};

/// IPv6 addresses.
pub const V6: Plan = Plan {
    client: "fd01::2",
    vip: "fd01::100",
    rs: ["fd02:1::11", "fd02:2::12"],
    plen: 64,
    dir_client: "fd01::1",
    dir_rs: ["fd02:1::1", "fd02:2::1"],
};

/// IPv4 addresses with the VIP outside every link's subnet (routed to the director), for
/// directors that do not own the VIP (tunnelling).
pub const V4_ROUTED_VIP: Plan = Plan {
    vip: "10.0.0.100",
    ..V4
};

/// IPv6 addresses with a routed VIP.
pub const V6_ROUTED_VIP: Plan = Plan {
    vip: "fd00::100",
    ..V6
};

/// `addr:port` with IPv6 brackets.
pub fn hostport(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

/// A running lab: namespaces `c` (client), `d` (director), `r1`, `r2` (real servers).
#[derive(Debug)]
pub struct Routed {
    /// The namespaces.
    pub lab: Lab,
    /// The addresses.
    pub plan: Plan,
    /// Control socket of lvsd.
    pub socket: String,
    lvsd: usize,
}

impl Routed {
    /// Separate subnets: client link and one link per real server, the director routing
    /// between them (NAT, FULLNAT and TUN topologies), with the VIP on the director.
    /// Real servers route via the director when `rs_default_via_director`, else they have
    /// no route to the client (FULLNAT).
    pub fn new(tag: &str, plan: Plan, rs_default_via_director: bool) -> anyhow::Result<Routed> {
        Routed::build(tag, plan, rs_default_via_director, true)
    }

    /// As [`Routed::new`], choosing whether the director owns the VIP. A tunnelling
    /// director must not: the real servers' replies (source VIP) are routed back through
    /// it, and a router drops packets whose source is one of its own addresses.
    pub fn build(
        tag: &str,
        plan: Plan,
        rs_default_via_director: bool,
        vip_on_director: bool,
    ) -> anyhow::Result<Routed> {
        let mut lab = Lab::new(tag)?;
        for n in ["c", "d", "r1", "r2"] {
            lab.add_ns(n)?;
        }
        let p = plan.plen;
        lab.veth("c", "eth0", "d", "eth0")?;
        lab.veth("d", "eth1", "r1", "eth0")?;
        lab.veth("d", "eth2", "r2", "eth0")?;
        lab.addr("c", "eth0", &format!("{}/{p}", plan.client))?;
        lab.route("c", &["default", "via", plan.dir_client])?;
        lab.addr("d", "eth0", &format!("{}/{p}", plan.dir_client))?;
        let full = if plan.vip.contains(':') { 128 } else { 32 };
        if vip_on_director {
            lab.addr("d", "eth0", &format!("{}/{full}", plan.vip))?;
        }
        for (i, rs) in ["r1", "r2"].iter().enumerate() {
            lab.addr(
                "d",
                &format!("eth{}", i + 1),
                &format!("{}/{p}", plan.dir_rs[i]),
            )?;
            lab.addr(rs, "eth0", &format!("{}/{p}", plan.rs[i]))?;
            if rs_default_via_director {
                lab.route(rs, &["default", "via", plan.dir_rs[i]])?;
            }
        }
        let socket = format!("/tmp/{}-lvsd.sock", lab.ns_name("d"));
        let lvsd = bin_path("lvsd")?;
        let lvsd = lab.spawn("d", &[lvsd.to_str().context("path")?, "--socket", &socket])?;
        let me = Routed {
            lab,
            plan,
            socket,
            lvsd,
        };
        me.wait_ready()?;
        Ok(me)
    }

    fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.api().info().is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("lvsd did not come up on {}", self.socket);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The control API client.
    pub fn api(&self) -> Client {
        Client::new(&self.socket)
    }

    /// Start `lvs-echo` on both real servers (TCP and UDP on `port`).
    pub fn start_echo(&mut self, port: u16) -> anyhow::Result<()> {
        let echo = bin_path("lvs-echo")?;
        let echo = echo.to_str().context("path")?.to_string();
        for (i, rs) in ["r1", "r2"].iter().enumerate() {
            let hp = hostport(self.plan.rs[i], port);
            self.lab.spawn(
                rs,
                &[&echo, &format!("rs{}", i + 1), "--tcp", &hp, "--udp", &hp],
            )?;
        }
        // Wait until both listen (TCP and UDP), so no first packet meets a closed port.
        let deadline = Instant::now() + Duration::from_secs(10);
        for rs in ["r1", "r2"] {
            loop {
                let filter = format!("sport = :{port}");
                let t = self.lab.try_exec(rs, &["ss", "-Hltn", &filter])?;
                let u = self.lab.try_exec(rs, &["ss", "-Hlun", &filter])?;
                if !t.stdout.is_empty() && !u.stdout.is_empty() {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("lvs-echo did not start on {rs}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// One HTTP GET from the client to `vip:port` path `/`: the echo server's line.
    pub fn http_get(&self, port: u16) -> anyhow::Result<String> {
        let url = format!("http://{}/", hostport(self.plan.vip, port));
        let out = self
            .lab
            .try_exec("c", &["curl", "-s", "-m", "5", "-g", &url])?;
        if !out.status.success() {
            bail!("curl {url} failed: {}", out.status);
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Run `lvsadm ARGS` in the director's namespace against this lab's lvsd and return
    /// (exit status, stdout, stderr).
    pub fn lvsadm(&self, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
        let bin = bin_path("lvsadm")?;
        let mut full = vec![bin.to_str().context("path")?, "--socket", &self.socket];
        full.extend_from_slice(args);
        let out = self.lab.try_exec("d", &full)?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        ))
    }

    /// Run `lvsadm ARGS` and fail unless it succeeds; its standard output.
    pub fn adm(&self, args: &[&str]) -> anyhow::Result<String> {
        let (code, out, err) = self.lvsadm(args)?;
        if code != 0 {
            bail!("lvsadm {args:?} exited {code}: {err}");
        }
        Ok(out)
    }

    /// `n` HTTP GETs from the client: the echo lines.
    pub fn http_gets(&self, port: u16, n: usize) -> anyhow::Result<Vec<String>> {
        (0..n).map(|_| self.http_get(port)).collect()
    }

    /// SIGTERM lvsd and wait for it.
    pub fn stop_lvsd(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        self.lab.terminate(self.lvsd)
    }

    /// SIGKILL lvsd (it detaches nothing) and wait for it.
    pub fn kill_lvsd(&mut self) {
        self.lab.kill(self.lvsd);
    }

    /// Start lvsd again on the same socket (after [`Routed::stop_lvsd`] or
    /// [`Routed::kill_lvsd`]) and wait until it answers.
    pub fn restart_lvsd(&mut self) -> anyhow::Result<()> {
        let lvsd = bin_path("lvsd")?;
        self.lvsd = self.lab.spawn(
            "d",
            &[lvsd.to_str().context("path")?, "--socket", &self.socket],
        )?;
        self.wait_ready()
    }
}

/// Count lines like `server=rs1 client=...` by server.
pub fn tally<'a>(lines: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in lines {
        if let Some(s) = l.split_whitespace().find_map(|w| w.strip_prefix("server=")) {
            *m.entry(s.to_string()).or_insert(0) += 1;
        }
    }
    m
}

/// The client address an echo line reports (`client=IP:PORT`), without the port.
pub fn client_of(line: &str) -> Option<String> {
    let hp = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("client="))?;
    let host = match hp.rfind(':') {
        Some(i) => &hp[..i],
        None => hp,
    };
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

/// A shared L2 segment (a bridge in namespace `s`) with the client `c`, the director `d`
/// (owning the VIP) and the real servers `r1`, `r2` (DR and same-segment topologies).
#[derive(Debug)]
pub struct Bridged {
    /// The namespaces.
    pub lab: Lab,
    /// Client address.
    pub client: String,
    /// Virtual address.
    pub vip: String,
    /// Real servers' addresses.
    pub rs: [String; 2],
    /// Control socket of lvsd.
    pub socket: String,
}

impl Bridged {
    /// Build the segment; `v6` picks fd00:2::/64 instead of 10.2.0.0/24.
    pub fn new(tag: &str, v6: bool) -> anyhow::Result<Bridged> {
        let mut lab = Lab::new(tag)?;
        for n in ["s", "c", "d", "r1", "r2"] {
            lab.add_ns(n)?;
        }
        lab.bridge("s", "br0")?;
        let (net, plen, full) = if v6 {
            ("fd00:2::", 64, 128)
        } else {
            ("10.2.0.", 24, 32)
        };
        let a = |host: &str| format!("{net}{host}");
        for (i, n) in ["c", "d", "r1", "r2"].iter().enumerate() {
            let port = format!("p{i}");
            lab.veth(n, "eth0", "s", &port)?;
            lab.enslave("s", &port, "br0")?;
        }
        lab.addr("c", "eth0", &format!("{}/{plen}", a("2")))?;
        lab.addr("d", "eth0", &format!("{}/{plen}", a("1")))?;
        lab.addr("d", "eth0", &format!("{}/{full}", a("100")))?;
        lab.addr("r1", "eth0", &format!("{}/{plen}", a("11")))?;
        lab.addr("r2", "eth0", &format!("{}/{plen}", a("12")))?;
        let socket = format!("/tmp/{}-lvsd.sock", lab.ns_name("d"));
        let lvsd = bin_path("lvsd")?;
        lab.spawn("d", &[lvsd.to_str().context("path")?, "--socket", &socket])?;
        let me = Bridged {
            lab,
            client: a("2"),
            vip: a("100"),
            rs: [a("11"), a("12")],
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Client::new(&me.socket).info().is_err() {
            if Instant::now() > deadline {
                bail!("lvsd did not come up");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(me)
    }

    /// Run `lvsadm ARGS` in the director's namespace; fail unless it succeeds.
    pub fn adm(&self, args: &[&str]) -> anyhow::Result<String> {
        let bin = bin_path("lvsadm")?;
        let mut full = vec![bin.to_str().context("path")?, "--socket", &self.socket];
        full.extend_from_slice(args);
        let out = self.lab.try_exec("d", &full)?;
        if !out.status.success() {
            bail!(
                "lvsadm {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// Start `lvs-echo` on both real servers, listening on the VIP (TCP and UDP `port`).
    pub fn start_echo_on_vip(&mut self, port: u16) -> anyhow::Result<()> {
        let echo = bin_path("lvs-echo")?;
        let echo = echo.to_str().context("path")?.to_string();
        let hp = hostport(&self.vip, port);
        for (i, rs) in ["r1", "r2"].iter().enumerate() {
            self.lab.spawn(
                rs,
                &[&echo, &format!("rs{}", i + 1), "--tcp", &hp, "--udp", &hp],
            )?;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for rs in ["r1", "r2"] {
            let filter = format!("sport = :{port}");
            while self
                .lab
                .try_exec(rs, &["ss", "-Hltn", &filter])?
                .stdout
                .is_empty()
            {
                if Instant::now() > deadline {
                    bail!("lvs-echo did not start on {rs}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// One HTTP GET from the client to the VIP.
    pub fn http_get(&self, port: u16) -> anyhow::Result<String> {
        let url = format!("http://{}/", hostport(&self.vip, port));
        let out = self
            .lab
            .try_exec("c", &["curl", "-s", "-m", "5", "-g", &url])?;
        if !out.status.success() {
            bail!("curl {url} failed: {}", out.status);
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

// ---------------------------------------------------------------- slow downloads

/// Start a slow download of `bytes` from the VIP, port 80, in the client namespace in the
/// background (panics if the set-up fails: a test helper); returns the paths of
/// its exit-code and output files.
///
/// Slow in the network, not only in curl: the real servers' egress is shaped to 2 Mbit/s
/// (`tbf`), and curl is limited to `rate`. curl's `--limit-rate` alone is no throttle for
/// the connection: curl 7.88 reads up to 100 buffers in a row before it checks the rate, so
/// with a fast data path a 2 MB body can be in the client within a second while curl is
/// still "downloading" it, and cutting the connection then changes nothing.
pub fn slow_download(lab: &mut Routed, name: &str, bytes: u64, rate: &str) -> (String, String) {
    for rs in ["r1", "r2"] {
        lab.lab
            .exec(
                rs,
                &[
                    "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", "2mbit",
                    "burst", "16kb", "latency", "500ms",
                ],
            )
            .unwrap();
    }
    let rc = format!("/tmp/{}-{name}.rc", lab.lab.ns_name("c"));
    let body = format!("/tmp/{}-{name}.body", lab.lab.ns_name("c"));
    let _ = std::fs::remove_file(&rc);
    let url = format!("http://{}/bytes/{bytes}", hostport(lab.plan.vip, 80));
    let script =
        format!("curl -s -m 20 --limit-rate {rate} -D {body}.hdr -o {body} {url}; echo $? > {rc}");
    lab.lab.spawn("c", &["bash", "-c", &script]).unwrap();
    (rc, body)
}

/// The exit status a [`slow_download`] wrote to `rc`, waiting up to `timeout` for it.
pub fn wait_rc(rc: &str, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(rc)
            && let Ok(v) = s.trim().parse()
        {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// The `X-Server` header of a download started by [`slow_download`], once curl has it (at
/// most 10 s).
pub fn wait_server(body: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = server_of(body);
        if !s.is_empty() || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `X-Server` header curl has written so far.
pub fn server_of(body: &str) -> String {
    std::fs::read_to_string(format!("{body}.hdr"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("X-Server: "))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Forwarding layout of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairKind {
    /// NAT: a front segment (`br0`: client, both directors; 10.1.0.0/24) and a back one
    /// (`br1`: both directors, real servers; 10.2.0.0/24). The VIP 10.1.0.100 (the
    /// client's gateway) and the real servers' gateway 10.2.0.1 float on the active
    /// director. Sync runs on the back segment (`eth1`).
    Nat,
    /// DR: one segment (`br0`: client, directors, real servers; 10.2.0.0/24); the VIP
    /// 10.2.0.100 floats on the active director and sits on the real servers' `lo`
    /// (no ARP for it). Sync runs on `eth0`.
    Dr,
    /// NAT over IPv6, laid out as [`PairKind::Nat`] with fd01::/64 in front (VIP
    /// fd01::100) and fd02::/64 at the back (gateway fd02::1); sync runs on `eth1` with an
    /// IPv6 group (link-local addresses, no DAD).
    Nat6,
}

/// Two directors `a` and `b`, each running its own lvsd, a client `c` and real servers
/// `r1`, `r2` (all IPv4), for failover tests. Nothing is active until [`Pair::activate`].
#[derive(Debug)]
pub struct Pair {
    /// The namespaces (`s` holds the bridges).
    pub lab: Lab,
    /// The layout.
    pub kind: PairKind,
    /// Client address.
    pub client: String,
    /// Virtual address.
    pub vip: String,
    /// Real servers' addresses.
    pub rs: [String; 2],
    /// Control sockets of the directors' lvsd (`a`, `b`).
    pub sockets: [String; 2],
    lvsd: [usize; 2],
}

/// The directors' namespace names, indexed like [`Pair::sockets`].
pub const DIRECTORS: [&str; 2] = ["a", "b"];

impl Pair {
    /// Build the lab and start lvsd on both directors.
    pub fn new(tag: &str, kind: PairKind) -> anyhow::Result<Pair> {
        let mut lab = Lab::new(tag)?;
        for n in ["s", "c", "a", "b", "r1", "r2"] {
            lab.add_ns(n)?;
            // Link-local addresses usable at once (the IPv6 sync group needs one).
            lab.sysctl(n, "net.ipv6.conf.default.accept_dad", "0")?;
            lab.sysctl(n, "net.ipv6.conf.all.accept_dad", "0")?;
        }
        lab.bridge("s", "br0")?;
        let mut port = 0;
        let mut plug = |lab: &Lab, ns: &str, ifname: &str, br: &str| -> anyhow::Result<()> {
            let p = format!("p{port}");
            port += 1;
            lab.veth(ns, ifname, "s", &p)?;
            lab.enslave("s", &p, br)
        };
        let (client, vip, rs) = match kind {
            PairKind::Nat | PairKind::Nat6 => {
                lab.bridge("s", "br1")?;
                for n in ["c", "a", "b"] {
                    plug(&lab, n, "eth0", "br0")?;
                }
                for n in ["a", "b"] {
                    plug(&lab, n, "eth1", "br1")?;
                }
                for n in ["r1", "r2"] {
                    plug(&lab, n, "eth0", "br1")?;
                }
                let (f, b, plen) = if kind == PairKind::Nat6 {
                    ("fd01::", "fd02::", 64)
                } else {
                    ("10.1.0.", "10.2.0.", 24)
                };
                lab.addr("c", "eth0", &format!("{f}2/{plen}"))?;
                lab.route("c", &["default", "via", &format!("{f}100")])?;
                lab.addr("a", "eth0", &format!("{f}3/{plen}"))?;
                lab.addr("b", "eth0", &format!("{f}4/{plen}"))?;
                lab.addr("a", "eth1", &format!("{b}3/{plen}"))?;
                lab.addr("b", "eth1", &format!("{b}4/{plen}"))?;
                for (i, r) in ["r1", "r2"].iter().enumerate() {
                    lab.addr(r, "eth0", &format!("{b}1{}/{plen}", i + 1))?;
                    lab.route(r, &["default", "via", &format!("{b}1")])?;
                }
                if kind == PairKind::Nat6 {
                    ("fd01::2", "fd01::100", ["fd02::11", "fd02::12"])
                } else {
                    ("10.1.0.2", "10.1.0.100", ["10.2.0.11", "10.2.0.12"])
                }
            }
            PairKind::Dr => {
                for n in ["c", "a", "b", "r1", "r2"] {
                    plug(&lab, n, "eth0", "br0")?;
                }
                lab.addr("c", "eth0", "10.2.0.2/24")?;
                lab.addr("a", "eth0", "10.2.0.3/24")?;
                lab.addr("b", "eth0", "10.2.0.4/24")?;
                for (i, r) in ["r1", "r2"].iter().enumerate() {
                    lab.addr(r, "eth0", &format!("10.2.0.1{}/24", i + 1))?;
                    lab.addr(r, "lo", "10.2.0.100/32")?;
                    for k in [
                        "net.ipv4.conf.all.arp_ignore=1",
                        "net.ipv4.conf.eth0.arp_ignore=1",
                        "net.ipv4.conf.all.arp_announce=2",
                        "net.ipv4.conf.eth0.arp_announce=2",
                    ] {
                        lab.exec(r, &["sysctl", "-qw", k])?;
                    }
                }
                ("10.2.0.2", "10.2.0.100", ["10.2.0.11", "10.2.0.12"])
            }
        };
        let lvsd = bin_path("lvsd")?;
        let lvsd = lvsd.to_str().context("path")?.to_string();
        let mut sockets = [String::new(), String::new()];
        let mut pids = [0, 0];
        for (i, d) in DIRECTORS.iter().enumerate() {
            sockets[i] = format!("/tmp/{}-lvsd.sock", lab.ns_name(d));
            pids[i] = lab.spawn(d, &[&lvsd, "--socket", &sockets[i]])?;
        }
        let me = Pair {
            lab,
            kind,
            client: client.into(),
            vip: vip.into(),
            rs: rs.map(String::from),
            sockets,
            lvsd: pids,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for s in &me.sockets {
            while Client::new(s).info().is_err() {
                if Instant::now() > deadline {
                    bail!("lvsd did not come up on {s}");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(me)
    }

    /// The interface the directors sync on.
    pub fn sync_interface(&self) -> &'static str {
        match self.kind {
            PairKind::Nat | PairKind::Nat6 => "eth1",
            PairKind::Dr => "eth0",
        }
    }

    /// The API client of director `d` (0 = `a`, 1 = `b`).
    pub fn api(&self, d: usize) -> Client {
        Client::new(&self.sockets[d])
    }

    /// Run `lvsadm ARGS` on director `d`: (exit status, stdout, stderr).
    pub fn lvsadm(&self, d: usize, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
        let bin = bin_path("lvsadm")?;
        let mut full = vec![bin.to_str().context("path")?, "--socket", &self.sockets[d]];
        full.extend_from_slice(args);
        let out = self.lab.try_exec(DIRECTORS[d], &full)?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        ))
    }

    /// Run `lvsadm ARGS` on director `d`; fail unless it succeeds; its standard output.
    pub fn adm(&self, d: usize, args: &[&str]) -> anyhow::Result<String> {
        let (code, out, err) = self.lvsadm(d, args)?;
        if code != 0 {
            bail!("lvsadm {args:?} on {} exited {code}: {err}", DIRECTORS[d]);
        }
        Ok(out)
    }

    /// The addresses that float with the active director: (interface, CIDR).
    pub fn floating(&self) -> Vec<(&'static str, &'static str)> {
        match self.kind {
            PairKind::Nat => vec![("eth0", "10.1.0.100/32"), ("eth1", "10.2.0.1/32")],
            PairKind::Nat6 => vec![("eth0", "fd01::100/128"), ("eth1", "fd02::1/128")],
            PairKind::Dr => vec![("eth0", "10.2.0.100/32")],
        }
    }

    /// Make director `d` the active one: the floating addresses move to it (removed from
    /// the other one if it still has them) and the client's and real servers' neighbour
    /// caches are flushed (what a VRRP takeover's gratuitous ARP does).
    pub fn activate(&self, d: usize) -> anyhow::Result<()> {
        let other = DIRECTORS[1 - d];
        for (ifname, cidr) in self.floating() {
            let _ = self
                .lab
                .try_exec(other, &["ip", "addr", "del", cidr, "dev", ifname])?;
            self.lab.addr(DIRECTORS[d], ifname, cidr)?;
        }
        for n in ["c", "r1", "r2"] {
            for fam in ["-4", "-6"] {
                self.lab
                    .exec(n, &["ip", fam, "neigh", "flush", "dev", "eth0"])?;
            }
        }
        Ok(())
    }

    /// Take director `d`'s links down and SIGKILL its lvsd, as if the machine died. Links
    /// first: with lvsd gone and the links still up, the director's kernel, which owns the
    /// VIP, would answer packets still in flight to it with RSTs.
    pub fn kill_director(&mut self, d: usize) -> anyhow::Result<()> {
        let ifs: &[&str] = match self.kind {
            PairKind::Nat | PairKind::Nat6 => &["eth0", "eth1"],
            PairKind::Dr => &["eth0"],
        };
        for i in ifs {
            self.lab
                .exec(DIRECTORS[d], &["ip", "link", "set", i, "down"])?;
        }
        self.lab.kill(self.lvsd[d]);
        Ok(())
    }

    /// SIGKILL director `d`'s lvsd only (its links stay up).
    pub fn kill_lvsd(&mut self, d: usize) {
        self.lab.kill(self.lvsd[d]);
    }

    /// Start `lvs-echo` on both real servers: HTTP on `http` ports, line echo on `lines`
    /// ports (listening on the real server's address for NAT, on the VIP for DR).
    pub fn start_servers(&mut self, http: &[u16], lines: &[u16]) -> anyhow::Result<()> {
        let echo = bin_path("lvs-echo")?;
        let echo = echo.to_str().context("path")?.to_string();
        for (i, rs) in ["r1", "r2"].iter().enumerate() {
            let host = match self.kind {
                PairKind::Nat | PairKind::Nat6 => self.rs[i].clone(),
                PairKind::Dr => self.vip.clone(),
            };
            let mut args = vec![echo.clone(), format!("rs{}", i + 1)];
            for p in http {
                args.push("--tcp".into());
                args.push(hostport(&host, *p));
            }
            for p in lines {
                args.push("--lines".into());
                args.push(hostport(&host, *p));
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            self.lab.spawn(rs, &argv)?;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for rs in ["r1", "r2"] {
            for p in http.iter().chain(lines) {
                let filter = format!("sport = :{p}");
                while self
                    .lab
                    .try_exec(rs, &["ss", "-Hltn", &filter])?
                    .stdout
                    .is_empty()
                {
                    if Instant::now() > deadline {
                        bail!("lvs-echo did not start on {rs}");
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        Ok(())
    }

    /// One HTTP GET from the client to the VIP: the echo line.
    pub fn http_get(&self, port: u16) -> anyhow::Result<String> {
        let url = format!("http://{}/", hostport(&self.vip, port));
        let out = self
            .lab
            .try_exec("c", &["curl", "-s", "-m", "5", "-g", &url])?;
        if !out.status.success() {
            bail!("curl {url} failed: {}", out.status);
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

// ---------------------------------------------------------------- uploads

/// POST `n` random bytes from the client namespace `c` of `lab` to `http://HOSTPORT/echo`
/// (lvs-echo returns the body): (SHA-256 line of what came back, of what was sent). The
/// temporary file is deleted afterwards, also when the upload fails.
pub fn upload_echo(lab: &Lab, hostport: &str, n: u64) -> anyhow::Result<(String, String)> {
    struct TempFile(String);
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let file = TempFile(format!("/tmp/{}-upload", lab.ns_name("c")));
    lvs_testkit::run(&[
        "bash",
        "-c",
        &format!("head -c {n} /dev/urandom > {}", file.0),
    ])?;
    let got = lab.exec(
        "c",
        &[
            "bash",
            "-c",
            &format!(
                "curl -s -m 60 -H 'Expect:' --data-binary @{} http://{hostport}/echo | sha256sum",
                file.0
            ),
        ],
    )?;
    let want = lvs_testkit::run(&["bash", "-c", &format!("sha256sum < {}", file.0)])?;
    Ok((
        String::from_utf8_lossy(&got.stdout).to_string(),
        String::from_utf8_lossy(&want.stdout).to_string(),
    ))
}

// ---------------------------------------------------------------- checksums

fn sha256_of(cmd: &str) -> anyhow::Result<String> {
    let out = lvs_testkit::run(&["bash", "-c", cmd])?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string())
}

/// SHA-256 (hex) of the `n` bytes lvs-echo serves as `/bytes/N`.
pub fn pattern_sha256(n: u64) -> anyhow::Result<String> {
    let echo = bin_path("lvs-echo")?;
    sha256_of(&format!("{} --pattern {n} | sha256sum", echo.display()))
}

/// SHA-256 (hex) of a file.
pub fn file_sha256(path: &str) -> anyhow::Result<String> {
    sha256_of(&format!("sha256sum < {path}"))
}

/// SHA-256 (hex) of what curl downloads from `url` in the client namespace `c` of `lab`
/// (at most `timeout_s` seconds).
pub fn download_sha256(lab: &Lab, url: &str, timeout_s: u32) -> anyhow::Result<String> {
    let out = lab.exec(
        "c",
        &[
            "bash",
            "-c",
            &format!("curl -s -m {timeout_s} {url} | sha256sum"),
        ],
    )?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string())
}
