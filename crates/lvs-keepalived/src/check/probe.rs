//! The probes: one async function per checker, each returning an [`Outcome`].
//!
//! They send what keepalived sends: a bare TCP connect (TCP_CHECK); `GET path HTTP/1.x`
//! with keepalived's User-Agent and Host (HTTP_GET), the same inside TLS (SSL_GET); the
//! `keepalived check - ` payload over UDP, where an ICMP unreachable is the failure
//! (UDP_CHECK); an ICMP/ICMPv6 echo with 128 bytes of payload (PING_CHECK); and they run
//! MISC_CHECK scripts in their own process group, killed when `misc_timeout` passes;
//! SMTP_CHECK reads the greeting, says `HELO` and `QUIT` ([`SmtpDialogue`]); DNS_CHECK
//! sends one query over UDP ([`dns_query`], judged by [`dns_reply`]). FILE_CHECK has no
//! probe: the driver watches the file ([`read_track_file`] reads it).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use md5::{Digest, Md5};
use socket2::{Domain, SockAddr, Socket, Type};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

use super::spec::{
    CheckerKind, DnsSpec, HttpProtocol, HttpSpec, MiscSpec, Script, SmtpSpec, SpecError, UdpSpec,
};
use super::state::{CheckerConf, DnsFail, FailReason, Outcome, SmtpFail};

/// Run the probe of `conf` (for HTTP_GET/SSL_GET: of url number `url`).
pub async fn probe(conf: &CheckerConf, url: usize) -> Outcome {
    match &conf.kind {
        CheckerKind::Tcp => tcp_check(conf).await,
        CheckerKind::Http(h) => http_get(conf, h, url).await,
        CheckerKind::Misc(m) => misc_check(m, conf.misc_timeout).await,
        CheckerKind::Udp(u) => udp_check(conf, u).await,
        CheckerKind::Ping => ping_check(conf).await,
        CheckerKind::Smtp(sm) => smtp_check(conf, sm).await,
        CheckerKind::Dns(d) => dns_check(conf, d).await,
        // Never due: the driver watches the file instead.
        CheckerKind::File(_) => Outcome::Skipped("FILE_CHECK has no probe".into()),
    }
}

/// The 32-byte UDP payload (and ICMP filler) keepalived sends: `keepalived check - `
/// repeated (`set_buf`).
pub fn keepalived_filler(len: usize) -> Vec<u8> {
    b"keepalived check - "
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

fn connect_error(e: &io::Error) -> FailReason {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown => FailReason::ConnectFailed,
        K::TimedOut => FailReason::Timeout,
        _ => match e.raw_os_error() {
            Some(nix::libc::EHOSTDOWN) => FailReason::ConnectFailed,
            _ => FailReason::Io(e.to_string()),
        },
    }
}

/// A socket with the checker's source address, device and mark applied.
fn socket_for(conf: &CheckerConf, ty: Type, proto: socket2::Protocol) -> io::Result<Socket> {
    let domain = Domain::for_address(conf.target);
    let s = Socket::new(domain, ty, Some(proto))?;
    s.set_nonblocking(true)?;
    if let Some(m) = conf.fwmark {
        s.set_mark(m)?;
    }
    if let Some(dev) = &conf.bind_if {
        s.bind_device(Some(dev.as_bytes()))?;
    }
    if let Some(b) = conf.bind {
        s.bind(&SockAddr::from(b))?;
    }
    Ok(s)
}

enum Connect {
    Ok(tokio::net::TcpStream),
    /// keepalived reschedules without a verdict when its own socket cannot be set up.
    Local(String),
    Failed(FailReason),
}

async fn tcp_connect(conf: &CheckerConf) -> Connect {
    let s = match socket_for(conf, Type::STREAM, socket2::Protocol::TCP) {
        Ok(s) => s,
        Err(e) => return Connect::Local(format!("TCP socket bind failed: {e}")),
    };
    let sock = tokio::net::TcpSocket::from_std_stream(s.into());
    match timeout(conf.connect_timeout, sock.connect(conf.target)).await {
        Err(_) => Connect::Failed(FailReason::Timeout),
        Ok(Err(e)) => Connect::Failed(connect_error(&e)),
        Ok(Ok(st)) => Connect::Ok(st),
    }
}

async fn tcp_check(conf: &CheckerConf) -> Outcome {
    match tcp_connect(conf).await {
        Connect::Ok(_) => Outcome::Success,
        Connect::Local(why) => Outcome::Skipped(why),
        Connect::Failed(r) => Outcome::Failure(r),
    }
}

/// The request keepalived sends for `path`.
pub fn http_request(path: &str, host: &str, protocol: HttpProtocol) -> String {
    let (minor, close) = match protocol {
        HttpProtocol::V1_0 => (0, ""),
        HttpProtocol::V1_0C => (0, "Connection: close\r\n"),
        HttpProtocol::V1_1 => (1, "Connection: close\r\n"),
    };
    format!(
        "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n"
    )
}

/// keepalived's `extract_status_code`: the three digits after the first space, which must
/// be followed by a space; 0 when the line is not like that.
pub fn extract_status_code(head: &[u8]) -> u16 {
    let Some(sp) = head.iter().position(|&b| b == b' ' || b == b'\r') else {
        return 0;
    };
    if head[sp] != b' ' {
        return 0;
    }
    let rest = &head[sp + 1..];
    if rest.len() < 4 || rest[0] == b' ' || rest[3] != b' ' {
        return 0;
    }
    if !rest[..3].iter().all(u8::is_ascii_digit) {
        return 0;
    }
    rest[..3]
        .iter()
        .fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'))
}

/// keepalived's `extract_content_length`: the value after `Content-Length:` (exact case),
/// if a number ending the line.
pub fn extract_content_length(head: &[u8]) -> Option<usize> {
    const TAG: &[u8] = b"Content-Length:";
    let at = head.windows(TAG.len()).position(|w| w == TAG)?;
    let rest = &head[at + TAG.len()..];
    let rest = &rest[rest
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count()..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    match rest.get(digits) {
        None | Some(b'\r') | Some(b'\n') => {}
        Some(_) => return None,
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// What a response stream gave: its status, and the MD5 of its body (up to
/// Content-Length when given), or `None` when no complete header arrived.
#[derive(Debug, Default)]
pub struct HttpResponse {
    head: Vec<u8>,
    extracted: bool,
    status: u16,
    content_len: Option<usize>,
    body_len: usize,
    md5: Md5,
}

/// keepalived reads a header of at most this many bytes (`MAX_BUFFER_LENGTH - 1`).
const MAX_HEAD: usize = 4095;

impl HttpResponse {
    /// Feed received bytes. Returns false when the header is too long to ever complete.
    pub fn feed(&mut self, mut data: &[u8]) -> bool {
        if !self.extracted {
            let start = self.head.len().saturating_sub(3);
            self.head.extend_from_slice(data);
            match self.head[start..].windows(4).position(|w| w == b"\r\n\r\n") {
                Some(p) => {
                    let end = start + p + 4;
                    self.extracted = true;
                    self.status = extract_status_code(&self.head[..end]);
                    self.content_len = extract_content_length(&self.head[..end]);
                    let body = self.head.split_off(end);
                    data = &[];
                    self.body(&body);
                }
                None => return self.head.len() <= MAX_HEAD,
            }
        }
        self.body(data);
        true
    }

    fn body(&mut self, data: &[u8]) {
        let take = match self.content_len {
            Some(n) => data.len().min(n.saturating_sub(self.body_len)),
            None => data.len(),
        };
        self.md5.update(&data[..take]);
        self.body_len += data.len();
    }

    /// Whether a complete header was seen.
    pub fn complete(&self) -> bool {
        self.extracted
    }

    /// The status code (0 if malformed).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The MD5 of the body.
    pub fn digest(self) -> [u8; 16] {
        self.md5.finalize().into()
    }
}

/// The verdict keepalived gives a finished response for `url`.
fn judge(resp: HttpResponse, url: &super::spec::UrlSpec) -> Outcome {
    if !resp.complete() {
        return Outcome::Failure(FailReason::NoData);
    }
    if !url.accepts(resp.status()) {
        return Outcome::Failure(FailReason::Status(resp.status()));
    }
    if let Some(want) = url.digest
        && resp.digest() != want
    {
        return Outcome::Failure(FailReason::Digest);
    }
    Outcome::Success
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    req: &[u8],
    io_timeout: Duration,
    tls: bool,
) -> Result<HttpResponse, FailReason> {
    match timeout(io_timeout, s.write_all(req)).await {
        Err(_) => return Err(FailReason::Timeout),
        Ok(Err(e)) => return Err(FailReason::Io(e.to_string())),
        Ok(Ok(())) => {}
    }
    let _ = timeout(io_timeout, s.flush()).await;
    let mut resp = HttpResponse::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match timeout(io_timeout, s.read(&mut buf)).await {
            Err(_) => return Err(FailReason::Timeout),
            Ok(Ok(0)) => return Ok(resp),
            Ok(Ok(n)) => {
                if !resp.feed(&buf[..n]) {
                    return Ok(resp);
                }
            }
            // keepalived (ssl_read_thread) judges what it has once the header arrived,
            // whatever ended the TLS stream (a missing close_notify included).
            Ok(Err(_)) if tls && resp.complete() => return Ok(resp),
            Ok(Err(e)) if tls => return Err(FailReason::Tls(e.to_string())),
            Ok(Err(e)) => return Err(FailReason::Io(e.to_string())),
        }
    }
}

async fn http_get(conf: &CheckerConf, h: &HttpSpec, url: usize) -> Outcome {
    let Some(u) = h.urls.get(url) else {
        return Outcome::Skipped(format!("no url {url}"));
    };
    let host = conf.http_hosts.get(url).cloned().unwrap_or_default();
    let req = http_request(&u.path, &host, h.protocol);
    let mut stream = match tcp_connect(conf).await {
        Connect::Ok(s) => s,
        Connect::Local(why) => return Outcome::Skipped(why),
        Connect::Failed(r) => return Outcome::Failure(r),
    };
    let result = if h.tls {
        let sni = conf.sni.get(url).cloned().flatten();
        let (config, name) = match &sni {
            Some(n) => match rustls::pki_types::ServerName::try_from(n.clone()) {
                Ok(name) => (tls_config(true), name),
                Err(_) => (tls_config(false), conf.target.ip().into()),
            },
            None => (tls_config(false), conf.target.ip().into()),
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        match timeout(conf.connect_timeout, connector.connect(name, stream)).await {
            Err(_) => Err(FailReason::Timeout),
            Ok(Err(e)) => Err(FailReason::Tls(e.to_string())),
            Ok(Ok(mut tls)) => exchange(&mut tls, req.as_bytes(), conf.connect_timeout, true).await,
        }
    } else {
        exchange(&mut stream, req.as_bytes(), conf.connect_timeout, false).await
    };
    match result {
        Ok(resp) => judge(resp, u),
        Err(r) => Outcome::Failure(r),
    }
}

/// keepalived verifies no server certificate (it never calls `SSL_CTX_set_verify`); the
/// handshake signatures are still checked, so the server must hold the key of the
/// certificate it presents.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(sni: bool) -> Arc<rustls::ClientConfig> {
    static WITH_SNI: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    static WITHOUT_SNI: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let cell = if sni { &WITH_SNI } else { &WITHOUT_SNI };
    cell.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut c = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        c.enable_sni = sni;
        Arc::new(c)
    })
    .clone()
}

async fn udp_check(conf: &CheckerConf, u: &UdpSpec) -> Outcome {
    // keepalived: a socket, bind, connect or send error is a failed check here.
    let sock = match socket_for(conf, Type::DGRAM, socket2::Protocol::UDP)
        .and_then(|s| {
            s.connect(&SockAddr::from(conf.target))?;
            Ok(s)
        })
        .and_then(|s| tokio::net::UdpSocket::from_std(s.into()))
    {
        Ok(s) => s,
        Err(e) => return Outcome::Failure(connect_error(&e)),
    };
    let payload = u.payload.clone().unwrap_or_else(|| keepalived_filler(32));
    match sock.send(&payload).await {
        Ok(n) if n == payload.len() => {}
        Ok(n) => return Outcome::Failure(FailReason::Io(format!("sent {n} bytes"))),
        Err(e) => return Outcome::Failure(connect_error(&e)),
    }
    let mut buf = vec![0u8; usize::from(u.max_reply_length) + 1];
    match timeout(conf.connect_timeout, sock.recv(&mut buf)).await {
        Err(_) if u.require_reply => Outcome::Failure(FailReason::Timeout),
        Err(_) => Outcome::Success,
        Ok(Err(e)) => Outcome::Failure(connect_error(&e)),
        Ok(Ok(n)) => match &u.reply {
            Some(p)
                if n < usize::from(u.min_reply_length)
                    || n > usize::from(u.max_reply_length)
                    || !p.matches(&buf[..n]) =>
            {
                Outcome::Failure(FailReason::ReplyMismatch)
            }
            _ => Outcome::Success,
        },
    }
}

/// The ICMP (or ICMPv6) echo request keepalived sends: 8-byte header, 128 bytes filler.
fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&keepalived_filler(128));
    if !v6 {
        let c = inet_checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071).
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

static PING_SEQ: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

async fn ping_check(conf: &CheckerConf) -> Outcome {
    let v6 = conf.target.is_ipv6();
    let proto = if v6 {
        socket2::Protocol::ICMPV6
    } else {
        socket2::Protocol::ICMPV4
    };
    let seq = PING_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // An unprivileged ICMP socket first (the kernel picks the id and filters replies);
    // where ping_group_range forbids it, a raw socket (root) that we filter ourselves.
    let (sock, raw) = match socket_for(conf, Type::DGRAM, proto) {
        Ok(s) => (s, false),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            match socket_for(conf, Type::RAW, proto) {
                Ok(s) => (s, true),
                Err(e) => return Outcome::Skipped(format!("ICMP socket: {e}")),
            }
        }
        Err(e) => return Outcome::Skipped(format!("ICMP socket: {e}")),
    };
    let id = (std::process::id() as u16) ^ 0x4b41;
    let sock = match tokio::net::UdpSocket::from_std(sock.into()) {
        Ok(s) => s,
        Err(e) => return Outcome::Skipped(format!("ICMP socket: {e}")),
    };
    let dst = SocketAddr::new(conf.target.ip(), 0);
    if let Err(e) = sock.send_to(&echo_request(v6, id, seq), dst).await {
        return Outcome::Failure(connect_error(&e));
    }
    let reply_type = if v6 { 129 } else { 0 };
    let wait = async {
        let mut buf = [0u8; 2048];
        loop {
            let (n, from) = sock.recv_from(&mut buf).await?;
            let mut pkt = &buf[..n];
            if raw {
                if from.ip() != conf.target.ip() {
                    continue;
                }
                if !v6 {
                    let ihl = usize::from(pkt.first().map_or(0, |b| b & 0x0f)) * 4;
                    pkt = pkt.get(ihl..).unwrap_or(&[]);
                }
                if pkt.len() < 8
                    || pkt[0] != reply_type
                    || pkt[4..6] != id.to_be_bytes()
                    || pkt[6..8] != seq.to_be_bytes()
                {
                    continue;
                }
            }
            if pkt.len() < 8 {
                return Ok::<bool, io::Error>(false);
            }
            return Ok(pkt[0] == reply_type);
        }
    };
    match timeout(conf.connect_timeout, wait).await {
        Err(_) => Outcome::Failure(FailReason::Timeout),
        Ok(Err(e)) => Outcome::Failure(connect_error(&e)),
        Ok(Ok(true)) => Outcome::Success,
        Ok(Ok(false)) => Outcome::Failure(FailReason::Io("unexpected ICMP packet".into())),
    }
}

/// keepalived's `SMTP_BUFF_MAX`: a line is read into 512 bytes (one kept for the NUL).
const SMTP_BUFF_MAX: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SmtpState {
    Banner,
    Helo,
    Quit,
}

/// What the SMTP dialogue wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmtpStep {
    /// Read more (at most [`SmtpDialogue::read_capacity`] bytes).
    Read,
    /// Write this line, then read the answer.
    Send(Vec<u8>),
    /// The dialogue is over: the server passed.
    Success,
    /// The dialogue is over: the server failed.
    Failed(SmtpFail),
}

/// The sans-IO SMTP_CHECK dialogue (keepalived's `smtp_engine_thread`): read the greeting,
/// which must have status 220; send `HELO name`; read a reply with status 250; send
/// `QUIT`; read one more line, whatever it says.
///
/// As keepalived reads: each reply starts with an empty 512-byte buffer, filled until a
/// newline appears before the first NUL byte; bytes after that newline are dropped; a
/// buffer that fills without a newline is emptied and reading goes on. The status is the
/// three digits at the start of the line, which must be followed by a space or the end of
/// the line (so `220-` continuation lines and `220\r` fail, as in keepalived).
#[derive(Clone, Debug)]
pub struct SmtpDialogue {
    helo: String,
    state: SmtpState,
    buf: Vec<u8>,
}

/// keepalived's `smtp_get_status`: the number `strtoul` reads at the start of `line`, if it
/// is three characters long and followed by a space or the end.
pub fn smtp_status(line: &[u8]) -> Option<u16> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    match line.get(3) {
        None | Some(b' ') => {}
        Some(_) => return None,
    }
    Some(
        line[..3]
            .iter()
            .fold(0u16, |a, &d| a * 10 + u16::from(d - b'0')),
    )
}

impl SmtpDialogue {
    /// A dialogue that will greet with `HELO helo_name`.
    pub fn new(helo_name: &str) -> SmtpDialogue {
        SmtpDialogue {
            helo: helo_name.to_string(),
            state: SmtpState::Banner,
            buf: Vec::with_capacity(SMTP_BUFF_MAX),
        }
    }

    /// How many bytes the next read may take (keepalived reads into what is left of its
    /// buffer; a full buffer is emptied first).
    pub fn read_capacity(&mut self) -> usize {
        if self.buf.len() >= SMTP_BUFF_MAX - 1 {
            self.buf.clear();
        }
        SMTP_BUFF_MAX - 1 - self.buf.len()
    }

    /// Feed bytes read from the server (at most [`SmtpDialogue::read_capacity`]).
    pub fn feed(&mut self, data: &[u8]) -> SmtpStep {
        let room = self.read_capacity();
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        // strchr() stops at the first NUL.
        let text_end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.buf.len());
        let Some(nl) = self.buf[..text_end].iter().position(|&b| b == b'\n') else {
            return SmtpStep::Read;
        };
        let status = smtp_status(&self.buf[..nl]);
        self.buf.clear();
        match self.state {
            SmtpState::Banner if status == Some(220) => {
                self.state = SmtpState::Helo;
                SmtpStep::Send(format!("HELO {}\r\n", self.helo).into_bytes())
            }
            SmtpState::Banner => SmtpStep::Failed(SmtpFail::BadGreeting),
            SmtpState::Helo if status == Some(250) => {
                self.state = SmtpState::Quit;
                SmtpStep::Send(b"QUIT\r\n".to_vec())
            }
            SmtpState::Helo => SmtpStep::Failed(SmtpFail::BadHelo),
            SmtpState::Quit => SmtpStep::Success,
        }
    }

    /// The server closed the connection (or the read failed) before a full line.
    pub fn closed(&self) -> SmtpStep {
        SmtpStep::Failed(SmtpFail::ReadFailure)
    }
}

async fn smtp_check(conf: &CheckerConf, sm: &SmtpSpec) -> Outcome {
    let s = match socket_for(conf, Type::STREAM, socket2::Protocol::TCP) {
        Ok(s) => s,
        Err(_) => return Outcome::Skipped("SMTP_CHECK socket bind failed".into()),
    };
    let sock = tokio::net::TcpSocket::from_std_stream(s.into());
    let fail = |f| Outcome::Failure(FailReason::Smtp(f));
    let mut stream = match timeout(conf.connect_timeout, sock.connect(conf.target)).await {
        Err(_) => return fail(SmtpFail::ConnectTimeout),
        Ok(Err(e)) if e.kind() == io::ErrorKind::NetworkUnreachable => {
            return fail(SmtpFail::NetworkUnreachable);
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::TimedOut => {
            return fail(SmtpFail::ConnectTimeout);
        }
        Ok(Err(_)) => return fail(SmtpFail::ConnectError),
        Ok(Ok(st)) => st,
    };
    let mut d = SmtpDialogue::new(&sm.helo_name);
    let mut buf = [0u8; SMTP_BUFF_MAX];
    loop {
        let cap = d.read_capacity();
        let step = match timeout(conf.connect_timeout, stream.read(&mut buf[..cap])).await {
            Err(_) => return fail(SmtpFail::ReadTimeout),
            Ok(Ok(0)) | Ok(Err(_)) => d.closed(),
            Ok(Ok(n)) => d.feed(&buf[..n]),
        };
        match step {
            SmtpStep::Read => {}
            SmtpStep::Send(line) => {
                match timeout(conf.connect_timeout, stream.write_all(&line)).await {
                    Err(_) => return fail(SmtpFail::WriteTimeout),
                    Ok(Err(_)) => return fail(SmtpFail::WriteFailure),
                    Ok(Ok(())) => {}
                }
            }
            SmtpStep::Success => return Outcome::Success,
            SmtpStep::Failed(f) => return fail(f),
        }
    }
}

/// The DNS_CHECK query (keepalived's `dns_make_query`): header with `id`, RD set, one
/// question; QNAME from the dot-separated labels of `name` (`.` and `""` are the root, a
/// trailing dot is allowed), class IN. Errors on a label over 63 bytes or a name over
/// 255 bytes encoded (keepalived would write a broken packet).
pub fn dns_query(id: u16, qtype: u16, name: &str) -> Result<Vec<u8>, SpecError> {
    let mut p = Vec::with_capacity(18 + name.len());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&0x0100u16.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    let qname_start = p.len();
    if name != "." {
        let trimmed = name.strip_suffix('.').unwrap_or(name);
        if !trimmed.is_empty() {
            for label in trimmed.split('.') {
                if label.len() > 63 {
                    return Err(SpecError::DnsName(name.to_string()));
                }
                p.push(label.len() as u8);
                p.extend_from_slice(label.as_bytes());
            }
        }
    }
    p.push(0);
    if p.len() - qname_start > 255 {
        return Err(SpecError::DnsName(name.to_string()));
    }
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    Ok(p)
}

/// What a datagram received by DNS_CHECK means (keepalived's `dns_recv_thread`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsReply {
    /// Not an answer to the query: shorter than 8 bytes (keepalived compares with the size
    /// of a pointer), another id, or QR clear. Keep waiting.
    Ignore,
    /// An answer with RCODE 0: success, whatever the sections hold (keepalived reads
    /// nothing past the flags: no answer records are required, TC is not looked at).
    Success,
    /// An answer with this non-zero RCODE: failure.
    Rcode(u8),
}

/// Judge `reply` to the query with id `id`.
pub fn dns_reply(id: u16, reply: &[u8]) -> DnsReply {
    if reply.len() < 8 || reply[0..2] != id.to_be_bytes() {
        return DnsReply::Ignore;
    }
    let flags = u16::from_be_bytes([reply[2], reply[3]]);
    if flags & 0x8000 == 0 {
        return DnsReply::Ignore;
    }
    match (flags & 0x000f) as u8 {
        0 => DnsReply::Success,
        rc => DnsReply::Rcode(rc),
    }
}

/// A query id: keepalived takes `random()`; any unpredictable 16 bits do.
fn dns_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.finish() as u16
}

async fn dns_check(conf: &CheckerConf, d: &DnsSpec) -> Outcome {
    let fail = |f| Outcome::Failure(FailReason::Dns(f));
    let s = match socket_for(conf, Type::DGRAM, socket2::Protocol::UDP) {
        Ok(s) => s,
        Err(_) => return Outcome::Skipped("UDP socket bind failed".into()),
    };
    if let Err(e) = s.connect(&SockAddr::from(conf.target)) {
        return match e.kind() {
            io::ErrorKind::NetworkUnreachable => fail(DnsFail::NetworkUnreachable),
            _ => fail(DnsFail::ConnectionError),
        };
    }
    let sock = match tokio::net::UdpSocket::from_std(s.into()) {
        Ok(s) => s,
        Err(_) => return Outcome::Skipped("UDP socket bind failed".into()),
    };
    let id = dns_id();
    let query = match dns_query(id, d.qtype, &d.name) {
        Ok(q) => q,
        Err(e) => return Outcome::Skipped(e.to_string()),
    };
    let exchange = async {
        match sock.send(&query).await {
            Ok(n) if n == query.len() => {}
            Ok(_) => return fail(DnsFail::ShortWrite),
            Err(_) => return fail(DnsFail::WriteFailed),
        }
        let mut buf = [0u8; 768];
        loop {
            match sock.recv(&mut buf).await {
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(0);
                    return fail(DnsFail::ReadError(errno));
                }
                Ok(n) => match dns_reply(id, &buf[..n]) {
                    DnsReply::Ignore => continue,
                    DnsReply::Success => return Outcome::Success,
                    DnsReply::Rcode(rc) => return fail(DnsFail::Rcode(rc)),
                },
            }
        }
    };
    // One deadline for the whole exchange, as keepalived's `thread->sands`.
    match timeout(conf.connect_timeout, exchange).await {
        Err(_) => fail(DnsFail::ReadTimeout),
        Ok(o) => o,
    }
}

/// keepalived's `strtol(buf, NULL, 0)`: blanks, a sign, then `0x` hex, `0` octal or
/// decimal digits, up to the first other character; 0 when there are no digits; `None`
/// on overflow (ERANGE).
pub fn strtol0(s: &[u8]) -> Option<i64> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut radix = 10u32;
    if s.get(i) == Some(&b'0') {
        if matches!(s.get(i + 1), Some(b'x' | b'X'))
            && s.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            radix = 16;
            i += 2;
        } else {
            radix = 8;
        }
    }
    // Magnitude up to 2^63 (i64::MIN's).
    let mut v: u64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(radix)) {
        match v
            .checked_mul(u64::from(radix))
            .and_then(|x| x.checked_add(u64::from(d)))
        {
            Some(x) if x <= 1 << 63 => v = x,
            _ => overflow = true,
        }
        i += 1;
    }
    if overflow || (!neg && v > i64::MAX as u64) {
        return None;
    }
    Some(if neg {
        (v as i128).wrapping_neg() as i64
    } else {
        v as i64
    })
}

/// What reading a tracked file gives (keepalived's `process_track_file`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackFileValue {
    /// The value (0 for a missing, unreadable or empty file, or no number).
    Value(i64),
    /// A number outside `i32::MIN..=i32::MAX + 1` (or beyond `long`): keepalived logs
    /// `Invalid number N read from PATH - ignoring` and keeps the previous value.
    Invalid(i64),
}

/// Parse the first 127 bytes of a tracked file as keepalived does.
pub fn track_file_value(content: &[u8]) -> TrackFileValue {
    let head = &content[..content.len().min(127)];
    // The C string ends at the first NUL.
    let head = &head[..head.iter().position(|&b| b == 0).unwrap_or(head.len())];
    match strtol0(head) {
        None => TrackFileValue::Invalid(if head.trim_ascii_start().starts_with(b"-") {
            i64::MIN
        } else {
            i64::MAX
        }),
        Some(v) if v < i64::from(i32::MIN) || v > i64::from(i32::MAX) + 1 => {
            TrackFileValue::Invalid(v)
        }
        Some(v) => TrackFileValue::Value(v),
    }
}

/// Read a tracked file (a missing or unreadable file is 0, as in keepalived).
pub fn read_track_file(path: &std::path::Path) -> TrackFileValue {
    use std::io::Read;
    let mut buf = [0u8; 127];
    let n = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .and_then(|mut f| f.read(&mut buf));
    match n {
        Ok(n) => track_file_value(&buf[..n]),
        Err(_) => TrackFileValue::Value(0),
    }
}

/// A command ready to run `script` in its own process group, outputs discarded.
fn command(script: &Script) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(script.program());
    c.args(&script.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(g) = script.gid {
        c.gid(g);
    }
    if let Some(u) = script.uid {
        c.uid(u);
    }
    c
}

fn killpg(pid: Option<u32>, sig: nix::sys::signal::Signal) {
    if let Some(p) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(p), sig);
    }
}

/// MISC_CHECK: run the script; past `limit`, SIGTERM its process group, and SIGKILL it
/// 2 s later if still there (keepalived's `misc_check_child_thread`).
pub async fn misc_check(m: &MiscSpec, limit: Duration) -> Outcome {
    use nix::sys::signal::Signal;
    let mut child = match command(&m.script).spawn() {
        Ok(c) => c,
        // Not runnable: as a shell reports a command it cannot run.
        Err(_) => return Outcome::Exit(127),
    };
    let pid = child.id();
    let status = match timeout(limit, child.wait()).await {
        Ok(Ok(st)) => st,
        Ok(Err(e)) => return Outcome::Skipped(format!("waiting for {}: {e}", m.script.program())),
        Err(_) => {
            killpg(pid, Signal::SIGTERM);
            let st = match timeout(Duration::from_secs(2), child.wait()).await {
                Ok(Ok(st)) => Some(st),
                _ => None,
            };
            // Make sure whatever it started is gone too.
            killpg(pid, Signal::SIGKILL);
            let st = match st {
                Some(st) => st,
                None => match child.wait().await {
                    Ok(st) => st,
                    Err(e) => {
                        return Outcome::Skipped(format!("reaping {}: {e}", m.script.program()));
                    }
                },
            };
            return match st.code() {
                Some(c) => Outcome::Exit(c),
                None => Outcome::Signaled {
                    signal: st.signal().unwrap_or(0),
                    timed_out: true,
                },
            };
        }
    };
    match status.code() {
        Some(c) => Outcome::Exit(c),
        None => Outcome::Signaled {
            signal: status.signal().unwrap_or(0),
            timed_out: false,
        },
    }
}

/// Start a notify script and reap it in the background (keepalived's `notify_exec`):
/// its own process group, outputs discarded, not waited for.
pub fn spawn_script(script: &Script) -> io::Result<()> {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new(script.program());
    c.args(&script.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    if let Some(g) = script.gid {
        c.gid(g);
    }
    if let Some(u) = script.uid {
        c.uid(u);
    }
    let mut child = c.spawn()?;
    std::thread::Builder::new()
        .name("notify-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        })?;
    Ok(())
}

/// Whether `addr` is configured on this host (in this network namespace): binding a
/// socket to it succeeds only then.
pub fn address_is_local(addr: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(addr, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_as_keepalived_sends_them() {
        assert_eq!(
            http_request("/index.html", "10.0.0.1:80", HttpProtocol::V1_0),
            "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.0.0.1:80\r\n\r\n"
        );
        assert_eq!(
            http_request("/", "www.example", HttpProtocol::V1_1),
            "GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example\r\n\r\n"
        );
        assert_eq!(
            http_request("/", "h", HttpProtocol::V1_0C),
            "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: h\r\n\r\n"
        );
    }

    #[test]
    fn status_and_length_extraction_quirks() {
        assert_eq!(extract_status_code(b"HTTP/1.0 200 OK\r\n"), 200);
        assert_eq!(extract_status_code(b"HTTP/1.1 404 Not Found\r\n"), 404);
        // keepalived needs a space after the code.
        assert_eq!(extract_status_code(b"HTTP/1.0 200\r\n\r\n"), 0);
        assert_eq!(extract_status_code(b"HTTP/1.0 2x0 OK\r\n"), 0);
        assert_eq!(extract_status_code(b"garbage\r\n"), 0);
        assert_eq!(
            extract_content_length(b"X: y\r\nContent-Length: 12\r\n\r\n"),
            Some(12)
        );
        assert_eq!(extract_content_length(b"content-length: 12\r\n"), None);
        assert_eq!(extract_content_length(b"Content-Length: 12x\r\n"), None);
    }

    #[test]
    fn body_digest_follows_content_length_and_split_reads() {
        let body = b"hello world\n";
        let want: [u8; 16] = Md5::digest(body).into();
        let resp = b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello world\ntrailing junk";
        // Every split point gives the same result.
        for cut in 0..resp.len() {
            let mut r = HttpResponse::default();
            assert!(r.feed(&resp[..cut]));
            assert!(r.feed(&resp[cut..]));
            assert!(r.complete());
            assert_eq!(r.status(), 200);
            assert_eq!(r.digest(), want, "cut at {cut}");
        }
        // Without Content-Length: everything to the end.
        let mut r = HttpResponse::default();
        r.feed(b"HTTP/1.0 200 OK\r\n\r\nab");
        r.feed(b"c");
        assert_eq!(r.digest(), <[u8; 16]>::from(Md5::digest(b"abc")));
        // A header that never ends is given up past 4095 bytes.
        let mut r = HttpResponse::default();
        assert!(!r.feed(&[b'a'; 5000]));
        assert!(!r.complete());
    }

    #[test]
    fn judge_a_response() {
        let mut u = super::super::spec::UrlSpec::new("/");
        let full = |s: &[u8]| {
            let mut r = HttpResponse::default();
            r.feed(s);
            r
        };
        assert_eq!(
            judge(full(b"HTTP/1.0 200 OK\r\n\r\nx"), &u),
            Outcome::Success
        );
        assert_eq!(
            judge(full(b"HTTP/1.0 500 Oops\r\n\r\nx"), &u),
            Outcome::Failure(FailReason::Status(500))
        );
        assert_eq!(
            judge(full(b"HTTP/1.0 200 OK\r\n"), &u),
            Outcome::Failure(FailReason::NoData)
        );
        u.digest = Some(Md5::digest(b"x").into());
        assert_eq!(
            judge(full(b"HTTP/1.0 200 OK\r\n\r\nx"), &u),
            Outcome::Success
        );
        assert_eq!(
            judge(full(b"HTTP/1.0 200 OK\r\n\r\ny"), &u),
            Outcome::Failure(FailReason::Digest)
        );
    }

    /// Drive a dialogue with a scripted peer: each string is what one read returns.
    fn smtp_run(reads: &[&[u8]]) -> (Vec<Vec<u8>>, SmtpStep) {
        let mut d = SmtpDialogue::new("lvs.example");
        let mut sent = Vec::new();
        for r in reads {
            assert!(r.len() <= d.read_capacity());
            match d.feed(r) {
                SmtpStep::Read => {}
                SmtpStep::Send(l) => sent.push(l),
                done => return (sent, done),
            }
        }
        (sent, d.closed())
    }

    #[test]
    fn smtp_dialogue_with_a_scripted_peer() {
        // The whole dialogue, with replies split across reads.
        let (sent, end) = smtp_run(&[
            b"220 mx.example ESM",
            b"TP ready\r\n",
            b"250 mx.example\r\n",
            b"221 ",
            b"bye\r\n",
        ]);
        assert_eq!(
            sent,
            vec![b"HELO lvs.example\r\n".to_vec(), b"QUIT\r\n".to_vec()]
        );
        assert_eq!(end, SmtpStep::Success);
        // Any line answers QUIT; a bare status too.
        let (_, end) = smtp_run(&[b"220 x\r\n", b"250 y\r\n", b"500\n"]);
        assert_eq!(end, SmtpStep::Success);
        // Bytes after the newline are dropped: a pipelined 250 in the greeting's read is
        // lost, as in keepalived, and the server closing then is a read failure.
        let (sent, end) = smtp_run(&[b"220 x\r\n250 y\r\n"]);
        assert_eq!(sent.len(), 1);
        assert_eq!(end, SmtpStep::Failed(SmtpFail::ReadFailure));
        // Wrong greetings and HELO replies.
        assert_eq!(
            smtp_run(&[b"554 go away\r\n"]).1,
            SmtpStep::Failed(SmtpFail::BadGreeting)
        );
        assert_eq!(
            smtp_run(&[b"220-multi line\r\n"]).1,
            SmtpStep::Failed(SmtpFail::BadGreeting)
        );
        assert_eq!(
            smtp_run(&[b"220\r\n"]).1,
            SmtpStep::Failed(SmtpFail::BadGreeting),
            "keepalived wants a space or the end after the code"
        );
        assert_eq!(
            smtp_run(&[b"220\n", b"550 no\r\n"]).1,
            SmtpStep::Failed(SmtpFail::BadHelo)
        );
        // Closed before QUIT is answered.
        assert_eq!(
            smtp_run(&[b"220 x\n", b"250 y\n"]).1,
            SmtpStep::Failed(SmtpFail::ReadFailure)
        );
        // A NUL hides the newline after it (strchr); reading goes on.
        let (sent, _) = smtp_run(&[b"220 x\0\n"]);
        assert!(sent.is_empty());
        assert_eq!(smtp_status(b"250 ok"), Some(250));
        assert_eq!(smtp_status(b"250"), Some(250));
        assert_eq!(smtp_status(b"25"), None);
        assert_eq!(smtp_status(b"2500"), None);
    }

    #[test]
    fn smtp_buffer_wraps_when_full_without_a_newline() {
        let mut d = SmtpDialogue::new("h");
        assert_eq!(d.read_capacity(), 511);
        assert_eq!(d.feed(&[b'x'; 511]), SmtpStep::Read);
        // Full: emptied, so the next line is judged on its own.
        assert_eq!(d.read_capacity(), 511);
        assert_eq!(
            d.feed(b"220 ok\r\n"),
            SmtpStep::Send(b"HELO h\r\n".to_vec())
        );
    }

    #[test]
    fn dns_queries_as_keepalived_encodes_them() {
        let q = dns_query(0xbeef, 1, "www.example.com").unwrap();
        let mut want = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x03www\x07example\x03com\x00");
        want.extend_from_slice(&[0, 1, 0, 1]);
        assert_eq!(q, want);
        // A trailing dot changes nothing; "." and "" are the root.
        assert_eq!(dns_query(0xbeef, 1, "www.example.com.").unwrap(), want);
        let root = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1];
        assert_eq!(dns_query(0x1234, 6, ".").unwrap(), root);
        assert_eq!(dns_query(0x1234, 6, "").unwrap(), root);
        assert!(dns_query(1, 1, &"a".repeat(64)).is_err());
        assert!(dns_query(1, 1, &"a".repeat(63)).is_ok());
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(dns_query(1, 1, &long).is_err(), "over 255 bytes");
        assert_eq!(crate::check::dns_type("aaaa"), Some(28));
        assert_eq!(crate::check::dns_type("SRV"), None);
    }

    #[test]
    fn dns_replies_judged_as_keepalived() {
        let id = 0xbeef;
        let reply = |id: u16, flags: u16, len: usize| {
            let mut p = id.to_be_bytes().to_vec();
            p.extend_from_slice(&flags.to_be_bytes());
            p.resize(len, 0);
            p
        };
        // QR set, RCODE 0: success, with no answer records (ANCOUNT 0) and even when cut
        // to 8 bytes.
        assert_eq!(dns_reply(id, &reply(id, 0x8180, 12)), DnsReply::Success);
        assert_eq!(dns_reply(id, &reply(id, 0x8180, 8)), DnsReply::Success);
        // TC is not looked at.
        assert_eq!(dns_reply(id, &reply(id, 0x8380, 12)), DnsReply::Success);
        // Shorter than 8 bytes, another id, or QR clear: ignored (keep waiting).
        assert_eq!(dns_reply(id, &reply(id, 0x8180, 7)), DnsReply::Ignore);
        assert_eq!(dns_reply(id, &reply(0xbeee, 0x8180, 12)), DnsReply::Ignore);
        assert_eq!(dns_reply(id, &reply(id, 0x0100, 12)), DnsReply::Ignore);
        assert_eq!(dns_reply(id, &[]), DnsReply::Ignore);
        // RCODE != 0: failure (NXDOMAIN, SERVFAIL, REFUSED).
        assert_eq!(dns_reply(id, &reply(id, 0x8183, 12)), DnsReply::Rcode(3));
        assert_eq!(dns_reply(id, &reply(id, 0x8182, 12)), DnsReply::Rcode(2));
        assert_eq!(dns_reply(id, &reply(id, 0x8105, 12)), DnsReply::Rcode(5));
    }

    #[test]
    fn track_file_values_as_strtol_reads_them() {
        use TrackFileValue::*;
        assert_eq!(track_file_value(b"5\n"), Value(5));
        assert_eq!(track_file_value(b"  -12 apples"), Value(-12));
        assert_eq!(track_file_value(b"0x1f"), Value(31));
        assert_eq!(track_file_value(b"010"), Value(8));
        assert_eq!(track_file_value(b"08"), Value(0));
        assert_eq!(track_file_value(b"+7"), Value(7));
        assert_eq!(track_file_value(b""), Value(0));
        assert_eq!(track_file_value(b"up"), Value(0));
        assert_eq!(track_file_value(b"2147483648"), Value(1 << 31));
        assert_eq!(track_file_value(b"2147483649"), Invalid(2147483649));
        assert_eq!(track_file_value(b"-2147483649"), Invalid(-2147483649));
        assert_eq!(track_file_value(b"99999999999999999999"), Invalid(i64::MAX));
        assert_eq!(strtol0(b"-9223372036854775808"), Some(i64::MIN));
        // Only the first 127 bytes are read.
        let mut long = vec![b' '; 126];
        long.extend_from_slice(b"42");
        assert_eq!(track_file_value(&long), Value(4));
        // A missing file is 0.
        assert_eq!(
            read_track_file(std::path::Path::new("/nonexistent/track")),
            Value(0)
        );
    }

    #[test]
    fn echo_requests_and_filler() {
        assert_eq!(
            keepalived_filler(32),
            b"keepalived check - keepalived ch".to_vec()
        );
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(p.len(), 136);
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(
            inet_checksum(&p),
            0,
            "a packet with its checksum sums to zero"
        );
        assert_eq!(&echo_request(true, 1, 2)[..8], &[128, 0, 0, 0, 0, 1, 0, 2]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn misc_scripts_exit_codes_and_timeouts() {
        let m = |argv: &[&str], dynamic| MiscSpec {
            script: Script::new(argv.iter().copied()),
            timeout: None,
            dynamic,
        };
        let s = Duration::from_secs(5);
        assert_eq!(
            misc_check(&m(&["/bin/sh", "-c", "exit 0"], false), s).await,
            Outcome::Exit(0)
        );
        assert_eq!(
            misc_check(&m(&["/bin/sh", "-c", "exit 9"], true), s).await,
            Outcome::Exit(9)
        );
        assert_eq!(
            misc_check(&m(&["/nonexistent/check"], false), s).await,
            Outcome::Exit(127)
        );
        // Killed by SIGTERM at the timeout, along with its children.
        let t0 = std::time::Instant::now();
        let out = misc_check(
            &m(&["/bin/sh", "-c", "sleep 30 & sleep 30"], false),
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(
            out,
            Outcome::Signaled {
                signal: 15,
                timed_out: true
            }
        );
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        // One that ignores SIGTERM gets SIGKILL 2 s later.
        let out = misc_check(
            &m(
                &["/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
                false,
            ),
            Duration::from_millis(200),
        )
        .await;
        assert_eq!(
            out,
            Outcome::Signaled {
                signal: 9,
                timed_out: true
            }
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn probes_on_loopback() {
        use super::super::spec::{CheckerSpec, RealServerSpec, UrlSpec, VirtualServerSpec};
        use super::super::state::Checks;
        // A tiny HTTP server on 127.0.0.1.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 1024];
                    let mut got = Vec::new();
                    while !got.ends_with(b"\r\n\r\n") {
                        let n = s.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                    }
                    let req = String::from_utf8_lossy(&got).to_string();
                    let body = if req.contains("Host: vh.example") {
                        "vhost\n"
                    } else {
                        "plain\n"
                    };
                    let code = if req.starts_with("GET /missing ") {
                        "404 Not Found"
                    } else {
                        "200 OK"
                    };
                    let resp = format!(
                        "HTTP/1.0 {code}\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    s.write_all(resp.as_bytes()).await.unwrap();
                });
            }
        });
        let key = lvs_api::ServiceKey::Addr {
            protocol: lvs_api::Protocol::Tcp,
            addr: "127.0.0.1".parse().unwrap(),
            port,
        };
        let mut vs = VirtualServerSpec::new(key);
        let mut rs = RealServerSpec::new("127.0.0.1".parse().unwrap(), port);
        let mut u_ok = UrlSpec::new("/");
        u_ok.digest = Some(Md5::digest(b"plain\n").into());
        let mut u_vh = UrlSpec::new("/");
        u_vh.virtualhost = Some("vh.example".into());
        u_vh.digest = Some(Md5::digest(b"vhost\n").into());
        let u_404 = UrlSpec::new("/missing");
        let mut u_bad = UrlSpec::new("/");
        u_bad.digest = Some([0; 16]);
        rs.checkers.push(CheckerSpec::new(CheckerKind::Tcp));
        rs.checkers
            .push(CheckerSpec::new(CheckerKind::Http(HttpSpec::new(
                false,
                vec![u_ok, u_vh, u_404, u_bad],
            ))));
        let mut closed = CheckerSpec::new(CheckerKind::Tcp);
        closed.connect_port = Some(1);
        rs.checkers.push(closed);
        vs.real_servers.push(rs);
        let c = Checks::new(vec![vs]).unwrap();
        let ids = c.checker_ids();
        assert_eq!(probe(c.conf(ids[0]), 0).await, Outcome::Success);
        let http = c.conf(ids[1]);
        assert_eq!(probe(http, 0).await, Outcome::Success);
        assert_eq!(probe(http, 1).await, Outcome::Success);
        assert_eq!(
            probe(http, 2).await,
            Outcome::Failure(FailReason::Status(404))
        );
        assert_eq!(probe(http, 3).await, Outcome::Failure(FailReason::Digest));
        assert_eq!(
            probe(c.conf(ids[2]), 0).await,
            Outcome::Failure(FailReason::ConnectFailed)
        );
        server.abort();
    }
}
