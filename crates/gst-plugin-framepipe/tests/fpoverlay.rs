//! fpoverlay draws each region's outline in its label colour in every supported format,
//! leaves the inside of the box alone, and refuses formats it cannot draw on.

use framepipe_core::meta::{self, RegionSpec};
use gst::prelude::*;
use gst_check::Harness;
use gst_video::{VideoFormat, VideoFrameExt, VideoInfo};
use gstframepipe::fpoverlay::label_color;

fn init() {
    gstframepipe::register_static().unwrap();
}

const W: u32 = 160;
const H: u32 = 120;
const BG: u8 = 128;
/// The box: x, y, w, h. Room above it for the label.
const BOX: (usize, usize, usize, usize) = (40, 40, 60, 50);

fn grey_frame(info: &VideoInfo) -> gst::Buffer {
    let mut buf = gst::Buffer::from_mut_slice(vec![BG; info.size()]);
    let b = buf.get_mut().unwrap();
    b.set_pts(gst::ClockTime::ZERO);
    let (x, y, w, h) = BOX;
    meta::add_region(
        b,
        W,
        H,
        &RegionSpec {
            x: x as f64,
            y: y as f64,
            w: w as f64,
            h: h as f64,
            label: "car",
            confidence: 0.9,
            ..Default::default()
        },
    )
    .unwrap();
    buf
}

fn run(format: VideoFormat, thickness: u32) -> (VideoInfo, gst::Buffer) {
    init();
    let info = VideoInfo::builder(format, W, H).fps(30).build().unwrap();
    let mut h = Harness::new("fpoverlay");
    h.element().unwrap().set_property("thickness", thickness);
    h.set_src_caps(info.to_caps().unwrap());
    let out = h.push_and_pull(grey_frame(&info)).unwrap();
    (info, out)
}

/// (channel values at (x, y)) for plane-aware checks: packed -> [r, g, b, a?]; yuv -> [y, u, v].
fn pixel(frame: &gst_video::VideoFrame<gst_video::video_frame::Readable>, x: usize, y: usize) -> Vec<u8> {
    let s = frame.plane_stride();
    match frame.format() {
        VideoFormat::I420 => {
            let (cx, cy) = (x / 2, y / 2);
            vec![
                frame.plane_data(0).unwrap()[y * s[0] as usize + x],
                frame.plane_data(1).unwrap()[cy * s[1] as usize + cx],
                frame.plane_data(2).unwrap()[cy * s[2] as usize + cx],
            ]
        }
        VideoFormat::Nv12 => {
            let (cx, cy) = (x / 2, y / 2);
            let uv = &frame.plane_data(1).unwrap()[cy * s[1] as usize + 2 * cx..];
            vec![frame.plane_data(0).unwrap()[y * s[0] as usize + x], uv[0], uv[1]]
        }
        f => {
            let bpp = if matches!(f, VideoFormat::Rgb | VideoFormat::Bgr) { 3 } else { 4 };
            let p = &frame.plane_data(0).unwrap()[y * s[0] as usize + x * bpp..][..bpp];
            let (r, g, b) = match f {
                VideoFormat::Bgr | VideoFormat::Bgra | VideoFormat::Bgrx => (p[2], p[1], p[0]),
                _ => (p[0], p[1], p[2]),
            };
            let mut v = vec![r, g, b];
            if matches!(f, VideoFormat::Rgba | VideoFormat::Bgra) {
                v.push(p[3]);
            }
            v
        }
    }
}

#[test]
fn draws_label_colour_on_the_edges_and_nothing_inside() {
    let colour = label_color("car");
    for format in [
        VideoFormat::Rgb,
        VideoFormat::Bgr,
        VideoFormat::Rgba,
        VideoFormat::Bgra,
        VideoFormat::Rgbx,
        VideoFormat::Bgrx,
        VideoFormat::I420,
        VideoFormat::Nv12,
    ] {
        for t in [1usize, 3] {
            let (info, out) = run(format, t as u32);
            let frame = gst_video::VideoFrame::from_buffer_readable(out, &info).unwrap();
            let yuv = matches!(format, VideoFormat::I420 | VideoFormat::Nv12);
            let (bx, by, bw, bh) = BOX;
            for y in by..by + bh {
                for x in bx..bx + bw {
                    let edge = x < bx + t || x >= bx + bw - t || y < by + t || y >= by + bh - t;
                    let p = pixel(&frame, x, y);
                    if edge {
                        if yuv {
                            assert_eq!(p, colour.yuv.to_vec(), "{format:?} t={t} edge ({x}, {y})");
                        } else {
                            assert_eq!(&p[..3], &colour.rgb, "{format:?} t={t} edge ({x}, {y})");
                            if p.len() == 4 {
                                assert_eq!(p[3], 255, "{format:?} alpha");
                            }
                        }
                    } else if yuv {
                        assert_eq!(p[0], BG, "{format:?} t={t} inside luma ({x}, {y})");
                        // Chroma is shared by 2x2 blocks: blocks wholly inside are untouched.
                        let (x2, y2) = (x / 2 * 2, y / 2 * 2);
                        if x2 >= bx + t && x2 + 1 < bx + bw - t && y2 >= by + t && y2 + 1 < by + bh - t {
                            assert_eq!(&p[1..], &[BG, BG], "{format:?} t={t} inside chroma ({x}, {y})");
                        }
                    } else {
                        assert!(p.iter().all(|&c| c == BG), "{format:?} t={t} inside ({x}, {y}): {p:?}");
                    }
                }
            }
            // Right of the box and below it nothing is drawn.
            for (x, y) in [(bx + bw + 2, by + 5), (bx + 5, by + bh + 2), (W as usize - 1, H as usize - 1)] {
                assert_eq!(pixel(&frame, x, y)[0], BG, "{format:?} outside ({x}, {y})");
            }
            // The label sits on a band of the label colour above the box.
            let band: Vec<Vec<u8>> = (bx..bx + 20).map(|x| pixel(&frame, x, by - 5)).collect();
            let is_colour = |p: &Vec<u8>| if yuv { p[0] == colour.yuv[0] } else { p[..3] == colour.rgb };
            assert!(band.iter().any(is_colour), "{format:?}: no label band above the box");
            assert!(band.iter().any(|p| !is_colour(p) && p[0] != BG), "{format:?}: no text on the label band");
        }
    }
}

#[test]
fn frames_without_regions_pass_unchanged() {
    init();
    let info = VideoInfo::builder(VideoFormat::Rgb, W, H).fps(30).build().unwrap();
    let mut h = Harness::new("fpoverlay");
    h.set_src_caps(info.to_caps().unwrap());
    let data: Vec<u8> = (0..info.size()).map(|i| (i % 251) as u8).collect();
    let out = h.push_and_pull(gst::Buffer::from_slice(data.clone())).unwrap();
    assert_eq!(out.map_readable().unwrap().as_slice(), &data[..]);
}

#[test]
fn regions_partly_outside_are_clipped_when_drawn_on_odd_sizes() {
    init();
    for format in [VideoFormat::Nv12, VideoFormat::I420, VideoFormat::Rgb, VideoFormat::Bgrx] {
        // 31 pixels wide: padded rows in RGB, odd chroma sizes in YUV.
        let info = VideoInfo::builder(format, 31, 17).fps(30).build().unwrap();
        let mut h = Harness::new("fpoverlay");
        h.set_src_caps(info.to_caps().unwrap());
        let mut buf = gst::Buffer::from_mut_slice(vec![BG; info.size()]);
        meta::add_region(
            buf.get_mut().unwrap(),
            31,
            17,
            &RegionSpec { x: 20.0, y: -5.0, w: 40.0, h: 40.0, label: "a-very-long-label", ..Default::default() },
        )
        .unwrap();
        let out = h.push_and_pull(buf).unwrap();
        let frame = gst_video::VideoFrame::from_buffer_readable(out, &info).unwrap();
        let colour = label_color("a-very-long-label");
        let want = if matches!(format, VideoFormat::Nv12 | VideoFormat::I420) { colour.yuv[0] } else { colour.rgb[0] };
        // Left edge of the clipped box, and its bottom-right corner at the frame's edge.
        assert_eq!(pixel(&frame, 20, 5)[0], want, "{format:?}");
        assert_eq!(pixel(&frame, 30, 16)[0], want, "{format:?}");
        assert_eq!(pixel(&frame, 25, 10)[0], BG, "{format:?}");
    }
}

#[test]
fn unsupported_formats_do_not_negotiate() {
    init();
    let mut h = Harness::new("fpoverlay");
    h.set_src_caps_str("video/x-raw,format=GRAY8,width=16,height=16,framerate=30/1");
    assert_eq!(h.push(gst::Buffer::with_size(256).unwrap()), Err(gst::FlowError::NotNegotiated));
}

#[test]
fn properties() {
    init();
    let e =
        gst::ElementFactory::make("fpoverlay").property("thickness", 7u32).property("labels", false).build().unwrap();
    assert_eq!(e.property::<u32>("thickness"), 7);
    assert!(!e.property::<bool>("labels"));
    assert_eq!(e.type_().name(), "GstFpOverlay");
}
