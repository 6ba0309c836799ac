//! Transcripts: a plugin's calls and everything it received from outside, recorded
//! as it ran, to be replayed anywhere and shown to do exactly the same.
//!
//! A runtime built with [`Builder::record`](crate::Builder::record) writes, as it
//! goes, one MessagePack document to a [`Sink`]: a header (the plugin's SHA-256, the
//! engine settings, the limits, the WASI arguments and environment), then a flat
//! sequence of records: each (re)instantiation, and for each call its operation and
//! request, every host-function call (operation, request, reply or error), clock and
//! random read, log line and stdout/stderr write in the order they happened, and how
//! the call ended with the fuel it used.
//!
//! [`replay`] runs the plugin again from a transcript alone: host functions, clocks
//! and random bytes are answered from it, so replaying needs none of the original
//! host, and works without `std`. The verdict is [`Verdict::Identical`], or the first
//! [`Divergence`]: which call, what differed, the bytes expected and those seen.
//!
//! ```
//! # let wasm = wat::parse_str(r#"(module
//! #   (import "hookr" "__plugin_request" (func $req (param i32 i32)))
//! #   (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
//! #   (import "hookr" "__host_call" (func $call (param i32 i32 i32 i32) (result i32)))
//! #   (import "hookr" "__host_response_len" (func $rlen (result i32)))
//! #   (import "hookr" "__host_response" (func $rget (param i32)))
//! #   (memory (export "memory") 1)
//! #   (data (i32.const 0) "double")
//! #   (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
//! #     (call $req (i32.const 100) (i32.const 200))
//! #     (drop (call $call (i32.const 0) (i32.const 6) (i32.const 200) (local.get $len)))
//! #     (call $rget (i32.const 1000))
//! #     (call $resp (i32.const 1000) (call $rlen))
//! #     (i32.const 1)))"#).unwrap();
//! use hookr::transcript::{replay, Verdict};
//! use hookr::{EngineConfig, Module, Runtime, Sha256Hasher, Hasher};
//!
//! // Record two calls of a plugin that asks its host to double the payload.
//! let hash = Sha256Hasher.hash(&wasm);
//! let transcript = hookr::io::SharedBuffer::new();
//! let mut rt = Runtime::builder(())
//!     .bytes(&wasm)
//!     .hash(&hash)
//!     .hasher(Sha256Hasher)
//!     .host_fn("double", |_, payload, out| {
//!         out.extend_from_slice(payload);
//!         out.extend_from_slice(payload);
//!         Ok(())
//!     })
//!     .record(transcript.clone())
//!     .build()?;
//! assert_eq!(rt.invoke("go", b"ab")?, b"abab");
//! assert_eq!(rt.invoke("go", b"xyz")?, b"xyzxyz");
//! drop(rt);
//!
//! // Replay it: no host function is registered, the transcript answers.
//! let module = Module::new(&wasm, &hash, &Sha256Hasher, EngineConfig::default())?;
//! assert_eq!(replay(&module, transcript.take())?, Verdict::Identical { calls: 2 });
//! # Ok::<(), hookr::Error>(())
//! ```

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use hookr_abi::codec::{DecodeError, Decoder, EncodeError, Encoder};

use crate::bytes;
use crate::error::Error;
use crate::io::{Sink, SinkError};
use crate::limits::Limits;
use crate::module::{EngineConfig, Module};

/// The name a transcript's header starts with.
pub const FORMAT: &str = "hookr-transcript";

/// The version of the format this crate writes and reads.
pub const VERSION: u64 = 1;

/// One record of a transcript, borrowing its bytes from the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record<'a> {
    /// The plugin was instantiated (again): the records up to the next
    /// [`Call`](Record::Call) are what its initialisers received and did.
    Instantiate,
    /// A call started.
    Call {
        /// The operation.
        op: &'a str,
        /// The request payload.
        request: &'a [u8],
    },
    /// The plugin called a host function and got `reply`, its response when `ok`, else
    /// its error message. `binding` and `namespace` are empty for hookr's own ABI.
    HostCall {
        /// The waPC binding, as the guest named it.
        binding: &'a [u8],
        /// The waPC namespace, as the guest named it.
        namespace: &'a [u8],
        /// The operation, as the guest named it (not always UTF-8).
        op: &'a [u8],
        /// The request payload.
        request: &'a [u8],
        /// Whether the host function succeeded.
        ok: bool,
        /// Its response or error message.
        reply: &'a [u8],
        /// Whether a typed host function decoded the request, which the call paid
        /// [`decode_cost`](crate::meter::decode_cost) for (first: a call that could
        /// not pay ran out of fuel there, and `reply` is empty). Written as an eighth
        /// field only when true, so that transcripts without it read as before.
        decoded: bool,
    },
    /// The plugin read a WASI clock: `id` as WASI numbers them, its resolution or
    /// its time.
    Clock {
        /// The WASI clock id.
        id: u32,
        /// A read of the resolution rather than of the time.
        resolution: bool,
        /// What it read, in nanoseconds.
        ns: u64,
    },
    /// The plugin got random bytes.
    Random(&'a [u8]),
    /// The plugin logged a line, as the logger got it.
    Log(&'a str),
    /// The plugin wrote to stdout (fd 1) or stderr (fd 2).
    Output {
        /// The file descriptor.
        fd: u32,
        /// The bytes the sink got.
        bytes: &'a [u8],
    },
    /// The call ended.
    End {
        /// Its response, or its error.
        outcome: Outcome<'a>,
        /// The fuel it used (`None` when unmetered).
        fuel: Option<u64>,
    },
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// It succeeded with this response.
    Response(&'a [u8]),
    /// It failed: the kind of error (see [`error_kind`]) and its message.
    Error {
        /// The kind: `plugin`, `host`, `trap`, `out_of_fuel`, `timeout`, …
        kind: &'a str,
        /// The error's message.
        message: &'a str,
    },
}

const INSTANTIATE: u64 = 0;
const CALL: u64 = 1;
const HOST_CALL: u64 = 2;
const CLOCK: u64 = 3;
const RANDOM: u64 = 4;
const LOG: u64 = 5;
const OUTPUT: u64 = 6;
const END: u64 = 7;

/// The MessagePack of one record, as a transcript holds it (for tools that write or
/// edit transcripts).
pub fn encode(record: &Record<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    // Only lengths past 4 GiB fail, which no slice a record borrows from a transcript
    // (or a runtime's limits) reaches.
    let _ = record.encode(&mut out);
    out
}

/// The error kind of the end record that marks where a recording was cut: the call
/// (or instantiation) it ends would have recorded more than
/// [`Limits::max_recorded_per_call`], so what it did is not all there, and a replay
/// stops before it with [`Error::Transcript`].
pub const RECORDING_CUT: &str = "recording_cut";

/// The kind of an error, as a transcript names it.
pub fn error_kind(err: &Error) -> &'static str {
    match err {
        Error::Plugin(_) | Error::PluginKept { .. } => "plugin",
        Error::Host(_) => "host",
        Error::Trap(_) => "trap",
        Error::OutOfFuel => "out_of_fuel",
        Error::Timeout(_) => "timeout",
        Error::Cancelled => "cancelled",
        Error::MemoryLimit(_) => "memory_limit",
        Error::Exit(_) => "exit",
        Error::BadGuestPointer { .. } => "bad_guest_pointer",
        Error::TooLarge { .. } => "too_large",
        Error::Wasm(_) => "wasm",
        _ => "other",
    }
}

/// Whether `want`, a recorded call that failed because the recording host's output
/// buffer could not hold its response (`Error::TooLarge` for the output buffer), and
/// `got`, the same call answering that many bytes into a replay's growable output, are
/// the same plugin behaviour. The transcript has the response's length, not its bytes.
fn refused_by_output(want: &Outcome<'_>, got: &Outcome<'_>) -> bool {
    let (Outcome::Error { kind: "too_large", message }, Outcome::Response(bytes)) = (want, got) else {
        return false;
    };
    let refused =
        alloc::format!("{}", Error::TooLarge { what: crate::output::OUTPUT_BUFFER, len: bytes.len(), limit: 0 });
    // The message with any limit in place of 0: "… exceeds the limit of L bytes".
    let Some(prefix) = refused.strip_suffix("0 bytes") else { return false };
    message
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(" bytes"))
        .and_then(|limit| limit.parse::<usize>().ok())
        .is_some_and(|limit| limit < bytes.len())
}

impl Record<'_> {
    /// Appends the record's MessagePack to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let e = &mut Encoder::new(out);
        match self {
            Record::Instantiate => {
                e.array_len(1)?;
                e.uint(INSTANTIATE)
            }
            Record::Call { op, request } => {
                e.array_len(3)?;
                e.uint(CALL)?;
                e.str(op)?;
                e.bin(request)
            }
            Record::HostCall { binding, namespace, op, request, ok, reply, decoded } => {
                e.array_len(if *decoded { 8 } else { 7 })?;
                e.uint(HOST_CALL)?;
                e.bin(binding)?;
                e.bin(namespace)?;
                e.bin(op)?;
                e.bin(request)?;
                e.bool(*ok)?;
                e.bin(reply)?;
                if *decoded {
                    e.bool(true)?;
                }
                Ok(())
            }
            Record::Clock { id, resolution, ns } => {
                e.array_len(4)?;
                e.uint(CLOCK)?;
                e.uint(u64::from(*id))?;
                e.bool(*resolution)?;
                e.uint(*ns)
            }
            Record::Random(bytes) => {
                e.array_len(2)?;
                e.uint(RANDOM)?;
                e.bin(bytes)
            }
            Record::Log(line) => {
                e.array_len(2)?;
                e.uint(LOG)?;
                e.str(line)
            }
            Record::Output { fd, bytes } => {
                e.array_len(3)?;
                e.uint(OUTPUT)?;
                e.uint(u64::from(*fd))?;
                e.bin(bytes)
            }
            Record::End { outcome, fuel } => {
                e.array_len(3)?;
                e.uint(END)?;
                match outcome {
                    Outcome::Response(response) => {
                        e.array_len(1)?;
                        e.bin(response)?;
                    }
                    Outcome::Error { kind, message } => {
                        e.array_len(2)?;
                        e.str(kind)?;
                        e.str(message)?;
                    }
                }
                match fuel {
                    Some(fuel) => e.uint(*fuel),
                    None => e.nil(),
                }
            }
        }
    }

    /// Reads one record.
    fn decode<'a>(d: &mut Decoder<'a>) -> Result<Record<'a>, DecodeError> {
        let len = d.array_len()?;
        let tag = d.uint()?;
        let want = match tag {
            INSTANTIATE => 1,
            CALL | OUTPUT | END => 3,
            HOST_CALL if len == 8 => 8,
            HOST_CALL => 7,
            CLOCK => 4,
            RANDOM | LOG => 2,
            _ => return Err(DecodeError::Invalid("unknown record type")),
        };
        if len != want {
            return Err(DecodeError::Invalid("a record has the wrong number of fields"));
        }
        Ok(match tag {
            INSTANTIATE => Record::Instantiate,
            CALL => Record::Call { op: d.str()?, request: d.bin()? },
            HOST_CALL => Record::HostCall {
                binding: d.bin()?,
                namespace: d.bin()?,
                op: d.bin()?,
                request: d.bin()?,
                ok: d.bool()?,
                reply: d.bin()?,
                decoded: len == 8 && d.bool()?,
            },
            CLOCK => {
                let at = d.position();
                let id = u32::try_from(d.uint()?).map_err(|_| DecodeError::OutOfRange(at))?;
                Record::Clock { id, resolution: d.bool()?, ns: d.uint()? }
            }
            RANDOM => Record::Random(d.bin()?),
            LOG => Record::Log(d.str()?),
            OUTPUT => {
                let at = d.position();
                let fd = u32::try_from(d.uint()?).map_err(|_| DecodeError::OutOfRange(at))?;
                Record::Output { fd, bytes: d.bin()? }
            }
            _ => {
                let outcome = match d.array_len()? {
                    1 => Outcome::Response(d.bin()?),
                    2 => Outcome::Error { kind: d.str()?, message: d.str()? },
                    _ => return Err(DecodeError::Invalid("an outcome has the wrong number of fields")),
                };
                let fuel = if d.is_nil() {
                    d.nil()?;
                    None
                } else {
                    Some(d.uint()?)
                };
                Record::End { outcome, fuel }
            }
        })
    }
}

/// What a transcript's header says: which plugin, and how it was run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// The plugin's SHA-256.
    pub plugin: [u8; 32],
    /// The engine settings it was compiled with.
    pub engine: EngineConfig,
    /// The limits it ran under, those a replay needs: the bounds of decoding typed
    /// values ([`Limits::max_decode_stack`], [`Limits::max_decode_memory`]) are not
    /// recorded, since a replay decodes none, and read back as their defaults.
    pub limits: Limits,
    /// The WASI arguments it saw.
    pub args: Vec<String>,
    /// The WASI environment it saw.
    pub env: Vec<(String, String)>,
}

/// The most memory the WASI arguments and environment of a transcript's header may
/// take (2 MiB, about what Linux allows a program's arguments and environment): each
/// string counts its bytes and 24 for the `String` that holds them (its size on a
/// 64-bit host, on every platform). A runtime given more is
/// refused when it starts recording, and a header that holds more is refused when it
/// is read, so that a small hostile header cannot make a reader allocate many times its
/// size (an empty string is one byte on the wire).
pub const MAX_HEADER_STRINGS: usize = 2 << 20;

/// The memory a header string of `len` bytes counts for against [`MAX_HEADER_STRINGS`]:
/// its bytes and a `String` as a 64-bit host holds it, on every platform, so that a
/// header a device records is one a desktop reads.
const fn header_string(len: usize) -> usize {
    24usize.saturating_add(len)
}

impl Header {
    /// The memory its arguments and environment count for against [`MAX_HEADER_STRINGS`].
    fn strings_size(&self) -> usize {
        let args = self.args.iter().map(|a| header_string(a.len()));
        let env = self.env.iter().map(|(k, v)| header_string(k.len()).saturating_add(header_string(v.len())));
        args.chain(env).fold(0, usize::saturating_add)
    }
}

/// The fields of [`Limits`] a header carries, in order. (Headers written before memory
/// limits were in bytes carry `max_memory_pages`, in 64 KiB pages, instead of
/// `max_memory_bytes`: see [`OLD_MEMORY_FIELD`].)
const LIMIT_FIELDS: [&str; 15] = [
    "fuel",
    "init_fuel",
    "slice_fuel",
    "max_memory_bytes",
    "max_table_elements",
    "max_recursion_depth",
    "max_request",
    "max_response",
    "max_host_response",
    "max_error",
    "max_log",
    "max_output",
    "max_output_per_call",
    "retain_buffer",
    "max_sleep_ns",
];

/// What headers written before memory limits were in bytes carry instead of
/// `max_memory_bytes`.
const OLD_MEMORY_FIELD: &str = "max_memory_pages";

fn limit_values(l: &Limits) -> [Option<u64>; 15] {
    let n = |v: usize| Some(v as u64);
    [
        l.fuel,
        Some(l.init_fuel),
        Some(l.slice_fuel),
        n(l.max_memory_bytes),
        n(l.max_table_elements),
        n(l.max_recursion_depth),
        n(l.max_request),
        n(l.max_response),
        n(l.max_host_response),
        n(l.max_error),
        n(l.max_log),
        n(l.max_output),
        n(l.max_output_per_call),
        n(l.retain_buffer),
        Some(l.max_sleep_ns),
    ]
}

impl Header {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let e = &mut Encoder::new(out);
        e.map_len(7)?;
        e.str("format")?;
        e.str(FORMAT)?;
        e.str("version")?;
        e.uint(VERSION)?;
        e.str("plugin")?;
        e.bin(&self.plugin)?;
        e.str("engine")?;
        e.map_len(3)?;
        e.str("fuel")?;
        e.bool(self.engine.fuel)?;
        e.str("max_recursion_depth")?;
        e.uint(self.engine.max_recursion_depth as u64)?;
        e.str("max_stack_height")?;
        e.uint(self.engine.max_stack_height as u64)?;
        e.str("limits")?;
        e.map_len(LIMIT_FIELDS.len())?;
        for (name, value) in LIMIT_FIELDS.iter().zip(limit_values(&self.limits)) {
            e.str(name)?;
            match value {
                Some(v) => e.uint(v)?,
                None => e.nil()?,
            }
        }
        e.str("args")?;
        e.array_len(self.args.len())?;
        for arg in &self.args {
            e.str(arg)?;
        }
        e.str("env")?;
        e.array_len(self.env.len())?;
        for (k, v) in &self.env {
            e.array_len(2)?;
            e.str(k)?;
            e.str(v)?;
        }
        Ok(())
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Header, DecodeError> {
        const NAMES: &[&str] = &["format", "version", "plugin", "engine", "limits", "args", "env"];
        let (mut format, mut version, mut plugin) = (None, None, None);
        let mut engine = EngineConfig::default();
        let mut limits = Limits::default();
        let (mut args, mut env) = (Vec::new(), Vec::new());
        let mut limit_fields = [OLD_MEMORY_FIELD; LIMIT_FIELDS.len() + 1];
        limit_fields[..LIMIT_FIELDS.len()].copy_from_slice(&LIMIT_FIELDS);
        let usize_at = |d: &mut Decoder<'_>| {
            let at = d.position();
            usize::try_from(d.uint()?).map_err(|_| DecodeError::OutOfRange(at))
        };
        // What the arguments and environment take so far, against MAX_HEADER_STRINGS.
        let mut strings = 0usize;
        let mut string = |d: &mut Decoder<'_>| {
            let s = d.str()?;
            strings = strings.saturating_add(header_string(s.len()));
            if strings > MAX_HEADER_STRINGS {
                return Err(DecodeError::Invalid("WASI arguments and environment over MAX_HEADER_STRINGS (2 MiB)"));
            }
            Ok(String::from(s))
        };
        d.fields(NAMES, |d, field| {
            match field {
                Some(0) => format = Some(d.str()?),
                Some(1) => version = Some(d.uint()?),
                Some(2) => {
                    plugin = Some(<[u8; 32]>::try_from(d.bin()?).map_err(|_| DecodeError::Invalid("not a SHA-256"))?)
                }
                Some(3) => d.fields(&["fuel", "max_recursion_depth", "max_stack_height"], |d, f| {
                    match f {
                        Some(0) => engine.fuel = d.bool()?,
                        Some(1) => engine.max_recursion_depth = usize_at(d)?,
                        Some(2) => engine.max_stack_height = usize_at(d)?,
                        _ => d.skip()?,
                    }
                    Ok(())
                })?,
                Some(4) => d.fields(&limit_fields, |d, f| {
                    let Some(f) = f else { return d.skip() };
                    if f == 0 {
                        limits.fuel = if d.is_nil() { d.nil().map(|()| None)? } else { Some(d.uint()?) };
                        return Ok(());
                    }
                    let at = d.position();
                    let v = d.uint()?;
                    // A size limit beyond what this platform can address (recorded on
                    // a 64-bit host, read on a 32-bit device) bounds nothing more here.
                    let size = || Ok::<_, DecodeError>(usize::try_from(v).unwrap_or(usize::MAX));
                    match f {
                        1 => limits.init_fuel = v,
                        2 => limits.slice_fuel = v,
                        3 => limits.max_memory_bytes = size()?,
                        4 => limits.max_table_elements = size()?,
                        5 => limits.max_recursion_depth = size()?,
                        6 => limits.max_request = size()?,
                        7 => limits.max_response = size()?,
                        8 => limits.max_host_response = size()?,
                        9 => limits.max_error = size()?,
                        10 => limits.max_log = size()?,
                        11 => limits.max_output = size()?,
                        12 => limits.max_output_per_call = size()?,
                        13 => limits.retain_buffer = size()?,
                        14 => limits.max_sleep_ns = v,
                        _ => {
                            let pages = u32::try_from(v).map_err(|_| DecodeError::OutOfRange(at))?;
                            limits = limits.with_max_memory_pages(pages);
                        }
                    }
                    Ok(())
                })?,
                Some(5) => {
                    for _ in 0..d.array_len()? {
                        args.push(string(d)?);
                    }
                }
                Some(6) => {
                    for _ in 0..d.array_len()? {
                        if d.array_len()? != 2 {
                            return Err(DecodeError::Invalid("an environment variable is not a pair"));
                        }
                        env.push((string(d)?, string(d)?));
                    }
                }
                _ => d.skip()?,
            }
            Ok(())
        })?;
        if format != Some(FORMAT) {
            return Err(DecodeError::Invalid("not a hookr transcript"));
        }
        match version {
            Some(VERSION) => {}
            Some(_) => return Err(DecodeError::Invalid("a transcript version this hookr does not read")),
            None => return Err(DecodeError::MissingField("version")),
        }
        let plugin = plugin.ok_or(DecodeError::MissingField("plugin"))?;
        Ok(Header { plugin, engine, limits, args, env })
    }
}

/// A transcript read from bytes: its header, then its records one by one.
///
/// Nothing is copied: records borrow from the bytes, and every length in them is
/// checked against what is left, so a corrupt or hostile transcript, or one cut inside
/// a record, is an error, never a panic or a large allocation. One cut between two
/// records reads as the records before the cut.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    header: Header,
    records: Decoder<'a>,
}

impl<'a> Reader<'a> {
    /// Reads the header of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut d = Decoder::new(bytes);
        let header = Header::decode(&mut d).map_err(|e| transcript_error("its header", d.position(), e))?;
        Ok(Reader { header, records: d })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next record, or `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Record<'a>>, Error> {
        if self.records.remaining() == 0 {
            return Ok(None);
        }
        let at = self.records.position();
        Record::decode(&mut self.records).map(Some).map_err(|e| transcript_error("a record", at, e))
    }

    /// Where the next record starts.
    pub fn position(&self) -> usize {
        self.records.position()
    }
}

fn transcript_error(what: &str, at: usize, e: DecodeError) -> Error {
    Error::Transcript(alloc::format!("{what} at offset {at} does not decode: {e}").into())
}

/// Writes a transcript as a runtime runs: the header first, then each record.
///
/// Records are gathered in a buffer and reach the sink at the end of each call, when
/// [`FLUSH_AT`] bytes are waiting, and when the runtime goes: a plugin that makes many
/// small records (clock reads, host calls) costs one write of the sink per 64 KiB,
/// not one per record.
pub(crate) struct Recorder {
    sink: Box<dyn Sink + Send>,
    /// Encoded records the sink has not been given yet.
    buf: Vec<u8>,
    /// Bytes recorded since the call (or instantiation) under way started.
    recorded: usize,
    /// [`Limits::max_recorded_per_call`].
    max_per_call: usize,
    /// Why recording failed, if it did: the call under way then fails.
    failed: Option<RecordingFailure>,
}

/// The pending records that make the recorder write to its sink.
const FLUSH_AT: usize = 64 << 10;

/// The error of a call (or a build) whose transcript's sink refused a write.
fn sink_failed(e: SinkError) -> Error {
    Error::Host(alloc::format!("cannot write the transcript: {e}").into())
}

/// Why a recording failed.
#[derive(Debug)]
pub(crate) enum RecordingFailure {
    /// The sink refused a write.
    Sink(SinkError),
    /// The call would have recorded this many bytes, more than its bound.
    TooLarge(usize),
}

impl Recorder {
    pub(crate) fn new(sink: Box<dyn Sink + Send>, header: &Header) -> Result<Self, Error> {
        let strings = header.strings_size();
        if strings > MAX_HEADER_STRINGS {
            return Err(Error::TooLarge {
                what: "WASI arguments and environment in a transcript header",
                len: strings,
                limit: MAX_HEADER_STRINGS,
            });
        }
        let max_per_call = header.limits.max_recorded_per_call;
        let mut rec = Recorder { sink, buf: Vec::new(), recorded: 0, max_per_call, failed: None };
        header.encode(&mut rec.buf).map_err(Error::Encode)?;
        rec.flush();
        match rec.take_failure() {
            Some(RecordingFailure::Sink(e)) => Err(sink_failed(e)),
            _ => Ok(rec),
        }
    }

    /// Records `record`; a refusal of the sink, or a call past its bound, is kept for
    /// [`take_failure`](Self::take_failure), and nothing more is recorded until then.
    pub(crate) fn write(&mut self, record: &Record<'_>) {
        if matches!(record, Record::Call { .. } | Record::Instantiate) {
            self.recorded = 0;
        }
        if self.failed.is_some() {
            return;
        }
        let before = self.buf.len();
        // Every field is a byte string or string that fits 32 bits (limits keep
        // payloads far below), so encoding cannot fail; if it did, say so.
        if record.encode(&mut self.buf).is_err() {
            self.buf.truncate(before);
            self.failed = Some(RecordingFailure::Sink(SinkError));
            return;
        }
        self.recorded = self.recorded.saturating_add(self.buf.len() - before);
        if self.recorded > self.max_per_call {
            self.buf.truncate(before);
            self.failed = Some(RecordingFailure::TooLarge(self.recorded));
            return;
        }
        if self.buf.len() >= FLUSH_AT {
            self.flush();
        }
    }

    /// Gives the sink what is pending.
    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let (sink, buf) = (&mut self.sink, &self.buf);
        // Host calls and log lines are recorded inside an import, where a panic cannot
        // unwind: a sink that panics fails the transcript as a sink that refuses does.
        let written = crate::abi::contain("the transcript's sink", || sink.write_all(buf));
        if self.failed.is_none() {
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.failed = Some(RecordingFailure::Sink(e)),
                Err(_) => self.failed = Some(RecordingFailure::Sink(SinkError)),
            }
        }
        self.buf.clear();
        // Keep a big record's buffer no longer than the record.
        if self.buf.capacity() > 2 * FLUSH_AT {
            self.buf = Vec::new();
        }
    }

    /// Why recording failed since the last call, if it did.
    pub(crate) fn take_failure(&mut self) -> Option<RecordingFailure> {
        self.failed.take()
    }

    /// Ends what is under way (a call, or an instantiation outside one) after a
    /// failure: a call past its bound gets a [`RECORDING_CUT`] end instead of its own,
    /// so that a replay knows the transcript stops being whole there. Flushes, and says
    /// why recording failed, about `what` was being recorded.
    fn end_failed(&mut self, failure: RecordingFailure, what: &'static str, fuel: Option<u64>) -> Error {
        let error = match failure {
            RecordingFailure::Sink(e) => return sink_failed(e),
            RecordingFailure::TooLarge(len) => Error::TooLarge { what, len, limit: self.max_per_call },
        };
        let message = alloc::format!("{error}");
        // Past the bound, and so not counted against it: it is one small record.
        let cut = Record::End { outcome: Outcome::Error { kind: RECORDING_CUT, message: &message }, fuel };
        if cut.encode(&mut self.buf).is_ok() {
            self.flush();
        }
        match self.take_failure() {
            Some(RecordingFailure::Sink(e)) => sink_failed(e),
            _ => error,
        }
    }

    /// After an instantiation outside a call (building or resetting the runtime): what
    /// it recorded goes to the sink, and a failure to record it is the error.
    fn instantiated(&mut self) -> Result<(), Error> {
        self.flush();
        match self.take_failure() {
            None => Ok(()),
            Some(failure) => Err(self.end_failed(failure, "the transcript of one instantiation", None)),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Where a replay stands in its transcript.
pub(crate) struct Replayer {
    bytes: Cow<'static, [u8]>,
    /// Where the next record starts.
    at: usize,
    /// The call being replayed (1 for the first; 0 before the first).
    call: u64,
    /// Its operation, for the divergence report.
    op: String,
    /// The plugin is being started afresh for the call `call`, whose record comes
    /// after the instantiation's.
    restarting: bool,
}

/// The record of `bytes` at `at`, and where the one after it starts.
fn record_at(bytes: &[u8], at: usize) -> Result<Option<(Record<'_>, usize)>, Error> {
    let rest = &bytes[at..];
    if rest.is_empty() {
        return Ok(None);
    }
    let mut d = Decoder::new(rest);
    let record = Record::decode(&mut d).map_err(|e| transcript_error("a record", at, e))?;
    Ok(Some((record, at + d.position())))
}

/// Takes the record of `bytes` at `*at` and moves `*at` past it; `None` at the end.
/// (A free function, so that the record borrows only the bytes of a [`Replayer`].)
fn take<'b>(bytes: &'b [u8], at: &mut usize) -> Result<Option<Record<'b>>, Error> {
    match record_at(bytes, *at)? {
        Some((record, next)) => {
            *at = next;
            Ok(Some(record))
        }
        None => Ok(None),
    }
}

/// Takes the next record of the replayer `r`, or returns the divergence of a plugin
/// that `did` something past the transcript's end.
macro_rules! next {
    ($r:expr, $did:expr) => {
        match take(&$r.bytes, &mut $r.at)? {
            Some(record) => record,
            None => return Err($r.diverged(alloc::format!("the plugin {} after the transcript's end", $did), b"", b"")),
        }
    };
}

impl Replayer {
    /// The plugin is being instantiated: the transcript must say so next.
    fn instantiate(&mut self) -> Result<(), Error> {
        match next!(self, "was instantiated") {
            Record::Instantiate => Ok(()),
            other => {
                let other = describe(&other);
                Err(self.diverged(
                    alloc::format!("the plugin was instantiated where the transcript has {other}"),
                    b"",
                    b"",
                ))
            }
        }
    }

    /// A divergence in the call under way.
    fn diverged(&self, what: impl Into<Cow<'static, str>>, expected: &[u8], actual: &[u8]) -> Error {
        Error::Diverged(Box::new(Divergence {
            call: self.call,
            op: self.op.clone(),
            what: what.into(),
            expected: expected.to_vec(),
            actual: actual.to_vec(),
        }))
    }

    /// The plugin did `did` where the transcript has `found`.
    fn mismatch(&self, did: &str, found: &Record<'_>) -> Error {
        self.diverged(alloc::format!("the plugin {did} where the transcript has {}", describe(found)), b"", b"")
    }

    /// The operation and request of the next recorded call, looking past a
    /// re-instantiation and what its initialisers did; `None` when no call is left.
    fn peek_call(&self) -> Result<Option<(String, Vec<u8>)>, Error> {
        let mut at = self.at;
        while let Some((record, next)) = record_at(&self.bytes, at)? {
            if let Record::Call { op, request } = record {
                return Ok(Some((String::from(op), request.to_vec())));
            }
            at = next;
        }
        Ok(None)
    }
}

/// Says what a record is, for a divergence.
fn describe(record: &Record<'_>) -> String {
    match record {
        Record::Instantiate => String::from("a new instance"),
        Record::Call { op, .. } => alloc::format!("the call `{}`", crate::abi::truncate(op, 64)),
        Record::HostCall { op, .. } => {
            alloc::format!("a call of the host function `{}`", crate::abi::truncate(&String::from_utf8_lossy(op), 64))
        }
        Record::Clock { .. } => String::from("a clock read"),
        Record::Random(bytes) => alloc::format!("a read of {} random bytes", bytes.len()),
        Record::Log(_) => String::from("a log line"),
        Record::Output { fd, .. } => alloc::format!("a write to fd {fd}"),
        Record::End { .. } => String::from("the end of the call"),
    }
}

/// What a runtime does with transcripts: nothing, record one, or replay one.
#[derive(Default)]
pub(crate) enum Tape {
    #[default]
    Off,
    Record(Recorder),
    Replay(Replayer),
}

impl Tape {
    pub(crate) fn recording(sink: Box<dyn Sink + Send>, header: &Header) -> Result<Self, Error> {
        Recorder::new(sink, header).map(Tape::Record)
    }

    pub(crate) fn replaying(bytes: Cow<'static, [u8]>, start: usize) -> Self {
        Tape::Replay(Replayer { bytes, at: start, call: 0, op: String::new(), restarting: false })
    }

    /// Whether host functions, clocks and random bytes come from a transcript.
    #[inline]
    pub(crate) fn is_off(&self) -> bool {
        matches!(self, Tape::Off)
    }

    pub(crate) fn replaying_now(&self) -> bool {
        matches!(self, Tape::Replay(_))
    }

    /// Writes `record` when recording; a no-op otherwise.
    #[inline]
    pub(crate) fn write(&mut self, record: &Record<'_>) {
        if let Tape::Record(r) = self {
            r.write(record);
        }
    }

    /// The plugin is being instantiated.
    pub(crate) fn instantiate(&mut self) -> Result<(), Error> {
        match self {
            Tape::Off => Ok(()),
            Tape::Record(r) => {
                r.write(&Record::Instantiate);
                Ok(())
            }
            Tape::Replay(r) => {
                // After the first call, an instantiation starts the plugin afresh for the
                // next one: what differs in it is that call's.
                if r.call > 0 && !r.restarting {
                    r.call += 1;
                    r.op = r.peek_call()?.map(|(op, _)| op).unwrap_or_default();
                    r.restarting = true;
                }
                r.instantiate()
            }
        }
    }

    /// An instantiation outside a call (building or resetting the runtime) is done:
    /// when recording, what it recorded reaches the sink, and a failure to record it
    /// is the error.
    pub(crate) fn instantiated(&mut self) -> Result<(), Error> {
        match self {
            Tape::Record(r) => r.instantiated(),
            _ => Ok(()),
        }
    }

    /// A call of `op` with `request` starts.
    pub(crate) fn call(&mut self, op: &str, request: &[u8]) -> Result<(), Error> {
        match self {
            Tape::Off => Ok(()),
            Tape::Record(r) => {
                r.write(&Record::Call { op, request });
                Ok(())
            }
            Tape::Replay(r) => {
                // A call that started the plugin afresh was counted when it did.
                if !core::mem::take(&mut r.restarting) {
                    r.call += 1;
                }
                r.op = String::from(op);
                match next!(r, "was called") {
                    Record::Call { op: want, request: want_request }
                        if bytes::eq(want.as_bytes(), op.as_bytes()) && bytes::eq(want_request, request) =>
                    {
                        Ok(())
                    }
                    other => {
                        let other = describe(&other);
                        Err(r.diverged(
                            alloc::format!("the call does not start where the transcript has {other}"),
                            b"",
                            b"",
                        ))
                    }
                }
            }
        }
    }

    /// Replays a host call: the recorded reply goes into `response` or `error`, and
    /// whether the host function succeeded comes back.
    pub(crate) fn replay_host_call(
        &mut self,
        binding: &[u8],
        namespace: &[u8],
        op: &[u8],
        request: &[u8],
        response: &mut Vec<u8>,
        error: &mut Vec<u8>,
    ) -> Result<(bool, bool), Error> {
        let Tape::Replay(r) = self else {
            return Err(Error::host("no transcript is being replayed"));
        };
        let (b, n, o, q, ok, reply, decoded) = match next!(r, "called a host function") {
            Record::HostCall { binding, namespace, op, request, ok, reply, decoded } => {
                (binding, namespace, op, request, ok, reply, decoded)
            }
            other => return Err(r.mismatch("called a host function", &other)),
        };
        let name = |b: &[u8], n: &[u8], o: &[u8]| [b, b"/", n, b"/", o].concat();
        if !(bytes::eq(b, binding) && bytes::eq(n, namespace) && bytes::eq(o, op)) {
            let want = name(b, n, o);
            return Err(r.diverged(
                "the host function called (binding/namespace/operation)",
                &want,
                &name(binding, namespace, op),
            ));
        }
        if !bytes::eq(q, request) {
            let want = q.to_vec();
            return Err(r.diverged("the request of the host call", &want, request));
        }
        let out = if ok { response } else { error };
        out.clear();
        out.extend_from_slice(reply);
        Ok((ok, decoded))
    }

    /// Replays a clock read.
    pub(crate) fn replay_clock(&mut self, id: u32, resolution: bool) -> Result<u64, Error> {
        let Tape::Replay(r) = self else {
            return Err(Error::host("no transcript is being replayed"));
        };
        match next!(r, "read a clock") {
            Record::Clock { id: i, resolution: res, ns } if (i, res) == (id, resolution) => Ok(ns),
            Record::Clock { id: i, .. } => Err(r.diverged("the clock read", &i.to_le_bytes(), &id.to_le_bytes())),
            other => Err(r.mismatch("read a clock", &other)),
        }
    }

    /// Replays a read of `buf.len()` random bytes into `buf`.
    pub(crate) fn replay_random(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        let Tape::Replay(r) = self else {
            return Err(Error::host("no transcript is being replayed"));
        };
        match next!(r, "read random bytes") {
            Record::Random(bytes) if bytes.len() == buf.len() => {
                buf.copy_from_slice(bytes);
                Ok(())
            }
            Record::Random(bytes) => {
                let (want, got) = (bytes.len() as u64, buf.len() as u64);
                Err(r.diverged("the number of random bytes read", &want.to_le_bytes(), &got.to_le_bytes()))
            }
            other => Err(r.mismatch("read random bytes", &other)),
        }
    }

    /// A log line reached the logger: recorded, or compared with the transcript's.
    pub(crate) fn log(&mut self, line: &str) -> Result<(), Error> {
        match self {
            Tape::Off => Ok(()),
            Tape::Record(r) => {
                r.write(&Record::Log(line));
                Ok(())
            }
            Tape::Replay(r) => match next!(r, "logged a line") {
                Record::Log(want) if want == line => Ok(()),
                Record::Log(want) => {
                    let want = want.as_bytes().to_vec();
                    Err(r.diverged("the log line", &want, line.as_bytes()))
                }
                other => Err(r.mismatch("logged a line", &other)),
            },
        }
    }

    /// Bytes reached the stdout or stderr sink: recorded, or compared.
    pub(crate) fn output(&mut self, fd: u32, bytes: &[u8]) -> Result<(), Error> {
        match self {
            Tape::Off => Ok(()),
            Tape::Record(r) => {
                r.write(&Record::Output { fd, bytes });
                Ok(())
            }
            Tape::Replay(r) => match next!(r, "wrote output") {
                Record::Output { fd: f, bytes: want } if f == fd && want == bytes => Ok(()),
                Record::Output { bytes: want, .. } => {
                    let want = want.to_vec();
                    Err(r.diverged(alloc::format!("the output to fd {fd}"), &want, bytes))
                }
                other => Err(r.mismatch("wrote output", &other)),
            },
        }
    }

    /// The call ended with `outcome` after using `fuel`: recorded, or compared.
    pub(crate) fn end(&mut self, outcome: &Outcome<'_>, fuel: Option<u64>) -> Result<(), Error> {
        match self {
            Tape::Off => Ok(()),
            Tape::Record(r) => {
                if let Some(failure) = r.take_failure() {
                    return Err(r.end_failed(failure, "the transcript of one call", fuel));
                }
                r.write(&Record::End { outcome: outcome.clone(), fuel });
                r.flush();
                match r.take_failure() {
                    Some(failure) => Err(r.end_failed(failure, "the transcript of one call", fuel)),
                    None => Ok(()),
                }
            }
            Tape::Replay(r) => {
                let (want, want_fuel) = match next!(r, "ended the call") {
                    Record::End { outcome, fuel } => (outcome, fuel),
                    other => return Err(r.mismatch("ended the call", &other)),
                };
                let text = |o: &Outcome<'_>| match o {
                    Outcome::Response(bytes) => bytes.to_vec(),
                    Outcome::Error { kind, message } => alloc::format!("{kind}: {message}").into_bytes(),
                };
                if want != *outcome && !refused_by_output(&want, outcome) {
                    let what = match (&want, outcome) {
                        (Outcome::Response(_), Outcome::Response(_)) => "the response",
                        _ => "how the call ended",
                    };
                    let want = text(&want);
                    return Err(r.diverged(what, &want, &text(outcome)));
                }
                if want_fuel != fuel {
                    let fuel_bytes = |f: Option<u64>| alloc::format!("{f:?}").into_bytes();
                    return Err(r.diverged("the fuel used", &fuel_bytes(want_fuel), &fuel_bytes(fuel)));
                }
                Ok(())
            }
        }
    }

    /// When replaying, how many calls have started.
    pub(crate) fn calls_started(&self) -> u64 {
        match self {
            Tape::Replay(r) => r.call,
            _ => 0,
        }
    }

    /// When replaying, the operation and request of the next recorded call.
    pub(crate) fn next_call(&self) -> Result<Option<(String, Vec<u8>)>, Error> {
        match self {
            Tape::Replay(r) => r.peek_call(),
            _ => Ok(None),
        }
    }
}

/// The first difference between a transcript and its replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The call it happened in: 1 for the first, 0 while the plugin was first being
    /// instantiated. A divergence while the plugin was started afresh for a call (after
    /// a failed one) is that call's.
    pub call: u64,
    /// That call's operation (empty while instantiating).
    pub op: String,
    /// What differed.
    pub what: Cow<'static, str>,
    /// What the transcript has.
    pub expected: Vec<u8>,
    /// What the replay did.
    pub actual: Vec<u8>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.call {
            0 => write!(f, "while instantiating: {}", self.what)?,
            n => write!(f, "call {n} (`{}`): {}", crate::abi::truncate(&self.op, 64), self.what)?,
        }
        write!(f, ": expected {}, got {}", Shown(&self.expected), Shown(&self.actual))
    }
}

/// Bytes as hex, followed by the text when it is printable UTF-8; long ones cut.
struct Shown<'a>(&'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 64;
        let bytes = &self.0[..self.0.len().min(MAX)];
        let more = if self.0.len() > MAX { "…" } else { "" };
        write!(f, "{} bytes [", self.0.len())?;
        for (i, b) in bytes.iter().enumerate() {
            write!(f, "{}{b:02x}", if i == 0 { "" } else { " " })?;
        }
        write!(f, "{more}]")?;
        if let Ok(text) = core::str::from_utf8(bytes) {
            if !text.is_empty() && text.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') {
                write!(f, " {text:?}{more}")?;
            }
        }
        Ok(())
    }
}

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every call did exactly what the transcript says: same host calls with the same
    /// requests, same clock and random reads, same output, same results, same fuel.
    Identical {
        /// The calls replayed.
        calls: u64,
    },
    /// The first place the replay did something else.
    Diverged(Divergence),
}

/// The most fuel per call, and per initialiser, a transcript may give its calls for
/// [`replay`] to run them: ten times the default budget, about ten seconds of
/// interpretation on a desktop core.
pub const REPLAY_FUEL: u64 = 10 * Limits::DEFAULT_CALL_FUEL;

/// The most fuel a whole [`replay`] may run: a hundred times the default call budget,
/// about a hundred seconds of interpretation on a desktop core.
///
/// What a replay may run is counted from the transcript before anything runs: the
/// fuel its calls recorded, the initialiser budget of each of the plugin's
/// initialisers (its start section and the ones it exports) for each time it
/// instantiates the plugin (the first time, and again after a failed call), and one
/// call's budget for a call that goes further than its record. A transcript that lists a great many calls
/// is refused for it, however small each is.
pub const REPLAY_TOTAL_FUEL: u64 = 100 * Limits::DEFAULT_CALL_FUEL;

/// Replays `transcript` against `module`, which must be the plugin it was recorded
/// from (its SHA-256 is checked) compiled with the same engine settings.
///
/// Host functions, clocks and random reads are answered from the transcript, the
/// limits and WASI arguments are those it records, and the output is compared, not
/// shown. Errors are for what prevents a replay: a transcript that does not decode,
/// another plugin, other engine settings, or fuel past [`REPLAY_FUEL`] per call or
/// [`REPLAY_TOTAL_FUEL`] in all (a transcript names its own budgets; one recorded
/// unmetered has none). What the plugin does differently is a [`Verdict::Diverged`].
///
/// A transcript is a stream: one cut inside a record is an error, but one cut between
/// two calls is a shorter transcript, and replays as the calls it holds.
/// [`Verdict::Identical`] says how many: a host that expects a number of calls
/// compares it.
pub fn replay(module: &Module, transcript: impl Into<Cow<'static, [u8]>>) -> Result<Verdict, Error> {
    replay_bounded(module, transcript, REPLAY_FUEL, REPLAY_TOTAL_FUEL)
}

/// [`replay`], with `max_fuel` the most fuel per call and per initialiser the
/// transcript may give: a transcript past it, or recorded unmetered, is refused with
/// [`Error::Config`] before anything runs; the whole replay is bounded by
/// [`REPLAY_TOTAL_FUEL`] (or `max_fuel`, when that is more). `None` runs whatever the
/// transcript says, unmetered included: only for transcripts you trust, since a replay
/// then has no bound but the transcript's.
pub fn replay_within(
    module: &Module,
    transcript: impl Into<Cow<'static, [u8]>>,
    max_fuel: Option<u64>,
) -> Result<Verdict, Error> {
    match max_fuel {
        Some(max) => replay_bounded(module, transcript, max, REPLAY_TOTAL_FUEL.max(max)),
        None => run_replay(module, transcript.into(), None),
    }
}

/// [`replay`], with `per_call` the most fuel per call and per initialiser the
/// transcript may give, and `total` the most the whole replay may run, counted as
/// [`REPLAY_TOTAL_FUEL`] says. A transcript past either, or recorded unmetered, is
/// refused with [`Error::Config`] before anything runs.
///
/// ```
/// # use hookr::{transcript, Module};
/// # fn check(module: &Module, recorded: Vec<u8>) -> Result<(), hookr::Error> {
/// // At most a second a call, and ten in all.
/// let verdict = transcript::replay_bounded(module, recorded, 1_000_000_000, 10_000_000_000)?;
/// # let _ = verdict;
/// # Ok(())
/// # }
/// ```
pub fn replay_bounded(
    module: &Module,
    transcript: impl Into<Cow<'static, [u8]>>,
    per_call: u64,
    total: u64,
) -> Result<Verdict, Error> {
    run_replay(module, transcript.into(), Some((per_call, total)))
}

/// The most fuel a replay of the records of `bytes` from `at` on may run, under the
/// transcript's `limits`, counted as [`REPLAY_TOTAL_FUEL`] says, for a plugin that runs
/// `initialisers` initialisers (its start section and exported ones, each with a whole
/// `init_fuel`) each time it is instantiated; saturates.
fn fuel_to_replay(bytes: &[u8], mut at: usize, limits: &Limits, initialisers: u32) -> Result<u64, Error> {
    let call = limits.fuel.unwrap_or(u64::MAX);
    let instantiate = limits.init_fuel.saturating_mul(u64::from(initialisers));
    let mut total = call;
    // Read as the replay reads them.
    while let Some(record) = take(bytes, &mut at)? {
        let fuel = match record {
            Record::Instantiate => instantiate,
            Record::End { fuel, .. } => fuel.unwrap_or(call),
            _ => continue,
        };
        total = total.saturating_add(fuel);
    }
    Ok(total)
}

/// The divergence `e` is, itself or as what stopped an initialiser: a replay's verdict
/// rather than an error. Any other error comes back as it is.
pub(crate) fn divergence(e: Error) -> Result<Box<Divergence>, Error> {
    match e {
        Error::Diverged(d) => Ok(d),
        Error::Init { source, .. } if matches!(*source, Error::Diverged(_)) => divergence(*source),
        e => Err(e),
    }
}

/// Where the recording of `bytes` was cut, if it was ([`RECORDING_CUT`]): how many
/// calls came whole before the cut, and what the cut's end record says.
fn recording_cut(bytes: &[u8], mut at: usize) -> Result<Option<(u64, String)>, Error> {
    let (mut calls, mut in_call) = (0u64, false);
    while let Some(record) = take(bytes, &mut at)? {
        match record {
            Record::Call { .. } => (calls, in_call) = (calls + 1, true),
            Record::End { outcome: Outcome::Error { kind: RECORDING_CUT, message }, .. } => {
                return Ok(Some((calls - u64::from(in_call), String::from(message))));
            }
            Record::End { .. } => in_call = false,
            _ => {}
        }
    }
    Ok(None)
}

fn run_replay(module: &Module, bytes: Cow<'static, [u8]>, bound: Option<(u64, u64)>) -> Result<Verdict, Error> {
    let reader = Reader::new(&bytes)?;
    let start = reader.position();
    let header = reader.header;
    // A recording cut short replays up to the cut, then says why it stops.
    let cut = recording_cut(&bytes, start)?;
    let stop = |(whole, message): &(u64, String)| {
        Error::Transcript(
            match whole {
                0 => alloc::format!("the recording was cut before its first whole call ({message}): nothing replays"),
                n => alloc::format!(
                    "the recording was cut after its call {n} ({message}): the calls up to it replayed identical, \
                     and what came after cannot be replayed"
                ),
            }
            .into(),
        )
    };
    if let Some((max, total)) = bound {
        let Some(fuel) = header.limits.fuel else {
            return Err(Error::config(
                "the transcript was recorded unmetered, so its calls have no bound: replay it only if you trust it \
                 (`replay_within` with no fuel bound, `hookr replay --any-fuel`)",
            ));
        };
        let claimed = fuel.max(header.limits.init_fuel);
        if claimed > max {
            return Err(Error::Config(
                alloc::format!(
                    "the transcript gives its calls up to {claimed} fuel, more than this replay allows ({max})"
                )
                .into(),
            ));
        }
        let inner = &module.inner;
        let initialisers = inner.initialisers.count_ones() + u32::from(inner.start_section);
        let all = fuel_to_replay(&bytes, start, &header.limits, initialisers)?;
        if all > total {
            return Err(Error::Config(
                alloc::format!(
                    "replaying the transcript may take up to {all} fuel in all, more than this replay allows ({total})"
                )
                .into(),
            ));
        }
    }
    match module.inner.sha256 {
        Some(sha) if sha == header.plugin => {}
        Some(sha) => {
            return Err(Error::Transcript(
                alloc::format!(
                    "the transcript is of the plugin {}, not of {}",
                    crate::to_hex(&header.plugin),
                    crate::to_hex(&sha)
                )
                .into(),
            ))
        }
        None => {
            return Err(Error::config(
                "a replay checks the plugin's SHA-256: load the module with a SHA-256 hash or a pin",
            ))
        }
    }
    if !module.inner.config.same_behaviour(&header.engine) {
        return Err(Error::config("the module was compiled with other engine settings than the transcript's"));
    }
    if let Some(cut @ (0, _)) = &cut {
        return Err(stop(cut));
    }
    let built = crate::Runtime::builder(())
        .module(module.clone())
        .limits(header.limits)
        .args(header.args)
        .env(header.env)
        .replaying(Tape::replaying(bytes, start))
        .build();
    let mut rt = match built {
        Ok(rt) => rt,
        Err(e) => return divergence(e).map(|d| Verdict::Diverged(*d)),
    };
    let mut out = Vec::new();
    let mut calls = 0;
    loop {
        if let Some(cut) = cut.as_ref().filter(|(whole, _)| *whole == calls) {
            return Err(stop(cut));
        }
        let Some((op, request)) = rt.next_recorded_call()? else {
            return Ok(Verdict::Identical { calls });
        };
        calls += 1;
        match rt.invoke_into(&op, &request, &mut out) {
            Err(Error::Diverged(d)) => return Ok(Verdict::Diverged(*d)),
            // Refused before it started (a request over the transcript's own limits):
            // the recorded call never ran here.
            Err(e) if rt.replayed_calls() < calls => {
                return Ok(Verdict::Diverged(Divergence {
                    call: calls,
                    op,
                    what: alloc::format!("the call was refused before it started: {e}").into(),
                    expected: Vec::new(),
                    actual: Vec::new(),
                }))
            }
            // Every other outcome was compared with the transcript's when the call ended.
            _ => {}
        }
    }
}
