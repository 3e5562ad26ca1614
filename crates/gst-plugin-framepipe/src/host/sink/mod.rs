//! `GstFpSinkHost`: the abstract GstBaseSink every hosted sink derives from.

use gst::glib;

mod imp;

glib::wrapper! {
    pub struct SinkHost(ObjectSubclass<imp::SinkHost>)
        @extends gst_base::BaseSink, gst::Element, gst::Object;
}

pub(crate) use imp::SinkHost as Imp;
