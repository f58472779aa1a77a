//! Real servers (`struct ip_vs_dest`).

use std::net::IpAddr;

use crate::service::DestConfig;
use crate::stats::Stats;
use crate::types::{Af, ForwardMethod, TunnelConfig};

/// Stable handle of a real server inside an [`crate::Ipvs`] (or a test's [`DestSlab`]).
///
/// Handles stay valid while the destination is in its service's list or in the trash
/// (deleted but still referenced by connections); they are reused only after that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DestId(pub u32);

/// Destination flags (`IP_VS_DEST_F_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestFlags(pub u32);

impl DestFlags {
    /// `IP_VS_DEST_F_AVAILABLE`: the destination is in its service's list.
    pub const AVAILABLE: u32 = 0x0001;
    /// `IP_VS_DEST_F_OVERLOAD`: the upper threshold was reached (§3.15).
    pub const OVERLOAD: u32 = 0x0002;
}

/// A real server of a virtual service.
#[derive(Clone, Debug)]
pub struct Dest {
    /// Address family of the real server (differs from the service's only for tunnels).
    pub af: Af,
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port (0 = use the packet's port).
    pub port: u16,
    /// Forwarding method.
    pub fwd: ForwardMethod,
    /// Tunnel settings (meaningful for [`ForwardMethod::Tunnel`]).
    pub tunnel: TunnelConfig,
    /// Weight, 0..=i32::MAX; 0 quiesces the server.
    pub weight: i32,
    /// Latest non-zero weight (kept by `mh` so a quiesced server keeps its table slots).
    pub last_weight: i32,
    /// Upper connection threshold, 0 = none.
    pub u_threshold: u32,
    /// Lower connection threshold, 0 = none (then 3/4 of the upper one).
    pub l_threshold: u32,
    /// `IP_VS_DEST_F_*` flags.
    pub flags: DestFlags,
    /// Connections in an active state (TCP ESTABLISHED, SYN_SENT, SYN_RECV, SYNACK).
    pub activeconns: u32,
    /// Connections in any other state (every UDP connection).
    pub inactconns: u32,
    /// Persistence templates pointing at this server.
    pub persistconns: u32,
    /// Counters and rates.
    pub stats: Stats,
    /// The service this destination belongs (or belonged, when deleted) to.
    pub svc: Option<crate::ipvs::ServiceId>,
}

impl Dest {
    /// A new available destination with weight 1 and no thresholds.
    pub fn new(addr: IpAddr, port: u16, fwd: ForwardMethod) -> Dest {
        Dest {
            af: Af::of(&addr),
            addr,
            port,
            fwd,
            tunnel: TunnelConfig::default(),
            weight: 1,
            last_weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            flags: DestFlags(DestFlags::AVAILABLE),
            activeconns: 0,
            inactconns: 0,
            persistconns: 0,
            stats: Stats::default(),
            svc: None,
        }
    }

    /// The same destination with another weight, as `ipvsadm -a -w` gives it: on add the
    /// kernel copies the weight into `last_weight` even when it is 0.
    pub fn with_weight(mut self, weight: i32) -> Dest {
        self.weight = weight;
        self.last_weight = weight;
        self
    }

    /// The flags a new connection to this destination starts with (`dest->conn_flags`):
    /// the forwarding method, INACTIVE, and NOOUTPUT unless replies pass the director.
    pub fn conn_flags(&self) -> u32 {
        use crate::conn::ConnFlags;
        let fwd = self.fwd as u32;
        let mut f = fwd | ConnFlags::INACTIVE;
        if !self.fwd.sees_replies() {
            f |= ConnFlags::NOOUTPUT;
        }
        f
    }

    /// The destination as the [`DestConfig`] that `ipvsadm -a`/`-e` would give it now.
    pub fn config(&self) -> DestConfig {
        DestConfig {
            addr: self.addr,
            port: self.port,
            fwd: self.fwd,
            tunnel: self.tunnel,
            weight: self.weight,
            u_threshold: self.u_threshold,
            l_threshold: self.l_threshold,
        }
    }

    /// Whether the OVERLOAD flag is set.
    #[inline]
    pub fn is_overloaded(&self) -> bool {
        self.flags.0 & DestFlags::OVERLOAD != 0
    }

    /// Whether the destination is still linked into its service (not deleted).
    #[inline]
    pub fn is_available(&self) -> bool {
        self.flags.0 & DestFlags::AVAILABLE != 0
    }

    /// The classic IPVS load measure used by lc, wlc, lblc, lblcr and twos:
    /// `(activeconns << 8) + inactconns`. An active connection costs 256 times an
    /// inactive one. (Linux 6.12.117 switched to `(activeconns << 8) + totalconns`; we keep
    /// the classic mainline formula, see docs/compat/ipvs-core.md.)
    #[inline]
    pub fn overhead(&self) -> u32 {
        (self.activeconns << 8).wrapping_add(self.inactconns)
    }

    /// Non-template connections bound to the destination (what thresholds compare).
    #[inline]
    pub fn conns(&self) -> u32 {
        self.activeconns + self.inactconns
    }
}

/// The owner of destinations by [`DestId`].
///
/// Handles are never reused: a removed destination leaves an 8-byte tombstone, so a
/// handle that a scheduler still holds (an lblc cache entry, say) can never come to mean
/// another real server. Lookups of removed handles return `None` through
/// [`DestSlab::try_get`].
#[derive(Debug, Default, Clone)]
pub struct DestSlab {
    slots: Vec<Option<Box<Dest>>>,
    live: usize,
}

impl DestSlab {
    /// An empty slab.
    pub fn new() -> DestSlab {
        DestSlab::default()
    }

    /// Store `d` and return its handle.
    ///
    /// # Panics
    /// After 2^32 insertions (handles are never reused).
    pub fn insert(&mut self, d: Dest) -> DestId {
        let i = u32::try_from(self.slots.len()).expect("fewer than 2^32 destinations");
        self.slots.push(Some(Box::new(d)));
        self.live += 1;
        DestId(i)
    }

    /// Remove and return the destination `id`.
    pub fn remove(&mut self, id: DestId) -> Option<Dest> {
        let d = self.slots.get_mut(id.0 as usize)?.take();
        if d.is_some() {
            self.live -= 1;
        }
        d.map(|b| *b)
    }

    /// The destination `id`.
    ///
    /// # Panics
    /// If `id` is not stored; handles come from [`DestSlab::insert`].
    #[inline]
    pub fn get(&self, id: DestId) -> &Dest {
        self.slots[id.0 as usize]
            .as_deref()
            .expect("DestId refers to a stored destination")
    }

    /// The destination `id`, mutably.
    ///
    /// # Panics
    /// If `id` is not stored.
    #[inline]
    pub fn get_mut(&mut self, id: DestId) -> &mut Dest {
        self.slots[id.0 as usize]
            .as_deref_mut()
            .expect("DestId refers to a stored destination")
    }

    /// The destination `id`, if stored.
    #[inline]
    pub fn try_get(&self, id: DestId) -> Option<&Dest> {
        self.slots.get(id.0 as usize).and_then(Option::as_deref)
    }

    /// The destination `id`, mutably, if stored.
    #[inline]
    pub fn try_get_mut(&mut self, id: DestId) -> Option<&mut Dest> {
        self.slots
            .get_mut(id.0 as usize)
            .and_then(Option::as_deref_mut)
    }

    /// Number of stored destinations.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the slab is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_is_classic() {
        let mut d = Dest::new("10.0.0.1".parse().unwrap(), 80, ForwardMethod::Masq);
        d.activeconns = 3;
        d.inactconns = 12;
        assert_eq!(d.overhead(), 3 * 256 + 12);
        assert_eq!(d.conns(), 15);
    }

    #[test]
    fn slab_never_reuses_handles() {
        let mut s = DestSlab::new();
        let a = s.insert(Dest::new(
            "10.0.0.1".parse().unwrap(),
            80,
            ForwardMethod::Masq,
        ));
        let b = s.insert(Dest::new(
            "10.0.0.2".parse().unwrap(),
            80,
            ForwardMethod::Masq,
        ));
        assert_ne!(a, b);
        assert!(s.remove(a).is_some());
        assert!(s.remove(a).is_none());
        assert!(s.try_get(a).is_none());
        let c = s.insert(Dest::new(
            "10.0.0.3".parse().unwrap(),
            80,
            ForwardMethod::Masq,
        ));
        assert_ne!(c, a);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn conn_flags_follow_the_method() {
        use crate::conn::ConnFlags;
        let ip = "10.0.0.1".parse().unwrap();
        assert_eq!(
            Dest::new(ip, 80, ForwardMethod::Masq).conn_flags(),
            ConnFlags::INACTIVE
        );
        assert_eq!(
            Dest::new(ip, 80, ForwardMethod::Route).conn_flags(),
            3 | ConnFlags::INACTIVE | ConnFlags::NOOUTPUT
        );
        assert_eq!(
            Dest::new(ip, 80, ForwardMethod::FullNat).conn_flags(),
            ConnFlags::FWD_FULLNAT | ConnFlags::INACTIVE
        );
    }
}
