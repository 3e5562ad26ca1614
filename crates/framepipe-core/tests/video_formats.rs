//! Output formats and filters: each format's shape and dtype, full-range gray, frame sizes after
//! GStreamer and FFmpeg filters.

mod common;

use std::path::Path;

use common::{bframe_mp4, bytes, clip, never, rgb};
use framepipe_core::layout::Dtype;
use framepipe_core::video::{Filter, FilterSpec, OutputFormat, ReaderOptions, VideoReader, probe};

#[test]
fn formats_have_their_shapes() {
    let path = bframe_mp4();
    let cases = [
        (Some(OutputFormat::Rgb24), vec![120, 160, 3], Dtype::U8),
        (Some(OutputFormat::Bgr24), vec![120, 160, 3], Dtype::U8),
        (Some(OutputFormat::Rgba), vec![120, 160, 4], Dtype::U8),
        (Some(OutputFormat::Bgra), vec![120, 160, 4], Dtype::U8),
        (Some(OutputFormat::Gray), vec![120, 160], Dtype::U8),
        (Some(OutputFormat::Gray16le), vec![120, 160], Dtype::U16),
        (Some(OutputFormat::Rgb48le), vec![120, 160, 3], Dtype::U16),
        (Some(OutputFormat::Yuv444p), vec![3, 120, 160], Dtype::U8),
    ];
    let (meta, index) = probe(&path, &mut never()).unwrap();
    for (format, shape, dtype) in cases {
        let opts = ReaderOptions { format, ..ReaderOptions::default() };
        let mut r = VideoReader::with_index(meta.clone(), index.clone(), opts).unwrap();
        let f = r.read(3, &mut never()).unwrap();
        let v = f.view().unwrap();
        assert_eq!((v.shape.clone(), v.dtype), (shape, dtype), "{format:?}");
        assert!(v.fits(f.buffer().unwrap().size()));
    }
    let opts = ReaderOptions { format: Some(OutputFormat::Yuv444p), ..ReaderOptions::default() };
    let r = VideoReader::with_index(meta.clone(), index.clone(), opts).unwrap();
    assert_eq!(r.frame_shape(&mut never()).unwrap(), (vec![3, 120, 160], Dtype::U8));
    // Native: I420 planes.
    let opts = ReaderOptions { format: None, ..ReaderOptions::default() };
    let mut r = VideoReader::with_index(meta, index, opts).unwrap();
    let f = r.next_frame(&mut never()).unwrap().unwrap();
    assert_eq!(f.planes().unwrap().len(), 3);
}

#[test]
fn gray_is_full_range() {
    let white = clip(
        "white.mkv",
        "videotestsrc pattern=white num-buffers=3 ! video/x-raw,width=64,height=48 ! x264enc ! matroskamux ! filesink location=OUT",
    );
    let black = clip(
        "black.mkv",
        "videotestsrc pattern=black num-buffers=3 ! video/x-raw,width=64,height=48 ! x264enc ! matroskamux ! filesink location=OUT",
    );
    for (path, lo, hi) in [(white, 252u16, 255u16), (black, 0, 3)] {
        for format in [OutputFormat::Gray, OutputFormat::Gray16le] {
            let opts = ReaderOptions { format: Some(format), ..ReaderOptions::default() };
            let mut r = VideoReader::open(&path, opts, &mut never()).unwrap();
            let f = r.read(1, &mut never()).unwrap();
            let b = bytes(&f);
            let v =
                if format == OutputFormat::Gray { b[100] as u16 } else { u16::from_le_bytes([b[200], b[201]]) >> 8 };
            assert!(v >= lo && v <= hi, "{format:?} {}: {v}", path.display());
        }
    }
}

fn frame_size(path: &Path, filter: Filter) -> (u32, u32) {
    let opts = ReaderOptions { filter: Some(filter), ..ReaderOptions::default() };
    let mut r = VideoReader::open(path, opts, &mut never()).unwrap();
    let f = r.read(2, &mut never()).unwrap();
    (f.width(), f.height())
}

#[test]
fn filters() {
    // FFmpeg filters (sequences, graphs, strings) need the fpavfilter element of the plugin
    // crate: its tests/fpavfilter.rs drives them through this reader and the writer.
    let path = bframe_mp4();
    let launch = Filter::Launch("videoflip video-direction=90r ! videoscale ! video/x-raw,width=60,height=80".into());
    assert_eq!(frame_size(&path, launch), (60, 80));
    assert_eq!(frame_size(&path, Filter::from_string("videoflip video-direction=horiz")), (160, 120));
    let gst_seq = Filter::Sequence(vec![FilterSpec::with_pairs("videoflip", [("video-direction", "horiz")])]);
    // videoflip mirrors.
    let (meta, index) = probe(&path, &mut never()).unwrap();
    let plain =
        bytes(&VideoReader::with_index(meta.clone(), index.clone(), rgb()).unwrap().read(4, &mut never()).unwrap());
    let opts = ReaderOptions { filter: Some(gst_seq), ..rgb() };
    let flipped = bytes(&VideoReader::with_index(meta, index, opts).unwrap().read(4, &mut never()).unwrap());
    let stride = plain.len() / 120;
    for x in [0usize, 10, 80] {
        let a = &plain[5 * stride + x * 3..5 * stride + x * 3 + 3];
        let b = &flipped[5 * stride + (159 - x) * 3..5 * stride + (159 - x) * 3 + 3];
        assert_eq!(a, b);
    }
    // Without the plugin registered, an FFmpeg filter is a clear error, not a crash.
    let opts = ReaderOptions { filter: Some(Filter::from_string("hflip")), ..rgb() };
    if gst::ElementFactory::find("fpavfilter").is_none() {
        let mut r = VideoReader::open(&path, opts, &mut never()).unwrap();
        let e = r.read(0, &mut never()).unwrap_err().to_string();
        assert!(e.contains("fpavfilter"), "{e}");
    }
}
