//! Any `-R` input must be read without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lvsadm::fuzzing::lvsadm_restore(data));
