//! A plugin cannot exhaust its host's native stack. In release builds wasmi's default
//! dispatch keeps about 200 B of the host thread's stack for each `memory.grow` and
//! `table.grow` until the interpreter returns to hookr, so these tests loop on them, in
//! every kind of run, on a thread with a small stack. Only a release build exercises the
//! bound (`cargo test --release --test native_stack`, which `.ci/run` runs); in a debug
//! build they check the errors and the fuel.

mod common;

use core::task::Poll;

use hookr::{Error, Limits, Runtime};

/// Enough fuel to run each loop below tens of thousands of times: far past the small
/// stack below, had the interpreter kept the stack of each `memory.grow`.
const FUEL: u64 = 20_000_000;

/// The stack of the thread that runs the plugins: a tenth of what those loops would
/// take.
const SMALL_STACK: usize = 256 << 10;

/// Runs `f` on a thread with [`SMALL_STACK`]; an overflow there aborts the test binary.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(SMALL_STACK).spawn(f).unwrap().join().unwrap();
}

/// A plugin whose `__plugin_call` runs `body` forever for an operation of three bytes and
/// answers success for any other.
fn looping(memory: &str, body: &str) -> Vec<u8> {
    common::wasm(&format!(
        r#"(module
            {memory}
            (table $t 1 funcref)
            (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
              (if (i32.eq (local.get $op) (i32.const 3))
                (then (loop $again {body} (br $again))))
              (i32.const 1)))"#
    ))
}

/// The loops: `memory.grow` refused past the module's maximum (wasmi answers before it
/// asks hookr) and past hookr's limit (hookr answers), one that succeeds page by page
/// until the limit refuses it, and `table.grow`, which hookr refuses during calls.
fn grow_loops() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "past the module's maximum",
            looping(r#"(memory (export "memory") 1 2)"#, "(drop (memory.grow (i32.const 70000)))"),
        ),
        ("past hookr's limit", looping(r#"(memory (export "memory") 1)"#, "(drop (memory.grow (i32.const 1000)))")),
        ("page by page", looping(r#"(memory (export "memory") 1)"#, "(drop (memory.grow (i32.const 1)))")),
        (
            "table.grow",
            looping(r#"(memory (export "memory") 1)"#, "(drop (table.grow $t (ref.null func) (i32.const 1)))"),
        ),
    ]
}

fn runtime(wasm: &[u8]) -> Runtime<()> {
    let limits = Limits::default().with_fuel(Some(FUEL)).with_max_memory_pages(16);
    Runtime::builder(()).bytes(wasm).limits(limits).build().unwrap()
}

#[test]
fn calls_that_loop_on_growth_run_out_of_fuel_and_the_host_goes_on() {
    on_small_stack(|| {
        for (what, wasm) in grow_loops() {
            let mut rt = runtime(&wasm);
            let err = rt.invoke("bad", b"").unwrap_err();
            assert!(matches!(err, Error::OutOfFuel), "{what}: {err:?}");
            // All of it, but what the loop's last step needed more of.
            let used = rt.last_call().fuel.unwrap();
            assert!((FUEL - 300..=FUEL).contains(&used), "{what}: {used}");
            assert_eq!(rt.invoke("ok", b"").unwrap(), b"", "{what}");
        }
    });
}

#[test]
fn sliced_calls_that_loop_on_growth_in_one_huge_slice_run_out_of_fuel() {
    on_small_stack(|| {
        for (what, wasm) in grow_loops() {
            let mut rt = runtime(&wasm);
            let mut out = Vec::new();
            let mut call = rt.start_sliced("bad", b"", &mut out).unwrap();
            let Poll::Ready(result) = call.resume(u64::MAX) else {
                panic!("{what}: a slice of all the fuel left the call pending");
            };
            assert!(matches!(result, Err(Error::OutOfFuel)), "{what}: {result:?}");
            drop(call);
            assert_eq!(rt.invoke("ok", b"").unwrap(), b"", "{what}");
        }
    });
}

#[test]
fn a_timed_call_that_loops_on_growth_runs_out_of_fuel() {
    on_small_stack(|| {
        let (what, wasm) = grow_loops().swap_remove(0);
        let limits = Limits::default().with_fuel(Some(FUEL)).with_slice_fuel(u64::MAX);
        let mut rt = Runtime::builder(())
            .bytes(&wasm)
            .limits(limits)
            .timeout(std::time::Duration::from_secs(600))
            .build()
            .unwrap();
        let err = rt.invoke("bad", b"").unwrap_err();
        assert!(matches!(err, Error::OutOfFuel), "{what}: {err:?}");
    });
}

#[test]
fn initialisers_that_loop_on_growth_fail_and_a_start_section_gets_one_chunk() {
    on_small_stack(|| {
        let grow = "(loop $again (drop (memory.grow (i32.const 70000))) (br $again))";
        let init = common::wasm(&format!(
            r#"(module (memory (export "memory") 1 2)
                (func (export "_initialize") {grow})
                (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#
        ));
        let limits = Limits::default().with_init_fuel(FUEL);
        let err = Runtime::builder(()).bytes(&init).limits(limits).build().unwrap_err();
        assert!(
            matches!(&err, Error::Init { name: "_initialize", source } if matches!(**source, Error::OutOfFuel)),
            "{err:?}"
        );
        // wasmi runs a start section inside instantiation and cannot pause it: it gets
        // one chunk of the init fuel, whatever the init fuel is.
        let start = common::wasm(&format!(
            r#"(module (memory (export "memory") 1 2)
                (func $start {grow})
                (start $start)
                (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#
        ));
        let err = Runtime::builder(()).bytes(&start).limits(limits).build().unwrap_err();
        assert!(
            matches!(&err, Error::Init { name: "the start section", source } if matches!(**source, Error::OutOfFuel)),
            "{err:?}"
        );
    });
}

#[test]
fn a_start_section_runs_on_at_most_one_chunk_of_the_init_fuel() {
    // A counting loop whose start section stores how far it got, then traps on fuel.
    let wasm = common::wasm(
        r#"(module
            (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
            (memory (export "memory") 1)
            (global $n (mut i32) (i32.const 0))
            (func $start (loop $again
              (global.set $n (i32.add (global.get $n) (i32.const 1)))
              (br_if $again (i32.lt_u (global.get $n) (i32.const 100)))))
            (start $start)
            (func (export "__plugin_call") (param i32 i32) (result i32)
              (i32.store (i32.const 0) (global.get $n))
              (call $resp (i32.const 0) (i32.const 4))
              (i32.const 1)))"#,
    );
    // A short start section runs as before.
    let mut rt = Runtime::builder(()).bytes(&wasm).build().unwrap();
    assert_eq!(rt.invoke("n", b"").unwrap(), 100u32.to_le_bytes());
    // One that runs past a chunk (32 768 units) fails, even with far more init fuel.
    let long = common::wasm(
        r#"(module (memory (export "memory") 1)
            (func $start (local $n i32) (loop $again
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br_if $again (i32.lt_u (local.get $n) (i32.const 100000)))))
            (start $start)
            (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let err = Runtime::builder(()).bytes(&long).build().unwrap_err();
    assert!(
        matches!(&err, Error::Init { name: "the start section", source } if matches!(**source, Error::OutOfFuel)),
        "{err:?}"
    );
}

#[test]
fn growth_costs_255_fuel_refused_or_not() {
    // The same loop, 1 000 times `memory.grow` or an operator of wasmi's default cost
    // of 1 on the same operand: a grow costs 254 units more, whether it grows the
    // memory or is refused.
    let counted = |memory: &str, op: &str| {
        common::wasm(&format!(
            r#"(module {memory}
                (func (export "__plugin_call") (param i32 i32) (result i32) (local $n i32)
                  (loop $again
                    (drop {op})
                    (local.set $n (i32.add (local.get $n) (i32.const 1)))
                    (br_if $again (i32.lt_u (local.get $n) (i32.const 1000))))
                  (i32.const 1)))"#
        ))
    };
    let fuel = |wasm: Vec<u8>| {
        let mut rt = Runtime::builder(()).bytes(&wasm).build().unwrap();
        rt.invoke("run", b"").unwrap();
        rt.last_call().fuel.unwrap()
    };
    let memory = r#"(memory (export "memory") 1)"#;
    let plain = fuel(counted(memory, "(i32.eqz (i32.const 1))"));
    let refused = fuel(counted(r#"(memory (export "memory") 1 1)"#, "(memory.grow (i32.const 1))"));
    let grown = fuel(counted(r#"(memory (export "memory") 0 8000 (pagesize 1))"#, "(memory.grow (i32.const 8))"));
    assert_eq!(refused - plain, 1000 * 254);
    // Growing also pays for the bytes it adds: 8 each time, at 8 a unit.
    assert_eq!(grown - plain, 1000 * 254 + 1000);
}

#[test]
fn a_function_of_more_grows_than_a_chunk_pays_for_is_refused_when_metered() {
    // wasmi charges a stretch of code without branches at its start, so it runs whole:
    // 129 grows in a row would be one step of 129 × 255 units.
    let straight = |n: usize| {
        let grows = "(drop (memory.grow (i32.const 70000)))".repeat(n);
        common::wasm(&format!(
            r#"(module (memory (export "memory") 1 2)
                (func $grows {grows})
                (func (export "__plugin_call") (param $op i32) (param i32) (result i32)
                  (if (i32.eq (local.get $op) (i32.const 3))
                    (then (loop $again (call $grows) (br $again))))
                  (i32.const 1)))"#
        ))
    };
    let err = Runtime::builder(()).bytes(&straight(129)).build().unwrap_err();
    assert!(matches!(&err, Error::InvalidModule(why) if why.contains("function 0") && why.contains("129")), "{err}");
    // Unmetered (trusted), it loads.
    Runtime::builder(()).bytes(&straight(129)).unmetered().build().unwrap();
    // The count is of memory 0's grows: a second memory is refused as such.
    let grows = "(drop (memory.grow $second (i32.const 1)))".repeat(129);
    let two = common::wasm(&format!(
        r#"(module (memory (export "memory") 1) (memory $second 1)
            (func {grows})
            (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#
    ));
    let err = Runtime::builder(()).bytes(&two).build().unwrap_err();
    assert!(matches!(&err, Error::InvalidModule(why) if why.contains("2 memories")), "{err}");
    // 128 load, and a call that runs them over and over ends out of fuel on a small
    // stack, however much fuel it has.
    on_small_stack(move || {
        let mut rt = runtime(&straight(128));
        assert!(matches!(rt.invoke("bad", b""), Err(Error::OutOfFuel)));
        let mut out = Vec::new();
        let mut call = rt.start_sliced("bad", b"", &mut out).unwrap();
        assert!(matches!(call.resume(u64::MAX), Poll::Ready(Err(Error::OutOfFuel))));
        drop(call);
        assert_eq!(rt.invoke("ok", b"").unwrap(), b"");
    });
}

#[test]
fn a_start_section_pays_for_its_imports_out_of_its_one_chunk() {
    // A start section that logs a line of `len` bytes: 32 units and one per 8 bytes.
    let logging = |len: u32| {
        common::wasm(&format!(
            r#"(module
                (import "hookr" "__log" (func $log (param i32 i32)))
                (memory (export "memory") 8)
                (func $start (call $log (i32.const 0) (i32.const {len})))
                (start $start)
                (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#
        ))
    };
    let limits = Limits::default().with_max_log(1 << 20);
    Runtime::builder(()).bytes(&logging(100_000)).limits(limits).logger(|_| {}).build().unwrap();
    let err = Runtime::builder(()).bytes(&logging(300_000)).limits(limits).logger(|_| {}).build().unwrap_err();
    assert!(
        matches!(&err, Error::Init { name: "the start section", source } if matches!(**source, Error::OutOfFuel)),
        "{err:?}"
    );
}

#[test]
fn fuel_left_is_what_the_call_left_of_its_budget_whole_or_sliced() {
    let (_, wasm) = grow_loops().swap_remove(2);
    let mut rt = runtime(&wasm);
    assert_eq!(rt.fuel_left(), Some(FUEL), "before any call");
    rt.invoke("ok", b"").unwrap();
    let used = rt.last_call().fuel.unwrap();
    assert_eq!(rt.fuel_left(), Some(FUEL - used));
    for slice in [1, 1000, u64::MAX] {
        let mut out = Vec::new();
        let mut call = rt.start_sliced("ok", b"", &mut out).unwrap();
        while call.resume(slice).is_pending() {}
        drop(call);
        assert_eq!(rt.fuel_left(), Some(FUEL - used), "slices of {slice}");
    }
    assert!(matches!(rt.invoke("bad", b""), Err(Error::OutOfFuel)));
    assert_eq!(rt.fuel_left(), Some(FUEL - rt.last_call().fuel.unwrap()));
    // A call refused before it ran used nothing.
    let limits = Limits::default().with_fuel(Some(FUEL)).with_max_request(4);
    let mut rt = Runtime::builder(()).bytes(&wasm).limits(limits).build().unwrap();
    rt.invoke("ok", b"").unwrap();
    assert!(matches!(rt.invoke("ok", b"12345"), Err(Error::TooLarge { .. })));
    assert_eq!(rt.fuel_left(), Some(FUEL));
    // Unmetered, there is no budget.
    let mut rt = Runtime::builder(()).bytes(&wasm).unmetered().build().unwrap();
    rt.invoke("ok", b"").unwrap();
    assert_eq!(rt.fuel_left(), None);
}

#[test]
fn fuel_does_not_pile_up_in_the_store_across_clock_waits() {
    // 64 waits of 1 ns on the monotonic clock, then `memory.grow` forever. Each wait
    // pauses a sliced or timed call, whose resumption tops the store up again: that
    // must not add a chunk to what is left each time.
    let wasm = common::wasm(
        r#"(module
            (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1 2)
            (data (i32.const 16) "\01")
            (func (export "__plugin_call") (param i32 i32) (result i32) (local $n i32)
              (i64.store (i32.const 24) (i64.const 1))
              (loop $wait
                (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (br_if $wait (i32.lt_u (local.get $n) (i32.const 64))))
              (loop $again (drop (memory.grow (i32.const 70000))) (br $again))
              (i32.const 1)))"#,
    );
    on_small_stack(move || {
        let timed = Runtime::builder(())
            .bytes(&wasm)
            .limits(Limits::default().with_fuel(Some(FUEL)))
            .timeout(std::time::Duration::from_secs(600));
        let err = timed.build().unwrap().invoke("bad", b"").unwrap_err();
        assert!(matches!(err, Error::OutOfFuel), "{err:?}");
        let mut rt = runtime(&wasm);
        let mut out = Vec::new();
        let mut call = rt.start_sliced("bad", b"", &mut out).unwrap();
        let result = loop {
            if let Poll::Ready(result) = call.resume(u64::MAX) {
                break result;
            }
        };
        assert!(matches!(result, Err(Error::OutOfFuel)), "{result:?}");
    });
}
