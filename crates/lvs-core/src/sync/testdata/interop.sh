# Sync interop: Linux IPVS (namespace k) and lvs-rs lvsd (namespace r) as two directors of
# one NAT service, each in turn master and backup. Prints both directors' connection
# tables and whether held connections survive a failover from one to the other.
set -u
H=/host
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
for n in sw cl k r rs1 rs2; do ip netns add $n; ip -n $n link set lo up; done
ip -n sw link add br0 type bridge; ip -n sw link add br1 type bridge
ip -n sw link set br0 up; ip -n sw link set br1 up
i=0
plug() { ip link add x$i netns $1 type veth peer name p$i netns sw; ip -n $1 link set x$i name $2; ip -n sw link set p$i master $3 up; ip -n $1 link set $2 up; i=$((i+1)); }
plug cl eth0 br0; plug k eth0 br0; plug r eth0 br0
plug k eth1 br1; plug r eth1 br1; plug rs1 eth0 br1; plug rs2 eth0 br1
ip -n cl addr add 10.1.0.2/24 dev eth0; ip -n cl route add default via 10.1.0.100
ip -n k addr add 10.1.0.3/24 dev eth0; ip -n r addr add 10.1.0.4/24 dev eth0
ip -n k addr add 10.2.0.3/24 dev eth1; ip -n r addr add 10.2.0.4/24 dev eth1
for n in 1 2; do ip -n rs$n addr add 10.2.0.1$n/24 dev eth0; ip -n rs$n route add default via 10.2.0.1; done
ip netns exec k sysctl -qw net.ipv4.ip_forward=1
for n in 1 2; do ip netns exec rs$n $H/lvs-echo rs$n --tcp 10.2.0.1$n:90 --lines 10.2.0.1$n:81 & done
ip netns exec r $H/lvsd --socket /tmp/r.sock 2>/tmp/lvsd.log &
for t in $(seq 100); do [ -S /tmp/r.sock ] && break; sleep 0.2; done
sleep 1
K() { ip netns exec k ipvsadm "$@"; }
R() { ip netns exec r $H/lvsadm --socket /tmp/r.sock "$@"; }
for D in K R; do
  $D -A -t 10.1.0.100:81 -s rr; $D -A -t 10.1.0.100:90 -s rr -p 60
  for n in 1 2; do $D -a -t 10.1.0.100:81 -r 10.2.0.1$n:81 -m; $D -a -t 10.1.0.100:90 -r 10.2.0.1$n:90 -m; done
done
activate() { # $1 = new active, $2 = old
  ip -n $2 addr del 10.1.0.100/32 dev eth0 2>/dev/null; ip -n $2 addr del 10.2.0.1/32 dev eth1 2>/dev/null
  ip -n $1 addr replace 10.1.0.100/32 dev eth0; ip -n $1 addr replace 10.2.0.1/32 dev eth1
  for n in cl rs1 rs2; do ip -n $n neigh flush dev eth0; done
}
phase() { # $1 master ns, $2 backup ns, $3 label
  echo "===== $3"
  rm -rf /tmp/hold; mkdir -p /tmp/hold
  activate $1 $2
  ip netns exec cl timeout 120 $H/lvs-echo --hold 10.1.0.100:81 6 /tmp/hold &
  HOLD=$!
  for t in $(seq 100); do [ -e /tmp/hold/round1 ] && break; sleep 0.2; done
  echo "-- round1"; cat /tmp/hold/round1
  for t in 1 2 3; do echo "-- persistent $t: $(ip netns exec cl curl -s -m 5 http://10.1.0.100:90/)"; done
  sleep 4
  echo "-- master table ($1)"; if [ $1 = k ]; then K -Lnc; else R -Lnc; fi
  echo "-- backup table ($2)"; if [ $2 = k ]; then K -Lnc; K -Ln; ip netns exec k cat /proc/net/ip_vs_conn_sync; else R -Lnc; R -Ln; fi
  echo "-- failover to $2"
  ip -n $1 link set eth0 down; ip -n $1 link set eth1 down
  activate $2 $1
  touch /tmp/hold/go
  for t in $(seq 150); do [ -e /tmp/hold/round2 ] && break; sleep 0.2; done
  echo "-- round2"; cat /tmp/hold/round2
  for t in 1 2 3; do echo "-- persistent after $t: $(ip netns exec cl curl -s -m 5 http://10.1.0.100:90/)"; done
  wait $HOLD
  ip -n $1 link set eth0 up; ip -n $1 link set eth1 up
}
K --start-daemon master --mcast-interface eth1
R --start-daemon backup --mcast-interface eth1
K -L --daemon; R -L --daemon
phase k r "kernel master -> lvs-rs backup"
curl -s --unix-socket /tmp/r.sock http://x/v1/sync/daemons; echo
K --stop-daemon master; R --stop-daemon backup
K -C; K -Lnc | head -3
for D in K; do
  $D -A -t 10.1.0.100:81 -s rr; $D -A -t 10.1.0.100:90 -s rr -p 60
  for n in 1 2; do $D -a -t 10.1.0.100:81 -r 10.2.0.1$n:81 -m; $D -a -t 10.1.0.100:90 -r 10.2.0.1$n:90 -m; done
done
R --start-daemon master --mcast-interface eth1
K --start-daemon backup --mcast-interface eth1
phase r k "lvs-rs master -> kernel backup"
curl -s --unix-socket /tmp/r.sock http://x/v1/sync/daemons; echo
echo "===== lvsd log"; grep -v "^$" /tmp/lvsd.log | tail -20
