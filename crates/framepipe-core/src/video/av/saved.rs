//! Saved frame indexes (`VideoFile.save_index(path)`, `fp.open(uri, frame_index=path)`):
//! a dataset of long videos opens without scanning each file again.
//!
//! The format is JSON, one object:
//! `{"framepipe_index": 1, "file_size": <bytes>, "time_base": [num, den], "origin": <ticks>,
//!   "frames": [[pts_ns, dts_ns | null, duration_ns | null, keyframe, decode_order], ...]}`
//! with frames in presentation order and times as [`super::super::FrameEntry`] has them (ns
//! from the stream's origin). The file size and time base are checked on load, so an index
//! saved for another file is refused rather than giving wrong frames.

use serde_json::{Value, json};

use super::{Probe, TimeBase};
use crate::video::{FrameEntry, FrameIndex};
use crate::{Error, Result};

const VERSION: u64 = 1;

/// A parsed index file.
pub(crate) struct SavedIndex {
    pub index: FrameIndex,
    pub origin: i64,
    pub time_base: TimeBase,
    pub file_size: u64,
}

/// The probe's index as JSON text.
pub fn index_to_json(probe: &Probe) -> String {
    let frames: Vec<Value> =
        probe.index.entries().iter().map(|e| json!([e.pts, e.dts, e.duration, e.keyframe, e.decode_order])).collect();
    json!({
        "framepipe_index": VERSION,
        "file_size": probe.file_size,
        "time_base": [probe.time_base.num, probe.time_base.den],
        "origin": probe.origin,
        "frames": frames,
    })
    .to_string()
}

fn bad(what: &str) -> Error {
    Error::Value(format!("not a framepipe frame index: {what}"))
}

/// Parses an index file's contents (see the module docs); [`Error::Value`] names what is
/// wrong with it.
pub(crate) fn index_from_json(text: &str) -> Result<SavedIndex> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad(&format!("invalid JSON ({e})")))?;
    match v.get("framepipe_index").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => return Err(bad(&format!("version {other}, this framepipe reads version {VERSION}"))),
        None => return Err(bad("no \"framepipe_index\" version key")),
    }
    let file_size = v.get("file_size").and_then(Value::as_u64).ok_or_else(|| bad("no file_size"))?;
    let origin = v.get("origin").and_then(Value::as_i64).ok_or_else(|| bad("no origin"))?;
    let tb = v.get("time_base").and_then(Value::as_array).ok_or_else(|| bad("no time_base"))?;
    let (num, den) = match tb.as_slice() {
        [n, d] => (n.as_i64().unwrap_or(0), d.as_i64().unwrap_or(0)),
        _ => (0, 0),
    };
    if num <= 0 || den <= 0 {
        return Err(bad("time_base is not [num, den] with positive integers"));
    }
    let frames = v.get("frames").and_then(Value::as_array).ok_or_else(|| bad("no frames list"))?;
    let mut entries = Vec::with_capacity(frames.len());
    for (k, f) in frames.iter().enumerate() {
        let row = f.as_array().filter(|r| r.len() == 5).ok_or_else(|| bad(&format!("frame {k} is not a 5-list")))?;
        let opt = |x: &Value| if x.is_null() { Ok(None) } else { x.as_u64().map(Some).ok_or(()) };
        let entry = (|| -> std::result::Result<FrameEntry, ()> {
            Ok(FrameEntry {
                pts: row[0].as_u64().ok_or(())?,
                dts: opt(&row[1])?,
                duration: opt(&row[2])?,
                keyframe: row[3].as_bool().ok_or(())?,
                decode_order: row[4].as_u64().ok_or(())? as usize,
            })
        })()
        .map_err(|()| bad(&format!("frame {k} has a field of the wrong type")))?;
        if let Some(prev) = entries.last().map(|e: &FrameEntry| e.pts)
            && entry.pts <= prev
        {
            return Err(bad(&format!("frame {k} is not after frame {} in presentation order", k - 1)));
        }
        entries.push(entry);
    }
    Ok(SavedIndex { index: FrameIndex::from_entries(entries), origin, time_base: TimeBase { num, den }, file_size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::Metadata;

    fn probe() -> Probe {
        let tb = TimeBase { num: 1, den: 30 };
        let raw = [(0, Some(-1), Some(1), true), (2, Some(0), Some(1), false), (1, Some(1), None, false)];
        let (index, origin) = super::super::index_from_packets(&raw, tb);
        Probe {
            metadata: Metadata::default(),
            index,
            time_base: tb,
            origin,
            file_size: 1234,
            quirks: Default::default(),
        }
    }

    #[test]
    fn round_trip() {
        let p = probe();
        let back = index_from_json(&index_to_json(&p)).unwrap();
        assert_eq!(back.index.entries(), p.index.entries());
        assert_eq!((back.origin, back.time_base, back.file_size), (p.origin, p.time_base, p.file_size));
    }

    #[test]
    fn bad_files_are_value_errors_naming_the_problem() {
        let cases = [
            ("not json", "invalid JSON"),
            ("{}", "version"),
            (r#"{"framepipe_index": 9}"#, "version 9"),
            (r#"{"framepipe_index": 1, "file_size": 1, "origin": 0, "time_base": [0, 1], "frames": []}"#, "time_base"),
            (
                r#"{"framepipe_index": 1, "file_size": 1, "origin": 0, "time_base": [1, 30], "frames": [[1, null, null, "x", 0]]}"#,
                "frame 0",
            ),
            (
                r#"{"framepipe_index": 1, "file_size": 1, "origin": 0, "time_base": [1, 30], "frames": [[5, null, null, true, 0], [5, null, null, true, 1]]}"#,
                "frame 1",
            ),
        ];
        for (text, needle) in cases {
            let err = index_from_json(text).err().expect(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
