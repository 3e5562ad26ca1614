//! Elements written in Python. `@framepipe.element` hands a class and its description to
//! [`register_element`], which registers it with gstframepipe's hosts as an element factory
//! of its own. Each element instance gets an instance of the class, and the host's hooks
//! call its methods (`create`, `transform_ip`, `transform`, `render`, `start`, ...).
//!
//! Streaming threads take the GIL only around the Python call itself; a source's `create`
//! and a sink's `render` run on a thread of the element's own so that stopping never waits
//! for a slow Python call (see [`PyHooks`]). A Python exception
//! becomes a [`HookError`] whose debug text is the formatted traceback, and the exception
//! is kept (`gstframepipe::pyfunc::stash_error_cause`) so that the caller's `PipelineError` gets it as
//! `__cause__`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};

use framepipe_core::media::MediaInfo;
use framepipe_core::pack;
use gst::glib;
use gst::prelude::*;
use gstframepipe::host::{
    self, CapsInfo, ElementClassDesc, ElementHooks, ElementKind, EnumMember, HookError, HookResult, HooksFactory,
    PropertyDesc, PropertyKind, TransformMode,
};
use numpy::PyUntypedArray;
use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyMemoryView, PyString, PyType};

use crate::array::Borrowed;
use crate::buffer::PyBuffer;
use crate::element::PyElement;
use crate::errors::to_py;
use crate::frame::PyFrame;
// Streaming threads park a Python thread state and only take the GIL per call.
use crate::gil::with_python as attach;
use crate::gil::{ElementStopped, Running};
use crate::value;

/// A registered class, with the address of the plugin it was registered into (0: none,
/// in-process).
type Registered = (ElementClassDesc, Arc<dyn HooksFactory>, usize);

/// Every class registered in this process, so that `_plugin_register` can register them
/// again as features of the plugin file that gst-launch-1.0 loaded.
static REGISTERED: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

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

/// The plugin whose `_plugin_load` is importing element modules: their classes register
/// straight into it. Registering them in-process first and into the plugin afterwards
/// would replace the registry's feature objects while GStreamer is loading one of them.
static LOADING: Mutex<Option<(usize, gst::Plugin)>> = Mutex::new(None);

fn detached() -> HookError {
    HookError::new("the Python interpreter is not running (finalizing?)")
}

/// A Python exception raised by `hook` as a hook error: the exception's type and message,
/// with the formatted traceback as debug text. The exception itself is recorded as the
/// cause of the ERROR `element` is about to post.
fn hook_error(py: Python<'_>, element: &glib::WeakRef<gst::Element>, hook: &str, err: PyErr) -> HookError {
    let value = err.value(py);
    let type_name = value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    let text = value.str().map(|s| s.to_string()).unwrap_or_default();
    let message = if text.is_empty() {
        format!("{hook}() raised {type_name}")
    } else {
        format!("{hook}() raised {type_name}: {text}")
    };
    let debug = py
        .import("traceback")
        .and_then(|tb| tb.call_method1("format_exception", (value.get_type(), value, err.traceback(py))))
        .and_then(|lines| PyString::new(py, "").call_method1("join", (lines,)))
        .map(|s| s.to_string())
        .unwrap_or_else(|_| message.clone());
    if let Some(element) = element.upgrade() {
        let cause: pyo3::Py<pyo3::exceptions::PyBaseException> = err.value(py).clone().unbind();
        gstframepipe::pyfunc::stash_error_cause(element.path_string().as_str(), Box::new(cause));
    }
    HookError::with_debug(message, debug)
}

/// A Python value returned by `create()` or `transform()` as a buffer for `media`.
fn to_buffer(value: &Bound<'_, PyAny>, media: &MediaInfo, hook: &str) -> PyResult<Option<gst::Buffer>> {
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(frame) = value.cast::<PyFrame>() {
        return Ok(Some(frame.get().gst_buffer()?));
    }
    if let Ok(buf) = value.cast::<PyBuffer>() {
        return Ok(Some(buf.get().gst()?));
    }
    if value.is_instance_of::<PyUntypedArray>() {
        let arr = Borrowed::new(value)?;
        return pack::array_to_buffer(arr.as_ref(), media).map(Some).map_err(to_py);
    }
    if value.is_instance_of::<PyBytes>()
        || value.is_instance_of::<PyByteArray>()
        || value.is_instance_of::<PyMemoryView>()
    {
        let bytes: Vec<u8> = pyo3::buffer::PyBuffer::<u8>::get(value)?.to_vec(value.py())?;
        return Ok(Some(gst::Buffer::from_slice(bytes)));
    }
    Err(PyTypeError::new_err(format!(
        "{hook}() must return a Frame, numpy array, Buffer, bytes or None, not {}",
        value.get_type().name()?
    )))
}

/// The Python object of one element instance, and how to call it.
struct Shared {
    obj: Py<PyAny>,
    element: glib::WeakRef<gst::Element>,
    kind: ElementKind,
    has_transform_caps: bool,
    running: Running,
}

impl Shared {
    /// Calls `f` attached to Python, turning a Python exception into a hook error.
    fn call<R>(
        &self,
        hook: &str,
        f: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyAny>) -> PyResult<R>,
    ) -> HookResult<R> {
        attach(|py| f(py, self.obj.bind(py)).map_err(|e| hook_error(py, &self.element, hook, e)))
            .unwrap_or_else(|| Err(detached()))
    }

    /// A streaming call (`create`, `render`, `transform`): interruptible by stopping, and
    /// not started at all once stopping began.
    fn streaming_call<R>(
        &self,
        hook: &str,
        f: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyAny>) -> PyResult<R>,
    ) -> HookResult<R> {
        if self.running.stopping() {
            return Err(HookError::flushing());
        }
        attach(|py| {
            let result = self.running.guard(py, || f(py, self.obj.bind(py)));
            result.map_err(|e| {
                if e.is_instance_of::<ElementStopped>(py) || self.running.stopping() {
                    HookError::flushing()
                } else {
                    hook_error(py, &self.element, hook, e)
                }
            })
        })
        .unwrap_or_else(|| Err(detached()))
    }

    fn create(&self, caps: &CapsInfo) -> HookResult<Option<gst::Buffer>> {
        self.streaming_call("create", |py, obj| {
            let out = obj.call_method0(intern!(py, "create"))?;
            to_buffer(&out, &caps.media, "create")
        })
    }

    fn render(&self, buffer: &gst::Buffer, caps: &CapsInfo) -> HookResult<()> {
        self.streaming_call("render", |py, obj| {
            let frame = Bound::new(py, PyFrame::new(buffer.clone(), Some(caps.caps.clone()), caps.media.clone()))?;
            obj.call_method1(intern!(py, "render"), (&frame,)).map(drop)
        })
    }
}

/// A call running on the element's Python thread, which `unlock` can stop waiting for.
trait Cancel: Send + Sync {
    fn cancel(&self);
}

struct Slot<R> {
    state: Mutex<(Option<HookResult<R>>, bool)>,
    done: Condvar,
}

impl<R: Send> Cancel for Slot<R> {
    fn cancel(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.done.notify_all();
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The hooks of one element instance: the methods of its Python object.
///
/// `create` (sources) and `render` (sinks) run on a thread of the element's own, while the
/// streaming thread waits for them without holding the GIL: when the element is stopped
/// or flushed, `unlock` lets the streaming thread return at once, even if the Python call
/// is stuck in a `time.sleep(5)` that nothing can interrupt; its result is dropped. The
/// transform hooks run on the streaming thread itself (no hand-over per buffer).
struct PyHooks {
    shared: Arc<Shared>,
    worker: Mutex<Option<mpsc::Sender<Job>>>,
    flushing: AtomicBool,
    current: Mutex<Option<Arc<dyn Cancel>>>,
}

/// Longest a stopping element waits for its Python thread to run `stop()`.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_millis(800);

impl PyHooks {
    /// The element's Python thread, if it was started.
    fn existing_sender(&self) -> Option<mpsc::Sender<Job>> {
        self.worker.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Runs `f` on the element's Python thread after whatever is queued there, waiting up
    /// to `limit` (None: until it ran); None when it did not run in time.
    fn on_worker<R: Send + 'static>(
        &self,
        tx: mpsc::Sender<Job>,
        f: impl FnOnce(&Shared) -> HookResult<R> + Send + 'static,
        limit: Option<std::time::Duration>,
    ) -> Option<HookResult<R>> {
        let (done_tx, done_rx) = mpsc::channel();
        let shared = self.shared.clone();
        let job: Job = Box::new(move || {
            let _ = done_tx.send(f(&shared));
        });
        if tx.send(job).is_err() {
            return Some(Err(HookError::new("the element's Python thread is gone")));
        }
        match limit {
            Some(limit) => done_rx.recv_timeout(limit).ok(),
            None => done_rx.recv().ok(),
        }
    }

    fn sender(&self) -> HookResult<mpsc::Sender<Job>> {
        let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = worker.as_ref() {
            return Ok(tx.clone());
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let name = self.shared.element.upgrade().map(|e| e.name().to_string()).unwrap_or_default();
        std::thread::Builder::new()
            .name(format!("fp-{name}"))
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .map_err(|e| HookError::new(format!("cannot start the element's Python thread: {e}")))?;
        *worker = Some(tx.clone());
        Ok(tx)
    }

    /// Runs `f` on the element's Python thread and waits for it, or until `unlock`.
    fn off_thread<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Shared) -> HookResult<R> + Send + 'static,
    ) -> HookResult<R> {
        let slot = Arc::new(Slot { state: Mutex::new((None, false)), done: Condvar::new() });
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(slot.clone() as Arc<dyn Cancel>);
        let result = if self.flushing.load(Ordering::SeqCst) {
            Err(HookError::flushing())
        } else {
            let shared = self.shared.clone();
            let job_slot = slot.clone();
            let job: Job = Box::new(move || {
                let result = f(&shared);
                job_slot.state.lock().unwrap_or_else(PoisonError::into_inner).0 = Some(result);
                job_slot.done.notify_all();
            });
            match self.sender()?.send(job) {
                Err(_) => Err(HookError::new("the element's Python thread is gone")),
                Ok(()) => {
                    let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
                    loop {
                        if let Some(result) = state.0.take() {
                            break result;
                        }
                        if state.1 {
                            break Err(HookError::flushing());
                        }
                        state = slot.done.wait(state).unwrap_or_else(PoisonError::into_inner);
                    }
                }
            }
        };
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        result
    }
}

fn caps_str(info: Option<&CapsInfo>) -> Option<String> {
    info.map(|c| c.caps.to_string())
}

impl ElementHooks for PyHooks {
    fn start(&self) -> HookResult<()> {
        self.shared.running.stopping.store(false, Ordering::SeqCst);
        let call = |shared: &Shared| shared.call("start", |py, obj| obj.call_method0(intern!(py, "start")).map(drop));
        // After a stop that is still queued behind a slow create/render, in order.
        match self.existing_sender() {
            Some(tx) => self.on_worker(tx, call, None).unwrap_or_else(|| Err(HookError::new("start() did not run"))),
            None => call(&self.shared),
        }
    }

    fn stop(&self) -> HookResult<()> {
        self.shared.running.interrupt();
        let call = |shared: &Shared| shared.call("stop", |py, obj| obj.call_method0(intern!(py, "stop")).map(drop));
        match self.existing_sender() {
            // stop() runs on the element's Python thread, so never while create()/render()
            // is still running there; the streaming thread is not kept waiting longer than
            // STOP_WAIT for a call the interrupt could not end (a C call such as a sleep):
            // stop() then runs when that call returns.
            Some(tx) => self.on_worker(tx, call, Some(STOP_WAIT)).unwrap_or(Ok(())),
            None => call(&self.shared),
        }
    }

    fn interrupt(&self) {
        self.shared.running.interrupt();
    }

    fn set_caps(&self, incaps: Option<&CapsInfo>, outcaps: Option<&CapsInfo>) -> HookResult<()> {
        let (incaps, outcaps) = (caps_str(incaps), caps_str(outcaps));
        self.shared.call("set_caps", |py, obj| {
            let name = intern!(py, "set_caps");
            match self.shared.kind {
                ElementKind::Source => obj.call_method1(name, (outcaps,)),
                ElementKind::Sink => obj.call_method1(name, (incaps,)),
                ElementKind::Transform(_) => obj.call_method1(name, (incaps, outcaps)),
            }
            .map(drop)
        })
    }

    fn create(&self, caps: &CapsInfo) -> HookResult<Option<gst::Buffer>> {
        let caps = caps.clone();
        self.off_thread(move |shared| shared.create(&caps))
    }

    fn transform_caps(&self, direction: gst::PadDirection, caps: &gst::Caps) -> HookResult<Option<gst::Caps>> {
        if !self.shared.has_transform_caps {
            return Ok(None);
        }
        let pad = if direction == gst::PadDirection::Sink { "sink" } else { "src" };
        let text = caps.to_string();
        let out: Option<String> = self.shared.call("transform_caps", |py, obj| {
            let out = obj.call_method1(intern!(py, "transform_caps"), (pad, text))?;
            if out.is_none() { Ok(None) } else { Ok(Some(out.extract::<String>()?)) }
        })?;
        out.map(|s| {
            framepipe_core::media::parse_caps(&s)
                .map_err(|_| HookError::new(format!("transform_caps() returned {s:?}, which is not caps")))
        })
        .transpose()
    }

    fn transform_ip(&self, buffer: gst::Buffer, caps: &CapsInfo) -> HookResult<Option<gst::Buffer>> {
        let shared = &*self.shared;
        let passthrough = shared.kind == ElementKind::Transform(TransformMode::Passthrough);
        if shared.running.stopping() {
            return Err(HookError::flushing());
        }
        attach(|py| {
            let frame = if passthrough {
                PyFrame::new(buffer, Some(caps.caps.clone()), caps.media.clone())
            } else {
                PyFrame::lend(buffer, Some(caps.caps.clone()), caps.media.clone())
            };
            let frame = Bound::new(py, frame).map_err(|e| hook_error(py, &shared.element, "transform_ip", e))?;
            let result =
                shared.running.guard(py, || shared.obj.bind(py).call_method1(intern!(py, "transform_ip"), (&frame,)));
            let buffer = frame.get().reclaim(py).map_err(|e| HookError::new(e.to_string()))?;
            match result {
                Err(e) if e.is_instance_of::<ElementStopped>(py) || shared.running.stopping() => {
                    Err(HookError::flushing())
                }
                Err(e) => Err(hook_error(py, &shared.element, "transform_ip", e)),
                Ok(keep) if keep.is(PyBool::new(py, false)) => Ok(None),
                Ok(_) => Ok(Some(buffer)),
            }
        })
        .unwrap_or_else(|| Err(detached()))
    }

    fn transform(&self, input: &gst::Buffer, incaps: &CapsInfo, outcaps: &CapsInfo) -> HookResult<Option<gst::Buffer>> {
        self.shared.streaming_call("transform", |py, obj| {
            let frame = Bound::new(py, PyFrame::new(input.clone(), Some(incaps.caps.clone()), incaps.media.clone()))?;
            let out = obj.call_method1(intern!(py, "transform"), (&frame,))?;
            to_buffer(&out, &outcaps.media, "transform")
        })
    }

    fn render(&self, buffer: &gst::Buffer, caps: &CapsInfo) -> HookResult<()> {
        let (buffer, caps) = (buffer.clone(), caps.clone());
        self.off_thread(move |shared| shared.render(&buffer, &caps))
    }

    fn unlock(&self) {
        self.flushing.store(true, Ordering::SeqCst);
        if let Some(current) = self.current.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            current.cancel();
        }
    }

    fn unlock_stop(&self) {
        self.flushing.store(false, Ordering::SeqCst);
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Makes the Python object of each new element instance.
struct PyClassFactory {
    cls: Py<PyType>,
    kind: ElementKind,
    has_transform_caps: bool,
}

impl HooksFactory for PyClassFactory {
    fn create_hooks(&self, element: &gst::Element) -> HookResult<Box<dyn ElementHooks>> {
        let weak = element.downgrade();
        let obj = attach(|py| -> HookResult<Py<PyAny>> {
            let make = || -> PyResult<Py<PyAny>> {
                let cls = self.cls.bind(py);
                let obj = cls.call_method1(intern!(py, "__new__"), (cls,))?;
                let handle = Bound::new(py, PyElementHandle { element: weak.clone() })?;
                obj.setattr(intern!(py, "_fp_element"), handle)?;
                obj.call_method0(intern!(py, "__init__"))?;
                Ok(obj.unbind())
            };
            make().map_err(|e| hook_error(py, &glib::WeakRef::new(), "__init__", e))
        })
        .unwrap_or_else(|| Err(detached()))?;
        let shared = Shared {
            obj,
            element: weak,
            kind: self.kind,
            has_transform_caps: self.has_transform_caps,
            running: Running::default(),
        };
        Ok(Box::new(PyHooks {
            shared: Arc::new(shared),
            worker: Mutex::new(None),
            flushing: AtomicBool::new(false),
            current: Mutex::new(None),
        }))
    }
}

/// What a Python element object holds as `self._fp_element`: a weak reference to its
/// GStreamer element, through which `fp.Property` reads and writes the property values.
#[pyclass(frozen, name = "_ElementHandle", module = "framepipe._framepipe")]
pub struct PyElementHandle {
    element: glib::WeakRef<gst::Element>,
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

/// Registers `cls` as element factory `spec["name"]` in this process, at once. `spec` is
/// what `framepipe.element` computed: kind ("source", "transform", "sink"), mode (for
/// transforms: "in_place", "out_of_place", "passthrough"), caps, metadata, rank and
/// properties.
#[pyfunction(name = "_register_element")]
pub fn register_element(py: Python<'_>, cls: Bound<'_, PyType>, spec: Bound<'_, PyDict>) -> PyResult<()> {
    let name: String = item(&spec, "name")?;
    let mode = match item::<Option<String>>(&spec, "mode")?.as_deref() {
        Some("out_of_place") => TransformMode::OutOfPlace,
        Some("passthrough") => TransformMode::Passthrough,
        _ => TransformMode::InPlace,
    };
    let kind = match item::<String>(&spec, "kind")?.as_str() {
        "source" => ElementKind::Source,
        "transform" => ElementKind::Transform(mode),
        "sink" => ElementKind::Sink,
        other => return Err(PyValueError::new_err(format!("unknown element kind {other:?}"))),
    };
    let mut desc = ElementClassDesc::new(name, kind);
    desc.long_name = item(&spec, "long_name")?;
    desc.classification = item(&spec, "classification")?;
    desc.description = item(&spec, "description")?;
    desc.author = item(&spec, "author")?;
    desc.sink_caps = item(&spec, "sink_caps")?;
    desc.src_caps = item(&spec, "src_caps")?;
    desc.rank = gst::Rank::from(item::<i32>(&spec, "rank")?);
    if let Some(type_name) = item::<Option<String>>(&spec, "type_name")? {
        desc.type_name = Some(type_name);
    }
    let props: Vec<Bound<'_, PyDict>> = item(&spec, "properties")?;
    desc.properties = props.iter().map(property).collect::<PyResult<_>>()?;
    let enum_classes: Vec<(String, Py<PyAny>)> = props
        .iter()
        .filter_map(|p| {
            let class = p.get_item("enum_class").ok().flatten()?;
            Some((p.get_item("name").ok().flatten()?.extract().ok()?, class.unbind()))
        })
        .collect();
    let factory: Arc<dyn HooksFactory> =
        Arc::new(PyClassFactory { cls: cls.unbind(), kind, has_transform_caps: item(&spec, "has_transform_caps")? });
    let loading = LOADING.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let address = loading.as_ref().map_or(0, |(address, _)| *address);
    let for_plugin = (desc.clone(), factory.clone(), address);
    let type_ = py
        .detach(move || host::register_element(loading.as_ref().map(|(_, plugin)| plugin), desc, factory))
        .map_err(to_py)?;
    if let Some(class) = glib::object::ObjectClass::from_type(type_) {
        let mut enums = ENUMS.lock().unwrap_or_else(PoisonError::into_inner);
        for (name, enum_class) in enum_classes {
            if let Some(pspec) = class.find_property(&name) {
                enums.retain(|(t, _)| *t != pspec.value_type());
                enums.push((pspec.value_type(), enum_class));
            }
        }
    }
    // A class decorated again replaces the earlier one, for the plugin loader too.
    let mut registered = REGISTERED.lock().unwrap_or_else(PoisonError::into_inner);
    registered.retain(|(d, _, _)| d.factory_name != for_plugin.0.factory_name);
    registered.push(for_plugin);
    Ok(())
}

/// Makes classes decorated from now on (until [`plugin_loaded`]) register into the plugin
/// at `address` (see `_plugin_load`).
#[pyfunction(name = "_plugin_loading")]
pub fn plugin_loading(address: usize) -> PyResult<()> {
    if address == 0 {
        return Err(PyValueError::new_err("plugin address is NULL"));
    }
    // SAFETY: the loader passes the address of the GstPlugin being loaded, alive during
    // `_plugin_load`; plugin_from_address takes a reference of its own, dropped in
    // plugin_loaded.
    let plugin = unsafe { host::plugin_from_address(address) };
    *LOADING.lock().unwrap_or_else(PoisonError::into_inner) = Some((address, plugin));
    Ok(())
}

#[pyfunction(name = "_plugin_loaded")]
pub fn plugin_loaded() {
    LOADING.lock().unwrap_or_else(PoisonError::into_inner).take();
}

/// Registers the built-in elements and every Python element class registered in this
/// process (and not already into this plugin) as features of the plugin at `address` (the `GstPlugin*` the gst-launch-1.0
/// loader hands to `framepipe._plugin_load`, valid during that call).
#[pyfunction(name = "_plugin_register")]
pub fn plugin_register(py: Python<'_>, address: usize) -> PyResult<()> {
    if address == 0 {
        return Err(PyValueError::new_err("plugin address is NULL"));
    }
    // SAFETY: the loader passes the address of the GstPlugin being loaded, which stays
    // alive during this call; plugin_from_address takes a reference of its own.
    let plugin = unsafe { host::plugin_from_address(address) };
    let classes: Vec<_> = REGISTERED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(_, _, registered_in)| *registered_in != address)
        .map(|(desc, factory, _)| (desc.clone(), factory.clone()))
        .collect();
    py.detach(move || -> framepipe_core::Result<()> {
        gstframepipe::register(&plugin).map_err(|e| framepipe_core::Error::Gst(e.to_string()))?;
        for (desc, factory) in classes {
            host::register_element(Some(&plugin), desc, factory)?;
        }
        Ok(())
    })
    .map_err(to_py)
}

/// Adds this file's classes and functions to the native module.
pub fn add_to_module(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    m.add_class::<PyElementHandle>()?;
    m.add_function(wrap_pyfunction!(register_element, m)?)?;
    m.add_function(wrap_pyfunction!(plugin_register, m)?)?;
    m.add_function(wrap_pyfunction!(plugin_loading, m)?)?;
    m.add_function(wrap_pyfunction!(plugin_loaded, m)?)?;
    Ok(())
}

/// ParseError for the first hosted element of `pipeline` that refused a value given in the
/// launch description (out of range), naming the property.
pub fn check_launch_properties(pipeline: &gst::Pipeline) -> PyResult<()> {
    for element in pipeline.iterate_recurse().into_iter().flatten() {
        if let Some(why) = host::rejected_property(&element) {
            let token = why.split('"').nth(1).map(str::to_string);
            return Err(to_py(framepipe_core::Error::Parse { message: why, token }));
        }
    }
    Ok(())
}
