//! Memories with 1-byte pages (the Wasm custom-page-sizes proposal): a plugin gets
//! exactly the memory it asks for, limits are in bytes whatever the page size, and
//! hostile memories (huge maximums, growth byte by byte, other page sizes, no memory at
//! all) end in clear errors while the host keeps working.

mod common;

use hookr::{EngineConfig, Error, Limits, Module, NoVerify, Runtime};

/// An echo plugin whose memory is `memory` (a WAT memory declaration, exported) and
/// which answers:
/// - `echo`: the payload, read at address 16 (the operation name at 0);
/// - `grow`: grows memory one page at a time until refused, then answers `memory.size`
///   (4 LE bytes);
/// - `Grow`: one `memory.grow` by the payload (4 LE bytes), answering its result.
fn plugin(memory: &str) -> Vec<u8> {
    common::wasm(&format!(
        r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  {memory}
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 0) (i32.const 16))
    ;; `g`: grow one page at a time.
    (if (i32.and (i32.ne (local.get $op) (i32.const 0)) (i32.eq (i32.load8_u (i32.const 0)) (i32.const 103)))
      (then
        (loop $more (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        (i32.store (i32.const 16) (memory.size))
        (call $resp (i32.const 16) (i32.const 4))
        (return (i32.const 1))))
    ;; `G`: one grow by the payload.
    (if (i32.and (i32.ne (local.get $op) (i32.const 0)) (i32.eq (i32.load8_u (i32.const 0)) (i32.const 71)))
      (then
        (i32.store (i32.const 16) (memory.grow (i32.load (i32.const 16))))
        (call $resp (i32.const 16) (i32.const 4))
        (return (i32.const 1))))
    (call $resp (i32.const 16) (local.get $len))
    (i32.const 1)))"#
    ))
}

fn runtime(wasm: &[u8], limits: Limits) -> Result<Runtime<()>, Error> {
    Runtime::builder(()).owned_bytes(wasm.to_vec()).limits(limits).build()
}

fn answer(rt: &mut Runtime<()>, op: &str, payload: &[u8]) -> u32 {
    u32::from_le_bytes(rt.invoke(op, payload).unwrap().try_into().unwrap())
}

#[test]
fn a_plugin_gets_exactly_the_bytes_it_asks_for() {
    let wasm = plugin(r#"(memory (export "memory") 300 (pagesize 1))"#);
    assert_eq!(hookr::memory_page_sizes(&wasm), Some(vec![1]));
    let mut rt = runtime(&wasm, Limits::default()).unwrap();
    assert_eq!(rt.memory_size(), 300);
    assert_eq!(rt.module().memory_page_size(), 1);
    assert_eq!(rt.invoke("echo", b"fits").unwrap(), b"fits");
    // The payload goes at 16: 284 bytes fit, one more does not.
    assert_eq!(rt.invoke("echo", &[7; 284]).unwrap(), [7; 284]);
    let err = rt.invoke("echo", &[7; 285]).unwrap_err();
    assert!(matches!(&err, Error::BadGuestPointer { .. }), "{err:?}");
    assert_eq!(rt.invoke("echo", b"still here").unwrap(), b"still here");
    // A 64 KiB-page plugin reports its page size too.
    let plain = runtime(&plugin(r#"(memory (export "memory") 1)"#), Limits::default()).unwrap();
    assert_eq!((plain.memory_size(), plain.module().memory_page_size()), (65536, 65536));
}

#[test]
fn growth_stops_at_the_byte_limit_one_byte_at_a_time() {
    let wasm = plugin(r#"(memory (export "memory") 100 (pagesize 1))"#);
    let mut rt = runtime(&wasm, Limits::default().with_max_memory_bytes(1000)).unwrap();
    // `memory.grow` counts bytes here: the guest grows byte by byte up to the limit.
    assert_eq!(answer(&mut rt, "grow", b""), 1000);
    assert_eq!(rt.memory_size(), 1000);
    // Past it, -1, as the spec says, and the memory stays as it was.
    assert_eq!(answer(&mut rt, "Grow", &1u32.to_le_bytes()), u32::MAX);
    assert_eq!(rt.memory_size(), 1000);
    // In 64 KiB pages, the same limit in bytes: one page is 65536 one-byte pages.
    let mut rt = runtime(&wasm, Limits::default().with_max_memory_pages(1)).unwrap();
    assert_eq!(answer(&mut rt, "Grow", &65436u32.to_le_bytes()), 100);
    assert_eq!(rt.memory_size(), 65536);
    assert_eq!(answer(&mut rt, "Grow", &1u32.to_le_bytes()), u32::MAX);
}

#[test]
fn huge_maximums_are_bounded_by_the_limit() {
    // The largest maximum a 32-bit memory of 1-byte pages can declare.
    let wasm = plugin(r#"(memory (export "memory") 64 4294967295 (pagesize 1))"#);
    let mut rt = runtime(&wasm, Limits::default().with_max_memory_bytes(4096)).unwrap();
    for delta in [u32::MAX, i32::MAX as u32, 1 << 20, 4096 - 63] {
        assert_eq!(answer(&mut rt, "Grow", &delta.to_le_bytes()), u32::MAX, "grow by {delta}");
    }
    assert_eq!(rt.memory_size(), 64);
    assert_eq!(answer(&mut rt, "Grow", &(4096u32 - 64).to_le_bytes()), 64);
    assert_eq!(rt.memory_size(), 4096);
    // Under the default limit (16 MiB) the plugin stops there, not at its maximum.
    let mut rt = runtime(&wasm, Limits::default()).unwrap();
    assert_eq!(answer(&mut rt, "Grow", &(16u32 << 20).to_le_bytes()), u32::MAX);
    assert_eq!(answer(&mut rt, "Grow", &((16u32 << 20) - 64).to_le_bytes()), 64);
    assert_eq!(rt.memory_size(), 16 << 20);
}

#[test]
fn initial_memory_over_the_byte_limit_fails_to_load() {
    let wasm = plugin(r#"(memory (export "memory") 70000 (pagesize 1))"#);
    let err = runtime(&wasm, Limits::default().with_max_memory_pages(1)).unwrap_err();
    assert!(matches!(&err, Error::MemoryLimit(_)), "{err:?}");
    let err = runtime(&wasm, Limits::default().with_max_memory_bytes(69_999)).unwrap_err();
    assert!(matches!(&err, Error::MemoryLimit(_)), "{err:?}");
    let rt = runtime(&wasm, Limits::default().with_max_memory_bytes(70_000)).unwrap();
    assert_eq!(rt.memory_size(), 70_000);
}

#[test]
fn a_memory_of_no_bytes_fails_every_access_and_can_grow() {
    let wasm = plugin(r#"(memory (export "memory") 0 (pagesize 1))"#);
    let mut rt = runtime(&wasm, Limits::default()).unwrap();
    assert_eq!(rt.memory_size(), 0);
    // The host's first write into guest memory (the operation name) is out of bounds.
    for _ in 0..2 {
        let err = rt.invoke("echo", b"x").unwrap_err();
        assert!(matches!(&err, Error::BadGuestPointer { .. }), "{err:?}");
    }
    // A plugin that reads no request: an empty response needs no memory; an operation
    // of one byte grows memory by 8 bytes and answers them; a store past the end traps.
    let wasm = common::wasm(
        r#"(module
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 0 (pagesize 1))
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (if (i32.eqz (local.get $op)) (then (call $resp (i32.const 0) (i32.const 0)) (return (i32.const 1))))
    (if (i32.eq (local.get $op) (i32.const 2)) (then (i32.store8 (i32.const 0) (i32.const 1))))
    (drop (memory.grow (i32.const 8)))
    (i64.store (i32.const 0) (i64.const 0x0807060504030201))
    (call $resp (i32.const 0) (i32.const 8))
    (i32.const 1)))"#,
    );
    let mut rt = runtime(&wasm, Limits::default().with_max_memory_bytes(8)).unwrap();
    assert_eq!(rt.invoke("", b"").unwrap(), b"");
    assert_eq!(rt.invoke("g", b"").unwrap(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(rt.memory_size(), 8);
    let mut rt = runtime(&wasm, Limits::default()).unwrap();
    let err = rt.invoke("st", b"").unwrap_err();
    assert!(matches!(&err, Error::Trap(hookr::TrapCode::MemoryOutOfBounds)), "{err:?}");
    assert_eq!(rt.invoke("", b"").unwrap(), b"");
    assert_eq!(rt.memory_size(), 0);
}

/// `wasm` with the page size of its memory (declared `(pagesize 1)`) set to
/// 2^`log2` bytes.
fn with_page_size_log2(wasm: &[u8], log2: u8) -> Vec<u8> {
    // The memory section of `(memory N (pagesize 1))` with N < 128: id 5, 4 bytes,
    // one memory, flags 0x08 (a page size follows), N, log2 0.
    let at = wasm.windows(4).position(|w| w == [5, 4, 1, 8]).expect("a memory section with a page size");
    assert_eq!(wasm[at + 5], 0);
    let mut out = wasm.to_vec();
    out[at + 5] = log2;
    out
}

#[test]
fn other_page_sizes_are_invalid_modules() {
    let wasm = plugin(r#"(memory (export "memory") 100 (pagesize 1))"#);
    for log2 in [1, 4, 15, 17, 31, 63, 64, 127] {
        let odd = with_page_size_log2(&wasm, log2);
        let err = Module::new(&odd, "", &NoVerify, EngineConfig::default()).unwrap_err();
        assert!(matches!(&err, Error::InvalidModule(_)), "page size 2^{log2}: {err:?}");
        let expected = 1u64.checked_shl(log2.into()).filter(|_| log2 < 64);
        assert_eq!(hookr::memory_page_sizes(&odd), expected.map(|size| vec![size]), "2^{log2}");
    }
    // 2^16 written out explicitly is the ordinary page size.
    let explicit = with_page_size_log2(&wasm, 16);
    let rt = runtime(&explicit, Limits::default()).unwrap();
    assert_eq!((rt.memory_size(), rt.module().memory_page_size()), (100 * 65536, 65536));
    // The host goes on loading and running plugins.
    let mut rt = runtime(&wasm, Limits::default()).unwrap();
    assert_eq!(rt.invoke("echo", b"fine").unwrap(), b"fine");
}

#[test]
fn the_proposal_can_be_turned_off() {
    let small = plugin(r#"(memory (export "memory") 300 (pagesize 1))"#);
    let off = EngineConfig::default().with_custom_page_sizes(false);
    let err = Module::new(&small, "", &NoVerify, off).unwrap_err();
    assert!(matches!(&err, Error::InvalidModule(_)), "{err:?}");
    let plain = plugin(r#"(memory (export "memory") 1)"#);
    let module = Module::new(&plain, "", &NoVerify, off).unwrap();
    let mut rt = Runtime::builder(()).module(module).build().unwrap();
    assert_eq!(rt.invoke("echo", b"ok").unwrap(), b"ok");
    // The builder passes the setting on to the module it compiles.
    let err = Runtime::builder(()).bytes(&small).engine_config(off).build().unwrap_err();
    assert!(matches!(&err, Error::InvalidModule(_)), "{err:?}");
}

#[test]
fn a_failed_call_starts_a_grown_memory_afresh() {
    let wasm = plugin(r#"(memory (export "memory") 100 (pagesize 1))"#);
    let mut rt = runtime(&wasm, Limits::default().with_max_memory_bytes(500)).unwrap();
    assert_eq!(answer(&mut rt, "grow", b""), 500);
    // A payload that does not fit fails the call; the next one runs on a fresh
    // instance, with the memory it started with.
    let err = rt.invoke("echo", &[1; 600]).unwrap_err();
    assert!(matches!(&err, Error::BadGuestPointer { .. }), "{err:?}");
    assert_eq!(rt.invoke("echo", b"again").unwrap(), b"again");
    assert_eq!(rt.memory_size(), 100);
}
