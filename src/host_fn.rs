//! Host functions: what a plugin can call through `__host_call`.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;

use hookr_abi::codec::{self, Decode, Encode};

use crate::error::Error;

/// The error a host function hands back to the plugin, which reads it through
/// `__host_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(Cow<'static, str>);

impl HostError {
    /// An error with a fixed message; allocates nothing.
    pub const fn new(message: &'static str) -> Self {
        HostError(Cow::Borrowed(message))
    }

    /// The message the plugin will read.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl From<String> for HostError {
    fn from(s: String) -> Self {
        HostError(Cow::Owned(s))
    }
}

impl From<&'static str> for HostError {
    fn from(s: &'static str) -> Self {
        HostError(Cow::Borrowed(s))
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for HostError {}

/// A byte host function: host state, the request payload, and a cleared buffer to write
/// the response into (its capacity is reused from call to call).
pub type BytesFn<T> = fn(&mut T, &[u8], &mut Vec<u8>) -> Result<(), HostError>;

/// A typed host function: host state and the decoded request; returns the response.
pub type TypedFn<T, In, Out> = fn(&mut T, In) -> Result<Out, HostError>;

/// A boxed host function or call handler registered at run time.
pub type DynFn<T> = Box<dyn FnMut(&mut T, &[u8], &mut Vec<u8>) -> Result<(), HostError> + Send>;

/// A catch-all handler for operations no host function is registered for.
pub type CallHandler<T> = Box<dyn FnMut(&mut T, &str, &[u8], &mut Vec<u8>) -> Result<(), HostError> + Send>;

type Trampoline<T> = fn(fn(), &mut T, &[u8], &mut Vec<u8>) -> Result<(), HostError>;

/// A named host function for a static table.
///
/// Built in `const` context, so firmware can keep its whole table in flash:
///
/// ```
/// use hookr::{HostError, HostFn};
/// use hookr::codec::{Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};
///
/// struct Counter { calls: u32 }
///
/// struct Add { a: i64, b: i64 }
/// impl Decode for Add {
///     fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
///         let (mut a, mut b) = (0, 0);
///         d.fields(&["a", "b"], |d, f| {
///             match f { Some(0) => a = d.int()?, Some(1) => b = d.int()?, _ => d.skip()? }
///             Ok(())
///         })?;
///         Ok(Add { a, b })
///     }
/// }
///
/// fn shout(state: &mut Counter, input: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
///     state.calls += 1;
///     out.extend(input.iter().map(u8::to_ascii_uppercase));
///     Ok(())
/// }
///
/// fn add(state: &mut Counter, req: Add) -> Result<i64, HostError> {
///     state.calls += 1;
///     req.a.checked_add(req.b).ok_or(HostError::new("overflow"))
/// }
///
/// static HOST_FNS: &[HostFn<Counter>] = &[
///     HostFn::bytes("shout", shout),
///     HostFn::typed("add", add),
/// ];
/// # assert_eq!(HOST_FNS[1].name(), "add");
/// ```
pub struct HostFn<T: 'static> {
    name: &'static str,
    kind: Kind<T>,
}

enum Kind<T> {
    Bytes(BytesFn<T>),
    // A typed function, its signature erased, and the one function that knows it.
    Typed(fn(), Trampoline<T>),
}

impl<T> Clone for Kind<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Kind<T> {}

impl<T> HostFn<T> {
    /// A host function that takes and returns raw bytes.
    pub const fn bytes(name: &'static str, f: BytesFn<T>) -> Self {
        HostFn { name, kind: Kind::Bytes(f) }
    }

    /// A host function that takes and returns MessagePack-encoded values.
    ///
    /// A request that does not decode is answered with a host error naming the
    /// operation; the plugin sees it through `__host_error`.
    pub const fn typed<In: Decode, Out: Encode>(name: &'static str, f: TypedFn<T, In, Out>) -> Self {
        // SAFETY: function pointers all have the same size and representation; the
        // pointer is only ever transmuted back to `TypedFn<T, In, Out>`, in
        // `call_typed::<T, In, Out>`, which is paired with it here.
        let erased = unsafe { core::mem::transmute::<TypedFn<T, In, Out>, fn()>(f) };
        HostFn { name, kind: Kind::Typed(erased, call_typed::<T, In, Out>) }
    }

    /// The operation name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    pub(crate) fn call(&self, state: &mut T, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
        match self.kind {
            Kind::Bytes(f) => f(state, payload, out),
            Kind::Typed(f, trampoline) => trampoline(f, state, payload, out),
        }
    }
}

impl<T> fmt::Debug for HostFn<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFn").field("name", &self.name).finish_non_exhaustive()
    }
}

fn call_typed<T, In: Decode, Out: Encode>(
    f: fn(),
    state: &mut T,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), HostError> {
    // SAFETY: `f` was made from a `TypedFn<T, In, Out>` in `HostFn::typed`, the only
    // place that pairs this instance of `call_typed` with a pointer.
    let f = unsafe { core::mem::transmute::<fn(), TypedFn<T, In, Out>>(f) };
    let input: In =
        codec::from_slice(payload).map_err(|e| HostError::from(alloc::format!("cannot decode request: {e}")))?;
    let output = f(state, input)?;
    codec::encode_into(&output, out).map_err(|e| HostError::from(alloc::format!("cannot encode response: {e}")))
}

/// Wraps a typed closure as a byte closure.
pub(crate) fn typed_closure<T, In: Decode, Out: Encode>(
    mut f: impl FnMut(&mut T, In) -> Result<Out, HostError> + Send + 'static,
) -> DynFn<T> {
    Box::new(move |state: &mut T, payload: &[u8], out: &mut Vec<u8>| {
        let input: In =
            codec::from_slice(payload).map_err(|e| HostError::from(alloc::format!("cannot decode request: {e}")))?;
        let output = f(state, input)?;
        codec::encode_into(&output, out).map_err(|e| HostError::from(alloc::format!("cannot encode response: {e}")))
    })
}

enum Entry<T: 'static> {
    Static(&'static HostFn<T>),
    Dyn(Cow<'static, str>, DynFn<T>),
}

impl<T> Entry<T> {
    fn name(&self) -> &str {
        match self {
            Entry::Static(f) => f.name,
            Entry::Dyn(name, _) => name,
        }
    }
}

/// Orders names by length, then bytes: a lookup compares bytes only with the names
/// as long as the one it looks for, so a miss costs a length comparison, not a `memcmp`.
#[inline]
fn name_order(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Every host function a runtime knows, sorted by [`name_order`] for lookup without
/// allocation.
pub(crate) struct HostTable<T: 'static> {
    entries: Vec<Entry<T>>,
    handler: Option<CallHandler<T>>,
}

impl<T> HostTable<T> {
    pub(crate) fn new(
        tables: &[&'static [HostFn<T>]],
        dyns: Vec<(Cow<'static, str>, DynFn<T>)>,
        handler: Option<CallHandler<T>>,
    ) -> Result<Self, Error> {
        let mut entries: Vec<Entry<T>> = tables.iter().flat_map(|t| t.iter().map(Entry::Static)).collect();
        entries.extend(dyns.into_iter().map(|(n, f)| Entry::Dyn(n, f)));
        entries.sort_by(|a, b| name_order(a.name().as_bytes(), b.name().as_bytes()));
        if let Some(w) = entries.windows(2).find(|w| w[0].name() == w[1].name()) {
            let name = w[0].name();
            return Err(Error::Config(alloc::format!("host function `{name}` is registered twice").into()));
        }
        Ok(HostTable { entries, handler })
    }

    /// Runs the operation named `op` (raw guest bytes). Writes the response into `out`.
    pub(crate) fn call(
        &mut self,
        state: &mut T,
        op: &[u8],
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), HostError> {
        let found = self.entries.binary_search_by(|e| name_order(e.name().as_bytes(), op));
        match found {
            Ok(i) => match &mut self.entries[i] {
                Entry::Static(f) => f.call(state, payload, out),
                Entry::Dyn(_, f) => f(state, payload, out),
            },
            Err(_) => match (&mut self.handler, core::str::from_utf8(op)) {
                (Some(handler), Ok(op)) => handler(state, op, payload, out),
                (_, Ok(op)) => {
                    // The name is the guest's: repeat no more of it than a person reads.
                    let short = crate::abi::truncate(op, 128);
                    let more = if short.len() < op.len() { "…" } else { "" };
                    Err(HostError::from(alloc::format!("no handler registered for operation '{short}{more}'")))
                }
                (_, Err(_)) => Err(HostError::new("operation name is not UTF-8")),
            },
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The host side of a runtime with its type erased: the host state and the host
/// functions that take it. The store holds one, so that the store's data, and with it
/// the linker, do not depend on the host state's type: a module's linker is built
/// once and serves runtimes of any host state.
pub(crate) trait Host {
    /// Runs the host operation `op` (see [`HostTable::call`]).
    fn call(&mut self, op: &[u8], payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError>;
    /// The host state.
    fn state(&self) -> &dyn Any;
    /// The host state, mutably.
    fn state_mut(&mut self) -> &mut dyn Any;
    /// The host state, taken out.
    fn into_state(self: Box<Self>) -> Box<dyn Any>;
    /// How many host functions there are.
    fn len(&self) -> usize;
}

/// A host state and its host functions.
pub(crate) struct HostSide<T: 'static> {
    pub(crate) state: T,
    pub(crate) table: HostTable<T>,
}

impl<T: 'static> Host for HostSide<T> {
    #[inline]
    fn call(&mut self, op: &[u8], payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
        self.table.call(&mut self.state, op, payload, out)
    }
    fn state(&self) -> &dyn Any {
        &self.state
    }
    fn state_mut(&mut self) -> &mut dyn Any {
        &mut self.state
    }
    fn into_state(self: Box<Self>) -> Box<dyn Any> {
        Box::new(self.state)
    }
    fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(_: &mut u32, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
        out.extend_from_slice(payload);
        Ok(())
    }

    static TABLE: &[HostFn<u32>] = &[
        HostFn::bytes("b", answer),
        HostFn::bytes("a", answer),
        HostFn::bytes("abc", answer),
        HostFn::bytes("ab", answer),
        HostFn::bytes("zz", answer),
        HostFn::bytes("hello", answer),
        HostFn::bytes("helloByte", answer),
    ];

    #[test]
    fn lookup_finds_every_name_and_only_those() {
        let mut host = HostTable::new(&[TABLE], Vec::new(), None).unwrap();
        let mut out = Vec::new();
        for name in TABLE.iter().map(HostFn::name) {
            out.clear();
            host.call(&mut 0, name.as_bytes(), name.as_bytes(), &mut out).unwrap();
            assert_eq!(out, name.as_bytes());
        }
        for missing in ["", "c", "aa", "abd", "hellp", "helloBytes"] {
            assert!(host.call(&mut 0, missing.as_bytes(), b"", &mut out).is_err(), "{missing}");
        }
    }
}
