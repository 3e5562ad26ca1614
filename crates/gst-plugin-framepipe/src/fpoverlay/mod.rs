use gst::glib;
use gst::prelude::*;

mod draw;
mod font;
mod imp;

pub use draw::{Color, label_color};

glib::wrapper! {
    /// Draws the frame's regions (boxes and labels) onto raw video.
    pub struct FpOverlay(ObjectSubclass<imp::FpOverlay>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "fpoverlay", gst::Rank::NONE, FpOverlay::static_type())
}
