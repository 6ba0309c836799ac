//! Without the `validate` feature only modules pinned with `Pinned` load.
//! Run with `cargo test --no-default-features --features std --test pinned`.
#![cfg(not(feature = "validate"))]

mod common;

use hookr::{Error, Pinned, Runtime, Sha256Hasher};

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
