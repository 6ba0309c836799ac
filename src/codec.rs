//! The MessagePack codec for typed payloads: everything of [`hookr_abi::codec`] (its
//! docs give the layout), with `#[derive(Encode, Decode)]` writing paths into this
//! crate, so that a host needs no dependency beyond `hookr`.
//!
//! ```
//! use hookr::codec::{self, Decode, Encode};
//!
//! #[derive(Debug, PartialEq, Encode, Decode)]
//! struct Hello {
//!     msg: String,
//! }
//!
//! let bytes = codec::to_vec(&Hello { msg: "Steve".into() }).unwrap();
//! assert_eq!(bytes, b"\x81\xa3msg\xa5Steve");
//! assert_eq!(codec::from_slice::<Hello>(&bytes).unwrap().msg, "Steve");
//! ```

pub use hookr_abi::codec::*;
pub use hookr_derive::{HostDecode as Decode, HostEncode as Encode};
