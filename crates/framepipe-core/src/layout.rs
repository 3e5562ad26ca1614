//! Array views over mapped buffers: shapes, byte strides and element types for raw video
//! planes and interleaved audio. Everything here is arithmetic over what GStreamer says
//! about a buffer (its VideoInfo or VideoMeta), so a view never reaches outside the memory
//! it describes: [`View::fits`] is checked before any pointer is handed out.

use gst_video::VideoFormatInfo;

use crate::{Error, Result};

/// Element type of an array view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
    I64,
    U64,
    /// numpy's `bool`: one byte per element, 0 or 1.
    Bool,
}

impl Dtype {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 | Dtype::Bool => 1,
            Dtype::U16 | Dtype::I16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }

    /// numpy's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::I8 => "int8",
            Dtype::U16 => "uint16",
            Dtype::I16 => "int16",
            Dtype::U32 => "uint32",
            Dtype::I32 => "int32",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
            Dtype::I64 => "int64",
            Dtype::U64 => "uint64",
            Dtype::Bool => "bool",
        }
    }

    /// Parses numpy's name for the type (as `str(array.dtype)` gives it).
    pub fn from_name(name: &str) -> Option<Dtype> {
        Some(match name {
            "uint8" => Dtype::U8,
            "int8" => Dtype::I8,
            "uint16" => Dtype::U16,
            "int16" => Dtype::I16,
            "uint32" => Dtype::U32,
            "int32" => Dtype::I32,
            "float32" => Dtype::F32,
            "float64" => Dtype::F64,
            "int64" => Dtype::I64,
            "uint64" => Dtype::U64,
            "bool" => Dtype::Bool,
            _ => return None,
        })
    }
}

/// A strided n-dimensional view into a byte range: `offset` from the start of the mapping,
/// `shape` in elements and `strides` in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub offset: usize,
    pub shape: Vec<usize>,
    pub strides: Vec<isize>,
    pub dtype: Dtype,
}

impl View {
    /// Bytes the view touches, counted from `offset` (0 for an empty view).
    /// `None` if a stride is negative or the arithmetic overflows.
    pub fn span(&self) -> Option<usize> {
        if self.shape.contains(&0) {
            return Some(0);
        }
        let mut last = 0usize;
        for (&n, &s) in self.shape.iter().zip(&self.strides) {
            let s = usize::try_from(s).ok()?;
            last = last.checked_add((n - 1).checked_mul(s)?)?;
        }
        last.checked_add(self.dtype.size())
    }

    /// Whether the view lies inside a mapping of `len` bytes.
    pub fn fits(&self, len: usize) -> bool {
        self.span().and_then(|s| self.offset.checked_add(s)).is_some_and(|end| end <= len)
    }

    /// Whether the elements are laid out C-contiguously.
    pub fn is_contiguous(&self) -> bool {
        let mut expected = self.dtype.size() as isize;
        for (&n, &s) in self.shape.iter().zip(&self.strides).rev() {
            if n > 1 && s != expected {
                return false;
            }
            expected *= n as isize;
        }
        true
    }
}

/// How one plane of a raw video format is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PlaneKind {
    /// Every component in the plane has the same subsampling and whole-byte depth:
    /// an (h, w) or (h, w, c) array of `dtype`.
    Pixels { dtype: Dtype, pixel_stride: usize, width: usize, height: usize },
    /// Anything else (packed 4:2:2, sub-byte packing, big-endian words): raw rows of bytes.
    Rows { row_bytes: usize, height: usize },
}

fn plane_kind(finfo: &VideoFormatInfo, plane: u32, width: u32, height: u32) -> Result<PlaneKind> {
    let comps: Vec<usize> = (0..finfo.n_components() as usize).filter(|&c| finfo.plane()[c] == plane).collect();
    let Some(&first) = comps.first() else {
        return Err(Error::Value(format!("format {} has no component in plane {plane}", finfo.name())));
    };
    let pstride = |c: usize| finfo.pixel_stride()[c].max(0) as usize;
    let pw = |c: usize| finfo.scale_width(c as u8, width) as usize;
    let ph = |c: usize| finfo.scale_height(c as u8, height) as usize;
    let same_sub =
        comps.iter().all(|&c| finfo.w_sub()[c] == finfo.w_sub()[first] && finfo.h_sub()[c] == finfo.h_sub()[first]);
    let depth = comps.iter().map(|&c| finfo.depth()[c]).max().unwrap_or(8);
    let dtype = if depth <= 8 && finfo.bits() <= 8 {
        Some(Dtype::U8)
    } else if depth <= 16 && finfo.bits() <= 16 && finfo.is_le() {
        Some(Dtype::U16)
    } else {
        None
    };
    let complex = finfo.is_tiled() || finfo.is_complex() || finfo.has_palette();
    match dtype {
        Some(dtype) if same_sub && !complex && pstride(first) > 0 && pstride(first) % dtype.size() == 0 => {
            Ok(PlaneKind::Pixels { dtype, pixel_stride: pstride(first), width: pw(first), height: ph(first) })
        }
        _ => {
            let row_bytes = comps.iter().map(|&c| pw(c) * pstride(c).max(1)).max().unwrap_or(0);
            let height = comps.iter().map(|&c| ph(c)).max().unwrap_or(0);
            Ok(PlaneKind::Rows { row_bytes, height })
        }
    }
}

/// One view per plane of a raw video frame of `width` x `height` in the given format, with
/// plane `offsets` and row `strides` as a VideoInfo or VideoMeta gives them.
///
/// A plane whose components share subsampling gives (h, w) for one channel or (h, w, c);
/// other planes give (h, row_bytes) uint8 rows.
pub fn video_planes(
    finfo: &VideoFormatInfo,
    width: u32,
    height: u32,
    offsets: &[usize],
    strides: &[i32],
) -> Result<Vec<View>> {
    let n = finfo.n_planes() as usize;
    if offsets.len() < n || strides.len() < n {
        return Err(Error::Value(format!("{} needs {n} planes of offsets and strides", finfo.name())));
    }
    (0..n)
        .map(|p| {
            let stride = strides[p];
            if stride <= 0 {
                return Err(Error::Value(format!("plane {p} has a non-positive stride {stride}")));
            }
            let stride = stride as isize;
            Ok(match plane_kind(finfo, p as u32, width, height)? {
                PlaneKind::Pixels { dtype, pixel_stride, width, height } => {
                    let channels = pixel_stride / dtype.size();
                    if channels == 1 {
                        View {
                            offset: offsets[p],
                            shape: vec![height, width],
                            strides: vec![stride, pixel_stride as isize],
                            dtype,
                        }
                    } else {
                        View {
                            offset: offsets[p],
                            shape: vec![height, width, channels],
                            strides: vec![stride, pixel_stride as isize, dtype.size() as isize],
                            dtype,
                        }
                    }
                }
                PlaneKind::Rows { row_bytes, height } => View {
                    offset: offsets[p],
                    shape: vec![height, row_bytes],
                    strides: vec![stride, 1],
                    dtype: Dtype::U8,
                },
            })
        })
        .collect()
}

/// Whether `frame.array` (one view of the whole frame) exists for the format: a single
/// plane of whole pixels.
pub fn is_packed(finfo: &VideoFormatInfo) -> bool {
    finfo.n_planes() == 1 && matches!(plane_kind(finfo, 0, 16, 16), Ok(PlaneKind::Pixels { .. }))
}

/// Element type of a raw audio sample format, if numpy has one.
pub fn audio_dtype(format: gst_audio::AudioFormat) -> Option<Dtype> {
    use gst_audio::AudioFormat as F;
    Some(match format {
        F::U8 => Dtype::U8,
        F::S8 => Dtype::I8,
        F::S16le => Dtype::I16,
        F::U16le => Dtype::U16,
        F::S32le => Dtype::I32,
        F::U32le => Dtype::U32,
        F::F32le => Dtype::F32,
        F::F64le => Dtype::F64,
        _ => return None,
    })
}

/// (samples, channels) view of interleaved audio occupying `len` bytes.
pub fn audio_interleaved(dtype: Dtype, channels: usize, len: usize) -> View {
    let bpf = dtype.size() * channels.max(1);
    View { offset: 0, shape: vec![len / bpf, channels], strides: vec![bpf as isize, dtype.size() as isize], dtype }
}

/// One (samples,) view per channel of non-interleaved audio occupying `len` bytes.
pub fn audio_planar(dtype: Dtype, channels: usize, len: usize) -> Vec<View> {
    let per_channel = len / channels.max(1);
    (0..channels)
        .map(|c| View {
            offset: c * per_channel,
            shape: vec![per_channel / dtype.size()],
            strides: vec![dtype.size() as isize],
            dtype,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gst_video::{VideoFormat, VideoInfo};
    use proptest::prelude::*;

    const FORMATS: &[VideoFormat] = &[
        VideoFormat::Rgb,
        VideoFormat::Bgr,
        VideoFormat::Rgba,
        VideoFormat::Bgrx,
        VideoFormat::Gray8,
        VideoFormat::Gray16Le,
        VideoFormat::I420,
        VideoFormat::Nv12,
        VideoFormat::Y444,
        VideoFormat::Yuy2,
        VideoFormat::Rgb16,
    ];

    fn views_of(info: &VideoInfo) -> Vec<View> {
        video_planes(&info.format_info(), info.width(), info.height(), info.offset(), info.stride()).unwrap()
    }

    fn ceil_half(x: u32) -> usize {
        x.div_ceil(2) as usize
    }

    proptest! {
        #[test]
        fn planes_fit_and_do_not_overlap(fmt in 0..FORMATS.len(), w in 1u32..400, h in 1u32..300) {
            gst::init().unwrap();
            let info = VideoInfo::builder(FORMATS[fmt], w, h).build().unwrap();
            let views = views_of(&info);
            prop_assert_eq!(views.len(), info.n_planes() as usize);
            let mut ranges: Vec<(usize, usize)> = Vec::new();
            for v in &views {
                prop_assert!(v.fits(info.size()), "{:?} does not fit {} bytes", v, info.size());
                ranges.push((v.offset, v.offset + v.span().unwrap()));
            }
            ranges.sort();
            for pair in ranges.windows(2) {
                prop_assert!(pair[0].1 <= pair[1].0, "planes overlap: {:?}", ranges);
            }
        }

        #[test]
        fn packed_rgb_rows_are_padded_to_four(w in 1u32..2000, h in 1u32..64) {
            gst::init().unwrap();
            let info = VideoInfo::builder(VideoFormat::Rgb, w, h).build().unwrap();
            let v = &views_of(&info)[0];
            prop_assert_eq!(&v.shape, &vec![h as usize, w as usize, 3]);
            prop_assert_eq!(v.strides[0] as usize, (3 * w as usize).div_ceil(4) * 4);
            prop_assert_eq!(v.is_contiguous(), (3 * w) % 4 == 0 || h == 1);
        }

        #[test]
        fn subsampled_planes_round_up(w in 1u32..500, h in 1u32..500) {
            gst::init().unwrap();
            let i420 = views_of(&VideoInfo::builder(VideoFormat::I420, w, h).build().unwrap());
            prop_assert_eq!(&i420[0].shape, &vec![h as usize, w as usize]);
            prop_assert_eq!(&i420[1].shape, &vec![ceil_half(h), ceil_half(w)]);
            prop_assert_eq!(&i420[2].shape, &vec![ceil_half(h), ceil_half(w)]);
            let nv12 = views_of(&VideoInfo::builder(VideoFormat::Nv12, w, h).build().unwrap());
            prop_assert_eq!(&nv12[0].shape, &vec![h as usize, w as usize]);
            prop_assert_eq!(&nv12[1].shape, &vec![ceil_half(h), ceil_half(w), 2]);
            prop_assert_eq!(nv12[1].strides[1], 2);
        }

        #[test]
        fn audio_views_cover_whole_frames(ch in 1usize..9, frames in 0usize..5000) {
            for dtype in [Dtype::I16, Dtype::F32, Dtype::F64, Dtype::U8] {
                let len = frames * ch * dtype.size();
                let v = audio_interleaved(dtype, ch, len);
                prop_assert_eq!(&v.shape, &vec![frames, ch]);
                prop_assert!(v.fits(len));
                for p in audio_planar(dtype, ch, len) {
                    prop_assert_eq!(p.shape[0], frames);
                    prop_assert!(p.fits(len));
                }
            }
        }
    }

    #[test]
    fn gray16_is_uint16() {
        gst::init().unwrap();
        let info = VideoInfo::builder(VideoFormat::Gray16Le, 5, 3).build().unwrap();
        let v = &views_of(&info)[0];
        assert_eq!(v.dtype, Dtype::U16);
        assert_eq!(v.shape, vec![3, 5]);
        assert!(is_packed(&info.format_info()));
        assert!(!is_packed(&VideoFormatInfo::from_format(VideoFormat::I420)));
        assert!(!is_packed(&VideoFormatInfo::from_format(VideoFormat::Yuy2)));
    }

    #[test]
    fn span_rejects_what_does_not_fit() {
        let v = View { offset: 4, shape: vec![2, 3], strides: vec![4, 1], dtype: Dtype::U8 };
        assert_eq!(v.span(), Some(7));
        assert!(v.fits(11));
        assert!(!v.fits(10));
        let neg = View { offset: 0, shape: vec![2], strides: vec![-1], dtype: Dtype::U8 };
        assert!(!neg.fits(100));
    }
}
