//! Elements written in Python. `@framepipe.element` hands a class and its description to
//! [`register_element`](register::register_element), which registers it with gstframepipe's hosts as an element factory
//! of its own. Each element instance gets an instance of the class, and the host's hooks
//! call its methods (`create`, `transform_ip`, `transform`, `render`, `start`, ...).
//!
//! Streaming threads take the GIL only around the Python call itself; a source's `create`
//! and a sink's `render` run on a thread of the element's own so that stopping never waits
//! for a slow Python call (see `hooks.rs` and `jobs.rs`). A Python exception
//! becomes a [`CallbackError`] whose debug text is the formatted traceback and whose cause
//! is the exception, which the host stashes when it posts the ERROR so that the caller's
//! `PipelineError` gets it as `__cause__` (`gstframepipe::callback`).

mod handle;
mod hooks;
mod jobs;
mod plugin;
mod register;
mod spec;

use pyo3::prelude::*;

pub use register::check_launch_properties;

/// Adds this folder's classes and functions to the native module.
pub fn add_to_module(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    m.add_class::<handle::PyElementHandle>()?;
    m.add_function(wrap_pyfunction!(register::register_element, m)?)?;
    m.add_function(wrap_pyfunction!(plugin::plugin_register, m)?)?;
    m.add_function(wrap_pyfunction!(plugin::plugin_loading, m)?)?;
    m.add_function(wrap_pyfunction!(plugin::plugin_loaded, m)?)?;
    Ok(())
}
