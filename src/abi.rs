//! The `hookr` host module: the nine imports a plugin calls.

use alloc::vec::Vec;

use hookr_abi as names;
use wasmi::{Caller, Extern, Linker, Memory};

use crate::error::Error;
use crate::runtime::Ctx;

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
pub(crate) fn memory<T>(caller: &Caller<'_, Ctx<T>>) -> Result<Memory, wasmi::Error> {
    if let Some(m) = caller.data().memory {
        return Ok(m);
    }
    match caller.get_export(names::MEMORY) {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(Error::MissingExport(names::MEMORY).into()),
    }
}

/// Copies `len` bytes at `ptr` out of guest memory into `dst` (cleared first).
#[inline]
fn read_into<T>(
    caller: &mut Caller<'_, Ctx<T>>,
    import: &'static str,
    ptr: i32,
    len: i32,
    limit: usize,
    what: &'static str,
    dst: impl FnOnce(&mut Ctx<T>) -> &mut Vec<u8>,
) -> Result<(), wasmi::Error> {
    let mem = memory(caller)?;
    let (data, ctx) = mem.data_and_store_mut(caller);
    let range = guest_range(data.len(), ptr, len).ok_or_else(|| bad_pointer(import, ptr, len, data.len()))?;
    if range.len() > limit {
        return Err(too_large(what, range.len(), limit));
    }
    let buf = dst(ctx);
    buf.clear();
    buf.extend_from_slice(&data[range]);
    Ok(())
}

/// Writes `src` into guest memory at `ptr`.
#[inline]
fn write_from<T>(
    caller: &mut Caller<'_, Ctx<T>>,
    import: &'static str,
    ptr: i32,
    src: impl FnOnce(&Ctx<T>) -> &[u8],
) -> Result<(), wasmi::Error> {
    let mem = memory(caller)?;
    let (data, ctx) = mem.data_and_store_mut(caller);
    let src = src(ctx);
    // Host buffers are bounded by limits a host may set past 4 GiB; a guest cannot take more.
    let len = u32::try_from(src.len()).map_err(|_| too_large("host data", src.len(), u32::MAX as usize))? as i32;
    let range = guest_range(data.len(), ptr, len).ok_or_else(|| bad_pointer(import, ptr, len, data.len()))?;
    data[range].copy_from_slice(src);
    Ok(())
}

/// Defines the nine `hookr` imports in `linker`.
pub(crate) fn link<T: 'static>(linker: &mut Linker<Ctx<T>>) -> Result<(), wasmi::Error> {
    let m = names::HOST_MODULE;

    linker.func_wrap(m, names::PLUGIN_REQUEST, |mut caller: Caller<'_, Ctx<T>>, op_ptr: i32, payload_ptr: i32| {
        let mem = memory(&caller)?;
        let (data, ctx) = mem.data_and_store_mut(&mut caller);
        let (op, payload) = ctx.frame.get();
        let len = data.len();
        let op_range = guest_range(len, op_ptr, op.len() as i32)
            .ok_or_else(|| bad_pointer(names::PLUGIN_REQUEST, op_ptr, op.len() as i32, len))?;
        let payload_range = guest_range(len, payload_ptr, payload.len() as i32)
            .ok_or_else(|| bad_pointer(names::PLUGIN_REQUEST, payload_ptr, payload.len() as i32, len))?;
        data[op_range].copy_from_slice(op);
        data[payload_range].copy_from_slice(payload);
        Ok(())
    })?;

    linker.func_wrap(m, names::PLUGIN_RESPONSE, |mut caller: Caller<'_, Ctx<T>>, ptr: i32, len: i32| {
        let limit = caller.data().limits.max_response;
        read_into(&mut caller, names::PLUGIN_RESPONSE, ptr, len, limit, "plugin response", |c| &mut c.response)
    })?;

    linker.func_wrap(m, names::PLUGIN_ERROR, |mut caller: Caller<'_, Ctx<T>>, ptr: i32, len: i32| {
        let limit = caller.data().limits.max_error;
        read_into(&mut caller, names::PLUGIN_ERROR, ptr, len, limit, "plugin error", |c| {
            c.has_plugin_error = true;
            &mut c.plugin_error
        })
    })?;

    linker.func_wrap(
        m,
        names::HOST_CALL,
        |mut caller: Caller<'_, Ctx<T>>, op_ptr: i32, op_len: i32, payload_ptr: i32, payload_len: i32| {
            let mem = memory(&caller)?;
            let (data, ctx) = mem.data_and_store_mut(&mut caller);
            let len = data.len();
            let op_range =
                guest_range(len, op_ptr, op_len).ok_or_else(|| bad_pointer(names::HOST_CALL, op_ptr, op_len, len))?;
            let payload_range = guest_range(len, payload_ptr, payload_len)
                .ok_or_else(|| bad_pointer(names::HOST_CALL, payload_ptr, payload_len, len))?;
            ctx.host_response.clear();
            ctx.host_error.clear();
            let result = contain("a host function", || {
                ctx.host.call(&mut ctx.state, &data[op_range], &data[payload_range], &mut ctx.host_response)
            })?;
            let limit = ctx.limits.max_host_response;
            if ctx.host_response.len() > limit {
                let len = ctx.host_response.len();
                // Do not keep a huge buffer alive for the rest of the runtime's life.
                ctx.host_response = Vec::new();
                return Err(too_large("host response", len, limit));
            }
            match result {
                Ok(()) => Ok(names::SUCCESS),
                Err(e) => {
                    ctx.host_error.extend_from_slice(truncate(e.message(), ctx.limits.max_error).as_bytes());
                    Ok(names::FAILURE)
                }
            }
        },
    )?;

    linker.func_wrap(m, names::HOST_RESPONSE_LEN, |caller: Caller<'_, Ctx<T>>| {
        caller.data().host_response.len() as i32
    })?;

    linker.func_wrap(m, names::HOST_RESPONSE, |mut caller: Caller<'_, Ctx<T>>, ptr: i32| {
        write_from(&mut caller, names::HOST_RESPONSE, ptr, |c| &c.host_response)
    })?;

    linker.func_wrap(m, names::HOST_ERROR_LEN, |caller: Caller<'_, Ctx<T>>| caller.data().host_error.len() as i32)?;

    linker.func_wrap(m, names::HOST_ERROR, |mut caller: Caller<'_, Ctx<T>>, ptr: i32| {
        write_from(&mut caller, names::HOST_ERROR, ptr, |c| &c.host_error)
    })?;

    linker.func_wrap(m, names::LOG, |mut caller: Caller<'_, Ctx<T>>, ptr: i32, len: i32| {
        let mem = memory(&caller)?;
        let (data, ctx) = mem.data_and_store_mut(&mut caller);
        let range = guest_range(data.len(), ptr, len).ok_or_else(|| bad_pointer(names::LOG, ptr, len, data.len()))?;
        if range.len() > ctx.limits.max_log {
            return Err(too_large("log line", range.len(), ctx.limits.max_log));
        }
        let line = alloc::string::String::from_utf8_lossy(&data[range]);
        contain("the logger", || (ctx.logger)(&line))
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
