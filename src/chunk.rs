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
//! So every metered run is handed its fuel a chunk at a time, and the interpreter
//! returns to hookr between two chunks: a call run whole gets its budget chunk by
//! chunk, and a slice of a [`SlicedCall`](crate::SlicedCall) larger than a chunk is run
//! as several. The store never holds more than [`CHUNK_FUEL`] units, or what the next
//! step needs when that is more (chunks are added up until it has it). Both
//! instructions cost [`GROW_FUEL`] units, so a chunk pays for at most 128 of them. A
//! step that needs more than a chunk is a stretch of code without branches (wasmi
//! charges its fuel at its start), or one instruction that pays for bytes or elements
//! (a bulk memory or table instruction, the bytes a `memory.grow` adds); a function
//! may hold at most [`MAX_GROWS_PER_FUNCTION`] grows (checked at load), so such a step
//! runs at most 128 of them, and what it leaves in the store is less than a chunk: at
//! most 256 between two returns, about 51 KB of stack. Handing out fuel in
//! chunks changes nothing a plugin can see: a call uses the same fuel, and ends out of
//! fuel at the same instruction, as with its whole budget in the store. The one run
//! hookr cannot pause is a start section, which wasmi runs inside instantiation: its
//! budget is at most `CHUNK_FUEL` units of the init fuel, imports included.
//!
//! An unmetered runtime has no fuel to hand out: its calls run whole, and nothing bounds
//! their stack (trusted plugins only, or `portable-dispatch`, whose stack stays flat).
//! With `portable-dispatch` a run given its whole budget is not cut into chunks either:
//! it needs none, and a plain call saves the resumable call's cost (about 30 ns, and
//! 0.7 KB of native stack on a Cortex-M4). The fuel is the same either way, and so are
//! the costs of the two instructions, so a transcript replays alike in both builds.

use wasmi::{Func, Store, TrapCode, TypedFunc, Val};

use crate::runtime::{CtxBox, PluginCall};
use crate::sliced::{self, SliceEnd};

/// Whether a metered run given its whole budget goes in chunks: with tail-call dispatch.
const WHOLE_RUNS_IN_CHUNKS: bool = !cfg!(feature = "portable-dispatch");

/// The fuel the interpreter is given at a time, unless the next step needs more: about
/// 33 µs of interpretation on a desktop core, so returning to hookr costs nothing that
/// shows.
pub(crate) const CHUNK_FUEL: u64 = 1 << 15;

/// The fuel of one `memory.grow` or `table.grow`, the largest cost wasmi allows: with
/// [`CHUNK_FUEL`], it bounds how far the native stack grows between two returns.
pub(crate) const GROW_FUEL: u8 = u8::MAX;

/// The most `memory.grow` and `table.grow` instructions a function may have in a
/// metered runtime: as many as a chunk pays for. wasmi charges the fuel of a stretch of
/// code without branches at its start, so such a stretch runs whole once paid for,
/// however much it needs; this bounds the grows it can hold.
pub(crate) const MAX_GROWS_PER_FUNCTION: u64 = CHUNK_FUEL / GROW_FUEL as u64;

/// wasmi's cost of each operator, with [`GROW_FUEL`] for the two that deepen the stack.
pub(crate) fn operator_cost() -> wasmi::OperatorCost {
    wasmi::OperatorCost { memory_grow: GROW_FUEL, table_grow: GROW_FUEL, ..Default::default() }
}

/// Hands the store up to `fuel` more units from the meter's unissued budget, but none
/// past `cap` in the store; returns how many it handed out. Unmetered, it does nothing.
pub(crate) fn top_up(store: &mut Store<CtxBox>, fuel: u64, cap: u64) -> u64 {
    if !store.data().meter.metered() {
        return 0;
    }
    let in_store = store.get_fuel().unwrap_or(0);
    let issued = store.data_mut().meter.issue(fuel.min(cap.saturating_sub(in_store)));
    // Cannot fail: the engine meters fuel.
    let _ = store.set_fuel(in_store + issued);
    issued
}

/// Calls the plugin's entry point with the meter's whole budget; returns its status.
pub(crate) fn call_whole(
    store: &mut Store<CtxBox>,
    plugin_call: &PluginCall,
    (op_len, payload_len): (i32, i32),
) -> Result<i32, wasmi::Error> {
    if !store.data().meter.metered() || !WHOLE_RUNS_IN_CHUNKS {
        top_up(store, u64::MAX, u64::MAX);
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
        top_up(store, u64::MAX, u64::MAX);
        return init.call(store, ());
    }
    run_whole(store, init.func(), &[], &mut [])
}

/// Runs `func` to its end on the meter's budget, a chunk at a time: as one slice of all
/// the fuel there is, which an import's error, a trap or the end of the budget ends
/// with the error a call given the whole budget at once would have ended with.
fn run_whole(store: &mut Store<CtxBox>, func: &Func, params: &[Val], results: &mut [Val]) -> Result<(), wasmi::Error> {
    let start = |store: &mut Store<CtxBox>, results: &mut [Val]| func.call_resumable(store, params, results);
    match sliced::run_slice(store, u64::MAX, sliced::Run::Start(start), results) {
        SliceEnd::Finished => Ok(()),
        SliceEnd::Failed(e) => Err(e),
        SliceEnd::OutOfFuel => Err(TrapCode::OutOfFuel.into()),
        // No import pauses a run that is not sliced, and no slice outlasts this one.
        SliceEnd::Paused(_) => Err(wasmi::Error::new("a call run whole was paused")),
    }
}
