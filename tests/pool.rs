//! A pool lends runtimes of one module to many threads: every call's result is right
//! under contention, a runtime whose call failed comes back reset, an exhausted pool
//! answers after its wait, and a failing factory frees its slot.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hookr::{EngineConfig, Error, HostError, HostFn, Module, NoVerify, Pool, Runtime};

const SIMPLE: &[u8] = include_bytes!("../targets/plugins/simple/simple.wasm");

/// Each runtime's own host state: the calls its host function answered.
#[derive(Default)]
struct Calls(u64);

fn hello_byte(calls: &mut Calls, input: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    calls.0 += 1;
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(input);
    Ok(())
}

static HOST_FNS: &[HostFn<Calls>] = &[HostFn::bytes("helloByte", hello_byte)];

#[test]
fn eight_threads_share_three_runtimes_and_every_answer_is_right() {
    let module = Module::new(SIMPLE, "", &NoVerify, EngineConfig::default()).unwrap();
    let made = Arc::new(AtomicUsize::new(0));
    let counter = made.clone();
    let pool = Pool::new(3, move || {
        counter.fetch_add(1, Ordering::Relaxed);
        Runtime::builder(Calls::default()).module(module.clone()).host_fns(HOST_FNS).build()
    })
    .unwrap();
    const THREADS: usize = 8;
    const CALLS: usize = 10_000;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let mut host_calls = 0;
                for i in 0..CALLS {
                    let text = format!("thread {t} call {i} aeiou");
                    let mut rt = pool.get().unwrap();
                    if i % 2 == 0 {
                        rt.invoke_into("vowel", text.as_bytes(), &mut out).unwrap();
                        let vowels = text.bytes().filter(|b| b"aeiou".contains(b)).count();
                        assert_eq!(out, vowels.to_string().as_bytes(), "{text}");
                    } else {
                        let before = rt.state().0;
                        rt.invoke_into("echoByte", text.as_bytes(), &mut out).unwrap();
                        assert_eq!(out, format!("Hello, {text}").as_bytes());
                        assert_eq!(rt.state().0, before + 1, "the host state is the runtime's own");
                        host_calls += 1;
                    }
                }
                host_calls
            })
        })
        .collect();
    let host_calls: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(host_calls, (THREADS * CALLS / 2) as u64);
    assert!(made.load(Ordering::Relaxed) <= 3);
    assert!(pool.runtimes() <= 3);
    // Every runtime came back, with the host calls it answered in its own state.
    let held: Vec<_> = (0..pool.runtimes()).map(|_| pool.get().unwrap()).collect();
    assert_eq!(held.iter().map(|rt| rt.state().0).sum::<u64>(), host_calls);
}

#[test]
fn a_runtime_whose_call_failed_comes_back_reset() {
    let wasm = common::kitchen();
    let pool = Pool::new(1, move || Runtime::builder(()).bytes(&wasm).build()).unwrap();
    let count = |pool: &Pool<()>| pool.get().unwrap().invoke("count", b"").unwrap();
    assert_eq!(count(&pool), 1u32.to_le_bytes());
    assert_eq!(count(&pool), 2u32.to_le_bytes(), "a good call keeps the instance");
    {
        let mut rt = pool.get().unwrap();
        assert!(rt.invoke("fail", b"").is_err());
        assert!(rt.last_call_failed());
    }
    // The plugin error left the instance as it was, but the pool started it afresh.
    assert_eq!(count(&pool), 1u32.to_le_bytes());
    {
        let mut rt = pool.get().unwrap();
        assert!(matches!(rt.invoke("trap", b""), Err(Error::Trap(_))));
    }
    let rt = pool.get().unwrap();
    assert!(!rt.last_call_failed());
    drop(rt);
    assert_eq!(count(&pool), 1u32.to_le_bytes());
}

#[test]
fn an_exhausted_pool_answers_after_its_wait() {
    let wasm = common::kitchen();
    let pool =
        Pool::new(2, move || Runtime::builder(()).bytes(&wasm).build()).unwrap().with_wait(Duration::from_millis(20));
    let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
    let err = pool.get().unwrap_err();
    assert!(matches!(err, Error::PoolExhausted { size: 2, waited } if waited == Duration::from_millis(20)), "{err:?}");
    assert_eq!(err.to_string(), "all 2 runtimes of the pool stayed busy for 20ms");
    // One that comes back while another thread waits is handed over.
    let waiter = {
        let pool = pool.clone().with_wait(Duration::from_secs(60));
        std::thread::spawn(move || pool.get().map(|mut rt| rt.invoke("echo", b"handed over").unwrap()))
    };
    drop(a);
    assert_eq!(waiter.join().unwrap().unwrap(), b"handed over");
    drop(b);
    assert_eq!(pool.runtimes(), 2);
    assert!(matches!(Pool::new(0, || Runtime::builder(()).bytes(b"").build()), Err(Error::Config(_))));
}

#[test]
fn a_failing_or_panicking_factory_frees_its_slot() {
    let wasm = common::kitchen();
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    let pool = Pool::new(1, move || {
        // The first attempt gets a module that does not load, the second panics; later
        // ones get the plugin.
        match seen.fetch_add(1, Ordering::Relaxed) {
            0 => Runtime::builder(()).bytes(b"\0asm junk").build(),
            1 => panic!("the factory panics"),
            _ => Runtime::builder(()).bytes(&wasm).build(),
        }
    })
    .unwrap()
    .with_wait(Duration::ZERO);
    assert!(matches!(pool.get(), Err(Error::InvalidModule(_))));
    assert_eq!(pool.runtimes(), 0);
    assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.get())).is_err());
    assert_eq!(pool.runtimes(), 0);
    assert_eq!(pool.get().unwrap().invoke("echo", b"third").unwrap(), b"third");
    assert_eq!(attempts.load(Ordering::Relaxed), 3);
}
