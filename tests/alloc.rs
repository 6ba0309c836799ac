//! In steady state `invoke_into` allocates nothing and `invoke` allocates once (the
//! vector it returns), for a WAT echo plugin and for the `simple` plugin's byte calls,
//! metered, and run in slices too; and a call does not leave a big buffer behind.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use hookr::{HostError, HostFn, Runtime};

/// Counts the allocations made on a thread while that thread has counting switched on,
/// so the test harness's own threads never disturb the count.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed while counting.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

fn note_bytes(delta: isize) {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = LIVE.try_with(|n| n.set(n.get() + delta));
        }
    });
}

// SAFETY: every call is passed straight to the system allocator; counting touches
// only `const`-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        note_bytes(layout.size() as isize);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        note_bytes(layout.size() as isize);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        note_bytes(new_size as isize - layout.size() as isize);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_bytes(-(layout.size() as isize));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The number of allocations (and reallocations) `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    counted(f).0
}

/// The allocations `f` makes on this thread, and the bytes it leaves allocated.
fn counted(f: impl FnOnce()) -> (usize, isize) {
    ALLOCATIONS.with(|n| n.set(0));
    LIVE.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    (ALLOCATIONS.with(Cell::get), LIVE.with(Cell::get))
}

/// Echoes the payload: the operation name lands at 0, the payload at 1024.
const ECHO: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 0) (i32.const 1024))
    (call $resp (i32.const 1024) (local.get $len))
    (i32.const 1)))"#;

const SIMPLE: &[u8] = include_bytes!("../targets/plugins/simple/simple.wasm");

fn hello_byte(_: &mut (), input: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(input);
    Ok(())
}

static HOST_FNS: &[HostFn<()>] = &[HostFn::bytes("helloByte", hello_byte)];

/// Checks one call: after a warm-up, `invoke_into` allocates nothing and `invoke`
/// allocates only the vector it returns, and both answer `expected`.
fn check(rt: &mut Runtime<()>, op: &str, payload: &[u8], expected: &[u8]) {
    let mut out = Vec::new();
    rt.invoke_into(op, payload, &mut out).unwrap();
    assert_eq!(out, expected, "{op}");
    let mut results = Vec::with_capacity(3);
    let n = allocations(|| {
        for _ in 0..3 {
            results.push(rt.invoke_into(op, payload, &mut out));
        }
    });
    assert!(results.iter().all(Result::is_ok), "{op}: {results:?}");
    assert_eq!(out, expected, "{op}");
    assert_eq!(n, 0, "{op}: invoke_into allocated {n} times in 3 calls");

    let mut answer = Ok(Vec::new());
    let n = allocations(|| answer = rt.invoke(op, payload));
    assert_eq!(answer.unwrap(), expected, "{op}");
    // Exactly the returned vector, when there is a response: this also shows that the
    // counter is live.
    assert_eq!(n, usize::from(!expected.is_empty()), "{op}: invoke allocated {n} times");
}

#[test]
fn echo_plugin_calls_allocate_nothing_but_the_returned_vector() {
    let wasm = wat::parse_str(ECHO).unwrap();
    let mut rt = Runtime::builder(()).bytes(&wasm).build().unwrap();
    for payload in [&b""[..], b"Steve", &[0xa5; 4096]] {
        check(&mut rt, "echo", payload, payload);
    }
}

#[test]
fn simple_plugin_byte_calls_allocate_nothing_but_the_returned_vector() {
    let mut rt = Runtime::builder(()).bytes(SIMPLE).host_fns(HOST_FNS).build().unwrap();
    let sentence = b"The quick brown fox jumps over the lazy dog, and the dog does not seem to mind at all.";
    check(&mut rt, "vowel", sentence, b"23");
    check(&mut rt, "vowel", b"AEIOU aeiou xyz \xc3\xa9", b"10");
    check(&mut rt, "echoByte", sentence, &[&b"Hello, "[..], sentence].concat());
}

#[test]
fn sliced_calls_allocate_nothing_either() {
    // A cancel handle makes every call run in slices.
    let wasm = wat::parse_str(ECHO).unwrap();
    let cancel = hookr::CancelHandle::new();
    let mut rt = Runtime::builder(()).bytes(&wasm).cancel_handle(cancel).build().unwrap();
    check(&mut rt, "echo", b"Steve", b"Steve");
    let rt = Runtime::builder(()).bytes(SIMPLE).host_fns(HOST_FNS).timeout(std::time::Duration::from_secs(60));
    let mut rt = rt.limits(hookr::Limits::default().with_slice_fuel(100)).build().unwrap();
    check(&mut rt, "vowel", b"AEIOU aeiou xyz", b"10");
}

/// Calls the host function `big`, which answers as many bytes as the payload's 4 LE
/// bytes say, and answers the length of that response.
const BIG_HOST_CALL: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__host_response_len" (func $rlen (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "big")
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 100) (i32.const 200))
    (drop (call $call (i32.const 0) (i32.const 3) (i32.const 200) (local.get $len)))
    (i32.store (i32.const 300) (call $rlen))
    (call $resp (i32.const 300) (i32.const 4))
    (i32.const 1)))"#;

#[test]
fn a_big_host_response_is_not_kept_after_the_call() {
    let wasm = wat::parse_str(BIG_HOST_CALL).unwrap();
    let runtime = |retain| {
        let limits = hookr::Limits::default().with_retain_buffer(retain);
        Runtime::builder(())
            .bytes(&wasm)
            .limits(limits)
            .host_fn("big", |_, payload, out| {
                out.resize(u32::from_le_bytes(payload.try_into().unwrap()) as usize, 1);
                Ok(())
            })
            .build()
            .unwrap()
    };
    let big = 4u32 << 20;
    for (retain, kept) in [(64 << 10, false), (8 << 20, true)] {
        let mut rt = runtime(retain);
        rt.invoke("x", &16u32.to_le_bytes()).unwrap();
        let mut out = Vec::with_capacity(16);
        let (_, live) = counted(|| rt.invoke_into("x", &big.to_le_bytes(), &mut out).unwrap());
        assert_eq!(out, big.to_le_bytes());
        assert_eq!(live > (big / 2) as isize, kept, "retain {retain}: {live} bytes left allocated");
        // Whatever was kept, the next call does not see the old response.
        rt.invoke_into("x", &0u32.to_le_bytes(), &mut out).unwrap();
        assert_eq!(out, 0u32.to_le_bytes());
    }
}
