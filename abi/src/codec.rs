//! MessagePack encoding and decoding for typed payloads, wire-compatible with Go's
//! `tinylib/msgp`.
//!
//! A type takes part in typed calls by implementing [`Encode`] (what it sends) and
//! [`Decode`] (what it receives). Derive them:
//!
//! ```
//! use hookr_abi::codec::{self, Decode, Encode};
//!
//! #[derive(Debug, PartialEq, Encode, Decode)]
//! struct Reading {
//!     sensor: String,
//!     celsius: f64,
//!     #[codec(rename = "raw_bytes")]
//!     raw: Vec<u8>,
//!     offset: Option<i16>,
//! }
//!
//! let r = Reading { sensor: "t1".into(), celsius: 21.5, raw: vec![1, 2], offset: None };
//! let bytes = codec::to_vec(&r).unwrap();
//! assert_eq!(&bytes[..8], b"\x84\xa6sensor"); // a map of 4 entries, keyed by name
//! assert_eq!(codec::from_slice::<Reading>(&bytes).unwrap(), r);
//! ```
//!
//! In a plugin the derives come from `hookr_guest::{Encode, Decode}`, in a host from
//! `hookr::codec::{Encode, Decode}`: each re-export writes paths into its own crate,
//! so a crate needs no dependency beyond the one it names. The same type definition
//! compiles for a plugin (`wasm32-unknown-unknown`), a `no_std` host and a `std` one.
//!
//! # The layout
//!
//! As msgp writes Go values, so that Go and Rust plugins and hosts interoperate:
//!
//! | Rust | MessagePack |
//! |---|---|
//! | struct with named fields | map keyed by field name, fields in declaration order |
//! | `Option<T>` | `T`, or nil for `None` |
//! | `Vec<u8>`, `[u8]` | bin (Go's `[]byte`) |
//! | `Vec<T>`, `[T]` | array |
//! | `String`, `str` | str |
//! | `heapless::String<N>` | str of at most `N` bytes (feature `heapless`) |
//! | `heapless::Vec<u8, N>`, `heapless::Vec<T, N>` | bin, array, of at most `N` (feature `heapless`) |
//! | integers | their smallest form; floats as float 32 or 64 |
//! | tuple struct | array of its fields |
//! | newtype struct `S(T)` | `T` alone |
//! | unit struct, `struct S {}` | empty map (Go's `struct{}`) |
//! | unit variant `E::A` | the string `"A"` |
//! | newtype variant `E::B(T)` | `{"B": T}` |
//! | tuple variant `E::C(T, U)` | `{"C": [T, U]}` |
//! | struct variant `E::D { x: T }` | `{"D": {"x": T}}` |
//!
//! Enums follow the layout serde gives them (externally tagged), which is also what
//! `hookr::Serde` writes for a serde enum.
//!
//! Decoding accepts a struct as a map or as an array of its fields in declaration
//! order, skips fields it does not know, keeps the last value of a field given twice,
//! reads a byte field from a str too, and fails with [`DecodeError::MissingField`] when
//! a field is missing, except a field marked `default` and a field whose type says what
//! a missing one is ([`Decode::missing`]: `None` for an `Option`, under whatever name).
//! A tuple struct or variant reads a shorter array when the fields it leaves out are
//! all marked `default`.
//!
//! # Attributes
//!
//! All under `#[codec(...)]`:
//!
//! - `rename = "name"` on a field or variant: its name on the wire (msgp's
//!   `msg:"name"` tag).
//! - `rename_all = "..."` on a struct (its fields), an enum (its variants) or a
//!   struct variant (its fields): the style of the names not renamed one by one, one
//!   of `lowercase`, `UPPERCASE`, `PascalCase` (Go's exported names, which msgp uses
//!   for fields without a tag), `camelCase`, `snake_case`, `SCREAMING_SNAKE_CASE`,
//!   `kebab-case`, `SCREAMING-KEBAB-CASE`. Names follow serde's `rename_all` of the
//!   same name, fields (snake_case in Rust) and variants (PascalCase) each by serde's
//!   own rules, so a type shared with a serde peer has the same names: `my_field` in
//!   `UPPERCASE` is `MY_FIELD`, `HTTPServer` in `snake_case` is `h_t_t_p_server`.
//! - `default` on a field: missing is `Default::default()` rather than an error. In a
//!   tuple struct or variant only trailing fields can be missing, so every field after
//!   one marked `default` must be marked too; a newtype's field cannot be.
//! - `skip` on a field: neither written nor read; decoding fills it with
//!   `Default::default()`.
//! - `crate = "path::to::codec"` on the type: the codec module the generated code
//!   names, for a crate that renamed its dependency.
//!
//! Generic parameters get an `Encode` (or `Decode`) bound. Unions are refused, and so
//! are unknown attributes:
//!
//! ```compile_fail
//! use hookr_abi::codec::Encode;
//!
//! #[derive(Encode)]
//! struct Typo {
//!     #[codec(renamed = "x")]
//!     field: u8,
//! }
//! ```
//!
//! # By hand
//!
//! For a layout the derives do not write, implement the traits with [`Encoder`] and
//! [`Decoder`]; [`Decoder::fields`] reads a struct in either form:
//!
//! ```
//! use hookr_abi::codec::{Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};
//!
//! /// `{"celsius": f}`, sent as tenths of a degree.
//! struct Celsius(i32);
//!
//! impl Encode for Celsius {
//!     fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
//!         e.map_len(1)?;
//!         e.str("celsius")?;
//!         e.f64(f64::from(self.0) / 10.0)
//!     }
//! }
//!
//! impl Decode for Celsius {
//!     fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
//!         let mut celsius = None;
//!         d.fields(&["celsius"], |d, field| {
//!             match field {
//!                 Some(0) => celsius = Some(d.f64()?),
//!                 _ => d.skip()?,
//!             }
//!             Ok(())
//!         })?;
//!         let celsius = celsius.ok_or(DecodeError::MissingField("celsius"))?;
//!         Ok(Celsius((celsius * 10.0).round() as i32))
//!     }
//! }
//! # let bytes = hookr_abi::codec::to_vec(&Celsius(215)).unwrap();
//! # assert_eq!(hookr_abi::codec::from_slice::<Celsius>(&bytes).unwrap().0, 215);
//! ```
//!
//! Decoding borrows strings and byte strings straight from the input, so a decoder
//! allocates only what the decoded value owns: a type whose strings and vectors are
//! `heapless` ones decodes without allocating at all, and a value longer than such a
//! field's capacity is [`DecodeError::TooLong`], never cut. The common forms (small maps, short
//! strings, ASCII) are read inline and everything else out of line: a plugin runs the
//! codec in an interpreter that pays for every instruction.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rmp::Marker;

/// `#[derive(Encode)]` and `#[derive(Decode)]`, from `hookr-derive`: the impls for
/// structs and enums, laid out as msgp lays them out (see the module docs).
#[cfg(feature = "derive")]
pub use hookr_derive::{Decode, Encode};

/// The deepest nesting of arrays and maps [`Decoder::skip`] follows, and of the values
/// that can hold their own type (`Vec`s and `Box`es, through [`Decoder::nested`]) a
/// decode follows by default, before it gives up: a hostile payload cannot exhaust the
/// stack with a type that holds itself.
///
/// The stack a decode takes is this many levels times the frames of one level, which
/// grow with what a type holds inline: a recursive type with a large inline field (a
/// `heapless::Vec<u8, 8192>` beside its `Option<Box<Self>>`), or a thread or device
/// with a small stack, wants fewer levels: [`Decoder::with_max_depth`]. Outside
/// WebAssembly a decoder also measures the stack itself ([`DEFAULT_MAX_STACK`]).
pub const MAX_DEPTH: usize = 64;

/// The most native stack, in bytes, that the nested values of one decode may take by
/// default ([`Decoder::with_max_stack`]): 256 KiB, a small part of a thread's usual
/// stack. Past it a decode fails with [`DecodeError::TooMuchStack`], whatever the
/// depth, so that a recursive type with large inline fields cannot exhaust the stack.
///
/// It is measured where each nested value begins, so a decode can pass it by the
/// frames of about one level, which grow with what a type holds inline (a level of a
/// type with a 30 KB array inline can take over 100 KB of a debug build's stack):
/// leave that much room beyond it, or box large fields.
///
/// WebAssembly guests do not measure their stack: there an overflow traps, which the
/// host contains, and every instruction costs the interpreter.
pub const DEFAULT_MAX_STACK: usize = 256 * 1024;

/// The most memory, in bytes, that the `Vec` elements and `Box`es of one decode may
/// take by default ([`Decoder::with_max_memory`]): 64 MiB. An element can take far
/// more memory than its bytes on the wire (an empty map, one byte, decodes into a
/// struct that holds a `heapless::Vec<u8, 4096>` inline), so the input's size alone
/// does not bound it. Past it a decode fails with [`DecodeError::TooMuchMemory`].
/// Strings and byte strings are not counted: they take what they take on the wire.
/// It counts the elements' size; a `Vec` that grows as it decodes may have reserved
/// up to twice that. A decoder counts over its whole life, every value it decodes.
///
/// WebAssembly guests do not count: their memory is bounded by their host.
pub const DEFAULT_MAX_MEMORY: usize = 64 << 20;

/// A value that can be written as MessagePack.
///
/// `#[derive(Encode)]` writes the impl for a struct or enum (see the [module
/// docs](self)); implement it by hand with the methods of [`Encoder`].
pub trait Encode {
    /// Writes `self` to `e`.
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError>;

    /// Writes a slice of values: an array of them, except for `u8`, whose slices are
    /// byte strings (`bin`), as Go's `[]byte` is. What `[T]` and `Vec<T>` call; an
    /// impl has no reason to override it.
    #[doc(hidden)]
    fn encode_slice(items: &[Self], e: &mut Encoder<'_>) -> Result<(), EncodeError>
    where
        Self: Sized,
    {
        e.array_len(items.len())?;
        for item in items {
            item.encode(e)?;
        }
        Ok(())
    }
}

/// A value that can be read from MessagePack.
///
/// `#[derive(Decode)]` writes the impl for a struct or enum (see the [module
/// docs](self)); implement it by hand with the methods of [`Decoder`].
pub trait Decode: Sized {
    /// Reads one value from `d`.
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError>;

    /// The value of a struct field of this type that the input leaves out, or `None`
    /// when such a field is required: [`DecodeError::MissingField`]. `None` by default;
    /// `Option<T>` answers `Some(None)`, so a missing optional field reads as `None`,
    /// as msgp and serde read it, whatever the field's type is called (an alias of
    /// `Option` too). The derived `Decode` asks it for every field left out.
    fn missing() -> Option<Self> {
        None
    }

    /// Reads a vector of values: an array of them, except for `u8`, whose vectors are
    /// byte strings (`bin`). What `Vec<T>` calls; an impl has no reason to override it.
    #[doc(hidden)]
    fn decode_vec(d: &mut Decoder<'_>) -> Result<Vec<Self>, DecodeError> {
        let len = d.array_len()?;
        d.nested(|d| {
            // Grows as values decode: `len` is the sender's claim, bounded only by the
            // size of the input, and a value may be much larger in memory than on the wire.
            let mut items = Vec::with_capacity(len.min(16));
            for _ in 0..len {
                d.take_memory(core::mem::size_of::<Self>())?;
                items.push(Self::decode(d)?);
            }
            Ok(items)
        })
    }

    /// Reads at most `N` values into a fixed-capacity vector: an array of them, except
    /// for `u8`, whose vectors are byte strings. A longer value is
    /// [`DecodeError::TooLong`], read no further. What `heapless::Vec<T, N>` calls; an
    /// impl has no reason to override it.
    #[cfg(feature = "heapless")]
    #[doc(hidden)]
    fn decode_heapless<const N: usize>(d: &mut Decoder<'_>) -> Result<heapless::Vec<Self, N>, DecodeError> {
        let offset = d.position();
        let len = d.array_len()?;
        if len > N {
            return Err(DecodeError::TooLong { offset, len, capacity: N });
        }
        let mut items = heapless::Vec::new();
        for _ in 0..len {
            // Cannot fail: `len` values fit.
            let _ = items.push(Self::decode(d)?);
        }
        Ok(items)
    }
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

/// Decodes one value that must span all of `bytes`, within the default bounds
/// ([`MAX_DEPTH`], [`DEFAULT_MAX_STACK`], [`DEFAULT_MAX_MEMORY`]).
pub fn from_slice<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    from_decoder(Decoder::new(bytes))
}

/// Decodes one value that must span all of the decoder's input: [`from_slice`] with a
/// decoder of other bounds.
///
/// ```
/// use hookr_abi::codec::{from_decoder, Decoder};
/// let strings = [0x92, 0xa0, 0xa0];
/// let two: Vec<String> = from_decoder(Decoder::new(&strings).with_max_memory(1 << 10)).unwrap();
/// assert_eq!(two.len(), 2);
/// ```
pub fn from_decoder<T: Decode>(mut d: Decoder<'_>) -> Result<T, DecodeError> {
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
    /// Nested values would take more than this many bytes of stack
    /// ([`Decoder::with_max_stack`]). Not in WebAssembly, whose decoders do not
    /// measure their stack.
    #[cfg(not(target_family = "wasm"))]
    TooMuchStack(usize),
    /// `Vec` elements and `Box`es would take more than this many bytes of memory
    /// ([`Decoder::with_max_memory`]). Not in WebAssembly, whose decoders do not
    /// count.
    #[cfg(not(target_family = "wasm"))]
    TooMuchMemory(usize),
    /// A string, byte string or array is longer than the fixed capacity of the value
    /// it decodes into (a `heapless::String<N>` or `heapless::Vec<T, N>`): refused
    /// whole, never cut.
    TooLong {
        /// Where the value starts.
        offset: usize,
        /// Its length: bytes of a string or byte string, values of an array.
        len: usize,
        /// The capacity it does not fit.
        capacity: usize,
    },
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
            #[cfg(not(target_family = "wasm"))]
            DecodeError::TooMuchStack(limit) => {
                write!(f, "values nest deeper than {limit} bytes of stack allow")
            }
            #[cfg(not(target_family = "wasm"))]
            DecodeError::TooMuchMemory(limit) => {
                write!(f, "the values would take more than {limit} bytes of memory")
            }
            DecodeError::TooLong { offset, len, capacity } => {
                write!(f, "value at offset {offset} has length {len}, more than its capacity of {capacity}")
            }
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

// Every method writes its MessagePack bytes with one `push` or one
// `extend_from_slice`: a plugin runs in an interpreter that pays for each
// instruction, so the forms are picked inline rather than through `rmp`'s generic
// writers. The forms are `rmp`'s (and msgp's): the smallest that holds the value.
impl<'a> Encoder<'a> {
    /// An encoder that appends to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Encoder { out }
    }

    /// Writes `nil`.
    #[inline]
    pub fn nil(&mut self) -> Result<(), EncodeError> {
        self.out.push(0xc0);
        Ok(())
    }

    /// Writes a boolean.
    #[inline]
    pub fn bool(&mut self, v: bool) -> Result<(), EncodeError> {
        self.out.push(0xc2 | v as u8);
        Ok(())
    }

    /// Writes an unsigned integer in its smallest form.
    pub fn uint(&mut self, v: u64) -> Result<(), EncodeError> {
        if v < 0x80 {
            self.out.push(v as u8);
        } else {
            let marker = match v {
                0..=0xff => 0xcc,
                0x100..=0xffff => 0xcd,
                0x1_0000..=0xffff_ffff => 0xce,
                _ => 0xcf,
            };
            self.wide(marker, v);
        }
        Ok(())
    }

    /// Writes a signed integer in its smallest form (a non-negative one as unsigned).
    pub fn int(&mut self, v: i64) -> Result<(), EncodeError> {
        if v >= 0 {
            return self.uint(v as u64);
        }
        if v >= -32 {
            self.out.push(v as u8);
        } else {
            let marker = match v {
                -0x80..=-1 => 0xd0,
                -0x8000..=-1 => 0xd1,
                -0x8000_0000..=-1 => 0xd2,
                _ => 0xd3,
            };
            // The low bytes of the two's complement are the value's.
            self.wide(marker, v as u64);
        }
        Ok(())
    }

    /// Writes an integer `marker` (0xcc..=0xd3) and the low `1 << (marker & 3)` bytes
    /// of `v`, big-endian: one body for the eight forms, where one each came to over
    /// half a kilobyte of code in a plugin.
    fn wide(&mut self, marker: u8, v: u64) {
        let width = 1usize << (marker & 3);
        let bytes = v.to_be_bytes();
        self.out.push(marker);
        self.out.extend_from_slice(bytes.get(8 - width..).unwrap_or(&bytes));
    }

    /// Writes a 32-bit float.
    pub fn f32(&mut self, v: f32) -> Result<(), EncodeError> {
        let [a, b, c, d] = v.to_be_bytes();
        self.out.extend_from_slice(&[0xca, a, b, c, d]);
        Ok(())
    }

    /// Writes a 64-bit float.
    pub fn f64(&mut self, v: f64) -> Result<(), EncodeError> {
        let [a, b, c, d, e, f, g, h] = v.to_be_bytes();
        self.out.extend_from_slice(&[0xcb, a, b, c, d, e, f, g, h]);
        Ok(())
    }

    /// Writes a UTF-8 string.
    #[inline]
    pub fn str(&mut self, v: &str) -> Result<(), EncodeError> {
        if v.len() < 32 {
            self.out.push(0xa0 | v.len() as u8);
        } else {
            self.header(v.len(), 0xa0, 32, 0xd9, 0xda)?;
        }
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    /// Writes a byte string (`bin`).
    pub fn bin(&mut self, v: &[u8]) -> Result<(), EncodeError> {
        self.header(v.len(), 0, 0, 0xc4, 0xc5)?;
        self.out.extend_from_slice(v);
        Ok(())
    }

    /// Starts an array of `len` values; write them next.
    pub fn array_len(&mut self, len: usize) -> Result<(), EncodeError> {
        self.header(len, 0x90, 16, 0, 0xdc)
    }

    /// Starts a map of `len` key/value pairs; write key, value, key, value… next.
    pub fn map_len(&mut self, len: usize) -> Result<(), EncodeError> {
        self.header(len, 0x80, 16, 0, 0xde)
    }

    /// The header of a string, byte string, array or map of `len` items: `fix | len`
    /// below `fix_limit`; else `m8` and one byte of length (for the types that have
    /// that form: `m8` is not 0), `m16` and two bytes, or `m16 + 1` and four bytes.
    fn header(&mut self, len: usize, fix: u8, fix_limit: usize, m8: u8, m16: u8) -> Result<(), EncodeError> {
        if len < fix_limit {
            self.out.push(fix | len as u8);
        } else if m8 != 0 && len <= u8::MAX as usize {
            self.out.extend_from_slice(&[m8, len as u8]);
        } else if len <= u16::MAX as usize {
            let [a, b] = (len as u16).to_be_bytes();
            self.out.extend_from_slice(&[m16, a, b]);
        } else {
            let [a, b, c, d] = len32(len)?.to_be_bytes();
            self.out.extend_from_slice(&[m16 + 1, a, b, c, d]);
        }
        Ok(())
    }

    /// Writes any [`Encode`] value.
    #[inline]
    pub fn value<T: Encode + ?Sized>(&mut self, v: &T) -> Result<(), EncodeError> {
        v.encode(self)
    }

    /// Writes raw bytes that already are MessagePack.
    #[inline]
    pub fn raw(&mut self, msgpack: &[u8]) {
        self.out.extend_from_slice(msgpack);
    }

    /// The buffer being written, for encoders that write MessagePack themselves.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }
}

/// `bytes` as a `str` if they are UTF-8. ASCII, the common case for keys and most
/// text, is checked eight bytes at a time; [`utf8_prefix`] takes the rest. An
/// interpreted plugin pays for every instruction of a check on every string it decodes.
#[inline(always)]
fn utf8(bytes: &[u8]) -> Option<&str> {
    if is_ascii(bytes) || not_ascii(bytes) {
        // SAFETY: ASCII is UTF-8, and `not_ascii` checked the rest.
        Some(unsafe { core::str::from_utf8_unchecked(bytes) })
    } else {
        None
    }
}

#[inline(never)]
fn not_ascii(bytes: &[u8]) -> bool {
    // `core::str::from_utf8` is quicker natively and 700 bytes of code in a plugin.
    if cfg!(target_arch = "wasm32") {
        utf8_prefix(bytes).0 == bytes.len()
    } else {
        core::str::from_utf8(bytes).is_ok()
    }
}

/// How much of `bytes` is UTF-8: the length of the longest valid prefix, and how many
/// bytes after it form an invalid sequence (`None` when the input ends inside a
/// sequence, or is all valid): what `core::str::Utf8Error` reports as `valid_up_to`
/// and `error_len`. A byte at a time, in a few hundred bytes of code, for plugins
/// (the guest kit uses it too); `core::str::from_utf8` is faster natively.
#[doc(hidden)]
pub fn utf8_prefix(b: &[u8]) -> (usize, Option<usize>) {
    let mut i = 0;
    while let Some(&lead) = b.get(i) {
        if lead < 0x80 {
            i += 1;
            continue;
        }
        // How many continuation bytes follow the lead byte, and the range of the first
        // (narrower after E0, ED, F0 and F4: no overlong forms, no surrogates, nothing
        // past U+10FFFF); the others are 80..=BF.
        let (more, lo, hi) = match lead {
            0xc2..=0xdf => (1, 0x80, 0xbf),
            0xe0 => (2, 0xa0, 0xbf),
            0xed => (2, 0x80, 0x9f),
            0xe1..=0xef => (2, 0x80, 0xbf),
            0xf0 => (3, 0x90, 0xbf),
            0xf1..=0xf3 => (3, 0x80, 0xbf),
            0xf4 => (3, 0x80, 0x8f),
            _ => return (i, Some(1)),
        };
        for k in 1..=more {
            let (lo, hi) = if k == 1 { (lo, hi) } else { (0x80, 0xbf) };
            match b.get(i + k) {
                None => return (i, None),
                Some(&c) if c < lo || c > hi => return (i, Some(k)),
                Some(_) => {}
            }
        }
        i += 1 + more;
    }
    (i, None)
}

/// Whether every byte of `b` is below 0x80, read a word at a time (the last word read
/// may overlap the one before it).
#[inline(always)]
fn is_ascii(b: &[u8]) -> bool {
    let n = b.len();
    if n >= 8 {
        let mut acc = u64::from_le_bytes(chunk(b, n - 8));
        let mut i = 0;
        while i + 8 < n {
            acc |= u64::from_le_bytes(chunk(b, i));
            i += 8;
        }
        acc & 0x8080_8080_8080_8080 == 0
    } else if n >= 4 {
        (u32::from_le_bytes(chunk(b, 0)) | u32::from_le_bytes(chunk(b, n - 4))) & 0x8080_8080 == 0
    } else {
        b.iter().fold(0, |acc, &x| acc | x) < 0x80
    }
}

/// The `N` bytes of `b` at `at`, which the caller knows are there (else bytes that
/// are not ASCII). A fixed-size load, where indexing would bring a panic path.
#[inline(always)]
fn chunk<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b.get(at..at.wrapping_add(N)).and_then(|s| s.try_into().ok()).unwrap_or([0x80; N])
}

/// Whether `key` is `name`, a word at a time: inlined with a constant `name`, as the
/// derived decoders call it, a length check and a load per four bytes.
#[doc(hidden)]
#[inline(always)]
pub fn __key_is(key: &[u8], name: &[u8]) -> bool {
    let n = name.len();
    if key.len() != n {
        return false;
    }
    let mut i = 0;
    while i + 4 <= n {
        if chunk::<4>(key, i) != chunk::<4>(name, i) {
            return false;
        }
        i += 4;
    }
    while i < n {
        if key.get(i) != name.get(i) {
            return false;
        }
        i += 1;
    }
    true
}

/// Where `key` is in `names`.
#[inline(never)]
fn position(names: &[&str], key: &[u8]) -> Option<usize> {
    names.iter().position(|name| same(key, name.as_bytes()))
}

/// `a == b`, compared four bytes at a time: comparing slices calls `memcmp`, a byte
/// loop on wasm32 that costs an interpreted plugin a dozen instructions a byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 4 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut i = 0;
    loop {
        // The last word may overlap the one before it.
        let at = if i + 4 > n { n - 4 } else { i };
        if chunk::<4>(a, at) != chunk::<4>(b, at) {
            return false;
        }
        i += 4;
        if i >= n {
            return true;
        }
    }
}

/// Reads MessagePack values from a byte slice, borrowing strings and byte strings.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    /// How many more [`nested`](Decoder::nested) values the decode may go inside.
    depth_left: usize,
    #[cfg(not(target_family = "wasm"))]
    guard: Guard,
}

/// What a decoder outside WebAssembly measures: the stack its nested values take
/// and the memory of the `Vec` elements and `Box`es it makes.
#[cfg(not(target_family = "wasm"))]
#[derive(Debug, Clone)]
struct Guard {
    /// The address of the outermost nested value's frame, while one is decoding.
    stack_base: Option<usize>,
    max_stack: usize,
    max_memory: usize,
    memory_used: usize,
}

// The shape of each value whose marker is 0xc0..=0xff, for `Decoder::skip_one`: the
// kind in the top three bits, a size in the low five. FIXED: that many bytes of data.
// SIZED: a big-endian length of that many bytes, then that much data; EXT: the same
// plus a type byte. ARRAY, MAP: a length of that many bytes, then that many values or
// pairs. BAD: 0xc1, the one marker MessagePack leaves unused.
const FIXED: u8 = 0;
const SIZED: u8 = 1;
const EXT: u8 = 2;
const ARRAY: u8 = 3;
const MAP: u8 = 4;
const BAD: u8 = 5;
const SHAPES: [u8; 64] = {
    const fn s(kind: u8, n: u8) -> u8 {
        kind << 5 | n
    }
    let mut t = [s(FIXED, 0); 64];
    // 0xc0 nil, 0xc2 false, 0xc3 true: no data.
    t[0x01] = s(BAD, 0);
    t[0x04] = s(SIZED, 1); // bin 8, 16, 32
    t[0x05] = s(SIZED, 2);
    t[0x06] = s(SIZED, 4);
    t[0x07] = s(EXT, 1); // ext 8, 16, 32
    t[0x08] = s(EXT, 2);
    t[0x09] = s(EXT, 4);
    t[0x0a] = s(FIXED, 4); // float 32, 64
    t[0x0b] = s(FIXED, 8);
    t[0x0c] = s(FIXED, 1); // uint 8, 16, 32, 64
    t[0x0d] = s(FIXED, 2);
    t[0x0e] = s(FIXED, 4);
    t[0x0f] = s(FIXED, 8);
    t[0x10] = s(FIXED, 1); // int 8, 16, 32, 64
    t[0x11] = s(FIXED, 2);
    t[0x12] = s(FIXED, 4);
    t[0x13] = s(FIXED, 8);
    t[0x14] = s(FIXED, 2); // fixext 1, 2, 4, 8, 16: a type byte and the data
    t[0x15] = s(FIXED, 3);
    t[0x16] = s(FIXED, 5);
    t[0x17] = s(FIXED, 9);
    t[0x18] = s(FIXED, 17);
    t[0x19] = s(SIZED, 1); // str 8, 16, 32
    t[0x1a] = s(SIZED, 2);
    t[0x1b] = s(SIZED, 4);
    t[0x1c] = s(ARRAY, 2); // array 16, 32
    t[0x1d] = s(ARRAY, 4);
    t[0x1e] = s(MAP, 2); // map 16, 32
    t[0x1f] = s(MAP, 4);
    // 0xe0..=0xff, negative fixints, are handled before the table is read.
    t
};

/// What a length header announces; see [`Decoder::header`].
#[derive(Clone, Copy)]
#[repr(u8)]
enum Kind {
    Str,
    /// A byte string, or a string (msgp reads `[]byte` from either).
    Bytes,
    Array,
    Map,
}

// Per `Kind`: the fix form (`marker & FIX_MASK == FIX`, its length in the other
// bits), the first marker of its longer forms and their shape in `SHAPES`, its name.
const FIX_MASK: [u8; 4] = [0xe0, 0xe0, 0xf0, 0xf0];
const FIX: [u8; 4] = [0xa0, 0xa0, 0x90, 0x80];
const LONG_FROM: [u8; 4] = [0xd9, 0xc4, 0xdc, 0xde];
const LONG_SHAPE: [u8; 4] = [SIZED, SIZED, ARRAY, MAP];
const KIND_NAME: [&str; 4] = ["string", "bytes", "array", "map"];

// The methods a typed call goes through on every field (`struct_len`, `key`, `str`)
// take the common forms (fixmap, fixstr, ASCII) inline, in a few instructions, and
// leave every other form and every error to out-of-line functions: a plugin's decoder
// runs in an interpreter, which pays for each instruction and even more for each call.
impl<'a> Decoder<'a> {
    /// A decoder at the start of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Decoder {
            input,
            pos: 0,
            depth_left: MAX_DEPTH,
            #[cfg(not(target_family = "wasm"))]
            guard: Guard {
                stack_base: None,
                max_stack: DEFAULT_MAX_STACK,
                max_memory: DEFAULT_MAX_MEMORY,
                memory_used: 0,
            },
        }
    }

    /// This decoder, letting the nested values of a decode take at most `bytes` of
    /// native stack instead of [`DEFAULT_MAX_STACK`], measured from where the
    /// outermost one begins to where each begins: past it the decode fails with
    /// [`DecodeError::TooMuchStack`]. A thread or device with a small stack wants
    /// less, with room for one level's frames beyond it (see [`DEFAULT_MAX_STACK`]).
    /// Does nothing in WebAssembly.
    ///
    /// ```
    /// use hookr_abi::codec::{Decode, DecodeError, Decoder};
    /// // A type that holds itself, 20 levels deep.
    /// #[derive(Debug, Decode)]
    /// struct Node {
    ///     #[codec(default)]
    ///     next: Vec<Node>,
    /// }
    /// let mut deep = Vec::new();
    /// for _ in 0..20 {
    ///     deep.extend_from_slice(b"\x81\xa4next\x91");
    /// }
    /// deep.push(0x80);
    /// assert!(Node::decode(&mut Decoder::new(&deep)).is_ok());
    /// # #[cfg(not(target_family = "wasm"))]
    /// assert_eq!(
    ///     Node::decode(&mut Decoder::new(&deep).with_max_stack(64)).unwrap_err(),
    ///     DecodeError::TooMuchStack(64)
    /// );
    /// ```
    #[cfg_attr(target_family = "wasm", allow(unused_mut))]
    pub fn with_max_stack(mut self, bytes: usize) -> Self {
        #[cfg(not(target_family = "wasm"))]
        {
            self.guard.max_stack = bytes;
        }
        let _ = bytes;
        self
    }

    /// This decoder, letting the `Vec` elements and `Box`es it makes take at most
    /// `bytes` of memory (their size in memory, not on the wire) instead of
    /// [`DEFAULT_MAX_MEMORY`], over every value it decodes: past it the decode fails
    /// with [`DecodeError::TooMuchMemory`]. Does nothing in WebAssembly.
    ///
    /// ```
    /// use hookr_abi::codec::{Decode, DecodeError, Decoder};
    /// // 1 000 empty strings: 1 003 bytes on the wire, 24 000 bytes of `String`s.
    /// let mut strings = vec![0xdc, 0x03, 0xe8];
    /// strings.extend([0xa0; 1000]);
    /// assert_eq!(Vec::<String>::decode(&mut Decoder::new(&strings)).unwrap().len(), 1000);
    /// # #[cfg(not(target_family = "wasm"))]
    /// assert_eq!(
    ///     Vec::<String>::decode(&mut Decoder::new(&strings).with_max_memory(4096)).unwrap_err(),
    ///     DecodeError::TooMuchMemory(4096)
    /// );
    /// ```
    #[cfg_attr(target_family = "wasm", allow(unused_mut))]
    pub fn with_max_memory(mut self, bytes: usize) -> Self {
        #[cfg(not(target_family = "wasm"))]
        {
            self.guard.max_memory = bytes;
        }
        let _ = bytes;
        self
    }

    /// Counts `bytes` of memory that a decoded value takes beyond its bytes on the
    /// wire (a `Vec` element, a `Box`) against [`with_max_memory`](Self::with_max_memory).
    /// A hand-written impl of a container should call it for what it allocates.
    #[inline]
    pub fn take_memory(&mut self, bytes: usize) -> Result<(), DecodeError> {
        #[cfg(not(target_family = "wasm"))]
        {
            let guard = &mut self.guard;
            match guard.memory_used.checked_add(bytes) {
                Some(used) if used <= guard.max_memory => guard.memory_used = used,
                _ => return Err(DecodeError::TooMuchMemory(guard.max_memory)),
            }
        }
        let _ = bytes;
        Ok(())
    }

    /// This decoder, following at most `levels` [`nested`](Self::nested) values
    /// instead of [`MAX_DEPTH`] (which it cannot exceed: [`skip`](Self::skip) follows
    /// no more).
    ///
    /// ```
    /// use hookr_abi::codec::{Decode, DecodeError, Decoder};
    /// // Three arrays deep: `Vec<Vec<Vec<u32>>>`.
    /// let bytes = [0x91, 0x91, 0x91, 0x01];
    /// let mut shallow = Decoder::new(&bytes).with_max_depth(2);
    /// assert_eq!(Vec::<Vec<Vec<u32>>>::decode(&mut shallow), Err(DecodeError::TooDeep));
    /// assert_eq!(Vec::<Vec<Vec<u32>>>::decode(&mut Decoder::new(&bytes)), Ok(vec![vec![vec![1]]]));
    /// ```
    pub fn with_max_depth(mut self, levels: usize) -> Self {
        self.depth_left = levels.min(MAX_DEPTH);
        self
    }

    /// Runs `decode` one nesting level down: the [`Decode`] impls of the types through
    /// which a type can hold itself (`Vec<T>` and `Box<T>`) wrap their values in it, so
    /// that a payload nested deeper than [`MAX_DEPTH`] levels fails with
    /// [`DecodeError::TooDeep`] instead of exhausting the stack. A hand-written impl
    /// that can recurse into its own type without going through them should call it too.
    ///
    /// Outside WebAssembly it also measures the stack: a nested value that begins
    /// more than [`with_max_stack`](Self::with_max_stack) bytes below where the
    /// outermost one began fails with [`DecodeError::TooMuchStack`].
    #[inline]
    pub fn nested<T>(&mut self, decode: impl FnOnce(&mut Self) -> Result<T, DecodeError>) -> Result<T, DecodeError> {
        if self.depth_left == 0 {
            return Err(DecodeError::TooDeep);
        }
        #[cfg(not(target_family = "wasm"))]
        let outermost = {
            // Where this level's frame is: the distance from the outermost level's is
            // the stack the nesting takes, whatever each level holds.
            let marker = 0u8;
            let here = core::ptr::addr_of!(marker) as usize;
            match self.guard.stack_base {
                None => {
                    self.guard.stack_base = Some(here);
                    true
                }
                Some(base) if base.abs_diff(here) > self.guard.max_stack => {
                    return Err(DecodeError::TooMuchStack(self.guard.max_stack))
                }
                Some(_) => false,
            }
        };
        self.depth_left -= 1;
        let value = decode(self);
        self.depth_left += 1;
        #[cfg(not(target_family = "wasm"))]
        if outermost {
            self.guard.stack_base = None;
        }
        value
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

    /// A big-endian length of `width` bytes.
    fn be_len(&mut self, width: usize) -> Result<usize, DecodeError> {
        Ok(self.take(width)?.iter().fold(0, |len, &b| len << 8 | b as usize))
    }

    /// The marker of the next value, without consuming it.
    pub fn peek_marker(&self) -> Result<Marker, DecodeError> {
        self.input.get(self.pos).map(|&b| Marker::from_u8(b)).ok_or(DecodeError::UnexpectedEof(self.pos))
    }

    /// The next marker byte, consumed, and its offset.
    #[inline]
    fn byte(&mut self) -> Result<(u8, usize), DecodeError> {
        let at = self.pos;
        match self.input.get(at) {
            Some(&b) => {
                self.pos = at + 1;
                Ok((b, at))
            }
            None => Err(DecodeError::UnexpectedEof(at)),
        }
    }

    #[cold]
    #[inline(never)]
    fn mismatch(expected: &'static str, marker: u8, offset: usize) -> DecodeError {
        DecodeError::TypeMismatch { expected, marker, offset }
    }

    /// The length a header of `kind` announces, any form, the header consumed.
    #[inline(never)]
    fn header(&mut self, kind: Kind) -> Result<usize, DecodeError> {
        let k = kind as usize;
        let (m, at) = self.byte()?;
        if m & FIX_MASK[k] == FIX[k] {
            return Ok((m & !FIX_MASK[k]) as usize);
        }
        let shape = SHAPES[(m & 0x3f) as usize];
        if m >= LONG_FROM[k] && shape >> 5 == LONG_SHAPE[k] {
            return self.be_len((shape & 0x1f) as usize);
        }
        Err(Self::mismatch(KIND_NAME[k], m, at))
    }

    /// Whether the next value is `nil`.
    #[inline]
    pub fn is_nil(&self) -> bool {
        self.input.get(self.pos) == Some(&0xc0)
    }

    /// Reads `nil`.
    pub fn nil(&mut self) -> Result<(), DecodeError> {
        match self.byte()? {
            (0xc0, _) => Ok(()),
            (m, at) => Err(Self::mismatch("nil", m, at)),
        }
    }

    /// Reads a boolean.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            (0xc3, _) => Ok(true),
            (0xc2, _) => Ok(false),
            (m, at) => Err(Self::mismatch("bool", m, at)),
        }
    }

    // Any integer form, widened: unsigned values as `Ok(Ok(u))`, negative ones as `Ok(Err(i))`.
    // Out of line: a struct of several numbers would otherwise hold a copy per field, and
    // an interpreter translates (and keeps) every instruction of a function it calls.
    #[inline(never)]
    fn integer(&mut self) -> Result<(Result<u64, i64>, usize), DecodeError> {
        let (m, at) = self.byte()?;
        let v = match m {
            0x00..=0x7f => return Ok((Ok(m as u64), at)),
            0xe0..=0xff => Err(m as i8 as i64),
            // uint 8, 16, 32, 64 (0xcc..=0xcf), then int 8, 16, 32, 64 (0xd0..=0xd3):
            // 1 << (m & 3) big-endian bytes. One loop for the eight forms, where a
            // branch each came to over a kilobyte of code in a plugin.
            0xcc..=0xd3 => {
                let width = 1usize << (m & 3);
                let raw = self.take(width)?.iter().fold(0u64, |v, &b| v << 8 | b as u64);
                if m < 0xd0 {
                    Ok(raw)
                } else {
                    // Sign-extend the `width` bytes.
                    let unused = 64 - 8 * width as u32;
                    Err(((raw << unused) as i64) >> unused)
                }
            }
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
    #[inline(never)]
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        match self.input.get(self.pos) {
            Some(0xca) => {
                self.pos += 1;
                Ok(f32::from_be_bytes(self.be()?) as f64)
            }
            Some(0xcb) => {
                self.pos += 1;
                Ok(f64::from_be_bytes(self.be()?))
            }
            _ => match self.integer()? {
                (Ok(u), _) => Ok(u as f64),
                (Err(i), _) => Ok(i as f64),
            },
        }
    }

    /// A fixstr (up to 31 bytes) that the input holds whole, taken; `None` for anything
    /// else, nothing consumed.
    #[inline(always)]
    fn fixstr(&mut self) -> Option<&'a [u8]> {
        let pos = self.pos;
        let m = *self.input.get(pos)?;
        if m & 0xe0 != 0xa0 {
            return None;
        }
        let end = pos + 1 + (m & 0x1f) as usize;
        let bytes = self.input.get(pos + 1..end)?;
        self.pos = end;
        Some(bytes)
    }

    /// Reads a string, borrowed from the input.
    #[inline]
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let bytes = match self.fixstr() {
            Some(bytes) => bytes,
            None => self.long_str()?,
        };
        utf8(bytes).ok_or(DecodeError::InvalidUtf8(at))
    }

    #[inline(never)]
    fn long_str(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.header(Kind::Str)?;
        self.take(len)
    }

    /// Reads a string into an owned `String`.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        self.str().map(String::from)
    }

    /// Reads a byte string (`bin`), borrowed from the input. A `str` is accepted too,
    /// as msgp does.
    pub fn bin(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.header(Kind::Bytes)?;
        self.take(len)
    }

    /// Reads the length of an array; its values follow.
    ///
    /// A length the rest of the input cannot hold (every value takes at least a
    /// byte) is [`DecodeError::UnexpectedEof`], so that a loop over the elements is
    /// bounded by the input's size whatever the length claims.
    pub fn array_len(&mut self) -> Result<usize, DecodeError> {
        let len = self.header(Kind::Array)?;
        self.holding(len, 1)
    }

    /// Reads the length of a map; its key/value pairs follow.
    ///
    /// A length the rest of the input cannot hold (every pair takes at least two
    /// bytes) is [`DecodeError::UnexpectedEof`].
    pub fn map_len(&mut self) -> Result<usize, DecodeError> {
        let len = self.header(Kind::Map)?;
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
    #[inline]
    pub fn value<T: Decode>(&mut self) -> Result<T, DecodeError> {
        T::decode(self)
    }

    /// Skips one value of any type, nested ones included (up to [`MAX_DEPTH`]).
    #[inline(never)]
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        match self.skip_one()? {
            0 => Ok(()),
            children => self.skip_nested(children),
        }
    }

    /// Skips the next value's marker and data, and returns how many values it holds
    /// (an array's elements, a map's keys and values), which follow it.
    fn skip_one(&mut self) -> Result<usize, DecodeError> {
        let (m, at) = self.byte()?;
        let (data, children) = match m {
            0x00..=0x7f | 0xe0..=0xff => (0, 0),
            0x80..=0x8f => (0, 2 * (m & 0x0f) as u64),
            0x90..=0x9f => (0, (m & 0x0f) as u64),
            0xa0..=0xbf => ((m & 0x1f) as usize, 0),
            _ => {
                let shape = SHAPES[(m & 0x3f) as usize];
                let n = (shape & 0x1f) as usize;
                match shape >> 5 {
                    FIXED => (n, 0),
                    // ext 8, 16, 32 have a type byte after the length. `saturating_add`:
                    // on a 32-bit target a length of 2³² − 1 plus that byte overflows
                    // `usize`; saturated, it is simply more than the input holds.
                    SIZED => (self.be_len(n)?, 0),
                    EXT => (self.be_len(n)?.saturating_add(1), 0),
                    ARRAY => (0, self.be_len(n)? as u64),
                    MAP => (0, 2 * self.be_len(n)? as u64),
                    _ => return Err(Self::mismatch("a value", m, at)),
                }
            }
        };
        self.take(data)?;
        // Every value takes at least a byte: a count the rest cannot hold is refused
        // here, as `array_len` and `map_len` refuse it, before a nested walk.
        if children > self.remaining() as u64 {
            return Err(DecodeError::UnexpectedEof(self.input.len()));
        }
        // At most `remaining()`, so it fits a `usize`.
        Ok(children as usize)
    }

    /// Skips the `children` values of an array or map just entered, and theirs.
    #[inline(never)]
    fn skip_nested(&mut self, children: usize) -> Result<(), DecodeError> {
        // Values still to skip, counted per nesting level, iteratively: `level` counts
        // from 0, the array or map just entered, to MAX_DEPTH - 1. The mask makes the
        // bound plain to the compiler, so that no index panic (and its formatting
        // code) comes into a plugin. `usize` counts keep the array at 256 B on wasm32:
        // it lives on a plugin's stack, which may be as small as 1 KiB.
        const LEVELS: usize = MAX_DEPTH;
        const _: () = assert!(LEVELS.is_power_of_two());
        let mut pending = [0usize; LEVELS];
        let mut level = 0usize;
        pending[0] = children;
        loop {
            while pending[level % LEVELS] == 0 {
                if level == 0 {
                    return Ok(());
                }
                level -= 1;
            }
            pending[level % LEVELS] -= 1;
            let children = self.skip_one()?;
            if children > 0 {
                level += 1;
                if level >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
                pending[level % LEVELS] = children;
            }
        }
    }

    /// Reads the header of a struct: how many fields follow, and whether they come as
    /// name/value pairs (`true`: the msgp form, a map keyed by field name) or as
    /// values in declaration order (`false`: the array form).
    ///
    /// What [`fields`](Self::fields) and the derived [`Decode`] impls start with; read
    /// each name with [`key`](Self::key).
    #[inline]
    pub fn struct_len(&mut self) -> Result<(usize, bool), DecodeError> {
        let pos = self.pos;
        if let Some(&m) = self.input.get(pos) {
            // A fixmap whose pairs fit what is left: the form of small structs.
            let len = (m & 0x0f) as usize;
            if m & 0xf0 == 0x80 && 2 * len < self.input.len() - pos {
                self.pos = pos + 1;
                return Ok((len, true));
            }
        }
        self.any_struct_len()
    }

    #[inline(never)]
    fn any_struct_len(&mut self) -> Result<(usize, bool), DecodeError> {
        let by_name = !matches!(self.input.get(self.pos), Some(0x90..=0x9f | 0xdc | 0xdd));
        let len = self.header(if by_name { Kind::Map } else { Kind::Array })?;
        Ok((self.holding(len, 1 + by_name as usize)?, by_name))
    }

    /// Reads the name of the `i`-th field of a struct whose header [`struct_len`]
    /// read (`by_name` as it said), and returns its index in `names`: `i` itself in
    /// the array form, the position of the name in the map form, or `None` for a name
    /// not in `names` or a position past them. The field's value follows; what
    /// [`fields`](Self::fields) calls for each field.
    ///
    /// A map written in declaration order, as msgp writes it, finds each name at its
    /// first comparison.
    ///
    /// [`struct_len`]: Self::struct_len
    #[inline(never)]
    pub fn field(&mut self, names: &[&str], by_name: bool, i: usize) -> Result<Option<usize>, DecodeError> {
        if !by_name {
            return Ok((i < names.len()).then_some(i));
        }
        let key = self.key()?;
        // The name at `i` first, then all of them.
        if names.get(i).is_some_and(|name| same(key, name.as_bytes())) {
            return Ok(Some(i));
        }
        Ok(position(names, key))
    }

    /// Reads a field name of a struct in map form: a string (or, as msgp accepts, a
    /// byte string), borrowed from the input and not checked for UTF-8.
    #[inline]
    pub fn key(&mut self) -> Result<&'a [u8], DecodeError> {
        match self.fixstr() {
            Some(key) => Ok(key),
            None => self.bin(),
        }
    }

    /// Reads the start of an enum value: which of `names` its variant is (`None` for
    /// a name not among them), and whether a value follows (`true`: the enum came as a
    /// map of one entry, `{"Variant": value}`, and the variant's value is next) or not
    /// (`false`: it came as the string `"Variant"`, as a variant without fields does).
    /// What the derived [`Decode`] impls of enums start with.
    #[inline(never)]
    pub fn variant(&mut self, names: &[&str]) -> Result<(Option<usize>, bool), DecodeError> {
        let has_value = match self.input.get(self.pos) {
            Some(&m @ (0x80..=0x8f | 0xde | 0xdf)) => {
                let at = self.pos;
                if self.map_len()? != 1 {
                    return Err(Self::mismatch("a variant: a string or a map of one entry", m, at));
                }
                true
            }
            _ => false,
        };
        let key = self.key()?;
        Ok((position(names, key), has_value))
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
        let (len, by_name) = self.struct_len()?;
        for i in 0..len {
            let index = self.field(names, by_name, i)?;
            on_field(self, index)?;
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
uints!(u16, u32, u64, usize);

impl Encode for u8 {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.uint(*self as u64)
    }

    fn encode_slice(items: &[u8], e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.bin(items)
    }
}

impl Decode for u8 {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let at = d.position();
        u8::try_from(d.uint()?).map_err(|_| DecodeError::OutOfRange(at))
    }

    fn decode_vec(d: &mut Decoder<'_>) -> Result<Vec<u8>, DecodeError> {
        d.bin().map(<[u8]>::to_vec)
    }

    #[cfg(feature = "heapless")]
    fn decode_heapless<const N: usize>(d: &mut Decoder<'_>) -> Result<heapless::Vec<u8, N>, DecodeError> {
        let offset = d.position();
        let bytes = d.bin()?;
        heapless::Vec::from_slice(bytes).map_err(|_| DecodeError::TooLong { offset, len: bytes.len(), capacity: N })
    }
}

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
    #[inline]
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.str(self)
    }
}
impl Encode for String {
    #[inline]
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.str(self)
    }
}
impl Decode for String {
    #[inline]
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.str().map(String::from)
    }
}

/// An array of `T`s; `[u8]` is a byte string (`bin`).
impl<T: Encode> Encode for [T] {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        T::encode_slice(self, e)
    }
}
/// An array of `T`s; `Vec<u8>` is a byte string (`bin`).
impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        T::encode_slice(self, e)
    }
}
/// An array of `T`s; `Vec<u8>` is a byte string (`bin`, or `str`, as msgp accepts).
impl<T: Decode> Decode for Vec<T> {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        T::decode_vec(d)
    }
}

impl<T: Encode + ?Sized> Encode for Box<T> {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        (**self).encode(e)
    }
}
impl<T: Decode> Decode for Box<T> {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        d.take_memory(core::mem::size_of::<T>())?;
        d.nested(|d| T::decode(d).map(Box::new))
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

    fn missing() -> Option<Self> {
        Some(None)
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        (**self).encode(e)
    }
}

/// A string of at most `N` bytes, written as `str`.
#[cfg(feature = "heapless")]
impl<const N: usize> Encode for heapless::String<N> {
    #[inline]
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.str(self)
    }
}
/// A string of at most `N` bytes, decoded without allocating; a longer one is
/// [`DecodeError::TooLong`].
#[cfg(feature = "heapless")]
impl<const N: usize> Decode for heapless::String<N> {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let offset = d.position();
        let s = d.str()?;
        heapless::String::try_from(s).map_err(|_| DecodeError::TooLong { offset, len: s.len(), capacity: N })
    }
}
/// An array of at most `N` values; `heapless::Vec<u8, N>` is a byte string (`bin`).
#[cfg(feature = "heapless")]
impl<T: Encode, const N: usize> Encode for heapless::Vec<T, N> {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        T::encode_slice(self, e)
    }
}
/// An array of at most `N` values, decoded without allocating; `heapless::Vec<u8, N>`
/// is a byte string (`bin`, or `str`, as msgp accepts). A longer one is
/// [`DecodeError::TooLong`].
#[cfg(feature = "heapless")]
impl<T: Decode, const N: usize> Decode for heapless::Vec<T, N> {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        T::decode_heapless(d)
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

    /// The encoder picks its forms itself; they must stay `rmp`'s (and msgp's), byte
    /// for byte, at every boundary between two forms.
    #[test]
    fn every_form_is_the_one_rmp_writes() {
        use rmp::encode::{self as rmp_encode, ByteBuf};
        fn ours(f: impl FnOnce(&mut Encoder<'_>) -> Result<(), EncodeError>) -> Vec<u8> {
            let mut out = Vec::new();
            f(&mut Encoder::new(&mut out)).unwrap();
            out
        }
        fn theirs<T, E>(f: impl FnOnce(&mut ByteBuf) -> Result<T, E>) -> Vec<u8> {
            let mut buf = ByteBuf::new();
            assert!(f(&mut buf).is_ok());
            buf.into_vec()
        }
        let mut edges: Vec<u64> = vec![0, 1];
        for bits in [5u32, 7, 8, 15, 16, 31, 32, 63, 64] {
            let top = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
            edges.extend([top.saturating_sub(1), top, top.saturating_add(1)]);
        }
        for &v in &edges {
            assert_eq!(ours(|e| e.uint(v)), theirs(|b| rmp_encode::write_uint(b, v)), "uint {v}");
            // Every form of an integer decodes to it, the wider ones too.
            assert_eq!(from_slice::<u64>(&theirs(|b| rmp_encode::write_u64(b, v))), Ok(v), "u64 form of {v}");
            for i in [v as i64, (v as i64).wrapping_neg(), (v as i64).wrapping_neg().wrapping_sub(1)] {
                assert_eq!(ours(|e| e.int(i)), theirs(|b| rmp_encode::write_sint(b, i)), "int {i}");
                let forms = [
                    theirs(|b| rmp_encode::write_sint(b, i)),
                    theirs(|b| rmp_encode::write_i64(b, i)),
                    i32::try_from(i).map_or_else(|_| Vec::new(), |n| theirs(|b| rmp_encode::write_i32(b, n))),
                    i16::try_from(i).map_or_else(|_| Vec::new(), |n| theirs(|b| rmp_encode::write_i16(b, n))),
                    i8::try_from(i).map_or_else(|_| Vec::new(), |n| theirs(|b| rmp_encode::write_i8(b, n))),
                    u32::try_from(i).map_or_else(|_| Vec::new(), |n| theirs(|b| rmp_encode::write_u32(b, n))),
                    u16::try_from(i).map_or_else(|_| Vec::new(), |n| theirs(|b| rmp_encode::write_u16(b, n))),
                    u8::try_from(i).map_or_else(|_| Vec::new(), |n| theirs(|b| rmp_encode::write_u8(b, n))),
                ];
                for form in forms.iter().filter(|f| !f.is_empty()) {
                    assert_eq!(from_slice::<i64>(form), Ok(i), "int {i} from {form:02x?}");
                }
            }
            if let Ok(n) = u32::try_from(v) {
                let len = n as usize;
                assert_eq!(ours(|e| e.array_len(len)), theirs(|b| rmp_encode::write_array_len(b, n)), "array {n}");
                assert_eq!(ours(|e| e.map_len(len)), theirs(|b| rmp_encode::write_map_len(b, n)), "map {n}");
                if len <= 70_000 {
                    let s = "a".repeat(len);
                    let want = theirs(|b| rmp_encode::write_str(b, &s));
                    assert_eq!(ours(|e| e.str(&s)), want, "str {n}");
                    let want = theirs(|b| rmp_encode::write_bin(b, s.as_bytes()));
                    assert_eq!(ours(|e| e.bin(s.as_bytes())), want, "bin {n}");
                }
            }
        }
        for f in [0.0, -0.0, 1.5, f64::NAN, f64::INFINITY, f64::MIN_POSITIVE] {
            assert_eq!(ours(|e| e.f64(f)), theirs(|b| rmp_encode::write_f64(b, f)));
            assert_eq!(ours(|e| e.f32(f as f32)), theirs(|b| rmp_encode::write_f32(b, f as f32)));
        }
        for v in [false, true] {
            assert_eq!(ours(|e| e.bool(v)), theirs(|b| rmp_encode::write_bool(b, v)));
        }
        assert_eq!(ours(|e| e.nil()), theirs(rmp_encode::write_nil));
    }

    #[test]
    fn utf8_prefix_agrees_with_core() {
        let check = |b: &[u8]| {
            let want = match core::str::from_utf8(b) {
                Ok(_) => (b.len(), None),
                Err(e) => (e.valid_up_to(), e.error_len()),
            };
            assert_eq!(utf8_prefix(b), want, "{b:02x?}");
        };
        // Every sequence of one to three bytes, and every four-byte one that starts
        // with a lead byte of four, with its second byte anything and the others from a
        // sample that crosses every boundary.
        let edges = [
            0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4,
            0xf5, 0xff,
        ];
        for a in 0..=255u8 {
            check(&[a]);
            for b in 0..=255u8 {
                check(&[a, b]);
                for &c in &edges {
                    check(&[a, b, c]);
                    if a >= 0xf0 {
                        for &d in &edges {
                            check(&[a, b, c, d]);
                        }
                    }
                }
            }
        }
        for c in ['a', 'é', 'ह', '€', '𐍈', '\u{10ffff}', '\u{d7ff}', '\u{e000}'] {
            let mut buf = [0; 4];
            let s = c.encode_utf8(&mut buf);
            check(s.as_bytes());
            check(&[b"x", s.as_bytes(), b"\xff", s.as_bytes()].concat());
        }
    }

    #[test]
    fn strings_decode_whatever_their_length_and_script() {
        for s in [
            "",
            "a",
            "abc",
            "abcd",
            "abcdefg",
            "abcdefgh",
            "abcdefghijklmnopq",
            "é",
            "aaaaaaaé",
            "éaaaaaaaaaaa",
            "ascii then ü",
        ] {
            let bytes = to_vec(s).unwrap();
            assert_eq!(from_slice::<String>(&bytes).unwrap(), s);
        }
        for bad in [&b"\xa1\x80"[..], b"\xa8aaaaaaa\xff", b"\xa8\xe2\x82aaaaaa", b"\xa4abc\xc0"] {
            assert_eq!(from_slice::<String>(bad), Err(DecodeError::InvalidUtf8(0)), "{bad:02x?}");
        }
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
        // A map of 2 pairs needs at least 4 bytes after its header, to skip as to read.
        assert!(Decoder::new(&[0x82, 0xc0, 0xc0, 0xc0]).map_len().is_err());
        assert_eq!(Decoder::new(&[0x82, 0xc0, 0xc0, 0xc0]).skip(), Err(DecodeError::UnexpectedEof(4)));
        assert_eq!(Decoder::new(&[0x91, 0x82, 0xc0, 0xc0, 0xc0]).skip(), Err(DecodeError::UnexpectedEof(5)));
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

    #[cfg(feature = "heapless")]
    #[test]
    fn heapless_values_round_trip_and_refuse_what_exceeds_their_capacity() {
        type S = heapless::String<8>;
        let s = S::try_from("Steve").unwrap();
        let bytes = to_vec(&s).unwrap();
        assert_eq!(bytes, to_vec("Steve").unwrap());
        assert_eq!(from_slice::<S>(&bytes).unwrap(), s);
        // Exactly the capacity fits; one byte more is refused whole.
        assert_eq!(from_slice::<S>(&to_vec("12345678").unwrap()).unwrap(), "12345678");
        let err = from_slice::<S>(&to_vec("123456789").unwrap()).unwrap_err();
        assert_eq!(err, DecodeError::TooLong { offset: 0, len: 9, capacity: 8 });
        assert_eq!(err.to_string(), "value at offset 0 has length 9, more than its capacity of 8");

        // Bytes are bin, as `Vec<u8>` is, and read from a str too.
        let b = heapless::Vec::<u8, 4>::from_slice(&[1, 2, 3]).unwrap();
        assert_eq!(to_vec(&b).unwrap(), to_vec(&alloc::vec![1u8, 2, 3]).unwrap());
        assert_eq!(from_slice::<heapless::Vec<u8, 4>>(&to_vec(&b).unwrap()).unwrap(), b);
        assert_eq!(from_slice::<heapless::Vec<u8, 4>>(&to_vec("ab").unwrap()).unwrap(), b"ab"[..]);
        let five = to_vec(&alloc::vec![0u8; 5]).unwrap();
        assert_eq!(
            from_slice::<heapless::Vec<u8, 4>>(&five).unwrap_err(),
            DecodeError::TooLong { offset: 0, len: 5, capacity: 4 }
        );

        // Other values are arrays; the length is checked before any element is read.
        let v = heapless::Vec::<i32, 3>::from_slice(&[-1, 300, 7]).unwrap();
        assert_eq!(to_vec(&v).unwrap(), to_vec(&alloc::vec![-1i32, 300, 7]).unwrap());
        assert_eq!(from_slice::<heapless::Vec<i32, 3>>(&to_vec(&v).unwrap()).unwrap(), v);
        let four = to_vec(&alloc::vec![1i32, 2, 3, 4]).unwrap();
        assert_eq!(
            from_slice::<heapless::Vec<i32, 3>>(&four).unwrap_err(),
            DecodeError::TooLong { offset: 0, len: 4, capacity: 3 }
        );
        // Nested: the offset is that of the value that does not fit.
        let nested = to_vec(&alloc::vec![String::from("ab"), String::from("abcdefghi")]).unwrap();
        assert_eq!(
            from_slice::<heapless::Vec<S, 2>>(&nested).unwrap_err(),
            DecodeError::TooLong { offset: 4, len: 9, capacity: 8 }
        );
    }
}
