//! `hookr new` writes a plugin crate that builds with a plain `cargo build --release` in
//! its folder, and whose module `hookr invoke` and a host run.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hookr::codec::{Decode, Encode};
use hookr::Runtime;

const EXIT_USAGE: i32 = 2;

fn hookr(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookr")).args(args).current_dir(dir).output().expect("run hookr")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh, empty folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold").join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Encode)]
struct Greet {
    name: String,
}

#[derive(Debug, Decode)]
struct Greeting {
    greeting: String,
}

#[test]
fn a_new_plugin_builds_and_runs() {
    let dir = scratch("builds");
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/guest");
    let out = hookr(&["new", "hello-plugin", "--guest-kit", kit.to_str().unwrap()], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("cargo build --release"), "{}", text(&out.stdout));
    let crate_dir = dir.join("hello-plugin");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("hookr-guest = { path = "), "{manifest}");
    assert!(manifest.contains("crate-type = [\"cdylib\"]"), "{manifest}");

    // What the README tells a user to run, with the build shared between runs of this
    // test (the guest kit and its proc macros compile once), and nothing from the
    // environment that would change the plugin's own settings. The registry crates it
    // needs are the ones this workspace already built with, so no network is needed.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(cargo)
        .args(["build", "--release", "--offline"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("run cargo");
    assert!(build.status.success(), "cargo build --release failed:\n{}", text(&build.stderr));

    let wasm = target.join("wasm32-unknown-unknown/release/hello_plugin.wasm");
    let wasm_arg = wasm.to_str().unwrap();
    let out = hookr(&["invoke", wasm_arg, "shout", "hello"], &crate_dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"HELLO");
    let out = hookr(&["invoke", wasm_arg, "greet", r#"{"name": "Ada"}"#, "--msgpack"], &crate_dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "{\"greeting\":\"Hello, Ada!\"}\n");

    // A host calls it the same way, with derived types of its own; the stack size in
    // .cargo/config.toml makes the module ask for one page of memory.
    let mut rt = Runtime::builder(()).file(&wasm).build().unwrap();
    let reply: Greeting = rt.call("greet", &Greet { name: "Grace".into() }).unwrap();
    assert_eq!(reply.greeting, "Hello, Grace!");
    let err = rt.call::<_, Greeting>("greet", &Greet { name: String::new() }).unwrap_err();
    assert_eq!(err.to_string(), "plugin error: greet needs a name");
    assert_eq!(rt.memory_size(), 65536);

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn by_default_a_new_plugin_depends_on_the_published_kit() {
    let dir = scratch("published");
    let out = hookr(&["new", "plugins/sensor_check"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let crate_dir = dir.join("plugins/sensor_check");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let version = env!("CARGO_PKG_VERSION").rsplit_once('.').unwrap().0;
    assert!(manifest.contains(&format!("hookr-guest = \"{version}\"")), "{manifest}");
    assert!(manifest.contains("name = \"sensor_check\""), "{manifest}");
    for file in [".cargo/config.toml", "src/lib.rs", "README.md", ".gitignore"] {
        assert!(crate_dir.join(file).is_file(), "{file}");
    }
    let config = std::fs::read_to_string(crate_dir.join(".cargo/config.toml")).unwrap();
    assert!(config.contains("target = \"wasm32-unknown-unknown\"") && config.contains("-zstack-size=16384"));
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
    assert!(readme.contains("release/sensor_check.wasm"), "{readme}");

    // A relative --guest-kit stays relative, seen from the new folder.
    std::fs::create_dir(dir.join("kit")).unwrap();
    std::fs::write(dir.join("kit/Cargo.toml"), "[package]\nname = \"hookr-guest\"\n").unwrap();
    let out = hookr(&["new", "plugins/local", "--guest-kit", "kit"], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest = std::fs::read_to_string(dir.join("plugins/local/Cargo.toml")).unwrap();
    assert!(manifest.contains("hookr-guest = { path = \"../../kit\" }"), "{manifest}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_folders_and_kits_it_cannot_use_are_usage_errors() {
    let dir = scratch("refused");
    std::fs::create_dir(dir.join("taken")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"other\"\n").unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["new", "taken"], "`taken` already exists"),
        (&["new", "9lives"], "is not a plugin name"),
        (&["new", "has space"], "is not a plugin name"),
        (&["new", "core"], "the name of a crate a plugin uses"),
        (&["new", "fine", "--guest-kit", "nowhere"], "--guest-kit `nowhere`"),
        (&["new", "fine", "--guest-kit", "."], "not the `hookr-guest` package's"),
    ];
    for (args, message) in cases {
        let out = hookr(args, &dir);
        assert_eq!(out.status.code(), Some(EXIT_USAGE), "{args:?}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("hookr: ") && stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(!dir.join("fine").exists() && !dir.join("9lives").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
