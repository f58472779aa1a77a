//! Virtual services (`struct ip_vs_service`) and the configuration records that create and
//! edit services and real servers.

use std::net::IpAddr;

use crate::dest::DestId;
use crate::fullnat::LaddrPool;
use crate::sched::Scheduler;
use crate::stats::Stats;
use crate::types::{ForwardMethod, Persistence, ServiceFlags, ServiceKey, TunnelConfig};

/// Everything `ipvsadm -A`/`-E` sends for a service.
///
/// The core API is explicit: an edit replaces exactly these fields. (ipvsadm's "-E resets
/// what is left out" is the CLI filling in defaults, which `lvsadm` reproduces.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    /// The service's identity.
    pub key: ServiceKey,
    /// Scheduler name (`rr`, `wlc`…); `none` binds no scheduler (every new connection
    /// then finds no destination), as the kernel allows.
    pub scheduler: String,
    /// ONEPACKET and SCHED1..3 bits; PERSISTENT is derived from `persistence`.
    pub flags: ServiceFlags,
    /// Persistence timeout and granularity, if persistent.
    pub persistence: Option<Persistence>,
    /// Persistence engine name (only `sip` exists in Linux; this core has none).
    pub pe_name: Option<String>,
}

impl ServiceConfig {
    /// A non-persistent service with scheduler `scheduler` and no flags.
    pub fn new(key: ServiceKey, scheduler: &str) -> ServiceConfig {
        ServiceConfig {
            key,
            scheduler: scheduler.to_string(),
            flags: ServiceFlags::default(),
            persistence: None,
            pe_name: None,
        }
    }

    /// The same service made persistent for `timeout` seconds per client (full prefix).
    pub fn persistent(mut self, timeout: u32) -> ServiceConfig {
        self.persistence = Some(Persistence {
            timeout,
            prefix_len: self.key.af().max_prefix(),
        });
        self
    }
}

/// Everything `ipvsadm -a`/`-e` sends for a real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestConfig {
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port (0 = the packet's port).
    pub port: u16,
    /// Forwarding method.
    pub fwd: ForwardMethod,
    /// Tunnel settings (Tunnel only).
    pub tunnel: TunnelConfig,
    /// Weight (0..=i32::MAX).
    pub weight: i32,
    /// Upper threshold, 0 = none.
    pub u_threshold: u32,
    /// Lower threshold, 0 = none.
    pub l_threshold: u32,
}

impl DestConfig {
    /// A real server with weight 1 and no thresholds.
    pub fn new(addr: IpAddr, port: u16, fwd: ForwardMethod) -> DestConfig {
        DestConfig {
            addr,
            port,
            fwd,
            tunnel: TunnelConfig::default(),
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    /// The same with weight `w`.
    pub fn weight(mut self, w: i32) -> DestConfig {
        self.weight = w;
        self
    }
}

/// A virtual service.
#[derive(Debug)]
pub struct Service {
    pub(crate) key: ServiceKey,
    pub(crate) flags: ServiceFlags,
    pub(crate) persistence: Option<Persistence>,
    pub(crate) sched_name: String,
    pub(crate) pe_name: Option<String>,
    pub(crate) dests: Vec<DestId>,
    pub(crate) sched: Option<Box<dyn Scheduler>>,
    /// Counters and rates of the service.
    pub stats: Stats,
    /// FULLNAT local addresses.
    pub laddrs: LaddrPool,
}

impl Service {
    /// The service's identity.
    pub fn key(&self) -> &ServiceKey {
        &self.key
    }

    /// Service flags, PERSISTENT included.
    pub fn flags(&self) -> ServiceFlags {
        self.flags
    }

    /// Persistence settings, if persistent.
    pub fn persistence(&self) -> Option<Persistence> {
        self.persistence
    }

    /// The scheduler's name (`none` when none is bound).
    pub fn scheduler(&self) -> &str {
        &self.sched_name
    }

    /// The persistence engine name.
    pub fn pe_name(&self) -> Option<&str> {
        self.pe_name.as_deref()
    }

    /// The destinations in kernel list order (newest first).
    pub fn dest_ids(&self) -> &[DestId] {
        &self.dests
    }

    /// The service's port (0 for fwmark services).
    pub fn port(&self) -> u16 {
        self.key.port()
    }

    /// The service as its [`ServiceConfig`].
    pub fn config(&self) -> ServiceConfig {
        ServiceConfig {
            key: self.key,
            scheduler: self.sched_name.clone(),
            flags: ServiceFlags(self.flags.0 & !ServiceFlags::PERSISTENT),
            persistence: self.persistence,
            pe_name: self.pe_name.clone(),
        }
    }
}
