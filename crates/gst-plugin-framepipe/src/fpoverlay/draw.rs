//! Rectangles and text on raw video planes. Packed RGB formats are written per pixel;
//! I420 and NV12 are written in YUV (BT.601 limited range): luma per pixel and chroma for
//! every 2x2 block that a drawn pixel touches, so chroma can bleed at most one pixel
//! past a drawn edge while luma never does.

use super::font;

/// How the frame's bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One plane, `bpp` bytes per pixel, with the byte offsets of R, G, B (and alpha).
    Packed { bpp: usize, r: usize, g: usize, b: usize, a: Option<usize> },
    /// Y, U and V planes, chroma halved both ways.
    I420,
    /// Y plane and one interleaved UV plane, chroma halved both ways.
    Nv12,
}

impl Layout {
    pub(crate) fn of(format: gst_video::VideoFormat) -> Option<Layout> {
        use gst_video::VideoFormat as F;
        let packed = |bpp, r, g, b, a| Some(Layout::Packed { bpp, r, g, b, a });
        match format {
            F::Rgb => packed(3, 0, 1, 2, None),
            F::Bgr => packed(3, 2, 1, 0, None),
            F::Rgba => packed(4, 0, 1, 2, Some(3)),
            F::Bgra => packed(4, 2, 1, 0, Some(3)),
            F::Rgbx => packed(4, 0, 1, 2, None),
            F::Bgrx => packed(4, 2, 1, 0, None),
            F::I420 => Some(Layout::I420),
            F::Nv12 => Some(Layout::Nv12),
            _ => None,
        }
    }
}

/// An RGB colour with its BT.601 limited-range YUV equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    pub rgb: [u8; 3],
    pub yuv: [u8; 3],
}

impl Color {
    pub fn from_rgb(rgb: [u8; 3]) -> Color {
        let [r, g, b] = rgb.map(i32::from);
        let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
        let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
        let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
        Color { rgb, yuv: [y, u, v].map(|c| c.clamp(0, 255) as u8) }
    }

    /// Black or white, whichever reads better on this colour.
    pub fn contrast(self) -> Color {
        if self.yuv[0] > 128 { Color::from_rgb([0, 0, 0]) } else { Color::from_rgb([255, 255, 255]) }
    }
}

/// The colour fpoverlay uses for `label`: a hue from a hash of the label (FNV-1a), full
/// value, high saturation, so the same label always gets the same colour.
pub fn label_color(label: &str) -> Color {
    let mut h: u32 = 0x811c_9dc5;
    for b in label.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let hue = (h % 360) as f64;
    let (s, v) = (0.8, 1.0);
    let c = v * s;
    let x = c * (1.0 - ((hue / 60.0) % 2.0 - 1.0).abs());
    let m = v - c;
    let (r, g, b) = match (hue / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    Color::from_rgb([r, g, b].map(|v| ((v + m) * 255.0).round() as u8))
}

/// A frame to draw on: its planes with their strides.
pub(crate) struct Canvas<'a> {
    pub layout: Layout,
    pub width: usize,
    pub height: usize,
    pub planes: [&'a mut [u8]; 4],
    pub strides: [usize; 4],
}

impl Canvas<'_> {
    /// Fills `[x0, x1) x [y0, y1)`, clipped to the frame.
    pub fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, color: Color) {
        let clip = |v: i64, max: usize| v.clamp(0, max as i64) as usize;
        let (x0, x1) = (clip(x0, self.width), clip(x1, self.width));
        let (y0, y1) = (clip(y0, self.height), clip(y1, self.height));
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        match self.layout {
            Layout::Packed { bpp, r, g, b, a } => {
                let stride = self.strides[0];
                for y in y0..y1 {
                    let row = &mut self.planes[0][y * stride..];
                    for px in row[x0 * bpp..x1 * bpp].chunks_exact_mut(bpp) {
                        px[r] = color.rgb[0];
                        px[g] = color.rgb[1];
                        px[b] = color.rgb[2];
                        if let Some(a) = a {
                            px[a] = 255;
                        }
                    }
                }
            }
            Layout::I420 | Layout::Nv12 => {
                let stride = self.strides[0];
                for y in y0..y1 {
                    self.planes[0][y * stride + x0..y * stride + x1].fill(color.yuv[0]);
                }
                // Chroma blocks touched by the rectangle.
                let (cx0, cx1, cy0, cy1) = (x0 / 2, x1.div_ceil(2), y0 / 2, y1.div_ceil(2));
                for cy in cy0..cy1 {
                    if self.layout == Layout::I420 {
                        let (su, sv) = (self.strides[1], self.strides[2]);
                        self.planes[1][cy * su + cx0..cy * su + cx1].fill(color.yuv[1]);
                        self.planes[2][cy * sv + cx0..cy * sv + cx1].fill(color.yuv[2]);
                    } else {
                        let s = self.strides[1];
                        for uv in self.planes[1][cy * s + 2 * cx0..cy * s + 2 * cx1].chunks_exact_mut(2) {
                            uv[0] = color.yuv[1];
                            uv[1] = color.yuv[2];
                        }
                    }
                }
            }
        }
    }

    /// The outline of `[x, x + w) x [y, y + h)`, `thickness` pixels wide, drawn inside it.
    pub fn outline(&mut self, x: i64, y: i64, w: i64, h: i64, thickness: i64, color: Color) {
        let t = thickness.min(w).min(h).max(1);
        self.fill(x, y, x + w, y + t, color);
        self.fill(x, y + h - t, x + w, y + h, color);
        self.fill(x, y, x + t, y + h, color);
        self.fill(x + w - t, y, x + w, y + h, color);
    }

    /// `text` with its top-left corner at (x, y), each font pixel `scale` pixels wide.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, color: Color) {
        let advance = (font::GLYPH_WIDTH as i64 + 1) * scale;
        for (i, c) in text.chars().enumerate() {
            let gx = x + i as i64 * advance;
            for (row, bits) in font::glyph(c).iter().enumerate() {
                for col in 0..font::GLYPH_WIDTH {
                    if bits & (0x10 >> col) != 0 {
                        let (px, py) = (gx + col as i64 * scale, y + row as i64 * scale);
                        self.fill(px, py, px + scale, py + scale, color);
                    }
                }
            }
        }
    }
}

/// Size in pixels of `text` drawn at `scale`, without padding.
pub(crate) fn text_size(text: &str, scale: i64) -> (i64, i64) {
    let n = text.chars().count() as i64;
    ((n * (font::GLYPH_WIDTH as i64 + 1) - 1).max(0) * scale, font::GLYPH_HEIGHT as i64 * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_colours_are_stable_and_distinct() {
        assert_eq!(label_color("car"), label_color("car"));
        assert_ne!(label_color("car").rgb, label_color("person").rgb);
        // Saturated: never grey, so it shows on grey frames in every format.
        for l in ["", "a", "car", "person", "dog", "ball"] {
            let c = label_color(l);
            assert!(c.rgb.iter().max().unwrap() - c.rgb.iter().min().unwrap() > 100, "{l}: {c:?}");
        }
    }

    #[test]
    fn yuv_of_primaries() {
        assert_eq!(Color::from_rgb([0, 0, 0]).yuv, [16, 128, 128]);
        assert_eq!(Color::from_rgb([255, 255, 255]).yuv, [235, 128, 128]);
    }

    #[test]
    fn every_printable_glyph_but_space_has_ink() {
        for c in '!'..='~' {
            assert!(font::glyph(c).iter().any(|&r| r != 0), "{c}");
        }
        assert_eq!(text_size("ab", 1), (11, 7));
    }
}
