//! Arrays into buffers: the caps an array implies, the check that it matches negotiated
//! caps, and the strided copy into GStreamer's own layout (row strides padded as the
//! VideoInfo wants them), so downstream elements never see a layout they did not agree to.

use gst_video::{VideoFormat, VideoInfo};

use crate::layout::{self, Dtype, View};
use crate::media::MediaInfo;
use crate::{Error, Result};

/// A strided array borrowed from the caller: `data` covers exactly the bytes the array
/// spans, starting at its first element; strides are in bytes and non-negative.
#[derive(Debug, Clone, Copy)]
pub struct ArrayRef<'a> {
    pub data: &'a [u8],
    pub shape: &'a [usize],
    pub strides: &'a [isize],
    pub dtype: Dtype,
}

impl ArrayRef<'_> {
    fn view(&self) -> View {
        View { offset: 0, shape: self.shape.to_vec(), strides: self.strides.to_vec(), dtype: self.dtype }
    }

    fn nbytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.size()
    }
}

/// Raw video format implied by an array's shape and dtype:
/// (H, W, 3) uint8 -> RGB, (H, W, 4) uint8 -> RGBA, (H, W) or (H, W, 1) uint8 -> GRAY8,
/// (H, W) uint16 -> GRAY16_LE.
pub fn video_format_for(shape: &[usize], dtype: Dtype) -> Result<VideoFormat> {
    let fmt = match (shape, dtype) {
        ([_, _, 3], Dtype::U8) => VideoFormat::Rgb,
        ([_, _, 4], Dtype::U8) => VideoFormat::Rgba,
        ([_, _], Dtype::U8) | ([_, _, 1], Dtype::U8) => VideoFormat::Gray8,
        ([_, _], Dtype::U16) | ([_, _, 1], Dtype::U16) => VideoFormat::Gray16Le,
        _ => {
            return Err(Error::Value(format!(
                "cannot derive video caps from an array of shape {shape:?} and dtype {}: expected (H, W, 3) or \
                 (H, W, 4) uint8, (H, W) uint8 or (H, W) uint16",
                dtype.name()
            )));
        }
    };
    if shape[0] == 0 || shape[1] == 0 {
        return Err(Error::Value(format!("cannot make video of an empty array of shape {shape:?}")));
    }
    Ok(fmt)
}

/// Caps for raw video of the given format and size at `fps` frames per second.
pub fn video_caps(format: VideoFormat, width: u32, height: u32, fps: f64) -> Result<gst::Caps> {
    if !(fps.is_finite() && fps > 0.0) {
        return Err(Error::Value(format!("fps must be a positive number, not {fps}")));
    }
    let rate = gst::Fraction::approximate_f64(fps)
        .ok_or_else(|| Error::Value(format!("fps {fps} cannot be written as a fraction")))?;
    let info = VideoInfo::builder(format, width, height)
        .fps(rate)
        .build()
        .map_err(|e| Error::Value(format!("invalid video of {width}x{height} {}: {e}", format.to_str())))?;
    Ok(info.to_caps()?)
}

/// Caps derived from an array: the format per [`video_format_for`], the size from its
/// shape, and `fps` as the framerate.
pub fn caps_for_array(shape: &[usize], dtype: Dtype, fps: f64) -> Result<gst::Caps> {
    let format = video_format_for(shape, dtype)?;
    let (h, w) = (dim_u32(shape[0])?, dim_u32(shape[1])?);
    video_caps(format, w, h, fps)
}

fn dim_u32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Value(format!("dimension {n} is too large")))
}

/// Copies `array` into a new buffer laid out as `media` requires, or fails with
/// [`Error::Value`] naming what does not match (nothing is allocated for the caller then).
pub fn array_to_buffer(array: ArrayRef<'_>, media: &MediaInfo) -> Result<gst::Buffer> {
    if array.strides.iter().any(|&s| s < 0) {
        return Err(Error::Value("arrays with negative strides must be copied first".into()));
    }
    if !array.view().fits(array.data.len()) {
        return Err(Error::Value("array data does not cover its shape and strides".into()));
    }
    match media {
        MediaInfo::Video(info) => video_to_buffer(array, info),
        MediaInfo::Audio(info) => {
            let dtype = layout::audio_dtype(info.format()).ok_or_else(|| {
                Error::Value(format!("audio format {} cannot be filled from an array", info.format().to_str()))
            })?;
            let channels = info.channels() as usize;
            let ok_shape = match array.shape {
                [_, c] => *c == channels,
                [_] => channels == 1,
                _ => false,
            };
            if !ok_shape || array.dtype != dtype {
                return Err(Error::Value(format!(
                    "array of shape {:?} and dtype {} does not match the caps: expected (samples, {channels}) {}",
                    array.shape,
                    array.dtype.name(),
                    dtype.name()
                )));
            }
            let samples = array.shape[0];
            let dst = layout::audio_interleaved(dtype, channels, samples * info.bpf() as usize);
            copy_into_new(array, &dst, samples * info.bpf() as usize)
        }
        MediaInfo::Other => {
            let n = array.nbytes();
            let dst = View {
                offset: 0,
                shape: array.shape.to_vec(),
                strides: c_strides(array.shape, array.dtype),
                dtype: array.dtype,
            };
            copy_into_new(array, &dst, n)
        }
    }
}

fn video_to_buffer(array: ArrayRef<'_>, info: &VideoInfo) -> Result<gst::Buffer> {
    let finfo = info.format_info();
    let planes = layout::video_planes(&finfo, info.width(), info.height(), info.offset(), info.stride())?;
    if planes.len() == 1 && layout::is_packed(&finfo) {
        let target = &planes[0];
        let mut shape = array.shape.to_vec();
        let mut strides = array.strides.to_vec();
        // (H, W, 1) is accepted where the format has one channel.
        if target.shape.len() == 2 && shape.len() == 3 && shape[2] == 1 {
            shape.pop();
            strides.pop();
        }
        if shape != target.shape || array.dtype != target.dtype {
            return Err(Error::Value(format!(
                "array of shape {:?} and dtype {} does not match the caps ({} {}x{}): expected shape {:?} and dtype {}",
                array.shape,
                array.dtype.name(),
                finfo.name(),
                info.width(),
                info.height(),
                target.shape,
                target.dtype.name()
            )));
        }
        let src = ArrayRef { data: array.data, shape: &shape, strides: &strides, dtype: array.dtype };
        copy_into_new(src, target, info.size())
    } else {
        // Planar formats take the frame's bytes in GStreamer's own layout.
        if array.nbytes() != info.size() || !array.view().is_contiguous() {
            return Err(Error::Value(format!(
                "{} is planar: push a contiguous array of exactly {} bytes in GStreamer's layout (got shape {:?}, \
                 dtype {}, {} bytes)",
                finfo.name(),
                info.size(),
                array.shape,
                array.dtype.name(),
                array.nbytes()
            )));
        }
        Ok(gst::Buffer::from_mut_slice(array.data[..info.size()].to_vec()))
    }
}

fn c_strides(shape: &[usize], dtype: Dtype) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc = dtype.size() as isize;
    for (s, &n) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc *= n as isize;
    }
    strides
}

fn copy_into_new(src: ArrayRef<'_>, dst: &View, size: usize) -> Result<gst::Buffer> {
    let mut buffer = gst::Buffer::with_size(size)?;
    {
        let buf = buffer.get_mut().expect("a new buffer is writable");
        let mut map = buf.map_writable()?;
        copy_strided(src, map.as_mut_slice(), dst)?;
    }
    Ok(buffer)
}

/// Copies the elements of `src` into `dst` at the positions `view` gives (same shape and
/// dtype), one memcpy per contiguous run.
pub fn copy_strided(src: ArrayRef<'_>, dst: &mut [u8], view: &View) -> Result<()> {
    if src.shape != view.shape.as_slice() || src.dtype != view.dtype {
        return Err(Error::Value(format!("shape {:?} does not match {:?}", src.shape, view.shape)));
    }
    if !view.fits(dst.len()) || !src.view().fits(src.data.len()) {
        return Err(Error::Value("copy does not fit its buffers".into()));
    }
    if src.shape.contains(&0) {
        return Ok(());
    }
    let item = src.dtype.size();
    // Number of trailing dimensions that are contiguous in both source and destination,
    // and the bytes such a run covers.
    let ndim = src.shape.len();
    let mut run = item;
    let mut inner = ndim;
    while inner > 0 {
        let d = inner - 1;
        if src.strides[d] as usize == run && view.strides[d] as usize == run {
            run *= src.shape[d];
            inner = d;
        } else {
            break;
        }
    }
    let mut index = vec![0usize; inner];
    loop {
        let mut s = 0usize;
        let mut t = view.offset;
        for (d, &i) in index.iter().enumerate() {
            s += i * src.strides[d] as usize;
            t += i * view.strides[d] as usize;
        }
        if inner == ndim {
            // No contiguous trailing dimension: copy one element.
            dst[t..t + item].copy_from_slice(&src.data[s..s + item]);
        } else {
            dst[t..t + run].copy_from_slice(&src.data[s..s + run]);
        }
        // Advance the outer index like an odometer.
        let mut d = inner;
        loop {
            if d == 0 {
                return Ok(());
            }
            d -= 1;
            index[d] += 1;
            if index[d] < src.shape[d] {
                break;
            }
            index[d] = 0;
        }
        if inner == 0 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rgb_info(w: u32, h: u32) -> MediaInfo {
        MediaInfo::Video(VideoInfo::builder(VideoFormat::Rgb, w, h).build().unwrap())
    }

    proptest! {
        /// Any (H, W, 3) array, contiguous or a strided slice of a larger one, lands in the
        /// buffer with GStreamer's padded stride and reads back equal.
        #[test]
        fn rgb_round_trip(w in 1usize..70, h in 1usize..40, pad in 0usize..3, step in 1usize..3) {
            gst::init().unwrap();
            let big_w = w * step + pad;
            let data: Vec<u8> = (0..h * big_w * 3).map(|i| (i * 7 % 251) as u8).collect();
            let shape = [h, w, 3];
            let strides = [(big_w * 3) as isize, (3 * step) as isize, 1];
            let span = View { offset: 0, shape: shape.to_vec(), strides: strides.to_vec(), dtype: Dtype::U8 }.span().unwrap();
            let arr = ArrayRef { data: &data[..span], shape: &shape, strides: &strides, dtype: Dtype::U8 };
            let media = rgb_info(w as u32, h as u32);
            let buf = array_to_buffer(arr, &media).unwrap();
            let map = buf.map_readable().unwrap();
            let view = media.array(&buf, map.size()).unwrap();
            for y in 0..h {
                for x in 0..w {
                    for c in 0..3 {
                        let got = map[view.offset + y * view.strides[0] as usize + x * 3 + c];
                        let want = data[y * big_w * 3 + x * 3 * step + c];
                        prop_assert_eq!(got, want);
                    }
                }
            }
        }

        #[test]
        fn derived_caps_match_shape(h in 1usize..100, w in 1usize..100, c in prop::sample::select(vec![0usize, 1, 3, 4])) {
            gst::init().unwrap();
            let shape: Vec<usize> = if c == 0 { vec![h, w] } else { vec![h, w, c] };
            let caps = caps_for_array(&shape, Dtype::U8, 30.0).unwrap();
            let info = VideoInfo::from_caps(&caps).unwrap();
            prop_assert_eq!((info.width() as usize, info.height() as usize), (w, h));
            prop_assert_eq!(info.fps(), gst::Fraction::new(30, 1));
        }
    }

    #[test]
    fn mismatched_shape_is_value_error() {
        gst::init().unwrap();
        let data = vec![0u8; 4 * 4 * 3];
        let arr = ArrayRef { data: &data, shape: &[4, 4, 3], strides: &[12, 3, 1], dtype: Dtype::U8 };
        assert!(matches!(array_to_buffer(arr, &rgb_info(5, 4)), Err(Error::Value(_))));
        assert!(matches!(caps_for_array(&[4, 4, 2], Dtype::U8, 30.0), Err(Error::Value(_))));
        assert!(matches!(caps_for_array(&[4, 4, 3], Dtype::F32, 30.0), Err(Error::Value(_))));
        assert!(matches!(caps_for_array(&[4, 4, 3], Dtype::U8, 0.0), Err(Error::Value(_))));
    }
}
