//! Clips made with GStreamer pipelines in a temp dir (once per test process) and helpers the
//! video tests share.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use framepipe_core::layout::Dtype;
use framepipe_core::pack::ArrayRef;
use framepipe_core::video::{ReaderOptions, VideoWriter, WriterOptions};
use framepipe_core::{Error, Pipeline};

pub fn never() -> impl FnMut() -> bool {
    || false
}

pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Clips of earlier runs (whose process is gone) are removed; a run cannot clean up
        // after itself, as libtest has no hook after the last test.
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("framepipe-video-")
                    && !Path::new("/proc").join(pid).exists()
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let d = std::env::temp_dir().join(format!("framepipe-video-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

/// Held while a clip is made, so that a clip is made once even when tests ask for it at once.
fn making() -> MutexGuard<'static, ()> {
    static MAKING: Mutex<()> = Mutex::new(());
    MAKING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs a launch line writing `name` in the temp dir (once per process).
pub fn clip(name: &str, launch: &str) -> PathBuf {
    // Tests of one binary run on parallel threads: one makes the clip, the others wait.
    let _making = making();
    let path = dir().join(name);
    if !path.exists() {
        let tmp = dir().join(format!("tmp-{name}"));
        let desc = launch.replace("OUT", tmp.to_str().unwrap());
        Pipeline::new(&desc).unwrap().run(Some(Duration::from_secs(60)), &mut never()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

pub const SRC: &str =
    "videotestsrc pattern=ball num-buffers=40 ! video/x-raw,format=I420,width=160,height=120,framerate=30/1";

pub const X264_B: &str = "x264enc speed-preset=veryfast bframes=2 b-adapt=false key-int-max=12";

pub fn bframe_mp4() -> PathBuf {
    clip("bframes.mp4", &format!("{SRC} ! {X264_B} ! mp4mux ! filesink location=OUT"))
}

pub fn mkv() -> PathBuf {
    clip("bframes.mkv", &format!("{SRC} ! {X264_B} ! matroskamux ! filesink location=OUT"))
}

pub fn ts() -> PathBuf {
    clip("bframes.ts", &format!("{SRC} ! {X264_B} ! mpegtsmux ! filesink location=OUT"))
}

pub fn webm_vp8() -> PathBuf {
    clip("vp8.webm", &format!("{SRC} ! vp8enc deadline=1 keyframe-max-dist=10 ! webmmux ! filesink location=OUT"))
}

pub fn webm_vp9() -> PathBuf {
    clip(
        "vp9.webm",
        &format!("{SRC} ! vp9enc deadline=1 cpu-used=8 keyframe-max-dist=10 ! webmmux ! filesink location=OUT"),
    )
}

/// 30 frames with irregular timestamps (gaps of 1, 2 and 3 frame times) in an MP4.
pub fn vfr_mp4() -> PathBuf {
    let _making = making();
    let path = dir().join("vfr.mp4");
    if path.exists() {
        return path;
    }
    let tmp = dir().join("tmp-vfr.mp4");
    let raw = Pipeline::new(
        "videotestsrc pattern=ball num-buffers=30 ! video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! \
         appsink name=raw sync=false",
    )
    .unwrap();
    let mut buffers = Vec::new();
    while let Some(s) = raw.pull("raw", Some(Duration::from_secs(10)), &mut never()).unwrap() {
        buffers.push(s.buffer().unwrap().copy());
    }
    let p = Pipeline::new(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=I420,width=160,height=120,framerate=0/1 ! {X264_B} ! \
         mp4mux ! filesink location={}",
        tmp.display()
    ))
    .unwrap();
    let mut pts = 0u64;
    let step = 1_000_000_000u64 / 30;
    for (i, buf) in buffers.into_iter().enumerate() {
        let dur = step * (1 + i as u64 % 3);
        p.push(
            "src",
            buf,
            Some(gst::ClockTime::from_nseconds(pts)),
            Some(gst::ClockTime::from_nseconds(dur)),
            &mut never(),
        )
        .unwrap();
        pts += dur;
    }
    p.end_of_stream("src").unwrap();
    p.run(Some(Duration::from_secs(30)), &mut never()).unwrap();
    drop(p);
    std::fs::rename(&tmp, &path).unwrap();
    path
}

pub fn bytes(frame: &framepipe_core::video::VideoFrame) -> Vec<u8> {
    let map = frame.buffer().unwrap().map_readable().unwrap();
    map.as_slice().to_vec()
}

pub fn rgb() -> ReaderOptions {
    ReaderOptions::default()
}

/// (H, W, 3) frames of a moving gradient.
pub fn frames(n: usize, w: usize, h: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut f = vec![0u8; w * h * 3];
            for y in 0..h {
                for x in 0..w {
                    let p = (y * w + x) * 3;
                    f[p] = ((x * 2 + i * 8) % 256) as u8;
                    f[p + 1] = ((y * 2) % 256) as u8;
                    f[p + 2] = 128;
                }
            }
            f
        })
        .collect()
}

pub fn write(path: &Path, opts: WriterOptions, frames: &[Vec<u8>], w: usize, h: usize) -> Result<(), Error> {
    let mut writer = VideoWriter::create(path, opts)?;
    let shape = [h, w, 3];
    let strides = [(w * 3) as isize, 3, 1];
    for f in frames {
        writer.write(ArrayRef { data: f, shape: &shape, strides: &strides, dtype: Dtype::U8 }, &mut never())?;
    }
    writer.close(&mut never())
}

pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.len() as f64
}
