//! `pyfunc`: calls a Python function (or a method of an object it creates) on every buffer,
//! in place. The callable gets a writable `framepipe.Frame`; returning `False` drops the
//! buffer. The Python side is resolved when the element starts (READY -> PAUSED) by the
//! hooks factory framepipe installs at import ([`super::set_pyfunc_factory`]), and called
//! through the hooks' `transform_ip`, so bad settings
//! fail that state change with an error naming the property. This crate has no Python
//! dependency: outside a process that imported framepipe, the element refuses to start.
//!
//! ```text
//! python -c 'import framepipe as fp; fp.Pipeline("videotestsrc num-buffers=10 ! pyfunc module=detect.py ! fakesink").run()'
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::base_transform::GenerateOutputSuccess;
use gst_base::subclass::prelude::*;

use super::{Hooks, pyfunc_factory};
use crate::callback::{self, CallbackError, CapsInfo};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("pyfunc", gst::DebugColorFlags::empty(), Some("framepipe Python callback element"))
});

const DEFAULT_FUNCTION: &str = "process_frame";

#[derive(Debug, Clone)]
struct Settings {
    module: Option<String>,
    function: String,
    class: Option<String>,
    kwargs: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { module: None, function: DEFAULT_FUNCTION.to_owned(), class: None, kwargs: None }
    }
}

struct State {
    hooks: Hooks,
    caps: Option<Arc<CapsInfo>>,
}

#[derive(Default)]
pub struct PyFunc {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// From PAUSED->READY until the next start: calls are refused, errors are not posted.
    stopping: std::sync::atomic::AtomicBool,
}

#[glib::object_subclass]
impl ObjectSubclass for PyFunc {
    const NAME: &'static str = "GstFpPyFunc";
    type Type = super::PyFunc;
    type ParentType = gst_base::BaseTransform;
}

/// A string property that can be set until the element is READY.
fn string_property(name: &str, nick: &str, blurb: &str, default: Option<&str>) -> glib::ParamSpec {
    glib::ParamSpecString::builder(name).nick(nick).blurb(blurb).default_value(default).mutable_ready().build()
}

impl ObjectImpl for PyFunc {
    /// GStreamer names an unnamed instance after its GType (`GstFpPyFunc` -> `fppyfunc0`);
    /// name it after its factory instead (`pyfunc0`), as every other element is named.
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        let name = obj.name();
        if let Some(number) = name.strip_prefix("fppyfunc")
            && number.bytes().all(|b| b.is_ascii_digit())
            && obj.parent().is_none()
        {
            obj.set_property("name", format!("pyfunc{number}"));
        }
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                string_property("module", "Module", "Dotted name of a Python module, or path to a .py file", None),
                string_property(
                    "function",
                    "Function",
                    "Function (or, with class, method) called with each frame",
                    Some(DEFAULT_FUNCTION),
                ),
                string_property(
                    "class",
                    "Class",
                    "Class in the module to instantiate with kwargs; its method is called",
                    None,
                ),
                string_property(
                    "kwargs",
                    "Keyword arguments",
                    "JSON object: arguments of the class, or extra keyword arguments of the function",
                    None,
                ),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        let text: Option<String> = value.get().expect("type checked upstream");
        let text = text.filter(|t| !t.is_empty());
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), text);
        match pspec.name() {
            "module" => settings.module = text,
            "function" => settings.function = text.unwrap_or_else(|| DEFAULT_FUNCTION.to_owned()),
            "class" => settings.class = text,
            "kwargs" => settings.kwargs = text,
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "module" => settings.module.to_value(),
            "function" => settings.function.to_value(),
            "class" => settings.class.to_value(),
            "kwargs" => settings.kwargs.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for PyFunc {}

impl ElementImpl for PyFunc {
    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::PausedToReady {
            // Deactivating the pads waits for the streaming thread, which may be inside a
            // slow Python call: end it first.
            self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
            let hooks = self.state.lock().unwrap().as_ref().map(|s| s.hooks.clone());
            if let Some(hooks) = hooks {
                hooks.interrupt();
            }
        }
        self.parent_change_state(transition)
    }

    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "framepipe Python function",
                "Filter/Analytics",
                "Calls a Python function with every frame (writable, with metadata); False drops it",
                "framepipe",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::new_any();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps).unwrap(),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps).unwrap(),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for PyFunc {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        self.stopping.store(false, std::sync::atomic::Ordering::SeqCst);
        let settings = self.settings.lock().unwrap().clone();
        let name = self.obj().name().to_string();
        if settings.module.is_none() {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("property 'module' of {} is not set: give a dotted module name or a .py path", name)
            ));
        };
        let Some(factory) = pyfunc_factory() else {
            return Err(gst::error_msg!(
                gst::LibraryError::Init,
                ("{} needs Python: it runs in a Python process that imported framepipe", name)
            ));
        };
        let obj = self.obj();
        let element = obj.upcast_ref::<gst::Element>();
        let hooks = match catch_unwind(AssertUnwindSafe(|| factory.create_hooks(element))) {
            Ok(Ok(hooks)) => Hooks::from(hooks),
            Ok(Err(err)) => return Err(err.to_error_message(element, "create_hooks", gst::LibraryError::Settings)),
            Err(panic) => {
                return Err(gst::error_msg!(
                    gst::LibraryError::Failed,
                    ("resolving the Python callback panicked: {}", callback::panic_message(&*panic))
                ));
            }
        };
        gst::debug!(CAT, imp = self, "started with {:?}", settings);
        *self.state.lock().unwrap() = Some(State { hooks, caps: None });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // The callback (and with it the Python objects) goes with the state.
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.caps = Some(Arc::new(CapsInfo::new(incaps.clone())));
        }
        Ok(())
    }

    /// The queued buffer is taken over rather than transformed through `&mut BufferRef`:
    /// the callback owns it for the call, and may hand back a different buffer (a copy,
    /// when Python kept views of the frame's memory).
    fn generate_output(&self) -> Result<GenerateOutputSuccess, gst::FlowError> {
        let Some(mut buffer) = self.take_queued_buffer() else {
            return Ok(GenerateOutputSuccess::NoOutput);
        };
        // Never hold the state lock during the call: the hooks wait for the GIL.
        let (hooks, caps) = match self.state.lock().unwrap().as_ref() {
            Some(State { hooks, caps: Some(caps) }) => (hooks.clone(), caps.clone()),
            Some(_) => {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps before the first buffer"]);
                return Err(gst::FlowError::NotNegotiated);
            }
            None => {
                gst::element_imp_error!(self, gst::CoreError::Failed, ("Buffer received before start"));
                return Err(gst::FlowError::Error);
            }
        };
        buffer.make_mut();
        let stopping = || self.stopping.load(std::sync::atomic::Ordering::SeqCst);
        if stopping() {
            return Err(gst::FlowError::Flushing);
        }
        let err = match catch_unwind(AssertUnwindSafe(|| hooks.transform_ip(buffer, &caps))) {
            Ok(Ok(Some(out))) => return Ok(GenerateOutputSuccess::Buffer(out)),
            Ok(Ok(None)) => {
                gst::trace!(CAT, imp = self, "the callback dropped a buffer");
                return Ok(GenerateOutputSuccess::Dropped);
            }
            Ok(Err(err)) if err.flushing || stopping() => return Err(gst::FlowError::Flushing),
            Ok(Err(err)) => err,
            Err(panic) => CallbackError::new(format!("the callback panicked: {}", callback::panic_message(&*panic))),
        };
        callback::post_error(self.obj().upcast_ref(), "transform_ip", &err, None);
        Err(gst::FlowError::Error)
    }
}
