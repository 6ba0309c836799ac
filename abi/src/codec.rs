//! MessagePack encoding and decoding for typed payloads, wire-compatible with Go's
//! `tinylib/msgp`.
//!
//! A type takes part in typed calls by implementing [`Encode`] (what it sends) and
//! [`Decode`] (what it receives). Structs are written as maps keyed by field name;
//! [`Decoder::fields`] reads either that map form or the array form. Byte strings
//! (`[u8]`, `Vec<u8>`) are MessagePack `bin`, as Go's `[]byte` is.
//!
//! Encoding goes through [`rmp`]; decoding borrows strings and byte strings straight
//! from the input, so a decoder allocates only what the decoded value owns.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rmp::Marker;

/// The deepest nesting of arrays and maps [`Decoder::skip`] follows before it gives up,
/// so a hostile payload cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// A value that can be written as MessagePack.
pub trait Encode {
    /// Writes `self` to `e`.
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError>;
}

/// A value that can be read from MessagePack.
pub trait Decode: Sized {
    /// Reads one value from `d`.
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError>;
}

/// Encodes `value` into a new vector.
pub fn to_vec<T: Encode + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    value.encode(&mut Encoder::new(&mut out))?;
    Ok(out)
}

/// Encodes `value` at the end of `out`, reusing its capacity.
pub fn encode_into<T: Encode + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    value.encode(&mut Encoder::new(out))
}

/// Decodes one value that must span all of `bytes`.
pub fn from_slice<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut d = Decoder::new(bytes);
    let value = T::decode(&mut d)?;
    if d.remaining() != 0 {
        return Err(DecodeError::TrailingBytes(d.remaining()));
    }
    Ok(value)
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A string, byte string, array or map is longer than MessagePack allows (2³² − 1).
    TooLong(usize),
    /// A value refused to encode, with its reason.
    Invalid(&'static str),
    /// A value refused to encode, with a composed reason.
    Custom(Box<str>),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLong(n) => {
                write!(f, "a value of length {n} is too long for MessagePack")
            }
            EncodeError::Invalid(why) => write!(f, "cannot encode: {why}"),
            EncodeError::Custom(why) => write!(f, "cannot encode: {why}"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Why MessagePack input could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a value, at this offset.
    UnexpectedEof(usize),
    /// A value of another type stands where `expected` was wanted.
    TypeMismatch {
        /// What the decoder wanted.
        expected: &'static str,
        /// The MessagePack marker byte it found.
        marker: u8,
        /// Where it found it.
        offset: usize,
    },
    /// A string is not valid UTF-8.
    InvalidUtf8(usize),
    /// A number does not fit the type asked for.
    OutOfRange(usize),
    /// A struct lacks a required field.
    MissingField(&'static str),
    /// Arrays and maps nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes are left over after the value.
    TrailingBytes(usize),
    /// A value decoded but is not acceptable, with the reason.
    Invalid(&'static str),
    /// A value is not acceptable, with a composed reason.
    Custom(Box<str>),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnexpectedEof(at) => write!(f, "input ends inside a value at offset {at}"),
            DecodeError::TypeMismatch { expected, marker, offset } => {
                write!(f, "expected {expected} at offset {offset}, found marker 0x{marker:02x}")
            }
            DecodeError::InvalidUtf8(at) => write!(f, "string at offset {at} is not UTF-8"),
            DecodeError::OutOfRange(at) => write!(f, "number at offset {at} is out of range"),
            DecodeError::MissingField(name) => write!(f, "missing field `{name}`"),
            DecodeError::TooDeep => write!(f, "values nest deeper than {MAX_DEPTH} levels"),
            DecodeError::TrailingBytes(n) => write!(f, "{n} bytes left over after the value"),
            DecodeError::Invalid(why) => write!(f, "invalid value: {why}"),
            DecodeError::Custom(why) => write!(f, "invalid value: {why}"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Writes MessagePack values at the end of a byte vector.
pub struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

fn len32(len: usize) -> Result<u32, EncodeError> {
    u32::try_from(len).map_err(|_| EncodeError::TooLong(len))
}

// Writing to a `Vec<u8>` cannot fail; rmp's error type still differs with and without
// its `std` feature, so every result is folded here.
fn wrote<T, E>(r: Result<T, E>) -> Result<(), EncodeError> {
    r.map(|_| ()).map_err(|_| EncodeError::Invalid("write failed"))
}

impl<'a> Encoder<'a> {
    /// An encoder that appends to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Encoder { out }
    }

    /// Writes `nil`.
    pub fn nil(&mut self) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_nil(self.out))
    }

    /// Writes a boolean.
    pub fn bool(&mut self, v: bool) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_bool(self.out, v))
    }

    /// Writes an unsigned integer in its smallest form.
    pub fn uint(&mut self, v: u64) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_uint(self.out, v))
    }

    /// Writes a signed integer in its smallest form.
    pub fn int(&mut self, v: i64) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_sint(self.out, v))
    }

    /// Writes a 32-bit float.
    pub fn f32(&mut self, v: f32) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_f32(self.out, v))
    }

    /// Writes a 64-bit float.
    pub fn f64(&mut self, v: f64) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_f64(self.out, v))
    }

    /// Writes a UTF-8 string.
    pub fn str(&mut self, v: &str) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_str_len(self.out, len32(v.len())?))?;
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    /// Writes a byte string (`bin`).
    pub fn bin(&mut self, v: &[u8]) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_bin_len(self.out, len32(v.len())?))?;
        self.out.extend_from_slice(v);
        Ok(())
    }

    /// Starts an array of `len` values; write them next.
    pub fn array_len(&mut self, len: usize) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_array_len(self.out, len32(len)?))
    }

    /// Starts a map of `len` key/value pairs; write key, value, key, value… next.
    pub fn map_len(&mut self, len: usize) -> Result<(), EncodeError> {
        wrote(rmp::encode::write_map_len(self.out, len32(len)?))
    }

    /// Writes any [`Encode`] value.
    pub fn value<T: Encode + ?Sized>(&mut self, v: &T) -> Result<(), EncodeError> {
        v.encode(self)
    }

    /// Writes raw bytes that already are MessagePack.
    pub fn raw(&mut self, msgpack: &[u8]) {
        self.out.extend_from_slice(msgpack);
    }

    /// The buffer being written, for encoders that write MessagePack themselves.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }
}

/// Reads MessagePack values from a byte slice, borrowing strings and byte strings.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Decoder { input, pos: 0 }
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// The offset of the next value.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.input.len())
            .ok_or(DecodeError::UnexpectedEof(self.pos))?;
        let bytes = &self.input[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut buf = [0u8; N];
        buf.copy_from_slice(self.take(N)?);
        Ok(buf)
    }

    fn be_len(&mut self, width: usize) -> Result<usize, DecodeError> {
        Ok(match width {
            1 => self.be::<1>()?[0] as usize,
            2 => u16::from_be_bytes(self.be()?) as usize,
            _ => u32::from_be_bytes(self.be()?) as usize,
        })
    }

    /// The marker of the next value, without consuming it.
    pub fn peek_marker(&self) -> Result<Marker, DecodeError> {
        self.input.get(self.pos).map(|&b| Marker::from_u8(b)).ok_or(DecodeError::UnexpectedEof(self.pos))
    }

    fn marker(&mut self) -> Result<(Marker, usize), DecodeError> {
        let at = self.pos;
        let m = self.peek_marker()?;
        self.pos += 1;
        Ok((m, at))
    }

    fn mismatch(expected: &'static str, m: Marker, offset: usize) -> DecodeError {
        DecodeError::TypeMismatch { expected, marker: m.to_u8(), offset }
    }

    /// Whether the next value is `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self.peek_marker(), Ok(Marker::Null))
    }

    /// Reads `nil`.
    pub fn nil(&mut self) -> Result<(), DecodeError> {
        match self.marker()? {
            (Marker::Null, _) => Ok(()),
            (m, at) => Err(Self::mismatch("nil", m, at)),
        }
    }

    /// Reads a boolean.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.marker()? {
            (Marker::True, _) => Ok(true),
            (Marker::False, _) => Ok(false),
            (m, at) => Err(Self::mismatch("bool", m, at)),
        }
    }

    // Any integer form, widened: unsigned values as `Ok(Ok(u))`, negative ones as `Ok(Err(i))`.
    fn integer(&mut self) -> Result<(Result<u64, i64>, usize), DecodeError> {
        let (m, at) = self.marker()?;
        let v = match m {
            Marker::FixPos(v) => Ok(v as u64),
            Marker::FixNeg(v) => Err(v as i64),
            Marker::U8 => Ok(self.be::<1>()?[0] as u64),
            Marker::U16 => Ok(u16::from_be_bytes(self.be()?) as u64),
            Marker::U32 => Ok(u32::from_be_bytes(self.be()?) as u64),
            Marker::U64 => Ok(u64::from_be_bytes(self.be()?)),
            Marker::I8 => Err(i8::from_be_bytes(self.be()?) as i64),
            Marker::I16 => Err(i16::from_be_bytes(self.be()?) as i64),
            Marker::I32 => Err(i32::from_be_bytes(self.be()?) as i64),
            Marker::I64 => Err(i64::from_be_bytes(self.be()?)),
            m => return Err(Self::mismatch("integer", m, at)),
        };
        // A signed form may hold a non-negative value.
        let v = match v {
            Err(i) if i >= 0 => Ok(i as u64),
            v => v,
        };
        Ok((v, at))
    }

    /// Reads any integer that fits a `u64`.
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        match self.integer()? {
            (Ok(u), _) => Ok(u),
            (Err(_), at) => Err(DecodeError::OutOfRange(at)),
        }
    }

    /// Reads any integer that fits an `i64`.
    pub fn int(&mut self) -> Result<i64, DecodeError> {
        match self.integer()? {
            (Ok(u), at) => i64::try_from(u).map_err(|_| DecodeError::OutOfRange(at)),
            (Err(i), _) => Ok(i),
        }
    }

    /// Reads a float; integers are accepted too.
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        match self.peek_marker()? {
            Marker::F32 => {
                self.pos += 1;
                Ok(f32::from_be_bytes(self.be()?) as f64)
            }
            Marker::F64 => {
                self.pos += 1;
                Ok(f64::from_be_bytes(self.be()?))
            }
            _ => match self.integer()? {
                (Ok(u), _) => Ok(u as f64),
                (Err(i), _) => Ok(i as f64),
            },
        }
    }

    /// Reads a string, borrowed from the input.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let (m, at) = self.marker()?;
        let len = match m {
            Marker::FixStr(n) => n as usize,
            Marker::Str8 => self.be_len(1)?,
            Marker::Str16 => self.be_len(2)?,
            Marker::Str32 => self.be_len(4)?,
            m => return Err(Self::mismatch("string", m, at)),
        };
        let bytes = self.take(len)?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8(at))
    }

    /// Reads a string into an owned `String`.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        self.str().map(String::from)
    }

    /// Reads a byte string (`bin`), borrowed from the input. A `str` is accepted too,
    /// as msgp does.
    pub fn bin(&mut self) -> Result<&'a [u8], DecodeError> {
        let (m, at) = self.marker()?;
        let len = match m {
            Marker::Bin8 | Marker::Str8 => self.be_len(1)?,
            Marker::Bin16 | Marker::Str16 => self.be_len(2)?,
            Marker::Bin32 | Marker::Str32 => self.be_len(4)?,
            Marker::FixStr(n) => n as usize,
            m => return Err(Self::mismatch("bytes", m, at)),
        };
        self.take(len)
    }

    /// Reads the length of an array; its values follow.
    ///
    /// A length the rest of the input cannot hold (every value takes at least a
    /// byte) is [`DecodeError::UnexpectedEof`], so that a loop over the elements is
    /// bounded by the input's size whatever the length claims.
    pub fn array_len(&mut self) -> Result<usize, DecodeError> {
        let (m, at) = self.marker()?;
        let len = match m {
            Marker::FixArray(n) => n as usize,
            Marker::Array16 => self.be_len(2)?,
            Marker::Array32 => self.be_len(4)?,
            m => return Err(Self::mismatch("array", m, at)),
        };
        self.holding(len, 1)
    }

    /// Reads the length of a map; its key/value pairs follow.
    ///
    /// A length the rest of the input cannot hold (every pair takes at least two
    /// bytes) is [`DecodeError::UnexpectedEof`].
    pub fn map_len(&mut self) -> Result<usize, DecodeError> {
        let (m, at) = self.marker()?;
        let len = match m {
            Marker::FixMap(n) => n as usize,
            Marker::Map16 => self.be_len(2)?,
            Marker::Map32 => self.be_len(4)?,
            m => return Err(Self::mismatch("map", m, at)),
        };
        self.holding(len, 2)
    }

    /// `count`, when the rest of the input can hold that many items of at least
    /// `min_size` bytes each.
    fn holding(&self, count: usize, min_size: usize) -> Result<usize, DecodeError> {
        match count.checked_mul(min_size) {
            Some(bytes) if bytes <= self.remaining() => Ok(count),
            _ => Err(DecodeError::UnexpectedEof(self.input.len())),
        }
    }

    /// Skips one value and returns its raw MessagePack bytes.
    pub fn raw(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        self.skip()?;
        Ok(&self.input[start..self.pos])
    }

    /// Reads any [`Decode`] value.
    pub fn value<T: Decode>(&mut self) -> Result<T, DecodeError> {
        T::decode(self)
    }

    /// Skips one value of any type, nested ones included (up to [`MAX_DEPTH`]).
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        // Values still to skip, counted per nesting level, iteratively.
        let mut pending: [u64; MAX_DEPTH + 1] = [0; MAX_DEPTH + 1];
        let mut depth = 0usize;
        pending[0] = 1;
        loop {
            while pending[depth] == 0 {
                if depth == 0 {
                    return Ok(());
                }
                depth -= 1;
            }
            pending[depth] -= 1;
            let (m, _) = self.marker()?;
            let (data, children): (usize, u64) = match m {
                Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => (0, 0),
                Marker::U8 | Marker::I8 => (1, 0),
                Marker::U16 | Marker::I16 => (2, 0),
                Marker::U32 | Marker::I32 | Marker::F32 => (4, 0),
                Marker::U64 | Marker::I64 | Marker::F64 => (8, 0),
                Marker::FixStr(n) => (n as usize, 0),
                Marker::Str8 | Marker::Bin8 => (self.be_len(1)?, 0),
                Marker::Str16 | Marker::Bin16 => (self.be_len(2)?, 0),
                Marker::Str32 | Marker::Bin32 => (self.be_len(4)?, 0),
                Marker::FixArray(n) => (0, n as u64),
                Marker::Array16 => (0, self.be_len(2)? as u64),
                Marker::Array32 => (0, self.be_len(4)? as u64),
                Marker::FixMap(n) => (0, 2 * n as u64),
                Marker::Map16 => (0, 2 * self.be_len(2)? as u64),
                Marker::Map32 => (0, 2 * self.be_len(4)? as u64),
                Marker::FixExt1 => (2, 0),
                Marker::FixExt2 => (3, 0),
                Marker::FixExt4 => (5, 0),
                Marker::FixExt8 => (9, 0),
                Marker::FixExt16 => (17, 0),
                Marker::Ext8 => (self.be_len(1)? + 1, 0),
                Marker::Ext16 => (self.be_len(2)? + 1, 0),
                // `saturating_add`: on a 32-bit target a length of 2³² − 1 plus its type
                // byte overflows `usize`; saturated, it is simply more than the input holds.
                Marker::Ext32 => (self.be_len(4)?.saturating_add(1), 0),
                Marker::Reserved => {
                    return Err(Self::mismatch("a value", m, self.pos - 1));
                }
            };
            self.take(data)?;
            if children > 0 {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
                pending[depth] = children;
            }
        }
    }

    /// Reads a struct written either as a map keyed by field name (the msgp form) or as
    /// an array of field values in declaration order.
    ///
    /// `on_field` is called once per field present, with the index of its name in
    /// `names` (or `None` for a key it does not know, whose value it should
    /// [`skip`](Self::skip)); it must consume exactly that field's value.
    pub fn fields(
        &mut self,
        names: &[&str],
        mut on_field: impl FnMut(&mut Self, Option<usize>) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        match self.peek_marker()? {
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                let len = self.array_len()?;
                for i in 0..len {
                    on_field(self, (i < names.len()).then_some(i))?;
                }
            }
            _ => {
                let len = self.map_len()?;
                for _ in 0..len {
                    let key = self.bin()?;
                    let index = names.iter().position(|n| n.as_bytes() == key);
                    on_field(self, index)?;
                }
            }
        }
        Ok(())
    }
}

macro_rules! uints {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
                e.uint(*self as u64)
            }
        }
        impl Decode for $t {
            fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
                let at = d.position();
                <$t>::try_from(d.uint()?).map_err(|_| DecodeError::OutOfRange(at))
            }
        }
    )*};
}
uints!(u8, u16, u32, u64, usize);

macro_rules! ints {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
                e.int(*self as i64)
            }
        }
        impl Decode for $t {
            fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
                let at = d.position();
                <$t>::try_from(d.int()?).map_err(|_| DecodeError::OutOfRange(at))
            }
        }
    )*};
}
ints!(i8, i16, i32, i64, isize);

impl Encode for bool {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.bool(*self)
    }
}
impl Decode for bool {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.bool()
    }
}

impl Encode for f64 {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.f64(*self)
    }
}
impl Decode for f64 {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.f64()
    }
}

impl Encode for f32 {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.f32(*self)
    }
}
impl Decode for f32 {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.f64().map(|v| v as f32)
    }
}

impl Encode for str {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.str(self)
    }
}
impl Encode for String {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.str(self)
    }
}
impl Decode for String {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.string()
    }
}

impl Encode for [u8] {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.bin(self)
    }
}
impl Encode for Vec<u8> {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.bin(self)
    }
}
impl Decode for Vec<u8> {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.bin().map(<[u8]>::to_vec)
    }
}

impl Encode for () {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.nil()
    }
}
impl Decode for () {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.nil()
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        match self {
            Some(v) => v.encode(e),
            None => e.nil(),
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        if d.is_nil() {
            d.nil()?;
            Ok(None)
        } else {
            T::decode(d).map(Some)
        }
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        (**self).encode(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn integers_take_their_smallest_form_and_round_trip() {
        let cases: &[(i64, &[u8])] = &[
            (5, b"\x05"),
            (-1, b"\xff"),
            (200, b"\xcc\xc8"),
            (-200, b"\xd1\xff\x38"),
            (70000, b"\xce\x00\x01\x11\x70"),
        ];
        for &(v, bytes) in cases {
            assert_eq!(to_vec(&v).unwrap(), bytes, "{v}");
            assert_eq!(from_slice::<i64>(bytes).unwrap(), v);
        }
        assert_eq!(from_slice::<u8>(b"\xcd\x01\x00"), Err(DecodeError::OutOfRange(0)));
        assert_eq!(from_slice::<u32>(b"\xff"), Err(DecodeError::OutOfRange(0)));
    }

    #[test]
    fn bytes_are_bin_and_strings_str() {
        assert_eq!(to_vec(&vec![1u8, 2]).unwrap(), b"\xc4\x02\x01\x02");
        assert_eq!(to_vec("hi").unwrap(), b"\xa2hi");
        assert_eq!(from_slice::<Vec<u8>>(b"\xc4\x02\x01\x02").unwrap(), [1, 2]);
        assert_eq!(from_slice::<String>(b"\xa2\xff\xfe"), Err(DecodeError::InvalidUtf8(0)));
    }

    #[test]
    fn truncated_and_trailing_input_are_errors() {
        assert_eq!(from_slice::<String>(b"\xa5ab"), Err(DecodeError::UnexpectedEof(1)));
        assert_eq!(from_slice::<u32>(b"\xce\x00"), Err(DecodeError::UnexpectedEof(1)));
        assert_eq!(from_slice::<u32>(b"\x01\x02"), Err(DecodeError::TrailingBytes(1)));
        assert_eq!(from_slice::<u32>(b""), Err(DecodeError::UnexpectedEof(0)));
        // A length that claims 4 GiB is refused without allocating it.
        assert_eq!(from_slice::<Vec<u8>>(b"\xc6\xff\xff\xff\xff"), Err(DecodeError::UnexpectedEof(5)));
        // So is an ext 32 of 2³² − 1 bytes, whose length plus its type byte overflows a
        // 32-bit `usize` (firmware targets).
        assert_eq!(Decoder::new(b"\xc9\xff\xff\xff\xff\x01").skip(), Err(DecodeError::UnexpectedEof(5)));
    }

    #[test]
    fn skip_walks_nested_values_and_refuses_deep_nesting() {
        let nested = b"\x82\xa1a\x92\x01\xc4\x01\x00\xa1b\x81\xa1c\xcb\x00\x00\x00\x00\x00\x00\x00\x00\x07";
        let mut d = Decoder::new(nested);
        d.skip().unwrap();
        assert_eq!(d.uint().unwrap(), 7);
        let deep = [0x91u8; 1000];
        assert_eq!(Decoder::new(&deep).skip(), Err(DecodeError::TooDeep));
        // Exactly MAX_DEPTH levels are fine; one more is too deep.
        let mut nested = vec![0x91u8; MAX_DEPTH];
        nested.push(0x07);
        Decoder::new(&nested).skip().unwrap();
        nested.insert(0, 0x91);
        assert_eq!(Decoder::new(&nested).skip(), Err(DecodeError::TooDeep));
        assert_eq!(
            Decoder::new(b"\xc1").skip().unwrap_err().to_string(),
            "expected a value at offset 0, found marker 0xc1"
        );
    }

    #[test]
    fn lengths_the_input_cannot_hold_are_refused() {
        // An array and a map of 2^32 - 1 items in five bytes: a `fields` callback that
        // consumes nothing must not be called four billion times.
        for bytes in
            [&[0xdd, 0xff, 0xff, 0xff, 0xff][..], &[0xdf, 0xff, 0xff, 0xff, 0xff], &[0xdc, 0x00, 0x03, 0xc0, 0xc0]]
        {
            let mut calls = 0;
            let err = Decoder::new(bytes).fields(&["a"], |_, _| {
                calls += 1;
                Ok(())
            });
            assert_eq!(err, Err(DecodeError::UnexpectedEof(bytes.len())), "{bytes:02x?}");
            assert_eq!(calls, 0);
        }
        // A map of 2 pairs needs at least 4 bytes after its header.
        assert!(Decoder::new(&[0x82, 0xc0, 0xc0, 0xc0]).map_len().is_err());
        assert_eq!(Decoder::new(&[0x82, 0xc0, 0xc0, 0xc0, 0xc0]).map_len(), Ok(2));
        assert_eq!(Decoder::new(&[0x92, 0xc0, 0xc0]).array_len(), Ok(2));
        assert_eq!(Decoder::new(&[0x90]).array_len(), Ok(0));
    }

    #[test]
    fn fields_read_map_and_array_forms() {
        fn read(bytes: &[u8]) -> (Option<String>, Option<u64>) {
            let mut d = Decoder::new(bytes);
            let (mut a, mut b) = (None, None);
            d.fields(&["a", "b"], |d, f| {
                match f {
                    Some(0) => a = Some(d.string()?),
                    Some(1) => b = Some(d.uint()?),
                    _ => d.skip()?,
                }
                Ok(())
            })
            .unwrap();
            (a, b)
        }
        let want = (Some("x".into()), Some(3));
        assert_eq!(read(b"\x83\xa1b\x03\xa1z\x90\xa1a\xa1x"), want);
        assert_eq!(read(b"\x92\xa1x\x03"), want);
    }
}
