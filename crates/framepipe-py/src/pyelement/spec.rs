//! The description `@framepipe.element` computes for a class (a dict), read into what
//! the hosts register: an [`ElementClassDesc`] with its properties.

use gstframepipe::host::{ElementClassDesc, ElementKind, EnumMember, PropertyDesc, PropertyKind, TransformMode};
use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// An element class as `framepipe.element` described it.
pub(super) struct ElementSpec {
    pub desc: ElementClassDesc,
    /// The Python Enum class of each enum property, by property name.
    pub enum_classes: Vec<(String, Py<PyAny>)>,
    /// Whether the class defines `transform_caps`.
    pub has_transform_caps: bool,
}

impl ElementSpec {
    /// Reads `spec`: kind ("source", "transform", "sink"), mode (for transforms:
    /// "in_place", "out_of_place", "passthrough"), caps, metadata, rank and properties.
    pub fn parse(spec: &Bound<'_, PyDict>) -> PyResult<ElementSpec> {
        let name: String = item(spec, "name")?;
        let mode = match item::<Option<String>>(spec, "mode")?.as_deref() {
            Some("out_of_place") => TransformMode::OutOfPlace,
            Some("passthrough") => TransformMode::Passthrough,
            _ => TransformMode::InPlace,
        };
        let kind = match item::<String>(spec, "kind")?.as_str() {
            "source" => ElementKind::Source,
            "transform" => ElementKind::Transform(mode),
            "sink" => ElementKind::Sink,
            other => return Err(PyValueError::new_err(format!("unknown element kind {other:?}"))),
        };
        let mut desc = ElementClassDesc::new(name, kind);
        desc.long_name = item(spec, "long_name")?;
        desc.classification = item(spec, "classification")?;
        desc.description = item(spec, "description")?;
        desc.author = item(spec, "author")?;
        desc.sink_caps = item(spec, "sink_caps")?;
        desc.src_caps = item(spec, "src_caps")?;
        desc.rank = gst::Rank::from(item::<i32>(spec, "rank")?);
        if let Some(type_name) = item::<Option<String>>(spec, "type_name")? {
            desc.type_name = Some(type_name);
        }
        let props: Vec<Bound<'_, PyDict>> = item(spec, "properties")?;
        desc.properties = props.iter().map(property).collect::<PyResult<_>>()?;
        let enum_classes: Vec<(String, Py<PyAny>)> = props
            .iter()
            .filter_map(|p| {
                let class = p.get_item("enum_class").ok().flatten()?;
                Some((p.get_item("name").ok().flatten()?.extract().ok()?, class.unbind()))
            })
            .collect();
        let has_transform_caps = item(spec, "has_transform_caps")?;
        Ok(ElementSpec { desc, enum_classes, has_transform_caps })
    }
}

fn item<'py, T: FromPyObjectOwned<'py>>(spec: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    match spec.get_item(key)? {
        Some(v) => v.extract().map_err(Into::into),
        None => Err(PyValueError::new_err(format!("element spec lacks {key:?}"))),
    }
}

/// One property of the spec: `(name, kind, default, minimum, maximum, nick, blurb, members)`.
fn property(prop: &Bound<'_, PyDict>) -> PyResult<PropertyDesc> {
    let name: String = item(prop, "name")?;
    let kind: String = item(prop, "kind")?;
    let default = prop.get_item("default")?.ok_or_else(|| PyValueError::new_err("property lacks a default"))?;
    let kind = match kind.as_str() {
        "bool" => PropertyKind::Bool { default: default.extract()? },
        "int" => PropertyKind::Int {
            default: default.extract()?,
            minimum: item(prop, "minimum")?,
            maximum: item(prop, "maximum")?,
        },
        "float" => PropertyKind::Float {
            default: default.extract()?,
            minimum: item(prop, "minimum")?,
            maximum: item(prop, "maximum")?,
        },
        "str" => PropertyKind::String { default: default.extract()? },
        "enum" => {
            let members: Vec<(i32, String)> = item(prop, "members")?;
            PropertyKind::Enum {
                default: default.extract()?,
                members: members.into_iter().map(|(v, n)| EnumMember::new(v, n)).collect(),
            }
        }
        other => return Err(PyValueError::new_err(format!("unknown property kind {other:?}"))),
    };
    let mut desc = PropertyDesc::new(name, kind).blurb(item::<String>(prop, "description")?);
    if let Some(nick) = item::<Option<String>>(prop, "nick")? {
        desc = desc.nick(nick);
    }
    Ok(desc)
}
