//! A long plugin call advanced one slice of fuel per tick of a firmware main loop,
//! while the loop goes on with its other work.

use alloc::vec::Vec;
use core::task::Poll;

use hookr::Runtime;

use crate::check::{ensure, ensure_eq, Context, Failure, Text};
use crate::simple::{big_text, SimpleHost, BIG_PAYLOAD};

/// Fuel a long call gets per tick of the main loop.
const TICK_FUEL: u64 = 5_000;

/// The main loop: each tick does its other work (here it counts it) and gives the
/// plugin call one slice of fuel, until the call is done. Returns the answer, the
/// ticks and the rounds of other work.
fn main_loop(rt: &mut Runtime<SimpleHost>, text: &[u8]) -> Result<(Vec<u8>, u32, u32), Failure> {
    let mut out = Vec::new();
    let (mut ticks, mut other_work) = (0u32, 0u32);
    let mut call = rt.start_sliced("vowel", text, &mut out).context("vowel, sliced")?;
    loop {
        ticks += 1;
        other_work += 1; // poll sensors, feed the watchdog, ...
        match call.resume(TICK_FUEL) {
            Poll::Ready(result) => break result.context("vowel, sliced")?,
            Poll::Pending => continue,
        }
    }
    drop(call);
    Ok((out, ticks, other_work))
}

/// `vowel` on 16 KiB in slices gives the answer and the fuel of the same call run
/// whole, over many ticks.
#[inline(never)]
pub fn check(simple: &mut Runtime<SimpleHost>) -> Result<(), Failure> {
    let text = big_text();
    // The first call with a payload this big grows the guest's request buffer; the
    // second finds the plugin as the sliced call will.
    simple.invoke("vowel", &text).context("vowel, whole")?;
    let whole = simple.invoke("vowel", &text).context("vowel, whole")?;
    let whole_fuel = simple.last_call().fuel;
    let (sliced, ticks, other_work) = main_loop(simple, &text)?;
    defmt::info!(
        "vowel on {=usize} B, {=u64} fuel a tick: {} after {=u32} ticks of the main loop ({=u32} rounds of its other work), {} fuel",
        BIG_PAYLOAD,
        TICK_FUEL,
        Text(&sliced),
        ticks,
        other_work,
        simple.last_call().fuel
    );
    ensure_eq("sliced vowel: answer, against the whole call", sliced.as_slice(), whole.as_slice())?;
    ensure_eq("sliced vowel: fuel, against the whole call", simple.last_call().fuel, whole_fuel)?;
    ensure_eq("sliced vowel: the main loop ran on", other_work, ticks)?;
    ensure("sliced vowel: ticks", ticks >= 10, ticks, ">= 10")
}
