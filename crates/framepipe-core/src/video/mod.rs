//! Video files, imageio-style: probe a file, index its frames by demuxing alone, read
//! frames sequentially or by index (frame-exact on CFR, VFR, B-frame, MKV, WebM and
//! MPEG-TS inputs), filter them, and write arrays back to a file.
//!
//! How the Python calls map onto this module:
//! - `fp.immeta(uri)` / `framepipe info FILE` -> [`probe`]: [`Metadata`] (fps, duration, codec,
//!   pixel format, container, size, rotation, tags, true frame count); `immeta(uri, index=k)`
//!   -> [`FrameIndex::get`] / [`FrameIndex::time`] (pts, time from 0, keyframe) without decoding.
//! - `fp.imiter` / `VideoFile.iter` -> [`VideoReader::next_frame`] until `None`.
//! - `fp.imread(uri, index=k)` / `VideoFile.read(index=k)` -> [`VideoReader::read`];
//!   `index=...` -> iterate and stack.
//! - `fp.improps` -> [`Metadata::n_frames`] plus the shape of the first frame
//!   ([`VideoFrame::view`]).
//! - `fp.imwrite` / `VideoFile.init_video_stream` + `write_frame` -> [`VideoWriter::create`],
//!   [`VideoWriter::write`], [`VideoWriter::close`] (pass `expected_duration` when the frame
//!   count is known, so the crash-safe MP4 index reserves only what it needs).
//! - `filter=` / `set_video_filter(filter_sequence=..., filter_graph=...)` -> [`Filter`]: FFmpeg
//!   filters run by libavfilter ([`avfilter`], the `fpavfilter` element), GStreamer fragments as they are.
//!
//! Frames are `gst::Sample`s; [`VideoFrame::view`] gives the zero-copy array view over the
//! mapped buffer (shape, byte strides, dtype) for each [`OutputFormat`]. Every blocking call
//! takes the caller's interrupt check (called every 50 ms), as [`crate::Pipeline`] does.
//! Errors: [`crate::Error::NotFound`] (missing file), [`crate::Error::Media`] (a file that
//! cannot be demuxed or decoded; within 5 s, never a hang), [`crate::Error::Value`] (bad
//! arguments: index out of range, unknown codec or format, changing frame shape).

pub mod av;
pub mod avfilter;
pub mod avwriter;
pub mod convert;
mod filter;
mod format;
mod h264;
mod index;
pub mod pixfmt;
mod reader;
mod writer;
mod yuvconvert;

pub use avwriter::{AvWriter, AvWriterOptions, Target as AvTarget, WriteSeek, bayer_pixel};
pub use filter::{Filter, FilterGraph, FilterSpec, GraphEdge};
pub use format::OutputFormat;
pub use h264::disposable as h264_disposable;
pub use index::{FrameEntry, FrameIndex, Metadata, probe, probe_cached};
pub use reader::{ReaderOptions, VideoFrame, VideoReader};
pub use writer::{VideoWriter, WriterOptions, available_codecs};
pub use yuvconvert::FpYuvConvert;

use std::path::Path;

use crate::{Error, Result};

/// Fails with [`Error::NotFound`] for a path that does not exist and [`Error::Media`] for one
/// that is not a regular file, so no pipeline is built for either.
fn check_input(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::NotFound(format!("no such file: {}", path.display())))
        }
        Err(e) => Err(Error::Media(format!("cannot open {}: {e}", path.display()))),
        Ok(m) if m.is_dir() => Err(Error::Media(format!("{} is a directory, not a video file", path.display()))),
        Ok(m) if m.len() == 0 => Err(Error::Media(format!("{} is empty (0 bytes)", path.display()))),
        Ok(_) => Ok(()),
    }
}

/// A pipeline error turned into [`Error::Media`] (the file, not the caller, is at fault);
/// interrupts, timeouts and argument errors pass through.
fn media_error(path: &Path, e: Error) -> Error {
    match e {
        Error::Pipeline(b) | Error::Negotiation(b) => {
            let detail = b.debug.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
            Error::Media(format!("{}: {}{detail}", path.display(), b))
        }
        Error::Gst(m) => Error::Media(format!("{}: {m}", path.display())),
        other => other,
    }
}

/// Checks the settings both writers take, so that they refuse the same values the same
/// way, when the writer is created rather than at the first frame.
pub(crate) fn check_encoding(fps: f64, quality: Option<f64>) -> Result<()> {
    if !(fps.is_finite() && fps > 0.0) {
        return Err(Error::Value(format!("fps must be a positive number, not {fps}")));
    }
    if let Some(q) = quality.filter(|q| !(0.0..=10.0).contains(q)) {
        return Err(Error::Value(format!("quality must be between 0 and 10, not {q}")));
    }
    Ok(())
}

/// The end of sequential reading: the first frame that could not be decoded (`missing`) is
/// reported once, as [`Error::Media`] after the frames that could; then the end (`None`).
pub(crate) fn end_of_frames<T>(path: &Path, missing: Option<usize>, reported: &mut bool) -> Result<Option<T>> {
    match missing {
        Some(k) if !*reported => {
            *reported = true;
            Err(Error::Media(format!(
                "{}: frame {k} and possibly others could not be decoded (the file is damaged); the frames \
                 that could were returned",
                path.display()
            )))
        }
        _ => Ok(None),
    }
}

/// Makes an element, naming the factory when it is not installed.
fn make(factory: &str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| Error::Gst(format!("the GStreamer element {factory:?} is not installed")))
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| Error::Value(format!("path {} is not valid UTF-8", path.display())))
}
