//! The runtime: one instantiated plugin, its host state, and the calls into it.

use alloc::string::String;
use alloc::vec::Vec;

use hookr_abi::codec::{self, Decode, Encode};
use hookr_abi::{self as names};
use wasmi::{Linker, Memory, Store, StoreLimits, StoreLimitsBuilder, TypedFunc};

use crate::error::Error;
use crate::host_fn::HostTable;
use crate::io::{BoxedClock, BoxedRandom, BoxedSink, Logger};
use crate::limits::Limits;
use crate::module::Module;

/// The request of the call under way: the operation name and payload the host lends
/// to `__plugin_request` for the duration of one call.
pub(crate) struct Frame {
    op: *const u8,
    op_len: usize,
    payload: *const u8,
    payload_len: usize,
}

// SAFETY: the pointers are set only by `FrameGuard`, which borrows both slices for as
// long as they are set and clears them when it is dropped; outside a call they are
// empty. Moving a runtime to another thread between calls moves no live borrow.
unsafe impl Send for Frame {}

impl Frame {
    const EMPTY: Frame = Frame {
        op: core::ptr::NonNull::<u8>::dangling().as_ptr(),
        op_len: 0,
        payload: core::ptr::NonNull::<u8>::dangling().as_ptr(),
        payload_len: 0,
    };

    /// The operation name and payload of the call under way (empty outside a call).
    #[inline]
    pub(crate) fn get(&self) -> (&[u8], &[u8]) {
        // SAFETY: either dangling with length 0 (a valid empty slice), or set by a
        // live `FrameGuard` from slices that outlive it (see `FrameGuard::new`).
        unsafe {
            (
                core::slice::from_raw_parts(self.op, self.op_len),
                core::slice::from_raw_parts(self.payload, self.payload_len),
            )
        }
    }
}

/// Lends `op` and `payload` to the frame of `store` and takes them back when dropped,
/// on every path out of the call.
struct FrameGuard<'a, 'b, T: 'static> {
    store: &'a mut Store<Ctx<T>>,
    _lent: core::marker::PhantomData<&'b [u8]>,
}

impl<'a, 'b, T> FrameGuard<'a, 'b, T> {
    fn new(store: &'a mut Store<Ctx<T>>, op: &'b [u8], payload: &'b [u8]) -> Self {
        let frame = &mut store.data_mut().frame;
        frame.op = op.as_ptr();
        frame.op_len = op.len();
        frame.payload = payload.as_ptr();
        frame.payload_len = payload.len();
        FrameGuard { store, _lent: core::marker::PhantomData }
    }
}

impl<T> Drop for FrameGuard<'_, '_, T> {
    fn drop(&mut self) {
        self.store.data_mut().frame = Frame::EMPTY;
    }
}

/// What a plugin's sandbox sees of the outside (WASI).
pub(crate) struct Io {
    pub(crate) stdout: BoxedSink,
    pub(crate) stderr: BoxedSink,
    pub(crate) random: BoxedRandom,
    pub(crate) clock: BoxedClock,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

/// Everything the host imports reach: the store's data.
pub(crate) struct Ctx<T: 'static> {
    pub(crate) state: T,
    pub(crate) frame: Frame,
    pub(crate) response: Vec<u8>,
    pub(crate) plugin_error: Vec<u8>,
    pub(crate) has_plugin_error: bool,
    pub(crate) host_response: Vec<u8>,
    pub(crate) host_error: Vec<u8>,
    pub(crate) host: HostTable<T>,
    pub(crate) logger: Logger,
    pub(crate) io: Io,
    pub(crate) limits: Limits,
    pub(crate) store_limits: StoreLimits,
    pub(crate) memory: Option<Memory>,
}

impl<T> Ctx<T> {
    pub(crate) fn new(state: T, host: HostTable<T>, logger: Logger, io: Io, limits: Limits) -> Self {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size((limits.max_memory_pages as usize).saturating_mul(Limits::PAGE_SIZE))
            .table_elements(limits.max_table_elements)
            .instances(1)
            .tables(4)
            .memories(1)
            .build();
        Ctx {
            state,
            frame: Frame::EMPTY,
            response: Vec::new(),
            plugin_error: Vec::new(),
            has_plugin_error: false,
            host_response: Vec::new(),
            host_error: Vec::new(),
            host,
            logger,
            io,
            limits,
            store_limits,
            memory: None,
        }
    }
}

/// The parts of a live instance that every call uses, resolved once.
struct Live {
    memory: Memory,
    plugin_call: TypedFunc<(i32, i32), i32>,
}

/// A loaded, instantiated plugin and the host state its host functions see.
///
/// Built with [`Runtime::builder`]. Calls take `&mut self`: a host function receives
/// only the host state, never the runtime, so a plugin cannot re-enter itself. A host
/// that shares its runtime behind a lock on purpose should take that lock with
/// `try_lock` inside host functions and answer a [`HostError`](crate::HostError) when
/// it is held: the call under way holds it.
///
/// After a call fails with a trap or an exhausted limit, the runtime puts the plugin
/// back into its state right after initialisation (it instantiates the compiled module
/// again and reruns its initialisers), so the next call behaves as if the failed one
/// never happened. The host state is kept.
pub struct Runtime<T: 'static> {
    // `None` only while `reinstantiate` swaps stores (see `POISONED`).
    store: Option<Store<Ctx<T>>>,
    live: Option<Live>,
    module: Module,
    linker: Linker<Ctx<T>>,
    request: Vec<u8>,
    reply: Vec<u8>,
}

// The store is missing only inside `reinstantiate`, between taking the old store and
// putting the fresh one in, where no user code runs: only a failed allocation that
// panics there, caught by the host, could leave it missing.
const POISONED: &str = "the runtime is unusable: it panicked while its store was being replaced";

fn present<T>(slot: &mut Option<Store<Ctx<T>>>) -> &mut Store<Ctx<T>> {
    match slot {
        Some(s) => s,
        None => unreachable!("{POISONED}"),
    }
}

fn present_ref<T>(slot: &Option<Store<Ctx<T>>>) -> &Store<Ctx<T>> {
    match slot {
        Some(s) => s,
        None => unreachable!("{POISONED}"),
    }
}

fn present_owned<T>(slot: Option<Store<Ctx<T>>>) -> Store<Ctx<T>> {
    match slot {
        Some(s) => s,
        None => unreachable!("{POISONED}"),
    }
}

impl<T: 'static> Runtime<T> {
    /// Starts building a runtime around the host state `state`.
    pub fn builder<'a>(state: T) -> crate::Builder<'a, T> {
        crate::Builder::new(state)
    }

    pub(crate) fn new(module: Module, linker: Linker<Ctx<T>>, ctx: Ctx<T>) -> Result<Self, Error> {
        let store = Store::new(&module.engine, ctx);
        let mut rt = Runtime { store: Some(store), live: None, module, linker, request: Vec::new(), reply: Vec::new() };
        rt.live = Some(rt.instantiate()?);
        Ok(rt)
    }

    fn store(&mut self) -> &mut Store<Ctx<T>> {
        present(&mut self.store)
    }

    fn store_ref(&self) -> &Store<Ctx<T>> {
        present_ref(&self.store)
    }

    /// Instantiates the module in the current store and runs its initialisers.
    fn instantiate(&mut self) -> Result<Live, Error> {
        let store = present(&mut self.store);
        store.limiter(|ctx| &mut ctx.store_limits);
        let fuel = store.data().limits.fuel;
        if let Some(fuel) = fuel {
            store.set_fuel(fuel).map_err(Error::from_wasmi)?;
        }
        // `Builder::build` has checked every import by name and type already.
        let instance =
            self.linker.instantiate_and_start(&mut *store, &self.module.module).map_err(Error::from_wasmi)?;
        let memory = instance.get_memory(&*store, names::MEMORY).ok_or(Error::MissingExport(names::MEMORY))?;
        let plugin_call = instance
            .get_typed_func::<(i32, i32), i32>(&*store, names::PLUGIN_CALL)
            .map_err(|_| Error::MissingExport(names::PLUGIN_CALL))?;
        store.data_mut().memory = Some(memory);
        for name in names::INITIALISERS {
            let Some(func) = instance.get_func(&*store, name) else {
                continue;
            };
            let func = func.typed::<(), ()>(&*store).map_err(|_| Error::Init {
                name,
                source: alloc::boxed::Box::new(Error::InvalidModule(
                    "an initialiser must take and return nothing".into(),
                )),
            })?;
            if let Some(fuel) = fuel {
                store.set_fuel(fuel).map_err(Error::from_wasmi)?;
            }
            match func.call(&mut *store, ()) {
                Ok(()) => {}
                Err(e) if name == "_start" && e.i32_exit_status() == Some(0) => {}
                Err(e) => return Err(Error::Init { name, source: alloc::boxed::Box::new(Error::from_wasmi(e)) }),
            }
        }
        Ok(Live { memory, plugin_call })
    }

    /// Replaces the instance with a fresh one in a fresh store, keeping the host state.
    fn reinstantiate(&mut self) -> Result<(), Error> {
        self.live = None;
        let mut ctx = present_owned(self.store.take()).into_data();
        ctx.memory = None;
        ctx.frame = Frame::EMPTY;
        self.store = Some(Store::new(&self.module.engine, ctx));
        self.live = Some(self.instantiate()?);
        Ok(())
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
    /// (cleared first), reusing `out`'s capacity: in steady state a call allocates nothing.
    ///
    /// The call fails with [`Error::Plugin`] when the plugin reported an error (its
    /// message wins whatever `__plugin_call` returned) or returned failure without one.
    pub fn invoke_into(&mut self, op: &str, payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        out.clear();
        let limits = self.store_ref().data().limits;
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
        if self.live.is_none() {
            self.reinstantiate()?;
        }
        let Some(live) = &self.live else {
            return Err(Error::host("plugin could not be instantiated"));
        };
        let plugin_call = live.plugin_call;
        let store = present(&mut self.store);
        if let Some(fuel) = limits.fuel {
            store.set_fuel(fuel).map_err(Error::from_wasmi)?;
        }
        {
            // The guest's response goes straight into the caller's buffer.
            let ctx = store.data_mut();
            ctx.has_plugin_error = false;
            core::mem::swap(&mut ctx.response, out);
        }
        let result = {
            let guard = FrameGuard::new(store, op.as_bytes(), payload);
            plugin_call.call(&mut *guard.store, (op_len, payload_len))
        };
        let ctx = store.data_mut();
        core::mem::swap(&mut ctx.response, out);
        match result {
            Ok(_) if ctx.has_plugin_error => {
                out.clear();
                Err(Error::Plugin(String::from_utf8_lossy(&ctx.plugin_error).into()))
            }
            Ok(names::SUCCESS) => Ok(()),
            Ok(_) => {
                out.clear();
                Err(Error::plugin(alloc::format!("call to `{op}` was unsuccessful")))
            }
            Err(e) => {
                out.clear();
                let err = Error::from_wasmi(e);
                // The guest may be half-way through anything: start it afresh. If that
                // fails, the next call tries again and reports why.
                let _ = self.reinstantiate();
                Err(err)
            }
        }
    }

    /// Encodes `input` as MessagePack, calls `op`, and decodes the response.
    pub fn call<In: Encode + ?Sized, Out: Decode>(&mut self, op: &str, input: &In) -> Result<Out, Error> {
        let mut request = core::mem::take(&mut self.request);
        let mut reply = core::mem::take(&mut self.reply);
        request.clear();
        let result = codec::encode_into(input, &mut request)
            .map_err(Error::from)
            .and_then(|()| self.invoke_into(op, &request, &mut reply))
            .and_then(|()| codec::from_slice(&reply).map_err(Error::from));
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

    /// The size of the plugin's linear memory in bytes.
    pub fn memory_size(&self) -> usize {
        match &self.live {
            Some(live) => live.memory.data_size(self.store_ref()),
            None => 0,
        }
    }

    /// The host state.
    pub fn state(&self) -> &T {
        &self.store_ref().data().state
    }

    /// The host state, mutably.
    pub fn state_mut(&mut self) -> &mut T {
        &mut self.store().data_mut().state
    }

    /// The compiled module this runtime runs, for instantiating it again elsewhere.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Fuel left after the last call, when fuel metering is on. After a call that
    /// failed with a trap or an exhausted limit the plugin was instantiated afresh, and
    /// this is what its initialisers left.
    pub fn fuel_left(&self) -> Option<u64> {
        self.store_ref().get_fuel().ok()
    }

    /// The limits this runtime enforces.
    pub fn limits(&self) -> &Limits {
        &self.store_ref().data().limits
    }

    /// Ends the runtime and hands back the host state.
    pub fn into_state(mut self) -> T {
        present_owned(self.store.take()).into_data().state
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
