//! `pyfunc`: calls a Python function on every buffer (see the `imp` module docs). Only the
//! element lives here; what it calls goes through the crate's [`callback`](crate::callback)
//! module, as the hosted elements' hooks do.
//!
//! Why `pyfunc` is not a hosted Transform (`host::register_element`): it is a built-in
//! that must exist, and show in gst-inspect-1.0, in a process without Python (where it
//! refuses to start), under a GType with a Rust type ([`PyFunc`]) that is registered
//! statically with the plugin; its properties are READY-only and name what is resolved at
//! start, whereas a hosted class is a run-time GType made from a Python class, with
//! properties mutable while playing and hooks made at construction. What the two share
//! (hooks, error type, caps parsing, panics, error causes) is shared code instead: the
//! callable `pyfunc` resolves at start is an [`ElementHooks`] made by a [`HooksFactory`],
//! and is called through `transform_ip` like a hosted in-place transform.

use std::sync::{Arc, RwLock};

use gst::glib;
use gst::prelude::*;

use crate::callback::{ElementHooks, HooksFactory};

mod imp;

glib::wrapper! {
    /// Calls a Python function on every buffer, in place (see the `imp` module docs).
    pub struct PyFunc(ObjectSubclass<imp::PyFunc>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "pyfunc", gst::Rank::NONE, PyFunc::static_type())
}

static FACTORY: RwLock<Option<Arc<dyn HooksFactory>>> = RwLock::new(None);

/// Installs the code that makes a starting `pyfunc` element's hooks (framepipe's Python
/// module does this when it is imported): [`HooksFactory::create_hooks`] gets the element,
/// whose properties `module`, `function`, `class` and `kwargs` say what to call, and its
/// error fails the start. Without it, `pyfunc` fails to start.
pub fn set_pyfunc_factory(factory: Arc<dyn HooksFactory>) {
    *FACTORY.write().unwrap_or_else(|e| e.into_inner()) = Some(factory);
}

fn pyfunc_factory() -> Option<Arc<dyn HooksFactory>> {
    FACTORY.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The hooks of a started `pyfunc`.
type Hooks = Arc<dyn ElementHooks>;
