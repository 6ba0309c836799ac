//! Many instances of one plugin: a fresh runtime from a compiled module beside wasmi
//! doing the same, a reset beside a fresh instance, and calls per second through a
//! pool against one runtime per thread (from one module, and from a module each), on 1
//! and 2 threads.
//!
//! `cargo bench --bench instances` runs every case and ends with a table of medians,
//! ratios and throughputs; `-- WORD` runs only the cases named WORD.

extern crate alloc;

mod common;

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{fmt_ns, hello, hello_byte, simple_floor_linker, Echo, Results, State, SENTENCE, SIMPLE};
use hookr::wasmi::{self, Store};
use hookr::{EngineConfig, HostFn, Limits, Module, NoVerify, Pool, Runtime};

static HOST_FNS: &[HostFn<State>] = &[HostFn::bytes("helloByte", hello_byte), HostFn::typed("hello", hello)];

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut r = Results { filter, rows: Vec::new() };
    let compiled = Module::new(SIMPLE, "", &NoVerify, EngineConfig::default()).unwrap();
    let fresh = || runtime_of(compiled.clone()).unwrap();

    // wasmi alone, as a user of it would make an instance ready to call: a store with
    // fuel, the instance, its initialisers (simple has none to run) and the memory and
    // export resolved.
    let engine = compiled.engine().clone();
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
        black_box(fresh());
    };
    r.run("fresh instance: floor (wasmi)", &mut floor);
    r.run("fresh instance: hookr from Module", &mut hookr);
    // Both spend most of their time zeroing a 64 KiB memory, which makes them
    // sensitive to whatever else the machine does: also time them in alternation.
    let paired = if r.wanted("fresh instance") { Some(paired_ratio(&mut hookr, &mut floor)) } else { None };

    let mut out = Vec::new();
    r.run("fresh instance + first vowel 86 B", || {
        let mut rt = fresh();
        rt.invoke_into("vowel", black_box(SENTENCE), &mut out).unwrap();
        black_box(rt);
    });
    let mut rt = fresh();
    r.run("reset + first vowel 86 B", || {
        rt.reset().unwrap();
        rt.invoke_into("vowel", black_box(SENTENCE), &mut out).unwrap();
    });
    r.run("reset alone", || {
        rt.reset().unwrap();
    });
    // A call that traps at once (100 fuel is not enough for anything), so that each
    // one starts by resetting the instance the last one left.
    let mut trapping = Runtime::builder(State).module(compiled.clone()).host_fns(HOST_FNS).fuel(100).build().unwrap();
    r.run("a trapping call + the reset before the next", || {
        black_box(trapping.invoke_into("vowel", black_box(SENTENCE), &mut out).unwrap_err());
    });

    let throughput = if r.wanted("throughput") { throughput(&compiled) } else { Vec::new() };

    println!();
    let ratio = |a: &str, b: &str| match (r.get(a), r.get(b)) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    let ns = |name: &str| r.get(name).map_or("-".into(), fmt_ns);
    let (floor, hookr) = ("fresh instance: floor (wasmi)", "fresh instance: hookr from Module");
    println!("fresh instance     floor {:>10}  hookr {:>10}  ratio {}", ns(floor), ns(hookr), ratio(hookr, floor));
    if let Some(paired) = paired {
        println!("fresh instance     hookr / floor, timed in alternation: {paired:.2}");
    }
    let (fresh, reset) = ("fresh instance + first vowel 86 B", "reset + first vowel 86 B");
    println!("+ first call       fresh {:>10}  reset {:>10}  ratio {}", ns(fresh), ns(reset), ratio(reset, fresh));
    if !throughput.is_empty() {
        println!();
        println!("{:<34} {:>14} {:>14}", "calls per second", "1 thread", "2 threads");
        for (label, one, two) in throughput {
            println!("{label:<34} {one:>14.0} {two:>14.0}   (x{:.2})", two / one);
        }
    }
}

/// The median over many rounds of (time of `a`) / (time of `b`), each round timing a
/// batch of `a` right after a batch of `b`.
fn paired_ratio(a: &mut impl FnMut(), b: &mut impl FnMut()) -> f64 {
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

/// How long each throughput case runs.
const RUN: Duration = Duration::from_millis(500);

/// Calls per second of `call` on `threads` threads at once, each making calls for
/// [`RUN`].
fn per_second(threads: usize, call: impl Fn() + Sync) -> f64 {
    let start = Barrier::new(threads);
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let begun = Instant::now();
                    let mut calls = 0u64;
                    while begun.elapsed() < RUN {
                        for _ in 0..64 {
                            call();
                        }
                        calls += 64;
                    }
                    calls
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    total as f64 / RUN.as_secs_f64()
}

/// simple's byte call (`echoByte` through the host) and typed call (`echo`), through
/// a pool of two runtimes and through one runtime per thread, on 1 and 2 threads.
/// A runtime of `module` with the benchmark's host functions.
fn runtime_of(module: Module) -> Result<Runtime<State>, hookr::Error> {
    Runtime::builder(State).module(module).host_fns(HOST_FNS).build()
}

fn throughput(module: &Module) -> Vec<(String, f64, f64)> {
    let make = {
        let module = module.clone();
        move || runtime_of(module.clone())
    };
    let pool = Pool::new(2, make.clone()).unwrap();
    let steve = Echo { data: "Steve".into() };
    let mut rows = Vec::new();
    for typed in [false, true] {
        let call = |rt: &mut Runtime<State>| {
            if typed {
                let reply: Echo = rt.call("echo", black_box(&steve)).unwrap();
                black_box(reply);
            } else {
                black_box(rt.invoke("echoByte", black_box(SENTENCE)).unwrap());
            }
        };
        let through_pool = |threads| per_second(threads, || call(&mut pool.get().unwrap()));
        // `separate`: each runtime from a module compiled for it, so on an engine of its
        // own; else all from `module`, sharing its engine.
        let own = |threads, separate: bool| {
            let build = || {
                if separate {
                    runtime_of(Module::new(SIMPLE, "", &NoVerify, EngineConfig::default())?)
                } else {
                    make()
                }
            };
            let runtimes: Vec<_> = (0..threads).map(|_| std::sync::Mutex::new(build().unwrap())).collect();
            let next = std::sync::atomic::AtomicUsize::new(0);
            // Each thread takes its own runtime once, then calls it.
            thread_local!(static MINE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) });
            per_second(threads, || {
                let i = MINE.with(|m| {
                    if m.get() == usize::MAX {
                        m.set(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                    }
                    m.get()
                });
                call(&mut runtimes[i].lock().unwrap());
            })
        };
        let kind = if typed { "typed echo" } else { "echoByte 86 B" };
        rows.push((format!("{kind}, a runtime per thread"), own(1, false), own(2, false)));
        rows.push((format!("{kind}, a module per thread"), own(1, true), own(2, true)));
        rows.push((format!("{kind}, a pool of 2"), through_pool(1), through_pool(2)));
    }
    rows
}
