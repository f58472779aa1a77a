/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_rewrite.h: the packet rewrites of each forwarding method. Each one is the twin of an
 * lvs-wire function and must produce the same bytes:
 *   lvs_dec_ttl       <-> lvs_wire::decrement_ttl
 *   lvs_rewrite_tuple <-> lvs_wire::rewrite_tuple
 *   lvs_encap         <-> lvs_wire::encap_ipip / encap_gue (IPv4 outer)
 * The caller has checked everything these functions rely on (TTL > 1, TCP/UDP, not a
 * fragment); they re-derive packet pointers from ctx and re-check bounds, because the
 * verifier forgets packet ranges across helper calls that may move data.
 */
#ifndef LVS_REWRITE_H
#define LVS_REWRITE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lvs_types.h"
#include "lvs_csum.h"
#include "lvs_parse.h"

#define LVS_IPPROTO_IPIP 4
#define LVS_IPPROTO_IPV6 41
#define LVS_GUE_HLEN 4

/* TTL / hop limit - 1. IPv4: RFC 1624 update of the header checksum over the TTL/protocol
 * word (same bytes as the kernel's ip_decrease_ttl). */
static __always_inline int lvs_dec_ttl(struct xdp_md *ctx, const struct lvs_pkt *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (pkt->key.af == LVS_AF_INET) {
		struct iphdr *ip = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*ip));
		struct lvs_csum c;

		if (!ip)
			return -1;
		lvs_csum_start(&c, bpf_ntohs(ip->check));
		lvs_csum_word(&c, (__u16)(ip->ttl << 8 | ip->protocol),
			      (__u16)((ip->ttl - 1) << 8 | ip->protocol));
		ip->ttl -= 1;
		ip->check = bpf_htons(lvs_csum_finish(&c));
	} else {
		struct ipv6hdr *ip6 = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*ip6));

		if (!ip6)
			return -1;
		ip6->hop_limit -= 1;
	}
	return 0;
}

/* Replace an address (4 or 16 bytes) in the packet, feeding both checksum updates. */
static __always_inline void lvs_set_addr(__u8 *at, const __u8 *new, int v6,
					 struct lvs_csum *ipc, struct lvs_csum *l4c)
{
	if (v6) {
		lvs_csum_16(l4c, at, new);
		__builtin_memcpy(at, new, 16);
	} else {
		lvs_csum_4(ipc, at, new);
		lvs_csum_4(l4c, at, new);
		__builtin_memcpy(at, new, 4);
	}
}

/* NAT / FULLNAT: set the source (set_src) and/or destination (set_dst) address and port
 * from the flow value, with one incremental update of the IPv4 header checksum and one of
 * the TCP/UDP checksum (pseudo-header addresses + port). A UDP checksum of 0 ("none")
 * stays 0; a computed UDP checksum of 0 is written 0xffff. */
static __always_inline int lvs_rewrite_tuple(struct xdp_md *ctx, const struct lvs_pkt *pkt,
					     const struct lvs_flow_value *fv, int set_src,
					     int set_dst)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	int v6 = pkt->key.af == LVS_AF_INET6;
	int udp = pkt->key.proto == IPPROTO_UDP;
	__u32 csum_off = pkt->l4_off + (udp ? 6 : 16);
	struct lvs_csum ipc, l4c;
	__u8 *saddr, *daddr;
	__be16 *ports;
	__u8 *l4csum;
	int has_l4csum;

	/* l4_off <= 14 + 60: bounded for the verifier */
	if (pkt->l4_off > LVS_L3_OFF + 60)
		return -1;
	ports = lvs_ptr(data, data_end, pkt->l4_off, udp ? 8 : 20);
	if (!ports)
		return -1;
	l4csum = lvs_ptr(data, data_end, csum_off, 2);
	if (!l4csum)
		return -1;
	has_l4csum = !(udp && l4csum[0] == 0 && l4csum[1] == 0);

	if (v6) {
		struct ipv6hdr *ip6 = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*ip6));

		if (!ip6)
			return -1;
		saddr = (__u8 *)&ip6->saddr;
		daddr = (__u8 *)&ip6->daddr;
		lvs_csum_start(&ipc, 0);
	} else {
		struct iphdr *ip = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*ip));

		if (!ip)
			return -1;
		saddr = (__u8 *)&ip->saddr;
		daddr = (__u8 *)&ip->daddr;
		lvs_csum_start(&ipc, bpf_ntohs(ip->check));
	}
	lvs_csum_start(&l4c, lvs_get16(l4csum));

	if (set_src) {
		lvs_set_addr(saddr, fv->new_saddr, v6, &ipc, &l4c);
		lvs_csum_word(&l4c, bpf_ntohs(ports[0]), bpf_ntohs(fv->new_sport));
		ports[0] = fv->new_sport;
	}
	if (set_dst) {
		lvs_set_addr(daddr, fv->new_daddr, v6, &ipc, &l4c);
		lvs_csum_word(&l4c, bpf_ntohs(ports[1]), bpf_ntohs(fv->new_dport));
		ports[1] = fv->new_dport;
	}
	if (!v6) {
		struct iphdr *ip = data + LVS_L3_OFF; /* checked above */

		ip->check = bpf_htons(lvs_csum_finish(&ipc));
	}
	if (has_l4csum) {
		__u16 c = lvs_csum_finish(&l4c);

		if (udp && c == 0)
			c = 0xffff;
		lvs_put16(l4csum, c);
	}
	return 0;
}

/* INET_ECN_encapsulate: copy the DS field, CE (0b11) becomes ECT(0) (0b10). */
static __always_inline __u8 lvs_ecn_encapsulate(__u8 ds)
{
	return (ds & 0x03) == 0x03 ? (ds & ~0x03) | 0x02 : ds;
}

/* Bytes the tunnel adds in front of the inner IP packet. */
static __always_inline __u32 lvs_encap_len(const struct lvs_flow_value *fv)
{
	__u32 len = fv->out_af == LVS_AF_INET6 ? LVS_IPV6_HLEN : (__u32)sizeof(struct iphdr);

	if (fv->action == LVS_A_TUN_GUE)
		len += sizeof(struct udphdr) + LVS_GUE_HLEN;
	return len;
}

/* LVS-TUN: push the outer IP header (+ UDP + GUE) between Ethernet and the inner IP packet
 * (whose TTL the caller already decremented). Field by field as lvs_wire::encap_ipip:
 *  outer IPv4: ver 4, IHL 5, tos = ecn_encapsulate(inner DS), total length, id 0,
 *    DF if the inner IPv4 packet has DF or the inner packet is IPv6, TTL = inner TTL,
 *    protocol 4 / 41 (17 for GUE), full header checksum, new_saddr -> new_daddr;
 *  outer IPv6: traffic class as above, flow label 0, payload length, next header 4 / 41,
 *    hop limit = inner TTL;
 *  GUE (IPv4 outer only): UDP new_sport -> tun_port, length, checksum 0; GUE
 *    [0, 4 | 41, 0, 0].
 * Ethernet padding after the inner IP packet is trimmed first. The Ethernet addresses are
 * left to the caller (set from the FIB result); the ethertype is set here. */
static __always_inline int lvs_encap(struct xdp_md *ctx, const struct lvs_pkt *pkt,
				     const struct lvs_flow_value *fv)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 inner_len = pkt->ip_len;
	__u32 frame_len = data_end - data;
	__u32 olen = lvs_encap_len(fv);
	__u8 inner_proto = pkt->key.af == LVS_AF_INET6 ? LVS_IPPROTO_IPV6 : LVS_IPPROTO_IPIP;
	__u8 tos = lvs_ecn_encapsulate(pkt->dsfield);
	__u8 ttl = pkt->ttl - 1;
	int gue = fv->action == LVS_A_TUN_GUE;
	struct ethhdr *eth;

	if (frame_len > LVS_L3_OFF + inner_len) {
		if (bpf_xdp_adjust_tail(ctx, (int)(LVS_L3_OFF + inner_len) - (int)frame_len))
			return -1;
	}
	if (bpf_xdp_adjust_head(ctx, -(int)olen))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = lvs_ptr(data, data_end, 0, sizeof(*eth));
	if (!eth)
		return -1;

	if (fv->out_af == LVS_AF_INET6) {
		struct ipv6hdr *o6 = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*o6));

		if (!o6)
			return -1;
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		o6->version = 6;
		o6->priority = tos >> 4;
		o6->flow_lbl[0] = (tos & 0x0f) << 4;
		o6->flow_lbl[1] = 0;
		o6->flow_lbl[2] = 0;
		o6->payload_len = bpf_htons(inner_len);
		o6->nexthdr = inner_proto;
		o6->hop_limit = ttl;
		__builtin_memcpy(&o6->saddr, fv->new_saddr, 16);
		__builtin_memcpy(&o6->daddr, fv->new_daddr, 16);
		return 0;
	}

	struct iphdr *o = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*o));
	struct iphdr h = {};
	__u16 *w = (__u16 *)&h;
	__u32 sum = 0;

	if (!o)
		return -1;
	eth->h_proto = bpf_htons(ETH_P_IP);
	h.version = 4;
	h.ihl = 5;
	h.tos = tos;
	h.tot_len = bpf_htons(olen + inner_len);
	h.id = 0;
	h.frag_off = (pkt->df || pkt->key.af == LVS_AF_INET6) ? bpf_htons(IP_DF) : 0;
	h.ttl = ttl;
	h.protocol = gue ? IPPROTO_UDP : inner_proto;
	__builtin_memcpy(&h.saddr, fv->new_saddr, 4);
	__builtin_memcpy(&h.daddr, fv->new_daddr, 4);
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += bpf_ntohs(w[i]);
	h.check = bpf_htons((__u16)~lvs_csum_fold(sum));
	__builtin_memcpy(o, &h, sizeof(h));

	if (gue) {
		__u8 *u = lvs_ptr(data, data_end, LVS_L3_OFF + sizeof(*o),
				  sizeof(struct udphdr) + LVS_GUE_HLEN);

		if (!u)
			return -1;
		*(__be16 *)(u + 0) = fv->new_sport;
		*(__be16 *)(u + 2) = fv->tun_port;
		*(__be16 *)(u + 4) = bpf_htons(sizeof(struct udphdr) + LVS_GUE_HLEN + inner_len);
		*(__be16 *)(u + 6) = 0;
		u[8] = 0;
		u[9] = inner_proto;
		u[10] = 0;
		u[11] = 0;
	}
	return 0;
}

#endif /* LVS_REWRITE_H */
