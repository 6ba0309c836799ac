//! hookr firmware example: runs the `simple` and `sensor` plugins and the waPC guest
//! `wapc-demo` through `hookr::Runtime` on a Cortex-M4F (QEMU `mps2-an386`), checks
//! every result, and measures stack and heap use.
//!
//! The plugins are embedded with `include_bytes!`; `build.rs` validated them and pinned
//! their SHA-256, and this build (without `hookr/validate`) loads nothing else.
//!
//! Logs through defmt (`defmt-semihosting` under QEMU; `defmt-rtt` on hardware) and
//! exits through semihosting: status 0 only when every check passed.

#![no_std]
#![no_main]

extern crate alloc;

mod check;
mod meter;
mod payloads;
mod replay;
mod sensor;
mod simple;
mod superloop;
mod wapc;

/// The `simple` plugin's message types, shared with its source.
#[path = "../../plugins/simple/src/messages.rs"]
mod messages;
/// The `sensor` plugin's message types, shared with its source.
#[path = "../../plugins/sensor/src/messages.rs"]
mod sensor_messages;

use core::mem::MaybeUninit;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::debug;
use defmt_semihosting as _;

use check::Failure;
use hookr::codec;
use meter::MeteredHeap;

/// The SHA-256 of each embedded plugin, from build.rs.
mod pins {
    include!(concat!(env!("OUT_DIR"), "/pins.rs"));
}

#[global_allocator]
static HEAP: MeteredHeap = MeteredHeap::empty();

/// Heap for the runtimes: each holds wasmi's engine, compiled code, store and the
/// plugin's linear memory (64 KiB a page). Both runtimes live at once, plus the payloads.
const HEAP_SIZE: usize = 2 * 1024 * 1024;

/// Fuel per call for the runtimes meant to finish every call.
const FUEL: u64 = 10_000_000;
/// Largest linear memory of a plugin, in 64 KiB pages.
const MAX_PAGES: u32 = 4;

#[entry]
fn main() -> ! {
    // Reaches for the heap's memory exactly once, before any allocation.
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: runs once at the top of `main`, before anything allocates; nothing
        // else names HEAP_MEM.
        unsafe { HEAP.init(core::ptr::addr_of_mut!(HEAP_MEM) as usize, HEAP_SIZE) }
    }

    defmt::info!(
        "hookr firmware: hookr runtime on wasmi 2.0, portable dispatch, {=str}",
        if cfg!(feature = "validate") { "validate on" } else { "hash-pinned (validate off)" },
    );
    match run() {
        Ok(()) => {
            defmt::info!("PASS");
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(e) => {
            defmt::error!("FAIL: {}", e);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    // Only reached when semihosting is off (no debugger or emulator to exit to).
    loop {
        cortex_m::asm::wfi();
    }
}

/// Every check, in order, and the memory figures of the whole run.
fn run() -> Result<(), Failure> {
    defmt::info!(
        "stack region {=usize} B, heap {=usize} B; stack used before loading: {=usize} B",
        meter::stack_size(),
        HEAP_SIZE,
        meter::stack_high_water()
    );
    let mut simple = simple::load()?;
    simple::calls(&mut simple)?;
    meter::repaint_stack();
    sensor::check()?;
    wapc::check()?;
    simple::out_of_fuel()?;
    superloop::check(&mut simple)?;
    simple::steady(&mut simple)?;
    drop(simple);
    replay::replay_host_transcripts()?;
    replay::record_for_host()?;
    defmt::info!(
        "heap: peak {=usize} B of {=usize} B over everything, {=usize} B in use at the end",
        HEAP.peak(),
        HEAP_SIZE,
        HEAP.in_use()
    );
    defmt::info!("stack: high-water {=usize} B since reset", meter::stack_peak());
    Ok(())
}

/// A panic fails the run through defmt. Only with the `panic-messages` feature does it
/// say what and where: a handler that reads its `PanicInfo` at all keeps every panic
/// site's message, location and the `core::fmt` code to format them, about 106 KB of
/// flash here (README.md, "Flash"); one that does not lets the linker drop them.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::sync::atomic::{AtomicBool, Ordering};
    static PANICKED: AtomicBool = AtomicBool::new(false);
    // A panic inside the logger must not log again.
    if !PANICKED.swap(true, Ordering::Relaxed) {
        #[cfg(feature = "panic-messages")]
        defmt::error!("FAIL: {}", defmt::Display2Format(info));
        #[cfg(not(feature = "panic-messages"))]
        {
            let _ = info;
            defmt::error!("FAIL: panic (build with `--features panic-messages` to see its message)");
        }
    }
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

/// A fault: says where, and fails the run.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!("FAIL: hard fault at pc {=u32:#010x}", frame.pc());
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
