//! The `simple` plugin: its host functions, its calls, a call out of fuel, and many
//! calls that keep the stack flat and the heap steady, and that allocate nothing when
//! responses, host replies, typed values and error texts live in fixed buffers.

use alloc::string::String;
use alloc::vec::Vec;

use hookr::codec::{Decode, Encode};
use hookr::heapless;
use hookr::{Builder, EngineConfig, Error, HostError, HostFn, Limits, Runtime};

use crate::check::{ensure, ensure_eq, log_line, unexpected_ok, Context, Failure, Text};
use crate::messages::{Echo, Hello};
use crate::{meter, pins, ENGINE, ENGINE_NO_ALLOC, FUEL, HEAP, MAX_PAGES};

pub static WASM: &[u8] = include_bytes!("../../plugins/simple/simple.wasm");

/// Fuel per call for the runtime meant to run out.
const SMALL_FUEL: u64 = 50_000;
/// Payload for the out-of-fuel call: far more bytes than `SMALL_FUEL` can count.
pub const BIG_PAYLOAD: usize = 16 * 1024;

/// Host state of the `simple` plugin: how often each host function ran.
#[derive(Default)]
pub struct SimpleHost {
    hello: u32,
    hello_byte: u32,
}

impl SimpleHost {
    /// How often `helloByte` ran.
    pub fn hello_byte_calls(&self) -> u32 {
        self.hello_byte
    }
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

pub static HOST_FNS: &[HostFn<SimpleHost>] = &[HostFn::typed("hello", hello), HostFn::bytes("helloByte", hello_byte)];

/// The longest text the fixed-buffer messages hold.
const TEXT: usize = 32;

/// `echo`'s message as [`Echo`], its text in a fixed buffer.
#[derive(Debug, PartialEq, Encode, Decode)]
struct FixedEcho {
    data: heapless::String<TEXT>,
}

/// `hello`'s message as `Hello`, its text in a fixed buffer.
#[derive(Encode, Decode)]
struct FixedHello {
    msg: heapless::String<TEXT>,
}

/// `hello` with no allocation: a greeting longer than [`TEXT`] is a host error.
fn hello_fixed(host: &mut SimpleHost, req: FixedHello) -> Result<FixedHello, HostError> {
    host.hello += 1;
    let mut msg = heapless::String::new();
    msg.push_str("Hello, ")?;
    msg.push_str(&req.msg)?;
    msg.push('!')?;
    Ok(FixedHello { msg })
}

/// `helloByte` with its reply in a fixed buffer of [`TEXT`] bytes.
fn hello_byte_fixed(host: &mut SimpleHost, payload: &[u8], out: &mut heapless::Vec<u8, TEXT>) -> Result<(), HostError> {
    host.hello_byte += 1;
    out.extend_from_slice(b"Hello, ")?;
    out.extend_from_slice(payload)?;
    Ok(())
}

/// The host functions of a runtime that allocates nothing per call.
static FIXED_HOST_FNS: &[HostFn<SimpleHost>] =
    &[HostFn::typed("hello", hello_fixed), HostFn::bytes_fixed("helloByte", hello_byte_fixed)];

/// A `simple` runtime's host functions, limits and engine settings; the module comes
/// with `.bytes` and `.pinned`, or compiled with `.module`.
pub fn host(fuel: u64, engine: EngineConfig) -> Builder<'static, SimpleHost> {
    Runtime::builder(SimpleHost::default())
        .host_fns(HOST_FNS)
        .fuel(fuel)
        .max_memory_pages(MAX_PAGES)
        .engine_config(engine)
        .logger(log_line)
}

fn runtime(fuel: u64, engine: EngineConfig) -> Result<Runtime<SimpleHost>, Error> {
    host(fuel, engine).bytes(WASM).pinned(pins::SIMPLE).build()
}

/// The text the out-of-fuel and sliced calls count the vowels of.
pub fn big_text() -> Vec<u8> {
    b"abcde".iter().copied().cycle().take(BIG_PAYLOAD).collect()
}

/// Loads `simple` with the engine settings `engine`, reporting what that took.
#[inline(never)]
pub fn load(engine: EngineConfig) -> Result<Runtime<SimpleHost>, Failure> {
    HEAP.reset_peak();
    meter::repaint_stack();
    let simple = runtime(FUEL, engine).context("load simple")?;
    defmt::info!(
        "loaded simple ({=usize} B wasm, {=usize} B memory): heap in use {=usize} B, peak {=usize} B, stack high-water {=usize} B",
        WASM.len(),
        simple.memory_size(),
        HEAP.in_use(),
        HEAP.peak(),
        meter::stack_high_water()
    );
    Ok(simple)
}

/// Calls every function of `simple` and checks the answers and the host state.
#[inline(never)]
pub fn calls(simple: &mut Runtime<SimpleHost>) -> Result<(), Failure> {
    meter::repaint_stack();
    let echo: Echo = simple.call("echo", &Echo { data: String::from("Steve") }).context("echo")?;
    defmt::info!("echo {{data: \"Steve\"}} -> {{data: {=str:?}}}", echo.data.as_str());
    ensure_eq("echo", echo.data.as_str(), "Hello, Steve!")?;
    ensure_eq("hello calls", simple.state().hello, 1)?;

    match simple.invoke("nope", b"") {
        Err(Error::Plugin(m)) if &*m == "planned Failure" => {
            defmt::info!("nope -> plugin error {=str:?}", &*m);
        }
        Err(e) => return Err(Failure::Call("nope", e)),
        Ok(out) => return Err(unexpected_ok("nope", &out, "Err(Plugin(\"planned Failure\"))")),
    }

    let reply = simple.invoke("echoByte", b"Steve").context("echoByte")?;
    defmt::info!("echoByte \"Steve\" -> {}", Text(&reply));
    ensure_eq("echoByte", reply.as_slice(), b"Hello, Steve".as_slice())?;
    ensure_eq("helloByte calls", simple.state().hello_byte, 1)?;

    for (text, want) in [(b"hello".as_slice(), b"2".as_slice()), (b"AEIOU aeiou xyz", b"10"), (b"", b"0")] {
        let got = simple.invoke("vowel", text).context("vowel")?;
        defmt::info!("vowel {} -> {}", Text(text), Text(&got));
        ensure_eq("vowel", got.as_slice(), want)?;
    }
    defmt::info!(
        "simple calls: stack high-water {=usize} B, heap in use {=usize} B, memory {=usize} B",
        meter::stack_high_water(),
        HEAP.in_use(),
        simple.memory_size()
    );
    Ok(())
}

/// A runtime with little fuel runs out of it on a long call, and answers the next.
#[inline(never)]
pub fn out_of_fuel() -> Result<(), Failure> {
    let mut starved = runtime(SMALL_FUEL, ENGINE).context("load simple, small fuel")?;
    match starved.invoke("vowel", &big_text()) {
        Err(Error::OutOfFuel) => {
            defmt::info!("vowel on {=usize} B with {=u64} fuel -> out of fuel, as budgeted", BIG_PAYLOAD, SMALL_FUEL)
        }
        Err(e) => return Err(Failure::Call("vowel, small fuel", e)),
        Ok(out) => return Err(unexpected_ok("vowel, small fuel", &out, "Err(OutOfFuel)")),
    }
    let got = starved.invoke("vowel", b"recovered").context("vowel after running out of fuel")?;
    defmt::info!("then vowel \"recovered\" -> {}", Text(&got));
    ensure_eq("vowel after running out of fuel", got.as_slice(), b"4".as_slice())
}

/// Runs `vowel` `n` times on a fixed text and returns the stack high-water of the run.
fn vowel_calls(rt: &mut Runtime<SimpleHost>, n: u32) -> Result<usize, Failure> {
    meter::repaint_stack();
    let mut out = heapless::Vec::<u8, 8>::new();
    for _ in 0..n {
        rt.invoke_into("vowel", b"the quick brown fox jumps over the lazy dog", &mut out).context("vowel, repeated")?;
        ensure_eq("vowel, repeated", out.as_slice(), b"11".as_slice())?;
    }
    Ok(meter::stack_high_water())
}

/// The stack stays flat over many calls, calls leave nothing on the heap, and with
/// fixed buffers they allocate nothing at all.
#[inline(never)]
pub fn steady(simple: &mut Runtime<SimpleHost>) -> Result<(), Failure> {
    let short = vowel_calls(simple, 10)?;
    let in_use_after_short = HEAP.in_use();
    let allocations = HEAP.allocations();
    let long = vowel_calls(simple, 1000)?;
    let allocated = HEAP.allocations() - allocations;
    defmt::info!(
        "vowel x10: stack high-water {=usize} B; x1000: {=usize} B, {=usize} allocations; heap in use {=usize} B -> {=usize} B",
        short,
        long,
        allocated,
        in_use_after_short,
        HEAP.in_use()
    );
    ensure_eq("stack high-water, 1000 calls vs 10", long, short)?;
    ensure_eq("allocations in 1000 vowel calls into a fixed buffer", allocated, 0)?;
    ensure_eq("heap in use, after 1000 calls vs after 10", HEAP.in_use(), in_use_after_short)
}

/// What a call made, for the checks of [`without_allocation`].
fn counted(what: &'static str, n: u32, mut call: impl FnMut() -> Result<bool, Error>) -> Result<(), Failure> {
    // Warm-up: the interpreter translates a function the first time it runs, and the
    // runtime's own buffers take their size.
    ensure(what, call().context(what)?, "a wrong answer, on warm-up", "the expected answer")?;
    let before = HEAP.allocations();
    let mut wrong = 0;
    for _ in 0..n {
        wrong += u32::from(!call().context(what)?);
    }
    let allocated = HEAP.allocations() - before;
    defmt::info!("{=str} x{=u32}: {=usize} allocations, {=u32} wrong answers", what, n, allocated, wrong);
    ensure_eq(what, (allocated, wrong), (0, 0))
}

/// A runtime whose calls need no allocation: responses into `heapless` buffers, host
/// replies from fixed buffers, typed values of `heapless` strings, and error texts
/// kept in the runtime. 1 000 calls of each function allocate nothing; a response
/// larger than its buffer is an error that leaves the buffer empty.
#[inline(never)]
pub fn without_allocation() -> Result<(), Failure> {
    let limits = Limits::default().with_fuel(Some(FUEL)).with_max_memory_pages(MAX_PAGES).with_max_error(128);
    let mut rt = Runtime::builder(SimpleHost::default())
        .bytes(WASM)
        .pinned(pins::SIMPLE)
        .host_fns(FIXED_HOST_FNS)
        .limits(limits)
        .engine_config(ENGINE_NO_ALLOC)
        .logger(log_line)
        .keep_error_texts()
        .build()
        .context("load simple, fixed buffers")?;
    let text = b"the quick brown fox jumps over the lazy dog";
    let mut count = heapless::Vec::<u8, 8>::new();
    counted("vowel, fixed buffer", 1000, || rt.invoke_into("vowel", text, &mut count).map(|()| count == b"11"))?;
    let mut greeting = heapless::Vec::<u8, TEXT>::new();
    counted("echoByte, fixed buffers", 1000, || {
        rt.invoke_into("echoByte", b"Steve", &mut greeting).map(|()| greeting == b"Hello, Steve")
    })?;
    let request = FixedEcho { data: heapless::String::try_from("Steve").unwrap_or_default() };
    counted("typed echo, heapless strings", 1000, || {
        rt.call::<FixedEcho, FixedEcho>("echo", &request).map(|echo| echo.data == "Hello, Steve!")
    })?;
    counted("nope, error text kept", 1000, || match rt.invoke_into("nope", b"", &mut greeting) {
        Err(Error::PluginKept { .. }) => Ok(rt.last_error_text() == Some("planned Failure")),
        Err(e) => Err(e),
        Ok(()) => Ok(false),
    })?;
    ensure_eq("helloByte calls, fixed", rt.state().hello_byte, 1001)?;

    // Too large for the buffer: an error, nothing of the response, and the runtime
    // goes on.
    let mut small = heapless::Vec::<u8, 8>::new();
    match rt.invoke_into("echoByte", b"Steve", &mut small) {
        Err(Error::TooLarge { len: 12, limit: 8, .. }) if small.is_empty() => {
            defmt::info!("echoByte \"Steve\" into 8 bytes -> too large, buffer empty")
        }
        Ok(()) => return Err(unexpected_ok("echoByte into 8 bytes", &small, "Err(TooLarge { len: 12, limit: 8 })")),
        Err(e) => {
            defmt::error!("echoByte into 8 bytes: got Err({}), buffer {}, want Err(TooLarge {{ len: 12, limit: 8 }}), buffer empty", e, Text(&small));
            return Err(Failure::Mismatch("echoByte into 8 bytes"));
        }
    }
    rt.invoke_into("echoByte", b"A", &mut small).context("echoByte after a response too large")?;
    ensure_eq("echoByte after a response too large", small.as_slice(), b"Hello, A".as_slice())
}

/// The heap of each stage of loading `simple` (`breakdown.rs`).
#[inline(never)]
pub fn breakdown() -> Result<(), Failure> {
    crate::breakdown::report("simple", WASM, pins::SIMPLE, |m| host(FUEL, ENGINE).module(m).build())
}
