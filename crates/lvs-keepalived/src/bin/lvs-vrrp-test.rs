//! lvs-vrrp-test: runs one VRRP instance from command-line flags (no keepalived.conf), for
//! interop tests and experiments. SIGTERM / SIGINT stop it the way keepalived stops
//! (a master resigns with priority 0 and removes its VIPs).
//!
//! ```text
//! lvs-vrrp-test --interface IF --vrid N --vip ADDR[/LEN] [--vip ...] [--priority N]
//!   [--advert-int SECS] [--version 2|3] [--state MASTER|BACKUP] [--nopreempt]
//!   [--preempt-delay SECS] [--auth-pass PASS] [--unicast-src IP] [--unicast-peer IP ...]
//!   [--notify CMD] [--notify-master CMD] [--notify-backup CMD] [--notify-fault CMD]
//!   [--notify-stop CMD] [--garp-delay SECS] [--garp-repeat N] [--name NAME]
//!   [--script NAME=CMD ...] [--script-interval SECS] [--track-script NAME[:WEIGHT] ...]
//!   [--track-interface IF[:WEIGHT] ...]
//! ```
//! A CMD is split at white space into a program and its arguments.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use lvs_keepalived::vrrp::instance::InitialState;
use lvs_keepalived::vrrp::{
    InstanceConfig, ScriptConfig, Track, TrackKind, Version, Vip, VrrpConfig, run_vrrp,
};

fn secs(s: &str) -> anyhow::Result<Duration> {
    let v: f64 = s
        .parse()
        .with_context(|| format!("bad number of seconds {s:?}"))?;
    if !(0.0..=100_000.0).contains(&v) {
        bail!("seconds out of range: {s}");
    }
    Ok(Duration::from_micros((v * 1e6).round() as u64))
}

fn vip(s: &str) -> anyhow::Result<Vip> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().with_context(|| format!("bad address {a:?}"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix_len = match len {
        Some(l) => l
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .with_context(|| format!("bad prefix {l:?}"))?,
        None => max,
    };
    Ok(Vip {
        addr,
        prefix_len,
        dev: None,
        label: None,
    })
}

fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn track(kind: TrackKind, s: &str) -> anyhow::Result<Track> {
    let (name, weight) = match s.split_once(':') {
        Some((n, w)) => (n, w.parse().with_context(|| format!("bad weight {w:?}"))?),
        None => (s, 0),
    };
    if !(-253..=253).contains(&weight) {
        bail!("weight {weight} out of -253..253");
    }
    Ok(Track {
        kind,
        name: name.to_string(),
        weight,
        reverse: false,
    })
}

fn parse(args: &[String]) -> anyhow::Result<VrrpConfig> {
    let mut it = args.iter();
    let mut scripts: Vec<ScriptConfig> = Vec::new();
    let mut script_interval = Duration::from_secs(1);
    let mut c = InstanceConfig::new("VI_1", "", 0, Vec::new());
    let mut version = None;
    let mut advert_int = Duration::from_secs(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--name" => c.name = val()?.clone(),
            "--interface" => c.interface = val()?.clone(),
            "--vrid" => c.vrid = val()?.parse().context("--vrid 1..255")?,
            "--priority" => c.priority = val()?.parse().context("--priority 1..255")?,
            "--advert-int" => advert_int = secs(val()?)?,
            "--version" => {
                version = Some(match val()?.as_str() {
                    "2" => Version::V2,
                    "3" => Version::V3,
                    v => bail!("--version 2|3, not {v}"),
                })
            }
            "--state" => {
                c.initial_state = match val()?.as_str() {
                    "MASTER" => InitialState::Master,
                    "BACKUP" => InitialState::Backup,
                    v => bail!("--state MASTER|BACKUP, not {v}"),
                }
            }
            "--nopreempt" => c.nopreempt = true,
            "--preempt-delay" => c.preempt_delay = secs(val()?)?,
            "--auth-pass" => {
                let p = val()?.as_bytes();
                let mut pw = [0u8; 8];
                let n = p.len().min(8);
                pw[..n].copy_from_slice(&p[..n]);
                c.auth_pass = Some(pw);
            }
            "--vip" => c.vips.push(vip(val()?)?),
            "--unicast-src" => c.unicast_src = Some(val()?.parse().context("--unicast-src")?),
            "--unicast-peer" => c
                .unicast_peers
                .push(val()?.parse().context("--unicast-peer")?),
            "--notify" => c.notify.generic = Some(argv(val()?)),
            "--notify-master" => c.notify.master = Some(argv(val()?)),
            "--notify-backup" => c.notify.backup = Some(argv(val()?)),
            "--notify-fault" => c.notify.fault = Some(argv(val()?)),
            "--notify-stop" => c.notify.stop = Some(argv(val()?)),
            "--garp-delay" => c.garp_master_delay = secs(val()?)?,
            "--garp-repeat" => c.garp_master_repeat = val()?.parse().context("--garp-repeat")?,
            "--script" => {
                let v = val()?;
                let (name, cmd) = v.split_once('=').context("--script NAME=CMD")?;
                scripts.push(ScriptConfig::new(name, argv(cmd)));
            }
            "--script-interval" => script_interval = secs(val()?)?,
            "--track-script" => c.tracks.push(track(TrackKind::Script, val()?)?),
            "--track-interface" => c.tracks.push(track(TrackKind::Interface, val()?)?),
            "-h" | "--help" => {
                println!("see the module documentation of lvs-vrrp-test");
                std::process::exit(0);
            }
            f => bail!("unknown flag {f}"),
        }
    }
    if c.interface.is_empty() {
        bail!("--interface is required");
    }
    if let Some(v) = c.vips.first() {
        c.family = lvs_keepalived::vrrp::Family::of(v.addr);
    }
    c.version = version.unwrap_or(if c.family == lvs_keepalived::vrrp::Family::Inet6 {
        Version::V3
    } else {
        Version::V2
    });
    let cs = (advert_int.as_millis() / 10) as u16;
    c.advert_int_cs = match c.version {
        // keepalived rounds v2 intervals to whole seconds.
        Version::V2 => ((cs + 50) / 100).max(1) * 100,
        Version::V3 => cs.max(1),
    };
    if c.version == Version::V3 {
        c.auth_pass = None;
    }
    c.validate()?;
    for s in &mut scripts {
        s.interval = script_interval.max(Duration::from_millis(10));
    }
    Ok(VrrpConfig {
        instances: vec![c],
        scripts,
        groups: Vec::new(),
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = parse(&args)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        run_vrrp(cfg, shutdown).await?;
        Ok(())
    })
}
