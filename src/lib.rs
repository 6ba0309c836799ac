//! hookr runs WebAssembly plugins inside a host program.
//!
//! The host loads a plugin from bytes (or, with `std`, a file), checks its hash, and
//! calls the plugin's functions by name with bytes or typed MessagePack values; the
//! plugin calls back into host functions, logs, and (with WASI) writes to stdout and
//! stderr. It runs on the [`wasmi`] interpreter with `alloc` only, so the same API
//! serves firmware, deterministic tests and desktop programs.
//!
//! ```
//! use hookr::{HostError, HostFn, Runtime, Sha256Hasher, Hasher};
//!
//! // A plugin that forwards every call to the host function "double" and returns
//! // its answer. Real plugins are built with the guest kit; this one is hand-written.
//! let wasm = wat::parse_str(r#"(module
//!   (import "hookr" "__plugin_request" (func $req (param i32 i32)))
//!   (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
//!   (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
//!   (import "hookr" "__host_response_len" (func $rlen (result i32)))
//!   (import "hookr" "__host_response" (func $rget (param i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 0) "double")
//!   (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
//!     (call $req (i32.const 100) (i32.const 200))
//!     (if (i32.eqz (call $call (i32.const 0) (i32.const 6) (i32.const 200) (local.get $len)))
//!       (then (return (i32.const 0))))
//!     (call $rget (i32.const 1000))
//!     (call $resp (i32.const 1000) (call $rlen))
//!     (i32.const 1)))"#).unwrap();
//!
//! struct Calls(u32);
//!
//! fn double(calls: &mut Calls, input: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
//!     calls.0 += 1;
//!     out.extend_from_slice(input);
//!     out.extend_from_slice(input);
//!     Ok(())
//! }
//! static HOST_FNS: &[HostFn<Calls>] = &[HostFn::bytes("double", double)];
//!
//! let hash = Sha256Hasher.hash(&wasm);
//! let mut rt = Runtime::builder(Calls(0))
//!     .bytes(&wasm)
//!     .hash(&hash)
//!     .hasher(Sha256Hasher)
//!     .host_fns(HOST_FNS)
//!     .build()?;
//! assert_eq!(rt.invoke("anything", b"ab")?, b"abab");
//! assert_eq!(rt.state().0, 1);
//! assert_eq!(rt.memory_size(), 65536);
//! # Ok::<(), hookr::Error>(())
//! ```
//!
//! # Every call is bounded
//!
//! Calls are metered by default ([`Limits::DEFAULT_CALL_FUEL`] per call): the
//! interpreter charges fuel per instruction and every host import for the bytes it
//! moves ([`meter`] has the cost model), so no plugin keeps its host busy beyond its
//! budget. Output is bounded per call, a [timeout](Builder::timeout) or a
//! [`CancelHandle`] stops a call between slices of fuel, and
//! [`Runtime::start_sliced`] runs a call a slice at a time, for a firmware main loop.
//! After any of these stops a call, the plugin starts afresh for the next one.
//!
//! # Calls without allocation
//!
//! For firmware that must not allocate per call, every buffer a call writes can be
//! one of fixed capacity: the response ([`Runtime::invoke_into`] into any
//! [`io::Output`], such as a `heapless::Vec<u8, N>`), a host function's reply
//! ([`HostFn::bytes_fixed`]), typed values (`heapless::String<N>` fields decode
//! without allocating) and a plugin's error text ([`Builder::keep_error_texts`],
//! [`Runtime::last_error_text`]). What does not fit is an error
//! ([`Error::TooLarge`], [`codec::DecodeError::TooLong`]), never part of a value.
//!
//! # waPC guests
//!
//! A module that imports from `wapc` instead of `hookr` is a waPC guest (built with
//! `wapc-guest` or another waPC kit) and runs through the same calls, with the same
//! checks, limits and recovery ([`Abi`], [`Module::abi`]). Its host calls name a
//! binding and a namespace besides the operation: register host functions under them
//! with [`HostFn::with_binding`] and [`HostFn::with_namespace`], a
//! `(binding, namespace, operation)` [`HostFnName`] for closures, or
//! [`Builder::host_call_handler`].
//!
//! # Many instances
//!
//! A [`Module`] is compiled once, with the host functions of its imports resolved;
//! each [`Runtime`] made from it with [`Builder::module`] is an instance with its own
//! host state, about as cheap as wasmi's own instantiation. Under `std`, a [`Pool`] lends
//! runtimes of one module to many threads.
//!
//! # Features
//! - `std` (default): files, `std::io::Write` sinks, OS randomness and clocks.
//! - `serde` (default): [`Serde`] makes any serde type a typed payload (needs `std`).
//! - `validate` (default): modules are validated before they are compiled. Without it
//!   (about 120 KB less flash) only modules pinned with [`Pinned`] load: validate them
//!   at build time with `validate_and_pin`.
//! - `wasi` (default): WASI preview 1 for plugins that import it ([`wasi`]). Without
//!   it such a plugin fails to load with [`Error::Link`], and a firmware that runs no
//!   WASI plugin saves the flash of the import bodies.
//! - `terse-errors`: an interpreter error carries its kind ("instantiation error", a
//!   trap's message) instead of wasmi's full text, which keeps wasmi's `Display` impls
//!   out of a firmware image. Off by default.
//! - `defmt`: `defmt::Format` for [`Error`] and [`Abi`] (interned, with no
//!   `core::fmt`); without `std`, guest log lines and stdout/stderr go to defmt.
//! - `portable-dispatch`: the interpreter dispatches by loop, not tail calls; the
//!   native stack stays flat whatever the optimisation settings, metered or not. (With
//!   tail calls, a metered runtime bounds the stack by running guest code in chunks of
//!   fuel: README, Safety.)
//! - `cli`: the `hookr` command-line tool (hash, inspect, invoke, replay, show
//!   transcripts, start a plugin crate), not the library's.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod abi;
mod abort;
mod builder;
mod bytes;
mod chunk;
mod engine;
mod error;
mod error_text;
mod host_fn;
mod imports;
pub mod io;
mod limits;
pub mod meter;
mod module;
mod output;
mod plugin_fn;
#[cfg(feature = "std")]
mod pool;
mod runtime;
mod sections;
#[cfg(feature = "serde")]
mod serde;
mod sliced;
pub mod transcript;
pub mod wasi;

pub use abi::Abi;
pub use builder::{check_import, Builder};
pub use engine::Engine;
pub use error::{Error, TrapCode};
pub use host_fn::{BytesFn, FixedFn, HostCall, HostError, HostFn, HostFnName, TypedFn};
pub use limits::Limits;
pub use meter::Usage;
#[cfg(feature = "validate")]
pub use module::validate_and_pin;
pub use module::{
    parse_sha256, sha256, to_hex, EngineConfig, Hasher, Module, NoVerify, Pinned, Sha256Hasher, MAX_MODULE_FILE,
};
pub use plugin_fn::{PluginFn, PluginFnBytes};
#[cfg(feature = "std")]
pub use pool::{Pool, Pooled};
pub use runtime::Runtime;
pub use sections::memory_page_sizes;
#[cfg(feature = "serde")]
pub use serde::Serde;
pub use sliced::{CancelHandle, SlicedCall};

/// The ABI names shared with the guest kit.
pub use hookr_abi as abi_names;
pub mod codec;
/// Fixed-capacity vectors and strings: outputs, host-function replies and typed values
/// that need no allocation (see [`io::Output`]).
pub use heapless;
/// The interpreter hookr runs on.
pub use wasmi;
