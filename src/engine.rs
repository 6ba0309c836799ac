//! An interpreter engine that several modules are compiled on.

use crate::error::Error;
use crate::module::EngineConfig;

/// A wasmi engine with hookr's settings, for compiling several modules on it with
/// [`Module::new_in`](crate::Module::new_in) and
/// [`Module::pinned_in`](crate::Module::pinned_in).
///
/// [`Module::new`](crate::Module::new) and [`Module::pinned`](crate::Module::pinned)
/// give each module an engine of its own. An engine holds, besides the compiled code of
/// its modules, the translator's working buffers (sized for the largest function it has
/// translated), the value stacks it keeps between calls and the function types: modules
/// compiled on one engine share those, so a device that runs several plugins at once
/// holds them once. README.md, "Embedded", has what that saves.
///
/// An engine frees what it compiled only when it is dropped itself, with every module
/// compiled on it and every runtime made from them: the code of its modules, and also
/// the function bodies of a module it compiled that hookr then refused (one without a
/// `memory` export, of another ABI, or with imports hookr does not provide; what the
/// bytes alone show, such as too many locals, is refused before compiling). Share one
/// between modules that live as long as each other and that you trust to load, such
/// as the plugins a firmware loads at start-up. A host that loads new versions of a
/// plugin while it runs, or bytes it has not vetted, should give each module its own
/// engine ([`Module::new`](crate::Module::new)), so that dropping it frees everything.
///
/// Every call of a runtime takes its engine's value-stack cache twice, under a spin lock:
/// runtimes on one engine that threads call at the same time contend for it, so a
/// busy multi-threaded host is better served by an engine per thread (README.md, "Many
/// instances").
///
/// Cloning an engine is cheap: the clones are the same engine.
///
/// ```
/// use hookr::{Engine, EngineConfig, Module, NoVerify};
/// # let wat = r#"(module (memory (export "memory") 1)
/// #     (func (export "__plugin_call") (param i32 i32) (result i32) i32.const 1))"#;
/// # let bytes = wat::parse_str(wat).unwrap();
/// let engine = Engine::new(EngineConfig::SMALL)?;
/// let first = Module::new_in(&engine, &bytes, "", &NoVerify)?;
/// let second = Module::new_in(&engine, &bytes, "", &NoVerify)?;
/// assert!(hookr::wasmi::Engine::same(first.engine(), second.engine()));
/// # Ok::<(), hookr::Error>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    pub(crate) engine: wasmi::Engine,
    pub(crate) config: EngineConfig,
}

impl Engine {
    /// An engine with the settings `config`; [`Error::Config`] when they are out of
    /// range (see [`EngineConfig`]).
    pub fn new(config: EngineConfig) -> Result<Self, Error> {
        Ok(Engine { engine: config.engine()?, config })
    }

    /// The settings the engine was made with.
    pub fn config(&self) -> EngineConfig {
        self.config
    }

    /// The wasmi engine.
    pub fn wasmi(&self) -> &wasmi::Engine {
        &self.engine
    }
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine").field("config", &self.config).finish_non_exhaustive()
    }
}
