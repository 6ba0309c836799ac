//! Without the `validate` feature only modules with a pinned SHA-256 load.
//! Run with `cargo test --no-default-features --features std --test pinned`.
#![cfg(not(feature = "validate"))]

mod common;

use hookr::{Error, Runtime, Sha256Hasher};

#[test]
fn only_pinned_modules_load() {
    let wasm = common::kitchen();
    let hash = hookr::to_hex(&hookr::sha256(&wasm));
    let err = Runtime::builder(()).bytes(&wasm).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let wrong = hookr::to_hex(&hookr::sha256(b"other"));
    let err = Runtime::builder(()).bytes(&wasm).hash(&wrong).hasher(Sha256Hasher).build().unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err:?}");
    let mut rt = Runtime::builder(()).bytes(&wasm).hash(&hash).hasher(Sha256Hasher).build().unwrap();
    assert_eq!(rt.invoke("echo", b"pinned").unwrap(), b"pinned");
}
