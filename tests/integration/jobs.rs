//! The durable async engine on SQLite: a crash mid-flight, run-once,
//! idempotency keys and retried requests, cancel, the poll limit,
//! long-polls, batched expiry and graceful shutdown.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use actiongate_client::{Client, Reply, Status};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::common::{self, expect};
use crate::nodes::{self, Node};

const WAIT: Duration = Duration::from_secs(30);

/// Waits for every request in `ids` to reach a final state; their replies.
pub async fn final_replies(client: &Client, ids: &[String]) -> Vec<Reply> {
    stream::iter(ids.iter().cloned())
        .map(|id| async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let reply = client
                    .get(&format!("request/{id}?wait=10"))
                    .await
                    .expect("an envelope");
                if reply.http_status != 202 {
                    return reply;
                }
                assert!(Instant::now() < deadline, "request {id} never finished");
            }
        })
        .buffer_unordered(32)
        .collect()
        .await
}

/// Sends `count` designated-async writes named `<prefix><i>`, each after a
/// step of `step_ms`, `parallel` at a time; the request ids that got a 202
/// (others may fail if the node is killed meanwhile).
pub async fn burst(
    client: &Client,
    prefix: &str,
    count: usize,
    parallel: usize,
    step_ms: u64,
) -> Vec<String> {
    stream::iter(0..count)
        .map(|i| {
            let client = client.clone();
            let name = format!("{prefix}{i}");
            async move {
                let reply = client
                    .call(
                        "testkit/v1/steps/async",
                        &json!({ "steps": 1, "step_ms": step_ms, "name": name }),
                    )
                    .await
                    .ok()?;
                (reply.http_status == 202).then(|| reply.envelope.request_id.to_string())
            }
        })
        .buffer_unordered(parallel)
        .filter_map(|id| async move { id })
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateway_finishes_every_accepted_request_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let lease = Duration::from_millis(1000);
    let mut node = Node::start(dir.path(), None, lease);
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let client = Client::new(&node.url, token.trim());

    let sending = tokio::spawn({
        let client = client.clone();
        async move { burst(&client, "crash-", 400, 48, 20).await }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    node.kill();
    let accepted = sending.await.unwrap();
    assert!(
        !accepted.is_empty(),
        "some requests were accepted before the kill"
    );

    let unfinished_at_kill = nodes::job_rows(&nodes::sqlite_url(dir.path()))
        .await
        .iter()
        .filter(|row| row.response.is_none())
        .count();

    let node = Node::start(dir.path(), None, lease);
    let client = Client::new(&node.url, token.trim());
    let replies = final_replies(&client, &accepted).await;
    for reply in &replies {
        // A second run of a job whose write had committed would end in
        // Conflict: the name is taken by its own first run.
        expect(reply, 200, Status::Success);
    }

    let rows = nodes::job_rows(&nodes::sqlite_url(dir.path())).await;
    let jobs: Vec<_> = rows
        .iter()
        .filter(|row| row.action == "steps/async")
        .collect();
    assert!(
        jobs.iter().all(|row| row.state == "succeeded"),
        "every recorded job finished"
    );
    let ids: HashSet<&str> = jobs.iter().map(|row| row.request_id.as_str()).collect();
    assert!(
        accepted.iter().all(|id| ids.contains(id.as_str())),
        "every accepted request was recorded"
    );
    // Each job's effect exists once: one project per succeeded job.
    let projects = nodes::count_projects_named(&nodes::sqlite_url(dir.path()), "crash-").await;
    assert_eq!(projects, jobs.len() as u64);
    eprintln!(
        "crash test: {} accepted, {} unfinished at the kill, {} run again",
        accepted.len(),
        unfinished_at_kill,
        jobs.iter().filter(|row| row.attempts > 1).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_idempotency_key_replays_the_first_response() {
    let gw = common::start_with(|c| c.response_threshold = Duration::from_millis(300)).await;
    let client = gw.client("");
    let keyed = |key: &str, body: Value| {
        client
            .post("testkit/v1/steps")
            .header("Idempotency-Key", key)
            .json(&body)
    };

    let first = client
        .send(keyed("key-1", json!({ "name": "idem-1" })))
        .await
        .unwrap();
    expect(&first, 200, Status::Success);
    let again = client
        .send(keyed("key-1", json!({ "name": "idem-1" })))
        .await
        .unwrap();
    expect(&again, 200, Status::Success);
    assert_eq!(again.envelope.request_id, first.envelope.request_id);
    assert_eq!(again.envelope.result, first.envelope.result);
    assert_eq!(gw.count_projects().await, 1, "the write happened once");

    let other = client
        .send(keyed("key-1", json!({ "name": "idem-2" })))
        .await
        .unwrap();
    expect(&other, 422, Status::IdempotencyKeyReused);
    assert!(other.envelope.summary.contains("key-1"));

    // A slow keyed call: its repeat while it runs gets its 202, and after
    // it ends, its result.
    let slow = json!({ "steps": 6, "step_ms": 100, "name": "idem-slow" });
    let started = client.send(keyed("key-2", slow.clone())).await.unwrap();
    expect(&started, 202, Status::Accepted);
    let running = client.send(keyed("key-2", slow.clone())).await.unwrap();
    expect(&running, 202, Status::Accepted);
    assert_eq!(running.envelope.request_id, started.envelope.request_id);
    let done = client.wait(started.clone(), WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    let after = client.send(keyed("key-2", slow)).await.unwrap();
    expect(&after, 200, Status::Success);
    assert_eq!(after.envelope.request_id, started.envelope.request_id);
    assert_eq!(gw.count_projects().await, 2);

    // Keys are per token: another token's same key is another call.
    let other_token = gw.create_token(&["--name", "second"]);
    let second = client
        .with_token(&other_token)
        .send(
            client
                .post("testkit/v1/steps")
                .header("Idempotency-Key", "key-1")
                .json(&json!({ "name": "idem-other" })),
        )
        .await
        .unwrap();
    expect(&second, 200, Status::Success);
    assert_ne!(second.envelope.request_id, first.envelope.request_id);

    let bad = client
        .send(keyed("", json!({ "name": "idem-3" })))
        .await
        .unwrap();
    expect(&bad, 400, Status::ValidationError);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_naming_an_earlier_attempt_gets_its_outcome() {
    let gw = common::start().await;
    let client = gw.client("");
    let first = client
        .call("testkit/v1/steps", &json!({ "name": "retried" }))
        .await
        .unwrap();
    expect(&first, 200, Status::Success);
    let id = first.envelope.request_id.to_string();

    let retry = client
        .send(
            client
                .post("testkit/v1/steps")
                .header("X-Pangea-Retried-Request-Ids", format!("prq_unknown,{id}"))
                .json(&json!({ "name": "retried" })),
        )
        .await
        .unwrap();
    expect(&retry, 200, Status::Success);
    assert_eq!(retry.envelope.request_id.to_string(), id);
    assert_eq!(
        gw.count_projects().await,
        1,
        "the retry did not write again"
    );

    // Naming it for a different call runs that call.
    let different = client
        .send(
            client
                .post("testkit/v1/steps")
                .header("X-Pangea-Retried-Request-Ids", id.clone())
                .json(&json!({ "name": "something-else" })),
        )
        .await
        .unwrap();
    expect(&different, 200, Status::Success);
    assert_ne!(different.envelope.request_id.to_string(), id);
    assert_eq!(gw.count_projects().await, 2);

    // An async attempt still running: the retry gets its 202.
    let slow = json!({ "steps": 5, "step_ms": 100 });
    let job = client.call("testkit/v1/steps/async", &slow).await.unwrap();
    expect(&job, 202, Status::Accepted);
    let retry = client
        .send(
            client
                .post("testkit/v1/steps/async")
                .header(
                    "X-Pangea-Retried-Request-Ids",
                    job.envelope.request_id.to_string(),
                )
                .json(&slow),
        )
        .await
        .unwrap();
    expect(&retry, 202, Status::Accepted);
    assert_eq!(retry.envelope.request_id, job.envelope.request_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_queued_and_running_requests() {
    let gw = common::start_with(|c| c.job_concurrency = 1).await;
    let client = gw.client("");
    let long = json!({ "steps": 200, "step_ms": 20, "name": "never-written" });
    let running = client.call("testkit/v1/steps/async", &long).await.unwrap();
    expect(&running, 202, Status::Accepted);
    // No room left on this node: the next one waits queued.
    let queued = client.call("testkit/v1/steps/async", &long).await.unwrap();
    expect(&queued, 202, Status::Accepted);

    let cancel = |id: String| {
        let client = client.clone();
        async move {
            client
                .call("request/cancel", &json!({ "request_id": id }))
                .await
        }
    };
    let reply = cancel(queued.envelope.request_id.to_string())
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    assert_eq!(reply.envelope.result["state"], "cancelled");
    let polled = client.wait(queued.clone(), WAIT).await.unwrap();
    expect(&polled, 409, Status::Cancelled);
    assert_eq!(polled.envelope.request_id, queued.envelope.request_id);

    let reply = cancel(running.envelope.request_id.to_string())
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    assert_eq!(reply.envelope.result["state"], "cancelling");
    let polled = client.wait(running.clone(), WAIT).await.unwrap();
    expect(&polled, 409, Status::Cancelled);
    assert_eq!(
        gw.count_projects().await,
        0,
        "a cancelled job leaves nothing behind"
    );

    // Finished: the result stands.
    let reply = cancel(running.envelope.request_id.to_string())
        .await
        .unwrap();
    expect(&reply, 409, Status::Conflict);
    // Unknown, or another principal's: not found.
    let reply = cancel("prq_01jzzzzzzzzzzzzzzzzzzzzzzz".into())
        .await
        .unwrap();
    expect(&reply, 404, Status::ResourceNotFound);
    let reply = client
        .call("request/cancel", &json!({ "request_id": 7 }))
        .await
        .unwrap();
    expect(&reply, 400, Status::ValidationError);
    let reply = client.get("request/cancel").await.unwrap();
    expect(&reply, 405, Status::MethodNotAllowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_past_the_limit_get_their_own_status() {
    let gw = common::start_with(|c| c.poll_limit = 3).await;
    let client = gw.client("");
    let reply = client
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 100, "step_ms": 20 }),
        )
        .await
        .unwrap();
    let location = reply.accepted().unwrap().location;
    for expected in 1..=3u64 {
        let polled = client.get(&location).await.unwrap();
        expect(&polled, 202, Status::Accepted);
        assert_eq!(polled.accepted().unwrap().retry_counter, expected);
    }
    let over = client.get(&location).await.unwrap();
    expect(&over, 429, Status::PollLimitExceeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_returns_as_soon_as_the_result_is_stored() {
    let gw = common::start().await;
    let client = gw.client("");
    let reply = client
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 4, "step_ms": 100 }),
        )
        .await
        .unwrap();
    let location = reply.accepted().unwrap().location;
    let started = Instant::now();
    let done = client.get(&format!("{location}?wait=20")).await.unwrap();
    let waited = started.elapsed();
    expect(&done, 200, Status::Success);
    assert!(
        waited < Duration::from_secs(10),
        "answered when the job ended, not at the end of the wait ({waited:?})"
    );

    // A pending request past the wait: 202 after the wait.
    let reply = client
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 100, "step_ms": 30 }),
        )
        .await
        .unwrap();
    let location = reply.accepted().unwrap().location;
    let started = Instant::now();
    let pending = client.get(&format!("{location}?wait=1")).await.unwrap();
    expect(&pending, 202, Status::Accepted);
    assert!(started.elapsed() >= Duration::from_millis(900));

    let bad = client.get(&format!("{location}?wait=soon")).await.unwrap();
    expect(&bad, 400, Status::ValidationError);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_results_are_removed_in_batches() {
    let gw = common::start_with(|c| {
        c.result_ttl = Duration::from_millis(300);
        c.result_sweep_interval = Duration::from_millis(200);
    })
    .await;
    let client = gw.client("");
    // More than one sweep batch (500).
    let ids: Vec<String> = stream::iter(0..1200)
        .map(|_| {
            let client = client.clone();
            async move {
                let reply = client
                    .call("testkit/v1/steps/async", &json!({}))
                    .await
                    .unwrap();
                reply.envelope.request_id.to_string()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let url = nodes::sqlite_url(gw.dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = nodes::job_rows(&url)
            .await
            .into_iter()
            .filter(|row| ids.contains(&row.request_id))
            .count();
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} expired results were never removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The gateway kept serving meanwhile.
    let reply = client.call("testkit/v1/echo", &json!({})).await.unwrap();
    expect(&reply, 200, Status::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_jobs_finish_within_the_grace_and_hands_back_the_rest() {
    let gw = common::start_with(|c| c.shutdown_grace = Duration::from_millis(800)).await;
    let client = gw.client("");
    let quick = client
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 2, "step_ms": 100, "name": "quick" }),
        )
        .await
        .unwrap();
    let slow = client
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 100, "step_ms": 50, "name": "slow" }),
        )
        .await
        .unwrap();
    expect(&slow, 202, Status::Accepted);
    let started = Instant::now();
    let dir = gw.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited only the grace"
    );

    let url = nodes::sqlite_url(dir.path());
    let rows = nodes::job_rows(&url).await;
    let state = |id: &str| {
        rows.iter()
            .find(|row| row.request_id == id)
            .map(|row| (row.state.clone(), row.node_id.clone()))
            .unwrap()
    };
    assert_eq!(state(&quick.envelope.request_id.to_string()).0, "succeeded");
    assert_eq!(
        state(&slow.envelope.request_id.to_string()),
        ("queued".to_owned(), None),
        "the unfinished job was handed back"
    );
    assert_eq!(nodes::count_projects_named(&url, "slow").await, 0);

    // The next start runs it to the end.
    let running = common::restart(dir.path()).await;
    let client = Client::new(format!("http://{}", running.addr), gw_token(dir.path()));
    // Polled on the new address: the 202's location named the old one.
    let done = final_replies(&client, &[slow.envelope.request_id.to_string()]).await;
    expect(&done[0], 200, Status::Success);
    running.shutdown().await;
}

fn gw_token(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// A job this node runs is polled from what the node knows of it, not its
/// row: the same reach holds there, while it runs and once it has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_run_here_is_polled_only_by_tokens_that_reach_it() {
    let gw = common::start().await;
    let owner = gw.client("");
    let colleague = gw.person("colleague", "admin").await;
    let console_only = owner.with_token(gw.create_token(&["--services", "console"]));
    let reply = owner
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 1, "step_ms": 600 }),
        )
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let location = reply.accepted().unwrap().location;
    let id = reply.envelope.request_id.to_string();

    let intruders = [&colleague.client, &console_only];
    for intruder in intruders {
        let polled = intruder.get(&location).await.unwrap();
        expect(&polled, 404, Status::ResourceNotFound);
    }
    let running = owner.get(&location).await.unwrap();
    expect(&running, 202, Status::Accepted);
    assert_eq!(running.accepted().unwrap().retry_counter, 1);

    // Ended, and nobody has had its answer yet.
    let deadline = Instant::now() + WAIT;
    while gw.job_row(&id).await.response.is_none() {
        assert!(Instant::now() < deadline, "the job never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for intruder in intruders {
        let polled = intruder.get(&format!("{location}?wait=1")).await.unwrap();
        expect(&polled, 404, Status::ResourceNotFound);
    }
    for _ in 0..2 {
        let done = owner.get(&location).await.unwrap();
        expect(&done, 200, Status::Success);
        assert_eq!(done.envelope.request_id, reply.envelope.request_id);
    }
    // Only the owner's fetches were counted.
    assert_eq!(gw.job_row(&id).await.poll_count, 3);
}

/// A node whose lease lapsed, and whose job another node then took over
/// and ended, finds out at its next renewal: its run stops, and its polls
/// answer with the other node's end instead of a 202 from memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_lease_was_taken_over_stops_and_its_polls_read_the_new_end() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let lease = Duration::from_millis(600);
    let gw = common::start_with(|c| {
        c.job_lease = lease;
        c.job_concurrency = 1;
    })
    .await;
    let client = gw.client("");
    // 10 s, unless stopped.
    let long = json!({ "steps": 500, "step_ms": 20 });
    let reply = client.call("testkit/v1/steps/async", &long).await.unwrap();
    expect(&reply, 202, Status::Accepted);
    let id = reply.envelope.request_id.to_string();
    let location = reply.accepted().unwrap().location;
    expect(&client.get(&location).await.unwrap(), 202, Status::Accepted);

    // Another node took the job over (its attempt, its lease) and ended it.
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let envelope = json!({
        "request_id": id,
        "request_time": reply.envelope.request_time,
        "response_time": reply.envelope.response_time,
        "status": "Success",
        "summary": "Done by another node",
        "result": { "node": "elsewhere" },
    });
    let db = common::database(&format!(
        "sqlite://{}",
        gw.dir.path().join("actiongate.db").display()
    ))
    .await;
    let taken = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "UPDATE jobs SET node_id = 'elsewhere', attempts = attempts + 1, state = 'succeeded', \
             response = ?, http_code = 200, finished_at = ?, expires_at = ?, lease_until = NULL \
             WHERE request_id = ? AND state = 'running'",
            [
                envelope.to_string().into(),
                now_ms.into(),
                (now_ms + 3_600_000).into(),
                id.clone().into(),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(taken.rows_affected(), 1, "the job was running here");
    db.close().await.unwrap();

    // Within a renewal or two (a third of a lease each), polls here give
    // the other node's end.
    let deadline = Instant::now() + 4 * lease;
    let ended = loop {
        let polled = client.get(&location).await.unwrap();
        if polled.http_status != 202 {
            break polled;
        }
        assert!(
            Instant::now() < deadline,
            "polls still answer 202 from what the node remembered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    expect(&ended, 200, Status::Success);
    assert_eq!(ended.envelope.result["node"], "elsewhere");

    // The run here stopped, and its one slot is free: the next job ends
    // long before the taken one's ten seconds would have.
    let next = client
        .call(
            "testkit/v1/steps/async",
            &json!({ "steps": 1, "step_ms": 1 }),
        )
        .await
        .unwrap();
    expect(&next, 202, Status::Accepted);
    let started = Instant::now();
    let done = client.wait(next, Duration::from_secs(5)).await.unwrap();
    expect(&done, 200, Status::Success);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the next job waited for the stopped run ({:?})",
        started.elapsed()
    );
}
