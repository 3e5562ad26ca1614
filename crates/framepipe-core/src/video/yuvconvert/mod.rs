//! The reader's colour converter: 8- and 10-bit YUV (I420, NV12, Y42B, Y444 and the 10-bit
//! I420, I422, Y444) to packed 8-bit RGB in Rust
//! (see [`super::convert`]), or to full-range gray from the luma plane, passing every other format through untouched for the
//! `videoconvert` after it. Not registered as a factory: the reader makes it directly.

use gst::glib;

use super::convert::RgbLayout;

mod imp;

glib::wrapper! {
    /// Converts 8- and 10-bit YUV frames to the RGB layout or the full-range gray it is made
    /// for; passes anything else through.
    pub struct FpYuvConvert(ObjectSubclass<imp::FpYuvConvert>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

impl FpYuvConvert {
    /// A converter producing `output`, with `threads` conversion threads per frame.
    pub fn new(output: RgbLayout, threads: u32) -> FpYuvConvert {
        FpYuvConvert::with_format(output.video_format(), threads)
    }

    /// A converter to full-range gray (`format`: GRAY8 or GRAY16_LE) from the luma plane of
    /// YUV, as FFmpeg's `gray` and `gray16le` (anything else passes through to videoconvert).
    pub fn gray(format: gst_video::VideoFormat) -> FpYuvConvert {
        FpYuvConvert::with_format(format, 1)
    }

    fn with_format(format: gst_video::VideoFormat, threads: u32) -> FpYuvConvert {
        glib::Object::builder()
            .property("format", format.to_str().as_str())
            .property("n-threads", threads.max(1))
            .build()
    }
}
