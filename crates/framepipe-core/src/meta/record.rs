//! The per-frame JSON record that `fpmetawriter` writes as JSON Lines, and its reader
//! (`fp.read_metadata`).

use std::io::BufRead;
use std::path::Path;

use serde_json::{Value, json};

use super::{message, region, tensor};
use crate::{Error, Result};

/// `{"pts", "regions", "messages", "tensors"}` for one buffer: `pts` in nanoseconds or
/// null; regions as [`region::Region::to_json`]; messages parsed; tensors as
/// `{"name", "shape", "dtype"}`.
pub fn frame_record(buffer: &gst::BufferRef) -> Value {
    json!({
        "pts": buffer.pts().map(|t| t.nseconds()),
        "regions": region::regions(buffer).iter().map(region::Region::to_json).collect::<Vec<_>>(),
        "messages": message::messages(buffer),
        "tensors": tensor::tensors(buffer).iter().map(tensor::Tensor::summary).collect::<Vec<_>>(),
    })
}

/// Reads a JSON Lines file as fpmetawriter writes it: one value per non-empty line.
/// A missing file is [`Error::NotFound`]; a line that is not JSON is [`Error::Value`]
/// naming the line number.
pub fn read_metadata(path: impl AsRef<Path>) -> Result<Vec<Value>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(format!("{}: no such file", path.display())),
        _ => Error::Value(format!("{}: {e}", path.display())),
    })?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::Value(format!("{}: line {}: {e}", path.display(), n + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(&line)
            .map_err(|e| Error::Value(format!("{}: line {} is not JSON: {e}", path.display(), n + 1)))?;
        out.push(value);
    }
    Ok(out)
}
