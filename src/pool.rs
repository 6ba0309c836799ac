//! A pool of runtimes of one plugin, shared by many threads.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::error::Error;
use crate::runtime::Runtime;

/// Makes a runtime for a [`Pool`], with its own host state.
type Factory<T> = Box<dyn Fn() -> Result<Runtime<T>, Error> + Send + Sync>;

/// Hands out runtimes of one plugin to many threads.
///
/// At most `size` runtimes exist; each is made by the factory when first needed, with
/// host state of its own, typically from one compiled [`Module`](crate::Module) so that
/// a new runtime costs only an instance. [`get`](Self::get) lends one out as a
/// [`Pooled`], which gives it back when dropped; a runtime whose last call failed is
/// put back into its initial state first. When all are lent out, `get` waits up to
/// the pool's [`wait`](Self::wait) for one, then fails with
/// [`Error::PoolExhausted`]. Cloning a pool gives another handle to the same runtimes.
///
/// Runtimes of one module share its interpreter engine, which every call locks twice
/// (wasmi keeps its value stacks there, under a spin lock). Threads that call without
/// pause scale better with a factory that compiles a module for each runtime (about
/// 90 µs for a 15 KB plugin): README.md, "Many instances", has the figures.
///
/// ```
/// # let wasm = wat::parse_str(r#"(module
/// #   (import "hookr" "__plugin_request" (func $req (param i32 i32)))
/// #   (import "hookr" "__plugin_response" (func $resp (param i32 i32)))
/// #   (memory (export "memory") 1)
/// #   (func (export "__plugin_call") (param $op i32) (param $len i32) (result i32)
/// #     (call $req (i32.const 0) (local.get $op))
/// #     (call $resp (local.get $op) (local.get $len))
/// #     (i32.const 1)))"#).unwrap();
/// use hookr::{EngineConfig, Module, NoVerify, Pool, Runtime};
///
/// // Compile once; every runtime is an instance of this module with its own counter.
/// let module = Module::new(&wasm, "", &NoVerify, EngineConfig::default())?;
/// let pool = Pool::new(2, move || Runtime::builder(0u64).module(module.clone()).build())?;
///
/// let workers: Vec<_> = (0..4)
///     .map(|i| {
///         let pool = pool.clone();
///         std::thread::spawn(move || {
///             for _ in 0..100 {
///                 let mut rt = pool.get().unwrap();
///                 *rt.state_mut() += 1;
///                 assert_eq!(rt.invoke("echo", &[i]).unwrap(), [i]);
///             } // back to the pool here
///         })
///     })
///     .collect();
/// workers.into_iter().for_each(|w| w.join().unwrap());
/// # Ok::<(), hookr::Error>(())
/// ```
pub struct Pool<T: 'static> {
    shared: Arc<Shared<T>>,
    /// How long this handle's `get` waits.
    wait: Duration,
}

struct Shared<T: 'static> {
    slots: Mutex<Slots<T>>,
    /// Signalled when a runtime comes back or a slot frees up.
    returned: Condvar,
    size: usize,
    make: Factory<T>,
}

struct Slots<T: 'static> {
    idle: Vec<Runtime<T>>,
    /// Runtimes lent out or being made.
    busy: usize,
    /// Threads waiting in `get`: only then is `returned` signalled (a signal is a
    /// system call).
    waiting: usize,
}

impl<T: 'static> Shared<T> {
    fn slots(&self) -> MutexGuard<'_, Slots<T>> {
        // No user code runs while the lock is held, so a poisoned lock still holds
        // consistent counts.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot is free again: a runtime was dropped or could not be made.
    fn release_slot(&self) {
        let mut slots = self.slots();
        slots.busy -= 1;
        self.wake(slots);
    }

    /// Wakes one thread waiting in `get`, if any, after the lock is let go.
    fn wake(&self, slots: MutexGuard<'_, Slots<T>>) {
        let waiting = slots.waiting > 0;
        drop(slots);
        if waiting {
            self.returned.notify_one();
        }
    }
}

impl<T: 'static> Pool<T> {
    /// How long [`get`](Self::get) waits for a runtime by default.
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

    /// A pool of at most `size` runtimes, each made by `make` when first needed.
    /// Fails with [`Error::Config`] when `size` is 0.
    pub fn new(
        size: usize,
        make: impl Fn() -> Result<Runtime<T>, Error> + Send + Sync + 'static,
    ) -> Result<Self, Error> {
        if size == 0 {
            return Err(Error::config("a pool of 0 runtimes could never lend one"));
        }
        let shared = Shared {
            slots: Mutex::new(Slots { idle: Vec::with_capacity(size), busy: 0, waiting: 0 }),
            returned: Condvar::new(),
            size,
            make: Box::new(make),
        };
        Ok(Pool { shared: Arc::new(shared), wait: Self::DEFAULT_WAIT })
    }

    /// This handle to the pool, whose [`get`](Self::get) waits up to `wait` for a
    /// runtime (clones made from it afterwards too).
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// How long [`get`](Self::get) waits for a runtime.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// The most runtimes the pool makes.
    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// Lends out an idle runtime, or makes one while fewer than `size` exist, or waits
    /// up to [`wait`](Self::wait) for one to come back; then
    /// [`Error::PoolExhausted`]. An error of the factory is returned as it is, and
    /// frees the slot it would have filled.
    pub fn get(&self) -> Result<Pooled<T>, Error> {
        let shared = &self.shared;
        let mut deadline = None;
        let mut slots = shared.slots();
        loop {
            if let Some(rt) = slots.idle.pop() {
                slots.busy += 1;
                return Ok(self.lend(rt));
            }
            if slots.busy < shared.size {
                slots.busy += 1;
                drop(slots);
                // The slot is given back if the factory fails, or panics.
                let reserved = Reserved(shared);
                let rt = (shared.make)()?;
                core::mem::forget(reserved);
                return Ok(self.lend(rt));
            }
            // The clock is read only when there is something to wait for.
            let deadline = *deadline.get_or_insert_with(|| Instant::now().checked_add(self.wait));
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return Err(Error::PoolExhausted { size: shared.size, waited: self.wait });
            }
            slots.waiting += 1;
            slots = shared.returned.wait_timeout(slots, left).unwrap_or_else(PoisonError::into_inner).0;
            slots.waiting -= 1;
        }
    }

    fn lend(&self, rt: Runtime<T>) -> Pooled<T> {
        Pooled { rt: Some(rt), shared: self.shared.clone() }
    }

    /// How many runtimes exist now, lent out or idle.
    pub fn runtimes(&self) -> usize {
        let slots = self.shared.slots();
        slots.idle.len() + slots.busy
    }
}

/// A slot taken for a runtime still being made: dropped before the runtime is lent,
/// it frees the slot again.
struct Reserved<'a, T: 'static>(&'a Shared<T>);

impl<T: 'static> Drop for Reserved<'_, T> {
    fn drop(&mut self) {
        self.0.release_slot();
    }
}

impl<T: 'static> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool { shared: self.shared.clone(), wait: self.wait }
    }
}

impl<T: 'static> core::fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pool").field("size", &self.shared.size).field("runtimes", &self.runtimes()).finish()
    }
}

/// A runtime lent out by a [`Pool`]; it goes back when dropped.
///
/// Dereferences to the [`Runtime`]. If its last call failed, it is reset before it
/// goes back (and dropped, freeing its slot, if even that fails).
pub struct Pooled<T: 'static> {
    rt: Option<Runtime<T>>,
    shared: Arc<Shared<T>>,
}

impl<T: 'static> core::ops::Deref for Pooled<T> {
    type Target = Runtime<T>;
    fn deref(&self) -> &Runtime<T> {
        match &self.rt {
            Some(rt) => rt,
            None => unreachable!("a pooled runtime is taken only when it goes back"),
        }
    }
}

impl<T: 'static> core::ops::DerefMut for Pooled<T> {
    fn deref_mut(&mut self) -> &mut Runtime<T> {
        match &mut self.rt {
            Some(rt) => rt,
            None => unreachable!("a pooled runtime is taken only when it goes back"),
        }
    }
}

impl<T: 'static> Drop for Pooled<T> {
    fn drop(&mut self) {
        let Some(mut rt) = self.rt.take() else { return };
        if rt.last_call_failed() && rt.reset().is_err() {
            // It could not be started afresh: let the factory make another.
            drop(rt);
            self.shared.release_slot();
            return;
        }
        let mut slots = self.shared.slots();
        slots.busy -= 1;
        slots.idle.push(rt);
        self.shared.wake(slots);
    }
}

impl<T: 'static> core::fmt::Debug for Pooled<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Pooled").field(&**self).finish()
    }
}
