set -x
. ./topo.sh
topo_up
# second director lbB on the real-server bridge
ip netns add lbB; ip -n lbB link set lo up
ip netns exec lbB sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link add eth0 netns lbB type veth peer name rb netns lb
ip -n lb link set rb master br0 up
ip -n lbB addr add 10.0.1.9/24 dev eth0; ip -n lbB link set eth0 up
cat > /tmp/echo.py <<'P'
import socket, threading, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
def h(c):
    while True:
        d = c.recv(1000)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=h, args=(c,), daemon=True).start()
P
for n in 1 2; do
  for p in 80 81; do ip netns exec rs$n python3 /tmp/echo.py 10.0.1.$((n + 1)) $p & done
done
sleep 1
A() { ip netns exec lb ipvsadm "$@"; }
B() { ip netns exec lbB ipvsadm "$@"; }
cat /proc/sys/net/ipv4/vs/sync_threshold /proc/sys/net/ipv4/vs/sync_version /proc/sys/net/ipv4/vs/sync_refresh_period /proc/sys/net/ipv4/vs/sync_retries
ip netns exec lb cat /proc/sys/net/ipv4/vs/sync_threshold
A -L --daemon; echo "rc=$?"
A --start-daemon master; echo "rc=$?"
A --start-daemon master --mcast-interface nosuch; echo "rc=$?"
A --start-daemon master --mcast-interface br0; echo "rc=$?"
A -L --daemon; echo "rc=$?"
A -Ln --daemon; echo "rc=$?"
A --start-daemon master --mcast-interface br0; echo "rc=$?"
A --stop-daemon backup; echo "rc=$?"
B --start-daemon backup --mcast-interface eth0; echo "rc=$?"
B -L --daemon; echo "rc=$?"
B --start-daemon master --mcast-interface eth0 --syncid 7 --sync-maxlen 900 --mcast-ttl 3 --mcast-port 9000 --mcast-group 224.0.0.99; echo "rc=$?"
B -L --daemon; echo "rc=$?"
B --stop-daemon master; echo "rc=$?"
B --start-daemon master --mcast-interface eth0 --mcast-group ff02::1:8848; echo "rc=$?"
B -L --daemon; echo "rc=$?"
B --stop-daemon master; echo "rc=$?"
B --start-daemon master --mcast-interface eth0 --sync-maxlen 70000; echo "rc=$?"
B --start-daemon master --mcast-interface eth0 --sync-maxlen 65507; echo "rc=$?"
B -L --daemon; B --stop-daemon master
B --start-daemon master --mcast-interface eth0 --mcast-group 10.1.1.1; echo "rc=$?"
B --start-daemon foo; echo "rc=$?"
B --stop-daemon foo; echo "rc=$?"
B --stop-daemon master --syncid 3; echo "rc=$?"
B -L --daemon --syncid 3; echo "rc=$?"
A -A -t 10.0.0.1:80 -s rr
A -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m
A -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m
A -A -t 10.0.0.1:81 -s rr -p 60
A -a -t 10.0.0.1:81 -r 10.0.1.2:81 -m
A -a -t 10.0.0.1:81 -r 10.0.1.3:81 -m
# same config on B but weights differ
B -A -t 10.0.0.1:80 -s rr
B -a -t 10.0.0.1:80 -r 10.0.1.2:80 -m
B -a -t 10.0.0.1:80 -r 10.0.1.3:80 -m
B -A -t 10.0.0.1:81 -s rr -p 60
B -a -t 10.0.0.1:81 -r 10.0.1.2:81 -m
ip netns exec lb tcpdump -i br0 -n -xx -l udp port 8848 > /host/dump.txt 2>/host/dump.err &
ip netns exec lb tcpdump -i br0 -n -w /host/sync.pcap udp port 8848 2>/dev/null &
sleep 2
cat > /tmp/cl.py <<'P'
import socket, time, sys
socks = []
for port in (80, 80, 81, 81):
    s = socket.create_connection(("10.0.0.1", port), timeout=5)
    socks.append(s)
for i in range(6):
    for s in socks:
        s.sendall(b"ping\n"); s.recv(100)
    time.sleep(0.2)
print("open", [s.getsockname() for s in socks], flush=True)
time.sleep(float(sys.argv[1]))
socks[0].close()
time.sleep(3)
P
ip netns exec cl python3 /tmp/cl.py 4 &
CL=$!
sleep 3.5
echo "== A -Lnc"; A -Lnc
echo "== B -Lnc"; B -Lnc
sleep 5
echo "== after close A"; A -Lnc
echo "== B"; B -Lnc; B -Ln
ip netns exec lbB cat /proc/net/ip_vs_conn_sync
wait $CL
sleep 2.5
kill %1 %2 2>/dev/null
sleep 0.5
cat /host/dump.err
cat /host/dump.txt
A --stop-daemon master; echo "rc=$?"
A --stop-daemon master; echo "rc=$?"
B --stop-daemon backup; echo "rc=$?"
B -L --daemon; echo "rc=$?"
