//! Python code called on streaming threads with a writable `Frame`: the `pyfunc` element's
//! callable and `Pipeline.add_probe` callbacks share [`call_attached`], written once.
//!
//! The GIL is taken only around the Python call (`Python::try_attach`, so a finalizing
//! interpreter gives an error instead of a hang). The frame owns the buffer during the
//! call; afterwards [`PyFrame::release`] hands back the same buffer, or a copy when Python
//! kept views of its memory. A Python exception becomes a [`CallbackError`] carrying the
//! traceback (the ERROR's debug text) and the exception itself, which the element stashes
//! so `errors.rs` can make it the `__cause__` of the PipelineError ([`callback_error`],
//! also used by the hooks of elements written in Python).

use std::sync::Arc;

use framepipe_core::media::MediaInfo;
use gstframepipe::callback::{CallbackError, CallbackResult, CapsInfo, ElementHooks};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};

use crate::frame::PyFrame;

/// A Python exception as a callback error: message `Type: text` (`context() raised
/// Type: text` when `context` names the hook that raised it), the formatted traceback as
/// debug, and the exception object as cause, so that the PipelineError reporting the
/// ERROR gets it as `__cause__`.
pub fn callback_error(py: Python<'_>, err: PyErr, context: Option<&str>) -> CallbackError {
    let value = err.value(py);
    // On Python 3.11 a fetched exception keeps its traceback beside it; put it on the
    // object so both the debug text and the chained cause show where it was raised.
    if let Some(tb) = err.traceback(py)
        && value.getattr("__traceback__").is_ok_and(|t| t.is_none())
    {
        let _ = value.setattr("__traceback__", tb);
    }
    let type_name = value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    let text = value.str().map(|s| s.to_string()).unwrap_or_default();
    let message = match context {
        Some(hook) if text.is_empty() => format!("{hook}() raised {type_name}"),
        Some(hook) => format!("{hook}() raised {type_name}: {text}"),
        // framepipe's own errors about the settings (`property 'module' of ...`) speak for themselves.
        None if text.is_empty() => type_name,
        None if text.starts_with("property '") => text,
        None => format!("{type_name}: {text}"),
    };
    let debug = py
        .import("traceback")
        .and_then(|tb| tb.call_method1("format_exception", (value,)))
        .and_then(|lines| PyString::new(py, "").call_method1("join", (lines,)))
        .and_then(|s| s.extract::<String>())
        .unwrap_or_else(|_| message.clone());
    let cause: Py<pyo3::exceptions::PyBaseException> = value.clone().unbind();
    CallbackError::with_debug(message, debug).caused_by(Arc::new(cause))
}

fn not_running() -> CallbackError {
    CallbackError::new("the Python interpreter is not running (it is shutting down or was never started)")
}

/// Calls `func(frame, **kwargs)` with a writable frame over `buffer` (which must be
/// writable) and returns the buffer to pass on, or `None` when the callable returned
/// `False`. The caller is attached (it takes the GIL for the call only).
pub fn call_attached(
    py: Python<'_>,
    func: &Bound<'_, PyAny>,
    kwargs: Option<&Bound<'_, PyDict>>,
    buffer: gst::Buffer,
    caps: Option<&CapsInfo>,
) -> CallbackResult<Option<gst::Buffer>> {
    let (caps, media) = caps.map_or((None, MediaInfo::Other), |c| (Some(c.caps.clone()), c.media.clone()));
    let frame = Bound::new(py, PyFrame::owned(buffer, caps, media)).map_err(|e| callback_error(py, e, None))?;
    let result = func.call((frame.clone(),), kwargs);
    let buffer = frame.get().release();
    match result {
        Ok(r) if r.cast::<PyBool>().is_ok_and(|b| !b.is_true()) => Ok(None),
        Ok(_) => Ok(Some(buffer)),
        Err(e) => Err(callback_error(py, e, None)),
    }
}

/// A `pyfunc` element's callable: its hooks, which only transform in place.
struct PyFuncHooks {
    func: Py<PyAny>,
    kwargs: Option<Py<PyDict>>,
    running: crate::gil::Running,
}

impl ElementHooks for PyFuncHooks {
    fn transform_ip(&self, buffer: gst::Buffer, caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        crate::gil::with_python(|py| {
            self.running.guard(py, || {
                call_attached(py, self.func.bind(py), self.kwargs.as_ref().map(|k| k.bind(py)), buffer, Some(caps))
            })
        })
        .unwrap_or_else(|| Err(not_running()))
    }

    fn interrupt(&self) {
        self.running.interrupt();
    }
}

/// Resolves a starting `pyfunc`'s properties (module, function, class, kwargs) with
/// `framepipe._pyfunc.resolve`.
fn make_pyfunc(element: &gst::Element) -> CallbackResult<Box<dyn ElementHooks>> {
    use gst::prelude::*;
    let text = |name: &str| element.property::<Option<String>>(name);
    let (module, function) = (text("module").unwrap_or_default(), text("function").unwrap_or_default());
    let (class, kwargs) = (text("class"), text("kwargs"));
    Python::try_attach(|py| {
        let resolved = py
            .import("framepipe._pyfunc")
            .and_then(|m| m.call_method1("resolve", (element.name().as_str(), module, function, class, kwargs)))
            .and_then(|r| r.extract::<(Py<PyAny>, Option<Py<PyDict>>)>())
            .map_err(|e| callback_error(py, e, None))?;
        let (func, kwargs) = resolved;
        Ok(Box::new(PyFuncHooks { func, kwargs, running: Default::default() }) as Box<dyn ElementHooks>)
    })
    .unwrap_or_else(|| Err(not_running()))
}

/// Lets `pyfunc` elements in this process call Python (done at import).
pub fn install_pyfunc_factory() {
    gstframepipe::pyfunc::set_pyfunc_factory(Arc::new(make_pyfunc));
}
