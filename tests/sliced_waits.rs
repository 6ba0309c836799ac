//! A plugin that waits on a clock (WASI `poll_oneoff`) inside a sliced call: on a
//! clock whose time moves on by itself the call pauses instead of sleeping inside a
//! slice, answers `Pending` until the wait is over, and ends as the same call run
//! whole; a runtime that drives its own slices sleeps the wait in short naps and stops
//! within one of them when cancelled, and a clock that never moves cannot hang it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use hookr::io::Clock;
use hookr::{CancelHandle, Error, Runtime};

/// How long the plugin waits: 5 ms, which is 5 000 000 fuel.
const WAIT_NS: u64 = 5_000_000;

/// Waits `WAIT_NS` on the monotonic clock with one subscription (userdata 0x77), then
/// answers what `poll_oneoff` returned (4 bytes), the number of events (4) and the
/// first event's userdata (8).
const WAITER: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  ;; The subscription at 0: userdata, tag 0 (a clock), clock 1 (monotonic), relative.
  (data (i32.const 0) "\77")
  (data (i32.const 16) "\01")
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (i64.store (i32.const 24) (i64.const 5000000))
    (i32.store (i32.const 200) (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 204)))
    (i64.store (i32.const 208) (i64.load (i32.const 64)))
    (call $resp (i32.const 200) (i32.const 16))
    (i32.const 1)))"#;

/// What `WAITER` answers when its wait went as it should.
fn waited_answer() -> Vec<u8> {
    [&0u32.to_le_bytes()[..], &1u32.to_le_bytes(), &0x77u64.to_le_bytes()].concat()
}

/// A clock the test moves by hand, that says its time moves on by itself. `sleep_ns`
/// counts its naps, moves time on by them when `naps_move_time`, and cancels
/// `cancel` at nap number `cancel_at`.
#[derive(Clone, Default)]
struct HandClock {
    now: Arc<AtomicU64>,
    naps: Arc<AtomicU64>,
    naps_move_time: bool,
    cancel: Option<(CancelHandle, u64)>,
}

impl HandClock {
    fn advance(&self, ns: u64) {
        self.now.fetch_add(ns, Ordering::SeqCst);
    }
    fn set(&self, ns: u64) {
        self.now.store(ns, Ordering::SeqCst);
    }
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
    fn naps(&self) -> u64 {
        self.naps.load(Ordering::SeqCst)
    }
}

impl Clock for HandClock {
    fn realtime_ns(&mut self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
    fn monotonic_ns(&mut self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
    fn sleep_ns(&mut self, ns: u64) {
        let naps = self.naps.fetch_add(1, Ordering::SeqCst) + 1;
        if self.naps_move_time {
            self.advance(ns);
        }
        if let Some((cancel, at)) = &self.cancel {
            if naps == *at {
                cancel.cancel();
            }
        }
    }
    fn advances_by_itself(&self) -> bool {
        true
    }
}

#[test]
fn a_wait_pauses_a_sliced_call_without_sleeping_in_a_slice() {
    let wasm = wat::parse_str(WAITER).unwrap();
    let clock = HandClock::default();
    let mut rt = Runtime::builder(()).bytes(&wasm).clock(clock.clone()).build().unwrap();
    let mut out = Vec::new();
    let mut call = rt.start_sliced("wait", b"", &mut out).unwrap();
    // Fuel enough for the whole wait: the call reaches it and pauses there.
    assert!(call.resume(100_000_000).is_pending());
    // Time stands still: the call stays paused, however often it is resumed.
    for _ in 0..1_000 {
        assert!(call.resume(1).is_pending());
    }
    clock.advance(WAIT_NS - 1);
    assert!(call.resume(1).is_pending());
    clock.advance(1);
    assert!(matches!(call.resume(100_000), Poll::Ready(Ok(()))));
    drop(call);
    assert_eq!(out, waited_answer());
    // No slice slept: the host's loop did the waiting.
    assert_eq!(clock.naps(), 0);
    let sliced_fuel = rt.last_call().fuel;

    // The same call run whole sleeps once, and uses the same fuel: the wait's.
    assert_eq!(rt.invoke("wait", b"").unwrap(), waited_answer());
    assert_eq!(clock.naps(), 1);
    assert_eq!(rt.last_call().fuel, sliced_fuel);
    assert!(sliced_fuel.unwrap() > WAIT_NS);
}

#[test]
fn a_wait_in_slices_of_little_fuel_is_paid_then_waited() {
    let wasm = wat::parse_str(WAITER).unwrap();
    let clock = HandClock::default();
    let mut rt = Runtime::builder(()).bytes(&wasm).clock(clock.clone()).build().unwrap();
    let mut out = Vec::new();
    let mut call = rt.start_sliced("wait", b"", &mut out).unwrap();
    // Slices of 1 000 000 fuel pay for the wait first (5 000 000 and a little)...
    for _ in 0..10 {
        assert!(call.resume(1_000_000).is_pending());
    }
    // ...then it waits, using none of the fuel resumes hand it while time stands still.
    for _ in 0..1_000 {
        assert!(call.resume(1_000_000).is_pending());
    }
    clock.advance(WAIT_NS);
    assert!(matches!(call.resume(1_000_000), Poll::Ready(Ok(()))));
    drop(call);
    assert_eq!(out, waited_answer());
    assert_eq!(clock.naps(), 0);
    let sliced_fuel = rt.last_call().fuel;
    rt.invoke("wait", b"").unwrap();
    assert_eq!(rt.last_call().fuel, sliced_fuel);
}

#[test]
fn an_abandoned_or_leaked_wait_leaves_a_runtime_that_starts_afresh() {
    let wasm = wat::parse_str(WAITER).unwrap();
    let clock = HandClock { naps_move_time: true, ..HandClock::default() };
    let mut rt = Runtime::builder(()).bytes(&wasm).clock(clock.clone()).build().unwrap();
    let mut out = Vec::new();
    let mut call = rt.start_sliced("wait", b"", &mut out).unwrap();
    assert!(call.resume(100_000_000).is_pending());
    drop(call);
    // The next call runs from the start, in a fresh instance, and waits whole.
    assert_eq!(rt.invoke("wait", b"").unwrap(), waited_answer());
    assert_eq!(clock.naps(), 1);
    // A call leaked while it waits leaves no pause behind either.
    let mut out = Vec::new();
    let mut call = rt.start_sliced("wait", b"", &mut out).unwrap();
    assert!(call.resume(100_000_000).is_pending());
    std::mem::forget(call);
    assert_eq!(rt.invoke("wait", b"").unwrap(), waited_answer());
    assert_eq!(clock.naps(), 2);
}

#[test]
fn a_cancel_stops_a_waiting_call_within_a_nap() {
    let wasm = wat::parse_str(WAITER).unwrap();
    let cancel = CancelHandle::new();
    let clock = HandClock { naps_move_time: true, cancel: Some((cancel.clone(), 3)), ..HandClock::default() };
    let mut rt = Runtime::builder(()).bytes(&wasm).clock(clock.clone()).cancel_handle(cancel).build().unwrap();
    // The runtime drives the slices: it sleeps the wait in naps of 1 ms and looks at
    // the cancel handle after each, so the cancel in the third nap stops the call.
    assert!(matches!(rt.invoke("wait", b""), Err(Error::Cancelled)));
    assert_eq!(clock.naps(), 3);
    // Uncancelled, the next call sleeps its 5 ms in five naps and answers.
    assert_eq!(rt.invoke("wait", b"").unwrap(), waited_answer());
    assert_eq!(clock.naps(), 3 + 5);
}

#[test]
fn a_clock_that_never_moves_cannot_hang_a_call_its_runtime_drives() {
    let wasm = wat::parse_str(WAITER).unwrap();
    // Says it moves on by itself, but neither moves nor sleeps.
    let clock = HandClock::default();
    let mut rt =
        Runtime::builder(()).bytes(&wasm).clock(clock.clone()).cancel_handle(CancelHandle::new()).build().unwrap();
    assert_eq!(rt.invoke("wait", b"").unwrap(), waited_answer());
    // The naps add up to the wait, whatever the clock reads.
    assert_eq!(clock.naps(), 5);
}

#[test]
fn a_clock_set_back_does_not_lengthen_a_wait() {
    let wasm = wat::parse_str(WAITER).unwrap();
    let clock = HandClock::default();
    clock.set(10_000_000_000);
    let mut rt = Runtime::builder(()).bytes(&wasm).clock(clock.clone()).build().unwrap();
    let mut out = Vec::new();
    let mut call = rt.start_sliced("wait", b"", &mut out).unwrap();
    assert!(call.resume(100_000_000).is_pending());
    // Set back 10 s: only time that moves forward counts, 1 ms a resume.
    clock.set(0);
    let mut resumes = 0;
    loop {
        resumes += 1;
        assert!(resumes <= 10, "the wait went on past its 5 ms");
        if let Poll::Ready(result) = call.resume(100_000) {
            result.unwrap();
            break;
        }
        clock.advance(1_000_000);
    }
    assert_eq!(resumes, 6);
    drop(call);
    assert_eq!(out, waited_answer());
}

/// `WAITER` whose initialiser also waits `WAIT_NS`, and whose two-byte operation traps.
const WAITING_INIT: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\77")
  (data (i32.const 16) "\01")
  (func $wait
    (i64.store (i32.const 24) (i64.const 5000000))
    (i32.store (i32.const 200) (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 204))))
  (func (export "hookr_init") (call $wait))
  (func (export "__plugin_call") (param $op i32) (param i32) (result i32)
    (if (i32.eq (local.get $op) (i32.const 2)) (then unreachable))
    (call $wait)
    (i64.store (i32.const 208) (i64.load (i32.const 64)))
    (call $resp (i32.const 200) (i32.const 16))
    (i32.const 1)))"#;

#[test]
fn a_wait_in_the_initialiser_a_watched_call_reruns_is_cancelled_within_a_nap() {
    let wasm = wat::parse_str(WAITING_INIT).unwrap();
    let cancel = CancelHandle::new();
    let clock = HandClock { naps_move_time: true, cancel: Some((cancel.clone(), 2)), ..HandClock::default() };
    let mut rt = Runtime::builder(()).bytes(&wasm).clock(clock.clone()).cancel_handle(cancel).build().unwrap();
    // Building ran the initialiser whole: one sleep of 5 ms.
    assert_eq!((clock.naps(), clock.now()), (1, WAIT_NS));
    assert!(rt.invoke("xx", b"").is_err());
    // The next call starts the plugin afresh: its initialiser's wait is slept in naps
    // of 1 ms, and the cancel in the first stops the call after it, 1 ms on.
    assert!(matches!(rt.invoke("wait", b""), Err(Error::Cancelled)));
    assert_eq!((clock.naps(), clock.now()), (2, WAIT_NS + 1_000_000));
    // Then the initialiser's wait and the call's, five naps each, and the answer.
    assert_eq!(rt.invoke("wait", b"").unwrap(), waited_answer());
    assert_eq!((clock.naps(), clock.now()), (12, 3 * WAIT_NS + 1_000_000));
}
