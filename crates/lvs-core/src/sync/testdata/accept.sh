# A Linux backup receives lvs-rs-msg.bin (encoded by lvs-core) from another namespace.
for n in sw m b; do ip netns add $n; ip -n $n link set lo up; done
ip -n sw link add br0 type bridge; ip -n sw link set br0 up
ip link add x0 netns m type veth peer name p0 netns sw; ip link add x1 netns b type veth peer name p1 netns sw
for p in p0 p1; do ip -n sw link set $p master br0 up; done
ip -n m link set x0 up; ip -n b link set x1 up
ip -n m addr add 10.2.0.3/24 dev x0; ip -n b addr add 10.2.0.4/24 dev x1
ip netns exec b ipvsadm --start-daemon backup --mcast-interface x1
sleep 1
ip netns exec m python3 -c "
import socket
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('10.2.0.3'))
s.sendto(open('/host/lvs-rs-msg.bin','rb').read(), ('224.0.0.81', 8848))
print('sent', len(open('/host/lvs-rs-msg.bin','rb').read()), 'bytes')"
sleep 1
ip netns exec b ipvsadm -Lnc
ip netns exec b cat /proc/net/ip_vs_conn_sync
