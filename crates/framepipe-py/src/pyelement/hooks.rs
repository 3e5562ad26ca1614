//! The hooks of one Python element instance: the methods of its Python object, called
//! from the host's virtual methods, and the factory that makes that object.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use framepipe_core::media::MediaInfo;
use framepipe_core::pack;
use gst::glib;
use gst::prelude::*;
use gstframepipe::host::{
    CallbackError, CallbackResult, CapsInfo, ElementHooks, ElementKind, HooksFactory, TransformMode,
};
use numpy::PyUntypedArray;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyMemoryView, PyType};

use super::handle::PyElementHandle;
use super::jobs::{Cancel, Job, STOP_WAIT};
use crate::array::Borrowed;
use crate::buffer::PyBuffer;
use crate::callback::callback_error;
use crate::errors::to_py;
use crate::frame::PyFrame;
// Streaming threads park a Python thread state and only take the GIL per call.
use crate::gil::with_python as attach;
use crate::gil::{ElementStopped, Running};

fn detached() -> CallbackError {
    CallbackError::new("the Python interpreter is not running (finalizing?)")
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
pub(super) struct Shared {
    obj: Py<PyAny>,
    pub(super) element: glib::WeakRef<gst::Element>,
    kind: ElementKind,
    has_transform_caps: bool,
    running: Running,
}

impl Shared {
    /// Calls `f` attached to Python, turning a Python exception into a hook error.
    pub(super) fn call<R>(
        &self,
        hook: &str,
        f: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyAny>) -> PyResult<R>,
    ) -> CallbackResult<R> {
        attach(|py| f(py, self.obj.bind(py)).map_err(|e| callback_error(py, e, Some(hook))))
            .unwrap_or_else(|| Err(detached()))
    }

    /// A streaming call (`create`, `render`, `transform`): interruptible by stopping, and
    /// not started at all once stopping began.
    fn streaming_call<R>(
        &self,
        hook: &str,
        f: impl for<'py> FnOnce(Python<'py>, &Bound<'py, PyAny>) -> PyResult<R>,
    ) -> CallbackResult<R> {
        if self.running.stopping() {
            return Err(CallbackError::flushing());
        }
        attach(|py| {
            let result = self.running.guard(py, || f(py, self.obj.bind(py)));
            result.map_err(|e| {
                if e.is_instance_of::<ElementStopped>(py) || self.running.stopping() {
                    CallbackError::flushing()
                } else {
                    callback_error(py, e, Some(hook))
                }
            })
        })
        .unwrap_or_else(|| Err(detached()))
    }

    pub(super) fn create(&self, caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        self.streaming_call("create", |py, obj| {
            let out = obj.call_method0(intern!(py, "create"))?;
            to_buffer(&out, &caps.media, "create")
        })
    }

    pub(super) fn render(&self, buffer: &gst::Buffer, caps: &CapsInfo) -> CallbackResult<()> {
        self.streaming_call("render", |py, obj| {
            let frame = Bound::new(py, PyFrame::new(buffer.clone(), Some(caps.caps.clone()), caps.media.clone()))?;
            obj.call_method1(intern!(py, "render"), (&frame,)).map(drop)
        })
    }
}

/// The hooks of one element instance: the methods of its Python object.
///
/// `create` (sources) and `render` (sinks) run on a thread of the element's own, while the
/// streaming thread waits for them without holding the GIL: when the element is stopped
/// or flushed, `unlock` lets the streaming thread return at once, even if the Python call
/// is stuck in a `time.sleep(5)` that nothing can interrupt; its result is dropped. The
/// transform hooks run on the streaming thread itself (no hand-over per buffer).
pub(super) struct PyHooks {
    pub(super) shared: Arc<Shared>,
    pub(super) worker: Mutex<Option<mpsc::Sender<Job>>>,
    pub(super) flushing: AtomicBool,
    pub(super) current: Mutex<Option<Arc<dyn Cancel>>>,
}

fn caps_str(info: Option<&CapsInfo>) -> Option<String> {
    info.map(|c| c.caps.to_string())
}

impl ElementHooks for PyHooks {
    fn start(&self) -> CallbackResult<()> {
        self.shared.running.stopping.store(false, Ordering::SeqCst);
        let call = |shared: &Shared| shared.call("start", |py, obj| obj.call_method0(intern!(py, "start")).map(drop));
        // After a stop that is still queued behind a slow create/render, in order.
        match self.existing_sender() {
            Some(tx) => {
                self.on_worker(tx, call, None).unwrap_or_else(|| Err(CallbackError::new("start() did not run")))
            }
            None => call(&self.shared),
        }
    }

    fn stop(&self) -> CallbackResult<()> {
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

    fn set_caps(&self, incaps: Option<&CapsInfo>, outcaps: Option<&CapsInfo>) -> CallbackResult<()> {
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

    fn create(&self, caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        let caps = caps.clone();
        self.off_thread(move |shared| shared.create(&caps))
    }

    fn transform_caps(&self, direction: gst::PadDirection, caps: &gst::Caps) -> CallbackResult<Option<gst::Caps>> {
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
                .map_err(|_| CallbackError::new(format!("transform_caps() returned {s:?}, which is not caps")))
        })
        .transpose()
    }

    fn transform_ip(&self, buffer: gst::Buffer, caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        let shared = &*self.shared;
        let passthrough = shared.kind == ElementKind::Transform(TransformMode::Passthrough);
        if shared.running.stopping() {
            return Err(CallbackError::flushing());
        }
        attach(|py| {
            let frame = if passthrough {
                PyFrame::new(buffer, Some(caps.caps.clone()), caps.media.clone())
            } else {
                PyFrame::lend(buffer, Some(caps.caps.clone()), caps.media.clone())
            };
            let frame = Bound::new(py, frame).map_err(|e| callback_error(py, e, Some("transform_ip")))?;
            let result =
                shared.running.guard(py, || shared.obj.bind(py).call_method1(intern!(py, "transform_ip"), (&frame,)));
            let buffer = frame.get().reclaim(py).map_err(|e| CallbackError::new(e.to_string()))?;
            match result {
                Err(e) if e.is_instance_of::<ElementStopped>(py) || shared.running.stopping() => {
                    Err(CallbackError::flushing())
                }
                Err(e) => Err(callback_error(py, e, Some("transform_ip"))),
                Ok(keep) if keep.is(PyBool::new(py, false)) => Ok(None),
                Ok(_) => Ok(Some(buffer)),
            }
        })
        .unwrap_or_else(|| Err(detached()))
    }

    fn transform(&self, buf: &gst::Buffer, caps: &CapsInfo, outcaps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        self.shared.streaming_call("transform", |py, obj| {
            let frame = Bound::new(py, PyFrame::new(buf.clone(), Some(caps.caps.clone()), caps.media.clone()))?;
            let out = obj.call_method1(intern!(py, "transform"), (&frame,))?;
            to_buffer(&out, &outcaps.media, "transform")
        })
    }

    fn render(&self, buffer: &gst::Buffer, caps: &CapsInfo) -> CallbackResult<()> {
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
pub(super) struct PyClassFactory {
    pub(super) cls: Py<PyType>,
    pub(super) kind: ElementKind,
    pub(super) has_transform_caps: bool,
}

impl HooksFactory for PyClassFactory {
    fn create_hooks(&self, element: &gst::Element) -> CallbackResult<Box<dyn ElementHooks>> {
        let weak = element.downgrade();
        let obj = attach(|py| -> CallbackResult<Py<PyAny>> {
            let make = || -> PyResult<Py<PyAny>> {
                let cls = self.cls.bind(py);
                let obj = cls.call_method1(intern!(py, "__new__"), (cls,))?;
                let handle = Bound::new(py, PyElementHandle { element: weak.clone() })?;
                obj.setattr(intern!(py, "_fp_element"), handle)?;
                obj.call_method0(intern!(py, "__init__"))?;
                Ok(obj.unbind())
            };
            make().map_err(|e| callback_error(py, e, Some("__init__")))
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
