//! Long-polls waiting for a job's result, woken when it is stored: by this
//! node's own writes, or by another node's through PostgreSQL NOTIFY.
//!
//! A wake by this node's job writer carries the end it committed, so the
//! poll it wakes answers without reading the row again; any other wake
//! (another node's NOTIFY, a cancel) only says that the row changed. The
//! NOTIFY of an end this node is committing is its own, and could beat
//! the wake that carries the end: it is held back until that wake is
//! done ([`Waiters::committing`]).
//!
//! An end committed here is also recorded in [`Known`], before anyone is
//! woken.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

use super::known::Known;
use super::store::Final;

/// The end of a job as committed, shared by every poll waiting for it.
pub type Ended = Arc<OnceLock<Arc<Final>>>;

#[derive(Default)]
pub struct Waiters {
    by_request: Mutex<HashMap<String, (Arc<Notify>, Ended)>>,
    /// Jobs whose end this node is committing, and whether a NOTIFY of
    /// that end was held back meanwhile.
    committing: Mutex<HashMap<String, bool>>,
    known: Known,
}

impl Waiters {
    /// Starts waiting for `request_id` to be woken. Register before looking
    /// at the job: a wake between the look and the wait is then not missed.
    pub fn register<'a>(&'a self, request_id: &'a str) -> Registration<'a> {
        let (notify, ended) = self
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
            ended,
            notified,
        }
    }

    /// What this node knows of the jobs it runs.
    pub fn known(&self) -> &Known {
        &self.known
    }

    /// Wakes everyone waiting for `request_id`, with its end if the caller
    /// committed it.
    pub fn wake(&self, request_id: &str, end: Option<Arc<Final>>) {
        // Known before anyone hears: a poll that looks after registering
        // then either sees the end or is woken with it.
        if let Some(end) = &end {
            self.known.ended(request_id, end);
        }
        let waiting = self
            .by_request
            .lock()
            .expect("waiters lock")
            .remove(request_id);
        if let Some((notify, ended)) = waiting {
            if let Some(end) = end {
                let _ = ended.set(end);
            }
            notify.notify_waiters();
        }
    }
}

impl Waiters {
    /// Wakes for a NOTIFY that `request_id` ended, unless the end is this
    /// node's own and its wake, carrying it, is still to come.
    pub fn wake_noticed(&self, request_id: &str) {
        if let Some(held) = self
            .committing
            .lock()
            .expect("committing lock")
            .get_mut(request_id)
        {
            *held = true;
            return;
        }
        self.wake(request_id, None);
    }

    /// Marks the ends of `request_ids` as being committed here, until the
    /// guard is dropped (after the commit's own wakes). Dropping it
    /// delivers, without an end, each NOTIFY held back meanwhile: the end
    /// it told of may be another node's, if this node's was not applied.
    pub fn committing(&self, request_ids: Vec<String>) -> Committing<'_> {
        self.committing
            .lock()
            .expect("committing lock")
            .extend(request_ids.iter().map(|id| (id.clone(), false)));
        Committing {
            waiters: self,
            request_ids,
        }
    }
}

/// See [`Waiters::committing`].
pub struct Committing<'a> {
    waiters: &'a Waiters,
    request_ids: Vec<String>,
}

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        let held: Vec<&String> = {
            let mut committing = self.waiters.committing.lock().expect("committing lock");
            self.request_ids
                .iter()
                .filter(|id| committing.remove(*id) == Some(true))
                .collect()
        };
        for id in held {
            self.waiters.wake(id, None);
        }
    }
}

/// How a wait ended.
pub enum Woken {
    /// With the job's end, as this node committed it.
    Ended(Arc<Final>),
    /// The job changed; read it to know how.
    Changed,
    /// Nothing happened in the time given.
    TimedOut,
}

/// One registered wait; see [`Waiters::register`].
pub struct Registration<'a> {
    waiters: &'a Waiters,
    request_id: &'a str,
    notify: Arc<Notify>,
    ended: Ended,
    notified: Pin<Box<OwnedNotified>>,
}

impl Registration<'_> {
    /// Waits up to `at_most`.
    pub async fn wait(mut self, at_most: Duration) -> Woken {
        if tokio::time::timeout(at_most, self.notified.as_mut())
            .await
            .is_err()
        {
            return Woken::TimedOut;
        }
        match self.ended.get() {
            Some(end) => Woken::Ended(end.clone()),
            None => Woken::Changed,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "prq_01kb0000000000000000000000";
    const SHORT: Duration = Duration::from_millis(50);

    fn end() -> Arc<Final> {
        Arc::new(Final {
            state: "succeeded",
            response: "{}".into(),
            http_code: 200,
            finished_at: 1,
            expires_at: 2,
            upstream_request_id: None,
        })
    }

    #[tokio::test]
    async fn a_wake_with_the_end_hands_it_over() {
        let waiters = Waiters::default();
        let waiting = waiters.register(ID);
        waiters.wake(ID, Some(end()));
        assert!(matches!(waiting.wait(SHORT).await, Woken::Ended(e) if e.http_code == 200));
    }

    #[tokio::test]
    async fn a_notice_of_an_end_committed_here_waits_for_the_wake_that_carries_it() {
        let waiters = Waiters::default();
        let waiting = waiters.register(ID);
        let committing = waiters.committing(vec![ID.to_owned()]);
        // The node's own NOTIFY, before its writer's wake: held back.
        waiters.wake_noticed(ID);
        waiters.wake(ID, Some(end()));
        drop(committing);
        assert!(matches!(waiting.wait(SHORT).await, Woken::Ended(_)));
    }

    #[tokio::test]
    async fn a_notice_held_back_is_delivered_when_the_commit_is_done() {
        let waiters = Waiters::default();
        let waiting = waiters.register(ID);
        let committing = waiters.committing(vec![ID.to_owned()]);
        // Another node's end, while this node's run lost the job.
        waiters.wake_noticed(ID);
        drop(committing);
        assert!(matches!(waiting.wait(SHORT).await, Woken::Changed));
    }

    #[tokio::test]
    async fn a_commit_with_no_notice_held_back_wakes_nobody_again() {
        let waiters = Waiters::default();
        let committing = waiters.committing(vec![ID.to_owned()]);
        waiters.wake(ID, Some(end()));
        let later = waiters.register(ID);
        drop(committing);
        assert!(matches!(later.wait(SHORT).await, Woken::TimedOut));
    }

    #[tokio::test]
    async fn a_notice_of_another_nodes_end_wakes_at_once() {
        let waiters = Waiters::default();
        let waiting = waiters.register(ID);
        waiters.wake_noticed(ID);
        assert!(matches!(waiting.wait(SHORT).await, Woken::Changed));
        let waiting = waiters.register(ID);
        assert!(matches!(waiting.wait(SHORT).await, Woken::TimedOut));
    }
}
