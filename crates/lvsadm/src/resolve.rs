//! Name resolution: the four C library look-ups ipvsadm makes, behind a trait so that the
//! parser and the formatters stay pure and tests can use [`StaticResolver`].
//!
//! | ipvsadm                         | here                                  |
//! |---------------------------------|---------------------------------------|
//! | `gethostbyname` (IPv4 only)     | [`Resolver::host_to_ipv4`]            |
//! | `getservbyname(name, proto)`    | [`Resolver::service_to_port`]         |
//! | `gethostbyaddr`                 | [`Resolver::addr_to_host`]            |
//! | `getservbyport(port, proto)`    | [`Resolver::port_to_service`]         |
//!
//! [`SystemResolver`] answers them from the system: forward look-ups through
//! `std::net::ToSocketAddrs` (getaddrinfo, so `/etc/hosts` and DNS per nsswitch), service
//! names from `/etc/services` (parsed here, no unsafe code), and reverse look-ups through
//! `getnameinfo(3)` with `NI_NAMEREQD` (the one small `unsafe` block of this crate: the
//! standard library has no reverse look-up).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

/// The transport protocol a service name is looked up for (`IP` = none: ipvsadm's look-ups
/// then fail, as for fwmark templates in `-Lc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServProto {
    /// `tcp`.
    Tcp,
    /// `udp`.
    Udp,
    /// `sctp`.
    Sctp,
    /// No protocol (IPPROTO_IP): every service look-up fails.
    Ip,
}

impl ServProto {
    /// The name used in `/etc/services`, if any.
    pub fn name(self) -> Option<&'static str> {
        match self {
            ServProto::Tcp => Some("tcp"),
            ServProto::Udp => Some("udp"),
            ServProto::Sctp => Some("sctp"),
            ServProto::Ip => None,
        }
    }
}

impl From<lvs_api::Protocol> for ServProto {
    fn from(p: lvs_api::Protocol) -> Self {
        match p {
            lvs_api::Protocol::Tcp => ServProto::Tcp,
            lvs_api::Protocol::Udp => ServProto::Udp,
            lvs_api::Protocol::Sctp => ServProto::Sctp,
        }
    }
}

/// Host and service name look-ups.
pub trait Resolver {
    /// `gethostbyname(name)`: the first IPv4 address of a host name.
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr>;
    /// `getservbyname(name, proto)`: the port of a service name.
    fn service_to_port(&self, name: &str, proto: ServProto) -> Option<u16>;
    /// `gethostbyaddr(addr)`: the host name of an address.
    fn addr_to_host(&self, addr: IpAddr) -> Option<String>;
    /// `getservbyport(port, proto)`: the official name of a service.
    fn port_to_service(&self, port: u16, proto: ServProto) -> Option<String>;
}

/// A resolver that knows nothing: every look-up fails (numeric only).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn host_to_ipv4(&self, _: &str) -> Option<Ipv4Addr> {
        None
    }
    fn service_to_port(&self, _: &str, _: ServProto) -> Option<u16> {
        None
    }
    fn addr_to_host(&self, _: IpAddr) -> Option<String> {
        None
    }
    fn port_to_service(&self, _: u16, _: ServProto) -> Option<String> {
        None
    }
}

/// A services database: `/etc/services` parsed.
#[derive(Clone, Debug, Default)]
pub struct Services {
    /// (name or alias, protocol) → port; the first entry wins, as in getservbyname.
    by_name: HashMap<(String, String), u16>,
    /// (port, protocol) → official name; the first entry wins, as in getservbyport.
    by_port: HashMap<(u16, String), String>,
}

impl Services {
    /// Parses the text of a services file (`name port/proto [aliases...] [# comment]`).
    pub fn parse(text: &str) -> Services {
        let mut s = Services::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(pp)) = (words.next(), words.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            s.by_port
                .entry((port, proto.to_string()))
                .or_insert_with(|| name.to_string());
            for n in std::iter::once(name).chain(words) {
                s.by_name
                    .entry((n.to_string(), proto.to_string()))
                    .or_insert(port);
            }
        }
        s
    }

    /// Reads and parses `/etc/services` (empty when it cannot be read).
    pub fn system() -> Services {
        std::fs::read_to_string("/etc/services")
            .map(|t| Services::parse(&t))
            .unwrap_or_default()
    }

    /// getservbyname.
    pub fn port(&self, name: &str, proto: ServProto) -> Option<u16> {
        let p = proto.name()?;
        self.by_name
            .get(&(name.to_string(), p.to_string()))
            .copied()
    }

    /// getservbyport.
    pub fn name(&self, port: u16, proto: ServProto) -> Option<String> {
        let p = proto.name()?;
        self.by_port.get(&(port, p.to_string())).cloned()
    }
}

/// A resolver with fixed tables: for tests, fuzzing and offline use.
#[derive(Clone, Debug, Default)]
pub struct StaticResolver {
    hosts: Vec<(IpAddr, String)>,
    services: Services,
}

impl StaticResolver {
    /// An empty resolver (like [`NoResolver`]).
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Adds a host entry (forward and reverse), like a line of `/etc/hosts`.
    pub fn host(mut self, addr: IpAddr, name: &str) -> StaticResolver {
        self.hosts.push((addr, name.to_string()));
        self
    }

    /// Adds every entry of an `/etc/hosts`-format text.
    pub fn hosts_text(mut self, text: &str) -> StaticResolver {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut w = line.split_whitespace();
            let Some(Ok(addr)) = w.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            for name in w {
                self.hosts.push((addr, name.to_string()));
            }
        }
        self
    }

    /// Uses these services (see [`Services::parse`]).
    pub fn services(mut self, services: Services) -> StaticResolver {
        self.services = services;
        self
    }
}

impl Resolver for StaticResolver {
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        self.hosts.iter().find_map(|(a, n)| match a {
            IpAddr::V4(v4) if n == name => Some(*v4),
            _ => None,
        })
    }
    fn service_to_port(&self, name: &str, proto: ServProto) -> Option<u16> {
        self.services.port(name, proto)
    }
    fn addr_to_host(&self, addr: IpAddr) -> Option<String> {
        self.hosts
            .iter()
            .find(|(a, _)| *a == addr)
            .map(|(_, n)| n.clone())
    }
    fn port_to_service(&self, port: u16, proto: ServProto) -> Option<String> {
        self.services.name(port, proto)
    }
}

/// The system's resolver (see the module documentation).
#[derive(Clone, Debug)]
pub struct SystemResolver {
    services: Services,
}

impl SystemResolver {
    /// Loads `/etc/services`.
    pub fn new() -> SystemResolver {
        SystemResolver {
            services: Services::system(),
        }
    }
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver::new()
    }
}

impl Resolver for SystemResolver {
    fn host_to_ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        // gethostbyname() is IPv4-only and takes the first address.
        (name, 0u16)
            .to_socket_addrs()
            .ok()?
            .find_map(|sa| match sa.ip() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
    }
    fn service_to_port(&self, name: &str, proto: ServProto) -> Option<u16> {
        self.services.port(name, proto)
    }
    fn addr_to_host(&self, addr: IpAddr) -> Option<String> {
        sys::reverse_lookup(addr)
    }
    fn port_to_service(&self, port: u16, proto: ServProto) -> Option<String> {
        self.services.name(port, proto)
    }
}

#[allow(unsafe_code)]
mod sys {
    //! Reverse DNS. The standard library has no reverse look-up, so this calls
    //! `getnameinfo(3)` directly: the only unsafe code of the crate.

    use std::ffi::CStr;
    use std::net::IpAddr;

    /// `getnameinfo(addr, NI_NAMEREQD)`: the host name, or None when there is none.
    pub(super) fn reverse_lookup(addr: IpAddr) -> Option<String> {
        let mut host = [0 as libc::c_char; 1025]; // NI_MAXHOST
        let rc = match addr {
            IpAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: 0,
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `sin` is a fully initialised sockaddr_in that outlives the call and
                // whose size is passed; `host` is a writable buffer of the length passed; the
                // service buffer is null with length 0, which getnameinfo allows.
                unsafe {
                    libc::getnameinfo(
                        (&raw const sin).cast::<libc::sockaddr>(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                        host.as_mut_ptr(),
                        host.len() as libc::socklen_t,
                        std::ptr::null_mut(),
                        0,
                        libc::NI_NAMEREQD,
                    )
                }
            }
            IpAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: 0,
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.octets(),
                    },
                    sin6_scope_id: 0,
                };
                // SAFETY: as above, with a fully initialised sockaddr_in6.
                unsafe {
                    libc::getnameinfo(
                        (&raw const sin6).cast::<libc::sockaddr>(),
                        std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                        host.as_mut_ptr(),
                        host.len() as libc::socklen_t,
                        std::ptr::null_mut(),
                        0,
                        libc::NI_NAMEREQD,
                    )
                }
            }
        };
        if rc != 0 {
            return None;
        }
        // SAFETY: on success getnameinfo wrote a NUL-terminated string into `host`.
        let name = unsafe { CStr::from_ptr(host.as_ptr()) };
        Some(name.to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_parse() {
        let s = Services::parse(
            "# c\nhttp\t\t80/tcp\t\twww  # WWW\nhttp 80/udp\nhttps 443/tcp\nwww-alt 80/tcp\n",
        );
        assert_eq!(s.port("http", ServProto::Tcp), Some(80));
        assert_eq!(s.port("www", ServProto::Tcp), Some(80));
        assert_eq!(s.port("www", ServProto::Udp), None);
        assert_eq!(s.name(80, ServProto::Tcp).as_deref(), Some("http"));
        assert_eq!(s.name(80, ServProto::Ip), None);
        assert_eq!(s.port("https", ServProto::Sctp), None);
    }
}
