//! The sandboxed WASI subset: what `wasi_snapshot_preview1` gives a plugin.
//!
//! TinyGo plugins and Rust `wasm32-wasip1` plugins import WASI preview 1 for their
//! standard library. hookr links the module only when a plugin imports from it, and
//! then links **every** preview 1 function with its preview 1 signature, so any such
//! plugin instantiates. Only these do something:
//!
//! | call | answer |
//! |---|---|
//! | `fd_write` | fd 1 writes to the [stdout sink](crate::Builder::stdout), fd 2 to the [stderr sink](crate::Builder::stderr); `EIO` when the sink refuses, `EBADF` once the call's output bound is spent |
//! | `fd_read` | fd 0 is always at end of file (0 bytes read), so a plugin that reads stdin sees no input rather than an error |
//! | `fd_fdstat_get` | fds 0–2: a character device; fd 0 has the `fd_read` right, fds 1 and 2 `fd_write` |
//! | `random_get` | bytes from the [random source](crate::Builder::rand_source) |
//! | `clock_time_get`, `clock_res_get` | realtime and monotonic from the [clock](crate::Builder::clock); the process and thread CPU-time clocks answer the monotonic clock (while a plugin runs, it is all its thread does); other clock ids `EINVAL` |
//! | `args_sizes_get`, `args_get` | the [arguments](crate::Builder::args), NUL-terminated; none by default |
//! | `environ_sizes_get`, `environ_get` | the [environment](crate::Builder::env) as `KEY=VALUE`, NUL-terminated; empty by default |
//! | `proc_exit` | ends the running call with [`Error::Exit`](crate::Error::Exit), and the runtime starts the plugin afresh as after a trap; `proc_exit(0)` from `_start` is a normal end of initialisation, any other exit from an initialiser fails it |
//! | `poll_oneoff` | waits for the earliest clock subscription, or not at all when one on stdin (always at its end), stdout or stderr (always ready) is there; the wait costs a unit of fuel per nanosecond, is at most [`max_sleep_ns`](crate::Limits::max_sleep_ns) and never past the call's deadline; the system clock sleeps (a sliced call pauses instead, answering `Pending` until the wait is over), the fixed clock moves on at once; a subscription of an unknown type is `EINVAL` |
//! | `sched_yield` | success |
//!
//! Every other function links too and answers an errno without touching memory. The
//! other `fd_*` calls answer [`errno::BADF`] whatever the fd: `fd_prestat_get` so
//! tells wasi-libc's scan for preopened directories that there are none, and
//! `fd_close(1)` leaves stdout open. The calls above answer `EBADF` as well for fds they
//! do not name. `path_*`, `proc_raise` and `sock_*` answer
//! [`errno::NOSYS`]. There is no filesystem, no socket and no other ambient authority.
//!
//! Every pointer a plugin hands over is checked against its memory before anything is
//! read, written or output. A bad one (an iovec at `0xFFFF_FFF0`, a length past the end
//! of memory, a result pointer that does not fit) answers [`errno::FAULT`], as
//! wasi-libc expects of a kernel, instead of trapping; the call then has had no effect
//! (no bytes reach a sink, the clock and random source are not read).

use alloc::string::String;
use alloc::vec::Vec;

use wasmi::{Caller, FuncType, Val, ValType};

use crate::abi::{contain, guest_range, metered};
use crate::imports::Definitions;
use crate::io::{BoxedClock, BoxedRandom, BoxedSink};
use crate::meter::{IOVEC_FUEL, OUTPUT_FUEL};
use crate::runtime::{Ctx, CtxBox};
use crate::transcript::Record;

/// The preview 1 error numbers this subset answers (`0` is success).
pub mod errno {
    /// No error.
    pub const SUCCESS: i32 = 0;
    /// Bad file descriptor.
    pub const BADF: i32 = 8;
    /// A pointer or length lies outside the plugin's memory.
    pub const FAULT: i32 = 21;
    /// Invalid argument, such as an unknown clock id.
    pub const INVAL: i32 = 28;
    /// The output sink refused the bytes.
    pub const IO: i32 = 29;
    /// The call is not provided.
    pub const NOSYS: i32 = 52;
    /// A result does not fit its 32-bit field.
    pub const OVERFLOW: i32 = 61;
}

const I32: ValType = ValType::I32;
const I64: ValType = ValType::I64;

/// Every preview 1 function: name, parameter types, result types.
const FUNCTIONS: &[(&str, &[ValType], &[ValType])] = &[
    ("args_get", &[I32, I32], &[I32]),
    ("args_sizes_get", &[I32, I32], &[I32]),
    ("environ_get", &[I32, I32], &[I32]),
    ("environ_sizes_get", &[I32, I32], &[I32]),
    ("clock_res_get", &[I32, I32], &[I32]),
    ("clock_time_get", &[I32, I64, I32], &[I32]),
    ("fd_advise", &[I32, I64, I64, I32], &[I32]),
    ("fd_allocate", &[I32, I64, I64], &[I32]),
    ("fd_close", &[I32], &[I32]),
    ("fd_datasync", &[I32], &[I32]),
    ("fd_fdstat_get", &[I32, I32], &[I32]),
    ("fd_fdstat_set_flags", &[I32, I32], &[I32]),
    ("fd_fdstat_set_rights", &[I32, I64, I64], &[I32]),
    ("fd_filestat_get", &[I32, I32], &[I32]),
    ("fd_filestat_set_size", &[I32, I64], &[I32]),
    ("fd_filestat_set_times", &[I32, I64, I64, I32], &[I32]),
    ("fd_pread", &[I32, I32, I32, I64, I32], &[I32]),
    ("fd_prestat_get", &[I32, I32], &[I32]),
    ("fd_prestat_dir_name", &[I32, I32, I32], &[I32]),
    ("fd_pwrite", &[I32, I32, I32, I64, I32], &[I32]),
    ("fd_read", &[I32, I32, I32, I32], &[I32]),
    ("fd_readdir", &[I32, I32, I32, I64, I32], &[I32]),
    ("fd_renumber", &[I32, I32], &[I32]),
    ("fd_seek", &[I32, I64, I32, I32], &[I32]),
    ("fd_sync", &[I32], &[I32]),
    ("fd_tell", &[I32, I32], &[I32]),
    ("fd_write", &[I32, I32, I32, I32], &[I32]),
    ("path_create_directory", &[I32, I32, I32], &[I32]),
    ("path_filestat_get", &[I32, I32, I32, I32, I32], &[I32]),
    ("path_filestat_set_times", &[I32, I32, I32, I32, I64, I64, I32], &[I32]),
    ("path_link", &[I32, I32, I32, I32, I32, I32, I32], &[I32]),
    ("path_open", &[I32, I32, I32, I32, I32, I64, I64, I32, I32], &[I32]),
    ("path_readlink", &[I32, I32, I32, I32, I32, I32], &[I32]),
    ("path_remove_directory", &[I32, I32, I32], &[I32]),
    ("path_rename", &[I32, I32, I32, I32, I32, I32], &[I32]),
    ("path_symlink", &[I32, I32, I32, I32, I32], &[I32]),
    ("path_unlink_file", &[I32, I32, I32], &[I32]),
    ("poll_oneoff", &[I32, I32, I32, I32], &[I32]),
    ("proc_exit", &[I32], &[]),
    ("proc_raise", &[I32], &[I32]),
    ("sched_yield", &[], &[I32]),
    ("random_get", &[I32, I32], &[I32]),
    ("sock_accept", &[I32, I32, I32], &[I32]),
    ("sock_recv", &[I32, I32, I32, I32, I32, I32], &[I32]),
    ("sock_send", &[I32, I32, I32, I32, I32], &[I32]),
    ("sock_shutdown", &[I32, I32], &[I32]),
];

/// The functions that do more than answer an errno; `link` defines each with its own
/// host function, and every other entry of `FUNCTIONS` with a stub.
const IMPLEMENTED: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_fdstat_get",
    "fd_read",
    "fd_write",
    "poll_oneoff",
    "proc_exit",
    "random_get",
    "sched_yield",
];

/// The parameter and result types of the preview 1 function `name`, or `None` when
/// `wasi_snapshot_preview1` has no function of that name.
///
/// ```
/// use hookr::wasi::signature;
/// use hookr::wasmi::ValType::{I32, I64};
/// assert_eq!(signature("clock_time_get"), Some((&[I32, I64, I32][..], &[I32][..])));
/// assert_eq!(signature("proc_exit"), Some((&[I32][..], &[][..])));
/// assert_eq!(signature("fd_mmap"), None);
/// ```
pub fn signature(name: &str) -> Option<(&'static [ValType], &'static [ValType])> {
    FUNCTIONS.iter().find(|(n, ..)| *n == name).map(|&(_, params, results)| (params, results))
}

/// What a stubbed function answers: `EBADF` for any fd call, `ENOSYS` for the rest.
fn stub_errno(name: &str) -> i32 {
    if name.starts_with("fd_") {
        errno::BADF
    } else {
        errno::NOSYS
    }
}

const STDIN: i32 = 0;
const STDOUT: i32 = 1;
const STDERR: i32 = 2;

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_PROCESS_CPUTIME: i32 = 2;
const CLOCK_THREAD_CPUTIME: i32 = 3;

const FILETYPE_CHARACTER_DEVICE: u8 = 2;
const RIGHT_FD_READ: u64 = 1 << 1;
const RIGHT_FD_WRITE: u64 = 1 << 6;
/// `fdstat`: filetype u8, flags u16 at 2, rights u64 at 8, inheriting rights u64 at 16.
const FDSTAT_SIZE: i32 = 24;
/// `ciovec`: buffer pointer u32, length u32.
const IOVEC_SIZE: u32 = 8;

/// What a plugin's sandbox sees of the outside.
pub(crate) struct Io {
    pub(crate) stdout: BoxedSink,
    pub(crate) stderr: BoxedSink,
    pub(crate) random: BoxedRandom,
    pub(crate) clock: BoxedClock,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// What `args_sizes_get` and `environ_sizes_get` answer, counted once: `None`
    /// when a count does not fit 32 bits.
    args_sizes: Option<(u32, u32)>,
    env_sizes: Option<(u32, u32)>,
}

impl Io {
    pub(crate) fn new(
        stdout: BoxedSink,
        stderr: BoxedSink,
        random: BoxedRandom,
        clock: BoxedClock,
        args: Vec<String>,
        env: Vec<(String, String)>,
    ) -> Self {
        let mut io = Io { stdout, stderr, random, clock, args, env, args_sizes: None, env_sizes: None };
        io.args_sizes = string_sizes(args_of(&io));
        io.env_sizes = string_sizes(environ_of(&io));
        io
    }
}

/// Runs a WASI call under the meter on the guest's memory and the store data.
#[inline]
fn with_memory(
    caller: &mut Caller<'_, CtxBox>,
    f: impl FnOnce(&mut [u8], &mut Ctx) -> Result<i32, wasmi::Error>,
) -> Result<i32, wasmi::Error> {
    crate::abi::with_memory(caller, |data, ctx| {
        // Sinks, the clock and the random source are the host's code.
        contain("a WASI output sink, clock or random source", || f(data, ctx))?
    })
}

fn read_u32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

fn read_u64(data: &[u8], at: usize) -> u64 {
    u64::from(read_u32(data, at)) | u64::from(read_u32(data, at + 4)) << 32
}

/// Writes `bytes` at `ptr`, or answers `EFAULT` when they do not fit.
fn put(data: &mut [u8], ptr: i32, bytes: &[u8]) -> i32 {
    match guest_range(data.len(), ptr, bytes.len() as i32) {
        Some(range) => {
            data[range].copy_from_slice(bytes);
            errno::SUCCESS
        }
        None => errno::FAULT,
    }
}

/// Checks that the iovec array at `iovs` and every buffer it names lie in memory, and
/// returns the total length of the buffers.
fn check_iovecs(data: &[u8], iovs: i32, iovs_len: i32) -> Result<u32, i32> {
    let bytes = (iovs_len as u32).checked_mul(IOVEC_SIZE).ok_or(errno::FAULT)?;
    let array = guest_range(data.len(), iovs, bytes as i32).ok_or(errno::FAULT)?;
    let mut total = 0u32;
    for at in array.step_by(IOVEC_SIZE as usize) {
        let (ptr, len) = (read_u32(data, at), read_u32(data, at + 4));
        guest_range(data.len(), ptr as i32, len as i32).ok_or(errno::FAULT)?;
        total = total.checked_add(len).ok_or(errno::INVAL)?;
    }
    Ok(total)
}

/// The buffers an iovec array names, already checked by [`check_iovecs`].
fn iovec_buffers(data: &[u8], iovs: i32, iovs_len: i32) -> impl Iterator<Item = &[u8]> + Clone {
    let start = iovs as u32 as usize;
    let end = start + iovs_len as u32 as usize * IOVEC_SIZE as usize;
    (start..end).step_by(IOVEC_SIZE as usize).map(move |at| {
        let (ptr, len) = (read_u32(data, at) as usize, read_u32(data, at + 4) as usize);
        &data[ptr..ptr + len]
    })
}

/// Checks that the iovec array at `iovs` lies in memory and charges for reading it;
/// the errno when it does not.
fn iovec_array(data: &[u8], ctx: &mut Ctx, iovs: i32, iovs_len: i32) -> Result<Result<(), i32>, wasmi::Error> {
    let Some(bytes) = (iovs_len as u32).checked_mul(IOVEC_SIZE) else {
        return Ok(Err(errno::FAULT));
    };
    if guest_range(data.len(), iovs, bytes as i32).is_none() {
        return Ok(Err(errno::FAULT));
    }
    ctx.meter.charge(u64::from(iovs_len as u32) * IOVEC_FUEL)?;
    Ok(Ok(()))
}

fn fd_write(
    data: &mut [u8],
    ctx: &mut Ctx,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> Result<i32, wasmi::Error> {
    if fd != STDOUT && fd != STDERR {
        return Ok(errno::BADF);
    }
    if guest_range(data.len(), nwritten, 4).is_none() {
        return Ok(errno::FAULT);
    }
    // Once the call's output is spent the stream is as good as closed.
    if ctx.meter.output_spent() {
        ctx.meter.refuse_write();
        return Ok(errno::BADF);
    }
    if let Err(e) = iovec_array(data, ctx, iovs, iovs_len)? {
        return Ok(e);
    }
    let total = match check_iovecs(data, iovs, iovs_len) {
        Ok(total) => total as usize,
        Err(e) => return Ok(e),
    };
    // The buffers may all name the same memory: without a cap one cheap call could
    // hand the sink gigabytes. What is over the cap is a short write, as WASI allows.
    let room = ctx.meter.output_room(total.min(ctx.limits.max_output));
    if room == 0 {
        return Ok(put(data, nwritten, &0u32.to_le_bytes()));
    }
    ctx.meter.charge_bytes(room)?;
    ctx.meter.charge(OUTPUT_FUEL)?;
    // Counted before the sink sees it: a sink that fails half-way took some of it.
    ctx.meter.output(room);
    // One write per call: the bytes in place when one buffer holds them all, else
    // gathered first, so that many small iovecs cost the sink one write.
    let written = {
        let buffers = iovec_buffers(data, iovs, iovs_len).filter(|b| !b.is_empty());
        let bytes = match buffers.clone().next() {
            Some(first) if first.len() >= room => &first[..room],
            _ => {
                ctx.scratch.clear();
                let mut left = room;
                for buf in buffers {
                    let take = buf.len().min(left);
                    ctx.scratch.extend_from_slice(&buf[..take]);
                    left -= take;
                    if left == 0 {
                        break;
                    }
                }
                &ctx.scratch[..]
            }
        };
        ctx.tape.output(fd as u32, bytes)?;
        let sink = if fd == STDOUT { &mut ctx.io.stdout } else { &mut ctx.io.stderr };
        sink.write_all(bytes).is_ok()
    };
    if !written {
        return Ok(errno::IO);
    }
    Ok(put(data, nwritten, &(room as u32).to_le_bytes()))
}

fn fd_read(data: &mut [u8], ctx: &mut Ctx, fd: i32, iovs: i32, iovs_len: i32, nread: i32) -> Result<i32, wasmi::Error> {
    if fd != STDIN {
        return Ok(errno::BADF);
    }
    if let Err(e) = iovec_array(data, ctx, iovs, iovs_len)? {
        return Ok(e);
    }
    if let Err(e) = check_iovecs(data, iovs, iovs_len) {
        return Ok(e);
    }
    // Standard input is always at its end.
    Ok(put(data, nread, &0u32.to_le_bytes()))
}

fn fd_fdstat_get(data: &mut [u8], fd: i32, ptr: i32) -> i32 {
    let rights = match fd {
        STDIN => RIGHT_FD_READ,
        STDOUT | STDERR => RIGHT_FD_WRITE,
        _ => return errno::BADF,
    };
    let mut stat = [0u8; FDSTAT_SIZE as usize];
    stat[0] = FILETYPE_CHARACTER_DEVICE;
    stat[8..16].copy_from_slice(&rights.to_le_bytes());
    put(data, ptr, &stat)
}

/// Reads the clock `id` (after the result pointer was found good, so that a failed
/// call does not advance a deterministic clock); in a replay, the transcript answers.
fn clock_read(data: &mut [u8], ctx: &mut Ctx, id: i32, ptr: i32, resolution: bool) -> Result<i32, wasmi::Error> {
    if !valid_clock(id) {
        return Ok(errno::INVAL);
    }
    if guest_range(data.len(), ptr, 8).is_none() {
        return Ok(errno::FAULT);
    }
    let ns = read_clock(ctx, id, resolution)?;
    Ok(put(data, ptr, &ns.to_le_bytes()))
}

fn valid_clock(id: i32) -> bool {
    matches!(id, CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_PROCESS_CPUTIME | CLOCK_THREAD_CPUTIME)
}

/// Reads the clock `id` (valid), or in a replay has the transcript answer; recorded.
fn read_clock(ctx: &mut Ctx, id: i32, resolution: bool) -> Result<u64, wasmi::Error> {
    let ns = if ctx.tape.replaying_now() {
        ctx.tape.replay_clock(id as u32, resolution)?
    } else {
        let clock = &mut ctx.io.clock;
        match (resolution, id) {
            (true, _) => clock.resolution_ns(),
            (false, CLOCK_REALTIME) => clock.realtime_ns(),
            (false, _) => clock.monotonic_ns(),
        }
    };
    ctx.tape.write(&Record::Clock { id: id as u32, resolution, ns });
    Ok(ns)
}

/// `subscription`: userdata u64, tag u8 at 8, then at 16 either a clock (id u32,
/// timeout u64 at 24, precision u64 at 32, flags u16 at 40) or an fd (u32).
const SUBSCRIPTION_SIZE: u32 = 48;
/// `event`: userdata u64, error u16 at 8, type u8 at 10, then for fds nbytes u64 at 16
/// and flags u16 at 24.
const EVENT_SIZE: u32 = 32;
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const SUBCLOCKFLAGS_ABSTIME: u16 = 1;
/// `eventrwflags`: the peer hung up (stdin is at its end).
const EVENTRWFLAGS_HANGUP: u16 = 1;

/// Waits for the first of `count` subscriptions at `subs`, writes the events of those
/// that are ready at `events` and their number at `nevents`.
///
/// Stdin is always ready (at its end), stdout and stderr always ready to write, other
/// fds and clocks not in the table answer with an error event: any of these returns at
/// once. A subscription of an unknown type makes the call `EINVAL`. Otherwise the call waits for the earliest clock: the runtime's clock waits
/// ([`Clock::sleep_ns`](crate::io::Clock::sleep_ns): the system clock sleeps, the fixed
/// clock moves on at once), at most [`Limits::max_sleep_ns`](crate::Limits::max_sleep_ns)
/// and never past the call's deadline, and every nanosecond waited costs a unit of
/// fuel: a call cannot wait longer than its budget would let it run. A replay does
/// not wait. A sliced call on a clock that advances by itself does not sleep here:
/// the import pauses the call, which its host resumes when the wait is over.
fn poll_oneoff(
    data: &mut [u8],
    ctx: &mut Ctx,
    subs: i32,
    events: i32,
    count: i32,
    nevents: i32,
) -> Result<i32, wasmi::Error> {
    let count = count as u32;
    if count == 0 {
        return Ok(errno::INVAL);
    }
    let (Some(in_bytes), Some(out_bytes)) = (count.checked_mul(SUBSCRIPTION_SIZE), count.checked_mul(EVENT_SIZE))
    else {
        return Ok(errno::FAULT);
    };
    let (Some(subs), Some(events), Some(_)) = (
        guest_range(data.len(), subs, in_bytes as i32),
        guest_range(data.len(), events, out_bytes as i32),
        guest_range(data.len(), nevents, 4),
    ) else {
        return Ok(errno::FAULT);
    };
    ctx.meter.charge(u64::from(count) * IOVEC_FUEL)?;
    ctx.meter.charge_bytes(in_bytes as usize)?;
    // What is ready without waiting: (userdata, error, type, nbytes, flags).
    let mut ready: Vec<(u64, u16, u8, u64, u16)> = Vec::new();
    // The earliest clock and the subscriptions that wait for it: (wait, userdata).
    let mut clocks: Vec<(u64, u64)> = Vec::new();
    for at in subs.step_by(SUBSCRIPTION_SIZE as usize) {
        let userdata = read_u64(data, at);
        let tag = data[at + 8];
        let body = at + 16;
        match tag {
            EVENTTYPE_CLOCK => {
                let id = read_u32(data, body) as i32;
                if !valid_clock(id) {
                    ready.push((userdata, errno::INVAL as u16, EVENTTYPE_CLOCK, 0, 0));
                    continue;
                }
                let timeout = read_u64(data, body + 8);
                let flags = u16::from_le_bytes([data[body + 24], data[body + 25]]);
                let wait = if flags & SUBCLOCKFLAGS_ABSTIME != 0 {
                    timeout.saturating_sub(read_clock(ctx, id, false)?)
                } else {
                    timeout
                };
                clocks.push((wait, userdata));
            }
            EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE => {
                let fd = read_u32(data, body) as i32;
                let event = match (tag, fd) {
                    (EVENTTYPE_FD_READ, STDIN) => (0, 0, EVENTRWFLAGS_HANGUP),
                    (EVENTTYPE_FD_WRITE, STDOUT | STDERR) => (0, 0, 0),
                    _ => (errno::BADF as u16, 0, 0),
                };
                ready.push((userdata, event.0, tag, event.1, event.2));
            }
            // Not a subscription WASI knows: the call is invalid, as it is in other
            // runtimes, and waits for nothing.
            _ => return Ok(errno::INVAL),
        }
    }
    // A sliced call waits between slices, on a clock whose time moves on by itself.
    let mut pause_ns = 0;
    if ready.is_empty() {
        // Every subscription is a clock: wait for the earliest, at most as long as the
        // limits and the deadline allow, paying for it.
        let wait = clocks.iter().map(|&(wait, _)| wait).min().unwrap_or(0);
        let waited = until_deadline(ctx, wait.min(ctx.limits.max_sleep_ns));
        ctx.meter.charge(waited)?;
        if !ctx.tape.replaying_now() && waited > 0 {
            if ctx.meter.sliced() && ctx.io.clock.advances_by_itself() {
                pause_ns = waited;
            } else {
                ctx.io.clock.sleep_ns(waited);
            }
        }
        // Those that waited for the earliest fire (early, if the wait was cut short).
        ready.extend(
            clocks.iter().filter(|&&(w, _)| w == wait).map(|&(_, userdata)| (userdata, 0, EVENTTYPE_CLOCK, 0, 0)),
        );
    }
    ctx.meter.charge_bytes(ready.len() * EVENT_SIZE as usize)?;
    for ((userdata, error, kind, nbytes, flags), at) in ready.iter().zip(events.clone().step_by(EVENT_SIZE as usize)) {
        let event = &mut data[at..at + EVENT_SIZE as usize];
        event.fill(0);
        event[0..8].copy_from_slice(&userdata.to_le_bytes());
        event[8..10].copy_from_slice(&error.to_le_bytes());
        event[10] = *kind;
        event[16..24].copy_from_slice(&nbytes.to_le_bytes());
        event[24..26].copy_from_slice(&flags.to_le_bytes());
    }
    let answer = put(data, nevents, &(ready.len() as u32).to_le_bytes());
    if pause_ns > 0 {
        // The events are written; the guest sees them once the wait is over.
        return Err(crate::sliced::Waiting::pause(pause_ns, answer));
    }
    Ok(answer)
}

/// `ns`, or less when the call's deadline comes sooner.
fn until_deadline(ctx: &Ctx, ns: u64) -> u64 {
    #[cfg(feature = "std")]
    if let Some(deadline) = ctx.deadline {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        return ns.min(u64::try_from(left.as_nanos()).unwrap_or(u64::MAX));
    }
    let _ = ctx;
    ns
}

/// A list of NUL-terminated strings (`args` or `environ`), each made of up to three
/// pieces so that `KEY`, `=` and `VALUE` need not be joined first.
trait Strings<'a>: Iterator<Item = [&'a [u8]; 3]> + Clone {}
impl<'a, I: Iterator<Item = [&'a [u8]; 3]> + Clone> Strings<'a> for I {}

fn args_of(io: &Io) -> impl Strings<'_> {
    io.args.iter().map(|a| [a.as_bytes(), &[][..], &[][..]])
}

fn environ_of(io: &Io) -> impl Strings<'_> {
    io.env.iter().map(|(k, v)| [k.as_bytes(), &b"="[..], v.as_bytes()])
}

/// The number of strings and the bytes they take with their NUL terminators.
fn string_sizes<'a>(strings: impl Strings<'a>) -> Option<(u32, u32)> {
    let mut count = 0u32;
    let mut bytes = 0u32;
    for pieces in strings {
        count = count.checked_add(1)?;
        let len = pieces.iter().map(|p| p.len()).sum::<usize>() + 1;
        bytes = bytes.checked_add(u32::try_from(len).ok()?)?;
    }
    Some((count, bytes))
}

fn sizes_get(data: &mut [u8], sizes: Option<(u32, u32)>, count_ptr: i32, bytes_ptr: i32) -> i32 {
    let Some((count, bytes)) = sizes else {
        return errno::OVERFLOW;
    };
    if guest_range(data.len(), count_ptr, 4).is_none() || guest_range(data.len(), bytes_ptr, 4).is_none() {
        return errno::FAULT;
    }
    put(data, count_ptr, &count.to_le_bytes());
    put(data, bytes_ptr, &bytes.to_le_bytes())
}

/// Writes the pointer array at `ptrs` and the strings themselves at `buf`, after
/// charging `meter` for them; `sizes` are theirs, from [`string_sizes`].
fn strings_get<'a>(
    data: &mut [u8],
    meter: &mut crate::meter::Meter,
    strings: impl Strings<'a>,
    sizes: Option<(u32, u32)>,
    ptrs: i32,
    buf: i32,
) -> Result<i32, wasmi::Error> {
    let Some((count, bytes)) = sizes else {
        return Ok(errno::OVERFLOW);
    };
    let Some(ptr_bytes) = count.checked_mul(4) else {
        return Ok(errno::FAULT);
    };
    let (Some(ptr_range), Some(buf_range)) =
        (guest_range(data.len(), ptrs, ptr_bytes as i32), guest_range(data.len(), buf, bytes as i32))
    else {
        return Ok(errno::FAULT);
    };
    meter.charge_bytes(ptr_range.len() + buf_range.len())?;
    let mut at = buf_range.start;
    for (slot, pieces) in ptr_range.step_by(4).zip(strings) {
        // `at` lies inside memory, whose size fits a 32-bit guest address.
        data[slot..slot + 4].copy_from_slice(&(at as u32).to_le_bytes());
        for piece in pieces {
            data[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        }
        data[at] = 0;
        at += 1;
    }
    Ok(errno::SUCCESS)
}

/// Defines all of `wasi_snapshot_preview1`.
pub(crate) fn link(defs: &mut Definitions<'_>) {
    let m = hookr_abi::WASI_MODULE;
    type C<'a> = Caller<'a, CtxBox>;

    defs.func(m, "fd_write", |mut c: C<'_>, fd: i32, iovs: i32, iovs_len: i32, nwritten: i32| {
        with_memory(&mut c, |data, ctx| fd_write(data, ctx, fd, iovs, iovs_len, nwritten))
    });
    defs.func(m, "fd_read", |mut c: C<'_>, fd: i32, iovs: i32, iovs_len: i32, nread: i32| {
        with_memory(&mut c, |data, ctx| fd_read(data, ctx, fd, iovs, iovs_len, nread))
    });
    defs.func(m, "fd_fdstat_get", |mut c: C<'_>, fd: i32, ptr: i32| {
        with_memory(&mut c, |data, ctx| {
            ctx.meter.charge_bytes(FDSTAT_SIZE as usize)?;
            Ok(fd_fdstat_get(data, fd, ptr))
        })
    });
    defs.func(m, "random_get", |mut c: C<'_>, ptr: i32, len: i32| {
        with_memory(&mut c, |data, ctx| match guest_range(data.len(), ptr, len) {
            Some(range) => {
                ctx.meter.charge_random(range.len())?;
                let bytes = &mut data[range];
                if ctx.tape.replaying_now() {
                    ctx.tape.replay_random(bytes)?;
                } else {
                    ctx.io.random.fill(bytes);
                }
                ctx.tape.write(&Record::Random(bytes));
                Ok(errno::SUCCESS)
            }
            None => Ok(errno::FAULT),
        })
    });
    defs.func(m, "clock_time_get", |mut c: C<'_>, id: i32, _precision: i64, ptr: i32| {
        with_memory(&mut c, |data, ctx| {
            ctx.meter.charge_bytes(8)?;
            clock_read(data, ctx, id, ptr, false)
        })
    });
    defs.func(m, "clock_res_get", |mut c: C<'_>, id: i32, ptr: i32| {
        with_memory(&mut c, |data, ctx| {
            ctx.meter.charge_bytes(8)?;
            clock_read(data, ctx, id, ptr, true)
        })
    });
    defs.func(m, "args_sizes_get", |mut c: C<'_>, count: i32, bytes: i32| {
        with_memory(&mut c, |data, ctx| {
            ctx.meter.charge_bytes(8)?;
            Ok(sizes_get(data, ctx.io.args_sizes, count, bytes))
        })
    });
    defs.func(m, "args_get", |mut c: C<'_>, ptrs: i32, buf: i32| {
        with_memory(&mut c, |data, ctx| {
            strings_get(data, &mut ctx.meter, args_of(&ctx.io), ctx.io.args_sizes, ptrs, buf)
        })
    });
    defs.func(m, "environ_sizes_get", |mut c: C<'_>, count: i32, bytes: i32| {
        with_memory(&mut c, |data, ctx| {
            ctx.meter.charge_bytes(8)?;
            Ok(sizes_get(data, ctx.io.env_sizes, count, bytes))
        })
    });
    defs.func(m, "environ_get", |mut c: C<'_>, ptrs: i32, buf: i32| {
        with_memory(&mut c, |data, ctx| {
            strings_get(data, &mut ctx.meter, environ_of(&ctx.io), ctx.io.env_sizes, ptrs, buf)
        })
    });
    defs.func(m, "proc_exit", |mut c: C<'_>, status: i32| -> Result<(), wasmi::Error> {
        metered(&mut c, |_| Err(wasmi::Error::i32_exit(status)))
    });
    defs.func(m, "poll_oneoff", |mut c: C<'_>, subs: i32, events: i32, count: i32, nevents: i32| {
        with_memory(&mut c, |data, ctx| poll_oneoff(data, ctx, subs, events, count, nevents))
    });
    defs.func(m, "sched_yield", |mut c: C<'_>| metered(&mut c, |_| Ok(errno::SUCCESS)));

    for &(name, params, results) in FUNCTIONS.iter().filter(|(n, ..)| !IMPLEMENTED.contains(n)) {
        let answer = stub_errno(name);
        let ty = FuncType::new(params.iter().copied(), results.iter().copied());
        defs.func_new(m, name, &ty, move |mut c: C<'_>, _, out: &mut [Val]| {
            metered(&mut c, |_| {
                out[0] = Val::I32(answer);
                Ok(())
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, (name, ..)) in FUNCTIONS.iter().enumerate() {
            assert!(FUNCTIONS[..i].iter().all(|(n, ..)| n != name), "{name} twice");
        }
        for name in IMPLEMENTED {
            assert!(signature(name).is_some(), "{name}");
        }
        // Every stub returns its errno as an i32.
        for (name, _, results) in FUNCTIONS.iter().filter(|(n, ..)| !IMPLEMENTED.contains(n)) {
            assert_eq!(*results, &[I32][..], "{name}");
        }
        assert_eq!(FUNCTIONS.len(), 46);
        assert_eq!(stub_errno("fd_prestat_get"), errno::BADF);
        assert_eq!(stub_errno("path_open"), errno::NOSYS);
    }

    #[test]
    fn iovecs_are_checked_before_use() {
        let mut mem = [0u8; 64];
        // Two iovecs at 0: (32, 4) and (40, 2).
        mem[0..4].copy_from_slice(&32u32.to_le_bytes());
        mem[4..8].copy_from_slice(&4u32.to_le_bytes());
        mem[8..12].copy_from_slice(&40u32.to_le_bytes());
        mem[12..16].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(check_iovecs(&mem, 0, 2), Ok(6));
        assert_eq!(iovec_buffers(&mem, 0, 2).map(<[u8]>::len).collect::<alloc::vec::Vec<_>>(), [4, 2]);
        assert_eq!(check_iovecs(&mem, 60, 1), Err(errno::FAULT));
        assert_eq!(check_iovecs(&mem, 0, i32::MAX), Err(errno::FAULT));
        assert_eq!(check_iovecs(&mem, -16, 1), Err(errno::FAULT));
        mem[12..16].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        assert_eq!(check_iovecs(&mem, 0, 2), Err(errno::FAULT));
    }

    #[test]
    fn strings_are_nul_terminated_with_pointers() {
        let env = [("A", "1"), ("BC", "")];
        let strings = || env.iter().map(|(k, v)| [k.as_bytes(), &b"="[..], v.as_bytes()]);
        assert_eq!(string_sizes(strings()), Some((2, 8)));
        let mut mem = [0xAAu8; 32];
        let mut meter = crate::meter::Meter::new(false);
        let sizes = string_sizes(strings());
        assert_eq!(strings_get(&mut mem, &mut meter, strings(), sizes, 0, 16).unwrap(), errno::SUCCESS);
        assert_eq!(read_u32(&mem, 0), 16);
        assert_eq!(read_u32(&mem, 4), 20);
        assert_eq!(&mem[16..24], b"A=1\0BC=\0");
        assert_eq!(strings_get(&mut mem, &mut meter, strings(), sizes, 0, 28).unwrap(), errno::FAULT);
        assert_eq!(strings_get(&mut mem, &mut meter, strings(), sizes, 30, 16).unwrap(), errno::FAULT);
    }
}
