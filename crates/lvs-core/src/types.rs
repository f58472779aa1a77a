//! The small value types of the IPVS model: protocols, address families, service keys,
//! forwarding methods, tunnel settings and flag sets.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Transport protocol of a virtual service (the kernel's `IPPROTO_*` numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Protocol {
    /// TCP, IPPROTO_TCP = 6.
    Tcp = 6,
    /// UDP, IPPROTO_UDP = 17.
    Udp = 17,
    /// SCTP, IPPROTO_SCTP = 132.
    Sctp = 132,
}

impl Protocol {
    /// The IP protocol number.
    #[inline]
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The protocol for an IP protocol number, if IPVS balances it.
    pub const fn from_number(n: u8) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The name ipvsadm prints (`TCP`, `UDP`, `SCTP`).
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Af {
    /// IPv4 (AF_INET = 2).
    Inet,
    /// IPv6 (AF_INET6 = 10).
    Inet6,
}

impl Af {
    /// The family of an address.
    #[inline]
    pub const fn of(addr: &IpAddr) -> Af {
        match addr {
            IpAddr::V4(_) => Af::Inet,
            IpAddr::V6(_) => Af::Inet6,
        }
    }

    /// The Linux `AF_*` number (2 or 10), used for ipvsadm's sort order.
    #[inline]
    pub const fn number(self) -> u16 {
        match self {
            Af::Inet => 2,
            Af::Inet6 => 10,
        }
    }

    /// The full-length prefix of the family (32 or 128).
    #[inline]
    pub const fn max_prefix(self) -> u8 {
        match self {
            Af::Inet => 32,
            Af::Inet6 => 128,
        }
    }

    /// The unspecified address of the family.
    pub const fn unspecified(self) -> IpAddr {
        match self {
            Af::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Af::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// What identifies a virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    /// A service on `protocol` `addr:port` (port 0 = every port of the address).
    Addr {
        /// Transport protocol.
        protocol: Protocol,
        /// Virtual address (VIP).
        addr: IpAddr,
        /// Virtual port; 0 only for persistent "port-0" services.
        port: u16,
    },
    /// A firewall-mark service (`ipvsadm -f MARK`, `-6` for IPv6).
    Fwmark {
        /// Address family of the marked packets.
        af: Af,
        /// The mark, 1..=u32::MAX.
        mark: u32,
    },
}

impl ServiceKey {
    /// A TCP service key.
    pub fn tcp(addr: IpAddr, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
            port,
        }
    }

    /// A UDP service key.
    pub fn udp(addr: IpAddr, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr,
            port,
        }
    }

    /// Address family of the service.
    pub fn af(&self) -> Af {
        match self {
            ServiceKey::Addr { addr, .. } => Af::of(addr),
            ServiceKey::Fwmark { af, .. } => *af,
        }
    }

    /// The service's port (0 for fwmark services).
    pub fn port(&self) -> u16 {
        match self {
            ServiceKey::Addr { port, .. } => *port,
            ServiceKey::Fwmark { .. } => 0,
        }
    }

    /// The fwmark (0 for address services).
    pub fn fwmark(&self) -> u32 {
        match self {
            ServiceKey::Addr { .. } => 0,
            ServiceKey::Fwmark { mark, .. } => *mark,
        }
    }
}

/// How the director forwards packets to a real server (the kernel's `IP_VS_CONN_F_FWD_MASK`
/// values, plus FULLNAT which mainline IPVS does not have).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum ForwardMethod {
    /// NAT (`-m`): DNAT in, SNAT of replies.
    Masq = 0,
    /// Local node (shown `Local`): deliver to the director's own stack.
    Local = 1,
    /// IP tunnelling (`-i`): IPIP, GUE or GRE.
    Tunnel = 2,
    /// Direct routing (`-g`, the default): rewrite the destination MAC only.
    #[default]
    Route = 3,
    /// Bypass: route to the original destination (fwmark + cache_bypass).
    Bypass = 4,
    /// FULLNAT (DPVS): SNAT to a local address and DNAT to the real server.
    FullNat = 5,
}

impl ForwardMethod {
    /// The name ipvsadm prints in listings (`Masq`, `Local`, `Tunnel`, `Route`…).
    pub const fn name(self) -> &'static str {
        match self {
            ForwardMethod::Masq => "Masq",
            ForwardMethod::Local => "Local",
            ForwardMethod::Tunnel => "Tunnel",
            ForwardMethod::Route => "Route",
            ForwardMethod::Bypass => "Bypass",
            ForwardMethod::FullNat => "FullNat",
        }
    }

    /// Whether replies pass through the director (NAT and FULLNAT). Every other method
    /// sets NOOUTPUT on its connections.
    pub const fn sees_replies(self) -> bool {
        matches!(self, ForwardMethod::Masq | ForwardMethod::FullNat)
    }
}

/// Tunnel encapsulation type (`--tun-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TunnelType {
    /// IP-in-IP (protocol 4, or 41 for an IPv6 inner packet).
    #[default]
    Ipip,
    /// Generic UDP Encapsulation; needs a UDP port.
    Gue,
    /// GRE.
    Gre,
}

/// Tunnel checksum option (`--tun-nocsum`, `--tun-csum`, `--tun-remcsum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TunnelCsum {
    /// No checksum (flag 0).
    #[default]
    NoCsum,
    /// Checksum (flag 1).
    Csum,
    /// Remote checksum offload (flag 2, GUE only).
    RemCsum,
}

/// Tunnel settings of a real server forwarded with [`ForwardMethod::Tunnel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TunnelConfig {
    /// Encapsulation.
    pub kind: TunnelType,
    /// GUE destination port (0 for ipip and gre).
    pub port: u16,
    /// Checksum option.
    pub csum: TunnelCsum,
}

/// Service flags (`IP_VS_SVC_F_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    /// `IP_VS_SVC_F_PERSISTENT`.
    pub const PERSISTENT: u32 = 0x0001;
    /// `IP_VS_SVC_F_HASHED` (kernel-internal, never set by users).
    pub const HASHED: u32 = 0x0002;
    /// `IP_VS_SVC_F_ONEPACKET`: one-packet scheduling (`-o`).
    pub const ONEPACKET: u32 = 0x0004;
    /// `IP_VS_SVC_F_SCHED1`: `flag-1`, `sh-fallback`, `mh-fallback`.
    pub const SCHED1: u32 = 0x0008;
    /// `IP_VS_SVC_F_SCHED2`: `flag-2`, `sh-port`, `mh-port`.
    pub const SCHED2: u32 = 0x0010;
    /// `IP_VS_SVC_F_SCHED3`: `flag-3`.
    pub const SCHED3: u32 = 0x0020;
    /// Every flag a user may set.
    pub const USER_MASK: u32 =
        Self::PERSISTENT | Self::ONEPACKET | Self::SCHED1 | Self::SCHED2 | Self::SCHED3;

    /// Whether `flag` is set.
    #[inline]
    pub const fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }
}

/// Persistence settings of a service (`-p TIMEOUT -M NETMASK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Persistence {
    /// Template timeout in seconds (1..=2678400; ipvsadm's default is 360).
    pub timeout: u32,
    /// Client-address prefix length that shares a template (32/128 = per client).
    pub prefix_len: u8,
}

/// Longest timeout IPVS accepts, in seconds (31 days).
pub const MAX_TIMEOUT: u32 = 86400 * 31;

/// Longest scheduler name the kernel accepts (`IP_VS_SCHEDNAME_MAXLEN - 1`).
pub const SCHED_NAME_MAX: usize = 15;

/// Mask `addr` to its first `prefix_len` bits (IPv4: 0..=32, IPv6: 0..=128).
pub fn mask_addr(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix_len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix_len.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix_len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix_len.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// Fold an address to the 32-bit word the hash schedulers use (`ip_vs_*_hashkey`):
/// IPv4 as is, IPv6 as the XOR of its four words (host byte order of the result).
pub fn fold_addr(addr: &IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from(*a),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            w(0) ^ w(4) ^ w(8) ^ w(12)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let a: IpAddr = "192.168.10.77".parse().unwrap();
        assert_eq!(mask_addr(a, 24), "192.168.10.0".parse::<IpAddr>().unwrap());
        assert_eq!(mask_addr(a, 32), a);
        assert_eq!(mask_addr(a, 0), "0.0.0.0".parse::<IpAddr>().unwrap());
        let b: IpAddr = "2001:db8:1:2::99".parse().unwrap();
        assert_eq!(
            mask_addr(b, 64),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(mask_addr(b, 128), b);
    }

    #[test]
    fn fold() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(fold_addr(&a), 0x0a00_0001);
        let b: IpAddr = "1:2:3:4:5:6:7:8".parse().unwrap();
        assert_eq!(
            fold_addr(&b),
            0x0001_0002 ^ 0x0003_0004 ^ 0x0005_0006 ^ 0x0007_0008
        );
    }

    #[test]
    fn protocol_numbers_round_trip() {
        for p in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
            assert_eq!(Protocol::from_number(p.number()), Some(p));
        }
        assert_eq!(Protocol::from_number(1), None);
    }
}
