//! Off-thread jobs: a source's `create` and a sink's `render` run on a thread of the
//! element's own while the streaming thread waits without the GIL, so that `unlock` can
//! let the streaming thread go at once however long the Python call takes.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};

use gst::prelude::*;
use gstframepipe::host::{CallbackError, CallbackResult};

use super::hooks::{PyHooks, Shared};

/// A call running on the element's Python thread, which `unlock` can stop waiting for.
pub(super) trait Cancel: Send + Sync {
    fn cancel(&self);
}

struct Slot<R> {
    state: Mutex<(Option<CallbackResult<R>>, bool)>,
    done: Condvar,
}

impl<R: Send> Cancel for Slot<R> {
    fn cancel(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.done.notify_all();
    }
}

pub(super) type Job = Box<dyn FnOnce() + Send>;

/// Longest a stopping element waits for its Python thread to run `stop()`.
pub(super) const STOP_WAIT: std::time::Duration = std::time::Duration::from_millis(800);

impl PyHooks {
    /// The element's Python thread, if it was started.
    pub(super) fn existing_sender(&self) -> Option<mpsc::Sender<Job>> {
        self.worker.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Runs `f` on the element's Python thread after whatever is queued there, waiting up
    /// to `limit` (None: until it ran); None when it did not run in time.
    pub(super) fn on_worker<R: Send + 'static>(
        &self,
        tx: mpsc::Sender<Job>,
        f: impl FnOnce(&Shared) -> CallbackResult<R> + Send + 'static,
        limit: Option<std::time::Duration>,
    ) -> Option<CallbackResult<R>> {
        let (done_tx, done_rx) = mpsc::channel();
        let shared = self.shared.clone();
        let job: Job = Box::new(move || {
            let _ = done_tx.send(f(&shared));
        });
        if tx.send(job).is_err() {
            return Some(Err(CallbackError::new("the element's Python thread is gone")));
        }
        match limit {
            Some(limit) => done_rx.recv_timeout(limit).ok(),
            None => done_rx.recv().ok(),
        }
    }

    fn sender(&self) -> CallbackResult<mpsc::Sender<Job>> {
        let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = worker.as_ref() {
            return Ok(tx.clone());
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let name = self.shared.element.upgrade().map(|e| e.name().to_string()).unwrap_or_default();
        std::thread::Builder::new()
            .name(format!("fp-{name}"))
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .map_err(|e| CallbackError::new(format!("cannot start the element's Python thread: {e}")))?;
        *worker = Some(tx.clone());
        Ok(tx)
    }

    /// Runs `f` on the element's Python thread and waits for it, or until `unlock`.
    pub(super) fn off_thread<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Shared) -> CallbackResult<R> + Send + 'static,
    ) -> CallbackResult<R> {
        let slot = Arc::new(Slot { state: Mutex::new((None, false)), done: Condvar::new() });
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(slot.clone() as Arc<dyn Cancel>);
        let result = if self.flushing.load(Ordering::SeqCst) {
            Err(CallbackError::flushing())
        } else {
            let shared = self.shared.clone();
            let job_slot = slot.clone();
            let job: Job = Box::new(move || {
                let result = f(&shared);
                job_slot.state.lock().unwrap_or_else(PoisonError::into_inner).0 = Some(result);
                job_slot.done.notify_all();
            });
            match self.sender()?.send(job) {
                Err(_) => Err(CallbackError::new("the element's Python thread is gone")),
                Ok(()) => {
                    let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
                    loop {
                        if let Some(result) = state.0.take() {
                            break result;
                        }
                        if state.1 {
                            break Err(CallbackError::flushing());
                        }
                        state = slot.done.wait(state).unwrap_or_else(PoisonError::into_inner);
                    }
                }
            }
        };
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
        result
    }
}
