//! Reads the frames of a video file from Rust as zero-copy array views, the way
//! `fp.imiter(path)` and `fp.imread(path, index=k)` do in Python: the frame index first
//! (demuxing only), then frames in order, then one frame by index.
//!
//! ```sh
//! cargo run -p framepipe-core --example read_frames -- FILE   # or no FILE: a clip it writes
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use framepipe_core::video::{OutputFormat, ReaderOptions, VideoReader, probe};
use framepipe_core::{Error, Pipeline, Result};

/// What [`read_frames`] saw: the frame count, each frame's (H, W, C) shape and the mean of
/// the first frame's pixels.
#[derive(Debug)]
pub struct Summary {
    pub frames: usize,
    pub shape: Vec<usize>,
    pub first_mean: f64,
}

fn main() -> Result<()> {
    framepipe_core::init()?;
    let path = match std::env::args().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            let out = std::env::temp_dir().join(format!("framepipe-read-frames-{}.mp4", std::process::id()));
            write_clip(&out, 30)?;
            out
        }
    };
    let summary = read_frames(&path)?;
    println!("{}: {} frames of shape {:?}", path.display(), summary.frames, summary.shape);
    Ok(())
}

/// Reads every frame of `path` as rgb24, then the middle frame again by its index.
pub fn read_frames(path: &Path) -> Result<Summary> {
    // Blocking calls poll this every 50 ms; a program that handles Ctrl-C returns true
    // from it to stop waiting. This one never interrupts.
    let mut interrupted = || false;
    // The index: frame count, pts and keyframes, from the demuxer alone.
    let (metadata, index) = probe(path, &mut interrupted)?;
    println!(
        "{}x{} {} at {:.2} fps, {} frames",
        metadata.width,
        metadata.height,
        metadata.codec,
        metadata.fps,
        index.len()
    );
    let options = ReaderOptions { format: Some(OutputFormat::Rgb24), ..ReaderOptions::default() };
    let mut reader = VideoReader::with_index(metadata, index, options)?;
    let mut summary = Summary { frames: 0, shape: Vec::new(), first_mean: 0.0 };
    while let Some(frame) = reader.next_frame(&mut interrupted)? {
        // The view describes the mapped buffer (offset, shape, byte strides): no copy.
        let view = frame.view()?;
        if frame.index == 0 {
            let map = frame.buffer()?.map_readable().map_err(|e| Error::Buffer(e.to_string()))?;
            let (h, w, c) = (view.shape[0], view.shape[1], view.shape[2]);
            let mut sum = 0u64;
            for y in 0..h {
                let row = view.offset + y * view.strides[0] as usize;
                sum += map[row..row + w * c].iter().map(|&v| u64::from(v)).sum::<u64>();
            }
            summary.first_mean = sum as f64 / (h * w * c) as f64;
            println!("frame 0: shape {:?}, strides {:?}, mean {:.1}", view.shape, view.strides, summary.first_mean);
        }
        summary.shape = view.shape;
        summary.frames += 1;
    }
    // Random access is frame-exact: the k-th frame is the k-th of the iteration above.
    let k = summary.frames / 2;
    let frame = reader.read(k, &mut interrupted)?;
    println!("frame {k}: pts {} ns, {:.3} s, keyframe {}", frame.pts, frame.time, frame.keyframe);
    reader.close();
    Ok(summary)
}

/// Writes `frames` frames of GStreamer's moving ball as H.264 in MP4 to `out`.
pub fn write_clip(out: &Path, frames: u32) -> Result<()> {
    let location = out.to_str().ok_or_else(|| Error::Value(format!("{} is not UTF-8", out.display())))?;
    let pipeline = Pipeline::new(&format!(
        "videotestsrc pattern=ball num-buffers={frames} ! video/x-raw,width=320,height=240,framerate=30/1 ! \
         x264enc speed-preset=veryfast ! mp4mux ! filesink location=\"{location}\""
    ))?;
    pipeline.run(Some(Duration::from_secs(60)), &mut || false)
}
