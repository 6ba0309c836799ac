//! The cost of a call through hookr beside the cost of the same call through wasmi
//! alone (the floor), start-up, a fresh runtime from a compiled module, the whole stack
//! on the `simple` plugin, and the same work through the waPC ABI beside the hookr ABI.
//!
//! `cargo bench --bench calls` runs every case once and ends with a table of medians;
//! `cargo bench --bench calls -- WORD` runs only the cases whose name contains WORD.
//!
//! A hand-rolled timer rather than criterion: the summary needs the medians in-process
//! to print hookr / floor ratios, and a fixed time budget per case keeps the whole run
//! to a few seconds.

extern crate alloc;

mod common;

use std::hint::black_box;

use common::{fmt_ns, hello, hello_byte, simple_floor_linker, Echo, Results, State, SENTENCE, SIMPLE, WAPC_DEMO};

use hookr::codec;
use hookr::heapless;
use hookr::wasmi::{self, Caller, Engine, Linker, Memory, Store, TypedFunc};
use hookr::{EngineConfig, Hasher, HostError, HostFn, Module, NoVerify, Runtime, Sha256Hasher};

// ---------------------------------------------------------------------------------
// Plugins: hand-written WAT, run unchanged by the floor and by hookr

/// Echo: fetches the request (operation name at 0, payload at 1024) and hands the
/// payload back. 17 pages hold a 1 MiB payload.
const ECHO: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 17)
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 0) (i32.const 1024))
    (call $resp (i32.const 1024) (local.get $len))
    (i32.const 1)))"#;

/// Host call: fetches the request, passes the payload to the host function `echo` and
/// answers with the host's response.
const HOST_CALL: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__host_response_len" (func $rlen (result i32)))
  (import "hookr" "__host_response" (func $rget (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "echo")
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (local $n i32)
    (call $req (i32.const 64) (i32.const 1024))
    (if (i32.eqz (call $call (i32.const 0) (i32.const 4) (i32.const 1024) (local.get $len)))
      (then (return (i32.const 0))))
    (local.set $n (call $rlen))
    (call $rget (i32.const 8192))
    (call $resp (i32.const 8192) (local.get $n))
    (i32.const 1)))"#;

/// A hookr plugin above as a waPC guest: the same instructions under waPC's names.
fn as_wapc(wat: &str) -> String {
    [
        ("\"hookr\" \"__plugin_request\"", "\"wapc\" \"__guest_request\""),
        ("\"hookr\" \"__plugin_response\"", "\"wapc\" \"__guest_response\""),
        ("__plugin_call", "__guest_call"),
    ]
    .iter()
    .fold(wat.to_string(), |wat, (hookr, wapc)| wat.replace(hookr, wapc))
}

/// `HOST_CALL` as a waPC guest: the host function `echo` of binding `demo` and
/// namespace `greetings`, or of none when `BLEN` and `NLEN` are 0.
const WAPC_HOST_CALL: &str = r#"(module
  (import "wapc" "__guest_request" (func $req (param i32 i32)))
  (import "wapc" "__guest_response" (func $resp (param i32 i32)))
  (import "wapc" "__host_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $rlen (result i32)))
  (import "wapc" "__host_response" (func $rget (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "echo")
  (data (i32.const 16) "demo")
  (data (i32.const 32) "greetings")
  (func (export "__guest_call") (param $op i32) (param $len i32) (result i32)
    (local $n i32)
    (call $req (i32.const 64) (i32.const 1024))
    (if (i32.eqz (call $call (i32.const 16) (i32.const BLEN) (i32.const 32) (i32.const NLEN)
                             (i32.const 0) (i32.const 4) (i32.const 1024) (local.get $len)))
      (then (return (i32.const 0))))
    (local.set $n (call $rlen))
    (call $rget (i32.const 8192))
    (call $resp (i32.const 8192) (local.get $n))
    (i32.const 1)))"#;

// ---------------------------------------------------------------------------------
// The floor: wasmi alone, the hookr ABI's pattern with nothing around it

struct FloorCtx {
    memory: Option<Memory>,
    op: &'static [u8],
    payload: Vec<u8>,
    response: Vec<u8>,
    host_response: Vec<u8>,
}

/// The engine hookr builds for `EngineConfig::default()`: fuel metered, translation
/// lazy and free of fuel, 1-byte pages accepted, the same stack settings.
fn floor_engine() -> Engine {
    EngineConfig::default().engine().expect("the default engine settings are valid")
}

/// The fuel hookr gives each call by default, which the floor gives its calls too.
const FUEL: u64 = hookr::Limits::DEFAULT_CALL_FUEL;

fn range(len: usize, ptr: i32, n: usize) -> Result<std::ops::Range<usize>, wasmi::Error> {
    let start = ptr as u32 as usize;
    match start.checked_add(n) {
        Some(end) if end <= len => Ok(start..end),
        _ => Err(wasmi::Error::new("out of bounds")),
    }
}

fn floor_linker(engine: &Engine) -> Linker<FloorCtx> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("hookr", "__plugin_request", |mut caller: Caller<'_, FloorCtx>, op_ptr: i32, ptr: i32| {
            let mem = caller.data().memory.expect("memory");
            let (data, ctx) = mem.data_and_store_mut(&mut caller);
            let (op, payload) = (range(data.len(), op_ptr, ctx.op.len())?, range(data.len(), ptr, ctx.payload.len())?);
            data[op].copy_from_slice(ctx.op);
            data[payload].copy_from_slice(&ctx.payload);
            Ok(())
        })
        .unwrap()
        .func_wrap("hookr", "__plugin_response", |mut caller: Caller<'_, FloorCtx>, ptr: i32, len: i32| {
            let mem = caller.data().memory.expect("memory");
            let (data, ctx) = mem.data_and_store_mut(&mut caller);
            let r = range(data.len(), ptr, len as u32 as usize)?;
            ctx.response.clear();
            ctx.response.extend_from_slice(&data[r]);
            Ok(())
        })
        .unwrap()
        .func_wrap(
            "hookr",
            "__host_call",
            |mut caller: Caller<'_, FloorCtx>, _op: i32, _op_len: i32, ptr: i32, len: i32| {
                let mem = caller.data().memory.expect("memory");
                let (data, ctx) = mem.data_and_store_mut(&mut caller);
                let r = range(data.len(), ptr, len as u32 as usize)?;
                // The host function, called directly: an echo.
                ctx.host_response.clear();
                ctx.host_response.extend_from_slice(&data[r]);
                Ok(1)
            },
        )
        .unwrap()
        .func_wrap("hookr", "__host_response_len", |caller: Caller<'_, FloorCtx>| {
            caller.data().host_response.len() as i32
        })
        .unwrap()
        .func_wrap("hookr", "__host_response", |mut caller: Caller<'_, FloorCtx>, ptr: i32| {
            let mem = caller.data().memory.expect("memory");
            let (data, ctx) = mem.data_and_store_mut(&mut caller);
            let r = range(data.len(), ptr, ctx.host_response.len())?;
            data[r].copy_from_slice(&ctx.host_response);
            Ok(())
        })
        .unwrap();
    linker
}

/// One instance of a plugin under wasmi alone, its export and memory resolved once.
struct Floor {
    store: Store<FloorCtx>,
    call: TypedFunc<(i32, i32), i32>,
}

impl Floor {
    fn new(engine: &Engine, linker: &Linker<FloorCtx>, module: &wasmi::Module) -> Self {
        let ctx = FloorCtx {
            memory: None,
            op: b"echo",
            payload: Vec::new(),
            response: Vec::new(),
            host_response: Vec::new(),
        };
        let mut store = Store::new(engine, ctx);
        store.set_fuel(FUEL).unwrap();
        let instance = linker.instantiate_and_start(&mut store, module).unwrap();
        let memory = instance.get_memory(&store, "memory").unwrap();
        let call = instance.get_typed_func::<(i32, i32), i32>(&store, "__plugin_call").unwrap();
        store.data_mut().memory = Some(memory);
        Floor { store, call }
    }

    /// Calls `__plugin_call` for the request already in the store; the response is
    /// left in the store.
    fn call(&mut self) {
        let args = (self.store.data().op.len() as i32, self.store.data().payload.len() as i32);
        self.store.set_fuel(FUEL).unwrap();
        let status = self.call.call(&mut self.store, args).unwrap();
        assert_eq!(status, 1);
    }

    fn response(&self) -> &[u8] {
        &self.store.data().response
    }
}

// ---------------------------------------------------------------------------------
// Host side for hookr

fn echo_host(_: &mut State, input: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    out.extend_from_slice(input);
    Ok(())
}

fn other(_: &mut State, _: &[u8], _: &mut Vec<u8>) -> Result<(), HostError> {
    Err(HostError::new("not this one"))
}

/// A table the size of a small real one, so the lookup is not a single comparison,
/// with functions under waPC bindings and namespaces beside the plain ones.
static HOST_FNS: &[HostFn<State>] = &[
    HostFn::bytes("alpha", other),
    HostFn::bytes("beta", other),
    HostFn::bytes("echo", echo_host),
    HostFn::typed("hello", hello),
    HostFn::bytes("helloByte", hello_byte),
    HostFn::bytes("omega", other),
    HostFn::bytes("echo", echo_host).with_binding("demo").with_namespace("greetings"),
    HostFn::bytes("echo", other).with_binding("demo").with_namespace("farewells"),
    HostFn::bytes("alpha", other).with_binding("demo").with_namespace("greetings"),
    HostFn::bytes("hello", hello_byte).with_binding("demo").with_namespace("greetings"),
];

/// `helloByte` with its reply in a fixed buffer.
fn hello_byte_fixed(_: &mut State, input: &[u8], out: &mut heapless::Vec<u8, 128>) -> Result<(), HostError> {
    out.extend_from_slice(b"Hello, ")?;
    out.extend_from_slice(input)?;
    Ok(())
}

/// `hello`'s message with its text in a fixed buffer.
#[derive(codec::Encode, codec::Decode)]
struct FixedHello {
    msg: heapless::String<32>,
}

/// `echo`'s message with its text in a fixed buffer.
#[derive(codec::Encode, codec::Decode)]
struct FixedEcho {
    data: heapless::String<32>,
}

fn hello_fixed(_: &mut State, input: FixedHello) -> Result<FixedHello, HostError> {
    let mut msg = heapless::String::new();
    msg.push_str("Hello, ")?;
    msg.push_str(&input.msg)?;
    msg.push('!')?;
    Ok(FixedHello { msg })
}

/// `simple`'s host functions, replying from fixed buffers.
static FIXED_HOST_FNS: &[HostFn<State>] =
    &[HostFn::typed("hello", hello_fixed), HostFn::bytes_fixed("helloByte", hello_byte_fixed)];

fn runtime(wasm: &[u8]) -> Runtime<State> {
    Runtime::builder(State).bytes(wasm).host_fns(HOST_FNS).build().unwrap()
}

const SIZES: &[(&str, usize)] = &[("0 B", 0), ("64 B", 64), ("4 KiB", 4 << 10), ("1 MiB", 1 << 20)];

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut r = Results { filter, rows: Vec::new() };
    let engine = floor_engine();
    let linker = floor_linker(&engine);
    let echo_wasm = wat::parse_str(ECHO).unwrap();
    let host_call_wasm = wat::parse_str(HOST_CALL).unwrap();
    let echo_module = wasmi::Module::new(&engine, &echo_wasm).unwrap();
    let host_call_module = wasmi::Module::new(&engine, &host_call_wasm).unwrap();

    // --- payload sizes: floor, invoke_into, invoke
    let mut floor = Floor::new(&engine, &linker, &echo_module);
    let mut rt = runtime(&echo_wasm);
    let mut out = Vec::new();
    for &(label, n) in SIZES {
        let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
        floor.store.data_mut().payload = payload.clone();
        floor.call();
        assert_eq!(floor.response(), &payload[..]);
        r.run(&format!("echo {label}: floor (wasmi)"), || {
            floor.call();
            black_box(floor.response());
        });
        rt.invoke_into("echo", &payload, &mut out).unwrap();
        assert_eq!(out, payload);
        r.run(&format!("echo {label}: hookr invoke_into"), || {
            rt.invoke_into("echo", black_box(&payload), &mut out).unwrap();
            black_box(&out);
        });
        r.run(&format!("echo {label}: hookr invoke"), || {
            black_box(rt.invoke("echo", black_box(&payload)).unwrap());
        });
        if n <= 4 << 10 {
            let mut fixed = heapless::Vec::<u8, { 4 << 10 }>::new();
            rt.invoke_into("echo", &payload, &mut fixed).unwrap();
            assert_eq!(fixed, payload[..]);
            r.run(&format!("echo {label}: hookr invoke_into heapless"), || {
                rt.invoke_into("echo", black_box(&payload), &mut fixed).unwrap();
                black_box(&fixed);
            });
        }
    }

    // --- a host call round trip, 16-byte payload
    let payload = [7u8; 16];
    let mut floor_hc = Floor::new(&engine, &linker, &host_call_module);
    floor_hc.store.data_mut().payload = payload.to_vec();
    floor_hc.call();
    assert_eq!(floor_hc.response(), payload);
    r.run("host call 16 B: floor (wasmi)", || {
        floor_hc.call();
        black_box(floor_hc.response());
    });
    let mut rt_hc = runtime(&host_call_wasm);
    assert_eq!(rt_hc.invoke("hc", &payload).unwrap(), payload);
    r.run("host call 16 B: hookr invoke_into", || {
        rt_hc.invoke_into("hc", black_box(&payload), &mut out).unwrap();
        black_box(&out);
    });

    // --- a typed call: a struct in, the same struct out (the echo plugin)
    let value = Echo { data: "Hello, Steve! A typed payload of some forty bytes.".into() };
    let mut request = Vec::new();
    r.run("typed echo: floor (wasmi + codec)", || {
        request.clear();
        codec::encode_into(black_box(&value), &mut request).unwrap();
        std::mem::swap(&mut floor.store.data_mut().payload, &mut request);
        floor.call();
        std::mem::swap(&mut floor.store.data_mut().payload, &mut request);
        let back: Echo = codec::from_slice(floor.response()).unwrap();
        black_box(back);
    });
    let back: Echo = rt.call("echo", &value).unwrap();
    assert_eq!(back.data, value.data);
    r.run("typed echo: hookr call", || {
        let back: Echo = rt.call("echo", black_box(&value)).unwrap();
        black_box(back);
    });

    // --- start-up
    let simple_hash = Sha256Hasher.hash(SIMPLE);
    let (big, count) = common::big_plugin();
    let big_hash = Sha256Hasher.hash(&big);
    println!("(simple.wasm is {} bytes; the big plugin {} bytes in {count} functions)", SIMPLE.len(), big.len());
    r.run("start-up simple: sha256 only", || {
        black_box(Sha256Hasher.hash(black_box(SIMPLE)));
    });
    // Like hookr, each start-up gets its own engine (an engine keeps every function it
    // compiled until it is dropped) and its own linker.
    r.run("start-up simple: floor (wasmi compile+inst)", || {
        let engine = floor_engine();
        let module = wasmi::Module::new(&engine, black_box(SIMPLE)).unwrap();
        let mut store = Store::new(&engine, ());
        store.set_fuel(FUEL).unwrap();
        let linker = simple_floor_linker(&engine);
        black_box(linker.instantiate_and_start(&mut store, &module).unwrap());
    });
    r.run("start-up simple: hookr bytes -> runtime", || {
        let rt = Runtime::builder(State)
            .bytes(black_box(SIMPLE))
            .hash(&simple_hash)
            .hasher(Sha256Hasher)
            .host_fns(HOST_FNS)
            .build()
            .unwrap();
        black_box(rt);
    });
    r.run("start-up 100 KiB: sha256 only", || {
        black_box(Sha256Hasher.hash(black_box(&big)));
    });
    r.run("start-up 100 KiB: floor (wasmi compile+inst)", || {
        let engine = floor_engine();
        let module = wasmi::Module::new(&engine, black_box(&big)).unwrap();
        black_box(Floor::new(&engine, &floor_linker(&engine), &module));
    });
    r.run("start-up 100 KiB: hookr bytes -> runtime", || {
        let rt = Runtime::builder(State)
            .bytes(black_box(&big))
            .hash(&big_hash)
            .hasher(Sha256Hasher)
            .host_fns(HOST_FNS)
            .build()
            .unwrap();
        black_box(rt);
    });
    let compiled = Module::new(SIMPLE, "", &NoVerify, EngineConfig::default()).unwrap();

    // --- a fresh runtime from the compiled module (`instances` has more about instances)
    let fresh_paired = common::fresh_instance(&mut r, &compiled);

    // --- the whole stack on simple.wasm
    let mut simple = Runtime::builder(State).module(compiled.clone()).host_fns(HOST_FNS).build().unwrap();
    assert_eq!(SENTENCE.len(), 86);
    assert_eq!(simple.invoke("vowel", SENTENCE).unwrap(), b"23");
    r.run("simple vowel 0 B: invoke_into", || {
        simple.invoke_into("vowel", black_box(b""), &mut out).unwrap();
        black_box(&out);
    });
    r.run("simple vowel 86 B: invoke_into", || {
        simple.invoke_into("vowel", black_box(SENTENCE), &mut out).unwrap();
        black_box(&out);
    });
    assert_eq!(simple.invoke("echoByte", SENTENCE).unwrap(), [b"Hello, ", SENTENCE].concat());
    r.run("simple echoByte 86 B: invoke_into", || {
        simple.invoke_into("echoByte", black_box(SENTENCE), &mut out).unwrap();
        black_box(&out);
    });
    let steve = Echo { data: "Steve".into() };
    let reply: Echo = simple.call("echo", &steve).unwrap();
    assert_eq!(reply.data, "Hello, Steve!");
    r.run("simple typed echo: call", || {
        let reply: Echo = simple.call("echo", black_box(&steve)).unwrap();
        black_box(reply);
    });

    // --- the same calls with no allocation: fixed outputs, fixed host replies,
    // heapless strings, error texts kept by the runtime
    let mut fixed =
        Runtime::builder(State).module(compiled.clone()).host_fns(FIXED_HOST_FNS).keep_error_texts().build().unwrap();
    let mut small = heapless::Vec::<u8, 128>::new();
    fixed.invoke_into("vowel", SENTENCE, &mut small).unwrap();
    assert_eq!(small, b"23");
    r.run("simple vowel 86 B: invoke_into heapless", || {
        fixed.invoke_into("vowel", black_box(SENTENCE), &mut small).unwrap();
        black_box(&small);
    });
    fixed.invoke_into("echoByte", SENTENCE, &mut small).unwrap();
    assert_eq!(small, [b"Hello, ", SENTENCE].concat()[..]);
    r.run("simple echoByte 86 B: invoke_into heapless", || {
        fixed.invoke_into("echoByte", black_box(SENTENCE), &mut small).unwrap();
        black_box(&small);
    });
    let fixed_steve = FixedEcho { data: heapless::String::try_from("Steve").unwrap() };
    let reply: FixedEcho = fixed.call("echo", &fixed_steve).unwrap();
    assert_eq!(reply.data, "Hello, Steve!");
    r.run("simple typed echo: call heapless", || {
        let reply: FixedEcho = fixed.call("echo", black_box(&fixed_steve)).unwrap();
        black_box(reply);
    });
    let mut vec_out = Vec::new();
    r.run("simple nope: Error::Plugin", || {
        black_box(simple.invoke_into("nope", b"", &mut vec_out).unwrap_err());
    });
    r.run("simple nope: Error::PluginKept", || {
        black_box(fixed.invoke_into("nope", b"", &mut small).unwrap_err());
    });

    // --- the same work through both ABIs: hand-written guests, then real plugins
    let wapc_echo = wat::parse_str(as_wapc(ECHO)).unwrap();
    let mut wapc_rt = runtime(&wapc_echo);
    assert_eq!(wapc_rt.module().abi(), hookr::Abi::Wapc);
    for &(label, n) in &SIZES[..3] {
        let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
        for (abi, rt) in [("hookr", &mut rt), ("waPC", &mut wapc_rt)] {
            assert_eq!(rt.invoke("echo", &payload).unwrap(), payload);
            r.run(&format!("abi echo {label}: {abi}"), || {
                rt.invoke_into("echo", black_box(&payload), &mut out).unwrap();
                black_box(&out);
            });
        }
    }
    let payload = [7u8; 16];
    for (case, blen, nlen) in [("waPC", 0, 0), ("waPC, binding+namespace", 4, 9)] {
        let wat = WAPC_HOST_CALL.replace("BLEN", &blen.to_string()).replace("NLEN", &nlen.to_string());
        let mut wapc_hc = runtime(&wat::parse_str(wat).unwrap());
        assert_eq!(wapc_hc.invoke("hc", &payload).unwrap(), payload);
        r.run(&format!("abi host call 16 B: {case}"), || {
            wapc_hc.invoke_into("hc", black_box(&payload), &mut out).unwrap();
            black_box(&out);
        });
    }
    // Same work, other guest kits: `simple` (hookr's kit) and `wapc-demo` (wapc-guest)
    // both send the payload to the host's `helloByte` and answer its reply.
    let mut wapc_demo = runtime(WAPC_DEMO);
    assert_eq!(wapc_demo.invoke("greet_plain", SENTENCE).unwrap(), [b"Hello, ", SENTENCE].concat());
    r.run("wapc-demo greet_plain 86 B: invoke_into", || {
        wapc_demo.invoke_into("greet_plain", black_box(SENTENCE), &mut out).unwrap();
        black_box(&out);
    });
    r.run("wapc-demo echo 86 B: invoke_into", || {
        wapc_demo.invoke_into("echo", black_box(SENTENCE), &mut out).unwrap();
        black_box(&out);
    });

    summary(&r, fresh_paired);
}

/// The tables; `fresh_paired` is the fresh-instance ratio timed in alternation.
fn summary(r: &Results, fresh_paired: Option<f64>) {
    println!();
    println!("{:<28} {:>12} {:>12} {:>8} {:>12} {:>8}", "case", "floor", "invoke_into", "ratio", "invoke", "ratio");
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    let ns = |v: Option<f64>| v.map_or("-".into(), fmt_ns);
    for &(label, _) in SIZES {
        let floor = r.get(&format!("echo {label}: floor (wasmi)"));
        let into = r.get(&format!("echo {label}: hookr invoke_into"));
        let inv = r.get(&format!("echo {label}: hookr invoke"));
        println!(
            "{:<28} {:>12} {:>12} {:>8} {:>12} {:>8}",
            format!("echo {label}"),
            ns(floor),
            ns(into),
            ratio(into, floor),
            ns(inv),
            ratio(inv, floor)
        );
    }
    for (label, floor, hookr) in [
        ("host call 16 B", "host call 16 B: floor (wasmi)", "host call 16 B: hookr invoke_into"),
        ("typed echo", "typed echo: floor (wasmi + codec)", "typed echo: hookr call"),
        ("start-up simple", "start-up simple: floor (wasmi compile+inst)", "start-up simple: hookr bytes -> runtime"),
        (
            "start-up 100 KiB",
            "start-up 100 KiB: floor (wasmi compile+inst)",
            "start-up 100 KiB: hookr bytes -> runtime",
        ),
    ] {
        let (f, h) = (r.get(floor), r.get(hookr));
        println!("{:<28} {:>12} {:>12} {:>8}", label, ns(f), ns(h), ratio(h, f));
    }
    common::print_fresh_instance(r, fresh_paired);
    println!();
    println!("{:<28} {:>12} {:>12} {:>8}", "same work, two ABIs", "hookr", "waPC", "ratio");
    for (label, hookr, wapc) in [
        ("echo 0 B", "abi echo 0 B: hookr", "abi echo 0 B: waPC"),
        ("echo 64 B", "abi echo 64 B: hookr", "abi echo 64 B: waPC"),
        ("echo 4 KiB", "abi echo 4 KiB: hookr", "abi echo 4 KiB: waPC"),
        ("host call 16 B", "host call 16 B: hookr invoke_into", "abi host call 16 B: waPC"),
        ("host call 16 B, bd+ns", "host call 16 B: hookr invoke_into", "abi host call 16 B: waPC, binding+namespace"),
    ] {
        let (h, w) = (r.get(hookr), r.get(wapc));
        println!("{:<28} {:>12} {:>12} {:>8}", label, ns(h), ns(w), ratio(w, h));
    }
    println!();
    println!("{:<28} {:>12} {:>12} {:>8}", "no allocation", "Vec / owned", "fixed", "ratio");
    let pairs = [
        ("echo 0 B", "echo 0 B: hookr invoke_into", "echo 0 B: hookr invoke_into heapless"),
        ("echo 64 B", "echo 64 B: hookr invoke_into", "echo 64 B: hookr invoke_into heapless"),
        ("echo 4 KiB", "echo 4 KiB: hookr invoke_into", "echo 4 KiB: hookr invoke_into heapless"),
        ("simple vowel 86 B", "simple vowel 86 B: invoke_into", "simple vowel 86 B: invoke_into heapless"),
        ("simple echoByte 86 B", "simple echoByte 86 B: invoke_into", "simple echoByte 86 B: invoke_into heapless"),
        ("simple typed echo", "simple typed echo: call", "simple typed echo: call heapless"),
        ("simple nope (fails)", "simple nope: Error::Plugin", "simple nope: Error::PluginKept"),
    ];
    for (label, owned, fixed) in pairs {
        let (o, f) = (r.get(owned), r.get(fixed));
        println!("{:<28} {:>12} {:>12} {:>8}", label, ns(o), ns(f), ratio(f, o));
    }
    println!();
    for name in [
        "simple vowel 0 B: invoke_into",
        "simple vowel 86 B: invoke_into",
        "simple echoByte 86 B: invoke_into",
        "simple typed echo: call",
        "simple vowel 86 B: invoke_into heapless",
        "simple echoByte 86 B: invoke_into heapless",
        "simple typed echo: call heapless",
        "simple nope: Error::Plugin",
        "simple nope: Error::PluginKept",
        "wapc-demo greet_plain 86 B: invoke_into",
        "wapc-demo echo 86 B: invoke_into",
    ] {
        if let Some(v) = r.get(name) {
            println!("{name:<44} {:>12}", fmt_ns(v));
        }
    }
}
