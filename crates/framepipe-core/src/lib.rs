//! framepipe's core: GStreamer pipelines, zero-copy frame layouts and array packing,
//! written over gstreamer-rs with no Python in sight. The Python bindings
//! (`framepipe-py`) and the GStreamer plugin (`gst-plugin-framepipe`) build on it.

pub mod buffer;
pub mod error;
pub mod launch;
pub mod layout;
pub mod log;
pub mod media;
pub mod meta;
pub mod pack;
pub mod pipeline;
pub mod video;

pub use error::{BusError, Error, Result};
pub use layout::{Dtype, View};
pub use media::MediaInfo;
pub use pipeline::{Interrupt, Pipeline};

/// Initialises GStreamer once per process; later calls are cheap no-ops.
pub fn init() -> Result<()> {
    gst::init().map_err(|e| Error::Init(e.to_string()))
}
