//! Replays saved fuzz inputs (`tests/fuzz_regressions/TARGET/`) and the fuzz seed corpus
//! (`fuzz/corpus/TARGET/`) through the fuzz targets' own logic, on stable Rust.
//!
//! An input that once crashed a target is kept here as a file named after what it found;
//! each test runs every file of its target and fails on the first that panics.

extern crate alloc;

#[allow(dead_code)]
#[path = "../fuzz/src/codec.rs"]
mod codec;
#[allow(dead_code)]
#[path = "../fuzz/src/load_invoke.rs"]
mod load_invoke;
#[allow(dead_code)]
#[path = "../fuzz/src/simple_ops.rs"]
mod simple_ops;
#[allow(dead_code)]
#[path = "../fuzz/src/transcript.rs"]
mod transcript;

use std::path::{Path, PathBuf};

/// Every file under `dir` except dot-files, sorted; none when the folder does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

/// Runs `run` on every saved input of `target`, naming the one that fails.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = files(&root.join("tests/fuzz_regressions").join(target));
    inputs.extend(files(&root.join("fuzz/corpus").join(target)));
    for path in &inputs {
        let data = std::fs::read(path).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| run(&data)) {
            eprintln!("fuzz input {} fails", path.display());
            std::panic::resume_unwind(panic);
        }
    }
    inputs.len()
}

#[test]
fn load_invoke_inputs_replay() {
    assert!(replay("load_invoke", load_invoke::run) >= 4, "the seed corpus is missing");
}

#[test]
fn wat_seeds_load_and_replay() {
    // The binary seeds in `fuzz/corpus/load_invoke/seed-NAME.wasm` come from these.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let wats = files(&dir);
    assert!(!wats.is_empty());
    for path in wats {
        let wasm = wat::parse_file(&path).unwrap();
        hookr::Runtime::builder(()).bytes(&wasm).build().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        load_invoke::run(&wasm);
    }
}

#[test]
fn simple_ops_inputs_replay() {
    assert!(replay("simple_ops", simple_ops::run) >= 1, "the seed corpus is missing");
}

#[test]
fn codec_inputs_replay() {
    assert!(replay("codec", codec::run) >= 1, "the seed corpus is missing");
}

#[test]
fn transcript_inputs_replay() {
    assert!(replay("transcript", transcript::run) >= 2, "the seed corpus is missing");
}
