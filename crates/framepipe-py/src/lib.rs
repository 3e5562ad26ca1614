//! framepipe's native module, `framepipe._framepipe`. One file per Python concept; the
//! Python package re-exports these names with docs and conveniences.

use pyo3::prelude::*;

mod array;
mod avwriter;
mod buffer;
mod callback;
mod dlpack;
mod element;
mod errors;
mod frame;
mod gil;
mod log;
mod mapping;
mod memory;
mod message;
mod meta;
mod pipeline;
mod pyelement;
mod registry;
mod value;
mod video;

#[pymodule]
fn _framepipe(m: &Bound<'_, PyModule>) -> PyResult<()> {
    framepipe_core::init().map_err(errors::to_py)?;
    // Imported by the plugin loader of gst-launch-1.0 (inside the plugin file's
    // plugin_init): the built-ins are registered into that plugin by `_plugin_load`, and a
    // static registration now would replace the very features GStreamer is loading.
    let loading_plugin = m.py().import("sys")?.hasattr("_framepipe_plugin_loading")?;
    if !loading_plugin {
        gstframepipe::register_static()
            .map_err(|e| errors::to_py(framepipe_core::Error::Gst(format!("registering built-in elements: {e}"))))?;
    }
    m.add_class::<pipeline::PyPipeline>()?;
    m.add_class::<frame::PyFrame>()?;
    m.add_class::<buffer::PyBuffer>()?;
    m.add_class::<mapping::PyMappedBuffer>()?;
    m.add_class::<mapping::PyMapping>()?;
    m.add_class::<memory::PyMemory>()?;
    m.add_class::<element::PyElement>()?;
    m.add_class::<element::PyPropertyInfo>()?;
    m.add_class::<message::PyMessage>()?;
    m.add_class::<meta::PyRegion>()?;
    m.add_class::<meta::PyTensor>()?;
    m.add_function(wrap_pyfunction!(meta::read_metadata, m)?)?;
    callback::install_pyfunc_factory();
    m.add_function(wrap_pyfunction!(registry::factories, m)?)?;
    m.add_function(wrap_pyfunction!(registry::describe_factory, m)?)?;
    m.add_class::<video::PyVideoReader>()?;
    m.add_class::<video::PyVideoWriter>()?;
    m.add_class::<avwriter::PyAvWriter>()?;
    m.add_function(wrap_pyfunction!(video::video_codecs, m)?)?;
    m.add_function(wrap_pyfunction!(video::pixel_format_layout, m)?)?;
    m.add_function(wrap_pyfunction!(video::convert_pixels, m)?)?;
    m.add_function(wrap_pyfunction!(log::set_gst_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(log::flush_gst_log, m)?)?;
    pyelement::add_to_module(m)?;
    m.add("SECOND", gst::ClockTime::SECOND.nseconds())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("gstreamer_version", gst::version_string().as_str())?;
    Ok(())
}
