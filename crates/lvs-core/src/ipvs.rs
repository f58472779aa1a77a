//! The director's whole state: services, real servers, connections and stats, with the
//! configuration operations of ipvsadm (`ip_vs_ctl.c`) and the per-packet decisions of
//! `ip_vs_core.c` / `ip_vs_conn.c`, all sans-IO.
//!
//! The I/O layer (the XDP slow path, tests) calls [`Ipvs::process_in`] for a packet from a
//! client towards a virtual service, [`Ipvs::process_out`] for a reply from a real server
//! that passes the director (NAT, FULLNAT), and [`Ipvs::poll`] at least once a second to run
//! the timers (connection expiry, the 2 s rate estimator, scheduler housekeeping, the
//! destination trash). Every call takes the current [`Time`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::conn::table::{InKey, OutKey};
use crate::conn::{
    Addr16, Conn, ConnFlags, ConnId, ConnTable, Direction, NONE, TcpState, Timeouts, af_code, tcp,
};
use crate::dest::{Dest, DestFlags, DestId, DestSlab};
use crate::error::{IpvsError, LaddrError};
use crate::fullnat::LaddrInfo;
use crate::sched::{DestList, PacketInfo, SchedParams, SchedService, new_scheduler};
use crate::service::{DestConfig, Service, ServiceConfig};
use crate::stats::{ESTIMATOR_PERIOD_MS, Stats};
use crate::time::Time;
use crate::types::{
    Af, ForwardMethod, MAX_TIMEOUT, Protocol, SCHED_NAME_MAX, ServiceFlags, ServiceKey, TunnelType,
    mask_addr,
};

mod fast;
mod sync;

pub use fast::{Adopt, AdoptError, FAST_SEQ_MAX, FastPlan, wrr_period};
pub use sync::{BACKUP_MASK, BACKUP_UPD_MASK};

/// Handle of a service inside an [`Ipvs`]. Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(pub u32);

/// `IP_VS_VERSION_CODE`: 1.2.1, what `ipvsadm -L` prints in its header.
pub const IPVS_VERSION: u32 = 0x0001_0201;

/// The connection hash table size ipvsadm reports (`conn_tab_bits` 12). Our table grows on
/// demand; the figure is reported for compatibility.
pub const CONN_TAB_SIZE: u32 = 4096;

/// How long a deleted destination stays revivable after its last connection is gone
/// (`IP_VS_DEST_TRASH_PERIOD`).
pub const DEST_TRASH_PERIOD_MS: u64 = 120_000;

/// How long a connection that still controls others is kept when it expires.
const CONTROL_REARM_MS: u32 = 60_000;

/// A new connection's timeout before its first state transition (`ip_vs_conn_new`).
const NEW_CONN_TIMEOUT_MS: u32 = 3_000;

/// Template state value meaning the client's connection was seen established
/// (`IP_VS_CTPL_S_ASSURED`).
pub const TEMPLATE_ASSURED: u8 = 1;

/// The IPVS sysctls this core honours (`/proc/sys/net/ipv4/vs/`, reference §8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Per-state timeouts (`--set`).
    pub timeouts: Timeouts,
    /// `expire_nodest_conn`: expire connections of deleted destinations on their next
    /// packet (and flush them in the background) instead of dropping their packets.
    pub expire_nodest_conn: bool,
    /// `expire_quiescent_template`: templates of weight-0 destinations stop being valid.
    pub expire_quiescent_template: bool,
    /// `sloppy_tcp`: schedule on any non-RST TCP packet, not only SYN.
    pub sloppy_tcp: bool,
    /// `sloppy_sctp`: schedule on any SCTP packet, not only INIT.
    pub sloppy_sctp: bool,
    /// `conn_reuse_mode` bitmap (default 1).
    pub conn_reuse_mode: u32,
    /// Scheduler parameters (seed, lblc expiration).
    pub sched: SchedParams,
    /// `run_estimation`.
    pub run_estimation: bool,
    /// Seed of the connection table's hash.
    pub conn_hash_seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeouts: Timeouts::default(),
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            sloppy_tcp: false,
            sloppy_sctp: false,
            conn_reuse_mode: 1,
            sched: SchedParams::default(),
            run_estimation: true,
            conn_hash_seed: 0x1f5_c0de_0bad_cafe,
        }
    }
}

/// TCP header flags the state machine looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// ACK.
    pub ack: bool,
    /// RST.
    pub rst: bool,
}

impl TcpFlags {
    /// A bare SYN.
    pub const SYN: TcpFlags = TcpFlags {
        syn: true,
        fin: false,
        ack: false,
        rst: false,
    };
    /// SYN+ACK.
    pub const SYN_ACK: TcpFlags = TcpFlags {
        syn: true,
        fin: false,
        ack: true,
        rst: false,
    };
    /// A bare ACK.
    pub const ACK: TcpFlags = TcpFlags {
        syn: false,
        fin: false,
        ack: true,
        rst: false,
    };
    /// FIN+ACK.
    pub const FIN_ACK: TcpFlags = TcpFlags {
        syn: false,
        fin: true,
        ack: true,
        rst: false,
    };
    /// RST.
    pub const RST: TcpFlags = TcpFlags {
        syn: false,
        fin: false,
        ack: false,
        rst: true,
    };
}

/// What the core needs to know of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    /// Transport protocol.
    pub protocol: Protocol,
    /// Source address.
    pub saddr: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub daddr: IpAddr,
    /// Destination port.
    pub dport: u16,
    /// Netfilter mark (0 = none).
    pub fwmark: u32,
    /// TCP flags (TCP only).
    pub tcp: TcpFlags,
    /// SCTP: the packet carries an INIT chunk.
    pub sctp_init: bool,
    /// IP length in bytes (what the stats count).
    pub len: u32,
}

impl PacketMeta {
    /// A TCP packet.
    pub fn tcp(saddr: IpAddr, sport: u16, daddr: IpAddr, dport: u16, flags: TcpFlags) -> Self {
        PacketMeta {
            protocol: Protocol::Tcp,
            saddr,
            sport,
            daddr,
            dport,
            fwmark: 0,
            tcp: flags,
            sctp_init: false,
            len: 60,
        }
    }

    /// A UDP packet.
    pub fn udp(saddr: IpAddr, sport: u16, daddr: IpAddr, dport: u16) -> Self {
        PacketMeta {
            protocol: Protocol::Udp,
            saddr,
            sport,
            daddr,
            dport,
            fwmark: 0,
            tcp: TcpFlags::default(),
            sctp_init: false,
            len: 60,
        }
    }

    /// The same packet with a netfilter mark.
    pub fn with_mark(mut self, mark: u32) -> Self {
        self.fwmark = mark;
        self
    }

    /// The same packet with IP length `len`.
    pub fn with_len(mut self, len: u32) -> Self {
        self.len = len;
        self
    }

    fn af(&self) -> Af {
        Af::of(&self.saddr)
    }
}

/// What to do with a packet from a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InVerdict {
    /// Not for IPVS (no service, or not a packet that creates a connection): hand it to
    /// the local stack untouched.
    Pass,
    /// Forward it as the connection says (method, real server, FULLNAT local address).
    /// `id` is `None` for one-packet connections, which are already gone.
    Forward {
        /// The connection's handle, while it exists.
        id: Option<ConnId>,
        /// The connection as it is after this packet.
        conn: Conn,
    },
    /// No destination is available (`ip_vs_leave`): answer the client with ICMP port
    /// unreachable (ICMPv6 port unreachable) and drop the packet.
    Unreachable,
    /// Drop silently: a connection whose real server was deleted (expire_nodest_conn=0),
    /// FULLNAT local ports exhausted, or an ICMP packet with nowhere to go.
    Drop,
}

/// What to do with a packet from a real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutVerdict {
    /// Not a reply of a known connection: hand it to the local stack.
    Pass,
    /// A reply of `conn`: translate it back (SNAT to the VIP, or FULLNAT's reverse).
    Forward {
        /// The connection's handle.
        id: ConnId,
        /// The connection as it is after this packet.
        conn: Conn,
    },
}

/// A Linux Virtual Server director, sans I/O.
#[derive(Debug)]
pub struct Ipvs {
    config: Config,
    services: Vec<Option<Box<Service>>>,
    order: Vec<ServiceId>,
    by_key: HashMap<ServiceKey, ServiceId>,
    dests: DestSlab,
    /// Deleted destinations still referenced, or idle for less than the trash period:
    /// (handle, when it became unreferenced).
    trash: Vec<(DestId, Option<Time>)>,
    conns: ConnTable,
    stats: Stats,
    next_estimate: Time,
    next_sched_timer: Time,
    /// Entries removed since the last [`Ipvs::drain_removed`], when journaling is on.
    removed: Option<Vec<(ConnId, Conn)>>,
    /// Connection sync (master reports, backup journal).
    sync: sync::SyncModel,
}

impl Default for Ipvs {
    fn default() -> Self {
        Ipvs::new(Config::default())
    }
}

fn check_sched_name(name: &str) -> Result<(), IpvsError> {
    if name.len() > SCHED_NAME_MAX {
        return Err(IpvsError::Invalid {
            reason: "scheduler name too long",
        });
    }
    Ok(())
}

fn sched_service(svc: &Service) -> SchedService {
    SchedService {
        af: svc.key.af(),
        flags: svc.flags,
    }
}

impl Ipvs {
    /// An empty director.
    pub fn new(config: Config) -> Ipvs {
        let seed = config.conn_hash_seed;
        Ipvs {
            config,
            services: Vec::new(),
            order: Vec::new(),
            by_key: HashMap::new(),
            dests: DestSlab::new(),
            trash: Vec::new(),
            conns: ConnTable::with_seed(seed),
            stats: Stats::default(),
            next_estimate: Time::ZERO.add_millis(ESTIMATOR_PERIOD_MS),
            removed: None,
            next_sched_timer: Time::ZERO,
            sync: sync::SyncModel::default(),
        }
    }

    /// The sysctls.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The sysctls, mutably (changes apply to the next packet).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    // ------------------------------------------------------------------ services

    fn validate_service(&self, cfg: &ServiceConfig) -> Result<(), IpvsError> {
        check_sched_name(&cfg.scheduler)?;
        if cfg.flags.0 & !(ServiceFlags::USER_MASK & !ServiceFlags::PERSISTENT) != 0 {
            return Err(IpvsError::Invalid {
                reason: "unknown service flags",
            });
        }
        if let ServiceKey::Fwmark { mark: 0, .. } = cfg.key {
            return Err(IpvsError::Invalid { reason: "fwmark 0" });
        }
        if let Some(p) = cfg.persistence {
            if p.timeout == 0 || p.timeout > MAX_TIMEOUT {
                return Err(IpvsError::Invalid {
                    reason: "persistence timeout out of range",
                });
            }
            let max = cfg.key.af().max_prefix();
            if p.prefix_len > max || (cfg.key.af() == Af::Inet6 && p.prefix_len == 0) {
                return Err(IpvsError::Invalid {
                    reason: "persistence netmask out of range",
                });
            }
        }
        if let Some(pe) = &cfg.pe_name {
            check_sched_name(pe)?;
            // Linux has one engine, `sip`, built as a module; this core has none.
            return Err(IpvsError::SchedulerNotFound);
        }
        Ok(())
    }

    fn make_scheduler(
        &self,
        name: &str,
    ) -> Result<Option<Box<dyn crate::sched::Scheduler>>, IpvsError> {
        if name == "none" {
            return Ok(None);
        }
        new_scheduler(name, &self.config.sched)
            .map(Some)
            .ok_or(IpvsError::SchedulerNotFound)
    }

    /// `ipvsadm -A`: add a service.
    pub fn add_service(&mut self, cfg: &ServiceConfig) -> Result<ServiceId, IpvsError> {
        self.validate_service(cfg)?;
        if self.by_key.contains_key(&cfg.key) {
            return Err(IpvsError::ServiceExists);
        }
        let mut sched = self.make_scheduler(&cfg.scheduler)?;
        let mut flags = cfg.flags;
        if cfg.persistence.is_some() {
            flags.0 |= ServiceFlags::PERSISTENT;
        }
        let ss = SchedService {
            af: cfg.key.af(),
            flags,
        };
        if let Some(s) = sched.as_mut() {
            s.init_service(&DestList::new(&[], &self.dests), &ss)?;
        }
        let id = ServiceId(
            u32::try_from(self.services.len()).map_err(|_| IpvsError::Invalid {
                reason: "too many services",
            })?,
        );
        self.services.push(Some(Box::new(Service {
            key: cfg.key,
            flags,
            persistence: cfg.persistence,
            sched_name: cfg.scheduler.clone(),
            pe_name: cfg.pe_name.clone(),
            dests: Vec::new(),
            sched,
            stats: Stats::default(),
            laddrs: Default::default(),
        })));
        self.order.push(id);
        self.by_key.insert(cfg.key, id);
        Ok(id)
    }

    /// `ipvsadm -E`: replace a service's scheduler, flags and persistence.
    /// Changing the scheduler discards the old one's state and binds a new one.
    pub fn edit_service(&mut self, cfg: &ServiceConfig) -> Result<(), IpvsError> {
        self.validate_service(cfg)?;
        let id = *self.by_key.get(&cfg.key).ok_or(IpvsError::NoSuchService)?;
        let mut flags = cfg.flags;
        if cfg.persistence.is_some() {
            flags.0 |= ServiceFlags::PERSISTENT;
        }
        let svc = self.services[id.0 as usize]
            .as_deref()
            .ok_or(IpvsError::NoSuchService)?;
        let rebind = svc.sched_name != cfg.scheduler || svc.flags != flags;
        let mut new_sched = None;
        if rebind {
            let mut s = self.make_scheduler(&cfg.scheduler)?;
            let ss = SchedService {
                af: cfg.key.af(),
                flags,
            };
            if let Some(s) = s.as_mut() {
                s.init_service(&DestList::new(&svc.dests, &self.dests), &ss)?;
            }
            new_sched = Some(s);
        }
        let svc = self.services[id.0 as usize]
            .as_deref_mut()
            .ok_or(IpvsError::NoSuchService)?;
        if let Some(s) = new_sched {
            svc.sched = s;
            svc.sched_name.clone_from(&cfg.scheduler);
        }
        svc.flags = flags;
        svc.persistence = cfg.persistence;
        svc.pe_name.clone_from(&cfg.pe_name);
        Ok(())
    }

    /// `ipvsadm -D`: delete a service and unlink all its real servers. Connections stay in
    /// the table until they expire, but their packets are no longer forwarded (their
    /// destinations are no longer available).
    pub fn del_service(&mut self, key: &ServiceKey, now: Time) -> Result<(), IpvsError> {
        let id = self.by_key.remove(key).ok_or(IpvsError::NoSuchService)?;
        self.order.retain(|&s| s != id);
        if let Some(svc) = self.services[id.0 as usize].take() {
            for d in svc.dests {
                self.unlink_dest_record(d, now);
            }
        }
        Ok(())
    }

    /// `ipvsadm -C`: delete every service.
    pub fn flush(&mut self, now: Time) {
        let keys: Vec<ServiceKey> = self.services().map(|s| s.key).collect();
        for k in keys {
            // Every key came from the live list.
            let _ = self.del_service(&k, now);
        }
    }

    /// The services in creation order.
    pub fn services(&self) -> impl Iterator<Item = &Service> + '_ {
        self.order
            .iter()
            .filter_map(|id| self.services[id.0 as usize].as_deref())
    }

    /// The service `key`.
    pub fn service(&self, key: &ServiceKey) -> Option<&Service> {
        let id = self.by_key.get(key)?;
        self.services[id.0 as usize].as_deref()
    }

    /// The service `key`, mutably (stats, local addresses).
    pub fn service_mut(&mut self, key: &ServiceKey) -> Option<&mut Service> {
        let id = self.by_key.get(key)?;
        self.services[id.0 as usize].as_deref_mut()
    }

    /// The service with handle `id`, if it still exists.
    pub fn service_by_id(&self, id: ServiceId) -> Option<&Service> {
        self.services.get(id.0 as usize).and_then(|s| s.as_deref())
    }

    /// The destinations of service `key` in kernel list order (newest first).
    pub fn dests_of(&self, key: &ServiceKey) -> Vec<(DestId, &Dest)> {
        match self.service(key) {
            Some(s) => s.dests.iter().map(|&d| (d, self.dests.get(d))).collect(),
            None => Vec::new(),
        }
    }

    /// A destination by handle (also deleted ones still in the trash).
    pub fn dest(&self, id: DestId) -> Option<&Dest> {
        self.dests.try_get(id)
    }

    fn service_id(&self, key: &ServiceKey) -> Result<ServiceId, IpvsError> {
        self.by_key
            .get(key)
            .copied()
            .ok_or(IpvsError::ServiceNotDefined)
    }

    // ------------------------------------------------------------------ destinations

    fn validate_dest(&self, svc: &Service, cfg: &DestConfig) -> Result<(), IpvsError> {
        if cfg.weight < 0 {
            return Err(IpvsError::OutOfRange { what: "weight" });
        }
        if cfg.u_threshold > i32::MAX as u32 || cfg.l_threshold > i32::MAX as u32 {
            return Err(IpvsError::Invalid {
                reason: "threshold above INT_MAX",
            });
        }
        if cfg.l_threshold > cfg.u_threshold && cfg.u_threshold != 0 {
            return Err(IpvsError::OutOfRange {
                what: "lower threshold",
            });
        }
        let addr_ok = match cfg.addr {
            IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
            IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
        };
        if !addr_ok {
            return Err(IpvsError::Invalid {
                reason: "real server address not unicast",
            });
        }
        if Af::of(&cfg.addr) != svc.key.af() && cfg.fwd != ForwardMethod::Tunnel {
            return Err(IpvsError::Invalid {
                reason: "different address family is allowed only for tunneling servers",
            });
        }
        if cfg.fwd == ForwardMethod::Tunnel
            && cfg.tunnel.kind == TunnelType::Gue
            && cfg.tunnel.port == 0
        {
            return Err(IpvsError::Invalid {
                reason: "GUE tunnel needs a port",
            });
        }
        Ok(())
    }

    fn find_dest(&self, svc: &Service, addr: IpAddr, port: u16) -> Option<(usize, DestId)> {
        svc.dests.iter().enumerate().find_map(|(i, &id)| {
            let d = self.dests.get(id);
            (d.addr == addr && d.port == port).then_some((i, id))
        })
    }

    /// `ipvsadm -a`: add a real server at the head of the service's list. A server deleted
    /// less than [`DEST_TRASH_PERIOD_MS`] after its last connection ended is revived with
    /// its counters.
    pub fn add_dest(&mut self, key: &ServiceKey, cfg: &DestConfig) -> Result<DestId, IpvsError> {
        let sid = self.service_id(key)?;
        let svc = self.services[sid.0 as usize]
            .as_deref()
            .ok_or(IpvsError::ServiceNotDefined)?;
        self.validate_dest(svc, cfg)?;
        if self.find_dest(svc, cfg.addr, cfg.port).is_some() {
            return Err(IpvsError::DestExists);
        }
        // Revive from the trash, or create.
        let revived = self.trash.iter().position(|&(t, _)| {
            self.dests
                .try_get(t)
                .is_some_and(|d| d.svc == Some(sid) && d.addr == cfg.addr && d.port == cfg.port)
        });
        let id = match revived {
            Some(i) => {
                let (id, _) = self.trash.swap_remove(i);
                let d = self.dests.get_mut(id);
                d.flags.0 |= DestFlags::AVAILABLE;
                id
            }
            None => {
                let mut d = Dest::new(cfg.addr, cfg.port, cfg.fwd);
                d.svc = Some(sid);
                self.dests.insert(d)
            }
        };
        {
            let d = self.dests.get_mut(id);
            d.fwd = cfg.fwd;
            d.tunnel = cfg.tunnel;
            d.weight = cfg.weight;
            d.last_weight = cfg.weight;
            Self::apply_thresholds(d, cfg);
        }
        let svc = self.services[sid.0 as usize]
            .as_deref_mut()
            .ok_or(IpvsError::ServiceNotDefined)?;
        svc.dests.insert(0, id);
        let ss = sched_service(svc);
        if let Some(s) = svc.sched.as_mut() {
            let list = DestList::new(&svc.dests, &self.dests);
            if let Err(e) = s.add_dest(&list, &ss, id) {
                // Roll back: nothing half-applied.
                svc.dests.remove(0);
                let list = DestList::new(&svc.dests, &self.dests);
                // The scheduler accepted this list before the add.
                let _ = s.del_dest(&list, &ss, id, 0);
                match revived {
                    Some(_) => {
                        self.dests.get_mut(id).flags.0 &= !DestFlags::AVAILABLE;
                        self.trash.push((id, None));
                    }
                    None => {
                        self.dests.remove(id);
                    }
                }
                return Err(e.into());
            }
        }
        Ok(id)
    }

    fn apply_thresholds(d: &mut Dest, cfg: &DestConfig) {
        // Classic ip_vs_ctl.c: a lower or removed upper threshold clears OVERLOAD.
        if cfg.u_threshold == 0 || cfg.u_threshold > d.u_threshold {
            d.flags.0 &= !DestFlags::OVERLOAD;
        }
        d.u_threshold = cfg.u_threshold;
        d.l_threshold = cfg.l_threshold;
    }

    /// `ipvsadm -e`: edit a real server's method, weight, thresholds and tunnel settings.
    pub fn edit_dest(&mut self, key: &ServiceKey, cfg: &DestConfig) -> Result<(), IpvsError> {
        let sid = self.service_id(key)?;
        let svc = self.services[sid.0 as usize]
            .as_deref()
            .ok_or(IpvsError::ServiceNotDefined)?;
        self.validate_dest(svc, cfg)?;
        let (_, id) = self
            .find_dest(svc, cfg.addr, cfg.port)
            .ok_or(IpvsError::NoSuchDest)?;
        {
            let d = self.dests.get_mut(id);
            d.fwd = cfg.fwd;
            d.tunnel = cfg.tunnel;
            d.weight = cfg.weight;
            if cfg.weight != 0 {
                d.last_weight = cfg.weight;
            }
            Self::apply_thresholds(d, cfg);
        }
        let svc = self.services[sid.0 as usize]
            .as_deref_mut()
            .ok_or(IpvsError::ServiceNotDefined)?;
        let ss = sched_service(svc);
        if let Some(s) = svc.sched.as_mut() {
            s.upd_dest(&DestList::new(&svc.dests, &self.dests), &ss, id)?;
        }
        Ok(())
    }

    /// `ipvsadm -d`: unlink a real server. Its connections stay; their packets are dropped
    /// (or, with `expire_nodest_conn`, the connections are expired).
    pub fn del_dest(
        &mut self,
        key: &ServiceKey,
        addr: IpAddr,
        port: u16,
        now: Time,
    ) -> Result<(), IpvsError> {
        let sid = self.service_id(key)?;
        let svc = self.services[sid.0 as usize]
            .as_deref()
            .ok_or(IpvsError::ServiceNotDefined)?;
        let (pos, id) = self
            .find_dest(svc, addr, port)
            .ok_or(IpvsError::NoSuchDest)?;
        let svc = self.services[sid.0 as usize]
            .as_deref_mut()
            .ok_or(IpvsError::ServiceNotDefined)?;
        svc.dests.remove(pos);
        self.dests.get_mut(id).flags.0 &= !DestFlags::AVAILABLE;
        let ss = sched_service(svc);
        if let Some(s) = svc.sched.as_mut() {
            // Removing never fails for the kernel's schedulers.
            let _ = s.del_dest(&DestList::new(&svc.dests, &self.dests), &ss, id, pos);
        }
        self.unlink_dest_record(id, now);
        Ok(())
    }

    /// Move an unlinked destination to the trash and, with `expire_nodest_conn`, flush
    /// its connections (`ip_vs_expire_nodest_conn_flush`).
    fn unlink_dest_record(&mut self, id: DestId, now: Time) {
        self.dests.get_mut(id).flags.0 &= !DestFlags::AVAILABLE;
        self.trash.push((id, None));
        if self.config.expire_nodest_conn {
            let victims: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| c.dest == id.0 && !c.is_template())
                .map(|(cid, _)| cid)
                .collect();
            for cid in victims {
                self.expire_conn(cid, now, true);
            }
        }
    }

    // ------------------------------------------------------------------ FULLNAT

    /// `--add-laddr -z LIP`: add a FULLNAT local address to service `key`.
    pub fn add_laddr(&mut self, key: &ServiceKey, addr: IpAddr) -> Result<(), IpvsError> {
        let svc = self.service_mut(key).ok_or(IpvsError::ServiceNotDefined)?;
        svc.laddrs.add(addr)?;
        Ok(())
    }

    /// `--del-laddr -z LIP`.
    pub fn del_laddr(&mut self, key: &ServiceKey, addr: IpAddr) -> Result<(), IpvsError> {
        let svc = self.service_mut(key).ok_or(IpvsError::ServiceNotDefined)?;
        svc.laddrs.remove(addr)?;
        Ok(())
    }

    /// `--get-laddr`.
    pub fn laddrs(&self, key: &ServiceKey) -> Result<Vec<LaddrInfo>, IpvsError> {
        Ok(self
            .service(key)
            .ok_or(IpvsError::ServiceNotDefined)?
            .laddrs
            .list())
    }

    // ------------------------------------------------------------------ stats

    /// `ipvsadm -Z -t …`: zero one service and its real servers.
    pub fn zero_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        let id = *self.by_key.get(key).ok_or(IpvsError::NoSuchService)?;
        if let Some(svc) = self.services[id.0 as usize].as_deref_mut() {
            svc.stats.zero();
            for &d in &svc.dests {
                self.dests.get_mut(d).stats.zero();
            }
        }
        Ok(())
    }

    /// `ipvsadm -Z`: zero every service, real server and the totals.
    pub fn zero_all(&mut self) {
        let keys: Vec<ServiceKey> = self.services().map(|s| s.key).collect();
        for k in keys {
            // Every key came from the live list.
            let _ = self.zero_service(&k);
        }
        self.stats.zero();
    }

    /// Global counters (`/proc/net/ip_vs_stats`).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// `--set tcp tcpfin udp` (seconds; 0 leaves a value unchanged).
    pub fn set_timeouts(&mut self, tcp: u32, tcpfin: u32, udp: u32) -> Result<(), IpvsError> {
        if tcp > MAX_TIMEOUT || tcpfin > MAX_TIMEOUT || udp > MAX_TIMEOUT {
            return Err(IpvsError::Invalid {
                reason: "timeout out of range",
            });
        }
        self.config.timeouts.set(tcp, tcpfin, udp);
        Ok(())
    }

    // ------------------------------------------------------------------ connections

    /// The connection table.
    pub fn conns(&self) -> &ConnTable {
        &self.conns
    }

    /// The name `ipvsadm -Lc` shows for a connection's state.
    pub fn state_name(conn: &Conn) -> &'static str {
        if conn.is_template() {
            if conn.state & TEMPLATE_ASSURED != 0 {
                "ASSURED"
            } else {
                "NONE"
            }
        } else {
            match conn.protocol() {
                Some(Protocol::Tcp) => TcpState::from_u8(conn.state).map_or("ERR!", |s| s.name()),
                Some(Protocol::Udp) => "UDP",
                Some(Protocol::Sctp) => "ESTABLISHED",
                None => "ERR!",
            }
        }
    }

    fn find_service_for(&self, pkt: &PacketMeta) -> Option<ServiceId> {
        if pkt.fwmark != 0 {
            let k = ServiceKey::Fwmark {
                af: pkt.af(),
                mark: pkt.fwmark,
            };
            if let Some(&id) = self.by_key.get(&k) {
                return Some(id);
            }
        }
        let exact = ServiceKey::Addr {
            protocol: pkt.protocol,
            addr: pkt.daddr,
            port: pkt.dport,
        };
        if let Some(&id) = self.by_key.get(&exact) {
            return Some(id);
        }
        let any_port = ServiceKey::Addr {
            protocol: pkt.protocol,
            addr: pkt.daddr,
            port: 0,
        };
        self.by_key.get(&any_port).copied()
    }

    /// Bind a new entry to `dest_id` and store it (`ip_vs_conn_new` + `ip_vs_bind_dest`).
    #[allow(clippy::too_many_arguments)]
    fn conn_new(
        &mut self,
        sid: ServiceId,
        af: Af,
        protocol: u8,
        caddr: IpAddr,
        cport: u16,
        vaddr: Addr16,
        vport: u16,
        dest_id: DestId,
        dport: u16,
        flags: u32,
        fwmark: u32,
        now: Time,
        at: Option<ConnId>,
    ) -> Result<ConnId, LaddrError> {
        let d = self.dests.get(dest_id);
        let mut cflags = flags | d.conn_flags();
        if protocol != Protocol::Udp.number() {
            cflags &= !ConnFlags::ONE_PACKET;
        }
        let template = cflags & ConnFlags::TEMPLATE != 0;
        let (daddr, daf) = (d.addr, d.af);
        let (mut laddr, mut lport) = (Addr16::ZERO, 0);
        if d.fwd == ForwardMethod::FullNat && !template {
            let svc = self.services[sid.0 as usize]
                .as_deref_mut()
                .ok_or(LaddrError::Empty)?;
            let (a, p) = svc.laddrs.allocate(daf, protocol)?;
            laddr = Addr16::from_ip(a);
            lport = p;
        }
        let conn = Conn {
            caddr: Addr16::from_ip(caddr),
            vaddr,
            daddr: Addr16::from_ip(daddr),
            laddr,
            expires: now.add_millis(u64::from(NEW_CONN_TIMEOUT_MS)),
            timeout_ms: NEW_CONN_TIMEOUT_MS,
            flags: ConnFlags(cflags),
            fwmark,
            dest: dest_id.0,
            control: NONE,
            n_control: 0,
            in_pkts: 0,
            cport,
            vport,
            dport,
            lport,
            protocol,
            af: af_code(af),
            daf: af_code(daf),
            state: 0,
        };
        let d = self.dests.get_mut(dest_id);
        if template {
            d.persistconns += 1;
        } else if cflags & ConnFlags::INACTIVE != 0 {
            d.inactconns += 1;
        } else {
            d.activeconns += 1;
        }
        if d.u_threshold != 0 && d.conns() >= d.u_threshold {
            d.flags.0 |= DestFlags::OVERLOAD;
        }
        match at {
            // (the caller checked that `id` is reserved)
            Some(id) => {
                self.conns.insert_at(id, conn);
                Ok(id)
            }
            None => Ok(self.conns.insert(conn)),
        }
    }

    /// `ip_vs_unbind_dest`: counters and the OVERLOAD hysteresis.
    fn unbind_dest(&mut self, conn: &Conn) {
        let Some(d) = conn.dest().and_then(|id| self.dests.try_get_mut(id)) else {
            return;
        };
        if conn.is_template() {
            d.persistconns = d.persistconns.saturating_sub(1);
        } else if conn.flags.has(ConnFlags::INACTIVE) {
            d.inactconns = d.inactconns.saturating_sub(1);
        } else {
            d.activeconns = d.activeconns.saturating_sub(1);
        }
        let conns = u64::from(d.conns());
        let clear = if d.l_threshold != 0 {
            conns < u64::from(d.l_threshold)
        } else if d.u_threshold != 0 {
            conns * 4 < u64::from(d.u_threshold) * 3
        } else {
            true
        };
        if clear {
            d.flags.0 &= !DestFlags::OVERLOAD;
        }
    }

    /// Expire one entry (`ip_vs_conn_expire`): kept for 60 s more while it controls
    /// others; otherwise unlinked from its template, unbound and removed. `drop_chain`
    /// (`ip_vs_conn_del`: timeout 0) also drops a controlling template that is not
    /// ASSURED and has no other users.
    fn expire_conn(&mut self, id: ConnId, now: Time, drop_chain: bool) {
        let Some(c) = self.conns.get(id).copied() else {
            return;
        };
        if c.n_control > 0 {
            if let Some(cm) = self.conns.get_mut(id) {
                cm.timeout_ms = CONTROL_REARM_MS;
            }
            self.conns
                .set_expires(id, now.add_millis(u64::from(CONTROL_REARM_MS)));
            self.sync_rearmed(id, now);
            return;
        }
        let mut drop_ct = None;
        if let Some(ct) = c.control()
            && let Some(t) = self.conns.get_mut(ct)
        {
            t.n_control = t.n_control.saturating_sub(1);
            let assured_tpl = t.is_template() && t.state & TEMPLATE_ASSURED != 0;
            if drop_chain && t.n_control == 0 && !assured_tpl {
                drop_ct = Some(ct);
            }
        }
        self.unbind_dest(&c);
        self.release_lport(&c);
        self.conns.remove(id);
        self.sync_forget(id);
        if let Some(j) = self.removed.as_mut() {
            j.push((id, c));
        }
        if let Some(ct) = drop_ct {
            self.expire_conn(ct, now, true);
        }
    }

    fn release_lport(&mut self, c: &Conn) {
        if c.flags.fwd() != ForwardMethod::FullNat || c.is_template() || c.lport == 0 {
            return;
        }
        let Some(sid) = c
            .dest()
            .and_then(|d| self.dests.try_get(d))
            .and_then(|d| d.svc)
        else {
            return;
        };
        if let Some(svc) = self
            .services
            .get_mut(sid.0 as usize)
            .and_then(|s| s.as_deref_mut())
        {
            svc.laddrs.release(c.laddr_ip(), c.protocol, c.lport);
        }
    }

    /// `ip_vs_conn_put`: re-arm the timer; one-packet connections expire at once.
    fn conn_put(&mut self, id: ConnId, now: Time) {
        let Some(c) = self.conns.get(id) else { return };
        if c.flags.has(ConnFlags::ONE_PACKET) {
            self.expire_conn(id, now, true);
        } else {
            let t = now.add_millis(u64::from(c.timeout_ms));
            self.conns.set_expires(id, t);
        }
    }

    fn assure_control(&mut self, id: ConnId) {
        let Some(ct) = self.conns.get(id).and_then(|c| c.control()) else {
            return;
        };
        if let Some(t) = self.conns.get_mut(ct)
            && t.is_template()
        {
            t.state |= TEMPLATE_ASSURED;
        }
    }

    /// `ip_vs_set_state`: the protocol state machine for one packet in direction `dir`
    /// (Input or Output), with active/inactive accounting and the new idle timeout.
    fn set_state(&mut self, id: ConnId, dir: Direction, flags: TcpFlags) {
        let Some(c) = self.conns.get(id).copied() else {
            return;
        };
        match c.protocol() {
            Some(Protocol::Tcp) => {
                let mut cflags = c.flags.0;
                let eff = if cflags & ConnFlags::NOOUTPUT != 0 {
                    if dir == Direction::Output {
                        cflags &= !ConnFlags::NOOUTPUT;
                        Direction::Output
                    } else {
                        Direction::InputOnly
                    }
                } else {
                    dir
                };
                let old = TcpState::from_u8(c.state).unwrap_or(TcpState::None);
                let new = tcp::transition(old, eff, flags.syn, flags.fin, flags.ack, flags.rst);
                if new != old
                    && let Some(d) = c.dest().and_then(|d| self.dests.try_get_mut(d))
                {
                    if cflags & ConnFlags::INACTIVE == 0 && !new.is_active() {
                        d.activeconns = d.activeconns.saturating_sub(1);
                        d.inactconns += 1;
                        cflags |= ConnFlags::INACTIVE;
                    } else if cflags & ConnFlags::INACTIVE != 0 && new.is_active() {
                        d.activeconns += 1;
                        d.inactconns = d.inactconns.saturating_sub(1);
                        cflags &= !ConnFlags::INACTIVE;
                    }
                }
                let timeout = self.config.timeouts.tcp(new);
                if let Some(cm) = self.conns.get_mut(id) {
                    cm.flags = ConnFlags(cflags);
                    cm.state = new as u8;
                    cm.timeout_ms = timeout;
                }
                if new == TcpState::Established {
                    self.assure_control(id);
                }
            }
            Some(Protocol::Udp) => {
                if dir == Direction::Output {
                    self.assure_control(id);
                }
                let timeout = self.config.timeouts.udp();
                if let Some(cm) = self.conns.get_mut(id) {
                    cm.timeout_ms = timeout;
                }
            }
            _ => {
                // SCTP: one state, ESTABLISHED timeout (see docs/compat/ipvs-core.md).
                let timeout = self.config.timeouts.tcp(TcpState::Established);
                if let Some(cm) = self.conns.get_mut(id) {
                    cm.timeout_ms = timeout;
                }
            }
        }
    }

    /// Count a packet on the connection's destination, its service and the totals, only
    /// while the destination is available (`ip_vs_in_stats` / `ip_vs_out_stats`).
    fn count(&mut self, c: &Conn, inbound: bool, len: u32) {
        let Some(d) = c.dest().and_then(|d| self.dests.try_get_mut(d)) else {
            return;
        };
        if !d.is_available() {
            return;
        }
        let bytes = u64::from(len);
        let sid = d.svc;
        if inbound {
            d.stats.count_in(1, bytes);
        } else {
            d.stats.count_out(1, bytes);
        }
        if let Some(svc) = sid.and_then(|s| self.services.get_mut(s.0 as usize)?.as_deref_mut()) {
            if inbound {
                svc.stats.count_in(1, bytes);
            } else {
                svc.stats.count_out(1, bytes);
            }
        }
        if inbound {
            self.stats.count_in(1, bytes);
        } else {
            self.stats.count_out(1, bytes);
        }
    }

    fn count_conn(&mut self, id: ConnId) {
        let Some(did) = self.conns.get(id).and_then(|c| c.dest()) else {
            return;
        };
        let d = self.dests.get_mut(did);
        d.stats.count_conn();
        if let Some(svc) = d
            .svc
            .and_then(|s| self.services.get_mut(s.0 as usize)?.as_deref_mut())
        {
            svc.stats.count_conn();
        }
        self.stats.count_conn();
    }

    fn is_new_conn(&self, pkt: &PacketMeta) -> bool {
        match pkt.protocol {
            Protocol::Tcp => pkt.tcp.syn && !pkt.tcp.ack && !pkt.tcp.rst,
            Protocol::Sctp => pkt.sctp_init,
            Protocol::Udp => false,
        }
    }

    /// `is_new_conn_expected`: may a new SYN reuse this finished connection's tuple?
    fn is_new_conn_expected(&self, c: &Conn) -> bool {
        if c.control().is_some() {
            return false;
        }
        match c.protocol() {
            Some(Protocol::Tcp) => {
                let s = TcpState::from_u8(c.state);
                s == Some(TcpState::TimeWait)
                    || s == Some(TcpState::Close)
                    || (self.config.conn_reuse_mode & 2 != 0
                        && s == Some(TcpState::FinWait)
                        && c.flags.has(ConnFlags::NOOUTPUT))
            }
            _ => false,
        }
    }

    /// A packet from a client (`ip_vs_in`): find or create its connection, run the state
    /// machine, count it, and say how to forward it.
    pub fn process_in(&mut self, pkt: &PacketMeta, now: Time) -> InVerdict {
        let af = pkt.af();
        let key = InKey {
            af,
            protocol: pkt.protocol.number(),
            caddr: Addr16::from_ip(pkt.saddr),
            cport: pkt.sport,
            vaddr: Addr16::from_ip(pkt.daddr),
            vport: pkt.dport,
        };
        let mut cp = self.conns.in_get(&key);

        // A new connection attempt on an old tuple (conn_reuse_mode, expire_nodest_conn).
        if let Some(id) = cp
            && self.config.conn_reuse_mode != 0
            && self.is_new_conn(pkt)
        {
            let c = *self.conns.get(id).expect("looked up");
            let quiesced = c
                .dest()
                .and_then(|d| self.dests.try_get(d))
                .is_some_and(|d| d.weight == 0);
            let resched =
                (self.config.expire_nodest_conn && quiesced) || self.is_new_conn_expected(&c);
            if resched {
                if c.n_control == 0 {
                    self.expire_conn(id, now, true);
                }
                cp = None;
            }
        }
        // The destination of an existing connection was deleted. (A connection a sync
        // message created without a matching local real server has none and is forwarded
        // as the master said, as IPVS does.)
        if let Some(id) = cp {
            let c = *self.conns.get(id).expect("looked up");
            let gone = c
                .dest()
                .is_some_and(|did| self.dests.try_get(did).is_none_or(|d| !d.is_available()));
            if gone {
                if !self.config.expire_nodest_conn {
                    return InVerdict::Drop;
                }
                self.expire_conn(id, now, true);
                cp = None;
            }
        }
        let id = match cp {
            Some(id) => id,
            None => match self.try_schedule(pkt, now) {
                Ok(id) => id,
                Err(v) => return v,
            },
        };
        let c = *self.conns.get(id).expect("present");
        self.count(&c, true, pkt.len);
        self.set_state(id, Direction::Input, pkt.tcp);
        if let Some(cm) = self.conns.get_mut(id) {
            cm.in_pkts = cm.in_pkts.wrapping_add(1);
        }
        let conn = *self.conns.get(id).expect("present");
        self.sync_check(id, conn.in_pkts, now);
        self.conn_put(id, now);
        InVerdict::Forward {
            id: (!conn.flags.has(ConnFlags::ONE_PACKET)).then_some(id),
            conn,
        }
    }

    /// `ip_vs_try_to_schedule` + `ip_vs_schedule`: create a connection for the first packet
    /// of a flow, or say why not.
    fn try_schedule(&mut self, pkt: &PacketMeta, now: Time) -> Result<ConnId, InVerdict> {
        let Some(sid) = self.find_service_for(pkt) else {
            return Err(InVerdict::Pass);
        };
        let may_schedule = match pkt.protocol {
            Protocol::Tcp => (pkt.tcp.syn || self.config.sloppy_tcp) && !pkt.tcp.rst,
            Protocol::Sctp => pkt.sctp_init || self.config.sloppy_sctp,
            Protocol::Udp => true,
        };
        if !may_schedule {
            return Err(InVerdict::Pass);
        }
        let svc = self.services[sid.0 as usize]
            .as_deref()
            .ok_or(InVerdict::Pass)?;
        let result = if svc.flags.has(ServiceFlags::PERSISTENT) {
            self.sched_persist(sid, pkt, now)
        } else {
            self.sched_plain(sid, pkt, now)
        };
        match result {
            Ok(id) => {
                self.count_conn(id);
                Ok(id)
            }
            Err(v) => Err(v),
        }
    }

    fn pick(&mut self, sid: ServiceId, pkt: &PacketMeta, now: Time) -> Option<DestId> {
        let svc = self.services[sid.0 as usize].as_deref_mut()?;
        let ss = sched_service(svc);
        let s = svc.sched.as_mut()?;
        let info = PacketInfo::new(pkt.protocol, pkt.saddr, pkt.sport, pkt.daddr, pkt.dport);
        s.schedule(&DestList::new(&svc.dests, &self.dests), &ss, &info, now)
    }

    fn one_packet_flag(&self, sid: ServiceId, pkt: &PacketMeta) -> u32 {
        let onepacket = self.services[sid.0 as usize]
            .as_deref()
            .is_some_and(|s| s.flags.has(ServiceFlags::ONEPACKET));
        if onepacket && pkt.protocol == Protocol::Udp {
            ConnFlags::ONE_PACKET
        } else {
            0
        }
    }

    fn sched_plain(
        &mut self,
        sid: ServiceId,
        pkt: &PacketMeta,
        now: Time,
    ) -> Result<ConnId, InVerdict> {
        let svc = self.services[sid.0 as usize]
            .as_deref()
            .ok_or(InVerdict::Pass)?;
        let svc_port = svc.port();
        let fwmark_svc = svc.key.fwmark() != 0;
        if !fwmark_svc && pkt.dport != svc_port {
            // Port-0 services must be persistent: the kernel refuses to schedule.
            return Err(InVerdict::Unreachable);
        }
        let Some(did) = self.pick(sid, pkt, now) else {
            return Err(InVerdict::Unreachable);
        };
        let d = self.dests.get(did);
        let dport = if d.port != 0 { d.port } else { pkt.dport };
        let flags = self.one_packet_flag(sid, pkt);
        self.conn_new(
            sid,
            pkt.af(),
            pkt.protocol.number(),
            pkt.saddr,
            pkt.sport,
            Addr16::from_ip(pkt.daddr),
            pkt.dport,
            did,
            dport,
            flags,
            pkt.fwmark,
            now,
            None,
        )
        .map_err(|_| InVerdict::Drop)
    }

    /// `ip_vs_sched_persist`: find or create the client's template, then the connection.
    fn sched_persist(
        &mut self,
        sid: ServiceId,
        pkt: &PacketMeta,
        now: Time,
    ) -> Result<ConnId, InVerdict> {
        let svc = self.services[sid.0 as usize]
            .as_deref()
            .ok_or(InVerdict::Pass)?;
        let svc_port = svc.port();
        let fwmark = svc.key.fwmark();
        let svc_af = svc.key.af();
        let p = svc.persistence.ok_or(InVerdict::Pass)?;
        let tpl_timeout_ms = p.timeout.saturating_mul(1000);
        let snet = mask_addr(pkt.saddr, p.prefix_len);
        let (tproto, tvaddr, tvport) = if pkt.dport == svc_port {
            (
                pkt.protocol.number(),
                Addr16::from_ip(pkt.daddr),
                if svc_port == 21 { 0 } else { pkt.dport },
            )
        } else if fwmark != 0 {
            (0, Addr16::from_ip(IpAddr::V4(Ipv4Addr::from(fwmark))), 0)
        } else {
            (pkt.protocol.number(), Addr16::from_ip(pkt.daddr), 0)
        };
        let tkey = InKey {
            af: svc_af,
            protocol: tproto,
            caddr: Addr16::from_ip(snet),
            cport: 0,
            vaddr: tvaddr,
            vport: tvport,
        };
        let mut ct = self.conns.ct_in_get(&tkey);
        if let Some(t) = ct {
            let tc = self.conns.get(t).expect("looked up");
            let valid = tc
                .dest()
                .and_then(|d| self.dests.try_get(d))
                .is_some_and(|d| {
                    d.is_available() && !(self.config.expire_quiescent_template && d.weight == 0)
                });
            if !valid {
                // Never matches again; dies on its own timer.
                self.conns.rekey(t, |c| {
                    c.cport = 0;
                    c.vport = 0xffff;
                    c.dport = 0xffff;
                });
                ct = None;
            }
        }
        let (ct, did) = match ct {
            Some(t) => {
                let did = self
                    .conns
                    .get(t)
                    .and_then(|c| c.dest())
                    .ok_or(InVerdict::Drop)?;
                (t, did)
            }
            None => {
                let Some(did) = self.pick(sid, pkt, now) else {
                    return Err(InVerdict::Unreachable);
                };
                let d = self.dests.get(did);
                let tdport = if pkt.dport == svc_port && svc_port != 21 {
                    d.port
                } else {
                    0
                };
                let t = self
                    .conn_new(
                        sid,
                        svc_af,
                        tproto,
                        snet,
                        0,
                        tvaddr,
                        tvport,
                        did,
                        tdport,
                        ConnFlags::TEMPLATE,
                        pkt.fwmark,
                        now,
                        None,
                    )
                    .map_err(|_| InVerdict::Drop)?;
                if let Some(tc) = self.conns.get_mut(t) {
                    tc.timeout_ms = tpl_timeout_ms;
                }
                (t, did)
            }
        };
        let d = self.dests.get(did);
        let dport = if pkt.dport == svc_port && d.port != 0 {
            d.port
        } else {
            pkt.dport
        };
        let flags = self.one_packet_flag(sid, pkt);
        let cp = match self.conn_new(
            sid,
            pkt.af(),
            pkt.protocol.number(),
            pkt.saddr,
            pkt.sport,
            Addr16::from_ip(pkt.daddr),
            pkt.dport,
            did,
            dport,
            flags,
            pkt.fwmark,
            now,
            None,
        ) {
            Ok(cp) => cp,
            Err(_) => {
                self.conn_put(ct, now);
                return Err(InVerdict::Drop);
            }
        };
        if let Some(c) = self.conns.get_mut(cp) {
            c.control = ct;
        }
        if let Some(t) = self.conns.get_mut(ct) {
            t.n_control += 1;
        }
        self.conn_put(ct, now);
        Ok(cp)
    }

    /// A packet from a real server (`ip_vs_out`, NAT and FULLNAT replies): find its
    /// connection, run the state machine in the OUTPUT direction, count it.
    pub fn process_out(&mut self, pkt: &PacketMeta, now: Time) -> OutVerdict {
        let key = OutKey {
            af: pkt.af(),
            protocol: pkt.protocol.number(),
            saddr: Addr16::from_ip(pkt.saddr),
            sport: pkt.sport,
            daddr: Addr16::from_ip(pkt.daddr),
            dport: pkt.dport,
        };
        let Some(id) = self.conns.out_get(&key) else {
            return OutVerdict::Pass;
        };
        let c = *self.conns.get(id).expect("looked up");
        self.count(&c, false, pkt.len);
        self.set_state(id, Direction::Output, pkt.tcp);
        let conn = *self.conns.get(id).expect("present");
        self.conn_put(id, now);
        OutVerdict::Forward { id, conn }
    }

    /// Keep a journal of removed entries for [`Ipvs::drain_removed`] (the data path uses it
    /// to delete its own copies of expired connections).
    pub fn set_journal(&mut self, on: bool) {
        self.removed = on.then(Vec::new);
    }

    /// Entries removed (expired, flushed) since the last call, with their last contents.
    pub fn drain_removed(&mut self) -> Vec<(ConnId, Conn)> {
        match self.removed.as_mut() {
            Some(j) => std::mem::take(j),
            None => Vec::new(),
        }
    }

    /// A TCP packet of connection `id` that the fast path forwarded on its own, in
    /// direction `dir` (Input or Output): run the state machine (with active/inactive
    /// accounting and template assurance) and re-arm the timer, as `ip_vs_in`/`ip_vs_out`
    /// would have.
    pub fn observe(&mut self, id: ConnId, dir: Direction, flags: TcpFlags, now: Time) {
        if self.conns.get(id).is_none() {
            return;
        }
        self.set_state(id, dir, flags);
        self.conn_put(id, now);
    }

    /// Add traffic the fast path counted for real server `dest` (packets and bytes each
    /// way) to the server, its service and the totals, while the server is available.
    pub fn add_dest_traffic(&mut self, dest: DestId, inbound: (u64, u64), outbound: (u64, u64)) {
        let Some(d) = self.dests.try_get_mut(dest) else {
            return;
        };
        if !d.is_available() {
            return;
        }
        d.stats.count_in(inbound.0, inbound.1);
        d.stats.count_out(outbound.0, outbound.1);
        let sid = d.svc;
        if let Some(svc) = sid.and_then(|s| self.services.get_mut(s.0 as usize)?.as_deref_mut()) {
            svc.stats.count_in(inbound.0, inbound.1);
            svc.stats.count_out(outbound.0, outbound.1);
        }
        self.stats.count_in(inbound.0, inbound.1);
        self.stats.count_out(outbound.0, outbound.1);
    }

    // ------------------------------------------------------------------ timers

    /// Run every timer that is due at `now`: connection expiry, the 2-second estimator,
    /// scheduler housekeeping (lblc/lblcr) and the destination trash. Call at least once
    /// a second.
    pub fn poll(&mut self, now: Time) {
        self.poll_with(now, |_, _| None);
    }

    /// [`Ipvs::poll`] for a director whose fast path forwards packets without telling the
    /// core each time: before an entry expires, `last_activity` is asked when the fast path
    /// last saw it; if that is recent enough the entry is re-armed from then instead
    /// (`ip_vs_conn_put` as it would have happened on that packet).
    pub fn poll_with(
        &mut self,
        now: Time,
        mut last_activity: impl FnMut(ConnId, &Conn) -> Option<Time>,
    ) {
        while let Some(id) = self.conns.pop_expired(now) {
            if let Some(c) = self.conns.get(id)
                && let Some(seen) = last_activity(id, c)
            {
                let due = seen.add_millis(u64::from(c.timeout_ms));
                if due > now {
                    self.conns.set_expires(id, due);
                    continue;
                }
            }
            self.expire_conn(id, now, false);
        }
        let due = self.next_estimate;
        if now >= due {
            if self.config.run_estimation {
                self.estimate();
            }
            let next = due.add_millis(ESTIMATOR_PERIOD_MS);
            // After a long gap (or a clock origin far from zero) restart the cadence.
            self.next_estimate = if next > now {
                next
            } else {
                now.add_millis(ESTIMATOR_PERIOD_MS)
            };
        }
        if now >= self.next_sched_timer {
            for id in self.order.clone() {
                if let Some(svc) = self.services[id.0 as usize].as_deref_mut()
                    && let Some(s) = svc.sched.as_mut()
                {
                    s.on_timer(&DestList::new(&svc.dests, &self.dests), now);
                }
            }
            self.next_sched_timer = now.add_millis(1000);
        }
        self.empty_trash(now);
    }

    fn estimate(&mut self) {
        for id in &self.order {
            if let Some(svc) = self.services[id.0 as usize].as_deref_mut() {
                svc.stats.estimate();
                for &d in &svc.dests {
                    self.dests.get_mut(d).stats.estimate();
                }
            }
        }
        self.stats.estimate();
    }

    /// Free deleted destinations that nothing has referenced for
    /// [`DEST_TRASH_PERIOD_MS`] (`ip_vs_dest_trash_expire`); until then `-a` revives them.
    fn empty_trash(&mut self, now: Time) {
        let dests = &mut self.dests;
        self.trash.retain_mut(|(id, idle_since)| {
            let Some(d) = dests.try_get(*id) else {
                return false;
            };
            let refs = d.activeconns + d.inactconns + d.persistconns;
            if refs > 0 {
                *idle_since = None;
                return true;
            }
            let since = *idle_since.get_or_insert(now);
            if now.millis_since(since) >= DEST_TRASH_PERIOD_MS {
                dests.remove(*id);
                false
            } else {
                true
            }
        });
    }

    /// Number of deleted destinations kept in the trash.
    pub fn trash_len(&self) -> usize {
        self.trash.len()
    }

    /// Expire every connection and template now, as if all timers fired (tests, shutdown).
    pub fn expire_all(&mut self, now: Time) {
        let ids: Vec<ConnId> = self.conns.iter().map(|(id, _)| id).collect();
        for id in &ids {
            if let Some(c) = self.conns.get(*id)
                && !c.is_template()
            {
                self.expire_conn(*id, now, false);
            }
        }
        let ids: Vec<ConnId> = self.conns.iter().map(|(id, _)| id).collect();
        for id in ids {
            self.expire_conn(id, now, false);
        }
    }
}
