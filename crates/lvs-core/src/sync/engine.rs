//! The sync daemon's logic without sockets: when the master sends a connection
//! (`ip_vs_sync_conn_needed`), how entries are batched into messages (the kernel's sync
//! buffers), and the backup's receive path (`ip_vs_process_message`) that feeds
//! [`Ipvs::sync_apply`].

use std::collections::VecDeque;

use super::wire::{self, DecodeError, MessageBuilder, SyncConn, Version};
use crate::conn::{Conn, ConnFlags, TcpState};
use crate::ipvs::Ipvs;
use crate::time::Time;
use crate::types::Protocol;

/// `IPVS_SYNC_FLUSH_TIME`: a partly filled message waits at most this long.
pub const FLUSH_TIME_MS: u64 = 2_000;

/// Default bound of the send queue in messages (`sync_qlen_max` is memory-derived in the
/// kernel; we fix it).
pub const QLEN_MAX: usize = 4096;

/// The sync sysctls (`/proc/sys/net/ipv4/vs/sync_*`, reference §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncParams {
    /// `sync_threshold` first value: the packet count at which a connection is sent.
    pub threshold: u32,
    /// `sync_threshold` second value (`sync_period`): resend every this many packets
    /// (0 = only once).
    pub period: u32,
    /// `sync_refresh_period` in milliseconds (0 = off).
    pub refresh_period_ms: u64,
    /// `sync_retries` (0..=3).
    pub retries: u32,
    /// `sync_persist_mode`: do not send connections controlled by a template.
    pub persist_mode: bool,
    /// `sync_version`.
    pub version: Version,
}

impl Default for SyncParams {
    fn default() -> Self {
        SyncParams {
            threshold: 3,
            period: 50,
            refresh_period_ms: 0,
            retries: 0,
            persist_mode: false,
            version: Version::V1,
        }
    }
}

impl SyncParams {
    /// Check the constraints the kernel's sysctl handlers enforce: `0 <= threshold <
    /// period` unless period is 0, retries 0..=3.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.period != 0 && self.threshold >= self.period {
            return Err("sync_threshold must be below sync_period");
        }
        if self.retries > 3 {
            return Err("sync_retries must be 0..3");
        }
        Ok(())
    }
}

/// TCP states in which a connection is synced (`ip_vs_sync_conn_needed`).
fn tcp_state_synced(state: u8) -> bool {
    matches!(
        TcpState::from_u8(state),
        Some(
            TcpState::Established
                | TcpState::FinWait
                | TcpState::Close
                | TcpState::CloseWait
                | TcpState::TimeWait
        )
    )
}

/// `ip_vs_sync_conn_needed`: whether `c` should be sent after a packet that made its
/// inbound packet count `pkts`.
///
/// * `changed`: the packet changed the state (the kernel compares with `old_state`,
///   the state last synced or received; see `docs/sync.md`).
/// * `in_persistence`: the connection is controlled by a template.
/// * `endtime`: the kernel's `sync_endtime` (time of the expected expiry when last sent,
///   low 2 bits = retries), only consulted with `sync_refresh_period`; updated when the
///   answer is yes.
pub fn sync_needed(
    p: &SyncParams,
    c: &Conn,
    in_persistence: bool,
    changed: bool,
    pkts: u32,
    now: Time,
    endtime: Option<&mut u64>,
) -> bool {
    let timeout = u64::from(c.timeout_ms);
    let mut n = now.as_millis().saturating_add(timeout) & !3;
    let orig = endtime.as_deref().copied().unwrap_or(0);
    let template = c.is_template();
    let set = |endtime: Option<&mut u64>, n: u64| {
        if let Some(e) = endtime {
            *e = n;
        }
        true
    };
    if !template {
        if p.persist_mode && in_persistence {
            return false;
        }
        if c.protocol == Protocol::Tcp.number() {
            if !tcp_state_synced(c.state) {
                return false;
            }
            if changed && c.state != TcpState::Established as u8 {
                return set(endtime, n);
            }
        }
        // UDP, SCTP (one state in this model): no state test.
    }
    if p.refresh_period_ms > 0 {
        let diff = n.abs_diff(orig);
        let min_diff = (timeout / 2).max(10_000);
        if diff < p.refresh_period_ms.min(min_diff) {
            let retries = (orig & 3) as u32;
            if retries >= p.retries {
                return false;
            }
            let due = (orig.saturating_sub(timeout)).saturating_add(p.refresh_period_ms / 8);
            if now.as_millis() < due {
                return false;
            }
            n |= u64::from(retries + 1);
        }
    }
    if p.period > 0 {
        if !template && pkts % p.period != p.threshold {
            return false;
        }
    } else if p.refresh_period_ms == 0 && pkts != p.threshold {
        return false;
    }
    set(endtime, n)
}

impl SyncConn {
    /// The entry the master sends for `c` (`ip_vs_sync_conn`): flags without HASHED,
    /// timeout in whole seconds, and for FULLNAT the local address in the [`wire::OPT_LOCAL`]
    /// extension. `None` for a connection whose two sides have different families, which
    /// the format cannot carry (the kernel refuses to sync while such servers exist).
    pub fn from_conn(c: &Conn) -> Option<SyncConn> {
        if c.af != c.daf {
            return None;
        }
        let local = (c.flags.fwd() == crate::types::ForwardMethod::FullNat && !c.is_template())
            .then_some((c.laddr, c.lport));
        Some(SyncConn {
            af: c.af(),
            protocol: c.protocol,
            flags: c.flags.0 & !ConnFlags::HASHED,
            state: u16::from(c.state),
            cport: c.cport,
            vport: c.vport,
            dport: c.dport,
            fwmark: c.fwmark,
            timeout: c.timeout_ms / 1000,
            caddr: c.caddr,
            vaddr: c.vaddr,
            daddr: c.daddr,
            seq: None,
            pe_data: None,
            pe_name: None,
            local,
        })
    }
}

/// The master's sync buffers: entries are appended to the current message until it is
/// full, full messages are queued, and a partly filled one is sent once it is
/// [`FLUSH_TIME_MS`] old.
#[derive(Debug)]
pub struct SyncSender {
    syncid: u8,
    maxlen: usize,
    cur: Option<(MessageBuilder, Time)>,
    queue: VecDeque<Vec<u8>>,
    qlen_max: usize,
    /// Messages dropped because the queue was full.
    pub dropped: u64,
    /// Entries that could not be encoded (e.g. IPv6 with `sync_version` 0).
    pub unencodable: u64,
}

impl SyncSender {
    /// A sender for `syncid` whose messages are at most `maxlen` bytes (UDP payload).
    pub fn new(syncid: u8, maxlen: usize) -> SyncSender {
        SyncSender {
            syncid,
            maxlen: maxlen.max(1),
            cur: None,
            queue: VecDeque::new(),
            qlen_max: QLEN_MAX,
            dropped: 0,
            unencodable: 0,
        }
    }

    fn enqueue(&mut self, m: Vec<u8>) {
        if self.queue.len() >= self.qlen_max {
            self.dropped += 1;
        } else {
            self.queue.push_back(m);
        }
    }

    /// Add one entry in format `version` at `now`.
    pub fn push(&mut self, c: &SyncConn, version: Version, now: Time) {
        let fits = match &self.cur {
            Some((b, _)) if b.version() == version => b.fits(c),
            Some(_) => Ok(false),
            None => Ok(true),
        };
        match fits {
            Err(_) => {
                self.unencodable += 1;
                return;
            }
            Ok(false) => {
                if let Some((b, _)) = self.cur.take() {
                    self.enqueue(b.finish());
                }
            }
            Ok(true) => {}
        }
        let (b, _) = self
            .cur
            .get_or_insert_with(|| (MessageBuilder::new(version, self.syncid, self.maxlen), now));
        if !matches!(b.push(c), Ok(true)) {
            self.unencodable += 1;
        }
        if self.cur.as_ref().is_some_and(|(b, _)| b.is_empty()) {
            self.cur = None;
        }
    }

    /// The next message to send at `now`: queued full ones first, then the current one if
    /// it is [`FLUSH_TIME_MS`] old.
    pub fn pop_ready(&mut self, now: Time) -> Option<Vec<u8>> {
        if let Some(m) = self.queue.pop_front() {
            return Some(m);
        }
        let old = self
            .cur
            .as_ref()
            .is_some_and(|(_, first)| now.millis_since(*first) >= FLUSH_TIME_MS);
        if old {
            return self.cur.take().map(|(b, _)| b.finish());
        }
        None
    }

    /// Everything pending, the partly filled message included (on stop).
    pub fn flush(&mut self) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = self.queue.drain(..).collect();
        if let Some((b, _)) = self.cur.take() {
            v.push(b.finish());
        }
        v
    }

    /// Messages waiting (full ones, plus the current one if any).
    pub fn pending(&self) -> usize {
        self.queue.len() + usize::from(self.cur.is_some())
    }
}

/// Why the backup refused one entry (`ip_vs_proc_sync_conn`'s positive return codes, and
/// what this model cannot represent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncReject {
    /// A protocol IPVS does not balance here.
    #[error("unsupported protocol {0}")]
    Protocol(u8),
    /// A state number beyond the protocol's table.
    #[error("invalid state {0}")]
    State(u16),
    /// Persistence engine data (no persistence engine exists in this model).
    #[error("persistence engine data without a known engine")]
    PersistenceEngine,
    /// A FULLNAT connection without a usable local address and port.
    #[error("FULLNAT connection without a usable local address")]
    Local,
}

/// What the backup did with one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncApplied {
    /// A new connection or template was created (bound to a real server or not).
    Created(crate::conn::ConnId),
    /// An existing one was updated.
    Updated(crate::conn::ConnId),
    /// The message was about a connection this director has already replaced: ignored.
    Ignored,
}

/// Counters of a backup (and what one message did).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiveStats {
    /// Datagrams received.
    pub messages: u64,
    /// Datagrams dropped whole: too short or wrong size.
    pub malformed: u64,
    /// Datagrams dropped for another sync id.
    pub other_syncid: u64,
    /// Datagrams whose decoding stopped at a malformed entry (earlier entries applied).
    pub truncated: u64,
    /// Version 0 datagrams.
    pub v0: u64,
    /// Connections created.
    pub created: u64,
    /// Connections updated.
    pub updated: u64,
    /// Entries ignored (already replaced here).
    pub ignored: u64,
    /// Entries refused (unknown mandatory option, protocol, state, persistence engine).
    pub rejected: u64,
}

impl ReceiveStats {
    fn add(&mut self, o: &ReceiveStats) {
        self.messages += o.messages;
        self.malformed += o.malformed;
        self.other_syncid += o.other_syncid;
        self.truncated += o.truncated;
        self.v0 += o.v0;
        self.created += o.created;
        self.updated += o.updated;
        self.ignored += o.ignored;
        self.rejected += o.rejected;
    }
}

/// The backup's receive path: filters by sync id, decodes, applies each entry to the model.
#[derive(Clone, Debug, Default)]
pub struct SyncReceiver {
    syncid: u8,
    /// Totals since the receiver was created.
    pub stats: ReceiveStats,
    /// The last decoding error.
    pub last_error: Option<DecodeError>,
}

impl SyncReceiver {
    /// A receiver that accepts messages from `syncid` (0 = from any).
    pub fn new(syncid: u8) -> SyncReceiver {
        SyncReceiver {
            syncid,
            stats: ReceiveStats::default(),
            last_error: None,
        }
    }

    /// Process one datagram (`ip_vs_process_message`): returns what it did. Never panics,
    /// whatever `buf` holds.
    pub fn receive(&mut self, ipvs: &mut Ipvs, buf: &[u8], now: Time) -> ReceiveStats {
        let mut r = ReceiveStats {
            messages: 1,
            ..Default::default()
        };
        match wire::peek_header(buf) {
            Err(e) => {
                r.malformed = 1;
                self.last_error = Some(e);
            }
            Ok(h) if self.syncid != 0 && h.syncid != self.syncid => r.other_syncid = 1,
            Ok(_) => match wire::decode(buf) {
                Err(e) => {
                    r.malformed = 1;
                    self.last_error = Some(e);
                }
                Ok(m) => {
                    if m.header.version == Version::V0 {
                        r.v0 = 1;
                    }
                    r.rejected += u64::from(m.skipped);
                    for c in &m.conns {
                        match ipvs.sync_apply(c, m.header.version, now) {
                            Ok(SyncApplied::Created(_)) => r.created += 1,
                            Ok(SyncApplied::Updated(_)) => r.updated += 1,
                            Ok(SyncApplied::Ignored) => r.ignored += 1,
                            Err(_) => r.rejected += 1,
                        }
                    }
                    if let Some(e) = m.error {
                        r.truncated = 1;
                        self.last_error = Some(e);
                    }
                }
            },
        }
        self.stats.add(&r);
        r
    }
}
