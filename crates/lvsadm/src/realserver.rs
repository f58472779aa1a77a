//! `lvsadm realserver setup|teardown|status`: configure the network namespace it runs in as
//! an LVS real server for direct routing (DR) or IP tunnelling (TUN), the way the LVS
//! how-tos do it by hand, and undo exactly that again.
//!
//! ```text
//! lvsadm realserver setup --vip ADDR [--vip ADDR]... --method dr|tun [--interface IF]...
//!                         [--decap auto|kernel|xdp] [--xdp-mode auto|generic|native|tc]
//! lvsadm realserver teardown
//! lvsadm realserver status
//! ```
//!
//! # What `setup` does
//!
//! 1. `lo` is set up if it is down, and every VIP is added to it as `/32` (IPv4) or `/128`
//!    (IPv6), scope global. A VIP that is already there is fine (and is left there by
//!    `teardown`).
//! 2. ARP suppression, both methods, when at least one VIP is IPv4 (ARP is IPv4 only):
//!    `net.ipv4.conf.{all,lo,IF}.arp_ignore = 1` (answer ARP only for addresses of the
//!    interface the request came in on, so never for the VIPs on `lo`) and
//!    `net.ipv4.conf.{all,lo,IF}.arp_announce = 2` (never use a VIP as the source of ARP
//!    requests), for every selected interface `IF`. The kernel uses the maximum of `all`
//!    and the interface's value; setting both is what the how-tos do and keeps the
//!    intent visible per interface. TUN needs this as well as DR: the VIP is on `lo` in
//!    both, and a real server on the director's segment would otherwise answer ARP for it.
//!
//!    IPv6 needs nothing: the kernel answers a neighbour solicitation only for addresses
//!    of the interface it arrived on (`ndisc_recv_ns` looks the target up strictly on that
//!    device), and `lo` does no neighbour discovery, so a VIP on `lo` is never advertised.
//! 3. TUN only: `net.ipv4.conf.{all,default,IF}.rp_filter = 0` (decapsulated packets come
//!    from clients whose route does not point back at the interface they arrived on), plus
//!    tunnel decapsulation:
//!    * **kernel** (when the kernel has the `ipip` link type and this namespace a `tunl0`:
//!      checked by creating parameterless `ipip`, `sit` and `ip6tnl` links, which also
//!      loads the modules where modules are loadable, and deleting them): the fallback
//!      devices `tunl0`, `sit0` and `ip6tnl0` that exist are set up, with `rp_filter = 0`
//!      on `tunl0` and `sit0`. Untested on the project's machines, whose kernels have no
//!      ipip; `--decap kernel` forces this path, `--decap xdp` the other. The VIPs stay
//!      on `lo` rather than on `tunl0` as in the how-tos: a decapsulated packet is
//!      delivered to any local address, so the effect is the same and one place holds the
//!      VIPs for both methods.
//!    * **xdp** (otherwise, e.g. a kernel without modules): lvs-rs's BPF decapsulator is
//!      loaded, its map `LVS_RS_VIPS` gets the VIPs and `LVS_RS_LOCAL` this host's
//!      addresses at setup time (every address of a non-loopback interface that is not a
//!      VIP: the outer destinations the director may tunnel to), and it is attached to
//!      every selected Ethernet interface: the XDP program `lvs_rs_decap` or its twin at
//!      TC ingress, `lvs_rs_decap_tc` (same maps, same output). An address added later is
//!      not a tunnel endpoint until `teardown` + `setup`.
//!
//!      Where (`--xdp-mode`): `auto` puts `lvs_rs_decap_tc` on virtual interfaces (veth,
//!      bridges, ...: a link kind) and native XDP on physical NICs, with a fallback to TC
//!      ingress. Not generic XDP on veths: generic XDP skips every skb a TC program
//!      redirected (`skb->redirected`), which is how a director's `lvs_tc` on the same
//!      host forwards into a veth, so those tunnel packets would reach the stack still
//!      encapsulated (docs/xdp.md, "Tunnels (TUN) in `lvs_tc`"). `tc`, `generic` and
//!      `native` force one.
//!
//!      Persistence: XDP is attached with the legacy netlink XDP attach (`IFLA_XDP`,
//!      what `ip link set dev IF xdpgeneric ...` does), TC ingress as a direct-action
//!      `cls_bpf` filter on the interface's `clsact` qdisc (added if missing; what `tc
//!      filter add dev IF ingress bpf da ...` does), not through a bpf_link as aya does:
//!      both attachments belong to the interface and last after lvsadm exits, with no
//!      bpffs pin. (A pinned bpf_link would need a bpffs that outlives the command, but
//!      `ip netns exec` runs commands in a private mount namespace with a fresh `/sys`
//!      and no `/sys/fs/bpf`: a pin made there disappears with the command.) The program
//!      keeps its maps alive. XDP is attached with `XDP_FLAGS_UPDATE_IF_NOEXIST`, so an
//!      interface that already has an XDP program is an error, never silently taken
//!      over; the TC filter goes in front of any filters already there.
//!
//! `--interface IF` (repeatable) selects the interfaces; by default every interface that is
//! up, except loopback (and for the XDP decapsulator only Ethernet ones).
//!
//! Every step is recorded; if a later one fails, the recorded ones are undone in reverse
//! order and the command fails: nothing is left half applied. The record is written to
//! `/run/lvs-rs/realserver-<netns inode>.json` (with the namespace's cookie, so a file left
//! by a deleted namespace whose inode number was reused is recognised as stale).
//!
//! Running `setup` again with the same arguments reports that it is already set up (exit
//! 0); with other arguments it fails: `teardown` first.
//!
//! # `teardown`
//!
//! Undoes exactly what the record says, in reverse order: detaches the XDP program (only if
//! the one attached is still the recorded one), removes the TC filter (only if its program
//! is still the recorded one) and the `clsact` qdisc if `setup` added it and nothing else
//! is on it, sets down the tunnel devices it set up,
//! restores every sysctl it changed to its previous value (unless it was changed again
//! since: then it is left, with a warning), removes the VIPs it added and sets `lo` down if
//! it set it up. With nothing set up it says so and exits 0 (teardown is idempotent). A step
//! that fails is reported and kept in the record (exit 1), so `teardown` can be run again.
//!
//! # `status`
//!
//! Prints the record and checks each item against the system: exit 0 if set up and intact,
//! 3 if set up but something changed since, 1 if nothing is set up.
//!
//! Exit statuses otherwise: 0 success, 1 failure, 2 command-line error.

pub use lvs_netlink as netlink;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};

use self::netlink::{ARPHRD_ETHER, Link, Netlink, NlError, XdpMode};

/// Where the records of what `setup` did are kept.
pub const STATE_DIR: &str = "/run/lvs-rs";
/// Version of the record format.
const STATE_VERSION: u32 = 1;
/// Name of the XDP decapsulation program (as the kernel reports it).
pub const DECAP_PROGRAM: &str = "lvs_rs_decap";
/// Name of the TC ingress decapsulation program (as the kernel reports it, and the name
/// of its `cls_bpf` filter).
pub const DECAP_TC_PROGRAM: &str = "lvs_rs_decap_tc";
/// Name of the short-lived link that probes for a tunnel link type.
const LINK_PROBE: &str = "lvsrs-probe";
/// The kernel's fallback tunnel devices, with whether they take `rp_filter` (IPv4 outer).
const KERNEL_TUNNELS: [(&str, bool); 3] = [("tunl0", true), ("sit0", true), ("ip6tnl0", false)];

/// Usage text of `lvsadm realserver`.
pub const USAGE: &str = "\
Usage:
  lvsadm realserver setup --vip ADDR [--vip ADDR]... --method dr|tun [--interface IF]...
                          [--decap auto|kernel|xdp] [--xdp-mode auto|generic|native|tc]
  lvsadm realserver teardown
  lvsadm realserver status

Configures this network namespace as an LVS real server: the VIPs on lo, ARP
suppression (arp_ignore=1, arp_announce=2 on all, lo and the interfaces), and for
tunnelling rp_filter=0 (all, default, the interfaces) and IPIP decapsulation (the
kernel's tunl0/ip6tnl0, or lvs-rs's BPF decapsulator where the kernel has no ipip:
--xdp-mode auto = TC ingress on virtual interfaces, native XDP (else TC) on NICs).
Interfaces: every up non-loopback interface unless --interface is given.
teardown undoes exactly what setup did; status shows it (exit 0 intact, 3 changed,
1 not set up). The record is in /run/lvs-rs/realserver-<netns inode>.json.
";

// ---- Command line ------------------------------------------------------------------------------

/// The forwarding method the director uses towards this real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Direct routing (`ipvsadm -g`).
    Dr,
    /// IP tunnelling (`ipvsadm -i`).
    Tun,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Dr => "dr",
            Method::Tun => "tun",
        })
    }
}

/// Which tunnel decapsulation to use (`--decap`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecapChoice {
    /// The kernel's if it has the `ipip` link type, else XDP.
    #[default]
    Auto,
    /// The kernel's `tunl0`/`sit0`/`ip6tnl0`; fails without the `ipip` link type.
    Kernel,
    /// lvs-rs's XDP decapsulator, even where the kernel could do it.
    Xdp,
}

/// Where the BPF decapsulator goes (`--xdp-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XdpModeChoice {
    /// TC ingress on virtual interfaces, native XDP with a fallback to TC ingress on
    /// physical ones.
    #[default]
    Auto,
    /// Generic (SKB) XDP.
    Generic,
    /// Native (driver) XDP.
    Native,
    /// TC ingress (`lvs_rs_decap_tc`, a `cls_bpf` filter on a `clsact` qdisc).
    Tc,
}

/// What `setup` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupRequest {
    /// Virtual addresses (deduplicated, in the order given).
    pub vips: Vec<IpAddr>,
    /// Forwarding method.
    pub method: Method,
    /// `--interface` values; empty = every up non-loopback interface.
    pub interfaces: Vec<String>,
    /// Tunnel decapsulation (TUN).
    pub decap: DecapChoice,
    /// XDP attach mode (TUN with the XDP decapsulator).
    pub xdp_mode: XdpModeChoice,
}

/// A parsed `lvsadm realserver ...` command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `setup`.
    Setup(SetupRequest),
    /// `teardown`.
    Teardown,
    /// `status`.
    Status,
    /// `--help`.
    Help,
}

fn is_help(a: &str) -> bool {
    matches!(a, "-h" | "--help" | "help")
}

/// Parse the arguments after `realserver`. Errors are one-line messages (exit status 2).
pub fn parse_args(args: &[String]) -> Result<Action, String> {
    let Some(sub) = args.first() else {
        return Err("a subcommand is required: setup, teardown or status".into());
    };
    let rest = &args[1..];
    if rest.iter().any(|a| is_help(a)) {
        return Ok(Action::Help);
    }
    match sub.as_str() {
        s if is_help(s) => Ok(Action::Help),
        "teardown" | "status" => {
            if let Some(a) = rest.first() {
                return Err(format!("{sub} takes no arguments (got `{a}`)"));
            }
            Ok(if sub == "teardown" {
                Action::Teardown
            } else {
                Action::Status
            })
        }
        "setup" => parse_setup(rest).map(Action::Setup),
        other => Err(format!(
            "unknown subcommand `{other}` (setup, teardown or status)"
        )),
    }
}

fn parse_setup(args: &[String]) -> Result<SetupRequest, String> {
    let mut vips: Vec<IpAddr> = Vec::new();
    let mut method = None;
    let mut interfaces: Vec<String> = Vec::new();
    let mut decap = None;
    let mut xdp_mode = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (opt, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let known = ["--vip", "--method", "--interface", "--decap", "--xdp-mode"];
        if !known.contains(&opt) {
            return Err(format!("unknown option `{arg}`"));
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("option {opt} needs a value"))?,
        };
        match opt {
            "--vip" => {
                for v in value.split(',').filter(|v| !v.is_empty()) {
                    let a = parse_vip(v)?;
                    if !vips.contains(&a) {
                        vips.push(a);
                    }
                }
            }
            "--method" => {
                let m = match value.as_str() {
                    "dr" | "droute" | "route" | "gatewaying" | "g" => Method::Dr,
                    "tun" | "tunnel" | "ipip" | "i" => Method::Tun,
                    _ => return Err(format!("invalid method `{value}` (dr or tun)")),
                };
                if method.replace(m).is_some_and(|old| old != m) {
                    return Err("--method given twice with different values".into());
                }
            }
            "--interface" => {
                for v in value.split(',').filter(|v| !v.is_empty()) {
                    if v == "lo" {
                        return Err("--interface lo: the VIPs go on lo anyway; name the \
                                    interfaces that receive the traffic"
                            .into());
                    }
                    if v.len() > 15 || v.contains('/') || v.contains(char::is_whitespace) {
                        return Err(format!("invalid interface name `{v}`"));
                    }
                    if !interfaces.iter().any(|i| i == v) {
                        interfaces.push(v.to_string());
                    }
                }
            }
            "--decap" => {
                decap = Some(match value.as_str() {
                    "auto" => DecapChoice::Auto,
                    "kernel" => DecapChoice::Kernel,
                    "xdp" => DecapChoice::Xdp,
                    _ => return Err(format!("invalid --decap `{value}` (auto, kernel or xdp)")),
                })
            }
            "--xdp-mode" => {
                xdp_mode = Some(match value.as_str() {
                    "auto" => XdpModeChoice::Auto,
                    "generic" | "skb" => XdpModeChoice::Generic,
                    "native" | "drv" | "driver" => XdpModeChoice::Native,
                    "tc" => XdpModeChoice::Tc,
                    _ => {
                        return Err(format!(
                            "invalid --xdp-mode `{value}` (auto, generic, native or tc)"
                        ));
                    }
                })
            }
            _ => unreachable!("checked against the known options"),
        }
    }
    let method = method.ok_or("--method dr|tun is required")?;
    if vips.is_empty() {
        return Err("at least one --vip is required".into());
    }
    if method == Method::Dr && (decap.is_some() || xdp_mode.is_some()) {
        return Err("--decap and --xdp-mode apply to --method tun only".into());
    }
    if decap == Some(DecapChoice::Kernel) && xdp_mode.is_some() {
        return Err("--xdp-mode does not apply to --decap kernel".into());
    }
    Ok(SetupRequest {
        vips,
        method,
        interfaces,
        decap: decap.unwrap_or_default(),
        xdp_mode: xdp_mode.unwrap_or_default(),
    })
}

fn parse_vip(s: &str) -> Result<IpAddr, String> {
    let a: IpAddr = s
        .parse()
        .map_err(|_| format!("invalid VIP `{s}` (an IPv4 or IPv6 address, no prefix)"))?;
    let bad = match a {
        IpAddr::V4(v) => {
            v.is_unspecified() || v.is_loopback() || v.is_multicast() || v.is_broadcast()
        }
        IpAddr::V6(v) => v.is_unspecified() || v.is_loopback() || v.is_multicast(),
    };
    if bad {
        return Err(format!("invalid VIP `{s}`: not a unicast address"));
    }
    Ok(a)
}

// ---- Plan (pure) -------------------------------------------------------------------------------

/// The host prefix length of `addr`: 32 or 128.
pub fn host_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// The interfaces `req` applies to: the `--interface` ones (which must exist), else every
/// up non-loopback interface.
pub fn select_interfaces(req: &SetupRequest, links: &[Link]) -> anyhow::Result<Vec<Link>> {
    if req.interfaces.is_empty() {
        let v: Vec<Link> = links
            .iter()
            .filter(|l| l.is_up() && !l.is_loopback())
            .cloned()
            .collect();
        if v.is_empty() && req.method == Method::Tun {
            bail!("no interface is up apart from lo: bring one up or name it with --interface");
        }
        return Ok(v);
    }
    req.interfaces
        .iter()
        .map(|name| {
            let l = links
                .iter()
                .find(|l| &l.name == name)
                .with_context(|| format!("interface `{name}` does not exist"))?;
            if l.is_loopback() {
                bail!("interface `{name}` is a loopback device");
            }
            Ok(l.clone())
        })
        .collect()
}

/// The interfaces the XDP decapsulator goes on: the Ethernet ones among `selected` (an
/// explicitly named interface that is not Ethernet is an error).
pub fn xdp_interfaces(req: &SetupRequest, selected: &[Link]) -> anyhow::Result<Vec<Link>> {
    if let Some(l) = selected.iter().find(|l| l.link_type != ARPHRD_ETHER)
        && !req.interfaces.is_empty()
    {
        bail!(
            "interface `{}` is not an Ethernet interface (link type {}): the XDP \
             decapsulator parses Ethernet frames",
            l.name,
            l.link_type
        );
    }
    let v: Vec<Link> = selected
        .iter()
        .filter(|l| l.link_type == ARPHRD_ETHER)
        .cloned()
        .collect();
    if v.is_empty() {
        bail!("no Ethernet interface to attach the XDP decapsulator to (use --interface)");
    }
    Ok(v)
}

/// The sysctls `setup` sets, in order: `(path under /proc/sys, value)`.
/// `tunnel_devices` are the kernel tunnel devices that take `rp_filter` (kernel decap).
pub fn sysctl_plan(
    req: &SetupRequest,
    interfaces: &[String],
    tunnel_devices: &[String],
) -> Vec<(String, &'static str)> {
    let conf = |dev: &str, key: &str| format!("net/ipv4/conf/{dev}/{key}");
    let mut v = Vec::new();
    if req.vips.iter().any(IpAddr::is_ipv4) {
        let mut devs = vec!["all", "lo"];
        devs.extend(interfaces.iter().map(String::as_str));
        for d in devs {
            v.push((conf(d, "arp_ignore"), "1"));
            v.push((conf(d, "arp_announce"), "2"));
        }
    }
    if req.method == Method::Tun {
        let mut devs = vec!["all", "default"];
        devs.extend(interfaces.iter().map(String::as_str));
        devs.extend(tunnel_devices.iter().map(String::as_str));
        let mut seen = BTreeSet::new();
        for d in devs {
            if seen.insert(d) {
                v.push((conf(d, "rp_filter"), "0"));
            }
        }
    }
    v
}

/// The addresses the director may tunnel to: every address of a non-loopback interface
/// that is not a VIP (deduplicated, sorted).
pub fn tunnel_endpoints(
    links: &[Link],
    addrs: &[netlink::Address],
    vips: &[IpAddr],
) -> Vec<IpAddr> {
    let set: BTreeSet<IpAddr> = addrs
        .iter()
        .filter(|a| links.iter().any(|l| l.index == a.index && !l.is_loopback()))
        .map(|a| a.addr)
        .filter(|a| !a.is_loopback() && !vips.contains(a))
        .collect();
    set.into_iter().collect()
}

/// The dotted form of a sysctl path (`net/ipv4/conf/eth0/arp_ignore` ->
/// `net.ipv4.conf.eth0.arp_ignore`), for messages.
pub fn sysctl_name(path: &str) -> String {
    path.replace('/', ".")
}

// ---- The record --------------------------------------------------------------------------------

/// A VIP on `lo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipRecord {
    /// The address (on `lo` as /32 or /128).
    pub addr: IpAddr,
    /// Whether `setup` added it (else it was there already and `teardown` leaves it).
    pub added: bool,
}

/// A sysctl `setup` changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysctlRecord {
    /// Path under `/proc/sys`, e.g. `net/ipv4/conf/all/arp_ignore`.
    pub path: String,
    /// The value before.
    pub old: String,
    /// The value `setup` wrote.
    pub new: String,
}

/// One attachment of the XDP decapsulator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdpRecord {
    /// Interface name.
    pub ifname: String,
    /// Interface index at setup time.
    pub ifindex: u32,
    /// Attach mode.
    pub mode: XdpMode,
    /// Id of the program attached.
    pub prog_id: u32,
}

/// One attachment of the TC decapsulator `lvs_rs_decap_tc` (a `cls_bpf` filter at the
/// ingress of the interface's `clsact` qdisc).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcRecord {
    /// Interface name.
    pub ifname: String,
    /// Interface index at setup time.
    pub ifindex: u32,
    /// Id of the program attached.
    pub prog_id: u32,
    /// The filter's priority.
    pub prio: u16,
    /// The filter's handle.
    pub handle: u32,
    /// Whether `setup` added the `clsact` qdisc (then `teardown` removes it if nothing
    /// else is left on it).
    pub clsact_added: bool,
}

/// The tunnel decapsulation `setup` put in place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum DecapRecord {
    /// The kernel's fallback tunnel devices.
    Kernel {
        /// The devices used (present at setup time).
        devices: Vec<String>,
        /// Those that were down and were set up.
        set_up: Vec<String>,
    },
    /// lvs-rs's BPF decapsulator (XDP and/or TC ingress).
    Xdp {
        /// Its XDP attachments.
        attached: Vec<XdpRecord>,
        /// Its TC ingress attachments (records of older versions have none).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tc: Vec<TcRecord>,
        /// The VIPs in `LVS_RS_VIPS`.
        vips: Vec<IpAddr>,
        /// The tunnel endpoints in `LVS_RS_LOCAL`.
        locals: Vec<IpAddr>,
    },
}

/// Everything `setup` did in one network namespace, for `teardown` and `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Record format version.
    pub version: u32,
    /// Inode number of the network namespace (`/proc/self/ns/net`).
    pub netns_inode: u64,
    /// Cookie of the network namespace (`SO_NETNS_COOKIE`).
    pub netns_cookie: u64,
    /// The request.
    pub request: SetupRequest,
    /// The interfaces it applied to.
    pub interfaces: Vec<String>,
    /// Whether `lo` was down and `setup` set it up.
    pub lo_set_up: bool,
    /// The VIPs.
    pub vips: Vec<VipRecord>,
    /// The sysctls changed (one that already had the value is not listed).
    pub sysctls: Vec<SysctlRecord>,
    /// Tunnel decapsulation (TUN).
    pub decap: Option<DecapRecord>,
}

impl State {
    /// The record's file for network namespace `inode`.
    pub fn path(inode: u64) -> PathBuf {
        Path::new(STATE_DIR).join(format!("realserver-{inode}.json"))
    }

    fn load(path: &Path) -> anyhow::Result<Option<State>> {
        match std::fs::read(path) {
            Ok(b) => {
                let s: State = serde_json::from_slice(&b)
                    .with_context(|| format!("reading {}", path.display()))?;
                if s.version != STATE_VERSION {
                    bail!(
                        "{}: record version {} (this lvsadm knows {STATE_VERSION})",
                        path.display(),
                        s.version
                    );
                }
                Ok(Some(s))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Write atomically (temporary file + rename).
    fn save(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("json.tmp");
        let mut body = serde_json::to_vec_pretty(self).context("encoding the record")?;
        body.push(b'\n');
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().with_context(|| format!("writing {}", path.display()))
    }

    /// Nothing left to undo.
    fn is_empty(&self) -> bool {
        !self.lo_set_up
            && self.vips.iter().all(|v| !v.added)
            && self.sysctls.is_empty()
            && self.decap.is_none()
    }
}

// ---- System access -----------------------------------------------------------------------------

fn sysctl_file(path: &str) -> PathBuf {
    Path::new("/proc/sys").join(path)
}

fn read_sysctl(path: &str) -> anyhow::Result<String> {
    let f = sysctl_file(path);
    std::fs::read_to_string(&f)
        .map(|s| s.trim().to_string())
        .with_context(|| format!("reading sysctl {}", sysctl_name(path)))
}

fn write_sysctl(path: &str, value: &str) -> anyhow::Result<()> {
    let f = sysctl_file(path);
    std::fs::write(&f, format!("{value}\n"))
        .with_context(|| format!("setting sysctl {} = {value}", sysctl_name(path)))
}

/// Inode number of this process's network namespace.
fn netns_inode() -> anyhow::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self/ns/net")
        .context("stat /proc/self/ns/net")?
        .ino())
}

fn nl_context(e: NlError, what: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{what}: {e}")
}

/// A held lock on the record directory (released on drop): one `setup` or `teardown` at
/// a time on this host. A lock on the directory itself leaves no lock files behind.
struct Lock(#[allow(dead_code)] File);

fn lock() -> anyhow::Result<Lock> {
    std::fs::create_dir_all(STATE_DIR).with_context(|| format!("creating {STATE_DIR}"))?;
    let f = File::open(STATE_DIR).with_context(|| format!("opening {STATE_DIR}"))?;
    f.lock().with_context(|| format!("locking {STATE_DIR}"))?;
    Ok(Lock(f))
}

/// The namespace identity, the netlink socket and the messages to print.
struct Ctx {
    nl: Netlink,
    inode: u64,
    cookie: u64,
    log: Vec<String>,
}

impl Ctx {
    fn new() -> anyhow::Result<Ctx> {
        let nl = Netlink::open().context("opening a netlink socket")?;
        let cookie = nl.netns_cookie().context("getsockopt SO_NETNS_COOKIE")?;
        Ok(Ctx {
            nl,
            inode: netns_inode()?,
            cookie,
            log: Vec::new(),
        })
    }

    fn note(&mut self, s: impl Into<String>) {
        self.log.push(s.into());
    }

    fn links(&mut self) -> anyhow::Result<Vec<Link>> {
        self.nl
            .links()
            .map_err(|e| nl_context(e, "listing interfaces"))
    }

    fn lo(&mut self) -> anyhow::Result<Link> {
        self.links()?
            .into_iter()
            .find(Link::is_loopback)
            .context("this network namespace has no loopback device")
    }

    /// The record of this namespace, with a stale one (from a deleted namespace with the
    /// same inode number) removed.
    fn load_state(&mut self) -> anyhow::Result<Option<State>> {
        let path = State::path(self.inode);
        match State::load(&path)? {
            Some(s) if s.netns_cookie != self.cookie => {
                eprintln!(
                    "lvsadm: realserver: removing {}: it was left by a network namespace \
                     that no longer exists",
                    path.display()
                );
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
                Ok(None)
            }
            s => Ok(s),
        }
    }
}

// ---- XDP decapsulator --------------------------------------------------------------------------

#[cfg(feature = "xdp-decap")]
mod xdp {
    //! Loading `lvs_rs_decap` (lvs-dataplane, built with clang-19).
    use std::net::IpAddr;
    use std::os::fd::{AsRawFd, RawFd};

    use anyhow::Context;

    /// The loaded program with its maps filled in.
    pub(super) struct Loaded(lvs_dataplane::RsDecap);

    impl Loaded {
        pub(super) fn raw_fd(&self) -> anyhow::Result<RawFd> {
            Ok(self
                .0
                .program_fd()
                .context("lvs_rs_decap's file descriptor")?
                .as_raw_fd())
        }

        /// The TC program `lvs_rs_decap_tc`: file descriptor and kernel id.
        pub(super) fn tc(&self) -> anyhow::Result<(RawFd, u32)> {
            let fd = self
                .0
                .tc_program_fd()
                .context("lvs_rs_decap_tc's file descriptor")?
                .as_raw_fd();
            let id = self
                .0
                .tc_program_id()
                .context("lvs_rs_decap_tc's program id")?;
            Ok((fd, id))
        }
    }

    pub(super) fn available() -> anyhow::Result<()> {
        Ok(())
    }

    pub(super) fn load(vips: &[IpAddr], locals: &[IpAddr]) -> anyhow::Result<Loaded> {
        let mut d = lvs_dataplane::RsDecap::load().context("loading lvs_rs_decap")?;
        for v in vips {
            d.add_vip(*v)
                .with_context(|| format!("adding VIP {v} to LVS_RS_VIPS"))?;
        }
        for a in locals {
            d.add_local(*a)
                .with_context(|| format!("adding {a} to LVS_RS_LOCAL"))?;
        }
        Ok(Loaded(d))
    }
}

#[cfg(not(feature = "xdp-decap"))]
mod xdp {
    //! This build has no XDP decapsulator.
    use std::net::IpAddr;
    use std::os::fd::RawFd;

    /// Never constructed.
    pub(super) enum Loaded {}

    impl Loaded {
        pub(super) fn raw_fd(&self) -> anyhow::Result<RawFd> {
            match *self {}
        }

        pub(super) fn tc(&self) -> anyhow::Result<(RawFd, u32)> {
            match *self {}
        }
    }

    pub(super) fn available() -> anyhow::Result<()> {
        anyhow::bail!(
            "tunnel decapsulation needs lvs-rs's XDP decapsulator here (no ipip link type, \
             or --decap xdp), and this lvsadm was built without it: rebuild with \
             `cargo build -p lvsadm --features xdp-decap` (needs clang-19)"
        )
    }

    pub(super) fn load(_vips: &[IpAddr], _locals: &[IpAddr]) -> anyhow::Result<Loaded> {
        available().map(|()| unreachable!())
    }
}

/// Whether this build contains the XDP decapsulator.
pub const HAS_XDP_DECAP: bool = cfg!(feature = "xdp-decap");

// ---- setup -------------------------------------------------------------------------------------

fn setup(req: &SetupRequest) -> anyhow::Result<u8> {
    let mut ctx = Ctx::new()?;
    let _lock = lock()?;
    if let Some(old) = ctx.load_state()? {
        if &old.request == req {
            println!(
                "realserver already set up (method {}) in network namespace {}; \
                 `lvsadm realserver status` shows it",
                old.request.method, ctx.inode
            );
            return Ok(0);
        }
        bail!(
            "this network namespace is already set up with other settings (method {}, VIPs \
             {}): run `lvsadm realserver teardown` first",
            old.request.method,
            join(&old.request.vips)
        );
    }
    let mut st = State {
        version: STATE_VERSION,
        netns_inode: ctx.inode,
        netns_cookie: ctx.cookie,
        request: req.clone(),
        interfaces: Vec::new(),
        lo_set_up: false,
        vips: Vec::new(),
        sysctls: Vec::new(),
        decap: None,
    };
    let path = State::path(ctx.inode);
    let result = apply(&mut ctx, req, &mut st).and_then(|()| st.save(&path));
    if let Err(e) = result {
        if st.is_empty() {
            return Err(e.context("realserver setup failed (nothing was changed)"));
        }
        let mut undone = Vec::new();
        let errors = undo(&mut ctx.nl, &mut st, &mut undone);
        let _ = std::fs::remove_file(path.with_extension("json.tmp"));
        if errors.is_empty() {
            return Err(e.context("realserver setup failed; everything it did was undone"));
        }
        let mut msg = format!("{e:#}\nrolling back failed too:");
        for r in &errors {
            msg.push_str(&format!("\n  {r:#}"));
        }
        if st.is_empty() {
            bail!("realserver setup failed: {msg}");
        }
        // Keep what could not be undone, so `teardown` can try again.
        let kept = st.save(&path).is_ok();
        bail!(
            "realserver setup failed: {msg}{}",
            if kept {
                format!(
                    "\nwhat is left is recorded in {}: run `lvsadm realserver teardown`",
                    path.display()
                )
            } else {
                String::new()
            }
        );
    }
    for l in &ctx.log {
        println!("{l}");
    }
    let decap = decap_summary(st.decap.as_ref());
    println!(
        "realserver set up (method {}{decap}) in network namespace {}; record in {}",
        req.method,
        ctx.inode,
        path.display()
    );
    Ok(0)
}

/// `, decapsulation: kernel|xdp|tc|xdp+tc` for the summary line of `setup` and `status`.
fn decap_summary(d: Option<&DecapRecord>) -> &'static str {
    match d {
        Some(DecapRecord::Kernel { .. }) => ", decapsulation: kernel",
        Some(DecapRecord::Xdp { attached, tc, .. }) => match (attached.is_empty(), tc.is_empty()) {
            (false, false) => ", decapsulation: xdp+tc",
            (true, false) => ", decapsulation: tc",
            _ => ", decapsulation: xdp",
        },
        None => "",
    }
}

fn join<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Carry out `req`, recording every step in `st` as soon as it is done.
fn apply(ctx: &mut Ctx, req: &SetupRequest, st: &mut State) -> anyhow::Result<()> {
    let links = ctx.links()?;
    let selected = select_interfaces(req, &links)?;
    st.interfaces = selected.iter().map(|l| l.name.clone()).collect();

    // Tunnel decapsulation: decide first (it decides on tunnel devices' sysctls), act last.
    // The kernel's when it has the ipip link type and a fallback tunnel device here.
    let kernel_ok = |ctx: &mut Ctx| -> anyhow::Result<bool> {
        if !probe_link_kind(ctx, "ipip")? {
            return Ok(false);
        }
        // Best effort: load the IPv6 tunnel modules too, which create sit0 and ip6tnl0.
        for kind in ["sit", "ip6tnl"] {
            let _ = probe_link_kind(ctx, kind);
        }
        let links = ctx.links()?;
        Ok(links.iter().any(|l| l.name == KERNEL_TUNNELS[0].0))
    };
    let use_kernel = match (req.method, req.decap) {
        (Method::Dr, _) => None,
        (Method::Tun, DecapChoice::Xdp) => Some(false),
        (Method::Tun, DecapChoice::Kernel) => {
            if !kernel_ok(ctx)? {
                bail!(
                    "--decap kernel: this kernel has no ipip link type, or no tunl0 device in \
                     this namespace (net.core.fb_tunnels_only_for_init_net?)"
                );
            }
            Some(true)
        }
        (Method::Tun, DecapChoice::Auto) => Some(kernel_ok(ctx)?),
    };
    let xdp_links = if use_kernel == Some(false) {
        xdp::available()?;
        xdp_interfaces(req, &selected)?
    } else {
        Vec::new()
    };
    // Re-read: the probes may have loaded modules, which create the fallback devices.
    let links = ctx.links()?;
    let tunnels: Vec<(&str, bool)> = if use_kernel == Some(true) {
        KERNEL_TUNNELS
            .iter()
            .copied()
            .filter(|(n, _)| links.iter().any(|l| l.name == *n))
            .collect()
    } else {
        Vec::new()
    };

    // 1. lo up, VIPs on lo.
    let lo = links
        .iter()
        .find(|l| l.is_loopback())
        .cloned()
        .context("this network namespace has no loopback device")?;
    if !lo.is_up() {
        ctx.nl
            .set_up(lo.index, true)
            .map_err(|e| nl_context(e, "setting lo up"))?;
        st.lo_set_up = true;
        ctx.note("lo: set up");
    }
    for &vip in &req.vips {
        let plen = host_prefix(vip);
        match ctx.nl.add_address(lo.index, vip, plen) {
            Ok(()) => {
                st.vips.push(VipRecord {
                    addr: vip,
                    added: true,
                });
                ctx.note(format!("lo: added {vip}/{plen}"));
            }
            Err(NlError::Kernel(libc::EEXIST)) => {
                st.vips.push(VipRecord {
                    addr: vip,
                    added: false,
                });
                ctx.note(format!("lo: {vip}/{plen} was already there"));
            }
            Err(e) => return Err(nl_context(e, format!("adding {vip}/{plen} to lo"))),
        }
    }

    // 2./3. sysctls.
    let rp_tunnels: Vec<String> = tunnels
        .iter()
        .filter(|(_, rp)| *rp)
        .map(|(n, _)| n.to_string())
        .collect();
    for (path, value) in sysctl_plan(req, &st.interfaces, &rp_tunnels) {
        let old = read_sysctl(&path)?;
        if old == value {
            continue;
        }
        write_sysctl(&path, value)?;
        st.sysctls.push(SysctlRecord {
            path: path.clone(),
            old: old.clone(),
            new: value.to_string(),
        });
        ctx.note(format!("sysctl {}: {old} -> {value}", sysctl_name(&path)));
    }

    // 3. decapsulation.
    match use_kernel {
        None => {}
        Some(true) => {
            let mut set_up = Vec::new();
            let devices: Vec<String> = tunnels.iter().map(|(n, _)| n.to_string()).collect();
            st.decap = Some(DecapRecord::Kernel {
                devices: devices.clone(),
                set_up: Vec::new(),
            });
            for name in &devices {
                let l = links
                    .iter()
                    .find(|l| &l.name == name)
                    .expect("filtered above");
                if !l.is_up() {
                    ctx.nl
                        .set_up(l.index, true)
                        .map_err(|e| nl_context(e, format!("setting {name} up")))?;
                    set_up.push(name.clone());
                    st.decap = Some(DecapRecord::Kernel {
                        devices: devices.clone(),
                        set_up: set_up.clone(),
                    });
                    ctx.note(format!("{name}: set up (kernel IPIP decapsulation)"));
                } else {
                    ctx.note(format!("{name}: already up (kernel IPIP decapsulation)"));
                }
            }
            if req.vips.iter().any(IpAddr::is_ipv6) && !devices.iter().any(|d| d == "ip6tnl0") {
                eprintln!(
                    "lvsadm: realserver: warning: no ip6tnl0 device: IPv6 tunnels from an \
                     IPv6 director will not be decapsulated"
                );
            }
        }
        Some(false) => attach_decap(ctx, req, st, &links, &xdp_links)?,
    }
    Ok(())
}

/// Whether the kernel has the link type `kind` (`ipip`, `sit`, `ip6tnl`): create a
/// parameterless probe link (which also loads the module where modules can be loaded, and
/// the module creates its fallback device) and delete it again.
fn probe_link_kind(ctx: &mut Ctx, kind: &str) -> anyhow::Result<bool> {
    match ctx.nl.create_link(LINK_PROBE, kind) {
        Ok(()) => {
            let idx = ctx
                .nl
                .link_by_name(LINK_PROBE)
                .map_err(|e| nl_context(e, "listing interfaces"))?
                .map(|l| l.index);
            if let Some(idx) = idx {
                ctx.nl
                    .delete_link(idx)
                    .map_err(|e| nl_context(e, format!("deleting the probe link {LINK_PROBE}")))?;
            }
            Ok(true)
        }
        // A parameterless tunnel duplicates the fallback device's (all-zero) parameters.
        Err(NlError::Kernel(libc::EEXIST)) => Ok(true),
        // "Unknown device type".
        Err(NlError::Kernel(libc::EOPNOTSUPP)) => Ok(false),
        Err(e) => Err(nl_context(e, format!("probing for the {kind} link type"))),
    }
}

/// How the BPF decapsulator goes on one interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    /// XDP in these modes, tried in order, and TC ingress if all of them fail.
    Xdp(&'static [XdpMode], bool),
    /// TC ingress.
    Tc,
}

/// Where `--xdp-mode` puts the decapsulator on `l`. Auto: TC ingress on virtual interfaces
/// (generic XDP skips the skbs a TC program redirected to them, which is how a director's
/// `lvs_tc` on the same host forwards into a veth), native XDP with a fallback to TC
/// ingress on physical ones.
fn placement(choice: XdpModeChoice, l: &Link) -> Placement {
    match choice {
        XdpModeChoice::Generic => Placement::Xdp(&[XdpMode::Generic], false),
        XdpModeChoice::Native => Placement::Xdp(&[XdpMode::Native], false),
        XdpModeChoice::Tc => Placement::Tc,
        XdpModeChoice::Auto if l.kind.is_some() => Placement::Tc,
        XdpModeChoice::Auto => Placement::Xdp(&[XdpMode::Native], true),
    }
}

fn attach_decap(
    ctx: &mut Ctx,
    req: &SetupRequest,
    st: &mut State,
    links: &[Link],
    targets: &[Link],
) -> anyhow::Result<()> {
    // Refuse before loading anything if an interface that gets XDP has an XDP program
    // already.
    for l in targets {
        if matches!(placement(req.xdp_mode, l), Placement::Xdp(..))
            && let Some((id, _)) = l.xdp.any()
        {
            bail!(
                "interface {} already has an XDP program (id {id}); lvsadm does not replace \
                 it: choose other interfaces with --interface, or remove it",
                l.name
            );
        }
    }
    let addrs = ctx
        .nl
        .addresses()
        .map_err(|e| nl_context(e, "listing addresses"))?;
    let locals = tunnel_endpoints(links, &addrs, &req.vips);
    if locals.is_empty() {
        bail!("no address on any interface but lo: the director has nothing to tunnel to");
    }
    let prog = xdp::load(&req.vips, &locals)?;
    let fd = prog.raw_fd()?;
    let mut attached = Vec::new();
    let mut tc = Vec::new();
    let record = |attached: &Vec<XdpRecord>, tc: &Vec<TcRecord>| DecapRecord::Xdp {
        attached: attached.clone(),
        tc: tc.clone(),
        vips: req.vips.clone(),
        locals: locals.clone(),
    };
    st.decap = Some(record(&attached, &tc));
    for l in targets {
        let (modes, tc_fallback) = match placement(req.xdp_mode, l) {
            Placement::Tc => (&[][..], true),
            Placement::Xdp(m, f) => (m, f),
        };
        let mut last_err = None;
        let mut done = None;
        for &mode in modes {
            match ctx.nl.attach_xdp(l.index, fd, mode) {
                Ok(()) => {
                    done = Some(mode);
                    break;
                }
                Err(e) => {
                    if tc_fallback {
                        eprintln!(
                            "lvsadm: realserver: {mode} XDP on {} failed ({e}); using TC \
                             ingress",
                            l.name
                        );
                    }
                    last_err = Some((mode, e));
                }
            }
        }
        let Some(mode) = done else {
            if tc_fallback {
                attach_decap_tc(ctx, &prog, l, &mut tc)
                    .inspect_err(|_| st.decap = Some(record(&attached, &tc)))?;
                st.decap = Some(record(&attached, &tc));
                continue;
            }
            let (mode, e) = last_err.expect("at least one mode tried");
            let hint = match e.errno() {
                Some(libc::EBUSY) | Some(libc::EEXIST) => {
                    " (another XDP program is attached to it)"
                }
                Some(libc::EOPNOTSUPP) => {
                    " (the driver has no native XDP: try --xdp-mode tc or generic)"
                }
                _ => "",
            };
            bail!(
                "attaching {DECAP_PROGRAM} to {} in {mode} mode: {e}{hint}",
                l.name
            );
        };
        let now = ctx
            .nl
            .link_by_name(&l.name)
            .map_err(|e| nl_context(e, "listing interfaces"))?;
        let prog_id = now.and_then(|n| n.xdp.prog(mode)).with_context(|| {
            format!(
                "{DECAP_PROGRAM} attached to {} but the kernel reports no program there",
                l.name
            )
        });
        let prog_id = match prog_id {
            Ok(id) => id,
            Err(e) => {
                // Record it anyway (id 0 = unknown) so the rollback detaches it.
                attached.push(XdpRecord {
                    ifname: l.name.clone(),
                    ifindex: l.index,
                    mode,
                    prog_id: 0,
                });
                st.decap = Some(record(&attached, &tc));
                return Err(e);
            }
        };
        attached.push(XdpRecord {
            ifname: l.name.clone(),
            ifindex: l.index,
            mode,
            prog_id,
        });
        st.decap = Some(record(&attached, &tc));
        ctx.note(format!(
            "{}: {DECAP_PROGRAM} attached ({mode} XDP, program id {prog_id})",
            l.name
        ));
    }
    ctx.note(format!(
        "{DECAP_PROGRAM}: decapsulates IPIP to {} sent to {}",
        join(&req.vips),
        join(&locals)
    ));
    Ok(())
}

/// Attach `lvs_rs_decap_tc` to `l`'s TC ingress: the `clsact` qdisc (added if missing),
/// then the filter. What is done is pushed to `tc` (a qdisc added but no filter: the
/// record has filter handle 0, and the rollback removes the qdisc).
fn attach_decap_tc(
    ctx: &mut Ctx,
    prog: &xdp::Loaded,
    l: &Link,
    tc: &mut Vec<TcRecord>,
) -> anyhow::Result<()> {
    let (fd, prog_id) = prog.tc()?;
    let clsact_added = match ctx.nl.add_clsact(l.index) {
        Ok(()) => true,
        Err(NlError::Kernel(libc::EEXIST)) => false,
        Err(e) => {
            return Err(nl_context(
                e,
                format!("adding a clsact qdisc to {}", l.name),
            ));
        }
    };
    let mut rec = TcRecord {
        ifname: l.name.clone(),
        ifindex: l.index,
        prog_id,
        prio: 0,
        handle: 0,
        clsact_added,
    };
    match ctx
        .nl
        .add_ingress_bpf(l.index, fd, prog_id, DECAP_TC_PROGRAM)
    {
        Ok(f) => {
            rec.prio = f.prio;
            rec.handle = f.handle;
            tc.push(rec);
        }
        Err(e) => {
            if clsact_added {
                tc.push(rec);
            }
            return Err(nl_context(
                e,
                format!(
                    "attaching {DECAP_TC_PROGRAM} to the TC ingress of {}",
                    l.name
                ),
            ));
        }
    }
    ctx.note(format!(
        "{}: {DECAP_TC_PROGRAM} attached (tc ingress, program id {prog_id}{})",
        l.name,
        if clsact_added {
            ", clsact qdisc added"
        } else {
            ""
        }
    ));
    Ok(())
}

// ---- undo (rollback and teardown) --------------------------------------------------------------

/// Undo everything `st` records, in reverse order. Items undone (or found gone already) are
/// removed from `st`; the errors of the others are returned. `log` gets one line per action.
fn undo(nl: &mut Netlink, st: &mut State, log: &mut Vec<String>) -> Vec<anyhow::Error> {
    let mut errors = Vec::new();
    let links = match nl.links() {
        Ok(l) => l,
        Err(e) => {
            errors.push(nl_context(e, "listing interfaces"));
            return errors;
        }
    };
    let find = |name: &str| links.iter().find(|l| l.name == name);

    // Decapsulation.
    match st.decap.take() {
        None => {}
        Some(DecapRecord::Xdp {
            attached,
            tc,
            vips,
            locals,
        }) => {
            let mut tc_left = Vec::new();
            for t in tc.into_iter().rev() {
                let Some(l) = find(&t.ifname) else {
                    log.push(format!("{}: gone, nothing to detach", t.ifname));
                    continue;
                };
                if let Err(e) = undo_tc(nl, l, &t, log) {
                    errors.push(e);
                    tc_left.push(t);
                }
            }
            tc_left.reverse();
            let mut left = Vec::new();
            for a in attached.into_iter().rev() {
                let Some(l) = find(&a.ifname) else {
                    log.push(format!("{}: gone, nothing to detach", a.ifname));
                    continue;
                };
                match l.xdp.prog(a.mode) {
                    None => log.push(format!("{}: no XDP program attached any more", a.ifname)),
                    Some(id) if a.prog_id != 0 && id != a.prog_id => log.push(format!(
                        "{}: the XDP program is now id {id}, not lvsadm's {}: left alone",
                        a.ifname, a.prog_id
                    )),
                    Some(_) => match nl.detach_xdp(l.index, a.mode) {
                        Ok(()) => log.push(format!(
                            "{}: {DECAP_PROGRAM} detached ({} XDP)",
                            a.ifname, a.mode
                        )),
                        Err(e) => {
                            errors.push(nl_context(
                                e,
                                format!("detaching the XDP program from {}", a.ifname),
                            ));
                            left.push(a);
                        }
                    },
                }
            }
            if !left.is_empty() || !tc_left.is_empty() {
                left.reverse();
                st.decap = Some(DecapRecord::Xdp {
                    attached: left,
                    tc: tc_left,
                    vips,
                    locals,
                });
            }
        }
        Some(DecapRecord::Kernel { devices, set_up }) => {
            let mut left = Vec::new();
            for name in set_up.into_iter().rev() {
                let Some(l) = find(&name) else { continue };
                match nl.set_up(l.index, false) {
                    Ok(()) => log.push(format!("{name}: set down")),
                    Err(e) => {
                        errors.push(nl_context(e, format!("setting {name} down")));
                        left.push(name);
                    }
                }
            }
            if !left.is_empty() {
                left.reverse();
                st.decap = Some(DecapRecord::Kernel {
                    devices,
                    set_up: left,
                });
            }
        }
    }

    // Sysctls.
    let mut left = Vec::new();
    for s in std::mem::take(&mut st.sysctls).into_iter().rev() {
        let name = sysctl_name(&s.path);
        match read_sysctl(&s.path) {
            Err(_) if !sysctl_file(&s.path).exists() => {
                log.push(format!("sysctl {name}: gone (interface deleted?)"));
            }
            Err(e) => {
                errors.push(e);
                left.push(s);
            }
            Ok(cur) if cur != s.new => log.push(format!(
                "sysctl {name}: changed to {cur} since setup (set {}): left alone",
                s.new
            )),
            Ok(_) => match write_sysctl(&s.path, &s.old) {
                Ok(()) => log.push(format!("sysctl {name}: {} -> {}", s.new, s.old)),
                Err(e) => {
                    errors.push(e);
                    left.push(s);
                }
            },
        }
    }
    left.reverse();
    st.sysctls = left;

    // VIPs, then lo.
    let lo = links.iter().find(|l| l.is_loopback());
    let mut left = Vec::new();
    for v in std::mem::take(&mut st.vips).into_iter().rev() {
        if !v.added {
            continue;
        }
        let Some(lo) = lo else { break };
        let plen = host_prefix(v.addr);
        match nl.del_address(lo.index, v.addr, plen) {
            Ok(()) => log.push(format!("lo: removed {}/{plen}", v.addr)),
            Err(NlError::Kernel(libc::EADDRNOTAVAIL)) | Err(NlError::Kernel(libc::ENOENT)) => {
                log.push(format!("lo: {}/{plen} was already gone", v.addr))
            }
            Err(e) => {
                errors.push(nl_context(e, format!("removing {}/{plen} from lo", v.addr)));
                left.push(v);
            }
        }
    }
    left.reverse();
    st.vips = left;
    if st.lo_set_up
        && let Some(lo) = lo
    {
        match nl.set_up(lo.index, false) {
            Ok(()) => {
                log.push("lo: set down (it was down before setup)".into());
                st.lo_set_up = false;
            }
            Err(e) => errors.push(nl_context(e, "setting lo down")),
        }
    }
    errors
}

/// Remove one TC attachment: the filter (if it is still lvsadm's program), then the
/// `clsact` qdisc if `setup` added it and nothing else is on it any more.
fn undo_tc(nl: &mut Netlink, l: &Link, t: &TcRecord, log: &mut Vec<String>) -> anyhow::Result<()> {
    if t.handle != 0 {
        let filters = nl
            .ingress_filters(l.index)
            .map_err(|e| nl_context(e, format!("listing the TC ingress filters of {}", l.name)))?;
        match filters.iter().find(|f| f.prog_id == t.prog_id) {
            None => log.push(format!(
                "{}: {DECAP_TC_PROGRAM} (program id {}) no longer attached at tc ingress",
                t.ifname, t.prog_id
            )),
            Some(f) => {
                nl.del_ingress_filter(l.index, f).map_err(|e| {
                    nl_context(e, format!("removing the TC ingress filter of {}", l.name))
                })?;
                log.push(format!(
                    "{}: {DECAP_TC_PROGRAM} detached (tc ingress)",
                    t.ifname
                ));
            }
        }
    }
    if t.clsact_added {
        let busy = nl
            .clsact_has_filters(l.index)
            .map_err(|e| nl_context(e, format!("listing the TC filters of {}", l.name)))?;
        if busy {
            log.push(format!(
                "{}: clsact qdisc left in place: other filters are on it",
                t.ifname
            ));
        } else {
            match nl.del_clsact(l.index) {
                Ok(()) => log.push(format!("{}: clsact qdisc removed", t.ifname)),
                Err(NlError::Kernel(libc::ENOENT)) | Err(NlError::Kernel(libc::EINVAL)) => {
                    log.push(format!("{}: clsact qdisc already gone", t.ifname))
                }
                Err(e) => {
                    return Err(nl_context(
                        e,
                        format!("removing the clsact qdisc of {}", l.name),
                    ));
                }
            }
        }
    }
    Ok(())
}

// ---- teardown ----------------------------------------------------------------------------------

fn teardown() -> anyhow::Result<u8> {
    let mut ctx = Ctx::new()?;
    let _lock = lock()?;
    let path = State::path(ctx.inode);
    let Some(mut st) = ctx.load_state()? else {
        println!(
            "realserver: nothing set up in network namespace {} (no {}): nothing to do",
            ctx.inode,
            path.display()
        );
        return Ok(0);
    };
    let mut log = Vec::new();
    let errors = undo(&mut ctx.nl, &mut st, &mut log);
    for l in &log {
        println!("{l}");
    }
    if errors.is_empty() || st.is_empty() {
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    } else {
        st.save(&path)?;
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("lvsadm: realserver teardown: {e:#}");
        }
        eprintln!(
            "lvsadm: realserver teardown: {} step(s) failed; what is left is recorded in {}",
            errors.len(),
            path.display()
        );
        return Ok(1);
    }
    println!("realserver torn down in network namespace {}", ctx.inode);
    Ok(0)
}

// ---- status ------------------------------------------------------------------------------------

fn status() -> anyhow::Result<u8> {
    let mut ctx = Ctx::new()?;
    let path = State::path(ctx.inode);
    let st = match State::load(&path)? {
        Some(s) if s.netns_cookie == ctx.cookie => s,
        _ => {
            println!("realserver: not set up in network namespace {}", ctx.inode);
            return Ok(1);
        }
    };
    let links = ctx.links()?;
    let addrs = ctx
        .nl
        .addresses()
        .map_err(|e| nl_context(e, "listing addresses"))?;
    let lo = ctx.lo()?;
    let mut drift = 0usize;
    fn flag(ok: bool, drift: &mut usize) -> &'static str {
        if ok {
            ""
        } else {
            *drift += 1;
            "  [CHANGED]"
        }
    }
    let decap = decap_summary(st.decap.as_ref());
    println!(
        "realserver: set up (method {}{decap}) in network namespace {}",
        st.request.method, st.netns_inode
    );
    println!("  record:     {}", path.display());
    println!("  interfaces: {}", join(&st.interfaces));
    for v in &st.vips {
        let present = addrs
            .iter()
            .any(|a| a.index == lo.index && a.addr == v.addr);
        let f = flag(present, &mut drift);
        println!(
            "  vip:        {}/{} on lo{}{f}",
            v.addr,
            host_prefix(v.addr),
            if v.added { "" } else { " (was there before)" }
        );
    }
    for s in &st.sysctls {
        let cur = read_sysctl(&s.path).unwrap_or_else(|_| "?".into());
        let f = flag(cur == s.new, &mut drift);
        println!(
            "  sysctl:     {} = {cur} (was {}){f}",
            sysctl_name(&s.path),
            s.old
        );
    }
    match &st.decap {
        None => {}
        Some(DecapRecord::Kernel { devices, .. }) => {
            for d in devices {
                let up = links.iter().any(|l| &l.name == d && l.is_up());
                let f = flag(up, &mut drift);
                println!("  tunnel:     {d} {}{f}", if up { "up" } else { "DOWN" });
            }
        }
        Some(DecapRecord::Xdp {
            attached,
            tc,
            vips,
            locals,
        }) => {
            for t in tc {
                let filters = match links.iter().find(|l| l.name == t.ifname) {
                    Some(l) => ctx.nl.ingress_filters(l.index).map_err(|e| {
                        nl_context(e, format!("listing the TC ingress filters of {}", l.name))
                    })?,
                    None => Vec::new(),
                };
                let ok = t.handle != 0 && filters.iter().any(|f| f.prog_id == t.prog_id);
                let f = flag(ok, &mut drift);
                println!(
                    "  tc:         {} {DECAP_TC_PROGRAM} id {} ingress: {}{f}",
                    t.ifname,
                    t.prog_id,
                    if ok { "attached" } else { "NOT attached" }
                );
            }
            for a in attached {
                let now = links
                    .iter()
                    .find(|l| l.name == a.ifname)
                    .and_then(|l| l.xdp.prog(a.mode));
                let f = flag(now == Some(a.prog_id), &mut drift);
                let what = match now {
                    Some(id) if id == a.prog_id => "attached".to_string(),
                    Some(id) => format!("now program id {id}"),
                    None => "NOT attached".to_string(),
                };
                println!(
                    "  xdp:        {} {DECAP_PROGRAM} id {} {} mode: {what}{f}",
                    a.ifname, a.prog_id, a.mode
                );
            }
            println!("  decap vips: {}", join(vips));
            println!("  tunnel to:  {}", join(locals));
        }
    }
    if drift > 0 {
        println!("{drift} item(s) changed since setup");
        return Ok(3);
    }
    Ok(0)
}

// ---- Entry point -------------------------------------------------------------------------------

/// Run `lvsadm realserver ARGS...` (the arguments after `realserver`); returns the exit
/// status.
pub fn main(args: &[String]) -> u8 {
    let action = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lvsadm realserver: {e}");
            eprint!("{USAGE}");
            return 2;
        }
    };
    let result = match action {
        Action::Help => {
            print!("{USAGE}");
            Ok(0)
        }
        Action::Setup(req) => setup(&req),
        Action::Teardown => teardown(),
        Action::Status => status(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lvsadm: {e:#}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn link(index: u32, name: &str, up: bool, kind: Option<&str>) -> Link {
        Link {
            index,
            name: name.into(),
            link_type: if name == "lo" { 772 } else { ARPHRD_ETHER },
            flags: (if up { netlink::IFF_UP } else { 0 })
                | if name == "lo" {
                    netlink::IFF_LOOPBACK
                } else {
                    0
                },
            kind: kind.map(String::from),
            xdp: Default::default(),
        }
    }

    fn req(s: &str) -> SetupRequest {
        match parse_args(&args(s)).unwrap() {
            Action::Setup(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_setup() {
        let r = req(
            "setup --vip 10.1.0.100 --vip=fd01::100,10.1.0.100 --method tun \
                     --interface eth0 --interface=eth1,eth0 --xdp-mode generic",
        );
        assert_eq!(
            r.vips,
            vec![
                "10.1.0.100".parse::<IpAddr>().unwrap(),
                "fd01::100".parse().unwrap()
            ]
        );
        assert_eq!(r.method, Method::Tun);
        assert_eq!(r.interfaces, vec!["eth0", "eth1"]);
        assert_eq!(r.decap, DecapChoice::Auto);
        assert_eq!(r.xdp_mode, XdpModeChoice::Generic);
        assert_eq!(req("setup --method dr --vip 10.0.0.1").method, Method::Dr);
        assert_eq!(
            req("setup --method tun --vip 10.0.0.1 --xdp-mode tc").xdp_mode,
            XdpModeChoice::Tc
        );
    }

    #[test]
    fn decapsulator_placement() {
        let veth = link(2, "eth0", true, Some("veth"));
        let nic = link(3, "eno1", true, None);
        let tc = Placement::Tc;
        let generic = Placement::Xdp(&[XdpMode::Generic], false);
        // Auto: TC on virtual interfaces (generic XDP skips TC-redirected skbs), native
        // XDP else TC on physical ones.
        assert_eq!(placement(XdpModeChoice::Auto, &veth), tc);
        assert_eq!(
            placement(XdpModeChoice::Auto, &nic),
            Placement::Xdp(&[XdpMode::Native], true)
        );
        for l in [&veth, &nic] {
            assert_eq!(placement(XdpModeChoice::Tc, l), tc);
            assert_eq!(placement(XdpModeChoice::Generic, l), generic);
            assert_eq!(
                placement(XdpModeChoice::Native, l),
                Placement::Xdp(&[XdpMode::Native], false)
            );
        }
        assert_eq!(
            decap_summary(Some(&DecapRecord::Xdp {
                attached: vec![],
                tc: vec![],
                vips: vec![],
                locals: vec![],
            })),
            ", decapsulation: xdp"
        );
    }

    #[test]
    fn parse_errors() {
        for (line, want) in [
            ("", "subcommand is required"),
            ("frobnicate", "unknown subcommand"),
            ("setup --vip 10.0.0.1", "--method dr|tun is required"),
            ("setup --method dr", "at least one --vip"),
            ("setup --method nat --vip 10.0.0.1", "invalid method"),
            ("setup --method dr --vip 10.0.0.0/24", "invalid VIP"),
            ("setup --method dr --vip 127.0.0.1", "not a unicast"),
            ("setup --method dr --vip ff02::1", "not a unicast"),
            ("setup --method dr --vip", "needs a value"),
            ("setup --method dr --vip 10.0.0.1 --bogus", "unknown option"),
            ("setup --method dr --vip 10.0.0.1 --decap xdp", "tun only"),
            (
                "setup --method tun --vip 10.0.0.1 --xdp-mode skbx",
                "invalid --xdp-mode",
            ),
            (
                "setup --method tun --vip 10.0.0.1 --interface lo",
                "--interface lo",
            ),
            ("setup --method tun --method dr --vip 10.0.0.1", "twice"),
            ("teardown now", "takes no arguments"),
        ] {
            let e = parse_args(&args(line)).unwrap_err();
            assert!(e.contains(want), "{line:?}: {e}");
        }
        assert_eq!(parse_args(&args("setup --help")), Ok(Action::Help));
        assert_eq!(parse_args(&args("status")), Ok(Action::Status));
        assert_eq!(parse_args(&args("teardown")), Ok(Action::Teardown));
    }

    #[test]
    fn sysctls_per_method_and_family() {
        let ifs = vec!["eth0".to_string()];
        let dr = sysctl_plan(&req("setup --method dr --vip 10.0.0.1"), &ifs, &[]);
        let keys: Vec<String> = dr.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            keys,
            [
                "net/ipv4/conf/all/arp_ignore=1",
                "net/ipv4/conf/all/arp_announce=2",
                "net/ipv4/conf/lo/arp_ignore=1",
                "net/ipv4/conf/lo/arp_announce=2",
                "net/ipv4/conf/eth0/arp_ignore=1",
                "net/ipv4/conf/eth0/arp_announce=2",
            ]
        );
        // IPv6 only: no ARP.
        assert!(sysctl_plan(&req("setup --method dr --vip fd01::1"), &ifs, &[]).is_empty());
        let tun = sysctl_plan(
            &req("setup --method tun --vip fd01::1"),
            &ifs,
            &["tunl0".to_string(), "eth0".to_string()],
        );
        let keys: Vec<&str> = tun.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "net/ipv4/conf/all/rp_filter",
                "net/ipv4/conf/default/rp_filter",
                "net/ipv4/conf/eth0/rp_filter",
                "net/ipv4/conf/tunl0/rp_filter",
            ]
        );
        assert!(tun.iter().all(|(_, v)| *v == "0"));
        assert_eq!(
            sysctl_name("net/ipv4/conf/eth0/arp_ignore"),
            "net.ipv4.conf.eth0.arp_ignore"
        );
    }

    #[test]
    fn interface_selection() {
        let links = vec![
            link(1, "lo", true, None),
            link(2, "eth0", true, Some("veth")),
            link(3, "eth1", false, None),
            Link {
                link_type: 768, // ARPHRD_TUNNEL
                ..link(4, "tunl0", true, Some("ipip"))
            },
        ];
        let names = |v: Vec<Link>| v.into_iter().map(|l| l.name).collect::<Vec<_>>();
        let r = req("setup --method tun --vip 10.0.0.1");
        let sel = select_interfaces(&r, &links).unwrap();
        assert_eq!(names(sel.clone()), ["eth0", "tunl0"]);
        assert_eq!(names(xdp_interfaces(&r, &sel).unwrap()), ["eth0"]);
        // Named: down interfaces are fine, missing ones are not, non-Ethernet is an
        // error for the XDP decapsulator.
        let r = req("setup --method tun --vip 10.0.0.1 --interface eth1");
        assert_eq!(names(select_interfaces(&r, &links).unwrap()), ["eth1"]);
        let r = req("setup --method tun --vip 10.0.0.1 --interface eth9");
        assert!(select_interfaces(&r, &links).is_err());
        let r = req("setup --method tun --vip 10.0.0.1 --interface tunl0");
        let sel = select_interfaces(&r, &links).unwrap();
        let e = xdp_interfaces(&r, &sel).unwrap_err().to_string();
        assert!(e.contains("not an Ethernet"), "{e}");
        // Nothing up but lo.
        let r = req("setup --method tun --vip 10.0.0.1");
        assert!(select_interfaces(&r, &links[..1]).is_err());
    }

    #[test]
    fn endpoints_exclude_lo_and_vips() {
        let links = vec![link(1, "lo", true, None), link(2, "eth0", true, None)];
        let a = |index, s: &str| netlink::Address {
            index,
            addr: s.parse().unwrap(),
            prefix_len: 24,
        };
        let addrs = vec![
            a(1, "127.0.0.1"),
            a(1, "10.1.0.100"),
            a(2, "10.2.1.11"),
            a(2, "fd02:1::11"),
            a(2, "10.1.0.100"),
            a(2, "10.2.1.11"),
        ];
        let vips = vec!["10.1.0.100".parse().unwrap()];
        assert_eq!(
            join(&tunnel_endpoints(&links, &addrs, &vips)),
            "10.2.1.11, fd02:1::11"
        );
    }

    #[test]
    fn record_round_trip() {
        let st = State {
            version: STATE_VERSION,
            netns_inode: 4026532281,
            netns_cookie: 77,
            request: req("setup --method tun --vip 10.1.0.100 --vip fd01::100"),
            interfaces: vec!["eth0".into()],
            lo_set_up: false,
            vips: vec![VipRecord {
                addr: "10.1.0.100".parse().unwrap(),
                added: true,
            }],
            sysctls: vec![SysctlRecord {
                path: "net/ipv4/conf/all/rp_filter".into(),
                old: "2".into(),
                new: "0".into(),
            }],
            decap: Some(DecapRecord::Xdp {
                attached: vec![XdpRecord {
                    ifname: "eth0".into(),
                    ifindex: 2,
                    mode: XdpMode::Generic,
                    prog_id: 42,
                }],
                tc: vec![TcRecord {
                    ifname: "eth1".into(),
                    ifindex: 3,
                    prog_id: 43,
                    prio: 49152,
                    handle: 1,
                    clsact_added: true,
                }],
                vips: vec!["10.1.0.100".parse().unwrap()],
                locals: vec!["10.2.1.11".parse().unwrap()],
            }),
        };
        let json = serde_json::to_string_pretty(&st).unwrap();
        assert!(json.contains("\"kind\": \"xdp\""), "{json}");
        assert!(json.contains("\"mode\": \"generic\""), "{json}");
        assert!(json.contains("\"clsact_added\": true"), "{json}");
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, st);
        // A record of an earlier version (no `tc`) still loads.
        let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
        old["decap"].as_object_mut().unwrap().remove("tc").unwrap();
        let back: State = serde_json::from_value(old).unwrap();
        assert!(matches!(back.decap, Some(DecapRecord::Xdp { ref tc, .. }) if tc.is_empty()));
        assert!(!st.is_empty());
        let empty = State {
            vips: vec![VipRecord {
                addr: "10.1.0.100".parse().unwrap(),
                added: false,
            }],
            sysctls: vec![],
            decap: None,
            ..st
        };
        assert!(empty.is_empty());
        assert_eq!(
            State::path(4026532281),
            Path::new("/run/lvs-rs/realserver-4026532281.json")
        );
    }
}
