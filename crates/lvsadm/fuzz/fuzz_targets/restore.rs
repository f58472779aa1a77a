//! Any `-R` input must be read without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lvsadm::parse_restore(data, "ipvsadm", &lvsadm::NoResolver);
});
