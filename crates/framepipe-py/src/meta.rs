//! Analytics metadata seen from Python: `Region`, `Tensor`, the Frame methods that add and
//! read them (`frame.add_region`, `frame.tensors`, `frame.add_message`, ...) and
//! `read_metadata`. Everything is stored by `framepipe_core::meta`, so other GStreamer
//! elements (fpoverlay, fpmetawriter, anything reading GstVideoRegionOfInterestMeta) see it.
//!
//! Adding metadata needs a writable frame (from `copy()`, `Frame.from_array`, a probe or
//! `pyfunc`); read-only frames raise BufferError, as mapping them for writing does.

use std::path::PathBuf;
use std::sync::Mutex;

use framepipe_core::View;
use framepipe_core::media::MediaInfo;
use framepipe_core::meta::{self, RegionSpec, Tensor};
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyBufferError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use serde_json::{Map, Value};

use crate::array::view_array;
use crate::errors::FpResult;

/// What metadata needs of the frame it is on. `Frame` implements it (frame.rs), so that
/// this module needs nothing of frame.rs: frames use metadata, not the other way round.
pub trait MetaFrame {
    /// Runs `f` on the frame's buffer; BufferError once the frame was released.
    fn read_metas(&self, f: &mut dyn FnMut(&gst::BufferRef)) -> PyResult<()>;
    /// Runs `f` on the frame's buffer to change its metas; BufferError for a read-only frame.
    fn write_metas(&self, f: &mut dyn FnMut(&mut gst::BufferRef)) -> PyResult<()>;
    fn media(&self) -> &MediaInfo;
}

/// How a `Region` finds the [`MetaFrame`] behind the frame object it keeps.
pub type FrameOf = for<'a, 'py> fn(&'a Bound<'py, PyAny>) -> Option<&'a dyn MetaFrame>;

fn read<R>(frame: &dyn MetaFrame, f: impl FnOnce(&gst::BufferRef) -> R) -> PyResult<R> {
    let (mut f, mut out) = (Some(f), None);
    frame.read_metas(&mut |b| out = f.take().map(|f| f(b)))?;
    out.ok_or_else(|| PyBufferError::new_err("the frame has no buffer"))
}

fn write<R>(frame: &dyn MetaFrame, f: impl FnOnce(&mut gst::BufferRef) -> R) -> PyResult<R> {
    let (mut f, mut out) = (Some(f), None);
    frame.write_metas(&mut |b| out = f.take().map(|f| f(b)))?;
    out.ok_or_else(|| PyBufferError::new_err("the frame has no buffer"))
}

static JSON_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn dumps(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = obj.py();
    JSON_DUMPS.import(py, "json", "dumps")?.call1((obj,))?.extract()
}

fn loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    JSON_LOADS.import(py, "json", "loads")?.call1((text,))
}

/// A dict (or None) as a JSON object; TypeError for anything else or what JSON cannot hold.
fn json_object(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Map<String, Value>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    if !obj.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!("{what} must be a dict, not {}", obj.get_type().name()?)));
    }
    let text = dumps(obj).map_err(|e| PyTypeError::new_err(format!("{what} cannot be stored as JSON: {e}")))?;
    serde_json::from_str(&text).map(Some).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    loads(py, &value.to_string())
}

/// A region of interest on a frame: a box in pixels with a label, a confidence,
/// attributes and tensors. Stored as a GstVideoRegionOfInterestMeta.
#[pyclass(frozen, name = "Region", module = "framepipe._framepipe")]
pub struct PyRegion {
    frame: Py<PyAny>,
    frame_of: FrameOf,
    region: Mutex<meta::Region>,
}

impl PyRegion {
    fn new(frame: &Bound<'_, PyAny>, frame_of: FrameOf, region: meta::Region) -> PyRegion {
        PyRegion { frame: frame.clone().unbind(), frame_of, region: Mutex::new(region) }
    }

    /// Runs `f` on the buffer of the region's frame, to change its metas.
    fn write_frame<R>(&self, f: impl FnOnce(&mut gst::BufferRef) -> R) -> PyResult<R> {
        Python::attach(|py| {
            let frame = self.frame.bind(py);
            let frame = (self.frame_of)(frame).ok_or_else(|| PyTypeError::new_err("a region's frame is a Frame"))?;
            write(frame, f)
        })
    }

    fn get(&self) -> std::sync::MutexGuard<'_, meta::Region> {
        self.region.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(
        &self,
        label: Option<&str>,
        confidence: Option<f64>,
        attributes: Option<&Map<String, Value>>,
    ) -> FpResult<()> {
        let id = self.get().id;
        let updated = self.write_frame(|b| meta::update_region(b, id, label, confidence, attributes))??;
        *self.get() = updated;
        Ok(())
    }
}

#[pymethods]
impl PyRegion {
    #[getter]
    fn x(&self) -> u32 {
        self.get().x
    }

    #[getter]
    fn y(&self) -> u32 {
        self.get().y
    }

    #[getter]
    fn w(&self) -> u32 {
        self.get().w
    }

    #[getter]
    fn h(&self) -> u32 {
        self.get().h
    }

    /// Id on the frame (from 1).
    #[getter]
    fn id(&self) -> i32 {
        self.get().id
    }

    /// Id of the parent region, 0 for none.
    #[getter]
    fn parent_id(&self) -> i32 {
        self.get().parent_id
    }

    #[getter]
    fn label(&self) -> String {
        self.get().label.clone()
    }

    #[setter]
    fn set_label(&self, label: &str) -> PyResult<()> {
        Ok(self.update(Some(label), None, None)?)
    }

    #[getter]
    fn confidence(&self) -> f64 {
        self.get().confidence
    }

    #[setter]
    fn set_confidence(&self, confidence: f64) -> PyResult<()> {
        Ok(self.update(None, Some(confidence), None)?)
    }

    /// A new dict of the attributes; assign a dict to change them.
    #[getter]
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let attributes = Value::Object(self.get().attributes.clone());
        json_to_py(py, &attributes)
    }

    #[setter]
    fn set_attributes(&self, attributes: &Bound<'_, PyAny>) -> PyResult<()> {
        let map = json_object(Some(attributes), "attributes")?.unwrap_or_default();
        Ok(self.update(None, None, Some(&map))?)
    }

    /// The region's (x, y, w, h).
    #[getter]
    fn rect(&self) -> (u32, u32, u32, u32) {
        let r = self.get();
        (r.x, r.y, r.w, r.h)
    }

    #[getter]
    fn tensors(&self) -> Vec<PyTensor> {
        self.get().tensors.iter().cloned().map(PyTensor::from).collect()
    }

    /// Attaches a named n-d array (copied) to this region.
    fn add_tensor(&self, name: &str, array: &Bound<'_, PyAny>) -> FpResult<PyTensor> {
        let tensor = tensor_from(name, array)?;
        let id = self.get().id;
        self.write_frame(|b| meta::add_region_tensor(b, id, &tensor))??;
        self.get().tensors.push(tensor.clone());
        Ok(PyTensor::from(tensor))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyRegion>() {
            // Clone first: `other` may be this very region (one lock).
            Ok(o) => {
                let theirs = o.get().get().clone();
                *self.get() == theirs
            }
            Err(_) => false,
        }
    }

    fn __repr__(&self) -> String {
        let r = self.get();
        format!(
            "<Region id={} ({}, {}, {}, {}) label={:?} confidence={:.3}>",
            r.id, r.x, r.y, r.w, r.h, r.label, r.confidence
        )
    }
}

/// A named n-d array attached to a frame or a region.
#[pyclass(frozen, name = "Tensor", module = "framepipe._framepipe")]
pub struct PyTensor {
    tensor: Tensor,
}

impl From<Tensor> for PyTensor {
    fn from(tensor: Tensor) -> Self {
        PyTensor { tensor }
    }
}

/// Keeps a tensor's bytes alive for the arrays viewing them.
#[pyclass(frozen, name = "_TensorData", module = "framepipe._framepipe")]
pub struct PyTensorData {
    bytes: gst::glib::Bytes,
}

#[pymethods]
impl PyTensorData {
    fn __len__(&self) -> usize {
        self.bytes.len()
    }
}

#[pymethods]
impl PyTensor {
    #[getter]
    fn name(&self) -> &str {
        self.tensor.name()
    }

    /// numpy's name of the element type ("float32", "int64", ...).
    #[getter]
    fn dtype(&self) -> &'static str {
        self.tensor.dtype().name()
    }

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.tensor.shape())
    }

    /// The data as a read-only array of the dtype and shape it was added with (zero-copy).
    #[getter]
    fn array<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (dtype, shape) = (self.tensor.dtype(), self.tensor.shape());
        if self.tensor.data().is_empty() {
            let np = py.import("numpy")?;
            let empty = np.call_method1("zeros", (PyTuple::new(py, shape)?, dtype.name()))?;
            empty.getattr("flags")?.setattr("writeable", false)?;
            return Ok(empty);
        }
        let mut strides = vec![0isize; shape.len()];
        let mut step = dtype.size() as isize;
        for (s, &n) in strides.iter_mut().zip(shape).rev() {
            *s = step;
            step *= n as isize;
        }
        let view = View { offset: 0, shape: shape.to_vec(), strides, dtype };
        let bytes = self.tensor.data().clone();
        // The bytes, not the GBytes handle (whose `as_ptr` is the wrapper pointer).
        let base = AsRef::<[u8]>::as_ref(&bytes).as_ptr() as *mut u8;
        let owner = Bound::new(py, PyTensorData { bytes })?.into_any();
        // SAFETY: `Tensor::new` checked that the bytes hold exactly shape x dtype in C
        // order, which is what `view` describes; `owner` keeps those (immutable, shared)
        // bytes alive, and the array is read-only so they are never written.
        unsafe { view_array(py, &view, base, false, owner) }
    }

    fn __repr__(&self) -> String {
        format!("<Tensor {:?} {} {:?}>", self.tensor.name(), self.tensor.dtype().name(), self.tensor.shape())
    }
}

/// A tensor holding a C-ordered, native copy of `array` (anything numpy.asarray takes).
fn tensor_from(name: &str, array: &Bound<'_, PyAny>) -> FpResult<Tensor> {
    let py = array.py();
    let np = py.import("numpy")?;
    let arr = np.call_method1("asarray", (array,))?;
    let dtype_name: String = arr.getattr("dtype")?.getattr("name")?.extract()?;
    let dtype = meta::tensor_dtype(&dtype_name)?;
    let arr = np
        .call_method1("ascontiguousarray", (arr, dtype.name()))?
        .cast_into::<PyUntypedArray>()
        .map_err(PyErr::from)?;
    let shape = arr.shape().to_vec();
    let n = arr.len() * dtype.size();
    let data = if n == 0 {
        &[][..]
    } else {
        // SAFETY: the array is C-contiguous, native and of `dtype`, so its data pointer
        // addresses `len * itemsize` bytes; it stays alive (and, with the GIL held, is not
        // resized) while the slice is copied.
        unsafe { std::slice::from_raw_parts((*arr.as_array_ptr()).fields.data as *const u8, n) }
    };
    Ok(Tensor::from_slice(name, dtype, shape, data)?)
}

fn frame_size(frame: &dyn MetaFrame) -> PyResult<(u32, u32)> {
    match frame.media() {
        MediaInfo::Video(v) => Ok((v.width(), v.height())),
        _ => Err(PyValueError::new_err("regions need a video frame (its caps give no width and height)")),
    }
}

pub fn add_region(
    obj: &Bound<'_, PyAny>,
    frame_of: FrameOf,
    (x, y, w, h): (f64, f64, f64, f64),
    label: &str,
    confidence: f64,
    normalized: bool,
    attributes: Option<&Bound<'_, PyAny>>,
) -> FpResult<PyRegion> {
    let frame = frame_of(obj).ok_or_else(|| PyTypeError::new_err("regions are added to a Frame"))?;
    let (width, height) = frame_size(frame)?;
    let attributes = json_object(attributes, "attributes")?;
    let spec =
        RegionSpec { x, y, w, h, label, confidence, normalized, attributes: attributes.as_ref(), parent_id: None };
    let region = write(frame, |b| meta::add_region(b, width, height, &spec))??;
    Ok(PyRegion::new(obj, frame_of, region))
}

pub fn regions(obj: &Bound<'_, PyAny>, frame_of: FrameOf) -> PyResult<Vec<PyRegion>> {
    let frame = frame_of(obj).ok_or_else(|| PyTypeError::new_err("regions are on a Frame"))?;
    let list = read(frame, meta::regions)?;
    Ok(list.into_iter().map(|r| PyRegion::new(obj, frame_of, r)).collect())
}

pub fn remove_region(frame: &dyn MetaFrame, region: &Bound<'_, PyAny>) -> FpResult<()> {
    let id = match region.cast::<PyRegion>() {
        Ok(r) => r.get().id(),
        Err(_) => {
            region.extract::<i32>().map_err(|_| PyTypeError::new_err("remove_region takes a Region or its id"))?
        }
    };
    Ok(write(frame, |b| meta::remove_region(b, id))??)
}

pub fn add_tensor(frame: &dyn MetaFrame, name: &str, array: &Bound<'_, PyAny>) -> FpResult<PyTensor> {
    let tensor = tensor_from(name, array)?;
    write(frame, |b| meta::add_tensor(b, tensor.clone()))?;
    Ok(PyTensor::from(tensor))
}

pub fn add_message(frame: &dyn MetaFrame, message: &Bound<'_, PyAny>) -> FpResult<()> {
    if let Ok(s) = message.cast::<PyString>() {
        let value = Value::String(s.to_str()?.to_owned());
        return Ok(write(frame, |b| meta::add_message(b, &value))?);
    }
    if !message.is_instance_of::<PyDict>() {
        let type_name = message.get_type().name()?;
        return Err(framepipe_core::Error::Type(format!("a message is a dict or a str, not {type_name}")).into());
    }
    let text =
        dumps(message).map_err(|e| PyTypeError::new_err(format!("the message cannot be stored as JSON: {e}")))?;
    Ok(write(frame, |b| meta::add_message_json(b, &text))??)
}

pub fn messages<'py>(py: Python<'py>, frame: &dyn MetaFrame) -> PyResult<Bound<'py, PyList>> {
    let texts = read(frame, meta::message_texts)?;
    let items = texts.iter().map(|t| loads(py, t)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// Reads the JSON Lines file `fpmetawriter` wrote: one dict per frame.
#[pyfunction]
pub fn read_metadata<'py>(py: Python<'py>, path: PathBuf) -> FpResult<Bound<'py, PyList>> {
    let records = py.detach(move || meta::read_metadata(&path))?;
    let items = records.iter().map(|r| json_to_py(py, r)).collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?)
}
