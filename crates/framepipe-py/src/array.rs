//! numpy arrays over memory framepipe owns: views whose base object keeps a buffer mapped,
//! and borrowed views of the caller's arrays for copying into buffers.

use framepipe_core::pack::ArrayRef;
use framepipe_core::{Dtype, View};
use numpy::npyffi::{self, NPY_ARRAY_WRITEABLE, NpyTypes, PY_ARRAY_API, npy_intp};
use numpy::{Element, PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

fn descr(py: Python<'_>, dtype: Dtype) -> Bound<'_, PyArrayDescr> {
    match dtype {
        Dtype::U8 => u8::get_dtype(py),
        Dtype::I8 => i8::get_dtype(py),
        Dtype::U16 => u16::get_dtype(py),
        Dtype::I16 => i16::get_dtype(py),
        Dtype::U32 => u32::get_dtype(py),
        Dtype::I32 => i32::get_dtype(py),
        Dtype::F32 => f32::get_dtype(py),
        Dtype::F64 => f64::get_dtype(py),
        Dtype::I64 => i64::get_dtype(py),
        Dtype::U64 => u64::get_dtype(py),
        Dtype::Bool => bool::get_dtype(py),
    }
}

/// The framepipe dtype of a numpy dtype, or TypeError for one framepipe does not carry.
pub fn dtype_of(py: Python<'_>, d: &Bound<'_, PyArrayDescr>) -> PyResult<Dtype> {
    for dtype in [
        Dtype::U8,
        Dtype::I8,
        Dtype::U16,
        Dtype::I16,
        Dtype::U32,
        Dtype::I32,
        Dtype::F32,
        Dtype::F64,
        Dtype::I64,
        Dtype::U64,
        Dtype::Bool,
    ] {
        if d.is_equiv_to(&descr(py, dtype)) {
            return Ok(dtype);
        }
    }
    Err(PyTypeError::new_err(format!("arrays of dtype {d} are not supported")))
}

/// Makes an ndarray described by `view` over the memory at `base`, owned by `owner`
/// (which becomes the array's `base` and must keep the memory valid and mapped).
///
/// # Safety
/// `base + view.offset` must point to at least `view.span()` bytes that stay valid for as
/// long as `owner` lives, and be writable if `writable` is true.
pub unsafe fn view_array<'py>(
    py: Python<'py>,
    view: &View,
    base: *mut u8,
    writable: bool,
    owner: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut dims: Vec<npy_intp> = view.shape.iter().map(|&d| d as npy_intp).collect();
    let mut strides: Vec<npy_intp> = view.strides.iter().map(|&s| s as npy_intp).collect();
    let flags = if writable { NPY_ARRAY_WRITEABLE } else { 0 };
    // SAFETY: the caller guarantees the memory; numpy takes the descr reference (into_ptr),
    // copies dims and strides, and does not free `data` (no OWNDATA flag).
    unsafe {
        let data = base.add(view.offset);
        let ptr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, NpyTypes::PyArray_Type),
            descr(py, view.dtype).into_ptr().cast(),
            dims.len() as i32,
            dims.as_mut_ptr(),
            strides.as_mut_ptr(),
            data.cast(),
            flags,
            std::ptr::null_mut(),
        );
        let array = Bound::from_owned_ptr_or_err(py, ptr)?;
        // PyArray_SetBaseObject steals the reference to owner, even on failure.
        if PY_ARRAY_API.PyArray_SetBaseObject(py, ptr.cast::<npyffi::PyArrayObject>(), owner.into_ptr()) < 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(array)
    }
}

/// A numpy array the caller passed in, ready to be read as an [`ArrayRef`].
pub struct Borrowed<'py> {
    array: Bound<'py, PyUntypedArray>,
    pub dtype: Dtype,
    span: usize,
}

impl<'py> Borrowed<'py> {
    /// Accepts any ndarray of a supported dtype; arrays with negative strides or a
    /// non-native byte order are copied into a C-ordered native one first.
    pub fn new(obj: &Bound<'py, PyAny>) -> PyResult<Borrowed<'py>> {
        let py = obj.py();
        let mut array = obj.cast::<PyUntypedArray>()?.clone();
        let native = array.dtype().is_native_byteorder().unwrap_or(true);
        if array.strides().iter().any(|&s| s < 0) || !native {
            let np = py.import("numpy")?;
            let dt = array.dtype().call_method1("newbyteorder", ("=",))?;
            array = np.call_method1("ascontiguousarray", (&array, dt))?.cast_into::<PyUntypedArray>()?;
        }
        let dtype = dtype_of(py, &array.dtype())?;
        let view = View { offset: 0, shape: array.shape().to_vec(), strides: array.strides().to_vec(), dtype };
        let span = view.span().ok_or_else(|| PyValueError::new_err("array strides cannot be addressed"))?;
        Ok(Borrowed { array, dtype, span })
    }

    /// The array's elements as bytes with its shape and strides.
    pub fn as_ref(&self) -> ArrayRef<'_> {
        // SAFETY: numpy guarantees `span` bytes from `data` are addressable by the array's
        // own shape and strides (all non-negative here); `self.array` keeps it alive and we
        // hold the GIL while the slice is used, so it cannot be resized or freed meanwhile.
        let data = unsafe {
            let ptr = (*self.array.as_array_ptr()).fields.data as *const u8;
            if self.span == 0 { &[][..] } else { std::slice::from_raw_parts(ptr, self.span) }
        };
        ArrayRef { data, shape: self.array.shape(), strides: self.array.strides(), dtype: self.dtype }
    }

    pub fn shape(&self) -> &[usize] {
        self.array.shape()
    }
}
