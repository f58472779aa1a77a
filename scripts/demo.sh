#!/usr/bin/env bash
# make demo: a director (lvsd) between a client and two real servers, in network
# namespaces created (and deleted) here, one virtual service per forwarding method:
#   NAT      10.0.0.100:80  -> RIP:8080        (-m)
#   FULLNAT  10.0.0.100:81  -> RIP:8080        (--fullnat, local address 10.2.0.200)
#   DR       10.0.0.101:80  -> RIP:80          (-g, VIP on the real servers' lo)
#   TUN      10.0.0.102:80  -> RIP:80 in IPIP  (-i, decapsulated by `lvsadm realserver`)
# The client asks each VIP a few times; every answer names the real server and the client
# address that server saw. Then lvsadm -Ln and -Lnc, and everything is torn down.
# The VIPs (10.0.0.0/24) are not addresses of the director: the client reaches them through
# its route via the director, and the real servers answer DR/TUN clients through the
# director as a plain router. Traffic stays between the namespaces; they have no route
# anywhere else.
set -euo pipefail
BIN=${BIN:-target/release}
P=lvsdemo$$
NS=(c d s r1 r2)
cleanup() {
  # SIGTERM first: lvsd then detaches its programs; whatever is left after 3 s is
  # killed.
  for n in "${NS[@]}"; do ip netns pids "$P-$n" 2>/dev/null | xargs -r kill -TERM 2>/dev/null || true; done
  for _ in $(seq 30); do
    [ -z "$(for n in "${NS[@]}"; do ip netns pids "$P-$n" 2>/dev/null; done)" ] && break
    sleep 0.1
  done
  for n in "${NS[@]}"; do
    ip netns pids "$P-$n" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$P-$n" 2>/dev/null || true
  done
  rm -f "/tmp/$P.sock" "/tmp/$P-lvsd.log"
}
trap cleanup EXIT
x() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }

for n in "${NS[@]}"; do ip netns add "$P-$n"; x "$n" ip link set lo up; done
link() { # link NS_A IF_A NS_B IF_B
  ip link add "$P$5a" type veth peer name "$P$5b"
  ip link set "$P$5a" netns "$P-$1" name "$2"; ip link set "$P$5b" netns "$P-$3" name "$4"
  x "$1" ip link set "$2" up; x "$3" ip link set "$4" up
}
link c eth0 d eth0 1
x s ip link add br0 type bridge; x s ip link set br0 up
link d eth1 s p0 2; link r1 eth0 s p1 3; link r2 eth0 s p2 4
for p in p0 p1 p2; do x s ip link set "$p" master br0; done
x c ip addr add 10.1.0.2/24 dev eth0; x c ip route add default via 10.1.0.1
x d ip addr add 10.1.0.1/24 dev eth0; x d ip addr add 10.2.0.1/24 dev eth1
x d ip addr add 10.2.0.200/32 dev lo
for i in 1 2; do
  x "r$i" ip addr add "10.2.0.1$i/24" dev eth0; x "r$i" ip route add default via 10.2.0.1
done

echo "== real servers: lvs-echo on :8080 (NAT, FULLNAT) and on the VIPs :80 (DR, TUN)"
for i in 1 2; do
  x "r$i" "$BIN/lvsadm" realserver setup --vip 10.0.0.101 --vip 10.0.0.102 --method tun >/dev/null
  # (background processes started without x(): a backgrounded function is a subshell,
  # which reports the signal that ends its child at teardown)
  ip netns exec "$P-r$i" "$BIN/lvs-echo" "rs$i" --tcp "10.2.0.1$i:8080" --tcp 10.0.0.101:80 --tcp 10.0.0.102:80 &
done
export LVSD_SOCKET=/tmp/$P.sock
ip netns exec "$P-d" "$BIN/lvsd" 2>"/tmp/$P-lvsd.log" &
for _ in $(seq 100); do x d "$BIN/lvsadm" -Ln >/dev/null 2>&1 && break; sleep 0.1; done
A() { echo "# lvsadm $*"; x d "$BIN/lvsadm" "$@"; }
A -A -t 10.0.0.100:80 -s rr
A -a -t 10.0.0.100:80 -r 10.2.0.11:8080 -m
A -a -t 10.0.0.100:80 -r 10.2.0.12:8080 -m
A -A -t 10.0.0.100:81 -s rr
A -a -t 10.0.0.100:81 -r 10.2.0.11:8080 --fullnat
A -a -t 10.0.0.100:81 -r 10.2.0.12:8080 --fullnat
A --add-laddr -z 10.2.0.200 -t 10.0.0.100:81
A -A -t 10.0.0.101:80 -s wrr
A -a -t 10.0.0.101:80 -r 10.2.0.11 -g -w 3
A -a -t 10.0.0.101:80 -r 10.2.0.12 -g -w 1
A -A -t 10.0.0.102:80 -s rr
A -a -t 10.0.0.102:80 -r 10.2.0.11 -i
A -a -t 10.0.0.102:80 -r 10.2.0.12 -i
ask() { # ask LABEL URL N
  echo "== $1: $3 requests to $2"
  for _ in $(seq "$3"); do printf '   %s\n' "$(x c curl -s -m 3 "$2" || echo 'no answer')"; done
}
ask "NAT (rr)" http://10.0.0.100/ 4
ask "FULLNAT (rr; servers see the local address)" http://10.0.0.100:81/ 4
ask "DR (wrr 3:1)" http://10.0.0.101/ 8
ask "TUN (rr, IPIP)" http://10.0.0.102/ 4
sleep 1.2
echo "== lvsadm -Ln"; x d "$BIN/lvsadm" -Ln
echo "== lvsadm -Ln --stats"; x d "$BIN/lvsadm" -Ln --stats
echo "== lvsadm -Lnc"; x d "$BIN/lvsadm" -Lnc
echo "== tearing down"
if [ -n "${DEMO_DEBUG:-}" ]; then
  cat "/tmp/$P-lvsd.log"; curl -s --unix-socket "$LVSD_SOCKET" http://x/v1/dataplane
fi
