//! The examples run as tests, so the code they show cannot rot: `read_frames` on a clip it
//! writes, and `run_pipeline`'s `main`.

#[allow(dead_code)]
#[path = "../examples/read_frames.rs"]
mod read_frames;

#[allow(dead_code)]
#[path = "../examples/run_pipeline.rs"]
mod run_pipeline;

#[test]
fn read_frames_reads_every_frame_of_a_file() {
    framepipe_core::init().unwrap();
    let out = std::env::temp_dir().join(format!("framepipe-example-read-frames-{}.mp4", std::process::id()));
    read_frames::write_clip(&out, 24).unwrap();
    let summary = read_frames::read_frames(&out);
    let _ = std::fs::remove_file(&out);
    let summary = summary.unwrap();
    assert_eq!(summary.frames, 24);
    assert_eq!(summary.shape, [240, 320, 3]);
    // The ball on black: mostly dark, not empty.
    assert!(summary.first_mean > 1.0 && summary.first_mean < 128.0, "{summary:?}");
}

#[test]
fn read_frames_reports_a_missing_file() {
    framepipe_core::init().unwrap();
    let err = read_frames::read_frames(std::path::Path::new("/nonexistent/clip.mp4")).unwrap_err();
    assert!(matches!(err, framepipe_core::Error::NotFound(_)), "{err:?}");
}

#[test]
fn run_pipeline_pulls_its_frames() {
    run_pipeline::main().unwrap();
}
