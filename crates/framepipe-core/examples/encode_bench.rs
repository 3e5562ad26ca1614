//! Frames per second of `VideoWriter` encoding 1080p rgb24 arrays to H.264 MP4 (x264enc,
//! default settings).
//!
//! `cargo run --release -p framepipe-core --example encode_bench -- OUT.mp4 [FRAMES]`

use std::time::Instant;

use framepipe_core::layout::Dtype;
use framepipe_core::pack::ArrayRef;
use framepipe_core::video::{VideoWriter, WriterOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: encode_bench OUT.mp4 [FRAMES]")?;
    let n: usize = std::env::args().nth(2).map_or(Ok(100), |s| s.parse())?;
    let (w, h) = (1920usize, 1080usize);
    let frames: Vec<Vec<u8>> =
        (0..8).map(|i| (0..w * h * 3).map(|p| ((p / 3 % w + p / (3 * w) + i * 16) % 256) as u8).collect()).collect();
    let opts = WriterOptions { fps: 30.0, expected_duration: Some(n as f64 / 30.0), ..WriterOptions::default() };
    let start = Instant::now();
    let mut writer = VideoWriter::create(std::path::Path::new(&out), opts)?;
    let shape = [h, w, 3];
    let strides = [(w * 3) as isize, 3, 1];
    for i in 0..n {
        let data = &frames[i % frames.len()];
        writer.write(ArrayRef { data, shape: &shape, strides: &strides, dtype: Dtype::U8 }, &mut || false)?;
    }
    writer.close(&mut || false)?;
    let t = start.elapsed().as_secs_f64();
    println!("{n} frames of {w}x{h} rgb24 -> H.264 MP4: {t:.2} s, {:.1} frames/s", n as f64 / t);
    Ok(())
}
