//! The decode loop: demux (libavformat) -> decode (libavcodec) -> [a frame-filter stage
//! can go here] -> convert (swscale) into memory the caller then owns, all on the calling
//! thread (libavcodec's own frame threads decode ahead while a frame is converted).
//!
//! Random access seeks to the keyframe decoding must start from ([`FrameIndex::keyframe_before`])
//! and decodes forward; frames presented before the target that nothing references are not
//! decoded at all (`skip_frame = AVDISCARD_NONREF` while the packet's pts is before the
//! target), and only the requested frames are converted. A batch decodes each GOP it needs
//! at most once, and several GOPs concurrently on independent decoders (one per core).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ffmpeg_next::ffi as ff;

use super::convert::{ColorOptions, Converter, frame_layout};
use super::quirks::Quirks;
use super::{Input, Packet, Probe, av_error, eagain, probe_cached};
use crate::layout::{Dtype, View};
use crate::pipeline::Interrupt;
use crate::video::{FrameIndex, OutputFormat};
use crate::{Error, Result};

/// Forward decoding is preferred to a seek when the target is at most this many frames
/// ahead (a seek flushes the decoder and restarts from a keyframe).
const FORWARD_WINDOW: usize = 12;

/// How often the decode loop calls the caller's interrupt check.
const POLL: Duration = Duration::from_millis(50);

/// Decode errors tolerated in a row before a stream is declared undecodable.
const MAX_ERRORS: usize = 500;

pub(super) fn debug() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FRAMEPIPE_AV_DEBUG").is_some())
}

/// Converted frames: one frame (H, W, C) or a batch (N, H, W, C), contiguous, in a buffer
/// the caller owns (wrapped without a copy).
#[derive(Debug, Clone)]
pub struct Pixels {
    pub buffer: gst::Buffer,
    pub view: View,
}

impl Pixels {
    fn new(data: Vec<u8>, view: View) -> Pixels {
        Pixels { buffer: gst::Buffer::from_mut_slice(data), view }
    }
}

/// Frame memory handed back when the array over it is freed, so iterating does not map
/// and fault in fresh pages for every frame (a quarter of the CPU time at 1080p).
#[derive(Default, Clone)]
struct FramePool(Arc<Mutex<Vec<Vec<u8>>>>);

/// Frames kept for reuse.
const POOL_SIZE: usize = 6;

/// A pooled frame's memory: goes back to its pool when the buffer over it is freed.
struct Pooled {
    data: Vec<u8>,
    pool: Weak<Mutex<Vec<Vec<u8>>>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl AsMut<[u8]> for Pooled {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            let mut free = pool.lock().unwrap_or_else(|e| e.into_inner());
            if free.len() < POOL_SIZE {
                free.push(std::mem::take(&mut self.data));
            }
        }
    }
}

impl FramePool {
    fn take(&self, size: usize) -> Pooled {
        let reused = {
            let mut free = self.0.lock().unwrap_or_else(|e| e.into_inner());
            free.retain(|v| v.len() == size);
            free.pop()
        };
        Pooled { data: reused.unwrap_or_else(|| vec![0u8; size]), pool: Arc::downgrade(&self.0) }
    }
}

/// An AVFrame.
struct Frame(*mut ff::AVFrame);

// SAFETY: a frame is data with reference-counted buffers, used by one thread at a time.
unsafe impl Send for Frame {}

impl Frame {
    fn new() -> Frame {
        // SAFETY: allocation, checked.
        let f = unsafe { ff::av_frame_alloc() };
        assert!(!f.is_null(), "av_frame_alloc failed (out of memory)");
        Frame(f)
    }

    /// A new reference to `src`'s buffers (no pixels copied), `None` if out of memory.
    fn reference(src: *const ff::AVFrame) -> Option<Frame> {
        // SAFETY: src is a decoded frame the caller holds; av_frame_clone returns a new frame
        // referencing the same buffers, or null.
        let f = unsafe { ff::av_frame_clone(src) };
        (!f.is_null()).then_some(Frame(f))
    }

    /// Bytes of the buffers this frame references.
    fn bytes(&self) -> usize {
        // SAFETY: self.0 is a valid frame; its non-null buf entries are live buffer refs.
        unsafe { (*self.0).buf.iter().filter(|b| !b.is_null()).map(|&b| (*b).size).sum() }
    }
}

/// Decoded frames kept for reuse by random reads: at most this many bytes of decoder buffers.
/// At 1080p 4:2:0 about 28 frames, at 320x180 every frame of a few thousand.
const RECENT_BYTES: usize = 96 << 20;

/// The frames decoding passed on its way to random reads, as references to the decoder's
/// buffers (no conversion, no copy). A later `read` of one of them costs only its
/// conversion: random reads falling in one GOP, in any order, decode it once rather than
/// once per read. Oldest frames go first; sequential iteration and batches do not fill it.
#[derive(Default)]
struct Recent {
    frames: VecDeque<(usize, Frame, usize)>,
    bytes: usize,
}

impl Recent {
    fn get(&self, k: usize) -> Option<&Frame> {
        self.frames.iter().rev().find(|(i, _, _)| *i == k).map(|(_, f, _)| f)
    }

    fn keep(&mut self, k: usize, frame: *const ff::AVFrame) {
        if self.get(k).is_some() {
            return;
        }
        let Some(f) = Frame::reference(frame) else { return };
        let n = f.bytes();
        self.frames.push_back((k, f, n));
        self.bytes += n;
        while self.bytes > RECENT_BYTES {
            let Some((_, _, n)) = self.frames.pop_front() else { break };
            self.bytes -= n;
        }
    }

    fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        // SAFETY: allocated by av_frame_alloc, freed once.
        unsafe { ff::av_frame_free(&mut self.0) };
    }
}

/// An open decoder (AVCodecContext).
struct Decoder(*mut ff::AVCodecContext);

// SAFETY: used by one thread at a time through &mut self.
unsafe impl Send for Decoder {}

impl Decoder {
    fn open(par: *const ff::AVCodecParameters, tb: ff::AVRational, threads: u32, quirks: Quirks) -> Result<Decoder> {
        // SAFETY: par is a live AVCodecParameters; every pointer is checked before use and the
        // context is freed by Drop if opening fails.
        unsafe {
            let codec = ff::avcodec_find_decoder((*par).codec_id);
            if codec.is_null() {
                let name = std::ffi::CStr::from_ptr(ff::avcodec_get_name((*par).codec_id));
                return Err(Error::Media(format!("no decoder for {} is installed", name.to_string_lossy())));
            }
            let ctx = ff::avcodec_alloc_context3(codec);
            if ctx.is_null() {
                return Err(Error::Media("cannot allocate a decoder".into()));
            }
            let dec = Decoder(ctx);
            let r = ff::avcodec_parameters_to_context(ctx, par);
            if r < 0 {
                return Err(Error::Media(format!("decoder parameters: {}", av_error(r))));
            }
            (*ctx).pkt_timebase = tb;
            (*ctx).thread_count = threads as i32;
            (*ctx).thread_type = ff::FF_THREAD_FRAME | ff::FF_THREAD_SLICE;
            quirks.apply(ctx);
            let r = ff::avcodec_open2(ctx, codec, ptr::null_mut());
            if r < 0 {
                return Err(Error::Media(format!("cannot open the decoder: {}", av_error(r))));
            }
            Ok(dec)
        }
    }

    fn skip_nonref(&mut self, on: bool) {
        let mode = if on { ff::AVDiscard::AVDISCARD_NONREF } else { ff::AVDiscard::AVDISCARD_DEFAULT };
        // SAFETY: the context is open; skip_frame is read when the next packet is submitted.
        unsafe { (*self.0).skip_frame = mode };
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: allocated by avcodec_alloc_context3, freed once (this also joins its threads).
        unsafe { ff::avcodec_free_context(&mut self.0) };
    }
}

/// A demuxer and a decoder positioned somewhere in the stream.
struct Cursor {
    input: Input,
    decoder: Decoder,
    pkt: Packet,
    frame: Frame,
    converter: Converter,
    /// The drain packet was sent.
    eof: bool,
    /// The decoder gave its last frame.
    done: bool,
    /// Index of the frame the next sequential read gives.
    next: usize,
    /// Decode errors in a row.
    errors: usize,
    /// The last frame was identified by its timestamp (not counted).
    matched: bool,
    last_check: Instant,
}

impl Cursor {
    fn open(probe: &Probe, threads: u32) -> Result<Cursor> {
        let input = Input::open(&probe.metadata.path, false)?;
        // SAFETY: the stream exists.
        let tb = unsafe { (*input.video()).time_base };
        let decoder = Decoder::open(input.codecpar(), tb, threads, probe.quirks)?;
        Ok(Cursor {
            input,
            decoder,
            pkt: Packet::new(),
            frame: Frame::new(),
            converter: Converter::new(),
            eof: false,
            done: false,
            next: 0,
            errors: 0,
            matched: false,
            last_check: Instant::now(),
        })
    }

    /// Seeks to keyframe `key` (index position) and flushes the decoder.
    fn seek(&mut self, probe: &Probe, key: usize) -> Result<()> {
        let e = probe.index.entries()[key];
        // Demuxers' seek tables disagree: libavformat's mov index entries are shifted by the
        // composition delay (seeking to the dts of a B-frame stream's keyframe lands a whole
        // GOP early), so MP4/MOV seek to the keyframe's pts; MPEG-TS seeks by dts (its pts
        // would land past the keyframe). A seek that lands past it anyway is caught by
        // `decode_to` and retried from the start.
        let ns = if self.input.is_mov() { e.pts } else { e.dts.map_or(e.pts, |d| d.min(e.pts)) };
        if debug() {
            eprintln!("seek to key {key} ns {ns} ticks {}", probe.ticks(ns));
        }
        self.input.seek(probe.ticks(ns))?;
        // SAFETY: the decoder is open.
        unsafe { ff::avcodec_flush_buffers(self.decoder.0) };
        self.eof = false;
        self.done = false;
        self.next = key;
        self.errors = 0;
        Ok(())
    }

    /// Decodes until the decoder gives a frame (left in `self.frame`) and returns its index
    /// (matched by pts, else counted), or `None` at the end of the stream. Packets presented
    /// before `skip_before` (index ns) are decoded only if something references them.
    fn decode_next(
        &mut self,
        probe: &Probe,
        skip_before: Option<u64>,
        interrupt: &mut dyn FnMut() -> bool,
    ) -> Result<Option<usize>> {
        loop {
            if self.done {
                return Ok(None);
            }
            // SAFETY: the decoder is open and the frame allocated; receive_frame unrefs the
            // frame before filling it.
            let r = unsafe { ff::avcodec_receive_frame(self.decoder.0, self.frame.0) };
            if r == 0 {
                self.errors = 0;
                // SAFETY: a frame was just received.
                let (best, pts) = unsafe { ((*self.frame.0).best_effort_timestamp, (*self.frame.0).pts) };
                let ts = [pts, best].into_iter().find(|&t| t != ff::AV_NOPTS_VALUE);
                let found = ts.and_then(|t| probe.ns(t)).and_then(|ns| probe.index.position(ns));
                self.matched = found.is_some();
                let k = found.unwrap_or(self.next);
                if debug() {
                    eprintln!("got frame {k}");
                }
                return Ok(Some(k));
            }
            if r == ff::AVERROR_EOF {
                self.done = true;
                return Ok(None);
            }
            if r != eagain() {
                self.errors += 1;
                if self.errors > MAX_ERRORS {
                    return Err(Error::Media(format!("decoding failed: {}", av_error(r))));
                }
                continue;
            }
            if self.eof {
                self.done = true;
                return Ok(None);
            }
            if self.last_check.elapsed() >= POLL {
                self.last_check = Instant::now();
                if interrupt() {
                    return Err(Error::Interrupted);
                }
            }
            if self.input.read(&mut self.pkt)? {
                let skip = match (skip_before, self.pkt.pts()) {
                    (Some(limit), Some(pts)) => probe.ns(pts).is_some_and(|ns| ns < limit),
                    _ => false,
                };
                self.decoder.skip_nonref(skip);
                if debug() {
                    eprintln!("send pts={:?} skip={skip} key={}", self.pkt.pts(), self.pkt.flags() & 1);
                }
                // SAFETY: decoder open, packet filled by av_read_frame.
                let r = unsafe { ff::avcodec_send_packet(self.decoder.0, self.pkt.as_ptr()) };
                if r < 0 && r != eagain() {
                    // A damaged packet: its frame is lost, the stream goes on.
                    self.errors += 1;
                    if self.errors > MAX_ERRORS {
                        return Err(Error::Media(format!("decoding failed: {}", av_error(r))));
                    }
                }
            } else {
                self.decoder.skip_nonref(false);
                // SAFETY: a null packet starts draining.
                unsafe { ff::avcodec_send_packet(self.decoder.0, ptr::null()) };
                self.eof = true;
            }
        }
    }

    /// Decodes forward to frame `k`: true when it is in `self.frame`, false when a later
    /// frame or the end came first. With `keep`, every frame identified by its timestamp on
    /// the way is kept there too.
    fn decode_to(
        &mut self,
        probe: &Probe,
        k: usize,
        mut keep: Option<&mut Recent>,
        interrupt: &mut dyn FnMut() -> bool,
    ) -> Result<bool> {
        let target = probe.index.entries()[k].pts;
        loop {
            let Some(got) = self.decode_next(probe, Some(target), interrupt)? else { return Ok(false) };
            if self.matched
                && got <= k
                && let Some(recent) = keep.as_deref_mut()
            {
                recent.keep(got, self.frame.0);
            }
            if got < self.next.min(k) {
                // Before where decoding was asked to start (a seek that landed early).
                continue;
            }
            self.next = got + 1;
            match got.cmp(&k) {
                std::cmp::Ordering::Equal => return Ok(true),
                std::cmp::Ordering::Greater => return Ok(false),
                std::cmp::Ordering::Less => {}
            }
        }
    }

    /// Puts the cursor where frame `k` can be decoded forward from (seeking unless it is
    /// already close).
    fn approach(&mut self, probe: &Probe, k: usize) -> Result<()> {
        let index = &probe.index;
        let key = index.keyframe_before(k).unwrap_or(0);
        let forward = !self.done
            && k >= self.next
            && (k - self.next <= FORWARD_WINDOW || (self.next >= key && index.keyframe_before(self.next) == Some(key)));
        if !forward {
            self.seek(probe, key)?;
        }
        Ok(())
    }

    fn convert(&mut self, format: OutputFormat, colors: ColorOptions, dst: &mut [u8]) -> Result<()> {
        self.converter.convert(self.frame.0, format, colors, dst)
    }

    /// The position sequential decoding is at: `next` unless the decoder has ended.
    fn at(&self) -> Option<usize> {
        (!self.done).then_some(self.next)
    }

    fn frame_size(&self) -> (usize, usize) {
        frame_size(&self.frame)
    }
}

/// Decoder threads when the caller leaves them to framepipe: one per core for frames
/// smaller than 1080p, FFmpeg's own choice (0: one more than the cores) from 1080p up. With
/// the calling thread converting, a thread more than the cores cost frames of 320x180 to
/// 1280x720 3-9% of their frames/s on 2 cores (measured in session 5, README); 1080p frames
/// gain from it or break even.
fn auto_threads(probe: &Probe) -> u32 {
    let m = &probe.metadata;
    threads_for(m.width, m.height, std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn threads_for(width: u32, height: u32, cores: usize) -> u32 {
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 || pixels >= 1920 * 1080 {
        return 0;
    }
    cores.clamp(1, 16) as u32
}

fn frame_size(frame: &Frame) -> (usize, usize) {
    // SAFETY: the frame was received (or is a reference to one).
    unsafe { ((*frame.0).width.max(0) as usize, (*frame.0).height.max(0) as usize) }
}

/// Reads a video file's frames through libavformat/libavcodec/swscale: sequentially, by
/// index, or in batches. See the module docs.
pub struct LibavReader {
    probe: Arc<Probe>,
    format: OutputFormat,
    colors: ColorOptions,
    threads: u32,
    cursor: Option<Cursor>,
    /// Decoders kept for batches that decode several GOPs at once.
    spare: Vec<Cursor>,
    /// First frame that sequential decoding skipped (the decoder dropped it as damaged).
    damaged: Option<usize>,
    reported: bool,
    /// Random reads that had to decode from the first frame (diagnostics).
    fallbacks: u64,
    pool: FramePool,
    /// Frames random reads decoded on their way (see [`Recent`]).
    recent: Recent,
    /// Where sequential reading resumes after a `read` served from `recent` (the cursor
    /// stayed where it was).
    resume: Option<usize>,
}

impl LibavReader {
    /// Opens and indexes `path` (a saved index's JSON in `saved` replaces the scan); no
    /// decoder is opened before the first read.
    pub fn open(
        path: &Path,
        saved: Option<&str>,
        format: OutputFormat,
        colors: ColorOptions,
        threads: u32,
    ) -> Result<LibavReader> {
        crate::init()?;
        let probe = probe_cached(path, saved)?;
        Ok(LibavReader {
            probe,
            format,
            colors,
            threads,
            cursor: None,
            spare: Vec::new(),
            damaged: None,
            reported: false,
            fallbacks: 0,
            pool: FramePool::default(),
            recent: Recent::default(),
            resume: None,
        })
    }

    pub fn probe(&self) -> &Arc<Probe> {
        &self.probe
    }

    pub fn index(&self) -> &FrameIndex {
        &self.probe.index
    }

    pub fn len(&self) -> usize {
        self.probe.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.probe.index.is_empty()
    }

    /// Random reads that fell back to decoding from the first frame (0 on well-formed files).
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks
    }

    /// Shape and dtype of one frame as this reader hands it out.
    pub fn frame_shape(&self) -> (Vec<usize>, Dtype) {
        let m = &self.probe.metadata;
        let (_, view) = frame_layout(self.format, m.width as usize, m.height as usize);
        (view.shape, view.dtype)
    }

    fn cursor(&mut self) -> Result<&mut Cursor> {
        if self.cursor.is_none() {
            let threads = if self.threads == 0 { auto_threads(&self.probe) } else { self.threads };
            self.cursor = Some(Cursor::open(&self.probe, threads)?);
        }
        self.cursor.as_mut().ok_or_else(|| Error::Media("no decoder".into()))
    }

    fn convert_one(&mut self) -> Result<Pixels> {
        let (format, colors, pool) = (self.format, self.colors, self.pool.clone());
        let c = self.cursor()?;
        let (w, h) = c.frame_size();
        let (size, view) = frame_layout(format, w, h);
        let mut data = pool.take(size);
        c.convert(format, colors, &mut data.data)?;
        Ok(Pixels { buffer: gst::Buffer::from_mut_slice(data), view })
    }

    /// The next frame in presentation order with its index, or `None` at the end. Frames the
    /// decoder drops as damaged are skipped; once the stream ends, a stream that lost frames
    /// reports [`Error::Media`] once, then `None`.
    pub fn next_frame(&mut self, interrupt: Interrupt<'_>) -> Result<Option<(usize, Pixels)>> {
        let probe = self.probe.clone();
        if let Some(p) = self.resume.take()
            && p < probe.index.len()
            && self.cursor.as_ref().and_then(Cursor::at) != Some(p)
        {
            return Ok(Some((p, self.read(p, interrupt)?)));
        }
        loop {
            let c = self.cursor()?;
            let expected = c.next;
            match c.decode_next(&probe, None, interrupt)? {
                Some(k) if k < expected => continue,
                Some(k) => {
                    c.next = k + 1;
                    if k > expected {
                        self.damaged.get_or_insert(expected);
                    }
                    return Ok(Some((k, self.convert_one()?)));
                }
                None => {
                    let missing = self.damaged.or((expected < probe.index.len()).then_some(expected));
                    return crate::video::end_of_frames(&probe.metadata.path, missing, &mut self.reported);
                }
            }
        }
    }

    /// Frame `k` in presentation order, exactly what sequential iteration yields as its k-th
    /// frame. Later [`Self::next_frame`] calls continue after it.
    pub fn read(&mut self, k: usize, interrupt: Interrupt<'_>) -> Result<Pixels> {
        self.check_index(k)?;
        if self.recent.get(k).is_some() && self.cursor.as_ref().and_then(Cursor::at) != Some(k) {
            let (format, colors, pool) = (self.format, self.colors, self.pool.clone());
            self.cursor()?;
            if let (Some(c), Some(frame)) = (self.cursor.as_mut(), self.recent.get(k)) {
                let (w, h) = frame_size(frame);
                let (size, view) = frame_layout(format, w, h);
                let mut data = pool.take(size);
                c.converter.convert(frame.0, format, colors, &mut data.data)?;
                if debug() {
                    eprintln!("frame {k} from the recent frames");
                }
                self.resume = Some(k + 1);
                return Ok(Pixels { buffer: gst::Buffer::from_mut_slice(data), view });
            }
        }
        self.decode_frame(k, interrupt)?;
        self.convert_one()
    }

    /// Decodes frame `k` (checked by the caller) into the cursor's frame (not converted).
    fn decode_frame(&mut self, k: usize, interrupt: Interrupt<'_>) -> Result<&mut Cursor> {
        let probe = self.probe.clone();
        self.resume = None;
        self.cursor()?;
        let c = self.cursor.as_mut().ok_or_else(|| Error::Media("no decoder".into()))?;
        c.approach(&probe, k)?;
        if !c.decode_to(&probe, k, Some(&mut self.recent), interrupt)? {
            // A demuxer that seeks coarsely (or a keyframe flag that lied): from the start.
            self.fallbacks += 1;
            let c = self.restart()?;
            if !c.decode_to(&probe, k, None, interrupt)? {
                return Err(Error::Media(format!("{}: frame {k} could not be decoded", probe.metadata.path.display())));
            }
        }
        self.cursor()
    }

    /// What the decoder says about frame `k` (decoded, not converted): picture type, key
    /// frame, interlacing. Later [`Self::next_frame`] calls continue after it.
    pub fn frame_info(&mut self, k: usize, interrupt: Interrupt<'_>) -> Result<FrameInfo> {
        self.check_index(k)?;
        if let Some(frame) = self.recent.get(k) {
            // SAFETY: the recent store keeps decoded frames.
            return Ok(unsafe { FrameInfo::of(frame.0) });
        }
        let c = self.decode_frame(k, interrupt)?;
        // SAFETY: decode_frame left a decoded frame in c.frame.
        Ok(unsafe { FrameInfo::of(c.frame.0) })
    }

    fn check_index(&self, k: usize) -> Result<()> {
        if k >= self.len() {
            return Err(Error::Value(format!("frame index {k} is out of range: the video has {} frames", self.len())));
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<&mut Cursor> {
        self.cursor = None;
        self.recent.clear();
        self.resume = None;
        self.damaged = None;
        self.reported = false;
        self.cursor()
    }

    /// Goes back to the first frame.
    pub fn rewind(&mut self) -> Result<()> {
        self.resume = None;
        self.damaged = None;
        self.reported = false;
        if self.cursor.as_ref().is_some_and(|c| c.next != 0) {
            // Opened again rather than sought: the start of a stream is where every demuxer
            // begins, whatever its seek table says.
            self.cursor = None;
        }
        Ok(())
    }

    /// Releases the decoders (a later read opens them again).
    pub fn close(&mut self) {
        self.cursor = None;
        self.recent.clear();
        self.resume = None;
        self.spare.clear();
    }

    /// Frames `indices` (any order, repeats allowed) as one (N, ...) array in that order.
    /// Every GOP involved is decoded at most once, several at a time on independent
    /// decoders, and only the requested frames are converted.
    pub fn read_batch(&mut self, indices: &[usize], interrupt: Interrupt<'_>) -> Result<Pixels> {
        for &k in indices {
            self.check_index(k)?;
        }
        let m = &self.probe.metadata;
        let (fb, one) = frame_layout(self.format, m.width as usize, m.height as usize);
        let mut data = vec![0u8; fb * indices.len()];
        let mut positions: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (p, &k) in indices.iter().enumerate() {
            positions.entry(k).or_default().push(p);
        }
        // Runs of targets sharing the keyframe decoding starts from.
        let index = &self.probe.index;
        let mut groups: Vec<Group> = Vec::new();
        for &k in positions.keys() {
            let key = index.keyframe_before(k).unwrap_or(0);
            match groups.last_mut() {
                Some(g) if g.key == key => g.targets.push(k),
                _ => groups.push(Group { key, targets: vec![k] }),
            }
        }
        {
            let mut slots: Vec<Option<&mut [u8]>> = data.chunks_exact_mut(fb.max(1)).map(Some).collect();
            let mut work: Vec<(usize, &mut [u8])> = Vec::with_capacity(positions.len());
            for (&k, ps) in &positions {
                if let Some(slot) = slots.get_mut(ps[0]).and_then(Option::take) {
                    work.push((k, slot));
                }
            }
            if fb > 0 {
                self.decode_groups(&groups, work, interrupt)?;
            }
        }
        for ps in positions.values() {
            for &p in &ps[1..] {
                data.copy_within(ps[0] * fb..(ps[0] + 1) * fb, p * fb);
            }
        }
        let mut shape = vec![indices.len()];
        shape.extend(&one.shape);
        let mut strides = vec![fb as isize];
        strides.extend(&one.strides);
        Ok(Pixels::new(data, View { offset: 0, shape, strides, dtype: one.dtype }))
    }

    /// Decodes the groups into their slots (targets in ascending order), splitting them over
    /// up to one decoder per core.
    fn decode_groups(
        &mut self,
        groups: &[Group],
        work: Vec<(usize, &mut [u8])>,
        interrupt: Interrupt<'_>,
    ) -> Result<()> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cost = |g: &Group| g.targets.last().map_or(1, |&t| t + 1 - g.key.min(t));
        let total: usize = groups.iter().map(cost).sum();
        // A worker per core, but only when there is enough decoding to share.
        let workers = if groups.len() > 1 && total >= 8 { cores.min(groups.len()) } else { 1 };
        let probe = self.probe.clone();
        let (format, colors) = (self.format, self.colors);
        if workers <= 1 {
            let c = self.cursor()?;
            return decode_into(c, &probe, work, format, colors, interrupt);
        }
        // One queue of groups, taken in file order by whichever decoder is free: a decoder
        // that is slower (fewer threads, or less CPU on a busy machine) takes fewer groups.
        let mut work = work.into_iter().peekable();
        let mut queue: Vec<Vec<(usize, &mut [u8])>> = Vec::with_capacity(groups.len());
        for g in groups {
            let last = g.targets.last().copied().unwrap_or(0);
            let mut part = Vec::new();
            while let Some((k, _)) = work.peek() {
                if *k > last {
                    break;
                }
                if let Some(w) = work.next() {
                    part.push(w);
                }
            }
            queue.push(part);
        }
        queue.reverse();
        let queue = Mutex::new(queue);
        self.cursor()?;
        while self.spare.len() + 1 < workers {
            self.spare.push(Cursor::open(&probe, 1)?);
        }
        let mut main = self.cursor.take().ok_or_else(|| Error::Media("no decoder".into()))?;
        let stop = AtomicBool::new(false);
        let run = |cursor: &mut Cursor, interrupt: &mut dyn FnMut() -> bool| -> Result<()> {
            loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some(part) = next else { return Ok(()) };
                let r = decode_into(cursor, &probe, part, format, colors, interrupt);
                if r.is_err() {
                    stop.store(true, Ordering::Relaxed);
                    return r;
                }
            }
        };
        let result = std::thread::scope(|s| {
            let mut handles = Vec::new();
            for cursor in self.spare.iter_mut().take(workers - 1) {
                let (run, stop) = (&run, &stop);
                handles.push(s.spawn(move || {
                    let mut stopped = || stop.load(Ordering::Relaxed);
                    run(cursor, &mut stopped)
                }));
            }
            let mut check = || {
                let hit = stop.load(Ordering::Relaxed) || interrupt();
                if hit {
                    stop.store(true, Ordering::Relaxed);
                }
                hit
            };
            let mut results = vec![run(&mut main, &mut check)];
            for h in handles {
                results.push(h.join().unwrap_or_else(|_| Err(Error::Media("a decoding thread panicked".into()))));
            }
            // The first real error wins over the interrupts it caused in the other threads.
            let mut interrupted = false;
            for r in results {
                match r {
                    Err(Error::Interrupted) => interrupted = true,
                    Err(e) => return Err(e),
                    Ok(()) => {}
                }
            }
            if interrupted { Err(Error::Interrupted) } else { Ok(()) }
        });
        self.cursor = Some(main);
        result
    }
}

/// What libavcodec reports about one decoded frame (imageio's per-frame metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// "I", "P", "B", "S", "SI", "SP", "BI" or "NONE" (FFmpeg's `av_get_picture_type_char`).
    pub frame_type: &'static str,
    /// The decoder's key_frame flag (an IDR or recovery point, not only an I picture).
    pub key_frame: bool,
    pub interlaced_frame: bool,
    pub top_field_first: bool,
}

impl FrameInfo {
    /// # Safety
    /// `frame` points at a decoded AVFrame.
    unsafe fn of(frame: *const ff::AVFrame) -> FrameInfo {
        // SAFETY: the caller passes a decoded frame.
        let f = unsafe { &*frame };
        use ff::AVPictureType::*;
        let frame_type = match f.pict_type {
            AV_PICTURE_TYPE_I => "I",
            AV_PICTURE_TYPE_P => "P",
            AV_PICTURE_TYPE_B => "B",
            AV_PICTURE_TYPE_S => "S",
            AV_PICTURE_TYPE_SI => "SI",
            AV_PICTURE_TYPE_SP => "SP",
            AV_PICTURE_TYPE_BI => "BI",
            _ => "NONE",
        };
        FrameInfo {
            frame_type,
            key_frame: f.key_frame != 0,
            interlaced_frame: f.interlaced_frame != 0,
            top_field_first: f.top_field_first != 0,
        }
    }
}

/// Targets (ascending) that decoding reaches from one keyframe.
struct Group {
    key: usize,
    targets: Vec<usize>,
}

/// Decodes `groups` on one cursor, converting each target into its slot. A target the
/// seek misses is decoded again from the first frame.
fn decode_into(
    c: &mut Cursor,
    probe: &Probe,
    work: Vec<(usize, &mut [u8])>,
    format: OutputFormat,
    colors: ColorOptions,
    interrupt: &mut dyn FnMut() -> bool,
) -> Result<()> {
    let m = &probe.metadata;
    let expected = (m.width as usize, m.height as usize);
    for (k, slot) in work {
        c.approach(probe, k)?;
        if !c.decode_to(probe, k, None, interrupt)? {
            *c = Cursor::open(probe, 1)?;
            if !c.decode_to(probe, k, None, interrupt)? {
                return Err(Error::Media(format!("{}: frame {k} could not be decoded", m.path.display())));
            }
        }
        if c.frame_size() != expected {
            let (w, h) = c.frame_size();
            return Err(Error::Media(format!(
                "{}: frame {k} is {w}x{h}, not {}x{} as the stream's first frames: read it alone with read()",
                m.path.display(),
                expected.0,
                expected.1
            )));
        }
        c.convert(format, colors, slot)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::threads_for;

    #[test]
    fn decoder_threads_are_the_cores_below_1080p_and_ffmpegs_choice_from_1080p() {
        assert_eq!(threads_for(320, 180, 2), 2);
        assert_eq!(threads_for(1280, 720, 8), 8);
        assert_eq!(threads_for(640, 360, 64), 16, "at most FFmpeg's own automatic limit");
        assert_eq!(threads_for(640, 360, 1), 1);
        assert_eq!(threads_for(1920, 1080, 2), 0);
        assert_eq!(threads_for(3840, 2160, 2), 0);
        assert_eq!(threads_for(0, 0, 2), 0, "unknown size: FFmpeg's choice");
    }
}
