//! Hand-written WAT plugins shared by the integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hookr::{Error, Limits, Runtime, Usage};

/// A plugin whose behaviour is picked by the first byte of the operation name:
///
/// - `e` echo the payload; `n` succeed with no response; `z` fail without a message
/// - `f` report `planned Failure` and fail; `F` report it but return success
/// - `l` log the payload; `c` count calls (a global) and answer the count as 4 LE bytes
/// - `i` answer `__host_response_len` and `__host_error_len` (4 LE bytes each) without
///   making a host call
/// - `h` host call: payload = [name length][name][host payload]; answers the host
///   response, or reports the host error as its own
/// - `t` trap (unreachable); `L` loop forever; `R` recurse without end
/// - `g` grow memory one page at a time until refused, answer the page count (4 LE bytes)
/// - `m` call `__plugin_response` a million times, answering the payload
/// - `P` call a host import with a wild pointer: payload = [import][ptr: 4 LE][len: 4 LE],
///   import 0 `__plugin_request`, 1 `__plugin_response`, 2 `__plugin_error`,
///   3 `__host_call`, 4 `__host_response`, 5 `__host_error`, 6 `__log`
///
/// The payload lands at 128 KiB; memory grows to fit it.
pub const KITCHEN: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (import "hookr" "__plugin_error" (func $err (param i32 i32)))
  (import "hookr" "__host_call" (func $hcall (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__host_response_len" (func $hrlen (result i32)))
  (import "hookr" "__host_response" (func $hr (param i32)))
  (import "hookr" "__host_error_len" (func $helen (result i32)))
  (import "hookr" "__host_error" (func $he (param i32)))
  (import "hookr" "__log" (func $log (param i32 i32)))
  (memory (export "memory") 2)
  (global $count (mut i32) (i32.const 0))
  (data (i32.const 0) "planned Failure")
  (func $ensure (param $end i32) (local $have i32)
    (local.set $have (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then (if (i32.eq (memory.grow (i32.div_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535)) (i32.const 65536))) (i32.const -1))
        (then unreachable)))))
  (func $recurse (param i32) (result i32) (call $recurse (i32.add (local.get 0) (i32.const 1))))
  (func (export "__plugin_call") (param $op_len i32) (param $len i32) (result i32)
    (local $op i32) (local $n i32) (local $dst i32) (local $ptr i32) (local $plen i32) (local $i i32)
    (call $ensure (i32.add (i32.const 131072) (local.get $len)))
    (call $req (i32.const 1024) (i32.const 131072))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (local.set $op (i32.load8_u (i32.const 1024)))
    (local.set $dst (i32.add (i32.const 131072) (local.get $len)))
    (if (i32.eq (local.get $op) (i32.const 101)) (then
      (call $resp (i32.const 131072) (local.get $len)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 110)) (then (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 122)) (then (return (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 102)) (then (call $err (i32.const 0) (i32.const 15)) (return (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 70)) (then (call $err (i32.const 0) (i32.const 15)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 108)) (then (call $log (i32.const 131072) (local.get $len)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 99)) (then
      (i32.store (i32.const 512) (global.get $count))
      (call $resp (i32.const 512) (i32.const 4)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 104)) (then
      (local.set $n (i32.load8_u (i32.const 131072)))
      (if (call $hcall (i32.const 131073) (local.get $n)
                       (i32.add (i32.const 131073) (local.get $n))
                       (i32.sub (i32.sub (local.get $len) (i32.const 1)) (local.get $n)))
        (then
          (call $ensure (i32.add (local.get $dst) (call $hrlen)))
          (call $hr (local.get $dst))
          (call $resp (local.get $dst) (call $hrlen))
          (return (i32.const 1)))
        (else
          (call $ensure (i32.add (local.get $dst) (call $helen)))
          (call $he (local.get $dst))
          (call $err (local.get $dst) (call $helen))
          (return (i32.const 0))))))
    (if (i32.eq (local.get $op) (i32.const 105)) (then
      (i32.store (i32.const 512) (call $hrlen))
      (i32.store (i32.const 516) (call $helen))
      (call $resp (i32.const 512) (i32.const 8)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 116)) (then unreachable))
    (if (i32.eq (local.get $op) (i32.const 76)) (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $op) (i32.const 82)) (then (return (call $recurse (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 103)) (then
      (block $done (loop $more
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $more)))
      (i32.store (i32.const 512) (memory.size))
      (call $resp (i32.const 512) (i32.const 4)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 109)) (then
      (block $done (loop $more
        (br_if $done (i32.eq (local.get $i) (i32.const 1000000)))
        (call $resp (i32.const 131072) (local.get $len))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
      (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 80)) (then
      (local.set $n (i32.load8_u (i32.const 131072)))
      (local.set $ptr (i32.load (i32.const 131073)))
      (local.set $plen (i32.load (i32.const 131077)))
      (if (i32.eq (local.get $n) (i32.const 0)) (then (call $req (local.get $ptr) (local.get $ptr))))
      (if (i32.eq (local.get $n) (i32.const 1)) (then (call $resp (local.get $ptr) (local.get $plen))))
      (if (i32.eq (local.get $n) (i32.const 2)) (then (call $err (local.get $ptr) (local.get $plen))))
      (if (i32.eq (local.get $n) (i32.const 3)) (then (drop (call $hcall (local.get $ptr) (local.get $plen) (local.get $ptr) (local.get $plen)))))
      (if (i32.eq (local.get $n) (i32.const 4)) (then (call $hr (local.get $ptr))))
      (if (i32.eq (local.get $n) (i32.const 5)) (then (call $he (local.get $ptr))))
      (if (i32.eq (local.get $n) (i32.const 6)) (then (call $log (local.get $ptr) (local.get $plen))))
      (return (i32.const 1))))
    (i32.const 0)))"#;

/// Calls the host function `h` with the 60 000 bytes at address 0 (a MessagePack
/// array of 59 997 zeros) until the call runs out of fuel.
pub const TYPED_HOST_LOOP: &str = r#"(module
  (import "hookr" "__host_call" (func $hcall (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "\dc\ea\5d")
  (data (i32.const 70000) "h")
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (loop $calls
      (drop (call $hcall (i32.const 70000) (i32.const 1) (i32.const 0) (i32.const 60000)))
      (br $calls))
    (i32.const 1)))"#;

pub fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("test WAT compiles")
}

pub fn kitchen() -> Vec<u8> {
    wasm(KITCHEN)
}

/// The payload of a `h` call: host operation `name` with `payload`.
pub fn host_call(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(payload);
    v
}

/// The payload of a `P` call.
pub fn wild(import: u8, ptr: u32, len: u32) -> Vec<u8> {
    let mut v = vec![import];
    v.extend_from_slice(&ptr.to_le_bytes());
    v.extend_from_slice(&len.to_le_bytes());
    v
}

/// A logger that keeps every line.
pub fn log_lines() -> (Arc<Mutex<Vec<String>>>, impl FnMut(&str) + Send + 'static) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    (lines, move |line: &str| sink.lock().unwrap().push(line.to_owned()))
}

/// Runs the loop `op`: it must end out of fuel with its whole budget spent, to within
/// `step`, the most one turn of the loop costs, and the runtime must answer the next
/// call, an echo (`e`). Returns what the call used.
pub fn runs_out<T>(rt: &mut Runtime<T>, op: &str, payload: &[u8], step: u64) -> Usage {
    let err = rt.invoke(op, payload).unwrap_err();
    assert!(matches!(err, Error::OutOfFuel), "{op}: {err:?}");
    let usage = rt.last_call();
    let used = usage.fuel.expect("metered by default");
    let budget = Limits::DEFAULT_CALL_FUEL;
    assert!(used <= budget && used > budget - step, "{op}: used {used} of {budget}");
    assert_eq!(rt.invoke("e", b"after").unwrap(), b"after", "{op}: the runtime did not recover");
    usage
}

/// Calls `P` with wild pointers and lengths (see [`wild`]) in each import of
/// `imports`, at its index: every call must fail with [`Error::BadGuestPointer`]
/// naming the import, and `recovered` must then find the runtime working. An import
/// marked `false` takes no length (the host's is used): only its wild pointers count.
pub fn wild_pointers_fail<T>(rt: &mut Runtime<T>, imports: &[(&str, bool)], recovered: impl Fn(&mut Runtime<T>)) {
    for (i, &(name, takes_len)) in imports.iter().enumerate() {
        for (ptr, len) in [(0xFFFF_FFF0u32, 100u32), (0, 0x7FFF_FFFF), (0xFFFF_FFFF, 0xFFFF_FFFF)] {
            if !takes_len && ptr == 0 {
                continue;
            }
            match rt.invoke("P", &wild(i as u8, ptr, len)).unwrap_err() {
                Error::BadGuestPointer { import, ptr: p, memory, .. } => {
                    assert_eq!((import, p), (name, ptr), "import {i}");
                    assert!(memory >= 131072);
                }
                other => panic!("{name} (import {i}) {ptr:#x} {len:#x}: {other:?}"),
            }
            recovered(rt);
        }
    }
}

/// Counts what the host did for a plugin: bytes, calls, lines.
#[derive(Clone, Default)]
pub struct Tally(Arc<AtomicU64>);

impl Tally {
    pub fn add(&self, n: usize) {
        self.0.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
