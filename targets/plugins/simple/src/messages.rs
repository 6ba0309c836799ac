//! The typed messages of the `simple` plugin, shared by the plugin and its hosts.
//!
//! One definition serves both sides: the plugin includes this file as a module, and a
//! host (the quick start, the tests, the benchmarks, the firmware) includes it with
//! `#[path = ".../targets/plugins/simple/src/messages.rs"] mod messages;`. The
//! includer brings the codec into scope as `codec` (`use hookr::codec;` on a host,
//! `use hookr_guest::codec;` in the plugin), whose derives write the impls for that
//! side, and provides `alloc`.

use alloc::string::String;

use super::codec::{Decode, Encode};

/// `{"data": s}`: the request and the response of `echo`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Echo {
    /// The text.
    pub data: String,
}

/// `{"msg": s}`: the request and the response of the host function `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Hello {
    /// The text.
    pub msg: String,
}
