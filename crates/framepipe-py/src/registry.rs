//! The element registry, for `framepipe inspect`.

use gst::glib::translate::IntoGlib;
use gst::prelude::*;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::element::PyElement;
use crate::errors::FpResult;

/// (name, long name, classification, plugin) of every element factory, sorted by name.
/// framepipe's own elements and Python-written ones, registered in this process without a
/// plugin file, show as plugin "framepipe" (the plugin that serves them to gst-launch-1.0).
#[pyfunction]
pub fn factories(py: Python<'_>) -> Vec<(String, String, String, String)> {
    // Loading a factory can load its plugin file: never with the GIL held.
    py.detach(all_factories)
}

fn all_factories() -> Vec<(String, String, String, String)> {
    // Every feature: factories_with_type(ANY) leaves out classifications it has no type for
    // ("Filter/Analytics", "Filter/Effect", ...), pyfunc and fpoverlay among them.
    let mut all: Vec<_> = gst::Registry::get()
        .features(gst::ElementFactory::static_type())
        .into_iter()
        .filter_map(|f| f.downcast::<gst::ElementFactory>().ok())
        .map(|f| {
            let plugin = f.plugin_name().map(|p| p.to_string()).unwrap_or_else(|| {
                let ours = f.load().ok().is_some_and(|f| f.element_type().name().starts_with("GstFp"));
                if ours { "framepipe".to_string() } else { String::new() }
            });
            (
                f.name().to_string(),
                f.metadata(gst::ELEMENT_METADATA_LONGNAME).unwrap_or_default().to_string(),
                f.metadata(gst::ELEMENT_METADATA_KLASS).unwrap_or_default().to_string(),
                plugin,
            )
        })
        .collect();
    all.sort();
    all
}

/// Everything `framepipe inspect NAME` shows about one element factory: metadata, pad
/// templates and properties. Raises ParseError for an unknown name.
#[pyfunction]
pub fn describe_factory<'py>(py: Python<'py>, name: &str) -> FpResult<Bound<'py, PyDict>> {
    // Finding and creating may load a plugin (framepipe's own runs Python on its thread).
    let factory = py.detach(|| gst::ElementFactory::find(name)).ok_or_else(|| framepipe_core::Error::Parse {
        message: format!("no element \"{name}\": no such element or plugin is installed"),
        token: Some(name.to_string()),
    })?;
    let d = PyDict::new(py);
    d.set_item("name", factory.name().as_str())?;
    for (key, meta) in [
        ("long_name", gst::ELEMENT_METADATA_LONGNAME),
        ("classification", gst::ELEMENT_METADATA_KLASS),
        ("description", gst::ELEMENT_METADATA_DESCRIPTION),
        ("author", gst::ELEMENT_METADATA_AUTHOR),
    ] {
        d.set_item(key, factory.metadata(meta).map(|s| s.to_string()))?;
    }
    d.set_item("plugin", factory.plugin_name().map(|p| p.to_string()))?;
    d.set_item("rank", factory.rank().into_glib())?;
    let templates = PyList::empty(py);
    for t in factory.static_pad_templates() {
        let td = PyDict::new(py);
        td.set_item("name", t.name_template())?;
        td.set_item("direction", format!("{:?}", t.direction()).to_lowercase())?;
        td.set_item("presence", format!("{:?}", t.presence()).to_lowercase())?;
        td.set_item("caps", t.caps().to_string())?;
        templates.append(td)?;
    }
    d.set_item("pad_templates", templates)?;
    let element = py.detach(|| factory.create().build())?;
    d.set_item("properties", PyElement::new(element).properties(py)?)?;
    Ok(d)
}
