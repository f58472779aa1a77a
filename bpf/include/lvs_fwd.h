/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_fwd.h: where a packet goes next: the FIB lookup for a flow hit (shared by lvs_xdp
 * and lvs_tc), the XDP transmit (XDP_TX / bpf_redirect), the punt to the AF_XDP slow path,
 * and XDP_PASS with a reason.
 */
#ifndef LVS_FWD_H
#define LVS_FWD_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include "lvs_types.h"
#include "lvs_maps.h"
#include "lvs_parse.h"
#include "lvs_rewrite.h"

/* XDP_PASS, counted under `reason`. */
static __always_inline int lvs_pass(__u32 reason)
{
	lvs_stat_inc(reason);
	return XDP_PASS;
}

/* Hand the (untouched) frame to the slow path: the AF_XDP socket of this interface slot
 * and rx queue. No socket bound (or interface without a slot) -> XDP_DROP, never
 * XDP_PASS: the director's own stack would answer a SYN to a VIP with a RST. */
static __always_inline int lvs_punt(const struct lvs_pkt *pkt, __u32 reason)
{
	__u32 ifindex = pkt->ifindex;
	__u32 *slot = bpf_map_lookup_elem(&LVS_IFSLOTS, &ifindex);
	__u32 key;
	long rc;

	lvs_stat_inc(reason);
	if (!slot || *slot >= LVS_MAX_IFSLOTS || pkt->rxq >= LVS_XSK_QUEUES_PER_IF) {
		lvs_stat_inc(LVS_ST_DROP_NO_XSK);
		return XDP_DROP;
	}
	key = *slot * LVS_XSK_QUEUES_PER_IF + pkt->rxq;
	/* the low bits of flags are the verdict when the slot holds no socket */
	rc = bpf_redirect_map(&LVS_XSKS, key, XDP_DROP);
	lvs_stat_inc(rc == XDP_REDIRECT ? LVS_ST_XSK_REDIRECT : LVS_ST_DROP_NO_XSK);
	return rc;
}

/* Route the packet as it will leave: for NAT/FULLNAT/DR towards its new destination
 * (DR: the real server new_daddr, the L3 destination stays the VIP), for TUN towards the
 * outer destination. tot_len is the IP length the kernel checks against the route MTU
 * (BPF_FIB_LKUP_RET_FRAG_NEEDED), 0 for no such check (see lvs_xdp_tot_len and lvs_tc's
 * lvs_tc_tot_len). ctx is the program's context (struct xdp_md or struct __sk_buff: the
 * helper has one variant per program type). Returns the BPF_FIB_LKUP_RET_* code (or a
 * negative error). */
static __always_inline int lvs_fib_lookup(void *ctx, const struct lvs_pkt *pkt,
					  const struct lvs_flow_value *fv,
					  struct bpf_fib_lookup *fib, __u32 tot_len)
{
	__u8 a = fv->action;
	int tun = a == LVS_A_TUN_IPIP || a == LVS_A_TUN_GUE;
	int new_src = a == LVS_A_NAT_OUT || a == LVS_A_FNAT_IN || a == LVS_A_FNAT_OUT || tun;
	int new_dst = a != LVS_A_NAT_OUT;
	__u8 af = tun ? fv->out_af : pkt->key.af;
	const __u8 *src = new_src ? fv->new_saddr : pkt->key.saddr;
	const __u8 *dst = new_dst ? fv->new_daddr : pkt->key.daddr;

	fib->ifindex = pkt->ifindex;
	fib->tot_len = tot_len;
	if (tun) {
		fib->l4_protocol = a == LVS_A_TUN_GUE ? IPPROTO_UDP :
			(pkt->key.af == LVS_AF_INET6 ? LVS_IPPROTO_IPV6 : LVS_IPPROTO_IPIP);
	} else {
		fib->l4_protocol = pkt->key.proto;
		fib->sport = (a == LVS_A_NAT_OUT || a == LVS_A_FNAT_IN || a == LVS_A_FNAT_OUT) ?
			fv->new_sport : pkt->key.sport;
		fib->dport = (a == LVS_A_NAT_IN || a == LVS_A_FNAT_IN || a == LVS_A_FNAT_OUT) ?
			fv->new_dport : pkt->key.dport;
	}
	if (af == LVS_AF_INET6) {
		fib->family = LVS_AF_INET6;
		__builtin_memcpy(fib->ipv6_src, src, 16);
		__builtin_memcpy(fib->ipv6_dst, dst, 16);
	} else {
		fib->family = LVS_AF_INET;
		fib->tos = pkt->dsfield;
		__builtin_memcpy(&fib->ipv4_src, src, 4);
		__builtin_memcpy(&fib->ipv4_dst, dst, 4);
	}
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/* The tot_len of lvs_xdp's FIB lookup: the IP length as the packet will leave (inner
 * length + tunnel header), so that a packet larger than the route MTU is punted (the slow
 * path owns ICMP frag-needed and fragmentation), as the kernel's forwarding checks it.
 *
 * Except for a frame larger than the ingress device's MTU: no single packet can arrive
 * like that, it is a GRO/GSO aggregate, which only generic (SKB) XDP sees. The transmit
 * path segments it again, so its total length says nothing about the segments: no MTU
 * check here (0). On an interface where lvs_tc forwards, lvs_tc does the per-segment
 * decision with the skb's gso_size; without lvs_tc (generic XDP only), bpf_redirect's own
 * MTU check then drops it, which is why generic mode comes with lvs_tc. */
static __always_inline __u32 lvs_xdp_tot_len(struct xdp_md *ctx, const struct lvs_pkt *pkt,
					     const struct lvs_flow_value *fv)
{
	__u8 a = fv->action;
	__u32 mtu_len = pkt->ip_len;

	/* ifindex 0: the ingress device; mtu_len in: L3 length to check */
	if (bpf_check_mtu(ctx, 0, &mtu_len, 0, 0) != BPF_MTU_CHK_RET_SUCCESS)
		return 0;
	if (a == LVS_A_TUN_IPIP || a == LVS_A_TUN_GUE)
		return pkt->ip_len + lvs_encap_len(fv);
	return pkt->ip_len;
}

/* Set the Ethernet addresses from the FIB result and send: XDP_TX when the egress
 * interface is the ingress one, else bpf_redirect to it. */
static __always_inline int lvs_xmit(struct xdp_md *ctx, const struct lvs_pkt *pkt,
				    const struct bpf_fib_lookup *fib)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = lvs_ptr(data, data_end, 0, sizeof(*eth));

	if (!eth) {
		lvs_stat_inc(LVS_ST_ENCAP_ERROR);
		return XDP_DROP;
	}
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	if (fib->ifindex == pkt->ifindex) {
		lvs_stat_inc(LVS_ST_FWD_TX);
		return XDP_TX;
	}
	lvs_stat_inc(LVS_ST_FWD_REDIRECT);
	return bpf_redirect(fib->ifindex, 0);
}

#endif /* LVS_FWD_H */
