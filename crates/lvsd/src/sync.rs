//! The sync daemons (`ip_vs_sync.c`'s threads): a master thread that multicasts the
//! connections the model reports (`Ipvs::drain_sync`) in the kernel's message format, and
//! a backup thread that receives messages and applies them to the model
//! (`SyncReceiver`). The data path installs the flow entries of what a backup created
//! (`Ipvs::drain_synced`, in `dataplane.rs`). Both roles may run at once, as in IPVS.
//!
//! Sockets as the kernel makes them: the master's UDP socket is bound to the interface
//! (and its first IPv4 address), multicast loop off, TTL as configured, fragmentation
//! allowed, connected to group:port; the backup's is bound to group:port on the
//! interface and joins the group there. Messages go out when full or 2 s after their first
//! entry (`IPVS_SYNC_FLUSH_TIME`), checked every 20 ms.
//!
//! API handlers for `/v1/sync/daemons` are here too (routes in `api.rs`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lvs_api as api;
use lvs_core::sync::{self, Role, SyncReceiver, SyncSender, wire};
use socket2::{Domain, InterfaceIndexOrAddress, Socket, Type};

use crate::state::Shared;

type ApiResult<T> = Result<Json<T>, (StatusCode, Json<api::ApiError>)>;

fn err(
    status: StatusCode,
    kind: api::ErrorKind,
    message: impl Into<String>,
) -> (StatusCode, Json<api::ApiError>) {
    (
        status,
        Json(api::ApiError {
            kind,
            message: message.into(),
        }),
    )
}

/// The message of an OS error as `strerror` words it (what ipvsadm prints).
fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// How often the master looks for entries to send.
const MASTER_TICK: Duration = Duration::from_millis(20);
/// How long the backup waits for a datagram before checking whether to stop.
const BACKUP_POLL: Duration = Duration::from_millis(200);

/// One running daemon.
#[derive(Debug)]
struct Running {
    info: api::SyncDaemonInfo,
    counters: Arc<Mutex<api::SyncCounters>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    fn info(&self) -> api::SyncDaemonInfo {
        let mut i = self.info.clone();
        i.counters = *self.counters.lock().unwrap_or_else(|e| e.into_inner());
        i
    }

    /// Stop the thread and wait for it (call without holding the daemon lock).
    fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The sync daemons of this director (at most one per role).
#[derive(Debug, Default)]
pub struct SyncDaemons {
    master: Option<Running>,
    backup: Option<Running>,
}

impl SyncDaemons {
    /// The running daemons, master first (`-L --daemon`).
    pub fn list(&self) -> Vec<api::SyncDaemonInfo> {
        [&self.master, &self.backup]
            .into_iter()
            .flatten()
            .map(Running::info)
            .collect()
    }

    fn slot(&mut self, role: api::SyncRole) -> &mut Option<Running> {
        match role {
            api::SyncRole::Master => &mut self.master,
            api::SyncRole::Backup => &mut self.backup,
        }
    }
}

/// Read an interface attribute from sysfs.
fn sysfs(ifname: &str, attr: &str) -> Option<String> {
    if ifname.is_empty() || ifname.contains('/') || ifname == "." || ifname == ".." {
        return None;
    }
    std::fs::read_to_string(format!("/sys/class/net/{ifname}/{attr}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The first IPv4 address of `ifname` (the kernel's `inet_select_addr`, roughly).
fn iface_ipv4(ifname: &str) -> Option<Ipv4Addr> {
    let out = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", ifname])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    let i = f.iter().position(|x| *x == "inet")?;
    f.get(i + 1)?.split('/').next()?.parse().ok()
}

/// Let the kernel fragment datagrams larger than the path MTU (`IP_PMTUDISC_DONT`), as
/// the kernel's sync socket does: a `--sync-maxlen` above the MTU still works.
#[allow(unsafe_code)]
fn allow_fragments(sock: &Socket, v6: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (level, name, value) = if v6 {
        (
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_DONT,
        )
    } else {
        (
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_DONT,
        )
    };
    let value: libc::c_int = value;
    // SAFETY: the descriptor is valid for the socket's lifetime, and `value` is a live
    // c_int whose size is passed along.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Effective settings of a daemon about to start.
#[derive(Clone, Debug)]
struct Settings {
    role: Role,
    ifname: String,
    ifindex: u32,
    syncid: u8,
    maxlen: u32,
    group: IpAddr,
    port: u16,
    ttl: u8,
}

fn group_sockaddr(s: &Settings) -> SocketAddr {
    match s.group {
        IpAddr::V4(g) => SocketAddr::V4(SocketAddrV4::new(g, s.port)),
        IpAddr::V6(g) => SocketAddr::V6(SocketAddrV6::new(g, s.port, 0, s.ifindex)),
    }
}

/// `make_send_sock`.
fn master_socket(s: &Settings) -> std::io::Result<Socket> {
    let v6 = s.group.is_ipv6();
    let sock = Socket::new(
        if v6 { Domain::IPV6 } else { Domain::IPV4 },
        Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    sock.bind_device(Some(s.ifname.as_bytes()))?;
    if v6 {
        sock.set_multicast_if_v6(s.ifindex)?;
        sock.set_multicast_loop_v6(false)?;
        sock.set_multicast_hops_v6(u32::from(s.ttl))?;
    } else {
        let src = iface_ipv4(&s.ifname).unwrap_or(Ipv4Addr::UNSPECIFIED);
        sock.set_multicast_if_v4(&src)?;
        sock.set_multicast_loop_v4(false)?;
        sock.set_multicast_ttl_v4(u32::from(s.ttl))?;
        sock.bind(&SocketAddr::V4(SocketAddrV4::new(src, 0)).into())?;
    }
    allow_fragments(&sock, v6)?;
    sock.connect(&group_sockaddr(s).into())?;
    Ok(sock)
}

/// `make_receive_sock`.
fn backup_socket(s: &Settings) -> std::io::Result<Socket> {
    let v6 = s.group.is_ipv6();
    let sock = Socket::new(
        if v6 { Domain::IPV6 } else { Domain::IPV4 },
        Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    sock.set_reuse_address(true)?;
    sock.bind_device(Some(s.ifname.as_bytes()))?;
    if v6 {
        sock.set_only_v6(true)?;
    }
    sock.bind(&group_sockaddr(s).into())?;
    match s.group {
        IpAddr::V4(g) => {
            sock.join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(s.ifindex))?
        }
        IpAddr::V6(g) => sock.join_multicast_v6(&g, s.ifindex)?,
    }
    sock.set_read_timeout(Some(BACKUP_POLL))?;
    Ok(sock)
}

fn master_loop(
    shared: Shared,
    sock: Socket,
    s: Settings,
    stop: Arc<AtomicBool>,
    counters: Arc<Mutex<api::SyncCounters>>,
) {
    tracing::info!(interface = %s.ifname, syncid = s.syncid, group = %s.group, port = s.port,
        maxlen = s.maxlen, "sync thread started: state = MASTER");
    let mut sender = SyncSender::new(s.syncid, s.maxlen as usize);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(MASTER_TICK);
        let (entries, now, version) = {
            let mut d = shared.lock();
            (d.ipvs.drain_sync(), d.now(), d.ipvs.sync_params().version)
        };
        for e in &entries {
            sender.push(e, version, now);
        }
        let mut sent = (0u64, 0u64, 0u64);
        while let Some(m) = sender.pop_ready(now) {
            match sock.send(&m) {
                Ok(_) => {
                    sent.0 += 1;
                    sent.1 += wire::peek_header(&m).map_or(0, |h| u64::from(h.nr_conns));
                }
                Err(e) => {
                    sent.2 += 1;
                    tracing::warn!(error = %e, "sync message not sent");
                }
            }
        }
        let mut c = counters.lock().unwrap_or_else(|e| e.into_inner());
        c.sent_messages += sent.0;
        c.sent_conns += sent.1;
        c.send_errors +=
            sent.2 + std::mem::take(&mut sender.dropped) + std::mem::take(&mut sender.unencodable);
    }
    // As the kernel: what was not sent yet is dropped on stop.
    tracing::info!("sync thread stopped: state = MASTER");
}

fn backup_loop(
    shared: Shared,
    sock: Socket,
    s: Settings,
    stop: Arc<AtomicBool>,
    counters: Arc<Mutex<api::SyncCounters>>,
) {
    tracing::info!(interface = %s.ifname, syncid = s.syncid, group = %s.group, port = s.port,
        maxlen = s.maxlen, "sync thread started: state = BACKUP");
    let udp: std::net::UdpSocket = sock.into();
    let mut rx = SyncReceiver::new(s.syncid);
    let mut buf = vec![0u8; s.maxlen as usize];
    while !stop.load(Ordering::Relaxed) {
        match udp.recv(&mut buf) {
            Ok(n) => {
                let r = {
                    let mut d = shared.lock();
                    let now = d.now();
                    rx.receive(&mut d.ipvs, &buf[..n], now)
                };
                if r.malformed + r.truncated + r.rejected > 0 {
                    tracing::debug!(?r, error = ?rx.last_error, "sync message partly dropped");
                }
                let t = rx.stats;
                let mut c = counters.lock().unwrap_or_else(|e| e.into_inner());
                c.received = t.messages;
                c.malformed = t.malformed;
                c.other_syncid = t.other_syncid;
                c.truncated = t.truncated;
                c.created = t.created;
                c.updated = t.updated;
                c.ignored = t.ignored;
                c.rejected = t.rejected;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                tracing::warn!(error = %e, "receiving sync message");
                std::thread::sleep(BACKUP_POLL);
            }
        }
    }
    tracing::info!("sync thread stopped: state = BACKUP");
}

/// Check and complete a start request (`start_sync_thread`'s defaults and checks).
fn settings(spec: &api::SyncDaemonSpec) -> Result<Settings, (StatusCode, Json<api::ApiError>)> {
    let role = match spec.role {
        api::SyncRole::Master => Role::Master,
        api::SyncRole::Backup => Role::Backup,
    };
    let no_dev = || {
        err(
            StatusCode::NOT_FOUND,
            api::ErrorKind::Internal,
            "No such device",
        )
    };
    if spec.mcast_ifn.len() > 15 {
        return Err(no_dev());
    }
    let ifindex: u32 = sysfs(&spec.mcast_ifn, "ifindex")
        .and_then(|s| s.parse().ok())
        .ok_or_else(no_dev)?;
    let mtu: u32 = sysfs(&spec.mcast_ifn, "mtu")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let group = spec.mcast_group.unwrap_or(IpAddr::V4(sync::DEFAULT_GROUP));
    if !group.is_multicast() {
        return Err(err(
            StatusCode::BAD_REQUEST,
            api::ErrorKind::Invalid,
            "the sync group must be a multicast address",
        ));
    }
    Ok(Settings {
        role,
        ifname: spec.mcast_ifn.clone(),
        ifindex,
        syncid: spec.syncid,
        maxlen: sync::sync_maxlen(role, &group, mtu, u32::from(spec.sync_maxlen)),
        group,
        port: if spec.mcast_port == 0 {
            sync::DEFAULT_PORT
        } else {
            spec.mcast_port
        },
        ttl: if spec.mcast_ttl == 0 {
            sync::DEFAULT_TTL
        } else {
            spec.mcast_ttl
        },
    })
}

/// `GET /v1/sync/daemons`.
pub async fn list(State(s): State<Shared>) -> ApiResult<Vec<api::SyncDaemonInfo>> {
    Ok(Json(s.lock().sync.list()))
}

/// `POST /v1/sync/daemons`.
pub async fn start(
    State(s): State<Shared>,
    Json(spec): Json<api::SyncDaemonSpec>,
) -> ApiResult<()> {
    let st = settings(&spec)?;
    {
        let mut d = s.lock();
        if d.sync.slot(spec.role).is_some() {
            return Err(err(
                StatusCode::CONFLICT,
                api::ErrorKind::ServiceExists,
                "Daemon has already run",
            ));
        }
        // The format has one family per entry: IPVS refuses sync while real servers of
        // another family than their service exist.
        let mixed = d.ipvs.services().any(|svc| {
            d.ipvs
                .dests_of(svc.key())
                .iter()
                .any(|(_, dest)| dest.af != svc.key().af())
        });
        if mixed {
            return Err(err(
                StatusCode::BAD_REQUEST,
                api::ErrorKind::Invalid,
                "sync is not possible while real servers of another family than their service exist",
            ));
        }
        let sock = match st.role {
            Role::Master => master_socket(&st),
            Role::Backup => backup_socket(&st),
        }
        .map_err(|e| {
            err(
                StatusCode::BAD_REQUEST,
                api::ErrorKind::Internal,
                strerror(&e),
            )
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Mutex::new(api::SyncCounters::default()));
        let (shared, stop2, counters2, st2) =
            (s.clone(), stop.clone(), counters.clone(), st.clone());
        let thread = std::thread::Builder::new()
            .name(match st.role {
                Role::Master => "lvsd-sync-m".into(),
                Role::Backup => "lvsd-sync-b".into(),
            })
            .spawn(move || match st2.role {
                Role::Master => master_loop(shared, sock, st2, stop2, counters2),
                Role::Backup => backup_loop(shared, sock, st2, stop2, counters2),
            })
            .map_err(|e| {
                err(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    api::ErrorKind::Internal,
                    strerror(&e),
                )
            })?;
        *d.sync.slot(spec.role) = Some(Running {
            info: api::SyncDaemonInfo {
                role: spec.role,
                mcast_ifn: st.ifname.clone(),
                syncid: st.syncid,
                sync_maxlen: u16::try_from(st.maxlen).unwrap_or(u16::MAX),
                mcast_group: st.group,
                mcast_port: st.port,
                mcast_ttl: st.ttl,
                counters: api::SyncCounters::default(),
            },
            counters,
            stop,
            thread: Some(thread),
        });
        if st.role == Role::Master {
            d.ipvs.set_sync_master(true);
        }
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

/// `DELETE /v1/sync/daemons`.
pub async fn stop(State(s): State<Shared>, Json(r): Json<api::SyncStop>) -> ApiResult<()> {
    let running = {
        let mut d = s.lock();
        let running = d.sync.slot(r.role).take().ok_or_else(|| {
            err(
                StatusCode::NOT_FOUND,
                api::ErrorKind::NoSuchService,
                "No daemon is running",
            )
        })?;
        if r.role == api::SyncRole::Master {
            d.ipvs.set_sync_master(false);
        }
        d.changed();
        running
    };
    // The thread takes the daemon lock: join it without holding it.
    let _ = tokio::task::spawn_blocking(move || running.shutdown()).await;
    s.applied().await;
    Ok(Json(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_drops_the_errno_suffix() {
        let e = std::io::Error::from_raw_os_error(libc::ENODEV);
        assert_eq!(strerror(&e), "No such device");
        let e = std::io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
        assert_eq!(strerror(&e), "Cannot assign requested address");
    }

    #[test]
    fn settings_defaults_and_checks() {
        let spec = |ifn: &str, group: Option<&str>| api::SyncDaemonSpec {
            role: api::SyncRole::Master,
            mcast_ifn: ifn.into(),
            syncid: 4,
            sync_maxlen: 0,
            mcast_group: group.map(|g| g.parse().unwrap()),
            mcast_port: 0,
            mcast_ttl: 0,
        };
        let s = settings(&spec("lo", None)).unwrap();
        assert_eq!(s.group, IpAddr::V4(sync::DEFAULT_GROUP));
        assert_eq!((s.port, s.ttl, s.syncid, s.maxlen), (8848, 1, 4, 1472));
        let e = settings(&spec("no-such-if0", None)).unwrap_err();
        assert_eq!(e.1.message, "No such device");
        assert!(settings(&spec("../lo", None)).is_err());
        assert!(settings(&spec("lo", Some("10.0.0.1"))).is_err());
        let s = settings(&spec("lo", Some("ff02::1:2"))).unwrap();
        assert_eq!(s.maxlen, 1452);
    }
}
