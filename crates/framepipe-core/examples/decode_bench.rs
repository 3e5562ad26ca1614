//! Frames per second of `VideoReader` decoding a file to rgb24, for comparing with
//! `gst-launch-1.0 filesrc ! decodebin ! fakesink`.
//!
//! `cargo run -p framepipe-core --example decode_bench -- FILE`

use std::time::Instant;

use framepipe_core::video::{ReaderOptions, VideoReader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: decode_bench FILE")?;
    let start = Instant::now();
    let mut reader = VideoReader::open(std::path::Path::new(&path), ReaderOptions::default(), &mut || false)?;
    let indexed = start.elapsed();
    let mut n = 0usize;
    loop {
        match reader.next_frame(&mut || false) {
            Ok(Some(frame)) => {
                let map = frame.buffer()?.map_readable()?;
                std::hint::black_box(map.as_slice()[0]);
                n += 1;
            }
            Ok(None) => break,
            Err(e) => {
                println!("error after {n} of {} frames: {e}", reader.len());
                return Err(e.into());
            }
        }
    }
    let total = start.elapsed();
    println!(
        "{n} frames: index {:.3} s, decode+rgb24 {:.3} s, {:.1} frames/s",
        indexed.as_secs_f64(),
        (total - indexed).as_secs_f64(),
        n as f64 / (total - indexed).as_secs_f64()
    );
    Ok(())
}
