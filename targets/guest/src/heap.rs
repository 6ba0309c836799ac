//! The kit's global allocator: size classes with free lists over a bump region.
//!
//! A plugin's allocations are mostly a few buffers kept between calls and short-lived
//! values of a handful of sizes, so a general-purpose allocator (dlmalloc: about 9 KB
//! of code) buys little. This one is under 1 KB:
//!
//! - Every size maps to a class: multiples of 16 bytes up to 64, then four classes per
//!   power of two (80, 96, 112, 128, 160, …), so above 64 bytes a block is less than a
//!   quarter larger than the request. Blocks are 16-byte aligned and never split or
//!   merged.
//! - A freed block goes onto its class's free list (a pointer in its first word), and
//!   the next allocation of that class takes it back: a plugin that keeps allocating
//!   the same sizes stops growing.
//! - New blocks are cut from the top of the heap, which starts at `__heap_base` and
//!   grows with `memory.grow`. A block that ends at the top is resized there in place
//!   (a growing vector does not move) and, when freed, gives its space back to the top.
//! - `memory.size` and `memory.grow` count pages: 64 KiB, or 1 byte with the
//!   `page-size-1` feature, for a module whose memory has 1-byte pages (the
//!   custom-page-sizes proposal). Such a module's memory must hold its stack and data,
//!   so it is at least `__heap_base` pages long; if it is shorter, its pages cannot be
//!   1 byte, and the heap counts 64 KiB pages after all.
//! - When memory cannot grow, allocation returns null, which Rust turns into an
//!   allocation error (`try_reserve` sees it as an `Err`).

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr;

/// The page size this plugin is built for: 1 byte with `page-size-1`, else 64 KiB.
const PAGE: usize = if cfg!(feature = "page-size-1") { 1 } else { 65536 };
/// The ordinary page size.
const PAGE_64K: usize = 65536;
/// The alignment of every block, and the step of the smallest classes.
const GRAIN: usize = 16;
/// 4 classes of 16..=64 bytes, then 4 for each power of two up to 2³¹: 104 in all,
/// rounded up to a power of two so that indexing with `class % CLASSES` needs no
/// bounds check.
const CLASSES: usize = 128;
/// The heap never takes the last 64 KiB of a 4 GiB memory, so that its end fits a
/// `usize`.
const MAX_BYTES: usize = 65535 * PAGE_64K;

extern "C" {
    /// The first byte after the stack and the static data, set by the linker.
    static __heap_base: u8;
}

/// The allocator installed by the `allocator` feature.
pub struct Heap(UnsafeCell<State>);

struct State {
    /// Where the next new block starts; 0 until the first allocation.
    top: usize,
    /// The size of a page of memory, found on the first allocation (0 before it, so
    /// that the heap's state starts all zero and takes no space in the module's data).
    page: usize,
    /// The end of the memory the heap owns.
    end: usize,
    /// The most recently freed block of each class, linked through its first word.
    free: [*mut u8; CLASSES],
}

// SAFETY: hookr-guest builds only for wasm32 without the `atomics` feature (lib.rs),
// where a plugin has a single thread, so the state is never reached from two threads.
unsafe impl Sync for Heap {}

impl Heap {
    /// An empty heap; it claims memory on its first allocation.
    pub const fn new() -> Self {
        Heap(UnsafeCell::new(State {
            top: 0,
            page: 0,
            end: 0,
            free: [ptr::null_mut(); CLASSES],
        }))
    }
}

/// The class of an allocation of `size` bytes, and the size of its blocks.
///
/// `size` is at most `isize::MAX` (a `Layout` guarantees it), so nothing overflows.
#[inline(always)]
fn class(size: usize) -> (usize, usize) {
    let s = size.max(1).next_multiple_of(GRAIN);
    if s <= 4 * GRAIN {
        return (s / GRAIN - 1, s);
    }
    // s is in (2^b, 2^(b+1)], b >= 6; the classes split that range in quarters.
    let b = (usize::BITS - 1 - (s - 1).leading_zeros()) as usize;
    let shift = b - 2;
    let quarter = (s - 1) >> shift; // 4..=7
    ((b - 6) * 4 + quarter, (quarter + 1) << shift)
}

impl State {
    /// Claims memory on first use: from `__heap_base` to the end of the initial memory.
    #[inline(always)]
    fn init(&mut self) {
        if self.top == 0 {
            let base = &raw const __heap_base as usize;
            self.top = base.next_multiple_of(GRAIN);
            let pages = wasm32::memory_size(0);
            // Fewer pages than the bytes below the heap: they are not 1-byte pages.
            self.page = if pages < base { PAGE_64K } else { PAGE };
            self.end = pages * self.page;
        }
    }

    /// Grows memory by at least `bytes` past `end`. False when it cannot grow. If the
    /// new pages do not follow the heap's end (something else called `memory.grow`), the
    /// heap continues on them and `top` moves there.
    #[cold]
    fn grow(&mut self, bytes: usize) -> bool {
        let page = self.page;
        let pages = bytes.div_ceil(page);
        if pages > (MAX_BYTES / page).saturating_sub(wasm32::memory_size(0)) {
            return false;
        }
        let old = wasm32::memory_grow(0, pages);
        if old == usize::MAX {
            return false;
        }
        let base = old * page;
        if base != self.end {
            self.top = base;
        }
        self.end = base + pages * page;
        true
    }

    /// Cuts a new block of `block` bytes aligned to `align` from the top of the heap.
    #[inline(never)]
    fn carve(&mut self, block: usize, align: usize) -> *mut u8 {
        loop {
            let Some(start) = self.top.checked_next_multiple_of(align) else {
                return ptr::null_mut();
            };
            let Some(stop) = start.checked_add(block) else {
                return ptr::null_mut();
            };
            if stop <= self.end {
                self.top = stop;
                return start as *mut u8;
            }
            if !self.grow(stop - self.end) {
                return ptr::null_mut();
            }
        }
    }

    #[inline(always)]
    fn alloc(&mut self, layout: Layout) -> *mut u8 {
        self.init();
        let (class, block) = class(layout.size());
        let list = &mut self.free[class % CLASSES];
        let head = *list;
        if !head.is_null() && head as usize & (layout.align() - 1) == 0 {
            // SAFETY: a block on a free list is ours and starts with the next one's address.
            *list = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        self.carve(block, layout.align().max(GRAIN))
    }

    #[inline(always)]
    fn dealloc(&mut self, ptr: *mut u8, size: usize) {
        let (class, block) = class(size);
        if ptr as usize + block == self.top {
            self.top = ptr as usize;
        } else {
            let list = &mut self.free[class % CLASSES];
            // SAFETY: the block is ours again and at least 16 bytes long.
            unsafe { ptr.cast::<*mut u8>().write(*list) };
            *list = ptr;
        }
    }
}

// Out of line: inlined, they would be copied into every drop of a `Vec` or `String`.
unsafe impl GlobalAlloc for Heap {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync` above), and no method of `State` calls
        // back into the allocator, so this is the only reference.
        unsafe { &mut *self.0.get() }.alloc(layout)
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`; `ptr` was allocated here with `layout`.
        unsafe { &mut *self.0.get() }.dealloc(ptr, layout.size())
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let state = unsafe { &mut *self.0.get() };
        let (_, old_block) = class(layout.size());
        let (_, new_block) = class(new_size);
        if new_block == old_block {
            return ptr;
        }
        let start = ptr as usize;
        if start + old_block == state.top {
            // The block ends at the top: resize it there.
            if let Some(stop) = start.checked_add(new_block) {
                if stop <= state.end
                    || (state.grow(stop - state.end) && state.top == start + old_block)
                {
                    state.top = stop;
                    return ptr;
                }
            }
        }
        // SAFETY: `Layout` was valid with the old size and `realloc`'s contract says the
        // new size rounded up to the alignment does not overflow an `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as for `realloc`'s own arguments; `state` is not used past this point.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are ours, distinct, and at least this long; `ptr` was
            // allocated with `layout`.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
