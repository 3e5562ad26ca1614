//! pyfunc without Python: the element makes its hooks through the installed factory at
//! start (which reads the element's properties), hands it each buffer writable, drops what it drops, and turns failures and
//! panics into ERRORs naming the element (with the cause kept for the caller).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gst::prelude::*;
use gst_check::Harness;
use gstframepipe::callback::{self, CallbackError, CallbackResult, CapsInfo, ElementHooks};
use gstframepipe::pyfunc;

struct EveryOther(AtomicUsize);

impl ElementHooks for EveryOther {
    fn transform_ip(&self, mut buffer: gst::Buffer, caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        assert!(matches!(caps.media, framepipe_core::MediaInfo::Video(_)), "parsed caps: {:?}", caps.media);
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let b = buffer.get_mut().expect("the element hands over a writable buffer");
        b.set_offset(n as u64);
        match n {
            5 => Err(CallbackError::with_debug("failed on purpose", "trace").caused_by(Arc::new(42u32))),
            6 => panic!("panicked on purpose"),
            _ if n % 2 == 1 => Ok(None),
            _ => Ok(Some(buffer)),
        }
    }
}

fn factory(element: &gst::Element) -> CallbackResult<Box<dyn ElementHooks>> {
    let text = |name: &str| element.property::<Option<String>>(name).unwrap_or_default();
    match text("module").as_str() {
        "good" if text("function") == "process_frame" && text("kwargs") == "{}" => {
            Ok(Box::new(EveryOther(AtomicUsize::new(0))))
        }
        other => Err(CallbackError::new(format!("property 'module' of {}: no module named {other:?}", element.name()))),
    }
}

fn harness(module: &str) -> Harness {
    let mut h = Harness::new_parse(&format!("pyfunc name=pf module={module} kwargs={{}}"));
    h.set_src_caps_str("video/x-raw,format=GRAY8,width=4,height=2,framerate=30/1");
    h
}

fn error_of(bus: &gst::Bus) -> Option<(String, String, Option<String>)> {
    while let Some(msg) = bus.pop() {
        if let gst::MessageView::Error(e) = msg.view() {
            let src = msg.src().map(|s| s.path_string().to_string()).unwrap_or_default();
            return Some((src, e.error().message().to_string(), e.debug().map(|d| d.to_string())));
        }
    }
    None
}

// One test: the factory is process-global.
#[test]
fn pyfunc_calls_drops_and_fails_cleanly() {
    gstframepipe::register_static().unwrap();

    // Without a factory (gst-launch without Python), starting fails clearly.
    let element = gst::ElementFactory::make("pyfunc").property("module", "good").build().unwrap();
    assert!(element.set_state(gst::State::Paused).is_err());
    element.set_state(gst::State::Null).unwrap();

    pyfunc::set_pyfunc_factory(Arc::new(factory));
    let mut h = harness("good");
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    let mut out = Vec::new();
    for i in 0..5u64 {
        let mut b = gst::Buffer::from_slice(vec![i as u8; 8]);
        b.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(33 * i));
        assert_eq!(h.push(b), Ok(gst::FlowSuccess::Ok));
        while let Some(b) = h.try_pull() {
            out.push(b.offset());
        }
    }
    assert_eq!(out, [0, 2, 4]);
    // A failing callback: ERROR from the element with the debug text, cause stashed.
    assert_eq!(h.push(gst::Buffer::from_slice(vec![0u8; 8])), Err(gst::FlowError::Error));
    let (path, message, debug) = error_of(&bus).expect("an error message");
    assert!(path.ends_with("pf"), "{path}");
    assert_eq!(message, "failed on purpose");
    assert!(debug.unwrap_or_default().contains("trace"));
    let cause = callback::take_error_cause(&path).expect("the cause was kept");
    assert_eq!(cause.downcast_ref::<u32>(), Some(&42));
    // A panic is an ERROR too, never an abort.
    assert_eq!(h.push(gst::Buffer::from_slice(vec![0u8; 8])), Err(gst::FlowError::Error));
    let (_, message, _) = error_of(&bus).expect("an error message");
    assert!(message.contains("panicked on purpose"), "{message}");
    drop(h);

    // Settings the factory refuses fail the state change, naming the property.
    let element = gst::ElementFactory::make("pyfunc").name("bad").property("module", "nope").build().unwrap();
    let bin = gst::Pipeline::new();
    bin.add(&element).unwrap();
    assert!(bin.set_state(gst::State::Paused).is_err());
    let (path, message, _) = error_of(&bin.bus().unwrap()).expect("an error message");
    assert!(path.ends_with("bad"));
    assert!(message.contains("property 'module'"), "{message}");
    bin.set_state(gst::State::Null).unwrap();
}
