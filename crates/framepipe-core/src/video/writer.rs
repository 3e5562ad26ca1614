//! Encoding writer: `appsrc ! [filter] ! videoconvert ! capsfilter ! encoder ! [parser] ! muxer ! filesink`,
//! built when the first frame fixes the size.
//!
//! MP4 and MOV files are written crash-safe by default: the muxer runs in robust mode with
//! a moov index reserved at the start of the file and rewritten every second, and the file
//! is written unbuffered, so a file whose writer is killed (SIGKILL) stays playable up to
//! its last ~2 s (x264's lookahead holds about 1 s of frames, the index lags by up to 1 s);
//! a clean close writes the final index in the same place, giving a normal MP4.
//!
//! Measured alternatives on GStreamer 1.22: fragmented MP4 (`fragment-duration`) survived a
//! kill as well, but the cleanly closed file announced a wrong duration that made qtdemux
//! clip its first frames; `first-moov-then-finalise` kept only the first fragment (1 s)
//! after a kill.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gst::prelude::*;
use gst_app::AppSrc;
use gst_video::VideoFormat;

use super::{Filter, OutputFormat, make, media_error, path_str, pixfmt};
use crate::layout::Dtype;
use crate::media::MediaInfo;
use crate::pack::{self, ArrayRef};
use crate::pipeline::{Interrupt, Pipeline};
use crate::{Error, Result};

/// How often a crash-safe MP4 rewrites its index.
const MOOV_UPDATE: Duration = Duration::from_secs(1);
/// Longest crash-safe MP4 recording when the caller gives no expected duration. The index
/// space is reserved at the start of the file (about 2 MB per hour at 30 fps).
const DEFAULT_RESERVED: Duration = Duration::from_secs(3600);
/// How long closing may take to finalise the file.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Codecs by FFmpeg name, with the GStreamer encoders that implement them (first found wins)
/// and the parser placed after the encoder.
const CODECS: &[(&str, &[&str], Option<&str>)] = &[
    ("h264", &["x264enc", "openh264enc"], Some("h264parse")),
    ("hevc", &["x265enc"], Some("h265parse")),
    ("vp8", &["vp8enc"], None),
    ("vp9", &["vp9enc"], None),
    ("av1", &["av1enc", "rav1enc", "svtav1enc"], Some("av1parse")),
    ("mjpeg", &["jpegenc"], None),
];

/// Aliases accepted for codec names (FFmpeg encoder names).
fn canonical_codec(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "libx264" | "avc" | "x264" => "h264".into(),
        "h265" | "libx265" | "x265" => "hevc".into(),
        "libvpx" => "vp8".into(),
        "libvpx-vp9" => "vp9".into(),
        "libaom-av1" | "librav1e" | "libsvtav1" => "av1".into(),
        "jpeg" | "motion-jpeg" => "mjpeg".into(),
        other => other.to_string(),
    }
}

/// The codecs whose encoder is installed, by FFmpeg name.
pub fn available_codecs() -> Vec<&'static str> {
    let _ = crate::init();
    CODECS
        .iter()
        .filter(|(_, encs, _)| encs.iter().any(|e| gst::ElementFactory::find(e).is_some()))
        .map(|c| c.0)
        .collect()
}

/// How a [`VideoWriter`] encodes (the keyword arguments of `fp.imwrite` and
/// `VideoFile.init_video_stream`).
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// FFmpeg codec name: "h264", "hevc", "vp8", "vp9", "av1", "mjpeg" (or "libx264", ...).
    pub codec: String,
    pub fps: f64,
    /// Pixel format of the arrays written. With rgb24 (the default), a 2-D uint8 first frame
    /// is taken as gray and a 2-D uint16 one as gray16le, as `Pipeline.push` does.
    pub input_format: OutputFormat,
    /// Encoded pixel format by FFmpeg name ("yuv420p", "yuv444p", ...); `None` picks
    /// yuv420p (4:2:0, what browsers and players accept) for every codec, mjpeg included
    /// (else `videoconvert ! x264enc` negotiates 4:4:4 from RGB, and jpegenc RGB).
    pub pixel_format: Option<String>,
    /// Quality from 0 (worst) to 10 (best); ignored when `bitrate` is set.
    pub quality: Option<f64>,
    /// Target bitrate in bits per second.
    pub bitrate: Option<u64>,
    /// Longest distance between keyframes, in frames.
    pub max_keyframe_interval: Option<u32>,
    /// Make every frame a keyframe.
    pub force_keyframes: bool,
    /// A filter applied before encoding.
    pub filter: Option<Filter>,
    /// Container (global) tags by GStreamer tag name or FFmpeg key ("title", "comment", ...).
    pub container_tags: Vec<(String, String)>,
    /// Tags of the video stream ("language-code", ...).
    pub stream_tags: Vec<(String, String)>,
    /// MP4/MOV only: write the file so that it stays playable up to its last ~2 s if the
    /// process dies (robust muxing with an index reserved at the start and rewritten every
    /// second). The reservation bounds the recording's length: see `expected_duration`.
    /// False writes a plain MP4 (index at the end, unplayable until closed, no limit).
    pub crash_safe: bool,
    /// Seconds of video expected (e.g. frames / fps when all frames are known up front); sizes
    /// the crash-safe index reservation (x1.25 + 10 s). `None` reserves one hour. Writing
    /// past the reservation fails with [`Error::Value`] rather than corrupting the file.
    pub expected_duration: Option<f64>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            codec: "h264".into(),
            fps: 24.0,
            input_format: OutputFormat::Rgb24,
            pixel_format: None,
            quality: None,
            bitrate: None,
            max_keyframe_interval: None,
            force_keyframes: false,
            filter: None,
            container_tags: Vec::new(),
            stream_tags: Vec::new(),
            crash_safe: true,
            expected_duration: None,
        }
    }
}

struct Running {
    pipeline: Pipeline,
    appsrc: AppSrc,
}

/// What the first frame fixed: every later frame must match it.
struct FrameFormat {
    caps: gst::Caps,
    media: MediaInfo,
    /// `options.input_format`, or gray for 2-D frames given as rgb24.
    input_format: OutputFormat,
    shape: Vec<usize>,
    dtype: Dtype,
    width: usize,
    height: usize,
}

/// Writes arrays as frames of a video file. The container comes from the extension
/// (.mp4 .mov .mkv .webm .avi .ts); the pipeline is built by the first frame, whose shape
/// every later frame must have.
pub struct VideoWriter {
    path: PathBuf,
    options: WriterOptions,
    encoder: &'static str,
    parser: Option<&'static str>,
    muxer: &'static str,
    format: Option<FrameFormat>,
    running: Option<Running>,
    frames: u64,
    closed: bool,
}

impl VideoWriter {
    /// Checks the codec, the container and the tags and prepares to write `path`.
    ///
    /// Errors: [`Error::Value`] for an unknown or missing codec (listing the available
    /// ones), an unknown extension, a codec the container cannot hold, an unknown tag or a
    /// bad fps.
    pub fn create(path: &Path, options: WriterOptions) -> Result<VideoWriter> {
        crate::init()?;
        path_str(path)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(Error::NotFound(format!("{}: the folder {} does not exist", path.display(), parent.display())));
        }
        crate::video::check_encoding(options.fps, options.quality)?;
        let codec = canonical_codec(&options.codec);
        let available = available_codecs();
        let entry = CODECS.iter().find(|c| c.0 == codec && available.contains(&c.0)).ok_or_else(|| {
            Error::Value(format!(
                "unknown or unavailable codec {:?}: available codecs are {}",
                options.codec,
                available.join(", ")
            ))
        })?;
        let encoder = entry.1.iter().copied().find(|e| gst::ElementFactory::find(e).is_some()).unwrap_or(entry.1[0]);
        let parser = entry.2.filter(|p| gst::ElementFactory::find(p).is_some());
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let muxer = match ext.as_str() {
            "mp4" | "m4v" => "mp4mux",
            "mov" => "qtmux",
            "mkv" => "matroskamux",
            "webm" => "webmmux",
            "avi" => "avimux",
            "ts" | "m2ts" => "mpegtsmux",
            other => {
                return Err(Error::Value(format!(
                    "cannot tell the container from the extension {other:?}: use .mp4, .mov, .mkv, .webm, .avi or .ts"
                )));
            }
        };
        // What reaches the muxer is the parser's output when there is one (it converts
        // stream formats, e.g. H.265 byte-stream to hvc1).
        check_mux_accepts(muxer, parser.unwrap_or(encoder), &codec, &ext)?;
        if let Some(p) = &options.pixel_format {
            encoded_format(p)?;
        }
        tag_list(&options.container_tags, gst::TagScope::Global)?;
        tag_list(&options.stream_tags, gst::TagScope::Stream)?;
        if options.input_format == OutputFormat::Rgb48le {
            return Err(Error::Value("writing rgb48le arrays is not supported: use rgb24 or gray16le".into()));
        }
        Ok(VideoWriter {
            path: path.to_path_buf(),
            options,
            encoder,
            parser,
            muxer,
            format: None,
            running: None,
            frames: 0,
            closed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn options(&self) -> &WriterOptions {
        &self.options
    }

    /// How much video the crash-safe MP4 index has room for, when crash-safe writing is on.
    pub fn reserved_duration(&self) -> Option<Duration> {
        let mp4 = self.muxer == "mp4mux" || self.muxer == "qtmux";
        (mp4 && self.options.crash_safe).then(|| match self.options.expected_duration {
            Some(d) if d.is_finite() && d > 0.0 => Duration::from_secs_f64(d * 1.25 + 10.0),
            _ => DEFAULT_RESERVED,
        })
    }

    /// The GStreamer encoder and muxer in use.
    pub fn elements(&self) -> (&str, &str) {
        (self.encoder, self.muxer)
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames
    }

    /// Encodes one frame: (H, W, 3) for rgb24/bgr24, (H, W, 4) for rgba/bgra, (H, W) uint8
    /// for gray (full range), (H, W) uint16 for gray16le, (3, H, W) for yuv444p.
    /// A frame whose shape or dtype differs from the first fails with [`Error::Value`]
    /// naming its index, and nothing is written for it.
    ///
    /// This is [`VideoWriter::prepare`] then [`VideoWriter::push`]; callers whose array may
    /// change under them (Python's, without the GIL) copy with `prepare` first.
    pub fn write(&mut self, array: ArrayRef<'_>, interrupt: Interrupt<'_>) -> Result<()> {
        let buffer = self.prepare(array)?;
        self.push(buffer, interrupt)
    }

    /// Checks one frame and copies it into a timestamped buffer for [`VideoWriter::push`],
    /// without touching the pipeline (so it never blocks).
    pub fn prepare(&mut self, array: ArrayRef<'_>) -> Result<gst::Buffer> {
        if self.closed {
            return Err(Error::Value("the writer is closed".into()));
        }
        let index = self.frames;
        if let Some(reserved) = self.reserved_duration()
            && (index + 1) as f64 / self.options.fps > reserved.as_secs_f64()
        {
            return Err(Error::Value(format!(
                "frame {index}: the crash-safe MP4 index has room for {:.0} s of video; pass a longer \
                 expected_duration or turn crash_safe off",
                reserved.as_secs_f64()
            )));
        }
        if self.format.is_none() {
            self.format = Some(self.frame_format(&array)?);
        }
        let format = self.format.as_ref().ok_or_else(|| Error::Gst("the writer has no frame format".into()))?;
        if array.shape != format.shape.as_slice() || array.dtype != format.dtype {
            return Err(Error::Value(format!(
                "frame {index} has shape {:?} and dtype {}, but the video's frames are {:?} {}",
                array.shape,
                array.dtype.name(),
                format.shape,
                format.dtype.name()
            )));
        }
        let mut buffer = match format.input_format {
            OutputFormat::Yuv444p => {
                let planar = ArrayRef { data: array.data, shape: &[array.data.len()], strides: &[1], dtype: Dtype::U8 };
                if !is_c_contiguous(&array) {
                    return Err(Error::Value(format!("frame {index}: yuv444p frames must be C-contiguous")));
                }
                pack::array_to_buffer(planar, &format.media)?
            }
            _ => pack::array_to_buffer(array, &format.media)?,
        };
        if let Some(b) = buffer.get_mut()
            && let Ok(mut map) = b.map_writable()
        {
            match format.input_format {
                OutputFormat::Gray => compress_gray8(map.as_mut_slice()),
                OutputFormat::Gray16le => compress_gray16(map.as_mut_slice()),
                _ => {}
            }
        }
        let pts = gst::ClockTime::SECOND.mul_div_round(index * 1_000_000, (self.options.fps * 1_000_000.0) as u64);
        let next =
            gst::ClockTime::SECOND.mul_div_round((index + 1) * 1_000_000, (self.options.fps * 1_000_000.0) as u64);
        if let (Some(b), Some(p), Some(n)) = (buffer.get_mut(), pts, next) {
            b.set_pts(p);
            b.set_dts(p);
            b.set_duration(n - p);
        }
        Ok(buffer)
    }

    /// Encodes a buffer [`VideoWriter::prepare`] made, building the pipeline on the first
    /// one. Blocks while the encoder is behind (`interrupt` is polled meanwhile).
    pub fn push(&mut self, buffer: gst::Buffer, interrupt: Interrupt<'_>) -> Result<()> {
        if self.closed {
            return Err(Error::Value("the writer is closed".into()));
        }
        if self.running.is_none() {
            let format = self.format.as_ref().ok_or_else(|| Error::Value("no frame was prepared".into()))?;
            match self.start(format) {
                Ok(running) => self.running = Some(running),
                Err(e) => {
                    // The next frame may fix the format again.
                    self.format = None;
                    return Err(e);
                }
            }
        }
        let running = self.running.as_ref().ok_or_else(|| Error::Gst("the writer did not start".into()))?;
        let pts = buffer.pts();
        running.pipeline.push("src", buffer, pts, None, interrupt).map_err(|e| media_error(&self.path, e))?;
        self.frames += 1;
        Ok(())
    }

    /// Ends the stream and waits until the muxer has finalised the file. Closing twice is a
    /// no-op; a writer that never got a frame writes no file.
    ///
    /// A first interrupt does not stop the finalisation: the file is finished, then
    /// [`Error::Interrupted`] is returned. A second interrupt abandons the file (a crash-safe
    /// MP4 stays playable up to its last index update).
    pub fn close(&mut self, interrupt: Interrupt<'_>) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let Some(running) = self.running.take() else { return Ok(()) };
        running.appsrc.end_of_stream().map_err(|f| Error::Gst(format!("could not end the stream: {f:?}")))?;
        let interrupts = std::cell::Cell::new(0u32);
        let mut second_interrupt = || {
            if interrupt() {
                interrupts.set(interrupts.get() + 1);
            }
            interrupts.get() >= 2
        };
        let result = running.pipeline.run(Some(CLOSE_TIMEOUT), &mut second_interrupt);
        result.map_err(|e| media_error(&self.path, e))?;
        if interrupts.get() > 0 { Err(Error::Interrupted) } else { Ok(()) }
    }

    /// Caps and layout of the frames, from the first one.
    fn frame_format(&self, first: &ArrayRef<'_>) -> Result<FrameFormat> {
        let o = &self.options;
        let input_format = match (o.input_format, first.shape, first.dtype) {
            (OutputFormat::Rgb24, [_, _], Dtype::U8) => OutputFormat::Gray,
            (OutputFormat::Rgb24, [_, _], Dtype::U16) => OutputFormat::Gray16le,
            (f, _, _) => f,
        };
        let (format, h, w) = match (input_format, first.shape, first.dtype) {
            (OutputFormat::Rgb24, [h, w, 3], Dtype::U8) => (VideoFormat::Rgb, h, w),
            (OutputFormat::Bgr24, [h, w, 3], Dtype::U8) => (VideoFormat::Bgr, h, w),
            (OutputFormat::Rgba, [h, w, 4], Dtype::U8) => (VideoFormat::Rgba, h, w),
            (OutputFormat::Bgra, [h, w, 4], Dtype::U8) => (VideoFormat::Bgra, h, w),
            (OutputFormat::Gray, [h, w] | [h, w, 1], Dtype::U8) => (VideoFormat::Gray8, h, w),
            (OutputFormat::Gray16le, [h, w] | [h, w, 1], Dtype::U16) => (VideoFormat::Gray16Le, h, w),
            (OutputFormat::Yuv444p, [3, h, w], Dtype::U8) => (VideoFormat::Y444, h, w),
            (f, shape, dtype) => {
                let hint = match dtype {
                    Dtype::F32 | Dtype::F64 => {
                        " (video frames are integers: convert with `(frames * 255).astype(np.uint8)` for values in \
                         0..1, or `frames.astype(np.uint8)` for values in 0..255)"
                    }
                    _ if matches!(shape, [_, _] | [_, _, 1]) => {
                        " (for gray frames pass in_pixel_format=\"gray\" (uint8) or \"gray16le\" (uint16))"
                    }
                    _ if matches!(shape, [_, _, 4]) => " (for 4 channels pass in_pixel_format=\"rgba\" or \"bgra\")",
                    _ => "",
                };
                return Err(Error::Value(format!(
                    "frame 0 of shape {shape:?} and dtype {} is not a {} image{hint}",
                    dtype.name(),
                    f.name()
                )));
            }
        };
        if *h == 0 || *w == 0 {
            return Err(Error::Value(format!("frame 0 is empty: shape {:?}", first.shape)));
        }
        let caps = pack::video_caps(format, *w as u32, *h as u32, o.fps)?;
        let media = MediaInfo::from_caps(Some(&caps));
        Ok(FrameFormat {
            caps,
            media,
            input_format,
            shape: first.shape.to_vec(),
            dtype: first.dtype,
            width: *w,
            height: *h,
        })
    }

    fn start(&self, format: &FrameFormat) -> Result<Running> {
        let o = &self.options;
        let (caps, media, w, h) = (&format.caps, &format.media, &format.width, &format.height);
        let pipeline = gst::Pipeline::new();
        let appsrc = AppSrc::builder()
            .name("src")
            .caps(caps)
            .format(gst::Format::Time)
            .is_live(false)
            .max_bytes(4 * media_size(media).max(1) as u64)
            .build();
        let mut chain: Vec<gst::Element> = vec![appsrc.clone().upcast()];
        if let Some(f) = &o.filter {
            chain.push(f.to_bin(Some((*w as u32, *h as u32)))?.upcast());
        }
        let convert = make("videoconvert")?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        convert.set_property("n-threads", cores);
        chain.push(convert);
        let pix = match &o.pixel_format {
            Some(p) => Some(encoded_format(p)?),
            None => Some("I420"),
        };
        check_even(self.encoder, pix, o.filter.is_some(), *w, *h)?;
        if let Some(pix) = pix {
            let mut caps = gst::Caps::builder("video/x-raw").field("format", pix);
            if self.encoder == "jpegenc" && pix != "GRAY8" {
                // JPEG is full-range YUV (FFmpeg's yuvj420p); jpegenc writes what it gets,
                // so videoconvert's default limited range would come back 16-235 too bright.
                caps = caps.field("colorimetry", "1:4:0:0");
            }
            let filter = gst::ElementFactory::make("capsfilter")
                .property("caps", caps.build())
                .build()
                .map_err(|_| Error::Gst("capsfilter is missing".into()))?;
            chain.push(filter);
        }
        let encoder = make(self.encoder)?;
        configure_encoder(&encoder, o);
        chain.push(encoder);
        if let Some(p) = self.parser {
            chain.push(make(p)?);
        }
        let muxer = make(self.muxer)?;
        if let Some(reserved) = self.reserved_duration() {
            muxer.set_property("reserved-max-duration", reserved.as_nanos() as u64);
            muxer.set_property("reserved-moov-update-period", MOOV_UPDATE.as_nanos() as u64);
            // About 12 bytes of index per frame (size, composition offset, chunk offset).
            let per_sec = ((16.0 * o.fps).ceil() as u32 + 64).max(550);
            muxer.set_property("reserved-bytes-per-sec", per_sec);
        }
        let mux_ref = muxer.clone();
        chain.push(muxer);
        let sink = make("filesink")?;
        sink.set_property("location", path_str(&self.path)?);
        sink.set_property("sync", false);
        if self.reserved_duration().is_some() {
            // Frames must reach the file before the index that points at them does.
            sink.set_property_from_str("buffer-mode", "unbuffered");
        }
        chain.push(sink);
        pipeline.add_many(&chain)?;
        gst::Element::link_many(&chain).map_err(|_| {
            Error::Value(format!(
                "cannot build {} ! {} for {} frames of {w}x{h}",
                self.encoder,
                self.muxer,
                o.input_format.name()
            ))
        })?;

        if let Some(tags) = tag_list(&o.container_tags, gst::TagScope::Global)?
            && let Some(setter) = mux_ref.dynamic_cast_ref::<gst::TagSetter>()
        {
            setter.merge_tags(&tags, gst::TagMergeMode::Replace);
        }
        if let Some(tags) = tag_list(&o.stream_tags, gst::TagScope::Stream)? {
            // Stream tags go to the muxer's input ahead of the first encoded buffer, from
            // the streaming thread that is about to push it.
            let enc_src = chain[chain.len() - 3].static_pad("src");
            if let Some(pad) = enc_src {
                let tags = std::sync::Mutex::new(Some(tags));
                pad.add_probe(gst::PadProbeType::BUFFER, move |pad, _| {
                    if let Some(t) = tags.lock().unwrap_or_else(|e| e.into_inner()).take()
                        && let Some(peer) = pad.peer()
                    {
                        peer.send_event(gst::event::Tag::new(t));
                    }
                    gst::PadProbeReturn::Remove
                });
            }
        }
        let pipeline = Pipeline::wrap(pipeline);
        pipeline.set_state(gst::State::Playing).map_err(|e| media_error(&self.path, e))?;
        Ok(Running { pipeline, appsrc })
    }
}

impl Drop for VideoWriter {
    /// A writer dropped without `close` still finalises its file.
    fn drop(&mut self) {
        let _ = self.close(&mut || false);
    }
}

/// x264 and x265 refuse odd sizes in chroma-subsampled formats ("Can not initialize x264
/// encoder" after the file was created): say so before anything is written. With a filter
/// the encoded size is the filter's, known only once it runs.
fn check_even(encoder: &str, pix: Option<&str>, filtered: bool, w: usize, h: usize) -> Result<()> {
    if filtered || !matches!(encoder, "x264enc" | "x265enc") {
        return Ok(());
    }
    let (odd_w, odd_h) = match pix {
        Some("I420" | "NV12" | "I420_10LE") => (w % 2 == 1, h % 2 == 1),
        Some("Y42B") => (w % 2 == 1, false),
        _ => (false, false),
    };
    if !(odd_w || odd_h) {
        return Ok(());
    }
    let (ffname, what) = match pix {
        Some("Y42B") => ("yuv422p", "an even width"),
        Some("NV12") => ("nv12", "an even width and height"),
        Some("I420_10LE") => ("yuv420p10le", "an even width and height"),
        _ => ("yuv420p", "an even width and height"),
    };
    let codec = if encoder == "x265enc" { "hevc" } else { "h264" };
    let (ew, eh) = (w - w % 2, h - h % 2);
    Err(Error::Value(format!(
        "frames of {w}x{h}: {codec} in {ffname} needs {what}; crop them (e.g. frames[:, :{eh}, :{ew}] or \
         filter=[(\"crop\", \"{ew}:{eh}:0:0\")]), pad them, or pass pixel_format=\"yuv444p\""
    )))
}

fn media_size(media: &MediaInfo) -> usize {
    match media {
        MediaInfo::Video(i) => i.size(),
        _ => 0,
    }
}

fn is_c_contiguous(array: &ArrayRef<'_>) -> bool {
    let mut expected = array.dtype.size() as isize;
    for (&n, &s) in array.shape.iter().zip(array.strides).rev() {
        if n > 1 && s != expected {
            return false;
        }
        expected *= n as isize;
    }
    true
}

/// GStreamer's name for an FFmpeg encoded pixel format.
/// GStreamer's name of an encoded pixel format ("yuv420p" -> "I420"), from the pixel-format
/// table; the formats encoders take (4:2:0, 4:2:2, 4:4:4, NV12, gray, 10-bit 4:2:0).
fn encoded_format(pix: &str) -> Result<&'static str> {
    const ENCODED: [&str; 6] = ["yuv420p", "yuv422p", "yuv444p", "nv12", "gray", "yuv420p10le"];
    pixfmt::by_name(pix)
        .filter(|p| ENCODED.contains(&p.name))
        .and_then(|p| p.gstreamer)
        .map(|f| f.to_str().as_str())
        .ok_or_else(|| Error::Value(format!("unsupported encoded pixel format {pix:?}")))
}

fn configure_encoder(enc: &gst::Element, o: &WriterOptions) {
    let name = enc.factory().map(|f| f.name().to_string()).unwrap_or_default();
    let quality = o.quality; // 0-10, checked by `check_encoding`
    let key_int = if o.force_keyframes { Some(1) } else { o.max_keyframe_interval };
    let set_str = |prop: &str, value: &str| {
        if enc.find_property(prop).is_some() {
            enc.set_property_from_str(prop, value);
        }
    };
    match name.as_str() {
        "x264enc" | "x265enc" => {
            if let Some(b) = o.bitrate {
                set_str("pass", "cbr");
                set_str("bitrate", &(b / 1000).max(1).to_string());
            } else if name == "x264enc" {
                // Constant quality like libx264's crf (23 by default). x264enc would also cap
                // the rate at its `bitrate` (2 Mbit/s by default) through the VBV; libx264's crf
                // has no cap, and an empty VBV buffer turns it off.
                let q = quality.map_or(23, |q| (51.0 - q * 4.2).round() as u32);
                set_str("pass", "qual");
                set_str("quantizer", &q.to_string());
                set_str("vbv-buf-capacity", "0");
            }
            if let Some(k) = key_int {
                set_str("key-int-max", &k.to_string());
            }
        }
        "vp8enc" | "vp9enc" => {
            set_str("deadline", "1");
            set_str("cpu-used", "8");
            if let Some(b) = o.bitrate {
                set_str("end-usage", "cbr");
                set_str("target-bitrate", &b.to_string());
            } else {
                let q = quality.map_or(32, |q| (63.0 - q * 6.0).round().max(0.0) as u32);
                set_str("end-usage", "cq");
                set_str("cq-level", &q.to_string());
                set_str("target-bitrate", "20000000");
            }
            if let Some(k) = key_int {
                set_str("keyframe-max-dist", &k.to_string());
            }
        }
        "jpegenc" => {
            let q = quality.map_or(85, |q| (q * 10.0).round() as u32).clamp(1, 100);
            set_str("quality", &q.to_string());
        }
        "av1enc" => {
            set_str("cpu-used", "8");
            set_str("usage-profile", "realtime");
            if let Some(b) = o.bitrate {
                set_str("target-bitrate", &(b / 1000).max(1).to_string());
            }
            if let Some(k) = key_int {
                set_str("keyframe-max-dist", &k.to_string());
            }
        }
        _ => {
            if let Some(b) = o.bitrate {
                set_str("bitrate", &b.to_string());
            }
        }
    }
}

fn check_mux_accepts(muxer: &str, upstream: &str, codec: &str, ext: &str) -> Result<()> {
    let (Some(mux), Some(enc)) = (gst::ElementFactory::find(muxer), gst::ElementFactory::find(upstream)) else {
        return Err(Error::Value(format!("the {muxer} muxer for .{ext} files is not installed")));
    };
    let enc_caps: Vec<gst::Caps> = enc
        .static_pad_templates()
        .iter()
        .filter(|t| t.direction() == gst::PadDirection::Src)
        .map(|t| t.caps())
        .collect();
    let ok = mux
        .static_pad_templates()
        .iter()
        .filter(|t| t.direction() == gst::PadDirection::Sink)
        .any(|t| enc_caps.iter().any(|c| c.can_intersect(&t.caps())));
    if ok { Ok(()) } else { Err(Error::Value(format!("a .{ext} file cannot hold {codec} video"))) }
}

/// FFmpeg metadata keys that GStreamer names differently.
fn tag_name(key: &str) -> &str {
    match key {
        "author" => "artist",
        "language" => "language-code",
        "year" => "date-time",
        "rotate" => "image-orientation",
        other => other,
    }
}

fn tag_list(pairs: &[(String, String)], scope: gst::TagScope) -> Result<Option<gst::TagList>> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut list = gst::TagList::new();
    {
        let l = list.get_mut().ok_or_else(|| Error::Gst("new tag list is not writable".into()))?;
        l.set_scope(scope);
        for (key, value) in pairs {
            let name = tag_name(key);
            if !gst::tags::tag_exists(name) {
                return Err(Error::Value(format!(
                    "unknown metadata key {key:?}: use a GStreamer tag name such as title, comment, artist"
                )));
            }
            let ty = gst::tags::tag_get_type(name);
            let bad = || Error::Value(format!("metadata {key:?}: cannot use {value:?} as a {}", ty.name()));
            let v: gst::glib::SendValue = if ty == String::static_type() {
                let value = if name == "image-orientation" && value.parse::<u32>().is_ok() {
                    format!("rotate-{value}")
                } else {
                    value.clone()
                };
                value.to_send_value()
            } else if ty == u32::static_type() {
                value.parse::<u32>().map_err(|_| bad())?.to_send_value()
            } else if ty == f64::static_type() {
                value.parse::<f64>().map_err(|_| bad())?.to_send_value()
            } else if ty == gst::DateTime::static_type() {
                gst::DateTime::from_iso8601_string(value).map_err(|_| bad())?.to_send_value()
            } else {
                return Err(bad());
            };
            l.add_value(name, &v, gst::TagMergeMode::Append).map_err(|_| bad())?;
        }
    }
    Ok(Some(list))
}

/// Full-range gray (0-255) to the limited range videoconvert treats GRAY8 as.
fn compress_gray8(data: &mut [u8]) {
    for p in data {
        *p = ((*p as u32 * 219 + 127) / 255 + 16) as u8;
    }
}

fn compress_gray16(data: &mut [u8]) {
    for px in data.chunks_exact_mut(2) {
        let v = u16::from_le_bytes([px[0], px[1]]) as u64;
        let limited = (v * 219 * 257 + 32767) / 65535 + 16 * 257;
        px.copy_from_slice(&(limited as u16).to_le_bytes());
    }
}
