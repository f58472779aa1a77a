// SPDX-License-Identifier: GPL-2.0-only
/*
 * lvs_xdp: the lvs-rs director's fast path.
 *
 *   not IP / not TCP-UDP / not for a service ........................ XDP_PASS
 *   flow hit (LVS_FLOWS) ... account, TCP state, TTL-1, rewrite ...... XDP_TX / bpf_redirect
 *                         ... DROP action ............................ XDP_DROP
 *                         ... PUNT action, TTL <= 1, FIB failure ..... punt (frame untouched)
 *                         ... SYN on a finished connection ........... punt (conn reuse)
 *                         ... Proxy Protocol segment (LVS_FF_PP_*) ... punt (slow path sends the header)
 *   unicast frame to another host's MAC (LVS_IFMACS): miss for a service,
 *     or a hit lvs_xdp would forward itself ............................ XDP_PASS (stack drops it)
 *   miss, fast-eligible service, TCP SYN / UDP ...................... created here, forwarded
 *   miss, service, new connection (TCP SYN, UDP) ................... punt
 *   miss, service, TCP without SYN (or with RST) ..................... XDP_PASS (as IPVS)
 *   ICMP error quoting a flow (inverted) ............................. punt
 *   IP fragment to a virtual address ................................. punt
 * "punt" = bpf_redirect_map(LVS_XSKS) to lvsd's AF_XDP socket, XDP_DROP if none.
 *
 * Generic (SKB) mode: on an interface flagged LVS_IF_TC_FWD in LVS_IFACES, a flow hit that
 * passes every punt check is returned XDP_PASS untouched (LVS_ST_PASS_TO_TC) and lvs_tc,
 * the TC ingress program at the end of this file, forwards it from the same skb: it can
 * send GSO aggregates and knows CHECKSUM_PARTIAL seeds, which bpf_redirect from generic XDP
 * cannot (docs/xdp.md, "Generic mode").
 *
 * A frame is either handled entirely here (accounted, state-tracked, rewritten, sent) or
 * punted untouched, so the slow path never sees a half-processed packet and nothing is
 * counted twice: the FIB lookup (which may fail) runs before anything is written.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/if_packet.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lvs_types.h"
#include "lvs_maps.h"
#include "lvs_csum.h"
#include "lvs_parse.h"
#include "lvs_tcp_state.h"
#include "lvs_rewrite.h"
#include "lvs_fwd.h"
#include "lvs_account.h"
#include "lvs_skb.h"
#include "lvs_seq.h"

char LICENSE[] SEC("license") = "GPL";

/* Rewrite the frame for its action: TTL - 1 always, then the method's change. */
static __always_inline int lvs_apply(struct xdp_md *ctx, const struct lvs_pkt *pkt,
				     const struct lvs_flow_value *fv)
{
	__u8 a = fv->action;

	if (lvs_dec_ttl(ctx, pkt))
		return -1;
	switch (a) {
	case LVS_A_NAT_IN:
		return lvs_rewrite_tuple(ctx, pkt, fv, 0, 1);
	case LVS_A_NAT_OUT:
		return lvs_rewrite_tuple(ctx, pkt, fv, 1, 0);
	case LVS_A_FNAT_IN:
	case LVS_A_FNAT_OUT:
		if (lvs_rewrite_tuple(ctx, pkt, fv, 1, 1))
			return -1;
		return lvs_seq_xlate(ctx, pkt, fv); /* Proxy Protocol: LVS_FF_SEQ */
	case LVS_A_TUN_IPIP:
	case LVS_A_TUN_GUE:
		return lvs_encap(ctx, pkt, fv);
	default: /* LVS_A_DR */
		return 0;
	}
}

/* Does lvs_tc forward the flow hits of this interface (generic XDP)? */
static __always_inline int lvs_tc_forwarding(__u32 ifindex)
{
	__u32 *flags = bpf_map_lookup_elem(&LVS_IFACES, &ifindex);

	return flags && (*flags & LVS_IF_TC_FWD);
}

/* A unicast frame to another host's MAC address (LVS_IFMACS, see lvs_types.h)? */
static __always_inline int lvs_other_host(struct xdp_md *ctx, __u32 ifindex)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct lvs_if_mac *m;
	__u8 *dst = data;
	int i;

	if (data + 6 > end || (dst[0] & 1))
		return 0;
	m = bpf_map_lookup_elem(&LVS_IFMACS, &ifindex);
	if (!m)
		return 0;
#pragma unroll
	for (i = 0; i < 6; i++)
		if (dst[i] != m->addr[i])
			return 1;
	return 0;
}

/* A packet of a known connection. */
static __always_inline int lvs_hit(struct xdp_md *ctx, const struct lvs_pkt *pkt,
				   const struct lvs_flow_value *fv)
{
	struct bpf_fib_lookup fib = {};
	__u8 a = fv->action;
	int rc, tc;

	if (a == LVS_A_DROP) {
		lvs_stat_inc(LVS_ST_DROP_ACTION);
		return XDP_DROP;
	}
	/* GUE over IPv6 needs a UDP checksum over the whole payload: slow path */
	if (a == LVS_A_PUNT || a >= LVS_A_MAX ||
	    (a == LVS_A_TUN_GUE && fv->out_af == LVS_AF_INET6))
		return lvs_punt(pkt, LVS_ST_PUNT_ACTION);
	if (pkt->ttl <= 1)
		return lvs_punt(pkt, LVS_ST_PUNT_TTL);
	if (lvs_conn_reuse(pkt, fv))
		return lvs_punt(pkt, LVS_ST_PUNT_REUSE);
	if (lvs_pp_punt(pkt, fv))
		return lvs_punt(pkt, LVS_ST_PUNT_PP);

	tc = lvs_tc_forwarding(pkt->ifindex);
	/* lvs_tc checks skb->pkt_type itself */
	if (!tc && lvs_other_host(ctx, pkt->ifindex))
		return lvs_pass(LVS_ST_PASS_OTHER_HOST);
	rc = lvs_fib_lookup(ctx, pkt, fv, &fib, lvs_xdp_tot_len(ctx, pkt, fv));
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return lvs_punt(pkt, LVS_ST_PUNT_FRAG_NEEDED);
	/* Generic XDP: lvs_tc, which runs next on this very skb, forwards it (it can send
	 * GSO aggregates and fix offloaded checksums, bpf_redirect from generic XDP cannot).
	 * The punts stay here (TC has no way to the slow path), except a missing neighbour
	 * entry: lvs_tc's bpf_redirect_neigh has the kernel resolve it, as the slow path's
	 * transmit would, and it also takes aggregates, which no AF_XDP frame can hold. */
	if (tc && (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH))
		return lvs_pass(LVS_ST_PASS_TO_TC);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) /* no neighbour, local, unreachable, ... */
		return lvs_punt(pkt, LVS_ST_PUNT_FIB);

	lvs_account(pkt, fv);
	if (lvs_apply(ctx, pkt, fv)) {
		lvs_stat_inc(LVS_ST_ENCAP_ERROR);
		return XDP_DROP;
	}
	return lvs_xmit(ctx, pkt, &fib);
}

/* Is lvsd's slow path alive? Its AF_XDP socket for this interface and queue is in
 * LVS_XSKS; a socket leaves the map when it is closed (lvsd exited or was killed). A
 * connection XDP creates must be adopted by lvsd, so without it none is created (the
 * packet is punted, i.e. dropped, as any new connection of a dead director). */
static __always_inline int lvs_slow_path_alive(const struct lvs_pkt *pkt)
{
	__u32 ifindex = pkt->ifindex;
	__u32 *slot = bpf_map_lookup_elem(&LVS_IFSLOTS, &ifindex);
	__u32 key;

	if (!slot || *slot >= LVS_MAX_IFSLOTS || pkt->rxq >= LVS_XSK_QUEUES_PER_IF)
		return 0;
	key = *slot * LVS_XSK_QUEUES_PER_IF + pkt->rxq;
	return bpf_map_lookup_elem(&LVS_XSKS, &key) != NULL;
}

/* A new connection of a fast-eligible service (LVS_FAST_SVCS has its service id): pick
 * the real server from the service's sequence, route the packet as it will leave, and
 * only then create the connection: reserve the LVS_EV_NEW record, pop a connection id,
 * insert the flows (BPF_NOEXIST), reset LVS_CONNS[id], submit the record, and forward the
 * packet as a flow hit of that connection (lvs_account runs the TCP transition NONE ->
 * SYN_RECV with its LVS_EV_STATE record). Anything that fails before the first insert
 * leaves nothing behind; a failed insert is undone (flows deleted, id pushed back, record
 * discarded). Returns -1 if the packet is to be punted untouched as today (the slow path
 * schedules it), else the XDP verdict. */
static __always_inline int lvs_new_fast(struct xdp_md *ctx, const struct lvs_pkt *pkt,
					__u32 svc_id)
{
	struct lvs_fast_svc *fs = bpf_map_lookup_elem(&LVS_FAST_SVCS, &svc_id);
	struct bpf_fib_lookup fib = {};
	struct lvs_flow_value *fv;
	struct lvs_scratch *sc;
	struct lvs_new_event *ev;
	struct lvs_fast_dest *fd;
	struct lvs_conn_state *cs;
	__u64 pos, idx;
	__u32 n, dest_id, id, zero = 0;
	int rc, tc;

	if (!fs || !lvs_slow_path_alive(pkt))
		return -1;
	/* IPVS schedules on a SYN without ACK/RST; sloppy_tcp's other segments go the slow way */
	if (pkt->key.proto == IPPROTO_TCP &&
	    (pkt->tcp_flags & (LVS_TCP_SYN | LVS_TCP_ACK | LVS_TCP_RST)) != LVS_TCP_SYN)
		return -1;
	if (pkt->ttl <= 1)
		return -1; /* the slow path sends time exceeded */
	n = fs->n;
	if (n == 0 || n > LVS_FAST_SEQ_MAX)
		return -1;
	pos = __sync_fetch_and_add(&fs->pos, 1);
	idx = pos % n;
	if (idx >= LVS_FAST_SEQ_MAX)
		return -1;
	dest_id = fs->seq[idx];
	fd = bpf_map_lookup_elem(&LVS_FAST_DESTS, &dest_id);
	sc = bpf_map_lookup_elem(&LVS_SCRATCH, &zero);
	if (!fd || !sc)
		return -1;
	/* the flow values are built in a per-CPU scratch record: the stack is full */
	__builtin_memset(sc, 0, sizeof(*sc));
	fv = &sc->fv;

	fv->dest_slot = fd->dest_slot;
	fv->action = fd->action;
	fv->out_af = fd->out_af;
	fv->dir = fd->dir;
	__builtin_memcpy(fv->new_saddr, fd->saddr, 16);
	__builtin_memcpy(fv->new_daddr, fd->daddr, 16);
	if (fv->action == LVS_A_NAT_IN)
		fv->new_dport = fd->dport ? fd->dport : pkt->key.dport;
	else if (fv->action != LVS_A_DR && fv->action != LVS_A_TUN_IPIP)
		return -1;

	/* Route first: a packet XDP cannot send (no neighbour entry in native mode, local,
	 * unreachable, larger than the route MTU) is punted before anything exists, and the
	 * slow path schedules it (its transmit through the kernel resolves the neighbour). */
	tc = lvs_tc_forwarding(pkt->ifindex);
	rc = lvs_fib_lookup(ctx, pkt, fv, &fib, lvs_xdp_tot_len(ctx, pkt, fv));
	if (!(rc == BPF_FIB_LKUP_RET_SUCCESS || (tc && rc == BPF_FIB_LKUP_RET_NO_NEIGH)))
		return -1;

	ev = bpf_ringbuf_reserve(&LVS_EVENTS, sizeof(*ev), 0);
	if (!ev) {
		lvs_stat_inc(LVS_ST_NEW_NO_EVENT);
		return -1;
	}
	if (bpf_map_pop_elem(&LVS_CONN_IDS, &id)) {
		bpf_ringbuf_discard(ev, 0);
		lvs_stat_inc(LVS_ST_NEW_NO_ID);
		return -1;
	}
	fv->conn_id = id;
	cs = bpf_map_lookup_elem(&LVS_CONNS, &id);
	if (!cs)
		goto undo_id;
	if (bpf_map_update_elem(&LVS_FLOWS, &pkt->key, fv, BPF_NOEXIST))
		goto undo_id;
	if (fv->action == LVS_A_NAT_IN) {
		/* the reply: real server -> client, source back to VIP:vport */
		sc->ok.af = pkt->key.af;
		sc->ok.proto = pkt->key.proto;
		sc->ok.sport = fv->new_dport;
		sc->ok.dport = pkt->key.sport;
		__builtin_memcpy(sc->ok.saddr, fv->new_daddr, 16);
		__builtin_memcpy(sc->ok.daddr, pkt->key.saddr, 16);
		sc->ov.conn_id = id;
		sc->ov.dest_slot = fv->dest_slot;
		sc->ov.action = LVS_A_NAT_OUT;
		sc->ov.out_af = fv->out_af;
		sc->ov.dir = LVS_DIR_OUTPUT;
		sc->ov.new_sport = pkt->key.dport;
		__builtin_memcpy(sc->ov.new_saddr, pkt->key.daddr, 16);
		if (bpf_map_update_elem(&LVS_FLOWS, &sc->ok, &sc->ov, BPF_NOEXIST)) {
			bpf_map_delete_elem(&LVS_FLOWS, &pkt->key);
			goto undo_id;
		}
	}
	/* pkts_in starts at -1: lvs_account counts inbound packets after the first (which the
	 * slow path counts for its connections), so the first one here brings it to 0 */
	cs->last_seen_ns = bpf_ktime_get_ns();
	cs->pkts_in = (__u64)-1;
	cs->bytes_in = 0;
	cs->pkts_out = 0;
	cs->bytes_out = 0;
	cs->state = 0;
	ev->kind = LVS_EV_NEW;
	ev->conn_id = id;
	ev->svc_id = svc_id;
	ev->dest_id = dest_id;
	ev->ts_ns = cs->last_seen_ns;
	__builtin_memcpy(&ev->key, &pkt->key, sizeof(ev->key));
	bpf_ringbuf_submit(ev, 0);
	lvs_stat_inc(LVS_ST_NEW_FAST);

	if (tc)
		return lvs_pass(LVS_ST_PASS_TO_TC); /* lvs_tc finds the flow and forwards */
	lvs_account(pkt, fv);
	if (lvs_apply(ctx, pkt, fv)) {
		lvs_stat_inc(LVS_ST_ENCAP_ERROR);
		return XDP_DROP;
	}
	return lvs_xmit(ctx, pkt, &fib);

undo_id:
	bpf_map_push_elem(&LVS_CONN_IDS, &id, 0);
	bpf_ringbuf_discard(ev, 0);
	lvs_stat_inc(LVS_ST_NEW_INSERT_FAIL);
	return -1;
}

/* No flow: a new connection for a virtual service is created here (fast-eligible
 * services) or goes to the slow path. */
static __always_inline int lvs_miss(struct xdp_md *ctx, const struct lvs_pkt *pkt)
{
	struct lvs_svc_value *sv;
	int rc;
	struct lvs_svc_key sk = {
		.af = pkt->key.af,
		.proto = pkt->key.proto,
		.port = pkt->key.dport,
	};
	__u32 zero = 0;
	struct lvs_config *cfg;

	__builtin_memcpy(sk.addr, pkt->key.daddr, sizeof(sk.addr));
	sv = bpf_map_lookup_elem(&LVS_SERVICES, &sk);
	if (!sv) {
		sk.port = 0; /* a port-0 service covers every port of its address */
		if (!bpf_map_lookup_elem(&LVS_SERVICES, &sk))
			return lvs_pass(LVS_ST_PASS_NOT_OURS);
	}
	/* not addressed to this director: no connection for it */
	if (lvs_other_host(ctx, pkt->ifindex))
		return lvs_pass(LVS_ST_PASS_OTHER_HOST);
	if (sv) {
		rc = lvs_new_fast(ctx, pkt, sv->svc_id);
		if (rc >= 0)
			return rc;
	}
	if (pkt->key.proto == IPPROTO_TCP) {
		/* IPVS schedules only on SYN without RST (sloppy_tcp: any non-RST); other
		 * segments with no connection go to the local stack untouched */
		if (pkt->tcp_flags & LVS_TCP_RST)
			return lvs_pass(LVS_ST_PASS_NON_SYN);
		if (!(pkt->tcp_flags & LVS_TCP_SYN)) {
			cfg = bpf_map_lookup_elem(&LVS_CONFIG, &zero);
			if (!cfg || !(cfg->flags & LVS_CFG_SLOPPY_TCP))
				return lvs_pass(LVS_ST_PASS_NON_SYN);
		}
	}
	return lvs_punt(pkt, LVS_ST_PUNT_NEW);
}

/* ICMP error whose quoted packet belongs to a flow: the slow path rewrites it (§4.5). */
static __always_inline int lvs_icmp_error(const struct lvs_pkt *pkt)
{
	if (bpf_map_lookup_elem(&LVS_FLOWS, &pkt->key))
		return lvs_punt(pkt, LVS_ST_PUNT_ICMP);
	return lvs_pass(LVS_ST_PASS_NOT_OURS);
}

/* IP fragment (no ports to match): punt if its destination is a virtual address (the
 * proto 0 / port 0 marker in LVS_SERVICES), else pass. */
static __always_inline int lvs_fragment(const struct lvs_pkt *pkt)
{
	struct lvs_svc_key sk = { .af = pkt->key.af };

	__builtin_memcpy(sk.addr, pkt->key.daddr, sizeof(sk.addr));
	if (bpf_map_lookup_elem(&LVS_SERVICES, &sk))
		return lvs_punt(pkt, LVS_ST_PUNT_FRAG);
	return lvs_pass(LVS_ST_PASS_NOT_OURS);
}

SEC("xdp")
int lvs_xdp(struct xdp_md *ctx)
{
	struct lvs_pkt pkt = {};
	struct lvs_flow_value *fv;

	pkt.ifindex = ctx->ingress_ifindex;
	pkt.rxq = ctx->rx_queue_index;
	lvs_stat_inc(LVS_ST_RX);
	switch (lvs_parse(ctx, &pkt)) {
	case LVS_P_FLOW:
		fv = bpf_map_lookup_elem(&LVS_FLOWS, &pkt.key);
		return fv ? lvs_hit(ctx, &pkt, fv) : lvs_miss(ctx, &pkt);
	case LVS_P_ICMP_ERR:
		return lvs_icmp_error(&pkt);
	case LVS_P_FRAG:
		return lvs_fragment(&pkt);
	case LVS_P_ERROR:
		return lvs_pass(LVS_ST_PARSE_ERROR);
	case LVS_P_UNSUPPORTED:
		return lvs_pass(LVS_ST_PASS_UNSUPPORTED);
	default:
		return lvs_pass(LVS_ST_PASS_NOT_OURS);
	}
}

/* ---- lvs_tc: forwarding of flow hits at TC ingress (interfaces in generic XDP mode) ---- */

/* Headers lvs_tc needs in the skb's linear part: Ethernet + IPv4 with options + TCP with
 * options (the SACK option for LVS_FF_SEQ). */
#define LVS_TC_HDR_LEN (LVS_L3_OFF + 60 + 60)

/* TC_ACT_OK, counted TC_PASS: not a flow hit, the stack (or nobody) wants it as it is. */
static __always_inline int lvs_tc_pass(void)
{
	lvs_stat_inc(LVS_ST_TC_PASS);
	return TC_ACT_OK;
}

/* A hit lvs_tc can neither forward nor punt: dropped (never TC_ACT_OK: the director's
 * stack would answer a packet to a VIP with a RST). */
static __always_inline int lvs_tc_drop(void)
{
	lvs_stat_inc(LVS_ST_TC_DROP);
	return TC_ACT_SHOT;
}

/* The tot_len of lvs_tc's FIB lookup: the IP length the route MTU is checked against.
 *
 * A single packet: its IP length as it will leave (+ the tunnel header for TUN), as
 * lvs_xdp checked it a moment ago.
 *
 * A GSO aggregate (gso_size != 0) is segmented on the way out, so what must fit is one
 * segment. Tunnels: the length of one encapsulated segment. For TCP lvs_skb_encap lowers
 * gso_size by the tunnel header, so that is the client's own segment length: headers +
 * gso_size; a UDP GSO datagram (or a TCP segment no longer than the tunnel header) keeps
 * its size: headers + gso_size + tunnel header (lvs_tun_keeps_gso). Other
 * methods: 0, which makes the skb variant of bpf_fib_lookup check the skb against the
 * egress device with is_skb_forwardable(), where GSO passes (the rewrite keeps every
 * segment's length, and IPVS does not check GSO skbs over IPv4 either:
 * ensure_mtu_is_adequate). */
static __always_inline __u32 lvs_tc_tot_len(const struct lvs_pkt *pkt,
					    const struct lvs_flow_value *fv, __u32 gso_size)
{
	__u8 a = fv->action;
	__u32 olen = lvs_encap_len(fv);
	__u32 seg;

	if (a != LVS_A_TUN_IPIP && a != LVS_A_TUN_GUE)
		return gso_size ? 0 : pkt->ip_len;
	if (!gso_size)
		return pkt->ip_len + olen;
	seg = pkt->l4_off - LVS_L3_OFF + gso_size +
		(pkt->key.proto == IPPROTO_TCP ? pkt->tcp_hlen : sizeof(struct udphdr));
	return lvs_tun_keeps_gso(pkt, gso_size, olen) ? seg + olen : seg;
}

/* TTL - 1 and the method's rewrite (the twin of lvs_apply). */
static __always_inline int lvs_tc_apply(struct __sk_buff *skb, struct lvs_pkt *pkt,
					const struct lvs_flow_value *fv)
{
	__u8 a = fv->action;

	if (lvs_skb_dec_ttl(skb, pkt))
		return -1;
	switch (a) {
	case LVS_A_NAT_IN:
		return lvs_skb_rewrite_tuple(skb, pkt, fv, 0, 1);
	case LVS_A_NAT_OUT:
		return lvs_skb_rewrite_tuple(skb, pkt, fv, 1, 0);
	case LVS_A_FNAT_IN:
	case LVS_A_FNAT_OUT:
		if (lvs_skb_rewrite_tuple(skb, pkt, fv, 1, 1))
			return -1;
		return lvs_skb_seq_xlate(skb, pkt, fv); /* Proxy Protocol: LVS_FF_SEQ */
	case LVS_A_TUN_IPIP:
	case LVS_A_TUN_GUE:
		return lvs_skb_encap(skb, pkt, fv);
	default: /* LVS_A_DR */
		return 0;
	}
}

/* A packet of a known connection that lvs_xdp passed (LVS_ST_PASS_TO_TC). The same checks
 * as lvs_hit, in the same order; they fail only if the flow or the route changed since
 * lvs_xdp made them (the packet then cannot reach the slow path: dropped). A next hop
 * without a neighbour entry is no failure: bpf_redirect_neigh has the kernel resolve it. */
static __always_inline int lvs_tc_hit(struct __sk_buff *skb, struct lvs_pkt *pkt,
				      const struct lvs_flow_value *fv, __u32 gso_size)
{
	struct bpf_fib_lookup fib = {};
	__u8 a = fv->action;
	int rc;

	if (a == LVS_A_DROP) {
		lvs_stat_inc(LVS_ST_DROP_ACTION);
		return TC_ACT_SHOT;
	}
	if (a == LVS_A_PUNT || a >= LVS_A_MAX ||
	    (a == LVS_A_TUN_GUE && fv->out_af == LVS_AF_INET6))
		return lvs_tc_drop();
	if (pkt->ttl <= 1 || lvs_conn_reuse(pkt, fv) || lvs_pp_punt(pkt, fv))
		return lvs_tc_drop();

	rc = lvs_fib_lookup(skb, pkt, fv, &fib, lvs_tc_tot_len(pkt, fv, gso_size));
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED && gso_size) {
		/* segments too big for the route: no AF_XDP frame holds the aggregate, so the
		 * slow path cannot answer it; TCP retransmits a single segment, which lvs_xdp
		 * punts (frag-needed) */
		lvs_stat_inc(LVS_ST_TC_TOO_BIG);
		return TC_ACT_SHOT;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return lvs_tc_drop();

	lvs_account(pkt, fv);
	if (lvs_tc_apply(skb, pkt, fv)) {
		lvs_stat_inc(LVS_ST_ENCAP_ERROR);
		return TC_ACT_SHOT;
	}
	return lvs_skb_xmit(skb, pkt, &fib, rc == BPF_FIB_LKUP_RET_NO_NEIGH);
}

/* aya 0.14 knows SchedClassifier programs by the legacy section name "classifier" (libbpf
 * treats it as "tc"). Attached to clsact/tcx ingress next to lvs_xdp in generic mode. */
SEC("classifier")
int lvs_tc(struct __sk_buff *skb)
{
	struct lvs_pkt pkt = {};
	struct lvs_flow_value *fv;
	__u32 len = skb->len;
	__u32 hdr = len < LVS_TC_HDR_LEN ? len : LVS_TC_HDR_LEN;
	__u32 gso_size = skb->gso_size;
	void *data, *data_end;

	pkt.ifindex = skb->ifindex;
	lvs_stat_inc(LVS_ST_TC_RX);
	/* A frame for another host's MAC (a bridge flooding to a MAC it has forgotten, a
	 * promiscuous interface): not ours to forward, as for the kernel (ip_rcv drops
	 * PACKET_OTHERHOST). Without this a backup director would serve a dead master's MAC. */
	if (skb->pkt_type == PACKET_OTHERHOST)
		return lvs_tc_pass();
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	/* generic XDP left the skb linear; anything else may have its headers in fragments */
	if (data + hdr > data_end) {
		if (bpf_skb_pull_data(skb, hdr))
			return lvs_tc_pass();
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	if (lvs_parse_frame(data, data_end, len, &pkt) != LVS_P_FLOW)
		return lvs_tc_pass();
	fv = bpf_map_lookup_elem(&LVS_FLOWS, &pkt.key);
	if (!fv)
		return lvs_tc_pass();
	lvs_tc_find_sack(skb, &pkt, fv);
	return lvs_tc_hit(skb, &pkt, fv, gso_size);
}
