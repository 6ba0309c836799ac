//! Reading a module's sections by hand, for what wasmi does not tell: the page size
//! of each memory, how many locals each function declares, and how many `memory.grow`
//! and `table.grow` instructions it has.

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

/// What the code section says of a module's functions, each named by its index among
/// the functions the module defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CodeFacts {
    /// The function that declares the most locals, and how many: parameters not counted.
    pub(crate) most_locals: Option<(u32, u64)>,
    /// The first function with more than the given number of `memory.grow` and
    /// `table.grow` instructions, and how many it has.
    pub(crate) too_many_grows: Option<(u32, u64)>,
}

/// Reads the code section: see [`CodeFacts`], with `max_grows` the most `memory.grow`
/// and `table.grow` instructions a function may have. `None` when the code section does
/// not decode; all `None` inside for a module without code.
pub(crate) fn code_facts(wasm: &[u8], max_grows: u64) -> Option<CodeFacts> {
    let Some((mut at, end)) = section(wasm, CODE)? else {
        return Some(CodeFacts::default());
    };
    let code = &wasm[..end];
    let count = leb(code, &mut at, 32)?;
    let mut facts = CodeFacts::default();
    for index in 0..count {
        let index = u32::try_from(index).ok()?;
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
        if facts.most_locals.is_none_or(|(_, n)| locals > n) {
            facts.most_locals = Some((index, locals));
        }
        if facts.too_many_grows.is_none() {
            let grows = grows(&body[at..], max_grows)?;
            if grows > max_grows {
                facts.too_many_grows = Some((index, grows));
            }
        }
        at = body_end;
    }
    Some(facts)
}

/// How many `memory.grow` and `table.grow` instructions the function body `expr` has,
/// or a number no larger than `max` when it has at most `max`.
///
/// `memory.grow` is 0x40 and the memory's index, which is 0 (a plugin has one memory),
/// as a LEB128 whose first byte is 0x00 or 0x80; `table.grow` is 0xfc and 15 as a
/// LEB128, whose first byte is 0x0f or 0x8f. So a body with no more than `max` of those
/// byte pairs (nearly every body: the pairs are rare elsewhere) is not decoded, and
/// another is, instruction by instruction. `None` when it does not decode.
fn grows(expr: &[u8], max: u64) -> Option<u64> {
    let (firsts, seconds) = (&expr[..expr.len().saturating_sub(1)], expr.get(1..).unwrap_or_default());
    // Without branches, over two slices, counted in 16 bits a stretch at a time: the
    // compiler vectorises it (about 0.1 ns a byte on a desktop core, where counting in
    // 64 bits took 0.6).
    let mut bound = 0u64;
    for (firsts, seconds) in firsts.chunks(4096).zip(seconds.chunks(4096)) {
        let mut pairs = 0u16;
        for (&a, &b) in firsts.iter().zip(seconds) {
            pairs += u16::from((a == 0x40) & (b & 0x7f == 0) | (a == 0xfc) & (b & 0x7f == 0x0f));
        }
        bound += u64::from(pairs);
    }
    if bound <= max {
        return Some(bound);
    }
    let mut reader = wasmparser::BinaryReader::new(expr, 0);
    let mut grows = 0u64;
    while !reader.eof() {
        if let wasmparser::Operator::MemoryGrow { .. } | wasmparser::Operator::TableGrow { .. } =
            reader.read_operator().ok()?
        {
            grows += 1;
        }
    }
    Some(grows)
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
        assert_eq!(code_facts(&wasm, 0).unwrap().most_locals, Some((1, 5)));
        assert_eq!(code_facts(&wat::parse_str("(module)").unwrap(), 0), Some(CodeFacts::default()));
        assert_eq!(has_start(&wasm), Some(false));
        assert_eq!(has_start(&wat::parse_str("(module (func $s) (start $s))").unwrap()), Some(true));
        // Cut anywhere inside the code section, it does not decode.
        let (start, _) = section(&wasm, CODE).unwrap().unwrap();
        for cut in start..wasm.len() {
            assert_eq!(code_facts(&wasm[..cut], 0), None, "{cut}");
        }
    }

    #[test]
    fn grows_are_counted_exactly_once_a_body_might_have_too_many() {
        // Empty block types (0x40) before `unreachable` (0x00) look like `memory.grow`.
        let blocks = "(block (block (block (block (block (block unreachable))))))".repeat(4);
        let wasm = wat::parse_str(alloc::format!(
            r#"(module (memory 1) (table $t 1 funcref)
              (func {blocks})
              (func (drop (memory.grow (memory.grow (i32.const 1))))
                (drop (table.grow $t (ref.null func) (i32.const 1))) {blocks})
              (func (drop (memory.grow (i32.const 1)))))"#
        ))
        .unwrap();
        // 4 such pairs but no grow in the first; three grows in the second.
        assert_eq!(code_facts(&wasm, 2).unwrap().too_many_grows, Some((1, 3)));
        assert_eq!(code_facts(&wasm, 3).unwrap().too_many_grows, None);
        assert_eq!(code_facts(&wasm, 0).unwrap().too_many_grows, Some((1, 3)));
        assert_eq!(grows(&[0x40, 0x00, 0x40, 0x80], 2), Some(2), "a bound, not decoded");
        assert_eq!(grows(&[0x40, 0x00, 0x40, 0x80, 0x00], 1), Some(2), "decoded");
        assert_eq!(grows(&[0xfc, 0x0f, 0x00, 0xfc, 0x8f, 0x00, 0x00], 1), Some(2), "decoded");
        assert_eq!(grows(&[0x40, 0x00, 0x40, 0x00, 0x40], 1), None, "decoded: cut inside");
    }
}
