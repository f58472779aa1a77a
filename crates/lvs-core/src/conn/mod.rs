//! Connections (`struct ip_vs_conn`), the connection table and the protocol state machines.
//!
//! A [`Conn`] is stored compactly (addresses as 16 bytes, handles as `u32`) because a director
//! holds millions of them; [`table::ConnTable`] indexes them for the two lookup directions and
//! expires them through a timer wheel. The TCP state machine is in [`tcp`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::dest::DestId;
use crate::time::Time;
use crate::types::{Af, ForwardMethod, Protocol};

pub mod table;
pub mod tcp;

pub use table::{ConnId, ConnTable};
pub use tcp::{Direction, TcpState, Timeouts};

/// An address stored in 16 bytes: IPv4 in the first four, the rest zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr16(pub [u8; 16]);

impl Addr16 {
    /// The all-zero address.
    pub const ZERO: Addr16 = Addr16([0; 16]);

    /// Store `ip`.
    #[inline]
    pub fn from_ip(ip: IpAddr) -> Addr16 {
        match ip {
            IpAddr::V4(a) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&a.octets());
                Addr16(b)
            }
            IpAddr::V6(a) => Addr16(a.octets()),
        }
    }

    /// Read back as an address of family `af`.
    #[inline]
    pub fn to_ip(self, af: Af) -> IpAddr {
        match af {
            Af::Inet => IpAddr::V4(Ipv4Addr::new(self.0[0], self.0[1], self.0[2], self.0[3])),
            Af::Inet6 => IpAddr::V6(Ipv6Addr::from(self.0)),
        }
    }
}

impl From<IpAddr> for Addr16 {
    fn from(ip: IpAddr) -> Addr16 {
        Addr16::from_ip(ip)
    }
}

/// Connection flags (`IP_VS_CONN_F_*`, reference §5.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnFlags(pub u32);

impl ConnFlags {
    /// Forwarding method bits.
    pub const FWD_MASK: u32 = 0x0007;
    /// Created from a sync message.
    pub const SYNC: u32 = 0x0020;
    /// Hashed into the table.
    pub const HASHED: u32 = 0x0040;
    /// Replies do not pass the director (every method but NAT/FULLNAT).
    pub const NOOUTPUT: u32 = 0x0080;
    /// Counted in inactconns.
    pub const INACTIVE: u32 = 0x0100;
    /// Outgoing sequence adjustment.
    pub const OUT_SEQ: u32 = 0x0200;
    /// Incoming sequence adjustment.
    pub const IN_SEQ: u32 = 0x0400;
    /// Client port not yet known (matches any).
    pub const NO_CPORT: u32 = 0x0800;
    /// Persistence template.
    pub const TEMPLATE: u32 = 0x1000;
    /// One-packet scheduling: never hashed, expires after its packet.
    pub const ONE_PACKET: u32 = 0x2000;
    /// Kernel FWD value used by this project for FULLNAT (not in mainline IPVS).
    pub const FWD_FULLNAT: u32 = 0x0005;

    /// Whether `flag` is set.
    #[inline]
    pub const fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }

    /// The forwarding method bits as a [`ForwardMethod`].
    pub fn fwd(self) -> ForwardMethod {
        match self.0 & Self::FWD_MASK {
            0 => ForwardMethod::Masq,
            1 => ForwardMethod::Local,
            2 => ForwardMethod::Tunnel,
            3 => ForwardMethod::Route,
            4 => ForwardMethod::Bypass,
            _ => ForwardMethod::FullNat,
        }
    }
}

/// "No connection" / "no destination" in the compact `u32` handle fields.
pub const NONE: u32 = u32::MAX;

/// One connection or persistence template.
///
/// Field names follow the kernel: `c*` client, `v*` virtual service, `d*` destination
/// (real server), `l*` FULLNAT local address. Ports are in host byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conn {
    /// Client address (for templates: the masked client network).
    pub caddr: Addr16,
    /// Virtual address (fwmark templates: the mark as an IPv4 address).
    pub vaddr: Addr16,
    /// Real server address.
    pub daddr: Addr16,
    /// FULLNAT local address (zero for other methods).
    pub laddr: Addr16,
    /// When the entry expires.
    pub expires: Time,
    /// Idle timeout in the current state, milliseconds (re-armed on every packet).
    pub timeout_ms: u32,
    /// `IP_VS_CONN_F_*` flags.
    pub flags: ConnFlags,
    /// Firewall mark of the service (0 if none).
    pub fwmark: u32,
    /// Bound destination ([`NONE`] if unbound).
    pub dest: u32,
    /// Controlling template ([`NONE`] if none).
    pub control: u32,
    /// Number of connections this entry controls.
    pub n_control: u32,
    /// Incoming packets seen (drives sync thresholds).
    pub in_pkts: u32,
    /// Client port.
    pub cport: u16,
    /// Virtual port.
    pub vport: u16,
    /// Real server port.
    pub dport: u16,
    /// FULLNAT local port.
    pub lport: u16,
    /// IP protocol number (0 = `IP` for fwmark templates).
    pub protocol: u8,
    /// Address family of caddr/vaddr (0 = IPv4, 1 = IPv6).
    pub af: u8,
    /// Address family of daddr/laddr (0 = IPv4, 1 = IPv6).
    pub daf: u8,
    /// Protocol state (a [`TcpState`] value for TCP; 0 = NONE / UDP for others).
    pub state: u8,
}

impl Conn {
    /// Address family of the client side.
    #[inline]
    pub fn af(&self) -> Af {
        if self.af == 0 { Af::Inet } else { Af::Inet6 }
    }

    /// Address family of the real-server side.
    #[inline]
    pub fn daf(&self) -> Af {
        if self.daf == 0 { Af::Inet } else { Af::Inet6 }
    }

    /// The transport protocol (`None` for fwmark templates, protocol "IP").
    #[inline]
    pub fn protocol(&self) -> Option<Protocol> {
        Protocol::from_number(self.protocol)
    }

    /// Whether this is a persistence template.
    #[inline]
    pub fn is_template(&self) -> bool {
        self.flags.has(ConnFlags::TEMPLATE)
    }

    /// The bound destination.
    #[inline]
    pub fn dest(&self) -> Option<DestId> {
        (self.dest != NONE).then_some(DestId(self.dest))
    }

    /// The controlling template.
    #[inline]
    pub fn control(&self) -> Option<ConnId> {
        (self.control != NONE).then_some(self.control)
    }

    /// Client address.
    pub fn caddr_ip(&self) -> IpAddr {
        self.caddr.to_ip(self.af())
    }

    /// Virtual address.
    pub fn vaddr_ip(&self) -> IpAddr {
        self.vaddr.to_ip(self.af())
    }

    /// Real server address.
    pub fn daddr_ip(&self) -> IpAddr {
        self.daddr.to_ip(self.daf())
    }

    /// FULLNAT local address.
    pub fn laddr_ip(&self) -> IpAddr {
        self.laddr.to_ip(self.daf())
    }
}

/// Encode an [`Af`] for [`Conn::af`] / [`Conn::daf`].
#[inline]
pub const fn af_code(af: Af) -> u8 {
    match af {
        Af::Inet => 0,
        Af::Inet6 => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr16_round_trip() {
        for s in ["10.1.2.3", "0.0.0.0", "2001:db8::1", "::ffff:10.0.0.1"] {
            let ip: IpAddr = s.parse().unwrap();
            assert_eq!(Addr16::from_ip(ip).to_ip(Af::of(&ip)), ip);
        }
    }

    #[test]
    fn conn_is_compact() {
        // 4 addresses (64) + expires (8) + 8 u32 (32) + 4 ports (8) + 4 bytes = 116.
        assert!(
            std::mem::size_of::<Conn>() <= 120,
            "{}",
            std::mem::size_of::<Conn>()
        );
    }

    #[test]
    fn fwd_bits() {
        assert_eq!(ConnFlags(0x100 | 3).fwd(), ForwardMethod::Route);
        assert_eq!(
            ConnFlags(ConnFlags::FWD_FULLNAT).fwd(),
            ForwardMethod::FullNat
        );
        assert_eq!(ConnFlags(0).fwd(), ForwardMethod::Masq);
    }
}
