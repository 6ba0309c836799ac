//! Errors a plugin function returns to the host, and errors of host calls.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

use hookr_abi::codec::{DecodeError, EncodeError};

use crate::text;

/// The error a plugin function returns; its message reaches the host through
/// `__plugin_error` and becomes the error of the host's invoke.
///
/// A fixed message costs no allocation: `Error::new("planned Failure")`.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    message: Cow<'static, str>,
}

impl Error {
    /// An error with a fixed message.
    pub const fn new(message: &'static str) -> Self {
        Error {
            message: Cow::Borrowed(message),
        }
    }

    /// The message the host will see.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Error").field(&self.message).finish()
    }
}

impl core::error::Error for Error {}

impl From<&'static str> for Error {
    fn from(message: &'static str) -> Self {
        Error::new(message)
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error {
            message: Cow::Owned(message),
        }
    }
}

// The conversions are out of line (and cold) for the same reason as the kit's other
// failure paths: inlined into a function, they would make each of its calls dearer.
impl From<HostError> for Error {
    #[cold]
    #[inline(never)]
    fn from(e: HostError) -> Self {
        match e {
            // The host's own words, unchanged, as a Go plugin passes them on.
            HostError::Failed(message) => Error::from(message),
            e => Error::from(e.describe()),
        }
    }
}

impl From<DecodeError> for Error {
    #[cold]
    #[inline(never)]
    fn from(e: DecodeError) -> Self {
        Error::from(text::decode_error("", &e))
    }
}

impl From<EncodeError> for Error {
    #[cold]
    #[inline(never)]
    fn from(e: EncodeError) -> Self {
        Error::from(text::encode_error("", &e))
    }
}

/// Why a call to a host function failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HostError {
    /// The host function reported an error, with its message (an unknown host
    /// operation is reported this way too).
    Failed(String),
    /// The host's response of this many bytes does not fit in the plugin's memory.
    OutOfMemory(usize),
    /// A typed request could not be encoded.
    Encode(EncodeError),
    /// A typed response could not be decoded.
    Decode(DecodeError),
}

impl HostError {
    /// The message, built without `core::fmt`.
    #[inline(never)]
    fn describe(&self) -> String {
        match self {
            HostError::Failed(message) => message.clone(),
            HostError::OutOfMemory(len) => {
                let mut message = String::new();
                text::push(&mut message, "a host response of ");
                text::push_decimal(&mut message, *len);
                text::push(&mut message, " bytes does not fit in memory");
                message
            }
            HostError::Encode(e) => text::encode_error("cannot encode the host request: ", e),
            HostError::Decode(e) => text::decode_error("cannot decode the host response: ", e),
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl core::error::Error for HostError {}

impl From<EncodeError> for HostError {
    fn from(e: EncodeError) -> Self {
        HostError::Encode(e)
    }
}

impl From<DecodeError> for HostError {
    fn from(e: DecodeError) -> Self {
        HostError::Decode(e)
    }
}
