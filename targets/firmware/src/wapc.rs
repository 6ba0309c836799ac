//! The `wapc-demo` plugin, a waPC guest built with the published `wapc-guest` crate:
//! host functions under a waPC binding and namespace in a static table, a guest error,
//! an unknown operation, a host operation nobody registered, and a trap followed by a
//! good call on a fresh instance.

use alloc::vec::Vec;

use hookr::{Abi, Builder, Error, HostError, HostFn, Runtime};

use crate::check::{ensure_eq, log_line, unexpected_ok, Context, Failure, Text};
use crate::{meter, pins, ENGINE, FUEL, HEAP, MAX_PAGES};

static WASM: &[u8] = include_bytes!("../../plugins/wapc-demo/wapc-demo.wasm");

/// Host state of the `wapc-demo` plugin: how often each host function ran.
#[derive(Default)]
struct WapcHost {
    hello: u32,
    hello_byte: u32,
}

/// What the guest's `greet` calls: binding `demo`, namespace `greetings`, `hello`.
fn hello(host: &mut WapcHost, name: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    host.hello += 1;
    out.extend_from_slice(b"Hello from the demo binding, ");
    out.extend_from_slice(name);
    Ok(())
}

/// What the guest's `greet_plain` calls, with no binding and no namespace.
fn hello_byte(host: &mut WapcHost, name: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    host.hello_byte += 1;
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(name);
    Ok(())
}

static WAPC_FNS: &[HostFn<WapcHost>] = &[
    HostFn::bytes("hello", hello).with_binding("demo").with_namespace("greetings"),
    HostFn::bytes("helloByte", hello_byte),
];

/// A `wapc-demo` runtime's host functions, limits and engine settings; the module
/// comes with `.bytes` and `.pinned`, or compiled with `.module`.
fn host() -> Builder<'static, WapcHost> {
    Runtime::builder(WapcHost::default())
        .host_fns(WAPC_FNS)
        .fuel(FUEL)
        .max_memory_pages(MAX_PAGES)
        .engine_config(ENGINE)
        .logger(log_line)
}

/// The heap of each stage of loading `wapc-demo` (`breakdown.rs`).
#[inline(never)]
pub fn breakdown() -> Result<(), Failure> {
    crate::breakdown::report("wapc-demo", WASM, pins::WAPC_DEMO, |m| host().module(m).build())
}

/// Calls `op` and expects it to fail with the plugin error `want`.
fn fails_with(rt: &mut Runtime<WapcHost>, op: &'static str, want: &'static str) -> Result<(), Failure> {
    match rt.invoke(op, b"") {
        Err(Error::Plugin(m)) if &*m == want => {
            defmt::info!("{=str} -> plugin error {=str:?}", op, &*m);
            Ok(())
        }
        Err(e) => Err(Failure::Call(op, e)),
        Ok(out) => Err(unexpected_ok(op, &out, want)),
    }
}

/// Loads `wapc-demo` alone, calls every function, recovers from a trap, and
/// drops it.
#[inline(never)]
pub fn check() -> Result<(), Failure> {
    meter::repaint_stack();
    let in_use_before = HEAP.in_use();
    let mut rt = host().bytes(WASM).pinned(pins::WAPC_DEMO).build().context("load wapc-demo")?;
    ensure_eq("wapc-demo ABI", rt.module().abi(), Abi::Wapc)?;
    defmt::info!(
        "loaded wapc-demo ({=usize} B wasm, {} ABI, {=usize} B memory): heap +{=usize} B, stack high-water {=usize} B",
        WASM.len(),
        rt.module().abi(),
        rt.memory_size(),
        HEAP.in_use() - in_use_before,
        meter::stack_high_water()
    );
    meter::repaint_stack();

    let reply = rt.invoke("echo", b"Steve").context("wapc echo")?;
    defmt::info!("echo \"Steve\" -> {}", Text(&reply));
    ensure_eq("wapc echo", reply.as_slice(), b"Steve".as_slice())?;

    let reply = rt.invoke("greet", b"Steve").context("wapc greet")?;
    defmt::info!("greet \"Steve\" (host demo/greetings/hello) -> {}", Text(&reply));
    ensure_eq("wapc greet", reply.as_slice(), b"Hello from the demo binding, Steve".as_slice())?;
    let reply = rt.invoke("greet_plain", b"Steve").context("wapc greet_plain")?;
    defmt::info!("greet_plain \"Steve\" (host helloByte) -> {}", Text(&reply));
    ensure_eq("wapc greet_plain", reply.as_slice(), b"Hello, Steve".as_slice())?;
    ensure_eq("wapc host calls", (rt.state().hello, rt.state().hello_byte), (1, 1))?;

    fails_with(
        &mut rt,
        "ask_missing",
        "Host error: no handler registered for operation 'missing' (binding 'demo', namespace 'greetings')",
    )?;
    fails_with(&mut rt, "fail", "planned failure")?;
    fails_with(&mut rt, "nope", "No handler registered for function nope")?;
    rt.invoke("log", b"a waPC console line").context("wapc log")?;

    ensure_eq("wapc count", rt.invoke("count", b"").context("wapc count")?.as_slice(), b"1".as_slice())?;
    ensure_eq("wapc count", rt.invoke("count", b"").context("wapc count")?.as_slice(), b"2".as_slice())?;
    match rt.invoke("trap", b"") {
        Err(Error::Trap(code)) => defmt::info!("trap -> {=str}", code.trap_message()),
        Err(e) => return Err(Failure::Call("wapc trap", e)),
        Ok(out) => return Err(unexpected_ok("wapc trap", &out, "a trap")),
    }
    // A fresh instance answers: `wapc_init` ran again, the counter starts over.
    let count = rt.invoke("count", b"").context("wapc count after the trap")?;
    defmt::info!("then count -> {} (a fresh instance)", Text(&count));
    ensure_eq("wapc count after the trap", count.as_slice(), b"1".as_slice())?;
    defmt::info!(
        "wapc-demo calls: stack high-water {=usize} B, heap in use {=usize} B",
        meter::stack_high_water(),
        HEAP.in_use()
    );
    drop(rt);
    Ok(())
}
