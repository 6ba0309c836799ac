//! `hookr replay` and `hookr transcript`: check a transcript against its plugin, and
//! show one.

use std::fmt::Write as _;
use std::path::Path;

use hookr::transcript::{self as tape, Outcome, Reader, Record, Verdict};
use hookr::{Error, Module, Sha256Hasher};

use crate::{json, read_module, read_within, write_stdout, Failure, EXIT_CALL, EXIT_LOAD, EXIT_USAGE};

/// The longest transcript file the CLI reads: 1 GiB.
const MAX_TRANSCRIPT_FILE: usize = 1 << 30;

/// Reads a transcript file, failing with [`EXIT_USAGE`].
fn read_transcript(path: &Path) -> Result<Vec<u8>, Failure> {
    read_within(path, MAX_TRANSCRIPT_FILE, "the transcript").map_err(|e| Failure::new(EXIT_USAGE, e))
}

/// A transcript that does not decode is bad input.
fn bad_transcript(path: &Path, e: Error) -> Failure {
    Failure::new(EXIT_USAGE, format!("`{}` is not a transcript hookr reads: {e}", path.display()))
}

/// Replays `transcript` against `plugin`, refusing one whose calls may take more than
/// the first of `bounds` each or the second in all (`None`: any): prints `identical`
/// and the number of calls, or fails with the first divergence.
pub fn replay(plugin: &Path, transcript: &Path, bounds: Option<(u64, u64)>) -> Result<(), Failure> {
    let bytes = read_module(plugin)?;
    let recorded = read_transcript(transcript)?;
    let header = Reader::new(&recorded).map_err(|e| bad_transcript(transcript, e))?.header().clone();
    let hash = hookr::to_hex(&hookr::sha256(&bytes));
    if hookr::sha256(&bytes) != header.plugin {
        return Err(Failure::new(
            EXIT_LOAD,
            format!(
                "`{}` (sha256 {hash}) is not the plugin the transcript was recorded from (sha256 {})",
                plugin.display(),
                hookr::to_hex(&header.plugin)
            ),
        ));
    }
    let module = Module::new(&bytes, &hash, &Sha256Hasher, header.engine)
        .map_err(|e| Failure::new(EXIT_LOAD, format!("cannot load `{}`: {e}", plugin.display())))?;
    let verdict = match bounds {
        Some((per_call, total)) => tape::replay_bounded(&module, recorded, per_call, total),
        None => tape::replay_within(&module, recorded, None),
    };
    match verdict {
        Ok(Verdict::Identical { calls }) => {
            let plural = if calls == 1 { "" } else { "s" };
            write_stdout(format!("identical: {calls} call{plural}\n").as_bytes())
        }
        Ok(Verdict::Diverged(d)) => Err(Failure::new(EXIT_CALL, format!("replay diverged: {d}"))),
        Err(e @ Error::Transcript(_)) => Err(bad_transcript(transcript, e)),
        Err(e) => Err(Failure::new(EXIT_LOAD, format!("cannot replay `{}`: {e}", transcript.display()))),
    }
}

/// Prints a transcript, one line per record: payloads as JSON when they are
/// MessagePack, as text when they are printable UTF-8, else as hex.
pub fn show(path: &Path) -> Result<(), Failure> {
    let recorded = read_transcript(path)?;
    let mut reader = Reader::new(&recorded).map_err(|e| bad_transcript(path, e))?;
    let mut out = String::new();
    let h = reader.header();
    let _ = writeln!(out, "plugin   sha256 {}", hookr::to_hex(&h.plugin));
    let _ = writeln!(
        out,
        "engine   fuel {}, recursion {} frames, value stack {} bytes",
        if h.engine.fuel { "metered" } else { "unmetered" },
        h.engine.max_recursion_depth,
        h.engine.max_stack_height
    );
    let fuel = h.limits.fuel.map_or("unmetered".into(), |f| f.to_string());
    let _ = writeln!(
        out,
        "limits   fuel per call {fuel}, per initialiser {}; memory {} bytes",
        h.limits.init_fuel, h.limits.max_memory_bytes
    );
    if !h.args.is_empty() {
        let _ = writeln!(out, "args     {}", json_text(&h.args.join(" ")));
    }
    for (k, v) in &h.env {
        // Quoted apart, so that neither a line break nor an `=` inside one can pass for
        // another record or another variable.
        let _ = writeln!(out, "env      {}={}", json_text(k), json_text(v));
    }
    let mut call = 0;
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(e) => {
                // What was read so far still helps; the error says where it stopped.
                write_stdout(out.as_bytes())?;
                return Err(bad_transcript(path, e));
            }
        };
        let line = match record {
            Record::Instantiate => "instance".into(),
            Record::Call { op, request } => {
                call += 1;
                format!("call {call} {}  {}", json_text(op), payload(request))
            }
            Record::HostCall { binding, namespace, op, request, ok, reply, decoded } => {
                let name = String::from_utf8_lossy(op);
                let name = match (binding, namespace) {
                    (b"", b"") => json_text(&name),
                    _ => json_text(&format!(
                        "{}/{}/{name}",
                        String::from_utf8_lossy(binding),
                        String::from_utf8_lossy(namespace)
                    )),
                };
                let verdict = if ok { "ok" } else { "error" };
                let typed = if decoded { " (typed)" } else { "" };
                format!("  host {name}{typed}  {}  -> {verdict} {}", payload(request), payload(reply))
            }
            Record::Clock { id, resolution, ns } => {
                format!("  clock {id} {} {ns} ns", if resolution { "resolution" } else { "time" })
            }
            Record::Random(bytes) => format!("  random {} bytes {}", bytes.len(), hex(bytes)),
            Record::Log(line) => format!("  log {}", json_text(line)),
            Record::Output { fd, bytes } => format!("  fd {fd} {}", payload(bytes)),
            Record::End { outcome, fuel } => {
                let fuel = fuel.map_or("unmetered".into(), |f| format!("{f} fuel"));
                match outcome {
                    Outcome::Response(bytes) => format!("  end ok {}  ({fuel})", payload(bytes)),
                    Outcome::Error { kind, message } => format!("  end {kind} {}  ({fuel})", json_text(message)),
                }
            }
            _ => "  (a record this version does not show)".into(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    write_stdout(out.as_bytes())
}

/// A string as a JSON string literal.
fn json_text(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A payload as JSON when it is one MessagePack value, as text when it is printable
/// UTF-8, else as hex; long ones cut.
fn payload(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    if bytes.is_empty() {
        return "(empty)".into();
    }
    // Converted only as far as a line shows (a character takes at most 4 bytes), so
    // that a payload of megabytes takes neither the time nor the memory of its whole
    // JSON.
    if let Ok((json, stopped)) = json::msgpack_to_json_within(bytes, 4 * MAX) {
        let shown = cut(format!("msgpack {json}"), MAX);
        return if stopped && !shown.ends_with('…') { shown + "…" } else { shown };
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
            let head = text.char_indices().nth(MAX).map_or(text, |(end, _)| &text[..end]);
            let shown = cut(json_text(head), MAX);
            if head.len() < text.len() && !shown.ends_with('…') {
                shown + "…"
            } else {
                shown
            }
        }
        _ => cut(hex(bytes), MAX),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::from("0x");
    for b in bytes.iter().take(64) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 64 {
        s.push('…');
    }
    s
}

fn cut(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s,
    }
}
