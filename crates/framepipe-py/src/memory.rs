//! `Memory`: one GstMemory block, and wrapping Python buffer-protocol objects as memory
//! without copying them.

use std::sync::Mutex;

use framepipe_core::buffer::{resize, sub_range};
use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::mapping::{Mapped, PyMapping, non_negative};

/// The bytes of a Python object exported through the buffer protocol, held by a
/// memoryview so that the exporter stays alive and its buffer stays exported.
struct PyBytesOwner {
    /// Dropped wherever GStreamer frees the memory: at once if that thread is attached to
    /// Python, else through pyo3's deferred decref (it never waits for the GIL, so a
    /// streaming thread cannot deadlock against a Python thread waiting on GStreamer).
    _view: Py<PyAny>,
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the bytes belong to the exporter, which the memoryview keeps alive and exported
// until `_view` is dropped; `Py<PyAny>` may be dropped from any thread.
unsafe impl Send for PyBytesOwner {}

impl AsRef<[u8]> for PyBytesOwner {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` contiguous bytes kept alive by `_view` (see above).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl AsMut<[u8]> for PyBytesOwner {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above; only called for writable exports (wrap_object picks
        // from_mut_slice only when the exporter granted a writable buffer).
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// GstMemory over the bytes of `obj` (zero-copy). Non-contiguous exports raise ValueError;
/// read-only exports give read-only memory.
pub fn wrap_object(obj: &Bound<'_, PyAny>) -> PyResult<gst::Memory> {
    let py = obj.py();
    // SAFETY: PyMemoryView_FromObject returns a new reference or NULL with an exception set.
    let view = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyMemoryView_FromObject(obj.as_ptr()))? };
    let contiguous: bool = view.getattr("contiguous")?.extract()?;
    if !contiguous {
        return Err(PyValueError::new_err(
            "wrap needs a contiguous object (C or Fortran order); copy it first, e.g. np.ascontiguousarray(a)",
        ));
    }
    let readonly: bool = view.getattr("readonly")?.extract()?;
    // SAFETY: a zeroed Py_buffer is a valid out-parameter; on success we read `buf` and `len`
    // and release our export at once: the memoryview holds its own export of the same bytes,
    // which stays until the memoryview is gone.
    let (ptr, len) = unsafe {
        let mut b: ffi::Py_buffer = std::mem::zeroed();
        if ffi::PyObject_GetBuffer(view.as_ptr(), &mut b, ffi::PyBUF_FULL_RO) < 0 {
            return Err(PyErr::fetch(py));
        }
        let out = (b.buf.cast::<u8>(), b.len as usize);
        ffi::PyBuffer_Release(&mut b);
        out
    };
    let ptr = if ptr.is_null() { std::ptr::NonNull::<u8>::dangling().as_ptr() } else { ptr };
    let owner = PyBytesOwner { _view: view.unbind(), ptr, len };
    Ok(if readonly { gst::Memory::from_slice(owner) } else { gst::Memory::from_mut_slice(owner) })
}

/// A new writable memory holding `size` bytes of `mem` from `offset` (both checked).
pub fn copy_memory(mem: &gst::MemoryRef, offset: usize, size: usize) -> gst::Memory {
    // SAFETY: offset + size lie within the memory's size (checked by the callers with
    // `sub_range`); gst_memory_copy returns a new memory we own.
    unsafe {
        gst::glib::translate::from_glib_full(gst::ffi::gst_memory_copy(
            mem.as_mut_ptr(),
            offset as isize,
            size as isize,
        ))
    }
}

/// A block of memory, as in GStreamer: `size` bytes at `offset` in `maxsize` allocated.
#[pyclass(frozen, name = "Memory", module = "framepipe._framepipe")]
pub struct PyMemory {
    mem: Mutex<gst::Memory>,
}

impl PyMemory {
    pub fn from_gst(mem: gst::Memory) -> PyMemory {
        PyMemory { mem: Mutex::new(mem) }
    }

    /// A new reference to the GstMemory.
    pub fn gst(&self) -> gst::Memory {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, gst::Memory> {
        self.mem.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn range(&self, offset: i64, size: i64) -> PyResult<(usize, usize)> {
        let offset = non_negative("offset", offset)?;
        let size = isize::try_from(size).map_err(|_| PyValueError::new_err(format!("size {size} is too large")))?;
        if size < -1 {
            return Err(PyValueError::new_err(format!("size must be -1 (to the end) or >= 0, got {size}")));
        }
        sub_range(self.lock().size(), offset, size).map_err(to_py)
    }
}

fn writable(mem: &gst::MemoryRef) -> bool {
    // SAFETY: plain query on a valid memory.
    let lock_writable = unsafe { gst::ffi::gst_mini_object_is_writable(mem.as_ptr().cast()) != 0 };
    lock_writable && !mem.flags().contains(gst::MemoryFlags::READONLY)
}

#[pymethods]
impl PyMemory {
    /// New system memory of `size` bytes.
    #[staticmethod]
    fn allocate(size: i64) -> PyResult<PyMemory> {
        Ok(PyMemory::from_gst(gst::Memory::with_size(non_negative("size", size)?)))
    }

    /// Memory over the bytes of `obj` without copying; see `Buffer.wrap`.
    #[staticmethod]
    fn wrap(obj: &Bound<'_, PyAny>) -> PyResult<PyMemory> {
        Ok(PyMemory::from_gst(wrap_object(obj)?))
    }

    #[getter]
    fn size(&self) -> usize {
        self.lock().size()
    }

    fn __len__(&self) -> usize {
        self.size()
    }

    #[getter]
    fn offset(&self) -> usize {
        self.lock().offset()
    }

    #[getter]
    fn maxsize(&self) -> usize {
        self.lock().maxsize()
    }

    /// `(size, offset, maxsize)`, like gst_memory_get_sizes.
    fn get_sizes(&self) -> (usize, usize, usize) {
        let m = self.lock();
        (m.size(), m.offset(), m.maxsize())
    }

    /// A writable copy of `size` bytes (-1: to the end) from `offset`.
    #[pyo3(signature = (offset=0, size=-1))]
    fn copy(&self, offset: i64, size: i64) -> PyResult<PyMemory> {
        let (offset, size) = self.range(offset, size)?;
        Ok(PyMemory::from_gst(copy_memory(&self.lock(), offset, size)))
    }

    /// A read-only memory sharing `size` bytes (-1: to the end) from `offset` (no copy).
    #[pyo3(signature = (offset=0, size=-1))]
    fn share(&self, offset: i64, size: i64) -> PyResult<PyMemory> {
        let (offset, size) = self.range(offset, size)?;
        let m = self.lock();
        if m.flags().contains(gst::MemoryFlags::NO_SHARE) {
            // gst_memory_share answers this with a GLib critical.
            return Err(PyBufferError::new_err("this memory cannot be shared (flag NO_SHARE); use copy()"));
        }
        // SAFETY: the range lies within the memory (checked by `range`); gst_memory_share
        // returns a new memory we own, holding a reference to its parent.
        let shared: Option<gst::Memory> = unsafe {
            gst::glib::translate::from_glib_full(gst::ffi::gst_memory_share(
                m.as_mut_ptr(),
                offset as isize,
                size as isize,
            ))
        };
        shared
            .map(PyMemory::from_gst)
            .ok_or_else(|| PyBufferError::new_err("this memory cannot be shared (its allocator refuses)"))
    }

    /// Moves the start by `offset` (may be negative) and sets the size; the result must stay
    /// within `maxsize`. The memory must be writable.
    fn resize(&self, offset: i64, size: i64) -> PyResult<()> {
        let size = non_negative("size", size)?;
        let delta =
            isize::try_from(offset).map_err(|_| PyValueError::new_err(format!("offset {offset} is too large")))?;
        let mut m = self.lock();
        resize(m.offset(), m.maxsize(), delta, size).map_err(to_py)?;
        // gst_memory_resize checks neither flag nor lock: a read-only memory (a share of
        // another, or wrapped immutable data) would be resized under its other users.
        if !writable(&m) {
            return Err(PyBufferError::new_err(
                "the memory is not writable: it is read-only (shared or wrapped) or in use by several buffers",
            ));
        }
        let m = m
            .get_mut()
            .ok_or_else(|| PyBufferError::new_err("the memory is not writable: it is shared by several buffers"))?;
        // SAFETY: the memory is writable (get_mut) and the new range lies within maxsize
        // (checked by `resize`), which is what gst_memory_resize requires.
        unsafe { gst::ffi::gst_memory_resize(m.as_mut_ptr(), delta, size) };
        Ok(())
    }

    /// `(True, offset)` if `other` directly follows this memory in one parent (so the two
    /// can be merged without copying), where offset is this memory's offset in the parent.
    fn is_span(&self, other: &Bound<'_, PyMemory>) -> (bool, usize) {
        let other = other.get().gst();
        match self.lock().is_span(&other) {
            Some(offset) => (true, offset),
            None => (false, 0),
        }
    }

    /// Whether the memory's allocator has type `name` (e.g. "SystemMemory").
    fn is_type(&self, name: &str) -> bool {
        self.lock().is_type(name)
    }

    /// Whether the memory can be mapped for write: not read-only and not shared by buffers.
    #[getter]
    fn is_writable(&self) -> bool {
        writable(&self.lock())
    }

    #[getter]
    fn is_readonly(&self) -> bool {
        self.lock().flags().contains(gst::MemoryFlags::READONLY)
    }

    /// Maps the memory; use as a context manager. `write=True` needs a writable memory.
    #[pyo3(signature = (write=false))]
    fn map(&self, write: bool) -> PyResult<PyMapping> {
        let mem = self.gst();
        if write && !writable(&mem) {
            return Err(PyBufferError::new_err(
                "the memory is not writable: it is read-only (shared or wrapped) or in use by several buffers",
            ));
        }
        let m = Mapped::memory(mem, write).map_err(to_py)?;
        Ok(PyMapping::new(std::sync::Arc::new(m), write))
    }

    fn __repr__(&self) -> String {
        let m = self.lock();
        format!("<Memory size={} offset={} maxsize={}>", m.size(), m.offset(), m.maxsize())
    }
}
