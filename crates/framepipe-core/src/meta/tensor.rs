//! Named n-dimensional arrays attached to a frame (`frame.add_tensor` / `frame.tensors`),
//! kept in a framepipe meta (API type `GstFpTensorMetaAPI`) that buffer copies and every
//! GstBaseTransform carry along. The bytes are reference-counted, so copying a buffer
//! never copies tensor data.

use gst::glib;

use super::custom;
use crate::layout::Dtype;
use crate::{Error, Result};

/// A named, C-contiguous, native-endian n-d array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: glib::Bytes,
}

impl Tensor {
    /// A tensor over `data`, which must hold exactly `shape.product() * dtype.size()`
    /// bytes in C order ([`Error::Value`] otherwise).
    pub fn new(name: impl Into<String>, dtype: Dtype, shape: Vec<usize>, data: glib::Bytes) -> Result<Tensor> {
        let name = name.into();
        let expected = shape
            .iter()
            .try_fold(dtype.size(), |acc, &n| acc.checked_mul(n))
            .ok_or_else(|| Error::Value(format!("tensor {name:?}: shape {shape:?} is too large")))?;
        if data.len() != expected {
            return Err(Error::Value(format!(
                "tensor {name:?}: {} bytes do not make an array of shape {shape:?} and dtype {} ({expected} bytes)",
                data.len(),
                dtype.name()
            )));
        }
        Ok(Tensor { name, dtype, shape, data })
    }

    /// A tensor over a copy of `data`.
    pub fn from_slice(name: impl Into<String>, dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<Tensor> {
        Tensor::new(name, dtype, shape, glib::Bytes::from(data))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The array's bytes; clone the `Bytes` to keep them alive without copying.
    pub fn data(&self) -> &glib::Bytes {
        &self.data
    }

    /// `{"name", "shape", "dtype"}` as fpmetawriter writes it.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({ "name": self.name, "shape": self.shape, "dtype": self.dtype.name() })
    }

    /// The tensor as a GstStructure named `tensor` (fields `name`, `dtype`, `shape`
    /// (array of uint64), `data` (GBytes)), which is how region tensors are stored in a
    /// region's params.
    pub(crate) fn to_structure(&self) -> gst::Structure {
        gst::Structure::builder(TENSOR_STRUCTURE)
            .field("name", self.name.as_str())
            .field("dtype", self.dtype.name())
            .field("shape", gst::Array::new(self.shape.iter().map(|&n| n as u64)))
            .field("data", &self.data)
            .build()
    }

    pub(crate) fn from_structure(s: &gst::StructureRef) -> Result<Tensor> {
        let bad = |what: &str| Error::Value(format!("malformed tensor structure ({what}): {s}"));
        let name = s.get::<String>("name").map_err(|_| bad("name"))?;
        let dtype = s.get::<&str>("dtype").ok().and_then(Dtype::from_name).ok_or_else(|| bad("dtype"))?;
        let shape = s
            .get::<gst::ArrayRef>("shape")
            .map_err(|_| bad("shape"))?
            .iter()
            .map(|v| v.get::<u64>().ok().and_then(|n| usize::try_from(n).ok()))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| bad("shape"))?;
        let data = s.get::<glib::Bytes>("data").map_err(|_| bad("data"))?;
        Tensor::new(name, dtype, shape, data)
    }
}

/// The element type for numpy's dtype name (`str(array.dtype)`): the numeric types of
/// [`Dtype`] (including `int64`, `uint64` and `bool`). Anything else (`object`, `float16`,
/// strings, records) is an
/// [`Error::Type`], which Python raises as `TypeError`.
pub fn tensor_dtype(numpy_name: &str) -> Result<Dtype> {
    Dtype::from_name(numpy_name).ok_or_else(|| {
        Error::Type(format!(
            "tensors hold numeric arrays (uint8, int8, uint16, int16, uint32, int32, uint64, int64, float32, float64, bool), not {numpy_name}"
        ))
    })
}

pub(crate) const TENSOR_STRUCTURE: &str = "tensor";

#[derive(Debug, Clone, Default)]
/// The payload of [`TensorMeta`].
pub struct Tensors(pub(crate) Vec<Tensor>);

custom::payload!(Tensors, api = c"GstFpTensorMetaAPI", meta = c"GstFpTensorMeta");

/// The meta type that carries a frame's tensors (API type `GstFpTensorMetaAPI`).
pub type TensorMeta = custom::FpMeta<Tensors>;

/// Attaches `tensor` to the frame after the ones it has. Names need not be unique.
pub fn add_tensor(buffer: &mut gst::BufferRef, tensor: Tensor) {
    custom::payload_mut::<Tensors>(buffer).payload_mut().0.push(tensor);
}

/// The frame's tensors in the order they were added.
pub fn tensors(buffer: &gst::BufferRef) -> Vec<Tensor> {
    custom::payloads::<Tensors>(buffer).flat_map(|p| p.0.iter().cloned()).collect()
}

/// Removes every tensor called `name`; returns how many there were.
pub fn remove_tensor(buffer: &mut gst::BufferRef, name: &str) -> usize {
    let mut removed = 0;
    for mut m in buffer.iter_meta_mut::<TensorMeta>() {
        let list = &mut m.payload_mut().0;
        let before = list.len();
        list.retain(|t| t.name != name);
        removed += before - list.len();
    }
    removed
}
