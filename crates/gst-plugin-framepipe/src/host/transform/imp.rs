//! The transform host: each hosted transform class is a run-time subtype of this abstract
//! type whose hooks do the work. With a Python element `pyinvert` registered:
//!
//! ```text
//! gst-launch-1.0 videotestsrc ! video/x-raw,format=RGB ! pyinvert strength=0.5 ! autovideosink
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_transform::GenerateOutputSuccess;
use gst_base::subclass::prelude::*;

use crate::callback::CapsInfo;
use crate::host::core::{self, CAT, HostCore, post_hook_error};
use crate::host::desc::{ElementKind, TransformMode};

#[derive(Default)]
struct State {
    incaps: Option<Arc<CapsInfo>>,
    outcaps: Option<Arc<CapsInfo>>,
}

pub struct TransformHost {
    core: HostCore,
    state: Mutex<State>,
    /// While `copy_missing_metadata` runs: the meta APIs the hook's output already had.
    output_apis: Mutex<Option<Vec<glib::Type>>>,
}

impl TransformHost {
    fn mode(&self) -> TransformMode {
        match self.core.class.desc.kind {
            ElementKind::Transform(mode) => mode,
            _ => TransformMode::Passthrough,
        }
    }

    fn negotiated(&self) -> Option<(Arc<CapsInfo>, Arc<CapsInfo>)> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Some((state.incaps.clone()?, state.outcaps.clone()?))
    }

    /// What the other pad can have when the hook does not say: the same caps when both
    /// templates are the same; else the other template, each structure completed with the
    /// fields of `caps` it does not constrain (so RGB -> GRAY8 keeps size and framerate).
    fn default_transform_caps(&self, direction: gst::PadDirection, caps: &gst::Caps) -> gst::Caps {
        let templates = &self.core.class.templates;
        let template = |d: gst::PadDirection| templates.iter().find(|t| t.direction() == d).map(|t| t.caps());
        let (Some(sink), Some(src)) = (template(gst::PadDirection::Sink), template(gst::PadDirection::Src)) else {
            return caps.clone();
        };
        let other = if direction == gst::PadDirection::Sink { src } else { sink };
        if sink == src || other.is_any() || caps.is_any() {
            return caps.clone();
        }
        let mut out = gst::Caps::new_empty();
        {
            let out = out.get_mut().expect("a new caps is writable");
            for s in caps.iter() {
                for t in other.iter() {
                    let mut t = t.to_owned();
                    if t.name() == s.name() {
                        for (field, value) in s.iter() {
                            if !t.has_field(field) {
                                t.set_value(field, value.clone());
                            }
                        }
                    }
                    out.append_structure(t);
                }
            }
        }
        out
    }

    /// Output buffers made by the hook inherit what they lack from the input: timestamps,
    /// flags and the metas GstBaseTransform would copy (regions, tensors).
    fn copy_missing_metadata(&self, input: &gst::Buffer, mut output: gst::Buffer) -> gst::Buffer {
        if output.as_ptr() == input.as_ptr() {
            // transform() returned its input: it has its metas already.
            return output;
        }
        let (pts, dts, duration) = (output.pts(), output.dts(), output.duration());
        // Metas of an API the hook's output already carries are its own choice (a
        // frame.copy() carries them all): copying the input's too would duplicate them.
        let own: Vec<glib::Type> = output.iter_meta::<gst::Meta>().map(|m| m.api()).collect();
        *self.output_apis.lock().unwrap_or_else(PoisonError::into_inner) = Some(own);
        let out = output.make_mut();
        if let Err(err) = self.parent_copy_metadata(input, out) {
            gst::warning!(CAT, imp = self, "copying metadata failed: {err}");
        }
        *self.output_apis.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if pts.is_some() {
            out.set_pts(pts);
            out.set_dts(dts);
        }
        if duration.is_some() {
            out.set_duration(duration);
        }
        output
    }
}

impl TransformHost {
    pub(crate) fn core(&self) -> &HostCore {
        &self.core
    }
}

#[glib::object_subclass]
impl ObjectSubclass for TransformHost {
    const NAME: &'static str = "GstFpTransformHost";
    const ABSTRACT: bool = true;
    type Type = super::TransformHost;
    type ParentType = gst_base::BaseTransform;

    fn with_class(klass: &Self::Class) -> Self {
        // SAFETY: `klass` is the class of the instance being initialised.
        let class = unsafe { core::class_data_of_class(klass) };
        TransformHost {
            core: HostCore::new(class.unwrap_or_else(core::unregistered)),
            state: Default::default(),
            output_apis: Mutex::new(None),
        }
    }
}

impl ObjectImpl for TransformHost {
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

impl GstObjectImpl for TransformHost {}

impl ElementImpl for TransformHost {
    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        self.core.before_change(transition);
        self.parent_change_state(transition)
    }
}

impl BaseTransformImpl for TransformHost {
    // generate_output below does the work; these only matter for what GstBaseTransform
    // decides about allocation.
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::Both;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        self.core.start(self.obj().upcast_ref())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::default();
        self.core.stop(self.obj().upcast_ref())
    }

    /// GstBaseTransform copies only metas without tags; regions
    /// (GstVideoRegionOfInterestMeta, tagged "video", "orientation", "size") stay valid when
    /// the frame keeps its size, and framepipe's tensors and messages always do.
    fn transform_meta<'a>(
        &self,
        outbuf: &mut gst::BufferRef,
        meta: gst::MetaRef<'a, gst::Meta>,
        inbuf: &'a gst::BufferRef,
    ) -> bool {
        let api = meta.api();
        if let Some(own) = self.output_apis.lock().unwrap_or_else(PoisonError::into_inner).as_ref()
            && own.contains(&api)
        {
            return false;
        }
        if api == gst_video::VideoRegionOfInterestMeta::meta_api() {
            return self.negotiated().is_some_and(|(i, o)| same_size(&i.caps, &o.caps));
        }
        self.parent_transform_meta(outbuf, meta, inbuf)
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let other = match self.core.call("transform_caps", |h| h.transform_caps(direction, caps)) {
            Ok(Some(other)) => other,
            Ok(None) => self.default_transform_caps(direction, caps),
            Err(err) => {
                post_hook_error(self, "transform_caps", &err);
                return None;
            }
        };
        gst::debug!(CAT, imp = self, "transformed {direction:?} caps {caps} into {other}");
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&other, gst::CapsIntersectMode::First),
            None => other,
        })
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let incaps = Arc::new(CapsInfo::new(incaps.clone()));
        let outcaps = Arc::new(CapsInfo::new(outcaps.clone()));
        self.core.set_caps(self.obj().upcast_ref(), Some(&*incaps), Some(&*outcaps))?;
        let same = incaps.caps == outcaps.caps;
        let obj = self.obj();
        match self.mode() {
            TransformMode::InPlace => obj.set_in_place(same),
            TransformMode::OutOfPlace => obj.set_in_place(false),
            TransformMode::Passthrough => obj.set_passthrough(same),
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.incaps = Some(incaps);
        state.outcaps = Some(outcaps);
        Ok(())
    }

    fn generate_output(&self) -> Result<GenerateOutputSuccess, gst::FlowError> {
        let Some(input) = self.take_queued_buffer() else {
            return Ok(GenerateOutputSuccess::NoOutput);
        };
        let Some((incaps, outcaps)) = self.negotiated() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps before the first buffer"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let (hook, result) = match self.mode() {
            TransformMode::Passthrough => {
                ("transform_ip", self.core.call("transform_ip", |h| h.transform_ip(input, &incaps)))
            }
            TransformMode::InPlace => {
                let mut input = input;
                input.make_mut();
                ("transform_ip", self.core.call("transform_ip", |h| h.transform_ip(input, &incaps)))
            }
            TransformMode::OutOfPlace => {
                let result = self.core.call("transform", |h| h.transform(&input, &incaps, &outcaps));
                ("transform", result.map(|out| out.map(|out| self.copy_missing_metadata(&input, out))))
            }
        };
        match result {
            Ok(Some(output)) => Ok(GenerateOutputSuccess::Buffer(output)),
            Ok(None) => Ok(GenerateOutputSuccess::Dropped),
            Err(err) if err.flushing => Err(gst::FlowError::Flushing),
            Err(err) => {
                post_hook_error(self, hook, &err);
                Err(gst::FlowError::Error)
            }
        }
    }
}

/// Whether two video caps have the same width and height.
fn same_size(a: &gst::Caps, b: &gst::Caps) -> bool {
    let size =
        |c: &gst::Caps| c.structure(0).and_then(|s| Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?)));
    matches!((size(a), size(b)), (Some(x), Some(y)) if x == y)
}
