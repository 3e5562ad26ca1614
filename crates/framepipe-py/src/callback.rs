//! Python code called on streaming threads with a writable `Frame`: the `pyfunc` element's
//! callable and `Pipeline.add_probe` callbacks share [`call_attached`], written once.
//!
//! The GIL is taken only around the Python call (`Python::try_attach`, so a finalizing
//! interpreter gives an error instead of a hang). The frame owns the buffer during the
//! call; afterwards [`PyFrame::release`] hands back the same buffer, or a copy when Python
//! kept views of its memory. A Python exception becomes a [`CallbackError`] carrying the
//! traceback (the ERROR's debug text) and the exception itself, which the element stashes
//! so `errors.rs` can make it the `__cause__` of the PipelineError.

use std::sync::{Arc, Mutex};

use framepipe_core::media::MediaInfo;
use gstframepipe::pyfunc::{CallbackError, FrameCallback, PyFuncSettings};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};

use crate::frame::PyFrame;

/// Parsing caps once per change rather than once per buffer.
#[derive(Default)]
pub struct MediaCache(Mutex<Option<(gst::Caps, MediaInfo)>>);

impl MediaCache {
    pub fn media(&self, caps: Option<&gst::Caps>) -> MediaInfo {
        let Some(caps) = caps else { return MediaInfo::Other };
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &*cache {
            Some((c, media)) if c.as_ptr() == caps.as_ptr() || c == caps => media.clone(),
            _ => {
                let media = MediaInfo::from_caps(Some(caps));
                *cache = Some((caps.clone(), media.clone()));
                media
            }
        }
    }
}

/// The callback's view of a Python exception: message `Type: text`, the traceback as
/// debug, and the exception object as cause.
pub fn callback_error(py: Python<'_>, err: PyErr) -> CallbackError {
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
    let message = if text.starts_with("property '") || text.is_empty() {
        if text.is_empty() { type_name } else { text }
    } else {
        format!("{type_name}: {text}")
    };
    let debug = py
        .import("traceback")
        .and_then(|tb| tb.call_method1("format_exception", (value,)))
        .and_then(|lines| pyo3::types::PyString::new(py, "").call_method1("join", (lines,)))
        .and_then(|s| s.extract::<String>())
        .ok();
    let cause: Box<dyn std::any::Any + Send> = Box::new(value.clone().unbind());
    CallbackError { message, debug, cause: Some(cause) }
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
    caps: Option<gst::Caps>,
    media: MediaInfo,
) -> Result<Option<gst::Buffer>, CallbackError> {
    let frame = Bound::new(py, PyFrame::owned(buffer, caps, media)).map_err(|e| callback_error(py, e))?;
    let result = func.call((frame.clone(),), kwargs);
    let buffer = frame.get().release();
    match result {
        Ok(r) if r.cast::<PyBool>().is_ok_and(|b| !b.is_true()) => Ok(None),
        Ok(_) => Ok(Some(buffer)),
        Err(e) => Err(callback_error(py, e)),
    }
}

/// A `pyfunc` element's callable.
struct PyFuncCallback {
    func: Py<PyAny>,
    kwargs: Option<Py<PyDict>>,
    media: MediaCache,
    running: crate::gil::Running,
}

impl FrameCallback for PyFuncCallback {
    fn call(&self, buffer: gst::Buffer, caps: Option<&gst::Caps>) -> Result<Option<gst::Buffer>, CallbackError> {
        let media = self.media.media(caps);
        crate::gil::with_python(|py| {
            self.running.guard(py, || {
                call_attached(
                    py,
                    self.func.bind(py),
                    self.kwargs.as_ref().map(|k| k.bind(py)),
                    buffer,
                    caps.cloned(),
                    media,
                )
            })
        })
        .unwrap_or_else(|| Err(not_running()))
    }

    fn interrupt(&self) {
        self.running.interrupt();
    }
}

/// Resolves module/function/class/kwargs with `framepipe._pyfunc.resolve`.
fn make_pyfunc(settings: &PyFuncSettings) -> Result<Arc<dyn FrameCallback>, CallbackError> {
    Python::try_attach(|py| {
        let resolved = py
            .import("framepipe._pyfunc")
            .and_then(|m| {
                m.call_method1(
                    "resolve",
                    (
                        settings.element.as_str(),
                        settings.module.as_str(),
                        settings.function.as_str(),
                        settings.class.as_deref(),
                        settings.kwargs.as_deref(),
                    ),
                )
            })
            .and_then(|r| r.extract::<(Py<PyAny>, Option<Py<PyDict>>)>())
            .map_err(|e| callback_error(py, e))?;
        let (func, kwargs) = resolved;
        Ok(Arc::new(PyFuncCallback { func, kwargs, media: MediaCache::default(), running: Default::default() })
            as Arc<dyn FrameCallback>)
    })
    .unwrap_or_else(|| Err(not_running()))
}

/// Lets `pyfunc` elements in this process call Python (done at import).
pub fn install_pyfunc_factory() {
    gstframepipe::pyfunc::set_pyfunc_factory(Box::new(make_pyfunc));
}
