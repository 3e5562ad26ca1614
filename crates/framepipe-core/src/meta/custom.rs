//! One implementation of a GstMeta that carries a Rust value, shared by framepipe's own
//! metas (tensors, messages, region params). Each payload type is registered once per
//! process under its own API type; a type that another copy of this code already
//! registered is reused rather than registered twice.
//!
//! The metas carry no tags, so `videoconvert`, `videoscale` and every other
//! GstBaseTransform copies them (their content does not depend on pixels or geometry),
//! and their transform function clones the payload for any transform it is asked for.

use std::ffi::{CStr, c_char};
use std::ptr;
use std::sync::OnceLock;

use gst::glib::{self, translate::*};

/// A Rust value stored in a buffer meta.
pub(crate) trait Payload: Clone + Default + Send + Sync + 'static {
    /// Name of the meta API type (`GstFp...MetaAPI`).
    const API_NAME: &'static CStr;
    /// Name of the meta implementation (`GstFp...Meta`).
    const IMPL_NAME: &'static CStr;
    /// Where the registration of this payload type is kept.
    fn registration() -> &'static OnceLock<Registration>;
}

/// Implements [`Payload`] for a type: its GStreamer names and a registration of its own (a
/// `static` per type, which a generic trait method cannot declare).
macro_rules! payload {
    ($ty:ty, api = $api:literal, meta = $meta:literal) => {
        impl $crate::meta::custom::Payload for $ty {
            const API_NAME: &'static std::ffi::CStr = $api;
            const IMPL_NAME: &'static std::ffi::CStr = $meta;

            fn registration() -> &'static std::sync::OnceLock<$crate::meta::custom::Registration> {
                static REG: std::sync::OnceLock<$crate::meta::custom::Registration> = std::sync::OnceLock::new();
                &REG
            }
        }
    };
}
pub(crate) use payload;

pub(crate) struct Registration {
    api: glib::Type,
    info: ptr::NonNull<gst::ffi::GstMetaInfo>,
}

// SAFETY: a registered GstMetaInfo is never modified or freed again; sharing the pointer
// between threads only ever reads it.
unsafe impl Send for Registration {}
// SAFETY: as above.
unsafe impl Sync for Registration {}

/// The meta as laid out in the buffer: GStreamer's header followed by the payload.
#[repr(C)]
pub struct FpMeta<P> {
    parent: gst::ffi::GstMeta,
    payload: P,
}

// SAFETY: the header is only touched by GStreamer under the buffer's own rules, and the
// payload is Send + Sync itself.
unsafe impl<P: Send> Send for FpMeta<P> {}
// SAFETY: as above.
unsafe impl<P: Sync> Sync for FpMeta<P> {}

impl<P> FpMeta<P> {
    pub(crate) fn payload(&self) -> &P {
        &self.payload
    }

    pub(crate) fn payload_mut(&mut self) -> &mut P {
        &mut self.payload
    }
}

// SAFETY: `GstType` is the very struct GStreamer allocates for metas registered with the
// info below (its size is `size_of::<FpMeta<P>>()`), and `meta_api` returns that API type.
unsafe impl<P: Payload> gst::meta::MetaAPI for FpMeta<P> {
    type GstType = FpMeta<P>;

    fn meta_api() -> glib::Type {
        registration::<P>().api
    }
}

pub(crate) fn registration<P: Payload>() -> &'static Registration {
    P::registration().get_or_init(register::<P>)
}

fn register<P: Payload>() -> Registration {
    // Registration needs an initialised GStreamer; every caller has a buffer, so it is.
    let api_name = P::API_NAME.to_str().unwrap_or_default();
    let api = match glib::Type::from_name(api_name) {
        Some(t) => t,
        None => {
            let mut tags: [*const c_char; 1] = [ptr::null()];
            // SAFETY: the name is a NUL-terminated static string and `tags` is a
            // NULL-terminated (empty) array of tag names, as the function requires.
            unsafe { from_glib(gst::ffi::gst_meta_api_type_register(P::API_NAME.as_ptr(), tags.as_mut_ptr())) }
        }
    };
    assert_ne!(api, glib::Type::INVALID, "meta API type could not be registered");
    // SAFETY: the name is a NUL-terminated static string; a non-NULL result is the info
    // registered under it, which lives for the rest of the process.
    let existing = unsafe { gst::ffi::gst_meta_get_info(P::IMPL_NAME.as_ptr()) };
    let info = if existing.is_null() {
        // SAFETY: the three functions match GstMeta's init/free/transform signatures and
        // treat the meta as `FpMeta<P>`, whose size is the one registered here.
        unsafe {
            gst::ffi::gst_meta_register(
                api.into_glib(),
                P::IMPL_NAME.as_ptr(),
                std::mem::size_of::<FpMeta<P>>(),
                Some(meta_init::<P>),
                Some(meta_free::<P>),
                Some(meta_transform::<P>),
            )
        }
    } else {
        existing
    };
    let info = ptr::NonNull::new(info as *mut gst::ffi::GstMetaInfo).expect("meta could not be registered");
    Registration { api, info }
}

/// `params` is either NULL (another library adding the meta: an empty payload) or points
/// to an `Option<P>` that the payload is taken out of.
unsafe extern "C" fn meta_init<P: Payload>(
    meta: *mut gst::ffi::GstMeta,
    params: glib::ffi::gpointer,
    _buffer: *mut gst::ffi::GstBuffer,
) -> glib::ffi::gboolean {
    let payload = if params.is_null() {
        P::default()
    } else {
        // SAFETY: `add` passes a pointer to a live `Option<P>` that it owns and does not
        // touch again until gst_buffer_add_meta returns.
        unsafe { (*(params as *mut Option<P>)).take().unwrap_or_default() }
    };
    // SAFETY: GStreamer allocated `size_of::<FpMeta<P>>()` bytes for the meta; the payload
    // field is uninitialised, so it is written without dropping what was there.
    unsafe { ptr::write(ptr::addr_of_mut!((*(meta as *mut FpMeta<P>)).payload), payload) };
    glib::ffi::GTRUE
}

unsafe extern "C" fn meta_free<P: Payload>(meta: *mut gst::ffi::GstMeta, _buffer: *mut gst::ffi::GstBuffer) {
    // SAFETY: init wrote the payload and free is called exactly once, after which
    // GStreamer releases the memory without reading the payload.
    unsafe { ptr::drop_in_place(ptr::addr_of_mut!((*(meta as *mut FpMeta<P>)).payload)) };
}

unsafe extern "C" fn meta_transform<P: Payload>(
    dest: *mut gst::ffi::GstBuffer,
    meta: *mut gst::ffi::GstMeta,
    _buffer: *mut gst::ffi::GstBuffer,
    _type: glib::ffi::GQuark,
    _data: glib::ffi::gpointer,
) -> glib::ffi::gboolean {
    // SAFETY: GStreamer hands a meta of this info (so an initialised `FpMeta<P>`) on the
    // source buffer and a writable destination buffer.
    let (payload, dest) =
        unsafe { ((*(meta as *const FpMeta<P>)).payload.clone(), gst::BufferRef::from_mut_ptr(dest)) };
    add(dest, payload);
    glib::ffi::GTRUE
}

/// Adds a new meta holding `payload` to `buffer`.
pub(crate) fn add<P: Payload>(
    buffer: &mut gst::BufferRef,
    payload: P,
) -> gst::MetaRefMut<'_, FpMeta<P>, gst::meta::Standalone> {
    let info = registration::<P>().info;
    let mut slot = Some(payload);
    // SAFETY: the buffer is writable (we hold `&mut`), the info is registered, and `slot`
    // outlives the call, which is the only time init reads it.
    unsafe {
        let meta = gst::ffi::gst_buffer_add_meta(
            buffer.as_mut_ptr(),
            info.as_ptr(),
            &mut slot as *mut Option<P> as glib::ffi::gpointer,
        );
        assert!(!meta.is_null(), "gst_buffer_add_meta failed on a writable buffer");
        use gst::meta::MetaAPIExt;
        FpMeta::<P>::from_mut_ptr(buffer, meta as *mut FpMeta<P>)
    }
}

/// The payload of the first meta of this type on `buffer`, created empty if there is none.
pub(crate) fn payload_mut<P: Payload>(
    buffer: &mut gst::BufferRef,
) -> gst::MetaRefMut<'_, FpMeta<P>, gst::meta::Standalone> {
    if buffer.meta::<FpMeta<P>>().is_none() {
        add(buffer, P::default());
    }
    buffer.meta_mut::<FpMeta<P>>().expect("meta was just added")
}

/// Every payload of this type on `buffer` (a buffer that had metadata copied into it
/// twice can carry two).
pub(crate) fn payloads<P: Payload>(buffer: &gst::BufferRef) -> impl Iterator<Item = &P> {
    buffer.iter_meta::<FpMeta<P>>().map(|m| {
        let payload: *const P = m.payload();
        // SAFETY: the meta is owned by `buffer`, which stays borrowed (and so unmodified)
        // for the lifetime of the returned reference; `MetaRef` only ties it to itself.
        unsafe { &*payload }
    })
}
