//! Taking and releasing the GIL: entering Python from GStreamer's streaming threads
//! cheaply ([`with_python`]), blocking calls that release the GIL but still answer Ctrl-C
//! ([`detach_interruptible`]), values that cross `py.detach` ([`SameThread`]), and
//! interrupting a Python element's call in progress ([`Running`]).
//!
//! Why [`with_python`]:
//! `Python::attach` on a thread Python did not create makes a new PyThreadState and
//! destroys it again when the call returns: several microseconds per buffer. A streaming
//! thread lives for the whole stream, so framepipe parks one thread state on it instead
//! and only takes and releases the GIL around each call. The parked state is freed when
//! the thread exits (GStreamer's thread pools end idle threads), so thread states do not
//! pile up over many pipelines.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use framepipe_core::Error;
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::ffi;
use pyo3::prelude::*;

use crate::errors::to_py;

/// This thread's parked thread state: released when the thread exits, if framepipe made it.
struct Parked(Cell<Park>);

#[derive(Clone, Copy, PartialEq)]
enum Park {
    No,
    /// Made by parking (a GStreamer or framepipe thread): ours to release.
    Ours,
    /// The thread already had a Python thread state (a Python thread, which deletes its
    /// own when it ends): only kept alive longer, never released here.
    Borrowed,
}

impl Drop for Parked {
    fn drop(&mut self) {
        if self.0.get() != Park::Ours {
            return;
        }
        // While the interpreter runs, drop the reference `with_python` kept: pyo3's own
        // attach holds a second one, whose release then deletes the thread state. During
        // or after finalisation Python owns (and frees) every thread state itself.
        Python::try_attach(|_| {
            // SAFETY: attached, so this thread's state is current and its gilstate
            // counter is at least 2 (ours and try_attach's); releasing ours with
            // PyGILState_LOCKED, as `with_python` got it, only decrements the counter.
            unsafe { ffi::PyGILState_Release(ffi::PyGILState_STATE::PyGILState_LOCKED) };
        });
    }
}

thread_local! {
    static PARKED: Parked = const { Parked(Cell::new(Park::No)) };
}

/// Runs `f` attached to the interpreter, like [`Python::try_attach`] (so `None` while the
/// interpreter is not running or is shutting down), keeping this thread's Python thread
/// state alive between calls.
pub fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    // A thread being torn down (its thread-locals already gone) attaches plainly.
    let parked = PARKED.try_with(|p| p.0.get() != Park::No).unwrap_or(true);
    if !parked {
        // SAFETY: reads this thread's gilstate slot; valid without the GIL.
        let had_state = unsafe { !ffi::PyGILState_GetThisThreadState().is_null() };
        Python::try_attach(|_| {
            // SAFETY: we are attached, so the GIL is held and PyGILState_Ensure only bumps
            // this thread state's counter; `Parked::drop` releases it when the thread
            // exits, keeping the state (and its Python-side thread data) until then.
            unsafe { ffi::PyGILState_Ensure() };
        })?;
        let park = if had_state { Park::Borrowed } else { Park::Ours };
        let _ = PARKED.try_with(|p| p.0.set(park));
    }
    Python::try_attach(f)
}

pyo3::create_exception!(
    framepipe._framepipe,
    ElementStopped,
    pyo3::exceptions::PyBaseException,
    "Raised inside a Python element's call in progress when its pipeline stops."
);

/// Which thread is inside a streaming call of the element's Python object, so that
/// stopping can interrupt it with an asynchronous exception (`ElementStopped`) rather
/// than wait for it. Read and written with the GIL held.
#[derive(Default)]
pub(crate) struct Running {
    /// Python thread id of the thread inside the call; 0 when none.
    thread: std::sync::atomic::AtomicU64,
    /// An `ElementStopped` was sent to `thread` and may still be pending.
    sent: AtomicBool,
    /// Set from stopping until the next start: streaming calls return flushing at once.
    pub(crate) stopping: AtomicBool,
}

impl Running {
    /// Runs the streaming call `f` (GIL held) as interruptible.
    pub(crate) fn guard<R>(&self, py: Python<'_>, f: impl FnOnce() -> R) -> R {
        // SAFETY: plain query of the calling thread's id.
        let me = unsafe { pyo3::ffi::PyThread_get_thread_ident() } as u64;
        self.thread.store(me, Ordering::SeqCst);
        let result = f();
        self.thread.store(0, Ordering::SeqCst);
        if self.sent.swap(false, Ordering::SeqCst) {
            // The call ended before the exception was raised in it: drop it, or it would
            // fire in whatever Python code this thread runs next.
            // SAFETY: the GIL is held (`py`); a NULL exception clears a pending one.
            unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(me as _, std::ptr::null_mut()) };
        }
        let _ = py;
        result
    }

    /// Interrupts the call in progress, if any (takes the GIL briefly).
    pub(crate) fn interrupt(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = Python::try_attach(|py| {
            let thread = self.thread.load(Ordering::SeqCst);
            if thread != 0 && !self.sent.swap(true, Ordering::SeqCst) {
                let exc = py.get_type::<ElementStopped>();
                // SAFETY: the GIL is held; `thread` is inside a call guarded by `guard`,
                // which cannot end meanwhile (it needs the GIL to clear `thread`).
                unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(thread as _, exc.as_ptr()) };
            }
        });
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// Runs `f` with the GIL released. `f` gets an interrupt check that briefly re-attaches to
/// run Python's signal handlers; if one raises (Ctrl-C), `f` is told to stop and that very
/// exception is returned.
pub fn detach_interruptible<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: Send + FnOnce(&mut dyn FnMut() -> bool) -> framepipe_core::Result<T>,
{
    let mut pending: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut check = || {
            Python::attach(|py| match py.check_signals() {
                Ok(()) => false,
                Err(e) => {
                    pending = Some(e);
                    true
                }
            })
        };
        f(&mut check)
    });
    match result {
        Ok(v) => Ok(v),
        Err(Error::Interrupted) => Err(pending.unwrap_or_else(|| PyKeyboardInterrupt::new_err(()))),
        Err(e) => Err(to_py(e)),
    }
}

/// A value that crosses `py.detach`, which runs its closure on the calling thread: the
/// value never changes threads, so it need not be `Send`.
pub struct SameThread<T>(pub T);

// SAFETY: only used to carry a value into or out of a `py.detach` closure, which runs
// synchronously on the thread that made the value and gives it back to that same thread.
unsafe impl<T> Send for SameThread<T> {}

/// Runs `f` with the GIL released when the interpreter runs (from a destructor, which may
/// or may not hold it); `None`, without running `f`, once the interpreter is finalizing.
pub fn detached_if_running<R: Send>(f: impl FnOnce() -> R + Send) -> Option<R> {
    Python::try_attach(|py| py.detach(f))
}
