//! The sink host, driven with Rust hooks: render, set_caps, start/stop, errors, and
//! stopping while render is slow.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstframepipe::host::{CallbackError, CallbackResult, CapsInfo, ElementClassDesc, ElementHooks, ElementKind};

use common::End;

#[derive(Default)]
struct Log {
    events: Mutex<Vec<String>>,
}

struct Recorder {
    log: Arc<Log>,
    fail_after: usize,
}

impl ElementHooks for Recorder {
    fn start(&self) -> CallbackResult<()> {
        self.log.events.lock().unwrap().push("start".into());
        Ok(())
    }

    fn stop(&self) -> CallbackResult<()> {
        self.log.events.lock().unwrap().push("stop".into());
        Ok(())
    }

    fn set_caps(&self, incaps: Option<&CapsInfo>, outcaps: Option<&CapsInfo>) -> CallbackResult<()> {
        assert!(outcaps.is_none());
        let s = incaps.unwrap().caps.structure(0).unwrap().get::<&str>("format").unwrap().to_string();
        self.log.events.lock().unwrap().push(format!("caps {s}"));
        Ok(())
    }

    fn render(&self, buffer: &gst::Buffer, caps: &CapsInfo) -> CallbackResult<()> {
        let framepipe_core::MediaInfo::Video(info) = &caps.media else { return Err("not video".into()) };
        let mut events = self.log.events.lock().unwrap();
        let renders = events.iter().filter(|e| e.starts_with("render")).count();
        if renders == self.fail_after {
            return Err(CallbackError::with_debug("RuntimeError: sink full", "Traceback: render"));
        }
        events.push(format!("render {} {}x{}", buffer.size(), info.width(), info.height()));
        Ok(())
    }
}

fn register(name: &str, fail_after: usize, log: Arc<Log>) {
    let mut desc = ElementClassDesc::new(name, ElementKind::Sink);
    desc.sink_caps = Some("video/x-raw,format={GRAY8,RGB}".into());
    common::register(desc, move |_| Recorder { log: log.clone(), fail_after });
}

#[test]
fn render_gets_every_buffer_with_the_negotiated_caps() {
    let log = Arc::new(Log::default());
    register("fptestsink", usize::MAX, log.clone());
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8,width=4,height=2 ! fptestsink sync=false",
    )
    .unwrap();
    assert!(matches!(common::run(&pipeline, Duration::from_secs(10)), End::Eos));
    let events = log.events.lock().unwrap().clone();
    assert_eq!(events, ["start", "caps GRAY8", "render 8 4x2", "render 8 4x2", "render 8 4x2", "stop"]);
}

#[test]
fn a_render_error_names_the_element() {
    let log = Arc::new(Log::default());
    register("fptestsinkfailing", 1, log);
    let pipeline =
        gst::parse::launch("videotestsrc num-buffers=3 ! video/x-raw,format=RGB ! fptestsinkfailing name=snk").unwrap();
    match common::run(&pipeline, Duration::from_secs(10)) {
        End::Error { source, message, debug } => {
            assert_eq!(source, "snk");
            assert_eq!(message, "RuntimeError: sink full");
            assert_eq!(debug.as_deref(), Some("Traceback: render"));
        }
        End::Eos => panic!("expected an error"),
    }
}

/// A render that takes 3 s: stopping waits for the render under way (GstBaseSink renders
/// with its preroll lock held) but not for another one, and never deadlocks.
struct SlowRender;

impl ElementHooks for SlowRender {
    fn render(&self, _buffer: &gst::Buffer, _caps: &CapsInfo) -> CallbackResult<()> {
        std::thread::sleep(Duration::from_secs(3));
        Ok(())
    }
}

#[test]
fn stopping_during_a_slow_render_returns() {
    let mut desc = ElementClassDesc::new("fptestslowsink", ElementKind::Sink);
    desc.sink_caps = Some("video/x-raw".into());
    common::register(desc, |_| SlowRender);
    let pipeline = gst::parse::launch("videotestsrc ! fptestslowsink sync=false").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(started.elapsed() < Duration::from_millis(4500), "stopping took {:?}", started.elapsed());
}

#[test]
fn a_failing_start_fails_the_state_change_with_an_error() {
    struct NoStart;
    impl ElementHooks for NoStart {
        fn start(&self) -> CallbackResult<()> {
            Err(CallbackError::with_debug("OSError: device busy", "Traceback: start"))
        }
    }
    common::register(ElementClassDesc::new("fptestnostart", ElementKind::Sink), |_| NoStart);
    let pipeline = gst::parse::launch("fakesrc ! fptestnostart name=ns").unwrap();
    match common::run(&pipeline, Duration::from_secs(10)) {
        End::Error { source, message, debug } => {
            assert_eq!(source, "ns");
            assert_eq!(message, "OSError: device busy");
            assert!(debug.unwrap().contains("Traceback: start"));
        }
        End::Eos => panic!("expected an error"),
    }
}

#[test]
fn a_failing_hooks_factory_is_reported_at_start() {
    common::init();
    let factory: Arc<dyn gstframepipe::host::HooksFactory> =
        Arc::new(|_: &gst::Element| -> CallbackResult<Box<dyn ElementHooks>> {
            Err(CallbackError::with_debug("TypeError: __init__() missing 1 argument", "Traceback: __init__"))
        });
    gstframepipe::host::register_element(None, ElementClassDesc::new("fptestnoinit", ElementKind::Sink), factory)
        .unwrap();
    let pipeline = gst::parse::launch("fakesrc ! fptestnoinit name=ni").unwrap();
    match common::run(&pipeline, Duration::from_secs(10)) {
        End::Error { source, message, .. } => {
            assert_eq!(source, "ni");
            assert!(message.contains("missing 1 argument"), "{message}");
        }
        End::Eos => panic!("expected an error"),
    }
}

/// Renders slowly and counts: pausing during a render and resuming loses no buffer.
struct SlowCounter {
    rendered: Arc<Mutex<usize>>,
}

impl ElementHooks for SlowCounter {
    fn render(&self, _buffer: &gst::Buffer, _caps: &CapsInfo) -> CallbackResult<()> {
        std::thread::sleep(Duration::from_millis(300));
        *self.rendered.lock().unwrap() += 1;
        Ok(())
    }
}

#[test]
fn pausing_during_a_slow_render_loses_no_buffer() {
    let rendered = Arc::new(Mutex::new(0));
    let mut desc = ElementClassDesc::new("fptestslowcounter", ElementKind::Sink);
    desc.sink_caps = Some("video/x-raw".into());
    let r = rendered.clone();
    common::register(desc, move |_| SlowCounter { rendered: r.clone() });
    let pipeline = gst::parse::launch("videotestsrc num-buffers=4 ! fptestslowcounter sync=false").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    std::thread::sleep(Duration::from_millis(450));
    pipeline.set_state(gst::State::Paused).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let while_paused = *rendered.lock().unwrap();
    assert!(while_paused < 4, "rendered {while_paused} while paused");
    assert!(matches!(common::run(&pipeline, Duration::from_secs(10)), End::Eos));
    assert_eq!(*rendered.lock().unwrap(), 4);
}
