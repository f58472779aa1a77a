//! Any datagram must decode or fail cleanly, never panic; what decodes re-encodes to bytes
//! that decode to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs_core::sync::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = wire::decode(data)
        && let Ok(b) = wire::encode(m.header.version, m.header.syncid, &m.conns)
    {
        let again = wire::decode(&b).expect("own encoding decodes");
        assert_eq!(again.conns.len(), m.conns.len());
    }
});
