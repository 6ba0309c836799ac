//! Transcripts: a recorded runtime replays identical without its host; a change in
//! what the plugin does (or in the transcript) is the first divergence, named
//! precisely; transcripts of another plugin or with other settings are refused; and
//! truncated, corrupt or hostile transcripts are errors, never panics.

mod common;

extern crate alloc;

use hookr::io::{SeededRandom, SharedBuffer};
use hookr::transcript::{replay, Outcome, Reader, Record, Verdict};
use hookr::{EngineConfig, Error, Hasher, HostError, HostFn, Limits, Module, Runtime, Sha256Hasher};

/// The `simple` plugin's message types, shared with its source.
#[path = "../targets/plugins/simple/src/messages.rs"]
mod messages;
use hookr::codec;
use messages::{Echo, Hello};

static SIMPLE: &[u8] = include_bytes!("../targets/plugins/simple/simple.wasm");
static SENSOR: &[u8] = include_bytes!("../targets/plugins/sensor/sensor.wasm");
static WASI_DEMO: &[u8] = include_bytes!("../targets/plugins/wasi-demo/wasi-demo.wasm");

fn hello(_: &mut u64, req: Hello) -> Result<Hello, HostError> {
    if req.msg == "fail" {
        return Err(HostError::new("hello refuses to greet fail"));
    }
    Ok(Hello { msg: format!("Hello, {}!", req.msg) })
}

fn hello_byte(calls: &mut u64, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    *calls += 1;
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(payload);
    Ok(())
}

/// `now_ms`'s request: `{}`, whatever fields it has.
struct NowRequest;

impl codec::Decode for NowRequest {
    fn decode(d: &mut codec::Decoder<'_>) -> Result<Self, codec::DecodeError> {
        d.fields(&[], |d, _| d.skip())?;
        Ok(NowRequest)
    }
}

/// A fake clock in milliseconds, moved on a second per read.
fn now_ms(clock: &mut u64, _: NowRequest) -> Result<NowMs, HostError> {
    *clock += 1000;
    Ok(NowMs(*clock))
}

/// `{"now_ms": u64}`.
struct NowMs(u64);

impl codec::Encode for NowMs {
    fn encode(&self, e: &mut codec::Encoder<'_>) -> Result<(), codec::EncodeError> {
        e.map_len(1)?;
        e.str("now_ms")?;
        e.uint(self.0)
    }
}

static SIMPLE_FNS: &[HostFn<u64>] = &[HostFn::typed("hello", hello), HostFn::bytes("helloByte", hello_byte)];
static SENSOR_FNS: &[HostFn<u64>] = &[HostFn::typed("now_ms", now_ms)];

fn module(wasm: &[u8]) -> Module {
    Module::new(wasm, &Sha256Hasher.hash(wasm), &Sha256Hasher, EngineConfig::default()).unwrap()
}

/// Records `calls` on a runtime of `wasm` (with `fns` and `limits`) and returns the
/// transcript and each call's result.
fn record(
    wasm: &[u8],
    fns: &'static [HostFn<u64>],
    limits: Limits,
    calls: &[(&str, Vec<u8>)],
) -> (Vec<u8>, Vec<Result<Vec<u8>, String>>) {
    let transcript = SharedBuffer::new();
    let mut rt = Runtime::builder(1_700_000_000_000u64)
        .module(module(wasm))
        .host_fns(fns)
        .limits(limits)
        .logger(|_| {})
        .record(transcript.clone())
        .build()
        .unwrap();
    let results = calls.iter().map(|(op, payload)| rt.invoke(op, payload).map_err(|e| e.to_string())).collect();
    drop(rt);
    (transcript.take(), results)
}

fn echo(data: &str) -> Vec<u8> {
    codec::to_vec(&Echo { data: data.into() }).unwrap()
}

/// A reading for `sensor`'s `validate`, as MessagePack.
fn reading(sensor: &str, celsius: f64, humidity: f64, timestamp_ms: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let e = &mut codec::Encoder::new(&mut out);
    e.map_len(4).unwrap();
    e.str("sensor").unwrap();
    e.str(sensor).unwrap();
    e.str("celsius").unwrap();
    e.f64(celsius).unwrap();
    e.str("humidity").unwrap();
    e.f64(humidity).unwrap();
    e.str("timestamp_ms").unwrap();
    e.uint(timestamp_ms).unwrap();
    out
}

/// Every kind of call `simple` answers: typed through a typed host function (and one
/// that fails), a plugin error, bytes through a byte host function, a loop, an
/// unknown function; then one that runs out of fuel and a call after the reset.
fn simple_calls() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("echo", echo("Steve")),
        ("echo", echo("fail")),
        ("nope", vec![]),
        ("echoByte", b"Steve".to_vec()),
        ("vowel", b"AEIOU aeiou xyz".to_vec()),
        ("missing", vec![]),
        ("vowel", b"abcde".repeat(4000)),
        ("vowel", b"recovered".to_vec()),
    ]
}

fn simple_limits() -> Limits {
    // Enough for every call but the 20 000-byte `vowel`.
    Limits::default().with_fuel(Some(100_000))
}

#[test]
fn a_recorded_runtime_replays_identical_without_its_host() {
    let (transcript, results) = record(SIMPLE, SIMPLE_FNS, simple_limits(), &simple_calls());
    assert_eq!(results[0], Ok(echo("Hello, Steve!")));
    assert!(matches!(&results[1], Err(m) if m.contains("hello refuses")), "{results:?}");
    assert_eq!(results[6], Err("plugin ran out of fuel".into()));
    assert_eq!(results[7], Ok(b"4".to_vec()));
    // No host function is registered for the replay: the transcript answers.
    assert_eq!(replay(&module(SIMPLE), transcript).unwrap(), Verdict::Identical { calls: 8 });
}

#[test]
fn a_response_the_recording_host_had_no_room_for_replays_identical() {
    let transcript = SharedBuffer::new();
    let mut rt =
        Runtime::builder(0u64).module(module(SIMPLE)).host_fns(SIMPLE_FNS).record(transcript.clone()).build().unwrap();
    let mut small = hookr::heapless::Vec::<u8, 8>::new();
    let err = rt.invoke_into("echoByte", b"Steve", &mut small).unwrap_err();
    assert!(matches!(err, Error::TooLarge { len: 12, limit: 8, .. }), "{err:?}");
    rt.invoke_into("echoByte", b"A", &mut small).unwrap();
    drop(rt);
    let transcript = transcript.take();
    assert_eq!(replay(&module(SIMPLE), transcript.clone()).unwrap(), Verdict::Identical { calls: 2 });

    // A plugin that answered another length than the one refused diverges.
    let at = find(&transcript, |r| matches!(r, Record::End { outcome: Outcome::Error { .. }, .. }));
    let shorter = edited(&transcript, at, |r| match r {
        Record::End { fuel, .. } => encoded(&Record::End {
            outcome: Outcome::Error {
                kind: "too_large",
                message: "plugin response (output buffer) of 11 bytes exceeds the limit of 8 bytes",
            },
            fuel,
        }),
        other => encoded(&other),
    });
    let Verdict::Diverged(d) = replay(&module(SIMPLE), shorter).unwrap() else { panic!("identical") };
    assert_eq!((d.call, &*d.what), (1, "how the call ended"));
}

#[test]
fn floats_nan_logs_and_a_typed_clock_replay_identical() {
    let calls = [
        ("validate", reading("greenhouse", 21.5, 40.0, 1_700_000_000_000)),
        ("validate", reading("attic", 120.0, f64::NAN, 1_699_999_880_000)),
        ("validate", reading("cellar", -0.0, f64::INFINITY, 0)),
    ];
    let (transcript, results) = record(SENSOR, SENSOR_FNS, Limits::default(), &calls);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // The second reading logs three alerts: the log lines are in the transcript.
    let mut reader = Reader::new(&transcript).unwrap();
    let mut logs = 0;
    while let Some(record) = reader.next_record().unwrap() {
        logs += usize::from(matches!(record, Record::Log(_)));
    }
    assert!(logs >= 3, "{logs} log lines recorded");
    assert_eq!(replay(&module(SENSOR), transcript).unwrap(), Verdict::Identical { calls: 3 });
}

#[test]
fn clocks_and_randomness_of_the_system_replay_identical() {
    // wasi-demo's `demo` reads the clock and random bytes (keys of a `HashMap`) and
    // prints to stdout and stderr: recorded from the operating system's sources,
    // replayed from the transcript.
    let transcript = SharedBuffer::new();
    let mut rt = Runtime::builder(())
        .bytes(WASI_DEMO)
        .stdout(SharedBuffer::new())
        .stderr(SharedBuffer::new())
        .args(["demo", "--flag"])
        .env([("KEY", "value")])
        .record(transcript.clone())
        .build()
        .unwrap();
    let first = rt.invoke("demo", b"one two two").unwrap();
    let ops = ["demo", "env", "stdin", "unknown", "exit", "demo"];
    for op in ops {
        let _ = rt.invoke(op, b"3");
    }
    drop(rt);
    let bytes = transcript.take();
    let mut reader = Reader::new(&bytes).unwrap();
    assert_eq!(reader.header().args, ["demo", "--flag"]);
    let mut kinds = std::collections::HashSet::new();
    while let Some(record) = reader.next_record().unwrap() {
        kinds.insert(std::mem::discriminant(&record));
    }
    assert!(kinds.len() >= 5, "{kinds:?}");
    assert!(!first.is_empty());
    let module = Module::new(WASI_DEMO, &Sha256Hasher.hash(WASI_DEMO), &Sha256Hasher, EngineConfig::default()).unwrap();
    assert_eq!(replay(&module, bytes).unwrap(), Verdict::Identical { calls: 1 + ops.len() as u64 });
}

/// The transcript with the record at `index` (0 for the first after the header)
/// replaced by `with`.
fn edited(transcript: &[u8], index: usize, with: impl FnOnce(Record<'_>) -> Vec<u8>) -> Vec<u8> {
    let mut reader = Reader::new(transcript).unwrap();
    let mut out = transcript[..reader.position()].to_vec();
    let mut with = Some(with);
    let mut i = 0;
    loop {
        let start = reader.position();
        let Some(record) = reader.next_record().unwrap() else { break };
        if i == index {
            out.extend(with.take().expect("one record is replaced")(record));
        } else {
            out.extend_from_slice(&transcript[start..reader.position()]);
        }
        i += 1;
    }
    out
}

fn encoded(record: &Record<'_>) -> Vec<u8> {
    hookr::transcript::encode(record)
}

/// The index of the first record that `is`.
fn find(transcript: &[u8], is: impl Fn(&Record<'_>) -> bool) -> usize {
    let mut reader = Reader::new(transcript).unwrap();
    let mut i = 0;
    while let Some(record) = reader.next_record().unwrap() {
        if is(&record) {
            return i;
        }
        i += 1;
    }
    panic!("no such record");
}

#[test]
fn the_first_divergence_is_named_with_both_sides() {
    let calls = [("echoByte", b"Steve".to_vec()), ("echoByte", b"Ada".to_vec())];
    let (transcript, _) = record(SIMPLE, SIMPLE_FNS, Limits::default(), &calls);
    let diverged = |bytes: Vec<u8>| match replay(&module(SIMPLE), bytes).unwrap() {
        Verdict::Diverged(d) => d,
        Verdict::Identical { .. } => panic!("no divergence"),
    };

    // The host's recorded reply to the second call says something else: the plugin
    // passes it on, so the response differs from the recorded one.
    let second_host_call = find(&transcript, |r| matches!(r, Record::HostCall { request: b"Ada", .. }));
    let bytes = edited(&transcript, second_host_call, |r| match r {
        Record::HostCall { binding, namespace, op, request, ok, decoded, .. } => {
            encoded(&Record::HostCall { binding, namespace, op, request, ok, reply: b"Bye, Ada", decoded })
        }
        _ => unreachable!(),
    });
    let d = diverged(bytes);
    assert_eq!((d.call, d.op.as_str(), &*d.what), (2, "echoByte", "the response"));
    assert_eq!((d.expected.as_slice(), d.actual.as_slice()), (&b"Hello, Ada"[..], &b"Bye, Ada"[..]));
    let shown = d.to_string();
    assert!(shown.starts_with("call 2 (`echoByte`): the response: expected 10 bytes [48 65 6c"), "{shown}");
    assert!(shown.contains("\"Hello, Ada\""), "{shown}");

    // A recorded fuel figure that is off by one.
    let first_end = find(&transcript, |r| matches!(r, Record::End { .. }));
    let bytes = edited(&transcript, first_end, |r| match r {
        Record::End { outcome, fuel } => encoded(&Record::End { outcome, fuel: fuel.map(|f| f + 1) }),
        _ => unreachable!(),
    });
    let d = diverged(bytes);
    assert_eq!((d.call, &*d.what), (1, "the fuel used"));

    // The recorded request of a host call differs from what the plugin asks.
    let first_host_call = find(&transcript, |r| matches!(r, Record::HostCall { .. }));
    let bytes = edited(&transcript, first_host_call, |r| match r {
        Record::HostCall { binding, namespace, op, ok, reply, decoded, .. } => {
            encoded(&Record::HostCall { binding, namespace, op, request: b"Steven", ok, reply, decoded })
        }
        _ => unreachable!(),
    });
    let d = diverged(bytes);
    assert_eq!(
        (d.call, &*d.what, d.expected.as_slice(), d.actual.as_slice()),
        (1, "the request of the host call", &b"Steven"[..], &b"Steve"[..])
    );

    // A transcript cut after the first call's host call: the plugin goes on where
    // the transcript has nothing.
    let cut = {
        let mut reader = Reader::new(&transcript).unwrap();
        for _ in 0..=first_host_call {
            reader.next_record().unwrap();
        }
        transcript[..reader.position()].to_vec()
    };
    let d = diverged(cut);
    assert!(d.what.contains("after the transcript's end"), "{d}");

    // A replay of an outcome the plugin does not give: a recorded error.
    let bytes = edited(&transcript, first_end, |r| match r {
        Record::End { fuel, .. } => {
            encoded(&Record::End { outcome: Outcome::Error { kind: "plugin", message: "plugin error: no" }, fuel })
        }
        _ => unreachable!(),
    });
    assert_eq!(&*diverged(bytes).what, "how the call ended");
}

#[test]
fn transcripts_of_another_plugin_or_settings_are_refused() {
    let (transcript, _) = record(SIMPLE, SIMPLE_FNS, Limits::default(), &[("vowel", b"a".to_vec())]);
    let err = replay(&module(SENSOR), transcript.clone()).unwrap_err();
    assert!(matches!(&err, Error::Transcript(m) if m.contains("is of the plugin")), "{err}");
    let other = Module::new(SIMPLE, "", &hookr::NoVerify, EngineConfig::default()).unwrap();
    assert!(matches!(replay(&other, transcript.clone()), Err(Error::Config(_))), "no hash to check");
    let hash = Sha256Hasher.hash(SIMPLE);
    let deeper =
        Module::new(SIMPLE, &hash, &Sha256Hasher, EngineConfig::default().with_max_recursion_depth(10)).unwrap();
    assert!(matches!(replay(&deeper, transcript), Err(Error::Config(_))));
}

#[test]
fn settings_that_only_change_ram_replay_the_same_transcript() {
    let (transcript, _) = record(SIMPLE, SIMPLE_FNS, simple_limits(), &simple_calls());
    let hash = Sha256Hasher.hash(SIMPLE);
    for config in [EngineConfig::SMALL, EngineConfig::default().with_min_stack_height(64).with_max_cached_stacks(7)] {
        let small = Module::new(SIMPLE, &hash, &Sha256Hasher, config).unwrap();
        assert_eq!(replay(&small, transcript.clone()).unwrap(), Verdict::Identical { calls: 8 }, "{config:?}");
    }
}

#[test]
fn headers_carry_the_memory_limit_in_bytes() {
    let limits = simple_limits().with_max_memory_bytes(123_457);
    let (transcript, _) = record(SIMPLE, SIMPLE_FNS, limits, &[("vowel", b"a".to_vec())]);
    let header = Reader::new(&transcript).unwrap().header().clone();
    assert_eq!(header.limits.max_memory_bytes, 123_457);
    assert_eq!(header.limits, limits);
    // A header written when the limit was in 64 KiB pages reads as that many bytes.
    let at = transcript.windows(16).position(|w| w == b"max_memory_bytes").unwrap();
    let mut old = transcript.clone();
    old[at..at + 16].copy_from_slice(b"max_memory_pages");
    let header = Reader::new(&old).unwrap().header().clone();
    assert_eq!(header.limits.max_memory_bytes, 123_457 * 65536);
}

#[test]
fn a_sink_that_refuses_the_transcript_fails_the_call() {
    struct Full(usize);
    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if buf.len() > self.0 {
                return Err(std::io::Error::other("full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let build = |room| Runtime::builder(0u64).bytes(SIMPLE).host_fns(SIMPLE_FNS).record(Full(room)).build();
    assert!(matches!(build(10), Err(Error::Host(m)) if m.contains("cannot write the transcript")));
    let mut rt = build(1200).unwrap();
    assert!(rt.invoke("vowel", b"a").is_ok());
    let err = rt.invoke("vowel", &[b'a'; 2000]).unwrap_err();
    assert!(matches!(&err, Error::Host(m) if m.contains("cannot write the transcript")), "{err:?}");
}

#[test]
fn a_sink_that_panics_fails_the_call_not_the_process() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // Panics while armed: inside the host call's import, where the host call's record
    // is written, a panic could not unwind.
    struct Trap(Arc<AtomicBool>);
    impl std::io::Write for Trap {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            assert!(!self.0.load(Ordering::Relaxed), "the sink panics");
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let armed = Arc::new(AtomicBool::new(false));
    let arm = armed.clone();
    // The host function arms the sink: the next write is the host call's record.
    let mut rt = Runtime::builder(0u64)
        .bytes(SIMPLE)
        .host_fn("helloByte", move |_, payload, out| {
            arm.store(true, Ordering::Relaxed);
            out.extend_from_slice(b"Hello, ");
            out.extend_from_slice(payload);
            Ok(())
        })
        .record(Trap(armed.clone()))
        .build()
        .unwrap();
    let err = rt.invoke("echoByte", b"Steve").unwrap_err();
    assert!(matches!(&err, Error::Host(m) if m.contains("cannot write the transcript")), "{err:?}");
    armed.store(false, Ordering::Relaxed);
    assert_eq!(rt.invoke("vowel", b"Steve").unwrap(), b"2");
}

#[test]
fn a_replay_runs_no_more_fuel_than_it_allows() {
    use hookr::transcript::{replay_within, REPLAY_FUEL};
    let calls = [("vowel", b"aeiou".to_vec())];
    // A transcript can give its calls any budget: past the replay's, it is refused
    // before anything runs, unless the replay allows more.
    let (endless, _) = record(SIMPLE, SIMPLE_FNS, Limits::default().with_fuel(Some(u64::MAX)), &calls);
    let err = replay(&module(SIMPLE), endless.clone()).unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("more than this replay allows")), "{err:?}");
    assert_eq!(replay_within(&module(SIMPLE), endless, None).unwrap(), Verdict::Identical { calls: 1 });
    let greedy_init = Limits::default().with_init_fuel(REPLAY_FUEL + 1);
    let (greedy, _) = record(SIMPLE, SIMPLE_FNS, greedy_init, &calls);
    assert!(matches!(replay(&module(SIMPLE), greedy.clone()), Err(Error::Config(_))));
    assert_eq!(replay_within(&module(SIMPLE), greedy, Some(REPLAY_FUEL + 1)).unwrap(), Verdict::Identical { calls: 1 });
    // A transcript recorded unmetered has no bound at all.
    let unmetered =
        Module::new(SIMPLE, &Sha256Hasher.hash(SIMPLE), &Sha256Hasher, EngineConfig::default().with_fuel(false))
            .unwrap();
    let sink = SharedBuffer::new();
    let mut rt = Runtime::builder(0u64)
        .module(unmetered.clone())
        .host_fns(SIMPLE_FNS)
        .unmetered()
        .record(sink.clone())
        .build()
        .unwrap();
    rt.invoke("vowel", b"aeiou").unwrap();
    drop(rt);
    let transcript = sink.take();
    let err = replay(&unmetered, transcript.clone()).unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("unmetered")), "{err:?}");
    assert_eq!(replay_within(&unmetered, transcript, None).unwrap(), Verdict::Identical { calls: 1 });
}

#[test]
fn a_replay_refuses_a_transcript_whose_calls_add_up_past_its_bound() {
    use hookr::transcript::{replay_bounded, REPLAY_TOTAL_FUEL};
    let calls: Vec<_> = (0..3).map(|_| ("vowel", b"aeiou".to_vec())).collect();
    let limits = Limits::default();
    let (transcript, _) = record(SIMPLE, SIMPLE_FNS, limits, &calls);
    // What a replay may take: the calls' recorded fuel, the initialisers' budget for
    // each instantiation (`simple` has none), and one call's budget.
    let call = limits.fuel.unwrap();
    let needed = bound_of(&transcript, &limits, 0);
    let per_call = call.max(limits.init_fuel);
    let replayed = replay_bounded(&module(SIMPLE), transcript.clone(), per_call, needed).unwrap();
    assert_eq!(replayed, Verdict::Identical { calls: 3 });
    let err = replay_bounded(&module(SIMPLE), transcript.clone(), per_call, needed - 1).unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains(&format!("up to {needed} fuel in all"))), "{err:?}");

    // A small transcript that lists call after call, each claiming a whole budget: a
    // replay of it could run for minutes, so the default refuses it before anything
    // runs.
    let header = Reader::new(&transcript).unwrap().position();
    let listing = |calls: u64| {
        let mut bytes = transcript[..header].to_vec();
        bytes.extend(encoded(&Record::Instantiate));
        for _ in 0..calls {
            bytes.extend(encoded(&Record::Call { op: "vowel", request: b"a" }));
            bytes.extend(encoded(&Record::End { outcome: Outcome::Response(b"1"), fuel: Some(call) }));
        }
        bytes
    };
    // The default bound holds one call's budget and 99 more.
    let most = REPLAY_TOTAL_FUEL / call - 1;
    let hostile = listing(most + 1);
    assert!(hostile.len() < 4096, "{} bytes", hostile.len());
    let started = std::time::Instant::now();
    let err = replay(&module(SIMPLE), hostile).unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("in all")), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "refused before anything ran");
    // One call fewer is within the bound: it replays, to its first divergence (the
    // call took less fuel than it claims).
    let Verdict::Diverged(d) = replay(&module(SIMPLE), listing(most)).unwrap() else { panic!("identical") };
    assert_eq!((d.call, &*d.what), (1, "the fuel used"), "{d}");
}

/// What a replay of `transcript` may run, counted as `REPLAY_TOTAL_FUEL` says, for a
/// plugin with `initialisers` initialisers: the calls' recorded fuel, every
/// initialiser's budget for each instantiation, and one call's budget.
fn bound_of(transcript: &[u8], limits: &Limits, initialisers: u64) -> u64 {
    let (mut recorded, mut instantiations) = (0, 0);
    let mut reader = Reader::new(transcript).unwrap();
    while let Some(record) = reader.next_record().unwrap() {
        match record {
            Record::End { fuel, .. } => recorded += fuel.unwrap(),
            Record::Instantiate => instantiations += 1,
            _ => {}
        }
    }
    recorded + instantiations * initialisers * limits.init_fuel + limits.fuel.unwrap()
}

/// A plugin with a start section and three exported initialisers, each spinning 1 000
/// times; a call of a two-byte operation traps, so the next call starts it afresh.
const FOUR_INITIALISERS: &str = r#"(module
  (memory (export "memory") 1)
  (func $spin (local $i i32)
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))
  (start $spin)
  (export "_start" (func $spin))
  (export "_initialize" (func $spin))
  (export "hookr_init" (func $spin))
  (func (export "__plugin_call") (param $op i32) (param i32) (result i32)
    (if (i32.eq (local.get $op) (i32.const 2)) (then unreachable))
    (i32.const 1)))"#;

#[test]
fn a_replay_bound_counts_every_initialiser_of_every_instantiation() {
    use hookr::transcript::replay_bounded;
    let wasm = wat::parse_str(FOUR_INITIALISERS).unwrap();
    let limits = Limits::default().with_init_fuel(1_000_000);
    let calls = [("a", Vec::new()), ("bb", Vec::new()), ("a", Vec::new())];
    let (transcript, results) = record(&wasm, &[], limits, &calls);
    assert!(results[1].is_err(), "{results:?}");
    // Instantiated twice (built, then after the trap), four initialisers each time.
    let needed = bound_of(&transcript, &limits, 4);
    assert!(needed > 8 * limits.init_fuel, "{needed}");
    let per_call = limits.fuel.unwrap();
    let replayed = replay_bounded(&module(&wasm), transcript.clone(), per_call, needed).unwrap();
    assert_eq!(replayed, Verdict::Identical { calls: 3 });
    let err = replay_bounded(&module(&wasm), transcript, per_call, needed - 1).unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains(&format!("up to {needed} fuel in all"))), "{err:?}");
}

#[test]
fn a_header_of_a_great_many_arguments_is_refused_not_allocated() {
    use hookr::transcript::MAX_HEADER_STRINGS;
    // A recording of a runtime with 100 empty arguments and two variables replays.
    let transcript = SharedBuffer::new();
    let mut rt = Runtime::builder(1_700_000_000_000u64)
        .module(module(SIMPLE))
        .host_fns(SIMPLE_FNS)
        .args(vec![""; 100])
        .env([("A", "1"), ("B", "2")])
        .record(transcript.clone())
        .build()
        .unwrap();
    rt.invoke("vowel", b"aeiou").unwrap();
    drop(rt);
    let recorded = transcript.take();
    assert_eq!(Reader::new(&recorded).unwrap().header().args.len(), 100);
    assert_eq!(replay(&module(SIMPLE), recorded.clone()).unwrap(), Verdict::Identical { calls: 1 });

    // The same header claiming 3 million empty arguments: 3 MB on the wire, 72 MB as
    // `String`s. It is refused once its strings pass the bound, as is its replay.
    let at = recorded.windows(8).position(|w| w == b"\xa4args\xdc\x00\x64").unwrap() + 5;
    let mut hostile = recorded[..at].to_vec();
    hostile.push(0xdd);
    hostile.extend(3_000_000u32.to_be_bytes());
    hostile.resize(hostile.len() + 3_000_000, 0xa0);
    hostile.extend(&recorded[at + 3 + 100..]);
    let err = Reader::new(&hostile).unwrap_err();
    assert!(matches!(&err, Error::Transcript(m) if m.contains("over MAX_HEADER_STRINGS")), "{err:?}");
    let err = replay(&module(SIMPLE), hostile).unwrap_err();
    assert!(matches!(err, Error::Transcript(_)), "{err:?}");

    // A runtime given more than a header may hold cannot start recording.
    let err = Runtime::builder(0u64)
        .module(module(SIMPLE))
        .args(vec!["x".repeat(1 << 20); 2])
        .record(SharedBuffer::new())
        .build()
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::TooLarge { len, limit: MAX_HEADER_STRINGS, .. } if len > MAX_HEADER_STRINGS),
        "{err:?}"
    );
}

/// A plugin whose calls hand the host function `h` the 64 KiB at address 0 as many
/// times as the payload's first byte says, then read the clock 10 000 times.
const RECORD_HEAVY: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__host_call" (func $hcall (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 70000) "h")
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32) (local $i i32) (local $n i32)
    (call $req (i32.const 70100) (i32.const 70200))
    (local.set $n (i32.load8_u (i32.const 70200)))
    (block $done (loop $calls
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (drop (call $hcall (i32.const 70000) (i32.const 1) (i32.const 0) (i32.const 65536)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $calls)))
    (local.set $i (i32.const 0))
    (loop $reads
      (drop (call $clock (i32.const 1) (i64.const 0) (i32.const 70300)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $reads (i32.lt_u (local.get $i) (i32.const 10000))))
    (i32.const 1)))"#;

/// A sink that keeps what it is given and counts the writes.
#[derive(Clone, Default)]
struct CountingSink(std::sync::Arc<std::sync::Mutex<(Vec<u8>, usize)>>);

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut kept = self.0.lock().unwrap();
        kept.0.extend_from_slice(buf);
        kept.1 += 1;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn records_reach_the_sink_in_batches_and_a_call_records_within_its_bound() {
    let wasm = wat::parse_str(RECORD_HEAVY).unwrap();
    let sink = CountingSink::default();
    let limits = Limits::default().with_max_recorded_per_call(1 << 20);
    let mut rt = Runtime::builder(())
        .module(module(&wasm))
        .limits(limits)
        .host_fn("h", |_: &mut (), _, _| Ok(()))
        .record(sink.clone())
        .build()
        .unwrap();
    // 10 000 clock reads and two host calls: about 220 KB of records, written in a
    // handful of writes, all there by the end of the call.
    let writes = sink.0.lock().unwrap().1;
    rt.invoke("x", &[2]).unwrap();
    let (len, after) = {
        let kept = sink.0.lock().unwrap();
        (kept.0.len(), kept.1)
    };
    assert!(len > 10_000 * 8 + 2 * 65536, "{len}");
    assert!(after - writes <= len / (64 << 10) + 2, "{} writes for {len} bytes", after - writes);
    // Host calls of 64 KiB, 100 times: past the 1 MiB bound, the rest goes unrecorded
    // and the call fails, after running to its end.
    let err = rt.invoke("x", &[100]).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { what: "the transcript of one call", len, limit: 1_048_576 } if len > 1 << 20),
        "{err:?}"
    );
    let grew = sink.0.lock().unwrap().0.len() - len;
    assert!(grew <= 1 << 20, "{grew} bytes recorded for the call");
    // The runtime goes on, and records its next call.
    rt.invoke("x", &[1]).unwrap();
    drop(rt);
    let recorded = sink.0.lock().unwrap().0.clone();
    let calls = Reader::new(&recorded).map(|mut r| {
        let mut calls = 0;
        while let Some(record) = r.next_record().unwrap() {
            calls += usize::from(matches!(record, Record::Call { .. }));
        }
        calls
    });
    assert_eq!(calls.unwrap(), 3);
    // A replay runs the calls before the cut, then says why it stops.
    let err = replay(&module(&wasm), recorded).unwrap_err();
    assert!(
        matches!(&err, Error::Transcript(m) if m.contains("cut after its call 1 (the transcript of one call")),
        "{err:?}"
    );
    // A bound of 0 records nothing: refused.
    let err = Runtime::builder(()).module(module(&wasm)).limits(limits.with_max_recorded_per_call(0)).build().err();
    assert!(matches!(err, Some(Error::Config(_))), "{err:?}");
}

/// A plugin whose `hookr_init` reads the clock as many times as the host function `n`
/// answers; a call of a two-byte operation traps.
const CLOCK_READING_INIT: &str = r#"(module
  (import "hookr" "__host_call" (func $hcall (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__host_response" (func $hr (param i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "n")
  (func (export "hookr_init") (local $i i32) (local $n i32)
    (drop (call $hcall (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)))
    (call $hr (i32.const 16))
    (local.set $n (i32.load (i32.const 16)))
    (block $done (loop $reads
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (drop (call $clock (i32.const 1) (i64.const 0) (i32.const 32)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $reads))))
  (func (export "__plugin_call") (param $op i32) (param i32) (result i32)
    (if (i32.eq (local.get $op) (i32.const 2)) (then unreachable))
    (i32.const 1)))"#;

#[test]
fn instantiations_record_within_the_bound_and_reach_the_sink_when_done() {
    let wasm = wat::parse_str(CLOCK_READING_INIT).unwrap();
    // The initialiser reads the clock 10 times, then 1 000, 10, 1 000, 10, …
    let runtime = |first: u32, sink: &SharedBuffer| {
        Runtime::builder(first)
            .module(module(&wasm))
            .limits(Limits::default().with_max_recorded_per_call(4000))
            .host_fn("n", |n: &mut u32, _, out| {
                out.extend_from_slice(&(if n.is_multiple_of(2) { 10u32 } else { 1000 }).to_le_bytes());
                *n += 1;
                Ok(())
            })
            .record(sink.clone())
            .build()
    };
    let sink = SharedBuffer::new();
    let mut rt = runtime(0, &sink).unwrap();
    // Built: the instantiation is in the sink, and replays as a transcript of no calls.
    let built = sink.take();
    assert_eq!(replay(&module(&wasm), built.clone()).unwrap(), Verdict::Identical { calls: 0 });
    std::io::Write::write_all(&mut sink.clone(), &built).unwrap();
    rt.invoke("a", b"").unwrap();
    // An explicit reset past the bound fails, and leaves a working runtime.
    let too_large =
        |e: &Error| matches!(e, Error::TooLarge { what: "the transcript of one instantiation", limit: 4000, .. });
    let err = rt.reset().unwrap_err();
    assert!(too_large(&err), "{err:?}");
    rt.invoke("a", b"").unwrap();
    // A restart within a call: within the bound, then past it, which fails the call.
    assert!(rt.invoke("bb", b"").is_err());
    rt.invoke("a", b"").unwrap();
    assert!(rt.invoke("bb", b"").is_err());
    let err = rt.invoke("a", b"").unwrap_err();
    assert!(too_large(&err), "{err:?}");
    assert!(rt.last_call_failed());
    rt.invoke("a", b"").unwrap();
    drop(rt);
    // The reset was cut after call 1: that call replays, and the replay stops there.
    let err = replay(&module(&wasm), sink.take()).unwrap_err();
    assert!(matches!(&err, Error::Transcript(m) if m.contains("cut after its call 1 (")), "{err:?}");
    // A first instantiation past the bound: the runtime is not built.
    let err = runtime(1, &sink).err().unwrap();
    assert!(too_large(&err), "{err:?}");
    let err = replay(&module(&wasm), sink.take()).unwrap_err();
    assert!(matches!(&err, Error::Transcript(m) if m.contains("before its first whole call")), "{err:?}");
}

/// A plugin whose `hookr_init` fails when the host function `init` does; a call with
/// a payload of 1 traps.
const FAILING_INIT: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__host_call" (func $hcall (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "init")
  (func (export "hookr_init")
    (if (i32.eqz (call $hcall (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0))) (then unreachable)))
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 100) (i32.const 200))
    (if (i32.eq (i32.load8_u (i32.const 200)) (i32.const 1)) (then unreachable))
    (i32.const 1)))"#;

#[test]
fn a_call_whose_restart_fails_is_recorded_and_replays_identical() {
    let wasm = wat::parse_str(FAILING_INIT).unwrap();
    let sink = SharedBuffer::new();
    // The initialiser's host call succeeds the first and fourth time.
    let mut rt = Runtime::builder(0u32)
        .module(module(&wasm))
        .host_fn("init", |n: &mut u32, _, _| {
            *n += 1;
            if *n == 1 || *n == 4 {
                Ok(())
            } else {
                Err(HostError::new("not now"))
            }
        })
        .record(sink.clone())
        .build()
        .unwrap();
    assert!(matches!(rt.invoke("x", &[1]), Err(Error::Trap(_))));
    for _ in 0..2 {
        let err = rt.invoke("x", &[0]).unwrap_err();
        assert!(matches!(&err, Error::Init { name: "hookr_init", .. }), "{err:?}");
        assert!(rt.last_call_failed());
    }
    rt.invoke("x", &[0]).unwrap();
    drop(rt);
    assert_eq!(replay(&module(&wasm), sink.take()).unwrap(), Verdict::Identical { calls: 4 });
}

#[test]
fn a_replay_that_diverges_in_a_restart_says_where() {
    let wasm = wat::parse_str(FAILING_INIT).unwrap();
    let sink = SharedBuffer::new();
    let mut rt = Runtime::builder(())
        .module(module(&wasm))
        .host_fn("init", |_: &mut (), _, _| Ok(()))
        .record(sink.clone())
        .build()
        .unwrap();
    assert!(rt.invoke("x", &[1]).is_err());
    rt.invoke("x", &[0]).unwrap();
    drop(rt);
    let mut transcript = sink.take();
    assert_eq!(replay(&module(&wasm), transcript.clone()).unwrap(), Verdict::Identical { calls: 2 });
    // The restart's host call named otherwise: the replay diverges in call 2's restart.
    let at = transcript.windows(4).rposition(|w| w == b"init").unwrap();
    transcript[at + 3] = b'x';
    let Verdict::Diverged(d) = replay(&module(&wasm), transcript).unwrap() else { panic!("identical") };
    assert_eq!(d.call, 2, "{d}");
    assert!(d.what.contains("host function"), "{d}");
}

#[test]
fn typed_host_calls_replay_with_the_fuel_their_decoding_cost() {
    let wasm = wat::parse_str(common::TYPED_HOST_LOOP).unwrap();
    let mut unpaid = 0;
    // Budgets that run out at every point of a host call: moving the request, paying
    // for its decoding, or in between.
    for extra in (0..70_000).step_by(7_001) {
        let sink = SharedBuffer::new();
        let limits = Limits::default().with_fuel(Some(1_000_000 + extra));
        let mut rt = Runtime::builder(())
            .module(module(&wasm))
            .limits(limits)
            .host_fn_typed("h", |_: &mut (), zeros: Vec<u32>| Ok(zeros.len() as u32))
            .record(sink.clone())
            .build()
            .unwrap();
        assert!(matches!(rt.invoke("x", b""), Err(Error::OutOfFuel)));
        drop(rt);
        let transcript = sink.take();
        let mut reader = Reader::new(&transcript).unwrap();
        let mut last = None;
        while let Some(record) = reader.next_record().unwrap() {
            if let Record::HostCall { ok, decoded, reply, .. } = record {
                assert!(decoded);
                last = Some((ok, reply.is_empty()));
            }
        }
        // A call that could not pay for decoding is recorded with nothing in reply.
        if last == Some((false, true)) {
            unpaid += 1;
        }
        assert_eq!(replay(&module(&wasm), transcript).unwrap(), Verdict::Identical { calls: 1 }, "{extra}");
    }
    assert!(unpaid > 0, "no budget ran out while paying for a decode");
}

#[test]
fn hostile_transcripts_are_errors_never_panics() {
    let calls = [("echo", echo("Steve")), ("vowel", b"abc".to_vec())];
    let (transcript, _) = record(SIMPLE, SIMPLE_FNS, Limits::default(), &calls);
    let simple = module(SIMPLE);
    // Cut at every length: an error; a divergence where it ends between two records of
    // a call; the transcript of fewer calls where it ends between two calls.
    for len in 0..transcript.len() {
        match replay(&simple, transcript[..len].to_vec()) {
            Err(Error::Transcript(_)) | Ok(Verdict::Diverged(_)) => {}
            Ok(Verdict::Identical { calls }) if calls < 2 => {}
            other => panic!("cut at {len}: {other:?}"),
        }
    }
    // Every bit flipped in turn (a sample of positions to stay quick).
    let mut random = SeededRandom::new(7);
    for i in (0..transcript.len()).step_by(3) {
        let mut bytes = transcript.clone();
        let mut bit = [0u8; 1];
        hookr::io::RandomSource::fill(&mut random, &mut bit);
        bytes[i] ^= 1 << (bit[0] % 8);
        match replay(&simple, bytes) {
            Err(Error::Transcript(_) | Error::Config(_)) | Ok(Verdict::Diverged(_)) => {}
            // A flip in bytes a record never compares (a string's unused capacity)
            // can leave it identical; anything else must be noticed.
            Ok(Verdict::Identical { .. }) => {}
            Err(other) => panic!("flip at {i}: {other:?}"),
        }
    }
    // Lengths far beyond the transcript, and trailing garbage.
    let header_end = Reader::new(&transcript).unwrap().position();
    for tail in
        [&[0x92, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff][..], &[0xdd, 0xff, 0xff, 0xff, 0xff], &[0xc1], &[0x91, 0x09]]
    {
        let bytes = [&transcript[..header_end], tail].concat();
        assert!(matches!(replay(&simple, bytes), Err(Error::Transcript(_))), "{tail:02x?}");
    }
    assert!(matches!(Reader::new(b"\x81\xa6format\xa4nope"), Err(Error::Transcript(_))));
    assert!(matches!(Reader::new(&[]), Err(Error::Transcript(_))));
}

#[cfg(feature = "cli")]
#[test]
fn the_cli_records_replays_and_shows_transcripts() {
    use std::process::Command;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-transcript-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (simple, sensor) = (dir.join("simple.wasm"), dir.join("sensor.wasm"));
    std::fs::write(&simple, SIMPLE).unwrap();
    std::fs::write(&sensor, SENSOR).unwrap();
    let hookr = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hookr")).args(args).output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let transcript = dir.join("echo.hrt");
    let (status, out, _) =
        hookr(&["invoke", &path(&simple), "echo", r#"{"data":"Steve"}"#, "--msgpack", "--record", &path(&transcript)]);
    // The CLI has no host functions: `hello` fails, and so does the call; all recorded.
    assert_eq!(status, 1, "{out}");
    let (status, out, err) = hookr(&["replay", &path(&simple), &path(&transcript)]);
    assert_eq!((status, out.as_str()), (0, "identical: 1 call\n"), "{err}");
    let (status, shown, _) = hookr(&["transcript", &path(&transcript)]);
    assert_eq!(status, 0);
    assert!(shown.contains(r#"call 1 "echo"  msgpack {"data":"Steve"}"#), "{shown}");
    assert!(shown.contains(r#"host "hello"  msgpack {"msg":"Steve"}  -> error "no handler registered"#), "{shown}");
    // Another plugin, a tampered transcript, and not a transcript at all.
    let (status, _, err) = hookr(&["replay", &path(&sensor), &path(&transcript)]);
    assert_eq!(status, 3, "{err}");
    assert!(err.contains("is not the plugin the transcript was recorded from"), "{err}");
    let bytes = std::fs::read(&transcript).unwrap();
    let end = find(&bytes, |r| matches!(r, Record::End { .. }));
    let tampered = dir.join("tampered.hrt");
    std::fs::write(
        &tampered,
        edited(&bytes, end, |r| match r {
            Record::End { outcome, .. } => encoded(&Record::End { outcome, fuel: Some(1) }),
            _ => unreachable!(),
        }),
    )
    .unwrap();
    let (status, _, err) = hookr(&["replay", &path(&simple), &path(&tampered)]);
    assert_eq!(status, 1, "{err}");
    assert!(err.starts_with("hookr: replay diverged: call 1 (`echo`): the fuel used: expected"), "{err}");
    let (status, _, err) = hookr(&["replay", &path(&simple), &path(&simple)]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("is not a transcript hookr reads"), "{err}");
    // A transcript whose calls may run longer than the replay allows.
    let (status, _, err) = hookr(&["replay", &path(&simple), &path(&transcript), "--max-fuel", "1000"]);
    assert_eq!(status, 3, "{err}");
    assert!(err.contains("more than this replay allows (1000)"), "{err}");
    let (status, _, err) = hookr(&["replay", &path(&simple), &path(&transcript), "--max-total-fuel", "1000"]);
    assert_eq!(status, 3, "{err}");
    assert!(err.contains("fuel in all, more than this replay allows (1000)"), "{err}");
    let (status, out, err) = hookr(&["replay", &path(&simple), &path(&transcript), "--any-fuel"]);
    assert_eq!((status, out.as_str()), (0, "identical: 1 call\n"), "{err}");
}

#[test]
fn wapc_host_calls_replay_with_their_binding_and_namespace() {
    static WAPC: &[u8] = include_bytes!("../targets/plugins/wapc-demo/wapc-demo.wasm");
    let transcript = SharedBuffer::new();
    let hello: HostFn<()> = HostFn::bytes("hello", |_, payload, out| {
        out.extend_from_slice(b"Hello from the demo binding, ");
        out.extend_from_slice(payload);
        Ok(())
    })
    .with_binding("demo")
    .with_namespace("greetings");
    let table: &'static [HostFn<()>] = Box::leak(Box::new([hello]));
    let mut rt =
        Runtime::builder(()).bytes(WAPC).host_fns(table).logger(|_| {}).record(transcript.clone()).build().unwrap();
    assert_eq!(rt.invoke("greet", b"Steve").unwrap(), b"Hello from the demo binding, Steve");
    assert!(rt.invoke("ask_missing", b"").is_err());
    assert!(rt.invoke("trap", b"").is_err());
    assert_eq!(rt.invoke("count", b"").unwrap(), b"1");
    drop(rt);
    let bytes = transcript.take();
    let mut reader = Reader::new(&bytes).unwrap();
    let mut named = false;
    while let Some(record) = reader.next_record().unwrap() {
        if let Record::HostCall { binding, namespace, op, .. } = record {
            named |= (binding, namespace, op) == (&b"demo"[..], &b"greetings"[..], &b"hello"[..]);
        }
    }
    assert!(named, "the host call's binding and namespace are recorded");
    assert_eq!(replay(&module(WAPC), bytes).unwrap(), Verdict::Identical { calls: 4 });
}

/// Calls the host function `part` and answers what the guest then reads: whether it
/// succeeded, `__host_response_len` and `__host_error_len` (4 LE bytes each).
const FAILED_REPLY: &str = r#"(module
  (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__host_response_len" (func $rlen (result i32)))
  (import "hookr" "__host_error_len" (func $elen (result i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "part")
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (i32.store (i32.const 64) (call $call (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0)))
    (i32.store (i32.const 68) (call $rlen))
    (i32.store (i32.const 72) (call $elen))
    (call $resp (i32.const 64) (i32.const 12))
    (i32.const 1)))"#;

#[test]
fn a_failed_host_function_leaves_no_reply_and_replays_identical() {
    let wasm = common::wasm(FAILED_REPLY);
    let transcript = SharedBuffer::new();
    let mut rt = Runtime::builder(())
        .bytes(&wasm)
        .host_fn("part", |_, _, out| {
            // Half a reply, then a failure: the guest gets the error alone.
            out.extend_from_slice(b"partial");
            Err(HostError::new("nope"))
        })
        .record(transcript.clone())
        .build()
        .unwrap();
    let seen = |ok: u32, response: u32, error: u32| [ok, response, error].map(u32::to_le_bytes).concat();
    assert_eq!(rt.invoke("x", b"").unwrap(), seen(0, 0, 4));
    assert_eq!(rt.invoke("x", b"").unwrap(), seen(0, 0, 4), "the next call sees the same");
    drop(rt);
    assert_eq!(replay(&module(&wasm), transcript.take()).unwrap(), Verdict::Identical { calls: 2 });
}
