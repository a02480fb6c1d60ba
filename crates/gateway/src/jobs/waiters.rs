//! Long-polls waiting for a job's result, woken when it is stored: by this
//! node's own writes, or by another node's through PostgreSQL NOTIFY.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Waiters {
    by_request: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Waiters {
    /// Waits up to `at_most` for `request_id` to be woken. `check` runs
    /// after the wait is registered, so a wake between the caller's last
    /// look and the wait is not missed; a `Some` from it ends the wait.
    pub async fn wait<T, F>(&self, request_id: &str, at_most: Duration, check: F) -> Option<T>
    where
        F: Future<Output = Option<T>>,
    {
        let notify = self
            .by_request
            .lock()
            .expect("waiters lock")
            .entry(request_id.to_owned())
            .or_default()
            .clone();
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let found = match check.await {
            Some(found) => Some(found),
            None => {
                let _ = tokio::time::timeout(at_most, notified).await;
                None
            }
        };
        let mut map = self.by_request.lock().expect("waiters lock");
        // The map's reference and ours: nobody else waits.
        if Arc::strong_count(&notify) == 2 {
            map.remove(request_id);
        }
        found
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
