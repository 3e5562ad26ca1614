//! Per-buffer cost of the transform host with a hook that does nothing, against the
//! native `identity`: the floor under a Python Transform's overhead.
//!
//! ```text
//! cargo run --release -p gst-plugin-framepipe --example host_overhead [buffers]
//! ```

use std::sync::Arc;
use std::time::Instant;

use gst::prelude::*;
use gstframepipe::host::{
    CallbackResult, CapsInfo, ElementClassDesc, ElementHooks, ElementKind, HooksFactory, TransformMode,
    register_element,
};

struct Nothing;

impl ElementHooks for Nothing {
    fn transform_ip(&self, buffer: gst::Buffer, _caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        Ok(Some(buffer))
    }
}

fn seconds(description: &str) -> f64 {
    let pipeline = gst::parse::launch(description).expect("pipeline");
    let bus = pipeline.bus().expect("bus");
    let start = Instant::now();
    pipeline.set_state(gst::State::Playing).expect("play");
    let msg = bus.timed_pop_filtered(gst::ClockTime::NONE, &[gst::MessageType::Eos, gst::MessageType::Error]);
    let took = start.elapsed().as_secs_f64();
    pipeline.set_state(gst::State::Null).expect("stop");
    if let Some(gst::MessageView::Error(e)) = msg.as_ref().map(|m| m.view()) {
        panic!("{}", e.error());
    }
    took
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    gst::init().expect("gst");
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    for mode in [TransformMode::InPlace, TransformMode::Passthrough] {
        let name = format!("fpbench{}", format!("{mode:?}").to_lowercase());
        let factory: Arc<dyn HooksFactory> =
            Arc::new(|_: &gst::Element| -> CallbackResult<Box<dyn ElementHooks>> { Ok(Box::new(Nothing)) });
        register_element(None, ElementClassDesc::new(&name, ElementKind::Transform(mode)), factory).expect("register");
    }
    let src = format!("fakesrc num-buffers={n} sizetype=fixed sizemax=64 filltype=nothing ! video/x-raw");
    let base = median((0..5).map(|_| seconds(&format!("{src} ! identity ! fakesink"))).collect());
    println!("{:<20} {:>8}", "element", "ns/buffer over identity");
    for name in ["fpbenchinplace", "fpbenchpassthrough"] {
        let t = median((0..5).map(|_| seconds(&format!("{src} ! {name} ! fakesink"))).collect());
        println!("{name:<20} {:>8.0}", (t - base) * 1e9 / n as f64);
    }
}
