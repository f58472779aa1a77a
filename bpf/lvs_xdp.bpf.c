// SPDX-License-Identifier: GPL-2.0-only
/*
 * lvs_xdp: the lvs-rs director's fast path.
 *
 *   not IP / not TCP-UDP / not for a service ........................ XDP_PASS
 *   flow hit (LVS_FLOWS) ... account, TCP state, TTL-1, rewrite ...... XDP_TX / bpf_redirect
 *                         ... DROP action ............................ XDP_DROP
 *                         ... PUNT action, TTL <= 1, FIB failure ..... punt (frame untouched)
 *   miss, service, new connection (TCP SYN, UDP) ................... punt
 *   miss, service, TCP without SYN (or with RST) ..................... XDP_PASS (as IPVS)
 *   ICMP error quoting a flow (inverted) ............................. punt
 *   IP fragment to a virtual address ................................. punt
 * "punt" = bpf_redirect_map(LVS_XSKS) to lvsd's AF_XDP socket, XDP_DROP if none.
 *
 * A frame is either handled entirely here (accounted, state-tracked, rewritten, sent) or
 * punted untouched, so the slow path never sees a half-processed packet and nothing is
 * counted twice: the FIB lookup (which may fail) runs before anything is written.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lvs_types.h"
#include "lvs_maps.h"
#include "lvs_csum.h"
#include "lvs_parse.h"
#include "lvs_tcp_state.h"
#include "lvs_rewrite.h"
#include "lvs_fwd.h"

char LICENSE[] SEC("license") = "GPL";

/* Emit LVS_EV_STATE for a state change made here. */
static __always_inline void lvs_emit_state(const struct lvs_pkt *pkt, __u32 conn_id,
					   __u8 old, __u8 new, __u8 dir)
{
	struct lvs_event *ev = bpf_ringbuf_reserve(&LVS_EVENTS, sizeof(*ev), 0);

	if (!ev) {
		lvs_stat_inc(LVS_ST_EVENT_LOST);
		return;
	}
	ev->kind = LVS_EV_STATE;
	ev->conn_id = conn_id;
	ev->old_state = old;
	ev->new_state = new;
	ev->tcp_flags = pkt->tcp_flags;
	ev->dir = dir;
	ev->pad = 0;
	__builtin_memcpy(&ev->key, &pkt->key, sizeof(ev->key));
	bpf_ringbuf_submit(ev, 0);
}

/* Counters of the connection and its real server, last seen time, TCP state. */
static __always_inline void lvs_account(const struct lvs_pkt *pkt,
					const struct lvs_flow_value *fv)
{
	__u32 conn_id = fv->conn_id;
	__u32 slot = fv->dest_slot;
	__u8 dir = fv->dir;
	__u64 bytes = pkt->ip_len;
	struct lvs_conn_state *cs = bpf_map_lookup_elem(&LVS_CONNS, &conn_id);
	struct lvs_dest_stats *ds = bpf_map_lookup_elem(&LVS_DEST_STATS, &slot);

	if (cs) {
		/* shared by all CPUs: atomic adds; last_seen and state are plain stores (a
		 * concurrent packet of the same conn may win, which is harmless) */
		if (dir == LVS_DIR_OUTPUT) {
			__sync_fetch_and_add(&cs->pkts_out, 1);
			__sync_fetch_and_add(&cs->bytes_out, bytes);
		} else {
			__sync_fetch_and_add(&cs->pkts_in, 1);
			__sync_fetch_and_add(&cs->bytes_in, bytes);
		}
		cs->last_seen_ns = bpf_ktime_get_ns();
		if (pkt->key.proto == IPPROTO_TCP) {
			__u8 old = cs->state;
			__u8 new = lvs_tcp_next_state(old, dir, pkt->tcp_flags);

			if (new != old) {
				cs->state = new;
				lvs_emit_state(pkt, conn_id, old, new, dir);
			}
		}
	}
	if (ds) {
		/* per-CPU: plain adds */
		if (dir == LVS_DIR_OUTPUT) {
			ds->pkts_out += 1;
			ds->bytes_out += bytes;
		} else {
			ds->pkts_in += 1;
			ds->bytes_in += bytes;
		}
	}
}

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
		return lvs_rewrite_tuple(ctx, pkt, fv, 1, 1);
	case LVS_A_TUN_IPIP:
	case LVS_A_TUN_GUE:
		return lvs_encap(ctx, pkt, fv);
	default: /* LVS_A_DR */
		return 0;
	}
}

/* A packet of a known connection. */
static __always_inline int lvs_hit(struct xdp_md *ctx, const struct lvs_pkt *pkt,
				   const struct lvs_flow_value *fv)
{
	struct bpf_fib_lookup fib = {};
	__u8 a = fv->action;
	int rc;

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

	rc = lvs_fib_lookup(ctx, pkt, fv, &fib);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return lvs_punt(pkt, LVS_ST_PUNT_FRAG_NEEDED);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) /* no neighbour, local, unreachable, ... */
		return lvs_punt(pkt, LVS_ST_PUNT_FIB);

	lvs_account(pkt, fv);
	if (lvs_apply(ctx, pkt, fv)) {
		lvs_stat_inc(LVS_ST_ENCAP_ERROR);
		return XDP_DROP;
	}
	return lvs_xmit(ctx, pkt, &fib);
}

/* No flow: a new connection for a virtual service goes to the slow path. */
static __always_inline int lvs_miss(const struct lvs_pkt *pkt)
{
	struct lvs_svc_key sk = {
		.af = pkt->key.af,
		.proto = pkt->key.proto,
		.port = pkt->key.dport,
	};
	__u32 zero = 0;
	struct lvs_config *cfg;

	__builtin_memcpy(sk.addr, pkt->key.daddr, sizeof(sk.addr));
	if (!bpf_map_lookup_elem(&LVS_SERVICES, &sk)) {
		sk.port = 0; /* a port-0 service covers every port of its address */
		if (!bpf_map_lookup_elem(&LVS_SERVICES, &sk))
			return lvs_pass(LVS_ST_PASS_NOT_OURS);
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
		return fv ? lvs_hit(ctx, &pkt, fv) : lvs_miss(&pkt);
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
