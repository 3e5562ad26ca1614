//! Analytics metadata on frames: regions (as `GstVideoRegionOfInterestMeta`), tensors and
//! JSON messages (as framepipe metas), and the JSON record `fpmetawriter` writes. Every
//! function works on a `gst::BufferRef` so the Python `Frame` methods map onto them 1:1.
//!
//! All of it survives `queue`, `tee`, `identity`, `videoconvert`, `videoscale` (region
//! boxes scaled, see [`mod@region`]) and buffer copies (`copy`, `copy_deep`, `make_writable`).
//!
//! | Python                                   | Rust                                               |
//! |------------------------------------------|----------------------------------------------------|
//! | `frame.add_region(x, y, w, h, ...)`      | [`add_region`] with a [`RegionSpec`]               |
//! | `frame.regions`                          | [`regions`] (one: [`region()`])                    |
//! | `frame.remove_region(region)`            | [`remove_region`] by `region.id`                   |
//! | `region.add_tensor(name, array)`         | [`add_region_tensor`]                              |
//! | setting a region's label/confidence/attributes | [`update_region`]                            |
//! | `frame.add_tensor(name, array)`          | [`tensor_dtype`], [`Tensor::new`], [`add_tensor`]  |
//! | `frame.tensors`                          | [`tensors`]                                        |
//! | `frame.add_message(obj)`                 | [`add_message_json`] (or [`add_message`])          |
//! | `frame.messages`                         | [`message_texts`] (or [`messages`])                |
//! | `fp.read_metadata(path)`                 | [`read_metadata`]                                  |

mod custom;
pub mod message;
pub mod record;
pub mod region;
pub mod tensor;

pub use message::{MessageMeta, add_message, add_message_json, message_texts, messages};
pub use record::{frame_record, read_metadata};
pub use region::{
    DETECTION_STRUCTURE, Region, RegionParamsMeta, RegionSpec, add_region, add_region_tensor, place_rect, region,
    regions, remove_region, scale_rect, update_region,
};
pub use tensor::{Tensor, TensorMeta, add_tensor, remove_tensor, tensor_dtype, tensors};

/// Registers framepipe's meta types now rather than on first use (GStreamer must be
/// initialised). Needed only by code that looks the types up by name before any frame
/// carried them.
pub fn register() {
    custom::registration::<tensor::Tensors>();
    custom::registration::<message::Messages>();
    custom::registration::<region::RegionParams>();
}
