//! Regions of interest (`frame.add_region` / `frame.regions` / `frame.remove_region`),
//! stored where the rest of GStreamer looks for them: one `GstVideoRegionOfInterestMeta`
//! per region with
//! - `roi_type` = the label's quark, `x, y, w, h` in pixels,
//! - `id` (unique on the frame, from 1) and `parent_id` (0 = no parent, GStreamer's default),
//! - a `detection` params structure: `confidence` (gdouble), `label` (gchararray) and, when
//!   there are any, `attributes` (a nested GstStructure, see below),
//! - one `tensor` params structure per region tensor (`name`, `dtype`, `shape` as an array
//!   of guint64, `data` as GBytes).
//!
//! Attributes are any JSON object. They are stored twice in the `detection` structure:
//! exactly, as JSON text in `attributes-json` (what framepipe reads back), and for other
//! consumers as a nested GstStructure `attributes` whose strings, numbers, booleans, lists
//! and objects are gchararray, gint64/guint64/gdouble, gboolean, GstValueArray and
//! GstStructure fields (`null` is left out; a list mixing types is given as its JSON text).
//!
//! **Placement.** A box given in floats is rounded corner by corner (`round(x)`,
//! `round(x + w)`, half away from zero) and then clipped to the frame. A box that lies
//! entirely outside the frame (nothing left after clipping) is an [`Error::Value`]; so are
//! negative sizes and non-finite numbers. With `normalized`, coordinates are fractions of
//! the frame size and are multiplied by it before rounding.
//!
//! **Scaling.** GStreamer 1.22's ROI meta transform (used by `videoscale`) scales each of
//! `x, y, w, h` independently with integer floor division, `x' = x * new_w / old_w` (see
//! [`scale_rect`]), and it drops the params structures. framepipe keeps a copy of every
//! region's params in a companion meta (API type `GstFpRegionParamsMetaAPI`, keyed by region
//! id) and reads from it when a region comes back without params, so labels, confidences,
//! attributes and tensors survive `videoscale`; other GStreamer consumers see the scaled
//! boxes with the label as `roi_type` but without the params.

use std::collections::HashMap;

use gst::glib::{self, translate::*};
use gst::prelude::*;
use gst_video::VideoRegionOfInterestMeta;
use serde_json::{Map, Value};

use super::custom;
use super::tensor::{TENSOR_STRUCTURE, Tensor};
use crate::{Error, Result};

/// Name of the params structure that holds a region's label, confidence and attributes.
pub const DETECTION_STRUCTURE: &str = "detection";
const ATTRIBUTES_FIELD: &str = "attributes";
const ATTRIBUTES_JSON_FIELD: &str = "attributes-json";
const OBJECT_STRUCTURE: &str = "attributes";

/// A region as read back from a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Unique on its frame (framepipe numbers from 1; other elements may leave 0).
    pub id: i32,
    /// Id of the parent region, 0 when there is none.
    pub parent_id: i32,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub label: String,
    pub confidence: f64,
    pub attributes: Map<String, Value>,
    pub tensors: Vec<Tensor>,
}

impl Region {
    /// `{"id", "parent_id", "x", "y", "w", "h", "label", "confidence", "attributes", "tensors"}`
    /// as fpmetawriter writes it (tensors as name, shape and dtype only).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "parent_id": self.parent_id,
            "x": self.x,
            "y": self.y,
            "w": self.w,
            "h": self.h,
            "label": self.label,
            "confidence": self.confidence,
            "attributes": self.attributes,
            "tensors": self.tensors.iter().map(Tensor::summary).collect::<Vec<_>>(),
        })
    }
}

/// What [`add_region`] is asked to add.
#[derive(Debug, Clone, Default)]
pub struct RegionSpec<'a> {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub label: &'a str,
    pub confidence: f64,
    /// `x, y, w, h` are fractions (0..1) of the frame's width and height.
    pub normalized: bool,
    pub attributes: Option<&'a Map<String, Value>>,
    /// Id of the parent region; `None` (or 0) for none.
    pub parent_id: Option<i32>,
}

/// Pixel box `(x, y, w, h)` for a box given in floats on a `width` x `height` frame:
/// rounded corner by corner, then clipped to the frame (see the module docs).
pub fn place_rect(
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    normalized: bool,
    width: u32,
    height: u32,
) -> Result<(u32, u32, u32, u32)> {
    if ![x, y, w, h].iter().all(|v| v.is_finite()) {
        return Err(Error::Value(format!("region ({x}, {y}, {w}, {h}) has a coordinate that is not finite")));
    }
    if w < 0.0 || h < 0.0 {
        return Err(Error::Value(format!("region size {w} x {h} is negative")));
    }
    let (sx, sy) = if normalized { (f64::from(width), f64::from(height)) } else { (1.0, 1.0) };
    let (x0, x1) = ((x * sx).round(), ((x + w) * sx).round());
    let (y0, y1) = ((y * sy).round(), ((y + h) * sy).round());
    let (fw, fh) = (f64::from(width), f64::from(height));
    let (cx0, cx1) = (x0.clamp(0.0, fw), x1.clamp(0.0, fw));
    let (cy0, cy1) = (y0.clamp(0.0, fh), y1.clamp(0.0, fh));
    let outside = if x1 > x0 && y1 > y0 {
        cx1 <= cx0 || cy1 <= cy0
    } else {
        // A box with no area is kept when its corner lies on the frame.
        !(0.0..=fw).contains(&x0) || !(0.0..=fh).contains(&y0)
    };
    if outside {
        let unit = if normalized { " (normalized)" } else { "" };
        return Err(Error::Value(format!("region ({x}, {y}, {w}, {h}){unit} lies outside the {width}x{height} frame")));
    }
    // The clamped values are whole numbers in 0..=u32::MAX, so the casts are exact.
    Ok((cx0 as u32, cy0 as u32, (cx1 - cx0) as u32, (cy1 - cy0) as u32))
}

/// What GStreamer 1.22's ROI meta does to a box when a frame is scaled from `from` to `to`
/// (`videoscale`): each of `x, y, w, h` is multiplied by the new size and floor-divided
/// by the old one, independently. Exact for frame sizes below 65536 (GStreamer computes
/// in 32 bits).
pub fn scale_rect(rect: (u32, u32, u32, u32), from: (u32, u32), to: (u32, u32)) -> (u32, u32, u32, u32) {
    let s = |v: u32, n: u32, o: u32| if o == 0 { v } else { (u64::from(v) * u64::from(n) / u64::from(o)) as u32 };
    (s(rect.0, to.0, from.0), s(rect.1, to.1, from.1), s(rect.2, to.0, from.0), s(rect.3, to.1, from.1))
}

#[derive(Debug, Clone, Default)]
/// The payload of [`RegionParamsMeta`]: params structures by region id.
pub struct RegionParams(Vec<(i32, Vec<gst::Structure>)>);

custom::payload!(RegionParams, api = c"GstFpRegionParamsMetaAPI", meta = c"GstFpRegionParamsMeta");

/// The companion meta that keeps region params across GStreamer 1.22's `videoscale`.
pub type RegionParamsMeta = custom::FpMeta<RegionParams>;

/// Adds a region to a `width` x `height` frame and returns it as it was stored.
pub fn add_region(buffer: &mut gst::BufferRef, width: u32, height: u32, spec: &RegionSpec<'_>) -> Result<Region> {
    let (x, y, w, h) = place_rect(spec.x, spec.y, spec.w, spec.h, spec.normalized, width, height)?;
    if !spec.confidence.is_finite() {
        return Err(Error::Value(format!("confidence {} is not finite", spec.confidence)));
    }
    let attributes = spec.attributes.cloned().unwrap_or_default();
    let detection = detection_structure(spec.label, spec.confidence, &attributes);
    let id = buffer.iter_meta::<VideoRegionOfInterestMeta>().map(|m| m.id()).max().unwrap_or(0).max(0) + 1;
    let parent_id = spec.parent_id.unwrap_or(0);
    {
        let mut roi = VideoRegionOfInterestMeta::add(buffer, spec.label, (x, y, w, h));
        roi.set_id(id);
        roi.set_parent_id(parent_id);
        roi.add_param(detection.clone());
    }
    let mut kept = custom::payload_mut::<RegionParams>(buffer);
    // An entry left by a region that another element removed must not shadow this one.
    kept.payload_mut().0.retain(|(i, _)| *i != id);
    kept.payload_mut().0.push((id, vec![detection]));
    Ok(Region {
        id,
        parent_id,
        x,
        y,
        w,
        h,
        label: spec.label.to_owned(),
        confidence: spec.confidence,
        attributes,
        tensors: Vec::new(),
    })
}

fn detection_structure(label: &str, confidence: f64, attributes: &Map<String, Value>) -> gst::Structure {
    let mut detection =
        gst::Structure::builder(DETECTION_STRUCTURE).field("confidence", confidence).field("label", label).build();
    if !attributes.is_empty() {
        detection.set_value(ATTRIBUTES_FIELD, object_to_structure(attributes).to_send_value());
        detection.set(ATTRIBUTES_JSON_FIELD, Value::Object(attributes.clone()).to_string());
    }
    detection
}

/// Changes the label, confidence and/or attributes (`None` keeps what is there) of the
/// region with this id, in place: its box, id, parent and position in
/// [`regions`] stay. [`Error::Value`] if the frame has no such region.
pub fn update_region(
    buffer: &mut gst::BufferRef,
    id: i32,
    label: Option<&str>,
    confidence: Option<f64>,
    attributes: Option<&Map<String, Value>>,
) -> Result<Region> {
    let mut region = region(buffer, id).ok_or_else(|| Error::Value(format!("the frame has no region with id {id}")))?;
    if let Some(c) = confidence {
        if !c.is_finite() {
            return Err(Error::Value(format!("confidence {c} is not finite")));
        }
        region.confidence = c;
    }
    if let Some(l) = label {
        region.label = l.to_owned();
    }
    if let Some(a) = attributes {
        region.attributes = a.clone();
    }
    let detection = detection_structure(&region.label, region.confidence, &region.attributes);
    for mut roi in buffer.iter_meta_mut::<VideoRegionOfInterestMeta>() {
        if roi.id() != id {
            continue;
        }
        let ptr = roi.as_mut_ptr();
        // SAFETY: `ptr` is a ROI meta on a buffer we hold mutably. Its params list owns
        // its structures (the meta frees them with gst_structure_free), so replacing one
        // frees the old structure and hands ownership of the new one to the list.
        unsafe {
            (*ptr).roi_type = glib::Quark::from_str(&region.label).into_glib();
            let mut list = (*ptr).params;
            let mut replaced = false;
            while !list.is_null() {
                let s = (*list).data as *mut gst::ffi::GstStructure;
                if !s.is_null() && gst::StructureRef::from_glib_borrow(s).name() == DETECTION_STRUCTURE {
                    gst::ffi::gst_structure_free(s);
                    (*list).data = detection.clone().into_glib_ptr() as glib::ffi::gpointer;
                    replaced = true;
                    break;
                }
                list = (*list).next;
            }
            if !replaced {
                // Params dropped by videoscale: put all of them back.
                roi.add_param(detection.clone());
                for t in &region.tensors {
                    roi.add_param(t.to_structure());
                }
            }
        }
        break;
    }
    let mut kept = custom::payload_mut::<RegionParams>(buffer);
    let list = &mut kept.payload_mut().0;
    list.retain(|(i, _)| *i != id);
    let mut params = vec![detection];
    params.extend(region.tensors.iter().map(Tensor::to_structure));
    list.push((id, params));
    Ok(region)
}

/// Every region on the frame in the order it was added, including regions of interest
/// that other elements attached (their label is their `roi_type`, their confidence 0).
pub fn regions(buffer: &gst::BufferRef) -> Vec<Region> {
    let mut kept: Option<HashMap<i32, &Vec<gst::Structure>>> = None;
    buffer
        .iter_meta::<VideoRegionOfInterestMeta>()
        .map(|roi| {
            let own: Vec<&gst::StructureRef> = roi.params().collect();
            if own.iter().any(|s| s.name() == DETECTION_STRUCTURE) {
                return region_from(&roi, &own);
            }
            // Scaled by videoscale (params dropped, perhaps tensors added since): the
            // companion copy has everything that was added through this module.
            let kept = kept.get_or_insert_with(|| companion(buffer));
            match kept.get(&roi.id()) {
                Some(params) => region_from(&roi, &params.iter().map(|s| s.as_ref()).collect::<Vec<_>>()),
                None => region_from(&roi, &own),
            }
        })
        .collect()
}

/// The region with this id, if the frame has one.
pub fn region(buffer: &gst::BufferRef, id: i32) -> Option<Region> {
    regions(buffer).into_iter().find(|r| r.id == id)
}

fn companion(buffer: &gst::BufferRef) -> HashMap<i32, &Vec<gst::Structure>> {
    let mut map = HashMap::new();
    for p in custom::payloads::<RegionParams>(buffer) {
        for (id, params) in &p.0 {
            map.entry(*id).or_insert(params);
        }
    }
    map
}

fn region_from(roi: &VideoRegionOfInterestMeta, params: &[&gst::StructureRef]) -> Region {
    let (x, y, w, h) = roi.rect();
    let detection = params.iter().find(|s| s.name() == DETECTION_STRUCTURE);
    let label = detection.and_then(|d| d.get::<String>("label").ok()).unwrap_or_else(|| roi.roi_type().to_owned());
    let confidence = detection
        .and_then(|d| d.get::<f64>("confidence").ok().or_else(|| d.get::<f32>("confidence").ok().map(f64::from)))
        .unwrap_or(0.0);
    let attributes = detection
        .and_then(|d| d.get::<&str>(ATTRIBUTES_JSON_FIELD).ok())
        .and_then(|t| serde_json::from_str::<Map<String, Value>>(t).ok())
        .or_else(|| detection.and_then(|d| d.get::<&gst::StructureRef>(ATTRIBUTES_FIELD).ok()).map(structure_to_object))
        .unwrap_or_default();
    let tensors =
        params.iter().filter(|s| s.name() == TENSOR_STRUCTURE).filter_map(|s| Tensor::from_structure(s).ok()).collect();
    Region { id: roi.id(), parent_id: roi.parent_id(), x, y, w, h, label, confidence, attributes, tensors }
}

/// Removes the region with this id; [`Error::Value`] if the frame has none.
pub fn remove_region(buffer: &mut gst::BufferRef, id: i32) -> Result<()> {
    let mut found = false;
    buffer.foreach_meta_mut(|mut meta| {
        if meta.downcast_ref::<VideoRegionOfInterestMeta>().is_some_and(|roi| roi.id() == id) {
            found = true;
            std::ops::ControlFlow::Continue(gst::buffer::BufferMetaForeachAction::Remove)
        } else {
            std::ops::ControlFlow::Continue(gst::buffer::BufferMetaForeachAction::Keep)
        }
    });
    for mut m in buffer.iter_meta_mut::<RegionParamsMeta>() {
        m.payload_mut().0.retain(|(i, _)| *i != id);
    }
    if found { Ok(()) } else { Err(Error::Value(format!("the frame has no region with id {id}"))) }
}

/// Attaches a tensor to the region with this id; [`Error::Value`] if there is none.
pub fn add_region_tensor(buffer: &mut gst::BufferRef, id: i32, tensor: &Tensor) -> Result<()> {
    let s = tensor.to_structure();
    let mut found = false;
    for mut roi in buffer.iter_meta_mut::<VideoRegionOfInterestMeta>() {
        if roi.id() == id {
            roi.add_param(s.clone());
            found = true;
            break;
        }
    }
    if !found {
        return Err(Error::Value(format!("the frame has no region with id {id}")));
    }
    let mut meta = custom::payload_mut::<RegionParams>(buffer);
    let list = &mut meta.payload_mut().0;
    match list.iter_mut().find(|(i, _)| *i == id) {
        Some((_, params)) => params.push(s),
        None => list.push((id, vec![s])),
    }
    Ok(())
}

/// Attributes for other GStreamer consumers: a structure with one field per key. JSON
/// `null` leaves the field out and a list whose items differ in type (a GstValueArray
/// cannot hold those) becomes its JSON text; framepipe itself reads the exact JSON kept
/// next to it in `attributes-json`.
fn object_to_structure(map: &Map<String, Value>) -> gst::Structure {
    let mut s = gst::Structure::new_empty(OBJECT_STRUCTURE);
    for (k, v) in map {
        if let Some(v) = json_to_value(v) {
            s.set_value(k.as_str(), v);
        }
    }
    s
}

fn json_to_value(v: &Value) -> Option<glib::SendValue> {
    Some(match v {
        Value::Bool(b) => b.to_send_value(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_send_value()
            } else if let Some(u) = n.as_u64() {
                u.to_send_value()
            } else {
                n.as_f64().unwrap_or(f64::NAN).to_send_value()
            }
        }
        Value::String(s) => s.to_send_value(),
        Value::Array(items) => {
            let values: Option<Vec<glib::SendValue>> = items.iter().map(json_to_value).collect();
            match values {
                Some(values) if values.windows(2).all(|p| p[0].type_() == p[1].type_()) => {
                    gst::Array::from_values(values).to_send_value()
                }
                _ => v.to_string().to_send_value(),
            }
        }
        Value::Object(map) => object_to_structure(map).to_send_value(),
        Value::Null => return None,
    })
}

fn structure_to_object(s: &gst::StructureRef) -> Map<String, Value> {
    s.iter().map(|(k, v)| (k.to_string(), value_to_json(v))).collect()
}

fn value_to_json(v: &glib::Value) -> Value {
    if let Ok(b) = v.get::<bool>() {
        Value::Bool(b)
    } else if let Ok(i) = v.get::<i64>() {
        i.into()
    } else if let Ok(i) = v.get::<i32>() {
        i.into()
    } else if let Ok(u) = v.get::<u64>() {
        u.into()
    } else if let Ok(u) = v.get::<u32>() {
        u.into()
    } else if let Ok(f) = v.get::<f64>() {
        f.into()
    } else if let Ok(f) = v.get::<f32>() {
        f64::from(f).into()
    } else if let Ok(s) = v.get::<String>() {
        s.into()
    } else if let Ok(a) = v.get::<gst::ArrayRef>() {
        a.iter().map(|i| value_to_json(i)).collect()
    } else if let Ok(l) = v.get::<gst::ListRef>() {
        l.iter().map(|i| value_to_json(i)).collect()
    } else if let Ok(s) = v.get::<&gst::StructureRef>() {
        Value::Object(structure_to_object(s))
    } else {
        // Anything else another element put there: its GStreamer serialisation.
        v.serialize().map(|s| Value::String(s.to_string())).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rounding_and_clipping() {
        assert_eq!(place_rect(10.4, 20.6, 30.0, 40.0, false, 320, 240).unwrap(), (10, 21, 30, 40));
        assert_eq!(place_rect(-5.0, -5.0, 20.0, 20.0, false, 320, 240).unwrap(), (0, 0, 15, 15));
        assert_eq!(place_rect(300.0, 200.0, 50.0, 50.0, false, 320, 240).unwrap(), (300, 200, 20, 40));
        assert_eq!(place_rect(0.25, 0.5, 0.5, 0.25, true, 320, 240).unwrap(), (80, 120, 160, 60));
        assert_eq!(place_rect(5.0, 5.0, 0.0, 0.0, false, 320, 240).unwrap(), (5, 5, 0, 0));
        for bad in [(-20.0, 0.0, 20.0, 10.0), (320.0, 0.0, 5.0, 5.0), (0.0, 240.0, 5.0, 5.0), (400.0, 400.0, 0.0, 0.0)]
        {
            assert!(matches!(place_rect(bad.0, bad.1, bad.2, bad.3, false, 320, 240), Err(Error::Value(_))), "{bad:?}");
        }
        assert!(matches!(place_rect(0.0, 0.0, -1.0, 5.0, false, 320, 240), Err(Error::Value(_))));
        assert!(matches!(place_rect(f64::NAN, 0.0, 1.0, 5.0, false, 320, 240), Err(Error::Value(_))));
        assert!(matches!(place_rect(1.5, 0.0, 0.5, 0.5, true, 320, 240), Err(Error::Value(_))));
    }

    #[test]
    fn scale_matches_gstreamer_floor() {
        assert_eq!(scale_rect((11, 13, 101, 57), (320, 240), (213, 97)), (7, 5, 67, 23));
        assert_eq!(scale_rect((11, 13, 101, 57), (320, 240), (640, 480)), (22, 26, 202, 114));
        assert_eq!(scale_rect((11, 13, 101, 57), (320, 240), (160, 120)), (5, 6, 50, 28));
    }

    proptest! {
        #[test]
        fn placed_boxes_lie_in_the_frame(
            x in -500.0f64..1000.0, y in -500.0f64..1000.0, w in 0.0f64..800.0, h in 0.0f64..800.0,
            width in 1u32..1000, height in 1u32..1000,
        ) {
            match place_rect(x, y, w, h, false, width, height) {
                Ok((px, py, pw, ph)) => {
                    prop_assert!(px + pw <= width && py + ph <= height);
                    // Inside boxes are only rounded, never moved.
                    if x >= 0.0 && y >= 0.0 && x + w <= f64::from(width) && y + h <= f64::from(height) {
                        prop_assert_eq!(px, x.round() as u32);
                        prop_assert_eq!(px + pw, (x + w).round() as u32);
                        prop_assert_eq!(py + ph, (y + h).round() as u32);
                    }
                }
                Err(Error::Value(_)) => {
                    let (x0, x1, y0, y1) = (x.round(), (x + w).round(), y.round(), (y + h).round());
                    let overlaps = x1.min(f64::from(width)) > x0.max(0.0) && y1.min(f64::from(height)) > y0.max(0.0);
                    prop_assert!(!overlaps || x1 <= x0 || y1 <= y0);
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }

        #[test]
        fn normalized_is_pixels_times_size(
            x in 0.0f64..1.0, y in 0.0f64..1.0, w in 0.0f64..1.0, h in 0.0f64..1.0,
            width in 1u32..2000, height in 1u32..2000,
        ) {
            let n = place_rect(x, y, w, h, true, width, height);
            let p = place_rect(
                x * f64::from(width), y * f64::from(height), w * f64::from(width), h * f64::from(height), false, width, height,
            );
            if let (Ok(n), Ok(p)) = (&n, &p) {
                // Equal up to the rounding of (x + w) * width versus x * width + w * width.
                prop_assert!(n.0.abs_diff(p.0) <= 1 && n.1.abs_diff(p.1) <= 1);
            }
        }

        #[test]
        fn scaling_stays_in_the_new_frame(
            x in 0u32..4000, y in 0u32..4000, w in 0u32..4000, h in 0u32..4000,
            ow in 1u32..4000, oh in 1u32..4000, nw in 1u32..4000, nh in 1u32..4000,
        ) {
            let (x, w) = (x % ow, w % (ow - x % ow + 1));
            let (y, h) = (y % oh, h % (oh - y % oh + 1));
            let (sx, sy, sw, sh) = scale_rect((x, y, w, h), (ow, oh), (nw, nh));
            prop_assert!(sx + sw <= nw && sy + sh <= nh);
            // Integer factors are exact both ways.
            prop_assert_eq!(scale_rect((x, y, w, h), (ow, oh), (ow * 2, oh * 2)), (2 * x, 2 * y, 2 * w, 2 * h));
            prop_assert_eq!(scale_rect((2 * x, 2 * y, 2 * w, 2 * h), (2 * ow, 2 * oh), (ow, oh)), (x, y, w, h));
            prop_assert_eq!(sx, (u64::from(x) * u64::from(nw) / u64::from(ow)) as u32);
        }
    }
}
