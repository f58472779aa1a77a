#!/bin/bash
# Bulk HTTP download time, client -> director -> real server, in throw-away network
# namespaces (nothing leaves them). Run as root from the repository root after
# `cargo build --release --workspace --bins`. Three ways through the same director
# namespace, in this order:
#   1. kernel forwarding to the real server's address (no NAT, lvsd not running);
#   2. nftables DNAT VIP:80 -> RS:8080 on the director (conntrack; the peer: IPVS itself
#      is not in this kernel);
#   3. lvsd NAT VIP:80 -> RS:8080 (lvs_xdp in generic mode + lvs_tc on the veths).
# Prints the median / min / max of RUNS downloads of N bytes (curl's time_total) and how
# many came back short. N=100000000 RUNS=5 by default.
set -euo pipefail
N=${N:-100000000}
RUNS=${RUNS:-5}
BIN=${BIN:-target/release}
P=lvp$$
cleanup() {
    for n in c d r1; do
        ip netns pids $P-$n 2>/dev/null | xargs -r kill -9
        ip netns del $P-$n 2>/dev/null || true
    done
    rm -f /tmp/$P.sock
}
trap cleanup EXIT
for n in c d r1; do ip netns add $P-$n; ip -n $P-$n link set lo up; done
ip link add ${P}a type veth peer name ${P}b
ip link set ${P}a netns $P-c name eth0
ip link set ${P}b netns $P-d name eth0
ip link add ${P}e type veth peer name ${P}f
ip link set ${P}e netns $P-d name eth1
ip link set ${P}f netns $P-r1 name eth0
ip -n $P-c link set eth0 up; ip -n $P-r1 link set eth0 up
ip -n $P-d link set eth0 up; ip -n $P-d link set eth1 up
ip -n $P-c addr add 10.1.0.2/24 dev eth0; ip -n $P-c route add default via 10.1.0.1
ip -n $P-d addr add 10.1.0.1/24 dev eth0; ip -n $P-d addr add 10.1.0.100/32 dev eth0
ip -n $P-d addr add 10.2.1.1/24 dev eth1
ip -n $P-r1 addr add 10.2.1.11/24 dev eth0; ip -n $P-r1 route add default via 10.2.1.1
ip netns exec $P-d sysctl -qw net.ipv4.ip_forward=1
ip netns exec $P-r1 $BIN/lvs-echo rs1 --tcp 10.2.1.11:8080 >/dev/null 2>&1 &
disown
sleep 0.5

get() {
    for _ in $(seq "$RUNS"); do
        ip netns exec $P-c curl -s -m 300 -o /dev/null -w "%{time_total} %{size_download}\n" "$1"
    done | sort -n | awk -v t="$2" -v n="$N" '
        { a[NR] = $1; if ($2 != n) bad++ }
        END { printf "%-36s median %.2f s  (min %.2f, max %.2f; %d runs, %d short)\n",
                     t, a[int((NR + 1) / 2)], a[1], a[NR], NR, bad }'
}

get "http://10.2.1.11:8080/bytes/$N" "kernel forwarding, no NAT"
ip netns exec $P-d nft -f - <<NFT
table ip lvsperf {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr 10.1.0.100 tcp dport 80 dnat to 10.2.1.11:8080
  }
}
NFT
get "http://10.1.0.100/bytes/$N" "nftables DNAT (conntrack)"
ip netns exec $P-d nft delete table ip lvsperf
ip netns exec $P-d $BIN/lvsd --socket /tmp/$P.sock >/dev/null 2>&1 &
disown
for _ in $(seq 100); do [ -S /tmp/$P.sock ] && break; sleep 0.1; done
A="ip netns exec $P-d $BIN/lvsadm --socket /tmp/$P.sock"
$A -A -t 10.1.0.100:80 -s rr
$A -a -t 10.1.0.100:80 -r 10.2.1.11:8080 -m
get "http://10.1.0.100/bytes/$N" "lvsd NAT (generic XDP + lvs_tc)"
sleep 1.2 # lvsd refreshes its status every second
echo "lvsd data plane: $(curl -s --unix-socket /tmp/$P.sock http://x/v1/dataplane)"
