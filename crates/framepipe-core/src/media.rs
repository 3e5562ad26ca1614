//! What a buffer holds, read from its caps, and the array views over it.

use gst_audio::AudioInfo;
use gst_video::{VideoInfo, VideoMeta};

use crate::layout::{self, Dtype, View};
use crate::{Error, Result};

/// Caps from text written by a user (a Python element's `caps`, what `transform_caps`
/// returns): [`Error::Value`] for text GStreamer cannot parse, and also for text it would
/// meet with a GLib CRITICAL rather than an error: a NUL byte, or a structure name that
/// does not start with a letter (`"1video/x-raw"`: GStreamer 1.22's caps parser accepts
/// the name, then `gst_structure_new_empty` asserts; found by the `caps_layout` fuzz target).
pub fn parse_caps(text: &str) -> Result<gst::Caps> {
    let bad = || Error::Value(format!("cannot parse {text:?} as caps"));
    if text.contains('\0') || !plausible_structure_names(text) {
        return Err(bad());
    }
    text.parse::<gst::Caps>().map_err(|_| bad())
}

/// Whether every structure name in caps text starts with a letter and has only letters,
/// digits and `/-_.:+` (`gst_structure_validate_name`); `ANY`, `EMPTY` and `NONE` pass.
fn plausible_structure_names(text: &str) -> bool {
    text.split(';').all(|part| {
        let part = part.trim_start();
        let name = part.split([',', '(', ' ', '\t', '\n']).next().unwrap_or_default();
        let mut chars = name.chars();
        match chars.next() {
            None => part.trim().is_empty(),
            Some(c) => c.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || "/-_.:+".contains(c)),
        }
    })
}

/// The media described by a buffer's caps.
#[derive(Debug, Clone)]
pub enum MediaInfo {
    Video(VideoInfo),
    Audio(AudioInfo),
    /// Anything else (encoded data, bytes): one flat uint8 view.
    Other,
}

impl MediaInfo {
    pub fn from_caps(caps: Option<&gst::CapsRef>) -> MediaInfo {
        let Some(caps) = caps else { return MediaInfo::Other };
        let Some(s) = caps.structure(0) else { return MediaInfo::Other };
        if s.name() == "video/x-raw" && caps.features(0).is_none_or(|f| f.is_any() || f.contains("memory:SystemMemory"))
        {
            if let Ok(info) = VideoInfo::from_caps(caps) {
                return MediaInfo::Video(info);
            }
        } else if s.name() == "audio/x-raw"
            && let Ok(info) = AudioInfo::from_caps(caps)
        {
            return MediaInfo::Audio(info);
        }
        MediaInfo::Other
    }

    /// Views of every plane of `buffer` (mapped as `len` bytes): video planes per the
    /// buffer's VideoMeta if it has one, else per the caps; audio channels for
    /// non-interleaved audio; one interleaved view otherwise.
    pub fn planes(&self, buffer: &gst::BufferRef, len: usize) -> Result<Vec<View>> {
        let views = match self {
            MediaInfo::Video(info) => {
                if let Some(meta) = buffer.meta::<VideoMeta>() {
                    let offsets: Vec<usize> = meta.offset().to_vec();
                    layout::video_planes(&meta.format().into(), meta.width(), meta.height(), &offsets, meta.stride())?
                } else {
                    layout::video_planes(
                        &info.format_info(),
                        info.width(),
                        info.height(),
                        info.offset(),
                        info.stride(),
                    )?
                }
            }
            MediaInfo::Audio(info) => {
                let dtype = audio_dtype(info)?;
                match info.layout() {
                    gst_audio::AudioLayout::NonInterleaved => {
                        layout::audio_planar(dtype, info.channels() as usize, len)
                    }
                    _ => vec![layout::audio_interleaved(dtype, info.channels() as usize, len)],
                }
            }
            MediaInfo::Other => vec![View { offset: 0, shape: vec![len], strides: vec![1], dtype: Dtype::U8 }],
        };
        check_fit(&views, len)?;
        Ok(views)
    }

    /// The single view that `frame.array` gives.
    pub fn array(&self, buffer: &gst::BufferRef, len: usize) -> Result<View> {
        match self {
            MediaInfo::Video(info) => {
                let finfo = match buffer.meta::<VideoMeta>() {
                    Some(meta) => gst_video::VideoFormatInfo::from_format(meta.format()),
                    None => info.format_info(),
                };
                if !layout::is_packed(&finfo) {
                    return Err(Error::Value(format!(
                        "{} is a planar or packed-subsampled format: use frame.planes for one array per plane, \
                         or end the pipeline with `videoconvert ! video/x-raw,format=RGB ! appsink` for (H, W, 3) \
                         arrays",
                        finfo.name()
                    )));
                }
            }
            MediaInfo::Audio(info) if info.layout() == gst_audio::AudioLayout::NonInterleaved => {
                return Err(Error::Value("non-interleaved audio: use frame.planes for one array per channel".into()));
            }
            _ => {}
        }
        Ok(self.planes(buffer, len)?.remove(0))
    }
}

fn audio_dtype(info: &AudioInfo) -> Result<Dtype> {
    layout::audio_dtype(info.format())
        .ok_or_else(|| Error::Value(format!("audio format {} has no numpy dtype", info.format().to_str())))
}

fn check_fit(views: &[View], len: usize) -> Result<()> {
    match views.iter().find(|v| !v.fits(len)) {
        Some(v) => Err(Error::Value(format!(
            "buffer of {len} bytes is too small for a view of shape {:?} at offset {}",
            v.shape, v.offset
        ))),
        None => Ok(()),
    }
}
