//! JSON ↔ MessagePack for `invoke --msgpack`.
//!
//! JSON to MessagePack: objects become maps keyed by string (the msgp struct form),
//! arrays arrays, strings str, integers the smallest int form, other numbers float64,
//! `true`/`false`/`null` bool and nil. JSON has no byte strings, so nothing becomes bin.
//!
//! MessagePack to JSON: maps become objects in their original key order, arrays
//! arrays, str strings, ints and floats numbers, bool and nil `true`/`false`/`null`, and:
//! - bin becomes a base64 string (standard alphabet, padded);
//! - a map key that is not a string becomes its JSON text (`1` → `"1"`);
//! - a NaN or infinite float becomes the string `"NaN"`, `"Infinity"` or `"-Infinity"`;
//! - extension values and bytes that are not MessagePack are errors.

use hookr::codec::{DecodeError, Decoder, EncodeError, Encoder, MAX_DEPTH};
use rmp::Marker;
use serde_json::{Map, Number, Value};

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
                e.f64(n.as_f64().unwrap_or(f64::NAN))
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
pub fn msgpack_to_json(bytes: &[u8]) -> Result<String, String> {
    if bytes.is_empty() {
        return Err("the response is empty, not MessagePack (run without --msgpack to see raw responses)".into());
    }
    let not_msgpack = |why: String| {
        format!("the {}-byte response is not MessagePack: {why} (run without --msgpack to see it raw)", bytes.len())
    };
    let mut d = Decoder::new(bytes);
    let value = decode(&mut d, 0).map_err(not_msgpack)?;
    if d.remaining() != 0 {
        return Err(not_msgpack(DecodeError::TrailingBytes(d.remaining()).to_string()));
    }
    serde_json::to_string(&value).map_err(|e| format!("cannot print the response as JSON: {e}"))
}

fn decode(d: &mut Decoder<'_>, depth: usize) -> Result<Value, String> {
    let at = d.position();
    let text = |e: DecodeError| e.to_string();
    Ok(match d.peek_marker().map_err(text)? {
        Marker::Null => {
            d.nil().map_err(text)?;
            Value::Null
        }
        Marker::True | Marker::False => Value::Bool(d.bool().map_err(text)?),
        Marker::FixPos(_) | Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => {
            Value::from(d.uint().map_err(text)?)
        }
        Marker::FixNeg(_) | Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => Value::from(d.int().map_err(text)?),
        Marker::F32 | Marker::F64 => float(d.f64().map_err(text)?),
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            Value::String(d.str().map_err(text)?.to_owned())
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => Value::String(base64(d.bin().map_err(text)?)),
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
            let len = nested(d.array_len().map_err(text)?, depth)?;
            // The length is the sender's claim: every value takes at least a byte.
            let mut items = Vec::with_capacity(len.min(d.remaining()));
            for _ in 0..len {
                items.push(decode(d, depth + 1)?);
            }
            Value::Array(items)
        }
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
            let len = nested(d.map_len().map_err(text)?, depth)?;
            let mut map = Map::new();
            for _ in 0..len {
                let key = match decode(d, depth + 1)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let value = decode(d, depth + 1)?;
                if map.contains_key(&key) {
                    return Err(format!("the map has the key {key:?} twice (as JSON text); JSON cannot show both"));
                }
                map.insert(key, value);
            }
            Value::Object(map)
        }
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => return Err(format!("the extension value at offset {at} has no JSON form")),
        Marker::Reserved => return Err(format!("byte 0xc1 at offset {at} is not a MessagePack marker")),
    })
}

/// Checks the nesting depth before descending into an array or map of `len` values.
fn nested(len: usize, depth: usize) -> Result<usize, String> {
    if depth + 1 > MAX_DEPTH {
        return Err(DecodeError::TooDeep.to_string());
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
    fn bad_json_is_an_error() {
        assert!(json_to_msgpack(b"{").unwrap_err().contains("not JSON"));
        assert!(json_to_msgpack(b"").is_err());
    }
}
