// SPDX-License-Identifier: GPL-2.0-only
/*
 * lvs_nf: firewall-mark services (ipvsadm -f MARK).
 *
 * The mark a service matches is set by netfilter's mangle table (`nft ... meta mark set 20`,
 * `iptables -t mangle ... -j MARK --set-mark 20`), which runs long after XDP. So the first
 * packet of a flow to a firewall-mark service cannot be recognised by lvs_xdp: it has no
 * flow entry and its address:port is not a service, so lvs_xdp passes it to the stack.
 * This program is attached by lvsd with a netfilter BPF link on PREROUTING, IPv4 and IPv6,
 * at priority NF_IP_PRI_MANGLE + 1, i.e. right after every mangle rule. A packet whose mark
 * is a firewall-mark service of its family is copied to LVS_NF_RING and dropped here; lvsd's
 * slow path schedules it (lvs-core, with the mark), installs the connection's flows in
 * lvs_xdp's maps and sends it on. Every later packet of the connection matches a flow in
 * XDP/TC by its tuple and never reaches netfilter (as in IPVS, the mark only matters for
 * scheduling). Everything else is accepted untouched.
 *
 * The struct layouts of sk_buff are the kernel's, relocated at load time (CO-RE, from
 * /sys/kernel/btf/vmlinux); only the fields used are declared.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lvs_nf_types.h"

#define NF_DROP 0
#define NF_ACCEPT 1

struct sk_buff {
	unsigned int len;
	unsigned int data_len;
	__u32 mark;
	int skb_iif;
	__u16 network_header;
	unsigned char *head;
} __attribute__((preserve_access_index));

/* The context of BPF_PROG_TYPE_NETFILTER (include/net/netfilter/nf_bpf_link.h). */
struct bpf_nf_ctx {
	const void *state;
	struct sk_buff *skb;
};

/* Legacy map definitions ("maps" section): the loader creates them without object BTF. */
struct lvs_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct lvs_map_def LVS_FWMARKS SEC("maps") = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(struct lvs_fwmark_key),
	.value_size = sizeof(__u32),
	.max_entries = LVS_FWMARKS_MAX,
};

struct lvs_map_def LVS_NF_RING SEC("maps") = {
	.type = BPF_MAP_TYPE_RINGBUF,
	.max_entries = LVS_NF_RING_BYTES,
};

struct lvs_map_def LVS_NF_STATS SEC("maps") = {
	.type = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = LVS_NF_ST_MAX,
};

static __always_inline void nf_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&LVS_NF_STATS, &idx);

	if (v)
		*v += 1;
}

/* The section name is only for the loader: aya-obj 0.3 does not know "netfilter", so the
 * program sits in a section it parses ("socket"); lvs-dataplane loads it as
 * BPF_PROG_TYPE_NETFILTER with expected attach type BPF_NETFILTER. */
SEC("socket")
int lvs_nf(struct bpf_nf_ctx *ctx)
{
	struct sk_buff *skb = ctx->skb;
	struct lvs_fwmark_key key = {};
	struct lvs_nf_rec *rec;
	unsigned char *nh;
	__u32 len, headlen;
	__u8 first;

	key.mark = skb->mark;
	if (key.mark == 0)
		return NF_ACCEPT;
	nf_count(LVS_NF_ST_SEEN);
	nh = skb->head + skb->network_header;
	if (bpf_probe_read_kernel(&first, 1, nh))
		return NF_ACCEPT;
	switch (first >> 4) {
	case 4:
		key.af = 2 /* AF_INET */;
		break;
	case 6:
		key.af = 10 /* AF_INET6 */;
		break;
	default:
		return NF_ACCEPT;
	}
	if (!bpf_map_lookup_elem(&LVS_FWMARKS, &key))
		return NF_ACCEPT;

	len = skb->len;
	headlen = len - skb->data_len;
	if (len > LVS_NF_DATA_MAX || headlen != len) {
		nf_count(LVS_NF_ST_TOO_BIG);
		return NF_DROP;
	}
	rec = bpf_ringbuf_reserve(&LVS_NF_RING, sizeof(*rec), 0);
	if (!rec) {
		nf_count(LVS_NF_ST_RING_FULL);
		return NF_DROP;
	}
	rec->ifindex = skb->skb_iif;
	rec->mark = key.mark;
	rec->len = len;
	rec->pad = 0;
	if (len > LVS_NF_DATA_MAX || bpf_probe_read_kernel(rec->data, len, nh)) {
		bpf_ringbuf_discard(rec, 0);
		return NF_DROP;
	}
	bpf_ringbuf_submit(rec, 0);
	nf_count(LVS_NF_ST_HANDED);
	return NF_DROP;
}

char LICENSE[] SEC("license") = "GPL";
