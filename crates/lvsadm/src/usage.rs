//! `-h` and `-v`: ipvsadm 1.31's usage and version texts (as Debian 12 builds it:
//! schedulers `rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh`, persistence engine `sip`).

/// The version line (`ipvsadm -v`, and the first line of the usage text).
pub const VERSION_LINE: &str = "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)";

/// The text `ipvsadm -h` prints on standard output, for `program` (`argv[0]`).
pub fn usage(program: &str) -> String {
    let p = program;
    let mut s = String::with_capacity(4096);
    s.push_str(VERSION_LINE);
    s.push('\n');
    s.push_str("Usage:\n");
    s.push_str(&format!("  {p} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]\n"));
    s.push_str(&format!("  {p} -D virtual-service\n"));
    s.push_str(&format!("  {p} -C\n"));
    s.push_str(&format!("  {p} -R\n"));
    s.push_str(&format!("  {p} -S [-n]\n"));
    s.push_str(&format!(
        "  {p} -a|e virtual-service -r server-address [options]\n"
    ));
    s.push_str(&format!("  {p} -d virtual-service -r server-address\n"));
    s.push_str(&format!("  {p} -L|l [virtual-service] [options]\n"));
    s.push_str(&format!("  {p} -Z [virtual-service]\n"));
    s.push_str(&format!("  {p} --set tcp tcpfin udp\n"));
    s.push_str(&format!(
        "  {p} --start-daemon {{master|backup}} [daemon-options]\n"
    ));
    s.push_str(&format!("  {p} --stop-daemon {{master|backup}}\n"));
    s.push_str(&format!("  {p} -h\n"));
    s.push('\n');
    s.push_str("Commands:\n");
    s.push_str("Either long or short options are allowed.\n");
    s.push_str("  --add-service     -A        add virtual service with options\n");
    s.push_str("  --edit-service    -E        edit virtual service with options\n");
    s.push_str("  --delete-service  -D        delete virtual service\n");
    s.push_str("  --clear           -C        clear the whole table\n");
    s.push_str("  --restore         -R        restore rules from stdin\n");
    s.push_str("  --save            -S        save rules to stdout\n");
    s.push_str("  --add-server      -a        add real server with options\n");
    s.push_str("  --edit-server     -e        edit real server with options\n");
    s.push_str("  --delete-server   -d        delete real server\n");
    s.push_str("  --list            -L|-l     list the table\n");
    s.push_str("  --zero            -Z        zero counters in a service or all services\n");
    s.push_str("  --set tcp tcpfin udp        set connection timeout values\n");
    s.push_str("  --start-daemon              start connection sync daemon\n");
    s.push_str("  --stop-daemon               stop connection sync daemon\n");
    s.push_str("  --help            -h        display this help message\n");
    s.push('\n');
    s.push_str("virtual-service:\n");
    s.push_str("  --tcp-service|-t  service-address   service-address is host[:port]\n");
    s.push_str("  --udp-service|-u  service-address   service-address is host[:port]\n");
    s.push_str("  --sctp-service    service-address   service-address is host[:port]\n");
    s.push_str("  --fwmark-service|-f fwmark          fwmark is an integer greater than zero\n");
    s.push('\n');
    s.push_str("Options:\n");
    s.push_str("  --ipv6         -6                   fwmark entry uses IPv6\n");
    s.push_str("  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,\n");
    s.push_str("                                      the default scheduler is wlc.\n");
    s.push_str("  --pe            engine              alternate persistence engine may be sip,\n");
    s.push_str("                                      not set by default.\n");
    s.push_str("  --persistent   -p [timeout]         persistent service\n");
    s.push_str("  --netmask      -M netmask           persistent granularity mask\n");
    s.push_str("  --real-server  -r server-address    server-address is host (and port)\n");
    s.push_str("  --gatewaying   -g                   gatewaying (direct routing) (default)\n");
    s.push_str("  --ipip         -i                   ipip encapsulation (tunneling)\n");
    s.push_str("  --masquerading -m                   masquerading (NAT)\n");
    s.push_str("  --tun-type      type                one of ipip|gue|gre,\n");
    s.push_str("                                      the default tunnel type is ipip.\n");
    s.push_str("  --tun-port      port                tunnel destination port\n");
    s.push_str("  --tun-nocsum                        tunnel encapsulation without checksum\n");
    s.push_str("  --tun-csum                          tunnel encapsulation with checksum\n");
    s.push_str("  --tun-remcsum                       tunnel encapsulation with remote checksum\n");
    s.push_str("  --weight       -w weight            capacity of real server\n");
    s.push_str("  --u-threshold  -x uthreshold        upper threshold of connections\n");
    s.push_str("  --l-threshold  -y lthreshold        lower threshold of connections\n");
    s.push_str("  --connection   -c                   output of current IPVS connections\n");
    s.push_str("  --timeout                           output of timeout (tcp tcpfin udp)\n");
    s.push_str("  --daemon                            output of daemon information\n");
    s.push_str("  --stats                             output of statistics information\n");
    s.push_str("  --rate                              output of rate information\n");
    s.push_str("  --exact                             expand numbers (display exact values)\n");
    s.push_str("  --thresholds                        output of thresholds information\n");
    s.push_str("  --persistent-conn                   output of persistent connection info\n");
    s.push_str("  --tun-info                          output of tunnel information\n");
    s.push_str(
        "  --nosort                            disable sorting output of service/server entries\n",
    );
    s.push_str("  --sort                              does nothing, for backwards compatibility\n");
    s.push_str("  --ops          -o                   one-packet scheduling\n");
    s.push_str("  --numeric      -n                   numeric output of addresses and ports\n");
    s.push_str("  --sched-flags  -b flags             scheduler flags (comma-separated)\n");
    s.push_str("Daemon Options:\n");
    s.push_str("  --syncid sid                        syncid for connection sync (default=255)\n");
    s.push_str("  --sync-maxlen length                Max sync message length (default=1472)\n");
    s.push_str("  --mcast-interface interface         multicast interface for connection sync\n");
    s.push_str("  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)\n");
    s.push_str("  --mcast-port port                   UDP port (default=8848)\n");
    s.push_str("  --mcast-ttl ttl                     Multicast TTL (default=1)\n");
    s
}

/// What `ipvsadm -v` prints on standard output.
pub fn version() -> String {
    format!("{VERSION_LINE}\n")
}
