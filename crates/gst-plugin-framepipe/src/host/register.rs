//! Registering a hosted element class: a new GType derived from the right host, whose
//! class_init installs the class's metadata, pad templates and properties, and an element
//! factory for it.

use std::collections::HashMap;
use std::ffi::{CString, c_void};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};

use framepipe_core::{Error, Result};
use gst::glib;
use gst::glib::gobject_ffi;
use gst::glib::subclass::types::ObjectSubclassType;
use gst::glib::translate::{FromGlib, IntoGlib, ToGlibPtr, from_glib_none};
use gst::prelude::*;

use super::core::{self, CAT, ClassData};
use super::desc::{ElementClassDesc, ElementKind, PropertyDesc, PropertyKind, camel_case};
use super::{SinkHost, SourceHost, TransformHost};
use crate::callback::HooksFactory;

/// Serialises registrations so that two threads registering one name agree on its type.
static REGISTER_LOCK: Mutex<()> = Mutex::new(());

/// The latest type registered for a GType name whose description changed (see
/// [`register_element`]).
static LATEST: LazyLock<Mutex<HashMap<String, glib::Type>>> = LazyLock::new(Default::default);

/// The abstract host type that elements of `kind` derive from.
pub fn host_type(kind: ElementKind) -> glib::Type {
    match kind {
        ElementKind::Source => SourceHost::static_type(),
        ElementKind::Transform(_) => TransformHost::static_type(),
        ElementKind::Sink => SinkHost::static_type(),
    }
}

/// Registers the element class `desc`, whose instances get their hooks from `factory`, and
/// its element factory (in `plugin`, or in no plugin for in-process registration).
///
/// If a type named `desc.gtype_name()` already exists in the process (the class was
/// registered before: by `import framepipe` before the plugin file was loaded, or a class
/// decorated again, as a notebook cell run twice does), the latest type registered for
/// that name is reused when its description is the same, and `factory` replaces its hooks
/// factory, so new instances run the new class; with a different description
/// (properties, caps, metadata) a new type `<name>_<n>` is made, and the element factory
/// makes that type from now on. Instances made before keep the class they were made with.
/// A description with another factory name registers an alias of the existing type,
/// which keeps its class. Returns the element's GType.
pub fn register_element(
    plugin: Option<&gst::Plugin>,
    desc: ElementClassDesc,
    factory: Arc<dyn HooksFactory>,
) -> Result<glib::Type> {
    framepipe_core::init()?;
    let desc = normalise(desc)?;
    let type_name = desc.gtype_name();
    let host_name = match desc.kind {
        ElementKind::Source => <super::source::Imp as glib::subclass::types::ObjectSubclass>::NAME,
        ElementKind::Transform(_) => <super::transform::Imp as glib::subclass::types::ObjectSubclass>::NAME,
        ElementKind::Sink => <super::sink::Imp as glib::subclass::types::ObjectSubclass>::NAME,
    };
    let ours = match desc.kind {
        ElementKind::Source => super::source::Imp::type_(),
        ElementKind::Transform(_) => super::transform::Imp::type_(),
        ElementKind::Sink => super::sink::Imp::type_(),
    };
    if !ours.is_valid() && glib::Type::from_name(host_name).is_some() {
        // glib-rs would abort on registering the host twice: another copy of this code
        // (another build of the plugin) owns the hosts in this process.
        return Err(Error::Gst(format!(
            "{host_name} was registered by another copy of framepipe's element code in this process; \
             register {} through that copy",
            desc.factory_name
        )));
    }
    let host = host_type(desc.kind);

    let _guard = REGISTER_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let type_ = match glib::Type::from_name(&type_name) {
        Some(existing) => {
            if !existing.is_a(host) {
                return Err(Error::Value(format!(
                    "cannot register {}: the type name {type_name} is taken by a {} that is not a {host_name}",
                    desc.factory_name,
                    existing.parent().map(|p| p.name()).unwrap_or("fundamental type")
                )));
            }
            let mut latest = LATEST.lock().unwrap_or_else(PoisonError::into_inner);
            let current = latest.get(&type_name).copied().unwrap_or(existing);
            let data = core::class_data(current).filter(|d| d.desc.factory_name == desc.factory_name);
            match data.filter(|data| data.desc == desc) {
                Some(data) => {
                    gst::debug!(CAT, "{} exists with this description; swapping its class", current.name());
                    *data.factory.write().unwrap_or_else(PoisonError::into_inner) = factory;
                    current
                }
                // Another factory name for the type (an alias), or a type of another copy.
                None if data.is_none() => current,
                None => {
                    let name = (2..)
                        .map(|n| format!("{type_name}_{n}"))
                        .find(|n| glib::Type::from_name(n).is_none())
                        .unwrap_or_else(|| type_name.clone());
                    gst::debug!(CAT, "{type_name} exists with another description; registering {name}");
                    let data: &'static ClassData = Box::leak(Box::new(class_data(desc.clone(), factory, host)?));
                    // SAFETY: `host` is a registered, classed, derivable type and `data` lives forever.
                    let type_ = unsafe { register_subtype(host, &name, data)? };
                    core::insert_class(type_, data);
                    latest.insert(type_name.clone(), type_);
                    type_
                }
            }
        }
        None => {
            let data: &'static ClassData = Box::leak(Box::new(class_data(desc.clone(), factory, host)?));
            // SAFETY: `host` is a registered, classed, derivable type and `data` lives forever.
            let type_ = unsafe { register_subtype(host, &type_name, data)? };
            core::insert_class(type_, data);
            type_
        }
    };
    gst::Element::register(plugin, &desc.factory_name, desc.rank, type_)
        .map_err(|e| Error::Gst(format!("cannot register element {}: {e}", desc.factory_name)))?;
    Ok(type_)
}

/// Checks `desc` and brings property names to kebab-case.
fn normalise(mut desc: ElementClassDesc) -> Result<ElementClassDesc> {
    let name = &desc.factory_name;
    if !valid_name(name) {
        return Err(Error::Value(format!(
            "element name {name:?} must start with a letter and hold only letters, digits, '-' and '_'"
        )));
    }
    let type_name = desc.gtype_name();
    if type_name.len() < 3 || !type_name.chars().all(|c| c.is_ascii_alphanumeric() || "-_+".contains(c)) {
        return Err(Error::Value(format!("{type_name:?} is not a valid GType name")));
    }
    // GStreamer refuses empty metadata fields.
    for (field, fallback) in [
        (&mut desc.long_name, desc.factory_name.clone()),
        (&mut desc.classification, "Generic".to_string()),
        (&mut desc.description, format!("{} (a framepipe element)", desc.factory_name)),
        (&mut desc.author, "unknown".to_string()),
    ] {
        if field.trim().is_empty() {
            *field = fallback;
        }
    }
    let mut seen = std::collections::HashSet::new();
    for prop in &mut desc.properties {
        prop.name = prop.name.replace('_', "-");
        let pname = &prop.name;
        if !valid_name(pname) {
            return Err(Error::Value(format!(
                "property name {pname:?} of {name} must start with a letter and hold only letters, digits and '-'"
            )));
        }
        if !seen.insert(pname.clone()) {
            return Err(Error::Value(format!("property {pname} of {name} is declared twice")));
        }
        check_kind(name, prop)?;
    }
    Ok(desc)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_kind(element: &str, prop: &PropertyDesc) -> Result<()> {
    let name = &prop.name;
    let bad = |what: String| Err(Error::Value(format!("property {name} of {element}: {what}")));
    match &prop.kind {
        PropertyKind::Int { default, minimum, maximum } if !(minimum <= default && default <= maximum) => {
            bad(format!("default {default} is outside [{minimum}, {maximum}]"))
        }
        PropertyKind::Float { default, minimum, maximum }
            if default.is_nan() || !(minimum <= default && default <= maximum) =>
        {
            bad(format!("default {default} is outside [{minimum}, {maximum}]"))
        }
        PropertyKind::Enum { members, .. } if members.is_empty() => bad("an enum needs at least one member".into()),
        PropertyKind::Enum { default, members } => {
            if !members.iter().any(|m| m.value == *default) {
                return bad(format!("default {default} is not the value of a member"));
            }
            let mut values = std::collections::HashSet::new();
            let mut nicks = std::collections::HashSet::new();
            for m in members {
                if m.name.is_empty() || m.nick.is_empty() {
                    return bad("enum members need a name and a nick".into());
                }
                if !values.insert(m.value) || !nicks.insert(m.nick.as_str()) {
                    return bad(format!("enum member {} repeats a value or nick", m.name));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Everything class_init installs, made up front so that class_init cannot fail.
fn class_data(desc: ElementClassDesc, factory: Arc<dyn HooksFactory>, host: glib::Type) -> Result<ClassData> {
    let parse = |caps: &Option<String>, pad: &str| -> Result<gst::Caps> {
        match caps {
            None => Ok(gst::Caps::new_any()),
            Some(s) => framepipe_core::media::parse_caps(s).map_err(|_| {
                Error::Value(format!("{} caps of {}: cannot parse {s:?} as caps", pad, desc.factory_name))
            }),
        }
    };
    let template = |name: &str, direction, caps: gst::Caps| {
        gst::PadTemplate::new(name, direction, gst::PadPresence::Always, &caps)
            .map_err(|e| Error::Gst(format!("pad template {name} of {}: {e}", desc.factory_name)))
    };
    let mut templates = Vec::new();
    if matches!(desc.kind, ElementKind::Transform(_) | ElementKind::Sink) {
        templates.push(template("sink", gst::PadDirection::Sink, parse(&desc.sink_caps, "sink")?)?);
    }
    if matches!(desc.kind, ElementKind::Transform(_) | ElementKind::Source) {
        templates.push(template("src", gst::PadDirection::Src, parse(&desc.src_caps, "src")?)?);
    }

    let host_class = glib::object::ObjectClass::from_type(host)
        .ok_or_else(|| Error::Gst(format!("{} has no object class", host.name())))?;
    let mut pspecs = Vec::with_capacity(desc.properties.len());
    for prop in &desc.properties {
        if host_class.has_property(&prop.name) {
            return Err(Error::Value(format!(
                "property {} of {} clashes with the property of that name of {}",
                prop.name,
                desc.factory_name,
                host.name()
            )));
        }
        pspecs.push(param_spec(&desc, prop)?);
    }
    Ok(ClassData { desc, factory: RwLock::new(factory), templates, pspecs })
}

/// Hosted properties can be read and written in any state.
const FLAGS: glib::ParamFlags = glib::ParamFlags::READWRITE.union(gst::PARAM_FLAG_MUTABLE_PLAYING);

/// A numeric GParamSpec of the lax subtype of `$spec` (see [`lax_param_type`]) with its
/// range and default filled in.
macro_rules! lax_range_spec {
    ($spec:ident, $ffi:ident, $type_name:literal, ($name:expr, $nick:expr, $blurb:expr), $min:expr, $max:expr, $default:expr) => {{
        let type_ = lax_param_type(glib::$spec::static_type(), $type_name)?;
        let (c_name, c_nick, c_blurb) = (cstring($name)?, cstring($nick)?, cstring($blurb)?);
        // SAFETY: `type_` derives from the GParamSpec subtype `$ffi` (whose instance_init set
        // any other fields), so the new instance is one and its range fields may be filled in
        // before anyone sees it; the strings are copied.
        unsafe {
            let p = gobject_ffi::g_param_spec_internal(
                type_.into_glib(),
                c_name.as_ptr(),
                c_nick.as_ptr(),
                c_blurb.as_ptr(),
                FLAGS.into_glib(),
            ) as *mut gobject_ffi::$ffi;
            (*p).minimum = $min;
            (*p).maximum = $max;
            (*p).default_value = $default;
            from_glib_none(p as *mut gobject_ffi::GParamSpec)
        }
    }};
}

fn param_spec(desc: &ElementClassDesc, prop: &PropertyDesc) -> Result<glib::ParamSpec> {
    let name = prop.name.as_str();
    let nick = prop.nick.as_deref().unwrap_or(name);
    let blurb = prop.blurb.as_str();
    Ok(match &prop.kind {
        PropertyKind::Bool { default } => {
            glib::ParamSpecBoolean::builder(name).nick(nick).blurb(blurb).default_value(*default).flags(FLAGS).build()
        }
        PropertyKind::Int { default, minimum, maximum } => {
            lax_range_spec!(
                ParamSpecInt64,
                GParamSpecInt64,
                "GstFpParamInt64",
                (name, nick, blurb),
                *minimum,
                *maximum,
                *default
            )
        }
        PropertyKind::Float { default, minimum, maximum } => {
            lax_range_spec!(
                ParamSpecDouble,
                GParamSpecDouble,
                "GstFpParamDouble",
                (name, nick, blurb),
                *minimum,
                *maximum,
                *default
            )
        }
        PropertyKind::String { default } => glib::ParamSpecString::builder(name)
            .nick(nick)
            .blurb(blurb)
            .default_value(default.as_deref())
            .flags(FLAGS)
            .build(),
        PropertyKind::Enum { default, members } => {
            let enum_name = format!("{}{}", desc.gtype_name(), camel_case(name));
            let enum_type = enum_type(&enum_name, members)?;
            let (c_name, c_nick, c_blurb) = (cstring(name)?, cstring(nick)?, cstring(blurb)?);
            // SAFETY: valid NUL-terminated strings (copied by GLib, no STATIC flags), a
            // registered enum type and a default that is one of its values (checked).
            unsafe {
                from_glib_none(gobject_ffi::g_param_spec_enum(
                    c_name.as_ptr(),
                    c_nick.as_ptr(),
                    c_blurb.as_ptr(),
                    enum_type.into_glib(),
                    *default,
                    FLAGS.into_glib(),
                ))
            }
        }
    })
}

/// A subtype of the param spec type `parent` (GParamSpecInt64 or GParamSpecDouble) whose
/// validation accepts any value of the type. GLib drops an out-of-range value set through
/// g_object_set (so from a launch string) with only a warning, leaving the old value: with
/// these, the value reaches the host, which refuses it itself and remembers why, so that
/// the caller can be told (ParseError in Python, an ERROR at start in gst-launch-1.0).
/// gst-inspect-1.0 and `Element.properties()` still see an ordinary range (is-a parent).
fn lax_param_type(parent: glib::Type, name: &str) -> Result<glib::Type> {
    if let Some(existing) = glib::Type::from_name(name) {
        return Ok(existing);
    }
    // SAFETY: GTypeQuery is plain data that g_type_query fills in.
    let mut query: gobject_ffi::GTypeQuery = unsafe { std::mem::zeroed() };
    // SAFETY: `parent` is a registered param spec type; `query` is writable.
    unsafe { gobject_ffi::g_type_query(parent.into_glib(), &mut query) };
    let info = gobject_ffi::GTypeInfo {
        class_size: query.class_size as u16,
        base_init: None,
        base_finalize: None,
        class_init: Some(lax_class_init),
        class_finalize: None,
        class_data: std::ptr::null(),
        instance_size: query.instance_size as u16,
        n_preallocs: 0,
        instance_init: None,
        value_table: std::ptr::null(),
    };
    let c_name = cstring(name)?;
    // SAFETY: param spec types are deep-derivable; the sizes are the parent's; the name is
    // new (checked above, and callers hold REGISTER_LOCK).
    let type_ = unsafe { gobject_ffi::g_type_register_static(parent.into_glib(), c_name.as_ptr(), &info, 0) };
    if type_ == gobject_ffi::G_TYPE_INVALID {
        return Err(Error::Gst(format!("cannot register the param spec type {name}")));
    }
    // SAFETY: a valid, registered GType.
    Ok(unsafe { glib::Type::from_glib(type_) })
}

unsafe extern "C" fn lax_class_init(klass: glib::ffi::gpointer, _data: glib::ffi::gpointer) {
    let klass = klass as *mut gobject_ffi::GParamSpecClass;
    // SAFETY: `klass` is the GParamSpecClass being initialised (a copy of the parent's).
    unsafe {
        (*klass).value_validate = Some(lax_validate);
        (*klass).value_is_valid = Some(lax_is_valid);
    }
}

/// "Nothing was changed": the host checks the range in set_property.
unsafe extern "C" fn lax_validate(
    _pspec: *mut gobject_ffi::GParamSpec,
    _value: *mut gobject_ffi::GValue,
) -> glib::ffi::gboolean {
    glib::ffi::GFALSE
}

unsafe extern "C" fn lax_is_valid(
    _pspec: *mut gobject_ffi::GParamSpec,
    _value: *mut gobject_ffi::GValue,
) -> glib::ffi::gboolean {
    glib::ffi::GTRUE
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Value(format!("{s:?} contains a NUL byte")))
}

/// The enum GType `name` with `members`, registered now or found from an earlier run.
fn enum_type(name: &str, members: &[super::desc::EnumMember]) -> Result<glib::Type> {
    if let Some(existing) = glib::Type::from_name(name) {
        return if existing.is_a(glib::Type::ENUM) {
            Ok(existing)
        } else {
            Err(Error::Value(format!("the type name {name} is taken by a non-enum type")))
        };
    }
    // GLib keeps pointers to the values and their strings for the life of the type: leak.
    let mut values = Vec::with_capacity(members.len() + 1);
    for m in members {
        values.push(gobject_ffi::GEnumValue {
            value: m.value,
            value_name: cstring(&m.name)?.into_raw(),
            value_nick: cstring(&m.nick)?.into_raw(),
        });
    }
    values.push(gobject_ffi::GEnumValue { value: 0, value_name: std::ptr::null(), value_nick: std::ptr::null() });
    let values: &'static [gobject_ffi::GEnumValue] = Box::leak(values.into_boxed_slice());
    let c_name = cstring(name)?;
    // SAFETY: a NUL-terminated name (copied by GLib) and a terminated, leaked value array.
    let type_ = unsafe { gobject_ffi::g_enum_register_static(c_name.as_ptr(), values.as_ptr()) };
    if type_ == gobject_ffi::G_TYPE_INVALID {
        return Err(Error::Gst(format!("cannot register the enum type {name}")));
    }
    // SAFETY: a valid, registered GType.
    Ok(unsafe { glib::Type::from_glib(type_) })
}

/// Registers `name` as a subtype of `host` whose class_init installs `data`.
///
/// # Safety
/// `host` must be one of the host types; `data` must live for the rest of the process.
unsafe fn register_subtype(host: glib::Type, name: &str, data: &'static ClassData) -> Result<glib::Type> {
    let c_name = cstring(name)?;
    // SAFETY: GTypeQuery is plain data that g_type_query fills in.
    let mut query: gobject_ffi::GTypeQuery = unsafe { std::mem::zeroed() };
    // SAFETY: `host` is a registered type; `query` is writable.
    unsafe { gobject_ffi::g_type_query(host.into_glib(), &mut query) };
    if query.type_ == gobject_ffi::G_TYPE_INVALID {
        return Err(Error::Gst(format!("cannot query the type {}", host.name())));
    }
    let info = gobject_ffi::GTypeInfo {
        class_size: query.class_size as u16,
        base_init: None,
        base_finalize: None,
        class_init: Some(class_init),
        class_finalize: None,
        class_data: data as *const ClassData as *const c_void,
        instance_size: query.instance_size as u16,
        n_preallocs: 0,
        instance_init: None,
        value_table: std::ptr::null(),
    };
    // SAFETY: a derivable parent, a new name (checked under REGISTER_LOCK), and an info
    // whose sizes are the parent's and whose class_data outlives the type.
    let type_ = unsafe { gobject_ffi::g_type_register_static(host.into_glib(), c_name.as_ptr(), &info, 0) };
    if type_ == gobject_ffi::G_TYPE_INVALID {
        return Err(Error::Gst(format!("GLib refused to register the type {name}")));
    }
    // SAFETY: a valid, registered GType.
    Ok(unsafe { glib::Type::from_glib(type_) })
}

/// class_init of every hosted element type: the parent's vfuncs (the host's) are already
/// copied in; add this class's metadata, pad templates and properties.
unsafe extern "C" fn class_init(klass: glib::ffi::gpointer, class_data: glib::ffi::gpointer) {
    // SAFETY: class_data is the leaked ClassData that register_subtype passed.
    let data = unsafe { &*(class_data as *const ClassData) };
    let desc = &data.desc;
    let eklass = klass as *mut gst::ffi::GstElementClass;
    // SAFETY: klass is the class struct of a GstElement subtype being initialised; GStreamer
    // copies the metadata strings and takes its own reference to each template.
    unsafe {
        gst::ffi::gst_element_class_set_metadata(
            eklass,
            desc.long_name.to_glib_none().0,
            desc.classification.to_glib_none().0,
            desc.description.to_glib_none().0,
            desc.author.to_glib_none().0,
        );
        for template in &data.templates {
            gst::ffi::gst_element_class_add_pad_template(eklass, template.to_glib_none().0);
        }
    }
    let oklass = klass as *mut gobject_ffi::GObjectClass;
    // SAFETY: GObject resets set_property/get_property for every new class; this class's
    // properties go through the host's (glib-rs) handlers, which reach HostCore.
    unsafe {
        let parent = gobject_ffi::g_type_class_peek_parent(klass) as *mut gobject_ffi::GObjectClass;
        (*oklass).set_property = (*parent).set_property;
        (*oklass).get_property = (*parent).get_property;
    }
    for (i, pspec) in data.pspecs.iter().enumerate() {
        // SAFETY: a GObject class being initialised; ids start at 1 and are unique; GLib
        // takes its own reference to the pspec. The host's set_property/get_property
        // (inherited) route these ids to HostCore.
        unsafe { gobject_ffi::g_object_class_install_property(oklass, i as u32 + 1, pspec.to_glib_none().0) };
    }
}
