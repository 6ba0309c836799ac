//! The host imports of both guest ABIs, hookr's (module `hookr`) and waPC's (module
//! `wapc`), and what every import shares: pointer checks, metering, containing host
//! panics.
//!
//! The two ABIs have the same nine imports under other names; only `__host_call`
//! differs, in that a waPC guest names a binding and a namespace besides the
//! operation. One set of import bodies serves both, linked under each ABI's names.

use alloc::vec::Vec;

use hookr_abi::{self as names, wapc};
use wasmi::{Caller, Extern, Memory};

use crate::error::Error;
use crate::imports::Definitions;
use crate::limits::DecodeBounds;
use crate::meter::{IMPORT_FUEL, OUTPUT_FUEL};
use crate::runtime::{release, Ctx, CtxBox};
use crate::transcript::Record;

/// The guest ABI a module uses: which host imports it gets, which export a call
/// enters, and which initialisers run.
///
/// Found when a module is compiled, from what it imports (`hookr` or `wapc`) and, for
/// a module that imports from neither, from the entry point it exports
/// ([`Module::abi`](crate::Module::abi)). Both ABIs get the same checks, limits,
/// metering and recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Abi {
    /// hookr's own, that of the Go hookr: imports from `hookr`, entry `__plugin_call`,
    /// initialisers `_start`, `_initialize`, `hookr_init`.
    Hookr,
    /// waPC's: imports from `wapc`, entry `__guest_call`, initialisers `_start`,
    /// `wapc_init`.
    Wapc,
}

impl Abi {
    /// The module name of the ABI's host imports.
    pub const fn host_module(self) -> &'static str {
        self.imports().module
    }

    /// The export every call enters, `(op_len, payload_len) -> i32`.
    pub const fn entry(self) -> &'static str {
        match self {
            Abi::Hookr => names::PLUGIN_CALL,
            Abi::Wapc => wapc::GUEST_CALL,
        }
    }

    /// The initialisers that run once at instantiation, in this order, those exported.
    pub const fn initialisers(self) -> &'static [&'static str] {
        match self {
            Abi::Hookr => &names::INITIALISERS,
            Abi::Wapc => &wapc::INITIALISERS,
        }
    }

    /// The names of the ABI's nine host imports.
    pub const fn host_imports(self) -> &'static [&'static str; 9] {
        match self {
            Abi::Hookr => &names::HOST_IMPORTS,
            Abi::Wapc => &wapc::HOST_IMPORTS,
        }
    }

    /// The ABI whose host imports come from `module`, if any.
    pub fn of_host_module(module: &str) -> Option<Abi> {
        [Abi::Hookr, Abi::Wapc].into_iter().find(|abi| abi.host_module() == module)
    }

    /// The ABI's name as people write it: `hookr` or `waPC`.
    pub const fn name(self) -> &'static str {
        match self {
            Abi::Hookr => "hookr",
            Abi::Wapc => "waPC",
        }
    }

    const fn imports(self) -> &'static Imports {
        match self {
            Abi::Hookr => &HOOKR_IMPORTS,
            Abi::Wapc => &WAPC_IMPORTS,
        }
    }
}

impl core::fmt::Display for Abi {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Abi {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.name())
    }
}

/// The names under which an ABI has each of the nine imports.
struct Imports {
    module: &'static str,
    request: &'static str,
    response: &'static str,
    error: &'static str,
    host_call: &'static str,
    host_response_len: &'static str,
    host_response: &'static str,
    host_error_len: &'static str,
    host_error: &'static str,
    log: &'static str,
}

const HOOKR_IMPORTS: Imports = Imports {
    module: names::HOST_MODULE,
    request: names::PLUGIN_REQUEST,
    response: names::PLUGIN_RESPONSE,
    error: names::PLUGIN_ERROR,
    host_call: names::HOST_CALL,
    host_response_len: names::HOST_RESPONSE_LEN,
    host_response: names::HOST_RESPONSE,
    host_error_len: names::HOST_ERROR_LEN,
    host_error: names::HOST_ERROR,
    log: names::LOG,
};

const WAPC_IMPORTS: Imports = Imports {
    module: wapc::HOST_MODULE,
    request: wapc::GUEST_REQUEST,
    response: wapc::GUEST_RESPONSE,
    error: wapc::GUEST_ERROR,
    host_call: wapc::HOST_CALL,
    host_response_len: wapc::HOST_RESPONSE_LEN,
    host_response: wapc::HOST_RESPONSE,
    host_error_len: wapc::HOST_ERROR_LEN,
    host_error: wapc::HOST_ERROR,
    log: wapc::CONSOLE_LOG,
};

/// The byte range `[ptr, ptr + len)` of a memory of `memory_len` bytes, or `None` when
/// it does not lie inside. Pointers and lengths are the guest's unsigned 32-bit values.
#[inline]
pub(crate) fn guest_range(memory_len: usize, ptr: i32, len: i32) -> Option<core::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize)?;
    (end <= memory_len).then_some(start..end)
}

#[inline]
fn bad_pointer(import: &'static str, ptr: i32, len: i32, memory: usize) -> wasmi::Error {
    Error::BadGuestPointer { import, ptr: ptr as u32, len: len as u32, memory }.into()
}

#[inline]
fn too_large(what: &'static str, len: usize, limit: usize) -> wasmi::Error {
    Error::TooLarge { what, len, limit }.into()
}

/// Runs a host callback (a host function, the logger, a sink). The interpreter cannot
/// unwind, so under `std` a panic in the callback ends the call with
/// [`Error::Host`] instead of aborting the process; without `std` a panic is the
/// panic handler's to deal with.
#[inline]
pub(crate) fn contain<R>(what: &'static str, f: impl FnOnce() -> R) -> Result<R, wasmi::Error> {
    #[cfg(feature = "std")]
    return std::panic::catch_unwind(core::panic::AssertUnwindSafe(f))
        .map_err(|_| Error::host(alloc::format!("{what} panicked")).into());
    #[cfg(not(feature = "std"))]
    {
        let _ = what;
        Ok(f())
    }
}

/// The first `max` bytes of `s`, cut back to a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The guest's memory: the handle cached after instantiation, or looked up while a
/// start function runs before that.
#[inline]
pub(crate) fn memory(caller: &Caller<'_, CtxBox>) -> Result<Memory, wasmi::Error> {
    if let Some(m) = caller.data().memory {
        return Ok(m);
    }
    match caller.get_export(names::MEMORY) {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(Error::MissingExport(names::MEMORY).into()),
    }
}

/// Runs a host import under the meter: charges its fixed cost
/// ([`IMPORT_FUEL`](crate::meter::IMPORT_FUEL)), then runs `f`, which charges what it
/// moves through `ctx.meter`. The store's fuel is read before and written back after.
#[inline]
pub(crate) fn metered<R>(
    caller: &mut Caller<'_, CtxBox>,
    f: impl FnOnce(&mut Caller<'_, CtxBox>) -> Result<R, wasmi::Error>,
) -> Result<R, wasmi::Error> {
    let metered = caller.data().meter.metered();
    if metered {
        let fuel = caller.get_fuel()?;
        caller.data_mut().meter.enter(fuel);
    }
    let result = match caller.data_mut().meter.charge(IMPORT_FUEL) {
        Ok(()) => f(caller),
        Err(e) => Err(e),
    };
    if metered {
        let left = caller.data().meter.leave();
        caller.set_fuel(left)?;
    }
    result
}

/// Runs a host import under the meter with the guest's memory and the store data.
#[inline]
pub(crate) fn with_memory<R>(
    caller: &mut Caller<'_, CtxBox>,
    f: impl FnOnce(&mut [u8], &mut Ctx) -> Result<R, wasmi::Error>,
) -> Result<R, wasmi::Error> {
    metered(caller, |caller| {
        let mem = memory(caller)?;
        let (data, ctx) = mem.data_and_store_mut(caller);
        f(data, ctx)
    })
}

/// What is appended to a message or log line cut to its limit.
pub(crate) fn cut_note(len: usize) -> alloc::string::String {
    alloc::format!(" … [truncated from {len} bytes]")
}

/// Copies `src` into guest memory at `ptr`, charging for the bytes.
#[inline]
fn write_from(
    caller: &mut Caller<'_, CtxBox>,
    import: &'static str,
    ptr: i32,
    src: impl Fn(&Ctx) -> &[u8],
) -> Result<(), wasmi::Error> {
    with_memory(caller, |data, ctx| {
        let len = src(ctx).len();
        // Host buffers are bounded by limits a host may set past 4 GiB; a guest cannot take more.
        let len32 = u32::try_from(len).map_err(|_| too_large("host data", len, u32::MAX as usize))? as i32;
        let range = guest_range(data.len(), ptr, len32).ok_or_else(|| bad_pointer(import, ptr, len32, data.len()))?;
        ctx.meter.charge_bytes(len)?;
        data[range].copy_from_slice(src(ctx));
        Ok(())
    })
}

/// Runs a host call for the guest: the host function's answer (or, in a replay, the
/// transcript's) lands in `host_response` or, cut to `max_error`, in `host_error`; it
/// is recorded when recording, checked against `max_host_response` and charged.
/// Returns whether the host function succeeded. `binding` and `namespace` are empty
/// for hookr's own ABI.
#[inline]
pub(crate) fn call_host(
    ctx: &mut Ctx,
    binding: &[u8],
    namespace: &[u8],
    op: &[u8],
    payload: &[u8],
) -> Result<bool, wasmi::Error> {
    ctx.host_response.clear();
    ctx.host_error.clear();
    // A typed host function's decoding is paid for before it runs; a replay pays what
    // the transcript says the recorded call paid.
    let mut decoded = false;
    let ok = if ctx.tape.replaying_now() {
        let (ok, paid) =
            ctx.tape.replay_host_call(binding, namespace, op, payload, &mut ctx.host_response, &mut ctx.host_error)?;
        if paid {
            ctx.meter.charge(crate::meter::decode_cost(payload.len()))?;
        }
        ok
    } else {
        let bounds = DecodeBounds::of(&ctx.limits);
        let (meter, mut unpaid) = (&mut ctx.meter, false);
        let mut pay = |bytes: usize| {
            decoded = true;
            unpaid = meter.charge(crate::meter::decode_cost(bytes)).is_err();
            !unpaid
        };
        let answer = contain("a host function", || {
            ctx.host.call([binding, namespace, op], payload, &mut ctx.host_response, bounds, &mut pay)
        })?;
        if unpaid {
            // Recorded as a call that paid nothing and got nothing (the host function did
            // not run): a replay runs out of fuel at the same place.
            let record = Record::HostCall { binding, namespace, op, request: payload, ok: false, reply: b"", decoded };
            ctx.tape.write(&record);
            return Err(Error::OutOfFuel.into());
        }
        match answer {
            Ok(()) => true,
            Err(e) => {
                // What a failed host function wrote before it failed is not a reply:
                // the guest sees an empty one, as a replay gives it.
                release(&mut ctx.host_response, ctx.limits.retain_buffer);
                let message = truncate(e.message(), ctx.limits.max_error);
                ctx.host_error.extend_from_slice(message.as_bytes());
                if message.len() < e.message().len() {
                    ctx.host_error.extend_from_slice(cut_note(e.message().len()).as_bytes());
                }
                false
            }
        }
    };
    let reply = if ok { &ctx.host_response } else { &ctx.host_error };
    ctx.tape.write(&Record::HostCall { binding, namespace, op, request: payload, ok, reply, decoded });
    let limit = ctx.limits.max_host_response;
    if ctx.host_response.len() > limit {
        let len = ctx.host_response.len();
        // Do not keep a huge buffer alive for the rest of the runtime's life.
        ctx.host_response = Vec::new();
        return Err(too_large("host response", len, limit));
    }
    ctx.meter.charge_bytes(if ok { ctx.host_response.len() } else { ctx.host_error.len() })?;
    Ok(ok)
}

/// `__plugin_request` / `__guest_request`: writes the operation name and the payload
/// of the call under way into guest memory.
fn request<const WAPC: bool>(
    caller: &mut Caller<'_, CtxBox>,
    op_ptr: i32,
    payload_ptr: i32,
) -> Result<(), wasmi::Error> {
    let import = imports::<WAPC>().request;
    with_memory(caller, |data, ctx| {
        let (op, payload) = ctx.frame.get();
        let len = data.len();
        let op_range = guest_range(len, op_ptr, op.len() as i32)
            .ok_or_else(|| bad_pointer(import, op_ptr, op.len() as i32, len))?;
        let payload_range = guest_range(len, payload_ptr, payload.len() as i32)
            .ok_or_else(|| bad_pointer(import, payload_ptr, payload.len() as i32, len))?;
        ctx.meter.charge_bytes(op.len() + payload.len())?;
        data[op_range].copy_from_slice(op);
        data[payload_range].copy_from_slice(payload);
        Ok(())
    })
}

/// `__plugin_response` / `__guest_response`: takes the guest's response.
fn response<const WAPC: bool>(caller: &mut Caller<'_, CtxBox>, ptr: i32, len: i32) -> Result<(), wasmi::Error> {
    let import = imports::<WAPC>().response;
    with_memory(caller, |data, ctx| {
        let range = guest_range(data.len(), ptr, len).ok_or_else(|| bad_pointer(import, ptr, len, data.len()))?;
        let limit = ctx.limits.max_response;
        if range.len() > limit {
            return Err(too_large("plugin response", range.len(), limit));
        }
        ctx.meter.charge_bytes(range.len())?;
        // The caller's `io::Output` runs inside the interpreter, as a host function
        // does: a panic in it must not unwind through wasmi.
        contain("the output buffer", || ctx.frame.respond(&data[range]))
    })
}

/// `__plugin_error` / `__guest_error`: takes the guest's error message (an empty one is
/// ignored, as the Go hookr does).
fn error<const WAPC: bool>(caller: &mut Caller<'_, CtxBox>, ptr: i32, len: i32) -> Result<(), wasmi::Error> {
    let import = imports::<WAPC>().error;
    with_memory(caller, |data, ctx| {
        let range = guest_range(data.len(), ptr, len).ok_or_else(|| bad_pointer(import, ptr, len, data.len()))?;
        // An empty message is no error, as in the Go hookr.
        if range.is_empty() {
            return Ok(());
        }
        // A longer message is cut, not refused: the call fails with what fits.
        let kept = range.start..range.start + range.len().min(ctx.limits.max_error);
        ctx.meter.charge_bytes(kept.len())?;
        ctx.plugin_error.clear();
        ctx.plugin_error.extend_from_slice(&data[kept]);
        ctx.plugin_error_len = Some(range.len());
        Ok(())
    })
}

/// `__host_call`: runs the host function at the address `parts` names, `[binding,
/// namespace, operation, payload]` as (pointer, length) pairs. Returns the ABI's
/// success or failure value. A waPC guest names a binding and a namespace; a hookr
/// guest's are empty, and its `(0, 0)` pairs are not read.
fn host_call<const WAPC: bool>(caller: &mut Caller<'_, CtxBox>, parts: [(i32, i32); 4]) -> Result<i32, wasmi::Error> {
    let import = imports::<WAPC>().host_call;
    with_memory(caller, |data, ctx| {
        let len = data.len();
        let range = |(ptr, n): (i32, i32)| guest_range(len, ptr, n).ok_or_else(|| bad_pointer(import, ptr, n, len));
        let (binding, namespace) = if WAPC { (range(parts[0])?, range(parts[1])?) } else { (0..0, 0..0) };
        let (op, payload) = (range(parts[2])?, range(parts[3])?);
        ctx.meter.charge_bytes(binding.len() + namespace.len() + op.len() + payload.len())?;
        let ok = call_host(ctx, &data[binding], &data[namespace], &data[op], &data[payload])?;
        Ok(if ok { names::SUCCESS } else { names::FAILURE })
    })
}

/// `__log` / `__console_log`: hands a line to the logger, cut to its limit, within the
/// call's output bound.
fn log<const WAPC: bool>(caller: &mut Caller<'_, CtxBox>, ptr: i32, len: i32) -> Result<(), wasmi::Error> {
    let import = imports::<WAPC>().log;
    with_memory(caller, |data, ctx| {
        let range = guest_range(data.len(), ptr, len).ok_or_else(|| bad_pointer(import, ptr, len, data.len()))?;
        // A longer line is cut, not refused: at a character boundary when it is UTF-8
        // up to the cut, so that the cut itself repairs nothing.
        let mut kept = range.start..range.start + range.len().min(ctx.limits.max_log);
        if kept.len() < range.len() {
            if let Err(e) = core::str::from_utf8(&data[kept.clone()]) {
                if e.error_len().is_none() {
                    kept.end = kept.start + e.valid_up_to();
                }
            }
        }
        ctx.meter.charge_bytes(kept.len())?;
        // UTF-8 repair never makes a line shorter: a line that cannot fit as it is is
        // dropped before any repair.
        if !ctx.meter.may_fit(kept.len()) {
            ctx.meter.drop_line();
            return Ok(());
        }
        let mut line = alloc::string::String::from_utf8_lossy(&data[kept.clone()]);
        let repaired = matches!(line, alloc::borrow::Cow::Owned(_));
        if kept.len() < range.len() {
            line.to_mut().push_str(&cut_note(range.len()));
        }
        // What the logger gets counts, after UTF-8 repair and the note.
        if !ctx.meter.log_line(line.len()) {
            // A repair is work the guest's fuel does not pay for (up to three bytes
            // written for each byte read): one that comes to nothing spends the
            // call's output, so that a loop cannot have lines repaired and dropped.
            if repaired {
                ctx.meter.spend_output();
            }
            return Ok(());
        }
        ctx.meter.charge(OUTPUT_FUEL)?;
        ctx.tape.log(&line)?;
        contain("the logger", || (ctx.logger)(&line))
    })
}

/// Defines the nine host imports of `abi`.
pub(crate) fn link(defs: &mut Definitions<'_>, abi: Abi) {
    match abi {
        Abi::Hookr => link_as::<false>(defs),
        Abi::Wapc => link_as::<true>(defs),
    }
}

/// The import names of the ABI [`link_as`] is given.
const fn imports<const WAPC: bool>() -> &'static Imports {
    if WAPC {
        &WAPC_IMPORTS
    } else {
        &HOOKR_IMPORTS
    }
}

/// Defines the nine imports of the waPC ABI (`WAPC`) or of hookr's.
///
/// The ABI is a constant parameter here and in the import bodies, not an argument:
/// each body then names its import with a constant, and each ABI gets its own copy of
/// it, called from one place, which the compiler inlines into that ABI's import as if
/// it had been written there (a copy shared by both ABIs is not inlined, and costs a
/// call and a few dozen instructions on every import).
// Not inlined: `link` would hold both ABIs' frames at once, a firmware's stack too.
#[inline(never)]
fn link_as<const WAPC: bool>(defs: &mut Definitions<'_>) {
    let n = imports::<WAPC>();
    let m = n.module;
    defs.func(m, n.request, |mut caller: Caller<'_, CtxBox>, op_ptr: i32, payload_ptr: i32| {
        request::<WAPC>(&mut caller, op_ptr, payload_ptr)
    });
    defs.func(m, n.response, |mut caller: Caller<'_, CtxBox>, ptr: i32, len: i32| {
        response::<WAPC>(&mut caller, ptr, len)
    });
    defs.func(m, n.error, |mut caller: Caller<'_, CtxBox>, ptr: i32, len: i32| error::<WAPC>(&mut caller, ptr, len));
    if WAPC {
        defs.func(
            m,
            n.host_call,
            |mut caller: Caller<'_, CtxBox>,
             binding_ptr: i32,
             binding_len: i32,
             namespace_ptr: i32,
             namespace_len: i32,
             op_ptr: i32,
             op_len: i32,
             payload_ptr: i32,
             payload_len: i32| {
                let parts = [
                    (binding_ptr, binding_len),
                    (namespace_ptr, namespace_len),
                    (op_ptr, op_len),
                    (payload_ptr, payload_len),
                ];
                host_call::<WAPC>(&mut caller, parts)
            },
        );
    } else {
        defs.func(
            m,
            n.host_call,
            |mut caller: Caller<'_, CtxBox>, op_ptr: i32, op_len: i32, payload_ptr: i32, payload_len: i32| {
                let parts = [(0, 0), (0, 0), (op_ptr, op_len), (payload_ptr, payload_len)];
                host_call::<WAPC>(&mut caller, parts)
            },
        );
    }
    defs.func(m, n.host_response_len, |mut caller: Caller<'_, CtxBox>| {
        metered(&mut caller, |caller| Ok(caller.data().host_response.len() as i32))
    });
    defs.func(m, n.host_response, |mut caller: Caller<'_, CtxBox>, ptr: i32| {
        write_from(&mut caller, imports::<WAPC>().host_response, ptr, |c| &c.host_response)
    });
    defs.func(m, n.host_error_len, |mut caller: Caller<'_, CtxBox>| {
        metered(&mut caller, |caller| Ok(caller.data().host_error.len() as i32))
    });
    defs.func(m, n.host_error, |mut caller: Caller<'_, CtxBox>, ptr: i32| {
        write_from(&mut caller, imports::<WAPC>().host_error, ptr, |c| &c.host_error)
    });
    defs.func(m, n.log, |mut caller: Caller<'_, CtxBox>, ptr: i32, len: i32| log::<WAPC>(&mut caller, ptr, len));
}

/// The parameter and result counts of an import of `abi` (every value is `i32`), or
/// `None` for a name its module does not have.
pub(crate) fn signature(abi: Abi, name: &str) -> Option<(usize, usize)> {
    let n = abi.imports();
    Some(match name {
        _ if name == n.host_call => match abi {
            Abi::Hookr => (4, 1),
            Abi::Wapc => (8, 1),
        },
        _ if [n.request, n.response, n.error, n.log].contains(&name) => (2, 0),
        _ if [n.host_response_len, n.host_error_len].contains(&name) => (0, 1),
        _ if [n.host_response, n.host_error].contains(&name) => (1, 0),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_range_rejects_everything_outside() {
        assert_eq!(guest_range(100, 0, 100), Some(0..100));
        assert_eq!(guest_range(100, 100, 0), Some(100..100));
        assert_eq!(guest_range(100, 1, 100), None);
        assert_eq!(guest_range(100, -16, 100), None);
        assert_eq!(guest_range(100, 0, i32::MAX), None);
        assert_eq!(guest_range(1 << 20, -1, -1), None);
    }

    #[test]
    fn every_import_has_a_signature() {
        for abi in [Abi::Hookr, Abi::Wapc] {
            for name in abi.host_imports() {
                assert!(signature(abi, name).is_some(), "{abi} {name}");
            }
            assert_eq!(signature(abi, "__nope"), None);
            assert_eq!(Abi::of_host_module(abi.host_module()), Some(abi));
        }
        assert_eq!(signature(Abi::Hookr, names::HOST_CALL), Some((4, 1)));
        assert_eq!(signature(Abi::Wapc, wapc::HOST_CALL), Some((8, 1)));
        // Each ABI links only its own names.
        assert_eq!(signature(Abi::Hookr, wapc::CONSOLE_LOG), None);
        assert_eq!(signature(Abi::Wapc, names::LOG), None);
    }
}
