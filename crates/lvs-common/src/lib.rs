//! `lvs-common`: the BPF map key and value types shared by the XDP programs and userspace.
//!
//! Every type here is the `#[repr(C)]` mirror of a struct in `bpf/include/lvs_types.h`,
//! field for field; sizes and offsets are asserted at compile time on both sides (and the
//! tests below print which one broke). Change both sides together.
//!
//! Conventions, for every type:
//! * **Addresses** are [`Addr16`]: 16 bytes in network order, an IPv4 address in the first
//!   four bytes and the other twelve zero (as `lvs-core`).
//! * **Ports** are stored in **network order** in a `u16` field (`port.to_be()` to write,
//!   `u16::from_be(field)` to read); the constructors and accessors here take and return
//!   host-order ports. Every other integer is host order.
//! * `af` is [`AF_INET`] (2) or [`AF_INET6`] (10); `proto` is the IP protocol number.
//! * No implicit padding: every hole is a named `pad` field that must be zero (hash map
//!   keys are compared byte for byte). `Default` gives all zeroes.
//!
//! The maps (producer in brackets):
//!
//! | map | type | key → value | producer |
//! |---|---|---|---|
//! | `LVS_SERVICES` | HASH | [`SvcKey`] → [`SvcValue`] | lvsd |
//! | `LVS_FLOWS` | HASH | [`FlowKey`] → [`FlowValue`] | lvsd |
//! | `LVS_CONNS` | ARRAY | conn_id → [`ConnState`] | lvsd sets up, XDP updates |
//! | `LVS_DEST_STATS` | PERCPU_ARRAY | dest_slot → [`DestStats`] | XDP |
//! | `LVS_EVENTS` | RINGBUF | records [`Event`] | XDP |
//! | `LVS_XSKS` | XSKMAP | `ifslot * 64 + rx_queue` → AF_XDP socket | lvsd |
//! | `LVS_IFSLOTS` | HASH | ifindex (`u32`) → ifslot (`u32`, < 64) | lvsd |
//! | `LVS_IFACES` | HASH | ifindex (`u32`) → flags (`u32`, [`IF_F_TC_FWD`]) | lvs-dataplane (attach) |
//! | `LVS_IFMACS` | HASH | ifindex (`u32`) → MAC ([`IfMac`]) | lvsd |
//! | `LVS_STATS` | PERCPU_ARRAY | [`Stat`] index → `u64` | XDP, TC |
//! | `LVS_CONFIG` | ARRAY\[1\] | 0 → [`Config`] | lvsd |
//! | `LVS_FAST_SVCS` | HASH | service id (`u32`) → [`FastSvc`] | lvsd (XDP moves `pos`) |
//! | `LVS_FAST_DESTS` | HASH | lvs-core DestId (`u32`) → [`FastDest`] | lvsd |
//! | `LVS_CONN_IDS` | QUEUE | `u32` connection ids reserved in lvs-core | lvsd pushes, XDP pops |
//! | `LVS_RS_VIPS` (decap) | HASH | [`Addr16`] → `u8` af | lvsadm realserver |
//! | `LVS_RS_LOCAL` (decap) | HASH | [`Addr16`] → `u8` af | lvsadm realserver |

#![no_std]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use core::net::IpAddr;

pub mod nf;

/// A 16-byte address in network order; IPv4 in the first four bytes, the rest zero.
pub type Addr16 = [u8; 16];

/// `AF_INET`.
pub const AF_INET: u8 = 2;
/// `AF_INET6`.
pub const AF_INET6: u8 = 10;

/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// Default `max_entries` of `LVS_FLOWS` (2^21: two directions of 2^20 connections).
pub const DEFAULT_FLOWS_MAX: u32 = 1 << 21;
/// Default `max_entries` of `LVS_CONNS`.
pub const DEFAULT_CONNS_MAX: u32 = 1 << 20;
/// Default `max_entries` of `LVS_DEST_STATS`.
pub const DEFAULT_DESTS_MAX: u32 = 4096;
/// `max_entries` of `LVS_SERVICES`.
pub const SERVICES_MAX: u32 = 65536;
/// Size of the `LVS_EVENTS` ring buffer in bytes.
pub const EVENTS_BYTES: u32 = 1 << 20;
/// `max_entries` of `LVS_RS_VIPS` and `LVS_RS_LOCAL`.
pub const RS_VIPS_MAX: u32 = 4096;
/// `LVS_XSKS` key = `ifslot * XSK_QUEUES_PER_IF + rx_queue_index`.
pub const XSK_QUEUES_PER_IF: u32 = 64;
/// Number of interface slots (`LVS_IFSLOTS` values are below this).
pub const MAX_IFSLOTS: u32 = 64;
/// `max_entries` of `LVS_IFACES`.
pub const MAX_IFACES: u32 = 256;
/// `LVS_IFMACS` value: an interface's MAC address (6 bytes) and 2 zero bytes
/// (`struct lvs_if_mac`).
pub type IfMac = [u8; 8];

/// `LVS_IFACES` flag: on this interface the TC program `lvs_tc` forwards flow hits, and
/// `lvs_xdp` (generic mode) passes them to it untouched instead of forwarding them itself;
/// punts stay in `lvs_xdp`.
pub const IF_F_TC_FWD: u32 = 1 << 0;

/// The [`Addr16`] form of `addr` and its family.
#[inline]
pub fn addr16(addr: IpAddr) -> (u8, Addr16) {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            (AF_INET, b)
        }
        IpAddr::V6(a) => (AF_INET6, a.octets()),
    }
}

/// The address of family `af` stored as [`Addr16`] (`None` for an unknown family).
#[inline]
pub fn ip_from_addr16(af: u8, a: &Addr16) -> Option<IpAddr> {
    match af {
        AF_INET => Some(IpAddr::from([a[0], a[1], a[2], a[3]])),
        AF_INET6 => Some(IpAddr::from(*a)),
        _ => None,
    }
}

// ---- LVS_SERVICES -------------------------------------------------------------------------

/// Key of `LVS_SERVICES` (`struct lvs_svc_key`, 20 bytes). Producer: lvsd.
///
/// `port` 0 is a service on every port of the address. `proto` 0 with `port` 0 is the
/// **virtual-address marker** ([`SvcKey::vaddr_marker`]): lvsd inserts one for every
/// address that has a service (and every FULLNAT local address) so that IP fragments,
/// which carry no ports, to that address are punted instead of passed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SvcKey {
    /// [`AF_INET`] or [`AF_INET6`].
    pub af: u8,
    /// IP protocol (TCP/UDP), 0 for the virtual-address marker.
    pub proto: u8,
    /// Port, **network order**; 0 = every port.
    pub port: u16,
    /// Virtual address, network order, [`Addr16`].
    pub addr: Addr16,
}

impl SvcKey {
    /// The key of service `proto` `addr`:`port` (host-order port).
    pub fn new(proto: u8, addr: IpAddr, port: u16) -> SvcKey {
        let (af, addr) = addr16(addr);
        SvcKey {
            af,
            proto,
            port: port.to_be(),
            addr,
        }
    }

    /// The virtual-address marker of `addr` (proto 0, port 0).
    pub fn vaddr_marker(addr: IpAddr) -> SvcKey {
        SvcKey::new(0, addr, 0)
    }
}

/// Value of `LVS_SERVICES` (`struct lvs_svc_value`, 8 bytes). Producer: lvsd.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SvcValue {
    /// lvs-core `ServiceId` (opaque to XDP), host order.
    pub svc_id: u32,
    /// `SVC_F_*` bits, host order.
    pub flags: u32,
}

/// [`SvcValue::flags`]: the entry is a virtual-address marker.
pub const SVC_F_VADDR: u32 = 1 << 0;

// ---- LVS_FLOWS ----------------------------------------------------------------------------

/// Key of `LVS_FLOWS` (`struct lvs_flow_key`, 40 bytes): the tuple of a packet **as it
/// arrives** at the director. Producer: lvsd.
///
/// In direction: client → VIP. Out direction (NAT/FULLNAT): real server → client (NAT) or
/// real server → local address (FULLNAT).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// [`AF_INET`] or [`AF_INET6`].
    pub af: u8,
    /// [`IPPROTO_TCP`] or [`IPPROTO_UDP`].
    pub proto: u8,
    /// Zero.
    pub pad: u16,
    /// Source port, **network order**.
    pub sport: u16,
    /// Destination port, **network order**.
    pub dport: u16,
    /// Source address, [`Addr16`].
    pub saddr: Addr16,
    /// Destination address, [`Addr16`].
    pub daddr: Addr16,
}

impl FlowKey {
    /// The key of a `proto` packet `src`:`sport` → `dst`:`dport` (host-order ports).
    /// The family is `src`'s; `dst` must be of the same family.
    pub fn new(proto: u8, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> FlowKey {
        let (af, saddr) = addr16(src);
        let (_, daddr) = addr16(dst);
        FlowKey {
            af,
            proto,
            pad: 0,
            sport: sport.to_be(),
            dport: dport.to_be(),
            saddr,
            daddr,
        }
    }

    /// Source port, host order.
    pub fn sport(&self) -> u16 {
        u16::from_be(self.sport)
    }

    /// Destination port, host order.
    pub fn dport(&self) -> u16 {
        u16::from_be(self.dport)
    }

    /// The key of the packets travelling the other way (addresses and ports swapped).
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            sport: self.dport,
            dport: self.sport,
            saddr: self.daddr,
            daddr: self.saddr,
            ..*self
        }
    }
}

/// [`FlowValue::action`] values (`enum lvs_action`).
pub mod action {
    /// NAT in: destination := `new_daddr`:`new_dport`.
    pub const NAT_IN: u8 = 0;
    /// NAT out: source := `new_saddr`:`new_sport`.
    pub const NAT_OUT: u8 = 1;
    /// FULLNAT in: source := `new_saddr`:`new_sport` (LIP:lport), destination :=
    /// `new_daddr`:`new_dport` (RIP:rport).
    pub const FNAT_IN: u8 = 2;
    /// FULLNAT out: source := `new_saddr`:`new_sport` (VIP:vport), destination :=
    /// `new_daddr`:`new_dport` (CIP:cport).
    pub const FNAT_OUT: u8 = 3;
    /// Direct routing: no L3 change but the TTL; the L2 next hop is `new_daddr` (the real
    /// server).
    pub const DR: u8 = 4;
    /// IPIP tunnel: outer source `new_saddr`, outer destination `new_daddr`, outer family
    /// `out_af`, protocol 4 (IPv4 inner) or 41 (IPv6 inner).
    pub const TUN_IPIP: u8 = 5;
    /// GUE tunnel (IPv4 outer only; IPv6 outer is punted): as [`TUN_IPIP`] plus UDP
    /// `new_sport` → `tun_port` and a 4-byte GUE header.
    pub const TUN_GUE: u8 = 6;
    /// Drop silently (the real server was deleted, `expire_nodest_conn` = 0).
    pub const DROP: u8 = 7;
    /// Send every packet of the flow to the slow path.
    pub const PUNT: u8 = 8;
}

/// Directions (`enum lvs_dir`): which row group of the IPVS TCP state table a flow uses.
pub mod dir {
    /// Client → real server (NAT/FULLNAT in direction).
    pub const INPUT: u8 = 0;
    /// Real server → client (NAT/FULLNAT out direction).
    pub const OUTPUT: u8 = 1;
    /// Client → real server on a `NOOUTPUT` connection (DR, TUN).
    pub const INPUT_ONLY: u8 = 2;
}

/// Value of `LVS_FLOWS` (`struct lvs_flow_value`, 64 bytes). Producer: lvsd (written at
/// connection setup, rewritten on state or method changes); XDP only reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowValue {
    /// lvs-core `ConnId`: index into `LVS_CONNS`. Host order.
    pub conn_id: u32,
    /// Index into `LVS_DEST_STATS`. Host order.
    pub dest_slot: u32,
    /// One of [`action`].
    pub action: u8,
    /// Family of the packet after rewriting or encapsulation (TUN: the outer family).
    pub out_af: u8,
    /// One of [`dir`].
    pub dir: u8,
    /// [`FF_PP_WAIT`], [`FF_PP_FIRST`], [`FF_SEQ`] bits (FULLNAT Proxy Protocol v2); zero
    /// for every other flow.
    pub flags: u8,
    /// New source address ([`Addr16`]; NAT out, FULLNAT, TUN outer source).
    pub new_saddr: Addr16,
    /// New destination address ([`Addr16`]; NAT in, FULLNAT, DR next hop, TUN outer
    /// destination).
    pub new_daddr: Addr16,
    /// New source port, **network order** (TUN_GUE: the outer UDP source port).
    pub new_sport: u16,
    /// New destination port, **network order**.
    pub new_dport: u16,
    /// GUE destination port, **network order**.
    pub tun_port: u16,
    /// `TUN_F_*` bits, host order; zero today.
    pub tun_flags: u16,
    /// With [`FF_SEQ`]: the bytes the director inserted into the client's stream (the
    /// PROXY header's length). Host order; zero otherwise.
    pub seq_delta: u32,
    /// With [`FF_PP_WAIT`] / [`FF_PP_FIRST`] (input flows): the client's first data
    /// sequence number (its ISN + 1). Host order; zero otherwise.
    pub pp_seq: u32,
    /// Zero.
    pub pad: [u8; 4],
}

/// [`FlowValue::flags`], FULLNAT input flow of a Proxy Protocol service whose PROXY header
/// has not been sent yet: every TCP segment but SYN and RST is punted (the slow path
/// sends the header before the first one).
pub const FF_PP_WAIT: u8 = 1 << 0;
/// [`FlowValue::flags`], input flow: a TCP segment with payload whose sequence number is
/// [`FlowValue::pp_seq`] (the client's first data segment, or a retransmission of it) is
/// punted: the slow path puts the PROXY header in front of it again.
pub const FF_PP_FIRST: u8 = 1 << 1;
/// [`FlowValue::flags`]: TCP sequence translation by [`FlowValue::seq_delta`], never on a
/// segment with SYN. Input flows: sequence number + delta. Output flow: on segments with
/// ACK, acknowledgement number − delta and the edges of the first SACK option − delta.
pub const FF_SEQ: u8 = 1 << 2;

impl FlowValue {
    /// A value with `action`, `dir`, the connection and the real-server slot; addresses
    /// and ports zero, `out_af` = `af`.
    pub fn new(action: u8, dir: u8, af: u8, conn_id: u32, dest_slot: u32) -> FlowValue {
        FlowValue {
            conn_id,
            dest_slot,
            action,
            out_af: af,
            dir,
            ..FlowValue::default()
        }
    }

    /// Set the new source address and port (host-order port); `out_af` follows the
    /// address.
    pub fn with_src(mut self, addr: IpAddr, port: u16) -> FlowValue {
        let (af, a) = addr16(addr);
        self.out_af = af;
        self.new_saddr = a;
        self.new_sport = port.to_be();
        self
    }

    /// Set the new destination address and port (host-order port); `out_af` follows the
    /// address.
    pub fn with_dst(mut self, addr: IpAddr, port: u16) -> FlowValue {
        let (af, a) = addr16(addr);
        self.out_af = af;
        self.new_daddr = a;
        self.new_dport = port.to_be();
        self
    }
}

// ---- LVS_CONNS / LVS_DEST_STATS -------------------------------------------------------------

/// Value of `LVS_CONNS` (`struct lvs_conn_state`, 48 bytes), index `conn_id`.
///
/// lvsd writes `state` (and zero counters) at connection setup; XDP adds to the counters
/// atomically, stores `bpf_ktime_get_ns()` (`CLOCK_MONOTONIC`, ns) in `last_seen_ns` and
/// moves `state` with the IPVS TCP table. The `*_in` counters count directions
/// [`dir::INPUT`] and [`dir::INPUT_ONLY`], the `*_out` ones [`dir::OUTPUT`]. Bytes are IP
/// lengths (IPv4 total length; IPv6 payload length + 40), as IPVS counts. Host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnState {
    /// Time of the last packet XDP forwarded, `CLOCK_MONOTONIC` nanoseconds.
    pub last_seen_ns: u64,
    /// Packets in (client → real server).
    pub pkts_in: u64,
    /// Bytes in.
    pub bytes_in: u64,
    /// Packets out (real server → client, NAT/FULLNAT).
    pub pkts_out: u64,
    /// Bytes out.
    pub bytes_out: u64,
    /// lvs-core `TcpState` as a number (0 NONE … 10 SYNACK); 0 for UDP.
    pub state: u8,
    /// Zero.
    pub pad: [u8; 7],
}

/// Value of `LVS_DEST_STATS` (`struct lvs_dest_stats`, 32 bytes), per CPU, index
/// `dest_slot`. Producer: XDP. Bytes as [`ConnState`]. Host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DestStats {
    /// Packets in.
    pub pkts_in: u64,
    /// Bytes in.
    pub bytes_in: u64,
    /// Packets out.
    pub pkts_out: u64,
    /// Bytes out.
    pub bytes_out: u64,
}

impl core::ops::AddAssign for DestStats {
    fn add_assign(&mut self, o: DestStats) {
        self.pkts_in += o.pkts_in;
        self.bytes_in += o.bytes_in;
        self.pkts_out += o.pkts_out;
        self.bytes_out += o.bytes_out;
    }
}

// ---- LVS_EVENTS ---------------------------------------------------------------------------------

/// [`Event::kind`]: the in-kernel TCP transition changed `LVS_CONNS[conn_id].state`.
pub const EV_STATE: u32 = 1;

/// [`Event::kind`]: a sync master runs ([`CFG_SYNC_MASTER`]) and an inbound packet that
/// changed no state met the `sync_threshold` rule.
pub const EV_SYNC: u32 = 2;

/// A record of the `LVS_EVENTS` ring buffer (`struct lvs_event`, 56 bytes). Producer: XDP.
/// Host order except `key` (as in `LVS_FLOWS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Event {
    /// [`EV_STATE`] or [`EV_SYNC`].
    pub kind: u32,
    /// The connection.
    pub conn_id: u32,
    /// State before the packet.
    pub old_state: u8,
    /// State after the packet.
    pub new_state: u8,
    /// TCP flags byte of the packet (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    pub tcp_flags: u8,
    /// The [`dir`] row group used.
    pub dir: u8,
    /// Inbound packets of the connection so far, counting the first one (which the slow
    /// path handled); saturates at `u32::MAX`.
    pub pkts: u32,
    /// The packet's flow key (as it arrived).
    pub key: FlowKey,
}

impl Event {
    /// Decode a ring-buffer record (`None` if it is shorter than an [`Event`]).
    pub fn from_bytes(b: &[u8]) -> Option<Event> {
        if b.len() < core::mem::size_of::<Event>() {
            return None;
        }
        let u32_at = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        let mut saddr = [0u8; 16];
        let mut daddr = [0u8; 16];
        saddr.copy_from_slice(&b[24..40]);
        daddr.copy_from_slice(&b[40..56]);
        Some(Event {
            kind: u32_at(0),
            conn_id: u32_at(4),
            old_state: b[8],
            new_state: b[9],
            tcp_flags: b[10],
            dir: b[11],
            pkts: u32_at(12),
            key: FlowKey {
                af: b[16],
                proto: b[17],
                pad: u16_at(18),
                sport: u16_at(20),
                dport: u16_at(22),
                saddr,
                daddr,
            },
        })
    }
}

/// [`Event::kind`] of a [`NewConnEvent`] record: `lvs_xdp` created a connection itself.
pub const EV_NEW: u32 = 3;

// ---- New connections scheduled in XDP ----------------------------------------------------------

/// Entries of [`FastSvc::seq`] (`LVS_FAST_SEQ_MAX`).
pub const FAST_SEQ_MAX: usize = 256;
/// `max_entries` of `LVS_CONN_IDS`.
pub const CONN_IDS_MAX: u32 = 4096;
/// `max_entries` of `LVS_FAST_SVCS`.
pub const FAST_SVCS_MAX: u32 = 4096;
/// `max_entries` of `LVS_FAST_DESTS`.
pub const FAST_DESTS_MAX: u32 = 65536;

/// Value of `LVS_FAST_SVCS` (`struct lvs_fast_svc`, 1040 bytes), key: the service id that
/// [`SvcValue::svc_id`] carries. Producer: lvsd; XDP adds 1 to `pos` atomically for every
/// new connection and forwards it to `seq[pos % n]`. Host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FastSvc {
    /// Position counter (XDP).
    pub pos: u64,
    /// Used entries of `seq` (1..=[`FAST_SEQ_MAX`]).
    pub n: u32,
    /// Zero.
    pub pad: u32,
    /// One scheduling period: lvs-core DestIds, keys of `LVS_FAST_DESTS`.
    pub seq: [u32; FAST_SEQ_MAX],
}

impl Default for FastSvc {
    fn default() -> Self {
        FastSvc {
            pos: 0,
            n: 0,
            pad: 0,
            seq: [0; FAST_SEQ_MAX],
        }
    }
}

/// Value of `LVS_FAST_DESTS` (`struct lvs_fast_dest`, 48 bytes), key: lvs-core DestId.
/// Producer: lvsd. The flow template of a real server of a fast-eligible service.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FastDest {
    /// lvs-core DestId (equals the key).
    pub dest_id: u32,
    /// Index into `LVS_DEST_STATS`.
    pub dest_slot: u32,
    /// [`action::NAT_IN`], [`action::DR`] or [`action::TUN_IPIP`].
    pub action: u8,
    /// Family of `daddr` (TUN: the outer family).
    pub out_af: u8,
    /// [`dir::INPUT`] (NAT) or [`dir::INPUT_ONLY`] (DR, TUN).
    pub dir: u8,
    /// Zero.
    pub pad: u8,
    /// NAT's new destination port, network order; 0 = the packet's.
    pub dport: u16,
    /// Zero.
    pub pad2: u16,
    /// TUN: the outer source address; else zero.
    pub saddr: Addr16,
    /// The real server.
    pub daddr: Addr16,
}

/// A ring-buffer record of kind [`EV_NEW`] (`struct lvs_new_event`, 64 bytes). Producer:
/// `lvs_xdp`, once it inserted the flows of a connection it created. Host order except
/// `key`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NewConnEvent {
    /// [`EV_NEW`].
    pub kind: u32,
    /// The connection id XDP popped from `LVS_CONN_IDS`.
    pub conn_id: u32,
    /// The service ([`SvcValue::svc_id`]).
    pub svc_id: u32,
    /// The real server chosen (lvs-core DestId).
    pub dest_id: u32,
    /// `bpf_ktime_get_ns()` at creation (`CLOCK_MONOTONIC`).
    pub ts_ns: u64,
    /// The input flow key (the first packet as it arrived).
    pub key: FlowKey,
}

impl NewConnEvent {
    /// Decode a ring-buffer record (`None` if it is shorter than a [`NewConnEvent`] or of
    /// another kind).
    pub fn from_bytes(b: &[u8]) -> Option<NewConnEvent> {
        if b.len() < core::mem::size_of::<NewConnEvent>() {
            return None;
        }
        let u32_at = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        if u32_at(0) != EV_NEW {
            return None;
        }
        let mut saddr = [0u8; 16];
        let mut daddr = [0u8; 16];
        saddr.copy_from_slice(&b[32..48]);
        daddr.copy_from_slice(&b[48..64]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[16..24]);
        Some(NewConnEvent {
            kind: EV_NEW,
            conn_id: u32_at(4),
            svc_id: u32_at(8),
            dest_id: u32_at(12),
            ts_ns: u64::from_ne_bytes(ts),
            key: FlowKey {
                af: b[24],
                proto: b[25],
                pad: u16_at(26),
                sport: u16_at(28),
                dport: u16_at(30),
                saddr,
                daddr,
            },
        })
    }
}

// ---- LVS_CONFIG -------------------------------------------------------------------------------

/// Value of `LVS_CONFIG[0]` (`struct lvs_config`, 8 bytes). Producer: lvsd. Host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Config {
    /// `CFG_*` bits.
    pub flags: u32,
    /// With [`CFG_SYNC_MASTER`]: `sync_threshold` (IPVS default 3).
    pub sync_threshold: u16,
    /// With [`CFG_SYNC_MASTER`]: `sync_period` (default 50; 0 = only at the threshold).
    pub sync_period: u16,
}

/// [`Config::flags`]: `sloppy_tcp`: a TCP segment without SYN (but without RST) to a
/// service may create a connection (it is punted instead of passed).
pub const CFG_SLOPPY_TCP: u32 = 1 << 0;

/// [`Config::flags`]: a sync master runs: XDP reports inbound packets that meet the
/// `sync_threshold`/`sync_period` rule ([`EV_SYNC`]).
pub const CFG_SYNC_MASTER: u32 = 1 << 1;

// ---- LVS_STATS ----------------------------------------------------------------------------------

/// Indices of `LVS_STATS` (`enum lvs_stat`), per-CPU `u64` counters. Every frame `lvs_xdp`
/// sees counts [`Stat::Rx`] and exactly one outcome among `Pass*` (including
/// [`Stat::PassToTc`]), `Fwd*`, `Punt*`, [`Stat::DropAction`], [`Stat::ParseError`] and
/// [`Stat::EncapError`]; a punt also counts [`Stat::XskRedirect`] or [`Stat::DropNoXsk`].
/// Every skb `lvs_tc` sees counts [`Stat::TcRx`] and exactly one of [`Stat::TcPass`],
/// [`Stat::FwdTx`], [`Stat::FwdRedirect`], [`Stat::TcFwdNeigh`], [`Stat::DropAction`],
/// [`Stat::TcDrop`], [`Stat::TcTooBig`], [`Stat::EncapError`]. A packet is forwarded (`Fwd*`) by one of the
/// two programs only.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stat {
    /// Every frame seen.
    Rx = 0,
    /// Not IPv4/IPv6 TCP/UDP to a service and no flow (ARP, VRRP, ssh, the director's own
    /// traffic, ICMP not about a flow, fragments not to a virtual address): `XDP_PASS`.
    PassNotOurs = 1,
    /// TCP to a service, no flow, not a SYN or with RST: `XDP_PASS` (IPVS hands these to
    /// the local stack).
    PassNonSyn = 2,
    /// Flow hit sent back out of the ingress interface: `XDP_TX`.
    FwdTx = 3,
    /// Flow hit sent out of another interface: `bpf_redirect`.
    FwdRedirect = 4,
    /// New connection for a service: punted.
    PuntNew = 5,
    /// Flow hit whose `bpf_fib_lookup` failed (no neighbour entry, local or unreachable
    /// destination, forwarding disabled): punted, the slow path transmits through the
    /// kernel stack.
    PuntFib = 6,
    /// Flow hit with TTL/hop limit ≤ 1: punted, the slow path sends ICMP time exceeded.
    PuntTtl = 7,
    /// Flow hit larger than the route MTU: punted, the slow path sends ICMP frag-needed or
    /// fragments.
    PuntFragNeeded = 8,
    /// ICMP error quoting a flow's packet: punted, the slow path rewrites it.
    PuntIcmp = 9,
    /// IP fragment to a virtual address: punted.
    PuntFrag = 10,
    /// Flow with action PUNT (or GUE with an IPv6 outer header): punted.
    PuntAction = 11,
    /// Flow with action DROP: `XDP_DROP`.
    DropAction = 12,
    /// A punt found no AF_XDP socket (or the interface has no slot): `XDP_DROP`.
    DropNoXsk = 13,
    /// A punt was redirected to an AF_XDP socket.
    XskRedirect = 14,
    /// Malformed or truncated IP/TCP/UDP header: `XDP_PASS` (the stack drops it).
    ParseError = 15,
    /// IPv6 with extension headers (other than one Fragment header): `XDP_PASS`.
    PassUnsupported = 16,
    /// `LVS_EVENTS` was full: a state event was lost (the state itself was stored).
    EventLost = 17,
    /// Encapsulation or a rewrite helper failed: `XDP_DROP` / `TC_ACT_SHOT`.
    EncapError = 18,
    /// Flow hit on an interface where `lvs_tc` forwards (generic XDP), every punt check
    /// passed: `XDP_PASS` untouched, `lvs_tc` forwards it next.
    PassToTc = 19,
    /// Every skb `lvs_tc` sees.
    TcRx = 20,
    /// `lvs_tc`: not a flow hit: `TC_ACT_OK` untouched.
    TcPass = 21,
    /// `lvs_tc`: flow hit whose next hop had no neighbour entry: `bpf_redirect_neigh`.
    TcFwdNeigh = 22,
    /// `lvs_tc`: flow hit it can neither forward nor punt (PUNT action, TTL ≤ 1, SYN on a
    /// finished connection, FIB failure, larger than the route MTU): `TC_ACT_SHOT`. `lvs_xdp` punts those before, so
    /// this counts only flows or routes that changed in between.
    TcDrop = 23,
    /// TCP SYN (no ACK/RST) on an input flow whose connection is finished (TIME_WAIT,
    /// CLOSE; FIN_WAIT on a NOOUTPUT connection): punted, the slow path applies IPVS's
    /// `conn_reuse_mode` (a new connection, usually).
    PuntReuse = 24,
    /// TCP segment of a FULLNAT Proxy Protocol connection that the slow path must see
    /// (flow flags [`FF_PP_WAIT`] / [`FF_PP_FIRST`]): punted, the slow path sends the
    /// PROXY header before it.
    PuntPp = 25,
    /// `lvs_tc`: a GSO aggregate of a tunnel flow whose segments, encapsulated, would be
    /// larger than the route MTU (`gso_size` + headers vs the MTU, see docs/xdp.md):
    /// `TC_ACT_SHOT`. No aggregate fits an AF_XDP frame, so the slow path cannot send ICMP
    /// fragmentation needed for it; a retransmitted single segment is punted and gets it.
    TcTooBig = 26,
    /// A new connection of a fast-eligible service was created in XDP (flows inserted,
    /// [`EV_NEW`] sent). Not an outcome: the frame also counts `Fwd*` or `PassToTc`.
    NewFast = 27,
    /// A new connection of a fast-eligible service was not created because `LVS_EVENTS`
    /// was full: punted ([`Stat::PuntNew`]) as for other services.
    NewNoEvent = 28,
    /// ... because `LVS_CONN_IDS` was empty: punted ([`Stat::PuntNew`]).
    NewNoId = 29,
    /// ... because a flow already existed or `LVS_FLOWS` was full: undone, punted.
    NewInsertFail = 30,
    /// `lvs_xdp`: a new connection for a service, or a flow hit it would forward itself
    /// (not handed to `lvs_tc`), in a unicast frame to another host's MAC address
    /// (`LVS_IFMACS`): `XDP_PASS` untouched; the stack drops it (`PACKET_OTHERHOST`).
    PassOtherHost = 31,
}

impl Stat {
    /// Size of `LVS_STATS` (room to grow).
    pub const MAX: u32 = 32;

    /// Every counter, in index order.
    pub const ALL: [Stat; 32] = [
        Stat::Rx,
        Stat::PassNotOurs,
        Stat::PassNonSyn,
        Stat::FwdTx,
        Stat::FwdRedirect,
        Stat::PuntNew,
        Stat::PuntFib,
        Stat::PuntTtl,
        Stat::PuntFragNeeded,
        Stat::PuntIcmp,
        Stat::PuntFrag,
        Stat::PuntAction,
        Stat::DropAction,
        Stat::DropNoXsk,
        Stat::XskRedirect,
        Stat::ParseError,
        Stat::PassUnsupported,
        Stat::EventLost,
        Stat::EncapError,
        Stat::PassToTc,
        Stat::TcRx,
        Stat::TcPass,
        Stat::TcFwdNeigh,
        Stat::TcDrop,
        Stat::PuntReuse,
        Stat::PuntPp,
        Stat::TcTooBig,
        Stat::NewFast,
        Stat::NewNoEvent,
        Stat::NewNoId,
        Stat::NewInsertFail,
        Stat::PassOtherHost,
    ];

    /// The counter's name (snake case, for metrics).
    pub const fn name(self) -> &'static str {
        match self {
            Stat::Rx => "rx",
            Stat::PassNotOurs => "pass_not_ours",
            Stat::PassNonSyn => "pass_non_syn",
            Stat::FwdTx => "fwd_tx",
            Stat::FwdRedirect => "fwd_redirect",
            Stat::PuntNew => "punt_new",
            Stat::PuntFib => "punt_fib",
            Stat::PuntTtl => "punt_ttl",
            Stat::PuntFragNeeded => "punt_frag_needed",
            Stat::PuntIcmp => "punt_icmp",
            Stat::PuntFrag => "punt_frag",
            Stat::PuntAction => "punt_action",
            Stat::DropAction => "drop_action",
            Stat::DropNoXsk => "drop_no_xsk",
            Stat::XskRedirect => "xsk_redirect",
            Stat::ParseError => "parse_error",
            Stat::PassUnsupported => "pass_unsupported",
            Stat::EventLost => "event_lost",
            Stat::EncapError => "encap_error",
            Stat::PassToTc => "pass_to_tc",
            Stat::TcRx => "tc_rx",
            Stat::TcPass => "tc_pass",
            Stat::TcFwdNeigh => "tc_fwd_neigh",
            Stat::TcDrop => "tc_drop",
            Stat::PuntReuse => "punt_reuse",
            Stat::PuntPp => "punt_pp",
            Stat::TcTooBig => "tc_too_big",
            Stat::NewFast => "new_fast",
            Stat::NewNoEvent => "new_no_event",
            Stat::NewNoId => "new_no_id",
            Stat::NewInsertFail => "new_insert_fail",
            Stat::PassOtherHost => "pass_other_host",
        }
    }
}

// ---- aya::Pod -------------------------------------------------------------------------------------

// SAFETY (all impls): `#[repr(C)]`, `Copy`, only integer and byte-array fields, no implicit
// padding (sizes asserted below equal the sum of the fields), so every bit pattern is valid.
#[cfg(feature = "user")]
#[allow(unsafe_code)]
mod pod {
    unsafe impl aya::Pod for super::SvcKey {}
    unsafe impl aya::Pod for super::SvcValue {}
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::FlowValue {}
    unsafe impl aya::Pod for super::ConnState {}
    unsafe impl aya::Pod for super::DestStats {}
    unsafe impl aya::Pod for super::Event {}
    unsafe impl aya::Pod for super::Config {}
    unsafe impl aya::Pod for super::FastSvc {}
    unsafe impl aya::Pod for super::FastDest {}
    unsafe impl aya::Pod for super::NewConnEvent {}
}

// ---- Layout, checked against lvs_types.h --------------------------------------------------------

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<SvcKey>() == 20);
    assert!(size_of::<SvcValue>() == 8);
    assert!(size_of::<FlowKey>() == 40);
    assert!(size_of::<FlowValue>() == 64);
    assert!(offset_of!(FlowValue, seq_delta) == 52);
    assert!(offset_of!(FlowValue, new_saddr) == 12);
    assert!(offset_of!(FlowValue, new_sport) == 44);
    assert!(offset_of!(FlowValue, tun_port) == 48);
    assert!(size_of::<ConnState>() == 48);
    assert!(offset_of!(ConnState, state) == 40);
    assert!(size_of::<DestStats>() == 32);
    assert!(size_of::<Event>() == 56);
    assert!(offset_of!(Event, key) == 16);
    assert!(size_of::<Config>() == 8);
    assert!(size_of::<FastSvc>() == 1040);
    assert!(offset_of!(FastSvc, seq) == 16);
    assert!(size_of::<FastDest>() == 48);
    assert!(offset_of!(FastDest, dport) == 12);
    assert!(offset_of!(FastDest, saddr) == 16);
    assert!(offset_of!(FastDest, daddr) == 32);
    assert!(size_of::<NewConnEvent>() == 64);
    assert!(offset_of!(NewConnEvent, ts_ns) == 16);
    assert!(offset_of!(NewConnEvent, key) == 24);
};

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn svc_key_layout() {
        assert_eq!(size_of::<SvcKey>(), 20);
        assert_eq!(offset_of!(SvcKey, af), 0);
        assert_eq!(offset_of!(SvcKey, proto), 1);
        assert_eq!(offset_of!(SvcKey, port), 2);
        assert_eq!(offset_of!(SvcKey, addr), 4);
        assert_eq!(size_of::<SvcValue>(), 8);
        assert_eq!(offset_of!(SvcValue, flags), 4);
    }

    #[test]
    fn flow_key_layout() {
        assert_eq!(size_of::<FlowKey>(), 40);
        assert_eq!(align_of::<FlowKey>(), 2);
        assert_eq!(offset_of!(FlowKey, proto), 1);
        assert_eq!(offset_of!(FlowKey, pad), 2);
        assert_eq!(offset_of!(FlowKey, sport), 4);
        assert_eq!(offset_of!(FlowKey, dport), 6);
        assert_eq!(offset_of!(FlowKey, saddr), 8);
        assert_eq!(offset_of!(FlowKey, daddr), 24);
    }

    #[test]
    fn flow_value_layout() {
        assert_eq!(size_of::<FlowValue>(), 64);
        assert_eq!(size_of::<FlowValue>() % 8, 0);
        assert_eq!(offset_of!(FlowValue, dest_slot), 4);
        assert_eq!(offset_of!(FlowValue, action), 8);
        assert_eq!(offset_of!(FlowValue, out_af), 9);
        assert_eq!(offset_of!(FlowValue, dir), 10);
        assert_eq!(offset_of!(FlowValue, flags), 11);
        assert_eq!(offset_of!(FlowValue, new_saddr), 12);
        assert_eq!(offset_of!(FlowValue, new_daddr), 28);
        assert_eq!(offset_of!(FlowValue, new_sport), 44);
        assert_eq!(offset_of!(FlowValue, new_dport), 46);
        assert_eq!(offset_of!(FlowValue, tun_port), 48);
        assert_eq!(offset_of!(FlowValue, tun_flags), 50);
        assert_eq!(offset_of!(FlowValue, seq_delta), 52);
        assert_eq!(offset_of!(FlowValue, pp_seq), 56);
        assert_eq!(offset_of!(FlowValue, pad), 60);
    }

    #[test]
    fn conn_state_dest_stats_event_config_layout() {
        assert_eq!(size_of::<ConnState>(), 48);
        assert_eq!(offset_of!(ConnState, pkts_in), 8);
        assert_eq!(offset_of!(ConnState, bytes_in), 16);
        assert_eq!(offset_of!(ConnState, pkts_out), 24);
        assert_eq!(offset_of!(ConnState, bytes_out), 32);
        assert_eq!(offset_of!(ConnState, state), 40);
        assert_eq!(size_of::<DestStats>(), 32);
        assert_eq!(offset_of!(DestStats, bytes_out), 24);
        assert_eq!(size_of::<Event>(), 56);
        assert_eq!(offset_of!(Event, conn_id), 4);
        assert_eq!(offset_of!(Event, old_state), 8);
        assert_eq!(offset_of!(Event, new_state), 9);
        assert_eq!(offset_of!(Event, tcp_flags), 10);
        assert_eq!(offset_of!(Event, dir), 11);
        assert_eq!(offset_of!(Event, pkts), 12);
        assert_eq!(offset_of!(Event, key), 16);
        assert_eq!(size_of::<Config>(), 8);
        assert_eq!(offset_of!(Config, sync_threshold), 4);
        assert_eq!(offset_of!(Config, sync_period), 6);
    }

    #[test]
    fn ports_are_network_order() {
        let k = FlowKey::new(
            IPPROTO_TCP,
            Ipv4Addr::new(10, 0, 0, 2).into(),
            40000,
            Ipv4Addr::new(10, 0, 0, 100).into(),
            80,
        );
        assert_eq!(k.dport.to_ne_bytes(), [0, 80]);
        assert_eq!(k.dport(), 80);
        assert_eq!(k.sport(), 40000);
        assert_eq!(&k.saddr[..4], &[10, 0, 0, 2]);
        assert_eq!(&k.saddr[4..], &[0; 12]);
        assert_eq!(k.af, AF_INET);
        let r = k.reversed();
        assert_eq!((r.sport(), r.dport()), (80, 40000));
        assert_eq!(r.reversed(), k);
        let s = SvcKey::new(IPPROTO_UDP, Ipv6Addr::LOCALHOST.into(), 53);
        assert_eq!(s.af, AF_INET6);
        assert_eq!(s.port.to_ne_bytes(), [0, 53]);
        assert_eq!(s.addr[15], 1);
        let m = SvcKey::vaddr_marker(Ipv4Addr::new(1, 2, 3, 4).into());
        assert_eq!((m.proto, m.port), (0, 0));
    }

    #[test]
    fn flow_value_builders() {
        let v = FlowValue::new(action::NAT_IN, dir::INPUT, AF_INET, 7, 3)
            .with_dst(Ipv6Addr::LOCALHOST.into(), 8080);
        assert_eq!(v.out_af, AF_INET6);
        assert_eq!(v.new_dport.to_ne_bytes(), 8080u16.to_be_bytes());
        assert_eq!((v.conn_id, v.dest_slot), (7, 3));
        assert_eq!(
            ip_from_addr16(AF_INET6, &v.new_daddr),
            Some(Ipv6Addr::LOCALHOST.into())
        );
        assert_eq!(ip_from_addr16(0, &v.new_daddr), None);
    }

    #[test]
    fn event_from_bytes() {
        let mut b = [0u8; 56];
        b[0..4].copy_from_slice(&EV_STATE.to_ne_bytes());
        b[4..8].copy_from_slice(&9u32.to_ne_bytes());
        b[8] = 0;
        b[9] = 3;
        b[10] = 0x02;
        b[11] = dir::INPUT;
        b[16] = AF_INET;
        b[17] = IPPROTO_TCP;
        b[22..24].copy_from_slice(&80u16.to_be_bytes());
        b[24] = 10;
        let e = Event::from_bytes(&b).unwrap();
        assert_eq!((e.kind, e.conn_id, e.new_state), (EV_STATE, 9, 3));
        assert_eq!(e.key.dport(), 80);
        assert_eq!(e.key.saddr[0], 10);
        assert!(Event::from_bytes(&b[..55]).is_none());
    }

    #[test]
    fn fast_path_layout() {
        assert_eq!(size_of::<FastSvc>(), 1040);
        assert_eq!(offset_of!(FastSvc, n), 8);
        assert_eq!(offset_of!(FastSvc, pad), 12);
        assert_eq!(offset_of!(FastSvc, seq), 16);
        assert_eq!(size_of::<FastDest>(), 48);
        assert_eq!(offset_of!(FastDest, dest_slot), 4);
        assert_eq!(offset_of!(FastDest, action), 8);
        assert_eq!(offset_of!(FastDest, out_af), 9);
        assert_eq!(offset_of!(FastDest, dir), 10);
        assert_eq!(offset_of!(FastDest, pad), 11);
        assert_eq!(offset_of!(FastDest, dport), 12);
        assert_eq!(offset_of!(FastDest, pad2), 14);
        assert_eq!(offset_of!(FastDest, saddr), 16);
        assert_eq!(offset_of!(FastDest, daddr), 32);
        assert_eq!(size_of::<NewConnEvent>(), 64);
        assert_eq!(offset_of!(NewConnEvent, conn_id), 4);
        assert_eq!(offset_of!(NewConnEvent, svc_id), 8);
        assert_eq!(offset_of!(NewConnEvent, dest_id), 12);
        assert_eq!(offset_of!(NewConnEvent, ts_ns), 16);
        assert_eq!(offset_of!(NewConnEvent, key), 24);
    }

    #[test]
    fn new_conn_event_from_bytes() {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&EV_NEW.to_ne_bytes());
        b[4..8].copy_from_slice(&17u32.to_ne_bytes());
        b[8..12].copy_from_slice(&3u32.to_ne_bytes());
        b[12..16].copy_from_slice(&5u32.to_ne_bytes());
        b[16..24].copy_from_slice(&123_456u64.to_ne_bytes());
        b[24] = AF_INET6;
        b[25] = IPPROTO_UDP;
        b[28..30].copy_from_slice(&40000u16.to_be_bytes());
        b[30..32].copy_from_slice(&53u16.to_be_bytes());
        b[32] = 0xfd;
        b[63] = 7;
        let e = NewConnEvent::from_bytes(&b).unwrap();
        assert_eq!(
            (e.conn_id, e.svc_id, e.dest_id, e.ts_ns),
            (17, 3, 5, 123_456)
        );
        assert_eq!((e.key.af, e.key.proto), (AF_INET6, IPPROTO_UDP));
        assert_eq!((e.key.sport(), e.key.dport()), (40000, 53));
        assert_eq!((e.key.saddr[0], e.key.daddr[15]), (0xfd, 7));
        assert!(NewConnEvent::from_bytes(&b[..63]).is_none());
        b[0..4].copy_from_slice(&EV_STATE.to_ne_bytes());
        assert!(NewConnEvent::from_bytes(&b).is_none());
    }

    #[test]
    fn stat_indices_are_dense() {
        for (i, s) in Stat::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i, "{}", s.name());
        }
        assert!(Stat::ALL.len() as u32 <= Stat::MAX);
    }
}
