//! `Buffer` and `Mapping`: a GstBuffer held safely from Python, and the mapping objects
//! that numpy arrays and memoryviews use as their base so that a view can never outlive its
//! mapped memory.
//!
//! A writable buffer mapped for write hands its only reference to the mapping (so it stays
//! writable in GStreamer's sense, and a map of several memories merges them into the
//! buffer); the mapping gives it back to its `Buffer` when the last view is gone. While a
//! mapping is alive the buffer's metadata and memories are read-only.

use std::mem::ManuallyDrop;
use std::os::raw::c_int;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use framepipe_core::Error;
use pyo3::exceptions::{PyBufferError, PyIndexError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySet, PySlice, PySliceMethods};

use crate::array::view_array;
use crate::errors::to_py;
use crate::memory::{PyMemory, wrap_object};

enum Map {
    Read(gst::MappedBuffer<gst::buffer::Readable>),
    Write(gst::MappedBuffer<gst::buffer::Writable>),
    /// A memory mapped on its own (`Memory.map`), with the empty buffer that `buffer()`
    /// reports for it: a memory mapping has no buffer metadata.
    MemoryRead(gst::memory::MappedMemory<gst::memory::Readable>, gst::Buffer),
    MemoryWrite(gst::memory::MappedMemory<gst::memory::Writable>, gst::Buffer),
}

/// A buffer mapped for as long as this value lives.
pub struct Mapped {
    map: ManuallyDrop<Map>,
    data: DataPtr,
    len: usize,
    /// The `Buffer` this mapping borrowed its buffer from, which gets it back on drop.
    home: Option<Weak<Home>>,
}

/// The start of a mapping, taken once when it was made.
pub struct DataPtr(*mut u8);

// SAFETY: the pointer is only the address of the mapped memory, which belongs to the
// MappedBuffer beside it and stays valid and at the same address until that is dropped;
// GstBuffer memory may be used from any thread.
unsafe impl Send for DataPtr {}
// SAFETY: as above; concurrent writes are the same data races numpy arrays always allow.
unsafe impl Sync for DataPtr {}

/// A new reference to the same GstBuffer (`BufferRef::to_owned` would copy it).
pub fn new_ref(buffer: &gst::BufferRef) -> gst::Buffer {
    // SAFETY: `buffer` is a valid GstBuffer for the duration of the call; from_glib_none
    // takes a reference of its own.
    unsafe { gst::glib::translate::from_glib_none(buffer.as_ptr()) }
}

fn not_writable() -> Error {
    Error::Buffer("the buffer is not writable: it is shared (use make_writable() or copy())".into())
}

fn has_readonly_memory(buffer: &gst::BufferRef) -> bool {
    buffer.iter_memories().any(|m| m.flags().contains(gst::MemoryFlags::READONLY))
}

impl Mapped {
    /// Maps `buffer` readable, or writable if asked (the buffer must then be writable).
    /// On failure the buffer comes back with the error.
    pub fn new(buffer: gst::Buffer, write: bool) -> Result<Mapped, (Error, gst::Buffer)> {
        Self::with_home(buffer, write, None)
    }

    pub(crate) fn with_home(
        buffer: gst::Buffer,
        write: bool,
        home: Option<Weak<Home>>,
    ) -> Result<Mapped, (Error, gst::Buffer)> {
        let map = if write {
            // gst_buffer_map prints a GLib critical for a shared buffer: refuse it first.
            if !buffer.is_writable() {
                return Err((not_writable(), buffer));
            }
            let map = buffer
                .into_mapped_buffer_writable()
                .map_err(|b| (Error::Buffer("the buffer cannot be mapped for writing".into()), b))?;
            Map::Write(map)
        } else {
            let map = buffer
                .into_mapped_buffer_readable()
                .map_err(|b| (Error::Buffer("the buffer cannot be mapped for reading".into()), b))?;
            Map::Read(map)
        };
        Ok(Self::from_map(map, home))
    }

    fn from_map(map: Map, home: Option<Weak<Home>>) -> Mapped {
        let data = match &map {
            Map::Read(m) => m.as_slice(),
            Map::Write(m) => m.as_slice(),
            Map::MemoryRead(m, _) => m.as_slice(),
            Map::MemoryWrite(m, _) => m.as_slice(),
        };
        let (data, len) = (data.as_ptr().cast_mut(), data.len());
        Mapped { map: ManuallyDrop::new(map), data: DataPtr(data), len, home }
    }

    /// Maps one memory readable, or writable if asked (it must then be writable: not
    /// read-only and in at most one buffer).
    pub fn memory(mem: gst::Memory, write: bool) -> Result<Mapped, Error> {
        let map = if write {
            let m = mem
                .into_mapped_memory_writable()
                .map_err(|_| Error::Buffer("the memory cannot be mapped for writing".into()))?;
            Map::MemoryWrite(m, gst::Buffer::new())
        } else {
            let m = mem
                .into_mapped_memory_readable()
                .map_err(|_| Error::Buffer("the memory cannot be mapped for reading".into()))?;
            Map::MemoryRead(m, gst::Buffer::new())
        };
        Ok(Self::from_map(map, None))
    }

    /// Unmaps and returns the buffer (an empty one for a memory mapping). A `Buffer` this
    /// mapping borrowed from gets a reference back, so it never loses its buffer.
    pub fn into_buffer(self) -> gst::Buffer {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `map` is taken exactly once, here.
        let map = unsafe { ManuallyDrop::take(&mut this.map) };
        let home = this.home.take();
        let buffer = unmap(map);
        if let Some(home) = home.as_ref().and_then(Weak::upgrade) {
            let mut slot = lock(&home);
            if matches!(*slot, Slot::Mapped(_)) {
                *slot = Slot::Plain(new_ref(&buffer));
            }
        }
        buffer
    }

    pub fn buffer(&self) -> &gst::BufferRef {
        match &*self.map {
            Map::Read(m) => m.buffer(),
            Map::Write(m) => m.buffer(),
            Map::MemoryRead(_, b) | Map::MemoryWrite(_, b) => b,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_writable(&self) -> bool {
        matches!(*self.map, Map::Write(_) | Map::MemoryWrite(..))
    }

    /// Start of the mapped bytes. Only writable mappings may be written through it.
    pub fn as_ptr(&self) -> *mut u8 {
        self.data.0
    }

    pub fn as_slice(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `data` points at the `len` mapped bytes owned by `map`, valid while `self` is.
        unsafe { std::slice::from_raw_parts(self.data.0, self.len) }
    }
}

fn unmap(map: Map) -> gst::Buffer {
    match map {
        Map::Read(m) => m.into_buffer(),
        Map::Write(m) => m.into_buffer(),
        Map::MemoryRead(_, b) | Map::MemoryWrite(_, b) => b,
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: `map` is taken exactly once, here, and never used afterwards.
        let map = unsafe { ManuallyDrop::take(&mut self.map) };
        let buffer = unmap(map);
        if let Some(home) = self.home.as_ref().and_then(Weak::upgrade) {
            let mut slot = lock(&home);
            if matches!(*slot, Slot::Mapped(_)) {
                *slot = Slot::Plain(buffer);
            }
        }
    }
}

/// The base object of every array framepipe hands out: it holds the mapping, so the
/// buffer stays mapped and alive until the last array over it is gone.
#[pyclass(frozen, name = "_MappedBuffer", module = "framepipe._framepipe")]
pub struct PyMappedBuffer {
    pub mapped: Arc<Mapped>,
}

#[pymethods]
impl PyMappedBuffer {
    fn __len__(&self) -> usize {
        self.mapped.len()
    }

    #[getter]
    fn writable(&self) -> bool {
        self.mapped.is_writable()
    }

    fn __repr__(&self) -> String {
        format!(
            "<_MappedBuffer {} bytes{}>",
            self.mapped.len(),
            if self.mapped.is_writable() { " writable" } else { "" }
        )
    }
}

/// Where a `Buffer` keeps its GstBuffer: in hand, or lent to a live write mapping. A
/// writable `Frame` keeps its buffer in the same kind of slot and shares it with its
/// `frame.buffer`, so both see (and change) one GstBuffer.
pub(crate) enum Slot {
    Plain(gst::Buffer),
    Mapped(Weak<Mapped>),
    /// The frame that shared this slot handed the buffer on downstream (its callback
    /// returned): using it raises BufferError.
    Released,
}

pub(crate) type Home = Mutex<Slot>;

pub(crate) fn lock(home: &Home) -> MutexGuard<'_, Slot> {
    home.lock().unwrap_or_else(|e| e.into_inner())
}

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

/// A non-negative size or offset, or ValueError (not OverflowError) for a negative one.
pub fn non_negative(what: &str, v: i64) -> PyResult<usize> {
    usize::try_from(v).map_err(|_| PyValueError::new_err(format!("{what} must not be negative, got {v}")))
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

/// A mapped buffer or memory: `len()`, indexing and slice assignment, the buffer protocol
/// and `.array`. Views taken from it keep the memory mapped after the mapping is released.
#[pyclass(frozen, name = "Mapping", module = "framepipe._framepipe")]
pub struct PyMapping {
    state: Mutex<MappingState>,
    writable: bool,
}

struct MappingState {
    mapped: Option<Arc<Mapped>>,
    exports: usize,
    released: bool,
}

impl PyMapping {
    pub fn new(mapped: Arc<Mapped>, writable: bool) -> PyMapping {
        PyMapping { state: Mutex::new(MappingState { mapped: Some(mapped), exports: 0, released: false }), writable }
    }

    fn mapped(&self) -> PyResult<Arc<Mapped>> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match (&st.mapped, st.released) {
            (Some(m), false) => Ok(m.clone()),
            _ => Err(PyValueError::new_err("operation on a released mapping (use it inside its with block)")),
        }
    }

    fn writable_mapped(&self) -> PyResult<Arc<Mapped>> {
        let m = self.mapped()?;
        if !self.writable {
            return Err(PyTypeError::new_err("the mapping is read-only (map with write=True)"));
        }
        Ok(m)
    }
}

/// The `(start, step, count)` of a slice over `len` items.
fn slice_indices(slice: &Bound<'_, PySlice>, len: usize) -> PyResult<(isize, isize, usize)> {
    let i = slice.indices(len as isize)?;
    Ok((i.start, i.step, i.slicelength))
}

fn index(i: isize, len: usize) -> PyResult<usize> {
    let j = if i < 0 { i + len as isize } else { i };
    if j < 0 || j as usize >= len {
        return Err(PyIndexError::new_err("mapping index out of range"));
    }
    Ok(j as usize)
}

#[pymethods]
impl PyMapping {
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) {
        self.release();
    }

    /// Ends this mapping. Arrays and memoryviews taken from it stay valid; the memory is
    /// unmapped when the last of them is gone.
    fn release(&self) {
        let dropped = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.released = true;
            if st.exports == 0 { st.mapped.take() } else { None }
        };
        drop(dropped);
    }

    #[getter]
    fn writable(&self) -> bool {
        self.writable
    }

    #[getter]
    fn released(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).released
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.mapped()?.len())
    }

    /// A 1-D uint8 ndarray over the mapped bytes, writable iff the mapping is.
    #[getter]
    fn array<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let m = self.mapped()?;
        let view = framepipe_core::View {
            offset: 0,
            shape: vec![m.len()],
            strides: vec![1],
            dtype: framepipe_core::Dtype::U8,
        };
        let owner = Bound::new(py, PyMappedBuffer { mapped: m.clone() })?.into_any();
        let writable = self.writable && m.is_writable();
        // SAFETY: the view covers exactly the `len()` mapped bytes at `as_ptr()`, which
        // `owner` keeps mapped; it is writable only over a writable mapping.
        unsafe { view_array(py, &view, m.as_ptr(), writable, owner) }
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let m = self.mapped()?;
        let data = m.as_slice();
        if let Ok(slice) = key.cast::<PySlice>() {
            let (start, step, n) = slice_indices(slice, data.len())?;
            let out: Vec<u8> = (0..n as isize).map(|k| data[(start + k * step) as usize]).collect();
            return Ok(PyBytes::new(py, &out).into_any());
        }
        let i = index(key.extract::<isize>()?, data.len())?;
        Ok(data[i].into_pyobject(py)?.into_any())
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let m = self.writable_mapped()?;
        let len = m.len();
        let ptr = m.as_ptr();
        if let Ok(slice) = key.cast::<PySlice>() {
            let (start, step, n) = slice_indices(slice, len)?;
            let src: Vec<u8> = pyo3::buffer::PyBuffer::<u8>::get(value)?.to_vec(value.py())?;
            if src.len() != n {
                return Err(PyValueError::new_err(format!(
                    "slice assignment of {} bytes to a slice of {n} bytes",
                    src.len()
                )));
            }
            for (k, byte) in src.into_iter().enumerate() {
                let at = (start + k as isize * step) as usize;
                // SAFETY: `at` is one of the slice's indices, all below `len` (PySlice::indices),
                // and the mapping is writable and kept alive by `m`.
                unsafe { *ptr.add(at) = byte };
            }
            return Ok(());
        }
        let i = index(key.extract::<isize>()?, len)?;
        let v: i64 = value.extract()?;
        let byte =
            u8::try_from(v).map_err(|_| PyValueError::new_err(format!("byte must be in range(0, 256), got {v}")))?;
        // SAFETY: `i < len` (checked by `index`), and the mapping is writable and kept alive by `m`.
        unsafe { *ptr.add(i) = byte };
        Ok(())
    }

    /// The buffer protocol: a 1-D view of unsigned bytes, writable iff the mapping is.
    ///
    /// # Safety
    /// Called by CPython with a `view` to fill (pyo3 requires the `unsafe fn`).
    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        let this = slf.get();
        let m = this.mapped()?;
        let writable = this.writable && m.is_writable();
        if flags & ffi::PyBUF_WRITABLE != 0 && !writable {
            return Err(PyBufferError::new_err("the mapping is read-only (map with write=True)"));
        }
        // SAFETY: `view` is the Py_buffer CPython asks us to fill; the bytes at `as_ptr()`
        // stay mapped while the export lives, because `m` stays in this mapping until
        // __releasebuffer__ has seen every export go. PyBuffer_FillInfo takes its own
        // reference to `slf`.
        let rc = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                m.as_ptr().cast(),
                m.len() as ffi::Py_ssize_t,
                c_int::from(!writable),
                flags,
            )
        };
        if rc < 0 {
            return Err(PyErr::fetch(slf.py()));
        }
        this.state.lock().unwrap_or_else(|e| e.into_inner()).exports += 1;
        Ok(())
    }

    /// Ends one export; the last one of a released mapping drops its memory mapping.
    ///
    /// # Safety
    /// Called by CPython with a view this mapping filled (nothing in it is dereferenced).
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        let dropped = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.exports = st.exports.saturating_sub(1);
            if st.released && st.exports == 0 { st.mapped.take() } else { None }
        };
        drop(dropped);
    }

    fn __repr__(&self) -> String {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match (&st.mapped, st.released) {
            (Some(m), false) => {
                format!("<Mapping {} bytes{}>", m.len(), if self.writable { " writable" } else { "" })
            }
            _ => "<Mapping released>".into(),
        }
    }
}
