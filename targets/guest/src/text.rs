//! Error messages built by concatenation. `core::fmt` is several kilobytes of code in
//! a plugin (the formatting machinery, padding, integer tables), so the kit's own
//! messages are put together from pieces instead; the words are the same as those of
//! the `Display` impls in `hookr-abi`.
//!
//! Every piece goes through [`push`], out of line: these are failure paths, where one
//! call per piece costs nothing that matters and keeps each message a few bytes of code.

use alloc::string::{String, ToString};

use hookr_abi::codec::{DecodeError, EncodeError, MAX_DEPTH};

/// `n` in decimal, written at the end of `buf`.
#[inline(never)]
pub(crate) fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    // SAFETY: only ASCII digits were written to `buf[at..]`.
    unsafe { core::str::from_utf8_unchecked(&buf[at..]) }
}

/// Appends `s` to `out`.
#[inline(never)]
pub(crate) fn push(out: &mut String, s: &str) {
    out.push_str(s);
}

/// Appends `n` in decimal to `out`.
#[inline(never)]
pub(crate) fn push_decimal(out: &mut String, n: usize) {
    push(out, decimal(n, &mut [0; 20]));
}

/// The pieces joined into one string.
#[inline(never)]
pub(crate) fn concat(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        push(&mut out, part);
    }
    out
}

/// Appends `bytes` as text, each invalid UTF-8 sequence replaced by U+FFFD, as
/// `String::from_utf8_lossy` does (without pulling in its own decoder).
#[inline(never)]
pub(crate) fn push_lossy(out: &mut String, mut bytes: &[u8]) {
    loop {
        // `utf8_prefix`, not `core::str::from_utf8`: the same answer in a third of the
        // code.
        let (valid_up_to, error_len) = hookr_abi::codec::utf8_prefix(bytes);
        let (valid, rest) = bytes.split_at(valid_up_to);
        // SAFETY: `utf8_prefix` vouched for the bytes before `valid_up_to`.
        push(out, unsafe { core::str::from_utf8_unchecked(valid) });
        if rest.is_empty() {
            return;
        }
        push(out, "\u{FFFD}");
        match error_len {
            Some(bad) => bytes = rest.get(bad..).unwrap_or_default(),
            None => return,
        }
    }
}

/// Appends what went wrong, in the words of `DecodeError`'s `Display`.
#[inline(never)]
pub(crate) fn push_decode_error(out: &mut String, e: &DecodeError) {
    match e {
        DecodeError::UnexpectedEof(at) => {
            push(out, "input ends inside a value at offset ");
            push_decimal(out, *at);
        }
        DecodeError::TypeMismatch {
            expected,
            marker,
            offset,
        } => {
            let digits = b"0123456789abcdef";
            let hex = [
                digits[usize::from(marker >> 4)],
                digits[usize::from(marker & 15)],
            ];
            push(out, "expected ");
            push(out, expected);
            push(out, " at offset ");
            push_decimal(out, *offset);
            push(out, ", found marker 0x");
            // SAFETY: two ASCII hex digits.
            push(out, unsafe { core::str::from_utf8_unchecked(&hex) });
        }
        DecodeError::InvalidUtf8(at) => {
            push(out, "string at offset ");
            push_decimal(out, *at);
            push(out, " is not UTF-8");
        }
        DecodeError::OutOfRange(at) => {
            push(out, "number at offset ");
            push_decimal(out, *at);
            push(out, " is out of range");
        }
        DecodeError::MissingField(name) => {
            push(out, "missing field `");
            push(out, name);
            push(out, "`");
        }
        DecodeError::TooDeep => {
            push(out, "values nest deeper than ");
            push_decimal(out, MAX_DEPTH);
            push(out, " levels");
        }
        DecodeError::TooLong { offset, len, capacity } => {
            push(out, "value at offset ");
            push_decimal(out, *offset);
            push(out, " has length ");
            push_decimal(out, *len);
            push(out, ", more than its capacity of ");
            push_decimal(out, *capacity);
        }
        DecodeError::TrailingBytes(n) => {
            push_decimal(out, *n);
            push(out, " bytes left over after the value");
        }
        DecodeError::Invalid(why) => {
            push(out, "invalid value: ");
            push(out, why);
        }
        DecodeError::Custom(why) => {
            push(out, "invalid value: ");
            push(out, why);
        }
        // A variant added later: its own words, at the cost of `core::fmt`.
        e => push(out, &e.to_string()),
    }
}

/// Appends what went wrong, in the words of `EncodeError`'s `Display`.
#[inline(never)]
pub(crate) fn push_encode_error(out: &mut String, e: &EncodeError) {
    match e {
        EncodeError::TooLong(n) => {
            push(out, "a value of length ");
            push_decimal(out, *n);
            push(out, " is too long for MessagePack");
        }
        EncodeError::Invalid(why) => {
            push(out, "cannot encode: ");
            push(out, why);
        }
        EncodeError::Custom(why) => {
            push(out, "cannot encode: ");
            push(out, why);
        }
        e => push(out, &e.to_string()),
    }
}

/// `prefix` followed by the decode error.
#[inline(never)]
pub(crate) fn decode_error(prefix: &str, e: &DecodeError) -> String {
    let mut out = String::new();
    push(&mut out, prefix);
    push_decode_error(&mut out, e);
    out
}

/// `prefix` followed by the encode error.
#[inline(never)]
pub(crate) fn encode_error(prefix: &str, e: &EncodeError) -> String {
    let mut out = String::new();
    push(&mut out, prefix);
    push_encode_error(&mut out, e);
    out
}

/// `prefix` followed by `bytes` as text (see [`push_lossy`]).
#[inline(never)]
pub(crate) fn lossy(prefix: &str, bytes: &[u8]) -> String {
    let mut out = String::new();
    push(&mut out, prefix);
    push_lossy(&mut out, bytes);
    out
}
