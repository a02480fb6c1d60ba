//! Long-polls waiting for a job's result, woken when it is stored: by this
//! node's own writes, or by another node's through PostgreSQL NOTIFY.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Waiters {
    by_request: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Waiters {
    /// Starts waiting for `request_id` to be woken. Register before looking
    /// at the job: a wake between the look and the wait is then not missed.
    pub fn register<'a>(&'a self, request_id: &'a str) -> Registration<'a> {
        let notify = self
            .by_request
            .lock()
            .expect("waiters lock")
            .entry(request_id.to_owned())
            .or_default()
            .clone();
        let mut notified = Box::pin(notify.clone().notified_owned());
        notified.as_mut().enable();
        Registration {
            waiters: self,
            request_id,
            notify,
            notified,
        }
    }

    /// Wakes everyone waiting for `request_id`.
    pub fn wake(&self, request_id: &str) {
        let notify = self
            .by_request
            .lock()
            .expect("waiters lock")
            .remove(request_id);
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }
}

/// One registered wait; see [`Waiters::register`].
pub struct Registration<'a> {
    waiters: &'a Waiters,
    request_id: &'a str,
    notify: Arc<Notify>,
    notified: Pin<Box<OwnedNotified>>,
}

impl Registration<'_> {
    /// Waits up to `at_most`; whether it was woken.
    pub async fn wait(mut self, at_most: Duration) -> bool {
        tokio::time::timeout(at_most, self.notified.as_mut())
            .await
            .is_ok()
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut map = self.waiters.by_request.lock().expect("waiters lock");
        // The map's reference, ours and our `notified`'s: nobody else waits.
        if Arc::strong_count(&self.notify) == 3 {
            map.remove(self.request_id);
        }
    }
}
