//! File metadata: rotation and the container's and stream's tags.

mod common;

use std::path::Path;

use common::{dir, frames, never, rgb, write};
use framepipe_core::video::{ReaderOptions, VideoReader, WriterOptions, probe};

/// Sets the first track's tkhd matrix to a 90 degree rotation (GStreamer 1.22's mp4mux
/// writes no rotation, players and qtdemux read it from there).
fn rotate_mp4_90(path: &Path) {
    let mut data = std::fs::read(path).unwrap();
    let at = data.windows(4).position(|w| w == b"tkhd").unwrap() + 4;
    assert_eq!(data[at], 0, "tkhd version 0 expected");
    let matrix: [u32; 9] = [0, 0x0001_0000, 0, 0xFFFF_0000, 0, 0, 0, 0, 0x4000_0000];
    let start = at + 40;
    for (i, v) in matrix.iter().enumerate() {
        data[start + i * 4..start + i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    std::fs::write(path, data).unwrap();
}

#[test]
fn rotation_metadata() {
    let path = dir().join("rotated.mp4");
    write(&path, WriterOptions::default(), &frames(4, 64, 48), 64, 48).unwrap();
    rotate_mp4_90(&path);
    let (meta, index) = probe(&path, &mut never()).unwrap();
    // FFmpeg's convention (what ffprobe reports for this matrix): -90.
    assert_eq!(meta.rotation, -90);
    let opts = ReaderOptions { apply_rotation: true, ..ReaderOptions::default() };
    let mut r = VideoReader::with_index(meta.clone(), index.clone(), opts).unwrap();
    let f = r.read(1, &mut never()).unwrap();
    assert_eq!((f.width(), f.height()), (48, 64));
    let mut r = VideoReader::with_index(meta, index, rgb()).unwrap();
    let f = r.read(1, &mut never()).unwrap();
    assert_eq!((f.width(), f.height()), (64, 48));
}

#[test]
fn stream_and_container_tags() {
    let path = dir().join("tagged.mkv");
    let opts = WriterOptions {
        container_tags: vec![("title".into(), "a title".into()), ("comment".into(), "a comment".into())],
        stream_tags: vec![("language".into(), "fr".into())],
        ..WriterOptions::default()
    };
    write(&path, opts, &frames(3, 32, 24), 32, 24).unwrap();
    let (meta, _) = probe(&path, &mut never()).unwrap();
    assert_eq!(meta.container_tags.get("title").map(String::as_str), Some("a title"));
    assert_eq!(meta.container_tags.get("comment").map(String::as_str), Some("a comment"));
    assert_eq!(meta.stream_tags.get("language-code").map(String::as_str), Some("fr"), "{:?}", meta.stream_tags);
}
