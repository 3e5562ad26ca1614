//! Hosts for elements whose behaviour lives elsewhere (in Python, for framepipe-py; in
//! Rust, for the tests). Each element class described by an [`ElementClassDesc`] becomes a
//! GType of its own, derived at run time from [`SourceHost`], [`TransformHost`] or
//! [`SinkHost`], with its own metadata, pad templates and GObject properties, and its own
//! element factory. Each instance gets an [`ElementHooks`] object from the class's
//! [`HooksFactory`], and the host's virtual methods call it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use gstframepipe::host::*;
//!
//! struct Invert;
//! impl ElementHooks for Invert {
//!     fn transform_ip(&self, mut buffer: gst::Buffer, _caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
//!         let mut map = buffer.make_mut().map_writable().map_err(|e| CallbackError::new(e.to_string()))?;
//!         map.iter_mut().for_each(|b| *b = 255 - *b);
//!         drop(map);
//!         Ok(Some(buffer))
//!     }
//! }
//!
//! let mut desc = ElementClassDesc::new("pyinvert", ElementKind::Transform(TransformMode::InPlace));
//! desc.sink_caps = Some("video/x-raw,format={RGB,GRAY8}".into());
//! desc.src_caps = desc.sink_caps.clone();
//! desc.properties.push(
//!     PropertyDesc::new("strength", PropertyKind::Float { default: 1.0, minimum: 0.0, maximum: 1.0 })
//!         .blurb("Blend factor"),
//! );
//! let factory: Arc<dyn HooksFactory> =
//!     Arc::new(|_: &gst::Element| -> CallbackResult<Box<dyn ElementHooks>> { Ok(Box::new(Invert)) });
//! let type_ = register_element(None, desc, factory)?; // GstFpPyinvert, factory "pyinvert"
//! # Ok::<(), framepipe_core::Error>(())
//! ```

mod core;
mod desc;
mod register;
pub mod sink;
pub mod source;
pub mod transform;

pub use crate::callback::{CallbackError, CallbackResult, CapsInfo, ElementHooks, HooksFactory};
pub use desc::{ElementClassDesc, ElementKind, EnumMember, PropertyDesc, PropertyKind, TransformMode};
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
    // SAFETY: the caller guarantees a live GstPlugin. It may still be floating (the plugin
    // scanner adds it to the registry after plugin_init): from_glib_none would sink that
    // floating reference and our drop would then finalize the plugin, so borrow it and
    // take a plain reference of our own instead.
    let plugin: glib::translate::Borrowed<gst::Plugin> =
        unsafe { glib::translate::from_glib_borrow(address as *mut gst::ffi::GstPlugin) };
    (*plugin).clone()
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

/// Why a value set on a property of `element` (a hosted element) was refused, e.g.
/// `could not set property "strength" in element "pyinvert0" to 5: out of range (0 to 1)`.
/// GLib would drop such a value from a launch string with only a warning; the hosts
/// refuse it themselves so that callers can report it, and fail to start while it stands.
pub fn rejected_property(element: &gst::Element) -> Option<String> {
    use gst::prelude::*;
    use gst::subclass::prelude::*;
    if let Some(e) = element.downcast_ref::<TransformHost>() {
        e.imp().core().rejected()
    } else if let Some(e) = element.downcast_ref::<SourceHost>() {
        e.imp().core().rejected()
    } else if let Some(e) = element.downcast_ref::<SinkHost>() {
        e.imp().core().rejected()
    } else {
        None
    }
}

/// The description `type_` (or its nearest hosted ancestor) was registered with, as
/// normalised at registration (kebab-case property names, filled-in metadata).
pub fn class_desc(type_: glib::Type) -> Option<&'static ElementClassDesc> {
    core::class_data(type_).map(|data| &data.desc)
}
