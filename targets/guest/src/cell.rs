//! A `Cell` that can live in a `static` of a single-threaded plugin.

use core::cell::Cell;

/// A [`Cell`] that can be put in a `static`, for state a plugin keeps between calls.
///
/// A plugin instance runs on one thread (the kit refuses to build with the `atomics`
/// target feature), so a `static` needs no lock. Like a `Cell`, it hands out values,
/// never references, so a call that re-enters the plugin cannot alias them.
///
/// ```no_run
/// # #![no_std]
/// # #![no_main]
/// use hookr_guest::GuestCell;
///
/// static CALLS: GuestCell<u32> = GuestCell::new(0);
///
/// fn count() -> u32 {
///     CALLS.set(CALLS.get() + 1);
///     CALLS.get()
/// }
/// ```
pub struct GuestCell<T>(Cell<T>);

// SAFETY: hookr-guest only builds for wasm32 without the `atomics` target feature
// (see the `compile_error!`s in lib.rs), where a plugin has exactly one thread, so the
// cell is never reached from two threads.
unsafe impl<T> Sync for GuestCell<T> {}

impl<T> GuestCell<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        GuestCell(Cell::new(value))
    }

    /// Stores `value`, dropping the old one.
    pub fn set(&self, value: T) {
        self.0.set(value);
    }

    /// Stores `value` and returns the old one.
    pub fn replace(&self, value: T) -> T {
        self.0.replace(value)
    }
}

impl<T: Copy> GuestCell<T> {
    /// A copy of the value.
    pub fn get(&self) -> T {
        self.0.get()
    }
}

impl<T: Default> GuestCell<T> {
    /// Takes the value, leaving `T::default()` in its place.
    pub fn take(&self) -> T {
        self.0.take()
    }
}
