//! The array a frame of any FFmpeg pixel format is, laid out as imageio's pyav plugin lays
//! frames out: planes first ((planes, H, W)), packed components last ((H, W, C)), one
//! channel as (H, W). Formats that are not one strided array (chroma subsampled, components
//! of a size that is not whole bytes, planes of different line sizes such as nv24) have no
//! layout: imageio raises OSError for them.

use std::ffi::CString;

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
}
