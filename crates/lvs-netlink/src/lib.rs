//! `lvs-netlink`: a minimal synchronous rtnetlink client for lvs-rs (`lvsadm realserver`
//! and the director's data plane in `lvs-dataplane`): list links and
//! addresses, add and remove addresses, set links up or down, create and delete links by
//! kind, attach or detach an XDP program the legacy way (`IFLA_XDP`, the attach that
//! `ip link set dev IF xdpgeneric ...` does, which stays until it is removed), and a TC
//! ingress BPF program as a `cls_bpf` filter on a `clsact` qdisc (what `tc filter add dev
//! IF ingress bpf direct-action ...` does, which also stays until it is removed).
//!
//! Both attachments outlive the process that made them, unlike a `bpf_link`: this is how
//! the director's programs keep forwarding when lvsd dies, and how a real server's
//! decapsulator stays after `lvsadm realserver setup` exits.
//!
//! Everything goes through one `NETLINK_ROUTE` socket of the caller's network namespace
//! (socket2, no unsafe code). The only unsafe code is the `getsockopt` of
//! [`Netlink::netns_cookie`].

use std::io::{self, Read};
use std::net::IpAddr;
use std::os::fd::RawFd;

use socket2::{Domain, Protocol, Socket, Type};

// ---- Constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h) ----

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;

const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_FLAGS: u16 = 3;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;

const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_NEWTFILTER: u16 = 44;
const RTM_DELTFILTER: u16 = 45;
const RTM_GETTFILTER: u16 = 46;

// linux/rtnetlink.h, linux/pkt_sched.h, linux/pkt_cls.h
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_FD: u16 = 6;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_ID: u16 = 11;
const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;
/// `TC_H_CLSACT` (= `TC_H_INGRESS`): the parent of the `clsact` qdisc.
const TC_H_CLSACT: u32 = 0xffff_fff1;
/// The `clsact` qdisc's handle, `TC_H_MAKE(TC_H_CLSACT, 0)`.
const CLSACT_HANDLE: u32 = 0xffff_0000;
/// Parent of ingress filters: `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)`.
const TC_PARENT_INGRESS: u32 = 0xffff_fff2;
/// Parent of egress filters: `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)`.
const TC_PARENT_EGRESS: u32 = 0xffff_fff3;
/// `ETH_P_ALL` in network byte order, as a filter's protocol.
const ETH_P_ALL_BE: u16 = 0x0003u16.to_be();

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

/// `XDP_FLAGS_UPDATE_IF_NOEXIST`: fail (EBUSY) instead of replacing another program.
const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1;
/// `XDP_FLAGS_SKB_MODE`.
const XDP_FLAGS_SKB_MODE: u32 = 2;
/// `XDP_FLAGS_DRV_MODE`.
const XDP_FLAGS_DRV_MODE: u32 = 4;

const XDP_ATTACHED_DRV: u8 = 1;
const XDP_ATTACHED_SKB: u8 = 2;
const XDP_ATTACHED_HW: u8 = 3;
const XDP_ATTACHED_MULTI: u8 = 4;

/// `IFF_UP`.
pub const IFF_UP: u32 = 0x1;
/// `IFF_LOOPBACK`.
pub const IFF_LOOPBACK: u32 = 0x8;
/// `ARPHRD_ETHER`: the link type `lvs_rs_decap` can parse.
pub const ARPHRD_ETHER: u16 = 1;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;

// ---- Types ------------------------------------------------------------------------------------

/// An XDP attach mode, as netlink reports and takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XdpMode {
    /// Generic (SKB) XDP: `xdpgeneric` in `ip link`.
    Generic,
    /// Native (driver) XDP: `xdpdrv` (`xdp` in `ip link`).
    Native,
}

impl XdpMode {
    fn flag(self) -> u32 {
        match self {
            XdpMode::Generic => XDP_FLAGS_SKB_MODE,
            XdpMode::Native => XDP_FLAGS_DRV_MODE,
        }
    }
}

impl std::fmt::Display for XdpMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            XdpMode::Generic => "generic",
            XdpMode::Native => "native",
        })
    }
}

/// The XDP program attached to a link, if any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpState {
    /// Program id of a generic-mode program.
    pub skb_prog: Option<u32>,
    /// Program id of a native-mode program.
    pub drv_prog: Option<u32>,
    /// Some other attachment (offloaded, or several at once): its program id if known.
    pub other_prog: Option<u32>,
}

impl XdpState {
    /// The program attached in `mode`.
    pub fn prog(&self, mode: XdpMode) -> Option<u32> {
        match mode {
            XdpMode::Generic => self.skb_prog,
            XdpMode::Native => self.drv_prog,
        }
    }

    /// Any program attached at all (id, and mode if generic or native).
    pub fn any(&self) -> Option<(u32, Option<XdpMode>)> {
        self.skb_prog
            .map(|p| (p, Some(XdpMode::Generic)))
            .or(self.drv_prog.map(|p| (p, Some(XdpMode::Native))))
            .or(self.other_prog.map(|p| (p, None)))
    }
}

/// One network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// `ARPHRD_*` link type.
    pub link_type: u16,
    /// `IFF_*` flags.
    pub flags: u32,
    /// `IFLA_INFO_KIND` (`veth`, `bridge`, `ipip`, ...); `None` for physical devices and
    /// the loopback device.
    pub kind: Option<String>,
    /// Its XDP program(s).
    pub xdp: XdpState,
}

impl Link {
    /// Administratively up.
    pub fn is_up(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    /// The loopback device.
    pub fn is_loopback(&self) -> bool {
        self.flags & IFF_LOOPBACK != 0
    }
}

/// One interface address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address {
    /// Interface index.
    pub index: u32,
    /// The address (`IFA_LOCAL`, else `IFA_ADDRESS`).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
}

/// A `cls_bpf` filter at the ingress of a `clsact` qdisc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcFilter {
    /// Priority (`tc filter ... pref`).
    pub prio: u16,
    /// Filter handle.
    pub handle: u32,
    /// Id of its BPF program.
    pub prog_id: u32,
    /// Its name (`TCA_BPF_NAME`: what the loader gave, e.g. the program's name).
    pub name: String,
}

/// A netlink failure: the kernel's errno, or a local I/O error.
#[derive(Debug, thiserror::Error)]
pub enum NlError {
    /// The kernel refused the request.
    #[error("{}", io::Error::from_raw_os_error(*.0))]
    Kernel(i32),
    /// Socket I/O, or a reply that does not parse.
    #[error("netlink: {0}")]
    Io(#[from] io::Error),
}

impl NlError {
    /// The kernel's errno, if the kernel refused.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NlError::Kernel(e) => Some(*e),
            NlError::Io(_) => None,
        }
    }
}

/// `Result` with [`NlError`].
pub type NlResult<T> = Result<T, NlError>;

// ---- Message building ---------------------------------------------------------------------------

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A request under construction: header, fixed part, attributes.
struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    fn new(ty: u16, flags: u16, fixed: &[u8]) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, filled in by finish
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq, set by the socket
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        buf.extend_from_slice(fixed);
        buf.resize(align4(buf.len()), 0);
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    fn attr(mut self, ty: u16, data: &[u8]) -> Msg {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    fn begin_nest(mut self, ty: u16) -> Msg {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        self
    }

    fn end_nest(mut self) -> Msg {
        let start = self.nests.pop().expect("end_nest without begin_nest");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    // family AF_UNSPEC, pad, type 0
    m[4..8].copy_from_slice(&(index as i32).to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

fn ifaddrmsg(family: u8, prefix_len: u8, index: u32) -> [u8; 8] {
    let mut m = [0u8; 8];
    m[0] = family;
    m[1] = prefix_len;
    // flags 0, scope RT_SCOPE_UNIVERSE (global), as `ip addr add` gives an address
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m
}

/// `struct tcmsg`: family AF_UNSPEC, interface, handle, parent, info (for filters:
/// priority << 16 | protocol).
fn tcmsg(index: u32, handle: u32, parent: u32, info: u32) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[4..8].copy_from_slice(&(index as i32).to_ne_bytes());
    m[8..12].copy_from_slice(&handle.to_ne_bytes());
    m[12..16].copy_from_slice(&parent.to_ne_bytes());
    m[16..20].copy_from_slice(&info.to_ne_bytes());
    m
}

fn addr_bytes(addr: IpAddr) -> (u8, Vec<u8>) {
    match addr {
        IpAddr::V4(a) => (AF_INET, a.octets().to_vec()),
        IpAddr::V6(a) => (AF_INET6, a.octets().to_vec()),
    }
}

// ---- Message parsing ---------------------------------------------------------------------------

/// Iterate over the (type, payload) attributes in `buf`.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            return None;
        }
        let data = &buf[4..len];
        buf = &buf[align4(len).min(buf.len())..];
        Some((ty, data))
    })
}

fn u32_of(data: &[u8]) -> Option<u32> {
    data.get(..4)
        .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
}

fn cstr_of(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

/// A `cls_bpf` filter from an `RTM_NEWTFILTER` dump message; `None` for other kinds and
/// for the per-priority head the kernel dumps first (no program).
fn parse_bpf_filter(payload: &[u8]) -> Option<TcFilter> {
    if payload.len() < 20 {
        return None;
    }
    let handle = u32::from_ne_bytes(payload[8..12].try_into().ok()?);
    let info = u32::from_ne_bytes(payload[16..20].try_into().ok()?);
    let mut kind = None;
    let mut prog_id = None;
    let mut name = String::new();
    for (ty, data) in attrs(&payload[20..]) {
        match ty {
            TCA_KIND => kind = Some(cstr_of(data)),
            TCA_OPTIONS => {
                for (t, d) in attrs(data) {
                    match t {
                        TCA_BPF_ID => prog_id = u32_of(d),
                        TCA_BPF_NAME => name = cstr_of(d),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if kind.as_deref() != Some("bpf") {
        return None;
    }
    Some(TcFilter {
        prio: (info >> 16) as u16,
        handle,
        prog_id: prog_id?,
        name,
    })
}

fn parse_link(payload: &[u8]) -> Option<Link> {
    if payload.len() < 16 {
        return None;
    }
    let link_type = u16::from_ne_bytes([payload[2], payload[3]]);
    let index = i32::from_ne_bytes(payload[4..8].try_into().ok()?) as u32;
    let flags = u32::from_ne_bytes(payload[8..12].try_into().ok()?);
    let mut link = Link {
        index,
        name: String::new(),
        link_type,
        flags,
        kind: None,
        xdp: XdpState::default(),
    };
    for (ty, data) in attrs(&payload[16..]) {
        match ty {
            IFLA_IFNAME => link.name = cstr_of(data),
            IFLA_LINKINFO => {
                for (ity, idata) in attrs(data) {
                    if ity == IFLA_INFO_KIND {
                        link.kind = Some(cstr_of(idata));
                    }
                }
            }
            IFLA_XDP => link.xdp = parse_xdp(data),
            _ => {}
        }
    }
    Some(link)
}

fn parse_xdp(data: &[u8]) -> XdpState {
    let mut attached = 0u8;
    let (mut prog, mut skb, mut drv) = (None, None, None);
    for (ty, d) in attrs(data) {
        match ty {
            IFLA_XDP_ATTACHED => attached = d.first().copied().unwrap_or(0),
            IFLA_XDP_PROG_ID => prog = u32_of(d),
            IFLA_XDP_SKB_PROG_ID => skb = u32_of(d),
            IFLA_XDP_DRV_PROG_ID => drv = u32_of(d),
            _ => {}
        }
    }
    match attached {
        XDP_ATTACHED_SKB => XdpState {
            skb_prog: prog.or(skb),
            ..XdpState::default()
        },
        XDP_ATTACHED_DRV => XdpState {
            drv_prog: prog.or(drv),
            ..XdpState::default()
        },
        XDP_ATTACHED_HW => XdpState {
            other_prog: prog.or(Some(0)),
            ..XdpState::default()
        },
        XDP_ATTACHED_MULTI => XdpState {
            skb_prog: skb,
            drv_prog: drv,
            other_prog: Some(0),
        },
        _ => XdpState::default(),
    }
}

fn parse_addr(payload: &[u8]) -> Option<Address> {
    if payload.len() < 8 {
        return None;
    }
    let family = payload[0];
    let prefix_len = payload[1];
    let index = u32::from_ne_bytes(payload[4..8].try_into().ok()?);
    let mut local = None;
    let mut address = None;
    for (ty, data) in attrs(&payload[8..]) {
        let a = match (family, data.len()) {
            (AF_INET, 4) => IpAddr::from(<[u8; 4]>::try_from(data).ok()?),
            (AF_INET6, 16) => IpAddr::from(<[u8; 16]>::try_from(data).ok()?),
            _ => continue,
        };
        match ty {
            IFA_LOCAL => local = Some(a),
            IFA_ADDRESS => address = Some(a),
            _ => {}
        }
    }
    Some(Address {
        index,
        addr: local.or(address)?,
        prefix_len,
    })
}

// ---- The socket --------------------------------------------------------------------------------

/// A `NETLINK_ROUTE` socket of the caller's network namespace.
#[derive(Debug)]
pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    /// Open the socket.
    pub fn open() -> io::Result<Netlink> {
        let sock = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::RAW.cloexec(),
            Some(Protocol::from(libc::NETLINK_ROUTE)),
        )?;
        Ok(Netlink {
            sock,
            seq: 1,
            buf: vec![0u8; 256 * 1024],
        })
    }

    /// Send `msg` and collect the payloads of the replies of type `reply_type` until the
    /// acknowledgement (or the end of a dump).
    fn transact(&mut self, msg: Msg, reply_type: Option<u16>) -> NlResult<Vec<Vec<u8>>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = msg.finish(seq);
        // An unbound, unconnected netlink socket sends to the kernel (port 0) and is
        // bound automatically on the first send.
        self.sock.send(&bytes)?;
        let mut out = Vec::new();
        loop {
            let n = (&self.sock).read(&mut self.buf)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "socket closed").into());
            }
            let mut off = 0;
            while off + NLMSG_HDRLEN <= n {
                let b = &self.buf[off..n];
                let len = u32::from_ne_bytes(b[0..4].try_into().expect("4")) as usize;
                let ty = u16::from_ne_bytes([b[4], b[5]]);
                let mseq = u32::from_ne_bytes(b[8..12].try_into().expect("4"));
                if len < NLMSG_HDRLEN || len > b.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    )
                    .into());
                }
                let payload = &b[NLMSG_HDRLEN..len];
                off += align4(len);
                if mseq != seq {
                    continue; // a late reply to an earlier request
                }
                match ty {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map(|c| i32::from_ne_bytes(c.try_into().expect("4")))
                            .unwrap_or(-libc::EIO);
                        return if code == 0 {
                            Ok(out)
                        } else {
                            Err(NlError::Kernel(-code))
                        };
                    }
                    t if Some(t) == reply_type => out.push(payload.to_vec()),
                    _ => {}
                }
            }
        }
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> NlResult<Vec<Link>> {
        let msg = Msg::new(RTM_GETLINK, NLM_F_DUMP, &ifinfomsg(0, 0, 0));
        Ok(self
            .transact(msg, Some(RTM_NEWLINK))?
            .iter()
            .filter_map(|p| parse_link(p))
            .collect())
    }

    /// The link named `name`.
    pub fn link_by_name(&mut self, name: &str) -> NlResult<Option<Link>> {
        Ok(self.links()?.into_iter().find(|l| l.name == name))
    }

    /// Every address of the namespace (IPv4 and IPv6).
    pub fn addresses(&mut self) -> NlResult<Vec<Address>> {
        let msg = Msg::new(RTM_GETADDR, NLM_F_DUMP, &ifaddrmsg(0, 0, 0));
        Ok(self
            .transact(msg, Some(RTM_NEWADDR))?
            .iter()
            .filter_map(|p| parse_addr(p))
            .collect())
    }

    /// Add `addr/prefix_len` to link `index` (scope global). `EEXIST` if it is there.
    pub fn add_address(&mut self, index: u32, addr: IpAddr, prefix_len: u8) -> NlResult<()> {
        let (family, bytes) = addr_bytes(addr);
        let msg = Msg::new(
            RTM_NEWADDR,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &ifaddrmsg(family, prefix_len, index),
        )
        .attr(IFA_LOCAL, &bytes)
        .attr(IFA_ADDRESS, &bytes);
        self.transact(msg, None).map(drop)
    }

    /// Remove `addr/prefix_len` from link `index`. `EADDRNOTAVAIL` if it is not there.
    pub fn del_address(&mut self, index: u32, addr: IpAddr, prefix_len: u8) -> NlResult<()> {
        let (family, bytes) = addr_bytes(addr);
        let msg = Msg::new(
            RTM_DELADDR,
            NLM_F_ACK,
            &ifaddrmsg(family, prefix_len, index),
        )
        .attr(IFA_LOCAL, &bytes)
        .attr(IFA_ADDRESS, &bytes);
        self.transact(msg, None).map(drop)
    }

    /// Set link `index` up or down.
    pub fn set_up(&mut self, index: u32, up: bool) -> NlResult<()> {
        let flags = if up { IFF_UP } else { 0 };
        let msg = Msg::new(RTM_SETLINK, NLM_F_ACK, &ifinfomsg(index, flags, IFF_UP));
        self.transact(msg, None).map(drop)
    }

    /// Create a link `name` of `kind` with no parameters (`ip link add NAME type KIND`).
    pub fn create_link(&mut self, name: &str, kind: &str) -> NlResult<()> {
        let mut cname = name.as_bytes().to_vec();
        cname.push(0);
        let mut ckind = kind.as_bytes().to_vec();
        ckind.push(0);
        let msg = Msg::new(
            RTM_NEWLINK,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &ifinfomsg(0, 0, 0),
        )
        .attr(IFLA_IFNAME, &cname)
        .begin_nest(IFLA_LINKINFO)
        .attr(IFLA_INFO_KIND, &ckind)
        .end_nest();
        self.transact(msg, None).map(drop)
    }

    /// Delete link `index`.
    pub fn delete_link(&mut self, index: u32) -> NlResult<()> {
        let msg = Msg::new(RTM_DELLINK, NLM_F_ACK, &ifinfomsg(index, 0, 0));
        self.transact(msg, None).map(drop)
    }

    /// Attach the XDP program `prog_fd` to link `index` in `mode`, unless a program is
    /// attached there already (`EBUSY`; `EEXIST` when one is attached in the other mode).
    /// The attachment belongs to the interface, not to this process: it stays until it is
    /// removed ([`Netlink::detach_xdp`], `ip link set dev IF xdp off`) or the interface goes.
    pub fn attach_xdp(&mut self, index: u32, prog_fd: RawFd, mode: XdpMode) -> NlResult<()> {
        let msg = Msg::new(RTM_SETLINK, NLM_F_ACK, &ifinfomsg(index, 0, 0))
            .begin_nest(IFLA_XDP)
            .attr(IFLA_XDP_FD, &prog_fd.to_ne_bytes())
            .attr(
                IFLA_XDP_FLAGS,
                &(XDP_FLAGS_UPDATE_IF_NOEXIST | mode.flag()).to_ne_bytes(),
            )
            .end_nest();
        self.transact(msg, None).map(drop)
    }

    /// Remove the XDP program attached to link `index` in `mode`.
    pub fn detach_xdp(&mut self, index: u32, mode: XdpMode) -> NlResult<()> {
        let msg = Msg::new(RTM_SETLINK, NLM_F_ACK, &ifinfomsg(index, 0, 0))
            .begin_nest(IFLA_XDP)
            .attr(IFLA_XDP_FD, &(-1i32).to_ne_bytes())
            .attr(IFLA_XDP_FLAGS, &mode.flag().to_ne_bytes())
            .end_nest();
        self.transact(msg, None).map(drop)
    }

    /// Add a `clsact` qdisc to link `index` (`tc qdisc add dev IF clsact`). `EEXIST` if it
    /// has one.
    pub fn add_clsact(&mut self, index: u32) -> NlResult<()> {
        let msg = Msg::new(
            RTM_NEWQDISC,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &tcmsg(index, CLSACT_HANDLE, TC_H_CLSACT, 0),
        )
        .attr(TCA_KIND, b"clsact\0");
        self.transact(msg, None).map(drop)
    }

    /// Remove the `clsact` qdisc of link `index`, with every filter on it.
    pub fn del_clsact(&mut self, index: u32) -> NlResult<()> {
        let msg = Msg::new(
            RTM_DELQDISC,
            NLM_F_ACK,
            &tcmsg(index, CLSACT_HANDLE, TC_H_CLSACT, 0),
        )
        .attr(TCA_KIND, b"clsact\0");
        self.transact(msg, None).map(drop)
    }

    /// Add the TC program `prog_fd` as a direct-action `cls_bpf` filter for every
    /// protocol at the ingress of link `index`'s `clsact` qdisc, at a priority the kernel
    /// chooses (in front of the filters there). The filter belongs to the interface, not
    /// to this process: it stays until it is removed ([`Netlink::del_ingress_filter`],
    /// `tc filter del`) or the interface goes. Returns the new filter, found by its
    /// program id `prog_id`.
    pub fn add_ingress_bpf(
        &mut self,
        index: u32,
        prog_fd: RawFd,
        prog_id: u32,
        name: &str,
    ) -> NlResult<TcFilter> {
        let mut cname = name.as_bytes().to_vec();
        cname.push(0);
        let msg = Msg::new(
            RTM_NEWTFILTER,
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &tcmsg(index, 0, TC_PARENT_INGRESS, u32::from(ETH_P_ALL_BE)),
        )
        .attr(TCA_KIND, b"bpf\0")
        .begin_nest(TCA_OPTIONS)
        .attr(TCA_BPF_FD, &prog_fd.to_ne_bytes())
        .attr(TCA_BPF_NAME, &cname)
        .attr(TCA_BPF_FLAGS, &TCA_BPF_FLAG_ACT_DIRECT.to_ne_bytes())
        .end_nest();
        self.transact(msg, None)?;
        self.ingress_filters(index)?
            .into_iter()
            .find(|f| f.prog_id == prog_id)
            .ok_or_else(|| {
                NlError::Io(io::Error::other(
                    "the new filter is not in the interface's ingress filters",
                ))
            })
    }

    /// The `cls_bpf` filters at the ingress of link `index`'s `clsact` qdisc (none
    /// without the qdisc).
    pub fn ingress_filters(&mut self, index: u32) -> NlResult<Vec<TcFilter>> {
        self.bpf_filters(index, TC_PARENT_INGRESS)
    }

    /// Whether link `index`'s `clsact` qdisc has any filter left, ingress or egress.
    pub fn clsact_has_filters(&mut self, index: u32) -> NlResult<bool> {
        for parent in [TC_PARENT_INGRESS, TC_PARENT_EGRESS] {
            let msg = Msg::new(RTM_GETTFILTER, NLM_F_DUMP, &tcmsg(index, 0, parent, 0));
            match self.transact(msg, Some(RTM_NEWTFILTER)) {
                Ok(v) if !v.is_empty() => return Ok(true),
                Ok(_) => {}
                Err(NlError::Kernel(libc::EINVAL)) | Err(NlError::Kernel(libc::ENOENT)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    fn bpf_filters(&mut self, index: u32, parent: u32) -> NlResult<Vec<TcFilter>> {
        let msg = Msg::new(RTM_GETTFILTER, NLM_F_DUMP, &tcmsg(index, 0, parent, 0));
        match self.transact(msg, Some(RTM_NEWTFILTER)) {
            Ok(v) => Ok(v.iter().filter_map(|p| parse_bpf_filter(p)).collect()),
            // No clsact qdisc: nothing to list.
            Err(NlError::Kernel(libc::EINVAL)) | Err(NlError::Kernel(libc::ENOENT)) => {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// Remove the ingress filter `f` of link `index`.
    pub fn del_ingress_filter(&mut self, index: u32, f: &TcFilter) -> NlResult<()> {
        let info = (u32::from(f.prio) << 16) | u32::from(ETH_P_ALL_BE);
        let msg = Msg::new(
            RTM_DELTFILTER,
            NLM_F_ACK,
            &tcmsg(index, f.handle, TC_PARENT_INGRESS, info),
        )
        .attr(TCA_KIND, b"bpf\0");
        self.transact(msg, None).map(drop)
    }

    /// The network namespace's cookie (`SO_NETNS_COOKIE`): unique among the namespaces
    /// of this boot, unlike the inode number of `/proc/self/ns/net`, which is reused after
    /// a namespace is deleted.
    pub fn netns_cookie(&self) -> io::Result<u64> {
        netns_cookie(&self.sock)
    }
}

#[allow(unsafe_code)]
fn netns_cookie(sock: &Socket) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    let mut cookie = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: `cookie` is a writable u64 that outlives the call and `len` is its size; the
    // kernel writes at most `len` bytes and updates `len`. The fd is open (borrowed from
    // `sock`).
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NETNS_COOKIE,
            (&raw mut cookie).cast::<libc::c_void>(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let m = Msg::new(RTM_SETLINK, NLM_F_ACK, &ifinfomsg(7, 0, 0))
            .begin_nest(IFLA_XDP)
            .attr(IFLA_XDP_FD, &5i32.to_ne_bytes())
            .attr(IFLA_XDP_FLAGS, &3u32.to_ne_bytes())
            .end_nest()
            .finish(9);
        assert_eq!(m.len(), 16 + 16 + 4 + 8 + 8);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()),
            m.len() as u32
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_SETLINK);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), NLM_F_ACK | NLM_F_REQUEST);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 9);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 7);
        // The nest: length 20, type IFLA_XDP | NLA_F_NESTED.
        assert_eq!(u16::from_ne_bytes([m[32], m[33]]), 20);
        assert_eq!(u16::from_ne_bytes([m[34], m[35]]), IFLA_XDP | NLA_F_NESTED);
        let inner: Vec<_> = attrs(&m[36..]).collect();
        assert_eq!(inner.len(), 2);
        assert_eq!(inner[0], (IFLA_XDP_FD, &5i32.to_ne_bytes()[..]));
    }

    #[test]
    fn parses_link_with_xdp() {
        let mut p = ifinfomsg(3, IFF_UP, 0).to_vec();
        p[2..4].copy_from_slice(&ARPHRD_ETHER.to_ne_bytes());
        let m = Msg::new(0, 0, &p)
            .attr(IFLA_IFNAME, b"eth0\0")
            .begin_nest(IFLA_LINKINFO)
            .attr(IFLA_INFO_KIND, b"veth\0")
            .end_nest()
            .begin_nest(IFLA_XDP)
            .attr(IFLA_XDP_ATTACHED, &[XDP_ATTACHED_SKB])
            .attr(IFLA_XDP_PROG_ID, &42u32.to_ne_bytes())
            .end_nest()
            .finish(1);
        let l = parse_link(&m[NLMSG_HDRLEN..]).unwrap();
        assert_eq!(l.index, 3);
        assert_eq!(l.name, "eth0");
        assert_eq!(l.kind.as_deref(), Some("veth"));
        assert!(l.is_up() && !l.is_loopback());
        assert_eq!(l.xdp.prog(XdpMode::Generic), Some(42));
        assert_eq!(l.xdp.prog(XdpMode::Native), None);
        assert_eq!(l.xdp.any(), Some((42, Some(XdpMode::Generic))));
    }

    #[test]
    fn parses_bpf_filter() {
        let info = (49152u32 << 16) | u32::from(ETH_P_ALL_BE);
        let m = Msg::new(0, 0, &tcmsg(2, 1, TC_PARENT_INGRESS, info))
            .attr(TCA_KIND, b"bpf\0")
            .begin_nest(TCA_OPTIONS)
            .attr(TCA_BPF_NAME, b"lvs_rs_decap_tc\0")
            .attr(TCA_BPF_ID, &77u32.to_ne_bytes())
            .end_nest()
            .finish(1);
        let f = parse_bpf_filter(&m[NLMSG_HDRLEN..]).unwrap();
        assert_eq!(
            f,
            TcFilter {
                prio: 49152,
                handle: 1,
                prog_id: 77,
                name: "lvs_rs_decap_tc".into()
            }
        );
        // tcmsg: ifindex at 4, handle at 8, parent at 12, info at 16.
        let t = tcmsg(2, 1, TC_PARENT_INGRESS, info);
        assert_eq!(t[12..16], 0xffff_fff2u32.to_ne_bytes());
        // The per-priority head (no options) and other kinds are not filters of ours.
        let head = Msg::new(0, 0, &tcmsg(2, 0, TC_PARENT_INGRESS, info))
            .attr(TCA_KIND, b"bpf\0")
            .finish(1);
        assert_eq!(parse_bpf_filter(&head[NLMSG_HDRLEN..]), None);
        let u32f = Msg::new(0, 0, &tcmsg(2, 0x800, TC_PARENT_INGRESS, info))
            .attr(TCA_KIND, b"u32\0")
            .finish(1);
        assert_eq!(parse_bpf_filter(&u32f[NLMSG_HDRLEN..]), None);
    }

    #[test]
    fn parses_addresses() {
        let m = Msg::new(0, 0, &ifaddrmsg(AF_INET6, 128, 1))
            .attr(
                IFA_ADDRESS,
                &"fd01::100".parse::<std::net::Ipv6Addr>().unwrap().octets(),
            )
            .finish(1);
        let a = parse_addr(&m[NLMSG_HDRLEN..]).unwrap();
        assert_eq!(a.addr, "fd01::100".parse::<IpAddr>().unwrap());
        assert_eq!((a.index, a.prefix_len), (1, 128));
        // Truncated attributes end the walk instead of panicking.
        let short = [8u8, 0, 1, 0, 1, 2];
        assert_eq!(attrs(&short).count(), 0);
    }
}
