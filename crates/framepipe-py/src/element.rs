//! `Element`: an element of a pipeline, with its GObject properties.

use gst::glib;
use gst::prelude::*;
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::prelude::*;

use crate::gil::SameThread;
use crate::value;

/// What `Element.properties()` reports for one property.
#[pyclass(frozen, get_all, name = "PropertyInfo", module = "framepipe._framepipe")]
pub struct PyPropertyInfo {
    name: String,
    r#type: String,
    default: Py<PyAny>,
    minimum: Py<PyAny>,
    maximum: Py<PyAny>,
    description: String,
    readable: bool,
    writable: bool,
}

#[pymethods]
impl PyPropertyInfo {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PropertyInfo(name={:?}, type={:?}, default={})",
            self.name,
            self.r#type,
            self.default.bind(py).repr()?
        ))
    }
}

#[pyclass(frozen, name = "Element", module = "framepipe._framepipe")]
pub struct PyElement {
    element: gst::Element,
}

impl PyElement {
    pub fn new(element: gst::Element) -> PyElement {
        PyElement { element }
    }

    fn pspec(&self, prop: &str) -> PyResult<glib::ParamSpec> {
        self.element.find_property(prop).ok_or_else(|| {
            PyAttributeError::new_err(format!("element {:?} has no property {prop:?}", self.element.name().as_str()))
        })
    }
}

fn range<'py>(py: Python<'py>, pspec: &glib::ParamSpec) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    macro_rules! try_range {
        ($ty:ty) => {
            if let Some(p) = crate::value::spec_as::<$ty>(pspec) {
                return Ok((p.minimum().into_pyobject(py)?.into_any(), p.maximum().into_pyobject(py)?.into_any()));
            }
        };
    }
    try_range!(glib::ParamSpecInt);
    try_range!(glib::ParamSpecUInt);
    try_range!(glib::ParamSpecInt64);
    try_range!(glib::ParamSpecUInt64);
    try_range!(glib::ParamSpecFloat);
    try_range!(glib::ParamSpecDouble);
    if let Some(p) = crate::value::spec_as::<glib::ParamSpecLong>(pspec) {
        return Ok((p.minimum().into_pyobject(py)?.into_any(), p.maximum().into_pyobject(py)?.into_any()));
    }
    if let Some(p) = crate::value::spec_as::<glib::ParamSpecULong>(pspec) {
        return Ok((p.minimum().into_pyobject(py)?.into_any(), p.maximum().into_pyobject(py)?.into_any()));
    }
    Ok((py.None().into_bound(py), py.None().into_bound(py)))
}

#[pymethods]
impl PyElement {
    #[getter]
    fn name(&self) -> String {
        self.element.name().to_string()
    }

    /// Name of the factory that made the element ("videotestsrc"), None for bins.
    #[getter]
    fn factory(&self) -> Option<String> {
        self.element.factory().map(|f| f.name().to_string())
    }

    /// The value of property `prop`.
    fn get<'py>(&self, py: Python<'py>, prop: &str) -> PyResult<Bound<'py, PyAny>> {
        let pspec = self.pspec(prop)?;
        if !pspec.flags().contains(glib::ParamFlags::READABLE) {
            return Err(PyAttributeError::new_err(format!("property {prop:?} is not readable")));
        }
        // Reading a property may wait for the element's lock, which a streaming thread
        // waiting for the GIL can hold.
        let element = &self.element;
        let name = pspec.name();
        let v = py.detach(|| SameThread(element.property_value(name))).0;
        value::enum_member(py, &pspec, &v).map_or_else(|| value::to_py(py, &v), Ok)
    }

    /// Sets property `prop`: TypeError for a value of the wrong type, ValueError for one
    /// out of range.
    fn set(&self, py: Python<'_>, prop: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let pspec = self.pspec(prop)?;
        let flags = pspec.flags();
        if !flags.contains(glib::ParamFlags::WRITABLE) {
            return Err(PyAttributeError::new_err(format!("property {prop:?} is read-only")));
        }
        if flags.contains(glib::ParamFlags::CONSTRUCT_ONLY) {
            return Err(PyAttributeError::new_err(format!("property {prop:?} can only be set at construction")));
        }
        if flags.contains(gst::PARAM_FLAG_MUTABLE_READY) && self.element.current_state() > gst::State::Ready {
            return Err(PyValueError::new_err(format!(
                "property {prop:?} can only be changed in the NULL or READY state"
            )));
        }
        let v = SameThread(value::from_py(&pspec, value)?);
        let element = &self.element;
        let name = pspec.name();
        py.detach(|| {
            let v = v;
            element.set_property_from_value(name, &v.0);
        });
        Ok(())
    }

    /// Every property: name, type, default, minimum, maximum, description, readable, writable.
    pub fn properties(&self, py: Python<'_>) -> PyResult<Vec<PyPropertyInfo>> {
        self.element
            .list_properties()
            .iter()
            .map(|p| {
                let (minimum, maximum) = range(py, p)?;
                Ok(PyPropertyInfo {
                    name: p.name().to_string(),
                    r#type: p.value_type().name().to_string(),
                    default: value::enum_member(py, p, p.default_value())
                        .map_or_else(|| value::to_py(py, p.default_value()), Ok)?
                        .unbind(),
                    minimum: minimum.unbind(),
                    maximum: maximum.unbind(),
                    description: p.blurb().unwrap_or_default().to_string(),
                    readable: p.flags().contains(glib::ParamFlags::READABLE),
                    writable: p.flags().contains(glib::ParamFlags::WRITABLE),
                })
            })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("<Element {} ({})>", self.name(), self.factory().unwrap_or_else(|| "bin".into()))
    }
}
