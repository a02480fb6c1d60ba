//! Security and limits: token scope and revocation, roles, rate limits,
//! transport limits and TLS.

use std::time::Duration;

use actiongate_client::{read_reply, Client, Reply, Status};
use actiongate_entity::token;
use actiongate_gateway::config::Rate;
use sea_orm::EntityTrait;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, expect};

async fn call(gw: &common::TestGateway, token: &str, path: &str, body: serde_json::Value) -> Reply {
    Client::new(gw.url.as_str(), token)
        .call(path, &body)
        .await
        .unwrap()
}

/// The listening address of a test gateway.
fn addr(gw: &common::TestGateway) -> String {
    gw.url.trim_start_matches("http://").to_owned()
}

/// Writes `request` on a fresh connection and reads until the server closes
/// it or `within` passes; what was read.
async fn exchange(addr: &str, request: &[u8], within: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before it has read everything.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut answer)).await;
    answer
}

/// The status code of a raw HTTP/1.1 answer.
fn status_of(answer: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_holds_from_the_next_request() {
    let gw = common::start().await;
    let token = gw.create_token(&["--name", "to-revoke"]);
    // Verified, and so cached.
    expect(
        &call(&gw, &token, "console/v1/org/list", json!({})).await,
        200,
        Status::Success,
    );
    let listing = String::from_utf8(gw.cli(&["token", "list"]).stdout).unwrap();
    let id = listing
        .lines()
        .find(|l| l.contains("to-revoke"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(gw.cli(&["token", "revoke", &id]).status.success());
    // Another process revoked it; the very next request is refused.
    let reply = call(&gw, &token, "console/v1/org/list", json!({})).await;
    expect(&reply, 401, Status::Unauthorized);
    assert!(reply.envelope.summary.contains("revoked"));
    expect(
        &call(&gw, &gw.token, "console/v1/org/list", json!({})).await,
        200,
        Status::Success,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_use_is_recorded_in_the_background() {
    let gw = common::start().await;
    let token = gw.create_token(&["--name", "used"]);
    let before = actiongate_wire::Timestamp::now_ms();
    for _ in 0..3 {
        call(&gw, &token, "console/v1/org/list", json!({})).await;
    }
    let url = format!(
        "sqlite://{}?mode=ro",
        gw.dir.path().join("actiongate.db").display()
    );
    let db = crate::common::database(&url).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let used = token::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.name == "used")
            .and_then(|t| t.last_used_at);
        if let Some(at) = used {
            assert!(at >= before, "{at} < {before}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_do_what_it_should_and_no_more() {
    let gw = common::start().await;
    let project = gw.project("roles").await["id"].as_str().unwrap().to_owned();
    let org = gw.org_id.clone();
    // (action, body, least role)
    let checks = [
        ("console/v1/org/get", json!({ "id": org }), 0),
        ("console/v1/project/list", json!({}), 0),
        ("console/v1/project/get", json!({ "id": project }), 0),
        (
            "console/v1beta/platform/project/get",
            json!({ "id": project }),
            0,
        ),
        (
            "console/v1/project/update",
            json!({ "id": project, "description": "changed" }),
            2,
        ),
        (
            "console/v1/project/create",
            json!({ "name": "made-by-role" }),
            2,
        ),
        (
            "console/v1beta/platform/project/create",
            json!({ "org_id": org, "name": "made-by-role-beta", "geo": "us" }),
            2,
        ),
        (
            "console/v1/org/update",
            json!({ "id": org, "name": "renamed" }),
            3,
        ),
    ];
    for (rank, role) in ["viewer", "member", "admin", "owner"].iter().enumerate() {
        let token = gw.create_token(&["--role", role]);
        for (path, body, least) in &checks {
            let mut body = body.clone();
            if let Some(name) = body.get_mut("name").filter(|_| path.contains("create")) {
                *name = json!(format!("{}-{role}", name.as_str().unwrap()));
            }
            let reply = call(&gw, &token, path, body).await;
            if rank >= *least {
                expect(&reply, 200, Status::Success);
            } else {
                expect(&reply, 403, Status::Forbidden);
                assert!(
                    reply.envelope.summary.contains(role),
                    "{}",
                    reply.envelope.summary
                );
            }
        }
    }
    // Denied calls wrote nothing: only the admin's and owner's projects.
    assert_eq!(gw.count_projects().await, 1 + 2 * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_limited_to_a_project_sees_only_that_project() {
    let gw = common::start().await;
    let mine = gw.project("mine").await["id"].as_str().unwrap().to_owned();
    let other = gw.project("other").await["id"].as_str().unwrap().to_owned();
    let token = gw.create_token(&["--project", &mine]);
    expect(
        &call(&gw, &token, "console/v1/project/get", json!({ "id": mine })).await,
        200,
        Status::Success,
    );
    let hidden = call(
        &gw,
        &token,
        "console/v1/project/get",
        json!({ "id": other }),
    )
    .await;
    expect(&hidden, 404, Status::ResourceNotFound);
    let listed = call(&gw, &token, "console/v1/project/list", json!({})).await;
    assert_eq!(listed.envelope.result["count"], 1);
    assert_eq!(listed.envelope.result["results"][0]["id"], mine.as_str());
    let created = call(
        &gw,
        &token,
        "console/v1/project/create",
        json!({ "name": "new" }),
    )
    .await;
    expect(&created, 403, Status::Forbidden);
}

/// A POST with the headers a rate-limited caller reads.
async fn post_with_headers(
    url: &str,
    token: &str,
) -> (u16, Option<String>, Option<String>, Option<String>, Reply) {
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (policy, state, retry) = (
        header("ratelimit-policy"),
        header("ratelimit"),
        header("retry-after"),
    );
    let status = response.status().as_u16();
    (
        status,
        policy,
        state,
        retry,
        read_reply(response).await.unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_rate_limit_are_refused_with_retry_after() {
    let gw = common::start_with(|c| {
        c.rate_limits.per_token = Rate::per(3, Duration::from_secs(60));
        c.rate_limits.actions.insert(
            "testkit/v1/echo".into(),
            Rate::per(5, Duration::from_secs(60)),
        );
    })
    .await;
    let list = format!("{}/console/v1/org/list", gw.url);
    for remaining in (0..3).rev() {
        let (status, policy, state, retry, _) = post_with_headers(&list, &gw.token).await;
        assert_eq!(status, 200);
        assert_eq!(policy.as_deref(), Some("\"token\";q=3;w=60"));
        let state = state.unwrap();
        assert!(
            state.starts_with(&format!("\"token\";r={remaining};t=")),
            "{state}"
        );
        assert_eq!(retry, None);
    }
    let (status, _, state, retry, reply) = post_with_headers(&list, &gw.token).await;
    assert_eq!(status, 429);
    expect(&reply, 429, Status::TooManyRequests);
    assert!(state.unwrap().starts_with("\"token\";r=0;t="));
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    // The budget is per service: the testkit service has its own, and its
    // echo action a budget of its own in the config.
    let echo = format!("{}/testkit/v1/echo", gw.url);
    let (status, policy, ..) = post_with_headers(&echo, &gw.token).await;
    assert_eq!(status, 200);
    assert_eq!(policy.as_deref(), Some("\"action\";q=5;w=60"));
    // And it is per token.
    let other = gw.create_token(&[]);
    assert_eq!(post_with_headers(&list, &other).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_count_against_the_budget_of_the_service_called() {
    let gw = common::start_with(|c| {
        c.rate_limits.per_token = Rate::per(3, Duration::from_secs(60));
    })
    .await;
    let submitted = call(&gw, &gw.token, "testkit/v1/steps/async", json!({})).await;
    expect(&submitted, 202, Status::Accepted);
    let location = submitted.accepted().unwrap().location;
    let poll = || async {
        let response = reqwest::Client::new()
            .get(&location)
            .bearer_auth(&gw.token)
            .send()
            .await
            .unwrap();
        let state = response
            .headers()
            .get("ratelimit")
            .map(|v| v.to_str().unwrap().to_owned());
        (state, read_reply(response).await.unwrap())
    };
    let (state, _) = poll().await;
    assert_eq!(state.as_deref().map(|s| &s[..12]), Some("\"token\";r=1;"));
    poll().await;
    let (_, refused) = poll().await;
    expect(&refused, 429, Status::TooManyRequests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_limited_per_address() {
    let gw = common::start_with(|c| {
        c.rate_limits.failed_auth = Rate::per(3, Duration::from_secs(60));
    })
    .await;
    let list = format!("{}/console/v1/org/list", gw.url);
    let guess = "agt_000000000000000000000000000000000000";
    for _ in 0..3 {
        let (status, ..) = post_with_headers(&list, guess).await;
        assert_eq!(status, 401);
    }
    let (status, _, _, retry, reply) = post_with_headers(&list, guess).await;
    expect(&reply, 429, Status::TooManyRequests);
    assert_eq!(status, 429);
    assert!(retry.is_some());
    // From that address, even a good token is not looked at any more.
    let (status, ..) = post_with_headers(&list, &gw.token).await;
    assert_eq!(status, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_slow_requests_are_cut_off() {
    let gw = common::start_with(|c| {
        c.limits.header_read_timeout = Duration::from_millis(500);
        c.limits.request_deadline = Duration::from_millis(700);
        c.limits.max_headers = 50;
    })
    .await;
    let addr = addr(&gw);
    let auth = format!("Authorization: Bearer {}\r\n", gw.token);

    // A header of 1 MiB, and thousands of headers: 431.
    let huge = format!(
        "POST /console/v1/org/list HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let answer = exchange(&addr, huge.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status_of(&answer), 431);
    let many: String = (0..5000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let request = format!("POST /console/v1/org/list HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let answer = exchange(&addr, request.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status_of(&answer), 431);

    // A URL of 64 KiB.
    let request = format!(
        "POST /console/v1/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(64 << 10)
    );
    let answer = exchange(&addr, request.as_bytes(), Duration::from_secs(5)).await;
    assert!(
        [414, 431].contains(&status_of(&answer)),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Headers sent a byte at a time, slower than the header timeout: the
    // connection is closed without an answer.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in b"POST /console/v1/org/list HTTP/1.1\r\nHost: x\r\n" {
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut buf = [0u8; 64];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a slow client kept its connection");
    assert!(started.elapsed() < Duration::from_secs(3));

    // A body that stops halfway: RequestTimeout once the deadline passes.
    let request = format!(
        "POST /console/v1/org/list HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"a\":"
    );
    let answer = exchange(&addr, request.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(
        status_of(&answer),
        408,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(String::from_utf8_lossy(&answer).contains("RequestTimeout"));

    // Still serving.
    expect(
        &call(&gw, &gw.token, "console/v1/org/list", json!({})).await,
        200,
        Status::Success,
    );
}

/// The length of the first whole HTTP/1.1 answer in `received` (its head
/// and a body of its `content-length`), if it has all come.
fn first_answer_len(received: &[u8]) -> Option<usize> {
    let end = received.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&received[..end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |n| n.trim().parse().unwrap());
    (received.len() >= end + 4 + length).then_some(end + 4 + length)
}

/// One HTTP/1.1 answer read off a kept-alive connection (by its
/// `content-length`), or `None` if the gateway closed it first.
async fn read_answer(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if first_answer_len(&answer).is_some() {
            return Some(answer);
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer or a close within 5 s")
            .unwrap_or(0);
        if n == 0 {
            return None;
        }
        answer.extend_from_slice(&buf[..n]);
    }
}

/// An idle keep-alive connection lives `keep_alive_idle`, not the header
/// timeout: that one runs from a request's first byte. A request begun on
/// it and not finished is still cut off after the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_outlives_the_header_timeout_and_slow_headers_do_not() {
    let gw = common::start_with(|c| {
        c.limits.header_read_timeout = Duration::from_millis(300);
        c.limits.keep_alive_idle = Duration::from_millis(2000);
    })
    .await;
    let addr = addr(&gw);
    let request = format!(
        "POST /console/v1/org/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 2\r\n\r\n{{}}",
        gw.token
    );
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    for _ in 0..2 {
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_answer(&mut stream).await.expect("answered");
        assert_eq!(status_of(&answer), 200);
        // Idle for well over the header timeout.
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    // Headers begun and left unfinished: closed after the header timeout,
    // long before keep-alive would close it.
    let started = std::time::Instant::now();
    stream
        .write_all(b"POST /console/v1/org/list HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut stream).await, None, "closed, unanswered");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    // And an idle one is closed once keep-alive runs out.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(status_of(&read_answer(&mut idle).await.unwrap()), 200);
    let started = std::time::Instant::now();
    assert_eq!(read_answer(&mut idle).await, None);
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

/// `count` HTTP/1.1 answers read in order off a kept-alive connection.
async fn read_answers(stream: &mut TcpStream, count: usize) -> Vec<Vec<u8>> {
    let mut answers = Vec::new();
    let mut buffered = Vec::new();
    let mut buf = [0u8; 4096];
    while answers.len() < count {
        if let Some(len) = first_answer_len(&buffered) {
            let rest = buffered.split_off(len);
            answers.push(std::mem::replace(&mut buffered, rest));
            continue;
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("answers within 5 s")
            .unwrap();
        assert!(n > 0, "closed after {} answers", answers.len());
        buffered.extend_from_slice(&buf[..n]);
    }
    assert!(buffered.is_empty(), "more than {count} answers");
    answers
}

/// An idle HTTP/1.1 connection is parked (hyper lets it go, the socket
/// stays): its next requests, sent together, are answered in order, and a
/// parked connection still closes when keep-alive runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_parked_and_taken_up_again() {
    let gw = common::start_with(|c| {
        c.limits.keep_alive_idle = Duration::from_millis(3000);
        // Scrapes on their own address are not among the counted.
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let metrics = format!("{}/metrics", gw.metrics_url.clone().unwrap());
    let connections = || async {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        let count = |state: &str| -> u32 {
            let series = format!("actiongate_connections{{state=\"{state}\"}} ");
            text.lines()
                .find_map(|line| line.strip_prefix(&series))
                .map_or(0, |n| n.trim().parse().unwrap())
        };
        (count("active"), count("parked"))
    };
    let request = |body: &str| {
        format!(
            "POST /testkit/v1/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            gw.token,
            body.len()
        )
    };
    let mut stream = TcpStream::connect(&addr(&gw)).await.unwrap();
    stream
        .write_all(request(r#"{"n":0}"#).as_bytes())
        .await
        .unwrap();
    assert_eq!(status_of(&read_answers(&mut stream, 1).await[0]), 200);
    assert_eq!(connections().await, (1, 0), "served, not yet idle");

    let started = std::time::Instant::now();
    while connections().await != (0, 1) {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "not parked: {:?}",
            connections().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Two requests in one write: the first bytes wake the parked
    // connection, and neither request is lost or answered out of order.
    let both = format!("{}{}", request(r#"{"n":1}"#), request(r#"{"n":2}"#));
    stream.write_all(both.as_bytes()).await.unwrap();
    let answers = read_answers(&mut stream, 2).await;
    for (n, answer) in answers.iter().enumerate() {
        let text = String::from_utf8_lossy(answer);
        assert_eq!(status_of(answer), 200, "{text}");
        assert!(text.contains(&format!(r#""n":{}"#, n + 1)), "{text}");
    }
    assert_eq!(connections().await, (1, 0), "taken up again");

    // Parked again, then closed once keep-alive runs out.
    let started = std::time::Instant::now();
    assert_eq!(read_answer(&mut stream).await, None);
    assert!(started.elapsed() >= Duration::from_millis(2500));
    assert_eq!(connections().await, (0, 0));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_connections_are_capped() {
    let gw = common::start_with(|c| {
        c.limits.keep_alive_idle = Duration::from_millis(300);
        c.limits.max_connections = 2;
    })
    .await;
    let addr = addr(&gw);
    let request = format!(
        "POST /console/v1/org/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 2\r\n\r\n{{}}",
        gw.token
    );
    // A keep-alive connection answered once, then left idle, is closed.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "an idle connection stayed open");
    assert_eq!(status_of(&answer), 200);

    // Two connections held open fill the cap; a third waits until one goes.
    let first = TcpStream::connect(&addr).await.unwrap();
    let second = TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = tokio::spawn({
        let addr = addr.clone();
        let request = request.clone();
        async move {
            let started = std::time::Instant::now();
            let answer = exchange(&addr, request.as_bytes(), Duration::from_secs(10)).await;
            (started.elapsed(), status_of(&answer))
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    drop(first);
    drop(second);
    let (waited, status) = third.await.unwrap();
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
}

/// Plain HTTP/2 (h2c, with prior knowledge) is told from HTTP/1.1 by its
/// preface, on the same port; a connection whose preface stalls is cut off
/// like slow headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http2_is_told_by_its_preface() {
    let gw = common::start_with(|c| {
        c.limits.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for _ in 0..2 {
        let response = client
            .post(format!("{}/console/v1/org/list", gw.url))
            .bearer_auth(&gw.token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        expect(&read_reply(response).await.unwrap(), 200, Status::Success);
    }
    let mut stalled = TcpStream::connect(&addr(&gw)).await.unwrap();
    stalled.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(read_answer(&mut stalled).await, None, "closed, unanswered");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// A self-signed certificate for `localhost`: (cert PEM, key PEM).
fn certificate() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (cert.cert.pem(), cert.key_pair.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_speaks_http2_and_http1_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, key_pem) = certificate();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, &key_pem).unwrap();
    let gw = common::start_with(|c| {
        c.tls.cert = Some(cert.clone());
        c.tls.key = Some(key.clone());
    })
    .await;
    let port = addr(&gw).rsplit(':').next().unwrap().to_owned();
    let url = format!("https://localhost:{port}/console/v1/org/list");
    let root = reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    let client = |http1_only: bool| {
        let builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(root.clone())
            .resolve("localhost", addr(&gw).parse().unwrap());
        if http1_only {
            builder.http1_only()
        } else {
            builder
        }
        .build()
        .unwrap()
    };
    for (http1_only, version) in [
        (false, reqwest::Version::HTTP_2),
        (true, reqwest::Version::HTTP_11),
    ] {
        let response = client(http1_only)
            .post(&url)
            .bearer_auth(&gw.token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.version(), version);
        let reply = read_reply(response).await.unwrap();
        expect(&reply, 200, Status::Success);
    }
    // A 202's poll location is https, as the call was.
    let accepted = client(false)
        .post(format!("https://localhost:{port}/testkit/v1/sleep/async"))
        .bearer_auth(&gw.token)
        .json(&json!({ "ms": 1 }))
        .send()
        .await
        .unwrap();
    let accepted = read_reply(accepted).await.unwrap();
    expect(&accepted, 202, Status::Accepted);
    let location = accepted.envelope.result["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("https://localhost:{port}/testkit/request/prq_")),
        "{location}"
    );
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = reqwest::Client::new()
        .post(format!("http://{}/console/v1/org/list", addr(&gw)))
        .bearer_auth(&gw.token)
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_off_loopback_must_be_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let config = actiongate_gateway::Config {
        listen: "0.0.0.0:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        ..Default::default()
    };
    let err = actiongate_gateway::Gateway::start(config.clone(), common::services(&config))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("tls.plain_http"), "{err}");
}
