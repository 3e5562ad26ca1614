//! `fpmetawriter`: a passthrough that writes one JSON object per buffer to `location`
//! (JSON Lines) with the keys `pts`, `regions`, `messages` and `tensors`, as
//! `framepipe_core::meta::frame_record` builds them. The file is created when the element
//! starts (READY -> PAUSED), flushed at EOS and closed when it stops; a location that
//! cannot be opened fails that state change with a resource error naming the path.
//!
//! ```text
//! gst-launch-1.0 videotestsrc num-buffers=10 ! fpmetawriter location=meta.jsonl ! fakesink
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("fpmetawriter", gst::DebugColorFlags::empty(), Some("framepipe metadata writer"))
});

const DEFAULT_LOCATION: Option<String> = None;

#[derive(Debug, Clone)]
struct Settings {
    location: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { location: DEFAULT_LOCATION }
    }
}

struct State {
    path: String,
    writer: BufWriter<File>,
}

#[derive(Default)]
pub struct FpMetaWriter {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl FpMetaWriter {
    fn flush(&self) -> Result<(), gst::ErrorMessage> {
        let mut state = self.state.lock().unwrap();
        if let Some(state) = state.as_mut() {
            state.writer.flush().map_err(|e| {
                gst::error_msg!(gst::ResourceError::Write, ("Could not write to {}: {}", state.path, e))
            })?;
        }
        Ok(())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for FpMetaWriter {
    const NAME: &'static str = "GstFpMetaWriter";
    type Type = super::FpMetaWriter;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for FpMetaWriter {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb("Path of the JSON Lines file to write (created or truncated at start)")
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "location" => {
                let location: Option<String> = value.get().expect("type checked upstream");
                gst::debug!(CAT, imp = self, "location set to {:?}", location);
                self.settings.lock().unwrap().location = location;
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "location" => self.settings.lock().unwrap().location.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for FpMetaWriter {}

impl ElementImpl for FpMetaWriter {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "framepipe metadata writer",
                "Filter/Analytics",
                "Writes regions, tensors and messages of each buffer as JSON Lines",
                "framepipe",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::new_any();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps).unwrap(),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps).unwrap(),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for FpMetaWriter {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let location = self.settings.lock().unwrap().location.clone();
        let Some(path) = location.filter(|l| !l.is_empty()) else {
            return Err(gst::error_msg!(gst::ResourceError::NotFound, ("No location set on fpmetawriter")));
        };
        let file = File::create(&path).map_err(|e| {
            gst::error_msg!(gst::ResourceError::OpenWrite, ("Could not open {} for writing: {}", path, e))
        })?;
        gst::debug!(CAT, imp = self, "writing to {}", path);
        *self.state.lock().unwrap() = Some(State { path, writer: BufWriter::new(file) });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // Stopping must succeed so that the pads deactivate; records that cannot be
        // written any more are still reported.
        if let Err(e) = self.flush() {
            self.post_error_message(e);
        }
        // Dropping the writer closes the file.
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Eos(_) = event.view()
            && let Err(e) = self.flush()
        {
            self.post_error_message(e);
        }
        self.parent_sink_event(event)
    }

    fn transform_ip_passthrough(&self, buf: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let record = framepipe_core::meta::frame_record(buf);
        let mut state = self.state.lock().unwrap();
        let Some(state) = state.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("Buffer received before start"));
            return Err(gst::FlowError::Error);
        };
        let written = serde_json::to_writer(&mut state.writer, &record)
            .map_err(std::io::Error::from)
            .and_then(|()| state.writer.write_all(b"\n"));
        if let Err(e) = written {
            gst::element_imp_error!(self, gst::ResourceError::Write, ("Could not write to {}: {}", state.path, e));
            return Err(gst::FlowError::Error);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
