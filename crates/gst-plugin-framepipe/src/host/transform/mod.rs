//! `GstFpTransformHost`: the abstract GstBaseTransform every hosted transform derives from.

use gst::glib;

mod imp;

glib::wrapper! {
    pub struct TransformHost(ObjectSubclass<imp::TransformHost>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub(crate) use imp::TransformHost as Imp;
