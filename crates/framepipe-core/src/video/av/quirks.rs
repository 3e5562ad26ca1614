//! Encoder quirks a decoder must know before it decodes from a keyframe other than the first.
//!
//! libavcodec's H.264 decoder reads the x264 version from the user-data SEI that x264 writes
//! into the first access unit only ("x264 - core 142 r50 ..."), and decodes streams of old
//! x264 builds with workarounds for their bugs (before core 151: High 4:4:4 intra 8x8
//! prediction without the neighbour filter in lossless macroblocks, 4:4:4 8x8dct CABAC
//! contexts). A decoder that starts at a later keyframe never sees that SEI: it decodes such
//! a stream without the workarounds and gets grey/green garbage that it does not flag (no
//! `decode_error_flags`, no `AV_FRAME_FLAG_CORRUPT`), while sequential decoding, which saw
//! the first packet, is right. imageio's test image cockatoo.mp4 (x264 core 142, High 4:4:4)
//! is such a file; `ffmpeg -ss` shows the same damage, and PyAV's users avoid it by decoding
//! one frame before every seek.
//!
//! The cure here: the probe reads the version from the stream's first packet (or its
//! extradata), and every decoder is opened with libavcodec's `x264_build` option set to it,
//! so a random read decodes exactly as sequential decoding does.

use std::ffi::CStr;

use ffmpeg_next::ffi as ff;

/// What the probe learnt about the encoder from the stream's first bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Quirks {
    /// The x264 build (core version) that wrote an H.264 stream, as libavcodec parses it.
    pub x264_build: Option<i32>,
}

const X264_TAG: &[u8] = b"x264 - core ";

impl Quirks {
    /// Looks for x264's version SEI in `data` (a packet's or the extradata's bytes).
    pub fn scan(&mut self, data: &[u8]) {
        if self.x264_build.is_none() {
            self.x264_build = x264_build(data);
        }
    }

    /// Sets what was found as options of a decoder context that is allocated but not yet
    /// opened (`avcodec_open2` copies the options into its frame threads).
    pub fn apply(&self, ctx: *mut ff::AVCodecContext) {
        let Some(build) = self.x264_build else { return };
        // SAFETY: ctx is an allocated codec context; only the H.264 decoder has this private
        // option, and its priv_data is allocated (with the option defaults) by
        // avcodec_alloc_context3. av_opt_set_int checks the name and range.
        unsafe {
            if (*ctx).codec_id != ff::AVCodecID::AV_CODEC_ID_H264 || (*ctx).priv_data.is_null() {
                return;
            }
            let r = ff::av_opt_set_int((*ctx).priv_data, c"x264_build".as_ptr(), i64::from(build), 0);
            if r < 0 && std::env::var_os("FRAMEPIPE_AV_DEBUG").is_some() {
                let name = CStr::from_ptr(ff::avcodec_get_name((*ctx).codec_id));
                eprintln!("{}: cannot set x264_build: {}", name.to_string_lossy(), super::av_error(r));
            }
        }
    }
}

/// The x264 build named by an "x264 - core NNN" SEI string in `data`, as libavcodec reads it
/// (`sscanf("x264 - core %d")`, a positive number; "core 0000" is build 67).
pub(crate) fn x264_build(data: &[u8]) -> Option<i32> {
    let at = data.windows(X264_TAG.len()).position(|w| w == X264_TAG)?;
    let rest = &data[at + X264_TAG.len()..];
    if rest.starts_with(b"0000") {
        return Some(67);
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let build: i32 = std::str::from_utf8(&rest[..digits.min(9)]).ok()?.parse().ok()?;
    (build > 0).then_some(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_x264_builds_as_libavcodec_does() {
        let sei = b"\x00\x00\x00\x10\x06\x05\xffdc45e9bde6d948b7x264 - core 142 r50 dd79a61 - H.264/MPEG-4 AVC codec";
        assert_eq!(x264_build(sei), Some(142));
        assert_eq!(x264_build(b"..x264 - core 0000 r1"), Some(67));
        assert_eq!(x264_build(b"x264 - core 164"), Some(164));
        assert_eq!(x264_build(b"x264 - core r1"), None);
        assert_eq!(x264_build(b"x264 - core 0 r1"), None);
        assert_eq!(x264_build(b"x265 (build 199)"), None);
        assert_eq!(x264_build(b""), None);
        let mut q = Quirks::default();
        q.scan(b"no tag here");
        q.scan(b"x264 - core 150");
        q.scan(b"x264 - core 160");
        assert_eq!(q.x264_build, Some(150));
    }
}
