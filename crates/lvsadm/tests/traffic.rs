//! Listings with real traffic, recorded in the ipvs-vm guest (tests/vm/traffic.sh): an
//! LVS-NAT lab with a persistent TCP service, a UDP service and a persistent fwmark
//! service after curl and UDP traffic. The table is rebuilt from the recorded `-Sn`
//! (through lvsadm's own `-R`), the counters and connection counts are taken from the
//! recorded listings' numeric columns, connections from the recorded
//! `/proc/net/ip_vs_conn`, and every listing must come out byte for byte.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use lvs_api::{ConnInfo, ServiceInfo};
use lvsadm::format::{self, Format};
use lvsadm::{Command, Resolver, parse_restore};

fn data(name: &str) -> String {
    let p = format!("{}/tests/golden/traffic/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(p).unwrap()
}

fn info() -> lvs_api::Info {
    lvs_api::Info {
        version: 0x010201,
        conn_tab_size: 4096,
        num_services: 3,
    }
}

/// The table, from a saved rule set restored with lvsadm's own -R.
fn table(save: &str, resolver: &dyn Resolver) -> Vec<ServiceInfo> {
    let mut model = common::Model::default();
    for line in parse_restore(save.as_bytes(), "ipvsadm", resolver) {
        let cmd = line.result.unwrap().command;
        assert!(matches!(cmd, Command::AddService(_) | Command::AddDest(_)));
        model.apply(&cmd).unwrap();
    }
    model.services
}

/// Rows of a numeric listing: (is_dest, name column, numbers).
fn rows(listing: &str) -> Vec<(bool, String, Vec<u64>)> {
    listing
        .lines()
        .skip(3)
        .map(|l| {
            let dest = l.starts_with("  -> ");
            let body = l.trim_start_matches("  -> ");
            let mut w = body.split_whitespace();
            let mut name = w.next().unwrap().to_string();
            if !dest {
                name = format!("{name} {}", w.next().unwrap());
            }
            let nums = w.filter_map(|x| x.parse().ok()).collect();
            (dest, name, nums)
        })
        .collect()
}

fn key_name(s: &ServiceInfo) -> String {
    let f = Format {
        numeric: true,
        stats: true,
        ..Format::default()
    };
    let text = format::service_entry(s, &f, &lvsadm::NoResolver);
    let first = text.lines().next().unwrap();
    first
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

type RowFn<'a> = &'a dyn Fn(&mut ServiceInfo, Option<usize>, &[u64]);

/// Fills counters, rates and connection counts from the recorded numeric listings.
fn fill(services: &mut [ServiceInfo]) {
    let apply = |services: &mut [ServiceInfo], listing: &str, f: RowFn<'_>| {
        let mut cur: Option<usize> = None;
        for (dest, name, nums) in rows(listing) {
            if !dest {
                cur = services.iter().position(|s| key_name(s) == name);
                f(&mut services[cur.unwrap()], None, &nums);
            } else {
                let s = &mut services[cur.unwrap()];
                let i = s
                    .dests
                    .iter()
                    .position(|d| format!("{}:{}", d.spec.addr, d.spec.port) == name)
                    .unwrap();
                f(s, Some(i), &nums);
            }
        }
    };
    apply(services, &data("stats_exact"), &|s, d, n| {
        let c = lvs_api::Counters {
            conns: n[0],
            inpkts: n[1],
            outpkts: n[2],
            inbytes: n[3],
            outbytes: n[4],
        };
        match d {
            None => s.stats = c,
            Some(i) => s.dests[i].stats = c,
        }
    });
    apply(services, &data("rate_exact"), &|s, d, n| {
        let r = lvs_api::Rates {
            cps: n[0],
            inpps: n[1],
            outpps: n[2],
            inbps: n[3],
            outbps: n[4],
        };
        match d {
            None => s.rates = r,
            Some(i) => s.dests[i].rates = r,
        }
    });
    apply(services, &data("Ln_pc"), &|s, d, n| {
        if let Some(i) = d {
            s.dests[i].persistconns = n[1] as u32;
            s.dests[i].activeconns = n[2] as u32;
            s.dests[i].inactconns = n[3] as u32;
        }
    });
}

fn filled(resolver: &dyn Resolver) -> Vec<ServiceInfo> {
    let mut s = table(&data("Sn"), resolver);
    fill(&mut s);
    s
}

#[test]
fn service_listings_with_traffic() {
    let r = common::resolver();
    let services = filled(&r);
    let f = |s: &str| {
        let mut f = Format::default();
        for o in s.split(',').filter(|o| !o.is_empty()) {
            match o {
                "n" => f.numeric = true,
                "stats" => f.stats = true,
                "rate" => f.rate = true,
                "pc" => f.persistent_conn = true,
                "thr" => f.thresholds = true,
                "exact" => f.exact = true,
                _ => unreachable!(),
            }
        }
        f
    };
    for (file, fmt) in [
        ("Ln", "n"),
        ("L", ""),
        ("stats", "n,stats"),
        ("stats_exact", "n,stats,exact"),
        ("stats_names", "stats"),
        ("rate", "n,rate"),
        ("rate_exact", "n,rate,exact"),
        ("Ln_pc", "n,pc"),
        ("Ln_thr", "n,thr"),
    ] {
        let got = format::list_all(&info(), &services, &f(fmt), &r);
        assert_eq!(got, data(file), "{file}");
    }
    let sn = format::save(&services, true, &r);
    assert_eq!(sn, data("Sn"));
    assert_eq!(sn, data("ipvsadm-save-n"));
    assert_eq!(format::save(&services, false, &r), data("ipvsadm-save"));
}

#[test]
fn real_ipvsadm_save_files_restore() {
    // `ipvsadm-save` (names) and `ipvsadm-save -n` files written by the real tool restore
    // to the same table, which saves back to the same bytes.
    let r = common::resolver();
    let a = table(&data("ipvsadm-save"), &r);
    let b = table(&data("ipvsadm-save-n"), &r);
    assert_eq!(a, b);
    assert_eq!(format::save(&a, false, &r), data("ipvsadm-save"));
    assert_eq!(format::save(&b, true, &r), data("ipvsadm-save-n"));
}

/// Parses /proc/net/ip_vs_conn (IPv4 rows) as ipvsadm's print_conn does.
fn proc_conns(text: &str) -> Vec<ConnInfo> {
    let hex_ip = |s: &str| IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(s, 16).unwrap()));
    let hex_port = |s: &str| u16::from_str_radix(s, 16).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            ConnInfo {
                protocol: w[0].to_string(),
                caddr: hex_ip(w[1]),
                cport: hex_port(w[2]),
                vaddr: hex_ip(w[3]),
                vport: hex_port(w[4]),
                daddr: hex_ip(w[5]),
                dport: hex_port(w[6]),
                state: w[7].to_string(),
                expires_ms: w[8].parse::<u64>().unwrap() * 1000 + 999,
                template: w[2] == "0000",
                local: None,
                inpkts: 0,
                outpkts: 0,
            }
        })
        .collect()
}

#[test]
fn connection_listings_with_traffic() {
    let r = common::resolver();
    let base = proc_conns(&data("proc1"));
    for (file, numeric, pc) in [
        ("Lcn", true, false),
        ("Lc", false, false),
        ("Lcn_pc", true, true),
        ("Lc_pc", false, true),
    ] {
        let want = data(file);
        // Each listing read the table at its own moment: take the remaining time shown in
        // it (everything else comes from the proc snapshot).
        let mut conns = base.clone();
        for (c, line) in conns.iter_mut().zip(want.lines().skip(2)) {
            let exp = line.split_whitespace().nth(1).unwrap();
            let (m, s) = exp.split_once(':').unwrap();
            c.expires_ms =
                (m.parse::<u64>().unwrap() * 60 + s.parse::<u64>().unwrap()) * 1000 + 500;
        }
        let f = Format {
            numeric,
            persistent_conn: pc,
            ..Format::default()
        };
        assert_eq!(format::list_conns(&conns, &f, &r), want, "{file}");
    }
}
