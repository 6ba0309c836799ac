//! Error texts composed without allocating: into a buffer of bounded size that a
//! runtime reserves once (see [`Builder::keep_error_texts`](crate::Builder::keep_error_texts)).

use alloc::string::String;
use core::fmt::{self, Write};

use crate::abi::truncate;

/// Room a kept text has beyond [`Limits::max_error`](crate::Limits::max_error): for the
/// note that marks it as cut (`" … [truncated from 18446744073709551615 bytes]"`).
pub(crate) const NOTE_ROOM: usize = 64;

/// Writes into `text` up to `max` bytes in all, cutting at a character boundary, and
/// notes whether it had to cut.
struct Bounded<'a> {
    text: &'a mut String,
    max: usize,
    cut: bool,
}

impl Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Once cut, nothing more: what is kept is a prefix of the whole text.
        if self.cut {
            return Ok(());
        }
        let kept = truncate(s, self.max.saturating_sub(self.text.len()));
        self.text.push_str(kept);
        self.cut |= kept.len() < s.len();
        Ok(())
    }
}

/// Ends a text that was cut with the note that says so; `len` is the size of the
/// whole.
fn note_cut(text: &mut String, len: usize) {
    // Cannot fail: writing to a `String` does not.
    let _ = write!(text, " … [truncated from {len} bytes]");
}

/// Puts a plugin's error message into `text`: `bytes`, the part the runtime took of
/// the `len` bytes the plugin gave, with invalid UTF-8 replaced as
/// `String::from_utf8_lossy` replaces it, at most `max` bytes of that, and the note
/// when anything was cut. `text` grows to at most `max` + [`NOTE_ROOM`] bytes.
pub(crate) fn plugin_message(text: &mut String, bytes: &[u8], len: usize, max: usize) {
    text.clear();
    let mut w = Bounded { text, max, cut: false };
    for chunk in bytes.utf8_chunks() {
        let _ = w.write_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            let _ = w.write_str("\u{fffd}");
        }
    }
    let cut = w.cut || len > bytes.len();
    if cut {
        note_cut(text, len.max(bytes.len()));
    }
}

/// Puts the message of a call that returned failure without an error message into
/// `text`, within the same bounds as [`plugin_message`].
pub(crate) fn unsuccessful(text: &mut String, op: &str, max: usize) {
    text.clear();
    let mut w = Bounded { text, max, cut: false };
    let _ = write!(w, "call to `{op}` was unsuccessful");
    if w.cut {
        let len = "call to `` was unsuccessful".len() + op.len();
        note_cut(text, len);
    }
}

/// Writes `s`, counting it into `whole` even where it is cut.
fn put(w: &mut Bounded<'_>, whole: &mut usize, s: &str) {
    *whole += s.len();
    let _ = w.write_str(s);
}

/// Writes UTF-16LE `bytes` as text, unpaired surrogates replaced, counting the whole.
fn put_utf16(w: &mut Bounded<'_>, whole: &mut usize, bytes: &[u8]) {
    let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    for c in char::decode_utf16(units) {
        put(w, whole, c.unwrap_or(char::REPLACEMENT_CHARACTER).encode_utf8(&mut [0; 4]));
    }
}

/// Puts what an AssemblyScript plugin passed to `env.abort` into `text`:
/// `abort: MESSAGE at FILE:LINE:COLUMN` (no ` at …` without a file), the strings
/// UTF-16LE with unpaired surrogates replaced, at most `max` bytes of it, and the note
/// with the whole text's length when anything was cut. The work is proportional to
/// the strings' lengths, which the caller charges for.
pub(crate) fn abort_message(text: &mut String, message: &[u8], file: &[u8], line: i32, column: i32, max: usize) {
    text.clear();
    let mut w = Bounded { text, max, cut: false };
    let mut whole = 0;
    put(&mut w, &mut whole, "abort: ");
    put_utf16(&mut w, &mut whole, message);
    if !file.is_empty() {
        put(&mut w, &mut whole, " at ");
        put_utf16(&mut w, &mut whole, file);
        let mut place = heapless::String::<24>::new();
        // Cannot fail: ":-2147483648:-2147483648" is 24 bytes.
        let _ = write!(place, ":{line}:{column}");
        put(&mut w, &mut whole, &place);
    }
    if w.cut {
        note_cut(text, whole);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_repaired_as_lossy_conversion_does_and_cut_with_a_note() {
        let mut text = String::new();
        for bytes in [&b"planned Failure"[..], b"bad \xff\xfe byte", b"cut \xe2\x82", b"\xc3\xa9t\xc3\xa9"] {
            plugin_message(&mut text, bytes, bytes.len(), 1000);
            assert_eq!(text, String::from_utf8_lossy(bytes));
        }
        // The runtime took 5 of 12 bytes.
        plugin_message(&mut text, b"hello", 12, 1000);
        assert_eq!(text, "hello … [truncated from 12 bytes]");
        // Cut to 4 bytes, at a character boundary.
        plugin_message(&mut text, "abc\u{e9}".as_bytes(), 5, 4);
        assert_eq!(text, "abc … [truncated from 5 bytes]");
        // Repair that would exceed the bound is cut as well.
        plugin_message(&mut text, b"\xff\xff", 2, 4);
        assert_eq!(text, "\u{fffd} … [truncated from 2 bytes]");

        // Nothing after the cut: what is kept is a prefix of the repaired text.
        plugin_message(&mut text, b"abc\xffd", 5, 5);
        assert_eq!(text, "abc … [truncated from 5 bytes]");
        unsuccessful(&mut text, "ab\u{20ac}", 12);
        assert_eq!(text, "call to `ab … [truncated from 32 bytes]");

        unsuccessful(&mut text, "echo", 1000);
        assert_eq!(text, "call to `echo` was unsuccessful");
        unsuccessful(&mut text, "echo", 12);
        assert_eq!(text, "call to `ech … [truncated from 31 bytes]");
    }

    #[test]
    fn a_reserved_text_never_grows() {
        let max = 16;
        let mut text = String::with_capacity(max + NOTE_ROOM);
        let cap = text.capacity();
        let long = [b'x'; 4096];
        plugin_message(&mut text, &long[..max], usize::MAX, max);
        plugin_message(&mut text, &[0xff; 16], 16, max);
        unsuccessful(&mut text, core::str::from_utf8(&long).unwrap(), max);
        assert_eq!(text.capacity(), cap);
        assert!(text.len() <= max + NOTE_ROOM);
    }
}
