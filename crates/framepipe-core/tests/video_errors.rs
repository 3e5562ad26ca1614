//! Broken inputs: missing, empty, truncated and damaged files fail fast with the right error,
//! after the frames that could be decoded.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{SRC, bframe_mp4, clip, dir, mkv, never, rgb};
use framepipe_core::Error;
use framepipe_core::video::{VideoReader, probe};

fn assert_media_fast(path: &Path) {
    let start = Instant::now();
    let r = probe(path, &mut never());
    assert!(matches!(r, Err(Error::Media(_))), "{}: {:?}", path.display(), r.map(|m| m.0.n_frames));
    assert!(start.elapsed() < Duration::from_secs(5), "{}: {:?}", path.display(), start.elapsed());
}

#[test]
fn bad_inputs() {
    let missing = dir().join("missing.mp4");
    assert!(matches!(probe(&missing, &mut never()), Err(Error::NotFound(_))));
    assert!(matches!(VideoReader::open(&missing, rgb(), &mut never()), Err(Error::NotFound(_))));

    let empty = dir().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert_media_fast(&empty);

    let text = dir().join("text.mp4");
    std::fs::write(&text, "this is not a video, just some words in a file\n".repeat(50)).unwrap();
    assert_media_fast(&text);

    let audio = clip("audio.mkv", "audiotestsrc num-buffers=20 ! vorbisenc ! matroskamux ! filesink location=OUT");
    assert_media_fast(&audio);

    let good = std::fs::read(bframe_mp4()).unwrap();
    let truncated = dir().join("truncated.mp4");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    assert_media_fast(&truncated);

    // Garbage in the middle of the data: the index may still build; decoding must then
    // either finish or fail with Media after the frames that did decode, never hang.
    let mut corrupt = std::fs::read(mkv()).unwrap();
    let mid = corrupt.len() / 2;
    for (i, b) in corrupt[mid..mid + 4000].iter_mut().enumerate() {
        *b = (i * 131 % 251) as u8;
    }
    let corrupted = dir().join("corrupted.mkv");
    std::fs::write(&corrupted, &corrupt).unwrap();
    let start = Instant::now();
    match VideoReader::open(&corrupted, rgb(), &mut never()) {
        Err(e) => assert!(matches!(e, Error::Media(_)), "{e:?}"),
        Ok(mut reader) => {
            let mut n = 0;
            loop {
                match reader.next_frame(&mut never()) {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => break,
                    Err(e) => {
                        assert!(matches!(e, Error::Media(_)), "{e:?}");
                        assert!(n > 0, "frames before the damage were not yielded");
                        break;
                    }
                }
            }
        }
    }
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// MJPEG frames 20.. replaced by garbage (markers kept): the decoder drops them, iteration
/// yields frames 0..20, then reports the damage as Media, then ends.
#[test]
fn damaged_frames_are_reported_after_the_good_ones() {
    let good = std::fs::read(clip("good.avi", &format!("{SRC} ! jpegenc ! avimux ! filesink location=OUT"))).unwrap();
    let mut data = good.clone();
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(p) = data[i..].windows(3).position(|w| w == [0xff, 0xd8, 0xff]) {
        starts.push(i + p);
        i += p + 3;
    }
    assert_eq!(starts.len(), 40);
    for &s in &starts[20..] {
        let e = s + data[s..].windows(2).position(|w| w == [0xff, 0xd9]).unwrap();
        for (j, b) in data[s + 2..e].iter_mut().enumerate() {
            *b = (j * 7 % 256) as u8;
        }
    }
    let path = dir().join("damaged.avi");
    std::fs::write(&path, &data).unwrap();
    let start = Instant::now();
    let mut reader = VideoReader::open(&path, rgb(), &mut never()).unwrap();
    let mut n = 0;
    let err = loop {
        match reader.next_frame(&mut never()) {
            Ok(Some(f)) => {
                assert_eq!(f.index, n);
                n += 1;
            }
            Ok(None) => panic!("the damage was not reported"),
            Err(e) => break e,
        }
    };
    assert_eq!(n, 20);
    assert!(matches!(err, Error::Media(ref m) if m.contains("frame 20")), "{err:?}");
    assert!(reader.next_frame(&mut never()).unwrap().is_none());
    assert!(start.elapsed() < Duration::from_secs(5));
}
