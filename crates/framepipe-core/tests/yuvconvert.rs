//! The reader's YUV -> RGB converter element against GStreamer's videoconvert on the same
//! frames: every input layout, output layout, matrix and range, odd sizes included.
//!
//! videoconvert runs with `chroma-mode=none` and no dithering. Measured on GStreamer 1.22
//! (smpte bars, moving): on 4:4:4 input the two are at most 5 levels apart with a mean of
//! about 1.5 — videoconvert's 8-bit matrix is the less precise one (100% yellow comes out as
//! 251 where the exact value, and ours, is 255; the converter itself is checked within 2
//! levels of a floating-point reference in its unit tests). On subsampled input the two
//! place chroma differently at colour edges, up to 22 levels there, mean still about 1.5.
//! Against videoconvert's default (interpolated chroma) the mean stays under 5.

use framepipe_core::video::FpYuvConvert;
use framepipe_core::video::convert::RgbLayout;
use gst::prelude::*;
use gst_video::prelude::*;

const MAX_DIFF_444: u8 = 6;
const MAX_DIFF_SUBSAMPLED: u8 = 24;
const MAX_MEAN_DIFF: f64 = 2.0;

fn init() {
    gst::init().unwrap();
}

/// Pulls every frame of `src ! capsfilter(in_caps) ! convert ! capsfilter(out) ! appsink`,
/// each packed without row padding.
fn frames(in_caps: &str, convert: gst::Element, out_format: &str) -> Vec<Vec<u8>> {
    let pipeline = gst::Pipeline::new();
    // pattern=smpte has sharp colour edges; the horizontal speed makes frames differ.
    let src = gst::ElementFactory::make("videotestsrc")
        .property("num-buffers", 3i32)
        .property_from_str("pattern", "smpte")
        .property("horizontal-speed", 7i32)
        .build()
        .unwrap();
    let caps_in = gst::ElementFactory::make("capsfilter")
        .property("caps", in_caps.parse::<gst::Caps>().unwrap())
        .build()
        .unwrap();
    let caps_out = gst::ElementFactory::make("capsfilter")
        .property("caps", format!("video/x-raw,format={out_format}").parse::<gst::Caps>().unwrap())
        .build()
        .unwrap();
    let sink = gst_app::AppSink::builder().sync(false).build();
    pipeline.add_many([&src, &caps_in, &convert, &caps_out, sink.upcast_ref()]).unwrap();
    gst::Element::link_many([&src, &caps_in, &convert, &caps_out, sink.upcast_ref()]).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        let frame = gst_video::VideoFrame::from_buffer_readable(sample.buffer_owned().unwrap(), &info).unwrap();
        let row = info.width() as usize * info.format_info().pixel_stride()[0] as usize;
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data(0).unwrap();
        let mut packed = Vec::new();
        for r in 0..info.height() as usize {
            packed.extend_from_slice(&data[r * stride..r * stride + row]);
        }
        out.push(packed);
    }
    let bus = pipeline.bus().unwrap();
    let error = bus.pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(error.is_none(), "{in_caps} -> {out_format}: {error:?}");
    out
}

fn videoconvert(chroma_none: bool) -> gst::Element {
    let mut b = gst::ElementFactory::make("videoconvert").property_from_str("dither", "none");
    if chroma_none {
        b = b.property_from_str("chroma-mode", "none");
    }
    b.build().unwrap()
}

fn diffs(a: &[Vec<u8>], b: &[Vec<u8>]) -> (u8, f64) {
    assert_eq!(a.len(), b.len());
    let mut max = 0u8;
    let (mut sum, mut n) = (0u64, 0u64);
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(y) {
            let d = p.abs_diff(*q);
            max = max.max(d);
            sum += d as u64;
            n += 1;
        }
    }
    (max, sum as f64 / n.max(1) as f64)
}

#[test]
fn matches_videoconvert_for_every_layout_and_colorimetry() {
    init();
    let layouts =
        [(RgbLayout::Rgb, "RGB"), (RgbLayout::Bgr, "BGR"), (RgbLayout::Rgba, "RGBA"), (RgbLayout::Bgra, "BGRA")];
    for input in ["I420", "NV12", "Y42B", "Y444", "I420_10LE", "I422_10LE", "Y444_10LE"] {
        for colorimetry in ["bt601", "bt709", "bt2020", "jpeg" /* BT.601 full range */] {
            for (w, h) in [(320, 240), (173, 97)] {
                if (input == "I420_10LE" || input == "I422_10LE") && w % 2 == 1 {
                    // Left to videoconvert (see other_formats_pass_through_to_videoconvert).
                    continue;
                }
                let caps = format!("video/x-raw,format={input},width={w},height={h},colorimetry={colorimetry}");
                let reference = frames(&caps, videoconvert(true), "RGB");
                let interpolated = frames(&caps, videoconvert(false), "RGB");
                for (layout, name) in layouts {
                    let ours = frames(&caps, FpYuvConvert::new(layout, 2).upcast(), name);
                    let ours_rgb = to_rgb(&ours, layout);
                    let (max, mean) = diffs(&ours_rgb, &reference);
                    let limit = if input.starts_with("Y444") { MAX_DIFF_444 } else { MAX_DIFF_SUBSAMPLED };
                    assert!(max <= limit && mean < MAX_MEAN_DIFF, "{caps} -> {name}: max diff {max}, mean {mean:.3}");
                    let (_, mean) = diffs(&ours_rgb, &interpolated);
                    assert!(mean < 5.0, "{caps} -> {name}: mean diff {mean:.3} against interpolated chroma");
                    if matches!(layout, RgbLayout::Rgba | RgbLayout::Bgra) {
                        assert!(ours.iter().all(|f| f.chunks_exact(4).all(|p| p[3] == 255)), "alpha is opaque");
                    }
                }
            }
        }
    }
}

/// RGB bytes out of any of the four layouts.
fn to_rgb(frames: &[Vec<u8>], layout: RgbLayout) -> Vec<Vec<u8>> {
    let bpp = layout.bytes_per_pixel();
    frames
        .iter()
        .map(|f| {
            f.chunks_exact(bpp)
                .flat_map(|p| match layout {
                    RgbLayout::Rgb | RgbLayout::Rgba => [p[0], p[1], p[2]],
                    RgbLayout::Bgr | RgbLayout::Bgra => [p[2], p[1], p[0]],
                })
                .collect()
        })
        .collect()
}

#[test]
fn other_formats_pass_through_to_videoconvert() {
    init();
    // GRAY8 and RGB cannot be converted: the element passes them on and videoconvert
    // (after it, as in the reader) does the work, so the output equals videoconvert's alone.
    // Odd-width 10-bit 4:2:0 is left to videoconvert too (the kernels cannot take it).
    for (input, w) in [("GRAY8", 64), ("RGBx", 64), ("I420_12LE", 64), ("I420_10LE", 63), ("I422_10LE", 63)] {
        let caps = format!("video/x-raw,format={input},width={w},height=48");
        let bin = gst::Bin::new();
        let ours = FpYuvConvert::new(RgbLayout::Rgb, 2).upcast::<gst::Element>();
        let vc = videoconvert(false);
        bin.add_many([&ours, &vc]).unwrap();
        ours.link(&vc).unwrap();
        bin.add_pad(&gst::GhostPad::with_target(&ours.static_pad("sink").unwrap()).unwrap()).unwrap();
        bin.add_pad(&gst::GhostPad::with_target(&vc.static_pad("src").unwrap()).unwrap()).unwrap();
        let got = frames(&caps, bin.upcast(), "RGB");
        let want = frames(&caps, videoconvert(false), "RGB");
        assert_eq!(got.len(), 3, "{input}");
        assert!(got == want, "{input}: passthrough changed the frames");
    }
}
