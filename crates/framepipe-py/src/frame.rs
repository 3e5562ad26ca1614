//! `Frame`: one buffer with its caps, seen from numpy without copies.
//!
//! A frame maps its buffer on first access to `array` or `planes`; the mapping belongs to a
//! `_MappedBuffer` that every array uses as its base, so arrays outlive the frame safely.
//! Frames pulled from a pipeline are mapped read-only; frames framepipe made itself
//! (`copy()`, `from_array`) own their buffer and map it writable.
//!
//! Callbacks (probes, `pyfunc`) get a writable frame that owns the buffer only for the
//! call: [`PyFrame::release`] takes it back, unmapped, or as a copy when Python kept views
//! of its memory, so arrays never alias a buffer that flows on.
//!
//! A writable frame keeps its buffer in the same slot as a `Buffer` does (`buffer.rs`),
//! and `frame.buffer` shares that slot: a write mapping, data or metadata changed through
//! `frame.buffer` inside a probe is the buffer that goes on downstream, and the frame's
//! arrays and `frame.buffer.map(write=True)` are one mapping.

use std::sync::{Arc, Mutex, Weak};

use framepipe_core::media::MediaInfo;
use framepipe_core::pack;
use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::array::{Borrowed, view_array};
use crate::buffer::PyBuffer;
use crate::errors::to_py;
use crate::mapping::{Home, Mapped, PyMappedBuffer, Slot, lock};
use crate::meta::MetaFrame;

const RELEASED: &str = "this frame's buffer went on downstream when the callback returned; \
                        keep frame.copy() (or the arrays you took) to use it later";

/// The slot's buffer, or the live mapping it is lent to (waiting out a mapping being
/// dropped on another thread, which gives the buffer back).
enum Held<'a> {
    Plain(std::sync::MutexGuard<'a, Slot>),
    Mapped(Arc<Mapped>),
}

fn held(store: &Home) -> PyResult<Held<'_>> {
    loop {
        let slot = lock(store);
        match &*slot {
            Slot::Plain(_) => return Ok(Held::Plain(slot)),
            Slot::Mapped(w) => {
                if let Some(m) = w.upgrade() {
                    return Ok(Held::Mapped(m));
                }
            }
            Slot::Released => return Err(PyBufferError::new_err(RELEASED)),
        }
        drop(slot);
        std::thread::yield_now();
    }
}

/// One GStreamer buffer with its caps: a video frame or a chunk of audio, seen from numpy
/// without copies.
///
/// Frames come from ``Pipeline.frames()`` / ``Pipeline.pull()`` (read-only), from
/// callbacks (``add_probe``, ``pyfunc``, Python elements; writable for the call) and from
/// ``Frame.from_array`` / ``frame.copy()`` (writable, owning their buffer). There is no
/// public constructor.
///
/// Attributes
/// ----------
/// array : numpy.ndarray
///     Packed video as (H, W, C) or (H, W) with the buffer's real row stride (a padded row
///     gives a non-contiguous view, never a copy); interleaved audio as (samples,
///     channels). Read-only unless the frame is writable. Planar formats (I420, NV12, ...)
///     raise ValueError: use ``planes``, or convert in the pipeline
///     (``videoconvert ! video/x-raw,format=RGB``).
/// planes : list of numpy.ndarray
///     One view per plane with its subsampled size and real stride.
/// width, height : int or None
///     Video size in pixels (None for audio).
/// format : str or None
///     GStreamer's format name: "RGB", "BGR", "RGBA", "GRAY8", "I420", "NV12", "F32LE",
///     "S16LE", ...
/// rate, channels, samples : int or None
///     Audio sample rate, channel count and samples in this buffer (None for video).
/// caps : str or None
///     The full caps, as GStreamer prints them.
/// pts, dts, duration : int or None
///     Timestamps in nanoseconds (``fp.SECOND`` per second); None when unset.
/// time : float or None
///     ``pts`` in seconds.
/// keyframe : bool
///     False for buffers flagged DELTA_UNIT.
/// writable : bool
///     Whether ``array`` and the metadata methods may change the frame.
/// buffer : Buffer
///     The underlying buffer.
///
/// Notes
/// -----
/// Arrays keep the buffer mapped and alive, so they stay valid after the frame is gone.
/// ``np.asarray(frame)`` equals ``frame.array``; ``np.from_dlpack(frame)`` is zero-copy.
/// Metadata: ``regions``, ``add_region``, ``tensors``, ``add_tensor``, ``messages``,
/// ``add_message``.
#[pyclass(frozen, name = "Frame", module = "framepipe._framepipe")]
pub struct PyFrame {
    caps: Option<gst::Caps>,
    media: MediaInfo,
    writable: bool,
    /// The buffer, shared with `frame.buffer` for writable frames.
    store: Arc<Home>,
    /// The frame's own mapping (its arrays' base), once mapped.
    map: Mutex<Option<Arc<Mapped>>>,
    // Caches of the views handed out; plain mutexes rather than once-cells so that
    // `release` can let go of them.
    array: Mutex<Option<Py<PyAny>>>,
    planes: Mutex<Option<Vec<Py<PyAny>>>>,
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
            store: Arc::new(Mutex::new(Slot::Plain(buffer))),
            map: Mutex::new(None),
            array: Mutex::new(None),
            planes: Mutex::new(None),
        }
    }

    /// A writable frame lent `buffer` for the length of one Python call (a probe, a pyfunc,
    /// an element written in Python). Take the buffer back with [`Self::reclaim`].
    pub fn lend(buffer: gst::Buffer, caps: Option<gst::Caps>, media: MediaInfo) -> PyFrame {
        Self::build(buffer, caps, media, true)
    }

    /// Takes a lent buffer back once the Python call returned (see [`Self::release`]).
    pub fn reclaim(&self, _py: Python<'_>) -> Result<gst::Buffer, framepipe_core::Error> {
        Ok(self.release())
    }

    pub fn caps(&self) -> Option<&gst::Caps> {
        self.caps.as_ref()
    }

    /// Runs `f` on the frame's buffer, mapped or not; BufferError once the frame was
    /// released (its callback returned), rather than plausible values from no buffer.
    pub fn with_buffer<R>(&self, f: impl FnOnce(&gst::BufferRef) -> R) -> PyResult<R> {
        Ok(match held(&self.store)? {
            Held::Plain(slot) => match &*slot {
                Slot::Plain(b) => f(b),
                _ => unreachable!("Held::Plain holds a plain slot"),
            },
            Held::Mapped(m) => f(m.buffer()),
        })
    }

    /// Runs `f` on the frame's buffer for changing its metadata. BufferError for frames
    /// that are read-only, share their buffer, or were released.
    pub(crate) fn with_buffer_mut<R>(&self, f: impl FnOnce(&mut gst::BufferRef) -> R) -> PyResult<R> {
        if !self.writable {
            return Err(PyBufferError::new_err(
                "this frame is read-only (pulled from a pipeline); metadata can be added to writable frames: \
                 frame.copy(), Frame.from_array, probes and pyfunc",
            ));
        }
        let shared =
            || PyBufferError::new_err("the frame's buffer is shared (frame.buffer is in use); use frame.copy()");
        match held(&self.store)? {
            Held::Plain(mut slot) => match &mut *slot {
                Slot::Plain(b) => b.get_mut().map(f).ok_or_else(shared),
                _ => unreachable!("Held::Plain holds a plain slot"),
            },
            Held::Mapped(m) if m.is_writable() => {
                let ptr = m.buffer().as_ptr() as *mut gst::ffi::GstBuffer;
                // SAFETY: `ptr` is the live buffer the mapping owns; asking whether a
                // mini object is writable only reads its refcount and flags.
                let sole = unsafe { gst::ffi::gst_mini_object_is_writable(ptr as *const gst::ffi::GstMiniObject) };
                if sole == gst::glib::ffi::GFALSE {
                    return Err(shared());
                }
                // SAFETY: the mapping owns the only reference to the buffer (checked just
                // above) and `m` keeps it alive. Its other users (array base objects, the
                // `frame.buffer` sharing this slot) read its metadata only from Python
                // calls, which hold the GIL as this one does, or use only the data pointer
                // and length, which metadata changes leave alone. GStreamer allows
                // changing the metas of a writable buffer while its memory is mapped.
                Ok(f(unsafe { gst::BufferRef::from_mut_ptr(ptr) }))
            }
            Held::Mapped(_) => Err(shared()),
        }
    }

    /// Takes the buffer back from a frame a callback got (call with the GIL held). The
    /// frame's own arrays are dropped first; if none of the caller's arrays still use the
    /// mapping, it is unmapped and the very buffer is returned (the frame is then
    /// released: using its data raises BufferError). Otherwise the caller's arrays keep
    /// the frame's memory to themselves and a deep copy is returned.
    pub(crate) fn release(&self) -> gst::Buffer {
        let array = self.array.lock().unwrap_or_else(|e| e.into_inner()).take();
        let planes = self.planes.lock().unwrap_or_else(|e| e.into_inner()).take();
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop((array, planes, map));
        // With the frame's own views gone, a mapping that is still alive belongs to views
        // Python kept (arrays, or a `frame.buffer.map()`): they keep the memory, and the
        // buffer goes on as a copy. Otherwise the mapping gave the buffer back to the slot.
        let mut kept = None;
        let buffer = loop {
            let mut slot = lock(&self.store);
            match std::mem::replace(&mut *slot, Slot::Released) {
                Slot::Plain(b) => break b,
                Slot::Released => break gst::Buffer::new(),
                Slot::Mapped(w) => match w.upgrade() {
                    Some(m) => {
                        let copy = detached_copy(&m);
                        // Dropped after the lock: if it is the last reference, its drop
                        // locks the slot (and leaves it released).
                        kept = Some(m);
                        break copy;
                    }
                    None => {
                        // Being dropped on another thread, which gives the buffer back.
                        *slot = Slot::Mapped(w);
                        drop(slot);
                        std::thread::yield_now();
                    }
                },
            }
        };
        drop(kept);
        buffer
    }

    /// A new reference to the frame's GstBuffer.
    pub fn gst_buffer(&self) -> PyResult<gst::Buffer> {
        self.with_buffer(crate::mapping::new_ref)
    }

    fn mapping(&self) -> PyResult<Arc<Mapped>> {
        let mut cache = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = &*cache {
            return Ok(m.clone());
        }
        let m = match held(&self.store)? {
            // Mapped for write through `frame.buffer.map(write=True)`: the same mapping.
            Held::Mapped(m) if m.is_writable() || !self.writable => m,
            Held::Mapped(_) => {
                return Err(PyBufferError::new_err(
                    "the frame's buffer is mapped read-only through frame.buffer; release that mapping first",
                ));
            }
            Held::Plain(mut slot) => {
                let Slot::Plain(buffer) = std::mem::replace(&mut *slot, Slot::Mapped(Weak::new())) else {
                    unreachable!("Held::Plain holds a plain slot")
                };
                if !self.writable {
                    // A read mapping shares the buffer; the slot keeps it.
                    let m = Mapped::new(buffer.clone(), false);
                    *slot = Slot::Plain(buffer);
                    Arc::new(m.map_err(|(e, _)| to_py(e))?)
                } else if !buffer.is_writable() {
                    // Mapping a shared buffer for writing would be a GLib critical, not an error.
                    *slot = Slot::Plain(buffer);
                    return Err(PyBufferError::new_err(
                        "the frame's buffer is shared (a reference to it is kept elsewhere), so it cannot be \
                         mapped writable; use frame.copy()",
                    ));
                } else {
                    // The slot lends its only reference to the mapping, which gives it back
                    // when the last view is gone.
                    match Mapped::with_home(buffer, true, Some(Arc::downgrade(&self.store))) {
                        Ok(m) => {
                            let m = Arc::new(m);
                            *slot = Slot::Mapped(Arc::downgrade(&m));
                            m
                        }
                        Err((e, buffer)) => {
                            *slot = Slot::Plain(buffer);
                            return Err(to_py(e));
                        }
                    }
                }
            }
        };
        *cache = Some(m.clone());
        Ok(m)
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
        if let Some(a) = &*self.array.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(a.clone_ref(py));
        }
        let m = self.mapping()?;
        let view = self.media.array(m.buffer(), m.len()).map_err(to_py)?;
        let a = self.arrays(py, vec![view], &m)?.remove(0);
        Ok(self.array.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(a).clone_ref(py))
    }

    /// One array per plane (per channel for non-interleaved audio).
    #[getter]
    fn planes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        if let Some(planes) = &*self.planes.lock().unwrap_or_else(|e| e.into_inner()) {
            return PyList::new(py, planes.iter().map(|p| p.bind(py)));
        }
        let m = self.mapping()?;
        let views = self.media.planes(m.buffer(), m.len()).map_err(to_py)?;
        let planes = self.arrays(py, views, &m)?;
        let mut cache = self.planes.lock().unwrap_or_else(|e| e.into_inner());
        PyList::new(py, cache.get_or_insert(planes).iter().map(|p| p.bind(py)))
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
        let copy = self.with_buffer(|b| b.copy_deep())?.map_err(|e| to_py(e.into()))?;
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

    /// DLPack export of `array` (CPU memory). Writable frames are shared without a copy.
    /// Read-only frames (pulled from a sink, possibly shared with other branches) are
    /// copied, so no consumer can write into a buffer others read; with `copy=False` they
    /// are shared with DLPack's read-only flag when the consumer asks for a versioned (1.x)
    /// capsule, and refused with BufferError when it does not.
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
    fn samples(&self) -> PyResult<Option<usize>> {
        let Some(a) = self.audio() else { return Ok(None) };
        Ok(Some(self.with_buffer(|b| b.size())? / a.bpf().max(1) as usize))
    }

    #[getter]
    fn pts(&self) -> PyResult<Option<u64>> {
        self.with_buffer(|b| b.pts().map(|t| t.nseconds()))
    }

    #[getter]
    fn dts(&self) -> PyResult<Option<u64>> {
        self.with_buffer(|b| b.dts().map(|t| t.nseconds()))
    }

    #[getter]
    fn duration(&self) -> PyResult<Option<u64>> {
        self.with_buffer(|b| b.duration().map(|t| t.nseconds()))
    }

    /// `pts` in float seconds.
    #[getter]
    fn time(&self) -> PyResult<Option<f64>> {
        Ok(self.pts()?.map(|t| t as f64 / 1e9))
    }

    #[getter]
    fn keyframe(&self) -> PyResult<bool> {
        self.with_buffer(|b| !b.flags().contains(gst::BufferFlags::DELTA_UNIT))
    }

    #[getter]
    fn writable(&self) -> bool {
        self.writable
    }

    /// The underlying buffer. For a writable frame it is the frame's own buffer (changes
    /// through it, e.g. ``frame.buffer.map(write=True)`` or ``frame.buffer.pts = ...`` in a
    /// probe, go on downstream); for a read-only frame a new reference to the same
    /// GstBuffer, which is shared and so cannot be changed.
    #[getter]
    fn buffer(&self) -> PyResult<PyBuffer> {
        if self.writable {
            held(&self.store)?;
            return Ok(PyBuffer::shared(self.store.clone()));
        }
        Ok(PyBuffer::from_gst(self.gst_buffer()?))
    }

    // Analytics metadata (see meta.rs).

    /// Adds a region of interest; see `framepipe.Region`. Boxes partly outside the frame
    /// are clipped to it; a box wholly outside raises ValueError.
    #[pyo3(signature = (x, y, w, h, label="", confidence=0.0, *, normalized=false, attributes=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_region(
        slf: &Bound<'_, Self>,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        label: &str,
        confidence: f64,
        normalized: bool,
        attributes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<crate::meta::PyRegion> {
        Ok(crate::meta::add_region(
            slf.as_any(),
            as_meta_frame,
            (x, y, w, h),
            label,
            confidence,
            normalized,
            attributes,
        )?)
    }

    #[getter]
    fn regions(slf: &Bound<'_, Self>) -> PyResult<Vec<crate::meta::PyRegion>> {
        crate::meta::regions(slf.as_any(), as_meta_frame)
    }

    /// Removes `region` (a Region of this frame, or its id).
    fn remove_region(&self, region: &Bound<'_, PyAny>) -> PyResult<()> {
        Ok(crate::meta::remove_region(self, region)?)
    }

    /// Attaches a named n-d array (copied) to the frame.
    fn add_tensor(&self, name: &str, array: &Bound<'_, PyAny>) -> PyResult<crate::meta::PyTensor> {
        Ok(crate::meta::add_tensor(self, name, array)?)
    }

    #[getter]
    fn tensors(&self) -> PyResult<Vec<crate::meta::PyTensor>> {
        self.with_buffer(|b| framepipe_core::meta::tensors(b).into_iter().map(crate::meta::PyTensor::from).collect())
    }

    /// Attaches a JSON message: a dict (or a str), which `messages` gives back as such.
    fn add_message(&self, message: &Bound<'_, PyAny>) -> PyResult<()> {
        Ok(crate::meta::add_message(self, message)?)
    }

    #[getter]
    fn messages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        crate::meta::messages(py, self)
    }

    fn __repr__(&self) -> String {
        let pts = match self.pts() {
            Ok(Some(t)) => format!("{:.6}", t as f64 / 1e9),
            Ok(None) => "None".into(),
            Err(_) => "released".into(),
        };
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
            MediaInfo::Other => format!("<Frame {} bytes pts={pts}>", self.with_buffer(|b| b.size()).unwrap_or(0)),
        }
    }
}

/// A frame object as the frame metadata is on (`Region` keeps its frame as an object).
fn as_meta_frame<'a>(obj: &'a Bound<'_, PyAny>) -> Option<&'a dyn MetaFrame> {
    obj.cast::<PyFrame>().ok().map(|f| f.get() as &dyn MetaFrame)
}

impl MetaFrame for PyFrame {
    fn read_metas(&self, f: &mut dyn FnMut(&gst::BufferRef)) -> PyResult<()> {
        self.with_buffer(f)
    }

    fn write_metas(&self, f: &mut dyn FnMut(&mut gst::BufferRef)) -> PyResult<()> {
        self.with_buffer_mut(f)
    }

    fn media(&self) -> &MediaInfo {
        &self.media
    }
}

/// A deep copy of a mapped buffer (its bytes, timestamps, flags and metadata) that shares
/// nothing with it.
fn detached_copy(m: &Mapped) -> gst::Buffer {
    let mut copy = gst::Buffer::from_slice(m.as_slice().to_vec());
    let dest = copy.get_mut().expect("a new buffer is writable");
    let flags = gst::BufferCopyFlags::FLAGS | gst::BufferCopyFlags::TIMESTAMPS | gst::BufferCopyFlags::META;
    // Copying metadata cannot fail between two buffers of the same size.
    let _ = m.buffer().copy_into(dest, flags, ..);
    copy
}
