//! The `hookr` binary hashes, inspects and invokes plugins, and answers every hostile
//! module, input or option with one `hookr: …` line and a documented exit status, never
//! a panic or a signal.
#![cfg(feature = "cli")]

#[path = "common/cli_run.rs"]
mod cli_run;

use cli_run::{Run, EXIT_CALL, EXIT_LOAD, EXIT_STOPPED, EXIT_USAGE};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Answers every call with its payload, logging a line first.
const ECHO: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (import "hookr" "__log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "echo called")
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $log (i32.const 0) (i32.const 11))
    (call $req (i32.const 1024) (i32.add (i32.const 1024) (local.get $op)))
    (call $resp (i32.add (i32.const 1024) (local.get $op)) (local.get $len))
    (i32.const 1)))"#;

/// Calls the host operation `lookup` (which the CLI does not provide) and reports the
/// host's error as its own.
const HOST_CALLER: &str = r#"(module
  (import "hookr" "__plugin_error" (func $err (param i32 i32)))
  (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__host_error_len" (func $elen (result i32)))
  (import "hookr" "__host_error" (func $eget (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "lookup")
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (if (call $call (i32.const 0) (i32.const 6) (i32.const 0) (i32.const 0))
      (then (return (i32.const 1))))
    (call $eget (i32.const 100))
    (call $err (i32.const 100) (call $elen))
    (i32.const 0)))"#;

/// Calls the unknown host operation and fails without a message.
const SILENT_FAILURE: &str = r#"(module
  (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "lookup")
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (call $call (i32.const 0) (i32.const 6) (i32.const 0) (i32.const 0))))"#;

const TRAP: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param i32 i32) (result i32) unreachable))"#;

const ENDLESS: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 1)))"#;

/// Asks for 65535 pages at once, then grows a page at a time until refused, and
/// answers with the number of pages it got.
const GROW_BOMB: &str = r#"(module
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (if (i32.ne (memory.grow (i32.const 65535)) (i32.const -1)) (then unreachable))
    (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (i32.store8 (i32.const 0) (memory.size))
    (call $resp (i32.const 0) (i32.const 1))
    (i32.const 1)))"#;

/// Starts with 100 pages of memory.
const BIG_MEMORY: &str = r#"(module
  (memory (export "memory") 100)
  (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#;

/// Grows its memory of 1-byte pages one byte at a time until refused, and answers the
/// size it reached (4 LE bytes).
const SMALL_GROWER: &str = r#"(module
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 300 70000 (pagesize 1))
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (i32.store (i32.const 0) (memory.size))
    (call $resp (i32.const 0) (i32.const 4))
    (i32.const 1)))"#;

const NO_PLUGIN_CALL: &str = r#"(module (memory (export "memory") 1))"#;

const IMPORTS_ENV: &str = r#"(module
  (import "env" "foo" (func))
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#;

/// Answers `hello`, which is not one MessagePack value.
const HELLO: &str = r#"(module
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello")
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (call $resp (i32.const 0) (i32.const 5))
    (i32.const 1)))"#;

/// Writes a line to WASI stdout, then answers `ok`.
const WASI_WRITER: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "from wasi stdout\n")
  (data (i32.const 48) "ok")
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 17))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $resp (i32.const 48) (i32.const 2))
    (i32.const 1)))"#;

/// Writes `bytes` to a fresh file under the test scratch directory.
fn write_file(name: &str, bytes: &[u8]) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn fixture(name: &str, wat: &str) -> PathBuf {
    write_file(&format!("{name}.wasm"), &wat::parse_str(wat).unwrap())
}

fn hookr_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookr"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // The child may exit without reading: a broken pipe here is not the test's concern.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run::of(out, &format!("{args:?}"))
}

fn hookr(args: &[&str]) -> Run {
    hookr_with_stdin(args, b"")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn hash_prints_the_sha256_of_a_file() {
    let file = write_file("abc.bin", b"abc");
    let run = hookr(&["hash", p(&file)]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
}

#[test]
fn echo_answers_with_the_payload_and_logs_to_stderr() {
    let echo = fixture("echo", ECHO);
    let run = hookr(&["invoke", p(&echo), "echo", "Steve"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, b"Steve");
    assert!(run.stderr.contains("echo called"), "{}", run.stderr);

    let run = hookr(&["invoke", p(&echo), "echo"]);
    assert_eq!((run.status, run.stdout.as_slice()), (0, &b""[..]), "{}", run.stderr);
}

#[test]
fn raw_input_comes_from_a_file_or_stdin_and_leaves_unchanged() {
    let echo = fixture("echo", ECHO);
    let bytes: Vec<u8> = (0..=255u8).rev().chain([0, b'\n', 0xff]).collect();
    let input = write_file("input.bin", &bytes);
    let run = hookr(&["invoke", p(&echo), "echo", "--input-file", p(&input)]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, bytes);

    let run = hookr_with_stdin(&["invoke", "--input-file", "-", p(&echo), "echo"], &bytes);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, bytes);
}

#[test]
fn options_that_allow_the_call_let_it_through() {
    let echo = fixture("echo", ECHO);
    let hash = hookr(&["hash", p(&echo)]).stdout_str().trim().to_uppercase();
    let run = hookr(&[
        "invoke",
        p(&echo),
        "echo",
        "hi",
        "--hash",
        &hash,
        "--fuel",
        "100000",
        "--max-memory-pages",
        "1",
        "--deterministic",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, b"hi");
}

#[test]
fn usage_errors_exit_with_2() {
    let echo = fixture("echo", ECHO);
    let input = write_file("in.bin", b"x");
    let run = hookr(&["invoke", p(&echo), "echo", "inline", "--input-file", p(&input)]);
    assert_eq!(run.status, EXIT_USAGE, "{}", run.stderr);
    assert_eq!(hookr(&["invoke", p(&echo)]).status, EXIT_USAGE);
    assert_eq!(hookr(&["invoke", p(&echo), "echo", "--fuel", "lots"]).status, EXIT_USAGE);
    assert_eq!(hookr(&["frobnicate"]).status, EXIT_USAGE);
    assert_eq!(hookr(&[]).status, EXIT_USAGE);

    let run = hookr(&["invoke", p(&echo), "echo", "--input-file", "/nonexistent/input"]);
    run.fails(EXIT_USAGE, "cannot read input `/nonexistent/input`");
}

#[test]
fn every_command_has_help() {
    for cmd in [&["--help"][..], &["hash", "--help"], &["inspect", "--help"], &["invoke", "--help"]] {
        let run = hookr(cmd);
        assert_eq!(run.status, 0, "{cmd:?}: {}", run.stderr);
        assert!(run.stdout_str().contains("Usage: hookr"), "{cmd:?}");
    }
    let help = hookr(&["invoke", "--help"]);
    for word in [
        "--input-file",
        "--hash",
        "--fuel",
        "--unmetered",
        "--timeout",
        "--max-memory-pages",
        "--msgpack",
        "--deterministic",
        "Exit status",
    ] {
        assert!(help.stdout_str().contains(word), "{word} missing from invoke --help");
    }
}

#[test]
fn host_calls_fail_with_no_handler_naming_the_operation() {
    let plugin = fixture("host-caller", HOST_CALLER);
    let run = hookr(&["invoke", p(&plugin), "run"]);
    run.fails(EXIT_CALL, "plugin error: no handler registered for operation 'lookup'");

    let plugin = fixture("silent-failure", SILENT_FAILURE);
    hookr(&["invoke", p(&plugin), "run"]).fails(EXIT_CALL, "call to `run` was unsuccessful");
}

#[test]
fn a_trap_names_its_kind() {
    let plugin = fixture("trap", TRAP);
    let run = hookr(&["invoke", p(&plugin), "boom"]);
    run.fails(EXIT_STOPPED, "plugin trapped");
    assert!(run.stderr.contains("unreachable"), "{}", run.stderr);
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let plugin = fixture("endless", ENDLESS);
    hookr(&["invoke", p(&plugin), "spin", "--fuel", "100000"]).fails(EXIT_STOPPED, "plugin ran out of fuel");
    // Metered with the default budget when nothing is said.
    hookr(&["invoke", p(&plugin), "spin"]).fails(EXIT_STOPPED, "plugin ran out of fuel");
}

/// Writes 1 MiB of lines to WASI stdout, again and again, for ever.
const FLOOD: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 17)
  (func (export "__plugin_call") (param i32 i32) (result i32)
    (memory.fill (i32.const 16) (i32.const 120) (i32.const 1048576))
    (i32.store8 (i32.const 1048591) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 1048576))
    (loop $forever (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $forever))
    (i32.const 1)))"#;

#[test]
fn a_flood_of_output_is_bounded_and_the_call_runs_out_of_fuel() {
    let plugin = fixture("flood", FLOOD);
    let run = hookr(&["invoke", p(&plugin), "flood"]);
    run.fails(EXIT_STOPPED, "plugin ran out of fuel");
    // The plugin's stdout goes to stderr: 1 MiB of it per call, and the error line.
    assert!(run.stderr.len() >= 1 << 20 && run.stderr.len() < (1 << 20) + 200, "{}", run.stderr.len());
}

#[test]
fn a_timeout_stops_the_call() {
    let plugin = fixture("endless", ENDLESS);
    let run = hookr(&["invoke", p(&plugin), "spin", "--fuel", "10000000000000", "--timeout", "200ms"]);
    run.fails(EXIT_STOPPED, "call exceeded its timeout of 200ms");
    let echo = fixture("echo", ECHO);
    let run = hookr(&["invoke", p(&echo), "echo", "fast", "--timeout", "10s"]);
    assert_eq!((run.status, run.stdout.as_slice()), (0, &b"fast"[..]), "{}", run.stderr);
    for bad in ["soon", "5", "1h", "0s", "-1s"] {
        let run = hookr(&["invoke", p(&echo), "echo", "--timeout", bad]);
        assert_eq!(run.status, EXIT_USAGE, "--timeout {bad}: {}", run.stderr);
    }
}

#[test]
fn unmetered_runs_trusted_plugins_without_fuel() {
    let echo = fixture("echo", ECHO);
    let run = hookr(&["invoke", p(&echo), "echo", "trusted", "--unmetered"]);
    assert_eq!((run.status, run.stdout.as_slice()), (0, &b"trusted"[..]), "{}", run.stderr);
    // Nothing that needs fuel goes with it.
    for clash in [&["--fuel", "10"][..], &["--timeout", "1s"]] {
        let run = hookr(&[&["invoke", p(&echo), "echo", "--unmetered"][..], clash].concat());
        assert_eq!(run.status, EXIT_USAGE, "{clash:?}: {}", run.stderr);
    }
}

#[test]
fn memory_stays_within_max_memory_pages() {
    let plugin = fixture("grow-bomb", GROW_BOMB);
    let run = hookr(&["invoke", p(&plugin), "grow", "--max-memory-pages", "4"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, [4]);

    let plugin = fixture("big-memory", BIG_MEMORY);
    hookr(&["invoke", p(&plugin), "x", "--max-memory-pages", "4"]).fails(EXIT_LOAD, "memory limit");
    hookr(&["invoke", p(&plugin), "x", "--max-memory-bytes", "6553599"]).fails(EXIT_LOAD, "memory limit");
    let run = hookr(&["invoke", p(&plugin), "x", "--max-memory-bytes", "6553600"]);
    assert_eq!(run.status, 0, "{}", run.stderr);

    // A plugin with 1-byte pages grows up to the limit in bytes, or to its own maximum.
    let plugin = fixture("small-grower", SMALL_GROWER);
    let run = hookr(&["invoke", p(&plugin), "x", "--max-memory-bytes", "1000"]);
    assert_eq!((run.status, run.stdout.as_slice()), (0, 1000u32.to_le_bytes().as_slice()), "{}", run.stderr);
    let run = hookr(&["invoke", p(&plugin), "x", "--max-memory-pages", "1"]);
    assert_eq!((run.status, run.stdout.as_slice()), (0, 65536u32.to_le_bytes().as_slice()), "{}", run.stderr);
    let run = hookr(&["invoke", p(&plugin), "x"]);
    assert_eq!((run.status, run.stdout.as_slice()), (0, 70000u32.to_le_bytes().as_slice()), "{}", run.stderr);
    let run = hookr(&["inspect", p(&plugin)]);
    let line = "memory:   exported `memory`: 300 bytes min, max 70000 (pages of 1 B: 300 min, 70000 max)";
    assert!(run.stdout_str().contains(line), "{}", run.stdout_str());
    let run = hookr(&["invoke", p(&plugin), "x"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
}

#[test]
fn broken_modules_fail_to_load() {
    let plugin = fixture("no-plugin-call", NO_PLUGIN_CALL);
    hookr(&["invoke", p(&plugin), "x"]).fails(EXIT_LOAD, "module does not export `__plugin_call`");

    let plugin = fixture("imports-env", IMPORTS_ENV);
    hookr(&["invoke", p(&plugin), "x"]).fails(EXIT_LOAD, "cannot link import `env::foo`");

    let garbage = write_file("garbage.wasm", b"\x7fELF\x02\x01\x01\0 definitely not wasm \xff\xfe");
    hookr(&["invoke", p(&garbage), "x"]).fails(EXIT_LOAD, "invalid module");
    let truncated = write_file("truncated.wasm", b"\0asm\x01\0\0\0\x01\xff");
    hookr(&["invoke", p(&truncated), "x"]).fails(EXIT_LOAD, "invalid module");
    let empty = write_file("empty.wasm", b"");
    hookr(&["invoke", p(&empty), "x"]).fails(EXIT_LOAD, "invalid module");

    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-plugin.wasm");
    hookr(&["invoke", p(&missing), "x"]).fails(EXIT_LOAD, "cannot read");
    hookr(&["invoke", env!("CARGO_TARGET_TMPDIR"), "x"]).fails(EXIT_LOAD, "cannot read");
    hookr(&["hash", p(&missing)]).fails(EXIT_LOAD, "cannot read");
    hookr(&["hash", env!("CARGO_TARGET_TMPDIR")]).fails(EXIT_LOAD, "cannot read");
}

#[test]
fn hashes_are_checked_before_loading() {
    let echo = fixture("echo", ECHO);
    let wrong = "0".repeat(64);
    hookr(&["invoke", p(&echo), "echo", "--hash", &wrong]).fails(EXIT_LOAD, "hash mismatch");
    hookr(&["invoke", p(&echo), "echo", "--hash", "abc123"]).fails(EXIT_LOAD, "malformed hash");
    let not_hex = "z".repeat(64);
    hookr(&["invoke", p(&echo), "echo", "--hash", &not_hex]).fails(EXIT_LOAD, "malformed hash");
    // Garbage with the right hash passes the check and then fails as a module.
    let garbage = write_file("garbage.wasm", b"garbage");
    let hash = hookr(&["hash", p(&garbage)]).stdout_str().trim().to_string();
    hookr(&["invoke", p(&garbage), "x", "--hash", &hash]).fails(EXIT_LOAD, "invalid module");
}

#[test]
fn msgpack_round_trips_json_through_the_plugin() {
    let echo = fixture("echo", ECHO);
    let json = r#"{"data":"Steve","nested":{"list":[1,-2,3.5,null,true,"x",{}],"big":18446744073709551615}}"#;
    let run = hookr(&["invoke", p(&echo), "echo", "--msgpack", json]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout_str(), format!("{json}\n"));

    // The plugin sees msgp's struct form: a map keyed by field name.
    let run = hookr(&["invoke", p(&echo), "echo", "--msgpack", r#"{"data":"Steve"}"#]);
    assert_eq!(run.stdout_str(), "{\"data\":\"Steve\"}\n");
    let encoded = write_file("steve.json", br#"{"data":"Steve"}"#);
    let run = hookr(&["invoke", p(&echo), "echo", "--msgpack", "--input-file", p(&encoded)]);
    assert_eq!(run.stdout_str(), "{\"data\":\"Steve\"}\n");
}

#[test]
fn msgpack_refuses_bad_json_and_non_msgpack_responses() {
    let echo = fixture("echo", ECHO);
    hookr(&["invoke", p(&echo), "echo", "--msgpack", "{not json"]).fails(EXIT_USAGE, "not JSON");

    let hello = fixture("hello", HELLO);
    hookr(&["invoke", p(&hello), "hi", "--msgpack", "{}"]).fails(EXIT_CALL, "response is not MessagePack");
    let run = hookr(&["invoke", p(&hello), "hi"]);
    assert_eq!(run.stdout, b"hello");
}

#[test]
fn inspect_shows_the_abi_imports_exports_and_memory() {
    let echo = fixture("echo", ECHO);
    let run = hookr(&["inspect", p(&echo)]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = run.stdout_str();
    for line in [
        "valid:    yes",
        "abi:      hookr",
        "imports:  3",
        "  hookr\n",
        "    __plugin_request: func (i32, i32)\n",
        "    __log: func (i32, i32)\n",
        "exports:  2",
        "  __plugin_call: func (i32, i32) -> i32\n",
        "  memory: memory 1.. pages\n",
        "memory:   exported `memory`: 65536 bytes min, max none (pages of 65536 B: 1 min)",
    ] {
        assert!(out.contains(line), "{line:?} not in\n{out}");
    }

    let run = hookr(&["inspect", p(&fixture("imports-env", IMPORTS_ENV))]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = run.stdout_str();
    assert!(out.contains("abi:      not hookr"), "{out}");
    assert!(out.contains("cannot link import `env::foo`: the host provides no such import"), "{out}");
    assert!(out.contains("  env\n    foo: func ()\n"), "{out}");

    let run = hookr(&["inspect", p(&fixture("no-plugin-call", NO_PLUGIN_CALL))]);
    assert!(run.stdout_str().contains("does not export `__plugin_call`"), "{}", run.stdout_str());

    let run = hookr(&["inspect", p(&fixture("wasi", WASI_WRITER))]);
    assert!(run.stdout_str().contains("abi:      hookr (with WASI)"), "{}", run.stdout_str());
    assert!(run.stdout_str().contains("  wasi_snapshot_preview1\n    fd_write: func (i32, i32, i32, i32) -> i32\n"));
}

#[test]
fn wapc_guests_are_inspected_and_invoked_like_hookr_plugins() {
    let plugin = concat!(env!("CARGO_MANIFEST_DIR"), "/targets/plugins/wapc-demo/wapc-demo.wasm");
    let run = hookr(&["inspect", plugin]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = run.stdout_str();
    assert!(out.contains("abi:      waPC\n"), "{out}");
    assert!(out.contains("  wapc\n"), "{out}");
    assert!(out.contains("    __host_call: func (i32, i32, i32, i32, i32, i32, i32, i32) -> i32\n"), "{out}");
    let run = hookr(&["invoke", plugin, "echo", "Steve"]);
    assert_eq!((run.status, run.stdout.as_slice()), (0, b"Steve".as_slice()), "{}", run.stderr);
    hookr(&["invoke", plugin, "fail"]).fails(EXIT_CALL, "plugin error: planned failure");
    hookr(&["invoke", plugin, "trap"]).fails(EXIT_STOPPED, "unreachable");
    let mixed = r#"(module (import "hookr" "__log" (func (param i32 i32)))
        (import "wapc" "__console_log" (func (param i32 i32)))
        (memory (export "memory") 1)
        (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#;
    let run = hookr(&["inspect", p(&fixture("mixed", mixed))]);
    assert!(
        run.stdout_str().contains("abi:      not hookr or waPC\n  - invalid module: imports from both"),
        "{}",
        run.stdout_str()
    );
}

#[test]
fn inspect_rejects_what_does_not_validate() {
    let garbage = write_file("garbage.wasm", b"not wasm at all");
    hookr(&["inspect", p(&garbage)]).fails(EXIT_LOAD, "invalid module");
    hookr(&["inspect", p(&write_file("empty.wasm", b""))]).fails(EXIT_LOAD, "invalid module");
    // Well-formed, but the function returns an i64 where it promises an i32.
    let mut bad = wat::parse_str(r#"(module (func (result i32) (i32.const 1)))"#).unwrap();
    let at = bad.windows(2).position(|w| w == [0x41, 0x01]).unwrap();
    bad[at] = 0x42; // i64.const
    hookr(&["inspect", p(&write_file("mistyped.wasm", &bad))]).fails(EXIT_LOAD, "invalid module");
    hookr(&["inspect", env!("CARGO_TARGET_TMPDIR")]).fails(EXIT_LOAD, "cannot read");
}

/// WASI is linked by the runtime when it supports it; either way the plugin's output
/// must not reach stdout, which holds the response alone.
#[test]
fn wasi_output_goes_to_stderr_or_the_import_is_named() {
    let plugin = fixture("wasi", WASI_WRITER);
    let run = hookr(&["invoke", p(&plugin), "write"]);
    if run.status == 0 {
        assert_eq!(run.stdout, b"ok");
        assert!(run.stderr.contains("from wasi stdout"), "{}", run.stderr);
    } else {
        run.fails(EXIT_LOAD, "wasi_snapshot_preview1::fd_write");
    }
}

#[test]
fn inspect_checks_hookr_import_types() {
    let wrong = r#"(module (import "hookr" "__log" (func (param i64)))
        (memory (export "memory") 1)
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#;
    let run = hookr(&["inspect", p(&fixture("wrong-log", wrong))]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = run.stdout_str();
    assert!(out.contains("abi:      not hookr"), "{out}");
    assert!(out.contains("cannot link import `hookr::__log`: wrong type"), "{out}");
}
