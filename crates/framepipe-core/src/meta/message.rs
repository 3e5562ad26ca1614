//! JSON messages attached to a frame (`frame.add_message` / `frame.messages`), kept as
//! JSON text in a framepipe meta (API type `GstFpMessageMetaAPI`). Any JSON value is a
//! message: an object comes back as an object, a string as a string.

use super::custom;
use crate::{Error, Result};

#[derive(Debug, Clone, Default)]
/// The payload of [`MessageMeta`]: JSON texts.
pub struct Messages(pub(crate) Vec<String>);

custom::payload!(Messages, api = c"GstFpMessageMetaAPI", meta = c"GstFpMessageMeta");

/// The meta type that carries a frame's messages (API type `GstFpMessageMetaAPI`).
pub type MessageMeta = custom::FpMeta<Messages>;

/// Attaches a message.
pub fn add_message(buffer: &mut gst::BufferRef, message: &serde_json::Value) {
    let text = message.to_string();
    custom::payload_mut::<Messages>(buffer).payload_mut().0.push(text);
}

/// Attaches a message given as JSON text (what Python's `json.dumps` gives); text that is
/// not JSON is an [`Error::Value`] and attaches nothing.
pub fn add_message_json(buffer: &mut gst::BufferRef, json: &str) -> Result<()> {
    serde_json::from_str::<serde_json::Value>(json)
        .map_err(|e| Error::Value(format!("message is not valid JSON: {e}")))?;
    custom::payload_mut::<Messages>(buffer).payload_mut().0.push(json.to_owned());
    Ok(())
}

/// The frame's messages as JSON text, in the order they were added.
pub fn message_texts(buffer: &gst::BufferRef) -> Vec<String> {
    custom::payloads::<Messages>(buffer).flat_map(|p| p.0.iter().cloned()).collect()
}

/// The frame's messages, parsed, in the order they were added.
pub fn messages(buffer: &gst::BufferRef) -> Vec<serde_json::Value> {
    custom::payloads::<Messages>(buffer)
        .flat_map(|p| p.0.iter())
        // Only valid JSON is ever stored, so nothing is dropped here.
        .filter_map(|t| serde_json::from_str(t).ok())
        .collect()
}
