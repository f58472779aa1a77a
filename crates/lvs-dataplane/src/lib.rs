//! `lvs-dataplane`: the userspace side of lvs-rs's XDP fast path.
//!
//! The XDP programs are C (`bpf/*.bpf.c` at the repository root), compiled by clang-19 in
//! this crate's `build.rs` and embedded in the library. This crate loads them with aya 0.14,
//! attaches them to interfaces and gives typed access to every map, with the key/value
//! types of [`lvs_common`] (the mirror of `bpf/include/lvs_types.h`).
//!
//! The most important types:
//! * [`Dataplane`]: the director's programs `lvs_xdp` (XDP) and `lvs_tc` (TC ingress, the
//!   forwarding of flow hits next to generic XDP, see [`XdpModeChoice::Auto`]) and their
//!   maps (services, flows, connections, real-server stats, events, AF_XDP sockets,
//!   interfaces, global stats, config).
//! * [`RsDecap`]: the real server's tunnel decapsulator, `lvs_rs_decap` (XDP) and
//!   `lvs_rs_decap_tc` (TC ingress).
//! * [`TestRunOutput`] / [`TcRunOutput`]: one `BPF_PROG_TEST_RUN` of an XDP program or of
//!   `lvs_tc`, for tests and micro-benchmarks.
//!
//! # What the host needs
//!
//! * Root (or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON); bpffs is not required.
//! * For the generic mode's TC program: the `clsact` qdisc (added if missing, removed on
//!   detach if it was added for us and is empty). [`Dataplane`] attaches through netlink
//!   so that its programs outlive the process ([`persist`]); [`RsDecap::attach_tc`] uses
//!   tcx (kernel >= 6.6), else the `clsact` qdisc (removed with iproute2's `tc`).
//! * `net.ipv4.ip_forward = 1` and `net.ipv6.conf.all.forwarding = 1`: `bpf_fib_lookup`
//!   answers `FWD_DISABLED` on an interface without forwarding, and every forwarded packet
//!   is then punted to the slow path instead.
//! * Neighbour entries for the next hops: `bpf_fib_lookup` does not resolve neighbours; a
//!   packet whose next hop has no (valid) entry is punted, and the slow path's transmit
//!   through the kernel resolves it, so later packets take the fast path.

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

pub mod netfilter;
pub mod persist;

use aya::maps::{
    Array, HashMap, MapData, MapError, PerCpuArray, PerCpuValues, Queue, RingBuf, XskMap,
};
use aya::programs::tc::{NlOptions, SchedClassifierLinkId, TcAttachOptions};
use aya::programs::{
    ProgramError, SchedClassifier, TcAttachType, Xdp, XdpMode, tc::qdisc_add_clsact, xdp::XdpLinkId,
};
use aya::{Ebpf, EbpfError, EbpfLoader, TestRun, TestRunOptions};
pub use lvs_common;
use lvs_common::{
    Addr16, Config, ConnState, DestStats, Event, FastDest, FastSvc, FlowKey, FlowValue,
    NewConnEvent, Stat, SvcKey, SvcValue, XSK_QUEUES_PER_IF, addr16,
};
use lvs_netlink::{Netlink, XdpMode as NlXdpMode};

/// The object file of `bpf/lvs_xdp.bpf.c`.
static LVS_XDP_OBJ: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/lvs_xdp.o"));
/// The object file of `bpf/lvs_rs_decap.bpf.c`.
static LVS_RS_DECAP_OBJ: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/lvs_rs_decap.o"));

/// Errors of this crate; each names the object it concerns.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// The BPF object could not be loaded (map creation, relocation).
    #[error("loading BPF object `{object}`")]
    Load {
        /// Object name (`lvs_xdp`, `lvs_rs_decap`).
        object: &'static str,
        /// Cause.
        #[source]
        source: Box<EbpfError>,
    },
    /// A program is missing from its object, or the kernel rejected it (verifier).
    #[error("program `{program}`")]
    Program {
        /// Program name.
        program: &'static str,
        /// Cause.
        #[source]
        source: Box<ProgramError>,
    },
    /// A map is missing from its object or has another type or key/value size.
    #[error("map `{map}`")]
    Map {
        /// Map name.
        map: &'static str,
        /// Cause.
        #[source]
        source: Box<MapError>,
    },
    /// Attaching to an interface failed (in the mode that was asked for, or in both).
    #[error("attaching `{program}` to interface `{ifname}` ({mode})")]
    Attach {
        /// Program name.
        program: &'static str,
        /// Interface name.
        ifname: String,
        /// The mode(s) tried.
        mode: &'static str,
        /// Cause.
        #[source]
        source: Box<ProgramError>,
    },
    /// Detaching failed.
    #[error("detaching from interface `{ifname}`")]
    Detach {
        /// Interface name.
        ifname: String,
        /// Cause.
        #[source]
        source: Box<ProgramError>,
    },
    /// The program is not attached to this interface.
    #[error("not attached to interface `{0}`")]
    NotAttached(String),
    /// A netlink request about an interface failed (attach, detach, listing).
    #[error("{what} on interface `{ifname}`")]
    Netlink {
        /// What was asked.
        what: &'static str,
        /// Interface name.
        ifname: String,
        /// Cause.
        #[source]
        source: lvs_netlink::NlError,
    },
    /// Another live lvsd owns the interface (see [`persist`]).
    #[error("interface `{ifname}` is used by another lvsd")]
    InUse {
        /// Interface name.
        ifname: String,
    },
    /// The interface has a program that is not ours.
    #[error("interface `{ifname}` already has an {what}: remove it first")]
    Busy {
        /// Interface name.
        ifname: String,
        /// The program found.
        what: String,
    },
    /// The ownership socket could not be bound (see [`persist`]).
    #[error("binding the ownership socket `@{name}`")]
    Lock {
        /// Its abstract name.
        name: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `BPF_PROG_TEST_RUN` failed.
    #[error("BPF_PROG_TEST_RUN of `{program}`")]
    TestRun {
        /// Program name.
        program: &'static str,
        /// Cause.
        #[source]
        source: Box<ProgramError>,
    },
    /// An argument is out of range (slot, queue index).
    #[error("invalid argument: {0}")]
    Invalid(String),
}

/// `Result` with [`DataplaneError`].
pub type Result<T, E = DataplaneError> = std::result::Result<T, E>;

fn map_err(map: &'static str) -> impl FnOnce(MapError) -> DataplaneError {
    move |e| DataplaneError::Map {
        map,
        source: Box::new(e),
    }
}

/// A lookup that treats "no such key" as `None`.
fn optional<V>(r: std::result::Result<V, MapError>, map: &'static str) -> Result<Option<V>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(MapError::KeyNotFound) => Ok(None),
        Err(e) => Err(map_err(map)(e)),
    }
}

/// A removal that treats "no such key" as success (nop is not an error).
fn remove_ok(r: std::result::Result<(), MapError>, map: &'static str) -> Result<()> {
    match r {
        Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
        // aya reports a delete of a missing key as the raw ENOENT of the syscall
        Err(MapError::SyscallError(e)) if e.io_error.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(map_err(map)(e)),
    }
}

// ---- Attach modes -------------------------------------------------------------------------------

/// How to attach the director's programs to an interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum XdpModeChoice {
    /// Virtual interfaces (veth, bridges, ...: no `/sys/class/net/IF/device`): generic XDP
    /// plus TC forwarding ([`AttachedMode::GenericWithTc`]). Elsewhere native XDP, falling
    /// back (with a warning) to generic XDP plus TC forwarding when the driver refuses.
    ///
    /// Why not native XDP on a veth: a native `XDP_TX`/`XDP_REDIRECT` into a veth only
    /// delivers when the peer veth has NAPI enabled (an XDP program or GRO on the peer),
    /// which lvsd does not control on container or lab peers.
    ///
    /// Why TC next to generic XDP: generic XDP sees the skb the stack received, which on a
    /// veth (TSO senders) or with GRO is often a GSO aggregate of up to 64 KB, and
    /// `bpf_redirect` from generic XDP drops anything longer than the egress MTU; it also
    /// cannot see that a checksum-offloaded packet's L4 checksum is only the pseudo-header
    /// seed. So in generic mode `lvs_xdp` only punts (new connections, ICMP errors,
    /// fragments, TTL 1, FIB failures...) and passes ordinary flow hits untouched to
    /// `lvs_tc` at TC ingress, which forwards them with the skb helpers (see
    /// `docs/xdp.md`).
    #[default]
    Auto,
    /// Native (driver) mode only; fails if the driver has no XDP support. `lvs_xdp`
    /// forwards by itself.
    Native,
    /// Generic (SKB) XDP only, `lvs_xdp` forwarding by itself with `bpf_redirect`, no TC
    /// program: the behaviour before TC forwarding existed, kept for tests and
    /// comparisons. GSO aggregates are dropped by the redirect in this mode.
    Generic,
    /// Generic (SKB) XDP plus TC forwarding on any interface (what `Auto` picks on virtual
    /// interfaces).
    GenericWithTc,
}

/// The mode an attach ended up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttachedMode {
    /// Native (driver) XDP.
    Native,
    /// Generic (SKB) XDP, forwarding in XDP.
    Generic,
    /// Generic (SKB) XDP for the punts, `lvs_tc` at TC ingress forwarding flow hits.
    GenericWithTc,
}

impl std::fmt::Display for AttachedMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AttachedMode::Native => "native",
            AttachedMode::Generic => "generic",
            AttachedMode::GenericWithTc => "generic+tc",
        })
    }
}

/// Whether `ifname` is a virtual interface (no backing device: veth, bridge, dummy, ...).
pub fn is_virtual_interface(ifname: &str) -> bool {
    !Path::new("/sys/class/net")
        .join(ifname)
        .join("device")
        .exists()
}

/// The index of interface `ifname` in the caller's network namespace (`if_nametoindex`:
/// sysfs may show another namespace's interfaces).
fn ifindex_of(ifname: &str) -> Option<u32> {
    let c = std::ffi::CString::new(ifname).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call; if_nametoindex
    // only reads it.
    #[allow(unsafe_code)]
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// The XDP mode to try for a choice on `ifname`, and whether TC forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    Native,
    Generic,
    GenericWithTc,
    /// Native, else generic with TC (physical interfaces under `Auto`).
    NativeElseTc,
}

fn plan(ifname: &str, choice: XdpModeChoice) -> Plan {
    match choice {
        XdpModeChoice::Native => Plan::Native,
        XdpModeChoice::Generic => Plan::Generic,
        XdpModeChoice::GenericWithTc => Plan::GenericWithTc,
        XdpModeChoice::Auto if is_virtual_interface(ifname) => Plan::GenericWithTc,
        XdpModeChoice::Auto => Plan::NativeElseTc,
    }
}

/// Attach `prog` to `ifname` in one XDP mode.
fn attach_xdp(
    prog: &mut Xdp,
    program: &'static str,
    ifname: &str,
    native: bool,
    what: &'static str,
) -> Result<XdpLinkId> {
    prog.attach(
        ifname,
        if native {
            XdpMode::Driver
        } else {
            XdpMode::Skb
        },
    )
    .map_err(|e| DataplaneError::Attach {
        program,
        ifname: ifname.to_string(),
        mode: what,
        source: Box::new(e),
    })
}

/// The TC attachment of `lvs_tc` on one interface.
#[derive(Debug)]
struct TcAttachment {
    link: SchedClassifierLinkId,
    /// We added the `clsact` qdisc (netlink attach on kernels without tcx): remove it on
    /// detach.
    created_clsact: bool,
}

/// Attach `prog` at TC ingress of `ifname`: through tcx (bpf_link, kernels >= 6.6, no
/// qdisc needed), else through netlink on a `clsact` qdisc, added if missing.
fn attach_tc(
    prog: &mut SchedClassifier,
    program: &'static str,
    ifname: &str,
) -> Result<TcAttachment> {
    let err = |e: ProgramError| DataplaneError::Attach {
        program,
        ifname: ifname.to_string(),
        mode: "tc ingress",
        source: Box::new(e),
    };
    let first = match prog.attach(ifname, TcAttachType::Ingress) {
        Ok(link) => {
            return Ok(TcAttachment {
                link,
                created_clsact: false,
            });
        }
        Err(e) => e,
    };
    // No tcx (old kernel or configured out): netlink, which needs the clsact qdisc.
    let created_clsact = match qdisc_add_clsact(ifname) {
        Ok(()) => true,
        Err(aya::programs::tc::TcError::NetlinkError(e)) if matches!(e.raw_os_error(), Some(c) if c.abs() == libc::EEXIST) => {
            false
        }
        Err(_) => return Err(err(first)),
    };
    match prog.attach_with_options(
        ifname,
        TcAttachType::Ingress,
        TcAttachOptions::Netlink(NlOptions::default()),
    ) {
        Ok(link) => Ok(TcAttachment {
            link,
            created_clsact,
        }),
        Err(e) => {
            if created_clsact {
                remove_clsact(ifname);
            }
            Err(err(e))
        }
    }
}

/// Remove the `clsact` qdisc of `ifname` (aya 0.14 has no call for it; `tc` of iproute2
/// does it).
fn remove_clsact(ifname: &str) {
    match std::process::Command::new("tc")
        .args(["qdisc", "del", "dev", ifname, "clsact"])
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => log::warn!(
            "removing the clsact qdisc of {ifname}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => log::warn!("removing the clsact qdisc of {ifname}: running tc: {e}"),
    }
}

// ---- Test runs ------------------------------------------------------------------------------------

/// An XDP verdict (`enum xdp_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XdpVerdict {
    /// `XDP_ABORTED` (0).
    Aborted,
    /// `XDP_DROP` (1).
    Drop,
    /// `XDP_PASS` (2).
    Pass,
    /// `XDP_TX` (3).
    Tx,
    /// `XDP_REDIRECT` (4).
    Redirect,
    /// Anything else.
    Other(u32),
}

impl XdpVerdict {
    /// The verdict of a program return value.
    pub fn from_u32(v: u32) -> XdpVerdict {
        match v {
            0 => XdpVerdict::Aborted,
            1 => XdpVerdict::Drop,
            2 => XdpVerdict::Pass,
            3 => XdpVerdict::Tx,
            4 => XdpVerdict::Redirect,
            o => XdpVerdict::Other(o),
        }
    }
}

/// The result of one `BPF_PROG_TEST_RUN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's verdict.
    pub verdict: XdpVerdict,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
    /// The kernel's average run time per repetition.
    pub duration: Duration,
}

/// Room for the program to grow the frame (encapsulation adds at most 52 bytes).
const TEST_RUN_HEADROOM: usize = 256;

fn test_run_xdp(
    prog: &Xdp,
    program: &'static str,
    input: &[u8],
    ingress_ifindex: Option<u32>,
    repeat: u32,
) -> Result<TestRunOutput> {
    // struct xdp_md { data, data_end, data_meta, ingress_ifindex, rx_queue_index,
    // egress_ifindex }: the kernel wants data = data_meta = 0 and data_end = input size.
    let mut ctx = [0u8; 24];
    let ctx_in = ingress_ifindex.map(|ifindex| {
        ctx[4..8].copy_from_slice(&(input.len() as u32).to_ne_bytes());
        ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
        &ctx[..]
    });
    let mut out = vec![0u8; input.len() + TEST_RUN_HEADROOM];
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(input),
            data_out: Some(&mut out),
            ctx_in,
            repeat: repeat.max(1),
            ..Default::default()
        })
        .map_err(|e| DataplaneError::TestRun {
            program,
            source: Box::new(e),
        })?;
    out.truncate(r.data_size_out as usize);
    Ok(TestRunOutput {
        verdict: XdpVerdict::from_u32(r.return_value),
        frame: out,
        duration: r.duration,
    })
}

/// A TC verdict (`TC_ACT_*`, `linux/pkt_cls.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcVerdict {
    /// `TC_ACT_OK` (0): the packet continues up the stack.
    Ok,
    /// `TC_ACT_SHOT` (2): dropped.
    Shot,
    /// `TC_ACT_REDIRECT` (7): `bpf_redirect` / `bpf_redirect_neigh`.
    Redirect,
    /// Anything else.
    Other(i32),
}

impl TcVerdict {
    /// The verdict of a program return value.
    pub fn from_u32(v: u32) -> TcVerdict {
        match v as i32 {
            0 => TcVerdict::Ok,
            2 => TcVerdict::Shot,
            7 => TcVerdict::Redirect,
            o => TcVerdict::Other(o),
        }
    }
}

/// The result of one `BPF_PROG_TEST_RUN` of `lvs_tc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcRunOutput {
    /// The program's verdict.
    pub verdict: TcVerdict,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
    /// The kernel's average run time per repetition.
    pub duration: Duration,
}

/// The skb `lvs_tc` is run on in [`Dataplane::test_run_tc_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcRunOptions {
    /// The receiving interface (`skb->ifindex`, `skb->ingress_ifindex`; matters for
    /// `bpf_fib_lookup`). `None` = the loopback device of the caller's namespace.
    pub ifindex: Option<u32>,
    /// `gso_size` of the skb (non-zero: a GSO aggregate, as TSO senders and GRO produce;
    /// the kernel leaves its GSO type 0 in test runs).
    pub gso_size: u32,
    /// `gso_segs` of the skb.
    pub gso_segs: u32,
    /// Runs in the kernel (each sees the frame the previous one left); 0 counts as 1.
    pub repeat: u32,
}

// struct __sk_buff (uapi): the fields BPF_PROG_TEST_RUN accepts in ctx_in.
const SKB_CTX_LEN: usize = 192;
const SKB_INGRESS_IFINDEX: usize = 36;
const SKB_IFINDEX: usize = 40;
const SKB_GSO_SEGS: usize = 164;
const SKB_GSO_SIZE: usize = 176;

fn test_run_tc(
    prog: &SchedClassifier,
    program: &'static str,
    input: &[u8],
    opts: &TcRunOptions,
) -> Result<TcRunOutput> {
    let mut ctx = [0u8; SKB_CTX_LEN];
    if let Some(i) = opts.ifindex {
        ctx[SKB_INGRESS_IFINDEX..SKB_INGRESS_IFINDEX + 4].copy_from_slice(&i.to_ne_bytes());
        ctx[SKB_IFINDEX..SKB_IFINDEX + 4].copy_from_slice(&i.to_ne_bytes());
    }
    ctx[SKB_GSO_SEGS..SKB_GSO_SEGS + 4].copy_from_slice(&opts.gso_segs.to_ne_bytes());
    ctx[SKB_GSO_SIZE..SKB_GSO_SIZE + 4].copy_from_slice(&opts.gso_size.to_ne_bytes());
    let mut out = vec![0u8; input.len() + TEST_RUN_HEADROOM];
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(input),
            data_out: Some(&mut out),
            ctx_in: Some(&ctx),
            repeat: opts.repeat.max(1),
            ..Default::default()
        })
        .map_err(|e| DataplaneError::TestRun {
            program,
            source: Box::new(e),
        })?;
    out.truncate(r.data_size_out as usize);
    Ok(TcRunOutput {
        verdict: TcVerdict::from_u32(r.return_value),
        frame: out,
        duration: r.duration,
    })
}

fn load_prog(ebpf: &mut Ebpf, program: &'static str) -> Result<()> {
    let perr = |e: ProgramError| DataplaneError::Program {
        program,
        source: Box::new(e),
    };
    let prog: &mut Xdp = ebpf
        .program_mut(program)
        .ok_or_else(|| perr(ProgramError::UnexpectedProgramType))?
        .try_into()
        .map_err(perr)?;
    prog.load().map_err(perr)
}

fn take_map(ebpf: &mut Ebpf, map: &'static str) -> Result<aya::maps::Map> {
    ebpf.take_map(map)
        .ok_or_else(|| map_err(map)(MapError::InvalidName { name: map.into() }))
}

fn xdp_prog<'a>(ebpf: &'a mut Ebpf, program: &'static str) -> Result<&'a mut Xdp> {
    let perr = |e: ProgramError| DataplaneError::Program {
        program,
        source: Box::new(e),
    };
    ebpf.program_mut(program)
        .ok_or_else(|| perr(ProgramError::UnexpectedProgramType))?
        .try_into()
        .map_err(perr)
}

fn tc_prog(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier> {
    sched_prog(ebpf, TC_PROG)
}

fn sched_prog<'a>(ebpf: &'a mut Ebpf, program: &'static str) -> Result<&'a mut SchedClassifier> {
    let perr = |e: ProgramError| DataplaneError::Program {
        program,
        source: Box::new(e),
    };
    ebpf.program_mut(program)
        .ok_or_else(|| perr(ProgramError::UnexpectedProgramType))?
        .try_into()
        .map_err(perr)
}

// ---- Dataplane ------------------------------------------------------------------------------------

/// Sizes of the maps the loader chooses (`max_entries`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoadOptions {
    /// `LVS_FLOWS` entries (two per NAT/FULLNAT connection, one per DR/TUN connection).
    /// Default 2^21. The hash map is not preallocated.
    pub flows_max: u32,
    /// `LVS_CONNS` entries: conn ids are below this. Default 2^20 (48 MiB, preallocated).
    pub conns_max: u32,
    /// `LVS_DEST_STATS` entries: dest slots are below this. Default 4096.
    pub dests_max: u32,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            flows_max: lvs_common::DEFAULT_FLOWS_MAX,
            conns_max: lvs_common::DEFAULT_CONNS_MAX,
            dests_max: lvs_common::DEFAULT_DESTS_MAX,
        }
    }
}

const PROG: &str = "lvs_xdp";
const TC_PROG: &str = "lvs_tc";

/// One interface the director's programs are attached to.
#[derive(Debug)]
struct Attachment {
    ifname: String,
    ifindex: u32,
    xdp: persist::XdpAttachment,
    mode: AttachedMode,
    tc: Option<persist::TcAttachment>,
    owner: persist::Owner,
}

/// The director's programs `lvs_xdp` and `lvs_tc` (one object, shared maps) with typed
/// handles on their maps.
///
/// Map semantics are documented in [`lvs_common`] (and `bpf/include/lvs_types.h`). Lookups
/// return `Ok(None)` for a missing key; removing a missing key is not an error.
pub struct Dataplane {
    ebpf: Ebpf,
    links: Vec<Attachment>,
    services: HashMap<MapData, SvcKey, SvcValue>,
    flows: HashMap<MapData, FlowKey, FlowValue>,
    conns: Array<MapData, ConnState>,
    dest_stats: PerCpuArray<MapData, DestStats>,
    events: RingBuf<MapData>,
    xsks: XskMap<MapData>,
    ifslots: HashMap<MapData, u32, u32>,
    ifaces: HashMap<MapData, u32, u32>,
    ifmacs: HashMap<MapData, u32, lvs_common::IfMac>,
    stats: PerCpuArray<MapData, u64>,
    config: Array<MapData, Config>,
    fast_svcs: HashMap<MapData, u32, FastSvc>,
    fast_dests: HashMap<MapData, u32, FastDest>,
    conn_ids: Queue<MapData, u32>,
}

/// A record of `LVS_EVENTS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// A state change or sync report ([`lvs_common::EV_STATE`], [`lvs_common::EV_SYNC`]).
    Event(Event),
    /// A connection `lvs_xdp` created ([`lvs_common::EV_NEW`]).
    New(NewConnEvent),
}

impl std::fmt::Debug for Dataplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataplane")
            .field("attached", &self.attached())
            .finish_non_exhaustive()
    }
}

impl Dataplane {
    /// Load `lvs_xdp` and `lvs_tc` and create their maps (not attached anywhere yet).
    pub fn load(opts: LoadOptions) -> Result<Dataplane> {
        let mut ebpf = EbpfLoader::new()
            .map_max_entries("LVS_FLOWS", opts.flows_max)
            .map_max_entries("LVS_CONNS", opts.conns_max)
            .map_max_entries("LVS_DEST_STATS", opts.dests_max)
            .load(LVS_XDP_OBJ)
            .map_err(|e| DataplaneError::Load {
                object: PROG,
                source: Box::new(e),
            })?;
        load_prog(&mut ebpf, PROG)?;
        tc_prog(&mut ebpf)?
            .load()
            .map_err(|e| DataplaneError::Program {
                program: TC_PROG,
                source: Box::new(e),
            })?;
        macro_rules! typed {
            ($ty:ident, $name:literal) => {
                $ty::try_from(take_map(&mut ebpf, $name)?).map_err(map_err($name))?
            };
        }
        Ok(Dataplane {
            services: typed!(HashMap, "LVS_SERVICES"),
            flows: typed!(HashMap, "LVS_FLOWS"),
            conns: typed!(Array, "LVS_CONNS"),
            dest_stats: typed!(PerCpuArray, "LVS_DEST_STATS"),
            events: typed!(RingBuf, "LVS_EVENTS"),
            xsks: typed!(XskMap, "LVS_XSKS"),
            ifslots: typed!(HashMap, "LVS_IFSLOTS"),
            ifaces: typed!(HashMap, "LVS_IFACES"),
            ifmacs: typed!(HashMap, "LVS_IFMACS"),
            stats: typed!(PerCpuArray, "LVS_STATS"),
            config: typed!(Array, "LVS_CONFIG"),
            fast_svcs: typed!(HashMap, "LVS_FAST_SVCS"),
            fast_dests: typed!(HashMap, "LVS_FAST_DESTS"),
            conn_ids: typed!(Queue, "LVS_CONN_IDS"),
            ebpf,
            links: Vec::new(),
        })
    }

    /// Attach to `ifname`; returns the mode used (see [`XdpModeChoice::Auto`]).
    ///
    /// The attachments are netlink ones that outlive this process (see [`persist`]): if it
    /// dies without [`Dataplane::detach`] (or dropping the `Dataplane`), the programs keep
    /// forwarding the flows in their maps. Programs of ours that a dead process left on the
    /// interface are replaced; while another live process owns the interface, or another
    /// XDP program is attached, this fails and changes nothing.
    ///
    /// With TC forwarding, `lvs_tc` is attached and the interface flagged in `LVS_IFACES`
    /// before `lvs_xdp` starts passing flow hits to it, so no packet finds neither.
    pub fn attach(&mut self, ifname: &str, mode: XdpModeChoice) -> Result<AttachedMode> {
        if self.links.iter().any(|a| a.ifname == ifname) {
            return Err(DataplaneError::Invalid(format!(
                "already attached to {ifname}"
            )));
        }
        let ifindex = ifindex_of(ifname)
            .ok_or_else(|| DataplaneError::Invalid(format!("no interface {ifname}")))?;
        let mut nl = Netlink::open()
            .map_err(|e| persist::nl_err("opening a netlink socket", ifname)(e.into()))?;
        let owner = persist::Owner::take(ifindex, ifname)?;
        let prev = persist::remove_stale(&mut nl, ifindex, ifname, PROG, TC_PROG)?;
        let (xdp_fd, xdp_id) = self.xdp_handle()?;
        let (xdp, mode, tc) = match plan(ifname, mode) {
            Plan::Native => {
                let x = persist::attach_xdp(
                    &mut nl,
                    ifindex,
                    ifname,
                    xdp_fd,
                    xdp_id,
                    NlXdpMode::Native,
                )?;
                (x, AttachedMode::Native, None)
            }
            Plan::Generic => {
                let x = persist::attach_xdp(
                    &mut nl,
                    ifindex,
                    ifname,
                    xdp_fd,
                    xdp_id,
                    NlXdpMode::Generic,
                )?;
                (x, AttachedMode::Generic, None)
            }
            Plan::GenericWithTc => {
                let (x, tc) = self.attach_generic_with_tc(&mut nl, ifname, ifindex, prev)?;
                (x, AttachedMode::GenericWithTc, Some(tc))
            }
            Plan::NativeElseTc => {
                match persist::attach_xdp(
                    &mut nl,
                    ifindex,
                    ifname,
                    xdp_fd,
                    xdp_id,
                    NlXdpMode::Native,
                ) {
                    Ok(x) => (x, AttachedMode::Native, None),
                    Err(native) => {
                        log::warn!(
                            "{PROG}: native XDP on {ifname} failed ({native}); falling back to \
                             generic XDP with TC forwarding"
                        );
                        let (x, tc) =
                            self.attach_generic_with_tc(&mut nl, ifname, ifindex, prev)?;
                        (x, AttachedMode::GenericWithTc, Some(tc))
                    }
                }
            }
        };
        self.links.push(Attachment {
            ifname: ifname.to_string(),
            ifindex,
            xdp,
            mode,
            tc,
            owner,
        });
        Ok(mode)
    }

    /// The raw fd and the id of `lvs_xdp`.
    fn xdp_handle(&mut self) -> Result<(std::os::fd::RawFd, u32)> {
        let perr = |e: ProgramError| DataplaneError::Program {
            program: PROG,
            source: Box::new(e),
        };
        let prog = xdp_prog(&mut self.ebpf, PROG)?;
        let id = prog.info().map_err(perr)?.id();
        Ok((prog.fd().map_err(perr)?.as_fd().as_raw_fd(), id))
    }

    /// The raw fd and the id of `lvs_tc`.
    fn tc_handle(&mut self) -> Result<(std::os::fd::RawFd, u32)> {
        let perr = |e: ProgramError| DataplaneError::Program {
            program: TC_PROG,
            source: Box::new(e),
        };
        let prog = tc_prog(&mut self.ebpf)?;
        let id = prog.info().map_err(perr)?.id();
        Ok((prog.fd().map_err(perr)?.as_fd().as_raw_fd(), id))
    }

    /// `lvs_tc` at TC ingress, the `LVS_IFACES` flag, then generic `lvs_xdp`; undone in
    /// reverse if a step fails.
    fn attach_generic_with_tc(
        &mut self,
        nl: &mut Netlink,
        ifname: &str,
        ifindex: u32,
        prev: persist::Previous,
    ) -> Result<(persist::XdpAttachment, persist::TcAttachment)> {
        let (tc_fd, tc_id) = self.tc_handle()?;
        let (xdp_fd, xdp_id) = self.xdp_handle()?;
        let tc = persist::attach_tc(nl, ifindex, ifname, tc_fd, tc_id, TC_PROG, prev)?;
        let xdp = self.set_tc_forwarding(ifindex, true).and_then(|()| {
            persist::attach_xdp(nl, ifindex, ifname, xdp_fd, xdp_id, NlXdpMode::Generic)
        });
        match xdp {
            Ok(x) => Ok((x, tc)),
            Err(e) => {
                let _ = self.set_tc_forwarding(ifindex, false);
                let _ = persist::detach_tc(nl, ifindex, ifname, &tc);
                Err(e)
            }
        }
    }

    /// The interfaces the programs are attached to, with their modes.
    pub fn attached(&self) -> Vec<(String, AttachedMode)> {
        self.links
            .iter()
            .map(|a| (a.ifname.clone(), a.mode))
            .collect()
    }

    /// Detach from `ifname` (`lvs_xdp` first, then the flag and `lvs_tc`), and give up its
    /// ownership.
    pub fn detach(&mut self, ifname: &str) -> Result<()> {
        let i = self
            .links
            .iter()
            .position(|a| a.ifname == ifname)
            .ok_or_else(|| DataplaneError::NotAttached(ifname.to_string()))?;
        let a = self.links.remove(i);
        let mut nl = Netlink::open()
            .map_err(|e| persist::nl_err("opening a netlink socket", ifname)(e.into()))?;
        persist::detach_xdp(&mut nl, a.ifindex, &a.ifname, a.xdp)?;
        if let Some(tc) = &a.tc {
            self.set_tc_forwarding(a.ifindex, false)?;
            persist::detach_tc(&mut nl, a.ifindex, &a.ifname, tc)?;
        }
        drop(a.owner);
        Ok(())
    }

    /// Let go of this `Dataplane` without detaching, as a process that dies does: the
    /// programs stay attached and keep forwarding with their maps, the interfaces'
    /// ownership is released, and the next [`Dataplane::attach`] to these interfaces
    /// replaces them. For tests of that path and for a hand-over on purpose.
    pub fn leave_attached(mut self) {
        for a in self.links.drain(..) {
            drop(a.owner);
        }
    }

    /// Detach from every interface (also done when the `Dataplane` is dropped).
    pub fn detach_all(&mut self) -> Result<()> {
        while let Some(name) = self.links.first().map(|a| a.ifname.clone()) {
            self.detach(&name)?;
        }
        Ok(())
    }

    // -- LVS_IFMACS

    /// Tell `lvs_xdp` interface `ifindex`'s MAC address: unicast frames to another address
    /// are then not the director's (see [`lvs_common::Stat::PassOtherHost`]).
    pub fn set_if_mac(&mut self, ifindex: u32, mac: [u8; 6]) -> Result<()> {
        let mut v = [0u8; 8];
        v[..6].copy_from_slice(&mac);
        self.ifmacs
            .insert(ifindex, v, 0)
            .map_err(map_err("LVS_IFMACS"))
    }

    /// Forget interface `ifindex`'s MAC address (no check on it any more).
    pub fn remove_if_mac(&mut self, ifindex: u32) -> Result<()> {
        remove_ok(self.ifmacs.remove(&ifindex), "LVS_IFMACS")
    }

    // -- LVS_IFACES

    /// Set or clear TC forwarding ([`lvs_common::IF_F_TC_FWD`]) for interface `ifindex`:
    /// `lvs_xdp` then passes the flow hits it would forward to `lvs_tc`. [`Dataplane::attach`]
    /// manages this; it is public for tests (`BPF_PROG_TEST_RUN` of `lvs_xdp` as in
    /// generic-with-TC mode).
    pub fn set_tc_forwarding(&mut self, ifindex: u32, on: bool) -> Result<()> {
        if on {
            self.ifaces
                .insert(ifindex, lvs_common::IF_F_TC_FWD, 0)
                .map_err(map_err("LVS_IFACES"))
        } else {
            remove_ok(self.ifaces.remove(&ifindex), "LVS_IFACES")
        }
    }

    /// Whether `lvs_tc` forwards for interface `ifindex`.
    pub fn tc_forwarding(&self, ifindex: u32) -> Result<bool> {
        Ok(optional(self.ifaces.get(&ifindex, 0), "LVS_IFACES")?
            .is_some_and(|f| f & lvs_common::IF_F_TC_FWD != 0))
    }

    // -- LVS_SERVICES

    /// Add or replace a virtual service (or a virtual-address marker).
    pub fn insert_service(&mut self, key: &SvcKey, value: &SvcValue) -> Result<()> {
        self.services
            .insert(key, value, 0)
            .map_err(map_err("LVS_SERVICES"))
    }

    /// Remove a virtual service.
    pub fn remove_service(&mut self, key: &SvcKey) -> Result<()> {
        remove_ok(self.services.remove(key), "LVS_SERVICES")
    }

    /// Look a service up.
    pub fn service(&self, key: &SvcKey) -> Result<Option<SvcValue>> {
        optional(self.services.get(key, 0), "LVS_SERVICES")
    }

    // -- LVS_FLOWS

    /// Add or replace the flow entry of one direction of a connection.
    pub fn insert_flow(&mut self, key: &FlowKey, value: &FlowValue) -> Result<()> {
        self.flows
            .insert(key, value, 0)
            .map_err(map_err("LVS_FLOWS"))
    }

    /// Remove a flow entry.
    pub fn remove_flow(&mut self, key: &FlowKey) -> Result<()> {
        remove_ok(self.flows.remove(key), "LVS_FLOWS")
    }

    /// Look a flow entry up.
    pub fn flow(&self, key: &FlowKey) -> Result<Option<FlowValue>> {
        optional(self.flows.get(key, 0), "LVS_FLOWS")
    }

    /// Every flow entry (a full map walk: slow, for diagnostics).
    pub fn flows(&self) -> Result<Vec<(FlowKey, FlowValue)>> {
        self.flows
            .iter()
            .collect::<std::result::Result<_, _>>()
            .map_err(map_err("LVS_FLOWS"))
    }

    // -- LVS_CONNS

    /// Write a connection's state record (at setup: the initial TCP state, zero counters).
    pub fn set_conn(&mut self, conn_id: u32, state: &ConnState) -> Result<()> {
        self.conns
            .set(conn_id, state, 0)
            .map_err(map_err("LVS_CONNS"))
    }

    /// Read a connection's counters, last-seen time and TCP state.
    pub fn conn(&self, conn_id: u32) -> Result<ConnState> {
        self.conns.get(&conn_id, 0).map_err(map_err("LVS_CONNS"))
    }

    // -- LVS_DEST_STATS

    /// A real server's counters, summed over the CPUs.
    pub fn dest_stats(&self, dest_slot: u32) -> Result<DestStats> {
        let per_cpu = self
            .dest_stats
            .get(&dest_slot, 0)
            .map_err(map_err("LVS_DEST_STATS"))?;
        let mut sum = DestStats::default();
        for v in per_cpu.iter() {
            sum += *v;
        }
        Ok(sum)
    }

    /// Zero a real server's counters (when its slot is reused).
    pub fn clear_dest_stats(&mut self, dest_slot: u32) -> Result<()> {
        let n = aya::util::nr_cpus().map_err(|(_, e)| map_err("LVS_DEST_STATS")(e.into()))?;
        let zero = PerCpuValues::try_from(vec![DestStats::default(); n])
            .map_err(|e| map_err("LVS_DEST_STATS")(e.into()))?;
        self.dest_stats
            .set(dest_slot, zero, 0)
            .map_err(map_err("LVS_DEST_STATS"))
    }

    // -- LVS_EVENTS

    /// The next state/sync event record, if one is ready (non-blocking). Records of other
    /// kinds ([`lvs_common::EV_NEW`]) are consumed and skipped: use
    /// [`Dataplane::next_record`] where XDP creates connections.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.next_record()? {
                Record::Event(e) => return Some(e),
                Record::New(_) => continue,
            }
        }
    }

    /// The next record of any kind, if one is ready (non-blocking). Undecodable records
    /// are skipped.
    pub fn next_record(&mut self) -> Option<Record> {
        loop {
            let item = self.events.next()?;
            if let Some(n) = NewConnEvent::from_bytes(&item) {
                return Some(Record::New(n));
            }
            if let Some(e) = Event::from_bytes(&item) {
                return Some(Record::Event(e));
            }
        }
    }

    // -- New connections in XDP: LVS_FAST_SVCS, LVS_FAST_DESTS, LVS_CONN_IDS

    /// Make service `svc_id` fast-eligible with this scheduling record (replaces it, and
    /// its position counter).
    pub fn set_fast_svc(&mut self, svc_id: u32, rec: &FastSvc) -> Result<()> {
        self.fast_svcs
            .insert(svc_id, rec, 0)
            .map_err(map_err("LVS_FAST_SVCS"))
    }

    /// Service `svc_id` is no longer fast-eligible.
    pub fn remove_fast_svc(&mut self, svc_id: u32) -> Result<()> {
        remove_ok(self.fast_svcs.remove(&svc_id), "LVS_FAST_SVCS")
    }

    /// A service's scheduling record (its `pos` is XDP's position counter).
    pub fn fast_svc(&self, svc_id: u32) -> Result<Option<FastSvc>> {
        optional(self.fast_svcs.get(&svc_id, 0), "LVS_FAST_SVCS")
    }

    /// Add or replace the forwarding template of real server `dest_id`.
    pub fn set_fast_dest(&mut self, dest_id: u32, t: &FastDest) -> Result<()> {
        self.fast_dests
            .insert(dest_id, t, 0)
            .map_err(map_err("LVS_FAST_DESTS"))
    }

    /// Remove a forwarding template.
    pub fn remove_fast_dest(&mut self, dest_id: u32) -> Result<()> {
        remove_ok(self.fast_dests.remove(&dest_id), "LVS_FAST_DESTS")
    }

    /// Hand a reserved connection id to XDP. Fails when `LVS_CONN_IDS` is full.
    pub fn push_conn_id(&mut self, id: u32) -> Result<()> {
        self.conn_ids.push(id, 0).map_err(map_err("LVS_CONN_IDS"))
    }

    /// Take a connection id back from XDP (`None` when the queue is empty).
    pub fn pop_conn_id(&mut self) -> Option<u32> {
        self.conn_ids.pop(0).ok()
    }

    /// The ring buffer's file descriptor, to wait for events with epoll/poll (readable
    /// when records are available).
    pub fn events_fd(&self) -> BorrowedFd<'_> {
        self.events.as_fd()
    }

    // -- LVS_XSKS / LVS_IFSLOTS

    /// Give interface `ifindex` the AF_XDP slot `ifslot` (< 64).
    pub fn set_ifslot(&mut self, ifindex: u32, ifslot: u32) -> Result<()> {
        if ifslot >= lvs_common::MAX_IFSLOTS {
            return Err(DataplaneError::Invalid(format!("ifslot {ifslot} >= 64")));
        }
        self.ifslots
            .insert(ifindex, ifslot, 0)
            .map_err(map_err("LVS_IFSLOTS"))
    }

    /// Remove an interface's slot (its punts are then dropped).
    pub fn remove_ifslot(&mut self, ifindex: u32) -> Result<()> {
        remove_ok(self.ifslots.remove(&ifindex), "LVS_IFSLOTS")
    }

    /// Bind the AF_XDP socket `socket` to (ifslot, rx queue).
    pub fn set_xsk(&mut self, ifslot: u32, queue: u32, socket: impl AsRawFd) -> Result<()> {
        let idx = xsk_index(ifslot, queue)?;
        self.xsks.set(idx, socket, 0).map_err(map_err("LVS_XSKS"))
    }

    /// Unbind the socket of (ifslot, rx queue).
    pub fn unset_xsk(&mut self, ifslot: u32, queue: u32) -> Result<()> {
        let idx = xsk_index(ifslot, queue)?;
        remove_ok(self.xsks.unset(idx), "LVS_XSKS")
    }

    // -- LVS_STATS / LVS_CONFIG

    /// One global counter, summed over the CPUs.
    pub fn stat(&self, stat: Stat) -> Result<u64> {
        let v = self
            .stats
            .get(&(stat as u32), 0)
            .map_err(map_err("LVS_STATS"))?;
        Ok(v.iter().sum())
    }

    /// Every global counter, summed over the CPUs.
    pub fn stats(&self) -> Result<Vec<(Stat, u64)>> {
        Stat::ALL
            .iter()
            .map(|s| self.stat(*s).map(|v| (*s, v)))
            .collect()
    }

    /// Write the global switches.
    pub fn set_config(&mut self, config: &Config) -> Result<()> {
        self.config.set(0, config, 0).map_err(map_err("LVS_CONFIG"))
    }

    /// Read the global switches.
    pub fn config(&self) -> Result<Config> {
        self.config.get(&0, 0).map_err(map_err("LVS_CONFIG"))
    }

    // -- tests

    /// Run `lvs_xdp` once on `frame` with `BPF_PROG_TEST_RUN` (as if received on
    /// `ingress_ifindex`, which matters for `bpf_fib_lookup`; `None` = the loopback device
    /// of the caller's network namespace). Maps are the real ones.
    pub fn test_run(
        &mut self,
        frame: &[u8],
        ingress_ifindex: Option<u32>,
    ) -> Result<TestRunOutput> {
        self.test_run_repeat(frame, ingress_ifindex, 1)
    }

    /// As [`Dataplane::test_run`], `repeat` times in the kernel (each run sees the frame
    /// the previous one left); `duration` is the mean per run.
    pub fn test_run_repeat(
        &mut self,
        frame: &[u8],
        ingress_ifindex: Option<u32>,
        repeat: u32,
    ) -> Result<TestRunOutput> {
        let prog = xdp_prog(&mut self.ebpf, PROG)?;
        test_run_xdp(prog, PROG, frame, ingress_ifindex, repeat)
    }

    /// Run `lvs_tc` once on `frame` with `BPF_PROG_TEST_RUN`, as if received on
    /// `ingress_ifindex` (`None` = loopback). The kernel's test skb is `CHECKSUM_NONE`.
    pub fn test_run_tc(
        &mut self,
        frame: &[u8],
        ingress_ifindex: Option<u32>,
    ) -> Result<TcRunOutput> {
        self.test_run_tc_with(
            frame,
            &TcRunOptions {
                ifindex: ingress_ifindex,
                ..Default::default()
            },
        )
    }

    /// Run `lvs_tc` on `frame` with the skb set up as `opts` says (GSO size, repeat).
    pub fn test_run_tc_with(&mut self, frame: &[u8], opts: &TcRunOptions) -> Result<TcRunOutput> {
        let prog = tc_prog(&mut self.ebpf)?;
        test_run_tc(prog, TC_PROG, frame, opts)
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        let _ = self.detach_all();
    }
}

fn xsk_index(ifslot: u32, queue: u32) -> Result<u32> {
    if ifslot >= lvs_common::MAX_IFSLOTS || queue >= XSK_QUEUES_PER_IF {
        return Err(DataplaneError::Invalid(format!(
            "ifslot {ifslot} / queue {queue} out of range (64 / 64)"
        )));
    }
    Ok(ifslot * XSK_QUEUES_PER_IF + queue)
}

// ---- RsDecap ----------------------------------------------------------------------------------------

const DECAP_PROG: &str = "lvs_rs_decap";
const DECAP_TC_PROG: &str = "lvs_rs_decap_tc";

/// The real server's IPIP decapsulator (for kernels without the ipip module): strips the
/// outer header of tunnel packets sent to one of [`RsDecap::add_local`]'s addresses whose
/// inner destination is one of [`RsDecap::add_vip`]'s, and passes the inner packet to the
/// stack. Two programs sharing the maps: `lvs_rs_decap` (XDP) and `lvs_rs_decap_tc` (TC
/// ingress: for skbs generic XDP skips, those a TC program redirected, e.g. a director's
/// `lvs_tc` on the same host forwarding into a veth; see docs/xdp.md).
#[derive(Debug)]
pub struct RsDecap {
    ebpf: Ebpf,
    links: Vec<(String, XdpLinkId, AttachedMode)>,
    tc_links: Vec<(String, TcAttachment)>,
    vips: HashMap<MapData, Addr16, u8>,
    locals: HashMap<MapData, Addr16, u8>,
}

impl RsDecap {
    /// Load `lvs_rs_decap` and create its maps.
    pub fn load() -> Result<RsDecap> {
        let mut ebpf = Ebpf::load(LVS_RS_DECAP_OBJ).map_err(|e| DataplaneError::Load {
            object: DECAP_PROG,
            source: Box::new(e),
        })?;
        load_prog(&mut ebpf, DECAP_PROG)?;
        sched_prog(&mut ebpf, DECAP_TC_PROG)?
            .load()
            .map_err(|e| DataplaneError::Program {
                program: DECAP_TC_PROG,
                source: Box::new(e),
            })?;
        let vips = HashMap::try_from(take_map(&mut ebpf, "LVS_RS_VIPS")?)
            .map_err(map_err("LVS_RS_VIPS"))?;
        let locals = HashMap::try_from(take_map(&mut ebpf, "LVS_RS_LOCAL")?)
            .map_err(map_err("LVS_RS_LOCAL"))?;
        Ok(RsDecap {
            ebpf,
            links: Vec::new(),
            tc_links: Vec::new(),
            vips,
            locals,
        })
    }

    /// The loaded program's file descriptor, to attach it by other means than
    /// [`RsDecap::attach`]: `lvsadm realserver setup` attaches it with the legacy netlink
    /// XDP attach, which (unlike aya's bpf_link) outlives the process. The maps stay alive
    /// as long as the program does.
    pub fn program_fd(&self) -> Result<BorrowedFd<'_>> {
        let perr = |e: ProgramError| DataplaneError::Program {
            program: DECAP_PROG,
            source: Box::new(e),
        };
        let prog: &Xdp = self
            .ebpf
            .program(DECAP_PROG)
            .ok_or_else(|| perr(ProgramError::UnexpectedProgramType))?
            .try_into()
            .map_err(perr)?;
        Ok(prog.fd().map_err(perr)?.as_fd())
    }

    /// The file descriptor of the TC program `lvs_rs_decap_tc`, to attach it by other means
    /// than [`RsDecap::attach_tc`] (`lvsadm realserver setup`: a netlink `cls_bpf` filter,
    /// which outlives the process).
    pub fn tc_program_fd(&self) -> Result<BorrowedFd<'_>> {
        let perr = |e: ProgramError| DataplaneError::Program {
            program: DECAP_TC_PROG,
            source: Box::new(e),
        };
        let prog: &SchedClassifier = self
            .ebpf
            .program(DECAP_TC_PROG)
            .ok_or_else(|| perr(ProgramError::UnexpectedProgramType))?
            .try_into()
            .map_err(perr)?;
        Ok(prog.fd().map_err(perr)?.as_fd())
    }

    /// The kernel's id of the TC program `lvs_rs_decap_tc`.
    pub fn tc_program_id(&self) -> Result<u32> {
        let perr = |e: ProgramError| DataplaneError::Program {
            program: DECAP_TC_PROG,
            source: Box::new(e),
        };
        let prog: &SchedClassifier = self
            .ebpf
            .program(DECAP_TC_PROG)
            .ok_or_else(|| perr(ProgramError::UnexpectedProgramType))?
            .try_into()
            .map_err(perr)?;
        Ok(prog.info().map_err(perr)?.id())
    }

    /// Attach `lvs_rs_decap_tc` at TC ingress of `ifname` (tcx, else netlink with a
    /// `clsact` qdisc), for as long as this value lives.
    pub fn attach_tc(&mut self, ifname: &str) -> Result<()> {
        let tc = attach_tc(
            sched_prog(&mut self.ebpf, DECAP_TC_PROG)?,
            DECAP_TC_PROG,
            ifname,
        )?;
        self.tc_links.push((ifname.to_string(), tc));
        Ok(())
    }

    /// Attach to `ifname`: generic XDP on virtual interfaces, native elsewhere with a
    /// fallback to generic (the decapsulated packet goes up the local stack, where generic
    /// XDP has none of the forwarding limits of the director).
    pub fn attach(&mut self, ifname: &str) -> Result<AttachedMode> {
        let prog = xdp_prog(&mut self.ebpf, DECAP_PROG)?;
        let (link, m) = if is_virtual_interface(ifname) {
            let l = attach_xdp(
                prog,
                DECAP_PROG,
                ifname,
                false,
                "generic (virtual interface)",
            )?;
            (l, AttachedMode::Generic)
        } else {
            match attach_xdp(prog, DECAP_PROG, ifname, true, "native") {
                Ok(l) => (l, AttachedMode::Native),
                Err(native) => {
                    log::warn!(
                        "{DECAP_PROG}: native XDP on {ifname} failed ({native}); falling back \
                         to generic XDP"
                    );
                    let prog = xdp_prog(&mut self.ebpf, DECAP_PROG)?;
                    let l = attach_xdp(prog, DECAP_PROG, ifname, false, "native, then generic")?;
                    (l, AttachedMode::Generic)
                }
            }
        };
        self.links.push((ifname.to_string(), link, m));
        Ok(m)
    }

    /// Detach from every interface (also done on drop).
    pub fn detach_all(&mut self) -> Result<()> {
        while let Some((name, tc)) = self.tc_links.pop() {
            let r = sched_prog(&mut self.ebpf, DECAP_TC_PROG)?
                .detach(tc.link)
                .map_err(|e| DataplaneError::Detach {
                    ifname: name.clone(),
                    source: Box::new(e),
                });
            if tc.created_clsact {
                remove_clsact(&name);
            }
            r?;
        }
        while let Some((name, link, _)) = self.links.pop() {
            xdp_prog(&mut self.ebpf, DECAP_PROG)?
                .detach(link)
                .map_err(|e| DataplaneError::Detach {
                    ifname: name,
                    source: Box::new(e),
                })?;
        }
        Ok(())
    }

    /// Decapsulate tunnel packets whose inner destination is `vip`.
    pub fn add_vip(&mut self, vip: IpAddr) -> Result<()> {
        let (af, a) = addr16(vip);
        self.vips.insert(a, af, 0).map_err(map_err("LVS_RS_VIPS"))
    }

    /// Stop decapsulating for `vip`.
    pub fn remove_vip(&mut self, vip: IpAddr) -> Result<()> {
        remove_ok(self.vips.remove(&addr16(vip).1), "LVS_RS_VIPS")
    }

    /// Accept tunnel packets whose outer destination is `addr` (one of this host's
    /// addresses, the real server address the director tunnels to).
    pub fn add_local(&mut self, addr: IpAddr) -> Result<()> {
        let (af, a) = addr16(addr);
        self.locals
            .insert(a, af, 0)
            .map_err(map_err("LVS_RS_LOCAL"))
    }

    /// Stop accepting tunnel packets to `addr`.
    pub fn remove_local(&mut self, addr: IpAddr) -> Result<()> {
        remove_ok(self.locals.remove(&addr16(addr).1), "LVS_RS_LOCAL")
    }

    /// Run `lvs_rs_decap` once on `frame` with `BPF_PROG_TEST_RUN`.
    pub fn test_run(&mut self, frame: &[u8]) -> Result<TestRunOutput> {
        let prog = xdp_prog(&mut self.ebpf, DECAP_PROG)?;
        test_run_xdp(prog, DECAP_PROG, frame, None, 1)
    }

    /// Run `lvs_rs_decap_tc` once on `frame` with `BPF_PROG_TEST_RUN`.
    pub fn test_run_tc(&mut self, frame: &[u8], opts: &TcRunOptions) -> Result<TcRunOutput> {
        let prog = sched_prog(&mut self.ebpf, DECAP_TC_PROG)?;
        test_run_tc(prog, DECAP_TC_PROG, frame, opts)
    }
}

impl Drop for RsDecap {
    fn drop(&mut self) {
        let _ = self.detach_all();
    }
}
