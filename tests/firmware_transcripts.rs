//! The transcripts the firmware replays under QEMU (`targets/firmware/transcripts/`)
//! are recorded here, on the host, from `simple` and `sensor`: recorded afresh, each
//! must be byte for byte the committed one (so the host side is deterministic), and it
//! must replay identical here too. `UPDATE_TRANSCRIPTS=1 cargo test --test
//! firmware_transcripts` writes them anew after a plugin changed.

use std::path::Path;

use hookr::codec::{Decoder, Encoder};
use hookr::io::SharedBuffer;
use hookr::transcript::{replay, Outcome, Reader, Record, Verdict};
use hookr::{EngineConfig, Hasher, HostError, HostFn, Limits, Module, Runtime, Sha256Hasher};

static SIMPLE: &[u8] = include_bytes!("../targets/plugins/simple/simple.wasm");
static SENSOR: &[u8] = include_bytes!("../targets/plugins/sensor/sensor.wasm");

/// Writes one MessagePack value.
type Write<'a> = &'a dyn Fn(&mut Encoder<'_>);

/// A MessagePack map of string keys to values written by `write`.
fn map(fields: &[(&str, Write<'_>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let e = &mut Encoder::new(&mut out);
    e.map_len(fields.len()).unwrap();
    for (key, write) in fields {
        e.str(key).unwrap();
        write(e);
    }
    out
}

fn str_field(v: &'static str) -> impl Fn(&mut Encoder<'_>) {
    move |e| e.str(v).unwrap()
}

fn f64_field(v: f64) -> impl Fn(&mut Encoder<'_>) {
    move |e| e.f64(v).unwrap()
}

fn u64_field(v: u64) -> impl Fn(&mut Encoder<'_>) {
    move |e| e.uint(v).unwrap()
}

/// `simple`'s host functions: `hello` greets (and refuses `fail`), `helloByte` greets.
fn hello(_: &mut u64, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    let mut d = Decoder::new(payload);
    let mut msg = String::new();
    d.fields(&["msg"], |d, f| {
        match f {
            Some(0) => msg = d.string()?,
            _ => d.skip()?,
        }
        Ok(())
    })
    .map_err(|e| HostError::from(e.to_string()))?;
    if msg == "fail" {
        return Err(HostError::new("hello refuses to greet fail"));
    }
    let greeting = format!("Hello, {msg}!");
    out.extend(map(&[("msg", &|e: &mut Encoder<'_>| e.str(&greeting).unwrap())]));
    Ok(())
}

fn hello_byte(_: &mut u64, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(payload);
    Ok(())
}

/// `sensor`'s clock: milliseconds, a second more each read.
fn now_ms(clock: &mut u64, _: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    *clock += 1000;
    out.extend(map(&[("now_ms", &u64_field(*clock))]));
    Ok(())
}

static SIMPLE_FNS: &[HostFn<u64>] = &[HostFn::bytes("hello", hello), HostFn::bytes("helloByte", hello_byte)];
static SENSOR_FNS: &[HostFn<u64>] = &[HostFn::bytes("now_ms", now_ms)];

const T: u64 = 1_700_000_000_000;

fn reading(sensor: &'static str, celsius: f64, humidity: f64, timestamp_ms: u64) -> Vec<u8> {
    map(&[
        ("sensor", &str_field(sensor)),
        ("celsius", &f64_field(celsius)),
        ("humidity", &f64_field(humidity)),
        ("timestamp_ms", &u64_field(timestamp_ms)),
    ])
}

/// A plugin, its host functions, its limits and the calls made to it.
type Scenario = (&'static [u8], &'static [HostFn<u64>], Limits, Vec<(&'static str, Vec<u8>)>);

/// What each plugin is asked: every kind of call, with typed host calls, host
/// errors, floats (NaN, infinities, -0.0), log lines, a call out of fuel and the reset
/// after it.
fn scenario(name: &str) -> Scenario {
    let echo = |data: &'static str| map(&[("data", &str_field(data))]);
    match name {
        "simple" => (
            SIMPLE,
            SIMPLE_FNS,
            // Enough for every call but the 4 000-byte `vowel` (a payload the plugin's
            // memory holds without growing, on the device too).
            Limits::default().with_fuel(Some(25_000)),
            vec![
                ("echo", echo("Steve")),
                ("echo", echo("fail")),
                ("nope", vec![]),
                ("echoByte", b"Steve".to_vec()),
                ("vowel", b"AEIOU aeiou xyz".to_vec()),
                ("missing", vec![]),
                ("vowel", b"abcde".repeat(800)),
                ("vowel", b"recovered".to_vec()),
            ],
        ),
        _ => {
            let batch = {
                let readings = [
                    reading("a", 20.0, 50.0, T),
                    reading("b", f64::NAN, -1.0, T),
                    reading("c", 1e300, 99.9, T + 9_000),
                ];
                let mut out = Vec::new();
                let e = &mut Encoder::new(&mut out);
                e.map_len(1).unwrap();
                e.str("readings").unwrap();
                e.array_len(readings.len()).unwrap();
                readings.iter().for_each(|r| e.raw(r));
                out
            };
            (
                SENSOR,
                SENSOR_FNS,
                Limits::default(),
                vec![
                    ("validate", reading("greenhouse", 21.5, 40.0, T)),
                    ("validate", reading("attic", 120.0, f64::NAN, T - 120_000)),
                    ("validate", reading("cellar", -0.0, f64::INFINITY, T)),
                    ("validate_batch", batch),
                    ("configure", map(&[("max_celsius", &f64_field(30.5))])),
                    ("validate", reading("desk", 31.0, 45.5, T + 5_000)),
                    ("configure", map(&[("min_celsius", &f64_field(f64::NAN))])),
                    ("validate", b"\xc1 not msgpack".to_vec()),
                ],
            )
        }
    }
}

fn record(name: &str) -> Vec<u8> {
    let (wasm, fns, limits, calls) = scenario(name);
    let transcript = SharedBuffer::new();
    let mut rt = Runtime::builder(T)
        .bytes(wasm)
        .hash(&Sha256Hasher.hash(wasm))
        .hasher(Sha256Hasher)
        .host_fns(fns)
        .limits(limits)
        .deterministic()
        .logger(|_| {})
        .record(transcript.clone())
        .build()
        .unwrap();
    for (op, payload) in calls {
        let _ = rt.invoke(op, &payload);
    }
    drop(rt);
    transcript.take()
}

#[test]
fn committed_transcripts_are_what_the_host_records_and_they_replay_identical() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/firmware/transcripts");
    let update = std::env::var_os("UPDATE_TRANSCRIPTS").is_some();
    for name in ["simple", "sensor"] {
        let recorded = record(name);
        assert_eq!(record(name), recorded, "{name}: two recordings differ");
        let path = dir.join(format!("{name}.hrt"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &recorded).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == recorded,
            "{} differs from a recording made now: if a plugin changed, run UPDATE_TRANSCRIPTS=1 cargo test --test firmware_transcripts and commit it",
            path.display()
        );
        let (wasm, _, _, calls) = scenario(name);
        let module = Module::new(wasm, &Sha256Hasher.hash(wasm), &Sha256Hasher, EngineConfig::default()).unwrap();
        assert_eq!(replay(&module, committed).unwrap(), Verdict::Identical { calls: calls.len() as u64 }, "{name}");
    }
    // What the firmware is to prove is in them: a call out of fuel, typed host calls
    // and their errors, and log lines.
    let kinds = |name: &str| {
        let bytes = std::fs::read(dir.join(format!("{name}.hrt"))).unwrap();
        let mut reader = Reader::new(&bytes).unwrap();
        let mut seen = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            seen.push(match record {
                Record::End { outcome: Outcome::Error { kind, .. }, .. } => kind.to_string(),
                Record::HostCall { ok, .. } => format!("host call ok={ok}"),
                Record::Log(_) => "log".into(),
                _ => "other".into(),
            });
        }
        seen
    };
    let simple = kinds("simple");
    for kind in ["out_of_fuel", "plugin", "host call ok=true", "host call ok=false"] {
        assert!(simple.iter().any(|k| k == kind), "simple: no {kind}");
    }
    assert!(kinds("sensor").iter().filter(|k| *k == "log").count() >= 5);
}
