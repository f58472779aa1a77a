//! FULLNAT through lvsd: SNAT to a local address of the service's pool plus DNAT, across
//! subnets where the real servers have no route to the client, IPv4 and IPv6.

use lvs_e2e::{Plan, Routed, V4, V6, client_of, hostport, tally};

fn fullnat(plan: Plan, lip: &str, lip_net: &str, tag: &str) {
    // Real servers have no default route: only a route to the local-address network.
    let mut lab = Routed::new(tag, plan, false).expect("lab");
    let full = if lip.contains(':') { 128 } else { 32 };
    lab.lab.addr("d", "lo", &format!("{lip}/{full}")).unwrap();
    for (i, rs) in ["r1", "r2"].iter().enumerate() {
        lab.lab
            .route(rs, &[lip_net, "via", lab.plan.dir_rs[i]])
            .unwrap();
    }
    lab.start_echo(8080).unwrap();
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-A", "-t", &vip, "-s", "rr"]).unwrap();
    for rs in lab.plan.rs {
        let r = hostport(rs, 8080);
        lab.adm(&["-a", "-t", &vip, "-r", &r, "--fullnat"]).unwrap();
    }
    lab.adm(&["--add-laddr", "-z", lip, "-t", &vip]).unwrap();
    let lines = lab.http_gets(80, 20).expect("requests through the VIP");
    let t = tally(lines.iter().map(String::as_str));
    assert_eq!(t.get("rs1"), Some(&10), "{t:?}");
    assert_eq!(t.get("rs2"), Some(&10), "{t:?}");
    // The real servers see the local address, not the client.
    for l in &lines {
        assert_eq!(client_of(l).as_deref(), Some(lip), "{l}");
    }
    // The client address is unreachable from the real servers: FULLNAT is what makes this
    // work.
    let ping = lab
        .lab
        .try_exec("r1", &["ip", "route", "get", lab.plan.client])
        .unwrap();
    assert!(
        !ping.status.success(),
        "r1 must have no route to the client"
    );
    let list = lab.adm(&["-Ln"]).unwrap();
    assert!(list.contains("FullNat"), "{list}");
    let laddrs = lab.adm(&["--get-laddr", "-t", &vip]).unwrap();
    assert!(laddrs.contains(lip), "{laddrs}");
}

#[test]
fn fullnat_ipv4_across_subnets() {
    fullnat(V4, "10.3.0.1", "10.3.0.0/24", "fn4");
}

#[test]
fn fullnat_ipv6_across_subnets() {
    fullnat(V6, "fd03::1", "fd03::/64", "fn6");
}
