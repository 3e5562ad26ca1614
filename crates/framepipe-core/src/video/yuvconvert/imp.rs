//! A `VideoFilter` that converts progressive YUV (8-bit I420, NV12, Y42B, Y444; 10-bit
//! I420_10LE, I422_10LE, Y444_10LE) to the packed RGB layout set by `format`, with the
//! stream's matrix and range, on `n-threads` threads per frame; or, for `format=GRAY8` and
//! `GRAY16_LE`, to full-range gray from the luma plane (FFmpeg's `gray`/`gray16le`: limited
//! range expanded). GStreamer 1.22's videoconvert gets YUV -> GRAY wrong on BT.601 input (it
//! hands out something close to the red channel), so the reader never leaves that to it. It
//! offers passthrough as well, so any other input (GRAY8, RGB, interlaced) reaches the
//! `videoconvert` placed after it unchanged. Output buffers come from the
//! video buffer pool `GstVideoFilter` sets up, so steady-state decoding does not allocate.
//!
//! The reader builds it as `queue ! fpyuvconvert format=RGB ! videoconvert ! video/x-raw,format=RGB ! appsink`;
//! with a convertible input the videoconvert is in passthrough.

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use crate::video::convert::{Colorimetry, RgbLayout, YuvFrame, YuvLayout, yuv_to_rgb};
use crate::video::format::luma_table;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "fpyuvconvert",
        gst::DebugColorFlags::empty(),
        Some("framepipe YUV to RGB or gray converter"),
    )
});

const DEFAULT_FORMAT: Output = Output::Rgb(RgbLayout::Rgb);
const DEFAULT_THREADS: u32 = 1;

/// The YUV formats converted; the order is the preference when upstream offers several.
#[cfg(target_endian = "little")]
const INPUTS: [&str; 7] = ["I420", "NV12", "Y42B", "Y444", "I420_10LE", "I422_10LE", "Y444_10LE"];
#[cfg(not(target_endian = "little"))]
const INPUTS: [&str; 4] = ["I420", "NV12", "Y42B", "Y444"];

/// What the element makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Rgb(RgbLayout),
    /// The luma plane in full range, as GRAY8 or (`wide`) GRAY16_LE.
    Gray {
        wide: bool,
    },
}

impl Output {
    fn from_video_format(format: gst_video::VideoFormat) -> Option<Output> {
        match format {
            gst_video::VideoFormat::Gray8 => Some(Output::Gray { wide: false }),
            gst_video::VideoFormat::Gray16Le => Some(Output::Gray { wide: true }),
            f => RgbLayout::from_video_format(f).map(Output::Rgb),
        }
    }

    fn video_format(self) -> gst_video::VideoFormat {
        match self {
            Output::Rgb(rgb) => rgb.video_format(),
            Output::Gray { wide: false } => gst_video::VideoFormat::Gray8,
            Output::Gray { wide: true } => gst_video::VideoFormat::Gray16Le,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    format: Output,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { format: DEFAULT_FORMAT, threads: DEFAULT_THREADS }
    }
}

/// What the negotiated caps ask for (None: passthrough).
#[derive(Debug, Clone, Copy)]
struct State {
    input: YuvLayout,
    output: Output,
    colorimetry: Colorimetry,
}

#[derive(Default)]
pub struct FpYuvConvert {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

/// Whether the structure can describe an input the converter reads (unfixed fields count as
/// possible; fixed ones must say YUV it knows, progressive, with a YUV matrix).
fn convertible(s: &gst::StructureRef) -> bool {
    if s.name() != "video/x-raw" {
        return false;
    }
    let format_ok = match s.value("format") {
        Err(_) => true,
        Ok(v) => match v.get::<&str>() {
            Ok(f) => INPUTS.contains(&f),
            Err(_) => {
                v.get::<gst::List>().is_ok_and(|l| l.iter().any(|x| x.get::<&str>().is_ok_and(|f| INPUTS.contains(&f))))
            }
        },
    };
    let progressive = s.get::<&str>("interlace-mode").map_or(true, |m| m == "progressive");
    // A fixed odd width rules out the 10-bit subsampled layouts (see `supports_width`).
    let width_ok = match (s.get::<&str>("format"), s.get::<i32>("width")) {
        (Ok(f), Ok(w)) => YuvLayout::from_video_format(gst_video::VideoFormat::from_string(f))
            .is_none_or(|l| l.supports_width(w.max(0) as usize)),
        _ => true,
    };
    let matrix_ok = s
        .get::<&str>("colorimetry")
        .ok()
        .and_then(|c| c.parse::<gst_video::VideoColorimetry>().ok())
        .is_none_or(|c| Colorimetry::from_gst(c).is_some());
    format_ok && progressive && matrix_ok && width_ok
}

#[glib::object_subclass]
impl ObjectSubclass for FpYuvConvert {
    const NAME: &'static str = "GstFpYuvConvert";
    // framepipe-core can be linked into both the Python module and the plugin library of
    // one process; each copy then registers its own type instead of failing.
    const ALLOW_NAME_CONFLICT: bool = true;
    type Type = super::FpYuvConvert;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for FpYuvConvert {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("format")
                    .nick("Format")
                    .blurb("Output format: RGB, BGR, RGBA or BGRA")
                    .default_value(Some(DEFAULT_FORMAT.video_format().to_str().as_str()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("n-threads")
                    .nick("Threads")
                    .blurb("Threads converting each frame (bands of rows)")
                    .minimum(1)
                    .maximum(64)
                    .default_value(DEFAULT_THREADS)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "format" => {
                let name: Option<String> = value.get().expect("type checked upstream");
                let format =
                    name.as_deref().map(gst_video::VideoFormat::from_string).and_then(Output::from_video_format);
                match format {
                    Some(f) => settings.format = f,
                    None => gst::warning!(
                        CAT,
                        imp = self,
                        "unsupported output format {name:?}, keeping {:?}",
                        settings.format
                    ),
                }
            }
            "n-threads" => settings.threads = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "format" => settings.format.video_format().to_str().to_value(),
            "n-threads" => settings.threads.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for FpYuvConvert {}

impl ElementImpl for FpYuvConvert {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "framepipe YUV to RGB",
                "Filter/Converter/Video",
                "Converts 8-bit YUV to packed RGB with SIMD kernels; passes other formats through",
                "framepipe",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::builder("video/x-raw").build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps)
                    .expect("valid template"),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps)
                    .expect("valid template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for FpYuvConvert {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let output = self.settings.lock().unwrap().format;
        let target = output.video_format().to_str().as_str();
        let mut out = gst::Caps::new_empty();
        {
            for (s, features) in caps.iter_with_features() {
                let system = features.is_any() || features.contains(gst::CAPS_FEATURE_MEMORY_SYSTEM_MEMORY.as_str());
                if direction == gst::PadDirection::Sink {
                    // caps are our input: converted first (preferred), then passthrough.
                    if system && convertible(s) {
                        let mut t = s.to_owned();
                        t.set("format", target);
                        t.remove_fields(["colorimetry", "chroma-site"]);
                        out.merge_structure_full(t, Some(features.to_owned()));
                    }
                    out.merge_structure_full(s.to_owned(), Some(features.to_owned()));
                } else {
                    // caps are our output: passthrough, or any convertible input of that size.
                    out.merge_structure_full(s.to_owned(), Some(features.to_owned()));
                    let may_be_target = match s.value("format") {
                        Err(_) => true,
                        Ok(v) => match v.get::<&str>() {
                            Ok(f) => f == target,
                            Err(_) => {
                                v.get::<gst::List>().is_ok_and(|l| l.iter().any(|x| x.get::<&str>() == Ok(target)))
                            }
                        },
                    };
                    if system && may_be_target && s.name() == "video/x-raw" {
                        let mut t = s.to_owned();
                        t.set("format", gst::List::new(INPUTS));
                        t.remove_fields(["colorimetry", "chroma-site"]);
                        out.merge_structure_full(t, Some(features.to_owned()));
                    }
                }
            }
        }
        gst::trace!(CAT, imp = self, "{direction:?} {caps} -> {out}");
        Some(match filter {
            Some(f) => f.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        })
    }
}

impl VideoFilterImpl for FpYuvConvert {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let mut state = self.state.lock().unwrap();
        if in_info.format() == out_info.format() {
            *state = None;
            return Ok(());
        }
        let input = YuvLayout::from_video_format(in_info.format());
        let output = Output::from_video_format(out_info.format());
        let colorimetry = Colorimetry::from_gst(in_info.colorimetry());
        match (input, output, colorimetry) {
            (Some(input), Some(output), Some(colorimetry))
                if in_info.width() == out_info.width()
                    && in_info.height() == out_info.height()
                    && input.supports_width(in_info.width() as usize) =>
            {
                gst::debug!(CAT, imp = self, "converting {incaps} -> {outcaps} with {colorimetry:?}");
                *state = Some(State { input, output, colorimetry });
                Ok(())
            }
            _ => Err(gst::loggable_error!(CAT, "cannot convert {incaps} to {outcaps}")),
        }
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let Some(state) = *self.state.lock().unwrap() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no conversion was negotiated"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let threads = self.settings.lock().unwrap().threads as usize;
        let n_planes = if state.input == YuvLayout::Nv12 { 2 } else { 3 };
        let mut planes: [&[u8]; 3] = [&[]; 3];
        let mut strides = [0usize; 3];
        for i in 0..n_planes {
            planes[i] = inframe.plane_data(i as u32).map_err(|_| gst::FlowError::Error)?;
            strides[i] = usize::try_from(inframe.plane_stride()[i]).map_err(|_| gst::FlowError::NotSupported)?;
        }
        let src = YuvFrame {
            layout: state.input,
            width: inframe.width() as usize,
            height: inframe.height() as usize,
            planes,
            strides,
        };
        let dst_stride = usize::try_from(outframe.plane_stride()[0]).map_err(|_| gst::FlowError::NotSupported)?;
        let dst = outframe.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
        let result = match state.output {
            Output::Rgb(rgb) => yuv_to_rgb(&src, dst, dst_stride, rgb, state.colorimetry, threads),
            Output::Gray { wide } => {
                let table =
                    luma_table(state.input.depth(), state.colorimetry.full_range, if wide { 65535 } else { 255 });
                luma_to_gray(&src, dst, dst_stride, &table, wide)
            }
        };
        if let Err(e) = result {
            gst::element_imp_error!(self, gst::CoreError::Failed, ["{}", e]);
            return Err(gst::FlowError::Error);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

/// The luma plane of `src` as full-range gray into `dst` (rows `dst_stride` bytes apart),
/// 8-bit (`wide` false) or 16-bit little-endian, through `table` (see [`luma_table`]).
fn luma_to_gray(
    src: &YuvFrame<'_>,
    dst: &mut [u8],
    dst_stride: usize,
    table: &[u16],
    wide: bool,
) -> Result<(), String> {
    let (w, h, stride) = (src.width, src.height, src.strides[0]);
    if h == 0 || w == 0 {
        return Ok(());
    }
    let (in_bytes, out_bytes) = (if src.layout.depth() > 8 { 2 } else { 1 }, if wide { 2 } else { 1 });
    if stride < w * in_bytes || src.planes[0].len() < stride * (h - 1) + w * in_bytes {
        return Err(format!("the luma plane is too small for {w}x{h}"));
    }
    if dst_stride < w * out_bytes || dst.len() < dst_stride * (h - 1) + w * out_bytes {
        return Err(format!("the output buffer is too small for {w}x{h}"));
    }
    for row in 0..h {
        let luma = &src.planes[0][row * stride..][..w * in_bytes];
        let out = &mut dst[row * dst_stride..][..w * out_bytes];
        let value = |x: usize| -> u16 {
            let y = if in_bytes == 2 { u16::from_le_bytes([luma[2 * x], luma[2 * x + 1]]) } else { u16::from(luma[x]) };
            // Out-of-range 10-bit words (only 10 bits are meaningful) are clamped to white.
            table[usize::from(y).min(table.len() - 1)]
        };
        if wide {
            for (x, px) in out.chunks_exact_mut(2).enumerate() {
                px.copy_from_slice(&value(x).to_le_bytes());
            }
        } else {
            for (x, o) in out.iter_mut().enumerate() {
                *o = value(x) as u8;
            }
        }
    }
    Ok(())
}
