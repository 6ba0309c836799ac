//! Calling a plugin: every hookr import, the result rules, buffer reuse and memory size.

mod common;

use hookr::{Error, Runtime};

fn kitchen() -> Runtime<()> {
    Runtime::builder(()).bytes(&common::kitchen()).logger(|_| {}).build().unwrap()
}

#[test]
fn request_and_response_carry_bytes_both_ways() {
    let mut rt = kitchen();
    assert_eq!(rt.invoke("echo", b"Steve").unwrap(), b"Steve");
    assert_eq!(rt.invoke("echo", b"").unwrap(), b"");
    let big: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(rt.invoke("echo", &big).unwrap(), big);
}

#[test]
fn result_rules_follow_the_abi() {
    let mut rt = kitchen();
    // Success with no response is an empty response.
    assert_eq!(rt.invoke("none", b"x").unwrap(), b"");
    // A plugin error fails the call with its message...
    let err = rt.invoke("fail", b"").unwrap_err();
    assert!(matches!(&err, Error::Plugin(m) if &**m == "planned Failure"), "{err:?}");
    assert_eq!(err.to_string(), "plugin error: planned Failure");
    // ...even when `__plugin_call` returned success.
    let err = rt.invoke("Fail-but-succeed", b"").unwrap_err();
    assert!(matches!(&err, Error::Plugin(m) if &**m == "planned Failure"), "{err:?}");
    // Failure without a message names the operation.
    let err = rt.invoke("zero", b"").unwrap_err();
    assert_eq!(err.to_string(), "plugin error: call to `zero` was unsuccessful");
    // An earlier error does not leak into the next call.
    assert_eq!(rt.invoke("echo", b"ok").unwrap(), b"ok");
}

#[test]
fn invoke_into_reuses_the_callers_buffer() {
    let mut rt = kitchen();
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"stale");
    rt.invoke_into("echo", b"first", &mut out).unwrap();
    assert_eq!(out, b"first");
    let ptr = out.as_ptr();
    for i in 0..100u8 {
        rt.invoke_into("echo", &[i; 32], &mut out).unwrap();
        assert_eq!(out, [i; 32]);
    }
    assert_eq!(out.as_ptr(), ptr, "the buffer was reallocated");
    // A failed call leaves the buffer empty, not half-written.
    assert!(rt.invoke_into("fail", b"", &mut out).is_err());
    assert!(out.is_empty());
}

#[test]
fn log_lines_reach_the_logger() {
    let (lines, logger) = common::log_lines();
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).logger(logger).build().unwrap();
    rt.invoke("log", "hello, log ✓".as_bytes()).unwrap();
    rt.invoke("log", b"bad \xff utf-8").unwrap();
    assert_eq!(*lines.lock().unwrap(), ["hello, log ✓", "bad \u{fffd} utf-8"]);
}

#[test]
fn memory_size_is_in_bytes() {
    let mut rt = kitchen();
    assert_eq!(rt.memory_size(), 131072);
    // The kitchen plugin grows memory to fit a payload at 128 KiB.
    rt.invoke("echo", &[0; 70000]).unwrap();
    assert_eq!(rt.memory_size(), 4 * 65536);
}

#[test]
fn state_is_reachable_and_returned() {
    let mut rt = Runtime::builder(vec![1u8]).bytes(&common::kitchen()).build().unwrap();
    rt.state_mut().push(2);
    assert_eq!(rt.state(), &[1, 2]);
    assert_eq!(rt.into_state(), [1, 2]);
}

/// The state lives in one allocation with the runtime's context, whatever its size and
/// alignment: it survives failed calls and resets, comes back intact, and is dropped
/// once, by whoever holds it last.
#[test]
fn an_aligned_state_survives_resets_and_is_dropped_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    #[repr(align(128))]
    struct Aligned([u8; 300]);
    impl Drop for Aligned {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    let build = || Runtime::builder(Aligned([7; 300])).bytes(&common::kitchen()).build().unwrap();
    let mut rt = build();
    assert_eq!(rt.state() as *const Aligned as usize % 128, 0);
    assert!(matches!(rt.invoke("t", b"").unwrap_err(), Error::Trap(_)));
    rt.reset().unwrap();
    rt.state_mut().0[299] = 9;
    let state = rt.into_state();
    assert_eq!(DROPS.load(Ordering::SeqCst), 0);
    assert_eq!((state.0[0], state.0[299]), (7, 9));
    drop(state);
    assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    drop(build());
    assert_eq!(DROPS.load(Ordering::SeqCst), 2);
}

#[test]
fn plugin_fn_bytes_calls_by_name() {
    let mut rt = kitchen();
    let echo = rt.plugin_fn_bytes("echo");
    assert_eq!(echo.name(), "echo");
    assert_eq!(echo.call(&mut rt, b"abc").unwrap(), b"abc");
    let mut out = Vec::new();
    echo.call_into(&mut rt, b"def", &mut out).unwrap();
    assert_eq!(out, b"def");
}

#[test]
fn an_oversized_request_is_refused_before_the_call() {
    let limits = hookr::Limits::default().with_max_request(10);
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).limits(limits).build().unwrap();
    let err = rt.invoke("echo", &[0; 11]).unwrap_err();
    assert!(matches!(err, Error::TooLarge { what: "request payload", len: 11, limit: 10 }), "{err:?}");
    assert_eq!(rt.invoke("echo", &[1; 10]).unwrap(), [1; 10]);
}

#[test]
fn nothing_of_one_call_is_visible_to_the_next() {
    let mut rt = Runtime::builder(())
        .bytes(&common::kitchen())
        .host_fn("answer", |_, payload, out| {
            out.extend_from_slice(payload);
            Ok(())
        })
        .host_fn("refuse", |_, _, _| Err(hookr::HostError::new("refused")))
        .build()
        .unwrap();
    let lens = |rt: &mut Runtime<()>| rt.invoke("info", b"").unwrap();
    assert_eq!(lens(&mut rt), [0; 8]);
    // A host response or host error of one call is gone in the next, which made no
    // host call of its own.
    assert_eq!(rt.invoke("h", &common::host_call("answer", b"12345")).unwrap(), b"12345");
    assert_eq!(lens(&mut rt), [0; 8]);
    assert!(rt.invoke("h", &common::host_call("refuse", b"")).is_err());
    assert_eq!(lens(&mut rt), [0; 8]);
    // A plugin error does not outlive its call either.
    assert!(rt.invoke("fail", b"").is_err());
    assert_eq!(rt.invoke("none", b"").unwrap(), b"");
    // Nor does anything survive a reset.
    assert_eq!(rt.invoke("h", &common::host_call("answer", b"xy")).unwrap(), b"xy");
    assert!(rt.invoke("trap", b"").is_err());
    assert_eq!(lens(&mut rt), [0; 8]);
}

#[test]
fn what_an_initialiser_answers_reaches_no_caller() {
    // `_initialize` hands `__plugin_response` a secret; calls answer nothing.
    let wasm = common::wasm(
        r#"(module
        (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "secret")
        (func (export "_initialize") (call $resp (i32.const 0) (i32.const 6)))
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let mut rt = Runtime::builder(()).bytes(&wasm).build().unwrap();
    assert_eq!(rt.invoke("x", b"").unwrap(), b"");
    // Not even through the buffer a leaked sliced call leaves with its caller.
    let mut out = Vec::new();
    let call = rt.start_sliced("x", b"", &mut out).unwrap();
    std::mem::forget(call);
    assert_eq!(out, b"");
    rt.reset().unwrap();
    let mut out = Vec::new();
    std::mem::forget(rt.start_sliced("x", b"", &mut out).unwrap());
    assert_eq!(out, b"");
}

#[test]
fn a_refused_call_reports_no_fuel_used() {
    let limits = hookr::Limits::default().with_max_request(4);
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).limits(limits).build().unwrap();
    rt.invoke("echo", b"ok").unwrap();
    assert!(rt.last_call().fuel.unwrap() > 0);
    assert!(matches!(rt.invoke("echo", b"too long"), Err(Error::TooLarge { .. })));
    assert_eq!(rt.last_call().fuel, Some(0));
}
