#!/usr/bin/env bash
# make demo, part 2: two directors `a` and `b`, each running lvsd and lvs-keepalived from an
# ordinary keepalived.conf (VRRP v3 instance VI_1 with the floating addresses,
# `lvs_sync_daemon`, virtual servers with TCP_CHECKed real servers), a client and two real
# servers, in network namespaces created (and deleted) here:
#
#   c 10.1.0.2 --br0-- a 10.1.0.3 / b 10.1.0.4 --br1-- r1 10.2.0.11, r2 10.2.0.12
#                      (eth0)          (eth1)
#
# The master holds the VIP 10.1.0.100 (the client's gateway) and 10.2.0.1 (the real
# servers' gateway); lvs-keepalived configures lvsd's NAT services (:80 HTTP, :81 a line
# echo) and its sync daemon (master on the VRRP master, backup on the backup). Then
# long-lived connections go through the master, the backup learns them, the master's lvsd
# and lvs-keepalived are SIGKILLed (links stay up) and the backup takes over: the held
# connections answer through it. Any step that must work and does not ends the script
# with a non-zero exit. The namespaces have no route anywhere else.
set -euo pipefail
BIN=${BIN:-target/release}
P=lvsfo$$
NS=(s c a b r1 r2)
HELD=8
T=/tmp/$P
LVSD_PIDS=()
cleanup() {
  local n pids
  # lvsd and lvs-keepalived stop cleanly on SIGTERM (lvsd detaches its programs);
  # whatever is left after 3 s is killed.
  for n in "${NS[@]}"; do ip netns pids "$P-$n" 2>/dev/null | xargs -r kill -TERM 2>/dev/null || true; done
  for _ in $(seq 30); do
    pids=$(for n in "${NS[@]}"; do ip netns pids "$P-$n" 2>/dev/null; done)
    [ -z "$pids" ] && break
    sleep 0.1
  done
  for n in "${NS[@]}"; do
    ip netns pids "$P-$n" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$P-$n" 2>/dev/null || true
  done
  # A veth left in this namespace by a plug() that failed half-way.
  for n in 0 1 2 3 4 5 6; do ip link del "${P}${n}x" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T"
x() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
fail() {
  echo "FAILED: $*" >&2
  for d in a b; do
    echo "--- lvs-keepalived on $d (last lines)" >&2; tail -n 15 "$T/ka-$d.log" >&2 || true
    echo "--- lvsd on $d (last lines)" >&2; tail -n 5 "$T/lvsd-$d.log" >&2 || true
  done
  exit 1
}
# wait_for WHAT SECONDS COMMAND...: poll COMMAND every 50 ms until it succeeds.
wait_for() {
  local what=$1 end=$(($(ms) + $2 * 1000)); shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(ms)" -lt "$end" ] || fail "timed out waiting for $what"
    sleep 0.05
  done
}
A() { local d=$1; shift; x "$d" "$BIN/lvsadm" --socket "$T/lvsd-$d.sock" "$@"; }
holds_vip() { x "$1" ip -o addr show dev eth0 | grep -q ' 10\.1\.0\.100/'; }
# How many lines of file $1 each real server answered.
tally() { awk '{n[$1]++} END {for (s in n) printf "   %s: %d\n", s, n[s]}' "$1" | sort; }
# The state lines lvs-keepalived logged (without tracing's timestamp and level).
states() { grep -o '(VI_1) Entering .*' "$T/ka-$1.log" | sed "s/^/   $1: /" || true; }

# ---------------------------------------------------------------- the lab
for n in "${NS[@]}"; do ip netns add "$P-$n"; x "$n" ip link set lo up; done
x s ip link add br0 type bridge; x s ip link add br1 type bridge
x s ip link set br0 up; x s ip link set br1 up
port=0
plug() { # plug NS IF BRIDGE
  ip link add "$P$port"x type veth peer name "$P$port"y
  ip link set "$P$port"x netns "$P-$1" name "$2"; ip link set "$P$port"y netns "$P-s" name "p$port"
  x "$1" ip link set "$2" up; x s ip link set "p$port" up; x s ip link set "p$port" master "$3"
  port=$((port + 1))
}
plug c eth0 br0; plug a eth0 br0; plug b eth0 br0
plug a eth1 br1; plug b eth1 br1; plug r1 eth0 br1; plug r2 eth0 br1
x c ip addr add 10.1.0.2/24 dev eth0; x c ip route add default via 10.1.0.100
x a ip addr add 10.1.0.3/24 dev eth0; x a ip addr add 10.2.0.3/24 dev eth1
x b ip addr add 10.1.0.4/24 dev eth0; x b ip addr add 10.2.0.4/24 dev eth1
for i in 1 2; do
  x "r$i" ip addr add "10.2.0.1$i/24" dev eth0; x "r$i" ip route add default via 10.2.0.1
  ip netns exec "$P-r$i" "$BIN/lvs-echo" "rs$i" --tcp "10.2.0.1$i:80" --lines "10.2.0.1$i:81" &
done
for d in a b; do
  # Not through x(): a backgrounded function is a subshell, and its pid is not lvsd's.
  # `ip netns exec` execs the command, so $! is lvsd's pid.
  NO_COLOR=1 ip netns exec "$P-$d" "$BIN/lvsd" --socket "$T/lvsd-$d.sock" 2>"$T/lvsd-$d.log" &
  LVSD_PIDS+=($!)
done
for d in a b; do wait_for "lvsd on $d" 20 A "$d" -Ln; done

# keepalived.conf of director $1 with VRRP priority $2.
conf() {
  cat <<EOF
! director $1
global_defs {
    router_id lvs_$1
    lvs_sync_daemon eth1 VI_1
}

vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $2
    version 3
    advert_int 0.1
    garp_master_delay 1
    virtual_ipaddress {
        10.1.0.100/32 dev eth0
        10.2.0.1/32 dev eth1
    }
}
EOF
  for port in 80 81; do
    cat <<EOF

virtual_server 10.1.0.100 $port {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.2.0.11 $port {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.2.0.12 $port {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
EOF
  done
}
KA_PIDS=()
start_ka() { # start_ka DIRECTOR PRIORITY
  conf "$1" "$2" >"$T/keepalived-$1.conf"
  NO_COLOR=1 LVSD_SOCKET="$T/lvsd-$1.sock" ip netns exec "$P-$1" "$BIN/lvs-keepalived" -n -l \
    -f "$T/keepalived-$1.conf" -p "$T/ka-$1.pid" 2>"$T/ka-$1.log" &
  KA_PIDS+=($!)
}

t_start=$(ms)
echo "== failover lab: client c, directors a and b (lvsd + lvs-keepalived each), real servers r1 r2"
echo "== lvs-keepalived on a (priority 150) and b (priority 100); a's keepalived.conf:"
conf a 150 | sed '/^virtual_server 10.1.0.100 81/,$d; s/^/   /'
echo "   virtual_server 10.1.0.100 81 { the same for the line echo on port 81 }"
start_ka a 150
wait_for "a to become VRRP master (VIP on a)" 10 holds_vip a
start_ka b 100
# Both lvsd have both services with both real servers (TCP_CHECK passed).
configured() { [ "$(A "$1" -Ln | grep -c -- '-> 10\.2\.0\.1[12]:8[01] ')" = 4 ]; }
wait_for "lvs-keepalived to configure lvsd on a" 20 configured a
wait_for "lvs-keepalived to configure lvsd on b" 20 configured b
sync_roles() {
  A a -L --daemon | grep -q '^master sync daemon' && A b -L --daemon | grep -q '^backup sync daemon'
}
wait_for "the sync daemons (master on a, backup on b)" 10 sync_roles
holds_vip b && fail "both directors hold the VIP"

echo "== VRRP: a is MASTER (the VIP is on a's eth0, not on b's); lvs-keepalived logged:"
states a; states b
for d in a b; do printf '   %s eth0: %s\n' "$d" "$(x "$d" ip -o -4 addr show dev eth0 | awk '{print $4}' | xargs)"; done
for d in a b; do echo "== lvsadm -Ln on $d (put there by lvs-keepalived)"; A "$d" -Ln; done
for d in a b; do echo "== lvsadm -L --daemon on $d"; A "$d" -L --daemon; done

echo "== 4 requests to http://10.1.0.100/ (through a)"
before=()
for _ in 1 2 3 4; do
  l=$(x c curl -s -m 3 http://10.1.0.100/) || fail "no answer through a"
  echo "   $l"; before+=("${l%% *}")
done
[ "$(printf '%s\n' "${before[@]}" | sort -u | wc -l)" = 2 ] || fail "not both real servers answered"

echo "== $HELD long-lived TCP connections to 10.1.0.100:81 through a (lvs-echo --hold), first line:"
ip netns exec "$P-c" "$BIN/lvs-echo" --hold 10.1.0.100:81 "$HELD" "$T" 2>"$T/hold.log" &
wait_for "the held connections" 15 test -e "$T/round1"
tally "$T/round1"
# b learns a's connections from the sync daemon (a sync master sends a buffer when it is
# full or 2 s old, as IPVS does).
learnt() { [ "$(A b -Lnc | awk '$3 == "ESTABLISHED" && $5 == "10.1.0.100:81"' | wc -l)" -ge "$HELD" ]; }
wait_for "b to learn the held connections" 10 learnt
echo "== lvsadm -Lnc on b (the backup: connections learnt from a's sync daemon)"
A b -Lnc

echo "== SIGKILL of a's lvsd and lvs-keepalived (a's links stay up)"
t0=$(ms)
kill -9 "${LVSD_PIDS[0]}" "${KA_PIDS[0]}"
wait "${LVSD_PIDS[0]}" "${KA_PIDS[0]}" 2>/dev/null || true
until holds_vip b; do
  [ $(($(ms) - t0)) -lt 10000 ] || fail "b did not take the VIP within 10 s"
  sleep 0.01
done
t_vip=$(($(ms) - t0))
until x c curl -s -m 0.3 -o /dev/null http://10.1.0.100/; do
  [ $(($(ms) - t0)) -lt 15000 ] || fail "no answer through the VIP 15 s after the SIGKILL"
done
t_answer=$(($(ms) - t0))
echo "   VIP on b after ${t_vip} ms, first answer through the VIP after ${t_answer} ms"
echo "   b's lvs-keepalived logged:"; states b
for d in a b; do printf '   %s eth0: %s\n' "$d" "$(x "$d" ip -o -4 addr show dev eth0 | awk '{print $4}' | xargs)"; done
echo "   (a's kernel keeps the VIP: its lvs-keepalived was killed, not stopped; the client and"
echo "   the real servers follow b's gratuitous ARPs)"

echo "== the $HELD held connections, second line (through b now):"
touch "$T/go"
wait_for "the held connections' second round" 30 test -e "$T/round2"
tally "$T/round2"
same=$(paste -d' ' <(awk '{print $1}' "$T/round1") <(awk '{print $1}' "$T/round2") | awk '$1 == $2 && $1 ~ /^server=/' | wc -l)
echo "   $same/$HELD held connections answered by the same real server as before the failover"
[ "$same" = "$HELD" ] || { paste "$T/round1" "$T/round2" >&2; fail "held connections lost in the failover"; }

# The client and the real servers send to b now (what b's gratuitous ARPs told them).
mac() { x "$1" cat "/sys/class/net/$2/address"; }
neigh() { x "$1" ip neigh show "$2" dev eth0 | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2; }
[ "$(neigh c 10.1.0.100)" = "$(mac b eth0)" ] || fail "the client does not send to b: $(x c ip neigh)"
for r in r1 r2; do
  [ "$(neigh "$r" 10.2.0.1)" = "$(mac b eth1)" ] || fail "$r does not send to b: $(x "$r" ip neigh)"
done
echo "   (the client's and the real servers' ARP entries for 10.1.0.100 and 10.2.0.1 name b)"
echo "== 4 new requests to http://10.1.0.100/ (through b)"
after=()
for _ in 1 2 3 4; do
  l=$(x c curl -s -m 3 http://10.1.0.100/) || fail "no answer through b"
  echo "   $l"; after+=("${l%% *}")
done
[ "$(printf '%s\n' "${after[@]}" | sort -u | wc -l)" = 2 ] || fail "new requests not balanced over both real servers"
echo "== lvsadm -L --daemon on b (lvs-keepalived switched it to master)"
A b -L --daemon | tee "$T/daemon-b"
grep -q '^master sync daemon' "$T/daemon-b" || fail "b's sync daemon is not master"
echo "== failover part done in $(( ($(ms) - t_start) / 1000 )) s; tearing down"
