//! Regions, tensors and messages on buffers: round trips, copies, and survival through
//! `queue ! tee ! identity ! videoconvert ! videoscale`.

use framepipe_core::layout::Dtype;
use framepipe_core::meta::{self, Region, RegionSpec, Tensor};
use gst::prelude::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn init() {
    gst::init().unwrap();
}

fn attrs(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn spec<'a>(x: f64, y: f64, w: f64, h: f64, label: &'a str) -> RegionSpec<'a> {
    RegionSpec { x, y, w, h, label, confidence: 0.75, ..Default::default() }
}

/// A buffer carrying two regions (one with attributes and a tensor), two tensors and two messages.
fn annotated(width: u32, height: u32) -> (gst::Buffer, Vec<Region>) {
    let mut buf = gst::Buffer::with_size((width * height * 3) as usize).unwrap();
    let a = attrs(json!({"color": "red", "n": 3, "big": 18446744073709551615u64, "score": 0.5, "ok": true,
        "tags": ["a", 1, 2.5, false], "none": null, "ints": [1, 2], "nested": {"k": "v", "list": [[1, 2], [3]]}}));
    let b = buf.get_mut().unwrap();
    b.set_pts(gst::ClockTime::from_mseconds(40));
    let r1 = meta::add_region(
        b,
        width,
        height,
        &RegionSpec { attributes: Some(&a), ..spec(11.0, 13.0, 101.0, 57.0, "car") },
    )
    .unwrap();
    meta::add_region(
        b,
        width,
        height,
        &RegionSpec { parent_id: Some(r1.id), confidence: 0.25, ..spec(40.0, 60.0, 20.0, 10.0, "person") },
    )
    .unwrap();
    let t = Tensor::from_slice("embedding", Dtype::F32, vec![2], &[0, 0, 128, 63, 0, 0, 0, 64]).unwrap();
    meta::add_region_tensor(b, r1.id, &t).unwrap();
    meta::add_tensor(b, Tensor::from_slice("logits", Dtype::U8, vec![2, 3], &[1, 2, 3, 4, 5, 6]).unwrap());
    meta::add_tensor(b, Tensor::from_slice("ids", Dtype::I32, vec![1], &[7, 0, 0, 0]).unwrap());
    meta::add_message(b, &json!({"event": "enter", "zone": [1, 2]}));
    meta::add_message_json(b, "\"plain text\"").unwrap();
    let regions = meta::regions(b);
    (buf, regions)
}

#[test]
fn regions_round_trip() {
    init();
    let (buf, regions) = annotated(320, 240);
    assert_eq!(regions.len(), 2);
    let (r1, r2) = (&regions[0], &regions[1]);
    assert_eq!((r1.x, r1.y, r1.w, r1.h, r1.label.as_str(), r1.confidence), (11, 13, 101, 57, "car", 0.75));
    assert_eq!((r1.id, r1.parent_id, r2.id, r2.parent_id), (1, 0, 2, 1));
    assert_eq!(Value::Object(r1.attributes.clone())["nested"]["list"], json!([[1, 2], [3]]));
    assert_eq!(r1.attributes["big"], json!(18446744073709551615u64));
    assert_eq!(r1.attributes["tags"], json!(["a", 1, 2.5, false]));
    assert_eq!(r1.tensors.len(), 1);
    assert_eq!(r1.tensors[0].data().as_ref(), &[0, 0, 128, 63, 0, 0, 0, 64]);
    assert!(r2.attributes.is_empty() && r2.tensors.is_empty());
    // Other consumers see GStreamer's own fields.
    let roi = buf.meta::<gst_video::VideoRegionOfInterestMeta>().unwrap();
    assert_eq!(roi.roi_type(), "car");
    let det = roi.param("detection").unwrap();
    assert_eq!(det.get::<f64>("confidence").unwrap(), 0.75);
    assert_eq!(det.get::<&str>("label").unwrap(), "car");
    let plain = det.get::<&gst::StructureRef>("attributes").unwrap();
    assert_eq!(plain.get::<&str>("color").unwrap(), "red");
    assert_eq!(plain.get::<i64>("n").unwrap(), 3);
    assert_eq!(plain.get::<gst::Array>("ints").unwrap().as_slice().len(), 2);
    assert_eq!(plain.get::<&str>("tags").unwrap(), r#"["a",1,2.5,false]"#);
    assert!(!plain.has_field("none"));
    assert_eq!(r1.attributes["none"], Value::Null);
}

#[test]
fn remove_region_by_id() {
    init();
    let (mut buf, regions) = annotated(320, 240);
    let b = buf.make_mut();
    meta::remove_region(b, regions[0].id).unwrap();
    let left = meta::regions(b);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0], regions[1]);
    assert!(matches!(meta::remove_region(b, regions[0].id), Err(framepipe_core::Error::Value(_))));
    // Ids stay unique after a removal.
    let r = meta::add_region(b, 320, 240, &spec(0.0, 0.0, 1.0, 1.0, "x")).unwrap();
    assert_eq!(r.id, 3);
}

#[test]
fn region_outside_the_frame_is_a_value_error_and_adds_nothing() {
    init();
    let mut buf = gst::Buffer::with_size(16).unwrap();
    let b = buf.get_mut().unwrap();
    let e = meta::add_region(b, 320, 240, &spec(400.0, 10.0, 20.0, 20.0, "far")).unwrap_err();
    assert!(matches!(e, framepipe_core::Error::Value(ref m) if m.contains("outside")), "{e}");
    assert!(meta::regions(b).is_empty());
    // Partly outside is clipped.
    let r = meta::add_region(b, 320, 240, &spec(-10.0, 230.0, 30.0, 30.0, "edge")).unwrap();
    assert_eq!((r.x, r.y, r.w, r.h), (0, 230, 20, 10));
    let n = meta::add_region(b, 320, 240, &RegionSpec { normalized: true, ..spec(0.5, 0.5, 0.25, 0.25, "n") }).unwrap();
    assert_eq!((n.x, n.y, n.w, n.h), (160, 120, 80, 60));
    assert_eq!(meta::regions(b).len(), 2);
}

#[test]
fn tensors_and_messages_round_trip() {
    init();
    let (buf, _) = annotated(320, 240);
    let t = meta::tensors(&buf);
    assert_eq!(t.iter().map(|t| t.name()).collect::<Vec<_>>(), ["logits", "ids"]);
    assert_eq!((t[0].dtype(), t[0].shape()), (Dtype::U8, &[2usize, 3][..]));
    assert_eq!(t[0].data().as_ref(), &[1, 2, 3, 4, 5, 6]);
    assert_eq!(meta::messages(&buf), vec![json!({"event": "enter", "zone": [1, 2]}), json!("plain text")]);
    assert!(Tensor::from_slice("bad", Dtype::F32, vec![3], &[0; 4]).is_err());
    assert_eq!(meta::tensor_dtype("float32").unwrap(), Dtype::F32);
    assert!(matches!(meta::tensor_dtype("object"), Err(framepipe_core::Error::Type(_))));
    // numpy's default integer and boolean masks are tensors too.
    for (name, dtype, size) in [("int64", Dtype::I64, 8), ("uint64", Dtype::U64, 8), ("bool", Dtype::Bool, 1)] {
        assert_eq!(meta::tensor_dtype(name).unwrap(), dtype);
        assert_eq!((dtype.name(), dtype.size()), (name, size));
        let t = Tensor::from_slice(name, dtype, vec![2, 2], &vec![1; 4 * size]).unwrap();
        assert_eq!(t.summary()["dtype"], name);
    }
    let mut b2 = gst::Buffer::new();
    assert!(meta::add_message_json(b2.get_mut().unwrap(), "{not json").is_err());
    assert!(meta::messages(&b2).is_empty());
    let mut buf = buf;
    assert_eq!(meta::remove_tensor(buf.make_mut(), "ids"), 1);
    assert_eq!(meta::tensors(&buf).len(), 1);
}

fn assert_same_meta(a: &gst::BufferRef, b: &gst::BufferRef) {
    assert_eq!(meta::regions(a), meta::regions(b));
    assert_eq!(meta::tensors(a), meta::tensors(b));
    assert_eq!(meta::messages(a), meta::messages(b));
}

#[test]
fn metadata_survives_buffer_copies() {
    init();
    let (buf, _) = annotated(320, 240);
    assert_same_meta(&buf, &buf.copy());
    assert_same_meta(&buf, &buf.copy_deep().unwrap());
    let shared = buf.clone();
    let mut writable = shared.clone();
    writable.make_mut();
    assert!(writable.as_ptr() != buf.as_ptr());
    assert_same_meta(&buf, &writable);
    // A copy is independent of the original.
    let mut copy = buf.copy();
    meta::add_message(copy.make_mut(), &json!(1));
    meta::remove_region(copy.make_mut(), 1).unwrap();
    assert_eq!(meta::messages(&buf).len(), 2);
    assert_eq!(meta::regions(&buf).len(), 2);
}

/// Pushes `buf` through `chain` from a `width`x`height` RGB appsrc and returns what comes out.
fn through(buf: gst::Buffer, width: u32, height: u32, chain: &str) -> gst::Buffer {
    let desc = format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width={width},height={height},framerate=30/1 \
         ! {chain} ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    src.push_buffer(buf).unwrap();
    src.end_of_stream().unwrap();
    let sample = sink.pull_sample().unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    sample.buffer_owned().unwrap()
}

fn rgb_buffer(width: u32, height: u32) -> gst::Buffer {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, width, height).build().unwrap();
    let mut buf = gst::Buffer::with_size(info.size()).unwrap();
    buf.get_mut().unwrap().set_pts(gst::ClockTime::ZERO);
    buf
}

#[test]
fn metadata_survives_the_usual_elements() {
    init();
    for (to_w, to_h) in [(640u32, 480u32), (160, 120), (213, 97), (320, 240)] {
        let (src, before) = annotated(320, 240);
        let mut buf = rgb_buffer(320, 240);
        // Move the metadata onto a buffer of the right size.
        src.copy_into(buf.make_mut(), gst::BufferCopyFlags::META, ..).unwrap();
        let out = through(
            buf,
            320,
            240,
            &format!(
                "queue ! tee ! identity ! videoconvert ! video/x-raw,format=I420 ! videoscale ! video/x-raw,width={to_w},height={to_h}"
            ),
        );
        let after = meta::regions(&out);
        assert_eq!(after.len(), before.len());
        for (a, b) in after.iter().zip(&before) {
            let want = meta::scale_rect((b.x, b.y, b.w, b.h), (320, 240), (to_w, to_h));
            assert_eq!((a.x, a.y, a.w, a.h), want, "{to_w}x{to_h}");
            assert_eq!((a.id, a.parent_id, &a.label, a.confidence), (b.id, b.parent_id, &b.label, b.confidence));
            assert_eq!(a.attributes, b.attributes);
            assert_eq!(a.tensors, b.tensors);
        }
        assert_eq!(meta::tensors(&out), meta::tensors(&src));
        assert_eq!(meta::messages(&out), meta::messages(&src));
    }
}

#[test]
fn regions_edited_after_videoscale_keep_their_params() {
    init();
    let mut buf = rgb_buffer(320, 240);
    let a = attrs(json!({"k": 1}));
    let r = meta::add_region(
        buf.make_mut(),
        320,
        240,
        &RegionSpec { attributes: Some(&a), ..spec(10.0, 10.0, 20.0, 20.0, "a") },
    )
    .unwrap();
    let mut out = through(buf, 320, 240, "videoscale ! video/x-raw,width=640,height=480");
    let t = Tensor::from_slice("t", Dtype::U8, vec![1], &[9]).unwrap();
    meta::add_region_tensor(out.make_mut(), r.id, &t).unwrap();
    let b = meta::add_region(out.make_mut(), 640, 480, &spec(0.0, 0.0, 5.0, 5.0, "b")).unwrap();
    let got = meta::regions(&out);
    assert_eq!((got[0].x, got[0].w, got[0].label.as_str(), got[0].confidence), (20, 40, "a", 0.75));
    assert_eq!(got[0].attributes, a);
    assert_eq!(got[0].tensors, vec![t]);
    assert_eq!((got[1].id, got[1].label.as_str()), (b.id, "b"));
    // Survives a second scale too.
    let again = through(out, 640, 480, "videoscale ! video/x-raw,width=320,height=240");
    let got2 = meta::regions(&again);
    assert_eq!((got2[0].x, got2[0].w, got2[0].tensors.len(), got2[1].label.as_str()), (10, 20, 1, "b"));
}

#[test]
fn update_region_in_place() {
    init();
    let (mut buf, before) = annotated(320, 240);
    let new_attrs = attrs(json!({"speed": 12.5}));
    let r = meta::update_region(buf.make_mut(), 1, Some("truck"), Some(0.5), Some(&new_attrs)).unwrap();
    assert_eq!((r.label.as_str(), r.confidence, &r.attributes), ("truck", 0.5, &new_attrs));
    let after = meta::regions(&buf);
    assert_eq!(after[0], r);
    assert_eq!((after[0].x, after[0].tensors.len()), (before[0].x, 1));
    assert_eq!(after[1], before[1]);
    let roi = buf.meta::<gst_video::VideoRegionOfInterestMeta>().unwrap();
    assert_eq!(roi.roi_type(), "truck");
    assert_eq!(roi.params().filter(|p| p.name() == "detection").count(), 1);
    // Only what is given changes.
    let r = meta::update_region(buf.make_mut(), 2, None, Some(0.1), None).unwrap();
    assert_eq!((r.label.as_str(), r.confidence), ("person", 0.1));
    assert!(meta::update_region(buf.make_mut(), 9, None, None, None).is_err());
    // After videoscale dropped the params, an update puts them all back.
    let mut out = through(
        {
            let mut b = rgb_buffer(320, 240);
            buf.copy_into(b.make_mut(), gst::BufferCopyFlags::META, ..).unwrap();
            b
        },
        320,
        240,
        "videoscale ! video/x-raw,width=160,height=120",
    );
    let r = meta::update_region(out.make_mut(), 1, Some("bus"), None, None).unwrap();
    let roi = out.meta::<gst_video::VideoRegionOfInterestMeta>().unwrap();
    assert_eq!(roi.params().count(), 2);
    assert_eq!(meta::regions(&out)[0], r);
    assert_eq!((r.label.as_str(), r.confidence, r.tensors.len(), r.x), ("bus", 0.5, 1, 5));
}

#[test]
fn exact_scaled_coordinates() {
    init();
    type Size = (u32, u32);
    type Rect = (u32, u32, u32, u32);
    let cases: &[(Size, Size, Rect, Rect)] = &[
        ((320, 240), (640, 480), (10, 20, 30, 40), (20, 40, 60, 80)),
        ((320, 240), (160, 120), (10, 20, 30, 40), (5, 10, 15, 20)),
        ((320, 240), (160, 120), (11, 21, 31, 41), (5, 10, 15, 20)),
        ((320, 240), (213, 97), (11, 13, 101, 57), (7, 5, 67, 23)),
    ];
    for &(from, to, rect, want) in cases {
        let mut buf = rgb_buffer(from.0, from.1);
        meta::add_region(
            buf.make_mut(),
            from.0,
            from.1,
            &spec(rect.0 as f64, rect.1 as f64, rect.2 as f64, rect.3 as f64, "a"),
        )
        .unwrap();
        let out = through(buf, from.0, from.1, &format!("videoscale ! video/x-raw,width={},height={}", to.0, to.1));
        let r = &meta::regions(&out)[0];
        assert_eq!((r.x, r.y, r.w, r.h), want, "{from:?} -> {to:?}");
        assert_eq!(meta::scale_rect(rect, from, to), want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn videoscale_agrees_with_scale_rect(
        ow in 8u32..200, oh in 8u32..200, nw in 8u32..300, nh in 8u32..300,
        fx in 0.0f64..1.0, fy in 0.0f64..1.0, fw in 0.0f64..1.0, fh in 0.0f64..1.0,
    ) {
        init();
        let x = (fx * f64::from(ow - 1)).floor();
        let y = (fy * f64::from(oh - 1)).floor();
        let w = (fw * (f64::from(ow) - x)).floor().max(1.0);
        let h = (fh * (f64::from(oh) - y)).floor().max(1.0);
        let mut buf = rgb_buffer(ow, oh);
        let r = meta::add_region(buf.make_mut(), ow, oh, &spec(x, y, w, h, "p")).unwrap();
        let out = through(buf, ow, oh, &format!("videoscale ! video/x-raw,width={nw},height={nh}"));
        let s = &meta::regions(&out)[0];
        let want = if (ow, oh) == (nw, nh) { (r.x, r.y, r.w, r.h) } else { meta::scale_rect((r.x, r.y, r.w, r.h), (ow, oh), (nw, nh)) };
        prop_assert_eq!((s.x, s.y, s.w, s.h), want);
        prop_assert_eq!(&s.label, "p");
    }
}
