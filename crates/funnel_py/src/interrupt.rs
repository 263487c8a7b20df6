//! Long native calls run on a worker thread while the calling thread waits without the GIL,
//! waking every few milliseconds to let Python handle signals (the notebook's interrupt) and to
//! report progress. A panic in the worker becomes `InternalError`, never a crashed interpreter.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use funnel_core::{Control, CoreError};
use pyo3::prelude::*;

use crate::errors::{to_py, InternalError};

const POLL: Duration = Duration::from_millis(50);

/// Run `work` off the GIL; `progress(done, total)` is called from Python while it runs.
pub fn run_interruptible<T, F>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    work: F,
) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&Control) -> Result<T, CoreError> + Send,
{
    let control = Control::new();
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        // `detach` needs what it touches to be shareable; the lock is never contended.
        let done_rx = Mutex::new(done_rx);
        let wait = |timeout: Option<Duration>| match done_rx.lock() {
            Ok(rx) => match timeout {
                Some(t) => rx.recv_timeout(t).is_ok(),
                None => rx.recv().is_ok(),
            },
            Err(_) => true,
        };
        let control = &control;
        let worker = scope.spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| work(control)));
            let _ = done_tx.send(());
            outcome
        });
        let mut stop: Option<PyErr> = None;
        loop {
            let finished = py.detach(|| wait(Some(POLL)));
            if finished {
                break;
            }
            let check = py.check_signals().and_then(|_| match progress {
                Some(callback) => {
                    let (done, total) = control.progress();
                    callback.call1((done, total)).map(|_| ())
                }
                None => Ok(()),
            });
            if let Err(err) = check {
                control.cancel();
                stop = Some(err);
                py.detach(|| wait(None));
                break;
            }
        }
        let outcome = py.detach(|| worker.join());
        if let Some(err) = stop {
            return Err(err);
        }
        match outcome {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(err))) => Err(to_py(err)),
            Ok(Err(panic)) | Err(panic) => Err(InternalError::new_err(format!(
                "the engine failed unexpectedly ({}); please report this with the input that caused it",
                panic_message(&panic)
            ))),
        }
    })
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}
