//! Hostile waPC guests get what hostile hookr guests get: a wild pointer or length in
//! any waPC import (each of `__host_call`'s four pairs too) is `BadGuestPointer`
//! naming the import, the largest lengths in a loop run out of fuel after a bounded
//! amount of host work, sizes are limited, and the next call works.

mod common;

use common::Tally;
use hookr::meter::BYTES_PER_FUEL;
use hookr::{Error, HostError, Limits, Runtime, Usage};

/// A waPC guest whose behaviour is picked by the first byte of the operation name.
/// The operation lands at 0, the payload at 1024, in 2 pages of memory, or in all
/// the memory the default limit allows (256 pages) when it does not fit in those.
///
/// - `e` echo the payload; `c` count calls (a global), as 4 LE bytes
/// - `f` report `planned Failure` and fail; `F` report it and return success
/// - `h` host call: payload = [binding len][namespace len][operation len], the three
///   names, then the host payload; answers the host response, or reports the host
///   error as its own (either is written after the payload, and must fit)
/// - `P` a wild pointer: payload = [import][ptr: 4 LE][len: 4 LE], import 0
///   `__guest_request`, 1 `__guest_response`, 2 `__guest_error`, 3–6 `__host_call`
///   with the binding, namespace, operation or payload pair wild, 7 `__host_response`,
///   8 `__host_error`, 9 `__console_log`
/// - loops with memory grown to the default limit (256 pages, 16 MiB) and `$mem` its
///   size: `q` `__guest_request`; `r` `__guest_response(0, $mem)`; `E`
///   `__guest_error(0, $mem)`; `b` `__host_call` with all of memory as binding,
///   namespace, operation and payload; `H` `__host_call` of the plain operation `H`
///   with all of memory as payload; `R` one such call, then `__host_response(0)`; `X` a
///   call of `X`, which fails with a 64 KiB message, then `__host_error(0)`; `n` both
///   length calls; `l` `__console_log(0, 60 KiB)`
const GUEST: &str = r#"(module
  (import "wapc" "__guest_request" (func $req (param i32 i32)))
  (import "wapc" "__guest_response" (func $resp (param i32 i32)))
  (import "wapc" "__guest_error" (func $err (param i32 i32)))
  (import "wapc" "__host_call" (func $hcall (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $hrlen (result i32)))
  (import "wapc" "__host_response" (func $hr (param i32)))
  (import "wapc" "__host_error_len" (func $helen (result i32)))
  (import "wapc" "__host_error" (func $he (param i32)))
  (import "wapc" "__console_log" (func $log (param i32 i32)))
  (memory (export "memory") 2)
  (global $count (mut i32) (i32.const 0))
  (data (i32.const 512) "planned Failure")
  (func $all (result i32)
    (drop (memory.grow (i32.sub (i32.const 256) (memory.size))))
    (i32.mul (memory.size) (i32.const 65536)))
  (func (export "__guest_call") (param $op_len i32) (param $len i32) (result i32)
    (local $op i32) (local $mem i32) (local $n i32) (local $b i32) (local $o i32)
    (local $ptr i32) (local $plen i32) (local $dst i32)
    (if (i32.gt_u (i32.add (i32.const 1024) (local.get $len)) (i32.const 131072)) (then (drop (call $all))))
    (call $req (i32.const 0) (i32.const 1024))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (local.set $op (i32.load8_u (i32.const 0)))
    (local.set $dst (i32.add (i32.const 1024) (local.get $len)))
    (if (i32.eq (local.get $op) (i32.const 101)) (then
      (call $resp (i32.const 1024) (local.get $len)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 99)) (then
      (i32.store (i32.const 600) (global.get $count))
      (call $resp (i32.const 600) (i32.const 4)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 102)) (then (call $err (i32.const 512) (i32.const 15)) (return (i32.const 0))))
    (if (i32.eq (local.get $op) (i32.const 70)) (then (call $err (i32.const 512) (i32.const 15)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 104)) (then
      (local.set $b (i32.load8_u (i32.const 1024)))
      (local.set $n (i32.load8_u (i32.const 1025)))
      (local.set $o (i32.load8_u (i32.const 1026)))
      (local.set $ptr (i32.add (i32.const 1027) (i32.add (local.get $b) (i32.add (local.get $n) (local.get $o)))))
      (if (call $hcall
            (i32.const 1027) (local.get $b)
            (i32.add (i32.const 1027) (local.get $b)) (local.get $n)
            (i32.add (i32.const 1027) (i32.add (local.get $b) (local.get $n))) (local.get $o)
            (local.get $ptr) (i32.sub (local.get $dst) (local.get $ptr)))
        (then
          (call $hr (local.get $dst))
          (call $resp (local.get $dst) (call $hrlen))
          (return (i32.const 1)))
        (else
          (call $he (local.get $dst))
          (call $err (local.get $dst) (call $helen))
          (return (i32.const 0))))))
    (if (i32.eq (local.get $op) (i32.const 80)) (then
      (local.set $n (i32.load8_u (i32.const 1024)))
      (local.set $ptr (i32.load (i32.const 1025)))
      (local.set $plen (i32.load (i32.const 1029)))
      (if (i32.eq (local.get $n) (i32.const 0)) (then (call $req (local.get $ptr) (local.get $ptr))))
      (if (i32.eq (local.get $n) (i32.const 1)) (then (call $resp (local.get $ptr) (local.get $plen))))
      (if (i32.eq (local.get $n) (i32.const 2)) (then (call $err (local.get $ptr) (local.get $plen))))
      (if (i32.eq (local.get $n) (i32.const 3)) (then (drop (call $hcall (local.get $ptr) (local.get $plen)
        (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)))))
      (if (i32.eq (local.get $n) (i32.const 4)) (then (drop (call $hcall (i32.const 0) (i32.const 0)
        (local.get $ptr) (local.get $plen) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)))))
      (if (i32.eq (local.get $n) (i32.const 5)) (then (drop (call $hcall (i32.const 0) (i32.const 0)
        (i32.const 0) (i32.const 0) (local.get $ptr) (local.get $plen) (i32.const 0) (i32.const 0)))))
      (if (i32.eq (local.get $n) (i32.const 6)) (then (drop (call $hcall (i32.const 0) (i32.const 0)
        (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (local.get $ptr) (local.get $plen)))))
      (if (i32.eq (local.get $n) (i32.const 7)) (then (call $hr (local.get $ptr))))
      (if (i32.eq (local.get $n) (i32.const 8)) (then (call $he (local.get $ptr))))
      (if (i32.eq (local.get $n) (i32.const 9)) (then (call $log (local.get $ptr) (local.get $plen))))
      (return (i32.const 1))))
    (local.set $mem (call $all))
    (if (i32.eq (local.get $op) (i32.const 82)) (then (i32.store8 (i32.const 0) (i32.const 72))
      (drop (call $hcall (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (local.get $mem)))))
    (if (i32.eq (local.get $op) (i32.const 88))
      (then (drop (call $hcall (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)))))
    (if (i32.eq (local.get $op) (i32.const 113)) (then (loop $l (call $req (i32.const 0) (i32.const 1024)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 114)) (then (loop $l (call $resp (i32.const 0) (local.get $mem)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 69)) (then (loop $l (call $err (i32.const 0) (local.get $mem)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 98)) (then (loop $l (drop (call $hcall
      (i32.const 0) (local.get $mem) (i32.const 0) (local.get $mem) (i32.const 0) (local.get $mem) (i32.const 0) (local.get $mem))) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 72)) (then (loop $l (drop (call $hcall
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (local.get $mem))) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 82)) (then (loop $l (call $hr (i32.const 0)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 88)) (then (loop $l (call $he (i32.const 0)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 110)) (then (loop $l (drop (call $hrlen)) (drop (call $helen)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 108)) (then (loop $l (call $log (i32.const 0) (i32.const 61440)) (br $l))))
    (i32.const 0)))"#;

/// A runtime of the guest: a host function `H` that echoes (counting what it sees),
/// one `X` that fails with a 64 KiB message, one `big` that answers as many bytes as
/// its 4 LE payload bytes say, and `echo` of binding `b`, namespace `n`.
fn runtime(limits: Limits) -> (Runtime<()>, Tally, Tally) {
    let (seen, logged) = (Tally::default(), Tally::default());
    let (s, l) = (seen.clone(), logged.clone());
    let rt = Runtime::builder(())
        .bytes(&common::wasm(GUEST))
        .limits(limits)
        .host_fn("H", move |_, payload, out| {
            s.add(payload.len());
            out.extend_from_slice(payload);
            Ok(())
        })
        .host_fn("X", |_, _, _| Err(HostError::from("e".repeat(64 << 10))))
        .host_fn("big", |_, payload, out| {
            let n = u32::from_le_bytes(payload.try_into().map_err(|_| HostError::new("want 4 bytes"))?);
            out.resize(n as usize, 7);
            Ok(())
        })
        .host_fn(("b", "n", "echo"), |_, payload, out| {
            out.extend_from_slice(payload);
            Ok(())
        })
        .logger(move |line| l.add(line.len()))
        .build()
        .unwrap();
    (rt, seen, logged)
}

/// The payload of an `h` call.
fn host_call(binding: &str, namespace: &str, op: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![binding.len() as u8, namespace.len() as u8, op.len() as u8];
    for part in [binding.as_bytes(), namespace.as_bytes(), op.as_bytes(), payload] {
        v.extend_from_slice(part);
    }
    v
}

fn assert_recovered(rt: &mut Runtime<()>) {
    assert_eq!(rt.invoke("count", b"").unwrap(), 1u32.to_le_bytes(), "the instance was not reset");
    assert_eq!(rt.invoke("echo", b"still here").unwrap(), b"still here");
}

#[test]
fn the_guest_works_when_it_behaves() {
    let (mut rt, _, _) = runtime(Limits::default());
    assert_eq!(rt.invoke("echo", b"abc").unwrap(), b"abc");
    assert_eq!(rt.invoke("h", &host_call("b", "n", "echo", b"addressed")).unwrap(), b"addressed");
    assert_eq!(rt.invoke("h", &host_call("", "", "H", b"plain")).unwrap(), b"plain");
    let err = rt.invoke("h", &host_call("b", "", "echo", b"")).unwrap_err();
    assert_eq!(err.to_string(), "plugin error: no handler registered for operation 'echo' (binding 'b', namespace '')");
    assert_eq!(rt.invoke("fail", b"").unwrap_err().to_string(), "plugin error: planned Failure");
    assert_eq!(rt.invoke("Fail-but-succeed", b"").unwrap_err().to_string(), "plugin error: planned Failure");
}

/// The imports `P` calls, and whether each takes a length: `__guest_request`,
/// `__host_response` and `__host_error` use the host's.
const IMPORTS: [(&str, bool); 10] = [
    ("__guest_request", false),
    ("__guest_response", true),
    ("__guest_error", true),
    ("__host_call", true),
    ("__host_call", true),
    ("__host_call", true),
    ("__host_call", true),
    ("__host_response", false),
    ("__host_error", false),
    ("__console_log", true),
];

#[test]
fn wild_pointers_in_every_import_are_errors() {
    let (mut rt, _, _) = runtime(Limits::default());
    common::wild_pointers_fail(&mut rt, &IMPORTS, assert_recovered);
    let msg = rt.invoke("P", &common::wild(4, 0xFFFF_FFF0, 100)).unwrap_err().to_string();
    assert!(msg.starts_with("bad guest pointer in `__host_call`: 100 bytes at 0xfffffff0"), "{msg}");
}

#[test]
fn sizes_are_limited_and_long_messages_cut() {
    let limits = Limits::default().with_max_response(1000).with_max_host_response(1 << 20).with_max_error(7);
    let (mut rt, _, _) = runtime(limits);
    let err = rt.invoke("echo", &[1; 1001]).unwrap_err();
    assert!(matches!(err, Error::TooLarge { what: "plugin response", len: 1001, limit: 1000 }), "{err:?}");
    assert_recovered(&mut rt);
    let err = rt.invoke("h", &host_call("", "", "big", &(2u32 << 20).to_le_bytes())).unwrap_err();
    assert!(matches!(err, Error::TooLarge { what: "host response", .. }), "{err:?}");
    assert_recovered(&mut rt);
    assert_eq!(rt.invoke("fail", b"").unwrap_err().to_string(), "plugin error: planned … [truncated from 15 bytes]");
    // A host error is cut to the same limit before the guest reads it: the guest gets 7
    // bytes and the note (40 bytes), and its own error made of them is cut again.
    let err = rt.invoke("h", &host_call("", "", "X", b"")).unwrap_err().to_string();
    assert_eq!(err, "plugin error: eeeeeee … [truncated from 40 bytes]");
    assert_eq!(" … [truncated from 65536 bytes]".len(), 40 - 7);
}

/// Runs the loop `op` (see [`common::runs_out`]). No loop step costs more than 8 M
/// fuel (64 MiB handed to `__host_call`).
fn runs_out(rt: &mut Runtime<()>, op: &str, payload: &[u8]) -> Usage {
    common::runs_out(rt, op, payload, 9 << 20)
}

const MEM: usize = 256 * 65536;

#[test]
fn every_import_in_a_loop_with_the_largest_lengths_runs_out_of_fuel() {
    let (mut rt, seen, logged) = runtime(Limits::default());
    runs_out(&mut rt, "q", &vec![7; MEM - 1024]);
    runs_out(&mut rt, "r", b"");
    runs_out(&mut rt, "E", b"");
    runs_out(&mut rt, "b", b"");
    runs_out(&mut rt, "H", b"");
    // `H` saw each 16 MiB payload it was paid for, and no more.
    let moved = seen.get();
    assert!(moved >= MEM as u64 && moved <= Limits::DEFAULT_CALL_FUEL * BYTES_PER_FUEL, "{moved}");
    runs_out(&mut rt, "R", b"");
    runs_out(&mut rt, "X", b"");
    runs_out(&mut rt, "n", b"");
    let usage = runs_out(&mut rt, "l", b"");
    // 60 KiB lines: as many as fit in the output bound, the rest dropped and counted.
    let per_call = Limits::default().max_output_per_call as u64;
    assert_eq!(logged.get(), per_call / 61440 * 61440);
    assert_eq!(usage.output_bytes, logged.get());
    assert!(usage.dropped_log_lines > 1000, "{usage:?}");
}
