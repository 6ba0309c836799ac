//! A hookr plugin written against Rust's standard library for `wasm32-wasip1`.
//!
//! It is a reactor (`cdylib`): the host runs its `_initialize` once and then calls
//! `__plugin_call` for each operation. It speaks the hookr ABI through imports it
//! declares itself, and reaches stdout, stderr, the clock, randomness, the arguments,
//! the environment and `exit` only through std, that is through WASI.
//!
//! Operations (the response is UTF-8 text):
//! - `demo`: counts the words of the payload in a `HashMap`, prints them to stdout,
//!   prints a note to stderr, and answers with the counts, the wall-clock time in
//!   nanoseconds and 16 hex digits derived from the `HashMap`'s random keys.
//! - `env`: answers with the arguments and the environment, one per line.
//! - `exit`: exits with the status given as the payload (decimal).
//! - `stdin`: answers with the number of bytes read from stdin.
//! - `sleep`: sleeps (`std::thread::sleep`) the milliseconds given as the payload and
//!   answers with the milliseconds its monotonic clock saw pass.
//! - anything else: fails with a message through `__plugin_error`.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

#[link(wasm_import_module = "hookr")]
extern "C" {
    fn __plugin_request(op_ptr: *mut u8, payload_ptr: *mut u8);
    fn __plugin_response(ptr: *const u8, len: usize);
    fn __plugin_error(ptr: *const u8, len: usize);
}

/// The hookr entry point: reads the request, runs the operation, hands back the answer.
#[no_mangle]
pub extern "C" fn __plugin_call(op_len: usize, payload_len: usize) -> i32 {
    let mut op = vec![0u8; op_len];
    let mut payload = vec![0u8; payload_len];
    // SAFETY: both buffers are as long as the lengths the host gave for this call.
    unsafe { __plugin_request(op.as_mut_ptr(), payload.as_mut_ptr()) };
    let payload = String::from_utf8_lossy(&payload);
    let answer = match op.as_slice() {
        b"demo" => Ok(demo(&payload)),
        b"env" => Ok(env()),
        b"exit" => std::process::exit(payload.trim().parse().unwrap_or(1)),
        b"stdin" => stdin(),
        b"sleep" => Ok(sleep(&payload)),
        other => Err(format!("unknown operation `{}`", String::from_utf8_lossy(other))),
    };
    match answer {
        Ok(text) => {
            // SAFETY: the host copies the bytes before this call returns.
            unsafe { __plugin_response(text.as_ptr(), text.len()) };
            1
        }
        Err(msg) => {
            // SAFETY: as above.
            unsafe { __plugin_error(msg.as_ptr(), msg.len()) };
            0
        }
    }
}

fn demo(text: &str) -> String {
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_insert(0) += 1;
    }
    let mut sorted: Vec<_> = counts.iter().map(|(w, n)| (*w, *n)).collect();
    sorted.sort();
    for (word, n) in &sorted {
        println!("{word}: {n}");
    }
    eprintln!("counted {} distinct words", sorted.len());

    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    // The map's hasher is keyed from random bytes (WASI `random_get`).
    let mut hasher = counts.hasher().build_hasher();
    hasher.write(b"hookr");
    let random = hasher.finish();

    let mut out = String::new();
    for (word, n) in &sorted {
        out.push_str(&format!("{word}={n} "));
    }
    out.push_str(&format!("time={now} random={random:016x}"));
    out
}

fn env() -> String {
    let mut out = String::new();
    for arg in std::env::args() {
        out.push_str(&format!("arg {arg}\n"));
    }
    for (key, value) in std::env::vars() {
        out.push_str(&format!("env {key}={value}\n"));
    }
    out
}

fn sleep(millis: &str) -> String {
    let millis = millis.trim().parse().unwrap_or(0);
    let start = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(millis));
    start.elapsed().as_millis().to_string()
}

fn stdin() -> Result<String, String> {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("stdin: {e}"))?;
    Ok(format!("{} bytes", buf.len()))
}
