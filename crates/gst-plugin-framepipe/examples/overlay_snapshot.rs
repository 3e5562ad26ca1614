//! Draws a few regions with fpoverlay on a test frame and saves it as a PNG:
//! `cargo run -p gst-plugin-framepipe --example overlay_snapshot -- out.png [FORMAT]`.

use framepipe_core::meta::{self, RegionSpec};
use gst::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    gstframepipe::register_static()?;
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "overlay.png".into());
    let format = args.next().unwrap_or_else(|| "I420".into());
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,format={format},width=640,height=480 \
         ! identity name=tag signal-handoffs=true ! fpoverlay thickness=3 ! videoconvert ! pngenc \
         ! filesink location={out}"
    ))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline")?;
    let tag = pipeline.by_name("tag").ok_or("no identity")?;
    let pad = tag.static_pad("src").ok_or("no pad")?;
    pad.add_probe(gst::PadProbeType::BUFFER, |_, info| {
        if let Some(gst::PadProbeData::Buffer(buf)) = info.data.as_mut() {
            let b = buf.make_mut();
            let boxes = [(40.0, 60.0, 200.0, 150.0, "person", 0.93), (300.0, 200.0, 180.0, 120.0, "car", 0.5)];
            for (x, y, w, h, label, confidence) in boxes {
                let spec = RegionSpec { x, y, w, h, label, confidence, ..Default::default() };
                meta::add_region(b, 640, 480, &spec).expect("inside the frame");
            }
            let spec = RegionSpec {
                x: 500.0,
                y: 10.0,
                w: 100.0,
                h: 40.0,
                label: "Hello, World! {[(0-9)]} ~@#$%^&*",
                ..Default::default()
            };
            meta::add_region(b, 640, 480, &spec).expect("inside the frame");
        }
        gst::PadProbeReturn::Ok
    });
    pipeline.set_state(gst::State::Playing)?;
    let bus = pipeline.bus().ok_or("no bus")?;
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => return Err(format!("{}", e.error()).into()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null)?;
    Ok(())
}
