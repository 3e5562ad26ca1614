//! 8- and 10-bit YUV -> packed 8-bit RGB conversion in Rust: SIMD kernels from the `yuv` crate (AVX2/SSE,
//! chosen at run time), split across threads by row bands.
//!
//! Why not videoconvert: GStreamer 1.22's I420 -> RGB costs about 4-7 ms per 1080p frame and
//! thread, which on a 2-core machine caps decoding to rgb24 well below what the decoder
//! gives; these kernels take about 1 ms.
//!
//! Chroma is upsampled by replication (each chroma sample covers its 2x2 or 2x1 block), as
//! FFmpeg's swscale fast path (what PyAV's `to_ndarray("rgb24")` uses) does; GStreamer's
//! videoconvert interpolates chroma, so the two differ by a few levels on smooth content and
//! more at sharp colour edges. The matrix (BT.601, BT.709, BT.2020) and the range (limited or
//! full) come from the stream's colorimetry; other matrices are left to videoconvert (the
//! kernels' SMPTE 240M output was off by up to 20 levels against the reference).

use yuv::{YuvBiPlanarImage, YuvConversionMode, YuvPlanarImage, YuvRange, YuvStandardMatrix};

/// Layout of a YUV frame the converter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YuvLayout {
    /// Planar 4:2:0 (Y, U, V).
    I420,
    /// Semi-planar 4:2:0 (Y, interleaved UV).
    Nv12,
    /// Planar 4:2:2.
    Y42b,
    /// Planar 4:4:4.
    Y444,
    /// Planar 4:2:0, 10 bits in little-endian 16-bit words.
    I420p10,
    /// Planar 4:2:2, 10 bits in little-endian 16-bit words.
    I422p10,
    /// Planar 4:4:4, 10 bits in little-endian 16-bit words (what x264 makes of 4:4:4 input
    /// by default).
    Y444p10,
}

impl YuvLayout {
    /// The layout of a GStreamer format, or `None` when the converter cannot read it.
    pub fn from_video_format(format: gst_video::VideoFormat) -> Option<YuvLayout> {
        use gst_video::VideoFormat as F;
        match format {
            F::I420 => Some(YuvLayout::I420),
            F::Nv12 => Some(YuvLayout::Nv12),
            F::Y42b => Some(YuvLayout::Y42b),
            F::Y444 => Some(YuvLayout::Y444),
            // The 16-bit words are read natively: little-endian hosts only.
            F::I42010le if cfg!(target_endian = "little") => Some(YuvLayout::I420p10),
            F::I42210le if cfg!(target_endian = "little") => Some(YuvLayout::I422p10),
            F::Y44410le if cfg!(target_endian = "little") => Some(YuvLayout::Y444p10),
            _ => None,
        }
    }

    /// Rows of luma per row of chroma.
    pub fn chroma_rows(self) -> usize {
        match self {
            YuvLayout::I420 | YuvLayout::Nv12 | YuvLayout::I420p10 => 2,
            _ => 1,
        }
    }

    /// Columns of luma per column of chroma.
    pub fn chroma_columns(self) -> usize {
        match self {
            YuvLayout::Y444 | YuvLayout::Y444p10 => 1,
            _ => 2,
        }
    }

    /// Whether the kernels convert frames `width` pixels wide: the `yuv` crate's 10-bit 4:2:0
    /// and 4:2:2 AVX2 kernels (0.8.20) panic on an odd width, so those go to videoconvert.
    pub fn supports_width(self, width: usize) -> bool {
        !matches!(self, YuvLayout::I420p10 | YuvLayout::I422p10) || width.is_multiple_of(2)
    }

    /// Bits per sample.
    pub fn depth(self) -> u32 {
        match self {
            YuvLayout::I420p10 | YuvLayout::I422p10 | YuvLayout::Y444p10 => 10,
            _ => 8,
        }
    }
}

/// A plane of 16-bit samples viewed as such.
fn words(bytes: &[u8]) -> Result<&[u16], String> {
    // SAFETY: every bit pattern is a valid u16, and align_to hands back only the aligned
    // middle part, whose length we use as is.
    let (head, words, _) = unsafe { bytes.align_to::<u16>() };
    if !head.is_empty() {
        return Err("a 16-bit plane is not 2-byte aligned".into());
    }
    Ok(words)
}

/// Packed 8-bit RGB output (in this order: it indexes the kernel tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RgbLayout {
    Rgb,
    Bgr,
    /// Alpha is 255.
    Rgba,
    /// Alpha is 255.
    Bgra,
}

impl RgbLayout {
    pub fn from_video_format(format: gst_video::VideoFormat) -> Option<RgbLayout> {
        use gst_video::VideoFormat as F;
        match format {
            F::Rgb => Some(RgbLayout::Rgb),
            F::Bgr => Some(RgbLayout::Bgr),
            F::Rgba => Some(RgbLayout::Rgba),
            F::Bgra => Some(RgbLayout::Bgra),
            _ => None,
        }
    }

    pub fn video_format(self) -> gst_video::VideoFormat {
        use gst_video::VideoFormat as F;
        match self {
            RgbLayout::Rgb => F::Rgb,
            RgbLayout::Bgr => F::Bgr,
            RgbLayout::Rgba => F::Rgba,
            RgbLayout::Bgra => F::Bgra,
        }
    }

    pub fn bytes_per_pixel(self) -> usize {
        match self {
            RgbLayout::Rgb | RgbLayout::Bgr => 3,
            RgbLayout::Rgba | RgbLayout::Bgra => 4,
        }
    }
}

/// The YUV -> RGB matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matrix {
    Bt601,
    Bt709,
    Bt2020,
}

/// How to read the YUV values: matrix and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colorimetry {
    pub matrix: Matrix,
    /// Full range (0-255) rather than limited (16-235 luma, 16-240 chroma).
    pub full_range: bool,
}

impl Colorimetry {
    /// From GStreamer's colorimetry; `None` for matrices the converter leaves to videoconvert
    /// (RGB identity, SMPTE 240M, FCC). Unknown matrix and range fall back to BT.601 limited range, what FFmpeg
    /// assumes for unspecified streams.
    pub fn from_gst(c: gst_video::VideoColorimetry) -> Option<Colorimetry> {
        use gst_video::VideoColorMatrix as M;
        let matrix = match c.matrix() {
            M::Bt709 => Matrix::Bt709,
            M::Bt601 | M::Unknown => Matrix::Bt601,
            M::Bt2020 => Matrix::Bt2020,
            _ => return None,
        };
        Some(Colorimetry { matrix, full_range: c.range() == gst_video::VideoColorRange::Range0_255 })
    }

    fn yuv(self) -> (YuvRange, YuvStandardMatrix) {
        let range = if self.full_range { YuvRange::Full } else { YuvRange::Limited };
        let matrix = match self.matrix {
            Matrix::Bt601 => YuvStandardMatrix::Bt601,
            Matrix::Bt709 => YuvStandardMatrix::Bt709,
            Matrix::Bt2020 => YuvStandardMatrix::Bt2020,
        };
        (range, matrix)
    }
}

/// A borrowed YUV frame: planes with their row strides in bytes (NV12 uses two planes; the
/// third is then ignored).
#[derive(Debug, Clone, Copy)]
pub struct YuvFrame<'a> {
    pub layout: YuvLayout,
    pub width: usize,
    pub height: usize,
    pub planes: [&'a [u8]; 3],
    pub strides: [usize; 3],
}

/// Bands shorter than this are not worth a thread.
const MIN_BAND_ROWS: usize = 64;

/// Converts `src` into `dst` (rows `dst_stride` bytes apart), using up to `threads` threads
/// (the caller's included) on bands of rows. Errors name what does not fit.
pub fn yuv_to_rgb(
    src: &YuvFrame<'_>,
    dst: &mut [u8],
    dst_stride: usize,
    out: RgbLayout,
    colorimetry: Colorimetry,
    threads: usize,
) -> Result<(), String> {
    let (w, h) = (src.width, src.height);
    if w == 0 || h == 0 {
        return Ok(());
    }
    if !src.layout.supports_width(w) {
        return Err(format!("{:?} frames {w} pixels wide are not supported", src.layout));
    }
    if dst_stride < w * out.bytes_per_pixel() || dst.len() < dst_stride * (h - 1) + w * out.bytes_per_pixel() {
        return Err(format!("the output buffer ({} bytes, stride {dst_stride}) is too small for {w}x{h}", dst.len()));
    }
    let step = src.layout.chroma_rows();
    let bands = threads.clamp(1, h.div_ceil(MIN_BAND_ROWS).max(1));
    // Band heights are a multiple of the chroma row step so bands start on a chroma row.
    let rows = h.div_ceil(bands).div_ceil(step) * step;
    let mut jobs = Vec::with_capacity(bands);
    let mut rest = dst;
    let mut row = 0;
    while row < h {
        let n = rows.min(h - row);
        let take = if row + n == h { rest.len() } else { n * dst_stride };
        let (band, tail) = rest.split_at_mut(take);
        rest = tail;
        jobs.push(Band { row, rows: n, dst: band, stride: dst_stride, layout: out });
        row += n;
    }
    let mut results = Vec::with_capacity(jobs.len());
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut first = None;
        for band in jobs {
            if first.is_none() {
                first = Some(band);
            } else {
                handles.push(scope.spawn(move || convert_band(src, band, colorimetry)));
            }
        }
        if let Some(band) = first {
            results.push(convert_band(src, band, colorimetry));
        }
        for handle in handles {
            results.push(handle.join().unwrap_or_else(|_| Err("a conversion thread panicked".into())));
        }
    });
    results.into_iter().collect()
}

/// A `yuv` crate kernel: planar YUV rows to packed RGB rows.
type Kernel<T> = fn(&YuvPlanarImage<'_, T>, &mut [u8], u32, YuvRange, YuvStandardMatrix) -> Result<(), yuv::YuvError>;

/// The 8-bit kernels by chroma subsampling (4:2:0, 4:2:2, 4:4:4), then by [`RgbLayout`].
const KERNELS_8BIT: [[Kernel<u8>; 4]; 3] = [
    [yuv::yuv420_to_rgb, yuv::yuv420_to_bgr, yuv::yuv420_to_rgba, yuv::yuv420_to_bgra],
    [yuv::yuv422_to_rgb, yuv::yuv422_to_bgr, yuv::yuv422_to_rgba, yuv::yuv422_to_bgra],
    [yuv::yuv444_to_rgb, yuv::yuv444_to_bgr, yuv::yuv444_to_rgba, yuv::yuv444_to_bgra],
];

/// The 10-bit kernels by chroma subsampling (4:2:0, 4:2:2; 4:4:4 goes through RGBA rows, see
/// [`convert_band_p10`]), then by [`RgbLayout`].
const KERNELS_10BIT: [[Kernel<u16>; 4]; 2] = [
    [yuv::i010_to_rgb, yuv::i010_to_bgr, yuv::i010_to_rgba, yuv::i010_to_bgra],
    [yuv::i210_to_rgb, yuv::i210_to_bgr, yuv::i210_to_rgba, yuv::i210_to_bgra],
];

/// Three planes (starting at the band's first row) and their strides, in samples.
fn planar_image<T: Copy + std::fmt::Debug>(
    planes: [&[T]; 3],
    strides: [u32; 3],
    width: u32,
    height: u32,
) -> YuvPlanarImage<'_, T> {
    let [y_plane, u_plane, v_plane] = planes;
    let [y_stride, u_stride, v_stride] = strides;
    YuvPlanarImage { y_plane, y_stride, u_plane, u_stride, v_plane, v_stride, width, height }
}

/// Output rows `row..row + rows`, converted on one thread: `dst` starts at output row `row`
/// and holds rows of `stride` bytes in `layout`.
struct Band<'a> {
    row: usize,
    rows: usize,
    dst: &'a mut [u8],
    stride: usize,
    layout: RgbLayout,
}

/// One band of `src` into packed RGB.
fn convert_band(src: &YuvFrame<'_>, band: Band<'_>, c: Colorimetry) -> Result<(), String> {
    if src.layout.depth() > 8 {
        return convert_band_p10(src, band, c);
    }
    let Band { row, rows: n, dst, stride: dst_stride, layout: out } = band;
    let plane = |i: usize, first_row: usize| -> Result<&[u8], String> {
        src.planes[i].get(first_row * src.strides[i]..).ok_or_else(|| format!("plane {i} is too short"))
    };
    let crow = row / src.layout.chroma_rows();
    let (range, matrix) = c.yuv();
    let stride = dst_stride as u32;
    let (w, n32) = (src.width as u32, n as u32);
    let s = |i: usize| src.strides[i] as u32;
    let result = if src.layout == YuvLayout::Nv12 {
        let image = YuvBiPlanarImage {
            y_plane: plane(0, row)?,
            y_stride: s(0),
            uv_plane: plane(1, crow)?,
            uv_stride: s(1),
            width: w,
            height: n32,
        };
        let mode = YuvConversionMode::Balanced;
        match out {
            RgbLayout::Rgb => yuv::yuv_nv12_to_rgb(&image, dst, stride, range, matrix, mode),
            RgbLayout::Bgr => yuv::yuv_nv12_to_bgr(&image, dst, stride, range, matrix, mode),
            RgbLayout::Rgba => yuv::yuv_nv12_to_rgba(&image, dst, stride, range, matrix, mode),
            RgbLayout::Bgra => yuv::yuv_nv12_to_bgra(&image, dst, stride, range, matrix, mode),
        }
    } else {
        let image = planar_image([plane(0, row)?, plane(1, crow)?, plane(2, crow)?], [s(0), s(1), s(2)], w, n32);
        let chroma = match src.layout {
            YuvLayout::I420 | YuvLayout::Nv12 => 0,
            YuvLayout::Y42b => 1,
            YuvLayout::Y444 => 2,
            _ => unreachable!("10-bit layouts are converted by convert_band_p10"),
        };
        KERNELS_8BIT[chroma][out as usize](&image, dst, stride, range, matrix)
    };
    result.map_err(|e| format!("YUV to RGB conversion failed: {e}"))
}

/// Rows of 4:4:4 10-bit input converted at a time through an RGBA scratch buffer (the `yuv`
/// crate converts that layout to RGBA only).
const SCRATCH_ROWS: usize = 8;

/// The 10-bit version of [`convert_band`].
fn convert_band_p10(src: &YuvFrame<'_>, band: Band<'_>, c: Colorimetry) -> Result<(), String> {
    let Band { row, rows: n, dst, stride: dst_stride, layout: out } = band;
    let crow = row / src.layout.chroma_rows();
    let (range, matrix) = c.yuv();
    let w = src.width;
    let plane = |i: usize, first_row: usize| -> Result<&[u16], String> {
        let bytes = src.planes[i].get(first_row * src.strides[i]..).ok_or_else(|| format!("plane {i} is too short"))?;
        words(bytes)
    };
    let s = |i: usize| (src.strides[i] / 2) as u32;
    let fail = |e: yuv::YuvError| format!("YUV to RGB conversion failed: {e}");
    // Through scratch rows also for RGBA: the crate's i410_to_rgba (0.8.20) misplaces rows
    // when the destination stride is padded (found by the property test below).
    if src.layout == YuvLayout::Y444p10 {
        let mut scratch = vec![0u8; w * 4 * SCRATCH_ROWS];
        let mut r = 0;
        while r < n {
            let rows = SCRATCH_ROWS.min(n - r);
            let planes = [plane(0, row + r)?, plane(1, row + r)?, plane(2, row + r)?];
            let image = planar_image(planes, [s(0), s(1), s(2)], w as u32, rows as u32);
            yuv::i410_to_rgba(&image, &mut scratch, (w * 4) as u32, range, matrix).map_err(fail)?;
            let target = &mut dst[r * dst_stride..];
            let (ss, ds, w32, h32) = ((w * 4) as u32, dst_stride as u32, w as u32, rows as u32);
            match out {
                RgbLayout::Rgb => yuv::rgba_to_rgb(&scratch, ss, target, ds, w32, h32),
                RgbLayout::Bgr => yuv::rgba_to_bgr(&scratch, ss, target, ds, w32, h32),
                RgbLayout::Bgra => yuv::rgba_to_bgra(&scratch, ss, target, ds, w32, h32),
                RgbLayout::Rgba => {
                    for (i, line) in scratch.chunks_exact(w * 4).take(rows).enumerate() {
                        target[i * dst_stride..i * dst_stride + w * 4].copy_from_slice(line);
                    }
                    Ok(())
                }
            }
            .map_err(fail)?;
            r += rows;
        }
        return Ok(());
    }
    let image =
        planar_image([plane(0, row)?, plane(1, crow)?, plane(2, crow)?], [s(0), s(1), s(2)], w as u32, n as u32);
    let chroma = match src.layout {
        YuvLayout::I420p10 => 0,
        YuvLayout::I422p10 => 1,
        _ => unreachable!("8-bit layouts are converted by convert_band"),
    };
    KERNELS_10BIT[chroma][out as usize](&image, dst, dst_stride as u32, range, matrix).map_err(fail)
}

/// The scalar reference the SIMD kernels are tested against: the same matrix and range in
/// floating point, chroma replicated, rounded to nearest; samples of `depth` bits.
pub fn reference_pixel(y: u16, u: u16, v: u16, depth: u32, c: Colorimetry) -> [u8; 3] {
    let (kr, kb) = match c.matrix {
        Matrix::Bt601 => (0.299, 0.114),
        Matrix::Bt709 => (0.2126, 0.0722),
        Matrix::Bt2020 => (0.2627, 0.0593),
    };
    let scale = (1u32 << (depth - 8)) as f64;
    let (y, u, v) = (y as f64 / scale, u as f64 / scale, v as f64 / scale);
    let max = 255.0 * ((1u32 << depth) - 1) as f64 / ((1u32 << depth) as f64 - scale);
    let (yf, uf, vf) = if c.full_range {
        (y / max, (u - 128.0) / max, (v - 128.0) / max)
    } else {
        ((y - 16.0) / 219.0, (u - 128.0) / 224.0, (v - 128.0) / 224.0)
    };
    let kg = 1.0 - kr - kb;
    let r = yf + 2.0 * (1.0 - kr) * vf;
    let b = yf + 2.0 * (1.0 - kb) * uf;
    let g = (yf - kr * r - kb * b) / kg;
    let q = |x: f64| (x * 255.0).round().clamp(0.0, 255.0) as u8;
    [q(r), q(g), q(b)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A frame with random planes and padded strides, and its scalar conversion.
    #[allow(clippy::too_many_arguments)]
    fn convert_both(
        layout: YuvLayout,
        w: usize,
        h: usize,
        pad: usize,
        seed: u64,
        out: RgbLayout,
        c: Colorimetry,
        threads: usize,
    ) -> (Vec<u8>, Vec<u8>, usize) {
        let mut x = seed | 1;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 20) as u16
        };
        let (cw, ch) = (w.div_ceil(layout.chroma_columns()), h.div_ceil(layout.chroma_rows()));
        let depth = layout.depth();
        let shift = depth - 8;
        let ys = w + pad;
        let cs = if layout == YuvLayout::Nv12 { 2 * cw + pad } else { cw + pad };
        // Limited range: values inside it (the kernels clamp luma below black first, which
        // the reference does not model; decoders do not produce such values from real video).
        let (ylo, yhi, clo, chi) = if c.full_range { (0, 255, 0, 255) } else { (16, 235, 16, 240) };
        let top = (1u16 << depth) - 1;
        let mut sample = |lo: u16, hi: u16| (rnd() & top).clamp(lo << shift, hi << shift);
        let yp: Vec<u16> = (0..ys * h).map(|_| sample(ylo, yhi)).collect();
        let up: Vec<u16> = (0..cs * ch).map(|_| sample(clo, chi)).collect();
        let vp: Vec<u16> = (0..cs * ch).map(|_| sample(clo, chi)).collect();
        let bytes = |p: &[u16]| -> Vec<u8> {
            if depth == 8 {
                p.iter().map(|&v| v as u8).collect()
            } else {
                p.iter().flat_map(|v| v.to_le_bytes()).collect()
            }
        };
        let (yb, ub, vb) = (bytes(&yp), bytes(&up), bytes(&vp));
        // 16-bit planes must be 2-byte aligned: copy into u16 storage and view its bytes.
        let aligned = |b: &[u8]| -> Vec<u16> {
            b.chunks(2).map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect()
        };
        let (ya, ua, va) = (aligned(&yb), aligned(&ub), aligned(&vb));
        fn view(a: &[u16], len: usize) -> &[u8] {
            // SAFETY: viewing initialised u16 storage as bytes (u8 has no alignment requirement).
            &unsafe { a.align_to::<u8>() }.1[..len]
        }
        let planes = if depth == 8 {
            [&yb[..], &ub[..], &vb[..]]
        } else {
            [view(&ya, yb.len()), view(&ua, ub.len()), view(&va, vb.len())]
        };
        let bps = if depth == 8 { 1 } else { 2 };
        let frame = YuvFrame { layout, width: w, height: h, planes, strides: [ys * bps, cs * bps, cs * bps] };
        let bpp = out.bytes_per_pixel();
        let ds = w * bpp + pad;
        let mut got = vec![0u8; ds * h];
        yuv_to_rgb(&frame, &mut got, ds, out, c, threads).unwrap();
        let mut want = got.clone();
        for r in 0..h {
            for col in 0..w {
                let (cr, cc) = (r / layout.chroma_rows(), col / layout.chroma_columns());
                let (u, v) = if layout == YuvLayout::Nv12 {
                    (up[cr * cs + 2 * cc], up[cr * cs + 2 * cc + 1])
                } else {
                    (up[cr * cs + cc], vp[cr * cs + cc])
                };
                let [rr, gg, bb] = reference_pixel(yp[r * ys + col], u, v, depth, c);
                let px = &mut want[r * ds + col * bpp..][..bpp];
                match out {
                    RgbLayout::Rgb => px.copy_from_slice(&[rr, gg, bb]),
                    RgbLayout::Bgr => px.copy_from_slice(&[bb, gg, rr]),
                    RgbLayout::Rgba => px.copy_from_slice(&[rr, gg, bb, 255]),
                    RgbLayout::Bgra => px.copy_from_slice(&[bb, gg, rr, 255]),
                }
            }
        }
        (got, want, ds)
    }

    fn max_diff(a: &[u8], b: &[u8]) -> u8 {
        a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
    }

    const LAYOUTS: [YuvLayout; 7] = [
        YuvLayout::I420,
        YuvLayout::Nv12,
        YuvLayout::Y42b,
        YuvLayout::Y444,
        YuvLayout::I420p10,
        YuvLayout::I422p10,
        YuvLayout::Y444p10,
    ];
    const OUTS: [RgbLayout; 4] = [RgbLayout::Rgb, RgbLayout::Bgr, RgbLayout::Rgba, RgbLayout::Bgra];
    const MATRICES: [Matrix; 3] = [Matrix::Bt601, Matrix::Bt709, Matrix::Bt2020];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any size (odd ones included), any padding, any thread count: within 2 levels of
        /// the floating-point reference (the kernels use fixed point), padding untouched.
        #[test]
        fn matches_the_scalar_reference(
            l in 0..7usize, o in 0..4usize, m in 0..3usize, full in any::<bool>(),
            w in 1..200usize, h in 1..300usize, pad in 0..40usize, threads in 1..5usize, seed in any::<u64>(),
        ) {
            let c = Colorimetry { matrix: MATRICES[m], full_range: full };
            let w = if LAYOUTS[l].supports_width(w) { w } else { w + 1 };
            let (got, want, _) = convert_both(LAYOUTS[l], w, h, pad, seed, OUTS[o], c, threads);
            prop_assert!(max_diff(&got, &want) <= 2, "max diff {}", max_diff(&got, &want));
        }

        /// Splitting into bands changes nothing: output is byte-identical for any thread count.
        #[test]
        fn bands_do_not_change_the_output(
            l in 0..7usize, w in 1..100usize, h in 1..600usize, threads in 2..6usize, seed in any::<u64>(),
        ) {
            let c = Colorimetry { matrix: Matrix::Bt709, full_range: false };
            let w = if LAYOUTS[l].supports_width(w) { w } else { w + 1 };
            let (one, _, _) = convert_both(LAYOUTS[l], w, h, 3, seed, RgbLayout::Rgb, c, 1);
            let (many, _, _) = convert_both(LAYOUTS[l], w, h, 3, seed, RgbLayout::Rgb, c, threads);
            prop_assert_eq!(one, many);
        }
    }

    #[test]
    fn odd_width_10_bit_subsampled_is_refused_not_a_panic() {
        let y = [64u16; 3];
        let c = [512u16; 2];
        // SAFETY: viewing initialised u16 storage as bytes.
        let (yb, cb) = unsafe { (y.align_to::<u8>().1, c.align_to::<u8>().1) };
        let colorimetry = Colorimetry { matrix: Matrix::Bt709, full_range: false };
        for layout in [YuvLayout::I420p10, YuvLayout::I422p10] {
            let frame = YuvFrame { layout, width: 3, height: 1, planes: [yb, cb, cb], strides: [6, 4, 4] };
            let mut out = [0u8; 9];
            assert!(yuv_to_rgb(&frame, &mut out, 9, RgbLayout::Rgb, colorimetry, 1).is_err());
        }
    }

    #[test]
    fn too_small_output_is_an_error() {
        let y = [16u8; 16];
        let c = [128u8; 4];
        let frame = YuvFrame { layout: YuvLayout::I420, width: 4, height: 4, planes: [&y, &c, &c], strides: [4, 2, 2] };
        let colorimetry = Colorimetry { matrix: Matrix::Bt601, full_range: false };
        let mut out = [0u8; 47];
        assert!(yuv_to_rgb(&frame, &mut out, 12, RgbLayout::Rgb, colorimetry, 2).is_err());
        let mut out = [1u8; 48];
        yuv_to_rgb(&frame, &mut out, 12, RgbLayout::Rgb, colorimetry, 2).unwrap();
        assert!(out.iter().all(|&b| b == 0), "limited-range black is 0");
    }
}
