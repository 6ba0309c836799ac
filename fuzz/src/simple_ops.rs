//! `simple_ops`: arbitrary operations and payloads through `simple.wasm`, with the host
//! functions it calls registered and fuel on. Every answer is checked against what the
//! plugin is documented to do, and after every call a plain `vowel` call on the same
//! runtime must still give the right count.
//!
//! The input is a list of steps; each starts with a tag byte, and a chunk is a length
//! byte followed by up to that many bytes:
//!
//! - tag 0: a known operation (next byte picks it) with a chunk as payload
//! - tag 1: a chunk as operation name (lossy UTF-8) and a chunk as payload
//! - tag 2: a chunk as raw MessagePack to the typed `echo`
//! - tag 3: a typed `echo` call with a chunk (lossy UTF-8) as its `data`

use std::sync::OnceLock;

use hookr::codec;
use hookr::{EngineConfig, Error, HostError, HostFn, Module, NoVerify, Runtime};

pub const SIMPLE_WASM: &[u8] = include_bytes!("../../targets/plugins/simple/simple.wasm");

/// Fuel for each call: the plugin needs a few thousand for a small payload.
pub const FUEL: u64 = 2_000_000;
/// Steps run from one input at most, so that one input stays fast.
pub const MAX_STEPS: usize = 32;

const KNOWN: [&str; 4] = ["echo", "nope", "echoByte", "vowel"];
const PROBE: &[u8] = b"The quick brown fox jumps over the lazy dog";

/// How often each host function ran.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Calls {
    hello: u32,
    hello_byte: u32,
}

/// The plugin's message types, shared with its source.
#[path = "../../targets/plugins/simple/src/messages.rs"]
mod messages;
use messages::{Echo, Hello};

fn hello(calls: &mut Calls, input: Hello) -> Result<Hello, HostError> {
    calls.hello += 1;
    if input.msg.is_empty() {
        return Err(HostError::new("empty name"));
    }
    Ok(Hello { msg: format!("Hello, {}!", input.msg) })
}

fn hello_byte(calls: &mut Calls, input: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    calls.hello_byte += 1;
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(input);
    Ok(())
}

static HOST_FNS: &[HostFn<Calls>] = &[HostFn::typed("hello", hello), HostFn::bytes("helloByte", hello_byte)];

/// `simple.wasm`, compiled once per process with fuel metering.
fn module() -> Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let config = EngineConfig::default().with_fuel(true);
            Module::new(SIMPLE_WASM, "", &NoVerify, config).expect("simple.wasm compiles")
        })
        .clone()
}

/// A fresh runtime of `simple.wasm`, as every input gets one.
pub fn runtime() -> Runtime<Calls> {
    Runtime::builder(Calls::default())
        .module(module())
        .host_fns(HOST_FNS)
        .fuel(FUEL)
        .max_memory_pages(16)
        .deterministic()
        .logger(|_| {})
        .build()
        .expect("simple.wasm instantiates")
}

fn vowels(payload: &[u8]) -> Vec<u8> {
    let n = payload.iter().filter(|b| matches!(b.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u')).count();
    n.to_string().into_bytes()
}

/// What `op` with `payload` must answer (`None`: a plugin error), and the host calls it
/// makes on the way.
fn expected(op: &str, payload: &[u8]) -> (Option<Vec<u8>>, Calls) {
    let mut calls = Calls::default();
    let answer = match op {
        "vowel" => Some(vowels(payload)),
        "echoByte" => {
            calls.hello_byte = 1;
            let mut out = b"Hello, ".to_vec();
            out.extend_from_slice(payload);
            Some(out)
        }
        "echo" => match codec::from_slice::<Echo>(payload) {
            Ok(Echo { data }) => {
                calls.hello = 1;
                (!data.is_empty()).then(|| codec::to_vec(&Echo { data: format!("Hello, {data}!") }).unwrap())
            }
            Err(_) => None,
        },
        _ => None,
    };
    (answer, calls)
}

/// Calls `op` and checks the answer and the host calls against [`expected`].
fn call_and_check(rt: &mut Runtime<Calls>, op: &str, payload: &[u8]) {
    let before = *rt.state();
    let result = rt.invoke(op, payload);
    let (want, calls) = expected(op, payload);
    match (result, want) {
        (Ok(got), Some(want)) => assert_eq!(got, want, "`{op}` with {payload:x?}"),
        (Err(Error::Plugin(_)), None) => {}
        (got, want) => panic!("`{op}` with {payload:x?}: got {got:?}, want {want:x?}"),
    }
    let after = *rt.state();
    let ran = Calls { hello: after.hello - before.hello, hello_byte: after.hello_byte - before.hello_byte };
    assert_eq!(ran, calls, "`{op}` with {payload:x?} called the host unexpectedly");
}

/// Splits off one chunk: a length byte, then up to that many bytes.
fn chunk<'a>(input: &mut &'a [u8]) -> &'a [u8] {
    let Some((&len, rest)) = input.split_first() else {
        return &[];
    };
    let (chunk, rest) = rest.split_at((len as usize).min(rest.len()));
    *input = rest;
    chunk
}

pub fn run(mut input: &[u8]) {
    let mut rt = runtime();
    for _ in 0..MAX_STEPS {
        let Some((&tag, rest)) = input.split_first() else {
            break;
        };
        input = rest;
        match tag % 4 {
            0 => {
                let Some((&which, rest)) = input.split_first() else {
                    break;
                };
                input = rest;
                let payload = chunk(&mut input);
                call_and_check(&mut rt, KNOWN[which as usize % KNOWN.len()], payload);
            }
            1 => {
                let op = String::from_utf8_lossy(chunk(&mut input)).into_owned();
                let payload = chunk(&mut input);
                call_and_check(&mut rt, &op, payload);
            }
            2 => call_and_check(&mut rt, "echo", chunk(&mut input)),
            _ => {
                let data = String::from_utf8_lossy(chunk(&mut input)).into_owned();
                let hello_before = rt.state().hello;
                let result = rt.call::<Echo, Echo>("echo", &Echo { data: data.clone() });
                if data.is_empty() {
                    assert!(matches!(result, Err(Error::Plugin(_))), "typed echo of \"\": {result:?}");
                } else {
                    assert_eq!(result.unwrap(), Echo { data: format!("Hello, {data}!") });
                }
                assert_eq!(rt.state().hello, hello_before + 1);
            }
        }
        // Whatever happened, the plugin still answers a plain call correctly.
        assert_eq!(rt.invoke("vowel", PROBE).unwrap(), vowels(PROBE), "after step {tag}");
    }
}
