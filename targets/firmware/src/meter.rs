//! Memory meters: a heap wrapper that records its high-water mark, and a stack
//! high-water scan over the region cortex-m-rt paints at reset (`paint-stack`).

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use embedded_alloc::LlffHeap;

/// A heap that counts the bytes it has handed out and the most it ever had out at once.
pub struct MeteredHeap {
    heap: LlffHeap,
    in_use: AtomicUsize,
    peak: AtomicUsize,
    /// The most bytes allocated at any one time since reset: never reset.
    peak_ever: AtomicUsize,
    /// Allocations and reallocations made, ever.
    allocations: AtomicUsize,
    /// Allocations and reallocations the heap refused (out of memory), ever.
    failures: AtomicUsize,
    /// The size of the largest request it refused.
    largest_refused: AtomicUsize,
}

impl MeteredHeap {
    /// An empty heap; [`MeteredHeap::init`] gives it memory.
    pub const fn empty() -> Self {
        Self {
            heap: LlffHeap::empty(),
            in_use: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            peak_ever: AtomicUsize::new(0),
            allocations: AtomicUsize::new(0),
            failures: AtomicUsize::new(0),
            largest_refused: AtomicUsize::new(0),
        }
    }

    /// Hands the heap `size` bytes at `start`.
    ///
    /// # Safety
    /// Call once, before the first allocation, with memory nothing else uses for the
    /// rest of the program.
    pub unsafe fn init(&self, start: usize, size: usize) {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.heap.init(start, size) }
    }

    /// Bytes currently allocated (as requested by callers).
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// The most bytes allocated at any one time since [`MeteredHeap::reset_peak`].
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// The most bytes allocated at any one time since reset, across
    /// [`MeteredHeap::reset_peak`].
    pub fn peak_ever(&self) -> usize {
        self.peak_ever.load(Ordering::Relaxed)
    }

    /// Starts a new peak measurement from what is allocated now.
    pub fn reset_peak(&self) {
        self.peak.store(self.in_use(), Ordering::Relaxed);
    }

    /// How many allocations (and reallocations) were made since reset: the
    /// difference over a stretch of code counts its allocations.
    pub fn allocations(&self) -> usize {
        self.allocations.load(Ordering::Relaxed)
    }

    /// How many allocations the heap refused, ever: any is a failed run.
    pub fn failures(&self) -> usize {
        self.failures.load(Ordering::Relaxed)
    }

    /// The size of the largest allocation the heap refused (0 when none was): beside
    /// the bytes in use, whether the heap was full or only too fragmented for it.
    pub fn largest_refused(&self) -> usize {
        self.largest_refused.load(Ordering::Relaxed)
    }

    fn refused(&self, bytes: usize) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.largest_refused.fetch_max(bytes, Ordering::Relaxed);
    }

    fn grew(&self, bytes: usize) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
        let now = self.in_use.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
        self.peak_ever.fetch_max(now, Ordering::Relaxed);
    }

    fn shrank(&self, bytes: usize) {
        self.in_use.fetch_sub(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the inner heap, which upholds the
// `GlobalAlloc` contract; the counters only observe sizes.
unsafe impl GlobalAlloc for MeteredHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { self.heap.alloc(layout) };
        if p.is_null() {
            self.refused(layout.size());
        } else {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { self.heap.dealloc(p, layout) };
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as ours.
        let q = unsafe { self.heap.realloc(p, layout, new_size) };
        if q.is_null() {
            self.refused(new_size);
        } else {
            self.grew(new_size);
            self.shrank(layout.size());
        }
        q
    }
}

/// The heap's start and size: from the end of .bss (cortex-m-rt's `__sheap`) to
/// `_heap_end`, which the memory map sets.
pub fn heap_bounds() -> (usize, usize) {
    extern "C" {
        static __sheap: u32;
        static _heap_end: u32;
    }
    // Only the addresses of the linker symbols are taken, never their contents.
    let (start, end) = (ptr::addr_of!(__sheap) as usize, ptr::addr_of!(_heap_end) as usize);
    (start, end - start)
}

/// Bytes of RAM the statics take: .data and .bss (and .uninit), from the start of the
/// RAM region to the heap.
pub fn statics_size() -> usize {
    extern "C" {
        static __sdata: u32;
    }
    // Only the address of the linker symbol is taken, never its contents.
    heap_bounds().0 - ptr::addr_of!(__sdata) as usize
}

/// The stack region, from `memory.x`; it grows down from `_stack_start` to `_stack_end`.
fn stack_bounds() -> (usize, usize) {
    extern "C" {
        static _stack_end: u32;
        static _stack_start: u32;
    }
    // Only the addresses of the linker symbols are taken, never their contents.
    (ptr::addr_of!(_stack_end) as usize, ptr::addr_of!(_stack_start) as usize)
}

/// Size of the stack region in bytes.
pub fn stack_size() -> usize {
    let (bottom, top) = stack_bounds();
    top - bottom
}

/// Most stack used since reset or the last [`repaint_stack`]: the distance from the top
/// of the stack to the lowest word that no longer holds the paint.
pub fn stack_high_water() -> usize {
    let (bottom, top) = stack_bounds();
    let mut addr = bottom;
    while addr < top {
        // SAFETY: `addr` is word-aligned and inside the stack region (RAM).
        let word = unsafe { ptr::read_volatile(addr as *const u32) };
        if word != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        addr += 4;
    }
    top - addr
}

/// Most stack used since reset, across repaints.
pub fn stack_peak() -> usize {
    STACK_PEAK.load(Ordering::Relaxed).max(stack_high_water())
}

/// The high-water mark as it stood before each repaint, for [`stack_peak`].
static STACK_PEAK: AtomicUsize = AtomicUsize::new(0);

/// Paints the unused part of the stack again so the next [`stack_high_water`] measures
/// only what runs after this call.
#[inline(never)]
pub fn repaint_stack() {
    STACK_PEAK.fetch_max(stack_high_water(), Ordering::Relaxed);
    let (bottom, _) = stack_bounds();
    // Leave a margin under our own frame; nothing else lives below the stack pointer
    // (no interrupts are enabled in this program).
    let limit = cortex_m::register::msp::read() as usize - 64;
    let mut addr = bottom;
    while addr < limit {
        // SAFETY: `addr` is word-aligned, inside the stack region and below the live
        // stack, so no frame or saved register is there.
        unsafe { ptr::write_volatile(addr as *mut u32, cortex_m_rt::STACK_PAINT_VALUE) };
        addr += 4;
    }
}
