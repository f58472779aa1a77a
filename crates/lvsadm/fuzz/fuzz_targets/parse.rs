//! Any argv (NUL-separated words) must parse or fail cleanly, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let argv: Vec<String> = std::iter::once("ipvsadm")
        .chain(text.split('\0'))
        .map(String::from)
        .collect();
    if let Err(e) = lvsadm::parse(&argv, &lvsadm::NoResolver) {
        let _ = (e.exit_code(), e.stderr_text());
    }
});
