// SPDX-License-Identifier: GPL-2.0-only
/*
 * lvs_rs_decap / lvs_rs_decap_tc: LVS-TUN decapsulation on a real server whose kernel has
 * no ipip module (`lvsadm realserver setup --method tun`).
 *
 * An IPv4 (protocol 4 / 41) or IPv6 (next header 4 / 41) packet whose outer destination
 * is one of this host's addresses (LVS_RS_LOCAL) and whose inner destination is a VIP
 * served here (LVS_RS_VIPS) loses its outer header: the Ethernet header is rewritten in
 * front of the inner packet (same MAC addresses, ethertype of the inner family), Ethernet
 * padding after the inner packet is trimmed, and the frame goes up the stack on the same
 * interface (XDP_PASS / TC_ACT_OK). The twin is lvs_wire::decap_ipip. Everything else
 * passes untouched. (The real server then needs rp_filter=0 and the VIP on lo.)
 *
 * Two programs with the same maps and the same test (lvs_rs_match): lvs_rs_decap for XDP
 * (native on NICs), lvs_rs_decap_tc for TC ingress (virtual interfaces: it also sees the
 * skbs generic XDP skips, see lvs_rs_decap_tc).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lvs_types.h"
#include "lvs_parse.h"
#include "lvs_rewrite.h"

char LICENSE[] SEC("license") = "GPL";

/* The VIPs this real server serves: Addr16 (network order) -> af (2 or 10). Written by
 * lvsadm realserver setup through the loader (RsDecap::add_vip). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LVS_RS_VIPS_MAX);
	__type(key, __u8[16]);
	__type(value, __u8);
} LVS_RS_VIPS SEC(".maps");

/* This host's own addresses that tunnels are sent to (the RIPs): Addr16 -> af. Written
 * through the loader (RsDecap::add_local). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LVS_RS_VIPS_MAX);
	__type(key, __u8[16]);
	__type(value, __u8);
} LVS_RS_LOCAL SEC(".maps");

/* Is addr (len 4 or 16 bytes at p) in map with value af? */
static __always_inline int lvs_addr_in(void *map, const void *p, int v6)
{
	__u8 key[16] = {};
	__u8 *af;

	if (v6)
		__builtin_memcpy(key, p, 16);
	else
		__builtin_memcpy(key, p, 4);
	af = bpf_map_lookup_elem(map, key);
	return af && *af == (v6 ? LVS_AF_INET6 : LVS_AF_INET);
}

/* The inner packet at off (protocol inner_proto) is for one of our VIPs: return its IP
 * length, else 0. */
static __always_inline __u32 lvs_inner_for_vip(void *data, void *data_end, __u32 off,
					       __u8 inner_proto)
{
	if (inner_proto == LVS_IPPROTO_IPIP) {
		struct iphdr *in = lvs_ptr(data, data_end, off, sizeof(*in));

		if (!in || in->version != 4 || in->ihl < 5)
			return 0;
		if (!lvs_addr_in(&LVS_RS_VIPS, &in->daddr, 0))
			return 0;
		return bpf_ntohs(in->tot_len);
	}
	if (inner_proto == LVS_IPPROTO_IPV6) {
		struct ipv6hdr *in6 = lvs_ptr(data, data_end, off, sizeof(*in6));

		if (!in6 || in6->version != 6)
			return 0;
		if (!lvs_addr_in(&LVS_RS_VIPS, &in6->daddr, 1))
			return 0;
		return LVS_IPV6_HLEN + bpf_ntohs(in6->payload_len);
	}
	return 0;
}

/* Does the frame at [data, data_end) (wire_len bytes in all) hold a tunnel packet to
 * decapsulate? Then *olen is the outer header's length, *inner_proto 4 or 41 and
 * *inner_len the inner packet's IP length, and the frame holds all of it. */
static __always_inline int lvs_rs_match(void *data, void *data_end, __u32 wire_len,
					__u32 *olen, __u8 *inner_proto, __u32 *inner_len)
{
	struct ethhdr *eth = lvs_ptr(data, data_end, 0, sizeof(*eth));

	if (!eth)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*ip));

		if (!ip || ip->version != 4 || ip->ihl < 5)
			return 0;
		if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
			return 0; /* the stack reassembles; we do not */
		*inner_proto = ip->protocol;
		if (*inner_proto != LVS_IPPROTO_IPIP && *inner_proto != LVS_IPPROTO_IPV6)
			return 0;
		if (!lvs_addr_in(&LVS_RS_LOCAL, &ip->daddr, 0))
			return 0;
		*olen = (__u32)(ip->ihl & 0xf) << 2;
		if (bpf_ntohs(ip->tot_len) < *olen)
			return 0;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*ip6));

		if (!ip6 || ip6->version != 6)
			return 0;
		*inner_proto = ip6->nexthdr;
		if (*inner_proto != LVS_IPPROTO_IPIP && *inner_proto != LVS_IPPROTO_IPV6)
			return 0;
		if (!lvs_addr_in(&LVS_RS_LOCAL, &ip6->daddr, 1))
			return 0;
		*olen = LVS_IPV6_HLEN;
	} else {
		return 0;
	}

	*inner_len = lvs_inner_for_vip(data, data_end, LVS_L3_OFF + *olen, *inner_proto);
	if (!*inner_len)
		return 0;
	/* inner length beyond the frame: malformed */
	return LVS_L3_OFF + *olen + *inner_len <= wire_len;
}

SEC("xdp")
int lvs_rs_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 frame_len = data_end - data;
	struct ethhdr *eth, *neth;
	__u32 olen = 0, inner_len = 0;
	__u8 inner_proto = 0;
	__u16 ethertype;

	if (!lvs_rs_match(data, data_end, frame_len, &olen, &inner_proto, &inner_len))
		return XDP_PASS;
	if (olen > 60)
		return XDP_PASS; /* bounded for the verifier (IPv4 options at most) */

	/* New Ethernet header right in front of the inner packet (olen >= 20 > 14, so the
	 * two headers do not overlap). */
	eth = lvs_ptr(data, data_end, 0, sizeof(*eth));
	neth = lvs_ptr(data, data_end, olen, sizeof(*neth));
	if (!eth || !neth)
		return XDP_PASS;
	ethertype = inner_proto == LVS_IPPROTO_IPV6 ? ETH_P_IPV6 : ETH_P_IP;
	__builtin_memcpy(neth->h_dest, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(neth->h_source, eth->h_source, ETH_ALEN);
	neth->h_proto = bpf_htons(ethertype);
	if (frame_len > LVS_L3_OFF + olen + inner_len) {
		if (bpf_xdp_adjust_tail(ctx, (int)(LVS_L3_OFF + olen + inner_len) - (int)frame_len))
			return XDP_DROP; /* headers already rewritten: do not pass a broken frame */
	}
	if (bpf_xdp_adjust_head(ctx, (int)olen))
		return XDP_DROP;
	return XDP_PASS;
}

/* The bpf_skb_adjust_room flags of kernel 6.3 (linux-libc-dev may be older). */
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
#endif

/* Headers lvs_rs_decap_tc reads from the linear part: Ethernet, an outer IPv4 header with
 * options, an inner IPv6 header. */
#define LVS_RS_TC_HDR_LEN (LVS_L3_OFF + 60 + LVS_IPV6_HLEN)

/* The same decapsulation at TC ingress, for skbs generic XDP never sees: a packet that a
 * TC program redirected (skb->redirected, e.g. lvs_tc on a director in the same host
 * forwarding into a veth) skips generic XDP on the receiving device
 * (netif_receive_generic_xdp: "reinjected packets ... should not get XDP generic
 * processing"), and would reach the stack still encapsulated. Also the better choice for
 * GSO aggregates: bpf_skb_adjust_room keeps the skb's metadata right (network header,
 * skb->protocol with BPF_F_ADJ_ROOM_DECAP_L3_* across families, checksum-complete sums),
 * and gso_size, the payload per segment, is kept (FIXED_GSO). Same output bytes as lvs_rs_decap and
 * lvs_wire::decap_ipip; everything else is left alone (TC_ACT_OK). */
SEC("classifier")
int lvs_rs_decap_tc(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u32 hdr = len < LVS_RS_TC_HDR_LEN ? len : LVS_RS_TC_HDR_LEN;
	__u32 olen = 0, inner_len = 0;
	__u8 inner_proto = 0;
	__be16 ethertype;
	void *data, *data_end;
	__u64 flags;

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (data + hdr > data_end) {
		if (bpf_skb_pull_data(skb, hdr))
			return TC_ACT_OK;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	if (!lvs_rs_match(data, data_end, len, &olen, &inner_proto, &inner_len))
		return TC_ACT_OK;
	/* Ethernet padding after the outer packet goes first (only short frames have any);
	 * nothing is changed yet if that fails. */
	if (len > LVS_L3_OFF + olen + inner_len &&
	    bpf_skb_change_tail(skb, LVS_L3_OFF + olen + inner_len, 0))
		return TC_ACT_OK;
	/* gso_size is the payload per segment: the outer header does not change it. An inner
	 * packet of the other family needs the DECAP flag (kernel >= 6.3), which sets
	 * skb->protocol to it; for the same family no flag, which older kernels take too. */
	flags = BPF_F_ADJ_ROOM_FIXED_GSO;
	if (skb->protocol == bpf_htons(ETH_P_IP) && inner_proto == LVS_IPPROTO_IPV6)
		flags |= BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
	else if (skb->protocol == bpf_htons(ETH_P_IPV6) && inner_proto == LVS_IPPROTO_IPIP)
		flags |= BPF_F_ADJ_ROOM_DECAP_L3_IPV4;
	if (bpf_skb_adjust_room(skb, -(__s32)olen, BPF_ADJ_ROOM_MAC, flags))
		return TC_ACT_SHOT; /* padding may be gone: do not pass a changed packet */
	ethertype = bpf_htons(inner_proto == LVS_IPPROTO_IPV6 ? ETH_P_IPV6 : ETH_P_IP);
	if (bpf_skb_store_bytes(skb, 12, &ethertype, sizeof(ethertype), 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
