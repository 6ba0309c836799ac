//! `hookr new NAME`: a plugin crate that builds with a plain `cargo build --release`.
//!
//! It writes `NAME/Cargo.toml` (a `cdylib` depending on `hookr-guest`, the release
//! profile the guest kit is tuned for, a workspace of its own), `.cargo/config.toml`
//! (the `wasm32-unknown-unknown` target and a 16 KiB stack, so that the plugin asks
//! for one 64 KiB page of memory), `src/lib.rs` with a byte function and a typed one,
//! a README and a `.gitignore`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::{Failure, EXIT_CALL, EXIT_USAGE};

#[derive(Args, Debug)]
pub struct NewArgs {
    /// The plugin's name, which is also its folder; a path (`plugins/NAME`) puts the
    /// folder there. Letters, digits, `-` and `_`, starting with a letter.
    name: PathBuf,
    /// Depend on the guest kit in this folder (a checkout's `targets/guest`) instead
    /// of the published `hookr-guest`.
    #[arg(long, value_name = "PATH")]
    guest_kit: Option<PathBuf>,
}

/// The guest kit version a new plugin asks for: this tool's major.minor.
fn kit_version() -> String {
    let version = env!("CARGO_PKG_VERSION");
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

pub fn run(args: &NewArgs) -> Result<(), Failure> {
    let dir = &args.name;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Failure::new(EXIT_USAGE, format!("`{}` does not end in a plugin name", dir.display())))?;
    check_name(name)?;
    // `NAME/.` as `NAME`: the folder is created by its own name below.
    let dir = &dir.parent().unwrap_or(Path::new("")).join(name);
    let kit = args.guest_kit.as_deref().map(guest_kit).transpose()?;
    if dir.exists() {
        return Err(Failure::new(EXIT_USAGE, format!("`{}` already exists", dir.display())));
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::new(EXIT_CALL, format!("cannot create `{}`: {e}", parent.display())))?;
    }
    // `create_dir`, not `create_dir_all`: the folder is this run's own, so a failure
    // below may remove it without touching anything that was there before.
    std::fs::create_dir(dir).map_err(|e| Failure::new(EXIT_CALL, format!("cannot create `{}`: {e}", dir.display())))?;
    let written = write_crate(dir, name, args.guest_kit.as_deref().zip(kit));
    if written.is_err() {
        // A half-written crate would only make the next attempt fail as "already exists".
        let _ = std::fs::remove_dir_all(dir);
    }
    written
}

/// Writes the crate's files into `dir`, which exists and is empty; `kit` is the
/// `--guest-kit` as given and as checked.
fn write_crate(dir: &Path, name: &str, kit: Option<(&Path, PathBuf)>) -> Result<(), Failure> {
    let dependency = match kit {
        Some((given, kit)) => {
            // A relative --guest-kit stays relative, from the new folder: the crate and
            // the kit can move together, and a plugin inside a checkout builds the
            // same wherever the checkout is.
            let from = dir.canonicalize().map_err(|e| Failure::new(EXIT_CALL, e.to_string()))?;
            let path = if given.is_relative() { relative(&from, &kit) } else { kit };
            format!("{{ path = \"{}\" }}", toml_path(&path)?)
        }
        None => format!("\"{}\"", kit_version()),
    };
    let lib = name.replace('-', "_");
    let fill =
        |template: &str| template.replace("{name}", name).replace("{lib}", &lib).replace("{dependency}", &dependency);
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        (".cargo/config.toml", CONFIG_TOML.to_string()),
        ("src/lib.rs", fill(LIB_RS)),
        ("README.md", fill(README_MD)),
        (".gitignore", "/target\n".to_string()),
    ];
    for (file, text) in &files {
        write(&dir.join(file), text)?;
    }
    println!("Created the plugin `{name}` in {}. Build it and call it:", dir.display());
    println!();
    println!("    rustup target add wasm32-unknown-unknown");
    println!("    cd {} && cargo build --release", dir.display());
    println!("    hookr invoke target/wasm32-unknown-unknown/release/{lib}.wasm shout hello");
    println!(
        "    hookr invoke target/wasm32-unknown-unknown/release/{lib}.wasm greet '{{\"name\": \"Ada\"}}' --msgpack"
    );
    Ok(())
}

/// A name cargo accepts for a package and Rust for its library.
fn check_name(name: &str) -> Result<(), Failure> {
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    // Names a crate cannot have, or that would shadow one the plugin needs.
    let reserved = ["alloc", "core", "std", "test", "proc_macro", "hookr_guest", "hookr_abi", "hookr_derive"];
    if !ok_chars || !starts_with_letter {
        return Err(Failure::new(
            EXIT_USAGE,
            format!("`{name}` is not a plugin name: use letters, digits, `-` and `_`, starting with a letter"),
        ));
    }
    if reserved.contains(&name.replace('-', "_").as_str()) {
        return Err(Failure::new(EXIT_USAGE, format!("`{name}` is the name of a crate a plugin uses: pick another")));
    }
    Ok(())
}

/// The guest kit at `path`, checked, as an absolute path.
fn guest_kit(path: &Path) -> Result<PathBuf, Failure> {
    let not_a_kit = |why: String| Failure::new(EXIT_USAGE, format!("--guest-kit `{}`: {why}", path.display()));
    let dir = path.canonicalize().map_err(|e| not_a_kit(e.to_string()))?;
    let manifest =
        std::fs::read_to_string(dir.join("Cargo.toml")).map_err(|e| not_a_kit(format!("no Cargo.toml: {e}")))?;
    if !manifest.lines().any(|line| line.replace(' ', "") == "name=\"hookr-guest\"") {
        return Err(not_a_kit("its Cargo.toml is not the `hookr-guest` package's".into()));
    }
    if dir.to_str().is_none() {
        return Err(not_a_kit("the path is not UTF-8".into()));
    }
    Ok(dir)
}

/// `to` as seen from `from`, both absolute and canonical; `to` itself when they share
/// no root (two drives).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (from, to): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return to.iter().collect();
    }
    let up = std::iter::repeat_n(std::path::Component::ParentDir, from.len() - common);
    up.chain(to[common..].iter().copied()).collect()
}

/// `path` as the content of a TOML basic string, exactly: its separators as they are,
/// `"`, `\\` and control characters escaped.
fn toml_path(path: &Path) -> Result<String, Failure> {
    let text = path
        .to_str()
        .ok_or_else(|| Failure::new(EXIT_USAGE, format!("--guest-kit `{}`: the path is not UTF-8", path.display())))?;
    Ok(toml_escape(text))
}

/// `text` escaped for a TOML basic string (between `"`s).
fn toml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // TOML refuses the other C0 controls and DEL unescaped; C1 ones it takes,
            // but escaped they cannot reach a terminal that shows the file.
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::new(EXIT_CALL, format!("cannot write `{}`: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}

const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

# A plugin is a WebAssembly module: a C-style dynamic library, built for
# wasm32-unknown-unknown (.cargo/config.toml sets the target).
[lib]
crate-type = ["cdylib"]

[dependencies]
hookr-guest = {dependency}

[profile.release]
# The host interprets the plugin, paying per instruction: optimise for speed, and
# keep the module small with LTO, one codegen unit, abort on panic and no symbols.
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
strip = true

[profile.dev]
panic = "abort"

# Its own workspace, even inside another project's folder.
[workspace]
"#;

const CONFIG_TOML: &str = r#"# `cargo build` builds the plugin for WebAssembly, with a 16 KiB stack so that the
# module asks the host for one 64 KiB page of memory instead of sixteen.
[build]
target = "wasm32-unknown-unknown"

[target.wasm32-unknown-unknown]
rustflags = ["-C", "link-arg=-zstack-size=16384"]
"#;

const LIB_RS: &str = r#"//! {name}: a hookr plugin.
//!
//! `hookr_guest::plugin!` lists the functions the host can call, by name. A byte
//! function gets the payload as bytes and appends its answer to `out`; a typed one
//! takes and returns structs that travel as MessagePack maps keyed by field name
//! (what Go's tinylib/msgp writes), written by `#[derive(Encode, Decode)]`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use hookr_guest::{Decode, Encode, Error};

hookr_guest::plugin! {
    bytes "shout" => shout,
    typed "greet" => greet,
}

/// Bytes in, bytes out: the payload in upper case.
fn shout(payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    out.extend(payload.iter().map(u8::to_ascii_uppercase));
    Ok(())
}

/// The request of `greet`: `{"name": "Ada"}`.
#[derive(Decode)]
struct Greet {
    name: String,
}

/// The answer of `greet`: `{"greeting": "Hello, Ada!"}`.
#[derive(Encode)]
struct Greeting {
    greeting: String,
}

/// A typed function: a struct in, a struct out, or an error the host sees.
fn greet(request: Greet) -> Result<Greeting, Error> {
    if request.name.is_empty() {
        return Err(Error::new("greet needs a name"));
    }
    Ok(Greeting {
        greeting: ["Hello, ", &request.name, "!"].concat(),
    })
}
"#;

const README_MD: &str = r#"# {name}

A hookr plugin, written with the Rust guest kit `hookr-guest`.

## Build

```sh
rustup target add wasm32-unknown-unknown   # once
cargo build --release
```

The plugin is `target/wasm32-unknown-unknown/release/{lib}.wasm`.

## Call it

With the `hookr` command-line tool:

```sh
hookr invoke target/wasm32-unknown-unknown/release/{lib}.wasm shout hello
# HELLO
hookr invoke target/wasm32-unknown-unknown/release/{lib}.wasm greet '{"name": "Ada"}' --msgpack
# {"greeting":"Hello, Ada!"}
```

From a Rust host, with the `hookr` crate:

```rust
let mut rt = hookr::Runtime::builder(()).file("{lib}.wasm").build()?;
let reply = rt.invoke("shout", b"hello")?;
```

## Next

- Add a function: write it, then list it in `hookr_guest::plugin!` as
  `bytes "name" => function` or `typed "name" => function`.
- Call the host: `hookr_guest::host_call_into` (bytes) or `host_call_typed`; the host
  registers its functions with `HostFn::bytes` and `HostFn::typed`.
- Log with `hookr_guest::log_parts(&["a ", "line"])`.
- Keep the plugin small: `format!`, `Result::unwrap` and float formatting each add
  kilobytes; the guest kit's docs say what to use instead. binaryen's `wasm-opt`
  (Debian's `binaryen` package) then takes off another 15-20 %, and the calls get no
  slower:

  ```sh
  wasm-opt -O3 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
      --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
      target/wasm32-unknown-unknown/release/{lib}.wasm -o {lib}.wasm
  ```
"#;

#[cfg(test)]
mod tests {
    use super::toml_escape;

    #[test]
    fn toml_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(toml_escape("../targets/guest"), "../targets/guest");
        assert_eq!(toml_escape(r"C:\kit\bs"), r"C:\\kit\\bs");
        assert_eq!(toml_escape("a\"b"), "a\\\"b");
        assert_eq!(toml_escape("\n\r\t\u{8}\u{c}"), "\\n\\r\\t\\b\\f");
        assert_eq!(toml_escape("\0\u{1b}\u{7f}\u{85}é"), "\\u0000\\u001B\\u007F\\u0085é");
    }
}
