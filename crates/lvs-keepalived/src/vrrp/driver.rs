//! The Linux driver of the VRRP state machines: raw IP sockets for protocol 112, VIPs
//! through rtnetlink, gratuitous ARP / unsolicited NA through `AF_PACKET`, link monitoring
//! through netlink multicast, `vrrp_script` runners and notify scripts. [`run_vrrp`] runs a
//! set of instances until its shutdown future completes, then resigns (priority 0) and
//! removes the VIPs of every master, as keepalived does on SIGTERM.

use std::collections::HashMap;
use std::future::Future;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::{Handle, MulticastGroup};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::instance::{
    Action, ConfigError, Input, Instance, InstanceConfig, State, Time, TrackKind, Vip,
};
use super::packet::{self, Family, IPPROTO_VRRP, Received, VRRP_TTL};
use super::script::{ScriptConfig, ScriptFeeds, ScriptRunners, track_updates};
use super::sync::{self, Members, Output, SyncGroup, SyncGroupConfig};
use super::sys;

/// Everything [`run_vrrp`] runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VrrpConfig {
    /// The `vrrp_instance` blocks.
    pub instances: Vec<InstanceConfig>,
    /// The `vrrp_script` blocks (only tracked ones run). [`run_vrrp`] runs them itself;
    /// [`run_vrrp_shared`] is given their verdicts instead.
    pub scripts: Vec<ScriptConfig>,
    /// The `vrrp_sync_group` blocks: their members change state together. A group's
    /// `track_interface` / `track_script` entries belong in its members' `tracks`.
    pub groups: Vec<SyncGroupConfig>,
}

/// Why the driver could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The instance configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Two instances share a VRID and family on one interface.
    #[error("VRID {vrid} is used twice on {interface}")]
    DuplicateVrid {
        /// Interface.
        interface: String,
        /// VRID.
        vrid: u8,
    },
    /// An interface does not exist.
    #[error("interface {0} not found")]
    NoInterface(String),
    /// The interface has no address to send adverts from.
    #[error("interface {0} has no {1} address to send adverts from")]
    NoAddress(String, &'static str),
    /// A socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A netlink request failed.
    #[error("netlink: {0}")]
    Netlink(String),
    /// A sync group names an instance that is not run, or an instance is in two groups.
    #[error("vrrp_sync_group {group}: {why}")]
    SyncGroup {
        /// The group.
        group: String,
        /// What is wrong.
        why: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DriverError {
    let what = what.into();
    move |source| DriverError::Io { what, source }
}

/// An interface as netlink reports it.
#[derive(Clone, Debug)]
struct Link {
    index: u32,
    mac: [u8; 6],
    up: bool,
}

fn link_up(m: &LinkMessage) -> bool {
    m.header.flags.contains(LinkFlags::Up) && m.header.flags.contains(LinkFlags::Running)
}

fn link_name(m: &LinkMessage) -> Option<&str> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

async fn get_link(handle: &Handle, name: &str) -> Result<Link, DriverError> {
    let mut s = handle.link().get().match_name(name.to_string()).execute();
    let m = match s.try_next().await {
        Ok(Some(m)) => m,
        _ => return Err(DriverError::NoInterface(name.to_string())),
    };
    let mut mac = [0u8; 6];
    for a in &m.attributes {
        if let LinkAttribute::Address(b) = a
            && b.len() == 6
        {
            mac.copy_from_slice(b);
        }
    }
    Ok(Link {
        index: m.header.index,
        mac,
        up: link_up(&m),
    })
}

fn addr_of(m: &AddressMessage) -> Option<IpAddr> {
    let mut addr = None;
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(ip) => return Some(*ip),
            AddressAttribute::Address(ip) => addr = Some(*ip),
            _ => {}
        }
    }
    addr
}

/// The advert source: the first primary IPv4 address that is not a VIP, or the IPv6
/// link-local address.
async fn source_addr(
    handle: &Handle,
    ifindex: u32,
    family: Family,
    vips: &[IpAddr],
) -> Result<Option<IpAddr>, DriverError> {
    let mut s = handle
        .address()
        .get()
        .set_link_index_filter(ifindex)
        .execute();
    let mut found = None;
    while let Some(m) = s
        .try_next()
        .await
        .map_err(|e| DriverError::Netlink(e.to_string()))?
    {
        let Some(ip) = addr_of(&m) else { continue };
        if vips.contains(&ip) {
            continue;
        }
        let ok = match (family, ip) {
            (Family::Inet, IpAddr::V4(_)) => !m
                .header
                .flags
                .contains(netlink_packet_route::address::AddressHeaderFlags::Secondary),
            (Family::Inet6, IpAddr::V6(a)) => a.is_unicast_link_local(),
            _ => false,
        };
        if ok && found.is_none() {
            found = Some(ip);
        }
    }
    Ok(found)
}

/// Packets and other happenings, funnelled to the main loop.
enum Event {
    Packet {
        idx: usize,
        data: Vec<u8>,
        /// IPv6 only (IPv4 carries them in its header).
        src: Option<IpAddr>,
        dst: Option<IpAddr>,
        ttl: Option<u8>,
    },
    Link {
        name: String,
        up: bool,
    },
    Script {
        name: String,
        ok: bool,
    },
}

/// One running instance and its sockets.
struct Runner {
    inst: Instance,
    link: Link,
    send: Socket,
    ip_id: u16,
    /// Interface name → (index, MAC) for VIPs with `dev`.
    vip_links: HashMap<String, Link>,
    packet_sockets: HashMap<u32, sys::PacketSocket>,
    /// Where state changes are reported ([`run_vrrp_observed`]).
    observer: Option<StateObserver>,
}

impl Members for [Runner] {
    fn member(&mut self, idx: usize) -> &mut Instance {
        &mut self[idx].inst
    }
}

/// A state change of an instance, as [`run_vrrp_observed`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEvent {
    /// The instance (`vrrp_instance NAME`).
    pub instance: String,
    /// Its new state.
    pub state: State,
}

/// The receiving end of state changes is an unbounded channel: the driver never waits for
/// its observer.
pub type StateObserver = tokio::sync::mpsc::UnboundedSender<StateEvent>;

fn raw_socket(family: Family, proto: u8) -> Result<Socket, DriverError> {
    let domain = match family {
        Family::Inet => Domain::IPV4,
        Family::Inet6 => Domain::IPV6,
    };
    Socket::new(
        domain,
        Type::RAW.cloexec(),
        Some(Protocol::from(i32::from(proto))),
    )
    .map_err(io_err("raw socket for protocol 112 (needs CAP_NET_RAW)"))
}

fn open_sockets(
    cfg: &InstanceConfig,
    link: &Link,
    src: IpAddr,
) -> Result<(Socket, Socket), DriverError> {
    let dev = cfg.interface.as_bytes();
    let what = |s: &str| format!("({}) {s}", cfg.name);
    let recv = raw_socket(cfg.family, IPPROTO_VRRP)?;
    recv.bind_device(Some(dev))
        .map_err(io_err(what("SO_BINDTODEVICE")))?;
    let send = raw_socket(cfg.family, IPPROTO_VRRP)?;
    send.bind_device(Some(dev))
        .map_err(io_err(what("SO_BINDTODEVICE")))?;
    match cfg.family {
        Family::Inet => {
            if !cfg.is_unicast() {
                recv.join_multicast_v4_n(
                    &packet::MCAST_V4,
                    &InterfaceIndexOrAddress::Index(link.index),
                )
                .map_err(io_err(what("join 224.0.0.18")))?;
            }
            recv.set_multicast_all_v4(false)
                .map_err(io_err(what("IP_MULTICAST_ALL")))?;
            send.set_header_included_v4(true)
                .map_err(io_err(what("IP_HDRINCL")))?;
            send.set_multicast_loop_v4(false)
                .map_err(io_err(what("IP_MULTICAST_LOOP")))?;
            send.set_multicast_all_v4(false)
                .map_err(io_err(what("IP_MULTICAST_ALL")))?;
        }
        Family::Inet6 => {
            if !cfg.is_unicast() {
                recv.join_multicast_v6(&packet::MCAST_V6, link.index)
                    .map_err(io_err(what("join ff02::12")))?;
            }
            recv.set_recv_hoplimit_v6(true)
                .map_err(io_err(what("IPV6_RECVHOPLIMIT")))?;
            sys::set_int_opt(
                recv.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVPKTINFO,
                1,
            )
            .map_err(io_err(what("IPV6_RECVPKTINFO")))?;
            send.set_multicast_hops_v6(u32::from(VRRP_TTL))
                .map_err(io_err(what("IPV6_MULTICAST_HOPS")))?;
            send.set_unicast_hops_v6(u32::from(VRRP_TTL))
                .map_err(io_err(what("IPV6_UNICAST_HOPS")))?;
            send.set_multicast_loop_v6(false)
                .map_err(io_err(what("IPV6_MULTICAST_LOOP")))?;
            send.set_multicast_if_v6(link.index)
                .map_err(io_err(what("IPV6_MULTICAST_IF")))?;
            if let IpAddr::V6(a) = src {
                let scope = if a.is_unicast_link_local() {
                    link.index
                } else {
                    0
                };
                send.bind(&SockAddr::from(SocketAddrV6::new(a, 0, 0, scope)))
                    .map_err(io_err(what(&format!("bind to {a}"))))?;
            }
        }
    }
    recv.set_nonblocking(true)
        .map_err(io_err(what("O_NONBLOCK")))?;
    send.set_nonblocking(true)
        .map_err(io_err(what("O_NONBLOCK")))?;
    Ok((recv, send))
}

/// Read packets from `sock` forever and forward them to the main loop.
async fn reader(idx: usize, family: Family, sock: Socket, tx: mpsc::Sender<Event>) {
    let fd = match sys::async_fd(sock) {
        Ok(fd) => fd,
        Err(e) => {
            warn!("VRRP receive socket: {e}");
            return;
        }
    };
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok(mut guard) = fd.readable().await else {
            return;
        };
        let res = guard.try_io(|s| match family {
            Family::Inet => {
                let mut r: &Socket = s.get_ref();
                r.read(&mut buf).map(|n| (n, None, None, None))
            }
            Family::Inet6 => sys::recv6(s.get_ref().as_raw_fd(), &mut buf).map(|r| {
                (
                    r.len,
                    Some(IpAddr::V6(r.src)),
                    r.dst.map(IpAddr::V6),
                    r.hop_limit,
                )
            }),
        });
        match res {
            Ok(Ok((n, src, dst, ttl))) => {
                let ev = Event::Packet {
                    idx,
                    data: buf[..n].to_vec(),
                    src,
                    dst,
                    ttl,
                };
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
            Ok(Err(e)) => warn!("VRRP receive: {e}"),
            Err(_would_block) => continue,
        }
    }
}

/// Follow link state changes (RTNLGRP_LINK) and forward them to the main loop.
fn spawn_link_monitor(tx: mpsc::Sender<Event>) -> Result<(), DriverError> {
    let (conn, _handle, mut messages) =
        rtnetlink::new_multicast_connection(&[MulticastGroup::Link])
            .map_err(io_err("netlink link monitor"))?;
    tokio::spawn(conn);
    tokio::spawn(async move {
        // Keep the handle alive with the connection.
        let _handle = _handle;
        while let Some((msg, _)) = messages.next().await {
            let NetlinkPayload::InnerMessage(m) = msg.payload else {
                continue;
            };
            let (m, up) = match m {
                RouteNetlinkMessage::NewLink(m) => {
                    let up = link_up(&m);
                    (m, up)
                }
                RouteNetlinkMessage::DelLink(m) => (m, false),
                _ => continue,
            };
            if let Some(name) = link_name(&m) {
                let ev = Event::Link {
                    name: name.to_string(),
                    up,
                };
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(())
}

/// Forward the verdicts of one script to the main loop (what keepalived's
/// `update_script_priorities` does for each tracker).
async fn forward_script(
    name: String,
    mut rx: tokio::sync::watch::Receiver<super::script::ScriptStatus>,
    mut last: super::script::ScriptStatus,
    tx: mpsc::Sender<Event>,
) {
    while rx.changed().await.is_ok() {
        let now = *rx.borrow_and_update();
        for up in track_updates(last, now) {
            let ev = Event::Script {
                name: name.clone(),
                ok: up,
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
        last = now;
    }
}

impl Runner {
    /// Carry out `actions`; returns the notify scripts started, to wait for at shutdown.
    async fn execute(
        &mut self,
        handle: &Handle,
        actions: Vec<Action>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut scripts = Vec::new();
        for a in actions {
            match a {
                Action::SendAdvert { priority } => self.send_advert(priority),
                Action::AddVips => self.vips(handle, true).await,
                Action::RemoveVips => self.vips(handle, false).await,
                Action::SendGratuitous { repeat } => self.gratuitous(repeat),
                Action::RunScript { argv } => scripts.extend(run_notify(argv)),
                Action::StateChange { from, to } => {
                    tracing::debug!("({}) {:?} -> {:?}", self.inst.config().name, from, to);
                    if let Some(o) = &self.observer {
                        let _ = o.send(StateEvent {
                            instance: self.inst.config().name.clone(),
                            state: to,
                        });
                    }
                }
                Action::Log(s) => info!("{s}"),
            }
        }
        scripts
    }

    fn send_advert(&mut self, priority: u8) {
        let cfg = self.inst.config();
        let Some(src) = self.inst.local_addr() else {
            warn!("({}) no source address, advert not sent", cfg.name);
            return;
        };
        let dsts: Vec<IpAddr> = if cfg.is_unicast() {
            cfg.unicast_peers.clone()
        } else {
            vec![cfg.family.mcast_group()]
        };
        let advert = self.inst.advert(priority);
        for dst in dsts {
            let msg = match advert.emit(src, dst) {
                Ok(m) => m,
                Err(e) => {
                    warn!("({}) cannot build advert: {e}", cfg.name);
                    continue;
                }
            };
            let res = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    self.ip_id = self.ip_id.wrapping_add(1).max(1);
                    let pkt = packet::emit_ipv4(self.ip_id, s, d, VRRP_TTL, &msg);
                    let flags = if d.is_multicast() {
                        libc::MSG_DONTROUTE
                    } else {
                        0
                    };
                    self.send.send_to_with_flags(
                        &pkt,
                        &SockAddr::from(SocketAddr::from((d, 0))),
                        flags,
                    )
                }
                (IpAddr::V6(_), IpAddr::V6(d)) => {
                    let scope = if d.is_multicast() || d.is_unicast_link_local() {
                        self.link.index
                    } else {
                        0
                    };
                    self.send
                        .send_to(&msg, &SockAddr::from(SocketAddrV6::new(d, 0, 0, scope)))
                }
                _ => continue,
            };
            if let Err(e) = res {
                warn!("({}) send advert error to {dst}: {e}", cfg.name);
            }
        }
    }

    fn all_vips(&self) -> impl Iterator<Item = &Vip> {
        let c = self.inst.config();
        c.vips.iter().chain(c.excluded_vips.iter())
    }

    fn link_of(&self, vip: &Vip) -> Option<&Link> {
        match &vip.dev {
            Some(d) if *d != self.inst.config().interface => self.vip_links.get(d),
            _ => Some(&self.link),
        }
    }

    /// keepalived's start-up clean-up (`vrrp_restore_interfaces_startup`): VIPs of ours
    /// already on an interface (left by a crashed run) are removed before the instance starts.
    async fn remove_stale_vips(&self, handle: &Handle) {
        let mut present = Vec::new();
        for vip in self.all_vips() {
            let Some(link) = self.link_of(vip) else {
                continue;
            };
            let found: Result<Vec<AddressMessage>, _> = handle
                .address()
                .get()
                .set_link_index_filter(link.index)
                .set_address_filter(vip.addr)
                .execute()
                .try_collect()
                .await;
            if found.is_ok_and(|f| !f.is_empty()) {
                present.push(vip.clone());
            }
        }
        if !present.is_empty() {
            info!("({}) removing VIPs.", self.inst.config().name);
            self.change_vips(handle, false, present.iter()).await;
        }
    }

    async fn vips(&self, handle: &Handle, add: bool) {
        self.change_vips(handle, add, self.all_vips()).await;
    }

    async fn change_vips(&self, handle: &Handle, add: bool, vips: impl Iterator<Item = &Vip>) {
        let name = &self.inst.config().name;
        for vip in vips {
            let Some(link) = self.link_of(vip) else {
                warn!("({name}) no interface for {}", vip.addr);
                continue;
            };
            let mut req = handle.address().add(link.index, vip.addr, vip.prefix_len);
            let msg = req.message_mut();
            if let Some(l) = &vip.label {
                msg.attributes.push(AddressAttribute::Label(l.clone()));
            }
            if vip.addr.is_ipv6() {
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
            let res = if add {
                req.execute().await
            } else {
                let msg = req.message_mut().clone();
                handle.address().del(msg).execute().await
            };
            match res {
                Ok(()) => info!(
                    "({name}) {} {}/{}",
                    if add { "added" } else { "removed" },
                    vip.addr,
                    vip.prefix_len
                ),
                Err(e) => warn!(
                    "({name}) cannot {} {}: {e}",
                    if add { "add" } else { "remove" },
                    vip.addr
                ),
            }
        }
    }

    fn gratuitous(&mut self, repeat: u32) {
        let mut frames: Vec<(u32, Vec<u8>)> = Vec::new();
        for vip in self.all_vips() {
            let Some(link) = self.link_of(vip) else {
                continue;
            };
            let frame = match vip.addr {
                IpAddr::V4(a) => packet::garp_frame(link.mac, a).to_vec(),
                IpAddr::V6(a) => {
                    packet::unsolicited_na_frame(link.mac, a, forwarding(&vip_dev(self, vip)))
                }
            };
            frames.push((link.index, frame));
        }
        for (ifindex, _) in &frames {
            if let std::collections::hash_map::Entry::Vacant(e) =
                self.packet_sockets.entry(*ifindex)
            {
                match sys::PacketSocket::open(*ifindex) {
                    Ok(s) => {
                        e.insert(s);
                    }
                    Err(err) => warn!("AF_PACKET socket: {err}"),
                }
            }
        }
        // As keepalived's vrrp_send_link_update: `repeat` rounds of one frame per address.
        for _ in 0..repeat {
            for (ifindex, frame) in &frames {
                let Some(s) = self.packet_sockets.get(ifindex) else {
                    continue;
                };
                if let Err(e) = s.send(frame) {
                    warn!("({}) gratuitous ARP/NA: {e}", self.inst.config().name);
                }
            }
        }
    }
}

fn vip_dev(r: &Runner, vip: &Vip) -> String {
    vip.dev
        .clone()
        .unwrap_or_else(|| r.inst.config().interface.clone())
}

/// Whether IPv6 forwarding is on for `dev` (the R flag of unsolicited NAs).
fn forwarding(dev: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{dev}/forwarding"))
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}

/// Start a notify script without waiting for it (its exit is reaped in the background).
fn run_notify(argv: Vec<String>) -> Option<tokio::task::JoinHandle<()>> {
    let (prog, args) = argv.split_first()?;
    match tokio::process::Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(mut c) => Some(tokio::spawn(async move {
            let _ = c.wait().await;
        })),
        Err(e) => {
            warn!("cannot run notify script {prog}: {e}");
            None
        }
    }
}

/// Run `cfg`'s instances until `shutdown` completes. Then every master sends priority 0 and
/// removes its VIPs, and every instance runs its STOP notifies. Needs CAP_NET_RAW and
/// CAP_NET_ADMIN. Must be called inside a tokio runtime (current-thread is enough).
pub async fn run_vrrp(
    cfg: VrrpConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DriverError> {
    run_vrrp_observed(cfg, None, shutdown).await
}

/// [`run_vrrp`], reporting every state change of every instance to `observer` (what
/// `lvs_sync_daemon` follows).
pub async fn run_vrrp_observed(
    cfg: VrrpConfig,
    observer: Option<StateObserver>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DriverError> {
    let tracked: Vec<ScriptConfig> = cfg
        .scripts
        .iter()
        .filter(|s| {
            cfg.instances.iter().any(|c| {
                c.tracks
                    .iter()
                    .any(|t| t.kind == TrackKind::Script && t.name == s.name)
            })
        })
        .cloned()
        .collect();
    let mut runners = ScriptRunners::new();
    runners.update(&tracked, false);
    let feeds = runners.feeds(tracked.iter().map(|s| s.name.as_str()));
    let r = run_vrrp_shared(cfg, observer, feeds, shutdown).await;
    drop(runners);
    r
}

/// [`run_vrrp_observed`] for a process that runs its `vrrp_script`s once for all its
/// drivers ([`ScriptRunners`]): `feeds` has the verdict channel of each script the
/// instances track (`cfg.scripts` is not run here). A script without a feed never gives a
/// result.
pub async fn run_vrrp_shared(
    cfg: VrrpConfig,
    observer: Option<StateObserver>,
    feeds: ScriptFeeds,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DriverError> {
    let mut seen = HashMap::new();
    for c in &cfg.instances {
        c.validate()?;
        if seen
            .insert((c.interface.clone(), c.family, c.vrid), ())
            .is_some()
        {
            return Err(DriverError::DuplicateVrid {
                interface: c.interface.clone(),
                vrid: c.vrid,
            });
        }
    }
    let mut groups = Vec::new();
    let mut grouped: HashMap<&str, &str> = HashMap::new();
    for g in &cfg.groups {
        let mut idxs = Vec::new();
        for m in &g.members {
            let bad = |why: String| DriverError::SyncGroup {
                group: g.name.clone(),
                why,
            };
            let Some(i) = cfg.instances.iter().position(|c| c.name == *m) else {
                return Err(bad(format!("member {m} is not a running vrrp_instance")));
            };
            if let Some(other) = grouped.insert(m, &g.name) {
                return Err(bad(format!("member {m} is already in {other}")));
            }
            idxs.push(i);
        }
        groups.push(SyncGroup::new(g.clone(), idxs));
    }
    // keepalived: members start as BACKUP unless all are `state MASTER` owners.
    let mut instances = cfg.instances.clone();
    for g in &groups {
        let mut members: Vec<&mut InstanceConfig> = instances
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| g.has_member(*i))
            .map(|(_, c)| c)
            .collect();
        sync::harmonize_initial_states(&mut members);
    }
    let (conn, handle, _) = rtnetlink::new_connection().map_err(io_err("netlink socket"))?;
    tokio::spawn(conn);
    let (tx, mut rx) = mpsc::channel::<Event>(1024);
    spawn_link_monitor(tx.clone())?;

    let mut runners = Vec::new();
    for (idx, c) in instances.iter().enumerate() {
        let link = get_link(&handle, &c.interface).await?;
        let vip_addrs: Vec<IpAddr> = c
            .vips
            .iter()
            .chain(&c.excluded_vips)
            .map(|v| v.addr)
            .collect();
        let src = match c.unicast_src {
            Some(a) => a,
            None => source_addr(&handle, link.index, c.family, &vip_addrs)
                .await?
                .ok_or_else(|| {
                    DriverError::NoAddress(
                        c.interface.clone(),
                        match c.family {
                            Family::Inet => "IPv4",
                            Family::Inet6 => "IPv6 link-local",
                        },
                    )
                })?,
        };
        let mut vip_links = HashMap::new();
        for v in c.vips.iter().chain(&c.excluded_vips) {
            if let Some(d) = &v.dev
                && *d != c.interface
                && !vip_links.contains_key(d)
            {
                vip_links.insert(d.clone(), get_link(&handle, d).await?);
            }
        }
        let (recv, send) = open_sockets(c, &link, src)?;
        tokio::spawn(reader(idx, c.family, recv, tx.clone()));
        let mut inst = Instance::new(c.clone());
        inst.set_local_addr(src);
        info!(
            "({}) VRRPv{} VRID {} on {} from {src}, priority {}",
            c.name,
            c.version.number(),
            c.vrid,
            c.interface,
            c.priority
        );
        runners.push(Runner {
            inst,
            link,
            send,
            ip_id: 0,
            vip_links,
            packet_sockets: HashMap::new(),
            observer: observer.clone(),
        });
    }

    // Tracked interfaces' initial states, then the scripts.
    let mut track_ifs: HashMap<String, bool> = HashMap::new();
    for c in &cfg.instances {
        for t in c.tracks.iter().filter(|t| t.kind == TrackKind::Interface) {
            if !track_ifs.contains_key(&t.name) {
                let up = get_link(&handle, &t.name)
                    .await
                    .map(|l| l.up)
                    .unwrap_or(false);
                track_ifs.insert(t.name.clone(), up);
            }
        }
    }
    // The scripts' verdicts now (keepalived's `initialise_track_script_state`), then
    // every change.
    let mut script_now: Vec<(String, bool)> = Vec::new();
    let mut forwarders = Vec::new();
    for (name, mut rx) in feeds {
        let st = *rx.borrow_and_update();
        if let Some(up) = st.up {
            script_now.push((name.clone(), up));
        }
        forwarders.push(tokio::spawn(forward_script(name, rx, st, tx.clone())));
    }
    drop(tx);

    let origin = Instant::now();
    let now = || -> Time { origin.elapsed() };
    let handle = Arc::new(handle);
    for (idx, r) in runners.iter_mut().enumerate() {
        r.remove_stale_vips(&handle).await;
        let t = now();
        let mut acts = r.inst.handle(t, Input::Link { up: r.link.up });
        for (name, up) in &track_ifs {
            acts.extend(r.inst.handle(
                t,
                Input::Track {
                    kind: TrackKind::Interface,
                    name,
                    up: *up,
                },
            ));
        }
        for (name, up) in &script_now {
            acts.extend(r.inst.handle(
                t,
                Input::Track {
                    kind: TrackKind::Script,
                    name,
                    up: *up,
                },
            ));
        }
        // Sync group members start with their group, below.
        if !groups.iter().any(|g| g.has_member(idx)) {
            acts.extend(r.inst.handle(t, Input::Start));
        }
        r.execute(&handle, acts).await;
    }
    for g in &mut groups {
        let outs = g.start(now(), &mut runners[..]);
        run_outputs(&mut runners, &handle, outs).await;
    }

    tokio::pin!(shutdown);
    loop {
        let next = runners.iter().filter_map(|r| r.inst.next_timeout()).min();
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until((origin + t).into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                handle_event(&mut runners, &mut groups, &handle, now(), ev).await;
            }
            _ = sleep => {
                let t = now();
                for idx in 0..runners.len() {
                    if runners[idx].inst.next_timeout().is_some_and(|d| d <= t) {
                        feed(&mut runners, &mut groups, &handle, t, idx, Input::Timer).await;
                    }
                }
            }
        }
    }

    for f in &forwarders {
        f.abort();
    }
    let mut stop_scripts = Vec::new();
    for (idx, r) in runners.iter_mut().enumerate() {
        if groups.iter().any(|g| g.has_member(idx)) {
            continue;
        }
        let acts = r.inst.handle(now(), Input::Shutdown);
        stop_scripts.extend(r.execute(&handle, acts).await);
    }
    for g in &mut groups {
        let outs = g.shutdown(now(), &mut runners[..]);
        stop_scripts.extend(run_outputs(&mut runners, &handle, outs).await);
    }
    // keepalived gives the STOP scripts up to a second.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        for s in stop_scripts {
            let _ = s.await;
        }
    })
    .await;
    Ok(())
}

/// Carry out a sync group's outputs: member actions on their runners, group notify
/// scripts and log lines here. Returns the scripts started.
async fn run_outputs(
    runners: &mut [Runner],
    handle: &Handle,
    outs: Vec<Output>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut scripts = Vec::new();
    for o in outs {
        match o {
            Output::Member(i, a) => {
                if let Some(r) = runners.get_mut(i) {
                    scripts.extend(r.execute(handle, vec![a]).await);
                }
            }
            Output::Group(Action::RunScript { argv }) => scripts.extend(run_notify(argv)),
            Output::Group(Action::Log(l)) => info!("{l}"),
            Output::Group(_) => {}
        }
    }
    scripts
}

/// Feed `input` to instance `idx`: through its sync group when it is a member.
async fn feed(
    runners: &mut [Runner],
    groups: &mut [SyncGroup],
    handle: &Handle,
    now: Time,
    idx: usize,
    input: Input<'_>,
) {
    if let Some(g) = groups.iter_mut().find(|g| g.has_member(idx)) {
        let outs = g.handle(now, runners, idx, input);
        run_outputs(runners, handle, outs).await;
    } else if let Some(r) = runners.get_mut(idx) {
        let acts = r.inst.handle(now, input);
        r.execute(handle, acts).await;
    }
}

async fn handle_event(
    runners: &mut [Runner],
    groups: &mut [SyncGroup],
    handle: &Handle,
    now: Time,
    ev: Event,
) {
    match ev {
        Event::Packet {
            idx,
            data,
            src,
            dst,
            ttl,
        } => {
            let Some(r) = runners.get(idx) else {
                return;
            };
            let (family, vrid, local, name) = (
                r.inst.config().family,
                r.inst.config().vrid,
                r.inst.local_addr(),
                r.inst.config().name.clone(),
            );
            let rx = match (src, dst) {
                (Some(src), dst) => Received {
                    src,
                    // Without IPV6_PKTINFO assume what the socket was opened for.
                    dst: dst.unwrap_or_else(|| family.mcast_group()),
                    ttl,
                    payload: &data,
                },
                _ => match Received::from_ipv4(&data) {
                    Ok(rx) => rx,
                    Err(e) => {
                        tracing::debug!("({name}) {e}");
                        return;
                    }
                },
            };
            // The socket sees every VRID: keep ours (keepalived dispatches by VRID).
            if rx.vrid() != Some(vrid) {
                return;
            }
            // Our own adverts (unicast to ourselves, or looped back) are not news.
            if Some(rx.src) == local {
                return;
            }
            feed(runners, groups, handle, now, idx, Input::Advert(rx)).await;
        }
        Event::Link { name, up } => {
            for idx in 0..runners.len() {
                if runners[idx].inst.config().interface == name {
                    feed(runners, groups, handle, now, idx, Input::Link { up }).await;
                }
                let input = Input::Track {
                    kind: TrackKind::Interface,
                    name: &name,
                    up,
                };
                feed(runners, groups, handle, now, idx, input).await;
            }
        }
        Event::Script { name, ok } => {
            for idx in 0..runners.len() {
                let input = Input::Track {
                    kind: TrackKind::Script,
                    name: &name,
                    up: ok,
                };
                feed(runners, groups, handle, now, idx, input).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn inst(vrid: u8) -> InstanceConfig {
        InstanceConfig::new(
            "VI_1",
            "eth0",
            vrid,
            vec![Vip::host("10.0.0.100".parse().unwrap())],
        )
    }

    #[test]
    fn bad_config_is_refused_before_any_socket() {
        let cfg = VrrpConfig {
            instances: vec![inst(0)],
            ..VrrpConfig::default()
        };
        let err = block_on(run_vrrp(cfg, std::future::pending())).unwrap_err();
        assert!(
            matches!(err, DriverError::Config(ConfigError::Vrid(_))),
            "{err}"
        );
    }

    #[test]
    fn duplicate_vrid_on_one_interface_is_refused() {
        let cfg = VrrpConfig {
            instances: vec![inst(7), inst(7)],
            ..VrrpConfig::default()
        };
        let err = block_on(run_vrrp(cfg, std::future::pending())).unwrap_err();
        assert_eq!(err.to_string(), "VRID 7 is used twice on eth0");
    }

    #[test]
    fn sync_group_members_must_be_run_and_in_one_group() {
        let group = |name: &str, members: &[&str]| SyncGroupConfig {
            name: name.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            notify: Default::default(),
        };
        let cfg = VrrpConfig {
            instances: vec![inst(7)],
            groups: vec![group("G1", &["VI_1", "VI_9"])],
            ..VrrpConfig::default()
        };
        let err = block_on(run_vrrp(cfg, std::future::pending())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vrrp_sync_group G1: member VI_9 is not a running vrrp_instance"
        );
        let cfg = VrrpConfig {
            instances: vec![inst(7)],
            groups: vec![group("G1", &["VI_1"]), group("G2", &["VI_1"])],
            ..VrrpConfig::default()
        };
        let err = block_on(run_vrrp(cfg, std::future::pending())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vrrp_sync_group G2: member VI_1 is already in G1"
        );
    }
}
