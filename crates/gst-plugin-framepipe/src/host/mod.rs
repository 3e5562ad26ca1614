//! Hosts for elements whose behaviour lives elsewhere (in Python, for framepipe-py; in
//! Rust, for the tests). Each element class described by an [`ElementClassDesc`] becomes a
//! GType of its own, derived at run time from [`SourceHost`], [`TransformHost`] or
//! [`SinkHost`], with its own metadata, pad templates and GObject properties, and its own
//! element factory. Each instance gets an [`ElementHooks`] object from the class's
//! [`HooksFactory`], and the host's virtual methods call it.

mod core;
mod desc;
mod hooks;
mod register;
pub mod sink;
pub mod source;
pub mod transform;

pub use desc::{ElementClassDesc, ElementKind, EnumMember, PropertyDesc, PropertyKind, TransformMode};
pub use hooks::{CapsInfo, ElementHooks, HookError, HookResult, HooksFactory};
pub use register::{host_type, register_element};
pub use sink::SinkHost;
pub use source::SourceHost;
pub use transform::TransformHost;

use gst::glib;

/// The `GstPlugin` at `address` (what the loader hands to `framepipe._plugin_load`), with
/// a new reference.
///
/// # Safety
/// `address` must be the address of a live `GstPlugin`.
pub unsafe fn plugin_from_address(address: usize) -> gst::Plugin {
    // SAFETY: the caller guarantees a live GstPlugin; from_glib_none takes its own ref.
    unsafe { glib::translate::from_glib_none(address as *mut gst::ffi::GstPlugin) }
}

/// Calls `f` with the hooks of `element` if it is a hosted element whose hooks were
/// created; `None` otherwise. No host lock is held during `f`.
pub fn with_hooks<R>(element: &gst::Element, f: impl FnOnce(&dyn ElementHooks) -> R) -> Option<R> {
    use gst::prelude::*;
    use gst::subclass::prelude::*;
    let core = if let Some(e) = element.downcast_ref::<TransformHost>() {
        e.imp().core()
    } else if let Some(e) = element.downcast_ref::<SourceHost>() {
        e.imp().core()
    } else if let Some(e) = element.downcast_ref::<SinkHost>() {
        e.imp().core()
    } else {
        return None;
    };
    core.hooks().map(f)
}
