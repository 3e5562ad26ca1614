//! Frame-exact reading: sequential frames, their indices and times, and random reads that give
//! the same frames, on B-frame, VFR, open-GOP and elementary H.264 and other containers.

mod common;

use std::path::Path;

use common::{SRC, X264_B, bframe_mp4, bytes, clip, mkv, never, rgb, ts, vfr_mp4, webm_vp8, webm_vp9};
use framepipe_core::Error;
use framepipe_core::video::{Filter, ReaderOptions, VideoReader, probe};

/// Sequential frames, their indices and times, and exact random reads.
fn check_exact(path: &Path, expected: usize) {
    let (meta, index) = probe(path, &mut never()).unwrap();
    assert_eq!(meta.n_frames, expected, "{}", path.display());
    assert_eq!(index.len(), expected);
    assert_eq!((meta.width, meta.height), (160, 120));
    let mut reader = VideoReader::with_index(meta, index, rgb()).unwrap();
    let mut seq = Vec::new();
    while let Some(f) = reader.next_frame(&mut never()).unwrap() {
        assert_eq!(f.index, seq.len(), "{}", path.display());
        if f.index == 0 {
            assert_eq!(f.time, 0.0);
        }
        seq.push(bytes(&f));
    }
    assert_eq!(seq.len(), expected, "{}: sequential count", path.display());
    // Random access after the end of the stream.
    assert!(bytes(&reader.read(3, &mut never()).unwrap()) == seq[3]);
    assert_eq!(reader.next_frame(&mut never()).unwrap().unwrap().index, 4);
    let mut reader = VideoReader::open(path, rgb(), &mut never()).unwrap();
    for k in [expected - 1, 0, 17, 5, 6, 28, 2, expected - 2, 13] {
        let f = reader.read(k, &mut never()).unwrap();
        assert_eq!(f.index, k);
        assert!(bytes(&f) == seq[k], "{}: read({k}) differs from sequential frame {k}", path.display());
    }
    // tsdemux seeks by estimated byte offsets and now and then lands after the keyframe;
    // the reader then decodes from the start (still exact, only slower). Elsewhere a
    // fallback means the index or the seek logic is wrong.
    if path.extension().is_none_or(|e| e != "ts") {
        assert_eq!(reader.fallbacks(), 0, "{}: a read decoded from the start", path.display());
    }
    assert!(matches!(reader.read(expected, &mut never()), Err(Error::Value(_))));
    // The H.264 clips have B-frames nothing references: reads skip decoding those before
    // their target (and are still exact, above). An elementary stream has no timestamps to
    // compare with the target's, so nothing is skipped there.
    if reader.metadata().codec == "h264" && path.extension().is_some_and(|e| e != "h264") {
        assert!(reader.skipped() > 0, "{}: no B-frame was skipped", path.display());
    }
}

#[test]
fn exact_bframe_mp4() {
    let path = bframe_mp4();
    let (meta, index) = probe(&path, &mut never()).unwrap();
    assert_eq!(meta.codec, "h264");
    assert_eq!(meta.container, "mp4");
    assert_eq!(meta.pixel_format, "yuv420p");
    let info = meta.to_string();
    assert!(info.contains("frames: 40 (counted)") && info.contains("video: h264 160x120 yuv420p"), "{info}");
    assert!((meta.fps - 30.0).abs() < 1e-6);
    assert!((meta.duration - 40.0 / 30.0).abs() < 0.01, "{}", meta.duration);
    assert!(index.entries().iter().filter(|e| e.keyframe).count() >= 3);
    assert_eq!(index.time(0), Some(0.0));
    check_exact(&path, 40);
}

/// The same 40 frames muxed into Matroska, MPEG-TS and WebM (VP8 and VP9).
#[test]
fn exact_mkv_ts_webm() {
    let clips = [
        (mkv(), "matroska", "h264"),
        (ts(), "mpegts", "h264"),
        (webm_vp8(), "webm", "vp8"),
        (webm_vp9(), "webm", "vp9"),
    ];
    for (path, container, codec) in clips {
        let (meta, _) = probe(&path, &mut never()).unwrap();
        assert_eq!((meta.container.as_str(), meta.codec.as_str()), (container, codec), "{}", path.display());
        check_exact(&path, 40);
    }
}

#[test]
fn exact_vfr_mp4() {
    let path = vfr_mp4();
    let (meta, index) = probe(&path, &mut never()).unwrap();
    assert_eq!(meta.n_frames, 30);
    // Gaps of 1, 2, 3 frame times: 60 frame times in all.
    let t = |k| index.time(k).unwrap();
    assert!((t(1) - 1.0 / 30.0).abs() < 1e-3 && (t(2) - 3.0 / 30.0).abs() < 1e-3, "{} {}", t(1), t(2));
    // The container may shorten the last frame's duration.
    assert!((meta.duration - 2.0).abs() < 0.07, "{}", meta.duration);
    let (meta, index) = probe(&path, &mut never()).unwrap();
    drop((meta, index));
    // The VFR clip is 30 frames; check_exact's fixed indices fit.
    check_exact(&path, 30);
}

#[test]
fn frame_times_count_from_zero() {
    for path in [bframe_mp4(), mkv(), ts()] {
        let (_, index) = probe(&path, &mut never()).unwrap();
        for k in [0usize, 1, 10, 39] {
            let t = index.time(k).unwrap();
            assert!((t - k as f64 / 30.0).abs() < 2e-3, "{}: time({k}) = {t}", path.display());
        }
    }
}

#[test]
fn frame_rate_filter_reads_by_output_position() {
    // FFmpeg's fps filter needs fpavfilter (the plugin crate, tests/fpavfilter.rs); GStreamer's
    // videorate changes the frame count the same way.
    let path = bframe_mp4();
    let filter = Filter::Launch("videorate ! video/x-raw,framerate=15/1".into());
    let opts = ReaderOptions { filter: Some(filter), ..rgb() };
    let mut reader = VideoReader::open(&path, opts.clone(), &mut never()).unwrap();
    let mut seq = Vec::new();
    while let Some(f) = reader.next_frame(&mut never()).unwrap() {
        assert_eq!(f.index, seq.len());
        seq.push(bytes(&f));
    }
    assert!((19..=21).contains(&seq.len()), "{} frames at 15 fps", seq.len());
    let mut reader = VideoReader::open(&path, opts, &mut never()).unwrap();
    for k in [7usize, 2, 15] {
        assert!(bytes(&reader.read(k, &mut never()).unwrap()) == seq[k], "frame {k}");
    }
}

#[test]
fn exact_h264_elementary_stream() {
    let path =
        clip("raw.h264", &format!("{SRC} ! {X264_B} ! video/x-h264,stream-format=byte-stream ! filesink location=OUT"));
    assert_eq!(probe(&path, &mut never()).unwrap().0.container, "elementary");
    check_exact(&path, 40);
}

#[test]
fn exact_open_gop_mp4() {
    let path = clip(
        "opengop.mp4",
        &format!(
            "{SRC} ! x264enc speed-preset=veryfast key-int-max=12 bframes=3 b-adapt=false option-string=open-gop=1 ! \
             mp4mux ! filesink location=OUT"
        ),
    );
    let (_, index) = probe(&path, &mut never()).unwrap();
    // Leading B-frames: decoded after a keyframe, presented before it.
    let e = index.entries();
    let leading = e
        .iter()
        .filter(|b| {
            e.iter().any(|k| k.keyframe && k.decode_order < b.decode_order && b.pts < k.pts && k.decode_order > 0)
        })
        .count();
    assert!(leading > 0, "the clip has no open GOP");
    let n = index.len();
    check_exact(&path, n);
    // Every leading B-frame read on its own.
    let mut reader = VideoReader::open(&path, rgb(), &mut never()).unwrap();
    let mut seq = Vec::new();
    while let Some(f) = reader.next_frame(&mut never()).unwrap() {
        seq.push(bytes(&f));
    }
    for k in 1..n {
        let b = e[k];
        if e.iter()
            .any(|key| key.keyframe && key.decode_order < b.decode_order && b.pts < key.pts && key.decode_order > 0)
        {
            let mut r = VideoReader::open(&path, rgb(), &mut never()).unwrap();
            assert!(bytes(&r.read(k, &mut never()).unwrap()) == seq[k], "leading frame {k}");
            assert_eq!(r.fallbacks(), 0, "leading frame {k} was decoded from the start");
        }
    }
}

#[test]
fn exact_other_containers() {
    // Matroska written for streaming (no cues to seek with), MJPEG in AVI, H.264 in MOV.
    let streamable =
        clip("streamable.mkv", &format!("{SRC} ! {X264_B} ! matroskamux streamable=true ! filesink location=OUT"));
    check_exact(&streamable, 40);
    let avi = clip("mjpeg.avi", &format!("{SRC} ! jpegenc ! avimux ! filesink location=OUT"));
    assert_eq!(probe(&avi, &mut never()).unwrap().0.codec, "mjpeg");
    check_exact(&avi, 40);
    let mov = clip("h264.mov", &format!("{SRC} ! {X264_B} ! qtmux ! filesink location=OUT"));
    assert_eq!(probe(&mov, &mut never()).unwrap().0.container, "mov");
    check_exact(&mov, 40);
}
