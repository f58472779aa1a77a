//! Connections a fast path creates by itself (the XDP data plane schedules new
//! connections of simple services without asking the model, docs/xdp.md).
//!
//! The model stays the authority: it says which services the fast path may schedule and
//! in which order ([`Ipvs::fast_plan`]), hands out connection ids ahead of time
//! ([`Ipvs::reserve_conn_ids`]), and learns of every connection the fast path made
//! ([`Ipvs::adopt`]), which it then treats exactly as one it scheduled: listing, counters,
//! timeouts, expiry, sync.

use std::net::IpAddr;

use thiserror::Error;

use super::{Ipvs, ServiceId};
use crate::conn::table::InKey;
use crate::conn::{Addr16, Conn, ConnId, Direction};
use crate::dest::DestId;
use crate::ipvs::TcpFlags;
use crate::time::Time;
use crate::types::{ForwardMethod, Protocol, ServiceFlags, ServiceKey, TunnelType};

/// Longest scheduling period a fast path takes (`LVS_FAST_SEQ_MAX`).
pub const FAST_SEQ_MAX: usize = 256;

/// How a fast path schedules a service's new connections: `seq[pos % seq.len()]` for the
/// `pos`-th one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastPlan {
    /// One period of the scheduler: `rr` the available servers in list order, `wrr` IPVS's
    /// weighted sequence.
    pub seq: Vec<DestId>,
}

/// A connection a fast path created, to be adopted by the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adopt {
    /// The service the packet was for.
    pub service: ServiceId,
    /// The real server the fast path chose.
    pub dest: DestId,
    /// The id it used (reserved with [`Ipvs::reserve_conn_ids`]).
    pub id: ConnId,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Client address and port.
    pub caddr: IpAddr,
    /// Client port.
    pub cport: u16,
    /// Virtual address.
    pub vaddr: IpAddr,
    /// Virtual port.
    pub vport: u16,
}

/// Why [`Ipvs::adopt`] refused a connection (nothing was changed; the caller removes what
/// the fast path installed and releases the id).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum AdoptError {
    /// The id is not reserved.
    #[error("connection id not reserved")]
    NotReserved,
    /// The service no longer exists, or is not the packet's.
    #[error("service gone")]
    ServiceGone,
    /// The real server was deleted, or is not the service's.
    #[error("real server gone")]
    DestGone,
    /// Another connection has the tuple.
    #[error("tuple already has a connection")]
    TupleTaken,
}

/// One period of IPVS's weighted round robin over `weights` (list order): for the current
/// weight `cw` from the maximum down by the gcd, every server whose weight is at least `cw`
/// (`ip_vs_wrr_schedule` over a full cycle). Servers with weight ≤ 0 never appear. Empty if
/// no weight is positive.
pub fn wrr_period(weights: &[i32]) -> Vec<usize> {
    let mut g = 0;
    let mut max = 0;
    for &w in weights.iter().filter(|w| **w > 0) {
        g = if g > 0 { gcd(w, g) } else { w };
        max = max.max(w);
    }
    let mut seq = Vec::new();
    if g == 0 {
        return seq;
    }
    let mut cw = max - (g - 1);
    while cw > 0 {
        seq.extend(
            weights
                .iter()
                .enumerate()
                .filter(|(_, w)| **w >= cw)
                .map(|(i, _)| i),
        );
        cw -= g;
    }
    seq
}

fn gcd(mut a: i32, mut b: i32) -> i32 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

impl Ipvs {
    /// The fast-path schedule of service `sid`, or `None` if a fast path must leave its new
    /// connections to the model: only `rr` and `wrr` services on an address and a port (not
    /// firewall-mark, not port 0), without persistence or one-packet scheduling, whose real
    /// servers all have no connection thresholds and use NAT, direct routing or IPIP
    /// tunnels, with at least one positive weight and a period of at most
    /// [`FAST_SEQ_MAX`].
    pub fn fast_plan(&self, sid: ServiceId) -> Option<FastPlan> {
        let svc = self.services.get(sid.0 as usize)?.as_deref()?;
        let ServiceKey::Addr { port, .. } = svc.key else {
            return None;
        };
        if port == 0
            || svc.flags.has(ServiceFlags::PERSISTENT)
            || svc.flags.has(ServiceFlags::ONEPACKET)
            || svc.persistence.is_some()
        {
            return None;
        }
        let mut weights = Vec::with_capacity(svc.dests.len());
        for &did in &svc.dests {
            let d = self.dests.try_get(did)?;
            let fwd_ok = match d.fwd {
                ForwardMethod::Masq | ForwardMethod::Route => true,
                ForwardMethod::Tunnel => d.tunnel.kind == TunnelType::Ipip,
                _ => false,
            };
            if !fwd_ok || d.u_threshold != 0 || d.l_threshold != 0 || !d.is_available() {
                return None;
            }
            weights.push(d.weight);
        }
        let idx: Vec<usize> = match svc.sched_name.as_str() {
            "rr" => (0..weights.len()).filter(|&i| weights[i] > 0).collect(),
            "wrr" => wrr_period(&weights),
            _ => return None,
        };
        if idx.is_empty() || idx.len() > FAST_SEQ_MAX {
            return None;
        }
        Some(FastPlan {
            seq: idx.into_iter().map(|i| svc.dests[i]).collect(),
        })
    }

    /// The handle of the service `key`.
    pub fn service_id_of(&self, key: &ServiceKey) -> Option<ServiceId> {
        self.by_key.get(key).copied()
    }

    /// Reserve up to `n` connection ids for a fast path (see
    /// [`crate::conn::ConnTable::reserve`]).
    pub fn reserve_conn_ids(&mut self, n: usize) -> Vec<ConnId> {
        self.conns.reserve(n)
    }

    /// Give a reserved id back. Returns `false` if it was not reserved.
    pub fn release_conn_id(&mut self, id: ConnId) -> bool {
        self.conns.release(id)
    }

    /// Take over a connection a fast path created for the first packet from
    /// `caddr:cport` to `vaddr:vport`, under the reserved id `a.id`, towards `a.dest`:
    /// created as scheduling would have created it (flags of the real server, its
    /// active/inactive counter, the "Conns" counters of server, service and totals).
    ///
    /// The first packet itself: UDP is run through the model here (its timeout, packet
    /// count); the packet's bytes are not counted (the fast path counted them for the real
    /// server). TCP is left at state NONE: the fast path reports the packet's state change
    /// (NONE → SYN_RECV) next, to be fed to [`Ipvs::observe_counted`] with count 1, which
    /// does what the first packet does in [`Ipvs::process_in`].
    pub fn adopt(&mut self, a: &Adopt, now: Time) -> Result<Conn, AdoptError> {
        if !self.conns.is_reserved(a.id) {
            return Err(AdoptError::NotReserved);
        }
        let svc = self
            .services
            .get(a.service.0 as usize)
            .and_then(|s| s.as_deref())
            .ok_or(AdoptError::ServiceGone)?;
        let want = ServiceKey::Addr {
            protocol: a.protocol,
            addr: a.vaddr,
            port: a.vport,
        };
        if svc.key != want {
            return Err(AdoptError::ServiceGone);
        }
        let d = self.dests.try_get(a.dest).ok_or(AdoptError::DestGone)?;
        if d.svc != Some(a.service) || !d.is_available() || !svc.dests.contains(&a.dest) {
            return Err(AdoptError::DestGone);
        }
        let dport = if d.port != 0 { d.port } else { a.vport };
        let af = crate::types::Af::of(&a.caddr);
        let key = InKey {
            af,
            protocol: a.protocol.number(),
            caddr: Addr16::from_ip(a.caddr),
            cport: a.cport,
            vaddr: Addr16::from_ip(a.vaddr),
            vport: a.vport,
        };
        if self.conns.in_get(&key).is_some() {
            return Err(AdoptError::TupleTaken);
        }
        let id = self
            .conn_new(
                a.service,
                af,
                a.protocol.number(),
                a.caddr,
                a.cport,
                Addr16::from_ip(a.vaddr),
                a.vport,
                a.dest,
                dport,
                0,
                0,
                now,
                Some(a.id),
            )
            .map_err(|_| AdoptError::DestGone)?;
        self.count_conn(id);
        if a.protocol == Protocol::Udp {
            self.set_state(id, Direction::Input, TcpFlags::default());
            if let Some(c) = self.conns.get_mut(id) {
                c.in_pkts = 1;
            }
            self.conn_put(id, now);
        }
        self.conns.get(id).copied().ok_or(AdoptError::NotReserved)
    }
}
