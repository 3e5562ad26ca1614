//! `fpavfilter`: runs raw video through an FFmpeg filter graph, libavfilter itself (the
//! `graph` property: a filter string such as `"scale=iw/2:-1,drawgrid=w=16:h=16"` or a
//! graph with one input and one output such as `"split[a][b];[b]scale=64:-1[c];[a][c]overlay"`).
//! The graph is configured from the sink caps (size, format, frame rate, pixel aspect
//! ratio); the src caps are what it produces, in the first format downstream accepts that
//! libavfilter can convert to. Filters may drop, add or hold frames (framestep, fps, trim,
//! tpad, palettegen): each input buffer gives zero or more output buffers, and held frames
//! come out at EOS. Timestamps enter as running time in nanoseconds and leave converted
//! from the graph's output time base back into the input segment; a flush or a caps change
//! starts a new graph (a caps change first drains the old one).
//!
//! ```text
//! gst-launch-1.0 videotestsrc num-buffers=50 ! fpavfilter graph="framestep=5,drawgrid=w=16:h=16" ! autovideosink
//! ```

use std::collections::VecDeque;
use std::sync::{LazyLock, Mutex};

use framepipe_core::video::avfilter::{AvGraph, FilteredFrame, NANOSECONDS, VideoParams, filter_names};
use framepipe_core::video::pixfmt;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::{VideoColorMatrix, VideoColorRange, VideoColorimetry, VideoFormat, VideoInfo};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("fpavfilter", gst::DebugColorFlags::empty(), Some("framepipe libavfilter graph"))
});

const DEFAULT_GRAPH: &str = "null";
/// Input timestamps remembered for undoing time-base rounding (frames a graph holds back).
const RECENT: usize = 64;

#[derive(Debug, Clone)]
struct Settings {
    graph: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { graph: DEFAULT_GRAPH.to_string() }
    }
}

struct State {
    graph: Option<AvGraph>,
    in_info: Option<VideoInfo>,
    out_info: Option<VideoInfo>,
    segment: gst::FormattedSegment<gst::ClockTime>,
    /// Running time (ns) where the last frame pushed ends: the end of the stream for the graph.
    end: Option<i64>,
    /// Running times (ns) of the frames pushed lately, to undo the rounding of a graph whose
    /// output time base is coarser than nanoseconds (overlay's framesync picks its own).
    recent: VecDeque<i64>,
}

impl Default for State {
    fn default() -> Self {
        State {
            graph: None,
            in_info: None,
            out_info: None,
            segment: gst::FormattedSegment::new(),
            end: None,
            recent: VecDeque::new(),
        }
    }
}

/// A buffer to push, after new caps when the graph's output changed.
struct Output {
    caps: Option<gst::Caps>,
    buffer: gst::Buffer,
}

pub struct FpAvFilter {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

impl FpAvFilter {
    fn sink_chain(&self, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let outputs = {
            let mut state = self.state.lock().unwrap();
            let Some(info) = state.in_info.clone() else {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ("no caps before the first buffer"));
                return Err(gst::FlowError::NotNegotiated);
            };
            let pts = buffer.pts().and_then(|p| state.segment.to_running_time(p)).map(|rt| rt.nseconds() as i64);
            let fps = info.fps();
            let duration = buffer
                .duration()
                .map(|d| d.nseconds() as i64)
                .or_else(|| (fps.numer() > 0).then(|| 1_000_000_000i64 * fps.denom() as i64 / fps.numer() as i64));
            state.end = pts.map(|p| p + duration.unwrap_or(0));
            if let Some(p) = pts {
                if state.recent.len() == RECENT {
                    state.recent.pop_front();
                }
                state.recent.push_back(p);
            }
            let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info).map_err(|_| {
                gst::element_imp_error!(self, gst::StreamError::Format, ("the buffer does not match the caps"));
                gst::FlowError::Error
            })?;
            let Some(graph) = state.graph.as_mut() else { return Err(gst::FlowError::NotNegotiated) };
            if let Err(e) = graph.push(&frame, pts) {
                gst::element_imp_error!(self, gst::StreamError::Failed, ("{}", e));
                return Err(gst::FlowError::Error);
            }
            self.drain(&mut state)?
        };
        self.push_all(outputs)
    }

    /// Takes every frame the graph has ready, as buffers with timestamps in the segment.
    fn drain(&self, state: &mut State) -> Result<Vec<Output>, gst::FlowError> {
        let mut outputs = Vec::new();
        while let Some(graph) = state.graph.as_mut() {
            let frame = match graph.pull() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ("{}", e));
                    return Err(gst::FlowError::Error);
                }
            };
            let out = *graph.output();
            let caps = self.renegotiate(state, &frame, &out)?;
            outputs.push(Output { caps, buffer: self.timestamp(state, frame, &out) });
        }
        Ok(outputs)
    }

    /// New caps when a frame's size or format differs from the negotiated output.
    fn renegotiate(
        &self,
        state: &mut State,
        frame: &FilteredFrame,
        out: &VideoParams,
    ) -> Result<Option<gst::Caps>, gst::FlowError> {
        let same = state
            .out_info
            .as_ref()
            .is_some_and(|i| i.width() == frame.width && i.height() == frame.height && i.format() == frame.format);
        if same {
            return Ok(None);
        }
        let params = VideoParams { width: frame.width, height: frame.height, format: frame.format, ..*out };
        let info = output_info(state.in_info.as_ref(), &params).ok_or_else(|| {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("no caps for the graph's output"));
            gst::FlowError::NotNegotiated
        })?;
        let caps = info.to_caps().map_err(|_| gst::FlowError::NotNegotiated)?;
        state.out_info = Some(info);
        Ok(Some(caps))
    }

    fn timestamp(&self, state: &State, frame: FilteredFrame, out: &VideoParams) -> gst::Buffer {
        let mut buffer = frame.buffer;
        let b = buffer.make_mut();
        let (num, den) = out.time_base;
        if let Some(pts) = frame.pts
            && den > 0
        {
            let ns =
                ((pts as i128 * num as i128 * 1_000_000_000 + den as i128 / 2).div_euclid(den as i128)).max(0) as i64;
            // A frame that kept an input frame's time comes back as exactly that time:
            // framesync (overlay) rounds timestamps through a time base of its own, by a
            // few hundred ns. Within 100 us (far below any frame spacing) it is rounding;
            // a coarse output time base (fps=15 gives 1/15 s) is real retiming.
            let unit = num as i64 * 1_000_000_000 / den as i64;
            let tolerance = (unit + 1).max(100_000);
            let snapped =
                (unit <= 1_000_000).then(|| state.recent.iter().copied().find(|&p| (p - ns).abs() <= tolerance));
            let ns = snapped.flatten().unwrap_or(ns) as u64;
            let pos = state.segment.position_from_running_time(gst::ClockTime::from_nseconds(ns));
            b.set_pts(pos);
        }
        let (fnum, fden) = out.frame_rate;
        if fnum > 0 && fden > 0 {
            b.set_duration(gst::ClockTime::SECOND.mul_div_floor(fden as u64, fnum as u64));
        }
        buffer
    }

    fn push_all(&self, outputs: Vec<Output>) -> Result<gst::FlowSuccess, gst::FlowError> {
        for o in outputs {
            if let Some(caps) = o.caps {
                gst::debug!(CAT, imp = self, "output caps {caps}");
                if !self.srcpad.push_event(gst::event::Caps::new(&caps)) {
                    return Err(gst::FlowError::NotNegotiated);
                }
            }
            self.srcpad.push(o.buffer)?;
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// Ends the current graph: frames it holds come out.
    fn finish(&self) -> Result<Vec<Output>, gst::FlowError> {
        let mut state = self.state.lock().unwrap();
        let end = state.end;
        if let Some(g) = state.graph.as_mut()
            && let Err(e) = g.finish(end)
        {
            gst::element_imp_error!(self, gst::StreamError::Failed, ("{}", e));
            return Err(gst::FlowError::Error);
        }
        self.drain(&mut state)
    }

    /// Builds the graph for `info`, limited to the formats downstream accepts.
    fn configure(&self, info: &VideoInfo) -> Result<(AvGraph, VideoInfo), gst::ErrorMessage> {
        let description = self.settings.lock().unwrap().graph.clone();
        let fps = info.fps();
        let par = info.par();
        let input = VideoParams {
            width: info.width(),
            height: info.height(),
            format: info.format(),
            time_base: NANOSECONDS,
            frame_rate: (fps.numer(), fps.denom()),
            sar: (par.numer(), par.denom()),
        };
        let accepted = downstream_formats(&self.srcpad);
        let graph = AvGraph::new(&description, input, &accepted)
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        gst::debug!(CAT, imp = self, "configured {:?}", graph);
        let out = output_info(Some(info), graph.output())
            .ok_or_else(|| gst::error_msg!(gst::CoreError::Negotiation, ("no caps for the graph's output")))?;
        Ok((graph, out))
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        match event.view() {
            EventView::Caps(c) => {
                let Ok(info) = VideoInfo::from_caps(c.caps()) else {
                    gst::element_imp_error!(self, gst::CoreError::Negotiation, ("caps {} are not raw video", c.caps()));
                    return false;
                };
                // A running graph is drained under its old caps first.
                let running = self.state.lock().unwrap().graph.is_some();
                let drained = if running { self.finish() } else { Ok(Vec::new()) };
                if let Ok(outputs) = drained
                    && self.push_all(outputs).is_err()
                {
                    return false;
                }
                let (graph, out_info) = match self.configure(&info) {
                    Ok(v) => v,
                    Err(msg) => {
                        self.post_error_message(msg);
                        return false;
                    }
                };
                let Ok(caps) = out_info.to_caps() else { return false };
                gst::debug!(CAT, imp = self, "graph {:?}: {} -> {caps}", graph.description(), c.caps());
                {
                    let mut state = self.state.lock().unwrap();
                    state.graph = Some(graph);
                    state.in_info = Some(info);
                    state.out_info = Some(out_info);
                }
                self.srcpad.push_event(gst::event::Caps::new(&caps))
            }
            EventView::Segment(s) => {
                let Ok(mut seg) = s.segment().clone().downcast::<gst::ClockTime>() else {
                    gst::element_imp_error!(self, gst::StreamError::Format, ("only time segments are supported"));
                    return false;
                };
                // Filters may add frames after the last one (tpad) or move them (setpts):
                // the segment stays open at the end so that none of them is clipped.
                seg.set_stop(gst::ClockTime::NONE);
                self.state.lock().unwrap().segment = seg.clone();
                let out = gst::event::Segment::builder(&seg).seqnum(event.seqnum()).build();
                self.srcpad.push_event(out)
            }
            EventView::Eos(_) => {
                if let Ok(outputs) = self.finish() {
                    let _ = self.push_all(outputs);
                }
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            EventView::FlushStop(_) => {
                // Frames held for the old position are dropped with the old graph.
                let info = self.state.lock().unwrap().in_info.clone();
                if let Some(info) = info {
                    match self.configure(&info) {
                        Ok((graph, out_info)) => {
                            let mut state = self.state.lock().unwrap();
                            state.graph = Some(graph);
                            state.out_info = Some(out_info);
                            state.recent.clear();
                            state.end = None;
                        }
                        Err(msg) => self.post_error_message(msg),
                    }
                }
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn sink_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Caps(q) => {
                let templ = pad.pad_template_caps();
                let caps = match q.filter() {
                    Some(f) => f.intersect_with_mode(&templ, gst::CapsIntersectMode::First),
                    None => templ,
                };
                q.set_result(&caps);
                true
            }
            // Frames are copied into the graph: upstream allocates as it likes.
            QueryViewMut::Allocation(_) => false,
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Caps(q) => {
                let current = self.state.lock().unwrap().out_info.as_ref().and_then(|i| i.to_caps().ok());
                let caps = current.unwrap_or_else(|| pad.pad_template_caps());
                let caps = match q.filter() {
                    Some(f) => f.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
                    None => caps,
                };
                q.set_result(&caps);
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }
}

/// The formats of the pixel-format table that downstream accepts (empty: any).
fn downstream_formats(srcpad: &gst::Pad) -> Vec<VideoFormat> {
    let all = pixfmt::gstreamer_formats();
    let peer = srcpad.peer_query_caps(None);
    if peer.is_any() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for s in peer.iter() {
        if s.name() != "video/x-raw" {
            continue;
        }
        match s.value("format") {
            Err(_) => return Vec::new(),
            Ok(v) => {
                let names: Vec<String> = if let Ok(one) = v.get::<String>() {
                    vec![one]
                } else if let Ok(list) = v.get::<gst::List>() {
                    list.iter().filter_map(|x| x.get::<String>().ok()).collect()
                } else {
                    Vec::new()
                };
                for n in names {
                    let f = VideoFormat::from_string(&n);
                    if all.contains(&f) && !out.contains(&f) {
                        out.push(f);
                    }
                }
            }
        }
    }
    out
}

/// Caps for the graph's output: its size, format, frame rate and SAR; YUV keeps the
/// input's matrix and range (scaling does not change them), YUV made from RGB is what
/// libswscale makes by default (BT.601, limited range).
fn output_info(input: Option<&VideoInfo>, out: &VideoParams) -> Option<VideoInfo> {
    let mut b = VideoInfo::builder(out.format, out.width, out.height)
        .fps(gst::Fraction::new(out.frame_rate.0, out.frame_rate.1))
        .par(gst::Fraction::new(out.sar.0, out.sar.1));
    let out_yuv = gst_video::VideoFormatInfo::from_format(out.format).is_yuv();
    let colorimetry;
    if out_yuv {
        match input {
            Some(i) if i.format_info().is_yuv() => {
                colorimetry = i.colorimetry();
                b = b.colorimetry(&colorimetry).chroma_site(i.chroma_site());
            }
            _ => {
                colorimetry = VideoColorimetry::new(
                    VideoColorRange::Range16_235,
                    VideoColorMatrix::Bt601,
                    gst_video::VideoTransferFunction::Bt709,
                    gst_video::VideoColorPrimaries::Smpte170m,
                );
                b = b.colorimetry(&colorimetry);
            }
        }
    }
    b.build().ok()
}

#[glib::object_subclass]
impl ObjectSubclass for FpAvFilter {
    const NAME: &'static str = "GstFpAvFilter";
    type Type = super::FpAvFilter;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").unwrap();
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .chain_function(|pad, parent, buffer| {
                FpAvFilter::catch_panic_pad_function(parent, || Err(gst::FlowError::Error), |f| f.sink_chain(buffer))
                    .inspect_err(|_| gst::trace!(CAT, obj = pad, "chain failed"))
            })
            .event_function(|pad, parent, event| {
                FpAvFilter::catch_panic_pad_function(parent, || false, |f| f.sink_event(pad, event))
            })
            .query_function(|pad, parent, query| {
                FpAvFilter::catch_panic_pad_function(parent, || false, |f| f.sink_query(pad, query))
            })
            .build();
        let templ = klass.pad_template("src").unwrap();
        let srcpad = gst::Pad::builder_from_template(&templ)
            .query_function(|pad, parent, query| {
                FpAvFilter::catch_panic_pad_function(parent, || false, |f| f.src_query(pad, query))
            })
            .build();
        FpAvFilter { sinkpad, srcpad, settings: Mutex::new(Settings::default()), state: Mutex::new(State::default()) }
    }
}

impl ObjectImpl for FpAvFilter {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("graph")
                    .nick("Graph")
                    .blurb("FFmpeg filter string or graph with one input and one output (as ffmpeg -vf takes it)")
                    .default_value(Some(DEFAULT_GRAPH))
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "graph" => {
                let graph: Option<String> = value.get().expect("type checked upstream");
                self.settings.lock().unwrap().graph = graph.unwrap_or_else(|| DEFAULT_GRAPH.to_string());
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "graph" => self.settings.lock().unwrap().graph.to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).unwrap();
        obj.add_pad(&self.srcpad).unwrap();
    }
}

impl GstObjectImpl for FpAvFilter {}

impl ElementImpl for FpAvFilter {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "framepipe FFmpeg filter graph",
                "Filter/Effect/Converter/Video",
                "Runs raw video through an FFmpeg (libavfilter) filter graph",
                "framepipe",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new().format_list(pixfmt::gstreamer_formats()).build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps).unwrap(),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps).unwrap(),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady {
            // A description libavfilter cannot parse fails here, naming the filter, rather
            // than at the first caps.
            let graph = self.settings.lock().unwrap().graph.clone();
            if let Err(e) = filter_names(&graph) {
                gst::element_imp_error!(self, gst::LibraryError::Settings, ("{}", e));
                return Err(gst::StateChangeError);
            }
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            *self.state.lock().unwrap() = State::default();
        }
        Ok(result)
    }
}
