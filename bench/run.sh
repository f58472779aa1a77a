#!/bin/bash
# bench/run.sh: the forwarding benchmark of DESIGN.md ("How we measure performance").
# Run as root: `make bench` (or bench/run.sh). Results: bench/results/last.{txt,tsv}.
#
#   client ns --veth-- director ns --veth-- rs1 ns        (BENCH_L2=direct, the default)
#   (trafgen)          (under test) --veth-- rs2 ns
#   client ns --veth-- director ns --veth-- switch ns (bridge) --veth-- rs1 ns, rs2 ns
#                                                         (BENCH_L2=bridge)
# trafgen sends 64-byte UDP frames to the VIP (to rs1's address for plain routing); the real
# servers count and drop them with a tiny native XDP program (bench/sink.bpf.c); we report
# the packets per second that reach them. Director configurations, each measured on a fresh
# copy of the same topology, interleaved within every repetition:
#   route       plain kernel forwarding to one real-server address (no load balancing)
#   route-xdpg  the same with an XDP_PASS program in generic mode on the director's ingress:
#               not a peer, a reference for what generic XDP itself costs
#   nft         nftables DNAT, `dnat to numgen inc mod 2 map { 0 : RIP1, 1 : RIP2 }`
#               (what kube-proxy's nftables mode does)
#   nftfwd      DR peer: nftables netdev ingress, `numgen inc mod 2 vmap` to chains that set
#               the real server's MAC address and `fwd` (stateless DR with nftables)
#   lvs-nat     lvsd + `lvsadm -A -u VIP:80 -s rr`, two real servers `-m`
#   lvs-dr      the same with `-g` (real servers own the VIP on lo, arp_ignore/announce)
# Flow modes: est = 64 fixed 5-tuples (established during the warm-up, before counting);
#             new = every packet a new 5-tuple (random source address in a /16, random port).
# CPUs: trafgen runs on BENCH_GEN_CPU; the director's receive path (RPS on its client-facing
# veth), the real servers' sinks and lvsd run on BENCH_DUT_CPU: one core per director.
#
# Network rule: namespaces only, per-run unique names, no route outside, all deleted on exit
# (also on failure). The only change outside them: net.core.wmem_default is raised for half a
# second while trafgen opens its socket, and restored (see wmem_restore).
# Knobs (environment): BENCH_SECONDS (5) BENCH_REPS (5) BENCH_WARMUP (2) BENCH_MODES
# ("est new") BENCH_CONFIGS (all above) BENCH_L2 (direct) BENCH_GEN_CPU (0) BENCH_DUT_CPU (1)
# BENCH_LVSD_CPUS (= DUT CPU) BENCH_OUT (bench/results) BENCH_NO_BUILD BENCH_DEBUG (a file for
# link statistics and logs) LVSD_ARGS (extra lvsd arguments).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DUR=${BENCH_SECONDS:-5}
REPS=${BENCH_REPS:-5}
WARM=${BENCH_WARMUP:-2}
MODES=${BENCH_MODES:-est new}
CONFIGS=${BENCH_CONFIGS:-route route-xdpg nft nftfwd lvs-nat lvs-dr}
GEN_CPU=${BENCH_GEN_CPU:-0}
DUT_CPU=${BENCH_DUT_CPU:-1}
OUT=${BENCH_OUT:-$ROOT/bench/results}
LVSD_ARGS=${LVSD_ARGS:-}
LVSD_CPUS=${BENCH_LVSD_CPUS:-$DUT_CPU}

VIP=10.1.0.100
CIP=10.1.0.2
DIP=10.1.0.1
L2=${BENCH_L2:-direct}
case $L2 in
bridge) RIP1=10.2.0.11 RIP2=10.2.0.12 ;;
direct) RIP1=10.2.1.11 RIP2=10.2.2.12 ;;
*) echo "BENCH_L2 must be bridge or direct" >&2; exit 1 ;;
esac
NEWNET=10.200 # new-flow mode: sources 10.200.x.y

log() { echo "bench: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (network namespaces, XDP)"
[ "$(nproc)" -gt "$DUT_CPU" ] && [ "$(nproc)" -gt "$GEN_CPU" ] ||
	die "needs CPUs $GEN_CPU (generator) and $DUT_CPU (director); this machine has $(nproc)"

# ---- packages (idempotent, quiet) ------------------------------------------------------
PKGS="netsniff-ng nftables ethtool iproute2 bpftool clang-19 libbpf-dev linux-libc-dev jq util-linux procps"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
	log "installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# ---- build ------------------------------------------------------------------------------
if [ -z "${BENCH_NO_BUILD:-}" ]; then
	log "building lvsd and lvsadm (release)"
	(cd "$ROOT" && cargo build --release -q -p lvsd -p lvsadm)
fi
LVSD=$ROOT/target/release/lvsd
LVSADM=$ROOT/target/release/lvsadm
[ -x "$LVSD" ] && [ -x "$LVSADM" ] || die "missing $LVSD or $LVSADM"

RUN=lvb$$$(printf '%04x' $((RANDOM % 65536)))
TMP=$(mktemp -d "/tmp/$RUN.XXXX")
clang-19 -O2 -g -target bpf -I/usr/include/"$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)" \
	-c "$ROOT/bench/sink.bpf.c" -o "$TMP/sink.o"

# ---- namespaces -------------------------------------------------------------------------
NSLIST=()
PIDS=()
teardown() {
	local p n
	for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
	for n in "${NSLIST[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$n" 2>/dev/null || true
	done
	NSLIST=()
}
# trafgen's send ring fails (EAGAIN, "Flushing TX_RING failed") once its socket's send
# buffer is full of frames queued towards the director's CPU. trafgen raises
# net.core.wmem_default itself, but that sysctl is writable only from the initial network
# namespace: we raise it while trafgen opens its socket and put it back at once.
WMEM_SAVED=$(cat /proc/sys/net/core/wmem_default)
wmem_restore() { echo "$WMEM_SAVED" >/proc/sys/net/core/wmem_default; }
cleanup() { wmem_restore; teardown; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
mac() { ip -n "$1" -j link show dev "$2" | jq -r '.[0].address'; }

# Build the topology for one measurement; sets C D R1 R2 (and SW), the MACs, SINK_MAPS.
#   L2=bridge: director eth1 -- switch namespace (bridge br0) -- rs1, rs2 (one subnet)
#   L2=direct: director eth1 -- rs1, director eth2 -- rs2 (a subnet per link)
topo_up() {
	local id=$1 n i
	C=$RUN-$id-c D=$RUN-$id-d SW=$RUN-$id-sw R1=$RUN-$id-r1 R2=$RUN-$id-r2
	local all=("$C" "$D" "$R1" "$R2")
	[ "$L2" = bridge ] && all+=("$SW")
	for n in "${all[@]}"; do
		ip netns add "$n"
		NSLIST+=("$n")
		ip -n "$n" link set lo up
		nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	ip link add eth0 netns "$C" type veth peer name eth0 netns "$D"
	if [ "$L2" = bridge ]; then
		ip link add eth1 netns "$D" type veth peer name p0 netns "$SW"
		ip link add eth0 netns "$R1" type veth peer name p1 netns "$SW"
		ip link add eth0 netns "$R2" type veth peer name p2 netns "$SW"
		ip -n "$SW" link add br0 type bridge
		for n in p0 p1 p2; do ip -n "$SW" link set "$n" master br0 up; done
		ip -n "$SW" link set br0 up
		if [ -n "${BENCH_DOWNSTREAM_CPU:-}" ]; then # bridge and sinks on another CPU
			nsx "$SW" sh -c "printf '%x' $((1 << BENCH_DOWNSTREAM_CPU)) > /sys/class/net/p0/queues/rx-0/rps_cpus"
		fi
		DEV1=eth1 DEV2=eth1 GW1=10.2.0.1 GW2=10.2.0.1
		ip -n "$D" addr add 10.2.0.1/24 dev eth1
	else
		ip link add eth1 netns "$D" type veth peer name eth0 netns "$R1"
		ip link add eth2 netns "$D" type veth peer name eth0 netns "$R2"
		DEV1=eth1 DEV2=eth2 GW1=10.2.1.1 GW2=10.2.2.1
		ip -n "$D" addr add $GW1/24 dev eth1
		ip -n "$D" addr add $GW2/24 dev eth2
		ip -n "$D" link set eth2 up
	fi
	# client
	ip -n "$C" addr add $CIP/24 dev eth0
	ip -n "$C" link set eth0 up
	ip -n "$C" route add default via $DIP
	nsx "$C" ethtool -K eth0 tx off >/dev/null 2>&1 || true
	# director
	ip -n "$D" addr add $DIP/24 dev eth0
	ip -n "$D" addr add $VIP/32 dev eth0
	ip -n "$D" link set eth0 up
	ip -n "$D" link set eth1 up
	ip -n "$D" route add $NEWNET.0.0/16 via $CIP
	nsx "$D" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	for i in eth0 eth1 eth2; do nsx "$D" sysctl -qw "net.ipv4.conf.$i.rp_filter=0" 2>/dev/null || true; done
	# the director's receive path runs on DUT_CPU
	nsx "$D" sh -c "printf '%x' $((1 << DUT_CPU)) > /sys/class/net/eth0/queues/rx-0/rps_cpus"
	# real servers
	ip -n "$R1" addr add $RIP1/24 dev eth0
	ip -n "$R2" addr add $RIP2/24 dev eth0
	for n in "$R1" "$R2"; do
		ip -n "$n" link set eth0 up
		ip -n "$n" link set dev eth0 xdpdrv obj "$TMP/sink.o" sec xdp program sink
	done
	ip -n "$R1" route add default via $GW1
	ip -n "$R2" route add default via $GW2
	# static neighbours (and bridge entries): no ARP, no flooding during a run
	DMAC=$(mac "$D" eth0) DMAC1=$(mac "$D" $DEV1) DMAC2=$(mac "$D" $DEV2)
	RMAC1=$(mac "$R1" eth0) RMAC2=$(mac "$R2" eth0)
	ip -n "$C" neigh replace $DIP lladdr "$DMAC" dev eth0 nud permanent
	ip -n "$D" neigh replace $CIP lladdr "$(mac "$C" eth0)" dev eth0 nud permanent
	ip -n "$D" neigh replace $RIP1 lladdr "$RMAC1" dev $DEV1 nud permanent
	ip -n "$D" neigh replace $RIP2 lladdr "$RMAC2" dev $DEV2 nud permanent
	ip -n "$R1" neigh replace $GW1 lladdr "$DMAC1" dev eth0 nud permanent
	ip -n "$R2" neigh replace $GW2 lladdr "$DMAC2" dev eth0 nud permanent
	if [ "$L2" = bridge ]; then
		bridge -n "$SW" fdb replace "$DMAC1" dev p0 master static
		bridge -n "$SW" fdb replace "$RMAC1" dev p1 master static
		bridge -n "$SW" fdb replace "$RMAC2" dev p2 master static
	fi
	SINK_MAPS=()
	for n in "$R1" "$R2"; do
		local pid
		pid=$(ip -n "$n" -j link show dev eth0 | jq '.[0].xdp.prog.id')
		SINK_MAPS+=("$(bpftool -j prog show id "$pid" | jq '.map_ids[0]')")
	done
}

sink_count() { # packets counted by the sink of real server $1 (0 or 1)
	bpftool -j map dump id "${SINK_MAPS[$1]}" | jq '[.[0].formatted.values[].value] | add'
}
cpu_ticks() { # "busy total irq+softirq" ticks (USER_HZ) of CPU $1
	awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t, $7 + $8 }' /proc/stat
}
proc_ticks() { # user+system ticks of process $1 (0 when there is none)
	if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then awk '{ print $14 + $15 }' "/proc/$1/stat"; else echo 0; fi
}
client_tx() { # frames the client's veth handed on + frames the director's backlog refused
	nsx "$C" sh -c 'echo $(( $(cat /sys/class/net/eth0/statistics/tx_packets) + $(cat /sys/class/net/eth0/statistics/tx_dropped) ))'
}

LVSD_PID=
start_lvsd() { # $1 = -m | -g
	local sock=$TMP/lvsd-$ID.sock
	LVSD_SOCKET=$sock setsid ip netns exec "$D" taskset -c "$LVSD_CPUS" "$LVSD" $LVSD_ARGS \
		>"$TMP/lvsd-$ID.log" 2>&1 &
	LVSD_PID=$!
	PIDS+=("$LVSD_PID")
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || { cat "$TMP/lvsd-$ID.log" >&2; die "lvsd did not start"; }
	local A=(env LVSD_SOCKET="$sock" ip netns exec "$D" "$LVSADM")
	"${A[@]}" -A -u $VIP:80 -s rr
	"${A[@]}" -a -u $VIP:80 -r $RIP1:80 "$1"
	"${A[@]}" -a -u $VIP:80 -r $RIP2:80 "$1"
	XDP_MODE=$(sed 's/\x1b\[[0-9;]*m//g' "$TMP/lvsd-$ID.log" | grep -o 'mode=[a-z]*' | sort -u | sed 's/^mode=//' | paste -sd, - || true)
}

configure() { # $1 = configuration
	case $1 in
	route) ;;
	route-xdpg) ip -n "$D" link set dev eth0 xdpgeneric obj "$TMP/sink.o" sec xdp program pass ;;
	nft)
		nsx "$D" nft -f - <<-EOF
			table ip bench {
				chain pre {
					type nat hook prerouting priority dstnat; policy accept;
					ip daddr $VIP udp dport 80 dnat to numgen inc mod 2 map { 0 : $RIP1, 1 : $RIP2 }
				}
			}
		EOF
		;;
	nftfwd)
		dr_realservers
		nsx "$D" nft -f - <<-EOF
			table netdev bench {
				chain in {
					type filter hook ingress device eth0 priority 0; policy accept;
					ip daddr $VIP udp dport 80 numgen inc mod 2 vmap { 0 : goto rs1, 1 : goto rs2 }
				}
				chain rs1 { ether saddr set $DMAC1 ether daddr set $RMAC1 fwd to $DEV1; }
				chain rs2 { ether saddr set $DMAC2 ether daddr set $RMAC2 fwd to $DEV2; }
			}
		EOF
		;;
	lvs-nat) start_lvsd -m ;;
	lvs-dr)
		dr_realservers
		start_lvsd -g
		;;
	*) die "unknown configuration $1" ;;
	esac
}

dr_realservers() { # the LVS-DR real-server set-up: VIP on lo, no ARP for it
	local n
	for n in "$R1" "$R2"; do
		ip -n "$n" addr add $VIP/32 dev lo
		nsx "$n" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	done
}

trafgen_conf() { # $1 = configuration, $2 = mode
	local da=$VIP
	[ "${1%-xdpg}" = route ] && da=$RIP1
	if [ "$2" = est ]; then
		echo "{ eth(da=$DMAC), ipv4(sa=$CIP, da=$da, ttl=64), udp(sp=dinc(10000, 10063, 1), dp=80), fill(0x41, 18) }"
	else
		echo "{ eth(da=$DMAC), ipv4(sa=$NEWNET.0.0, sa[2:2]=drnd(), da=$da, ttl=64), udp(sp=drnd(1024, 65535), dp=80), fill(0x41, 18) }"
	fi
}

# ---- one measurement ----------------------------------------------------------------------
SEQ=0
HZ_USER=$(getconf CLK_TCK)
RESULTS=$TMP/results.tsv
: >"$RESULTS"
measure() { # $1 = mode, $2 = configuration, $3 = repetition
	local mode=$1 cfg=$2 rep=$3 tg t0 t1 a0 a1 b0 b1 x0 x1
	ID=$mode-$cfg-$rep
	ID=${ID//lvs-/l}
	SEQ=$((SEQ + 1))
	topo_up "$SEQ"
	XDP_MODE=-
	configure "$cfg"
	trafgen_conf "$cfg" "$mode" >"$TMP/tg.cfg"
	echo 4194304 >/proc/sys/net/core/wmem_default
	setsid ip netns exec "$C" taskset -c "$GEN_CPU" trafgen --dev eth0 --conf "$TMP/tg.cfg" \
		--cpus 1 -Q -C >"$TMP/trafgen.log" 2>&1 &
	tg=$!
	PIDS+=("$tg")
	sleep 0.5
	wmem_restore
	sleep "$WARM"
	kill -0 "$tg" 2>/dev/null || { cat "$TMP/trafgen.log" >&2; die "trafgen exited"; }
	t0=$(date +%s.%N) a0=$(sink_count 0) b0=$(sink_count 1) x0=$(client_tx)
	read -r gb0 gt0 _ < <(cpu_ticks "$GEN_CPU")
	read -r db0 dt0 ds0 < <(cpu_ticks "$DUT_CPU")
	l0=$(proc_ticks "$LVSD_PID")
	sleep "$DUR"
	read -r gb1 gt1 _ < <(cpu_ticks "$GEN_CPU")
	read -r db1 dt1 ds1 < <(cpu_ticks "$DUT_CPU")
	l1=$(proc_ticks "$LVSD_PID")
	t1=$(date +%s.%N) a1=$(sink_count 0) b1=$(sink_count 1) x1=$(client_tx)
	if [ -n "$LVSD_PID" ] && [ "${cfg#lvs-}" != "$cfg" ]; then
		env LVSD_SOCKET="$TMP/lvsd-$ID.sock" ip netns exec "$D" "$LVSADM" -Ln --stats \
			>"$TMP/lvsadm-$ID.txt" 2>&1 || true
	fi
	if [ -n "${BENCH_DEBUG:-}" ]; then
		{
			echo "== $ID"
			for n in "$C" "$D" "$R1" "$R2"; do echo "-- $n"; ip -n "$n" -s link; done
			cat /proc/net/softnet_stat
			[ -f "$TMP/lvsd-$ID.log" ] && cat "$TMP/lvsd-$ID.log"
			cat "$TMP/trafgen.log"
		} >>"${BENCH_DEBUG}" 2>&1
	fi
	teardown
	LVSD_PID=
	awk -v mode="$mode" -v cfg="$cfg" -v rep="$rep" -v t0="$t0" -v t1="$t1" \
		-v a="$((a1 - a0))" -v b="$((b1 - b0))" -v x="$((x1 - x0))" -v xm="${XDP_MODE:--}" \
		-v cores="$(awk -v s=$((ds1 - ds0)) -v l=$((l1 - l0)) -v hz="$HZ_USER" 'BEGIN { print (s + l) / hz }')" \
		-v gbusy="$(((gb1 - gb0) * 100 / (gt1 - gt0)))" -v dbusy="$(((db1 - db0) * 100 / (dt1 - dt0)))" \
		'BEGIN { d = t1 - t0; printf "%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.3f\t%s\t%d\t%d\t%.3f\t%.0f\n",
		         mode, cfg, rep, (a + b) / d, a / d, b / d, x / d, d, xm, gbusy, dbusy,
		         cores, (cores > 0 ? (a + b) / cores : 0) }' | tee -a "$RESULTS" |
		awk -F'\t' '{ printf "bench: %-3s %-8s rep %d  delivered %9d pps (rs1 %9d, rs2 %9d)  offered %9d pps  busy gen %3d%% dut %3d%%  director %.2f core-s: %7d pkt per core-s\n",
		              $1, $2, $3, $4, $5, $6, $7, $10, $11, $12, $13 }' >&2
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "run $RUN: $(nproc) CPUs, generator on CPU $GEN_CPU, director on CPU $DUT_CPU;" \
	"$REPS x ${DUR}s per configuration after ${WARM}s warm-up; modes: $MODES; configs: $CONFIGS"
for rep in $(seq "$REPS"); do
	for mode in $MODES; do
		for cfg in $CONFIGS; do measure "$mode" "$cfg" "$rep"; done
	done
done

# ---- summary --------------------------------------------------------------------------------
mkdir -p "$OUT"
STAMP=$(date -u +%Y-%m-%dT%H:%M:%SZ)
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
CPU_MODEL=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "# make bench ($STAMP, commit $REV)"
	echo "# kernel $(uname -r), $(nproc) CPUs ($CPU_MODEL), generator CPU $GEN_CPU, director CPU $DUT_CPU"
	echo "# $REPS repetitions x ${DUR}s after ${WARM}s warm-up; 64-byte UDP frames; L2=$L2; LVSD_ARGS='$LVSD_ARGS'"
	echo "# load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
	printf "mode\tconfig\trep\tdelivered_pps\trs1_pps\trs2_pps\toffered_pps\tseconds\tlvsd_xdp\tgen_cpu_busy_pct\tdut_cpu_busy_pct\tdirector_core_seconds\tpkts_per_core_second\n"
	cat "$RESULTS"
} >"$OUT/last.tsv"

awk -F'\t' -f "$ROOT/bench/summary.awk" "$OUT/last.tsv" >"$OUT/last.md"
{
	echo "make bench, $STAMP, commit $REV"
	echo "kernel $(uname -r), $(nproc) CPUs ($CPU_MODEL); generator CPU $GEN_CPU, director CPU $DUT_CPU"
	echo "$REPS x ${DUR}s per configuration after ${WARM}s warm-up, 64-byte UDP frames, L2=$L2"
	echo "load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "lvsd XDP attach: $(awk -F'\t' '$2 ~ /^lvs-/ { print $9 }' "$RESULTS" | sort -u | tr '\n' ' ')"
	echo
	cat "$OUT/last.md"
} | tee "$OUT/last.txt"
rm -f "$OUT/last.md"
