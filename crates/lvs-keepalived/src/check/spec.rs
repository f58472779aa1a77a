//! What the checkers are told: plain input types, one per keepalived.conf block.
//!
//! The configuration parser's model is mapped onto these by the daemon. Values that
//! keepalived inherits (checker ← real_server ← virtual_server ← built-in default) are
//! `Option`s here and are resolved by [`super::Checks::new`] exactly as keepalived's
//! `check_data.c` does; defaults are named in each field's documentation.

use std::net::IpAddr;
use std::time::Duration;

use lvs_api::{Method, Protocol, ServiceKey, Tunnel};

/// A command that keepalived runs: `notify_up`, `notify_down`, `quorum_up`, `quorum_down`,
/// `misc_path`. keepalived splits the quoted string into words itself and executes the
/// first word directly (no shell); so do we.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// User id to run as (`user U [G]`, or global `script_user`); `None` = ours.
    pub uid: Option<u32>,
    /// Group id to run as; `None` = the user's primary group, or ours.
    pub gid: Option<u32>,
}

impl Script {
    /// A script run with our own user, from its words.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(argv: I) -> Script {
        Script {
            argv: argv.into_iter().map(Into::into).collect(),
            uid: None,
            gid: None,
        }
    }

    /// Split a keepalived command string (`"cmd arg 'quoted arg'"`) into words: blanks
    /// separate words, single or double quotes group them, as keepalived's `cmd_str`
    /// parsing does for script strings.
    pub fn from_command_line(line: &str) -> Result<Script, SpecError> {
        let mut argv = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => cur.push(c),
                None if c == '\'' || c == '"' => {
                    quote = Some(c);
                    in_word = true;
                }
                None if c == ' ' || c == '\t' => {
                    if in_word {
                        argv.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                }
                None => {
                    cur.push(c);
                    in_word = true;
                }
            }
        }
        if quote.is_some() {
            return Err(SpecError::Script(format!("unterminated quote in {line:?}")));
        }
        if in_word {
            argv.push(cur);
        }
        if argv.is_empty() {
            return Err(SpecError::Script("empty command".into()));
        }
        Ok(Script::new(argv))
    }

    /// Run as `user` (and `group`, else the user's primary group), looked up by name.
    pub fn with_user(mut self, user: &str, group: Option<&str>) -> Result<Script, SpecError> {
        let u = nix::unistd::User::from_name(user)
            .map_err(|e| SpecError::Script(format!("user {user}: {e}")))?
            .ok_or_else(|| SpecError::Script(format!("unknown user {user}")))?;
        let gid = match group {
            Some(g) => {
                nix::unistd::Group::from_name(g)
                    .map_err(|e| SpecError::Script(format!("group {g}: {e}")))?
                    .ok_or_else(|| SpecError::Script(format!("unknown group {g}")))?
                    .gid
            }
            None => u.gid,
        };
        self.uid = Some(u.uid.as_raw());
        self.gid = Some(gid.as_raw());
        Ok(self)
    }

    /// The program name, as keepalived logs it (`args[0]`).
    pub fn program(&self) -> &str {
        self.argv.first().map(String::as_str).unwrap_or("")
    }
}

/// A `virtual_server` block, as far as health checking is concerned.
#[derive(Clone, Debug, PartialEq)]
pub struct VirtualServerSpec {
    /// The service in lvsd (it must exist before checking starts: the checkers add,
    /// edit and delete its real servers, not the service itself). Not used when
    /// [`VirtualServerSpec::group`] is set.
    pub key: ServiceKey,
    /// `virtual_server group NAME`: the services of the group's entries, which every
    /// real server operation applies to (keepalived's `ipvs_group_cmd`).
    pub group: Option<GroupSpec>,
    /// `protocol` of a fwmark service; only used to format log lines
    /// (`[10.0.0.1]:tcp:80`), `none` when absent as in keepalived.
    pub fwmark_protocol: Option<Protocol>,
    /// `lb_kind`: the forwarding method of real servers that set none. Default NAT.
    pub method: Method,
    /// Tunnel settings that go with `lb_kind TUN`.
    pub tunnel: Tunnel,
    /// `delay_loop`. Default 60 s.
    pub delay_loop: Option<Duration>,
    /// `connect_timeout`. Default 5 s.
    pub connect_timeout: Option<Duration>,
    /// `retry`. Default: the checker's own (1, MISC_CHECK 0).
    pub retry: Option<u32>,
    /// `delay_before_retry`. Default: the checker's own (1 s, HTTP/SSL 3 s).
    pub delay_before_retry: Option<Duration>,
    /// `warmup`: the first check starts 1 s plus a random share of this after start-up.
    /// Default: the checker's `delay_loop`.
    pub warmup: Option<Duration>,
    /// `alpha`: checkers start failed.
    pub alpha: bool,
    /// `omega`: run `quorum_down` and `notify_down` on shutdown too.
    pub omega: bool,
    /// `inhibit_on_failure`: default for the real servers.
    pub inhibit_on_failure: bool,
    /// `quorum`. Default 1 (keepalived's default); reduced to the total real-server weight
    /// when larger.
    pub quorum: u32,
    /// `hysteresis`. Default 0; reset to `quorum - 1` when not below `quorum`.
    pub hysteresis: u32,
    /// `quorum_up`.
    pub quorum_up: Option<Script>,
    /// `quorum_down`.
    pub quorum_down: Option<Script>,
    /// `sorry_server IP [PORT]` and `sorry_server_inhibit`.
    pub sorry_server: Option<SorryServerSpec>,
    /// `ha_suspend`: checkers run only while the virtual address is configured here.
    pub ha_suspend: bool,
    /// `virtualhost`: default Host of HTTP_GET/SSL_GET checks.
    pub virtualhost: Option<String>,
    /// The `real_server` blocks.
    pub real_servers: Vec<RealServerSpec>,
}

impl VirtualServerSpec {
    /// A virtual server with keepalived's defaults and no real servers.
    pub fn new(key: ServiceKey) -> VirtualServerSpec {
        VirtualServerSpec {
            key,
            group: None,
            fwmark_protocol: None,
            method: Method::Masq,
            tunnel: Tunnel::default(),
            delay_loop: None,
            connect_timeout: None,
            retry: None,
            delay_before_retry: None,
            warmup: None,
            alpha: false,
            omega: false,
            inhibit_on_failure: false,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            sorry_server: None,
            ha_suspend: false,
            virtualhost: None,
            real_servers: Vec::new(),
        }
    }
}

/// The services of a `virtual_server group NAME` (a `virtual_server_group` block).
///
/// keepalived keeps one virtual server with its real servers and checkers, and applies
/// each real server command to every service of the group: in each address service
/// the real server's port is the service's for DR/TUN and the real server's own (as
/// written, 0 when left out) for NAT; in each fwmark service it is 0 for DR/TUN and the
/// real server's own for NAT. The sorry server's port follows the same rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSpec {
    /// The group's name (keepalived's `FMT_VS` of the virtual server is `[NAME]:0`).
    pub name: String,
    /// The virtual server's `protocol` (log lines only; `None` prints `none`).
    pub protocol: Option<Protocol>,
    /// One service per address of each address entry (with the entry's port), then one
    /// per fwmark entry, in keepalived's order. May be empty.
    pub services: Vec<ServiceKey>,
}

/// `sorry_server IP [PORT]` (+ `sorry_server_inhibit`, `sorry_server_lvs_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SorryServerSpec {
    /// Address.
    pub addr: IpAddr,
    /// Port (0 = the service's, as keepalived fills it in).
    pub port: u16,
    /// `sorry_server_lvs_method`; default the virtual server's.
    pub method: Option<Method>,
    /// `sorry_server_inhibit`: kept in the table with weight 0 while not in use.
    pub inhibit: bool,
}

/// A `real_server` block.
#[derive(Clone, Debug, PartialEq)]
pub struct RealServerSpec {
    /// Address.
    pub addr: IpAddr,
    /// Port as written (0 when left out). The checkers connect here unless they set
    /// `connect_port`; lvsd gets keepalived's corrected port (the service's port for
    /// DR/TUN, 0 for fwmark DR/TUN).
    pub port: u16,
    /// `weight`. Default 1.
    pub weight: i32,
    /// `lvs_method`; default the virtual server's.
    pub method: Option<Method>,
    /// Tunnel settings with `lvs_method TUN`; default the virtual server's.
    pub tunnel: Option<Tunnel>,
    /// `inhibit_on_failure`; default the virtual server's.
    pub inhibit_on_failure: Option<bool>,
    /// `alpha`; default the virtual server's.
    pub alpha: Option<bool>,
    /// `notify_up`.
    pub notify_up: Option<Script>,
    /// `notify_down`.
    pub notify_down: Option<Script>,
    /// `uthreshold` (0 = none).
    pub u_threshold: u32,
    /// `lthreshold` (0 = none).
    pub l_threshold: u32,
    /// `delay_loop`; default the virtual server's.
    pub delay_loop: Option<Duration>,
    /// `connect_timeout`; default the virtual server's.
    pub connect_timeout: Option<Duration>,
    /// `retry`; default the virtual server's.
    pub retry: Option<u32>,
    /// `delay_before_retry`; default the virtual server's.
    pub delay_before_retry: Option<Duration>,
    /// `warmup`; default the virtual server's.
    pub warmup: Option<Duration>,
    /// `virtualhost`: Host of HTTP_GET checks (after the checker's and url's own).
    pub virtualhost: Option<String>,
    /// The checkers. A real server without checkers is always alive.
    pub checkers: Vec<CheckerSpec>,
}

impl RealServerSpec {
    /// A real server with keepalived's defaults and no checkers.
    pub fn new(addr: IpAddr, port: u16) -> RealServerSpec {
        RealServerSpec {
            addr,
            port,
            weight: 1,
            method: None,
            tunnel: None,
            inhibit_on_failure: None,
            alpha: None,
            notify_up: None,
            notify_down: None,
            u_threshold: 0,
            l_threshold: 0,
            delay_loop: None,
            connect_timeout: None,
            retry: None,
            delay_before_retry: None,
            warmup: None,
            virtualhost: None,
            checkers: Vec::new(),
        }
    }
}

/// One checker block with the keywords every checker shares.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckerSpec {
    /// Which checker and its own keywords.
    pub kind: CheckerKind,
    /// `connect_ip`; default the real server's address.
    pub connect_ip: Option<IpAddr>,
    /// `connect_port`; default the real server's port as written.
    pub connect_port: Option<u16>,
    /// `bindto`: source address.
    pub bindto: Option<IpAddr>,
    /// `bind_port`: source port.
    pub bind_port: Option<u16>,
    /// `bind_if`: SO_BINDTODEVICE.
    pub bind_if: Option<String>,
    /// `fwmark`: SO_MARK on the probe's socket.
    pub fwmark: Option<u32>,
    /// `connect_timeout`; default the real server's.
    pub connect_timeout: Option<Duration>,
    /// `retry` (`nb_get_retry`); default the real server's.
    pub retry: Option<u32>,
    /// `delay_before_retry`; default the real server's.
    pub delay_before_retry: Option<Duration>,
    /// `delay_loop`; default the real server's.
    pub delay_loop: Option<Duration>,
    /// `warmup`; default the real server's.
    pub warmup: Option<Duration>,
    /// `alpha`; default the real server's.
    pub alpha: Option<bool>,
    /// `log_all_failures`.
    pub log_all_failures: bool,
}

impl CheckerSpec {
    /// A checker of `kind` with every common keyword left to its default.
    pub fn new(kind: CheckerKind) -> CheckerSpec {
        CheckerSpec {
            kind,
            connect_ip: None,
            connect_port: None,
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            connect_timeout: None,
            retry: None,
            delay_before_retry: None,
            delay_loop: None,
            warmup: None,
            alpha: None,
            log_all_failures: false,
        }
    }
}

/// The checkers.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckerKind {
    /// `TCP_CHECK`: a TCP connect.
    Tcp,
    /// `HTTP_GET` (`tls: false`) and `SSL_GET` (`tls: true`).
    Http(HttpSpec),
    /// `MISC_CHECK`.
    Misc(MiscSpec),
    /// `UDP_CHECK`.
    Udp(UdpSpec),
    /// `PING_CHECK`: ICMP / ICMPv6 echo.
    Ping,
    /// `SMTP_CHECK`: greeting, `HELO`, `QUIT`.
    Smtp(SmtpSpec),
    /// `DNS_CHECK`: one query over UDP.
    Dns(DnsSpec),
    /// `FILE_CHECK`: the value of a `track_file` (no probe; the file is watched).
    File(FileCheckSpec),
}

impl CheckerKind {
    /// The checker's name in keepalived.conf.
    pub fn keyword(&self) -> &'static str {
        match self {
            CheckerKind::Tcp => "TCP_CHECK",
            CheckerKind::Http(h) if h.tls => "SSL_GET",
            CheckerKind::Http(_) => "HTTP_GET",
            CheckerKind::Misc(_) => "MISC_CHECK",
            CheckerKind::Udp(_) => "UDP_CHECK",
            CheckerKind::Ping => "PING_CHECK",
            CheckerKind::Smtp(_) => "SMTP_CHECK",
            CheckerKind::Dns(_) => "DNS_CHECK",
            CheckerKind::File(_) => "FILE_CHECK",
        }
    }
}

/// `http_protocol`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpProtocol {
    /// `1.0` (the default): `GET p HTTP/1.0`, no Connection header.
    #[default]
    V1_0,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    V1_0C,
    /// `1.1`: HTTP/1.1 with `Connection: close`.
    V1_1,
}

/// `HTTP_GET { }` / `SSL_GET { }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSpec {
    /// SSL_GET.
    pub tls: bool,
    /// `url { }` blocks, checked one per run in order; a url without a path is dropped
    /// by the parser as keepalived does. A checker with no url is dropped too
    /// ([`super::Checks::new`] rejects it).
    pub urls: Vec<UrlSpec>,
    /// `virtualhost` of the checker.
    pub virtualhost: Option<String>,
    /// `http_protocol`.
    pub protocol: HttpProtocol,
    /// `fast_recovery`: while down but with no failed url, check again at once.
    pub fast_recovery: bool,
    /// `enable_sni` (SSL_GET): send the virtual host as TLS server name.
    pub enable_sni: bool,
}

impl HttpSpec {
    /// HTTP_GET (or SSL_GET with `tls`) of the given urls, other keywords default.
    pub fn new(tls: bool, urls: Vec<UrlSpec>) -> HttpSpec {
        HttpSpec {
            tls,
            urls,
            virtualhost: None,
            protocol: HttpProtocol::V1_0,
            fast_recovery: false,
            enable_sni: false,
        }
    }
}

/// A `url { }` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlSpec {
    /// `path`.
    pub path: String,
    /// `digest`: MD5 of the body (32 hex digits in the file; see [`parse_digest`]).
    pub digest: Option<[u8; 16]>,
    /// `status_code`: accepted ranges (inclusive). Empty = 200-299.
    pub status_codes: Vec<(u16, u16)>,
    /// `virtualhost` of this url.
    pub virtualhost: Option<String>,
}

impl UrlSpec {
    /// A url with the default status codes and no digest.
    pub fn new(path: impl Into<String>) -> UrlSpec {
        UrlSpec {
            path: path.into(),
            digest: None,
            status_codes: Vec::new(),
            virtualhost: None,
        }
    }

    /// Whether `code` is accepted (keepalived: 100..=599 only; default 200-299).
    pub fn accepts(&self, code: u16) -> bool {
        if !(100..=599).contains(&code) {
            return false;
        }
        if self.status_codes.is_empty() {
            return (200..=299).contains(&code);
        }
        self.status_codes
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&code))
    }
}

/// `MISC_CHECK { }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MiscSpec {
    /// `misc_path` (with `user`).
    pub script: Script,
    /// `misc_timeout`; default the virtual server's `delay_loop`.
    pub timeout: Option<Duration>,
    /// `misc_dynamic`: exit 2..=255 means up with weight `status - 2`.
    pub dynamic: bool,
}

/// `UDP_CHECK { }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpSpec {
    /// `payload HEX`; default 32 bytes of `keepalived check - ` repeated.
    pub payload: Option<Vec<u8>>,
    /// `require_reply`: no answer within `connect_timeout` is a failure (without it only
    /// an ICMP unreachable is).
    pub require_reply: bool,
    /// `require_reply HEX`: the reply must start with these bytes (x = any nibble).
    pub reply: Option<HexPattern>,
    /// `min_reply_length` (checked only with a reply pattern). Default 0.
    pub min_reply_length: u16,
    /// `max_reply_length` (checked only with a reply pattern). Default 255.
    pub max_reply_length: u16,
}

impl Default for UdpSpec {
    fn default() -> UdpSpec {
        UdpSpec {
            payload: None,
            require_reply: false,
            reply: None,
            min_reply_length: 0,
            max_reply_length: 255,
        }
    }
}

/// `SMTP_CHECK { }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpSpec {
    /// `helo_name`; default [`SMTP_DEFAULT_HELO`].
    pub helo_name: String,
}

/// keepalived's `SMTP_DEFAULT_HELO`.
pub const SMTP_DEFAULT_HELO: &str = "smtpchecker.keepalived.org";

impl Default for SmtpSpec {
    fn default() -> SmtpSpec {
        SmtpSpec {
            helo_name: SMTP_DEFAULT_HELO.to_string(),
        }
    }
}

/// The query types `DNS_CHECK type` knows (keepalived 2.2.7's `DNS_TYPE` table), with
/// their numbers.
pub const DNS_TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
    ("RRSIG", 46),
    ("DNSKEY", 48),
];

/// The number of a `DNS_CHECK type` word (case-insensitive, as keepalived's `strcasecmp`).
pub fn dns_type(word: &str) -> Option<u16> {
    DNS_TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(word))
        .map(|&(_, t)| t)
}

/// `DNS_CHECK { }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSpec {
    /// `type`, as a number (see [`dns_type`]). Default SOA (6).
    pub qtype: u16,
    /// `name`. Default `.` (the root; keepalived's default `""` encodes the same).
    pub name: String,
}

impl Default for DnsSpec {
    fn default() -> DnsSpec {
        DnsSpec {
            qtype: 6,
            name: ".".to_string(),
        }
    }
}

/// `FILE_CHECK { track_file NAME; weight W [reverse] }` with its `track_file` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCheckSpec {
    /// The `track_file` block's name (log lines; files with the same name are one file).
    pub name: String,
    /// Its `file`.
    pub path: std::path::PathBuf,
    /// `weight` of the FILE_CHECK, else of the track_file (default 1). 0: any non-zero
    /// value is a failure; otherwise value × weight is added to the real server's weight.
    pub weight: i32,
    /// `reverse`: the weight is negated (with weight 0: a zero value is the failure).
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]` of the track_file: write VALUE (default 0) when the
    /// file is missing (`overwrite`: also when it exists and is a regular file).
    pub init: Option<(i32, bool)>,
}

/// A hex string with wildcards, as keepalived's `read_hex_str` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexPattern {
    /// The bytes (wildcard nibbles are 0).
    pub data: Vec<u8>,
    /// Per byte, the bits that are wildcards.
    pub mask: Vec<u8>,
}

impl HexPattern {
    /// Parse `"0a 0B xx 1f"`: hex digits, blanks between bytes allowed, and (when
    /// `wildcards`) `x`/`X` for any nibble. A byte may be one digit when followed by a
    /// blank or the end. Errors on anything else or an empty string.
    pub fn parse(s: &str, wildcards: bool) -> Result<HexPattern, SpecError> {
        fn nibble(c: u8, wild: bool) -> Option<(u8, u8)> {
            match c {
                b'0'..=b'9' => Some((c - b'0', 0)),
                b'a'..=b'f' => Some((c - b'a' + 10, 0)),
                b'A'..=b'F' => Some((c - b'A' + 10, 0)),
                b'x' | b'X' if wild => Some((0, 0x0f)),
                _ => None,
            }
        }
        let bad = || SpecError::Hex(s.to_string());
        let b = s.as_bytes();
        let (mut data, mut mask) = (Vec::new(), Vec::new());
        let mut i = 0;
        loop {
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            let (mut v, mut m) = nibble(b[i], wildcards).ok_or_else(bad)?;
            i += 1;
            if i < b.len() && b[i] != b' ' && b[i] != b'\t' {
                let (v2, m2) = nibble(b[i], wildcards).ok_or_else(bad)?;
                i += 1;
                v = (v << 4) | v2;
                m = (m << 4) | m2;
            }
            data.push(v);
            mask.push(m);
        }
        if data.is_empty() {
            return Err(bad());
        }
        Ok(HexPattern { data, mask })
    }

    /// Whether `reply` matches on the shorter of the two lengths, as keepalived compares.
    pub fn matches(&self, reply: &[u8]) -> bool {
        reply
            .iter()
            .zip(self.data.iter().zip(&self.mask))
            .all(|(r, (d, m))| (r ^ d) & !m == 0)
    }
}

/// Parse a `digest` value: exactly 32 hex digits.
pub fn parse_digest(s: &str) -> Result<[u8; 16], SpecError> {
    let bad = || SpecError::Digest(s.to_string());
    if s.len() != 32 || !s.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Parse a `status_code` word: `200` or `200-299`, within 100..=599.
pub fn parse_status_range(s: &str) -> Result<(u16, u16), SpecError> {
    let bad = || SpecError::StatusCode(s.to_string());
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let v = s.parse::<u16>().map_err(|_| bad())?;
            (v, v)
        }
    };
    if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// A specification the checkers cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// A script string or user.
    #[error("script: {0}")]
    Script(String),
    /// A hex string.
    #[error("invalid hex string {0:?}")]
    Hex(String),
    /// A digest.
    #[error("digest {0:?} should be 32 hex digits")]
    Digest(String),
    /// A status code.
    #[error("invalid HTTP_GET status code {0:?}")]
    StatusCode(String),
    /// An HTTP_GET/SSL_GET without urls.
    #[error("{vs} {rs}: HTTP/SSL_GET checker has no urls specified")]
    NoUrls {
        /// The virtual server.
        vs: String,
        /// The real server.
        rs: String,
    },
    /// A MISC_CHECK without a program.
    #[error("{vs} {rs}: MISC_CHECK has no misc_path")]
    NoMiscPath {
        /// The virtual server.
        vs: String,
        /// The real server.
        rs: String,
    },
    /// A DNS_CHECK name that cannot be encoded (a label longer than 63 bytes, a name
    /// longer than 255).
    #[error("DNS_CHECK name {0:?} cannot be encoded in a query")]
    DnsName(String),
    /// `ha_suspend` on a fwmark service (keepalived clears it with an error).
    #[error("virtual server {0}: cannot use ha_suspend with fwmarks")]
    HaSuspendFwmark(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_patterns_as_keepalived_reads_them() {
        let p = HexPattern::parse("0a 0B x1 f", true).unwrap();
        assert_eq!(p.data, vec![0x0a, 0x0b, 0x01, 0x0f]);
        assert_eq!(p.mask, vec![0, 0, 0xf0, 0]);
        assert!(p.matches(&[0x0a, 0x0b, 0x71, 0x0f, 0x99]));
        assert!(p.matches(&[0x0a]));
        assert!(!p.matches(&[0x0a, 0x0c]));
        assert!(!p.matches(&[0x0a, 0x0b, 0x72]));
        assert_eq!(
            HexPattern::parse("deadbeef", false).unwrap().data,
            vec![0xde, 0xad, 0xbe, 0xef]
        );
        assert!(HexPattern::parse("x1", false).is_err());
        assert!(HexPattern::parse("zz", true).is_err());
        assert!(HexPattern::parse("  ", true).is_err());
    }

    #[test]
    fn digests_and_status_codes() {
        let d = parse_digest("9b3a0c85a887a256d6939da88aabd8cd").unwrap();
        assert_eq!(d[0], 0x9b);
        assert_eq!(d[15], 0xcd);
        assert!(parse_digest("9b3a").is_err());
        assert!(parse_digest("zz3a0c85a887a256d6939da88aabd8cd").is_err());
        assert_eq!(parse_status_range("200-299").unwrap(), (200, 299));
        assert_eq!(parse_status_range("404").unwrap(), (404, 404));
        assert!(parse_status_range("99").is_err());
        assert!(parse_status_range("300-200").is_err());
        assert!(parse_status_range("2xx").is_err());
        let mut u = UrlSpec::new("/");
        assert!(u.accepts(204) && !u.accepts(301) && !u.accepts(0));
        u.status_codes = vec![(301, 302), (404, 404)];
        assert!(u.accepts(302) && u.accepts(404) && !u.accepts(200));
    }

    #[test]
    fn command_lines_split_like_keepalived() {
        let s = Script::from_command_line("/bin/check  -x 'a b' \"c d\"e").unwrap();
        assert_eq!(s.argv, vec!["/bin/check", "-x", "a b", "c de"]);
        assert!(Script::from_command_line("  ").is_err());
        assert!(Script::from_command_line("/bin/x 'open").is_err());
        let r = Script::new(["/bin/true"]).with_user("root", None).unwrap();
        assert_eq!((r.uid, r.gid), (Some(0), Some(0)));
        assert!(
            Script::new(["x"])
                .with_user("no-such-user-here", None)
                .is_err()
        );
    }
}
