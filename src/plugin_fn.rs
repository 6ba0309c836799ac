//! Handles for calling one plugin function, by bytes or typed.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::marker::PhantomData;

use hookr_abi::codec::{Decode, Encode};

use crate::error::Error;
use crate::output::Output;
use crate::runtime::Runtime;

/// A plugin function called with bytes (the seed's `PluginFnByte`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFnBytes {
    name: Cow<'static, str>,
}

impl PluginFnBytes {
    pub(crate) fn new(name: Cow<'static, str>) -> Self {
        PluginFnBytes { name }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls it.
    pub fn call<T>(&self, rt: &mut Runtime<T>, payload: &[u8]) -> Result<Vec<u8>, Error> {
        rt.invoke(&self.name, payload)
    }

    /// Calls it, writing the response into `out`: a `Vec<u8>` or a buffer of fixed
    /// capacity, as [`Runtime::invoke_into`] takes.
    pub fn call_into<T, O: Output>(&self, rt: &mut Runtime<T>, payload: &[u8], out: &mut O) -> Result<(), Error> {
        rt.invoke_into(&self.name, payload, out)
    }
}

/// A plugin function called with MessagePack values (the seed's `PluginFnSerial`).
///
/// ```
/// # fn main() -> Result<(), hookr::Error> {
/// # let wasm = wat::parse_str(r#"(module
/// #   (import "hookr" "__plugin_request" (func $req (param i32 i32)))
/// #   (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
/// #   (memory (export "memory") 1)
/// #   (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
/// #     (call $req (i32.const 0) (local.get $op))
/// #     (call $resp (local.get $op) (local.get $len))
/// #     (i32.const 1)))"#).unwrap();
/// let mut rt = hookr::Runtime::builder(()).bytes(&wasm).build()?;
/// // This plugin echoes its payload, so a string comes back as itself.
/// let echo = rt.plugin_fn::<str, String>("echo");
/// assert_eq!(echo.call(&mut rt, "Steve")?, "Steve");
/// # Ok(()) }
/// ```
pub struct PluginFn<In: ?Sized, Out> {
    name: Cow<'static, str>,
    _types: PhantomData<fn(&In) -> Out>,
}

impl<In: Encode + ?Sized, Out: Decode> PluginFn<In, Out> {
    pub(crate) fn new(name: Cow<'static, str>) -> Self {
        PluginFn { name, _types: PhantomData }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Encodes `input`, calls the function and decodes its response.
    pub fn call<T>(&self, rt: &mut Runtime<T>, input: &In) -> Result<Out, Error> {
        rt.call(&self.name, input)
    }
}

impl<In: ?Sized, Out> Clone for PluginFn<In, Out> {
    fn clone(&self) -> Self {
        PluginFn { name: self.name.clone(), _types: PhantomData }
    }
}

impl<In: ?Sized, Out> core::fmt::Debug for PluginFn<In, Out> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PluginFn").field("name", &self.name).finish()
    }
}
