//! What the checks share: how a failure is told, and where plugin log lines go.

use alloc::string::String;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_semihosting::hprintln;
use hookr::Error;

/// Plugin `__log` lines seen so far, across all runtimes.
pub static LOG_LINES: AtomicU32 = AtomicU32::new(0);

/// Where the plugins' `__log` lines go: the semihosting console.
pub fn log_line(line: &str) {
    LOG_LINES.fetch_add(1, Ordering::Relaxed);
    hprintln!("  [plugin] {}", line);
}

/// A failed check.
pub enum Failure {
    /// A call failed that should have succeeded.
    Call(&'static str, Error),
    /// A result differs from what was expected.
    Mismatch(&'static str, String, String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Call(what, e) => write!(f, "{what}: {e}"),
            Failure::Mismatch(what, got, want) => write!(f, "{what}: got {got}, want {want}"),
        }
    }
}

pub fn ensure_eq<V: PartialEq + fmt::Debug>(what: &'static str, got: V, want: V) -> Result<(), Failure> {
    if got == want {
        Ok(())
    } else {
        Err(Failure::Mismatch(what, alloc::format!("{got:?}"), alloc::format!("{want:?}")))
    }
}

/// Attaches what was being done to a runtime error.
pub trait Context<V> {
    fn context(self, what: &'static str) -> Result<V, Failure>;
}

impl<V> Context<V> for Result<V, Error> {
    fn context(self, what: &'static str) -> Result<V, Failure> {
        self.map_err(|e| Failure::Call(what, e))
    }
}

/// Shows bytes as text when they are UTF-8.
pub struct Text<'a>(pub &'a [u8]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match core::str::from_utf8(self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "{:02x?}", self.0),
        }
    }
}

/// Fails unless `got` is what `want` says it should be, naming `what` and the rule.
pub fn ensure(what: &'static str, ok: bool, got: impl fmt::Display, want: &'static str) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        Err(Failure::Mismatch(what, alloc::format!("{got}"), String::from(want)))
    }
}
