//! Where a call's response goes: a growable vector or a buffer of fixed capacity.

use alloc::vec::Vec;

/// A buffer that receives a plugin's response: growable, as `Vec<u8>`, or of fixed
/// capacity, as `heapless::Vec<u8, N>` or a [`SliceOutput`] over the caller's bytes.
///
/// [`Runtime::invoke_into`](crate::Runtime::invoke_into) writes into any of them. A
/// fixed buffer makes a call allocate nothing for its response, not even the first
/// time; a response that does not fit fails the call with
/// [`Error::TooLarge`](crate::Error::TooLarge) and leaves the buffer empty: the
/// caller never sees part of a response as if it were all of it.
///
/// ```
/// # let wasm = wat::parse_str(r#"(module
/// #   (import "hookr" "__plugin_request" (func $req (param i32 i32)))
/// #   (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
/// #   (memory (export "memory") 1)
/// #   (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
/// #     (call $req (i32.const 0) (local.get $op))
/// #     (call $resp (local.get $op) (local.get $len))
/// #     (i32.const 1)))"#).unwrap();
/// use hookr::heapless;
/// use hookr::io::SliceOutput;
///
/// // An echo plugin: it answers every call with its payload.
/// let mut rt = hookr::Runtime::builder(()).bytes(&wasm).build()?;
///
/// let mut out = heapless::Vec::<u8, 8>::new();
/// rt.invoke_into("echo", b"Steve", &mut out)?;
/// assert_eq!(out, b"Steve");
///
/// // Nine bytes do not fit in eight: an error, and nothing of them in `out`.
/// let err = rt.invoke_into("echo", b"123456789", &mut out).unwrap_err();
/// assert!(matches!(err, hookr::Error::TooLarge { len: 9, limit: 8, .. }));
/// assert!(out.is_empty());
///
/// // The caller's own bytes, a static buffer for instance.
/// let mut bytes = [0u8; 16];
/// let mut out = SliceOutput::new(&mut bytes);
/// rt.invoke_into("echo", b"Steve", &mut out)?;
/// assert_eq!(out.as_bytes(), b"Steve");
/// # Ok::<(), hookr::Error>(())
/// ```
///
/// Implement it for another buffer type by following the contract of each method.
pub trait Output {
    /// The bytes it holds.
    fn as_bytes(&self) -> &[u8];

    /// Empties it.
    fn clear(&mut self);

    /// Puts `bytes` in place of what it holds. When they do not fit, it must hold
    /// nothing afterwards and return the error: no part of them.
    fn replace(&mut self, bytes: &[u8]) -> Result<(), OutputFull>;

    /// The most bytes it can hold, or `None` for a buffer that grows as needed. What
    /// [`Error::TooLarge`](crate::Error::TooLarge) reports as the limit.
    fn limit(&self) -> Option<usize>;
}

/// What [`Error::TooLarge`](crate::Error::TooLarge) names when a response does not fit
/// the caller's [`Output`].
pub(crate) const OUTPUT_BUFFER: &str = "plugin response (output buffer)";

/// Bytes do not fit in an [`Output`]: it is left empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputFull;

impl core::fmt::Display for OutputFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the bytes do not fit in the output buffer")
    }
}

impl core::error::Error for OutputFull {}

/// Any output, through a mutable reference (a `&mut dyn Output` too).
impl<O: Output + ?Sized> Output for &mut O {
    #[inline]
    fn as_bytes(&self) -> &[u8] {
        (**self).as_bytes()
    }

    #[inline]
    fn clear(&mut self) {
        (**self).clear();
    }

    #[inline]
    fn replace(&mut self, bytes: &[u8]) -> Result<(), OutputFull> {
        (**self).replace(bytes)
    }

    fn limit(&self) -> Option<usize> {
        (**self).limit()
    }
}

/// Grows as needed, reusing its capacity from call to call.
impl Output for Vec<u8> {
    #[inline]
    fn as_bytes(&self) -> &[u8] {
        self
    }

    #[inline]
    fn clear(&mut self) {
        Vec::clear(self);
    }

    #[inline]
    fn replace(&mut self, bytes: &[u8]) -> Result<(), OutputFull> {
        Vec::clear(self);
        self.extend_from_slice(bytes);
        Ok(())
    }

    fn limit(&self) -> Option<usize> {
        None
    }
}

/// Holds at most `N` bytes, inline: no allocation at all.
impl<const N: usize, L: heapless::LenType> Output for heapless::Vec<u8, N, L> {
    #[inline]
    fn as_bytes(&self) -> &[u8] {
        self
    }

    #[inline]
    fn clear(&mut self) {
        heapless::Vec::clear(self);
    }

    #[inline]
    fn replace(&mut self, bytes: &[u8]) -> Result<(), OutputFull> {
        heapless::Vec::clear(self);
        // `extend_from_slice` checks the length before it copies anything.
        self.extend_from_slice(bytes).map_err(|_| OutputFull)
    }

    fn limit(&self) -> Option<usize> {
        Some(N)
    }
}

/// An [`Output`] over bytes the caller owns (a `static` buffer, a stack array, a DMA
/// region): holds at most their length.
#[derive(Debug)]
pub struct SliceOutput<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceOutput<'a> {
    /// An empty output over `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceOutput { buf, len: 0 }
    }

    /// The bytes it holds: the first [`len`](Self::len) of the buffer.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// How many bytes it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer it writes into, back.
    pub fn into_inner(self) -> &'a mut [u8] {
        self.buf
    }
}

impl Output for SliceOutput<'_> {
    #[inline]
    fn as_bytes(&self) -> &[u8] {
        SliceOutput::as_bytes(self)
    }

    #[inline]
    fn clear(&mut self) {
        self.len = 0;
    }

    #[inline]
    fn replace(&mut self, bytes: &[u8]) -> Result<(), OutputFull> {
        self.len = 0;
        let dest = self.buf.get_mut(..bytes.len()).ok_or(OutputFull)?;
        dest.copy_from_slice(bytes);
        self.len = bytes.len();
        Ok(())
    }

    fn limit(&self) -> Option<usize> {
        Some(self.buf.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each output holds what fits, and nothing of what does not.
    fn holds_what_fits(out: &mut dyn Output, limit: Option<usize>) {
        assert_eq!(out.limit(), limit);
        out.replace(b"abc").unwrap();
        assert_eq!(out.as_bytes(), b"abc");
        out.replace(b"de").unwrap();
        assert_eq!(out.as_bytes(), b"de");
        let long = [7u8; 9];
        match limit {
            Some(n) if n < long.len() => {
                assert_eq!(out.replace(&long), Err(OutputFull));
                assert_eq!(out.as_bytes(), b"");
            }
            _ => {
                out.replace(&long).unwrap();
                assert_eq!(out.as_bytes(), long);
            }
        }
        out.replace(b"x").unwrap();
        out.clear();
        assert_eq!(out.as_bytes(), b"");
    }

    #[test]
    fn every_output_holds_what_fits_and_nothing_of_what_does_not() {
        holds_what_fits(&mut Vec::new(), None);
        holds_what_fits(&mut heapless::Vec::<u8, 8>::new(), Some(8));
        holds_what_fits(&mut heapless::Vec::<u8, 9, u8>::new(), Some(9));
        let mut bytes = [0u8; 4];
        holds_what_fits(&mut SliceOutput::new(&mut bytes), Some(4));
        let mut none: [u8; 0] = [];
        let mut empty = SliceOutput::new(&mut none);
        empty.replace(b"").unwrap();
        assert_eq!(empty.replace(b"a"), Err(OutputFull));
    }
}
