//! Any argv must parse, or fail with ipvsadm's message and exit status, never panic.
//! Input: first byte picks `ipvsadm`/`lvsadm` as argv[0], the rest is NUL-separated
//! arguments (`lvsadm::fuzzing::argv_from_bytes`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lvsadm::fuzzing::lvsadm_args(data));
