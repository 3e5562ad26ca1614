//! Plain-data description of a hosted element class: what gst-inspect-1.0 shows about it.

/// Which host the element derives from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementKind {
    /// `GstFpSourceHost` (a GstPushSrc): calls `create`.
    Source,
    /// `GstFpTransformHost` (a GstBaseTransform).
    Transform(TransformMode),
    /// `GstFpSinkHost` (a GstBaseSink): calls `render`.
    Sink,
}

/// How a transform produces its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransformMode {
    /// `transform_ip` modifies each (writable) buffer.
    InPlace,
    /// `transform` makes a new buffer; use with `transform_caps` to change caps.
    OutOfPlace,
    /// `transform_ip` sees each buffer read-only and unchanged caps are passed through; the
    /// buffer is never copied to make it writable.
    Passthrough,
}

/// One member of an enum property. In launch strings the member is named by its `nick`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumMember {
    pub value: i32,
    /// E.g. "SQUARE" (a Python Enum member's name).
    pub name: String,
    /// E.g. "square": what launch strings and gst-inspect-1.0 use.
    pub nick: String,
}

impl EnumMember {
    /// A member whose nick is its name in lower case (DESIGN.md: `shape=square`).
    pub fn new(value: i32, name: impl Into<String>) -> Self {
        let name = name.into();
        let nick = name.to_lowercase();
        EnumMember { value, name, nick }
    }
}

/// The type, default and range of a property.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyKind {
    Bool {
        default: bool,
    },
    Int {
        default: i64,
        minimum: i64,
        maximum: i64,
    },
    Float {
        default: f64,
        minimum: f64,
        maximum: f64,
    },
    String {
        default: Option<String>,
    },
    /// `default` is the `value` of one of `members`.
    Enum {
        default: i32,
        members: Vec<EnumMember>,
    },
}

/// One GObject property of a hosted element; the value lives in each instance.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyDesc {
    /// kebab-case (`is-live`); underscores are turned into dashes at registration.
    pub name: String,
    /// Short name; defaults to `name`.
    pub nick: Option<String>,
    /// The description gst-inspect-1.0 shows.
    pub blurb: String,
    pub kind: PropertyKind,
}

impl PropertyDesc {
    pub fn new(name: impl Into<String>, kind: PropertyKind) -> Self {
        PropertyDesc { name: name.into(), nick: None, blurb: String::new(), kind }
    }

    pub fn nick(mut self, nick: impl Into<String>) -> Self {
        self.nick = Some(nick.into());
        self
    }

    pub fn blurb(mut self, blurb: impl Into<String>) -> Self {
        self.blurb = blurb.into();
        self
    }
}

/// Everything about an element class that is fixed when it is registered.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementClassDesc {
    /// Factory name used in launch strings (`pyinvert`).
    pub factory_name: String,
    /// GType name; `None` derives `GstFp<CamelCase factory name>` (`GstFpPyinvert`).
    pub type_name: Option<String>,
    pub long_name: String,
    pub classification: String,
    pub description: String,
    pub author: String,
    pub kind: ElementKind,
    /// Caps of the "sink" pad template (transforms and sinks); `None` means ANY.
    pub sink_caps: Option<String>,
    /// Caps of the "src" pad template (sources and transforms); `None` means ANY.
    pub src_caps: Option<String>,
    pub properties: Vec<PropertyDesc>,
    pub rank: gst::Rank,
}

impl ElementClassDesc {
    /// A description with the given factory name and kind, ANY caps, no properties, rank NONE.
    pub fn new(factory_name: impl Into<String>, kind: ElementKind) -> Self {
        let factory_name = factory_name.into();
        ElementClassDesc {
            long_name: factory_name.clone(),
            factory_name,
            type_name: None,
            classification: match kind {
                ElementKind::Source => "Source".into(),
                ElementKind::Transform(_) => "Filter".into(),
                ElementKind::Sink => "Sink".into(),
            },
            description: String::new(),
            author: String::new(),
            kind,
            sink_caps: None,
            src_caps: None,
            properties: Vec::new(),
            rank: gst::Rank::NONE,
        }
    }

    /// The GType name this class is (or would be) registered under.
    pub fn gtype_name(&self) -> String {
        self.type_name.clone().unwrap_or_else(|| format!("GstFp{}", camel_case(&self.factory_name)))
    }
}

/// `py-invert_2` -> `PyInvert2`: GType names may only hold letters, digits, `-`, `_`, `+`.
pub(crate) fn camel_case(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_of_factory_names() {
        assert_eq!(camel_case("pyinvert"), "Pyinvert");
        assert_eq!(camel_case("py-invert_2"), "PyInvert2");
        assert_eq!(camel_case("a.b"), "AB");
    }

    #[test]
    fn enum_nick_is_lower_case_name() {
        let m = EnumMember::new(2, "SQUARE");
        assert_eq!((m.value, m.name.as_str(), m.nick.as_str()), (2, "SQUARE", "square"));
    }

    #[test]
    fn default_type_name() {
        let d = ElementClassDesc::new("pyinvert", ElementKind::Transform(TransformMode::InPlace));
        assert_eq!(d.gtype_name(), "GstFpPyinvert");
    }
}
