//! What host work costs in fuel, and how much output one call may make.
//!
//! Fuel is the interpreter's unit of work: wasmi charges about one unit per
//! instruction, which it runs at roughly 10⁹ units a second on a desktop core. Work
//! that host imports do for a guest costs fuel at about the same rate of time, so that
//! no import lets a plugin make its host work for free:
//!
//! **every call of a `hookr`, `wapc` or WASI import costs [`IMPORT_FUEL`], plus one unit per
//! [`BYTES_PER_FUEL`] bytes (rounded up) that it moves, plus one unit per byte of
//! randomness it makes.**
//!
//! Moving bytes (a `memcpy`) runs at 10–15 GB/s, making random ones (the operating
//! system's generator) at about 0.4 GB/s: hence the two rates. The engine is set to
//! charge `memory.copy`, `memory.fill` and `memory.init` at [`BYTES_PER_FUEL`] too,
//! so a guest pays the same for a copy whether it makes it or asks the host to, and
//! `memory.grow` and `table.grow` 255 units each, refused or not, which bounds the
//! native stack they can take (README, Safety); a growth also pays for the bytes it adds.
//!
//! | import (waPC's name) | the bytes it is charged for |
//! |---|---|
//! | `__plugin_request` (`__guest_request`) | the operation name and payload it copies into guest memory |
//! | `__plugin_response`, `__plugin_error` (`__guest_response`, `__guest_error`) | the bytes it copies out of guest memory (an error at most [`max_error`](crate::Limits::max_error)) |
//! | `__host_call` | the operation name (for waPC also the binding and namespace) and payload handed to the host function, then its response or error; for a typed host function also [`decode_cost`] of the payload, one unit a byte, before it decodes it |
//! | `__host_response`, `__host_error` | the bytes it copies into guest memory |
//! | `__log` (`__console_log`) | the line (at most [`max_log`](crate::Limits::max_log)), and [`OUTPUT_FUEL`] when it reaches the logger |
//! | `fd_write` | [`IOVEC_FUEL`] per iovec in the array it reads, then the bytes it passes to the sink and [`OUTPUT_FUEL`] for passing them |
//! | `fd_read` | [`IOVEC_FUEL`] per iovec in the array it reads |
//! | `random_get` | the random bytes, at one unit each |
//! | `poll_oneoff` | [`IOVEC_FUEL`] per subscription, the subscriptions and events it reads and writes, and one unit per nanosecond it waits |
//! | `args_get`, `environ_get` | the strings and pointers it writes |
//! | `clock_time_get`, `clock_res_get`, `fd_fdstat_get`, the `*_sizes_get` calls | the result they write |
//! | every other import | nothing beyond the fixed cost |
//!
//! An import checks the cost of what it is asked before it does it: when the call's
//! fuel cannot pay, the call ends with [`Error::OutOfFuel`]
//! and the work is not done. A host function's response is charged when it comes
//! back. With metering on, a call that has `n` units of fuel can therefore make its
//! host move at most about `8 × n` bytes (or make `n` random ones), whatever import it
//! loops on; what it sends to sinks and the logger is bounded per call on top.
//!
//! A call run in slices ([`SlicedCall`](crate::SlicedCall)) pays an import that
//! costs more than its slice holds out of the rest of its budget, and the call pauses
//! right after: fuel is charged the same way whether a call runs whole or in slices,
//! so its total is the same.
//!
//! Output (stdout, stderr and log lines together) is bounded per call by
//! [`max_output_per_call`](crate::Limits::max_output_per_call); [`Usage`] says what
//! a call used and what was dropped.

use crate::Error;

/// The fuel every call of a host import costs, whatever it does: about the time a
/// call into the host and back takes.
pub const IMPORT_FUEL: u64 = 32;

/// The bytes a host import moves for one unit of fuel; the engine charges
/// `memory.copy` and `memory.fill` at this rate too.
pub const BYTES_PER_FUEL: u64 = 8;

/// The fuel each iovec of an `fd_write` or `fd_read` costs: checking it and
/// gathering its bytes take about as long as moving 64 bytes.
pub const IOVEC_FUEL: u64 = 8;

/// The fuel for handing output to a sink (once per `fd_write`, which passes all its
/// bytes in one write) or a line to the logger: about a system call, which a sink or
/// logger that writes to a file or terminal makes.
pub const OUTPUT_FUEL: u64 = 1000;

/// The fuel an import that moves `bytes` bytes (and makes no random ones) costs.
///
/// ```
/// use hookr::meter::{import_cost, IMPORT_FUEL};
/// assert_eq!(import_cost(0), IMPORT_FUEL);
/// assert_eq!(import_cost(1), IMPORT_FUEL + 1);
/// assert_eq!(import_cost(64 << 10), IMPORT_FUEL + 8192);
/// ```
pub const fn import_cost(bytes: usize) -> u64 {
    IMPORT_FUEL + bytes_cost(bytes)
}

/// The fuel a typed host function's request of `bytes` bytes costs to decode, on top
/// of moving it: one unit a byte. Every MessagePack value takes at least a byte, and
/// decoding one (or skipping it, for a field the type does not have) takes about as
/// long as the interpreter takes for a few instructions.
///
/// ```
/// assert_eq!(hookr::meter::decode_cost(4096), 4096);
/// ```
pub const fn decode_cost(bytes: usize) -> u64 {
    bytes as u64
}

/// The fuel for moving `bytes` bytes, without the fixed cost of an import.
pub(crate) const fn bytes_cost(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(BYTES_PER_FUEL)
}

/// What the last call used, and what the output bound dropped.
///
/// Returned by [`Runtime::last_call`](crate::Runtime::last_call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// The fuel the call used, host imports' charges included; `None` when the
    /// runtime is unmetered. The same whether the call ran whole or in slices.
    pub fuel: Option<u64>,
    /// Bytes passed to the stdout and stderr sinks and the logger (an empty log line
    /// counts as one).
    pub output_bytes: u64,
    /// `fd_write` calls answered `EBADF` because the call's output was spent.
    pub refused_writes: u64,
    /// Log lines dropped because the call's output was spent.
    pub dropped_log_lines: u64,
}

/// The fuel and output accounting of the call under way (or initialiser).
#[derive(Debug)]
pub(crate) struct Meter {
    /// Whether fuel is metered at all (the engine consumes fuel).
    metered: bool,
    /// The running call's whole budget.
    budget: u64,
    /// The part of the budget not yet handed to the store, which gets it a chunk or a
    /// slice at a time. An import that costs more than the store holds takes the
    /// difference from here.
    unissued: u64,
    /// The store's fuel while an import runs, read before and written back after.
    in_store: u64,
    /// Output bytes the call may still make.
    output_left: usize,
    /// The run under way is sliced: its budget is handed out slice by slice.
    sliced: bool,
    pub(crate) usage: Usage,
}

impl Meter {
    pub(crate) fn new(metered: bool) -> Self {
        Meter { metered, budget: 0, unissued: 0, in_store: 0, output_left: 0, sliced: false, usage: Usage::default() }
    }

    pub(crate) fn metered(&self) -> bool {
        self.metered
    }

    /// Whether the run under way (a call or an initialiser) runs in slices.
    pub(crate) fn sliced(&self) -> bool {
        self.sliced
    }

    /// Starts a call or initialiser with `budget` fuel and `output` bytes of output.
    /// The budget stays here, and [`issue`](Self::issue) hands it to the store a chunk
    /// or a slice at a time (`crate::chunk`), whether the run is sliced or not.
    pub(crate) fn start(&mut self, budget: u64, output: usize, sliced: bool) {
        self.budget = budget;
        self.unissued = budget;
        self.sliced = sliced;
        self.output_left = output;
        self.usage = Usage::default();
    }

    /// Takes up to `fuel` of the unissued budget for the store.
    pub(crate) fn issue(&mut self, fuel: u64) -> u64 {
        let fuel = fuel.min(self.unissued);
        self.unissued -= fuel;
        fuel
    }

    /// Whether the whole budget has been handed out.
    pub(crate) fn exhausted(&self) -> bool {
        self.unissued == 0
    }

    /// Ends the call: records the fuel it used, given what is left in the store.
    pub(crate) fn finish(&mut self, store_fuel: Option<u64>) {
        self.usage.fuel = match (self.metered, store_fuel) {
            (true, Some(left)) => Some(self.budget.saturating_sub(left.saturating_add(self.unissued))),
            _ => None,
        };
        self.unissued = 0;
    }

    /// Before an import runs: the store's fuel, to charge against.
    pub(crate) fn enter(&mut self, store_fuel: u64) {
        self.in_store = store_fuel;
    }

    /// After an import ran: the store's fuel to write back.
    pub(crate) fn leave(&self) -> u64 {
        self.in_store
    }

    /// Charges `fuel` for host work, from the store's fuel and then from the unissued
    /// budget; [`Error::OutOfFuel`] when together they cannot pay.
    #[inline]
    pub(crate) fn charge(&mut self, fuel: u64) -> Result<(), wasmi::Error> {
        if !self.metered {
            return Ok(());
        }
        match self.in_store.checked_sub(fuel) {
            Some(left) => self.in_store = left,
            None => {
                let short = fuel - self.in_store;
                if short > self.unissued {
                    return Err(Error::OutOfFuel.into());
                }
                self.unissued -= short;
                self.in_store = 0;
            }
        }
        Ok(())
    }

    /// Charges for moving `bytes` bytes.
    #[inline]
    pub(crate) fn charge_bytes(&mut self, bytes: usize) -> Result<(), wasmi::Error> {
        self.charge(bytes_cost(bytes))
    }

    /// Charges for making `bytes` random bytes.
    pub(crate) fn charge_random(&mut self, bytes: usize) -> Result<(), wasmi::Error> {
        self.charge(bytes as u64)
    }

    /// How many of `len` output bytes a write may pass on: all of them, fewer when
    /// the call's output runs out, none once it has. The caller reports what it
    /// passed with [`output`](Self::output).
    pub(crate) fn output_room(&self, len: usize) -> usize {
        len.min(self.output_left)
    }

    /// Whether the call's output is spent: nothing more is passed on.
    pub(crate) fn output_spent(&self) -> bool {
        self.output_left == 0
    }

    /// Whether a log line of at least `len` bytes may still fit (an empty one takes one).
    pub(crate) fn may_fit(&self, len: usize) -> bool {
        len.max(1) <= self.output_left
    }

    /// Spends the rest of the call's output: nothing more is passed on.
    pub(crate) fn spend_output(&mut self) {
        self.output_left = 0;
    }

    /// Records `len` bytes of output passed on.
    pub(crate) fn output(&mut self, len: usize) {
        self.output_left -= len.min(self.output_left);
        self.usage.output_bytes = self.usage.output_bytes.saturating_add(len as u64);
    }

    /// Takes room for a log line of `len` bytes (an empty one takes one); false when
    /// it does not fit, and the line is then counted as dropped.
    pub(crate) fn log_line(&mut self, len: usize) -> bool {
        let len = len.max(1);
        if len > self.output_left {
            self.drop_line();
            return false;
        }
        self.output(len);
        true
    }

    /// Records a log line dropped because the output is spent.
    pub(crate) fn drop_line(&mut self) {
        self.usage.dropped_log_lines = self.usage.dropped_log_lines.saturating_add(1);
    }

    /// Records an `fd_write` refused because the output is spent.
    pub(crate) fn refuse_write(&mut self) {
        self.usage.refused_writes = self.usage.refused_writes.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_pay_from_the_store_then_from_the_unissued_budget() {
        let mut m = Meter::new(true);
        m.start(1000, 0, true);
        assert_eq!(m.issue(100), 100);
        m.enter(100);
        m.charge(60).unwrap();
        assert_eq!(m.leave(), 40);
        // 140 more: 40 from the store, 100 from what is not issued yet.
        m.charge(140).unwrap();
        assert_eq!((m.leave(), m.unissued), (0, 800));
        // More than is left in all fails and changes nothing.
        assert!(m.charge(801).is_err());
        assert_eq!(m.unissued, 800);
        m.finish(Some(0));
        assert_eq!(m.usage.fuel, Some(200));
    }

    #[test]
    fn the_budget_is_issued_in_parts_and_never_beyond_it() {
        let mut m = Meter::new(true);
        m.start(500, 0, false);
        assert_eq!(m.issue(200), 200);
        assert!(!m.exhausted());
        assert_eq!(m.issue(u64::MAX), 300);
        assert!(m.exhausted());
        assert_eq!(m.issue(1), 0);
        m.enter(10);
        assert!(m.charge(11).is_err());
        m.charge(10).unwrap();
        m.finish(Some(0));
        assert_eq!(m.usage.fuel, Some(500));
    }

    #[test]
    fn unmetered_charges_nothing() {
        let mut m = Meter::new(false);
        m.start(0, 10, false);
        m.charge(u64::MAX).unwrap();
        m.finish(None);
        assert_eq!(m.usage.fuel, None);
    }

    #[test]
    fn output_is_bounded_per_call() {
        let mut m = Meter::new(false);
        m.start(0, 10, false);
        assert!(m.log_line(4));
        assert!(m.log_line(0), "an empty line takes a byte");
        assert_eq!(m.output_room(100), 5);
        m.output(5);
        assert!(m.output_spent());
        assert!(!m.log_line(0));
        assert_eq!(m.output_room(5), 0);
        assert_eq!((m.usage.output_bytes, m.usage.dropped_log_lines), (10, 1));
    }
}
