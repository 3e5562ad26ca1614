//! GStreamer's debug log into Python's `logging`: records from `framepipe_core::log` are
//! handed to `logging.getLogger("framepipe.gst.<category>")` by one Rust thread that takes
//! the GIL per record. GStreamer's own threads never wait for Python: they only queue.

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use framepipe_core::log::{self as gstlog, LogEvent, LogForward, LogReceiver, LogRecord};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::gil::with_python;

/// The installed forwarder while Python logging is on.
static FORWARD: Mutex<Option<LogForward>> = Mutex::new(None);

fn deliver(py: Python<'_>, record: &LogRecord) -> PyResult<()> {
    let level = gstlog::level_to_python(record.level);
    let name = format!("framepipe.gst.{}", record.category);
    let logger = py.import("logging")?.call_method1("getLogger", (name.as_str(),))?;
    if !logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
        return Ok(());
    }
    let message = match &record.object {
        Some(object) => format!("{object}: {}", record.message),
        None => record.message.clone(),
    };
    let extra = PyDict::new(py);
    extra.set_item("gst_category", record.category.as_str())?;
    extra.set_item("gst_object", record.object.as_deref())?;
    let args = (
        name.as_str(),
        level,
        record.file.as_str(),
        record.line,
        message,
        PyTuple::empty(py),
        py.None(),
        record.function.as_str(),
        extra,
    );
    let made = logger.call_method1("makeRecord", args)?;
    logger.call_method1("handle", (made,))?;
    Ok(())
}

/// Drains the channel until the forwarder is removed; a failing handler is reported the
/// way `logging` reports its own errors, and never stops the stream.
fn drain(receiver: LogReceiver) {
    loop {
        match receiver.recv(Duration::from_secs(3600)) {
            Ok(LogEvent::Record(record)) => {
                with_python(|py| {
                    if let Err(e) = deliver(py, &record) {
                        e.print(py);
                    }
                });
            }
            Ok(LogEvent::Flush(ack)) => {
                let _ = ack.send(());
            }
            Err(true) => return,
            Err(false) => {}
        }
    }
}

/// Sends GStreamer's log at `level` (a Python logging level) and above, with `categories`
/// (a GST_DEBUG-style list) on top, to Python's logging; `level=None` turns it off and gives
/// GStreamer its stderr output back.
#[pyfunction]
#[pyo3(signature = (level, categories=None))]
pub fn set_gst_log_level(py: Python<'_>, level: Option<i32>, categories: Option<String>) -> PyResult<()> {
    py.detach(move || {
        let mut slot = FORWARD.lock().unwrap_or_else(|e| e.into_inner());
        match level {
            Some(level) => {
                if slot.is_none() {
                    let (forward, receiver) = gstlog::forward();
                    gstlog::set_stderr_output(false);
                    thread::Builder::new()
                        .name("framepipe-log".into())
                        .spawn(move || drain(receiver))
                        .map_err(|e| framepipe_core::Error::Gst(format!("starting the log thread: {e}")))?;
                    *slot = Some(forward);
                }
                gstlog::set_threshold(gstlog::level_from_python(level), categories.as_deref());
            }
            None => {
                if let Some(forward) = slot.take() {
                    forward.flush(Duration::from_secs(5));
                    drop(forward);
                    gstlog::set_threshold(gst::DebugLevel::None, None);
                    gstlog::set_stderr_output(true);
                }
            }
        }
        Ok::<_, framepipe_core::Error>(())
    })
    .map_err(crate::errors::to_py)
}

/// Waits (at most `timeout` seconds) until every GStreamer record logged so far has been
/// handed to Python's logging; False if that did not happen in time.
#[pyfunction]
#[pyo3(signature = (timeout=5.0))]
pub fn flush_gst_log(py: Python<'_>, timeout: f64) -> bool {
    py.detach(|| {
        let slot = FORWARD.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().is_none_or(|f| f.flush(Duration::from_secs_f64(timeout.max(0.0))))
    })
}
