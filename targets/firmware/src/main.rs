//! hookr firmware example, phase 1: runs a Wasm plugin with wasmi on a Cortex-M4F
//! (QEMU `mps2-an386`), checks its results, and measures stack and heap use.
//!
//! Exits through semihosting: status 0 only when every check passed.

#![no_std]
#![no_main]

extern crate alloc;

mod meter;
mod probe;

use core::fmt;
use core::mem::MaybeUninit;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;

use meter::MeteredHeap;
use probe::{Probe, Run};

#[global_allocator]
static HEAP: MeteredHeap = MeteredHeap::empty();

/// Heap for wasmi: engine, module, store, and the guest's linear memory (64 KiB a page).
const HEAP_SIZE: usize = 1024 * 1024;

/// Iterations of the long run: enough that a stack that grows per iteration or per
/// call overflows its 64 KiB long before the end.
const LONG_RUN: u32 = 1_000_000;
/// Iterations of the short run the long run's stack use is compared against.
const SHORT_RUN: u32 = 100;
/// Fuel for runs meant to finish; far more than `LONG_RUN` iterations need.
const FUEL: u64 = 1 << 40;

/// The host function the guest imports as `env.tick`.
fn tick(i: u32) -> u32 {
    i.wrapping_mul(3).wrapping_add(1)
}

/// What the guest's `run(n)` must return, computed natively.
fn expected(n: u32) -> u32 {
    (0..n).fold(0u32, |acc, i| acc.wrapping_mul(31).wrapping_add(tick(i)))
}

#[entry]
fn main() -> ! {
    // Reaches for the heap's memory exactly once, before any allocation.
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: runs once at the top of `main`, before anything allocates; nothing
        // else names HEAP_MEM.
        unsafe { HEAP.init(core::ptr::addr_of_mut!(HEAP_MEM) as usize, HEAP_SIZE) }
    }

    hprintln!(
        "hookr firmware probe: wasmi 2.0, {} dispatch, validate {}",
        if cfg!(feature = "portable-dispatch") {
            "portable"
        } else {
            "auto (tail-call)"
        },
        if cfg!(feature = "validate") {
            "on"
        } else {
            "off"
        },
    );
    match check() {
        Ok(()) => {
            hprintln!("PASS");
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(e) => {
            hprintln!("FAIL: {}", e);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    // Only reached when semihosting is off (no debugger or emulator to exit to).
    loop {
        cortex_m::asm::wfi();
    }
}

/// A failed check.
enum Failure {
    Probe(probe::Error),
    Mismatch(&'static str, u64, u64),
}

impl From<probe::Error> for Failure {
    fn from(e: probe::Error) -> Self {
        Failure::Probe(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Probe(e) => write!(f, "{e}"),
            Failure::Mismatch(what, got, want) => write!(f, "{what}: got {got}, want {want}"),
        }
    }
}

fn ensure_eq(what: &'static str, got: impl Into<u64>, want: impl Into<u64>) -> Result<(), Failure> {
    let (got, want) = (got.into(), want.into());
    if got == want {
        Ok(())
    } else {
        Err(Failure::Mismatch(what, got, want))
    }
}

/// Runs `run(n)` and checks the result against [`expected`], returning the run and the
/// stack it used.
fn checked_run(probe: &mut Probe, n: u32) -> Result<(Run, usize), Failure> {
    meter::repaint_stack();
    let run = probe.run(n, FUEL)?;
    let stack = meter::stack_high_water();
    ensure_eq("result", run.result, expected(n))?;
    ensure_eq("acc in guest memory", run.acc_in_memory, run.result)?;
    ensure_eq("host calls", run.host_calls, n)?;
    hprintln!(
        "run({:>7}) = {:#010x}  fuel {:>8}  stack high-water {} B",
        n,
        run.result,
        run.fuel_used,
        stack
    );
    Ok((run, stack))
}

fn check() -> Result<(), Failure> {
    hprintln!(
        "stack region {} B, heap {} B; stack used before loading: {} B",
        meter::stack_size(),
        HEAP_SIZE,
        meter::stack_high_water()
    );

    HEAP.reset_peak();
    meter::repaint_stack();
    let mut probe = Probe::new(tick)?;
    hprintln!(
        "loaded probe ({} B wasm): heap in use {} B, peak {} B, stack high-water {} B",
        probe::PROBE_WASM.len(),
        HEAP.in_use(),
        HEAP.peak(),
        meter::stack_high_water()
    );

    // Fuel is exact and linear: run(n) costs base + n * per_iteration.
    let (r0, _) = checked_run(&mut probe, 0)?;
    let (r1, _) = checked_run(&mut probe, 1)?;
    let per_iteration = r1.fuel_used - r0.fuel_used;
    let (short, short_stack) = checked_run(&mut probe, SHORT_RUN)?;
    ensure_eq(
        "fuel for the short run",
        short.fuel_used,
        r0.fuel_used + u64::from(SHORT_RUN) * per_iteration,
    )?;

    // The stack must not grow with iterations or calls: the long run may use no
    // more than the short one.
    let (long, long_stack) = checked_run(&mut probe, LONG_RUN)?;
    let in_use_after_long = HEAP.in_use();
    ensure_eq(
        "fuel for the long run",
        long.fuel_used,
        r0.fuel_used + u64::from(LONG_RUN) * per_iteration,
    )?;
    ensure_eq(
        "stack high-water, long run vs short run",
        long_stack as u64,
        short_stack as u64,
    )?;

    // Out of fuel: stops with an out-of-fuel trap part-way, not at the end.
    let budget = r0.fuel_used + 10 * per_iteration - 1;
    match probe.run(LONG_RUN, budget) {
        Err(e) if e.is_out_of_fuel() => {}
        Err(e) => return Err(e.into()),
        Ok(run) => {
            return Err(Failure::Mismatch(
                "run past its fuel",
                run.fuel_used,
                budget,
            ))
        }
    }
    let calls = probe.last_host_calls();
    if calls == 0 || calls > 10 {
        return Err(Failure::Mismatch(
            "host calls before running out of fuel",
            calls.into(),
            10,
        ));
    }
    hprintln!("out of fuel after {} host calls, as budgeted", calls);

    // The store stays usable after the trap, and neither the trap nor the runs leave
    // allocations behind: the heap holds as much now as after the long run.
    checked_run(&mut probe, SHORT_RUN)?;
    ensure_eq(
        "heap in use, after a later run vs after the long run",
        HEAP.in_use() as u64,
        in_use_after_long as u64,
    )?;

    hprintln!(
        "heap: peak {} B over all runs, {} B in use at the end",
        HEAP.peak(),
        HEAP.in_use()
    );
    hprintln!("stack: high-water {} B since reset", meter::stack_peak());
    Ok(())
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("FAIL: hard fault at pc {:#010x}", frame.pc());
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
