//! Gives a plugin's memory 1-byte pages (the Wasm custom-page-sizes proposal), sized to
//! what the plugin needs: its stack and static data (everything below `__heap_base`)
//! plus the heap it asks for. A plugin then costs its host that many bytes of RAM
//! instead of a multiple of 64 KiB.
//!
//! The Rust toolchain links wasm32 modules with 64 KiB pages; this rewrites the memory
//! section of such a module and copies every other section unchanged, so the result
//! depends only on the input and the arguments. It refuses a module whose code could
//! depend on the page size: one that runs `memory.grow` or `memory.size` (which count
//! pages) unless it says that it counts 1-byte pages, as a plugin built with
//! `hookr-guest`'s `page-size-1` feature does (in a custom section, [`MARKER`]).

use std::fmt;

use wasmparser::{ExternalKind, Operator, Parser, Payload, TypeRef, Validator, WasmFeatures};

/// The custom section in which a module says which page size its code counts in: `1`
/// for 1-byte pages. `hookr-guest` writes it with its `page-size-1` feature.
pub const MARKER: &str = "hookr-guest.page-size";

/// Heaps and memories are rounded up to this many bytes.
pub const ALIGN: u64 = 16;

/// What to give the module's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Bytes of heap above `__heap_base`.
    pub heap: u64,
    /// The largest the memory may grow to, in bytes; `None` keeps the module's own
    /// maximum (converted to bytes), or none.
    pub max: Option<u64>,
}

/// What was done: the memory before and after, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resized {
    /// The new module.
    pub wasm: Vec<u8>,
    /// `__heap_base`: the stack and static data below it.
    pub heap_base: u64,
    /// The initial memory before, in bytes.
    pub old_min: u64,
    /// The initial memory now, in bytes.
    pub min: u64,
    /// The largest memory now, in bytes, if bounded.
    pub max: Option<u64>,
}

/// Why a module cannot be given 1-byte pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Error(format!("not a valid module: {e}"))
    }
}

fn fail<T>(why: impl Into<String>) -> Result<T, Error> {
    Err(Error(why.into()))
}

/// What the rewrite needs to know about a module, read in one pass.
#[derive(Default)]
struct Facts {
    /// (page size log2, minimum in pages, maximum in pages) of each memory it defines.
    memories: Vec<(u32, u64, Option<u64>)>,
    imports_memory: bool,
    /// The init value of each global it defines, when an `i32.const`.
    globals: Vec<Option<i32>>,
    imported_globals: u32,
    heap_base_global: Option<u32>,
    /// The end of each active data segment of memory 0 with a constant offset.
    data_ends: Vec<u64>,
    /// The first function body that runs `memory.grow` or `memory.size`, if any.
    counts_pages: Option<u32>,
    /// What the module's [`MARKER`] section says, if it has one.
    marker: Option<Vec<u8>>,
}

fn i32_const(expr: &wasmparser::ConstExpr<'_>) -> Option<i32> {
    let mut ops = expr.get_operators_reader();
    match (ops.read().ok()?, ops.read().ok()?) {
        (Operator::I32Const { value }, Operator::End) => Some(value),
        _ => None,
    }
}

fn facts(wasm: &[u8]) -> Result<Facts, Error> {
    let mut facts = Facts::default();
    let mut body = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    match import?.ty {
                        TypeRef::Memory(_) => facts.imports_memory = true,
                        TypeRef::Global(_) => facts.imported_globals += 1,
                        _ => {}
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory?;
                    if memory.memory64 || memory.shared {
                        return fail("its memory is 64-bit or shared: only a plain 32-bit memory is resized");
                    }
                    facts.memories.push((memory.page_size_log2.unwrap_or(16), memory.initial, memory.maximum));
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    facts.globals.push(i32_const(&global?.init_expr));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.name == "__heap_base" && export.kind == ExternalKind::Global {
                        facts.heap_base_global = Some(export.index);
                    }
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data?;
                    if let wasmparser::DataKind::Active { memory_index: 0, offset_expr } = data.kind {
                        let Some(offset) = i32_const(&offset_expr) else {
                            return fail("a data segment has an offset that is not a constant");
                        };
                        facts.data_ends.push(u64::from(offset as u32) + data.data.len() as u64);
                    }
                }
            }
            Payload::CodeSectionEntry(code) => {
                let mut ops = code.get_operators_reader()?;
                while !ops.eof() {
                    if let Operator::MemoryGrow { .. } | Operator::MemorySize { .. } = ops.read()? {
                        facts.counts_pages.get_or_insert(body);
                        break;
                    }
                }
                body += 1;
            }
            Payload::CustomSection(reader) if reader.name() == MARKER => {
                facts.marker = Some(reader.data().to_vec());
            }
            _ => {}
        }
    }
    Ok(facts)
}

/// The module `wasm` with its memory given 1-byte pages: an initial size of
/// `__heap_base` plus `request.heap` bytes (rounded up to [`ALIGN`]) and the maximum
/// `request.max` asks for.
pub fn resize(wasm: &[u8], request: Request) -> Result<Resized, Error> {
    let mut features = WasmFeatures::default();
    features.insert(WasmFeatures::CUSTOM_PAGE_SIZES);
    Validator::new_with_features(features).validate_all(wasm)?;
    let facts = facts(wasm)?;
    if facts.imports_memory {
        return fail("it imports its memory: only a memory the module defines is resized");
    }
    let &[(log2, initial, maximum)] = facts.memories.as_slice() else {
        return fail(format!("it defines {} memories: a plugin has exactly one", facts.memories.len()));
    };
    match (facts.marker.as_deref(), facts.counts_pages) {
        (Some(b"1"), _) | (None, None) => {}
        (Some(other), _) => {
            return fail(format!(
                "its `{MARKER}` section says its code counts pages of {:?} bytes, not 1",
                String::from_utf8_lossy(other)
            ))
        }
        (None, Some(body)) => {
            return fail(format!(
                "function body {body} runs `memory.grow` or `memory.size`, which count pages, and nothing \
                 says the code counts 1-byte pages: build it with hookr-guest's `page-size-1` feature, or \
                 with an allocator that never grows memory"
            ))
        }
    }
    let Some(index) = facts.heap_base_global else {
        return fail("it does not export `__heap_base`, so where its heap starts is unknown");
    };
    let heap_base = index
        .checked_sub(facts.imported_globals)
        .and_then(|i| facts.globals.get(i as usize).copied().flatten())
        .map(|base| u64::from(base as u32));
    let Some(heap_base) = heap_base else {
        return fail("its `__heap_base` is not a global set to a constant");
    };
    let page = 1u64 << log2;
    let old_min = initial * page;
    let data_end = facts.data_ends.iter().copied().max().unwrap_or(0);
    let min = heap_base.max(data_end).checked_add(request.heap).map(|n| n.next_multiple_of(ALIGN));
    let Some(min) = min.filter(|&min| min <= 1 << 32) else {
        return fail("a heap that large does not fit a 32-bit memory");
    };
    let max = match request.max {
        Some(max) if max < min => {
            return fail(format!("the maximum ({max} bytes) is below the initial memory ({min})"))
        }
        Some(max) if max > 1 << 32 => return fail("the maximum does not fit a 32-bit memory"),
        Some(max) => Some(max),
        None => maximum.map(|m| (m * page).max(min).min(1 << 32)),
    };
    let mut module = wasm_encoder::Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let Some((id, range)) = payload?.as_section() else { continue };
        if id == wasm_encoder::SectionId::Memory as u8 {
            let mut memories = wasm_encoder::MemorySection::new();
            memories.memory(wasm_encoder::MemoryType {
                minimum: min,
                maximum: max,
                memory64: false,
                shared: false,
                page_size_log2: Some(0),
            });
            module.section(&memories);
        } else {
            let range =
                usize::try_from(range.start).unwrap_or(usize::MAX)..usize::try_from(range.end).unwrap_or(usize::MAX);
            module.section(&wasm_encoder::RawSection { id, data: &wasm[range] });
        }
    }
    let out = module.finish();
    Validator::new_with_features(features)
        .validate_all(&out)
        .map_err(|e| Error(format!("the rewritten module does not validate: {e}")))?;
    Ok(Resized { wasm: out, heap_base, old_min, min, max })
}
