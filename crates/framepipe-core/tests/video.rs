//! Video files end to end: clips made with GStreamer pipelines in a temp dir, indexed,
//! read sequentially and by index, written back, and broken on purpose.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use framepipe_core::layout::Dtype;
use framepipe_core::pack::ArrayRef;
use framepipe_core::video::{
    Filter, FilterSpec, OutputFormat, ReaderOptions, VideoReader, VideoWriter, WriterOptions, available_codecs, probe,
};
use framepipe_core::{Error, Pipeline};

fn never() -> impl FnMut() -> bool {
    || false
}

fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Clips of earlier runs (whose process is gone) are removed; a run cannot clean up
        // after itself, as libtest has no hook after the last test.
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("framepipe-video-")
                    && !Path::new("/proc").join(pid).exists()
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let d = std::env::temp_dir().join(format!("framepipe-video-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

/// Runs a launch line writing `name` in the temp dir (once per process).
fn clip(name: &str, launch: &str) -> PathBuf {
    let path = dir().join(name);
    if !path.exists() {
        let tmp = dir().join(format!("tmp-{name}"));
        let desc = launch.replace("OUT", tmp.to_str().unwrap());
        Pipeline::new(&desc).unwrap().run(Some(Duration::from_secs(60)), &mut never()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

const SRC: &str =
    "videotestsrc pattern=ball num-buffers=40 ! video/x-raw,format=I420,width=160,height=120,framerate=30/1";
const X264_B: &str = "x264enc speed-preset=veryfast bframes=2 b-adapt=false key-int-max=12";

fn bframe_mp4() -> PathBuf {
    clip("bframes.mp4", &format!("{SRC} ! {X264_B} ! mp4mux ! filesink location=OUT"))
}

fn mkv() -> PathBuf {
    clip("bframes.mkv", &format!("{SRC} ! {X264_B} ! matroskamux ! filesink location=OUT"))
}

fn ts() -> PathBuf {
    clip("bframes.ts", &format!("{SRC} ! {X264_B} ! mpegtsmux ! filesink location=OUT"))
}

fn webm_vp8() -> PathBuf {
    clip("vp8.webm", &format!("{SRC} ! vp8enc deadline=1 keyframe-max-dist=10 ! webmmux ! filesink location=OUT"))
}

fn webm_vp9() -> PathBuf {
    clip(
        "vp9.webm",
        &format!("{SRC} ! vp9enc deadline=1 cpu-used=8 keyframe-max-dist=10 ! webmmux ! filesink location=OUT"),
    )
}

/// 30 frames with irregular timestamps (gaps of 1, 2 and 3 frame times) in an MP4.
fn vfr_mp4() -> PathBuf {
    let path = dir().join("vfr.mp4");
    if path.exists() {
        return path;
    }
    let tmp = dir().join("tmp-vfr.mp4");
    let raw = Pipeline::new(
        "videotestsrc pattern=ball num-buffers=30 ! video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! \
         appsink name=raw sync=false",
    )
    .unwrap();
    let mut buffers = Vec::new();
    while let Some(s) = raw.pull("raw", Some(Duration::from_secs(10)), &mut never()).unwrap() {
        buffers.push(s.buffer().unwrap().copy());
    }
    let p = Pipeline::new(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=I420,width=160,height=120,framerate=0/1 ! {X264_B} ! \
         mp4mux ! filesink location={}",
        tmp.display()
    ))
    .unwrap();
    let mut pts = 0u64;
    let step = 1_000_000_000u64 / 30;
    for (i, buf) in buffers.into_iter().enumerate() {
        let dur = step * (1 + i as u64 % 3);
        p.push(
            "src",
            buf,
            Some(gst::ClockTime::from_nseconds(pts)),
            Some(gst::ClockTime::from_nseconds(dur)),
            &mut never(),
        )
        .unwrap();
        pts += dur;
    }
    p.end_of_stream("src").unwrap();
    p.run(Some(Duration::from_secs(30)), &mut never()).unwrap();
    drop(p);
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn bytes(frame: &framepipe_core::video::VideoFrame) -> Vec<u8> {
    let map = frame.buffer().unwrap().map_readable().unwrap();
    map.as_slice().to_vec()
}

fn rgb() -> ReaderOptions {
    ReaderOptions::default()
}

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

#[test]
fn exact_mkv() {
    let path = mkv();
    assert_eq!(probe(&path, &mut never()).unwrap().0.container, "matroska");
    check_exact(&path, 40);
}

#[test]
fn exact_mpegts() {
    let path = ts();
    assert_eq!(probe(&path, &mut never()).unwrap().0.container, "mpegts");
    check_exact(&path, 40);
}

#[test]
fn exact_webm_vp8() {
    let path = webm_vp8();
    let (meta, _) = probe(&path, &mut never()).unwrap();
    assert_eq!((meta.container.as_str(), meta.codec.as_str()), ("webm", "vp8"));
    check_exact(&path, 40);
}

#[test]
fn exact_webm_vp9() {
    let path = webm_vp9();
    assert_eq!(probe(&path, &mut never()).unwrap().0.codec, "vp9");
    check_exact(&path, 40);
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

fn assert_media_fast(path: &Path) {
    let start = Instant::now();
    let r = probe(path, &mut never());
    assert!(matches!(r, Err(Error::Media(_))), "{}: {:?}", path.display(), r.map(|m| m.0.n_frames));
    assert!(start.elapsed() < Duration::from_secs(5), "{}: {:?}", path.display(), start.elapsed());
}

#[test]
fn bad_inputs() {
    let missing = dir().join("missing.mp4");
    assert!(matches!(probe(&missing, &mut never()), Err(Error::NotFound(_))));
    assert!(matches!(VideoReader::open(&missing, rgb(), &mut never()), Err(Error::NotFound(_))));

    let empty = dir().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert_media_fast(&empty);

    let text = dir().join("text.mp4");
    std::fs::write(&text, "this is not a video, just some words in a file\n".repeat(50)).unwrap();
    assert_media_fast(&text);

    let audio = clip("audio.mkv", "audiotestsrc num-buffers=20 ! vorbisenc ! matroskamux ! filesink location=OUT");
    assert_media_fast(&audio);

    let good = std::fs::read(bframe_mp4()).unwrap();
    let truncated = dir().join("truncated.mp4");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    assert_media_fast(&truncated);

    // Garbage in the middle of the data: the index may still build; decoding must then
    // either finish or fail with Media after the frames that did decode, never hang.
    let mut corrupt = std::fs::read(mkv()).unwrap();
    let mid = corrupt.len() / 2;
    for (i, b) in corrupt[mid..mid + 4000].iter_mut().enumerate() {
        *b = (i * 131 % 251) as u8;
    }
    let corrupted = dir().join("corrupted.mkv");
    std::fs::write(&corrupted, &corrupt).unwrap();
    let start = Instant::now();
    match VideoReader::open(&corrupted, rgb(), &mut never()) {
        Err(e) => assert!(matches!(e, Error::Media(_)), "{e:?}"),
        Ok(mut reader) => {
            let mut n = 0;
            loop {
                match reader.next_frame(&mut never()) {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => break,
                    Err(e) => {
                        assert!(matches!(e, Error::Media(_)), "{e:?}");
                        assert!(n > 0, "frames before the damage were not yielded");
                        break;
                    }
                }
            }
        }
    }
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// MJPEG frames 20.. replaced by garbage (markers kept): the decoder drops them, iteration
/// yields frames 0..20, then reports the damage as Media, then ends.
#[test]
fn damaged_frames_are_reported_after_the_good_ones() {
    let good = std::fs::read(clip("good.avi", &format!("{SRC} ! jpegenc ! avimux ! filesink location=OUT"))).unwrap();
    let mut data = good.clone();
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(p) = data[i..].windows(3).position(|w| w == [0xff, 0xd8, 0xff]) {
        starts.push(i + p);
        i += p + 3;
    }
    assert_eq!(starts.len(), 40);
    for &s in &starts[20..] {
        let e = s + data[s..].windows(2).position(|w| w == [0xff, 0xd9]).unwrap();
        for (j, b) in data[s + 2..e].iter_mut().enumerate() {
            *b = (j * 7 % 256) as u8;
        }
    }
    let path = dir().join("damaged.avi");
    std::fs::write(&path, &data).unwrap();
    let start = Instant::now();
    let mut reader = VideoReader::open(&path, rgb(), &mut never()).unwrap();
    let mut n = 0;
    let err = loop {
        match reader.next_frame(&mut never()) {
            Ok(Some(f)) => {
                assert_eq!(f.index, n);
                n += 1;
            }
            Ok(None) => panic!("the damage was not reported"),
            Err(e) => break e,
        }
    };
    assert_eq!(n, 20);
    assert!(matches!(err, Error::Media(ref m) if m.contains("frame 20")), "{err:?}");
    assert!(reader.next_frame(&mut never()).unwrap().is_none());
    assert!(start.elapsed() < Duration::from_secs(5));
}

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

/// (H, W, 3) frames of a moving gradient.
fn frames(n: usize, w: usize, h: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut f = vec![0u8; w * h * 3];
            for y in 0..h {
                for x in 0..w {
                    let p = (y * w + x) * 3;
                    f[p] = ((x * 2 + i * 8) % 256) as u8;
                    f[p + 1] = ((y * 2) % 256) as u8;
                    f[p + 2] = 128;
                }
            }
            f
        })
        .collect()
}

fn write(path: &Path, opts: WriterOptions, frames: &[Vec<u8>], w: usize, h: usize) -> Result<(), Error> {
    let mut writer = VideoWriter::create(path, opts)?;
    let shape = [h, w, 3];
    let strides = [(w * 3) as isize, 3, 1];
    for f in frames {
        writer.write(ArrayRef { data: f, shape: &shape, strides: &strides, dtype: Dtype::U8 }, &mut never())?;
    }
    writer.close(&mut never())
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.len() as f64
}

#[test]
fn writer_round_trips() {
    let available = available_codecs();
    let src = frames(12, 96, 64);
    let mut cases = vec![("h264", "mp4"), ("h264", "mkv"), ("h264", "mov"), ("h264", "ts"), ("mjpeg", "avi")];
    cases.extend(
        [("vp8", "webm"), ("vp9", "webm"), ("av1", "mkv"), ("hevc", "mp4")]
            .iter()
            .filter(|(c, _)| available.contains(c)),
    );
    for (codec, ext) in cases {
        let path = dir().join(format!("written-{codec}.{ext}"));
        let opts = WriterOptions {
            codec: codec.into(),
            fps: 25.0,
            quality: Some(8.0),
            container_tags: vec![("title".into(), "framepipe round trip".into())],
            ..WriterOptions::default()
        };
        write(&path, opts, &src, 96, 64).unwrap_or_else(|e| panic!("{codec} {ext}: {e}"));
        let (meta, index) = probe(&path, &mut never()).unwrap_or_else(|e| panic!("{codec} {ext}: {e}"));
        assert_eq!(meta.n_frames, 12, "{codec} {ext}");
        assert_eq!((meta.width, meta.height), (96, 64));
        assert_eq!(meta.codec, codec);
        assert!((meta.fps - 25.0).abs() < 0.01, "{codec} {ext}: fps {}", meta.fps);
        if ext != "ts" && ext != "avi" {
            assert_eq!(
                meta.container_tags.get("title").map(String::as_str),
                Some("framepipe round trip"),
                "{codec} {ext}"
            );
        }
        let mut r = VideoReader::with_index(meta, index, rgb()).unwrap();
        let f = r.read(7, &mut never()).unwrap();
        let d = mean_abs_diff(&bytes(&f), &src[7]);
        assert!(d < 12.0, "{codec} {ext}: frame 7 differs by {d}");
    }
}

#[test]
fn writer_errors() {
    let path = dir().join("bad.mp4");
    match VideoWriter::create(&path, WriterOptions { codec: "nosuchcodec".into(), ..WriterOptions::default() }) {
        Err(Error::Value(m)) => assert!(m.contains("h264") && m.contains("nosuchcodec"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    assert!(matches!(VideoWriter::create(&dir().join("x.webm"), WriterOptions::default()), Err(Error::Value(_))));
    let mut writer = VideoWriter::create(&path, WriterOptions::default()).unwrap();
    let a = frames(3, 32, 24);
    for f in &a {
        writer
            .write(ArrayRef { data: f, shape: &[24, 32, 3], strides: &[96, 3, 1], dtype: Dtype::U8 }, &mut never())
            .unwrap();
    }
    let b = frames(1, 48, 24);
    match writer
        .write(ArrayRef { data: &b[0], shape: &[24, 48, 3], strides: &[144, 3, 1], dtype: Dtype::U8 }, &mut never())
    {
        Err(Error::Value(m)) => assert!(m.contains("frame 3"), "{m}"),
        other => panic!("{other:?}"),
    }
    writer.close(&mut never()).unwrap();
    assert_eq!(probe(&path, &mut never()).unwrap().0.n_frames, 3);
}

/// Sets the first track's tkhd matrix to a 90 degree rotation (GStreamer 1.22's mp4mux
/// writes no rotation, players and qtdemux read it from there).
fn rotate_mp4_90(path: &Path) {
    let mut data = std::fs::read(path).unwrap();
    let at = data.windows(4).position(|w| w == b"tkhd").unwrap() + 4;
    assert_eq!(data[at], 0, "tkhd version 0 expected");
    let matrix: [u32; 9] = [0, 0x0001_0000, 0, 0xFFFF_0000, 0, 0, 0, 0, 0x4000_0000];
    let start = at + 40;
    for (i, v) in matrix.iter().enumerate() {
        data[start + i * 4..start + i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    std::fs::write(path, data).unwrap();
}

#[test]
fn rotation_metadata() {
    let path = dir().join("rotated.mp4");
    write(&path, WriterOptions::default(), &frames(4, 64, 48), 64, 48).unwrap();
    rotate_mp4_90(&path);
    let (meta, index) = probe(&path, &mut never()).unwrap();
    // FFmpeg's convention (what ffprobe reports for this matrix): -90.
    assert_eq!(meta.rotation, -90);
    let opts = ReaderOptions { apply_rotation: true, ..ReaderOptions::default() };
    let mut r = VideoReader::with_index(meta.clone(), index.clone(), opts).unwrap();
    let f = r.read(1, &mut never()).unwrap();
    assert_eq!((f.width(), f.height()), (48, 64));
    let mut r = VideoReader::with_index(meta, index, rgb()).unwrap();
    let f = r.read(1, &mut never()).unwrap();
    assert_eq!((f.width(), f.height()), (64, 48));
}

#[test]
fn stream_and_container_tags() {
    let path = dir().join("tagged.mkv");
    let opts = WriterOptions {
        container_tags: vec![("title".into(), "a title".into()), ("comment".into(), "a comment".into())],
        stream_tags: vec![("language".into(), "fr".into())],
        ..WriterOptions::default()
    };
    write(&path, opts, &frames(3, 32, 24), 32, 24).unwrap();
    let (meta, _) = probe(&path, &mut never()).unwrap();
    assert_eq!(meta.container_tags.get("title").map(String::as_str), Some("a title"));
    assert_eq!(meta.container_tags.get("comment").map(String::as_str), Some("a comment"));
    assert_eq!(meta.stream_tags.get("language-code").map(String::as_str), Some("fr"), "{:?}", meta.stream_tags);
}

/// The child of `crash_safe_mp4`: writes frames until killed. Not a test of its own, so it
/// is ignored; `crash_safe_mp4` runs it with `--ignored`.
#[test]
#[ignore = "the child process of crash_safe_mp4, run by it"]
fn crash_child() {
    let out = std::env::var("FRAMEPIPE_CRASH_CHILD").expect("run by crash_safe_mp4, which sets FRAMEPIPE_CRASH_CHILD");
    let opts = WriterOptions { fps: 30.0, ..WriterOptions::default() };
    let mut writer = VideoWriter::create(Path::new(&out), opts).unwrap();
    let src = frames(30, 160, 120);
    let marker = format!("{out}.count");
    for i in 0..100_000usize {
        let f = &src[i % 30];
        writer
            .write(ArrayRef { data: f, shape: &[120, 160, 3], strides: &[480, 3, 1], dtype: Dtype::U8 }, &mut never())
            .unwrap();
        std::fs::write(&marker, (i + 1).to_string()).unwrap();
        // About real time, so the kill lands mid-recording.
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn crash_safe_mp4() {
    let out = dir().join("killed.mp4");
    let marker = dir().join("killed.mp4.count");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("FRAMEPIPE_CRASH_CHILD", &out)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let written = loop {
        let n: usize = std::fs::read_to_string(&marker).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        if n >= 200 || start.elapsed() > Duration::from_secs(60) {
            break n;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(written >= 200, "the child wrote only {written} frames");
    let (meta, index) = probe(&out, &mut never()).unwrap();
    // Playable up to its last ~2 s (60 frames at 30 fps) plus the encoder's lookahead.
    assert!(meta.n_frames + 75 >= written, "{} of {written} frames survived", meta.n_frames);
    let mut r = VideoReader::with_index(meta.clone(), index, rgb()).unwrap();
    let last = r.read(meta.n_frames - 1, &mut never()).unwrap();
    assert_eq!(last.index, meta.n_frames - 1);
    eprintln!("crash-safe MP4: {} of {written} frames playable after SIGKILL", meta.n_frames);
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
fn writer_filter_and_containers() {
    let path = dir().join("scaled.mov");
    let opts = WriterOptions {
        filter: Some(Filter::Launch("videoscale ! video/x-raw,width=48,height=32".into())),
        ..WriterOptions::default()
    };
    write(&path, opts, &frames(5, 96, 64), 96, 64).unwrap();
    let (meta, _) = probe(&path, &mut never()).unwrap();
    assert_eq!((meta.width, meta.height, meta.n_frames), (48, 32, 5));
    assert_eq!(meta.container, "mov");
    let path = dir().join("gop.mkv");
    let opts = WriterOptions { max_keyframe_interval: Some(5), ..WriterOptions::default() };
    write(&path, opts, &frames(20, 32, 24), 32, 24).unwrap();
    let (_, index) = probe(&path, &mut never()).unwrap();
    let keys: Vec<usize> = index.entries().iter().enumerate().filter(|(_, e)| e.keyframe).map(|(k, _)| k).collect();
    assert!(keys.windows(2).all(|w| w[1] - w[0] <= 5) && *keys.last().unwrap() >= 15, "{keys:?}");
    for (codec, ext) in [("h264", "mp4"), ("vp8", "webm"), ("vp9", "webm")] {
        let path = dir().join(format!("bitrate-{codec}.{ext}"));
        let opts = WriterOptions { codec: codec.into(), bitrate: Some(300_000), ..WriterOptions::default() };
        write(&path, opts, &frames(6, 32, 24), 32, 24).unwrap_or_else(|e| panic!("{codec}: {e}"));
        assert_eq!(probe(&path, &mut never()).unwrap().0.n_frames, 6, "{codec}");
    }
    let path = dir().join("keyframes.mkv");
    let opts = WriterOptions { force_keyframes: true, ..WriterOptions::default() };
    write(&path, opts, &frames(6, 32, 24), 32, 24).unwrap();
    let (_, index) = probe(&path, &mut never()).unwrap();
    assert!(index.entries().iter().all(|e| e.keyframe));
}

#[test]
fn readers_and_writers_are_send() {
    fn send<T: Send>() {}
    send::<VideoReader>();
    send::<VideoWriter>();
    send::<framepipe_core::video::VideoFrame>();
}

#[test]
fn crash_safe_reservation_is_enforced() {
    let src = frames(14, 32, 24);
    let path = dir().join("reserved.mp4");
    // 1 fps and 1 s expected: room for 1 * 1.25 + 10 = 11.25 s, so frame 11 is refused.
    let opts = WriterOptions { fps: 1.0, expected_duration: Some(1.0), ..WriterOptions::default() };
    match write(&path, opts, &src, 32, 24) {
        Err(Error::Value(m)) => assert!(m.starts_with("frame 11:"), "{m}"),
        other => panic!("{other:?}"),
    }
    let plain = dir().join("plain.mp4");
    let opts = WriterOptions { fps: 1.0, crash_safe: false, ..WriterOptions::default() };
    write(&plain, opts, &src, 32, 24).unwrap();
    assert_eq!(probe(&plain, &mut never()).unwrap().0.n_frames, 14);
    assert!(std::fs::metadata(&plain).unwrap().len() < 100_000);
}

#[test]
fn gray_round_trip_keeps_full_range() {
    let (w, h) = (64usize, 48usize);
    let src: Vec<Vec<u8>> = (0..4).map(|_| (0..h * w).map(|i| ((i % w) * 255 / (w - 1)) as u8).collect()).collect();
    let path = dir().join("gray.mkv");
    let opts = WriterOptions {
        input_format: OutputFormat::Gray,
        pixel_format: Some("yuv444p".into()),
        quality: Some(10.0),
        ..WriterOptions::default()
    };
    let mut writer = VideoWriter::create(&path, opts).unwrap();
    for f in &src {
        writer
            .write(ArrayRef { data: f, shape: &[h, w], strides: &[w as isize, 1], dtype: Dtype::U8 }, &mut never())
            .unwrap();
    }
    writer.close(&mut never()).unwrap();
    let opts = ReaderOptions { format: Some(OutputFormat::Gray), thread_count: 1, ..ReaderOptions::default() };
    let mut r = VideoReader::open(&path, opts, &mut never()).unwrap();
    let f = r.read(2, &mut never()).unwrap();
    let v = f.view().unwrap();
    let data = bytes(&f);
    let row = &data[v.offset + 10 * v.strides[0] as usize..][..w];
    assert!(row[0] <= 3 && row[w - 1] >= 252, "{:?}", &row[..4]);
    assert!(mean_abs_diff(row, &src[2][10 * w..11 * w]) < 3.0);
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
