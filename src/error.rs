//! The one error type of the runtime.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

pub use wasmi::TrapCode;

use hookr_abi::codec::{DecodeError, EncodeError};

/// What went wrong while loading a plugin or calling it.
///
/// Every variant says what failed and where; match on it to tell a bad module from a
/// plugin's own error, a trap or an exhausted limit.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The module's hash differs from the expected one.
    HashMismatch {
        /// The hash that was expected (as given, lower-cased).
        expected: Box<str>,
        /// The hash the module has, or an empty string for a hasher that computes none.
        actual: Box<str>,
    },
    /// The expected hash is not a hash: wrong length or not hex.
    MalformedHash(Box<str>),
    /// The bytes are not a valid WebAssembly module.
    InvalidModule(Box<str>),
    /// The module lacks a required export. For a module that exports neither ABI's
    /// entry point it names both, and reads "module does not export `__plugin_call`
    /// or `__guest_call`".
    MissingExport(&'static str),
    /// The module imports something the host does not provide, or with the wrong type.
    Link {
        /// The import's module.
        module: Box<str>,
        /// The import's name.
        name: Box<str>,
        /// What is wrong with it.
        reason: Box<str>,
    },
    /// An initialiser (`_start`, `_initialize`, `hookr_init`, or a waPC guest's
    /// `wapc_init`) failed.
    Init {
        /// The initialiser's export name.
        name: &'static str,
        /// Why it failed.
        source: Box<Error>,
    },
    /// The guest trapped.
    Trap(TrapCode),
    /// The call used up its fuel: the interpreter's, or what host imports charged
    /// for the bytes they moved (see [`meter`](crate::meter)).
    OutOfFuel,
    /// The call ran past its timeout (the limit it had).
    Timeout(core::time::Duration),
    /// The call was stopped through a [`CancelHandle`](crate::CancelHandle), or
    /// abandoned half-way.
    Cancelled,
    /// Every runtime of a pool stayed lent out for as long as it was waited for.
    PoolExhausted {
        /// How many runtimes the pool has.
        size: usize,
        /// How long it was waited for.
        waited: core::time::Duration,
    },
    /// The guest asked for more linear memory (or table elements, or instances) than
    /// the runtime allows.
    MemoryLimit(Box<str>),
    /// The guest called WASI `proc_exit` with this status during a call (or with a
    /// non-zero status during initialisation).
    Exit(i32),
    /// The plugin reported an error (through `__plugin_error`, or a waPC guest's
    /// `__guest_error`), or its call returned failure without a message.
    Plugin(Box<str>),
    /// The plugin reported an error, or returned failure without a message, as for
    /// [`Error::Plugin`], on a runtime that keeps error texts
    /// ([`Builder::keep_error_texts`](crate::Builder::keep_error_texts)): the text,
    /// `len` bytes, is in [`Runtime::last_error_text`](crate::Runtime::last_error_text)
    /// until the next call, and this error carries none, so that a failing call
    /// allocates nothing.
    PluginKept {
        /// The length of the text in bytes.
        len: usize,
    },
    /// A host function failed while the host called it directly, or a host-side
    /// problem ended the call.
    Host(Box<str>),
    /// A pointer/length pair the guest handed to a host import lies outside its memory.
    BadGuestPointer {
        /// The host import that received it.
        import: &'static str,
        /// The pointer, as the guest passed it.
        ptr: u32,
        /// The length.
        len: u32,
        /// The size of the guest's memory in bytes.
        memory: usize,
    },
    /// A payload, response, error or log line is larger than the configured limit.
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A typed payload could not be encoded.
    Encode(EncodeError),
    /// A typed response could not be decoded.
    Decode(DecodeError),
    /// The module source could not be read.
    #[cfg(feature = "std")]
    Io {
        /// The path that could not be read.
        path: Box<str>,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The builder was given conflicting, missing or unworkable options.
    Config(Cow<'static, str>),
    /// Any other error reported by the interpreter.
    Wasm(Box<str>),
    /// A transcript does not decode, or cannot be replayed against this plugin.
    Transcript(Cow<'static, str>),
    /// A replayed plugin did something else than its transcript says.
    Diverged(Box<crate::transcript::Divergence>),
}

impl Error {
    pub(crate) fn plugin(msg: impl Into<String>) -> Self {
        Error::Plugin(msg.into().into_boxed_str())
    }

    pub(crate) const fn config(why: &'static str) -> Self {
        Error::Config(Cow::Borrowed(why))
    }

    pub(crate) fn host(msg: impl Into<String>) -> Self {
        Error::Host(msg.into().into_boxed_str())
    }

    /// The trap code if this error is a trap (running out of fuel counts as one).
    pub fn trap_code(&self) -> Option<TrapCode> {
        match self {
            Error::Trap(code) => Some(*code),
            Error::OutOfFuel => Some(TrapCode::OutOfFuel),
            Error::Init { source, .. } => source.trap_code(),
            _ => None,
        }
    }

    /// Converts an interpreter error, recovering hookr errors raised inside host imports.
    pub(crate) fn from_wasmi(err: wasmi::Error) -> Self {
        if let Some(code) = err.as_trap_code() {
            return match code {
                TrapCode::OutOfFuel => Error::OutOfFuel,
                TrapCode::GrowthOperationLimited => {
                    Error::MemoryLimit("memory or table growth exceeds the limit".into())
                }
                code => Error::Trap(code),
            };
        }
        if let Some(status) = err.i32_exit_status() {
            return Error::Exit(status);
        }
        if err.downcast_ref::<Fault>().is_some() {
            return match err.downcast::<Fault>() {
                Some(Fault(e)) => e,
                None => Error::Wasm("a host error was lost".into()),
            };
        }
        use wasmi::errors::{ErrorKind, InstantiationError as Inst};
        match err.kind() {
            ErrorKind::Memory(_)
            | ErrorKind::Table(_)
            | ErrorKind::UserLimits(_)
            | ErrorKind::Instantiation(
                Inst::FailedToInstantiateMemory(_)
                | Inst::FailedToInstantiateTable(_)
                | Inst::TooManyInstances
                | Inst::TooManyTables
                | Inst::TooManyMemories,
            ) => Error::MemoryLimit(wasmi_text(&err)),
            _ => Error::Wasm(wasmi_text(&err)),
        }
    }
}

/// The interpreter's words for one of its errors; under `terse-errors`, only what kind
/// of error it is, which keeps wasmi's `Display` impls (and the `core::fmt` code
/// behind them, float formatting included) out of the binary.
pub(crate) fn wasmi_text(err: &wasmi::Error) -> Box<str> {
    #[cfg(not(feature = "terse-errors"))]
    return alloc::format!("{err}").into();
    #[cfg(feature = "terse-errors")]
    {
        use wasmi::errors::ErrorKind as K;
        match err.kind() {
            K::Message(text) => text.clone(),
            K::TrapCode(code) => code.trap_message().into(),
            K::I32ExitStatus(_) => "the guest exited".into(),
            K::Host(_) => "a host function failed".into(),
            K::Global(_) => "global error".into(),
            K::Memory(_) => "linear memory error".into(),
            K::Table(_) => "table error".into(),
            K::Linker(_) => "linker error".into(),
            K::Instantiation(_) => "instantiation error".into(),
            K::Fuel(_) => "fuel error".into(),
            K::Func(_) => "function error".into(),
            K::Read(_) => "cannot read the module".into(),
            K::Wasm(_) => "the module does not parse".into(),
            _ => "interpreter error".into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::HashMismatch { expected, actual } if actual.is_empty() => {
                write!(f, "hash mismatch: expected {expected}, but no hasher was given to compute one")
            }
            Error::HashMismatch { expected, actual } => {
                write!(f, "hash mismatch: expected {expected}, module has {actual}")
            }
            Error::MalformedHash(why) => write!(f, "malformed hash: {why}"),
            Error::InvalidModule(why) => write!(f, "invalid module: {why}"),
            Error::MissingExport(name) => write!(f, "module does not export `{name}`"),
            Error::Link { module, name, reason } => write!(f, "cannot link import `{module}::{name}`: {reason}"),
            Error::Init { name, source } => write!(f, "initialiser `{name}` failed: {source}"),
            Error::Trap(code) => write!(f, "plugin trapped: {code}"),
            Error::OutOfFuel => f.write_str("plugin ran out of fuel"),
            Error::Timeout(limit) => write!(f, "call exceeded its timeout of {limit:?}"),
            Error::Cancelled => f.write_str("call was cancelled"),
            Error::PoolExhausted { size, waited } => {
                write!(f, "all {size} runtimes of the pool stayed busy for {waited:?}")
            }
            Error::MemoryLimit(why) => write!(f, "memory limit: {why}"),
            Error::Exit(status) => write!(f, "plugin exited with status {status}"),
            Error::Plugin(msg) => write!(f, "plugin error: {msg}"),
            Error::PluginKept { len } => write!(f, "plugin error ({len} bytes of text kept by the runtime)"),
            Error::Host(msg) => write!(f, "host error: {msg}"),
            Error::BadGuestPointer { import, ptr, len, memory } => write!(
                f,
                "bad guest pointer in `{import}`: {len} bytes at 0x{ptr:08x} lie outside the {memory}-byte memory"
            ),
            Error::TooLarge { what, len, limit } => {
                write!(f, "{what} of {len} bytes exceeds the limit of {limit} bytes")
            }
            Error::Encode(e) => write!(f, "cannot encode payload: {e}"),
            Error::Decode(e) => write!(f, "cannot decode response: {e}"),
            #[cfg(feature = "std")]
            Error::Io { path, source } => write!(f, "cannot read `{path}`: {source}"),
            Error::Config(why) => write!(f, "invalid configuration: {why}"),
            Error::Wasm(why) => write!(f, "{why}"),
            Error::Transcript(why) => write!(f, "transcript: {why}"),
            Error::Diverged(d) => write!(f, "replay diverged: {d}"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Init { source, .. } => Some(source.as_ref()),
            Error::Encode(e) => Some(e),
            Error::Decode(e) => Some(e),
            #[cfg(feature = "std")]
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Error::Encode(e)
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

/// Carries a hookr [`Error`] out of a host import through the interpreter, which
/// unwinds the guest and hands it back unchanged.
#[cfg_attr(not(feature = "terse-errors"), derive(Debug))]
pub(crate) struct Fault(pub(crate) Error);

/// wasmi asks a host error for `Display` and `Debug`; hookr takes a `Fault` back out
/// of every interpreter error before anything shows it, so under `terse-errors` these
/// say only what it is, and keep hookr's own formatting out of the vtable.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(not(feature = "terse-errors"))]
        return self.0.fmt(f);
        #[cfg(feature = "terse-errors")]
        f.write_str("hookr error")
    }
}

#[cfg(feature = "terse-errors")]
impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fault")
    }
}

impl wasmi::errors::HostError for Fault {}

impl From<Error> for wasmi::Error {
    fn from(e: Error) -> Self {
        wasmi::Error::host(Fault(e))
    }
}

/// The same words as [`Display`](fmt::Display), written with defmt: the format strings
/// are interned (they stay in the ELF, not in flash) and the numbers are formatted by
/// the decoder on the host, so logging an error pulls in no `core::fmt` code of its own.
#[cfg(feature = "defmt")]
impl defmt::Format for Error {
    fn format(&self, f: defmt::Formatter<'_>) {
        use defmt::write;
        match self {
            Error::HashMismatch { expected, actual } if actual.is_empty() => {
                write!(f, "hash mismatch: expected {=str}, but no hasher was given to compute one", &**expected)
            }
            Error::HashMismatch { expected, actual } => {
                write!(f, "hash mismatch: expected {=str}, module has {=str}", &**expected, &**actual)
            }
            Error::MalformedHash(why) => write!(f, "malformed hash: {=str}", &**why),
            Error::InvalidModule(why) => write!(f, "invalid module: {=str}", &**why),
            Error::MissingExport(name) => write!(f, "module does not export `{=str}`", name),
            Error::Link { module, name, reason } => {
                write!(f, "cannot link import `{=str}::{=str}`: {=str}", &**module, &**name, &**reason)
            }
            Error::Init { name, source } => write!(f, "initialiser `{=str}` failed: {}", name, source),
            Error::Trap(code) => write!(f, "plugin trapped: {=str}", code.trap_message()),
            Error::OutOfFuel => write!(f, "plugin ran out of fuel"),
            Error::Timeout(limit) => write!(f, "call exceeded its timeout of {=u64} us", limit.as_micros() as u64),
            Error::Cancelled => write!(f, "call was cancelled"),
            Error::PoolExhausted { size, waited } => write!(
                f,
                "all {=usize} runtimes of the pool stayed busy for {=u64} us",
                size,
                waited.as_micros() as u64
            ),
            Error::MemoryLimit(why) => write!(f, "memory limit: {=str}", &**why),
            Error::Exit(status) => write!(f, "plugin exited with status {=i32}", status),
            Error::Plugin(msg) => write!(f, "plugin error: {=str}", &**msg),
            Error::PluginKept { len } => {
                write!(f, "plugin error ({=usize} bytes of text kept by the runtime)", len)
            }
            Error::Host(msg) => write!(f, "host error: {=str}", &**msg),
            Error::BadGuestPointer { import, ptr, len, memory } => write!(
                f,
                "bad guest pointer in `{=str}`: {=u32} bytes at {=u32:#010x} lie outside the {=usize}-byte memory",
                import, len, ptr, memory
            ),
            Error::TooLarge { what, len, limit } => {
                write!(f, "{=str} of {=usize} bytes exceeds the limit of {=usize} bytes", what, len, limit)
            }
            // Rare, and composed by the codec: its own words, through `Display`.
            Error::Encode(e) => write!(f, "cannot encode payload: {}", defmt::Display2Format(e)),
            Error::Decode(e) => write!(f, "cannot decode response: {}", defmt::Display2Format(e)),
            #[cfg(feature = "std")]
            Error::Io { path, source } => {
                write!(f, "cannot read `{=str}`: {}", &**path, defmt::Display2Format(source))
            }
            Error::Config(why) => write!(f, "invalid configuration: {=str}", &**why),
            Error::Wasm(why) => write!(f, "{=str}", &**why),
            Error::Transcript(why) => write!(f, "transcript: {=str}", &**why),
            Error::Diverged(d) => write!(
                f,
                "replay diverged: call {=u64} (`{=str}`): {=str}: expected {=[u8]:a}, got {=[u8]:a}",
                d.call,
                d.op.as_str(),
                &*d.what,
                d.expected.as_slice(),
                d.actual.as_slice()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        // Results of every call carry it; keep it to a few words.
        assert!(core::mem::size_of::<Error>() <= 56, "{}", core::mem::size_of::<Error>());
    }
}
