//! The one conversion point from framepipe's Rust errors to Python exceptions: [`to_py`],
//! and [`FpError`], the error of functions that call the core, so that `?` converts core
//! errors and Python errors alike.

use framepipe_core::{BusError, Error};
use pyo3::exceptions::PyBaseException;
use pyo3::exceptions::{
    PyBufferError, PyFileNotFoundError, PyKeyError, PyKeyboardInterrupt, PyTimeoutError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static FRAMEPIPE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PARSE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PIPELINE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NEGOTIATION_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static MEDIA_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// One of the exception classes defined in `framepipe/errors.py`.
fn class<'py>(py: Python<'py>, cell: &'static PyOnceLock<Py<PyType>>, name: &str) -> PyResult<Bound<'py, PyType>> {
    cell.import(py, "framepipe.errors", name).cloned()
}

fn with_class(py: Python<'_>, cell: &'static PyOnceLock<Py<PyType>>, name: &str, message: String) -> PyErr {
    match class(py, cell, name) {
        Ok(cls) => PyErr::from_type(cls, message),
        Err(e) => e,
    }
}

fn bus_error(py: Python<'_>, cell: &'static PyOnceLock<Py<PyType>>, name: &str, info: &BusError) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let exc = class(py, cell, name)?.call1((info.to_string(),))?;
        exc.setattr("element", info.element.as_deref())?;
        exc.setattr("path", info.path.as_deref())?;
        exc.setattr("message", info.message.as_str())?;
        exc.setattr("debug", info.debug.as_deref())?;
        // A Python exception raised in a callback of this element (pyfunc, probe) is
        // chained as the cause, exactly as `raise ... from exc` would.
        if let Some(cause) = info.path.as_deref().and_then(gstframepipe::callback::take_error_cause)
            && let Ok(cause) = cause.downcast::<Py<PyBaseException>>()
        {
            exc.setattr("__cause__", cause.bind(py))?;
        }
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// Converts a core error into the Python exception DESIGN.md names for it.
pub fn to_py(err: Error) -> PyErr {
    Python::attach(|py| match err {
        Error::Parse { message, token } => {
            let e = with_class(py, &PARSE_ERROR, "ParseError", message);
            let _ = e.value(py).setattr("token", token);
            e
        }
        Error::Pipeline(info) => bus_error(py, &PIPELINE_ERROR, "PipelineError", &info),
        Error::Negotiation(info) => bus_error(py, &NEGOTIATION_ERROR, "NegotiationError", &info),
        Error::Media(m) => with_class(py, &MEDIA_ERROR, "MediaError", m),
        Error::NotFound(m) => PyFileNotFoundError::new_err(m),
        Error::Timeout(d) => PyTimeoutError::new_err(format!("timed out after {:.3} s", d.as_secs_f64())),
        Error::TimeoutHint { after, hint } => {
            PyTimeoutError::new_err(format!("timed out after {:.3} s: {hint}", after.as_secs_f64()))
        }
        // "No such element" (of a pipeline): the message lists the elements there are.
        Error::Key(m) => PyKeyError::new_err(m),
        Error::Interrupted => PyKeyboardInterrupt::new_err(()),
        Error::Value(m) => PyValueError::new_err(m),
        Error::Type(m) => PyTypeError::new_err(m),
        Error::Buffer(m) => PyBufferError::new_err(m),
        other => with_class(py, &FRAMEPIPE_ERROR, "FramepipeError", other.to_string()),
    })
}

/// An error on its way to Python. Functions that call framepipe's core return
/// [`FpResult`], so that `?` takes both core errors (converted by [`to_py`], the one
/// conversion point) and Python errors; PyO3 raises it as the exception it holds.
#[derive(Debug)]
pub struct FpError(PyErr);

pub type FpResult<T> = Result<T, FpError>;

impl From<Error> for FpError {
    fn from(err: Error) -> Self {
        FpError(to_py(err))
    }
}

impl From<gst::glib::BoolError> for FpError {
    fn from(err: gst::glib::BoolError) -> Self {
        Error::from(err).into()
    }
}

impl From<PyErr> for FpError {
    fn from(err: PyErr) -> Self {
        FpError(err)
    }
}

impl From<FpError> for PyErr {
    fn from(err: FpError) -> Self {
        err.0
    }
}
