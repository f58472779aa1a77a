//! `GET`/`PUT /v1/config`: the whole configuration, read and applied all or nothing
//! (`lvs_core::apply` does the diff and the validation; this adds lvsd's own per-service
//! state, the Proxy Protocol flag).

use std::collections::HashSet;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use lvs_api as api;
use lvs_api::paths;
use lvs_core::apply::{ApplyReport, ServiceSetup, Setup};
use lvs_core::{Ipvs, ServiceKey};
use serde::Deserialize;

use crate::api::{ApiResult, fail};
use crate::convert::{dest_in, dest_spec_out, key_in, service_in, service_spec_out};
use crate::state::Shared;

/// Largest `PUT /v1/config` body (axum's default is 2 MiB, about 10,000 real servers).
pub const MAX_CONFIG_BODY: usize = 64 << 20;

/// The routes of this module.
pub fn routes() -> Router<Shared> {
    Router::new().route(
        paths::CONFIG,
        get(get_config)
            .put(put_config)
            .layer(DefaultBodyLimit::max(MAX_CONFIG_BODY)),
    )
}

/// API configuration → model [`Setup`].
pub fn setup_in(c: &api::Config) -> Setup {
    Setup {
        services: c
            .services
            .iter()
            .map(|s| ServiceSetup {
                service: service_in(&s.service),
                dests: s.dests.iter().map(dest_in).collect(),
                laddrs: s.laddrs.clone(),
            })
            .collect(),
        timeouts: c.timeouts.map(|t| (t.tcp, t.tcpfin, t.udp)),
    }
}

/// The live configuration as the API's [`api::Config`].
pub fn config_out(ipvs: &Ipvs, proxy_protocol: &HashSet<ServiceKey>) -> api::Config {
    let setup = ipvs.setup();
    api::Config {
        services: setup
            .services
            .into_iter()
            .map(|s| {
                let proxy = proxy_protocol.contains(&s.service.key);
                api::ConfigService {
                    service: service_spec_out(s.service, proxy),
                    dests: s.dests.iter().map(dest_spec_out).collect(),
                    laddrs: s.laddrs,
                }
            })
            .collect(),
        timeouts: setup
            .timeouts
            .map(|(tcp, tcpfin, udp)| api::Timeouts { tcp, tcpfin, udp }),
    }
}

fn summary_out(r: &ApplyReport, applied: bool, proxy_protocol_changed: u32) -> api::ApplySummary {
    api::ApplySummary {
        applied,
        services_added: r.services_added,
        services_edited: r.services_edited,
        services_deleted: r.services_deleted,
        services_unchanged: r.services_unchanged,
        dests_added: r.dests_added,
        dests_edited: r.dests_edited,
        dests_deleted: r.dests_deleted,
        dests_unchanged: r.dests_unchanged,
        laddrs_added: r.laddrs_added,
        laddrs_deleted: r.laddrs_deleted,
        proxy_protocol_changed,
        timeouts_changed: r.timeouts_changed,
    }
}

async fn get_config(State(s): State<Shared>) -> ApiResult<api::Config> {
    let d = s.lock();
    Ok(Json(config_out(&d.ipvs, &d.proxy_protocol)))
}

/// Query of `PUT /v1/config`.
#[derive(Debug, Default, Deserialize)]
pub struct ApplyQuery {
    /// Only check and report, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Apply (or with `dry_run` only check) `cfg` to the daemon's state: the summary, or the
/// error naming the first bad item with nothing changed.
pub fn apply(
    d: &mut crate::state::Daemon,
    cfg: &api::Config,
    dry_run: bool,
) -> Result<api::ApplySummary, (StatusCode, Json<api::ApiError>)> {
    let want = setup_in(cfg);
    let now = d.now();
    let proxy: HashSet<ServiceKey> = cfg
        .services
        .iter()
        .filter(|s| s.service.proxy_protocol)
        .map(|s| key_in(&s.service.key))
        .collect();
    let proxy_changed = cfg
        .services
        .iter()
        .filter(|s| {
            let k = key_in(&s.service.key);
            s.service.proxy_protocol != d.proxy_protocol.contains(&k)
        })
        .count();
    let proxy_changed = u32::try_from(proxy_changed).unwrap_or(u32::MAX);
    let result = if dry_run {
        d.ipvs.check_setup(&want, now).map(|p| p.report)
    } else {
        d.ipvs.apply_setup(&want, now)
    };
    let report = result.map_err(|e| {
        let (status, Json(mut body)) = fail(&e.error);
        body.message = e.to_string();
        (status, Json(body))
    })?;
    if !dry_run {
        let changed = !report.is_noop() || d.proxy_protocol != proxy;
        d.proxy_protocol = proxy;
        if changed {
            d.changed();
        }
    }
    Ok(summary_out(&report, !dry_run, proxy_changed))
}

async fn put_config(
    State(s): State<Shared>,
    Query(q): Query<ApplyQuery>,
    Json(cfg): Json<api::Config>,
) -> ApiResult<api::ApplySummary> {
    let summary = apply(&mut s.lock(), &cfg, q.dry_run)?;
    if summary.applied {
        s.applied().await;
    }
    Ok(Json(summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Daemon;

    fn spec(addr: &str, port: u16, sched: &str) -> api::ServiceSpec {
        api::ServiceSpec {
            key: api::ServiceKey::Addr {
                protocol: api::Protocol::Tcp,
                addr: addr.parse().unwrap(),
                port,
            },
            scheduler: sched.into(),
            flags: 0,
            persistence: None,
            pe: None,
            proxy_protocol: false,
        }
    }

    fn rs(addr: &str, port: u16, method: api::Method, weight: i32) -> api::DestSpec {
        api::DestSpec {
            addr: addr.parse().unwrap(),
            port,
            method,
            tunnel: api::Tunnel::default(),
            weight,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    fn doc() -> api::Config {
        let mut full = spec("10.0.0.2", 443, "rr");
        full.proxy_protocol = true;
        api::Config {
            services: vec![
                api::ConfigService {
                    service: spec("10.0.0.1", 80, "wrr"),
                    dests: vec![
                        rs("10.2.0.11", 8080, api::Method::Masq, 2),
                        rs("10.2.0.12", 8080, api::Method::Masq, 1),
                    ],
                    laddrs: vec![],
                },
                api::ConfigService {
                    service: full,
                    dests: vec![rs("10.2.0.11", 443, api::Method::FullNat, 1)],
                    laddrs: vec!["10.2.0.200".parse().unwrap()],
                },
            ],
            timeouts: Some(api::Timeouts {
                tcp: 900,
                tcpfin: 120,
                udp: 30,
            }),
        }
    }

    #[test]
    fn apply_then_read_back_gives_the_document_and_reapplying_is_a_noop() {
        let mut d = Daemon::new();
        let gen0 = d.config_gen;
        let s = apply(&mut d, &doc(), false).unwrap();
        assert!(s.applied);
        assert_eq!((s.services_added, s.dests_added, s.laddrs_added), (2, 3, 1));
        assert_eq!(s.proxy_protocol_changed, 1);
        assert!(s.timeouts_changed);
        assert_ne!(d.config_gen, gen0, "the data plane is told");
        let back = config_out(&d.ipvs, &d.proxy_protocol);
        assert_eq!(back, doc());
        // Through JSON too, as a client would send it back.
        let json = serde_json::to_string(&back).unwrap();
        let again: api::Config = serde_json::from_str(&json).unwrap();
        let gen1 = d.config_gen;
        let s = apply(&mut d, &again, false).unwrap();
        assert_eq!(s.services_unchanged, 2);
        assert_eq!(s.dests_unchanged, 3);
        assert_eq!(d.config_gen, gen1, "a no-op does not resync the data plane");
    }

    #[test]
    fn proxy_protocol_alone_is_a_change() {
        let mut d = Daemon::new();
        apply(&mut d, &doc(), false).unwrap();
        let mut c = doc();
        c.services[1].service.proxy_protocol = false;
        let gen1 = d.config_gen;
        let s = apply(&mut d, &c, false).unwrap();
        assert_eq!(s.proxy_protocol_changed, 1);
        assert_ne!(d.config_gen, gen1);
        assert!(d.proxy_protocol.is_empty());
    }

    #[test]
    fn a_dry_run_or_a_failure_changes_nothing() {
        let mut d = Daemon::new();
        apply(&mut d, &doc(), false).unwrap();
        let before = config_out(&d.ipvs, &d.proxy_protocol);
        let gen1 = d.config_gen;
        let mut c = doc();
        c.services.remove(0);
        c.services[0].service.proxy_protocol = false;
        let s = apply(&mut d, &c, true).unwrap();
        assert!(!s.applied);
        assert_eq!(s.services_deleted, 1);
        assert_eq!(config_out(&d.ipvs, &d.proxy_protocol), before);

        c.services[0]
            .dests
            .push(rs("10.2.0.13", 443, api::Method::FullNat, -3));
        let (status, Json(e)) = apply(&mut d, &c, false).unwrap_err();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(e.kind, api::ErrorKind::OutOfRange);
        assert_eq!(
            e.message,
            "real server 10.2.0.13:443 of service TCP 10.0.0.2:443: weight out of range"
        );
        assert_eq!(config_out(&d.ipvs, &d.proxy_protocol), before);
        assert_eq!(d.config_gen, gen1);
    }

    #[tokio::test]
    async fn large_documents_are_accepted() {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;
        // 3 MiB of JSON (padding is white space): over axum's default limit, under ours.
        let body = format!("{{\"services\": []{}}}", " ".repeat(3 << 20));
        let send = |path: &str, method: &str| {
            Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json")
                .body(Body::from(body.clone()))
                .unwrap()
        };
        let app = crate::api::router(Shared::new(Daemon::new()));
        let r = app
            .clone()
            .oneshot(send(paths::CONFIG, "PUT"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = app.oneshot(send(paths::SERVICES, "POST")).await.unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
