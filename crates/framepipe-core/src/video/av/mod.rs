//! Reading video files straight from FFmpeg's libavformat/libavcodec/libswscale (Debian's
//! FFmpeg, the same libavcodec that gst-libav wraps), on the calling thread: the default
//! path of `fp.open` / `imread` / `imiter` when no GStreamer `filter=` is given.
//!
//! Why not GStreamer here: every open and every seek of the GStreamer reader pays a state
//! change, a flush and a preroll, every frame crosses two threads, and its index is a
//! demux-only pipeline run over the whole file. Here the index is a packet scan at
//! libavformat speed (no decoding, no packet data read for MP4/MOV), a seek is
//! `av_seek_frame` + `avcodec_flush_buffers`, and a frame goes from the decoder through
//! swscale into memory that numpy then owns.
//!
//! All FFI lives in this module (this file: the RAII owners of FFmpeg objects and the
//! probe; `convert`: swscale; `reader`: the decode loop; `saved`: index files).
//! The frame index ([`FrameIndex`]) and the output formats ([`OutputFormat`](super::OutputFormat)) are shared
//! with the GStreamer path, so the two cannot drift: frame k is the k-th frame sequential
//! decoding yields, `time` counts from the first frame.

mod convert;
mod mkv;
mod mov;
mod pixdesc;
mod quirks;
mod reader;
mod saved;

pub use convert::{ColorOptions, ColorRange, ColorSpace};
pub use pixdesc::{StridedLayout, convert_frame, strided_layout};
use quirks::Quirks;
pub use reader::{FrameInfo, LibavReader, Pixels};
use saved::index_from_json;
pub use saved::index_to_json;

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::{Arc, Mutex};

use ffmpeg_next::ffi as ff;

use super::{FrameEntry, FrameIndex, Metadata, check_input};
use crate::{Error, Result};

/// Quietens FFmpeg's logging once per process (a damaged stream would otherwise print a
/// line per broken slice; errors reach the caller as [`Error::Media`]).
fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("FRAMEPIPE_AV_LOG").is_none() {
            // SAFETY: sets a global integer; no pointers involved.
            unsafe { ff::av_log_set_level(ff::AV_LOG_FATAL) };
        }
    });
}

/// FFmpeg's message for an error code.
fn av_error(code: i32) -> String {
    let mut buf = [0 as std::ffi::c_char; 256];
    // SAFETY: av_strerror writes at most buf.len() bytes, NUL terminated.
    unsafe {
        ff::av_strerror(code, buf.as_mut_ptr(), buf.len());
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

fn eagain() -> i32 {
    ff::AVERROR(libc_eagain())
}

const fn libc_eagain() -> i32 {
    11
}

/// A time base as (num, den).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeBase {
    pub num: i64,
    pub den: i64,
}

impl TimeBase {
    /// Ticks (relative to the index origin) to ns, rounded to nearest: a tick is longer than
    /// 1 ns for every real time base, so [`Self::to_ticks`] inverts it exactly.
    pub fn to_ns(self, ticks: i64) -> i64 {
        let v = i128::from(ticks) * i128::from(self.num) * 1_000_000_000;
        let d = i128::from(self.den);
        (if v >= 0 { (v + d / 2) / d } else { (v - d / 2) / d }) as i64
    }

    pub fn to_ticks(self, ns: i64) -> i64 {
        let v = i128::from(ns) * i128::from(self.den);
        let d = i128::from(self.num) * 1_000_000_000;
        (if v >= 0 { (v + d / 2) / d } else { (v - d / 2) / d }) as i64
    }
}

/// An open demuxer (AVFormatContext) with its video stream chosen.
pub(crate) struct Input {
    ctx: *mut ff::AVFormatContext,
    pub stream: i32,
    /// Encoder quirks found in the extradata and the first packet read (module `quirks`).
    quirks: Quirks,
    /// The first packet was read and scanned (or, not H.264, needs no scan).
    first_read: bool,
}

// SAFETY: an AVFormatContext is not tied to the thread that opened it; Input is used by one
// thread at a time (it is owned, and all access goes through &mut self).
unsafe impl Send for Input {}

impl Input {
    /// Opens `path`; with `find_info` runs `avformat_find_stream_info` (the first open of a
    /// file; decoders opened again for parallel reads take the parameters from the first).
    pub fn open(path: &Path, find_info: bool) -> Result<Input> {
        init();
        check_input(path)?;
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::Value(format!("path {} contains a NUL byte", path.display())))?;
        let mut ctx: *mut ff::AVFormatContext = ptr::null_mut();
        // SAFETY: ctx is a valid out-pointer; on failure FFmpeg frees what it allocated and
        // leaves ctx null.
        let r = unsafe { ff::avformat_open_input(&mut ctx, c_path.as_ptr(), ptr::null(), ptr::null_mut()) };
        if r < 0 || ctx.is_null() {
            return Err(Error::Media(format!("{}: {}", path.display(), av_error(r))));
        }
        let mut input = Input { ctx, stream: -1, quirks: Quirks::default(), first_read: false };
        // SAFETY: ctx is an open input.
        let no_header = unsafe { (*ctx).ctx_flags } & ff::AVFMTCTX_NOHEADER != 0;
        if find_info || no_header {
            // Without a header (MPEG-PS, elementary streams) streams appear while packets are
            // read: every open has to look for them.
            // SAFETY: ctx is an open input.
            let r = unsafe { ff::avformat_find_stream_info(input.ctx, ptr::null_mut()) };
            if r < 0 {
                return Err(Error::Media(format!("{}: {}", path.display(), av_error(r))));
            }
        }
        // SAFETY: ctx is an open input; no decoder is asked for.
        let s = unsafe {
            ff::av_find_best_stream(input.ctx, ff::AVMediaType::AVMEDIA_TYPE_VIDEO, -1, -1, ptr::null_mut(), 0)
        };
        if s < 0 {
            return Err(Error::Media(format!("{}: the file has no video stream", path.display())));
        }
        input.stream = s;
        // SAFETY: the stream's parameters own `extradata_size` bytes at `extradata` (or null).
        let extradata = unsafe {
            let par = input.codecpar();
            match ((*par).extradata, usize::try_from((*par).extradata_size)) {
                (p, Ok(n)) if !p.is_null() && n > 0 => std::slice::from_raw_parts(p, n),
                _ => &[],
            }
        };
        input.quirks.scan(extradata);
        // Only H.264 decoders take what the first packet tells (see `quirks`).
        // SAFETY: the stream's parameters are valid.
        input.first_read = unsafe { (*input.codecpar()).codec_id } != ff::AVCodecID::AV_CODEC_ID_H264;
        // Only the video stream is demuxed: the others are skipped without reading them.
        for i in 0..input.n_streams() {
            if i as i32 != s {
                // SAFETY: i < nb_streams.
                unsafe { (*input.stream_ptr(i as i32)).discard = ff::AVDiscard::AVDISCARD_ALL };
            }
        }
        Ok(input)
    }

    fn n_streams(&self) -> usize {
        // SAFETY: ctx is open.
        unsafe { (*self.ctx).nb_streams as usize }
    }

    fn stream_ptr(&self, i: i32) -> *mut ff::AVStream {
        // SAFETY: callers pass an index below nb_streams.
        unsafe { *(*self.ctx).streams.add(i as usize) }
    }

    pub fn video(&self) -> *mut ff::AVStream {
        self.stream_ptr(self.stream)
    }

    pub fn time_base(&self) -> TimeBase {
        // SAFETY: the video stream exists.
        let tb = unsafe { (*self.video()).time_base };
        TimeBase { num: i64::from(tb.num.max(1)), den: i64::from(tb.den.max(1)) }
    }

    pub fn codecpar(&self) -> *const ff::AVCodecParameters {
        // SAFETY: the video stream exists and owns its parameters.
        unsafe { (*self.video()).codecpar }
    }

    /// Reads the next packet of the video stream into `pkt`: `Ok(false)` at the end. Read
    /// errors past the first packet end the stream (a truncated file plays up to the cut).
    pub fn read(&mut self, pkt: &mut Packet) -> Result<bool> {
        loop {
            pkt.unref();
            // SAFETY: ctx is open, pkt.0 is an allocated packet.
            let r = unsafe { ff::av_read_frame(self.ctx, pkt.0) };
            if r == eagain() {
                continue;
            }
            if r < 0 {
                return Ok(false);
            }
            if pkt.stream() == self.stream {
                if !self.first_read {
                    self.first_read = true;
                    self.quirks.scan(pkt.data());
                }
                return Ok(true);
            }
        }
    }

    /// Seeks so that the next packet read is the keyframe at or before `ts` (stream ticks).
    pub fn seek(&mut self, ts: i64) -> Result<()> {
        // SAFETY: ctx is open, the stream index is valid.
        let r = unsafe { ff::av_seek_frame(self.ctx, self.stream, ts, ff::AVSEEK_FLAG_BACKWARD) };
        if r < 0 {
            return Err(Error::Media(format!("cannot seek: {}", av_error(r))));
        }
        Ok(())
    }

    /// Whether the demuxer is libavformat's mov (MP4, MOV, 3GP, ...).
    pub fn is_mov(&self) -> bool {
        self.format_name().starts_with("mov,")
    }

    fn format_name(&self) -> String {
        // SAFETY: an open input has its iformat set; name is a static string.
        unsafe { CStr::from_ptr((*(*self.ctx).iformat).name).to_string_lossy().into_owned() }
    }

    fn tags(dict: *mut ff::AVDictionary) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut e: *mut ff::AVDictionaryEntry = ptr::null_mut();
        loop {
            // SAFETY: iterating a dictionary FFmpeg owns; the entries stay valid while it is
            // unchanged, and the strings are copied out at once.
            e = unsafe { ff::av_dict_get(dict, c"".as_ptr(), e, ff::AV_DICT_IGNORE_SUFFIX) };
            if e.is_null() {
                break;
            }
            // SAFETY: e is a valid entry with NUL-terminated key and value.
            let (k, v) = unsafe { (CStr::from_ptr((*e).key), CStr::from_ptr((*e).value)) };
            out.insert(k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned());
        }
        out
    }

    /// The display matrix's rotation as FFmpeg reports it (counter-clockwise degrees in
    /// [-180, 180), see `Metadata::rotation`).
    fn rotation(&self) -> i32 {
        let mut size = 0usize;
        // SAFETY: the stream is valid; the returned pointer (if any) points at `size` bytes
        // owned by the stream.
        let m = unsafe {
            ff::av_stream_get_side_data(self.video(), ff::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX, &mut size)
        };
        if m.is_null() || size < 36 {
            return 0;
        }
        // SAFETY: m points at a 3x3 i32 display matrix (36 bytes checked above).
        let ccw = unsafe { ff::av_display_rotation_get(m as *const i32) };
        if !ccw.is_finite() {
            return 0;
        }
        ((ccw.round() as i64 + 180).rem_euclid(360) - 180) as i32
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        // SAFETY: ctx was opened by avformat_open_input and is closed once.
        unsafe { ff::avformat_close_input(&mut self.ctx) };
    }
}

/// An AVPacket.
pub(crate) struct Packet(*mut ff::AVPacket);

// SAFETY: a packet is plain data with reference-counted buffers.
unsafe impl Send for Packet {}

impl Packet {
    pub fn new() -> Packet {
        // SAFETY: allocation; checked below.
        let p = unsafe { ff::av_packet_alloc() };
        assert!(!p.is_null(), "av_packet_alloc failed (out of memory)");
        Packet(p)
    }
    pub fn unref(&mut self) {
        // SAFETY: self.0 is allocated.
        unsafe { ff::av_packet_unref(self.0) };
    }
    pub fn stream(&self) -> i32 {
        // SAFETY: self.0 is allocated.
        unsafe { (*self.0).stream_index }
    }
    pub fn pts(&self) -> Option<i64> {
        // SAFETY: as above.
        let v = unsafe { (*self.0).pts };
        (v != ff::AV_NOPTS_VALUE).then_some(v)
    }
    pub fn dts(&self) -> Option<i64> {
        // SAFETY: as above.
        let v = unsafe { (*self.0).dts };
        (v != ff::AV_NOPTS_VALUE).then_some(v)
    }
    pub fn duration(&self) -> Option<i64> {
        // SAFETY: as above.
        let v = unsafe { (*self.0).duration };
        (v > 0).then_some(v)
    }
    pub fn flags(&self) -> i32 {
        // SAFETY: as above.
        unsafe { (*self.0).flags }
    }
    /// The packet's bytes.
    pub fn data(&self) -> &[u8] {
        // SAFETY: a filled packet owns `size` bytes at `data` (null and 0 when empty); the
        // slice borrows self, so the packet cannot be unreferenced while it lives.
        unsafe {
            match ((*self.0).data, usize::try_from((*self.0).size)) {
                (p, Ok(n)) if !p.is_null() && n > 0 => std::slice::from_raw_parts(p, n),
                _ => &[],
            }
        }
    }
    pub fn as_ptr(&self) -> *const ff::AVPacket {
        self.0
    }
}

impl Drop for Packet {
    fn drop(&mut self) {
        // SAFETY: allocated by av_packet_alloc, freed once.
        unsafe { ff::av_packet_free(&mut self.0) };
    }
}

/// What one probe of a file gives: its metadata and frame index, and what a decoder needs
/// to map frames back to the index.
#[derive(Debug)]
pub struct Probe {
    pub metadata: Metadata,
    pub index: FrameIndex,
    /// The video stream's time base.
    pub(crate) time_base: TimeBase,
    /// Stream ticks of ns 0: the smallest pts when it is negative, else 0 (index times are
    /// unsigned).
    pub(crate) origin: i64,
    /// Size of the file the index describes (a saved index is checked against it).
    pub(crate) file_size: u64,
    /// What every decoder of the stream is told about its encoder (module `quirks`).
    pub(crate) quirks: Quirks,
}

impl Probe {
    /// A decoded frame's timestamp (stream ticks) in the index's ns.
    pub(crate) fn ns(&self, ticks: i64) -> Option<u64> {
        u64::try_from(self.time_base.to_ns(ticks - self.origin)).ok()
    }

    /// Index ns back to stream ticks.
    pub(crate) fn ticks(&self, ns: u64) -> i64 {
        self.time_base.to_ticks(ns as i64) + self.origin
    }
}

/// Opens `path` with libavformat and indexes its video stream by reading packets (no
/// decoding). With `saved`, the index comes from a saved index file's contents instead
/// (see [`index_to_json`]); it must describe a file of the same size.
pub fn probe(path: &Path, saved: Option<&str>) -> Result<Arc<Probe>> {
    let mut input = Input::open(path, true)?;
    let tb = input.time_base();
    let file_size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let (index, origin) = match saved {
        Some(json) => {
            let s = index_from_json(json)?;
            if s.file_size != file_size || s.time_base != tb {
                return Err(Error::Value(format!(
                    "the saved index describes another file ({} bytes, time base {}/{}), not {} ({} bytes, time \
                     base {}/{})",
                    s.file_size,
                    s.time_base.num,
                    s.time_base.den,
                    path.display(),
                    file_size,
                    tb.num,
                    tb.den
                )));
            }
            (s.index, s.origin)
        }
        None => match mov_index(&mut input, path, tb).or_else(|| mkv_index(&mut input, path, tb)) {
            Some(found) => {
                if reader::debug() {
                    let from = if input.is_mov() { "mp4 sample tables" } else { "matroska block headers" };
                    eprintln!("index from the {from}");
                }
                found
            }
            None => {
                if reader::debug() {
                    eprintln!("index from a packet scan");
                }
                let name = input.format_name();
                if name.starts_with("mov,") || name.starts_with("matroska") {
                    // The check may have read packets: scan from the start.
                    input = Input::open(path, true)?;
                }
                scan(&mut input, tb)?
            }
        },
    };
    if index.is_empty() {
        return Err(Error::Media(format!("{}: the video stream has no frames", path.display())));
    }
    if !input.first_read {
        // A saved index: nothing was read yet. The first packet is where encoders put
        // their version (what the decoders need to know, see `quirks`).
        let mut pkt = Packet::new();
        input.read(&mut pkt)?;
    }
    let metadata = metadata(path, &input, &index);
    Ok(Arc::new(Probe { metadata, index, time_base: tb, origin, file_size, quirks: input.quirks }))
}

/// How many probed files [`probe_cached`] remembers.
const CACHE_SIZE: usize = 16;

type CacheKey = (PathBuf, u64, Option<std::time::SystemTime>);

/// [`probe`] with a per-process cache keyed by the file's path, size and modification time
/// (several readers of one file, e.g. one per output format, index it once).
pub fn probe_cached(path: &Path, saved: Option<&str>) -> Result<Arc<Probe>> {
    static CACHE: Mutex<Vec<(CacheKey, Arc<Probe>)>> = Mutex::new(Vec::new());
    if saved.is_some() {
        return probe(path, saved);
    }
    let key = std::fs::metadata(path)
        .ok()
        .map(|m| (std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()), m.len(), m.modified().ok()));
    if let Some(key) = &key {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, p)) = cache.iter().find(|(k, _)| k == key)
            && p.metadata.path == path
        {
            return Ok(p.clone());
        }
    }
    let p = probe(path, None)?;
    if let Some(key) = key {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((key, p.clone()));
    }
    Ok(p)
}

/// Packets checked against the sample-table index before it is trusted.
const MOV_CHECKED: usize = 48;

/// The index of an MP4/MOV from its sample tables, without reading any sample: libavformat's
/// index entries give each sample's dts (edit list applied) and keyframe flag, the track's
/// ctts box its composition offset (pts = dts + shift + offset, as libavformat computes it).
/// `None` (and the caller scans packets instead) for fragmented files, several edits, tables
/// that do not line up, or when the first packets read disagree with it.
fn mov_index(input: &mut Input, path: &Path, tb: TimeBase) -> Option<(FrameIndex, i64)> {
    if !input.format_name().starts_with("mov,") || std::env::var_os("FRAMEPIPE_SCAN_INDEX").is_some() {
        return None;
    }
    let st = input.video();
    // SAFETY: the stream exists; for mov its id is the track id.
    let id = unsafe { (*st).id as u32 };
    let track = mov::read_tracks(path)?.into_iter().find(|t| t.track_id == id)?;
    // SAFETY: the stream exists.
    let n = unsafe { ff::avformat_index_get_entries_count(st) }.max(0) as usize;
    if track.edits > 1 || n == 0 || n != track.sample_count as usize {
        return None;
    }
    let offsets = track.offsets(n)?;
    let shift = track.dts_shift();
    let mut entries = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: i < the entry count; the entry is copied out before the next call.
        let e = unsafe { ff::avformat_index_get_entry(st, i as i32) };
        if e.is_null() {
            return None;
        }
        // SAFETY: non-null entry owned by the stream.
        entries.push(unsafe { ((*e).timestamp, (*e).flags()) });
    }
    let mut samples = Vec::with_capacity(n);
    for (i, &(dts, flags)) in entries.iter().enumerate() {
        // The last sample lasts as long as the one before it (its stts run).
        let duration = match entries.get(i + 1) {
            Some(&(next, _)) => (next > dts).then_some(next - dts),
            None => samples.last().and_then(|s: &(i64, i64, Option<i64>, bool, bool)| s.2),
        };
        let pts = dts + shift + offsets[i];
        samples.push((pts, dts, duration, flags & ff::AVINDEX_KEYFRAME != 0, flags & ff::AVINDEX_DISCARD_FRAME != 0));
    }
    // The first packets as libavformat demuxes them must agree.
    let mut pkt = Packet::new();
    for &(pts, dts, _, key, discard) in samples.iter().take(MOV_CHECKED) {
        if !input.read(&mut pkt).ok()? {
            return None;
        }
        let flags = pkt.flags();
        if pkt.pts() != Some(pts)
            || pkt.dts() != Some(dts)
            || (flags & ff::AV_PKT_FLAG_KEY != 0) != key
            || (flags & ff::AV_PKT_FLAG_DISCARD != 0) != discard
        {
            return None;
        }
    }
    let raw: Vec<_> =
        samples.iter().filter(|s| !s.4).map(|&(pts, dts, duration, key, _)| (pts, Some(dts), duration, key)).collect();
    Some(index_from_packets(&raw, tb))
}

/// The index of a Matroska/WebM track from a scan of its block headers (payloads skipped,
/// see [`mkv`]), checked against the first packets libavformat demuxes (pts, keyframe flag,
/// duration). `None` (and the caller scans packets instead) when the scan does not cover
/// the file or disagrees.
fn mkv_index(input: &mut Input, path: &Path, tb: TimeBase) -> Option<(FrameIndex, i64)> {
    if !input.format_name().starts_with("matroska") || std::env::var_os("FRAMEPIPE_SCAN_INDEX").is_some() {
        return None;
    }
    let raw = mkv::scan_blocks(path)?;
    if raw.is_empty() {
        return None;
    }
    let mut pkt = Packet::new();
    for &(pts, _, duration, key) in raw.iter().take(MOV_CHECKED) {
        if !input.read(&mut pkt).ok()? {
            return None;
        }
        if pkt.pts() != Some(pts) || pkt.duration() != duration || (pkt.flags() & ff::AV_PKT_FLAG_KEY != 0) != key {
            return None;
        }
    }
    Some(index_from_packets(&raw, tb))
}

/// Reads every packet of the video stream (no decoding).
fn scan(input: &mut Input, tb: TimeBase) -> Result<(FrameIndex, i64)> {
    let mut pkt = Packet::new();
    let mut raw: Vec<(i64, Option<i64>, Option<i64>, bool)> = Vec::new();
    let mut prev_end: Option<i64> = None;
    while input.read(&mut pkt)? {
        if pkt.flags() & ff::AV_PKT_FLAG_DISCARD != 0 {
            // Before the start of the MP4 edit list: decoded as a reference, never shown.
            continue;
        }
        let pts = pkt.pts().or(pkt.dts()).or(prev_end).unwrap_or(0);
        let duration = pkt.duration();
        prev_end = Some(pts + duration.unwrap_or(1));
        raw.push((pts, pkt.dts(), duration, pkt.flags() & ff::AV_PKT_FLAG_KEY != 0));
    }
    Ok(index_from_packets(&raw, tb))
}

/// The index of packets given in decode order as (pts, dts, duration, keyframe) in stream
/// ticks, and the origin (ticks of ns 0).
pub(crate) fn index_from_packets(raw: &[(i64, Option<i64>, Option<i64>, bool)], tb: TimeBase) -> (FrameIndex, i64) {
    let origin = raw.iter().map(|p| p.0).min().unwrap_or(0).min(0);
    let ns = |t: i64| u64::try_from(tb.to_ns(t - origin)).ok();
    let entries = raw
        .iter()
        .map(|&(pts, dts, duration, keyframe)| FrameEntry {
            pts: ns(pts).unwrap_or(0),
            dts: dts.and_then(ns),
            duration: duration.and_then(|d| u64::try_from(tb.to_ns(d)).ok()),
            keyframe,
            decode_order: 0,
        })
        .collect();
    (FrameIndex::from_decode_order(entries), origin)
}

/// FFmpeg's name of the stream's profile (what ffprobe and PyAV report), if it has one.
fn profile_name(par: *const ff::AVCodecParameters) -> Option<String> {
    // SAFETY: `par` is the open stream's codec parameters; avcodec_profile_name returns a
    // static string or NULL.
    unsafe {
        let name = ff::avcodec_profile_name((*par).codec_id, (*par).profile);
        (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

fn metadata(path: &Path, input: &Input, index: &FrameIndex) -> Metadata {
    let par = input.codecpar();
    // SAFETY: par is the stream's parameters; the name functions return static strings
    // (or null for an unknown pixel format).
    let (codec, pixel_format, width, height) = unsafe {
        let codec = CStr::from_ptr(ff::avcodec_get_name((*par).codec_id)).to_string_lossy().into_owned();
        let pix = pix_fmt_name((*par).format);
        (codec, pix, (*par).width.max(0) as u32, (*par).height.max(0) as u32)
    };
    // SAFETY: the stream exists.
    let (avg, rate) = unsafe { ((*input.video()).avg_frame_rate, (*input.video()).r_frame_rate) };
    let duration = index.duration();
    let fps = [avg, rate]
        .into_iter()
        .find(|r| r.num > 0 && r.den > 0)
        .map(|r| f64::from(r.num) / f64::from(r.den))
        .unwrap_or_else(|| if duration > 0.0 { index.len() as f64 / duration } else { 0.0 });
    // SAFETY: ctx and the stream are open; their metadata dictionaries are owned by them.
    let (container_tags, stream_tags) =
        unsafe { (Input::tags((*input.ctx).metadata), Input::tags((*input.video()).metadata)) };
    Metadata {
        path: path.to_path_buf(),
        fps,
        duration,
        caps: format!("{codec}, {pixel_format}, {width}x{height} (libavformat {})", input.format_name()),
        codec,
        pixel_format,
        container: container_name(&input.format_name(), path, &container_tags),
        width,
        height,
        rotation: input.rotation(),
        profile: profile_name(par),
        n_frames: index.len(),
        container_tags,
        stream_tags,
    }
}

/// FFmpeg's name for a pixel format number ("yuv420p"), "" when unknown.
pub(crate) fn pix_fmt_name(format: i32) -> String {
    match pix_fmt(format) {
        Some(f) => {
            // SAFETY: f is a valid pixel format; the name is static (or null).
            let name = unsafe { ff::av_get_pix_fmt_name(f) };
            if name.is_null() {
                String::new()
            } else {
                // SAFETY: non-null, NUL-terminated static string.
                unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned()
            }
        }
        None => String::new(),
    }
}

/// A pixel format number as the enum, if it is one FFmpeg knows.
pub(crate) fn pix_fmt(format: i32) -> Option<ff::AVPixelFormat> {
    if format < 0 || format >= ff::AVPixelFormat::AV_PIX_FMT_NB as i32 {
        return None;
    }
    // SAFETY: AVPixelFormat is a C enum with every value in 0..AV_PIX_FMT_NB defined
    // (checked above), and the same size as i32.
    Some(unsafe { std::mem::transmute::<i32, ff::AVPixelFormat>(format) })
}

/// The container by the name framepipe reports (as the GStreamer path does): "mp4", "mov",
/// "matroska", "webm", "mpegts", "avi", ...
fn container_name(format: &str, path: &Path, tags: &BTreeMap<String, String>) -> String {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match format.split(',').next().unwrap_or(format) {
        "mov" => {
            let brand = tags.get("major_brand").map(|b| b.trim().to_string()).unwrap_or_default();
            if ext == "mov" || brand == "qt" { "mov".into() } else { "mp4".into() }
        }
        "matroska" => {
            if ext == "webm" {
                "webm".into()
            } else {
                "matroska".into()
            }
        }
        "h264" | "hevc" | "m4v" | "mpegvideo" | "ivf" | "obu" => "elementary".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_base_round_trips() {
        for tb in [
            TimeBase { num: 1, den: 90_000 },
            TimeBase { num: 1, den: 15_360 },
            TimeBase { num: 1, den: 1000 },
            TimeBase { num: 1001, den: 30_000 },
            TimeBase { num: 1, den: 1_000_000_000 },
        ] {
            for t in [-5i64, 0, 1, 2, 3, 512, 1001, 12_345_678, 9_000_000_000] {
                assert_eq!(tb.to_ticks(tb.to_ns(t)), t, "{tb:?} {t}");
            }
        }
        assert_eq!(TimeBase { num: 1, den: 90_000 }.to_ns(3000), 33_333_333);
    }

    #[test]
    fn packets_sort_into_presentation_order_from_a_negative_origin() {
        // I P B B with the first pts at -2 ticks (an edit list shift).
        let tb = TimeBase { num: 1, den: 30 };
        let raw = [(-2, Some(-3), Some(1), true), (1, Some(-2), Some(1), false), (-1, Some(-1), None, false)];
        let (index, origin) = index_from_packets(&raw, tb);
        assert_eq!(origin, -2);
        let pts: Vec<u64> = index.entries().iter().map(|e| e.pts).collect();
        assert_eq!(pts, [0, 33_333_333, 100_000_000]);
        assert_eq!(index.entries()[0].dts, None);
        assert_eq!(index.entries()[1].duration, None);
        assert!(index.entries()[0].keyframe && !index.entries()[2].keyframe);
    }

    #[test]
    fn container_names() {
        let none = BTreeMap::new();
        assert_eq!(container_name("mov,mp4,m4a,3gp,3g2,mj2", Path::new("a.mp4"), &none), "mp4");
        assert_eq!(container_name("mov,mp4,m4a,3gp,3g2,mj2", Path::new("a.MOV"), &none), "mov");
        assert_eq!(container_name("matroska,webm", Path::new("a.webm"), &none), "webm");
        assert_eq!(container_name("matroska,webm", Path::new("a.mkv"), &none), "matroska");
        assert_eq!(container_name("mpegts", Path::new("a.ts"), &none), "mpegts");
    }
}
