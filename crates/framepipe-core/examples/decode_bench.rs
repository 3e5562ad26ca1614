//! Frames per second of `VideoReader` decoding a file to rgb24 (compare with
//! `gst-launch-1.0 filesrc ! decodebin ! fakesink`), then the latency and exactness of 10
//! random reads by index against the frames of sequential decoding.
//!
//! `cargo run --release -p framepipe-core --example decode_bench -- FILE`

use std::time::{Duration, Instant};

use framepipe_core::video::{ReaderOptions, VideoFrame, VideoReader};

fn digest(frame: &VideoFrame) -> Result<u64, Box<dyn std::error::Error>> {
    let map = frame.buffer()?.map_readable()?;
    // FNV-1a over every 7th byte: cheap, and any decoding difference shows.
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in map.as_slice().iter().step_by(7) {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    Ok(h)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: decode_bench FILE")?;
    let path = std::path::Path::new(&path);
    let start = Instant::now();
    let mut reader = VideoReader::open(path, ReaderOptions::default(), &mut || false)?;
    let indexed = start.elapsed();
    let mut digests = Vec::new();
    let mut decode = Duration::ZERO;
    loop {
        let t = Instant::now();
        let next = reader.next_frame(&mut || false);
        decode += t.elapsed();
        match next {
            Ok(Some(frame)) => digests.push(digest(&frame)?),
            Ok(None) => break,
            Err(e) => {
                println!("error after {} of {} frames: {e}", digests.len(), reader.len());
                return Err(e.into());
            }
        }
    }
    let n = digests.len();
    println!(
        "{n} frames: index {:.3} s, decode+rgb24 {:.3} s, {:.1} frames/s",
        indexed.as_secs_f64(),
        decode.as_secs_f64(),
        n as f64 / decode.as_secs_f64()
    );
    let mut reader = VideoReader::open(path, ReaderOptions::default(), &mut || false)?;
    let mut latencies = Vec::new();
    let mut exact = 0;
    let mut x = 12345u64;
    for _ in 0..10 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let k = (x >> 33) as usize % n;
        let t = Instant::now();
        let frame = reader.read(k, &mut || false)?;
        latencies.push(t.elapsed());
        exact += usize::from(digest(&frame)? == digests[k]);
    }
    latencies.sort();
    println!("10 random reads: median {:.1} ms, {exact}/10 exact", latencies[5].as_secs_f64() * 1e3);
    Ok(())
}
