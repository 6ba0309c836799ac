//! What plugins built for the Go hookr expect besides its ABI: AssemblyScript's
//! `env.abort` fails the call with its message and place, the call handler can answer
//! before the host functions, and an empty `__plugin_error` is no error.

mod common;

use hookr::{Error, HostError, HostFn, Runtime};

/// Calls `env.abort` with the AssemblyScript strings "boom" and "assembly/index.ts"
/// (UTF-16LE, their byte length in the 4 bytes before them) on operation `a`, with a
/// wild pointer on `w`; answers `ok` to anything else. `init` sets whether `_start`
/// aborts too.
fn abort_plugin(abort_in_start: bool) -> Vec<u8> {
    let utf16 = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).map(|b| format!("\\{b:02x}")).collect::<String>();
    let len = |s: &str| (s.encode_utf16().count() as u32 * 2).to_le_bytes().map(|b| format!("\\{b:02x}")).concat();
    common::wasm(&format!(
        r#"(module
        (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
        (import "hookr" "__plugin_request" (func $req (param i32 i32)))
        (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 0x100) "{}{}")
        (data (i32.const 0x200) "{}{}")
        (data (i32.const 0x300) "ok")
        (func (export "_start") {})
        (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
          (call $req (i32.const 0x400) (i32.const 0x500))
          (if (i32.eq (i32.load8_u (i32.const 0x400)) (i32.const 97))
            (then (call $abort (i32.const 0x104) (i32.const 0x204) (i32.const 12) (i32.const 5))))
          (if (i32.eq (i32.load8_u (i32.const 0x400)) (i32.const 119))
            (then (call $abort (i32.const 0xFFFFFFF0) (i32.const 0) (i32.const 1) (i32.const 1))))
          (call $resp (i32.const 0x300) (i32.const 2))
          (i32.const 1)))"#,
        len("boom"),
        utf16("boom"),
        len("assembly/index.ts"),
        utf16("assembly/index.ts"),
        if abort_in_start { "(call $abort (i32.const 0x104) (i32.const 0) (i32.const 0) (i32.const 0))" } else { "" },
    ))
}

#[test]
fn assemblyscript_abort_fails_the_call_with_its_message_and_place() {
    let mut rt = Runtime::builder(()).bytes(&abort_plugin(false)).build().unwrap();
    let err = rt.invoke("a", b"").unwrap_err();
    assert!(matches!(&err, Error::Plugin(m) if &**m == "abort: boom at assembly/index.ts:12:5"), "{err:?}");
    assert_eq!(rt.invoke("other", b"").unwrap(), b"ok");
    let err = rt.invoke("w", b"").unwrap_err();
    assert!(matches!(&err, Error::Plugin(m) if m.contains("outside the plugin's memory")), "{err:?}");
    // In an initialiser it fails the load, naming it.
    let err = Runtime::builder(()).bytes(&abort_plugin(true)).build().unwrap_err();
    assert!(
        matches!(&err, Error::Init { name: "_start", source } if source.to_string() == "plugin error: abort: boom"),
        "{err:?}"
    );
    // Its type is checked like every import's.
    let wrong = common::wasm(
        r#"(module (import "env" "abort" (func (param i32)))
        (memory (export "memory") 1)
        (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#,
    );
    assert!(matches!(Runtime::builder(()).bytes(&wrong).build(), Err(Error::Link { .. })));
}

fn table_answer(calls: &mut Vec<&'static str>, _: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    calls.push("table");
    out.extend_from_slice(b"from the table");
    Ok(())
}

static HOST_FNS: &[HostFn<Vec<&'static str>>] = &[HostFn::bytes("lookup", table_answer)];

#[test]
fn the_call_handler_can_answer_before_the_host_functions() {
    let handler = |calls: &mut Vec<&'static str>, op: &str, _: &[u8], out: &mut Vec<u8>| {
        calls.push("handler");
        out.extend_from_slice(format!("the handler for {op}").as_bytes());
        Ok(())
    };
    let call = common::host_call("lookup", b"");
    // By default the handler answers only what nothing else does.
    let mut fallback = Runtime::builder(Vec::new())
        .bytes(&common::kitchen())
        .host_fns(HOST_FNS)
        .call_handler(handler)
        .build()
        .unwrap();
    assert_eq!(fallback.invoke("h", &call).unwrap(), b"from the table");
    assert_eq!(fallback.invoke("h", &common::host_call("other", b"")).unwrap(), b"the handler for other");
    // First, as the Go hookr's WithCallHandler: it answers every call it takes.
    let mut first = Runtime::builder(Vec::new())
        .bytes(&common::kitchen())
        .host_fns(HOST_FNS)
        .call_handler(handler)
        .handler_first()
        .build()
        .unwrap();
    assert_eq!(first.invoke("h", &call).unwrap(), b"the handler for lookup");
    assert_eq!(*first.state(), ["handler"]);
    // Without a handler, `handler_first` changes nothing.
    let mut none =
        Runtime::builder(Vec::new()).bytes(&common::kitchen()).host_fns(HOST_FNS).handler_first().build().unwrap();
    assert_eq!(none.invoke("h", &call).unwrap(), b"from the table");
}

#[test]
fn an_empty_plugin_error_is_no_error() {
    // Reports an empty error, then answers as the operation's first byte says: `s`
    // succeeds with "done", anything else returns failure.
    let wasm = common::wasm(
        r#"(module
        (import "hookr" "__plugin_request" (func $req (param i32 i32)))
        (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
        (import "hookr" "__plugin_error" (func $err (param i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 0x300) "done")
        (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
          (call $req (i32.const 0x400) (i32.const 0x500))
          (call $err (i32.const 0) (i32.const 0))
          (if (i32.eq (i32.load8_u (i32.const 0x400)) (i32.const 115))
            (then (call $resp (i32.const 0x300) (i32.const 4)) (return (i32.const 1))))
          (i32.const 0)))"#,
    );
    let mut rt = Runtime::builder(()).bytes(&wasm).build().unwrap();
    assert_eq!(rt.invoke("succeed", b"").unwrap(), b"done");
    let err = rt.invoke("fail", b"").unwrap_err();
    assert_eq!(err.to_string(), "plugin error: call to `fail` was unsuccessful");
}
