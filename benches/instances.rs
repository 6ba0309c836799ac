//! Many instances of one plugin: a fresh runtime from a compiled module beside wasmi
//! doing the same, and a reset beside a fresh instance.
//!
//! `cargo bench --bench instances` runs every case and ends with a table of medians
//! and ratios; `-- WORD` runs only the cases named WORD.

extern crate alloc;

mod common;

use std::hint::black_box;

use common::{fmt_ns, hello, hello_byte, simple_floor_linker, Results, State, SENTENCE, SIMPLE};
use hookr::wasmi::{self, Store};
use hookr::{EngineConfig, HostFn, Limits, Module, NoVerify, Runtime};

static HOST_FNS: &[HostFn<State>] = &[HostFn::bytes("helloByte", hello_byte), HostFn::typed("hello", hello)];

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut r = Results { filter, rows: Vec::new() };
    let compiled = Module::new(SIMPLE, "", &NoVerify, EngineConfig::default()).unwrap();
    let fresh = || Runtime::builder(State).module(compiled.clone()).host_fns(HOST_FNS).build().unwrap();

    // wasmi alone, as a user of it would make an instance ready to call: a store with
    // fuel, the instance, its initialisers (simple has none to run) and the memory and
    // export resolved.
    let engine = compiled.engine().clone();
    let floor_module = wasmi::Module::new(&engine, SIMPLE).unwrap();
    let floor_linker = simple_floor_linker(&engine);
    r.run("fresh instance: floor (wasmi)", || {
        let mut store = Store::new(&engine, ());
        store.set_fuel(Limits::DEFAULT_INIT_FUEL).unwrap();
        let instance = floor_linker.instantiate_and_start(&mut store, &floor_module).unwrap();
        for name in hookr::abi_names::INITIALISERS {
            if let Some(f) = instance.get_func(&store, name) {
                f.typed::<(), ()>(&store).unwrap().call(&mut store, ()).unwrap();
            }
        }
        let memory = instance.get_memory(&store, "memory").unwrap();
        let call = instance.get_typed_func::<(i32, i32), i32>(&store, "__plugin_call").unwrap();
        black_box((store, memory, call));
    });
    r.run("fresh instance: hookr from Module", || {
        black_box(fresh());
    });

    let mut out = Vec::new();
    r.run("fresh instance + first vowel 86 B", || {
        let mut rt = fresh();
        rt.invoke_into("vowel", black_box(SENTENCE), &mut out).unwrap();
        black_box(rt);
    });
    let mut rt = fresh();
    r.run("reset + first vowel 86 B", || {
        rt.reset().unwrap();
        rt.invoke_into("vowel", black_box(SENTENCE), &mut out).unwrap();
    });
    r.run("reset alone", || {
        rt.reset().unwrap();
    });

    println!();
    let ratio = |a: &str, b: &str| match (r.get(a), r.get(b)) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    let ns = |name: &str| r.get(name).map_or("-".into(), fmt_ns);
    let (floor, hookr) = ("fresh instance: floor (wasmi)", "fresh instance: hookr from Module");
    println!("fresh instance     floor {:>10}  hookr {:>10}  ratio {}", ns(floor), ns(hookr), ratio(hookr, floor));
    let (fresh, reset) = ("fresh instance + first vowel 86 B", "reset + first vowel 86 B");
    println!("+ first call       fresh {:>10}  reset {:>10}  ratio {}", ns(fresh), ns(reset), ratio(reset, fresh));
}
