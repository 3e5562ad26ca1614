//! Registering a Python element class with gstframepipe's hosts, in this process or into
//! the plugin that gst-launch-1.0 is loading.

use std::sync::{Arc, Mutex, PoisonError};

use gst::glib;
use gst::prelude::*;
use gstframepipe::host::{self, ElementClassDesc, HooksFactory};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use super::hooks::PyClassFactory;
use super::spec::ElementSpec;
use crate::errors::FpResult;
use crate::value;

/// A registered class, with the address of the plugin it was registered into (0: none,
/// in-process).
pub(super) type Registered = (ElementClassDesc, Arc<dyn HooksFactory>, usize);

/// Every class registered in this process, so that `_plugin_register` can register them
/// again as features of the plugin file that gst-launch-1.0 loaded.
pub(super) static REGISTERED: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// The plugin whose `_plugin_load` is importing element modules: their classes register
/// straight into it. Registering them in-process first and into the plugin afterwards
/// would replace the registry's feature objects while GStreamer is loading one of them.
pub(super) static LOADING: Mutex<Option<(usize, gst::Plugin)>> = Mutex::new(None);

/// Registers `cls` as element factory `spec["name"]` in this process, at once. `spec` is
/// what `framepipe.element` computed: kind ("source", "transform", "sink"), mode (for
/// transforms: "in_place", "out_of_place", "passthrough"), caps, metadata, rank and
/// properties.
#[pyfunction(name = "_register_element")]
pub fn register_element(py: Python<'_>, cls: Bound<'_, PyType>, spec: Bound<'_, PyDict>) -> FpResult<()> {
    let ElementSpec { desc, enum_classes, has_transform_caps } = ElementSpec::parse(&spec)?;
    let kind = desc.kind;
    let factory: Arc<dyn HooksFactory> = Arc::new(PyClassFactory { cls: cls.unbind(), kind, has_transform_caps });
    let loading = LOADING.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let address = loading.as_ref().map_or(0, |(address, _)| *address);
    let for_plugin = (desc.clone(), factory.clone(), address);
    let type_ = py.detach(move || host::register_element(loading.as_ref().map(|(_, plugin)| plugin), desc, factory))?;
    if let Some(class) = glib::object::ObjectClass::from_type(type_) {
        for (name, enum_class) in enum_classes {
            if let Some(pspec) = class.find_property(&name) {
                value::set_enum_class(pspec.value_type(), enum_class);
            }
        }
    }
    // A class decorated again replaces the earlier one, for the plugin loader too.
    let mut registered = REGISTERED.lock().unwrap_or_else(PoisonError::into_inner);
    registered.retain(|(d, _, _)| d.factory_name != for_plugin.0.factory_name);
    registered.push(for_plugin);
    Ok(())
}

/// ParseError for the first hosted element of `pipeline` that refused a value given in the
/// launch description (out of range), naming the property.
pub fn check_launch_properties(pipeline: &gst::Pipeline) -> FpResult<()> {
    for element in pipeline.iterate_recurse().into_iter().flatten() {
        if let Some(why) = host::rejected_property(&element) {
            let token = why.split('"').nth(1).map(str::to_string);
            return Err(framepipe_core::Error::Parse { message: why, token }.into());
        }
    }
    Ok(())
}
