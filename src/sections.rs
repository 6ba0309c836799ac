//! Reading a module's sections by hand, for what wasmi does not tell: the page size
//! of each memory, and how many locals each function declares.

use alloc::vec::Vec;

/// The id of the memory section.
const MEMORY: u8 = 5;
/// The id of the start section.
const START: u8 = 8;
/// The id of the code section.
const CODE: u8 = 10;

/// Reads an unsigned LEB128 of at most `bits` bits.
fn leb(bytes: &[u8], at: &mut usize, bits: u32) -> Option<u64> {
    let (mut value, mut shift) = (0u64, 0u32);
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        let part = u64::from(byte & 0x7f);
        if shift >= bits || (bits - shift < 7 && part >> (bits - shift) != 0) {
            return None;
        }
        value |= part << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
        shift += 7;
    }
}

/// Where section `id` of `wasm` is: the offset of its contents and of its end, or
/// `None` inside when the module has no such section. `None` when the bytes are not a
/// module whose sections decode up to that one.
fn section(wasm: &[u8], id: u8) -> Option<Option<(usize, usize)>> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return None;
    }
    let mut at = 8;
    while at < wasm.len() {
        let this = wasm[at];
        at += 1;
        let len = usize::try_from(leb(wasm, &mut at, 32)?).ok()?;
        let end = at.checked_add(len).filter(|&end| end <= wasm.len())?;
        if this == id {
            return Some(Some((at, end)));
        }
        at = end;
    }
    Some(None)
}

/// The page size, in bytes, of each memory a module defines (imported memories are not
/// counted): 65536, or 1 for a memory with 1-byte pages (the custom-page-sizes
/// proposal). Read from the module's memory section, without validating or compiling
/// anything else; `None` when the bytes are not a module whose sections decode up to
/// that one, or a page size is not a power of two that fits a `u64`.
///
/// ```
/// let small = wat::parse_str(r#"(module (memory 300 (pagesize 1)))"#).unwrap();
/// assert_eq!(hookr::memory_page_sizes(&small), Some(vec![1]));
/// let plain = wat::parse_str(r#"(module (memory 1))"#).unwrap();
/// assert_eq!(hookr::memory_page_sizes(&plain), Some(vec![65536]));
/// assert_eq!(hookr::memory_page_sizes(b"\0asm\x01\0\0\0\x05\x7f"), None);
/// ```
pub fn memory_page_sizes(wasm: &[u8]) -> Option<Vec<u64>> {
    let Some((mut at, end)) = section(wasm, MEMORY)? else {
        return Some(Vec::new());
    };
    let section = &wasm[..end];
    let count = leb(section, &mut at, 32)?;
    let mut sizes = Vec::new();
    for _ in 0..count {
        let flags = *section.get(at)?;
        at += 1;
        let bits = if flags & 0b100 != 0 { 64 } else { 32 };
        leb(section, &mut at, bits)?;
        if flags & 0b1 != 0 {
            leb(section, &mut at, bits)?;
        }
        let log2 = if flags & 0b1000 != 0 { leb(section, &mut at, 32)? } else { 16 };
        sizes.push(1u64.checked_shl(u32::try_from(log2).ok().filter(|&l| l < 64)?)?);
    }
    Some(sizes)
}

/// Whether the module has a start section: a function that instantiation runs.
/// `None` when the sections do not decode.
pub(crate) fn has_start(wasm: &[u8]) -> Option<bool> {
    section(wasm, START).map(|found| found.is_some())
}

/// The function (its index among the functions the module defines) that declares the
/// most locals, and how many: parameters not counted. `None` when the code section
/// does not decode; `Some(None)` for a module without code.
pub(crate) fn most_locals(wasm: &[u8]) -> Option<Option<(u32, u64)>> {
    let Some((mut at, end)) = section(wasm, CODE)? else {
        return Some(None);
    };
    let code = &wasm[..end];
    let count = leb(code, &mut at, 32)?;
    let mut most: Option<(u32, u64)> = None;
    for index in 0..count {
        let size = usize::try_from(leb(code, &mut at, 32)?).ok()?;
        let body_end = at.checked_add(size).filter(|&e| e <= end)?;
        let body = &code[..body_end];
        let groups = leb(body, &mut at, 32)?;
        let mut locals = 0u64;
        for _ in 0..groups {
            locals = locals.checked_add(leb(body, &mut at, 32)?)?;
            // A value type: one byte, or a reference type and its heap type.
            let kind = *body.get(at)?;
            at += 1;
            if kind == 0x63 || kind == 0x64 {
                leb(body, &mut at, 33)?;
            }
        }
        if most.is_none_or(|(_, n)| locals > n) {
            most = Some((index as u32, locals));
        }
        at = body_end;
    }
    Some(most)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locals_are_counted_per_function() {
        let wasm = wat::parse_str(
            r#"(module
              (func (param i32) (local i32 i64))
              (func (local i32) (local f64 f64 f64) (local i32))
              (func))"#,
        )
        .unwrap();
        assert_eq!(most_locals(&wasm), Some(Some((1, 5))));
        assert_eq!(most_locals(&wat::parse_str("(module)").unwrap()), Some(None));
        assert_eq!(has_start(&wasm), Some(false));
        assert_eq!(has_start(&wat::parse_str("(module (func $s) (start $s))").unwrap()), Some(true));
        // Cut anywhere inside the code section, it does not decode.
        let (start, _) = section(&wasm, CODE).unwrap().unwrap();
        for cut in start..wasm.len() {
            assert_eq!(most_locals(&wasm[..cut]), None, "{cut}");
        }
    }
}
