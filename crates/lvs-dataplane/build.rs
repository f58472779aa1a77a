//! Compile every `bpf/*.bpf.c` of the repository with clang-19 into `$OUT_DIR/<name>.o`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const CLANG: &str = "clang-19";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let bpf_dir = manifest.join("../../bpf");
    let include = bpf_dir.join("include");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed={}", bpf_dir.display());
    println!("cargo:rerun-if-changed={}", include.display());

    let multiarch = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "x86_64-linux-gnu".to_string());

    if Command::new(CLANG).arg("--version").output().is_err() {
        panic!(
            "{CLANG} not found: the XDP programs of lvs-dataplane are C compiled by {CLANG}. \
             Run `make deps` (as root) or `apt-get install -y clang-19 llvm-19 libbpf-dev \
             linux-libc-dev`."
        );
    }

    let mut sources: Vec<PathBuf> = std::fs::read_dir(&bpf_dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", bpf_dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
        .collect();
    sources.sort();
    for entry in std::fs::read_dir(&include).into_iter().flatten().flatten() {
        println!("cargo:rerun-if-changed={}", entry.path().display());
    }
    for src in &sources {
        println!("cargo:rerun-if-changed={}", src.display());
        compile(src, &include, &multiarch, &out);
    }
}

fn compile(src: &Path, include: &Path, multiarch: &str, out: &Path) {
    let name = src
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".bpf.c"))
        .expect("*.bpf.c");
    let obj = out.join(format!("{name}.o"));
    let output = Command::new(CLANG)
        .args([
            "-O2",
            "-g",
            "-Wall",
            "-target",
            "bpf",
            "-D__TARGET_ARCH_x86",
        ])
        .arg("-I")
        .arg(include)
        .arg(format!("-I/usr/include/{multiarch}"))
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&obj)
        .output()
        .unwrap_or_else(|e| panic!("running {CLANG}: {e} (run `make deps`)"));
    if !output.status.success() {
        panic!(
            "{CLANG} failed on {}:\n{}{}\n(missing headers? run `make deps`: clang-19 libbpf-dev \
             linux-libc-dev)",
            src.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        println!("cargo:warning={line}");
    }
}
