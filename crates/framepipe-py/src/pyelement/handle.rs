//! `_ElementHandle`: how a Python element object reaches its GStreamer element.

use gst::glib;
use gst::prelude::*;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::element::PyElement;
use crate::value;

/// What a Python element object holds as `self._fp_element`: a weak reference to its
/// GStreamer element, through which `fp.Property` reads and writes the property values.
#[pyclass(frozen, name = "_ElementHandle", module = "framepipe._framepipe")]
pub struct PyElementHandle {
    pub(super) element: glib::WeakRef<gst::Element>,
}

impl PyElementHandle {
    fn element(&self) -> PyResult<gst::Element> {
        self.element.upgrade().ok_or_else(|| PyValueError::new_err("the element of this object was destroyed"))
    }
}

#[pymethods]
impl PyElementHandle {
    /// The current value of property `name` (enum values as their nick).
    fn get<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let element = self.element()?;
        value::to_py(py, &element.property_value(name))
    }

    /// Sets property `name`, with the same checks as `Element.set`.
    fn set(&self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let element = self.element()?;
        let pspec = element
            .find_property(name)
            .ok_or_else(|| PyValueError::new_err(format!("element has no property {name:?}")))?;
        let v = value::from_py(&pspec, value)?;
        element.set_property_from_value(name, &v);
        Ok(())
    }

    /// The element as a framepipe `Element`.
    #[getter]
    fn element_object(&self) -> PyResult<PyElement> {
        Ok(PyElement::new(self.element()?))
    }

    #[getter]
    fn name(&self) -> PyResult<String> {
        Ok(self.element()?.name().to_string())
    }
}
