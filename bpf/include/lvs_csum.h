/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_csum.h: Internet checksum arithmetic, pinned to lvs-wire's (crates/lvs-wire
 * src/checksum.rs) so that XDP output is byte-identical to the Rust twin:
 *  - incremental update = RFC 1624 eqn. 3, HC' = ~fold(~HC + sum(~m) + sum(m')), in ONE
 *    accumulation for all fields an operation changes, then one fold and complement;
 *  - a computed UDP checksum of 0 is written 0xffff (a transmitted 0 means "none");
 *  - full checksum = complement of the folded sum.
 * All values handled here are host-order 16-bit words of big-endian data.
 */
#ifndef LVS_CSUM_H
#define LVS_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>

/* An accumulator: ~HC plus old/new words. 32 bits are plenty for the at most ~40 words
 * one operation feeds (each < 2^17). */
struct lvs_csum {
	__u32 acc;
};

static __always_inline void lvs_csum_start(struct lvs_csum *c, __u16 csum)
{
	c->acc = (__u16)~csum;
}

/* A big-endian 16-bit word changed from old to new (both host order). */
static __always_inline void lvs_csum_word(struct lvs_csum *c, __u16 old, __u16 new)
{
	c->acc += (__u16)~old;
	c->acc += new;
}

/* A 4-byte field changed (IPv4 address); pointers need no alignment. */
static __always_inline void lvs_csum_4(struct lvs_csum *c, const __u8 *old, const __u8 *new)
{
#pragma unroll
	for (int i = 0; i < 4; i += 2)
		lvs_csum_word(c, (__u16)(old[i] << 8 | old[i + 1]), (__u16)(new[i] << 8 | new[i + 1]));
}

/* A 16-byte field changed (IPv6 address). */
static __always_inline void lvs_csum_16(struct lvs_csum *c, const __u8 *old, const __u8 *new)
{
#pragma unroll
	for (int i = 0; i < 16; i += 2)
		lvs_csum_word(c, (__u16)(old[i] << 8 | old[i + 1]), (__u16)(new[i] << 8 | new[i + 1]));
}

/* Fold with end-around carry until it fits 16 bits (three steps suffice below 2^32). */
static __always_inline __u16 lvs_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* The new checksum field value (host order). */
static __always_inline __u16 lvs_csum_finish(const struct lvs_csum *c)
{
	return (__u16)~lvs_csum_fold(c->acc);
}

/* Read/write a big-endian 16-bit field as a host-order value. */
static __always_inline __u16 lvs_get16(const void *p)
{
	return bpf_ntohs(*(const __be16 *)p);
}

static __always_inline void lvs_put16(void *p, __u16 v)
{
	*(__be16 *)p = bpf_htons(v);
}

#endif /* LVS_CSUM_H */
