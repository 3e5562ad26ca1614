//! `Frame`: one buffer with its caps, seen from numpy without copies.
//!
//! A frame maps its buffer on first access to `array` or `planes`; the mapping belongs to a
//! `_MappedBuffer` that every array uses as its base, so arrays outlive the frame safely.
//! Frames pulled from a pipeline are mapped read-only; frames framepipe made itself
//! (`copy()`, `from_array`) own their buffer and map it writable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use framepipe_core::media::MediaInfo;
use framepipe_core::pack;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::array::{Borrowed, view_array};
use crate::buffer::{Mapped, PyBuffer, PyMappedBuffer};
use crate::errors::to_py;

enum FrameBuf {
    Plain(gst::Buffer),
    Mapped(Arc<Mapped>),
}

#[pyclass(frozen, name = "Frame", module = "framepipe._framepipe")]
pub struct PyFrame {
    caps: Option<gst::Caps>,
    media: MediaInfo,
    writable: bool,
    buf: Mutex<FrameBuf>,
    /// Cached views, so `frame.array is frame.array`; cleared when a lent buffer is reclaimed.
    array: Mutex<Option<Py<PyAny>>>,
    planes: Mutex<Option<Vec<Py<PyAny>>>>,
    /// Set once a lent buffer went back to GStreamer with no view left over it.
    released: AtomicBool,
}

impl PyFrame {
    /// A read-only frame over `buffer` (as pulled from a pipeline).
    pub fn new(buffer: gst::Buffer, caps: Option<gst::Caps>, media: MediaInfo) -> PyFrame {
        Self::build(buffer, caps, media, false)
    }

    /// A frame that owns `buffer` (which must be writable) and maps it writable.
    pub fn owned(buffer: gst::Buffer, caps: Option<gst::Caps>, media: MediaInfo) -> PyFrame {
        let writable = buffer.is_writable();
        Self::build(buffer, caps, media, writable)
    }

    fn build(buffer: gst::Buffer, caps: Option<gst::Caps>, media: MediaInfo, writable: bool) -> PyFrame {
        PyFrame {
            caps,
            media,
            writable,
            buf: Mutex::new(FrameBuf::Plain(buffer)),
            array: Mutex::new(None),
            planes: Mutex::new(None),
            released: AtomicBool::new(false),
        }
    }

    /// A writable frame lent `buffer` for the length of one Python call (a probe, a pyfunc,
    /// an element written in Python). Take the buffer back with [`Self::reclaim`].
    pub fn lend(buffer: gst::Buffer, caps: Option<gst::Caps>, media: MediaInfo) -> PyFrame {
        Self::build(buffer, caps, media, true)
    }

    /// Takes a lent buffer back once the Python call returned. If no numpy view of it is
    /// left, the buffer is unmapped and returned as it is, and the frame becomes empty. If
    /// views escaped (the callee kept `frame.array`), they keep the frame's memory and the
    /// returned buffer is a deep copy, so no Python array aliases memory flowing on.
    pub fn reclaim(&self, _py: Python<'_>) -> Result<gst::Buffer, framepipe_core::Error> {
        // Drop the cached views first: they hold references to the mapping.
        let cached_array = self.array.lock().unwrap_or_else(|e| e.into_inner()).take();
        let cached_planes = self.planes.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop((cached_array, cached_planes));
        let mut guard = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *guard, FrameBuf::Plain(gst::Buffer::new())) {
            FrameBuf::Plain(b) => {
                self.released.store(true, Ordering::Release);
                Ok(b)
            }
            FrameBuf::Mapped(m) => match Arc::try_unwrap(m) {
                Ok(mapped) => {
                    self.released.store(true, Ordering::Release);
                    Ok(mapped.into_buffer())
                }
                Err(shared) => {
                    let copy = shared.buffer().copy_deep().map_err(framepipe_core::Error::from);
                    *guard = FrameBuf::Mapped(shared);
                    copy
                }
            },
        }
    }

    fn check_live(&self) -> PyResult<()> {
        if self.released.load(Ordering::Acquire) {
            return Err(to_py(framepipe_core::Error::Value(
                "this frame was lent for one call and its buffer has moved on; use frame.copy() to keep it".into(),
            )));
        }
        Ok(())
    }

    pub fn caps(&self) -> Option<&gst::Caps> {
        self.caps.as_ref()
    }

    /// Runs `f` on the frame's buffer, mapped or not.
    pub fn with_buffer<R>(&self, f: impl FnOnce(&gst::BufferRef) -> R) -> R {
        let guard = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        match &*guard {
            FrameBuf::Plain(b) => f(b),
            FrameBuf::Mapped(m) => f(m.buffer()),
        }
    }

    /// A new reference to the frame's GstBuffer.
    pub fn gst_buffer(&self) -> gst::Buffer {
        self.with_buffer(crate::buffer::new_ref)
    }

    fn mapping(&self) -> PyResult<Arc<Mapped>> {
        let mut guard = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        // Move the buffer out, so that a writable frame hands its only reference to the
        // mapping; it is put back if mapping fails.
        let buffer = match std::mem::replace(&mut *guard, FrameBuf::Plain(gst::Buffer::new())) {
            FrameBuf::Mapped(m) => {
                *guard = FrameBuf::Mapped(m.clone());
                return Ok(m);
            }
            FrameBuf::Plain(b) => b,
        };
        match Mapped::new(buffer, self.writable) {
            Ok(m) => {
                let m = Arc::new(m);
                *guard = FrameBuf::Mapped(m.clone());
                Ok(m)
            }
            Err((e, buffer)) => {
                *guard = FrameBuf::Plain(buffer);
                Err(to_py(e))
            }
        }
    }

    fn arrays<'py>(
        &self,
        py: Python<'py>,
        views: Vec<framepipe_core::View>,
        m: &Arc<Mapped>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let owner = Bound::new(py, PyMappedBuffer { mapped: m.clone() })?.into_any();
        views
            .iter()
            .map(|v| {
                // SAFETY: the views were checked to fit inside the mapping's `len()` bytes
                // (MediaInfo::planes), and `owner` keeps that mapping alive and mapped.
                unsafe { view_array(py, v, m.as_ptr(), m.is_writable(), owner.clone()) }.map(Bound::unbind)
            })
            .collect()
    }

    fn video(&self) -> Option<&gst_video::VideoInfo> {
        match &self.media {
            MediaInfo::Video(info) => Some(info),
            _ => None,
        }
    }

    fn audio(&self) -> Option<&gst_audio::AudioInfo> {
        match &self.media {
            MediaInfo::Audio(info) => Some(info),
            _ => None,
        }
    }
}

/// The GStreamer name of a video format given as a string ("RGB", "I420", ...).
fn parse_format(name: &str) -> PyResult<gst_video::VideoFormat> {
    let f = gst_video::VideoFormat::from_string(name);
    if f == gst_video::VideoFormat::Unknown || f == gst_video::VideoFormat::Encoded {
        return Err(PyValueError::new_err(format!("unknown video format {name:?}")));
    }
    Ok(f)
}

#[pymethods]
impl PyFrame {
    /// The frame as one array: (H, W, C) or (H, W) for packed video, with the buffer's real
    /// row stride; (samples, channels) for interleaved audio; bytes as uint8 otherwise.
    #[getter]
    fn array(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.check_live()?;
        let mut cache = self.array.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = cache.as_ref() {
            return Ok(a.clone_ref(py));
        }
        let m = self.mapping()?;
        let view = self.media.array(m.buffer(), m.len()).map_err(to_py)?;
        let a = self.arrays(py, vec![view], &m)?.remove(0);
        *cache = Some(a.clone_ref(py));
        Ok(a)
    }

    /// One array per plane (per channel for non-interleaved audio).
    #[getter]
    fn planes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.check_live()?;
        let mut cache = self.planes.lock().unwrap_or_else(|e| e.into_inner());
        if cache.is_none() {
            let m = self.mapping()?;
            let views = self.media.planes(m.buffer(), m.len()).map_err(to_py)?;
            *cache = Some(self.arrays(py, views, &m)?);
        }
        let planes =
            cache.as_ref().map(|v| v.iter().map(|p| p.bind(py).clone()).collect::<Vec<_>>()).unwrap_or_default();
        PyList::new(py, planes)
    }

    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__(&self, py: Python<'_>, dtype: Option<Bound<'_, PyAny>>, copy: Option<bool>) -> PyResult<Py<PyAny>> {
        let a = self.array(py)?.into_bound(py);
        let a = match dtype {
            Some(d) => a.call_method1("astype", (d,))?,
            None => a,
        };
        Ok(if copy == Some(true) { a.call_method0("copy")? } else { a }.unbind())
    }

    /// A deep copy whose buffer (and so `array`) is writable.
    fn copy(&self) -> PyResult<PyFrame> {
        let copy = self.with_buffer(|b| b.copy_deep()).map_err(|e| to_py(e.into()))?;
        Ok(PyFrame::owned(copy, self.caps.clone(), self.media.clone()))
    }

    /// A writable frame holding a copy of `array`. The format is derived from the shape
    /// ((H,W,3) uint8 -> RGB, (H,W,4) -> RGBA, (H,W) uint8 -> GRAY8, (H,W) uint16 ->
    /// GRAY16_LE) unless given; the framerate is left unknown (0/1).
    #[staticmethod]
    #[pyo3(signature = (array, format=None, *, pts=None, duration=None))]
    fn from_array(
        array: &Bound<'_, PyAny>,
        format: Option<&str>,
        pts: Option<u64>,
        duration: Option<u64>,
    ) -> PyResult<PyFrame> {
        let arr = Borrowed::new(array)?;
        let shape = arr.shape();
        if shape.len() < 2 {
            return Err(PyValueError::new_err(format!("a video frame needs (H, W[, C]) but got shape {shape:?}")));
        }
        let fmt = match format {
            Some(f) => parse_format(f)?,
            None => pack::video_format_for(shape, arr.dtype).map_err(to_py)?,
        };
        let (h, w) = (shape[0] as u32, shape[1] as u32);
        let info = gst_video::VideoInfo::builder(fmt, w, h)
            .fps(gst::Fraction::new(0, 1))
            .build()
            .map_err(|e| PyValueError::new_err(format!("invalid frame of {w}x{h} {fmt:?}: {e}")))?;
        let caps = info.to_caps().map_err(|e| to_py(e.into()))?;
        let media = MediaInfo::Video(info);
        let mut buffer = pack::array_to_buffer(arr.as_ref(), &media).map_err(to_py)?;
        {
            let b = buffer.get_mut().expect("a new buffer is writable");
            b.set_pts(pts.map(gst::ClockTime::from_nseconds));
            b.set_duration(duration.map(gst::ClockTime::from_nseconds));
        }
        Ok(PyFrame::owned(buffer, Some(caps), media))
    }

    /// Zero-copy DLPack export of `array` (CPU memory). Read-only frames carry DLPack's
    /// read-only flag when the consumer asks for a versioned (1.x) capsule.
    #[pyo3(signature = (stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__<'py>(
        &self,
        py: Python<'py>,
        stream: Option<Bound<'py, PyAny>>,
        max_version: Option<(u32, u32)>,
        dl_device: Option<(i32, i32)>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let array = self.array(py)?.into_bound(py);
        crate::dlpack::export(&array, !self.writable, stream.as_ref(), max_version, dl_device, copy)
    }

    fn __dlpack_device__(&self) -> (i32, i32) {
        crate::dlpack::device()
    }

    #[getter]
    fn width(&self) -> Option<u32> {
        self.video().map(|v| v.width())
    }

    #[getter]
    fn height(&self) -> Option<u32> {
        self.video().map(|v| v.height())
    }

    /// The GStreamer format name ("RGB", "I420", "F32LE", ...), None for other media.
    #[getter]
    fn format(&self) -> Option<String> {
        match &self.media {
            MediaInfo::Video(v) => Some(v.format().to_str().to_string()),
            MediaInfo::Audio(a) => Some(a.format().to_str().to_string()),
            MediaInfo::Other => None,
        }
    }

    #[getter(caps)]
    fn caps_str(&self) -> Option<String> {
        self.caps.as_ref().map(|c| c.to_string())
    }

    #[getter]
    fn rate(&self) -> Option<u32> {
        self.audio().map(|a| a.rate())
    }

    #[getter]
    fn channels(&self) -> Option<u32> {
        self.audio().map(|a| a.channels())
    }

    #[getter]
    fn samples(&self) -> Option<usize> {
        let a = self.audio()?;
        Some(self.with_buffer(|b| b.size()) / a.bpf().max(1) as usize)
    }

    #[getter]
    fn pts(&self) -> Option<u64> {
        self.with_buffer(|b| b.pts().map(|t| t.nseconds()))
    }

    #[getter]
    fn dts(&self) -> Option<u64> {
        self.with_buffer(|b| b.dts().map(|t| t.nseconds()))
    }

    #[getter]
    fn duration(&self) -> Option<u64> {
        self.with_buffer(|b| b.duration().map(|t| t.nseconds()))
    }

    /// `pts` in float seconds.
    #[getter]
    fn time(&self) -> Option<f64> {
        self.pts().map(|t| t as f64 / 1e9)
    }

    #[getter]
    fn keyframe(&self) -> bool {
        self.with_buffer(|b| !b.flags().contains(gst::BufferFlags::DELTA_UNIT))
    }

    #[getter]
    fn writable(&self) -> bool {
        self.writable
    }

    /// The underlying buffer (a new reference to the same GstBuffer).
    #[getter]
    fn buffer(&self) -> PyBuffer {
        PyBuffer::from_gst(self.gst_buffer())
    }

    fn __repr__(&self) -> String {
        let pts = self.pts().map(|t| format!("{:.6}", t as f64 / 1e9)).unwrap_or_else(|| "None".into());
        match &self.media {
            MediaInfo::Video(v) => {
                format!(
                    "<Frame {}x{} {} pts={pts}{}>",
                    v.width(),
                    v.height(),
                    v.format().to_str(),
                    if self.writable { " writable" } else { "" }
                )
            }
            MediaInfo::Audio(a) => {
                format!("<Frame audio {} Hz x{} {} pts={pts}>", a.rate(), a.channels(), a.format().to_str())
            }
            MediaInfo::Other => format!("<Frame {} bytes pts={pts}>", self.with_buffer(|b| b.size())),
        }
    }
}
