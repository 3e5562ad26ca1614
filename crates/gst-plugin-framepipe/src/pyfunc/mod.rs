use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// Calls a Python function on every buffer, in place (see the `imp` module docs).
    pub struct PyFunc(ObjectSubclass<imp::PyFunc>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "pyfunc", gst::Rank::NONE, PyFunc::static_type())
}

/// What a `pyfunc` element was configured with when it starts.
#[derive(Debug, Clone, Default)]
pub struct PyFuncSettings {
    /// Name of the element, for messages.
    pub element: String,
    /// Dotted module name or path to a `.py` file.
    pub module: String,
    /// Function (or, with `class`, method) to call per buffer.
    pub function: String,
    /// Class to instantiate with `kwargs`, if any.
    pub class: Option<String>,
    /// JSON object text, if any.
    pub kwargs: Option<String>,
}

/// A failed callback: what the ERROR message says, and the original error (for Python,
/// the exception object) so the caller can chain it (see [`stash_error_cause`]).
pub struct CallbackError {
    pub message: String,
    pub debug: Option<String>,
    pub cause: Option<Box<dyn Any + Send>>,
}

impl std::fmt::Debug for CallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackError").field("message", &self.message).field("debug", &self.debug).finish()
    }
}

impl CallbackError {
    pub fn new(message: impl Into<String>) -> CallbackError {
        CallbackError { message: message.into(), debug: None, cause: None }
    }
}

/// Code run on every buffer. It owns the (writable) buffer for the call and hands back
/// the buffer to push on, or `None` to drop it.
pub trait FrameCallback: Send + Sync {
    fn call(&self, buffer: gst::Buffer, caps: Option<&gst::Caps>) -> Result<Option<gst::Buffer>, CallbackError>;

    /// The element is stopping: end a call in progress soon (its error is then ignored).
    fn interrupt(&self) {}
}

/// Resolves a `pyfunc`'s settings into its callback when the element starts.
pub type PyFuncFactory = dyn Fn(&PyFuncSettings) -> Result<Arc<dyn FrameCallback>, CallbackError> + Send + Sync;

static FACTORY: RwLock<Option<Arc<PyFuncFactory>>> = RwLock::new(None);

/// Installs the code that turns `pyfunc` settings into a callback (framepipe's Python
/// module does this when it is imported). Without it, `pyfunc` fails to start.
pub fn set_pyfunc_factory(factory: Box<PyFuncFactory>) {
    *FACTORY.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::from(factory));
}

pub(crate) fn pyfunc_factory() -> Option<Arc<PyFuncFactory>> {
    FACTORY.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Error causes waiting for the bus error they explain, by the object path of the element
/// that posted it. Bounded, so causes nobody asks for cannot pile up.
static CAUSES: Mutex<VecDeque<(String, Box<dyn Any + Send>)>> = Mutex::new(VecDeque::new());
const MAX_CAUSES: usize = 64;

/// Keeps `cause` for the ERROR that the element at `path` is about to post. The first cause
/// per element wins, as the first ERROR is the one a pipeline reports.
pub fn stash_error_cause(path: &str, cause: Box<dyn Any + Send>) {
    let mut causes = CAUSES.lock().unwrap_or_else(|e| e.into_inner());
    if causes.iter().any(|(p, _)| p == path) {
        return;
    }
    if causes.len() >= MAX_CAUSES {
        causes.pop_front();
    }
    causes.push_back((path.to_owned(), cause));
}

/// Takes the cause stashed for the element at `path`, if any.
pub fn take_error_cause(path: &str) -> Option<Box<dyn Any + Send>> {
    let mut causes = CAUSES.lock().unwrap_or_else(|e| e.into_inner());
    let i = causes.iter().position(|(p, _)| p == path)?;
    causes.remove(i).map(|(_, c)| c)
}

/// Text of a caught panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
