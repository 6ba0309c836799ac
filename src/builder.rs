//! The builder: every option a runtime takes, then `build()`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use hookr_abi::codec::{Decode, Encode};

use crate::error::Error;
use crate::host_fn::{self, DynHostFn, Handler, HostCall, HostError, HostFn, HostFnName, HostSide, HostTable};
use crate::io::{self, Clock, RandomSource, Sink};
use crate::limits::Limits;
use crate::module::{BoxedHasher, Check, EngineConfig, Hasher, Module, NoVerify, Pinned, Source};
use crate::runtime::{Ctx, Runtime};
use crate::sliced::{CancelHandle, Watch};
use crate::transcript::{Header, Tape};
use crate::wasi::Io;

/// Configures and builds a [`Runtime`].
///
/// ```
/// # fn main() -> Result<(), hookr::Error> {
/// # let wasm = wat::parse_str(r#"(module
/// #   (import "hookr" "__plugin_request" (func $req (param i32 i32)))
/// #   (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
/// #   (memory (export "memory") 1)
/// #   (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
/// #     (call $req (i32.const 0) (local.get $op))
/// #     (call $resp (local.get $op) (local.get $len))
/// #     (i32.const 1)))"#).unwrap();
/// // An echo plugin: it answers every call with the payload.
/// use hookr::Hasher;
/// let hash = hookr::Sha256Hasher.hash(&wasm);
/// let mut rt = hookr::Runtime::builder(())
///     .bytes(&wasm)
///     .hash(&hash)
///     .hasher(hookr::Sha256Hasher)
///     .fuel(1_000_000)            // per call; metered by default
///     .build()?;
/// assert_eq!(rt.invoke("echo", b"hi")?, b"hi");
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `build()`"]
pub struct Builder<'a, T: 'static> {
    state: T,
    source: Option<Source<'a>>,
    hash: String,
    hasher: Option<BoxedHasher>,
    pinned: Option<Pinned>,
    /// The first static table of host functions: most hosts give one, kept without a list.
    table: Option<&'static [HostFn<T>]>,
    /// Every static table, when more than one is given.
    tables: Vec<&'static [HostFn<T>]>,
    dyns: Vec<(HostFnName, DynHostFn<T>)>,
    handler: Option<Handler<T>>,
    handler_first: bool,
    logger: Option<io::Logger>,
    stdout: Option<io::BoxedSink>,
    stderr: Option<io::BoxedSink>,
    random: Option<io::BoxedRandom>,
    clock: Option<io::BoxedClock>,
    deterministic: bool,
    args: Vec<String>,
    env: Vec<(String, String)>,
    limits: Limits,
    engine: EngineConfig,
    watch: Watch,
    record: Option<io::BoxedSink>,
    tape: Option<Tape>,
    keep_error_texts: bool,
}

impl<'a, T: 'static> Builder<'a, T> {
    pub(crate) fn new(state: T) -> Self {
        Builder {
            state,
            source: None,
            hash: String::new(),
            hasher: None,
            pinned: None,
            table: None,
            tables: Vec::new(),
            dyns: Vec::new(),
            handler: None,
            handler_first: false,
            logger: None,
            stdout: None,
            stderr: None,
            random: None,
            clock: None,
            deterministic: false,
            args: Vec::new(),
            env: Vec::new(),
            limits: Limits::default(),
            engine: EngineConfig::default(),
            watch: Watch::default(),
            record: None,
            tape: None,
            keep_error_texts: false,
        }
    }

    /// Loads the plugin from `wasm` (for firmware, `include_bytes!` from flash).
    pub fn bytes(mut self, wasm: &'a [u8]) -> Self {
        self.source = Some(Source::Bytes(wasm));
        self
    }

    /// Loads the plugin from owned bytes.
    pub fn owned_bytes(mut self, wasm: Vec<u8>) -> Self {
        self.source = Some(Source::Owned(wasm));
        self
    }

    /// Loads the plugin from the file at `path`.
    #[cfg(feature = "std")]
    pub fn file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.source = Some(Source::File(path.into()));
        self
    }

    /// Uses an already compiled module: nothing is hashed or compiled again.
    pub fn module(mut self, module: Module) -> Self {
        self.source = Some(Source::Compiled(module));
        self
    }

    /// The expected hash of the module, hex in either case. It needs a
    /// [`hasher`](Self::hasher): with the default [`NoVerify`] a non-empty hash fails.
    pub fn hash(mut self, expected: &str) -> Self {
        self.hash = String::from(expected);
        self
    }

    /// The module's SHA-256, pinned at build time by
    /// [`validate_and_pin`](crate::validate_and_pin): the only way a build without the
    /// `validate` feature loads a module. Replaces [`hash`](Self::hash) and
    /// [`hasher`](Self::hasher).
    pub fn pinned(mut self, pin: Pinned) -> Self {
        self.pinned = Some(pin);
        self
    }

    /// The hasher that checks [`hash`](Self::hash).
    pub fn hasher(mut self, hasher: impl Hasher + Send + Sync + 'static) -> Self {
        self.hasher = Some(Box::new(hasher));
        self
    }

    /// A static table of host functions; may be given more than once. Names (with
    /// their binding and namespace) must be unique across all tables and closures.
    pub fn host_fns(mut self, table: &'static [HostFn<T>]) -> Self {
        match self.table {
            None => self.table = Some(table),
            Some(first) => {
                if self.tables.is_empty() {
                    self.tables.push(first);
                }
                self.tables.push(table);
            }
        }
        self
    }

    /// Registers a byte host function as a closure, under an operation name or, for
    /// waPC guests, a `(binding, namespace, operation)` triple (see [`HostFnName`]).
    pub fn host_fn(
        mut self,
        name: impl Into<HostFnName>,
        f: impl FnMut(&mut T, &[u8], &mut Vec<u8>) -> Result<(), HostError> + Send + 'static,
    ) -> Self {
        self.dyns.push((name.into(), DynHostFn::Bytes(Box::new(f))));
        self
    }

    /// Registers a typed (MessagePack) host function as a closure, named as
    /// [`host_fn`](Self::host_fn) is.
    pub fn host_fn_typed<In: Decode + 'static, Out: Encode + 'static>(
        mut self,
        name: impl Into<HostFnName>,
        f: impl FnMut(&mut T, In) -> Result<Out, HostError> + Send + 'static,
    ) -> Self {
        self.dyns.push((name.into(), host_fn::typed_closure(f)));
        self
    }

    /// A catch-all for host operations that no host function is registered for, with
    /// the operation name. It answers the calls of hookr guests, and those of waPC
    /// guests with an empty binding and namespace; for the others, see
    /// [`host_call_handler`](Self::host_call_handler). Replaces that one.
    pub fn call_handler(
        mut self,
        f: impl FnMut(&mut T, &str, &[u8], &mut Vec<u8>) -> Result<(), HostError> + Send + 'static,
    ) -> Self {
        self.handler = Some(Handler::Plain(Box::new(f)));
        self
    }

    /// A catch-all for every host call that no host function is registered for, with
    /// its binding and namespace (empty in a hookr guest's call). Replaces
    /// [`call_handler`](Self::call_handler).
    ///
    /// ```
    /// # let wasm = wat::parse_str(r#"(module
    /// #   (import "wapc" "__guest_request" (func $req (param i32 i32)))
    /// #   (import "wapc" "__guest_response" (func $resp (param i32 i32)))
    /// #   (import "wapc" "__host_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
    /// #   (import "wapc" "__host_response_len" (func $rlen (result i32)))
    /// #   (import "wapc" "__host_response" (func $rget (param i32)))
    /// #   (memory (export "memory") 1)
    /// #   (data (i32.const 0) "calcmathadd")
    /// #   (func (export "__guest_call") (param $op i32) (param $len i32) (result i32)
    /// #     (call $req (i32.const 100) (i32.const 200))
    /// #     (drop (call $call (i32.const 0) (i32.const 4) (i32.const 4) (i32.const 4) (i32.const 8) (i32.const 3)
    /// #       (i32.const 200) (local.get $len)))
    /// #     (call $rget (i32.const 1000))
    /// #     (call $resp (i32.const 1000) (call $rlen))
    /// #     (i32.const 1)))"#).unwrap();
    /// // A waPC guest whose every call calls `host_call("calc", "math", "add", payload)`.
    /// let mut rt = hookr::Runtime::builder(())
    ///     .bytes(&wasm)
    ///     .host_call_handler(|_, call, payload, out| {
    ///         out.extend_from_slice(format!("{}/{}/{}: ", call.binding, call.namespace, call.operation).as_bytes());
    ///         out.extend_from_slice(payload);
    ///         Ok(())
    ///     })
    ///     .build()?;
    /// assert_eq!(rt.invoke("sum", b"1 2")?, b"calc/math/add: 1 2");
    /// # Ok::<(), hookr::Error>(())
    /// ```
    pub fn host_call_handler(
        mut self,
        f: impl FnMut(&mut T, HostCall<'_>, &[u8], &mut Vec<u8>) -> Result<(), HostError> + Send + 'static,
    ) -> Self {
        self.handler = Some(Handler::Addressed(Box::new(f)));
        self
    }

    /// Lets the call handler ([`call_handler`](Self::call_handler) or
    /// [`host_call_handler`](Self::host_call_handler)) answer the calls it takes before
    /// the host functions are looked up, as the Go hookr's `WithCallHandler` does. By
    /// default it answers only what no host function does.
    pub fn handler_first(mut self) -> Self {
        self.handler_first = true;
        self
    }

    /// Where the plugin's `__log` lines go. Default: stderr under `std`, defmt under
    /// `defmt`, else nowhere.
    pub fn logger(mut self, f: impl FnMut(&str) + Send + 'static) -> Self {
        self.logger = Some(Box::new(f));
        self
    }

    /// Where the plugin's stdout (WASI fd 1) goes. Default: the process's stdout under
    /// `std`, defmt under `defmt`, else nowhere.
    pub fn stdout(mut self, sink: impl Sink + Send + 'static) -> Self {
        self.stdout = Some(Box::new(sink));
        self
    }

    /// Where the plugin's stderr (WASI fd 2) goes. Default: the process's stderr under
    /// `std`, defmt under `defmt`, else nowhere.
    pub fn stderr(mut self, sink: impl Sink + Send + 'static) -> Self {
        self.stderr = Some(Box::new(sink));
        self
    }

    /// Where the plugin's random bytes come from. Default: the operating system under
    /// `std`, else a fixed-seed [`SeededRandom`](crate::io::SeededRandom).
    pub fn rand_source(mut self, source: impl RandomSource + Send + 'static) -> Self {
        self.random = Some(Box::new(source));
        self
    }

    /// The plugin's clock. Default: the system clocks under `std`, else a
    /// [`FixedClock`](crate::io::FixedClock).
    pub fn clock(mut self, clock: impl Clock + Send + 'static) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Fixed-seed randomness and a fixed clock, also under `std`, unless a source or
    /// clock is given explicitly: the same plugin gives the same results every run.
    pub fn deterministic(mut self) -> Self {
        self.deterministic = true;
        self
    }

    /// The command-line arguments the plugin sees through WASI (default: none).
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The environment variables the plugin sees through WASI (default: none).
    pub fn env<K: Into<String>, V: Into<String>>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self {
        self.env = vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self
    }

    /// Fuel for each call (default [`Limits::DEFAULT_CALL_FUEL`]); turns metering
    /// back on after [`unmetered`](Self::unmetered). Initialisers have their own
    /// budget, [`init_fuel`](Self::init_fuel).
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.limits.fuel = Some(fuel);
        self
    }

    /// Fuel for each initialiser and the start function (default
    /// [`Limits::DEFAULT_INIT_FUEL`]), when metered; the start function gets at most
    /// 32 768 units of it ([`Limits::init_fuel`]).
    pub fn init_fuel(mut self, fuel: u64) -> Self {
        self.limits.init_fuel = fuel;
        self
    }

    /// Turns fuel metering off, for trusted plugins: calls run about 10 % faster in
    /// tight loops, but nothing bounds their work (no fuel, no timeout, no
    /// cancellation, no sliced calls), nor, without `portable-dispatch`, the native
    /// stack a plugin looping on `memory.grow` takes (README, Safety).
    pub fn unmetered(mut self) -> Self {
        self.limits.fuel = None;
        self
    }

    /// The wall-clock time each call may take; past it the call ends with
    /// [`Error::Timeout`]. The deadline is checked between slices of
    /// [`Limits::slice_fuel`], so a call runs at most one slice past it (plus the host
    /// function it may be in). Needs metering.
    #[cfg(feature = "std")]
    pub fn timeout(mut self, timeout: core::time::Duration) -> Self {
        self.watch.timeout = Some(timeout);
        self
    }

    /// A handle that stops this runtime's running call when cancelled, from another
    /// thread or an interrupt handler (see [`CancelHandle`]). Needs metering.
    pub fn cancel_handle(mut self, handle: CancelHandle) -> Self {
        self.watch.cancel = Some(handle);
        self
    }

    /// The largest linear memory, in 64 KiB pages ([`Limits::with_max_memory_pages`]).
    pub fn max_memory_pages(mut self, pages: u32) -> Self {
        self.limits = self.limits.with_max_memory_pages(pages);
        self
    }

    /// The largest linear memory, in bytes ([`Limits::max_memory_bytes`]): the limit for
    /// a plugin whose memory has 1-byte pages, and for any other.
    pub fn max_memory_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_memory_bytes = bytes;
        self
    }

    /// Records a transcript of the runtime's life to `sink`: what every call and
    /// (re)instantiation received and did, to [`replay`](crate::transcript::replay)
    /// anywhere (see [`transcript`](crate::transcript)). Under `std` a file or any
    /// `std::io::Write` is a sink; a firmware can stream it out. When the sink refuses
    /// a write, the call under way fails with [`Error::Host`] saying so.
    ///
    /// Records reach the sink in batches: at the end of each call and of each
    /// instantiation, when 64 KiB are waiting, and when the runtime is dropped, so a
    /// plain file needs no buffering of its own. One call (or instantiation) records at
    /// most [`Limits::max_recorded_per_call`] bytes: past it the rest goes unrecorded,
    /// the call (or `build`, or [`Runtime::reset`](crate::Runtime::reset)) fails with
    /// [`Error::TooLarge`], and the transcript marks the cut
    /// ([`RECORDING_CUT`](crate::transcript::RECORDING_CUT)), where a replay stops.
    pub fn record(mut self, sink: impl Sink + Send + 'static) -> Self {
        self.record = Some(Box::new(sink));
        self
    }

    /// Replays a transcript instead of calling the host (see `transcript::replay`).
    pub(crate) fn replaying(mut self, tape: Tape) -> Self {
        self.tape = Some(tape);
        self
    }

    /// Plugin errors carry no text: a call the plugin fails fails with
    /// [`Error::PluginKept`], and the runtime keeps the text, readable with
    /// [`Runtime::last_error_text`] until the next call. A failing call then allocates
    /// nothing, where [`Error::Plugin`] holds a text allocated for it; for hosts that
    /// must not allocate per call (see README, "Calls without allocation").
    ///
    /// Reserves [`Limits::max_error`] bytes (and 64 for the note that marks a cut
    /// text) once, at build: give firmware a `max_error` its plugins' messages need;
    /// [`build`](Self::build) fails with [`Error::Config`] when that room cannot be
    /// reserved. (An AssemblyScript plugin's `env.abort` stops its call as a trap
    /// does, and its text comes in [`Error::Plugin`], cut to the same bound.)
    ///
    /// ```
    /// # let wasm = wat::parse_str(r#"(module
    /// #   (import "hookr" "__plugin_error" (func $err (param i32 i32)))
    /// #   (memory (export "memory") 1)
    /// #   (data (i32.const 0) "planned Failure")
    /// #   (func (export "__plugin_call") (param i32 i32) (result i32)
    /// #     (call $err (i32.const 0) (i32.const 15))
    /// #     (i32.const 0)))"#).unwrap();
    /// // This plugin fails every call with "planned Failure".
    /// let limits = hookr::Limits::default().with_max_error(256);
    /// let mut rt = hookr::Runtime::builder(()).bytes(&wasm).limits(limits).keep_error_texts().build()?;
    /// let mut out = hookr::heapless::Vec::<u8, 64>::new();
    /// match rt.invoke_into("nope", b"", &mut out) {
    ///     Err(hookr::Error::PluginKept { len: 15 }) => {}
    ///     other => panic!("{other:?}"),
    /// }
    /// assert_eq!(rt.last_error_text(), Some("planned Failure"));
    /// # Ok::<(), hookr::Error>(())
    /// ```
    pub fn keep_error_texts(mut self) -> Self {
        self.keep_error_texts = true;
        self
    }

    /// Every limit at once ([`Limits::check`]ed by [`build`](Self::build)).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The engine settings of a module this builder compiles (from `bytes`, `file` or
    /// `pinned`; a [`module`](Self::module) keeps its own): the value stacks and which
    /// modules are accepted, as [`EngineConfig`] describes. Fuel metering and the
    /// recursion limit come from the limits ([`fuel`](Self::fuel),
    /// [`unmetered`](Self::unmetered), [`Limits::max_recursion_depth`]), whatever
    /// `config` says. Default: [`EngineConfig::default`]; a microcontroller will want
    /// [`EngineConfig::SMALL`].
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine = config;
        self
    }

    /// The engine settings a module compiled by this builder gets.
    fn compile_config(&self) -> EngineConfig {
        EngineConfig {
            fuel: self.limits.fuel.is_some(),
            max_recursion_depth: self.limits.max_recursion_depth,
            ..self.engine
        }
    }

    /// Verifies the hash, compiles, links, instantiates and runs the initialisers
    /// those exported, in order: `_start`, `_initialize`, `hookr_init` for a hookr
    /// plugin, `_start`, `wapc_init` for a waPC guest. An initialiser must be a
    /// function `() -> ()`: a module that exports one of another type is
    /// [`Error::InvalidModule`].
    pub fn build(mut self) -> Result<Runtime<T>, Error> {
        self.limits.check()?;
        if self.watch.active() && self.limits.fuel.is_none() {
            return Err(Error::config(
                "a timeout or cancel handle stops calls between slices of fuel: it needs metering, not `unmetered`",
            ));
        }
        let config = self.compile_config();
        let source =
            self.source.take().ok_or_else(|| Error::config("no module source: call `bytes`, `file` or `module`"))?;
        let hasher: BoxedHasher = self.hasher.take().unwrap_or_else(|| Box::new(NoVerify));
        let check = match self.pinned {
            None => Check::Hash(&self.hash, &*hasher),
            Some(_) if !self.hash.is_empty() => return Err(Error::config("give either a hash or a pinned hash")),
            Some(pin) => Check::Pinned(pin),
        };
        let module = source.load(check, config, self.record.is_some())?;
        // A reused module keeps the engine it was compiled with; its settings must be
        // the ones these limits ask for.
        match (config.fuel, module.inner.config.fuel) {
            (true, false) => {
                return Err(Error::config("fuel was asked for, but the module was compiled without fuel metering"))
            }
            (false, true) => {
                return Err(Error::config("the module was compiled with fuel metering, but the runtime is `unmetered`"))
            }
            _ => {}
        }
        if config.max_recursion_depth != module.inner.config.max_recursion_depth {
            return Err(Error::config(
                "the module was compiled with another recursion limit than `Limits::max_recursion_depth`",
            ));
        }
        let tables = match &self.table {
            Some(table) if self.tables.is_empty() => core::slice::from_ref(table),
            _ => &self.tables[..],
        };
        let table = HostTable::new(tables, core::mem::take(&mut self.dyns), self.handler.take(), self.handler_first)?;
        let tape = match (self.record.take(), self.tape.take()) {
            (Some(sink), _) => {
                let header = Header {
                    // `load` computed it when no check gave it.
                    plugin: module.inner.sha256.unwrap_or_default(),
                    engine: module.inner.config,
                    limits: self.limits,
                    args: self.args.clone(),
                    env: self.env.clone(),
                };
                Tape::recording(sink, &header)?
            }
            (None, Some(tape)) => {
                // A replay answers from the transcript, and compares what the plugin
                // outputs instead of showing it.
                self.logger = Some(Box::new(|_: &str| {}));
                self.stdout = Some(Box::new(io::Discard));
                self.stderr = Some(Box::new(io::Discard));
                tape
            }
            (None, None) => Tape::Off,
        };
        let deterministic = self.deterministic;
        let io = Io::new(
            self.stdout.take().unwrap_or_else(io::default_stdout),
            self.stderr.take().unwrap_or_else(io::default_stderr),
            self.random.take().unwrap_or_else(|| io::default_random(deterministic)),
            self.clock.take().unwrap_or_else(|| io::default_clock(deterministic)),
            core::mem::take(&mut self.args),
            core::mem::take(&mut self.env),
        );
        let logger = self.logger.take().unwrap_or_else(io::default_logger);
        let host = HostSide { state: self.state, table };
        let ctx = Ctx::boxed(host, logger, io, self.limits, tape);
        let mut rt = Runtime::new(module, ctx, self.watch)?;
        if self.keep_error_texts {
            rt.keep_error_texts()?;
        }
        Ok(rt)
    }
}

/// Checks one import of a module against what hookr provides: the nine `hookr`
/// functions, the nine `wapc` functions, the WASI preview 1 functions and
/// AssemblyScript's `env.abort`, each with its exact type.
///
/// Returns the [`Error::Link`] that loading such a module would fail with.
///
/// ```
/// use hookr::wasmi::{ExternType, FuncType, ValType};
/// let log = ExternType::Func(FuncType::new([ValType::I32, ValType::I32], []));
/// assert!(hookr::check_import("hookr", "__log", &log).is_ok());
/// assert!(hookr::check_import("wapc", "__console_log", &log).is_ok());
/// let wrong = ExternType::Func(FuncType::new([ValType::I64], []));
/// assert!(hookr::check_import("hookr", "__log", &wrong).is_err());
/// assert!(hookr::check_import("env", "foo", &log).is_err());
/// ```
pub fn check_import(module: &str, name: &str, ty: &wasmi::ExternType) -> Result<(), Error> {
    use wasmi::ExternType;
    let link_err = |reason: &str| Error::Link { module: module.into(), name: name.into(), reason: reason.into() };
    if let Some(abi) = crate::Abi::of_host_module(module) {
        let Some((params, results)) = crate::abi::signature(abi, name) else {
            return Err(link_err(&alloc::format!("the `{module}` module has no such function")));
        };
        match ty {
            ExternType::Func(ty)
                if ty.params().len() == params
                    && ty.results().len() == results
                    && ty.params().iter().chain(ty.results()).all(|t| *t == wasmi::ValType::I32) =>
            {
                Ok(())
            }
            _ => Err(link_err(&alloc::format!("wrong type (every {abi} import takes and returns i32 only)"))),
        }
    } else if module == hookr_abi::WASI_MODULE {
        let Some((params, results)) = crate::wasi::signature(name) else {
            return Err(link_err("`wasi_snapshot_preview1` has no such function"));
        };
        match ty {
            ExternType::Func(ty) if ty.params() == params && ty.results() == results => Ok(()),
            _ => Err(link_err(&alloc::format!("wrong type (preview1 declares it as {params:?} -> {results:?})"))),
        }
    } else if (module, name) == (crate::abort::MODULE, crate::abort::NAME) {
        match ty {
            ExternType::Func(ty) if ty.params() == [wasmi::ValType::I32; 4] && ty.results().is_empty() => Ok(()),
            _ => Err(link_err("wrong type (AssemblyScript's abort takes four i32 and returns nothing)")),
        }
    } else {
        Err(link_err("the host provides no such import"))
    }
}
