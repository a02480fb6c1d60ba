//! Asynchronous requests: designated-async actions, the response-time
//! threshold, polling, TTL expiry and who may poll.

use std::time::Duration;

use actiongate_client::{Client, Status};
use serde_json::json;

use crate::common::{self, expect, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn designated_async_answers_202_and_polls_to_the_result() {
    let gw = common::start().await;
    let project = gw.project("doomed").await;
    let console = gw.client("console");
    let reply = console
        .call(
            "v1beta/platform/project/delete",
            &json!({ "id": project["id"] }),
        )
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let accepted = reply.accepted().expect("ttl_mins, retry_counter, location");
    assert_eq!(accepted.ttl_mins, 1440);
    assert_eq!(accepted.retry_counter, 0);
    let id = reply.envelope.request_id;
    assert_eq!(
        accepted.location,
        format!("{}/console/request/{id}", gw.url)
    );

    let done = console.wait(reply.clone(), WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(
        done.envelope.request_id, id,
        "the final envelope keeps the original id"
    );
    assert_eq!(done.envelope.request_time, reply.envelope.request_time);
    assert!(done.envelope.response_time >= done.envelope.request_time);
    assert_eq!(done.envelope.summary, "Project deleted");
    assert_eq!(done.envelope.result, json!({}));
    assert_eq!(done.request_id_header, Some(id.to_string()));
    assert_eq!(gw.count_projects().await, 0);

    // A finished result can be fetched again, from the root too.
    let again = gw.client("").get(&format!("request/{id}")).await.unwrap();
    expect(&again, 200, Status::Success);
    assert_eq!(again.envelope, done.envelope);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_of_async_requests_are_stored_with_their_status() {
    let gw = common::start().await;
    let console = gw.client("console");
    // An organization is not a declared scope, so its handler looks it up
    // inside the job and the job ends with the error.
    let reply = console
        .call("v1/org/delete", &json!({ "id": "org_does_not_exist" }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let done = console.wait(reply, WAIT).await.unwrap();
    expect(&done, 404, Status::ResourceNotFound);
    // A project is: one the caller cannot see is refused before any job.
    let reply = console
        .call("v1/project/delete", &json!({ "id": "prj_does_not_exist" }))
        .await
        .unwrap();
    expect(&reply, 404, Status::ResourceNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_calls_past_the_threshold_become_async() {
    let gw = common::start_with(|c| c.response_threshold = Duration::from_millis(200)).await;
    let testkit = gw.client("testkit");

    let fast = testkit
        .call("v1/sleep", &json!({ "ms": 10, "value": "fast" }))
        .await
        .unwrap();
    expect(&fast, 200, Status::Success);
    assert_eq!(fast.envelope.result["value"], "fast");

    let slow = testkit
        .call("v1/sleep", &json!({ "ms": 1500, "value": "slow" }))
        .await
        .unwrap();
    expect(&slow, 202, Status::Accepted);
    let location = slow.accepted().unwrap().location;

    // Polls while running count up.
    for expected in 1..=2 {
        let polled = testkit.get(&location).await.unwrap();
        expect(&polled, 202, Status::Accepted);
        assert_eq!(polled.envelope.request_id, slow.envelope.request_id);
        assert_eq!(polled.accepted().unwrap().retry_counter, expected);
        assert_eq!(polled.accepted().unwrap().location, location);
    }
    let done = testkit.wait(slow.clone(), WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(done.envelope.result["value"], "slow");
    assert_eq!(done.envelope.request_id, slow.envelope.request_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_action_thresholds() {
    let gw = common::start_with(|c| {
        c.response_threshold = Duration::from_millis(100);
        c.action_thresholds.insert(
            "testkit/v1/echo".to_owned(),
            Duration::from_millis(1).into(),
        );
    })
    .await;
    let testkit = gw.client("testkit");
    // Declared by the action itself: 5 s.
    let reply = testkit
        .call("v1/sleep/patient", &json!({ "ms": 300 }))
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    // The gateway-wide threshold for the same work without an override.
    let reply = testkit
        .call("v1/sleep", &json!({ "ms": 300 }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_expire_after_their_ttl() {
    let gw = common::start_with(|c| {
        c.result_ttl = Duration::from_millis(800);
        c.result_sweep_interval = Duration::from_millis(100);
    })
    .await;
    let testkit = gw.client("testkit");
    let reply = testkit
        .call("v1/sleep/async", &json!({ "ms": 1 }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    assert_eq!(
        reply.accepted().unwrap().ttl_mins,
        1,
        "rounded up to a whole minute"
    );
    let done = testkit.wait(reply.clone(), WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let gone = testkit
        .get(&reply.accepted().unwrap().location)
        .await
        .unwrap();
    expect(&gone, 404, Status::ResourceNotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_may_poll() {
    let gw = common::start().await;
    let testkit = gw.client("testkit");
    let reply = testkit
        .call("v1/sleep/async", &json!({ "ms": 300 }))
        .await
        .unwrap();
    let location = reply.accepted().unwrap().location;

    // Another token of the same user and organization may poll.
    let sibling = gw.create_token(&["--name", "sibling"]);
    let polled = Client::new(&gw.url, &sibling).get(&location).await.unwrap();
    assert!(polled.http_status == 202 || polled.http_status == 200);

    // A token of another organization is told the request does not exist,
    // exactly as for an id that was never issued.
    let org = gw
        .call("console/v1/org/create", json!({ "name": "other" }))
        .await;
    let other_org = org.envelope.result["id"].as_str().unwrap().to_owned();
    let stranger = gw.create_token(&["--org", &other_org]);
    let theirs = Client::new(&gw.url, &stranger)
        .get(&location)
        .await
        .unwrap();
    expect(&theirs, 404, Status::ResourceNotFound);
    let never = Client::new(&gw.url, &stranger)
        .get(&location.replace(
            &reply.envelope.request_id.to_string(),
            "prq_01jd8x3m9kq2f6w7v5t4s3r2p1",
        ))
        .await
        .unwrap();
    expect(&never, 404, Status::ResourceNotFound);
    assert_eq!(
        theirs
            .envelope
            .summary
            .replace(&reply.envelope.request_id.to_string(), "ID"),
        never
            .envelope
            .summary
            .replace("prq_01jd8x3m9kq2f6w7v5t4s3r2p1", "ID")
    );
    // Polling needs a token at all.
    let anonymous = reqwest::get(&location).await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_location_follows_the_host_the_call_used() {
    let gw = common::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/sleep/async", gw.url))
        .header("host", "testkit.gw.example.com")
        .bearer_auth(&gw.token)
        .json(&json!({ "ms": 1 }))
        .send()
        .await
        .unwrap();
    let reply = actiongate_client::read_reply(response).await.unwrap();
    expect(&reply, 202, Status::Accepted);
    assert_eq!(
        reply.accepted().unwrap().location,
        format!(
            "http://testkit.gw.example.com/request/{}",
            reply.envelope.request_id
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_jobs_resume_when_the_gateway_starts_again() {
    let gw = common::start().await;
    let testkit = gw.client("testkit");
    let reply = testkit
        .call(
            "v1/sleep/async",
            &json!({ "ms": 60_000, "value": "resumed" }),
        )
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let token = gw.token.clone();
    let dir = gw.shutdown().await;

    // Make the recorded job quick to finish, as if the old run had been
    // cut off: the input is what a restart decodes again.
    let db = crate::common::database(&format!(
        "sqlite://{}",
        dir.path().join("actiongate.db").display()
    ))
    .await;
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(
        r#"UPDATE jobs SET input = CAST('{"ms": 1, "value": "resumed"}' AS BLOB)"#,
    )
    .await
    .unwrap();
    db.close().await.unwrap();

    let running = common::restart(dir.path()).await;
    assert!(running.bootstrapped.is_none(), "bootstrap happens once");
    let client = Client::new(format!("http://{}/testkit", running.addr), &token);
    let polled = client
        .get(&format!("request/{}", reply.envelope.request_id))
        .await
        .unwrap();
    let done = client.wait(polled, WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(done.envelope.result["value"], "resumed");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_locations_follow_the_public_url() {
    let gw = common::start_with(|c| c.public_url = Some("https://gw.example.com/".into())).await;
    let reply = gw
        .client("testkit")
        .call("v1/sleep/async", &json!({ "ms": 1 }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let id = reply.envelope.request_id;
    assert_eq!(
        reply.accepted().unwrap().location,
        format!("https://gw.example.com/testkit/request/{id}")
    );
}
