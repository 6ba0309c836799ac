//! Several modules compiled on one `Engine`: checked as `Module::new` checks, and
//! runtimes of each, alive together, answer as runtimes of modules with an engine each.

extern crate alloc;

use hookr::{
    codec, Engine, EngineConfig, Error, Hasher, HostError, HostFn, Module, NoVerify, Pinned, Runtime, Sha256Hasher,
};

#[path = "../targets/plugins/sensor/src/messages.rs"]
#[allow(dead_code)]
mod sensor_messages;
use sensor_messages::{LimitChanges, Limits, Now, NowRequest};

static SIMPLE: &[u8] = include_bytes!("../targets/plugins/simple/simple.wasm");
static SENSOR: &[u8] = include_bytes!("../targets/plugins/sensor/sensor.wasm");

fn hello_byte(_: &mut (), payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(payload);
    Ok(())
}

fn now_ms(_: &mut (), _: NowRequest) -> Result<Now, HostError> {
    Ok(Now { now_ms: 1_700_000_000_000 })
}

static SIMPLE_FNS: &[HostFn<()>] = &[HostFn::bytes("helloByte", hello_byte)];
static SENSOR_FNS: &[HostFn<()>] = &[HostFn::typed("now_ms", now_ms)];

fn pin(wasm: &[u8]) -> Pinned {
    // SAFETY: the plugins are validated by the tests that load them with `validate` on,
    // which this build has.
    unsafe { Pinned::new_unchecked(hookr::to_hex(&hookr::sha256(wasm)).leak()) }
}

#[test]
fn plugins_on_one_engine_share_it_and_answer_side_by_side() {
    let engine = Engine::new(EngineConfig::SMALL).unwrap();
    let simple = Module::new_in(&engine, SIMPLE, &Sha256Hasher.hash(SIMPLE), &Sha256Hasher).unwrap();
    let sensor = Module::pinned_in(&engine, SENSOR, pin(SENSOR)).unwrap();
    assert!(hookr::wasmi::Engine::same(simple.engine(), sensor.engine()));
    assert!(hookr::wasmi::Engine::same(simple.engine(), engine.wasmi()));
    assert_eq!(simple.engine_config(), EngineConfig::SMALL);
    // The engine may go before the modules: they keep it.
    drop(engine);
    let mut simple_rt = Runtime::builder(()).module(simple.clone()).host_fns(SIMPLE_FNS).build().unwrap();
    let mut sensor_rt = Runtime::builder(()).module(sensor).host_fns(SENSOR_FNS).build().unwrap();
    let mut second_simple = Runtime::builder(()).module(simple).host_fns(SIMPLE_FNS).build().unwrap();
    for round in 0..3 {
        let max_celsius = 50.0 + f64::from(round);
        let changes = LimitChanges { max_celsius: Some(max_celsius), ..LimitChanges::default() };
        let limits: Limits = sensor_rt.call("configure", &changes).unwrap();
        assert_eq!(limits.max_celsius, max_celsius);
        assert_eq!(simple_rt.invoke("echoByte", b"Ada").unwrap(), b"Hello, Ada");
        assert_eq!(second_simple.invoke("vowel", b"engine").unwrap(), b"3");
    }
    // A call that fails in one runtime leaves the others on the engine as they were.
    let err = sensor_rt.invoke("configure", &[0xc1]).unwrap_err();
    assert!(matches!(err, Error::Plugin(_)), "{err:?}");
    assert_eq!(simple_rt.invoke("vowel", b"aeiou").unwrap(), b"5");
    let limits: Limits = sensor_rt.call("configure", &LimitChanges::default()).unwrap();
    assert_eq!(limits.max_celsius, 52.0);
}

#[test]
fn compiling_on_an_engine_checks_the_hash_first() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let wrong = Sha256Hasher.hash(b"another plugin");
    let err = Module::new_in(&engine, SIMPLE, &wrong, &Sha256Hasher).unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err:?}");
    let err = Module::new_in(&engine, SIMPLE, "not a hash", &Sha256Hasher).unwrap_err();
    assert!(matches!(err, Error::MalformedHash(_)), "{err:?}");
    // No hasher, so no hash may be expected.
    let err = Module::new_in(&engine, SIMPLE, "abc", &NoVerify).unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err:?}");
    let err = Module::pinned_in(&engine, SENSOR, pin(SIMPLE)).unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err:?}");
    // Bytes that hash right but are no module, and a truncated module.
    let garbage = b"\0asm but not really a module".as_slice();
    let err = Module::new_in(&engine, garbage, &Sha256Hasher.hash(garbage), &Sha256Hasher).unwrap_err();
    assert!(matches!(err, Error::InvalidModule(_)), "{err:?}");
    let cut = &SIMPLE[..SIMPLE.len() / 2];
    let err = Module::new_in(&engine, cut, "", &NoVerify).unwrap_err();
    assert!(matches!(err, Error::InvalidModule(_)), "{err:?}");
    // Modules hookr refuses for what they are, on the engine as on one of their own.
    let no_memory =
        wat::parse_str(r#"(module (func (export "__plugin_call") (param i32 i32) (result i32) i32.const 1))"#).unwrap();
    let err = Module::new_in(&engine, &no_memory, "", &NoVerify).unwrap_err();
    assert!(matches!(err, Error::MissingExport("memory")), "{err:?}");
    let many_locals = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (func (export "__plugin_call") (param i32 i32) (result i32) (local i64 i64) i32.const 1))"#,
    )
    .unwrap();
    let few = Engine::new(EngineConfig::default().with_max_function_locals(1)).unwrap();
    let err = Module::new_in(&few, &many_locals, "", &NoVerify).unwrap_err();
    assert!(matches!(err, Error::InvalidModule(_)), "{err:?}");
    assert!(Module::new_in(&engine, &many_locals, "", &NoVerify).is_ok());
    // The engine still compiles good modules after refusing those.
    let module = Module::new_in(&engine, SIMPLE, "", &NoVerify).unwrap();
    let mut rt = Runtime::builder(()).module(module).host_fns(SIMPLE_FNS).build().unwrap();
    assert_eq!(rt.invoke("vowel", b"after").unwrap(), b"2");
}

#[test]
fn engine_settings_are_checked_and_bind_the_runtimes() {
    let err = Engine::new(EngineConfig::default().with_max_recursion_depth(0)).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = Engine::new(EngineConfig::default().with_max_stack_height(usize::MAX)).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");

    // A module compiled on an unmetered engine runs only unmetered runtimes.
    let unmetered = Engine::new(EngineConfig::default().with_fuel(false)).unwrap();
    assert!(!unmetered.config().fuel);
    let module = Module::new_in(&unmetered, SIMPLE, "", &NoVerify).unwrap();
    let err = Runtime::builder(()).module(module.clone()).host_fns(SIMPLE_FNS).build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let mut rt = Runtime::builder(()).module(module).host_fns(SIMPLE_FNS).unmetered().build().unwrap();
    assert_eq!(rt.invoke("vowel", b"unmetered").unwrap(), b"4");

    // A module's own limits on locals and page sizes come from its engine.
    let strict = Engine::new(EngineConfig::default().with_custom_page_sizes(false)).unwrap();
    let err = Module::new_in(&strict, SIMPLE, "", &NoVerify).unwrap_err();
    assert!(matches!(err, Error::InvalidModule(_)), "{err:?}");
}

#[test]
fn a_typed_codec_is_in_scope_for_the_messages() {
    // The sensor messages use `super::codec`; this keeps the import used.
    let bytes = codec::to_vec(&LimitChanges::default()).unwrap();
    assert_eq!(codec::from_slice::<LimitChanges>(&bytes).unwrap(), LimitChanges::default());
}
