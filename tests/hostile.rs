//! Hostile plugins: wild pointers, endless loops, memory bombs, deep recursion and
//! floods end in a clear error, and the next call on the same runtime works.

mod common;

use hookr::{Error, HostError, Limits, Runtime, TrapCode};

fn runtime(limits: Limits) -> Runtime<()> {
    Runtime::builder(())
        .bytes(&common::kitchen())
        .limits(limits)
        .host_fn("big", |_, payload, out| {
            let n = u32::from_le_bytes(payload.try_into().map_err(|_| HostError::new("want 4 bytes"))?);
            out.resize(n as usize, 7);
            Ok(())
        })
        .logger(|_| {})
        .build()
        .unwrap()
}

/// The runtime still answers normally, from a fresh instance.
fn assert_recovered(rt: &mut Runtime<()>) {
    assert_eq!(rt.invoke("count", b"").unwrap(), 1u32.to_le_bytes(), "the instance was not reset");
    assert_eq!(rt.invoke("echo", b"still here").unwrap(), b"still here");
}

/// The imports the kitchen plugin's `P` calls, and whether each takes a length:
/// `__plugin_request`, `__host_response` and `__host_error` use the host's.
const IMPORTS: [(&str, bool); 7] = [
    ("__plugin_request", false),
    ("__plugin_response", true),
    ("__plugin_error", true),
    ("__host_call", true),
    ("__host_response", false),
    ("__host_error", false),
    ("__log", true),
];

#[test]
fn wild_pointers_in_every_import_are_errors() {
    let mut rt = runtime(Limits::default());
    common::wild_pointers_fail(&mut rt, &IMPORTS, assert_recovered);
    let msg = rt.invoke("P", &common::wild(1, 0xFFFF_FFF0, 100)).unwrap_err().to_string();
    assert!(msg.starts_with("bad guest pointer in `__plugin_response`: 100 bytes at 0xfffffff0"), "{msg}");
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let mut rt = runtime(Limits::default().with_fuel(Some(1_000_000)));
    let err = rt.invoke("Loop", b"").unwrap_err();
    assert!(matches!(err, Error::OutOfFuel), "{err:?}");
    assert_eq!(err.trap_code(), Some(TrapCode::OutOfFuel));
    assert_recovered(&mut rt);
    // Every call gets the full budget again.
    assert!(matches!(rt.invoke("Loop", b"").unwrap_err(), Error::OutOfFuel));
    assert_recovered(&mut rt);
}

#[test]
fn fuel_is_the_same_for_the_same_call() {
    let mut rt = runtime(Limits::default().with_fuel(Some(1_000_000)));
    // The first call grows memory to fit the payload; later ones take the same path.
    rt.invoke("echo", b"abc").unwrap();
    rt.invoke("echo", b"abc").unwrap();
    let first = rt.fuel_left().unwrap();
    rt.invoke("echo", b"abc").unwrap();
    assert_eq!(rt.fuel_left().unwrap(), first);
    assert!(first < 1_000_000);
}

#[test]
fn a_memory_bomb_stops_at_the_limit() {
    let mut rt = runtime(Limits::default().with_max_memory_pages(8));
    // `memory.grow` answers -1 at the limit, as the spec says; the plugin sees it.
    assert_eq!(rt.invoke("grow", b"").unwrap(), 8u32.to_le_bytes());
    // A payload that needs more memory than allowed makes this plugin trap.
    let err = rt.invoke("echo", &[0; 8 * 65536]).unwrap_err();
    assert!(matches!(err, Error::Trap(TrapCode::UnreachableCodeReached)), "{err:?}");
    // The failed instance keeps its memory until the next call or a reset.
    assert_eq!(rt.memory_size(), 8 * 65536);
    rt.reset().unwrap();
    assert_eq!(rt.memory_size(), 2 * 65536, "memory was not reset");
    assert_recovered(&mut rt);
}

#[test]
fn initial_memory_over_the_limit_fails_to_load() {
    let wasm = common::wasm(
        r#"(module (memory (export "memory") 300)
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let err = Runtime::builder(()).bytes(&wasm).max_memory_pages(256).build().unwrap_err();
    assert!(matches!(err, Error::MemoryLimit(_)), "{err:?}");
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_trap() {
    let mut rt = runtime(Limits::default());
    let err = rt.invoke("Recurse", b"").unwrap_err();
    assert!(matches!(err, Error::Trap(TrapCode::StackOverflow)), "{err:?}");
    assert_recovered(&mut rt);
}

#[test]
fn a_trap_resets_the_instance_but_keeps_host_state() {
    let mut rt = Runtime::builder(7u32).bytes(&common::kitchen()).build().unwrap();
    assert_eq!(rt.invoke("count", b"").unwrap(), 1u32.to_le_bytes());
    assert_eq!(rt.invoke("count", b"").unwrap(), 2u32.to_le_bytes());
    let err = rt.invoke("trap", b"").unwrap_err();
    assert_eq!(err.to_string(), "plugin trapped: wasm `unreachable` instruction executed");
    assert_eq!(rt.invoke("count", b"").unwrap(), 1u32.to_le_bytes());
    assert_eq!(*rt.state(), 7);
}

#[test]
fn a_million_responses_keep_only_the_last() {
    let mut rt = runtime(Limits::default());
    assert_eq!(rt.invoke("million", b"flood").unwrap(), b"flood");
    let mut fueled = runtime(Limits::default().with_fuel(Some(100_000)));
    assert!(matches!(fueled.invoke("million", b"flood").unwrap_err(), Error::OutOfFuel));
    assert_recovered(&mut fueled);
}

#[test]
fn an_oversized_host_response_is_refused() {
    let limits = Limits::default().with_max_host_response(1 << 20);
    let mut rt = runtime(limits);
    let ok = rt.invoke("h", &common::host_call("big", &(1u32 << 20).to_le_bytes())).unwrap();
    assert_eq!(ok.len(), 1 << 20);
    let err = rt.invoke("h", &common::host_call("big", &(100u32 << 20).to_le_bytes())).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { what: "host response", len, limit } if len == 100 << 20 && limit == 1 << 20),
        "{err:?}"
    );
    assert_recovered(&mut rt);
}

#[test]
fn oversized_responses_are_refused_and_long_errors_and_log_lines_cut() {
    let (lines, logger) = common::log_lines();
    let limits = Limits::default().with_max_response(1000).with_max_log(10).with_max_error(7);
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).limits(limits).logger(logger).build().unwrap();
    let err = rt.invoke("echo", &[1; 1001]).unwrap_err();
    assert!(matches!(err, Error::TooLarge { what: "plugin response", len: 1001, limit: 1000 }), "{err:?}");
    assert_recovered(&mut rt);
    // A log line or plugin error over its limit is cut and marked, and the call goes on.
    assert_eq!(rt.invoke("log", &[b'a'; 11]).unwrap(), b"");
    assert_eq!(rt.invoke("log", &[b'b'; 10]).unwrap(), b"");
    assert_eq!(*lines.lock().unwrap(), ["aaaaaaaaaa … [truncated from 11 bytes]", "bbbbbbbbbb"]);
    let err = rt.invoke("fail", b"").unwrap_err();
    assert_eq!(err.to_string(), "plugin error: planned … [truncated from 15 bytes]");
}

#[test]
fn plugin_error_texts_are_the_same_words_within_the_same_bound_whether_kept_or_not() {
    // Fails every call with its payload as the error message.
    let wasm = common::wasm(
        r#"(module
        (import "hookr" "__plugin_request" (func $req (param i32 i32)))
        (import "hookr" "__plugin_error" (func $err (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
          (call $req (i32.const 0) (i32.const 256))
          (call $err (i32.const 256) (local.get $len))
          (i32.const 0)))"#,
    );
    let build = |keep: bool| {
        let builder = Runtime::builder(()).bytes(&wasm).limits(Limits::default().with_max_error(8));
        if keep { builder.keep_error_texts() } else { builder }.build().unwrap()
    };
    let (mut kept, mut carried) = (build(true), build(false));
    for payload in [&b"short"[..], b"abcdefg\xc3\xa9x", b"\xff\xff\xff\xff\xff\xff\xff\xff", b"ab\xffcd", b"exactly8"] {
        let Err(Error::PluginKept { len }) = kept.invoke("x", payload) else { panic!("kept: {payload:?}") };
        let kept_text = kept.last_error_text().unwrap().to_owned();
        assert_eq!(len, kept_text.len());
        let Err(Error::Plugin(text)) = carried.invoke("x", payload) else { panic!("carried: {payload:?}") };
        assert_eq!(&*text, kept_text, "{payload:?}");
        // At most `max_error` bytes of the message, and the note when it was cut.
        let message = text.split(" … [truncated from").next().unwrap();
        assert!(message.len() <= 8, "{text:?}");
        assert_eq!(text.contains(" … [truncated from"), message != String::from_utf8_lossy(payload), "{text:?}");
    }
}

#[test]
fn a_max_error_too_large_to_reserve_is_a_configuration_error() {
    let limits = Limits::default().with_max_error(usize::MAX);
    let err = Runtime::builder(()).bytes(&common::kitchen()).limits(limits).keep_error_texts().build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    // Without kept texts nothing is reserved up front, and the limit only bounds.
    Runtime::builder(()).bytes(&common::kitchen()).limits(limits).build().unwrap();
}

#[test]
fn table_elements_over_the_limit_fail_to_load() {
    let wasm = common::wasm(
        r#"(module (memory (export "memory") 1) (table 20000 funcref)
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let err = Runtime::builder(()).bytes(&wasm).build().unwrap_err();
    assert!(matches!(err, Error::MemoryLimit(_)), "{err:?}");
}

#[test]
fn a_host_function_cannot_reenter_its_runtime() {
    use std::sync::{Arc, Mutex};
    // The only way back to the runtime from a host function is through something the
    // host shares on purpose; `try_lock` turns the attempt into a clear host error.
    let slot: Arc<Mutex<Option<Runtime<()>>>> = Arc::new(Mutex::new(None));
    let inner = slot.clone();
    let rt = Runtime::builder(())
        .bytes(&common::kitchen())
        .host_fn("reenter", move |_, payload, out| {
            let mut guard = inner.try_lock().map_err(|_| HostError::new("the runtime is busy with this call"))?;
            let rt = guard.as_mut().ok_or(HostError::new("no runtime"))?;
            *out = rt.invoke("echo", payload).map_err(|e| HostError::from(e.to_string()))?;
            Ok(())
        })
        .build()
        .unwrap();
    *slot.lock().unwrap() = Some(rt);
    let mut guard = slot.lock().unwrap();
    let rt = guard.as_mut().unwrap();
    let err = rt.invoke("h", &common::host_call("reenter", b"x")).unwrap_err();
    assert_eq!(err.to_string(), "plugin error: the runtime is busy with this call");
    assert_eq!(rt.invoke("echo", b"fine").unwrap(), b"fine");
}

#[test]
fn a_panicking_host_function_or_logger_ends_the_call_not_the_process() {
    let mut rt = Runtime::builder(())
        .bytes(&common::kitchen())
        .host_fn("boom", |_, _, _| panic!("host bug"))
        .logger(|line| assert!(line != "boom", "logger bug"))
        .build()
        .unwrap();
    let err = rt.invoke("h", &common::host_call("boom", b"")).unwrap_err();
    assert_eq!(err.to_string(), "host error: a host function panicked");
    assert_recovered(&mut rt);
    let err = rt.invoke("log", b"boom").unwrap_err();
    assert_eq!(err.to_string(), "host error: the logger panicked");
    assert_recovered(&mut rt);
}

/// An output buffer written naively: it panics on a response longer than it.
struct NaiveOutput([u8; 4], usize);

impl hookr::io::Output for NaiveOutput {
    fn as_bytes(&self) -> &[u8] {
        &self.0[..self.1]
    }
    fn clear(&mut self) {
        self.1 = 0;
    }
    fn replace(&mut self, bytes: &[u8]) -> Result<(), hookr::io::OutputFull> {
        self.0[..bytes.len()].copy_from_slice(bytes);
        self.1 = bytes.len();
        Ok(())
    }
    fn limit(&self) -> Option<usize> {
        Some(4)
    }
}

#[test]
fn a_panicking_output_buffer_ends_the_call_not_the_process() {
    use hookr::io::Output;
    // The plugin chooses the response's length; the host's `Output` runs inside the
    // interpreter, where an unwinding panic would abort the process.
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).build().unwrap();
    let mut out = NaiveOutput([0; 4], 0);
    rt.invoke_into("echo", b"fine", &mut out).unwrap();
    assert_eq!(out.as_bytes(), b"fine");
    let err = rt.invoke_into("echo", b"too long", &mut out).unwrap_err();
    assert_eq!(err.to_string(), "host error: the output buffer panicked");
    assert_recovered(&mut rt);
}

#[test]
fn one_fd_write_cannot_flood_the_host() {
    // 4000 iovecs that all name the whole 64 KiB page: 256 MiB in one call.
    let wasm = common::wasm(
        r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
        (memory (export "memory") 2)
        (func (export "__plugin_call") (param i32 i32) (result i32) (local $i i32)
          (block $done (loop $fill
            (br_if $done (i32.eq (local.get $i) (i32.const 4000)))
            (i32.store (i32.add (i32.const 65536) (i32.mul (local.get $i) (i32.const 8))) (i32.const 0))
            (i32.store (i32.add (i32.const 65540) (i32.mul (local.get $i) (i32.const 8))) (i32.const 65536))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $fill)))
          (i32.store (i32.const 100) (call $w (i32.const 1) (i32.const 65536) (i32.const 4000) (i32.const 104)))
          (call $resp (i32.const 100) (i32.const 8))
          (i32.const 1)))"#,
    );
    let written = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    struct Count(std::sync::Arc<std::sync::Mutex<usize>>);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            *self.0.lock().unwrap() += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let limits = Limits::default().with_max_output(100_000);
    let mut rt = Runtime::builder(()).bytes(&wasm).limits(limits).stdout(Count(written.clone())).build().unwrap();
    let reply = rt.invoke("x", b"").unwrap();
    let (errno, nwritten) =
        (u32::from_le_bytes(reply[..4].try_into().unwrap()), u32::from_le_bytes(reply[4..].try_into().unwrap()));
    assert_eq!((errno, nwritten), (0, 100_000), "a short write of the cap");
    assert_eq!(*written.lock().unwrap(), 100_000);
}

/// A type that holds itself, for payloads nested past any stack.
#[derive(Debug, hookr::codec::Encode, hookr::codec::Decode)]
struct Tree {
    children: Vec<Tree>,
}

/// Bytes that are already MessagePack, sent as they are.
struct Raw(Vec<u8>);

impl hookr::codec::Encode for Raw {
    fn encode(&self, e: &mut hookr::codec::Encoder<'_>) -> Result<(), hookr::codec::EncodeError> {
        e.raw(&self.0);
        Ok(())
    }
}

#[test]
fn payloads_nested_past_the_depth_limit_are_decode_errors_on_either_side() {
    // 200 000 levels of arrays: decoded recursively, far more stack than a thread has.
    let mut deep = vec![0x91u8; 200_000];
    deep.push(0x90);
    let mut rt = Runtime::builder(())
        .bytes(&common::kitchen())
        .host_fn_typed("tree", |_, tree: Tree| Ok(tree.children.len() as u32))
        .build()
        .unwrap();
    // The plugin answers with the request itself: the host decodes its response.
    let err = rt.call::<Raw, Tree>("echo", &Raw(deep.clone())).unwrap_err();
    assert!(matches!(err, Error::Decode(hookr::codec::DecodeError::TooDeep)), "{err:?}");
    // The plugin passes it to a typed host function, whose decode fails: a host error
    // the plugin reports.
    let err = rt.invoke("h", &common::host_call("tree", &deep)).unwrap_err().to_string();
    assert!(err.contains("nest deeper than"), "{err}");
    // A tree within the limit still goes through, and the runtime goes on.
    let ok: u32 =
        hookr::codec::from_slice(&rt.invoke("h", &common::host_call("tree", &[0x91, 0x91, 0x91, 0x90])).unwrap())
            .unwrap();
    assert_eq!(ok, 1);
    assert_eq!(rt.invoke("echo", b"still here").unwrap(), b"still here");
}

/// A type that holds itself with 8 KiB inline on every level: a few dozen levels, well
/// within the depth limit, would take more stack than a thread has.
#[derive(Debug, hookr::codec::Encode, hookr::codec::Decode)]
struct HeavyTree {
    #[codec(default)]
    blob: hookr::heapless::Vec<u8, 8192>,
    #[codec(default)]
    kids: Vec<HeavyTree>,
}

/// `levels` of `{"kids": [...]}` around an empty map.
fn heavy_tree(levels: usize) -> Vec<u8> {
    let mut bytes = b"\x81\xa4kids\x91".repeat(levels);
    bytes.push(0x80);
    bytes
}

#[test]
fn recursive_types_with_large_fields_stop_at_the_stack_bound_on_either_side() {
    let deep = heavy_tree(63);
    let build = |limits: Limits| {
        Runtime::builder(())
            .bytes(&common::kitchen())
            .limits(limits)
            .host_fn_typed("heavy", |_, tree: HeavyTree| Ok(tree.kids.len() as u32))
            .build()
            .unwrap()
    };
    let mut rt = build(Limits::default());
    // The plugin answers with the request itself: the host decodes its response.
    let err = rt.call::<Raw, HeavyTree>("echo", &Raw(deep.clone())).unwrap_err();
    let stack = Limits::default().max_decode_stack;
    assert!(matches!(err, Error::Decode(hookr::codec::DecodeError::TooMuchStack(s)) if s == stack), "{err:?}");
    // Through a typed host function: a host error the plugin reports.
    let err = rt.invoke("h", &common::host_call("heavy", &deep)).unwrap_err().to_string();
    assert!(err.contains("bytes of stack allow"), "{err}");
    // A shallow tree goes through, and the runtime goes on.
    let two: HeavyTree = rt.call("echo", &Raw(heavy_tree(2))).unwrap();
    assert_eq!(two.kids.len(), 1);
    let ok: u32 =
        hookr::codec::from_slice(&rt.invoke("h", &common::host_call("heavy", &heavy_tree(1))).unwrap()).unwrap();
    assert_eq!(ok, 1);
    // A host on a small stack lowers the bound: then two levels are too many.
    let mut small = build(Limits::default().with_max_decode_stack(1024));
    let err = small.call::<Raw, HeavyTree>("echo", &Raw(heavy_tree(2))).unwrap_err();
    assert!(matches!(err, Error::Decode(hookr::codec::DecodeError::TooMuchStack(1024))), "{err:?}");
    assert_eq!(small.invoke("echo", b"still here").unwrap(), b"still here");
}

/// 4 KiB inline: an empty map, one byte on the wire, decodes into 4 KiB.
#[derive(Debug, hookr::codec::Decode)]
struct Fat {
    #[codec(default)]
    #[allow(dead_code)]
    buf: hookr::heapless::Vec<u8, 4096>,
}

/// An array of `n` empty maps.
fn fat_array(n: u32) -> Vec<u8> {
    let mut bytes = vec![0xdd];
    bytes.extend_from_slice(&n.to_be_bytes());
    bytes.extend(std::iter::repeat_n(0x80, n as usize));
    bytes
}

#[test]
fn values_far_larger_in_memory_than_on_the_wire_stop_at_the_memory_bound() {
    let mut rt = Runtime::builder(())
        .bytes(&common::kitchen())
        .host_fn_typed("fat", |_, fats: Vec<Fat>| Ok(fats.len() as u32))
        .build()
        .unwrap();
    // 64 KiB on the wire would be 256 MiB of `Fat`s: refused at 64 MiB.
    let bomb = fat_array(65_536);
    let memory = Limits::default().max_decode_memory;
    let err = rt.call::<Raw, Vec<Fat>>("echo", &Raw(bomb.clone())).unwrap_err();
    assert!(matches!(err, Error::Decode(hookr::codec::DecodeError::TooMuchMemory(m)) if m == memory), "{err:?}");
    let err = rt.invoke("h", &common::host_call("fat", &bomb)).unwrap_err().to_string();
    assert!(err.contains("bytes of memory"), "{err}");
    // Within the bound they decode.
    let fats: Vec<Fat> = rt.call("echo", &Raw(fat_array(1000))).unwrap();
    assert_eq!(fats.len(), 1000);
    // The bound is the host's: 1 MiB holds this many of them, and not one more.
    let fits = (1 << 20) / std::mem::size_of::<Fat>() as u32;
    let mut tight = Runtime::builder(())
        .bytes(&common::kitchen())
        .limits(Limits::default().with_max_decode_memory(1 << 20))
        .build()
        .unwrap();
    assert_eq!(tight.call::<Raw, Vec<Fat>>("echo", &Raw(fat_array(fits))).unwrap().len(), fits as usize);
    let err = tight.call::<Raw, Vec<Fat>>("echo", &Raw(fat_array(fits + 1))).unwrap_err();
    assert!(matches!(err, Error::Decode(hookr::codec::DecodeError::TooMuchMemory(m)) if m == 1 << 20), "{err:?}");
}

#[test]
fn a_function_of_too_many_locals_fails_to_load() {
    // Called in a loop, a function of 30 000 locals makes each unit of fuel take about
    // 200 times as long as it should: its locals are cleared on every call, for free.
    let plugin = |locals: usize| {
        common::wasm(&format!(
            r#"(module (memory (export "memory") 1)
            (func $fat {})
            (func (export "__plugin_call") (param i32 i32) (result i32) (loop $l (call $fat) (br $l)) (i32.const 1)))"#,
            "(local i64) ".repeat(locals)
        ))
    };
    let err = Runtime::builder(()).bytes(&plugin(30_000)).build().unwrap_err();
    assert!(matches!(&err, Error::InvalidModule(m) if m.contains("declares 30000 locals")), "{err:?}");
    let err = Runtime::builder(()).bytes(&plugin(1001)).build().unwrap_err();
    assert!(matches!(&err, Error::InvalidModule(m) if m.contains("max_function_locals")), "{err:?}");
    // At the bound it loads, and its loop runs out of fuel as any loop does.
    let mut rt = Runtime::builder(()).bytes(&plugin(1000)).fuel(100_000).build().unwrap();
    assert!(matches!(rt.invoke("x", b"").unwrap_err(), Error::OutOfFuel));
    // A host that trusts its plugins raises the bound.
    let config = hookr::EngineConfig::default().with_max_function_locals(30_000);
    let module = hookr::Module::new(&plugin(30_000), "", &hookr::NoVerify, config).unwrap();
    let mut rt = Runtime::builder(()).module(module).fuel(1_000).build().unwrap();
    assert!(matches!(rt.invoke("x", b"").unwrap_err(), Error::OutOfFuel));
}
