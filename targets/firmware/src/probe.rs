//! Everything wasmi-specific lives here: compiling the probe module, linking its one
//! host function, and calling it under fuel. Phase 2 swaps this file for
//! `hookr::Runtime`; `main.rs` only sees [`Probe`], [`Run`] and [`Error`].

use core::fmt;

use wasmi::{
    Caller, CompilationMode, Config, Engine, Linker, Memory, Module, Store, TrapCode, TypedFunc,
};

/// The probe plugin; source in `guest/probe.wat`.
pub const PROBE_WASM: &[u8] = include_bytes!("../guest/probe.wasm");

/// A host function as the probe imports it (`env.tick`).
pub type HostFn = fn(u32) -> u32;

struct HostState {
    tick: HostFn,
    calls: u32,
}

/// An instantiated probe, ready to be called many times.
pub struct Probe {
    store: Store<HostState>,
    run: TypedFunc<i32, i32>,
    memory: Memory,
}

/// What one call of the guest's `run` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// The guest's return value.
    pub result: u32,
    /// The accumulator as the guest left it in its memory (address 0).
    pub acc_in_memory: u32,
    /// How many times the guest called the host function.
    pub host_calls: u32,
    /// Fuel the call consumed.
    pub fuel_used: u64,
}

/// Why loading or running the probe failed.
#[derive(Debug)]
pub enum Error {
    /// wasmi failed: compile, link, instantiate or trap.
    Wasm(wasmi::Error),
    /// The module lacks an export the probe needs.
    MissingExport(&'static str),
}

impl Error {
    /// Whether the call stopped because it ran out of fuel.
    pub fn is_out_of_fuel(&self) -> bool {
        matches!(self, Error::Wasm(e) if e.as_trap_code() == Some(TrapCode::OutOfFuel))
    }
}

impl From<wasmi::Error> for Error {
    fn from(e: wasmi::Error) -> Self {
        Error::Wasm(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Wasm(e) => write!(f, "wasmi: {e}"),
            Error::MissingExport(name) => write!(f, "module does not export `{name}`"),
        }
    }
}

impl Probe {
    /// Compiles [`PROBE_WASM`] eagerly with fuel metering on, links `env.tick` to
    /// `tick`, and instantiates it.
    pub fn new(tick: HostFn) -> Result<Self, Error> {
        let mut config = Config::default();
        // Eager compilation: no compile fuel is charged on first call, so the same
        // call always costs the same fuel.
        config
            .consume_fuel(true)
            .compilation_mode(CompilationMode::Eager);
        let engine = Engine::new(&config);
        let module = compile(&engine)?;
        let mut store = Store::new(&engine, HostState { tick, calls: 0 });
        let mut linker = Linker::<HostState>::new(&engine);
        linker
            .func_wrap(
                "env",
                "tick",
                |mut caller: Caller<'_, HostState>, i: i32| -> i32 {
                    let state = caller.data_mut();
                    state.calls += 1;
                    (state.tick)(i as u32) as i32
                },
            )
            .map_err(wasmi::Error::from)?;
        let instance = linker.instantiate_and_start(&mut store, &module)?;
        let run = instance.get_typed_func::<i32, i32>(&store, "run")?;
        let memory = instance
            .get_memory(&store, "memory")
            .ok_or(Error::MissingExport("memory"))?;
        Ok(Self { store, run, memory })
    }

    /// Calls the guest's `run(n)` with `fuel` units of fuel.
    pub fn run(&mut self, n: u32, fuel: u64) -> Result<Run, Error> {
        self.store.data_mut().calls = 0;
        self.store.set_fuel(fuel)?;
        let result = self.run.call(&mut self.store, n as i32)? as u32;
        let fuel_used = fuel - self.store.get_fuel()?;
        let mut acc = [0u8; 4];
        self.memory
            .read(&self.store, 0, &mut acc)
            .map_err(|e| Error::Wasm(e.into()))?;
        Ok(Run {
            result,
            acc_in_memory: u32::from_le_bytes(acc),
            host_calls: self.store.data().calls,
            fuel_used,
        })
    }

    /// Host calls made by the last [`Probe::run`], including one that failed.
    pub fn last_host_calls(&self) -> u32 {
        self.store.data().calls
    }
}

#[cfg(feature = "validate")]
fn compile(engine: &Engine) -> Result<Module, wasmi::Error> {
    Module::new(engine, PROBE_WASM)
}

/// Without the `validate` feature wasmi only offers unchecked compilation. This build
/// exists to measure what validation costs in flash; it compiles nothing but the
/// committed probe.
#[cfg(not(feature = "validate"))]
fn compile(engine: &Engine) -> Result<Module, wasmi::Error> {
    // SAFETY: PROBE_WASM is the committed build of guest/probe.wat, which `run.sh`
    // rebuilds, compares and checks with `wasm-validate` (and the default build
    // validates the same bytes at run time).
    unsafe { Module::new_unchecked(engine, PROBE_WASM) }
}
