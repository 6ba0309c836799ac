//! `codec`: arbitrary bytes through `hookr::codec`. Decoding may fail but must not panic,
//! and what decodes must agree with `Decoder::skip` and survive a round trip: encoding a
//! decoded value and decoding that again gives the same value.

use std::collections::BTreeMap;

use hookr::codec::{self, Decode, DecodeError, Decoder, Encode, EncodeError, Encoder, MAX_DEPTH};
use hookr::Serde;

/// Any MessagePack value, read with the `Decoder`'s own methods.
#[derive(Debug, Clone)]
enum Value<'a> {
    Nil,
    Bool(bool),
    UInt(u64),
    Int(i64),
    F32(f32),
    F64(f64),
    Str(&'a str),
    /// A `str` whose bytes are not UTF-8, kept raw (header included).
    BadStr(&'a [u8]),
    Bin(&'a [u8]),
    Array(Vec<Value<'a>>),
    Map(Vec<(Value<'a>, Value<'a>)>),
    /// An extension value, kept raw (header included).
    Ext(&'a [u8]),
}

impl PartialEq for Value<'_> {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => true,
            (Bool(a), Bool(b)) => a == b,
            (UInt(a), UInt(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (F32(a), F32(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (F64(a), F64(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (Str(a), Str(b)) => a == b,
            (BadStr(a), BadStr(b)) | (Bin(a), Bin(b)) | (Ext(a), Ext(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            _ => false,
        }
    }
}

/// Reads one value from `d`, which reads `input`; `level` is how many non-empty
/// containers enclose it. Like `skip`, it refuses a non-empty container nested
/// `MAX_DEPTH` deep.
fn value<'a>(input: &'a [u8], d: &mut Decoder<'a>, level: usize) -> Result<Value<'a>, DecodeError> {
    let at = d.position();
    let Some(&marker) = input.get(at) else {
        return Err(DecodeError::UnexpectedEof(at));
    };
    Ok(match marker {
        0x00..=0x7f | 0xcc..=0xd3 | 0xe0..=0xff => match d.clone().uint() {
            Ok(u) => {
                d.uint()?;
                Value::UInt(u)
            }
            Err(_) => Value::Int(d.int()?),
        },
        0xc0 => {
            d.nil()?;
            Value::Nil
        }
        0xc2 | 0xc3 => Value::Bool(d.bool()?),
        0xca => Value::F32(d.f64()? as f32),
        0xcb => Value::F64(d.f64()?),
        0xa0..=0xbf | 0xd9..=0xdb => match d.clone().str() {
            Ok(_) => Value::Str(d.str()?),
            Err(DecodeError::InvalidUtf8(_)) => {
                d.bin()?;
                Value::BadStr(&input[at..d.position()])
            }
            Err(e) => return Err(e),
        },
        0xc4..=0xc6 => Value::Bin(d.bin()?),
        0xc7..=0xc9 | 0xd4..=0xd8 => Value::Ext(d.raw()?),
        0x90..=0x9f | 0xdc | 0xdd => {
            let len = d.array_len()?;
            let level = nest(level, len)?;
            let mut items = Vec::new();
            for _ in 0..len {
                items.push(value(input, d, level)?);
            }
            Value::Array(items)
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let len = d.map_len()?;
            let level = nest(level, len)?;
            let mut pairs = Vec::new();
            for _ in 0..len {
                let k = value(input, d, level)?;
                let v = value(input, d, level)?;
                pairs.push((k, v));
            }
            Value::Map(pairs)
        }
        // 0xc1, the one reserved marker: no value has it.
        _ => return Err(DecodeError::Invalid("reserved marker")),
    })
}

fn nest(level: usize, len: usize) -> Result<usize, DecodeError> {
    if len == 0 {
        return Ok(level);
    }
    if level + 1 > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    Ok(level + 1)
}

impl Encode for Value<'_> {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        match self {
            Value::Nil => e.nil(),
            Value::Bool(b) => e.bool(*b),
            Value::UInt(u) => e.uint(*u),
            Value::Int(i) => e.int(*i),
            Value::F32(f) => e.f32(*f),
            Value::F64(f) => e.f64(*f),
            Value::Str(s) => e.str(s),
            Value::Bin(b) => e.bin(b),
            Value::BadStr(raw) | Value::Ext(raw) => {
                e.raw(raw);
                Ok(())
            }
            Value::Array(items) => {
                e.array_len(items.len())?;
                items.iter().try_for_each(|v| v.encode(e))
            }
            Value::Map(pairs) => {
                e.map_len(pairs.len())?;
                pairs.iter().try_for_each(|(k, v)| {
                    k.encode(e)?;
                    v.encode(e)
                })
            }
        }
    }
}

/// A struct the way hookr's users write one, with every kind of field.
#[derive(Debug, PartialEq)]
struct Reading {
    sensor: String,
    celsius: f64,
    raw: Vec<u8>,
    count: u32,
    offset: Option<i16>,
    ok: bool,
}

const READING_FIELDS: [&str; 6] = ["sensor", "celsius", "raw", "count", "offset", "ok"];

impl Decode for Reading {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let mut r = Reading { sensor: String::new(), celsius: 0.0, raw: Vec::new(), count: 0, offset: None, ok: false };
        d.fields(&READING_FIELDS, |d, f| {
            match f {
                Some(0) => r.sensor = d.string()?,
                Some(1) => r.celsius = d.f64()?,
                Some(2) => r.raw = d.bin()?.to_vec(),
                Some(3) => r.count = d.value()?,
                Some(4) => r.offset = d.value()?,
                Some(5) => r.ok = d.bool()?,
                _ => d.skip()?,
            }
            Ok(())
        })?;
        Ok(r)
    }
}

impl Encode for Reading {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.map_len(READING_FIELDS.len())?;
        e.str("sensor")?;
        e.str(&self.sensor)?;
        e.str("celsius")?;
        e.f64(self.celsius)?;
        e.str("raw")?;
        e.bin(&self.raw)?;
        e.str("count")?;
        e.value(&self.count)?;
        e.str("offset")?;
        e.value(&self.offset)?;
        e.str("ok")?;
        e.bool(self.ok)
    }
}

/// A struct with every kind of field, and an enum, derived: what the derived decoders
/// accept must round-trip.
#[derive(Debug, Encode, Decode)]
#[codec(rename_all = "camelCase")]
struct Derived {
    sensor_name: String,
    celsius: f64,
    raw: Vec<u8>,
    count: u32,
    offset: Option<i16>,
    #[codec(default)]
    ok: bool,
    tags: Vec<String>,
    kinds: Vec<Kind>,
}

#[derive(Debug, PartialEq, Encode, Decode)]
enum Kind {
    Plain,
    Count(u8),
    Pair(i8, bool),
    Limit { max: Option<u16> },
}

/// The same struct through serde.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct SerdeReading {
    sensor: String,
    celsius: f64,
    count: u32,
    offset: Option<i16>,
    tags: Vec<String>,
}

/// Checks that `T` decoding `data`, if it does, encodes to bytes that decode the same.
fn round_trip<T: Decode + Encode + std::fmt::Debug>(data: &[u8], same: impl Fn(&T, &T) -> bool) {
    let Ok(first) = codec::from_slice::<T>(data) else {
        return;
    };
    let bytes = codec::to_vec(&first).unwrap_or_else(|e| panic!("{first:?} decoded but does not encode: {e}"));
    let again = codec::from_slice::<T>(&bytes).unwrap_or_else(|e| panic!("{first:?} re-encoded as {bytes:x?}: {e}"));
    assert!(same(&first, &again), "{first:?} came back as {again:?} from {bytes:x?}");
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

pub fn run(data: &[u8]) {
    // `skip` and a full decode agree on where the first value ends, and on whether
    // there is one.
    let mut skipper = Decoder::new(data);
    let skipped = skipper.skip();
    let mut d = Decoder::new(data);
    let decoded = value(data, &mut d, 0);
    match (&skipped, &decoded) {
        (Ok(()), Ok(v)) => {
            assert_eq!(skipper.position(), d.position(), "skip and decode disagree on {v:?}");
            // Encoding writes the smallest forms, so one more round trip is the identity.
            let bytes = codec::to_vec(v).unwrap();
            let mut d2 = Decoder::new(&bytes);
            let v2 = value(&bytes, &mut d2, 0).unwrap_or_else(|e| panic!("{v:?} re-encoded as {bytes:x?}: {e}"));
            assert_eq!(d2.remaining(), 0, "{v:?} re-encoded with trailing bytes");
            assert_eq!(&v2, v, "{v:?} came back as {v2:?}");
            assert_eq!(codec::to_vec(&v2).unwrap(), bytes, "{v:?} encodes two ways");
            // `raw` hands back exactly the bytes `skip` walked over.
            assert_eq!(Decoder::new(data).raw().unwrap(), &data[..skipper.position()]);
        }
        (Err(a), Err(b)) => {
            // Both fail; a depth refusal must be the same refusal.
            assert_eq!(*a == DecodeError::TooDeep, *b == DecodeError::TooDeep, "skip: {a:?}, decode: {b:?}");
        }
        (a, b) => panic!("skip: {a:?}, decode: {b:?}"),
    }

    // Typed decoders never panic; what they accept, skip accepts, and it round-trips.
    macro_rules! numbers {
        ($($t:ty),*) => {$(
            round_trip::<$t>(data, |a, b| a == b);
        )*};
    }
    numbers!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, bool, (), String, Vec<u8>, Option<u32>);
    round_trip::<f64>(data, |a, b| same_f64(*a, *b));
    round_trip::<f32>(data, |a, b| same_f64(*a as f64, *b as f64));
    round_trip::<Reading>(data, |a, b| {
        same_f64(a.celsius, b.celsius)
            && (&a.sensor, &a.raw, a.count, a.offset, a.ok) == (&b.sensor, &b.raw, b.count, b.offset, b.ok)
    });
    round_trip::<Derived>(data, |a, b| {
        same_f64(a.celsius, b.celsius)
            && (&a.sensor_name, &a.raw, a.count, a.offset, a.ok, &a.tags, &a.kinds)
                == (&b.sensor_name, &b.raw, b.count, b.offset, b.ok, &b.tags, &b.kinds)
    });
    round_trip::<Serde<SerdeReading>>(data, |a, b| {
        same_f64(a.0.celsius, b.0.celsius)
            && (&a.0.sensor, a.0.count, a.0.offset, &a.0.tags) == (&b.0.sensor, b.0.count, b.0.offset, &b.0.tags)
    });
    round_trip::<Serde<BTreeMap<String, Vec<u64>>>>(data, |a, b| a == b);
    round_trip::<Serde<Vec<Option<i64>>>>(data, |a, b| a == b);

    // Every accepted value is one whole value: what `from_slice` takes, `skip` spans.
    let whole = matches!(skipped, Ok(())) && skipper.remaining() == 0;
    if codec::from_slice::<Reading>(data).is_ok() || codec::from_slice::<String>(data).is_ok() {
        assert!(whole || skipped == Err(DecodeError::TooDeep), "accepted, but skip says {skipped:?}");
    }
}
