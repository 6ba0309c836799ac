//! The typed messages of the `simple` plugin, shared by the plugin and its hosts.
//!
//! One definition serves both sides: the plugin includes this file as a module, and a
//! host (the quick start, the tests, the firmware) includes it with
//! `#[path = ".../targets/plugins/simple/src/messages.rs"] mod messages;`. The
//! includer provides the codec as `codec` in the including module (`hookr::codec` on a host,
//! `hookr_guest::codec` in the plugin: both are `hookr_abi::codec`) and `alloc`.

use alloc::string::String;

use super::codec::{Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};

/// `{"data": s}`: the request and the response of `echo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// The text.
    pub data: String,
}

/// `{"msg": s}`: the request and the response of the host function `hello`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The text.
    pub msg: String,
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

/// Writes a struct that has one string field the msgp way: `{key: value}`.
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
