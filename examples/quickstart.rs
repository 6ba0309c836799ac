//! The quick start: load the `simple` plugin from bytes with its SHA-256 verified,
//! register the host functions it calls, and call each of its functions.
//!
//! Run with `cargo run --release --example quickstart`.

extern crate alloc;

use hookr::codec;
use hookr::{Hasher, HostError, HostFn, Runtime, Sha256Hasher};

/// The plugin's message types, shared with the plugin's own source.
#[path = "../targets/plugins/simple/src/messages.rs"]
mod messages;
use messages::{Echo, Hello};

/// The plugin, built from `targets/plugins/simple` by `targets/build-plugins.sh`.
static SIMPLE: &[u8] = include_bytes!("../targets/plugins/simple/simple.wasm");

/// Host state: how many times the plugin called back.
#[derive(Default)]
struct Host {
    host_calls: u32,
}

fn hello(host: &mut Host, req: Hello) -> Result<Hello, HostError> {
    host.host_calls += 1;
    Ok(Hello { msg: format!("Hello, {}!", req.msg) })
}

fn hello_byte(host: &mut Host, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    host.host_calls += 1;
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(payload);
    Ok(())
}

static HOST_FNS: &[HostFn<Host>] = &[HostFn::typed("hello", hello), HostFn::bytes("helloByte", hello_byte)];

/// Fails the example when a result is not what the plugin should give.
fn expect(ok: bool, what: &str) -> Result<(), Box<dyn std::error::Error>> {
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected result from {what}").into())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // In a real deployment the hash is pinned when the plugin is released; here it is
    // computed, printed, and then checked like a pinned one.
    let hash = Sha256Hasher.hash(SIMPLE);
    println!("plugin: targets/plugins/simple/simple.wasm ({} bytes)", SIMPLE.len());
    println!("sha256: {hash}");

    let mut rt = Runtime::builder(Host::default())
        .bytes(SIMPLE)
        .hash(&hash)
        .hasher(Sha256Hasher)
        .host_fns(HOST_FNS)
        .logger(|line| println!("  [plugin log] {line}"))
        .fuel(10_000_000)
        .build()?;
    println!("memory: {} bytes\n", rt.memory_size());

    let echo = rt.plugin_fn::<Echo, Echo>("echo");
    let reply = echo.call(&mut rt, &Echo { data: "Steve".into() })?;
    println!("echo {{data: \"Steve\"}}  -> {{data: {:?}}}", reply.data);
    expect(reply.data == "Hello, Steve!", "echo")?;

    let reply = rt.invoke("echoByte", b"Steve")?;
    println!("echoByte \"Steve\"       -> {:?}", String::from_utf8_lossy(&reply));
    expect(reply == b"Hello, Steve", "echoByte")?;

    let reply = rt.invoke("vowel", b"the quick brown fox jumps over the lazy dog")?;
    println!("vowel \"the quick …\"    -> {}", String::from_utf8_lossy(&reply));
    expect(reply == b"11", "vowel")?;

    let err = rt.invoke("nope", b"").err().ok_or("nope succeeded")?;
    println!("nope                   -> error: {err}");
    expect(matches!(&err, hookr::Error::Plugin(m) if &**m == "planned Failure"), "nope")?;

    let err = rt.invoke("missing", b"").err().ok_or("a missing function succeeded")?;
    println!("missing                -> error: {err}");
    expect(matches!(err, hookr::Error::Plugin(_)), "missing")?;

    println!("\nhost functions called: {}", rt.state().host_calls);
    expect(rt.state().host_calls == 2, "the host-call count")?;
    println!("all results as expected");
    Ok(())
}
