//! The array a frame of any FFmpeg pixel format is, laid out as imageio's pyav plugin lays
//! frames out: planes first ((planes, H, W)), packed components last ((H, W, C)), one
//! channel as (H, W). Formats that are not one strided array (chroma subsampled, components
//! of a size that is not whole bytes, planes of different line sizes such as nv24) have no
//! layout: imageio raises OSError for them.

use std::ffi::CString;
use std::ptr;

use ffmpeg_next::ffi as ff;

use crate::{Error, Result};

/// One frame's array: its shape and element type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StridedLayout {
    pub shape: Vec<usize>,
    /// numpy's dtype string: "uint8", "<u2", ">u2", "<f4", ...
    pub dtype: String,
}

/// The layout of a `width` x `height` frame of pixel format `name` (FFmpeg's name, e.g.
/// "yuv444p", "rgb48be", "gbrp"): `Ok(None)` when it is not one strided array, `Error::Value`
/// for a name FFmpeg does not know.
pub fn strided_layout(name: &str, width: usize, height: usize) -> Result<Option<StridedLayout>> {
    let c_name = CString::new(name).map_err(|_| Error::Value(format!("unknown pixel format {name:?}")))?;
    // SAFETY: a NUL-terminated name; returns AV_PIX_FMT_NONE when unknown.
    let fmt = unsafe { ff::av_get_pix_fmt(c_name.as_ptr()) };
    if fmt == ff::AVPixelFormat::AV_PIX_FMT_NONE {
        return Err(Error::Value(format!("unknown pixel format {name:?}")));
    }
    // SAFETY: fmt is a valid pixel format; the descriptor is static.
    let desc = unsafe { ff::av_pix_fmt_desc_get(fmt) };
    if desc.is_null() {
        return Err(Error::Value(format!("unknown pixel format {name:?}")));
    }
    // SAFETY: non-null static descriptor.
    let desc = unsafe { &*desc };
    let n = usize::from(desc.nb_components);
    if n == 0
        || desc.flags & ff::AV_PIX_FMT_FLAG_HWACCEL as u64 != 0
        || desc.flags & ff::AV_PIX_FMT_FLAG_BITSTREAM as u64 != 0
    {
        return Ok(None);
    }
    let comps = &desc.comp[..n];
    // Chroma components (1 and 2) of a subsampled format are smaller than the rest.
    let subsampled = n >= 2 && (desc.log2_chroma_w > 0 || desc.log2_chroma_h > 0);
    let whole_bytes = comps.iter().all(|c| c.depth % 8 == 0);
    let mut linesizes = [0i32; 4];
    let w = i32::try_from(width).map_err(|_| Error::Value(format!("width {width} is too large")))?;
    // SAFETY: linesizes has the 4 entries av_image_fill_linesizes writes.
    if unsafe { ff::av_image_fill_linesizes(linesizes.as_mut_ptr(), fmt, w) } < 0 {
        return Ok(None);
    }
    let planes = comps.iter().map(|c| c.plane as usize).max().unwrap_or(0) + 1;
    let same_lines = linesizes[..planes].windows(2).all(|p| p[0] == p[1]);
    if subsampled || !whole_bytes || !same_lines || desc.flags & ff::AV_PIX_FMT_FLAG_PAL as u64 != 0 {
        return Ok(None);
    }
    let mut per_plane = vec![0usize; planes];
    for c in comps {
        per_plane[c.plane as usize] += 1;
    }
    let channels = per_plane.iter().copied().max().unwrap_or(1);
    let mut shape = vec![height, width];
    if planes > 1 {
        shape.insert(0, planes);
    }
    if channels > 1 {
        shape.push(channels);
    }
    let itemsize = (comps[0].depth as usize).div_ceil(8);
    let kind = if name.contains("f32") { 'f' } else { 'u' };
    let dtype = if itemsize == 1 {
        "uint8".to_string()
    } else {
        let endian = if desc.flags & ff::AV_PIX_FMT_FLAG_BE as u64 != 0 { '>' } else { '<' };
        format!("{endian}{kind}{itemsize}")
    };
    Ok(Some(StridedLayout { shape, dtype }))
}

fn pix_fmt_named(name: &str) -> Result<ff::AVPixelFormat> {
    let c_name = CString::new(name).map_err(|_| Error::Value(format!("unknown pixel format {name:?}")))?;
    // SAFETY: a NUL-terminated name; returns AV_PIX_FMT_NONE when unknown.
    let fmt = unsafe { ff::av_get_pix_fmt(c_name.as_ptr()) };
    if fmt == ff::AVPixelFormat::AV_PIX_FMT_NONE {
        return Err(Error::Value(format!("unknown pixel format {name:?}")));
    }
    Ok(fmt)
}

/// Converts one `width` x `height` frame with swscale (as PyAV's `reformat` does), from the
/// tightly packed bytes of pixel format `src_name` (e.g. a Bayer mosaic, which swscale
/// demosaics bilinearly) to the tightly packed bytes of `dst_name`.
pub fn convert_frame(src: &[u8], src_name: &str, width: usize, height: usize, dst_name: &str) -> Result<Vec<u8>> {
    let (sf, df) = (pix_fmt_named(src_name)?, pix_fmt_named(dst_name)?);
    let (w, h) = (
        i32::try_from(width).map_err(|_| Error::Value(format!("width {width} is too large")))?,
        i32::try_from(height).map_err(|_| Error::Value(format!("height {height} is too large")))?,
    );
    // SAFETY: plain queries on valid pixel formats.
    let (src_ok, dst_ok) = unsafe { (ff::sws_isSupportedInput(sf), ff::sws_isSupportedOutput(df)) };
    if src_ok == 0 || dst_ok == 0 {
        let which = if src_ok == 0 { src_name } else { dst_name };
        return Err(Error::Value(format!(
            "FFmpeg's swscale cannot convert {} {which}",
            if src_ok == 0 { "from" } else { "to" }
        )));
    }
    // SAFETY: size queries for valid formats and sizes (negative on error).
    let (src_size, dst_size) =
        unsafe { (ff::av_image_get_buffer_size(sf, w, h, 1), ff::av_image_get_buffer_size(df, w, h, 1)) };
    let (Ok(src_size), Ok(dst_size)) = (usize::try_from(src_size), usize::try_from(dst_size)) else {
        return Err(Error::Value(format!("cannot convert a {width}x{height} frame from {src_name} to {dst_name}")));
    };
    if src.len() != src_size {
        return Err(Error::Value(format!(
            "a {width}x{height} {src_name} frame is {src_size} bytes, not {}",
            src.len()
        )));
    }
    let mut dst = vec![0u8; dst_size];
    let (mut sp, mut sl) = ([ptr::null_mut::<u8>(); 4], [0i32; 4]);
    let (mut dp, mut dl) = ([ptr::null_mut::<u8>(); 4], [0i32; 4]);
    // SAFETY: the arrays have the 4 entries FFmpeg fills; the buffers are exactly the sizes
    // av_image_get_buffer_size gave for alignment 1, and swscale only reads the source.
    unsafe {
        ff::av_image_fill_arrays(sp.as_mut_ptr(), sl.as_mut_ptr(), src.as_ptr(), sf, w, h, 1);
        ff::av_image_fill_arrays(dp.as_mut_ptr(), dl.as_mut_ptr(), dst.as_mut_ptr(), df, w, h, 1);
        let ctx =
            ff::sws_getContext(w, h, sf, w, h, df, ff::SWS_BICUBIC, ptr::null_mut(), ptr::null_mut(), ptr::null());
        if ctx.is_null() {
            return Err(Error::Value(format!("swscale cannot convert {src_name} to {dst_name}")));
        }
        let src_planes: [*const u8; 4] = [sp[0], sp[1], sp[2], sp[3]];
        let r = ff::sws_scale(ctx, src_planes.as_ptr(), sl.as_ptr(), 0, h, dp.as_ptr(), dl.as_ptr());
        ff::sws_freeContext(ctx);
        if r < 0 {
            return Err(Error::Value(format!("swscale failed to convert {src_name} to {dst_name}")));
        }
    }
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(name: &str) -> Option<(Vec<usize>, String)> {
        strided_layout(name, 64, 48).unwrap().map(|l| (l.shape, l.dtype))
    }

    #[test]
    fn layouts_as_imageio_makes_them() {
        assert_eq!(layout("rgb24"), Some((vec![48, 64, 3], "uint8".into())));
        assert_eq!(layout("yuv444p"), Some((vec![3, 48, 64], "uint8".into())));
        assert_eq!(layout("gray"), Some((vec![48, 64], "uint8".into())));
        assert_eq!(layout("rgb48le"), Some((vec![48, 64, 3], "<u2".into())));
        assert_eq!(layout("rgb48be"), Some((vec![48, 64, 3], ">u2".into())));
        assert_eq!(layout("gbrp"), Some((vec![3, 48, 64], "uint8".into())));
        assert_eq!(layout("yuv420p"), None);
        assert_eq!(layout("nv24"), None);
        assert_eq!(layout("yuv420p10le"), None);
        assert_eq!(layout("rgb565le"), None);
        assert!(strided_layout("yuv420x", 64, 48).is_err());
    }

    #[test]
    fn converts_bayer_to_rgb() {
        // A flat grey mosaic demosaics to flat grey.
        let rgb = convert_frame(&[100u8; 8 * 4], "bayer_rggb8", 8, 4, "rgb24").unwrap();
        assert_eq!(rgb.len(), 8 * 4 * 3);
        assert!(rgb.iter().all(|&v| v == 100), "{rgb:?}");
        assert!(convert_frame(&[0u8; 5], "bayer_rggb8", 8, 4, "rgb24").is_err());
        assert!(convert_frame(&[0u8; 96], "rgb24", 8, 4, "bayer_rggb8").is_err());
    }
}
