//! `lvs-api`: the control API of `lvsd`, typed.
//!
//! `lvsd` serves HTTP/1.1 with JSON bodies on a Unix socket (default `/run/lvsd.sock`,
//! mode 0600). Every operation of ipvsadm has one endpoint; [`paths`] lists them and
//! [`client::Client`] calls them. The types here are the API's own (they do not expose
//! `lvs-core`), so the wire format stays stable while the core evolves.
//!
//! Errors come back as a non-2xx status with an [`ApiError`] body whose [`ErrorKind`]
//! tells `lvsadm` which ipvsadm message to print.

#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![forbid(unsafe_code)]

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub mod client;

/// Default control socket.
pub const DEFAULT_SOCKET: &str = "/run/lvsd.sock";

/// Environment variable that overrides the default socket.
pub const SOCKET_ENV: &str = "LVSD_SOCKET";

/// Transport protocol of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

/// Address family (fwmark services).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

/// The identity of a virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum ServiceKey {
    /// `-t`/`-u`/`--sctp-service ADDR:PORT`.
    Addr {
        /// Protocol.
        protocol: Protocol,
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port (0 = all ports, persistent services only).
        port: u16,
    },
    /// `-f MARK [-6]`.
    Fwmark {
        /// Family of the marked packets.
        family: Family,
        /// The mark.
        mark: u32,
    },
}

/// Persistence (`-p TIMEOUT -M MASK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Persistence {
    /// Seconds.
    pub timeout: u32,
    /// Client prefix length that shares a template (32 / 128 = per client).
    pub prefix_len: u8,
}

/// Service flag bit: one-packet scheduling (`-o`).
pub const SVC_F_ONEPACKET: u32 = 0x0004;
/// Service flag bit: `flag-1` / `sh-fallback` / `mh-fallback`.
pub const SVC_F_SCHED1: u32 = 0x0008;
/// Service flag bit: `flag-2` / `sh-port` / `mh-port`.
pub const SVC_F_SCHED2: u32 = 0x0010;
/// Service flag bit: `flag-3`.
pub const SVC_F_SCHED3: u32 = 0x0020;

/// A service as ipvsadm's `-A`/`-E` describe it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Identity.
    pub key: ServiceKey,
    /// Scheduler name.
    pub scheduler: String,
    /// `SVC_F_*` bits (persistence is [`ServiceSpec::persistence`]).
    pub flags: u32,
    /// Persistence, if any.
    pub persistence: Option<Persistence>,
    /// Persistence engine.
    pub pe: Option<String>,
    /// FULLNAT: send the client address to the real server in a Proxy Protocol v2 header.
    #[serde(default)]
    pub proxy_protocol: bool,
}

/// Forwarding method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// NAT (`-m`).
    Masq,
    /// Direct routing (`-g`).
    Route,
    /// Tunnel (`-i`).
    Tunnel,
    /// FULLNAT (`--fullnat`).
    FullNat,
    /// Local node (shown by listings only).
    Local,
}

/// Tunnel encapsulation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelKind {
    /// IP-in-IP.
    #[default]
    Ipip,
    /// GUE.
    Gue,
    /// GRE.
    Gre,
}

/// Tunnel checksum option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelCsum {
    /// `--tun-nocsum`.
    #[default]
    NoCsum,
    /// `--tun-csum`.
    Csum,
    /// `--tun-remcsum`.
    RemCsum,
}

/// Tunnel settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tunnel {
    /// Encapsulation.
    pub kind: TunnelKind,
    /// GUE port.
    pub port: u16,
    /// Checksum option.
    pub csum: TunnelCsum,
}

/// A real server as `-a`/`-e` describe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestSpec {
    /// Address.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
    /// Forwarding method.
    pub method: Method,
    /// Tunnel settings (Tunnel only).
    #[serde(default)]
    pub tunnel: Tunnel,
    /// Weight.
    pub weight: i32,
    /// Upper threshold (0 = none).
    #[serde(default)]
    pub u_threshold: u32,
    /// Lower threshold (0 = none).
    #[serde(default)]
    pub l_threshold: u32,
}

/// The five IPVS counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Connections.
    pub conns: u64,
    /// Incoming packets.
    pub inpkts: u64,
    /// Outgoing packets.
    pub outpkts: u64,
    /// Incoming bytes.
    pub inbytes: u64,
    /// Outgoing bytes.
    pub outbytes: u64,
}

/// The five IPVS rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub inpps: u64,
    /// Outgoing packets per second.
    pub outpps: u64,
    /// Incoming bytes per second.
    pub inbps: u64,
    /// Outgoing bytes per second.
    pub outbps: u64,
}

/// A real server with its counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestInfo {
    /// Configuration.
    pub spec: DestSpec,
    /// Active connections.
    pub activeconns: u32,
    /// Inactive connections.
    pub inactconns: u32,
    /// Persistence templates.
    pub persistconns: u32,
    /// Counters since the last zeroing.
    pub stats: Counters,
    /// Rates.
    pub rates: Rates,
}

/// A service with its real servers (kernel list order: newest first) and counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Configuration.
    pub spec: ServiceSpec,
    /// Counters since the last zeroing.
    pub stats: Counters,
    /// Rates.
    pub rates: Rates,
    /// Real servers.
    pub dests: Vec<DestInfo>,
}

/// One connection table entry as `ipvsadm -Lc` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnInfo {
    /// `TCP`, `UDP`, `SCTP`, or `IP` (fwmark templates).
    pub protocol: String,
    /// Client address (templates: the masked network).
    pub caddr: IpAddr,
    /// Client port.
    pub cport: u16,
    /// Virtual address (fwmark templates: the mark as an IPv4 address).
    pub vaddr: IpAddr,
    /// Virtual port.
    pub vport: u16,
    /// Real server address.
    pub daddr: IpAddr,
    /// Real server port.
    pub dport: u16,
    /// State name (`ESTABLISHED`, `UDP`, `ASSURED`…).
    pub state: String,
    /// Milliseconds until expiry.
    pub expires_ms: u64,
    /// Whether this is a persistence template.
    pub template: bool,
    /// FULLNAT local address and port.
    pub local: Option<(IpAddr, u16)>,
    /// Packets client → server (including the fast path's).
    #[serde(default)]
    pub inpkts: u64,
    /// Packets server → client.
    #[serde(default)]
    pub outpkts: u64,
}

/// `GET /v1/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// `IP_VS_VERSION_CODE` (0x010201).
    pub version: u32,
    /// Connection table size reported by listings.
    pub conn_tab_size: u32,
    /// Number of services.
    pub num_services: u32,
}

/// `--set` / `--timeout`: seconds (0 in a request = unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// TCP ESTABLISHED.
    pub tcp: u32,
    /// TCP FIN_WAIT.
    pub tcpfin: u32,
    /// UDP.
    pub udp: u32,
}

/// A FULLNAT local address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaddrInfo {
    /// The address.
    pub addr: IpAddr,
    /// Ports in use.
    pub used_ports: u32,
}

/// `GET /v1/dataplane`: what the XDP data path is doing (refreshed every second).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataplaneStatus {
    /// Whether a data plane runs (false with `lvsd --no-dataplane`).
    pub running: bool,
    /// Interfaces served and their mode (`native`, `generic`, or `generic+tc`: generic XDP
    /// for the punts with the TC program `lvs_tc` forwarding flow hits).
    pub interfaces: Vec<(String, String)>,
    /// Entries in the XDP flow table (one per direction that passes the director).
    pub flows: u64,
    /// Global XDP and TC counters by outcome (`rx`, `fwd_redirect`, `punt_new`, `pass_to_tc`,
    /// `tc_rx`…).
    pub counters: Vec<(String, u64)>,
}

/// Body of real-server requests: which service, which server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestRequest {
    /// The service.
    pub service: ServiceKey,
    /// The real server.
    pub dest: DestSpec,
}

/// Body of `DELETE /v1/dests`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestDelete {
    /// The service.
    pub service: ServiceKey,
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
}

/// Body of local-address requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaddrRequest {
    /// The service.
    pub service: ServiceKey,
    /// The local address.
    pub addr: IpAddr,
}

/// Body of `POST /v1/zero`: one service, or all when `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZeroRequest {
    /// The service.
    pub service: Option<ServiceKey>,
}

/// One service of a whole configuration ([`Config`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigService {
    /// The service.
    pub service: ServiceSpec,
    /// Its real servers, in list order (the order `-L` shows and `rr` walks).
    #[serde(default)]
    pub dests: Vec<DestSpec>,
    /// FULLNAT local addresses, in pool order.
    #[serde(default)]
    pub laddrs: Vec<IpAddr>,
}

/// A whole configuration: `GET /v1/config` returns it, `PUT /v1/config` makes the
/// director's table equal to it, all or nothing (services and real servers that stay
/// unchanged are not touched: their connections, counters and scheduler state survive).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Every service; services of the director not listed here are deleted.
    #[serde(default)]
    pub services: Vec<ConfigService>,
    /// `--set` timeouts (0 keeps a value); absent leaves the timeouts alone.
    #[serde(default)]
    pub timeouts: Option<Timeouts>,
}

/// The answer of `PUT /v1/config`: what the apply changed (with `?dry_run=true`: what it
/// would change).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplySummary {
    /// Whether anything was changed (false for a dry run).
    pub applied: bool,
    /// Services added.
    pub services_added: u32,
    /// Services edited in place (`-E`).
    pub services_edited: u32,
    /// Services deleted.
    pub services_deleted: u32,
    /// Services whose own settings were already as asked (their real servers may still
    /// have changed).
    pub services_unchanged: u32,
    /// Real servers added.
    pub dests_added: u32,
    /// Real servers edited in place (`-e`).
    pub dests_edited: u32,
    /// Real servers deleted (not counting those of deleted services).
    pub dests_deleted: u32,
    /// Real servers left untouched.
    pub dests_unchanged: u32,
    /// FULLNAT local addresses added.
    pub laddrs_added: u32,
    /// FULLNAT local addresses removed.
    pub laddrs_deleted: u32,
    /// Services whose Proxy Protocol flag changed.
    pub proxy_protocol_changed: u32,
    /// Whether the timeouts changed.
    pub timeouts_changed: bool,
}

/// Sync daemon role (`--start-daemon master|backup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncRole {
    /// Multicasts this director's connections.
    Master,
    /// Creates the connections a master multicasts.
    Backup,
}

/// Body of `POST /v1/sync/daemons` (`--start-daemon`): 0 / `None` = the kernel's default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDaemonSpec {
    /// Role.
    pub role: SyncRole,
    /// Multicast interface (`--mcast-interface`).
    pub mcast_ifn: String,
    /// Sync id (`--syncid`; a backup with 0 accepts every sender).
    pub syncid: u8,
    /// Largest UDP payload (`--sync-maxlen`; 0 = derived from the MTU).
    pub sync_maxlen: u16,
    /// Multicast group (`--mcast-group`; default 224.0.0.81).
    pub mcast_group: Option<IpAddr>,
    /// UDP port (`--mcast-port`; 0 = 8848).
    pub mcast_port: u16,
    /// Multicast TTL / hop limit (`--mcast-ttl`; 0 = 1).
    pub mcast_ttl: u8,
}

/// Counters of a running sync daemon.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounters {
    /// Master: messages sent.
    pub sent_messages: u64,
    /// Master: connection entries sent.
    pub sent_conns: u64,
    /// Master: messages that could not be sent, or were dropped on a full queue.
    pub send_errors: u64,
    /// Backup: datagrams received.
    pub received: u64,
    /// Backup: datagrams dropped whole as malformed (too short, wrong size).
    pub malformed: u64,
    /// Backup: datagrams dropped for another sync id.
    pub other_syncid: u64,
    /// Backup: datagrams whose decoding stopped at a malformed entry.
    pub truncated: u64,
    /// Backup: connections created.
    pub created: u64,
    /// Backup: connections updated.
    pub updated: u64,
    /// Backup: entries ignored (already replaced here).
    pub ignored: u64,
    /// Backup: entries refused (protocol, state, persistence engine, options).
    pub rejected: u64,
}

/// A running sync daemon, with its effective settings (`-L --daemon`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDaemonInfo {
    /// Role.
    pub role: SyncRole,
    /// Multicast interface.
    pub mcast_ifn: String,
    /// Sync id.
    pub syncid: u8,
    /// Largest UDP payload in use.
    pub sync_maxlen: u16,
    /// Multicast group in use.
    pub mcast_group: IpAddr,
    /// UDP port in use.
    pub mcast_port: u16,
    /// TTL in use.
    pub mcast_ttl: u8,
    /// Counters.
    #[serde(default)]
    pub counters: SyncCounters,
}

/// Body of `DELETE /v1/sync/daemons` (`--stop-daemon`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStop {
    /// Role.
    pub role: SyncRole,
}

/// What went wrong, in the categories ipvsadm distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// "Service already exists".
    ServiceExists,
    /// "No such service".
    NoSuchService,
    /// "Service not defined".
    ServiceNotDefined,
    /// "Destination already exists".
    DestExists,
    /// "No such destination".
    NoSuchDest,
    /// "Scheduler or persistence engine not found".
    SchedulerNotFound,
    /// ERANGE: "Invalid operation…" in ipvsadm's wording for most cases.
    OutOfRange,
    /// EINVAL.
    Invalid,
    /// A FULLNAT local-address error.
    Laddr,
    /// The request could not be understood.
    BadRequest,
    /// The daemon failed.
    Internal,
    /// A request on lvsd's TCP listener without the right `Authorization: Bearer` token
    /// (HTTP 401).
    Unauthorized,
}

/// An error response body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Category.
    pub kind: ErrorKind,
    /// Human-readable detail.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// Endpoint paths (all under `/v1`).
pub mod paths {
    /// `GET`: [`super::Info`].
    pub const INFO: &str = "/v1/info";
    /// `GET`: `Vec<ServiceInfo>`; `POST`: add ([`super::ServiceSpec`]); `PUT`: edit;
    /// `DELETE`: delete ([`super::ServiceKey`] body).
    pub const SERVICES: &str = "/v1/services";
    /// `POST`: delete every service.
    pub const CLEAR: &str = "/v1/clear";
    /// `POST`: add ([`super::DestRequest`]); `PUT`: edit; `DELETE`: delete
    /// ([`super::DestDelete`]).
    pub const DESTS: &str = "/v1/dests";
    /// `GET`: `Vec<ConnInfo>`.
    pub const CONNS: &str = "/v1/conns";
    /// `POST`: [`super::ZeroRequest`].
    pub const ZERO: &str = "/v1/zero";
    /// `GET`/`PUT`: [`super::Timeouts`].
    pub const TIMEOUTS: &str = "/v1/timeouts";
    /// `POST`: add, `DELETE`: delete ([`super::LaddrRequest`]); `GET` with a
    /// [`super::ServiceKey`] body via `POST /v1/laddrs/list`.
    pub const LADDRS: &str = "/v1/laddrs";
    /// `POST` ([`super::ServiceKey`]): `Vec<LaddrInfo>`.
    pub const LADDRS_LIST: &str = "/v1/laddrs/list";
    /// `GET`: [`super::DataplaneStatus`].
    pub const DATAPLANE: &str = "/v1/dataplane";
    /// `GET`: `Vec<SyncDaemonInfo>` (master first); `POST`: start
    /// ([`super::SyncDaemonSpec`]; a role already running is `ServiceExists`, an unknown
    /// interface `Internal` with the OS message); `DELETE`: stop ([`super::SyncStop`]; a
    /// role not running is `NoSuchService`).
    pub const SYNC_DAEMONS: &str = "/v1/sync/daemons";
    /// `GET`: the whole configuration ([`super::Config`]); `PUT`: apply one, all or
    /// nothing ([`super::ApplySummary`]; `?dry_run=true` only checks).
    pub const CONFIG: &str = "/v1/config";
    /// `GET`: Prometheus metrics (text exposition format 0.0.4), see `docs/metrics.md`.
    pub const METRICS: &str = "/metrics";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_documents_parse() {
        let c: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(c, Config::default());
        let c: Config = serde_json::from_str(
            r#"{"services": [{
                "service": {"key": {"kind": "fwmark", "family": "inet6", "mark": 3},
                            "scheduler": "rr", "flags": 0},
                "dests": [{"addr": "fd00::1", "port": 0, "method": "route", "weight": 1}]
            }], "timeouts": {"tcp": 0, "tcpfin": 0, "udp": 60}}"#,
        )
        .unwrap();
        let s = &c.services[0];
        assert_eq!(
            (s.service.persistence, s.service.pe.as_deref()),
            (None, None)
        );
        assert!(!s.service.proxy_protocol);
        assert_eq!(s.dests[0].tunnel, Tunnel::default());
        assert!(s.laddrs.is_empty());
        assert_eq!(c.timeouts.map(|t| t.udp), Some(60));
        // What GET returns reads back identically.
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Config>(&text).unwrap(), c);
    }
}
