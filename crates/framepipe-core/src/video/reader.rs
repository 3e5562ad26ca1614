//! Decoding reader: `filesrc ! decodebin`, the video pad into
//! `queue ! [videoflip video-direction=auto] ! [filter] ! [fpyuvtorgb] ! videoconvert ! capsfilter ! appsink`.
//!
//! The queue puts colour conversion on its own streaming thread, apart from the decoder's.
//! For rgb24/bgr24/rgba/bgra, [`FpYuvToRgb`] converts 8- and 10-bit YUV with SIMD kernels on
//! row bands (one thread per core) into pooled buffers, and videoconvert is then in
//! passthrough; any other input or output format is videoconvert's (one thread per core).
//! Frames come out as `gst::Sample`s that the caller maps without a copy, so the consumer
//! thread only maps and hands out. Every decoded frame is matched to the [`FrameIndex`] by its
//! pts, so `read(k)` after a seek gives exactly the k-th frame of sequential iteration: both
//! paths go through the same converter.
//!
//! Random reads seek to the keyframe before the target and decode forward; frames before the
//! target are dropped ahead of conversion, and H.264 frames before it that nothing references
//! are not decoded at all ([`disposable`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gst::prelude::*;
use gst_app::AppSink;

use super::convert::RgbLayout;
use super::format::{expand_gray8, expand_gray16, full_range_lut};
use super::index::STALL;
use super::yuvtorgb::FpYuvToRgb;
use super::{Filter, FrameIndex, Metadata, OutputFormat, make, media_error, path_str, probe_cached};
use crate::layout::View;
use crate::media::MediaInfo;
use crate::pipeline::{Interrupt, Pipeline};
use crate::{Error, Result};

/// Forward decoding is preferred to a seek when the target is at most this many frames
/// ahead (a seek flushes the decoder and restarts from a keyframe).
const FORWARD_WINDOW: usize = 12;

/// Decoded frames buffered ahead of the consumer, in the queue and again in the appsink:
/// enough to keep the decoder and the converter busy while frames are iterated, and one each
/// after a random read, whose next read usually seeks and throws the buffered frames away.
const SEQUENTIAL_READ_AHEAD: u32 = 4;
const RANDOM_READ_AHEAD: u32 = 1;

/// What a random read shares with the streaming threads: the frame it decodes forward to,
/// so frames before the target are neither converted nor (when they are not references)
/// decoded.
#[derive(Default)]
struct Approach {
    /// Frames presented before this pts are dropped ahead of colour conversion, and those
    /// that nothing references ahead of the decoder (0: none are).
    skip_before: AtomicU64,
    /// Frames not decoded because nothing referenced them (diagnostics).
    skipped: AtomicU64,
}

/// How a [`VideoReader`] decodes (the keyword arguments of `fp.imread` / `fp.imiter`).
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    /// Output pixel format; `None` hands out the decoder's native format.
    pub format: Option<OutputFormat>,
    /// A filter applied after decoding (and after rotation).
    pub filter: Option<Filter>,
    /// Decoder threads; 0 lets the decoder choose.
    pub thread_count: u32,
    /// Rotate frames as the file's image-orientation metadata asks.
    pub apply_rotation: bool,
    /// Convert 8-bit YUV to rgb24/bgr24/rgba/bgra with framepipe's SIMD converter
    /// ([`super::convert`]) rather than GStreamer's videoconvert (which stays the fallback
    /// for every other format). Defaults to true unless the environment variable
    /// `FRAMEPIPE_VIDEOCONVERT` is set (a switch for comparisons and for ruling the converter
    /// out when a colour looks wrong).
    pub fast_convert: bool,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            format: Some(OutputFormat::Rgb24),
            filter: None,
            thread_count: 0,
            apply_rotation: false,
            fast_convert: std::env::var_os("FRAMEPIPE_VIDEOCONVERT").is_none(),
        }
    }
}

/// A decoded frame: a sample whose buffer the caller maps (read-only) for a zero-copy view.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    pub sample: gst::Sample,
    /// Position in presentation order (the `index` of `read`).
    pub index: usize,
    /// pts as the demuxer gives it, in ns.
    pub pts: u64,
    /// Seconds since the first frame.
    pub time: f64,
    pub keyframe: bool,
    format: Option<OutputFormat>,
}

impl VideoFrame {
    pub fn buffer(&self) -> Result<&gst::BufferRef> {
        self.sample.buffer().ok_or_else(|| Error::Buffer("the frame has no buffer".into()))
    }

    /// The caps' media description (format, size, strides).
    pub fn media(&self) -> MediaInfo {
        MediaInfo::from_caps(self.sample.caps())
    }

    pub fn width(&self) -> u32 {
        match self.media() {
            MediaInfo::Video(i) => i.width(),
            _ => 0,
        }
    }

    pub fn height(&self) -> u32 {
        match self.media() {
            MediaInfo::Video(i) => i.height(),
            _ => 0,
        }
    }

    /// The array view over the mapped buffer: (H, W, C) or (H, W) for packed formats with
    /// the real row stride; (3, H, W) for yuv444p; (H, W, 3) uint16 skipping the alpha word
    /// for rgb48le. A native planar format (`format=None`) fails: use [`Self::planes`].
    pub fn view(&self) -> Result<View> {
        let buffer = self.buffer()?;
        let len = buffer.size();
        let media = self.media();
        match self.format {
            Some(OutputFormat::Yuv444p) => {
                let planes = media.planes(buffer, len)?;
                let (y, u, v) = match planes.as_slice() {
                    [y, u, v] => (y, u, v),
                    _ => return Err(Error::Value("yuv444p frame does not have 3 planes".into())),
                };
                let step = u.offset as isize - y.offset as isize;
                if v.offset as isize - u.offset as isize != step || y.strides != u.strides || y.strides != v.strides {
                    return Err(Error::Value("yuv444p planes are not evenly spaced: use planes()".into()));
                }
                let view = View {
                    offset: y.offset,
                    shape: vec![3, y.shape[0], y.shape[1]],
                    strides: vec![step, y.strides[0], y.strides[1]],
                    dtype: y.dtype,
                };
                if !view.fits(len) {
                    return Err(Error::Value("yuv444p view does not fit the buffer".into()));
                }
                Ok(view)
            }
            Some(OutputFormat::Rgb48le) => {
                let mut view = media.array(buffer, len)?;
                view.shape[2] = 3;
                Ok(view)
            }
            _ => media.array(buffer, len),
        }
    }

    /// One view per plane of the mapped buffer.
    pub fn planes(&self) -> Result<Vec<View>> {
        let buffer = self.buffer()?;
        self.media().planes(buffer, buffer.size())
    }
}

/// Reads a video file's frames sequentially or by index. Holds the file's [`FrameIndex`] for
/// its lifetime; the decoding pipeline is built on first use and kept between reads.
pub struct VideoReader {
    metadata: Metadata,
    index: FrameIndex,
    options: ReaderOptions,
    pipeline: Option<Pipeline>,
    /// The target of the random read under way, shared with the streaming threads.
    approach: Arc<Approach>,
    /// Index of the frame the next sequential pull is expected to give.
    next: usize,
    /// False when the filter changes the frame count: indices are then output positions and
    /// random access decodes from the start.
    indexed: bool,
    /// Random reads that had to decode from the first frame (diagnostics).
    fallbacks: u64,
    /// First frame that sequential decoding skipped (the decoder dropped it as damaged).
    damaged: Option<usize>,
    /// Whether the end of a damaged stream was already reported as an error.
    reported: bool,
    /// The frames buffered ahead now (see [`SEQUENTIAL_READ_AHEAD`]).
    read_ahead: u32,
}

impl VideoReader {
    /// Probes and indexes `path` (see [`probe`](super::probe) for the errors; the index of an unchanged
    /// file is reused, see [`super::probe_cached`]) and prepares to decode it.
    pub fn open(path: &Path, options: ReaderOptions, interrupt: Interrupt<'_>) -> Result<VideoReader> {
        let (metadata, index) = probe_cached(path, interrupt)?;
        VideoReader::with_index(metadata, index, options)
    }

    /// A reader over an already probed file.
    pub fn with_index(metadata: Metadata, index: FrameIndex, options: ReaderOptions) -> Result<VideoReader> {
        let size = Some((metadata.width, metadata.height));
        let indexed = !options.filter.as_ref().is_some_and(|f| f.changes_frame_count(size));
        if let Some(f) = &options.filter {
            // Fail early on a bad filter rather than at the first read.
            f.to_launch(size)?;
        }
        Ok(VideoReader {
            metadata,
            index,
            options,
            pipeline: None,
            approach: Arc::new(Approach::default()),
            next: 0,
            indexed,
            fallbacks: 0,
            damaged: None,
            reported: false,
            read_ahead: SEQUENTIAL_READ_AHEAD,
        })
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    pub fn index(&self) -> &FrameIndex {
        &self.index
    }

    pub fn options(&self) -> &ReaderOptions {
        &self.options
    }

    /// The true number of frames (of the source; a frame-rate filter changes what decoding
    /// yields, and then iteration is the only way to count).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Shape and dtype of the arrays this reader hands out (what [`VideoFrame::view`] gives),
    /// found by decoding the first frame with a reader of its own, so this reader's position
    /// does not move (`fp.improps`).
    pub fn frame_shape(&self, interrupt: Interrupt<'_>) -> Result<(Vec<usize>, crate::Dtype)> {
        let mut probe = VideoReader::with_index(self.metadata.clone(), self.index.clone(), self.options.clone())?;
        let frame = probe
            .next_frame(interrupt)?
            .ok_or_else(|| Error::Media(format!("{}: no frame could be decoded", self.metadata.path.display())))?;
        let view = frame.view()?;
        Ok((view.shape, view.dtype))
    }

    /// How many random reads fell back to decoding from the first frame because seeking to
    /// the keyframe before their target did not deliver it (diagnostics and tests: 0 on
    /// well-formed files).
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks
    }

    /// How many frames random reads did not decode at all, because they came before the
    /// target and nothing referenced them (diagnostics and tests).
    pub fn skipped(&self) -> u64 {
        self.approach.skipped.load(Ordering::Relaxed)
    }

    /// The next frame in presentation order, or `None` at the end. A decoding error is
    /// returned (as [`Error::Media`]) only after every frame decoded before it.
    ///
    /// Frames the decoder drops as damaged are skipped (the next frame keeps its own index);
    /// once the stream ends, a stream that lost frames that way, or ended before the index
    /// did, reports [`Error::Media`] once, then `None`.
    pub fn next_frame(&mut self, interrupt: Interrupt<'_>) -> Result<Option<VideoFrame>> {
        self.ensure_pipeline()?;
        self.set_read_ahead(SEQUENTIAL_READ_AHEAD);
        let expected = self.next;
        match self.pull(interrupt)? {
            Some(sample) => {
                let f = self.frame(sample);
                if self.indexed && f.index > expected {
                    self.damaged.get_or_insert(expected);
                }
                Ok(Some(f))
            }
            None => {
                let missing = self.damaged.or((self.indexed && self.next < self.index.len()).then_some(self.next));
                match missing {
                    Some(k) if !self.reported => {
                        self.reported = true;
                        Err(Error::Media(format!(
                            "{}: frame {k} and possibly others could not be decoded (the file is damaged); the \
                             frames that could were returned",
                            self.metadata.path.display()
                        )))
                    }
                    _ => Ok(None),
                }
            }
        }
    }

    /// Frame `k` in presentation order: exactly what sequential iteration yields as its
    /// k-th frame. Subsequent [`Self::next_frame`] calls continue after it.
    pub fn read(&mut self, k: usize, interrupt: Interrupt<'_>) -> Result<VideoFrame> {
        if self.indexed && k >= self.index.len() {
            return Err(Error::Value(format!("frame index {k} is out of range: the video has {} frames", self.len())));
        }
        self.ensure_pipeline()?;
        self.set_read_ahead(RANDOM_READ_AHEAD);
        if !self.indexed {
            return self.read_unindexed(k, interrupt);
        }
        let near = k >= self.next && k - self.next <= FORWARD_WINDOW;
        let same_gop = k >= self.next && self.index.keyframe_before(k) == self.index.keyframe_before(self.next);
        let forward = near || same_gop;
        let target = self.index.entries()[k].pts;
        self.approach.skip_before.store(target, Ordering::SeqCst);
        let result = self.read_indexed(k, forward, interrupt);
        self.approach.skip_before.store(0, Ordering::SeqCst);
        result
    }

    fn read_indexed(&mut self, k: usize, forward: bool, interrupt: Interrupt<'_>) -> Result<VideoFrame> {
        if !forward {
            // Seek to the keyframe decoding must start from (an accurate seek there lands on
            // it whatever the demuxer's seek table), then decode forward. A stream that
            // cannot seek is decoded from the start.
            let key = self.index.keyframe_before(k).unwrap_or(0);
            if let Err(e) = self.seek_to(key, interrupt) {
                if matches!(e, Error::Interrupted) {
                    return Err(e);
                }
                self.fallbacks += 1;
                self.restart()?;
            }
        }
        if let Some(f) = self.decode_until(k, interrupt)? {
            return Ok(f);
        }
        // A demuxer that seeks coarsely (or a keyframe flag that lied): decode from the start.
        self.fallbacks += 1;
        self.restart()?;
        self.decode_until(k, interrupt)?
            .ok_or_else(|| Error::Media(format!("{}: frame {k} could not be decoded", self.metadata.path.display())))
    }

    /// Goes back to the first frame.
    pub fn rewind(&mut self) -> Result<()> {
        self.restart()
    }

    /// Stops decoding and releases the pipeline (a later read builds it again).
    pub fn close(&mut self) {
        self.pipeline = None;
        self.next = 0;
    }

    fn read_unindexed(&mut self, k: usize, interrupt: Interrupt<'_>) -> Result<VideoFrame> {
        if k < self.next {
            self.restart()?;
        }
        loop {
            match self.pull(interrupt)? {
                Some(s) => {
                    let f = self.frame(s);
                    if f.index == k {
                        return Ok(f);
                    }
                }
                None => return Err(Error::Value(format!("frame index {k} is out of range"))),
            }
        }
    }

    /// Pulls frames until frame k: `Some` when it came, `None` when a later frame or the end
    /// came first. Frames are matched by pts through the index, or counted when their pts
    /// is not in it (elementary streams without timestamps).
    fn decode_until(&mut self, k: usize, interrupt: Interrupt<'_>) -> Result<Option<VideoFrame>> {
        loop {
            let Some(sample) = self.pull(interrupt)? else { return Ok(None) };
            let f = self.frame(sample);
            match f.index.cmp(&k) {
                std::cmp::Ordering::Equal => return Ok(Some(f)),
                std::cmp::Ordering::Greater => return Ok(None),
                std::cmp::Ordering::Less => {}
            }
        }
    }

    /// Turns a sample into a frame and advances the sequential position past it.
    fn frame(&mut self, sample: gst::Sample) -> VideoFrame {
        let pts = sample.buffer().and_then(|b| b.pts()).map(|t| t.nseconds());
        let k = match (self.indexed, pts) {
            (true, Some(p)) => self.index.position(p).unwrap_or(self.next),
            _ => self.next,
        };
        self.next = k + 1;
        let entry = self.index.get(k).copied();
        VideoFrame {
            sample,
            index: k,
            pts: pts.unwrap_or(0),
            time: match (self.indexed, pts) {
                (true, _) => self.index.time(k).unwrap_or(0.0),
                (false, Some(p)) => p.saturating_sub(self.index.start()) as f64 / 1e9,
                (false, None) => 0.0,
            },
            keyframe: entry.is_some_and(|e| e.keyframe),
            format: self.options.format,
        }
    }

    fn pull(&mut self, interrupt: Interrupt<'_>) -> Result<Option<gst::Sample>> {
        let path = self.metadata.path.clone();
        let pipeline = self.pipeline.as_ref().ok_or_else(|| Error::Gst("the reader is closed".into()))?;
        match pipeline.pull("frames", Some(STALL), interrupt) {
            Ok(s) => Ok(s),
            Err(Error::Timeout(_)) => {
                Err(Error::Media(format!("{}: decoding made no progress for {} s", path.display(), STALL.as_secs())))
            }
            Err(e) => Err(media_error(&path, e)),
        }
    }

    fn seek_to(&mut self, k: usize, interrupt: Interrupt<'_>) -> Result<()> {
        let position = self.index.stream_time(k).unwrap_or(0);
        let path = self.metadata.path.clone();
        let pipeline = self.pipeline.as_ref().ok_or_else(|| Error::Gst("the reader is closed".into()))?;
        pipeline.wait_state(Some(STALL), interrupt).map_err(|e| media_error(&path, e))?;
        let flags = gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE;
        pipeline
            .gst()
            .seek_simple(flags, gst::ClockTime::from_nseconds(position))
            .map_err(|_| Error::Media(format!("{}: the file cannot seek to frame {k}", path.display())))?;
        // The flushing seek makes the pipeline preroll again; waiting for that also makes
        // sure the appsink no longer reports the end-of-stream of before the seek.
        pipeline.wait_state(Some(STALL), interrupt).map_err(|e| media_error(&path, e))?;
        self.next = k;
        self.damaged = None;
        self.reported = false;
        Ok(())
    }

    fn restart(&mut self) -> Result<()> {
        self.pipeline = None;
        self.next = 0;
        self.damaged = None;
        self.reported = false;
        self.ensure_pipeline()
    }

    /// Sets how many decoded frames the queue and the appsink each hold ahead of the consumer.
    fn set_read_ahead(&mut self, frames: u32) {
        if self.read_ahead == frames {
            return;
        }
        if let Some(p) = &self.pipeline {
            for (name, property) in [("decoded", "max-size-buffers"), ("frames", "max-buffers")] {
                if let Some(e) = p.gst().by_name(name) {
                    e.set_property(property, frames);
                }
            }
        }
        self.read_ahead = frames;
    }

    fn ensure_pipeline(&mut self) -> Result<()> {
        if self.pipeline.is_none() {
            let p = build_pipeline(&self.metadata, &self.options, self.approach.clone())?;
            p.set_state(gst::State::Playing).map_err(|e| media_error(&self.metadata.path, e))?;
            self.pipeline = Some(p);
            self.next = 0;
            self.read_ahead = SEQUENTIAL_READ_AHEAD;
        }
        Ok(())
    }
}

/// Drops, ahead of the decoder, the frames presented before a random read's target that no
/// other frame references: they could only be decoded to be thrown away. Exact by
/// construction (a frame nothing references cannot change any other), and for the usual
/// H.264 with B-frames it halves or thirds the work of decoding forward from the keyframe.
fn skip_disposable(decoder: &gst::Element, approach: &Arc<Approach>) {
    let Some(sink) = decoder.static_pad("sink") else { return };
    let approach = Arc::downgrade(approach);
    sink.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(approach) = approach.upgrade() else { return gst::PadProbeReturn::Ok };
        let skip = approach.skip_before.load(Ordering::SeqCst);
        let Some(pts) = info.buffer().and_then(|b| b.pts()) else { return gst::PadProbeReturn::Ok };
        if pts.nseconds() >= skip {
            return gst::PadProbeReturn::Ok;
        }
        let length_size = pad.current_caps().and_then(|c| h264_length_size(&c));
        let unneeded = match (length_size, info.buffer().and_then(|b| b.map_readable().ok())) {
            (Some(n), Some(map)) => disposable(map.as_slice(), n),
            _ => false,
        };
        if unneeded {
            approach.skipped.fetch_add(1, Ordering::Relaxed);
            // Taken and released here, as for decoded frames (see build_pipeline).
            drop(info.take_buffer());
            return gst::PadProbeReturn::Handled;
        }
        gst::PadProbeReturn::Ok
    });
}

/// For H.264 caps, how its NAL units are delimited: `Some(0)` for Annex B start codes,
/// `Some(n)` for n-byte length prefixes (avc/avc3, from the codec data); `None` otherwise.
fn h264_length_size(caps: &gst::CapsRef) -> Option<usize> {
    let s = caps.structure(0)?;
    if s.name() != "video/x-h264" {
        return None;
    }
    match s.get::<&str>("stream-format").ok()? {
        "byte-stream" => Some(0),
        "avc" | "avc3" => {
            let data = s.get::<gst::Buffer>("codec_data").ok()?;
            let map = data.map_readable().ok()?;
            map.get(4).map(|b| usize::from(b & 3) + 1)
        }
        _ => None,
    }
}

/// Whether an H.264 access unit is a picture nothing references (`nal_ref_idc` 0 on its first
/// slice). NAL units are `length_size`-byte length prefixed, or start-code delimited when it is
/// 0. Anything unreadable counts as needed. Public for the fuzz targets (`fuzz/`).
pub fn disposable(au: &[u8], length_size: usize) -> bool {
    let first_slice = |header: u8| -> Option<bool> {
        match header & 0x1f {
            1..=5 => Some(header & 0x60 == 0 && header & 0x1f != 5),
            _ => None,
        }
    };
    if length_size == 0 {
        let mut i = 0;
        while i + 3 < au.len() {
            if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
                if let Some(d) = first_slice(au[i + 3]) {
                    return d;
                }
                i += 3;
            } else {
                i += 1;
            }
        }
        return false;
    }
    let mut i = 0;
    while i + length_size < au.len() {
        let len = au[i..i + length_size].iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
        if len == 0 || len > au.len() - i - length_size {
            return false;
        }
        if let Some(d) = first_slice(au[i + length_size]) {
            return d;
        }
        i += length_size + len;
    }
    false
}

fn build_pipeline(metadata: &Metadata, options: &ReaderOptions, approach: Arc<Approach>) -> Result<Pipeline> {
    let path: &Path = &metadata.path;
    let pipeline = gst::Pipeline::new();
    let src = make("filesrc")?;
    src.set_property("location", path_str(path)?);
    let decodebin = make("decodebin")?;
    // Only the video stream is decoded; other streams are dropped inside decodebin.
    decodebin.set_property("caps", gst::Caps::builder("video/x-raw").any_features().build());
    decodebin.set_property("expose-all-streams", false);
    let threads = options.thread_count;
    let found = Arc::downgrade(&approach);
    if let Some(bin) = decodebin.downcast_ref::<gst::Bin>() {
        bin.connect_deep_element_added(move |_, _, element| {
            if element.is::<gst_video::VideoDecoder>()
                && let Some(approach) = found.upgrade()
            {
                skip_disposable(element, &approach);
            }
            if threads > 0 {
                for (prop, value) in [("max-threads", threads as i32)] {
                    if element.find_property(prop).is_some() {
                        element.set_property(prop, value);
                    }
                }
                if element.find_property("threads").is_some_and(|p| p.value_type() == u32::static_type()) {
                    element.set_property("threads", threads.min(16));
                }
                if element.find_property("n-threads").is_some_and(|p| p.value_type() == u32::static_type()) {
                    element.set_property("n-threads", threads);
                }
            }
        });
    }
    let queue = gst::ElementFactory::make("queue")
        .name("decoded")
        .property("max-size-buffers", SEQUENTIAL_READ_AHEAD)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 0u64)
        .build()
        .map_err(|_| Error::Gst("the queue element is missing".into()))?;
    if let Some(pad) = queue.static_pad("sink") {
        let approach = approach.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let skip = approach.skip_before.load(Ordering::SeqCst);
            match info.buffer().and_then(|b| b.pts()) {
                Some(pts) if pts.nseconds() < skip => {
                    // Taken and released here: returning Drop instead made GStreamer 1.22
                    // log a mini_object_unref(NULL) critical per dropped frame.
                    drop(info.take_buffer());
                    gst::PadProbeReturn::Handled
                }
                _ => gst::PadProbeReturn::Ok,
            }
        });
    }
    let mut chain: Vec<gst::Element> = vec![queue];
    if options.apply_rotation {
        let flip = make("videoflip")?;
        flip.set_property_from_str("video-direction", "auto");
        chain.push(flip);
    }
    if let Some(f) = &options.filter {
        let size = if options.apply_rotation && metadata.rotation.rem_euclid(180) == 90 {
            (metadata.height, metadata.width)
        } else {
            (metadata.width, metadata.height)
        };
        chain.push(f.to_bin(Some(size))?.upcast());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let rgb = options.format.and_then(|f| RgbLayout::from_video_format(f.video_format()));
    // Full-range gray straight from YUV luma; the range expansion below is then for what
    // videoconvert makes of anything else (when the converter is in passthrough).
    let mut gray = None;
    if let Some(rgb) = rgb.filter(|_| options.fast_convert) {
        // Converts YUV on this queue's thread; anything else passes to videoconvert.
        chain.push(FpYuvToRgb::new(rgb, cores).upcast());
    } else if let Some(f) = options.format.filter(|f| f.expands_range() && options.fast_convert) {
        let g = FpYuvToRgb::gray(f.video_format());
        chain.push(g.clone().upcast());
        gray = Some(g);
    }
    let convert = make("videoconvert")?;
    convert.set_property("n-threads", cores);
    chain.push(convert);
    let caps = match options.format {
        Some(f) => f.caps_string().parse::<gst::Caps>().map_err(|e| Error::Gst(e.to_string()))?,
        None => gst::Caps::builder("video/x-raw").build(),
    };
    let sink = AppSink::builder()
        .name("frames")
        .sync(false)
        .enable_last_sample(false)
        .max_buffers(SEQUENTIAL_READ_AHEAD)
        .caps(&caps)
        .build();
    chain.push(sink.clone().upcast());

    pipeline.add_many([&src, &decodebin])?;
    src.link(&decodebin)?;
    pipeline.add_many(&chain)?;
    gst::Element::link_many(&chain)?;

    if let Some(format) = options.format.filter(|f| f.expands_range()) {
        let lut = full_range_lut();
        if let Some(pad) = sink.static_pad("sink") {
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                // Same streaming thread as the converter: its mode is that of this buffer.
                if gray.as_ref().is_some_and(|g| !gst_base::prelude::BaseTransformExt::is_passthrough(g)) {
                    return gst::PadProbeReturn::Ok;
                }
                if let Some(buffer) = info.buffer_mut() {
                    let buffer = buffer.make_mut();
                    if let Ok(mut map) = buffer.map_writable() {
                        match format {
                            OutputFormat::Gray => expand_gray8(map.as_mut_slice(), &lut),
                            _ => expand_gray16(map.as_mut_slice()),
                        }
                    }
                }
                gst::PadProbeReturn::Ok
            });
        }
    }

    let first = chain[0].static_pad("sink").ok_or_else(|| Error::Gst("queue without a sink pad".into()))?;
    decodebin.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .unwrap_or_else(|| pad.query_caps(None))
            .structure(0)
            .is_some_and(|s| s.name() == "video/x-raw");
        if is_video && !first.is_linked() {
            let _ = pad.link(&first);
        }
    });
    Ok(Pipeline::wrap(pipeline))
}

#[cfg(test)]
mod tests {
    use super::disposable;

    /// An access unit of NAL units with the given header bytes (and a little payload each),
    /// length prefixed (`length_size` 1..=4) or with start codes (0).
    fn au(headers: &[u8], length_size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for &h in headers {
            let nal = [h, 0x88, 0x84, 0x21];
            if length_size == 0 {
                out.extend_from_slice(&[0, 0, 0, 1]);
            } else {
                out.extend_from_slice(&(nal.len() as u32).to_be_bytes()[4 - length_size..]);
            }
            out.extend_from_slice(&nal);
        }
        out
    }

    #[test]
    fn only_slices_with_nal_ref_idc_zero_are_disposable() {
        for n in [0, 1, 2, 4] {
            // AUD, SEI, then a non-reference slice (nal_ref_idc 0, type 1): a B-frame.
            assert!(disposable(&au(&[0x09, 0x06, 0x01], n), n), "length size {n}");
            // A reference P slice (nal_ref_idc 2) and an IDR slice.
            assert!(!disposable(&au(&[0x09, 0x41], n), n), "length size {n}");
            assert!(!disposable(&au(&[0x67, 0x68, 0x65], n), n), "length size {n}");
            // Only the first slice counts; no slice at all means "needed".
            assert!(!disposable(&au(&[0x21, 0x01], n), n), "length size {n}");
            assert!(!disposable(&au(&[0x09, 0x06], n), n), "length size {n}");
        }
    }

    #[test]
    fn damaged_units_are_needed_not_a_panic() {
        assert!(!disposable(&[], 4));
        assert!(!disposable(&[0, 0, 0], 4));
        assert!(!disposable(&[0xff, 0xff, 0xff, 0xff, 0x01], 4));
        assert!(!disposable(&[0, 0, 0, 0, 0x01, 0x02], 4));
        assert!(!disposable(&[0, 0, 1], 0));
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            for n in [0, 1, 2, 3, 4] {
                let _ = disposable(&junk, n);
            }
        }
    }
}
