//! Loading a plugin: hash verification, module validation, exports, imports and files.

mod common;

use hookr::{EngineConfig, Error, Hasher, Module, NoVerify, Runtime, Sha256Hasher};

fn load(wasm: &[u8], hash: &str, hasher: Option<Sha256Hasher>) -> Result<Runtime<()>, Error> {
    let b = Runtime::builder(()).bytes(wasm).hash(hash);
    match hasher {
        Some(h) => b.hasher(h).build(),
        None => b.build(),
    }
}

#[test]
fn good_hash_loads_in_either_case() {
    let wasm = common::kitchen();
    let hash = Sha256Hasher.hash(&wasm);
    assert_eq!(hash.len(), 64);
    assert!(load(&wasm, &hash, Some(Sha256Hasher)).is_ok());
    assert!(load(&wasm, &hash.to_uppercase(), Some(Sha256Hasher)).is_ok());
}

#[test]
fn wrong_hash_is_a_mismatch_naming_both() {
    let wasm = common::kitchen();
    let wrong = Sha256Hasher.hash(b"something else");
    let err = load(&wasm, &wrong, Some(Sha256Hasher)).unwrap_err();
    let Error::HashMismatch { expected, actual } = &err else { panic!("{err:?}") };
    assert_eq!(&**expected, wrong);
    assert_eq!(&**actual, Sha256Hasher.hash(&wasm));
    assert!(err.to_string().starts_with("hash mismatch: expected "), "{err}");
}

#[test]
fn malformed_hash_is_its_own_error() {
    let wasm = common::kitchen();
    for bad in ["abc", &"z".repeat(64), &"a".repeat(65)] {
        let err = load(&wasm, bad, Some(Sha256Hasher)).unwrap_err();
        assert!(matches!(err, Error::MalformedHash(_)), "{bad}: {err:?}");
    }
}

#[test]
fn hash_without_hasher_fails_and_no_hash_without_hasher_loads() {
    let wasm = common::kitchen();
    let hash = Sha256Hasher.hash(&wasm);
    let err = load(&wasm, &hash, None).unwrap_err();
    assert!(matches!(err, Error::HashMismatch { ref actual, .. } if actual.is_empty()), "{err:?}");
    assert!(err.to_string().contains("no hasher"), "{err}");
    assert!(load(&wasm, "", None).is_ok());
    assert_eq!(NoVerify.hash(&wasm), "");
}

#[test]
fn the_hash_is_checked_before_anything_is_parsed() {
    // Garbage with a wrong hash reports the hash, not the garbage.
    let err = load(b"garbage", &"0".repeat(64), Some(Sha256Hasher)).unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err:?}");
}

#[test]
fn bad_bytes_are_invalid_modules() {
    let wasm = common::kitchen();
    for bytes in [&b""[..], b"\0asm", b"garbage!", b"\0asm\x02\0\0\0", &wasm[..wasm.len() / 2]] {
        let err = load(bytes, "", None).unwrap_err();
        assert!(matches!(err, Error::InvalidModule(_)), "{bytes:?}: {err:?}");
        assert!(err.to_string().starts_with("invalid module: "), "{err}");
    }
}

#[test]
fn missing_exports_are_named() {
    let no_memory =
        common::wasm(r#"(module (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#);
    let err = load(&no_memory, "", None).unwrap_err();
    assert!(matches!(err, Error::MissingExport("memory")), "{err:?}");
    let no_call = common::wasm(r#"(module (memory (export "memory") 1))"#);
    let err = load(&no_call, "", None).unwrap_err();
    assert!(matches!(err, Error::MissingExport(_)), "{err:?}");
    assert_eq!(err.to_string(), "module does not export `__plugin_call` or `__guest_call`");
    let wrong_type = common::wasm(r#"(module (memory (export "memory") 1) (func (export "__plugin_call")))"#);
    assert!(matches!(load(&wrong_type, "", None).unwrap_err(), Error::InvalidModule(_)));
}

#[test]
fn unknown_imports_are_named() {
    let wasm = common::wasm(
        r#"(module (import "env" "foo" (func (param i32)))
        (memory (export "memory") 1) (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let err = load(&wasm, "", None).unwrap_err();
    assert_eq!(err.to_string(), "cannot link import `env::foo`: the host provides no such import");
    let wrong_sig = common::wasm(
        r#"(module (import "hookr" "__log" (func (param i64 i32)))
        (memory (export "memory") 1) (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let err = load(&wrong_sig, "", None).unwrap_err();
    assert!(matches!(&err, Error::Link { name, .. } if &**name == "__log"), "{err:?}");
    let no_such = common::wasm(
        r#"(module (import "hookr" "__nope" (func))
        (memory (export "memory") 1) (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    assert!(matches!(load(&no_such, "", None).unwrap_err(), Error::Link { .. }));
}

#[test]
fn initialisers_run_once_in_order_and_failures_name_them() {
    let wat = |hookr_init_body: &str| {
        format!(
            r#"(module (import "hookr" "__log" (func $log (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "_start_initializehookr_init")
            (func (export "_start") (call $log (i32.const 0) (i32.const 6)))
            (func (export "_initialize") (call $log (i32.const 6) (i32.const 11)))
            (func (export "hookr_init") (call $log (i32.const 17) (i32.const 10)) {hookr_init_body})
            (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#
        )
    };
    let (lines, logger) = common::log_lines();
    let mut rt = Runtime::builder(()).bytes(&common::wasm(&wat(""))).logger(logger).build().unwrap();
    rt.invoke("x", b"").unwrap();
    assert_eq!(*lines.lock().unwrap(), ["_start", "_initialize", "hookr_init"]);

    let err = Runtime::builder(()).bytes(&common::wasm(&wat("unreachable"))).logger(|_| {}).build().unwrap_err();
    let Error::Init { name, source } = &err else { panic!("{err:?}") };
    assert_eq!(*name, "hookr_init");
    assert!(matches!(**source, Error::Trap(hookr::TrapCode::UnreachableCodeReached)), "{source:?}");
    assert!(err.to_string().starts_with("initialiser `hookr_init` failed: plugin trapped"), "{err}");
}

#[test]
fn an_endless_initialiser_runs_out_of_fuel_by_default() {
    let wasm = common::wasm(
        r#"(module (memory (export "memory") 1)
        (func (export "_initialize") (loop $l (br $l)))
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    // Nothing said about fuel: initialisers get `Limits::DEFAULT_INIT_FUEL`.
    let err = Runtime::builder(()).bytes(&wasm).build().unwrap_err();
    assert!(
        matches!(&err, Error::Init { name: "_initialize", source } if matches!(**source, Error::OutOfFuel)),
        "{err:?}"
    );
    let err = Runtime::builder(()).bytes(&wasm).init_fuel(100_000).build().unwrap_err();
    assert!(matches!(&err, Error::Init { source, .. } if matches!(**source, Error::OutOfFuel)), "{err:?}");
}

#[test]
fn an_initialiser_of_another_type_refuses_the_module() {
    for (name, abi) in [("_initialize", "hookr"), ("hookr_init", "hookr"), ("_start", "hookr"), ("wapc_init", "waPC")] {
        let entry = if abi == "waPC" { "__guest_call" } else { "__plugin_call" };
        for ty in ["(param i32)", "(result i32)"] {
            let wasm = common::wasm(&format!(
                r#"(module (memory (export "memory") 1)
                (func (export "{name}") {ty} unreachable)
                (func (export "{entry}") (param i32 i32) (result i32) (i32.const 1)))"#
            ));
            let err = Module::new(&wasm, "", &NoVerify, EngineConfig::default()).unwrap_err();
            assert!(matches!(&err, Error::InvalidModule(_)), "{name} {ty}: {err:?}");
            assert_eq!(
                err.to_string(),
                format!("invalid module: the initialiser `{name}` must be a function () -> ()")
            );
        }
    }
    // Another ABI's initialiser is just an export.
    let wasm = common::wasm(
        r#"(module (memory (export "memory") 1)
        (func (export "wapc_init") (param i32) unreachable)
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    assert!(Runtime::builder(()).bytes(&wasm).build().unwrap().invoke("x", b"").is_ok());
}

#[test]
fn files_load_and_a_missing_file_names_its_path() {
    let dir = std::env::temp_dir().join(format!("hookr-loading-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kitchen.wasm");
    let wasm = common::kitchen();
    std::fs::write(&path, &wasm).unwrap();
    let mut rt = Runtime::builder(()).file(&path).hash(&Sha256Hasher.hash(&wasm)).hasher(Sha256Hasher).build().unwrap();
    assert_eq!(rt.invoke("echo", b"file").unwrap(), b"file");
    let missing = dir.join("missing.wasm");
    let err = Runtime::builder(()).file(&missing).build().unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains(&*missing.to_string_lossy()), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_compiled_module_instantiates_many_times_and_is_shareable() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let wasm = common::kitchen();
    let module = hookr::Module::new(&wasm, "", &NoVerify, hookr::EngineConfig::default()).unwrap();
    send_sync(&module);
    let mut a = Runtime::builder(()).module(module.clone()).build().unwrap();
    let mut b = Runtime::builder(()).module(module.clone()).build().unwrap();
    assert_eq!(a.invoke("count", b"").unwrap(), 1u32.to_le_bytes());
    assert_eq!(a.invoke("count", b"").unwrap(), 2u32.to_le_bytes());
    // Each runtime has its own instance.
    assert_eq!(b.invoke("count", b"").unwrap(), 1u32.to_le_bytes());
    // Runtimes move between threads when their state does.
    let handle = std::thread::spawn(move || b.invoke("echo", b"thread").unwrap());
    assert_eq!(handle.join().unwrap(), b"thread");
    // A compiled module has had its hash checked already.
    let err = Runtime::builder(()).module(module).hash("00").build().unwrap_err();
    assert!(matches!(err, Error::Config(_)));
}

#[test]
fn no_source_is_a_configuration_error() {
    assert!(matches!(Runtime::builder(()).build().unwrap_err(), Error::Config(_)));
}

#[test]
fn a_pinned_hash_is_checked_in_a_validating_build_too() {
    let wasm = common::kitchen();
    let hash: &'static str = Sha256Hasher.hash(&wasm).leak();
    // SAFETY: the kitchen plugin validates (this build validates it again anyway).
    let pin = unsafe { hookr::Pinned::new_unchecked(hash) };
    let mut rt = Runtime::builder(()).bytes(&wasm).pinned(pin).build().unwrap();
    assert_eq!(rt.invoke("echo", b"x").unwrap(), b"x");
    // SAFETY: as above; the mismatch is refused before anything is compiled.
    let other = unsafe { hookr::Pinned::new_unchecked(Sha256Hasher.hash(b"other").leak()) };
    let err = Runtime::builder(()).bytes(&wasm).pinned(other).build().unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err:?}");
    let err = Runtime::builder(()).bytes(&wasm).pinned(pin).hash(hash).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[test]
fn a_reused_module_must_match_the_limits_it_was_compiled_for() {
    let wasm = common::kitchen();
    let metered = Runtime::builder(()).bytes(&wasm).fuel(1000).build().unwrap().module().clone();
    let err = Runtime::builder(()).module(metered.clone()).unmetered().build().unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("metering")), "{err:?}");
    assert!(Runtime::builder(()).module(metered).fuel(1000).build().is_ok());
    let unmetered = Runtime::builder(()).bytes(&wasm).unmetered().build().unwrap().module().clone();
    let err = Runtime::builder(()).module(unmetered.clone()).build().unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("fuel")), "{err:?}");
    assert!(Runtime::builder(()).module(unmetered).unmetered().build().is_ok());
    let plain = Runtime::builder(()).bytes(&wasm).build().unwrap().module().clone();
    let limits = hookr::Limits::default().with_max_recursion_depth(16);
    let err = Runtime::builder(()).module(plain).limits(limits).build().unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("recursion")), "{err:?}");
}

#[test]
fn engine_settings_that_cannot_work_are_errors() {
    let wasm = common::wasm(
        r#"(module (memory (export "memory") 1)
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    for config in [
        EngineConfig::default().with_max_stack_height(500),
        EngineConfig::default().with_max_stack_height(0),
        EngineConfig::default().with_max_recursion_depth(0),
        EngineConfig::default().with_min_stack_height(4096).with_max_stack_height(2048),
        // A stack the interpreter could not allocate would end the process.
        EngineConfig::default().with_max_stack_height(usize::MAX).with_min_stack_height(1 << 45),
        EngineConfig::default().with_max_stack_height(EngineConfig::MAX_STACK_HEIGHT + 1),
    ] {
        let err = Module::new(&wasm, "", &NoVerify, config).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{config:?}: {err:?}");
    }
    let smallest = EngineConfig::default().with_max_stack_height(EngineConfig::MIN_STACK_HEIGHT);
    let module = Module::new(&wasm, "", &NoVerify, smallest).unwrap();
    let mut rt = Runtime::builder(()).module(module).build().unwrap();
    assert_eq!(rt.invoke("x", b"").unwrap(), b"");
    // A starting stack above wasmi's default maximum (1 MB) is fine under a larger
    // maximum, and none at all too.
    for config in [
        EngineConfig::default().with_min_stack_height(2 << 20).with_max_stack_height(4 << 20),
        EngineConfig::default().with_max_stack_height(EngineConfig::MAX_STACK_HEIGHT),
        EngineConfig::default().with_min_stack_height(0).with_max_cached_stacks(0),
    ] {
        let module = Module::new(&wasm, "", &NoVerify, config).unwrap();
        let mut rt = Runtime::builder(()).module(module).build().unwrap();
        assert_eq!(rt.invoke("x", b"").unwrap(), b"", "{config:?}");
    }
}

/// Imports are resolved by name once per module, whatever their order: one imported
/// twice gets the same host function at both indices, stubbed WASI functions answer
/// their errno, and a module with more imports than are gathered on the stack (16)
/// instantiates as well, fresh and after a failed call.
#[test]
fn imports_resolve_in_any_order_repeated_and_many() {
    let wasm = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
            (import "hookr" "__log" (func $log_a (param i32 i32)))
            (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
            (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
            (import "wasi_snapshot_preview1" "args_get" (func (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "args_sizes_get" (func (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "environ_get" (func (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "environ_sizes_get" (func (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "clock_res_get" (func (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
            (import "wasi_snapshot_preview1" "fd_fdstat_get" (func (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "fd_read" (func (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "poll_oneoff" (func (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
            (import "wasi_snapshot_preview1" "fd_seek" (func (param i32 i64 i32 i32) (result i32)))
            (import "hookr" "__plugin_request" (func $req (param i32 i32)))
            (import "hookr" "__log" (func $log_b (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 900) "ab")
            (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
                (call $req (i32.const 0) (local.get $op))
                (call $log_a (i32.const 900) (i32.const 1))
                (call $log_b (i32.const 901) (i32.const 1))
                ;; A trap when the payload is "trap"; else the answer of both WASI
                ;; functions (0 and EBADF, 8), as two bytes, then the payload.
                (if (i32.eq (i32.load (local.get $op)) (i32.const 0x70617274)) (then unreachable))
                (i32.store8 (i32.const 1000) (call $yield))
                (i32.store8 (i32.const 1001) (call $close (i32.const 3)))
                (memory.copy (i32.const 1002) (local.get $op) (local.get $len))
                (call $resp (i32.const 1000) (i32.add (local.get $len) (i32.const 2)))
                (i32.const 1)))"#,
    )
    .unwrap();
    let module = Module::new(&wasm, "", &NoVerify, EngineConfig::default()).unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let runtime = |module: &Module| {
        let lines = lines.clone();
        Runtime::builder(())
            .module(module.clone())
            .logger(move |line| lines.lock().unwrap().push(line.to_string()))
            .build()
            .unwrap()
    };
    for _ in 0..3 {
        let mut rt = runtime(&module);
        assert_eq!(rt.invoke("op", b"xy").unwrap(), b"\x00\x08xy");
        assert!(matches!(rt.invoke("op", b"trap").unwrap_err(), Error::Trap(_)));
        // The instance that trapped is replaced, with the same imports.
        assert_eq!(rt.invoke("op", b"z").unwrap(), b"\x00\x08z");
        rt.reset().unwrap();
        assert_eq!(rt.invoke("op", b"").unwrap(), b"\x00\x08");
    }
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 3 * 4 * 2);
    assert!(lines.chunks(2).all(|pair| pair == ["a", "b"]), "{lines:?}");
}

#[cfg(unix)]
#[test]
fn a_module_file_is_read_within_its_bound() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("module-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = wat::parse_str(
        r#"(module (memory (export "memory") 1)
      (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    )
    .unwrap();
    let path = dir.join("plugin.wasm");
    std::fs::write(&path, &wasm).unwrap();
    let hash = Sha256Hasher.hash(&wasm);
    let module = Module::from_file(&path, &hash, &Sha256Hasher, EngineConfig::default()).unwrap();
    assert_eq!(Runtime::builder(()).module(module).build().unwrap().invoke("x", b"").unwrap(), b"");
    // An endless file is refused once it passes the bound.
    let err = Module::from_file("/dev/zero", &hash, &Sha256Hasher, EngineConfig::default()).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { what: "module file", limit: hookr::MAX_MODULE_FILE, len } if len > hookr::MAX_MODULE_FILE),
        "{err:?}"
    );
    let err = Module::from_file(dir.join("missing.wasm"), &hash, &Sha256Hasher, EngineConfig::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
