//! The callbacks a hosted element implements. framepipe-py implements them by calling the
//! methods of a Python object; the tests implement them in Rust.

use std::any::Any;
use std::fmt;

use framepipe_core::MediaInfo;
use gst::glib;

/// An error raised by a hook. `debug` carries the detail (for Python: the traceback); both
/// end up in the ERROR message the host posts on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    pub message: String,
    pub debug: Option<String>,
    /// Not an error: the element is flushing or stopping (`unlock` was called) and a
    /// `create`/`render` gave up waiting; the host returns FLUSHING and posts nothing.
    pub flushing: bool,
}

impl HookError {
    pub fn new(message: impl Into<String>) -> Self {
        HookError { message: message.into(), debug: None, flushing: false }
    }

    /// What `create`/`render` return when `unlock` interrupted them.
    pub fn flushing() -> Self {
        HookError { message: "flushing".into(), debug: None, flushing: true }
    }

    pub fn with_debug(message: impl Into<String>, debug: impl Into<String>) -> Self {
        HookError { message: message.into(), debug: Some(debug.into()), flushing: false }
    }

    /// The error for a panic caught inside hook `hook`.
    pub(crate) fn from_panic(hook: &str, payload: Box<dyn Any + Send>) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".into());
        HookError::with_debug(format!("{hook}() panicked: {what}"), format!("panic inside the {hook} hook"))
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HookError {}

impl From<String> for HookError {
    fn from(message: String) -> Self {
        HookError::new(message)
    }
}

impl From<&str> for HookError {
    fn from(message: &str) -> Self {
        HookError::new(message)
    }
}

pub type HookResult<T> = std::result::Result<T, HookError>;

/// Negotiated caps of one pad, parsed once per negotiation so hooks need not parse them per
/// buffer.
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
}

/// The callbacks of one element instance. Which ones are called depends on the element's
/// [`ElementKind`](super::ElementKind); the others keep their defaults.
///
/// Threading contract: hooks run on GStreamer's streaming threads (render, create,
/// transform*), or on the thread that changes state (start, stop, set_caps, unlock) or sets a
/// property (property_changed). The host holds none of its own locks while a hook runs, so
/// an implementation may take the GIL inside the call and block for as long as it likes;
/// it must not hold the GIL while waiting for GStreamer. A panic in a hook becomes an ERROR
/// message, never an abort.
pub trait ElementHooks: Send + Sync {
    /// Called when the element goes from READY to PAUSED, before any data flows.
    fn start(&self) -> HookResult<()> {
        Ok(())
    }

    /// Called when the element goes from PAUSED to READY, after data stopped flowing.
    fn stop(&self) -> HookResult<()> {
        Ok(())
    }

    /// The negotiated caps: a source gets `(None, Some(src))`, a sink `(Some(sink), None)`,
    /// a transform both. An error fails negotiation and posts an ERROR.
    fn set_caps(&self, _incaps: Option<&CapsInfo>, _outcaps: Option<&CapsInfo>) -> HookResult<()> {
        Ok(())
    }

    /// Source: the next buffer, or `None` at the end of the stream. Buffers without PTS or
    /// duration get them from the negotiated rate (video framerate, audio sample rate).
    fn create(&self, _caps: &CapsInfo) -> HookResult<Option<gst::Buffer>> {
        Err(HookError::new("this source does not implement create()"))
    }

    /// Transform: the caps the other pad can have when this pad (`direction`) has `caps`.
    /// `None` keeps them unchanged. The host intersects the result with the pad templates
    /// and the downstream filter.
    fn transform_caps(&self, _direction: gst::PadDirection, _caps: &gst::Caps) -> HookResult<Option<gst::Caps>> {
        Ok(None)
    }

    /// In-place transform. `buffer` is writable (the host made it so, copying only if it was
    /// shared). Return it (or another buffer) to push it, `None` to drop it.
    fn transform_ip(&self, buffer: gst::Buffer, _caps: &CapsInfo) -> HookResult<Option<gst::Buffer>> {
        Ok(Some(buffer))
    }

    /// Out-of-place transform: a new buffer for `outcaps` made from `input`, or `None` to
    /// drop it. Timestamps and flags the output lacks are copied from the input.
    fn transform(
        &self,
        _input: &gst::Buffer,
        _incaps: &CapsInfo,
        _outcaps: &CapsInfo,
    ) -> HookResult<Option<gst::Buffer>> {
        Err(HookError::new("this transform does not implement transform()"))
    }

    /// Sink: consume one buffer.
    fn render(&self, _buffer: &gst::Buffer, _caps: &CapsInfo) -> HookResult<()> {
        Ok(())
    }

    /// A property was set (from a launch string, `g_object_set`, `Element.set`). The host has
    /// already stored `value`; reading the property back returns it. `name` is the
    /// kebab-case property name.
    fn property_changed(&self, _name: &str, _value: &glib::Value) -> HookResult<()> {
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

    /// The implementation itself, for [`with_hooks`](super::with_hooks) callers that need
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
    fn create_hooks(&self, element: &gst::Element) -> HookResult<Box<dyn ElementHooks>>;
}

impl<F> HooksFactory for F
where
    F: Fn(&gst::Element) -> HookResult<Box<dyn ElementHooks>> + Send + Sync,
{
    fn create_hooks(&self, element: &gst::Element) -> HookResult<Box<dyn ElementHooks>> {
        self(element)
    }
}
