//! The ipvsadm 1.31 command line: `parse_options()` and `process_options()` of ipvsadm.c
//! re-done step by step (same option table, same order of checks, same messages), ending
//! in a [`Command`] made of lvs-api request types instead of a netlink message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_api::{
    DestDelete, DestRequest, DestSpec, Family, LaddrRequest, Method, Persistence, Protocol,
    SVC_F_ONEPACKET, SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3, ServiceKey, ServiceSpec, Timeouts,
    Tunnel, TunnelCsum, TunnelKind, ZeroRequest,
};
use serde::Serialize;

use crate::error::CliError;
use crate::format::Format;
use crate::num::{atoi, inet_aton, string_to_number, strtol10};
use crate::popt::{ArgKind, OptDef, Popt};
use crate::resolve::{Resolver, ServProto};

/// `MAX_TIMEOUT` (31 days).
pub const MAX_TIMEOUT: i64 = 86400 * 31;
/// `IPVS_SVC_PERSISTENT_TIMEOUT`: the timeout of `-p` without a value.
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 360;
/// The default scheduler.
pub const DEFAULT_SCHEDULER: &str = "wlc";
/// The default multicast interface of `--start-daemon`.
pub const DEFAULT_MCAST_IFN: &str = "eth0";

/// What to list (`-L` and its exclusive selectors).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "what", content = "service")]
pub enum ListWhat {
    /// Every service (`-L`, or no arguments at all).
    All,
    /// One service (`-L -t ...`): no version line.
    Service(ServiceKey),
    /// The connection table (`-L -c`).
    Connections,
    /// The timeouts (`-L --timeout`).
    Timeout,
    /// The sync daemons (`-L --daemon`).
    Daemon,
}

/// A listing request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListRequest {
    /// What to list.
    pub what: ListWhat,
    /// How.
    pub format: Format,
}

/// Sync daemon role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    /// `master`.
    Master,
    /// `backup`.
    Backup,
}

/// `--start-daemon` settings (0 / None = the kernel's default).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DaemonConfig {
    /// Role.
    pub state: DaemonState,
    /// `--mcast-interface` (default `eth0`, at most 15 characters).
    pub mcast_ifn: String,
    /// `--syncid` (default 0).
    pub syncid: u8,
    /// `--sync-maxlen` (0 = default).
    pub sync_maxlen: u16,
    /// `--mcast-group`.
    pub mcast_group: Option<IpAddr>,
    /// `--mcast-port` (0 = default 8848).
    pub mcast_port: u16,
    /// `--mcast-ttl` (0 = default 1).
    pub mcast_ttl: u8,
}

/// `--stop-daemon`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DaemonStop {
    /// Role.
    pub state: DaemonState,
    /// `--syncid` (sent, ignored by the kernel).
    pub syncid: u8,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "command", content = "args")]
pub enum Command {
    /// `-A`: a complete service.
    AddService(ServiceSpec),
    /// `-E`: a complete service (options not given are reset to their defaults).
    EditService(ServiceSpec),
    /// `-D`.
    DeleteService(ServiceKey),
    /// `-C`.
    Clear,
    /// `-R`: read commands from standard input (see [`crate::restore`]).
    Restore,
    /// `-S [-n]`: save rules (format has `rule` set).
    Save(Format),
    /// `-a`.
    AddDest(DestRequest),
    /// `-e`.
    EditDest(DestRequest),
    /// `-d`.
    DeleteDest(DestDelete),
    /// `-L`/`-l`, or no arguments.
    List(ListRequest),
    /// `-Z [service]`.
    Zero(ZeroRequest),
    /// `--set tcp tcpfin udp` (0 = unchanged).
    SetTimeouts(Timeouts),
    /// `--start-daemon`.
    StartDaemon(DaemonConfig),
    /// `--stop-daemon`.
    StopDaemon(DaemonStop),
    /// `-h`: print [`crate::usage::usage`] of `program` to standard output, exit 0.
    Help {
        /// `argv[0]`.
        program: String,
    },
    /// `-v`: print [`crate::usage::VERSION_LINE`] to standard output, exit 0.
    Version,
    /// Extension `--add-laddr -t|-u|-f service -z addr` (FULLNAT local address).
    AddLaddr(LaddrRequest),
    /// Extension `--del-laddr`.
    DeleteLaddr(LaddrRequest),
    /// Extension `--get-laddr service [-n]`.
    GetLaddr {
        /// The service.
        service: ServiceKey,
        /// Output format (only `numeric` matters).
        format: Format,
    },
}

/// A command with the global options of lvsadm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Invocation {
    /// Extension `--socket PATH`: the control socket of lvsd.
    pub socket: Option<String>,
    /// The command.
    pub command: Command,
}

// ---------------------------------------------------------------------------------------
// Commands and options, numbered as in ipvsadm.c (extensions appended at the end).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Add = 1,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
    AddLaddr,
    DelLaddr,
    GetLaddr,
}

const CMD_NAMES: [&str; 17] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
    "add-laddr",
    "del-laddr",
    "get-laddr",
];

const OPTC_NUMERIC: usize = 0;
const OPTC_CONNECTION: usize = 1;
const OPTC_SERVICE: usize = 2;
const OPTC_SCHEDULER: usize = 3;
const OPTC_PERSISTENT: usize = 4;
const OPTC_NETMASK: usize = 5;
const OPTC_SERVER: usize = 6;
const OPTC_FORWARD: usize = 7;
const OPTC_WEIGHT: usize = 8;
const OPTC_UTHRESHOLD: usize = 9;
const OPTC_LTHRESHOLD: usize = 10;
const OPTC_MCAST: usize = 11;
const OPTC_TIMEOUT: usize = 12;
const OPTC_DAEMON: usize = 13;
const OPTC_STATS: usize = 14;
const OPTC_RATE: usize = 15;
const OPTC_THRESHOLDS: usize = 16;
const OPTC_PERSISTENTCONN: usize = 17;
const OPTC_NOSORT: usize = 18;
const OPTC_SYNCID: usize = 19;
const OPTC_EXACT: usize = 20;
const OPTC_ONEPACKET: usize = 21;
const OPTC_PE: usize = 22;
const OPTC_SCHED_FLAGS: usize = 23;
const OPTC_MCAST_GROUP: usize = 24;
const OPTC_MCAST_PORT: usize = 25;
const OPTC_MCAST_TTL: usize = 26;
const OPTC_SYNC_MAXLEN: usize = 27;
const OPTC_TUN_INFO: usize = 28;
const OPTC_TUN_TYPE: usize = 29;
const OPTC_TUN_PORT: usize = 30;
const OPTC_TUN_NOCSUM: usize = 31;
const OPTC_TUN_CSUM: usize = 32;
const OPTC_TUN_REMCSUM: usize = 33;
const OPTC_LADDR: usize = 34;
const OPTC_PROXY_PROTOCOL: usize = 35;
const NUMBER_OF_OPT: usize = 36;

const OPT_NAMES: [&str; NUMBER_OF_OPT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "laddr",
    "proxy-protocol",
];

/// `commands_v_options` ('+' required, 'x' illegal, '1' exclusive, '.' optional), one row
/// per command, one column per option in `OPT_NAMES` order. The first 34 columns are
/// ipvsadm's table verbatim; the last two are the extensions.
const COMMANDS_V_OPTIONS: [&[u8; NUMBER_OF_OPT]; 17] = [
    /* ADD     */ b"xx+...xxxxxxxxxxxxxxx...xxxxxxxxxxx.",
    /* EDIT    */ b"xx+...xxxxxxxxxxxxxxx...xxxxxxxxxxx.",
    /* DEL     */ b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* FLUSH   */ b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* LIST    */ b".11xxxxxxxxx11.......xxxxxxx.xxxxxxx",
    /* ADDSRV  */ b"xx+xxx+....xxxxxxxxxxxxxxxxxx.....xx",
    /* DELSRV  */ b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* EDITSRV */ b"xx+xxx+....xxxxxxxxxxxxxxxxxx.....xx",
    /* TIMEOUT */ b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* STARTD  */ b"xxxxxxxxxxx.xxxxxxx.xxxx....xxxxxxxx",
    /* STOPD   */ b"xxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxx",
    /* RESTORE */ b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* SAVE    */ b".xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* ZERO    */ b"xx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    /* ADDLADR */ b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx+x",
    /* DELLADR */ b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx+x",
    /* GETLADR */ b".x+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

const TUN_NAMES: [&str; 3] = ["ipip", "gue", "gre"];
const TUN_OPTS: [usize; 4] = [
    OPTC_TUN_PORT,
    OPTC_TUN_NOCSUM,
    OPTC_TUN_CSUM,
    OPTC_TUN_REMCSUM,
];
const TUNNEL_TYPES_V_OPTIONS: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    AddService,
    EditService,
    DeleteService,
    Clear,
    List,
    Zero,
    AddServer,
    EditServer,
    DeleteServer,
    Set,
    Help,
    Version,
    Restore,
    Save,
    StartDaemon,
    StopDaemon,
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Scheduler,
    Persistent,
    Netmask,
    RealServer,
    Masq,
    Ipip,
    Gate,
    Weight,
    UThreshold,
    LThreshold,
    Numeric,
    Connection,
    McastInterface,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
    // Extensions.
    FullNat,
    AddLaddr,
    DelLaddr,
    GetLaddr,
    Laddr,
    Socket,
    ProxyProtocol,
}

const fn o(long: &'static str, short: u8, arg: ArgKind, tag: Tag) -> OptDef<Tag> {
    OptDef {
        long: Some(long),
        short: if short == 0 { None } else { Some(short) },
        arg,
        tag,
    }
}

use ArgKind::{None as N, Optional as O, Required as R};

/// ipvsadm's popt table, in its order, then the extensions.
static OPTIONS: [OptDef<Tag>; 64] = [
    o("add-service", b'A', N, Tag::AddService),
    o("edit-service", b'E', N, Tag::EditService),
    o("delete-service", b'D', N, Tag::DeleteService),
    o("clear", b'C', N, Tag::Clear),
    o("list", b'L', N, Tag::List),
    o("list", b'l', N, Tag::List),
    o("zero", b'Z', N, Tag::Zero),
    o("add-server", b'a', N, Tag::AddServer),
    o("edit-server", b'e', N, Tag::EditServer),
    o("delete-server", b'd', N, Tag::DeleteServer),
    o("set", 0, N, Tag::Set),
    o("help", b'h', N, Tag::Help),
    o("version", b'v', N, Tag::Version),
    o("restore", b'R', N, Tag::Restore),
    o("save", b'S', N, Tag::Save),
    o("start-daemon", 0, R, Tag::StartDaemon),
    o("stop-daemon", 0, R, Tag::StopDaemon),
    o("tcp-service", b't', R, Tag::Tcp),
    o("udp-service", b'u', R, Tag::Udp),
    o("sctp-service", 0, R, Tag::Sctp),
    o("fwmark-service", b'f', R, Tag::Fwmark),
    o("scheduler", b's', R, Tag::Scheduler),
    o("persistent", b'p', O, Tag::Persistent),
    o("netmask", b'M', R, Tag::Netmask),
    o("real-server", b'r', R, Tag::RealServer),
    o("masquerading", b'm', N, Tag::Masq),
    o("ipip", b'i', N, Tag::Ipip),
    o("gatewaying", b'g', N, Tag::Gate),
    o("weight", b'w', R, Tag::Weight),
    o("u-threshold", b'x', R, Tag::UThreshold),
    o("l-threshold", b'y', R, Tag::LThreshold),
    o("numeric", b'n', N, Tag::Numeric),
    o("connection", b'c', N, Tag::Connection),
    o("mcast-interface", 0, R, Tag::McastInterface),
    o("syncid", 0, R, Tag::SyncId),
    o("timeout", 0, N, Tag::Timeout),
    o("daemon", 0, N, Tag::Daemon),
    o("stats", 0, N, Tag::Stats),
    o("rate", 0, N, Tag::Rate),
    o("thresholds", 0, N, Tag::Thresholds),
    o("persistent-conn", 0, N, Tag::PersistentConn),
    o("nosort", 0, N, Tag::NoSort),
    o("sort", 0, N, Tag::Sort),
    o("exact", b'X', N, Tag::Exact),
    o("ipv6", b'6', N, Tag::Ipv6),
    o("ops", b'o', N, Tag::Ops),
    o("pe", 0, R, Tag::Pe),
    o("sched-flags", b'b', R, Tag::SchedFlags),
    o("mcast-group", 0, R, Tag::McastGroup),
    o("mcast-port", 0, R, Tag::McastPort),
    o("mcast-ttl", 0, R, Tag::McastTtl),
    o("sync-maxlen", 0, R, Tag::SyncMaxlen),
    o("tun-info", 0, N, Tag::TunInfo),
    o("tun-type", 0, R, Tag::TunType),
    o("tun-port", 0, R, Tag::TunPort),
    o("tun-nocsum", 0, N, Tag::TunNocsum),
    o("tun-csum", 0, N, Tag::TunCsum),
    o("tun-remcsum", 0, N, Tag::TunRemcsum),
    // Extensions (DPVS spellings where DPVS has them).
    o("fullnat", 0, N, Tag::FullNat),
    o("add-laddr", 0, N, Tag::AddLaddr),
    o("del-laddr", 0, N, Tag::DelLaddr),
    o("get-laddr", 0, N, Tag::GetLaddr),
    o("laddr", b'z', R, Tag::Laddr),
    o("socket", 0, R, Tag::Socket),
];

static PROXY_PROTOCOL_OPT: [OptDef<Tag>; 1] = [o("proxy-protocol", 0, N, Tag::ProxyProtocol)];

fn option_table() -> Vec<OptDef<Tag>> {
    OPTIONS
        .iter()
        .chain(PROXY_PROTOCOL_OPT.iter())
        .copied()
        .collect()
}

// ---------------------------------------------------------------------------------------
// ipvsadm's `struct ipvs_command_entry`, as far as the command line fills it.

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 4;
const AF_INET6: u8 = 6;

const IPPROTO_IP: u8 = 0;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

const SVC_F_PERSISTENT: u32 = 0x0001;
const SCHED_FLAGS_MASK: u32 = SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3;

#[derive(Clone, Debug)]
struct Svc {
    af: u8,
    protocol: u8,
    addr: IpAddr,
    port: u16,
    fwmark: u32,
    sched_name: String,
    flags: u32,
    timeout: u32,
    /// IPv4: the mask's bits (0xffffffff = /32); IPv6: the prefix length.
    netmask: u32,
    pe_name: String,
    proxy_protocol: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fwd {
    Masq,
    Tunnel,
    Route,
    FullNat,
}

#[derive(Clone, Debug)]
struct Dest {
    af: u8,
    addr: IpAddr,
    port: u16,
    fwd: Fwd,
    weight: i32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: usize,
    tun_port: u16,
    tun_flags: u32,
}

const SERVICE_ADDR: u8 = 1;
const SERVICE_PORT: u8 = 2;

fn serv_proto(protocol: u8) -> ServProto {
    match protocol {
        IPPROTO_TCP => ServProto::Tcp,
        IPPROTO_UDP => ServProto::Udp,
        IPPROTO_SCTP => ServProto::Sctp,
        _ => ServProto::Ip,
    }
}

fn str_is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// `parse_service()`: fills af/addr/port of `svc`; returns SERVICE_ADDR|SERVICE_PORT bits
/// (0 = error).
fn parse_service(buf: &str, svc: &mut Svc, resolver: &dyn Resolver) -> u8 {
    if str_is_digit(buf) {
        return 0;
    }
    let mut host: &str = buf;
    let mut port: Option<&str> = None;
    if let Some(rest) = buf.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return 0;
        };
        let after = &rest[close + 1..];
        let Some(p) = after.strip_prefix(':') else {
            return 0;
        };
        host = &rest[..close];
        port = Some(p);
    }
    if let Ok(a6) = host.parse::<Ipv6Addr>() {
        svc.addr = IpAddr::V6(a6);
        svc.af = AF_INET6;
        svc.netmask = 128;
    } else {
        if let Some(c) = host.rfind(':') {
            port = Some(&host[c + 1..]);
            host = &host[..c];
        }
        if let Some(a4) = inet_aton(host).or_else(|| resolver.host_to_ipv4(host)) {
            svc.addr = IpAddr::V4(a4);
            svc.af = AF_INET;
        } else {
            return 0;
        }
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = port {
        result |= SERVICE_PORT;
        if let Some(n) = string_to_number(p, 0, 65535) {
            svc.port = n as u16;
        } else if let Some(n) = resolver.service_to_port(p, serv_proto(svc.protocol)) {
            svc.port = n;
        } else {
            return 0;
        }
    }
    result
}

fn parse_timeout(arg: Option<&str>, min: i64, max: i64) -> Result<u32, CliError> {
    let Some(s) = arg else {
        return Ok(DEFAULT_PERSISTENT_TIMEOUT);
    };
    string_to_number(s, min, max)
        .map(|v| v as u32)
        .ok_or_else(|| CliError::fail(format!("invalid timeout value `{s}' specified")))
}

fn parse_fwmark(s: &str) -> Result<u32, CliError> {
    let r = strtol10(s);
    if r.consumed == 0 || r.consumed != s.len() || r.overflow || r.value <= 0 {
        return Err(CliError::fail(format!(
            "invalid fwmark value `{s}' specified"
        )));
    }
    u32::try_from(r.value)
        .map_err(|_| CliError::fail(format!("invalid fwmark value `{s}' specified")))
}

fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, CliError> {
    let sched = if sched.is_empty() {
        DEFAULT_SCHEDULER
    } else {
        sched
    };
    let mut flags = 0;
    let mut any = false;
    for flag in arg.split(',').filter(|f| !f.is_empty()) {
        any = true;
        let (bits, only) = match flag {
            "flag-1" => (SVC_F_SCHED1, None),
            "flag-2" => (SVC_F_SCHED2, None),
            "flag-3" => (SVC_F_SCHED3, None),
            "sh-fallback" => (SVC_F_SCHED1, Some("sh")),
            "sh-port" => (SVC_F_SCHED2, Some("sh")),
            "mh-fallback" => (SVC_F_SCHED1, Some("mh")),
            "mh-port" => (SVC_F_SCHED2, Some("mh")),
            _ => {
                return Err(CliError::fail(format!("invalid scheduler flag `{flag}'")));
            }
        };
        flags |= bits;
        if only.is_some_and(|s| s != sched) {
            return Err(CliError::fail(format!(
                "incompatible scheduler flag `{flag}'"
            )));
        }
    }
    if !any {
        // ipvsadm hands strtok's NULL to strcmp here and crashes (SIGSEGV); refuse instead.
        return Err(CliError::fail(format!("invalid scheduler flag `{arg}'")));
    }
    Ok(flags)
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

struct State {
    cmd: Option<Cmd>,
    options: u64,
    format: Format,
    svc: Svc,
    dest: Dest,
    timeouts: Timeouts,
    daemon: DaemonConfig,
    laddr: Option<IpAddr>,
    socket: Option<String>,
}

impl State {
    fn set_option(&mut self, optc: usize) -> Result<(), CliError> {
        let bit = 1u64 << optc;
        if self.options & bit != 0 {
            return Err(CliError::fail(format!(
                "multiple '{}' options specified",
                OPT_NAMES[optc]
            )));
        }
        self.options |= bit;
        Ok(())
    }

    fn has(&self, optc: usize) -> bool {
        self.options & (1u64 << optc) != 0
    }
}

fn generic_opt_check(cmd: Cmd, options: u64) -> Result<(), CliError> {
    let i = cmd as usize - 1;
    let row = COMMANDS_V_OPTIONS[i];
    let mut last = 0;
    let mut count = 0;
    for j in 0..NUMBER_OF_OPT {
        if options & (1u64 << j) == 0 {
            if row[j] == b'+' {
                return Err(CliError::fail(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    OPT_NAMES[j], CMD_NAMES[i]
                )));
            }
        } else {
            if row[j] == b'x' {
                return Err(CliError::fail(format!(
                    "Illegal '{}' option with the '{}' command",
                    OPT_NAMES[j], CMD_NAMES[i]
                )));
            }
            if row[j] == b'1' {
                count += 1;
                if count == 1 {
                    last = j;
                    continue;
                }
                return Err(CliError::fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{}' command",
                    OPT_NAMES[j], OPT_NAMES[last], CMD_NAMES[i]
                )));
            }
        }
    }
    Ok(())
}

fn tunnel_opt_check(tun_type: usize, options: u64) -> Result<(), CliError> {
    let row = TUNNEL_TYPES_V_OPTIONS[tun_type];
    let mut last = 0;
    let mut count = 0;
    for (j, &k) in TUN_OPTS.iter().enumerate() {
        if options & (1u64 << k) == 0 {
            if row[j] == b'+' {
                return Err(CliError::fail(format!(
                    "You need to supply the '{}' option for the '{}' tunnel type",
                    OPT_NAMES[k], TUN_NAMES[tun_type]
                )));
            }
        } else {
            if row[j] == b'x' {
                return Err(CliError::fail(format!(
                    "Illegal '{}' option with the '{}' tunnel type",
                    OPT_NAMES[k], TUN_NAMES[tun_type]
                )));
            }
            if row[j] == b'1' {
                count += 1;
                if count == 1 {
                    last = k;
                    continue;
                }
                return Err(CliError::fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{}' tunnel type",
                    OPT_NAMES[k], OPT_NAMES[last], TUN_NAMES[tun_type]
                )));
            }
        }
    }
    Ok(())
}

/// Parses an ipvsadm command line (`argv[0]` is the program name, used in messages).
///
/// ```
/// use lvsadm::{parse, Command, NoResolver};
/// let argv: Vec<String> = ["ipvsadm", "-A", "-t", "10.0.0.1:80", "-s", "rr"]
///     .iter().map(|s| s.to_string()).collect();
/// match parse(&argv, &NoResolver).unwrap() {
///     Command::AddService(spec) => assert_eq!(spec.scheduler, "rr"),
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn parse(argv: &[String], resolver: &dyn Resolver) -> Result<Command, CliError> {
    parse_invocation(argv, resolver).map(|i| i.command)
}

/// [`parse`], also returning lvsadm's global options (`--socket`).
pub fn parse_invocation(argv: &[String], resolver: &dyn Resolver) -> Result<Invocation, CliError> {
    parse_argv(argv, resolver, false)
}

/// The work of `process_options(argc, argv, reading_stdin)`.
pub(crate) fn parse_argv(
    argv: &[String],
    resolver: &dyn Resolver,
    reading_stdin: bool,
) -> Result<Invocation, CliError> {
    let program = argv.first().cloned().unwrap_or_else(|| "ipvsadm".into());
    if argv.len() <= 1 {
        // `ipvsadm` alone lists the table (names resolved).
        return Ok(Invocation {
            socket: None,
            command: Command::List(ListRequest {
                what: ListWhat::All,
                format: Format::default(),
            }),
        });
    }
    let try_help = || CliError::TryHelp {
        program: program.clone(),
    };

    let mut st = State {
        cmd: None,
        options: 0,
        format: Format::default(),
        svc: Svc {
            af: AF_UNSPEC,
            protocol: IPPROTO_IP,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            fwmark: 0,
            sched_name: String::new(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: String::new(),
            proxy_protocol: false,
        },
        dest: Dest {
            af: AF_UNSPEC,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            fwd: Fwd::Route,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: 0,
            tun_port: 0,
            tun_flags: 0,
        },
        timeouts: Timeouts {
            tcp: 0,
            tcpfin: 0,
            udp: 0,
        },
        daemon: DaemonConfig {
            state: DaemonState::Master,
            mcast_ifn: String::new(),
            syncid: 0,
            sync_maxlen: 0,
            mcast_group: None,
            mcast_port: 0,
            mcast_ttl: 0,
        },
        laddr: None,
        socket: None,
    };

    let table = option_table();
    let mut popt = Popt::new(argv, &table);

    // The first option must be a command (global --socket aside).
    let (tag, arg) = loop {
        match popt.next_opt() {
            Ok(Some((Tag::Socket, a))) if st.socket.is_none() => st.socket = a,
            Ok(Some(x)) => break x,
            Ok(None) | Err(_) => return Err(try_help()),
        }
    };
    let daemon_state = |a: &Option<String>, msg: &str| match a.as_deref() {
        Some("master") => Ok(DaemonState::Master),
        Some("backup") => Ok(DaemonState::Backup),
        _ => Err(CliError::fail(msg)),
    };
    st.cmd = Some(match tag {
        Tag::AddService => Cmd::Add,
        Tag::EditService => Cmd::Edit,
        Tag::DeleteService => Cmd::Del,
        Tag::AddServer => Cmd::AddDest,
        Tag::EditServer => Cmd::EditDest,
        Tag::DeleteServer => Cmd::DelDest,
        Tag::Clear => Cmd::Flush,
        Tag::List => Cmd::List,
        Tag::Zero => Cmd::Zero,
        Tag::Set => Cmd::Timeout,
        Tag::Restore => Cmd::Restore,
        Tag::Save => Cmd::Save,
        Tag::AddLaddr => Cmd::AddLaddr,
        Tag::DelLaddr => Cmd::DelLaddr,
        Tag::GetLaddr => Cmd::GetLaddr,
        Tag::StartDaemon => {
            st.daemon.state = daemon_state(&arg, "illegal start-daemon parameter specified")?;
            Cmd::StartDaemon
        }
        Tag::StopDaemon => {
            st.daemon.state = daemon_state(&arg, "illegal start_daemon specified")?;
            Cmd::StopDaemon
        }
        Tag::Help => {
            return Ok(Invocation {
                socket: st.socket,
                command: Command::Help { program },
            });
        }
        Tag::Version => {
            return Ok(Invocation {
                socket: st.socket,
                command: Command::Version,
            });
        }
        _ => return Err(try_help()),
    });

    let mut sched_flags_arg = String::new();
    loop {
        let (tag, arg) = match popt.next_opt() {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) => {
                return Err(CliError::Popt {
                    option: popt.bad_option(),
                    reason: e.reason().to_string(),
                });
            }
        };
        let a = arg.clone().unwrap_or_default();
        match tag {
            Tag::Tcp | Tag::Udp | Tag::Sctp => {
                st.set_option(OPTC_SERVICE)?;
                st.svc.protocol = match tag {
                    Tag::Tcp => IPPROTO_TCP,
                    Tag::Udp => IPPROTO_UDP,
                    _ => IPPROTO_SCTP,
                };
                if parse_service(&a, &mut st.svc, resolver) & SERVICE_ADDR == 0 {
                    return Err(CliError::fail(
                        "illegal virtual server address[:port] specified",
                    ));
                }
            }
            Tag::Fwmark => {
                st.set_option(OPTC_SERVICE)?;
                st.svc.af = AF_INET;
                st.svc.protocol = IPPROTO_TCP;
                st.svc.fwmark = parse_fwmark(&a)?;
            }
            Tag::Scheduler => {
                st.set_option(OPTC_SCHEDULER)?;
                st.svc.sched_name = truncate(&a, 15);
            }
            Tag::Persistent => {
                st.set_option(OPTC_PERSISTENT)?;
                st.svc.flags |= SVC_F_PERSISTENT;
                st.svc.timeout = parse_timeout(arg.as_deref(), 1, MAX_TIMEOUT)?;
            }
            Tag::Netmask => {
                st.set_option(OPTC_NETMASK)?;
                if st.svc.af != AF_INET6 {
                    match inet_aton(&a).or_else(|| resolver.host_to_ipv4(&a)) {
                        Some(m) => st.svc.netmask = u32::from(m),
                        None => {
                            return Err(CliError::fail(
                                "illegal virtual server persistent mask specified",
                            ));
                        }
                    }
                } else {
                    st.svc.netmask = atoi(&a) as u32;
                    if !(1..=128).contains(&st.svc.netmask) {
                        return Err(CliError::fail("illegal ipv6 netmask specified"));
                    }
                }
            }
            Tag::RealServer => {
                st.set_option(OPTC_SERVER)?;
                let mut t = st.svc.clone();
                let parse = parse_service(&a, &mut t, resolver);
                st.dest.af = t.af;
                st.dest.addr = t.addr;
                st.dest.port = t.port;
                if parse & SERVICE_ADDR == 0 {
                    return Err(CliError::fail(
                        "illegal real server address[:port] specified",
                    ));
                }
                if parse == SERVICE_ADDR {
                    st.dest.port = st.svc.port;
                }
            }
            Tag::Ipip | Tag::Gate | Tag::Masq | Tag::FullNat => {
                st.set_option(OPTC_FORWARD)?;
                st.dest.fwd = match tag {
                    Tag::Ipip => Fwd::Tunnel,
                    Tag::Gate => Fwd::Route,
                    Tag::Masq => Fwd::Masq,
                    _ => Fwd::FullNat,
                };
            }
            Tag::Weight => {
                st.set_option(OPTC_WEIGHT)?;
                // Debian's ipvsadm 1.31-1 accepts weights up to INT_MAX (upstream: 65535).
                st.dest.weight = string_to_number(&a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| CliError::fail("illegal weight specified"))?
                    as i32;
            }
            Tag::UThreshold => {
                st.set_option(OPTC_UTHRESHOLD)?;
                st.dest.u_threshold = string_to_number(&a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| CliError::fail("illegal u_threshold specified"))?
                    as u32;
            }
            Tag::LThreshold => {
                st.set_option(OPTC_LTHRESHOLD)?;
                st.dest.l_threshold = string_to_number(&a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| CliError::fail("illegal l_threshold specified"))?
                    as u32;
            }
            Tag::Connection => st.set_option(OPTC_CONNECTION)?,
            Tag::Numeric => {
                st.set_option(OPTC_NUMERIC)?;
                st.format.numeric = true;
            }
            Tag::McastInterface => {
                st.set_option(OPTC_MCAST)?;
                st.daemon.mcast_ifn = truncate(&a, 15);
            }
            Tag::SyncId => {
                st.set_option(OPTC_SYNCID)?;
                st.daemon.syncid = string_to_number(&a, 0, 255)
                    .ok_or_else(|| CliError::fail("illegal syncid specified"))?
                    as u8;
            }
            Tag::Timeout => st.set_option(OPTC_TIMEOUT)?,
            Tag::Daemon => st.set_option(OPTC_DAEMON)?,
            Tag::Stats => {
                st.set_option(OPTC_STATS)?;
                st.format.stats = true;
            }
            Tag::Rate => {
                st.set_option(OPTC_RATE)?;
                st.format.rate = true;
            }
            Tag::Thresholds => {
                st.set_option(OPTC_THRESHOLDS)?;
                st.format.thresholds = true;
            }
            Tag::PersistentConn => {
                st.set_option(OPTC_PERSISTENTCONN)?;
                st.format.persistent_conn = true;
            }
            Tag::NoSort => {
                st.set_option(OPTC_NOSORT)?;
                st.format.nosort = true;
            }
            Tag::Sort => {}
            Tag::Exact => {
                st.set_option(OPTC_EXACT)?;
                st.format.exact = true;
            }
            Tag::Ipv6 => {
                if st.svc.fwmark != 0 {
                    st.svc.af = AF_INET6;
                    st.svc.netmask = 128;
                } else {
                    return Err(CliError::fail("-6 used before -f\n"));
                }
            }
            Tag::Ops => {
                st.set_option(OPTC_ONEPACKET)?;
                st.svc.flags |= SVC_F_ONEPACKET;
            }
            Tag::Pe => {
                st.set_option(OPTC_PE)?;
                st.svc.pe_name = truncate(&a, 15);
            }
            Tag::SchedFlags => {
                st.set_option(OPTC_SCHED_FLAGS)?;
                sched_flags_arg = truncate(&a, 127);
            }
            Tag::McastGroup => {
                st.set_option(OPTC_MCAST_GROUP)?;
                if a.contains(':') {
                    match a.parse::<Ipv6Addr>() {
                        Ok(g) if g.is_multicast() => st.daemon.mcast_group = Some(IpAddr::V6(g)),
                        _ => {
                            return Err(CliError::fail(format!("invalid IPv6 mcast-group `{a}'")));
                        }
                    }
                } else {
                    match a.parse::<Ipv4Addr>() {
                        Ok(g) if g.is_multicast() => st.daemon.mcast_group = Some(IpAddr::V4(g)),
                        _ => {
                            return Err(CliError::fail(format!("invalid IPv4 mcast-group `{a}'")));
                        }
                    }
                }
            }
            Tag::McastPort => {
                st.set_option(OPTC_MCAST_PORT)?;
                st.daemon.mcast_port = string_to_number(&a, 1, 65535)
                    .ok_or_else(|| CliError::fail("illegal mcast-port specified"))?
                    as u16;
            }
            Tag::McastTtl => {
                st.set_option(OPTC_MCAST_TTL)?;
                st.daemon.mcast_ttl = string_to_number(&a, 1, 255)
                    .ok_or_else(|| CliError::fail("illegal mcast-ttl specified"))?
                    as u8;
            }
            Tag::SyncMaxlen => {
                st.set_option(OPTC_SYNC_MAXLEN)?;
                st.daemon.sync_maxlen = string_to_number(&a, 1, 65535 - 20 - 8)
                    .ok_or_else(|| CliError::fail("illegal sync-maxlen specified"))?
                    as u16;
            }
            Tag::TunInfo => {
                st.set_option(OPTC_TUN_INFO)?;
                st.format.tun_info = true;
            }
            Tag::TunType => {
                st.set_option(OPTC_TUN_TYPE)?;
                st.dest.tun_type = TUN_NAMES
                    .iter()
                    .position(|n| *n == a)
                    .ok_or_else(|| CliError::fail("illegal tunnel type specified"))?;
            }
            Tag::TunPort => {
                st.set_option(OPTC_TUN_PORT)?;
                st.dest.tun_port = string_to_number(&a, 1, 65535)
                    .ok_or_else(|| CliError::fail("illegal tunnel port specified"))?
                    as u16;
            }
            Tag::TunNocsum => st.set_option(OPTC_TUN_NOCSUM)?,
            Tag::TunCsum => {
                st.set_option(OPTC_TUN_CSUM)?;
                st.dest.tun_flags |= 1;
            }
            Tag::TunRemcsum => {
                st.set_option(OPTC_TUN_REMCSUM)?;
                st.dest.tun_flags |= 2;
            }
            Tag::Laddr => {
                st.set_option(OPTC_LADDR)?;
                let addr = match a.parse::<Ipv6Addr>() {
                    Ok(v6) => Some(IpAddr::V6(v6)),
                    Err(_) => inet_aton(&a)
                        .or_else(|| resolver.host_to_ipv4(&a))
                        .map(IpAddr::V4),
                };
                st.laddr =
                    Some(addr.ok_or_else(|| CliError::fail("illegal local address specified"))?);
            }
            Tag::ProxyProtocol => {
                st.set_option(OPTC_PROXY_PROTOCOL)?;
                st.svc.proxy_protocol = true;
            }
            Tag::Socket => {
                if st.socket.is_some() {
                    return Err(CliError::fail("multiple 'socket' options specified"));
                }
                st.socket = arg;
            }
            // A second command (or -h/-v after the command) is an unknown option here.
            _ => {
                return Err(CliError::fail(format!(
                    "invalid option `{}'",
                    popt.bad_option()
                )));
            }
        }
    }

    let cmd = st.cmd.unwrap_or(Cmd::List);
    if cmd == Cmd::Timeout {
        let (Some(a), Some(b), Some(c)) = (popt.get_arg(), popt.get_arg(), popt.get_arg()) else {
            return Err(CliError::fail("--set option requires 3 timeout values"));
        };
        st.timeouts = Timeouts {
            tcp: parse_timeout(Some(&a), 0, MAX_TIMEOUT)?,
            tcpfin: parse_timeout(Some(&b), 0, MAX_TIMEOUT)?,
            udp: parse_timeout(Some(&c), 0, MAX_TIMEOUT)?,
        };
    }
    if let Some(extra) = popt.get_arg() {
        return Err(CliError::fail(format!("unexpected argument {extra}")));
    }
    if !sched_flags_arg.is_empty() {
        st.svc.flags &= !SCHED_FLAGS_MASK;
        st.svc.flags |= parse_sched_flags(&st.svc.sched_name, &sched_flags_arg)?;
    }

    generic_opt_check(cmd, st.options)?;

    if matches!(cmd, Cmd::Add | Cmd::Edit) {
        if st.svc.fwmark == 0 && st.svc.port == 0 && st.svc.flags & SVC_F_PERSISTENT == 0 {
            return Err(CliError::fail(
                "Zero port specified for non-persistent service",
            ));
        }
        if st.svc.flags & SVC_F_ONEPACKET != 0
            && st.svc.fwmark == 0
            && st.svc.protocol != IPPROTO_UDP
        {
            return Err(CliError::fail(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        if st.svc.sched_name.is_empty() {
            st.svc.sched_name = DEFAULT_SCHEDULER.into();
        }
    }
    if cmd == Cmd::StartDaemon && st.daemon.mcast_ifn.is_empty() {
        st.daemon.mcast_ifn = DEFAULT_MCAST_IFN.into();
    }
    if matches!(cmd, Cmd::AddDest | Cmd::EditDest) {
        if st.svc.fwmark == 0 && matches!(st.dest.fwd, Fwd::Tunnel | Fwd::Route) {
            st.dest.port = st.svc.port;
        }
        if st.dest.af != st.svc.af && st.dest.fwd != Fwd::Tunnel {
            return Err(CliError::fail(
                "Different address family is allowed only for tunneling servers",
            ));
        }
        let tun_opts = [
            OPTC_TUN_TYPE,
            OPTC_TUN_PORT,
            OPTC_TUN_NOCSUM,
            OPTC_TUN_CSUM,
            OPTC_TUN_REMCSUM,
        ];
        if tun_opts.iter().any(|&o| st.has(o)) && st.dest.fwd != Fwd::Tunnel {
            return Err(CliError::fail(
                "Tunnel options conflict with forward method",
            ));
        }
        tunnel_opt_check(st.dest.tun_type, st.options)?;
    }

    let command = match cmd {
        Cmd::List => {
            let conflicts =
                (st.has(OPTC_CONNECTION) || st.has(OPTC_TIMEOUT) || st.has(OPTC_DAEMON))
                    && (st.has(OPTC_STATS) || st.has(OPTC_RATE) || st.has(OPTC_THRESHOLDS))
                    || (st.has(OPTC_TIMEOUT) || st.has(OPTC_DAEMON)) && st.has(OPTC_PERSISTENTCONN);
            if conflicts {
                return Err(CliError::fail("options conflicts in the list command"));
            }
            let what = if st.has(OPTC_CONNECTION) {
                ListWhat::Connections
            } else if st.has(OPTC_SERVICE) {
                ListWhat::Service(service_key(&st.svc))
            } else if st.has(OPTC_TIMEOUT) {
                ListWhat::Timeout
            } else if st.has(OPTC_DAEMON) {
                ListWhat::Daemon
            } else {
                ListWhat::All
            };
            Command::List(ListRequest {
                what,
                format: st.format,
            })
        }
        Cmd::Restore => {
            if reading_stdin {
                return Err(try_help());
            }
            Command::Restore
        }
        Cmd::Save => Command::Save(Format {
            rule: true,
            ..st.format
        }),
        Cmd::Flush => Command::Clear,
        Cmd::Add => Command::AddService(service_spec(&st.svc)?),
        Cmd::Edit => Command::EditService(service_spec(&st.svc)?),
        Cmd::Del => Command::DeleteService(service_key(&st.svc)),
        Cmd::Zero => Command::Zero(ZeroRequest {
            service: st.has(OPTC_SERVICE).then(|| service_key(&st.svc)),
        }),
        Cmd::AddDest => Command::AddDest(DestRequest {
            service: service_key(&st.svc),
            dest: dest_spec(&st.dest),
        }),
        Cmd::EditDest => Command::EditDest(DestRequest {
            service: service_key(&st.svc),
            dest: dest_spec(&st.dest),
        }),
        Cmd::DelDest => Command::DeleteDest(DestDelete {
            service: service_key(&st.svc),
            addr: st.dest.addr,
            port: st.dest.port,
        }),
        Cmd::Timeout => Command::SetTimeouts(st.timeouts),
        Cmd::StartDaemon => Command::StartDaemon(st.daemon),
        Cmd::StopDaemon => Command::StopDaemon(DaemonStop {
            state: st.daemon.state,
            syncid: st.daemon.syncid,
        }),
        Cmd::AddLaddr | Cmd::DelLaddr => {
            let req = LaddrRequest {
                service: service_key(&st.svc),
                addr: st.laddr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            };
            if cmd == Cmd::AddLaddr {
                Command::AddLaddr(req)
            } else {
                Command::DeleteLaddr(req)
            }
        }
        Cmd::GetLaddr => Command::GetLaddr {
            service: service_key(&st.svc),
            format: st.format,
        },
    };
    Ok(Invocation {
        socket: st.socket,
        command,
    })
}

fn service_key(svc: &Svc) -> ServiceKey {
    if svc.fwmark != 0 {
        ServiceKey::Fwmark {
            family: if svc.af == AF_INET6 {
                Family::Inet6
            } else {
                Family::Inet
            },
            mark: svc.fwmark,
        }
    } else {
        ServiceKey::Addr {
            protocol: match svc.protocol {
                IPPROTO_UDP => Protocol::Udp,
                IPPROTO_SCTP => Protocol::Sctp,
                _ => Protocol::Tcp,
            },
            addr: svc.addr,
            port: svc.port,
        }
    }
}

/// The prefix length of a contiguous IPv4 mask.
fn mask_to_prefix(mask: u32) -> Option<u8> {
    let ones = mask.leading_ones();
    (ones + mask.trailing_zeros() >= 32).then_some(ones as u8)
}

fn service_spec(svc: &Svc) -> Result<ServiceSpec, CliError> {
    let persistence = if svc.flags & SVC_F_PERSISTENT != 0 {
        let prefix_len = if svc.af == AF_INET6 {
            svc.netmask as u8
        } else {
            mask_to_prefix(svc.netmask).ok_or_else(|| {
                CliError::fail(format!(
                    "non-contiguous persistent mask {} is not supported",
                    Ipv4Addr::from(svc.netmask)
                ))
            })?
        };
        Some(Persistence {
            timeout: svc.timeout,
            prefix_len,
        })
    } else {
        None
    };
    Ok(ServiceSpec {
        key: service_key(svc),
        scheduler: svc.sched_name.clone(),
        flags: svc.flags & (SVC_F_ONEPACKET | SCHED_FLAGS_MASK),
        persistence,
        pe: (!svc.pe_name.is_empty()).then(|| svc.pe_name.clone()),
        proxy_protocol: svc.proxy_protocol,
    })
}

fn dest_spec(d: &Dest) -> DestSpec {
    DestSpec {
        addr: d.addr,
        port: d.port,
        method: match d.fwd {
            Fwd::Masq => Method::Masq,
            Fwd::Tunnel => Method::Tunnel,
            Fwd::Route => Method::Route,
            Fwd::FullNat => Method::FullNat,
        },
        tunnel: Tunnel {
            kind: match d.tun_type {
                1 => TunnelKind::Gue,
                2 => TunnelKind::Gre,
                _ => TunnelKind::Ipip,
            },
            port: d.tun_port,
            csum: match d.tun_flags {
                1 => TunnelCsum::Csum,
                2 => TunnelCsum::RemCsum,
                _ => TunnelCsum::NoCsum,
            },
        },
        weight: d.weight,
        u_threshold: d.u_threshold,
        l_threshold: d.l_threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        assert_eq!(OPT_NAMES.len(), NUMBER_OF_OPT);
        for row in COMMANDS_V_OPTIONS {
            assert!(row.iter().all(|c| b"+x1.".contains(c)));
        }
        assert_eq!(mask_to_prefix(0xffff_ff00), Some(24));
        assert_eq!(mask_to_prefix(0), Some(0));
        assert_eq!(mask_to_prefix(0xffff_ffff), Some(32));
        assert_eq!(mask_to_prefix(0xff00_ff00), None);
        assert_eq!(mask_to_prefix(0x0000_0018), None);
    }
}
