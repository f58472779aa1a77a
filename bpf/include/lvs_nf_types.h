/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_nf_types.h: the contract between lvs_nf.bpf.c (the netfilter hook of firewall-mark
 * services) and lvsd. Mirrored 1:1 by crates/lvs-common (`nf` section); sizes are checked on
 * both sides. Same conventions as lvs_types.h (host order unless said otherwise).
 */
#ifndef LVS_NF_TYPES_H
#define LVS_NF_TYPES_H

#include <linux/types.h>

/* Key of LVS_FWMARKS: a firewall-mark service (ipvsadm -f MARK, -6 for IPv6). Producer: lvsd.
 * The value is a __u32, nonzero (informational). */
struct lvs_fwmark_key {
	__u32 mark;       /* the skb mark the service matches (host order, nonzero) */
	__u8 af;          /* 2 or 10 */
	__u8 pad[3];      /* zero */
};

/* Most bytes of a packet lvs_nf hands over (from the IP header on). The first packet of a
 * flow (a TCP SYN, a UDP datagram on an interface with an MTU up to 2048) fits. */
#define LVS_NF_DATA_MAX 2048

/* One record of LVS_NF_RING: a packet that matched a firewall-mark service in
 * PREROUTING after the mangle table, handed to lvsd's slow path and dropped in the kernel.
 * Producer: lvs_nf. */
struct lvs_nf_rec {
	__u32 ifindex;    /* interface the packet arrived on (skb->skb_iif) */
	__u32 mark;       /* skb->mark */
	__u32 len;        /* bytes of data[] that are valid (the whole IP packet) */
	__u32 pad;        /* zero */
	__u8 data[LVS_NF_DATA_MAX]; /* the IP packet, from the IP header on */
};

/* LVS_NF_STATS (PERCPU_ARRAY of __u64) indexes. */
enum lvs_nf_stat {
	LVS_NF_ST_SEEN = 0,      /* packets with a nonzero mark that were looked up */
	LVS_NF_ST_HANDED = 1,    /* records written to LVS_NF_RING (packet dropped in kernel) */
	LVS_NF_ST_TOO_BIG = 2,   /* matched but longer than LVS_NF_DATA_MAX or non-linear: dropped */
	LVS_NF_ST_RING_FULL = 3, /* matched but the ring was full: dropped */
	LVS_NF_ST_MAX = 4,
};

#define LVS_NF_RING_BYTES (1U << 21)
#define LVS_FWMARKS_MAX 4096

_Static_assert(sizeof(struct lvs_fwmark_key) == 8, "lvs_fwmark_key");
_Static_assert(sizeof(struct lvs_nf_rec) == 16 + LVS_NF_DATA_MAX, "lvs_nf_rec");

#endif /* LVS_NF_TYPES_H */
