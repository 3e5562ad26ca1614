//! The transform host, driven with Rust hooks: in-place and caps-changing out-of-place
//! transforms, caps negotiation, properties from launch strings, errors and panics.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use gst::glib;
use gst::prelude::*;
use gstframepipe::host::{
    CallbackError, CallbackResult, CapsInfo, ElementClassDesc, ElementHooks, ElementKind, EnumMember, PropertyDesc,
    PropertyKind, TransformMode, register_element,
};

use common::End;

/// Inverts every byte, blended by the `strength` property; `mode=skip` passes buffers
/// through, `mode=drop` drops them. Records the caps `set_caps` received.
struct Invert {
    strength: AtomicU64,
    mode: Mutex<i32>,
    caps_seen: Arc<Mutex<Vec<String>>>,
}

const MODE_INVERT: i32 = 0;
const MODE_SKIP: i32 = 1;
const MODE_DROP: i32 = 2;

impl ElementHooks for Invert {
    fn set_caps(&self, incaps: Option<&CapsInfo>, outcaps: Option<&CapsInfo>) -> CallbackResult<()> {
        let (i, o) = (incaps.unwrap(), outcaps.unwrap());
        self.caps_seen.lock().unwrap().push(format!("{} -> {}", i.caps, o.caps));
        Ok(())
    }

    fn transform_ip(&self, mut buffer: gst::Buffer, caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        assert!(matches!(caps.media, framepipe_core::MediaInfo::Video(_)));
        match *self.mode.lock().unwrap() {
            MODE_SKIP => return Ok(Some(buffer)),
            MODE_DROP => return Ok(None),
            _ => {}
        }
        let s = f64::from_bits(self.strength.load(Ordering::Relaxed));
        {
            let buf = buffer.get_mut().ok_or("buffer not writable")?;
            let mut map = buf.map_writable().map_err(|e| CallbackError::new(e.to_string()))?;
            for b in map.iter_mut() {
                let v = *b as f64;
                *b = (v + s * (255.0 - 2.0 * v)).round() as u8;
            }
        }
        Ok(Some(buffer))
    }

    fn property_changed(&self, name: &str, value: &glib::Value) -> CallbackResult<()> {
        match name {
            "strength" => self.strength.store(value.get::<f64>().unwrap().to_bits(), Ordering::Relaxed),
            "mode" => *self.mode.lock().unwrap() = glib::EnumValue::from_value(value).unwrap().1.value(),
            other => return Err(CallbackError::new(format!("unexpected property {other}"))),
        }
        Ok(())
    }
}

fn caps_seen() -> &'static Arc<Mutex<Vec<String>>> {
    static SEEN: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

fn invert_desc() -> ElementClassDesc {
    let mut desc = ElementClassDesc::new("fptestinvert", ElementKind::Transform(TransformMode::InPlace));
    desc.long_name = "Test inverter".into();
    desc.classification = "Filter/Effect/Video".into();
    desc.description = "Inverts colours".into();
    desc.author = "framepipe tests".into();
    desc.sink_caps = Some("video/x-raw,format={RGB,BGR,GRAY8},width=[1,64],height=[1,64]".into());
    desc.src_caps = desc.sink_caps.clone();
    desc.properties = vec![
        PropertyDesc::new("strength", PropertyKind::Float { default: 1.0, minimum: 0.0, maximum: 1.0 })
            .blurb("Blend factor"),
        PropertyDesc::new(
            "mode",
            PropertyKind::Enum {
                default: MODE_INVERT,
                members: vec![
                    EnumMember::new(MODE_INVERT, "INVERT"),
                    EnumMember::new(MODE_SKIP, "SKIP"),
                    EnumMember::new(MODE_DROP, "DROP"),
                ],
            },
        ),
        PropertyDesc::new("label", PropertyKind::String { default: Some("none".into()) }),
        PropertyDesc::new("count", PropertyKind::Int { default: 3, minimum: -5, maximum: 1 << 40 }),
        PropertyDesc::new("enabled", PropertyKind::Bool { default: true }),
    ];
    desc
}

fn register_invert() -> glib::Type {
    static TYPE: OnceLock<glib::Type> = OnceLock::new();
    *TYPE.get_or_init(|| {
        common::register(invert_desc(), |_| Invert {
            strength: AtomicU64::new(1.0f64.to_bits()),
            mode: Mutex::new(MODE_INVERT),
            caps_seen: caps_seen().clone(),
        })
    })
}

/// RGB -> GRAY8 out of place: transform_caps rewrites the format, transform makes a new,
/// smaller buffer.
struct ToGray;

fn with_format(caps: &gst::Caps, format: &str) -> gst::Caps {
    let mut caps = caps.clone();
    for s in caps.make_mut().iter_mut() {
        s.set("format", format);
    }
    caps
}

impl ElementHooks for ToGray {
    fn transform_caps(&self, direction: gst::PadDirection, caps: &gst::Caps) -> CallbackResult<Option<gst::Caps>> {
        Ok(Some(match direction {
            gst::PadDirection::Sink => with_format(caps, "GRAY8"),
            _ => with_format(caps, "RGB"),
        }))
    }

    fn transform(&self, buf: &gst::Buffer, caps: &CapsInfo, outcaps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        let framepipe_core::MediaInfo::Video(vin) = &caps.media else { return Err("not video".into()) };
        let framepipe_core::MediaInfo::Video(vout) = &outcaps.media else { return Err("not video".into()) };
        assert_eq!(vout.format(), gst_video::VideoFormat::Gray8);
        let map = buf.map_readable().map_err(|e| CallbackError::new(e.to_string()))?;
        let (w, h) = (vin.width() as usize, vin.height() as usize);
        let (sin, sout) = (vin.stride()[0] as usize, vout.stride()[0] as usize);
        let mut out = vec![0u8; vout.size()];
        for y in 0..h {
            for x in 0..w {
                let p = &map[y * sin + 3 * x..y * sin + 3 * x + 3];
                out[y * sout + x] = ((p[0] as u32 + p[1] as u32 + p[2] as u32) / 3) as u8;
            }
        }
        Ok(Some(gst::Buffer::from_mut_slice(out)))
    }
}

fn register_gray() -> glib::Type {
    static TYPE: OnceLock<glib::Type> = OnceLock::new();
    *TYPE.get_or_init(|| {
        let mut desc = ElementClassDesc::new("fptestgray", ElementKind::Transform(TransformMode::OutOfPlace));
        desc.sink_caps = Some("video/x-raw,format=RGB".into());
        desc.src_caps = Some("video/x-raw,format=GRAY8".into());
        common::register(desc, |_| ToGray)
    })
}

/// Fails or panics in transform_ip, as told by its `fail` property.
struct Failing {
    panic: std::sync::atomic::AtomicBool,
}

impl ElementHooks for Failing {
    fn transform_ip(&self, _buffer: gst::Buffer, _caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        if self.panic.load(Ordering::Relaxed) {
            panic!("boom from Rust");
        }
        Err(CallbackError::with_debug("ZeroDivisionError: division by zero", "Traceback (most recent call last): ..."))
    }

    fn property_changed(&self, _name: &str, value: &glib::Value) -> CallbackResult<()> {
        self.panic.store(value.get().unwrap(), Ordering::Relaxed);
        Ok(())
    }
}

fn register_failing() -> glib::Type {
    static TYPE: OnceLock<glib::Type> = OnceLock::new();
    *TYPE.get_or_init(|| {
        let mut desc = ElementClassDesc::new("fptestfailing", ElementKind::Transform(TransformMode::InPlace));
        desc.properties = vec![PropertyDesc::new("panic", PropertyKind::Bool { default: false })];
        common::register(desc, |_| Failing { panic: Default::default() })
    })
}

const RGB_2X2: &str = "video/x-raw,format=RGB,width=2,height=2,framerate=30/1";

fn rgb_buffer(pixels: &[u8]) -> gst::Buffer {
    let mut buf = gst::Buffer::from_slice(pixels.to_vec());
    buf.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(5));
    buf
}

/// 2x2 RGB has a row stride of 8 (rows are padded to 4 bytes).
fn frame_2x2(value: u8) -> Vec<u8> {
    vec![value; 16]
}

#[test]
fn inverts_in_place_through_the_harness() {
    register_invert();
    let mut h = gst_check::Harness::new("fptestinvert");
    h.set_src_caps_str(RGB_2X2);
    let out = h.push_and_pull(rgb_buffer(&frame_2x2(10))).unwrap();
    assert_eq!(out.map_readable().unwrap().as_slice(), &frame_2x2(245)[..]);
    assert_eq!(out.pts(), Some(gst::ClockTime::from_mseconds(5)));

    let element = h.element().unwrap();
    element.set_property("strength", 0.0f64);
    assert_eq!(element.property::<f64>("strength"), 0.0);
    let out = h.push_and_pull(rgb_buffer(&frame_2x2(10))).unwrap();
    assert_eq!(out.map_readable().unwrap().as_slice(), &frame_2x2(10)[..]);

    element.set_property_from_str("mode", "drop");
    h.push(rgb_buffer(&frame_2x2(10))).unwrap();
    assert!(h.try_pull().is_none(), "mode=drop must drop the buffer");
}

#[test]
fn set_caps_hook_receives_the_negotiated_caps() {
    register_invert();
    let mut h = gst_check::Harness::new("fptestinvert");
    h.set_src_caps_str("video/x-raw,format=BGR,width=3,height=5,framerate=1/1");
    h.push_and_pull(gst::Buffer::from_slice(vec![0u8; 12 * 5])).unwrap();
    let seen = caps_seen().lock().unwrap().clone();
    assert!(
        seen.iter().any(|s| s.contains("format=(string)BGR, width=(int)3, height=(int)5")),
        "set_caps saw {seen:?}"
    );
}

#[test]
fn caps_outside_the_template_do_not_negotiate() {
    register_invert();
    let mut h = gst_check::Harness::new("fptestinvert");
    h.set_src_caps_str("video/x-raw,format=RGBA,width=2,height=2,framerate=30/1");
    assert_eq!(h.push(gst::Buffer::from_slice(vec![0u8; 16])), Err(gst::FlowError::NotNegotiated));
    // In the width range list: fine; outside it: refused.
    let mut h = gst_check::Harness::new("fptestinvert");
    h.set_src_caps_str("video/x-raw,format=GRAY8,width=100,height=2,framerate=30/1");
    assert_eq!(h.push(gst::Buffer::from_slice(vec![0u8; 200])), Err(gst::FlowError::NotNegotiated));
}

#[test]
fn pad_templates_and_metadata_come_from_the_description() {
    register_invert();
    let factory = gst::ElementFactory::find("fptestinvert").unwrap();
    assert_eq!(factory.metadata(gst::ELEMENT_METADATA_LONGNAME), Some("Test inverter"));
    assert_eq!(factory.metadata(gst::ELEMENT_METADATA_KLASS), Some("Filter/Effect/Video"));
    assert_eq!(factory.metadata(gst::ELEMENT_METADATA_AUTHOR), Some("framepipe tests"));
    let templates: Vec<_> = factory.static_pad_templates().iter().map(|t| t.name_template().to_string()).collect();
    assert_eq!(templates, ["sink", "src"]);
    let element = factory.create().build().unwrap();
    assert_eq!(element.type_().name(), "GstFpFptestinvert");
    assert!(element.is::<gstframepipe::host::TransformHost>());
}

/// The hosts' int and float pspecs are subtypes of GParamSpecInt64/Double (so that they can
/// refuse out-of-range values themselves); glib-rs's downcast_ref matches exact types only.
fn as_spec<T: glib::ParamSpecType>(pspec: &glib::ParamSpec) -> &T {
    assert!(pspec.is::<T>(), "{} is not a {}", pspec.type_(), T::static_type());
    // SAFETY: the instance is a T or derives from it; T wraps the same pointer as ParamSpec.
    unsafe { &*(pspec as *const glib::ParamSpec as *const T) }
}

#[test]
fn out_of_range_values_are_refused_and_reported() {
    register_invert();
    let element = gst::ElementFactory::make("fptestinvert").build().unwrap();
    // What a launch string does: GLib's own validation lets the value through to the host.
    element.set_property_from_str("strength", "5");
    assert_eq!(element.property::<f64>("strength"), 1.0);
    let why = gstframepipe::host::rejected_property(&element).expect("the value was refused");
    assert!(why.contains("\"strength\"") && why.contains("out of range (0 to 1)"), "{why}");
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("videotestsrc").build().unwrap();
    let sink = gst::ElementFactory::make("fakesink").build().unwrap();
    pipeline.add_many([&src, &element, &sink]).unwrap();
    gst::Element::link_many([&src, &element, &sink]).unwrap();
    assert!(pipeline.set_state(gst::State::Paused).is_err(), "start must fail while a value is refused");
    pipeline.set_state(gst::State::Null).unwrap();
    element.set_property("strength", 0.5);
    assert_eq!(gstframepipe::host::rejected_property(&element), None);
    assert_eq!(element.property::<f64>("strength"), 0.5);
}

#[test]
fn properties_are_listed_with_types_defaults_and_ranges() {
    register_invert();
    let element = gst::ElementFactory::make("fptestinvert").build().unwrap();
    let props = element.list_properties();
    let find = |name: &str| props.iter().find(|p| p.name() == name).unwrap_or_else(|| panic!("no {name}"));

    let strength = as_spec::<glib::ParamSpecDouble>(find("strength")).clone();
    assert_eq!((strength.minimum(), strength.maximum(), strength.default_value()), (0.0, 1.0, 1.0));
    assert_eq!(strength.blurb(), Some("Blend factor"));
    assert!(strength.flags().contains(glib::ParamFlags::READWRITE | gst::PARAM_FLAG_MUTABLE_PLAYING));

    let count = as_spec::<glib::ParamSpecInt64>(find("count")).clone();
    assert_eq!((count.minimum(), count.maximum(), count.default_value()), (-5, 1 << 40, 3));
    assert_eq!(element.property::<i64>("count"), 3);
    assert_eq!(element.property::<Option<String>>("label").as_deref(), Some("none"));
    assert!(element.property::<bool>("enabled"));

    let mode = find("mode").downcast_ref::<glib::ParamSpecEnum>().unwrap().clone();
    let class = mode.enum_class();
    let nicks: Vec<_> = class.values().iter().map(|v| v.nick().to_string()).collect();
    assert_eq!(nicks, ["invert", "skip", "drop"]);
    assert_eq!(class.value(MODE_SKIP).unwrap().name(), "SKIP");
    assert_eq!(element.property_value("mode").type_().name(), "GstFpFptestinvertMode");

    element.set_property("count", 1i64 << 35);
    element.set_property("label", "hello");
    assert_eq!(element.property::<i64>("count"), 1 << 35);
    assert_eq!(element.property::<String>("label"), "hello");
    // Values are per instance.
    let other = gst::ElementFactory::make("fptestinvert").build().unwrap();
    assert_eq!(other.property::<i64>("count"), 3);
}

#[test]
fn properties_are_set_from_launch_strings() {
    register_invert();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=2 ! {RGB_2X2} ! fptestinvert name=inv strength=0.25 mode=skip label=\"a b\" count=-5 \
         enabled=false ! appsink name=out"
    ))
    .unwrap();
    let inv = pipeline.downcast_ref::<gst::Bin>().unwrap().by_name("inv").unwrap();
    assert_eq!(inv.property::<f64>("strength"), 0.25);
    assert_eq!(inv.property::<String>("label"), "a b");
    assert_eq!(inv.property::<i64>("count"), -5);
    assert!(!inv.property::<bool>("enabled"));
    let mode = inv.property_value("mode");
    assert_eq!(glib::EnumValue::from_value(&mode).unwrap().1.nick(), "skip");
    let (buffers, _, end) = common::collect(&pipeline, "out");
    assert!(matches!(end, End::Eos), "{end:?}");
    assert_eq!(buffers.len(), 2);
}

#[test]
fn a_bad_launch_string_value_names_the_property() {
    register_invert();
    for bad in ["mode=circle", "strength=lots"] {
        let err = gst::parse::launch(&format!("videotestsrc ! fptestinvert {bad} ! fakesink")).unwrap_err();
        let prop = bad.split('=').next().unwrap();
        assert!(err.to_string().contains(prop), "{bad}: {err}");
        assert!(err.matches(gst::ParseError::CouldNotSetProperty), "{bad}: {err:?}");
    }
}

/// Runs `pipeline` to EOS and checks that its appsink `out` got GRAY8 caps of `size`
/// (width, height); returns the buffers and the caps' structure.
fn collect_gray8(pipeline: &gst::Element, size: (i32, i32)) -> (Vec<gst::Buffer>, gst::Structure) {
    let (buffers, caps, end) = common::collect(pipeline, "out");
    assert!(matches!(end, End::Eos), "{end:?}");
    let s = caps.unwrap().structure(0).unwrap().to_owned();
    assert_eq!(s.get::<&str>("format").unwrap(), "GRAY8");
    assert_eq!((s.get::<i32>("width").unwrap(), s.get::<i32>("height").unwrap()), size);
    (buffers, s)
}

#[test]
fn out_of_place_transform_changes_caps() {
    register_gray();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=3 pattern=white ! video/x-raw,format=RGB,width=8,height=4,framerate=10/1 \
         ! fptestgray ! appsink name=out",
    )
    .unwrap();
    let (buffers, _) = collect_gray8(&pipeline, (8, 4));
    assert_eq!(buffers.len(), 3);
    for (i, b) in buffers.iter().enumerate() {
        assert_eq!(b.size(), 32);
        assert!(b.map_readable().unwrap().iter().all(|&v| v == 255));
        // Timestamps come from the input.
        assert_eq!(b.pts(), Some(gst::ClockTime::from_mseconds(100 * i as u64)));
        assert_eq!(b.duration(), Some(gst::ClockTime::from_mseconds(100)));
    }
}

#[test]
fn two_hosted_classes_in_one_pipeline() {
    register_invert();
    register_gray();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=2 pattern=black ! video/x-raw,format=RGB,width=4,height=4 ! fptestinvert \
         ! queue ! fptestgray ! appsink name=out",
    )
    .unwrap();
    let (buffers, _, end) = common::collect(&pipeline, "out");
    assert!(matches!(end, End::Eos), "{end:?}");
    assert_eq!(buffers.len(), 2);
    assert!(buffers.iter().all(|b| b.map_readable().unwrap().iter().all(|&v| v == 255)));
}

#[test]
fn a_hook_error_becomes_a_bus_error_naming_the_element() {
    register_failing();
    let pipeline = gst::parse::launch("videotestsrc num-buffers=5 ! fptestfailing name=bad ! fakesink").unwrap();
    match common::run(&pipeline, std::time::Duration::from_secs(10)) {
        End::Error { source, message, debug } => {
            assert_eq!(source, "bad");
            assert_eq!(message, "ZeroDivisionError: division by zero");
            assert!(debug.unwrap().contains("Traceback"));
        }
        End::Eos => panic!("expected an error"),
    }
}

#[test]
fn a_panicking_hook_becomes_a_bus_error() {
    register_failing();
    let pipeline =
        gst::parse::launch("videotestsrc num-buffers=5 ! fptestfailing name=bad panic=true ! fakesink").unwrap();
    match common::run(&pipeline, std::time::Duration::from_secs(10)) {
        End::Error { source, message, .. } => {
            assert_eq!(source, "bad");
            assert!(message.contains("panicked: boom from Rust"), "{message}");
        }
        End::Eos => panic!("expected an error"),
    }
}

#[test]
fn registering_an_existing_type_name_reuses_it() {
    let first = register_invert();
    let factory: Arc<dyn gstframepipe::host::HooksFactory> =
        Arc::new(|_: &gst::Element| -> CallbackResult<Box<dyn ElementHooks>> { Err("never called".into()) });
    // Same class again (what the plugin loader does in a process that already has it, and
    // a notebook cell decorating the class again): the type stays, the hooks factory is
    // swapped for the new one (here one making the same Invert, as other tests use it).
    let same: Arc<dyn gstframepipe::host::HooksFactory> =
        Arc::new(|_: &gst::Element| -> CallbackResult<Box<dyn ElementHooks>> {
            Ok(Box::new(Invert {
                strength: AtomicU64::new(1.0f64.to_bits()),
                mode: Mutex::new(MODE_INVERT),
                caps_seen: caps_seen().clone(),
            }))
        });
    let again = register_element(None, invert_desc(), same).unwrap();
    assert_eq!(first, again);
    // The same type under a second factory name.
    let mut alias = invert_desc();
    alias.factory_name = "fptestinvertalias".into();
    alias.type_name = Some("GstFpFptestinvert".into());
    assert_eq!(register_element(None, alias, factory.clone()).unwrap(), first);
    let element = gst::ElementFactory::make("fptestinvertalias").build().unwrap();
    assert_eq!(element.type_(), first);
    // A source description cannot take a transform's type name.
    let mut clash = ElementClassDesc::new("fptestclash", ElementKind::Source);
    clash.type_name = Some("GstFpFptestinvert".into());
    let err = register_element(None, clash, factory).unwrap_err();
    assert!(err.to_string().contains("GstFpFptestinvert"), "{err}");
}

#[test]
fn bad_descriptions_are_refused_with_a_reason() {
    common::init();
    let factory: Arc<dyn gstframepipe::host::HooksFactory> =
        Arc::new(|_: &gst::Element| -> CallbackResult<Box<dyn ElementHooks>> { Err("never called".into()) });
    let transform = ElementKind::Transform(TransformMode::InPlace);
    let cases: Vec<(ElementClassDesc, &str)> = vec![
        (ElementClassDesc::new("9lives", transform), "must start with a letter"),
        (
            {
                let mut d = ElementClassDesc::new("fptestbadcaps", transform);
                d.sink_caps = Some("video/x-raw,width=[".into());
                d
            },
            "cannot parse",
        ),
        (
            {
                let mut d = ElementClassDesc::new("fptestbadrange", transform);
                d.properties =
                    vec![PropertyDesc::new("x", PropertyKind::Float { default: 2.0, minimum: 0.0, maximum: 1.0 })];
                d
            },
            "outside",
        ),
        (
            {
                let mut d = ElementClassDesc::new("fptestbadenum", transform);
                d.properties = vec![PropertyDesc::new(
                    "shape",
                    PropertyKind::Enum { default: 7, members: vec![EnumMember::new(0, "SQUARE")] },
                )];
                d
            },
            "not the value of a member",
        ),
        (
            {
                let mut d = ElementClassDesc::new("fptestclashprop", transform);
                d.properties = vec![PropertyDesc::new("qos", PropertyKind::Bool { default: false })];
                d
            },
            "clashes",
        ),
    ];
    for (desc, why) in cases {
        let name = desc.factory_name.clone();
        let err = register_element(None, desc, factory.clone()).unwrap_err();
        assert!(err.to_string().contains(why), "{name}: {err}");
        assert!(gst::ElementFactory::find(&name).is_none(), "{name} must not be registered");
    }
}

/// Counts buffers without touching them; identifies itself through `as_any`.
struct Counter {
    seen: AtomicU64,
    writable: std::sync::atomic::AtomicBool,
}

impl ElementHooks for Counter {
    fn transform_ip(&self, buffer: gst::Buffer, _caps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        self.seen.fetch_add(1, Ordering::Relaxed);
        self.writable.store(buffer.is_writable(), Ordering::Relaxed);
        Ok(Some(buffer))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

#[test]
fn passthrough_transforms_see_buffers_without_copies() {
    let mut desc = ElementClassDesc::new("fptestcounter", ElementKind::Transform(TransformMode::Passthrough));
    desc.sink_caps = Some("video/x-raw".into());
    desc.src_caps = Some("video/x-raw".into());
    common::register(desc, |_| Counter { seen: AtomicU64::new(0), writable: Default::default() });
    let mut h = gst_check::Harness::new("fptestcounter");
    h.set_src_caps_str(RGB_2X2);
    let input = rgb_buffer(&frame_2x2(1));
    let kept = input.clone(); // shared: a copying transform would have to copy it
    let out = h.push_and_pull(input).unwrap();
    assert_eq!(out.as_ptr(), kept.as_ptr(), "the very same buffer comes out");
    let element = h.element().unwrap();
    let (seen, writable) = gstframepipe::host::with_hooks(&element, |hooks| {
        let counter = hooks.as_any().unwrap().downcast_ref::<Counter>().unwrap();
        (counter.seen.load(Ordering::Relaxed), counter.writable.load(Ordering::Relaxed))
    })
    .unwrap();
    assert_eq!((seen, writable), (1, false));
    let identity = gst::ElementFactory::make("identity").build().unwrap();
    assert!(gstframepipe::host::with_hooks(&identity, |_| ()).is_none());
}

#[test]
fn an_out_of_range_launch_value_leaves_the_property_unchanged() {
    // GLib refuses (with a warning naming the property) rather than clamping; the parser
    // itself does not see it.
    register_invert();
    let pipeline = gst::parse::launch("videotestsrc ! fptestinvert name=inv strength=5 ! fakesink").unwrap();
    let inv = pipeline.downcast_ref::<gst::Bin>().unwrap().by_name("inv").unwrap();
    assert_eq!(inv.property::<f64>("strength"), 1.0);
}

/// No transform_caps: the host derives the output caps from the src template.
struct ToGrayByTemplate;

impl ElementHooks for ToGrayByTemplate {
    fn transform(&self, buf: &gst::Buffer, caps: &CapsInfo, outcaps: &CapsInfo) -> CallbackResult<Option<gst::Buffer>> {
        ToGray.transform(buf, caps, outcaps)
    }
}

#[test]
fn without_transform_caps_the_other_template_keeps_size_and_rate() {
    let mut desc = ElementClassDesc::new("fptestgraytemplate", ElementKind::Transform(TransformMode::OutOfPlace));
    desc.sink_caps = Some("video/x-raw,format=RGB".into());
    desc.src_caps = Some("video/x-raw,format=GRAY8".into());
    common::register(desc, |_| ToGrayByTemplate);
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width=6,height=2,framerate=5/1 ! fptestgraytemplate \
         ! appsink name=out",
    )
    .unwrap();
    let (buffers, s) = collect_gray8(&pipeline, (6, 2));
    assert_eq!(s.get::<gst::Fraction>("framerate").unwrap(), gst::Fraction::new(5, 1));
    assert_eq!(buffers.len(), 2);
    assert_eq!(buffers[0].size(), 16); // 6 bytes per row padded to 8
}
