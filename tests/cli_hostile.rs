//! What the `hookr` binary does with hostile paths, names and values: a transcript path
//! that is the plugin or an existing file, a guest kit whose path TOML must escape,
//! environment entries and hashes that would forge or garble output, and the inputs
//! `--msgpack` is given or not.
#![cfg(feature = "cli")]

#[path = "common/cli_run.rs"]
mod cli_run;

use cli_run::{Run, EXIT_LOAD, EXIT_STOPPED, EXIT_USAGE};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Answers every call with its payload.
const ECHO: &str = r#"(module
  (import "hookr" "__plugin_request" (func $req (param i32 i32)))
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (call $req (i32.const 1024) (i32.add (i32.const 1024) (local.get $op)))
    (call $resp (i32.add (i32.const 1024) (local.get $op)) (local.get $len))
    (i32.const 1)))"#;

/// Answers the payload's length as one MessagePack positive fixint (lengths below 128).
const LENGTH: &str = r#"(module
  (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 0) (local.get $len))
    (call $resp (i32.const 0) (i32.const 1))
    (i32.const 1)))"#;

const TRAP: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "__plugin_call") (param i32 i32) (result i32) unreachable))"#;

/// A fresh, empty folder for one test.
fn scratch(test: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_hostile").join(format!("{test}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn module(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    path
}

fn hookr_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_hookr")).args(args).current_dir(dir).output().unwrap();
    Run::of(out, &format!("in {}", dir.display()))
}

fn hookr<S: AsRef<OsStr>>(args: &[S]) -> Run {
    hookr_in(Path::new(env!("CARGO_TARGET_TMPDIR")), args)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_plugin_that_cannot_load_leaves_the_record_path_as_it_was() {
    let dir = scratch("record-kept");
    let echo = module(&dir, "echo.wasm", ECHO);
    let record = dir.join("calls.hrt");
    std::fs::write(&record, b"an earlier transcript").unwrap();
    let missing = dir.join("missing.wasm");
    let bad_hash = "0".repeat(64);
    let failing: [(&[&str], &str); 4] = [
        (&["invoke", p(&echo), "echo", "--hash", &bad_hash], "hash mismatch"),
        (&["invoke", p(&echo), "echo", "--hash", "abc"], "malformed hash"),
        (&["invoke", p(&echo), "echo", "--fuel", "0"], "cannot load"),
        (&["invoke", p(&missing), "echo"], "cannot read"),
    ];
    for (args, needle) in failing {
        let args: Vec<&str> = args.iter().copied().chain(["--record", p(&record)]).collect();
        hookr(&args).fails(EXIT_LOAD, needle);
        assert_eq!(std::fs::read(&record).unwrap(), b"an earlier transcript", "{args:?}");
        assert_eq!(listing(&dir), ["calls.hrt", "echo.wasm"], "{args:?}");
    }
}

#[test]
fn the_plugin_itself_is_no_record_path() {
    let dir = scratch("record-plugin");
    let echo = module(&dir, "echo.wasm", ECHO);
    let original = std::fs::read(&echo).unwrap();
    let spellings = [p(&echo).to_string(), format!("{}/./echo.wasm", p(&dir)), "echo.wasm".to_string()];
    for spelling in &spellings {
        hookr_in(&dir, &["invoke", p(&echo), "echo", "x", "--record", spelling])
            .fails(EXIT_USAGE, "is the plugin itself");
        assert_eq!(std::fs::read(&echo).unwrap(), original, "{spelling}");
    }
    #[cfg(unix)]
    {
        let link = dir.join("link.wasm");
        std::os::unix::fs::symlink(&echo, &link).unwrap();
        hookr(&["invoke", p(&echo), "echo", "x", "--record", p(&link)]).fails(EXIT_USAGE, "is the plugin itself");
        hookr(&["invoke", p(&link), "echo", "x", "--record", p(&echo)]).fails(EXIT_USAGE, "is the plugin itself");
        assert_eq!(std::fs::read(&echo).unwrap(), original);
    }
    hookr(&["invoke", p(&echo), "echo", "x", "--record", p(&dir)]).fails(EXIT_USAGE, "is a folder");
    let nowhere = dir.join("no-such-folder/calls.hrt");
    hookr(&["invoke", p(&echo), "echo", "x", "--record", p(&nowhere)]).fails(EXIT_USAGE, "cannot create");
    // A path that ends in a separator names a folder, there or not: refused before the call.
    let folder = format!("{}/new-folder/", p(&dir));
    hookr(&["invoke", p(&echo), "echo", "x", "--record", &folder]).fails(EXIT_USAGE, "not a file name");
    assert_eq!(std::fs::read(&echo).unwrap(), original);
    assert!(!dir.join("new-folder").exists());
    assert!(listing(&dir).iter().all(|f| !f.ends_with(".tmp")), "{:?}", listing(&dir));
}

#[test]
fn a_call_that_ran_replaces_the_record_path_with_its_transcript_even_when_it_failed() {
    let dir = scratch("record-replaced");
    let echo = module(&dir, "echo.wasm", ECHO);
    let trap = module(&dir, "trap.wasm", TRAP);
    let record = dir.join("calls.hrt");
    std::fs::write(&record, b"an earlier transcript").unwrap();

    let run = hookr(&["invoke", p(&echo), "echo", "Steve", "--record", p(&record)]);
    assert_eq!(run.succeeds().stdout, b"Steve");
    assert_eq!(hookr(&["replay", p(&echo), p(&record)]).succeeds().stdout_str(), "identical: 1 call\n");

    hookr(&["invoke", p(&trap), "boom", "--record", p(&record)]).fails(EXIT_STOPPED, "call to `boom` failed");
    let shown = hookr(&["transcript", p(&record)]);
    assert!(shown.succeeds().stdout_str().contains("call 1 \"boom\""), "{}", shown.stdout_str());
    assert_eq!(hookr(&["replay", p(&trap), p(&record)]).succeeds().stdout_str(), "identical: 1 call\n");
    assert_eq!(listing(&dir), ["calls.hrt", "echo.wasm", "trap.wasm"]);

    // A relative path lands in the folder hookr runs in.
    hookr_in(&dir, &["invoke", "echo.wasm", "echo", "again", "--record", "here.hrt"]).succeeds();
    assert_eq!(hookr_in(&dir, &["replay", "echo.wasm", "here.hrt"]).succeeds().stdout_str(), "identical: 1 call\n");

    // A symbolic link to a transcript stays one; the file it names is replaced.
    #[cfg(unix)]
    {
        let link = dir.join("link.hrt");
        std::os::unix::fs::symlink(&record, &link).unwrap();
        hookr(&["invoke", p(&echo), "echo", "linked", "--record", p(&link)]).succeeds();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        let shown = hookr(&["transcript", p(&record)]);
        assert!(shown.succeeds().stdout_str().contains("\"linked\""), "{}", shown.stdout_str());
        // A link to a file not there yet is followed, as creating the file would.
        let dangling = dir.join("dangling.hrt");
        std::os::unix::fs::symlink(dir.join("later.hrt"), &dangling).unwrap();
        hookr(&["invoke", p(&echo), "echo", "later", "--record", p(&dangling)]).succeeds();
        assert!(std::fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
        assert_eq!(hookr(&["replay", p(&echo), p(&dangling)]).succeeds().stdout_str(), "identical: 1 call\n");
        // The transcript keeps the permissions of the file it replaces.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o600)).unwrap();
        hookr(&["invoke", p(&echo), "echo", "private", "--record", p(&record)]).succeeds();
        assert_eq!(std::fs::metadata(&record).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

/// A folder named `name` in `dir` that `--guest-kit` accepts.
fn kit(dir: &Path, name: &str) -> PathBuf {
    let kit = dir.join(name);
    std::fs::create_dir_all(kit.join("src")).unwrap();
    std::fs::write(kit.join("Cargo.toml"), "[package]\nname = \"hookr-guest\"\nversion = \"0.1.0\"\n").unwrap();
    std::fs::write(kit.join("src/lib.rs"), "").unwrap();
    kit
}

/// The line of `crate_dir`'s Cargo.toml that names the guest kit.
fn kit_line(crate_dir: &Path) -> String {
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    manifest.lines().find(|l| l.starts_with("hookr-guest = ")).unwrap().to_string()
}

/// Whether cargo parses `crate_dir`'s Cargo.toml and finds the guest kit it names, which
/// it can only at the exact path.
fn cargo_finds_the_kit(crate_dir: &Path) -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--offline", "--format-version", "1"])
        .current_dir(crate_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    metadata["packages"].as_array().unwrap().iter().any(|package| package["name"] == "hookr-guest")
}

#[cfg(unix)]
#[test]
fn a_guest_kit_path_is_written_as_an_exact_toml_string() {
    let dir = scratch("kit-escaped");
    // Backslashes are part of a Unix name, and quotes, line breaks and other control
    // characters may be too.
    let name = "k\\it \"x\"\n\t\u{7f}\u{1b}é\\";
    let escaped = "k\\\\it \\\"x\\\"\\n\\t\\u007F\\u001Bé\\\\";
    let kit = kit(&dir, name);

    hookr_in(&dir, &["new", "absolute", "--guest-kit", p(&kit)]).succeeds();
    let canonical = kit.canonicalize().unwrap();
    let expected = format!("hookr-guest = {{ path = \"{}/{escaped}\" }}", p(canonical.parent().unwrap()));
    assert_eq!(kit_line(&dir.join("absolute")), expected);
    assert!(cargo_finds_the_kit(&dir.join("absolute")));

    hookr_in(&dir, &["new", "plugins/relative", "--guest-kit", name]).succeeds();
    let crate_dir = dir.join("plugins/relative");
    assert_eq!(kit_line(&crate_dir), format!("hookr-guest = {{ path = \"../../{escaped}\" }}"));
    assert!(cargo_finds_the_kit(&crate_dir));
}

#[cfg(unix)]
#[test]
fn a_guest_kit_path_that_is_not_utf8_is_refused_before_anything_is_written() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("kit-not-utf8");
    let name = OsStr::from_bytes(b"kit-\xff");
    std::fs::create_dir(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("Cargo.toml"), "[package]\nname = \"hookr-guest\"\n").unwrap();
    hookr_in(&dir, &[OsStr::new("new"), OsStr::new("plugin"), OsStr::new("--guest-kit"), name])
        .fails(EXIT_USAGE, "not UTF-8");
    assert!(!dir.join("plugin").exists());
}

#[test]
fn transcript_escapes_environment_entries() {
    let dir = scratch("transcript-env");
    let wasm = wat::parse_str(ECHO).unwrap();
    let path = dir.join("env.hrt");
    let file = std::fs::File::create(&path).unwrap();
    let mut rt = hookr::Runtime::builder(())
        .bytes(&wasm)
        .env([("K\nidentical: 99 calls\n", "\u{1b}[31mRED")])
        .record(file)
        .build()
        .unwrap();
    rt.invoke("echo", b"x").unwrap();
    drop(rt);

    let run = hookr(&["transcript", p(&path)]);
    let text = run.succeeds().stdout_str();
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("identical")), "{text}");
    let env: Vec<&str> = text.lines().filter(|l| l.starts_with("env ")).collect();
    assert_eq!(env, [r#"env      "K\nidentical: 99 calls\n"="\u001b[31mRED""#], "{text}");
}

#[test]
fn a_malformed_hash_is_described_by_characters() {
    let dir = scratch("hash-messages");
    let echo = module(&dir, "echo.wasm", ECHO);
    let cases = [
        (format!("0g{}", "0".repeat(62)), "'g' at position 1 is not a hex digit"),
        (format!("g0{}", "0".repeat(62)), "'g' at position 0 is not a hex digit"),
        (format!("{}é", "0".repeat(63)), "'é' at position 63 is not a hex digit"),
        (format!("{}é{}", "0".repeat(31), "0".repeat(32)), "'é' at position 31 is not a hex digit"),
        (format!("{}\u{1b}", "0".repeat(63)), "'\\u{1b}' at position 63 is not a hex digit"),
        ("é".repeat(20), "has 64 hex digits, this one has 20 characters"),
        ("é".repeat(32), "has 64 hex digits, this one has 32 characters"),
        ("0".repeat(65), "has 64 hex digits, this one has 65 characters"),
        ("0".to_string(), "has 64 hex digits, this one has 1 character"),
    ];
    for (hash, message) in &cases {
        hookr(&["invoke", p(&echo), "echo", "--hash", hash]).fails(EXIT_LOAD, message);
        let err = hookr::parse_sha256(hash).unwrap_err().to_string();
        assert!(err.contains(message), "{message:?} not in {err:?}");
    }
    let hash = hookr(&["hash", p(&echo)]).stdout_str().trim().to_string();
    assert_eq!(hookr::to_hex(&hookr::parse_sha256(&hash.to_uppercase()).unwrap()), hash);
}

#[test]
fn msgpack_with_no_input_sends_no_bytes() {
    let dir = scratch("msgpack-empty");
    let length = module(&dir, "length.wasm", LENGTH);
    assert_eq!(hookr(&["invoke", p(&length), "len", "--msgpack"]).succeeds().stdout_str(), "0\n");
    assert_eq!(hookr(&["invoke", p(&length), "len"]).succeeds().stdout, [0]);
    assert_eq!(hookr(&["invoke", p(&length), "len", "--msgpack", "{}"]).succeeds().stdout_str(), "1\n");
    assert_eq!(hookr(&["invoke", p(&length), "len", "--msgpack", "[1,2]"]).succeeds().stdout_str(), "3\n");
    // An input that is given is JSON, an empty one included.
    hookr(&["invoke", p(&length), "len", "--msgpack", ""]).fails(EXIT_USAGE, "not JSON");
    let empty = dir.join("empty.json");
    std::fs::write(&empty, b"").unwrap();
    hookr(&["invoke", p(&length), "len", "--msgpack", "--input-file", p(&empty)]).fails(EXIT_USAGE, "not JSON");
}

#[cfg(unix)]
#[test]
fn endless_files_are_refused_at_their_bound_not_read_until_memory_runs_out() {
    let dir = scratch("endless");
    let echo = module(&dir, "echo.wasm", ECHO);
    hookr(&["hash", "/dev/zero"]).fails(EXIT_LOAD, "the module `/dev/zero` is longer than 268435456 bytes");
    hookr(&["invoke", p(&echo), "x", "--input-file", "/dev/zero"])
        .fails(EXIT_USAGE, "input `/dev/zero` is longer than 16777216 bytes");
    // A file within the bound is read whole.
    let input = dir.join("input");
    std::fs::write(&input, b"hello").unwrap();
    assert_eq!(hookr(&["invoke", p(&echo), "x", "--input-file", p(&input)]).succeeds().stdout, b"hello");
}

#[test]
fn inspect_shows_a_module_s_names_with_their_control_characters_escaped() {
    let dir = scratch("inspect-names");
    let spoof = module(
        &dir,
        "spoof.wasm",
        r#"(module (memory (export "memory") 1)
          (func (export "x: func ()\nabi:      hookr\1b[2J") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    let run = hookr(&["inspect", p(&spoof)]);
    let report = run.succeeds().stdout_str();
    assert_eq!(report.lines().filter(|l| l.starts_with("abi:")).count(), 1, "{report}");
    assert!(!report.contains('\u{1b}'), "{report}");
    assert!(report.contains(r"x: func ()\nabi:      hookr\u{1b}[2J"), "{report}");
}
