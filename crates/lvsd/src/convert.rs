//! Conversions between the control API's types (`lvs-api`) and the model (`lvs-core`).

use std::net::IpAddr;

use lvs_api as api;
use lvs_core::conn::Conn;
use lvs_core::stats::{Counters, Rates};
use lvs_core::{
    Af, Dest, DestConfig, ForwardMethod, Ipvs, IpvsError, Persistence, Protocol, Service,
    ServiceConfig, ServiceFlags, ServiceKey, Time, TunnelConfig, TunnelCsum, TunnelType,
};

/// API service key → model key.
pub fn key_in(k: &api::ServiceKey) -> ServiceKey {
    match *k {
        api::ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => ServiceKey::Addr {
            protocol: match protocol {
                api::Protocol::Tcp => Protocol::Tcp,
                api::Protocol::Udp => Protocol::Udp,
                api::Protocol::Sctp => Protocol::Sctp,
            },
            addr,
            port,
        },
        api::ServiceKey::Fwmark { family, mark } => ServiceKey::Fwmark {
            af: match family {
                api::Family::Inet => Af::Inet,
                api::Family::Inet6 => Af::Inet6,
            },
            mark,
        },
    }
}

/// Model key → API service key.
pub fn key_out(k: &ServiceKey) -> api::ServiceKey {
    match *k {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => api::ServiceKey::Addr {
            protocol: match protocol {
                Protocol::Tcp => api::Protocol::Tcp,
                Protocol::Udp => api::Protocol::Udp,
                Protocol::Sctp => api::Protocol::Sctp,
            },
            addr,
            port,
        },
        ServiceKey::Fwmark { af, mark } => api::ServiceKey::Fwmark {
            family: match af {
                Af::Inet => api::Family::Inet,
                Af::Inet6 => api::Family::Inet6,
            },
            mark,
        },
    }
}

/// API service → model service configuration.
pub fn service_in(s: &api::ServiceSpec) -> ServiceConfig {
    ServiceConfig {
        key: key_in(&s.key),
        scheduler: s.scheduler.clone(),
        flags: ServiceFlags(s.flags),
        persistence: s.persistence.map(|p| Persistence {
            timeout: p.timeout,
            prefix_len: p.prefix_len,
        }),
        pe_name: s.pe.clone(),
    }
}

fn method_in(m: api::Method) -> ForwardMethod {
    match m {
        api::Method::Masq => ForwardMethod::Masq,
        api::Method::Route => ForwardMethod::Route,
        api::Method::Tunnel => ForwardMethod::Tunnel,
        api::Method::FullNat => ForwardMethod::FullNat,
        api::Method::Local => ForwardMethod::Local,
    }
}

fn method_out(m: ForwardMethod) -> api::Method {
    match m {
        ForwardMethod::Masq => api::Method::Masq,
        ForwardMethod::Route | ForwardMethod::Bypass => api::Method::Route,
        ForwardMethod::Tunnel => api::Method::Tunnel,
        ForwardMethod::FullNat => api::Method::FullNat,
        ForwardMethod::Local => api::Method::Local,
    }
}

/// API real server → model configuration.
pub fn dest_in(d: &api::DestSpec) -> DestConfig {
    DestConfig {
        addr: d.addr,
        port: d.port,
        fwd: method_in(d.method),
        tunnel: TunnelConfig {
            kind: match d.tunnel.kind {
                api::TunnelKind::Ipip => TunnelType::Ipip,
                api::TunnelKind::Gue => TunnelType::Gue,
                api::TunnelKind::Gre => TunnelType::Gre,
            },
            port: d.tunnel.port,
            csum: match d.tunnel.csum {
                api::TunnelCsum::NoCsum => TunnelCsum::NoCsum,
                api::TunnelCsum::Csum => TunnelCsum::Csum,
                api::TunnelCsum::RemCsum => TunnelCsum::RemCsum,
            },
        },
        weight: d.weight,
        u_threshold: d.u_threshold,
        l_threshold: d.l_threshold,
    }
}

fn counters(c: &Counters) -> api::Counters {
    api::Counters {
        conns: c.conns,
        inpkts: c.inpkts,
        outpkts: c.outpkts,
        inbytes: c.inbytes,
        outbytes: c.outbytes,
    }
}

fn rates(r: &Rates) -> api::Rates {
    api::Rates {
        cps: r.cps,
        inpps: r.inpps,
        outpps: r.outpps,
        inbps: r.inbps,
        outbps: r.outbps,
    }
}

/// Model real-server configuration → API real server.
pub fn dest_spec_out(d: &DestConfig) -> api::DestSpec {
    api::DestSpec {
        addr: d.addr,
        port: d.port,
        method: method_out(d.fwd),
        tunnel: api::Tunnel {
            kind: match d.tunnel.kind {
                TunnelType::Ipip => api::TunnelKind::Ipip,
                TunnelType::Gue => api::TunnelKind::Gue,
                TunnelType::Gre => api::TunnelKind::Gre,
            },
            port: d.tunnel.port,
            csum: match d.tunnel.csum {
                TunnelCsum::NoCsum => api::TunnelCsum::NoCsum,
                TunnelCsum::Csum => api::TunnelCsum::Csum,
                TunnelCsum::RemCsum => api::TunnelCsum::RemCsum,
            },
        },
        weight: d.weight,
        u_threshold: d.u_threshold,
        l_threshold: d.l_threshold,
    }
}

/// Model service configuration → API service.
pub fn service_spec_out(cfg: ServiceConfig, proxy_protocol: bool) -> api::ServiceSpec {
    api::ServiceSpec {
        key: key_out(&cfg.key),
        scheduler: cfg.scheduler,
        flags: cfg.flags.0,
        persistence: cfg.persistence.map(|p| api::Persistence {
            timeout: p.timeout,
            prefix_len: p.prefix_len,
        }),
        pe: cfg.pe_name,
        proxy_protocol,
    }
}

/// Model real server → API view.
pub fn dest_out(d: &Dest) -> api::DestInfo {
    api::DestInfo {
        spec: dest_spec_out(&d.config()),
        activeconns: d.activeconns,
        inactconns: d.inactconns,
        persistconns: d.persistconns,
        stats: counters(&d.stats.shown()),
        rates: rates(&d.stats.rates()),
    }
}

/// Model service → API view (real servers in kernel list order).
pub fn service_out(ipvs: &Ipvs, s: &Service, proxy_protocol: bool) -> api::ServiceInfo {
    api::ServiceInfo {
        spec: service_spec_out(s.config(), proxy_protocol),
        stats: counters(&s.stats.shown()),
        rates: rates(&s.stats.rates()),
        dests: ipvs
            .dests_of(s.key())
            .into_iter()
            .map(|(_, d)| dest_out(d))
            .collect(),
    }
}

/// A connection table entry as `ipvsadm -Lc` lists it.
pub fn conn_out(c: &Conn, now: Time) -> api::ConnInfo {
    let protocol = match c.protocol() {
        Some(p) => p.name().to_string(),
        None => "IP".to_string(),
    };
    let local = (c.lport != 0).then(|| (c.laddr_ip(), c.lport));
    api::ConnInfo {
        protocol,
        caddr: c.caddr_ip(),
        cport: c.cport,
        vaddr: c.vaddr_ip(),
        vport: c.vport,
        daddr: c.daddr_ip(),
        dport: c.dport,
        state: Ipvs::state_name(c).to_string(),
        expires_ms: c.expires.millis_since(now),
        template: c.is_template(),
        local,
        inpkts: 0,
        outpkts: 0,
    }
}

/// Model error → API error with ipvsadm's category.
pub fn error_out(e: &IpvsError) -> api::ApiError {
    let kind = match e {
        IpvsError::ServiceExists => api::ErrorKind::ServiceExists,
        IpvsError::NoSuchService => api::ErrorKind::NoSuchService,
        IpvsError::ServiceNotDefined => api::ErrorKind::ServiceNotDefined,
        IpvsError::DestExists => api::ErrorKind::DestExists,
        IpvsError::NoSuchDest => api::ErrorKind::NoSuchDest,
        IpvsError::SchedulerNotFound => api::ErrorKind::SchedulerNotFound,
        IpvsError::OutOfRange { .. } => api::ErrorKind::OutOfRange,
        IpvsError::Invalid { .. } | IpvsError::Sched(_) => api::ErrorKind::Invalid,
        IpvsError::Laddr(_) => api::ErrorKind::Laddr,
    };
    api::ApiError {
        kind,
        message: e.to_string(),
    }
}

/// Whether `a` is an address the model accepts for the service family (used by handlers
/// to give a clear error before touching state).
pub fn same_family(a: &IpAddr, b: &IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let keys = [
            api::ServiceKey::Addr {
                protocol: api::Protocol::Udp,
                addr: "10.0.0.1".parse().unwrap(),
                port: 53,
            },
            api::ServiceKey::Fwmark {
                family: api::Family::Inet6,
                mark: 7,
            },
        ];
        for k in keys {
            assert_eq!(key_out(&key_in(&k)), k);
        }
    }

    #[test]
    fn errors_keep_their_kind() {
        assert_eq!(
            error_out(&IpvsError::DestExists).kind,
            api::ErrorKind::DestExists
        );
        assert_eq!(
            error_out(&IpvsError::SchedulerNotFound).message,
            "Scheduler or persistence engine not found"
        );
    }
}
