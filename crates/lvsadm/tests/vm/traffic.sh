#!/bin/bash
# Real connections through IPVS (NAT), then every connection/stats listing.
cd /host
. ./topo.sh
topo_up
mkdir -p out/traffic
for n in 1 2; do
  mkdir -p /tmp/rs$n; echo "hello from rs$n" > /tmp/rs$n/index.html
  ip netns exec rs$n python3 -m http.server 80 --bind 10.0.1.$((n + 1)) --directory /tmp/rs$n >/dev/null 2>&1 &
done
for n in 1 2; do
  for _ in $(seq 100); do ip netns exec rs$n ss -Hltn 'sport = :80' | grep -q LISTEN && break; sleep 0.1; done
done
ipvsadm() { ip netns exec lb ipvsadm "$@"; }
ipvsadm -A -t 10.0.0.1:80 -s rr -p 120
ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m
ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 2
ipvsadm -A -u 10.0.0.1:53 -s rr
ipvsadm -a -u 10.0.0.1:53 -r 10.0.1.2:53 -m
ipvsadm -a -u 10.0.0.1:53 -r 10.0.1.3:53 -m
ip netns exec lb nft add table ip m
ip netns exec lb nft add chain ip m pre '{ type filter hook prerouting priority -150; }'
ip netns exec lb nft add rule ip m pre ip daddr 10.0.0.1 udp dport 5000 meta mark set 7
ipvsadm -A -f 7 -s rr -p 300
ipvsadm -a -f 7 -r 10.0.1.3 -m
for i in 1 2 3 4; do ip netns exec cl curl -s --max-time 5 http://10.0.0.1/ >/dev/null; done
for i in 1 2 3; do ip netns exec cl bash -c "echo q$i > /dev/udp/10.0.0.1/53"; done
ip netns exec cl bash -c "echo f > /dev/udp/10.0.0.1/5000"
ip netns exec cl curl -s --max-time 5 http://10.0.0.1:80/ >/dev/null &
sleep 0.5
T=out/traffic
ip netns exec lb cat /proc/net/ip_vs_conn > $T/proc1
ipvsadm -Lcn > $T/Lcn 2>&1
ipvsadm -Lc > $T/Lc 2>&1
ipvsadm -Lcn --persistent-conn > $T/Lcn_pc 2>&1
ipvsadm -Lc --persistent-conn > $T/Lc_pc 2>&1
ip netns exec lb cat /proc/net/ip_vs_conn > $T/proc2
sleep 4.5
ipvsadm -Ln --stats --exact > $T/stats_exact; ipvsadm -Ln --stats > $T/stats; ipvsadm -L --stats > $T/stats_names
ipvsadm -Ln --rate --exact > $T/rate_exact; ipvsadm -Ln --rate > $T/rate; ipvsadm -Ln --rate --exact > $T/rate_exact2
ipvsadm -Ln --stats --exact > $T/stats_exact2
ipvsadm -Ln > $T/Ln; ipvsadm -Ln --persistent-conn > $T/Ln_pc; ipvsadm -Ln --thresholds > $T/Ln_thr
ipvsadm -L > $T/L; ipvsadm -Sn > $T/Sn
ip netns exec lb ipvsadm-save -n > $T/ipvsadm-save-n 2>&1
ip netns exec lb ipvsadm-save > $T/ipvsadm-save 2>&1
ip netns exec lb cat /proc/net/ip_vs > $T/proc_ip_vs
ip netns exec lb cat /proc/net/ip_vs_stats > $T/proc_ip_vs_stats
topo_down
cat /usr/sbin/ipvsadm-save > $T/ipvsadm-save.script 2>/dev/null || cat $(command -v ipvsadm-save) > $T/ipvsadm-save.script
cat $(command -v ipvsadm-restore) > $T/ipvsadm-restore.script
echo traffic-done
