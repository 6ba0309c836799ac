//! Resource limits: fuel, memory, output and the sizes of what crosses the ABI.

use hookr_abi::codec::{self, Decode, DecodeError, Decoder};

use crate::error::Error;

/// Limits that bound what one plugin may take from its host.
///
/// The defaults suit a desktop host and bound every call: fuel is metered unless a
/// runtime is built [`unmetered`](crate::Builder::unmetered). Firmware will want
/// smaller sizes. Every size is in bytes. [`Builder::build`](crate::Builder::build)
/// refuses values that could not work ([`Limits::check`]).
///
/// ```
/// let limits = hookr::Limits::default().with_fuel(Some(5_000_000)).with_max_output_per_call(4096);
/// assert!(limits.check().is_ok());
/// assert!(limits.with_max_output(0).check().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Fuel for each call (default [`Limits::DEFAULT_CALL_FUEL`]); `None` turns
    /// metering off, for trusted plugins only. Out of fuel is
    /// [`Error::OutOfFuel`]. The interpreter charges about one unit
    /// per instruction, and host imports charge for the bytes they move (see
    /// [`meter`](crate::meter)).
    pub fuel: Option<u64>,
    /// Fuel for each initialiser and the module's start function, when metered
    /// (default [`Limits::DEFAULT_INIT_FUEL`]). A start function, which wasmi runs
    /// inside instantiation without a way to pause it, gets at most 32 768 units of it,
    /// which bounds the host's native stack (README, Safety).
    pub init_fuel: u64,
    /// The fuel a call runs on between two checks of its deadline and cancellation
    /// (default 1 000 000, about a millisecond on a desktop core): a
    /// [timeout](crate::Builder::timeout) or a [cancel](crate::CancelHandle::cancel)
    /// stops a call within this much work.
    pub slice_fuel: u64,
    /// The largest linear memory, in bytes (default 16 MiB), whatever the size of the
    /// module's pages (64 KiB, or 1 byte under the custom-page-sizes proposal). A module
    /// whose initial memory is larger fails to instantiate with
    /// [`Error::MemoryLimit`]; `memory.grow` past it returns -1, as the Wasm spec says.
    /// [`with_max_memory_pages`](Self::with_max_memory_pages) sets it in 64 KiB pages.
    ///
    /// It bounds the memory's size, not the host RAM behind it: when a memory grows,
    /// wasmi moves it to a buffer with room to spare (at least twice the old size), so
    /// a memory that has grown can hold up to about twice its size in RAM. A device
    /// gives its plugins memories that need not grow (see README, "Memory smaller than
    /// a page").
    pub max_memory_bytes: usize,
    /// The most table elements (default 10 000). Under fuel metering, tables cannot
    /// grow after instantiation, in calls and exported initialisers (a start section
    /// may grow them): `table.grow` answers -1, as the Wasm spec allows. (Those run in
    /// chunks or slices of fuel, and wasmi resumes one at the wrong place after a
    /// `table.grow` ran out of fuel.)
    pub max_table_elements: usize,
    /// The deepest guest call stack in frames (default 1024); deeper recursion traps
    /// with a stack overflow.
    pub max_recursion_depth: usize,
    /// The largest request payload (default 16 MiB).
    pub max_request: usize,
    /// The largest plugin response (default 16 MiB).
    pub max_response: usize,
    /// The largest host-function response (default 16 MiB).
    pub max_host_response: usize,
    /// The largest error message, plugin or host (default 64 KiB); a longer plugin
    /// error is cut to this size and marked as cut.
    pub max_error: usize,
    /// The largest log line (default 64 KiB); a longer line is cut to this size and
    /// marked as cut. Must not be 0.
    pub max_log: usize,
    /// The most bytes one WASI `fd_write` passes to a sink (default 1 MiB); past it the
    /// write is short, which WASI allows, and the plugin writes the rest again. Must
    /// not be 0: a plugin would retry a write of nothing forever.
    pub max_output: usize,
    /// The most bytes one call (or one initialiser) may send to the stdout and stderr
    /// sinks and the logger together (default 1 MiB). Past it `fd_write` answers
    /// `EBADF`, as for a closed stream (Rust's `std` then drops the output, TinyGo
    /// ignores the error), and log lines are dropped; the call goes on, and
    /// [`Runtime::last_call`](crate::Runtime::last_call) counts what was dropped. A
    /// log line that is not UTF-8 counts as repaired (up to three bytes a byte), and
    /// one that then does not fit spends the rest: repairing is work the guest's fuel
    /// does not pay for, so it is done at most once for nothing.
    pub max_output_per_call: usize,
    /// The most transcript bytes one call (or one instantiation) may record, on a
    /// runtime that records one ([`Builder::record`](crate::Builder::record); default
    /// 64 MiB). Recording a host call writes its request and response, which a plugin
    /// can repeat as often as its fuel allows: past this bound the rest of the call is
    /// not recorded, the call fails with [`Error::TooLarge`], and the transcript marks
    /// the cut, where a replay stops. Must not be 0.
    pub max_recorded_per_call: usize,
    /// The capacity a host-side buffer (host responses, error texts, typed-call
    /// buffers) keeps after a call (default 64 KiB): a larger one is freed, so one big
    /// call does not hold its memory for the runtime's life. Larger values save
    /// allocations when big payloads are common; smaller ones save RAM.
    pub retain_buffer: usize,
    /// The longest a WASI `poll_oneoff` waits on a clock, in nanoseconds (default 100
    /// ms): a longer wait returns early, so that a timeout or a cancel is not held up.
    /// Waiting also costs a unit of fuel per nanosecond, and stops at the call's deadline.
    /// A call in slices waits between them, on a clock that advances by itself
    /// ([`SlicedCall`](crate::SlicedCall)).
    pub max_sleep_ns: u64,
    /// The most native stack, in bytes, that decoding one typed value (a typed call's
    /// response, a typed host function's request) may take for values nested in
    /// values (default 256 KiB under `std`, 4 KiB without): past it the call fails
    /// with a decode error instead of overflowing the stack. Types that hold
    /// themselves (`Vec<Self>`, `Box<Self>`) with large fields inline take the most,
    /// and one level's frames can go past it: leave room for them
    /// ([`codec::DEFAULT_MAX_STACK`](hookr_abi::codec::DEFAULT_MAX_STACK)).
    pub max_decode_stack: usize,
    /// The most memory, in bytes, that the `Vec` elements and `Box`es of one decoded
    /// typed value may take (default 64 MiB under `std`, 64 KiB without): a value can
    /// take far more memory than its bytes on the wire (an empty map, one byte,
    /// decodes into a struct of any size), so [`max_response`](Self::max_response)
    /// alone does not bound it. Strings and byte strings take what they take on the
    /// wire and are not counted. Neither bound reaches into a
    /// [`Serde`](crate::Serde) value, which serde's code decodes: it is bounded by
    /// depth only.
    pub max_decode_memory: usize,
}

impl Limits {
    /// The size of a Wasm page, unless a module asks for 1-byte pages (the
    /// custom-page-sizes proposal): the unit of [`with_max_memory_pages`](Self::with_max_memory_pages).
    pub const PAGE_SIZE: usize = 65536;

    /// The default fuel per call: about a second of interpretation on a desktop core
    /// (wasmi runs roughly 10⁹ units a second there), far beyond what a plugin call
    /// that does its job needs, and a bound on one that does not.
    pub const DEFAULT_CALL_FUEL: u64 = 1_000_000_000;

    /// The default fuel per initialiser.
    pub const DEFAULT_INIT_FUEL: u64 = 1_000_000_000;

    /// Checks that these limits can work: no zero fuel budget, slice or recursion
    /// depth (every call would fail or never progress), no zero `max_output` (a
    /// plugin would retry a write of nothing forever) and no zero `max_log`.
    pub fn check(&self) -> Result<(), Error> {
        if self.fuel == Some(0) {
            return Err(Error::config("`Limits::fuel` is 0: every call would run out of fuel at once"));
        }
        if self.init_fuel == 0 {
            return Err(Error::config("`Limits::init_fuel` is 0: no initialiser could run"));
        }
        if self.slice_fuel == 0 {
            return Err(Error::config("`Limits::slice_fuel` is 0: a sliced call would never progress"));
        }
        if self.max_recursion_depth == 0 {
            return Err(Error::config("`Limits::max_recursion_depth` is 0: every call would overflow the stack"));
        }
        if self.max_recorded_per_call == 0 {
            return Err(Error::config("`Limits::max_recorded_per_call` is 0: no call could be recorded"));
        }
        if self.max_log == 0 {
            return Err(Error::config("`Limits::max_log` is 0: every log line would be cut to nothing"));
        }
        if self.max_output == 0 {
            return Err(Error::config(
                "`Limits::max_output` is 0: every `fd_write` would write nothing and the plugin retry forever",
            ));
        }
        Ok(())
    }
}

/// Chainable setters, one per field: `Limits::default().with_fuel(Some(n))`. The struct
/// is `#[non_exhaustive]`, so that a new limit is not a breaking change; its fields can
/// also be assigned one by one.
impl Limits {
    /// This [`Limits`] with `fuel` set to `value`.
    pub const fn with_fuel(mut self, value: Option<u64>) -> Self {
        self.fuel = value;
        self
    }

    /// This [`Limits`] with `init_fuel` set to `value`.
    pub const fn with_init_fuel(mut self, value: u64) -> Self {
        self.init_fuel = value;
        self
    }

    /// This [`Limits`] with `slice_fuel` set to `value`.
    pub const fn with_slice_fuel(mut self, value: u64) -> Self {
        self.slice_fuel = value;
        self
    }

    /// This [`Limits`] with `max_memory_bytes` set to `value`.
    pub const fn with_max_memory_bytes(mut self, value: usize) -> Self {
        self.max_memory_bytes = value;
        self
    }

    /// This [`Limits`] with `max_memory_bytes` set to `pages` 64 KiB pages, whatever the
    /// page size of the module (a module with 1-byte pages may then have `pages * 65536`
    /// of them).
    ///
    /// ```
    /// let limits = hookr::Limits::default().with_max_memory_pages(4);
    /// assert_eq!(limits.max_memory_bytes, 4 * 65536);
    /// ```
    pub const fn with_max_memory_pages(mut self, pages: u32) -> Self {
        self.max_memory_bytes = (pages as usize).saturating_mul(Self::PAGE_SIZE);
        self
    }

    /// This [`Limits`] with `max_table_elements` set to `value`.
    pub const fn with_max_table_elements(mut self, value: usize) -> Self {
        self.max_table_elements = value;
        self
    }

    /// This [`Limits`] with `max_recursion_depth` set to `value`.
    pub const fn with_max_recursion_depth(mut self, value: usize) -> Self {
        self.max_recursion_depth = value;
        self
    }

    /// This [`Limits`] with `max_request` set to `value`.
    pub const fn with_max_request(mut self, value: usize) -> Self {
        self.max_request = value;
        self
    }

    /// This [`Limits`] with `max_response` set to `value`.
    pub const fn with_max_response(mut self, value: usize) -> Self {
        self.max_response = value;
        self
    }

    /// This [`Limits`] with `max_host_response` set to `value`.
    pub const fn with_max_host_response(mut self, value: usize) -> Self {
        self.max_host_response = value;
        self
    }

    /// This [`Limits`] with `max_error` set to `value`.
    pub const fn with_max_error(mut self, value: usize) -> Self {
        self.max_error = value;
        self
    }

    /// This [`Limits`] with `max_log` set to `value`.
    pub const fn with_max_log(mut self, value: usize) -> Self {
        self.max_log = value;
        self
    }

    /// This [`Limits`] with `max_output` set to `value`.
    pub const fn with_max_output(mut self, value: usize) -> Self {
        self.max_output = value;
        self
    }

    /// This [`Limits`] with `max_output_per_call` set to `value`.
    pub const fn with_max_output_per_call(mut self, value: usize) -> Self {
        self.max_output_per_call = value;
        self
    }

    /// This [`Limits`] with `retain_buffer` set to `value`.
    pub const fn with_retain_buffer(mut self, value: usize) -> Self {
        self.retain_buffer = value;
        self
    }

    /// This [`Limits`] with `max_decode_stack` set to `value`.
    pub const fn with_max_decode_stack(mut self, value: usize) -> Self {
        self.max_decode_stack = value;
        self
    }

    /// This [`Limits`] with `max_decode_memory` set to `value`.
    pub const fn with_max_decode_memory(mut self, value: usize) -> Self {
        self.max_decode_memory = value;
        self
    }

    /// This [`Limits`] with `max_recorded_per_call` set to `value`.
    pub const fn with_max_recorded_per_call(mut self, value: usize) -> Self {
        self.max_recorded_per_call = value;
        self
    }

    /// This [`Limits`] with `max_sleep_ns` set to `value`.
    pub const fn with_max_sleep_ns(mut self, value: u64) -> Self {
        self.max_sleep_ns = value;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: Some(Self::DEFAULT_CALL_FUEL),
            init_fuel: Self::DEFAULT_INIT_FUEL,
            slice_fuel: 1_000_000,
            max_memory_bytes: 16 << 20,
            max_table_elements: 10_000,
            max_recursion_depth: 1024,
            max_request: 16 << 20,
            max_response: 16 << 20,
            max_host_response: 16 << 20,
            max_error: 64 << 10,
            max_log: 64 << 10,
            max_output: 1 << 20,
            max_output_per_call: 1 << 20,
            max_recorded_per_call: 64 << 20,
            retain_buffer: 64 << 10,
            max_sleep_ns: 100_000_000,
            max_decode_stack: if cfg!(feature = "std") { 256 << 10 } else { 4 << 10 },
            max_decode_memory: if cfg!(feature = "std") { 64 << 20 } else { 64 << 10 },
        }
    }
}

/// The bounds of one typed decode: [`Limits::max_decode_stack`] and
/// [`Limits::max_decode_memory`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeBounds {
    stack: usize,
    memory: usize,
}

impl DecodeBounds {
    pub(crate) fn of(limits: &Limits) -> Self {
        DecodeBounds { stack: limits.max_decode_stack, memory: limits.max_decode_memory }
    }

    /// Decodes one value that must span all of `bytes`, within these bounds.
    pub(crate) fn decode<T: Decode>(self, bytes: &[u8]) -> Result<T, DecodeError> {
        codec::from_decoder(Decoder::new(bytes).with_max_stack(self.stack).with_max_memory(self.memory))
    }
}

#[cfg(test)]
impl Default for DecodeBounds {
    fn default() -> Self {
        DecodeBounds::of(&Limits::default())
    }
}

/// What a store asks before it grows a memory or a table, or makes an instance.
pub(crate) struct Limiter {
    max_memory_bytes: usize,
    max_table_elements: usize,
    metered: bool,
    /// Refuse table growth: set from the end of `Instance::new` (after a start section),
    /// when metered. Calls and exported initialisers run in chunks or slices of fuel,
    /// and wasmi resumes one that ran out of fuel in `table.grow` at the wrong place.
    fixed_tables: bool,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Limiter {
            max_memory_bytes: limits.max_memory_bytes,
            max_table_elements: limits.max_table_elements,
            metered: limits.fuel.is_some(),
            fixed_tables: false,
        }
    }

    /// Tables are fixed from the end of `Instance::new` (its start section included) on,
    /// when metered.
    pub(crate) fn fix_tables(&mut self, fixed: bool) {
        self.fixed_tables = fixed && self.metered;
    }
}

impl wasmi::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        Ok(desired <= self.max_memory_bytes && maximum.is_none_or(|max| desired <= max))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        if self.fixed_tables {
            return Ok(false);
        }
        Ok(desired <= self.max_table_elements && maximum.is_none_or(|max| desired <= max))
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}
