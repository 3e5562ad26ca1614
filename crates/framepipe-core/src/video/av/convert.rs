//! Decoded frames to the output formats with swscale, as FFmpeg itself converts them
//! (`ffmpeg -i f -pix_fmt rgb24`): the stream's signalled matrix (BT.601/709/2020) and range
//! (limited/full); an unsignalled matrix is BT.601 at every size, FFmpeg's convention
//! (swscale's default, and so PyAV's, torchcodec's and OpenCV's). `colorspace=` and
//! `color_range=` override what the stream says, for mis-tagged files.
//!
//! `gray` and `gray16le` are full-range luma taken from the luma plane through the same
//! table the GStreamer path uses ([`crate::video::format`]), for every YUV input.

use std::ptr;

use ffmpeg_next::ffi as ff;

use super::pix_fmt;
use crate::layout::View;
use crate::video::OutputFormat;
use crate::video::format::luma_table;
use crate::{Error, Result};

/// A YUV -> RGB matrix (`colorspace=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColorSpace {
    Bt601,
    Bt709,
    Bt2020,
}

impl ColorSpace {
    /// Parses FFmpeg's names ("bt601", "bt470bg", "smpte170m", "bt709", "bt2020nc", ...).
    pub fn from_name(name: &str) -> Result<ColorSpace> {
        match name.to_ascii_lowercase().replace(['-', '_', '.'], "").as_str() {
            "bt601" | "601" | "bt470bg" | "smpte170m" | "fcc" => Ok(ColorSpace::Bt601),
            "bt709" | "709" => Ok(ColorSpace::Bt709),
            "bt2020" | "2020" | "bt2020nc" | "bt2020ncl" | "bt2020c" | "bt2020cl" => Ok(ColorSpace::Bt2020),
            _ => Err(Error::Value(format!("unknown colorspace {name:?}: expected bt601, bt709 or bt2020"))),
        }
    }

    /// swscale's (and AVColorSpace's) number for it.
    fn sws(self) -> i32 {
        match self {
            ColorSpace::Bt601 => 5,
            ColorSpace::Bt709 => 1,
            ColorSpace::Bt2020 => 9,
        }
    }
}

/// Limited (16-235) or full (0-255) YUV range (`color_range=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColorRange {
    Limited,
    Full,
}

impl ColorRange {
    /// Parses "limited"/"tv"/"mpeg" and "full"/"pc"/"jpeg".
    pub fn from_name(name: &str) -> Result<ColorRange> {
        match name.to_ascii_lowercase().as_str() {
            "limited" | "tv" | "mpeg" => Ok(ColorRange::Limited),
            "full" | "pc" | "jpeg" => Ok(ColorRange::Full),
            _ => Err(Error::Value(format!("unknown color_range {name:?}: expected limited (tv) or full (pc)"))),
        }
    }
}

/// Overrides of what the stream signals (None: as signalled, FFmpeg's convention when not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ColorOptions {
    pub colorspace: Option<ColorSpace>,
    pub range: Option<ColorRange>,
}

/// The contiguous layout of one converted frame: its byte size and its array view (offset 0).
pub(crate) fn frame_layout(format: OutputFormat, width: usize, height: usize) -> (usize, View) {
    let (shape, dtype) = format.array_shape(width, height);
    let mut strides = vec![0isize; shape.len()];
    let mut step = dtype.size() as isize;
    for (s, &n) in strides.iter_mut().zip(&shape).rev() {
        *s = step;
        step *= n as isize;
    }
    (step as usize, View { offset: 0, shape, strides, dtype })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    src: i32,
    width: i32,
    height: i32,
    dst: OutputFormat,
    colorspace: i32,
    full: bool,
}

/// Converts decoded frames; keeps its swscale context (and gray table) while the input
/// stays the same.
pub(crate) struct Converter {
    sws: *mut ff::SwsContext,
    key: Option<Key>,
    lut: Option<((u32, bool, bool), Vec<u16>)>,
    /// Padded rows for widths swscale's SIMD code cannot write packed.
    scratch: Vec<u8>,
}

// SAFETY: a SwsContext is used by one thread at a time (through &mut self).
unsafe impl Send for Converter {}

impl Converter {
    pub fn new() -> Converter {
        Converter { sws: ptr::null_mut(), key: None, lut: None, scratch: Vec::new() }
    }

    /// Converts `frame` (a decoded AVFrame) into `dst`, laid out as [`frame_layout`] says.
    pub fn convert(
        &mut self,
        frame: *const ff::AVFrame,
        format: OutputFormat,
        colors: ColorOptions,
        dst: &mut [u8],
    ) -> Result<()> {
        // SAFETY: frame is a decoded frame the caller holds for this call.
        let f = unsafe { &*frame };
        let (width, height) = (f.width, f.height);
        let (size, _) = frame_layout(format, width as usize, height as usize);
        if dst.len() != size {
            return Err(Error::Value(format!("a {width}x{height} {} frame needs {size} bytes", format.name())));
        }
        let src = pix_fmt(f.format).ok_or_else(|| Error::Media(format!("unknown pixel format {}", f.format)))?;
        // SAFETY: src is a valid pixel format; the descriptor is static.
        let desc = unsafe { &*ff::av_pix_fmt_desc_get(src) };
        let is_rgb = desc.flags & (ff::AV_PIX_FMT_FLAG_RGB as u64 | ff::AV_PIX_FMT_FLAG_PAL as u64) != 0;
        let jpeg = matches!(
            src,
            ff::AVPixelFormat::AV_PIX_FMT_YUVJ420P
                | ff::AVPixelFormat::AV_PIX_FMT_YUVJ422P
                | ff::AVPixelFormat::AV_PIX_FMT_YUVJ444P
                | ff::AVPixelFormat::AV_PIX_FMT_YUVJ440P
                | ff::AVPixelFormat::AV_PIX_FMT_YUVJ411P
        );
        let full = match colors.range {
            Some(r) => r == ColorRange::Full,
            None => f.color_range == ff::AVColorRange::AVCOL_RANGE_JPEG || jpeg,
        };
        if matches!(format, OutputFormat::Gray | OutputFormat::Gray16le) && !is_rgb {
            let luma = desc.comp[0];
            let depth = luma.depth as u32;
            let big_endian = desc.flags & ff::AV_PIX_FMT_FLAG_BE as u64 != 0;
            let plain = luma.plane == 0
                && luma.offset == 0
                && luma.shift == 0
                && !big_endian
                && ((depth <= 8 && luma.step == 1) || (depth > 8 && depth <= 16 && luma.step == 2));
            if plain {
                self.gray(f, depth, full, format == OutputFormat::Gray16le, dst);
                return Ok(());
            }
        }
        let colorspace = match colors.colorspace {
            Some(c) => c.sws(),
            None => f.colorspace as i32,
        };
        let key = Key { src: f.format, width, height, dst: format, colorspace, full };
        if self.key != Some(key) {
            self.free();
            // SAFETY: sizes and formats are valid; null filters and params are allowed.
            self.sws = unsafe {
                ff::sws_getContext(
                    width,
                    height,
                    src,
                    width,
                    height,
                    format.pixel_format().ffmpeg.into(),
                    ff::SWS_BICUBIC,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null(),
                )
            };
            if self.sws.is_null() {
                return Err(Error::Media(format!(
                    "swscale cannot convert {} {width}x{height} to {}",
                    super::pix_fmt_name(f.format),
                    format.name()
                )));
            }
            let dst_yuv = format == OutputFormat::Yuv444p;
            // SAFETY: sws is a live context; the coefficient tables are static.
            unsafe {
                let inv = ff::sws_getCoefficients(colorspace);
                let table = if dst_yuv { inv } else { ff::sws_getCoefficients(ff::SWS_CS_DEFAULT) };
                let dst_full = if dst_yuv { full } else { true };
                ff::sws_setColorspaceDetails(self.sws, inv, full as i32, table, dst_full as i32, 0, 1 << 16, 1 << 16);
            }
            self.key = Some(key);
        }
        let (w, h) = (width as usize, height as usize);
        let planar = format == OutputFormat::Yuv444p;
        let n_planes = if planar { 3 } else { 1 };
        let row = if planar { w } else { size / (h.max(1)) };
        // swscale's SIMD converters write whole blocks of 8 or 16 pixels: at a width that is
        // not a multiple of 16 they skip (or overrun) the last columns of a tightly packed
        // row. Such frames go through padded rows, as FFmpeg's own frames have, then are
        // packed.
        let padded = w % 16 != 0;
        let stride = if padded { (row + 64 * 2).next_multiple_of(64) } else { row };
        let plane_size = stride * (h + 2);
        if padded && self.scratch.len() < plane_size * n_planes {
            self.scratch = vec![0u8; plane_size * n_planes];
        }
        let base = if padded { self.scratch.as_mut_ptr() } else { dst.as_mut_ptr() };
        let step = if padded { plane_size } else { w * h };
        let mut planes = [ptr::null_mut::<u8>(); 4];
        let mut strides = [0i32; 4];
        for p in 0..n_planes {
            // SAFETY: plane p starts p * step bytes into a buffer of n_planes * step bytes or
            // more (dst was checked to be `size` bytes, the scratch to hold every plane).
            planes[p] = unsafe { base.add(p * step) };
            strides[p] = stride as i32;
        }
        // SAFETY: the source planes belong to the decoded frame; the destination planes lie
        // within dst (or the scratch) with the strides given.
        let rows = unsafe {
            ff::sws_scale(
                self.sws,
                f.data.as_ptr() as *const *const u8,
                f.linesize.as_ptr(),
                0,
                height,
                planes.as_ptr(),
                strides.as_ptr(),
            )
        };
        if rows != height {
            return Err(Error::Media(format!("swscale converted {rows} of {height} rows")));
        }
        if padded {
            for p in 0..n_planes {
                let src = &self.scratch[p * plane_size..];
                let out = if planar { &mut dst[p * w * h..(p + 1) * w * h] } else { &mut *dst };
                for (y, line) in out.chunks_exact_mut(row).enumerate() {
                    line.copy_from_slice(&src[y * stride..y * stride + row]);
                }
            }
        }
        Ok(())
    }

    /// Full-range gray from the luma plane through the shared luma table.
    fn gray(&mut self, f: &ff::AVFrame, depth: u32, full: bool, wide: bool, dst: &mut [u8]) {
        let key = (depth, full, wide);
        if self.lut.as_ref().is_none_or(|(k, _)| *k != key) {
            self.lut = Some((key, luma_table(depth.max(8), full, if wide { 65535 } else { 255 })));
        }
        let Some((_, lut)) = &self.lut else { return };
        let (w, h) = (f.width as usize, f.height as usize);
        let out_px = if wide { 2 } else { 1 };
        let in_px = if depth > 8 { 2 } else { 1 };
        let max = lut.len() - 1;
        for y in 0..h {
            // SAFETY: plane 0 of a decoded frame holds `height` rows of `linesize` bytes,
            // each with at least width * in_px bytes of luma.
            let row =
                unsafe { std::slice::from_raw_parts(f.data[0].offset(y as isize * f.linesize[0] as isize), w * in_px) };
            let out = &mut dst[y * w * out_px..(y + 1) * w * out_px];
            match (in_px, wide) {
                (1, false) => out.iter_mut().zip(row).for_each(|(o, &v)| *o = lut[v as usize] as u8),
                (1, true) => out
                    .chunks_exact_mut(2)
                    .zip(row)
                    .for_each(|(o, &v)| o.copy_from_slice(&lut[v as usize].to_le_bytes())),
                (_, false) => out.iter_mut().zip(row.chunks_exact(2)).for_each(|(o, v)| {
                    *o = lut[(u16::from_le_bytes([v[0], v[1]]) as usize).min(max)] as u8;
                }),
                _ => out.chunks_exact_mut(2).zip(row.chunks_exact(2)).for_each(|(o, v)| {
                    o.copy_from_slice(&lut[(u16::from_le_bytes([v[0], v[1]]) as usize).min(max)].to_le_bytes())
                }),
            }
        }
    }

    fn free(&mut self) {
        if !self.sws.is_null() {
            // SAFETY: allocated by sws_getContext, freed once.
            unsafe { ff::sws_freeContext(self.sws) };
            self.sws = ptr::null_mut();
        }
        self.key = None;
    }
}

impl Drop for Converter {
    fn drop(&mut self) {
        self.free();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Dtype;

    #[test]
    fn names() {
        assert_eq!(ColorSpace::from_name("BT.709").unwrap(), ColorSpace::Bt709);
        assert_eq!(ColorSpace::from_name("smpte170m").unwrap(), ColorSpace::Bt601);
        assert_eq!(ColorSpace::from_name("bt2020nc").unwrap(), ColorSpace::Bt2020);
        assert!(ColorSpace::from_name("xyz").unwrap_err().to_string().contains("bt709"));
        assert_eq!(ColorRange::from_name("pc").unwrap(), ColorRange::Full);
        assert_eq!(ColorRange::from_name("tv").unwrap(), ColorRange::Limited);
        assert!(ColorRange::from_name("half").is_err());
    }

    #[test]
    fn layouts_are_contiguous() {
        let (n, v) = frame_layout(OutputFormat::Rgb24, 5, 3);
        assert_eq!((n, v.shape, v.strides), (45, vec![3, 5, 3], vec![15, 3, 1]));
        let (n, v) = frame_layout(OutputFormat::Rgb48le, 5, 3);
        assert_eq!((n, v.strides), (90, vec![30, 6, 2]));
        let (n, v) = frame_layout(OutputFormat::Yuv444p, 5, 3);
        assert_eq!((n, v.shape), (45, vec![3, 3, 5]));
        let (n, v) = frame_layout(OutputFormat::Gray16le, 5, 3);
        assert_eq!((n, v.shape, v.dtype), (30, vec![3, 5], Dtype::U16));
    }
}
