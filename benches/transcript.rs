//! What recording a transcript costs, on the `simple` plugin: calls with recording off
//! (the default) beside the same calls recorded to a sink that discards the bytes,
//! and how fast a transcript replays.
//!
//! `cargo bench --bench transcript` runs every case and ends with a table of medians
//! and ratios; `-- WORD` runs only the cases named WORD.

extern crate alloc;

mod common;

use std::hint::black_box;

use common::{fmt_ns, hello, hello_byte, Echo, Results, State, SENTENCE, SIMPLE};
use hookr::io::SharedBuffer;
use hookr::transcript::{replay, Verdict};
use hookr::{EngineConfig, Hasher, HostFn, Module, Runtime, Sha256Hasher};

static HOST_FNS: &[HostFn<State>] = &[HostFn::bytes("helloByte", hello_byte), HostFn::typed("hello", hello)];

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut r = Results { filter, rows: Vec::new() };
    let module = Module::new(SIMPLE, &Sha256Hasher.hash(SIMPLE), &Sha256Hasher, EngineConfig::default()).unwrap();
    let runtime = |record: bool| {
        let b = Runtime::builder(State).module(module.clone()).host_fns(HOST_FNS);
        if record { b.record(std::io::sink()) } else { b }.build().unwrap()
    };
    let steve = Echo { data: "Steve".into() };
    let mut out = Vec::new();
    let byte_cases: [(&str, &str, &[u8]); 2] =
        [("vowel 86 B", "vowel", SENTENCE), ("echoByte 86 B", "echoByte", SENTENCE)];
    for (label, op, payload) in byte_cases {
        for record in [false, true] {
            let mut rt = runtime(record);
            rt.invoke_into(op, payload, &mut out).unwrap();
            r.run(&format!("{label}: {}", if record { "recorded" } else { "off" }), || {
                rt.invoke_into(op, black_box(payload), &mut out).unwrap();
                black_box(&out);
            });
        }
    }
    for record in [false, true] {
        let mut rt = runtime(record);
        let _: Echo = rt.call("echo", &steve).unwrap();
        r.run(&format!("typed echo: {}", if record { "recorded" } else { "off" }), || {
            let reply: Echo = rt.call("echo", black_box(&steve)).unwrap();
            black_box(reply);
        });
    }

    // A transcript of 1 000 calls, replayed whole: per call.
    let transcript = SharedBuffer::new();
    let mut rt =
        Runtime::builder(State).module(module.clone()).host_fns(HOST_FNS).record(transcript.clone()).build().unwrap();
    for i in 0..1000 {
        match i % 3 {
            0 => drop(rt.invoke("vowel", SENTENCE).unwrap()),
            1 => drop(rt.invoke("echoByte", SENTENCE).unwrap()),
            _ => drop(rt.call::<Echo, Echo>("echo", &steve).unwrap()),
        }
    }
    drop(rt);
    let bytes = transcript.take();
    println!("(a transcript of 1 000 calls takes {} bytes)", bytes.len());
    if r.wanted("replay") {
        let ns = common::median_ns(|| {
            assert_eq!(replay(&module, bytes.clone()).unwrap(), Verdict::Identical { calls: 1000 });
        });
        println!("{:<44} {:>14}", "replay, per call (1 000 calls)", fmt_ns(ns / 1000.0));
        r.rows.push(("replay per call".into(), ns / 1000.0));
    }

    println!();
    println!("{:<16} {:>10} {:>10} {:>6}", "case", "off", "recorded", "ratio");
    for label in ["vowel 86 B", "echoByte 86 B", "typed echo"] {
        let (off, on) = (r.get(&format!("{label}: off")), r.get(&format!("{label}: recorded")));
        let ratio = match (off, on) {
            (Some(a), Some(b)) => format!("{:.2}", b / a),
            _ => "-".into(),
        };
        println!("{label:<16} {:>10} {:>10} {ratio:>6}", off.map_or("-".into(), fmt_ns), on.map_or("-".into(), fmt_ns));
    }
}
