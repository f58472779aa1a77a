/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_account.h: what every forwarded flow hit does to the maps, the same in lvs_xdp and
 * lvs_tc: the connection's and real server's counters, last seen time, the in-kernel IPVS
 * TCP state transition and its LVS_EV_STATE event.
 */
#ifndef LVS_ACCOUNT_H
#define LVS_ACCOUNT_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "lvs_types.h"
#include "lvs_maps.h"
#include "lvs_parse.h"
#include "lvs_tcp_state.h"

/* Emit an event: LVS_EV_STATE for a state change made in the kernel, LVS_EV_SYNC for a
 * packet a sync master must consider. `pkts`: the connection's inbound packets so far. */
static __always_inline void lvs_emit(const struct lvs_pkt *pkt, __u32 kind, __u32 conn_id,
				     __u8 old, __u8 new, __u8 dir, __u64 pkts)
{
	struct lvs_event *ev = bpf_ringbuf_reserve(&LVS_EVENTS, sizeof(*ev), 0);

	if (!ev) {
		lvs_stat_inc(LVS_ST_EVENT_LOST);
		return;
	}
	ev->kind = kind;
	ev->conn_id = conn_id;
	ev->old_state = old;
	ev->new_state = new;
	ev->tcp_flags = pkt->tcp_flags;
	ev->dir = dir;
	ev->pkts = pkts > 0xffffffffULL ? 0xffffffffU : (__u32)pkts;
	__builtin_memcpy(&ev->key, &pkt->key, sizeof(ev->key));
	bpf_ringbuf_submit(ev, 0);
}

/* Counters of the connection and its real server, last seen time, TCP state. */
static __always_inline void lvs_account(const struct lvs_pkt *pkt,
					const struct lvs_flow_value *fv)
{
	__u32 conn_id = fv->conn_id;
	__u32 slot = fv->dest_slot;
	__u8 dir = fv->dir;
	__u64 bytes = pkt->ip_len;
	struct lvs_conn_state *cs = bpf_map_lookup_elem(&LVS_CONNS, &conn_id);
	struct lvs_dest_stats *ds = bpf_map_lookup_elem(&LVS_DEST_STATS, &slot);

	if (cs) {
		/* inbound packets including the first one, which the slow path handled */
		__u64 pkts = 1;

		/* shared by all CPUs: atomic adds; last_seen and state are plain stores (a
		 * concurrent packet of the same conn may win, which is harmless) */
		if (dir == LVS_DIR_OUTPUT) {
			__sync_fetch_and_add(&cs->pkts_out, 1);
			__sync_fetch_and_add(&cs->bytes_out, bytes);
			pkts += cs->pkts_in;
		} else {
			pkts += __sync_fetch_and_add(&cs->pkts_in, 1) + 1;
			__sync_fetch_and_add(&cs->bytes_in, bytes);
		}
		cs->last_seen_ns = bpf_ktime_get_ns();
		if (pkt->key.proto == IPPROTO_TCP) {
			__u8 old = cs->state;
			__u8 new = lvs_tcp_next_state(old, dir, pkt->tcp_flags);

			if (new != old) {
				cs->state = new;
				lvs_emit(pkt, LVS_EV_STATE, conn_id, old, new, dir, pkts);
				goto counted;
			}
		}
		if (dir != LVS_DIR_OUTPUT) {
			__u32 zero = 0;
			struct lvs_config *cfg = bpf_map_lookup_elem(&LVS_CONFIG, &zero);

			if (cfg && (cfg->flags & LVS_CFG_SYNC_MASTER)) {
				__u64 period = cfg->sync_period;
				__u64 due = period ? pkts % period : pkts;

				if (due == cfg->sync_threshold)
					lvs_emit(pkt, LVS_EV_SYNC, conn_id, cs->state, cs->state,
						 dir, pkts);
			}
		}
	}
counted:
	if (ds) {
		/* per-CPU: plain adds */
		if (dir == LVS_DIR_OUTPUT) {
			ds->pkts_out += 1;
			ds->bytes_out += bytes;
		} else {
			ds->pkts_in += 1;
			ds->bytes_in += bytes;
		}
	}
}

/* A new connection attempt on a finished connection's tuple (IPVS ip_vs_in: is_new_conn
 * && is_new_conn_expected): a TCP SYN without ACK or RST, in the input direction, while
 * LVS_CONNS says TIME_WAIT or CLOSE (or FIN_WAIT on a NOOUTPUT connection, for
 * conn_reuse_mode bit 2). Such a SYN must not take the old flow: the slow path's model
 * expires the old connection and schedules a new one (conn_reuse_mode 1, the default) or
 * keeps it, and counts it either way. */
static __always_inline int lvs_conn_reuse(const struct lvs_pkt *pkt,
					  const struct lvs_flow_value *fv)
{
	__u32 conn_id = fv->conn_id;
	struct lvs_conn_state *cs;
	__u8 st;

	if (pkt->key.proto != IPPROTO_TCP || fv->dir == LVS_DIR_OUTPUT)
		return 0;
	if ((pkt->tcp_flags & (LVS_TCP_SYN | LVS_TCP_ACK | LVS_TCP_RST)) != LVS_TCP_SYN)
		return 0;
	cs = bpf_map_lookup_elem(&LVS_CONNS, &conn_id);
	if (!cs)
		return 0;
	st = cs->state;
	return st == sTW || st == sCL || (st == sFW && fv->dir == LVS_DIR_INPUT_ONLY);
}

#endif /* LVS_ACCOUNT_H */
