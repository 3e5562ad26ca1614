//! `_AvWriter`: the libav writer (GIF, PNG, APNG, and any FFmpeg encoder) to a path, to
//! bytes in memory, or to a Python file object.
//!
//! Encoding and muxing run with the GIL released. A Python file object is written through
//! [`PyFileSink`], whose `write`/`seek` take the GIL only around the Python call; bytes
//! go into a Rust buffer that never needs the GIL.

use std::io::{Cursor, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use framepipe_core::Error;
use framepipe_core::pack::ArrayRef;
use framepipe_core::video::{AvTarget, AvWriter, AvWriterOptions, Filter, OutputFormat};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::array::Borrowed;
use crate::errors::to_py;
use crate::gil::detach_interruptible;
use crate::video::filter_from_py;

/// Bytes written in memory, shared with the writer's sink so that `close` can hand them
/// back once the muxer (which owns the sink) is gone.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Cursor<Vec<u8>>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for SharedBuffer {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).seek(pos)
    }
}

/// A Python file object (anything with `write`, and `seek`/`tell` when seekable) as a
/// sink. The first Python exception is kept in `error` so the caller sees it, not EIO.
struct PyFileSink {
    file: Py<PyAny>,
    error: Arc<Mutex<Option<PyErr>>>,
}

impl PyFileSink {
    fn call<T>(&self, f: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyAny>) -> PyResult<T>) -> std::io::Result<T> {
        // While the interpreter finalises, Python cannot be entered: the write fails.
        let Some(out) = Python::try_attach(|py| f(py, self.file.bind(py))) else {
            return Err(std::io::Error::other("the Python interpreter is shutting down"));
        };
        out.map_err(|e| {
            let text = e.to_string();
            let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(e);
            }
            std::io::Error::other(text)
        })
    }
}

impl Write for PyFileSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.call(|py, file| {
            let n = file.call_method1("write", (PyBytes::new(py, buf),))?;
            // Raw files may write less and say so; buffered ones return None or the length.
            Ok(if n.is_none() { buf.len() } else { n.extract::<usize>()?.min(buf.len()) })
        })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for PyFileSink {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let (offset, whence) = match pos {
            SeekFrom::Start(o) => (o as i64, 0),
            SeekFrom::Current(o) => (o, 1),
            SeekFrom::End(o) => (o, 2),
        };
        self.call(|_, file| {
            file.call_method1("seek", (offset, whence))?;
            file.call_method0("tell")?.extract::<u64>()
        })
    }
}

enum Kind {
    Path,
    Bytes(SharedBuffer),
    File(Arc<Mutex<Option<PyErr>>>),
}

#[pyclass(frozen, name = "_AvWriter", module = "framepipe._framepipe")]
pub struct PyAvWriter {
    inner: Mutex<Option<AvWriter>>,
    kind: Kind,
}

fn tags(obj: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let Some(d) = obj else { return Ok(Vec::new()) };
    d.iter().map(|(k, v)| Ok((k.str()?.to_string(), v.str()?.to_string()))).collect()
}

impl PyAvWriter {
    /// The Python exception a file object raised, if any, else `err` as Python's.
    fn raise(&self, err: PyErr) -> PyErr {
        if let Kind::File(slot) = &self.kind
            && let Some(e) = slot.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            return e;
        }
        err
    }
}

#[pymethods]
impl PyAvWriter {
    /// `target` is a path (str or path-like), None for bytes in memory (handed back by
    /// `close`), or a writable file object.
    #[new]
    #[pyo3(signature = (
        target, *, container=None, codec=None, fps=24.0, in_pixel_format="rgb24", pixel_format=None, quality=None,
        bitrate=None, max_keyframe_interval=None, force_keyframes=false, filter=None, loop_count=None,
        container_tags=None, seekable=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        target: &Bound<'_, PyAny>,
        container: Option<String>,
        codec: Option<String>,
        fps: f64,
        in_pixel_format: &str,
        pixel_format: Option<String>,
        quality: Option<f64>,
        bitrate: Option<u64>,
        max_keyframe_interval: Option<u32>,
        force_keyframes: bool,
        filter: Option<&Bound<'_, PyAny>>,
        loop_count: Option<i32>,
        container_tags: Option<&Bound<'_, PyDict>>,
        seekable: Option<bool>,
    ) -> PyResult<PyAvWriter> {
        // There is no GStreamer here: every filter is libavfilter's (a string is taken as an
        // FFmpeg description whatever it looks like, so libavfilter names what is wrong).
        let filter = match filter_from_py(filter)? {
            None => None,
            Some(Filter::Launch(s) | Filter::Ffmpeg(s)) => Some(s),
            Some(Filter::Sequence(specs)) => Some(specs.iter().map(|s| s.ffmpeg()).collect::<Vec<_>>().join(",")),
            Some(g @ Filter::Graph(_)) => g.ffmpeg_description().map_err(to_py)?,
        };
        let bayer = in_pixel_format.to_ascii_lowercase().starts_with("bayer_");
        let options = AvWriterOptions {
            container,
            codec,
            fps,
            input_format: if bayer {
                OutputFormat::Gray
            } else {
                OutputFormat::from_name(in_pixel_format).map_err(to_py)?
            },
            input_bayer: bayer.then(|| in_pixel_format.to_ascii_lowercase()),
            pixel_format,
            quality,
            bitrate,
            max_keyframe_interval,
            force_keyframes,
            filter,
            loop_count,
            container_tags: tags(container_tags)?,
        };
        let (target, kind) = if target.is_none() {
            let buffer = SharedBuffer::default();
            (AvTarget::Sink { sink: Box::new(buffer.clone()), seekable: true }, Kind::Bytes(buffer))
        } else if let Ok(path) = target.extract::<PathBuf>() {
            (AvTarget::Path(path), Kind::Path)
        } else {
            if !target.hasattr("write")? {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "cannot write a video to a {}: give a path, \"<bytes>\" or a binary file object with write()",
                    target.get_type().name()?
                )));
            }
            let seekable = match seekable {
                Some(s) => s,
                None => {
                    target.hasattr("seek")?
                        && target.call_method0("seekable").and_then(|s| s.is_truthy()).unwrap_or(false)
                }
            };
            let error = Arc::new(Mutex::new(None));
            let sink = PyFileSink { file: target.clone().unbind(), error: error.clone() };
            (AvTarget::Sink { sink: Box::new(sink), seekable }, Kind::File(error))
        };
        let writer = AvWriter::create(target, options).map_err(to_py)?;
        Ok(PyAvWriter { inner: Mutex::new(Some(writer)), kind })
    }

    /// Encodes one frame. The array is copied with the GIL held (another thread cannot
    /// resize or free it meanwhile); filtering, encoding and muxing run with it released.
    fn write(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<()> {
        let arr = Borrowed::new(frame)?;
        let a = arr.as_ref();
        let (data, shape, strides, dtype) = (a.data.to_vec(), a.shape.to_vec(), a.strides.to_vec(), a.dtype);
        drop(arr);
        let inner = &self.inner;
        detach_interruptible(py, move |check| {
            // The lock is taken without the GIL: a file object's sink takes the GIL in its
            // callbacks while the lock is held.
            let mut guard = inner.lock().unwrap_or_else(|e| e.into_inner());
            let w = guard.as_mut().ok_or_else(|| Error::Value("I/O operation on a closed video file".into()))?;
            w.write(ArrayRef { data: &data, shape: &shape, strides: &strides, dtype }, check)
        })
        .map_err(|e| self.raise(e))
    }

    #[getter]
    fn frames_written(&self, py: Python<'_>) -> u64 {
        let inner = &self.inner;
        py.detach(|| inner.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |w| w.frames_written()))
    }

    /// The muxer and encoder (FFmpeg names).
    #[getter]
    fn elements(&self, py: Python<'_>) -> Option<(String, String)> {
        let inner = &self.inner;
        py.detach(|| {
            inner.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|w| {
                let (m, c) = w.elements();
                (m.to_string(), c.to_string())
            })
        })
    }

    /// Finishes the file (flushes the palette, the encoder, writes the trailer). Returns the
    /// encoded bytes when writing to bytes, else None. Closing twice returns None.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let inner = &self.inner;
        let result = detach_interruptible(py, move |check| {
            let taken = inner.lock().unwrap_or_else(|e| e.into_inner()).take();
            match taken {
                Some(mut w) => w.close(check).map(|()| true),
                None => Ok(false),
            }
        });
        let closed_now = result.map_err(|e| self.raise(e))?;
        match &self.kind {
            Kind::Bytes(buffer) if closed_now => {
                let data = std::mem::take(buffer.0.lock().unwrap_or_else(|e| e.into_inner()).get_mut());
                Ok(Some(PyBytes::new(py, &data)))
            }
            _ => Ok(None),
        }
    }
}

impl Drop for PyAvWriter {
    fn drop(&mut self) {
        let Some(writer) = self.inner.get_mut().unwrap_or_else(|e| e.into_inner()).take() else { return };
        // A file object's sink needs the GIL in its callbacks: finish without holding it.
        let _ = Python::try_attach(|py| py.detach(move || drop(writer)));
    }
}
