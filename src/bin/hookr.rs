//! `hookr`: start, hash, inspect and invoke hookr and waPC plugins from the command line.
//!
//! ```text
//! hookr new NAME                        a plugin crate to start from, in NAME/
//! hookr hash FILE                       lowercase hex SHA-256 of FILE
//! hookr inspect FILE                    ABI, imports, exports, memory, validity
//! hookr invoke FILE OPERATION [INPUT]   call OPERATION with INPUT (UTF-8) as payload
//! hookr replay PLUGIN TRANSCRIPT        replay a transcript (`invoke --record FILE`)
//! hookr transcript FILE                 print a transcript
//! ```
//!
//! `invoke` writes the plugin's response bytes to stdout unchanged; everything the
//! plugin prints (WASI stdout and stderr) and logs goes to stderr, so stdout holds the
//! response alone. The CLI registers no host functions: a plugin's host call fails with
//! `no handler registered for operation '…'`.
//!
//! A failure is one line on stderr, `hookr: …`, naming what went wrong, and one of
//! these exit statuses:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the call failed: plugin error, host error, `proc_exit` during the call, a response `--msgpack` cannot read, or output (or `new`'s files) that cannot be written |
//! | 2 | usage: bad arguments, unreadable `--input-file`, `--msgpack` input that is not JSON, a `--record` path that is the plugin, a folder or cannot be created, a name, folder or `--guest-kit` that `new` cannot use |
//! | 3 | the plugin could not be loaded: unreadable file, malformed or mismatched hash, invalid module, missing export, missing import, failed initialiser |
//! | 4 | the plugin was stopped: trap, out of fuel, timeout, memory limit, oversized data, a bad guest pointer |
//!
//! Calls are metered by default (`--fuel`, or `--unmetered` for trusted plugins) and
//! `--timeout` bounds them in wall-clock time.
//!
//! Run it with `cargo run --release --features cli -- ARGS`.

#[path = "hookr/inspect.rs"]
mod inspect;
#[path = "hookr/json.rs"]
mod json;
#[path = "hookr/new.rs"]
mod new;
#[path = "hookr/transcript.rs"]
mod transcript;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hookr::{Error, Limits, Runtime, Sha256Hasher};

/// The call failed: plugin error, host error, unusable response, unwritable output.
const EXIT_CALL: u8 = 1;
/// Bad arguments or input (clap uses the same status for its usage errors).
const EXIT_USAGE: u8 = 2;
/// The plugin could not be loaded.
const EXIT_LOAD: u8 = 3;
/// The plugin was stopped: trap or exhausted limit.
const EXIT_STOPPED: u8 = 4;

const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  the call failed: plugin error, host error, proc_exit during the call,
     a response --msgpack cannot read, or output (or new's files) that cannot
     be written
  2  usage: bad arguments, unreadable --input-file, --msgpack input that is not JSON,
     a --record path that is the plugin, a folder or cannot be created, a name,
     folder or --guest-kit that `new` cannot use
  3  the plugin could not be loaded: unreadable file, malformed or mismatched hash,
     invalid module, missing export, missing import, failed initialiser, or any
     trap or limit while it was being instantiated
  4  the plugin was stopped during the call: trap, out of fuel, timeout,
     memory limit, oversized data, bad guest pointer";

/// Start, hash, inspect and invoke hookr WebAssembly plugins.
#[derive(Parser, Debug)]
#[command(name = "hookr", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a plugin crate to start from: NAME/ with a byte and a typed function,
    /// ready for `cargo build --release`.
    #[command(after_help = EXIT_CODES)]
    New(new::NewArgs),
    /// Print the lowercase hex SHA-256 of a file (the value `--hash` expects).
    Hash {
        /// The file to hash.
        file: PathBuf,
    },
    /// Show a module's ABI, imports, exports and memory, and whether it validates.
    #[command(after_help = EXIT_CODES)]
    Inspect {
        /// The WebAssembly module.
        file: PathBuf,
    },
    /// Call a plugin function; its response goes to stdout unchanged.
    ///
    /// The plugin's own output (WASI stdout and stderr) and its log lines go to
    /// stderr. No host functions are registered: a plugin's host call fails with
    /// "no handler registered for operation '…'".
    #[command(after_help = EXIT_CODES)]
    Invoke(InvokeArgs),
    /// Replay a transcript (`invoke --record`) against its plugin: host functions,
    /// clocks and random bytes are answered from it; prints `identical: N calls`, or
    /// fails (status 1) with the first divergence.
    #[command(after_help = EXIT_CODES)]
    Replay {
        /// The plugin the transcript was recorded from (its SHA-256 is checked).
        plugin: PathBuf,
        /// The transcript.
        transcript: PathBuf,
        /// The most fuel per call (and per initialiser) the transcript may give its
        /// calls; one that gives more, or was recorded unmetered, is refused.
        #[arg(long, value_name = "N", default_value_t = hookr::transcript::REPLAY_FUEL, conflicts_with = "any_fuel")]
        max_fuel: u64,
        /// The most fuel the whole replay may run: the calls' recorded fuel, the budget
        /// of each of the plugin's initialisers at each instantiation and one call's
        /// budget; a transcript that may take more is refused.
        #[arg(long, value_name = "N", default_value_t = hookr::transcript::REPLAY_TOTAL_FUEL, conflicts_with = "any_fuel")]
        max_total_fuel: u64,
        /// Run whatever fuel the transcript gives, unmetered included: only for
        /// transcripts you trust.
        #[arg(long)]
        any_fuel: bool,
    },
    /// Print a transcript, one record a line: payloads as JSON where they are
    /// MessagePack, else as text or hex.
    #[command(after_help = EXIT_CODES)]
    Transcript {
        /// The transcript.
        file: PathBuf,
    },
}

#[derive(Args, Debug)]
struct InvokeArgs {
    /// The plugin module.
    file: PathBuf,
    /// The plugin function to call.
    operation: String,
    /// The payload, as a UTF-8 argument (empty when left out).
    #[arg(conflicts_with = "input_file")]
    input: Option<String>,
    /// Read the payload as raw bytes from PATH (`-` for stdin).
    #[arg(long, value_name = "PATH")]
    input_file: Option<PathBuf>,
    /// Check the module's SHA-256 (hex, either case) before loading it.
    #[arg(long, value_name = "HEX")]
    hash: Option<String>,
    /// Fuel for the call and for each initialiser (default 1000000000, about a
    /// second of interpretation). Calls are always metered unless --unmetered.
    #[arg(long, value_name = "N", conflicts_with = "unmetered")]
    fuel: Option<u64>,
    /// Run without fuel metering: faster, but nothing stops a plugin that loops.
    /// Only for plugins you trust.
    #[arg(long)]
    unmetered: bool,
    /// Stop the call after this wall-clock time: a number with a unit, ms, s or m
    /// (`500ms`, `2s`, `1.5s`, `1m`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "unmetered")]
    timeout: Option<Duration>,
    /// The largest linear memory the plugin may have, in 64 KiB pages (default 256),
    /// whatever the size of the plugin's own pages.
    #[arg(long, value_name = "N")]
    max_memory_pages: Option<u32>,
    /// The largest linear memory the plugin may have, in bytes (default 16777216).
    #[arg(long, value_name = "BYTES", conflicts_with = "max_memory_pages")]
    max_memory_bytes: Option<usize>,
    /// The payload is JSON, sent as MessagePack (objects as maps); the MessagePack
    /// response is printed as one line of JSON.
    ///
    /// With no INPUT and no --input-file the payload is empty (no bytes), as without
    /// --msgpack.
    ///
    /// MessagePack bin values are printed as base64 strings; map keys that are not
    /// strings become their JSON text ("1"); NaN and infinities become the strings
    /// "NaN", "Infinity" and "-Infinity". Extension values are refused.
    #[arg(long)]
    msgpack: bool,
    /// Fixed-seed randomness and a fixed clock: the same result every run.
    #[arg(long)]
    deterministic: bool,
    /// Record a transcript of the call to PATH, to replay with `hookr replay`.
    ///
    /// PATH is replaced once the call ran, failed or not; a plugin that cannot be
    /// loaded leaves it as it was. PATH cannot be the plugin itself.
    #[arg(long, value_name = "PATH")]
    record: Option<PathBuf>,
}

/// A failure: what to print and the status to exit with.
struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    fn new(status: u8, message: impl Into<String>) -> Self {
        Failure { message: message.into(), status }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::New(args) => new::run(&args),
        Command::Hash { file } => hash(&file),
        Command::Inspect { file } => inspect::run(&file),
        Command::Invoke(args) => invoke(&args),
        Command::Replay { plugin, transcript, max_fuel, max_total_fuel, any_fuel } => {
            transcript::replay(&plugin, &transcript, (!any_fuel).then_some((max_fuel, max_total_fuel)))
        }
        Command::Transcript { file } => transcript::show(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // If even stderr is gone there is nobody left to tell.
            let _ = writeln!(std::io::stderr(), "hookr: {}", one_line(&failure.message));
            ExitCode::from(failure.status)
        }
    }
}

/// `s` on one line: line breaks, with the indentation after them, become one space;
/// other control characters are escaped.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_break = false;
    for c in s.chars() {
        if c == '\n' || c == '\r' {
            after_break = true;
            continue;
        }
        if after_break {
            if c.is_whitespace() {
                continue;
            }
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            after_break = false;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `s`, cut to at most 80 characters, for messages that repeat user input.
fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_string(),
    }
}

/// Parses a duration such as `500ms`, `2s`, `1.5s` or `1m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration such as 500ms, 2s or 1m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "" => return Err(format!("`{text}` needs a unit: ms, s or m")),
        _ => return Err(format!("`{unit}` is not a unit of time: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{text}` is not a positive duration"))
}

/// Reads a module file, failing with [`EXIT_LOAD`].
fn read_module(path: &Path) -> Result<Vec<u8>, Failure> {
    read_within(path, hookr::MAX_MODULE_FILE, "the module").map_err(|e| Failure::new(EXIT_LOAD, e))
}

/// Reads at most `limit` bytes from `source`: a longer input (an endless one, a device
/// or a pipe) is refused, not read until memory runs out.
fn read_at_most(source: impl Read, limit: usize, what: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    source
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {what}: {e}"))?;
    if bytes.len() > limit {
        return Err(format!("{what} is longer than {limit} bytes"));
    }
    Ok(bytes)
}

/// Reads at most `limit` bytes of the file at `path` ([`read_at_most`]).
fn read_within(path: &Path, limit: usize, what: &str) -> Result<Vec<u8>, String> {
    let what = format!("{what} `{}`", path.display());
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {what}: {e}"))?;
    read_at_most(file, limit, &what)
}

/// Writes `bytes` to stdout and flushes it.
fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(EXIT_CALL, format!("cannot write to stdout: {e}")))
}

fn hash(path: &Path) -> Result<(), Failure> {
    let bytes = read_module(path)?;
    let hex = hookr::to_hex(&hookr::sha256(&bytes));
    write_stdout(format!("{hex}\n").as_bytes())
}

/// The exit status for a hookr error.
fn status_of(err: &Error) -> u8 {
    match err {
        Error::HashMismatch { .. }
        | Error::MalformedHash(_)
        | Error::InvalidModule(_)
        | Error::MissingExport(_)
        | Error::Link { .. }
        | Error::Init { .. }
        | Error::Io { .. }
        | Error::Config(_)
        | Error::Transcript(_) => EXIT_LOAD,
        Error::Trap(_)
        | Error::OutOfFuel
        | Error::Timeout(_)
        | Error::Cancelled
        | Error::MemoryLimit(_)
        | Error::TooLarge { .. }
        | Error::BadGuestPointer { .. }
        | Error::Wasm(_) => EXIT_STOPPED,
        _ => EXIT_CALL,
    }
}

fn read_input(args: &InvokeArgs) -> Result<Vec<u8>, Failure> {
    let Some(path) = &args.input_file else {
        return Ok(args.input.clone().unwrap_or_default().into_bytes());
    };
    // No call takes a longer request than this.
    let limit = Limits::default().max_request;
    let read = if path.as_os_str() == "-" {
        read_at_most(std::io::stdin().lock(), limit, "input on stdin")
    } else {
        read_within(path, limit, "input")
    };
    read.map_err(|e| Failure::new(EXIT_USAGE, e))
}

fn invoke(args: &InvokeArgs) -> Result<(), Failure> {
    let mut payload = read_input(args)?;
    // A left-out input is no payload, with --msgpack as without; one given is JSON.
    let given = args.input.is_some() || args.input_file.is_some();
    if args.msgpack && given {
        payload = json::json_to_msgpack(&payload).map_err(|e| Failure::new(EXIT_USAGE, e))?;
    }
    let record = args.record.as_deref().map(|path| Recording::start(path, &args.file)).transpose()?;

    let mut builder =
        Runtime::builder(()).file(&args.file).stdout(std::io::stderr()).stderr(std::io::stderr()).logger(|line| {
            let _ = writeln!(std::io::stderr(), "[plugin log] {}", one_line(line));
        });
    if let Some(hash) = &args.hash {
        builder = builder.hash(hash).hasher(Sha256Hasher);
    }
    if let Some(fuel) = args.fuel {
        builder = builder.fuel(fuel).init_fuel(fuel);
    }
    if args.unmetered {
        builder = builder.unmetered();
    }
    if let Some(timeout) = args.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(pages) = args.max_memory_pages {
        builder = builder.max_memory_pages(pages);
    }
    if let Some(bytes) = args.max_memory_bytes {
        builder = builder.max_memory_bytes(bytes);
    }
    if args.deterministic {
        builder = builder.deterministic();
    }
    let record = match record {
        Some((recording, file)) => {
            builder = builder.record(file);
            Some(recording)
        }
        None => None,
    };
    // A failed build drops the file with the builder, and `record`, which removes it:
    // PATH is left as it was.
    let mut rt = builder.build().map_err(|e| {
        let message = match e {
            Error::Io { .. } => e.to_string(),
            _ => format!("cannot load `{}`: {e}", args.file.display()),
        };
        // Whatever stops a plugin from loading is a load failure, a trap in its start
        // function or a memory limit at instantiation included.
        Failure::new(EXIT_LOAD, message)
    })?;

    let op = &args.operation;
    let result = rt.invoke(op, &payload);
    // The transcript is kept whether the call failed or not: a failure is worth a replay.
    // The runtime holds the file; it is closed before the file takes PATH's place.
    drop(rt);
    let kept = record.map_or(Ok(()), Recording::finish);
    let response = match (result, kept) {
        (Ok(response), Ok(())) => response,
        (Ok(_), Err(failure)) => return Err(failure),
        (Err(e), kept) => {
            let mut message = format!("call to `{}` failed: {e}", shorten(op));
            if let Err(failure) = kept {
                message = format!("{message}; {}", failure.message);
            }
            return Err(Failure::new(status_of(&e), message));
        }
    };
    if args.msgpack {
        let mut text = json::msgpack_to_json(&response).map_err(|e| Failure::new(EXIT_CALL, e))?;
        text.push('\n');
        write_stdout(text.as_bytes())
    } else {
        write_stdout(&response)
    }
}

/// A transcript `invoke --record PATH` writes: into a fresh file beside PATH, which
/// takes PATH's place once the call ran ([`finish`](Self::finish)) and is removed if it
/// never does, so that a plugin that cannot be loaded leaves PATH as it was.
struct Recording {
    temporary: PathBuf,
    path: PathBuf,
    /// Whether `temporary` is gone, renamed or removed.
    done: bool,
}

impl Recording {
    /// Creates the temporary file for a transcript to `path`, after checking that
    /// `path` names neither the plugin nor a folder; returns it to write to.
    fn start(path: &Path, plugin: &Path) -> Result<(Recording, std::fs::File), Failure> {
        let usage = |why: &str| Failure::new(EXIT_USAGE, format!("--record `{}`: {why}", path.display()));
        // `file_name` reads past a final separator: `new/` names a folder, not a file.
        if path.file_name().is_none() || path.as_os_str().as_encoded_bytes().ends_with(b"/") {
            return Err(usage("not a file name"));
        }
        if path.is_dir() {
            return Err(usage("is a folder"));
        }
        // An existing PATH is replaced where it really is, so a symbolic link to the
        // transcript stays one.
        let target = path.canonicalize().ok();
        if target.is_some() && target == plugin.canonicalize().ok() {
            return Err(usage("is the plugin itself, which the transcript would replace"));
        }
        // A link to a file not there yet is followed too, as creating PATH would.
        let target = target.unwrap_or_else(|| match std::fs::read_link(path) {
            Ok(link) => path.parent().unwrap_or(Path::new("")).join(link),
            Err(_) => path.to_path_buf(),
        });
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        // Beside PATH, so that the rename stays on one file system; `create_new` never
        // opens an existing file, so a name anything else holds is skipped, not shared.
        let mut attempt = 0u32;
        loop {
            let temporary = dir.join(format!(".hookr-record-{}-{attempt}.tmp", std::process::id()));
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&temporary) {
                Ok(file) => return Ok((Recording { temporary, path: target, done: false }, file)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => return Err(Failure::new(EXIT_USAGE, format!("cannot create `{}`: {e}", path.display()))),
            }
        }
    }

    /// Puts the transcript in PATH's place; the runtime that wrote it must be gone.
    fn finish(mut self) -> Result<(), Failure> {
        // The transcript keeps the permissions of the file it replaces.
        if let Ok(meta) = std::fs::metadata(&self.path) {
            let _ = std::fs::set_permissions(&self.temporary, meta.permissions());
        }
        std::fs::rename(&self.temporary, &self.path).map_err(|e| {
            Failure::new(EXIT_CALL, format!("cannot write the transcript to `{}`: {e}", self.path.display()))
        })?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn messages_fold_to_one_line() {
        assert_eq!(one_line("expected=[\n    0x0,\n    0x61,\n] actual"), "expected=[ 0x0, 0x61, ] actual");
        assert_eq!(one_line("a\r\nb\tc\u{1b}[31m"), "a b\\tc\\u{1b}[31m");
        assert_eq!(one_line("\n\nplain"), "plain");
    }

    #[test]
    fn durations_parse_with_units() {
        use super::parse_duration;
        use std::time::Duration;
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        for bad in ["", "5", "ms", "1h", "-1s", "0s", "1e400s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_names_are_cut() {
        assert_eq!(super::shorten("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(super::shorten(&long), format!("{}…", "é".repeat(80)));
    }
}
