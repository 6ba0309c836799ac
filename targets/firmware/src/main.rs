//! hookr firmware example, phase 2: runs the `simple` and `sensor` plugins through
//! `hookr::Runtime` on a Cortex-M4F (QEMU `mps2-an386`), checks every result, and
//! measures stack and heap use.
//!
//! The plugins are embedded with `include_bytes!`; `build.rs` validated them and pinned
//! their SHA-256, and this build (without `hookr/validate`) loads nothing else.
//!
//! Exits through semihosting: status 0 only when every check passed.

#![no_std]
#![no_main]

extern crate alloc;

mod meter;
mod payloads;

/// The `simple` plugin's message types, shared with its source.
#[path = "../../plugins/simple/src/messages.rs"]
mod messages;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::Poll;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use hookr::{Error, HostError, HostFn, Runtime};
use panic_semihosting as _;

use hookr::codec;
use messages::{Echo, Hello};
use meter::MeteredHeap;
use payloads::{Now, NowRequest, Reading, Report};

/// The SHA-256 of each embedded plugin, from build.rs.
mod pins {
    include!(concat!(env!("OUT_DIR"), "/pins.rs"));
}

static SIMPLE: &[u8] = include_bytes!("../../plugins/simple/simple.wasm");
static SENSOR: &[u8] = include_bytes!("../../plugins/sensor/sensor.wasm");

#[global_allocator]
static HEAP: MeteredHeap = MeteredHeap::empty();

/// Heap for the runtimes: each holds wasmi's engine, compiled code, store and the
/// plugin's linear memory (64 KiB a page). Both runtimes live at once, plus the payloads.
const HEAP_SIZE: usize = 2 * 1024 * 1024;

/// Fuel per call for the runtimes meant to finish every call.
const FUEL: u64 = 10_000_000;
/// Largest linear memory of a plugin, in 64 KiB pages.
const MAX_PAGES: u32 = 4;
/// Fuel per call for the runtime meant to run out.
const SMALL_FUEL: u64 = 50_000;
/// Payload for the out-of-fuel call: far more bytes than `SMALL_FUEL` can count.
const BIG_PAYLOAD: usize = 16 * 1024;
/// Fuel a long call gets per tick of the main loop.
const TICK_FUEL: u64 = 5_000;

/// The fake clock's start, milliseconds since the Unix epoch; each `now_ms` call moves it
/// on by `TICK_MS`.
const CLOCK_START_MS: u64 = 1_700_000_000_000;
const TICK_MS: u64 = 1_000;

/// Host state of the `simple` plugin: how often each host function ran.
#[derive(Default)]
struct SimpleHost {
    hello: u32,
    hello_byte: u32,
}

fn hello(host: &mut SimpleHost, req: Hello) -> Result<Hello, HostError> {
    host.hello += 1;
    let mut msg = String::from("Hello, ");
    msg.push_str(&req.msg);
    msg.push('!');
    Ok(Hello { msg })
}

fn hello_byte(host: &mut SimpleHost, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    host.hello_byte += 1;
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(payload);
    Ok(())
}

static HOST_FNS: &[HostFn<SimpleHost>] = &[HostFn::typed("hello", hello), HostFn::bytes("helloByte", hello_byte)];

/// Host state of the `sensor` plugin: a fake millisecond clock.
struct SensorHost {
    now_ms: u64,
}

fn now_ms(host: &mut SensorHost, _: NowRequest) -> Result<Now, HostError> {
    host.now_ms += TICK_MS;
    Ok(Now { now_ms: host.now_ms })
}

static SENSOR_FNS: &[HostFn<SensorHost>] = &[HostFn::typed("now_ms", now_ms)];

/// Plugin `__log` lines seen so far, across all runtimes.
static LOG_LINES: AtomicU32 = AtomicU32::new(0);

/// Where the plugins' `__log` lines go: the semihosting console.
fn log_line(line: &str) {
    LOG_LINES.fetch_add(1, Ordering::Relaxed);
    hprintln!("  [plugin] {}", line);
}

#[entry]
fn main() -> ! {
    // Reaches for the heap's memory exactly once, before any allocation.
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: runs once at the top of `main`, before anything allocates; nothing
        // else names HEAP_MEM.
        unsafe { HEAP.init(core::ptr::addr_of_mut!(HEAP_MEM) as usize, HEAP_SIZE) }
    }

    hprintln!(
        "hookr firmware: hookr runtime on wasmi 2.0, portable dispatch, {}",
        if cfg!(feature = "validate") { "validate on" } else { "hash-pinned (validate off)" },
    );
    match check() {
        Ok(()) => {
            hprintln!("PASS");
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(e) => {
            hprintln!("FAIL: {}", e);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    // Only reached when semihosting is off (no debugger or emulator to exit to).
    loop {
        cortex_m::asm::wfi();
    }
}

/// A failed check.
enum Failure {
    /// A call failed that should have succeeded.
    Call(&'static str, Error),
    /// A result differs from what was expected.
    Mismatch(&'static str, String, String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Call(what, e) => write!(f, "{what}: {e}"),
            Failure::Mismatch(what, got, want) => write!(f, "{what}: got {got}, want {want}"),
        }
    }
}

fn ensure_eq<V: PartialEq + fmt::Debug>(what: &'static str, got: V, want: V) -> Result<(), Failure> {
    if got == want {
        Ok(())
    } else {
        Err(Failure::Mismatch(what, alloc::format!("{got:?}"), alloc::format!("{want:?}")))
    }
}

/// Attaches what was being done to a runtime error.
trait Context<V> {
    fn context(self, what: &'static str) -> Result<V, Failure>;
}

impl<V> Context<V> for Result<V, Error> {
    fn context(self, what: &'static str) -> Result<V, Failure> {
        self.map_err(|e| Failure::Call(what, e))
    }
}

/// Shows bytes as text when they are UTF-8.
struct Text<'a>(&'a [u8]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match core::str::from_utf8(self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "{:02x?}", self.0),
        }
    }
}

fn simple_runtime(fuel: u64) -> Result<Runtime<SimpleHost>, Error> {
    Runtime::builder(SimpleHost::default())
        .bytes(SIMPLE)
        .pinned(pins::SIMPLE)
        .host_fns(HOST_FNS)
        .fuel(fuel)
        .max_memory_pages(MAX_PAGES)
        .logger(log_line)
        .build()
}

fn sensor_runtime() -> Result<Runtime<SensorHost>, Error> {
    Runtime::builder(SensorHost { now_ms: CLOCK_START_MS })
        .bytes(SENSOR)
        .pinned(pins::SENSOR)
        .host_fns(SENSOR_FNS)
        .fuel(FUEL)
        .max_memory_pages(MAX_PAGES)
        .logger(log_line)
        .build()
}

/// Runs `vowel` `n` times on a fixed text and returns the stack high-water of the run.
fn vowel_calls(rt: &mut Runtime<SimpleHost>, n: u32) -> Result<usize, Failure> {
    meter::repaint_stack();
    let mut out = Vec::new();
    for _ in 0..n {
        rt.invoke_into("vowel", b"the quick brown fox jumps over the lazy dog", &mut out).context("vowel, repeated")?;
        ensure_eq("vowel, repeated", out.as_slice(), b"11".as_slice())?;
    }
    Ok(meter::stack_high_water())
}

/// A firmware main loop: each tick does its other work (here it counts it) and gives
/// the plugin call one slice of fuel, until the call is done. Checks the call's
/// answer against `vowel` run whole and returns the ticks and the rounds of other work.
fn superloop(rt: &mut Runtime<SimpleHost>, text: &[u8]) -> Result<(u32, u32), Failure> {
    let mut out = Vec::new();
    let (mut ticks, mut other_work) = (0u32, 0u32);
    let mut call = rt.start_sliced("vowel", text, &mut out).context("vowel, sliced")?;
    loop {
        ticks += 1;
        other_work += 1; // poll sensors, feed the watchdog, ...
        match call.resume(TICK_FUEL) {
            Poll::Ready(result) => break result.context("vowel, sliced")?,
            Poll::Pending => continue,
        }
    }
    drop(call);
    let want = alloc::format!("{}", text.iter().filter(|b| b"aeiouAEIOU".contains(b)).count());
    ensure_eq("sliced vowel", out.as_slice(), want.as_bytes())?;
    Ok((ticks, other_work))
}

fn check() -> Result<(), Failure> {
    hprintln!(
        "stack region {} B, heap {} B; stack used before loading: {} B",
        meter::stack_size(),
        HEAP_SIZE,
        meter::stack_high_water()
    );

    // --- simple ---------------------------------------------------------------------
    HEAP.reset_peak();
    meter::repaint_stack();
    let mut simple = simple_runtime(FUEL).context("load simple")?;
    hprintln!(
        "loaded simple ({} B wasm, {} B memory): heap in use {} B, peak {} B, stack high-water {} B",
        SIMPLE.len(),
        simple.memory_size(),
        HEAP.in_use(),
        HEAP.peak(),
        meter::stack_high_water()
    );
    meter::repaint_stack();

    let echo: Echo = simple.call("echo", &Echo { data: String::from("Steve") }).context("echo")?;
    hprintln!("echo {{data: \"Steve\"}} -> {{data: {:?}}}", echo.data);
    ensure_eq("echo", echo.data.as_str(), "Hello, Steve!")?;
    ensure_eq("hello calls", simple.state().hello, 1)?;

    match simple.invoke("nope", b"") {
        Err(Error::Plugin(m)) if &*m == "planned Failure" => {
            hprintln!("nope -> plugin error {:?}", &*m);
        }
        Err(e) => return Err(Failure::Call("nope", e)),
        Ok(out) => {
            return Err(Failure::Mismatch(
                "nope",
                alloc::format!("Ok({})", Text(&out)),
                String::from("Err(Plugin(\"planned Failure\"))"),
            ))
        }
    }

    let reply = simple.invoke("echoByte", b"Steve").context("echoByte")?;
    hprintln!("echoByte \"Steve\" -> {}", Text(&reply));
    ensure_eq("echoByte", reply.as_slice(), b"Hello, Steve".as_slice())?;
    ensure_eq("helloByte calls", simple.state().hello_byte, 1)?;

    for (text, want) in [(b"hello".as_slice(), b"2".as_slice()), (b"AEIOU aeiou xyz", b"10"), (b"", b"0")] {
        let got = simple.invoke("vowel", text).context("vowel")?;
        hprintln!("vowel {} -> {}", Text(text), Text(&got));
        ensure_eq("vowel", got.as_slice(), want)?;
    }
    hprintln!("simple calls: stack high-water {} B, heap in use {} B", meter::stack_high_water(), HEAP.in_use());

    // --- sensor ---------------------------------------------------------------------
    meter::repaint_stack();
    let in_use_before = HEAP.in_use();
    let mut sensor = sensor_runtime().context("load sensor")?;
    hprintln!(
        "loaded sensor ({} B wasm, {} B memory): heap +{} B, stack high-water {} B",
        SENSOR.len(),
        sensor.memory_size(),
        HEAP.in_use() - in_use_before,
        meter::stack_high_water()
    );
    meter::repaint_stack();

    let logged = LOG_LINES.load(Ordering::Relaxed);
    let good = Reading { sensor: "greenhouse", celsius: 21.5, humidity: 40.0, timestamp_ms: CLOCK_START_MS };
    let report: Report = sensor.call("validate", &good).context("validate, good")?;
    hprintln!("validate {} -> {}", good, report);
    ensure_eq("good reading: ok", report.ok, true)?;
    ensure_eq("good reading: checked", report.checked, 1)?;
    ensure_eq("good reading: alerts", report.alerts.len(), 0)?;
    ensure_eq("good reading: log lines", LOG_LINES.load(Ordering::Relaxed), logged)?;

    let bad = Reading { sensor: "attic", celsius: 120.0, humidity: f64::NAN, timestamp_ms: CLOCK_START_MS - 120_000 };
    let report: Report = sensor.call("validate", &bad).context("validate, bad")?;
    hprintln!("validate {} -> {}", bad, report);
    ensure_eq("bad reading: ok", report.ok, false)?;
    ensure_eq("bad reading: checked", report.checked, 1)?;
    let kinds: Vec<&str> = report.alerts.iter().map(|a| a.kind.as_str()).collect();
    ensure_eq("bad reading: alert kinds", kinds.as_slice(), ["celsius_high", "humidity_invalid", "stale"].as_slice())?;
    let first = &report.alerts[0];
    ensure_eq("bad reading: alert sensor", first.sensor.as_str(), "attic")?;
    ensure_eq("celsius_high value", first.value, 120.0)?;
    ensure_eq("celsius_high limit", first.limit, Some(85.0))?;
    ensure_eq("humidity_invalid limit", report.alerts[1].limit, None)?;
    // The clock read 2 ticks after its start on the second call.
    ensure_eq("stale age", report.alerts[2].value, (120_000 + 2 * TICK_MS) as f64)?;
    ensure_eq("bad reading: log lines", LOG_LINES.load(Ordering::Relaxed), logged + 3)?;
    ensure_eq("clock reads", sensor.state().now_ms, CLOCK_START_MS + 2 * TICK_MS)?;
    hprintln!("sensor calls: stack high-water {} B, heap in use {} B", meter::stack_high_water(), HEAP.in_use());
    drop(sensor);

    // --- out of fuel, then recovery -------------------------------------------------
    let mut starved = simple_runtime(SMALL_FUEL).context("load simple, small fuel")?;
    let big: Vec<u8> = b"abcde".iter().copied().cycle().take(BIG_PAYLOAD).collect();
    match starved.invoke("vowel", &big) {
        Err(Error::OutOfFuel) => {
            hprintln!("vowel on {} B with {} fuel -> out of fuel, as budgeted", BIG_PAYLOAD, SMALL_FUEL)
        }
        Err(e) => return Err(Failure::Call("vowel, small fuel", e)),
        Ok(out) => {
            return Err(Failure::Mismatch(
                "vowel, small fuel",
                alloc::format!("Ok({})", Text(&out)),
                String::from("Err(OutOfFuel)"),
            ))
        }
    }
    let got = starved.invoke("vowel", b"recovered").context("vowel after running out of fuel")?;
    hprintln!("then vowel \"recovered\" -> {}", Text(&got));
    ensure_eq("vowel after running out of fuel", got.as_slice(), b"4".as_slice())?;
    drop(starved);

    // --- a long call advanced one slice per tick of the main loop -------------------
    // The first call with a payload this big grows the guest's request buffer; the
    // second finds the plugin as the sliced call will.
    simple.invoke("vowel", &big).context("vowel, whole")?;
    let whole = simple.invoke("vowel", &big).context("vowel, whole")?;
    let whole_fuel = simple.last_call().fuel;
    let (ticks, other_work) = superloop(&mut simple, &big)?;
    hprintln!(
        "vowel on {} B, {} fuel a tick: {} after {} ticks of the main loop ({} rounds of its other work), {:?} fuel",
        BIG_PAYLOAD,
        TICK_FUEL,
        Text(&whole),
        ticks,
        other_work,
        simple.last_call().fuel
    );
    ensure_eq("sliced vowel: fuel, against the whole call", simple.last_call().fuel, whole_fuel)?;
    ensure_eq("sliced vowel: the main loop ran on", other_work, ticks)?;
    if ticks < 10 {
        return Err(Failure::Mismatch("sliced vowel: ticks", alloc::format!("{ticks}"), String::from(">= 10")));
    }

    // --- the stack stays flat over many calls, and calls leave nothing behind -------
    let short = vowel_calls(&mut simple, 10)?;
    let in_use_after_short = HEAP.in_use();
    let long = vowel_calls(&mut simple, 1000)?;
    hprintln!(
        "vowel x10: stack high-water {} B; x1000: {} B; heap in use {} B -> {} B",
        short,
        long,
        in_use_after_short,
        HEAP.in_use()
    );
    ensure_eq("stack high-water, 1000 calls vs 10", long, short)?;
    ensure_eq("heap in use, after 1000 calls vs after 10", HEAP.in_use(), in_use_after_short)?;

    hprintln!("heap: peak {} B of {} B over everything, {} B in use at the end", HEAP.peak(), HEAP_SIZE, HEAP.in_use());
    hprintln!("stack: high-water {} B since reset", meter::stack_peak());
    Ok(())
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("FAIL: hard fault at pc {:#010x}", frame.pc());
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
