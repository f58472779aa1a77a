/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_seq.h: FULLNAT with Proxy Protocol v2 (docs/proxy-protocol.md). The slow path puts a
 * PROXY header in front of the client's byte stream; from then on every segment of the
 * connection has its sequence numbers translated here, twins of lvs-wire:
 *   lvs_seq_xlate     (XDP) <-> lvs_wire::seq_translate_in / seq_translate_out
 *   lvs_skb_seq_xlate (TC)  <-> the same
 * and lvs_pp_punt decides which segments the slow path must see instead.
 *
 * Flow flags (lvs_types.h): LVS_FF_PP_WAIT, LVS_FF_PP_FIRST, LVS_FF_SEQ; seq_delta and
 * pp_seq in the flow value. A segment with SYN is never punted for these nor translated
 * (the handshake precedes the header: its numbers are the same on both sides).
 */
#ifndef LVS_SEQ_H
#define LVS_SEQ_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lvs_types.h"
#include "lvs_csum.h"
#include "lvs_parse.h"

#define LVS_TCPOPT_EOL 0
#define LVS_TCPOPT_NOP 1
#define LVS_TCPOPT_SACK 5

/* Must the slow path see this segment (it sends the PROXY header before it)? */
static __always_inline int lvs_pp_punt(const struct lvs_pkt *pkt,
				       const struct lvs_flow_value *fv)
{
	__u8 f = fv->flags;

	if (!(f & (LVS_FF_PP_WAIT | LVS_FF_PP_FIRST)) || pkt->key.proto != IPPROTO_TCP)
		return 0;
	if (pkt->tcp_flags & LVS_TCP_SYN)
		return 0;
	if (f & LVS_FF_PP_WAIT) /* nothing sent yet: all but a RST (which goes as it is) */
		return !(pkt->tcp_flags & LVS_TCP_RST);
	return pkt->l4_payload != 0 && pkt->tcp_seq == fv->pp_seq;
}

/* Does LVS_FF_SEQ translate this segment? Input: every TCP segment without SYN. Output:
 * those with ACK and without SYN (ack and SACK mean nothing without ACK). */
static __always_inline int lvs_seq_applies(const struct lvs_pkt *pkt,
					   const struct lvs_flow_value *fv)
{
	if (!(fv->flags & LVS_FF_SEQ) || pkt->key.proto != IPPROTO_TCP)
		return 0;
	if (pkt->tcp_flags & LVS_TCP_SYN)
		return 0;
	return fv->dir != LVS_DIR_OUTPUT || (pkt->tcp_flags & LVS_TCP_ACK);
}

static __always_inline __u32 lvs_get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static __always_inline void lvs_put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* A 32-bit field changed (two words of the checksum) at an even offset of the segment. */
static __always_inline void lvs_csum_32(struct lvs_csum *c, __u32 old, __u32 new)
{
	lvs_csum_word(c, (__u16)(old >> 16), (__u16)(new >> 16));
	lvs_csum_word(c, (__u16)old, (__u16)new);
}

static __always_inline __u16 lvs_swab16(__u16 w)
{
	return (__u16)(w << 8 | w >> 8);
}

/* The same at an odd offset (a SACK block after a single NOP): the field's bytes are the
 * low byte of one checksum word, a whole word and the high byte of a third, which sums to
 * the aligned contribution with the bytes of each word swapped. */
static __always_inline void lvs_csum_32_odd(struct lvs_csum *c, __u32 old, __u32 new)
{
	lvs_csum_word(c, lvs_swab16((__u16)(old >> 16)), lvs_swab16((__u16)(new >> 16)));
	lvs_csum_word(c, lvs_swab16((__u16)old), lvs_swab16((__u16)new));
}

/* The first well-formed SACK option (kind 5, length 10, 18, 26 or 34) of the TCP header at
 * l4_off, hlen bytes long with its options: returns its number of blocks (0: none) and
 * sets *first to the offset of its first block. The walk stops at EOL, at an option whose
 * length is below 2 or runs past the header, and at the end of what is in [data,
 * data_end). lvs_wire::seq_translate_out walks the same way. */
static __always_inline __u32 lvs_find_sack(void *data, void *data_end, __u32 l4_off,
					   __u32 hlen, __u32 *first)
{
	__u32 opt = 20;

	if (l4_off > LVS_L3_OFF + 60 || hlen > 60)
		return 0;
	/* opt grows by at least 1 per step and stays below hlen <= 60: at most 40 steps. No
	 * step counter: it would keep the verifier from pruning (every step a new state). */
	while (opt < hlen) {
		__u8 *p = lvs_ptr(data, data_end, l4_off + opt, 1);
		__u32 kind, len;

		if (!p)
			break;
		kind = p[0];
		if (kind == LVS_TCPOPT_EOL)
			break;
		if (kind == LVS_TCPOPT_NOP) {
			opt += 1;
			continue;
		}
		if (opt + 1 >= hlen)
			break;
		p = lvs_ptr(data, data_end, l4_off + opt, 2);
		if (!p)
			break;
		len = p[1];
		if (len < 2 || opt + len > hlen)
			break;
		if (kind == LVS_TCPOPT_SACK && len >= 10 && (len - 2) % 8 == 0) {
			*first = l4_off + opt + 2;
			return (len - 2) / 8;
		}
		opt += len;
	}
	return 0;
}

/* LVS_FF_SEQ in XDP, after the tuple rewrite: one RFC 1624 update of the TCP checksum over
 * every word changed. */
static __always_inline int lvs_seq_xlate(struct xdp_md *ctx, const struct lvs_pkt *pkt,
					 const struct lvs_flow_value *fv)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 delta = fv->seq_delta;
	__u32 l4 = pkt->l4_off;
	__u32 first = 0, n, old, new;
	struct lvs_csum c;
	__u8 *th;

	if (!lvs_seq_applies(pkt, fv))
		return 0;
	if (l4 > LVS_L3_OFF + 60)
		return -1;
	th = lvs_ptr(data, data_end, l4, 20);
	if (!th)
		return -1;
	lvs_csum_start(&c, lvs_get16(th + 16));
	if (fv->dir != LVS_DIR_OUTPUT) {
		old = lvs_get32(th + 4);
		new = old + delta;
		lvs_csum_32(&c, old, new);
		lvs_put32(th + 4, new);
	} else {
		old = lvs_get32(th + 8);
		new = old - delta;
		lvs_csum_32(&c, old, new);
		lvs_put32(th + 8, new);
		n = lvs_find_sack(data, data_end, l4, pkt->tcp_hlen, &first);
		if (first > LVS_L3_OFF + 60 + 60)
			return -1;
#pragma unroll
		for (int e = 0; e < 8; e++) { /* 4 blocks, 2 edges each */
			__u8 *p;

			if ((__u32)e >= n * 2)
				break;
			p = lvs_ptr(data, data_end, first + 4 * e, 4);
			if (!p)
				return -1;
			old = lvs_get32(p);
			new = old - delta;
			if ((first - l4) & 1)
				lvs_csum_32_odd(&c, old, new);
			else
				lvs_csum_32(&c, old, new);
			lvs_put32(p, new);
		}
	}
	lvs_put16(th + 16, lvs_csum_finish(&c));
	return 0;
}

/* Add `add` to the 32-bit field at off of an skb, with bpf_l4_csum_replace for the TCP
 * checksum at csum_off (not a pseudo-header word: a CHECKSUM_PARTIAL seed stays). odd: the
 * field is at an odd offset of the segment, so the helper gets the values with the bytes of
 * each 16-bit half swapped (see lvs_csum_32_odd). */
static __always_inline int lvs_skb_add32(struct __sk_buff *skb, __u32 off, __u32 csum_off,
					 __u32 add, int odd)
{
	__be32 old, new, from, to;

	if (bpf_skb_load_bytes(skb, off, &old, sizeof(old)))
		return -1;
	new = bpf_htonl(bpf_ntohl(old) + add);
	from = old;
	to = new;
	if (odd) {
		/* adjacent bytes in memory trade places, whatever the host order */
		from = ((from & 0x00ff00ff) << 8) | ((from >> 8) & 0x00ff00ff);
		to = ((to & 0x00ff00ff) << 8) | ((to >> 8) & 0x00ff00ff);
	}
	if (bpf_l4_csum_replace(skb, csum_off, from, to, sizeof(to)))
		return -1;
	return bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0) ? -1 : 0;
}

/* The SACK option of the TCP header at l4_off (hlen bytes with options) of an skb, found
 * by lvs_find_sack with direct packet pointers: blocks << 16 | offset of the first block
 * (0: none).
 *
 * A global (not inlined) function: the verifier checks it once, on its own, with unknown
 * arguments, instead of walking its loop (up to 40 option steps) on every path of lvs_tc
 * that reaches it, which brought lvs_tc close to the verifier's limit of 1M processed
 * instructions (939k inlined; 17k with this function and the tunnel checks). For the
 * caller its result is one unknown scalar, bounded there. */
__attribute__((noinline)) __u32 lvs_skb_sack(struct __sk_buff *skb, __u64 l4_off, __u64 hlen)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 first = 0, n;

	/* keep clang from doing the pointer arithmetic on 32-bit copies of the pointers (it
	 * knows they came from 32-bit fields), which the verifier refuses */
	asm volatile("" : "+r"(data), "+r"(data_end));
	/* 64-bit arguments, checked here: a 32-bit one would be checked in a zero-extended
	 * copy while the pointer arithmetic used the unextended argument */
	if (l4_off > LVS_L3_OFF + 60 || hlen > 60)
		return 0;
	n = lvs_find_sack(data, data_end, l4_off, hlen, &first);
	return n << 16 | (first & 0xffff);
}

/* lvs_tc, before anything is written: where the SACK blocks that LVS_FF_SEQ translates
 * are, in pkt->sack_n / sack_off. */
static __always_inline void lvs_tc_find_sack(struct __sk_buff *skb, struct lvs_pkt *pkt,
					     const struct lvs_flow_value *fv)
{
	__u32 r;

	if (!lvs_seq_applies(pkt, fv) || fv->dir != LVS_DIR_OUTPUT)
		return;
	r = lvs_skb_sack(skb, pkt->l4_off, pkt->tcp_hlen);
	pkt->sack_n = r >> 16;
	pkt->sack_off = r & 0xffff;
}

/* LVS_FF_SEQ in lvs_tc, after the tuple rewrite (lvs_tc_find_sack ran first). */
static __always_inline int lvs_skb_seq_xlate(struct __sk_buff *skb, const struct lvs_pkt *pkt,
					     const struct lvs_flow_value *fv)
{
	__u32 delta = fv->seq_delta;
	__u32 l4 = pkt->l4_off;
	__u32 csum_off = l4 + 16;
	__u32 first = 0, n;

	if (!lvs_seq_applies(pkt, fv))
		return 0;
	if (l4 > LVS_L3_OFF + 60)
		return -1;
	if (fv->dir != LVS_DIR_OUTPUT)
		return lvs_skb_add32(skb, l4 + 4, csum_off, delta, 0);
	/* lvs_tc found the SACK option with its direct packet pointers (lvs_tc_find_sack) */
	n = pkt->sack_n;
	first = pkt->sack_off;
	if (first > LVS_L3_OFF + 60 + 60)
		return -1;
	if (lvs_skb_add32(skb, l4 + 8, csum_off, -delta, 0))
		return -1;
#pragma unroll
	for (int e = 0; e < 8; e++) {
		if ((__u32)e >= n * 2)
			break;
		if (lvs_skb_add32(skb, first + 4 * e, csum_off, -delta, (first - l4) & 1))
			return -1;
	}
	return 0;
}

#endif /* LVS_SEQ_H */
