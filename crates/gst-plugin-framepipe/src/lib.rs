//! framepipe's GStreamer plugin. This file only registers; each element lives in a folder
//! of its own.

use gst::glib;

/// Registers every built-in element with `plugin`.
pub fn register(_plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    Ok(())
}

/// Registers the built-in elements into this process without a plugin file (what
/// `import framepipe` does). Safe to call more than once.
pub fn register_static() -> Result<(), glib::BoolError> {
    gst::init()?;
    static ONCE: std::sync::OnceLock<Result<(), glib::BoolError>> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        gst::Plugin::register_static(
            env!("CARGO_PKG_NAME").strip_prefix("gst-plugin-").unwrap_or("framepipe"),
            "framepipe built-in elements",
            plugin_init,
            env!("CARGO_PKG_VERSION"),
            "MIT/X11",
            "framepipe",
            "framepipe",
            "https://example.invalid/framepipe",
        )
    })
    .clone()
}

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
