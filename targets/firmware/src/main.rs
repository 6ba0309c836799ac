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

mod breakdown;
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

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::debug;
use defmt_semihosting as _;

use check::Failure;
use hookr::{codec, EngineConfig};
use meter::MeteredHeap;

/// The SHA-256 of each embedded plugin, from build.rs.
mod pins {
    include!(concat!(env!("OUT_DIR"), "/pins.rs"));
}

#[global_allocator]
static HEAP: MeteredHeap = MeteredHeap::empty();

/// The engine settings of the runtimes: value stacks that start small and are freed
/// after each call, so an idle runtime holds none.
pub const ENGINE: EngineConfig = EngineConfig::SMALL;
/// The engine settings of the runtimes whose calls must not allocate at all: one value
/// stack kept between calls (about 1 KB here, README.md) instead of one allocated per
/// call.
pub const ENGINE_NO_ALLOC: EngineConfig = EngineConfig::SMALL.with_max_cached_stacks(1);

/// Fuel per call for the runtimes meant to finish every call.
const FUEL: u64 = 10_000_000;
/// Largest linear memory of a plugin, in 64 KiB pages.
const MAX_PAGES: u32 = 4;

/// The machine this image is linked for (build.rs picks its memory map).
const MACHINE: &str = if cfg!(feature = "netduinoplus2") { "netduinoplus2" } else { "mps2-an386" };

#[entry]
fn main() -> ! {
    let (start, size) = meter::heap_bounds();
    // SAFETY: runs once at the top of `main`, before anything allocates; the linker
    // script places nothing in [__sheap, _heap_end).
    unsafe { HEAP.init(start, size) }

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
            refused_allocations();
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    // Only reached when semihosting is off (no debugger or emulator to exit to).
    loop {
        cortex_m::asm::wfi();
    }
}

/// Every check, in order, and the memory figures of the whole run.
///
/// Each check is `#[inline(never)]`: inlined here, their locals would share one 4 KB
/// frame of `run` that stays on the stack for the whole program, under every call a
/// check makes.
fn run() -> Result<(), Failure> {
    defmt::info!(
        "{=str}: stack region {=usize} B, .data and .bss {=usize} B, heap {=usize} B; stack used before loading: {=usize} B",
        MACHINE,
        meter::stack_size(),
        meter::statics_size(),
        meter::heap_bounds().1,
        meter::stack_high_water()
    );
    simple::breakdown()?;
    sensor::breakdown()?;
    wapc::breakdown()?;
    sensor::beside_simple()?;
    // One runtime at a time from here: what each check needs, and no more.
    // Its calls into fixed buffers must not allocate: it keeps a value stack.
    let mut simple = simple::load(ENGINE_NO_ALLOC)?;
    simple::calls(&mut simple)?;
    meter::repaint_stack();
    superloop::check(&mut simple)?;
    simple::steady(&mut simple)?;
    drop(simple);
    simple::out_of_fuel()?;
    simple::without_allocation()?;
    sensor::check()?;
    wapc::check()?;
    replay::replay_host_transcripts()?;
    replay::record_for_host()?;
    defmt::info!(
        "heap: peak {=usize} B of {=usize} B over everything, {=usize} B in use at the end, {=usize} failed allocations",
        HEAP.peak_ever(),
        meter::heap_bounds().1,
        HEAP.in_use(),
        HEAP.failures()
    );
    defmt::info!("stack: high-water {=usize} B since reset", meter::stack_peak());
    check::ensure_eq("allocations the heap refused", HEAP.failures(), 0)?;
    let total = meter::stack_size() + meter::statics_size() + HEAP.peak_ever();
    defmt::info!(
        "ram: stack region {=usize} B + .data and .bss {=usize} B + heap peak {=usize} B = {=usize} B",
        meter::stack_size(),
        meter::statics_size(),
        HEAP.peak_ever(),
        total
    );
    // After the run's figures, so that its two copies of `sensor` count in none of
    // them, and on mps2-an386 alone: they need more heap than netduinoplus2's image has.
    #[cfg(not(feature = "netduinoplus2"))]
    sensor::engine_buffers()?;
    Ok(())
}

/// Says how many allocations the heap refused, if any: the likely cause of a failure.
fn refused_allocations() {
    if HEAP.failures() > 0 {
        defmt::error!(
            "FAIL: the heap refused {=usize} allocations, the largest of {=usize} B ({=usize} B in use of {=usize} B)",
            HEAP.failures(),
            HEAP.largest_refused(),
            HEAP.in_use(),
            meter::heap_bounds().1
        );
    }
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
        refused_allocations();
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
