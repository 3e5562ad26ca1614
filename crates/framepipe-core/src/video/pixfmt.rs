//! The one table of raw pixel formats: GStreamer's and FFmpeg's names, bit depth, components
//! and planes. `fpavfilter` accepts and produces its formats, the readers' output formats
//! ([`super::OutputFormat`]) and their array layouts are rows of it, the index names a stream's
//! decoded format and the writer its encoded one from it. Every direction is a lookup in
//! [`PIXEL_FORMATS`], so the GStreamer and FFmpeg paths cannot drift.

use ffmpeg_next::format::Pixel;
use gst_video::VideoFormat;

/// One pixel format as both libraries name it, and its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    /// FFmpeg's name ("yuv420p"), also framepipe's name of a format.
    pub name: &'static str,
    /// FFmpeg's pixel format.
    pub ffmpeg: Pixel,
    /// GStreamer's raw video format; `None` where GStreamer has none (rgb48le).
    pub gstreamer: Option<VideoFormat>,
    /// Bits per component (8, 10, 12, 16; 5 for RGB565).
    pub depth: u8,
    /// Components: 1 for gray, 3 for YUV and RGB, 4 with alpha (padding bytes do not count).
    pub components: u8,
    /// Planes: 1 packed, 2 semi-planar (NV12), 3 or 4 planar.
    pub planes: u8,
}

impl PixelFormat {
    const fn new(
        name: &'static str,
        ffmpeg: Pixel,
        gstreamer: Option<VideoFormat>,
        depth: u8,
        components: u8,
        planes: u8,
    ) -> PixelFormat {
        PixelFormat { name, ffmpeg, gstreamer, depth, components, planes }
    }

    /// Whether a sample takes two bytes (depth above 8).
    pub fn is_wide(&self) -> bool {
        self.depth > 8
    }
}

/// Every format framepipe names, GStreamer's and FFmpeg's side by side. Formats that
/// GStreamer lacks have no GStreamer format (rgb48le, which readers hand out); FFmpeg-only
/// formats (yuvj*) are left out: FFmpeg converts anything else to one of these inside a graph.
pub const PIXEL_FORMATS: &[PixelFormat] = &[
    PixelFormat::new("yuv420p", Pixel::YUV420P, Some(VideoFormat::I420), 8, 3, 3),
    PixelFormat::new("yuv420p", Pixel::YUV420P, Some(VideoFormat::Yv12), 8, 3, 3),
    PixelFormat::new("nv12", Pixel::NV12, Some(VideoFormat::Nv12), 8, 3, 2),
    PixelFormat::new("nv21", Pixel::NV21, Some(VideoFormat::Nv21), 8, 3, 2),
    PixelFormat::new("nv16", Pixel::NV16, Some(VideoFormat::Nv16), 8, 3, 2),
    PixelFormat::new("yuv422p", Pixel::YUV422P, Some(VideoFormat::Y42b), 8, 3, 3),
    PixelFormat::new("yuv444p", Pixel::YUV444P, Some(VideoFormat::Y444), 8, 3, 3),
    PixelFormat::new("yuv411p", Pixel::YUV411P, Some(VideoFormat::Y41b), 8, 3, 3),
    PixelFormat::new("yuv410p", Pixel::YUV410P, Some(VideoFormat::Yuv9), 8, 3, 3),
    PixelFormat::new("yuyv422", Pixel::YUYV422, Some(VideoFormat::Yuy2), 8, 3, 1),
    PixelFormat::new("uyvy422", Pixel::UYVY422, Some(VideoFormat::Uyvy), 8, 3, 1),
    PixelFormat::new("yvyu422", Pixel::YVYU422, Some(VideoFormat::Yvyu), 8, 3, 1),
    PixelFormat::new("yuva420p", Pixel::YUVA420P, Some(VideoFormat::A420), 8, 4, 4),
    PixelFormat::new("yuv420p10le", Pixel::YUV420P10LE, Some(VideoFormat::I42010le), 10, 3, 3),
    PixelFormat::new("yuv422p10le", Pixel::YUV422P10LE, Some(VideoFormat::I42210le), 10, 3, 3),
    PixelFormat::new("yuv444p10le", Pixel::YUV444P10LE, Some(VideoFormat::Y44410le), 10, 3, 3),
    PixelFormat::new("yuv420p12le", Pixel::YUV420P12LE, Some(VideoFormat::I42012le), 12, 3, 3),
    PixelFormat::new("yuv422p12le", Pixel::YUV422P12LE, Some(VideoFormat::I42212le), 12, 3, 3),
    PixelFormat::new("yuv444p12le", Pixel::YUV444P12LE, Some(VideoFormat::Y44412le), 12, 3, 3),
    PixelFormat::new("yuv444p16le", Pixel::YUV444P16LE, Some(VideoFormat::Y44416le), 16, 3, 3),
    PixelFormat::new("p010le", Pixel::P010LE, Some(VideoFormat::P01010le), 10, 3, 2),
    PixelFormat::new("rgb24", Pixel::RGB24, Some(VideoFormat::Rgb), 8, 3, 1),
    PixelFormat::new("bgr24", Pixel::BGR24, Some(VideoFormat::Bgr), 8, 3, 1),
    PixelFormat::new("rgba", Pixel::RGBA, Some(VideoFormat::Rgba), 8, 4, 1),
    PixelFormat::new("bgra", Pixel::BGRA, Some(VideoFormat::Bgra), 8, 4, 1),
    PixelFormat::new("argb", Pixel::ARGB, Some(VideoFormat::Argb), 8, 4, 1),
    PixelFormat::new("abgr", Pixel::ABGR, Some(VideoFormat::Abgr), 8, 4, 1),
    PixelFormat::new("rgb0", Pixel::RGBZ, Some(VideoFormat::Rgbx), 8, 3, 1),
    PixelFormat::new("bgr0", Pixel::BGRZ, Some(VideoFormat::Bgrx), 8, 3, 1),
    PixelFormat::new("0rgb", Pixel::ZRGB, Some(VideoFormat::Xrgb), 8, 3, 1),
    PixelFormat::new("0bgr", Pixel::ZBGR, Some(VideoFormat::Xbgr), 8, 3, 1),
    PixelFormat::new("gbrp", Pixel::GBRP, Some(VideoFormat::Gbr), 8, 3, 3),
    PixelFormat::new("gbrap", Pixel::GBRAP, Some(VideoFormat::Gbra), 8, 4, 4),
    PixelFormat::new("gbrp10le", Pixel::GBRP10LE, Some(VideoFormat::Gbr10le), 10, 3, 3),
    PixelFormat::new("rgba64le", Pixel::RGBA64LE, Some(VideoFormat::Rgba64Le), 16, 4, 1),
    PixelFormat::new("rgb48le", Pixel::RGB48LE, None, 16, 3, 1),
    PixelFormat::new("rgb565le", Pixel::RGB565LE, Some(VideoFormat::Rgb16), 5, 3, 1),
    PixelFormat::new("bgr565le", Pixel::BGR565LE, Some(VideoFormat::Bgr16), 5, 3, 1),
    PixelFormat::new("gray", Pixel::GRAY8, Some(VideoFormat::Gray8), 8, 1, 1),
    PixelFormat::new("gray16le", Pixel::GRAY16LE, Some(VideoFormat::Gray16Le), 16, 1, 1),
    PixelFormat::new("gray16be", Pixel::GRAY16BE, Some(VideoFormat::Gray16Be), 16, 1, 1),
];

/// The row named `name`, found at compile time (a name missing from the table does not
/// compile).
const fn row(name: &str) -> PixelFormat {
    let mut i = 0;
    while i < PIXEL_FORMATS.len() {
        let (a, b) = (PIXEL_FORMATS[i].name.as_bytes(), name.as_bytes());
        let mut same = a.len() == b.len();
        let mut k = 0;
        while same && k < a.len() {
            same = a[k] == b[k];
            k += 1;
        }
        if same {
            return PIXEL_FORMATS[i];
        }
        i += 1;
    }
    panic!("no such pixel format in PIXEL_FORMATS")
}

// The readers' output formats (`OutputFormat`).
pub const RGB24: PixelFormat = row("rgb24");
pub const BGR24: PixelFormat = row("bgr24");
pub const RGBA: PixelFormat = row("rgba");
pub const BGRA: PixelFormat = row("bgra");
pub const GRAY: PixelFormat = row("gray");
pub const GRAY16LE: PixelFormat = row("gray16le");
/// 48-bit RGB, which GStreamer lacks (its readers hand out RGBA64_LE instead).
pub const RGB48LE: PixelFormat = row("rgb48le");
pub const YUV444P: PixelFormat = row("yuv444p");

/// The row of an FFmpeg pixel format name ("rgb24"); yuvj* names are their yuv* rows (JPEG's
/// full range is a colorimetry, not a layout).
pub fn by_name(name: &str) -> Option<&'static PixelFormat> {
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix("yuvj").map_or(name.clone(), |rest| format!("yuv{rest}"));
    PIXEL_FORMATS.iter().find(|e| e.name == name)
}

/// The row of a GStreamer format (the first that names it).
pub fn by_gstreamer(format: VideoFormat) -> Option<&'static PixelFormat> {
    PIXEL_FORMATS.iter().find(|e| e.gstreamer == Some(format))
}

/// FFmpeg's pixel format for a GStreamer format.
pub fn to_ffmpeg(format: VideoFormat) -> Option<Pixel> {
    by_gstreamer(format).map(|e| e.ffmpeg)
}

/// GStreamer's format for an FFmpeg pixel format (the first row that names it: I420 for
/// yuv420p).
pub fn to_gstreamer(format: Pixel) -> Option<VideoFormat> {
    PIXEL_FORMATS.iter().find(|e| e.ffmpeg == format).and_then(|e| e.gstreamer)
}

/// FFmpeg's name of a GStreamer format ("yuv420p" for I420).
pub fn ffmpeg_name(format: VideoFormat) -> Option<&'static str> {
    by_gstreamer(format).map(|e| e.name)
}

/// The GStreamer format of an FFmpeg pixel format name ("rgb24" -> RGB).
pub fn from_ffmpeg_name(name: &str) -> Option<VideoFormat> {
    by_name(name).and_then(|e| e.gstreamer)
}

/// Every GStreamer format of the table, in table order (caps lists).
pub fn gstreamer_formats() -> Vec<VideoFormat> {
    let mut out: Vec<VideoFormat> = Vec::new();
    for f in PIXEL_FORMATS.iter().filter_map(|e| e.gstreamer) {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips() {
        for e in PIXEL_FORMATS {
            assert_eq!(by_name(e.name).map(|r| r.ffmpeg), Some(e.ffmpeg), "{}", e.name);
            let Some(gst) = e.gstreamer else { continue };
            assert_eq!(to_ffmpeg(gst), Some(e.ffmpeg), "{gst:?}");
            // Every FFmpeg format maps back to a GStreamer format with the same FFmpeg format.
            assert_eq!(to_gstreamer(e.ffmpeg).and_then(to_ffmpeg), Some(e.ffmpeg), "{}", e.name);
        }
        assert_eq!(by_name("yuvj420p").map(|e| e.gstreamer), Some(Some(VideoFormat::I420)));
        assert_eq!(to_gstreamer(Pixel::RGB48LE), None);
    }

    #[test]
    fn names_and_layouts_are_ffmpegs() {
        for e in PIXEL_FORMATS {
            let desc = e.ffmpeg.descriptor().expect("descriptor");
            assert_eq!(desc.name(), e.name);
            assert_eq!(desc.nb_components(), e.components, "{}", e.name);
            // SAFETY: the descriptor is FFmpeg's static table entry for this format.
            let depth = unsafe { (*desc.as_ptr()).comp[0].depth };
            // RGB565's first component (red) is 5 bits; green is 6.
            assert_eq!(depth as u8, e.depth, "{}", e.name);
            // SAFETY: a plain lookup in FFmpeg's static tables.
            let planes = unsafe { ffmpeg_next::ffi::av_pix_fmt_count_planes(e.ffmpeg.into()) };
            assert_eq!(planes, i32::from(e.planes), "{}", e.name);
        }
    }
}
