//! The libav writer: frames encoded by libavcodec and muxed by libavformat, to a path or to
//! any `Write + Seek` sink (bytes in memory, a Python file object) through a custom
//! AVIOContext, so nothing goes through a temporary file.
//!
//! It writes what GStreamer cannot (Debian's GStreamer has no GIF encoder): animated GIF
//! (a palette per video through libavfilter's `palettegen`/`paletteuse`, or gray/rgb8
//! directly), PNG (one image, an `%d` image sequence, or APNG), and any other FFmpeg
//! encoder/muxer pair (H.264 in MP4, MJPEG in AVI, ...), which is how bytes and file
//! objects are written.
//!
//! Frames go `array -> AVFrame (input format) -> libavfilter graph (the caller's FFmpeg
//! filter, the palette, the conversion to the encoder's pixel format) -> encoder -> muxer`.
//! The graph is built when the first frame fixes the size. MP4/MOV to a sink that cannot
//! seek is written fragmented (`frag_keyframe+empty_moov`); to a seekable sink (bytes, a
//! seekable file object) it is a plain MP4 whose index the muxer patches at the end.

use std::ffi::CString;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use ffmpeg_next::codec::{self, Context as CodecContext};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::format::context::{Output, StreamIo};
use ffmpeg_next::util::frame::Video as AvFrame;
use ffmpeg_next::{Dictionary, Packet, Rational, encoder, ffi, filter};

use super::OutputFormat;
use crate::layout::Dtype;
use crate::pack::ArrayRef;
use crate::pipeline::Interrupt;
use crate::{Error, Result};

/// A sink the muxer writes into: bytes in memory, a file object, ...
pub trait WriteSeek: Write + Seek + Send {}
impl<T: Write + Seek + Send> WriteSeek for T {}

/// Where the encoded file goes.
pub enum Target {
    /// A file (or an image sequence pattern such as `frame_%03d.png`).
    Path(PathBuf),
    /// A sink; `seekable` says whether the muxer may seek back in it (MP4 patches its
    /// header at the end when it can, and is written fragmented when it cannot).
    Sink { sink: Box<dyn WriteSeek>, seekable: bool },
}

/// How an [`AvWriter`] encodes.
#[derive(Debug, Clone)]
pub struct AvWriterOptions {
    /// The container by extension ("gif", "png", "apng", "mp4", "mkv", ...); for a path,
    /// `None` takes the path's extension.
    pub container: Option<String>,
    /// FFmpeg codec or encoder name ("gif", "png", "h264", "libx264", "mjpeg", ...); `None`
    /// takes the container's default (gif for .gif, png for .png, h264 for .mp4, ...).
    pub codec: Option<String>,
    pub fps: f64,
    /// Layout of the arrays written. With rgb24 (the default), a 2-D uint8 frame is gray.
    pub input_format: OutputFormat,
    /// A Bayer mosaic layout of the arrays by FFmpeg name ("bayer_rggb8", "bayer_gbrg16le",
    /// ...), overriding `input_format`: (H, W) uint8 (uint16 for the 16-bit ones) arrays
    /// that swscale demosaics.
    pub input_bayer: Option<String>,
    /// Encoded pixel format by FFmpeg name ("pal8", "gray", "rgb24", "yuv420p", ...);
    /// `None` picks one the encoder takes that suits the input (pal8 with a palette for GIF
    /// from colour frames, gray for GIF from gray frames, yuv420p for H.264, ...).
    pub pixel_format: Option<String>,
    /// 0 (worst) to 10 (best).
    pub quality: Option<f64>,
    /// Bits per second.
    pub bitrate: Option<u64>,
    pub max_keyframe_interval: Option<u32>,
    pub force_keyframes: bool,
    /// An FFmpeg filter graph description applied before encoding.
    pub filter: Option<String>,
    /// GIF/APNG: times the animation plays again after the first (0 = forever, the
    /// default; -1 = play once).
    pub loop_count: Option<i32>,
    /// Container tags ("title", "comment", ...).
    pub container_tags: Vec<(String, String)>,
}

impl Default for AvWriterOptions {
    fn default() -> Self {
        AvWriterOptions {
            container: None,
            codec: None,
            fps: 24.0,
            input_format: OutputFormat::Rgb24,
            input_bayer: None,
            pixel_format: None,
            quality: None,
            bitrate: None,
            max_keyframe_interval: None,
            force_keyframes: false,
            filter: None,
            loop_count: None,
            container_tags: Vec::new(),
        }
    }
}

/// The palette graph appended for pal8 output when the caller's filter makes none: one
/// palette for the whole video, from every frame (palettegen holds the frames until the end).
const PALETTE: &str = "split[fp_a][fp_b];[fp_a]palettegen[fp_p];[fp_b][fp_p]paletteuse";

/// FFmpeg encoder names for the codec names framepipe uses elsewhere.
fn encoder_for(name: &str) -> Option<ffmpeg_next::Codec> {
    let lower = name.to_ascii_lowercase();
    let preferred: &[&str] = match lower.as_str() {
        "h264" | "avc" | "x264" => &["libx264", "h264"],
        "hevc" | "h265" | "x265" => &["libx265", "hevc"],
        "vp8" => &["libvpx", "vp8"],
        "vp9" => &["libvpx-vp9", "vp9"],
        "av1" => &["libsvtav1", "libaom-av1", "av1"],
        "jpeg" | "motion-jpeg" => &["mjpeg"],
        _ => &[],
    };
    for n in preferred.iter().copied().chain(std::iter::once(lower.as_str())) {
        if let Some(c) =
            encoder::find_by_name(n).filter(|c| c.is_encoder() && c.medium() == ffmpeg_next::media::Type::Video)
        {
            return Some(c);
        }
    }
    // A codec name without an encoder of the same name ("mpeg4" has one, "h264" may not).
    let c_name = CString::new(lower).ok()?;
    // SAFETY: a NUL-terminated name; the descriptor table is static.
    let desc = unsafe { ffi::avcodec_descriptor_get_by_name(c_name.as_ptr()) };
    if desc.is_null() {
        return None;
    }
    // SAFETY: a non-null descriptor from FFmpeg's static table.
    let id = unsafe { (*desc).id };
    encoder::find(id.into()).filter(|c| c.medium() == ffmpeg_next::media::Type::Video)
}

/// The muxer for a container extension (and whether it is image2's one-file-per-frame).
fn muxer_name(ext: &str, to_sink: bool) -> Result<&'static str> {
    Ok(match ext {
        "gif" => "gif",
        "png" => {
            if to_sink {
                "image2pipe"
            } else {
                "image2"
            }
        }
        "apng" => "apng",
        "mp4" | "m4v" => "mp4",
        "mov" => "mov",
        "mkv" => "matroska",
        "webm" => "webm",
        "avi" => "avi",
        "ts" | "m2ts" => "mpegts",
        "mjpeg" | "mjpg" => "mjpeg",
        other => {
            return Err(Error::Value(format!(
                "cannot write the container {other:?}: use .gif, .png, .apng, .mp4, .mov, .mkv, .webm, .avi or .ts"
            )));
        }
    })
}

/// The codec a container gets when none is asked for.
fn default_codec(ext: &str) -> &'static str {
    match ext {
        "gif" => "gif",
        "png" => "png",
        "apng" => "apng",
        "webm" => "vp9",
        "mjpeg" | "mjpg" => "mjpeg",
        _ => "h264",
    }
}

fn pixel_from_name(name: &str) -> Option<Pixel> {
    name.parse::<Pixel>().ok()
}

fn pixel_name(p: Pixel) -> String {
    p.descriptor().map(|d| d.name().to_string()).unwrap_or_else(|| format!("{p:?}"))
}

fn input_pixel(format: OutputFormat) -> Result<Pixel> {
    Ok(match format {
        OutputFormat::Rgb24 => Pixel::RGB24,
        OutputFormat::Bgr24 => Pixel::BGR24,
        OutputFormat::Rgba => Pixel::RGBA,
        OutputFormat::Bgra => Pixel::BGRA,
        OutputFormat::Gray => Pixel::GRAY8,
        OutputFormat::Gray16le => Pixel::GRAY16LE,
        OutputFormat::Yuv444p => Pixel::YUV444P,
        other => {
            return Err(Error::Value(format!(
                "in_pixel_format {:?} cannot be written here: use rgb24, bgr24, rgba, bgra, gray, gray16le or yuv444p",
                other.name()
            )));
        }
    })
}

/// A Bayer pixel format by FFmpeg name; [`Error::Value`] for anything else.
pub fn bayer_pixel(name: &str) -> Result<Pixel> {
    match pixel_from_name(name) {
        Some(p) if name.starts_with("bayer_") && !name.ends_with("16be") => Ok(p),
        _ => Err(Error::Value(format!(
            "unknown Bayer in_pixel_format {name:?}: expected bayer_bggr8, bayer_rggb8, bayer_gbrg8, bayer_grbg8 \
             or their 16le forms"
        ))),
    }
}

/// fps as a rational FFmpeg keeps exact for the usual rates (24000/1001, 12.5, 50, ...).
fn fps_rational(fps: f64) -> Rational {
    // SAFETY: a pure function of its arguments.
    let q = unsafe { ffi::av_d2q(fps, 1 << 20) };
    Rational::new(q.num, q.den)
}

fn av_error(e: ffmpeg_next::Error) -> String {
    e.to_string()
}

struct Running {
    graph: filter::Graph,
    encoder: encoder::Video,
    /// Encoder (and graph output) time base.
    time_base: Rational,
    width: u32,
    height: u32,
    input: Pixel,
    shape: Vec<usize>,
    dtype: Dtype,
}

/// Writes arrays as the frames of a file or a sink through libavcodec and libavformat.
pub struct AvWriter {
    options: AvWriterOptions,
    ext: String,
    muxer: &'static str,
    codec: ffmpeg_next::Codec,
    /// The encoded pixel format, when known before the first frame.
    pixel_format: Option<Pixel>,
    /// `None` once the trailer is written (or after a failure).
    output: Option<Output>,
    header_options: Dictionary<'static>,
    running: Option<Running>,
    /// One image only: a single .png file.
    single_image: bool,
    frames_in: u64,
    frames_out: u64,
    closed: bool,
    describe: String,
}

// SAFETY: the FFmpeg contexts are used by one thread at a time (`&mut self`); none of them
// is tied to the thread that made it.
unsafe impl Send for AvWriter {}

impl AvWriter {
    /// Checks the options (container, codec, pixel format, loop, fps) and opens the target.
    ///
    /// Errors: [`Error::Value`] naming the option that cannot be honoured (a codec the
    /// container cannot hold, a pixel format the encoder does not take, `loop` outside
    /// -1..=65535 or on a container that does not loop, fps that GIF's 1/100 s delays
    /// cannot express); [`Error::NotFound`] for a folder that does not exist.
    pub fn create(target: Target, options: AvWriterOptions) -> Result<AvWriter> {
        crate::video::avfilter::ensure_init();
        crate::video::check_encoding(options.fps, options.quality)?;
        let (ext, describe) = match &target {
            Target::Path(p) => {
                if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty())
                    && !parent.is_dir()
                {
                    return Err(Error::NotFound(format!(
                        "{}: the folder {} does not exist",
                        p.display(),
                        parent.display()
                    )));
                }
                let ext = options
                    .container
                    .clone()
                    .unwrap_or_else(|| p.extension().and_then(|e| e.to_str()).unwrap_or("").to_string());
                (ext, p.display().to_string())
            }
            Target::Sink { .. } => {
                let ext = options.container.clone().ok_or_else(|| {
                    Error::Value("writing to bytes or a file object needs the container: give extension=\".mp4\" (or .gif, .png, ...)".into())
                })?;
                (ext, "<bytes>".to_string())
            }
        };
        let ext = ext.trim_start_matches('.').to_ascii_lowercase();
        let to_sink = matches!(target, Target::Sink { .. });
        let muxer = muxer_name(&ext, to_sink)?;
        let codec_name = options.codec.clone().unwrap_or_else(|| default_codec(&ext).to_string());
        let codec = encoder_for(&codec_name).ok_or_else(|| {
            Error::Value(format!("unknown codec {codec_name:?}: FFmpeg has no video encoder of that name"))
        })?;
        let c_muxer = CString::new(muxer).map_err(|_| Error::Value("bad muxer name".into()))?;
        // SAFETY: a NUL-terminated short name; the returned muxer is static (or null).
        let oformat = unsafe { ffi::av_guess_format(c_muxer.as_ptr(), std::ptr::null(), std::ptr::null()) };
        if oformat.is_null() {
            return Err(Error::Value(format!("FFmpeg has no {muxer} muxer")));
        }
        // SAFETY: `oformat` is a static muxer description.
        let fits = unsafe { ffi::avformat_query_codec(oformat, codec.id().into(), ffi::FF_COMPLIANCE_NORMAL) };
        let required = match muxer {
            "gif" => Some(codec::Id::GIF),
            "image2" | "image2pipe" => Some(codec::Id::PNG),
            "apng" => Some(codec::Id::APNG),
            _ => None,
        };
        // Matroska, AVI and MPEG-TS answer 0 for codecs they hold fine through generic tags
        // (PNG in MKV): only the strict muxers' answer is taken; the others fail at the header.
        let strict = matches!(muxer, "mp4" | "mov" | "webm");
        if (strict && fits == 0) || required.is_some_and(|id| id != codec.id()) {
            return Err(Error::Value(format!(
                "codec {codec_name:?} cannot be written into a .{ext} file (the {muxer} muxer does not take it)"
            )));
        }
        let supported: Vec<Pixel> =
            codec.video().ok().and_then(|v| v.formats()).map(|f| f.collect()).unwrap_or_default();
        let pixel_format = match &options.pixel_format {
            None => None,
            Some(name) => {
                let p = pixel_from_name(name)
                    .ok_or_else(|| Error::Value(format!("unknown pixel_format {name:?} (out_pixel_format)")))?;
                if !supported.is_empty() && !supported.contains(&p) {
                    let names: Vec<String> = supported.iter().map(|p| pixel_name(*p)).collect();
                    return Err(Error::Value(format!(
                        "pixel_format {name:?} (out_pixel_format) is not one the {} encoder takes: {}",
                        codec.name(),
                        names.join(", ")
                    )));
                }
                Some(p)
            }
        };
        let mut header_options = Dictionary::new();
        if let Some(n) = options.loop_count {
            if !matches!(muxer, "gif" | "apng") {
                return Err(Error::Value(format!("loop is for .gif and .apng files, not .{ext}")));
            }
            if !(-1..=65535).contains(&n) {
                return Err(Error::Value(format!("loop must be -1 (play once), 0 (forever) or 1..65535, not {n}")));
            }
            // apng's "plays" counts every play (0 forever); gif's "loop" the repeats (-1 none).
            if muxer == "gif" {
                header_options.set("loop", &n.to_string());
            } else {
                header_options.set(
                    "plays",
                    &(if n < 0 {
                        1
                    } else if n == 0 {
                        0
                    } else {
                        n + 1
                    })
                    .to_string(),
                );
            }
        }
        if muxer == "gif" && options.fps > 100.0 {
            return Err(Error::Value(format!(
                "fps {} is too high for GIF: its frame delays are in 1/100 s, so fps must be at most 100",
                options.fps
            )));
        }
        let mut single_image = false;
        if muxer == "image2" {
            let pattern = matches!(&target, Target::Path(p) if p.to_string_lossy().contains('%'));
            if !pattern {
                header_options.set("update", "1");
                single_image = true;
            }
        }
        if muxer == "image2pipe" {
            single_image = true;
        }
        let output = match target {
            // SAFETY: reading the flags of a static muxer description.
            Target::Path(p) if unsafe { (*oformat).flags } & ffi::AVFMT_NOFILE != 0 => {
                // image2 opens one file per frame itself: no AVIO context on the pattern.
                let c_path = CString::new(p.to_string_lossy().as_bytes())
                    .map_err(|_| Error::Value(format!("path {} contains a NUL byte", p.display())))?;
                let mut ctx = std::ptr::null_mut();
                // SAFETY: `ctx` receives a new context (or stays null on failure); the names
                // are NUL-terminated and outlive the call.
                let r = unsafe {
                    ffi::avformat_alloc_output_context2(&mut ctx, std::ptr::null(), c_muxer.as_ptr(), c_path.as_ptr())
                };
                if r < 0 || ctx.is_null() {
                    return Err(Error::Value(format!("{}: {}", p.display(), av_error(ffmpeg_next::Error::from(r)))));
                }
                // SAFETY: a fresh output context, owned from here on by the wrapper.
                unsafe { Output::wrap(ctx) }
            }
            Target::Path(p) => ffmpeg_next::format::output_as(&p, muxer)
                .map_err(|e| Error::Value(format!("{}: {}", p.display(), av_error(e))))?,
            Target::Sink { sink, seekable } => {
                if matches!(muxer, "mp4" | "mov") && !seekable {
                    header_options.set("movflags", "frag_keyframe+empty_moov+default_base_moof");
                }
                let io = if seekable { StreamIo::from_write_seek(sink) } else { StreamIo::from_write(sink) }
                    .map_err(|e| Error::Value(format!("cannot make an AVIO context: {}", av_error(e))))?;
                let name = format!("out.{ext}");
                ffmpeg_next::format::output_to_stream(io, Some(&name), Some(muxer))
                    .map_err(|e| Error::Value(format!("cannot write .{ext} to a stream: {}", av_error(e))))?
            }
        };
        Ok(AvWriter {
            options,
            ext,
            muxer,
            codec,
            pixel_format,
            output: Some(output),
            header_options,
            running: None,
            single_image,
            frames_in: 0,
            frames_out: 0,
            closed: false,
            describe,
        })
    }

    /// The muxer and encoder in use (FFmpeg names).
    pub fn elements(&self) -> (&str, &str) {
        (self.muxer, self.codec.name())
    }

    /// Frames given so far.
    pub fn frames_written(&self) -> u64 {
        self.frames_in
    }

    /// The pixel format to encode in when the caller gave none.
    fn choose_pixel(&self, input: Pixel) -> Pixel {
        let supported: Vec<Pixel> =
            self.codec.video().ok().and_then(|v| v.formats()).map(|f| f.collect()).unwrap_or_default();
        if supported.is_empty() {
            return Pixel::YUV420P;
        }
        let gray = matches!(input, Pixel::GRAY8 | Pixel::GRAY16LE);
        let alpha = matches!(input, Pixel::RGBA | Pixel::BGRA);
        let mut wishes: Vec<Pixel> = Vec::new();
        if self.codec.id() == codec::Id::GIF {
            wishes.extend(if gray { [Pixel::GRAY8, Pixel::PAL8] } else { [Pixel::PAL8, Pixel::PAL8] });
        } else if gray {
            if input == Pixel::GRAY16LE {
                wishes.extend([Pixel::GRAY16LE, Pixel::GRAY16BE]);
            }
            wishes.extend([Pixel::GRAY8, Pixel::YUV420P]);
        } else if matches!(self.codec.id(), codec::Id::PNG | codec::Id::APNG) {
            wishes.extend(if alpha { [Pixel::RGBA, Pixel::RGB24] } else { [Pixel::RGB24, Pixel::RGB24] });
        } else {
            wishes.extend([Pixel::YUV420P, Pixel::YUVJ420P]);
        }
        wishes.into_iter().find(|w| supported.contains(w)).unwrap_or(supported[0])
    }

    fn frame_geometry(&self, array: &ArrayRef<'_>) -> Result<(Pixel, u32, u32)> {
        if let Some(name) = &self.options.input_bayer {
            let pixel = bayer_pixel(name)?;
            let dtype = if name.ends_with("16le") { Dtype::U16 } else { Dtype::U8 };
            return match array.shape {
                [h, w] | [h, w, 1] if array.dtype == dtype && *h > 0 && *w > 0 && *h <= 65535 && *w <= 65535 => {
                    Ok((pixel, *w as u32, *h as u32))
                }
                _ => Err(Error::Value(format!(
                    "a frame of shape {:?} and dtype {} does not fit in_pixel_format {name:?} (expected (H, W) {})",
                    array.shape,
                    array.dtype.name(),
                    dtype.name()
                ))),
            };
        }
        let mut format = self.options.input_format;
        if format == OutputFormat::Rgb24 && array.shape.len() == 2 {
            format = if array.dtype == Dtype::U16 { OutputFormat::Gray16le } else { OutputFormat::Gray };
        }
        let pixel = input_pixel(format)?;
        if format == OutputFormat::Yuv444p {
            // Planar, as the reader gives it: (3, H, W).
            return match array.shape {
                [3, h, w] if array.dtype == Dtype::U8 && *h > 0 && *w > 0 && *h <= 65535 && *w <= 65535 => {
                    Ok((pixel, *w as u32, *h as u32))
                }
                _ => Err(Error::Value(format!(
                    "a frame of shape {:?} and dtype {} does not fit in_pixel_format \"yuv444p\" (expected (3, H, W) uint8)",
                    array.shape,
                    array.dtype.name()
                ))),
            };
        }
        let (want_dtype, channels) = match format {
            OutputFormat::Gray16le => (Dtype::U16, 1),
            OutputFormat::Gray => (Dtype::U8, 1),
            OutputFormat::Rgba | OutputFormat::Bgra => (Dtype::U8, 4),
            _ => (Dtype::U8, 3),
        };
        let ok_shape = match array.shape {
            [_, _] => channels == 1,
            [_, _, c] => *c == channels,
            _ => false,
        };
        if !ok_shape || array.dtype != want_dtype {
            return Err(Error::Value(format!(
                "a frame of shape {:?} and dtype {} does not fit in_pixel_format {:?} (expected (H, W{}) {})",
                array.shape,
                array.dtype.name(),
                format.name(),
                if channels == 1 { String::new() } else { format!(", {channels}") },
                want_dtype.name()
            )));
        }
        let (h, w) = (array.shape[0], array.shape[1]);
        if h == 0 || w == 0 || h > 65535 || w > 65535 {
            return Err(Error::Value(format!("a frame of {w}x{h} pixels cannot be encoded")));
        }
        Ok((pixel, w as u32, h as u32))
    }

    /// Builds the filter graph and opens the encoder for frames like `array`.
    fn start(&mut self, array: &ArrayRef<'_>) -> Result<()> {
        let (input, width, height) = self.frame_geometry(array)?;
        let target = self.pixel_format.unwrap_or_else(|| self.choose_pixel(input));
        let rate = fps_rational(self.options.fps);
        let tb = rate.invert();
        let mut description = self.options.filter.clone().unwrap_or_default();
        if target == Pixel::PAL8 && !description.contains("paletteuse") {
            description =
                if description.trim().is_empty() { PALETTE.to_string() } else { format!("{description},{PALETTE}") };
        }
        if description.trim().is_empty() {
            description = "null".into();
        }
        let graph = crate::video::avfilter::build_graph(&description, input, width, height, tb, rate, target)?;
        let mut sink = graph_sink(&graph)?;
        // SAFETY: `sink` is the configured buffersink of this graph; the getters only read it.
        let (w, h, out_tb, out_rate) = unsafe {
            let ctx = sink.as_mut_ptr();
            (
                ffi::av_buffersink_get_w(ctx),
                ffi::av_buffersink_get_h(ctx),
                ffi::av_buffersink_get_time_base(ctx),
                ffi::av_buffersink_get_frame_rate(ctx),
            )
        };
        let out_tb = Rational::new(out_tb.num, out_tb.den);
        let out_rate =
            if out_rate.num > 0 && out_rate.den > 0 { Rational::new(out_rate.num, out_rate.den) } else { rate };
        let mut ctx =
            CodecContext::new_with_codec(self.codec).encoder().video().map_err(|e| Error::Value(av_error(e)))?;
        ctx.set_width(w as u32);
        ctx.set_height(h as u32);
        ctx.set_format(target);
        ctx.set_time_base(out_tb);
        ctx.set_frame_rate(Some(out_rate));
        if let Some(g) = self.options.max_keyframe_interval {
            ctx.set_gop(g.max(1));
        }
        if self.options.force_keyframes {
            ctx.set_gop(1);
        }
        if let Some(b) = self.options.bitrate {
            ctx.set_bit_rate(b as usize);
        }
        let output = self.output.as_mut().ok_or_else(|| Error::Value("the writer is closed".into()))?;
        // SAFETY: reading the muxer's flags of a live output context.
        let global = unsafe { (*(*output.as_ptr()).oformat).flags } & ffi::AVFMT_GLOBALHEADER != 0;
        if global {
            ctx.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut enc_options = Dictionary::new();
        if let Some(q) = self.options.quality.filter(|_| self.options.bitrate.is_none()) {
            match self.codec.name() {
                "libx264" | "libx265" => enc_options.set("crf", &format!("{:.0}", 51.0 - q * 5.1)),
                "libvpx" | "libvpx-vp9" | "libaom-av1" | "libsvtav1" => {
                    enc_options.set("crf", &format!("{:.0}", 63.0 - q * 6.3))
                }
                _ => ctx.set_global_quality((ffi::FF_QP2LAMBDA as f64 * (31.0 - q * 3.0).max(1.0)) as i32),
            }
        }
        if matches!(self.codec.name(), "libx264" | "libx265") {
            enc_options.set("preset", "medium");
        }
        let encoder = ctx.open_with(enc_options).map_err(|e| {
            Error::Value(format!(
                "the {} encoder refused {}x{} {}: {}",
                self.codec.name(),
                w,
                h,
                pixel_name(target),
                av_error(e)
            ))
        })?;
        {
            let mut stream = output.add_stream(self.codec).map_err(|e| Error::Value(av_error(e)))?;
            stream.set_parameters(&encoder);
            stream.set_time_base(out_tb);
            stream.set_avg_frame_rate(out_rate);
            stream.set_rate(out_rate);
        }
        let mut tags = Dictionary::new();
        for (k, v) in &self.options.container_tags {
            tags.set(k, v);
        }
        output.set_metadata(tags);
        output.write_header_with(self.header_options.clone()).map_err(|e| {
            Error::Value(format!("{}: cannot write the .{} header: {}", self.describe, self.ext, av_error(e)))
        })?;
        self.running = Some(Running {
            graph,
            encoder,
            time_base: out_tb,
            width,
            height,
            input,
            shape: array.shape.to_vec(),
            dtype: array.dtype,
        });
        Ok(())
    }

    /// Encodes one frame (copied from `array`; the shape and dtype must be those of the first).
    pub fn write(&mut self, array: ArrayRef<'_>, interrupt: Interrupt<'_>) -> Result<()> {
        if self.closed {
            return Err(Error::Value("I/O operation on a closed video file".into()));
        }
        if self.single_image && self.frames_in >= 1 {
            return Err(Error::Value(format!(
                "{} holds one image: write one frame, or use an image sequence pattern (frame_%03d.png) or .apng",
                self.describe
            )));
        }
        if self.running.is_none()
            && let Err(e) = self.start(&array)
        {
            // A half-made output (a stream added, maybe a header) cannot be started again.
            self.output = None;
            self.closed = true;
            return Err(e);
        }
        let index = self.frames_in;
        let run = self.running.as_mut().ok_or_else(|| Error::Value("the writer is closed".into()))?;
        if array.shape != run.shape.as_slice() || array.dtype != run.dtype {
            return Err(Error::Value(format!(
                "frame {index} has shape {:?} and dtype {}, but the video's frames are {:?} {}",
                array.shape,
                array.dtype.name(),
                run.shape,
                run.dtype.name()
            )));
        }
        let mut frame = AvFrame::new(run.input, run.width, run.height);
        copy_into(&array, &mut frame)?;
        frame.set_pts(Some(index as i64));
        let mut source = run.graph.get("in").ok_or_else(|| Error::Gst("the buffer source vanished".into()))?;
        source
            .source()
            .add(&frame)
            .map_err(|e| Error::Value(format!("libavfilter refused frame {index}: {}", av_error(e))))?;
        self.frames_in += 1;
        self.drain(false, interrupt)
    }

    /// Moves what the graph made through the encoder into the muxer; `end` flushes both.
    fn drain(&mut self, end: bool, interrupt: Interrupt<'_>) -> Result<()> {
        let run = self.running.as_mut().ok_or_else(|| Error::Value("the writer is closed".into()))?;
        let output = self.output.as_mut().ok_or_else(|| Error::Value("the writer is closed".into()))?;
        let stream_tb = output.stream(0).map(|s| s.time_base()).unwrap_or(run.time_base);
        let mut sink = graph_sink(&run.graph)?;
        let mut filtered = AvFrame::empty();
        let mut packet = Packet::empty();
        let mut write_packets = |encoder: &mut encoder::Video, output: &mut Output| -> Result<()> {
            while encoder.receive_packet(&mut packet).is_ok() {
                packet.set_stream(0);
                packet.rescale_ts(run.time_base, stream_tb);
                packet
                    .write_interleaved(output)
                    .map_err(|e| Error::Media(format!("{}: writing failed: {}", self.describe, av_error(e))))?;
            }
            Ok(())
        };
        loop {
            if interrupt() {
                return Err(Error::Interrupted);
            }
            match sink.sink().frame(&mut filtered) {
                Ok(()) => {
                    run.encoder.send_frame(&filtered).map_err(|e| {
                        Error::Value(format!("the {} encoder failed: {}", self.codec.name(), av_error(e)))
                    })?;
                    self.frames_out += 1;
                    write_packets(&mut run.encoder, output)?;
                }
                Err(ffmpeg_next::Error::Other { errno }) if errno == ffi::EAGAIN => break,
                Err(ffmpeg_next::Error::Eof) => break,
                Err(e) => return Err(Error::Value(format!("libavfilter failed: {}", av_error(e)))),
            }
        }
        if end {
            run.encoder.send_eof().map_err(|e| Error::Value(av_error(e)))?;
            write_packets(&mut run.encoder, output)?;
        }
        Ok(())
    }

    /// Flushes the filter graph and the encoder and writes the container's trailer (an MP4
    /// its index). Closing twice is a no-op; a writer that got no frame writes nothing
    /// and fails with [`Error::Value`].
    pub fn close(&mut self, interrupt: Interrupt<'_>) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let Some(run) = self.running.as_mut() else {
            // Nothing was written (no frame, or the first one failed): nothing to finish.
            self.output = None;
            return Ok(());
        };
        let mut source = run.graph.get("in").ok_or_else(|| Error::Gst("the buffer source vanished".into()))?;
        source.source().flush().map_err(|e| Error::Value(av_error(e)))?;
        let drained = self.drain(true, interrupt);
        let mut output = self.output.take().ok_or_else(|| Error::Value("the writer is closed".into()))?;
        drained?;
        if self.frames_out == 0 {
            return Err(Error::Value("the filter let no frame through: nothing to write".into()));
        }
        output
            .write_trailer()
            .map_err(|e| Error::Media(format!("{}: finishing the file failed: {}", self.describe, av_error(e))))?;
        // Dropping the output flushes the AVIO buffer into the sink.
        drop(output);
        self.running = None;
        Ok(())
    }
}

fn graph_sink(graph: &filter::Graph) -> Result<filter::Context> {
    // `get` needs `&mut`, but only looks the context up by name.
    let graph = graph as *const filter::Graph as *mut filter::Graph;
    // SAFETY: `Graph::get` reads the graph's filter list and returns a handle; no other
    // reference to the graph is in use while it runs (callers hold `&mut AvWriter`).
    unsafe { (*graph).get("out") }.ok_or_else(|| Error::Gst("the buffer sink vanished".into()))
}

/// Copies a (H, W[, C]) strided array into the frame's packed rows, or a (3, H, W) one into
/// the three planes of a yuv444p frame.
fn copy_into(array: &ArrayRef<'_>, frame: &mut AvFrame) -> Result<()> {
    if frame.format() == Pixel::YUV444P {
        let (h, w) = (array.shape[1], array.shape[2]);
        let (sp, sh, sw) = (array.strides[0] as usize, array.strides[1] as usize, array.strides[2] as usize);
        for plane in 0..3 {
            let stride = frame.stride(plane);
            let dst = frame.data_mut(plane);
            for y in 0..h {
                let base = plane * sp + y * sh;
                let out = &mut dst[y * stride..y * stride + w];
                if sw == 1 {
                    out.copy_from_slice(&array.data[base..base + w]);
                } else {
                    for (x, o) in out.iter_mut().enumerate() {
                        *o = array.data[base + x * sw];
                    }
                }
            }
        }
        return Ok(());
    }
    let (h, w) = (array.shape[0], array.shape[1]);
    let c = array.shape.get(2).copied().unwrap_or(1);
    let item = array.dtype.size();
    let (sh, sw) = (array.strides[0] as usize, array.strides[1] as usize);
    let sc = array.strides.get(2).map(|s| *s as usize).unwrap_or(item);
    let stride = frame.stride(0);
    let row_bytes = w * c * item;
    let dst = frame.data_mut(0);
    for y in 0..h {
        let out = &mut dst[y * stride..y * stride + row_bytes];
        let base = y * sh;
        if sw == c * item && sc == item {
            out.copy_from_slice(&array.data[base..base + row_bytes]);
            continue;
        }
        for x in 0..w {
            for k in 0..c {
                let at = base + x * sw + k * sc;
                let o = (x * c + k) * item;
                out[o..o + item].copy_from_slice(&array.data[at..at + item]);
            }
        }
    }
    Ok(())
}

impl Drop for AvWriter {
    fn drop(&mut self) {
        if !self.closed && self.running.is_some() {
            let _ = self.close(&mut || false);
        }
    }
}

/// Whether `path`'s extension is one only the libav writer writes (GIF, PNG, APNG).
pub fn needs_libav(path: &Path, codec: Option<&str>) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    matches!(ext.as_str(), "gif" | "png" | "apng")
        || codec.is_some_and(|c| matches!(c.to_ascii_lowercase().as_str(), "gif" | "png" | "apng"))
}
