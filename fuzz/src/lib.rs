//! The bodies of framepipe's fuzz targets, one function per target, shared by the
//! libFuzzer binaries (`fuzz_targets/`, `make fuzz`) and the seeded slice that `make test`
//! runs (`tests/slice.rs`).
//!
//! Each body must never panic on any input: a panic is a finding. Besides "no crash", each
//! checks a property of its parser:
//! - `h264_nal`: a unit reported disposable really has a non-reference slice header byte;
//! - `caps_layout`: every array view framepipe accepts lies inside the mapped bytes
//!   (checked independently in 128-bit arithmetic), whatever the caps, offsets and strides;
//! - `metadata`: JSON messages, tensors and regions read back exactly as attached, and
//!   the fpmetawriter record of the buffer is valid JSON that parses back;
//! - `filter_string`: the filter classifier and libavfilter's parser give typed errors, and
//!   an option value framepipe escapes can never inject another filter into the graph.

use std::sync::Once;

use framepipe_core::media::MediaInfo;
use framepipe_core::meta::{self, RegionSpec, Tensor};
use framepipe_core::video::{Filter, FilterSpec, avfilter};
use framepipe_core::{Dtype, View};

const DTYPES: [Dtype; 11] = [
    Dtype::U8,
    Dtype::I8,
    Dtype::U16,
    Dtype::I16,
    Dtype::U32,
    Dtype::I32,
    Dtype::F32,
    Dtype::F64,
    Dtype::I64,
    Dtype::U64,
    Dtype::Bool,
];

/// Largest buffer a target allocates, so a huge frame size costs no memory.
const MAX_ALLOC: usize = 1 << 22;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        framepipe_core::init().expect("GStreamer initialises");
        meta::register();
        // GStreamer's caps parser warns about every bad feature name it meets: quiet.
        gst::glib::log_set_handler(Some("GStreamer"), gst::glib::LogLevels::LEVEL_WARNING, false, false, |_, _, _| {});
    });
}

/// A little reader of fuzz bytes: numbers first, the rest as a payload.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }

    fn u32(&mut self) -> u32 {
        u32::from(self.u16()) << 16 | u32::from(self.u16())
    }

    fn f64(&mut self) -> f64 {
        // Mostly ordinary numbers, sometimes any bit pattern (NaN, infinities, huge).
        let raw = self.u32();
        if raw & 0xf == 0 {
            f64::from_bits(u64::from(raw) << 32 | u64::from(self.u32()))
        } else {
            f64::from(raw as i32) / 65536.0
        }
    }

    fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// Where the last byte of `view` lies, as `[first, end)` byte addresses, computed in
/// 128-bit arithmetic (no overflow is possible for 64-bit shapes and strides).
fn extent(view: &View) -> (i128, i128) {
    let mut lo = view.offset as i128;
    let mut hi = view.offset as i128;
    if view.shape.contains(&0) {
        return (lo, lo);
    }
    for (&n, &s) in view.shape.iter().zip(&view.strides) {
        let step = (n as i128 - 1) * s as i128;
        if step < 0 { lo += step } else { hi += step }
    }
    (lo, hi + view.dtype.size() as i128)
}

/// The property every accepted view must have: inside `[0, len)`, one stride per axis.
fn assert_inside(views: &[View], len: usize) {
    for v in views {
        assert_eq!(v.shape.len(), v.strides.len(), "a stride per axis: {v:?}");
        let (lo, hi) = extent(v);
        assert!(lo >= 0 && hi <= len as i128, "view {v:?} reaches [{lo}, {hi}) outside a mapping of {len} bytes");
        assert!(v.fits(len), "View::fits disagrees for {v:?} in {len} bytes");
    }
}

/// The H.264 NAL walk that decides whether an access unit can be skipped undecoded.
pub fn h264_nal(data: &[u8]) {
    let Some((&first, au)) = data.split_first() else { return };
    let length_size = usize::from(first % 5);
    if framepipe_core::video::h264_disposable(au, length_size) {
        // Only a slice header (types 1..=4) with nal_ref_idc 0 can make a unit disposable.
        assert!(
            au.iter().any(|&h| matches!(h & 0x1f, 1..=4) && h & 0x60 == 0),
            "disposable without a non-reference slice header (length size {length_size})"
        );
    }
}

/// Caps -> VideoInfo/AudioInfo -> plane views, from caps text or from fuzzed formats,
/// sizes, plane offsets and strides (as a VideoMeta would give them).
pub fn caps_layout(data: &[u8]) {
    init();
    let mut b = Bytes(data);
    let mode = b.u8();
    if mode & 1 == 0 {
        // Caps text, parsed as GStreamer does; the buffer is the caps' size, give or take.
        let delta = i64::from(b.u8() as i8);
        let text = String::from_utf8_lossy(b.rest());
        // framepipe's parser for user caps (Python elements' caps, transform_caps).
        let caps = match framepipe_core::media::parse_caps(&text) {
            Ok(caps) => caps,
            Err(framepipe_core::Error::Value(_)) => return,
            Err(e) => panic!("not a ValueError: {e:?}"),
        };
        let media = MediaInfo::from_caps(Some(&caps));
        let size = match &media {
            MediaInfo::Video(info) => info.size(),
            MediaInfo::Audio(info) => info.bpf() as usize * 64,
            MediaInfo::Other => 64,
        };
        let len = (size as i64 + delta).clamp(0, MAX_ALLOC as i64) as usize;
        let buffer = gst::Buffer::with_size(len).expect("a small allocation");
        if let Ok(views) = media.planes(&buffer, len) {
            assert_inside(&views, len);
        }
        if let Ok(view) = media.array(&buffer, len) {
            assert_inside(std::slice::from_ref(&view), len);
        }
        return;
    }
    // Any raw format GStreamer knows, any size, any offsets and strides.
    let formats: Vec<gst_video::VideoFormat> = gst_video::VideoFormat::iter_raw().collect();
    let format = formats[usize::from(b.u8()) % formats.len()];
    let finfo = gst_video::VideoFormatInfo::from_format(format);
    let (width, height) = (u32::from(b.u16()), u32::from(b.u16()));
    let len = b.u32() as usize;
    let mut offsets = Vec::new();
    let mut strides = Vec::new();
    for _ in 0..4 {
        offsets.push(b.u32() as usize);
        strides.push(b.u32() as i32);
    }
    if let Ok(views) = framepipe_core::layout::video_planes(&finfo, width, height, &offsets, &strides) {
        // video_planes only describes; MediaInfo::planes checks the fit. Check that the
        // views it would accept are inside.
        let fitting: Vec<View> = views.into_iter().filter(|v| v.fits(len)).collect();
        assert_inside(&fitting, len);
    }
    // The same through a buffer with a VideoMeta, as frames from a pipeline arrive.
    let alloc = len.min(MAX_ALLOC);
    let Ok(info) = gst_video::VideoInfo::builder(format, width.max(1), height.max(1)).build() else { return };
    let mut buffer = gst::Buffer::with_size(alloc).expect("a small allocation");
    let n = finfo.n_planes() as usize;
    let added = gst_video::VideoMeta::add_full(
        buffer.get_mut().expect("a new buffer is writable"),
        gst_video::VideoFrameFlags::empty(),
        format,
        width.max(1),
        height.max(1),
        &offsets[..n],
        &strides[..n],
    );
    let media = MediaInfo::Video(info);
    if added.is_ok() {
        if let Ok(views) = media.planes(&buffer, alloc) {
            assert_inside(&views, alloc);
        }
        if let Ok(view) = media.array(&buffer, alloc) {
            assert_inside(std::slice::from_ref(&view), alloc);
        }
    }
}

/// Messages, tensors and regions attached to a buffer and read back, and the JSON record
/// `fpmetawriter` writes for it.
pub fn metadata(data: &[u8]) {
    init();
    let mut b = Bytes(data);
    let mode = b.u8();
    let mut buffer = gst::Buffer::new();
    let buf = buffer.get_mut().expect("a new buffer is writable");
    match mode % 3 {
        0 => {
            let text = String::from_utf8_lossy(b.rest()).into_owned();
            match meta::add_message_json(buf, &text) {
                Ok(()) => {
                    let parsed: serde_json::Value = serde_json::from_str(&text).expect("accepted JSON parses");
                    assert_eq!(meta::messages(buf), vec![parsed.clone()]);
                    assert_eq!(meta::message_texts(buf), vec![text]);
                    // The value serialised by framepipe reads back equal.
                    meta::add_message(buf, &parsed);
                    assert_eq!(meta::messages(buf), vec![parsed.clone(), parsed]);
                }
                Err(framepipe_core::Error::Value(_)) => assert!(meta::messages(buf).is_empty()),
                Err(e) => panic!("not a ValueError: {e:?}"),
            }
        }
        1 => {
            let dtype = DTYPES[usize::from(b.u8()) % DTYPES.len()];
            let ndim = usize::from(b.u8() % 5);
            let shape: Vec<usize> = (0..ndim).map(|_| usize::from(b.u8())).collect();
            let name_len = usize::from(b.u8() % 16);
            let name: String = (0..name_len).map(|_| char::from(b.u8())).collect();
            let bytes = b.rest();
            match Tensor::from_slice(name.clone(), dtype, shape.clone(), bytes) {
                Ok(t) => {
                    meta::add_tensor(buf, t);
                    let back = meta::tensors(buf);
                    assert_eq!(back.len(), 1);
                    assert_eq!((back[0].name(), back[0].dtype(), back[0].shape()), (name.as_str(), dtype, &shape[..]));
                    assert_eq!(&back[0].data()[..], bytes);
                    assert_eq!(meta::remove_tensor(buf, &name), 1);
                    assert!(meta::tensors(buf).is_empty());
                }
                Err(framepipe_core::Error::Value(_)) => {
                    let expected = shape.iter().try_fold(dtype.size(), |a, &n| a.checked_mul(n));
                    assert_ne!(expected, Some(bytes.len()), "refused a tensor of the right size");
                }
                Err(e) => panic!("not a ValueError: {e:?}"),
            }
        }
        _ => {
            let (width, height) = (u32::from(b.u16()), u32::from(b.u16()));
            let (x, y, w, h, confidence) = (b.f64(), b.f64(), b.f64(), b.f64(), b.f64());
            let normalized = b.u8() & 1 == 1;
            let attributes: Option<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_slice(b.rest()).ok().and_then(|v: serde_json::Value| v.as_object().cloned());
            let spec = RegionSpec {
                x,
                y,
                w,
                h,
                label: "fuzz",
                confidence,
                normalized,
                attributes: attributes.as_ref(),
                parent_id: None,
            };
            match meta::add_region(buf, width, height, &spec) {
                Ok(r) => {
                    assert!(
                        u64::from(r.x) + u64::from(r.w) <= u64::from(width)
                            && u64::from(r.y) + u64::from(r.h) <= u64::from(height),
                        "region {r:?} outside a {width}x{height} frame"
                    );
                    let back = meta::regions(buf);
                    assert_eq!(back.len(), 1);
                    assert_eq!((back[0].x, back[0].y, back[0].w, back[0].h), (r.x, r.y, r.w, r.h));
                    if let Some(a) = &attributes {
                        assert_eq!(&back[0].attributes, a);
                    }
                }
                Err(framepipe_core::Error::Value(_)) => assert!(meta::regions(buf).is_empty()),
                Err(e) => panic!("not a ValueError: {e:?}"),
            }
        }
    }
    // fpmetawriter's record of whatever the buffer now carries is JSON that parses back.
    let record = meta::frame_record(buf);
    let text = record.to_string();
    let back: serde_json::Value = serde_json::from_str(&text).expect("the record is valid JSON");
    assert_eq!(back, record);
}

/// Filter strings as `filter=` takes them, and FFmpeg `(name, params)` sequences.
pub fn filter_string(data: &[u8]) {
    init();
    let mut b = Bytes(data);
    let mode = b.u8();
    let text = String::from_utf8_lossy(b.rest()).into_owned();
    match mode % 3 {
        0 => {
            let filter = Filter::from_string(&text);
            for r in [filter.ffmpeg_description().map(|_| ()), filter.to_launch(None).map(|_| ())] {
                match r {
                    Ok(()) | Err(framepipe_core::Error::Value(_) | framepipe_core::Error::Parse { .. }) => {}
                    Err(e) => panic!("{text:?}: not a ValueError/ParseError: {e:?}"),
                }
            }
            let _ = filter.changes_frame_count(None);
        }
        1 => {
            // A value escaped by framepipe stays one option of one filter.
            let spec = FilterSpec::with_pairs("drawtext", [("text", text.as_str())]);
            let filter = Filter::Sequence(vec![spec]);
            match filter.ffmpeg_description() {
                Ok(Some(desc)) => match avfilter::filter_names(&desc) {
                    Ok(names) => assert_eq!(names, ["drawtext"], "{text:?} escaped as {desc:?}"),
                    Err(framepipe_core::Error::Value(_) | framepipe_core::Error::Parse { .. }) => {}
                    Err(e) => panic!("{desc:?}: not a ValueError/ParseError: {e:?}"),
                },
                Ok(None) => panic!("a libavfilter filter gave no FFmpeg description"),
                Err(framepipe_core::Error::Value(_) | framepipe_core::Error::Parse { .. }) => {}
                Err(e) => panic!("{text:?}: not a ValueError/ParseError: {e:?}"),
            }
        }
        _ => {
            // FFmpeg's positional/named parameter syntax ("512:-1", "w=1:h=2").
            let (name, params) = text.split_once('=').unwrap_or((text.as_str(), ""));
            let spec = FilterSpec::new(name, params);
            assert_eq!(spec.args, params);
            match Filter::Sequence(vec![spec]).to_launch(None) {
                Ok(_) | Err(framepipe_core::Error::Value(_) | framepipe_core::Error::Parse { .. }) => {}
                Err(e) => panic!("{text:?}: not a ValueError/ParseError: {e:?}"),
            }
        }
    }
}
