//! GStreamer's debug log as a stream of owned records, for a host language's logging.
//!
//! GStreamer calls log functions from any thread, often with object or pad locks held, so
//! [`forward`] never runs the host's code from inside that call: it copies the record into a
//! bounded channel with `try_send` and returns. A consumer thread of the host drains the
//! channel ([`LogReceiver::recv`]) and hands each record to its logging framework. A full
//! channel drops the record and counts it ([`LogForward::dropped`]), so a slow consumer can
//! never stall a streaming thread.
//!
//! Levels map both ways through [`level_to_python`] and [`level_from_python`] (Python's
//! `logging` numbers: ERROR 40, WARNING 30, INFO 20, DEBUG 10; GStreamer's FIXME, LOG, TRACE
//! and MEMDUMP sit between and below them).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::DebugLevel;

/// How many records may wait for the consumer before new ones are dropped.
const CAPACITY: usize = 8192;

/// One GStreamer debug message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The debug category's name ("videotestsrc", "GST_PADS", ...).
    pub category: String,
    pub level: DebugLevel,
    /// The object that logged it, as GStreamer prints it ("videotestsrc0", "queue0:src").
    pub object: Option<String>,
    pub message: String,
    pub file: String,
    pub function: String,
    pub line: u32,
}

/// What the consumer receives: a record, or a request to acknowledge that every record
/// sent before it has been handled.
#[derive(Debug)]
pub enum LogEvent {
    Record(LogRecord),
    Flush(SyncSender<()>),
}

/// An installed log function. Dropping it (or [`LogForward::remove`]) uninstalls the
/// function; once it and the function are gone the receiver reports disconnection.
#[derive(Debug)]
pub struct LogForward {
    function: Option<gst::log::DebugLogFunction>,
    sender: SyncSender<LogEvent>,
    dropped: Arc<AtomicU64>,
}

/// The consumer's end: events in the order GStreamer logged them.
#[derive(Debug)]
pub struct LogReceiver(Receiver<LogEvent>);

impl LogReceiver {
    /// The next event, waiting at most `timeout`; `Err(true)` once every sender is gone.
    pub fn recv(&self, timeout: Duration) -> std::result::Result<LogEvent, bool> {
        self.0.recv_timeout(timeout).map_err(|e| e == RecvTimeoutError::Disconnected)
    }
}

/// Installs a log function that forwards every record GStreamer emits (at the thresholds
/// set with [`set_threshold`]) into a bounded channel.
pub fn forward() -> (LogForward, LogReceiver) {
    let (sender, receiver) = sync_channel(CAPACITY);
    let dropped = Arc::new(AtomicU64::new(0));
    let tx = sender.clone();
    let lost = dropped.clone();
    let function = gst::log::add_log_function(move |category, level, file, function, line, object, message| {
        let Some(text) = message.get() else { return };
        let record = LogRecord {
            category: category.name().to_string(),
            level,
            object: object.map(|o| o.to_string()),
            message: text.to_string(),
            file: file.to_string(),
            function: function.to_string(),
            line,
        };
        if let Err(TrySendError::Full(_)) = tx.try_send(LogEvent::Record(record)) {
            lost.fetch_add(1, Ordering::Relaxed);
        }
    });
    (LogForward { function: Some(function), sender, dropped }, LogReceiver(receiver))
}

impl LogForward {
    /// Waits (at most `timeout`) until the consumer has handled every record logged
    /// before this call; false if it did not in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = sync_channel(1);
        self.sender.send(LogEvent::Flush(ack)).is_ok() && done.recv_timeout(timeout).is_ok()
    }

    /// Records dropped because the consumer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops forwarding; records already queued can still be received.
    pub fn remove(&mut self) {
        if let Some(f) = self.function.take() {
            gst::log::remove_log_function(f);
        }
    }
}

impl Drop for LogForward {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Sets GStreamer's thresholds: `default` for every category, then `categories`, a
/// `GST_DEBUG`-style list ("qtdemux:5,GST_PADS:4", names may use `*`), on top. Each call
/// replaces what the previous one set, category levels included.
pub fn set_threshold(default: DebugLevel, categories: Option<&str>) {
    static PATTERNS: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut patterns = PATTERNS.lock().unwrap_or_else(|e| e.into_inner());
    for name in patterns.drain(..) {
        gst::log::unset_threshold_for_name(&name);
    }
    gst::log::set_active(true);
    gst::log::set_default_threshold(default);
    for item in categories.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some((name, _)) = item.rsplit_once(':') {
            patterns.push(name.to_string());
        }
        gst::log::set_threshold_from_string(item, false);
    }
}

/// Turns GStreamer's own output to stderr (its default log function) off or back on, so a
/// forwarded record is not printed twice.
pub fn set_stderr_output(on: bool) {
    if on {
        // SAFETY: gst_debug_log_default is GStreamer's own log function, which takes no
        // user data; adding it back is what gst_init does.
        unsafe {
            gst::ffi::gst_debug_add_log_function(Some(gst::ffi::gst_debug_log_default), std::ptr::null_mut(), None);
        }
    } else {
        gst::log::remove_default_log_function();
    }
}

/// Python `logging`'s number for a GStreamer level.
pub fn level_to_python(level: DebugLevel) -> i32 {
    match level {
        DebugLevel::None => 0,
        DebugLevel::Error => 40,
        DebugLevel::Warning => 30,
        DebugLevel::Fixme => 25,
        DebugLevel::Info => 20,
        DebugLevel::Debug => 10,
        DebugLevel::Log => 5,
        DebugLevel::Trace => 2,
        _ => 1,
    }
}

/// The GStreamer threshold that lets through every record Python would log at `level`.
pub fn level_from_python(level: i32) -> DebugLevel {
    match level {
        i32::MIN..=0 => DebugLevel::Memdump,
        1 => DebugLevel::Memdump,
        2..=4 => DebugLevel::Trace,
        5..=9 => DebugLevel::Log,
        10..=19 => DebugLevel::Debug,
        20..=24 => DebugLevel::Info,
        25..=29 => DebugLevel::Fixme,
        30..=39 => DebugLevel::Warning,
        40..=49 => DebugLevel::Error,
        _ => DebugLevel::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip() {
        for level in [
            DebugLevel::Error,
            DebugLevel::Warning,
            DebugLevel::Fixme,
            DebugLevel::Info,
            DebugLevel::Debug,
            DebugLevel::Log,
            DebugLevel::Trace,
            DebugLevel::Memdump,
        ] {
            assert_eq!(level_from_python(level_to_python(level)), level);
        }
        // CRITICAL (50) and above: nothing GStreamer logs is that severe.
        assert_eq!(level_from_python(50), DebugLevel::None);
    }

    #[test]
    fn forwards_records_and_stops_when_removed() {
        crate::init().unwrap();
        let cat = gst::DebugCategory::new("fplogtest", gst::DebugColorFlags::empty(), Some("test"));
        let (mut fwd, rx) = forward();
        set_threshold(DebugLevel::Error, Some("fplogtest:6"));
        gst::debug!(cat, "hello {}", 42);
        gst::trace!(cat, "not at this level");
        let got = std::iter::from_fn(|| rx.recv(Duration::from_millis(200)).ok())
            .filter_map(|e| match e {
                LogEvent::Record(r) if r.category == "fplogtest" => Some(r),
                _ => None,
            })
            .collect::<Vec<_>>();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].message, "hello 42");
        assert_eq!(got[0].level, DebugLevel::Debug);
        fwd.remove();
        gst::debug!(cat, "after removal");
        assert!(rx.recv(Duration::from_millis(100)).is_err());
        drop(fwd);
        assert_eq!(rx.recv(Duration::from_millis(100)).err(), Some(true), "disconnected once removed");
        set_threshold(DebugLevel::None, None);
    }
}
