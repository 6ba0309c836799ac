//! Calls with no host-side allocation: after a warm-up, 1 000 calls each of the
//! `simple` plugin's `vowel`, `echoByte` (through a fixed-buffer `helloByte`), typed
//! `echo` (through a typed `hello` of heapless strings) and failing `nope` allocate
//! nothing on the host, into heapless outputs and with error texts kept by the
//! runtime, and neither do a plugin's log lines; and a response, a host reply, an
//! error text or a typed value too large for its fixed buffer is a clear error, never
//! part of a value reported as success.
//!
//! Its own test binary: the counting global allocator sees only these tests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use hookr::codec::{Decode, DecodeError, Encode};
use hookr::heapless::{String as HString, Vec as HVec};
use hookr::io::SliceOutput;
use hookr::{Error, HostError, HostFn, Limits, Runtime};

/// Counts the allocations made on a thread while that thread has counting switched on,
/// so the test harness's own threads never disturb the count.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is passed straight to the system allocator; counting touches
// only `const`-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The number of allocations (and reallocations) `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(Cell::get)
}

const SIMPLE: &[u8] = include_bytes!("../targets/plugins/simple/simple.wasm");

/// `simple`'s `echo` message, with a string of at most 64 bytes.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
struct Echo {
    data: HString<64>,
}

/// The same with room for 8 bytes only.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
struct SmallEcho {
    data: HString<8>,
}

/// `simple`'s `hello` message, the typed host function's request and reply.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
struct Hello {
    msg: HString<32>,
}

fn hello(calls: &mut u32, req: Hello) -> Result<Hello, HostError> {
    *calls += 1;
    let mut msg = HString::new();
    msg.push_str("Hello, ")?;
    msg.push_str(&req.msg)?;
    msg.push('!')?;
    Ok(Hello { msg })
}

fn hello_byte(calls: &mut u32, payload: &[u8], out: &mut HVec<u8, 32>) -> Result<(), HostError> {
    *calls += 1;
    out.extend_from_slice(b"Hello, ")?;
    out.extend_from_slice(payload)?;
    Ok(())
}

static HOST_FNS: &[HostFn<u32>] = &[HostFn::typed("hello", hello), HostFn::bytes_fixed("helloByte", hello_byte)];

fn text<const N: usize>(s: &str) -> HString<N> {
    HString::try_from(s).unwrap()
}

/// `simple` with the fixed-buffer host functions, error texts kept in the runtime.
fn runtime(max_error: usize) -> Runtime<u32> {
    Runtime::builder(0)
        .bytes(SIMPLE)
        .host_fns(HOST_FNS)
        .limits(Limits::default().with_max_error(max_error))
        .keep_error_texts()
        .build()
        .unwrap()
}

/// What went wrong in the counted loop, noted without allocating.
#[derive(Debug, Default)]
struct Wrong {
    calls: usize,
    first: Option<usize>,
}

impl Wrong {
    fn note(&mut self, i: usize, ok: bool) {
        if !ok {
            self.calls += 1;
            self.first.get_or_insert(i);
        }
    }
}

const CALLS: usize = 1000;

/// What a host function answers when its fixed-capacity reply is full.
const FULL: &str = "a fixed-capacity buffer of the host function is too small for its reply";

#[test]
fn a_thousand_calls_of_each_kind_allocate_nothing_after_warm_up() {
    let mut rt = runtime(256);
    let sentence = b"the quick brown fox jumps over the lazy dog";
    let mut vowels = HVec::<u8, 8>::new();
    let mut greeting = HVec::<u8, 64>::new();
    let request = Echo { data: text("Steve") };
    let expected = Echo { data: text("Hello, Steve!") };

    // Warm-up: the runtime's own buffers (the typed call's request and reply, the
    // host reply) take their size once.
    for _ in 0..3 {
        rt.invoke_into("vowel", sentence, &mut vowels).unwrap();
        rt.invoke_into("echoByte", b"Steve", &mut greeting).unwrap();
        assert_eq!(rt.call::<Echo, Echo>("echo", &request).unwrap(), expected);
        assert!(rt.invoke_into("nope", b"", &mut greeting).is_err());
    }

    let mut wrong = Wrong::default();
    let n = allocations(|| {
        for i in 0..CALLS {
            let ok = rt.invoke_into("vowel", sentence, &mut vowels).is_ok() && vowels == b"11";
            wrong.note(i, ok);
        }
    });
    assert_eq!((n, wrong.calls), (0, 0), "vowel: {n} allocations in {CALLS} calls; wrong: {wrong:?}");

    let before = *rt.state();
    let n = allocations(|| {
        for i in 0..CALLS {
            let ok = rt.invoke_into("echoByte", b"Steve", &mut greeting).is_ok() && greeting == b"Hello, Steve";
            wrong.note(i, ok);
        }
    });
    assert_eq!((n, wrong.calls), (0, 0), "echoByte: {n} allocations in {CALLS} calls; wrong: {wrong:?}");
    assert_eq!(*rt.state() - before, CALLS as u32, "every echoByte went through helloByte");

    let n = allocations(|| {
        for i in 0..CALLS {
            let ok = matches!(rt.call::<Echo, Echo>("echo", &request), Ok(ref echo) if *echo == expected);
            wrong.note(i, ok);
        }
    });
    assert_eq!((n, wrong.calls), (0, 0), "typed echo: {n} allocations in {CALLS} calls; wrong: {wrong:?}");

    let n = allocations(|| {
        for i in 0..CALLS {
            let failed = matches!(rt.invoke_into("nope", b"", &mut greeting), Err(Error::PluginKept { len: 15 }));
            wrong.note(i, failed && rt.last_error_text() == Some("planned Failure") && greeting.is_empty());
        }
    });
    assert_eq!((n, wrong.calls), (0, 0), "nope: {n} allocations in {CALLS} calls; wrong: {wrong:?}");
    assert!(rt.last_call_failed());

    // The counter is live: the same failing call with the text in the error, and a
    // call that returns a new vector, allocate.
    let mut owned = Runtime::builder(0).bytes(SIMPLE).host_fns(HOST_FNS).build().unwrap();
    owned.invoke("nope", b"").unwrap_err();
    let mut result = Ok(());
    let n = allocations(|| result = owned.invoke_into("nope", b"", &mut greeting));
    assert!(matches!(&result, Err(Error::Plugin(m)) if &**m == "planned Failure"), "{result:?}");
    assert!(n >= 1, "an error that holds its text allocated {n} times");
    assert_eq!(owned.last_error_text(), None, "only a runtime that keeps error texts has one");
    let n = allocations(|| assert_eq!(rt.invoke("vowel", sentence).unwrap(), b"11"));
    assert_eq!(n, 1, "invoke allocates the vector it returns");
}

#[test]
fn sliced_calls_and_plugin_fn_handles_write_into_fixed_buffers_too() {
    let cancel = hookr::CancelHandle::new();
    let limits = Limits::default().with_slice_fuel(500);
    let mut rt = Runtime::builder(0).bytes(SIMPLE).host_fns(HOST_FNS).limits(limits).cancel_handle(cancel);
    rt = rt.keep_error_texts();
    let mut rt = rt.build().unwrap();
    let mut out = HVec::<u8, 16>::new();
    // A cancel handle makes every call run in slices.
    for _ in 0..2 {
        rt.invoke_into("echoByte", b"Steve", &mut out).unwrap();
    }
    let n = allocations(|| {
        for _ in 0..100 {
            rt.invoke_into("echoByte", b"Steve", &mut out).unwrap();
        }
    });
    assert_eq!(n, 0, "sliced calls allocated {n} times");
    assert_eq!(out, b"Hello, Steve");
    let err = rt.invoke_into("echoByte", b"Steven Steven", &mut out).unwrap_err();
    assert!(matches!(err, Error::TooLarge { len: 20, limit: 16, .. }), "{err}");
    assert!(out.is_empty());

    let vowel = rt.plugin_fn_bytes("vowel");
    let mut bytes = [0u8; 2];
    let mut slice = SliceOutput::new(&mut bytes);
    vowel.call_into(&mut rt, b"aeiou aeiou", &mut slice).unwrap();
    assert_eq!(slice.as_bytes(), b"10");
    let err = vowel.call_into(&mut rt, &[b'a'; 100], &mut slice).unwrap_err();
    assert!(matches!(err, Error::TooLarge { len: 3, limit: 2, .. }), "{err}");
    assert!(slice.is_empty());
    // A `&mut dyn Output` is an output too.
    let mut dynamic: &mut dyn hookr::io::Output = &mut out;
    vowel.call_into(&mut rt, b"aei", &mut dynamic).unwrap();
    assert_eq!(out, b"3");
}

#[test]
fn a_response_larger_than_its_buffer_is_refused_whole_and_the_runtime_goes_on() {
    let mut rt = runtime(256);
    let mut small = HVec::<u8, 8>::new();
    // Exactly the capacity fits.
    rt.invoke_into("echoByte", b"A", &mut small).unwrap();
    assert_eq!(small, b"Hello, A");
    // "Hello, Steve" is 12 bytes: nothing of it in `small`. (Once first: the
    // interpreter compiles a guest function the first time it runs, and grows its
    // stacks the first time a call goes deeper.)
    assert!(rt.invoke_into("echoByte", b"Steve", &mut small).is_err());
    let mut result = Ok(());
    let n = allocations(|| result = rt.invoke_into("echoByte", b"Steve", &mut small));
    match result {
        Err(Error::TooLarge { what, len: 12, limit: 8 }) => assert_eq!(what, "plugin response (output buffer)"),
        other => panic!("{other:?}"),
    }
    assert!(small.is_empty(), "{small:?}");
    assert_eq!(n, 0, "refusing the response allocated {n} times");
    assert_eq!(
        Error::TooLarge { what: "plugin response (output buffer)", len: 12, limit: 8 }.to_string(),
        "plugin response (output buffer) of 12 bytes exceeds the limit of 8 bytes"
    );
    // The plugin did its work (the call is not a failure of the plugin), and the
    // runtime answers the next call.
    assert!(!rt.last_call_failed());
    assert_eq!(rt.last_error_text(), None);
    let mut big = HVec::<u8, 64>::new();
    rt.invoke_into("echoByte", b"Steve", &mut big).unwrap();
    assert_eq!(big, b"Hello, Steve");
}

#[test]
fn a_host_reply_larger_than_its_fixed_buffer_is_a_host_error_the_plugin_reports() {
    let mut rt = runtime(256);
    let mut out = HVec::<u8, 64>::new();
    rt.invoke_into("echoByte", b"x", &mut out).unwrap();
    // helloByte holds 32 bytes: "Hello, " and 25 more.
    let fits = [b'a'; 25];
    rt.invoke_into("echoByte", &fits, &mut out).unwrap();
    assert_eq!(out.len(), 32);
    assert!(rt.invoke_into("echoByte", &[b'a'; 26], &mut out).is_err());
    let mut result = Ok(());
    let n = allocations(|| result = rt.invoke_into("echoByte", &[b'a'; 26], &mut out));
    assert!(matches!(result, Err(Error::PluginKept { .. })), "{result:?}");
    assert_eq!(rt.last_error_text(), Some(FULL));
    assert!(out.is_empty());
    assert_eq!(n, 0, "the refused reply allocated {n} times");
    rt.invoke_into("echoByte", b"Steve", &mut out).unwrap();
    assert_eq!(out, b"Hello, Steve");

    // The typed host function's request is read into heapless strings too: a name
    // longer than its 32 bytes is refused, not cut.
    let long = Echo { data: text(&"n".repeat(33)) };
    let err = rt.call::<Echo, Echo>("echo", &long).unwrap_err();
    assert!(matches!(err, Error::PluginKept { .. }), "{err}");
    let message = rt.last_error_text().unwrap();
    assert!(message.contains("has length 33, more than its capacity of 32"), "{message}");
    // And its reply is bounded as well: "Hello, " + 25 + "!" is 33 bytes.
    let err = rt.call::<Echo, Echo>("echo", &Echo { data: text(&"n".repeat(25)) }).unwrap_err();
    assert!(matches!(err, Error::PluginKept { .. }), "{err}");
    assert_eq!(rt.last_error_text(), Some(FULL));
    let ok = rt.call::<Echo, Echo>("echo", &Echo { data: text(&"n".repeat(24)) }).unwrap();
    assert_eq!(ok.data.len(), 32);
}

#[test]
fn a_typed_response_longer_than_its_strings_is_a_decode_error() {
    let mut rt = runtime(256);
    let request = Echo { data: text("Steve") };
    // "Hello, Steve!" does not fit 8 bytes.
    let err = rt.call::<Echo, SmallEcho>("echo", &request).unwrap_err();
    match err {
        Error::Decode(DecodeError::TooLong { len: 13, capacity: 8, .. }) => {}
        other => panic!("{other:?}"),
    }
    let fits = rt.call::<Echo, SmallEcho>("echo", &Echo { data: text("") }).unwrap();
    assert_eq!(fits.data, "Hello, !");
}

#[test]
fn an_error_text_longer_than_max_error_is_kept_cut_and_marked() {
    // "planned Failure" is 15 bytes; the runtime keeps 8 of them.
    let mut rt = runtime(8);
    let mut out = HVec::<u8, 8>::new();
    rt.invoke_into("nope", b"", &mut out).unwrap_err();
    let mut result = Ok(());
    let n = allocations(|| result = rt.invoke_into("nope", b"", &mut out));
    let text = rt.last_error_text().unwrap();
    assert_eq!(text, "planned  … [truncated from 15 bytes]");
    assert!(matches!(result, Err(Error::PluginKept { len }) if len == text.len()), "{result:?}");
    assert_eq!(n, 0, "the cut text allocated {n} times");
    // A text copied out into a buffer too small for it is refused by heapless.
    assert!(HString::<16>::try_from(text).is_err());
    assert_eq!(HString::<64>::try_from(text).unwrap(), text);
    // The runtime goes on, and a call that succeeds has no error text.
    rt.invoke_into("vowel", b"aeiou", &mut out).unwrap();
    assert_eq!(out, b"5");
    assert_eq!(rt.last_error_text(), None);
}

/// Logs a line, then answers its payload.
const LOGGER: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (import "hookr" "__log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "a line of the plugin's log")
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 100) (i32.const 200))
    (call $log (i32.const 0) (i32.const 26))
    (call $resp (i32.const 200) (local.get $len))
    (i32.const 1)))"#;

#[test]
fn log_lines_reach_the_logger_without_allocation() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static LINES: AtomicUsize = AtomicUsize::new(0);
    let wasm = wat::parse_str(LOGGER).unwrap();
    let mut rt = Runtime::builder(())
        .bytes(&wasm)
        .logger(|line| {
            if line == "a line of the plugin's log" {
                LINES.fetch_add(1, Ordering::Relaxed);
            }
        })
        .keep_error_texts()
        .build()
        .unwrap();
    let mut out = HVec::<u8, 16>::new();
    rt.invoke_into("op", b"payload", &mut out).unwrap();
    let n = allocations(|| {
        for _ in 0..CALLS {
            rt.invoke_into("op", b"payload", &mut out).unwrap();
        }
    });
    assert_eq!(out, b"payload");
    assert_eq!(LINES.load(Ordering::Relaxed), CALLS + 1);
    assert_eq!(n, 0, "{CALLS} calls that log allocated {n} times");
}
