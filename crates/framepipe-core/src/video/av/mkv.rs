//! A Matroska/WebM block scan: the index of one track from the headers of its blocks
//! (track, timecode, keyframe flag, duration), skipping every payload, so indexing an MKV
//! reads a few bytes per frame instead of demuxing every packet (see `super::mkv_index`,
//! which checks the result against libavformat's first packets before trusting it).
//!
//! Files this does not cover (unknown-size segments or clusters, laced video blocks, a
//! track timecode scale) give `None` and are indexed by libavformat's packet scan.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const TIMECODE_SCALE: u32 = 0x2A_D7B1;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
const DEFAULT_DURATION: u32 = 0x23_E383;
const TRACK_TIMECODE_SCALE: u32 = 0x23_314F;
const CLUSTER: u32 = 0x1F43_B675;
const TIMECODE: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const BLOCK_DURATION: u32 = 0x9B;
const REFERENCE_BLOCK: u32 = 0xFB;

/// One block of the track in file (decode) order: pts in the segment's timecode units,
/// duration in the same units when the block or the track says, keyframe.
pub(crate) type RawPacket = (i64, Option<i64>, Option<i64>, bool);

struct Reader {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
}

impl Reader {
    fn byte(&mut self) -> Option<u8> {
        let mut b = [0u8; 1];
        self.inner.read_exact(&mut b).ok()?;
        self.pos += 1;
        Some(b[0])
    }

    fn bytes(&mut self, n: usize) -> Option<u64> {
        if n > 8 {
            return None;
        }
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 8) | u64::from(self.byte()?);
        }
        Some(v)
    }

    /// An element ID (marker bits kept, as the IDs are written).
    fn id(&mut self) -> Option<u32> {
        let first = self.byte()?;
        let n = first.leading_zeros() as usize + 1;
        if n > 4 {
            return None;
        }
        let mut v = u32::from(first);
        for _ in 1..n {
            v = (v << 8) | u32::from(self.byte()?);
        }
        Some(v)
    }

    /// A variable-length integer (marker bit removed); `Ok(None)` for the unknown size.
    fn vint(&mut self) -> Option<Option<u64>> {
        let first = self.byte()?;
        let n = first.leading_zeros() as usize + 1;
        if n > 8 {
            return None;
        }
        let mask = if n == 8 { 0 } else { 0xFFu8 >> n };
        let mut v = u64::from(first & mask);
        let mut all_ones = first & mask == mask;
        for _ in 1..n {
            let b = self.byte()?;
            all_ones &= b == 0xFF;
            v = (v << 8) | u64::from(b);
        }
        Some((!all_ones).then_some(v))
    }

    /// An element header: (id, payload size, payload end), `None` at the end or on an
    /// unknown size.
    fn header(&mut self) -> Option<(u32, u64, u64)> {
        let id = self.id()?;
        let size = self.vint()??;
        let end = self.pos.checked_add(size)?;
        (end <= self.len).then_some((id, size, end))
    }

    fn skip_to(&mut self, end: u64) -> Option<()> {
        let d = end.checked_sub(self.pos)?;
        let buffered = self.inner.buffer().len() as u64;
        if d <= buffered {
            self.inner.consume(d as usize);
        } else {
            self.inner.seek_relative(i64::try_from(d).ok()?).ok()?;
        }
        self.pos = end;
        Some(())
    }

    fn uint(&mut self, size: u64) -> Option<u64> {
        self.bytes(usize::try_from(size).ok()?)
    }
}

/// The blocks of the file's video track in file order; `None` unless it has exactly one
/// (libavformat does not tell which track number its stream came from).
pub(crate) fn scan_blocks(path: &Path) -> Option<Vec<RawPacket>> {
    let file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut r = Reader { inner: BufReader::with_capacity(1 << 16, file), pos: 0, len };
    let (id, _, end) = r.header()?;
    if id != EBML {
        return None;
    }
    r.skip_to(end)?;
    let (id, _, segment_end) = r.header()?;
    if id != SEGMENT {
        return None;
    }
    let mut scale = 1_000_000u64;
    let mut default_duration: Option<u64> = None;
    let mut track: Option<u64> = None;
    let mut out = Vec::new();
    while r.pos < segment_end {
        let (id, _, end) = r.header()?;
        match id {
            INFO => {
                while r.pos < end {
                    let (cid, csize, cend) = r.header()?;
                    if cid == TIMECODE_SCALE {
                        scale = r.uint(csize)?.max(1);
                    }
                    r.skip_to(cend)?;
                }
            }
            TRACKS => {
                while r.pos < end {
                    let (cid, _, cend) = r.header()?;
                    if cid == TRACK_ENTRY {
                        let (mut number, mut duration, mut custom_scale, mut video) = (None, None, false, false);
                        while r.pos < cend {
                            let (gid, gsize, gend) = r.header()?;
                            match gid {
                                TRACK_NUMBER => number = Some(r.uint(gsize)?),
                                TRACK_TYPE => video = r.uint(gsize)? == 1,
                                DEFAULT_DURATION => duration = Some(r.uint(gsize)?),
                                TRACK_TIMECODE_SCALE => custom_scale = true,
                                _ => {}
                            }
                            r.skip_to(gend)?;
                        }
                        if video {
                            if custom_scale || track.is_some() {
                                return None;
                            }
                            track = Some(number?);
                            default_duration = duration;
                        }
                    }
                    r.skip_to(cend)?;
                }
            }
            CLUSTER => cluster(&mut r, end, track?, &mut out)?,
            _ => {}
        }
        r.skip_to(end)?;
    }
    // libavformat gives a block without BlockDuration the track's default duration.
    let fallback = default_duration.map(|d| (d / scale) as i64).filter(|&d| d > 0);
    for p in &mut out {
        if p.2.is_none() {
            p.2 = fallback;
        }
    }
    Some(out)
}

fn cluster(r: &mut Reader, end: u64, track: u64, out: &mut Vec<RawPacket>) -> Option<()> {
    let mut base = 0i64;
    while r.pos < end {
        let (id, size, cend) = r.header()?;
        match id {
            TIMECODE => base = i64::try_from(r.uint(size)?).ok()?,
            SIMPLE_BLOCK => {
                if let Some((rel, flags)) = block_header(r, track)? {
                    out.push((base + rel, None, None, flags & 0x80 != 0));
                }
            }
            BLOCK_GROUP => {
                let (mut block, mut duration, mut referenced) = (None, None, false);
                while r.pos < cend {
                    let (gid, gsize, gend) = r.header()?;
                    match gid {
                        BLOCK => block = block_header(r, track)?,
                        BLOCK_DURATION => duration = Some(i64::try_from(r.uint(gsize)?).ok()?),
                        REFERENCE_BLOCK => referenced = true,
                        _ => {}
                    }
                    r.skip_to(gend)?;
                }
                if let Some((rel, _)) = block {
                    out.push((base + rel, None, duration.filter(|&d| d > 0), !referenced));
                }
            }
            _ => {}
        }
        r.skip_to(cend)?;
    }
    Some(())
}

/// A block's header if it belongs to `track`: (relative timecode, flags). `None` inside
/// the outer option for laced blocks (not indexed here).
fn block_header(r: &mut Reader, track: u64) -> Option<Option<(i64, u8)>> {
    let number = r.vint()??;
    let rel = r.bytes(2)? as u16 as i16;
    let flags = r.byte()?;
    if number != track {
        return Some(None);
    }
    if flags & 0x06 != 0 {
        return None;
    }
    Some(Some((i64::from(rel), flags)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(id: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut v = id.to_vec();
        v.push(0x80 | payload.len() as u8);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn blocks_of_one_track_with_keyframes_and_durations() {
        let header = element(&[0x1A, 0x45, 0xDF, 0xA3], &[]);
        let tracks = element(
            &[0x16, 0x54, 0xAE, 0x6B],
            &element(
                &[0xAE],
                &[element(&[0xD7], &[1]), element(&[0x83], &[1]), element(&[0x23, 0xE3, 0x83], &[0x01, 0xE8, 0x48])]
                    .concat(),
            ),
        );
        let simple = |track: u8, rel: i16, flags: u8| {
            let r = rel.to_be_bytes();
            element(&[0xA3], &[0x80 | track, r[0], r[1], flags, 9, 9, 9])
        };
        let group = element(
            &[0xA0],
            &[element(&[0xA1], &[0x81, 0, 7, 0, 1, 2]), element(&[0x9B], &[33]), element(&[0xFB], &[0xF0])].concat(),
        );
        let cluster = element(
            &[0x1F, 0x43, 0xB6, 0x75],
            &[element(&[0xE7], &[100]), simple(1, 0, 0x80), simple(2, 0, 0x80), simple(1, -3, 0), group].concat(),
        );
        let segment = element(&[0x18, 0x53, 0x80, 0x67], &[tracks, cluster].concat());
        let dir = std::env::temp_dir().join(format!("fp_mkv_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.mkv");
        std::fs::write(&path, [header, segment].concat()).unwrap();
        let blocks = scan_blocks(&path).unwrap();
        // Default duration 125,000 ns at the default 1 ms timecode scale: 0 ticks, so none.
        assert_eq!(blocks, vec![(100, None, None, true), (97, None, None, false), (107, None, Some(33), false)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
