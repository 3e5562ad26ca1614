//! Entering Python from GStreamer's streaming threads, cheaply.
//!
//! `Python::attach` on a thread Python did not create makes a new PyThreadState and
//! destroys it again when the call returns: several microseconds per buffer. A streaming
//! thread lives for the whole stream, so framepipe parks one thread state on it instead
//! and only takes and releases the GIL around each call.

use std::cell::Cell;

use pyo3::ffi;
use pyo3::prelude::*;

thread_local! {
    static PARKED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` attached to the interpreter, like [`Python::try_attach`] (so `None` while the
/// interpreter is not running or is shutting down), keeping this thread's Python thread
/// state alive between calls.
pub fn with_python<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    if !PARKED.get() {
        Python::try_attach(|_| {
            // SAFETY: we are attached, so the GIL is held and PyGILState_Ensure only bumps
            // this thread state's counter; never releasing it keeps the state (and its
            // Python-side thread data) for the next call. Py_Finalize clears it, and after
            // that try_attach no longer attaches.
            unsafe { ffi::PyGILState_Ensure() };
        })?;
        PARKED.set(true);
    }
    Python::try_attach(f)
}
