//! Host functions: what a plugin can call through `__host_call`.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;

use hookr_abi::codec::{self, Decode, Encode};

use crate::bytes;
use crate::error::Error;
use crate::limits::DecodeBounds;

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

/// A reply longer than the fixed buffer of a [`HostFn::bytes_fixed`] function, or a
/// `heapless::String` of a typed one: with `?`, `out.extend_from_slice(bytes)?`
/// answers the plugin this error.
impl From<heapless::CapacityError> for HostError {
    fn from(_: heapless::CapacityError) -> Self {
        HostError::new("a fixed-capacity buffer of the host function is too small for its reply")
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

/// A byte host function that writes its reply into a buffer of fixed capacity `N`: host
/// state, the request payload, and an empty buffer for the response.
pub type FixedFn<T, const N: usize> = fn(&mut T, &[u8], &mut heapless::Vec<u8, N>) -> Result<(), HostError>;

/// A typed host function: host state and the decoded request; returns the response.
pub type TypedFn<T, In, Out> = fn(&mut T, In) -> Result<Out, HostError>;

/// A boxed host function or call handler registered at run time.
pub type DynFn<T> = Box<dyn FnMut(&mut T, &[u8], &mut Vec<u8>) -> Result<(), HostError> + Send>;

/// A catch-all handler for operations no host function is registered for.
pub type CallHandler<T> = Box<dyn FnMut(&mut T, &str, &[u8], &mut Vec<u8>) -> Result<(), HostError> + Send>;

/// A catch-all handler that also sees the binding and namespace of a waPC guest's call.
pub type HostCallHandler<T> = Box<dyn FnMut(&mut T, HostCall<'_>, &[u8], &mut Vec<u8>) -> Result<(), HostError> + Send>;

/// Where a guest's host call goes: the operation, and the binding and namespace a
/// waPC guest names besides it (both empty in a hookr guest's call).
///
/// What a [`Builder::host_call_handler`](crate::Builder::host_call_handler) receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostCall<'a> {
    /// The waPC binding, or empty.
    pub binding: &'a str,
    /// The waPC namespace, or empty.
    pub namespace: &'a str,
    /// The operation.
    pub operation: &'a str,
}

/// The name a host function closure is registered under: an operation name, which is
/// what a hookr guest calls, or a `(binding, namespace, operation)` triple, which a
/// waPC guest calls.
///
/// ```
/// use hookr::HostFnName;
/// let plain = HostFnName::from("helloByte");
/// let wapc = HostFnName::from(("calc", "math", "add"));
/// assert_eq!((plain.binding(), plain.namespace(), plain.operation()), ("", "", "helloByte"));
/// assert_eq!((wapc.binding(), wapc.namespace(), wapc.operation()), ("calc", "math", "add"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostFnName {
    binding: Cow<'static, str>,
    namespace: Cow<'static, str>,
    operation: Cow<'static, str>,
}

impl HostFnName {
    /// The waPC binding, or empty.
    pub fn binding(&self) -> &str {
        &self.binding
    }

    /// The waPC namespace, or empty.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The operation.
    pub fn operation(&self) -> &str {
        &self.operation
    }
}

impl From<&'static str> for HostFnName {
    fn from(operation: &'static str) -> Self {
        Cow::Borrowed(operation).into()
    }
}

impl From<String> for HostFnName {
    fn from(operation: String) -> Self {
        Cow::<'static, str>::Owned(operation).into()
    }
}

impl From<Cow<'static, str>> for HostFnName {
    fn from(operation: Cow<'static, str>) -> Self {
        HostFnName { binding: Cow::Borrowed(""), namespace: Cow::Borrowed(""), operation }
    }
}

impl<B, N, O> From<(B, N, O)> for HostFnName
where
    B: Into<Cow<'static, str>>,
    N: Into<Cow<'static, str>>,
    O: Into<Cow<'static, str>>,
{
    fn from((binding, namespace, operation): (B, N, O)) -> Self {
        HostFnName { binding: binding.into(), namespace: namespace.into(), operation: operation.into() }
    }
}

type Trampoline<T> = fn(fn(), &mut T, &[u8], &mut Vec<u8>, DecodeBounds) -> Result<(), HostError>;

/// A typed host function registered as a closure, taking raw bytes and the bounds of
/// decoding them.
pub(crate) type TypedDynFn<T> =
    Box<dyn FnMut(&mut T, &[u8], &mut Vec<u8>, DecodeBounds) -> Result<(), HostError> + Send>;

/// A host function registered at run time: on bytes, or typed.
pub(crate) enum DynHostFn<T> {
    Bytes(DynFn<T>),
    Typed(TypedDynFn<T>),
}

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
///     // What a waPC guest calls as `host_call("calc", "math", "add", payload)`.
///     HostFn::typed("add", add).with_binding("calc").with_namespace("math"),
/// ];
/// # assert_eq!(HOST_FNS[1].name(), "add");
/// # assert_eq!((HOST_FNS[2].binding(), HOST_FNS[2].namespace()), ("calc", "math"));
/// ```
///
/// A host function answers to its name, its binding and its namespace together: a
/// hookr guest's calls, and a waPC guest's with an empty binding and namespace, reach
/// those registered without binding or namespace.
pub struct HostFn<T: 'static> {
    name: &'static str,
    binding: &'static str,
    namespace: &'static str,
    kind: Kind<T>,
}

enum Kind<T> {
    Bytes(BytesFn<T>),
    // A typed function, its signature erased, and the one function that knows it: it
    // decodes its request, which the guest pays for first.
    Typed(fn(), Trampoline<T>),
    // A fixed-buffer function, the same way.
    Erased(fn(), Trampoline<T>),
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
        HostFn { name, binding: "", namespace: "", kind: Kind::Bytes(f) }
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
        HostFn { name, binding: "", namespace: "", kind: Kind::Typed(erased, call_typed::<T, In, Out>) }
    }

    /// A host function that takes raw bytes and writes its reply into a buffer of fixed
    /// capacity `N` (a `heapless::Vec<u8, N>`, on the stack while it runs): its reply
    /// never needs an allocation, and one longer than `N` bytes cannot be written. With
    /// `?`, a write that does not fit answers the plugin a host error
    /// ([`HostError`] converts from `heapless::CapacityError`). The runtime passes the
    /// reply on through a buffer reserved on the first call, which it keeps while `N`
    /// is at most [`Limits::retain_buffer`](crate::Limits::retain_buffer).
    ///
    /// ```
    /// use hookr::{heapless, HostError, HostFn};
    ///
    /// fn greet(_: &mut (), name: &[u8], out: &mut heapless::Vec<u8, 32>) -> Result<(), HostError> {
    ///     out.extend_from_slice(b"Hello, ")?;
    ///     out.extend_from_slice(name)?; // a name of more than 25 bytes is a host error
    ///     Ok(())
    /// }
    /// static HOST_FNS: &[HostFn<()>] = &[HostFn::bytes_fixed("helloByte", greet)];
    /// # assert_eq!(HOST_FNS[0].name(), "helloByte");
    /// ```
    pub const fn bytes_fixed<const N: usize>(name: &'static str, f: FixedFn<T, N>) -> Self {
        // SAFETY: as in `typed`: only `call_fixed::<T, N>`, paired with it here,
        // transmutes it back, to the same type.
        let erased = unsafe { core::mem::transmute::<FixedFn<T, N>, fn()>(f) };
        HostFn { name, binding: "", namespace: "", kind: Kind::Erased(erased, call_fixed::<T, N>) }
    }

    /// This host function under the waPC binding `binding` (default empty), which a
    /// waPC guest's `__host_call` names first.
    pub const fn with_binding(mut self, binding: &'static str) -> Self {
        self.binding = binding;
        self
    }

    /// This host function in the waPC namespace `namespace` (default empty), which a
    /// waPC guest's `__host_call` names after the binding.
    pub const fn with_namespace(mut self, namespace: &'static str) -> Self {
        self.namespace = namespace;
        self
    }

    /// The operation name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The waPC binding (empty unless set with [`with_binding`](Self::with_binding)).
    pub const fn binding(&self) -> &'static str {
        self.binding
    }

    /// The waPC namespace (empty unless set with [`with_namespace`](Self::with_namespace)).
    pub const fn namespace(&self) -> &'static str {
        self.namespace
    }

    /// Where calls to it go: (binding, namespace, operation).
    fn key(&self) -> Key<'_> {
        [self.binding.as_bytes(), self.namespace.as_bytes(), self.name.as_bytes()]
    }

    /// Whether a hookr guest can call it: it has no binding and no namespace.
    fn is_plain(&self) -> bool {
        self.binding.is_empty() && self.namespace.is_empty()
    }

    pub(crate) fn call(
        &self,
        state: &mut T,
        payload: &[u8],
        out: &mut Vec<u8>,
        bounds: DecodeBounds,
        pay: Pay<'_>,
    ) -> Result<(), HostError> {
        match self.kind {
            Kind::Bytes(f) => f(state, payload, out),
            Kind::Typed(f, trampoline) => {
                pay_to_decode(pay, payload)?;
                trampoline(f, state, payload, out, bounds)
            }
            Kind::Erased(f, trampoline) => trampoline(f, state, payload, out, bounds),
        }
    }
}

impl<T> fmt::Debug for HostFn<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("HostFn");
        d.field("name", &self.name);
        if !self.binding.is_empty() || !self.namespace.is_empty() {
            d.field("binding", &self.binding).field("namespace", &self.namespace);
        }
        d.finish_non_exhaustive()
    }
}

/// Asked, before a typed host function decodes its request, to pay for the request's
/// `n` bytes ([`decode_cost`](crate::meter::decode_cost)): false when the call's fuel
/// cannot, and the host function is then not run.
pub(crate) type Pay<'a> = &'a mut dyn FnMut(usize) -> bool;

/// Pays for decoding `payload`, or fails (the caller knows why: its `pay` said no).
fn pay_to_decode(pay: Pay<'_>, payload: &[u8]) -> Result<(), HostError> {
    if pay(payload.len()) {
        Ok(())
    } else {
        Err(HostError::new("out of fuel"))
    }
}

fn call_typed<T, In: Decode, Out: Encode>(
    f: fn(),
    state: &mut T,
    payload: &[u8],
    out: &mut Vec<u8>,
    bounds: DecodeBounds,
) -> Result<(), HostError> {
    // SAFETY: `f` was made from a `TypedFn<T, In, Out>` in `HostFn::typed`, the only
    // place that pairs this instance of `call_typed` with a pointer.
    let f = unsafe { core::mem::transmute::<fn(), TypedFn<T, In, Out>>(f) };
    let output = f(state, decode_request(payload, bounds)?)?;
    encode_response(&output, out)
}

/// A typed host function's request, decoded within `bounds`.
fn decode_request<In: Decode>(payload: &[u8], bounds: DecodeBounds) -> Result<In, HostError> {
    bounds.decode(payload).map_err(|e| HostError::from(alloc::format!("cannot decode request: {e}")))
}

/// A typed host function's response, encoded into `out`.
fn encode_response<Out: Encode>(output: &Out, out: &mut Vec<u8>) -> Result<(), HostError> {
    codec::encode_into(output, out).map_err(|e| HostError::from(alloc::format!("cannot encode response: {e}")))
}

fn call_fixed<T, const N: usize>(
    f: fn(),
    state: &mut T,
    payload: &[u8],
    out: &mut Vec<u8>,
    _: DecodeBounds,
) -> Result<(), HostError> {
    // SAFETY: `f` was made from a `FixedFn<T, N>` in `HostFn::bytes_fixed`, the only
    // place that pairs this instance of `call_fixed` with a pointer.
    let f = unsafe { core::mem::transmute::<fn(), FixedFn<T, N>>(f) };
    let mut reply = heapless::Vec::<u8, N>::new();
    f(state, payload, &mut reply)?;
    // `out` is the runtime's reply buffer, empty: room for `N` bytes, reserved the
    // first time, serves every reply of this function.
    out.reserve(N);
    out.extend_from_slice(&reply);
    Ok(())
}

/// Wraps a typed closure as a byte closure.
pub(crate) fn typed_closure<T, In: Decode, Out: Encode>(
    mut f: impl FnMut(&mut T, In) -> Result<Out, HostError> + Send + 'static,
) -> DynHostFn<T> {
    DynHostFn::Typed(Box::new(move |state: &mut T, payload: &[u8], out: &mut Vec<u8>, bounds: DecodeBounds| {
        let output = f(state, decode_request(payload, bounds)?)?;
        encode_response(&output, out)
    }))
}

enum Entry<T: 'static> {
    Static(&'static HostFn<T>),
    Dyn(HostFnName, DynHostFn<T>),
}

/// Where a host call goes, as the guest's bytes: (binding, namespace, operation). A
/// hookr guest's binding and namespace are empty.
pub(crate) type Key<'a> = [&'a [u8]; 3];

impl<T> Entry<T> {
    fn key(&self) -> Key<'_> {
        match self {
            Entry::Static(f) => f.key(),
            Entry::Dyn(n, _) => [n.binding.as_bytes(), n.namespace.as_bytes(), n.operation.as_bytes()],
        }
    }

    /// The operation name alone, which is all a lookup among the plain entries compares.
    #[inline]
    fn name(&self) -> &[u8] {
        match self {
            Entry::Static(f) => f.name.as_bytes(),
            Entry::Dyn(n, _) => n.operation.as_bytes(),
        }
    }
}

/// Orders names by length, then bytes: a lookup compares bytes only with the names
/// as long as the one it looks for, so a miss costs a length comparison, not a `memcmp`.
#[inline]
fn name_order(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| bytes::cmp(a, b))
}

/// Orders (binding, namespace, operation) keys by binding, then namespace, then
/// operation, each by [`name_order`]: the keys with an empty binding and namespace come
/// first.
fn key_order(a: Key<'_>, b: Key<'_>) -> core::cmp::Ordering {
    name_order(a[0], b[0]).then_with(|| name_order(a[1], b[1])).then_with(|| name_order(a[2], b[2]))
}

/// The catch-all for calls no host function answers.
pub(crate) enum Handler<T> {
    /// Calls without binding and namespace; others find nothing.
    Plain(CallHandler<T>),
    /// Every call.
    Addressed(HostCallHandler<T>),
}

/// Every host function a runtime knows, and the handler for calls none of them answers.
pub(crate) struct HostTable<T: 'static> {
    entries: Entries<T>,
    handler: Option<Handler<T>>,
    /// The handler answers the calls it takes before any host function is looked up
    /// (the Go hookr's order), not only those nothing else answers.
    handler_first: bool,
}

/// At most this many host functions in one static table, and none else, are searched
/// one by one where they are: no list is gathered and sorted when a runtime is built.
const SMALL_TABLE: usize = 8;

/// Where the host functions are, and how a call finds one.
enum Entries<T: 'static> {
    /// One static table of at most [`SMALL_TABLE`] functions, in the host's order.
    Small(&'static [HostFn<T>]),
    /// Every function, sorted by [`key_order`] for lookup without allocation. Those
    /// without binding and namespace, the only ones a hookr guest can call, are the
    /// first `plain`: a hookr guest's call searches them alone, by name, as if the
    /// others were not there.
    Sorted { entries: Vec<Entry<T>>, plain: usize },
}

impl<T> HostTable<T> {
    pub(crate) fn new(
        tables: &[&'static [HostFn<T>]],
        dyns: Vec<(HostFnName, DynHostFn<T>)>,
        handler: Option<Handler<T>>,
        handler_first: bool,
    ) -> Result<Self, Error> {
        if let ([table], true) = (tables, dyns.is_empty()) {
            if table.len() <= SMALL_TABLE {
                for (i, f) in table.iter().enumerate() {
                    if table[i + 1..].iter().any(|g| key_order(f.key(), g.key()).is_eq()) {
                        return Err(registered_twice(f.key()));
                    }
                }
                return Ok(HostTable { entries: Entries::Small(table), handler, handler_first });
            }
        }
        let mut entries: Vec<Entry<T>> = tables.iter().flat_map(|t| t.iter().map(Entry::Static)).collect();
        entries.extend(dyns.into_iter().map(|(n, f)| Entry::Dyn(n, f)));
        entries.sort_by(|a, b| key_order(a.key(), b.key()));
        if let Some(w) = entries.windows(2).find(|w| key_order(w[0].key(), w[1].key()).is_eq()) {
            return Err(registered_twice(w[0].key()));
        }
        let plain = entries.iter().take_while(|e| matches!(e.key(), [b, n, _] if b.is_empty() && n.is_empty())).count();
        Ok(HostTable { entries: Entries::Sorted { entries, plain }, handler, handler_first })
    }

    /// Runs the host function at `key`, raw guest bytes, or else the handler. Writes
    /// the response into `out`; a typed host function decodes the request within
    /// `bounds`, once `pay` has paid for it.
    pub(crate) fn call_paying(
        &mut self,
        state: &mut T,
        key: Key<'_>,
        payload: &[u8],
        out: &mut Vec<u8>,
        bounds: DecodeBounds,
        pay: Pay<'_>,
    ) -> Result<(), HostError> {
        let plain = key[0].is_empty() && key[1].is_empty();
        if self.handler_first && self.handler_takes(plain) {
            return self.unregistered(state, key, plain, payload, out);
        }
        match &mut self.entries {
            Entries::Small(table) => {
                // The operation name first: it tells most functions apart by its length.
                let named = |f: &&HostFn<T>| bytes::eq(f.name.as_bytes(), key[2]);
                let found = if plain {
                    table.iter().find(|f| named(f) && f.is_plain())
                } else {
                    table.iter().find(|f| {
                        named(f) && bytes::eq(f.binding.as_bytes(), key[0]) && bytes::eq(f.namespace.as_bytes(), key[1])
                    })
                };
                if let Some(f) = found {
                    return f.call(state, payload, out, bounds, pay);
                }
            }
            Entries::Sorted { entries, plain: n } => {
                let found = if plain {
                    entries[..*n].binary_search_by(|e| name_order(e.name(), key[2]))
                } else {
                    entries[*n..].binary_search_by(|e| key_order(e.key(), key)).map(|i| i + *n)
                };
                if let Ok(i) = found {
                    return match &mut entries[i] {
                        Entry::Static(f) => f.call(state, payload, out, bounds, pay),
                        Entry::Dyn(_, DynHostFn::Bytes(f)) => f(state, payload, out),
                        Entry::Dyn(_, DynHostFn::Typed(f)) => {
                            pay_to_decode(pay, payload)?;
                            f(state, payload, out, bounds)
                        }
                    };
                }
            }
        }
        self.unregistered(state, key, plain, payload, out)
    }

    /// Whether the handler takes a call: an addressed one takes every call, a plain
    /// one those without binding and namespace.
    fn handler_takes(&self, plain: bool) -> bool {
        match self.handler {
            Some(Handler::Addressed(_)) => true,
            Some(Handler::Plain(_)) => plain,
            None => false,
        }
    }

    /// Hands a call no host function answers (or, with `handler_first`, any the
    /// handler takes) to the handler, or answers that nothing is registered for it.
    /// `plain`: the call names no binding and no namespace.
    fn unregistered(
        &mut self,
        state: &mut T,
        key: Key<'_>,
        plain: bool,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), HostError> {
        let [Ok(binding), Ok(namespace), Ok(operation)] = key.map(core::str::from_utf8) else {
            return Err(HostError::new("operation name, binding or namespace is not UTF-8"));
        };
        let call = HostCall { binding, namespace, operation };
        match &mut self.handler {
            Some(Handler::Addressed(handler)) => handler(state, call, payload, out),
            Some(Handler::Plain(handler)) if plain => handler(state, operation, payload, out),
            _ => Err(not_registered(call)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.entries {
            Entries::Small(table) => table.len(),
            Entries::Sorted { entries, .. } => entries.len(),
        }
    }
}

/// The configuration error for a key given to two host functions.
#[cold]
fn registered_twice(key: Key<'_>) -> Error {
    let [binding, namespace, name] = key.map(String::from_utf8_lossy);
    let at = if binding.is_empty() && namespace.is_empty() {
        String::new()
    } else {
        alloc::format!(" (binding `{binding}`, namespace `{namespace}`)")
    };
    Error::Config(alloc::format!("host function `{name}`{at} is registered twice").into())
}

/// The host error for a call nothing answers. The names are the guest's: it repeats
/// no more of each than a person reads.
fn not_registered(call: HostCall<'_>) -> HostError {
    let short = |s: &str| {
        let cut = crate::abi::truncate(s, 128);
        alloc::format!("{cut}{}", if cut.len() < s.len() { "…" } else { "" })
    };
    let op = short(call.operation);
    HostError::from(if call.binding.is_empty() && call.namespace.is_empty() {
        alloc::format!("no handler registered for operation '{op}'")
    } else {
        alloc::format!(
            "no handler registered for operation '{op}' (binding '{}', namespace '{}')",
            short(call.binding),
            short(call.namespace)
        )
    })
}

/// The host side of a runtime with its type erased: the host state and the host
/// functions that take it. The store holds one, so that the store's data, and with it
/// the host imports, do not depend on the host state's type: a module's imports are
/// resolved once and serve runtimes of any host state.
pub(crate) trait Host: Any {
    /// Runs the host function at `key` (see [`HostTable::call_paying`]).
    fn call(
        &mut self,
        key: Key<'_>,
        payload: &[u8],
        out: &mut Vec<u8>,
        bounds: DecodeBounds,
        pay: Pay<'_>,
    ) -> Result<(), HostError>;
    /// The host state.
    fn state(&self) -> &dyn Any;
    /// The host state, mutably.
    fn state_mut(&mut self) -> &mut dyn Any;
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
    fn call(
        &mut self,
        key: Key<'_>,
        payload: &[u8],
        out: &mut Vec<u8>,
        bounds: DecodeBounds,
        pay: Pay<'_>,
    ) -> Result<(), HostError> {
        self.table.call_paying(&mut self.state, key, payload, out, bounds, pay)
    }
    fn state(&self) -> &dyn Any {
        &self.state
    }
    fn state_mut(&mut self) -> &mut dyn Any {
        &mut self.state
    }
    fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the host function at `key`, as a runtime would with fuel to pay for it.
    fn call(host: &mut HostTable<u32>, key: Key<'_>, payload: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
        host.call_paying(&mut 0, key, payload, out, DecodeBounds::default(), &mut |_| true)
    }

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

    /// Calls each function of `table` by its name: `answer` echoes the payload.
    fn answers_each_by_name(host: &mut HostTable<u32>, table: &[HostFn<u32>]) {
        let mut out = Vec::new();
        for name in table.iter().map(HostFn::name) {
            out.clear();
            call(host, [b"", b"", name.as_bytes()], name.as_bytes(), &mut out).unwrap();
            assert_eq!(out, name.as_bytes());
        }
    }

    #[test]
    fn lookup_finds_every_name_and_only_those() {
        // One small table is searched where it is; two tables are gathered and sorted.
        for tables in [&[TABLE][..], &[TABLE, ADDRESSED]] {
            let mut host = HostTable::new(tables, Vec::new(), None, false).unwrap();
            assert_eq!(matches!(host.entries, Entries::Small(_)), tables.len() == 1);
            answers_each_by_name(&mut host, TABLE);
            let mut out = Vec::new();
            for missing in ["", "c", "aa", "abd", "hellp", "helloBytes", "only_addressed"] {
                assert!(call(&mut host, [b"", b"", missing.as_bytes()], b"", &mut out).is_err(), "{missing}");
            }
        }
    }

    #[test]
    fn a_small_table_finds_addressed_functions_by_their_whole_key() {
        let mut host = HostTable::new(&[ADDRESSED], Vec::new(), None, false).unwrap();
        assert!(matches!(host.entries, Entries::Small(_)));
        let mut call = |b: &str, n: &str, op: &str| {
            let mut out = Vec::new();
            call(&mut host, [b.as_bytes(), n.as_bytes(), op.as_bytes()], b"", &mut out).map(|()| out)
        };
        for (b, n, op) in
            [("x", "", "a"), ("", "x", "a"), ("x", "y", "a"), ("bb", "", "only_addressed"), ("x", "y", "b")]
        {
            assert_eq!(call(b, n, op).unwrap(), b"tagged", "{b} {n} {op}");
        }
        for (b, n, op) in [("", "", "a"), ("x", "y", "c"), ("y", "x", "a"), ("bb", "", "a"), ("", "", "only_addressed")]
        {
            assert!(call(b, n, op).is_err(), "{b} {n} {op}");
        }
    }

    #[test]
    fn a_table_past_the_small_size_is_sorted() {
        static NINE: &[HostFn<u32>] = &[
            HostFn::bytes("i", answer),
            HostFn::bytes("h", answer),
            HostFn::bytes("g", answer),
            HostFn::bytes("f", answer),
            HostFn::bytes("e", answer),
            HostFn::bytes("d", answer),
            HostFn::bytes("c", answer),
            HostFn::bytes("b", answer),
            HostFn::bytes("a", answer),
        ];
        let mut host = HostTable::new(&[NINE], Vec::new(), None, false).unwrap();
        assert!(matches!(host.entries, Entries::Sorted { plain: 9, .. }));
        answers_each_by_name(&mut host, NINE);
    }

    fn tagged(_: &mut u32, _: &[u8], out: &mut Vec<u8>) -> Result<(), HostError> {
        out.extend_from_slice(b"tagged");
        Ok(())
    }

    static ADDRESSED: &[HostFn<u32>] = &[
        HostFn::bytes("a", tagged).with_binding("x"),
        HostFn::bytes("a", tagged).with_namespace("x"),
        HostFn::bytes("a", tagged).with_binding("x").with_namespace("y"),
        HostFn::bytes("only_addressed", tagged).with_binding("bb").with_namespace(""),
        HostFn::bytes("b", tagged).with_binding("x").with_namespace("y"),
    ];

    #[test]
    fn lookup_with_binding_and_namespace_finds_the_whole_key() {
        let dyns: Vec<(HostFnName, DynHostFn<u32>)> = alloc::vec![(
            ("x", "z", "a").into(),
            DynHostFn::Bytes(Box::new(|_: &mut u32, _: &[u8], out: &mut Vec<u8>| {
                out.extend_from_slice(b"dyn");
                Ok(())
            })),
        )];
        let mut host = HostTable::new(&[TABLE, ADDRESSED], dyns, None, false).unwrap();
        assert!(matches!(host.entries, Entries::Sorted { plain, .. } if plain == TABLE.len()));
        let mut call = |b: &str, n: &str, op: &str| {
            let mut out = Vec::new();
            call(&mut host, [b.as_bytes(), n.as_bytes(), op.as_bytes()], b"plain", &mut out).map(|()| out)
        };
        for (b, n, op) in
            [("x", "", "a"), ("", "x", "a"), ("x", "y", "a"), ("bb", "", "only_addressed"), ("x", "y", "b")]
        {
            assert_eq!(call(b, n, op).unwrap(), b"tagged", "{b} {n} {op}");
        }
        assert_eq!(call("", "", "a").unwrap(), b"plain");
        assert_eq!(call("x", "z", "a").unwrap(), b"dyn");
        for (b, n, op) in [("x", "y", "c"), ("y", "x", "a"), ("x", "yy", "a"), ("bb", "", "a")] {
            let err = call(b, n, op).unwrap_err();
            let want = alloc::format!("no handler registered for operation '{op}' (binding '{b}', namespace '{n}')");
            assert_eq!(err.message(), want);
        }
    }

    #[test]
    fn the_same_key_twice_is_refused_and_other_keys_are_not() {
        static TWICE: &[HostFn<u32>] = &[
            HostFn::bytes("a", tagged).with_binding("x").with_namespace("y"),
            HostFn::bytes("a", answer).with_binding("x").with_namespace("y"),
        ];
        // Found alone in a small table, and among others gathered and sorted.
        for tables in [&[TWICE][..], &[TABLE, TWICE]] {
            let Err(err) = HostTable::new(tables, Vec::new(), None, false) else { panic!("accepted twice") };
            assert_eq!(
                alloc::format!("{err}"),
                "invalid configuration: host function `a` (binding `x`, namespace `y`) is registered twice"
            );
        }
        static PLAIN_TWICE: &[HostFn<u32>] =
            &[HostFn::bytes("p", answer), HostFn::bytes("q", answer), HostFn::bytes("p", tagged)];
        let Err(err) = HostTable::new(&[PLAIN_TWICE], Vec::new(), None, false) else { panic!("accepted twice") };
        assert_eq!(alloc::format!("{err}"), "invalid configuration: host function `p` is registered twice");
        assert!(HostTable::new(&[TABLE, ADDRESSED], Vec::new(), None, false).is_ok());
    }

    #[test]
    fn a_plain_handler_sees_plain_calls_and_an_addressed_one_every_call() {
        let plain: CallHandler<u32> = Box::new(|_, op, _, out| {
            out.extend_from_slice(op.as_bytes());
            Ok(())
        });
        let mut host = HostTable::new(&[], Vec::new(), Some(Handler::Plain(plain)), false).unwrap();
        let mut out = Vec::new();
        call(&mut host, [b"", b"", b"op"], b"", &mut out).unwrap();
        assert_eq!(out, b"op");
        let err = call(&mut host, [b"b", b"n", b"op"], b"", &mut out).unwrap_err();
        assert_eq!(err.message(), "no handler registered for operation 'op' (binding 'b', namespace 'n')");

        let addressed: HostCallHandler<u32> = Box::new(|_, call, _, out| {
            out.extend_from_slice(alloc::format!("{}/{}/{}", call.binding, call.namespace, call.operation).as_bytes());
            Ok(())
        });
        let mut host = HostTable::new(&[], Vec::new(), Some(Handler::Addressed(addressed)), false).unwrap();
        for (b, n, want) in [("", "", "//op"), ("b", "n", "b/n/op")] {
            out.clear();
            call(&mut host, [b.as_bytes(), n.as_bytes(), b"op"], b"", &mut out).unwrap();
            assert_eq!(out, want.as_bytes());
        }
        let err = call(&mut host, [b"\xff", b"", b"op"], b"", &mut out).unwrap_err();
        assert_eq!(err.message(), "operation name, binding or namespace is not UTF-8");
    }
}
