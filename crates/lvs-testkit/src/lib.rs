//! Test helpers: network-namespace labs that clean up after themselves.
//!
//! A [`Lab`] creates namespaces with a per-run unique prefix, wires them with veth pairs
//! and bridges, runs commands in them and, when dropped (also on panic), kills what it
//! started and deletes every namespace it created. Namespaces get no route to the outside:
//! only the links the test creates exist in them.
//!
//! Needs root and iproute2; tests that use it run from `make test`.

#![warn(missing_docs, rust_2018_idioms)]

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, bail};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A set of network namespaces for one test.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
}

/// Run a command on the host and fail with its stderr if it fails.
pub fn run(args: &[&str]) -> anyhow::Result<Output> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .with_context(|| format!("spawning {args:?}"))?;
    if !out.status.success() {
        bail!(
            "{args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(out)
}

impl Lab {
    /// A new, empty lab. `tag` (a few letters) goes into every namespace name.
    pub fn new(tag: &str) -> anyhow::Result<Lab> {
        if !nix_is_root() {
            bail!("network-namespace tests need root (run them through `make test`)");
        }
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        Ok(Lab {
            prefix: format!("lvs{}{}{}", tag, std::process::id() % 100_000, n),
            namespaces: Vec::new(),
            children: Vec::new(),
        })
    }

    /// The full name of namespace `short` in this lab.
    pub fn ns_name(&self, short: &str) -> String {
        format!("{}-{}", self.prefix, short)
    }

    /// Create namespace `short` with its loopback up.
    pub fn add_ns(&mut self, short: &str) -> anyhow::Result<String> {
        let name = self.ns_name(short);
        run(&["ip", "netns", "add", &name])?;
        self.namespaces.push(name.clone());
        self.exec(short, &["ip", "link", "set", "lo", "up"])?;
        Ok(name)
    }

    /// Run `args` in namespace `short`, failing on a non-zero exit.
    pub fn exec(&self, short: &str, args: &[&str]) -> anyhow::Result<Output> {
        let ns = self.ns_name(short);
        let mut full = vec!["ip", "netns", "exec", ns.as_str()];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Run `args` in namespace `short` and return its output whatever the exit status.
    pub fn try_exec(&self, short: &str, args: &[&str]) -> anyhow::Result<Output> {
        let ns = self.ns_name(short);
        Command::new("ip")
            .args(["netns", "exec", &ns])
            .args(args)
            .output()
            .with_context(|| format!("spawning {args:?} in {ns}"))
    }

    /// Start `args` in namespace `short` in the background; it is killed when the lab is
    /// dropped. Returns its index for [`Lab::kill`].
    pub fn spawn(&mut self, short: &str, args: &[&str]) -> anyhow::Result<usize> {
        let ns = self.ns_name(short);
        let child = Command::new("ip")
            .args(["netns", "exec", &ns])
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {args:?} in {ns}"))?;
        self.children.push(child);
        Ok(self.children.len() - 1)
    }

    /// Start this workspace's `lvsd` in namespace `short` with its control socket at
    /// `socket` and `extra` arguments (e.g. `--no-dataplane`), and wait (up to 20 s) until
    /// the socket accepts connections. Returns its index for [`Lab::kill`].
    pub fn spawn_lvsd(
        &mut self,
        short: &str,
        socket: &std::path::Path,
        extra: &[&str],
    ) -> anyhow::Result<usize> {
        let lvsd = bin_path("lvsd")?;
        let sock = socket.to_str().context("socket path")?;
        let mut args = vec![lvsd.to_str().context("lvsd path")?, "--socket", sock];
        args.extend_from_slice(extra);
        let idx = self.spawn(short, &args)?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            if std::time::Instant::now() > deadline {
                bail!("lvsd did not come up on {sock}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(idx)
    }

    /// Send SIGTERM to a spawned process and wait for it.
    pub fn terminate(&mut self, idx: usize) -> anyhow::Result<std::process::ExitStatus> {
        let c = &mut self.children[idx];
        run(&["kill", "-TERM", &c.id().to_string()])?;
        Ok(c.wait()?)
    }

    /// Kill a spawned process.
    pub fn kill(&mut self, idx: usize) {
        let c = &mut self.children[idx];
        let _ = c.kill();
        let _ = c.wait();
    }

    /// A veth pair: `a_if` in namespace `a`, `b_if` in namespace `b`, both up, with
    /// transmit checksum offload left as the kernel sets it.
    pub fn veth(&self, a: &str, a_if: &str, b: &str, b_if: &str) -> anyhow::Result<()> {
        let tmp_a = format!("t{}a", SEQ.fetch_add(1, Ordering::Relaxed));
        let tmp_b = format!("{tmp_a}b");
        run(&[
            "ip", "link", "add", &tmp_a, "type", "veth", "peer", "name", &tmp_b,
        ])?;
        run(&[
            "ip",
            "link",
            "set",
            &tmp_a,
            "netns",
            &self.ns_name(a),
            "name",
            a_if,
        ])?;
        run(&[
            "ip",
            "link",
            "set",
            &tmp_b,
            "netns",
            &self.ns_name(b),
            "name",
            b_if,
        ])?;
        self.exec(a, &["ip", "link", "set", a_if, "up"])?;
        self.exec(b, &["ip", "link", "set", b_if, "up"])?;
        Ok(())
    }

    /// A bridge `br` in namespace `ns`, up.
    pub fn bridge(&self, ns: &str, br: &str) -> anyhow::Result<()> {
        self.exec(ns, &["ip", "link", "add", br, "type", "bridge"])?;
        self.exec(ns, &["ip", "link", "set", br, "up"])?;
        Ok(())
    }

    /// Enslave `ifname` to bridge `br` in namespace `ns`.
    pub fn enslave(&self, ns: &str, ifname: &str, br: &str) -> anyhow::Result<()> {
        self.exec(ns, &["ip", "link", "set", ifname, "master", br])?;
        Ok(())
    }

    /// Add `cidr` to `ifname` in namespace `ns` (IPv6 addresses without DAD).
    pub fn addr(&self, ns: &str, ifname: &str, cidr: &str) -> anyhow::Result<()> {
        if cidr.contains(':') {
            self.exec(ns, &["ip", "addr", "add", cidr, "dev", ifname, "nodad"])?;
        } else {
            self.exec(ns, &["ip", "addr", "add", cidr, "dev", ifname])?;
        }
        Ok(())
    }

    /// Add a route in namespace `ns`, e.g. `["default", "via", "10.1.0.1"]`.
    pub fn route(&self, ns: &str, spec: &[&str]) -> anyhow::Result<()> {
        let v6 = spec.iter().any(|s| s.contains(':'));
        let mut args = vec!["ip"];
        if v6 {
            args.push("-6");
        }
        args.extend_from_slice(&["route", "add"]);
        args.extend_from_slice(spec);
        self.exec(ns, &args)?;
        Ok(())
    }

    /// Set a sysctl in namespace `ns`.
    pub fn sysctl(&self, ns: &str, key: &str, value: &str) -> anyhow::Result<()> {
        self.exec(ns, &["sysctl", "-qw", &format!("{key}={value}")])?;
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.namespaces.iter().rev() {
            // Kill anything still running in it, then delete it.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Path of a binary of this workspace built next to the running test
/// (`target/<profile>/NAME`); `make test` builds every binary first.
pub fn bin_path(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .context("test binary directory")?;
    let p = dir.join(name);
    if !p.exists() {
        bail!(
            "{} not found: build the workspace binaries first (cargo build --workspace --bins)",
            p.display()
        );
    }
    Ok(p)
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
