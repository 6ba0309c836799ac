//! JSON ↔ MessagePack for `invoke --msgpack`.
//!
//! JSON to MessagePack: objects become maps keyed by string (the msgp struct form),
//! arrays arrays, strings str, integers the smallest int form, other numbers float64,
//! `true`/`false`/`null` bool and nil. JSON has no byte strings, so nothing becomes bin.
//!
//! MessagePack to JSON: maps become objects in their original key order, arrays
//! arrays, str strings, ints and floats numbers, bool and nil `true`/`false`/`null`, and:
//! - bin becomes a base64 string (standard alphabet, padded);
//! - a map key that is a number, bool or nil becomes its JSON text (`1` → `"1"`), one
//!   that is bin its base64; one that is an array or a map is an error;
//! - a NaN or infinite float becomes the string `"NaN"`, `"Infinity"` or `"-Infinity"`;
//! - extension values and bytes that are not MessagePack are errors.

use hookr::codec::{DecodeError, Decoder, EncodeError, Encoder, MAX_DEPTH};
use rmp::Marker;
use std::collections::BTreeSet;

use serde_json::{Number, Value};

/// Parses `input` as JSON and encodes it as MessagePack.
pub fn json_to_msgpack(input: &[u8]) -> Result<Vec<u8>, String> {
    let value: Value = serde_json::from_slice(input).map_err(|e| format!("--msgpack input is not JSON: {e}"))?;
    let mut out = Vec::new();
    encode(&value, &mut Encoder::new(&mut out)).map_err(|e| format!("cannot encode the input as MessagePack: {e}"))?;
    Ok(out)
}

fn encode(value: &Value, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
    match value {
        Value::Null => e.nil(),
        Value::Bool(b) => e.bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                e.uint(u)
            } else if let Some(i) = n.as_i64() {
                e.int(i)
            } else {
                // With `arbitrary_precision` the number keeps its text: an integer
                // literal that fits no 64-bit integer is refused, not rounded to a float.
                let text = n.to_string();
                if !text.contains(['.', 'e', 'E']) {
                    return Err(EncodeError::Custom(
                        format!("the integer {text} does not fit a 64-bit integer").into(),
                    ));
                }
                match n.as_f64() {
                    Some(f) if f.is_finite() => e.f64(f),
                    _ => Err(EncodeError::Custom(
                        format!("the number {text} is out of the range of a 64-bit float").into(),
                    )),
                }
            }
        }
        Value::String(s) => e.str(s),
        Value::Array(items) => {
            e.array_len(items.len())?;
            items.iter().try_for_each(|v| encode(v, e))
        }
        Value::Object(map) => {
            e.map_len(map.len())?;
            map.iter().try_for_each(|(k, v)| {
                e.str(k)?;
                encode(v, e)
            })
        }
    }
}

/// Decodes `bytes`, which must be exactly one MessagePack value, and prints it as
/// compact JSON.
///
/// The JSON is written as the value decodes, with no tree of values in between, so
/// it takes about the memory of the text it prints.
pub fn msgpack_to_json(bytes: &[u8]) -> Result<String, String> {
    msgpack_to_json_within(bytes, usize::MAX).map(|(json, _)| json)
}

/// [`msgpack_to_json`], stopping once the JSON passes `max` bytes: returns the text
/// so far and whether it stopped (the rest of the value is then not checked). Time
/// and memory stay bounded by `max`, however large the value.
pub fn msgpack_to_json_within(bytes: &[u8], max: usize) -> Result<(String, bool), String> {
    if bytes.is_empty() {
        return Err("the response is empty, not MessagePack (run without --msgpack to see raw responses)".into());
    }
    let not_msgpack = |why: String| {
        format!("the {}-byte response is not MessagePack: {why} (run without --msgpack to see it raw)", bytes.len())
    };
    let mut d = Decoder::new(bytes);
    let mut out = Json { text: String::new(), max };
    match write(&mut d, 0, &mut out) {
        Ok(()) => {}
        Err(Stop::Full) => return Ok((out.text, true)),
        Err(Stop::Bad(why)) => return Err(not_msgpack(why)),
    }
    if d.remaining() != 0 {
        return Err(not_msgpack(DecodeError::TrailingBytes(d.remaining()).to_string()));
    }
    Ok((out.text, false))
}

/// JSON text being written, up to a size.
struct Json {
    text: String,
    max: usize,
}

/// Why writing stopped.
enum Stop {
    /// The bytes are not MessagePack JSON can show.
    Bad(String),
    /// The text reached its size.
    Full,
}

impl From<DecodeError> for Stop {
    fn from(e: DecodeError) -> Self {
        Stop::Bad(e.to_string())
    }
}

impl Json {
    fn push(&mut self, s: &str) -> Result<(), Stop> {
        self.text.push_str(s);
        if self.text.len() > self.max {
            return Err(Stop::Full);
        }
        Ok(())
    }

    /// How many more bytes of input can show before the text is full.
    fn room(&self) -> usize {
        self.max.saturating_sub(self.text.len()).saturating_add(1)
    }

    /// Writes `s` as a JSON string: only as much of it as the text has room for.
    fn string(&mut self, s: &str) -> Result<(), Stop> {
        let shown = head(s, self.room());
        // Cannot fail: a `str` always serialises.
        let quoted = serde_json::to_string(shown).unwrap_or_default();
        self.push(&quoted)?;
        if shown.len() < s.len() {
            return Err(Stop::Full);
        }
        Ok(())
    }
}

/// Writes the next value of `d` as JSON.
fn write(d: &mut Decoder<'_>, depth: usize, out: &mut Json) -> Result<(), Stop> {
    let at = d.position();
    match d.peek_marker()? {
        Marker::Null => {
            d.nil()?;
            out.push("null")
        }
        Marker::True | Marker::False => out.push(if d.bool()? { "true" } else { "false" }),
        Marker::FixPos(_) | Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => out.push(&d.uint()?.to_string()),
        Marker::FixNeg(_) | Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => out.push(&d.int()?.to_string()),
        Marker::F32 | Marker::F64 => {
            let text = float(d.f64()?).to_string();
            out.push(&text)
        }
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => out.string(d.str()?),
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            let (text, cut) = base64_within(d.bin()?, out.room());
            out.push("\"")?;
            out.push(&text)?;
            if cut {
                return Err(Stop::Full);
            }
            out.push("\"")
        }
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
            let len = nested(d.array_len()?, depth)?;
            out.push("[")?;
            for i in 0..len {
                if i > 0 {
                    out.push(",")?;
                }
                write(d, depth + 1, out)?;
            }
            out.push("]")
        }
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
            let len = nested(d.map_len()?, depth)?;
            let mut keys = BTreeSet::new();
            out.push("{")?;
            for i in 0..len {
                if i > 0 {
                    out.push(",")?;
                }
                let key = map_key(d, depth, out)?;
                if !keys.insert(key.clone()) {
                    return Err(Stop::Bad(format!(
                        "the map has the key {key:?} twice (as JSON text); JSON cannot show both"
                    )));
                }
                out.string(&key)?;
                out.push(":")?;
                write(d, depth + 1, out)?;
            }
            out.push("}")
        }
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => Err(Stop::Bad(format!("the extension value at offset {at} has no JSON form"))),
        Marker::Reserved => Err(Stop::Bad(format!("byte 0xc1 at offset {at} is not a MessagePack marker"))),
    }
}

/// The text a map key shows as: a string as it is, a number, `true`, `false` or nil
/// as its JSON text, a byte string as its base64. An array or a map has no key form
/// (its text, escaped as a key, would double its backslashes at every level). A key
/// longer than the room `out` has left is written cut, and the text is full.
fn map_key(d: &mut Decoder<'_>, depth: usize, out: &mut Json) -> Result<String, Stop> {
    let room = out.room();
    match d.peek_marker()? {
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            let key = d.str()?;
            if key.len() > room {
                out.string(key)?;
            }
            Ok(key.to_owned())
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            let (key, cut) = base64_within(d.bin()?, room);
            if cut {
                out.string(&key)?;
                return Err(Stop::Full);
            }
            Ok(key)
        }
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 | Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
            Err(Stop::Bad(format!(
                "the map key at offset {} is an array or a map, which JSON cannot show as a key",
                d.position()
            )))
        }
        _ => {
            let mut text = Json { text: String::new(), max: room };
            write(d, depth + 1, &mut text)?;
            // A value JSON shows as a string (a NaN or infinite float) keys by that
            // string's text, not by its quoted form.
            match serde_json::from_str::<String>(&text.text) {
                Ok(key) => Ok(key),
                Err(_) => Ok(text.text),
            }
        }
    }
}

/// The base64 of as much of `bin` as `room` bytes of text show, and whether that is
/// less than all of it.
fn base64_within(bin: &[u8], room: usize) -> (String, bool) {
    let shown = &bin[..bin.len().min(room / 4 * 3 + 3)];
    (base64(shown), shown.len() < bin.len())
}

/// The first bytes of `s`, at most `max`, cut back to a character boundary.
fn head(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Checks the nesting depth before descending into an array or map of `len` values.
fn nested(len: usize, depth: usize) -> Result<usize, Stop> {
    if depth + 1 > MAX_DEPTH {
        return Err(DecodeError::TooDeep.into());
    }
    Ok(len)
}

fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::from("NaN"),
        None if f > 0.0 => Value::from("Infinity"),
        None => Value::from("-Infinity"),
    }
}

/// Standard padded base64.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: &str) -> String {
        msgpack_to_json(&json_to_msgpack(json.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn nested_values_round_trip_in_key_order() {
        let json = r#"{"z":1,"a":[true,false,null,-5,-129,300,18446744073709551615,-9223372036854775808,1.5,"s"],"m":{"k":{"deep":[[]]}},"e":{}}"#;
        assert_eq!(round_trip(json), json);
    }

    #[test]
    fn objects_are_msgp_maps() {
        assert_eq!(json_to_msgpack(br#"{"data":"Steve"}"#).unwrap(), b"\x81\xa4data\xa5Steve");
    }

    #[test]
    fn bin_is_base64() {
        assert_eq!(msgpack_to_json(b"\xc4\x00").unwrap(), r#""""#);
        assert_eq!(msgpack_to_json(b"\xc4\x01f").unwrap(), r#""Zg==""#);
        assert_eq!(msgpack_to_json(b"\xc4\x02fo").unwrap(), r#""Zm8=""#);
        assert_eq!(msgpack_to_json(b"\xc4\x06foobar").unwrap(), r#""Zm9vYmFy""#);
    }

    #[test]
    fn odd_keys_and_floats() {
        // {1: NaN, nil: f32 2.5}
        let bytes = b"\x82\x01\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00\xc0\xca\x40\x20\x00\x00";
        assert_eq!(msgpack_to_json(bytes).unwrap(), r#"{"1":"NaN","null":2.5}"#);
        // Floats as keys, NaN and infinities by their text: {NaN: 1, +inf: 2, -inf: 3, 1.5: 4}
        let bytes = b"\x84\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00\x01\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00\x02\
                      \xcb\xff\xf0\x00\x00\x00\x00\x00\x00\x03\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\x04";
        assert_eq!(msgpack_to_json(bytes).unwrap(), r#"{"NaN":1,"Infinity":2,"-Infinity":3,"1.5":4}"#);
    }

    #[test]
    fn numbers_past_a_float_are_refused() {
        for text in ["1e400", "-1e400", "[1, 2e999]"] {
            let err = json_to_msgpack(text.as_bytes()).unwrap_err();
            assert!(err.contains("out of the range of a 64-bit float"), "{text}: {err}");
        }
        // A tiny one rounds to zero, as a float does.
        assert_eq!(json_to_msgpack(b"1e-400").unwrap(), b"\xcb\x00\x00\x00\x00\x00\x00\x00\x00");
    }

    #[test]
    fn integers_beyond_64_bits_are_refused_not_rounded() {
        for big in ["18446744073709551616", "-9223372036854775809", "[1,{\"x\":123456789012345678901234567890}]"] {
            let err = json_to_msgpack(big.as_bytes()).unwrap_err();
            assert!(err.contains("does not fit a 64-bit integer"), "{big}: {err}");
        }
        assert_eq!(round_trip("1e300"), "1e+300");
    }

    #[test]
    fn a_key_that_is_an_array_or_a_map_is_an_error() {
        // {[1]: 1} and {{}: 1}; and 40 levels of maps keyed by maps, whose key texts
        // would double their escapes at every level.
        for bytes in [&b"\x81\x91\x01\x01"[..], b"\x81\x80\x01"] {
            assert!(msgpack_to_json(bytes).unwrap_err().contains("cannot show as a key"), "{bytes:?}");
        }
        let mut bomb = vec![0x81u8; 40];
        bomb.extend_from_slice(b"\x81\xa1a\x00");
        bomb.resize(bomb.len() + 40, 0);
        assert!(msgpack_to_json(&bomb).unwrap_err().contains("cannot show as a key"));
        assert_eq!(
            msgpack_to_json(b"\x83\xc0\x01\xc3\x02\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\x03").unwrap(),
            r#"{"null":1,"true":2,"1.5":3}"#
        );
    }

    #[test]
    fn keys_that_collide_as_json_are_errors() {
        // {1: "a", "1": "b"} and {"k": 1, "k": 2}
        for bytes in [&b"\x82\x01\xa1a\xa11\xa1b"[..], b"\x82\xa1k\x01\xa1k\x02"] {
            let err = msgpack_to_json(bytes).unwrap_err();
            assert!(err.contains("twice"), "{err}");
        }
    }

    #[test]
    fn hostile_responses_are_errors() {
        for bad in [
            &b""[..],
            b"hello",                // 'h' is a fixint, then trailing bytes
            b"\xc1",                 // reserved marker
            b"\xd4\x01\x00",         // fixext1
            b"\xdd\xff\xff\xff\xff", // array of 4 billion values, no data
            b"\xdb\xff\xff\xff\xff", // str32 longer than the input
            b"\xa2\xff\xfe",         // not UTF-8
        ] {
            assert!(msgpack_to_json(bad).is_err(), "{bad:?}");
        }
        let deep = vec![0x91u8; 10_000];
        assert!(msgpack_to_json(&deep).unwrap_err().contains("nest deeper"));
    }

    #[test]
    fn a_prefix_of_a_huge_value_costs_the_prefix() {
        // An array of 16 Mi zeros, and a byte string of 16 MiB: about 32 MB and 22 MB
        // of JSON, of which 800 bytes are wanted.
        let mut zeros = vec![0xdd, 0x01, 0x00, 0x00, 0x00];
        zeros.resize(zeros.len() + (16 << 20), 0);
        let mut bin = vec![0xc6, 0x01, 0x00, 0x00, 0x00];
        bin.resize(bin.len() + (16 << 20), 7);
        for bytes in [&zeros, &bin] {
            let (json, stopped) = msgpack_to_json_within(bytes, 800).unwrap();
            assert!(stopped);
            assert!((800..900).contains(&json.len()), "{}", json.len());
        }
        // A length the input cannot hold is still refused before anything is written.
        assert!(msgpack_to_json_within(&zeros[..8], 800).is_err());
        // A long string, a long string key and a long byte-string key: each shown only
        // as far as the text goes (escaping 16 MiB of control bytes would take 96 MB).
        let mut long_str = vec![0xdb, 0x01, 0x00, 0x00, 0x00];
        long_str.resize(long_str.len() + (16 << 20), 1);
        let mut str_key = vec![0x81];
        str_key.extend_from_slice(&long_str);
        str_key.push(0xc0);
        let mut bin_key = vec![0x81];
        bin_key.extend_from_slice(&bin);
        bin_key.push(0xc0);
        for bytes in [&long_str, &str_key, &bin_key] {
            let (json, stopped) = msgpack_to_json_within(bytes, 800).unwrap();
            assert!(stopped);
            assert!(json.len() < 800 + 6 * 801, "{}", json.len());
        }
        // Whole, the array is every zero.
        let whole = msgpack_to_json(&zeros).unwrap();
        assert_eq!(whole.len(), 2 * (16 << 20) + 1);
        assert!(whole.starts_with("[0,0,") && whole.ends_with(",0]"));
        // A value that fits is the same text whole or within a bound, and not stopped.
        let small = json_to_msgpack(br#"{"a":[1,2,{"b":"c"}]}"#).unwrap();
        assert_eq!(msgpack_to_json_within(&small, 800).unwrap(), (msgpack_to_json(&small).unwrap(), false));
    }

    #[test]
    fn bad_json_is_an_error() {
        assert!(json_to_msgpack(b"{").unwrap_err().contains("not JSON"));
        assert!(json_to_msgpack(b"").is_err());
    }
}
