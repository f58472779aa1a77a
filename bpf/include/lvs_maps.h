/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_maps.h: every map of lvs_xdp and lvs_tc, one purpose comment each (types in lvs_types.h).
 * max_entries of LVS_FLOWS, LVS_CONNS and LVS_DEST_STATS are defaults that the loader
 * (crates/lvs-dataplane, EbpfLoader::set_max_entries) overrides.
 */
#ifndef LVS_MAPS_H
#define LVS_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lvs_types.h"

/* Virtual services (and virtual-address markers) -> service id. Written by lvsd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LVS_SERVICES_MAX);
	__type(key, struct lvs_svc_key);
	__type(value, struct lvs_svc_value);
} LVS_SERVICES SEC(".maps");

/* Packet tuple as it arrives -> what to do with it (one entry per direction of a conn).
 * Written by lvsd, read by XDP. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LVS_DEFAULT_FLOWS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lvs_flow_key);
	__type(value, struct lvs_flow_value);
} LVS_FLOWS SEC(".maps");

/* conn_id -> counters, last seen time and TCP state. XDP updates, lvsd sets up and reads. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LVS_DEFAULT_CONNS_MAX);
	__type(key, __u32);
	__type(value, struct lvs_conn_state);
} LVS_CONNS SEC(".maps");

/* dest_slot -> per-CPU real server counters. XDP updates, lvsd sums and reads. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LVS_DEFAULT_DESTS_MAX);
	__type(key, __u32);
	__type(value, struct lvs_dest_stats);
} LVS_DEST_STATS SEC(".maps");

/* XDP -> lvsd notifications (struct lvs_event): TCP state changes made in the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LVS_EVENTS_BYTES);
} LVS_EVENTS SEC(".maps");

/* AF_XDP sockets of the slow path, key ifslot * 64 + rx queue. Written by lvsd. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, LVS_MAX_IFSLOTS * LVS_XSK_QUEUES_PER_IF);
	__type(key, __u32);
	__type(value, __u32);
} LVS_XSKS SEC(".maps");

/* ingress ifindex -> ifslot (0..63) used to index LVS_XSKS. Written by lvsd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LVS_MAX_IFSLOTS);
	__type(key, __u32);
	__type(value, __u32);
} LVS_IFSLOTS SEC(".maps");

/* ingress ifindex -> LVS_IF_* flags (TC forwarding). Written by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LVS_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} LVS_IFACES SEC(".maps");

/* ingress ifindex -> its MAC address (struct lvs_if_mac). Written by lvsd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LVS_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct lvs_if_mac);
} LVS_IFMACS SEC(".maps");

/* Global per-CPU counters by outcome (enum lvs_stat). XDP updates, lvsd reads. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LVS_ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} LVS_STATS SEC(".maps");

/* Global switches (struct lvs_config at index 0). Written by lvsd. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lvs_config);
} LVS_CONFIG SEC(".maps");

/* Fast-eligible services: service id -> scheduling sequence (struct lvs_fast_svc). lvsd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LVS_FAST_SVCS_MAX);
	__type(key, __u32);
	__type(value, struct lvs_fast_svc);
} LVS_FAST_SVCS SEC(".maps");

/* Their real servers: lvs-core DestId -> forwarding template (struct lvs_fast_dest). lvsd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LVS_FAST_DESTS_MAX);
	__type(key, __u32);
	__type(value, struct lvs_fast_dest);
} LVS_FAST_DESTS SEC(".maps");

/* Connection ids reserved in lvs-core for connections XDP creates. lvsd pushes, XDP pops. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, LVS_CONN_IDS_MAX);
	__uint(key_size, 0);
	__uint(value_size, sizeof(__u32));
} LVS_CONN_IDS SEC(".maps");

/* Per-CPU scratch space of lvs_xdp (a program run does not migrate): the flows of a
 * connection it creates, which do not fit on the 512-byte stack next to the rest. */
struct lvs_scratch {
	struct lvs_flow_value fv;
	struct lvs_flow_key ok;
	struct lvs_flow_value ov;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lvs_scratch);
} LVS_SCRATCH SEC(".maps");

static __always_inline void lvs_stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&LVS_STATS, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

#endif /* LVS_MAPS_H */
