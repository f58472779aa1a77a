//! A small blocking HTTP/1.1 client for the control socket.
//!
//! One request per connection (`Connection: close`), JSON bodies, no dependencies beyond
//! serde: `lvsadm` runs once per command and must start fast.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::{
    ApiError, ApplySummary, Config, ConnInfo, DataplaneStatus, DestDelete, DestRequest, Info,
    LaddrInfo, LaddrRequest,
};
use crate::{ServiceInfo, ServiceKey, ServiceSpec, Timeouts, ZeroRequest, paths};
use crate::{SyncDaemonInfo, SyncDaemonSpec, SyncRole, SyncStop};

/// Why a request failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The socket could not be reached (lvsd not running, wrong path, permissions).
    #[error("cannot connect to lvsd at {path}: {source}")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed.
    #[error("control socket I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The response was not HTTP as expected.
    #[error("malformed response from lvsd: {0}")]
    Protocol(String),
    /// lvsd refused the operation.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A body could not be encoded or decoded.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A client of one lvsd control socket.
#[derive(Clone, Debug)]
pub struct Client {
    path: PathBuf,
    timeout: Duration,
}

impl Client {
    /// A client of the socket at `path`.
    pub fn new(path: impl AsRef<Path>) -> Client {
        Client {
            path: path.as_ref().to_path_buf(),
            timeout: Duration::from_secs(30),
        }
    }

    /// The socket path from `--socket`, else `LVSD_SOCKET`, else the default.
    pub fn socket_path(explicit: Option<&str>) -> PathBuf {
        explicit
            .map(PathBuf::from)
            .or_else(|| std::env::var_os(crate::SOCKET_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(crate::DEFAULT_SOCKET))
    }

    fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<R, ClientError> {
        let body = match body {
            Some(b) => serde_json::to_vec(b)?,
            None => Vec::new(),
        };
        let (status, resp) = self.raw(method, path, &body)?;
        if (200..300).contains(&status) {
            let text = if resp.is_empty() { &b"null"[..] } else { &resp };
            Ok(serde_json::from_slice(text)?)
        } else {
            match serde_json::from_slice::<ApiError>(&resp) {
                Ok(e) => Err(ClientError::Api(e)),
                Err(_) => Err(ClientError::Protocol(format!(
                    "status {status}: {}",
                    String::from_utf8_lossy(&resp)
                ))),
            }
        }
    }

    /// Send one request and return (status, body).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let mut s = UnixStream::connect(&self.path).map_err(|source| ClientError::Connect {
            path: self.path.clone(),
            source,
        })?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: lvsd\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        parse_response(&buf)
    }

    /// `GET /v1/info`.
    pub fn info(&self) -> Result<Info, ClientError> {
        self.call::<(), _>("GET", paths::INFO, None)
    }

    /// All services with their real servers.
    pub fn services(&self) -> Result<Vec<ServiceInfo>, ClientError> {
        self.call::<(), _>("GET", paths::SERVICES, None)
    }

    /// `-A`.
    pub fn add_service(&self, spec: &ServiceSpec) -> Result<(), ClientError> {
        self.call("POST", paths::SERVICES, Some(spec))
    }

    /// `-E`.
    pub fn edit_service(&self, spec: &ServiceSpec) -> Result<(), ClientError> {
        self.call("PUT", paths::SERVICES, Some(spec))
    }

    /// `-D`.
    pub fn del_service(&self, key: &ServiceKey) -> Result<(), ClientError> {
        self.call("DELETE", paths::SERVICES, Some(key))
    }

    /// `-C`.
    pub fn clear(&self) -> Result<(), ClientError> {
        self.call::<(), _>("POST", paths::CLEAR, None)
    }

    /// `-a`.
    pub fn add_dest(&self, req: &DestRequest) -> Result<(), ClientError> {
        self.call("POST", paths::DESTS, Some(req))
    }

    /// `-e`.
    pub fn edit_dest(&self, req: &DestRequest) -> Result<(), ClientError> {
        self.call("PUT", paths::DESTS, Some(req))
    }

    /// `-d`.
    pub fn del_dest(&self, req: &DestDelete) -> Result<(), ClientError> {
        self.call("DELETE", paths::DESTS, Some(req))
    }

    /// `-Lc`.
    pub fn conns(&self) -> Result<Vec<ConnInfo>, ClientError> {
        self.call::<(), _>("GET", paths::CONNS, None)
    }

    /// `-Z`.
    pub fn zero(&self, service: Option<ServiceKey>) -> Result<(), ClientError> {
        self.call("POST", paths::ZERO, Some(&ZeroRequest { service }))
    }

    /// `--timeout`.
    pub fn timeouts(&self) -> Result<Timeouts, ClientError> {
        self.call::<(), _>("GET", paths::TIMEOUTS, None)
    }

    /// `--set`.
    pub fn set_timeouts(&self, t: &Timeouts) -> Result<(), ClientError> {
        self.call("PUT", paths::TIMEOUTS, Some(t))
    }

    /// `--add-laddr`.
    pub fn add_laddr(&self, req: &LaddrRequest) -> Result<(), ClientError> {
        self.call("POST", paths::LADDRS, Some(req))
    }

    /// `--del-laddr`.
    pub fn del_laddr(&self, req: &LaddrRequest) -> Result<(), ClientError> {
        self.call("DELETE", paths::LADDRS, Some(req))
    }

    /// `GET /v1/sync/daemons`: the running sync daemons, master first.
    pub fn sync_daemons(&self) -> Result<Vec<SyncDaemonInfo>, ClientError> {
        self.call::<(), _>("GET", paths::SYNC_DAEMONS, None)
    }

    /// `POST /v1/sync/daemons`: start a sync daemon.
    pub fn start_sync_daemon(&self, spec: &SyncDaemonSpec) -> Result<(), ClientError> {
        self.call("POST", paths::SYNC_DAEMONS, Some(spec))
    }

    /// `DELETE /v1/sync/daemons`: stop the sync daemon of `role`.
    pub fn stop_sync_daemon(&self, role: SyncRole) -> Result<(), ClientError> {
        self.call("DELETE", paths::SYNC_DAEMONS, Some(&SyncStop { role }))
    }

    /// The data plane's status.
    pub fn dataplane(&self) -> Result<DataplaneStatus, ClientError> {
        self.call::<(), _>("GET", paths::DATAPLANE, None)
    }

    /// `--get-laddr`.
    pub fn laddrs(&self, key: &ServiceKey) -> Result<Vec<LaddrInfo>, ClientError> {
        self.call("POST", paths::LADDRS_LIST, Some(key))
    }

    /// The whole configuration (`GET /v1/config`); applying it back changes nothing.
    pub fn config(&self) -> Result<Config, ClientError> {
        self.call::<(), _>("GET", paths::CONFIG, None)
    }

    /// Make the director's configuration `config`, all or nothing (`PUT /v1/config`).
    /// Unchanged services and real servers keep their connections and counters. On error
    /// nothing was changed and the [`ApiError`] message names the failing item.
    pub fn apply_config(&self, config: &Config) -> Result<ApplySummary, ClientError> {
        self.call("PUT", paths::CONFIG, Some(config))
    }

    /// Check `config` as [`Client::apply_config`] would, changing nothing
    /// (`PUT /v1/config?dry_run=true`): what it would change, or the failing item.
    pub fn check_config(&self, config: &Config) -> Result<ApplySummary, ClientError> {
        let path = format!("{}?dry_run=true", paths::CONFIG);
        self.call("PUT", &path, Some(config))
    }

    /// The Prometheus metrics text (`GET /metrics`).
    pub fn metrics(&self) -> Result<String, ClientError> {
        let (status, body) = self.raw("GET", paths::METRICS, &[])?;
        if status != 200 {
            return Err(ClientError::Protocol(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        String::from_utf8(body).map_err(|_| ClientError::Protocol("metrics not UTF-8".into()))
    }
}

/// Split an HTTP/1.1 response into status and body (Content-Length or until EOF;
/// chunked transfer encoding is decoded).
pub fn parse_response(buf: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| ClientError::Protocol("no header terminator".into()))?;
    let head = std::str::from_utf8(&buf[..end])
        .map_err(|_| ClientError::Protocol("non-UTF-8 header".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ClientError::Protocol(format!("bad status line {status_line:?}")))?;
    let mut len = None;
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                len = v.parse::<usize>().ok();
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let rest = &buf[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else {
        match len {
            Some(n) if n <= rest.len() => rest[..n].to_vec(),
            Some(_) => return Err(ClientError::Protocol("truncated body".into())),
            None => rest.to_vec(),
        }
    };
    Ok((status, body))
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| ClientError::Protocol("bad chunk".into()))?;
        let size_str = std::str::from_utf8(&rest[..eol])
            .map_err(|_| ClientError::Protocol("bad chunk size".into()))?;
        let size = usize::from_str_radix(size_str.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| ClientError::Protocol("bad chunk size".into()))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 {
            return Err(ClientError::Protocol("truncated chunk".into()));
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n[1]\nextra";
        assert_eq!(parse_response(r).unwrap(), (200, b"[1]\n".to_vec()));
        let c = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(c).unwrap(), (404, b"abcde".to_vec()));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nab").is_err());
    }

    #[test]
    fn socket_path_precedence() {
        assert_eq!(Client::socket_path(Some("/x")), PathBuf::from("/x"));
    }

    #[test]
    fn connect_error_names_the_path() {
        let c = Client::new("/nonexistent/lvsd.sock");
        let e = c.info().unwrap_err();
        assert!(e.to_string().contains("/nonexistent/lvsd.sock"), "{e}");
    }
}
