//! The pixel formats a reader can hand out, by their FFmpeg names.

use gst_video::VideoFormat;

use super::pixfmt::{self, PixelFormat};
use crate::layout::Dtype;
use crate::{Error, Result};

/// A reader's output pixel format, named as FFmpeg (and imageio's pyav plugin) names it.
///
/// `Gray` and `Gray16le` are **full range** (black 0, white 255 / 65535), as FFmpeg's `gray`
/// is: GStreamer's videoconvert keeps limited-range luma (16-235) for GRAY8, so the reader
/// expands the range itself. `Yuv444p` is planar and viewed as (3, H, W).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Rgb24,
    Bgr24,
    Rgba,
    Bgra,
    Gray,
    Gray16le,
    Rgb48le,
    Yuv444p,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 8] = [
        OutputFormat::Rgb24,
        OutputFormat::Bgr24,
        OutputFormat::Rgba,
        OutputFormat::Bgra,
        OutputFormat::Gray,
        OutputFormat::Gray16le,
        OutputFormat::Rgb48le,
        OutputFormat::Yuv444p,
    ];

    /// Parses an FFmpeg pixel format name ("rgb24", "gray", ...); the error lists the valid ones.
    pub fn from_name(name: &str) -> Result<OutputFormat> {
        OutputFormat::ALL.into_iter().find(|f| f.name() == name.to_ascii_lowercase()).ok_or_else(|| {
            let names: Vec<&str> = OutputFormat::ALL.iter().map(|f| f.name()).collect();
            Error::Value(format!("unknown pixel format {name:?}: expected one of {}", names.join(", ")))
        })
    }

    /// The row of the pixel-format table: names, depth, components and planes.
    pub fn pixel_format(self) -> &'static PixelFormat {
        match self {
            OutputFormat::Rgb24 => &pixfmt::RGB24,
            OutputFormat::Bgr24 => &pixfmt::BGR24,
            OutputFormat::Rgba => &pixfmt::RGBA,
            OutputFormat::Bgra => &pixfmt::BGRA,
            OutputFormat::Gray => &pixfmt::GRAY,
            OutputFormat::Gray16le => &pixfmt::GRAY16LE,
            OutputFormat::Rgb48le => &pixfmt::RGB48LE,
            OutputFormat::Yuv444p => &pixfmt::YUV444P,
        }
    }

    /// The FFmpeg name.
    pub fn name(self) -> &'static str {
        self.pixel_format().name
    }

    /// The GStreamer raw video format the reader asks videoconvert for.
    pub fn video_format(self) -> VideoFormat {
        // GStreamer has no 48-bit RGB: frames come as RGBA64_LE and the (H, W, 3) view skips
        // the alpha word (see `VideoFrame::view`).
        self.pixel_format().gstreamer.unwrap_or(VideoFormat::Rgba64Le)
    }

    /// The shape and dtype of a contiguous `width` x `height` frame: (H, W, C) packed, (H, W)
    /// for one component, (C, H, W) planar; uint16 above 8 bits.
    pub fn array_shape(self, width: usize, height: usize) -> (Vec<usize>, Dtype) {
        let p = self.pixel_format();
        let c = usize::from(p.components);
        let shape = match (p.planes, c) {
            (1, 1) => vec![height, width],
            (1, _) => vec![height, width, c],
            _ => vec![c, height, width],
        };
        (shape, if p.is_wide() { Dtype::U16 } else { Dtype::U8 })
    }

    /// The caps videoconvert is asked for.
    pub(crate) fn caps_string(self) -> String {
        match self {
            // Limited range is what videoconvert produces exactly (luma copied); the reader
            // expands it to full range afterwards.
            OutputFormat::Gray | OutputFormat::Gray16le => {
                format!("video/x-raw,format={},colorimetry=(string)2:0:0:0", self.video_format().to_str())
            }
            _ => format!("video/x-raw,format={}", self.video_format().to_str()),
        }
    }

    /// Whether frames need the limited -> full range expansion.
    pub(crate) fn expands_range(self) -> bool {
        matches!(self, OutputFormat::Gray | OutputFormat::Gray16le)
    }
}

/// What each luma value becomes in full-range gray with `out_max` as white (255 or 65535),
/// rounded: limited range (16-235, scaled for higher depths) is expanded, full range scaled.
pub(crate) fn luma_table(depth: u32, full_range: bool, out_max: i64) -> Vec<u16> {
    let (lo, span) = if full_range { (0, (1i64 << depth) - 1) } else { (16i64 << (depth - 8), 219i64 << (depth - 8)) };
    (0..1i64 << depth).map(|v| ((v - lo) * out_max + span / 2).div_euclid(span).clamp(0, out_max) as u16).collect()
}

/// Limited-range (16-235) luma to full range (0-255), rounded, as FFmpeg's `gray` is.
pub(crate) fn full_range_lut() -> [u8; 256] {
    let mut lut = [0u8; 256];
    for (v, full) in lut.iter_mut().zip(luma_table(8, false, 255)) {
        *v = full as u8;
    }
    lut
}

/// Expands limited-range 8-bit luma in place.
pub(crate) fn expand_gray8(data: &mut [u8], lut: &[u8; 256]) {
    for p in data {
        *p = lut[*p as usize];
    }
}

/// Expands limited-range 16-bit little-endian luma (16*257 .. 235*257) in place.
pub(crate) fn expand_gray16(data: &mut [u8]) {
    const LO: i64 = 16 * 257;
    const SPAN: i64 = 219 * 257;
    for px in data.chunks_exact_mut(2) {
        let v = u16::from_le_bytes([px[0], px[1]]) as i64;
        let full = ((v - LO) * 65535 + SPAN / 2).div_euclid(SPAN).clamp(0, 65535) as u16;
        px.copy_from_slice(&full.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in OutputFormat::ALL {
            assert_eq!(OutputFormat::from_name(f.name()).unwrap(), f);
        }
        let err = OutputFormat::from_name("yuv420x").unwrap_err().to_string();
        assert_eq!(OutputFormat::Rgb48le.video_format(), VideoFormat::Rgba64Le);
        assert_eq!(OutputFormat::Yuv444p.array_shape(5, 3), (vec![3, 3, 5], Dtype::U8));
        assert_eq!(OutputFormat::Gray16le.array_shape(5, 3), (vec![3, 5], Dtype::U16));
        assert_eq!(OutputFormat::Rgba.array_shape(5, 3), (vec![3, 5, 4], Dtype::U8));
        assert!(err.contains("rgb24") && err.contains("yuv444p"), "{err}");
    }

    #[test]
    fn gray_lut_is_full_range() {
        let lut = full_range_lut();
        assert_eq!((lut[0], lut[16], lut[126], lut[235], lut[255]), (0, 0, 128, 255, 255));
        let mut v = (16u16 * 257).to_le_bytes().to_vec();
        v.extend((235u16 * 257).to_le_bytes());
        expand_gray16(&mut v);
        assert_eq!(v, [0, 0, 255, 255]);
    }
}
