//! The runtime: one instantiated plugin, its host state, and the calls into it.

use alloc::string::String;
use alloc::vec::Vec;

use alloc::boxed::Box;
use core::any::Any;
use core::marker::PhantomData;
use core::ptr::NonNull;
use hookr_abi::codec::{self, Decode, Encode};
use hookr_abi::{self as names};

use wasmi::{Memory, Store, TypedFunc};

use core::task::Poll;

use crate::chunk;
use crate::error::Error;
use crate::error_text;
use crate::host_fn::{Host, HostSide};
use crate::io::Logger;
use crate::limits::{DecodeBounds, Limiter, Limits};
use crate::meter::{Meter, Usage};
use crate::module::Module;
use crate::output::Output;
use crate::sliced::{self, InitStop, SlicedCall, Watch, Watching};
use crate::transcript::{error_kind, Outcome, Tape};
use crate::wasi::Io;

/// The call under way: the operation name and payload the host lends to
/// `__plugin_request` (waPC: `__guest_request`), and the caller's output that
/// `__plugin_response` (`__guest_response`) writes into, for the duration of one call.
pub(crate) struct Frame {
    op: *const u8,
    op_len: usize,
    payload: *const u8,
    payload_len: usize,
    /// The caller's output, its lifetime erased; `None` outside a call.
    out: Option<NonNull<dyn Output>>,
    /// The length of a response that did not fit `out`, and `out`'s limit.
    overflow: Option<(usize, usize)>,
}

// SAFETY: the pointers are set only by `Runtime::begin`, whose callers keep both
// slices and the output borrowed until `Runtime::end` clears them (see `Frame::get`).
// Moving a runtime to another thread between calls moves no live borrow.
unsafe impl Send for Frame {}

impl Frame {
    const EMPTY: Frame = Frame {
        op: NonNull::<u8>::dangling().as_ptr(),
        op_len: 0,
        payload: NonNull::<u8>::dangling().as_ptr(),
        payload_len: 0,
        out: None,
        overflow: None,
    };

    /// The caller's output: the response of the call under way goes there. `None`
    /// while an initialiser runs, whose response goes nowhere.
    #[inline]
    pub(crate) fn out(&mut self) -> Option<&mut dyn Output> {
        // SAFETY: set by `Runtime::begin` from an output its caller keeps mutably
        // borrowed, and uses through nothing else, until `Runtime::end` takes it back
        // (`invoke_into` within its body, a `SlicedCall` for its life, holding only
        // this pointer). A leaked `SlicedCall` leaves it stale, but the next call and
        // every (re)instantiation reset it before any guest code runs, as for `get`.
        self.out.map(|mut out| unsafe { out.as_mut() })
    }

    /// Puts the guest's response into the caller's output, or notes that it does not
    /// fit there (and leaves the output empty): the call then fails when it ends.
    #[inline]
    pub(crate) fn respond(&mut self, bytes: &[u8]) {
        let Some(out) = self.out() else { return };
        self.overflow = match out.replace(bytes) {
            Ok(()) => None,
            Err(_) => Some((bytes.len(), out.limit().unwrap_or(0))),
        };
    }

    /// The operation name and payload of the call under way (empty outside a call).
    #[inline]
    pub(crate) fn get(&self) -> (&[u8], &[u8]) {
        // SAFETY: either dangling with length 0 (a valid empty slice), or set by
        // `Runtime::begin` from slices its caller keeps borrowed until `Runtime::end`
        // (`invoke_into` within its body, a `SlicedCall` for its life). Only
        // `__plugin_request` / `__guest_request` reads the frame, and guest code runs
        // only inside such a call or in initialisers. A leaked `SlicedCall` leaves a
        // stale frame, but the next call and every (re)instantiation reset it before
        // any guest code runs.
        unsafe {
            (
                core::slice::from_raw_parts(self.op, self.op_len),
                core::slice::from_raw_parts(self.payload, self.payload_len),
            )
        }
    }
}

/// Everything the host imports reach: the store's data, in one allocation of its own,
/// so that the store itself stays small. It does not depend on the host state's type
/// (the host side is a [`Host`], last, unsized), so a module's imports, resolved once,
/// serve every runtime made from it.
pub(crate) type Ctx = CtxOf<ErasedHost<dyn Host>>;

/// A store's data: its context, boxed.
pub(crate) type CtxBox = Box<Ctx>;

/// The context of a `Runtime<T>` before its host side's type is erased.
pub(crate) type TypedCtx<T> = CtxOf<ErasedHost<HostSide<T>>>;

/// The context with its host side `H`.
pub(crate) struct CtxOf<H: ?Sized> {
    pub(crate) frame: Frame,
    pub(crate) plugin_error: Vec<u8>,
    /// The length of the message the guest handed to `__plugin_error` in this call
    /// (`plugin_error` holds at most `max_error` bytes of it), or `None`.
    pub(crate) plugin_error_len: Option<usize>,
    pub(crate) host_response: Vec<u8>,
    pub(crate) host_error: Vec<u8>,
    /// Where `fd_write` gathers the buffers of one write.
    pub(crate) scratch: Vec<u8>,
    pub(crate) logger: Logger,
    pub(crate) io: Io,
    pub(crate) limits: Limits,
    pub(crate) limiter: Limiter,
    pub(crate) memory: Option<Memory>,
    pub(crate) meter: Meter,
    /// Recording a transcript, replaying one, or neither.
    pub(crate) tape: Tape,
    /// When the call under way must end, if it has a timeout: a WASI wait stops there.
    #[cfg(feature = "std")]
    pub(crate) deadline: Option<std::time::Instant>,
    /// The host state and its host functions.
    pub(crate) host: H,
}

impl Ctx {
    /// The context of a runtime whose host side is `host`, its type not yet erased (see
    /// [`Runtime::new`]).
    pub(crate) fn boxed<T: 'static>(
        host: HostSide<T>,
        logger: Logger,
        io: Io,
        limits: Limits,
        tape: Tape,
    ) -> Box<TypedCtx<T>> {
        let limiter = Limiter::new(&limits);
        Box::new(CtxOf {
            frame: Frame::EMPTY,
            plugin_error: Vec::new(),
            plugin_error_len: None,
            host_response: Vec::new(),
            host_error: Vec::new(),
            scratch: Vec::new(),
            logger,
            io,
            meter: Meter::new(limits.fuel.is_some()),
            limits,
            limiter,
            memory: None,
            tape,
            #[cfg(feature = "std")]
            deadline: None,
            host: ErasedHost(host),
        })
    }

    /// Forgets everything of the last call: nothing of it is visible to the next,
    /// and a buffer grown past [`Limits::retain_buffer`] is freed.
    fn clear_call_state(&mut self) {
        let keep = self.limits.retain_buffer;
        for buf in [&mut self.plugin_error, &mut self.host_response, &mut self.host_error, &mut self.scratch] {
            release(buf, keep);
        }
        self.plugin_error_len = None;
    }
}

/// `out` as the frame holds it: its lifetime erased, which [`Frame::out`] makes up for.
fn erase<'a>(out: &'a mut (dyn Output + 'a)) -> NonNull<dyn Output> {
    let out: NonNull<dyn Output + 'a> = NonNull::from(out);
    // SAFETY: only the lifetime bound of the trait object changes; `Frame::out` says
    // how long the pointer is used.
    unsafe { core::mem::transmute::<NonNull<dyn Output + 'a>, NonNull<dyn Output + 'static>>(out) }
}

/// An error of instantiation, as an [`Error::Init`] of the start section when the
/// module's start function ran and failed (out of fuel, a trap, a failed import): not
/// when instantiating failed before it (a memory over the limit, a data segment out of
/// bounds).
fn start_failure(start_section: bool, e: Error) -> Error {
    use wasmi::TrapCode::{MemoryOutOfBounds, TableOutOfBounds};
    match e {
        Error::MemoryLimit(_) | Error::Trap(MemoryOutOfBounds | TableOutOfBounds) => e,
        e if start_section => Error::Init { name: "the start section", source: Box::new(e) },
        e => e,
    }
}

/// Empties `buf`, and frees it when its capacity is over `keep` bytes.
pub(crate) fn release(buf: &mut Vec<u8>, keep: usize) {
    if buf.capacity() > keep {
        *buf = Vec::new();
    } else {
        buf.clear();
    }
}

/// The plugin's entry, `__plugin_call` or `__guest_call(op_len, payload_len) -> status`.
pub(crate) type PluginCall = TypedFunc<(i32, i32), i32>;

/// The parts of a live instance that every call uses, resolved once.
struct Live {
    memory: Memory,
    plugin_call: PluginCall,
}

/// A loaded, instantiated plugin and the host state its host functions see.
///
/// Built with [`Runtime::builder`]. Calls take `&mut self`: a host function receives
/// only the host state, never the runtime, so a plugin cannot re-enter itself. A host
/// that shares its runtime behind a lock on purpose should take that lock with
/// `try_lock` inside host functions and answer a [`HostError`](crate::HostError) when
/// it is held: the call under way holds it.
///
/// Every call is bounded: by its fuel budget (unless the runtime is
/// [unmetered](crate::Builder::unmetered)), by a [timeout](crate::Builder::timeout)
/// and a [cancel handle](crate::CancelHandle) when given, and by the sizes in
/// [`Limits`]. A call can also be run a slice at a time ([`Runtime::start_sliced`]).
///
/// After a call fails with a trap or an exhausted limit, or is abandoned, the runtime
/// puts the plugin back into its state right after initialisation (it instantiates
/// the compiled module again and reruns its initialisers), so the next call behaves as
/// if the failed one never happened. The host state is kept.
pub struct Runtime<T: 'static> {
    // `None` only while `reinstantiate` swaps stores (see `POISONED`).
    store: Option<Box<Store<CtxBox>>>,
    live: Option<Live>,
    module: Module,
    /// The host state's type (the store holds the state itself, type-erased), which
    /// also makes a runtime `Send` exactly when its state is (see `ErasedHost`).
    state: PhantomData<T>,
    request: Vec<u8>,
    reply: Vec<u8>,
    /// Plugin errors leave their text here, not in the error value
    /// ([`Builder::keep_error_texts`](crate::Builder::keep_error_texts)).
    keep_error_texts: bool,
    /// The text of the last call's plugin error, when `keep_error_texts`; its capacity
    /// is reserved once and never grows.
    error_text: String,
    /// The instance must be replaced before the next call: a call failed, or one began
    /// and never ended (a [`SlicedCall`] was leaked, or a panic unwound out of a call).
    needs_reset: bool,
    last_call: Usage,
    /// Whether the last call failed (it ran, and ended in an error).
    last_failed: bool,
    pub(crate) watch: Watch,
}

// `Runtime::new` erases the type of a `HostSide<T>` into the store of a `Runtime<T>`, and
// nothing replaces it: its state is a `T`.
const WRONG_STATE: &str = "the host state is not of the runtime's type";

/// The host side of a context: a `HostSide<T>` when it is made, `dyn Host` in the store.
pub(crate) struct ErasedHost<H: ?Sized>(H);

// SAFETY: an `ErasedHost<dyn Host>` is only ever in the store of a `Runtime<T>`, and
// holds that runtime's `HostSide<T>` (see `WRONG_STATE`): host functions that are `fn`
// pointers or `Send` closures, and a `T`, so it is `Send` when `T` is (`assert_send`
// checks that). A `Runtime<T>` is `Send` only when `T` is, through its `PhantomData<T>`.
unsafe impl Send for ErasedHost<dyn Host> {}

impl core::ops::Deref for ErasedHost<dyn Host> {
    type Target = dyn Host;
    fn deref(&self) -> &(dyn Host + 'static) {
        &self.0
    }
}

impl core::ops::DerefMut for ErasedHost<dyn Host> {
    fn deref_mut(&mut self) -> &mut (dyn Host + 'static) {
        &mut self.0
    }
}

#[allow(dead_code)]
fn assert_send<T: Send + 'static>() {
    fn send<S: Send + ?Sized>() {}
    send::<HostSide<T>>();
    send::<Ctx>();
}

// The store is missing only inside `reinstantiate`, between taking the old store and
// putting the fresh one in, where no user code runs: only a failed allocation that
// panics there, caught by the host, could leave it missing.
const POISONED: &str = "the runtime is unusable: it panicked while its store was being replaced";

fn present(slot: &mut Option<Box<Store<CtxBox>>>) -> &mut Store<CtxBox> {
    match slot {
        Some(s) => s,
        None => unreachable!("{POISONED}"),
    }
}

fn present_ref(slot: &Option<Box<Store<CtxBox>>>) -> &Store<CtxBox> {
    match slot {
        Some(s) => s,
        None => unreachable!("{POISONED}"),
    }
}

fn present_owned(slot: Option<Box<Store<CtxBox>>>) -> Store<CtxBox> {
    match slot {
        Some(s) => *s,
        None => unreachable!("{POISONED}"),
    }
}

impl<T: 'static> Runtime<T> {
    /// Starts building a runtime around the host state `state`.
    pub fn builder<'a>(state: T) -> crate::Builder<'a, T> {
        crate::Builder::new(state)
    }

    pub(crate) fn new(module: Module, ctx: Box<TypedCtx<T>>, watch: Watch) -> Result<Self, Error> {
        // The only place a context's type is erased: the store of a `Runtime<T>` holds a
        // `HostSide<T>`, which `into_state` and the `Send` of `ErasedHost` rely on.
        let ctx: CtxBox = ctx;
        let store = Box::new(Store::new(&module.inner.engine, ctx));
        let mut rt = Runtime {
            store: Some(store),
            live: None,
            module,
            state: PhantomData,
            request: Vec::new(),
            reply: Vec::new(),
            keep_error_texts: false,
            error_text: String::new(),
            needs_reset: false,
            last_call: Usage::default(),
            last_failed: false,
            watch,
        };
        rt.live = Some(rt.instantiate(None)?);
        present(&mut rt.store).data_mut().tape.instantiated()?;
        Ok(rt)
    }

    /// Keeps error texts in the runtime from now on, reserving their room once.
    pub(crate) fn keep_error_texts(&mut self) -> Result<(), Error> {
        let room = self.limits().max_error.saturating_add(error_text::NOTE_ROOM);
        let mut text = String::new();
        text.try_reserve_exact(room)
            .map_err(|_| Error::config("`Limits::max_error` is too large to reserve room for a kept error text"))?;
        self.error_text = text;
        self.keep_error_texts = true;
        Ok(())
    }

    pub(crate) fn store(&mut self) -> &mut Store<CtxBox> {
        present(&mut self.store)
    }

    fn store_ref(&self) -> &Store<CtxBox> {
        present_ref(&self.store)
    }

    /// Starts an initialiser (or the start function): a budget of init fuel, at most
    /// `most`, none of it in the store yet, and a fresh output bound.
    fn start_init(store: &mut Store<CtxBox>, most: u64) -> Result<(), Error> {
        let ctx = store.data_mut();
        ctx.meter.start(ctx.limits.init_fuel.min(most), ctx.limits.max_output_per_call, false);
        if ctx.meter.metered() {
            store.set_fuel(0).map_err(Error::from_wasmi)?;
        }
        Ok(())
    }

    /// Instantiates the module in the current store and runs its initialisers: each
    /// whole, or in slices checked against `watching` when a call that has to start
    /// the plugin afresh is watched (a timeout or a cancel handle).
    fn instantiate(&mut self, watching: Option<&Watching>) -> Result<Live, Error> {
        let store = present(&mut self.store);
        store.limiter(|ctx| &mut ctx.limiter);
        store.data_mut().frame = Frame::EMPTY;
        store.data_mut().limiter.fix_tables(false);
        store.data_mut().tape.instantiate()?;
        let watched = watching.filter(|_| store.data().meter.metered());
        // A start section runs whole, inside instantiation, where wasmi cannot pause
        // it: on at most a chunk of the init fuel (`crate::chunk`), imports included.
        Self::start_init(store, chunk::CHUNK_FUEL)?;
        chunk::top_up(store, chunk::CHUNK_FUEL, chunk::CHUNK_FUEL);
        // `Builder::build` has checked every import by name and type already.
        let start_section = self.module.inner.start_section;
        let instance = self
            .module
            .inner
            .imports
            .instantiate(store, &self.module.inner.module)
            .map_err(|e| start_failure(start_section, Error::from_wasmi(e)))?;
        // Metered, the initialisers run in chunks or slices, which wasmi would resume at
        // the wrong place after a `table.grow` that ran out of fuel: from here on,
        // tables do not grow.
        store.data_mut().limiter.fix_tables(true);
        let memory = instance.get_memory(&*store, names::MEMORY).ok_or(Error::MissingExport(names::MEMORY))?;
        let abi = self.module.inner.abi;
        let plugin_call = instance
            .get_typed_func::<(i32, i32), i32>(&*store, abi.entry())
            .map_err(|_| Error::MissingExport(abi.entry()))?;
        store.data_mut().memory = Some(memory);
        let exported = self.module.inner.initialisers;
        for name in abi.initialisers().iter().enumerate().filter(|(i, _)| exported & 1 << i != 0).map(|(_, n)| *n) {
            let Some(func) = instance.get_func(&*store, name) else {
                continue;
            };
            // Its type was checked when the module loaded (`exported_initialisers`).
            let typed = func.typed::<(), ()>(&*store).map_err(Error::from_wasmi)?;
            let result = match watched {
                Some(watching) => sliced::run_init(store, func, watching, &self.watch),
                None => {
                    Self::start_init(store, u64::MAX)?;
                    chunk::init_whole(store, &typed).map_err(InitStop::Wasm)
                }
            };
            let failure = match result {
                Ok(()) => continue,
                Err(InitStop::Wasm(e)) if name == "_start" && e.i32_exit_status() == Some(0) => continue,
                Err(InitStop::Wasm(e)) => Error::from_wasmi(e),
                Err(InitStop::OutOfFuel) => Error::OutOfFuel,
                Err(InitStop::Watch(stopped)) => return Err(stopped),
            };
            return Err(Error::Init { name, source: alloc::boxed::Box::new(failure) });
        }
        store.data_mut().clear_call_state();
        Ok(Live { memory, plugin_call })
    }

    /// Starts the plugin afresh for a call of `op` with `payload`. A restart that fails
    /// fails the call, and is recorded as a call that ended with that error (which a
    /// replay compares as such); so does a restart that records more than its bound.
    fn restart_for(&mut self, op: &str, payload: &[u8], watching: Option<&Watching>) -> Result<(), Error> {
        let restarted = self.reinstantiate(watching);
        let fuel = self.last_call.fuel;
        let tape = &mut present(&mut self.store).data_mut().tape;
        tape.instantiated()?;
        let Err(e) = restarted else { return Ok(()) };
        // A replay that diverged in the restart has its answer already.
        let e = match crate::transcript::divergence(e) {
            Ok(d) => return Err(Error::Diverged(d)),
            Err(e) => e,
        };
        if tape.is_off() {
            return Err(e);
        }
        tape.call(op, payload)?;
        let message = alloc::format!("{e}");
        tape.end(&Outcome::Error { kind: error_kind(&e), message: &message }, fuel)?;
        Err(e)
    }

    /// Replaces the instance with a fresh one in a fresh store, keeping the host state.
    fn reinstantiate(&mut self, watching: Option<&Watching>) -> Result<(), Error> {
        self.live = None;
        let mut ctx = present_owned(self.store.take()).into_data();
        ctx.memory = None;
        ctx.frame = Frame::EMPTY;
        ctx.clear_call_state();
        self.store = Some(Box::new(Store::new(&self.module.inner.engine, ctx)));
        self.live = Some(self.instantiate(watching)?);
        Ok(())
    }

    /// Prepares a call of `op` with `payload`: checks the request, makes sure a clean
    /// instance is there, lends `op` and `payload` to the frame and `out` to the
    /// response, and starts the meter (with none of the budget in the store yet: it is
    /// handed out a chunk or a slice at a time). Returns the export to call and its
    /// arguments.
    ///
    /// Whoever calls this keeps `op` and `payload` borrowed, and calls
    /// [`end`](Self::end) with the same `out`, before they go.
    pub(crate) fn begin(
        &mut self,
        op: &str,
        payload: &[u8],
        out: &mut (dyn Output + '_),
        sliced: bool,
        watching: Option<&Watching>,
    ) -> Result<(PluginCall, (i32, i32)), Error> {
        out.clear();
        self.error_text.clear();
        let limits = self.store_ref().data().limits;
        // A call refused here used nothing, and changed nothing.
        self.last_call = Usage { fuel: limits.fuel.map(|_| 0), ..Usage::default() };
        self.last_failed = false;
        if payload.len() > limits.max_request {
            return Err(Error::TooLarge { what: "request payload", len: payload.len(), limit: limits.max_request });
        }
        let (Ok(op_len), Ok(payload_len)) = (i32::try_from(op.len()), i32::try_from(payload.len())) else {
            return Err(Error::TooLarge {
                what: "request",
                len: op.len().max(payload.len()),
                limit: i32::MAX as usize,
            });
        };
        if sliced && limits.fuel.is_none() {
            return Err(Error::config("a call runs in slices of fuel: this runtime is unmetered"));
        }
        if self.needs_reset || self.live.is_none() {
            // The call fails when the plugin cannot be started afresh (its initialiser
            // trapped, timed out or was cancelled): a pool must not take it as healthy.
            if let Err(e) = self.restart_for(op, payload, watching) {
                self.last_failed = true;
                return Err(e);
            }
        }
        let Some(live) = &self.live else {
            return Err(Error::host("plugin could not be instantiated"));
        };
        let plugin_call = live.plugin_call;
        let store = present(&mut self.store);
        let ctx = store.data_mut();
        ctx.tape.call(op, payload)?;
        ctx.meter.start(limits.fuel.unwrap_or(0), limits.max_output_per_call, sliced);
        // The guest's response goes straight into the caller's buffer.
        ctx.frame = Frame {
            op: op.as_ptr(),
            op_len: op.len(),
            payload: payload.as_ptr(),
            payload_len: payload.len(),
            out: Some(erase(out)),
            overflow: None,
        };
        self.needs_reset = true;
        if ctx.meter.metered() {
            // The budget is handed out a chunk or a slice at a time. Cannot fail: the
            // engine meters fuel.
            let _ = store.set_fuel(0);
        }
        Ok((plugin_call, (op_len, payload_len)))
    }

    /// Ends the call [`begin`](Self::begin) prepared, with what running it gave:
    /// takes back the frame and the caller's output, records its usage, applies the
    /// ABI's result rules, and starts the plugin afresh after a trap or an exhausted
    /// limit.
    pub(crate) fn end(&mut self, op: &str, result: Result<i32, Error>) -> Result<(), Error> {
        let store = present(&mut self.store);
        let fuel_left = store.get_fuel().ok();
        let ctx = store.data_mut();
        ctx.meter.finish(fuel_left);
        let mut frame = core::mem::replace(&mut ctx.frame, Frame::EMPTY);
        let overflow = frame.overflow;
        let mut nowhere = Vec::new();
        let out = frame.out().unwrap_or(&mut nowhere);
        #[cfg(feature = "std")]
        {
            ctx.deadline = None;
        }
        self.last_call = ctx.meter.usage;
        self.last_failed = !matches!(result, Ok(names::SUCCESS)) || ctx.plugin_error_len.is_some();
        // Stopped by a trap, a limit or a host-side error, rather than returned.
        let stopped = result.is_err();
        let outcome = match result {
            // A plugin error, or failure without one: the same words within the same
            // bounds, kept in the runtime or carried by the error.
            Ok(code) if code != names::SUCCESS || ctx.plugin_error_len.is_some() => {
                let mut carried = String::new();
                let text = if self.keep_error_texts { &mut self.error_text } else { &mut carried };
                match ctx.plugin_error_len {
                    Some(len) => error_text::plugin_message(text, &ctx.plugin_error, len, ctx.limits.max_error),
                    None => error_text::unsuccessful(text, op, ctx.limits.max_error),
                }
                if self.keep_error_texts {
                    Err(Error::PluginKept { len: self.error_text.len() })
                } else {
                    Err(Error::plugin(carried))
                }
            }
            // The plugin answered more than the caller's output holds.
            Ok(_) => match overflow {
                Some((len, limit)) => Err(Error::TooLarge { what: crate::output::OUTPUT_BUFFER, len, limit }),
                None => Ok(()),
            },
            Err(err) => Err(err),
        };
        // A replay that diverged inside the call has its answer already.
        let outcome = match outcome {
            Err(Error::Diverged(d)) => Err(Error::Diverged(d)),
            outcome => {
                let ended = match &outcome {
                    Ok(()) => ctx.tape.end(&Outcome::Response(out.as_bytes()), self.last_call.fuel),
                    // Nothing to record: compose no message.
                    Err(_) if ctx.tape.is_off() => Ok(()),
                    Err(e) => {
                        let message = match e {
                            // What the same error reads as where the error carries it.
                            Error::PluginKept { .. } => alloc::format!("plugin error: {}", self.error_text),
                            e => alloc::format!("{e}"),
                        };
                        ctx.tape.end(&Outcome::Error { kind: error_kind(e), message: &message }, self.last_call.fuel)
                    }
                };
                ended.and(outcome)
            }
        };
        if stopped {
            // The guest may be half-way through anything: the next call starts it
            // afresh (see `needs_reset`), and this one returns at once.
            out.clear();
            return outcome;
        }
        self.needs_reset = false;
        ctx.clear_call_state();
        if outcome.is_err() {
            out.clear();
        }
        outcome
    }

    /// When replaying a transcript, how many of its calls have started.
    pub(crate) fn replayed_calls(&self) -> u64 {
        self.store_ref().data().tape.calls_started()
    }

    /// When replaying a transcript, the operation and request of its next call.
    pub(crate) fn next_recorded_call(&self) -> Result<Option<(String, Vec<u8>)>, Error> {
        self.store_ref().data().tape.next_call()
    }

    /// Puts the plugin back into its state right after initialisation now, as the next
    /// call would after a failed one; the host state is kept. A call that failed leaves
    /// its instance (and its memory) until then.
    ///
    /// Fails when an initialiser does, and, on a runtime that records a transcript, with
    /// [`Error::TooLarge`] when the instantiation records more than
    /// [`Limits::max_recorded_per_call`](crate::Limits::max_recorded_per_call) (the
    /// plugin is then started afresh all the same, and the transcript marks the cut).
    pub fn reset(&mut self) -> Result<(), Error> {
        self.reinstantiate(None)?;
        self.needs_reset = false;
        self.last_failed = false;
        present(&mut self.store).data_mut().tape.instantiated()
    }

    /// Calls the plugin function `op` with `payload` and returns its response.
    ///
    /// Allocates the returned vector; [`invoke_into`](Self::invoke_into) reuses one.
    pub fn invoke(&mut self, op: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.invoke_into(op, payload, &mut out)?;
        Ok(out)
    }

    /// Calls the plugin function `op` with `payload` and writes its response into `out`
    /// (cleared first): a `Vec<u8>`, whose capacity is reused, so that in steady state
    /// a call allocates nothing, or a buffer of fixed capacity (`heapless::Vec<u8, N>`,
    /// [`SliceOutput`](crate::io::SliceOutput); see [`Output`]), which needs no
    /// allocation at all. A response longer than a fixed buffer holds fails the call
    /// with [`Error::TooLarge`] and leaves `out` empty.
    ///
    /// The call fails with [`Error::Plugin`] when the plugin reported an error (its
    /// message wins whatever `__plugin_call` or `__guest_call` returned) or returned
    /// failure without one;
    /// with [`Error::OutOfFuel`], [`Error::Timeout`] or [`Error::Cancelled`] when a
    /// bound stopped it. With a timeout or a cancel handle the call runs in slices of
    /// [`Limits::slice_fuel`], checking both between slices; so do the initialisers of
    /// the fresh instance a call starts with after a failed call (each still bounded by
    /// [`Limits::init_fuel`]).
    pub fn invoke_into<O: Output>(&mut self, op: &str, payload: &[u8], out: &mut O) -> Result<(), Error> {
        self.invoke_dyn(op, payload, out)
    }

    /// [`invoke_into`](Self::invoke_into), compiled once for every kind of output.
    // Not inlined: one copy serves every caller, whose stack frames it would grow.
    #[inline(never)]
    fn invoke_dyn(&mut self, op: &str, payload: &[u8], out: &mut dyn Output) -> Result<(), Error> {
        if self.watch.active() {
            let slice = self.limits().slice_fuel;
            let mut call = self.start_sliced_dyn(op, payload, out)?;
            loop {
                if let Poll::Ready(result) = call.resume(slice) {
                    return result;
                }
                // Paused in a wait: sleep a little of it, then look at the clock,
                // the deadline and the cancel handle again.
                call.sleep_some();
            }
        }
        let (plugin_call, args) = self.begin(op, payload, out, false, None)?;
        let result = chunk::call_whole(self.store(), &plugin_call, args);
        self.end(op, result.map_err(Error::from_wasmi))
    }

    /// Starts a call of `op` with `payload` that runs in slices of fuel: nothing runs
    /// until [`SlicedCall::resume`], which runs it for up to the fuel it is given and
    /// then returns its result or [`Poll::Pending`]. Between slices the host may do
    /// anything else; dropping the [`SlicedCall`] before it finished abandons the call
    /// and starts the plugin afresh, as after a trap. The response goes into `out`, as
    /// for [`invoke_into`](Self::invoke_into).
    ///
    /// The call's total fuel is still bounded by [`Limits::fuel`], and it uses the same
    /// fuel as the same call run whole. Needs a metered runtime. After a failed call,
    /// this starts the plugin afresh before it returns: its initialisers run whole
    /// (bounded by [`Limits::init_fuel`]; a wait of theirs sleeps), or, with a timeout
    /// or a cancel handle, in slices checked against them (a wait of theirs in naps
    /// checked against them too).
    ///
    /// ```
    /// # let wasm = wat::parse_str(r#"(module
    /// #   (import "hookr" "__plugin_request" (func $req (param i32 i32)))
    /// #   (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
    /// #   (memory (export "memory") 1)
    /// #   (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
    /// #     (local $i i32)
    /// #     (loop $spin (local.set $i (i32.add (local.get $i) (i32.const 1)))
    /// #       (br_if $spin (i32.lt_u (local.get $i) (i32.const 100000))))
    /// #     (call $req (i32.const 0) (local.get $op))
    /// #     (call $resp (local.get $op) (local.get $len))
    /// #     (i32.const 1)))"#).unwrap();
    /// use core::task::Poll;
    /// // This plugin counts to 100 000, then echoes its payload.
    /// let mut rt = hookr::Runtime::builder(()).bytes(&wasm).build()?;
    /// let mut out = Vec::new();
    /// let mut call = rt.start_sliced("echo", b"done", &mut out)?;
    /// let mut slices = 1;
    /// while let Poll::Pending = call.resume(10_000) {
    ///     slices += 1; // a firmware main loop would do its other work here
    /// }
    /// drop(call);
    /// assert_eq!(out, b"done");
    /// assert!(slices > 10);
    /// let sliced = rt.last_call().fuel;
    /// rt.invoke("echo", b"done")?;
    /// assert_eq!(rt.last_call().fuel, sliced);
    /// # Ok::<(), hookr::Error>(())
    /// ```
    pub fn start_sliced<'a, O: Output>(
        &'a mut self,
        op: &'a str,
        payload: &'a [u8],
        out: &'a mut O,
    ) -> Result<SlicedCall<'a, T>, Error> {
        self.start_sliced_dyn(op, payload, out)
    }

    fn start_sliced_dyn<'a>(
        &'a mut self,
        op: &'a str,
        payload: &'a [u8],
        out: &'a mut (dyn Output + 'a),
    ) -> Result<SlicedCall<'a, T>, Error> {
        // Watched from here: a cancel or deadline during the reset `begin` may make
        // counts against this call.
        let watching = self.watch.start();
        let watched = self.watch.active().then_some(&watching);
        let (plugin_call, args) = self.begin(op, payload, out, true, watched)?;
        #[cfg(feature = "std")]
        {
            self.store().data_mut().deadline = watching.deadline();
        }
        // From here the frame holds the only pointer to `out`, which stays borrowed
        // for the life of the call.
        Ok(SlicedCall::new(self, op, plugin_call, args, watching))
    }

    /// Encodes `input` as MessagePack, calls `op`, and decodes the response.
    pub fn call<In: Encode + ?Sized, Out: Decode>(&mut self, op: &str, input: &In) -> Result<Out, Error> {
        let mut request = core::mem::take(&mut self.request);
        let mut reply = core::mem::take(&mut self.reply);
        request.clear();
        let result = codec::encode_into(input, &mut request)
            .map_err(Error::from)
            .and_then(|()| self.invoke_into(op, &request, &mut reply))
            .and_then(|()| DecodeBounds::of(self.limits()).decode(&reply).map_err(Error::from));
        let keep = self.limits().retain_buffer;
        release(&mut request, keep);
        release(&mut reply, keep);
        self.request = request;
        self.reply = reply;
        result
    }

    /// A handle for calling the plugin function `name` with raw bytes.
    pub fn plugin_fn_bytes(&self, name: impl Into<alloc::borrow::Cow<'static, str>>) -> crate::PluginFnBytes {
        crate::PluginFnBytes::new(name.into())
    }

    /// A typed handle for calling the plugin function `name`.
    pub fn plugin_fn<In: Encode + ?Sized, Out: Decode>(
        &self,
        name: impl Into<alloc::borrow::Cow<'static, str>>,
    ) -> crate::PluginFn<In, Out> {
        crate::PluginFn::new(name.into())
    }

    /// The size of the plugin's linear memory in bytes. After a failed call, that of
    /// the failed instance, until the next call (or [`reset`](Self::reset)) starts the
    /// plugin afresh.
    pub fn memory_size(&self) -> usize {
        match &self.live {
            Some(live) => live.memory.data_size(self.store_ref()),
            None => 0,
        }
    }

    /// The host state.
    pub fn state(&self) -> &T {
        match self.store_ref().data().host.state().downcast_ref() {
            Some(state) => state,
            None => unreachable!("{WRONG_STATE}"),
        }
    }

    /// The host state, mutably.
    pub fn state_mut(&mut self) -> &mut T {
        match self.store().data_mut().host.state_mut().downcast_mut() {
            Some(state) => state,
            None => unreachable!("{WRONG_STATE}"),
        }
    }

    /// The compiled module this runtime runs, for instantiating it again elsewhere.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The fuel the last call left of its budget ([`Limits::fuel`] less what it used,
    /// run whole or in slices; the whole budget before any call and after a call refused
    /// before it ran), when fuel metering is on. [`last_call`](Self::last_call) has the
    /// fuel the call itself used.
    pub fn fuel_left(&self) -> Option<u64> {
        let budget = self.limits().fuel?;
        Some(budget.saturating_sub(self.last_call.fuel.unwrap_or(0)))
    }

    /// Whether the last call ran and failed: the plugin reported an error, or a trap,
    /// limit, timeout or cancel stopped it. A [`Pool`](crate::Pool) resets such a
    /// runtime before it lends it out again.
    pub fn last_call_failed(&self) -> bool {
        self.last_failed
    }

    /// The text of the last call's plugin error, on a runtime that keeps error texts
    /// ([`Builder::keep_error_texts`](crate::Builder::keep_error_texts)), which then
    /// failed with [`Error::PluginKept`]; `None` otherwise. It stays until the next
    /// call starts.
    ///
    /// Marked as cut (`" … [truncated from N bytes]"`) when the plugin's message was
    /// longer than [`Limits::max_error`], and repaired where it was not UTF-8.
    pub fn last_error_text(&self) -> Option<&str> {
        (self.keep_error_texts && !self.error_text.is_empty()).then_some(self.error_text.as_str())
    }

    /// What the last call used (fuel, output) and what its output bound dropped,
    /// whether it succeeded or not.
    pub fn last_call(&self) -> Usage {
        self.last_call
    }

    /// The limits this runtime enforces.
    pub fn limits(&self) -> &Limits {
        &self.store_ref().data().limits
    }

    /// Sets or clears the wall-clock time each call may take (see
    /// [`Builder::timeout`](crate::Builder::timeout)). Needs a metered runtime.
    #[cfg(feature = "std")]
    pub fn set_timeout(&mut self, timeout: Option<core::time::Duration>) -> Result<(), Error> {
        if timeout.is_some() && self.limits().fuel.is_none() {
            return Err(Error::config("a timeout stops calls between slices of fuel: this runtime is unmetered"));
        }
        self.watch.timeout = timeout;
        Ok(())
    }

    /// Ends the runtime and hands back the host state.
    pub fn into_state(mut self) -> T {
        let ctx = present_owned(self.store.take()).into_data();
        let host: &dyn Any = &ctx.host.0;
        if !host.is::<HostSide<T>>() {
            unreachable!("{WRONG_STATE}");
        }
        // SAFETY: the box was made by `Ctx::boxed` as a `TypedCtx<U>` for the `HostSide<U>`
        // that its host side is, and that is a `HostSide<T>`: the cast back to a thin
        // pointer names the type it was allocated with, as `Box<dyn Any>::downcast` does.
        let ctx = unsafe { Box::from_raw(Box::into_raw(ctx) as *mut TypedCtx<T>) };
        ctx.host.0.state
    }
}

impl<T> core::fmt::Debug for Runtime<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Runtime")
            .field("memory_size", &self.memory_size())
            .field("host_fns", &self.store_ref().data().host.len())
            .finish_non_exhaustive()
    }
}
