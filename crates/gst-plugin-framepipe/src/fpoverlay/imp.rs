//! `fpoverlay`: draws every region of interest on the frame (framepipe regions and any
//! other `GstVideoRegionOfInterestMeta`) as an outline `thickness` pixels wide, inside
//! the region's box, in a colour derived from the label, with the label (and confidence,
//! when non-zero) written above the box in a built-in 5x7 bitmap font (below it when there
//! is no room above). Formats: RGB, BGR, RGBA, BGRA, RGBx, BGRx, I420 and NV12 (drawn in
//! YUV, BT.601 limited range; chroma is shared by 2x2 blocks, so it can bleed one pixel
//! past an edge). Drawn pixels are opaque (alpha 255).
//!
//! ```text
//! gst-launch-1.0 videotestsrc ! video/x-raw,format=I420 ! fpoverlay thickness=3 ! autovideosink
//! ```

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::draw::{self, Canvas, Layout};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("fpoverlay", gst::DebugColorFlags::empty(), Some("framepipe region overlay"))
});

const DEFAULT_THICKNESS: u32 = 2;
const DEFAULT_LABELS: bool = true;

#[derive(Debug, Clone, Copy)]
struct Settings {
    thickness: u32,
    labels: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { thickness: DEFAULT_THICKNESS, labels: DEFAULT_LABELS }
    }
}

#[derive(Default)]
pub struct FpOverlay {
    settings: Mutex<Settings>,
}

#[glib::object_subclass]
impl ObjectSubclass for FpOverlay {
    const NAME: &'static str = "GstFpOverlay";
    type Type = super::FpOverlay;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for FpOverlay {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("thickness")
                    .nick("Thickness")
                    .blurb("Width of the box outlines in pixels")
                    .minimum(1)
                    .maximum(64)
                    .default_value(DEFAULT_THICKNESS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("labels")
                    .nick("Labels")
                    .blurb("Write each region's label and confidence next to its box")
                    .default_value(DEFAULT_LABELS)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "thickness" => settings.thickness = value.get().expect("type checked upstream"),
            "labels" => settings.labels = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "thickness" => settings.thickness.to_value(),
            "labels" => settings.labels.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for FpOverlay {}

impl ElementImpl for FpOverlay {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "framepipe region overlay",
                "Filter/Effect/Video",
                "Draws region boxes and labels onto video frames",
                "framepipe",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            use gst_video::VideoFormat as F;
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list([F::Rgb, F::Bgr, F::Rgba, F::Bgra, F::Rgbx, F::Bgrx, F::I420, F::Nv12])
                .build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps).unwrap(),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps).unwrap(),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for FpOverlay {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;
}

impl VideoFilterImpl for FpOverlay {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        if Layout::of(in_info.format()).is_none() {
            return Err(gst::loggable_error!(CAT, "fpoverlay cannot draw on {}", in_info.format().to_str()));
        }
        gst::debug!(CAT, imp = self, "drawing on {}x{} {}", in_info.width(), in_info.height(), in_info.format());
        self.parent_set_info(incaps, in_info, outcaps, out_info)
    }

    fn transform_frame_ip(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let regions = framepipe_core::meta::regions(frame.buffer());
        if regions.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        let settings = *self.settings.lock().unwrap();
        let Some(layout) = Layout::of(frame.format()) else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("Unsupported format {}", frame.format()));
            return Err(gst::FlowError::Error);
        };
        let (width, height) = (frame.width() as usize, frame.height() as usize);
        let strides = frame.plane_stride();
        let strides: [usize; 4] = std::array::from_fn(|i| strides.get(i).map_or(0, |&s| s.max(0) as usize));
        let mut canvas = Canvas { layout, width, height, planes: frame.planes_data_mut(), strides };
        // Text grows with the frame so that it stays readable on large frames.
        let scale = (height as i64 / 480).max(1);
        let thickness = i64::from(settings.thickness);
        for r in &regions {
            let color = draw::label_color(&r.label);
            let (x, y, w, h) = (i64::from(r.x), i64::from(r.y), i64::from(r.w), i64::from(r.h));
            canvas.outline(x, y, w, h, thickness, color);
            if !settings.labels {
                continue;
            }
            let text = match (r.label.is_empty(), r.confidence != 0.0) {
                (true, true) => format!("{:.2}", r.confidence),
                (false, true) => format!("{} {:.2}", r.label, r.confidence),
                (false, false) => r.label.clone(),
                (true, false) => continue,
            };
            let (tw, th) = draw::text_size(&text, scale);
            let pad = scale;
            let box_h = th + 2 * pad;
            let box_w = tw + 2 * pad;
            let top = if y >= box_h { y - box_h } else { y + h };
            // Labels near the right edge move left so that they stay readable.
            let left = x.min(width as i64 - box_w).max(0);
            canvas.fill(left, top, left + box_w, top + box_h, color);
            canvas.text(left + pad, top + pad, &text, scale, color.contrast());
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
