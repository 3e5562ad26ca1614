//! The source host, driven with Rust hooks: timestamps from the negotiated rate, caps
//! fixation, EOS, live mode (clock sync and latency), errors and unlocking a slow create.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use gst::glib;
use gst::prelude::*;
use gst_base::prelude::*;
use gstframepipe::host::{
    CallbackError, CallbackResult, CapsInfo, ElementClassDesc, ElementHooks, ElementKind, PropertyDesc, PropertyKind,
};

use common::End;

/// Makes `count` buffers of the negotiated size, optionally with its own timestamps
/// (`stamped`), then ends the stream; `fail-at` makes create fail at that buffer.
struct Frames {
    made: AtomicU64,
    count: AtomicU64,
    stamped: AtomicBool,
    fail_at: AtomicU64,
}

impl ElementHooks for Frames {
    fn create(&self, caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        let n = self.made.fetch_add(1, Ordering::SeqCst);
        if n >= self.count.load(Ordering::SeqCst) {
            return Ok(None);
        }
        if n + 1 == self.fail_at.load(Ordering::SeqCst) {
            return Err(CallbackError::with_debug("ValueError: bad frame", "Traceback: create"));
        }
        let size = match &caps.media {
            framepipe_core::MediaInfo::Video(info) => info.size(),
            framepipe_core::MediaInfo::Audio(info) => 100 * info.bpf() as usize,
            framepipe_core::MediaInfo::Other => 8,
        };
        let mut buffer = gst::Buffer::from_mut_slice(vec![n as u8; size]);
        if self.stamped.load(Ordering::SeqCst) {
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_seconds(10 + n));
            b.set_duration(gst::ClockTime::from_mseconds(7));
        }
        Ok(Some(buffer))
    }

    fn property_changed(&self, name: &str, value: &glib::Value) -> CallbackResult<()> {
        match name {
            "count" => self.count.store(value.get::<i64>().unwrap() as u64, Ordering::SeqCst),
            "stamped" => self.stamped.store(value.get().unwrap(), Ordering::SeqCst),
            "fail-at" => self.fail_at.store(value.get::<i64>().unwrap() as u64, Ordering::SeqCst),
            _ => {}
        }
        Ok(())
    }
}

fn frames_desc(name: &str, caps: &str) -> ElementClassDesc {
    let mut desc = ElementClassDesc::new(name, ElementKind::Source);
    desc.src_caps = Some(caps.into());
    desc.properties = vec![
        PropertyDesc::new("count", PropertyKind::Int { default: 3, minimum: 0, maximum: 1000 }),
        PropertyDesc::new("stamped", PropertyKind::Bool { default: false }),
        PropertyDesc::new("fail_at", PropertyKind::Int { default: 0, minimum: 0, maximum: 1000 }),
        PropertyDesc::new("is_live", PropertyKind::Bool { default: false }),
    ];
    desc
}

fn register_sources() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let make = |_: &gst::Element| Frames {
            made: AtomicU64::new(0),
            count: AtomicU64::new(3),
            stamped: AtomicBool::new(false),
            fail_at: AtomicU64::new(0),
        };
        common::register(
            frames_desc(
                "fptestvideosrc",
                "video/x-raw,format=GRAY8,width=[1,640],height=[1,480],framerate=[1/1,100/1]",
            ),
            make,
        );
        common::register(
            frames_desc("fptestaudiosrc", "audio/x-raw,format=S16LE,layout=interleaved,rate=[1,96000],channels=[1,2]"),
            make,
        );
    });
}

/// Registers the test sources and runs `launch` into its appsink `out`, as [`common::collect`].
fn collect_from(launch: &str) -> (Vec<gst::Buffer>, Option<gst::Caps>, End) {
    register_sources();
    let pipeline = gst::parse::launch(launch).unwrap();
    common::collect(&pipeline, "out")
}

#[test]
fn video_timestamps_come_from_the_framerate() {
    let (buffers, caps, end) =
        collect_from("fptestvideosrc count=4 ! video/x-raw,width=4,height=2,framerate=25/1 ! appsink name=out");
    assert!(matches!(end, End::Eos), "{end:?}");
    assert_eq!(buffers.len(), 4);
    for (i, b) in buffers.iter().enumerate() {
        let i = i as u64;
        assert_eq!(b.pts(), Some(gst::ClockTime::from_mseconds(40 * i)));
        assert_eq!(b.duration(), Some(gst::ClockTime::from_mseconds(40)));
        assert_eq!((b.offset(), b.offset_end()), (i, i + 1));
        assert_eq!(b.size(), 8);
    }
    assert_eq!(
        caps.unwrap().structure(0).unwrap().get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(25, 1)
    );
}

#[test]
fn odd_framerates_do_not_drift() {
    let (buffers, _, _) =
        collect_from("fptestvideosrc count=4 ! video/x-raw,width=2,height=2,framerate=30000/1001 ! appsink name=out");
    let pts: Vec<u64> = buffers.iter().map(|b| b.pts().unwrap().nseconds()).collect();
    assert_eq!(pts, [0, 33_366_666, 66_733_333, 100_100_000]);
    let total: u64 = buffers.iter().map(|b| b.duration().unwrap().nseconds()).sum();
    assert_eq!(total, 133_466_666);
}

#[test]
fn timestamps_the_hook_sets_are_kept() {
    let (buffers, _, _) = collect_from(
        "fptestvideosrc count=2 stamped=true ! video/x-raw,width=2,height=2,framerate=10/1 ! appsink name=out sync=false",
    );
    let pts: Vec<_> = buffers.iter().map(|b| (b.pts().unwrap().seconds(), b.duration().unwrap().mseconds())).collect();
    assert_eq!(pts, [(10, 7), (11, 7)]);
}

#[test]
fn caps_ranges_are_fixated_like_videotestsrc() {
    let (buffers, caps, _) = collect_from("fptestvideosrc count=1 ! appsink name=out");
    let caps = caps.unwrap();
    let s = caps.structure(0).unwrap();
    assert_eq!((s.get::<i32>("width").unwrap(), s.get::<i32>("height").unwrap()), (320, 240));
    assert_eq!(s.get::<gst::Fraction>("framerate").unwrap(), gst::Fraction::new(30, 1));
    assert_eq!(buffers[0].size(), 320 * 240);
}

#[test]
fn audio_timestamps_come_from_the_sample_rate() {
    let (buffers, _, end) =
        collect_from("fptestaudiosrc count=3 ! audio/x-raw,rate=1000,channels=2 ! appsink name=out");
    assert!(matches!(end, End::Eos), "{end:?}");
    // 100 frames of 2 x S16 per buffer at 1000 Hz: 100 ms each.
    let got: Vec<_> =
        buffers.iter().map(|b| (b.pts().unwrap().mseconds(), b.duration().unwrap().mseconds(), b.offset())).collect();
    assert_eq!(got, [(0, 100, 0), (100, 100, 100), (200, 100, 200)]);
}

#[test]
fn returning_none_ends_the_stream() {
    let (buffers, _, end) = collect_from("fptestvideosrc count=0 ! appsink name=out");
    assert!(matches!(end, End::Eos), "{end:?}");
    assert!(buffers.is_empty());
}

#[test]
fn a_create_error_names_the_element() {
    register_sources();
    let pipeline = gst::parse::launch("fptestvideosrc name=src count=5 fail-at=2 ! fakesink").unwrap();
    match common::run(&pipeline, Duration::from_secs(10)) {
        End::Error { source, message, debug } => {
            assert_eq!(source, "src");
            assert_eq!(message, "ValueError: bad frame");
            assert_eq!(debug.as_deref(), Some("Traceback: create"));
        }
        End::Eos => panic!("expected an error"),
    }
}

#[test]
fn a_live_source_syncs_to_the_clock_and_answers_latency() {
    register_sources();
    let pipeline = gst::parse::launch(
        "fptestvideosrc name=src is-live=true count=6 ! video/x-raw,width=2,height=2,framerate=20/1 \
         ! appsink name=out sync=true",
    )
    .unwrap();
    let src = pipeline.downcast_ref::<gst::Bin>().unwrap().by_name("src").unwrap();
    assert!(src.downcast_ref::<gst_base::BaseSrc>().unwrap().is_live());
    let started = Instant::now();
    let (buffers, _, end) = common::collect(&pipeline, "out");
    let took = started.elapsed();
    assert!(matches!(end, End::Eos), "{end:?}");
    assert_eq!(buffers.len(), 6);
    // Six frames at 20 fps take at least ~250 ms when paced by the clock.
    assert!(took >= Duration::from_millis(240), "took only {took:?}");

    pipeline.set_state(gst::State::Playing).unwrap();
    let (ok, ..) = pipeline.state(gst::ClockTime::from_seconds(5));
    ok.unwrap();
    let mut q = gst::query::Latency::new();
    assert!(src.static_pad("src").unwrap().query(&mut q));
    let (live, min, _max) = q.result();
    assert!(live);
    assert_eq!(min, gst::ClockTime::from_mseconds(50));
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn a_source_is_not_live_unless_told() {
    register_sources();
    let type_ = gst::ElementFactory::find("fptestvideosrc").unwrap().element_type();
    let desc = gstframepipe::host::class_desc(type_).unwrap();
    let names: Vec<_> = desc.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["count", "stamped", "fail-at", "is-live"]);
    let element = gst::ElementFactory::make("fptestvideosrc").property("is-live", true).build().unwrap();
    assert!(element.downcast_ref::<gst_base::BaseSrc>().unwrap().is_live());
    element.set_property("is-live", false);
    assert!(!element.downcast_ref::<gst_base::BaseSrc>().unwrap().is_live());
}

/// Blocks in create until unlocked: stopping the pipeline must not wait for it.
struct Slow {
    unlocked: Arc<(Mutex<bool>, Condvar)>,
}

impl ElementHooks for Slow {
    fn create(&self, _caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        let (lock, cvar) = &*self.unlocked;
        let guard = lock.lock().unwrap();
        let (guard, _) = cvar.wait_timeout_while(guard, Duration::from_secs(30), |u| !*u).unwrap();
        if *guard { Ok(None) } else { Err("never unlocked".into()) }
    }

    fn unlock(&self) {
        let (lock, cvar) = &*self.unlocked;
        *lock.lock().unwrap() = true;
        cvar.notify_all();
    }

    fn unlock_stop(&self) {
        *self.unlocked.0.lock().unwrap() = false;
    }
}

#[test]
fn stopping_a_source_blocked_in_create_returns() {
    let mut desc = ElementClassDesc::new("fptestslowsrc", ElementKind::Source);
    desc.src_caps = Some("video/x-raw,format=GRAY8,width=2,height=2,framerate=1/1".into());
    common::register(desc, |_| Slow { unlocked: Default::default() });
    let pipeline = gst::parse::launch("fptestslowsrc ! fakesink").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "stopping took {:?}", started.elapsed());
}
