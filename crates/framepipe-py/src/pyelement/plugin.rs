//! The entry points of the plugin file's loader (`framepipe._plugin_load`): Python
//! elements register into the `GstPlugin` that gst-launch-1.0 is loading.

use std::sync::PoisonError;

use gstframepipe::host;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::register::{LOADING, REGISTERED};
use crate::errors::FpResult;

/// Makes classes decorated from now on (until [`plugin_loaded`]) register into the plugin
/// at `address` (see `_plugin_load`).
#[pyfunction(name = "_plugin_loading")]
pub fn plugin_loading(address: usize) -> PyResult<()> {
    if address == 0 {
        return Err(PyValueError::new_err("plugin address is NULL"));
    }
    // SAFETY: the loader passes the address of the GstPlugin being loaded, alive during
    // `_plugin_load`; plugin_from_address takes a reference of its own, dropped in
    // plugin_loaded.
    let plugin = unsafe { host::plugin_from_address(address) };
    *LOADING.lock().unwrap_or_else(PoisonError::into_inner) = Some((address, plugin));
    Ok(())
}

#[pyfunction(name = "_plugin_loaded")]
pub fn plugin_loaded() {
    LOADING.lock().unwrap_or_else(PoisonError::into_inner).take();
}

/// Registers the built-in elements and every Python element class registered in this
/// process (and not already into this plugin) as features of the plugin at `address` (the `GstPlugin*` the gst-launch-1.0
/// loader hands to `framepipe._plugin_load`, valid during that call).
#[pyfunction(name = "_plugin_register")]
pub fn plugin_register(py: Python<'_>, address: usize) -> FpResult<()> {
    if address == 0 {
        return Err(PyValueError::new_err("plugin address is NULL").into());
    }
    // SAFETY: the loader passes the address of the GstPlugin being loaded, which stays
    // alive during this call; plugin_from_address takes a reference of its own.
    let plugin = unsafe { host::plugin_from_address(address) };
    let classes: Vec<_> = REGISTERED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(_, _, registered_in)| *registered_in != address)
        .map(|(desc, factory, _)| (desc.clone(), factory.clone()))
        .collect();
    Ok(py.detach(move || -> framepipe_core::Result<()> {
        gstframepipe::register(&plugin).map_err(|e| framepipe_core::Error::Gst(e.to_string()))?;
        for (desc, factory) in classes {
            host::register_element(Some(&plugin), desc, factory)?;
        }
        Ok(())
    })?)
}
