//! The guest kit for hookr plugins written in Rust.
//!
//! A plugin is a `#![no_std]` `cdylib` built for `wasm32-unknown-unknown`. It lists
//! the functions it exports with [`plugin!`]: byte functions take the payload as
//! `&[u8]` and append their response to a reused buffer; typed functions take and
//! return MessagePack values through [`Decode`] and [`Encode`], which
//! `#[derive(Encode, Decode)]` writes for structs and enums, laid out the way Go's
//! `tinylib/msgp` lays out structs ([`codec`] has the layout). The kit provides the
//! rest of the hookr ABI: the `__plugin_call` export, calls into host functions
//! ([`host_call`], [`host_call_into`], [`host_call_typed`]), logging ([`log()`],
//! [`log_parts()`], [`log!`]), a global allocator and a panic handler.
//!
//! ```no_run
//! #![no_std]
//! #![no_main]
//!
//! use hookr_guest::{host_call_into, Decode, Encode, Error};
//!
//! hookr_guest::plugin! {
//!     bytes "shout" => shout,
//!     bytes "ask" => ask,
//!     typed "greet" => greet,
//! }
//!
//! // Byte function: the payload is borrowed, the response is appended to `out`.
//! fn shout(payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
//!     out.extend(payload.iter().map(u8::to_ascii_uppercase));
//!     Ok(())
//! }
//!
//! // Calls the host function "answer" and returns its reply as is.
//! fn ask(payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
//!     host_call_into("answer", payload, out)?;
//!     Ok(())
//! }
//!
//! // Typed messages: MessagePack maps keyed by field name, as Go's msgp writes them.
//! #[derive(Decode)]
//! struct Name {
//!     name: String,
//! }
//!
//! #[derive(Encode)]
//! struct Greeting {
//!     greeting: String,
//! }
//!
//! // Typed function: {"name": "Ada"} in, {"greeting": "hi Ada"} out.
//! fn greet(Name { name }: Name) -> Result<Greeting, Error> {
//!     if name.is_empty() {
//!         return Err(Error::new("no name given"));
//!     }
//!     hookr_guest::log_parts(&["greeting ", &name]);
//!     Ok(Greeting { greeting: ["hi ", &name].concat() })
//! }
//! # extern crate alloc;
//! # use alloc::{string::String, vec::Vec};
//! ```
//!
//! # Building
//!
//! The kit builds for `wasm32-unknown-unknown` only (any other target is a compile
//! error), and so do its docs: `cargo doc --target wasm32-unknown-unknown`, which is the
//! default target set in this crate's `.cargo/config.toml`. A plugin crate sets
//! `crate-type = ["cdylib"]` and, to ask the host for a single 64 KiB page of memory
//! instead of sixteen, links with `-C link-arg=-zstack-size=16384`. For less than a
//! page (a microcontroller), see the `page-size-1` feature.
//!
//! # Cost of a call
//!
//! `__plugin_call` keeps its request and response buffers between calls, so a byte
//! function that answers within the capacity of earlier calls allocates nothing. The
//! operation is looked up by comparing names in table order. Typed host calls reuse
//! their own pair of buffers too; only what the decoded response owns is allocated.
//!
//! # Size
//!
//! The host hashes and compiles a plugin at every start-up, and a device keeps it in
//! flash, so the kit keeps its own code small: its allocator is about 1 KB, and none of
//! its messages (decode errors, unknown operations, panics) go through `core::fmt`.
//! A plugin keeps that gain by doing the same: [`log_parts()`] instead of [`log!`],
//! strings joined with `push_str` or `concat` instead of `format!`, no float
//! formatting, `?` rather than `Result::unwrap`. `targets/README.md` ("Keeping a plugin
//! small") gives the costs and how to see what takes space.
//!
//! # Features
//!
//! - `allocator` (default): the global allocator is the kit's own, about 1 KB of code.
//!   Sizes fall in classes (16-byte steps up to 64 bytes, then four per power of two)
//!   with a free list each; new blocks are cut from the top of the heap, which starts
//!   at `__heap_base` and grows with `memory.grow`. A freed block is reused by the next
//!   allocation of its class, and a block at the top of the heap grows in place. When
//!   memory cannot grow, allocation fails: `try_reserve` returns an error, and an
//!   infallible allocation (`Vec::push`) ends the call with a trap.
//! - `page-size-1`: the allocator counts memory in 1-byte pages, for a plugin whose
//!   memory is given 1-byte pages (the Wasm custom-page-sizes proposal) after it is
//!   built, by `hookr-pages` in this repository (`targets/pages`): the memory is then
//!   exactly the plugin's stack, static data and the heap it was given, instead of a
//!   multiple of 64 KiB, and grows byte by byte when the host allows it. The module
//!   says so in a custom section, which `hookr-pages` checks; a module built with this
//!   feature but left with 64 KiB pages still works (the allocator sees that its pages
//!   cannot be 1 byte). README.md ("Embedded") shows the whole build.
//! - `dlmalloc`: installs [`dlmalloc`](https://docs.rs/dlmalloc), the allocator of Rust's
//!   standard library on `wasm32`, instead: about 9 KB more code, and tighter packing
//!   when a plugin keeps many allocations of varied sizes alive. It takes precedence
//!   over `allocator`.
//! - With `default-features = false` (and `features = ["panic-handler"]` to keep the
//!   panic handler), install your own `#[global_allocator]`.
//! - `panic-handler` (default): a panic logs `plugin panicked at FILE:LINE:COLUMN` through
//!   `__log`, followed by the message when it is a plain string (`panic!("no sensor")`,
//!   `Option::unwrap`, `Option::expect`), and traps. A message with arguments is left
//!   out: it would need `core::fmt`.
#![no_std]
#![deny(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
compile_error!(
    "hookr-guest builds plugins for wasm32 only: build with --target wasm32-unknown-unknown"
);

// dlmalloc counts memory in 64 KiB pages.
#[cfg(all(feature = "page-size-1", feature = "dlmalloc"))]
compile_error!("the `page-size-1` feature is for the kit's allocator: dlmalloc counts 64 KiB pages");

// The buffers kept between calls rely on a plugin instance running on one thread.
#[cfg(target_feature = "atomics")]
compile_error!("hookr-guest supports single-threaded wasm32 only (no `atomics` feature)");

extern crate alloc;

mod cell;
mod error;
mod export;
#[cfg(all(feature = "allocator", not(feature = "dlmalloc")))]
mod heap;
mod host;
mod rt;
mod sys;
mod text;

pub use cell::GuestCell;
pub use codec::{Decode, Encode};
pub use error::{Error, HostError};
pub use export::{call_typed, dispatch, ByteFn, Export};
pub use host::{host_call, host_call_into, host_call_typed, log, log_parts};

#[doc(hidden)]
pub use alloc::format as __format;

/// The MessagePack codec of typed functions and typed host calls: everything of
/// [`hookr_abi::codec`] (its docs give the layout and the attributes), with
/// `#[derive(Encode, Decode)]` writing paths into this crate, so that a plugin needs
/// no other dependency.
pub mod codec {
    pub use hookr_abi::codec::*;
    pub use hookr_derive::{GuestDecode as Decode, GuestEncode as Encode};
}
