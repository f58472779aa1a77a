/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * lvs_tcp_state.h: IPVS's TCP state table (ip_vs_proto_tcp.c tcp_states, reference §5.4),
 * the same cells as lvs_core::conn::tcp::transition (the authoritative copy; the fixture
 * tests compare all 132 cells against it).
 */
#ifndef LVS_TCP_STATE_H
#define LVS_TCP_STATE_H

#include <linux/types.h>
#include "lvs_parse.h"

enum lvs_tcp_state {
	sNO = 0, sES = 1, sSS = 2, sSR = 3, sFW = 4, sTW = 5,
	sCL = 6, sCW = 7, sLA = 8, sLI = 9, sSA = 10,
	LVS_TCP_S_LAST = 11,
};

/* [dir][event][state], dir = enum lvs_dir, event = syn 0, fin 1, ack 2, rst 3.
 * Lives in .rodata; indices are bounds-checked before use. */
static const __u8 lvs_tcp_states[3][4][LVS_TCP_S_LAST] = {
	{ /* INPUT */
		/*        sNO  sES  sSS  sSR  sFW  sTW  sCL  sCW  sLA  sLI  sSA */
		/*syn*/ { sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR },
		/*fin*/ { sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW },
		/*ack*/ { sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES },
		/*rst*/ { sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR },
	},
	{ /* OUTPUT */
		/*syn*/ { sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR },
		/*fin*/ { sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW },
		/*ack*/ { sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES },
		/*rst*/ { sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL },
	},
	{ /* INPUT_ONLY */
		/*syn*/ { sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR },
		/*fin*/ { sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW },
		/*ack*/ { sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES },
		/*rst*/ { sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL },
	},
};

/* Next state after a segment with TCP flags byte `flags` travelling `dir` from `state`.
 * The event is the first of RST, SYN, FIN, ACK present; none of them -> CLOSE.
 * An out-of-range state or dir (a corrupt map entry) is returned unchanged. */
static __always_inline __u8 lvs_tcp_next_state(__u8 state, __u8 dir, __u8 flags)
{
	__u32 ev;

	if (state >= LVS_TCP_S_LAST || dir > LVS_DIR_INPUT_ONLY)
		return state;
	if (flags & LVS_TCP_RST)
		ev = 3;
	else if (flags & LVS_TCP_SYN)
		ev = 0;
	else if (flags & LVS_TCP_FIN)
		ev = 1;
	else if (flags & LVS_TCP_ACK)
		ev = 2;
	else
		return sCL;
	return lvs_tcp_states[dir][ev][state];
}

#endif /* LVS_TCP_STATE_H */
