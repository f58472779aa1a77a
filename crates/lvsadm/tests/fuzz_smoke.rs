//! The fuzz targets of `fuzz/` on stable Rust, as part of `cargo test`: the very functions
//! cargo-fuzz runs (`lvsadm::fuzzing`) over the committed corpus (the golden cases'
//! command lines and restore inputs, plus what fuzzing runs added) and over a few thousand
//! generated argument vectors built from the fuzz dictionary's words and arbitrary bytes.
//! A panic anywhere fails the test.

use std::path::{Path, PathBuf};

use lvsadm::fuzzing::{argv_from_bytes, lvsadm_args, lvsadm_restore};
use proptest::prelude::*;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_args_corpus_runs_clean() {
    let c = corpus("lvsadm_args");
    assert!(c.len() >= 300, "corpus has {} inputs", c.len());
    for (path, data) in c {
        let r = std::panic::catch_unwind(|| lvsadm_args(&data));
        assert!(
            r.is_ok(),
            "panic on {}: {:?}",
            path.display(),
            argv_from_bytes(&data)
        );
    }
}

#[test]
fn the_restore_corpus_runs_clean() {
    let c = corpus("lvsadm_restore");
    assert!(c.len() >= 20, "corpus has {} inputs", c.len());
    for (path, data) in c {
        let r = std::panic::catch_unwind(|| lvsadm_restore(&data));
        assert!(r.is_ok(), "panic on {}", path.display());
    }
}

#[test]
fn argv_bytes_decode_as_the_binary_decodes_them() {
    assert_eq!(argv_from_bytes(b""), ["ipvsadm"]);
    assert_eq!(argv_from_bytes(b"\x00-L\x00-n"), ["ipvsadm", "-L", "-n"]);
    assert_eq!(argv_from_bytes(b"\x01-A\x00"), ["lvsadm", "-A", ""]);
    assert_eq!(argv_from_bytes(b"\x00\xff"), ["ipvsadm", "\u{fffd}"]);
}

/// The dictionary's words (`"..."` lines, with `\\`, `\"` and `\xNN` escapes).
fn dictionary() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(fuzz_dir().join("lvsadm_args.dict")).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(q) = line.strip_prefix('"').and_then(|l| l.strip_suffix('"')) else {
            continue;
        };
        let mut w = Vec::new();
        let b = q.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match (b[i], b.get(i + 1)) {
                (b'\\', Some(b'x')) => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    w.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 4;
                }
                (b'\\', Some(&c)) => {
                    w.push(c);
                    i += 2;
                }
                (c, _) => {
                    w.push(c);
                    i += 1;
                }
            }
        }
        out.push(w);
    }
    assert!(out.len() > 100, "dictionary has {} words", out.len());
    out
}

fn word(dict: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(dict),
        2 => "[-a-zA-Z0-9:.,\\[\\]/]{0,24}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..16),
    ]
}

fn argv_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        prop::collection::vec(word(dictionary()), 0..12),
    )
        .prop_map(|(first, words)| {
            let mut data = vec![first];
            for (i, w) in words.into_iter().enumerate() {
                if i > 0 {
                    data.push(0);
                }
                data.extend(w);
            }
            data
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn generated_argv_never_panics(data in argv_bytes()) {
        lvsadm_args(&data);
    }

    #[test]
    fn generated_restore_input_never_panics(
        lines in prop::collection::vec(argv_bytes(), 0..6)
    ) {
        let text: Vec<u8> = lines
            .into_iter()
            .flat_map(|l| {
                let mut l: Vec<u8> = l[1..].iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
                l.push(b'\n');
                l
            })
            .collect();
        lvsadm_restore(&text);
    }
}
