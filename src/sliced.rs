//! Calls in slices of fuel, and the deadlines and cancellation built on them.
//!
//! A [`SlicedCall`] runs a plugin call for as much fuel as each
//! [`resume`](SlicedCall::resume) gives it and then pauses, so that a firmware main
//! loop can advance a long call one slice per tick, and a host can stop a call
//! between two slices. [`Runtime::invoke_into`](crate::Runtime::invoke_into) runs a
//! call this way by itself when the runtime has a [timeout](crate::Builder::timeout)
//! or a [`CancelHandle`].

use alloc::sync::Arc;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::Poll;

use wasmi::{ResumableCall, ResumableCallHostTrap, ResumableCallOutOfFuel, Store, Val};

use crate::chunk::{top_up, CHUNK_FUEL};
use crate::error::Error;
use crate::io::Clock;
use crate::output::Output;
use crate::runtime::{CtxBox, PluginCall, Runtime};

/// A plugin call that runs a slice of fuel at a time.
///
/// Made by [`Runtime::start_sliced`], which has an example. It borrows the runtime
/// for its whole life, so no other call can start while it is under way. Dropping it
/// before it finished abandons the call: the next call starts the plugin afresh, as
/// after a trap.
///
/// A slice bounds the interpreter's and the imports' work, not the translation of a
/// function the first time it is called, which happens within the slice that calls it.
///
/// A plugin that waits (WASI `poll_oneoff` on a clock, as `std::thread::sleep` and
/// TinyGo's `time.Sleep` do) does not block a slice when the runtime's clock
/// [advances by itself](crate::io::Clock::advances_by_itself), as the system clock
/// does: the call pauses, and [`resume`](Self::resume) answers [`Poll::Pending`] at
/// once, using no fuel, until the wait is over.
#[must_use = "a sliced call runs only when resumed"]
pub struct SlicedCall<'a, T: 'static> {
    rt: &'a mut Runtime<T>,
    op: &'a str,
    /// The caller's output, which the runtime's frame points to until the call ends.
    out: PhantomData<&'a mut (dyn Output + 'a)>,
    step: Step,
    watching: Watching,
}

/// Where a sliced call stands.
enum Step {
    /// Not run yet: the export and its arguments.
    Start(PluginCall, (i32, i32)),
    /// Paused in the middle, out of fuel or in a wait.
    Paused(Pending),
    /// Finished, failed or abandoned; its result was returned.
    Done,
}

impl<'a, T: 'static> SlicedCall<'a, T> {
    pub(crate) fn new(
        rt: &'a mut Runtime<T>,
        op: &'a str,
        plugin_call: PluginCall,
        args: (i32, i32),
        watching: Watching,
    ) -> Self {
        SlicedCall { rt, op, out: PhantomData, step: Step::Start(plugin_call, args), watching }
    }

    /// Runs the call for up to `fuel` more units (at least 1), then returns its result,
    /// or [`Poll::Pending`] when it needs more.
    ///
    /// The call ends with [`Error::OutOfFuel`] once it has used its whole budget
    /// ([`Limits::fuel`](crate::Limits::fuel)), with [`Error::Timeout`] or
    /// [`Error::Cancelled`] when its deadline passed or it was cancelled (checked
    /// before each slice), and as an unsliced call ends otherwise. A slice smaller
    /// than the next basic block needs adds up with the next ones until it suffices.
    /// An import that costs more than the slice holds is paid from the rest of the
    /// call's budget and runs whole within the slice, and the call pauses right after
    /// it ([`meter`](crate::meter)): one slice can take as long as the costliest import
    /// the plugin makes (moving a 16 MiB payload, at most). While the plugin waits on a clock
    /// that advances by itself, `resume` answers [`Poll::Pending`] at once (see
    /// [`SlicedCall`]). After the result was returned, `resume` answers
    /// [`Error::Config`].
    pub fn resume(&mut self, fuel: u64) -> Poll<Result<(), Error>> {
        let mut step = core::mem::replace(&mut self.step, Step::Done);
        if let Step::Done = step {
            return Poll::Ready(Err(Error::config("this sliced call has already finished")));
        }
        if let Err(e) = self.watching.check(&self.rt.watch) {
            drop(step);
            return Poll::Ready(self.finish(Err(e)));
        }
        if let Step::Paused(Pending::Wait(_, wait)) = &mut step {
            if !wait.is_over(&mut *self.rt.store().data_mut().io.clock) {
                self.step = step;
                return Poll::Pending;
            }
        }
        let mut status = [Val::I32(0)];
        let run = match step {
            Step::Start(plugin_call, (op_len, payload_len)) => {
                Run::Start(move |store: &mut Store<CtxBox>, status: &mut [Val]| {
                    plugin_call.func().call_resumable(store, &[Val::I32(op_len), Val::I32(payload_len)], status)
                })
            }
            Step::Paused(paused) => Run::Resume(paused),
            Step::Done => unreachable!("handled above"),
        };
        match run_slice(self.rt.store(), fuel, run, &mut status) {
            SliceEnd::Finished => {
                let status = match status[0] {
                    Val::I32(status) => status,
                    _ => hookr_abi::FAILURE,
                };
                Poll::Ready(self.finish(Ok(status)))
            }
            SliceEnd::Paused(paused) => {
                self.step = Step::Paused(paused);
                Poll::Pending
            }
            SliceEnd::OutOfFuel => Poll::Ready(self.finish(Err(Error::OutOfFuel))),
            SliceEnd::Failed(e) => Poll::Ready(self.finish(Err(Error::from_wasmi(e)))),
        }
    }

    /// When the call is paused in a wait: sleeps on the runtime's clock for what is
    /// left of it, at most [`WAIT_STEP_NS`], so that whoever drives the call can look
    /// at its deadline and cancel handle again soon.
    pub(crate) fn sleep_some(&mut self) {
        if let Step::Paused(Pending::Wait(_, wait)) = &mut self.step {
            wait.nap(&mut *self.rt.store().data_mut().io.clock, WAIT_STEP_NS);
        }
    }

    fn finish(&mut self, result: Result<i32, Error>) -> Result<(), Error> {
        self.step = Step::Done;
        self.rt.end(self.op, result)
    }

    /// Whether the call has finished (its result was returned) or not.
    pub fn is_finished(&self) -> bool {
        matches!(self.step, Step::Done)
    }
}

impl<T: 'static> Drop for SlicedCall<'_, T> {
    fn drop(&mut self) {
        if !self.is_finished() {
            // Abandoned half-way: after any error, `end` has the next call start the
            // plugin afresh.
            self.step = Step::Done;
            let _ = self.rt.end(self.op, Err(Error::Cancelled));
        }
    }
}

impl<T: 'static> core::fmt::Debug for SlicedCall<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SlicedCall").field("op", &self.op).field("finished", &self.is_finished()).finish()
    }
}

/// Stops the calls running on the runtimes it was given to, from another thread or
/// an interrupt handler.
///
/// Cheap to clone (`Send + Sync`): give one to [`Builder::cancel_handle`] of one or
/// more runtimes and keep a clone. [`cancel`](Self::cancel) stops every call that is
/// running on them at that moment, at its next slice boundary (within
/// [`Limits::slice_fuel`](crate::Limits::slice_fuel) of work, or when the host
/// function it is in returns), with [`Error::Cancelled`]; calls that start afterwards
/// are not affected. A runtime with a cancel handle runs every call in slices.
///
/// [`Builder::cancel_handle`]: crate::Builder::cancel_handle
///
/// ```
/// # let wasm = wat::parse_str(r#"(module (memory (export "memory") 1)
/// #   (func (export "__plugin_call") (param i32 i32) (result i32)
/// #     (loop $forever (br $forever)) (i32.const 1)))"#).unwrap();
/// // A plugin that loops forever, stopped from another thread.
/// let cancel = hookr::CancelHandle::new();
/// let mut rt = hookr::Runtime::builder(()).bytes(&wasm).cancel_handle(cancel.clone()).build()?;
/// let stopper = std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_millis(20));
///     cancel.cancel();
/// });
/// assert!(matches!(rt.invoke("spin", b""), Err(hookr::Error::Cancelled)));
/// stopper.join().unwrap();
/// # Ok::<(), hookr::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    /// Counts the cancellations; a call notes it when it starts and stops when it
    /// changes.
    generation: Arc<AtomicU32>,
}

impl CancelHandle {
    /// A new handle.
    pub fn new() -> Self {
        CancelHandle::default()
    }

    /// Stops the calls running now on every runtime that holds this handle.
    pub fn cancel(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn generation(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }
}

/// What stops a runtime's calls besides fuel: a timeout and a cancel handle.
#[derive(Debug, Clone, Default)]
pub(crate) struct Watch {
    #[cfg(feature = "std")]
    pub(crate) timeout: Option<core::time::Duration>,
    pub(crate) cancel: Option<CancelHandle>,
}

impl Watch {
    /// Whether calls must run in slices so that something can stop them.
    pub(crate) fn active(&self) -> bool {
        #[cfg(feature = "std")]
        if self.timeout.is_some() {
            return true;
        }
        self.cancel.is_some()
    }

    /// What a call starting now must watch for.
    pub(crate) fn start(&self) -> Watching {
        Watching {
            #[cfg(feature = "std")]
            deadline: self.timeout.map(|t| std::time::Instant::now().checked_add(t)),
            generation: self.cancel.as_ref().map(CancelHandle::generation),
        }
    }
}

/// The deadline and cancel generation of one call.
#[derive(Debug)]
pub(crate) struct Watching {
    /// `Some(None)`: a timeout so long that its deadline is past representable time.
    #[cfg(feature = "std")]
    deadline: Option<Option<std::time::Instant>>,
    generation: Option<u32>,
}

impl Watching {
    /// When the call must end, if it has a timeout.
    #[cfg(feature = "std")]
    pub(crate) fn deadline(&self) -> Option<std::time::Instant> {
        self.deadline.flatten()
    }

    pub(crate) fn check(&self, watch: &Watch) -> Result<(), Error> {
        if let (Some(seen), Some(cancel)) = (self.generation, &watch.cancel) {
            if cancel.generation() != seen {
                return Err(Error::Cancelled);
            }
        }
        #[cfg(feature = "std")]
        if let (Some(Some(deadline)), Some(timeout)) = (self.deadline, watch.timeout) {
            if std::time::Instant::now() >= deadline {
                return Err(Error::Timeout(timeout));
            }
        }
        Ok(())
    }
}

/// Why an initialiser run in slices did not finish.
pub(crate) enum InitStop {
    /// It trapped, or an import failed (`proc_exit` among them).
    Wasm(wasmi::Error),
    /// It used its whole init fuel.
    OutOfFuel,
    /// The call that started the plugin afresh timed out or was cancelled.
    Watch(Error),
}

/// Runs initialiser `func` with the init fuel budget in slices of `slice` fuel,
/// checking between slices what `watching` watches: the reset at the start of a call
/// with a timeout or a cancel handle counts against that call. Fuel metering is on.
pub(crate) fn run_init(
    store: &mut Store<CtxBox>,
    func: wasmi::Func,
    watching: &Watching,
    watch: &Watch,
) -> Result<(), InitStop> {
    let result = run_init_slices(store, func, watching, watch);
    // The deadline is this call's: a reset after it, or the call's own slices, set
    // their own.
    #[cfg(feature = "std")]
    {
        store.data_mut().deadline = None;
    }
    result
}

fn run_init_slices(
    store: &mut Store<CtxBox>,
    func: wasmi::Func,
    watching: &Watching,
    watch: &Watch,
) -> Result<(), InitStop> {
    let ctx = store.data_mut();
    let slice = ctx.limits.slice_fuel.max(1);
    ctx.meter.start(ctx.limits.init_fuel, ctx.limits.max_output_per_call, true);
    #[cfg(feature = "std")]
    {
        ctx.deadline = watching.deadline();
    }
    let _ = store.set_fuel(0);
    let mut paused: Option<Pending> = None;
    loop {
        watching.check(watch).map_err(InitStop::Watch)?;
        // Its waits are slept in naps between which the deadline and the cancel handle
        // are looked at, as in the call it starts.
        if let Some(Pending::Wait(_, wait)) = &mut paused {
            let clock = &mut *store.data_mut().io.clock;
            if !wait.is_over(clock) {
                wait.nap(clock, WAIT_STEP_NS);
                continue;
            }
        }
        let run = match paused.take() {
            None => {
                Run::Start(|store: &mut Store<CtxBox>, results: &mut [Val]| func.call_resumable(store, &[], results))
            }
            Some(pending) => Run::Resume(pending),
        };
        match run_slice(store, slice, run, &mut []) {
            SliceEnd::Finished => return Ok(()),
            SliceEnd::Paused(p) => paused = Some(p),
            SliceEnd::OutOfFuel => return Err(InitStop::OutOfFuel),
            SliceEnd::Failed(e) => return Err(InitStop::Wasm(e)),
        }
    }
}

/// A resumable run: not started yet (and how to start it), or paused.
pub(crate) enum Run<F> {
    Start(F),
    Resume(Pending),
}

/// Why a resumable run is paused.
pub(crate) enum Pending {
    /// It needs more fuel than it was given.
    OutOfFuel(ResumableCallOutOfFuel),
    /// An import waits on the clock.
    Wait(ResumableCallHostTrap, Wait),
}

/// What one slice of a resumable run came to.
pub(crate) enum SliceEnd {
    Finished,
    /// It needs more fuel than the slice gave, or waits.
    Paused(Pending),
    /// Its whole budget has been handed out and the store cannot pay its next step.
    OutOfFuel,
    /// It trapped, or an import failed (a bad pointer, a limit, `proc_exit`, a host
    /// panic): that ends it, as it ends a run that is not sliced.
    Failed(wasmi::Error),
}

/// Hands the run up to `fuel` more units (at least 1) from the store's meter, and
/// starts or resumes it until it finishes or needs more. A slice smaller than the next
/// basic block needs adds up with the next ones until it suffices; an import costlier
/// than the slice runs within it, paid from the rest of the budget. A slice larger than
/// a chunk runs as several, so that the native stack unwinds between them, and the
/// store never holds more than a chunk or what the next step needs (`crate::chunk`).
/// The engine meters fuel.
pub(crate) fn run_slice<F>(store: &mut Store<CtxBox>, fuel: u64, mut run: Run<F>, results: &mut [Val]) -> SliceEnd
where
    F: FnOnce(&mut Store<CtxBox>, &mut [Val]) -> Result<ResumableCall, wasmi::Error>,
{
    let mut left = fuel.max(1);
    loop {
        // What the paused step needs, when it ran out of fuel: the store may hold that
        // much, however much more than a chunk it is, and no more than a chunk else.
        let needs = match &run {
            Run::Resume(Pending::OutOfFuel(paused)) => paused.required_fuel(),
            _ => 0,
        };
        let issued = top_up(store, left.min(CHUNK_FUEL), needs.max(CHUNK_FUEL));
        // A top-up that hands out nothing (the store is full) still counts, so that
        // the loop ends.
        left -= issued.clamp(1, left);
        let in_store = store.get_fuel().unwrap_or(0);
        let outcome = match run {
            Run::Start(start) => start(store, results),
            Run::Resume(Pending::OutOfFuel(paused)) if in_store < paused.required_fuel() => {
                Ok(ResumableCall::OutOfFuel(paused))
            }
            Run::Resume(Pending::OutOfFuel(paused)) => paused.resume(&mut *store, results),
            // The import's answer, which it worked out before the wait.
            Run::Resume(Pending::Wait(trap, wait)) => trap.resume(&mut *store, &[Val::I32(wait.answer)], results),
        };
        return match outcome {
            Ok(ResumableCall::Finished) => SliceEnd::Finished,
            // The slice is not used up: its next chunk.
            Ok(ResumableCall::OutOfFuel(paused)) if left > 0 && !store.data().meter.exhausted() => {
                run = Run::Resume(Pending::OutOfFuel(paused));
                continue;
            }
            Ok(ResumableCall::OutOfFuel(paused)) => paused_or_out(store, paused),
            Ok(ResumableCall::HostTrap(trap)) => match trap.host_error().downcast_ref::<Waiting>() {
                Some(&Waiting { ns, answer }) => {
                    let seen_ns = store.data_mut().io.clock.monotonic_ns();
                    SliceEnd::Paused(Pending::Wait(trap, Wait { left_ns: ns, seen_ns, answer }))
                }
                None => SliceEnd::Failed(trap.into_host_error()),
            },
            Err(e) => SliceEnd::Failed(e),
        };
    }
}

/// `paused`, kept for the next slice, or out of fuel when its budget has all been
/// handed out and the store cannot pay its next step.
fn paused_or_out(store: &Store<CtxBox>, paused: ResumableCallOutOfFuel) -> SliceEnd {
    if store.data().meter.exhausted() && store.get_fuel().unwrap_or(0) < paused.required_fuel() {
        SliceEnd::OutOfFuel
    } else {
        SliceEnd::Paused(Pending::OutOfFuel(paused))
    }
}

/// How long a call that its runtime drives in slices (it has a timeout or a cancel
/// handle) sleeps at a time while its plugin waits: 1 ms, after which it looks at its
/// deadline and cancel handle again.
pub(crate) const WAIT_STEP_NS: u64 = 1_000_000;

/// A WASI wait that a sliced call leaves to its host: the call stays paused while
/// `left_ns` of it are left, then goes on with `answer` as the result of the import
/// that waited. What is left shrinks as the runtime's monotonic clock moves forward
/// (a clock set back does not lengthen it) and by the naps the runtime sleeps when it
/// drives the call itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wait {
    left_ns: u64,
    /// The monotonic clock when the wait was last looked at.
    seen_ns: u64,
    answer: i32,
}

impl Wait {
    /// Whether the wait is over, counting the time the clock has moved forward since
    /// it was last looked at.
    fn is_over(&mut self, clock: &mut dyn Clock) -> bool {
        let now = clock.monotonic_ns();
        self.left_ns = self.left_ns.saturating_sub(now.saturating_sub(self.seen_ns));
        self.seen_ns = now;
        self.left_ns == 0
    }

    /// Sleeps on `clock` for what is left of the wait, at most `at_most` ns. The nap
    /// counts whatever the clock reads after it.
    fn nap(&mut self, clock: &mut dyn Clock, at_most: u64) {
        let nap = self.left_ns.min(at_most);
        if nap > 0 {
            clock.sleep_ns(nap);
        }
        self.left_ns -= nap;
        self.seen_ns = clock.monotonic_ns();
    }
}

/// What an import that waits stops the engine with, in a sliced call: a pause of
/// `ns`, after which it answers `answer`. Not a failure.
#[derive(Debug)]
pub(crate) struct Waiting {
    ns: u64,
    answer: i32,
}

impl Waiting {
    /// The error an import returns to pause the call for `ns` and then answer `answer`.
    pub(crate) fn pause(ns: u64, answer: i32) -> wasmi::Error {
        wasmi::Error::host(Waiting { ns, answer })
    }
}

impl core::fmt::Display for Waiting {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the plugin waits on the clock")
    }
}

impl wasmi::errors::HostError for Waiting {}
