//! The one error type of the core. `framepipe-py/src/errors.rs` maps each variant to the
//! Python exception that DESIGN.md names.

use std::time::Duration;

/// An ERROR (or a failed state change) reported by a pipeline, with the element that
/// reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusError {
    /// Name of the element that posted the error (e.g. "filesrc0").
    pub element: Option<String>,
    /// Full object path of that element (e.g. "/GstPipeline:pipeline0/GstFileSrc:filesrc0").
    pub path: Option<String>,
    /// The human-readable message.
    pub message: String,
    /// GStreamer's debug string, if any.
    pub debug: Option<String>,
}

impl BusError {
    /// The part of `debug` a user needs, as gst-launch-1.0's "Additional debug info" shows
    /// it without the source location: `No such file "/tmp/x.mp4"` for filesrc's "Resource
    /// not found.", `streaming stopped, reason not-negotiated (-4)`. `None` when the debug
    /// text is not GStreamer's `file.c(line): function (): /path:` form (Python elements
    /// put a traceback there, whose last line is already the message).
    pub fn detail(&self) -> Option<String> {
        let debug = self.debug.as_deref()?;
        let (location, rest) = debug.split_once('\n')?;
        let is_location = location.contains("): ") && location.trim_end().ends_with(':');
        let rest = rest.trim();
        if !is_location || rest.is_empty() || self.message.contains(rest) {
            return None;
        }
        const MAX: usize = 300;
        let mut detail: String = rest.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        if detail.len() > MAX {
            let cut = (0..=MAX).rev().find(|&i| detail.is_char_boundary(i)).unwrap_or(0);
            detail.truncate(cut);
            detail.push_str("...");
        }
        Some(detail)
    }
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(e) = &self.element {
            write!(f, "{e}: ")?;
        }
        f.write_str(&self.message)?;
        match self.detail() {
            Some(detail) => write!(f, " ({detail})"),
            None => Ok(()),
        }
    }
}

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// GStreamer could not be initialised.
    #[error("GStreamer could not be initialised: {0}")]
    Init(String),
    /// A bad pipeline description; `token` names the offending element or token.
    #[error("{message}")]
    Parse { message: String, token: Option<String> },
    /// An ERROR from the bus.
    #[error("{0}")]
    Pipeline(Box<BusError>),
    /// Caps negotiation failed.
    #[error("{0}")]
    Negotiation(Box<BusError>),
    /// Media that cannot be opened, demuxed, decoded or encoded.
    #[error("{0}")]
    Media(String),
    /// A file that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A wait ran out of time.
    #[error("timed out after {0:.3?}")]
    Timeout(Duration),
    /// A wait ran out of time, with what is probably missing (e.g. an appsrc that never got
    /// `end_of_stream()`).
    #[error("timed out after {after:.3?}: {hint}")]
    TimeoutHint { after: Duration, hint: String },
    /// A name that is not there (an element of a pipeline); the message lists those that are.
    #[error("{0}")]
    Key(String),
    /// The caller's interrupt check asked to stop (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// A bad argument value (shape, dtype, range, name).
    #[error("{0}")]
    Value(String),
    /// An argument of the wrong type.
    #[error("{0}")]
    Type(String),
    /// A buffer that cannot be mapped as asked.
    #[error("{0}")]
    Buffer(String),
    /// Something GStreamer refused that is not an error of the arguments.
    #[error("{0}")]
    Gst(String),
}

impl From<gst::glib::BoolError> for Error {
    fn from(e: gst::glib::BoolError) -> Self {
        Error::Gst(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
