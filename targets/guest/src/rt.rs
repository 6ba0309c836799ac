//! What every `no_std` plugin needs from its runtime: an allocator and a panic handler.

#[cfg(feature = "dlmalloc")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(feature = "panic-handler")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // Formatting could allocate, and the panic may be an allocation failure: log only
    // a message that needs no formatting.
    let message = info.message().as_str().unwrap_or("formatted panic message");
    let mut line = [0u8; 128];
    let prefix = b"plugin panicked: ";
    let mut keep = message.len().min(line.len() - prefix.len());
    while !message.is_char_boundary(keep) {
        keep -= 1;
    }
    let len = prefix.len() + keep;
    line[..prefix.len()].copy_from_slice(prefix);
    line[prefix.len()..len].copy_from_slice(&message.as_bytes()[..keep]);
    // SAFETY: a live stack buffer and a length within it; the host only reads it.
    unsafe { crate::sys::log(line.as_ptr(), len) };
    core::arch::wasm32::unreachable()
}
