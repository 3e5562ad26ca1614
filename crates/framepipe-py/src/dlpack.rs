//! DLPack export of framepipe arrays (`Frame.__dlpack__`): a capsule describing the
//! array's memory in place, owning a reference to the array (and so to its mapping) until
//! the consumer's deleter runs.

use std::ffi::{CStr, c_void};

use numpy::npyffi::PyArrayObject;
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;

use crate::array::dtype_of;

const KDL_CPU: i32 = 1;
const FLAG_READ_ONLY: u64 = 1 << 0;
const FLAG_IS_COPIED: u64 = 1 << 1;

const VERSIONED: &CStr = c"dltensor_versioned";
const LEGACY: &CStr = c"dltensor";

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
struct DLPackVersion {
    major: u32,
    minor: u32,
}

#[repr(C)]
struct DLManagedTensorVersioned {
    version: DLPackVersion,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    flags: u64,
    dl_tensor: DLTensor,
}

/// What the managed tensor owns: shape and strides storage and the array reference.
struct Context {
    _shape: Vec<i64>,
    _strides: Vec<i64>,
    owner: Option<Py<PyAny>>,
}

impl Drop for Context {
    fn drop(&mut self) {
        // Consumers may call the deleter on any thread; the array is released with the
        // interpreter attached (DLPack's deleters may block for the GIL, as numpy's do).
        // While the interpreter shuts down, pyo3's deferred decref takes it instead.
        if let Some(owner) = self.owner.take() {
            let mut owner = Some(owner);
            Python::try_attach(|_| drop(owner.take()));
            drop(owner);
        }
    }
}

/// The legacy tensor's deleter.
///
/// # Safety
/// `t` must be null or a tensor made by [`export`], not yet deleted.
unsafe extern "C" fn delete_legacy(t: *mut DLManagedTensor) {
    if t.is_null() {
        return;
    }
    // SAFETY: `t` and its context were made by Box::into_raw in `export` and the deleter
    // runs once (DLPack's contract), so both are reclaimed exactly once.
    unsafe {
        let t = Box::from_raw(t);
        drop(Box::from_raw(t.manager_ctx.cast::<Context>()));
    }
}

/// The versioned tensor's deleter.
///
/// # Safety
/// `t` must be null or a tensor made by [`export`], not yet deleted.
unsafe extern "C" fn delete_versioned(t: *mut DLManagedTensorVersioned) {
    if t.is_null() {
        return;
    }
    // SAFETY: as in `delete_legacy`.
    unsafe {
        let t = Box::from_raw(t);
        drop(Box::from_raw(t.manager_ctx.cast::<Context>()));
    }
}

/// Capsule destructor: if no consumer took the tensor (the name is unchanged), free it.
///
/// # Safety
/// Called by CPython with a capsule made by [`export`].
unsafe extern "C" fn capsule_destructor(capsule: *mut ffi::PyObject) {
    // SAFETY: called by CPython with the capsule being destroyed and the GIL held; the
    // pointer is fetched under the name it was created with, which a consumer renames to
    // "used_..." when it takes ownership.
    unsafe {
        if ffi::PyCapsule_IsValid(capsule, VERSIONED.as_ptr()) == 1 {
            let t = ffi::PyCapsule_GetPointer(capsule, VERSIONED.as_ptr()).cast::<DLManagedTensorVersioned>();
            delete_versioned(t);
        } else if ffi::PyCapsule_IsValid(capsule, LEGACY.as_ptr()) == 1 {
            let t = ffi::PyCapsule_GetPointer(capsule, LEGACY.as_ptr()).cast::<DLManagedTensor>();
            delete_legacy(t);
        }
    }
}

fn dl_dtype(py: Python<'_>, array: &Bound<'_, PyUntypedArray>) -> PyResult<(DLDataType, usize)> {
    use framepipe_core::Dtype;
    let dt = dtype_of(py, &array.dtype())?;
    let (code, bits) = match dt {
        Dtype::U8 => (1, 8),
        Dtype::U16 => (1, 16),
        Dtype::U32 => (1, 32),
        Dtype::I8 => (0, 8),
        Dtype::I16 => (0, 16),
        Dtype::I32 => (0, 32),
        Dtype::F32 => (2, 32),
        Dtype::F64 => (2, 64),
        Dtype::I64 => (0, 64),
        Dtype::U64 => (1, 64),
        Dtype::Bool => (6, 8),
    };
    Ok((DLDataType { code, bits, lanes: 1 }, bits as usize / 8))
}

/// `__dlpack_device__`: framepipe memory is CPU memory.
pub fn device() -> (i32, i32) {
    (KDL_CPU, 0)
}

/// Exports `array` (a framepipe view; `readonly` tells whether it may be written) as a
/// DLPack capsule, versioned when the consumer's `max_version` is 1.x or newer.
///
/// Writable arrays are shared without a copy. Read-only ones are copied (the capsule says
/// so with DLPack's is-copied flag), except with `copy=False`: then a versioned capsule
/// shares them with the read-only flag set, and a legacy one is refused (BufferError).
pub fn export<'py>(
    array: &Bound<'py, PyAny>,
    readonly: bool,
    stream: Option<&Bound<'py, PyAny>>,
    max_version: Option<(u32, u32)>,
    dl_device: Option<(i32, i32)>,
    copy: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = array.py();
    if stream.is_some_and(|s| !s.is_none()) {
        return Err(PyValueError::new_err("stream must be None for CPU memory"));
    }
    if let Some(d) = dl_device
        && d != device()
    {
        return Err(PyBufferError::new_err(format!("framepipe exports CPU memory only, not device {d:?}")));
    }
    let versioned = max_version.is_some_and(|(major, _)| major >= 1);
    // A consumer may ignore DLPack's read-only flag (torch does) or never see it (legacy
    // capsules have none): a read-only frame, whose buffer other branches may share, is
    // copied unless the consumer asks for no copy and can be told it must not write.
    let copied = copy == Some(true) || (readonly && copy.is_none());
    if readonly && copy == Some(false) && !versioned {
        return Err(PyBufferError::new_err(
            "this frame is read-only: it can be exported without a copy only to a consumer that asks \
             with max_version >= (1, 0) and honours DLPack's read-only flag",
        ));
    }
    let array = if copied { array.call_method0("copy")? } else { array.clone() };
    let readonly = readonly && !copied;
    let array = array.cast_into::<PyUntypedArray>()?;
    let (dtype, itemsize) = dl_dtype(py, &array)?;
    let shape: Vec<i64> = array.shape().iter().map(|&d| d as i64).collect();
    let mut strides = Vec::with_capacity(shape.len());
    for &s in array.strides() {
        if s % itemsize as isize != 0 {
            return Err(PyBufferError::new_err("the array's strides are not a multiple of its item size"));
        }
        strides.push((s / itemsize as isize) as i64);
    }
    // SAFETY: `array` is a live ndarray; its data pointer stays valid while the context
    // below holds a reference to it.
    let data = unsafe { (*array.as_ptr().cast::<PyArrayObject>()).fields.data.cast::<c_void>() };
    let mut ctx =
        Box::new(Context { _shape: shape, _strides: strides, owner: Some(array.clone().into_any().unbind()) });
    let tensor = DLTensor {
        data,
        device: DLDevice { device_type: KDL_CPU, device_id: 0 },
        ndim: ctx._shape.len() as i32,
        dtype,
        shape: ctx._shape.as_mut_ptr(),
        strides: ctx._strides.as_mut_ptr(),
        byte_offset: 0,
    };
    let ctx = Box::into_raw(ctx).cast::<c_void>();
    let (ptr, name) = if versioned {
        let mut flags = if readonly { FLAG_READ_ONLY } else { 0 };
        if copied {
            flags |= FLAG_IS_COPIED;
        }
        let t = Box::new(DLManagedTensorVersioned {
            version: DLPackVersion { major: 1, minor: 0 },
            manager_ctx: ctx,
            deleter: Some(delete_versioned),
            flags,
            dl_tensor: tensor,
        });
        (Box::into_raw(t).cast::<c_void>(), VERSIONED)
    } else {
        let t = Box::new(DLManagedTensor { dl_tensor: tensor, manager_ctx: ctx, deleter: Some(delete_legacy) });
        (Box::into_raw(t).cast::<c_void>(), LEGACY)
    };
    // SAFETY: `ptr` is a boxed managed tensor of the kind `name` says; on failure we free it
    // ourselves, on success the capsule destructor or the consumer's deleter will.
    unsafe {
        let capsule = ffi::PyCapsule_New(ptr, name.as_ptr(), Some(capsule_destructor));
        if capsule.is_null() {
            if versioned {
                delete_versioned(ptr.cast());
            } else {
                delete_legacy(ptr.cast());
            }
            return Err(PyErr::fetch(py));
        }
        Ok(Bound::from_owned_ptr(py, capsule))
    }
}
