/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_skb.h: the rewrites and the transmit of lvs_tc (TC ingress, struct __sk_buff), twins
 * of lvs_rewrite.h / lvs_fwd.h that produce the same bytes as lvs-wire:
 *   lvs_skb_dec_ttl       <-> lvs_wire::decrement_ttl
 *   lvs_skb_rewrite_tuple <-> lvs_wire::rewrite_tuple
 *   lvs_skb_encap         <-> lvs_wire::encap_ipip / encap_gue (IPv4 outer)
 *   lvs_skb_xmit          <-> lvs_wire::set_macs, then bpf_redirect
 *
 * Why the skb helpers instead of writing the bytes as XDP does: an skb carries checksum
 * state the bytes do not show.
 *  - CHECKSUM_PARTIAL (every packet of a checksum-offloading sender, e.g. over a veth):
 *    the TCP/UDP checksum field holds the pseudo-header seed, not a checksum. The RFC 1624
 *    update is the wrong formula for a seed (ports are not in it, and it is not
 *    complemented); bpf_l4_csum_replace knows skb->ip_summed and updates a seed for the
 *    pseudo-header words only (BPF_F_PSEUDO_HDR) and leaves it for the port words.
 *  - CHECKSUM_COMPLETE (NICs): skb->csum covers the packet from the IP header on and has
 *    to follow every byte written. The rules kept below: IPv4 header words are paired with
 *    their header-checksum update (the sum is unchanged), so they are stored with flags 0;
 *    bpf_l4_csum_replace(BPF_F_PSEUDO_HDR) accounts for the L4 checksum field's change;
 *    IPv6 header bytes (addresses, hop limit, an outer IPv6 header) have no checksum of
 *    their own, so they are stored with BPF_F_RECOMPUTE_CSUM (this works on every kernel,
 *    unlike the newer BPF_F_IPV6 flag); the Ethernet header is not covered.
 *  - CHECKSUM_NONE / UNNECESSARY (BPF_PROG_TEST_RUN, forwarded packets): plain RFC 1624
 *    updates, the same bytes as lvs-wire.
 * For UDP every call carries BPF_F_MARK_MANGLED_0: a checksum of 0 ("none") stays 0 and a
 * computed 0 is written 0xffff, also between the calls of one rewrite.
 *
 * GSO aggregates (up to 64 KB, from TSO senders or GRO) are fine here: the rewrites change
 * only headers, which segmentation copies into every segment.
 */
#ifndef LVS_SKB_H
#define LVS_SKB_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lvs_types.h"
#include "lvs_csum.h"
#include "lvs_parse.h"
#include "lvs_rewrite.h"

/* Field offsets from the start of the frame. */
#define LVS_IP4_TTL_OFF (LVS_L3_OFF + 8)
#define LVS_IP4_CSUM_OFF (LVS_L3_OFF + 10)
#define LVS_IP4_SADDR_OFF (LVS_L3_OFF + 12)
#define LVS_IP4_DADDR_OFF (LVS_L3_OFF + 16)
#define LVS_IP6_HOPLIMIT_OFF (LVS_L3_OFF + 7)
#define LVS_IP6_SADDR_OFF (LVS_L3_OFF + 8)
#define LVS_IP6_DADDR_OFF (LVS_L3_OFF + 24)
#define LVS_ETH_PROTO_OFF 12

/* TTL / hop limit - 1 (the caller checked TTL > 1). */
static __always_inline int lvs_skb_dec_ttl(struct __sk_buff *skb, const struct lvs_pkt *pkt)
{
	__u8 ttl = pkt->ttl - 1;

	if (pkt->key.af == LVS_AF_INET) {
		/* the TTL / protocol word, as the kernel's ip_decrease_ttl */
		__be16 from = bpf_htons((__u16)pkt->ttl << 8 | pkt->key.proto);
		__be16 to = bpf_htons((__u16)ttl << 8 | pkt->key.proto);

		if (bpf_l3_csum_replace(skb, LVS_IP4_CSUM_OFF, from, to, sizeof(to)))
			return -1;
		return bpf_skb_store_bytes(skb, LVS_IP4_TTL_OFF, &ttl, 1, 0) ? -1 : 0;
	}
	return bpf_skb_store_bytes(skb, LVS_IP6_HOPLIMIT_OFF, &ttl, 1,
				   BPF_F_RECOMPUTE_CSUM) ? -1 : 0;
}

/* Replace an address at off (4 or 16 bytes; old is the packet's, from the parsed key) and
 * update the checksums: IPv4 header checksum + L4 pseudo-header for IPv4, L4 pseudo-header
 * only for IPv6. */
static __always_inline int lvs_skb_set_addr(struct __sk_buff *skb, __u32 off, __u8 *old,
					    const __u8 *new, int v6, __u32 csum_off,
					    __u64 l4flags)
{
	if (v6) {
		__s64 diff = bpf_csum_diff((__be32 *)old, 16, (__be32 *)new, 16, 0);

		if (diff < 0)
			return -1;
		if (bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR | l4flags))
			return -1;
		return bpf_skb_store_bytes(skb, off, new, 16, BPF_F_RECOMPUTE_CSUM) ? -1 : 0;
	}
	__be32 from, to;

	__builtin_memcpy(&from, old, 4);
	__builtin_memcpy(&to, new, 4);
	if (bpf_l4_csum_replace(skb, csum_off, from, to, BPF_F_PSEUDO_HDR | sizeof(to) | l4flags))
		return -1;
	if (bpf_l3_csum_replace(skb, LVS_IP4_CSUM_OFF, from, to, sizeof(to)))
		return -1;
	return bpf_skb_store_bytes(skb, off, &to, 4, 0) ? -1 : 0;
}

/* Replace a port at off, updating the L4 checksum (not a pseudo-header word: nothing to do
 * for a CHECKSUM_PARTIAL seed, the helper knows). */
static __always_inline int lvs_skb_set_port(struct __sk_buff *skb, __u32 off, __be16 from,
					    __be16 to, __u32 csum_off, __u64 l4flags)
{
	if (bpf_l4_csum_replace(skb, csum_off, from, to, sizeof(to) | l4flags))
		return -1;
	return bpf_skb_store_bytes(skb, off, &to, sizeof(to), 0) ? -1 : 0;
}

/* NAT / FULLNAT: source (set_src) and/or destination (set_dst) address and port from the
 * flow value. pkt is a copy of the parse result: its key holds the current tuple. */
static __always_inline int lvs_skb_rewrite_tuple(struct __sk_buff *skb, struct lvs_pkt *pkt,
						 const struct lvs_flow_value *fv, int set_src,
						 int set_dst)
{
	int v6 = pkt->key.af == LVS_AF_INET6;
	int udp = pkt->key.proto == IPPROTO_UDP;
	__u32 csum_off = pkt->l4_off + (udp ? 6 : 16);
	__u64 l4flags = udp ? BPF_F_MARK_MANGLED_0 : 0;

	/* l4_off <= 14 + 60 (IPv4 options) or 14 + 40: bounded, and even (helper rule) */
	if (pkt->l4_off > LVS_L3_OFF + 60)
		return -1;
	if (set_src) {
		if (lvs_skb_set_addr(skb, v6 ? LVS_IP6_SADDR_OFF : LVS_IP4_SADDR_OFF,
				     pkt->key.saddr, fv->new_saddr, v6, csum_off, l4flags))
			return -1;
		if (lvs_skb_set_port(skb, pkt->l4_off, pkt->key.sport, fv->new_sport, csum_off,
				     l4flags))
			return -1;
	}
	if (set_dst) {
		if (lvs_skb_set_addr(skb, v6 ? LVS_IP6_DADDR_OFF : LVS_IP4_DADDR_OFF,
				     pkt->key.daddr, fv->new_daddr, v6, csum_off, l4flags))
			return -1;
		if (lvs_skb_set_port(skb, pkt->l4_off + 2, pkt->key.dport, fv->new_dport, csum_off,
				     l4flags))
			return -1;
	}
	return 0;
}

/* LVS-TUN: room for the outer header(s) between Ethernet and the inner packet with
 * bpf_skb_adjust_room(BPF_ADJ_ROOM_MAC), which also sets the skb's encapsulation metadata
 * (inner headers, GSO type IPXIP4/IPXIP6 or UDP_TUNNEL) so that an aggregate is segmented
 * correctly later; then the same header bytes as lvs_encap (see lvs_rewrite.h).
 *
 * GSO: for TCP the helper lowers gso_size by the header length (no
 * BPF_F_ADJ_ROOM_FIXED_GSO, see lvs_tun_keeps_gso), so every encapsulated segment is
 * exactly as long as the client's segment was: what fitted the way in fits the way out. (IPVS keeps the segment
 * size and relies on the frag-needed round trip of its own tunnel packets instead.) UDP
 * GSO datagrams cannot be resized: FIXED_GSO, as the helper requires. lvs_tc has checked
 * one such segment against the route MTU before (lvs_tc_tot_len, LVS_ST_TC_TOO_BIG). */
/* Does the tunnel keep an aggregate's gso_size (BPF_F_ADJ_ROOM_FIXED_GSO: every segment
 * grows by the tunnel header) rather than lower it by the header (segments as long as the
 * client's)? UDP GSO: always kept (datagrams cannot be resized); TCP: lowered, unless the
 * segments are no longer than the header itself (nothing would be left of them). */
static __always_inline int lvs_tun_keeps_gso(const struct lvs_pkt *pkt, __u32 gso_size,
					     __u32 olen)
{
	return pkt->key.proto != IPPROTO_TCP || gso_size <= olen;
}

static __always_inline int lvs_skb_encap(struct __sk_buff *skb, const struct lvs_pkt *pkt,
					 const struct lvs_flow_value *fv)
{
	__u32 inner_len = pkt->ip_len;
	__u32 olen = lvs_encap_len(fv);
	__u8 inner_proto = pkt->key.af == LVS_AF_INET6 ? LVS_IPPROTO_IPV6 : LVS_IPPROTO_IPIP;
	__u8 tos = lvs_ecn_encapsulate(pkt->dsfield);
	__u8 ttl = pkt->ttl - 1;
	int gue = fv->action == LVS_A_TUN_GUE;
	__u64 flags = fv->out_af == LVS_AF_INET6 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 :
		BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;
	__be16 proto;

	if (gue)
		flags |= BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2(LVS_GUE_HLEN);
	if (lvs_tun_keeps_gso(pkt, skb->gso_size, olen))
		flags |= BPF_F_ADJ_ROOM_FIXED_GSO;

	/* Ethernet padding after the inner packet goes (only short frames have any) */
	if (skb->len > LVS_L3_OFF + inner_len) {
		if (bpf_skb_change_tail(skb, LVS_L3_OFF + inner_len, 0))
			return -1;
	}
	if (bpf_skb_adjust_room(skb, olen, BPF_ADJ_ROOM_MAC, flags))
		return -1;

	if (fv->out_af == LVS_AF_INET6) {
		struct ipv6hdr o6 = {};

		proto = bpf_htons(ETH_P_IPV6);
		o6.version = 6;
		o6.priority = tos >> 4;
		o6.flow_lbl[0] = (tos & 0x0f) << 4;
		o6.payload_len = bpf_htons(inner_len);
		o6.nexthdr = inner_proto;
		o6.hop_limit = ttl;
		__builtin_memcpy(&o6.saddr, fv->new_saddr, 16);
		__builtin_memcpy(&o6.daddr, fv->new_daddr, 16);
		if (bpf_skb_store_bytes(skb, LVS_L3_OFF, &o6, sizeof(o6), BPF_F_RECOMPUTE_CSUM))
			return -1;
		return bpf_skb_store_bytes(skb, LVS_ETH_PROTO_OFF, &proto, 2, 0) ? -1 : 0;
	}

	struct iphdr h = {};
	__u16 *w = (__u16 *)&h;
	__u32 sum = 0;

	proto = bpf_htons(ETH_P_IP);
	h.version = 4;
	h.ihl = 5;
	h.tos = tos;
	h.tot_len = bpf_htons(olen + inner_len);
	h.frag_off = (pkt->df || pkt->key.af == LVS_AF_INET6) ? bpf_htons(IP_DF) : 0;
	h.ttl = ttl;
	h.protocol = gue ? IPPROTO_UDP : inner_proto;
	__builtin_memcpy(&h.saddr, fv->new_saddr, 4);
	__builtin_memcpy(&h.daddr, fv->new_daddr, 4);
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += bpf_ntohs(w[i]);
	h.check = bpf_htons((__u16)~lvs_csum_fold(sum));
	/* a valid IPv4 header sums to 0: RECOMPUTE_CSUM changes nothing but costs nothing */
	if (bpf_skb_store_bytes(skb, LVS_L3_OFF, &h, sizeof(h), BPF_F_RECOMPUTE_CSUM))
		return -1;
	if (gue) {
		__u8 u[sizeof(struct udphdr) + LVS_GUE_HLEN] = {};

		*(__be16 *)(u + 0) = fv->new_sport;
		*(__be16 *)(u + 2) = fv->tun_port;
		*(__be16 *)(u + 4) = bpf_htons(sizeof(struct udphdr) + LVS_GUE_HLEN + inner_len);
		u[9] = inner_proto;
		if (bpf_skb_store_bytes(skb, LVS_L3_OFF + sizeof(h), u, sizeof(u),
					BPF_F_RECOMPUTE_CSUM))
			return -1;
	}
	return bpf_skb_store_bytes(skb, LVS_ETH_PROTO_OFF, &proto, 2, 0) ? -1 : 0;
}

/* Send out of the FIB result's interface (its egress; the ingress interface itself is the
 * TC twin of XDP_TX). With a neighbour entry: MACs from the FIB result, bpf_redirect.
 * Without one (no_neigh): bpf_redirect_neigh to the FIB's next hop, the kernel resolves
 * the MAC address (queueing the packet meanwhile) and fills the Ethernet header. */
static __always_inline int lvs_skb_xmit(struct __sk_buff *skb, const struct lvs_pkt *pkt,
					const struct bpf_fib_lookup *fib, int no_neigh)
{
	if (no_neigh) {
		struct bpf_redir_neigh nh = { .nh_family = fib->family };

		/* the lookup left the next hop (gateway or destination) in *_dst, and set
		 * family to AF_INET6 for an IPv4 route via an IPv6 gateway */
		if (fib->family == LVS_AF_INET6)
			__builtin_memcpy(nh.ipv6_nh, fib->ipv6_dst, 16);
		else
			nh.ipv4_nh = fib->ipv4_dst;
		lvs_stat_inc(LVS_ST_TC_FWD_NEIGH);
		return bpf_redirect_neigh(fib->ifindex, &nh, sizeof(nh), 0);
	}
	if (bpf_skb_store_bytes(skb, 0, fib->dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fib->smac, ETH_ALEN, 0)) {
		lvs_stat_inc(LVS_ST_ENCAP_ERROR);
		return TC_ACT_SHOT;
	}
	lvs_stat_inc(fib->ifindex == pkt->ifindex ? LVS_ST_FWD_TX : LVS_ST_FWD_REDIRECT);
	return bpf_redirect(fib->ifindex, 0);
}

#endif /* LVS_SKB_H */
