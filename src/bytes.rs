//! Byte-string comparisons that cost a length check when a side is empty.
//!
//! An empty slice's pointer is often dangling (`""` and `Vec::new()` point at address
//! 1). Comparing it calls `memcmp` with zero bytes, which is correct, but a `memcmp`
//! built on masked vector loads still issues a load there, and a masked load from an
//! unmapped page costs some CPUs a microcode assist: about 80 ns, for what should be
//! a length check. Host-function keys and transcript records compare empty bindings
//! and namespaces all the time.

use core::cmp::Ordering;

/// `a == b`.
#[inline]
pub(crate) fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// `a.cmp(b)`.
#[inline]
pub(crate) fn cmp(a: &[u8], b: &[u8]) -> Ordering {
    if a.is_empty() || b.is_empty() {
        a.len().cmp(&b.len())
    } else {
        a.cmp(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_with_the_slice_comparisons() {
        let words: [&[u8]; 6] = [b"", b"a", b"ab", b"b", b"\xff", b"a\0"];
        for a in words {
            for b in words {
                assert_eq!(eq(a, b), a == b, "{a:?} {b:?}");
                assert_eq!(cmp(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }
}
