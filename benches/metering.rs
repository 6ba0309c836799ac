//! What bounding calls costs, on the `simple` plugin: calls metered (the default)
//! beside unmetered ones, run whole beside run in slices, and start-up with and
//! without metering.
//!
//! `cargo bench --bench metering` runs every case and ends with a table of medians,
//! ratios and the fuel each call used; `-- WORD` runs only the cases named WORD.

extern crate alloc;

mod common;

use std::hint::black_box;
use std::task::Poll;
use std::time::Duration;

use common::{fmt_ns, hello, hello_byte, Echo, Results, State, SENTENCE, SIMPLE};
use hookr::{Builder, CancelHandle, HostFn, Runtime};

static HOST_FNS: &[HostFn<State>] = &[HostFn::bytes("helloByte", hello_byte), HostFn::typed("hello", hello)];

/// Sets a runtime's options.
type Options = fn(Builder<'static, State>) -> Builder<'static, State>;

/// How each runtime of a case is built: its label and its options.
const MODES: [(&str, Options); 4] = [
    ("unmetered", |b| b.unmetered()),
    ("metered", |b| b),
    // A cancel handle makes every call run in slices of `Limits::slice_fuel`.
    ("metered, cancellable", |b| b.cancel_handle(CancelHandle::new())),
    ("metered, timeout", |b| b.timeout(Duration::from_secs(60))),
];

/// The fuel of a slice when the host drives a call itself.
const DRIVEN_SLICE: u64 = 1_000;

fn runtime(mode: Options) -> Runtime<State> {
    mode(Runtime::builder(State).bytes(SIMPLE).host_fns(HOST_FNS)).build().unwrap()
}

/// Runs `op` to its end in slices of [`DRIVEN_SLICE`] fuel.
fn driven(rt: &mut Runtime<State>, op: &str, payload: &[u8], out: &mut Vec<u8>) {
    let mut call = rt.start_sliced(op, payload, out).unwrap();
    loop {
        if let Poll::Ready(result) = call.resume(DRIVEN_SLICE) {
            result.unwrap();
            return;
        }
    }
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut r = Results { filter, rows: Vec::new() };
    let long: Vec<u8> = SENTENCE.iter().copied().cycle().take(64 << 10).collect();
    let cases: [(&str, &str, &[u8]); 4] = [
        ("vowel 86 B", "vowel", SENTENCE),
        ("vowel 64 KiB", "vowel", &long),
        ("echoByte 86 B", "echoByte", SENTENCE),
        ("vowel 0 B", "vowel", b""),
    ];
    let mut fuel = Vec::new();
    let mut out = Vec::new();
    for (label, op, payload) in cases {
        for (mode, build) in MODES {
            let mut rt = runtime(build);
            rt.invoke_into(op, payload, &mut out).unwrap();
            r.run(&format!("{label}: {mode}"), || {
                rt.invoke_into(op, black_box(payload), &mut out).unwrap();
                black_box(&out);
            });
            if mode == "metered" {
                // In steady state: a first call also sets up the guest's allocator.
                fuel.push((label, rt.last_call().fuel.unwrap()));
            }
        }
        let mut rt = runtime(MODES[1].1);
        rt.invoke_into(op, payload, &mut out).unwrap();
        r.run(&format!("{label}: driven"), || {
            driven(&mut rt, op, black_box(payload), &mut out);
            black_box(&out);
        });
    }
    let steve = Echo { data: "Steve".into() };
    for (mode, build) in MODES {
        let mut rt = runtime(build);
        let _: Echo = rt.call("echo", &steve).unwrap();
        r.run(&format!("typed echo: {mode}"), || {
            let reply: Echo = rt.call("echo", black_box(&steve)).unwrap();
            black_box(reply);
        });
        if mode == "metered" {
            fuel.push(("typed echo", rt.last_call().fuel.unwrap()));
        }
    }

    let big: &'static [u8] = common::big_plugin().0.leak();
    let plugins: [(&str, &'static [u8]); 2] = [("simple", SIMPLE), ("100 KiB", big)];
    for (label, wasm) in plugins {
        for (mode, build) in &MODES[..2] {
            r.run(&format!("start-up {label}: {mode}"), || {
                black_box(build(Runtime::builder(State).bytes(black_box(wasm)).host_fns(HOST_FNS)).build().unwrap());
            });
        }
    }

    summary(&r, &fuel);
}

fn summary(r: &Results, fuel: &[(&str, u64)]) {
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    let ns = |v: Option<f64>| v.map_or("-".into(), fmt_ns);
    println!();
    println!(
        "{:<16} {:>10} {:>10} {:>6} {:>12} {:>6} {:>10} {:>6} {:>10}",
        "case", "unmetered", "metered", "ratio", "cancellable", "ratio", "driven", "ratio", "fuel"
    );
    for (label, fuel) in fuel {
        let get = |mode: &str| r.get(&format!("{label}: {mode}"));
        let (off, on, sliced, driven) = (get("unmetered"), get("metered"), get("metered, cancellable"), get("driven"));
        println!(
            "{:<16} {:>10} {:>10} {:>6} {:>12} {:>6} {:>10} {:>6} {:>10}",
            label,
            ns(off),
            ns(on),
            ratio(on, off),
            ns(sliced),
            ratio(sliced, on),
            ns(driven),
            ratio(driven, on),
            fuel
        );
    }
    println!();
    println!("(driven: the host resumes the call in slices of {DRIVEN_SLICE} fuel)");
    // What a typed call costs beside a byte call of the same shape (a host call each).
    let fuel_of = |label: &str| fuel.iter().find(|(l, _)| *l == label).map(|&(_, f)| f as f64);
    if let (Some(typed), Some(bytes)) = (r.get("typed echo: metered"), r.get("echoByte 86 B: metered")) {
        println!(
            "typed echo / echoByte 86 B, metered: {:.2}x the time, {}x the fuel",
            typed / bytes,
            ratio(fuel_of("typed echo"), fuel_of("echoByte 86 B"))
        );
    }
    for label in ["simple", "100 KiB"] {
        let get = |mode: &str| r.get(&format!("start-up {label}: {mode}"));
        let (off, on) = (get("unmetered"), get("metered"));
        println!(
            "start-up {:<10} unmetered {:>10}  metered {:>10}  ratio {:>6}",
            label,
            ns(off),
            ns(on),
            ratio(on, off)
        );
    }
}
