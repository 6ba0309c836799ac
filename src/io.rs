//! What a plugin may see of the outside: output sinks, a random source and a clock.
//!
//! Without `std` the defaults are deterministic and quiet: sinks discard what they get,
//! randomness comes from a fixed seed, and the clock advances by a fixed step on every
//! read. With `std` they are the process's stdout and stderr, the operating system's
//! randomness and its clocks, unless [`Builder::deterministic`](crate::Builder::deterministic)
//! asks for the fixed ones.

use alloc::boxed::Box;

pub use crate::output::{Output, OutputFull, SliceOutput};

/// A sink refused the bytes written to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkError;

impl core::fmt::Display for SinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("output sink refused the write")
    }
}

impl core::error::Error for SinkError {}

/// Where a plugin's stdout or stderr goes.
///
/// Under `std` every [`std::io::Write`] is a sink.
pub trait Sink {
    /// Writes all of `bytes`.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), SinkError>;
}

#[cfg(feature = "std")]
impl<W: std::io::Write> Sink for W {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        std::io::Write::write_all(self, bytes).map_err(|_| SinkError)
    }
}

/// A sink that drops everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

#[cfg(not(feature = "std"))]
impl Sink for Discard {
    fn write_all(&mut self, _bytes: &[u8]) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::io::Write for Discard {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A buffer that a runtime writes into (as a stdout or stderr sink, or a transcript)
/// while the host keeps a clone to read it: clones share the bytes.
///
/// ```
/// let out = hookr::io::SharedBuffer::new();
/// let mut sink = out.clone();
/// std::io::Write::write_all(&mut sink, b"hi").unwrap();
/// assert_eq!(out.take(), b"hi");
/// assert!(out.take().is_empty());
/// ```
#[cfg(feature = "std")]
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(std::sync::Arc<std::sync::Mutex<alloc::vec::Vec<u8>>>);

#[cfg(feature = "std")]
impl SharedBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        SharedBuffer::default()
    }

    fn bytes(&self) -> std::sync::MutexGuard<'_, alloc::vec::Vec<u8>> {
        // Writes only append, so a buffer whose writer panicked is still whole.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes what was written so far, leaving the buffer empty.
    pub fn take(&self) -> alloc::vec::Vec<u8> {
        core::mem::take(&mut *self.bytes())
    }

    /// A copy of what was written so far.
    pub fn contents(&self) -> alloc::vec::Vec<u8> {
        self.bytes().clone()
    }
}

#[cfg(feature = "std")]
impl std::io::Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where a plugin's random bytes come from.
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// A deterministic generator (SplitMix64) from a seed: the same seed gives the same
/// bytes on every run and every machine. It is not cryptographically secure.
#[derive(Debug, Clone)]
pub struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// The seed [`Default`] uses.
    pub const DEFAULT_SEED: u64 = 0x686f_6f6b_7200_0001;

    /// A generator started from `seed`.
    pub const fn new(seed: u64) -> Self {
        SeededRandom { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Default for SeededRandom {
    fn default() -> Self {
        SeededRandom::new(Self::DEFAULT_SEED)
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// The operating system's randomness.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

#[cfg(feature = "std")]
impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // No entropy is worse than a loud failure of the call that asked for it;
            // but the host must not panic, so fall back to a time-seeded generator.
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(SeededRandom::DEFAULT_SEED);
            SeededRandom::new(seed).fill(buf);
        }
    }
}

/// A plugin's view of time, in nanoseconds.
pub trait Clock {
    /// Wall-clock time since the Unix epoch.
    fn realtime_ns(&mut self) -> u64;
    /// A clock that never goes backwards, from an arbitrary start.
    fn monotonic_ns(&mut self) -> u64;
    /// The resolution of both clocks.
    fn resolution_ns(&self) -> u64 {
        1
    }
    /// Waits `ns` nanoseconds, for a plugin's WASI `poll_oneoff` on a clock. The
    /// default returns at once (and time does not move on).
    fn sleep_ns(&mut self, ns: u64) {
        let _ = ns;
    }
    /// Whether this clock's time moves on by itself, as a real clock's does, rather
    /// than only when it is read or slept on.
    ///
    /// A [sliced call](crate::SlicedCall) does not sleep on such a clock: a plugin's
    /// wait pauses the call, and [`resume`](crate::SlicedCall::resume) answers
    /// [`Poll::Pending`](core::task::Poll::Pending) at once until
    /// [`monotonic_ns`](Self::monotonic_ns) has moved on by the wait, so no slice
    /// blocks its host. On other clocks a wait calls [`sleep_ns`](Self::sleep_ns)
    /// within the slice. The default is `false`; [`SystemClock`] answers `true`, and
    /// so should a firmware clock read from a hardware timer.
    fn advances_by_itself(&self) -> bool {
        false
    }
}

/// A deterministic clock: it starts at a fixed instant and advances by a fixed step on
/// every read, so a plugin that measures elapsed time sees time pass.
#[derive(Debug, Clone)]
pub struct FixedClock {
    start_ns: u64,
    now_ns: u64,
    step_ns: u64,
}

impl FixedClock {
    /// 2024-01-01T00:00:00Z, the instant [`Default`] starts at.
    pub const DEFAULT_START_NS: u64 = 1_704_067_200_000_000_000;
    /// One millisecond, the step [`Default`] advances by.
    pub const DEFAULT_STEP_NS: u64 = 1_000_000;

    /// A clock at `start_ns` that advances `step_ns` per read.
    pub const fn new(start_ns: u64, step_ns: u64) -> Self {
        FixedClock { start_ns, now_ns: start_ns, step_ns }
    }

    fn tick(&mut self) -> u64 {
        let now = self.now_ns;
        self.now_ns = self.now_ns.saturating_add(self.step_ns);
        now
    }
}

impl Default for FixedClock {
    fn default() -> Self {
        FixedClock::new(Self::DEFAULT_START_NS, Self::DEFAULT_STEP_NS)
    }
}

impl Clock for FixedClock {
    fn realtime_ns(&mut self) -> u64 {
        self.tick()
    }
    /// Moves the clock on by `ns` at once.
    fn sleep_ns(&mut self, ns: u64) {
        self.now_ns = self.now_ns.saturating_add(ns);
    }
    fn monotonic_ns(&mut self) -> u64 {
        self.tick() - self.start_ns
    }
    fn resolution_ns(&self) -> u64 {
        self.step_ns.max(1)
    }
}

/// The operating system's clocks; the monotonic one counts from the first read in
/// the process.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[cfg(feature = "std")]
impl Clock for SystemClock {
    fn realtime_ns(&mut self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
    }
    fn monotonic_ns(&mut self) -> u64 {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
    }
    /// Sleeps the thread.
    fn sleep_ns(&mut self, ns: u64) {
        std::thread::sleep(core::time::Duration::from_nanos(ns));
    }
    fn advances_by_itself(&self) -> bool {
        true
    }
}

/// The process's stdout, taken when written to: as a default sink, a boxed unit that
/// costs no allocation.
#[cfg(feature = "std")]
struct ProcessStdout;

/// The process's stderr, likewise.
#[cfg(feature = "std")]
struct ProcessStderr;

#[cfg(feature = "std")]
impl Sink for ProcessStdout {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        std::io::Write::write_all(&mut std::io::stdout(), bytes).map_err(|_| SinkError)
    }
}

#[cfg(feature = "std")]
impl Sink for ProcessStderr {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        std::io::Write::write_all(&mut std::io::stderr(), bytes).map_err(|_| SinkError)
    }
}

pub(crate) type BoxedSink = Box<dyn Sink + Send>;
pub(crate) type BoxedRandom = Box<dyn RandomSource + Send>;
pub(crate) type BoxedClock = Box<dyn Clock + Send>;
pub(crate) type Logger = Box<dyn FnMut(&str) + Send>;

/// A sink that logs what it gets through defmt, one entry per write, tagged with the
/// stream's name.
#[cfg(feature = "defmt")]
#[derive(Debug, Clone, Copy)]
pub struct DefmtSink(pub &'static str);

#[cfg(all(feature = "defmt", not(feature = "std")))]
impl Sink for DefmtSink {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        defmt::info!("[plugin {=str}] {=[u8]:a}", self.0, bytes);
        Ok(())
    }
}

#[cfg(all(feature = "defmt", feature = "std"))]
impl std::io::Write for DefmtSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        defmt::info!("[plugin {=str}] {=[u8]:a}", self.0, buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The default sink for a stream: the process's own under `std`, defmt under `defmt`,
/// else nowhere.
fn default_sink(name: &'static str) -> BoxedSink {
    #[cfg(feature = "std")]
    return match name {
        "stdout" => Box::new(ProcessStdout),
        _ => Box::new(ProcessStderr),
    };
    #[cfg(all(feature = "defmt", not(feature = "std")))]
    return Box::new(DefmtSink(name));
    #[cfg(not(any(feature = "std", feature = "defmt")))]
    {
        let _ = name;
        Box::new(Discard)
    }
}

pub(crate) fn default_stdout() -> BoxedSink {
    default_sink("stdout")
}

pub(crate) fn default_stderr() -> BoxedSink {
    default_sink("stderr")
}

pub(crate) fn default_random(deterministic: bool) -> BoxedRandom {
    #[cfg(feature = "std")]
    if !deterministic {
        return Box::new(OsRandom);
    }
    let _ = deterministic;
    Box::new(SeededRandom::default())
}

pub(crate) fn default_clock(deterministic: bool) -> BoxedClock {
    #[cfg(feature = "std")]
    if !deterministic {
        return Box::new(SystemClock);
    }
    let _ = deterministic;
    Box::new(FixedClock::default())
}

/// The default logger: stderr under `std`, defmt under `defmt`, else nowhere.
pub(crate) fn default_logger() -> Logger {
    Box::new(|line: &str| {
        #[cfg(feature = "std")]
        std::eprintln!("[plugin] {line}");
        #[cfg(all(feature = "defmt", not(feature = "std")))]
        defmt::info!("[plugin] {=str}", line);
        let _ = line;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_random_repeats_per_seed() {
        let (mut a, mut b, mut c) = ([0u8; 13], [0u8; 13], [0u8; 13]);
        SeededRandom::new(7).fill(&mut a);
        SeededRandom::new(7).fill(&mut b);
        SeededRandom::new(8).fill(&mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn fixed_clock_advances_per_read() {
        let mut c = FixedClock::new(100, 10);
        assert_eq!(c.realtime_ns(), 100);
        assert_eq!(c.realtime_ns(), 110);
        assert_eq!(c.resolution_ns(), 10);
    }
}
