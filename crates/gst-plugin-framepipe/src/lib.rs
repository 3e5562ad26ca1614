//! framepipe's GStreamer plugin. This file only registers; each element lives in a folder
//! of its own.

use gst::glib;

pub mod callback;
pub mod fpavfilter;
pub mod fpmetawriter;
pub mod fpoverlay;
pub mod pyfunc;

pub use fpavfilter::FpAvFilter;
pub use fpmetawriter::FpMetaWriter;
pub use fpoverlay::FpOverlay;
pub mod host;

pub use pyfunc::PyFunc;

/// Registers every built-in element with `plugin`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    fpoverlay::register(plugin)?;
    fpavfilter::register(plugin)?;
    fpmetawriter::register(plugin)?;
    pyfunc::register(plugin)?;
    Ok(())
}

/// Registers the built-in elements into this process without a plugin file (what
/// `import framepipe` does). Safe to call more than once.
pub fn register_static() -> Result<(), glib::BoolError> {
    gst::init().map_err(|e| glib::bool_error!("GStreamer could not be initialised: {e}"))?;
    static ONCE: std::sync::OnceLock<Result<(), glib::BoolError>> = std::sync::OnceLock::new();
    ONCE.get_or_init(plugin_register_static).clone()
}

/// Only reached through register_static(): the plugin file that gst-launch-1.0 loads is
/// the loader crate (framepipe-gst-loader), so a process holds one copy of each type.
fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    register(plugin)
}

gst::plugin_define!(
    framepipe,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    env!("CARGO_PKG_VERSION"),
    "MIT/X11",
    "framepipe",
    "framepipe",
    "https://example.invalid/framepipe"
);
