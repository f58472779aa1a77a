//! Any keepalived.conf text must load without panicking, with one of keepalived's `-t` exit
//! statuses. Includes are not followed; `~SEQ`/`~LST` expansion is bounded.
//!
//!     cd fuzz && cargo fuzz run -s none keepalived_conf /tmp/kc-work corpus/keepalived_conf -- \
//!         -dict=keepalived_conf.dict -max_len=4096 -max_total_time=300
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lvs_keepalived::conf::fuzzing::keepalived_conf(data));
