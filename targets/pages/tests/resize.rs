//! What `resize` makes of a module, and the modules it refuses.

use hookr_pages::{resize, Request, MARKER};

/// A module laid out the way the Rust toolchain lays out a plugin: a 64 KiB-page memory,
/// `__heap_base` exported as a constant global, data below it; `extra` goes into the
/// module's body.
fn plugin(memory: &str, extra: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  {memory}
  (global $sp (mut i32) (i32.const 8192))
  (global (export "__data_end") i32 (i32.const 8300))
  (global (export "__heap_base") i32 (i32.const 8304))
  (data (i32.const 8192) "static data")
  (func (export "__plugin_call") (param i32 i32) (result i32) (i32.const 1))
  {extra})"#
    ))
    .unwrap()
}

const REQUEST: Request = Request { heap: 4000, max: None };

/// The memory of a module: (minimum, maximum, page size log2).
fn memory(wasm: &[u8]) -> (u64, Option<u64>, Option<u32>) {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::MemorySection(reader) = payload.unwrap() {
            let m = reader.into_iter().next().unwrap().unwrap();
            return (m.initial, m.maximum, m.page_size_log2);
        }
    }
    panic!("no memory section")
}

#[test]
fn the_memory_becomes_the_static_data_and_the_heap_in_one_byte_pages() {
    let wasm = plugin(r#"(memory (export "memory") 1)"#, "");
    let resized = resize(&wasm, REQUEST).unwrap();
    assert_eq!((resized.heap_base, resized.old_min), (8304, 65536));
    // 8304 + 4000, rounded up to 16 bytes.
    assert_eq!(resized.min, 12304);
    assert_eq!(memory(&resized.wasm), (12304, None, Some(0)));
    // Everything but the memory section is as it was: the code and data are the same.
    let sections = |wasm: &[u8]| -> Vec<(u8, Vec<u8>)> {
        wasmparser::Parser::new(0)
            .parse_all(wasm)
            .filter_map(|p| p.unwrap().as_section())
            .filter(|(id, _)| *id != 5)
            .map(|(id, r)| (id, wasm[r.start as usize..r.end as usize].to_vec()))
            .collect()
    };
    assert_eq!(sections(&resized.wasm), sections(&wasm));
    // The same input gives the same bytes, and resizing again changes nothing.
    assert_eq!(resize(&wasm, REQUEST).unwrap().wasm, resized.wasm);
    assert_eq!(resize(&resized.wasm, REQUEST).unwrap().wasm, resized.wasm);
    // A different heap, a different size.
    assert_eq!(resize(&resized.wasm, Request { heap: 0, max: None }).unwrap().min, 8304);
}

#[test]
fn maximums_are_in_bytes() {
    let wasm = plugin(r#"(memory (export "memory") 1 4)"#, "");
    assert_eq!(resize(&wasm, REQUEST).unwrap().max, Some(4 * 65536));
    let resized = resize(&wasm, Request { heap: 4000, max: Some(20_000) }).unwrap();
    assert_eq!(memory(&resized.wasm), (12304, Some(20_000), Some(0)));
    let err = resize(&wasm, Request { heap: 4000, max: Some(12_000) }).unwrap_err();
    assert!(err.to_string().contains("below the initial memory"), "{err}");
    let err = resize(&wasm, Request { heap: 1 << 32, max: None }).unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
}

#[test]
fn data_past_the_heap_base_is_kept_inside() {
    let wasm = plugin(r#"(memory (export "memory") 1)"#, r#"(data (i32.const 30000) "late")"#);
    assert_eq!(resize(&wasm, REQUEST).unwrap().min, (30004u64 + 4000).next_multiple_of(16));
}

#[test]
fn code_that_counts_pages_needs_the_marker() {
    let grows = r#"(func (export "more") (result i32) (memory.grow (i32.const 1)))"#;
    let wasm = plugin(r#"(memory (export "memory") 1)"#, grows);
    let err = resize(&wasm, REQUEST).unwrap_err();
    assert!(err.to_string().contains("`page-size-1`"), "{err}");
    let sized = plugin(r#"(memory (export "memory") 1)"#, r#"(func (export "size") (result i32) (memory.size))"#);
    assert!(resize(&sized, REQUEST).is_err());
    // The kit's marker says its code counts 1-byte pages.
    let marked = plugin(r#"(memory (export "memory") 1)"#, &format!(r#"{grows} (@custom "{MARKER}" "1")"#));
    assert_eq!(resize(&marked, REQUEST).unwrap().min, 12304);
    let wrong = plugin(r#"(memory (export "memory") 1)"#, &format!(r#"{grows} (@custom "{MARKER}" "65536")"#));
    let err = resize(&wrong, REQUEST).unwrap_err();
    assert!(err.to_string().contains("not 1"), "{err}");
}

#[test]
fn what_is_not_a_plugin_memory_is_refused() {
    let module = |wat: &str| wat::parse_str(wat).unwrap();
    for (wasm, why) in [
        (module(r#"(module (global (export "__heap_base") i32 (i32.const 0)))"#), "defines 0 memories"),
        (plugin(r#"(memory (export "memory") 1) (memory 1)"#, ""), "defines 2 memories"),
        (plugin(r#"(import "env" "memory" (memory 1))"#, ""), "imports its memory"),
        (
            module(r#"(module (memory (export "memory") i64 1) (global (export "__heap_base") i32 (i32.const 0)))"#),
            "64-bit",
        ),
        (module(r#"(module (memory (export "memory") 1))"#), "does not export `__heap_base`"),
        (b"\0asm\x01\0\0\0\x05\x03\x01\x00".to_vec(), "not a valid module"),
    ] {
        let err = resize(&wasm, REQUEST).unwrap_err();
        assert!(err.to_string().contains(why), "{why}: {err}");
    }
}
