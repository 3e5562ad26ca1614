//! Runs a pipeline from Rust and pulls its frames as zero-copy views, the way
//! `fp.Pipeline(...).frames("out")` does in Python.
//!
//! ```sh
//! cargo run -p framepipe-core --example run_pipeline -- 30
//! ```

use std::time::Duration;

use framepipe_core::{Pipeline, Result};

pub fn main() -> Result<()> {
    framepipe_core::init()?;
    let frames: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(30);
    let pipeline = Pipeline::new(&format!(
        "videotestsrc num-buffers={frames} ! video/x-raw,format=RGB,width=320,height=240 ! appsink name=out"
    ))?;
    // Blocking calls poll this every 50 ms; a program that handles Ctrl-C returns true
    // from it to stop waiting. This one never interrupts.
    let mut interrupted = || false;
    let mut count = 0u32;
    while let Some(sample) = pipeline.pull("out", Some(Duration::from_secs(10)), &mut interrupted)? {
        let buffer = sample.buffer().expect("appsink samples carry a buffer");
        let map = buffer.map_readable().map_err(|e| framepipe_core::Error::Gst(e.to_string()))?;
        // The first pixel of each frame: videotestsrc's SMPTE bars start white.
        let first = &map.as_slice()[..3];
        if count == 0 {
            println!("frame 0: pts {:?}, first pixel {first:?}", buffer.pts());
        }
        count += 1;
    }
    pipeline.set_state(gst::State::Null)?;
    println!("{count} frames");
    assert_eq!(count, frames);
    Ok(())
}
