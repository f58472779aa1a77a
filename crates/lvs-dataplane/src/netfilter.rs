//! The netfilter hook of firewall-mark services (`bpf/lvs_nf.bpf.c`).
//!
//! Marks are set by netfilter's mangle table, after XDP, so the first packet of a flow to a
//! firewall-mark service is classified on netfilter's PREROUTING hook, right after mangle,
//! by a `BPF_PROG_TYPE_NETFILTER` program: it copies packets whose mark is a service into a
//! ring buffer (read here) and drops them; lvsd's slow path schedules them. See the program's
//! header comment and docs/xdp.md ("Firewall-mark services").
//!
//! aya 0.14 has no netfilter program type, so this module loads the object itself: aya-obj
//! parses and relocates it (CO-RE against the running kernel's BTF, map references), aya
//! creates the maps, and two `bpf(2)` calls load the program and create the netfilter links
//! (IPv4 and IPv6). The links live as long as the [`FwmarkHook`]: dropping it (or the
//! process dying) detaches them.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use aya::maps::{HashMap, Map, MapData, MapError, PerCpuArray, RingBuf};
use aya_obj::btf::Btf;
use aya_obj::generated::{bpf_attach_type, bpf_cmd, bpf_insn, bpf_prog_type};
use lvs_common::nf::{FwmarkKey, NF_DATA_MAX, NfRec, NfStat};

static LVS_NF_OBJ: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/lvs_nf.o"));

/// `NFPROTO_IPV4`, `NFPROTO_IPV6`.
const NFPROTO_IPV4: u32 = 2;
const NFPROTO_IPV6: u32 = 10;
/// `NF_INET_PRE_ROUTING`.
const NF_INET_PRE_ROUTING: u32 = 0;
/// The hook's priority: right after the mangle table (`NF_IP_PRI_MANGLE` = -150, which is
/// also nftables' `mangle` priority), before DNAT (-100).
pub const PRIORITY: i32 = -149;

/// Errors of the netfilter hook.
#[derive(Debug, thiserror::Error)]
pub enum NetfilterError {
    /// The object could not be parsed or relocated.
    #[error("lvs_nf object: {0}")]
    Object(String),
    /// A map could not be created or has an unexpected type.
    #[error("lvs_nf map `{map}`")]
    Map {
        /// Map name.
        map: &'static str,
        /// Cause.
        #[source]
        source: Box<MapError>,
    },
    /// The kernel refused the program; `log` is the verifier's output.
    #[error("loading lvs_nf: {source}\n{log}")]
    Load {
        /// Cause.
        #[source]
        source: std::io::Error,
        /// Verifier log (may be empty).
        log: String,
    },
    /// The kernel refused the netfilter link.
    #[error("netfilter link ({family}): {source}")]
    Link {
        /// `ipv4` or `ipv6`.
        family: &'static str,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, NetfilterError>;

fn map_err(map: &'static str) -> impl FnOnce(MapError) -> NetfilterError {
    move |source| NetfilterError::Map {
        map,
        source: Box::new(source),
    }
}

/// A packet the hook handed over: it matched a firewall-mark service and was dropped in
/// the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkedPacket {
    /// Interface it arrived on.
    pub ifindex: u32,
    /// Its mark.
    pub mark: u32,
    /// The IP packet, from the IP header on.
    pub packet: Vec<u8>,
}

/// The loaded and attached hook.
pub struct FwmarkHook {
    marks: HashMap<MapData, FwmarkKey, u32>,
    ring: RingBuf<MapData>,
    stats: PerCpuArray<MapData, u64>,
    installed: HashSet<FwmarkKey>,
    _prog: OwnedFd,
    _links: Vec<OwnedFd>,
}

impl std::fmt::Debug for FwmarkHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FwmarkHook")
            .field("marks", &self.installed)
            .finish_non_exhaustive()
    }
}

/// The subset of `union bpf_attr` for `BPF_PROG_LOAD` that is used here.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The subset of `union bpf_attr` for `BPF_LINK_CREATE` of a netfilter link.
#[repr(C)]
#[derive(Default)]
struct NfLinkAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    pf: u32,
    hooknum: u32,
    priority: i32,
    nf_flags: u32,
}

/// `bpf(2)`, returning the new file descriptor.
#[allow(unsafe_code)]
fn bpf_fd<T>(cmd: bpf_cmd, attr: &mut T) -> std::io::Result<OwnedFd> {
    let size = u32::try_from(std::mem::size_of::<T>()).unwrap_or(u32::MAX);
    // SAFETY: `attr` is a live, initialised #[repr(C)] prefix of `union bpf_attr` of `size`
    // bytes; the kernel reads (and for PROG_LOAD's log, writes through the pointers in it,
    // which point to live buffers of the stated sizes) only within that.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut T as *mut libc::c_void,
            size as libc::c_long,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(r).map_err(|_| std::io::Error::other("fd out of range"))?;
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn load_program(insns: &[bpf_insn], license: &CString) -> Result<OwnedFd> {
    let mut log = vec![0u8; 1 << 20];
    let mut name = [0u8; 16];
    name[..6].copy_from_slice(b"lvs_nf");
    let mut attr = ProgLoadAttr {
        prog_type: bpf_prog_type::BPF_PROG_TYPE_NETFILTER as u32,
        insn_cnt: u32::try_from(insns.len()).unwrap_or(u32::MAX),
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        expected_attach_type: bpf_attach_type::BPF_NETFILTER as u32,
        ..Default::default()
    };
    match bpf_fd(bpf_cmd::BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(fd),
        Err(_) => {
            // Again with the verifier's log, to say why.
            attr.log_level = 1;
            attr.log_size = u32::try_from(log.len()).unwrap_or(u32::MAX);
            attr.log_buf = log.as_mut_ptr() as u64;
            let err = match bpf_fd(bpf_cmd::BPF_PROG_LOAD, &mut attr) {
                Ok(fd) => return Ok(fd),
                Err(e) => e,
            };
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            Err(NetfilterError::Load {
                source: err,
                log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            })
        }
    }
}

fn link(prog: BorrowedFd<'_>, pf: u32, family: &'static str) -> Result<OwnedFd> {
    let mut attr = NfLinkAttr {
        prog_fd: u32::try_from(prog.as_raw_fd()).unwrap_or(u32::MAX),
        attach_type: bpf_attach_type::BPF_NETFILTER as u32,
        pf,
        hooknum: NF_INET_PRE_ROUTING,
        priority: PRIORITY,
        ..Default::default()
    };
    bpf_fd(bpf_cmd::BPF_LINK_CREATE, &mut attr)
        .map_err(|source| NetfilterError::Link { family, source })
}

impl FwmarkHook {
    /// Load `lvs_nf` and attach it to PREROUTING for IPv4 and IPv6 in the current network
    /// namespace.
    pub fn load() -> Result<FwmarkHook> {
        let obj_err = |e: &dyn std::fmt::Display| NetfilterError::Object(e.to_string());
        let mut obj = aya_obj::Object::parse(LVS_NF_OBJ).map_err(|e| obj_err(&e))?;
        if obj.has_btf_relocations() {
            let btf = Btf::from_sys_fs().map_err(|e| obj_err(&e))?;
            obj.relocate_btf(&btf).map_err(|e| obj_err(&e))?;
        }
        let mut maps: Vec<(String, aya_obj::Map, MapData)> = Vec::new();
        for (name, m) in &obj.maps {
            let data = MapData::create(m.clone(), name, None).map_err(map_err("lvs_nf maps"))?;
            maps.push((name.clone(), m.clone(), data));
        }
        let text_sections = obj.functions.keys().map(|(section, _)| *section).collect();
        obj.relocate_maps(
            maps.iter()
                .map(|(n, m, d)| (n.as_str(), d.fd().as_fd().as_raw_fd(), m)),
            &text_sections,
        )
        .map_err(|e| obj_err(&e))?;
        obj.relocate_calls(&text_sections)
            .map_err(|e| obj_err(&e))?;
        let program = obj
            .programs
            .get("lvs_nf")
            .ok_or_else(|| NetfilterError::Object("no program lvs_nf".into()))?;
        let function = obj
            .functions
            .get(&program.function_key())
            .ok_or_else(|| NetfilterError::Object("no function lvs_nf".into()))?;
        let prog = load_program(&function.instructions, &obj.license)?;
        let links = vec![
            link(prog.as_fd(), NFPROTO_IPV4, "ipv4")?,
            link(prog.as_fd(), NFPROTO_IPV6, "ipv6")?,
        ];
        let mut take = |name: &'static str| -> Result<Map> {
            let i = maps
                .iter()
                .position(|(n, _, _)| n == name)
                .ok_or_else(|| NetfilterError::Object(format!("no map {name}")))?;
            let (_, _, data) = maps.swap_remove(i);
            Ok(match name {
                "LVS_NF_RING" => Map::RingBuf(data),
                "LVS_NF_STATS" => Map::PerCpuArray(data),
                _ => Map::HashMap(data),
            })
        };
        let marks = HashMap::try_from(take("LVS_FWMARKS")?).map_err(map_err("LVS_FWMARKS"))?;
        let ring = RingBuf::try_from(take("LVS_NF_RING")?).map_err(map_err("LVS_NF_RING"))?;
        let stats =
            PerCpuArray::try_from(take("LVS_NF_STATS")?).map_err(map_err("LVS_NF_STATS"))?;
        Ok(FwmarkHook {
            marks,
            ring,
            stats,
            installed: HashSet::new(),
            _prog: prog,
            _links: links,
        })
    }

    /// Make the set of firewall-mark services exactly `want`.
    pub fn set_marks(&mut self, want: &HashSet<FwmarkKey>) -> Result<()> {
        for k in self.installed.difference(want).copied().collect::<Vec<_>>() {
            match self.marks.remove(&k) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err("LVS_FWMARKS")(e)),
            }
            self.installed.remove(&k);
        }
        for k in want {
            if !self.installed.contains(k) {
                self.marks.insert(k, 1, 0).map_err(map_err("LVS_FWMARKS"))?;
                self.installed.insert(*k);
            }
        }
        Ok(())
    }

    /// The ring buffer's file descriptor (readable when packets are waiting).
    pub fn ring_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }

    /// The next handed-over packet, if any.
    pub fn next_packet(&mut self) -> Option<MarkedPacket> {
        let item = self.ring.next()?;
        NfRec::header_from_bytes(&item).and_then(|(ifindex, mark, len)| {
            let len = usize::try_from(len).ok().filter(|&l| l <= NF_DATA_MAX)?;
            let data = item.get(NfRec::DATA_OFFSET..NfRec::DATA_OFFSET + len)?;
            Some(MarkedPacket {
                ifindex,
                mark,
                packet: data.to_vec(),
            })
        })
    }

    /// A counter of the hook, summed over CPUs.
    pub fn stat(&self, stat: NfStat) -> u64 {
        self.stats
            .get(&(stat as u32), 0)
            .map(|v| v.iter().copied().sum())
            .unwrap_or(0)
    }
}
