//! What each fuzz target does with its input, kept apart from the libFuzzer entry points
//! so that `tests/fuzz_regressions.rs` at the repository root replays saved inputs
//! through exactly the same code on stable Rust.
//!
//! Each module has one `run(data: &[u8])` that panics when it finds a bug.

extern crate alloc;

pub mod codec;
pub mod load_invoke;
pub mod simple_ops;
pub mod transcript;
