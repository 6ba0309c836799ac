//! Resource limits: fuel, memory and the sizes of what crosses the ABI.

/// Limits that bound what one plugin may take from its host.
///
/// The defaults suit a desktop host; firmware will want smaller sizes. Every size is
/// in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel for each call and each initialiser; `None` turns fuel metering off
    /// (the default: metering slows the interpreter). Out of fuel is
    /// [`Error::OutOfFuel`](crate::Error::OutOfFuel).
    pub fuel: Option<u64>,
    /// The largest linear memory, in 64 KiB pages (default 256 = 16 MiB). A module
    /// whose initial memory is larger fails to instantiate; `memory.grow` past it
    /// returns -1, as the Wasm spec says.
    pub max_memory_pages: u32,
    /// The most table elements (default 10 000).
    pub max_table_elements: usize,
    /// The deepest guest call stack in frames (default 1024); deeper recursion traps
    /// with a stack overflow.
    pub max_recursion_depth: usize,
    /// The largest request payload (default 16 MiB).
    pub max_request: usize,
    /// The largest plugin response (default 16 MiB).
    pub max_response: usize,
    /// The largest host-function response (default 16 MiB).
    pub max_host_response: usize,
    /// The largest error message, plugin or host (default 64 KiB).
    pub max_error: usize,
    /// The largest log line (default 64 KiB).
    pub max_log: usize,
    /// The most bytes one WASI `fd_write` passes to a sink (default 1 MiB); past it the
    /// write is short, which WASI allows, and the plugin writes the rest again.
    pub max_output: usize,
}

impl Limits {
    /// The size of a Wasm page.
    pub const PAGE_SIZE: usize = 65536;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: None,
            max_memory_pages: 256,
            max_table_elements: 10_000,
            max_recursion_depth: 1024,
            max_request: 16 << 20,
            max_response: 16 << 20,
            max_host_response: 16 << 20,
            max_error: 64 << 10,
            max_log: 64 << 10,
            max_output: 1 << 20,
        }
    }
}
