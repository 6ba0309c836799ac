//! What every `no_std` plugin needs from its runtime: an allocator and a panic handler.

#[cfg(feature = "dlmalloc")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(all(feature = "allocator", not(feature = "dlmalloc")))]
#[global_allocator]
static ALLOCATOR: crate::heap::Heap = crate::heap::Heap::new();

/// Says, in a custom section of the module, that the plugin's code counts memory in
/// 1-byte pages: `hookr-pages` (targets/pages) then gives the module's memory 1-byte
/// pages, and refuses to for a plugin without it.
#[cfg(all(feature = "page-size-1", feature = "allocator", not(feature = "dlmalloc")))]
#[used]
#[link_section = "hookr-guest.page-size"]
static PAGE_SIZE: [u8; 1] = *b"1";

/// A log line in a fixed stack buffer: writing to it never allocates (the panic may be
/// an allocation failure), and what does not fit is cut at a character boundary.
#[cfg(feature = "panic-handler")]
struct Line {
    bytes: [u8; 256],
    len: usize,
}

#[cfg(feature = "panic-handler")]
impl Line {
    #[inline(never)]
    fn push(&mut self, s: &str) {
        let room = self.bytes.len() - self.len;
        let mut keep = s.len().min(room);
        while !s.is_char_boundary(keep) {
            keep -= 1;
        }
        // `get`, not indexing: an index panic would bring its formatting into
        // every plugin.
        if let (Some(to), Some(from)) = (
            self.bytes.get_mut(self.len..self.len + keep),
            s.as_bytes().get(..keep),
        ) {
            to.copy_from_slice(from);
            self.len += keep;
        }
    }

    fn push_decimal(&mut self, n: u32) {
        self.push(crate::text::decimal(n as usize, &mut [0; 20]));
    }
}

/// Logs where the plugin panicked and traps: `plugin panicked at src/lib.rs:12:5`,
/// followed by `:` and the message on the next line when the message is a plain string
/// (`panic!("no sensor")`, `Option::unwrap`, `Option::expect`). A message with
/// arguments (`index out of bounds: the len is 3 but the index is 7`) is left out:
/// formatting it would put `core::fmt` into every plugin.
#[cfg(feature = "panic-handler")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut line = Line {
        bytes: [0; 256],
        len: 0,
    };
    line.push("plugin panicked");
    if let Some(at) = info.location() {
        line.push(" at ");
        line.push(at.file());
        for n in [at.line(), at.column()] {
            line.push(":");
            line.push_decimal(n);
        }
    }
    if let Some(message) = info.message().as_str() {
        line.push(":\n");
        line.push(message);
    }
    // SAFETY: a live stack buffer and a length within it; the host only reads it.
    unsafe { crate::sys::log(line.bytes.as_ptr(), line.len) };
    core::arch::wasm32::unreachable()
}
