//! A waPC guest built with `wapc-guest`, the waPC project's Rust guest kit, the way
//! its README shows: `wapc_init` registers the functions, `__guest_call` (from the
//! kit) dispatches to them. hookr runs it through the waPC ABI.
//!
//! - `echo`: the payload, unchanged.
//! - `greet`: the payload goes to the host operation `hello` of binding `demo`,
//!   namespace `greetings`; its reply comes back unchanged.
//! - `greet_plain`: the same with the operation `helloByte`, no binding and no
//!   namespace: what a hookr plugin calls.
//! - `ask_missing`: calls the host operation `missing` of binding `demo`, namespace
//!   `greetings`, which a host does not register: fails with the host's error.
//! - `fail`: always fails with `planned failure`.
//! - `trap`: panics, which traps (`panic = "abort"`).
//! - `count`: how many times `count` ran in this instance, as decimal text.
//! - `log`: logs the payload (UTF-8) through `__console_log`, answers nothing.
//!
//! Any other operation fails with the kit's `No handler registered for function …`.
//!
//! Its memory has 1-byte pages, sized to what it needs: std's allocator counts 64 KiB
//! pages, so the guest uses the allocator of hookr's guest kit, which counts 1-byte
//! ones; everything else is `wapc-guest` and std.

use std::sync::atomic::{AtomicU32, Ordering};

use wapc_guest::{self as wapc, CallResult};

// The allocator of hookr's guest kit, which counts the 1-byte pages this guest's memory
// is given (see Cargo.toml); nothing else of the kit is used.
use hookr_guest as _;

/// Registers every function; waPC hosts call it once, after `_start`.
#[no_mangle]
pub fn wapc_init() {
    wapc::register_function("echo", echo);
    wapc::register_function("greet", greet);
    wapc::register_function("greet_plain", greet_plain);
    wapc::register_function("ask_missing", ask_missing);
    wapc::register_function("fail", fail);
    wapc::register_function("trap", trap);
    wapc::register_function("count", count);
    wapc::register_function("log", log);
}

fn echo(payload: &[u8]) -> CallResult {
    Ok(payload.to_vec())
}

fn greet(payload: &[u8]) -> CallResult {
    wapc::host_call("demo", "greetings", "hello", payload)
}

fn greet_plain(payload: &[u8]) -> CallResult {
    wapc::host_call("", "", "helloByte", payload)
}

fn ask_missing(payload: &[u8]) -> CallResult {
    wapc::host_call("demo", "greetings", "missing", payload)
}

fn fail(_: &[u8]) -> CallResult {
    Err("planned failure".into())
}

fn trap(_: &[u8]) -> CallResult {
    panic!("planned trap")
}

static COUNT: AtomicU32 = AtomicU32::new(0);

fn count(_: &[u8]) -> CallResult {
    let n = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
    Ok(n.to_string().into_bytes())
}

fn log(payload: &[u8]) -> CallResult {
    wapc::console_log(&String::from_utf8_lossy(payload));
    Ok(Vec::new())
}
