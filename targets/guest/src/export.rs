//! The functions a plugin exports, and `__plugin_call`, which dispatches to them.

use alloc::string::String;
use alloc::vec::Vec;

use hookr_abi::codec::{self, Decode, DecodeError, Encode, EncodeError};
use hookr_abi::{FAILURE, SUCCESS};

use crate::cell::GuestCell;
use crate::error::Error;
use crate::{sys, text};

/// A byte function: reads the payload and appends its response to the buffer, which
/// is empty when the function is called.
pub type ByteFn = fn(payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error>;

/// One exported function: the operation name the host invokes, and its handler.
///
/// [`plugin!`](crate::plugin!) builds the table; build it by hand only to call
/// [`dispatch`] from your own `__plugin_call`.
#[derive(Clone, Copy)]
pub struct Export {
    name: &'static str,
    handler: ByteFn,
}

impl Export {
    /// Exports `handler` under the operation name `name`. A typed function is a byte
    /// function that goes through [`call_typed`].
    pub const fn bytes(name: &'static str, handler: ByteFn) -> Self {
        Export { name, handler }
    }

    /// The operation name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

/// Runs a typed function on a byte payload: decodes `I` from the MessagePack
/// `payload`, calls `f`, and encodes its `O` into `out`.
pub fn call_typed<I, O, F>(payload: &[u8], out: &mut Vec<u8>, f: F) -> Result<(), Error>
where
    I: Decode,
    O: Encode,
    F: FnOnce(I) -> Result<O, Error>,
{
    let input = decode_request::<I>(payload)?;
    let output = f(input)?;
    encode_response(&output, out)
}

/// Out of line, like [`encode_response`]: inlined, a struct's decoding and its
/// response's encoding would join the function's own code in one large function, and
/// wasmi keeps its translation buffers as large as the largest function it has
/// translated for as long as the engine lives (on a microcontroller, several KB of RAM
/// for a struct of a few fields). The two calls cost a typed `echo` 0.3 % more fuel and
/// about 6 % more time (README.md, Performance).
#[inline(never)]
fn decode_request<I: Decode>(payload: &[u8]) -> Result<I, Error> {
    codec::from_slice::<I>(payload).map_err(bad_request)
}

#[inline(never)]
fn encode_response<O: Encode>(output: &O, out: &mut Vec<u8>) -> Result<(), Error> {
    codec::encode_into(output, out).map_err(bad_response)
}

#[cold]
fn bad_request(e: DecodeError) -> Error {
    Error::from(text::decode_error("cannot decode the request: ", &e))
}

#[cold]
fn bad_response(e: EncodeError) -> Error {
    Error::from(text::encode_error("cannot encode the response: ", &e))
}

// The request (operation name, then payload) and response buffers, kept between calls.
// A call that re-enters the plugin finds them taken and works in fresh ones.
static REQUEST: GuestCell<Vec<u8>> = GuestCell::new(Vec::new());
static RESPONSE: GuestCell<Vec<u8>> = GuestCell::new(Vec::new());

/// The body of `__plugin_call(op_len, payload_len)`: fetches the request with
/// `__plugin_request`, runs the export named by the operation and hands its response
/// to `__plugin_response` (nothing when it is empty), or its error to
/// `__plugin_error`. Returns 1 on success and 0 on failure.
///
/// An operation missing from `exports` fails with `Could not find function "op"`.
///
/// # Safety
///
/// `op_len` and `payload_len` must be the lengths the host passed to `__plugin_call`
/// for the request it is serving: `__plugin_request` writes that many bytes into a
/// buffer sized from them, so other values let it write past the buffer. Call it only
/// as the body of the `__plugin_call` export, with that export's arguments, as
/// [`plugin!`](crate::plugin!) does.
///
/// Calling it from safe code does not compile:
///
/// ```compile_fail,E0133
/// # #![no_std]
/// # #![no_main]
/// fn serve(op_len: i32, payload_len: i32) -> i32 {
///     hookr_guest::dispatch(&[], op_len, payload_len)
/// }
/// ```
pub unsafe fn dispatch(exports: &[Export], op_len: i32, payload_len: i32) -> i32 {
    let mut request = REQUEST.take();
    let mut response = RESPONSE.take();
    let result = serve(exports, op_len, payload_len, &mut request, &mut response);
    let status = match result {
        Ok(()) => {
            if !response.is_empty() {
                // SAFETY: a live buffer and its length; the host copies it during the call.
                unsafe { sys::plugin_response(response.as_ptr(), response.len()) };
            }
            SUCCESS
        }
        Err(e) => {
            let message = e.message();
            // SAFETY: a live string and its length; the host copies it during the call.
            unsafe { sys::plugin_error(message.as_ptr(), message.len()) };
            FAILURE
        }
    };
    REQUEST.set(request);
    RESPONSE.set(response);
    status
}

fn serve(
    exports: &[Export],
    op_len: i32,
    payload_len: i32,
    request: &mut Vec<u8>,
    response: &mut Vec<u8>,
) -> Result<(), Error> {
    let (Ok(op_len), Ok(payload_len)) = (usize::try_from(op_len), usize::try_from(payload_len))
    else {
        return Err(Error::new("negative request length"));
    };
    let total = op_len
        .checked_add(payload_len)
        .ok_or(Error::new("request too large"))?;
    request.clear();
    request
        .try_reserve(total)
        .map_err(|_| Error::new("request does not fit in memory"))?;
    request.resize(total, 0);
    let base = request.as_mut_ptr();
    // SAFETY: `request` holds `op_len + payload_len` initialised bytes, so the host's
    // writes of `op_len` bytes at `base` and `payload_len` bytes right after stay in it,
    // given that these are the lengths of its request (the contract of `dispatch`).
    unsafe { sys::plugin_request(base, base.add(op_len)) };
    let (op, payload) = request.split_at(op_len);
    response.clear();
    match exports
        .iter()
        .find(|export| same_name(export.name.as_bytes(), op))
    {
        Some(export) => (export.handler)(payload, response),
        None => Err(Error::from(not_found(op))),
    }
}

/// `a == b`, compared four bytes at a time: the slice comparison calls `memcmp`,
/// which on wasm32 is a byte loop costing the interpreter a dozen instructions a byte.
/// The bytes past the last whole word are compared as the last four bytes, which
/// overlap the word before; a name shorter than a word is compared byte by byte.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |c: &[u8]| u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    match a.len().checked_sub(4) {
        None => a.iter().zip(b).all(|(x, y)| x == y),
        Some(last) => {
            let mut words = a.chunks_exact(4).zip(b.chunks_exact(4));
            words.all(|(x, y)| word(x) == word(y)) && word(&a[last..]) == word(&b[last..])
        }
    }
}

/// The longest operation name an error message repeats; a longer one is cut, so that
/// a hostile name cannot push the message past the host's error-size limit.
const MAX_NAME_IN_ERROR: usize = 128;

#[cold]
fn not_found(op: &[u8]) -> String {
    // Plain concatenation: `{:?}` would pull Unicode escaping tables into every plugin.
    let cut = op.len() > MAX_NAME_IN_ERROR;
    let mut message = text::lossy(
        "Could not find function \"",
        &op[..op.len().min(MAX_NAME_IN_ERROR)],
    );
    text::push(&mut message, if cut { "…\"" } else { "\"" });
    message
}

/// Declares the functions a plugin exports and defines its `__plugin_call` export.
///
/// Each entry is `bytes "name" => function` for a [`ByteFn`], or
/// `typed "name" => function` for a `fn(I) -> Result<O, Error>` whose `I` is
/// [`Decode`] and `O` is [`Encode`]. Use it once, at the top level of the plugin crate.
///
/// ```no_run
/// # #![no_std]
/// # #![no_main]
/// # extern crate alloc;
/// # use alloc::vec::Vec;
/// hookr_guest::plugin! {
///     bytes "len" => len,
/// }
///
/// fn len(payload: &[u8], out: &mut Vec<u8>) -> Result<(), hookr_guest::Error> {
///     out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
///     Ok(())
/// }
/// ```
///
/// The generated `__plugin_call` is for the host alone: it is an `unsafe fn`, since
/// called with lengths other than the host's it would let the host write past the
/// request buffer, so plugin code cannot call it without `unsafe`:
///
/// ```compile_fail,E0133
/// # #![no_std]
/// # #![no_main]
/// hookr_guest::plugin! {}
///
/// fn call_myself() -> i32 {
///     __plugin_call(4, 1 << 20)
/// }
/// ```
#[macro_export]
macro_rules! plugin {
    ($($kind:ident $name:literal => $function:path),* $(,)?) => {
        static __HOOKR_EXPORTS: &[$crate::Export] = &[
            $($crate::__export!($kind $name => $function)),*
        ];

        /// The hookr entry point: runs the export the host names.
        ///
        /// # Safety
        ///
        /// Only the host calls it, with the lengths of the request it is serving.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn __plugin_call(op_len: i32, payload_len: i32) -> i32 {
            // SAFETY: the arguments are the host's, as `dispatch` requires (this
            // function's own contract).
            unsafe { $crate::dispatch(__HOOKR_EXPORTS, op_len, payload_len) }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export {
    (bytes $name:literal => $function:path) => {
        $crate::Export::bytes($name, $function)
    };
    (typed $name:literal => $function:path) => {
        $crate::Export::bytes($name, |payload, out| {
            $crate::call_typed(payload, out, $function)
        })
    };
}
