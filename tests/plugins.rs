//! The Rust plugins in `targets/plugins`, built with the guest kit, run end to end
//! through the host: every function, host errors, unknown functions, empty and 1 MiB
//! payloads. CI runs this against plugins rebuilt from source.

mod common;

extern crate alloc;

use hookr::codec;
use hookr::{Error, HostError, HostFn, Runtime, Serde};
use serde::{Deserialize, Serialize};

/// The `simple` plugin's message types, shared with its source.
#[path = "../targets/plugins/simple/src/messages.rs"]
mod messages;
use messages::{Echo, Hello};

static SIMPLE: &[u8] = include_bytes!("../targets/plugins/simple/simple.wasm");
static SENSOR: &[u8] = include_bytes!("../targets/plugins/sensor/sensor.wasm");

#[derive(Default)]
struct Host {
    calls: Vec<&'static str>,
}

fn hello(host: &mut Host, req: Hello) -> Result<Hello, HostError> {
    host.calls.push("hello");
    if req.msg == "fail" {
        return Err(HostError::new("hello refuses to greet fail"));
    }
    Ok(Hello { msg: format!("Hello, {}!", req.msg) })
}

fn hello_byte(host: &mut Host, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    host.calls.push("helloByte");
    if payload == b"fail" {
        return Err(HostError::new("helloByte refuses"));
    }
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(payload);
    Ok(())
}

static HOST_FNS: &[HostFn<Host>] = &[HostFn::typed("hello", hello), HostFn::bytes("helloByte", hello_byte)];

fn simple() -> Runtime<Host> {
    let hash = hookr::to_hex(&hookr::sha256(SIMPLE));
    Runtime::builder(Host::default())
        .bytes(SIMPLE)
        .hash(&hash)
        .hasher(hookr::Sha256Hasher)
        .host_fns(HOST_FNS)
        .logger(|_| {})
        .build()
        .unwrap()
}

#[test]
fn simple_asks_for_what_it_needs_in_one_byte_pages() {
    let rt = simple();
    // Its 1 KiB stack, its static data and 3 KiB of heap (targets/plugins/simple/Cargo.toml).
    assert_eq!(rt.module().memory_page_size(), 1);
    assert!((4 << 10..8 << 10).contains(&rt.memory_size()), "{}", rt.memory_size());
}

#[test]
fn the_guest_kit_keeps_core_fmt_out_of_simple() {
    // `simple` formats nothing: with the kit's messages written without `core::fmt`
    // it is about 17.5 KB. Formatting code pulled in by any path (a `to_string()` on an
    // error, a `format!`) adds 3 KB or more, and shows here first.
    assert!(SIMPLE.len() < 18 << 10, "simple.wasm is {} bytes", SIMPLE.len());
}

#[test]
fn echo_goes_through_the_typed_host_function() {
    let mut rt = simple();
    let echo = rt.plugin_fn::<Echo, Echo>("echo");
    assert_eq!(echo.call(&mut rt, &Echo { data: "Steve".into() }).unwrap().data, "Hello, Steve!");
    assert_eq!(echo.call(&mut rt, &Echo { data: String::new() }).unwrap().data, "Hello, !");
    // The request the plugin sent was the msgp map `{"msg": "Steve"}`.
    assert_eq!(rt.state().calls, ["hello", "hello"]);
    // Raw bytes the msgp way give the same answer.
    assert_eq!(rt.invoke("echo", b"\x81\xa4data\xa3Bob").unwrap(), b"\x81\xa4data\xabHello, Bob!");
}

#[test]
fn nope_fails_as_planned() {
    let err = simple().invoke("nope", b"").unwrap_err();
    assert!(matches!(&err, Error::Plugin(m) if &**m == "planned Failure"), "{err:?}");
}

#[test]
fn echo_byte_returns_the_host_reply() {
    let mut rt = simple();
    assert_eq!(rt.invoke("echoByte", b"Steve").unwrap(), b"Hello, Steve");
    assert_eq!(rt.invoke("echoByte", b"").unwrap(), b"Hello, ");
    assert_eq!(rt.state().calls, ["helloByte", "helloByte"]);
}

#[test]
fn vowel_counts_ascii_vowels() {
    let mut rt = simple();
    assert_eq!(rt.invoke("vowel", b"hello").unwrap(), b"2");
    assert_eq!(rt.invoke("vowel", b"AEIOU aeiou xyz").unwrap(), b"10");
    assert_eq!(rt.invoke("vowel", b"").unwrap(), b"0");
    assert_eq!(rt.invoke("vowel", "é ü".as_bytes()).unwrap(), b"0");
}

#[test]
fn host_errors_reach_the_caller() {
    let mut rt = simple();
    let err = rt.invoke("echoByte", b"fail").unwrap_err();
    assert!(err.to_string().contains("helloByte refuses"), "{err}");
    let err = rt.call::<_, Echo>("echo", &Echo { data: "fail".into() }).unwrap_err();
    assert!(err.to_string().contains("hello refuses to greet fail"), "{err}");
    // Without host functions, the plugin reports the missing handler.
    let mut bare = Runtime::builder(()).bytes(SIMPLE).logger(|_| {}).build().unwrap();
    let err = bare.invoke("echoByte", b"x").unwrap_err();
    assert!(err.to_string().contains("no handler registered for operation 'helloByte'"), "{err}");
    assert_eq!(rt.invoke("vowel", b"still works").unwrap(), b"2");
}

#[test]
fn unknown_functions_are_named() {
    let mut rt = simple();
    let err = rt.invoke("missing", b"").unwrap_err();
    assert_eq!(err.to_string(), r#"plugin error: Could not find function "missing""#);
    let err = rt.invoke("", b"").unwrap_err();
    assert!(matches!(err, Error::Plugin(_)), "{err:?}");
    // A huge name is cut in the message, so the message stays under the error limit.
    let long = "x".repeat(100_000);
    let err = rt.invoke(&long, b"").unwrap_err();
    assert_eq!(err.to_string(), format!("plugin error: Could not find function \"{}…\"", &long[..128]));
}

#[test]
fn one_mebibyte_payloads_pass_both_ways() {
    let mut rt = simple();
    let big: Vec<u8> = b"abcde".iter().copied().cycle().take(1 << 20).collect();
    let vowels = big.iter().filter(|b| b"aeiou".contains(b)).count();
    assert_eq!(rt.invoke("vowel", &big).unwrap(), vowels.to_string().as_bytes());
    let reply = rt.invoke("echoByte", &big).unwrap();
    assert_eq!(reply.len(), big.len() + 7);
    assert_eq!(&reply[7..], &big[..]);
    // The guest grew its memory to hold them.
    assert!(rt.memory_size() > 2 << 20);
}

#[derive(Serialize)]
struct Reading<'a> {
    sensor: &'a str,
    celsius: f64,
    humidity: f64,
    timestamp_ms: u64,
}

#[derive(Deserialize, Debug)]
struct Report {
    ok: bool,
    checked: u64,
    alerts: Vec<Alert>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Alert {
    sensor: String,
    kind: String,
    value: f64,
    limit: Option<f64>,
}

#[derive(Deserialize)]
struct NowRequest {}

#[derive(Serialize)]
struct Now {
    now_ms: u64,
}

const NOW: u64 = 1_700_000_000_000;

fn now_ms(_: &mut (), _: Serde<NowRequest>) -> Result<Serde<Now>, HostError> {
    Ok(Serde(Now { now_ms: NOW }))
}

static SENSOR_FNS: &[HostFn<()>] = &[HostFn::typed("now_ms", now_ms)];

fn sensor() -> (Runtime<()>, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let (lines, logger) = common::log_lines();
    let rt = Runtime::builder(()).bytes(SENSOR).host_fns(SENSOR_FNS).logger(logger).build().unwrap();
    (rt, lines)
}

fn validate(rt: &mut Runtime<()>, r: &Reading<'_>) -> Report {
    rt.call::<_, Serde<Report>>("validate", &Serde(r)).unwrap().0
}

#[test]
fn sensor_accepts_a_good_reading() {
    let (mut rt, lines) = sensor();
    let report = validate(&mut rt, &Reading { sensor: "t1", celsius: 21.5, humidity: 40.0, timestamp_ms: NOW - 1000 });
    assert!(report.ok && report.alerts.is_empty() && report.checked == 1, "{report:?}");
    assert!(lines.lock().unwrap().is_empty());
}

#[test]
fn sensor_reports_and_logs_alerts() {
    let (mut rt, lines) = sensor();
    let report =
        validate(&mut rt, &Reading { sensor: "t2", celsius: 120.0, humidity: f64::NAN, timestamp_ms: NOW - 120_000 });
    assert!(!report.ok);
    let kinds: Vec<&str> = report.alerts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["celsius_high", "humidity_invalid", "stale"]);
    assert_eq!(
        report.alerts[0],
        Alert { sensor: "t2".into(), kind: "celsius_high".into(), value: 120.0, limit: Some(85.0) }
    );
    assert_eq!(report.alerts[1].limit, None);
    assert_eq!(report.alerts[2].value, 120_000.0);
    assert_eq!(lines.lock().unwrap().len(), 3);
    assert!(lines.lock().unwrap()[0].contains("t2") && lines.lock().unwrap()[0].contains("celsius_high"));
}

#[test]
fn sensor_limits_can_be_configured_and_bad_input_is_an_error() {
    let (mut rt, _) = sensor();
    #[derive(Serialize)]
    struct Set {
        max_celsius: f64,
    }
    #[derive(Deserialize, Debug)]
    struct Limits {
        max_celsius: f64,
        min_celsius: f64,
    }
    let limits: Serde<Limits> = rt.call("configure", &Serde(Set { max_celsius: 30.0 })).unwrap();
    assert_eq!((limits.0.min_celsius, limits.0.max_celsius), (-40.0, 30.0));
    let report = validate(&mut rt, &Reading { sensor: "t3", celsius: 31.0, humidity: 50.0, timestamp_ms: NOW });
    assert_eq!(report.alerts[0].kind, "celsius_high");
    let err = rt.invoke("validate", b"\x80").unwrap_err();
    assert!(err.to_string().contains("missing field"), "{err}");
    let err = rt.call::<_, Serde<Limits>>("configure", &Serde(Set { max_celsius: -50.0 })).unwrap_err();
    assert!(matches!(err, Error::Plugin(_)), "{err:?}");
    // Without the host clock the plugin cannot validate, and says why.
    let mut bare = Runtime::builder(()).bytes(SENSOR).logger(|_| {}).build().unwrap();
    let err = bare.invoke("validate", b"\x80").unwrap_err();
    assert!(matches!(err, Error::Plugin(_)), "{err:?}");
}

/// `map` (a MessagePack fixmap) with one more field, `"meta"`, whose value is an array
/// nested `depth` levels deep around the integer 1: a field the plugin does not know,
/// which its decoder must skip whole.
fn with_nested_unknown_field(map: &[u8], depth: usize) -> Vec<u8> {
    assert!(map[0] & 0xf0 == 0x80 && map[0] & 0x0f < 15, "a fixmap with room for a field");
    let mut out = vec![map[0] + 1];
    out.extend_from_slice(&map[1..]);
    out.extend_from_slice(b"\xa4meta");
    out.extend(std::iter::repeat_n(0x91, depth));
    out.push(0x01);
    out
}

#[test]
fn typed_requests_skip_unknown_nested_fields_on_the_plugins_small_stacks() {
    // The plugins' stacks are 1 KiB (their Cargo.toml): skipping a nested value
    // must fit in them at every depth the codec allows, in a request and in a typed
    // host reply, and a deeper one is an error, not a trap.
    let mut rt = simple();
    for depth in [1, 2, 16, 63] {
        let request = with_nested_unknown_field(b"\x81\xa4data\xa3Bob", depth);
        assert_eq!(rt.invoke("echo", &request).unwrap(), b"\x81\xa4data\xabHello, Bob!", "depth {depth}");
    }
    let err = rt.invoke("echo", &with_nested_unknown_field(b"\x81\xa4data\xa3Bob", 200)).unwrap_err();
    assert!(matches!(&err, Error::Plugin(text) if text.contains("nest deeper")), "{err:?}");
    assert_eq!(rt.invoke("echo", b"\x81\xa4data\xa3Bob").unwrap(), b"\x81\xa4data\xabHello, Bob!");

    fn hello_nested(_: &mut Host, req: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
        let req: Hello = codec::from_slice(req).map_err(|_| HostError::new("not a Hello"))?;
        let reply = codec::to_vec(&Hello { msg: format!("Hi, {}", req.msg) }).unwrap();
        out.extend_from_slice(&with_nested_unknown_field(&reply, 63));
        Ok(())
    }
    static NESTED_REPLY: &[HostFn<Host>] = &[HostFn::bytes("hello", hello_nested)];
    let mut rt = Runtime::builder(Host::default()).bytes(SIMPLE).host_fns(NESTED_REPLY).build().unwrap();
    let reply: Echo = rt.call("echo", &Echo { data: "Ann".into() }).unwrap();
    assert_eq!(reply.data, "Hi, Ann");

    let (mut rt, _) = sensor();
    #[derive(Serialize)]
    struct Set {
        max_celsius: f64,
    }
    let set = codec::to_vec(&Serde(Set { max_celsius: 30.0 })).unwrap();
    rt.invoke("configure", &with_nested_unknown_field(&set, 63)).unwrap();
    let hot = codec::to_vec(&Serde(Reading { sensor: "t", celsius: 31.0, humidity: 50.0, timestamp_ms: NOW })).unwrap();
    for depth in [1, 63] {
        let reply = rt.invoke("validate", &with_nested_unknown_field(&hot, depth)).unwrap();
        let report: Serde<Report> = codec::from_slice(&reply).unwrap();
        // The limit set above still holds: no call trapped and reset the plugin.
        assert_eq!(report.0.alerts.len(), 1, "depth {depth}: {report:?}", report = report.0);
        assert_eq!(report.0.alerts[0].kind, "celsius_high");
    }
    // Inside a batch the skip runs under the batch's and the reading's decoding.
    let mut batch = b"\x81\xa8readings\x92".to_vec();
    batch.extend_from_slice(&hot);
    batch.extend_from_slice(&with_nested_unknown_field(&hot, 61));
    let reply = rt.invoke("validate_batch", &batch).unwrap();
    let report: Serde<Report> = codec::from_slice(&reply).unwrap();
    assert_eq!((report.0.checked, report.0.alerts.len()), (2, 2), "{:?}", report.0);
}
