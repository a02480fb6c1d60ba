//! What this node knows of the jobs it runs, so that a poll of one is
//! answered without reading the job table: the row as this node wrote or
//! claimed it, then the end this node committed.
//!
//! - An entry is made when a run starts here, and is given its end before
//!   any waiter hears of it ([`super::waiters::Waiters::wake`]). A poll
//!   registers its wait before it looks, so it either sees the end here or
//!   is woken with it.
//! - A run that ends with no end committed here (handed back, cancelled
//!   or taken over elsewhere) forgets its entry; the next poll reads the
//!   table.
//! - Ended entries stay for the polls that follow at once, the oldest
//!   dropped past [`KEEP_ENDED`] entries or [`KEEP_ENDED_BYTES`] of
//!   responses, so a burst nobody polls costs bounded memory.
//! - The rows kept have no input: only a custom role's scope check reads
//!   it, and such a caller's poll reads the table.
//!
//! What it cannot see: another node ending a job that this node still runs
//! after losing its lease. A poll without `wait` may answer 202 until the
//! run here finds out; a waiting poll is woken by that node's NOTIFY and
//! reads the table.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use actiongate_entity::job;

use super::store::Final;

/// The most ended entries kept.
const KEEP_ENDED: usize = 1024;
/// The most bytes of responses the ended entries keep.
const KEEP_ENDED_BYTES: usize = 4 << 20;

#[derive(Default)]
pub struct Known {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_request: HashMap<String, Entry>,
    /// Ended entries, oldest first, with the size of their responses.
    ended: VecDeque<(String, usize)>,
    ended_bytes: usize,
}

struct Entry {
    /// Shared, so a poll copies it outside the lock.
    row: Arc<job::Model>,
    end: Option<Arc<Final>>,
}

impl Known {
    /// A run of `row`'s job starts on this node.
    pub fn started(&self, row: job::Model) {
        debug_assert!(row.input.is_empty(), "known rows are kept without input");
        let request_id = row.request_id.clone();
        self.lock().by_request.insert(
            request_id,
            Entry {
                row: Arc::new(row),
                end: None,
            },
        );
    }

    /// This node committed `request_id`'s end.
    pub fn ended(&self, request_id: &str, end: &Arc<Final>) {
        let mut inner = self.lock();
        let Some(entry) = inner.by_request.get_mut(request_id) else {
            return;
        };
        entry.end = Some(end.clone());
        let bytes = end.response.len();
        inner.ended.push_back((request_id.to_owned(), bytes));
        inner.ended_bytes += bytes;
        while inner.ended.len() > KEEP_ENDED || inner.ended_bytes > KEEP_ENDED_BYTES {
            let Some((oldest, bytes)) = inner.ended.pop_front() else {
                break;
            };
            inner.ended_bytes -= bytes;
            // A job ends once, so an ended entry under this id is this end.
            if inner
                .by_request
                .get(&oldest)
                .is_some_and(|entry| entry.end.is_some())
            {
                inner.by_request.remove(&oldest);
            }
        }
    }

    /// A run on this node is over: unless it committed an end here, its
    /// job is now only as the table says.
    pub fn settled(&self, request_id: &str) {
        self.remove_if(request_id, false);
    }

    /// Its final answer was given: later polls read the table.
    pub fn forget(&self, request_id: &str) {
        self.remove_if(request_id, true);
    }

    /// Removes `request_id`'s entry if it has (or has not) an end.
    fn remove_if(&self, request_id: &str, ended: bool) {
        let mut inner = self.lock();
        if inner
            .by_request
            .get(request_id)
            .is_some_and(|entry| entry.end.is_some() == ended)
        {
            inner.by_request.remove(request_id);
        }
    }

    /// The job as this node knows it (with no input), if it runs here or
    /// ended here a moment ago.
    pub fn get(&self, request_id: &str) -> Option<job::Model> {
        let (row, end) = {
            let inner = self.lock();
            let entry = inner.by_request.get(request_id)?;
            (entry.row.clone(), entry.end.clone())
        };
        let row = Arc::unwrap_or_clone(row);
        Some(match end {
            Some(end) => with_end(row, &end),
            None => row,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("known jobs lock")
    }
}

/// `row` with the end its job was given.
pub fn with_end(row: job::Model, end: &Final) -> job::Model {
    job::Model {
        state: end.state.to_owned(),
        response: Some(end.response.clone()),
        http_code: Some(end.http_code),
        finished_at: Some(end.finished_at),
        expires_at: Some(end.expires_at),
        upstream_request_id: end.upstream_request_id.clone(),
        ..row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(request_id: &str) -> job::Model {
        job::Model {
            request_id: request_id.to_owned(),
            org_id: "org".into(),
            user_id: "usr".into(),
            token_id: "tok".into(),
            role: None,
            project_id: None,
            role_cap: None,
            scope_project_id: None,
            service: "greeter".into(),
            version: "v1".into(),
            action: "report".into(),
            input: Vec::new(),
            state: "running".into(),
            node_id: Some("node".into()),
            lease_until: Some(1),
            cancel_requested: false,
            idempotency_key: None,
            input_hash: None,
            attempts: 1,
            poll_count: 0,
            response: None,
            http_code: None,
            request_time: 1,
            started_at: Some(1),
            finished_at: None,
            expires_at: None,
            traceparent: None,
            upstream_call: None,
            upstream_request_id: None,
            queue_key: None,
            activity_type: None,
            activity_project_id: None,
            progress: None,
            log: None,
            description: None,
            due_at: None,
        }
    }

    fn end(response: &str) -> Arc<Final> {
        Arc::new(Final {
            state: "succeeded",
            response: response.into(),
            http_code: 200,
            finished_at: 2,
            expires_at: 3,
            upstream_request_id: None,
        })
    }

    #[test]
    fn a_running_job_is_known_until_its_run_settles_without_an_end() {
        let known = Known::default();
        known.started(row("a"));
        assert_eq!(known.get("a").unwrap().response, None);
        known.settled("a");
        assert!(known.get("a").is_none());
    }

    #[test]
    fn an_end_committed_here_is_known_past_the_runs_settling_until_answered() {
        let known = Known::default();
        known.started(row("a"));
        known.ended("a", &end("{\"ok\":1}"));
        known.settled("a");
        let seen = known.get("a").unwrap();
        assert_eq!(seen.response.as_deref(), Some("{\"ok\":1}"));
        assert_eq!(
            (seen.state.as_str(), seen.http_code),
            ("succeeded", Some(200))
        );
        known.forget("a");
        assert!(known.get("a").is_none());
    }

    #[test]
    fn a_job_not_started_here_stays_unknown_when_it_ends() {
        let known = Known::default();
        known.ended("b", &end("{}"));
        assert!(known.get("b").is_none());
    }

    #[test]
    fn a_running_job_is_not_forgotten_by_an_answer() {
        let known = Known::default();
        known.started(row("a"));
        known.forget("a");
        assert!(known.get("a").is_some());
    }

    #[test]
    fn ended_entries_are_dropped_oldest_first_past_the_count() {
        let known = Known::default();
        let ids: Vec<String> = (0..=KEEP_ENDED).map(|i| format!("j{i}")).collect();
        for id in &ids {
            known.started(row(id));
            known.ended(id, &end("{}"));
        }
        assert!(known.get(&ids[0]).is_none());
        assert!(known.get(&ids[1]).is_some());
        assert!(known.get(&ids[KEEP_ENDED]).is_some());
    }

    #[test]
    fn ended_entries_are_dropped_past_the_bytes_but_running_ones_stay() {
        let known = Known::default();
        known.started(row("running"));
        let big = "x".repeat(KEEP_ENDED_BYTES / 2 + 1);
        for id in ["a", "b"] {
            known.started(row(id));
            known.ended(id, &end(&big));
        }
        assert!(known.get("a").is_none());
        assert!(known.get("b").is_some());
        assert!(known.get("running").is_some());
    }
}
