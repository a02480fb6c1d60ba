//! Upstream services: calls forwarded to real HTTP servers on loopback
//! ([`TestUpstream`]), with everything the gateway adds around them.

use std::collections::BTreeMap;
use std::time::Duration;

use actiongate_gateway::upstream::config::{ActionOverride, ModeName, UpstreamConfig};
use actiongate_gateway::{Config, Gateway};
use actiongate_wire::Status;
use serde_json::{json, Value};

use crate::common::{self, expect, TestGateway, WAIT};
use crate::serve::{serve_with, terminate, wait_for};
use crate::upstream_server::TestUpstream;

fn upstream(targets: &[String]) -> UpstreamConfig {
    UpstreamConfig {
        targets: targets.to_vec(),
        aliases: vec!["api.billing".into()],
        ..UpstreamConfig::default()
    }
}

/// An action override that makes a path designated asynchronous.
fn designated_async() -> ActionOverride {
    ActionOverride {
        mode: Some(ModeName::Async),
        ..ActionOverride::default()
    }
}

/// A gateway with `billing` in front of `targets`, adjusted by `adjust`.
async fn gateway_with(targets: &[String], adjust: impl FnOnce(&mut UpstreamConfig)) -> TestGateway {
    let mut billing = upstream(targets);
    adjust(&mut billing);
    common::start_with(move |config| {
        config.upstreams = BTreeMap::from([("billing".to_owned(), billing)]);
    })
    .await
}

/// A raw POST, for answers the typed client cannot read (an upstream's own
/// status) and for headers.
async fn post_raw(
    gateway: &TestGateway,
    path: &str,
    body: &'static str,
) -> (u16, http::HeaderMap, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/{path}", gateway.url))
        .bearer_auth(&gateway.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let code = response.status().as_u16();
    let headers = response.headers().clone();
    (code, headers, response.json().await.unwrap())
}

#[tokio::test]
async fn a_call_reaches_the_upstream_as_it_was_sent_without_the_callers_credentials() {
    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |_| {}).await;
    let body = "{\"a\": 1,   \"b\": [1, 2]}";
    let response = reqwest::Client::new()
        .post(format!("{}/billing/v1/echo/it", gateway.url))
        .bearer_auth(&gateway.token)
        .header("content-type", "application/json")
        .header("cookie", "session=secret")
        .header("x-custom", "kept")
        .header("x-forwarded-for", "203.0.113.9")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .header("accept-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let envelope: Value = response.json().await.unwrap();
    assert_eq!(envelope["status"], "Success");
    assert_eq!(envelope["request_id"], request_id.as_str());
    assert_eq!(envelope["result"]["path"], "/v1/echo/it");
    assert_eq!(
        envelope["result"]["body"], body,
        "the body is never re-encoded"
    );

    let received = target.received_on("/v1/echo/it");
    assert_eq!(received.len(), 1);
    let headers = &received[0].headers;
    for absent in ["authorization", "cookie", "x-hop", "accept-encoding"] {
        assert!(!headers.contains_key(absent), "{absent} was forwarded");
    }
    assert_eq!(headers["x-custom"], "kept");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-request-id"], request_id.as_str());
    assert_eq!(headers["idempotency-key"], request_id.as_str());
    assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(
        headers["x-forwarded-host"],
        gateway.url.trim_start_matches("http://")
    );
    assert!(headers.contains_key("traceparent"));
    assert!(headers.contains_key("x-actiongate-identity"));
}

#[tokio::test]
async fn the_identity_verifies_against_the_jwks_with_a_jwt_library() {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};

    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |_| {}).await;
    let reply = gateway.call("billing/v1/echo", json!({})).await;
    expect(&reply, 200, Status::Success);
    let token = target.received_on("/v1/echo")[0].headers["x-actiongate-identity"]
        .to_str()
        .unwrap()
        .to_owned();

    // What an upstream does: fetch the keys (no token needed), pick the
    // one the header names, check signature, issuer, audience and expiry.
    let jwks: JwkSet = reqwest::get(format!("{}/.well-known/jwks.json", gateway.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = decode_header(&token).unwrap().kid.expect("a kid");
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let mut validation = Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["billing"]);
    validation.set_issuer(&[&gateway.url]);
    let claims = decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the identity verifies")
        .claims;
    assert_eq!(claims["org"], gateway.org_id.as_str());
    assert_eq!(claims["role"], "owner");
    assert_eq!(claims["jti"], reply.envelope.request_id.to_string());
    assert!(claims["sub"].as_str().unwrap().starts_with("usr_"));
    assert!(claims["token_id"].as_str().unwrap().starts_with("tok_"));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 60);

    // Another audience is refused, as is a forged signature.
    validation.set_audience(&["other"]);
    assert!(decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).is_err());
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    validation.set_audience(&["billing"]);
    assert!(decode::<Value>(&forged, &DecodingKey::from_jwk(jwk).unwrap(), &validation).is_err());
}

#[tokio::test]
async fn upstream_answers_map_to_the_envelope() {
    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |billing| {
        billing.response_limit = 16 * 1024;
        billing.timeout = Duration::from_millis(500);
        // A 500 is a failure of the target; here it stays in.
        billing.max_fails = 100;
        billing
            .actions
            .insert("v1/envelope/later".into(), designated_async());
    })
    .await;
    let address = target.addr.to_string();

    // An envelope keeps its status, summary and result; its id moves to
    // a header.
    let (code, headers, envelope) = post_raw(&gateway, "billing/v1/envelope", "{}").await;
    assert_eq!((code, &envelope["status"]), (200, &json!("Success")));
    assert_eq!(envelope["summary"], "Done upstream");
    assert_eq!(envelope["result"], json!({ "total": 42 }));
    assert_eq!(headers["x-upstream-request-id"], "up_1");
    // A polled answer sends it too: it is stored with the job's result.
    let (code, _, accepted) = post_raw(&gateway, "billing/v1/envelope/later", "{}").await;
    assert_eq!(code, 202);
    let poll = format!(
        "{}/request/{}",
        gateway.url,
        accepted["request_id"].as_str().unwrap()
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    let polled = loop {
        let polled = reqwest::Client::new()
            .get(&poll)
            .bearer_auth(&gateway.token)
            .send()
            .await
            .unwrap();
        if polled.status() != 202 {
            break polled;
        }
        assert!(tokio::time::Instant::now() < deadline, "never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(polled.status(), 200);
    assert_eq!(polled.headers()["x-upstream-request-id"], "up_1");
    let finished: Value = polled.json().await.unwrap();
    assert_eq!(finished["result"], json!({ "total": 42 }));
    assert_eq!(
        envelope["request_id"],
        headers["x-request-id"].to_str().unwrap()
    );
    assert_ne!(envelope["request_time"], "2026-01-01T00:00:00Z");

    // Its own status and HTTP code too, even one the gateway does not know.
    let (code, _, envelope) = post_raw(&gateway, "billing/v1/custom", "{}").await;
    assert_eq!((code, &envelope["status"]), (418, &json!("NoCredit")));
    assert_eq!(envelope["result"], json!({ "credit": 0 }));

    let cases: [(&str, u16, &str); 8] = [
        ("billing/v1/no/such/thing", 404, "ResourceNotFound"),
        ("billing/v1/fail", 502, "ProviderError"),
        ("billing/v1/text", 502, "ProviderError"),
        ("billing/v1/big", 502, "ProviderError"),
        ("billing/v1/denied", 502, "ProviderError"),
        ("billing/v1/reset", 502, "ProviderError"),
        ("billing/v1/hang", 504, "ProviderTimeout"),
        ("billing/v1/limited", 429, "TooManyRequests"),
    ];
    for (path, http, status) in cases {
        let (code, headers, envelope) = post_raw(&gateway, path, "{}").await;
        assert_eq!(
            (code, envelope["status"].as_str().unwrap()),
            (http, status),
            "{path}: {envelope}"
        );
        let summary = envelope["summary"].as_str().unwrap();
        assert!(summary.contains("billing"), "{path}: {summary}");
        assert!(
            !summary.contains(&address) && !summary.contains("10.0.0.7"),
            "{path}: {summary}"
        );
        let keys: Vec<&String> = envelope.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 6, "{path}: {envelope}");
        if status == "TooManyRequests" {
            assert_eq!(headers["retry-after"], "7");
        }
    }
}

#[tokio::test]
async fn refused_calls_are_never_forwarded() {
    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |billing| {
        billing.actions.insert(
            "v1/echo/admin".into(),
            ActionOverride {
                role: Some(actiongate_service::Role::Admin),
                ..ActionOverride::default()
            },
        );
    })
    .await;
    // Over the body limit: 413, not forwarded.
    let big = format!("{{\"x\": \"{}\"}}", "y".repeat(2 * 1024 * 1024));
    let response = reqwest::Client::new()
        .post(format!("{}/billing/v1/echo/big", gateway.url))
        .bearer_auth(&gateway.token)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // Below the action's role: 403, not forwarded.
    let viewer = gateway.person("vera", "viewer").await;
    let reply = viewer.call("billing/v1/echo/admin", json!({})).await;
    expect(&reply, 403, Status::Forbidden);
    // The same person may make the service's other calls.
    let reply = viewer.call("billing/v1/echo/other", json!({})).await;
    expect(&reply, 200, Status::Success);
    // No token: 401, not forwarded.
    let response = reqwest::Client::new()
        .post(format!("{}/billing/v1/echo/anon", gateway.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let paths: Vec<String> = target.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/echo/other"]);
}

#[tokio::test]
async fn calls_go_round_robin_and_survive_one_target_down() {
    let first = TestUpstream::start().await;
    let second = TestUpstream::start().await;
    let down = TestUpstream::start().await.stop();
    let gateway = gateway_with(
        &[first.url(), format!("http://{down}"), second.url()],
        |billing| billing.fail_timeout = Duration::from_secs(60),
    )
    .await;
    for _ in 0..12 {
        let reply = gateway.call("billing/v1/echo", json!({})).await;
        expect(&reply, 200, Status::Success);
    }
    let (a, b) = (first.received().len(), second.received().len());
    assert_eq!(a + b, 12);
    assert!(a >= 4 && b >= 4, "round robin: {a} and {b}");

    let status = gateway.call("v1/upstream/status", json!({})).await;
    expect(&status, 200, Status::Success);
    let targets = &status.envelope.result["upstreams"][0]["targets"];
    assert_eq!(status.envelope.result["upstreams"][0]["name"], "billing");
    assert_eq!(targets[1]["healthy"], false);
    assert_eq!(targets[1]["out_because"], "failures");
    assert!(targets[1]["last_error"].as_str().is_some());
    assert_eq!(targets[0]["healthy"], true);
    // The status is an admin's.
    let viewer = gateway.person("vic", "viewer").await;
    let refused = viewer.call("v1/upstream/status", json!({})).await;
    expect(&refused, 403, Status::Forbidden);
}

#[tokio::test]
async fn every_target_down_is_service_not_available_and_a_returning_target_is_used_again() {
    let only = TestUpstream::start().await;
    let addr = only.stop();
    let gateway = gateway_with(&[format!("http://{addr}")], |billing| {
        billing.fail_timeout = Duration::from_millis(300);
    })
    .await;
    for _ in 0..2 {
        let reply = gateway.call("billing/v1/echo", json!({})).await;
        expect(&reply, 503, Status::ServiceNotAvailable);
        assert!(reply.envelope.summary.contains("billing"));
    }
    let back = TestUpstream::on(addr).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let reply = gateway.call("billing/v1/echo", json!({})).await;
    expect(&reply, 200, Status::Success);
    assert_eq!(back.received().len(), 1);
}

#[tokio::test]
async fn a_target_failing_its_health_check_is_out_until_it_passes() {
    let first = TestUpstream::start().await;
    let second = TestUpstream::start().await;
    let gateway = gateway_with(&[first.url(), second.url()], |billing| {
        billing.health_path = Some("/healthz".into());
        billing.health_interval = Duration::from_millis(100);
    })
    .await;
    first.set_healthy(false);
    let status_of_first = || async {
        let status = gateway.call("v1/upstream/status", json!({})).await;
        status.envelope.result["upstreams"][0]["targets"][0].clone()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while status_of_first().await["healthy"] != false {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never marked unhealthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_of_first().await["out_because"], "health check");
    let before = first.received_on("/v1/echo").len();
    for _ in 0..6 {
        expect(
            &gateway.call("billing/v1/echo", json!({})).await,
            200,
            Status::Success,
        );
    }
    assert_eq!(first.received_on("/v1/echo").len(), before);
    first.set_healthy(true);
    while status_of_first().await["healthy"] != true {
        assert!(tokio::time::Instant::now() < deadline, "never back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn slow_and_designated_async_calls_become_jobs_the_caller_polls() {
    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |billing| {
        billing.response_threshold = Some(Duration::from_millis(200));
        billing
            .actions
            .insert("v1/slow/300".into(), designated_async());
    })
    .await;
    let client = gateway.client("billing");
    // Past the threshold.
    let reply = client
        .call("v1/slow/800", &json!({ "n": 1 }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let done = client.wait(reply, WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(done.envelope.result["slept_ms"], 800);
    // Designated async: 202 at once, however quick.
    let reply = client.call("v1/slow/300", &json!({})).await.unwrap();
    expect(&reply, 202, Status::Accepted);
    let done = client.wait(reply, WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(done.envelope.result["slept_ms"], 300);
    // Within the threshold: answered directly, no job.
    let jobs = gateway.count_jobs().await;
    let reply = client.call("v1/slow/10", &json!({})).await.unwrap();
    expect(&reply, 200, Status::Success);
    assert_eq!(gateway.count_jobs().await, jobs);
    // Each job's run is timed under its path's settings: the listed path,
    // or `*` for the others.
    let metrics = gateway.metrics_text().await;
    for action in ["*", "slow/300"] {
        let series = format!(
            r#"actiongate_job_duration_seconds_count{{service="billing",action="{action}"}} 1"#
        );
        assert!(
            metrics.lines().any(|line| line == series),
            "{series} in {metrics}"
        );
    }
}

/// A successful upstream call is in the audit trail under its own path,
/// whether answered directly, parked past its threshold or designated
/// async; a failed one is not, nor a path marked `audit = false`.
#[tokio::test]
async fn successful_upstream_calls_are_audited_unless_marked_reads() {
    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |billing| {
        billing.response_threshold = Some(Duration::from_millis(200));
        // The failing call must not take the one target out.
        billing.max_fails = 10;
        billing
            .actions
            .insert("v1/slow/300".into(), designated_async());
        billing.actions.insert(
            "v1/echo/read".into(),
            ActionOverride {
                audit: Some(false),
                ..ActionOverride::default()
            },
        );
    })
    .await;
    let client = gateway.client("billing");
    let mut audited = Vec::new();
    let mut not_audited = Vec::new();
    for (path, code) in [
        ("v1/echo/pay", 200),
        ("v1/slow/800", 202),
        ("v1/slow/300", 202),
        ("v1/fail", 502),
        ("v1/echo/read", 200),
    ] {
        let reply = client.call(path, &json!({ "amount": 5 })).await.unwrap();
        assert_eq!(reply.http_status, code, "{path}: {:?}", reply.envelope);
        let id = reply.envelope.request_id.to_string();
        let done = client.wait(reply, WAIT).await.unwrap();
        if done.envelope.status == Status::Success && path != "v1/echo/read" {
            audited.push((id, format!("billing/{path}")));
        } else {
            not_audited.push(id);
        }
    }
    assert_eq!(audited.len(), 3);
    let trail = gateway
        .call("access/v1/audit/list", json!({ "limit": 100 }))
        .await;
    expect(&trail, 200, Status::Success);
    let events = trail.envelope.result["results"].as_array().unwrap().clone();
    for (id, action) in &audited {
        let found: Vec<&Value> = events.iter().filter(|e| e["request_id"] == **id).collect();
        assert_eq!(found.len(), 1, "one event for {action}: {events:#?}");
        assert_eq!(found[0]["action"], **action);
    }
    for id in &not_audited {
        assert!(
            events.iter().all(|e| e["request_id"] != **id),
            "{id} was not a change: {events:#?}"
        );
    }
}

#[tokio::test]
async fn an_upstream_202_is_polled_by_the_gateway() {
    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |_| {}).await;
    let client = gateway.client("billing");
    let reply = client.call("v1/accepted", &json!({})).await.unwrap();
    expect(&reply, 202, Status::Accepted);
    let done = client.wait(reply, WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(done.envelope.result["polls"], 2);
    let polls = target
        .received()
        .into_iter()
        .filter(|r| r.path.starts_with("/poll/"))
        .collect::<Vec<_>>();
    assert_eq!(polls.len(), 2);
    assert!(polls
        .iter()
        .all(|p| p.method == "GET" && p.headers.contains_key("x-actiongate-identity")));
}

#[tokio::test]
async fn a_repeated_idempotency_key_is_answered_without_calling_again() {
    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |_| {}).await;
    let client = gateway.client("billing");
    let send = || {
        client.send(
            client
                .post("v1/echo/pay")
                .header("idempotency-key", "pay-1")
                .json(&json!({ "amount": 5 })),
        )
    };
    let first = send().await.unwrap();
    expect(&first, 200, Status::Success);
    let second = send().await.unwrap();
    expect(&second, 200, Status::Success);
    assert_eq!(first.envelope.request_id, second.envelope.request_id);
    assert_eq!(target.received_on("/v1/echo/pay").len(), 1);
}

#[tokio::test]
async fn services_are_named_by_prefix_host_or_a_listed_path() {
    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |billing| {
        billing
            .actions
            .insert("v1/invoice/list".into(), ActionOverride::default());
    })
    .await;
    let by_host = reqwest::Client::new()
        .post(format!("{}/v1/echo/host", gateway.url))
        .header("host", "api.billing.example.com")
        .bearer_auth(&gateway.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_host.status(), 200);
    // A listed path needs no prefix; the upstream's 404 is ResourceNotFound.
    let listed = gateway.call("v1/invoice/list", json!({})).await;
    expect(&listed, 404, Status::ResourceNotFound);
    assert_eq!(target.received_on("/v1/invoice/list").len(), 1);
    // An unlisted path without a prefix names no route.
    let unlisted = gateway.call("v1/echo/nowhere", json!({})).await;
    expect(&unlisted, 404, Status::NotFound);
    // GET under an upstream is refused: calls are POST.
    let get = reqwest::Client::new()
        .get(format!("{}/billing/v1/echo", gateway.url))
        .bearer_auth(&gateway.token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn invalid_upstream_configuration_stops_the_start_naming_the_key() {
    let cases: [(&str, UpstreamConfig, &str); 3] = [
        (
            "billing",
            UpstreamConfig::default(),
            "upstreams.billing.targets",
        ),
        (
            "billing",
            upstream(&["ftp://x".into()]),
            "upstreams.billing.targets",
        ),
        (
            "console",
            upstream(&["http://127.0.0.1:1".into()]),
            "upstreams.console",
        ),
    ];
    for (name, section, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_owned(),
            upstreams: BTreeMap::from([(name.to_owned(), section)]),
            ..Config::default()
        };
        let err = Gateway::start(config.clone(), common::services(&config))
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().starts_with(key), "{key}: {err}");
    }
}

/// A config file naming upstreams, for `actiongate serve --config`.
fn config_file(dir: &std::path::Path, toml: &str) -> std::path::PathBuf {
    let file = dir.join("actiongate.toml");
    std::fs::write(&file, toml).unwrap();
    file
}

/// A designated-async call whose gateway is killed mid-call is made again
/// by the gateway that takes the job over, with the same request id and
/// idempotency key, and ends with the upstream's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cut_short_by_kill_9_is_made_again_with_the_same_idempotency_key() {
    let target = TestUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(
        dir.path(),
        &format!(
            "[upstreams.billing]\ntargets = [\"{}\"]\n[upstreams.billing.actions.\"v1/slow/2000\"]\nmode = \"async\"\n",
            target.url()
        ),
    );
    let data = dir.path().join("data");
    let file = file.to_str().unwrap();
    let env = [("ACTIONGATE_CONFIG", file), ("ACTIONGATE_JOB_LEASE", "1s")];
    let first = serve_with(&data, &env).await;
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let client = actiongate_client::Client::new(format!("{}/billing", first.url), token.trim());
    let reply = client
        .call("v1/slow/2000", &json!({ "n": 7 }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    let request_id = reply.envelope.request_id.to_string();
    let deadline = tokio::time::Instant::now() + WAIT;
    while target.received_on("/v1/slow/2000").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.signal("-KILL").await;
    first.exited().await;

    let second = serve_with(&data, &env).await;
    let client = actiongate_client::Client::new(second.url.clone(), token.trim());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let done = loop {
        let polled = client.get(&format!("request/{request_id}")).await.unwrap();
        if polled.envelope.status != Status::Accepted {
            break polled;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job never finished"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    expect(&done, 200, Status::Success);
    assert_eq!(done.envelope.result["body"], "{\"n\":7}");
    let calls = target.received_on("/v1/slow/2000");
    assert_eq!(calls.len(), 2, "made once, then again after the kill");
    for call in &calls {
        assert_eq!(call.headers["idempotency-key"], request_id.as_str());
        assert_eq!(call.headers["x-request-id"], request_id.as_str());
    }
    terminate(second).await;
}

/// `SIGHUP` puts a new upstream section in force; a broken file is
/// refused with a log line and the running section stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_upstreams_and_refuses_a_broken_file() {
    let billing = TestUpstream::start().await;
    let invoices = TestUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let one = format!("[upstreams.billing]\ntargets = [\"{}\"]\n", billing.url());
    let file = config_file(dir.path(), &one);
    let data = dir.path().join("data");
    let served = serve_with(&data, &[("ACTIONGATE_CONFIG", file.to_str().unwrap())]).await;
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let client = actiongate_client::Client::new(served.url.clone(), token.trim());
    let before = client.call("invoices/v1/echo", &json!({})).await.unwrap();
    expect(&before, 404, Status::NotFound);

    let two = format!(
        "{one}[upstreams.invoices]\ntargets = [\"{}\"]\n",
        invoices.url()
    );
    config_file(dir.path(), &two);
    served.signal("-HUP").await;
    wait_for(&served.lines, |lines| {
        lines
            .iter()
            .any(|l| l.contains("upstreams reloaded"))
            .then_some(())
    })
    .await;
    let after = client.call("invoices/v1/echo", &json!({})).await.unwrap();
    expect(&after, 200, Status::Success);
    assert_eq!(invoices.received().len(), 1);

    config_file(
        dir.path(),
        &format!("{two}[upstreams.broken]\ntargets = []\n"),
    );
    served.signal("-HUP").await;
    let refusal = wait_for(&served.lines, |lines| {
        lines
            .iter()
            .find(|l| l.contains("configuration refused"))
            .cloned()
    })
    .await;
    assert!(refusal.contains("upstreams.broken.targets"), "{refusal}");
    let still = client.call("invoices/v1/echo", &json!({})).await.unwrap();
    expect(&still, 200, Status::Success);
    let billed = client.call("billing/v1/echo", &json!({})).await.unwrap();
    expect(&billed, 200, Status::Success);
    terminate(served).await;
}

#[tokio::test]
async fn config_check_names_the_key_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let check = |toml: &str| {
        let file = config_file(dir.path(), toml);
        std::process::Command::new(env!("CARGO_BIN_EXE_actiongate"))
            .args(["config", "check", "--config"])
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let good = check("[upstreams.billing]\ntargets = [\"http://127.0.0.1:9001\"]\n");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("configuration is valid"));
    for (toml, named) in [
        ("[upstreams.billing]\ntagets = [\"http://a\"]\n", "tagets"),
        (
            "[upstreams.billing]\ntargets = [\"billing:9001\"]\n",
            "upstreams.billing.targets",
        ),
        (
            "[upstreams.console]\ntargets = [\"http://a\"]\n",
            "upstreams.console",
        ),
    ] {
        let bad = check(toml);
        assert_eq!(bad.status.code(), Some(2), "{toml}");
        let said = String::from_utf8_lossy(&bad.stderr);
        assert!(said.contains(named), "{toml}: {said}");
    }
    // Nothing was started or written.
    assert!(!dir.path().join("actiongate.db").exists());
}

#[tokio::test]
async fn identity_rotate_publishes_the_new_key_beside_the_old_and_signs_with_it() {
    let target = TestUpstream::start().await;
    let gateway = gateway_with(&[target.url()], |_| {}).await;
    let jwks = || async {
        reqwest::get(format!("{}/.well-known/jwks.json", gateway.url))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let old = jwks().await["keys"][0]["kid"].as_str().unwrap().to_owned();
    let rotated = gateway.cli(&["identity", "rotate"]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let keys = jwks().await;
    let kids: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2, "{keys}");
    assert!(kids.contains(&old.as_str()));
    let new = kids.iter().find(|k| **k != old).unwrap().to_string();
    // Every node takes the new key up at its next refresh.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    loop {
        expect(
            &gateway.call("billing/v1/echo", json!({})).await,
            200,
            Status::Success,
        );
        let token = target.received().last().unwrap().headers["x-actiongate-identity"]
            .to_str()
            .unwrap()
            .to_owned();
        if jsonwebtoken::decode_header(&token).unwrap().kid.as_deref() == Some(new.as_str()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still signing with the old key"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A job whose upstream cannot be reached is not failed: nothing was done,
/// so it runs again later, and ends once the upstream is back.
#[tokio::test]
async fn an_accepted_call_waits_out_an_upstream_that_is_down() {
    let addr = TestUpstream::start().await.stop();
    let gateway = gateway_with(&[format!("http://{addr}")], |billing| {
        billing.fail_timeout = Duration::from_millis(100);
        billing
            .actions
            .insert("v1/echo/later".into(), designated_async());
    })
    .await;
    let client = gateway.client("billing");
    let reply = client
        .call("v1/echo/later", &json!({ "n": 1 }))
        .await
        .unwrap();
    expect(&reply, 202, Status::Accepted);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let back = TestUpstream::on(addr).await;
    let done = client.wait(reply, WAIT).await.unwrap();
    expect(&done, 200, Status::Success);
    assert_eq!(back.received_on("/v1/echo/later").len(), 1);
}
