//! The hookr ABI shared by hosts and guests: the import and export names, and the
//! MessagePack codec that typed calls use; the waPC ABI's names are in [`wapc`].
//!
//! Both the host runtime (`hookr`) and the guest kit (`hookr-guest`) depend on this
//! crate, so the two sides cannot drift apart. It is `#![no_std]` and needs `alloc`.
//!
//! # Typed payloads
//!
//! Typed payloads are MessagePack, laid out the way Go's `tinylib/msgp` lays out
//! structs: a map keyed by field name. Decoding also accepts the array form, in which
//! fields come in declaration order. `#[derive(Encode, Decode)]` (the `derive`
//! feature, on by default) writes the impls; [`codec`] has the whole layout.
//!
//! ```
//! use hookr_abi::codec::{self, Decode, Encode};
//!
//! #[derive(Debug, PartialEq, Encode, Decode)]
//! struct Echo {
//!     data: String,
//! }
//!
//! let bytes = codec::to_vec(&Echo { data: "Steve".into() }).unwrap();
//! // {"data": "Steve"} the msgp way: fixmap(1), fixstr "data", fixstr "Steve".
//! assert_eq!(bytes, b"\x81\xa4data\xa5Steve");
//! let back: Echo = codec::from_slice(&bytes).unwrap();
//! assert_eq!(back.data, "Steve");
//! ```
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod codec;
pub mod wapc;

/// The module name of the hookr host imports.
pub const HOST_MODULE: &str = "hookr";

/// Host import `__plugin_request(op_ptr, payload_ptr)`: the host writes the operation
/// name and the payload into guest memory.
pub const PLUGIN_REQUEST: &str = "__plugin_request";
/// Host import `__plugin_response(ptr, len)`: the guest hands its response.
pub const PLUGIN_RESPONSE: &str = "__plugin_response";
/// Host import `__plugin_error(ptr, len)`: the guest hands an error message.
pub const PLUGIN_ERROR: &str = "__plugin_error";
/// Host import `__host_call(op_ptr, op_len, payload_ptr, payload_len) -> i32`.
pub const HOST_CALL: &str = "__host_call";
/// Host import `__host_response_len() -> i32`.
pub const HOST_RESPONSE_LEN: &str = "__host_response_len";
/// Host import `__host_response(ptr)`.
pub const HOST_RESPONSE: &str = "__host_response";
/// Host import `__host_error_len() -> i32`.
pub const HOST_ERROR_LEN: &str = "__host_error_len";
/// Host import `__host_error(ptr)`.
pub const HOST_ERROR: &str = "__host_error";
/// Host import `__log(ptr, len)`: a UTF-8 log line.
pub const LOG: &str = "__log";

/// All nine host imports of the `hookr` module.
pub const HOST_IMPORTS: [&str; 9] = [
    PLUGIN_REQUEST,
    PLUGIN_RESPONSE,
    PLUGIN_ERROR,
    HOST_CALL,
    HOST_RESPONSE_LEN,
    HOST_RESPONSE,
    HOST_ERROR_LEN,
    HOST_ERROR,
    LOG,
];

/// Guest export `__plugin_call(op_len, payload_len) -> i32`: 1 on success, 0 on failure.
pub const PLUGIN_CALL: &str = "__plugin_call";
/// Guest export: the linear memory.
pub const MEMORY: &str = "memory";
/// Optional guest initialisers, run once at instantiation in this order.
pub const INITIALISERS: [&str; 3] = ["_start", "_initialize", "hookr_init"];

/// The value `__plugin_call` and `__host_call` return on success.
pub const SUCCESS: i32 = 1;
/// The value `__plugin_call` and `__host_call` return on failure.
pub const FAILURE: i32 = 0;

/// The WASI module name that TinyGo and Rust `wasm32-wasip1` plugins import.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";
