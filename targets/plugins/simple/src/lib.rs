//! The functions of the Go hookr test plugin, with the same names and behaviour, so
//! host tests can run one plugin in both languages:
//!
//! - `echo` (typed): `{"data": s}` → host `hello` with `{"msg": s}` → its `{"msg": r}`
//!   comes back as `{"data": r}`.
//! - `nope`: always fails with `planned Failure`.
//! - `echoByte`: the payload goes to host `helloByte`; its reply comes back unchanged.
//! - `vowel`: the number of ASCII vowels in the payload, as decimal text (`"3"`).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use hookr_guest::codec::{Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};
use hookr_guest::{host_call_into, host_call_typed, Error};

hookr_guest::plugin! {
    typed "echo" => echo,
    bytes "nope" => nope,
    bytes "echoByte" => echo_byte,
    bytes "vowel" => vowel,
}

/// `{"data": s}`: the request and the response of `echo`.
struct Echo {
    data: String,
}

/// `{"msg": s}`: the request and the response of the host function `hello`.
struct Hello {
    msg: String,
}

fn echo(request: Echo) -> Result<Echo, Error> {
    let reply: Hello = host_call_typed("hello", &Hello { msg: request.data })?;
    Ok(Echo { data: reply.msg })
}

fn nope(_payload: &[u8], _out: &mut Vec<u8>) -> Result<(), Error> {
    Err(Error::new("planned Failure"))
}

fn echo_byte(payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    host_call_into("helloByte", payload, out)?;
    Ok(())
}

fn vowel(payload: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let count: usize = payload.iter().map(|&b| usize::from(VOWELS[usize::from(b)])).sum();
    write_decimal(count, out);
    Ok(())
}

/// 1 for the ASCII vowels, either case, 0 for every other byte. The interpreter pays
/// per instruction: a table load is a few of them a byte, where lowering the case and
/// matching five letters compiled to about 35.
static VOWELS: [u8; 256] = {
    let mut table = [0u8; 256];
    let vowels = b"aeiouAEIOU";
    let mut i = 0;
    while i < vowels.len() {
        table[vowels[i] as usize] = 1;
        i += 1;
    }
    table
};

/// Appends `n` in decimal, without going through `core::fmt`.
fn write_decimal(mut n: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Reads a struct that has one string field, `key`, in map or array form.
fn one_string(d: &mut Decoder<'_>, key: &'static str) -> Result<String, DecodeError> {
    let mut value = None;
    d.fields(&[key], |d, field| {
        match field {
            Some(0) => value = Some(d.string()?),
            _ => d.skip()?,
        }
        Ok(())
    })?;
    value.ok_or(DecodeError::MissingField(key))
}

fn write_one_string(e: &mut Encoder<'_>, key: &str, value: &str) -> Result<(), EncodeError> {
    e.map_len(1)?;
    e.str(key)?;
    e.str(value)
}

impl Decode for Echo {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        one_string(d, "data").map(|data| Echo { data })
    }
}

impl Encode for Echo {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        write_one_string(e, "data", &self.data)
    }
}

impl Decode for Hello {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        one_string(d, "msg").map(|msg| Hello { msg })
    }
}

impl Encode for Hello {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        write_one_string(e, "msg", &self.msg)
    }
}
