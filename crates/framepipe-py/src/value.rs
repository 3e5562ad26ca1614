//! GValues to Python objects and back, for element properties and message structures.

use std::sync::{Mutex, PoisonError};

use gst::glib;
use gst::glib::prelude::*;
use gst::glib::translate::ToGlibPtr;
use gst::prelude::*;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

/// The Python Enum class behind each enum property type of a Python element, so that
/// `Element.get` and `Element.properties()` give its members rather than nicks.
static ENUMS: Mutex<Vec<(glib::Type, Py<PyAny>)>> = Mutex::new(Vec::new());

/// `value` (of property `pspec`) as a member of the Python Enum class the property was
/// declared with, when it is such a property.
pub fn enum_member<'py>(py: Python<'py>, pspec: &glib::ParamSpec, value: &glib::Value) -> Option<Bound<'py, PyAny>> {
    let type_ = pspec.value_type();
    if !type_.is_a(glib::Type::ENUM) {
        return None;
    }
    let class = ENUMS.lock().unwrap_or_else(PoisonError::into_inner).iter().find(|(t, _)| *t == type_)?.1.clone_ref(py);
    let (_, v) = glib::EnumValue::from_value(value)?;
    // Members are registered in declaration order, with their index as value.
    let members: Vec<Bound<'py, PyAny>> = class.bind(py).try_iter().ok()?.flatten().collect();
    members.get(usize::try_from(v.value()).ok()?).cloned()
}

/// Makes `class` (a Python Enum) the class whose members [`enum_member`] gives for values
/// of the enum GType `type_`, replacing an earlier one.
pub fn set_enum_class(type_: glib::Type, class: Py<PyAny>) {
    let mut enums = ENUMS.lock().unwrap_or_else(PoisonError::into_inner);
    enums.retain(|(t, _)| *t != type_);
    enums.push((type_, class));
}

/// A GValue as the Python object a user expects: numbers, strings, enum nicks, caps as
/// strings, structures as dicts, fractions as `fractions.Fraction`, lists as lists.
pub fn to_py<'py>(py: Python<'py>, value: &glib::Value) -> PyResult<Bound<'py, PyAny>> {
    let t = value.type_();
    macro_rules! get {
        ($ty:ty) => {
            if let Ok(v) = value.get::<$ty>() {
                return v.into_bound_py_any(py);
            }
        };
    }
    if t == glib::Type::BOOL {
        get!(bool);
    } else if t == glib::Type::I32 {
        get!(i32);
    } else if t == glib::Type::U32 {
        get!(u32);
    } else if t == glib::Type::I64 {
        get!(i64);
    } else if t == glib::Type::U64 {
        get!(u64);
    } else if t == glib::Type::I_LONG {
        if let Ok(v) = value.get::<glib::ILong>() {
            return Ok(v.0.into_pyobject(py)?.into_any());
        }
    } else if t == glib::Type::U_LONG {
        if let Ok(v) = value.get::<glib::ULong>() {
            return Ok(v.0.into_pyobject(py)?.into_any());
        }
    } else if t == glib::Type::F32 {
        get!(f32);
    } else if t == glib::Type::F64 {
        get!(f64);
    } else if t == glib::Type::STRING {
        return Ok(value.get::<Option<String>>().ok().flatten().into_pyobject(py)?.into_any());
    } else if t.is_a(glib::Type::ENUM) {
        if let Some((_, v)) = glib::EnumValue::from_value(value) {
            return Ok(PyString::new(py, v.nick()).into_any());
        }
    } else if t.is_a(glib::Type::FLAGS) {
        if let Some((_, set)) = glib::FlagsValue::from_value(value) {
            let nicks: Vec<&str> = set.iter().map(|v| v.nick()).collect();
            return Ok(PyString::new(py, &nicks.join("+")).into_any());
        }
    } else if t == gst::Caps::static_type() {
        return Ok(value
            .get::<Option<gst::Caps>>()
            .ok()
            .flatten()
            .map(|c| c.to_string())
            .into_pyobject(py)?
            .into_any());
    } else if t == gst::Structure::static_type() {
        if let Ok(Some(s)) = value.get::<Option<gst::Structure>>() {
            return Ok(structure_to_dict(py, &s)?.into_any());
        }
        return Ok(py.None().into_bound(py));
    } else if t == gst::Fraction::static_type() {
        if let Ok(f) = value.get::<gst::Fraction>() {
            return py.import("fractions")?.getattr("Fraction")?.call1((f.numer(), f.denom()));
        }
    } else if t == gst::List::static_type() || t == gst::Array::static_type() {
        let items: Vec<glib::SendValue> = if let Ok(l) = value.get::<gst::List>() {
            l.iter().cloned().collect()
        } else if let Ok(a) = value.get::<gst::Array>() {
            a.iter().cloned().collect()
        } else {
            Vec::new()
        };
        let list = PyList::empty(py);
        for v in &items {
            list.append(to_py(py, v)?)?;
        }
        return Ok(list.into_any());
    } else if t == glib::ValueArray::static_type() {
        // GValueArray: deprecated in GLib but still what `level` posts its rms/peak/decay in.
        let list = PyList::empty(py);
        if let Ok(Some(a)) = value.get::<Option<glib::ValueArray>>() {
            for v in a.as_slice() {
                list.append(to_py(py, v)?)?;
            }
        }
        return Ok(list.into_any());
    } else if t.is_a(gst::Object::static_type()) {
        if let Ok(Some(o)) = value.get::<Option<gst::Object>>() {
            return Ok(PyString::new(py, o.name().as_str()).into_any());
        }
        return Ok(py.None().into_bound(py));
    } else if t == glib::Error::static_type()
        && let Ok(e) = value.get::<glib::Error>()
    {
        return Ok(PyString::new(py, e.message()).into_any());
    }
    if t.is_a(glib::Type::BOXED) || t.is_a(glib::Type::OBJECT) || t.is_a(glib::Type::POINTER) {
        // SAFETY: the value holds a boxed, object or pointer type, all stored as a pointer.
        let empty = unsafe { glib::gobject_ffi::g_value_peek_pointer(value.to_glib_none().0).is_null() };
        if empty {
            return Ok(py.None().into_bound(py));
        }
    }
    // Anything else in GStreamer's own serialisation, or None.
    Ok(value.serialize().ok().map(|s| s.to_string()).into_pyobject(py)?.into_any())
}

/// A structure's fields as a dict.
pub fn structure_to_dict<'py>(py: Python<'py>, s: &gst::StructureRef) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, value) in s.iter() {
        d.set_item(name.as_str(), to_py(py, value)?)?;
    }
    Ok(d)
}

fn range_error(
    name: &str,
    v: impl std::fmt::Display,
    min: impl std::fmt::Display,
    max: impl std::fmt::Display,
) -> PyErr {
    PyValueError::new_err(format!("{v} is out of range for property {name:?} ({min} to {max})"))
}

macro_rules! int_value {
    ($pspec:expr, $obj:expr, $name:expr, $ps:ty, $ty:ty) => {{
        if !$obj.is_instance_of::<PyInt>() || $obj.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err(format!(
                "property {:?} takes an int, not {}",
                $name,
                $obj.get_type().name()?
            )));
        }
        let p = crate::value::spec_as::<$ps>(&$pspec).expect("value type matches the param spec");
        let wide: i128 = $obj.extract()?;
        let (min, max) = (p.minimum(), p.maximum());
        if wide < min as i128 || wide > max as i128 {
            return Err(range_error($name, wide, min, max));
        }
        return Ok((wide as $ty).to_value());
    }};
}

/// Converts `obj` into a value for the property `pspec`: TypeError for the wrong kind of
/// object, ValueError for one out of range or not a member of the enum.
pub fn from_py(pspec: &glib::ParamSpec, obj: &Bound<'_, PyAny>) -> PyResult<glib::Value> {
    let name = pspec.name();
    let t = pspec.value_type();
    let type_err = |want: &str| -> PyResult<glib::Value> {
        Err(PyTypeError::new_err(format!("property {name:?} takes {want}, not {}", obj.get_type().name()?)))
    };
    if t == glib::Type::BOOL {
        if !obj.is_instance_of::<PyBool>() {
            return type_err("a bool");
        }
        return Ok(obj.extract::<bool>()?.to_value());
    }
    if t == glib::Type::I32 {
        int_value!(pspec, obj, name, glib::ParamSpecInt, i32)
    }
    if t == glib::Type::U32 {
        int_value!(pspec, obj, name, glib::ParamSpecUInt, u32)
    }
    if t == glib::Type::I64 {
        int_value!(pspec, obj, name, glib::ParamSpecInt64, i64)
    }
    if t == glib::Type::U64 {
        int_value!(pspec, obj, name, glib::ParamSpecUInt64, u64)
    }
    if t == glib::Type::I_LONG {
        if !obj.is_instance_of::<PyInt>() {
            return type_err("an int");
        }
        let p = crate::value::spec_as::<glib::ParamSpecLong>(pspec).expect("long spec");
        let v: i64 = obj.extract()?;
        if v < p.minimum() || v > p.maximum() {
            return Err(range_error(name, v, p.minimum(), p.maximum()));
        }
        return Ok(glib::ILong(v as _).to_value());
    }
    if t == glib::Type::U_LONG {
        if !obj.is_instance_of::<PyInt>() {
            return type_err("an int");
        }
        let p = crate::value::spec_as::<glib::ParamSpecULong>(pspec).expect("ulong spec");
        let v: u64 = obj.extract()?;
        if v < p.minimum() || v > p.maximum() {
            return Err(range_error(name, v, p.minimum(), p.maximum()));
        }
        return Ok(glib::ULong(v as _).to_value());
    }
    if t == glib::Type::F32 || t == glib::Type::F64 {
        if !(obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>()) || obj.is_instance_of::<PyBool>() {
            return type_err("a number");
        }
        let v: f64 = obj.extract()?;
        if t == glib::Type::F32 {
            let p = crate::value::spec_as::<glib::ParamSpecFloat>(pspec).expect("float spec");
            if v < p.minimum() as f64 || v > p.maximum() as f64 || v.is_nan() {
                return Err(range_error(name, v, p.minimum(), p.maximum()));
            }
            return Ok((v as f32).to_value());
        }
        let p = crate::value::spec_as::<glib::ParamSpecDouble>(pspec).expect("double spec");
        if v < p.minimum() || v > p.maximum() || v.is_nan() {
            return Err(range_error(name, v, p.minimum(), p.maximum()));
        }
        return Ok(v.to_value());
    }
    if t == glib::Type::STRING {
        if obj.is_none() {
            return Ok(None::<String>.to_value());
        }
        if !obj.is_instance_of::<PyString>() {
            return type_err("a str");
        }
        return Ok(obj.extract::<String>()?.to_value());
    }
    if t.is_a(glib::Type::ENUM) {
        let class = glib::EnumClass::with_type(t).expect("an enum type has a class");
        let py = obj.py();
        let is_member = obj.is_instance(&py.import("enum")?.getattr("Enum")?)?;
        let found = if is_member {
            // A Python Enum member (elements written in Python): its name is the nick.
            let s: String = obj.getattr("name")?.extract()?;
            class.value_by_nick(&s.to_lowercase()).or_else(|| class.value_by_name(&s))
        } else if obj.is_instance_of::<PyString>() {
            let s: String = obj.extract()?;
            class.value_by_nick(&s).or_else(|| class.value_by_name(&s))
        } else if obj.is_instance_of::<PyInt>() {
            class.value(obj.extract()?)
        } else {
            return type_err("an enum nick (str) or value (int)");
        };
        return match found {
            Some(v) => Ok(v.to_value(&class)),
            None => {
                let members: Vec<&str> = class.values().iter().map(|v| v.nick()).collect();
                Err(PyValueError::new_err(format!(
                    "{} is not a value of property {name:?}; expected one of {}",
                    obj.repr()?,
                    members.join(", ")
                )))
            }
        };
    }
    if obj.is_instance_of::<PyString>() {
        // Caps, flags, fractions and the rest: GStreamer's own string syntax.
        let s: String = obj.extract()?;
        return glib::Value::deserialize_with_pspec(&s, pspec)
            .map_err(|_| PyValueError::new_err(format!("{s:?} is not a valid value for property {name:?}")));
    }
    if t.is_a(glib::Type::FLAGS) && obj.is_instance_of::<PyInt>() {
        let class = glib::FlagsClass::with_type(t).expect("a flags type has a class");
        let bits: u32 = obj.extract()?;
        return class
            .to_value(bits)
            .ok_or_else(|| PyValueError::new_err(format!("{bits:#x} is not a valid value for property {name:?}")));
    }
    if t == gst::Fraction::static_type() {
        let (n, d): (i32, i32) = match obj.extract::<(i32, i32)>() {
            Ok(v) => v,
            Err(_) => (obj.getattr("numerator")?.extract()?, obj.getattr("denominator")?.extract()?),
        };
        return Ok(gst::Fraction::new(n, d).to_value());
    }
    Err(PyTypeError::new_err(format!(
        "property {name:?} of type {} cannot be set from {}; pass its string form",
        t.name(),
        obj.get_type().name()?
    )))
}

/// `pspec` as the param spec type `T` when it is one or derives from one (framepipe's
/// hosted elements use subtypes of GParamSpecInt64/Double; glib-rs's `downcast_ref` only
/// matches the exact type).
pub fn spec_as<T: glib::ParamSpecType>(pspec: &glib::ParamSpec) -> Option<&T> {
    if pspec.is::<T>() {
        // SAFETY: the instance is a T (or derives from it, so starts with a T), and T is a
        // transparent wrapper of the same pointer as ParamSpec, as in glib-rs's downcast_ref.
        Some(unsafe { &*(pspec as *const glib::ParamSpec as *const T) })
    } else {
        None
    }
}
