//! `GET /metrics`: the director's state in the Prometheus text exposition format 0.0.4.
//!
//! Names follow node_exporter's IPVS collector (`node_ipvs_*`) with the prefix `lvs_`,
//! its suffixes and its labels (`local_address`, `local_port`, `remote_address`,
//! `remote_port`, `proto`, `local_mark`), plus `family`; `docs/metrics.md` lists every
//! family. Counters are the model's running totals: `ipvsadm -Z` zeroes what listings show,
//! never a Prometheus counter.

use std::fmt::Write as _;
use std::net::IpAddr;

use lvs_core::stats::{Counters, Rates};
use lvs_core::{Af, Dest, Ipvs, Service, ServiceKey};

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Kind of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One metric family: name, type, help text.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// Full name.
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// `# HELP` text.
    pub help: &'static str,
}

const fn counter(name: &'static str, help: &'static str) -> Family {
    Family {
        name,
        kind: Kind::Counter,
        help,
    }
}

const fn gauge(name: &'static str, help: &'static str) -> Family {
    Family {
        name,
        kind: Kind::Gauge,
        help,
    }
}

/// Global families (no labels), in output order.
pub const GLOBAL: &[Family] = &[
    counter(
        "lvs_connections_total",
        "The total number of connections made.",
    ),
    counter(
        "lvs_incoming_packets_total",
        "The total number of incoming packets.",
    ),
    counter(
        "lvs_outgoing_packets_total",
        "The total number of outgoing packets.",
    ),
    counter(
        "lvs_incoming_bytes_total",
        "The total amount of incoming data in bytes.",
    ),
    counter(
        "lvs_outgoing_bytes_total",
        "The total amount of outgoing data in bytes.",
    ),
    gauge(
        "lvs_estimated_connections_per_second",
        "Connection rate from the IPVS 2-second estimator.",
    ),
    gauge(
        "lvs_estimated_incoming_packets_per_second",
        "Incoming packet rate from the IPVS 2-second estimator.",
    ),
    gauge(
        "lvs_estimated_outgoing_packets_per_second",
        "Outgoing packet rate from the IPVS 2-second estimator.",
    ),
    gauge(
        "lvs_estimated_incoming_bytes_per_second",
        "Incoming byte rate from the IPVS 2-second estimator.",
    ),
    gauge(
        "lvs_estimated_outgoing_bytes_per_second",
        "Outgoing byte rate from the IPVS 2-second estimator.",
    ),
    gauge("lvs_services", "The number of virtual services."),
    gauge(
        "lvs_connection_table_entries",
        "Entries in the connection table (connections and persistence templates).",
    ),
    gauge(
        "lvs_dataplane_up",
        "Whether the XDP data plane runs (0 with lvsd --no-dataplane).",
    ),
    gauge(
        "lvs_dataplane_flows",
        "Entries in the XDP flow table (one per direction of a connection that passes the director).",
    ),
];

/// `lvs_dataplane_packets_total{outcome}`: XDP and TC counters by outcome.
pub const DATAPLANE_PACKETS: Family = counter(
    "lvs_dataplane_packets_total",
    "Packets seen by the XDP and TC programs, by outcome (event_lost counts lost state events).",
);

/// Per-service families (labels `local_address`, `local_port`, `proto`, `local_mark`,
/// `family`), in output order.
pub const SERVICE: &[Family] = &[
    gauge(
        "lvs_service_info",
        "Always 1; the scheduler in label scheduler.",
    ),
    gauge(
        "lvs_service_backends",
        "The number of real servers of the service.",
    ),
    gauge(
        "lvs_service_connections_active",
        "Active connections of the service's real servers.",
    ),
    gauge(
        "lvs_service_connections_inactive",
        "Inactive connections of the service's real servers.",
    ),
    gauge(
        "lvs_service_connections_persistent",
        "Persistence templates pointing at the service's real servers.",
    ),
    counter(
        "lvs_service_connections_total",
        "The total number of connections made to the service.",
    ),
    counter(
        "lvs_service_incoming_packets_total",
        "The total number of incoming packets of the service.",
    ),
    counter(
        "lvs_service_outgoing_packets_total",
        "The total number of outgoing packets of the service.",
    ),
    counter(
        "lvs_service_incoming_bytes_total",
        "The total amount of incoming data of the service in bytes.",
    ),
    counter(
        "lvs_service_outgoing_bytes_total",
        "The total amount of outgoing data of the service in bytes.",
    ),
    gauge(
        "lvs_service_estimated_connections_per_second",
        "Connection rate of the service (2-second estimator).",
    ),
    gauge(
        "lvs_service_estimated_incoming_packets_per_second",
        "Incoming packet rate of the service (2-second estimator).",
    ),
    gauge(
        "lvs_service_estimated_outgoing_packets_per_second",
        "Outgoing packet rate of the service (2-second estimator).",
    ),
    gauge(
        "lvs_service_estimated_incoming_bytes_per_second",
        "Incoming byte rate of the service (2-second estimator).",
    ),
    gauge(
        "lvs_service_estimated_outgoing_bytes_per_second",
        "Outgoing byte rate of the service (2-second estimator).",
    ),
];

/// Per-real-server families (labels of the service plus `remote_address`,
/// `remote_port`), in output order.
pub const BACKEND: &[Family] = &[
    gauge(
        "lvs_backend_info",
        "Always 1; the forwarding method in label forward.",
    ),
    gauge(
        "lvs_backend_weight",
        "The current backend weight by local and remote address.",
    ),
    gauge(
        "lvs_backend_overloaded",
        "1 while the real server is over its upper connection threshold.",
    ),
    gauge(
        "lvs_backend_connections_active",
        "The current active connections by local and remote address.",
    ),
    gauge(
        "lvs_backend_connections_inactive",
        "The current inactive connections by local and remote address.",
    ),
    gauge(
        "lvs_backend_connections_persistent",
        "The current persistence templates by local and remote address.",
    ),
    counter(
        "lvs_backend_connections_total",
        "The total number of connections made to the real server.",
    ),
    counter(
        "lvs_backend_incoming_packets_total",
        "The total number of incoming packets of the real server.",
    ),
    counter(
        "lvs_backend_outgoing_packets_total",
        "The total number of outgoing packets of the real server.",
    ),
    counter(
        "lvs_backend_incoming_bytes_total",
        "The total amount of incoming data of the real server in bytes.",
    ),
    counter(
        "lvs_backend_outgoing_bytes_total",
        "The total amount of outgoing data of the real server in bytes.",
    ),
    gauge(
        "lvs_backend_estimated_connections_per_second",
        "Connection rate of the real server (2-second estimator).",
    ),
    gauge(
        "lvs_backend_estimated_incoming_packets_per_second",
        "Incoming packet rate of the real server (2-second estimator).",
    ),
    gauge(
        "lvs_backend_estimated_outgoing_packets_per_second",
        "Outgoing packet rate of the real server (2-second estimator).",
    ),
    gauge(
        "lvs_backend_estimated_incoming_bytes_per_second",
        "Incoming byte rate of the real server (2-second estimator).",
    ),
    gauge(
        "lvs_backend_estimated_outgoing_bytes_per_second",
        "Outgoing byte rate of the real server (2-second estimator).",
    ),
];

/// Every family name the exporter writes.
#[cfg(test)]
pub fn family_names() -> impl Iterator<Item = &'static str> {
    GLOBAL
        .iter()
        .chain(std::iter::once(&DATAPLANE_PACKETS))
        .chain(SERVICE)
        .chain(BACKEND)
        .map(|f| f.name)
}

/// A label value escaped for the text format: backslash, double quote and line feed.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A HELP text escaped for the text format: backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn header(out: &mut String, f: &Family) {
    let kind = match f.kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
    };
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
    let _ = writeln!(out, "# TYPE {} {kind}", f.name);
}

fn sample(out: &mut String, name: &str, labels: &[(&str, String)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// The labels node_exporter gives a service: `local_address` (empty for fwmark services),
/// `local_port` (0 for fwmark services), `proto` (`TCP`, `UDP`, `SCTP`, `FWM`),
/// `local_mark` (empty, or the mark as `/proc/net/ip_vs` prints it: 8 hex digits), and
/// `family` (`inet`, `inet6`), without which IPv4 and IPv6 fwmark services of one mark
/// would collide.
fn service_labels(key: &ServiceKey) -> Vec<(&'static str, String)> {
    let (addr, port, proto, mark) = match *key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (
            addr.to_string(),
            port,
            protocol.name().to_string(),
            String::new(),
        ),
        ServiceKey::Fwmark { mark, .. } => {
            (String::new(), 0, "FWM".to_string(), format!("{mark:08X}"))
        }
    };
    let family = match key.af() {
        Af::Inet => "inet",
        Af::Inet6 => "inet6",
    };
    vec![
        ("local_address", addr),
        ("local_port", port.to_string()),
        ("proto", proto),
        ("local_mark", mark),
        ("family", family.to_string()),
    ]
}

fn backend_labels(
    svc: &[(&'static str, String)],
    addr: IpAddr,
    port: u16,
) -> Vec<(&'static str, String)> {
    let mut l = svc.to_vec();
    // node_exporter's order: local_address, local_port, remote_address, remote_port, …
    l.insert(2, ("remote_address", addr.to_string()));
    l.insert(3, ("remote_port", port.to_string()));
    l
}

fn counter_values(c: &Counters) -> [u64; 5] {
    [c.conns, c.inpkts, c.outpkts, c.inbytes, c.outbytes]
}

fn rate_values(r: &Rates) -> [u64; 5] {
    [r.cps, r.inpps, r.outpps, r.inbps, r.outbps]
}

/// The values of [`SERVICE`], in its order.
fn service_values(s: &Service, dests: &[&Dest]) -> [u64; SERVICE.len()] {
    let sum = |f: fn(&Dest) -> u32| dests.iter().map(|d| u64::from(f(d))).sum::<u64>();
    let [conns, inpkts, outpkts, inbytes, outbytes] = counter_values(&s.stats.total);
    let [cps, inpps, outpps, inbps, outbps] = rate_values(&s.stats.rates());
    [
        1,
        dests.len() as u64,
        sum(|d| d.activeconns),
        sum(|d| d.inactconns),
        sum(|d| d.persistconns),
        conns,
        inpkts,
        outpkts,
        inbytes,
        outbytes,
        cps,
        inpps,
        outpps,
        inbps,
        outbps,
    ]
}

/// The values of [`BACKEND`], in its order.
fn backend_values(d: &Dest) -> [u64; BACKEND.len()] {
    let [conns, inpkts, outpkts, inbytes, outbytes] = counter_values(&d.stats.total);
    let [cps, inpps, outpps, inbps, outbps] = rate_values(&d.stats.rates());
    [
        1,
        u64::try_from(d.weight).unwrap_or(0),
        u64::from(d.is_overloaded()),
        u64::from(d.activeconns),
        u64::from(d.inactconns),
        u64::from(d.persistconns),
        conns,
        inpkts,
        outpkts,
        inbytes,
        outbytes,
        cps,
        inpps,
        outpps,
        inbps,
        outbps,
    ]
}

/// The whole exposition: global counters, then per service, then per real server. Every
/// family always has its HELP and TYPE lines, also without samples.
pub fn render(ipvs: &Ipvs, dataplane: &lvs_api::DataplaneStatus) -> String {
    let mut out = String::new();
    let g = ipvs.stats();
    let globals: Vec<u64> = counter_values(&g.total)
        .into_iter()
        .chain(rate_values(&g.rates()))
        .chain([
            ipvs.services().count() as u64,
            ipvs.conns().len() as u64,
            u64::from(dataplane.running),
            dataplane.flows,
        ])
        .collect();
    for (f, v) in GLOBAL.iter().zip(globals) {
        header(&mut out, f);
        sample(&mut out, f.name, &[], v);
    }
    header(&mut out, &DATAPLANE_PACKETS);
    for (name, v) in &dataplane.counters {
        sample(
            &mut out,
            DATAPLANE_PACKETS.name,
            &[("outcome", name.clone())],
            *v,
        );
    }

    type Row<'a> = (&'a Service, Vec<(&'static str, String)>, Vec<&'a Dest>);
    let services: Vec<Row<'_>> = ipvs
        .services()
        .map(|s| {
            let dests = ipvs.dests_of(s.key()).into_iter().map(|(_, d)| d).collect();
            (s, service_labels(s.key()), dests)
        })
        .collect();
    let svc_values: Vec<_> = services
        .iter()
        .map(|(s, _, d)| service_values(s, d))
        .collect();
    for (i, f) in SERVICE.iter().enumerate() {
        header(&mut out, f);
        for ((s, labels, _), values) in services.iter().zip(&svc_values) {
            let v = values[i];
            if i == 0 {
                let mut l = labels.clone();
                l.push(("scheduler", s.scheduler().to_string()));
                sample(&mut out, f.name, &l, v);
            } else {
                sample(&mut out, f.name, labels, v);
            }
        }
    }
    for (i, f) in BACKEND.iter().enumerate() {
        header(&mut out, f);
        for (_, labels, dests) in &services {
            for d in dests {
                let mut l = backend_labels(labels, d.addr, d.port);
                if i == 0 {
                    l.push(("forward", d.fwd.name().to_string()));
                }
                sample(&mut out, f.name, &l, backend_values(d)[i]);
            }
        }
    }
    out
}

#[cfg(test)]
pub mod parse {
    //! A strict reader of the text exposition format 0.0.4, for tests: it refuses what
    //! Prometheus would refuse (a sample before its family's TYPE, a family split in two,
    //! a duplicate series, bad escapes).

    use std::collections::{BTreeMap, HashMap};

    /// One sample.
    #[derive(Clone, Debug, PartialEq)]
    pub struct Sample {
        /// Metric name.
        pub name: String,
        /// Labels.
        pub labels: BTreeMap<String, String>,
        /// Value.
        pub value: f64,
    }

    /// A parsed exposition.
    #[derive(Debug, Default)]
    pub struct Exposition {
        /// Family name → (type, help).
        pub families: HashMap<String, (String, String)>,
        /// Every sample in order.
        pub samples: Vec<Sample>,
    }

    impl Exposition {
        /// The samples of `name` whose labels include every pair of `with`.
        pub fn find(&self, name: &str, with: &[(&str, &str)]) -> Vec<&Sample> {
            self.samples
                .iter()
                .filter(|s| {
                    s.name == name
                        && with
                            .iter()
                            .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
                })
                .collect()
        }

        /// The one sample of `name` with labels `with`.
        pub fn value(&self, name: &str, with: &[(&str, &str)]) -> f64 {
            let f = self.find(name, with);
            assert_eq!(f.len(), 1, "{name} {with:?}: {f:?}");
            f[0].value
        }
    }

    fn valid_name(n: &str) -> bool {
        let mut c = n.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
    }

    fn labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
        let mut out = BTreeMap::new();
        loop {
            if let Some(rest) = s.strip_prefix('}') {
                return Ok((out, rest));
            }
            let eq = s.find('=').ok_or("label without =")?;
            let key = &s[..eq];
            if !valid_name(key) || key.contains(':') {
                return Err(format!("bad label name {key:?}"));
            }
            s = s[eq + 1..]
                .strip_prefix('"')
                .ok_or("label value not quoted")?;
            let mut val = String::new();
            let mut chars = s.char_indices();
            let end = loop {
                match chars.next().ok_or("unterminated label value")? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => val.push('\\'),
                        '"' => val.push('"'),
                        'n' => val.push('\n'),
                        c => return Err(format!("bad escape \\{c}")),
                    },
                    (_, '\n') => return Err("raw newline in label value".into()),
                    (_, c) => val.push(c),
                }
            };
            if out.insert(key.to_string(), val).is_some() {
                return Err(format!("label {key} twice"));
            }
            s = &s[end + 1..];
            s = s.strip_prefix(',').unwrap_or(s);
        }
    }

    /// Parse `text`, failing on anything malformed.
    pub fn parse(text: &str) -> Result<Exposition, String> {
        let mut e = Exposition::default();
        let mut current: Option<String> = None;
        let mut closed = std::collections::HashSet::new();
        let mut series = std::collections::HashSet::new();
        if !text.is_empty() && !text.ends_with('\n') {
            return Err("no final line feed".into());
        }
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# ") {
                let mut parts = rest.splitn(3, ' ');
                let (kw, name, arg) = (parts.next(), parts.next(), parts.next());
                let (Some(kw), Some(name), Some(arg)) = (kw, name, arg) else {
                    return Err(format!("bad comment {line:?}"));
                };
                if !valid_name(name) {
                    return Err(format!("bad name {name:?}"));
                }
                if current.as_deref() != Some(name) {
                    if let Some(c) = current.take() {
                        closed.insert(c);
                    }
                    if closed.contains(name) {
                        return Err(format!("family {name} split"));
                    }
                    current = Some(name.to_string());
                }
                let entry = e.families.entry(name.to_string()).or_default();
                match kw {
                    "HELP" => entry.1 = arg.to_string(),
                    "TYPE" => {
                        if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg) {
                            return Err(format!("bad type {arg}"));
                        }
                        entry.0 = arg.to_string();
                    }
                    _ => return Err(format!("bad keyword {kw}")),
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name_end = line.find(['{', ' ']).ok_or("sample without value")?;
            let name = &line[..name_end];
            if !valid_name(name) {
                return Err(format!("bad metric name {name:?}"));
            }
            let (labels, rest) = match line[name_end..].strip_prefix('{') {
                Some(r) => labels(r)?,
                None => (BTreeMap::new(), &line[name_end..]),
            };
            let value = rest
                .trim_start_matches(' ')
                .split(' ')
                .next()
                .ok_or("no value")?;
            let value: f64 = value
                .parse()
                .map_err(|_| format!("bad value in {line:?}"))?;
            if current.as_deref() != Some(name)
                || e.families.get(name).is_none_or(|f| f.0.is_empty())
            {
                return Err(format!("sample {name} outside its family's block"));
            }
            if !series.insert((name.to_string(), format!("{labels:?}"))) {
                return Err(format!("duplicate series {line:?}"));
            }
            e.samples.push(Sample {
                name: name.to_string(),
                labels,
                value,
            });
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        assert_eq!(escape_label("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn families_are_unique_and_well_named() {
        let names: Vec<&str> = family_names().collect();
        let mut set = std::collections::HashSet::new();
        for n in &names {
            assert!(set.insert(*n), "{n} twice");
            assert!(n.starts_with("lvs_"));
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{n}");
        }
        for f in GLOBAL.iter().chain(SERVICE).chain(BACKEND) {
            assert_eq!(
                f.kind == Kind::Counter,
                f.name.ends_with("_total"),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn the_parser_refuses_what_prometheus_refuses() {
        use super::parse::parse;
        let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"v\\\"\\n\"} 1\n";
        let e = parse(ok).unwrap();
        assert_eq!(e.samples[0].labels["l"], "v\"\n");
        for bad in [
            "a 1\n",
            "# TYPE a gauge\na 1\na 2\n",
            "# TYPE a gauge\n# TYPE b gauge\n# TYPE a gauge\n",
            "# TYPE a gauge\na{l=\"x} 1\n",
            "# TYPE a gauge\na{l=\"\\q\"} 1\n",
            "# TYPE a gauge\na one\n",
            "# TYPE a gauge\na 1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    /// A model with every kind of service, connections and traffic, rates after a few
    /// estimator rounds.
    fn model() -> Ipvs {
        use lvs_core::{DestConfig, ForwardMethod, PacketMeta, ServiceConfig, TcpFlags, Time};
        let mut ipvs = Ipvs::default();
        let web = ServiceKey::tcp(ip("10.0.0.1"), 80);
        ipvs.add_service(&ServiceConfig::new(web, "rr").persistent(60))
            .unwrap();
        let mut d1 = DestConfig::new(ip("10.2.0.11"), 8080, ForwardMethod::Masq).weight(3);
        d1.u_threshold = 1;
        ipvs.add_dest(&web, &d1).unwrap();
        ipvs.add_dest(
            &web,
            &DestConfig::new(ip("10.2.0.12"), 8080, ForwardMethod::Masq).weight(1),
        )
        .unwrap();
        let dns = ServiceKey::udp(ip("fd00::1"), 53);
        ipvs.add_service(&ServiceConfig::new(dns, "wlc")).unwrap();
        ipvs.add_dest(
            &dns,
            &DestConfig::new(ip("fd00::11"), 53, ForwardMethod::Route),
        )
        .unwrap();
        for af in [Af::Inet, Af::Inet6] {
            let k = ServiceKey::Fwmark { af, mark: 26 };
            ipvs.add_service(&ServiceConfig::new(k, "sh")).unwrap();
            let a = if af == Af::Inet {
                "10.2.0.13"
            } else {
                "fd00::13"
            };
            ipvs.add_dest(&k, &DestConfig::new(ip(a), 0, ForwardMethod::Route))
                .unwrap();
        }
        for (i, client) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
            let t = Time::from_millis(100 * i as u64);
            let p =
                PacketMeta::tcp(ip(client), 40000, ip("10.0.0.1"), 80, TcpFlags::SYN).with_len(60);
            ipvs.process_in(&p, t);
        }
        let u = PacketMeta::udp(ip("fd00::99"), 5353, ip("fd00::1"), 53).with_len(80);
        ipvs.process_in(&u, Time::from_millis(300));
        let (id, _) = ipvs.dests_of(&web)[0];
        ipvs.add_dest_traffic(id, (100, 150_000), (80, 9_000_000));
        for s in 1..=6 {
            ipvs.poll(Time::from_secs(2 * s));
        }
        ipvs
    }

    #[test]
    fn the_exposition_says_what_the_model_holds() {
        let ipvs = model();
        let dp = lvs_api::DataplaneStatus {
            running: true,
            interfaces: vec![],
            flows: 12,
            counters: vec![("rx".into(), 1234), ("punt_new".into(), 7)],
        };
        let text = render(&ipvs, &dp);
        let e = super::parse::parse(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
        // Every family is announced with its type, also those without samples.
        for f in GLOBAL
            .iter()
            .chain([&DATAPLANE_PACKETS])
            .chain(SERVICE)
            .chain(BACKEND)
        {
            let (t, h) = &e.families[f.name];
            assert_eq!(
                t,
                if f.kind == Kind::Counter {
                    "counter"
                } else {
                    "gauge"
                }
            );
            assert_eq!(h, f.help);
        }
        let g = ipvs.stats();
        assert_eq!(e.value("lvs_connections_total", &[]), g.total.conns as f64);
        assert_eq!(g.total.conns, 4);
        assert_eq!(
            e.value("lvs_incoming_packets_total", &[]),
            g.total.inpkts as f64
        );
        assert_eq!(e.value("lvs_outgoing_bytes_total", &[]), 9_000_000.0);
        assert_eq!(
            e.value("lvs_estimated_outgoing_bytes_per_second", &[]),
            g.rates().outbps as f64
        );
        assert!(g.rates().outbps > 0, "the estimator ran");
        assert_eq!(e.value("lvs_services", &[]), 4.0);
        assert_eq!(
            e.value("lvs_connection_table_entries", &[]),
            ipvs.conns().len() as f64
        );
        assert_eq!(e.value("lvs_dataplane_up", &[]), 1.0);
        assert_eq!(e.value("lvs_dataplane_flows", &[]), 12.0);
        assert_eq!(
            e.value("lvs_dataplane_packets_total", &[("outcome", "rx")]),
            1234.0
        );

        // Per service and per real server, with node_exporter's labels.
        let web = [
            ("local_address", "10.0.0.1"),
            ("local_port", "80"),
            ("proto", "TCP"),
        ];
        assert_eq!(
            e.find("lvs_service_info", &web)[0].labels["scheduler"],
            "rr"
        );
        assert_eq!(e.value("lvs_service_backends", &web), 2.0);
        assert_eq!(e.value("lvs_service_connections_total", &web), 3.0);
        for (_, d) in ipvs.dests_of(&ServiceKey::tcp(ip("10.0.0.1"), 80)) {
            let addr = d.addr.to_string();
            let l = [
                ("local_address", "10.0.0.1"),
                ("local_port", "80"),
                ("remote_address", addr.as_str()),
                ("remote_port", "8080"),
                ("proto", "TCP"),
                ("local_mark", ""),
                ("family", "inet"),
            ];
            let v = |n: &str| e.value(n, &l);
            assert_eq!(v("lvs_backend_weight"), f64::from(d.weight));
            assert_eq!(
                v("lvs_backend_connections_active"),
                f64::from(d.activeconns)
            );
            assert_eq!(
                v("lvs_backend_connections_inactive"),
                f64::from(d.inactconns)
            );
            assert_eq!(
                v("lvs_backend_connections_persistent"),
                f64::from(d.persistconns)
            );
            assert_eq!(
                v("lvs_backend_connections_total"),
                d.stats.total.conns as f64
            );
            assert_eq!(
                v("lvs_backend_incoming_bytes_total"),
                d.stats.total.inbytes as f64
            );
            assert_eq!(
                v("lvs_backend_outgoing_packets_total"),
                d.stats.total.outpkts as f64
            );
            assert_eq!(
                v("lvs_backend_estimated_incoming_packets_per_second"),
                d.stats.rates().inpps as f64
            );
            assert_eq!(
                v("lvs_backend_overloaded"),
                f64::from(u8::from(d.is_overloaded()))
            );
            let info = e.find("lvs_backend_info", &l);
            assert_eq!(info[0].labels["forward"], "Masq");
        }
        // Persistence: every connection has a template; the service sums its servers.
        let sum = |n: &str| -> f64 { e.find(n, &web).iter().map(|s| s.value).sum() };
        assert_eq!(e.value("lvs_service_connections_persistent", &web), 3.0);
        assert_eq!(
            e.value("lvs_service_connections_persistent", &web),
            sum("lvs_backend_connections_persistent")
        );
        assert_eq!(
            e.value("lvs_service_connections_active", &web)
                + e.value("lvs_service_connections_inactive", &web),
            3.0
        );
        // OVERLOAD (upper threshold 1 on the first server) as the model has it.
        let over: f64 = sum("lvs_backend_overloaded");
        let model_over = ipvs
            .dests_of(&ServiceKey::tcp(ip("10.0.0.1"), 80))
            .iter()
            .filter(|(_, d)| d.is_overloaded())
            .count();
        assert_eq!(over, model_over as f64);

        // IPv6 and fwmark services: IPv4 and IPv6 fwmark 26 stay apart by family.
        let dns = [
            ("local_address", "fd00::1"),
            ("proto", "UDP"),
            ("family", "inet6"),
        ];
        assert_eq!(e.value("lvs_service_connections_total", &dns), 1.0);
        assert_eq!(
            e.value(
                "lvs_backend_connections_inactive",
                &[("remote_address", "fd00::11"), ("remote_port", "53")]
            ),
            1.0
        );
        for fam in ["inet", "inet6"] {
            let l = [
                ("proto", "FWM"),
                ("local_mark", "0000001A"),
                ("local_address", ""),
                ("local_port", "0"),
                ("family", fam),
            ];
            assert_eq!(e.value("lvs_service_backends", &l), 1.0);
        }
    }

    #[test]
    fn an_empty_director_still_announces_every_family() {
        let text = render(&Ipvs::default(), &lvs_api::DataplaneStatus::default());
        let e = super::parse::parse(&text).unwrap();
        assert_eq!(e.families.len(), family_names().count());
        assert_eq!(e.value("lvs_dataplane_up", &[]), 0.0);
        assert!(e.find("lvs_backend_weight", &[]).is_empty());
    }

    /// Every string of the dashboard that PromQL reads: targets' `expr`, variables'
    /// `query` and `definition`.
    fn dashboard_queries(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr" | "query" | "definition", serde_json::Value::String(s)) => {
                            out.push(s.clone());
                        }
                        _ => dashboard_queries(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| dashboard_queries(x, out)),
            _ => {}
        }
    }

    fn words(s: &str) -> Vec<&str> {
        s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect()
    }

    #[test]
    fn the_grafana_dashboard_uses_only_exported_metrics_and_labels() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/grafana/lvs-rs.json"
        );
        let dash: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("valid JSON");
        let mut queries = Vec::new();
        dashboard_queries(&dash, &mut queries);
        assert!(queries.len() > 20, "{queries:?}");
        let families: std::collections::HashSet<&str> = family_names().collect();
        let mut used = std::collections::HashSet::new();
        // Labels lvsd writes, and the ones Prometheus adds to every target.
        let labels = [
            "local_address",
            "local_port",
            "remote_address",
            "remote_port",
            "proto",
            "local_mark",
            "family",
            "scheduler",
            "forward",
            "outcome",
            "instance",
            "job",
        ];
        for q in &queries {
            for w in words(q).into_iter().filter(|w| w.starts_with("lvs_")) {
                assert!(families.contains(w), "{w} is not exported (in {q})");
                used.insert(w);
            }
            // Label names: before `=`/`=~`/`!=` in selectors, and in by/on/group_left lists.
            for (i, _) in q.match_indices(['=', '!']) {
                let before = q[..i].trim_end_matches(['=', '!', '~']);
                if let Some(name) = words(before).last()
                    && !q[i..].starts_with("==")
                {
                    assert!(labels.contains(name), "label {name} in {q}");
                }
            }
            for kw in ["by (", "on (", "group_left (", "without ("] {
                for (i, _) in q.match_indices(kw) {
                    let list = &q[i + kw.len()..];
                    let list = &list[..list.find(')').unwrap()];
                    for name in words(list) {
                        assert!(labels.contains(&name), "label {name} in {q}");
                    }
                }
            }
        }
        // And every family has a panel.
        let unused: Vec<_> = families.difference(&used).collect();
        assert!(unused.is_empty(), "no panel for {unused:?}");
        // Legends name only labels that exist.
        let text = std::fs::read_to_string(path).unwrap();
        for part in text.split("{{").skip(1) {
            let name = &part[..part.find("}}").unwrap()];
            assert!(labels.contains(&name), "legend label {name}");
        }
    }
}
