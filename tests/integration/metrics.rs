//! Prometheus metrics: a known sequence of calls counted exactly, labels
//! only from the route table, the admin-only endpoint and `metrics_listen`.

use std::time::Duration;

use actiongate_client::Status;
use actiongate_gateway::config::Rate;
use serde_json::json;

use crate::common;

async fn scrape(url: &str, token: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        response.status().as_u16(),
        content_type,
        response.text().await.unwrap(),
    )
}

/// The value of the one sample named exactly `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse().unwrap())
}

fn series_named<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_a_known_sequence_exactly() {
    let gw = common::start_with(|config| {
        config.rate_limits.actions.insert(
            "testkit/v1/echo".into(),
            Rate::per(2, Duration::from_secs(3600)),
        );
    })
    .await;
    let metrics_url = format!("{}/metrics", gw.url);

    for _ in 0..3 {
        let reply = gw.call("console/v1/project/list", json!({})).await;
        common::expect(&reply, 200, Status::Success);
    }
    let reply = gw
        .call("console/v1/project/list", json!({ "offset": "many" }))
        .await;
    common::expect(&reply, 400, Status::ValidationError);
    // Two echoes pass, the third is over the action's limit.
    for expected in [Status::Success, Status::Success, Status::TooManyRequests] {
        let reply = gw.call("testkit/v1/echo", json!({ "say": "hi" })).await;
        assert_eq!(reply.envelope.status, expected, "{:?}", reply.envelope);
    }
    // A wrong token, twice.
    let stranger = gw.client("").with_token("agt_not_a_real_token");
    for _ in 0..2 {
        let reply = stranger
            .call("console/v1/project/list", &json!({}))
            .await
            .unwrap();
        assert_eq!(reply.envelope.status, Status::Unauthorized);
    }
    // A job that finishes.
    let reply = gw.call("testkit/v1/sleep/async", json!({ "ms": 10 })).await;
    assert_eq!(reply.envelope.status, Status::Accepted);
    let done = gw
        .client("")
        .wait(reply, common::WAIT)
        .await
        .expect("the job ends");
    assert_eq!(done.envelope.status, Status::Success);

    // The job's row is written a moment after its poller has its result.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let (code, content_type, text) = loop {
        let scraped = scrape(&metrics_url, Some(&gw.token)).await;
        let stored = sample(&scraped.2, r#"actiongate_jobs{state="succeeded"}"#) == Some(1.0);
        if stored || tokio::time::Instant::now() > deadline {
            break scraped;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(code, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );

    let requests = |labels: &str| sample(&text, &format!("actiongate_requests_total{{{labels}}}"));
    assert_eq!(
        requests(r#"service="console",version="v1",action="project/list",status="Success""#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        requests(
            r#"service="console",version="v1",action="project/list",status="ValidationError""#
        ),
        Some(1.0)
    );
    assert_eq!(
        requests(r#"service="console",version="v1",action="project/list",status="Unauthorized""#),
        Some(2.0)
    );
    assert_eq!(
        requests(r#"service="testkit",version="v1",action="echo",status="Success""#),
        Some(2.0)
    );
    assert_eq!(
        requests(r#"service="testkit",version="v1",action="echo",status="TooManyRequests""#),
        Some(1.0)
    );
    assert_eq!(
        requests(r#"service="testkit",version="v1",action="sleep/async",status="Accepted""#),
        Some(1.0)
    );
    // The poll that returned the result.
    assert!(
        requests(r#"service="gateway",version="",action="request",status="Success""#)
            .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"actiongate_request_duration_seconds_count{service="console",version="v1",action="project/list"}"#
        ),
        Some(6.0)
    );
    assert_eq!(
        sample(&text, r#"actiongate_rate_limited_total{service="testkit"}"#),
        Some(1.0)
    );
    assert_eq!(sample(&text, "actiongate_auth_failures_total"), Some(2.0));
    assert_eq!(
        sample(
            &text,
            r#"actiongate_job_duration_seconds_count{service="testkit",action="sleep/async"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"actiongate_jobs{state="succeeded"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"actiongate_jobs{state="queued"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "actiongate_job_queue_oldest_seconds"),
        Some(0.0)
    );
    // The job's row was written (queued, then finished) on SQLite's write
    // connection, each commit carrying one write or more.
    let commits = sample(&text, "actiongate_sqlite_commits_total").unwrap();
    let writes = sample(&text, "actiongate_sqlite_committed_writes_total").unwrap();
    assert!(commits >= 2.0 && writes >= commits, "{text}");
    let idle = sample(&text, r#"actiongate_db_pool_connections{state="idle"}"#).unwrap();
    let in_use = sample(&text, r#"actiongate_db_pool_connections{state="in_use"}"#).unwrap();
    assert!(idle + in_use >= 1.0, "{text}");
    assert!(text.contains("# HELP actiongate_requests_total"), "{text}");
    assert!(text.contains("# TYPE actiongate_request_duration_seconds histogram"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_add_no_series() {
    let gw = common::start().await;
    let metrics_url = format!("{}/metrics", gw.url);
    let http = reqwest::Client::new();
    let probe = |path: String| {
        let http = http.clone();
        let url = format!("{}{path}", gw.url);
        async move { http.post(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(probe("/first/v1/never/seen".into()).await, 404);
    let (_, _, before) = scrape(&metrics_url, Some(&gw.token)).await;
    for i in 0..50 {
        assert_eq!(probe(format!("/attack-{i}/v{i}/x{i}/y{i}")).await, 404);
        assert_eq!(probe(format!("/console/v1/project/nothing-{i}")).await, 404);
    }
    let (_, _, after) = scrape(&metrics_url, Some(&gw.token)).await;
    let unknown = r#"actiongate_requests_total{service="unknown",version="unknown",action="unknown",status="NotFound"}"#;
    assert_eq!(sample(&before, unknown), Some(1.0), "{before}");
    assert_eq!(sample(&after, unknown), Some(101.0), "{after}");
    assert!(!after.contains("attack"), "{after}");
    assert!(!after.contains("nothing-"), "{after}");
    // The one scrape between them is the only new series.
    let new: Vec<_> = series_named(&after, "actiongate_requests_total")
        .into_iter()
        .filter(|line| {
            let series = line.rsplit_once(' ').unwrap().0;
            !before.contains(series)
        })
        .collect();
    assert_eq!(
        new,
        [
            r#"actiongate_requests_total{service="gateway",version="",action="metrics",status="Success"} 1"#
        ]
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_to_admins_or_on_its_own_address() {
    let gw = common::start_with(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let on_main = format!("{}/metrics", gw.url);
    assert_eq!(scrape(&on_main, None).await.0, 401);
    let viewer = gw.create_token(&["--role", "viewer"]);
    let (code, _, body) = scrape(&on_main, Some(&viewer)).await;
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("Forbidden"), "{body}");
    assert_eq!(scrape(&on_main, Some(&gw.token)).await.0, 200);

    let own = gw.metrics_url.clone().expect("metrics_listen is set");
    let (code, content_type, text) = scrape(&format!("{own}/metrics"), None).await;
    assert_eq!(code, 200);
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    assert!(text.contains("actiongate_auth_failures_total 1"), "{text}");
    assert_eq!(scrape(&format!("{own}/other"), None).await.0, 404);
    gw.shutdown().await;

    let off = common::start_with(|config| config.metrics = false).await;
    let (code, _, body) = scrape(&format!("{}/metrics", off.url), Some(&off.token)).await;
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("metrics = false"), "{body}");
    off.shutdown().await;
}
