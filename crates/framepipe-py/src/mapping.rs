//! `Mapping` and `_MappedBuffer`: a buffer or memory mapped for as long as Python holds
//! it. A [`Mapped`] is the mapping itself; `_MappedBuffer` is the base object of every
//! array over it, and `Mapping` what `Buffer.map` and `Memory.map` return. A write mapping
//! of a `Buffer` borrows the buffer's only reference from its home slot ([`Slot`]) and
//! gives it back when the last view is gone.

use std::mem::ManuallyDrop;
use std::os::raw::c_int;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use framepipe_core::Error;
use pyo3::exceptions::{PyBufferError, PyIndexError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySlice, PySliceMethods};

use crate::array::view_array;

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

pub(crate) fn not_writable() -> Error {
    Error::Buffer("the buffer is not writable: it is shared (use make_writable() or copy())".into())
}

pub(crate) fn has_readonly_memory(buffer: &gst::BufferRef) -> bool {
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

/// A non-negative size or offset, or ValueError (not OverflowError) for a negative one.
pub fn non_negative(what: &str, v: i64) -> PyResult<usize> {
    usize::try_from(v).map_err(|_| PyValueError::new_err(format!("{what} must not be negative, got {v}")))
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
