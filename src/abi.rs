//! The `hookr` host module: the nine imports a plugin calls, and what every import
//! shares: pointer checks, metering, containing host panics.

use alloc::vec::Vec;

use hookr_abi as names;
use wasmi::{Caller, Extern, Linker, Memory};

use crate::error::Error;
use crate::meter::{IMPORT_FUEL, OUTPUT_FUEL};
use crate::runtime::Ctx;
use crate::transcript::Record;

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
pub(crate) fn memory(caller: &Caller<'_, Ctx>) -> Result<Memory, wasmi::Error> {
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
    caller: &mut Caller<'_, Ctx>,
    f: impl FnOnce(&mut Caller<'_, Ctx>) -> Result<R, wasmi::Error>,
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
    caller: &mut Caller<'_, Ctx>,
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
    caller: &mut Caller<'_, Ctx>,
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
pub(crate) fn call_host(
    ctx: &mut Ctx,
    binding: &str,
    namespace: &str,
    op: &[u8],
    payload: &[u8],
) -> Result<bool, wasmi::Error> {
    ctx.host_response.clear();
    ctx.host_error.clear();
    let ok = if ctx.tape.replaying_now() {
        ctx.tape.replay_host_call(binding, namespace, op, payload, &mut ctx.host_response, &mut ctx.host_error)?
    } else {
        match contain("a host function", || ctx.host.call(op, payload, &mut ctx.host_response))? {
            Ok(()) => true,
            Err(e) => {
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
    ctx.tape.write(&Record::HostCall { binding, namespace, op, request: payload, ok, reply });
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

/// Defines the nine `hookr` imports in `linker`.
pub(crate) fn link(linker: &mut Linker<Ctx>) -> Result<(), wasmi::Error> {
    let m = names::HOST_MODULE;

    linker.func_wrap(m, names::PLUGIN_REQUEST, |mut caller: Caller<'_, Ctx>, op_ptr: i32, payload_ptr: i32| {
        with_memory(&mut caller, |data, ctx| {
            let (op, payload) = ctx.frame.get();
            let len = data.len();
            let op_range = guest_range(len, op_ptr, op.len() as i32)
                .ok_or_else(|| bad_pointer(names::PLUGIN_REQUEST, op_ptr, op.len() as i32, len))?;
            let payload_range = guest_range(len, payload_ptr, payload.len() as i32)
                .ok_or_else(|| bad_pointer(names::PLUGIN_REQUEST, payload_ptr, payload.len() as i32, len))?;
            ctx.meter.charge_bytes(op.len() + payload.len())?;
            data[op_range].copy_from_slice(op);
            data[payload_range].copy_from_slice(payload);
            Ok(())
        })
    })?;

    linker.func_wrap(m, names::PLUGIN_RESPONSE, |mut caller: Caller<'_, Ctx>, ptr: i32, len: i32| {
        with_memory(&mut caller, |data, ctx| {
            let range = guest_range(data.len(), ptr, len)
                .ok_or_else(|| bad_pointer(names::PLUGIN_RESPONSE, ptr, len, data.len()))?;
            let limit = ctx.limits.max_response;
            if range.len() > limit {
                return Err(too_large("plugin response", range.len(), limit));
            }
            ctx.meter.charge_bytes(range.len())?;
            ctx.response.clear();
            ctx.response.extend_from_slice(&data[range]);
            Ok(())
        })
    })?;

    linker.func_wrap(m, names::PLUGIN_ERROR, |mut caller: Caller<'_, Ctx>, ptr: i32, len: i32| {
        with_memory(&mut caller, |data, ctx| {
            let range = guest_range(data.len(), ptr, len)
                .ok_or_else(|| bad_pointer(names::PLUGIN_ERROR, ptr, len, data.len()))?;
            // A longer message is cut, not refused: the call fails with what fits.
            let kept = range.start..range.start + range.len().min(ctx.limits.max_error);
            ctx.meter.charge_bytes(kept.len())?;
            ctx.plugin_error.clear();
            ctx.plugin_error.extend_from_slice(&data[kept]);
            ctx.plugin_error_len = Some(range.len());
            Ok(())
        })
    })?;

    linker.func_wrap(
        m,
        names::HOST_CALL,
        |mut caller: Caller<'_, Ctx>, op_ptr: i32, op_len: i32, payload_ptr: i32, payload_len: i32| {
            with_memory(&mut caller, |data, ctx| {
                let len = data.len();
                let op_range = guest_range(len, op_ptr, op_len)
                    .ok_or_else(|| bad_pointer(names::HOST_CALL, op_ptr, op_len, len))?;
                let payload_range = guest_range(len, payload_ptr, payload_len)
                    .ok_or_else(|| bad_pointer(names::HOST_CALL, payload_ptr, payload_len, len))?;
                ctx.meter.charge_bytes(op_range.len() + payload_range.len())?;
                let ok = call_host(ctx, "", "", &data[op_range], &data[payload_range])?;
                Ok(if ok { names::SUCCESS } else { names::FAILURE })
            })
        },
    )?;

    linker.func_wrap(m, names::HOST_RESPONSE_LEN, |mut caller: Caller<'_, Ctx>| {
        metered(&mut caller, |caller| Ok(caller.data().host_response.len() as i32))
    })?;

    linker.func_wrap(m, names::HOST_RESPONSE, |mut caller: Caller<'_, Ctx>, ptr: i32| {
        write_from(&mut caller, names::HOST_RESPONSE, ptr, |c| &c.host_response)
    })?;

    linker.func_wrap(m, names::HOST_ERROR_LEN, |mut caller: Caller<'_, Ctx>| {
        metered(&mut caller, |caller| Ok(caller.data().host_error.len() as i32))
    })?;

    linker.func_wrap(m, names::HOST_ERROR, |mut caller: Caller<'_, Ctx>, ptr: i32| {
        write_from(&mut caller, names::HOST_ERROR, ptr, |c| &c.host_error)
    })?;

    linker.func_wrap(m, names::LOG, |mut caller: Caller<'_, Ctx>, ptr: i32, len: i32| {
        with_memory(&mut caller, |data, ctx| {
            let range =
                guest_range(data.len(), ptr, len).ok_or_else(|| bad_pointer(names::LOG, ptr, len, data.len()))?;
            // A longer line is cut, not refused.
            let kept = range.start..range.start + range.len().min(ctx.limits.max_log);
            ctx.meter.charge_bytes(kept.len())?;
            if ctx.meter.output_spent() {
                ctx.meter.drop_line();
                return Ok(());
            }
            let mut line = alloc::string::String::from_utf8_lossy(&data[kept.clone()]);
            if kept.len() < range.len() {
                line.to_mut().push_str(&cut_note(range.len()));
            }
            // What the logger gets counts, after UTF-8 repair and the note.
            if !ctx.meter.log_line(line.len()) {
                return Ok(());
            }
            ctx.meter.charge(OUTPUT_FUEL)?;
            ctx.tape.log(&line)?;
            contain("the logger", || (ctx.logger)(&line))
        })
    })?;

    Ok(())
}

/// The parameter and result counts of a `hookr` import (every value is `i32`), or
/// `None` for a name the module does not have.
pub(crate) fn signature(name: &str) -> Option<(usize, usize)> {
    Some(match name {
        names::PLUGIN_REQUEST | names::PLUGIN_RESPONSE | names::PLUGIN_ERROR | names::LOG => (2, 0),
        names::HOST_CALL => (4, 1),
        names::HOST_RESPONSE_LEN | names::HOST_ERROR_LEN => (0, 1),
        names::HOST_RESPONSE | names::HOST_ERROR => (1, 0),
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
        for name in names::HOST_IMPORTS {
            assert!(signature(name).is_some(), "{name}");
        }
        assert_eq!(signature("__nope"), None);
    }
}
