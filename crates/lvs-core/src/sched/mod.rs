//! Schedulers: one file per IPVS scheduler behind one [`Scheduler`] trait.
//!
//! Every scheduler makes the same choice as the Linux kernel's `ip_vs_<name>.c` in the same
//! situation: it scans the service's destinations in *list order* (the most recently added
//! real server first, because the kernel adds new destinations at the head of the list),
//! skips destinations with weight 0 (quiesced) and destinations with the OVERLOAD flag, and
//! breaks ties the way the kernel's strict comparisons do. `shared/reference/ipvs.md` §3 is
//! the specification; each file's tests give hand-computed expected sequences.
//!
//! The callbacks mirror `struct ip_vs_scheduler`: [`Scheduler::init_service`],
//! [`Scheduler::add_dest`], [`Scheduler::del_dest`], [`Scheduler::upd_dest`] and
//! [`Scheduler::schedule`]. They receive the service's destinations as a [`DestList`]
//! (list order plus the owner of the [`Dest`] records), so a scheduler can keep
//! [`DestId`]s in its own state (a hash table of buckets, a remembered position).

use std::net::IpAddr;

use crate::dest::{Dest, DestId, DestSlab};
use crate::error::SchedError;
use crate::time::Time;
use crate::types::{Af, Protocol, ServiceFlags};

mod dh;
mod fo;
mod lblc;
mod lblcr;
mod lc;
mod mh;
mod nq;
mod ovf;
mod rr;
mod sed;
mod sh;
mod siphash;
mod twos;
mod wlc;
mod wrr;

pub use dh::Dh;
pub use fo::Fo;
pub use lblc::Lblc;
pub use lblcr::Lblcr;
pub use lc::Lc;
pub use mh::Mh;
pub use nq::Nq;
pub use ovf::Ovf;
pub use rr::Rr;
pub use sed::Sed;
pub use sh::Sh;
pub use twos::Twos;
pub use wlc::Wlc;
pub use wrr::Wrr;

/// The names of every scheduler, in the order of the kernel's `SCHEDULERS` file.
pub const SCHEDULER_NAMES: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// A service's destinations as a scheduler sees them: the list (newest first) and the
/// records behind it.
#[derive(Clone, Copy, Debug)]
pub struct DestList<'a> {
    order: &'a [DestId],
    slab: &'a DestSlab,
}

impl<'a> DestList<'a> {
    /// A view of `order` (list order) over the destinations stored in `slab`.
    pub fn new(order: &'a [DestId], slab: &'a DestSlab) -> DestList<'a> {
        DestList { order, slab }
    }

    /// Number of destinations in the list.
    #[inline]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the list is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The handle at list position `i`.
    #[inline]
    pub fn id(&self, i: usize) -> DestId {
        self.order[i]
    }

    /// The destination at list position `i`.
    #[inline]
    pub fn at(&self, i: usize) -> &'a Dest {
        self.slab.get(self.order[i])
    }

    /// The destination with handle `id` (which may have been removed from the list but
    /// still be stored, like a kernel `ip_vs_dest` in the trash).
    #[inline]
    pub fn get(&self, id: DestId) -> &'a Dest {
        self.slab.get(id)
    }

    /// The destination with handle `id`, if it is still stored.
    #[inline]
    pub fn try_get(&self, id: DestId) -> Option<&'a Dest> {
        self.slab.try_get(id)
    }

    /// The list positions in order with their records.
    pub fn iter(&self) -> impl Iterator<Item = (DestId, &'a Dest)> + 'a {
        let slab = self.slab;
        self.order.iter().map(move |&id| (id, slab.get(id)))
    }

    /// The handles in list order.
    #[inline]
    pub fn ids(&self) -> &'a [DestId] {
        self.order
    }
}

/// What a scheduler knows of the packet that needs a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketInfo {
    /// Transport protocol.
    pub protocol: Protocol,
    /// Source address (the client).
    pub saddr: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination address (the virtual address).
    pub daddr: IpAddr,
    /// Destination port.
    pub dport: u16,
    /// The addresses are those of a packet embedded in an ICMP error ("inverse"): the
    /// client is then `daddr`.
    pub inverse: bool,
}

impl PacketInfo {
    /// A packet from `saddr:sport` to `daddr:dport`.
    pub fn new(protocol: Protocol, saddr: IpAddr, sport: u16, daddr: IpAddr, dport: u16) -> Self {
        PacketInfo {
            protocol,
            saddr,
            sport,
            daddr,
            dport,
            inverse: false,
        }
    }
}

/// Service-level facts a scheduler may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedService {
    /// Address family of the service.
    pub af: Af,
    /// Service flags (the SCHED1..3 bits carry sh/mh fallback and port options).
    pub flags: ServiceFlags,
}

/// Tunables a scheduler is created with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedParams {
    /// Seed of the scheduler's random numbers (`twos`).
    pub seed: u64,
    /// `lblc_expiration` / `lblcr_expiration` sysctl, in seconds (default 86400).
    pub lblc_expiration: u32,
}

impl Default for SchedParams {
    fn default() -> Self {
        SchedParams {
            seed: 0x05ee_d1b5_0000_0001,
            lblc_expiration: 24 * 60 * 60,
        }
    }
}

/// One IPVS scheduling algorithm, with its per-service state (`svc->sched_data`).
pub trait Scheduler: Send + std::fmt::Debug {
    /// The kernel name (`rr`, `wrr`, …).
    fn name(&self) -> &'static str;

    /// Bind to a service whose current destinations are `dests` (`init_service`).
    fn init_service(&mut self, dests: &DestList<'_>, svc: &SchedService) -> Result<(), SchedError> {
        let _ = (dests, svc);
        Ok(())
    }

    /// `id` was just added at the head of the list (`add_dest`); `dests` includes it.
    fn add_dest(
        &mut self,
        dests: &DestList<'_>,
        svc: &SchedService,
        id: DestId,
    ) -> Result<(), SchedError> {
        let _ = (dests, svc, id);
        Ok(())
    }

    /// `id`, formerly at list position `pos`, was just unlinked (`del_dest`); `dests` no
    /// longer includes it but its record is still readable through [`DestList::get`].
    fn del_dest(
        &mut self,
        dests: &DestList<'_>,
        svc: &SchedService,
        id: DestId,
        pos: usize,
    ) -> Result<(), SchedError> {
        let _ = (dests, svc, id, pos);
        Ok(())
    }

    /// `id` was edited (weight, thresholds, method) (`upd_dest`).
    fn upd_dest(
        &mut self,
        dests: &DestList<'_>,
        svc: &SchedService,
        id: DestId,
    ) -> Result<(), SchedError> {
        let _ = (dests, svc, id);
        Ok(())
    }

    /// Pick a destination for a new connection, or `None` ("no destination available").
    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        svc: &SchedService,
        pkt: &PacketInfo,
        now: Time,
    ) -> Option<DestId>;

    /// Periodic housekeeping (the lblc/lblcr expiry timers); called by the owner at least
    /// once a second.
    fn on_timer(&mut self, dests: &DestList<'_>, now: Time) {
        let _ = (dests, now);
    }
}

/// Create the scheduler called `name`, or `None` if there is none by that name.
pub fn new_scheduler(name: &str, params: &SchedParams) -> Option<Box<dyn Scheduler>> {
    let s: Box<dyn Scheduler> = match name {
        "rr" => Box::new(Rr::new()),
        "wrr" => Box::new(Wrr::new()),
        "lc" => Box::new(Lc::new()),
        "wlc" => Box::new(Wlc::new()),
        "sed" => Box::new(Sed::new()),
        "nq" => Box::new(Nq::new()),
        "dh" => Box::new(Dh::new()),
        "sh" => Box::new(Sh::new()),
        "mh" => Box::new(Mh::new()),
        "lblc" => Box::new(Lblc::new(params)),
        "lblcr" => Box::new(Lblcr::new(params)),
        "fo" => Box::new(Fo::new()),
        "ovf" => Box::new(Ovf::new()),
        "twos" => Box::new(Twos::new(params)),
        _ => return None,
    };
    Some(s)
}

/// `hash_32(val, bits)` from `include/linux/hash.h`: multiply by the golden ratio and keep
/// the top `bits` bits.
#[inline]
pub fn hash_32(val: u32, bits: u32) -> u32 {
    val.wrapping_mul(0x61C8_8647) >> (32 - bits)
}

/// The weighted-least-connection pick shared by wlc, lblc and lblcr (`__ip_vs_wlc_schedule`
/// style): the first destination that is not overloaded and has weight > 0 starts, later
/// non-overloaded ones replace it when `loh * w(d) > doh * w(least)` with `overhead` as the
/// load measure.
pub fn weighted_least(dests: &DestList<'_>, overhead: impl Fn(&Dest) -> u32) -> Option<DestId> {
    let mut it = dests.iter();
    let (mut least_id, mut least) = loop {
        let (id, d) = it.next()?;
        if !d.is_overloaded() && d.weight > 0 {
            break (id, d);
        }
    };
    let mut loh = i64::from(overhead(least));
    for (id, d) in it {
        if d.is_overloaded() {
            continue;
        }
        let doh = i64::from(overhead(d));
        if loh * i64::from(d.weight) > doh * i64::from(least.weight) {
            least_id = id;
            least = d;
            loh = doh;
        }
    }
    Some(least_id)
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves() {
        let p = SchedParams::default();
        for name in SCHEDULER_NAMES {
            let s = new_scheduler(name, &p).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(s.name(), name);
        }
        assert!(new_scheduler("nope", &p).is_none());
        assert!(new_scheduler("", &p).is_none());
    }

    #[test]
    fn hash_32_matches_kernel() {
        // hash_32(1, 8) = (0x61C88647 >> 24) = 0x61
        assert_eq!(hash_32(1, 8), 0x61);
        assert_eq!(hash_32(0, 8), 0);
        assert_eq!(
            hash_32(0x0a00_0001, 10),
            (0x0a00_0001u32.wrapping_mul(0x61C8_8647)) >> 22
        );
    }
}
