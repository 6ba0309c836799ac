//! What the checks share: how a failure is told, and where plugin log lines go.
//!
//! Everything is logged through defmt: the format strings stay in the ELF for the
//! decoder (`defmt-print`), and only their indices and the values go out.

use core::sync::atomic::{AtomicU32, Ordering};

use hookr::Error;

/// Plugin `__log` lines seen so far, across all runtimes.
pub static LOG_LINES: AtomicU32 = AtomicU32::new(0);

/// Where the plugins' `__log` lines go: defmt, as hookr's own default logger does,
/// counted for the checks.
pub fn log_line(line: &str) {
    LOG_LINES.fetch_add(1, Ordering::Relaxed);
    defmt::info!("  [plugin] {=str}", line);
}

/// A failed check. What differed was logged where it was found ([`ensure_eq`]).
pub enum Failure {
    /// A call failed that should have succeeded.
    Call(&'static str, Error),
    /// A result differs from what was expected.
    Mismatch(&'static str),
}

impl defmt::Format for Failure {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Failure::Call(what, e) => defmt::write!(f, "{=str}: {}", what, e),
            Failure::Mismatch(what) => defmt::write!(f, "{=str}: not what was expected", what),
        }
    }
}

/// Fails unless `got == want`, logging both when they differ.
pub fn ensure_eq<V: PartialEq + defmt::Format>(what: &'static str, got: V, want: V) -> Result<(), Failure> {
    if got == want {
        Ok(())
    } else {
        defmt::error!("{=str}: got {}, want {}", what, got, want);
        Err(Failure::Mismatch(what))
    }
}

/// Fails unless `ok`, logging `got` and the rule it broke.
pub fn ensure(what: &'static str, ok: bool, got: impl defmt::Format, want: &'static str) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        defmt::error!("{=str}: got {}, want {=str}", what, got, want);
        Err(Failure::Mismatch(what))
    }
}

/// A call that should have failed returned `out`: logs it and fails.
pub fn unexpected_ok(what: &'static str, out: &[u8], want: &'static str) -> Failure {
    defmt::error!("{=str}: got Ok({}), want {=str}", what, Text(out), want);
    Failure::Mismatch(what)
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

/// Shows bytes as a quoted string when they are UTF-8, else as bytes.
pub struct Text<'a>(pub &'a [u8]);

impl defmt::Format for Text<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        match core::str::from_utf8(self.0) {
            Ok(s) => defmt::write!(f, "{=str:?}", s),
            Err(_) => defmt::write!(f, "{=[u8]:x}", self.0),
        }
    }
}
