//! Writing: round trips through every codec and container, argument errors, filters, and the
//! crash-safe MP4 that survives a SIGKILL.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{bytes, dir, frames, mean_abs_diff, never, rgb, write};
use framepipe_core::Error;
use framepipe_core::layout::Dtype;
use framepipe_core::pack::ArrayRef;
use framepipe_core::video::{
    Filter, OutputFormat, ReaderOptions, VideoReader, VideoWriter, WriterOptions, available_codecs, probe,
};

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
