//! Transcripts across platforms: the device replays what the host recorded
//! (`../transcripts/`, byte for byte and fuel for fuel), and records calls of its own
//! to files on the host (semihosting), which `run.sh` replays with `hookr replay`.

use cortex_m_semihosting::{nr, syscall};
use hookr::io::{Sink, SinkError};
use hookr::transcript::{replay, Reader, Verdict};
use hookr::{Error, Module, Pinned, Runtime};

use crate::check::{ensure_eq, log_line, Context, Failure};
use crate::{pins, sensor, simple, ENGINE, FUEL, MAX_PAGES};

/// Recorded on the host by `tests/firmware_transcripts.rs`.
static SIMPLE_TRANSCRIPT: &[u8] = include_bytes!("../transcripts/simple.hrt");
static SENSOR_TRANSCRIPT: &[u8] = include_bytes!("../transcripts/sensor.hrt");

/// Replays each transcript the host recorded against the same plugin here.
#[inline(never)]
pub fn replay_host_transcripts() -> Result<(), Failure> {
    let runs: [(&str, &[u8], Pinned, &'static [u8]); 2] = [
        ("simple", simple::WASM, pins::SIMPLE, SIMPLE_TRANSCRIPT),
        ("sensor", sensor::WASM, pins::SENSOR, SENSOR_TRANSCRIPT),
    ];
    for (name, wasm, pin, transcript) in runs {
        // The host's settings, with the device's value stacks: those change only RAM.
        let engine = Reader::new(transcript)
            .context("read a host transcript")?
            .header()
            .engine
            .with_min_stack_height(ENGINE.min_stack_height)
            .with_max_cached_stacks(ENGINE.max_cached_stacks);
        let module = Module::pinned(wasm, pin, engine).context("load a plugin to replay")?;
        match replay(&module, transcript).context("replay a host transcript")? {
            Verdict::Identical { calls } => {
                defmt::info!(
                    "replayed the host's {=str} transcript: {=u64} calls identical, bytes and fuel",
                    name,
                    calls
                )
            }
            Verdict::Diverged(d) => {
                defmt::error!(
                    "the host's {=str} transcript diverged at call {=u64} ({=str}): {=str}: expected {=[u8]:a}, got {=[u8]:a}",
                    name,
                    d.call,
                    d.op.as_str(),
                    &*d.what,
                    d.expected.as_slice(),
                    d.actual.as_slice()
                );
                return Err(Failure::Mismatch("replay of a host transcript"));
            }
        }
    }
    Ok(())
}

/// A file on the host, written through semihosting: where the device's transcripts go.
struct HostFile {
    fd: usize,
}

impl HostFile {
    /// Creates (or empties) `path`, which ends in a NUL byte.
    fn create(path: &'static str) -> Result<Self, Failure> {
        // SAFETY: OPEN reads `path.len() - 1` bytes at the pointer, a live string.
        let fd = unsafe { syscall!(OPEN, path.as_ptr(), nr::open::W_TRUNC_BINARY, path.len() - 1) } as isize;
        match fd {
            -1 => Err(Failure::Call("open a transcript on the host", Error::Config(path.into()))),
            fd => Ok(HostFile { fd: fd as usize }),
        }
    }
}

impl Sink for HostFile {
    fn write_all(&mut self, mut bytes: &[u8]) -> Result<(), SinkError> {
        while !bytes.is_empty() {
            // SAFETY: WRITE reads `bytes.len()` bytes at the pointer, a live slice.
            let left = unsafe { syscall!(WRITE, self.fd, bytes.as_ptr(), bytes.len()) };
            // WRITE answers how many bytes it did not write.
            match left {
                0 => return Ok(()),
                n if n < bytes.len() => bytes = &bytes[bytes.len() - n..],
                _ => return Err(SinkError),
            }
        }
        Ok(())
    }
}

impl Drop for HostFile {
    fn drop(&mut self) {
        // SAFETY: closes the file this value opened, once.
        unsafe { syscall!(CLOSE, self.fd) };
    }
}

/// Records calls of `simple` and `sensor` made here to `target/transcripts/` on the
/// host (QEMU's working directory is the firmware crate), for `run.sh` to replay.
#[inline(never)]
pub fn record_for_host() -> Result<(), Failure> {
    let mut simple = Runtime::builder(simple::SimpleHost::default())
        .bytes(simple::WASM)
        .pinned(pins::SIMPLE)
        .host_fns(simple::HOST_FNS)
        .fuel(FUEL)
        .max_memory_pages(MAX_PAGES)
        .engine_config(ENGINE)
        .logger(log_line)
        .record(HostFile::create("target/transcripts/device-simple.hrt\0")?)
        .build()
        .context("load simple, recording")?;
    for (op, payload) in [("echoByte", &b"device"[..]), ("vowel", b"abcdefghij"), ("nope", b""), ("missing", b"")] {
        let _ = simple.invoke(op, payload);
    }
    ensure_eq("recorded helloByte calls", simple.state().hello_byte_calls(), 1)?;
    drop(simple);
    let mut sensor = sensor::runtime_recording(HostFile::create("target/transcripts/device-sensor.hrt\0")?)
        .context("load sensor, recording")?;
    sensor::validate_good_and_bad(&mut sensor)?;
    drop(sensor);
    defmt::info!("recorded transcripts of simple and sensor to target/transcripts/ for the host to replay");
    Ok(())
}
