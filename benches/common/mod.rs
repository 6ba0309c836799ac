//! What the benchmarks share: a timer that reports medians, the `simple` plugin with
//! the host functions it calls, and a generated plugin of about 100 KiB.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use std::hint::black_box;

use hookr::wasmi::{self, Engine, Linker, Store};
use hookr::{codec, HostError, HostFn, Limits, Module, Runtime};

/// The `simple` plugin's message types, shared with its source.
#[path = "../../targets/plugins/simple/src/messages.rs"]
mod messages;
#[allow(unused_imports)] // not every benchmark makes typed calls
pub use messages::{Echo, Hello};

pub const SIMPLE: &[u8] = include_bytes!("../../targets/plugins/simple/simple.wasm");

/// A waPC guest built with the published `wapc-guest` crate.
pub const WAPC_DEMO: &[u8] = include_bytes!("../../targets/plugins/wapc-demo/wapc-demo.wasm");

/// 86 bytes of text.
pub const SENTENCE: &[u8] = b"The quick brown fox jumps over the lazy dog, and the dog does not seem to mind at all.";

/// The host state of the benchmarks' runtimes.
pub struct State;

/// The host functions `simple` calls.
pub static SIMPLE_HOST_FNS: &[HostFn<State>] = &[HostFn::bytes("helloByte", hello_byte), HostFn::typed("hello", hello)];

/// A runtime of `simple` from its compiled `module`, with [`SIMPLE_HOST_FNS`].
pub fn simple_runtime(module: Module) -> Result<Runtime<State>, hookr::Error> {
    Runtime::builder(State).module(module).host_fns(SIMPLE_HOST_FNS).build()
}

/// The `helloByte` host function `simple` calls from `echoByte`.
pub fn hello_byte(_: &mut State, input: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(input);
    Ok(())
}

/// The typed `hello` host function `simple` calls from `echo`. Its reply is joined
/// like `hello_byte`'s, without `format!`, so that comparing the two compares the
/// typed and byte call paths rather than the host functions' bodies.
pub fn hello(_: &mut State, input: Hello) -> Result<Hello, HostError> {
    Ok(Hello { msg: ["Hello, ", &input.msg, "!"].concat() })
}

// ---------------------------------------------------------------------------------
// The timer

/// How long one sample runs, and the time given to each case.
const SAMPLE: Duration = Duration::from_micros(200);
const BUDGET: Duration = Duration::from_millis(300);

/// The median time of one call of `f`, in nanoseconds.
///
/// Calibrates a batch size so that one sample takes about [`SAMPLE`], then takes
/// samples for about [`BUDGET`] (at least 31) and returns the median of their
/// per-call times.
pub fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut iters: u64 = 1;
    let per_call = loop {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let elapsed = start.elapsed();
        if elapsed >= SAMPLE / 4 || iters >= 1 << 24 {
            break elapsed.as_secs_f64() / iters as f64;
        }
        iters *= 2;
    };
    let iters = ((SAMPLE.as_secs_f64() / per_call) as u64).max(1);
    let samples = ((BUDGET.as_secs_f64() / (per_call * iters as f64)) as usize).clamp(31, 1001);
    let mut times: Vec<f64> = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        times.push(start.elapsed().as_secs_f64() * 1e9 / iters as f64);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

pub struct Results {
    pub filter: Option<String>,
    pub rows: Vec<(String, f64)>,
}

impl Results {
    pub fn wanted(&self, name: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| name.contains(f))
    }

    pub fn run(&mut self, name: &str, f: impl FnMut()) {
        if !self.wanted(name) {
            return;
        }
        let ns = median_ns(f);
        println!("{name:<44} {:>14}", fmt_ns(ns));
        self.rows.push((name.to_string(), ns));
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.rows.iter().find(|(n, _)| n == name).map(|&(_, ns)| ns)
    }
}

pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

// ---------------------------------------------------------------------------------
// A big plugin

/// A plugin of about 100 KiB: `count` functions of straight-line arithmetic, branches
/// and memory traffic (the shape of compiled Rust, if not its content), behind an
/// echo `__plugin_call` that calls the first of them.
pub fn big_wat(count: usize) -> String {
    let mut w = String::from(
        r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 2)
  (global $g (mut i32) (i32.const 7))
  (data (i32.const 4096) "a data segment, as compiled plugins have for their constants")
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 0) (i32.const 1024))
    (drop (call $f0 (local.get $op) (local.get $len)))
    (call $resp (i32.const 1024) (local.get $len))
    (i32.const 1))
"#,
    );
    let mut seed: u32 = 0x2545_f491;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for i in 0..count {
        w.push_str(&format!(
            "  (func $f{i} (param $a i32) (param $b i32) (result i32) (local $x i32) (local $y i32)\n"
        ));
        for _ in 0..4 {
            let (k1, k2, off) = (next() % 1000, next() % 97 + 1, (next() % 1024) * 4);
            w.push_str(&format!(
                "    (local.set $x (i32.xor (i32.mul (i32.add (local.get $a) (i32.const {k1})) (local.get $b)) (global.get $g)))
    (local.set $y (i32.load offset={off} (i32.and (local.get $x) (i32.const 1020))))
    (if (i32.gt_u (local.get $x) (local.get $y))
      (then (local.set $a (i32.rem_u (local.get $x) (i32.const {k2}))))
      (else (i32.store offset={off} (i32.const 0) (i32.add (local.get $y) (local.get $b)))))
"
            ));
        }
        let callee = if i + 1 < count {
            format!("(call $f{} (local.get $b) (local.get $a))", i + 1)
        } else {
            "(local.get $a)".into()
        };
        w.push_str(&format!(
            "    (if (result i32) (i32.eqz (local.get $b)) (then (i32.add (local.get $x) (local.get $y))) (else {callee})))\n"
        ));
    }
    w.push_str(")\n");
    w
}

/// A generated plugin of at least 100 KiB, and the number of functions in it.
pub fn big_plugin() -> (Vec<u8>, usize) {
    let mut count = 300;
    loop {
        let wasm = wat::parse_str(big_wat(count)).unwrap();
        if wasm.len() >= 100 << 10 {
            return (wasm, count);
        }
        count = count * (100 << 10) / wasm.len() + 1;
    }
}

/// A linker that satisfies every `hookr` import with a no-op, for instantiating
/// `simple.wasm` under wasmi alone.
pub fn simple_floor_linker(engine: &Engine) -> Linker<()> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("hookr", "__plugin_request", |_: i32, _: i32| {})
        .unwrap()
        .func_wrap("hookr", "__plugin_response", |_: i32, _: i32| {})
        .unwrap()
        .func_wrap("hookr", "__plugin_error", |_: i32, _: i32| {})
        .unwrap()
        .func_wrap("hookr", "__host_call", |_: i32, _: i32, _: i32, _: i32| 0i32)
        .unwrap()
        .func_wrap("hookr", "__host_response_len", || 0i32)
        .unwrap()
        .func_wrap("hookr", "__host_response", |_: i32| {})
        .unwrap()
        .func_wrap("hookr", "__host_error_len", || 0i32)
        .unwrap()
        .func_wrap("hookr", "__host_error", |_: i32| {})
        .unwrap()
        .func_wrap("hookr", "__log", |_: i32, _: i32| {})
        .unwrap();
    linker
}

// ---------------------------------------------------------------------------------
// A fresh instance

/// The rows of the fresh-instance cases.
pub const FRESH_FLOOR: &str = "fresh instance: floor (wasmi)";
pub const FRESH_HOOKR: &str = "fresh instance: hookr from Module";

/// Times a new `simple` runtime from its compiled `module` beside wasmi making the same
/// instance ready to call, apart and in alternation; returns the ratio timed in
/// alternation, when the cases ran. [`print_fresh_instance`] prints the summary.
pub fn fresh_instance(r: &mut Results, module: &Module) -> Option<f64> {
    // wasmi alone, as a user of it would make an instance ready to call: a store with
    // fuel, the instance, its initialisers (simple has none to run) and the memory and
    // export resolved.
    let engine = module.engine().clone();
    let floor_module = wasmi::Module::new(&engine, SIMPLE).unwrap();
    let floor_linker = simple_floor_linker(&engine);
    let mut floor = || {
        let mut store = Store::new(&engine, ());
        store.set_fuel(Limits::DEFAULT_INIT_FUEL).unwrap();
        let instance = floor_linker.instantiate_and_start(&mut store, &floor_module).unwrap();
        for name in hookr::abi_names::INITIALISERS {
            if let Some(f) = instance.get_func(&store, name) {
                f.typed::<(), ()>(&store).unwrap().call(&mut store, ()).unwrap();
            }
        }
        let memory = instance.get_memory(&store, "memory").unwrap();
        let call = instance.get_typed_func::<(i32, i32), i32>(&store, "__plugin_call").unwrap();
        black_box((store, memory, call));
    };
    let mut hookr = || {
        black_box(simple_runtime(module.clone()).unwrap());
    };
    r.run(FRESH_FLOOR, &mut floor);
    r.run(FRESH_HOOKR, &mut hookr);
    // Both spend much of their time in the allocator and zeroing memory, which makes
    // them sensitive to whatever else the machine does: also time them in alternation.
    r.wanted("fresh instance").then(|| paired_ratio(&mut hookr, &mut floor))
}

/// The fresh-instance summary: both medians, their ratio, and the ratio timed in
/// alternation.
pub fn print_fresh_instance(r: &Results, paired: Option<f64>) {
    let (Some(floor), Some(hookr)) = (r.get(FRESH_FLOOR), r.get(FRESH_HOOKR)) else {
        return;
    };
    println!("fresh instance     floor {:>10}  hookr {:>10}  ratio {:.2}", fmt_ns(floor), fmt_ns(hookr), hookr / floor);
    if let Some(paired) = paired {
        println!("fresh instance     hookr / floor, timed in alternation: {paired:.2}");
    }
}

/// The median over many rounds of (time of `a`) / (time of `b`), each round timing a
/// batch of `a` right after a batch of `b`.
pub fn paired_ratio(a: &mut impl FnMut(), b: &mut impl FnMut()) -> f64 {
    const BATCH: usize = 200;
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..BATCH {
            f();
        }
        start.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..101).map(|_| time(b)).zip(0..).map(|(tb, _)| time(a) / tb).collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}
