//! The `sensor` plugin: a typed host function with host state (a fake clock), typed
//! calls with floats, NaN, optional fields, arrays and enums, and log lines.

use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use hookr::io::Sink;
use hookr::{Builder, Engine, Error, HostError, HostFn, Module, Runtime};

use crate::check::{ensure_eq, log_line, Context, Failure, LOG_LINES};
use crate::sensor_messages::{AlertKind, Batch, LimitChanges, Limits, Now, NowRequest, Reading, Report};
use crate::{meter, pins, ENGINE, FUEL, HEAP, MAX_PAGES};

pub static WASM: &[u8] = include_bytes!("../../plugins/sensor/sensor.wasm");

/// The fake clock's start, milliseconds since the Unix epoch; each `now_ms` call moves it
/// on by `TICK_MS`.
const CLOCK_START_MS: u64 = 1_700_000_000_000;
const TICK_MS: u64 = 1_000;

/// Host state of the `sensor` plugin: a fake millisecond clock.
pub struct SensorHost {
    now_ms: u64,
}

fn now_ms(host: &mut SensorHost, _: NowRequest) -> Result<Now, HostError> {
    host.now_ms += TICK_MS;
    Ok(Now { now_ms: host.now_ms })
}

static SENSOR_FNS: &[HostFn<SensorHost>] = &[HostFn::typed("now_ms", now_ms)];

/// A `sensor` runtime's host functions, limits and engine settings; the module comes
/// with `.bytes` and `.pinned`, or compiled with `.module`.
pub fn host() -> Builder<'static, SensorHost> {
    Runtime::builder(SensorHost { now_ms: CLOCK_START_MS })
        .host_fns(SENSOR_FNS)
        .fuel(FUEL)
        .max_memory_pages(MAX_PAGES)
        .engine_config(ENGINE)
        .logger(log_line)
}

fn builder() -> Builder<'static, SensorHost> {
    host().bytes(WASM).pinned(pins::SENSOR)
}

fn runtime() -> Result<Runtime<SensorHost>, Error> {
    builder().build()
}

/// A `sensor` runtime that records a transcript to `sink`.
pub fn runtime_recording(sink: impl Sink + Send + 'static) -> Result<Runtime<SensorHost>, Error> {
    builder().record(sink).build()
}

/// `simple` and `sensor` alive at once, each called: what a device running both
/// plugins holds. Both are compiled on one engine, which they share (its translator's
/// buffers, its function types) instead of holding one each. Each check after this one
/// has only its own runtime alive.
#[inline(never)]
pub fn beside_simple() -> Result<(), Failure> {
    HEAP.reset_peak();
    let engine = Engine::new(ENGINE).context("engine for simple and sensor")?;
    // Both modules first, the runtimes and calls after, `sensor`'s first: the long-lived
    // compiled code then sits together, and the largest translation (`configure`) is
    // made before smaller blocks can split the heap.
    let simple_module = Module::pinned_in(&engine, crate::simple::WASM, pins::SIMPLE).context("compile simple")?;
    let sensor_module = Module::pinned_in(&engine, WASM, pins::SENSOR).context("compile sensor beside simple")?;
    let mut sensor = host().module(sensor_module).build().context("load sensor beside simple")?;
    let changes = LimitChanges { max_celsius: Some(90.0), ..LimitChanges::default() };
    let limits: Limits = sensor.call("configure", &changes).context("configure, beside simple")?;
    ensure_eq("configured max_celsius, beside simple", limits.max_celsius, 90.0)?;
    let mut simple =
        crate::simple::host(FUEL, ENGINE).module(simple_module).build().context("load simple beside sensor")?;
    let got = simple.invoke("vowel", b"simple and sensor").context("vowel, beside sensor")?;
    ensure_eq("vowel, beside sensor", got.as_slice(), b"5".as_slice())?;
    defmt::info!(
        "simple and sensor alive together, each called: heap in use {=usize} B, peak {=usize} B",
        HEAP.in_use(),
        HEAP.peak()
    );
    Ok(())
}

/// What wasmi keeps in an engine besides the code: the working buffers of its validator
/// and its translator, which the next compile and the next translation reuse, held
/// until the engine is dropped and sized for the largest function so far. Measured
/// with `sensor` compiled twice on one engine and `configure` called once in each: the
/// first compile and the first translation grow the buffers, the second ones reuse
/// them, so each difference is buffers alone. Leaves nothing allocated.
#[cfg(not(feature = "netduinoplus2"))]
#[inline(never)]
pub fn engine_buffers() -> Result<(), Failure> {
    let start = HEAP.in_use();
    let engine = Engine::new(ENGINE).context("engine for the buffers")?;
    let before = HEAP.in_use();
    let first = Module::pinned_in(&engine, WASM, pins::SENSOR).context("compile sensor, first copy")?;
    let first_compile = HEAP.in_use() - before;
    let before = HEAP.in_use();
    let second = Module::pinned_in(&engine, WASM, pins::SENSOR).context("compile sensor, second copy")?;
    let second_compile = HEAP.in_use() - before;
    let mut first = host().module(first).build().context("load sensor, first copy")?;
    let mut second = host().module(second).build().context("load sensor, second copy")?;
    let changes = LimitChanges { max_celsius: Some(90.0), ..LimitChanges::default() };
    let before = HEAP.in_use();
    let _: Limits = first.call("configure", &changes).context("configure, first copy")?;
    let first_call = HEAP.in_use() - before;
    let before = HEAP.in_use();
    let _: Limits = second.call("configure", &changes).context("configure, second copy")?;
    let second_call = HEAP.in_use() - before;
    defmt::info!(
        "engine buffers: validator {=usize} B (sensor compiled {=usize} B, again {=usize} B); translator {=usize} B (configure translated {=usize} B, again {=usize} B)",
        first_compile.saturating_sub(second_compile),
        first_compile,
        second_compile,
        first_call.saturating_sub(second_call),
        first_call,
        second_call
    );
    drop((first, second, engine));
    ensure_eq("heap in use after the engine buffers", HEAP.in_use(), start)
}

/// Loads `sensor` alone, validates a good and a bad reading, changes a limit,
/// validates both again in one batch, and drops it.
#[inline(never)]
pub fn check() -> Result<(), Failure> {
    meter::repaint_stack();
    let in_use_before = HEAP.in_use();
    let mut sensor = runtime().context("load sensor")?;
    defmt::info!(
        "loaded sensor ({=usize} B wasm, {=usize} B memory): heap +{=usize} B, stack high-water {=usize} B",
        WASM.len(),
        sensor.memory_size(),
        HEAP.in_use() - in_use_before,
        meter::stack_high_water()
    );
    meter::repaint_stack();
    validate_good_and_bad(&mut sensor)?;
    configure_and_batch(&mut sensor)?;
    defmt::info!(
        "sensor calls: stack high-water {=usize} B, heap in use {=usize} B, memory {=usize} B",
        meter::stack_high_water(),
        HEAP.in_use(),
        sensor.memory_size()
    );
    drop(sensor);
    Ok(())
}

/// Validates a good reading and one with every problem, and checks the reports, the
/// log lines and the clock reads.
pub fn validate_good_and_bad(sensor: &mut Runtime<SensorHost>) -> Result<(), Failure> {
    let clock = sensor.state().now_ms;
    let logged = LOG_LINES.load(Ordering::Relaxed);
    let good = good_reading();
    let report: Report = sensor.call("validate", &good).context("validate, good")?;
    defmt::info!("validate {} -> {}", good, report);
    ensure_eq("good reading: ok", report.ok, true)?;
    ensure_eq("good reading: checked", report.checked, 1)?;
    ensure_eq("good reading: alerts", report.alerts.len(), 0)?;
    ensure_eq("good reading: log lines", LOG_LINES.load(Ordering::Relaxed), logged)?;

    let bad = bad_reading();
    let report: Report = sensor.call("validate", &bad).context("validate, bad")?;
    defmt::info!("validate {} -> {}", bad, report);
    ensure_eq("bad reading: ok", report.ok, false)?;
    ensure_eq("bad reading: checked", report.checked, 1)?;
    let kinds: Vec<AlertKind> = report.alerts.iter().map(|a| a.kind).collect();
    let want = [AlertKind::CelsiusHigh, AlertKind::HumidityInvalid, AlertKind::Stale];
    ensure_eq("bad reading: alert kinds", kinds.as_slice(), want.as_slice())?;
    let first = &report.alerts[0];
    ensure_eq("bad reading: alert sensor", first.sensor.as_str(), "attic")?;
    ensure_eq("celsius_high value", first.value, 120.0)?;
    ensure_eq("celsius_high limit", first.limit, Some(85.0))?;
    ensure_eq("humidity_invalid limit", report.alerts[1].limit, None)?;
    // The clock read 2 ticks after its start on the second call.
    ensure_eq("stale age", report.alerts[2].value, (120_000 + 2 * TICK_MS) as f64)?;
    ensure_eq("bad reading: log lines", LOG_LINES.load(Ordering::Relaxed), logged + 3)?;
    ensure_eq("clock reads", sensor.state().now_ms, clock + 2 * TICK_MS)?;
    Ok(())
}

/// Raises the temperature limit (the other limits stay), then checks a good and a bad
/// reading at once: 120 °C passes now; the NaN humidity and the stale time do not.
fn configure_and_batch(sensor: &mut Runtime<SensorHost>) -> Result<(), Failure> {
    let changes = LimitChanges { max_celsius: Some(125.0), ..LimitChanges::default() };
    let limits: Limits = sensor.call("configure", &changes).context("configure")?;
    ensure_eq("configured max_celsius", limits.max_celsius, 125.0)?;
    ensure_eq("kept min_celsius", limits.min_celsius, -40.0)?;
    let batch = Batch { readings: alloc::vec![good_reading(), bad_reading()] };
    let report: Report = sensor.call("validate_batch", &batch).context("validate_batch")?;
    defmt::info!("validate_batch (max_celsius 125) -> {}", report);
    ensure_eq("batch: checked", report.checked, 2)?;
    let kinds: Vec<AlertKind> = report.alerts.iter().map(|a| a.kind).collect();
    ensure_eq("batch: alert kinds", kinds.as_slice(), [AlertKind::HumidityInvalid, AlertKind::Stale].as_slice())?;
    Ok(())
}

/// A reading within every limit, taken when the fake clock starts.
fn good_reading() -> Reading {
    Reading { sensor: "greenhouse".into(), celsius: 21.5, humidity: 40.0, timestamp_ms: CLOCK_START_MS }
}

/// A reading with every problem: too hot, humidity not a number, two minutes old.
fn bad_reading() -> Reading {
    Reading { sensor: "attic".into(), celsius: 120.0, humidity: f64::NAN, timestamp_ms: CLOCK_START_MS - 120_000 }
}

/// The heap of each stage of loading `sensor` (`breakdown.rs`).
#[inline(never)]
pub fn breakdown() -> Result<(), Failure> {
    crate::breakdown::report("sensor", WASM, pins::SENSOR, |m| host().module(m).build())
}
