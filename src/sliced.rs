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

use wasmi::{ResumableCall, ResumableCallOutOfFuel, Store, Val};

use crate::error::Error;
use crate::output::Output;
use crate::runtime::{Ctx, PluginCall, Runtime};

/// A plugin call that runs a slice of fuel at a time.
///
/// Made by [`Runtime::start_sliced`], which has an example. It borrows the runtime
/// for its whole life, so no other call can start while it is under way. Dropping it
/// before it finished abandons the call: the next call starts the plugin afresh, as
/// after a trap.
///
/// A slice bounds the interpreter's and the imports' work, not the translation of a
/// function the first time it is called, which happens within the slice that calls it.
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
    /// Out of fuel in the middle: resumes when the store holds what it needs.
    Paused(ResumableCallOutOfFuel),
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
    /// than the next step needs (a basic block, or an import that moves many bytes)
    /// adds up with the next ones until it suffices. After the result was returned,
    /// `resume` answers [`Error::Config`].
    pub fn resume(&mut self, fuel: u64) -> Poll<Result<(), Error>> {
        let step = core::mem::replace(&mut self.step, Step::Done);
        if let Step::Done = step {
            return Poll::Ready(Err(Error::config("this sliced call has already finished")));
        }
        if let Err(e) = self.watching.check(&self.rt.watch) {
            drop(step);
            return Poll::Ready(self.finish(Err(e)));
        }
        let mut status = [Val::I32(0)];
        let run = match step {
            Step::Start(plugin_call, (op_len, payload_len)) => {
                Run::Start(move |store: &mut Store<Ctx>, status: &mut [Val]| {
                    plugin_call.func().call_resumable(store, &[Val::I32(op_len), Val::I32(payload_len)], status)
                })
            }
            Step::Paused(paused) => Run::Paused(paused),
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
    store: &mut Store<Ctx>,
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
    store: &mut Store<Ctx>,
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
    let mut paused = None;
    loop {
        watching.check(watch).map_err(InitStop::Watch)?;
        let run = match paused.take() {
            None => Run::Start(|store: &mut Store<Ctx>, results: &mut [Val]| func.call_resumable(store, &[], results)),
            Some(paused) => Run::Paused(paused),
        };
        match run_slice(store, slice, run, &mut []) {
            SliceEnd::Finished => return Ok(()),
            SliceEnd::Paused(p) => paused = Some(p),
            SliceEnd::OutOfFuel => return Err(InitStop::OutOfFuel),
            SliceEnd::Failed(e) => return Err(InitStop::Wasm(e)),
        }
    }
}

/// A resumable run: not started yet (and how to start it), or paused out of fuel.
enum Run<F> {
    Start(F),
    Paused(ResumableCallOutOfFuel),
}

/// What one slice of a resumable run came to.
enum SliceEnd {
    Finished,
    /// It needs more fuel than the slice gave.
    Paused(ResumableCallOutOfFuel),
    /// Its whole budget has been handed out and the store cannot pay its next step.
    OutOfFuel,
    /// It trapped, or an import failed (a bad pointer, a limit, `proc_exit`, a host
    /// panic): that ends it, as it ends a run that is not sliced.
    Failed(wasmi::Error),
}

/// Hands the run `fuel` more units (at least 1) from the store's meter, and starts or
/// resumes it until it finishes or needs more. A slice smaller than the next step
/// needs (a basic block, or an import that moves many bytes) adds up with the next
/// ones until it suffices. The engine meters fuel.
fn run_slice<F>(store: &mut Store<Ctx>, fuel: u64, run: Run<F>, results: &mut [Val]) -> SliceEnd
where
    F: FnOnce(&mut Store<Ctx>, &mut [Val]) -> Result<ResumableCall, wasmi::Error>,
{
    let issued = store.data_mut().meter.issue(fuel.max(1));
    let in_store = store.get_fuel().unwrap_or(0).saturating_add(issued);
    let _ = store.set_fuel(in_store);
    let outcome = match run {
        Run::Start(start) => start(store, results),
        Run::Paused(paused) if in_store < paused.required_fuel() => return paused_or_out(store, paused),
        Run::Paused(paused) => paused.resume(&mut *store, results),
    };
    match outcome {
        Ok(ResumableCall::Finished) => SliceEnd::Finished,
        Ok(ResumableCall::OutOfFuel(paused)) => paused_or_out(store, paused),
        Ok(ResumableCall::HostTrap(trap)) => SliceEnd::Failed(trap.into_host_error()),
        Err(e) => SliceEnd::Failed(e),
    }
}

/// `paused`, kept for the next slice, or out of fuel when its budget has all been
/// handed out and the store cannot pay its next step.
fn paused_or_out(store: &Store<Ctx>, paused: ResumableCallOutOfFuel) -> SliceEnd {
    if store.data().meter.exhausted() && store.get_fuel().unwrap_or(0) < paused.required_fuel() {
        SliceEnd::OutOfFuel
    } else {
        SliceEnd::Paused(paused)
    }
}
