//! Error messages built by concatenation. `core::fmt` is several kilobytes of code in
//! a plugin (the formatting machinery, padding, integer tables), so the kit's own
//! messages are put together from pieces instead; the words are the same as those of
//! the `Display` impls in `hookr-abi`.

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

/// The pieces joined into one string.
#[inline(never)]
pub(crate) fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// U+FFFD, pushed as a string: `String::push` would bring in a UTF-8 encoder.
const REPLACEMENT: &str = "\u{FFFD}";

/// `bytes` as text, each invalid UTF-8 sequence replaced by U+FFFD, as
/// `String::from_utf8_lossy` does (without pulling in its own decoder), after `prefix`.
#[inline(never)]
pub(crate) fn lossy(prefix: &str, mut bytes: &[u8]) -> String {
    let mut out = String::from(prefix);
    loop {
        match core::str::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(text);
                return out;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // SAFETY: `from_utf8` vouched for the bytes before `valid_up_to`.
                out.push_str(unsafe { core::str::from_utf8_unchecked(valid) });
                out.push_str(REPLACEMENT);
                match e.error_len() {
                    Some(bad) => bytes = rest.get(bad..).unwrap_or_default(),
                    None => return out,
                }
            }
        }
    }
}

/// `prefix` and what went wrong, in the words of `DecodeError`'s `Display`.
#[inline(never)]
pub(crate) fn decode_error(prefix: &str, e: &DecodeError) -> String {
    // Most messages are words, a number, words.
    let (before, number, after) = match e {
        DecodeError::UnexpectedEof(at) => ("input ends inside a value at offset ", *at, ""),
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
            return concat(&[
                prefix,
                "expected ",
                expected,
                " at offset ",
                decimal(*offset, &mut [0; 20]),
                ", found marker 0x",
                // SAFETY: two ASCII hex digits.
                unsafe { core::str::from_utf8_unchecked(&hex) },
            ]);
        }
        DecodeError::InvalidUtf8(at) => ("string at offset ", *at, " is not UTF-8"),
        DecodeError::OutOfRange(at) => ("number at offset ", *at, " is out of range"),
        DecodeError::MissingField(name) => return concat(&[prefix, "missing field `", name, "`"]),
        DecodeError::TooDeep => ("values nest deeper than ", MAX_DEPTH, " levels"),
        DecodeError::TrailingBytes(n) => ("", *n, " bytes left over after the value"),
        DecodeError::Invalid(why) => return concat(&[prefix, "invalid value: ", why]),
        DecodeError::Custom(why) => return concat(&[prefix, "invalid value: ", why]),
        // A variant added later: its own words, at the cost of `core::fmt`.
        e => return concat(&[prefix, &e.to_string()]),
    };
    concat(&[prefix, before, decimal(number, &mut [0; 20]), after])
}

/// `prefix` and what went wrong, in the words of `EncodeError`'s `Display`.
#[inline(never)]
pub(crate) fn encode_error(prefix: &str, e: &EncodeError) -> String {
    match e {
        EncodeError::TooLong(n) => concat(&[
            prefix,
            "a value of length ",
            decimal(*n, &mut [0; 20]),
            " is too long for MessagePack",
        ]),
        EncodeError::Invalid(why) => concat(&[prefix, "cannot encode: ", why]),
        EncodeError::Custom(why) => concat(&[prefix, "cannot encode: ", why]),
        e => concat(&[prefix, &e.to_string()]),
    }
}
