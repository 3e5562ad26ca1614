//! `GstFpSourceHost`: the abstract GstPushSrc every hosted source derives from.

use gst::glib;

mod imp;

glib::wrapper! {
    pub struct SourceHost(ObjectSubclass<imp::SourceHost>)
        @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object;
}

pub(crate) use imp::SourceHost as Imp;
