//! `Pipeline`: the native half. Context management and the `frames()`/`messages()`
//! iterators live in `framepipe/pipeline.py`, which subclasses this.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use framepipe_core::media::MediaInfo;
use framepipe_core::pipeline::FrameCounter;
use framepipe_core::{Error, Pipeline, pack};
use gst::prelude::*;
use numpy::PyUntypedArray;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};

use gstframepipe::callback::{self, CallbackError, CapsCache, CapsInfo};

use crate::array::Borrowed;
use crate::buffer::PyBuffer;
use crate::element::PyElement;
use crate::errors::FpResult;
use crate::frame::PyFrame;
use crate::gil::{Running, detach_interruptible};
use crate::message::PyMessage;

fn timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(PyValueError::new_err(format!("timeout must be a non-negative number of seconds, not {s}"))),
    }
}

#[pyclass(subclass, frozen, name = "Pipeline", module = "framepipe._framepipe")]
pub struct PyPipeline {
    inner: Arc<Pipeline>,
    description: String,
    /// Per appsink: the caps of the last sample and what they describe, so the caps are
    /// parsed once per change rather than once per frame.
    media: Mutex<HashMap<String, Option<Arc<CapsInfo>>>>,
    counter: Mutex<Option<Arc<AtomicU64>>>,
    frame_counter: Mutex<Option<Arc<FrameCounter>>>,
    /// Probes added from Python, by the id `add_probe` returned.
    probes: Mutex<HashMap<u64, (gst::Pad, gst::PadProbeId)>>,
    /// The probes' callbacks. The probes themselves only reach them through these slots,
    /// so that the garbage collector sees every strong reference (`__traverse__`) and can
    /// free a pipeline whose callback captures it.
    callbacks: Mutex<HashMap<u64, CallbackSlot>>,
    /// Per probe, the call in progress, which stopping interrupts (see `frame_probe`).
    running: ProbeCalls,
}

type CallbackSlot = Arc<Mutex<Option<Py<PyAny>>>>;
type ProbeCalls = Arc<Mutex<HashMap<u64, Arc<Running>>>>;

/// Stopping the pipeline interrupts the probes' Python calls in progress (an asynchronous
/// `ElementStopped` in the streaming thread, as for Python elements) instead of waiting
/// for them: deactivating a pad waits for its streaming thread. Once stopped, probes call
/// Python again.
fn interrupt_probes_on_stop(inner: &Pipeline, running: &ProbeCalls) {
    let running = Arc::downgrade(running);
    inner.on_stop(Box::new(move |before| {
        let Some(running) = running.upgrade() else { return };
        let calls: Vec<Arc<Running>> = running.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        for call in calls {
            if before {
                call.interrupt();
            } else {
                call.stopping.store(false, Ordering::SeqCst);
            }
        }
    }));
}

static NEXT_PROBE: AtomicU64 = AtomicU64::new(1);

impl Drop for PyPipeline {
    fn drop(&mut self) {
        // Stop with the GIL released: a streaming thread may be waiting for it to run a
        // Python callback, and stopping waits for the streaming threads.
        let inner = self.inner.clone();
        let _ = crate::gil::detached_if_running(move || inner.set_state(gst::State::Null));
    }
}

/// The probe behind `Pipeline.add_probe`: the callback gets a writable frame over the
/// buffer (made writable here), returning False drops it, and an exception is an ERROR of
/// the pad's element with the exception kept as the cause.
fn frame_probe(
    element: &gst::Element,
    func: CallbackSlot,
    running: Arc<Running>,
) -> impl Fn(&gst::Pad, &mut gst::PadProbeInfo) -> gst::PadProbeReturn + Send + Sync + 'static {
    let element = element.downgrade();
    let cache = CapsCache::default();
    move |pad, info| {
        if running.stopping() {
            // The pipeline is stopping: buffers still flowing pass untouched.
            return gst::PadProbeReturn::Ok;
        }
        let Some(mut buffer) = info.take_buffer() else { return gst::PadProbeReturn::Ok };
        buffer.make_mut();
        let caps = pad.current_caps().map(|c| cache.get(&c));
        let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::gil::with_python(|py| {
                let f = func.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|f| f.clone_ref(py));
                match f {
                    // Cleared by the garbage collector: the buffer passes untouched.
                    None => Ok(Some(buffer)),
                    Some(f) => running
                        .guard(py, || crate::callback::call_attached(py, f.bind(py), None, buffer, caps.as_deref())),
                }
            })
            .unwrap_or_else(|| Err(CallbackError::new("the Python interpreter is not running")))
        }));
        let err = match call {
            Ok(Ok(Some(buffer))) => {
                info.data = Some(gst::PadProbeData::Buffer(buffer));
                return gst::PadProbeReturn::Ok;
            }
            // The buffer was taken out of `info` (and is gone): GStreamer must not unref
            // it again, which DROP would do (a CRITICAL on the NULL data); HANDLED says the
            // probe consumed it.
            Ok(Ok(None)) => return gst::PadProbeReturn::Handled,
            // Interrupted by stopping (ElementStopped): not an error of the stream.
            Ok(Err(_)) if running.stopping() => return gst::PadProbeReturn::Handled,
            Ok(Err(err)) => err,
            Err(panic) => CallbackError::new(format!("the probe panicked: {}", callback::panic_message(&*panic))),
        };
        if let Some(element) = element.upgrade() {
            let message = format!("probe on {}: {}", pad.name(), err.message);
            callback::post_error(&element, "probe", &err, Some(&message));
        }
        gst::PadProbeReturn::Handled
    }
}

impl PyPipeline {
    fn frame(&self, sink: &str, sample: gst::Sample) -> FpResult<PyFrame> {
        let buffer = sample.buffer_owned().ok_or_else(|| Error::Gst("a sample without a buffer".into()))?;
        let caps = sample.caps_owned();
        let media = match &caps {
            None => MediaInfo::Other,
            Some(c) => {
                let mut cache = self.media.lock().unwrap_or_else(|e| e.into_inner());
                if !cache.contains_key(sink) {
                    cache.insert(sink.to_string(), None);
                }
                let last = cache.get_mut(sink).expect("inserted above");
                CapsInfo::cached(last, c).media.clone()
            }
        };
        Ok(PyFrame::new(buffer, caps, media))
    }
}

#[pymethods]
impl PyPipeline {
    /// Parses a gst-launch-1.0 description. Unknown elements and bad syntax raise
    /// ParseError naming the culprit.
    #[new]
    fn new(py: Python<'_>, description: &str) -> FpResult<PyPipeline> {
        let desc = description.to_string();
        let inner = py.detach(move || Pipeline::new(&desc))?;
        crate::pyelement::check_launch_properties(inner.gst())?;
        let running = ProbeCalls::default();
        interrupt_probes_on_stop(&inner, &running);
        Ok(PyPipeline {
            running,
            inner: Arc::new(inner),
            description: description.to_string(),
            media: Mutex::default(),
            counter: Mutex::default(),
            frame_counter: Mutex::default(),
            probes: Mutex::default(),
            callbacks: Mutex::default(),
        })
    }

    #[getter]
    fn description(&self) -> &str {
        &self.description
    }

    /// Start playing (state PLAYING) without waiting for the pipeline to get there.
    ///
    /// A pipeline with an appsrc cannot preroll before data is pushed, so this returns as
    /// soon as the state change is under way; `frames()`, `pull()`, `push()` and `run()`
    /// start the pipeline themselves, so calling it is rarely needed.
    ///
    /// Raises
    /// ------
    /// PipelineError
    ///     When an element refuses to start (e.g. filesrc on a missing file).
    fn play(&self, py: Python<'_>) -> FpResult<()> {
        let inner = self.inner.clone();
        Ok(py.detach(move || inner.set_state(gst::State::Playing))?)
    }

    /// Pause (state PAUSED): sources preroll one buffer and stop; the clock stops.
    ///
    /// Like `play()`, this does not wait for the state change to complete. `play()`
    /// resumes.
    ///
    /// Raises
    /// ------
    /// PipelineError
    ///     When an element refuses the state change.
    fn pause(&self, py: Python<'_>) -> FpResult<()> {
        let inner = self.inner.clone();
        Ok(py.detach(move || inner.set_state(gst::State::Paused))?)
    }

    /// Stop the pipeline (state NULL); safe to call at any time. Leaving a ``with`` block
    /// calls it.
    ///
    /// If an EOS is still on its way (``end_of_stream()`` was called on every source, or
    /// ``send_eos()`` was called, but ``run()`` was not), this first waits for it, up to
    /// ``timeout`` seconds with the GIL released, so that muxers finish their files.
    ///
    /// Parameters
    /// ----------
    /// finish : bool
    ///     Wait for a pending EOS (default). False stops at once.
    /// timeout : float
    ///     Longest wait for the pending EOS, in seconds.
    ///
    /// Raises
    /// ------
    /// TimeoutError
    ///     The pending EOS did not arrive in time (the output may be incomplete).
    /// PipelineError
    ///     An element posted an ERROR while the stream finished.
    ///
    /// The pipeline is in NULL afterwards in every case.
    #[pyo3(signature = (*, finish=true, timeout=30.0))]
    fn stop(&self, py: Python<'_>, finish: bool, timeout: f64) -> PyResult<()> {
        let t = self::timeout(Some(timeout))?.filter(|_| finish);
        let inner = self.inner.clone();
        detach_interruptible(py, move |check| inner.stop(t, check)).inspect_err(|_| {
            let inner = self.inner.clone();
            let _ = py.detach(move || inner.set_state(gst::State::Null));
        })
    }

    /// The current state: "NULL", "READY", "PAUSED" or "PLAYING".
    ///
    /// State changes are asynchronous: right after ``play()`` this may still be
    /// "PAUSED" (or "READY") while the pipeline prerolls.
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state()
    }

    /// Plays until EOS, then stops. Raises PipelineError on an ERROR and TimeoutError
    /// (with the pipeline stopped) when `timeout` seconds pass first.
    #[pyo3(signature = (timeout=None))]
    fn run(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let t = self::timeout(timeout)?;
        let inner = self.inner.clone();
        detach_interruptible(py, move |check| inner.run(t, check)).inspect_err(|_| {
            let inner = self.inner.clone();
            let _ = py.detach(move || inner.set_state(gst::State::Null));
        })
    }

    /// Waits up to `timeout` seconds (None: forever) for EOS without stopping the
    /// pipeline. True at EOS, False on timeout; raises PipelineError on an ERROR.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let t = self::timeout(timeout)?;
        let inner = self.inner.clone();
        detach_interruptible(py, move |check| inner.wait(t, check))
    }

    /// The next frame from appsink `sink`, or None at EOS. Starts the pipeline if needed.
    ///
    /// Pulling runs as fast as the pipeline can: an appsink whose `sync` the description
    /// does not set does not sync to the clock (`appsink sync=true` paces frames in real
    /// time; live sources set the pace anyway). KeyError for an unknown sink name.
    #[pyo3(signature = (sink, timeout=None))]
    fn pull(&self, py: Python<'_>, sink: &str, timeout: Option<f64>) -> FpResult<Option<PyFrame>> {
        let t = self::timeout(timeout)?;
        let inner = self.inner.clone();
        let name = sink.to_string();
        let sample = detach_interruptible(py, move |check| inner.pull(&name, t, check));
        let sample = match sample {
            Ok(s) => s,
            Err(e) => {
                if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py)
                    || e.is_instance_of::<pyo3::exceptions::PyTimeoutError>(py)
                {
                    let inner = self.inner.clone();
                    let _ = py.detach(move || inner.set_state(gst::State::Null));
                }
                return Err(e.into());
            }
        };
        sample.map(|s| self.frame(sink, s)).transpose()
    }

    /// Pushes an array, Frame, Buffer or bytes into appsrc `source`. See DESIGN.md:
    /// caps are derived from the first array when the appsrc has none, missing timestamps
    /// follow the framerate, and a mismatching array raises ValueError with nothing pushed.
    #[pyo3(signature = (source, data, *, pts=None, duration=None, fps=None))]
    fn push(
        &self,
        py: Python<'_>,
        source: &str,
        data: &Bound<'_, PyAny>,
        pts: Option<u64>,
        duration: Option<u64>,
        fps: Option<f64>,
    ) -> FpResult<()> {
        let buffer = if let Ok(frame) = data.cast::<PyFrame>() {
            let frame = frame.get();
            if let Some(caps) = frame.caps() {
                self.inner.adopt_caps(source, caps)?;
            }
            frame.gst_buffer()?
        } else if let Ok(buf) = data.cast::<PyBuffer>() {
            buf.get().gst()?
        } else if data.is_instance_of::<PyUntypedArray>() {
            let arr = Borrowed::new(data)?;
            let fps = fps.unwrap_or(30.0);
            let derive = || pack::caps_for_array(arr.shape(), arr.dtype, fps);
            let media = self.inner.source_media(source, Some(&derive))?;
            pack::array_to_buffer(arr.as_ref(), &media)?
        } else if data.is_instance_of::<PyBytes>()
            || data.is_instance_of::<PyByteArray>()
            || data.is_instance_of::<PyMemoryView>()
        {
            let bytes: Vec<u8> = pyo3::buffer::PyBuffer::<u8>::get(data)?.to_vec(py)?;
            let media = self.inner.source_media(source, None)?;
            if let MediaInfo::Video(info) = &media
                && bytes.len() != info.size()
            {
                return Err(Error::Value(format!(
                    "{} bytes do not make a frame of the appsrc's caps ({} bytes)",
                    bytes.len(),
                    info.size()
                ))
                .into());
            }
            gst::Buffer::from_mut_slice(bytes)
        } else {
            return Err(PyTypeError::new_err(format!(
                "push takes a numpy array, Frame, Buffer or bytes, not {}",
                data.get_type().name()?
            ))
            .into());
        };
        let inner = self.inner.clone();
        let name = source.to_string();
        Ok(detach_interruptible(py, move |check| {
            inner.push(
                &name,
                buffer,
                pts.map(gst::ClockTime::from_nseconds),
                duration.map(gst::ClockTime::from_nseconds),
                check,
            )
        })?)
    }

    /// Ends the stream of appsrc `source`.
    fn end_of_stream(&self, py: Python<'_>, source: &str) -> FpResult<()> {
        let inner = &self.inner;
        Ok(py.detach(|| inner.end_of_stream(source))?)
    }

    /// Sends EOS into the whole pipeline.
    fn send_eos(&self, py: Python<'_>) -> bool {
        let inner = self.inner.clone();
        py.detach(move || inner.send_eos())
    }

    /// The element called `name`; KeyError when there is none.
    fn element(&self, name: &str) -> FpResult<PyElement> {
        Ok(PyElement::new(self.inner.element(name)?))
    }

    /// Calls `callback(frame)` with a writable Frame for every buffer on `pad`
    /// ("element.padname"); returning False drops the buffer. Returns an id for
    /// `remove_probe`.
    fn add_probe(&self, pad: &str, callback: Bound<'_, PyAny>) -> FpResult<u64> {
        if !callback.is_callable() {
            return Err(Error::Type("the probe callback must be callable".into()).into());
        }
        let (element_name, pad_name) = pad
            .rsplit_once('.')
            .ok_or_else(|| PyValueError::new_err(format!("pad {pad:?} is not of the form \"element.padname\"")))?;
        let element = self.inner.element(element_name)?;
        let target = element.static_pad(pad_name).ok_or_else(|| {
            let pads: Vec<String> = element.pads().iter().map(|p| p.name().to_string()).collect();
            PyValueError::new_err(format!("element {element_name:?} has no pad {pad_name:?} (it has {pads:?})"))
        })?;
        let slot: CallbackSlot = Arc::new(Mutex::new(Some(callback.unbind())));
        let running = Arc::new(Running::default());
        let probe = frame_probe(&element, slot.clone(), running.clone());
        let id = target
            .add_probe(gst::PadProbeType::BUFFER, probe)
            .ok_or_else(|| PyValueError::new_err(format!("pad {pad:?} does not accept probes")))?;
        let n = NEXT_PROBE.fetch_add(1, Ordering::Relaxed);
        self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(n, running);
        self.probes.lock().unwrap_or_else(|e| e.into_inner()).insert(n, (target, id));
        self.callbacks.lock().unwrap_or_else(|e| e.into_inner()).insert(n, slot);
        Ok(n)
    }

    /// Removes a probe `add_probe` added; ValueError for an unknown id.
    fn remove_probe(&self, py: Python<'_>, id: u64) -> PyResult<()> {
        let probes = &self.probes;
        let (pad, probe) = py
            .detach(|| probes.lock().unwrap_or_else(|e| e.into_inner()).remove(&id))
            .ok_or_else(|| PyValueError::new_err(format!("no probe with id {id}")))?;
        // Removing waits for a call of the probe in progress, which may wait for the GIL.
        py.detach(move || pad.remove_probe(probe));
        let slot = py.detach(|| self.callbacks.lock().unwrap_or_else(|e| e.into_inner()).remove(&id));
        if let Some(slot) = slot {
            slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
        py.detach(|| self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id));
        Ok(())
    }

    /// Seeks to `position` seconds (accurately, or to the nearest keyframe).
    #[pyo3(signature = (position, *, accurate=true))]
    fn seek(&self, py: Python<'_>, position: f64, accurate: bool) -> PyResult<()> {
        if !(position.is_finite() && position >= 0.0) {
            return Err(PyValueError::new_err(format!("cannot seek to {position}")));
        }
        let inner = self.inner.clone();
        detach_interruptible(py, move |check| inner.seek(Duration::from_secs_f64(position), accurate, check))
    }

    /// Current position in seconds, or None when unknown.
    #[getter]
    fn position(&self, py: Python<'_>) -> Option<f64> {
        let inner = &self.inner;
        py.detach(|| inner.position()).map(|t| t.nseconds() as f64 / 1e9)
    }

    /// Duration in seconds, or None when unknown (live sources).
    #[getter]
    fn duration(&self, py: Python<'_>) -> Option<f64> {
        let inner = &self.inner;
        py.detach(|| inner.duration()).map(|t| t.nseconds() as f64 / 1e9)
    }

    /// The oldest unread bus message, waiting up to `timeout` seconds (None: forever).
    #[pyo3(signature = (timeout=0.0))]
    fn pop_message(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyMessage>> {
        let t = self::timeout(timeout)?;
        let inner = self.inner.clone();
        let msg = detach_interruptible(py, move |check| inner.pop_message(t, check))?;
        msg.map(|m| PyMessage::new(py, &m)).transpose()
    }

    /// The pipeline as Graphviz DOT.
    fn graph(&self, py: Python<'_>) -> String {
        let inner = &self.inner;
        py.detach(|| inner.graph())
    }

    /// Buffers that reached the first sink since counting began (first call starts it).
    fn buffers_counted(&self) -> u64 {
        let mut c = self.counter.lock().unwrap_or_else(|e| e.into_inner());
        c.get_or_insert_with(|| self.inner.count_sink_buffers()).load(Ordering::Relaxed)
    }

    /// Video frames counted since counting began (the first call starts it): buffers of
    /// the busiest raw-video pad, as `framepipe launch` reports them.
    fn frames_counted(&self) -> u64 {
        let mut c = self.frame_counter.lock().unwrap_or_else(|e| e.into_inner());
        c.get_or_insert_with(|| self.inner.count_frames()).frames()
    }

    fn __repr__(&self) -> String {
        format!("<Pipeline {:?} {}>", self.description, self.inner.state())
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        // Never block during a collection: a slot in use is simply not reported (the
        // pipeline then stays alive until the next collection).
        let Ok(callbacks) = self.callbacks.try_lock() else { return Ok(()) };
        for slot in callbacks.values() {
            if let Ok(f) = slot.try_lock()
                && let Some(f) = f.as_ref()
            {
                visit.call(f)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        let slots: Vec<CallbackSlot> =
            self.callbacks.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(_, s)| s).collect();
        for slot in slots {
            let f = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(f);
        }
    }
}
