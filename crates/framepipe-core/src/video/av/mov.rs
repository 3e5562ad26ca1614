//! The MP4/MOV boxes the fast index needs and libavformat does not expose: a track's
//! composition offsets (`ctts`), its sample count (`stsz`) and its edit count (`elst`).
//! With them, each sample's pts is libavformat's own index entry timestamp (the dts) plus
//! its composition offset, so the index of an MP4 comes from its sample tables without
//! reading a single sample (see `super::mov_index`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What the fast index needs of one `trak`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MovTrack {
    pub track_id: u32,
    /// Composition offsets as (sample count, offset) runs; empty without a ctts box.
    pub ctts: Vec<(u32, i32)>,
    pub sample_count: u32,
    /// Entries of the edit list (0 without one).
    pub edits: u32,
}

impl MovTrack {
    /// The offset of every sample (decode order), if the runs cover exactly `n` samples.
    pub fn offsets(&self, n: usize) -> Option<Vec<i64>> {
        if self.ctts.is_empty() {
            return Some(vec![0; n]);
        }
        let mut out = Vec::with_capacity(n);
        for &(count, offset) in &self.ctts {
            // Checked before extending: a damaged run count (up to 2^32) must not fill
            // billions of entries first (a 12-frame fuzzed MP4 took 6-13 s, or ran out of memory).
            let count = count as usize;
            if count > n - out.len() {
                return None;
            }
            out.extend(std::iter::repeat_n(i64::from(offset), count));
        }
        (out.len() == n).then_some(out)
    }

    /// libavformat's dts shift: the largest negated negative offset among all runs but the
    /// last two (mov.c skips those when it computes it).
    pub fn dts_shift(&self) -> i64 {
        let counted = self.ctts.len().saturating_sub(2);
        self.ctts[..counted].iter().map(|&(_, o)| -i64::from(o)).filter(|&s| s > 0).max().unwrap_or(0)
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// The boxes directly inside `data`: (type, payload).
fn boxes(data: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let Some(size32) = be32(data, at) else { break };
        let kind = [data[at + 4], data[at + 5], data[at + 6], data[at + 7]];
        let (header, size) = match size32 {
            0 => (8, data.len() - at),
            1 => match data.get(at + 8..at + 16) {
                Some(s) => (16, u64::from_be_bytes(s.try_into().unwrap_or([0; 8])) as usize),
                None => break,
            },
            n => (8, n as usize),
        };
        if size < header || at + size > data.len() {
            break;
        }
        out.push((kind, &data[at + header..at + size]));
        at += size;
    }
    out
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).into_iter().find(|(k, _)| k == kind).map(|(_, p)| p)
}

/// The tracks of a `moov` payload.
pub(crate) fn parse_moov(moov: &[u8]) -> Vec<MovTrack> {
    let mut tracks = Vec::new();
    for (kind, trak) in boxes(moov) {
        if &kind != b"trak" {
            continue;
        }
        let mut t = MovTrack::default();
        if let Some(tkhd) = child(trak, b"tkhd") {
            let id_at = if tkhd.first() == Some(&1) { 20 } else { 12 };
            t.track_id = be32(tkhd, id_at).unwrap_or(0);
        }
        if let Some(elst) = child(trak, b"edts").and_then(|e| child(e, b"elst")) {
            t.edits = be32(elst, 4).unwrap_or(0);
        }
        let stbl = child(trak, b"mdia").and_then(|m| child(m, b"minf")).and_then(|m| child(m, b"stbl"));
        if let Some(stbl) = stbl {
            if let Some(stsz) = child(stbl, b"stsz") {
                t.sample_count = be32(stsz, 8).unwrap_or(0);
            }
            if let Some(ctts) = child(stbl, b"ctts") {
                let n = be32(ctts, 4).unwrap_or(0) as usize;
                for i in 0..n {
                    let (Some(count), Some(offset)) = (be32(ctts, 8 + 8 * i), be32(ctts, 12 + 8 * i)) else {
                        break;
                    };
                    // Version 0 offsets are unsigned in the spec, but muxers write negative ones
                    // in either version, and libavformat reads them as signed.
                    t.ctts.push((count, offset as i32));
                }
            }
        }
        tracks.push(t);
    }
    tracks
}

/// The tracks of the file's `moov` box (found by walking the top-level boxes), or None if it
/// has none or is fragmented (`moof`: samples the moov does not list).
pub(crate) fn read_tracks(path: &Path) -> Option<Vec<MovTrack>> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut at = 0u64;
    let mut moov = None;
    while at + 8 <= len {
        f.seek(SeekFrom::Start(at)).ok()?;
        let mut head = [0u8; 16];
        f.read_exact(&mut head[..8]).ok()?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let (header, size) = match size32 {
            0 => (8, len - at),
            1 => {
                f.read_exact(&mut head[8..16]).ok()?;
                (16, u64::from_be_bytes(head[8..16].try_into().ok()?))
            }
            n => (8, u64::from(n)),
        };
        if size < header || at + size > len {
            break;
        }
        match &kind {
            b"moof" => return None,
            b"moov" if size < (256 << 20) => {
                let mut data = vec![0u8; (size - header) as usize];
                f.read_exact(&mut data).ok()?;
                moov = Some(data);
            }
            _ => {}
        }
        at += size;
    }
    moov.map(|m| parse_moov(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_run_count_is_refused_before_anything_is_filled() {
        // Found by `make fuzz` (a bit flip in a 12-frame MP4's ctts): the run count said
        // about 4 billion samples, and the offsets were filled before being checked.
        let track = MovTrack { ctts: vec![(2, 1), (u32::MAX, 0)], sample_count: 12, ..Default::default() };
        // Before the fix this tried to allocate 32 GiB (the test process aborted).
        assert_eq!(track.offsets(12), None);
        let ok = MovTrack { ctts: vec![(2, 1), (10, 0)], sample_count: 12, ..Default::default() };
        assert_eq!(ok.offsets(12).map(|o| o.len()), Some(12));
        assert_eq!(ok.offsets(11), None);
    }

    fn bx(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(payload);
        v
    }

    fn full(version: u8, body: &[u32]) -> Vec<u8> {
        let mut v = vec![version, 0, 0, 0];
        for x in body {
            v.extend(x.to_be_bytes());
        }
        v
    }

    #[test]
    fn reads_a_trak() {
        let mut tkhd = full(0, &[0, 0]);
        tkhd.extend(7u32.to_be_bytes());
        tkhd.extend([0u8; 60]);
        let ctts = full(0, &[3, 1, 1024, 2, 0, 1, (-512i32) as u32]);
        let stsz = full(0, &[0, 4]);
        let stbl = [bx(b"stsz", &stsz), bx(b"ctts", &ctts)].concat();
        let trak = [
            bx(b"tkhd", &tkhd),
            bx(b"edts", &bx(b"elst", &full(0, &[1, 0, 0, 0]))),
            bx(b"mdia", &bx(b"minf", &bx(b"stbl", &stbl))),
        ]
        .concat();
        let moov = [bx(b"mvhd", &[0u8; 20]), bx(b"trak", &trak)].concat();
        let tracks = parse_moov(&moov);
        assert_eq!(tracks.len(), 1);
        let t = &tracks[0];
        assert_eq!((t.track_id, t.sample_count, t.edits), (7, 4, 1));
        assert_eq!(t.ctts, vec![(1, 1024), (2, 0), (1, -512)]);
        assert_eq!(t.offsets(4), Some(vec![1024, 0, 0, -512]));
        assert_eq!(t.offsets(5), None);
        // The last two runs do not count towards the shift (as in libavformat).
        assert_eq!(t.dts_shift(), 0);
    }

    #[test]
    fn damaged_boxes_give_what_is_readable_not_a_panic() {
        assert!(parse_moov(&[]).is_empty());
        assert!(parse_moov(&[0, 0, 0, 200, b't', b'r', b'a', b'k', 1, 2]).is_empty());
        for len in 0..80 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 53 + 7) as u8).collect();
            let _ = parse_moov(&junk);
            let _ = parse_moov(&bx(b"trak", &junk));
        }
    }
}
