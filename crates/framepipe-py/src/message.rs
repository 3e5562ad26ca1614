//! `Message`: a bus message as plain Python data.

use gst::prelude::*;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::value;

#[pyclass(frozen, get_all, name = "Message", module = "framepipe._framepipe")]
pub struct PyMessage {
    /// Message type in GStreamer's spelling: "eos", "error", "warning", "state-changed", ...
    r#type: String,
    /// Name of the object that posted it.
    source: Option<String>,
    /// Name of the message's structure ("GstMessageStateChanged", an element's own name...).
    name: Option<String>,
    /// The structure's fields.
    structure: Py<PyDict>,
}

impl PyMessage {
    pub fn new(py: Python<'_>, msg: &gst::Message) -> PyResult<PyMessage> {
        let structure = match msg.view() {
            gst::MessageView::Error(e) => text_dict(py, e.error().message(), e.debug().as_deref())?,
            gst::MessageView::Warning(w) => text_dict(py, w.error().message(), w.debug().as_deref())?,
            gst::MessageView::Info(i) => text_dict(py, i.error().message(), i.debug().as_deref())?,
            _ => match msg.structure() {
                Some(s) => value::structure_to_dict(py, s)?,
                None => PyDict::new(py),
            },
        };
        Ok(PyMessage {
            r#type: message_type_name(msg.type_()),
            source: msg.src().map(|s| s.name().to_string()),
            name: msg.structure().map(|s| s.name().to_string()),
            structure: structure.unbind(),
        })
    }
}

fn text_dict<'py>(py: Python<'py>, message: &str, debug: Option<&str>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("message", message)?;
    d.set_item("debug", debug)?;
    Ok(d)
}

#[pymethods]
impl PyMessage {
    fn __repr__(&self) -> String {
        format!("<Message {} from {}>", self.r#type, self.source.as_deref().unwrap_or("?"))
    }
}

/// GStreamer's name for a message type ("eos", "state-changed", ...).
fn message_type_name(t: gst::MessageType) -> String {
    use gst::glib::translate::IntoGlib;
    // SAFETY: gst_message_type_get_name returns a static NUL-terminated string for every
    // message type (or "unknown").
    unsafe { std::ffi::CStr::from_ptr(gst::ffi::gst_message_type_get_name(t.into_glib())) }
        .to_string_lossy()
        .into_owned()
}
