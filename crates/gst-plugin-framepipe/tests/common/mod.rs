//! Helpers shared by the host tests: GStreamer set-up and running a pipeline to its end.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use gst::prelude::*;
use gstframepipe::host::{CallbackResult, ElementClassDesc, ElementHooks, HooksFactory, register_element};

pub fn init() {
    gst::init().unwrap();
    gstframepipe::register_static().unwrap();
}

/// Registers `desc` whose instances get hooks from `make`.
pub fn register<F, H>(desc: ElementClassDesc, make: F) -> gst::glib::Type
where
    F: Fn(&gst::Element) -> H + Send + Sync + 'static,
    H: ElementHooks + 'static,
{
    init();
    let factory: Arc<dyn HooksFactory> =
        Arc::new(move |e: &gst::Element| -> CallbackResult<Box<dyn ElementHooks>> { Ok(Box::new(make(e))) });
    register_element(None, desc, factory).unwrap()
}

/// What ended a pipeline run.
#[derive(Debug)]
pub enum End {
    Eos,
    Error { source: String, message: String, debug: Option<String> },
}

/// Plays `pipeline` until EOS or ERROR (at most `timeout`), then sets it to NULL.
pub fn run(pipeline: &gst::Element, timeout: Duration) -> End {
    let bus = pipeline.bus().unwrap();
    let started = pipeline.set_state(gst::State::Playing);
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_nseconds(timeout.as_nanos() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .unwrap_or_else(|| panic!("pipeline neither ended nor failed within {timeout:?} (state change: {started:?})"));
    let end = match msg.view() {
        gst::MessageView::Error(err) => End::Error {
            source: msg.src().map(|s| s.name().to_string()).unwrap_or_default(),
            message: err.error().to_string(),
            debug: err.debug().map(|d| d.to_string()),
        },
        _ => End::Eos,
    };
    pipeline.set_state(gst::State::Null).unwrap();
    end
}

/// Every buffer an appsink named `sink` in `pipeline` received, with the caps of the last.
pub fn collect(pipeline: &gst::Element, sink: &str) -> (Vec<gst::Buffer>, Option<gst::Caps>, End) {
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    let appsink = bin.by_name(sink).unwrap().downcast::<gst_app::AppSink>().unwrap();
    let buffers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let caps = Arc::new(std::sync::Mutex::new(None));
    let (b, c) = (buffers.clone(), caps.clone());
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                b.lock().unwrap().push(sample.buffer_owned().unwrap());
                *c.lock().unwrap() = sample.caps_owned();
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let end = run(pipeline, Duration::from_secs(20));
    let buffers = std::mem::take(&mut *buffers.lock().unwrap());
    let caps = caps.lock().unwrap().take();
    (buffers, caps, end)
}
