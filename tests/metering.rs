//! Host work costs fuel: a plugin that loops on any import that moves bytes, with the
//! largest lengths its memory allows, ends with a clean error under the default limits
//! after making its host do a bounded amount of work, and the next call works.
//! Output to sinks and the logger is bounded per call.

mod common;

use common::Tally;
use hookr::io::RandomSource;
use hookr::meter::{BYTES_PER_FUEL, IMPORT_FUEL};
use hookr::{Error, HostError, Limits, Runtime, Usage};

/// Loops forever on the import picked by the first byte of the operation name, with
/// memory grown to the default limit (256 pages, 16 MiB) and `$mem` its size:
///
/// - `e` echo the payload (written at 16), once
/// - `q` `__plugin_request(0, 16)` (the host copies the whole request each time)
/// - `r` `__plugin_response(0, $mem)`; `E` `__plugin_error(0, $mem)`
/// - `u` `__host_call` of the unknown operation `u` with all of memory as payload
/// - `H` `__host_call` of the echo host function `H` with all of memory
/// - `R` one such `H` call, then `__host_response(0)`; `X` a host call of `X`, which
///   fails with a 64 KiB message, then `__host_error(0)`
/// - `n` `__host_response_len` and `__host_error_len`
/// - `l` `__log(0, 60 KiB)`
/// - `w` WASI `fd_write` to stdout of one iovec naming all of memory; `W` the same to
///   stderr, with 4096 iovecs of 4 KiB
/// - `f` `fd_read` from stdin into 4096 iovecs; `g` `random_get(0, $mem)`
/// - `a` `args_get`, `v` `environ_get`; `s` the sizes calls and `clock_time_get`
/// - `p` `proc_raise` (a stub) and `sched_yield`
const HOSTILE: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (import "hookr" "__plugin_error" (func $err (param i32 i32)))
  (import "hookr" "__host_call" (func $hcall (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__host_response_len" (func $hrlen (result i32)))
  (import "hookr" "__host_response" (func $hr (param i32)))
  (import "hookr" "__host_error_len" (func $helen (result i32)))
  (import "hookr" "__host_error" (func $he (param i32)))
  (import "hookr" "__log" (func $log (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_raise" (func $raise (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (memory (export "memory") 1)
  (func $iovecs (param $at i32) (param $count i32) (param $len i32) (local $i i32)
    (loop $more
      (i32.store (i32.add (local.get $at) (i32.mul (local.get $i) (i32.const 8))) (i32.const 0))
      (i32.store (i32.add (local.get $at) (i32.add (i32.mul (local.get $i) (i32.const 8)) (i32.const 4))) (local.get $len))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (local.get $count)))))
  (func (export "__plugin_call") (param $op_len i32) (param $len i32) (result i32)
    (local $op i32) (local $mem i32) (local $top i32)
    (drop (memory.grow (i32.sub (i32.const 256) (memory.size))))
    (local.set $mem (i32.mul (memory.size) (i32.const 65536)))
    ;; The last 64 KiB hold iovec arrays and results.
    (local.set $top (i32.sub (local.get $mem) (i32.const 65536)))
    (call $req (i32.const 0) (i32.const 16))
    (local.set $op (i32.load8_u (i32.const 0)))
    (if (i32.eq (local.get $op) (i32.const 101)) (then
      (call $resp (i32.const 16) (local.get $len)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 119))
      (then (call $iovecs (local.get $top) (i32.const 1) (local.get $mem))))
    (if (i32.or (i32.eq (local.get $op) (i32.const 87)) (i32.eq (local.get $op) (i32.const 102)))
      (then (call $iovecs (local.get $top) (i32.const 4096) (i32.const 4096))))
    (if (i32.eq (local.get $op) (i32.const 82)) (then (i32.store8 (i32.const 0) (i32.const 72))
      (drop (call $hcall (i32.const 0) (i32.const 1) (i32.const 0) (local.get $mem)))))
    (if (i32.eq (local.get $op) (i32.const 88))
      (then (drop (call $hcall (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)))))
    ;; Each loop is its own tight one: what fuel the loop itself costs is spent in the
    ;; imports, not in picking which to call.
    (if (i32.eq (local.get $op) (i32.const 113)) (then (loop $l (call $req (i32.const 0) (i32.const 16)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 114)) (then (loop $l (call $resp (i32.const 0) (local.get $mem)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 69)) (then (loop $l (call $err (i32.const 0) (local.get $mem)) (br $l))))
    (if (i32.or (i32.eq (local.get $op) (i32.const 117)) (i32.eq (local.get $op) (i32.const 72)))
      (then (loop $l (drop (call $hcall (i32.const 0) (i32.const 1) (i32.const 0) (local.get $mem))) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 82)) (then (loop $l (call $hr (i32.const 0)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 88)) (then (loop $l (call $he (i32.const 0)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 110)) (then (loop $l (drop (call $hrlen)) (drop (call $helen)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 108)) (then (loop $l (call $log (i32.const 0) (i32.const 61440)) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 119)) (then (loop $l
      (drop (call $fd_write (i32.const 1) (local.get $top) (i32.const 1) (i32.add (local.get $top) (i32.const 60000))))
      (br $l))))
    (if (i32.eq (local.get $op) (i32.const 87)) (then (loop $l
      (drop (call $fd_write (i32.const 2) (local.get $top) (i32.const 4096) (i32.add (local.get $top) (i32.const 60000))))
      (br $l))))
    (if (i32.eq (local.get $op) (i32.const 102)) (then (loop $l
      (drop (call $fd_read (i32.const 0) (local.get $top) (i32.const 4096) (i32.add (local.get $top) (i32.const 60000))))
      (br $l))))
    (if (i32.eq (local.get $op) (i32.const 103)) (then (loop $l (drop (call $random (i32.const 0) (local.get $mem))) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 97)) (then (loop $l (drop (call $args_get (local.get $top) (i32.const 0))) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 118)) (then (loop $l (drop (call $environ_get (local.get $top) (i32.const 0))) (br $l))))
    (if (i32.eq (local.get $op) (i32.const 115)) (then (loop $l
      (drop (call $args_sizes (local.get $top) (i32.add (local.get $top) (i32.const 4))))
      (drop (call $environ_sizes (local.get $top) (i32.add (local.get $top) (i32.const 4))))
      (drop (call $clock (i32.const 1) (i64.const 0) (local.get $top)))
      (br $l))))
    (if (i32.eq (local.get $op) (i32.const 112)) (then (loop $l (drop (call $raise (i32.const 9))) (drop (call $yield)) (br $l))))
    (i32.const 0)))"#;

const MEM: usize = 256 * 65536;

impl std::io::Write for Tally {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl RandomSource for Tally {
    fn fill(&mut self, buf: &mut [u8]) {
        self.add(buf.len());
        buf.fill(4);
    }
}

/// Everything the host did, per channel.
#[derive(Clone, Default)]
struct Work {
    host_fn_bytes: Tally,
    output: Tally,
    logged: Tally,
    random: Tally,
}

/// A runtime of the hostile plugin under the default limits, with 1 MiB of
/// arguments and environment, a host function `H` that echoes and one `X` that fails
/// with a 64 KiB message.
fn hostile() -> (Runtime<()>, Work) {
    let work = Work::default();
    let (seen_h, seen_x, logged) = (work.host_fn_bytes.clone(), work.host_fn_bytes.clone(), work.logged.clone());
    let big = "x".repeat(1024);
    let rt = Runtime::builder(())
        .bytes(&wat::parse_str(HOSTILE).unwrap())
        .host_fn("H", move |_, payload, out| {
            seen_h.add(payload.len());
            out.extend_from_slice(payload);
            Ok(())
        })
        .host_fn("X", move |_, payload, _| {
            seen_x.add(payload.len());
            Err(HostError::from("e".repeat(64 << 10)))
        })
        .stdout(work.output.clone())
        .stderr(work.output.clone())
        .logger(move |line| logged.add(line.len()))
        .rand_source(work.random.clone())
        .args((0..1024).map(|_| big.clone()))
        .env((0..1024).map(|i| (format!("K{i}"), big.clone())))
        .build()
        .unwrap();
    (rt, work)
}

/// Runs the loop `op` (see [`common::runs_out`]). No loop step costs more than 16 M
/// fuel (16 MiB of random bytes).
fn runs_out(rt: &mut Runtime<()>, op: &str, payload: &[u8]) -> Usage {
    common::runs_out(rt, op, payload, 17 << 20)
}

/// The most bytes the budget pays for moving.
const MOVABLE: u64 = Limits::DEFAULT_CALL_FUEL * BYTES_PER_FUEL;

#[test]
fn copies_in_and_out_of_guest_memory_are_paid_for() {
    let (mut rt, _) = hostile();
    runs_out(&mut rt, "q", &vec![7; MEM - 16]);
    runs_out(&mut rt, "r", b"");
    // Error messages are cut to 64 KiB, and only that is copied.
    runs_out(&mut rt, "E", b"");
    runs_out(&mut rt, "n", b"");
}

#[test]
fn host_calls_pay_for_what_they_hand_over_and_get_back() {
    let (mut rt, work) = hostile();
    runs_out(&mut rt, "u", b"");
    runs_out(&mut rt, "H", b"");
    // `H` saw each 16 MiB payload it was paid for, and no more.
    let seen = work.host_fn_bytes.get();
    assert!(seen >= MEM as u64 && seen <= MOVABLE, "{seen}");
    runs_out(&mut rt, "R", b"");
    runs_out(&mut rt, "X", b"");
}

#[test]
fn output_is_bounded_per_call_and_the_call_goes_on_to_run_out() {
    let (mut rt, work) = hostile();
    let per_call = Limits::default().max_output_per_call as u64;
    let usage = runs_out(&mut rt, "w", b"");
    assert_eq!(work.output.get(), per_call);
    assert_eq!(usage.output_bytes, per_call);
    assert!(usage.refused_writes > 1000, "{usage:?}");
    let usage = runs_out(&mut rt, "W", b"");
    assert_eq!(work.output.get(), 2 * per_call, "stderr shares the bound");
    assert!(usage.refused_writes > 1000, "{usage:?}");
    let usage = runs_out(&mut rt, "l", b"");
    // 60 KiB lines: as many as fit in the bound, the rest dropped and counted.
    assert_eq!(work.logged.get(), per_call / 61440 * 61440);
    assert_eq!(usage.output_bytes, work.logged.get());
    assert!(usage.dropped_log_lines > 1000, "{usage:?}");
    runs_out(&mut rt, "f", b"");
}

#[test]
fn random_bytes_strings_and_small_calls_are_paid_for() {
    let (mut rt, work) = hostile();
    runs_out(&mut rt, "g", b"");
    // One unit of fuel per random byte, and the source made no more than that.
    let made = work.random.get();
    assert!(made >= MEM as u64 && made <= Limits::DEFAULT_CALL_FUEL, "{made}");
    runs_out(&mut rt, "a", b"");
    runs_out(&mut rt, "v", b"");
    runs_out(&mut rt, "s", b"");
    runs_out(&mut rt, "p", b"");
}

#[test]
fn imports_charge_by_the_documented_model() {
    // With a budget of one import and 8 bytes, a 9-byte response does not fit.
    let wasm = wat::parse_str(
        r#"(module
        (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
          (call $resp (i32.const 0) (local.get $len)) (i32.const 1)))"#,
    )
    .unwrap();
    let wasm = wasm.as_slice();
    let used = |len: &[u8], fuel: u64| {
        let mut rt = Runtime::builder(()).bytes(wasm).fuel(fuel).build().unwrap();
        let result = rt.invoke("x", len).map(|_| ());
        (result, rt.last_call().fuel.unwrap())
    };
    // The call's own instructions cost a few units; find them with a response of 0 bytes.
    let (ok, base) = used(&[], 1_000);
    ok.unwrap();
    assert!((IMPORT_FUEL..IMPORT_FUEL + 20).contains(&base), "{base}");
    // The payload sizes ask the plugin for responses of that many bytes.
    let (ok, with_8) = used(&[0; 8], 1_000);
    ok.unwrap();
    assert_eq!(with_8, base + 1);
    let (ok, with_9) = used(&[0; 9], 1_000);
    ok.unwrap();
    assert_eq!(with_9, base + 2);
    // Exactly enough fuel succeeds; one unit less runs out before the copy.
    assert!(used(&[0; 9], with_9).0.is_ok());
    assert!(matches!(used(&[0; 9], with_9 - 1).0, Err(Error::OutOfFuel)));
}

#[test]
fn translating_a_function_on_its_first_call_costs_no_fuel() {
    // Three functions, each first called by the call that uses it: the first call of
    // each must cost what every later one does, in a new runtime and in a reused module.
    let wasm = wat::parse_str(
        r#"(module
        (import "hookr" "__plugin_request" (func $req (param i32 i32)))
        (memory (export "memory") 1)
        (func $sum (param $n i32) (result i32) (local $acc i32)
          (loop $l (local.set $acc (i32.add (local.get $acc) (local.get $n)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $l (local.get $n)))
          (local.get $acc))
        (func $twice (param $n i32) (result i32) (i32.mul (call $sum (local.get $n)) (i32.const 2)))
        (func $thrice (param $n i32) (result i32) (i32.mul (call $twice (local.get $n)) (i32.const 3)))
        (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
          (call $req (i32.const 0) (i32.const 16))
          (if (i32.eq (i32.load8_u (i32.const 0)) (i32.const 115)) (then (drop (call $sum (i32.const 100)))))
          (if (i32.eq (i32.load8_u (i32.const 0)) (i32.const 116)) (then (drop (call $twice (i32.const 100)))))
          (if (i32.eq (i32.load8_u (i32.const 0)) (i32.const 104)) (then (drop (call $thrice (i32.const 100)))))
          (i32.const 1)))"#,
    )
    .unwrap();
    let fuel_of = |rt: &mut Runtime<()>, op: &str| {
        rt.invoke(op, b"").unwrap();
        rt.last_call().fuel.unwrap()
    };
    let mut first = Runtime::builder(()).bytes(&wasm).build().unwrap();
    let costs: Vec<u64> = ["sum", "twice", "hthrice"].iter().map(|op| fuel_of(&mut first, op)).collect();
    assert!(costs[0] < costs[1] && costs[1] < costs[2], "{costs:?}");
    for (op, cost) in ["sum", "twice", "hthrice"].iter().zip(&costs) {
        assert_eq!(fuel_of(&mut first, op), *cost, "{op}, called again");
    }
    // A new module translates afresh; calls in another order cost the same.
    let mut second = Runtime::builder(()).bytes(&wasm).build().unwrap();
    for (op, cost) in ["hthrice", "twice", "sum"].iter().zip(costs.iter().rev()) {
        assert_eq!(fuel_of(&mut second, op), *cost, "{op}, first in a new module");
    }
}

/// Loops on `__log` of the line at 0 with the length the payload's 4 LE bytes say,
/// or on `fd_write` to stdout of two iovecs, 60 000 bytes of `a` then one 0xFF byte.
const LOGGER: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__log" (func $log (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32) (local $n i32)
    (call $req (i32.const 100000) (i32.const 100016))
    (local.set $n (i32.load (i32.const 100016)))
    (memory.fill (i32.const 0) (i32.const 255) (i32.const 1000))
    (if (i32.eq (i32.load8_u (i32.const 100000)) (i32.const 108)) (then
      (loop $l (call $log (i32.const 0) (local.get $n)) (br $l))))
    (memory.fill (i32.const 1000) (i32.const 97) (i32.const 60000))
    (i32.store (i32.const 90000) (i32.const 1000))
    (i32.store (i32.const 90004) (i32.const 60000))
    (i32.store (i32.const 90008) (i32.const 0))
    (i32.store (i32.const 90012) (i32.const 1))
    (loop $w (drop (call $fd_write (i32.const 1) (i32.const 90000) (i32.const 2) (i32.const 90100))) (br $w))
    (i32.const 1)))"#;

/// Logs 100 lines of 64 KiB of 0xFF bytes, then `ok`.
const REPAIRED_LINES: &str = r#"(module
  (import "hookr" "__log" (func $log (param i32 i32)))
  (memory (export "memory") 2)
  (func (export "__plugin_call") (param i32 i32) (result i32) (local $i i32)
    (memory.fill (i32.const 0) (i32.const 255) (i32.const 65536))
    (i32.store16 (i32.const 70000) (i32.const 0x6b6f))
    (loop $l
      (call $log (i32.const 0) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
    (call $log (i32.const 70000) (i32.const 2))
    (i32.const 1)))"#;

#[test]
fn a_repaired_line_that_does_not_fit_spends_the_output() {
    let lines = Tally::default();
    let l = lines.clone();
    let mut rt = Runtime::builder(())
        .bytes(&wat::parse_str(REPAIRED_LINES).unwrap())
        .logger(move |line| {
            assert_eq!(line.len(), 3 * 65536, "each 0xFF is repaired to U+FFFD");
            l.add(1);
        })
        .build()
        .unwrap();
    rt.invoke("x", b"").unwrap();
    let usage = rt.last_call();
    // Five repaired lines fill 960 KiB of the 1 MiB bound. The sixth is repaired, does
    // not fit and spends the rest: the 94 lines after it are dropped unrepaired, and so
    // is `ok`, which would have fitted.
    assert_eq!(lines.get(), 5);
    assert_eq!(usage.output_bytes, 5 * 3 * 65536);
    assert_eq!(usage.dropped_log_lines, 96, "{usage:?}");
    // The next call has its own bound.
    rt.invoke("x", b"").unwrap();
    assert_eq!(lines.get(), 10);
}

/// Logs `line`, then writes `hi` to stdout.
fn log_then_write(line: &str) -> String {
    let bytes: String = line.bytes().map(|b| format!("\\{b:02x}")).collect();
    format!(
        r#"(module
  (import "hookr" "__log" (func $log (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{bytes}")
  (data (i32.const 200) "hi")
  (data (i32.const 300) "\c8\00\00\00\02\00\00\00")
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (call $log (i32.const 0) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 400)))
    (i32.const 1)))"#,
        len = line.len()
    )
}

#[test]
fn a_line_cut_inside_a_character_is_cut_before_it_not_repaired() {
    for line in ["abcdef", "ééé"] {
        let stdout = hookr::io::SharedBuffer::new();
        let logged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = logged.clone();
        let mut rt = Runtime::builder(())
            .bytes(&wat::parse_str(log_then_write(line)).unwrap())
            .limits(Limits::default().with_max_log(5).with_max_output_per_call(100))
            .stdout(stdout.clone())
            .logger(move |line| seen.lock().unwrap().push(line.to_string()))
            .build()
            .unwrap();
        rt.invoke("x", b"").unwrap();
        // Cut to 5 bytes, or to 4 where the fifth byte is inside `é`: no U+FFFD.
        let logged = logged.lock().unwrap();
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].starts_with(if line == "abcdef" { "abcde" } else { "éé" }), "{logged:?}");
        assert!(!logged[0].contains('\u{fffd}'), "{logged:?}");
        assert_eq!(stdout.take(), b"hi");
        // A cut line that does not fit is dropped, and spends nothing: stdout still gets its bytes.
        let mut rt = Runtime::builder(())
            .bytes(&wat::parse_str(log_then_write(line)).unwrap())
            .limits(Limits::default().with_max_log(5).with_max_output_per_call(20))
            .stdout(stdout.clone())
            .logger(|_| panic!("the cut line with its note does not fit in 20 bytes"))
            .build()
            .unwrap();
        rt.invoke("x", b"").unwrap();
        assert_eq!((stdout.take(), rt.last_call().refused_writes), (b"hi".to_vec(), 0), "{line}");
    }
}

#[test]
fn a_typed_host_function_s_decoding_is_paid_for_before_it_runs() {
    use hookr::meter::{decode_cost, import_cost};
    let fuel = 10_000_000;
    let wasm = wat::parse_str(common::TYPED_HOST_LOOP).unwrap();
    let runs = |typed: bool| {
        let builder = Runtime::builder(0u64).bytes(&wasm).limits(Limits::default().with_fuel(Some(fuel)));
        let builder = if typed {
            builder.host_fn_typed("h", |n: &mut u64, zeros: Vec<u32>| {
                assert_eq!(zeros.len(), 59_997);
                *n += 1;
                Ok(())
            })
        } else {
            builder.host_fn("h", |n: &mut u64, _, _| {
                *n += 1;
                Ok(())
            })
        };
        let mut rt = builder.build().unwrap();
        assert!(matches!(rt.invoke("x", b""), Err(Error::OutOfFuel)));
        *rt.state()
    };
    // Each typed call pays for moving its 60 001 bytes and for decoding the 60 000 of
    // its request, before it decodes: the budget pays for no more decodes than that.
    let typed = runs(true);
    let per_call = import_cost(60_001) + decode_cost(60_000);
    assert!(typed <= fuel / per_call && typed >= fuel / per_call - 1, "{typed} typed calls");
    // A bytes host function decodes nothing, and pays for moving only.
    let bytes = runs(false);
    assert!(bytes >= fuel / (import_cost(60_001) + 100) - 1 && bytes <= fuel / import_cost(60_001), "{bytes}");
}

#[test]
fn what_reaches_the_logger_and_sinks_is_what_is_counted() {
    // Enough fuel for 100 000 lines at OUTPUT_FUEL each, and little more.
    let limits = Limits::default().with_fuel(Some(110_000_000)).with_max_output_per_call(100_000);
    let (lines, logged) = (Tally::default(), Tally::default());
    let (l, g) = (lines.clone(), logged.clone());
    let mut rt = Runtime::builder(())
        .bytes(&wat::parse_str(LOGGER).unwrap())
        .limits(limits)
        .logger(move |line| {
            l.add(1);
            g.add(line.len());
        })
        .build()
        .unwrap();
    // Empty lines take a byte each of the bound, then are dropped.
    let usage = runs_out_of(&mut rt, "log", 0);
    assert_eq!((lines.get(), logged.get()), (100_000, 0));
    assert_eq!(usage.output_bytes, 100_000);
    assert!(usage.dropped_log_lines > 0, "{usage:?}");
    // Invalid UTF-8 is repaired to three bytes a byte: the repaired line is counted.
    let usage = runs_out_of(&mut rt, "log", 1000);
    assert_eq!(logged.get(), 99_000, "33 lines of 3 000 bytes fit in 100 000");
    assert_eq!(usage.output_bytes, 99_000);

    // A sink that takes the `a`s and refuses the 0xFF byte: what it took counts.
    #[derive(Clone, Default)]
    struct Picky(Tally, Tally);
    impl std::io::Write for Picky {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.1.add(1);
            match buf.iter().position(|&b| b == 0xff) {
                Some(0) => Err(std::io::Error::other("0xFF")),
                Some(n) => {
                    self.0.add(n);
                    Ok(n)
                }
                None => {
                    self.0.add(buf.len());
                    Ok(buf.len())
                }
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Picky::default();
    let mut rt = Runtime::builder(())
        .bytes(&wat::parse_str(LOGGER).unwrap())
        .limits(limits.with_fuel(Some(10_000_000)))
        .stdout(sink.clone())
        .build()
        .unwrap();
    let usage = runs_out_of(&mut rt, "write", 0);
    // The first write (60 001 bytes) failed after 60 000 of them; the second got the
    // 39 999 left of the bound, all `a`s; then the stream was closed.
    assert_eq!(sink.0.get(), 99_999);
    assert_eq!(usage.output_bytes, 100_000);
    // Both iovecs went to the sink as one buffer: three `write`s in all.
    assert_eq!(sink.1.get(), 3);
    assert!(usage.refused_writes > 0, "{usage:?}");
}

fn runs_out_of(rt: &mut Runtime<()>, op: &str, len: u32) -> Usage {
    assert!(matches!(rt.invoke(op, &len.to_le_bytes()), Err(Error::OutOfFuel)), "{op}");
    rt.last_call()
}
