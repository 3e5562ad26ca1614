//! Video files: the native half of `framepipe.io` (imread, imiter, imwrite, VideoFile).
//! Decoding and encoding run with the GIL released; decoded frames reach numpy as
//! read-only views of the decoded buffers, with no copy.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use framepipe_core::Error;
use framepipe_core::video::av::{
    ColorOptions, ColorRange, ColorSpace, LibavReader, Pixels, Probe, convert_frame, index_to_json, strided_layout,
};
use framepipe_core::video::{
    Filter, FilterGraph, FilterSpec, FrameIndex, GraphEdge, Metadata, OutputFormat, ReaderOptions, VideoFrame,
    VideoReader, VideoWriter, WriterOptions, available_codecs,
};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::array::{Borrowed, view_array};
use crate::errors::to_py;
use crate::gil::detach_interruptible;
use crate::mapping::{Mapped, PyMappedBuffer};

fn closed() -> PyErr {
    PyValueError::new_err("I/O operation on a closed video file")
}

fn output_format(format: Option<&str>) -> PyResult<Option<OutputFormat>> {
    format.map(|f| OutputFormat::from_name(f).map_err(to_py)).transpose()
}

/// FFmpeg-style parameters: a string ("512:-1") or a dict of named values.
fn filter_spec(name: &str, params: &Bound<'_, PyAny>) -> PyResult<FilterSpec> {
    if params.is_none() {
        return Ok(FilterSpec::new(name, ""));
    }
    if let Ok(s) = params.cast::<PyString>() {
        return Ok(FilterSpec::new(name, s.to_str()?));
    }
    if let Ok(d) = params.cast::<PyDict>() {
        let mut pairs = Vec::new();
        for (k, v) in d.iter() {
            pairs.push((k.str()?.to_string(), v.str()?.to_string()));
        }
        return Ok(FilterSpec::with_pairs(name, pairs));
    }
    Err(PyTypeError::new_err(format!("parameters of filter {name:?} must be a str or a dict")))
}

/// `filter=`: an FFmpeg filter string or a GStreamer fragment (str, told apart as
/// [`Filter::from_string`] says), a sequence of `(name, params)`, or an FFmpeg-style graph
/// `(nodes, edges)` as imageio's pyav plugin takes it.
pub fn filter_from_py(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Filter>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_str()?.trim().to_string();
        return Ok((!s.is_empty()).then(|| Filter::from_string(&s)));
    }
    if let Ok(t) = obj.cast::<PyTuple>()
        && t.len() == 2
        && t.get_item(0)?.is_instance_of::<PyDict>()
    {
        let nodes = t.get_item(0)?;
        let nodes = nodes.cast::<PyDict>()?;
        let mut graph = FilterGraph::default();
        for (key, value) in nodes.iter() {
            let (name, params): (String, Bound<'_, PyAny>) = value.extract()?;
            graph.nodes.push((key.extract()?, filter_spec(&name, &params)?));
        }
        for edge in t.get_item(1)?.try_iter()? {
            let (from, to, from_pad, to_pad): (String, String, u32, u32) = edge?.extract()?;
            graph.edges.push(GraphEdge { from, to, from_pad, to_pad });
        }
        return Ok(Some(Filter::Graph(graph)));
    }
    let mut specs = Vec::new();
    for item in obj.try_iter().map_err(|_| PyTypeError::new_err("filter must be a str, a sequence or a graph"))? {
        let item = item?;
        let (name, params): (String, Bound<'_, PyAny>) = item
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("filter entries are (name, params) pairs, not {item}")))?;
        specs.push(filter_spec(&name, &params)?);
    }
    Ok((!specs.is_empty()).then_some(Filter::Sequence(specs)))
}

/// A decoded frame as a read-only array over its mapped buffer.
fn frame_array<'py>(py: Python<'py>, frame: &VideoFrame) -> PyResult<Bound<'py, PyAny>> {
    let view = frame.view().map_err(to_py)?;
    let buffer = frame.buffer().map_err(to_py)?.to_owned();
    let mapped = Arc::new(Mapped::new(buffer, false).map_err(|(e, _)| to_py(e))?);
    if !view.fits(mapped.len()) {
        return Err(to_py(Error::Value("decoded frame is smaller than its caps say".into())));
    }
    let owner = Bound::new(py, PyMappedBuffer { mapped: mapped.clone() })?.into_any();
    // SAFETY: the view fits inside the mapping, which `owner` keeps mapped and alive.
    unsafe { view_array(py, &view, mapped.as_ptr(), false, owner) }
}

/// Converted frames (the FFmpeg path) as an array over their buffer, which nothing else
/// references: a batch is handed out writable, a frame of an iteration read-only.
fn pixels_array(py: Python<'_>, pixels: Pixels, writable: bool) -> PyResult<Bound<'_, PyAny>> {
    let mapped = Arc::new(Mapped::new(pixels.buffer, writable).map_err(|(e, _)| to_py(e))?);
    if !pixels.view.fits(mapped.len()) {
        return Err(to_py(Error::Value("converted frames are smaller than their shape says".into())));
    }
    let owner = Bound::new(py, PyMappedBuffer { mapped: mapped.clone() })?.into_any();
    // SAFETY: the view fits inside the mapping, which `owner` keeps mapped and alive.
    unsafe { view_array(py, &pixels.view, mapped.as_ptr(), writable, owner) }
}

/// Which decoder a reader uses: FFmpeg's libraries on the calling thread, or a GStreamer
/// pipeline (for GStreamer filters, the native format and rotation).
enum Backend {
    Libav(Box<LibavReader>),
    Gst(Box<VideoReader>),
}

/// A frame from either backend.
enum Decoded {
    Libav(Pixels),
    Gst(VideoFrame),
}

impl Decoded {
    fn array(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        match self {
            Decoded::Libav(p) => pixels_array(py, p, false),
            Decoded::Gst(f) => frame_array(py, &f),
        }
    }
}

/// What never changes while a reader is open: read without taking the reader's lock, so
/// `len()` or `metadata` from one thread never waits for a decode running in another.
struct Shared {
    metadata: Metadata,
    index: FrameIndex,
    exact_count: bool,
    probe: Option<Arc<Probe>>,
}

#[pyclass(frozen, name = "_VideoReader", module = "framepipe._framepipe")]
pub struct PyVideoReader {
    shared: Arc<Shared>,
    closed: AtomicBool,
    inner: Mutex<Option<Backend>>,
}

impl PyVideoReader {
    fn shared(&self) -> PyResult<&Shared> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        Ok(&self.shared)
    }

    /// Runs `f` on the reader with the GIL released; the lock is only taken once detached.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl Send + FnOnce(&mut Backend, &mut dyn FnMut() -> bool) -> framepipe_core::Result<T>,
    ) -> PyResult<T> {
        let inner = &self.inner;
        detach_interruptible(py, move |check| {
            let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
            let reader = guard.as_mut().ok_or_else(|| Error::Value("I/O operation on a closed video file".into()))?;
            f(reader, check)
        })
    }

    fn normalise(&self, index: isize) -> PyResult<usize> {
        let n = self.shared()?.index.len() as isize;
        let k = if index < 0 { index + n } else { index };
        if k < 0 || k >= n {
            return Err(PyIndexError::new_err(format!(
                "frame index {index} is out of range for a video of {n} frames"
            )));
        }
        Ok(k as usize)
    }
}

/// Which backend a reader with these options uses when the caller does not say.
fn wants_libav(backend: Option<&str>, format: Option<OutputFormat>, filter: &Option<Filter>) -> PyResult<bool> {
    match backend {
        Some("libav") => Ok(true),
        Some("gstreamer") => Ok(false),
        Some(other) => Err(PyValueError::new_err(format!("backend must be 'libav' or 'gstreamer', not {other:?}"))),
        None => Ok(format.is_some()
            && filter.is_none()
            && std::env::var("FRAMEPIPE_READER").map_or(true, |v| v != "gstreamer")),
    }
}

#[pymethods]
impl PyVideoReader {
    /// Probes and indexes `path` (demuxing only), ready to decode.
    #[new]
    #[pyo3(signature = (
        path, *, format=Some("rgb24"), filter=None, thread_count=0, apply_rotation=false, frame_index=None,
        colorspace=None, color_range=None, backend=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        format: Option<&str>,
        filter: Option<&Bound<'_, PyAny>>,
        thread_count: u32,
        apply_rotation: bool,
        frame_index: Option<String>,
        colorspace: Option<&str>,
        color_range: Option<&str>,
        backend: Option<&str>,
    ) -> PyResult<PyVideoReader> {
        let format = output_format(format)?;
        let filter = filter_from_py(filter)?;
        let colors = ColorOptions {
            colorspace: colorspace.map(ColorSpace::from_name).transpose().map_err(to_py)?,
            range: color_range.map(ColorRange::from_name).transpose().map_err(to_py)?,
        };
        let explicit = backend.is_some();
        if wants_libav(backend, format, &filter)? {
            let fmt = format.ok_or_else(|| PyValueError::new_err("the libav backend needs an output format"))?;
            let p = path.clone();
            let saved = frame_index.clone();
            let opened = py.detach(move || LibavReader::open(&p, saved.as_deref(), fmt, colors, thread_count));
            match opened {
                Ok(r) if !(apply_rotation && r.probe().metadata.rotation != 0) || explicit => {
                    let probe = r.probe().clone();
                    let shared = Shared {
                        metadata: probe.metadata.clone(),
                        index: probe.index.clone(),
                        exact_count: true,
                        probe: Some(probe),
                    };
                    return Ok(PyVideoReader {
                        shared: Arc::new(shared),
                        closed: AtomicBool::new(false),
                        inner: Mutex::new(Some(Backend::Libav(Box::new(r)))),
                    });
                }
                Ok(_) => {}
                // A missing file, a bad saved index, or the caller asked for this backend.
                Err(e @ (Error::NotFound(_) | Error::Value(_))) => return Err(to_py(e)),
                Err(e) if explicit || frame_index.is_some() => return Err(to_py(e)),
                // Anything libavformat refuses gets GStreamer's verdict (and error message).
                Err(_) => {}
            }
        }
        if frame_index.is_some() || colors != ColorOptions::default() {
            return Err(PyValueError::new_err(
                "frame_index, colorspace and color_range apply to the FFmpeg reader, which a GStreamer filter, \
                 format=None or apply_rotation on a rotated file does not use",
            ));
        }
        let options = ReaderOptions { format, filter, thread_count, apply_rotation, ..ReaderOptions::default() };
        let reader = detach_interruptible(py, move |check| VideoReader::open(&path, options, check))?;
        let size = Some((reader.metadata().width, reader.metadata().height));
        let exact_count = !reader.options().filter.as_ref().is_some_and(|f| f.changes_frame_count(size));
        let shared =
            Shared { metadata: reader.metadata().clone(), index: reader.index().clone(), exact_count, probe: None };
        Ok(PyVideoReader {
            shared: Arc::new(shared),
            closed: AtomicBool::new(false),
            inner: Mutex::new(Some(Backend::Gst(Box::new(reader)))),
        })
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.shared()?.index.len())
    }

    /// "libav" (FFmpeg's libraries on the calling thread) or "gstreamer".
    #[getter]
    fn backend(&self) -> &'static str {
        if self.shared.probe.is_some() { "libav" } else { "gstreamer" }
    }

    /// The next frame as an array, or None at the end.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let frame = self.with(py, |r, check| match r {
            Backend::Libav(r) => Ok(r.next_frame(check)?.map(|(_, p)| Decoded::Libav(p))),
            Backend::Gst(r) => Ok(r.next_frame(check)?.map(Decoded::Gst)),
        })?;
        frame.map(|f| f.array(py)).transpose()
    }

    /// Frame `index` (presentation order), exactly as sequential iteration yields it.
    fn read<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        let k = self.normalise(index)?;
        let frame = self.with(py, move |r, check| match r {
            Backend::Libav(r) => Ok(Decoded::Libav(r.read(k, check)?)),
            Backend::Gst(r) => Ok(Decoded::Gst(r.read(k, check)?)),
        })?;
        frame.array(py)
    }

    /// Frames `indices` (any order, repeats, negatives from the end) as one writable (N, ...)
    /// array that owns its memory. Every index is checked before anything is decoded.
    fn read_batch<'py>(&self, py: Python<'py>, indices: Vec<isize>) -> PyResult<Bound<'py, PyAny>> {
        let ks = indices.iter().map(|&i| self.normalise(i)).collect::<PyResult<Vec<usize>>>()?;
        let pixels = self.with(py, move |r, check| match r {
            Backend::Libav(r) => r.read_batch(&ks, check),
            Backend::Gst(_) => Err(Error::Value("read_batch needs the FFmpeg reader".into())),
        })?;
        pixels_array(py, pixels, true)
    }

    /// The index of the frame displayed at each time (seconds from the first frame).
    fn indices_at_times(&self, seconds: Vec<f64>) -> PyResult<Vec<usize>> {
        let index = &self.shared()?.index;
        seconds
            .iter()
            .map(|&t| {
                index.frame_at_time(t).ok_or_else(|| {
                    PyIndexError::new_err(format!(
                        "time {t} s is outside the video (frames cover 0 to {:.6} s)",
                        index.duration()
                    ))
                })
            })
            .collect()
    }

    /// Per-frame (pts in seconds from the first frame, display duration in seconds).
    fn frame_times(&self, indices: Vec<isize>) -> PyResult<(Vec<f64>, Vec<f64>)> {
        let ks = indices.iter().map(|&i| self.normalise(i)).collect::<PyResult<Vec<usize>>>()?;
        let index = &self.shared()?.index;
        Ok(ks
            .iter()
            .map(|&k| (index.time(k).unwrap_or(0.0), index.display_duration(k).unwrap_or(0) as f64 / 1e9))
            .unzip())
    }

    /// (shape, dtype name) of the frames reading gives, without moving the read position.
    fn frame_shape(&self, py: Python<'_>) -> PyResult<(Vec<usize>, &'static str)> {
        let (shape, dtype) = self.with(py, |r, check| match r {
            Backend::Libav(r) => Ok(r.frame_shape()),
            Backend::Gst(r) => r.frame_shape(check),
        })?;
        Ok((shape, dtype.name()))
    }

    /// Whether `len()` is the number of frames decoding yields (False when a filter such as
    /// `fps` changes the frame count; only iteration can count those).
    #[getter]
    fn exact_count(&self) -> PyResult<bool> {
        Ok(self.shared()?.exact_count)
    }

    fn rewind(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |r, _| match r {
            Backend::Libav(r) => r.rewind(),
            Backend::Gst(r) => r.rewind(),
        })
    }

    /// The frame index as JSON text (what `VideoFile.save_index` writes).
    fn index_json(&self) -> PyResult<String> {
        match &self.shared()?.probe {
            Some(p) => Ok(index_to_json(p)),
            None => Err(PyValueError::new_err("only the FFmpeg reader (no GStreamer filter) saves its index")),
        }
    }

    /// The file's global metadata.
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = &self.shared()?.metadata;
        let d = PyDict::new(py);
        d.set_item("fps", m.fps)?;
        d.set_item("duration", m.duration)?;
        d.set_item("codec", &m.codec)?;
        d.set_item("pixel_format", &m.pixel_format)?;
        d.set_item("container", &m.container)?;
        d.set_item("caps", &m.caps)?;
        d.set_item("width", m.width)?;
        d.set_item("height", m.height)?;
        d.set_item("rotation", m.rotation)?;
        d.set_item("profile", m.profile.as_deref())?;
        d.set_item("n_frames", m.n_frames)?;
        d.set_item("container_tags", m.container_tags.clone().into_pyobject(py)?)?;
        d.set_item("stream_tags", m.stream_tags.clone().into_pyobject(py)?)?;
        Ok(d)
    }

    /// Per-frame metadata of frame `index`: time (s since the first frame), pts (ns, as
    /// demuxed), key_frame.
    fn frame_metadata<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyDict>> {
        let k = self.normalise(index)?;
        let idx = &self.shared()?.index;
        let e = idx.get(k).ok_or_else(|| PyIndexError::new_err(format!("frame index {index} is out of range")))?;
        let d = PyDict::new(py);
        d.set_item("time", idx.time(k))?;
        d.set_item("pts", e.pts)?;
        d.set_item("dts", e.dts)?;
        d.set_item("duration", e.duration)?;
        d.set_item("key_frame", e.keyframe)?;
        Ok(d)
    }

    /// What the decoder reports about frame `index` (it is decoded, not converted):
    /// frame_type ("I", "P", "B", ...), key_frame, interlaced_frame, top_field_first. The
    /// FFmpeg reader only (ValueError on a GStreamer one).
    fn frame_info<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyDict>> {
        let k = self.normalise(index)?;
        let info = self.with(py, move |r, check| match r {
            Backend::Libav(r) => r.frame_info(k, check),
            Backend::Gst(_) => Err(Error::Value("frame_info needs the FFmpeg reader".into())),
        })?;
        let d = PyDict::new(py);
        d.set_item("frame_type", info.frame_type)?;
        d.set_item("key_frame", info.key_frame)?;
        d.set_item("interlaced_frame", info.interlaced_frame)?;
        d.set_item("top_field_first", info.top_field_first)?;
        Ok(d)
    }

    /// Seconds since the first frame, for every frame.
    fn times<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let idx = &self.shared()?.index;
        PyList::new(py, (0..idx.len()).map(|k| idx.time(k).unwrap_or(0.0)))
    }

    /// Stops decoding and releases the decoder, with the GIL released (a GStreamer
    /// pipeline whose Python filter still runs needs the GIL to wind down).
    fn close(&self, py: Python<'_>) {
        self.closed.store(true, Ordering::Release);
        let inner = &self.inner;
        py.detach(|| {
            let taken = inner.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(Backend::Gst(mut r)) = taken {
                r.close();
            }
        });
    }
}

impl Drop for PyVideoReader {
    fn drop(&mut self) {
        let taken = self.inner.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(reader) = taken {
            // Garbage collection runs with the GIL held: tear down without it.
            Python::attach(|py| py.detach(move || drop(reader)));
        }
    }
}

#[pyclass(frozen, name = "_VideoWriter", module = "framepipe._framepipe")]
pub struct PyVideoWriter {
    inner: Mutex<Option<VideoWriter>>,
}

fn tags(obj: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let Some(d) = obj else { return Ok(Vec::new()) };
    d.iter().map(|(k, v)| Ok((k.str()?.to_string(), v.str()?.to_string()))).collect()
}

#[pymethods]
impl PyVideoWriter {
    #[new]
    #[pyo3(signature = (
        path, *, codec="h264", fps=24.0, in_pixel_format="rgb24", pixel_format=None, quality=None, bitrate=None,
        max_keyframe_interval=None, force_keyframes=false, filter=None, container_tags=None, stream_tags=None,
        crash_safe=true, expected_duration=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        path: PathBuf,
        codec: &str,
        fps: f64,
        in_pixel_format: &str,
        pixel_format: Option<String>,
        quality: Option<f64>,
        bitrate: Option<u64>,
        max_keyframe_interval: Option<u32>,
        force_keyframes: bool,
        filter: Option<&Bound<'_, PyAny>>,
        container_tags: Option<&Bound<'_, PyDict>>,
        stream_tags: Option<&Bound<'_, PyDict>>,
        crash_safe: bool,
        expected_duration: Option<f64>,
    ) -> PyResult<PyVideoWriter> {
        let options = WriterOptions {
            codec: codec.to_string(),
            fps,
            input_format: OutputFormat::from_name(in_pixel_format).map_err(to_py)?,
            pixel_format,
            quality,
            bitrate,
            max_keyframe_interval,
            force_keyframes,
            filter: filter_from_py(filter)?,
            container_tags: tags(container_tags)?,
            stream_tags: tags(stream_tags)?,
            crash_safe,
            expected_duration,
        };
        let writer = VideoWriter::create(&path, options).map_err(to_py)?;
        Ok(PyVideoWriter { inner: Mutex::new(Some(writer)) })
    }

    /// Encodes one frame. The array is copied into a buffer with the GIL held (another
    /// thread cannot resize or free it meanwhile); encoding runs with the GIL released.
    fn write(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<()> {
        // Checked here so that a bad argument raises its own TypeError/ValueError.
        drop(Borrowed::new(frame)?);
        let frame = frame.clone().unbind();
        let frame = &frame;
        let inner = &self.inner;
        let mut copy_error: Option<PyErr> = None;
        let copy_error_slot = &mut copy_error;
        let result = detach_interruptible(py, move |check| {
            // The lock is taken without the GIL: whoever holds it may need the GIL (the
            // interrupt check, a Python filter element) before letting it go.
            let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
            let w = guard.as_mut().ok_or_else(|| Error::Value("I/O operation on a closed video file".into()))?;
            let buffer = Python::attach(|py| -> PyResult<_> {
                let arr = Borrowed::new(frame.bind(py))?;
                w.prepare(arr.as_ref()).map_err(to_py)
            });
            match buffer {
                Ok(buffer) => w.push(buffer, check),
                Err(e) => {
                    *copy_error_slot = Some(e);
                    Err(Error::Value(String::new()))
                }
            }
        });
        match (result, copy_error) {
            (_, Some(e)) => Err(e),
            (r, None) => r,
        }
    }

    #[getter]
    fn frames_written(&self, py: Python<'_>) -> u64 {
        let inner = &self.inner;
        py.detach(|| inner.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |w| w.frames_written()))
    }

    /// Finalises the file; closing twice is a no-op. Ctrl-C while closing still finishes
    /// the file, then raises KeyboardInterrupt; a second Ctrl-C abandons it.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        detach_interruptible(py, move |check| {
            let taken = inner.lock().unwrap_or_else(|e| e.into_inner()).take();
            match taken {
                Some(mut w) => w.close(check),
                None => Ok(()),
            }
        })
    }
}

impl Drop for PyVideoWriter {
    /// A writer collected without `close` finalises its file with the GIL released: the
    /// streaming threads may need it (a Python filter) before the muxer gets its EOS.
    fn drop(&mut self) {
        let Some(mut writer) = self.inner.get_mut().unwrap_or_else(|e| e.into_inner()).take() else { return };
        let close = move || {
            let _ = writer.close(&mut || false);
        };
        // When the interpreter is finalising, `close` is dropped unrun and VideoWriter's own
        // Drop finalises the file.
        let _ = Python::try_attach(|py| py.detach(close));
    }
}

/// The codecs whose encoders are installed, by FFmpeg name.
#[pyfunction]
pub fn video_codecs() -> Vec<&'static str> {
    available_codecs()
}

/// The (shape, numpy dtype) of a `width` x `height` frame in FFmpeg pixel format `name` as
/// imageio lays it out, or None when the format is not one strided array (subsampled, bit
/// packed, planes of different line sizes). ValueError for a name FFmpeg does not know.
#[pyfunction]
pub fn pixel_format_layout(name: &str, width: usize, height: usize) -> PyResult<Option<(Vec<usize>, String)>> {
    Ok(strided_layout(name, width, height).map_err(to_py)?.map(|l| (l.shape, l.dtype)))
}

/// One frame (tightly packed bytes of FFmpeg pixel format `src_format`, `width` x `height`)
/// converted by swscale to `dst_format`, as bytes. ValueError for formats swscale cannot
/// read or write (Bayer mosaics are input only) or a size that does not match.
#[pyfunction]
pub fn convert_pixels<'py>(
    py: Python<'py>,
    data: &[u8],
    src_format: &str,
    width: usize,
    height: usize,
    dst_format: &str,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let out = convert_frame(data, src_format, width, height, dst_format).map_err(to_py)?;
    Ok(pyo3::types::PyBytes::new(py, &out))
}
