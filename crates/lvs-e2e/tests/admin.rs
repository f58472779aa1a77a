//! lvsd driven through the lvsadm binary only (NAT, IPv4): add, edit, list, zero, save,
//! clear, restore, with real traffic, and the listings (`-Ln`, `-Ln --stats --exact`,
//! `-Lnc`) checked against the connections that went through; `/metrics` agrees.
//! Expected texts are built from ipvsadm's printf formats.

use std::collections::BTreeMap;
use std::time::Duration;

use lvs_e2e::{Routed, V4, hostport, tally};
use lvs_testkit::bin_path;

/// One real-server row of `-Ln`: (address:port, forward, weight, active, inactive).
type Row<'a> = (&'a str, &'a str, i32, u32, u32);

/// `ipvsadm -Ln` of the lab's table: `(service line, rows)` per service, with ipvsadm's
/// formats (`"%s  %s %s"` and `"  -> %-28s %-7s %-6d %-10u %-10u"`).
fn listing(services: &[(&str, Vec<Row<'_>>)]) -> String {
    let mut s = String::from(
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
    );
    for (svc, dests) in services {
        s.push_str(svc);
        s.push('\n');
        for (rs, fwd, w, a, i) in dests {
            s.push_str(&format!("  -> {rs:<28} {fwd:<7} {w:<6} {a:<10} {i:<10}\n"));
        }
    }
    s
}

/// `-Ln --stats --exact` as `"TCP 1.2.3.4:80"` / `"TCP 1.2.3.4:80 -> 5.6.7.8:80"` →
/// (conns, inpkts, outpkts, inbytes, outbytes).
fn stats(text: &str) -> BTreeMap<String, [u64; 5]> {
    let mut out = BTreeMap::new();
    let mut service = String::new();
    for line in text.lines().skip(3) {
        let w: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(w.len(), 7, "{line:?}");
        let n: [u64; 5] = std::array::from_fn(|i| w[2 + i].parse().unwrap());
        if w[0] == "->" {
            out.insert(format!("{service} -> {}", w[1]), n);
        } else {
            service = format!("{} {}", w[0], w[1]);
            out.insert(service.clone(), n);
        }
    }
    out
}

/// `-Lnc` rows: (proto, state, source, virtual, destination).
fn conns(text: &str) -> Vec<[String; 5]> {
    text.lines()
        .skip(2)
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(w.len(), 6, "{l:?}");
            [w[0], w[2], w[3], w[4], w[5]].map(String::from)
        })
        .collect()
}

/// One sample of the metrics text: the line of `name` with every `label="value"` pair.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    let found: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].rsplit(' ').next().unwrap().parse().unwrap()
}

fn udp_clients(lab: &Routed, n: usize) -> BTreeMap<String, usize> {
    let echo = bin_path("lvs-echo").unwrap();
    let out = lab
        .lab
        .exec(
            "c",
            &[
                echo.to_str().unwrap(),
                "--udp-clients",
                &hostport(lab.plan.vip, 53),
                &n.to_string(),
            ],
        )
        .unwrap();
    tally(String::from_utf8_lossy(&out.stdout).lines())
}

#[test]
fn add_edit_list_zero_save_clear_restore_through_lvsadm() {
    let mut lab = Routed::new("ad", V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    let vip = lab.plan.vip;
    let client = lab.plan.client;
    let (rs1, rs2) = (
        hostport(lab.plan.rs[0], 8080),
        hostport(lab.plan.rs[1], 8080),
    );
    let tcp = hostport(vip, 80);
    let udp = hostport(vip, 53);

    // Add.
    lab.adm(&["-A", "-t", &tcp, "-s", "rr"]).unwrap();
    lab.adm(&["-a", "-t", &tcp, "-r", &rs1, "-m"]).unwrap();
    lab.adm(&["-a", "-t", &tcp, "-r", &rs2, "-m"]).unwrap();
    lab.adm(&["-A", "-u", &udp, "-s", "rr"]).unwrap();
    lab.adm(&["-a", "-u", &udp, "-r", &rs1, "-m"]).unwrap();
    assert_eq!(
        lab.adm(&["-Ln"]).unwrap(),
        listing(&[
            (
                &format!("TCP  {tcp} rr"),
                vec![(&rs1, "Masq", 1, 0, 0), (&rs2, "Masq", 1, 0, 0)]
            ),
            (&format!("UDP  {udp} rr"), vec![(&rs1, "Masq", 1, 0, 0)]),
        ])
    );
    // Adding it again is refused with ipvsadm's message and status.
    let (code, _, err) = lab.lvsadm(&["-A", "-t", &tcp, "-s", "rr"]).unwrap();
    assert_eq!((code, err.as_str()), (255, "Service already exists\n"));

    // Edit: wrr, weight 3 for the first real server.
    lab.adm(&["-E", "-t", &tcp, "-s", "wrr"]).unwrap();
    lab.adm(&["-e", "-t", &tcp, "-r", &rs1, "-m", "-w", "3"])
        .unwrap();

    // Traffic: 8 HTTP connections (wrr 3:1), 4 UDP clients.
    let lines = lab.http_gets(80, 8).unwrap();
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(
        (t.get("rs1"), t.get("rs2")),
        (Some(&6), Some(&2)),
        "{lines:?}"
    );
    assert_eq!(udp_clients(&lab, 4).get("rs1"), Some(&4));
    // XDP's counters are folded into the model every second.
    std::thread::sleep(Duration::from_millis(2500));

    // -Ln: HTTP/1.0 connections end in TIME_WAIT (inactive), UDP ones are inactive.
    assert_eq!(
        lab.adm(&["-Ln"]).unwrap(),
        listing(&[
            (
                &format!("TCP  {tcp} wrr"),
                vec![(&rs1, "Masq", 3, 0, 6), (&rs2, "Masq", 1, 0, 2)]
            ),
            (&format!("UDP  {udp} rr"), vec![(&rs1, "Masq", 1, 0, 4)]),
        ])
    );

    // -Lnc: one entry per connection, from the client, to the server that answered.
    let rows = conns(&lab.adm(&["-Lnc"]).unwrap());
    assert_eq!(rows.len(), 12, "{rows:?}");
    let per_dest = |proto: &str, dest: &str| {
        rows.iter()
            .filter(|r| r[0] == proto && r[4] == dest)
            .count()
    };
    assert_eq!(per_dest("TCP", &rs1), 6);
    assert_eq!(per_dest("TCP", &rs2), 2);
    assert_eq!(per_dest("UDP", &rs1), 4);
    for r in &rows {
        assert!(r[2].starts_with(&format!("{client}:")), "{r:?}");
        let (state, virt) = if r[0] == "TCP" {
            ("TIME_WAIT", &tcp)
        } else {
            ("UDP", &udp)
        };
        assert_eq!((r[1].as_str(), &r[3]), (state, virt), "{r:?}");
    }

    // --stats: connections per real server as tallied; packets and bytes both ways (NAT
    // replies pass the director); a service is the sum of its real servers.
    let st = stats(&lab.adm(&["-Ln", "--stats", "--exact"]).unwrap());
    let svc_t = format!("TCP {tcp}");
    let svc_u = format!("UDP {udp}");
    let d1 = st[&format!("{svc_t} -> {rs1}")];
    let d2 = st[&format!("{svc_t} -> {rs2}")];
    assert_eq!((d1[0], d2[0]), (6, 2), "{st:?}");
    for (d, n) in [(d1, 6), (d2, 2)] {
        // Per HTTP/1.0 connection at least SYN, ACK, request, FIN, ACK in and SYN-ACK,
        // response, FIN out; bytes at least 40 per packet.
        assert!(d[1] >= 5 * n && d[2] >= 3 * n, "{d:?}");
        assert!(d[3] >= 40 * d[1] && d[4] >= 40 * d[2], "{d:?}");
    }
    for i in 0..5 {
        assert_eq!(st[&svc_t][i], d1[i] + d2[i], "column {i}: {st:?}");
    }
    let u = st[&svc_u];
    assert_eq!(u[0], 4);
    assert!(
        u[1] >= 4 && u[2] >= 4,
        "every client sent and got a datagram: {u:?}"
    );
    assert_eq!(st[&format!("{svc_u} -> {rs1}")], u);
    // --rate lists the same rows.
    let rate = lab.adm(&["-Ln", "--rate"]).unwrap();
    assert_eq!(rate.lines().count(), 3 + 5, "{rate}");
    assert!(
        rate.lines()
            .nth(1)
            .unwrap()
            .contains("CPS    InPPS   OutPPS    InBPS   OutBPS")
    );

    // /metrics says the same, with node_exporter's labels.
    let m = lab.api().metrics().unwrap();
    let rs1_labels = [
        ("local_address", vip),
        ("local_port", "80"),
        ("remote_address", lab.plan.rs[0]),
        ("remote_port", "8080"),
        ("proto", "TCP"),
    ];
    assert_eq!(metric(&m, "lvs_backend_connections_total", &rs1_labels), 6);
    assert_eq!(metric(&m, "lvs_backend_weight", &rs1_labels), 3);
    assert_eq!(
        metric(&m, "lvs_backend_connections_inactive", &rs1_labels),
        6
    );
    assert_eq!(
        metric(&m, "lvs_backend_incoming_packets_total", &rs1_labels),
        d1[1]
    );
    let tcp_labels = [
        ("local_address", vip),
        ("local_port", "80"),
        ("proto", "TCP"),
    ];
    assert_eq!(
        metric(&m, "lvs_service_outgoing_bytes_total", &tcp_labels),
        st[&svc_t][4]
    );
    assert_eq!(metric(&m, "lvs_connections_total", &[]), 12);
    assert_eq!(metric(&m, "lvs_services", &[]), 2);

    // Zero one service, then all: listings show 0, Prometheus counters keep counting.
    lab.adm(&["-Z", "-t", &tcp]).unwrap();
    let st = stats(&lab.adm(&["-Ln", "--stats", "--exact"]).unwrap());
    assert_eq!(st[&svc_t], [0; 5]);
    assert_eq!(st[&format!("{svc_t} -> {rs1}")], [0; 5]);
    assert_eq!(st[&svc_u], u, "the other service is not zeroed");
    lab.adm(&["-Z"]).unwrap();
    let st = stats(&lab.adm(&["-Ln", "--stats", "--exact"]).unwrap());
    assert!(st.values().all(|v| *v == [0; 5]), "{st:?}");
    let m = lab.api().metrics().unwrap();
    assert_eq!(metric(&m, "lvs_backend_connections_total", &rs1_labels), 6);

    // Save: ipvsadm's rule format.
    let saved = lab.adm(&["-S", "-n"]).unwrap();
    assert_eq!(
        saved,
        format!(
            "-A -t {tcp} -s wrr\n\
             -a -t {tcp} -r {rs1} -m -w 3\n\
             -a -t {tcp} -r {rs2} -m -w 1\n\
             -A -u {udp} -s rr\n\
             -a -u {udp} -r {rs1} -m -w 1\n"
        )
    );
    let before_clear = lab.adm(&["-Ln"]).unwrap();

    // Clear: nothing left, the VIP answers no more.
    lab.adm(&["-C"]).unwrap();
    assert_eq!(lab.adm(&["-Ln"]).unwrap(), listing(&[]));
    assert!(lab.http_get(80).is_err(), "no service after -C");

    // Restore from a pipe: `lvsadm -S -n | lvsadm -R` of what was saved.
    let bin = bin_path("lvsadm").unwrap();
    let adm = format!("{} --socket {}", bin.display(), lab.socket);
    let out = lab
        .lab
        .exec(
            "d",
            &["bash", "-c", &format!("printf '%s' '{saved}' | {adm} -R")],
        )
        .unwrap();
    assert!(out.status.success());
    assert_eq!(lab.adm(&["-S", "-n"]).unwrap(), saved);
    // The same table; the old connections were not restored with it (IPVS keeps them
    // but -C unlinked their real servers), so the counts are those of the new servers.
    let after = lab.adm(&["-Ln"]).unwrap();
    assert_eq!(
        after,
        listing(&[
            (
                &format!("TCP  {tcp} wrr"),
                vec![(&rs1, "Masq", 3, 0, 0), (&rs2, "Masq", 1, 0, 0)]
            ),
            (&format!("UDP  {udp} rr"), vec![(&rs1, "Masq", 1, 0, 0)]),
        ]),
        "before -C it was:\n{before_clear}"
    );
    // And it forwards again, with the restored weights.
    let t = tally(lab.http_gets(80, 4).unwrap().iter().map(String::as_str));
    assert_eq!((t.get("rs1"), t.get("rs2")), (Some(&3), Some(&1)));
    std::thread::sleep(Duration::from_millis(1500));
    let st = stats(&lab.adm(&["-Ln", "--stats", "--exact"]).unwrap());
    assert_eq!(st[&svc_t][0], 4);
    assert_eq!(st[&format!("{svc_t} -> {rs1}")][0], 3);

    // Invoked through a link named `ipvsadm` (socket from $LVSD_SOCKET, as an
    // operator's scripts would run it), it behaves identically.
    let dir = format!("/tmp/{}-bin", lab.lab.ns_name("d"));
    std::fs::create_dir_all(&dir).unwrap();
    let link = format!("{dir}/ipvsadm");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&bin, &link).unwrap();
    let run = |args: &str| {
        let cmd = format!("LVSD_SOCKET={} PATH={dir}:$PATH ipvsadm {args}", lab.socket);
        lab.lab.try_exec("d", &["bash", "-c", &cmd]).unwrap()
    };
    let now = lab.adm(&["-Ln"]).unwrap();
    let out = run("-L -n");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), now);
    let out = run("-S -n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), saved);
    let out = run("--");
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
