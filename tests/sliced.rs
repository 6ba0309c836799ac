//! Calls in slices: the same call run whole and in slices of any size gives the same
//! result and the same fuel; calls stop on a cancel from another thread and at a
//! deadline; an abandoned or leaked call leaves a runtime that starts afresh; and
//! what cannot work is refused when the runtime is built.

mod common;

use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

use hookr::{CancelHandle, Error, HostError, HostFn, Limits, Runtime, Usage};

const SIMPLE: &[u8] = include_bytes!("../targets/plugins/simple/simple.wasm");

#[derive(Default)]
struct Greeter {
    calls: u32,
}

fn hello_byte(state: &mut Greeter, input: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    state.calls += 1;
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(input);
    Ok(())
}

static HOST_FNS: &[HostFn<Greeter>] = &[HostFn::bytes("helloByte", hello_byte)];

fn simple() -> Runtime<Greeter> {
    Runtime::builder(Greeter::default()).bytes(SIMPLE).host_fns(HOST_FNS).build().unwrap()
}

/// Runs `op` to its end in slices of `slice` fuel; returns the result, the usage and
/// the number of slices it took.
fn sliced<T>(rt: &mut Runtime<T>, op: &str, payload: &[u8], slice: u64) -> (Result<Vec<u8>, Error>, Usage, u64) {
    let mut out = Vec::new();
    let mut call = rt.start_sliced(op, payload, &mut out).unwrap();
    let mut slices = 1;
    let result = loop {
        match call.resume(slice) {
            Poll::Ready(result) => break result,
            Poll::Pending => slices += 1,
        }
    };
    assert!(call.is_finished());
    assert!(matches!(call.resume(slice), Poll::Ready(Err(Error::Config(_)))), "a finished call resumed");
    drop(call);
    (result.map(|()| out), rt.last_call(), slices)
}

#[test]
fn slices_of_any_size_give_the_same_result_and_fuel() {
    let text: Vec<u8> = b"the quick brown fox jumps over the lazy dog ".iter().copied().cycle().take(3000).collect();
    let mut rt = simple();
    // `echoByte` calls the host; `vowel` loops over the payload; `nope` fails.
    for (op, payload) in [("vowel", &text[..]), ("echoByte", b"Steve"), ("nope", b""), ("missing", b"")] {
        // A first call may grow memory or set up the guest's allocator; compare calls
        // that find the plugin in the same state.
        let _ = rt.invoke(op, payload);
        let whole = rt.invoke(op, payload);
        let usage = rt.last_call();
        let fuel = usage.fuel.unwrap();
        assert!(fuel > 100, "{op}: {fuel}");
        for slice in [1, 7, 10, 1000, 1_000_000] {
            let (result, sliced_usage, slices) = sliced(&mut rt, op, payload, slice);
            assert_eq!(format!("{result:?}"), format!("{whole:?}"), "{op} in slices of {slice}");
            assert_eq!(sliced_usage, usage, "{op} in slices of {slice}");
            // Imports that cost more than a slice pay from the rest of the budget, so a
            // call can take fewer slices than its fuel over the slice, but never one
            // when it needs more.
            match slice >= fuel {
                true => assert_eq!(slices, 1, "{op}"),
                false => assert!(slices > fuel / slice / 2, "{op}: {fuel} fuel in {slices} slices of {slice}"),
            }
        }
    }
    let vowels = text.iter().filter(|b| b"aeiou".contains(b)).count();
    assert_eq!(rt.invoke("vowel", &text).unwrap(), vowels.to_string().as_bytes());
    assert_eq!(rt.state().calls, 7);
}

#[test]
fn imports_that_cost_more_than_a_slice_are_paid_from_the_budget() {
    // A 1 MiB echo: copying the request in and the response out costs about 2^18
    // fuel, far more than a slice of 10.
    let payload: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).build().unwrap();
    // The first call grows memory to fit the payload (which costs fuel too).
    rt.invoke("echo", &payload).unwrap();
    let whole = rt.invoke("echo", &payload).unwrap();
    let usage = rt.last_call();
    assert!(usage.fuel.unwrap() > (2 << 20) / 8, "{usage:?}");
    let (result, sliced_usage, _) = sliced(&mut rt, "echo", &payload, 10);
    assert_eq!(result.unwrap(), whole);
    assert_eq!(sliced_usage, usage);
}

#[test]
fn running_out_of_fuel_in_slices_uses_the_same_fuel_as_whole() {
    let limits = Limits::default().with_fuel(Some(500_000));
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).limits(limits).build().unwrap();
    for op in ["Loop", "million"] {
        assert!(matches!(rt.invoke(op, b"x"), Err(Error::OutOfFuel)), "{op}");
        let whole = rt.last_call();
        for slice in [3, 1000, 40_000] {
            let (result, usage, _) = sliced(&mut rt, op, b"x", slice);
            assert!(matches!(result, Err(Error::OutOfFuel)), "{op}: {result:?}");
            assert_eq!(usage, whole, "{op} in slices of {slice}");
        }
    }
    assert_eq!(rt.invoke("echo", b"after").unwrap(), b"after");
}

#[test]
fn errors_inside_a_slice_end_the_call_and_the_runtime_recovers() {
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).build().unwrap();
    let (result, ..) = sliced(&mut rt, "P", &common::wild(1, 0xFFFF_FFF0, 100), 5);
    assert!(matches!(result, Err(Error::BadGuestPointer { import: "__plugin_response", .. })), "{result:?}");
    let (result, ..) = sliced(&mut rt, "trap", b"", 5);
    assert!(matches!(result, Err(Error::Trap(_))), "{result:?}");
    assert_eq!(rt.invoke("count", b"").unwrap(), 1u32.to_le_bytes(), "not a fresh instance");
}

#[test]
fn an_abandoned_call_leaves_a_fresh_instance() {
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).build().unwrap();
    assert_eq!(rt.invoke("count", b"").unwrap(), 1u32.to_le_bytes());
    let mut out = Vec::new();
    let mut call = rt.start_sliced("Loop", b"", &mut out).unwrap();
    for _ in 0..10 {
        assert!(call.resume(100).is_pending());
    }
    drop(call);
    // The counter was reset with the instance: this is its first call again.
    assert_eq!(rt.invoke("count", b"").unwrap(), 1u32.to_le_bytes());

    // A leaked call cannot be resumed; the next call starts from a fresh instance too.
    let mut out = Vec::new();
    let mut call = rt.start_sliced("count", b"", &mut out).unwrap();
    assert!(call.resume(1).is_pending());
    std::mem::forget(call);
    assert_eq!(rt.invoke("count", b"").unwrap(), 1u32.to_le_bytes());
    assert_eq!(rt.invoke("echo", b"fine").unwrap(), b"fine");
}

/// A plugin that tells the host (host function `started`) that it runs, then loops
/// forever.
const STARTS_THEN_SPINS: &str = r#"(module
  (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "started")
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (drop (call $call (i32.const 0) (i32.const 7) (i32.const 0) (i32.const 0)))
    (loop $forever (br $forever))
    (i32.const 1)))"#;

/// A spinning plugin with a fuel budget only cancellation or a deadline can end in
/// time (about an hour of interpretation), and a host function that reports the start
/// of every call on `started`.
fn spinner(started: mpsc::Sender<()>) -> hookr::Builder<'static, ()> {
    let wasm: &'static [u8] = Box::leak(common::wasm(STARTS_THEN_SPINS).into_boxed_slice());
    Runtime::builder(()).bytes(wasm).fuel(1 << 42).host_fn("started", move |_, _, _| {
        let _ = started.send(());
        Ok(())
    })
}

#[test]
fn a_cancel_from_another_thread_stops_the_running_call() {
    let (tx, rx) = mpsc::channel();
    let cancel = CancelHandle::new();
    let mut rt = spinner(tx).cancel_handle(cancel.clone()).build().unwrap();
    // A cancel with no call running stops nothing later.
    cancel.cancel();
    let canceller = std::thread::spawn(move || {
        for _ in 0..2 {
            rx.recv().unwrap();
            cancel.cancel();
        }
    });
    for _ in 0..2 {
        let err = rt.invoke("spin", b"").unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err:?}");
        assert_eq!(err.to_string(), "call was cancelled");
        // Stopped within a slice of starting to spin, long before its budget.
        let used = rt.last_call().fuel.unwrap();
        assert!(used < 1 << 40, "{used}");
    }
    canceller.join().unwrap();
}

#[test]
fn a_cancel_handle_stops_sliced_calls_the_host_drives_too() {
    let cancel = CancelHandle::new();
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).cancel_handle(cancel.clone()).build().unwrap();
    let mut out = Vec::new();
    let mut call = rt.start_sliced("Loop", b"", &mut out).unwrap();
    assert!(call.resume(1000).is_pending());
    cancel.cancel();
    assert!(matches!(call.resume(1000), Poll::Ready(Err(Error::Cancelled))));
    drop(call);
    assert_eq!(rt.invoke("echo", b"next").unwrap(), b"next");
}

#[test]
fn a_deadline_stops_a_call_that_runs_too_long() {
    let (tx, _rx) = mpsc::channel();
    let mut rt = spinner(tx).timeout(Duration::from_millis(30)).build().unwrap();
    for _ in 0..2 {
        let err = rt.invoke("spin", b"").unwrap_err();
        assert!(matches!(err, Error::Timeout(t) if t == Duration::from_millis(30)), "{err:?}");
        assert_eq!(err.to_string(), "call exceeded its timeout of 30ms");
        assert!(rt.last_call().fuel.unwrap() < 1 << 40);
    }
    // Calls that finish in time are not affected, and the timeout can be lifted.
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).timeout(Duration::from_secs(60)).build().unwrap();
    assert_eq!(rt.invoke("echo", b"in time").unwrap(), b"in time");
    rt.set_timeout(None).unwrap();
    assert_eq!(rt.invoke("echo", b"no limit").unwrap(), b"no limit");
}

#[test]
fn what_cannot_work_is_refused_when_built() {
    let wasm = common::kitchen();
    let unmetered = || Runtime::builder(()).bytes(&wasm).unmetered();
    let err = unmetered().timeout(Duration::from_secs(1)).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = unmetered().cancel_handle(CancelHandle::new()).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let mut rt = unmetered().build().unwrap();
    let mut out = Vec::new();
    assert!(matches!(rt.start_sliced("echo", b"", &mut out), Err(Error::Config(_))));
    assert!(matches!(rt.set_timeout(Some(Duration::from_secs(1))), Err(Error::Config(_))));
    // An unmetered runtime reports no fuel, and still answers.
    assert_eq!(rt.invoke("echo", b"x").unwrap(), b"x");
    assert_eq!(rt.last_call().fuel, None);

    for limits in [
        Limits::default().with_fuel(Some(0)),
        Limits::default().with_init_fuel(0),
        Limits::default().with_slice_fuel(0),
        Limits::default().with_max_output(0),
        Limits::default().with_max_recursion_depth(0),
    ] {
        let err = Runtime::builder(()).bytes(&wasm).limits(limits).build().unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{limits:?}: {err:?}");
    }
    // No output at all is a valid choice: writes are refused, never retried as empty.
    let silent = Limits::default().with_max_output_per_call(0);
    assert!(Runtime::builder(()).bytes(&wasm).limits(silent).build().is_ok());
}

#[test]
fn table_growth_is_refused_during_calls_so_slices_cannot_repeat_code() {
    // Counts its calls in a global, then tries to grow its table by 9 000 elements (a
    // few thousand fuel), and answers the count and what `table.grow` gave.
    let wasm = common::wasm(
        r#"(module
        (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
        (memory (export "memory") 1)
        (table $t 1 funcref)
        (global $calls (mut i32) (i32.const 0))
        (func (export "__plugin_call") (param i32 i32) (result i32)
          (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
          (i32.store (i32.const 0) (global.get $calls))
          (i32.store (i32.const 4) (table.grow $t (ref.null func) (i32.const 9000)))
          (call $resp (i32.const 0) (i32.const 8))
          (i32.const 1)))"#,
    );
    let answer = |calls: i32, grown: i32| [calls.to_le_bytes(), grown.to_le_bytes()].concat();
    let mut rt = Runtime::builder(()).bytes(&wasm).build().unwrap();
    assert_eq!(rt.invoke("x", b"").unwrap(), answer(1, -1));
    let whole = rt.last_call();
    for (n, slice) in [10, 100, 4000].into_iter().enumerate() {
        let (result, usage, _) = sliced(&mut rt, "x", b"", slice);
        assert_eq!(result.unwrap(), answer(n as i32 + 2, -1), "slices of {slice}");
        assert_eq!(usage, whole, "slices of {slice}");
    }
    // Unmetered, nothing is sliced, and the table grows.
    let mut rt = Runtime::builder(()).bytes(&wasm).unmetered().build().unwrap();
    assert_eq!(rt.invoke("x", b"").unwrap(), answer(1, 1));
}

#[test]
fn a_failed_call_returns_at_once_and_the_next_call_resets_the_plugin() {
    // `_initialize` reports each run to the host; a call traps or answers.
    let wasm = common::wasm(
        r#"(module
        (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "init")
        (func (export "_initialize") (drop (call $call (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0))))
        (func (export "__plugin_call") (param $op i32) (param i32) (result i32)
          (if (i32.eq (local.get $op) (i32.const 4)) (then unreachable))
          (i32.const 1)))"#,
    );
    let mut rt = Runtime::builder(0u32)
        .bytes(&wasm)
        .host_fn("init", |runs: &mut u32, _, _| {
            *runs += 1;
            Ok(())
        })
        .build()
        .unwrap();
    assert_eq!(*rt.state(), 1);
    assert!(matches!(rt.invoke("trap", b""), Err(Error::Trap(_))));
    assert_eq!(*rt.state(), 1, "the failed call re-ran the initialisers before returning");
    rt.invoke("ok", b"").unwrap();
    assert_eq!(*rt.state(), 2, "the next call did not start the plugin afresh");
    rt.invoke("ok", b"").unwrap();
    assert_eq!(*rt.state(), 2);
    // Abandoning a sliced call costs nothing until the next call either.
    let mut out = Vec::new();
    drop(rt.start_sliced("ok", b"", &mut out).unwrap());
    assert_eq!(*rt.state(), 2);
    rt.reset().unwrap();
    assert_eq!(*rt.state(), 3);
}

/// A plugin whose `hookr_init` logs, spins for far more than a slice of fuel, and
/// logs again; its every call traps, so that each next call starts it afresh.
const SLOW_INIT: &str = r#"(module
  (import "hookr" "__log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "init")
  (func (export "hookr_init")
    (local $i i32)
    (call $log (i32.const 0) (i32.const 4))
    (loop $spin
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const 100000))))
    (call $log (i32.const 0) (i32.const 4)))
  (func (export "__plugin_call") (param i32 i32) (result i32) unreachable))"#;

#[test]
fn the_reset_a_watched_call_starts_with_is_watched_too() {
    use std::sync::{Arc, Mutex};
    let wasm = wat::parse_str(SLOW_INIT).unwrap();
    let cancel = CancelHandle::new();
    let lines = Arc::new(Mutex::new(0));
    let (seen, handle) = (lines.clone(), cancel.clone());
    // Each line the initialiser logs cancels whatever call is under way.
    let mut rt = Runtime::builder(())
        .bytes(&wasm)
        .limits(Limits::default().with_slice_fuel(10_000))
        .cancel_handle(cancel.clone())
        .logger(move |_| {
            *seen.lock().unwrap() += 1;
            handle.cancel();
        })
        .build()
        .unwrap();
    assert_eq!(*lines.lock().unwrap(), 2, "building runs the initialiser whole");
    assert!(rt.invoke("x", b"").is_err());
    // The next call starts the plugin afresh: cancelled by the first line, it stops at
    // the end of that slice, inside the initialiser, and logs no second line.
    *lines.lock().unwrap() = 0;
    let err = rt.invoke("x", b"").unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(rt.last_call_failed(), "a call whose restart was cancelled failed");
    assert_eq!(*lines.lock().unwrap(), 1);
    // A sliced call, the same, before its first slice.
    *lines.lock().unwrap() = 0;
    let mut out = Vec::new();
    assert!(matches!(rt.start_sliced("x", b"", &mut out), Err(Error::Cancelled)));
    assert_eq!(*lines.lock().unwrap(), 1);
    // An explicit reset is not a call: it runs the initialiser whole.
    *lines.lock().unwrap() = 0;
    rt.reset().unwrap();
    assert_eq!(*lines.lock().unwrap(), 2);
    assert!(!rt.last_call_failed());
}

/// A plugin whose `hookr_init` spins as many times as the host function `n` says.
const HOST_PACED_INIT: &str = r#"(module
  (import "hookr" "__host_call" (func $hcall (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__host_response" (func $hr (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "n")
  (func (export "hookr_init")
    (local $i i32) (local $n i32)
    (drop (call $hcall (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)))
    (call $hr (i32.const 16))
    (local.set $n (i32.load (i32.const 16)))
    (loop $spin
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (local.get $n)))))
  (func (export "__plugin_call") (param i32 i32) (result i32) unreachable))"#;

#[test]
fn an_initialiser_run_in_slices_has_its_init_fuel_and_no_more() {
    let wasm = wat::parse_str(HOST_PACED_INIT).unwrap();
    // 10 turns when the runtime is built, then 10 million: about 30 million fuel.
    let mut rt = Runtime::builder(0u32)
        .bytes(&wasm)
        .limits(Limits::default().with_slice_fuel(1_000).with_init_fuel(1_000_000))
        .cancel_handle(CancelHandle::new())
        .host_fn("n", |runs: &mut u32, _, out| {
            *runs += 1;
            out.extend_from_slice(&(if *runs == 1 { 10u32 } else { 10_000_000 }).to_le_bytes());
            Ok(())
        })
        .build()
        .unwrap();
    assert!(rt.invoke("x", b"").is_err());
    // The reset inside this watched call runs the initialiser in slices of 1 000 fuel,
    // and stops it when its million is spent.
    let err = rt.invoke("x", b"").unwrap_err();
    assert!(
        matches!(&err, Error::Init { name: "hookr_init", source } if matches!(**source, Error::OutOfFuel)),
        "{err:?}"
    );
    assert!(rt.last_call_failed(), "a call whose restart ran out of init fuel failed");
    assert_eq!(*rt.state(), 2);
}

/// A WASI plugin whose `hookr_init` waits 50 ms on a clock, then spins for far more
/// than a millisecond of fuel; `__plugin_call` answers the monotonic clock for a
/// one-byte operation and traps for a two-byte one.
const WAITING_INIT: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  ;; One clock subscription: userdata 0, tag 0 (clock), clock 1 (monotonic), 50 ms, relative.
  (data (i32.const 0) "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\01\00\00\00\00\00\00\00\80\f0\fa\02\00\00\00\00")
  (func (export "hookr_init")
    (local $i i32)
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
    (loop $spin
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const 1000000)))))
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (if (i32.eq (local.get $op) (i32.const 2)) (then unreachable))
    (drop (call $clock (i32.const 1) (i64.const 0) (i32.const 256)))
    (call $resp (i32.const 256) (i32.const 8))
    (i32.const 1)))"#;

#[test]
fn a_reset_stopped_by_its_call_leaves_no_deadline_behind() {
    let wasm = wat::parse_str(WAITING_INIT).unwrap();
    let mut rt = Runtime::builder(())
        .bytes(&wasm)
        .deterministic()
        .timeout(Duration::from_millis(1))
        .limits(Limits::default().with_slice_fuel(1_000))
        .build()
        .unwrap();
    let clock = |rt: &mut Runtime<()>| u64::from_le_bytes(rt.invoke("t", b"").unwrap().try_into().unwrap());
    let before = clock(&mut rt);
    assert!(rt.invoke("xx", b"").is_err());
    // This call starts the plugin afresh, and its millisecond runs out in the spin.
    assert!(matches!(rt.invoke("t", b"").unwrap_err(), Error::Timeout(_)));
    assert!(rt.last_call_failed(), "a call whose restart timed out failed");
    // A reset is no call: its initialiser waits its whole 50 ms on the deterministic
    // clock, not cut short by the deadline of the call before.
    rt.reset().unwrap();
    let waited = clock(&mut rt) - before;
    assert!(waited >= 50_000_000, "{waited} ns");
}

#[test]
fn a_start_section_is_an_initialiser_bounded_by_init_fuel() {
    let wasm = wat::parse_str(
        r#"(module (memory (export "memory") 1)
        (func $spin (loop $l (br $l)))
        (start $spin)
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    )
    .unwrap();
    let err = Runtime::builder(()).bytes(&wasm).init_fuel(100_000).build().unwrap_err();
    assert!(
        matches!(&err, Error::Init { name: "the start section", source } if matches!(**source, Error::OutOfFuel)),
        "{err:?}"
    );
    // A memory over the limit fails before the start function runs: no initialiser's.
    let err = Runtime::builder(()).bytes(&wasm).max_memory_bytes(1024).build().unwrap_err();
    assert!(matches!(err, Error::MemoryLimit(_)), "{err:?}");
}
