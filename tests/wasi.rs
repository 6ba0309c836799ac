//! The WASI subset: each implemented call answers as documented (bad pointers get EFAULT,
//! never a trap), every other preview1 call links and answers an errno, output reaches the
//! configured sinks, `proc_exit` ends calls and `_start` cleanly, TinyGo-shaped and std
//! Rust `wasm32-wasip1` plugins run, and `deterministic()` runs repeat byte for byte.

use std::io::Write;
use std::sync::{Arc, Mutex};

use hookr::io::{FixedClock, RandomSource, SeededRandom};
use hookr::wasi::errno;
use hookr::{Builder, Error, Runtime};

/// A `std` Rust plugin built for `wasm32-wasip1`; source and build script beside it.
const WASI_DEMO: &[u8] = include_bytes!("../targets/plugins/wasi-demo/wasi-demo.wasm");

/// A shared buffer that a runtime writes its stdout or stderr into.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A builder for `wasm` whose stdout and stderr go to the returned captures.
fn captured(wasm: &[u8]) -> (Builder<'_, ()>, Capture, Capture) {
    let (out, err) = (Capture::default(), Capture::default());
    let builder = Runtime::builder(()).bytes(wasm).stdout(out.clone()).stderr(err.clone());
    (builder, out, err)
}

fn u32_at(mem: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(mem[at..at + 4].try_into().unwrap())
}

fn u64_at(mem: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(mem[at..at + 8].try_into().unwrap())
}

fn seeded_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    SeededRandom::new(seed).fill(&mut buf);
    buf
}

/// Calls every implemented function, good and bad, storing errno number `k` at
/// `0x1000 + 4k`; the response is the first `0x1100` bytes of memory.
const SYSCALLS: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_res_get" (func $res (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_raise" (func $raise (param i32) (result i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "hello\n")
  (data (i32.const 0x110) "err")
  (data (i32.const 0x120) "or\n")
  (data (i32.const 0x200) "\00\01\00\00\06\00\00\00")
  (data (i32.const 0x210) "\10\01\00\00\03\00\00\00\20\01\00\00\03\00\00\00")
  (data (i32.const 0x220) "\00\01\00\00\ff\ff\ff\7f")
  (data (i32.const 0x230) "\00\01\00\00\00\00\00\00")
  (data (i32.const 0x300) "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff")
  (data (i32.const 0x628) "\ff\ff\ff\ff\ff\ff\ff\ff")
  (func $e (param $slot i32) (param $errno i32)
    (i32.store (i32.add (i32.const 0x1000) (i32.mul (local.get $slot) (i32.const 4))) (local.get $errno)))
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (call $e (i32.const 0) (call $fd_write (i32.const 1) (i32.const 0x200) (i32.const 1) (i32.const 0x300)))
    (call $e (i32.const 1) (call $fd_write (i32.const 2) (i32.const 0x210) (i32.const 2) (i32.const 0x304)))
    (call $e (i32.const 2) (call $fd_write (i32.const 3) (i32.const 0x200) (i32.const 1) (i32.const 0x308)))
    (call $e (i32.const 3) (call $fd_write (i32.const 0) (i32.const 0x200) (i32.const 1) (i32.const 0x308)))
    (call $e (i32.const 4) (call $fd_write (i32.const 1) (i32.const 0xFFFFFFF0) (i32.const 1) (i32.const 0x308)))
    (call $e (i32.const 5) (call $fd_write (i32.const 1) (i32.const 0x220) (i32.const 1) (i32.const 0x308)))
    (call $e (i32.const 6) (call $fd_write (i32.const 1) (i32.const 0x200) (i32.const 0x7FFFFFFF) (i32.const 0x308)))
    (call $e (i32.const 7) (call $fd_write (i32.const 1) (i32.const 0x200) (i32.const 1) (i32.const 0xFFFFFFFF)))
    (call $e (i32.const 8) (call $fd_write (i32.const 1) (i32.const 0x230) (i32.const 1) (i32.const 0x308)))
    (call $e (i32.const 9) (call $fd_read (i32.const 0) (i32.const 0x200) (i32.const 1) (i32.const 0x30c)))
    (call $e (i32.const 10) (call $fd_read (i32.const 1) (i32.const 0x200) (i32.const 1) (i32.const 0x30c)))
    (call $e (i32.const 11) (call $fd_read (i32.const 0) (i32.const 0x200) (i32.const 1) (i32.const 0x10000)))
    (call $e (i32.const 12) (call $fdstat (i32.const 1) (i32.const 0x400)))
    (call $e (i32.const 13) (call $fdstat (i32.const 0) (i32.const 0x420)))
    (call $e (i32.const 14) (call $fdstat (i32.const 3) (i32.const 0x440)))
    (call $e (i32.const 15) (call $fdstat (i32.const 2) (i32.const 0xFFF0)))
    (call $e (i32.const 16) (call $random (i32.const 0x500) (i32.const 16)))
    (call $e (i32.const 17) (call $random (i32.const 0xFFFFFFF0) (i32.const 32)))
    (call $e (i32.const 18) (call $random (i32.const 0x10) (i32.const 0x7FFFFFFF)))
    (call $e (i32.const 19) (call $time (i32.const 0) (i64.const 1) (i32.const 0x600)))
    (call $e (i32.const 20) (call $time (i32.const 1) (i64.const 1) (i32.const 0x608)))
    (call $e (i32.const 21) (call $time (i32.const 2) (i64.const 1) (i32.const 0x610)))
    (call $e (i32.const 22) (call $time (i32.const 3) (i64.const 1) (i32.const 0x618)))
    (call $e (i32.const 23) (call $time (i32.const 4) (i64.const 1) (i32.const 0x620)))
    (call $e (i32.const 24) (call $time (i32.const 0) (i64.const 1) (i32.const 0xFFFC)))
    (call $e (i32.const 25) (call $time (i32.const 0) (i64.const 1) (i32.const 0x620)))
    (call $e (i32.const 26) (call $res (i32.const 1) (i32.const 0x628)))
    (call $e (i32.const 27) (call $res (i32.const 9) (i32.const 0x628)))
    (call $e (i32.const 28) (call $res (i32.const 0) (i32.const 0xFFFFFFFF)))
    (call $e (i32.const 29) (call $args_sizes (i32.const 0x700) (i32.const 0x704)))
    (call $e (i32.const 30) (call $args (i32.const 0x720) (i32.const 0x740)))
    (call $e (i32.const 31) (call $env_sizes (i32.const 0x708) (i32.const 0x70c)))
    (call $e (i32.const 32) (call $env (i32.const 0x760) (i32.const 0x780)))
    (call $e (i32.const 33) (call $args (i32.const 0xFFFFFFFE) (i32.const 0x740)))
    (call $e (i32.const 34) (call $env (i32.const 0x760) (i32.const 0xFFFA)))
    (call $e (i32.const 35) (call $args_sizes (i32.const 0x10000) (i32.const 0x704)))
    (call $e (i32.const 36) (call $yield))
    (call $e (i32.const 37) (call $path_open (i32.const 3) (i32.const 0) (i32.const 0x100) (i32.const 6)
      (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0x308)))
    (call $e (i32.const 38) (call $prestat (i32.const 3) (i32.const 0x308)))
    (call $e (i32.const 39) (call $close (i32.const 1)))
    (call $e (i32.const 40) (call $poll (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x308)))
    (call $e (i32.const 41) (call $raise (i32.const 9)))
    (call $resp (i32.const 0) (i32.const 0x1100))
    (i32.const 1)))"#;

#[test]
fn implemented_calls_answer_errnos_and_fill_memory() {
    let wasm = wat::parse_str(SYSCALLS).unwrap();
    let (builder, out, err) = captured(&wasm);
    let mut rt = builder
        .clock(FixedClock::new(1000, 10))
        .rand_source(SeededRandom::new(42))
        .args(["prog", "-v"])
        .env([("A", "1"), ("HOME", "/x")])
        .build()
        .unwrap();
    let mem = rt.invoke("syscalls", b"").unwrap();
    let errnos: Vec<i32> = (0..42).map(|k| u32_at(&mem, 0x1000 + 4 * k) as i32).collect();
    let (ok, badf, fault, inval, nosys) = (errno::SUCCESS, errno::BADF, errno::FAULT, errno::INVAL, errno::NOSYS);
    #[rustfmt::skip]
    let expected = [
        ok, ok, badf, badf, fault, fault, fault, fault, ok,  // fd_write
        ok, badf, fault,                                     // fd_read
        ok, ok, badf, fault,                                 // fd_fdstat_get
        ok, fault, fault,                                    // random_get
        ok, ok, ok, ok, inval, fault, ok,                    // clock_time_get
        ok, inval, fault,                                    // clock_res_get
        ok, ok, ok, ok, fault, fault, fault,                 // args_*, environ_*
        ok,                                                  // sched_yield
        nosys, badf, badf,                                   // stubs
        inval,                                               // poll_oneoff of nothing
        nosys,                                               // a stub
    ];
    assert_eq!(errnos, expected);

    // fd_write: only the good writes reached the sinks, whole, with their byte counts.
    assert_eq!(out.take(), "hello\n");
    assert_eq!(err.take(), "error\n");
    assert_eq!(u32_at(&mem, 0x300), 6);
    assert_eq!(u32_at(&mem, 0x304), 6);
    assert_eq!(u32_at(&mem, 0x308), 0, "the empty write wrote nwritten = 0");
    // fd_read: stdin is at its end.
    assert_eq!(u32_at(&mem, 0x30c), 0);
    // fd_fdstat_get: character devices, read right on 0, write right on 1.
    assert_eq!(mem[0x400], 2);
    assert_eq!(u64_at(&mem, 0x408), 1 << 6);
    assert_eq!(mem[0x420], 2);
    assert_eq!(u64_at(&mem, 0x428), 1 << 1);
    assert_eq!(&mem[0x440..0x458], &[0; 24], "EBADF wrote nothing");
    // random_get: the source's first 16 bytes; the failed calls consumed none.
    assert_eq!(&mem[0x500..0x510], &seeded_bytes(42, 16)[..]);
    // Clocks: realtime 1000, then monotonic (and the CPU-time clocks, answered from it)
    // 10, 20, 30; the failed reads did not advance it, so realtime is 1040.
    assert_eq!([0x600, 0x608, 0x610, 0x618, 0x620].map(|a| u64_at(&mem, a)), [1000, 10, 20, 30, 1040]);
    assert_eq!(u64_at(&mem, 0x628), 10, "resolution");
    // Arguments and environment, NUL-terminated, with pointers into the buffer.
    assert_eq!([0x700, 0x704, 0x708, 0x70c].map(|a| u32_at(&mem, a)), [2, 8, 2, 12]);
    assert_eq!([u32_at(&mem, 0x720), u32_at(&mem, 0x724)], [0x740, 0x745]);
    assert_eq!(&mem[0x740..0x748], b"prog\0-v\0");
    assert_eq!([u32_at(&mem, 0x760), u32_at(&mem, 0x764)], [0x780, 0x784]);
    assert_eq!(&mem[0x780..0x78c], b"A=1\0HOME=/x\0");

    // Nothing trapped: the same runtime keeps working, and keeps its sources' state.
    let again = rt.invoke("syscalls", b"").unwrap();
    assert_eq!(out.take(), "hello\n");
    assert_eq!(&again[0x500..0x510], &seeded_bytes(42, 32)[16..]);
    assert_eq!(u64_at(&again, 0x600), 1050);
}

#[test]
fn args_and_environment_are_empty_by_default() {
    let wasm = wat::parse_str(
        r#"(module
      (import "wasi_snapshot_preview1" "args_sizes_get" (func $a (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_sizes_get" (func $e (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "args_get" (func $ag (param i32 i32) (result i32)))
      (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff")
      (func (export "__plugin_call") (param i32 i32) (result i32)
        (i32.store (i32.const 16) (call $a (i32.const 0) (i32.const 4)))
        (i32.store (i32.const 20) (call $e (i32.const 8) (i32.const 12)))
        (i32.store (i32.const 24) (call $ag (i32.const 0xFFFF) (i32.const 0xFFFF)))
        (call $resp (i32.const 0) (i32.const 28))
        (i32.const 1)))"#,
    )
    .unwrap();
    let mut rt = Runtime::builder(()).bytes(&wasm).build().unwrap();
    let mem = rt.invoke("sizes", b"").unwrap();
    assert_eq!((0..7).map(|k| u32_at(&mem, 4 * k)).collect::<Vec<_>>(), [0, 0, 0, 0, 0, 0, 0]);
}

/// Every preview1 function with its signature, written out from the specification.
const ALL_PREVIEW1: &[(&str, &str, &str)] = &[
    ("args_get", "i32 i32", "i32"),
    ("args_sizes_get", "i32 i32", "i32"),
    ("environ_get", "i32 i32", "i32"),
    ("environ_sizes_get", "i32 i32", "i32"),
    ("clock_res_get", "i32 i32", "i32"),
    ("clock_time_get", "i32 i64 i32", "i32"),
    ("fd_advise", "i32 i64 i64 i32", "i32"),
    ("fd_allocate", "i32 i64 i64", "i32"),
    ("fd_close", "i32", "i32"),
    ("fd_datasync", "i32", "i32"),
    ("fd_fdstat_get", "i32 i32", "i32"),
    ("fd_fdstat_set_flags", "i32 i32", "i32"),
    ("fd_fdstat_set_rights", "i32 i64 i64", "i32"),
    ("fd_filestat_get", "i32 i32", "i32"),
    ("fd_filestat_set_size", "i32 i64", "i32"),
    ("fd_filestat_set_times", "i32 i64 i64 i32", "i32"),
    ("fd_pread", "i32 i32 i32 i64 i32", "i32"),
    ("fd_prestat_get", "i32 i32", "i32"),
    ("fd_prestat_dir_name", "i32 i32 i32", "i32"),
    ("fd_pwrite", "i32 i32 i32 i64 i32", "i32"),
    ("fd_read", "i32 i32 i32 i32", "i32"),
    ("fd_readdir", "i32 i32 i32 i64 i32", "i32"),
    ("fd_renumber", "i32 i32", "i32"),
    ("fd_seek", "i32 i64 i32 i32", "i32"),
    ("fd_sync", "i32", "i32"),
    ("fd_tell", "i32 i32", "i32"),
    ("fd_write", "i32 i32 i32 i32", "i32"),
    ("path_create_directory", "i32 i32 i32", "i32"),
    ("path_filestat_get", "i32 i32 i32 i32 i32", "i32"),
    ("path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32", "i32"),
    ("path_link", "i32 i32 i32 i32 i32 i32 i32", "i32"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", "i32"),
    ("path_readlink", "i32 i32 i32 i32 i32 i32", "i32"),
    ("path_remove_directory", "i32 i32 i32", "i32"),
    ("path_rename", "i32 i32 i32 i32 i32 i32", "i32"),
    ("path_symlink", "i32 i32 i32 i32 i32", "i32"),
    ("path_unlink_file", "i32 i32 i32", "i32"),
    ("poll_oneoff", "i32 i32 i32 i32", "i32"),
    ("proc_exit", "i32", ""),
    ("proc_raise", "i32", "i32"),
    ("sched_yield", "", "i32"),
    ("random_get", "i32 i32", "i32"),
    ("sock_accept", "i32 i32 i32", "i32"),
    ("sock_recv", "i32 i32 i32 i32 i32 i32", "i32"),
    ("sock_send", "i32 i32 i32 i32 i32", "i32"),
    ("sock_shutdown", "i32 i32", "i32"),
];

/// Functions that do something; every other one must answer its errno untouched.
const IMPLEMENTED: &[&str] = &[
    "poll_oneoff",
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_fdstat_get",
    "fd_read",
    "fd_write",
    "proc_exit",
    "random_get",
    "sched_yield",
];

#[test]
fn every_preview1_function_links_and_the_rest_answer_errnos() {
    let mut imports = String::new();
    let mut calls = String::new();
    let mut stubs = Vec::new();
    for (name, params, results) in ALL_PREVIEW1 {
        let result = if results.is_empty() { String::new() } else { format!("(result {results})") };
        imports.push_str(&format!(
            "(import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param {params}) {result}))\n"
        ));
        if IMPLEMENTED.contains(name) {
            continue;
        }
        // Call each stub with fd 1 (or whatever the first parameter is) and zeros: a
        // stub must answer without looking at its arguments.
        let args: String = params
            .split_whitespace()
            .enumerate()
            .map(|(i, t)| format!("({t}.const {})", if i == 0 { 1 } else { 0 }))
            .collect::<Vec<_>>()
            .join(" ");
        calls.push_str(&format!("(i32.store (i32.const {}) (call ${name} {args}))\n", 4 * stubs.len()));
        stubs.push(*name);
    }
    let wasm = wat::parse_str(format!(
        r#"(module {imports}
      (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "__plugin_call") (param i32 i32) (result i32)
        {calls}
        (call $resp (i32.const 0) (i32.const {len}))
        (i32.const 1)))"#,
        len = 4 * stubs.len()
    ))
    .unwrap();
    let (builder, out, err) = captured(&wasm);
    let mut rt = builder.build().unwrap();
    let mem = rt.invoke("stubs", b"").unwrap();
    for (k, name) in stubs.iter().enumerate() {
        let want = if name.starts_with("fd_") { errno::BADF } else { errno::NOSYS };
        assert_eq!(u32_at(&mem, 4 * k) as i32, want, "{name}");
    }
    assert_eq!(stubs.len(), 46 - IMPLEMENTED.len());
    assert_eq!(out.take() + &err.take(), "");

    // The table the host checks imports against agrees with the specification.
    for (name, params, results) in ALL_PREVIEW1 {
        let (p, r) = hookr::wasi::signature(name).unwrap();
        let show = |t: &[hookr::wasmi::ValType]| {
            t.iter().map(|t| format!("{t:?}").to_lowercase()).collect::<Vec<_>>().join(" ")
        };
        assert_eq!((show(p).as_str(), show(r).as_str()), (*params, *results), "{name}");
    }
}

#[test]
fn unknown_or_mistyped_wasi_imports_are_link_errors() {
    for (import, why) in [
        (r#"(func (param i32 i32) (result i32))"#, "no such function"),
        (r#"(func (param i32 i32 i32) (result i32))"#, "wrong type"),
    ] {
        let name = if why == "wrong type" { "fd_write" } else { "fd_mmap" };
        let wasm = wat::parse_str(format!(
            r#"(module
          (import "wasi_snapshot_preview1" "{name}" {import})
          (memory (export "memory") 1)
          (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#
        ))
        .unwrap();
        let err = Runtime::builder(()).bytes(&wasm).build().unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, Error::Link { module, name: n, .. } if &**module == "wasi_snapshot_preview1" && &**n == name),
            "{err:?}"
        );
        assert!(text.contains(name) && text.contains(why), "{text}");
    }
}

/// Shaped like a TinyGo plugin built with the Go hookr PDK: exactly these five WASI
/// imports, `_initialize` (the runtime reads its arguments and seeds itself from
/// `random_get`), then `hookr_init`, then calls.
const TINYGO_SHAPED: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (import "hookr" "__plugin_error" (func $err (param i32 i32)))
  (import "hookr" "__host_call" (func $host_call (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__host_response_len" (func $host_response_len (result i32)))
  (import "hookr" "__host_response" (func $host_response (param i32)))
  (import "hookr" "__host_error_len" (func $host_error_len (result i32)))
  (import "hookr" "__host_error" (func $host_error (param i32)))
  (import "hookr" "__log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (global $stage (mut i32) (i32.const 0))
  (data (i32.const 0x100) "_initialize\n")
  (data (i32.const 0x110) "hookr_init\n")
  (data (i32.const 0x120) "call\n")
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0x80) (local.get $ptr))
    (i32.store (i32.const 0x84) (local.get $len))
    (if (call $fd_write (i32.const 1) (i32.const 0x80) (i32.const 1) (i32.const 0x88)) (then unreachable)))
  (func (export "_initialize")
    (if (global.get $stage) (then unreachable))
    (if (call $args_sizes (i32.const 0x40) (i32.const 0x44)) (then unreachable))
    (if (call $args_get (i32.const 0x200) (i32.const 0x300)) (then unreachable))
    (if (call $random (i32.const 0x48) (i32.const 8)) (then unreachable))
    (global.set $stage (i32.const 1))
    (call $print (i32.const 0x100) (i32.const 12)))
  (func (export "hookr_init")
    (if (i32.ne (global.get $stage) (i32.const 1)) (then unreachable))
    (global.set $stage (i32.const 2))
    (call $print (i32.const 0x110) (i32.const 11)))
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (if (i32.ne (global.get $stage) (i32.const 2)) (then unreachable))
    (call $print (i32.const 0x120) (i32.const 5))
    ;; response: random seed (8), realtime (8), argc (4), first argument (4), payload
    (if (call $clock (i32.const 0) (i64.const 1000) (i32.const 0x1008)) (then unreachable))
    (i64.store (i32.const 0x1000) (i64.load (i32.const 0x48)))
    (i32.store (i32.const 0x1010) (i32.load (i32.const 0x40)))
    (i32.store (i32.const 0x1014) (i32.load (i32.load (i32.const 0x200))))
    (call $req (i32.const 0x2000) (i32.const 0x1018))
    (call $resp (i32.const 0x1000) (i32.add (i32.const 0x18) (local.get $len)))
    (i32.const 1)))"#;

#[test]
fn tinygo_shaped_plugin_runs_through_its_initialisers() {
    let wasm = wat::parse_str(TINYGO_SHAPED).unwrap();
    let run = || {
        let (builder, out, err) = captured(&wasm);
        let mut rt = builder.deterministic().args(["plug"]).build().unwrap();
        let mut wasi: Vec<_> =
            rt.module().imports().filter(|(m, _)| *m == "wasi_snapshot_preview1").map(|(_, n)| n).collect();
        wasi.sort_unstable();
        assert_eq!(wasi, ["args_get", "args_sizes_get", "clock_time_get", "fd_write", "random_get"]);
        let first = rt.invoke("echo", b"Steve").unwrap();
        let second = rt.invoke("echo", b"again").unwrap();
        (first, second, out.take(), err.take())
    };
    let (first, second, out, err) = run();
    assert_eq!(out, "_initialize\nhookr_init\ncall\ncall\n");
    assert_eq!(err, "");
    assert_eq!(&first[..8], &seeded_bytes(SeededRandom::DEFAULT_SEED, 8)[..]);
    assert_eq!(u64_at(&first, 8), FixedClock::DEFAULT_START_NS);
    assert_eq!(u64_at(&second, 8), FixedClock::DEFAULT_START_NS + FixedClock::DEFAULT_STEP_NS);
    assert_eq!(u32_at(&first, 16), 1, "argc");
    assert_eq!(&first[20..24], b"plug");
    assert_eq!(&first[24..], b"Steve");
    // A second deterministic run repeats the first byte for byte.
    assert_eq!(run(), (first, second, out, err));
}

fn exit_plugin(start_status: i32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 0x80) "\00\01\00\00\08\00\00\00")
      (data (i32.const 0x100) "started\n")
      (func (export "_start")
        (drop (call $fd_write (i32.const 1) (i32.const 0x80) (i32.const 1) (i32.const 0x88)))
        (call $exit (i32.const {start_status}))
        unreachable)
      ;; Exits with the payload length as status when there is a payload.
      (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
        (if (local.get $len) (then (call $exit (local.get $len)) unreachable))
        (call $resp (i32.const 0x100) (i32.const 7))
        (i32.const 1)))"#
    ))
    .unwrap()
}

#[test]
fn proc_exit_ends_the_call_and_the_runtime_goes_on() {
    let wasm = exit_plugin(0);
    let (builder, out, _) = captured(&wasm);
    let mut rt = builder.build().unwrap();
    assert_eq!(out.take(), "started\n", "proc_exit(0) ended `_start` as a success");
    assert!(matches!(rt.invoke("exit", b"abc"), Err(Error::Exit(3))));
    assert_eq!(rt.invoke("ok", b"").unwrap(), b"started");
    // The plugin was started afresh after the exit.
    assert_eq!(out.take(), "started\n");
}

#[test]
fn proc_exit_nonzero_in_start_fails_instantiation() {
    let wasm = exit_plugin(5);
    let err = Runtime::builder(()).bytes(&wasm).stdout(hookr::io::Discard).build().unwrap_err();
    match err {
        Error::Init { name: "_start", source } => assert!(matches!(*source, Error::Exit(5)), "{source:?}"),
        other => panic!("{other:?}"),
    }
}

/// Runs the Rust plugin's operations once in a fresh deterministic runtime and returns
/// every response, stdout and stderr.
fn run_wasi_demo(seed: Option<u64>) -> (Vec<Result<String, String>>, String, String) {
    let (builder, out, err) = captured(WASI_DEMO);
    let builder = builder.deterministic().args(["wasi-demo", "--flag"]).env([("GREETING", "hi")]);
    let builder = match seed {
        Some(seed) => builder.rand_source(SeededRandom::new(seed)),
        None => builder,
    };
    let mut rt = builder.build().unwrap();
    let mut results = Vec::new();
    for (op, payload) in
        [("demo", "b a b"), ("demo", "c"), ("env", ""), ("stdin", ""), ("nope", ""), ("exit", "3"), ("demo", "a")]
    {
        results.push(match rt.invoke(op, payload.as_bytes()) {
            Ok(bytes) => Ok(String::from_utf8(bytes).unwrap()),
            Err(e) => Err(format!("{e:?}")),
        });
    }
    (results, out.take(), err.take())
}

#[test]
fn rust_wasip1_plugin_runs_with_captured_output() {
    let (results, out, err) = run_wasi_demo(None);
    let start = FixedClock::DEFAULT_START_NS;
    let demo = results[0].as_ref().unwrap();
    assert!(demo.starts_with(&format!("a=1 b=2 time={start} random=")), "{demo}");
    let random = demo.rsplit('=').next().unwrap();
    assert_eq!(random.len(), 16);
    // The next call reads the clock one step later, and a new map gets new random keys.
    let demo2 = results[1].as_ref().unwrap();
    assert!(demo2.starts_with(&format!("c=1 time={} random=", start + FixedClock::DEFAULT_STEP_NS)), "{demo2}");
    assert_ne!(demo2.rsplit('=').next().unwrap(), random);
    assert_eq!(results[2].as_deref(), Ok("arg wasi-demo\narg --flag\nenv GREETING=hi\n"));
    assert_eq!(results[3].as_deref(), Ok("0 bytes"));
    assert_eq!(results[4], Err(r#"Plugin("unknown operation `nope`")"#.into()));
    assert_eq!(results[5], Err("Exit(3)".into()));
    assert!(results[6].as_ref().unwrap().starts_with("a=1 time="), "{:?}", results[6]);
    assert_eq!(out, "a: 1\nb: 2\nc: 1\na: 1\n");
    assert_eq!(err, "counted 2 distinct words\ncounted 1 distinct words\ncounted 1 distinct words\n");
}

#[test]
fn rust_wasip1_plugin_repeats_under_deterministic() {
    let first = run_wasi_demo(None);
    assert_eq!(run_wasi_demo(None), first);
    // The random bytes do come from the source: another seed, other keys.
    let other = run_wasi_demo(Some(7));
    assert_ne!(other.0[0], first.0[0]);
    assert_eq!(other.1, first.1);
}

#[test]
fn rust_wasip1_plugin_runs_on_the_system_sources() {
    let (builder, out, _) = captured(WASI_DEMO);
    let mut rt = builder.build().unwrap();
    let demo = String::from_utf8(rt.invoke("demo", b"x").unwrap()).unwrap();
    let time: u128 = demo.split("time=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    assert!(time <= now && now - time < 60_000_000_000, "{time} vs {now}");
    assert_eq!(out.take(), "x: 1\n");
}

/// Copies the payload (an array of `subscription`s) to 0x1000, reads the monotonic
/// clock, calls `poll_oneoff` on them, reads the clock again, and answers
/// `[errno u32][nevents u32][before u64][after u64]` then the events.
const POLLER: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 0x800) (i32.const 0x1000))
    (drop (call $clock (i32.const 1) (i64.const 0) (i32.const 0x308)))
    (i32.store (i32.const 0x300)
      (call $poll (i32.const 0x1000) (i32.const 0x318) (i32.div_u (local.get $len) (i32.const 48)) (i32.const 0x304)))
    (drop (call $clock (i32.const 1) (i64.const 0) (i32.const 0x310)))
    (call $resp (i32.const 0x300) (i32.add (i32.const 24) (i32.mul (i32.load (i32.const 0x304)) (i32.const 32))))
    (i32.const 1)))"#;

fn clock_sub(userdata: u64, id: u32, timeout_ns: u64, absolute: bool) -> Vec<u8> {
    let mut s = vec![0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = 0;
    s[16..20].copy_from_slice(&id.to_le_bytes());
    s[24..32].copy_from_slice(&timeout_ns.to_le_bytes());
    s[40..42].copy_from_slice(&u16::from(absolute).to_le_bytes());
    s
}

fn fd_sub(userdata: u64, write: bool, fd: u32) -> Vec<u8> {
    let mut s = vec![0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = if write { 2 } else { 1 };
    s[16..20].copy_from_slice(&fd.to_le_bytes());
    s
}

/// An event: userdata, error, type, nbytes, flags.
type Event = (u64, u16, u8, u64, u16);

/// (errno, monotonic ns passed, events).
fn poll(rt: &mut Runtime<()>, subs: &[Vec<u8>]) -> (i32, u64, Vec<Event>) {
    let r = rt.invoke("poll", &subs.concat()).unwrap();
    let events = r[24..]
        .chunks(32)
        .map(|e| {
            let u16_at = |at: usize| u16::from_le_bytes([e[at], e[at + 1]]);
            (u64_at(e, 0), u16_at(8), e[10], u64_at(e, 16), u16_at(24))
        })
        .collect();
    (u32_at(&r, 0) as i32, u64_at(&r, 16) - u64_at(&r, 8), events)
}

#[test]
fn poll_oneoff_waits_for_the_earliest_clock_and_charges_the_wait() {
    let wasm = wat::parse_str(POLLER).unwrap();
    let mut rt = Runtime::builder(()).bytes(&wasm).deterministic().build().unwrap();
    let step = FixedClock::DEFAULT_STEP_NS;
    // A relative wait of 5 ms: the fixed clock moves on by it at once, and the call
    // pays a unit of fuel per nanosecond.
    let (errno, passed, events) = poll(&mut rt, &[clock_sub(7, 1, 5_000_000, false)]);
    assert_eq!((errno, passed), (errno::SUCCESS, 5_000_000 + step));
    assert_eq!(events, [(7, 0, 0, 0, 0)]);
    assert!(rt.last_call().fuel.unwrap() > 5_000_000);
    // Two clocks: only the earliest fires. An absolute time in the past fires at once.
    let (_, passed, events) = poll(&mut rt, &[clock_sub(1, 1, 9_000_000, false), clock_sub(2, 1, 3_000_000, false)]);
    assert_eq!((passed, events), (3_000_000 + step, vec![(2, 0, 0, 0, 0)]));
    // (Reading the clock for the absolute time is one more step of the fixed clock.)
    let (_, passed, events) = poll(&mut rt, &[clock_sub(3, 1, 1, true)]);
    assert_eq!((passed, events), (2 * step, vec![(3, 0, 0, 0, 0)]));
    assert!(rt.last_call().fuel.unwrap() < 1_000_000);
    // A wait past `max_sleep_ns` returns early, having waited (and paid for) that much.
    let limits = hookr::Limits::default().with_max_sleep_ns(2_000_000);
    let mut short = Runtime::builder(()).bytes(&wasm).deterministic().limits(limits).build().unwrap();
    let (_, passed, events) = poll(&mut short, &[clock_sub(4, 1, 60_000_000_000, false)]);
    assert_eq!((passed, events), (2_000_000 + step, vec![(4, 0, 0, 0, 0)]));
    // Waiting cannot outlast the fuel: a second of waits with 100 ms of fuel fails.
    let mut starved = Runtime::builder(()).bytes(&wasm).deterministic().fuel(100_000_000).build().unwrap();
    assert!(matches!(starved.invoke("poll", &clock_sub(5, 1, 1_000_000_000, false)), Err(Error::OutOfFuel)));
}

#[test]
fn poll_oneoff_answers_fds_at_once_and_refuses_what_it_cannot_read() {
    let wasm = wat::parse_str(POLLER).unwrap();
    let mut rt = Runtime::builder(()).bytes(&wasm).deterministic().build().unwrap();
    let step = FixedClock::DEFAULT_STEP_NS;
    // Stdin is at its end, stdout ready, fd 9 unknown: all answered without waiting
    // for the clock beside them, which does not fire.
    let subs = [fd_sub(1, false, 0), fd_sub(2, true, 1), fd_sub(3, true, 9), clock_sub(4, 1, 5_000_000, false)];
    let (errno, passed, events) = poll(&mut rt, &subs);
    assert_eq!((errno, passed), (errno::SUCCESS, step));
    assert_eq!(events, [(1, 0, 1, 0, 1), (2, 0, 2, 0, 0), (3, errno::BADF as u16, 2, 0, 0)]);
    // An unknown clock id is an event with EINVAL, not a wait.
    let (_, _, events) = poll(&mut rt, &[clock_sub(5, 99, 5_000_000, false)]);
    assert_eq!(events, [(5, errno::INVAL as u16, 0, 0, 0)]);
    // A subscription of a type WASI does not have makes the whole call EINVAL, at once,
    // whatever else it holds.
    let mut unknown = fd_sub(6, false, 0);
    unknown[8] = 7;
    let mut fresh = Runtime::builder(()).bytes(&wasm).deterministic().build().unwrap();
    let (errno, passed, events) = poll(&mut fresh, &[clock_sub(5, 1, 5_000_000, false), unknown]);
    assert_eq!((errno, passed, events), (errno::INVAL, step, Vec::new()));
    // Bad pointers and counts are errnos.
    let bad = wat::parse_str(
        r#"(module
        (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
        (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "__plugin_call") (param i32 i32) (result i32)
          (i32.store (i32.const 0) (call $poll (i32.const 0x100) (i32.const 0x800) (i32.const 0) (i32.const 0x10)))
          (i32.store (i32.const 4) (call $poll (i32.const 0xFFF0) (i32.const 0x800) (i32.const 1) (i32.const 0x10)))
          (i32.store (i32.const 8) (call $poll (i32.const 0x100) (i32.const 0x800) (i32.const 0x7FFFFFFF) (i32.const 0x10)))
          (i32.store (i32.const 12) (call $poll (i32.const 0x100) (i32.const 0x800) (i32.const 1) (i32.const 0xFFFF)))
          (call $resp (i32.const 0) (i32.const 16))
          (i32.const 1)))"#,
    )
    .unwrap();
    let r = Runtime::builder(()).bytes(&bad).build().unwrap().invoke("x", b"").unwrap();
    let errnos: Vec<i32> = r.chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(errnos, [errno::INVAL, errno::FAULT, errno::FAULT, errno::FAULT]);
}

#[test]
fn std_sleep_in_a_plugin_sleeps_within_the_deadline() {
    // `std::thread::sleep` in a wasm32-wasip1 plugin is one `poll_oneoff`.
    let (builder, ..) = captured(WASI_DEMO);
    let mut rt = builder.deterministic().build().unwrap();
    assert_eq!(rt.invoke("sleep", b"40").unwrap(), b"41", "40 ms waited, plus the fixed clock's step");
    // On the system clock it really sleeps, and a timeout cuts the wait short.
    let (builder, ..) = captured(WASI_DEMO);
    let mut rt = builder.build().unwrap();
    let start = std::time::Instant::now();
    let slept: u64 = String::from_utf8(rt.invoke("sleep", b"30").unwrap()).unwrap().parse().unwrap();
    assert!(slept >= 30 && start.elapsed() >= std::time::Duration::from_millis(30), "{slept}");
    let (builder, ..) = captured(WASI_DEMO);
    let mut rt = builder.timeout(std::time::Duration::from_millis(50)).build().unwrap();
    let start = std::time::Instant::now();
    // Asks for 60 s: the wait stops at the deadline (and at `max_sleep_ns`), and the
    // call then times out.
    assert!(matches!(rt.invoke("sleep", b"60000"), Err(Error::Timeout(_))));
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}
