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

use common::{
    fmt_ns, fresh_instance, print_fresh_instance, simple_runtime, Echo, Results, State, SENTENCE, SIMPLE,
    SIMPLE_HOST_FNS,
};
use hookr::{EngineConfig, Module, NoVerify, Pool, Runtime};

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut r = Results { filter, rows: Vec::new() };
    let compiled = Module::new(SIMPLE, "", &NoVerify, EngineConfig::default()).unwrap();
    let fresh = || simple_runtime(compiled.clone()).unwrap();
    let paired = fresh_instance(&mut r, &compiled);

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
    let mut trapping =
        Runtime::builder(State).module(compiled.clone()).host_fns(SIMPLE_HOST_FNS).fuel(100).build().unwrap();
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
    print_fresh_instance(&r, paired);
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
fn throughput(module: &Module) -> Vec<(String, f64, f64)> {
    let make = {
        let module = module.clone();
        move || simple_runtime(module.clone())
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
                    simple_runtime(Module::new(SIMPLE, "", &NoVerify, EngineConfig::default())?)
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
