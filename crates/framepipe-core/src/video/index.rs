//! The frame index and file metadata, from one demux-only pass (no decoding):
//! `filesrc ! typefind ! parsebin`, the first video stream into an appsink that records each
//! packet's timestamps and keyframe flag, every other stream into a fakesink.
//!
//! Frame k is the k-th packet in presentation order. Indices never depend on absolute
//! timestamps: qtdemux applies the MP4 edit list (frame 0 of a B-frame MP4 can carry a pts
//! of 66.7 ms) and tsdemux keeps the transport stream's clock, so per-frame `time` counts
//! from the first frame.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_app::AppSink;
use gst_video::VideoFormat;

use super::{check_input, make, media_error, path_str, pixfmt};
use crate::pipeline::{Interrupt, Pipeline};
use crate::{Error, Result};

/// How long a scan may go without a new packet before the file is declared broken.
pub(crate) const STALL: Duration = Duration::from_secs(5);
/// How long a scan may wait for its first packet: a demuxer that found a stream delivers
/// it in milliseconds, and a broken file must fail within 5 s in all.
const FIRST_PACKET: Duration = Duration::from_secs(3);

/// One frame (one packet of the video stream), in presentation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    /// Presentation timestamp in ns, as the demuxer gives it (the key decoded frames are
    /// matched by).
    pub pts: u64,
    /// Decoding timestamp in ns, if the container has one.
    pub dts: Option<u64>,
    /// Duration in ns, if known.
    pub duration: Option<u64>,
    /// Whether decoding can start at this frame.
    pub keyframe: bool,
    /// Position of the packet in decoding (file) order.
    pub decode_order: usize,
}

/// Every frame of a file's video stream in presentation order. Built once per file by
/// [`probe`] and kept by a [`super::VideoReader`] for its lifetime.
#[derive(Debug, Clone, Default)]
pub struct FrameIndex {
    entries: Vec<FrameEntry>,
    /// (start, time) of the demuxer's segment: stream time = pts - start + time. Seeks are
    /// in stream time, which differs from pts under an MP4 edit list or in MPEG-TS.
    segment: Option<(u64, u64)>,
    /// The keyframes as (decode order, index), in decode order: [`Self::keyframe_before`]
    /// searches them instead of every frame.
    keys: Vec<(usize, usize)>,
}

impl FrameIndex {
    /// Sorts packets (given in decode order) into presentation order.
    pub(crate) fn from_decode_order(mut packets: Vec<FrameEntry>) -> FrameIndex {
        for (i, p) in packets.iter_mut().enumerate() {
            p.decode_order = i;
        }
        packets.sort_by_key(|p| (p.pts, p.decode_order));
        FrameIndex::from_entries(packets)
    }

    /// An index from entries already in presentation order (a saved index).
    pub(crate) fn from_entries(entries: Vec<FrameEntry>) -> FrameIndex {
        let mut keys: Vec<(usize, usize)> =
            entries.iter().enumerate().filter(|(_, e)| e.keyframe).map(|(i, e)| (e.decode_order, i)).collect();
        keys.sort_unstable();
        FrameIndex { entries, segment: None, keys }
    }

    /// The true number of frames.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[FrameEntry] {
        &self.entries
    }

    pub fn get(&self, k: usize) -> Option<&FrameEntry> {
        self.entries.get(k)
    }

    /// pts of the first frame: the zero of every frame's `time`.
    pub fn start(&self) -> u64 {
        self.entries.first().map_or(0, |e| e.pts)
    }

    /// Seconds from the first frame to frame k (0.0 for frame 0).
    pub fn time(&self, k: usize) -> Option<f64> {
        self.entries.get(k).map(|e| (e.pts - self.start()) as f64 / 1e9)
    }

    /// The index of the frame presented at `pts` (exactly), if any.
    pub fn position(&self, pts: u64) -> Option<usize> {
        let k = self.entries.partition_point(|e| e.pts < pts);
        (self.entries.get(k)?.pts == pts).then_some(k)
    }

    /// The index of the first frame presented at or after `pts`.
    pub fn position_at_or_after(&self, pts: u64) -> usize {
        self.entries.partition_point(|e| e.pts < pts)
    }

    /// The frame that decoding must start from to reach frame k: the last keyframe in
    /// decode order at or before frame k's packet that is also presented no later than
    /// frame k. The second condition matters for open GOPs: a B-frame decoded after a
    /// keyframe but presented before it references the previous GOP, so decoding starts a
    /// GOP earlier (and a seek to the later keyframe would clip the B-frame away).
    pub fn keyframe_before(&self, k: usize) -> Option<usize> {
        let target = self.entries.get(k)?;
        // The last keyframe decoded at or before the target, then back while it is presented
        // after the target (rarely more than one step).
        let end = self.keys.partition_point(|&(d, _)| d <= target.decode_order);
        self.keys[..end].iter().rev().find(|&&(_, i)| self.entries[i].pts <= target.pts).map(|&(_, i)| i)
    }

    /// The frame displayed `seconds` after the first frame: the one whose
    /// [pts, end) holds that time, where a frame ends where the next one starts (the last
    /// one after its duration). `None` before the first frame or after the last one ends.
    pub fn frame_at_time(&self, seconds: f64) -> Option<usize> {
        if !seconds.is_finite() || seconds < 0.0 || self.entries.is_empty() {
            return None;
        }
        let t = self.start() as f64 + seconds * 1e9;
        let k = self.entries.partition_point(|e| e.pts as f64 <= t).checked_sub(1)?;
        if k + 1 == self.entries.len() {
            let end = self.entries[k].pts as f64 + self.display_duration(k)? as f64;
            if t >= end {
                return None;
            }
        }
        Some(k)
    }

    /// How long frame k is displayed, in ns: until the next frame starts, or for the last
    /// frame its own duration (else the mean frame interval).
    pub fn display_duration(&self, k: usize) -> Option<u64> {
        let e = self.entries.get(k)?;
        match self.entries.get(k + 1) {
            Some(next) => Some(next.pts - e.pts),
            None => e.duration.or_else(|| self.mean_interval()).or(Some(0)),
        }
    }

    /// The stream time of frame k's pts (what a seek to it asks for).
    pub fn stream_time(&self, k: usize) -> Option<u64> {
        let pts = self.entries.get(k)?.pts;
        Some(match self.segment {
            Some((start, time)) => pts.saturating_sub(start) + time,
            None => pts,
        })
    }

    /// Stream duration in seconds: from the first frame's start to the last frame's end.
    pub fn duration(&self) -> f64 {
        let Some(last) = self.entries.iter().max_by_key(|e| e.pts) else { return 0.0 };
        let frame = last.duration.unwrap_or_else(|| self.mean_interval().unwrap_or(0));
        (last.pts + frame - self.start()) as f64 / 1e9
    }

    fn mean_interval(&self) -> Option<u64> {
        let n = self.entries.len() as u64;
        (n > 1).then(|| (self.entries[self.entries.len() - 1].pts - self.start()) / (n - 1))
    }
}

/// What [`probe`] reports about a file (`fp.immeta(uri)`'s global keys).
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// The file.
    pub path: PathBuf,
    /// Frames per second: the stream's nominal rate, or n_frames / duration when the
    /// container declares none (VFR).
    pub fps: f64,
    /// Seconds from the first frame's start to the last frame's end.
    pub duration: f64,
    /// The codec, by FFmpeg's name ("h264", "hevc", "vp8", "vp9", "av1", "mjpeg", ...).
    pub codec: String,
    /// The decoded pixel format by FFmpeg's name ("yuv420p", "yuv444p10le", ...), from the
    /// stream's chroma format and bit depth (immeta's `video_format`).
    pub pixel_format: String,
    /// The container ("mp4", "mov", "matroska", "webm", "mpegts", "avi", ...).
    pub container: String,
    /// The coded caps of the video stream, for `framepipe info`.
    pub caps: String,
    pub width: u32,
    pub height: u32,
    /// Rotation in degrees as FFmpeg reports it (ffprobe, PyAV, torchcodec): the display
    /// matrix's counter-clockwise angle in [-180, 180) (0, 90, -90, -180). GStreamer's
    /// image-orientation tag `rotate-N` (clockwise) is -N here: `rotate-270` is 90.
    pub rotation: i32,
    /// The codec profile by FFmpeg's name ("High", "Main 10", "High 4:4:4 Predictive"),
    /// where the demuxer tells it.
    pub profile: Option<String>,
    /// The true number of frames (packets of the video stream).
    pub n_frames: usize,
    /// Global (container) tags by GStreamer tag name ("title", "comment", "encoder", ...).
    pub container_tags: BTreeMap<String, String>,
    /// Tags of the video stream by GStreamer tag name.
    pub stream_tags: BTreeMap<String, String>,
}

/// The summary `framepipe info FILE` prints: one `key: value` line each.
impl std::fmt::Display for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "file: {}", self.path.display())?;
        writeln!(f, "container: {}", self.container)?;
        writeln!(f, "video: {} {}x{} {}", self.codec, self.width, self.height, self.pixel_format)?;
        writeln!(f, "fps: {:.3}", self.fps)?;
        writeln!(f, "frames: {} (counted)", self.n_frames)?;
        writeln!(f, "duration: {:.3} s", self.duration)?;
        if self.rotation != 0 {
            writeln!(f, "rotation: {}", self.rotation)?;
        }
        for (k, v) in &self.container_tags {
            writeln!(f, "tag {k}: {v}")?;
        }
        for (k, v) in &self.stream_tags {
            writeln!(f, "stream tag {k}: {v}")?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct ScanState {
    packets: Vec<FrameEntry>,
    segment: Option<gst::FormattedSegment<gst::ClockTime>>,
    caps: Option<gst::Caps>,
    container_tags: BTreeMap<String, String>,
    stream_tags: BTreeMap<String, String>,
    demuxer: Option<String>,
    video_linked: bool,
    no_more_pads: bool,
}

/// Opens `path`, indexes its first video stream by demuxing alone and reports its metadata.
///
/// Errors: [`Error::NotFound`] for a missing file; [`Error::Media`] for a file that is empty,
/// not a recognised container, has no video stream, or is broken, within 5 s (a scan that
/// makes no progress for 5 s fails rather than hangs). `interrupt` is polled every 50 ms.
pub fn probe(path: &Path, interrupt: Interrupt<'_>) -> Result<(Metadata, FrameIndex)> {
    check_input(path)?;
    crate::init()?;
    let (pipeline, state) = scan_pipeline(path)?;
    let pipeline = Pipeline::wrap(pipeline);
    let result = wait_scan(&pipeline, &state, interrupt);
    let _ = pipeline.set_state(gst::State::Null);
    result.map_err(|e| media_error(path, e))?;

    let st = state.lock().unwrap_or_else(|e| e.into_inner());
    let caps = st.caps.clone().ok_or_else(|| Error::Media(format!("{}: no video stream", path.display())))?;
    let packets: Vec<FrameEntry> = st.packets.iter().copied().filter(|p| in_segment(st.segment.as_ref(), p)).collect();
    if packets.is_empty() {
        return Err(Error::Media(format!("{}: the video stream has no frames", path.display())));
    }
    let mut index = FrameIndex::from_decode_order(packets);
    index.segment =
        st.segment.as_ref().map(|s| (s.start().map_or(0, |t| t.nseconds()), s.time().map_or(0, |t| t.nseconds())));
    let s = caps.structure(0).ok_or_else(|| Error::Media(format!("{}: empty video caps", path.display())))?;
    let width = s.get::<i32>("width").unwrap_or(0).max(0) as u32;
    let height = s.get::<i32>("height").unwrap_or(0).max(0) as u32;
    let duration = index.duration();
    let nominal = s.get::<gst::Fraction>("framerate").ok().filter(|f| f.numer() > 0 && f.denom() > 0);
    let fps = match nominal {
        Some(f) => f.numer() as f64 / f.denom() as f64,
        None if duration > 0.0 => index.len() as f64 / duration,
        None => 0.0,
    };
    let orientation = st.stream_tags.get("image-orientation").or_else(|| st.container_tags.get("image-orientation"));
    let metadata = Metadata {
        path: path.to_path_buf(),
        fps,
        duration,
        codec: codec_name(s),
        pixel_format: pixel_format_name(s),
        container: container_name(st.demuxer.as_deref(), st.container_tags.get("container-format"), path),
        caps: caps.to_string(),
        width,
        height,
        rotation: orientation.map_or(0, |o| (180 - rotation_degrees(o) as i32).rem_euclid(360) - 180),
        // GStreamer's caps name profiles its own way ("high-4:4:4"); the libav probe has FFmpeg's.
        profile: None,
        n_frames: index.len(),
        container_tags: st.container_tags.clone(),
        stream_tags: st.stream_tags.clone(),
    };
    Ok((metadata, index))
}

/// How many probed files [`probe_cached`] remembers.
const CACHE_SIZE: usize = 16;

type CacheKey = (PathBuf, u64, Option<std::time::SystemTime>);

/// [`probe`] with a per-process cache keyed by the file's path, size and modification time,
/// so repeated `imread(uri, index=k)` calls index a file once.
pub fn probe_cached(path: &Path, interrupt: Interrupt<'_>) -> Result<(Metadata, FrameIndex)> {
    static CACHE: Mutex<Vec<(CacheKey, Metadata, FrameIndex)>> = Mutex::new(Vec::new());
    let key = std::fs::metadata(path)
        .ok()
        .map(|m| (std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()), m.len(), m.modified().ok()));
    if let Some(key) = &key {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, meta, index)) = cache.iter().find(|(k, _, _)| k == key) {
            let mut meta = meta.clone();
            meta.path = path.to_path_buf();
            return Ok((meta, index.clone()));
        }
    }
    let (meta, index) = probe(path, interrupt)?;
    if let Some(key) = key {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((key, meta.clone(), index.clone()));
    }
    Ok((meta, index))
}

fn in_segment(segment: Option<&gst::FormattedSegment<gst::ClockTime>>, p: &FrameEntry) -> bool {
    let Some(seg) = segment else { return true };
    let end = p.pts + p.duration.unwrap_or(0);
    let after_start = seg.start().is_none_or(|s| p.pts >= s.nseconds() || end > s.nseconds());
    let before_stop = seg.stop().is_none_or(|s| p.pts < s.nseconds());
    after_start && before_stop
}

fn scan_pipeline(path: &Path) -> Result<(gst::Pipeline, Arc<Mutex<ScanState>>)> {
    let pipeline = gst::Pipeline::new();
    let src = make("filesrc")?;
    src.set_property("location", path_str(path)?);
    let typefind = make("typefind")?;
    let parsebin = make("parsebin")?;
    let sink = AppSink::builder().name("index").sync(false).enable_last_sample(false).build();
    pipeline.add_many([&src, &typefind, &parsebin, sink.upcast_ref()])?;
    gst::Element::link_many([&src, &typefind, &parsebin])?;

    let state = Arc::new(Mutex::new(ScanState::default()));
    let st = state.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let mut st = st.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(buf) = sample.buffer()
                    && let Some(entry) = packet_entry(buf, st.packets.last())
                {
                    st.packets.push(entry);
                }
                if st.segment.is_none() {
                    st.segment = sample.segment().and_then(|s| s.downcast_ref::<gst::ClockTime>()).cloned();
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    if let Some(pad) = sink.static_pad("sink") {
        let st = state.clone();
        let weak = pipeline.downgrade();
        pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::PadProbeData::Event(ev)) = &info.data {
                match ev.view() {
                    gst::EventView::Tag(t) => {
                        let tags = t.tag();
                        let mut st = st.lock().unwrap_or_else(|e| e.into_inner());
                        let map = if tags.scope() == gst::TagScope::Global {
                            &mut st.container_tags
                        } else {
                            &mut st.stream_tags
                        };
                        for (name, value) in tags.iter() {
                            map.insert(name.to_string(), tag_string(&value));
                        }
                    }
                    gst::EventView::Caps(c) => {
                        let mut st = st.lock().unwrap_or_else(|e| e.into_inner());
                        st.caps = Some(c.caps_owned());
                        if let Some(p) = weak.upgrade() {
                            st.demuxer = demuxer_name(&p);
                        }
                    }
                    _ => {}
                }
            }
            gst::PadProbeReturn::Ok
        });
    }

    let weak = pipeline.downgrade();
    let st = state.clone();
    parsebin.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else { return };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let is_video =
            caps.structure(0).is_some_and(|s| s.name().starts_with("video/") || s.name().starts_with("image/"));
        let mut st = st.lock().unwrap_or_else(|e| e.into_inner());
        if is_video && !st.video_linked {
            if let Some(sink_pad) = pipeline.by_name("index").and_then(|s| s.static_pad("sink")) {
                st.video_linked = pad.link(&sink_pad).is_ok();
            }
            return;
        }
        drop(st);
        // Other streams are demuxed and dropped.
        if let Ok(fake) = gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build()
            && pipeline.add(&fake).is_ok()
        {
            let _ = fake.sync_state_with_parent();
            if let Some(p) = fake.static_pad("sink") {
                let _ = pad.link(&p);
            }
        }
    });
    let st = state.clone();
    parsebin.connect_no_more_pads(move |bin| {
        let mut st = st.lock().unwrap_or_else(|e| e.into_inner());
        st.no_more_pads = true;
        if !st.video_linked {
            drop(st);
            let _ = bin.post_message(
                gst::message::Error::builder(gst::StreamError::WrongType, "the file has no video stream")
                    .src(bin)
                    .build(),
            );
        }
    });
    Ok((pipeline, state))
}

/// Plays the scan to EOS, failing on an ERROR or when no packet arrives for [`STALL`].
fn wait_scan(pipeline: &Pipeline, state: &Arc<Mutex<ScanState>>, interrupt: Interrupt<'_>) -> Result<()> {
    let mut last_count = 0usize;
    let mut last_progress = Instant::now();
    let mut stalled = false;
    let mut check = || {
        if interrupt() {
            return true;
        }
        let n = state.lock().unwrap_or_else(|e| e.into_inner()).packets.len();
        if n != last_count {
            last_count = n;
            last_progress = Instant::now();
        } else if last_progress.elapsed() >= if n == 0 { FIRST_PACKET } else { STALL } {
            stalled = true;
            return true;
        }
        false
    };
    match pipeline.run(None, &mut check) {
        Err(Error::Interrupted) if stalled => {
            Err(Error::Media("demuxing stalled: the file is truncated or not a video".into()))
        }
        other => other,
    }
}

fn packet_entry(buf: &gst::BufferRef, prev: Option<&FrameEntry>) -> Option<FrameEntry> {
    if buf.flags().intersects(gst::BufferFlags::DECODE_ONLY | gst::BufferFlags::GAP) {
        return None;
    }
    let dts = buf.dts().map(|t| t.nseconds());
    let duration = buf.duration().map(|t| t.nseconds());
    // A packet without a pts (some MPEG-TS streams) is presented when it is decoded, or
    // right after the previous one.
    let pts =
        buf.pts().map(|t| t.nseconds()).or(dts).or_else(|| prev.map(|p| p.pts + p.duration.unwrap_or(1))).unwrap_or(0);
    Some(FrameEntry {
        pts,
        dts,
        duration,
        keyframe: !buf.flags().contains(gst::BufferFlags::DELTA_UNIT),
        decode_order: 0,
    })
}

fn tag_string(value: &gst::glib::SendValue) -> String {
    if let Ok(s) = value.get::<String>() {
        return s;
    }
    if let Ok(d) = value.get::<gst::DateTime>()
        && let Ok(s) = d.to_iso8601_string()
    {
        return s.to_string();
    }
    value.serialize().map(|s| s.to_string()).unwrap_or_else(|_| format!("{value:?}"))
}

/// FFmpeg's name for the decoded pixel format: a raw stream's own format, or for a coded
/// stream what its chroma format and bit depth make (yuv420p when the parser does not say).
fn pixel_format_name(s: &gst::StructureRef) -> String {
    let raw = s.get::<&str>("format").ok().filter(|_| s.name() == "video/x-raw");
    if let Some(name) = raw.map(VideoFormat::from_string).and_then(pixfmt::ffmpeg_name) {
        return name.to_string();
    }
    let depth = s.get::<u32>("bit-depth-luma").unwrap_or(8);
    let base = match s.get::<&str>("chroma-format").unwrap_or("4:2:0") {
        "4:0:0" => "gray",
        "4:2:2" => "yuv422p",
        "4:4:4" => "yuv444p",
        _ => "yuv420p",
    };
    match (base, depth) {
        (b, 8) => b.to_string(),
        ("gray", d) => format!("gray{d}le"),
        (b, d) => format!("{b}{d}le"),
    }
}

/// FFmpeg's name for the codec of a coded video stream.
fn codec_name(s: &gst::StructureRef) -> String {
    match s.name().as_str() {
        "video/x-h264" => "h264".into(),
        "video/x-h265" => "hevc".into(),
        "video/x-vp8" => "vp8".into(),
        "video/x-vp9" => "vp9".into(),
        "video/x-av1" => "av1".into(),
        "image/jpeg" => "mjpeg".into(),
        "video/x-theora" => "theora".into(),
        "video/x-raw" => "rawvideo".into(),
        "video/mpeg" => match s.get::<i32>("mpegversion") {
            Ok(4) => "mpeg4".into(),
            Ok(1) => "mpeg1video".into(),
            _ => "mpeg2video".into(),
        },
        other => other.rsplit('/').next().unwrap_or(other).trim_start_matches("x-").to_string(),
    }
}

/// Factory name of the demuxer parsebin plugged.
fn demuxer_name(pipeline: &gst::Pipeline) -> Option<String> {
    let mut it = pipeline.iterate_recurse();
    while let Ok(Some(e)) = it.next() {
        if let Some(f) = e.factory()
            && f.metadata(gst::ELEMENT_METADATA_KLASS).is_some_and(|k| k.contains("Demux"))
        {
            return Some(f.name().to_string());
        }
    }
    None
}

/// The container, from the demuxer and its container-format tag (the extension decides
/// between MP4 and MOV when the tag does not).
fn container_name(demuxer: Option<&str>, format_tag: Option<&String>, path: &Path) -> String {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let tag = format_tag.map(|t| t.to_ascii_lowercase()).unwrap_or_default();
    match demuxer {
        Some("qtdemux") if ext == "mov" || tag.contains("quicktime") => "mov".into(),
        Some("qtdemux") => "mp4".into(),
        Some("matroskademux") if tag.contains("webm") || ext == "webm" => "webm".into(),
        Some("matroskademux") => "matroska".into(),
        Some("tsdemux") => "mpegts".into(),
        Some("avidemux") => "avi".into(),
        Some("flvdemux") => "flv".into(),
        Some("oggdemux") => "ogg".into(),
        Some(other) => other.trim_end_matches("demux").to_string(),
        // No demuxer: an elementary stream (.h264, .ivf-less VP8 ...).
        None => "elementary".into(),
    }
}

/// Clockwise degrees from an image-orientation tag ("rotate-90", "flip-rotate-270", ...).
pub(crate) fn rotation_degrees(orientation: &str) -> u32 {
    orientation.rsplit('-').next().and_then(|d| d.parse::<u32>().ok()).map_or(0, |d| d % 360)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    #[test]
    fn decoded_pixel_format_names() {
        gst::init().unwrap();
        let raw = gst::Structure::builder("video/x-raw").field("format", "Y444").build();
        assert_eq!(pixel_format_name(&raw), "yuv444p");
        let raw = gst::Structure::builder("video/x-raw").field("format", "GRAY16_LE").build();
        assert_eq!(pixel_format_name(&raw), "gray16le");
        let h264 = gst::Structure::builder("video/x-h264")
            .field("chroma-format", "4:2:2")
            .field("bit-depth-luma", 10u32)
            .build();
        assert_eq!(pixel_format_name(&h264), "yuv422p10le");
        assert_eq!(pixel_format_name(&gst::Structure::new_empty("video/x-h264")), "yuv420p");
    }

    fn entry(pts: u64, keyframe: bool) -> FrameEntry {
        FrameEntry { pts, dts: None, duration: Some(10), keyframe, decode_order: 0 }
    }

    #[test]
    fn presentation_order_and_keyframes() {
        // I P B B in decode order, presented I B B P.
        let idx = FrameIndex::from_decode_order(vec![
            entry(100, true),
            entry(130, false),
            entry(110, false),
            entry(120, false),
            entry(140, true),
        ]);
        let pts: Vec<u64> = idx.entries().iter().map(|e| e.pts).collect();
        assert_eq!(pts, [100, 110, 120, 130, 140]);
        assert_eq!(idx.time(0), Some(0.0));
        assert_eq!(idx.position(120), Some(2));
        assert_eq!(idx.position(121), None);
        assert_eq!(idx.keyframe_before(2), Some(0));
        assert_eq!(idx.keyframe_before(4), Some(4));
        assert!((idx.duration() - 50e-9).abs() < 1e-15);
        // Display intervals: [100, 110) is frame 0 ... the last ends at 140 + its 10 ns.
        assert_eq!(idx.frame_at_time(0.0), Some(0));
        assert_eq!(idx.frame_at_time(9e-9), Some(0));
        assert_eq!(idx.frame_at_time(10e-9), Some(1));
        assert_eq!(idx.frame_at_time(45e-9), Some(4));
        assert_eq!(idx.frame_at_time(50e-9), None);
        assert_eq!(idx.frame_at_time(-1e-9), None);
        assert_eq!(idx.frame_at_time(f64::NAN), None);
        assert_eq!(idx.display_duration(1), Some(10));
    }

    proptest::proptest! {
        /// Any decode order of distinct timestamps sorts into presentation order, every frame
        /// is found again by its pts, and the keyframe to start from is the last one decoded
        /// at or before the frame.
        #[test]
        fn index_invariants(
            order in proptest::sample::subsequence((0u64..80).collect::<Vec<_>>(), 1..60).prop_shuffle(),
            keys in proptest::collection::vec(proptest::bool::weighted(0.2), 60),
            offset in 0u64..1_000_000_000,
        ) {
            let packets: Vec<FrameEntry> = order
                .iter()
                .enumerate()
                .map(|(i, &t)| entry(offset + t * 33_333_333, i == 0 || keys[i]))
                .collect();
            let idx = FrameIndex::from_decode_order(packets);
            proptest::prop_assert_eq!(idx.len(), order.len());
            proptest::prop_assert_eq!(idx.time(0), Some(0.0));
            for k in 0..idx.len() {
                let e = idx.entries()[k];
                proptest::prop_assert_eq!(idx.position(e.pts), Some(k));
                if k > 0 {
                    proptest::prop_assert!(idx.entries()[k - 1].pts < e.pts);
                }
                // The first packet is a keyframe, but with reordering it may be presented
                // after frame k: then no keyframe precedes k in both orders.
                if let Some(j) = idx.keyframe_before(k) {
                    let key = idx.entries()[j];
                    proptest::prop_assert!(key.keyframe && key.decode_order <= e.decode_order && key.pts <= e.pts);
                    proptest::prop_assert!(!idx.entries().iter().any(|o| o.keyframe
                        && o.decode_order > key.decode_order
                        && o.decode_order <= e.decode_order
                        && o.pts <= e.pts));
                }
            }
        }
    }

    #[test]
    fn orientation_tags() {
        assert_eq!(rotation_degrees("rotate-90"), 90);
        assert_eq!(rotation_degrees("flip-rotate-270"), 270);
        assert_eq!(rotation_degrees("rotate-0"), 0);
    }
}
