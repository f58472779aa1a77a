//! The control API server: HTTP/1.1 + JSON on a Unix socket (`lvs-api` has the types), and
//! optionally on TCP with a bearer token (`listen.rs`). `docs/api/openapi.yaml` describes
//! every route.

use std::path::Path;

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lvs_api as api;
use lvs_api::paths;

use crate::convert::{conn_out, dest_in, error_out, key_in, service_in, service_out};
use crate::state::Shared;

/// What a handler returns: a JSON body, or a status with an [`api::ApiError`].
pub type ApiResult<T> = Result<Json<T>, (StatusCode, Json<api::ApiError>)>;

/// A model error as a response: status by category, ipvsadm's wording.
pub fn fail(e: &lvs_core::IpvsError) -> (StatusCode, Json<api::ApiError>) {
    let body = error_out(e);
    let status = match body.kind {
        api::ErrorKind::ServiceExists | api::ErrorKind::DestExists => StatusCode::CONFLICT,
        api::ErrorKind::NoSuchService
        | api::ErrorKind::ServiceNotDefined
        | api::ErrorKind::NoSuchDest
        | api::ErrorKind::SchedulerNotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(body))
}

fn bad(message: &str) -> (StatusCode, Json<api::ApiError>) {
    (
        StatusCode::BAD_REQUEST,
        Json(api::ApiError {
            kind: api::ErrorKind::Invalid,
            message: message.to_string(),
        }),
    )
}

/// `--proxy-protocol` needs a byte stream to put the header in front of: refused for UDP
/// and SCTP services (a firewall-mark service may carry any protocol: the header goes to
/// its TCP connections only).
fn check_proxy_protocol(spec: &api::ServiceSpec) -> Result<(), (StatusCode, Json<api::ApiError>)> {
    if let lvs_core::ServiceKey::Addr { protocol, .. } = key_in(&spec.key)
        && spec.proxy_protocol
        && protocol != lvs_core::Protocol::Tcp
    {
        // (an extension: its own message, not ipvsadm's EINVAL text)
        return Err((
            StatusCode::BAD_REQUEST,
            Json(api::ApiError {
                kind: api::ErrorKind::BadRequest,
                message: "--proxy-protocol needs a TCP service".to_string(),
            }),
        ));
    }
    Ok(())
}

/// The router of every endpoint.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route(paths::INFO, get(info))
        .route(
            paths::SERVICES,
            get(list_services)
                .post(add_service)
                .put(edit_service)
                .delete(del_service),
        )
        .route(paths::CLEAR, post(clear))
        .route(paths::DESTS, post(add_dest).put(edit_dest).delete(del_dest))
        .route(paths::CONNS, get(list_conns))
        .route(paths::ZERO, post(zero))
        .route(paths::TIMEOUTS, get(get_timeouts).put(set_timeouts))
        .route(paths::LADDRS, post(add_laddr).delete(del_laddr))
        .route(paths::LADDRS_LIST, post(list_laddrs))
        .route(paths::DATAPLANE, get(dataplane))
        .route(paths::METRICS, get(metrics))
        .merge(crate::config::routes())
        .route(
            paths::SYNC_DAEMONS,
            get(crate::sync::list)
                .post(crate::sync::start)
                .delete(crate::sync::stop),
        )
        .with_state(state)
}

/// Serve the API on a Unix socket at `path` (mode 0600) and, with `tcp`, on a TCP address
/// with a bearer token, until `shutdown` resolves.
pub async fn serve(
    path: &Path,
    tcp: Option<crate::listen::TcpOptions>,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Bind everything before serving anything: a bad --listen fails the start.
    let tcp_listener = match &tcp {
        Some(t) => Some(
            tokio::net::TcpListener::bind(t.addr)
                .await
                .with_context(|| format!("binding TCP listener {}", t.addr))?,
        ),
        None => None,
    };
    if path.exists() {
        std::fs::remove_file(path)
            .with_context(|| format!("removing stale socket {}", path.display()))?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("binding control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    tracing::info!(socket = %path.display(), "control API listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let unix = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(stopped(stop_rx.clone()))
        .into_future();
    let tcp = async {
        match (tcp, tcp_listener) {
            (Some(t), Some(l)) => {
                tracing::info!(addr = %t.addr, "control API listening on TCP (bearer token)");
                let app = router(state).layer(axum::middleware::from_fn_with_state(
                    t.token,
                    crate::listen::require_bearer,
                ));
                axum::serve(l, app)
                    .with_graceful_shutdown(stopped(stop_rx))
                    .await
            }
            _ => Ok(()),
        }
    };
    let (u, t) = tokio::join!(unix, tcp);
    let _ = std::fs::remove_file(path);
    u?;
    t?;
    Ok(())
}

async fn metrics(State(s): State<Shared>) -> impl axum::response::IntoResponse {
    let d = s.lock();
    let body = crate::metrics::render(&d.ipvs, &d.dataplane);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        body,
    )
}

async fn info(State(s): State<Shared>) -> ApiResult<api::Info> {
    let d = s.lock();
    Ok(Json(api::Info {
        version: lvs_core::ipvs::IPVS_VERSION,
        conn_tab_size: lvs_core::ipvs::CONN_TAB_SIZE,
        num_services: u32::try_from(d.ipvs.services().count()).unwrap_or(u32::MAX),
    }))
}

async fn list_services(State(s): State<Shared>) -> ApiResult<Vec<api::ServiceInfo>> {
    let d = s.lock();
    Ok(Json(
        d.ipvs
            .services()
            .map(|svc| service_out(&d.ipvs, svc, d.proxy_protocol.contains(svc.key())))
            .collect(),
    ))
}

async fn add_service(State(s): State<Shared>, Json(spec): Json<api::ServiceSpec>) -> ApiResult<()> {
    {
        check_proxy_protocol(&spec)?;
        let mut d = s.lock();
        let cfg = service_in(&spec);
        d.ipvs.add_service(&cfg).map_err(|e| fail(&e))?;
        if spec.proxy_protocol {
            d.proxy_protocol.insert(cfg.key);
        }
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn edit_service(
    State(s): State<Shared>,
    Json(spec): Json<api::ServiceSpec>,
) -> ApiResult<()> {
    {
        check_proxy_protocol(&spec)?;
        let mut d = s.lock();
        let cfg = service_in(&spec);
        d.ipvs.edit_service(&cfg).map_err(|e| fail(&e))?;
        if spec.proxy_protocol {
            d.proxy_protocol.insert(cfg.key);
        } else {
            d.proxy_protocol.remove(&cfg.key);
        }
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn del_service(State(s): State<Shared>, Json(key): Json<api::ServiceKey>) -> ApiResult<()> {
    {
        let mut d = s.lock();
        let now = d.now();
        let k = key_in(&key);
        d.ipvs.del_service(&k, now).map_err(|e| fail(&e))?;
        d.proxy_protocol.remove(&k);
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn clear(State(s): State<Shared>) -> ApiResult<()> {
    {
        let mut d = s.lock();
        let now = d.now();
        d.ipvs.flush(now);
        d.proxy_protocol.clear();
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn add_dest(State(s): State<Shared>, Json(r): Json<api::DestRequest>) -> ApiResult<()> {
    {
        let mut d = s.lock();
        d.ipvs
            .add_dest(&key_in(&r.service), &dest_in(&r.dest))
            .map_err(|e| fail(&e))?;
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn edit_dest(State(s): State<Shared>, Json(r): Json<api::DestRequest>) -> ApiResult<()> {
    {
        let mut d = s.lock();
        d.ipvs
            .edit_dest(&key_in(&r.service), &dest_in(&r.dest))
            .map_err(|e| fail(&e))?;
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn del_dest(State(s): State<Shared>, Json(r): Json<api::DestDelete>) -> ApiResult<()> {
    {
        let mut d = s.lock();
        let now = d.now();
        d.ipvs
            .del_dest(&key_in(&r.service), r.addr, r.port, now)
            .map_err(|e| fail(&e))?;
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn list_conns(State(s): State<Shared>) -> ApiResult<Vec<api::ConnInfo>> {
    let d = s.lock();
    let now = d.now();
    Ok(Json(
        d.ipvs
            .conns()
            .iter()
            .map(|(_, c)| conn_out(c, now))
            .collect(),
    ))
}

async fn zero(State(s): State<Shared>, Json(r): Json<api::ZeroRequest>) -> ApiResult<()> {
    {
        let mut d = s.lock();
        match r.service {
            Some(k) => d.ipvs.zero_service(&key_in(&k)).map_err(|e| fail(&e))?,
            None => d.ipvs.zero_all(),
        }
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn get_timeouts(State(s): State<Shared>) -> ApiResult<api::Timeouts> {
    let d = s.lock();
    let (tcp, tcpfin, udp) = d.ipvs.config().timeouts.get();
    Ok(Json(api::Timeouts { tcp, tcpfin, udp }))
}

async fn set_timeouts(State(s): State<Shared>, Json(t): Json<api::Timeouts>) -> ApiResult<()> {
    {
        let mut d = s.lock();
        d.ipvs
            .set_timeouts(t.tcp, t.tcpfin, t.udp)
            .map_err(|e| fail(&e))?;
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn add_laddr(State(s): State<Shared>, Json(r): Json<api::LaddrRequest>) -> ApiResult<()> {
    {
        let mut d = s.lock();
        let k = key_in(&r.service);
        if !crate::convert::same_family(&r.addr, &k.af().unspecified()) {
            return Err(bad("local address family differs from the service's"));
        }
        d.ipvs.add_laddr(&k, r.addr).map_err(|e| fail(&e))?;
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn del_laddr(State(s): State<Shared>, Json(r): Json<api::LaddrRequest>) -> ApiResult<()> {
    {
        let mut d = s.lock();
        d.ipvs
            .del_laddr(&key_in(&r.service), r.addr)
            .map_err(|e| fail(&e))?;
        d.changed();
    }
    s.applied().await;
    Ok(Json(()))
}

async fn list_laddrs(
    State(s): State<Shared>,
    Json(k): Json<api::ServiceKey>,
) -> ApiResult<Vec<api::LaddrInfo>> {
    let d = s.lock();
    let l = d.ipvs.laddrs(&key_in(&k)).map_err(|e| fail(&e))?;
    Ok(Json(
        l.into_iter()
            .map(|x| api::LaddrInfo {
                addr: x.addr,
                used_ports: x.used_ports,
            })
            .collect(),
    ))
}

async fn dataplane(State(s): State<Shared>) -> ApiResult<api::DataplaneStatus> {
    Ok(Json(s.lock().dataplane.clone()))
}
