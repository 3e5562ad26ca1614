use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// Runs raw video through an FFmpeg filter graph (libavfilter).
    pub struct FpAvFilter(ObjectSubclass<imp::FpAvFilter>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "fpavfilter", gst::Rank::NONE, FpAvFilter::static_type())
}
