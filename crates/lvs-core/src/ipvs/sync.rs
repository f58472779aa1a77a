//! The sync daemon's side of the model (`ip_vs_sync.c`: `ip_vs_sync_conn` on the master,
//! `ip_vs_proc_conn` on the backup). The wire format and the batching are in
//! [`crate::sync`]; this file decides what to send and applies what was received.

use std::collections::HashMap;

use super::Ipvs;
use crate::conn::table::InKey;
use crate::conn::{Addr16, Conn, ConnFlags, ConnId, Direction, NONE, TcpState, af_code};
use crate::dest::DestId;
use crate::ipvs::TcpFlags;
use crate::sync::engine::{SyncApplied, SyncParams, SyncReject, sync_needed};
use crate::sync::wire::{SyncConn, Version};
use crate::time::Time;
use crate::types::{Af, ForwardMethod, Protocol, ServiceKey};

/// Flags a backup takes from a message for a new entry (`IP_VS_CONN_F_BACKUP_MASK`).
pub const BACKUP_MASK: u32 = ConnFlags::FWD_MASK
    | ConnFlags::NOOUTPUT
    | ConnFlags::INACTIVE
    | ConnFlags::OUT_SEQ
    | ConnFlags::IN_SEQ
    | ConnFlags::NO_CPORT
    | ConnFlags::TEMPLATE;

/// Flags a backup updates on an existing entry (`IP_VS_CONN_F_BACKUP_UPD_MASK`).
pub const BACKUP_UPD_MASK: u32 = ConnFlags::INACTIVE | ConnFlags::OUT_SEQ | ConnFlags::IN_SEQ;

/// Timeout of a v0 template (`3*60*HZ`: v0 carries no timeout).
const V0_TEMPLATE_TIMEOUT_MS: u32 = 180_000;

/// Most entries waiting for [`Ipvs::drain_sync`]; beyond that they are dropped (counted).
const OUT_MAX: usize = 1 << 20;

/// Sync state kept by the model.
#[derive(Debug, Default)]
pub(super) struct SyncModel {
    params: SyncParams,
    master: bool,
    out: Vec<SyncConn>,
    dropped: u64,
    journal: Option<Vec<ConnId>>,
    /// `old_state` and `sync_endtime` per connection while a master runs (absent =
    /// both 0, as for a new kernel connection).
    marks: HashMap<ConnId, SyncMark>,
}

/// What `ip_vs_find_dest` looks a synced entry's real server up by.
#[derive(Clone, Copy)]
struct DestQuery {
    af: Af,
    fwmark: u32,
    protocol: u8,
    vaddr: Addr16,
    vport: u16,
    daddr: Addr16,
    dport: u16,
    flags: u32,
}

/// What the kernel keeps in `struct ip_vs_conn` for sync and this model keeps aside (so
/// that connections stay 112 bytes): the state last sent, and the expected expiry then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SyncMark {
    old_state: u8,
    endtime: u64,
}

impl Ipvs {
    // ------------------------------------------------------------------ settings

    /// The sync sysctls.
    pub fn sync_params(&self) -> &SyncParams {
        &self.sync.params
    }

    /// Set the sync sysctls (refused if they break the kernel's constraints).
    pub fn set_sync_params(&mut self, p: SyncParams) -> Result<(), &'static str> {
        p.validate()?;
        self.sync.params = p;
        Ok(())
    }

    /// Start (`true`) or stop reporting connections to send ([`Ipvs::drain_sync`]), i.e.
    /// whether a master sync daemon runs. Stopping discards what was not drained.
    pub fn set_sync_master(&mut self, on: bool) {
        self.sync.master = on;
        if !on {
            self.sync.out.clear();
            self.sync.marks.clear();
        }
    }

    /// Whether a master sync daemon runs.
    pub fn is_sync_master(&self) -> bool {
        self.sync.master
    }

    /// The entries to send since the last call, in the order the kernel would put them in
    /// its sync buffer (a template right before the connection it controls).
    pub fn drain_sync(&mut self) -> Vec<SyncConn> {
        std::mem::take(&mut self.sync.out)
    }

    /// Entries dropped because nobody drained them (more than 2^20 waiting).
    pub fn sync_dropped(&self) -> u64 {
        self.sync.dropped
    }

    /// Keep a journal of the connections a sync message created or changed, for
    /// [`Ipvs::drain_synced`] (the data path installs or updates their flow entries).
    pub fn set_sync_journal(&mut self, on: bool) {
        self.sync.journal = on.then(Vec::new);
    }

    /// Connections created or updated by [`Ipvs::sync_apply`] since the last call (ids
    /// may have been removed or reused since: look them up).
    pub fn drain_synced(&mut self) -> Vec<ConnId> {
        match self.sync.journal.as_mut() {
            Some(j) => std::mem::take(j),
            None => Vec::new(),
        }
    }

    // ------------------------------------------------------------------ master

    fn in_persistence(&self, c: &Conn) -> bool {
        let mut cur = c.control();
        for _ in 0..8 {
            let Some(t) = cur.and_then(|id| self.conns.get(id)) else {
                return false;
            };
            if t.is_template() {
                return true;
            }
            cur = t.control();
        }
        false
    }

    fn sync_out(&mut self, r: SyncConn) {
        if self.sync.out.len() >= OUT_MAX {
            self.sync.dropped += 1;
        } else {
            self.sync.out.push(r);
        }
    }

    /// `ip_vs_sync_conn`: after an inbound packet that made connection `id`'s count
    /// `pkts`, queue it if [`sync_needed`] says so (a state change since it was last sent
    /// counts as a change, as the kernel's `old_state`), then consider its controlling
    /// template (whose own count goes up by one).
    pub(super) fn sync_check(&mut self, id: ConnId, pkts: u32, now: Time) {
        if !self.sync.master {
            return;
        }
        let p = self.sync.params;
        let mut batch = Vec::new();
        let (mut cur, mut pkts) = (id, pkts);
        for _ in 0..8 {
            let Some(c) = self.conns.get(cur).copied() else {
                break;
            };
            if !c.flags.has(ConnFlags::ONE_PACKET) {
                let in_pers = self.in_persistence(&c);
                let mut mark = self.sync.marks.get(&cur).copied().unwrap_or_default();
                let changed = c.state != mark.old_state;
                let refresh = p.refresh_period_ms > 0;
                let mut end = mark.endtime;
                let end_ref = refresh.then_some(&mut end);
                if sync_needed(&p, &c, in_pers, changed, pkts, now, end_ref) {
                    mark.old_state = c.state;
                    mark.endtime = end;
                    if mark == SyncMark::default() {
                        self.sync.marks.remove(&cur);
                    } else {
                        self.sync.marks.insert(cur, mark);
                    }
                    if let Some(r) = SyncConn::from_conn(&c) {
                        batch.push(r);
                    }
                }
            }
            let Some(ct) = c.control() else { break };
            pkts = match self.conns.get_mut(ct) {
                Some(t) if t.is_template() => {
                    t.in_pkts = t.in_pkts.wrapping_add(1);
                    t.in_pkts
                }
                Some(_) => p.threshold,
                None => break,
            };
            cur = ct;
        }
        // Templates first (the kernel appends a template right after the connection that
        // used it; it has already sent it on the connection's first packet, though): a
        // backup reading in order learns where a client is persistent first.
        for r in batch.into_iter().rev() {
            self.sync_out(r);
        }
    }

    /// The expiry of an entry that still controls others re-armed it: the master tells the
    /// backups about the new timeout (`ip_vs_conn_expire`).
    pub(super) fn sync_rearmed(&mut self, id: ConnId, now: Time) {
        let t = self.sync.params.threshold;
        self.sync_check(id, t, now);
    }

    /// Forget the sync bookkeeping of a removed entry.
    pub(super) fn sync_forget(&mut self, id: ConnId) {
        if !self.sync.marks.is_empty() {
            self.sync.marks.remove(&id);
        }
    }

    /// A TCP packet of connection `id` that the fast path forwarded on its own and that
    /// changed its state, with the connection's inbound packet count `pkts` after it:
    /// [`Ipvs::observe`] plus the master's sync decision for that packet. (The kernel
    /// decides on inbound packets only; the fast path reports nothing about the inbound
    /// packets that follow a reply's state change, so this decides on replies too.)
    pub fn observe_counted(
        &mut self,
        id: ConnId,
        dir: Direction,
        flags: TcpFlags,
        pkts: u32,
        now: Time,
    ) {
        if self.conns.get(id).is_none() {
            return;
        }
        self.set_state(id, dir, flags);
        if let Some(c) = self.conns.get_mut(id) {
            c.in_pkts = c.in_pkts.max(pkts);
        }
        self.sync_check(id, pkts, now);
        self.conn_put(id, now);
    }

    /// The fast path saw connection `id`'s inbound packet number `pkts` (it reports the
    /// packets that meet the `sync_threshold`/`sync_period` rule): the master's sync
    /// decision for that packet.
    pub fn sync_packets(&mut self, id: ConnId, pkts: u32, now: Time) {
        if let Some(c) = self.conns.get_mut(id) {
            c.in_pkts = c.in_pkts.max(pkts);
        } else {
            return;
        }
        self.sync_check(id, pkts, now);
    }

    // ------------------------------------------------------------------ backup

    /// A received entry's state counts as sent (`cp->old_state = cp->state`), for a
    /// director that is master and backup at once.
    fn sync_mark_received(&mut self, id: ConnId) {
        if !self.sync.master {
            return;
        }
        if let Some(c) = self.conns.get(id) {
            let state = c.state;
            let m = self.sync.marks.entry(id).or_default();
            m.old_state = state;
            if *m == SyncMark::default() {
                self.sync.marks.remove(&id);
            }
        }
    }

    /// `ip_vs_find_dest`: the real server a synced entry belongs to here, found through
    /// the service (fwmark, then protocol/address/port, then the port-0 service).
    fn sync_find_dest(&self, q: &DestQuery) -> Option<DestId> {
        let DestQuery {
            af,
            fwmark,
            protocol,
            vaddr,
            vport,
            daddr,
            dport,
            flags,
        } = *q;
        let mut sid = None;
        if fwmark != 0 {
            sid = self.by_key.get(&ServiceKey::Fwmark { af, mark: fwmark });
        }
        if sid.is_none()
            && let Some(proto) = Protocol::from_number(protocol)
        {
            let addr = vaddr.to_ip(af);
            sid = self
                .by_key
                .get(&ServiceKey::Addr {
                    protocol: proto,
                    addr,
                    port: vport,
                })
                .or_else(|| {
                    self.by_key.get(&ServiceKey::Addr {
                        protocol: proto,
                        addr,
                        port: 0,
                    })
                });
        }
        let svc = self.services.get(sid?.0 as usize)?.as_deref()?;
        let mut port = dport;
        if fwmark != 0 && flags & ConnFlags::FWD_MASK != ForwardMethod::Masq as u32 {
            port = 0;
        }
        let ip = daddr.to_ip(af);
        self.find_dest(svc, ip, port)
            .or_else(|| self.find_dest(svc, ip, port ^ dport))
            .map(|(_, d)| d)
    }

    /// `ip_vs_bind_dest` for an entry created by sync: a connection keeps the master's
    /// INACTIVE bit, the forwarding method is the local server's; counters go up.
    fn sync_bind(&mut self, flags: u32, did: DestId) -> u32 {
        let d = self.dests.get_mut(did);
        let mut cf = d.conn_flags();
        let template = flags & ConnFlags::TEMPLATE != 0;
        if !template {
            cf &= !ConnFlags::INACTIVE;
        }
        let flags = (flags & !(ConnFlags::FWD_MASK | ConnFlags::NOOUTPUT)) | cf;
        if template {
            d.persistconns += 1;
        } else if flags & ConnFlags::INACTIVE != 0 {
            d.inactconns += 1;
        } else {
            d.activeconns += 1;
        }
        if d.u_threshold != 0 && d.conns() >= d.u_threshold {
            d.flags.0 |= crate::dest::DestFlags::OVERLOAD;
        }
        flags
    }

    fn sync_timeout_ms(&self, rec: &SyncConn, template: bool) -> u32 {
        if rec.timeout != 0 {
            return rec.timeout.min(u32::MAX / 1000) * 1000;
        }
        if template {
            return V0_TEMPLATE_TIMEOUT_MS;
        }
        match Protocol::from_number(rec.protocol) {
            Some(Protocol::Tcp) => TcpState::from_u8(rec.state as u8)
                .map_or(V0_TEMPLATE_TIMEOUT_MS, |s| self.config.timeouts.tcp(s)),
            Some(Protocol::Udp) => self.config.timeouts.udp(),
            Some(Protocol::Sctp) => self.config.timeouts.tcp(TcpState::Established),
            None => V0_TEMPLATE_TIMEOUT_MS,
        }
    }

    /// Apply one received entry (`ip_vs_proc_sync_conn` + `ip_vs_proc_conn`), as a backup
    /// does: an existing connection (or template) gets the message's state, timeout and
    /// INACTIVE bit (with the real server's counters fixed up); a new one is created with
    /// `IP_VS_CONN_F_SYNC`, bound to the local real server that matches (service, address,
    /// port), whose forwarding method it then uses, or left unbound (forwarded as the
    /// master did) if none matches. Connections keep the master's active/inactive state in
    /// the counters, as IPVS does. The packet count is set to `sync_threshold`, the expiry
    /// to now + the message's timeout (v0: the protocol's table, templates 3 minutes).
    ///
    /// `version` is the message's: v1 entries keep only the flags a backup may take
    /// (`IP_VS_CONN_F_BACKUP_MASK`), v0 entries all but HASHED, as the kernel does.
    pub fn sync_apply(
        &mut self,
        rec: &SyncConn,
        version: Version,
        now: Time,
    ) -> Result<SyncApplied, SyncReject> {
        let mut flags = match version {
            Version::V1 => rec.flags & BACKUP_MASK,
            Version::V0 => rec.flags & !ConnFlags::HASHED,
        } | ConnFlags::SYNC;
        let template = flags & ConnFlags::TEMPLATE != 0;
        if !template {
            let proto =
                Protocol::from_number(rec.protocol).ok_or(SyncReject::Protocol(rec.protocol))?;
            let states = match proto {
                Protocol::Tcp => TcpState::COUNT as u16,
                Protocol::Udp => 1,
                Protocol::Sctp => 14,
            };
            if rec.state >= states {
                return Err(SyncReject::State(rec.state));
            }
        }
        if rec.pe_data.is_some() {
            return Err(SyncReject::PersistenceEngine);
        }
        let key = InKey {
            af: rec.af,
            protocol: rec.protocol,
            caddr: rec.caddr,
            cport: rec.cport,
            vaddr: rec.vaddr,
            vport: rec.vport,
        };
        let mut cp = if template {
            self.conns.ct_in_get(&key)
        } else {
            self.conns.in_get(&key)
        };
        if !template
            && let Some(id) = cp
            && let Some(c) = self.conns.get(id)
            && (c.dport != rec.dport || c.daddr != rec.daddr)
        {
            if flags & ConnFlags::INACTIVE == 0 {
                self.expire_conn(id, now, false);
                cp = None;
            } else {
                // The expiry message of a connection this director already replaced.
                return Ok(SyncApplied::Ignored);
            }
        }
        let timeout_ms = self.sync_timeout_ms(rec, template);
        let threshold = self.sync.params.threshold;
        let id = match cp {
            Some(id) => {
                let c = *self.conns.get(id).ok_or(SyncReject::Local)?;
                if !template
                    && (c.flags.0 ^ flags) & ConnFlags::INACTIVE != 0
                    && let Some(d) = c.dest().and_then(|d| self.dests.try_get_mut(d))
                {
                    if flags & ConnFlags::INACTIVE != 0 {
                        d.activeconns = d.activeconns.saturating_sub(1);
                        d.inactconns += 1;
                    } else {
                        d.activeconns += 1;
                        d.inactconns = d.inactconns.saturating_sub(1);
                    }
                }
                let mut nflags = (flags & BACKUP_UPD_MASK) | (c.flags.0 & !BACKUP_UPD_MASK);
                let mut bind = None;
                if c.dest().is_none()
                    && let Some(did) = self.sync_find_dest(&DestQuery {
                        af: c.af(),
                        fwmark: c.fwmark,
                        protocol: c.protocol,
                        vaddr: c.vaddr,
                        vport: c.vport,
                        daddr: c.daddr,
                        dport: c.dport,
                        flags: nflags,
                    })
                {
                    nflags = self.sync_bind(nflags, did);
                    bind = Some(did);
                }
                match bind {
                    // The forwarding bits are part of the key: re-index.
                    Some(did) => self.conns.rekey(id, |c| {
                        c.flags = ConnFlags(nflags);
                        c.dest = did.0;
                    }),
                    None => {
                        if let Some(c) = self.conns.get_mut(id) {
                            c.flags = ConnFlags(nflags);
                        }
                    }
                }
                id
            }
            None => {
                let did = self.sync_find_dest(&DestQuery {
                    af: rec.af,
                    fwmark: rec.fwmark,
                    protocol: rec.protocol,
                    vaddr: rec.vaddr,
                    vport: rec.vport,
                    daddr: rec.daddr,
                    dport: rec.dport,
                    flags,
                });
                let fullnat_local =
                    |flags: u32| flags & ConnFlags::FWD_MASK == ConnFlags::FWD_FULLNAT && !template;
                let final_flags = match did {
                    Some(d) => {
                        let mut cf = self.dests.get(d).conn_flags();
                        if !template {
                            cf &= !ConnFlags::INACTIVE;
                        }
                        (flags & !(ConnFlags::FWD_MASK | ConnFlags::NOOUTPUT)) | cf
                    }
                    None => flags,
                };
                let (mut laddr, mut lport) = (Addr16::ZERO, 0);
                if fullnat_local(final_flags) {
                    let (a, p) = rec.local.ok_or(SyncReject::Local)?;
                    let svc = did
                        .and_then(|d| self.dests.get(d).svc)
                        .and_then(|s| self.services.get_mut(s.0 as usize)?.as_deref_mut());
                    if let Some(svc) = svc
                        && svc.laddrs.reserve(a.to_ip(rec.af), rec.protocol, p) == Some(false)
                    {
                        return Err(SyncReject::Local);
                    }
                    laddr = a;
                    lport = p;
                }
                if let Some(d) = did {
                    flags = self.sync_bind(flags, d);
                }
                let conn = Conn {
                    caddr: rec.caddr,
                    vaddr: rec.vaddr,
                    daddr: rec.daddr,
                    laddr,
                    expires: now.add_millis(u64::from(timeout_ms)),
                    timeout_ms,
                    flags: ConnFlags(flags),
                    fwmark: rec.fwmark,
                    dest: did.map_or(NONE, |d| d.0),
                    control: NONE,
                    n_control: 0,
                    in_pkts: threshold,
                    cport: rec.cport,
                    vport: rec.vport,
                    dport: rec.dport,
                    lport,
                    protocol: rec.protocol,
                    af: af_code(rec.af),
                    daf: af_code(rec.af),
                    state: rec.state as u8,
                };
                let id = self.conns.insert(conn);
                self.sync_mark_received(id);
                if let Some(j) = self.sync.journal.as_mut() {
                    j.push(id);
                }
                return Ok(SyncApplied::Created(id));
            }
        };
        if let Some(c) = self.conns.get_mut(id) {
            c.in_pkts = threshold;
            c.state = rec.state as u8;
            c.timeout_ms = timeout_ms;
        }
        self.sync_mark_received(id);
        self.conns
            .set_expires(id, now.add_millis(u64::from(timeout_ms)));
        if let Some(j) = self.sync.journal.as_mut() {
            j.push(id);
        }
        Ok(SyncApplied::Updated(id))
    }
}
