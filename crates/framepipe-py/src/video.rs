//! Video files: the native half of `framepipe.io` (imread, imiter, imwrite, VideoFile).
//! Decoding and encoding run with the GIL released; decoded frames reach numpy as
//! read-only views of the decoded buffers, with no copy.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use framepipe_core::Error;
use framepipe_core::video::{
    Filter, FilterGraph, FilterSpec, GraphEdge, OutputFormat, ReaderOptions, VideoFrame, VideoReader, VideoWriter,
    WriterOptions, available_codecs,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::array::{Borrowed, view_array};
use crate::buffer::{Mapped, PyMappedBuffer};
use crate::errors::{detach_interruptible, to_py};

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

#[pyclass(frozen, name = "_VideoReader", module = "framepipe._framepipe")]
pub struct PyVideoReader {
    inner: Mutex<Option<VideoReader>>,
}

impl PyVideoReader {
    fn lock(&self) -> MutexGuard<'_, Option<VideoReader>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl Send + FnOnce(&mut VideoReader, &mut dyn FnMut() -> bool) -> framepipe_core::Result<T>,
    ) -> PyResult<T> {
        let inner = &self.inner;
        detach_interruptible(py, move |check| {
            let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
            let reader = guard.as_mut().ok_or_else(|| Error::Value("I/O operation on a closed video file".into()))?;
            f(reader, check)
        })
    }
}

#[pymethods]
impl PyVideoReader {
    /// Probes and indexes `path` (demuxing only), ready to decode.
    #[new]
    #[pyo3(signature = (path, *, format=Some("rgb24"), filter=None, thread_count=0, apply_rotation=false))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        format: Option<&str>,
        filter: Option<&Bound<'_, PyAny>>,
        thread_count: u32,
        apply_rotation: bool,
    ) -> PyResult<PyVideoReader> {
        let options = ReaderOptions {
            format: output_format(format)?,
            filter: filter_from_py(filter)?,
            thread_count,
            apply_rotation,
            ..ReaderOptions::default()
        };
        let reader = detach_interruptible(py, move |check| VideoReader::open(&path, options, check))?;
        Ok(PyVideoReader { inner: Mutex::new(Some(reader)) })
    }

    fn __len__(&self) -> PyResult<usize> {
        self.lock().as_ref().map(|r| r.len()).ok_or_else(closed)
    }

    /// The next frame as an array, or None at the end.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let frame = self.with(py, |r, check| r.next_frame(check))?;
        frame.map(|f| frame_array(py, &f)).transpose()
    }

    /// Frame `index` (presentation order), exactly as sequential iteration yields it.
    fn read<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        let n = self.__len__()? as isize;
        let k = if index < 0 { index + n } else { index };
        if k < 0 || k >= n {
            return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "frame index {index} is out of range for a video of {n} frames"
            )));
        }
        let frame = self.with(py, move |r, check| r.read(k as usize, check))?;
        frame_array(py, &frame)
    }

    /// (shape, dtype name) of the frames reading gives, without moving the read position.
    fn frame_shape(&self, py: Python<'_>) -> PyResult<(Vec<usize>, &'static str)> {
        let (shape, dtype) = self.with(py, |r, check| r.frame_shape(check))?;
        Ok((shape, dtype.name()))
    }

    /// Whether `len()` is the number of frames decoding yields (False when a filter such as
    /// `fps` changes the frame count; only iteration can count those).
    #[getter]
    fn exact_count(&self) -> PyResult<bool> {
        let guard = self.lock();
        let r = guard.as_ref().ok_or_else(closed)?;
        let size = Some((r.metadata().width, r.metadata().height));
        Ok(!r.options().filter.as_ref().is_some_and(|f| f.changes_frame_count(size)))
    }

    fn rewind(&self) -> PyResult<()> {
        self.lock().as_mut().ok_or_else(closed)?.rewind().map_err(to_py)
    }

    /// The file's global metadata.
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let guard = self.lock();
        let r = guard.as_ref().ok_or_else(closed)?;
        let m = r.metadata();
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
        d.set_item("n_frames", m.n_frames)?;
        d.set_item("container_tags", m.container_tags.clone().into_pyobject(py)?)?;
        d.set_item("stream_tags", m.stream_tags.clone().into_pyobject(py)?)?;
        Ok(d)
    }

    /// Per-frame metadata of frame `index`: time (s since the first frame), pts (ns, as
    /// demuxed), key_frame.
    fn frame_metadata<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyDict>> {
        let guard = self.lock();
        let r = guard.as_ref().ok_or_else(closed)?;
        let n = r.index().len() as isize;
        let k = if index < 0 { index + n } else { index };
        let e = (k >= 0).then(|| r.index().get(k as usize)).flatten().ok_or_else(|| {
            pyo3::exceptions::PyIndexError::new_err(format!("frame index {index} is out of range for {n} frames"))
        })?;
        let d = PyDict::new(py);
        d.set_item("time", r.index().time(k as usize))?;
        d.set_item("pts", e.pts)?;
        d.set_item("dts", e.dts)?;
        d.set_item("duration", e.duration)?;
        d.set_item("key_frame", e.keyframe)?;
        Ok(d)
    }

    /// Seconds since the first frame, for every frame.
    fn times<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let guard = self.lock();
        let r = guard.as_ref().ok_or_else(closed)?;
        PyList::new(py, (0..r.index().len()).map(|k| r.index().time(k).unwrap_or(0.0)))
    }

    fn close(&self) {
        if let Some(mut r) = self.lock().take() {
            r.close();
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

    /// Encodes one frame (the array is copied into a buffer before this returns).
    fn write(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<()> {
        let arr = Borrowed::new(frame)?;
        let array = arr.as_ref();
        let inner = &self.inner;
        detach_interruptible(py, move |check| {
            let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
            let w = guard.as_mut().ok_or_else(|| Error::Value("I/O operation on a closed video file".into()))?;
            w.write(array, check)
        })
    }

    #[getter]
    fn frames_written(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |w| w.frames_written())
    }

    /// Finalises the file; closing twice is a no-op.
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

/// The codecs whose encoders are installed, by FFmpeg name.
#[pyfunction]
pub fn video_codecs() -> Vec<&'static str> {
    available_codecs()
}
