//! The sink host: each hosted sink class is a run-time subtype of this abstract type whose
//! `render` hook consumes the buffers. With a Python element `pysink` registered:
//!
//! ```text
//! gst-launch-1.0 videotestsrc num-buffers=10 ! pysink
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use crate::callback::CapsInfo;
use crate::host::core::{self, HostCore, post_hook_error};

#[derive(Default)]
struct State {
    caps: Option<Arc<CapsInfo>>,
}

pub struct SinkHost {
    core: HostCore,
    state: Mutex<State>,
}

impl SinkHost {
    pub(crate) fn core(&self) -> &HostCore {
        &self.core
    }

    /// Whether the element is leaving PLAYING. GstBaseSink renders with its preroll lock
    /// held, and the streaming thread can take that lock again before the state change
    /// does: then it must not start another (perhaps slow) render.
    fn leaving_playing(&self) -> bool {
        let obj = self.obj();
        let element = obj.upcast_ref::<gst::Element>();
        let _lock = element.object_lock();
        // SAFETY: target_state is a plain field of the live GstElement, guarded by the
        // object lock held here.
        let target = unsafe { (*element.as_ptr()).target_state };
        target < gst::ffi::GST_STATE_PLAYING
    }
}

#[glib::object_subclass]
impl ObjectSubclass for SinkHost {
    const NAME: &'static str = "GstFpSinkHost";
    const ABSTRACT: bool = true;
    type Type = super::SinkHost;
    type ParentType = gst_base::BaseSink;

    fn with_class(klass: &Self::Class) -> Self {
        // SAFETY: `klass` is the class of the instance being initialised.
        let class = unsafe { core::class_data_of_class(klass) };
        SinkHost { core: HostCore::new(class.unwrap_or_else(core::unregistered)), state: Default::default() }
    }
}

impl ObjectImpl for SinkHost {
    fn constructed(&self) {
        self.parent_constructed();
        self.core.create_hooks(self.obj().upcast_ref());
    }

    fn set_property(&self, id: usize, value: &glib::Value, _pspec: &glib::ParamSpec) {
        self.core.set_property(self.obj().upcast_ref(), id, value);
    }

    fn property(&self, id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        self.core.property(id, pspec)
    }
}

impl GstObjectImpl for SinkHost {}

impl ElementImpl for SinkHost {
    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        self.core.before_change(transition);
        self.parent_change_state(transition)
    }
}

impl BaseSinkImpl for SinkHost {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        self.core.start(self.obj().upcast_ref())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::default();
        self.core.stop(self.obj().upcast_ref())
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = Arc::new(CapsInfo::new(caps.clone()));
        self.core.set_caps(self.obj().upcast_ref(), Some(&*info), None)?;
        self.state.lock().unwrap_or_else(PoisonError::into_inner).caps = Some(info);
        Ok(())
    }

    fn render(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        if self.leaving_playing() {
            // What GstBaseSink asks of a render that blocks: wait as a prerolled sink
            // until PLAYING again (Ok: render it then) or flushing (stop).
            self.obj().wait_preroll()?;
        }
        let caps = self.state.lock().unwrap_or_else(PoisonError::into_inner).caps.clone();
        let caps = caps.unwrap_or_else(|| Arc::new(CapsInfo::new(gst::Caps::new_any())));
        match self.core.call("render", |h| h.render(buffer, &caps)) {
            Ok(()) => Ok(gst::FlowSuccess::Ok),
            // unlock() interrupted a slow render (which goes on elsewhere): when pausing,
            // wait as a prerolled sink like GstBaseSink asks; when flushing, this says so.
            Err(err) if err.flushing => self.obj().wait_preroll(),
            Err(err) => {
                post_hook_error(self, "render", &err);
                Err(gst::FlowError::Error)
            }
        }
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        self.core.notify("unlock", |h| h.unlock());
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        self.core.notify("unlock_stop", |h| h.unlock_stop());
        Ok(())
    }
}
