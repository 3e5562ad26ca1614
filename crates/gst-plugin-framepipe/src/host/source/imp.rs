//! The source host: each hosted source class is a run-time subtype of this abstract
//! GstPushSrc whose `create` hook makes the buffers. Buffers without timestamps get them
//! from the negotiated rate; with an `is-live` property set, the source is live: it syncs
//! to the clock and answers the latency query. With a Python element `pysrc` registered:
//!
//! ```text
//! gst-launch-1.0 pysrc is-live=true ! videoconvert ! autovideosink
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use framepipe_core::MediaInfo;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;

use crate::callback::CapsInfo;
use crate::host::core::{self, CAT, HostCore, post_hook_error};

/// What fixation picks inside ranges, like videotestsrc and audiotestsrc do.
const DEFAULT_WIDTH: i32 = 320;
const DEFAULT_HEIGHT: i32 = 240;
const DEFAULT_FRAMERATE: gst::Fraction = gst::Fraction::from_integer(30);
const DEFAULT_RATE: i32 = 44_100;
const DEFAULT_CHANNELS: i32 = 1;

#[derive(Default)]
struct State {
    caps: Option<Arc<CapsInfo>>,
    /// Frames (video) or samples (audio) produced since start.
    position: u64,
    /// Running time of the first buffer of a live source; zero otherwise.
    base: Option<gst::ClockTime>,
    /// Duration of the last buffer, for the latency of sources without a framerate.
    last_duration: Option<gst::ClockTime>,
}

pub struct SourceHost {
    core: HostCore,
    state: Mutex<State>,
}

impl SourceHost {
    /// Fills what `buffer` lacks (PTS, duration, offsets) from the negotiated rate and
    /// advances the position.
    fn stamp(&self, buffer: &mut gst::Buffer, media: &MediaInfo, live: bool) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let base = match state.base {
            Some(base) => base,
            None => {
                let base = if live {
                    self.obj().current_running_time().unwrap_or(gst::ClockTime::ZERO)
                } else {
                    gst::ClockTime::ZERO
                };
                state.base = Some(base);
                base
            }
        };
        let position = state.position;
        let span = match media {
            MediaInfo::Video(info) if info.fps().numer() > 0 => {
                let fps = info.fps();
                let at = |n: u64| gst::ClockTime::SECOND.mul_div_floor(n * fps.denom() as u64, fps.numer() as u64);
                Some((at(position), at(position + 1), 1))
            }
            MediaInfo::Audio(info) if info.rate() > 0 && info.bpf() > 0 => {
                let samples = (buffer.size() / info.bpf() as usize) as u64;
                let at = |n: u64| gst::ClockTime::SECOND.mul_div_floor(n, info.rate() as u64);
                Some((at(position), at(position + samples), samples))
            }
            _ => None,
        };
        if let Some((start, end, count)) = span {
            state.position += count;
            let (Some(start), Some(end)) = (start, end) else { return };
            if buffer.pts().is_none() || buffer.duration().is_none() {
                let buf = buffer.make_mut();
                if buf.pts().is_none() {
                    buf.set_pts(base + start);
                    buf.set_offset(position);
                    buf.set_offset_end(position + count);
                }
                if buf.duration().is_none() {
                    buf.set_duration(end.saturating_sub(start));
                }
            }
        }
        state.last_duration = buffer.duration();
    }
}

impl SourceHost {
    pub(crate) fn core(&self) -> &HostCore {
        &self.core
    }
}

#[glib::object_subclass]
impl ObjectSubclass for SourceHost {
    const NAME: &'static str = "GstFpSourceHost";
    const ABSTRACT: bool = true;
    type Type = super::SourceHost;
    type ParentType = gst_base::PushSrc;

    fn with_class(klass: &Self::Class) -> Self {
        // SAFETY: `klass` is the class of the instance being initialised.
        let class = unsafe { core::class_data_of_class(klass) };
        SourceHost { core: HostCore::new(class.unwrap_or_else(core::unregistered)), state: Default::default() }
    }
}

impl ObjectImpl for SourceHost {
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_format(gst::Format::Time);
        obj.set_live(self.core.is_live());
        // Only buffers the rate cannot stamp (no framerate, not raw) get the clock's time.
        obj.set_do_timestamp(self.core.is_live());
        self.core.create_hooks(obj.upcast_ref());
    }

    fn set_property(&self, id: usize, value: &glib::Value, _pspec: &glib::ParamSpec) {
        let obj = self.obj();
        if let Some(live) = self.core.set_property(obj.upcast_ref(), id, value) {
            obj.set_live(live);
            obj.set_do_timestamp(live);
        }
    }

    fn property(&self, id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        self.core.property(id, pspec)
    }
}

impl GstObjectImpl for SourceHost {}

impl ElementImpl for SourceHost {
    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        self.core.before_change(transition);
        self.parent_change_state(transition)
    }
}

impl BaseSrcImpl for SourceHost {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::default();
        self.core.start(self.obj().upcast_ref())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = State::default();
        self.core.stop(self.obj().upcast_ref())
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = Arc::new(CapsInfo::new(caps.clone()));
        self.core.set_caps(self.obj().upcast_ref(), None, Some(&*info))?;
        self.state.lock().unwrap_or_else(PoisonError::into_inner).caps = Some(info);
        Ok(())
    }

    fn fixate(&self, mut caps: gst::Caps) -> gst::Caps {
        caps.truncate();
        if let Some(s) = caps.make_mut().structure_mut(0) {
            match s.name().as_str() {
                "video/x-raw" | "image/jpeg" => {
                    s.fixate_field_nearest_int("width", DEFAULT_WIDTH);
                    s.fixate_field_nearest_int("height", DEFAULT_HEIGHT);
                    if s.has_field("framerate") {
                        s.fixate_field_nearest_fraction("framerate", DEFAULT_FRAMERATE);
                    }
                }
                "audio/x-raw" => {
                    s.fixate_field_nearest_int("rate", DEFAULT_RATE);
                    s.fixate_field_nearest_int("channels", DEFAULT_CHANNELS);
                }
                _ => {}
            }
        }
        self.parent_fixate(caps)
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut()
            && self.obj().is_live()
        {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let frame = match state.caps.as_deref().map(|c| &c.media) {
                Some(MediaInfo::Video(info)) if info.fps().numer() > 0 => {
                    gst::ClockTime::SECOND.mul_div_floor(info.fps().denom() as u64, info.fps().numer() as u64)
                }
                _ => state.last_duration,
            };
            let min = frame.unwrap_or(gst::ClockTime::ZERO);
            gst::debug!(CAT, imp = self, "live, latency {min}");
            q.set(true, min, gst::ClockTime::NONE);
            return true;
        }
        BaseSrcImplExt::parent_query(self, query)
    }

    fn times(&self, buffer: &gst::BufferRef) -> (Option<gst::ClockTime>, Option<gst::ClockTime>) {
        if !self.obj().is_live() {
            return (None, None);
        }
        let start = buffer.pts();
        let end = start.zip(buffer.duration()).map(|(start, duration)| start + duration);
        (start, end)
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

impl PushSrcImpl for SourceHost {
    fn create(&self, _buffer: Option<&mut gst::BufferRef>) -> Result<CreateSuccess, gst::FlowError> {
        let caps = self.state.lock().unwrap_or_else(PoisonError::into_inner).caps.clone();
        let caps = caps.unwrap_or_else(|| Arc::new(CapsInfo::new(gst::Caps::new_any())));
        let mut result = self.core.call("create", |h| h.create(&caps));
        // unlock() interrupted a slow create (its result is dropped). A live source being
        // paused is not flushing: wait until it plays again and make a new buffer.
        while matches!(&result, Err(err) if err.flushing)
            && !self.obj().src_pad().pad_flags().contains(gst::PadFlags::FLUSHING)
        {
            self.obj().wait_playing()?;
            result = self.core.call("create", |h| h.create(&caps));
        }
        match result {
            Ok(Some(mut buffer)) => {
                self.stamp(&mut buffer, &caps.media, self.obj().is_live());
                Ok(CreateSuccess::NewBuffer(buffer))
            }
            Ok(None) => {
                gst::debug!(CAT, imp = self, "create() returned None: end of stream");
                Err(gst::FlowError::Eos)
            }
            Err(err) if err.flushing => Err(gst::FlowError::Flushing),
            Err(err) => {
                post_hook_error(self, "create", &err);
                Err(gst::FlowError::Error)
            }
        }
    }
}
