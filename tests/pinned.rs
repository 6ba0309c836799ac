//! Without the `validate` feature only modules pinned with `Pinned` load.
//! Run with `cargo test --no-default-features --features std --test pinned`.
#![cfg(not(feature = "validate"))]

mod common;

use hookr::{Error, Pinned, Runtime, Sha256Hasher};

/// Pins bytes the caller vouches were validated.
fn pin(wasm: &[u8]) -> Pinned {
    let hash: &'static str = hookr::to_hex(&hookr::sha256(wasm)).leak();
    // SAFETY: every caller passes a module the `wat` crate produced from WAT that the
    // validating test suite loads; a wrong hash is refused before compiling.
    unsafe { Pinned::new_unchecked(hash) }
}

/// Without the `wasi` feature a plugin that imports WASI is refused with a link error
/// that says why, before anything runs; the same plugin loads with it.
#[test]
fn wasi_imports_need_the_wasi_feature() {
    let wasm = wat::parse_str(
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    )
    .unwrap();
    let built = Runtime::builder(()).bytes(&wasm).pinned(pin(&wasm)).build();
    if cfg!(feature = "wasi") {
        assert!(built.is_ok(), "{:?}", built.err());
    } else {
        match built.map(|_| ()).unwrap_err() {
            Error::Link { module, name, reason } => {
                assert_eq!((&*module, &*name), ("wasi_snapshot_preview1", "fd_write"));
                assert!(reason.contains("`wasi` feature"), "{reason}");
            }
            err => panic!("want a link error, got {err:?}"),
        }
    }
}

#[test]
fn only_pinned_modules_load() {
    let wasm = common::kitchen();
    let hash: &'static str = hookr::to_hex(&hookr::sha256(&wasm)).leak();
    // A hash alone, even a right one, does not say the bytes were validated.
    let err = Runtime::builder(()).bytes(&wasm).hash(hash).hasher(Sha256Hasher).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = Runtime::builder(()).bytes(&wasm).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    // SAFETY: the kitchen plugin is hand-written WAT that the `wat` crate produced and
    // the validating test suite loads; a wrong hash below is refused before compiling.
    let wrong = unsafe { Pinned::new_unchecked(hookr::to_hex(&hookr::sha256(b"other")).leak()) };
    let err = Runtime::builder(()).bytes(&wasm).pinned(wrong).build().unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err:?}");
    // SAFETY: as above.
    let pin = unsafe { Pinned::new_unchecked(hash) };
    let mut rt = Runtime::builder(()).bytes(&wasm).pinned(pin).build().unwrap();
    assert_eq!(rt.invoke("echo", b"pinned").unwrap(), b"pinned");
}
