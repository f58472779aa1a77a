//! The optional TCP listener (`--listen ADDR:PORT --token-file PATH`): the same API as the
//! Unix socket (metrics included), where every request must carry
//! `Authorization: Bearer <token>`; anything else gets 401. The Unix socket stays
//! unauthenticated: its mode 0600 is the access control.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lvs_api as api;

/// What the TCP listener needs.
#[derive(Clone, Debug)]
pub struct TcpOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The bearer token.
    pub token: Token,
}

/// A bearer token (never printed).
#[derive(Clone)]
pub struct Token(Arc<[u8]>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A token from its text.
    pub fn new(t: &str) -> Token {
        Token(Arc::from(t.as_bytes()))
    }

    /// Whether `offered` is this token, in time independent of where they differ.
    pub fn matches(&self, offered: &[u8]) -> bool {
        let mine = &self.0[..];
        let mut diff = u8::from(mine.len() != offered.len());
        for (i, &b) in mine.iter().enumerate() {
            diff |= b ^ offered.get(i).copied().unwrap_or(!b);
        }
        diff == 0
    }
}

/// Read the token file: its first line without surrounding white space. Refuses an empty
/// token, a token with characters a header cannot carry, and a file that others than its
/// owner may read or write.
pub fn load_token(path: &Path) -> anyhow::Result<Token> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).with_context(|| format!("token file {}", path.display()))?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "token file {} is accessible by group or others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading token file {}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        bail!("token file {} holds no token", path.display());
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        bail!(
            "token in {} has characters other than printable ASCII",
            path.display()
        );
    }
    Ok(Token::new(token))
}

/// Middleware of the TCP router: pass requests with the right bearer token, answer 401
/// to the others.
pub async fn require_bearer(State(token): State<Token>, req: Request, next: Next) -> Response {
    let offered = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| {
            // RFC 6750: the scheme is case-insensitive, one space, then the token.
            let (scheme, rest) = v.split_at_checked(7)?;
            scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
        });
    if offered.is_some_and(|t| token.matches(t)) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"lvsd\"")],
        Json(api::ApiError {
            kind: api::ErrorKind::Unauthorized,
            message: "missing or wrong bearer token".to_string(),
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn tokens_compare_exactly() {
        let t = Token::new("s3cret");
        assert!(t.matches(b"s3cret"));
        assert!(!t.matches(b"s3cre"));
        assert!(!t.matches(b"s3cret!"));
        assert!(!t.matches(b"S3cret"));
        assert!(!t.matches(b""));
        assert_eq!(format!("{t:?}"), "Token(..)");
    }

    #[test]
    fn token_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("lvsd-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, body: &str, mode: u32| {
            let p = dir.join(name);
            let mut f = std::fs::File::create(&p).unwrap();
            f.write_all(body.as_bytes()).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let ok = write("ok", "  abc123 \nignored\n", 0o600);
        assert!(load_token(&ok).unwrap().matches(b"abc123"));
        let open = write("open", "abc123\n", 0o644);
        assert!(
            load_token(&open)
                .unwrap_err()
                .to_string()
                .contains("chmod 600")
        );
        let empty = write("empty", "\n", 0o600);
        assert!(load_token(&empty).is_err());
        let space = write("space", "a b\n", 0o600);
        assert!(load_token(&space).is_err());
        assert!(load_token(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
