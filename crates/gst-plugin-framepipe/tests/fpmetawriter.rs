//! fpmetawriter writes one JSON line per buffer that reads back to what was attached,
//! survives the usual elements upstream of it, and fails the state change on a bad path.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use framepipe_core::layout::Dtype;
use framepipe_core::meta::{self, RegionSpec, Tensor};
use gst::prelude::*;
use gst_check::Harness;
use serde_json::{Value, json};

fn init() {
    gstframepipe::register_static().unwrap();
}

fn temp_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("fpmetawriter-{}-{tag}-{n}.jsonl", std::process::id()))
}

fn annotate(buf: &mut gst::BufferRef, width: u32, height: u32, i: u64) {
    buf.set_pts(gst::ClockTime::from_mseconds(40 * i));
    let attrs = json!({"track": i, "colour": "red", "seen": [1, 2], "ok": true});
    let car = meta::add_region(
        buf,
        width,
        height,
        &RegionSpec {
            x: 10.0,
            y: 20.0,
            w: 64.0,
            h: 32.0,
            label: "car",
            confidence: 0.5,
            attributes: attrs.as_object(),
            ..Default::default()
        },
    )
    .unwrap();
    meta::add_region(
        buf,
        width,
        height,
        &RegionSpec {
            x: 101.0,
            y: 51.0,
            w: 33.0,
            h: 17.0,
            label: "wheel",
            parent_id: Some(car.id),
            ..Default::default()
        },
    )
    .unwrap();
    meta::add_tensor(buf, Tensor::from_slice("scores", Dtype::F32, vec![1, 2], &[0; 8]).unwrap());
    meta::add_message(buf, &json!({"frame": i}));
    meta::add_message(buf, &json!("hello"));
}

fn write_through(description: &str, width: u32, height: u32, frames: u64) -> Vec<Value> {
    init();
    let path = temp_path("run");
    let mut h = Harness::new_parse(&format!("{description} ! fpmetawriter location={}", path.display()));
    h.set_src_caps_str(&format!("video/x-raw,format=RGB,width={width},height={height},framerate=25/1"));
    let size = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, width, height).build().unwrap().size();
    for i in 0..frames {
        let mut buf = gst::Buffer::with_size(size).unwrap();
        annotate(buf.get_mut().unwrap(), width, height, i);
        h.push(buf).unwrap();
    }
    assert!(h.push_event(gst::event::Eos::new()));
    // Wait until everything went through the queue before the harness stops the bin.
    for _ in 0..frames {
        h.pull().unwrap();
    }
    while h.pull_event().unwrap().type_() != gst::EventType::Eos {}
    drop(h);
    let records = framepipe_core::meta::read_metadata(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    records
}

fn expected(i: u64, rects: [(u32, u32, u32, u32); 2]) -> Value {
    json!({
        "pts": 40_000_000 * i,
        "regions": [
            {"id": 1, "parent_id": 0, "x": rects[0].0, "y": rects[0].1, "w": rects[0].2, "h": rects[0].3,
             "label": "car", "confidence": 0.5,
             "attributes": {"track": i, "colour": "red", "seen": [1, 2], "ok": true}, "tensors": []},
            {"id": 2, "parent_id": 1, "x": rects[1].0, "y": rects[1].1, "w": rects[1].2, "h": rects[1].3,
             "label": "wheel", "confidence": 0.0, "attributes": {}, "tensors": []},
        ],
        "messages": [{"frame": i}, "hello"],
        "tensors": [{"name": "scores", "shape": [1, 2], "dtype": "float32"}],
    })
}

#[test]
fn records_read_back_as_attached() {
    let records = write_through("identity", 320, 240, 3);
    assert_eq!(records.len(), 3);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r, &expected(i as u64, [(10, 20, 64, 32), (101, 51, 33, 17)]));
    }
}

#[test]
fn metadata_survives_queue_tee_identity_videoconvert_videoscale() {
    let chain = |w: u32, h: u32| {
        format!(
            "queue ! tee ! identity ! videoconvert ! video/x-raw,format=I420 ! videoscale ! video/x-raw,width={w},height={h}"
        )
    };
    // Doubling and halving are exact; other sizes floor each of x, y, w, h (GStreamer's rule).
    let cases = [
        ((640, 480), [(20, 40, 128, 64), (202, 102, 66, 34)]),
        ((160, 120), [(5, 10, 32, 16), (50, 25, 16, 8)]),
        ((213, 97), [(6, 8, 42, 12), (67, 20, 21, 6)]),
        ((320, 240), [(10, 20, 64, 32), (101, 51, 33, 17)]),
    ];
    for ((w, h), rects) in cases {
        let records = write_through(&chain(w, h), 320, 240, 2);
        assert_eq!(records.len(), 2);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r, &expected(i as u64, rects), "{w}x{h}");
        }
        for (i, rect) in [(10, 20, 64, 32), (101, 51, 33, 17)].into_iter().enumerate() {
            assert_eq!(meta::scale_rect(rect, (320, 240), (w, h)), rects[i]);
        }
    }
}

#[test]
fn buffers_pass_through_untouched() {
    init();
    let path = temp_path("pass");
    let writer =
        gst::ElementFactory::make("fpmetawriter").property("location", path.to_str().unwrap()).build().unwrap();
    let mut h = Harness::with_element(&writer, Some("sink"), Some("src"));
    h.set_src_caps_str("application/octet-stream");
    let data: Vec<u8> = (0..100).collect();
    let out = h.push_and_pull(gst::Buffer::from_slice(data.clone())).unwrap();
    assert_eq!(out.map_readable().unwrap().as_slice(), &data[..]);
    drop(h);
    let records = framepipe_core::meta::read_metadata(&path).unwrap();
    assert_eq!(records, vec![json!({"pts": null, "regions": [], "messages": [], "tensors": []})]);
    std::fs::remove_file(&path).unwrap();
}

fn start_error(location: Option<&str>) -> gst::glib::Error {
    init();
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("fakesrc").property("num-buffers", 1).build().unwrap();
    let mut writer = gst::ElementFactory::make("fpmetawriter");
    if let Some(l) = location {
        writer = writer.property("location", l);
    }
    let writer = writer.build().unwrap();
    let sink = gst::ElementFactory::make("fakesink").build().unwrap();
    pipeline.add_many([&src, &writer, &sink]).unwrap();
    gst::Element::link_many([&src, &writer, &sink]).unwrap();
    assert!(pipeline.set_state(gst::State::Paused).is_err());
    let bus = pipeline.bus().unwrap();
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Error]).unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    let gst::MessageView::Error(err) = msg.view() else { unreachable!() };
    assert_eq!(msg.src().unwrap().name(), writer.name());
    err.error()
}

#[test]
fn bad_location_fails_the_state_change_naming_the_path() {
    let e = start_error(Some("/nonexistent-dir/out.jsonl"));
    assert_eq!(e.kind::<gst::ResourceError>(), Some(gst::ResourceError::OpenWrite));
    assert!(e.message().contains("/nonexistent-dir/out.jsonl"), "{}", e.message());
    let e = start_error(None);
    assert_eq!(e.kind::<gst::ResourceError>(), Some(gst::ResourceError::NotFound));
}

#[test]
fn a_failing_write_is_a_streaming_error() {
    init();
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    let writer = gst::ElementFactory::make("fpmetawriter").property("location", "/dev/full").build().unwrap();
    let bus = gst::Bus::new();
    writer.set_bus(Some(&bus));
    let mut h = Harness::with_element(&writer, Some("sink"), Some("src"));
    h.set_src_caps_str("video/x-raw,format=RGB,width=320,height=240,framerate=25/1");
    // Enough records to overflow the write buffer.
    let mut result = Ok(gst::FlowSuccess::Ok);
    for i in 0..1000 {
        let mut buf = gst::Buffer::with_size(320 * 240 * 3).unwrap();
        annotate(buf.get_mut().unwrap(), 320, 240, i);
        result = h.push(buf);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(gst::FlowError::Error));
    let msg = bus.pop_filtered(&[gst::MessageType::Error]).unwrap();
    let gst::MessageView::Error(err) = msg.view() else { unreachable!() };
    assert_eq!(err.error().kind::<gst::ResourceError>(), Some(gst::ResourceError::Write));
    assert!(err.error().message().contains("/dev/full"), "{}", err.error().message());
}

#[test]
fn read_metadata_errors() {
    init();
    let missing = framepipe_core::meta::read_metadata("/nonexistent-dir/none.jsonl");
    assert!(matches!(missing, Err(framepipe_core::Error::NotFound(_))));
    let path = temp_path("bad");
    std::fs::write(&path, "{\"pts\": 1}\n\nnot json\n").unwrap();
    match framepipe_core::meta::read_metadata(&path) {
        Err(framepipe_core::Error::Value(m)) => assert!(m.contains("line 3"), "{m}"),
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn element_type_and_properties() {
    init();
    let e = gst::ElementFactory::make("fpmetawriter").property("location", "x.jsonl").build().unwrap();
    assert_eq!(e.property::<Option<String>>("location").as_deref(), Some("x.jsonl"));
    assert_eq!(e.type_().name(), "GstFpMetaWriter");
}
