//! `docs/api/openapi.yaml` lists exactly the routes the server has: every path constant of
//! `lvs-api` (and every literal path in a `.route(` of lvsd) is asked with every method
//! through the real router, and the methods that are routed must be the ones the document
//! lists for that path, and the other way round.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use tower::ServiceExt;

use crate::state::{Daemon, Shared};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `paths:` of the OpenAPI document: path → methods. The document keeps paths at two
/// spaces of indentation and methods at four.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(repo().join("docs/api/openapi.yaml")).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut in_paths = false;
    let mut current = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            let p = format!("/{}", p.strip_suffix(':').expect("path line ends with ':'"));
            out.entry(p.clone()).or_default();
            current = Some(p);
        } else if let Some(m) = line.strip_prefix("    ")
            && let Some(m) = m.strip_suffix(':')
            && METHODS.contains(&m)
        {
            let p = current.clone().expect("method before any path");
            out.get_mut(&p).unwrap().insert(m.to_string());
        }
    }
    out
}

/// Every path the code knows: `pub const X: &str = "/…";` in lvs-api's sources and
/// `.route("/…"` literals in lvsd's.
fn known_paths() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let scan = |dir: &str, out: &mut BTreeSet<String>, marker: &str| {
        for e in std::fs::read_dir(repo().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            for line in std::fs::read_to_string(&p).unwrap().lines() {
                if let Some(i) = line.find(marker) {
                    let rest = &line[i + marker.len()..];
                    if let Some(end) = rest.find('"') {
                        out.insert(format!("/{}", &rest[..end]));
                    }
                }
            }
        }
    };
    scan("crates/lvs-api/src", &mut out, ": &str = \"/");
    scan("crates/lvsd/src", &mut out, ".route(\"/");
    out
}

async fn routed(path: &str, method: &str) -> bool {
    let app = crate::api::router(Shared::new(Daemon::new()));
    let req = Request::builder()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::empty())
        .unwrap();
    let status = app.oneshot(req).await.unwrap().status();
    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes() {
    let doc = documented();
    let known = known_paths();
    assert!(
        known.contains("/v1/config") && known.contains("/metrics"),
        "{known:?}"
    );
    for p in &known {
        let mut served = BTreeSet::new();
        for m in METHODS {
            if routed(p, m).await {
                served.insert(m.to_string());
            }
        }
        if served.is_empty() {
            // A path constant that is not a route of its own (none today).
            assert!(!doc.contains_key(p), "{p} documented but not served");
            continue;
        }
        assert_eq!(
            doc.get(p),
            Some(&served),
            "{p}: served {served:?}, docs/api/openapi.yaml says {:?}",
            doc.get(p)
        );
    }
    for (p, methods) in &doc {
        for m in methods {
            assert!(routed(p, m).await, "documented {m} {p} is not served");
        }
    }
}
