//! The bodies of the fuzz targets in `fuzz/` (cargo fuzz, see `fuzz/README.md`), here so
//! that a stable test (`tests/fuzz_smoke.rs`) runs exactly the same code over the corpus
//! and over generated argument vectors. Any panic in them is a bug.

use std::net::IpAddr;

use lvs_api::{
    ConnInfo, Counters, DestInfo, DestSpec, Info, Method, Rates, ServiceInfo, ServiceKey,
    ServiceSpec, Timeouts, Tunnel,
};

use crate::cli::{Command, ListWhat, parse_invocation};
use crate::format;
use crate::resolve::{Services, StaticResolver};
use crate::restore::parse_restore;
use crate::usage;

/// The argument vector a fuzz input stands for: the first byte picks the program name
/// (`ipvsadm` or `lvsadm`), the rest is split at NUL bytes into arguments (none when it
/// is empty), each decoded as the binary decodes its real arguments (lossy UTF-8).
pub fn argv_from_bytes(data: &[u8]) -> Vec<String> {
    let (program, rest) = match data.split_first() {
        Some((b, rest)) if b & 1 == 1 => ("lvsadm", rest),
        Some((_, rest)) => ("ipvsadm", rest),
        None => ("ipvsadm", data),
    };
    let args = (!rest.is_empty()).then(|| rest.split(|&b| b == 0));
    std::iter::once(program.to_string())
        .chain(
            args.into_iter()
                .flatten()
                .map(|a| String::from_utf8_lossy(a).into_owned()),
        )
        .collect()
}

/// A resolver that knows a few names, so that name paths are taken too.
fn resolver() -> StaticResolver {
    StaticResolver::new()
        .hosts_text("10.0.0.1 web\n10.2.0.11 rs1\nfd00::1 web6\n")
        .services(Services::parse(
            "http 80/tcp www\nhttps 443/tcp\ndomain 53/udp\nsip 5060/sctp\n",
        ))
}

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// A small table for the listings a parsed command asks for.
fn table() -> (Info, Vec<ServiceInfo>, Vec<ConnInfo>) {
    let dest = |a: &str, method| DestInfo {
        spec: DestSpec {
            addr: ip(a),
            port: 8080,
            method,
            tunnel: Tunnel::default(),
            weight: 3,
            u_threshold: 10,
            l_threshold: 2,
        },
        activeconns: 5,
        inactconns: 7,
        persistconns: 1,
        stats: Counters {
            conns: 12,
            inpkts: 1_000_000,
            outpkts: 999,
            inbytes: 123_456_789_012,
            outbytes: 42,
        },
        rates: Rates {
            cps: 1,
            inpps: 20,
            outpps: 30,
            inbps: 4000,
            outbps: 5000,
        },
    };
    let svc = |key, dests| ServiceInfo {
        spec: ServiceSpec {
            key,
            scheduler: "wlc".into(),
            flags: 0,
            persistence: None,
            pe: None,
            proxy_protocol: false,
        },
        stats: Counters::default(),
        rates: Rates::default(),
        dests,
    };
    let services = vec![
        svc(
            ServiceKey::Addr {
                protocol: lvs_api::Protocol::Tcp,
                addr: ip("10.0.0.1"),
                port: 80,
            },
            vec![
                dest("10.2.0.11", Method::Masq),
                dest("10.2.0.12", Method::Route),
            ],
        ),
        svc(
            ServiceKey::Fwmark {
                family: lvs_api::Family::Inet6,
                mark: 7,
            },
            vec![dest("fd00::11", Method::Tunnel)],
        ),
    ];
    let conns = vec![ConnInfo {
        protocol: "TCP".into(),
        caddr: ip("192.0.2.1"),
        cport: 40000,
        vaddr: ip("10.0.0.1"),
        vport: 80,
        daddr: ip("10.2.0.11"),
        dport: 8080,
        state: "ESTABLISHED".into(),
        expires_ms: 899_000,
        template: false,
        local: None,
        inpkts: 3,
        outpkts: 2,
    }];
    let info = Info {
        version: 0x0001_0201,
        conn_tab_size: 4096,
        num_services: 2,
    };
    (info, services, conns)
}

/// Print what a parsed command would print, from [`table`] (the daemon's part).
fn render(cmd: &Command, resolver: &StaticResolver) -> String {
    let (info, services, conns) = table();
    match cmd {
        Command::List(req) => match &req.what {
            ListWhat::All => format::list_all(&info, &services, &req.format, resolver),
            ListWhat::Service(key) => services
                .iter()
                .find(|s| &s.spec.key == key)
                .map(|s| format::list_service(s, &req.format, resolver))
                .unwrap_or_default(),
            ListWhat::Connections => format::list_conns(&conns, &req.format, resolver),
            ListWhat::Timeout => format::list_timeout(&Timeouts {
                tcp: 900,
                tcpfin: 120,
                udp: 300,
            }),
            ListWhat::Daemon => format::list_daemons(&[]),
        },
        Command::Save(f) => format::save(&services, f.numeric, resolver),
        Command::Help { program } => usage::usage(program),
        Command::Version => usage::version(),
        _ => String::new(),
    }
}

/// Target `lvsadm_args`: parse any argument vector; print what it would print; word
/// the error as the binary would.
pub fn lvsadm_args(data: &[u8]) {
    let argv = argv_from_bytes(data);
    let resolver = resolver();
    match parse_invocation(&argv, &resolver) {
        Ok(inv) => {
            let _ = render(&inv.command, &resolver);
        }
        Err(e) => {
            let code = e.exit_code();
            assert!(matches!(code, 1 | 2 | 255), "exit code {code}");
            let _ = e.stderr_text();
        }
    }
}

/// Target `lvsadm_restore`: read any `-R` input.
pub fn lvsadm_restore(data: &[u8]) {
    let resolver = resolver();
    for line in parse_restore(data, "ipvsadm", &resolver) {
        match line.result {
            Ok(inv) => {
                let _ = render(&inv.command, &resolver);
            }
            Err(e) => {
                let _ = (e.exit_code(), e.stderr_text(), e.aborts_restore());
            }
        }
    }
}
