//! Calls from the plugin into the host: host functions and logging.

use alloc::vec::Vec;

use hookr_abi::codec::{self, Decode, Encode};
use hookr_abi::SUCCESS;

use crate::cell::GuestCell;
use crate::error::HostError;
use crate::{sys, text};

// Buffers of typed host calls, kept between calls. A call made while they are in use
// (a host function that re-enters the plugin) finds them empty and allocates its own.
static TYPED_REQUEST: GuestCell<Vec<u8>> = GuestCell::new(Vec::new());
static TYPED_RESPONSE: GuestCell<Vec<u8>> = GuestCell::new(Vec::new());

/// Calls the host function `op` with `payload` and returns its response.
///
/// An unknown operation, or any error the host function reports, is
/// [`HostError::Failed`] with the host's message.
pub fn host_call(op: &str, payload: &[u8]) -> Result<Vec<u8>, HostError> {
    let mut out = Vec::new();
    host_call_into(op, payload, &mut out)?;
    Ok(out)
}

/// Calls the host function `op` with `payload` and appends its response to `out`,
/// reusing `out`'s capacity. On error, `out` is left as it was.
pub fn host_call_into(op: &str, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
    // SAFETY: both pointers come from live slices with their own lengths; the host
    // only reads them during the call.
    let status = unsafe { sys::host_call(op.as_ptr(), op.len(), payload.as_ptr(), payload.len()) };
    if status == SUCCESS {
        // SAFETY: `__host_response_len` takes no arguments and only reads host state.
        let len = unsafe { sys::host_response_len() } as u32 as usize;
        // SAFETY: `__host_response` writes exactly the length it just reported.
        unsafe { fetch(out, len, sys::host_response) }
    } else {
        Err(host_error())
    }
}

/// The error message of the host call that just failed.
///
/// Out of line: the interpreter sets up every local of a function on each call, so
/// the failure path would slow down the success path if it were inlined.
#[cold]
#[inline(never)]
fn host_error() -> HostError {
    // SAFETY: `__host_error_len` takes no arguments and only reads host state.
    let len = unsafe { sys::host_error_len() } as u32 as usize;
    let mut message = Vec::new();
    // SAFETY: `__host_error` writes exactly the length it just reported.
    if let Err(e) = unsafe { fetch(&mut message, len, sys::host_error) } {
        return e;
    }
    HostError::Failed(text::lossy("", &message))
}

/// Appends `len` bytes that `write` puts at the pointer it is given.
///
/// # Safety
///
/// `write` must write at most `len` bytes at its pointer and nothing elsewhere.
unsafe fn fetch(
    out: &mut Vec<u8>,
    len: usize,
    write: unsafe extern "C" fn(*mut u8),
) -> Result<(), HostError> {
    out.try_reserve(len)
        .map_err(|_| HostError::OutOfMemory(len))?;
    let start = out.len();
    out.resize(start + len, 0);
    // SAFETY: `out[start..]` is `len` initialised bytes we own; by the contract of this
    // function `write` stays within them.
    unsafe { write(out.as_mut_ptr().add(start)) };
    Ok(())
}

/// Calls the host function `op` with a typed request and decodes its typed response,
/// both MessagePack.
///
/// The encoded request and the response bytes live in buffers kept between calls; only
/// what the decoded `O` owns is allocated.
pub fn host_call_typed<I, O>(op: &str, request: &I) -> Result<O, HostError>
where
    I: Encode + ?Sized,
    O: Decode,
{
    let mut req = TYPED_REQUEST.take();
    let mut resp = TYPED_RESPONSE.take();
    req.clear();
    resp.clear();
    let result = codec::encode_into(request, &mut req)
        .map_err(HostError::from)
        .and_then(|()| host_call_into(op, &req, &mut resp))
        .and_then(|()| codec::from_slice(&resp).map_err(HostError::from));
    TYPED_REQUEST.set(req);
    TYPED_RESPONSE.set(resp);
    result
}

/// Sends a log line to the host (`__log`).
pub fn log(message: &str) {
    // SAFETY: the pointer and length come from a live `&str`; the host only reads it.
    unsafe { sys::log(message.as_ptr(), message.len()) }
}

/// Sends the concatenation of `parts` to the host as one log line.
///
/// Unlike [`log!`](crate::log!), this does not go through `core::fmt`, which adds
/// several kilobytes of formatting code to a plugin that uses it.
///
/// ```no_run
/// # #![no_std]
/// # #![no_main]
/// fn report(sensor: &str, kind: &str) {
///     hookr_guest::log_parts(&["sensor \"", sensor, "\": ", kind]);
/// }
/// ```
pub fn log_parts(parts: &[&str]) {
    log(&text::concat(parts));
}

/// Formats a log line, as `format!` does, and sends it with [`log`](crate::log()).
///
/// Formatting brings `core::fmt` into the plugin (several kilobytes, more for floats);
/// [`log_parts`](crate::log_parts()) joins plain strings without it.
///
/// ```no_run
/// # #![no_std]
/// # #![no_main]
/// fn report(sensor: &str, age_ms: u64) {
///     hookr_guest::log!("sensor {sensor} is stale: {age_ms} ms old");
/// }
/// ```
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log(&$crate::__format!($($arg)*))
    };
}
