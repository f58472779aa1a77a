//! A backup with services and real servers configured receives any datagram: no panic,
//! and the model stays usable (a packet of a synced connection can still be processed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs_core::sync::SyncReceiver;
use lvs_core::{DestConfig, ForwardMethod, Ipvs, ServiceConfig, ServiceKey, Time};

fuzz_target!(|data: &[u8]| {
    let mut ipvs = Ipvs::default();
    let vip = "10.0.0.1".parse().unwrap();
    for port in [80, 81] {
        let key = ServiceKey::tcp(vip, port);
        let mut cfg = ServiceConfig::new(key, "rr");
        if port == 81 {
            cfg = cfg.persistent(60);
        }
        ipvs.add_service(&cfg).unwrap();
        let rs = DestConfig::new("10.0.1.2".parse().unwrap(), port, ForwardMethod::Masq);
        ipvs.add_dest(&key, &rs).unwrap();
    }
    let mut rx = SyncReceiver::new(0);
    rx.receive(&mut ipvs, data, Time::from_secs(1));
    ipvs.poll(Time::from_secs(2_000));
});
