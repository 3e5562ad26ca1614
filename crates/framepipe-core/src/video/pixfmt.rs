//! The one table of raw pixel formats that GStreamer and FFmpeg both name: what `fpavfilter`
//! accepts and produces, and what any FFmpeg path of framepipe hands to GStreamer. Both
//! directions are lookups in [`PIXEL_FORMATS`], so the two sides cannot drift.

use ffmpeg_next::format::Pixel;
use gst_video::VideoFormat;

/// GStreamer raw video format, FFmpeg pixel format and FFmpeg's name for it. Formats that
/// one side lacks (GStreamer's v210, FFmpeg's yuvj*) are left out; FFmpeg converts
/// anything else to one of these inside a graph.
pub const PIXEL_FORMATS: &[(VideoFormat, Pixel, &str)] = &[
    (VideoFormat::I420, Pixel::YUV420P, "yuv420p"),
    (VideoFormat::Yv12, Pixel::YUV420P, "yuv420p"),
    (VideoFormat::Nv12, Pixel::NV12, "nv12"),
    (VideoFormat::Nv21, Pixel::NV21, "nv21"),
    (VideoFormat::Nv16, Pixel::NV16, "nv16"),
    (VideoFormat::Y42b, Pixel::YUV422P, "yuv422p"),
    (VideoFormat::Y444, Pixel::YUV444P, "yuv444p"),
    (VideoFormat::Y41b, Pixel::YUV411P, "yuv411p"),
    (VideoFormat::Yuv9, Pixel::YUV410P, "yuv410p"),
    (VideoFormat::Yuy2, Pixel::YUYV422, "yuyv422"),
    (VideoFormat::Uyvy, Pixel::UYVY422, "uyvy422"),
    (VideoFormat::Yvyu, Pixel::YVYU422, "yvyu422"),
    (VideoFormat::A420, Pixel::YUVA420P, "yuva420p"),
    (VideoFormat::I42010le, Pixel::YUV420P10LE, "yuv420p10le"),
    (VideoFormat::I42210le, Pixel::YUV422P10LE, "yuv422p10le"),
    (VideoFormat::Y44410le, Pixel::YUV444P10LE, "yuv444p10le"),
    (VideoFormat::I42012le, Pixel::YUV420P12LE, "yuv420p12le"),
    (VideoFormat::I42212le, Pixel::YUV422P12LE, "yuv422p12le"),
    (VideoFormat::Y44412le, Pixel::YUV444P12LE, "yuv444p12le"),
    (VideoFormat::Y44416le, Pixel::YUV444P16LE, "yuv444p16le"),
    (VideoFormat::P01010le, Pixel::P010LE, "p010le"),
    (VideoFormat::Rgb, Pixel::RGB24, "rgb24"),
    (VideoFormat::Bgr, Pixel::BGR24, "bgr24"),
    (VideoFormat::Rgba, Pixel::RGBA, "rgba"),
    (VideoFormat::Bgra, Pixel::BGRA, "bgra"),
    (VideoFormat::Argb, Pixel::ARGB, "argb"),
    (VideoFormat::Abgr, Pixel::ABGR, "abgr"),
    (VideoFormat::Rgbx, Pixel::RGBZ, "rgb0"),
    (VideoFormat::Bgrx, Pixel::BGRZ, "bgr0"),
    (VideoFormat::Xrgb, Pixel::ZRGB, "0rgb"),
    (VideoFormat::Xbgr, Pixel::ZBGR, "0bgr"),
    (VideoFormat::Gbr, Pixel::GBRP, "gbrp"),
    (VideoFormat::Gbra, Pixel::GBRAP, "gbrap"),
    (VideoFormat::Gbr10le, Pixel::GBRP10LE, "gbrp10le"),
    (VideoFormat::Rgba64Le, Pixel::RGBA64LE, "rgba64le"),
    (VideoFormat::Rgb16, Pixel::RGB565LE, "rgb565le"),
    (VideoFormat::Bgr16, Pixel::BGR565LE, "bgr565le"),
    (VideoFormat::Gray8, Pixel::GRAY8, "gray"),
    (VideoFormat::Gray16Le, Pixel::GRAY16LE, "gray16le"),
    (VideoFormat::Gray16Be, Pixel::GRAY16BE, "gray16be"),
];

/// FFmpeg's pixel format for a GStreamer format.
pub fn to_ffmpeg(format: VideoFormat) -> Option<Pixel> {
    PIXEL_FORMATS.iter().find(|e| e.0 == format).map(|e| e.1)
}

/// GStreamer's format for an FFmpeg pixel format (the first row that names it: I420 for
/// yuv420p).
pub fn to_gstreamer(format: Pixel) -> Option<VideoFormat> {
    PIXEL_FORMATS.iter().find(|e| e.1 == format).map(|e| e.0)
}

/// FFmpeg's name of a GStreamer format ("yuv420p" for I420).
pub fn ffmpeg_name(format: VideoFormat) -> Option<&'static str> {
    PIXEL_FORMATS.iter().find(|e| e.0 == format).map(|e| e.2)
}

/// The GStreamer format of an FFmpeg pixel format name ("rgb24" -> RGB).
pub fn from_ffmpeg_name(name: &str) -> Option<VideoFormat> {
    PIXEL_FORMATS.iter().find(|e| e.2 == name).map(|e| e.0)
}

/// Every GStreamer format of the table, in table order (caps lists).
pub fn gstreamer_formats() -> Vec<VideoFormat> {
    let mut out: Vec<VideoFormat> = Vec::new();
    for e in PIXEL_FORMATS {
        if !out.contains(&e.0) {
            out.push(e.0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips() {
        for &(gst, ff, name) in PIXEL_FORMATS {
            assert_eq!(to_ffmpeg(gst), Some(ff), "{gst:?}");
            assert_eq!(from_ffmpeg_name(name).and_then(to_ffmpeg), Some(ff), "{name}");
            // Every FFmpeg format maps back to a GStreamer format with the same FFmpeg format.
            assert_eq!(to_gstreamer(ff).and_then(to_ffmpeg), Some(ff), "{name}");
        }
    }

    #[test]
    fn names_are_ffmpegs() {
        for &(_, ff, name) in PIXEL_FORMATS {
            let desc = ff.descriptor().expect("descriptor");
            assert_eq!(desc.name(), name);
        }
    }
}
