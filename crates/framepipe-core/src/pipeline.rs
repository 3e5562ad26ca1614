//! A parsed pipeline with its bus watched from a sync handler, so that errors and EOS are
//! seen by every waiting call without popping (and losing) the user's messages, and every
//! wait is a loop of short sleeps that calls the caller's interrupt check (Ctrl-C).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_app::{AppSink, AppSrc};

use crate::error::BusError;
use crate::media::MediaInfo;
use crate::{Error, Result};

/// The caller's check for a pending interrupt, called at least every [`POLL`] while a call
/// waits. Returning true makes the call stop waiting and return [`Error::Interrupted`].
pub type Interrupt<'a> = &'a mut dyn FnMut() -> bool;

/// How often waits wake up to call the interrupt check.
pub const POLL: Duration = Duration::from_millis(50);

/// Messages kept for [`Pipeline::pop_message`]; older ones are dropped so an unread bus
/// never grows without bound.
const MESSAGE_BACKLOG: usize = 1024;

struct BusState {
    queue: VecDeque<gst::Message>,
    error: Option<Error>,
    eos: bool,
    /// The state framepipe last asked for: a pipeline found below PAUSED while this is
    /// PAUSED or PLAYING fell back on its own (see [`Pipeline::fell_back`]).
    wanted: gst::State,
}

impl Default for BusState {
    fn default() -> Self {
        BusState { queue: VecDeque::new(), error: None, eos: false, wanted: gst::State::Null }
    }
}

/// Called with `true` just before the pipeline is stopped (to READY or NULL) and with
/// `false` once it is: lets Python callbacks (probes) be interrupted rather than waited for.
pub type StopHook = Box<dyn Fn(bool) + Send + Sync>;

#[derive(Default)]
struct Shared {
    bus: Mutex<BusState>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, BusState> {
        // A poisoned lock only means a panic elsewhere; the state itself stays consistent.
        self.bus.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_message(&self, msg: &gst::Message) {
        let mut st = self.lock();
        match msg.view() {
            gst::MessageView::Error(err) if st.error.is_none() => st.error = Some(bus_error(msg, err)),
            gst::MessageView::Eos(_) => st.eos = true,
            _ => {}
        }
        if st.queue.len() >= MESSAGE_BACKLOG {
            st.queue.pop_front();
        }
        st.queue.push_back(msg.clone());
        drop(st);
        self.changed.notify_all();
    }

    fn error(&self) -> Option<Error> {
        self.lock().error.as_ref().map(clone_error)
    }
}

/// Why a wait begun at `start` must stop: [`Error::Interrupted`] when `interrupt` says so,
/// else [`Error::Timeout`] once `timeout` has passed.
fn check_wait(start: Instant, timeout: Option<Duration>, interrupt: Interrupt<'_>) -> Result<()> {
    if interrupt() {
        return Err(Error::Interrupted);
    }
    if let Some(t) = timeout
        && start.elapsed() >= t
    {
        return Err(Error::Timeout(t));
    }
    Ok(())
}

fn clone_error(e: &Error) -> Error {
    match e {
        Error::Pipeline(b) => Error::Pipeline(b.clone()),
        Error::Negotiation(b) => Error::Negotiation(b.clone()),
        other => Error::Gst(other.to_string()),
    }
}

/// Turns an ERROR message into [`Error::Pipeline`] or, for failed caps negotiation,
/// [`Error::Negotiation`].
fn bus_error(msg: &gst::Message, err: &gst::message::Error) -> Error {
    let src = msg.src();
    let debug = err.debug().map(|d| d.to_string());
    let info = Box::new(BusError {
        element: src.map(|s| s.name().to_string()),
        path: src.map(|s| s.path_string().to_string()),
        message: err.error().message().to_string(),
        debug: debug.clone(),
    });
    let negotiation = err.error().matches(gst::CoreError::Negotiation)
        || debug.as_deref().is_some_and(|d| d.contains("not-negotiated"))
        || err
            .details()
            .and_then(|s| s.get::<gst::FlowReturn>("flow-return").ok())
            .is_some_and(|f| f == gst::FlowReturn::NotNegotiated);
    if negotiation { Error::Negotiation(info) } else { Error::Pipeline(info) }
}

/// What framepipe remembers per appsrc it pushes into.
struct SourceState {
    media: MediaInfo,
    next_pts: Option<gst::ClockTime>,
    ended: bool,
}

/// A GStreamer pipeline built from a launch description.
pub struct Pipeline {
    pipeline: gst::Pipeline,
    shared: Arc<Shared>,
    sinks: Mutex<HashMap<String, AppSink>>,
    sources: Mutex<HashMap<String, SourceState>>,
    /// `send_eos` was called since the pipeline was last stopped.
    eos_sent: AtomicBool,
    stop_hooks: Mutex<Vec<StopHook>>,
    /// Since when a preroll has had no streaming thread running (see [`Pipeline::fell_back`]).
    stalled_since: Mutex<Option<Instant>>,
}

/// How long a preroll may go on with no streaming task running before it counts as stuck.
const STALL: Duration = Duration::from_secs(1);

fn parse_error(err: gst::glib::Error, ctx: &gst::ParseContext) -> Error {
    let message = err.message().to_string();
    let missing = ctx.missing_elements();
    if let Some(kind) = err.kind::<gst::ParseError>() {
        match kind {
            gst::ParseError::NoSuchElement => {
                let token = missing.first().map(|s| s.to_string()).or_else(|| quoted(&message));
                let message = match &token {
                    Some(t) => {
                        let hint = match crate::launch::closest_factories(t).as_slice() {
                            [] => String::new(),
                            [one] => format!("; did you mean \"{one}\"?"),
                            several => format!(
                                "; did you mean {}?",
                                several.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(" or ")
                            ),
                        };
                        format!("no element \"{t}\": no such element or plugin is installed{hint}")
                    }
                    None => message,
                };
                return Error::Parse { message, token };
            }
            gst::ParseError::Link => {
                let token = message.strip_prefix("could not link ").and_then(|m| m.split(' ').next()).map(String::from);
                return Error::Negotiation(Box::new(BusError { element: token, path: None, message, debug: None }));
            }
            _ => {}
        }
    }
    Error::Parse { token: quoted(&message), message }
}

/// Pulling runs as fast as the pipeline can: every appsink of `pipeline` stops syncing to
/// the clock unless `description` sets its `sync` explicitly. (appsink inherits basesink's
/// `sync=true`, which made `frames()` on a file as slow as playing it; live sources still
/// set the pace, as they produce in real time.)
fn unsync_appsinks(pipeline: &gst::Pipeline, description: &str) {
    for element in pipeline.iterate_recurse().into_iter().flatten() {
        if element.downcast_ref::<AppSink>().is_none() {
            continue;
        }
        let factory = element.factory().map_or_else(|| "appsink".to_string(), |f| f.name().to_string());
        if !crate::launch::sets_property(description, &factory, &element.name(), "sync") {
            element.set_property("sync", false);
        }
    }
}

/// The first double-quoted token of a GStreamer parse message, which names the culprit.
fn quoted(message: &str) -> Option<String> {
    let start = message.find('"')? + 1;
    let len = message[start..].find('"')?;
    Some(message[start..start + len].to_string())
}

fn state_name(state: gst::State) -> &'static str {
    match state {
        gst::State::Null => "NULL",
        gst::State::Ready => "READY",
        gst::State::Paused => "PAUSED",
        gst::State::Playing => "PLAYING",
        _ => "VOID_PENDING",
    }
}

impl Pipeline {
    /// Parses `description` as gst-launch-1.0 does. A description that is a single element
    /// is put in a pipeline of its own.
    pub fn new(description: &str) -> Result<Pipeline> {
        crate::init()?;
        if description.trim().is_empty() {
            return Err(Error::Parse { message: "empty pipeline description".into(), token: None });
        }
        let mut ctx = gst::ParseContext::new();
        let element = gst::parse::launch_full(description, Some(&mut ctx), gst::ParseFlags::FATAL_ERRORS)
            .map_err(|e| parse_error(e, &ctx))?;
        let pipeline = match element.downcast::<gst::Pipeline>() {
            Ok(p) => p,
            Err(element) => {
                let p = gst::Pipeline::new();
                p.add(&element)?;
                p
            }
        };
        unsync_appsinks(&pipeline, description);
        Ok(Self::wrap(pipeline))
    }

    /// Takes over an existing pipeline (used by framepipe's own readers and writers).
    pub fn wrap(pipeline: gst::Pipeline) -> Pipeline {
        let shared = Arc::new(Shared::default());
        let bus = pipeline.bus().expect("a pipeline always has a bus");
        let weak = Arc::downgrade(&shared);
        bus.set_sync_handler(move |_, msg| {
            if let Some(shared) = weak.upgrade() {
                shared.on_message(msg);
            }
            gst::BusSyncReply::Drop
        });
        Pipeline {
            pipeline,
            shared,
            sinks: Mutex::default(),
            sources: Mutex::default(),
            eos_sent: AtomicBool::new(false),
            stop_hooks: Mutex::default(),
            stalled_since: Mutex::default(),
        }
    }

    /// Adds a hook that stopping the pipeline calls before and after the state change (see
    /// [`StopHook`]). Hooks run on the thread that stops the pipeline, without any of the
    /// pipeline's locks held.
    pub fn on_stop(&self, hook: StopHook) {
        self.stop_hooks.lock().unwrap_or_else(|e| e.into_inner()).push(hook);
    }

    fn run_stop_hooks(&self, before: bool) {
        let hooks = self.stop_hooks.lock().unwrap_or_else(|e| e.into_inner());
        for hook in hooks.iter() {
            hook(before);
        }
    }

    /// Whether the pipeline is prerolling (READY on its way to PAUSED or PLAYING) with no
    /// streaming task running anywhere, continuously for [`STALL`]: nothing can complete
    /// the preroll then.
    fn preroll_stalled(&self, current: gst::State, pending: gst::State) -> bool {
        let mut since = self.stalled_since.lock().unwrap_or_else(|e| e.into_inner());
        let prerolling = current <= gst::State::Ready && pending >= gst::State::Paused;
        let idle = prerolling
            && !self
                .pipeline
                .iterate_recurse()
                .into_iter()
                .flatten()
                .any(|e| e.pads().iter().any(|p| p.task_state() == gst::TaskState::Started));
        if !idle {
            *since = None;
            return false;
        }
        since.get_or_insert_with(Instant::now).elapsed() >= STALL
    }

    /// The error to report when the pipeline stopped on its own while framepipe wants it
    /// PAUSED or PLAYING, with no ERROR on the bus: it dropped below PAUSED, its
    /// asynchronous state change failed, or its preroll stalled with no streaming task
    /// left. GStreamer 1.22's decodebin does the last on some truncated MP4s (it drops the
    /// demuxer's "no known streams found" ERROR while autoplugging); waiting for EOS would
    /// then never end.
    pub fn fell_back(&self) -> Option<Error> {
        if self.shared.lock().wanted < gst::State::Paused {
            return None;
        }
        let (ret, current, pending) = self.pipeline.state(gst::ClockTime::ZERO);
        let fell = ret.is_err() || (current <= gst::State::Ready && pending == gst::State::VoidPending);
        if !fell && !self.preroll_stalled(current, pending) {
            return None;
        }
        let mut st = self.shared.lock();
        if st.wanted < gst::State::Paused {
            return None; // stopped meanwhile, on purpose
        }
        if let Some(err) = &st.error {
            return Some(clone_error(err));
        }
        let what = if ret.is_err() {
            "its state change failed"
        } else if fell {
            "it fell back"
        } else {
            "its preroll stalled with no streaming thread left"
        };
        let err = Error::Pipeline(Box::new(BusError {
            element: Some(self.pipeline.name().to_string()),
            path: Some(self.pipeline.path_string().to_string()),
            message: format!(
                "the pipeline stopped on its own ({what}, now {}) without posting an error: the input is \
                 probably truncated or damaged",
                state_name(current)
            ),
            debug: None,
        }));
        st.error = Some(clone_error(&err));
        drop(st);
        self.shared.changed.notify_all();
        Some(err)
    }

    pub fn gst(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// The current state's name: "NULL", "READY", "PAUSED" or "PLAYING".
    pub fn state(&self) -> &'static str {
        state_name(self.pipeline.current_state())
    }

    fn target_state(&self) -> gst::State {
        let (_, current, pending) = self.pipeline.state(gst::ClockTime::ZERO);
        if pending == gst::State::VoidPending { current } else { pending }
    }

    /// Asks for `state` without waiting for asynchronous completion (a pipeline with an
    /// appsrc cannot preroll before data is pushed). A synchronous failure returns the
    /// ERROR the failing element posted, and leaves the pipeline in NULL.
    pub fn set_state(&self, state: gst::State) -> Result<()> {
        self.shared.lock().wanted = state;
        if state <= gst::State::Ready {
            self.run_stop_hooks(true);
            let r = self.pipeline.set_state(state);
            self.run_stop_hooks(false);
            let mut st = self.shared.lock();
            st.eos = false;
            st.error = None;
            st.wanted = state;
            drop(st);
            self.sources.lock().unwrap_or_else(|e| e.into_inner()).values_mut().for_each(|s| {
                s.next_pts = None;
                s.ended = false;
            });
            self.eos_sent.store(false, Ordering::Relaxed);
            r.map_err(|_| Error::Gst(format!("could not change the pipeline's state to {}", state_name(state))))?;
            return Ok(());
        }
        match self.pipeline.set_state(state) {
            Ok(_) => Ok(()),
            Err(_) => {
                let err = self.shared.error().unwrap_or_else(|| {
                    Error::Gst(format!("could not change the pipeline's state to {}", state_name(state)))
                });
                self.shared.lock().wanted = gst::State::Null;
                let _ = self.pipeline.set_state(gst::State::Null);
                Err(err)
            }
        }
    }

    /// Stops the pipeline (NULL). If an EOS is on its way (`end_of_stream()` was called on
    /// every source of the pipeline, all of them appsrcs, or [`Self::send_eos`] was called)
    /// and has not reached the bus, first waits up to `finish` for it, so that muxers
    /// finish their files. The pipeline ends in NULL whatever happens; an ERROR during the
    /// wait is returned, and so is a wait that runs out of time ([`Error::TimeoutHint`]).
    pub fn stop(&self, finish: Option<Duration>, interrupt: Interrupt<'_>) -> Result<()> {
        let result = match finish {
            Some(t) if self.eos_pending() => match self.wait_eos(Some(t), interrupt) {
                Err(Error::Timeout(after)) => Err(Error::TimeoutHint {
                    after,
                    hint: "the stream was ended but EOS did not reach the end of the pipeline, so its output \
                           may be incomplete; call run() after end_of_stream() to wait for it"
                        .into(),
                }),
                other => other,
            },
            _ => Ok(()),
        };
        let stopped = self.set_state(gst::State::Null);
        result.and(stopped)
    }

    /// Whether an EOS that framepipe was asked to send is still travelling: the pipeline is
    /// running, has no appsink, no ERROR and no EOS reached the bus, and either `send_eos`
    /// was called or every source element is an appsrc whose stream was ended.
    fn eos_pending(&self) -> bool {
        if self.target_state() < gst::State::Paused {
            return false;
        }
        {
            let st = self.shared.lock();
            if st.eos || st.error.is_some() {
                return false;
            }
        }
        // appsink holds EOS back until its samples are pulled (`wait-on-eos`): nobody will
        // pull them now, and what it would receive is not a file to finish.
        if self.pipeline.iterate_recurse().into_iter().flatten().any(|e| e.downcast_ref::<AppSink>().is_some()) {
            return false;
        }
        if self.eos_sent.load(Ordering::Relaxed) {
            return true;
        }
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let mut any = false;
        for element in self.pipeline.iterate_sources().into_iter().flatten() {
            if element.downcast_ref::<AppSrc>().is_none()
                || !sources.get(element.name().as_str()).is_some_and(|s| s.ended)
            {
                return false;
            }
            any = true;
        }
        any
    }

    /// The appsrcs of the pipeline whose stream was not ended, by name.
    fn open_appsrcs(&self) -> Vec<String> {
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        self.pipeline
            .iterate_recurse()
            .into_iter()
            .flatten()
            .filter(|e| e.downcast_ref::<AppSrc>().is_some())
            .map(|e| e.name().to_string())
            .filter(|name| !sources.get(name).is_some_and(|s| s.ended))
            .collect()
    }

    /// Starts playing unless the pipeline is already paused or playing (or on its way).
    pub fn ensure_started(&self) -> Result<()> {
        if self.target_state() < gst::State::Paused {
            self.set_state(gst::State::Playing)?;
        }
        Ok(())
    }

    /// Waits until a pending asynchronous state change completes (preroll).
    pub fn wait_state(&self, timeout: Option<Duration>, interrupt: Interrupt<'_>) -> Result<()> {
        let start = Instant::now();
        loop {
            let (ret, _, _) = self.pipeline.state(gst::ClockTime::from_mseconds(POLL.as_millis() as u64));
            if let Some(err) = self.shared.error() {
                return Err(err);
            }
            match ret {
                Ok(gst::StateChangeSuccess::Async) => {}
                Ok(_) => return Ok(()),
                Err(_) => return Err(Error::Gst("the pipeline failed to change state".into())),
            }
            check_wait(start, timeout, interrupt)?;
        }
    }

    /// The first ERROR the pipeline posted since it was last stopped.
    pub fn error(&self) -> Option<Error> {
        self.shared.error()
    }

    /// Plays until EOS, then stops. An ERROR, a timeout or an interrupt also stop the
    /// pipeline (it always ends in NULL) before the error is returned.
    ///
    /// A timeout while an appsrc of the pipeline has not been given `end_of_stream()` says
    /// so ([`Error::TimeoutHint`]): EOS cannot come before it.
    pub fn run(&self, timeout: Option<Duration>, interrupt: Interrupt<'_>) -> Result<()> {
        let result = self.ensure_started().and_then(|_| self.wait_eos(timeout, interrupt));
        let result = match result {
            Err(Error::Timeout(after)) => {
                let open = self.open_appsrcs();
                match open.as_slice() {
                    [] => Err(Error::Timeout(after)),
                    names => Err(Error::TimeoutHint {
                        after,
                        hint: format!(
                            "no EOS: {} never got end_of_stream(); call {} after the last push",
                            names.iter().map(|n| format!("appsrc {n:?}")).collect::<Vec<_>>().join(", "),
                            names.iter().map(|n| format!("end_of_stream({n:?})")).collect::<Vec<_>>().join(", "),
                        ),
                    }),
                }
            }
            other => other,
        };
        let stopped = self.set_state(gst::State::Null);
        result.and(stopped)
    }

    /// Waits for EOS without stopping the pipeline: `Ok(true)` at EOS, `Ok(false)` when
    /// `timeout` passes first, the pipeline's error if it posts one.
    pub fn wait(&self, timeout: Option<Duration>, interrupt: Interrupt<'_>) -> Result<bool> {
        match self.wait_eos(timeout, interrupt) {
            Ok(()) => Ok(true),
            Err(Error::Timeout(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn wait_eos(&self, timeout: Option<Duration>, interrupt: Interrupt<'_>) -> Result<()> {
        let start = Instant::now();
        let mut st = self.shared.lock();
        loop {
            if let Some(err) = &st.error {
                return Err(clone_error(err));
            }
            if st.eos {
                return Ok(());
            }
            st = self.shared.changed.wait_timeout(st, POLL).unwrap_or_else(|e| e.into_inner()).0;
            if st.error.is_none() && !st.eos {
                drop(st);
                if let Some(err) = self.fell_back() {
                    return Err(err);
                }
                check_wait(start, timeout, interrupt)?;
                st = self.shared.lock();
            }
        }
    }

    fn named<T: IsA<gst::Element>>(&self, name: &str, kind: &str) -> Result<T> {
        let element = self.pipeline.by_name(name).ok_or_else(|| {
            let mut names: Vec<String> =
                self.pipeline.iterate_recurse().into_iter().flatten().map(|e| e.name().to_string()).collect();
            names.sort();
            Error::Key(format!("the pipeline has no element named {name:?} (it has {})", names.join(", ")))
        })?;
        let factory = element.factory().map(|f| f.name().to_string()).unwrap_or_default();
        element.downcast::<T>().map_err(|_| Error::Value(format!("element {name:?} is a {factory}, not an {kind}")))
    }

    /// The element called `name`.
    pub fn element(&self, name: &str) -> Result<gst::Element> {
        self.named::<gst::Element>(name, "element")
    }

    fn appsink(&self, name: &str) -> Result<AppSink> {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sinks.get(name) {
            return Ok(s.clone());
        }
        let sink: AppSink = self.named(name, "appsink")?;
        sinks.insert(name.to_string(), sink.clone());
        Ok(sink)
    }

    /// The next sample from appsink `sink`, starting the pipeline if needed; `None` at EOS
    /// (or once the pipeline was stopped).
    pub fn pull(&self, sink: &str, timeout: Option<Duration>, interrupt: Interrupt<'_>) -> Result<Option<gst::Sample>> {
        let appsink = self.appsink(sink)?;
        // An appsink hands out samples only while playing.
        if self.target_state() < gst::State::Playing {
            self.set_state(gst::State::Playing)?;
        }
        let start = Instant::now();
        loop {
            let wait = match timeout {
                Some(t) => t.saturating_sub(start.elapsed()).min(POLL),
                None => POLL,
            };
            if let Some(sample) = appsink.try_pull_sample(gst::ClockTime::from_nseconds(wait.as_nanos() as u64)) {
                return Ok(Some(sample));
            }
            if let Some(err) = self.shared.error() {
                return Err(err);
            }
            if appsink.is_eos() {
                return Ok(None);
            }
            if let Some(err) = self.fell_back() {
                return Err(err);
            }
            if self.target_state() < gst::State::Paused {
                // Stopped on purpose (from another thread): the end, as documented.
                return Ok(None);
            }
            check_wait(start, timeout, interrupt)?;
            if wait.is_zero() {
                // The appsink returned at once without EOS (flushing while a state change
                // is under way): do not spin.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// The media an appsrc carries. If it has no caps yet, `derive` (the caps implied by
    /// the first array pushed) sets them and the stream format to TIME.
    pub fn source_media(&self, source: &str, derive: Option<&dyn Fn() -> Result<gst::Caps>>) -> Result<MediaInfo> {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sources.get(source) {
            return Ok(s.media.clone());
        }
        let appsrc: AppSrc = self.named(source, "appsrc")?;
        let caps = match appsrc.caps() {
            Some(c) => Some(c),
            None => match derive {
                Some(f) => {
                    let caps = f()?;
                    appsrc.set_caps(Some(&caps));
                    appsrc.set_format(gst::Format::Time);
                    Some(caps)
                }
                None => None,
            },
        };
        let media = MediaInfo::from_caps(caps.as_deref());
        if caps.is_some() {
            sources.insert(source.to_string(), SourceState { media: media.clone(), next_pts: None, ended: false });
        }
        Ok(media)
    }

    /// Sets caps on an appsrc that has none (from a pushed Frame's caps).
    pub fn adopt_caps(&self, source: &str, caps: &gst::Caps) -> Result<()> {
        let appsrc: AppSrc = self.named(source, "appsrc")?;
        if appsrc.caps().is_none() {
            appsrc.set_caps(Some(caps));
            appsrc.set_format(gst::Format::Time);
        }
        Ok(())
    }

    /// Pushes `buffer` into appsrc `source`. Missing timestamps continue from the previous
    /// push at the caps' framerate (or audio rate); a full appsrc queue is waited on, with
    /// the interrupt check called, rather than grown.
    pub fn push(
        &self,
        source: &str,
        mut buffer: gst::Buffer,
        pts: Option<gst::ClockTime>,
        duration: Option<gst::ClockTime>,
        interrupt: Interrupt<'_>,
    ) -> Result<()> {
        let appsrc: AppSrc = self.named(source, "appsrc")?;
        self.ensure_started()?;
        {
            let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
            let st = sources.entry(source.to_string()).or_insert_with(|| SourceState {
                media: MediaInfo::from_caps(appsrc.caps().as_deref()),
                next_pts: None,
                ended: false,
            });
            if st.ended {
                return Err(Error::Value(format!("appsrc {source:?} has already ended its stream")));
            }
            let b = buffer.make_mut();
            let pts = pts.or(b.pts()).unwrap_or(st.next_pts.unwrap_or(gst::ClockTime::ZERO));
            let duration = duration.or(b.duration()).or_else(|| natural_duration(&st.media, b.size()));
            b.set_pts(pts);
            if b.dts().is_none() {
                b.set_dts(pts);
            }
            b.set_duration(duration);
            st.next_pts = Some(pts + duration.unwrap_or(gst::ClockTime::ZERO));
        }
        self.wait_for_room(&appsrc, interrupt)?;
        appsrc.push_buffer(buffer).map_err(|flow| match self.shared.error() {
            Some(err) => err,
            None => Error::Gst(format!("appsrc {source:?} refused the buffer: {flow:?}")),
        })?;
        Ok(())
    }

    fn wait_for_room(&self, appsrc: &AppSrc, interrupt: Interrupt<'_>) -> Result<()> {
        let mut last_check = Instant::now();
        loop {
            let max = appsrc.max_bytes();
            if max == 0 || appsrc.current_level_bytes() < max || self.pipeline.current_state() != gst::State::Playing {
                return Ok(());
            }
            if let Some(err) = self.shared.error() {
                return Err(err);
            }
            std::thread::sleep(Duration::from_millis(1));
            if last_check.elapsed() >= POLL {
                if interrupt() {
                    return Err(Error::Interrupted);
                }
                last_check = Instant::now();
            }
        }
    }

    /// Ends the stream of appsrc `source`.
    pub fn end_of_stream(&self, source: &str) -> Result<()> {
        let appsrc: AppSrc = self.named(source, "appsrc")?;
        self.sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(source.to_string())
            .or_insert_with(|| SourceState {
                media: MediaInfo::from_caps(appsrc.caps().as_deref()),
                next_pts: None,
                ended: false,
            })
            .ended = true;
        appsrc
            .end_of_stream()
            .map(|_| ())
            .map_err(|flow| Error::Gst(format!("appsrc {source:?} could not end its stream: {flow:?}")))
    }

    /// Sends EOS into the whole pipeline (sources stop, muxers finalise).
    pub fn send_eos(&self) -> bool {
        let sent = self.pipeline.send_event(gst::event::Eos::new());
        if sent {
            self.eos_sent.store(true, Ordering::Relaxed);
        }
        sent
    }

    /// Whether EOS reached the bus since the pipeline was last stopped.
    pub fn is_eos(&self) -> bool {
        self.shared.lock().eos
    }

    /// Seeks to `position`, prerolling first if the pipeline has not started.
    pub fn seek(&self, position: Duration, accurate: bool, interrupt: Interrupt<'_>) -> Result<()> {
        if self.target_state() < gst::State::Paused {
            self.set_state(gst::State::Paused)?;
        }
        self.wait_state(Some(Duration::from_secs(30)), interrupt)?;
        let flags = gst::SeekFlags::FLUSH | if accurate { gst::SeekFlags::ACCURATE } else { gst::SeekFlags::KEY_UNIT };
        self.pipeline
            .seek_simple(flags, gst::ClockTime::from_nseconds(position.as_nanos() as u64))
            .map_err(|_| Error::Value(format!("the pipeline cannot seek to {:.3} s", position.as_secs_f64())))?;
        self.shared.lock().eos = false;
        Ok(())
    }

    pub fn position(&self) -> Option<gst::ClockTime> {
        self.pipeline.query_position::<gst::ClockTime>()
    }

    pub fn duration(&self) -> Option<gst::ClockTime> {
        self.pipeline.query_duration::<gst::ClockTime>()
    }

    /// The oldest unread bus message, waiting up to `timeout` (forever for `None`) for one.
    pub fn pop_message(&self, timeout: Option<Duration>, interrupt: Interrupt<'_>) -> Result<Option<gst::Message>> {
        let start = Instant::now();
        let mut st = self.shared.lock();
        loop {
            if let Some(m) = st.queue.pop_front() {
                return Ok(Some(m));
            }
            let wait = match timeout {
                Some(t) if start.elapsed() >= t => return Ok(None),
                Some(t) => (t - start.elapsed()).min(POLL),
                None => POLL,
            };
            st = self.shared.changed.wait_timeout(st, wait).unwrap_or_else(|e| e.into_inner()).0;
            if st.queue.is_empty() {
                drop(st);
                if interrupt() {
                    return Err(Error::Interrupted);
                }
                st = self.shared.lock();
            }
        }
    }

    /// The pipeline as Graphviz DOT.
    pub fn graph(&self) -> String {
        self.pipeline.debug_to_dot_data(gst::DebugGraphDetails::all()).to_string()
    }

    /// Counts the video frames flowing through the pipeline, for progress reports: every
    /// sink pad (of elements there now and of those added later, inside decodebin too)
    /// counts its buffers, and [`FrameCounter::frames`] reports the busiest pad carrying
    /// raw video (encoded video if there is no raw video, buffers at the sinks if there is
    /// no video at all). So `videotestsrc num-buffers=60 ! x264enc ! mp4mux ! filesink`
    /// counts 60 frames, not the muxer's 64 buffers. Counting happens in pad probes, with
    /// no Python involved.
    pub fn count_frames(&self) -> Arc<FrameCounter> {
        let counter = Arc::new(FrameCounter::default());
        for element in self.pipeline.iterate_recurse().into_iter().flatten() {
            counter.watch(&element);
        }
        let weak = Arc::downgrade(&counter);
        self.pipeline.connect_deep_element_added(move |_, _, element| {
            if let Some(counter) = weak.upgrade() {
                counter.watch(element);
            }
        });
        counter
    }

    /// Counts the buffers reaching the pipeline's sinks (elements without source pads),
    /// for progress reports. Counting happens in pad probes, with no Python involved.
    pub fn count_sink_buffers(&self) -> Arc<AtomicU64> {
        let counter = Arc::new(AtomicU64::new(0));
        let mut sinks: Vec<gst::Element> = Vec::new();
        let mut it = self.pipeline.iterate_sinks();
        while let Ok(Some(e)) = it.next() {
            sinks.push(e);
        }
        // Count only at the first sink, so a tee to several sinks does not double count.
        if let Some(sink) = sinks.first() {
            for pad in sink.sink_pads() {
                let c = counter.clone();
                pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, info| {
                    let n = match &info.data {
                        Some(gst::PadProbeData::BufferList(l)) => l.len() as u64,
                        _ => 1,
                    };
                    c.fetch_add(n, Ordering::Relaxed);
                    gst::PadProbeReturn::Ok
                });
            }
        }
        counter
    }
}

/// What [`Pipeline::count_frames`] returns: buffer counts per sink pad, by what they carry.
#[derive(Default)]
pub struct FrameCounter {
    pads: Mutex<Vec<Arc<PadCount>>>,
}

#[derive(Default)]
struct PadCount {
    /// 0: not known yet, 1: raw video, 2: other video, 3: anything else.
    kind: std::sync::atomic::AtomicU8,
    /// The pad's element has no source pads.
    at_sink: bool,
    buffers: AtomicU64,
}

fn caps_kind(caps: Option<&gst::CapsRef>) -> u8 {
    match caps.and_then(|c| c.structure(0)).map(|s| s.name().to_string()) {
        Some(n) if n == "video/x-raw" => 1,
        Some(n) if n.starts_with("video/") || n.starts_with("image/") => 2,
        Some(_) => 3,
        None => 0,
    }
}

impl FrameCounter {
    /// Frames counted so far (see [`Pipeline::count_frames`]).
    pub fn frames(&self) -> u64 {
        let pads = self.pads.lock().unwrap_or_else(|e| e.into_inner());
        let busiest = |keep: &dyn Fn(&PadCount) -> bool| {
            pads.iter().filter(|p| keep(p)).map(|p| p.buffers.load(Ordering::Relaxed)).max()
        };
        busiest(&|p| p.kind.load(Ordering::Relaxed) == 1)
            .or_else(|| busiest(&|p| p.kind.load(Ordering::Relaxed) == 2))
            .or_else(|| busiest(&|p| p.at_sink))
            .unwrap_or(0)
    }

    fn watch(self: &Arc<Self>, element: &gst::Element) {
        for pad in element.sink_pads() {
            self.probe(element, &pad);
        }
        let weak = Arc::downgrade(self);
        element.connect_pad_added(move |element, pad| {
            if pad.direction() == gst::PadDirection::Sink
                && let Some(counter) = weak.upgrade()
            {
                counter.probe(element, pad);
            }
        });
    }

    fn probe(&self, element: &gst::Element, pad: &gst::Pad) {
        let count = Arc::new(PadCount { at_sink: element.src_pads().is_empty(), ..PadCount::default() });
        self.pads.lock().unwrap_or_else(|e| e.into_inner()).push(count.clone());
        let types = gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST | gst::PadProbeType::EVENT_DOWNSTREAM;
        pad.add_probe(types, move |pad, info| {
            let n = match &info.data {
                Some(gst::PadProbeData::Event(e)) => {
                    if let gst::EventView::Caps(c) = e.view() {
                        count.kind.store(caps_kind(Some(c.caps())), Ordering::Relaxed);
                    }
                    return gst::PadProbeReturn::Ok;
                }
                Some(gst::PadProbeData::BufferList(l)) => l.len() as u64,
                _ => 1,
            };
            if count.kind.load(Ordering::Relaxed) == 0 {
                count.kind.store(caps_kind(pad.current_caps().as_deref()), Ordering::Relaxed);
            }
            count.buffers.fetch_add(n, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
}

/// The duration one buffer of this media naturally covers.
fn natural_duration(media: &MediaInfo, size: usize) -> Option<gst::ClockTime> {
    match media {
        MediaInfo::Video(info) => {
            let fps = info.fps();
            (fps.numer() > 0).then(|| {
                gst::ClockTime::SECOND
                    .mul_div_round(fps.denom() as u64, fps.numer() as u64)
                    .unwrap_or(gst::ClockTime::ZERO)
            })
        }
        MediaInfo::Audio(info) => {
            let frames = (size / info.bpf().max(1) as usize) as u64;
            gst::ClockTime::SECOND.mul_div_round(frames, info.rate() as u64)
        }
        MediaInfo::Other => None,
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(bus) = self.pipeline.bus() {
            bus.unset_sync_handler();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never() -> impl FnMut() -> bool {
        || false
    }

    #[test]
    fn unknown_element_names_it() {
        match Pipeline::new("videotestsrc ! nosuchelementxyz ! fakesink") {
            Err(Error::Parse { token, .. }) => assert_eq!(token.as_deref(), Some("nosuchelementxyz")),
            other => panic!("expected a parse error, got {:?}", other.err()),
        }
    }

    #[test]
    fn pulls_until_eos() {
        let p = Pipeline::new(
            "videotestsrc num-buffers=5 ! video/x-raw,format=RGB,width=8,height=6 ! appsink name=out sync=false",
        )
        .unwrap();
        let mut n = 0;
        while let Some(s) = p.pull("out", Some(Duration::from_secs(10)), &mut never()).unwrap() {
            assert!(s.buffer().is_some());
            n += 1;
        }
        assert_eq!(n, 5);
    }

    #[test]
    fn appsinks_unsync_unless_the_description_says() {
        let p = Pipeline::new("videotestsrc ! appsink name=a  videotestsrc ! appsink name=b sync=true").unwrap();
        assert!(!p.element("a").unwrap().property::<bool>("sync"));
        assert!(p.element("b").unwrap().property::<bool>("sync"));
    }

    #[test]
    fn counts_frames_not_muxer_buffers() {
        let p = Pipeline::new(
            "videotestsrc num-buffers=12 ! video/x-raw,width=32,height=24 ! videoconvert ! x264enc ! mp4mux ! fakesink",
        )
        .unwrap();
        let counter = p.count_frames();
        p.run(Some(Duration::from_secs(30)), &mut never()).unwrap();
        assert_eq!(counter.frames(), 12);
    }

    #[test]
    fn unknown_names_list_the_elements() {
        let p = Pipeline::new("videotestsrc name=src ! fakesink name=sink").unwrap();
        match p.element("nope") {
            Err(Error::Key(m)) => assert!(m.contains("\"nope\"") && m.contains("sink") && m.contains("src"), "{m}"),
            other => panic!("expected a key error, got {:?}", other.err()),
        }
    }

    #[test]
    fn missing_file_names_the_filesrc() {
        let p = Pipeline::new("filesrc name=reader location=/nonexistent/x.mp4 ! fakesink").unwrap();
        match p.run(Some(Duration::from_secs(10)), &mut never()) {
            Err(Error::Pipeline(e)) => {
                assert_eq!(e.element.as_deref(), Some("reader"));
                assert!(e.to_string().contains("/nonexistent/x.mp4"), "{e}");
            }
            other => panic!("expected a pipeline error, got {other:?}"),
        }
        assert_eq!(p.state(), "NULL");
    }

    #[test]
    fn timeout_stops_the_pipeline() {
        let p = Pipeline::new("videotestsrc is-live=true ! fakesink").unwrap();
        let r = p.run(Some(Duration::from_millis(200)), &mut never());
        assert!(matches!(r, Err(Error::Timeout(_))));
        assert_eq!(p.state(), "NULL");
    }

    #[test]
    fn interrupt_stops_waiting() {
        let p = Pipeline::new("videotestsrc is-live=true ! fakesink").unwrap();
        let mut calls = 0;
        let mut stop_third = || {
            calls += 1;
            calls >= 3
        };
        assert!(matches!(p.run(None, &mut stop_third), Err(Error::Interrupted)));
        assert_eq!(p.state(), "NULL");
    }
}
