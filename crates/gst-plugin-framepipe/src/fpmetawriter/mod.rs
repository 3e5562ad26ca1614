use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    /// Passthrough element that writes each buffer's analytics metadata as one JSON line.
    pub struct FpMetaWriter(ObjectSubclass<imp::FpMetaWriter>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "fpmetawriter", gst::Rank::NONE, FpMetaWriter::static_type())
}
