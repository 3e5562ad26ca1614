//! The plugin file that gst-launch-1.0 and gst-inspect-1.0 load (installed as
//! `framepipe/gst-plugins/libgstframepipe.so`). It holds no element code: its
//! `plugin_init` starts (or joins) CPython and calls `framepipe._plugin_load`, which
//! registers the built-in and Python-written elements, from the one copy of the element
//! code inside framepipe's extension module, as features of this plugin.
//!
//! ```text
//! GST_PLUGIN_PATH=$(python -m framepipe plugin-path) gst-launch-1.0 videotestsrc num-buffers=30 ! fpoverlay ! fakesink
//! ```
//!
//! It is built on GStreamer's C API alone so that a wheel build (framepipe-py's build.rs)
//! compiles it in seconds beside the extension module.

use std::ffi::{c_char, c_void};

mod loader;

pub use loader::ENTRY_POINT;

macro_rules! cstr {
    ($s:expr) => {
        concat!($s, "\0").as_ptr() as *const c_char
    };
}

/// The descriptor GStreamer reads from the plugin file.
#[repr(transparent)]
pub struct PluginDesc(gst_sys::GstPluginDesc);

// SAFETY: the descriptor is immutable static data (string literals and a function pointer).
unsafe impl Sync for PluginDesc {}

unsafe extern "C" fn plugin_init(plugin: *mut gst_sys::GstPlugin) -> glib_sys::gboolean {
    // A plugin without features is still a plugin: returning FALSE would make GStreamer
    // blacklist the file until its mtime changes, hiding a later fix of the environment.
    loader::load(plugin);
    glib_sys::GTRUE
}

/// The plugin's description, under both names GStreamer looks for.
#[unsafe(no_mangle)]
pub static gst_plugin_desc: PluginDesc = PluginDesc(gst_sys::GstPluginDesc {
    major_version: 1,
    minor_version: 22,
    name: cstr!("framepipe"),
    description: cstr!("framepipe: Python-written elements and framepipe's built-in elements"),
    plugin_init: Some(plugin_init),
    version: cstr!(env!("CARGO_PKG_VERSION")),
    license: cstr!("MIT/X11"),
    source: cstr!("framepipe"),
    package: cstr!("framepipe"),
    origin: cstr!("https://example.invalid/framepipe"),
    release_datetime: std::ptr::null(),
    _gst_reserved: [std::ptr::null_mut::<c_void>(); 4],
});

/// What `libgstframepipe.so` is asked for by GStreamer >= 1.14.
#[unsafe(no_mangle)]
pub extern "C" fn gst_plugin_framepipe_get_desc() -> *const gst_sys::GstPluginDesc {
    &gst_plugin_desc.0
}
