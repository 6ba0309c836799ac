//! Metered guest code runs in chunks of fuel, so that the host's native stack is
//! unwound between them.
//!
//! wasmi's default (tail-call) dispatch keeps the native stack flat only where the
//! compiler turns each instruction handler's call of the next one into a jump. In
//! release builds it does not for `memory.grow` and `table.grow`: each one executed,
//! refused or not, keeps about 200 B of the host thread's stack until the interpreter
//! returns to hookr. A plugin looping on `memory.grow` would overflow the stack and
//! abort the process.
//!
//! So the interpreter returns to hookr at least every [`CHUNK_FUEL`] units of fuel, in
//! every metered run: a call run whole is handed its budget a chunk at a time, and a
//! slice of a [`SlicedCall`](crate::SlicedCall) larger than a chunk is run as several.
//! Both instructions cost [`GROW_FUEL`] units, so one chunk executes at most 257 of them
//! (about 51 KB of stack). Handing out fuel in chunks changes nothing a plugin can see:
//! a call uses the same fuel, and ends out of fuel at the same instruction, as with its
//! whole budget in the store. The one run hookr cannot pause is a start section, which
//! wasmi runs inside instantiation: it gets at most `CHUNK_FUEL` units of the init fuel.
//!
//! An unmetered runtime has no fuel to hand out: its calls run whole, and nothing bounds
//! their stack (trusted plugins only, or `portable-dispatch`, whose stack stays flat).
//! With `portable-dispatch` a run given its whole budget is not cut into chunks either:
//! it needs none, and a plain call saves the resumable call's cost (about 30 ns, and
//! 0.7 KB of native stack on a Cortex-M4). The fuel is the same either way, and so are
//! the costs of the two instructions, so a transcript replays alike in both builds.

use wasmi::{Func, ResumableCall, Store, TrapCode, TypedFunc, Val};

use crate::runtime::{CtxBox, PluginCall};

/// Whether a metered run given its whole budget goes in chunks: with tail-call dispatch.
const WHOLE_RUNS_IN_CHUNKS: bool = !cfg!(feature = "portable-dispatch");

/// The most fuel the interpreter runs on before it returns to hookr: about 65 µs of
/// interpretation on a desktop core, so the return costs nothing that shows.
pub(crate) const CHUNK_FUEL: u64 = 1 << 16;

/// The fuel of one `memory.grow` or `table.grow`, the largest cost wasmi allows: with
/// [`CHUNK_FUEL`], it bounds how far the native stack grows between two returns.
pub(crate) const GROW_FUEL: u8 = u8::MAX;

/// wasmi's cost of each operator, with [`GROW_FUEL`] for the two that deepen the stack.
pub(crate) fn operator_cost() -> wasmi::OperatorCost {
    wasmi::OperatorCost { memory_grow: GROW_FUEL, table_grow: GROW_FUEL, ..Default::default() }
}

/// Hands the store up to `fuel` more units from the meter's unissued budget; returns
/// the store's fuel after it. Unmetered, it does nothing.
pub(crate) fn top_up(store: &mut Store<CtxBox>, fuel: u64) -> u64 {
    if !store.data().meter.metered() {
        return 0;
    }
    let issued = store.data_mut().meter.issue(fuel);
    let in_store = store.get_fuel().unwrap_or(0).saturating_add(issued);
    // Cannot fail: the engine meters fuel.
    let _ = store.set_fuel(in_store);
    in_store
}

/// Calls the plugin's entry point with the meter's whole budget; returns its status.
pub(crate) fn call_whole(
    store: &mut Store<CtxBox>,
    plugin_call: &PluginCall,
    (op_len, payload_len): (i32, i32),
) -> Result<i32, wasmi::Error> {
    if !store.data().meter.metered() || !WHOLE_RUNS_IN_CHUNKS {
        top_up(store, u64::MAX);
        return plugin_call.call(store, (op_len, payload_len));
    }
    let mut status = [Val::I32(0)];
    run_whole(store, plugin_call.func(), &[Val::I32(op_len), Val::I32(payload_len)], &mut status)?;
    Ok(match status[0] {
        Val::I32(status) => status,
        _ => hookr_abi::FAILURE,
    })
}

/// Runs an initialiser with the meter's whole budget.
pub(crate) fn init_whole(store: &mut Store<CtxBox>, init: &TypedFunc<(), ()>) -> Result<(), wasmi::Error> {
    if !store.data().meter.metered() || !WHOLE_RUNS_IN_CHUNKS {
        top_up(store, u64::MAX);
        return init.call(store, ());
    }
    run_whole(store, init.func(), &[], &mut [])
}

/// Runs `func` to its end on the meter's budget, a chunk at a time, as a call run
/// whole: an import's error, a trap or the end of the budget ends it with the error
/// a call given the whole budget at once would have ended with.
fn run_whole(store: &mut Store<CtxBox>, func: &Func, params: &[Val], results: &mut [Val]) -> Result<(), wasmi::Error> {
    top_up(store, CHUNK_FUEL);
    let mut call = func.call_resumable(&mut *store, params, results)?;
    loop {
        match call {
            ResumableCall::Finished => return Ok(()),
            // In a run that is not sliced no import pauses: this is a failure.
            ResumableCall::HostTrap(trap) => return Err(trap.into_host_error()),
            ResumableCall::OutOfFuel(paused) => {
                // The next step may need more than a chunk (an import paid from the
                // unissued budget, a long `memory.copy`): hand out what it needs.
                let in_store = store.get_fuel().unwrap_or(0);
                let short = paused.required_fuel().saturating_sub(in_store);
                if top_up(store, short.max(CHUNK_FUEL)) < paused.required_fuel() {
                    return Err(TrapCode::OutOfFuel.into());
                }
                call = paused.resume(&mut *store, results)?;
            }
        }
    }
}
