//! `PUT /v1/config` (what lvs-keepalived's reloads use) on a director with a download
//! running (NAT, IPv4): an apply that keeps the download's service and real server leaves
//! the connection alone, it completes intact; an apply with one bad item changes nothing.

use std::time::Duration;

use lvs_api::client::ClientError;
use lvs_api::{ConfigService, DestSpec, ErrorKind, Method, Protocol, ServiceKey, ServiceSpec};
use lvs_e2e::{Routed, V4, hostport, slow_download, tally, wait_rc, wait_server};
use lvs_testkit::bin_path;

fn spec(protocol: Protocol, vip: &str, port: u16, sched: &str) -> ServiceSpec {
    ServiceSpec {
        key: ServiceKey::Addr {
            protocol,
            addr: vip.parse().unwrap(),
            port,
        },
        scheduler: sched.into(),
        flags: 0,
        persistence: None,
        pe: None,
        proxy_protocol: false,
    }
}

fn rs(addr: &str, weight: i32) -> DestSpec {
    DestSpec {
        addr: addr.parse().unwrap(),
        port: 8080,
        method: Method::Masq,
        tunnel: Default::default(),
        weight,
        u_threshold: 0,
        l_threshold: 0,
    }
}

/// The `-Lnc` row of the connection to `dest` on port 80, if any.
fn conn_to(lab: &Routed, dest: &str) -> Option<String> {
    let vip = hostport(lab.plan.vip, 80);
    lab.adm(&["-Lnc"])
        .unwrap()
        .lines()
        .find(|l| l.contains(&vip) && l.ends_with(dest))
        .map(str::to_string)
}

#[test]
fn a_reload_keeps_connections_of_what_stays_and_a_bad_one_changes_nothing() {
    let mut lab = Routed::new("cf", V4, true).expect("lab");
    lab.start_echo(8080).unwrap();
    let vip = lab.plan.vip;
    let [rs1, rs2] = lab.plan.rs;
    let web = hostport(vip, 80);
    lab.adm(&["-A", "-t", &web, "-s", "rr"]).unwrap();
    for r in [rs1, rs2] {
        lab.adm(&["-a", "-t", &web, "-r", &hostport(r, 8080), "-m"])
            .unwrap();
    }
    let other = hostport(vip, 81);
    lab.adm(&["-A", "-t", &other, "-s", "rr"]).unwrap();
    lab.adm(&["-a", "-t", &other, "-r", &hostport(rs1, 8080), "-m"])
        .unwrap();

    // A download through the web service, slow enough to span both applies.
    let n = 2_000_000u64;
    let (rc, body) = slow_download(&mut lab, "dl", n, "200k");
    let busy = wait_server(&body);
    let (busy_rs, idle_rs) = match busy.as_str() {
        "rs1" => (rs1, rs2),
        "rs2" => (rs2, rs1),
        other => panic!("download did not start: {other:?}"),
    };
    let busy_dest = hostport(busy_rs, 8080);
    let row = conn_to(&lab, &busy_dest).expect("the download's connection");
    assert!(row.contains("ESTABLISHED"), "{row}");

    // The reload: web stays, its idle real server gets weight 2, the busy one is as it
    // was; the :81 service goes; a UDP service comes.
    let api = lab.api();
    let mut cfg = api.config().unwrap();
    assert_eq!(cfg.services.len(), 2);
    cfg.services
        .retain(|s| s.service.key != spec(Protocol::Tcp, vip, 81, "rr").key);
    for d in &mut cfg.services[0].dests {
        if d.addr.to_string() == idle_rs {
            d.weight = 2;
        }
    }
    cfg.services.push(ConfigService {
        service: spec(Protocol::Udp, vip, 53, "rr"),
        dests: vec![rs(rs2, 1)],
        laddrs: vec![],
    });
    // A dry run first: what would change, nothing changed.
    let dry = api.check_config(&cfg).unwrap();
    assert!(!dry.applied);
    assert_eq!(api.config().unwrap().services.len(), 2);
    let s = api.apply_config(&cfg).unwrap();
    assert!(s.applied);
    assert_eq!(
        (
            s.services_added,
            s.services_deleted,
            s.services_unchanged,
            s.services_edited
        ),
        (1, 1, 1, 0),
        "{s:?}"
    );
    assert_eq!(
        (
            s.dests_added,
            s.dests_edited,
            s.dests_unchanged,
            s.dests_deleted
        ),
        (1, 1, 1, 0),
        "{s:?}"
    );
    assert_eq!(
        dry,
        lvs_api::ApplySummary {
            applied: false,
            ..s
        }
    );
    let applied = api.config().unwrap();
    assert_eq!(applied, cfg, "GET returns what was put");
    let row = conn_to(&lab, &busy_dest).expect("the connection survived the reload");
    assert!(row.contains("ESTABLISHED"), "{row}");
    // GET then PUT is a no-op.
    let again = api.apply_config(&applied).unwrap();
    assert_eq!(
        (again.services_unchanged, again.dests_unchanged),
        (2, 3),
        "{again:?}"
    );
    assert_eq!(
        again.services_added + again.services_edited + again.dests_added + again.dests_edited,
        0
    );

    // A bad document: a valid change to the busy server's weight, and a service with an
    // unknown scheduler. Refused as a whole; the error names the service.
    let mut bad = applied.clone();
    for d in &mut bad.services[0].dests {
        d.weight = 5;
    }
    bad.services.push(ConfigService {
        service: spec(Protocol::Tcp, vip, 82, "nosuch"),
        dests: vec![rs(rs1, 1)],
        laddrs: vec![],
    });
    match api.apply_config(&bad) {
        Err(ClientError::Api(e)) => {
            assert_eq!(e.kind, ErrorKind::SchedulerNotFound);
            assert_eq!(
                e.message,
                format!("service TCP {vip}:82: Scheduler or persistence engine not found")
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(api.config().unwrap(), applied, "nothing applied");
    assert!(conn_to(&lab, &busy_dest).is_some());

    // The download completes, intact.
    assert_eq!(wait_rc(&rc, Duration::from_secs(30)), Some(0), "download");
    assert_eq!(std::fs::metadata(&body).unwrap().len(), n);
    // Counters of the kept service were not reset by the reload: one connection so far.
    let svc = api
        .services()
        .unwrap()
        .into_iter()
        .find(|s| s.spec.key == applied.services[0].service.key)
        .unwrap();
    assert_eq!(svc.stats.conns, 1);
    // The new configuration forwards: the idle server has weight 2 now (rr ignores
    // weights, only weight 0 matters), the new UDP service goes to rs2.
    let t = tally(lab.http_gets(80, 4).unwrap().iter().map(String::as_str));
    assert_eq!((t.get("rs1"), t.get("rs2")), (Some(&2), Some(&2)));
    let echo = bin_path("lvs-echo").unwrap();
    let out = lab
        .lab
        .exec(
            "c",
            &[
                echo.to_str().unwrap(),
                "--udp-clients",
                &hostport(vip, 53),
                "2",
            ],
        )
        .unwrap();
    assert_eq!(
        tally(String::from_utf8_lossy(&out.stdout).lines()).get("rs2"),
        Some(&2)
    );
    assert!(
        lab.lab
            .try_exec("c", &["curl", "-s", "-m", "2", &format!("http://{other}/")])
            .unwrap()
            .stdout
            .is_empty(),
        "the :81 service is gone"
    );
}
