//! The driver: timers per checker, probes as tasks, results into the core, events out.
//!
//! [`run_checkers`] is the checker process's main loop. [`CheckerHandle`] tells it that
//! virtual addresses came or went (`ha_suspend`) and stops it. [`LvsdSink`] applies the
//! events to lvsd through its control socket and runs the notify scripts.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use lvs_api::client::{Client, ClientError};
use lvs_api::{DestDelete, DestRequest, ErrorKind};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::probe::{TrackFileValue, address_is_local, probe, read_track_file, spawn_script};
use super::state::{CheckerId, Checks, Event, Op, Outcome};

/// Messages to a running [`run_checkers`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// This address was added here (a VRRP instance became master).
    AddressAdded(IpAddr),
    /// This address was removed.
    AddressRemoved(IpAddr),
    /// Stop: remove the real servers from lvsd when `remove_dests` (see
    /// [`Checks::shutdown`]), emit the last events, return.
    Shutdown {
        /// Take this process's real servers out of lvsd.
        remove_dests: bool,
    },
}

/// The sending side of a running [`run_checkers`].
#[derive(Clone, Debug)]
pub struct CheckerHandle {
    tx: mpsc::UnboundedSender<Control>,
}

impl CheckerHandle {
    /// A handle and the receiver to give to [`run_checkers`].
    pub fn new() -> (CheckerHandle, mpsc::UnboundedReceiver<Control>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (CheckerHandle { tx }, rx)
    }

    /// An address was added here: resume the `ha_suspend` checkers of its services.
    pub fn address_added(&self, addr: IpAddr) {
        let _ = self.tx.send(Control::AddressAdded(addr));
    }

    /// An address was removed: suspend the `ha_suspend` checkers of its services.
    pub fn address_removed(&self, addr: IpAddr) {
        let _ = self.tx.send(Control::AddressRemoved(addr));
    }

    /// Stop the checkers.
    pub fn shutdown(&self, remove_dests: bool) {
        let _ = self.tx.send(Control::Shutdown { remove_dests });
    }
}

/// A small xorshift generator for the warmup spread (keepalived uses `random()`).
fn jitter_source() -> impl FnMut(Duration) -> Duration {
    let mut x = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ (u64::from(std::process::id()) << 32)
        | 1;
    move |max: Duration| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let frac = (x >> 11) as f64 / (1u64 << 53) as f64;
        max.mul_f64(frac)
    }
}

/// Run the checkers until [`Control::Shutdown`] (or until every [`CheckerHandle`] is
/// dropped, which counts as a shutdown that removes the real servers).
///
/// Start-up: the configuration warnings are emitted, the addresses of `ha_suspend`
/// services are looked up on this host (a bind test), then [`Checks::start`] puts the
/// real servers in. Each due checker's probe runs as its own task; `emit` receives every
/// event in order and must not block (hand them to a [`LvsdSink`] or a channel).
pub async fn run_checkers(
    mut checks: Checks,
    mut emit: impl FnMut(Event) + Send,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    for w in checks.warnings().to_vec() {
        emit(Event::Log(w));
    }
    // Each address once (several virtual servers, or a group's entries, may share it).
    let mut seen = std::collections::HashSet::new();
    let mut addrs: Vec<IpAddr> = Vec::new();
    for v in 0..checks.len() {
        for a in checks.ha_suspend_addrs(v) {
            if seen.insert(a) {
                addrs.push(a);
            }
        }
    }
    for a in addrs {
        if address_is_local(a) {
            checks.set_address(a, true).into_iter().for_each(&mut emit);
        }
    }
    let (file_tx, mut file_rx) = mpsc::unbounded_channel();
    let watcher = prepare_track_files(&mut checks, &mut emit, file_tx);
    let mut jitter = jitter_source();
    checks
        .start(Instant::now(), &mut jitter)
        .into_iter()
        .for_each(&mut emit);
    let mut probes: JoinSet<(CheckerId, Outcome)> = JoinSet::new();
    // Dropping the watcher task's handle does not stop it: abort it on every exit.
    struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            if let Some(h) = self.0.take() {
                h.abort();
            }
        }
    }
    let _watcher = AbortOnDrop(watcher);
    loop {
        for d in checks.due(Instant::now()) {
            let conf = checks.conf(d.id).clone();
            probes.spawn(async move { (d.id, probe(&conf, d.url).await) });
        }
        let sleep = match checks.next_deadline() {
            Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)),
            None => tokio::time::sleep(Duration::from_secs(3600)),
        };
        tokio::select! {
            _ = sleep => {}
            Some(res) = probes.join_next(), if !probes.is_empty() => {
                if let Ok((id, outcome)) = res {
                    checks.report(Instant::now(), id, outcome).into_iter().for_each(&mut emit);
                }
            }
            Some((file, value)) = file_rx.recv() => match value {
                TrackFileValue::Value(v) => {
                    checks.file_changed(file, v).into_iter().for_each(&mut emit);
                }
                TrackFileValue::Invalid(n) => emit(Event::Log(format!(
                    "Invalid number {n} read from {} - ignoring",
                    checks.track_files()[file].path.display()
                ))),
            },
            msg = control.recv() => match msg {
                Some(Control::AddressAdded(a)) => {
                    checks.set_address(a, true).into_iter().for_each(&mut emit);
                }
                Some(Control::AddressRemoved(a)) => {
                    checks.set_address(a, false).into_iter().for_each(&mut emit);
                }
                Some(Control::Shutdown { remove_dests }) => {
                    probes.abort_all();
                    checks.shutdown(remove_dests).into_iter().for_each(&mut emit);
                    return;
                }
                None => {
                    probes.abort_all();
                    checks.shutdown(true).into_iter().for_each(&mut emit);
                    return;
                }
            },
        }
    }
}

/// keepalived's `track_file_end_handler` (`init_file`) and `init_track_files` for the files
/// the FILE_CHECKs track: write the init value, resolve the path, read the value now,
/// and watch the directory with inotify (`IN_CLOSE_WRITE`, `IN_DELETE`, `IN_MOVE`). The
/// watcher task sends `(file, value)`: the new content after a write or a move in, 0 after
/// a delete or a move away.
fn prepare_track_files(
    checks: &mut Checks,
    emit: &mut (impl FnMut(Event) + Send),
    tx: mpsc::UnboundedSender<(usize, TrackFileValue)>,
) -> Option<tokio::task::JoinHandle<()>> {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    use std::path::PathBuf;
    let files = checks.track_files().to_vec();
    if files.is_empty() {
        return None;
    }
    // (file index, directory, file name)
    let mut watched: Vec<(usize, PathBuf, std::ffi::OsString)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if let Some((value, overwrite)) = f.init {
            let meta = std::fs::metadata(&f.path);
            let write = match &meta {
                Err(_) => true,
                Ok(_) if !overwrite => false,
                Ok(m) if !m.is_file() => {
                    emit(Event::Log(format!(
                        "Cannot initialise track file {} - it is not a regular file",
                        f.name
                    )));
                    false
                }
                Ok(_) => true,
            };
            if write && std::fs::write(&f.path, format!("{value}\n")).is_err() {
                emit(Event::Log(format!(
                    "Unable to initialise track file {}",
                    f.name
                )));
            }
        }
        let (resolved, exists) = match std::fs::canonicalize(&f.path) {
            Ok(p) => (Some(p), true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = match f.path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let resolved = std::fs::canonicalize(&dir)
                    .ok()
                    .filter(|d| d.is_dir())
                    .and_then(|d| f.path.file_name().map(|n| d.join(n)));
                if resolved.is_none() {
                    emit(Event::Log(format!(
                        "Track file directory for {} does not exist - removing",
                        f.name
                    )));
                }
                (resolved, false)
            }
            Err(_) => {
                emit(Event::Log(format!(
                    "track file {} is not accessible - ignoring",
                    f.name
                )));
                (None, false)
            }
        };
        let Some((dir, name)) = resolved
            .as_ref()
            .and_then(|p| Some((p.parent()?.to_path_buf(), p.file_name()?.to_os_string())))
        else {
            checks.remove_track_file(i);
            continue;
        };
        if exists {
            match read_track_file(resolved.as_deref().unwrap_or(&f.path)) {
                TrackFileValue::Value(v) => checks.set_file_initial(i, v),
                TrackFileValue::Invalid(n) => emit(Event::Log(format!(
                    "Invalid number {n} read from {} - ignoring",
                    f.path.display()
                ))),
            }
        }
        watched.push((i, dir, name));
    }
    if watched.is_empty() {
        return None;
    }
    let ino = match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
        Ok(i) => i,
        Err(_) => {
            emit(Event::Log("Unable to monitor track files".into()));
            return None;
        }
    };
    let mut wds = Vec::new();
    for (i, dir, name) in &watched {
        let flags =
            AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVE;
        match ino.add_watch(dir.as_path(), flags) {
            Ok(wd) => wds.push((wd, name.clone(), *i, dir.join(name))),
            Err(e) => emit(Event::Log(format!(
                "Unable to monitor track file {}: {e}",
                files[*i].name
            ))),
        }
    }
    struct Fd(Inotify);
    impl std::os::fd::AsRawFd for Fd {
        fn as_raw_fd(&self) -> std::os::fd::RawFd {
            use std::os::fd::AsFd;
            self.0.as_fd().as_raw_fd()
        }
    }
    // `AsyncFd::new` is deprecated for the I/O-safety contract it cannot check; it holds
    // here: `Fd` owns the inotify descriptor, which stays open and the same until the
    // AsyncFd (its only owner) is dropped.
    #[allow(deprecated)]
    let afd = match tokio::io::unix::AsyncFd::new(Fd(ino)) {
        Ok(a) => a,
        Err(_) => {
            emit(Event::Log("Unable to monitor track files".into()));
            return None;
        }
    };
    Some(tokio::spawn(async move {
        loop {
            let Ok(mut guard) = afd.readable().await else {
                return;
            };
            let events = match guard.get_inner().0.read_events() {
                Ok(ev) => ev,
                Err(nix::errno::Errno::EAGAIN) => {
                    guard.clear_ready();
                    continue;
                }
                Err(_) => return,
            };
            for ev in events {
                if ev.mask.contains(AddWatchFlags::IN_ISDIR) {
                    continue;
                }
                for (wd, name, i, path) in &wds {
                    if *wd != ev.wd || ev.name.as_ref() != Some(name) {
                        continue;
                    }
                    let value = if ev
                        .mask
                        .intersects(AddWatchFlags::IN_MOVED_FROM | AddWatchFlags::IN_DELETE)
                    {
                        TrackFileValue::Value(0)
                    } else {
                        read_track_file(path)
                    };
                    if tx.send((*i, value)).is_err() {
                        return;
                    }
                }
            }
        }
    }))
}

/// Applies events to lvsd through its control socket, in order, on a thread of its own
/// (the client is blocking), runs the notify scripts and passes log lines to a logger.
///
/// Deliberate leniency: an `AddDest` that lvsd refuses because the real server is
/// already there (e.g. put there by a configuration apply) is sent again as an
/// `EditDest`, and a `DelDest` of an absent real server is only logged.
#[derive(Debug)]
pub struct LvsdSink {
    tx: std::sync::mpsc::Sender<Event>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LvsdSink {
    /// Start the sink's thread. `log` gets every log line (the checkers' and the sink's
    /// own errors).
    pub fn spawn(client: Client, log: impl Fn(&str) + Send + 'static) -> LvsdSink {
        let (tx, rx) = std::sync::mpsc::channel::<Event>();
        let thread = std::thread::Builder::new()
            .name("lvsd-sink".into())
            .spawn(move || {
                for ev in rx {
                    match ev {
                        Event::Log(l) => log(&l),
                        Event::Op(op) => apply(&client, &op, &log),
                    }
                }
            })
            .expect("spawning the lvsd sink thread");
        LvsdSink {
            tx,
            thread: Some(thread),
        }
    }

    /// The function to give [`run_checkers`] as `emit`.
    pub fn emitter(&self) -> impl FnMut(Event) + Send + 'static {
        let tx = self.tx.clone();
        move |ev| {
            let _ = tx.send(ev);
        }
    }

    /// Wait until every event sent so far is applied (after [`run_checkers`] returned and
    /// every emitter is dropped).
    pub fn finish(mut self) {
        let (tx, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn apply(client: &Client, op: &Op, log: &dyn Fn(&str)) {
    let res = match op {
        Op::AddDest { service, dest } => {
            let req = DestRequest {
                service: *service,
                dest: *dest,
            };
            match client.add_dest(&req) {
                Err(ClientError::Api(e)) if e.kind == ErrorKind::DestExists => {
                    client.edit_dest(&req)
                }
                r => r,
            }
        }
        Op::EditDest { service, dest } => client.edit_dest(&DestRequest {
            service: *service,
            dest: *dest,
        }),
        Op::DelDest {
            service,
            addr,
            port,
        } => match client.del_dest(&DestDelete {
            service: *service,
            addr: *addr,
            port: *port,
        }) {
            Err(ClientError::Api(e)) if e.kind == ErrorKind::NoSuchDest => {
                log(&format!("lvsd: {op:?}: {e} (already gone)"));
                Ok(())
            }
            r => r,
        },
        Op::RunScript { script, .. } => {
            if let Err(e) = spawn_script(script) {
                log(&format!("Failed to exec {}: {e}", script.program()));
            }
            Ok(())
        }
    };
    if let Err(e) = res {
        log(&format!("lvsd: {op:?} failed: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::spec::{CheckerKind, CheckerSpec, RealServerSpec, VirtualServerSpec};

    /// The driver on loopback: a TCP server goes away and comes back on the same port.
    #[tokio::test(flavor = "current_thread")]
    async fn run_checkers_follows_a_loopback_server() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let key = lvs_api::ServiceKey::Addr {
            protocol: lvs_api::Protocol::Tcp,
            addr: addr.ip(),
            port: 1,
        };
        let mut vs = VirtualServerSpec::new(key);
        vs.delay_loop = Some(Duration::from_millis(200));
        vs.delay_before_retry = Some(Duration::from_millis(100));
        vs.connect_timeout = Some(Duration::from_millis(500));
        vs.warmup = Some(Duration::ZERO);
        let mut rs = RealServerSpec::new(addr.ip(), addr.port());
        rs.checkers.push(CheckerSpec::new(CheckerKind::Tcp));
        vs.real_servers.push(rs);
        let (handle, ctl) = CheckerHandle::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let run = tokio::spawn(run_checkers(
            Checks::new(vec![vs]).unwrap(),
            move |e| {
                let _ = tx.send(e);
            },
            ctl,
        ));
        let mut next_op = async || loop {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(Event::Op(o))) => return o,
                Ok(Some(Event::Log(_))) => continue,
                other => panic!("no op: {other:?}"),
            }
        };
        assert!(matches!(next_op().await, Op::AddDest { .. }));
        // Let the first check (1 s bootstrap delay) pass, then close the server.
        tokio::time::sleep(Duration::from_millis(1300)).await;
        drop(l);
        assert!(matches!(next_op().await, Op::DelDest { .. }));
        let _l = tokio::net::TcpListener::bind(addr).await.unwrap();
        assert!(matches!(next_op().await, Op::AddDest { .. }));
        handle.shutdown(true);
        run.await.unwrap();
        assert!(matches!(next_op().await, Op::DelDest { .. }));
    }
}
