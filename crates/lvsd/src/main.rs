//! `lvsd`: the lvs-rs director daemon.
//!
//! Runs in the foreground in its network namespace, owns the IPVS model (`lvs-core`) and
//! serves the control API (`lvs-api`) on a Unix socket. `SIGTERM`/`SIGINT` stop it cleanly
//! (programs detached). If it is killed, its programs stay attached and keep forwarding the
//! flows they know until the next lvsd replaces them (`lvs_dataplane::persist`).

mod api;
mod config;
mod convert;
mod dataplane;
mod listen;
mod metrics;
#[cfg(test)]
mod openapi_check;
mod state;
mod sync;
mod xsk;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::state::{Daemon, Shared};

const USAGE: &str = "\
Usage: lvsd [--socket PATH] [--interface IF]... [--listen ADDR:PORT --token-file PATH]

  --socket PATH       control socket (default /run/lvsd.sock, or $LVSD_SOCKET), mode 0600,
                      no authentication
  --interface IF      interface to serve (repeatable; default: every up non-loopback one)
  --listen ADDR:PORT  also serve the API and /metrics on TCP (IPv6 as [ADDR]:PORT); every
                      request must carry `Authorization: Bearer TOKEN`
  --token-file PATH   the token for --listen (first line; the file must be mode 0600)
  --no-dataplane      control API and model only, no XDP (for tests without privileges)
  --slow-new-flows    schedule every new connection in the slow path (by default XDP
                      creates those of rr/wrr services without persistence itself)
  -h, --help          this text
";

/// Command-line options.
#[derive(Debug, Default)]
struct Options {
    socket: Option<PathBuf>,
    interfaces: Vec<String>,
    no_dataplane: bool,
    slow_new_flows: bool,
    listen: Option<SocketAddr>,
    token_file: Option<PathBuf>,
}

fn parse_args(args: &[String]) -> anyhow::Result<Option<Options>> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| -> anyhow::Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value")),
            }
        };
        match flag {
            "--socket" => o.socket = Some(PathBuf::from(value("--socket")?)),
            "--interface" | "-i" => o.interfaces.push(value("--interface")?),
            "--no-dataplane" => o.no_dataplane = true,
            "--slow-new-flows" => o.slow_new_flows = true,
            "--listen" => {
                let v = value("--listen")?;
                o.listen = Some(
                    v.parse()
                        .with_context(|| format!("--listen {v:?}: not ADDR:PORT"))?,
                );
            }
            "--token-file" => o.token_file = Some(PathBuf::from(value("--token-file")?)),
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    match (&o.listen, &o.token_file) {
        (Some(_), None) => {
            bail!("--listen needs --token-file (the TCP API requires a bearer token)")
        }
        (None, Some(_)) => bail!("--token-file without --listen"),
        _ => {}
    }
    Ok(Some(o))
}

fn main() -> anyhow::Result<()> {
    // Lossy, so that a non-UTF-8 argument is an error message, not a panic.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some(opts) = parse_args(&args)? else {
        print!("{USAGE}");
        return Ok(());
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let socket =
        lvs_api::client::Client::socket_path(opts.socket.as_ref().and_then(|p| p.to_str()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(socket, opts))
}

async fn run(socket: PathBuf, opts: Options) -> anyhow::Result<()> {
    let tcp = match (opts.listen, &opts.token_file) {
        (Some(addr), Some(path)) => Some(listen::TcpOptions {
            addr,
            token: listen::load_token(path)?,
        }),
        _ => None,
    };
    let shared = Shared::new(Daemon::new());
    let stop = Arc::new(AtomicBool::new(false));
    // The slow path runs the model's timers itself; without a data plane a task does.
    let slow_path = if opts.no_dataplane {
        None
    } else {
        Some(dataplane::spawn(
            &opts.interfaces,
            !opts.slow_new_flows,
            shared.clone(),
            stop.clone(),
        )?)
    };
    let slow_path_running = slow_path.is_some();
    let timer_state = shared.clone();
    let timers = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            if slow_path_running {
                continue;
            }
            let mut d = timer_state.lock();
            let now = d.now();
            d.ipvs.poll(now);
        }
    });
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down");
    };
    let result = api::serve(&socket, tcp, shared, shutdown).await;
    timers.abort();
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = slow_path {
        // The thread detaches XDP on its way out.
        let _ = t.join();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = parse_args(&args(&[
            "--socket",
            "/tmp/x.sock",
            "--interface",
            "eth0",
            "--interface=eth1",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.socket, Some(PathBuf::from("/tmp/x.sock")));
        assert_eq!(o.interfaces, ["eth0", "eth1"]);
        assert!(parse_args(&args(&["-h"])).unwrap().is_none());
        assert!(parse_args(&args(&["--bogus"])).is_err());
        assert!(parse_args(&args(&["--socket"])).is_err());
        let o = parse_args(&args(&["--listen", "[::1]:9100", "--token-file=/etc/t"]))
            .unwrap()
            .unwrap();
        assert_eq!(o.listen, Some("[::1]:9100".parse().unwrap()));
        assert_eq!(o.token_file, Some(PathBuf::from("/etc/t")));
        assert!(parse_args(&args(&["--listen", "127.0.0.1:9100"])).is_err());
        assert!(parse_args(&args(&["--token-file", "/etc/t"])).is_err());
        assert!(parse_args(&args(&["--listen", "localhost", "--token-file", "/t"])).is_err());
    }
}
