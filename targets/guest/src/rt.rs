//! What every `no_std` plugin needs from its runtime: an allocator and a panic handler.

#[cfg(feature = "dlmalloc")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(all(feature = "allocator", not(feature = "dlmalloc")))]
#[global_allocator]
static ALLOCATOR: crate::heap::Heap = crate::heap::Heap::new();

/// A log line in a fixed stack buffer: formatting into it never allocates (the panic
/// may be an allocation failure), and what does not fit is cut at a character boundary.
#[cfg(feature = "panic-handler")]
struct Line {
    bytes: [u8; 256],
    len: usize,
}

#[cfg(feature = "panic-handler")]
impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.len;
        let mut keep = s.len().min(room);
        while !s.is_char_boundary(keep) {
            keep -= 1;
        }
        self.bytes[self.len..self.len + keep].copy_from_slice(&s.as_bytes()[..keep]);
        self.len += keep;
        Ok(())
    }
}

#[cfg(feature = "panic-handler")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    let mut line = Line { bytes: [0; 256], len: 0 };
    // `PanicInfo` shows where and why: "panicked at src/lib.rs:12:5:\nindex out of bounds…".
    let _ = write!(line, "plugin {info}");
    // SAFETY: a live stack buffer and a length within it; the host only reads it.
    unsafe { crate::sys::log(line.bytes.as_ptr(), line.len) };
    core::arch::wasm32::unreachable()
}
