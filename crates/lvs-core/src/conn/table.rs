//! The connection table: slot storage, the two lookup indexes and the expiry timer wheel
//! (`ip_vs_conn.c`, reference §5.2 and §5.3).
//!
//! # Layout
//!
//! Entries live in fixed-size chunks of [`CHUNK_SLOTS`] slots (so growing never copies
//! entries and never leaves more than one partly used chunk of slack, unlike a doubling
//! `Vec`). A slot is the 112-byte [`Conn`] plus two `u32` timer links: 120 bytes. Freed
//! slots form a free list threaded through the same links, so ids are reused.
//!
//! Two `hashbrown::HashTable<u32>` hold slot ids (4 bytes + 1 control byte per bucket, load
//! factor ≤ 7/8, so 5.7–11.4 bytes per entry):
//! - the primary index, like the kernel's single `ip_vs_conn_tab`, is keyed on
//!   `(protocol, caddr, cport)`. In-lookups hash the packet's source, out-lookups the
//!   packet's destination (the client), templates live here too;
//! - the FULLNAT index holds FULLNAT entries a second time keyed on `(protocol, laddr,
//!   lport)`, the destination of their replies.
//!
//! # Hash and HashDoS
//!
//! Keys come from packets, so an attacker chooses them. The hash is a two-round folded
//! 64×64→128-bit multiply (the construction of foldhash/wyhash) over the 16 address bytes,
//! the port and the protocol, keyed with 256 bits derived (splitmix64) from the caller's
//! seed. It is fast (two multiplications) and, with a secret random seed, an attacker who
//! only sees forwarding behaviour cannot aim collisions; it is not a cryptographic PRF, so
//! an attacker able to measure lookup timing very precisely could in principle learn
//! something — the same exposure as the kernel's `jhash` with a boot-time random seed.
//! [`ConnTable::new`] uses a fixed seed (deterministic tests); production callers must use
//! [`ConnTable::with_seed`] / [`ConnTable::with_capacity`] with a random seed.
//!
//! # Timer wheel
//!
//! A hashed wheel of [`WHEEL_SLOTS`] (2^14) coarse buckets of [`TICK_MS`] (64) ms covers
//! ~17.5 minutes per revolution; entries further away sit in the bucket of their tick and
//! are left in place (or moved to the right bucket) when a visit finds them early. When the
//! wheel reaches a tick, that bucket's entries of the current revolution are spread over
//! 64 one-millisecond fine buckets, so expiry is exact to the millisecond without sorting.
//! Entries that are already due when armed go to a `due` list. Bitmaps of non-empty
//! buckets let the cursor skip empty ones; if the caller stops calling
//! [`ConnTable::pop_expired`] for more than a revolution, the next call re-sorts the whole
//! wheel once (O(entries + buckets/64)) instead of crawling tick by tick.
//!
//! Moving an expiry later ([`ConnTable::set_expires`], every packet) only writes the time:
//! the entry is re-slotted when its old bucket comes up. Moving it earlier unlinks and
//! re-links it at once. Either way O(1).

use core::fmt;

use hashbrown::HashTable;

use super::{Addr16, Conn, ConnFlags, af_code};
use crate::time::Time;
use crate::types::Af;

/// Handle of a connection in a [`ConnTable`] (a slot index; reused after removal).
pub type ConnId = u32;

/// Slots per storage chunk.
pub const CHUNK_SLOTS: usize = 1 << CHUNK_BITS;
/// Coarse buckets of the timer wheel.
pub const WHEEL_SLOTS: usize = 1 << WHEEL_BITS;
/// Width of a coarse wheel bucket in milliseconds.
pub const TICK_MS: u64 = 1 << TICK_BITS;

const CHUNK_BITS: u32 = 12;
const CHUNK_MASK: u32 = (1 << CHUNK_BITS) - 1;
const WHEEL_BITS: u32 = 14;
const WHEEL_MASK: u64 = (1 << WHEEL_BITS) - 1;
const TICK_BITS: u32 = 6;

/// End of a list.
const NIL: u32 = u32::MAX;
/// `prev` of a free slot.
const FREE: u32 = u32::MAX;
/// `prev` of a stored entry that is on no timer list (popped, not yet re-armed).
const DETACHED: u32 = u32::MAX - 1;
/// `prev` of a slot reserved for [`ConnTable::insert_at`] (neither free nor stored).
const RESERVED: u32 = u32::MAX - 2;
/// `prev` of the first entry of a list: `HEAD | list`.
const HEAD: u32 = 0x8000_0000;
/// Ids stay below this so they never look like a `HEAD` tag.
const MAX_SLOTS: usize = HEAD as usize;

/// Timer lists: coarse buckets `0..WHEEL_SLOTS`, then 64 fine buckets, then `due`.
const FINE0: u32 = WHEEL_SLOTS as u32;
const DUE: u32 = FINE0 + 64;
const NLISTS: usize = DUE as usize + 1;

/// Expiry times are clamped to this for slotting (about 292 million years), keeping tick
/// arithmetic far from overflow; the exact comparison with `now` still uses the real time.
const MAX_EXP: u64 = u64::MAX >> 1;

/// The contents of a reserved slot (never read as an entry).
const PLACEHOLDER: Conn = Conn {
    caddr: Addr16::ZERO,
    vaddr: Addr16::ZERO,
    daddr: Addr16::ZERO,
    laddr: Addr16::ZERO,
    expires: Time::from_millis(0),
    timeout_ms: 0,
    flags: ConnFlags(0),
    fwmark: 0,
    dest: super::NONE,
    control: super::NONE,
    n_control: 0,
    in_pkts: 0,
    cport: 0,
    vport: 0,
    dport: 0,
    lport: 0,
    protocol: 0,
    af: 0,
    daf: 0,
    state: 0,
};

#[inline]
fn clamp(ms: u64) -> u64 {
    ms.min(MAX_EXP)
}

/// The key of a client → virtual service packet (or of a persistence template).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InKey {
    /// Address family of the packet.
    pub af: Af,
    /// IP protocol (0 for fwmark templates).
    pub protocol: u8,
    /// Source address (the client; for templates the masked client network).
    pub caddr: Addr16,
    /// Source port.
    pub cport: u16,
    /// Destination address (the VIP; for fwmark templates the mark as an IPv4 address).
    pub vaddr: Addr16,
    /// Destination port.
    pub vport: u16,
}

/// The key of a reply packet: source = real server, destination = client (or the FULLNAT
/// local address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OutKey {
    /// Address family of the packet (the connection's `daf`).
    pub af: Af,
    /// IP protocol.
    pub protocol: u8,
    /// Source address (real server).
    pub saddr: Addr16,
    /// Source port.
    pub sport: u16,
    /// Destination address (client, or FULLNAT local address).
    pub daddr: Addr16,
    /// Destination port.
    pub dport: u16,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    conn: Conn,
    /// Next entry of the timer list (or of the free list).
    next: u32,
    /// Previous entry, `HEAD | list` for the first one, or [`FREE`] / [`DETACHED`].
    prev: u32,
}

impl Slot {
    #[inline]
    fn is_live(&self) -> bool {
        self.prev != FREE && self.prev != RESERVED
    }
}

/// The 256-bit hash key.
#[derive(Clone, Copy, Debug)]
struct HashKey([u64; 4]);

impl HashKey {
    fn from_seed(seed: u64) -> HashKey {
        let mut s = seed;
        let mut next = || {
            // splitmix64
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        HashKey([next(), next(), next(), next()])
    }

    /// Hash of `(protocol, addr, port)`.
    #[inline]
    fn hash(&self, protocol: u8, addr: &Addr16, port: u16) -> u64 {
        #[inline]
        fn fold(a: u64, b: u64) -> u64 {
            let p = u128::from(a) * u128::from(b);
            (p as u64) ^ ((p >> 64) as u64)
        }
        let v = u128::from_le_bytes(addr.0);
        let k = &self.0;
        let x = fold((v as u64) ^ k[0], ((v >> 64) as u64) ^ k[1]);
        fold(
            x ^ k[2],
            (u64::from(port) << 8 | u64::from(protocol)) ^ k[3],
        )
    }

    #[inline]
    fn primary(&self, c: &Conn) -> u64 {
        self.hash(c.protocol, &c.caddr, c.cport)
    }

    #[inline]
    fn fullnat(&self, c: &Conn) -> u64 {
        self.hash(c.protocol, &c.laddr, c.lport)
    }
}

#[inline]
fn is_fullnat(c: &Conn) -> bool {
    c.flags.0 & ConnFlags::FWD_MASK == ConnFlags::FWD_FULLNAT
}

#[inline]
fn slot_at(chunks: &[Vec<Slot>], id: u32) -> Option<&Slot> {
    chunks
        .get((id >> CHUNK_BITS) as usize)?
        .get((id & CHUNK_MASK) as usize)
        .filter(|s| s.is_live())
}

/// The connection table (see the module documentation for the design).
///
/// All operations are O(1) (amortised for [`ConnTable::insert`] and
/// [`ConnTable::pop_expired`]); no id, stale or never issued, makes any of them panic.
/// Key fields of a stored entry (protocol, af, daf, caddr, cport, vaddr, vport, laddr,
/// lport, and the flag bits TEMPLATE, NO_CPORT, ONE_PACKET and FWD_MASK) and its `expires`
/// may only be changed through [`ConnTable::rekey`] and [`ConnTable::set_expires`].
#[derive(Clone)]
pub struct ConnTable {
    chunks: Vec<Vec<Slot>>,
    free_head: u32,
    len: usize,
    key: HashKey,
    /// Primary index on (protocol, caddr, cport).
    index: HashTable<u32>,
    /// FULLNAT entries on (protocol, laddr, lport).
    fullnat: HashTable<u32>,
    /// Hashed NO_CPORT entries per protocol (gates the cport-0 retry of `in_get`).
    no_cport: [u32; 256],
    wheel: Wheel,
    /// Slots reserved for [`ConnTable::insert_at`].
    reserved: usize,
}

/// Timer wheel state (the links live in the slots).
#[derive(Clone)]
struct Wheel {
    /// First entry of each list.
    heads: Vec<u32>,
    /// Non-empty coarse buckets.
    coarse_bits: Vec<u64>,
    /// Non-empty fine buckets.
    fine_bits: u64,
    /// Entries on any list.
    armed: usize,
    /// Whether `active_tick`/`pos` are meaningful. Until the first `pop_expired` after the
    /// wheel was empty, every entry goes to its coarse bucket and `min_tick` is tracked.
    anchored: bool,
    /// Tick whose entries are spread over the fine buckets.
    active_tick: u64,
    /// Every entry with (clamped) expiry below `pos` is on the due list or was popped; fine
    /// buckets cover `[pos, (active_tick + 1) * TICK_MS)`, coarse ones later ticks.
    pos: u64,
    /// Lower bound of the ticks armed while not anchored.
    min_tick: u64,
    /// Lower bound of the expiries on the due list.
    due_min: u64,
}

impl Wheel {
    fn new() -> Wheel {
        Wheel {
            heads: vec![NIL; NLISTS],
            coarse_bits: vec![0; WHEEL_SLOTS / 64],
            fine_bits: 0,
            armed: 0,
            anchored: false,
            active_tick: 0,
            pos: 0,
            min_tick: u64::MAX,
            due_min: u64::MAX,
        }
    }

    #[inline]
    fn mark_nonempty(&mut self, list: u32) {
        if list < FINE0 {
            self.coarse_bits[(list >> 6) as usize] |= 1 << (list & 63);
        } else if list < DUE {
            self.fine_bits |= 1 << (list - FINE0);
        }
    }

    #[inline]
    fn mark_empty(&mut self, list: u32) {
        if list < FINE0 {
            self.coarse_bits[(list >> 6) as usize] &= !(1 << (list & 63));
        } else if list < DUE {
            self.fine_bits &= !(1 << (list - FINE0));
        } else {
            self.due_min = u64::MAX;
        }
    }

    /// The first tick in `from..=to` (a span of at most one revolution) whose coarse bucket
    /// is non-empty.
    fn find_coarse(&self, from: u64, to: u64) -> Option<u64> {
        let mut t = from;
        while t <= to {
            let b = t & WHEEL_MASK;
            let bit = b & 63;
            let word = self.coarse_bits[(b >> 6) as usize] >> bit;
            if word != 0 {
                let cand = t + u64::from(word.trailing_zeros());
                return (cand <= to).then_some(cand);
            }
            t += 64 - bit;
        }
        None
    }
}

impl Default for ConnTable {
    fn default() -> Self {
        ConnTable::new()
    }
}

impl fmt::Debug for ConnTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnTable")
            .field("len", &self.len)
            .field("armed", &self.wheel.armed)
            .field("fullnat", &self.fullnat.len())
            .field("memory_bytes", &self.memory_bytes())
            .finish_non_exhaustive()
    }
}

impl ConnTable {
    /// Seed used by [`ConnTable::new`].
    pub const DEFAULT_SEED: u64 = 0x6c76_732d_7273_2121;

    /// An empty table hashed with [`ConnTable::DEFAULT_SEED`]. Deterministic, hence
    /// predictable to an attacker: use [`ConnTable::with_seed`] with a random seed for
    /// tables fed by real traffic.
    pub fn new() -> Self {
        ConnTable::with_seed(Self::DEFAULT_SEED)
    }

    /// An empty table whose hash is keyed from `seed` (pass a random one; see the module
    /// documentation on HashDoS).
    pub fn with_seed(seed: u64) -> Self {
        ConnTable::with_capacity(0, seed)
    }

    /// An empty table with room for `n` entries in its index (slot chunks are still
    /// allocated as entries arrive), hashed with a key derived from `seed`.
    pub fn with_capacity(n: usize, seed: u64) -> Self {
        ConnTable {
            chunks: Vec::with_capacity(n.div_ceil(CHUNK_SLOTS)),
            free_head: NIL,
            len: 0,
            key: HashKey::from_seed(seed),
            index: HashTable::with_capacity(n),
            fullnat: HashTable::new(),
            no_cport: [0; 256],
            wheel: Wheel::new(),
            reserved: 0,
        }
    }

    /// Number of stored entries (connections and templates, hashed or not).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table stores nothing.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    // ----- slot access -------------------------------------------------------------------

    /// A slot known to exist (ids from the free list, the indexes or the timer lists).
    #[inline]
    fn s(&self, id: u32) -> &Slot {
        &self.chunks[(id >> CHUNK_BITS) as usize][(id & CHUNK_MASK) as usize]
    }

    #[inline]
    fn s_mut(&mut self, id: u32) -> &mut Slot {
        &mut self.chunks[(id >> CHUNK_BITS) as usize][(id & CHUNK_MASK) as usize]
    }

    #[inline]
    fn live(&self, id: ConnId) -> Option<&Slot> {
        slot_at(&self.chunks, id)
    }

    #[inline]
    fn live_mut(&mut self, id: ConnId) -> Option<&mut Slot> {
        self.chunks
            .get_mut((id >> CHUNK_BITS) as usize)?
            .get_mut((id & CHUNK_MASK) as usize)
            .filter(|s| s.is_live())
    }

    fn alloc(&mut self, conn: Conn) -> u32 {
        let slot = Slot {
            conn,
            next: NIL,
            prev: DETACHED,
        };
        if self.free_head != NIL {
            let id = self.free_head;
            let s = self.s_mut(id);
            let next_free = s.next;
            *s = slot;
            self.free_head = next_free;
            return id;
        }
        let need_chunk = self.chunks.last().is_none_or(|c| c.len() == CHUNK_SLOTS);
        if need_chunk {
            assert!(
                self.chunks.len() * CHUNK_SLOTS < MAX_SLOTS,
                "ConnTable: more than 2^31 entries"
            );
            self.chunks.push(Vec::with_capacity(CHUNK_SLOTS));
        }
        let ci = self.chunks.len() - 1;
        let chunk = &mut self.chunks[ci];
        let id = (ci * CHUNK_SLOTS + chunk.len()) as u32;
        chunk.push(slot);
        id
    }

    // ----- public storage API -----------------------------------------------------------

    /// Store `conn`, index it (unless it has `ONE_PACKET`; `HASHED` is set accordingly)
    /// and arm its timer at `conn.expires`.
    ///
    /// # Panics
    /// If the table would exceed 2^31 entries.
    pub fn insert(&mut self, mut conn: Conn) -> ConnId {
        conn.flags.0 &= !ConnFlags::HASHED;
        let id = self.alloc(conn);
        self.hash_in(id);
        self.arm(id);
        self.len += 1;
        id
    }

    /// Reserve up to `n` ids for entries created elsewhere (the XDP fast path creates
    /// connections under ids it was given, and the entry follows with
    /// [`ConnTable::insert_at`]). A reserved id is neither free (no [`ConnTable::insert`]
    /// takes it) nor stored (no lookup, iteration or expiry sees it). Freed ids are
    /// reserved first, then new slots; returns fewer than `n` only at the 2^31 limit.
    pub fn reserve(&mut self, n: usize) -> Vec<ConnId> {
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let Some(id) = self.alloc_reserved() else {
                break;
            };
            ids.push(id);
        }
        self.reserved += ids.len();
        ids
    }

    fn alloc_reserved(&mut self) -> Option<u32> {
        if self.free_head == NIL
            && self.chunks.last().is_none_or(|c| c.len() == CHUNK_SLOTS)
            && self.chunks.len() * CHUNK_SLOTS >= MAX_SLOTS
        {
            return None;
        }
        let id = self.alloc(PLACEHOLDER);
        self.s_mut(id).prev = RESERVED;
        Some(id)
    }

    /// Whether `id` is reserved (see [`ConnTable::reserve`]).
    pub fn is_reserved(&self, id: ConnId) -> bool {
        self.chunks
            .get((id >> CHUNK_BITS) as usize)
            .and_then(|c| c.get((id & CHUNK_MASK) as usize))
            .is_some_and(|s| s.prev == RESERVED)
    }

    /// Number of reserved ids.
    pub fn reserved_len(&self) -> usize {
        self.reserved
    }

    /// Store `conn` under the reserved id `id`, as [`ConnTable::insert`] would (indexed,
    /// timer armed). Returns `false` and changes nothing if `id` is not reserved.
    pub fn insert_at(&mut self, id: ConnId, mut conn: Conn) -> bool {
        if !self.is_reserved(id) {
            return false;
        }
        conn.flags.0 &= !ConnFlags::HASHED;
        let s = self.s_mut(id);
        s.conn = conn;
        s.next = NIL;
        s.prev = DETACHED;
        self.reserved -= 1;
        self.hash_in(id);
        self.arm(id);
        self.len += 1;
        true
    }

    /// Give a reserved id back (it becomes free). Returns `false` if `id` is not reserved.
    pub fn release(&mut self, id: ConnId) -> bool {
        if !self.is_reserved(id) {
            return false;
        }
        let free_head = self.free_head;
        let s = self.s_mut(id);
        s.prev = FREE;
        s.next = free_head;
        self.free_head = id;
        self.reserved -= 1;
        true
    }

    /// The entry `id`, if stored.
    #[inline]
    pub fn get(&self, id: ConnId) -> Option<&Conn> {
        self.live(id).map(|s| &s.conn)
    }

    /// The entry `id` for modification. Callers must not change key fields (see the type's
    /// documentation) or `expires` through it: use [`ConnTable::rekey`] and
    /// [`ConnTable::set_expires`].
    #[inline]
    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.live_mut(id).map(|s| &mut s.conn)
    }

    /// Set the expiry of `id` to `t` and (re-)arm its timer. Moving it later only writes
    /// the time (the wheel re-slots it lazily); moving it earlier re-links it. Ignored for
    /// ids not stored.
    pub fn set_expires(&mut self, id: ConnId, t: Time) {
        let Some(s) = self.live_mut(id) else {
            return;
        };
        let old = s.conn.expires;
        s.conn.expires = t;
        if s.prev == DETACHED {
            self.arm(id);
        } else if t < old {
            self.unlink(id);
            self.place(id);
        }
    }

    /// Change key fields of `id` with `f`: the entry is unindexed, `f` runs, and it is
    /// indexed again under its new key (a change of `expires` is honoured like
    /// [`ConnTable::set_expires`], except that a popped entry stays detached). Ignored for
    /// ids not stored.
    pub fn rekey(&mut self, id: ConnId, f: impl FnOnce(&mut Conn)) {
        let Some(s) = self.live(id) else {
            return;
        };
        let old = s.conn.expires;
        self.unhash(id);
        let s = self.s_mut(id);
        f(&mut s.conn);
        s.conn.flags.0 &= !ConnFlags::HASHED;
        let (new, prev) = (s.conn.expires, s.prev);
        self.hash_in(id);
        if prev != DETACHED && new < old {
            self.unlink(id);
            self.place(id);
        }
    }

    /// Remove `id`: unindex it, disarm its timer and free its slot for reuse. Returns the
    /// entry (with `HASHED` cleared), or `None` if `id` is not stored.
    pub fn remove(&mut self, id: ConnId) -> Option<Conn> {
        let prev = self.live(id)?.prev;
        self.unhash(id);
        if prev != DETACHED {
            self.unlink(id);
            self.wheel.armed -= 1;
        }
        let free_head = self.free_head;
        let s = self.s_mut(id);
        s.prev = FREE;
        s.next = free_head;
        let conn = s.conn;
        self.free_head = id;
        self.len -= 1;
        Some(conn)
    }

    /// Every stored entry with its id, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (ConnId, &Conn)> {
        self.chunks.iter().enumerate().flat_map(|(ci, chunk)| {
            chunk
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_live())
                .map(move |(i, s)| ((ci * CHUNK_SLOTS + i) as ConnId, &s.conn))
        })
    }

    /// Heap bytes owned by the table: slot chunks (by capacity), both indexes and the
    /// wheel. `memory_bytes() / len()` is the per-connection footprint.
    pub fn memory_bytes(&self) -> usize {
        let slots: usize = self
            .chunks
            .iter()
            .map(|c| c.capacity() * size_of::<Slot>())
            .sum();
        slots
            + self.chunks.capacity() * size_of::<Vec<Slot>>()
            + self.index.allocation_size()
            + self.fullnat.allocation_size()
            + self.wheel.heads.capacity() * size_of::<u32>()
            + self.wheel.coarse_bits.capacity() * size_of::<u64>()
    }

    // ----- indexes ----------------------------------------------------------------------

    /// Index `id` according to its flags (no-op for ONE_PACKET) and set `HASHED`.
    fn hash_in(&mut self, id: u32) {
        let c = self.s(id).conn;
        if c.flags.has(ConnFlags::ONE_PACKET) {
            return;
        }
        let key = self.key;
        let chunks = &self.chunks;
        let rehash = |i: &u32| slot_at(chunks, *i).map_or(0, |s| key.primary(&s.conn));
        self.index.insert_unique(key.primary(&c), id, rehash);
        if is_fullnat(&c) {
            let rehash = |i: &u32| slot_at(chunks, *i).map_or(0, |s| key.fullnat(&s.conn));
            self.fullnat.insert_unique(key.fullnat(&c), id, rehash);
        }
        if c.flags.has(ConnFlags::NO_CPORT) {
            let n = &mut self.no_cport[usize::from(c.protocol)];
            *n = n.saturating_add(1);
        }
        self.s_mut(id).conn.flags.0 |= ConnFlags::HASHED;
    }

    /// Remove `id` from whichever index holds it and clear `HASHED`.
    fn unhash(&mut self, id: u32) {
        let c = self.s(id).conn;
        let found = match self.index.find_entry(self.key.primary(&c), |&i| i == id) {
            Ok(e) => {
                e.remove();
                true
            }
            Err(_) => false,
        };
        if !self.fullnat.is_empty()
            && let Ok(e) = self.fullnat.find_entry(self.key.fullnat(&c), |&i| i == id)
        {
            e.remove();
        }
        if found && c.flags.has(ConnFlags::NO_CPORT) {
            let n = &mut self.no_cport[usize::from(c.protocol)];
            *n = n.saturating_sub(1);
        }
        self.s_mut(id).conn.flags.0 &= !ConnFlags::HASHED;
    }

    fn in_find(&self, k: &InKey, cport: u16) -> Option<ConnId> {
        let af = af_code(k.af);
        let h = self.key.hash(k.protocol, &k.caddr, cport);
        self.index
            .find(h, |&i| {
                slot_at(&self.chunks, i).is_some_and(|s| {
                    let c = &s.conn;
                    c.cport == cport
                        && c.vport == k.vport
                        && c.protocol == k.protocol
                        && c.af == af
                        && c.caddr == k.caddr
                        && c.vaddr == k.vaddr
                        && !c.flags.has(ConnFlags::TEMPLATE)
                        && (cport == 0) == c.flags.has(ConnFlags::NO_CPORT)
                })
            })
            .copied()
    }

    /// The connection a client → virtual service packet belongs to (`ip_vs_conn_in_get`):
    /// a non-template entry with equal af, protocol, caddr, cport, vaddr and vport. As in
    /// the kernel, a packet with cport ≠ 0 matches only entries without `NO_CPORT`; if
    /// that misses and a `NO_CPORT` entry of the protocol exists, the lookup is retried
    /// with cport 0, which matches only `NO_CPORT` entries.
    pub fn in_get(&self, k: &InKey) -> Option<ConnId> {
        self.in_find(k, k.cport).or_else(|| {
            (k.cport != 0 && self.no_cport[usize::from(k.protocol)] > 0)
                .then(|| self.in_find(k, 0))
                .flatten()
        })
    }

    /// The persistence template for `k` (`ip_vs_ct_in_get`): a `TEMPLATE` entry with equal
    /// af, protocol (0 for fwmark templates), caddr, cport, vaddr and vport.
    pub fn ct_in_get(&self, k: &InKey) -> Option<ConnId> {
        let af = af_code(k.af);
        let h = self.key.hash(k.protocol, &k.caddr, k.cport);
        self.index
            .find(h, |&i| {
                slot_at(&self.chunks, i).is_some_and(|s| {
                    let c = &s.conn;
                    c.cport == k.cport
                        && c.vport == k.vport
                        && c.protocol == k.protocol
                        && c.af == af
                        && c.caddr == k.caddr
                        && c.vaddr == k.vaddr
                        && c.flags.has(ConnFlags::TEMPLATE)
                })
            })
            .copied()
    }

    /// The connection a reply packet belongs to (`ip_vs_conn_out_get`): a non-template
    /// entry with equal protocol, `daf == k.af`, `daddr:dport == k.saddr:sport`, and
    /// `laddr:lport == k.daddr:dport` for FULLNAT entries or `caddr:cport ==
    /// k.daddr:dport` for all others.
    pub fn out_get(&self, k: &OutKey) -> Option<ConnId> {
        let af = af_code(k.af);
        let h = self.key.hash(k.protocol, &k.daddr, k.dport);
        let common = |c: &Conn| {
            c.dport == k.sport
                && c.protocol == k.protocol
                && c.daf == af
                && c.daddr == k.saddr
                && !c.flags.has(ConnFlags::TEMPLATE)
        };
        let hit = self.index.find(h, |&i| {
            slot_at(&self.chunks, i).is_some_and(|s| {
                let c = &s.conn;
                c.cport == k.dport && c.caddr == k.daddr && !is_fullnat(c) && common(c)
            })
        });
        if let Some(&id) = hit {
            return Some(id);
        }
        if self.fullnat.is_empty() {
            return None;
        }
        self.fullnat
            .find(h, |&i| {
                slot_at(&self.chunks, i).is_some_and(|s| {
                    let c = &s.conn;
                    c.lport == k.dport && c.laddr == k.daddr && is_fullnat(c) && common(c)
                })
            })
            .copied()
    }

    // ----- timer wheel ------------------------------------------------------------------

    /// Put a detached entry on the timer.
    #[inline]
    fn arm(&mut self, id: u32) {
        self.place(id);
        self.wheel.armed += 1;
    }

    /// Link `id` (on no list) into the list its expiry belongs to.
    fn place(&mut self, id: u32) {
        let e = clamp(self.s(id).conn.expires.as_millis());
        let tick = e >> TICK_BITS;
        let w = &mut self.wheel;
        let list = if !w.anchored {
            w.min_tick = w.min_tick.min(tick);
            (tick & WHEEL_MASK) as u32
        } else if e < w.pos {
            w.due_min = w.due_min.min(e);
            DUE
        } else if tick == w.active_tick {
            FINE0 + (e & 63) as u32
        } else {
            (tick & WHEEL_MASK) as u32
        };
        self.link_head(list, id);
    }

    #[inline]
    fn link_head(&mut self, list: u32, id: u32) {
        let old = self.wheel.heads[list as usize];
        if old == NIL {
            self.wheel.mark_nonempty(list);
        } else {
            self.s_mut(old).prev = id;
        }
        self.wheel.heads[list as usize] = id;
        let s = self.s_mut(id);
        s.prev = HEAD | list;
        s.next = old;
    }

    /// Take `id` off its list (it must be on one); leaves it `DETACHED`.
    fn unlink(&mut self, id: u32) {
        let Slot { prev, next, .. } = *self.s(id);
        debug_assert!(prev != FREE && prev != DETACHED);
        if prev & HEAD != 0 {
            let list = prev & !HEAD;
            self.wheel.heads[list as usize] = next;
            if next == NIL {
                self.wheel.mark_empty(list);
            } else {
                self.s_mut(next).prev = prev;
            }
        } else {
            self.s_mut(prev).next = next;
            if next != NIL {
                self.s_mut(next).prev = prev;
            }
        }
        let s = self.s_mut(id);
        s.prev = DETACHED;
        s.next = NIL;
    }

    /// Detach a whole list, returning its first entry (the chain stays linked by `next`).
    fn take_list(&mut self, list: u32) -> u32 {
        let h = self.wheel.heads[list as usize];
        if h != NIL {
            self.wheel.heads[list as usize] = NIL;
            self.wheel.mark_empty(list);
        }
        h
    }

    /// Re-place every entry of a chain returned by [`ConnTable::take_list`].
    fn replace_chain(&mut self, mut h: u32) {
        while h != NIL {
            let next = self.s(h).next;
            self.place(h);
            h = next;
        }
    }

    /// Make tick `t` the active one: its bucket's entries of this revolution go to the
    /// fine buckets (the fine buckets must be empty).
    fn load_tick(&mut self, t: u64) {
        debug_assert_eq!(self.wheel.fine_bits, 0);
        self.wheel.active_tick = t;
        self.wheel.pos = t << TICK_BITS;
        let h = self.take_list((t & WHEEL_MASK) as u32);
        self.replace_chain(h);
    }

    /// Re-sort the whole wheel for `now` (the caller fell behind by over a revolution).
    fn sweep(&mut self, now: u64) {
        self.wheel.active_tick = now >> TICK_BITS;
        self.wheel.pos = now + 1;
        let mut chains = Vec::new();
        let mut fine = self.wheel.fine_bits;
        while fine != 0 {
            let b = fine.trailing_zeros();
            fine &= fine - 1;
            chains.push(self.take_list(FINE0 + b));
        }
        for w in 0..self.wheel.coarse_bits.len() {
            let mut word = self.wheel.coarse_bits[w];
            while word != 0 {
                let b = word.trailing_zeros();
                word &= word - 1;
                chains.push(self.take_list((w as u32) << 6 | b));
            }
        }
        for h in chains {
            self.replace_chain(h);
        }
    }

    /// Walk `list`: return (detached) the first entry with `expires <= now`; entries whose
    /// expiry moved to `pos` or later (`strict`: later than `pos`) are re-slotted; others
    /// stay.
    fn scan(&mut self, list: u32, now: u64, strict: bool) -> Option<ConnId> {
        let pos = self.wheel.pos;
        let mut h = self.wheel.heads[list as usize];
        while h != NIL {
            let s = self.s(h);
            let next = s.next;
            let real = s.conn.expires.as_millis();
            let e = clamp(real);
            if real <= now {
                self.unlink(h);
                self.wheel.armed -= 1;
                return Some(h);
            }
            if e > pos || (!strict && e == pos) {
                self.unlink(h);
                self.place(h);
            }
            h = next;
        }
        None
    }

    /// The next entry whose expiry is `<= now`, taken off the timer but still stored and
    /// indexed (the caller then calls [`ConnTable::remove`] or
    /// [`ConnTable::set_expires`]). `None` when nothing more is due. Entries whose expiry
    /// was moved later are re-slotted, never returned early. `now` must not go backwards
    /// between calls (if it does, entries are returned late, never early).
    pub fn pop_expired(&mut self, now: Time) -> Option<ConnId> {
        let now_real = now.as_millis();
        let now = clamp(now_real);
        if self.wheel.armed == 0 {
            self.wheel.anchored = false;
            self.wheel.min_tick = u64::MAX;
            return None;
        }
        if !self.wheel.anchored {
            self.wheel.anchored = true;
            let start = self.wheel.min_tick.min(now >> TICK_BITS);
            self.wheel.min_tick = u64::MAX;
            if (now >> TICK_BITS) - start > WHEEL_SLOTS as u64 {
                self.sweep(now);
            } else {
                self.load_tick(start);
            }
        }
        loop {
            if self.wheel.heads[DUE as usize] != NIL {
                if let Some(id) = self.scan(DUE, now_real, false) {
                    return Some(id);
                }
                if self.wheel.heads[DUE as usize] != NIL {
                    return None; // `now` went backwards
                }
            }
            let pos = self.wheel.pos;
            if pos > now {
                return None;
            }
            let tick_start = self.wheel.active_tick << TICK_BITS;
            let off = pos - tick_start;
            let rest = if off < 64 {
                self.wheel.fine_bits >> off
            } else {
                0
            };
            if rest != 0 {
                let ms = pos + u64::from(rest.trailing_zeros());
                if ms > now {
                    self.wheel.pos = now + 1;
                    return None;
                }
                self.wheel.pos = ms;
                let list = FINE0 + (ms & 63) as u32;
                if let Some(id) = self.scan(list, now_real, true) {
                    return Some(id);
                }
                if self.wheel.heads[list as usize] != NIL {
                    return None; // only expiries near u64::MAX ms get here
                }
                self.wheel.pos = ms + 1;
                continue;
            }
            if tick_start + TICK_MS > now {
                self.wheel.pos = now + 1;
                return None;
            }
            let now_tick = now >> TICK_BITS;
            if now_tick - self.wheel.active_tick > WHEEL_SLOTS as u64 {
                self.sweep(now);
                continue;
            }
            match self.wheel.find_coarse(self.wheel.active_tick + 1, now_tick) {
                Some(t) => self.load_tick(t),
                None => {
                    self.wheel.active_tick = now_tick;
                    self.wheel.pos = now + 1;
                    return None;
                }
            }
        }
    }

    /// A lower bound of the earliest armed expiry (`None` if nothing is armed), for a
    /// driver's sleep. It may be earlier than the true earliest expiry (lazily moved
    /// expiries, bucket granularity) but never later. Costs at most a scan of the
    /// non-empty-bucket bitmap (256 words).
    pub fn next_expiry_hint(&self) -> Option<Time> {
        let w = &self.wheel;
        if w.armed == 0 {
            return None;
        }
        let ms = if !w.anchored {
            w.min_tick << TICK_BITS
        } else if w.heads[DUE as usize] != NIL {
            w.due_min
        } else {
            let tick_start = w.active_tick << TICK_BITS;
            let off = w.pos - tick_start;
            let rest = if off < 64 { w.fine_bits >> off } else { 0 };
            if rest != 0 {
                w.pos + u64::from(rest.trailing_zeros())
            } else if w.fine_bits != 0 {
                tick_start // entries stuck below `pos` (times near u64::MAX)
            } else {
                let t = w.active_tick + 1;
                w.find_coarse(t, t + WHEEL_MASK)
                    .map_or(w.pos, |t| t << TICK_BITS)
            }
        };
        Some(Time::from_millis(ms))
    }

    /// Entries currently armed on the timer (stored entries minus popped, not re-armed
    /// ones).
    pub fn armed(&self) -> usize {
        self.wheel.armed
    }

    /// Entries in the FULLNAT index.
    pub fn fullnat_len(&self) -> usize {
        self.fullnat.len()
    }

    /// Entries in the primary index (every stored entry without `ONE_PACKET`).
    pub fn indexed_len(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::NONE;
    use std::net::IpAddr;

    fn a(s: &str) -> Addr16 {
        Addr16::from_ip(s.parse::<IpAddr>().unwrap())
    }

    fn conn(c: &str, cport: u16, v: &str, vport: u16, d: &str, dport: u16) -> Conn {
        let v6 = c.contains(':');
        Conn {
            caddr: a(c),
            vaddr: a(v),
            daddr: a(d),
            laddr: Addr16::ZERO,
            expires: Time::from_secs(60),
            timeout_ms: 60_000,
            flags: ConnFlags(0),
            fwmark: 0,
            dest: 0,
            control: NONE,
            n_control: 0,
            in_pkts: 0,
            cport,
            vport,
            dport,
            lport: 0,
            protocol: 6,
            af: u8::from(v6),
            daf: u8::from(d.contains(':')),
            state: 0,
        }
    }

    fn ink(c: &Conn) -> InKey {
        InKey {
            af: c.af(),
            protocol: c.protocol,
            caddr: c.caddr,
            cport: c.cport,
            vaddr: c.vaddr,
            vport: c.vport,
        }
    }

    fn outk(c: &Conn) -> OutKey {
        let fnat = is_fullnat(c);
        OutKey {
            af: c.daf(),
            protocol: c.protocol,
            saddr: c.daddr,
            sport: c.dport,
            daddr: if fnat { c.laddr } else { c.caddr },
            dport: if fnat { c.lport } else { c.cport },
        }
    }

    fn drain(t: &mut ConnTable, now: u64) -> Vec<ConnId> {
        let mut v = Vec::new();
        while let Some(id) = t.pop_expired(Time::from_millis(now)) {
            v.push(id);
        }
        v.sort_unstable();
        v
    }

    #[test]
    fn reserve_insert_at_release() {
        let mut t = ConnTable::new();
        let c1 = conn("10.0.0.100", 1000, "10.0.0.1", 80, "192.168.10.1", 80);
        let first = t.insert(c1);
        t.remove(first);
        let ids = t.reserve(3);
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[0], first, "a freed id is reserved first");
        assert_eq!(t.reserved_len(), 3);
        assert!(
            ids.iter()
                .all(|&id| t.is_reserved(id) && t.get(id).is_none())
        );
        assert_eq!((t.len(), t.iter().count()), (0, 0));
        // insert never takes a reserved id
        let other = t.insert(conn("10.0.0.101", 1001, "10.0.0.1", 80, "192.168.10.1", 80));
        assert!(!ids.contains(&other));
        // insert_at stores, indexes and arms the entry under the reserved id
        let c2 = conn("10.0.0.102", 1002, "10.0.0.1", 80, "192.168.10.2", 8080);
        assert!(t.insert_at(ids[1], c2));
        assert!(!t.is_reserved(ids[1]));
        assert_eq!(t.reserved_len(), 2);
        assert_eq!(t.get(ids[1]).map(|c| c.cport), Some(1002));
        assert_eq!(t.in_get(&ink(&c2)), Some(ids[1]));
        assert_eq!(t.out_get(&outk(&c2)), Some(ids[1]));
        assert!(t.get(ids[1]).unwrap().flags.has(ConnFlags::HASHED));
        assert_eq!(t.len(), 2);
        // a second insert_at, or one at an id that is not reserved, changes nothing
        assert!(!t.insert_at(ids[1], c1));
        assert!(!t.insert_at(other, c1));
        assert!(!t.insert_at(9999, c1));
        assert_eq!(t.get(ids[1]).map(|c| c.cport), Some(1002));
        // it expires like any entry (at 60 s); reserved ids never do
        assert_eq!(drain(&mut t, 59_999), Vec::<ConnId>::new());
        let mut due = vec![other, ids[1]];
        due.sort_unstable();
        assert_eq!(drain(&mut t, 60_000), due);
        // release makes a reserved id free again; twice is refused
        assert!(t.release(ids[2]));
        assert!(!t.release(ids[2]));
        assert!(!t.release(ids[1]));
        assert_eq!(t.reserved_len(), 1);
        let again = t.insert(c1);
        assert_eq!(again, ids[2], "a released id is reused");
        assert!(t.is_reserved(ids[0]));
        assert!(!t.release(again));
    }

    #[test]
    fn slot_is_compact() {
        assert_eq!(size_of::<Slot>(), 120);
    }

    #[test]
    fn insert_and_lookup_both_directions() {
        let mut t = ConnTable::new();
        let c1 = conn("10.0.0.100", 51234, "10.0.0.1", 80, "192.168.10.1", 8080);
        let c2 = conn("10.0.0.101", 51234, "10.0.0.1", 80, "192.168.10.2", 8080);
        let c3 = conn(
            "2001:db8::5",
            4000,
            "2001:db8::1",
            443,
            "2001:db8:1::9",
            443,
        );
        let i1 = t.insert(c1);
        let i2 = t.insert(c2);
        let i3 = t.insert(c3);
        assert_eq!(t.len(), 3);
        assert!(!t.is_empty());
        assert!(t.get(i1).unwrap().flags.has(ConnFlags::HASHED));
        for (id, c) in [(i1, c1), (i2, c2), (i3, c3)] {
            assert_eq!(t.in_get(&ink(&c)), Some(id));
            assert_eq!(t.out_get(&outk(&c)), Some(id));
            assert_eq!(t.ct_in_get(&ink(&c)), None);
        }
        // Each field of the in key matters.
        let mut k = ink(&c1);
        k.vport = 81;
        assert_eq!(t.in_get(&k), None);
        let mut k = ink(&c1);
        k.cport += 1;
        assert_eq!(t.in_get(&k), None);
        let mut k = ink(&c1);
        k.protocol = 17;
        assert_eq!(t.in_get(&k), None);
        let mut k = ink(&c1);
        k.vaddr = a("10.0.0.2");
        assert_eq!(t.in_get(&k), None);
        let mut k = ink(&c1);
        k.af = Af::Inet6;
        assert_eq!(t.in_get(&k), None);
        // ...and of the out key.
        let mut k = outk(&c1);
        k.sport = 80;
        assert_eq!(t.out_get(&k), None);
        let mut k = outk(&c1);
        k.saddr = a("192.168.10.2");
        assert_eq!(t.out_get(&k), None);
        let mut k = outk(&c1);
        k.dport = 1;
        assert_eq!(t.out_get(&k), None);
        let mut k = outk(&c1);
        k.af = Af::Inet6;
        assert_eq!(t.out_get(&k), None);
        let ids: Vec<_> = t.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [i1, i2, i3]);
    }

    #[test]
    fn templates_and_conns_are_separate() {
        let mut t = ConnTable::new();
        // A template <TCP, 10.0.0.0:0, 10.0.0.1:80> and a conn with the same key values.
        let mut tpl = conn("10.0.0.0", 0, "10.0.0.1", 80, "192.168.10.1", 80);
        tpl.flags = ConnFlags(ConnFlags::TEMPLATE);
        let plain = conn("10.0.0.0", 0, "10.0.0.1", 80, "192.168.10.1", 80);
        let it = t.insert(tpl);
        assert_eq!(t.ct_in_get(&ink(&tpl)), Some(it));
        assert_eq!(t.in_get(&ink(&tpl)), None);
        assert_eq!(
            t.out_get(&outk(&tpl)),
            None,
            "templates never match replies"
        );
        let ip = t.insert(plain);
        assert_eq!(t.ct_in_get(&ink(&tpl)), Some(it));
        // cport 0 without NO_CPORT: matched by neither exact nor retry lookups.
        assert_eq!(t.in_get(&ink(&plain)), None);
        assert_eq!(t.out_get(&outk(&plain)), Some(ip));
        // Fwmark template: protocol 0, mark as vaddr.
        let mut fw = conn("10.0.0.100", 0, "0.0.0.7", 0, "192.168.10.1", 0);
        fw.protocol = 0;
        fw.flags = ConnFlags(ConnFlags::TEMPLATE);
        let ifw = t.insert(fw);
        assert_eq!(t.ct_in_get(&ink(&fw)), Some(ifw));
        let mut k = ink(&fw);
        k.vaddr = a("0.0.0.8");
        assert_eq!(t.ct_in_get(&k), None);
    }

    #[test]
    fn no_cport_retry() {
        let mut t = ConnTable::new();
        let mut nc = conn("10.0.0.100", 0, "10.0.0.1", 21, "192.168.10.1", 21);
        nc.flags = ConnFlags(ConnFlags::NO_CPORT);
        let mut k = ink(&nc);
        k.cport = 40000;
        assert_eq!(t.in_get(&k), None);
        let id = t.insert(nc);
        assert_eq!(t.in_get(&k), Some(id), "any cport matches a NO_CPORT entry");
        let exact = conn("10.0.0.100", 40000, "10.0.0.1", 21, "192.168.10.2", 21);
        let ie = t.insert(exact);
        assert_eq!(t.in_get(&k), Some(ie), "an exact entry wins");
        k.cport = 40001;
        assert_eq!(t.in_get(&k), Some(id));
        // Other protocol: no retry.
        k.protocol = 17;
        assert_eq!(t.in_get(&k), None);
        k.protocol = 6;
        // Filling in the port (ip_vs_conn_fill_cport) via rekey.
        t.rekey(id, |c| {
            c.cport = 40001;
            c.flags.0 &= !ConnFlags::NO_CPORT;
        });
        assert_eq!(t.in_get(&k), Some(id));
        k.cport = 40002;
        assert_eq!(t.in_get(&k), None, "no NO_CPORT entries left");
        assert_eq!(t.no_cport[6], 0);
    }

    #[test]
    fn fullnat_out_lookup() {
        let mut t = ConnTable::new();
        let mut c = conn("10.0.0.100", 5000, "10.0.0.1", 80, "192.168.10.1", 8080);
        c.laddr = a("192.168.0.250");
        c.lport = 33000;
        c.flags = ConnFlags(ConnFlags::FWD_FULLNAT);
        let id = t.insert(c);
        assert_eq!(t.fullnat_len(), 1);
        assert_eq!(t.in_get(&ink(&c)), Some(id));
        assert_eq!(t.out_get(&outk(&c)), Some(id));
        // A reply addressed to the client does not match a FULLNAT entry.
        let mut k = outk(&c);
        k.daddr = c.caddr;
        k.dport = c.cport;
        assert_eq!(t.out_get(&k), None);
        // IPv6 client, IPv4 real server and local address.
        let mut c6 = conn("2001:db8::7", 5000, "2001:db8::1", 80, "192.168.10.1", 8080);
        c6.laddr = a("192.168.0.250");
        c6.lport = 33001;
        c6.flags = ConnFlags(ConnFlags::FWD_FULLNAT);
        let id6 = t.insert(c6);
        assert_eq!(outk(&c6).af, Af::Inet);
        assert_eq!(t.out_get(&outk(&c6)), Some(id6));
        assert_eq!(t.in_get(&ink(&c6)), Some(id6));
        assert_eq!(t.remove(id), Some(c));
        assert_eq!(t.out_get(&outk(&c)), None);
        assert_eq!(t.fullnat_len(), 1);
    }

    #[test]
    fn one_packet_entries_are_not_indexed() {
        let mut t = ConnTable::new();
        let mut c = conn("10.0.0.100", 53, "10.0.0.1", 53, "192.168.10.1", 53);
        c.protocol = 17;
        c.flags = ConnFlags(ConnFlags::ONE_PACKET | ConnFlags::HASHED);
        c.expires = Time::ZERO;
        let id = t.insert(c);
        assert!(!t.get(id).unwrap().flags.has(ConnFlags::HASHED));
        assert_eq!(t.in_get(&ink(&c)), None);
        assert_eq!(t.out_get(&outk(&c)), None);
        assert_eq!(t.indexed_len(), 0);
        assert_eq!(t.pop_expired(Time::ZERO), Some(id));
        assert!(t.remove(id).is_some());
        assert!(t.is_empty());
    }

    #[test]
    fn rekey_moves_the_entry() {
        let mut t = ConnTable::new();
        let c = conn("10.0.0.100", 1000, "10.0.0.1", 80, "192.168.10.1", 80);
        let id = t.insert(c);
        t.rekey(id, |c| {
            c.cport = 2000;
            c.daddr = a("192.168.10.9");
        });
        assert_eq!(t.in_get(&ink(&c)), None);
        assert_eq!(t.out_get(&outk(&c)), None);
        let now = *t.get(id).unwrap();
        assert!(now.flags.has(ConnFlags::HASHED));
        assert_eq!(t.in_get(&ink(&now)), Some(id));
        assert_eq!(t.out_get(&outk(&now)), Some(id));
        // Turning it into FULLNAT puts it in the second index; back again removes it.
        t.rekey(id, |c| {
            c.flags.0 |= ConnFlags::FWD_FULLNAT;
            c.laddr = a("192.168.0.1");
            c.lport = 7;
        });
        assert_eq!(t.fullnat_len(), 1);
        assert_eq!(t.out_get(&outk(t.get(id).unwrap())), Some(id));
        t.rekey(id, |c| c.flags.0 &= !ConnFlags::FWD_MASK);
        assert_eq!(t.fullnat_len(), 0);
        assert_eq!(t.out_get(&outk(t.get(id).unwrap())), Some(id));
        t.rekey(id, |c| c.expires = Time::from_secs(1));
        assert_eq!(drain(&mut t, 999), Vec::<ConnId>::new());
        assert_eq!(drain(&mut t, 1000), vec![id]);
        t.rekey(id, |_| {});
        assert_eq!(t.armed(), 0, "a popped entry stays detached through rekey");
        t.rekey(ConnId::MAX, |_| unreachable!());
    }

    #[test]
    fn remove_and_id_reuse() {
        let mut t = ConnTable::new();
        let c1 = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        let c2 = conn("10.0.0.2", 2, "10.0.0.254", 80, "10.1.0.1", 80);
        let i1 = t.insert(c1);
        let i2 = t.insert(c2);
        let mem = t.memory_bytes();
        let removed = t.remove(i1).unwrap();
        assert!(!removed.flags.has(ConnFlags::HASHED));
        assert_eq!(removed, c1);
        assert_eq!(t.remove(i1), None);
        assert_eq!(t.get(i1), None);
        assert_eq!(t.in_get(&ink(&c1)), None);
        assert_eq!(t.in_get(&ink(&c2)), Some(i2));
        let c3 = conn("10.0.0.3", 3, "10.0.0.254", 80, "10.1.0.1", 80);
        let i3 = t.insert(c3);
        assert_eq!(i3, i1, "freed slots are reused");
        assert_eq!(t.memory_bytes(), mem);
        assert_eq!(t.in_get(&ink(&c3)), Some(i3));
        assert_eq!(t.len(), 2);
        assert_eq!(t.iter().count(), 2);
        assert_eq!(
            drain(&mut t, 60_000),
            vec![i3, i2],
            "ids sorted: i3 reuses 0"
        );
    }

    #[test]
    fn stale_and_wild_ids_are_ignored() {
        let mut t = ConnTable::new();
        for id in [0, 1, 4095, 4096, ConnId::MAX, ConnId::MAX - 1, HEAD] {
            assert_eq!(t.get(id), None);
            assert_eq!(t.get_mut(id), None);
            assert_eq!(t.remove(id), None);
            t.set_expires(id, Time::ZERO);
            t.rekey(id, |_| {});
        }
        let id = t.insert(conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80));
        t.remove(id);
        t.set_expires(id, Time::ZERO);
        assert_eq!(t.pop_expired(Time::from_secs(1000)), None);
        assert_eq!(t.len(), 0);
        assert_eq!(t.armed(), 0);
    }

    #[test]
    fn pop_expired_is_exact() {
        let mut t = ConnTable::new();
        let base = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        // One expiry at every ms of 0..300, inserted in a scrambled order.
        let mut ids = Vec::new();
        for i in 0..300u64 {
            let mut c = base;
            c.cport = i as u16;
            c.expires = Time::from_millis((i * 37) % 300);
            ids.push((c.expires.as_millis(), t.insert(c)));
        }
        for now in 0..300u64 {
            let got = drain(&mut t, now);
            let mut want: Vec<_> = ids
                .iter()
                .filter(|(e, _)| *e == now)
                .map(|(_, id)| *id)
                .collect();
            want.sort_unstable();
            assert_eq!(got, want, "at {now}");
            for id in got {
                t.remove(id);
            }
        }
        assert!(t.is_empty());
        assert_eq!(t.next_expiry_hint(), None);
    }

    #[test]
    fn jumps_in_time_return_everything_due() {
        let mut t = ConnTable::new();
        let base = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        let mut all = Vec::new();
        for i in 0..1000u64 {
            let mut c = base;
            c.cport = i as u16;
            c.expires = Time::from_millis(i * 977 % 50_000);
            all.push((c.expires.as_millis(), t.insert(c)));
        }
        for now in [0, 63, 64, 65, 1000, 1001, 9_999, 30_000, 49_999, 60_000] {
            let got = drain(&mut t, now);
            let mut want: Vec<_> = all
                .iter()
                .filter(|(e, _)| *e <= now)
                .map(|(_, id)| *id)
                .collect();
            want.sort_unstable();
            assert_eq!(got, want, "at {now}");
            all.retain(|(e, _)| *e > now);
            for id in got {
                t.remove(id);
            }
        }
        assert!(t.is_empty());
    }

    #[test]
    fn rearmed_entries_are_not_returned_early() {
        let mut t = ConnTable::new();
        let mut c = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        c.expires = Time::from_millis(1000);
        let a1 = t.insert(c);
        c.cport = 2;
        let a2 = t.insert(c);
        c.cport = 3;
        let a3 = t.insert(c);
        assert_eq!(drain(&mut t, 500), Vec::<ConnId>::new());
        // Later (lazy) for a1, earlier (eager) for a2, later beyond a revolution for a3.
        t.set_expires(a1, Time::from_millis(5000));
        t.set_expires(a2, Time::from_millis(700));
        let far = 1000 + 3 * TICK_MS * WHEEL_SLOTS as u64 + 5;
        t.set_expires(a3, Time::from_millis(far));
        assert!(t.next_expiry_hint().unwrap() <= Time::from_millis(700));
        assert_eq!(drain(&mut t, 699), Vec::<ConnId>::new());
        assert_eq!(drain(&mut t, 700), vec![a2]);
        // Re-arm the popped entry.
        t.set_expires(a2, Time::from_millis(4000));
        assert_eq!(t.armed(), 3);
        assert_eq!(drain(&mut t, 3999), Vec::<ConnId>::new());
        assert_eq!(drain(&mut t, 4000), vec![a2]);
        t.remove(a2);
        assert_eq!(drain(&mut t, 4999), Vec::<ConnId>::new());
        assert_eq!(drain(&mut t, 5000), vec![a1]);
        t.remove(a1);
        for now in (5000..far).step_by(100_003) {
            assert_eq!(drain(&mut t, now), Vec::<ConnId>::new(), "at {now}");
        }
        assert_eq!(drain(&mut t, far - 1), Vec::<ConnId>::new());
        assert_eq!(drain(&mut t, far), vec![a3]);
    }

    #[test]
    fn entries_beyond_one_revolution() {
        let rev = TICK_MS * WHEEL_SLOTS as u64;
        let mut t = ConnTable::new();
        let base = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        // Same bucket, different revolutions; plus 31-day persistence templates.
        let exps = [
            100,
            100 + rev,
            100 + 2 * rev,
            100 + 5 * rev + 1,
            2_678_400_000,
            7,
            rev - 1,
        ];
        let mut ids = Vec::new();
        for (i, e) in exps.iter().enumerate() {
            let mut c = base;
            c.cport = i as u16;
            c.expires = Time::from_millis(*e);
            ids.push(t.insert(c));
        }
        // Step through time in irregular strides (some > a revolution: sweep path).
        let mut now = 0;
        let mut seen = Vec::new();
        for stride in [
            1u64,
            50,
            49,
            1,
            rev / 3,
            rev / 2,
            rev,
            2 * rev,
            12_345,
            5 * rev,
            3_000_000_000,
        ] {
            now += stride;
            for id in drain(&mut t, now) {
                let e = t.get(id).unwrap().expires.as_millis();
                assert!(e <= now, "{e} popped at {now}");
                assert!(e > now - stride, "{e} popped late at {now}");
                seen.push(id);
                t.remove(id);
            }
        }
        seen.sort_unstable();
        ids.sort_unstable();
        assert_eq!(seen, ids);
    }

    #[test]
    fn sweep_with_a_partly_consumed_tick() {
        // Two entries in one tick; pop the first, then fall behind by over a revolution
        // with `now` late in its tick: the fine bucket of the second must be swept too.
        let rev = TICK_MS * WHEEL_SLOTS as u64;
        let mut t = ConnTable::new();
        let mut c = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        c.expires = Time::from_millis(640 + 10);
        let e1 = t.insert(c);
        c.cport = 2;
        c.expires = Time::from_millis(640 + 50);
        let e2 = t.insert(c);
        c.cport = 3;
        c.expires = Time::from_millis(640 + 2 * rev + 61);
        let e3 = t.insert(c);
        c.cport = 4;
        c.expires = Time::from_millis(640 + 2 * rev + 62);
        let e4 = t.insert(c);
        assert_eq!(drain(&mut t, 640 + 20), vec![e1]);
        let now = 640 + 2 * rev + 60;
        assert_eq!(drain(&mut t, now), vec![e2]);
        assert_eq!(t.next_expiry_hint(), Some(Time::from_millis(now + 1)));
        assert_eq!(drain(&mut t, now + 1), vec![e3]);
        assert_eq!(drain(&mut t, now + 2), vec![e4]);
    }

    #[test]
    fn large_time_origin_and_saturated_times() {
        // A caller whose clock starts at Unix time must not make the wheel crawl from 0.
        let t0 = 1_700_000_000_000u64;
        let mut t = ConnTable::new();
        let mut c = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        c.expires = Time::from_millis(t0 + 900_000);
        let id = t.insert(c);
        assert_eq!(
            t.next_expiry_hint(),
            Some(Time::from_millis((t0 + 900_000) & !63))
        );
        assert_eq!(t.pop_expired(Time::from_millis(t0)), None);
        assert_eq!(t.pop_expired(Time::from_millis(t0 + 899_999)), None);
        assert_eq!(t.pop_expired(Time::from_millis(t0 + 900_000)), Some(id));
        t.remove(id);
        // Expiries at and near u64::MAX.
        c.expires = Time::from_millis(u64::MAX);
        let m = t.insert(c);
        c.cport = 2;
        c.expires = Time::from_millis(u64::MAX - 1);
        let m1 = t.insert(c);
        assert_eq!(drain(&mut t, u64::MAX - 2), Vec::<ConnId>::new());
        assert_eq!(drain(&mut t, u64::MAX - 1), vec![m1]);
        assert_eq!(drain(&mut t, u64::MAX), vec![m]);
    }

    #[test]
    fn due_on_insert_and_hint() {
        let mut t = ConnTable::new();
        assert_eq!(t.next_expiry_hint(), None);
        let mut c = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        c.expires = Time::from_millis(10_000);
        let i1 = t.insert(c);
        assert_eq!(drain(&mut t, 5_000), Vec::<ConnId>::new());
        // Already due when inserted.
        c.cport = 2;
        c.expires = Time::from_millis(4_000);
        let i2 = t.insert(c);
        assert_eq!(t.next_expiry_hint(), Some(Time::from_millis(4_000)));
        assert_eq!(drain(&mut t, 5_000), vec![i2]);
        t.remove(i2);
        let h = t.next_expiry_hint().unwrap();
        assert!(
            h <= Time::from_millis(10_000) && h >= Time::from_millis(10_000 - TICK_MS),
            "{h:?}"
        );
        // A popped entry left detached is not armed; the hint ignores it.
        assert_eq!(drain(&mut t, 10_000), vec![i1]);
        assert_eq!(t.next_expiry_hint(), None);
        assert_eq!(t.len(), 1);
        assert_eq!(t.pop_expired(Time::from_millis(20_000)), None);
        assert!(t.remove(i1).is_some());
    }

    #[test]
    fn many_entries_same_key_prefix_hash_spreads() {
        // Sequential clients and ports hash to distinct buckets often enough that lookups
        // stay correct and the index keeps its load factor.
        let mut t = ConnTable::with_capacity(1 << 14, 42);
        let mut c = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        let mut ids = Vec::new();
        for i in 0..(1u32 << 14) {
            c.caddr = Addr16::from_ip(IpAddr::V4((0x0a00_0000 + (i >> 4)).into()));
            c.cport = 1024 + (i & 15) as u16;
            ids.push((t.insert(c), c));
        }
        for (id, c) in &ids {
            assert_eq!(t.in_get(&ink(c)), Some(*id));
            assert_eq!(t.out_get(&outk(c)), Some(*id));
        }
        let mut seen = std::collections::HashSet::new();
        for (_, c) in &ids {
            seen.insert(t.key.primary(c) >> 57);
        }
        assert_eq!(seen.len(), 128, "top 7 bits (hashbrown's tag) all used");
    }

    /// Build `n` IPv4 NAT entries the way the benches do.
    fn fill(n: u32) -> ConnTable {
        let mut t = ConnTable::with_seed(7);
        let mut c = conn("10.0.0.1", 1, "10.0.0.254", 80, "10.1.0.1", 80);
        for i in 0..n {
            c.caddr = Addr16::from_ip(IpAddr::V4((0x0a00_0000 + (i >> 8)).into()));
            c.cport = 1024 + (i & 0xff) as u16;
            c.expires = Time::from_millis(u64::from(i % 900_000));
            t.insert(c);
        }
        t
    }

    #[test]
    fn bytes_per_connection_at_one_million() {
        let t = fill(1_000_000);
        let per = t.memory_bytes() as f64 / t.len() as f64;
        assert!(per <= 160.0, "{per:.1} bytes per connection");
    }

    /// `cargo test --release -p lvs-core -- --ignored bytes_per_connection_at_ten_million`
    #[test]
    #[ignore = "allocates ~1.3 GB; run in release"]
    fn bytes_per_connection_at_ten_million() {
        let t = fill(10_000_000);
        let per = t.memory_bytes() as f64 / t.len() as f64;
        println!(
            "{} entries, {} bytes, {per:.1} B/conn",
            t.len(),
            t.memory_bytes()
        );
        assert!(per <= 160.0, "{per:.1} bytes per connection");
    }
}
