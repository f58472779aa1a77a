// SPDX-License-Identifier: GPL-2.0-only
/*
 * sink: the real servers of `make bench` (bench/run.sh). Attached in native mode to a
 * real-server veth; counts IPv4 UDP and TCP frames in a per-CPU counter and drops them.
 * Everything else (ARP, ICMP, IPv6) goes to the stack, so neighbours still resolve.
 * Native XDP on the veth also gives it NAPI, which is what makes a native
 * XDP_TX/XDP_REDIRECT into its peer deliver (docs: reference/toolchain.md).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sink_count SEC(".maps");

SEC("xdp")
int sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 zero = 0;
	__u64 *n;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	n = bpf_map_lookup_elem(&sink_count, &zero);
	if (n)
		*n += 1;
	return XDP_DROP;
}

/* The reference point "route-xdpg" of bench/run.sh: plain routing with this attached in
 * generic mode on the director's ingress, i.e. what generic XDP itself costs. */
SEC("xdp")
int pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
