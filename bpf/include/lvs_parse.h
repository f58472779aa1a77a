/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_parse.h: classify an untagged Ethernet frame and build its flow key.
 *
 * Handled: IPv4 (options allowed) and IPv6 (fixed header; a single Fragment header is
 * recognised only to punt fragments) carrying TCP or UDP; ICMP/ICMPv6 error messages
 * quoting a TCP/UDP packet (the key is the quoted tuple inverted, i.e. the tuple of the
 * connection's packets that arrive here). Everything else is "not ours".
 */
#ifndef LVS_PARSE_H
#define LVS_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lvs_types.h"

#define LVS_L3_OFF ((__u32)sizeof(struct ethhdr))
#define LVS_IPV6_HLEN 40
#define LVS_IPPROTO_FRAGMENT 44
#define LVS_IPPROTO_ICMPV6 58

/* TCP header byte 13 */
#define LVS_TCP_FIN 0x01
#define LVS_TCP_SYN 0x02
#define LVS_TCP_RST 0x04
#define LVS_TCP_ACK 0x10

/* IPv4 frag_off bits (host order; the kernel defines them in net/ip.h, not in uapi) */
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

enum lvs_parse_rc {
	LVS_P_FLOW = 0,        /* TCP/UDP, not a fragment: key is the packet's tuple */
	LVS_P_NOT_OURS = 1,    /* not IP, or another protocol: XDP_PASS */
	LVS_P_UNSUPPORTED = 2, /* IPv6 extension headers and the like: XDP_PASS */
	LVS_P_ERROR = 3,       /* malformed or truncated: XDP_PASS (the stack drops it) */
	LVS_P_FRAG = 4,        /* IP fragment: key.af, key.proto and key.daddr are set */
	LVS_P_ICMP_ERR = 5,    /* ICMP error quoting TCP/UDP: key = quoted tuple, inverted */
};

/* What the programs need to know about a packet; all offsets are from the start of the
 * Ethernet header (ctx->data in XDP, skb->data in TC). */
struct lvs_pkt {
	struct lvs_flow_key key;
	/* ctx fields, read once at entry: clang may otherwise keep a pointer into ctx
	 * (&ctx->ingress_ifindex) alive, and the verifier refuses "modified ctx ptr" loads */
	__u32 ifindex;    /* ctx->ingress_ifindex */
	__u32 rxq;        /* ctx->rx_queue_index */
	__u32 l4_off;     /* offset of the TCP/UDP header */
	__u32 ip_len;     /* IP length as IPVS counts it: IPv4 total length, IPv6 payload + 40 */
	__u8 ttl;         /* TTL / hop limit */
	__u8 tcp_flags;   /* TCP header byte 13, 0 for UDP */
	__u8 dsfield;     /* IPv4 TOS / IPv6 traffic class */
	__u8 df;          /* IPv4 DF bit (1 for IPv6: never fragmented on the way) */
	__u32 tcp_seq;    /* TCP sequence number, host order (0 for UDP) */
	__u32 l4_payload; /* TCP payload bytes: IP length - IP header - TCP header (0 for UDP,
			   * and when the TCP header claims more than the packet holds) */
	__u8 tcp_hlen;    /* TCP header length with options (data offset * 4), 0 for UDP */
	__u8 sack_n;      /* lvs_tc, LVS_FF_SEQ output flows: SACK blocks to translate */
	__u32 sack_off;   /* ... and the offset of the first one (lvs_tc_find_sack) */
};

/* A pointer to len bytes at off in the packet, or NULL past the end. off must be a
 * bounded scalar for the verifier (every caller derives it from masked header fields). */
static __always_inline void *lvs_ptr(void *data, void *data_end, __u32 off, __u32 len)
{
	void *p = data + off;

	if (p + len > data_end)
		return NULL;
	return p;
}

/* The ports of the TCP/UDP header at off (sport, dport), NULL if truncated. */
static __always_inline __be16 *lvs_ports(void *data, void *data_end, __u32 off)
{
	return lvs_ptr(data, data_end, off, 4);
}

/* Inverted key from a quoted (inner) IPv4 header at off: the ICMP error quotes a packet
 * the director (or the peer) sent; the connection's packets arrive with src/dst swapped. */
static __always_inline int lvs_parse_icmp4_quote(void *data, void *data_end, __u32 off,
						 struct lvs_pkt *pkt)
{
	struct iphdr *in = lvs_ptr(data, data_end, off, sizeof(*in));
	__be16 *ports;
	__u32 ihl;

	if (!in)
		return LVS_P_NOT_OURS; /* quotes less than a header: nothing to match */
	if (in->version != 4 || in->ihl < 5)
		return LVS_P_NOT_OURS;
	if (in->protocol != IPPROTO_TCP && in->protocol != IPPROTO_UDP)
		return LVS_P_NOT_OURS;
	if (in->frag_off & bpf_htons(0x1fff))
		return LVS_P_NOT_OURS; /* a non-first fragment quotes no ports */
	ihl = (__u32)(in->ihl & 0xf) << 2;
	ports = lvs_ports(data, data_end, off + ihl);
	if (!ports)
		return LVS_P_NOT_OURS;
	pkt->key.proto = in->protocol;
	pkt->key.sport = ports[1];
	pkt->key.dport = ports[0];
	__builtin_memcpy(pkt->key.saddr, &in->daddr, 4);
	__builtin_memcpy(pkt->key.daddr, &in->saddr, 4);
	return LVS_P_ICMP_ERR;
}

static __always_inline int lvs_parse_icmp6_quote(void *data, void *data_end, __u32 off,
						 struct lvs_pkt *pkt)
{
	struct ipv6hdr *in = lvs_ptr(data, data_end, off, sizeof(*in));
	__be16 *ports;

	if (!in)
		return LVS_P_NOT_OURS;
	if (in->version != 6)
		return LVS_P_NOT_OURS;
	if (in->nexthdr != IPPROTO_TCP && in->nexthdr != IPPROTO_UDP)
		return LVS_P_NOT_OURS;
	ports = lvs_ports(data, data_end, off + LVS_IPV6_HLEN);
	if (!ports)
		return LVS_P_NOT_OURS;
	pkt->key.proto = in->nexthdr;
	pkt->key.sport = ports[1];
	pkt->key.dport = ports[0];
	__builtin_memcpy(pkt->key.saddr, &in->daddr, 16);
	__builtin_memcpy(pkt->key.daddr, &in->saddr, 16);
	return LVS_P_ICMP_ERR;
}

/* TCP or UDP at l4_off: ports, flags, and a whole-enough header. */
static __always_inline int lvs_parse_l4(void *data, void *data_end, __u8 proto,
					struct lvs_pkt *pkt)
{
	__be16 *ports;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = lvs_ptr(data, data_end, pkt->l4_off, sizeof(*th));

		if (!th)
			return LVS_P_ERROR;
		__u32 seg, hlen;

		if (th->doff < 5)
			return LVS_P_ERROR;
		pkt->tcp_flags = ((__u8 *)th)[13];
		pkt->tcp_seq = bpf_ntohl(th->seq);
		hlen = (__u32)th->doff << 2;
		pkt->tcp_hlen = hlen;
		/* the IP header is l4_off - L3 bytes long; ip_len covers it */
		seg = pkt->ip_len - (pkt->l4_off - LVS_L3_OFF);
		pkt->l4_payload = seg > hlen ? seg - hlen : 0;
	} else {
		struct udphdr *uh = lvs_ptr(data, data_end, pkt->l4_off, sizeof(*uh));

		if (!uh)
			return LVS_P_ERROR;
	}
	ports = data + pkt->l4_off; /* checked above */
	pkt->key.sport = ports[0];
	pkt->key.dport = ports[1];
	return LVS_P_FLOW;
}

static __always_inline int lvs_parse_ipv4(void *data, void *data_end, __u32 wire_len,
					  struct lvs_pkt *pkt)
{
	struct iphdr *ip = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*ip));
	__u32 ihl, tot_len;

	if (!ip)
		return LVS_P_ERROR;
	if (ip->version != 4 || ip->ihl < 5)
		return LVS_P_ERROR;
	ihl = (__u32)(ip->ihl & 0xf) << 2;
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len < ihl || LVS_L3_OFF + tot_len > wire_len)
		return LVS_P_ERROR;

	pkt->key.af = LVS_AF_INET;
	pkt->key.proto = ip->protocol;
	pkt->l4_off = LVS_L3_OFF + ihl;
	pkt->ip_len = tot_len;
	pkt->ttl = ip->ttl;
	pkt->dsfield = ip->tos;
	pkt->df = !!(ip->frag_off & bpf_htons(IP_DF));

	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP &&
	    ip->protocol != IPPROTO_ICMP)
		return LVS_P_NOT_OURS;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
		__builtin_memcpy(pkt->key.daddr, &ip->daddr, 4);
		return LVS_P_FRAG;
	}
	if (ip->protocol == IPPROTO_ICMP) {
		__u8 *icmp = lvs_ptr(data, data_end, pkt->l4_off, 8);

		if (!icmp)
			return LVS_P_NOT_OURS;
		/* errors about a connection (reference §4.5): dest unreachable, source quench,
		 * time exceeded */
		if (icmp[0] != 3 && icmp[0] != 4 && icmp[0] != 11)
			return LVS_P_NOT_OURS;
		return lvs_parse_icmp4_quote(data, data_end, pkt->l4_off + 8, pkt);
	}
	__builtin_memcpy(pkt->key.saddr, &ip->saddr, 4);
	__builtin_memcpy(pkt->key.daddr, &ip->daddr, 4);
	return lvs_parse_l4(data, data_end, ip->protocol, pkt);
}

static __always_inline int lvs_parse_ipv6(void *data, void *data_end, __u32 wire_len,
					  struct lvs_pkt *pkt)
{
	struct ipv6hdr *ip6 = lvs_ptr(data, data_end, LVS_L3_OFF, sizeof(*ip6));
	__u32 plen;
	__u8 nh;

	if (!ip6)
		return LVS_P_ERROR;
	if (ip6->version != 6)
		return LVS_P_ERROR;
	plen = bpf_ntohs(ip6->payload_len);
	if (LVS_L3_OFF + LVS_IPV6_HLEN + plen > wire_len)
		return LVS_P_ERROR;

	nh = ip6->nexthdr;
	pkt->key.af = LVS_AF_INET6;
	pkt->key.proto = nh;
	pkt->l4_off = LVS_L3_OFF + LVS_IPV6_HLEN;
	pkt->ip_len = plen + LVS_IPV6_HLEN;
	pkt->ttl = ip6->hop_limit;
	pkt->dsfield = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	pkt->df = 1;

	if (nh == LVS_IPPROTO_FRAGMENT) {
		__u8 *fh = lvs_ptr(data, data_end, pkt->l4_off, 8);

		if (!fh)
			return LVS_P_ERROR;
		pkt->key.proto = fh[0];
		__builtin_memcpy(pkt->key.daddr, &ip6->daddr, 16);
		return LVS_P_FRAG;
	}
	if (nh == LVS_IPPROTO_ICMPV6) {
		__u8 *icmp = lvs_ptr(data, data_end, pkt->l4_off, 8);

		if (!icmp)
			return LVS_P_NOT_OURS;
		if (icmp[0] >= 128) /* informational (echo, ND, MLD): not about a connection */
			return LVS_P_NOT_OURS;
		return lvs_parse_icmp6_quote(data, data_end, pkt->l4_off + 8, pkt);
	}
	if (nh == IPPROTO_TCP || nh == IPPROTO_UDP) {
		__builtin_memcpy(pkt->key.saddr, &ip6->saddr, 16);
		__builtin_memcpy(pkt->key.daddr, &ip6->daddr, 16);
		return lvs_parse_l4(data, data_end, nh, pkt);
	}
	/* hop-by-hop, routing, destination options, AH, ESP, mobility, HIP, shim6,
	 * experimental: extension headers we do not walk */
	if (nh == 0 || nh == 43 || nh == 60 || nh == 51 || nh == 50 || nh == 135 ||
	    nh == 139 || nh == 140 || nh == 253 || nh == 254)
		return LVS_P_UNSUPPORTED;
	return LVS_P_NOT_OURS;
}

/* Classify the frame at [data, data_end) and fill pkt (zeroed by the caller). wire_len is
 * the frame's whole length: the same as data_end - data in XDP; in TC (lvs_tc) skb->len,
 * of which only the headers need to be in the linear part [data, data_end). */
static __always_inline int lvs_parse_frame(void *data, void *data_end, __u32 wire_len,
					   struct lvs_pkt *pkt)
{
	struct ethhdr *eth = lvs_ptr(data, data_end, 0, sizeof(*eth));

	if (!eth)
		return LVS_P_NOT_OURS;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return lvs_parse_ipv4(data, data_end, wire_len, pkt);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return lvs_parse_ipv6(data, data_end, wire_len, pkt);
	return LVS_P_NOT_OURS; /* ARP, VLAN-tagged, LLDP, ... */
}

/* Classify an XDP frame and fill pkt (zeroed by the caller). */
static __always_inline int lvs_parse(struct xdp_md *ctx, struct lvs_pkt *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return lvs_parse_frame(data, data_end, (__u32)(data_end - data), pkt);
}

#endif /* LVS_PARSE_H */
