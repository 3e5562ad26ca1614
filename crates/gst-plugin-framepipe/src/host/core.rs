//! What the three hosts share: the per-class data installed at registration, the
//! per-instance property values, and calling a hook without letting a panic or an error
//! escape unreported.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError, RwLock};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::desc::{ElementClassDesc, ElementKind, PropertyKind};
use crate::callback::{self, CallbackError, CallbackResult, CapsInfo, ElementHooks, HooksFactory};

pub(crate) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("fphost", gst::DebugColorFlags::empty(), Some("framepipe hosts of Python-written elements"))
});

/// Everything registration computed for one element class. Leaked: GTypes live as long as
/// the process.
pub(crate) struct ClassData {
    pub desc: ElementClassDesc,
    /// Makes each new instance's hooks. Registering the class again with the same
    /// description swaps it, so that new instances run the new (Python) class.
    pub factory: RwLock<Arc<dyn HooksFactory>>,
    pub templates: Vec<gst::PadTemplate>,
    /// One per `desc.properties`, installed with property id = index + 1.
    pub pspecs: Vec<glib::ParamSpec>,
}

impl ClassData {
    /// Index of the `is-live` bool property, if the class declares one.
    pub fn is_live_index(&self) -> Option<usize> {
        self.desc.properties.iter().position(|p| p.name == "is-live" && matches!(p.kind, PropertyKind::Bool { .. }))
    }
}

/// What an instance of a subtype not made by `register_element` gets: hooks that fail with
/// a clear message instead of an abort inside instance_init.
pub(crate) fn unregistered() -> &'static ClassData {
    static UNREGISTERED: LazyLock<ClassData> = LazyLock::new(|| ClassData {
        desc: ElementClassDesc::new("unregistered", ElementKind::Sink),
        factory: RwLock::new(Arc::new(|_: &gst::Element| -> CallbackResult<Box<dyn ElementHooks>> {
            Err(CallbackError::new("this element type was not registered with framepipe's register_element"))
        })),
        templates: Vec::new(),
        pspecs: Vec::new(),
    });
    &UNREGISTERED
}

static CLASSES: LazyLock<RwLock<HashMap<glib::Type, &'static ClassData>>> = LazyLock::new(Default::default);

pub(crate) fn insert_class(type_: glib::Type, data: &'static ClassData) {
    CLASSES.write().unwrap_or_else(PoisonError::into_inner).insert(type_, data);
}

/// The class data of `type_` or of its nearest registered ancestor.
pub(crate) fn class_data(mut type_: glib::Type) -> Option<&'static ClassData> {
    let classes = CLASSES.read().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(data) = classes.get(&type_) {
            return Some(data);
        }
        type_ = type_.parent()?;
    }
}

/// The class data for an instance being initialised from `klass` (the instance's own
/// class, which GObject passes to every ancestor's instance_init).
///
/// # Safety
/// `klass` must point to an initialised GTypeClass.
pub(crate) unsafe fn class_data_of_class<C>(klass: &C) -> Option<&'static ClassData> {
    // SAFETY: every GObject class struct starts with a GTypeClass (caller's contract).
    let type_ = unsafe { (*(klass as *const C as *const glib::gobject_ffi::GTypeClass)).g_type };
    // SAFETY: a registered GType read from a live class.
    class_data(unsafe { glib::translate::from_glib(type_) })
}

/// A property value as stored per instance.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PropValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(Option<String>),
    Enum(i32),
}

impl PropValue {
    fn default_of(kind: &PropertyKind) -> Self {
        match kind {
            PropertyKind::Bool { default } => PropValue::Bool(*default),
            PropertyKind::Int { default, .. } => PropValue::Int(*default),
            PropertyKind::Float { default, .. } => PropValue::Float(*default),
            PropertyKind::String { default } => PropValue::String(default.clone()),
            PropertyKind::Enum { default, .. } => PropValue::Enum(*default),
        }
    }

    /// GObject has already checked the value's type against the pspec.
    fn from_value(kind: &PropertyKind, value: &glib::Value) -> Option<Self> {
        Some(match kind {
            PropertyKind::Bool { .. } => PropValue::Bool(value.get().ok()?),
            PropertyKind::Int { .. } => PropValue::Int(value.get().ok()?),
            PropertyKind::Float { .. } => PropValue::Float(value.get().ok()?),
            PropertyKind::String { .. } => PropValue::String(value.get().ok()?),
            PropertyKind::Enum { .. } => PropValue::Enum(glib::EnumValue::from_value(value)?.1.value()),
        })
    }

    fn to_value(&self, pspec: &glib::ParamSpec) -> glib::Value {
        match self {
            PropValue::Bool(v) => v.to_value(),
            PropValue::Int(v) => v.to_value(),
            PropValue::Float(v) => v.to_value(),
            PropValue::String(v) => v.to_value(),
            PropValue::Enum(v) => glib::EnumClass::with_type(pspec.value_type())
                .and_then(|class| class.to_value(*v))
                .unwrap_or_else(|| pspec.default_value().clone()),
        }
    }
}

/// The per-instance state every host carries.
pub(crate) struct HostCore {
    pub class: &'static ClassData,
    props: Mutex<Vec<PropValue>>,
    hooks: OnceLock<Result<Box<dyn ElementHooks>, CallbackError>>,
    /// Why the last value given to a property was refused (out of range), per property
    /// index; reported when the element starts, and by `host::rejected_property`.
    rejected: Mutex<Vec<(usize, String)>>,
}

impl HostCore {
    pub fn new(class: &'static ClassData) -> Self {
        let props = class.desc.properties.iter().map(|p| PropValue::default_of(&p.kind)).collect();
        HostCore { class, props: Mutex::new(props), hooks: OnceLock::new(), rejected: Mutex::new(Vec::new()) }
    }

    /// Makes this instance's hooks; called from `constructed`.
    pub fn create_hooks(&self, element: &gst::Element) {
        self.rename_default(element);
        let factory = self.class.factory.read().unwrap_or_else(PoisonError::into_inner).clone();
        let hooks = match catch_unwind(AssertUnwindSafe(|| factory.create_hooks(element))) {
            Ok(result) => result,
            Err(payload) => Err(CallbackError::from_panic("create_hooks", &*payload)),
        };
        if let Err(err) = &hooks {
            gst::warning!(CAT, obj = element, "creating the element's hooks failed: {err}");
        }
        let _ = self.hooks.set(hooks);
    }

    /// GStreamer names an unnamed instance after its GType (`GstFpPyinvert` ->
    /// `fppyinvert0`); name it after its factory instead (`pyinvert0`), as users expect.
    fn rename_default(&self, element: &gst::Element) {
        // The instance's own type: a class registered again with another description has a
        // type of its own (`GstFpPyinvert_2`, whose instances GStreamer names `fppyinvert_2-0`).
        let type_name = element.type_().name();
        let prefix = type_name.strip_prefix("Gst").unwrap_or(type_name).to_lowercase();
        let name = element.name();
        if let Some(number) = name.strip_prefix(prefix.as_str()).map(|n| n.strip_prefix('-').unwrap_or(n))
            && number.bytes().all(|b| b.is_ascii_digit())
            && element.parent().is_none()
        {
            element.set_property("name", format!("{}{number}", self.class.desc.factory_name));
        }
    }

    /// Calls one hook with no lock held, turning a panic into an error.
    pub fn call<R>(&self, hook: &str, f: impl FnOnce(&dyn ElementHooks) -> CallbackResult<R>) -> CallbackResult<R> {
        let hooks = match self.hooks.get() {
            Some(Ok(hooks)) => hooks.as_ref(),
            Some(Err(err)) => return Err(err.clone()),
            None => return Err(CallbackError::new("the element's hooks were never created")),
        };
        match catch_unwind(AssertUnwindSafe(|| f(hooks))) {
            Ok(result) => result,
            Err(payload) => Err(CallbackError::from_panic(hook, &*payload)),
        }
    }

    /// The hooks, if creating them succeeded.
    pub fn hooks(&self) -> Option<&dyn ElementHooks> {
        match self.hooks.get() {
            Some(Ok(hooks)) => Some(hooks.as_ref()),
            _ => None,
        }
    }

    /// `unlock`/`unlock_stop`: infallible, and a panic there is only logged.
    pub fn notify(&self, hook: &str, f: impl FnOnce(&dyn ElementHooks)) {
        if let Some(Ok(hooks)) = self.hooks.get()
            && catch_unwind(AssertUnwindSafe(|| f(hooks.as_ref()))).is_err()
        {
            gst::error!(CAT, "{hook}() panicked");
        }
    }

    /// Stores a property value and tells the hooks. Returns the new value when it is the
    /// `is-live` property, so a source can follow it.
    pub fn set_property(&self, element: &gst::Element, id: usize, value: &glib::Value) -> Option<bool> {
        let Some(desc) = id.checked_sub(1).and_then(|i| self.class.desc.properties.get(i)) else {
            gst::error!(CAT, obj = element, "unknown property id {id}");
            return None;
        };
        let Some(new) = PropValue::from_value(&desc.kind, value) else {
            gst::error!(CAT, obj = element, "value of type {} for property {}", value.type_(), desc.name);
            return None;
        };
        // The pspecs do not let GLib clamp or drop an out-of-range value (see
        // register::lax_param_type): it is refused here, and remembered.
        {
            let mut rejected = self.rejected.lock().unwrap_or_else(PoisonError::into_inner);
            rejected.retain(|(i, _)| *i != id - 1);
            if let Some(why) = out_of_range(&desc.kind, &new) {
                let why =
                    format!("could not set property \"{}\" in element \"{}\" to {why}", desc.name, element.name());
                gst::warning!(CAT, obj = element, "{why}");
                rejected.push((id - 1, why));
                return None;
            }
        }
        {
            let mut props = self.props.lock().unwrap_or_else(PoisonError::into_inner);
            props[id - 1] = new.clone();
        }
        gst::debug!(CAT, obj = element, "property {} set to {new:?}", desc.name);
        // Without hooks (their creation failed: reported at start) there is no one to tell.
        if self.hooks().is_some()
            && let Err(err) = self.call("property_changed", |h| h.property_changed(&desc.name, value))
        {
            // Setting a property cannot fail in GObject: report it like any hook error.
            err.stash_cause(element);
            gst::element_error!(
                element,
                gst::LibraryError::Settings,
                ("{}", err.message),
                ["{}", err.debug.as_deref().unwrap_or("in property_changed()")]
            );
        }
        match new {
            PropValue::Bool(live) if Some(id - 1) == self.class.is_live_index() => Some(live),
            _ => None,
        }
    }

    /// Why a value set on a property was refused, if one was and no valid value followed.
    pub fn rejected(&self) -> Option<String> {
        self.rejected.lock().unwrap_or_else(PoisonError::into_inner).first().map(|(_, why)| why.clone())
    }

    /// Fails start() while a property holds a refused value: the element would otherwise
    /// run with a setting other than the one asked for.
    pub fn check_settings(&self) -> Result<(), gst::ErrorMessage> {
        match self.rejected() {
            Some(why) => Err(gst::error_msg!(gst::LibraryError::Settings, ("{}", why))),
            None => Ok(()),
        }
    }

    pub fn property(&self, id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let props = self.props.lock().unwrap_or_else(PoisonError::into_inner);
        match id.checked_sub(1).and_then(|i| props.get(i)) {
            Some(v) => v.to_value(pspec),
            None => pspec.default_value().clone(),
        }
    }

    /// What every host's start() does: refuse to start while a property holds a refused
    /// value, then call the `start` hook.
    pub fn start(&self, element: &gst::Element) -> Result<(), gst::ErrorMessage> {
        self.check_settings()?;
        self.call("start", |h| h.start()).map_err(|e| e.to_error_message(element, "start", gst::LibraryError::Failed))
    }

    /// What every host's stop() does: call the `stop` hook.
    pub fn stop(&self, element: &gst::Element) -> Result<(), gst::ErrorMessage> {
        self.call("stop", |h| h.stop()).map_err(|e| e.to_error_message(element, "stop", gst::LibraryError::Failed))
    }

    /// Calls the `set_caps` hook with the parsed caps; a failure is posted as an ERROR
    /// and fails negotiation.
    pub fn set_caps(
        &self,
        element: &gst::Element,
        incaps: Option<&CapsInfo>,
        outcaps: Option<&CapsInfo>,
    ) -> Result<(), gst::LoggableError> {
        self.call("set_caps", |h| h.set_caps(incaps, outcaps)).map_err(|err| {
            callback::post_error(element, "set_caps", &err, None);
            gst::loggable_error!(CAT, "set_caps() failed: {}", err.message)
        })
    }

    /// Before the PAUSED to READY change: deactivating the pads waits for the streaming
    /// thread, which may be inside a slow call of the hooks; ask them to end it first.
    pub fn before_change(&self, transition: gst::StateChange) {
        if transition == gst::StateChange::PausedToReady {
            self.notify("interrupt", |h| h.interrupt());
        }
    }

    pub fn is_live(&self) -> bool {
        let props = self.props.lock().unwrap_or_else(PoisonError::into_inner);
        matches!(self.class.is_live_index().and_then(|i| props.get(i)), Some(PropValue::Bool(true)))
    }
}

/// Why `value` is outside the range of `kind`, if it is.
fn out_of_range(kind: &PropertyKind, value: &PropValue) -> Option<String> {
    match (kind, value) {
        (PropertyKind::Int { minimum, maximum, .. }, PropValue::Int(v)) if v < minimum || v > maximum => {
            Some(format!("{v}: out of range ({minimum} to {maximum})"))
        }
        (PropertyKind::Float { minimum, maximum, .. }, PropValue::Float(v)) if !(minimum <= v && v <= maximum) => {
            Some(format!("{v}: out of range ({minimum} to {maximum})"))
        }
        _ => None,
    }
}

/// Posts `err` from hook `hook` as an ERROR from the element (see [`callback::post_error`]).
pub(crate) fn post_hook_error<T: ElementImpl>(imp: &T, hook: &str, err: &CallbackError) {
    callback::post_error(imp.obj().upcast_ref(), hook, err, None);
}
