/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_types.h: the contract between the XDP programs and userspace (lvsd).
 *
 * Every struct here is mirrored 1:1 by crates/lvs-common (#[repr(C)]); sizes and offsets
 * are checked on both sides (_Static_assert below, const asserts + tests in Rust).
 * Change one side only together with the other.
 *
 * Conventions (all structs):
 *  - Addresses are 16 bytes in network order; an IPv4 address fills the first 4 bytes and
 *    the other 12 are zero ("Addr16", as lvs-core).
 *  - Ports are in network order (__be16). Everything else is host order.
 *  - af is 2 (AF_INET) or 10 (AF_INET6). proto is the IP protocol number.
 *  - No implicit padding: every hole is a named pad field that the producer zeroes (hash
 *    map keys are compared byte for byte).
 */
#ifndef LVS_TYPES_H
#define LVS_TYPES_H

#include <linux/types.h>

#define LVS_AF_INET 2
#define LVS_AF_INET6 10

/* ---- LVS_SERVICES: which (proto, vaddr, vport) are virtual services ------------------ */

/* Key of LVS_SERVICES. Producer: lvsd.
 * port 0 = every port of the address (ipvsadm port 0 service).
 * proto 0 + port 0 = "virtual address" marker: lvsd inserts one per address that has any
 * service, so that IP fragments (no ports) to a VIP are punted (see lvs_xdp.bpf.c). */
struct lvs_svc_key {
	__u8 af;          /* 2 or 10 */
	__u8 proto;       /* IPPROTO_TCP / IPPROTO_UDP, 0 for the address marker */
	__be16 port;      /* network order; 0 = any port */
	__u8 addr[16];    /* network order, Addr16 */
};

/* Value of LVS_SERVICES. Producer: lvsd. */
struct lvs_svc_value {
	__u32 svc_id;     /* host order: lvs-core ServiceId, opaque to XDP */
	__u32 flags;      /* host order: LVS_SVC_F_* */
};

/* The entry is a virtual-address marker (proto 0, port 0). Informational for XDP. */
#define LVS_SVC_F_VADDR (1U << 0)

/* ---- LVS_FLOWS: one entry per direction of a connection ------------------------------ */

/* Key of LVS_FLOWS: the tuple of a packet AS IT ARRIVES at the director. Producer: lvsd.
 * In direction: client -> VIP. Out direction (NAT / FULLNAT only): real server -> client,
 * or real server -> FULLNAT local address. */
struct lvs_flow_key {
	__u8 af;          /* 2 or 10 */
	__u8 proto;       /* 6 (TCP) or 17 (UDP) */
	__u16 pad;        /* zero */
	__be16 sport;     /* network order */
	__be16 dport;     /* network order */
	__u8 saddr[16];   /* network order, Addr16 */
	__u8 daddr[16];   /* network order, Addr16 */
};

/* lvs_flow_value.action */
enum lvs_action {
	LVS_A_NAT_IN = 0,   /* dst := new_daddr:new_dport */
	LVS_A_NAT_OUT = 1,  /* src := new_saddr:new_sport */
	LVS_A_FNAT_IN = 2,  /* src := new_saddr:new_sport (LIP:lport), dst := new_daddr:new_dport (RIP:rport) */
	LVS_A_FNAT_OUT = 3, /* src := new_saddr:new_sport (VIP:vport), dst := new_daddr:new_dport (CIP:cport) */
	LVS_A_DR = 4,       /* no L3 change but TTL; L2 next hop = new_daddr (the real server) */
	LVS_A_TUN_IPIP = 5, /* outer src new_saddr, outer dst new_daddr, family out_af, proto 4/41 */
	LVS_A_TUN_GUE = 6,  /* as IPIP + UDP(new_sport -> tun_port) + 4-byte GUE; IPv4 outer only */
	LVS_A_DROP = 7,     /* drop silently (real server deleted, expire_nodest_conn = 0) */
	LVS_A_PUNT = 8,     /* hand every packet of this flow to the slow path (AF_XDP) */
	LVS_A_MAX = 9,
};

/* lvs_flow_value.dir: the row group of the IPVS TCP state table this direction uses. */
enum lvs_dir {
	LVS_DIR_INPUT = 0,      /* client -> real server, NAT/FULLNAT in direction */
	LVS_DIR_OUTPUT = 1,     /* real server -> client (NAT/FULLNAT out direction) */
	LVS_DIR_INPUT_ONLY = 2, /* client -> real server on a NOOUTPUT conn (DR, TUN) */
};

/* Value of LVS_FLOWS. Producer: lvsd (written once at connection setup, updated on
 * state/method changes). XDP only reads it. */
struct lvs_flow_value {
	__u32 conn_id;      /* host order: lvs-core ConnId, index into LVS_CONNS */
	__u32 dest_slot;    /* host order: index into LVS_DEST_STATS */
	__u8 action;        /* enum lvs_action */
	__u8 out_af;        /* family after rewriting/encapsulation (TUN: outer family) */
	__u8 dir;           /* enum lvs_dir */
	__u8 flags;         /* LVS_FF_* (FULLNAT Proxy Protocol v2), zero for other flows */
	__u8 new_saddr[16]; /* network order, Addr16 (family out_af for TUN, af otherwise) */
	__u8 new_daddr[16]; /* network order, Addr16 */
	__be16 new_sport;   /* network order; TUN_GUE: the outer UDP source port (flow hash) */
	__be16 new_dport;   /* network order */
	__be16 tun_port;    /* network order: GUE destination port */
	__u16 tun_flags;    /* host order: LVS_TUN_F_*, zero today */
	__u32 seq_delta;    /* host order: LVS_FF_SEQ: bytes the director inserted into the
			     * client's stream (the PROXY header's length); else 0 */
	__u32 pp_seq;       /* host order: LVS_FF_PP_WAIT / LVS_FF_PP_FIRST (input flow): the
			     * client's first data sequence number (ISN + 1); else 0 */
	__u8 pad[4];        /* zero */
};

/* lvs_flow_value.flags: FULLNAT with Proxy Protocol v2 (docs/proxy-protocol.md). TCP only;
 * a segment with SYN is never punted for these nor translated. */
/* Input flow, PROXY header not sent yet: every segment but SYN and RST is punted (the slow
 * path sends the header before the first one, then sets PP_FIRST | SEQ). */
#define LVS_FF_PP_WAIT (1U << 0)
/* Input flow: a segment with payload whose sequence number is pp_seq (the client's first
 * data segment or a retransmission of it) is punted: the slow path puts the header in
 * front of it again. */
#define LVS_FF_PP_FIRST (1U << 1)
/* Sequence translation by seq_delta. Input flows: seq += delta. Output flow, segments
 * with ACK: ack -= delta, and the edges of the first SACK option -= delta (they are in the
 * client's sequence space as the real server sees it). */
#define LVS_FF_SEQ (1U << 2)

/* ---- LVS_CONNS: per connection counters and TCP state ---------------------------------- */

/* Value of LVS_CONNS (ARRAY, index conn_id). Producer: lvsd writes state at setup
 * (and zeroes the counters); XDP updates the counters with atomic adds, last_seen_ns with
 * bpf_ktime_get_ns() (CLOCK_MONOTONIC ns) and state with the IPVS TCP table. All host order.
 * The in counters count directions LVS_DIR_INPUT and LVS_DIR_INPUT_ONLY, the out counters
 * LVS_DIR_OUTPUT. Bytes = IP length (IPv4 total length; IPv6 payload length + 40).
 * pkts_in counts the inbound packets after the first one (which the slow path handled); a
 * connection lvs_xdp creates starts at pkts_in = (__u64)-1 so that its first packet, which
 * XDP forwards, brings it to 0 (its bytes_in does include the first packet). */
struct lvs_conn_state {
	__u64 last_seen_ns;
	__u64 pkts_in;
	__u64 bytes_in;
	__u64 pkts_out;
	__u64 bytes_out;
	__u8 state;         /* lvs-core TcpState (0 NONE .. 10 SYNACK); 0 for UDP */
	__u8 pad[7];
};

/* ---- LVS_DEST_STATS: per real server counters (PERCPU_ARRAY, index dest_slot) ---------- */

/* Producer: XDP (per-CPU adds); lvsd sums the CPUs. Host order. Bytes as LVS_CONNS. */
struct lvs_dest_stats {
	__u64 pkts_in;
	__u64 bytes_in;
	__u64 pkts_out;
	__u64 bytes_out;
};

/* ---- LVS_EVENTS: ring buffer records from XDP to lvsd ---------------------------------- */

enum lvs_event_kind {
	LVS_EV_STATE = 1, /* the in-kernel TCP transition changed LVS_CONNS[conn_id].state */
	LVS_EV_SYNC = 2,  /* sync master: an inbound packet met the sync_threshold rule */
	LVS_EV_NEW = 3,   /* lvs_xdp created a connection itself (struct lvs_new_event) */
};

/* Producer: XDP. Host order except the key (as LVS_FLOWS). */
struct lvs_event {
	__u32 kind;        /* enum lvs_event_kind */
	__u32 conn_id;
	__u8 old_state;
	__u8 new_state;
	__u8 tcp_flags;    /* TCP header byte 13: FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 */
	__u8 dir;          /* enum lvs_dir the transition used */
	__u32 pkts;        /* inbound packets of the connection so far, the slow path's
			    * first one included (sync thresholds), saturating */
	struct lvs_flow_key key; /* the flow key of the packet (as it arrived) */
};

/* ---- New connections scheduled in XDP ("fast-eligible" services, docs/xdp.md) ---------- */

/* Entries of lvs_fast_svc.seq: one scheduling period (rr: the dests in order; wrr: IPVS's
 * weighted sequence). A service whose period is longer is not fast-eligible. */
#define LVS_FAST_SEQ_MAX 256

/* Value of LVS_FAST_SVCS, key: the service id of LVS_SERVICES values (__u32). Producer:
 * lvsd (rewritten on every configuration change); XDP adds 1 to pos atomically per new
 * connection and takes seq[pos % n]. Host order. */
struct lvs_fast_svc {
	__u64 pos;                    /* position counter (XDP, atomic) */
	__u32 n;                      /* used entries of seq, 1..LVS_FAST_SEQ_MAX */
	__u32 pad;                    /* zero */
	__u32 seq[LVS_FAST_SEQ_MAX];  /* lvs-core DestIds: keys of LVS_FAST_DESTS */
};

/* Value of LVS_FAST_DESTS, key: lvs-core DestId (__u32). Producer: lvsd. The forwarding
 * template of a real server of a fast-eligible service: what lvsd's install() would write
 * into the input flow (and, for NAT, the output flow). */
struct lvs_fast_dest {
	__u32 dest_id;     /* host order: lvs-core DestId (= the key) */
	__u32 dest_slot;   /* host order: index into LVS_DEST_STATS */
	__u8 action;       /* LVS_A_NAT_IN, LVS_A_DR or LVS_A_TUN_IPIP */
	__u8 out_af;       /* family of daddr (TUN: outer family) */
	__u8 dir;          /* LVS_DIR_INPUT (NAT) or LVS_DIR_INPUT_ONLY (DR, TUN) */
	__u8 pad;          /* zero */
	__be16 dport;      /* network order: NAT's new destination port, 0 = the packet's */
	__u16 pad2;        /* zero */
	__u8 saddr[16];    /* network order, Addr16: TUN outer source (route source), else 0 */
	__u8 daddr[16];    /* network order, Addr16: the real server */
};

/* A record of LVS_EVENTS with kind LVS_EV_NEW. Producer: lvs_xdp, after it inserted the
 * flows of a new connection (reserved before anything is inserted, so it is never lost).
 * Host order except the key. */
struct lvs_new_event {
	__u32 kind;        /* LVS_EV_NEW (same offset as lvs_event.kind) */
	__u32 conn_id;     /* popped from LVS_CONN_IDS */
	__u32 svc_id;      /* LVS_SERVICES value's svc_id */
	__u32 dest_id;     /* the chosen real server */
	__u64 ts_ns;       /* bpf_ktime_get_ns() at creation */
	struct lvs_flow_key key; /* the input flow key (the first packet as it arrived) */
};

/* LVS_CONN_IDS: QUEUE of __u32 connection ids lvs-core reserved for XDP. Producer: lvsd
 * (keeps it topped up); XDP pops one per new connection and pushes it back if it could not
 * create the connection. */
#define LVS_CONN_IDS_MAX 4096
#define LVS_FAST_SVCS_MAX 4096
#define LVS_FAST_DESTS_MAX 65536

/* ---- LVS_CONFIG (ARRAY[1]) --------------------------------------------------------------- */

/* Producer: lvsd. Host order. */
struct lvs_config {
	__u32 flags;          /* LVS_CFG_* */
	__u16 sync_threshold; /* LVS_CFG_SYNC_MASTER: sync_threshold (IPVS default 3) */
	__u16 sync_period;    /* sync_period (default 50, 0 = only at the threshold) */
};

/* sloppy_tcp: a TCP packet without SYN (but without RST) may create a connection. */
#define LVS_CFG_SLOPPY_TCP (1U << 0)
/* A sync master runs: an inbound packet whose count n meets IPVS's rule (n % period ==
 * threshold, or n == threshold with period 0) and changes no state emits LVS_EV_SYNC. */
#define LVS_CFG_SYNC_MASTER (1U << 1)

/* ---- LVS_STATS (PERCPU_ARRAY of __u64, index enum lvs_stat) ---------------------------- */

/* Global packet counters by outcome. Producers: lvs_xdp and lvs_tc. Every frame lvs_xdp sees
 * counts LVS_ST_RX and exactly one outcome counter among PASS_* (PASS_TO_TC included) /
 * FWD_* / PUNT_* / DROP_ACTION / PARSE_ERROR / ENCAP_ERROR; a punt additionally counts
 * XSK_REDIRECT (a socket took it) or DROP_NO_XSK (none bound). lvs_tc: see below. */
enum lvs_stat {
	LVS_ST_RX = 0,               /* every frame seen */
	LVS_ST_PASS_NOT_OURS = 1,    /* not IPv4/IPv6 TCP/UDP for a service, no flow: XDP_PASS */
	LVS_ST_PASS_NON_SYN = 2,     /* TCP to a service, no flow, not a SYN (or RST): XDP_PASS */
	LVS_ST_FWD_TX = 3,           /* flow hit forwarded out the ingress interface: XDP_TX */
	LVS_ST_FWD_REDIRECT = 4,     /* flow hit forwarded out another interface: bpf_redirect */
	LVS_ST_PUNT_NEW = 5,         /* no flow, new connection for a service: punted */
	LVS_ST_PUNT_FIB = 6,         /* flow hit, bpf_fib_lookup failed (no neighbour, local, unreachable..): punted */
	LVS_ST_PUNT_TTL = 7,         /* flow hit, TTL/hop limit <= 1: punted (slow path sends time exceeded) */
	LVS_ST_PUNT_FRAG_NEEDED = 8, /* flow hit, packet larger than the route MTU: punted */
	LVS_ST_PUNT_ICMP = 9,        /* ICMP error whose quoted tuple (inverted) is a flow: punted */
	LVS_ST_PUNT_FRAG = 10,       /* IP fragment to a virtual address: punted */
	LVS_ST_PUNT_ACTION = 11,     /* flow hit with action LVS_A_PUNT (or GUE over IPv6): punted */
	LVS_ST_DROP_ACTION = 12,     /* flow hit with action LVS_A_DROP: XDP_DROP */
	LVS_ST_DROP_NO_XSK = 13,     /* a punt found no AF_XDP socket (or no ifslot): XDP_DROP */
	LVS_ST_XSK_REDIRECT = 14,    /* a punt was redirected to an AF_XDP socket */
	LVS_ST_PARSE_ERROR = 15,     /* malformed IP/TCP/UDP header: XDP_PASS (the stack drops it) */
	LVS_ST_PASS_UNSUPPORTED = 16,/* IPv6 extension headers etc.: XDP_PASS untouched */
	LVS_ST_EVENT_LOST = 17,      /* LVS_EVENTS was full: a state event was not delivered */
	LVS_ST_ENCAP_ERROR = 18,     /* encapsulation or a rewrite helper failed: XDP_DROP / TC_ACT_SHOT */
	LVS_ST_PASS_TO_TC = 19,      /* flow hit on a TC-forwarding interface, checks passed: XDP_PASS
				      * untouched, lvs_tc forwards it */
	/* lvs_tc (TC ingress on interfaces in generic XDP mode) counts separately: every skb
	 * counts TC_RX and exactly one of TC_PASS / FWD_TX / FWD_REDIRECT / TC_FWD_NEIGH /
	 * DROP_ACTION / TC_DROP / TC_TOO_BIG / ENCAP_ERROR. */
	LVS_ST_TC_RX = 20,           /* every skb lvs_tc sees */
	LVS_ST_TC_PASS = 21,         /* lvs_tc: not a flow hit: TC_ACT_OK untouched */
	LVS_ST_TC_FWD_NEIGH = 22,    /* lvs_tc: flow hit whose next hop had no neighbour entry:
				      * bpf_redirect_neigh (the kernel resolves it) */
	LVS_ST_TC_DROP = 23,         /* lvs_tc: flow hit it can neither forward nor punt (PUNT
				      * action, TTL <= 1, SYN on a finished connection, FIB
				      * failure, larger than the route MTU):
				      * TC_ACT_SHOT. lvs_xdp punts these before TC sees them, so this
				      * counts only flows or routes that changed in between */
	LVS_ST_PUNT_REUSE = 24,      /* lvs_xdp: TCP SYN (no ACK/RST) on an input flow whose
				      * connection is finished (TIME_WAIT, CLOSE; FIN_WAIT on a
				      * NOOUTPUT conn): punted, the slow path decides about reuse
				      * (IPVS conn_reuse_mode) and may schedule a new connection */
	LVS_ST_PUNT_PP = 25,         /* lvs_xdp: TCP segment of a Proxy Protocol connection the
				      * slow path must see (LVS_FF_PP_WAIT / LVS_FF_PP_FIRST):
				      * punted, the slow path sends the PROXY header before it */
	LVS_ST_TC_TOO_BIG = 26,      /* lvs_tc: GSO aggregate of a tunnel flow whose segments,
				      * encapsulated, exceed the route MTU: TC_ACT_SHOT (no AF_XDP
				      * frame holds an aggregate; a retransmitted single segment is
				      * punted and gets ICMP frag-needed) */
	/* New connections of fast-eligible services (lvs_xdp). Not outcomes: the frame also
	 * counts its outcome (FWD_* / PASS_TO_TC when created, PUNT_NEW when not). */
	LVS_ST_NEW_FAST = 27,        /* connection created in XDP (flows inserted, LVS_EV_NEW sent) */
	LVS_ST_NEW_NO_EVENT = 28,    /* LVS_EVENTS full: not created, punted (PUNT_NEW) */
	LVS_ST_NEW_NO_ID = 29,       /* LVS_CONN_IDS empty: not created, punted (PUNT_NEW) */
	LVS_ST_NEW_INSERT_FAIL = 30, /* a flow already existed or LVS_FLOWS is full: undone, punted */
	LVS_ST_PASS_OTHER_HOST = 31, /* lvs_xdp: a new connection, or a flow hit it would forward
				      * itself, in a unicast frame to another MAC (LVS_IFMACS):
				      * XDP_PASS untouched (the stack drops PACKET_OTHERHOST) */
	LVS_ST_MAX = 32,             /* array size (room to grow) */
};

/* ---- LVS_XSKS / LVS_IFSLOTS --------------------------------------------------------------- */

/* LVS_XSKS key = ifslot * LVS_XSK_QUEUES_PER_IF + rx_queue_index, ifslot from LVS_IFSLOTS. */
#define LVS_XSK_QUEUES_PER_IF 64
#define LVS_MAX_IFSLOTS 64

/* ---- LVS_IFACES: per-interface switches ------------------------------------------------ */

/* LVS_IFACES: ingress ifindex -> __u32 flags (host order). Producer: the loader
 * (crates/lvs-dataplane, Dataplane::attach / set_tc_forwarding). */
#define LVS_MAX_IFACES 256
/* Forwarding of flow hits on this interface is done by lvs_tc (TC ingress), not by
 * lvs_xdp: set where lvs_xdp runs in generic (SKB) mode. lvs_xdp still punts everything
 * the slow path must see; a hit it would forward it passes (XDP_PASS) untouched. */
#define LVS_IF_TC_FWD (1U << 0)

/* LVS_IFMACS: ingress ifindex -> the interface's MAC address. Producer: lvsd. A unicast
 * frame to another MAC (a bridge flooding a frame for a forgotten address, a promiscuous
 * interface) is not the director's, as for the kernel (PACKET_OTHERHOST): lvs_xdp passes
 * it to the stack (which drops it) instead of creating a connection for it or, where it
 * forwards by itself (native / generic without TC), forwarding it. lvs_tc checks
 * skb->pkt_type instead. No entry: no check. */
struct lvs_if_mac {
	__u8 addr[6];
	__u8 pad[2];      /* zero */
};

/* ---- Defaults (the loader may override the max_entries) ---------------------------------- */

#define LVS_DEFAULT_FLOWS_MAX (1U << 21)
#define LVS_DEFAULT_CONNS_MAX (1U << 20)
#define LVS_DEFAULT_DESTS_MAX 4096
#define LVS_SERVICES_MAX 65536
#define LVS_EVENTS_BYTES (1U << 20)
#define LVS_RS_VIPS_MAX 4096

/* ---- Sizes, checked here and in crates/lvs-common ---------------------------------------- */

_Static_assert(sizeof(struct lvs_svc_key) == 20, "lvs_svc_key");
_Static_assert(sizeof(struct lvs_if_mac) == 8, "lvs_if_mac");
_Static_assert(sizeof(struct lvs_svc_value) == 8, "lvs_svc_value");
_Static_assert(sizeof(struct lvs_flow_key) == 40, "lvs_flow_key");
_Static_assert(sizeof(struct lvs_flow_value) == 64, "lvs_flow_value");
_Static_assert(__builtin_offsetof(struct lvs_flow_value, seq_delta) == 52, "seq_delta");
_Static_assert(__builtin_offsetof(struct lvs_flow_value, pp_seq) == 56, "pp_seq");
_Static_assert(__builtin_offsetof(struct lvs_flow_value, new_saddr) == 12, "new_saddr");
_Static_assert(__builtin_offsetof(struct lvs_flow_value, new_sport) == 44, "new_sport");
_Static_assert(__builtin_offsetof(struct lvs_flow_value, tun_port) == 48, "tun_port");
_Static_assert(sizeof(struct lvs_conn_state) == 48, "lvs_conn_state");
_Static_assert(__builtin_offsetof(struct lvs_conn_state, state) == 40, "state");
_Static_assert(sizeof(struct lvs_dest_stats) == 32, "lvs_dest_stats");
_Static_assert(sizeof(struct lvs_event) == 56, "lvs_event");
_Static_assert(__builtin_offsetof(struct lvs_event, key) == 16, "event key");
_Static_assert(sizeof(struct lvs_fast_svc) == 1040, "lvs_fast_svc");
_Static_assert(__builtin_offsetof(struct lvs_fast_svc, seq) == 16, "fast_svc seq");
_Static_assert(sizeof(struct lvs_fast_dest) == 48, "lvs_fast_dest");
_Static_assert(__builtin_offsetof(struct lvs_fast_dest, dport) == 12, "fast_dest dport");
_Static_assert(__builtin_offsetof(struct lvs_fast_dest, saddr) == 16, "fast_dest saddr");
_Static_assert(__builtin_offsetof(struct lvs_fast_dest, daddr) == 32, "fast_dest daddr");
_Static_assert(sizeof(struct lvs_new_event) == 64, "lvs_new_event");
_Static_assert(__builtin_offsetof(struct lvs_new_event, ts_ns) == 16, "new_event ts");
_Static_assert(__builtin_offsetof(struct lvs_new_event, key) == 24, "new_event key");
_Static_assert(sizeof(struct lvs_config) == 8, "lvs_config");
_Static_assert(__builtin_offsetof(struct lvs_config, sync_period) == 6, "config sync_period");

#endif /* LVS_TYPES_H */
