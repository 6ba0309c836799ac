//! Where a plugin's heap goes, stage by stage, measured here with the counting
//! allocator (`meter.rs`): the interpreter's engine, the compiled module, hookr's
//! host imports resolved for it, the store and instance, the linear memory, hookr's own
//! context and buffers, and the guest functions translated when the plugin starts.
//!
//! Each stage is the difference in bytes in use across it. The engine, the module and
//! the bare store and instance are built with wasmi alone (`hookr::wasmi`) on the
//! engine settings the runtimes use; the rest comes from building the same plugin's
//! runtime twice from one compiled [`Module`]: the first build also translates the
//! functions its initialisers run (the code stays in the module's engine), the second
//! does not.

use hookr::wasmi::{self, ExternType};
use hookr::{Error, Module, Pinned, Runtime};

use crate::check::{Context, Failure};
use crate::{ENGINE, HEAP};

/// Bytes in use now, for the differences.
fn now() -> usize {
    HEAP.in_use()
}

/// Engine, module, store and instance built with wasmi alone: their bytes, and the
/// size of the linear memory the instance starts with.
struct Bare {
    engine: usize,
    module: usize,
    store_instance: usize,
    memory: usize,
}

/// wasmi refused a step of the breakdown (its error text stays out of flash).
fn refused(what: &'static str) -> Failure {
    defmt::error!("{=str}: wasmi refused it", what);
    Failure::Mismatch(what)
}

fn bare(wasm: &[u8]) -> Result<Bare, Failure> {
    let start = now();
    let engine = ENGINE.engine().context("breakdown: engine")?;
    let after_engine = now();
    // SAFETY: `wasm` is one of the embedded plugins, whose bytes build.rs validated and
    // pinned; the engine accepts the same Wasm features it was validated with.
    let module = unsafe { wasmi::Module::new_unchecked(&engine, wasm) }.map_err(|_| refused("breakdown: compile"))?;
    let after_module = now();
    // Every import a host function that traps: nothing runs here, the instance is only
    // built (no start function in these plugins; their initialisers are exports).
    let mut linker = wasmi::Linker::<()>::new(&engine);
    for import in module.imports() {
        if let ExternType::Func(ty) = import.ty() {
            linker
                .func_new(import.module(), import.name(), ty.clone(), |_, _, _| {
                    Err(wasmi::Error::new("not linked in the breakdown"))
                })
                .map_err(|_| refused("breakdown: link"))?;
        }
    }
    let mut store = wasmi::Store::new(&engine, ());
    let before_instance = now();
    let instance = linker.instantiate_and_start(&mut store, &module).map_err(|_| refused("breakdown: instantiate"))?;
    let memory = instance.get_memory(&store, "memory").map_or(0, |m| m.data_size(&store));
    let bare = Bare {
        engine: after_engine - start,
        module: after_module - after_engine,
        store_instance: now() - before_instance - memory,
        memory,
    };
    Ok(bare)
}

/// Logs the heap of each stage of loading the plugin `name`; `build` builds its
/// runtime from a compiled module, with the firmware's host functions and limits.
/// Leaves nothing allocated.
pub fn report<T: 'static>(
    name: &'static str,
    wasm: &[u8],
    pin: Pinned,
    build: impl Fn(Module) -> Result<Runtime<T>, Error>,
) -> Result<(), Failure> {
    let start = now();
    let bare = bare(wasm)?;
    let before_module = now();
    let module = Module::pinned(wasm, pin, ENGINE).context("breakdown: load")?;
    let hookr_module = now() - before_module;
    let before_first = now();
    let first = build(module.clone()).context("breakdown: first runtime")?;
    let first_build = now() - before_first;
    let memory = first.memory_size();
    drop(first);
    let before_second = now();
    let second = build(module.clone()).context("breakdown: second runtime")?;
    let second_build = now() - before_second;
    drop(second);
    drop(module);
    let total = hookr_module + first_build;
    // Stages measured with hookr's module and runtime, less what wasmi alone took.
    let imports = hookr_module.saturating_sub(bare.engine + bare.module);
    let own = second_build.saturating_sub(bare.store_instance + memory);
    let translated = first_build.saturating_sub(second_build);
    defmt::info!("heap of {=str}, stage by stage ({=usize} B in all, loaded):", name, total);
    defmt::info!("  {=str}: engine (wasmi::Engine) {=usize} B", name, bare.engine);
    defmt::info!(
        "  {=str}: module compile (wasmi::Module, {=usize} B of wasm, lazy) {=usize} B",
        name,
        wasm.len(),
        bare.module
    );
    defmt::info!("  {=str}: hookr's host imports, resolved once {=usize} B", name, imports);
    defmt::info!("  {=str}: store and instance (wasmi) {=usize} B", name, bare.store_instance);
    defmt::info!(
        "  {=str}: linear memory {=usize} B ({=usize} B declared, the rest grown by its initialisers)",
        name,
        memory,
        bare.memory
    );
    defmt::info!("  {=str}: hookr's context, buffers and host table {=usize} B", name, own);
    defmt::info!("  {=str}: code of the functions the initialisers ran (translated) {=usize} B", name, translated);
    if now() != start {
        defmt::error!("breakdown of {=str}: {=usize} B left allocated, want 0", name, now() - start);
        return Err(Failure::Mismatch("breakdown: heap in use afterwards"));
    }
    Ok(())
}
