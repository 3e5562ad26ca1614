//! fpavfilter runs FFmpeg graphs: output caps from the configured graph, frame counts that
//! change (framestep, tpad at EOS), timestamps in the input segment, flushes, caps changes,
//! formats downstream asks for, and bad graphs named at start; the core video reader and
//! writer use it for FFmpeg filters.

use std::path::{Path, PathBuf};

use framepipe_core::video::{Filter, FilterSpec, ReaderOptions, VideoReader, VideoWriter, WriterOptions};
use gst::prelude::*;
use gst_check::Harness;
use gst_video::{VideoFormat, VideoInfo};

fn init() {
    gstframepipe::register_static().unwrap();
}

fn never() -> impl FnMut() -> bool {
    || false
}

fn frame(info: &VideoInfo, value: u8, pts_ms: u64) -> gst::Buffer {
    let mut buf = gst::Buffer::from_mut_slice(vec![value; info.size()]);
    let b = buf.get_mut().unwrap();
    b.set_pts(gst::ClockTime::from_mseconds(pts_ms));
    b.set_duration(gst::ClockTime::from_mseconds(40));
    buf
}

fn harness(graph: &str, info: &VideoInfo) -> Harness {
    init();
    let mut h = Harness::new("fpavfilter");
    h.element().unwrap().set_property("graph", graph);
    h.set_src_caps(info.to_caps().unwrap());
    h
}

fn gray(w: u32, h: u32) -> VideoInfo {
    VideoInfo::builder(VideoFormat::Gray8, w, h).fps(25).build().unwrap()
}

#[test]
fn output_caps_come_from_the_graph() {
    let info = gray(64, 48);
    let mut h = harness("scale=iw/2:-1", &info);
    let out = h.push_and_pull(frame(&info, 77, 0)).unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    let out_info = VideoInfo::from_caps(&caps).unwrap();
    assert_eq!((out_info.width(), out_info.height(), out_info.format()), (32, 24, VideoFormat::Gray8));
    assert_eq!(out_info.fps(), gst::Fraction::new(25, 1));
    assert_eq!(out.size(), out_info.size());
    assert!(out.map_readable().unwrap().iter().all(|&v| v == 77));
    assert_eq!(out.pts(), Some(gst::ClockTime::ZERO));
}

#[test]
fn framestep_drops_frames_and_keeps_their_timestamps() {
    let info = gray(16, 16);
    let mut h = harness("framestep=3", &info);
    for i in 0..9u64 {
        h.push(frame(&info, i as u8, i * 40)).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    let mut pts = Vec::new();
    while let Some(b) = h.try_pull() {
        pts.push(b.pts().unwrap().mseconds());
    }
    assert_eq!(pts, [0, 120, 240]);
}

#[test]
fn tpad_adds_frames_at_eos_after_the_end() {
    let info = gray(16, 16);
    let mut h = harness("tpad=stop=2:stop_mode=clone", &info);
    for i in 0..3u64 {
        h.push(frame(&info, 10 * i as u8, i * 40)).unwrap();
    }
    h.push_event(gst::event::Eos::new());
    let mut out = Vec::new();
    while let Some(b) = h.try_pull() {
        out.push((b.pts().unwrap().mseconds(), b.map_readable().unwrap()[0]));
    }
    assert_eq!(out, [(0, 0), (40, 10), (80, 20), (120, 20), (160, 20)]);
}

#[test]
fn timestamps_stay_in_the_input_segment() {
    let info = gray(16, 16);
    let mut h = harness("null", &info);
    let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
    seg.set_start(gst::ClockTime::from_seconds(10));
    seg.set_time(gst::ClockTime::from_seconds(10));
    h.push_event(gst::event::Segment::new(&seg));
    let out = h.push_and_pull(frame(&info, 1, 10_040)).unwrap();
    assert_eq!(out.pts(), Some(gst::ClockTime::from_mseconds(10_040)));
}

#[test]
fn flush_drops_held_frames() {
    let info = gray(16, 16);
    let mut h = harness("tpad=stop=3:stop_mode=clone", &info);
    h.push(frame(&info, 5, 0)).unwrap();
    assert_eq!(h.try_pull().map(|b| b.pts()), Some(Some(gst::ClockTime::ZERO)));
    h.push_event(gst::event::FlushStart::new());
    h.push_event(gst::event::FlushStop::new(true));
    h.push_event(gst::event::Segment::new(&gst::FormattedSegment::<gst::ClockTime>::new()));
    // A fresh graph: its stream ends after the one new frame, with its own padding.
    h.push(frame(&info, 9, 400)).unwrap();
    h.push_event(gst::event::Eos::new());
    let mut values = Vec::new();
    while let Some(b) = h.try_pull() {
        values.push(b.map_readable().unwrap()[0]);
    }
    assert_eq!(values, [9, 9, 9, 9]);
}

#[test]
fn caps_change_reconfigures() {
    init(); // VideoInfo below needs GStreamer before the harness initialises it
    let small = gray(16, 16);
    let big = gray(32, 32);
    let mut h = harness("scale=iw/2:ih/2", &small);
    let out = h.push_and_pull(frame(&small, 1, 0)).unwrap();
    assert_eq!(out.size(), 8 * 8);
    h.set_src_caps(big.to_caps().unwrap());
    let out = h.push_and_pull(frame(&big, 1, 40)).unwrap();
    assert_eq!(out.size(), 16 * 16);
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    assert_eq!(VideoInfo::from_caps(&caps).unwrap().width(), 16);
}

#[test]
fn converts_to_what_downstream_accepts() {
    init();
    let p = gst::parse::launch(
        "videotestsrc num-buffers=4 ! video/x-raw,format=I420,width=64,height=48 \
         ! fpavfilter graph=\"split[a][b];[b]scale=16:-1[c];[a][c]overlay=4:4\" \
         ! video/x-raw,format=RGB ! appsink name=out sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = p.by_name("out").unwrap().downcast::<gst_app::AppSink>().unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let mut n = 0;
    while let Ok(s) = sink.pull_sample() {
        let info = VideoInfo::from_caps(s.caps().unwrap()).unwrap();
        assert_eq!((info.format(), info.width(), info.height()), (VideoFormat::Rgb, 64, 48));
        n += 1;
    }
    p.set_state(gst::State::Null).unwrap();
    assert_eq!(n, 4);
}

#[test]
fn bad_graph_fails_at_start_naming_the_filter() {
    init();
    let p = gst::parse::launch("videotestsrc num-buffers=1 ! fpavfilter graph=\"scale=32:32,nosuchfilter\" ! fakesink")
        .unwrap();
    assert!(p.set_state(gst::State::Playing).is_err());
    let bus = p.bus().unwrap();
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Error]).unwrap();
    let gst::MessageView::Error(err) = msg.view() else { unreachable!() };
    assert!(err.error().message().contains("nosuchfilter"), "{}", err.error());
    p.set_state(gst::State::Null).unwrap();
}

/// An H.264 MP4 of 30 frames made with GStreamer.
fn clip(dir: &Path) -> PathBuf {
    let path = dir.join("clip.mp4");
    let desc = format!(
        "videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 \
         ! x264enc ! mp4mux ! filesink location={}",
        path.display()
    );
    let p = gst::parse::launch(&desc).unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let bus = p.bus().unwrap();
    bus.timed_pop_filtered(gst::ClockTime::from_seconds(30), &[gst::MessageType::Eos, gst::MessageType::Error])
        .unwrap();
    p.set_state(gst::State::Null).unwrap();
    path
}

fn frame_size(path: &Path, filter: Filter, k: usize) -> (u32, u32) {
    let opts = ReaderOptions { filter: Some(filter), ..ReaderOptions::default() };
    let mut r = VideoReader::open(path, opts, &mut never()).unwrap();
    let f = r.read(k, &mut never()).unwrap();
    (f.width(), f.height())
}

#[test]
fn reader_and_writer_run_ffmpeg_filters() {
    init();
    let dir = std::env::temp_dir().join(format!("fpavfilter-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = clip(&dir);
    let seq = Filter::Sequence(vec![FilterSpec::new("scale", "80:-1"), FilterSpec::new("hflip", "")]);
    assert_eq!(frame_size(&path, seq, 2), (80, 60));
    let crop = Filter::Sequence(vec![FilterSpec::new("crop", "100:50:10:10"), FilterSpec::new("transpose", "clock")]);
    assert_eq!(frame_size(&path, crop, 2), (50, 100));
    // Picture in picture, in FFmpeg's graph syntax (how a `FilterGraph` becomes such a
    // description is unit-tested in framepipe-core's filter.rs).
    let graph = Filter::from_string("[in]split[main][small];[small]scale=40:-1[s];[main][s]overlay=x=25:y=25[out]");
    assert!(matches!(graph, Filter::Ffmpeg(_)), "{graph:?}");
    assert_eq!(frame_size(&path, graph, 7), (160, 120));

    // framestep on the reader: frame indices are output positions.
    let opts = ReaderOptions { filter: Some(Filter::from_string("framestep=10")), ..ReaderOptions::default() };
    let mut r = VideoReader::open(&path, opts, &mut never()).unwrap();
    let mut n = 0;
    while r.next_frame(&mut never()).unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 3);

    // On write: half-size frames.
    let out = dir.join("written.mkv");
    let opts = WriterOptions { filter: Some(Filter::from_string("scale=iw/2:-2")), fps: 10.0, ..Default::default() };
    let mut w = VideoWriter::create(&out, opts).unwrap();
    let data = vec![100u8; 64 * 48 * 3];
    for _ in 0..5 {
        let a = framepipe_core::pack::ArrayRef {
            data: &data,
            shape: &[48, 64, 3],
            strides: &[64 * 3, 3, 1],
            dtype: framepipe_core::Dtype::U8,
        };
        w.write(a, &mut never()).unwrap();
    }
    w.close(&mut never()).unwrap();
    assert_eq!(frame_size(&out, Filter::from_string("null"), 4), (32, 24));
    std::fs::remove_dir_all(&dir).ok();
}
