//! libavfilter, the one FFI module for it: an FFmpeg filter graph over raw video frames.
//!
//! [`AvGraph::new`] configures a graph description (`"scale=iw/2:-1,drawgrid=w=16"`, or a
//! graph with labels such as `"split[a][b];[b]scale=64:-1[c];[a][c]overlay"`) between a
//! buffer source set up from the input (size, pixel format, time base, frame rate, SAR) and
//! a buffer sink limited to the formats of [`super::pixfmt`]; the output size and format are
//! then known ([`AvGraph::output`]). [`AvGraph::push`] feeds one frame, [`AvGraph::pull`]
//! takes the zero or more frames ready, [`AvGraph::finish`] signals the end of the stream
//! so that filters holding frames (fps, tpad, reverse) release them.
//!
//! libavfilter reports what is wrong with a description only through its log; while a graph
//! is parsed and configured on a thread, that thread's log lines are captured (see
//! `capture_log`) so the error carries libavfilter's own message and names the filter.

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Once;

use ffmpeg_next::ffi;
use ffmpeg_next::filter;
use ffmpeg_next::format::Pixel;
use gst_video::VideoFormat;
use gst_video::prelude::*;

use super::pixfmt;
use crate::{Error, Result};

/// The time base frames enter with: GStreamer's nanoseconds, so no timestamp is rounded.
pub const NANOSECONDS: (i32, i32) = (1, 1_000_000_000);

/// What a graph is configured from: the frames that enter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoParams {
    pub width: u32,
    pub height: u32,
    pub format: VideoFormat,
    /// Time base of the timestamps, as (numerator, denominator).
    pub time_base: (i32, i32),
    /// Frames per second as a fraction; (0, 1) when unknown or variable.
    pub frame_rate: (i32, i32),
    /// Sample (pixel) aspect ratio; (1, 1) for square pixels.
    pub sar: (i32, i32),
}

impl VideoParams {
    /// Square-pixel frames of `width` x `height` in `format`, timestamps in nanoseconds.
    pub fn new(width: u32, height: u32, format: VideoFormat) -> VideoParams {
        VideoParams { width, height, format, time_base: NANOSECONDS, frame_rate: (0, 1), sar: (1, 1) }
    }
}

/// A frame that left the graph: its pixels copied into a tightly packed GStreamer buffer
/// (default strides of the output's `gst_video::VideoInfo`).
#[derive(Debug)]
pub struct FilteredFrame {
    pub buffer: gst::Buffer,
    pub width: u32,
    pub height: u32,
    pub format: VideoFormat,
    /// In the output time base ([`AvGraph::output`]).
    pub pts: Option<i64>,
}

/// A configured libavfilter graph with one video input and one video output.
pub struct AvGraph {
    graph: filter::Graph,
    input: VideoParams,
    output: VideoParams,
    description: String,
    finished: bool,
}

impl std::fmt::Debug for AvGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvGraph")
            .field("description", &self.description)
            .field("input", &self.input)
            .field("output", &self.output)
            .finish()
    }
}

/// Initialises FFmpeg's libraries (once per process).
fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = ffmpeg_next::init();
    });
}

/// Installs [`log_hook`] as FFmpeg's log callback. Done before every capture: gst-libav
/// installs its own callback when its plugin loads (there is no getter to chain to it).
fn install_log_hook() {
    // SAFETY: `log_hook` has the signature FFmpeg expects and is valid for the whole
    // process; installing a callback is a plain pointer store inside FFmpeg.
    unsafe { ffi::av_log_set_callback(Some(log_hook)) };
}

thread_local! {
    /// FFmpeg log text captured on this thread, while a capture is under way.
    static CAPTURED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// FFmpeg's log callback: lines logged on a thread that captures (see [`capture_log`]) are
/// kept for the error message; elsewhere only fatal lines reach FFmpeg's default handler
/// (stderr), as quiet as gst-libav's own callback keeps FFmpeg when GStreamer's debug log
/// is off.
unsafe extern "C" fn log_hook(avcl: *mut c_void, level: c_int, fmt: *const c_char, vl: *mut ffi::__va_list_tag) {
    let capturing = CAPTURED.with(|c| c.try_borrow().map(|c| c.is_some()).unwrap_or(false));
    if !capturing {
        if level <= ffi::AV_LOG_FATAL as c_int {
            // SAFETY: the arguments are exactly those FFmpeg passed to this callback.
            unsafe { ffi::av_log_default_callback(avcl, level, fmt, vl) };
        }
        return;
    }
    if level > ffi::AV_LOG_WARNING as c_int {
        return;
    }
    // A line may come in pieces: only a piece that starts a line gets the "[filter]" prefix.
    let mut prefix: c_int = CAPTURED.with(|c| {
        c.try_borrow().ok().and_then(|c| c.as_ref().map(|t| t.is_empty() || t.ends_with('\n'))).unwrap_or(true)
    }) as c_int;
    let mut line = [0 as c_char; 1024];
    // SAFETY: `line` is writable for its length, the format and arguments come from FFmpeg,
    // and the va_list is consumed once (it is not forwarded afterwards).
    unsafe { ffi::av_log_format_line2(avcl, level, fmt, vl, line.as_mut_ptr(), line.len() as c_int, &mut prefix) };
    // SAFETY: av_log_format_line2 always NUL-terminates within the buffer.
    let text = unsafe { CStr::from_ptr(line.as_ptr()) }.to_string_lossy().into_owned();
    CAPTURED.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut()
            && let Some(captured) = c.as_mut()
        {
            captured.push_str(&text);
        }
    });
}

/// "[Parsed_scale_0 @ 0x55d0c8a3c4c0] msg" -> "[Parsed_scale_0] msg": the address is noise.
fn strip_address(line: &str) -> String {
    match (line.find(" @ 0x"), line.find(']')) {
        (Some(at), Some(end)) if at < end => format!("{}{}", &line[..at], &line[end..]),
        _ => line.to_string(),
    }
}

/// Runs `f` with this thread's FFmpeg log lines captured; returns them with `f`'s result.
fn capture_log<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    init();
    install_log_hook();
    let previous = CAPTURED.with(|c| c.borrow_mut().replace(String::new()));
    let out = f();
    let text = CAPTURED.with(|c| std::mem::replace(&mut *c.borrow_mut(), previous)).unwrap_or_default();
    let lines = text.lines().map(|l| strip_address(l.trim())).filter(|l| !l.is_empty()).collect();
    (out, lines)
}

/// The filter a libavfilter message is about: "No such filter: 'x'", "... to filter 'x'",
/// or the instance prefix "[Parsed_x_0]".
fn offending_filter(lines: &[String]) -> Option<String> {
    let quoted = |s: &str, marker: &str| -> Option<String> {
        let rest = &s[s.find(marker)? + marker.len()..];
        let rest = rest.trim_start().strip_prefix('\'')?;
        Some(rest[..rest.find('\'')?].to_string())
    };
    for l in lines {
        if let Some(n) = quoted(l, "No such filter:").or_else(|| quoted(l, "to filter")) {
            return Some(n);
        }
    }
    for l in lines {
        if let Some(rest) = l.strip_prefix("[Parsed_") {
            let inst = &rest[..rest.find(']').unwrap_or(rest.len())];
            if let Some((name, _)) = inst.rsplit_once('_') {
                return Some(name.to_string());
            }
        }
    }
    None
}

fn describe(what: &str, description: &str, e: ffmpeg_next::Error, lines: &[String]) -> String {
    let detail = if lines.is_empty() { e.to_string() } else { lines.join("; ") };
    format!("libavfilter cannot {what} the filter graph {description:?}: {detail}")
}

fn rational(r: (i32, i32)) -> String {
    format!("{}/{}", r.0, r.1)
}

/// A graph between a buffer source ("in") and a buffer sink ("out") with `description`
/// parsed in between, not yet configured. Parse errors are [`Error::Parse`].
fn parse(description: &str, input: &VideoParams, outputs: &[VideoFormat]) -> Result<filter::Graph> {
    let pix = pixfmt::to_ffmpeg(input.format).ok_or_else(|| {
        Error::Value(format!("libavfilter has no pixel format for GStreamer's {}", input.format.to_str()))
    })?;
    if description.trim().is_empty() {
        return Err(Error::Value("empty FFmpeg filter graph".into()));
    }
    if description.contains('\0') {
        return Err(Error::Value(format!("filter graph {description:?} contains a NUL byte")));
    }
    let (graph, lines) = capture_log(|| -> std::result::Result<filter::Graph, ffmpeg_next::Error> {
        let mut graph = filter::Graph::new();
        let mut args = format!(
            "video_size={}x{}:pix_fmt={}:time_base={}:pixel_aspect={}",
            input.width,
            input.height,
            ffi::AVPixelFormat::from(pix) as c_int,
            rational(input.time_base),
            rational(if input.sar.0 > 0 && input.sar.1 > 0 { input.sar } else { (1, 1) }),
        );
        if input.frame_rate.0 > 0 && input.frame_rate.1 > 0 {
            args.push_str(&format!(":frame_rate={}", rational(input.frame_rate)));
        }
        let buffer = filter::find("buffer").ok_or(ffmpeg_next::Error::FilterNotFound)?;
        let sink = filter::find("buffersink").ok_or(ffmpeg_next::Error::FilterNotFound)?;
        graph.add(&buffer, "in", &args)?;
        let mut out = graph.add(&sink, "out", "")?;
        // libavfilter refuses a list that names a format twice (I420 and YV12 are both yuv420p).
        let mut formats: Vec<c_int> = Vec::new();
        for p in outputs.iter().filter_map(|f| pixfmt::to_ffmpeg(*f)) {
            let p = ffi::AVPixelFormat::from(p) as c_int;
            if !formats.contains(&p) {
                formats.push(p);
            }
        }
        if !formats.is_empty() {
            let name = c"pix_fmts";
            // SAFETY: `out` is a live buffersink context; "pix_fmts" is its binary option of
            // AVPixelFormat values, given here as a pointer and a byte length that match.
            let r = unsafe {
                ffi::av_opt_set_bin(
                    out.as_mut_ptr() as *mut c_void,
                    name.as_ptr(),
                    formats.as_ptr() as *const u8,
                    (formats.len() * std::mem::size_of::<c_int>()) as c_int,
                    ffi::AV_OPT_SEARCH_CHILDREN as c_int,
                )
            };
            if r < 0 {
                return Err(ffmpeg_next::Error::from(r));
            }
        }
        graph.output("in", 0)?.input("out", 0)?.parse(description)?;
        Ok(graph)
    });
    graph.map_err(|e| Error::Parse {
        message: describe("parse", description, e, &lines),
        token: offending_filter(&lines),
    })
}

/// Parses `description` to check it and list the filters it uses, by libavfilter name (the
/// buffer source and sink are left out). Errors: [`Error::Parse`] with libavfilter's message.
pub fn filter_names(description: &str) -> Result<Vec<String>> {
    let mut graph = parse(description, &VideoParams::new(64, 64, VideoFormat::I420), &[])?;
    // SAFETY: the graph is alive; its filter array holds `nb_filters` valid contexts, each
    // with a registered filter whose name is a static C string.
    let names = unsafe {
        let g = graph.as_mut_ptr();
        (0..(*g).nb_filters as usize)
            .map(|i| *(*g).filters.add(i))
            .filter(|ctx| !ctx.is_null() && !(**ctx).filter.is_null())
            .map(|ctx| CStr::from_ptr((*(*ctx).filter).name).to_string_lossy().into_owned())
            .filter(|n| n != "buffer" && n != "buffersink")
            .collect()
    };
    Ok(names)
}

/// Whether libavfilter has a filter of this name (never one with a NUL byte, which
/// ffmpeg-next's `filter::find` would panic on: found by the `filter_string` fuzz target).
pub fn has_filter(name: &str) -> bool {
    if name.contains('\0') {
        return false;
    }
    init();
    filter::find(name).is_some()
}

impl AvGraph {
    /// Parses and configures `description` for frames described by `input`. `outputs`
    /// limits the formats the graph may produce (libavfilter converts to the first one it
    /// can); empty means any format of [`super::pixfmt`].
    ///
    /// Errors: [`Error::Parse`] for a description libavfilter cannot parse (libavfilter's
    /// message, `token` naming the filter), [`Error::Value`] for one it cannot configure
    /// for this input (e.g. a crop larger than the frame).
    pub fn new(description: &str, input: VideoParams, outputs: &[VideoFormat]) -> Result<AvGraph> {
        let all = pixfmt::gstreamer_formats();
        let outputs = if outputs.is_empty() { all.as_slice() } else { outputs };
        let mut graph = parse(description, &input, outputs)?;
        let (configured, lines) = capture_log(|| graph.validate());
        configured.map_err(|e| Error::Value(describe("configure", description, e, &lines)))?;
        let mut sink = graph.get("out").ok_or_else(|| Error::Gst("the buffer sink vanished".into()))?;
        // SAFETY: `sink` is the configured buffersink context of this graph; these getters
        // only read its input link's properties.
        let (w, h, fmt, tb, fr, sar) = unsafe {
            let ctx = sink.as_mut_ptr();
            (
                ffi::av_buffersink_get_w(ctx),
                ffi::av_buffersink_get_h(ctx),
                ffi::av_buffersink_get_format(ctx),
                ffi::av_buffersink_get_time_base(ctx),
                ffi::av_buffersink_get_frame_rate(ctx),
                ffi::av_buffersink_get_sample_aspect_ratio(ctx),
            )
        };
        // SAFETY: buffersink reports one of the AVPixelFormat values it was limited to.
        let pixel = Pixel::from(unsafe { std::mem::transmute::<c_int, ffi::AVPixelFormat>(fmt) });
        let format = pixfmt::to_gstreamer(pixel)
            .ok_or_else(|| Error::Value(format!("the filter graph {description:?} produces an unsupported format")))?;
        let output = VideoParams {
            width: w.max(0) as u32,
            height: h.max(0) as u32,
            format,
            time_base: (tb.num, tb.den),
            frame_rate: if fr.num > 0 && fr.den > 0 { (fr.num, fr.den) } else { (0, 1) },
            sar: if sar.num > 0 && sar.den > 0 { (sar.num, sar.den) } else { (1, 1) },
        };
        Ok(AvGraph { graph, input, output, description: description.to_string(), finished: false })
    }

    pub fn input(&self) -> &VideoParams {
        &self.input
    }

    /// The frames the graph produces (size, format, time base, frame rate, SAR).
    pub fn output(&self) -> &VideoParams {
        &self.output
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Feeds one frame: `frame` must be mapped with the input's format and size; `pts` is in
    /// the input's time base.
    pub fn push(&mut self, frame: &gst_video::VideoFrameRef<&gst::BufferRef>, pts: Option<i64>) -> Result<()> {
        if self.finished {
            return Err(Error::Value("the filter graph was already finished".into()));
        }
        let pix = pixfmt::to_ffmpeg(frame.format())
            .ok_or_else(|| Error::Value(format!("unsupported input format {}", frame.format().to_str())))?;
        if frame.format() != self.input.format
            || frame.width() != self.input.width
            || frame.height() != self.input.height
        {
            return Err(Error::Value(format!(
                "frame of {}x{} {} does not match the graph's input {}x{} {}",
                frame.width(),
                frame.height(),
                frame.format().to_str(),
                self.input.width,
                self.input.height,
                self.input.format.to_str()
            )));
        }
        let mut av = ffmpeg_next::frame::Video::new(pix, frame.width(), frame.height());
        let lines = line_sizes(pix, frame.width())?;
        // SAFETY: `av` was just allocated for this format and size (av_frame_get_buffer), so
        // each plane holds `plane_height` rows of `linesize` bytes (>= lines[i]); the source
        // plane has the same rows at its own stride, each at least lines[i] bytes long, as
        // the mapped frame's info says.
        unsafe {
            let dst = av.as_mut_ptr();
            for (i, &bytes) in lines.iter().enumerate() {
                let rows = plane_height(pix, frame.height(), i);
                let src = frame.plane_data(i as u32).map_err(|e| Error::Buffer(e.to_string()))?;
                let src_stride = frame.plane_stride()[i] as usize;
                if src.len() < src_stride * (rows.max(1) - 1) + bytes {
                    return Err(Error::Buffer(format!("plane {i} of the frame is too small")));
                }
                let dst_stride = (*dst).linesize[i] as isize;
                for r in 0..rows {
                    std::ptr::copy_nonoverlapping(
                        src.as_ptr().add(r * src_stride),
                        (*dst).data[i].offset(r as isize * dst_stride),
                        bytes,
                    );
                }
            }
            (*dst).pts = pts.unwrap_or(ffi::AV_NOPTS_VALUE);
            (*dst).sample_aspect_ratio = ffi::AVRational { num: self.input.sar.0, den: self.input.sar.1 };
        }
        set_colour(&mut av, frame.info().colorimetry());
        let mut src = self.graph.get("in").ok_or_else(|| Error::Gst("the buffer source vanished".into()))?;
        src.source().add(&av).map_err(|e| Error::Media(format!("libavfilter refused a frame: {e}")))
    }

    /// Signals the end of the stream: filters that hold frames release them to [`Self::pull`].
    /// `end` is when the stream ends, in the input time base (the last frame's pts plus its
    /// duration, as the ffmpeg CLI passes it): filters that add frames at the end (tpad)
    /// time them from there. `None` ends at the last frame's pts.
    pub fn finish(&mut self, end: Option<i64>) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let mut src = self.graph.get("in").ok_or_else(|| Error::Gst("the buffer source vanished".into()))?;
        let r = match end {
            Some(pts) => src.source().close(pts),
            None => src.source().flush(),
        };
        r.map_err(|e| Error::Media(format!("libavfilter could not finish the stream: {e}")))
    }

    /// The next frame ready at the output, or `None` when the graph needs more input (or,
    /// after [`Self::finish`], has given everything).
    pub fn pull(&mut self) -> Result<Option<FilteredFrame>> {
        let mut sink = self.graph.get("out").ok_or_else(|| Error::Gst("the buffer sink vanished".into()))?;
        let mut av = ffmpeg_next::frame::Video::empty();
        match sink.sink().frame(&mut av) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => return Ok(None),
            Err(ffmpeg_next::Error::Other { errno }) if errno == ffi::EAGAIN => return Ok(None),
            Err(e) => return Err(Error::Media(format!("libavfilter failed: {e}"))),
        }
        let pixel = av.format();
        let format = pixfmt::to_gstreamer(pixel)
            .ok_or_else(|| Error::Media(format!("libavfilter produced the unsupported format {pixel:?}")))?;
        let (width, height) = (av.width(), av.height());
        let info = gst_video::VideoInfo::builder(format, width, height)
            .build()
            .map_err(|e| Error::Gst(format!("no video info for the filtered frame: {e}")))?;
        let buffer = gst::Buffer::with_size(info.size()).map_err(|e| Error::Gst(e.to_string()))?;
        let mut vframe = gst_video::VideoFrame::from_buffer_writable(buffer, &info)
            .map_err(|_| Error::Gst("cannot map the output buffer".into()))?;
        let lines = line_sizes(pixel, width)?;
        for (i, &bytes) in lines.iter().enumerate() {
            let rows = plane_height(pixel, height, i);
            let dst_stride = vframe.plane_stride()[i] as usize;
            let dst = vframe.plane_data_mut(i as u32).map_err(|e| Error::Buffer(e.to_string()))?;
            if dst.len() < dst_stride * (rows.max(1) - 1) + bytes {
                return Err(Error::Buffer(format!("plane {i} of the output buffer is too small")));
            }
            // SAFETY: libavfilter handed out this frame with `rows` rows in plane i, each of
            // at least `bytes` bytes at data[i] + r * linesize[i] (linesize may be negative,
            // as vflip makes it); the destination was checked to hold them.
            unsafe {
                let src = av.as_ptr();
                let src_stride = (*src).linesize[i] as isize;
                for r in 0..rows {
                    std::ptr::copy_nonoverlapping(
                        (*src).data[i].offset(r as isize * src_stride),
                        dst.as_mut_ptr().add(r * dst_stride),
                        bytes,
                    );
                }
            }
        }
        let buffer = vframe.into_buffer();
        let pts = av.pts();
        Ok(Some(FilteredFrame { buffer, width, height, format, pts }))
    }
}

/// Bytes of pixels in one row of each plane (no padding), as FFmpeg computes them.
fn line_sizes(pix: Pixel, width: u32) -> Result<Vec<usize>> {
    let mut sizes = [0 as c_int; 4];
    // SAFETY: `sizes` has the 4 entries av_image_fill_linesizes writes.
    let r = unsafe { ffi::av_image_fill_linesizes(sizes.as_mut_ptr(), ffi::AVPixelFormat::from(pix), width as c_int) };
    if r < 0 {
        return Err(Error::Value(format!("no line sizes for {pix:?} at width {width}")));
    }
    Ok(sizes.iter().take_while(|&&s| s > 0).map(|&s| s as usize).collect())
}

/// Rows of plane `i` (chroma planes of subsampled formats are shorter).
fn plane_height(pix: Pixel, height: u32, i: usize) -> usize {
    let shift = match (i, pix.descriptor()) {
        (1 | 2, Some(d)) => d.log2_chroma_h(),
        _ => 0,
    };
    (height as usize + (1 << shift) - 1) >> shift
}

/// Tells libavfilter the frame's matrix and range, so conversions inside the graph (scale,
/// format) use the ones GStreamer signalled.
fn set_colour(av: &mut ffmpeg_next::frame::Video, colorimetry: gst_video::VideoColorimetry) {
    use ffmpeg_next::util::color::{Range, Space};
    use gst_video::{VideoColorMatrix, VideoColorRange};
    av.set_color_range(match colorimetry.range() {
        VideoColorRange::Range0_255 => Range::JPEG,
        VideoColorRange::Range16_235 => Range::MPEG,
        _ => Range::Unspecified,
    });
    av.set_color_space(match colorimetry.matrix() {
        VideoColorMatrix::Bt601 => Space::BT470BG,
        VideoColorMatrix::Bt709 => Space::BT709,
        VideoColorMatrix::Bt2020 => Space::BT2020NCL,
        VideoColorMatrix::Smpte240m => Space::SMPTE240M,
        VideoColorMatrix::Fcc => Space::FCC,
        VideoColorMatrix::Rgb => Space::RGB,
        _ => Space::Unspecified,
    });
}

/// Escapes `text` so that FFmpeg's graph parser hands it to a filter unchanged: the
/// parser's own quoting and separators (`\ ' [ ] , ;`) get a backslash.
pub fn escape_graph(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '\'' | '[' | ']' | ',' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes an option value for a filter's `key=value:key=value` arguments (`\ ' : =`).
pub fn escape_option(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '\'' | ':' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Initialises FFmpeg's libraries (once per process), for the other libav modules.
pub(crate) fn ensure_init() {
    init();
}

/// A configured graph for the libav writer: a buffer source of `input` frames (`width` x
/// `height`, timestamps in `time_base`), `description` in between, and a buffer sink that
/// gives `output` frames only (libavfilter converts; `output` may be any FFmpeg format,
/// pal8 included, unlike [`AvGraph`] whose frames go back into GStreamer buffers).
///
/// Errors: [`Error::Parse`] with libavfilter's message for a description it cannot parse,
/// [`Error::Value`] for one it cannot configure.
pub(crate) fn build_graph(
    description: &str,
    input: Pixel,
    width: u32,
    height: u32,
    time_base: ffmpeg_next::Rational,
    frame_rate: ffmpeg_next::Rational,
    output: Pixel,
) -> Result<filter::Graph> {
    if description.contains('\0') {
        return Err(Error::Value(format!("filter graph {description:?} contains a NUL byte")));
    }
    let (graph, lines) = capture_log(|| -> std::result::Result<filter::Graph, ffmpeg_next::Error> {
        let mut graph = filter::Graph::new();
        let args = format!(
            "video_size={width}x{height}:pix_fmt={}:time_base={}/{}:pixel_aspect=1/1:frame_rate={}/{}",
            ffi::AVPixelFormat::from(input) as c_int,
            time_base.numerator(),
            time_base.denominator(),
            frame_rate.numerator(),
            frame_rate.denominator(),
        );
        let buffer = filter::find("buffer").ok_or(ffmpeg_next::Error::FilterNotFound)?;
        let sink = filter::find("buffersink").ok_or(ffmpeg_next::Error::FilterNotFound)?;
        graph.add(&buffer, "in", &args)?;
        let mut out = graph.add(&sink, "out", "")?;
        let formats = [ffi::AVPixelFormat::from(output) as c_int];
        // SAFETY: `out` is a live buffersink context; "pix_fmts" is its binary option of
        // AVPixelFormat values, given as a pointer and a byte length that match.
        let r = unsafe {
            ffi::av_opt_set_bin(
                out.as_mut_ptr() as *mut c_void,
                c"pix_fmts".as_ptr(),
                formats.as_ptr() as *const u8,
                std::mem::size_of_val(&formats) as c_int,
                ffi::AV_OPT_SEARCH_CHILDREN as c_int,
            )
        };
        if r < 0 {
            return Err(ffmpeg_next::Error::from(r));
        }
        graph.output("in", 0)?.input("out", 0)?.parse(description)?;
        Ok(graph)
    });
    let mut graph = graph.map_err(|e| Error::Parse {
        message: describe("parse", description, e, &lines),
        token: offending_filter(&lines),
    })?;
    let (configured, lines) = capture_log(|| graph.validate());
    configured.map_err(|e| Error::Value(describe("configure", description, e, &lines)))?;
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray_frame(w: u32, h: u32, value: u8) -> gst::Buffer {
        let info = gst_video::VideoInfo::builder(VideoFormat::Gray8, w, h).build().unwrap();
        let mut b = gst::Buffer::with_size(info.size()).unwrap();
        b.get_mut().unwrap().map_writable().unwrap().as_mut_slice().fill(value);
        b
    }

    fn push_gray(g: &mut AvGraph, w: u32, h: u32, value: u8, pts: i64) {
        let info = gst_video::VideoInfo::builder(VideoFormat::Gray8, w, h).build().unwrap();
        let b = gray_frame(w, h, value);
        let f = gst_video::VideoFrameRef::from_buffer_ref_readable(b.as_ref(), &info).unwrap();
        g.push(&f, Some(pts)).unwrap();
    }

    #[test]
    fn scale_expression_sets_output_size() {
        gst::init().unwrap();
        let mut g = AvGraph::new("scale=iw/2:-2", VideoParams::new(64, 48, VideoFormat::Gray8), &[]).unwrap();
        assert_eq!((g.output().width, g.output().height, g.output().format), (32, 24, VideoFormat::Gray8));
        push_gray(&mut g, 64, 48, 100, 0);
        let f = g.pull().unwrap().unwrap();
        assert_eq!((f.width, f.height), (32, 24));
        let map = f.buffer.map_readable().unwrap();
        assert!(map.iter().all(|&v| v == 100));
    }

    #[test]
    fn framestep_drops_and_finish_drains() {
        gst::init().unwrap();
        let mut g = AvGraph::new("framestep=3", VideoParams::new(16, 16, VideoFormat::Gray8), &[]).unwrap();
        let mut out = 0;
        for i in 0..10 {
            push_gray(&mut g, 16, 16, i as u8, i * 40_000_000);
            while g.pull().unwrap().is_some() {
                out += 1;
            }
        }
        g.finish(Some(10 * 40_000_000)).unwrap();
        while g.pull().unwrap().is_some() {
            out += 1;
        }
        assert_eq!(out, 4);
    }

    #[test]
    fn vflip_negative_strides_are_copied() {
        gst::init().unwrap();
        let info = gst_video::VideoInfo::builder(VideoFormat::Gray8, 4, 2).build().unwrap();
        let mut b = gray_frame(4, 2, 0);
        {
            let stride = info.stride()[0] as usize;
            let mut m = b.get_mut().unwrap().map_writable().unwrap();
            m[stride..stride + 4].fill(200);
        }
        let mut g = AvGraph::new("vflip", VideoParams::new(4, 2, VideoFormat::Gray8), &[]).unwrap();
        let f = gst_video::VideoFrameRef::from_buffer_ref_readable(b.as_ref(), &info).unwrap();
        g.push(&f, Some(0)).unwrap();
        let out = g.pull().unwrap().unwrap();
        let m = out.buffer.map_readable().unwrap();
        assert_eq!(&m[..4], &[200; 4]);
    }

    #[test]
    fn bad_filter_names_the_filter() {
        gst::init().unwrap();
        let e =
            AvGraph::new("scale=32:32,nosuchfilter=3", VideoParams::new(64, 48, VideoFormat::I420), &[]).unwrap_err();
        match e {
            Error::Parse { message, token } => {
                assert!(message.contains("nosuchfilter"), "{message}");
                assert_eq!(token.as_deref(), Some("nosuchfilter"));
            }
            other => panic!("{other:?}"),
        }
        let e = filter_names("scale=nosuchoption=1").unwrap_err();
        match e {
            Error::Parse { message, token } => {
                assert!(message.contains("nosuchoption"), "{message}");
                assert_eq!(token.as_deref(), Some("scale"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_are_listed() {
        gst::init().unwrap();
        let names = filter_names("split[a][b];[b]scale=32:-1[c];[a][c]overlay=4:4").unwrap();
        assert_eq!(names, ["split", "scale", "overlay"]);
    }

    #[test]
    fn escaping_survives_the_parser() {
        gst::init().unwrap();
        let arg = format!("x=0:y=0:enable={}", escape_option("between(t,1,8)"));
        let desc = format!("null,drawbox={}", escape_graph(&arg));
        filter_names(&desc).unwrap();
    }
}
