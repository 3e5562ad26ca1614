//! `Buffer` and `Mapping`: a GstBuffer held safely from Python, and the mapping objects
//! that numpy arrays and memoryviews use as their base so that a view can never outlive its
//! mapped memory.
//!
//! A writable buffer mapped for write hands its only reference to the mapping (so it stays
//! writable in GStreamer's sense, and a map of several memories merges them into the
//! buffer); the mapping gives it back to its `Buffer` when the last view is gone. While a
//! mapping is alive the buffer's metadata and memories are read-only.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use pyo3::exceptions::{PyBufferError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySet};

use crate::errors::to_py;
use crate::mapping::{Home, Mapped, PyMapping, Slot, has_readonly_memory, lock, new_ref, non_negative, not_writable};
use crate::memory::{PyMemory, wrap_object};

enum State<'a> {
    Plain(MutexGuard<'a, Slot>),
    Mapped(Arc<Mapped>),
}

pub(crate) const RELEASED: &str = "this buffer went on downstream when the callback that got its frame returned; \
                                  keep frame.copy() or buffer.copy() to use it later";

const MAPPED: &str = "the buffer is mapped by live views or mappings; its metadata and memories are read-only \
                      until they are gone";

/// A GStreamer buffer: bytes in one or more memories, plus timestamps and flags.
///
/// Writability follows GStreamer: a buffer may be changed (metadata, memories, a write
/// map) only while it is not shared. Changing a shared buffer (one pulled from a pipeline,
/// or also held by a Frame or another Buffer) raises BufferError; `make_writable()` gives
/// a buffer that can be changed. While arrays or memoryviews of a write mapping are alive,
/// the buffer lends its only reference to that mapping, so metadata is read-only until they
/// are gone (BufferError); reading metadata always works.
///
/// Memory wrapped from Python objects (`wrap`) keeps the object alive until GStreamer frees
/// the memory, on whatever thread. A streaming thread never waits for the GIL to do so: it
/// defers the release to the next call into framepipe from Python.
#[pyclass(frozen, name = "Buffer", module = "framepipe._framepipe")]
pub struct PyBuffer {
    home: Arc<Home>,
}

impl PyBuffer {
    pub fn from_gst(buffer: gst::Buffer) -> PyBuffer {
        PyBuffer { home: Arc::new(Mutex::new(Slot::Plain(buffer))) }
    }

    /// A `Buffer` over the slot a writable `Frame` keeps its buffer in: changes through
    /// either reach the one GstBuffer that goes on downstream.
    pub(crate) fn shared(home: Arc<Home>) -> PyBuffer {
        PyBuffer { home }
    }

    /// The buffer in hand, or the live mapping it is lent to. A mapping whose last
    /// reference is being dropped on another thread is waited for: it gives the buffer back.
    /// BufferError once the frame sharing this buffer handed it on.
    fn state(&self) -> PyResult<State<'_>> {
        loop {
            let slot = lock(&self.home);
            match &*slot {
                Slot::Plain(_) => return Ok(State::Plain(slot)),
                Slot::Mapped(w) => {
                    if let Some(m) = w.upgrade() {
                        return Ok(State::Mapped(m));
                    }
                }
                Slot::Released => return Err(PyBufferError::new_err(RELEASED)),
            }
            drop(slot);
            std::thread::yield_now();
        }
    }

    fn read<R>(&self, f: impl FnOnce(&gst::BufferRef) -> R) -> PyResult<R> {
        Ok(match self.state()? {
            State::Plain(slot) => match &*slot {
                Slot::Plain(b) => f(b),
                _ => unreachable!("State::Plain holds a plain slot"),
            },
            State::Mapped(m) => f(m.buffer()),
        })
    }

    /// Runs `f` on the buffer if it may be changed: not shared and not mapped.
    fn write<R>(&self, f: impl FnOnce(&mut gst::BufferRef) -> R) -> PyResult<R> {
        match self.state()? {
            State::Plain(mut slot) => match &mut *slot {
                Slot::Plain(b) => match b.get_mut() {
                    Some(b) => Ok(f(b)),
                    None => Err(to_py(not_writable())),
                },
                _ => unreachable!("State::Plain holds a plain slot"),
            },
            State::Mapped(_) => Err(PyBufferError::new_err(MAPPED)),
        }
    }

    /// A new reference to the GstBuffer (BufferError once it went on downstream).
    pub fn gst(&self) -> PyResult<gst::Buffer> {
        self.read(new_ref)
    }

    fn map_impl(&self, write: bool) -> PyResult<PyMapping> {
        let mapped = match self.state()? {
            State::Mapped(m) => {
                if write && !m.is_writable() {
                    return Err(PyBufferError::new_err("the buffer is mapped read-only by live views"));
                }
                m
            }
            State::Plain(mut slot) => {
                let Slot::Plain(b) = &*slot else { unreachable!("State::Plain holds a plain slot") };
                if !write {
                    // A read mapping shares the buffer; it needs no home.
                    let m = Mapped::new(b.clone(), false).map_err(|(e, _)| to_py(e))?;
                    return Ok(PyMapping::new(Arc::new(m), false));
                }
                // GStreamer would map read-only memory for write by copying it; for memory
                // wrapped from a read-only Python object that would hide the copy: refuse.
                if has_readonly_memory(b) {
                    return Err(PyBufferError::new_err(
                        "the buffer holds read-only memory (wrapped from a read-only object); \
                         use make_writable() or copy()",
                    ));
                }
                let Slot::Plain(b) = std::mem::replace(&mut *slot, Slot::Mapped(Weak::new())) else {
                    unreachable!("checked above")
                };
                match Mapped::with_home(b, true, Some(Arc::downgrade(&self.home))) {
                    Ok(m) => {
                        let m = Arc::new(m);
                        *slot = Slot::Mapped(Arc::downgrade(&m));
                        m
                    }
                    Err((e, b)) => {
                        *slot = Slot::Plain(b);
                        return Err(to_py(e));
                    }
                }
            }
        };
        Ok(PyMapping::new(mapped, write))
    }
}

fn ns(t: Option<gst::ClockTime>) -> Option<u64> {
    t.map(|t| t.nseconds())
}

fn ct(t: Option<u64>) -> PyResult<Option<gst::ClockTime>> {
    match t {
        Some(u64::MAX) => Err(PyValueError::new_err("a timestamp must be below 2**64 - 1 (use None)")),
        t => Ok(t.map(gst::ClockTime::from_nseconds)),
    }
}

const FLAGS: &[(&str, gst::BufferFlags)] = &[
    ("LIVE", gst::BufferFlags::LIVE),
    ("DECODE_ONLY", gst::BufferFlags::DECODE_ONLY),
    ("DISCONT", gst::BufferFlags::DISCONT),
    ("RESYNC", gst::BufferFlags::RESYNC),
    ("CORRUPTED", gst::BufferFlags::CORRUPTED),
    ("MARKER", gst::BufferFlags::MARKER),
    ("HEADER", gst::BufferFlags::HEADER),
    ("GAP", gst::BufferFlags::GAP),
    ("DROPPABLE", gst::BufferFlags::DROPPABLE),
    ("DELTA_UNIT", gst::BufferFlags::DELTA_UNIT),
    ("TAG_MEMORY", gst::BufferFlags::TAG_MEMORY),
    ("SYNC_AFTER", gst::BufferFlags::SYNC_AFTER),
    ("NON_DROPPABLE", gst::BufferFlags::NON_DROPPABLE),
];

#[pymethods]
impl PyBuffer {
    /// A new buffer of `size` bytes (uninitialised system memory).
    #[new]
    fn new(size: i64) -> PyResult<PyBuffer> {
        let buffer = gst::Buffer::with_size(non_negative("size", size)?).map_err(|e| to_py(e.into()))?;
        Ok(PyBuffer::from_gst(buffer))
    }

    /// A new buffer holding a copy of `data` (any bytes-like object).
    #[staticmethod]
    fn from_bytes(data: &Bound<'_, PyAny>) -> PyResult<PyBuffer> {
        let bytes: Vec<u8> = pyo3::buffer::PyBuffer::<u8>::get(data)?.to_vec(data.py())?;
        Ok(PyBuffer::from_gst(gst::Buffer::from_mut_slice(bytes)))
    }

    /// A buffer over the memory of `obj` (ndarray, bytearray, memoryview, bytes, ...),
    /// without copying. `obj` is kept alive until GStreamer frees the memory; read-only
    /// objects give read-only memory.
    #[staticmethod]
    fn wrap(obj: &Bound<'_, PyAny>) -> PyResult<PyBuffer> {
        let mem = wrap_object(obj)?;
        let mut buffer = gst::Buffer::new();
        if let Some(b) = buffer.get_mut() {
            b.append_memory(mem);
            b.unset_flags(gst::BufferFlags::TAG_MEMORY);
        }
        Ok(PyBuffer::from_gst(buffer))
    }

    /// Maps the buffer; use as a context manager. `write=True` needs a writable buffer.
    #[pyo3(signature = (write=false))]
    fn map(&self, write: bool) -> PyResult<PyMapping> {
        self.map_impl(write)
    }

    #[getter]
    fn size(&self) -> PyResult<usize> {
        self.read(|b| b.size())
    }

    fn __len__(&self) -> PyResult<usize> {
        self.size()
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.read(|b| {
            PyBytes::new_with(py, b.size(), |out| {
                b.copy_to_slice(0, out).map_err(|_| PyBufferError::new_err("the buffer cannot be read"))
            })
        })?
    }

    /// A copy of `size` bytes from `offset`.
    fn extract<'py>(&self, py: Python<'py>, offset: i64, size: i64) -> PyResult<Bound<'py, PyBytes>> {
        let (offset, size) = (non_negative("offset", offset)?, non_negative("size", size)?);
        self.read(|b| {
            framepipe_core::buffer::check_span(b.size(), offset, size).map_err(to_py)?;
            PyBytes::new_with(py, size, |out| {
                b.copy_to_slice(offset, out).map_err(|_| PyBufferError::new_err("the buffer cannot be read"))
            })
        })?
    }

    /// Copies `data` into the buffer at `offset`, as much as fits; returns the bytes copied.
    fn fill(&self, offset: i64, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let offset = non_negative("offset", offset)?;
        let data: Vec<u8> = pyo3::buffer::PyBuffer::<u8>::get(data)?.to_vec(data.py())?;
        self.write(|b| {
            let n = framepipe_core::buffer::fill_len(b.size(), offset, data.len()).map_err(to_py)?;
            b.copy_from_slice(offset, &data[..n])
                .map_err(|_| PyBufferError::new_err("the buffer cannot be written"))?;
            Ok(n)
        })?
    }

    #[getter]
    fn pts(&self) -> PyResult<Option<u64>> {
        self.read(|b| ns(b.pts()))
    }

    #[setter]
    fn set_pts(&self, t: Option<u64>) -> PyResult<()> {
        let t = ct(t)?;
        self.write(|b| b.set_pts(t))
    }

    #[getter]
    fn dts(&self) -> PyResult<Option<u64>> {
        self.read(|b| ns(b.dts()))
    }

    #[setter]
    fn set_dts(&self, t: Option<u64>) -> PyResult<()> {
        let t = ct(t)?;
        self.write(|b| b.set_dts(t))
    }

    #[getter]
    fn duration(&self) -> PyResult<Option<u64>> {
        self.read(|b| ns(b.duration()))
    }

    #[setter]
    fn set_duration(&self, t: Option<u64>) -> PyResult<()> {
        let t = ct(t)?;
        self.write(|b| b.set_duration(t))
    }

    /// The media offset (e.g. frame number), None when unset.
    #[getter]
    fn offset(&self) -> PyResult<Option<u64>> {
        self.read(|b| Some(b.offset()).filter(|&o| o != gst::ffi::GST_BUFFER_OFFSET_NONE))
    }

    #[setter]
    fn set_offset(&self, o: Option<u64>) -> PyResult<()> {
        self.write(|b| b.set_offset(o.unwrap_or(gst::ffi::GST_BUFFER_OFFSET_NONE)))
    }

    #[getter]
    fn offset_end(&self) -> PyResult<Option<u64>> {
        self.read(|b| Some(b.offset_end()).filter(|&o| o != gst::ffi::GST_BUFFER_OFFSET_NONE))
    }

    #[setter]
    fn set_offset_end(&self, o: Option<u64>) -> PyResult<()> {
        self.write(|b| b.set_offset_end(o.unwrap_or(gst::ffi::GST_BUFFER_OFFSET_NONE)))
    }

    /// The set flags by name, e.g. {"DELTA_UNIT", "DISCONT"}.
    #[getter]
    fn flags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PySet>> {
        let flags = self.read(|b| b.flags())?;
        PySet::new(py, FLAGS.iter().filter(|(_, f)| flags.contains(*f)).map(|(n, _)| *n))
    }

    #[setter]
    fn set_flags(&self, names: &Bound<'_, PyAny>) -> PyResult<()> {
        if names.is_instance_of::<pyo3::types::PyString>() {
            return Err(PyTypeError::new_err("flags takes an iterable of flag names, not a str"));
        }
        let mut flags = gst::BufferFlags::empty();
        for name in names.try_iter()? {
            let name: String = name?.extract()?;
            let f = FLAGS.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)).ok_or_else(|| {
                let known: Vec<&str> = FLAGS.iter().map(|(n, _)| *n).collect();
                PyValueError::new_err(format!("unknown buffer flag {name:?} (known: {})", known.join(", ")))
            })?;
            flags |= f.1;
        }
        self.write(|b| {
            b.unset_flags(gst::BufferFlags::all());
            b.set_flags(flags);
        })
    }

    /// Whether the buffer may be changed in place (GStreamer: it has one reference).
    #[getter]
    fn is_writable(&self) -> bool {
        match self.state() {
            Ok(State::Plain(slot)) => matches!(&*slot, Slot::Plain(b) if b.is_writable()),
            Ok(State::Mapped(m)) => m.is_writable(),
            Err(_) => false,
        }
    }

    /// This buffer if it can be mapped for write, else a copy that can (sharing the
    /// memories GStreamer will copy on write, and copying read-only ones now).
    fn make_writable(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        let copy = match this.state()? {
            State::Mapped(m) if m.is_writable() => return Ok(slf.clone().into_any().unbind()),
            State::Mapped(m) => m.buffer().copy(),
            State::Plain(slot) => match &*slot {
                Slot::Plain(b) if b.is_writable() && !has_readonly_memory(b) => {
                    return Ok(slf.clone().into_any().unbind());
                }
                Slot::Plain(b) => b.copy(),
                _ => unreachable!("State::Plain holds a plain slot"),
            },
        };
        let mut copy = copy;
        if let Some(b) = copy.get_mut() {
            for i in 0..b.n_memory() {
                let mem = b.peek_memory(i);
                if mem.flags().contains(gst::MemoryFlags::READONLY) {
                    let fresh = crate::memory::copy_memory(mem, 0, mem.size());
                    b.replace_memory(i, fresh);
                }
            }
        }
        Ok(Bound::new(slf.py(), PyBuffer::from_gst(copy))?.into_any().unbind())
    }

    /// A copy: deep (new memory) by default, or sharing the memories if `deep=False`.
    #[pyo3(signature = (deep=true))]
    fn copy(&self, deep: bool) -> PyResult<PyBuffer> {
        let b =
            if deep { self.read(|b| b.copy_deep())?.map_err(|e| to_py(e.into()))? } else { self.read(|b| b.copy())? };
        Ok(PyBuffer::from_gst(b))
    }

    /// The buffer's memories (new references; the buffer keeps them too).
    #[getter]
    fn memories(&self) -> PyResult<Vec<PyMemory>> {
        self.read(|b| b.iter_memories_owned().map(PyMemory::from_gst).collect())
    }

    #[getter]
    fn n_memory(&self) -> PyResult<usize> {
        self.read(|b| b.n_memory())
    }

    /// Appends `mem` (shared with the caller) to the buffer.
    fn append_memory(&self, mem: &Bound<'_, PyMemory>) -> PyResult<()> {
        let mem = mem.get().gst();
        self.write(|b| {
            if b.n_memory() >= gst::BufferRef::max_memory() {
                return Err(PyValueError::new_err(format!(
                    "a buffer holds at most {} memories",
                    gst::BufferRef::max_memory()
                )));
            }
            b.append_memory(mem);
            Ok(())
        })?
    }

    /// Wraps a PyGObject `Gst.Buffer` (no copy: both share one GstBuffer).
    #[staticmethod]
    fn from_gi(obj: &Bound<'_, PyAny>) -> PyResult<PyBuffer> {
        let gtype = obj.get_type().getattr("__gtype__").and_then(|t| t.getattr("name")).ok();
        let name: Option<String> = gtype.and_then(|n| n.extract().ok());
        if name.as_deref() != Some("GstBuffer") {
            return Err(PyTypeError::new_err(format!(
                "from_gi takes a Gst.Buffer from PyGObject, not {}",
                obj.get_type().name()?
            )));
        }
        // PyGObject's boxed wrappers hash to the address of the boxed C struct.
        let ptr = obj.hash()? as usize as *mut gst::ffi::GstBuffer;
        if ptr.is_null() {
            return Err(PyValueError::new_err("the Gst.Buffer has no underlying GstBuffer"));
        }
        // SAFETY: `ptr` is the GstBuffer the live Python wrapper `obj` owns a reference to (its
        // GType was checked above); from_glib_none takes a new reference of our own.
        let buffer: gst::Buffer = unsafe { gst::glib::translate::from_glib_none(ptr) };
        Ok(PyBuffer::from_gst(buffer))
    }

    /// The same GstBuffer as a PyGObject `Gst.Buffer` (no copy; needs `gi`).
    fn to_gi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let gst_mod = py.import("gi.repository.Gst")?;
        let structure = gst_mod.getattr("Structure")?.call_method1("new_empty", ("framepipe-buffer",))?;
        let ptr = structure.hash()? as usize as *mut gst::ffi::GstStructure;
        if ptr.is_null() {
            return Err(PyValueError::new_err("PyGObject gave a Gst.Structure without a pointer"));
        }
        let buffer = self.gst()?;
        let value = gst::glib::Value::from(&buffer);
        // SAFETY: `ptr` is the fresh, unparented (so mutable) GstStructure owned by the live
        // wrapper `structure`; gst_structure_set_value copies the value (a new buffer
        // reference), and PyGObject reads it back as a Gst.Buffer holding its own reference.
        unsafe {
            use gst::glib::translate::ToGlibPtr;
            gst::ffi::gst_structure_set_value(ptr, c"buffer".as_ptr(), value.to_glib_none().0);
        }
        structure.call_method1("get_value", ("buffer",))
    }

    fn __repr__(&self) -> String {
        self.read(|b| format!("<Buffer {} bytes in {} memories pts={:?}>", b.size(), b.n_memory(), ns(b.pts())))
            .unwrap_or_else(|_| "<Buffer released>".into())
    }
}
