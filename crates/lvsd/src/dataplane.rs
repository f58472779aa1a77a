//! The data plane: the XDP fast path (`lvs-dataplane`) driven by the slow path here.
//!
//! * New flows: XDP redirects the first packet into an AF_XDP socket ([`crate::xsk`]). The
//!   slow path parses it (`lvs-wire`), asks the model (`lvs-core`) for a verdict, installs
//!   the connection's flow entries in `LVS_FLOWS` (one per direction that passes the
//!   director) and transmits the rewritten packet itself.
//! * Established flows never leave XDP. The XDP program counts them and runs the IPVS TCP
//!   table; state changes come back as ring-buffer events, which the slow path feeds to the
//!   model (`Ipvs::observe`) so listings, accounting and timeouts stay exact.
//! * Timers: before the model expires an entry it asks when XDP last saw it
//!   (`Ipvs::poll_with`); expired entries have their flow entries removed.
//! * Counters: XDP's per-real-server counters are folded into the model every second.
//!
//! Transmitting from the slow path: packets whose destination is a routable address (NAT,
//! FULLNAT, tunnels, replies) go through a raw IP socket, so the kernel routes them and
//! resolves the next hop's MAC address (which later lets XDP's `bpf_fib_lookup` succeed).
//! Direct-routing packets keep the VIP as destination, so they are sent as Ethernet frames
//! to the real server's MAC address through the AF_XDP socket of the egress interface.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use lvs_common::nf::{FwmarkKey, NfStat};
use lvs_common::{FastDest, FastSvc, FlowKey, FlowValue, SvcKey, SvcValue, action, dir};
use lvs_core::conn::{Conn, ConnFlags, ConnId, Direction};
use lvs_core::ipvs::Adopt;
use lvs_core::{
    DestId, ForwardMethod, InVerdict, OutVerdict, PacketMeta, Protocol, ServiceId, ServiceKey,
    TcpFlags, Time,
};
use lvs_dataplane::netfilter::FwmarkHook;
use lvs_dataplane::{Dataplane, LoadOptions, Record, XdpModeChoice};
use socket2::{Domain, Socket, Type};

use crate::state::Shared;
use crate::xsk::{XskPort, poll_readable};

/// One interface lvsd serves.
#[derive(Debug, Clone)]
pub struct Iface {
    /// Name.
    pub name: String,
    /// Index.
    pub ifindex: u32,
    /// MAC address.
    pub mac: [u8; 6],
}

/// The data plane owned by the slow-path thread.
pub struct Plane {
    dp: Dataplane,
    ifaces: Vec<Iface>,
    ports: Vec<XskPort>,
    raw4: Socket,
    raw6: Socket,
    /// Flow keys installed per connection.
    installed: HashMap<ConnId, Vec<FlowKey>>,
    services: HashMap<SvcKey, SvcValue>,
    dests_max: u32,
    conns_max: u32,
    /// New connections of fast-eligible services are created by XDP (`--slow-new-flows`
    /// turns it off).
    fast_new: bool,
    /// What `LVS_FAST_SVCS` holds: service id -> scheduling sequence (DestIds).
    fast_svcs: HashMap<u32, Vec<u32>>,
    /// What `LVS_FAST_DESTS` holds.
    fast_dests: HashMap<u32, FastDest>,
    /// Connection ids in `LVS_CONN_IDS` (pushed, not yet reported by an `EV_NEW` record).
    ids_queued: usize,
    /// Ids of connections XDP created that the model refused: released after a while, once
    /// no late record about them can arrive.
    quarantine: Vec<(ConnId, Instant)>,
    dest_prev: HashMap<u32, lvs_common::DestStats>,
    dest_slots: HashMap<u32, lvs_core::DestId>,
    mono_start_ns: u64,
    config_gen: u64,
    /// Real servers' MAC addresses and interfaces for DR (refreshed every few seconds).
    neighbours: HashMap<IpAddr, (String, [u8; 6], Instant)>,
    /// Route MTUs towards tunnel endpoints.
    mtus: HashMap<IpAddr, (u32, Instant)>,
    /// The netfilter hook of firewall-mark services (`None`: it could not be loaded, and
    /// firewall-mark services are not served).
    fwmark: Option<FwmarkHook>,
    /// FULLNAT connections that send a PROXY header (Proxy Protocol v2).
    pp: HashMap<ConnId, PpConn>,
    /// PROXY headers sent: on their own after the handshake, in front of the client's
    /// first data segment, on their own before a segment without room for them.
    pp_handshake: u64,
    pp_inserted: u64,
    pp_separate: u64,
    /// The global switches last written to `LVS_CONFIG`.
    xdp_config: Option<lvs_common::Config>,
}

/// The Proxy Protocol v2 state of one FULLNAT TCP connection (docs/proxy-protocol.md).
#[derive(Debug, Clone)]
struct PpConn {
    /// The client's first data sequence number (its ISN + 1).
    first_seq: u32,
    /// The PROXY header (client → VIP).
    header: [u8; lvs_wire::proxy::MAX_BUILT_LEN],
    len: usize,
    /// The header went out: the flows translate sequence numbers (`FF_PP_FIRST | FF_SEQ`).
    sent: bool,
}

impl PpConn {
    fn header(&self) -> &[u8] {
        &self.header[..self.len]
    }

    fn delta(&self) -> u32 {
        self.len as u32
    }
}

/// TCP flag bits of a segment's 14th byte.
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

impl std::fmt::Debug for Plane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plane")
            .field("ifaces", &self.ifaces)
            .finish()
    }
}

/// How long a looked-up neighbour or route MTU is reused.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// Read an interface attribute from sysfs.
fn sysfs(ifname: &str, attr: &str) -> anyhow::Result<String> {
    let p = format!("/sys/class/net/{ifname}/{attr}");
    Ok(std::fs::read_to_string(&p)
        .with_context(|| format!("reading {p}"))?
        .trim()
        .to_string())
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

/// Every up, non-loopback interface of the namespace.
pub fn default_interfaces() -> anyhow::Result<Vec<String>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/sys/class/net").context("listing interfaces")? {
        let name = e?.file_name().to_string_lossy().to_string();
        if name == "lo" {
            continue;
        }
        let flags = u32::from_str_radix(sysfs(&name, "flags")?.trim_start_matches("0x"), 16)?;
        let is_bridge = std::path::Path::new(&format!("/sys/class/net/{name}/bridge")).exists();
        // IFF_UP; bridges are served through their ports.
        if flags & 1 != 0 && !is_bridge {
            v.push(name);
        }
    }
    v.sort();
    Ok(v)
}

fn rx_queues(ifname: &str) -> u32 {
    std::fs::read_dir(format!("/sys/class/net/{ifname}/queues"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count() as u32
        })
        .unwrap_or(1)
        .clamp(1, lvs_common::XSK_QUEUES_PER_IF)
}

/// CLOCK_MONOTONIC now, in nanoseconds (the clock of `bpf_ktime_get_ns`).
#[allow(unsafe_code)]
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

fn write_sysctl(path: &str, value: &str) {
    if let Err(e) = std::fs::write(path, value) {
        tracing::warn!(%path, error = %e, "could not set sysctl");
    }
}

/// The address the kernel would use as source towards `dst` (no packet is sent).
fn route_source(dst: IpAddr) -> anyhow::Result<IpAddr> {
    let any: SocketAddr = if dst.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let s = UdpSocket::bind(any)?;
    s.connect(SocketAddr::new(dst, 9))
        .with_context(|| format!("no route to {dst}"))?;
    Ok(s.local_addr()?.ip())
}

/// The MTU of the route towards `dst` (the route's `mtu` if set, else the device's).
fn route_mtu(dst: IpAddr) -> Option<u32> {
    let out = std::process::Command::new("ip")
        .args(["route", "get", &dst.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    // `mtu 1400`, or `mtu lock 1400` for a locked route MTU
    if let Some(m) = f
        .iter()
        .position(|x| *x == "mtu")
        .and_then(|i| f.get(i + 1).filter(|v| **v != "lock").or(f.get(i + 2)))
        && let Ok(v) = m.parse()
    {
        return Some(v);
    }
    let dev = f
        .iter()
        .position(|x| *x == "dev")
        .and_then(|i| f.get(i + 1))?;
    sysfs(dev, "mtu").ok()?.parse().ok()
}

/// The neighbour entry (interface, MAC) of `ip`, if the kernel has a usable one.
fn neighbour(ip: IpAddr) -> Option<(String, [u8; 6])> {
    let out = std::process::Command::new("ip")
        .args([
            if ip.is_ipv4() { "-4" } else { "-6" },
            "neigh",
            "show",
            &ip.to_string(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        // "10.0.0.2 dev eth0 lladdr aa:bb:cc:dd:ee:ff REACHABLE"
        let f: Vec<&str> = line.split_whitespace().collect();
        let dev = f
            .iter()
            .position(|x| *x == "dev")
            .and_then(|i| f.get(i + 1));
        let mac = f
            .iter()
            .position(|x| *x == "lladdr")
            .and_then(|i| f.get(i + 1));
        if let (Some(dev), Some(mac)) = (dev, mac) {
            if line.contains("FAILED") || line.contains("INCOMPLETE") {
                continue;
            }
            if let Some(m) = parse_mac(mac) {
                return Some((dev.to_string(), m));
            }
        }
    }
    None
}

/// Make the kernel resolve `ip`'s MAC address: a datagram to the discard port.
fn provoke_neighbour(ip: IpAddr) {
    let any: SocketAddr = if ip.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    if let Ok(s) = UdpSocket::bind(any) {
        let _ = s.send_to(b"lvsd-arp", SocketAddr::new(ip, 9));
    }
}

fn tcp_flags(f: lvs_wire::TcpFlags) -> TcpFlags {
    TcpFlags {
        syn: f.syn(),
        fin: f.fin(),
        ack: f.ack(),
        rst: f.rst(),
    }
}

/// An IP packet handed over by the netfilter hook, as the Ethernet frame the rest of the
/// slow path works on (MACs zero: every transmit path sets its own or sends at layer 3).
fn marked_frame(packet: &[u8]) -> Vec<u8> {
    let ethertype: u16 = if packet.first().is_some_and(|b| b >> 4 == 6) {
        0x86dd
    } else {
        0x0800
    };
    let mut f = Vec::with_capacity(14 + packet.len());
    f.extend_from_slice(&[0; 12]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(packet);
    f
}

fn to_ip(af: lvs_wire::Af, a: &[u8; 16]) -> IpAddr {
    match af {
        lvs_wire::Af::Inet => IpAddr::from([a[0], a[1], a[2], a[3]]),
        lvs_wire::Af::Inet6 => IpAddr::from(*a),
    }
}

impl Plane {
    /// Load the XDP program, attach it to `names`, open the AF_XDP sockets.
    pub fn start(names: &[String]) -> anyhow::Result<Plane> {
        // bpf_fib_lookup only forwards on interfaces with forwarding on; a NAT director
        // needs it anyway.
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
        write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1");
        let opts = LoadOptions::default();
        let dests_max = opts.dests_max;
        let conns_max = opts.conns_max;
        let mut dp = Dataplane::load(opts).context("loading the XDP program")?;
        let mut ifaces = Vec::new();
        let mut ports = Vec::new();
        for (slot, name) in names.iter().enumerate() {
            let slot = u32::try_from(slot)?;
            if slot >= lvs_common::MAX_IFSLOTS {
                bail!("at most {} interfaces", lvs_common::MAX_IFSLOTS);
            }
            let ifindex: u32 = sysfs(name, "ifindex")?.parse()?;
            let mac = parse_mac(&sysfs(name, "address")?).unwrap_or([0; 6]);
            let mode = dp
                .attach(name, XdpModeChoice::Auto)
                .with_context(|| format!("attaching XDP to {name}"))?;
            tracing::info!(interface = %name, %mode, "XDP attached");
            dp.set_ifslot(ifindex, slot)?;
            if mac != [0; 6] {
                dp.set_if_mac(ifindex, mac)?;
            }
            for q in 0..rx_queues(name) {
                let port = XskPort::open(name, q)
                    .with_context(|| format!("AF_XDP socket on {name} queue {q}"))?;
                dp.set_xsk(slot, q, port.fd())?;
                ports.push(port);
            }
            ifaces.push(Iface {
                name: name.clone(),
                ifindex,
                mac,
            });
        }
        let raw4 = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(socket2::Protocol::from(libc::IPPROTO_RAW)),
        )
        .context("raw IPv4 socket")?;
        let raw6 = Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(socket2::Protocol::from(libc::IPPROTO_RAW)),
        )
        .context("raw IPv6 socket")?;
        // Sending with a client's (non-local) source address.
        let _ = raw6.set_ip_transparent_v6(true);
        let fwmark = match FwmarkHook::load() {
            Ok(h) => {
                tracing::info!(
                    priority = lvs_dataplane::netfilter::PRIORITY,
                    "firewall-mark hook attached to PREROUTING (IPv4, IPv6)"
                );
                Some(h)
            }
            Err(e) => {
                tracing::warn!(error = %e, "firewall-mark services will not be served");
                None
            }
        };
        Ok(Plane {
            dp,
            ifaces,
            ports,
            raw4,
            raw6,
            installed: HashMap::new(),
            services: HashMap::new(),
            dests_max,
            conns_max,
            fast_new: true,
            fast_svcs: HashMap::new(),
            fast_dests: HashMap::new(),
            ids_queued: 0,
            quarantine: Vec::new(),
            dest_prev: HashMap::new(),
            dest_slots: HashMap::new(),
            mono_start_ns: 0,
            config_gen: u64::MAX,
            neighbours: HashMap::new(),
            mtus: HashMap::new(),
            fwmark,
            pp: HashMap::new(),
            pp_handshake: 0,
            pp_inserted: 0,
            pp_separate: 0,
            xdp_config: None,
        })
    }

    /// Detach every XDP program.
    pub fn stop(&mut self) {
        if let Err(e) = self.dp.detach_all() {
            tracing::warn!(error = %e, "detaching XDP");
        }
    }

    /// The slow-path loop; returns when `stop` is set.
    pub fn run(mut self, shared: Shared, stop: Arc<AtomicBool>) {
        // Align the model's clock with CLOCK_MONOTONIC once.
        {
            let d = shared.lock();
            let now_ms = d.now().as_millis();
            self.mono_start_ns = monotonic_ns().saturating_sub(now_ms * 1_000_000);
        }
        let mut last_stats = Instant::now();
        let mut last_poll = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let mut fds: Vec<i32> = self.ports.iter().map(XskPort::fd).collect();
            {
                use std::os::fd::AsRawFd;
                fds.push(self.dp.events_fd().as_raw_fd());
                if let Some(h) = &self.fwmark {
                    fds.push(h.ring_fd().as_raw_fd());
                }
            }
            let ready = poll_readable(&fds, 20);
            // (ingress ifindex, Ethernet frame, firewall mark)
            let mut frames: Vec<(u32, Vec<u8>, u32)> = Vec::new();
            for i in ready {
                if let Some(p) = self.ports.get_mut(i) {
                    let ifindex = p.ifindex;
                    p.recv(|f| frames.push((ifindex, f.to_vec(), 0)));
                }
            }
            if let Some(h) = &mut self.fwmark {
                // Bounded, so that a flood of marked packets cannot starve the rest.
                for _ in 0..256 {
                    let Some(p) = h.next_packet() else { break };
                    frames.push((p.ifindex, marked_frame(&p.packet), p.mark));
                }
            }
            let mut d = shared.lock();
            let now = d.now();
            self.sync_config(&mut d);
            // Connections XDP created: adopted before the punted frames are handled, so that
            // a later packet of one of them finds it in the model. Every frame received above
            // was punted after its connection's record was submitted.
            self.drain_events(&mut d, now);
            self.top_up_conn_ids(&mut d);
            for (ifindex, f, mark) in frames {
                if let Err(e) = self.handle_frame(&mut d, ifindex, f, mark, now) {
                    tracing::debug!(error = %e, "slow path dropped a packet");
                }
            }
            self.drain_events(&mut d, now);
            self.remove_drained(&mut d);
            self.install_synced(&mut d);
            if last_poll.elapsed() >= Duration::from_millis(100) {
                last_poll = Instant::now();
                self.expire(&mut d, now);
            }
            if last_stats.elapsed() >= Duration::from_secs(1) {
                last_stats = Instant::now();
                self.fold_dest_stats(&mut d);
                d.dataplane = self.status();
            }
        }
        self.stop();
    }

    /// Mirror the services into `LVS_SERVICES` and re-point flows of connections whose
    /// real server went away, when the configuration changed.
    fn sync_config(&mut self, d: &mut crate::state::Daemon) {
        if d.config_gen == self.config_gen {
            return;
        }
        self.config_gen = d.config_gen;
        d.applied_gen = Some(d.config_gen);
        // A sync master needs XDP to report the packets that meet the sync threshold.
        let mut want = lvs_common::Config::default();
        if d.ipvs.config().sloppy_tcp {
            want.flags |= lvs_common::CFG_SLOPPY_TCP;
        }
        if d.ipvs.is_sync_master() {
            let p = d.ipvs.sync_params();
            want.flags |= lvs_common::CFG_SYNC_MASTER;
            want.sync_threshold = u16::try_from(p.threshold).unwrap_or(u16::MAX);
            want.sync_period = u16::try_from(p.period).unwrap_or(u16::MAX);
        }
        if self.xdp_config != Some(want) {
            match self.dp.set_config(&want) {
                Ok(()) => self.xdp_config = Some(want),
                Err(e) => tracing::warn!(error = %e, "writing LVS_CONFIG"),
            }
        }
        let mut want = HashMap::new();
        let mut marks = HashSet::new();
        for s in d.ipvs.services() {
            if let ServiceKey::Fwmark { af, mark } = *s.key() {
                marks.insert(FwmarkKey::new(mark, af == lvs_core::Af::Inet6));
            }
            if let ServiceKey::Addr {
                protocol,
                addr,
                port,
            } = *s.key()
            {
                let svc_id = d.ipvs.service_id_of(s.key()).map_or(0, |id| id.0);
                want.insert(
                    SvcKey::new(protocol.number(), addr, port),
                    SvcValue { svc_id, flags: 0 },
                );
                want.insert(
                    SvcKey::vaddr_marker(addr),
                    SvcValue {
                        svc_id: 0,
                        flags: lvs_common::SVC_F_VADDR,
                    },
                );
            }
            // FULLNAT local addresses too, so that fragments sent to them are punted.
            for l in s.laddrs.list() {
                want.insert(
                    SvcKey::vaddr_marker(l.addr),
                    SvcValue {
                        svc_id: 0,
                        flags: lvs_common::SVC_F_VADDR,
                    },
                );
            }
        }
        if let Some(h) = &mut self.fwmark
            && let Err(e) = h.set_marks(&marks)
        {
            tracing::warn!(error = %e, "updating the firewall-mark services");
        }
        // Fast-path records first go away (before their services change), then the
        // services, then the new records.
        let fast = self.fast_plans(d);
        self.remove_stale_fast(&fast);
        let stale: Vec<SvcKey> = self
            .services
            .keys()
            .filter(|k| !want.contains_key(k))
            .copied()
            .collect();
        for k in stale {
            let _ = self.dp.remove_service(&k);
            self.services.remove(&k);
        }
        for (k, v) in want {
            if self.services.get(&k) != Some(&v) && self.dp.insert_service(&k, &v).is_ok() {
                self.services.insert(k, v);
            }
        }
        self.write_fast(fast);
        // Connections whose real server is no longer available: drop their packets in XDP
        // (expire_nodest_conn = 0), as `ip_vs_in` does. A connection a sync message
        // created without a local real server has none: it is forwarded as its master did.
        let gone: Vec<ConnId> = self
            .installed
            .keys()
            .copied()
            .filter(|id| match d.ipvs.conns().get(*id) {
                None => true,
                Some(c) => c
                    .dest()
                    .is_some_and(|did| d.ipvs.dest(did).is_none_or(|dest| !dest.is_available())),
            })
            .collect();
        for id in gone {
            if let Some(keys) = self.installed.get(&id) {
                for k in keys {
                    if let Ok(Some(mut v)) = self.dp.flow(k) {
                        v.action = action::DROP;
                        let _ = self.dp.insert_flow(k, &v);
                    }
                }
            }
        }
    }

    fn handle_frame(
        &mut self,
        d: &mut crate::state::Daemon,
        ingress: u32,
        mut frame: Vec<u8>,
        fwmark: u32,
        now: Time,
    ) -> anyhow::Result<()> {
        // Frames from checksum-offloaded senders (veth) carry only the checksum seed; the
        // frame leaves as a plain packet, so complete it (and drop corrupt ones, as the
        // kernel would).
        // A unicast frame for another host's MAC (a bridge flooding to a forgotten MAC, a
        // promiscuous interface) is not ours, as for the kernel (PACKET_OTHERHOST); frames
        // from the netfilter hook (fwmark) have passed the stack's own check already.
        if fwmark == 0
            && let Some(dst) = frame.get(..6)
            && dst[0] & 1 == 0
            && let Some(iface) = self.ifaces.iter().find(|i| i.ifindex == ingress)
            && dst != iface.mac
        {
            return Ok(());
        }
        lvs_wire::complete_partial_checksum(&mut frame).map_err(|e| anyhow!("checksum: {e:?}"))?;
        let info = lvs_wire::parse_frame(&frame).map_err(|e| anyhow!("parse: {e:?}"))?;
        if let Some(e) = info.icmp_error {
            return self.handle_icmp_error(d, &mut frame, info.af, &e, ingress);
        }
        let protocol = Protocol::from_number(info.protocol)
            .ok_or_else(|| anyhow!("protocol {}", info.protocol))?;
        let saddr = to_ip(info.af, &info.saddr);
        let daddr = to_ip(info.af, &info.daddr);
        let pkt = PacketMeta {
            protocol,
            saddr,
            sport: info.sport,
            daddr,
            dport: info.dport,
            fwmark,
            tcp: tcp_flags(info.tcp_flags),
            sctp_init: false,
            len: info.ip_len,
        };
        let verdict = d.ipvs.process_in(&pkt, now);
        // A SYN on a finished connection's tuple (XDP punts those) may have expired the old
        // connection and scheduled a new one on the same flow keys: remove the old flows
        // before installing the new ones (conn ids are reused, too).
        self.remove_drained(d);
        match verdict {
            InVerdict::Forward { id, conn } => {
                if let Some(id) = id {
                    self.install(id, &conn);
                    self.pp_arm(d, id, &conn, &frame);
                    if self.pp.contains_key(&id) {
                        return self.pp_transmit_in(&mut frame, id, &conn);
                    }
                }
                self.transmit_in(&mut frame, &conn, ingress)
            }
            InVerdict::Unreachable | InVerdict::Drop => Ok(()),
            InVerdict::Pass => match d.ipvs.process_out(&pkt, now) {
                OutVerdict::Forward { id, conn } => {
                    self.pp_translate_out(&mut frame, id)?;
                    self.transmit_out(&mut frame, &conn)
                }
                OutVerdict::Pass => Ok(()),
            },
        }
    }

    /// An ICMP error about a packet of a connection (reference §4.5): the quoted packet is
    /// looked up inverted, then the error is translated like the connection's packets.
    fn handle_icmp_error(
        &mut self,
        d: &mut crate::state::Daemon,
        frame: &mut [u8],
        af: lvs_wire::Af,
        e: &lvs_wire::Embedded,
        ingress: u32,
    ) -> anyhow::Result<()> {
        use lvs_core::conn::Addr16;
        use lvs_core::conn::table::{InKey, OutKey};
        let core_af = match af {
            lvs_wire::Af::Inet => lvs_core::Af::Inet,
            lvs_wire::Af::Inet6 => lvs_core::Af::Inet6,
        };
        // From the client side, about our reply VIP:vport -> CIP:cport.
        let in_key = InKey {
            af: core_af,
            protocol: e.protocol,
            caddr: Addr16(e.daddr),
            cport: e.dport,
            vaddr: Addr16(e.saddr),
            vport: e.sport,
        };
        if let Some(c) = d
            .ipvs
            .conns()
            .in_get(&in_key)
            .and_then(|id| d.ipvs.conns().get(id))
            .copied()
        {
            let (daddr, dport) = (c.daddr_ip(), c.dport);
            let bad = |e: lvs_wire::Error| anyhow!("ICMP rewrite: {e:?}");
            return match c.flags.fwd() {
                ForwardMethod::Masq => {
                    lvs_wire::rewrite_icmp_error_in(frame, daddr, dport).map_err(bad)?;
                    lvs_wire::decrement_ttl(frame).map_err(bad)?;
                    self.send_ip(frame, daddr)
                }
                ForwardMethod::FullNat => {
                    lvs_wire::rewrite_icmp_error_in_fullnat(
                        frame,
                        c.laddr_ip(),
                        c.lport,
                        daddr,
                        dport,
                    )
                    .map_err(bad)?;
                    lvs_wire::decrement_ttl(frame).map_err(bad)?;
                    self.send_ip(frame, daddr)
                }
                // DR and TUN forward the error as they forward the connection's packets.
                _ => self.transmit_in(frame, &c, ingress),
            };
        }
        // From a real server, about a packet CIP:cport (or LIP:lport) -> RIP:rport.
        let out_key = OutKey {
            af: core_af,
            protocol: e.protocol,
            saddr: Addr16(e.daddr),
            sport: e.dport,
            daddr: Addr16(e.saddr),
            dport: e.sport,
        };
        let out_id = d.ipvs.conns().out_get(&out_key);
        if let Some(c) = out_id.and_then(|id| d.ipvs.conns().get(id)).copied() {
            let bad = |e: lvs_wire::Error| anyhow!("ICMP rewrite: {e:?}");
            let (vaddr, vport, caddr) = (c.vaddr_ip(), c.vport, c.caddr_ip());
            match c.flags.fwd() {
                ForwardMethod::Masq => {
                    lvs_wire::rewrite_icmp_error_out(frame, vaddr, vport).map_err(bad)?
                }
                ForwardMethod::FullNat => {
                    lvs_wire::rewrite_icmp_error_out_fullnat(frame, vaddr, vport, caddr, c.cport)
                        .map_err(bad)?;
                    if let Some(id) = out_id {
                        self.pp_icmp_quote(frame, id)?;
                    }
                }
                other => bail!("an ICMP error from a real server of a {other:?} connection"),
            }
            lvs_wire::decrement_ttl(frame).map_err(bad)?;
            return self.send_ip(frame, caddr);
        }
        bail!("ICMP error about no known connection")
    }

    fn dest_slot(&mut self, conn: &Conn) -> u32 {
        let Some(did) = conn.dest() else { return 0 };
        let slot = did.0 % self.dests_max;
        self.dest_slots.insert(slot, did);
        slot
    }

    /// Install the flow entries of a new connection (idempotent).
    fn install(&mut self, id: ConnId, c: &Conn) {
        if self.installed.contains_key(&id) {
            return;
        }
        let slot = self.dest_slot(c);
        let proto = c.protocol;
        let af = if c.af == 0 {
            lvs_common::AF_INET
        } else {
            lvs_common::AF_INET6
        };
        let caddr = c.caddr_ip();
        let vaddr = c.vaddr_ip();
        let daddr = c.daddr_ip();
        let noout = c.flags.has(ConnFlags::NOOUTPUT);
        let in_dir = if noout { dir::INPUT_ONLY } else { dir::INPUT };
        let in_key = FlowKey::new(proto, caddr, c.cport, vaddr, c.vport);
        let mut keys = Vec::new();
        let fwd = c.flags.fwd();
        let in_val = match fwd {
            ForwardMethod::Masq => {
                FlowValue::new(action::NAT_IN, in_dir, af, id, slot).with_dst(daddr, c.dport)
            }
            ForwardMethod::FullNat => FlowValue::new(action::FNAT_IN, in_dir, af, id, slot)
                .with_src(c.laddr_ip(), c.lport)
                .with_dst(daddr, c.dport),
            ForwardMethod::Route => {
                FlowValue::new(action::DR, in_dir, af, id, slot).with_dst(daddr, 0)
            }
            ForwardMethod::Tunnel => {
                let src = route_source(daddr).unwrap_or(daddr);
                let out_af = if daddr.is_ipv4() {
                    lvs_common::AF_INET
                } else {
                    lvs_common::AF_INET6
                };
                let mut v = FlowValue::new(action::TUN_IPIP, in_dir, out_af, id, slot)
                    .with_src(src, 0)
                    .with_dst(daddr, 0);
                v.out_af = out_af;
                v
            }
            _ => FlowValue::new(action::PUNT, in_dir, af, id, slot),
        };
        if self.dp.insert_flow(&in_key, &in_val).is_ok() {
            keys.push(in_key);
        }
        match fwd {
            ForwardMethod::Masq => {
                let k = FlowKey::new(proto, daddr, c.dport, caddr, c.cport);
                let v = FlowValue::new(action::NAT_OUT, dir::OUTPUT, af, id, slot)
                    .with_src(vaddr, c.vport);
                if self.dp.insert_flow(&k, &v).is_ok() {
                    keys.push(k);
                }
            }
            ForwardMethod::FullNat => {
                let k = FlowKey::new(proto, daddr, c.dport, c.laddr_ip(), c.lport);
                let v = FlowValue::new(action::FNAT_OUT, dir::OUTPUT, af, id, slot)
                    .with_src(vaddr, c.vport)
                    .with_dst(caddr, c.cport);
                if self.dp.insert_flow(&k, &v).is_ok() {
                    keys.push(k);
                }
            }
            _ => {}
        }
        let state = lvs_common::ConnState {
            state: c.state,
            ..Default::default()
        };
        let _ = self.dp.set_conn(id, &state);
        self.installed.insert(id, keys);
    }

    fn send_ip(&self, frame: &[u8], dst: IpAddr) -> anyhow::Result<()> {
        let ip = frame.get(14..).ok_or_else(|| anyhow!("short frame"))?;
        let sock = if dst.is_ipv4() {
            &self.raw4
        } else {
            &self.raw6
        };
        sock.send_to(ip, &SocketAddr::new(dst, 0).into())
            .with_context(|| format!("raw send to {dst}"))?;
        Ok(())
    }

    fn transmit_in(&mut self, frame: &mut [u8], c: &Conn, ingress: u32) -> anyhow::Result<()> {
        let daddr = c.daddr_ip();
        lvs_wire::decrement_ttl(frame).map_err(|e| anyhow!("ttl: {e:?}"))?;
        match c.flags.fwd() {
            ForwardMethod::Masq => {
                lvs_wire::rewrite_tuple(frame, None, Some((daddr, c.dport)))
                    .map_err(|e| anyhow!("rewrite: {e:?}"))?;
                self.send_ip(frame, daddr)
            }
            ForwardMethod::FullNat => {
                lvs_wire::rewrite_tuple(
                    frame,
                    Some((c.laddr_ip(), c.lport)),
                    Some((daddr, c.dport)),
                )
                .map_err(|e| anyhow!("rewrite: {e:?}"))?;
                self.send_ip(frame, daddr)
            }
            ForwardMethod::Tunnel => {
                let src = route_source(daddr)?;
                // A DF packet that no longer fits once encapsulated: the client is told
                // the MTU that is left (ICMP fragmentation needed / packet too big).
                let info = lvs_wire::parse_frame(frame).map_err(|e| anyhow!("parse: {e:?}"))?;
                let overhead = if daddr.is_ipv4() { 20 } else { 40 };
                let mtu = self.route_mtu_cached(daddr);
                if info.df && info.ip_len + overhead > mtu {
                    return self.frag_needed(frame, &info, mtu - overhead);
                }
                let mut out = vec![0u8; frame.len() + 64];
                let n = lvs_wire::encap_ipip(
                    frame,
                    &mut out,
                    &lvs_wire::Outer {
                        src_mac: [0; 6],
                        dst_mac: [0; 6],
                        src,
                        dst: daddr,
                    },
                )
                .map_err(|e| anyhow!("encap: {e:?}"))?;
                self.send_ip(&out[..n], daddr)
            }
            ForwardMethod::Route => self.send_l2(frame, daddr, ingress),
            other => bail!("forwarding method {other:?} not supported by the data plane"),
        }
    }

    /// Answer the sender of `frame` with ICMP fragmentation needed (IPv6: packet too big)
    /// announcing `mtu`.
    fn frag_needed(
        &mut self,
        frame: &[u8],
        info: &lvs_wire::FrameInfo,
        mtu: u32,
    ) -> anyhow::Result<()> {
        let client = to_ip(info.af, &info.saddr);
        let me = route_source(client)?;
        let mut out = vec![0u8; 1400];
        let n = lvs_wire::build_icmp_frag_needed(frame, mtu, &mut out, me)
            .map_err(|e| anyhow!("frag-needed: {e:?}"))?;
        self.send_ip(&out[..n], client)
    }

    fn route_mtu_cached(&mut self, dst: IpAddr) -> u32 {
        if let Some((m, at)) = self.mtus.get(&dst)
            && at.elapsed() < CACHE_TTL
        {
            return *m;
        }
        let m = route_mtu(dst).unwrap_or(1500);
        self.mtus.insert(dst, (m, Instant::now()));
        m
    }

    /// Direct routing: the frame keeps its IP header; only the MACs change.
    fn send_l2(&mut self, frame: &mut [u8], rip: IpAddr, _ingress: u32) -> anyhow::Result<()> {
        let mut n = self
            .neighbours
            .get(&rip)
            .filter(|(_, _, at)| at.elapsed() < CACHE_TTL)
            .map(|(dev, mac, _)| (dev.clone(), *mac));
        let cached = n.is_some();
        if n.is_none() {
            n = neighbour(rip);
        }
        if n.is_none() {
            provoke_neighbour(rip);
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(10));
                n = neighbour(rip);
                if n.is_some() {
                    break;
                }
            }
        }
        let (dev, mac) = n.ok_or_else(|| anyhow!("no MAC address for real server {rip}"))?;
        if !cached {
            self.neighbours
                .insert(rip, (dev.clone(), mac, Instant::now()));
        }
        let iface = self
            .ifaces
            .iter()
            .find(|i| i.name == dev)
            .cloned()
            .ok_or_else(|| {
                anyhow!("real server {rip} is behind {dev}, which lvsd does not serve")
            })?;
        lvs_wire::set_macs(frame, iface.mac, mac).map_err(|e| anyhow!("macs: {e:?}"))?;
        let port = self
            .ports
            .iter_mut()
            .find(|p| p.ifindex == iface.ifindex)
            .ok_or_else(|| anyhow!("no AF_XDP socket on {dev}"))?;
        if !port.send(frame) {
            bail!("AF_XDP transmit ring full on {dev}");
        }
        Ok(())
    }

    fn transmit_out(&mut self, frame: &mut [u8], c: &Conn) -> anyhow::Result<()> {
        lvs_wire::decrement_ttl(frame).map_err(|e| anyhow!("ttl: {e:?}"))?;
        let caddr = c.caddr_ip();
        match c.flags.fwd() {
            ForwardMethod::Masq => {
                lvs_wire::rewrite_tuple(frame, Some((c.vaddr_ip(), c.vport)), None)
                    .map_err(|e| anyhow!("rewrite: {e:?}"))?;
            }
            ForwardMethod::FullNat => {
                lvs_wire::rewrite_tuple(
                    frame,
                    Some((c.vaddr_ip(), c.vport)),
                    Some((caddr, c.cport)),
                )
                .map_err(|e| anyhow!("rewrite: {e:?}"))?;
            }
            other => bail!("no replies pass the director for {other:?}"),
        }
        self.send_ip(frame, caddr)
    }

    /// Connections a backup sync daemon created or changed: install their flow entries
    /// (so that, once this director owns the VIP, their packets are forwarded in XDP from
    /// the first one, replies of NAT included), or bring XDP's copy of the TCP state up
    /// to date.
    fn install_synced(&mut self, d: &mut crate::state::Daemon) {
        for id in d.ipvs.drain_synced() {
            let Some(c) = d.ipvs.conns().get(id).copied() else {
                continue;
            };
            if self.installed.contains_key(&id) {
                if let Ok(mut st) = self.dp.conn(id)
                    && st.state != c.state
                {
                    st.state = c.state;
                    let _ = self.dp.set_conn(id, &st);
                }
            } else if !c.is_template() {
                self.install(id, &c);
            }
        }
    }

    /// What XDP saw: state changes (run through the model, with the sync master's
    /// decision) and, for a sync master, packets that meet the sync threshold.
    fn drain_events(&mut self, d: &mut crate::state::Daemon, now: Time) {
        while let Some(rec) = self.dp.next_record() {
            let ev = match rec {
                Record::New(n) => {
                    self.adopt(d, &n, now);
                    continue;
                }
                Record::Event(ev) => ev,
            };
            if ev.kind == lvs_common::EV_SYNC {
                d.ipvs.sync_packets(ev.conn_id, ev.pkts, now);
                continue;
            }
            if ev.kind != lvs_common::EV_STATE {
                continue;
            }
            let flags = TcpFlags {
                fin: ev.tcp_flags & 0x01 != 0,
                syn: ev.tcp_flags & 0x02 != 0,
                rst: ev.tcp_flags & 0x04 != 0,
                ack: ev.tcp_flags & 0x10 != 0,
            };
            let dir = if ev.dir == dir::OUTPUT {
                Direction::Output
            } else {
                Direction::Input
            };
            d.ipvs.observe_counted(ev.conn_id, dir, flags, ev.pkts, now);
        }
    }

    /// Expire what is due, asking XDP when it last saw each entry; remove the flows of
    /// whatever the model removed.
    fn expire(&mut self, d: &mut crate::state::Daemon, now: Time) {
        let dp = &self.dp;
        let start = self.mono_start_ns;
        let installed = &self.installed;
        d.ipvs.poll_with(now, |id, _| {
            if !installed.contains_key(&id) {
                return None;
            }
            let st = dp.conn(id).ok()?;
            (st.last_seen_ns != 0)
                .then(|| Time::from_millis(st.last_seen_ns.saturating_sub(start) / 1_000_000))
        });
        self.remove_drained(d);
    }

    /// Remove the flows of every connection the model removed since the last call.
    fn remove_drained(&mut self, d: &mut crate::state::Daemon) {
        for (id, _) in d.ipvs.drain_removed() {
            self.pp.remove(&id);
            if let Some(keys) = self.installed.remove(&id) {
                for k in keys {
                    let _ = self.dp.remove_flow(&k);
                }
            }
        }
    }

    fn status(&self) -> lvs_api::DataplaneStatus {
        let mut counters: Vec<(String, u64)> = self
            .dp
            .stats()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.name().to_string(), v))
            .collect();
        if let Some(h) = &self.fwmark {
            for (name, st) in [
                ("nf_seen", NfStat::Seen),
                ("nf_handed", NfStat::Handed),
                ("nf_too_big", NfStat::TooBig),
                ("nf_ring_full", NfStat::RingFull),
            ] {
                counters.push((name.to_string(), h.stat(st)));
            }
        }
        lvs_api::DataplaneStatus {
            running: true,
            interfaces: self
                .dp
                .attached()
                .into_iter()
                .map(|(n, m)| (n, m.to_string()))
                .collect(),
            flows: self.dp.flows().map_or(0, |f| f.len() as u64),
            counters: counters
                .into_iter()
                .chain([
                    ("pp_header_handshake".to_string(), self.pp_handshake),
                    ("pp_header_inserted".to_string(), self.pp_inserted),
                    ("pp_header_separate".to_string(), self.pp_separate),
                ])
                .collect(),
        }
    }

    /// Fold XDP's per-real-server counters into the model.
    fn fold_dest_stats(&mut self, d: &mut crate::state::Daemon) {
        for (&slot, &did) in &self.dest_slots {
            let Ok(now) = self.dp.dest_stats(slot) else {
                continue;
            };
            let prev = self.dest_prev.insert(slot, now).unwrap_or_default();
            let din = (
                now.pkts_in.saturating_sub(prev.pkts_in),
                now.bytes_in.saturating_sub(prev.bytes_in),
            );
            let dout = (
                now.pkts_out.saturating_sub(prev.pkts_out),
                now.bytes_out.saturating_sub(prev.bytes_out),
            );
            if din != (0, 0) || dout != (0, 0) {
                d.ipvs.add_dest_traffic(did, din, dout);
            }
        }
    }
}

/// New connections scheduled in XDP (docs/xdp.md, "New connections in XDP").
impl Plane {
    /// The fast-path records the configuration asks for: service id -> sequence of
    /// DestIds, and the templates of those real servers. Empty with `--slow-new-flows`.
    fn fast_plans(
        &mut self,
        d: &crate::state::Daemon,
    ) -> (HashMap<u32, Vec<u32>>, HashMap<u32, FastDest>) {
        let mut svcs = HashMap::new();
        let mut dests = HashMap::new();
        if !self.fast_new {
            return (svcs, dests);
        }
        for s in d.ipvs.services() {
            if d.proxy_protocol.contains(s.key()) {
                continue;
            }
            let Some(sid) = d.ipvs.service_id_of(s.key()) else {
                continue;
            };
            let Some(plan) = d.ipvs.fast_plan(sid) else {
                continue;
            };
            let mut templates = Vec::new();
            for did in &plan.seq {
                let Some(t) = self.fast_template(d, *did) else {
                    break;
                };
                templates.push(t);
            }
            if templates.len() != plan.seq.len() {
                continue; // a tunnel endpoint without a route: the slow path handles it
            }
            for t in templates {
                dests.insert(t.dest_id, t);
            }
            svcs.insert(sid.0, plan.seq.iter().map(|d| d.0).collect());
        }
        (svcs, dests)
    }

    /// The flow template of real server `did`, as [`Plane::install`] would write it.
    fn fast_template(&mut self, d: &crate::state::Daemon, did: DestId) -> Option<FastDest> {
        let dest = d.ipvs.dest(did)?;
        let (out_af, daddr) = lvs_common::addr16(dest.addr);
        let dest_slot = did.0 % self.dests_max;
        let mut t = FastDest {
            dest_id: did.0,
            dest_slot,
            out_af,
            daddr,
            ..Default::default()
        };
        match dest.fwd {
            ForwardMethod::Masq => {
                t.action = action::NAT_IN;
                t.dir = dir::INPUT;
                t.dport = dest.port.to_be();
            }
            ForwardMethod::Route => {
                t.action = action::DR;
                t.dir = dir::INPUT_ONLY;
            }
            ForwardMethod::Tunnel => {
                t.action = action::TUN_IPIP;
                t.dir = dir::INPUT_ONLY;
                t.saddr = lvs_common::addr16(route_source(dest.addr).ok()?).1;
            }
            _ => return None,
        }
        self.dest_slots.insert(dest_slot, did);
        Some(t)
    }

    /// Remove the records no longer wanted (services first: XDP then stops picking).
    fn remove_stale_fast(&mut self, want: &(HashMap<u32, Vec<u32>>, HashMap<u32, FastDest>)) {
        let gone: Vec<u32> = self
            .fast_svcs
            .iter()
            .filter(|(k, v)| want.0.get(k) != Some(v))
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            if let Err(e) = self.dp.remove_fast_svc(k) {
                tracing::warn!(error = %e, "removing a fast-path service");
            }
            self.fast_svcs.remove(&k);
        }
        let gone: Vec<u32> = self
            .fast_dests
            .iter()
            .filter(|(k, v)| want.1.get(k) != Some(v))
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            let _ = self.dp.remove_fast_dest(k);
            self.fast_dests.remove(&k);
        }
    }

    /// Write the new records: templates before the sequences that name them.
    fn write_fast(&mut self, want: (HashMap<u32, Vec<u32>>, HashMap<u32, FastDest>)) {
        let (svcs, dests) = want;
        for (k, t) in dests {
            if self.fast_dests.get(&k) == Some(&t) {
                continue;
            }
            match self.dp.set_fast_dest(k, &t) {
                Ok(()) => {
                    self.fast_dests.insert(k, t);
                }
                Err(e) => tracing::warn!(error = %e, "writing a fast-path real server"),
            }
        }
        for (k, seq) in svcs {
            if self.fast_svcs.get(&k) == Some(&seq) {
                continue;
            }
            if !seq.iter().all(|d| self.fast_dests.contains_key(d)) {
                continue;
            }
            let mut rec = FastSvc {
                n: seq.len() as u32,
                ..Default::default()
            };
            rec.seq[..seq.len()].copy_from_slice(&seq);
            match self.dp.set_fast_svc(k, &rec) {
                Ok(()) => {
                    self.fast_svcs.insert(k, seq);
                }
                Err(e) => tracing::warn!(error = %e, "writing a fast-path service"),
            }
        }
    }

    /// Keep `LVS_CONN_IDS` full of ids reserved in the model (in batches), and release the
    /// quarantined ids of refused connections.
    fn top_up_conn_ids(&mut self, d: &mut crate::state::Daemon) {
        let now = Instant::now();
        self.quarantine.retain(|(id, at)| {
            if now.duration_since(*at) < QUARANTINE {
                return true;
            }
            d.ipvs.release_conn_id(*id);
            false
        });
        if self.fast_svcs.is_empty() {
            return;
        }
        let room = (lvs_common::CONN_IDS_MAX as usize).saturating_sub(self.ids_queued);
        if room < 256 {
            return;
        }
        for id in d.ipvs.reserve_conn_ids(room) {
            // LVS_CONNS is an array of conns_max entries
            if id >= self.conns_max || self.dp.push_conn_id(id).is_err() {
                d.ipvs.release_conn_id(id);
            } else {
                self.ids_queued += 1;
            }
        }
    }

    /// A connection XDP created: the model adopts it (and its flows are recorded as
    /// installed), or, if its service or real server went away meanwhile, its flows are
    /// removed and its id released.
    fn adopt(&mut self, d: &mut crate::state::Daemon, ev: &lvs_common::NewConnEvent, now: Time) {
        self.ids_queued = self.ids_queued.saturating_sub(1);
        let k = ev.key;
        let parsed = (
            Protocol::from_number(k.proto),
            lvs_common::ip_from_addr16(k.af, &k.saddr),
            lvs_common::ip_from_addr16(k.af, &k.daddr),
        );
        let result = match parsed {
            (Some(protocol), Some(caddr), Some(vaddr)) => {
                let a = Adopt {
                    service: ServiceId(ev.svc_id),
                    dest: DestId(ev.dest_id),
                    id: ev.conn_id,
                    protocol,
                    caddr,
                    cport: k.sport(),
                    vaddr,
                    vport: k.dport(),
                };
                d.ipvs.adopt(&a, now).map_err(|e| e.to_string())
            }
            _ => Err("malformed record".to_string()),
        };
        match result {
            Ok(c) => {
                let mut keys = vec![k];
                if c.flags.fwd() == ForwardMethod::Masq {
                    keys.push(FlowKey::new(
                        c.protocol,
                        c.daddr_ip(),
                        c.dport,
                        c.caddr_ip(),
                        c.cport,
                    ));
                }
                self.dest_slot(&c);
                self.installed.insert(ev.conn_id, keys);
            }
            Err(e) => {
                tracing::debug!(error = %e, conn = ev.conn_id, "XDP connection not adopted");
                self.remove_flows_of(ev.conn_id, &k);
                if d.ipvs.conns().is_reserved(ev.conn_id) {
                    self.quarantine.push((ev.conn_id, Instant::now()));
                }
            }
        }
    }

    /// Remove the flows XDP inserted for connection `id` (input flow `key`, and the output
    /// flow a NAT input flow implies), where they still belong to it.
    fn remove_flows_of(&mut self, id: ConnId, key: &FlowKey) {
        let Ok(Some(v)) = self.dp.flow(key) else {
            return;
        };
        if v.conn_id != id {
            return;
        }
        let _ = self.dp.remove_flow(key);
        if v.action == action::NAT_IN {
            let out = FlowKey {
                af: key.af,
                proto: key.proto,
                pad: 0,
                sport: v.new_dport,
                dport: key.sport,
                saddr: v.new_daddr,
                daddr: key.saddr,
            };
            if let Ok(Some(o)) = self.dp.flow(&out)
                && o.conn_id == id
            {
                let _ = self.dp.remove_flow(&out);
            }
        }
    }
}

/// How long the id of a refused XDP connection stays reserved.
const QUARANTINE: Duration = Duration::from_secs(2);

/// FULLNAT with Proxy Protocol v2 (docs/proxy-protocol.md): the PROXY header goes in front
/// of the client's byte stream; the XDP/TC flows translate sequence numbers afterwards.
impl Plane {
    /// A new FULLNAT TCP connection of a `--proxy-protocol` service, opened by `frame` (a
    /// SYN): build its header and make XDP punt its segments until the header is out
    /// (`FF_PP_WAIT`). Connections not opened by a SYN (sloppy TCP) get no header.
    fn pp_arm(&mut self, d: &crate::state::Daemon, id: ConnId, c: &Conn, frame: &[u8]) {
        if self.pp.contains_key(&id)
            || c.flags.fwd() != ForwardMethod::FullNat
            || c.protocol != lvs_common::IPPROTO_TCP
        {
            return;
        }
        let service = c
            .dest()
            .and_then(|did| d.ipvs.dest(did))
            .and_then(|dest| dest.svc)
            .and_then(|sid| d.ipvs.service_by_id(sid))
            .map(|s| *s.key());
        if !service.is_some_and(|k| d.proxy_protocol.contains(&k)) {
            return;
        }
        let Some((seq, flags, _)) = lvs_wire::tcp_seq_flags_len(frame) else {
            return;
        };
        if flags & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN {
            return;
        }
        let mut header = [0u8; lvs_wire::proxy::MAX_BUILT_LEN];
        let Ok(len) = lvs_wire::proxy::build_v2(
            SocketAddr::new(c.caddr_ip(), c.cport),
            SocketAddr::new(c.vaddr_ip(), c.vport),
            &mut header,
        ) else {
            return;
        };
        let pp = PpConn {
            first_seq: seq.wrapping_add(1),
            header,
            len,
            sent: false,
        };
        let in_key = FlowKey::new(c.protocol, c.caddr_ip(), c.cport, c.vaddr_ip(), c.vport);
        self.set_flow(&in_key, |v| {
            v.flags = lvs_common::FF_PP_WAIT;
            v.pp_seq = pp.first_seq;
            v.seq_delta = pp.delta();
        });
        self.pp.insert(id, pp);
    }

    /// Change an installed flow entry in place.
    fn set_flow(&mut self, key: &FlowKey, f: impl FnOnce(&mut FlowValue)) {
        if let Ok(Some(mut v)) = self.dp.flow(key) {
            f(&mut v);
            if let Err(e) = self.dp.insert_flow(key, &v) {
                tracing::warn!(error = %e, "updating a Proxy Protocol flow");
            }
        }
    }

    /// The header is (about to be) out: both flows translate from now on, and XDP still
    /// punts the client's first data segment when it comes again (`FF_PP_FIRST`).
    fn pp_mark_sent(&mut self, id: ConnId, c: &Conn) {
        let Some(pp) = self.pp.get_mut(&id) else {
            return;
        };
        if pp.sent {
            return;
        }
        pp.sent = true;
        let (first, delta) = (pp.first_seq, pp.delta());
        let in_key = FlowKey::new(c.protocol, c.caddr_ip(), c.cport, c.vaddr_ip(), c.vport);
        self.set_flow(&in_key, |v| {
            v.flags = lvs_common::FF_PP_FIRST | lvs_common::FF_SEQ;
            v.pp_seq = first;
            v.seq_delta = delta;
        });
        let out_key = FlowKey::new(c.protocol, c.daddr_ip(), c.dport, c.laddr_ip(), c.lport);
        self.set_flow(&out_key, |v| {
            v.flags = lvs_common::FF_SEQ;
            v.seq_delta = delta;
        });
    }

    /// A client → real server segment of a Proxy Protocol connection (XDP punted it, or
    /// it opened the connection): FULLNAT as usual, plus the header where it is due.
    ///
    /// * SYN: untranslated (TCP Fast Open data is left out: the client sends it again
    ///   after the handshake, behind the header).
    /// * Before the header went out: a RST goes as it is; the handshake's last ACK goes as
    ///   it is (a SYN-cookie server checks its sequence number) and the header follows as
    ///   a segment of its own; the first data segment carries the header in front of its
    ///   data; anything else (a FIN, data that would not fit the MTU with the header) is
    ///   preceded by the header as a segment of its own and translated.
    /// * After: the first data segment again (a retransmission) carries the header again
    ///   (the same bytes at the same sequence numbers: a duplicate to a real server that
    ///   has them); anything else is translated.
    fn pp_transmit_in(&mut self, frame: &mut [u8], id: ConnId, c: &Conn) -> anyhow::Result<()> {
        let daddr = c.daddr_ip();
        let (seq, flags, plen) =
            lvs_wire::tcp_seq_flags_len(frame).ok_or_else(|| anyhow!("not a TCP segment"))?;
        lvs_wire::decrement_ttl(frame).map_err(|e| anyhow!("ttl: {e:?}"))?;
        lvs_wire::rewrite_tuple(frame, Some((c.laddr_ip(), c.lport)), Some((daddr, c.dport)))
            .map_err(|e| anyhow!("rewrite: {e:?}"))?;
        let pp = self
            .pp
            .get(&id)
            .cloned()
            .ok_or_else(|| anyhow!("no Proxy Protocol state"))?;
        let first_data = plen > 0 && seq == pp.first_seq;
        // (the route MTU only matters for the first data segment)
        let fits = first_data && {
            let ip_len = lvs_wire::parse_frame(frame)
                .map_err(|e| anyhow!("parse: {e:?}"))?
                .ip_len;
            ip_len + pp.delta() <= self.route_mtu_cached(daddr)
        };
        let step = pp_step(pp.sent, pp.first_seq, seq, flags, plen, fits);
        if !matches!(step, PpStep::AsIs | PpStep::SynWithoutData) {
            self.pp_mark_sent(id, c);
        }
        match step {
            PpStep::AsIs => self.send_ip(frame, daddr),
            PpStep::SynWithoutData => {
                let mut out = vec![0u8; frame.len()];
                let n = lvs_wire::tcp_rebuild(frame, seq, flags, &[], &mut out)
                    .map_err(|e| anyhow!("SYN without data: {e:?}"))?;
                self.send_ip(&out[..n], daddr)
            }
            PpStep::AckThenHeader => {
                self.send_ip(frame, daddr)?;
                self.pp_handshake += 1;
                self.pp_send_header_segment(frame, &pp, daddr)
            }
            PpStep::Insert => {
                let mut out = vec![0u8; frame.len() + pp.len];
                let n = lvs_wire::tcp_insert_payload(frame, pp.header(), &mut out)
                    .map_err(|e| anyhow!("PROXY header: {e:?}"))?;
                self.pp_inserted += 1;
                self.send_ip(&out[..n], daddr)
            }
            PpStep::HeaderThenTranslated | PpStep::Translated => {
                if step == PpStep::HeaderThenTranslated {
                    self.pp_separate += 1;
                    self.pp_send_header_segment(frame, &pp, daddr)?;
                }
                lvs_wire::seq_translate_in(frame, pp.delta()).map_err(|e| anyhow!("seq: {e:?}"))?;
                self.send_ip(frame, daddr)
            }
        }
    }

    /// The PROXY header as a segment of its own at the first data sequence number, with
    /// the headers of `frame` (already FULLNAT-rewritten): its acknowledgement number,
    /// window and options (timestamps), flags ACK|PSH.
    fn pp_send_header_segment(
        &mut self,
        frame: &[u8],
        pp: &PpConn,
        daddr: IpAddr,
    ) -> anyhow::Result<()> {
        let (_, flags, _) =
            lvs_wire::tcp_seq_flags_len(frame).ok_or_else(|| anyhow!("not a TCP segment"))?;
        let mut out = vec![0u8; frame.len() + pp.len];
        let n = lvs_wire::tcp_rebuild(
            frame,
            pp.first_seq,
            (flags & TCP_ACK) | TCP_PSH,
            &[pp.header()],
            &mut out,
        )
        .map_err(|e| anyhow!("PROXY header segment: {e:?}"))?;
        self.send_ip(&out[..n], daddr)
    }

    /// A real server → client segment of a Proxy Protocol connection that reached the slow
    /// path: acknowledgement and SACK back into the client's numbers once the header is
    /// out.
    fn pp_translate_out(&self, frame: &mut [u8], id: ConnId) -> anyhow::Result<()> {
        if let Some(pp) = self.pp.get(&id)
            && pp.sent
        {
            lvs_wire::seq_translate_out(frame, pp.delta()).map_err(|e| anyhow!("seq: {e:?}"))?;
        }
        Ok(())
    }

    /// An ICMP error about a segment the director sent to the real server quotes the real
    /// server's sequence number: give the client its own (it ignores errors about
    /// sequence numbers it never sent).
    fn pp_icmp_quote(&self, frame: &mut [u8], id: ConnId) -> anyhow::Result<()> {
        let Some(pp) = self.pp.get(&id).filter(|pp| pp.sent) else {
            return Ok(());
        };
        let (first, delta) = (pp.first_seq, pp.delta());
        lvs_wire::tcpseq::icmp_quote_tcp_seq(frame, |s| {
            // the header-carrying segment starts at the first sequence number in both
            // spaces; everything after the header is delta higher at the real server
            if s.wrapping_sub(first) >= delta && s.wrapping_sub(first) < 1 << 31 {
                s.wrapping_sub(delta)
            } else {
                s
            }
        })
        .map_err(|e| anyhow!("ICMP quote: {e:?}"))?;
        Ok(())
    }
}

/// What the slow path does with a client → real server segment of a Proxy Protocol
/// connection (see [`Plane::pp_transmit_in`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PpStep {
    /// Forward it untranslated: a SYN without data, a RST before the header went out.
    AsIs,
    /// A SYN with data (TCP Fast Open): forward it without the data.
    SynWithoutData,
    /// The handshake's last ACK: untranslated, then the header on its own.
    AckThenHeader,
    /// The first data segment: the header in front of its payload.
    Insert,
    /// The header on its own, then the segment translated.
    HeaderThenTranslated,
    /// Translated (the header is out).
    Translated,
}

/// The decision of [`Plane::pp_transmit_in`] for a segment with sequence number `seq`, TCP
/// flag bits `flags` and `plen` bytes of payload; `sent`: the header went out before;
/// `fits`: the segment with the header would not exceed the route MTU.
fn pp_step(sent: bool, first_seq: u32, seq: u32, flags: u8, plen: usize, fits: bool) -> PpStep {
    if flags & TCP_SYN != 0 {
        return if plen == 0 {
            PpStep::AsIs
        } else {
            PpStep::SynWithoutData
        };
    }
    if !sent && flags & TCP_RST != 0 {
        return PpStep::AsIs;
    }
    let first_data = plen > 0 && seq == first_seq;
    if !sent && plen == 0 && flags & TCP_FIN == 0 {
        return PpStep::AckThenHeader;
    }
    if first_data && fits {
        PpStep::Insert
    } else if first_data || !sent {
        PpStep::HeaderThenTranslated
    } else {
        PpStep::Translated
    }
}

/// Start the slow-path thread over interfaces `names` (all up ones when empty).
pub fn spawn(
    names: &[String],
    fast_new: bool,
    shared: Shared,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let names = if names.is_empty() {
        default_interfaces()?
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        bail!("no up interface to serve (use --interface)");
    }
    // The plane holds raw pointers into AF_XDP memory, so it is built on the thread that
    // uses it; the thread reports whether starting worked.
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("lvsd-slowpath".into())
        .spawn(move || match Plane::start(&names) {
            Ok(mut plane) => {
                plane.fast_new = fast_new;
                {
                    let mut d = shared.lock();
                    d.ipvs.set_journal(true);
                    d.ipvs.set_sync_journal(true);
                    d.changed();
                }
                let _ = tx.send(Ok(()));
                plane.run(shared, stop);
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        })?;
    match rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => bail!("the slow-path thread died while starting"),
    }
}

#[cfg(test)]
mod pp_test {
    use super::*;

    const FIRST: u32 = 1001;

    #[test]
    fn pp_steps() {
        use PpStep::*;
        let ack = TCP_ACK;
        for sent in [false, true] {
            // SYN (a retransmitted one too): never translated; Fast Open data dropped.
            assert_eq!(pp_step(sent, FIRST, 1000, TCP_SYN, 0, true), AsIs);
            assert_eq!(
                pp_step(sent, FIRST, 1000, TCP_SYN, 10, true),
                SynWithoutData
            );
            // The first data segment and its retransmissions carry the header.
            assert_eq!(
                pp_step(sent, FIRST, FIRST, ack | TCP_PSH, 100, true),
                Insert
            );
            assert_eq!(
                pp_step(sent, FIRST, FIRST, ack, 1448, false),
                HeaderThenTranslated
            );
        }
        // Before the header: the handshake's ACK, a RST, a FIN, data elsewhere.
        assert_eq!(pp_step(false, FIRST, FIRST, ack, 0, false), AckThenHeader);
        assert_eq!(pp_step(false, FIRST, FIRST, TCP_RST, 0, false), AsIs);
        assert_eq!(
            pp_step(false, FIRST, FIRST, ack | TCP_FIN, 0, false),
            HeaderThenTranslated
        );
        assert_eq!(
            pp_step(false, FIRST, FIRST + 500, ack, 100, false),
            HeaderThenTranslated
        );
        // After: everything else is translated (RST and FIN included).
        assert_eq!(pp_step(true, FIRST, FIRST, ack, 0, false), Translated);
        assert_eq!(
            pp_step(true, FIRST, FIRST + 7, TCP_RST, 0, false),
            Translated
        );
        assert_eq!(
            pp_step(true, FIRST, FIRST + 9, ack | TCP_FIN, 3, false),
            Translated
        );
        assert_eq!(
            pp_step(true, FIRST, FIRST + 100, ack, 100, true),
            Translated
        );
    }
}
