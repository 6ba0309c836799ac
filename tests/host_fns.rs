//! Host functions: static tables of byte and typed functions, closures, the call
//! handler, unknown operations and duplicate names.

mod common;

use hookr::codec::{self, Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};
use hookr::{HostError, HostFn, Runtime, Serde};

#[derive(Default)]
struct State {
    calls: Vec<String>,
}

struct Hello {
    msg: String,
}

impl Decode for Hello {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let mut msg = None;
        d.fields(&["msg"], |d, f| {
            match f {
                Some(0) => msg = Some(d.string()?),
                _ => d.skip()?,
            }
            Ok(())
        })?;
        Ok(Hello { msg: msg.ok_or(DecodeError::MissingField("msg"))? })
    }
}

impl Encode for Hello {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.map_len(1)?;
        e.str("msg")?;
        e.str(&self.msg)
    }
}

fn hello_byte(state: &mut State, input: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    state.calls.push("helloByte".into());
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(input);
    Ok(())
}

fn hello(state: &mut State, input: Hello) -> Result<Hello, HostError> {
    state.calls.push("hello".into());
    if input.msg.is_empty() {
        return Err(HostError::new("empty name"));
    }
    Ok(Hello { msg: format!("Hello, {}!", input.msg) })
}

static HOST_FNS: &[HostFn<State>] = &[HostFn::bytes("helloByte", hello_byte), HostFn::typed("hello", hello)];

fn runtime() -> Runtime<State> {
    Runtime::builder(State::default()).bytes(&common::kitchen()).host_fns(HOST_FNS).build().unwrap()
}

#[test]
fn byte_host_functions_see_state_and_payload() {
    let mut rt = runtime();
    assert_eq!(rt.invoke("h", &common::host_call("helloByte", b"Steve")).unwrap(), b"Hello, Steve");
    assert_eq!(rt.invoke("h", &common::host_call("helloByte", b"")).unwrap(), b"Hello, ");
    assert_eq!(rt.state().calls, ["helloByte", "helloByte"]);
}

#[test]
fn typed_host_functions_decode_and_encode_msgpack() {
    let mut rt = runtime();
    let request = codec::to_vec(&Hello { msg: "Steve".into() }).unwrap();
    let reply = rt.invoke("h", &common::host_call("hello", &request)).unwrap();
    assert_eq!(reply, b"\x81\xa3msg\xadHello, Steve!");
    // A host error reaches the plugin through `__host_error`; this plugin reports it.
    let request = codec::to_vec(&Hello { msg: String::new() }).unwrap();
    let err = rt.invoke("h", &common::host_call("hello", &request)).unwrap_err();
    assert_eq!(err.to_string(), "plugin error: empty name");
    // A request that does not decode is a host error naming the problem, not a trap.
    let err = rt.invoke("h", &common::host_call("hello", b"\xc1")).unwrap_err();
    assert!(err.to_string().starts_with("plugin error: cannot decode request: "), "{err}");
}

#[test]
fn an_unknown_operation_is_a_host_error_the_guest_can_read() {
    let mut rt = runtime();
    let err = rt.invoke("h", &common::host_call("nope", b"")).unwrap_err();
    assert_eq!(err.to_string(), "plugin error: no handler registered for operation 'nope'");
    // A long name is cut (on a character boundary) before it is formatted.
    let long = "é".repeat(100);
    let err = rt.invoke("h", &common::host_call(&long, b"")).unwrap_err();
    assert_eq!(err.to_string(), format!("plugin error: no handler registered for operation '{}…'", "é".repeat(64)));
    assert_eq!(rt.invoke("h", &common::host_call("helloByte", b"again")).unwrap(), b"Hello, again");
}

#[test]
fn the_call_handler_catches_what_the_table_does_not() {
    let mut rt = Runtime::builder(State::default())
        .bytes(&common::kitchen())
        .host_fns(HOST_FNS)
        .call_handler(|state, op, payload, out| {
            state.calls.push(format!("handler:{op}"));
            out.extend_from_slice(payload);
            out.reverse();
            Ok(())
        })
        .build()
        .unwrap();
    assert_eq!(rt.invoke("h", &common::host_call("anything", b"abc")).unwrap(), b"cba");
    assert_eq!(rt.invoke("h", &common::host_call("helloByte", b"x")).unwrap(), b"Hello, x");
    assert_eq!(rt.state().calls, ["handler:anything", "helloByte"]);
}

#[test]
fn closures_register_beside_the_table() {
    let mut rt = Runtime::builder(State::default())
        .bytes(&common::kitchen())
        .host_fns(HOST_FNS)
        .host_fn("len", |_, payload, out| {
            out.extend_from_slice(payload.len().to_string().as_bytes());
            Ok(())
        })
        .host_fn_typed("add", |_, Serde((a, b)): Serde<(i64, i64)>| Ok::<_, HostError>(a + b))
        .build()
        .unwrap();
    assert_eq!(rt.invoke("h", &common::host_call("len", b"12345")).unwrap(), b"5");
    let request = codec::to_vec(&Serde((40i64, 2i64))).unwrap();
    assert_eq!(request, b"\x92\x28\x02");
    let reply = rt.invoke("h", &common::host_call("add", &request)).unwrap();
    assert_eq!(codec::from_slice::<i64>(&reply).unwrap(), 42);
}

#[test]
fn duplicate_names_are_refused_at_build() {
    let err = Runtime::builder(State::default())
        .bytes(&common::kitchen())
        .host_fns(HOST_FNS)
        .host_fn("hello", |_, _, _| Ok(()))
        .build()
        .unwrap_err();
    assert!(matches!(&err, hookr::Error::Config(_)), "{err:?}");
    assert_eq!(err.to_string(), "invalid configuration: host function `hello` is registered twice");
}

#[test]
fn a_host_error_over_the_limit_is_cut_and_marked() {
    let limits = hookr::Limits::default().with_max_error(6);
    let mut rt = Runtime::builder(State::default())
        .bytes(&common::kitchen())
        .limits(limits)
        .host_fn("wordy", |_, _, _| Err(HostError::new("a long explanation")))
        .build()
        .unwrap();
    let err = rt.invoke("h", &common::host_call("wordy", b"")).unwrap_err();
    // The guest reads `a long … [truncated from 18 bytes]` (36 bytes) and reports it
    // as its own error, which is cut to 6 bytes again.
    assert_eq!(err.to_string(), "plugin error: a long … [truncated from 36 bytes]");
}

#[test]
fn one_module_serves_runtimes_of_any_host_state_send_or_not() {
    use std::cell::Cell;
    use std::rc::Rc;
    let module = hookr::Module::new(&common::kitchen(), "", &hookr::NoVerify, hookr::EngineConfig::default()).unwrap();
    // A state that is not `Send`: the runtime is not either, and works all the same.
    let seen = Rc::new(Cell::new(0u32));
    let mut local = Runtime::builder(seen.clone())
        .module(module.clone())
        .host_fn("count", |seen: &mut Rc<Cell<u32>>, _, _| {
            seen.set(seen.get() + 1);
            Ok(())
        })
        .build()
        .unwrap();
    local.invoke("h", &common::host_call("count", b"")).unwrap();
    assert_eq!(seen.get(), 1);
    // The same module, another state type, on another thread.
    let mut words = Runtime::builder(String::new())
        .module(module)
        .host_fn("append", |words: &mut String, payload, _| {
            words.push_str(std::str::from_utf8(payload).map_err(|_| HostError::new("not UTF-8"))?);
            Ok(())
        })
        .build()
        .unwrap();
    let words = std::thread::spawn(move || {
        words.invoke("h", &common::host_call("append", b"sent")).unwrap();
        words.into_state()
    });
    assert_eq!(words.join().unwrap(), "sent");
    fn send<S: Send>() {}
    send::<Runtime<String>>();
    send::<hookr::Pool<String>>();
}
