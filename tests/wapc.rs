//! waPC guests run through the same API as hookr plugins: the ABI is found from the
//! module, the `wapc-demo` plugin (built with the published `wapc-guest` crate) loads
//! with its hash pinned, calls host functions by binding, namespace and operation,
//! fails, traps and recovers, and runs metered, in slices and in a pool.

mod common;

use std::sync::{Arc, Mutex};

use hookr::{Abi, EngineConfig, Error, HostCall, HostError, HostFn, Module, Pool, Runtime, Serde, Sha256Hasher};

const WAPC_DEMO: &[u8] = include_bytes!("../targets/plugins/wapc-demo/wapc-demo.wasm");

#[derive(Default)]
struct Greeter {
    greeted: Vec<String>,
}

/// What `greet` calls: binding `demo`, namespace `greetings`, operation `hello`.
fn hello(state: &mut Greeter, name: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    state.greeted.push(String::from_utf8_lossy(name).into_owned());
    out.extend_from_slice(b"Hello from the demo binding, ");
    out.extend_from_slice(name);
    Ok(())
}

/// What `greet_plain` calls, with no binding and no namespace, as a hookr plugin would.
fn hello_byte(_: &mut Greeter, name: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(name);
    Ok(())
}

static HOST_FNS: &[HostFn<Greeter>] = &[
    HostFn::bytes("hello", hello).with_binding("demo").with_namespace("greetings"),
    HostFn::bytes("helloByte", hello_byte),
];

fn demo() -> Runtime<Greeter> {
    let hash = hookr::to_hex(&hookr::sha256(WAPC_DEMO));
    Runtime::builder(Greeter::default())
        .bytes(WAPC_DEMO)
        .hash(&hash)
        .hasher(Sha256Hasher)
        .host_fns(HOST_FNS)
        .logger(|_| {})
        .build()
        .unwrap()
}

fn plugin_error(result: Result<Vec<u8>, Error>) -> String {
    match result {
        Err(Error::Plugin(message)) => message.into(),
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[test]
fn a_wapc_guest_call_comes_back_through_invoke() {
    let mut rt = demo();
    assert_eq!(rt.module().abi(), Abi::Wapc);
    assert_eq!(rt.invoke("echo", b"Steve").unwrap(), b"Steve");
    assert_eq!(rt.invoke("echo", b"").unwrap(), b"");
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    assert_eq!(rt.invoke("echo", &big).unwrap(), big);
    let mut out = Vec::new();
    rt.invoke_into("echo", b"into", &mut out).unwrap();
    assert_eq!(out, b"into");
    let echo = rt.plugin_fn_bytes("echo");
    assert_eq!(echo.call(&mut rt, b"handle").unwrap(), b"handle");
}

#[test]
fn typed_calls_work_on_wapc_guests_too() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Point {
        x: i32,
        y: i32,
    }
    let mut rt = demo();
    let Serde(back): Serde<Point> = rt.call("echo", &Serde(Point { x: 3, y: -4 })).unwrap();
    assert_eq!(back, Point { x: 3, y: -4 });
}

#[test]
fn host_calls_are_found_by_binding_namespace_and_operation() {
    let mut rt = demo();
    assert_eq!(rt.invoke("greet", b"Steve").unwrap(), b"Hello from the demo binding, Steve");
    assert_eq!(rt.state().greeted, ["Steve"]);
    // No binding and no namespace: the host functions hookr plugins call.
    assert_eq!(rt.invoke("greet_plain", b"Steve").unwrap(), b"Hello, Steve");
    // An unregistered operation is a host error the guest reads, not a trap: the kit
    // turns it into its own error.
    assert_eq!(
        plugin_error(rt.invoke("ask_missing", b"")),
        "Host error: no handler registered for operation 'missing' (binding 'demo', namespace 'greetings')"
    );
    assert_eq!(rt.invoke("echo", b"fine").unwrap(), b"fine");
}

#[test]
fn closures_register_under_a_binding_and_namespace() {
    let mut rt = Runtime::builder(0u32)
        .bytes(WAPC_DEMO)
        .host_fn(("demo", "greetings", "hello"), |calls, name, out| {
            *calls += 1;
            out.extend_from_slice(b"closure: ");
            out.extend_from_slice(name);
            Ok(())
        })
        .host_fn_typed(("demo", "greetings", "missing"), |_, Serde(n): Serde<u8>| Ok::<_, HostError>(Serde(n + 1)))
        .build()
        .unwrap();
    assert_eq!(rt.invoke("greet", b"Steve").unwrap(), b"closure: Steve");
    assert_eq!(*rt.state(), 1);
    // A typed closure decodes the payload: 41 as a MessagePack positive fixint.
    assert_eq!(rt.invoke("ask_missing", &[41]).unwrap(), [42]);
    // `greet_plain`'s `helloByte` is registered nowhere.
    assert_eq!(
        plugin_error(rt.invoke("greet_plain", b"x")),
        "Host error: no handler registered for operation 'helloByte'"
    );
}

#[test]
fn a_handler_sees_the_binding_and_namespace() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let mut rt = Runtime::builder(())
        .bytes(WAPC_DEMO)
        .host_call_handler(move |_, call: HostCall<'_>, payload, out| {
            log.lock().unwrap().push(format!("{}|{}|{}", call.binding, call.namespace, call.operation));
            if call.operation == "missing" {
                return Err(HostError::new("refused by the handler"));
            }
            out.extend_from_slice(payload);
            Ok(())
        })
        .build()
        .unwrap();
    assert_eq!(rt.invoke("greet", b"a").unwrap(), b"a");
    assert_eq!(rt.invoke("greet_plain", b"b").unwrap(), b"b");
    assert_eq!(plugin_error(rt.invoke("ask_missing", b"")), "Host error: refused by the handler");
    assert_eq!(*seen.lock().unwrap(), ["demo|greetings|hello", "||helloByte", "demo|greetings|missing"]);

    // The plain handler answers only calls without binding and namespace.
    let mut rt = Runtime::builder(())
        .bytes(WAPC_DEMO)
        .call_handler(|_, op, _, out| {
            out.extend_from_slice(op.as_bytes());
            Ok(())
        })
        .build()
        .unwrap();
    assert_eq!(rt.invoke("greet_plain", b"").unwrap(), b"helloByte");
    assert_eq!(
        plugin_error(rt.invoke("greet", b"")),
        "Host error: no handler registered for operation 'hello' (binding 'demo', namespace 'greetings')"
    );
}

#[test]
fn guest_errors_and_unknown_operations_fail_the_call() {
    let mut rt = demo();
    assert_eq!(plugin_error(rt.invoke("fail", b"")), "planned failure");
    assert_eq!(plugin_error(rt.invoke("no_such_function", b"")), "No handler registered for function no_such_function");
    assert!(rt.last_call_failed());
    assert_eq!(rt.invoke("echo", b"after").unwrap(), b"after");
}

#[test]
fn a_trap_is_followed_by_a_good_call_on_a_fresh_instance() {
    let mut rt = demo();
    assert_eq!(rt.invoke("count", b"").unwrap(), b"1");
    assert_eq!(rt.invoke("count", b"").unwrap(), b"2");
    let err = rt.invoke("trap", b"").unwrap_err();
    assert!(matches!(err, Error::Trap(hookr::TrapCode::UnreachableCodeReached)), "{err:?}");
    // The next call runs in a new instance: `wapc_init` registered the functions again,
    // and the counter starts over. The host state is kept.
    assert_eq!(rt.invoke("count", b"").unwrap(), b"1");
    assert_eq!(rt.invoke("greet", b"again").unwrap(), b"Hello from the demo binding, again");
    assert_eq!(rt.state().greeted, ["again"]);
}

#[test]
fn console_log_lines_reach_the_logger() {
    let (lines, logger) = common::log_lines();
    let mut rt = Runtime::builder(()).bytes(WAPC_DEMO).logger(logger).build().unwrap();
    assert_eq!(rt.invoke("log", "waPC says hi ✓".as_bytes()).unwrap(), b"");
    assert_eq!(*lines.lock().unwrap(), ["waPC says hi ✓"]);
}

#[test]
fn calls_are_metered_and_run_in_slices_alike() {
    let mut rt = demo();
    let payload = vec![7u8; 100_000];
    // The first call grows the guest's heap; later ones take the same path.
    rt.invoke("echo", &payload).unwrap();
    rt.invoke("echo", &payload).unwrap();
    let whole = rt.last_call().fuel.unwrap();
    rt.invoke("echo", &payload).unwrap();
    assert_eq!(rt.last_call().fuel.unwrap(), whole, "the same call costs the same fuel");
    let mut out = Vec::new();
    let mut call = rt.start_sliced("echo", &payload, &mut out).unwrap();
    let mut slices = 1;
    while call.resume(1_000).is_pending() {
        slices += 1;
    }
    drop(call);
    assert_eq!(out, payload);
    assert!(slices > 10, "{slices}");
    assert_eq!(rt.last_call().fuel.unwrap(), whole, "sliced or whole, the same fuel");
    // Too little fuel ends the call, and the next one works.
    let mut starved =
        Runtime::builder(Greeter::default()).bytes(WAPC_DEMO).host_fns(HOST_FNS).fuel(whole / 2).build().unwrap();
    assert!(matches!(starved.invoke("echo", &payload), Err(Error::OutOfFuel)));
    assert_eq!(starved.invoke("echo", b"small").unwrap(), b"small");
}

#[test]
fn one_compiled_module_serves_a_pool() {
    let module =
        Module::new(WAPC_DEMO, &hookr::to_hex(&hookr::sha256(WAPC_DEMO)), &Sha256Hasher, EngineConfig::default())
            .unwrap();
    assert_eq!(module.abi(), Abi::Wapc);
    let pool =
        Pool::new(2, move || Runtime::builder(Greeter::default()).module(module.clone()).host_fns(HOST_FNS).build())
            .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let name = format!("thread {i}");
                let mut rt = pool.get().unwrap();
                let reply = rt.invoke("greet", name.as_bytes()).unwrap();
                assert_eq!(reply, format!("Hello from the demo binding, {name}").as_bytes());
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_hash_mismatch_fails_before_anything_is_parsed() {
    let err = Runtime::builder(())
        .bytes(WAPC_DEMO)
        .hash(&hookr::to_hex(&hookr::sha256(b"another module")))
        .hasher(Sha256Hasher)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------
// Which ABI a module uses

fn load(wat: &str) -> Result<Runtime<()>, Error> {
    Runtime::builder(()).bytes(&common::wasm(wat)).logger(|_| {}).build()
}

const WAPC_ECHO: &str = r#"(module
  (import "wapc" "__guest_request" (func $req (param i32 i32)))
  (import "wapc" "__guest_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "__guest_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 0) (i32.const 1024))
    (call $resp (i32.const 1024) (local.get $len))
    (i32.const 1)))"#;

#[test]
fn the_abi_is_found_from_imports_then_exports() {
    let mut rt = load(WAPC_ECHO).unwrap();
    assert_eq!(rt.module().abi(), Abi::Wapc);
    assert_eq!(rt.invoke("x", b"abc").unwrap(), b"abc");
    // The same echo through the hookr ABI.
    let hookr_echo = WAPC_ECHO
        .replace("\"wapc\" \"__guest_request\"", "\"hookr\" \"__plugin_request\"")
        .replace("\"wapc\" \"__guest_response\"", "\"hookr\" \"__plugin_response\"");
    let hookr_echo = hookr_echo.replace("__guest_call", "__plugin_call");
    let mut hookr_rt = load(&hookr_echo).unwrap();
    assert_eq!(hookr_rt.module().abi(), Abi::Hookr);
    assert_eq!(hookr_rt.invoke("x", b"abc").unwrap(), b"abc");
    // The same instructions and the same bytes moved: the same fuel.
    assert_eq!(rt.last_call().fuel, hookr_rt.last_call().fuel);
    // No imports at all: the entry point decides.
    let bare = r#"(module (memory (export "memory") 1)
        (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#;
    assert_eq!(load(bare).unwrap().module().abi(), Abi::Wapc);
    assert_eq!(load(&bare.replace("__guest_call", "__plugin_call")).unwrap().module().abi(), Abi::Hookr);
}

#[test]
fn mixing_the_abis_or_exporting_no_entry_fails_to_load() {
    let mixed = r#"(module
        (import "hookr" "__log" (func (param i32 i32)))
        (import "wapc" "__console_log" (func (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#;
    let err = load(mixed).unwrap_err();
    assert!(matches!(err, Error::InvalidModule(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid module: imports from both the hookr and the waPC ABI (`hookr::__log`, `wapc::__console_log`): a plugin uses one"
    );
    let both_entries = r#"(module (memory (export "memory") 1)
        (func $f (param i32 i32) (result i32) (i32.const 1))
        (export "__guest_call" (func $f)) (export "__plugin_call" (func $f)))"#;
    let err = load(both_entries).unwrap_err();
    assert!(
        err.to_string().contains("exports both `__plugin_call` (hookr ABI) and `__guest_call` (waPC ABI)"),
        "{err}"
    );
    let neither = r#"(module (memory (export "memory") 1))"#;
    let err = load(neither).unwrap_err();
    assert_eq!(err.to_string(), "module does not export `__plugin_call` or `__guest_call`");
    // A waPC import needs the waPC entry, whatever else is exported.
    let wrong_entry = r#"(module (import "wapc" "__console_log" (func (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#;
    let err = load(wrong_entry).unwrap_err();
    assert!(matches!(err, Error::MissingExport("__guest_call")), "{err:?}");
    let wrong_type = r#"(module (memory (export "memory") 1) (func (export "__guest_call") (param i32)))"#;
    assert_eq!(
        load(wrong_type).unwrap_err().to_string(),
        "invalid module: `__guest_call` must be a function (i32, i32) -> i32"
    );
}

#[test]
fn wapc_imports_are_checked_by_name_and_type() {
    let wrong_sig = r#"(module (import "wapc" "__host_call" (func (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#;
    let err = load(wrong_sig).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot link import `wapc::__host_call`: wrong type (every waPC import takes and returns i32 only)"
    );
    // hookr's names are not waPC's.
    let hookr_name = wrong_sig
        .replace("__host_call\" (func (param i32 i32 i32 i32) (result i32))", "__log\" (func (param i32 i32))");
    let err = load(&hookr_name).unwrap_err();
    assert_eq!(err.to_string(), "cannot link import `wapc::__log`: the `wapc` module has no such function");
}

#[test]
fn initialisers_run_in_the_wapc_order_and_again_after_a_trap() {
    // `wapc_init` is exported first, `_start` runs first all the same; hookr's own
    // initialisers are not a waPC guest's and do not run.
    let (lines, logger) = common::log_lines();
    let wasm = common::wasm(
        r#"(module
        (import "wapc" "__console_log" (func $log (param i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 0) "_start wapc_init _initialize hookr_init")
        (func (export "wapc_init") (call $log (i32.const 7) (i32.const 9)))
        (func (export "_start") (call $log (i32.const 0) (i32.const 6)))
        (func (export "_initialize") (call $log (i32.const 17) (i32.const 11)))
        (func (export "hookr_init") (call $log (i32.const 29) (i32.const 10)))
        (func (export "__guest_call") (param i32 i32) (result i32) unreachable))"#,
    );
    let mut rt = Runtime::builder(()).bytes(&wasm).logger(logger).build().unwrap();
    assert_eq!(*lines.lock().unwrap(), ["_start", "wapc_init"]);
    assert!(matches!(rt.invoke("x", b""), Err(Error::Trap(_))));
    rt.invoke("x", b"").unwrap_err();
    assert_eq!(*lines.lock().unwrap(), ["_start", "wapc_init", "_start", "wapc_init"]);
}

#[test]
fn a_failing_wapc_init_fails_the_load_and_proc_exit_0_from_start_does_not() {
    let err = load(
        r#"(module (memory (export "memory") 1)
        (func (export "wapc_init") unreachable)
        (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Init { name: "wapc_init", .. }), "{err:?}");
    // A TinyGo guest: WASI beside waPC, and a `_start` that ends with `proc_exit(0)`.
    let mut rt = load(
        r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (import "wapc" "__guest_response" (func $resp (param i32 i32)))
        (memory (export "memory") 1)
        (global $ready (mut i32) (i32.const 0))
        (data (i32.const 0) "ready")
        (func (export "_start") (call $exit (i32.const 0)))
        (func (export "wapc_init") (global.set $ready (i32.const 1)))
        (func (export "__guest_call") (param i32 i32) (result i32)
          (call $resp (i32.const 0) (i32.mul (global.get $ready) (i32.const 5))) (i32.const 1)))"#,
    )
    .unwrap();
    assert!(rt.module().uses_wasi());
    assert_eq!(rt.invoke("x", b"").unwrap(), b"ready");
}
