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

#[test]
fn pinned_modules_may_have_one_byte_pages() {
    let wasm = common::wasm(
        r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 200 (pagesize 1))
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 0) (i32.const 16))
    (call $resp (i32.const 16) (local.get $len))
    (i32.const 1)))"#,
    );
    // SAFETY: `wat` produced this module and the validating suite (tests/page_sizes.rs)
    // loads modules like it with the custom-page-sizes proposal on.
    let pin = unsafe { Pinned::new_unchecked(hookr::to_hex(&hookr::sha256(&wasm)).leak()) };
    let mut rt = Runtime::builder(()).bytes(&wasm).pinned(pin).build().unwrap();
    assert_eq!((rt.memory_size(), rt.module().memory_page_size()), (200, 1));
    assert_eq!(rt.invoke("echo", b"small").unwrap(), b"small");
    assert!(matches!(rt.invoke("echo", &[0; 185]).unwrap_err(), Error::BadGuestPointer { .. }));
    // Without the proposal such a module is refused, by hookr (wasmi does not check
    // without validation).
    let off = hookr::EngineConfig::default().with_custom_page_sizes(false);
    let err = Runtime::builder(()).bytes(&wasm).pinned(pin).engine_config(off).build().unwrap_err();
    assert!(matches!(&err, Error::InvalidModule(m) if m.contains("1-byte pages")), "{err:?}");
}
