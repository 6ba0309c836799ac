//! Module sources, hash verification and compilation.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::abi::Abi;
use crate::engine::Engine;
use crate::error::Error;
use crate::imports::{Definitions, ModuleImports};
use crate::limits::Limits;

/// Hashes module bytes and checks them against an expected hash.
///
/// Two implementations come with the crate: [`Sha256Hasher`], and [`NoVerify`], the
/// default, which computes nothing and accepts only an empty expected hash.
pub trait Hasher {
    /// The lowercase hex hash of `data`, or an empty string for a hasher that computes none.
    fn hash(&self, data: &[u8]) -> String;

    /// Checks `data` against `expected`, a hex hash in either case.
    ///
    /// Returns [`Error::MalformedHash`] for an `expected` that is not a hash of this
    /// kind and [`Error::HashMismatch`] for a hash that differs.
    fn verify(&self, expected: &str, data: &[u8]) -> Result<(), Error>;

    /// Whether the hash is SHA-256: a module checked with it knows its SHA-256, which
    /// a [transcript](crate::transcript) names it by.
    fn is_sha256(&self) -> bool {
        false
    }
}

/// SHA-256, compared in constant time.
///
/// ```
/// use hookr::{Hasher, Sha256Hasher};
/// let hash = Sha256Hasher.hash(b"");
/// assert_eq!(hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// assert!(Sha256Hasher.verify(&hash.to_uppercase(), b"").is_ok());
/// assert!(Sha256Hasher.verify(&hash, b"x").is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sha256Hasher;

/// The default hasher: it verifies nothing, so it accepts only an empty expected hash.
///
/// A hash given without a hasher fails to load, as in the Go original: name a hasher
/// such as [`Sha256Hasher`] to check one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoVerify;

/// The SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parses a 64-digit hex SHA-256 (either case).
///
/// A malformed one is described by characters, not bytes: how many were given, and the
/// first that is not a hex digit with its index, so that the message points at what the
/// user typed whatever its encoding.
pub fn parse_sha256(hex: &str) -> Result<[u8; 32], Error> {
    let given = hex.chars().count();
    if given != 64 {
        return Err(Error::MalformedHash(
            alloc::format!(
                "a SHA-256 hash has 64 hex digits, this one has {given} character{}",
                if given == 1 { "" } else { "s" }
            )
            .into(),
        ));
    }
    let mut out = [0u8; 32];
    for (i, c) in hex.chars().enumerate() {
        // `to_digit` takes ASCII digits and letters only, so 64 of them are 64 bytes.
        let digit = c
            .to_digit(16)
            .ok_or_else(|| Error::MalformedHash(alloc::format!("{c:?} at position {i} is not a hex digit").into()))?
            as u8;
        out[i / 2] |= if i % 2 == 0 { digit << 4 } else { digit };
    }
    Ok(out)
}

/// Compares two byte strings in time that depends only on their length.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keep the compiler from turning the fold into an early exit.
    core::hint::black_box(diff) == 0
}

impl Hasher for Sha256Hasher {
    fn is_sha256(&self) -> bool {
        true
    }

    fn hash(&self, data: &[u8]) -> String {
        to_hex(&sha256(data))
    }

    fn verify(&self, expected: &str, data: &[u8]) -> Result<(), Error> {
        let want = parse_sha256(expected)?;
        let have = sha256(data);
        if constant_time_eq(&want, &have) {
            Ok(())
        } else {
            Err(Error::HashMismatch { expected: to_hex(&want).into(), actual: to_hex(&have).into() })
        }
    }
}

impl Hasher for NoVerify {
    fn hash(&self, _data: &[u8]) -> String {
        String::new()
    }

    fn verify(&self, expected: &str, _data: &[u8]) -> Result<(), Error> {
        if expected.is_empty() {
            Ok(())
        } else {
            Err(Error::HashMismatch { expected: expected.to_ascii_lowercase().into(), actual: "".into() })
        }
    }
}

/// Engine settings fixed when a module is compiled.
///
/// `#[non_exhaustive]`: start from `EngineConfig::default()` (or
/// [`EngineConfig::SMALL`] on a microcontroller) and change what you need, with the
/// `with_*` setters or by assigning fields.
///
/// Three settings change what a plugin computes and are recorded in a
/// [transcript](crate::transcript): `fuel`, `max_recursion_depth` and
/// `max_stack_height`. The others trade RAM for speed (`min_stack_height`,
/// `max_cached_stacks`) or say which modules are accepted (`custom_page_sizes`); a
/// module compiled with other values of those replays the same transcript.
///
/// ```
/// use hookr::EngineConfig;
/// // A desktop: the defaults. A microcontroller: value stacks that start small and are
/// // freed after each call.
/// let device = EngineConfig::SMALL.with_max_stack_height(16 * 1024);
/// assert_eq!(device.max_cached_stacks, 0);
/// assert!(device.same_behaviour(&EngineConfig::default().with_max_stack_height(16 * 1024)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Meter fuel, so that calls can be given a fuel budget (default on; a runtime
    /// built [`unmetered`](crate::Builder::unmetered) needs it off).
    pub fuel: bool,
    /// The deepest guest call stack, in frames, before a call traps with a stack
    /// overflow (default 1024). The frames are allocated as a call goes deeper, not up
    /// front.
    pub max_recursion_depth: usize,
    /// The largest interpreter value stack, in bytes (default 1 MiB, at least
    /// [`EngineConfig::MIN_STACK_HEIGHT`], at most [`EngineConfig::MAX_STACK_HEIGHT`]);
    /// past it a call traps with a stack overflow. The stack is allocated as a call
    /// needs it, not up front.
    pub max_stack_height: usize,
    /// The value stack a call starts with, in bytes (default 1 KiB, at most
    /// `max_stack_height`). A larger start saves reallocations in calls that need a
    /// deep stack; a smaller one saves RAM in calls that do not.
    pub min_stack_height: usize,
    /// How many value stacks the engine keeps after calls, for the next calls to reuse
    /// (default 2). 0 frees a call's stack when it returns: every call allocates its
    /// stack again (about 1 KiB at the start, more for deep calls), and an idle runtime
    /// holds none. The stacks are the engine's: runtimes of one [`Module`] share them,
    /// and so do runtimes of every module compiled on one [`Engine`].
    pub max_cached_stacks: usize,
    /// The most locals one function of a module may declare (default 1 000, parameters
    /// not counted); a module with a function that declares more fails to load with
    /// [`Error::InvalidModule`]. The interpreter clears a function's locals on every
    /// call of it and charges no fuel for that, so without a bound a function of tens
    /// of thousands of locals, called in a loop, would run for minutes on a budget meant
    /// for a second. With this bound, a unit of fuel takes at most about ten times as
    /// long as in a loop of calls to a function without locals (README.md, "Every call
    /// is bounded", has the figures).
    pub max_function_locals: u32,
    /// Accept modules whose memory has 1-byte pages (the Wasm custom-page-sizes
    /// proposal), so that a plugin can ask for exactly the memory it needs instead of a
    /// multiple of 64 KiB (default on). Off, such a module fails to load with
    /// [`Error::InvalidModule`]. Limits are in bytes whatever the page size
    /// ([`Limits::max_memory_bytes`](crate::Limits::max_memory_bytes)).
    pub custom_page_sizes: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            fuel: true,
            max_recursion_depth: 1024,
            max_stack_height: 1024 * 1024,
            min_stack_height: 1024,
            max_cached_stacks: 2,
            max_function_locals: 1000,
            custom_page_sizes: true,
        }
    }
}

impl EngineConfig {
    /// The settings for a device with little RAM: as the default, but calls start on a
    /// 256-byte value stack and the engine keeps no stack between calls (a call
    /// allocates its stack and frees it when it returns). What each setting saves is in
    /// README.md, "Embedded".
    pub const SMALL: EngineConfig = EngineConfig {
        fuel: true,
        max_recursion_depth: 1024,
        max_stack_height: 1024 * 1024,
        min_stack_height: 256,
        max_cached_stacks: 0,
        max_function_locals: 1000,
        custom_page_sizes: true,
    };

    /// This config with fuel metering on or off.
    pub const fn with_fuel(mut self, fuel: bool) -> Self {
        self.fuel = fuel;
        self
    }

    /// This config with another recursion limit, in frames.
    pub const fn with_max_recursion_depth(mut self, frames: usize) -> Self {
        self.max_recursion_depth = frames;
        self
    }

    /// This config with another largest value stack, in bytes.
    pub const fn with_max_stack_height(mut self, bytes: usize) -> Self {
        self.max_stack_height = bytes;
        self
    }

    /// This config with another starting value stack, in bytes.
    pub const fn with_min_stack_height(mut self, bytes: usize) -> Self {
        self.min_stack_height = bytes;
        self
    }

    /// This config keeping at most `stacks` value stacks between calls.
    pub const fn with_max_cached_stacks(mut self, stacks: usize) -> Self {
        self.max_cached_stacks = stacks;
        self
    }

    /// This config accepting functions of at most `locals` locals.
    pub const fn with_max_function_locals(mut self, locals: u32) -> Self {
        self.max_function_locals = locals;
        self
    }

    /// This config accepting memories with 1-byte pages, or not.
    pub const fn with_custom_page_sizes(mut self, enabled: bool) -> Self {
        self.custom_page_sizes = enabled;
        self
    }

    /// The smallest `max_stack_height` a module can be compiled with.
    pub const MIN_STACK_HEIGHT: usize = 1024;

    /// The largest `max_stack_height` a module can be compiled with: 64 MiB, 64 times
    /// the default. The interpreter allocates its value stack without a way to refuse
    /// it, so a stack it cannot get would end the process, not the call.
    pub const MAX_STACK_HEIGHT: usize = 64 << 20;

    /// Whether a plugin computes the same under both configs: the same fuel metering,
    /// recursion limit and largest value stack. The other settings change only how
    /// much RAM the engine holds, or which modules it accepts.
    pub fn same_behaviour(&self, other: &EngineConfig) -> bool {
        (self.fuel, self.max_recursion_depth, self.max_stack_height)
            == (other.fuel, other.max_recursion_depth, other.max_stack_height)
    }

    /// The interpreter engine these settings describe, or [`Error::Config`] for
    /// settings that cannot work.
    ///
    /// Functions are translated lazily, on their first call, also under fuel
    /// metering: translation and validation are set to cost no fuel, so a call uses
    /// the same fuel whether its functions were translated before or not, and
    /// start-up does not pay for translating what is never called (nor keeps the
    /// translated code of functions never called: translated code takes several times
    /// the space of the Wasm it comes from). Custom sections are not kept: hookr reads
    /// none.
    ///
    /// [`Module::new`] and [`Module::pinned`] give each module an engine of its own,
    /// freed with the module, and [`Engine`] is one for several modules; this one is
    /// for compiling modules with wasmi directly, with hookr's settings.
    pub fn engine(&self) -> Result<wasmi::Engine, Error> {
        if self.max_stack_height < Self::MIN_STACK_HEIGHT {
            return Err(Error::config("`EngineConfig::max_stack_height` is below `EngineConfig::MIN_STACK_HEIGHT`"));
        }
        if self.max_stack_height > Self::MAX_STACK_HEIGHT {
            return Err(Error::config("`EngineConfig::max_stack_height` is above `EngineConfig::MAX_STACK_HEIGHT`"));
        }
        if self.min_stack_height > self.max_stack_height {
            return Err(Error::config("`EngineConfig::min_stack_height` is above `EngineConfig::max_stack_height`"));
        }
        if self.max_recursion_depth == 0 {
            return Err(Error::config("`EngineConfig::max_recursion_depth` is 0: every call would overflow the stack"));
        }
        let mut config = wasmi::Config::default();
        // wasmi panics when a minimum would exceed the maximum at any step: lower the
        // minimum first, then set the maximum, then the minimum (checked above).
        config
            .set_min_stack_height(0)
            .set_max_stack_height(self.max_stack_height)
            .set_min_stack_height(self.min_stack_height)
            .set_max_cached_stacks(self.max_cached_stacks)
            .set_max_recursion_depth(self.max_recursion_depth)
            .consume_fuel(self.fuel)
            .compilation_mode(wasmi::CompilationMode::LazyTranslation)
            .ignore_custom_sections(true)
            .fuel_cost(wasmi::CustomFuelCosts {
                bytes_copied_per_fuel: crate::meter::BYTES_PER_FUEL as u32,
                fuel_per_bytes_translated: 0,
                fuel_per_bytes_validated: 0,
            });
        if self.fuel {
            // `memory.grow` and `table.grow` cost the most fuel wasmi allows (`crate::chunk`).
            config.operator_cost(crate::chunk::operator_cost());
        }
        #[cfg(feature = "validate")]
        config.wasm_custom_page_sizes(self.custom_page_sizes);
        Ok(wasmi::Engine::new(&config))
    }
}

/// A verified, compiled plugin module.
///
/// Compiling is the expensive step; a `Module` is cheap to clone and can be
/// instantiated into many [`Runtime`](crate::Runtime)s with
/// [`Builder::module`](crate::Builder::module) without compiling again. Under `std`
/// it is `Send + Sync`.
#[derive(Clone)]
pub struct Module {
    /// Everything, behind one reference count: a runtime made from the module takes
    /// one count, not one for each of the engine, the code and the imports.
    pub(crate) inner: Arc<ModuleInner>,
}

/// What a [`Module`] shares with every runtime made from it.
pub(crate) struct ModuleInner {
    pub(crate) engine: wasmi::Engine,
    pub(crate) module: wasmi::Module,
    pub(crate) config: EngineConfig,
    /// The guest ABI the module uses.
    pub(crate) abi: Abi,
    /// The host functions of its imports, resolved once for every runtime made from it.
    pub(crate) imports: ModuleImports,
    /// Which of its ABI's [`initialisers`](Abi::initialisers) the module exports (bit
    /// `i` for the `i`th), found once instead of looked up in every instance.
    pub(crate) initialisers: u8,
    /// The module's SHA-256, when it was checked against one (or computed for a
    /// transcript).
    pub(crate) sha256: Option<[u8; 32]>,
    /// The size of a page of its memory, in bytes: 65536, or 1.
    pub(crate) page_size: u32,
    /// Whether instantiating runs a start function (the module's start section).
    pub(crate) start_section: bool,
}

impl core::fmt::Debug for Module {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Module")
            .field("abi", &self.inner.abi)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Module {
    /// Verifies `bytes` against `expected_hash` with `hasher`, then validates and
    /// compiles them on an engine of their own, made with `config`.
    ///
    /// Nothing is parsed before the hash is checked. Without the `validate` feature
    /// this fails with [`Error::Config`]: such a build loads only modules pinned at
    /// build time, with [`Module::pinned`].
    pub fn new(bytes: &[u8], expected_hash: &str, hasher: &dyn Hasher, config: EngineConfig) -> Result<Self, Error> {
        Self::hashed(bytes, expected_hash, hasher, config, false)
    }

    /// [`Module::new`]; with `want_sha256`, the module also knows its SHA-256 when
    /// `hasher` is another hash (a transcript names its plugin by it).
    pub(crate) fn hashed(
        bytes: &[u8],
        expected_hash: &str,
        hasher: &dyn Hasher,
        config: EngineConfig,
        want_sha256: bool,
    ) -> Result<Self, Error> {
        hasher.verify(expected_hash, bytes)?;
        if !cfg!(feature = "validate") {
            return Err(no_validation());
        }
        Self::verified(&Engine::new(config)?, bytes, expected_hash, hasher, want_sha256)
    }

    /// As [`Module::new`], on `engine`, which the module shares with the other modules
    /// compiled on it (see [`Engine`]).
    pub fn new_in(engine: &Engine, bytes: &[u8], expected_hash: &str, hasher: &dyn Hasher) -> Result<Self, Error> {
        hasher.verify(expected_hash, bytes)?;
        Self::verified(engine, bytes, expected_hash, hasher, false)
    }

    /// Compiles `bytes`, which `hasher` has verified against `expected_hash`; with
    /// `want_sha256`, computes their SHA-256 when the hash is not one.
    fn verified(
        engine: &Engine,
        bytes: &[u8],
        expected_hash: &str,
        hasher: &dyn Hasher,
        want_sha256: bool,
    ) -> Result<Self, Error> {
        // A hash that SHA-256 verified is the module's SHA-256.
        let sha256 = match hasher.is_sha256() {
            true => parse_sha256(expected_hash).ok(),
            false => want_sha256.then(|| sha256(bytes)),
        };
        #[cfg(not(feature = "validate"))]
        {
            let _ = (engine, bytes, sha256);
            Err(no_validation())
        }
        #[cfg(feature = "validate")]
        Self::compile(bytes, engine, sha256)
    }

    /// Checks `bytes` against the SHA-256 in `pin`, then compiles them on an engine of
    /// their own, made with `config`; validates them too when the `validate` feature is
    /// on.
    ///
    /// This is how a build without `validate` loads a module: the [`Pinned`] hash
    /// stands for a validation done at build time by [`validate_and_pin`].
    pub fn pinned(bytes: &[u8], pin: Pinned, config: EngineConfig) -> Result<Self, Error> {
        Sha256Hasher.verify(pin.0, bytes)?;
        Self::compile(bytes, &Engine::new(config)?, parse_sha256(pin.0).ok())
    }

    /// As [`Module::pinned`], on `engine`, which the module shares with the other
    /// modules compiled on it (see [`Engine`]).
    pub fn pinned_in(engine: &Engine, bytes: &[u8], pin: Pinned) -> Result<Self, Error> {
        Sha256Hasher.verify(pin.0, bytes)?;
        Self::compile(bytes, engine, parse_sha256(pin.0).ok())
    }

    /// Compiles bytes whose hash was checked (their SHA-256 is `sha256`, when known);
    /// without `validate`, only bytes whose hash matched a [`Pinned`] hash may come here.
    fn compile(bytes: &[u8], engine: &Engine, sha256: Option<[u8; 32]>) -> Result<Self, Error> {
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(Error::InvalidModule("not a WebAssembly module (no `\\0asm` header)".into()));
        }
        let config = engine.config;
        let engine = engine.engine.clone();
        // What the bytes alone show is checked before wasmi compiles them: an engine
        // keeps what it compiled until it goes, refused modules included (`Engine`).
        let page_size = check_page_sizes(bytes, &config)?;
        check_code(bytes, &config)?;
        let start_section = crate::sections::has_start(bytes)
            .ok_or_else(|| Error::InvalidModule("its sections do not decode".into()))?;
        let module = compile_wasm(&engine, bytes).map_err(|e| Error::InvalidModule(crate::error::wasmi_text(&e)))?;
        check_memory_export(&module)?;
        let abi = Abi::detect(&module)?;
        check_imports(&module)?;
        let mut defs = Definitions::new(&module);
        crate::abi::link(&mut defs, abi);
        if let Some(import) = module.imports().find(|i| i.module() == hookr_abi::WASI_MODULE) {
            if !cfg!(feature = "wasi") {
                return Err(Error::Link {
                    module: import.module().into(),
                    name: import.name().into(),
                    reason: "this build has no WASI (hookr's `wasi` feature is off)".into(),
                });
            }
            crate::wasi::link(&mut defs);
        }
        if crate::abort::imported(&module) {
            crate::abort::link(&mut defs);
        }
        let imports = defs.finish()?;
        let initialisers = exported_initialisers(&module, abi)?;
        let inner =
            ModuleInner { engine, module, config, abi, imports, initialisers, sha256, page_size, start_section };
        Ok(Module { inner: Arc::new(inner) })
    }

    /// Loads, verifies and compiles the file at `path`, which may hold at most
    /// [`MAX_MODULE_FILE`] bytes.
    #[cfg(feature = "std")]
    pub fn from_file(
        path: impl AsRef<std::path::Path>,
        expected_hash: &str,
        hasher: &dyn Hasher,
        config: EngineConfig,
    ) -> Result<Self, Error> {
        let bytes = read_file(path.as_ref())?;
        Self::new(&bytes, expected_hash, hasher, config)
    }

    /// The module's imports as `(module, name)` pairs.
    pub fn imports(&self) -> impl Iterator<Item = (&str, &str)> {
        self.inner.module.imports().map(|i| (i.module(), i.name()))
    }

    /// The names of the module's exports.
    pub fn exports(&self) -> impl Iterator<Item = &str> {
        self.inner.module.exports().map(|e| e.name())
    }

    /// The guest ABI the module uses: [`Abi::Hookr`] or [`Abi::Wapc`].
    pub fn abi(&self) -> Abi {
        self.inner.abi
    }

    /// Whether the module imports anything from WASI (`wasi_snapshot_preview1`).
    pub fn uses_wasi(&self) -> bool {
        uses_wasi(&self.inner.module)
    }

    /// The engine settings the module was compiled with.
    pub fn engine_config(&self) -> EngineConfig {
        self.inner.config
    }

    /// The module's SHA-256, when it was checked against one (or computed because a
    /// transcript was recorded).
    pub fn sha256(&self) -> Option<[u8; 32]> {
        self.inner.sha256
    }

    /// The size of a page of the module's memory, in bytes: 65536, or 1 when the module
    /// asks for 1-byte pages (the custom-page-sizes proposal). `memory.size` and
    /// `memory.grow` count in these pages; hookr's limits and
    /// [`Runtime::memory_size`](crate::Runtime::memory_size) count bytes.
    pub fn memory_page_size(&self) -> u32 {
        self.inner.page_size
    }

    /// The interpreter engine the module was compiled for.
    pub fn engine(&self) -> &wasmi::Engine {
        &self.inner.engine
    }
}

/// Why a build without `validate` refuses a module that is not pinned.
fn no_validation() -> Error {
    Error::config("this build does not validate modules: load one pinned at build time (`pinned`)")
}

fn uses_wasi(module: &wasmi::Module) -> bool {
    module.imports().any(|i| i.module() == hookr_abi::WASI_MODULE)
}

/// The module must export its memory.
fn check_memory_export(module: &wasmi::Module) -> Result<(), Error> {
    match module.get_export(hookr_abi::MEMORY) {
        Some(wasmi::ExternType::Memory(_)) => Ok(()),
        _ => Err(Error::MissingExport(hookr_abi::MEMORY)),
    }
}

/// A memory with 1-byte pages needs [`EngineConfig::custom_page_sizes`]. (With
/// `validate`, wasmi would refuse such a memory too; without it, a pinned module
/// validated elsewhere with the proposal on would otherwise load here.) Returns the page
/// size of the module's first memory.
fn check_page_sizes(bytes: &[u8], config: &EngineConfig) -> Result<u32, Error> {
    let sizes = crate::sections::memory_page_sizes(bytes)
        .ok_or_else(|| Error::InvalidModule("its memory section does not decode".into()))?;
    // One memory, as the ABI has it (and `sections::code_facts` counts grows of memory 0).
    if sizes.len() > 1 {
        return Err(Error::InvalidModule(
            alloc::format!("it defines {} memories: a plugin has one", sizes.len()).into(),
        ));
    }
    if let Some(&size) = sizes.iter().find(|&&size| size != Limits::PAGE_SIZE as u64) {
        if !config.custom_page_sizes || size != 1 {
            return Err(Error::InvalidModule(
                alloc::format!(
                    "its memory has {size}-byte pages (the custom-page-sizes proposal){}",
                    if size == 1 { ", which `EngineConfig::custom_page_sizes` turns off" } else { "" }
                )
                .into(),
            ));
        }
    }
    Ok(sizes.first().map_or(Limits::PAGE_SIZE as u32, |&size| size as u32))
}

/// Refuses a module with a function of more locals than `config` allows, or, metered,
/// with more `memory.grow` and `table.grow` instructions than a chunk of fuel pays for.
fn check_code(bytes: &[u8], config: &EngineConfig) -> Result<(), Error> {
    let max_grows = if config.fuel { crate::chunk::MAX_GROWS_PER_FUNCTION } else { u64::MAX };
    let Some(facts) = crate::sections::code_facts(bytes, max_grows) else {
        return Err(Error::InvalidModule("its code section does not decode".into()));
    };
    if let Some((index, locals)) = facts.most_locals.filter(|&(_, n)| n > u64::from(config.max_function_locals)) {
        return Err(Error::InvalidModule(
            alloc::format!(
                "function {index} of its code section declares {locals} locals, more than \
                 `EngineConfig::max_function_locals` ({}): \
                 the interpreter clears them on every call without charging fuel for it",
                config.max_function_locals
            )
            .into(),
        ));
    }
    if let Some((index, grows)) = facts.too_many_grows {
        return Err(Error::InvalidModule(
            alloc::format!(
                "function {index} of its code section has {grows} `memory.grow` and `table.grow` \
                 instructions, more than the {max_grows} a metered runtime allows: the interpreter \
                 pays for a run of them at once, and each keeps native stack until it returns"
            )
            .into(),
        ));
    }
    Ok(())
}

/// What [`Error::MissingExport`] names for a module that exports neither ABI's entry.
const NO_ENTRY: &str = "__plugin_call` or `__guest_call";

impl Abi {
    /// The ABI `module` uses, or why it has none.
    ///
    /// A module that imports from `hookr` uses the hookr ABI, one that imports from
    /// `wapc` the waPC ABI; one that imports from neither uses the ABI whose entry
    /// point it exports. The entry must be a function `(i32, i32) -> i32`. A module
    /// that imports from both, or exports both entry points, is
    /// [`Error::InvalidModule`]; one that exports neither is [`Error::MissingExport`].
    ///
    /// ```
    /// use hookr::Abi;
    /// let engine = hookr::wasmi::Engine::default();
    /// let module = |wat: &str| hookr::wasmi::Module::new(&engine, wat::parse_str(wat).unwrap()).unwrap();
    /// let wapc = module(r#"(module (import "wapc" "__console_log" (func (param i32 i32)))
    ///     (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 1)))"#);
    /// assert_eq!(Abi::detect(&wapc)?, Abi::Wapc);
    /// let neither = module("(module)");
    /// let err = Abi::detect(&neither).unwrap_err();
    /// assert_eq!(err.to_string(), "module does not export `__plugin_call` or `__guest_call`");
    /// # Ok::<(), hookr::Error>(())
    /// ```
    pub fn detect(module: &wasmi::Module) -> Result<Abi, Error> {
        use wasmi::{ExternType, ValType};
        let imported = |abi: Abi| module.imports().find(|i| i.module() == abi.host_module());
        let exports = |abi: Abi| module.get_export(abi.entry()).is_some();
        let abi = match (imported(Abi::Hookr), imported(Abi::Wapc)) {
            (Some(h), Some(w)) => {
                return Err(Error::InvalidModule(
                    alloc::format!(
                        "imports from both the hookr and the waPC ABI (`hookr::{}`, `wapc::{}`): a plugin uses one",
                        h.name(),
                        w.name()
                    )
                    .into(),
                ))
            }
            (Some(_), None) => Abi::Hookr,
            (None, Some(_)) => Abi::Wapc,
            (None, None) if exports(Abi::Wapc) && !exports(Abi::Hookr) => Abi::Wapc,
            (None, None) if exports(Abi::Hookr) => Abi::Hookr,
            (None, None) => return Err(Error::MissingExport(NO_ENTRY)),
        };
        if exports(Abi::Hookr) && exports(Abi::Wapc) {
            return Err(Error::InvalidModule(
                "exports both `__plugin_call` (hookr ABI) and `__guest_call` (waPC ABI): a plugin uses one".into(),
            ));
        }
        match module.get_export(abi.entry()) {
            Some(ExternType::Func(ty)) if ty.params() == [ValType::I32; 2] && ty.results() == [ValType::I32] => Ok(abi),
            Some(_) => Err(Error::InvalidModule(
                alloc::format!("`{}` must be a function (i32, i32) -> i32", abi.entry()).into(),
            )),
            None => Err(Error::MissingExport(abi.entry())),
        }
    }
}

/// Which of `abi`'s initialisers the module exports as functions, as bits in the order
/// they run. One of another type could never run: the module is refused for it, once,
/// rather than every runtime made from it.
fn exported_initialisers(module: &wasmi::Module, abi: Abi) -> Result<u8, Error> {
    let mut bits = 0;
    for (i, name) in abi.initialisers().iter().enumerate() {
        match module.get_export(name) {
            Some(wasmi::ExternType::Func(ty)) if ty.params().is_empty() && ty.results().is_empty() => bits |= 1 << i,
            Some(wasmi::ExternType::Func(_)) => {
                return Err(Error::InvalidModule(
                    alloc::format!("the initialiser `{name}` must be a function () -> ()").into(),
                ))
            }
            _ => {}
        }
    }
    Ok(bits)
}

/// Names the first import the host cannot satisfy, with its reason.
fn check_imports(module: &wasmi::Module) -> Result<(), Error> {
    module.imports().try_for_each(|import| crate::check_import(import.module(), import.name(), import.ty()))
}

#[cfg(feature = "validate")]
fn compile_wasm(engine: &wasmi::Engine, bytes: &[u8]) -> Result<wasmi::Module, wasmi::Error> {
    wasmi::Module::new(engine, bytes)
}

#[cfg(not(feature = "validate"))]
fn compile_wasm(engine: &wasmi::Engine, bytes: &[u8]) -> Result<wasmi::Module, wasmi::Error> {
    // SAFETY: without `validate`, `Module::pinned` and `Module::pinned_in` are the only
    // ways here, and they have checked that the bytes have the SHA-256 of a `Pinned`,
    // whose constructor's contract is that `validate_and_pin` validated exactly those
    // bytes. Validation there used the same Wasm features (`EngineConfig` changes only
    // fuel metering and stack limits, which do not change what is valid).
    unsafe { wasmi::Module::new_unchecked(engine, bytes) }
}

/// A module's SHA-256, pinned after [`validate_and_pin`] validated the module.
///
/// A build without the `validate` feature compiles a module without validating it,
/// which is sound only for bytes that were validated before: constructing a `Pinned`
/// is where a program vouches for that, so it is `unsafe`. A firmware's `build.rs`
/// typically writes the constant for it:
///
/// ```
/// // Generated by build.rs from `hookr::validate_and_pin(&wasm)`.
/// // SAFETY: `validate_and_pin` validated the module with this SHA-256.
/// const PLUGIN: hookr::Pinned = unsafe {
///     hookr::Pinned::new_unchecked("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
/// };
/// assert_eq!(PLUGIN.sha256(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinned(&'static str);

impl Pinned {
    /// Pins `sha256_hex`, a SHA-256 in hex (either case).
    ///
    /// # Safety
    ///
    /// `sha256_hex` must be the hash [`validate_and_pin`] returned for a module (with
    /// the same hookr and wasmi versions): any bytes with this hash are then loaded
    /// without validation, and wasmi's behaviour on invalid bytes is undefined.
    pub const unsafe fn new_unchecked(sha256_hex: &'static str) -> Self {
        Pinned(sha256_hex)
    }

    /// The pinned SHA-256, as given.
    pub const fn sha256(&self) -> &'static str {
        self.0
    }
}

/// Validates `wasm` as a hookr plugin and returns its SHA-256 in hex, to pin with
/// [`Pinned`] in a build without the `validate` feature.
///
/// Run it where validation is affordable, typically in a firmware's `build.rs` with
/// hookr as a build-dependency; the device then loads the module with
/// [`Builder::pinned`](crate::Builder::pinned) and skips validation, which the hash
/// check makes sound.
///
/// ```
/// let wasm = wat::parse_str(r#"(module (memory (export "memory") 1)
///     (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1)))"#).unwrap();
/// let hash = hookr::validate_and_pin(&wasm).unwrap();
/// assert_eq!(hash, hookr::to_hex(&hookr::sha256(&wasm)));
/// assert!(hookr::validate_and_pin(b"\0asm\x01\0\0\0garbage").is_err());
/// ```
#[cfg(feature = "validate")]
pub fn validate_and_pin(wasm: &[u8]) -> Result<String, Error> {
    Module::compile(wasm, &Engine::new(EngineConfig::default())?, None)?;
    Ok(to_hex(&sha256(wasm)))
}

/// The largest module file [`Module::from_file`] reads: 256 MiB. A path to a device
/// or a pipe that never ends is refused once it passes this, not read until memory
/// runs out.
pub const MAX_MODULE_FILE: usize = 256 << 20;

/// Reads the file at `path`, at most `limit` bytes of it: a longer one (or an endless
/// one, a device or a pipe) is [`Error::TooLarge`] about `what`.
#[cfg(feature = "std")]
fn read_file_within(path: &std::path::Path, limit: usize, what: &'static str) -> Result<Vec<u8>, Error> {
    use std::io::Read as _;
    let io = |source| Error::Io { path: alloc::format!("{}", path.display()).into(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > limit {
        return Err(Error::TooLarge { what, len: bytes.len(), limit });
    }
    Ok(bytes)
}

#[cfg(feature = "std")]
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    read_file_within(path, MAX_MODULE_FILE, "module file")
}

/// Where a module comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source<'a> {
    Bytes(&'a [u8]),
    Owned(Vec<u8>),
    #[cfg(feature = "std")]
    File(std::path::PathBuf),
    Compiled(Module),
}

/// How the bytes of a module are checked before they are compiled.
pub(crate) enum Check<'h> {
    Hash(&'h str, &'h dyn Hasher),
    Pinned(Pinned),
}

impl Source<'_> {
    /// Checks and compiles the module; with `want_sha256`, makes sure the module knows
    /// its SHA-256 (computing it from the bytes when no check gave it).
    pub(crate) fn load(self, check: Check<'_>, config: EngineConfig, want_sha256: bool) -> Result<Module, Error> {
        // A pinned module always knows its SHA-256.
        let compile = |bytes: &[u8]| match check {
            Check::Hash(expected, hasher) => Module::hashed(bytes, expected, hasher, config, want_sha256),
            Check::Pinned(pin) => Module::pinned(bytes, pin, config),
        };
        match self {
            Source::Bytes(b) => compile(b),
            Source::Owned(b) => compile(&b),
            #[cfg(feature = "std")]
            Source::File(p) => compile(&read_file(&p)?),
            Source::Compiled(m) => match check {
                Check::Hash("", _) => Ok(m),
                _ => Err(Error::config("a hash is checked when a module is compiled, not when it is reused")),
            },
        }
    }
}

pub(crate) type BoxedHasher = Box<dyn Hasher + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_malformed_hashes() {
        let h = sha256(b"abc");
        assert_eq!(parse_sha256(&to_hex(&h)).unwrap(), h);
        assert!(matches!(parse_sha256("abc"), Err(Error::MalformedHash(_))));
        let bad = "g".repeat(64);
        let err = alloc::format!("{}", parse_sha256(&bad).unwrap_err());
        assert!(err.contains("'g' at position 0"), "{err}");
    }

    #[test]
    fn constant_time_eq_compares_everything() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
