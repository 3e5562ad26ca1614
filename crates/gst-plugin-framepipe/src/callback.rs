//! Code that framepipe's elements call on streaming threads, and what it needs: written
//! once for every element that runs such code.
//!
//! - [`ElementHooks`]: the callbacks of one element instance (a hosted element's methods,
//!   `pyfunc`'s callable); [`HooksFactory`] makes them, per instance.
//! - [`CallbackError`]: the one error those callbacks return, with the detail (for Python:
//!   the traceback) and the original error (the exception object) as its [`Cause`].
//! - [`CapsInfo`] / [`CapsCache`]: negotiated caps parsed once per change, not per buffer.
//! - [`panic_message`], [`post_error`] and the error-cause stash ([`take_error_cause`]):
//!   a failure or panic in a callback becomes an ERROR of the element, never an abort, and
//!   the caller that gets the ERROR can chain the original error to it.
//!
//! framepipe-py implements the hooks by calling Python; the tests implement them in Rust.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use framepipe_core::MediaInfo;
use gst::glib;
use gst::prelude::*;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("fpcallback", gst::DebugColorFlags::empty(), Some("framepipe callbacks of elements"))
});

/// The original error behind a [`CallbackError`] (for Python: the exception object).
pub type Cause = Arc<dyn Any + Send + Sync>;

/// An error raised by a callback. `message` and `debug` (the detail; for Python, the
/// traceback) end up in the ERROR message the element posts on the bus, and `cause` in the
/// stash that the caller reading that ERROR takes it from ([`take_error_cause`]).
#[derive(Clone)]
pub struct CallbackError {
    pub message: String,
    pub debug: Option<String>,
    /// Not an error: the element is flushing or stopping (`unlock` or `interrupt` was
    /// called) and a call gave up; the element returns FLUSHING and posts nothing.
    pub flushing: bool,
    pub cause: Option<Cause>,
}

impl CallbackError {
    pub fn new(message: impl Into<String>) -> Self {
        CallbackError { message: message.into(), debug: None, flushing: false, cause: None }
    }

    /// What a call returns when `unlock` or `interrupt` ended it.
    pub fn flushing() -> Self {
        CallbackError { flushing: true, ..CallbackError::new("flushing") }
    }

    pub fn with_debug(message: impl Into<String>, debug: impl Into<String>) -> Self {
        CallbackError { debug: Some(debug.into()), ..CallbackError::new(message) }
    }

    /// The same error, keeping `cause` as its original error.
    pub fn caused_by(mut self, cause: Cause) -> Self {
        self.cause = Some(cause);
        self
    }

    /// The error for a panic caught inside callback `hook`.
    pub fn from_panic(hook: &str, payload: &(dyn Any + Send)) -> Self {
        CallbackError::with_debug(
            format!("{hook}() panicked: {}", panic_message(payload)),
            format!("panic inside the {hook} hook"),
        )
    }
}

impl fmt::Debug for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackError")
            .field("message", &self.message)
            .field("debug", &self.debug)
            .field("flushing", &self.flushing)
            .field("cause", &self.cause.is_some())
            .finish()
    }
}

/// Equal when they say the same; the causes are not compared.
impl PartialEq for CallbackError {
    fn eq(&self, other: &Self) -> bool {
        (&self.message, &self.debug, self.flushing) == (&other.message, &other.debug, other.flushing)
    }
}

impl Eq for CallbackError {}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallbackError {}

impl From<String> for CallbackError {
    fn from(message: String) -> Self {
        CallbackError::new(message)
    }
}

impl From<&str> for CallbackError {
    fn from(message: &str) -> Self {
        CallbackError::new(message)
    }
}

pub type CallbackResult<T> = std::result::Result<T, CallbackError>;

/// Text of a caught panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into())
}

/// Error causes waiting for the bus error they explain, by the object path of the element
/// that posted it. Bounded, so causes nobody asks for cannot pile up.
static CAUSES: Mutex<VecDeque<(String, Cause)>> = Mutex::new(VecDeque::new());
const MAX_CAUSES: usize = 64;

/// Keeps `cause` for the ERROR that the element at `path` is about to post. The first cause
/// per element wins, as the first ERROR is the one a pipeline reports.
pub fn stash_error_cause(path: &str, cause: Cause) {
    let mut causes = CAUSES.lock().unwrap_or_else(PoisonError::into_inner);
    if causes.iter().any(|(p, _)| p == path) {
        return;
    }
    if causes.len() >= MAX_CAUSES {
        causes.pop_front();
    }
    causes.push_back((path.to_owned(), cause));
}

/// Takes the cause stashed for the element at `path`, if any.
pub fn take_error_cause(path: &str) -> Option<Cause> {
    let mut causes = CAUSES.lock().unwrap_or_else(PoisonError::into_inner);
    let i = causes.iter().position(|(p, _)| p == path)?;
    causes.remove(i).map(|(_, c)| c)
}

impl CallbackError {
    /// Stashes the cause, if any, for the ERROR `element` is about to post.
    pub fn stash_cause(&self, element: &gst::Element) {
        if let Some(cause) = &self.cause {
            stash_error_cause(element.path_string().as_str(), cause.clone());
        }
    }

    /// The error as what a failed start/stop returns (GStreamer posts it), its cause stashed.
    pub fn to_error_message(&self, element: &gst::Element, hook: &str, domain: gst::LibraryError) -> gst::ErrorMessage {
        self.stash_cause(element);
        let debug = self.debug.clone().unwrap_or_else(|| format!("raised in {hook}()"));
        gst::error_msg!(domain, ("{}", self.message), ["{}", debug])
    }
}

/// Posts `err`, raised by callback `hook`, as an ERROR of `element` with `message` (by
/// default the error's own), its cause stashed. Built by hand rather than with
/// `element_error!` so that the debug text is the callback's own (the Python traceback),
/// not prefixed with this file's name and line.
pub fn post_error(element: &gst::Element, hook: &str, err: &CallbackError, message: Option<&str>) {
    err.stash_cause(element);
    let message = message.unwrap_or(&err.message);
    let debug = err.debug.clone().unwrap_or_else(|| format!("raised in {hook}()"));
    gst::error!(CAT, obj = element, "{hook}() failed: {message}");
    let msg = gst::message::Error::builder(gst::StreamError::Failed, message).debug(&debug).src(element).build();
    if element.post_message(msg).is_err() {
        gst::warning!(CAT, obj = element, "no bus to post the error of {hook}() on");
    }
}

/// Negotiated caps of one pad, parsed once per negotiation so callbacks need not parse them
/// per buffer.
#[derive(Debug, Clone)]
pub struct CapsInfo {
    pub caps: gst::Caps,
    pub media: MediaInfo,
}

impl CapsInfo {
    pub fn new(caps: gst::Caps) -> Self {
        let media = MediaInfo::from_caps(Some(caps.as_ref()));
        CapsInfo { caps, media }
    }

    /// `caps` parsed, reusing `last` when they are the same caps (the same object, or
    /// equal), and remembered in `last`.
    pub fn cached(last: &mut Option<Arc<CapsInfo>>, caps: &gst::Caps) -> Arc<CapsInfo> {
        match last {
            Some(info) if info.caps.as_ptr() == caps.as_ptr() || info.caps == *caps => info.clone(),
            _ => last.insert(Arc::new(CapsInfo::new(caps.clone()))).clone(),
        }
    }
}

/// The caps of the latest buffers of one stream (a probe's pad), parsed once per change.
#[derive(Debug, Default)]
pub struct CapsCache(Mutex<Option<Arc<CapsInfo>>>);

impl CapsCache {
    pub fn get(&self, caps: &gst::Caps) -> Arc<CapsInfo> {
        CapsInfo::cached(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner), caps)
    }
}

/// The callbacks of one element instance. Which ones are called depends on the element's
/// [`ElementKind`](crate::host::ElementKind); the others keep their defaults.
///
/// Threading contract: hooks run on GStreamer's streaming threads (render, create,
/// transform*), or on the thread that changes state (start, stop, set_caps, unlock) or sets a
/// property (property_changed). The host holds none of its own locks while a hook runs, so
/// an implementation may take the GIL inside the call and block for as long as it likes;
/// it must not hold the GIL while waiting for GStreamer. A panic in a hook becomes an ERROR
/// message, never an abort.
pub trait ElementHooks: Send + Sync {
    /// Called when the element goes from READY to PAUSED, before any data flows.
    fn start(&self) -> CallbackResult<()> {
        Ok(())
    }

    /// Called when the element goes from PAUSED to READY, after data stopped flowing.
    fn stop(&self) -> CallbackResult<()> {
        Ok(())
    }

    /// The negotiated caps: a source gets `(None, Some(src))`, a sink `(Some(sink), None)`,
    /// a transform both. An error fails negotiation and posts an ERROR.
    fn set_caps(&self, _incaps: Option<&CapsInfo>, _outcaps: Option<&CapsInfo>) -> CallbackResult<()> {
        Ok(())
    }

    /// Source: the next buffer, or `None` at the end of the stream. Buffers without PTS or
    /// duration get them from the negotiated rate (video framerate, audio sample rate).
    fn create(&self, _caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        Err(CallbackError::new("this source does not implement create()"))
    }

    /// Transform: the caps the other pad can have when this pad (`direction`) has `caps`.
    /// `None` keeps them unchanged. The host intersects the result with the pad templates
    /// and the downstream filter.
    fn transform_caps(&self, _direction: gst::PadDirection, _caps: &gst::Caps) -> CallbackResult<Option<gst::Caps>> {
        Ok(None)
    }

    /// In-place transform. `buffer` is writable (the host made it so, copying only if it was
    /// shared). Return it (or another buffer) to push it, `None` to drop it.
    fn transform_ip(&self, buffer: gst::Buffer, _caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        Ok(Some(buffer))
    }

    /// Out-of-place transform: a new buffer for `outcaps` made from `input`, or `None` to
    /// drop it. Timestamps and flags the output lacks are copied from the input.
    fn transform(
        &self,
        _input: &gst::Buffer,
        _incaps: &CapsInfo,
        _outcaps: &CapsInfo,
    ) -> CallbackResult<Option<gst::Buffer>> {
        Err(CallbackError::new("this transform does not implement transform()"))
    }

    /// Sink: consume one buffer.
    fn render(&self, _buffer: &gst::Buffer, _caps: &CapsInfo) -> CallbackResult<()> {
        Ok(())
    }

    /// A property was set (from a launch string, `g_object_set`, `Element.set`). The host has
    /// already stored `value`; reading the property back returns it. `name` is the
    /// kebab-case property name.
    fn property_changed(&self, _name: &str, _value: &glib::Value) -> CallbackResult<()> {
        Ok(())
    }

    /// The element is being stopped or flushed while `create`/`render` may be blocked:
    /// make a blocking call return soon. Sources and sinks only.
    fn unlock(&self) {}

    /// Undo [`ElementHooks::unlock`] before data flows again.
    fn unlock_stop(&self) {}

    /// The element is stopping (PAUSED to READY): end a call in progress soon, and make
    /// calls until the next `start` return a flushing error at once.
    fn interrupt(&self) {}

    /// The implementation itself, for [`with_hooks`](crate::host::with_hooks) callers that need
    /// their concrete type back (e.g. the Python object behind an element).
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }
}

/// Makes the hooks of each new instance of one element class.
pub trait HooksFactory: Send + Sync {
    /// Called once per instance when it is constructed. `element` is the new element; keep
    /// at most a weak reference to it (a strong one would leak the element). An error is
    /// reported when the element starts.
    fn create_hooks(&self, element: &gst::Element) -> CallbackResult<Box<dyn ElementHooks>>;
}

impl<F> HooksFactory for F
where
    F: Fn(&gst::Element) -> CallbackResult<Box<dyn ElementHooks>> + Send + Sync,
{
    fn create_hooks(&self, element: &gst::Element) -> CallbackResult<Box<dyn ElementHooks>> {
        self(element)
    }
}
