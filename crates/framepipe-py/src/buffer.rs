//! `Buffer`: a GstBuffer held safely from Python, and the mapping object that numpy arrays
//! use as their base so that a view can never outlive its mapped memory.

use std::sync::{Arc, Mutex, MutexGuard};

use framepipe_core::Error;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::to_py;

/// A buffer mapped for as long as this value lives.
pub enum Mapped {
    Read(gst::MappedBuffer<gst::buffer::Readable>),
    Write { map: gst::MappedBuffer<gst::buffer::Writable>, data: DataPtr },
}

/// The start of a writable mapping, taken once when it was made.
pub struct DataPtr(*mut u8);

// SAFETY: the pointer is only the address of the mapped memory, which belongs to the
// MappedBuffer beside it and stays valid and at the same address until that is dropped;
// GstBuffer memory may be used from any thread.
unsafe impl Send for DataPtr {}
// SAFETY: as above; concurrent writes are the same data races numpy arrays always allow.
unsafe impl Sync for DataPtr {}

impl Mapped {
    /// Maps `buffer` readable, or writable if asked (the buffer must then be writable).
    /// On failure the buffer comes back with the error.
    pub fn new(buffer: gst::Buffer, write: bool) -> Result<Mapped, (Error, gst::Buffer)> {
        if write {
            let mut map = buffer.into_mapped_buffer_writable().map_err(|b| {
                (Error::Buffer("the buffer is not writable: it is shared (use make_writable() or copy())".into()), b)
            })?;
            let data = DataPtr(map.as_mut_slice().as_mut_ptr());
            Ok(Mapped::Write { map, data })
        } else {
            let map = buffer
                .into_mapped_buffer_readable()
                .map_err(|b| (Error::Buffer("the buffer cannot be mapped for reading".into()), b))?;
            Ok(Mapped::Read(map))
        }
    }

    /// Unmaps and returns the buffer.
    pub fn into_buffer(self) -> gst::Buffer {
        match self {
            Mapped::Read(m) => m.into_buffer(),
            Mapped::Write { map, .. } => map.into_buffer(),
        }
    }

    pub fn buffer(&self) -> &gst::BufferRef {
        match self {
            Mapped::Read(m) => m.buffer(),
            Mapped::Write { map, .. } => map.buffer(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Mapped::Read(m) => m.len(),
            Mapped::Write { map, .. } => map.len(),
        }
    }

    pub fn is_writable(&self) -> bool {
        matches!(self, Mapped::Write { .. })
    }

    /// Start of the mapped bytes. Only writable mappings may be written through it.
    pub fn as_ptr(&self) -> *mut u8 {
        match self {
            Mapped::Read(m) => m.as_slice().as_ptr().cast_mut(),
            Mapped::Write { data, .. } => data.0,
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Mapped::Read(m) => m.as_slice(),
            // SAFETY: `data` points at `len()` mapped bytes owned by `map`.
            Mapped::Write { data, .. } => unsafe { std::slice::from_raw_parts(data.0, self.len()) },
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

/// A GStreamer buffer: bytes plus timestamps and flags.
#[pyclass(frozen, name = "Buffer", module = "framepipe._framepipe")]
pub struct PyBuffer {
    inner: Mutex<gst::Buffer>,
}

impl PyBuffer {
    pub fn from_gst(buffer: gst::Buffer) -> PyBuffer {
        PyBuffer { inner: Mutex::new(buffer) }
    }

    pub fn lock(&self) -> MutexGuard<'_, gst::Buffer> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new reference to the GstBuffer.
    pub fn gst(&self) -> gst::Buffer {
        self.lock().clone()
    }
}

fn ns(t: Option<gst::ClockTime>) -> Option<u64> {
    t.map(|t| t.nseconds())
}

#[pymethods]
impl PyBuffer {
    #[new]
    fn new(size: usize) -> PyResult<PyBuffer> {
        let buffer = gst::Buffer::with_size(size).map_err(|e| to_py(e.into()))?;
        Ok(PyBuffer::from_gst(buffer))
    }

    /// A new buffer holding a copy of `data`.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyBuffer {
        PyBuffer::from_gst(gst::Buffer::from_slice(data.to_vec()))
    }

    #[getter]
    fn size(&self) -> usize {
        self.lock().size()
    }

    fn __len__(&self) -> usize {
        self.size()
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let buffer = self.gst();
        let map = buffer.map_readable().map_err(|_| to_py(Error::Buffer("the buffer cannot be mapped".into())))?;
        Ok(PyBytes::new(py, map.as_slice()))
    }

    #[getter]
    fn pts(&self) -> Option<u64> {
        ns(self.lock().pts())
    }

    #[getter]
    fn dts(&self) -> Option<u64> {
        ns(self.lock().dts())
    }

    #[getter]
    fn duration(&self) -> Option<u64> {
        ns(self.lock().duration())
    }

    #[getter]
    fn is_writable(&self) -> bool {
        self.lock().is_writable()
    }

    fn __repr__(&self) -> String {
        let b = self.lock();
        format!("<Buffer {} bytes pts={:?}>", b.size(), b.pts().map(|t| t.nseconds()))
    }
}
