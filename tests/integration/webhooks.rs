//! Webhooks: integrations of a project, each activity change they take
//! delivered to a real receiver on loopback, signed, retried until it
//! answers 2xx, by a gateway that may be killed meanwhile; destinations
//! inside the network refused at creation and at delivery.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actiongate_client::{Client, Status};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::activities::run;
use crate::common::{self, expect, expect_at, succeeded, TestGateway};
use crate::nodes::{Node, PRIVATE_HOOKS};

const WAIT: Duration = Duration::from_secs(30);

/// One POST as the receiver got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// What the receiver answered.
    pub status: u16,
}

/// A webhook receiver on loopback: it answers 500 to its first `failures`
/// requests, then 200, and keeps every request.
pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(failures: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let kept = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (kept, count) = (kept.clone(), count.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (kept, count) = (kept.clone(), count.clone());
                        async move {
                            let headers = request.headers().clone();
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let status = if count.fetch_add(1, Ordering::SeqCst) < failures {
                                500
                            } else {
                                200
                            };
                            kept.lock().unwrap().push(Received {
                                headers,
                                body,
                                status,
                            });
                            Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from_static(b"{}")))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { addr, received }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests have come.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} of {n} requests",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Checks `X-Actiongate-Signature` as a receiver would: HMAC-SHA256 of
/// `"<t>.<body>"` under the secret, in hex.
pub fn signed_by(received: &Received, secret: &str) -> bool {
    let header = received.headers["x-actiongate-signature"].to_str().unwrap();
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .expect("t=<unix>,v1=<hex>");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&received.body);
    let expected = ring::hmac::sign(&key, &signed);
    let hex: String = expected
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex == v1
}

fn header<'r>(received: &'r Received, name: &str) -> &'r str {
    received.headers[name].to_str().unwrap()
}

/// A webhook taking `events` of `project` to `url`: the integration, with
/// its secret (shown this once).
async fn webhook(client: &Client, project: &Value, url: &str, events: Value) -> Value {
    succeeded(
        client,
        "deploy/v1/integration/create",
        json!({ "project_id": project, "type": "webhook", "url": url, "events": events }),
    )
    .await
}

/// A hook that fails twice then takes the third attempt: every attempt
/// signed, with the same delivery id, listed with its status code.
pub async fn signed_and_retried(gw: &TestGateway) {
    let client = gw.client("");
    let receiver = Receiver::start(2).await;
    let (project, env) = gw.project_with_environment("hooked", "dev").await;
    let hook = webhook(
        &client,
        &project,
        &receiver.url(),
        json!(["activity.complete"]),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{hook}");
    let shown = succeeded(
        &client,
        "deploy/v1/integration/get",
        json!({ "id": hook["id"] }),
    )
    .await;
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );
    assert_eq!(shown["events"], json!(["activity.complete"]));

    let paused = run(&client, "deploy/v1/environment/pause", json!({ "id": env })).await;
    expect(&paused, 200, Status::Success);
    let activity = paused.envelope.request_id.to_string();

    let received = receiver.wait_for(3).await;
    assert_eq!(
        received.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    let delivery = header(&received[0], "x-actiongate-delivery").to_owned();
    assert!(delivery.starts_with("dlv_"));
    for r in &received {
        assert_eq!(header(r, "x-actiongate-delivery"), delivery, "one delivery");
        assert_eq!(header(r, "x-actiongate-event"), "activity.complete");
        assert!(signed_by(r, &secret), "signed with the hook's secret");
        assert!(!signed_by(r, "whsec_not-the-secret-at-all"));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"], activity.as_str());
        assert_eq!(body["type"], "environment.pause");
        assert_eq!(body["state"], "complete");
        assert_eq!(body["result"], "success");
    }

    // The attempts, newest first; and nothing more is sent.
    let deadline = tokio::time::Instant::now() + WAIT;
    let attempts = loop {
        let listed = succeeded(
            &client,
            "deploy/v1/integration/deliveries",
            json!({ "id": hook["id"] }),
        )
        .await;
        if listed["count"] == 3 && listed["results"][0]["delivery_status"] == "delivered" {
            break listed;
        }
        assert!(tokio::time::Instant::now() < deadline, "{listed:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let codes: Vec<Value> = attempts["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, [json!(200), json!(500), json!(500)]);
    assert!(attempts["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["delivery_id"] == delivery.as_str() && a["activity_id"] == activity.as_str()));
    assert_eq!(attempts["results"][2]["error"], "answered 500");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.received().len(),
        3,
        "delivered once it answered 200"
    );

    // A hook on every state of environment activities gets each state.
    let all = Receiver::start(0).await;
    webhook(&client, &project, &all.url(), json!(["environment.*"])).await;
    let resumed = run(
        &client,
        "deploy/v1/environment/resume",
        json!({ "id": env }),
    )
    .await;
    expect(&resumed, 200, Status::Success);
    let got = all.wait_for(3).await;
    let mut events: Vec<&str> = got
        .iter()
        .map(|r| header(r, "x-actiongate-event"))
        .collect();
    events.sort_unstable();
    assert_eq!(
        events,
        [
            "activity.complete",
            "activity.in_progress",
            "activity.pending"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_and_retried_until_the_receiver_takes_them() {
    let gw = common::start_with(common::allow_private_hooks).await;
    signed_and_retried(&gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_refuse_bad_input_and_destinations_inside_the_network() {
    let gw = common::start().await;
    refusals(&gw).await;
}

/// Each bad input of `integration/create` refused at its field, private
/// destinations among them; only admins manage integrations; the internal
/// delivery action is no route.
pub async fn refusals(gw: &TestGateway) {
    let client = gw.client("");
    let (project, _) = gw.project_with_environment("guarded", "dev").await;
    for (body, source) in [
        (
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["*"] }),
            "/url",
        ),
        (
            json!({ "url": "http://localhost/hook", "events": ["*"] }),
            "/url",
        ),
        (
            json!({ "url": "http://[::1]/hook", "events": ["*"] }),
            "/url",
        ),
        (
            json!({ "url": "ftp://example.com/", "events": ["*"] }),
            "/url",
        ),
        (json!({ "url": "not a url", "events": ["*"] }), "/url"),
        (
            json!({ "url": "http://127.0.0.1/", "events": ["Not A Pattern"] }),
            "/events/0",
        ),
        (
            json!({ "url": "http://127.0.0.1/", "events": [] }),
            "/events",
        ),
        (
            json!({ "url": "http://127.0.0.1/", "events": ["*"], "secret": "short" }),
            "/secret",
        ),
    ] {
        let mut body = body;
        body["project_id"] = project.clone();
        body["type"] = json!("webhook");
        let refused = client
            .call("deploy/v1/integration/create", &body)
            .await
            .unwrap();
        expect_at(&refused, 400, Status::ValidationError, source);
    }
    let private = client
        .call(
            "deploy/v1/integration/create",
            &json!({ "project_id": project, "type": "webhook", "url": "http://10.0.0.1/", "events": ["*"] }),
        )
        .await
        .unwrap();
    assert_eq!(
        private.envelope.result["errors"][0]["code"],
        "PrivateAddress"
    );
    let kind = client
        .call(
            "deploy/v1/integration/create",
            &json!({ "project_id": project, "type": "slack", "url": "https://example.com/", "events": ["*"] }),
        )
        .await
        .unwrap();
    expect_at(&kind, 400, Status::ValidationError, "/type");

    // Only admins manage integrations.
    let member = gw.person("hooker", "viewer").await;
    gw.add_member(project.as_str().unwrap(), &member, "member")
        .await;
    let refused = member
        .client
        .call(
            "deploy/v1/integration/create",
            &json!({ "project_id": project, "type": "webhook", "url": "https://example.com/", "events": ["*"] }),
        )
        .await
        .unwrap();
    expect(&refused, 403, Status::Forbidden);

    // The internal delivery action is not a route.
    let hidden = client
        .call(
            "deploy/v1/integration/deliver",
            &json!({ "delivery_id": "dlv_x" }),
        )
        .await
        .unwrap();
    expect(&hidden, 404, Status::NotFound);
}

/// A hook whose name came to resolve inside the network after it was
/// made: every delivery attempt is refused, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_turned_inward_is_refused_at_delivery() {
    let receiver = Receiver::start(0).await;
    let allowed = common::start_with(common::allow_private_hooks).await;
    let client = allowed.client("");
    let (project, env) = allowed.project_with_environment("turned", "dev").await;
    let hook = webhook(&client, &project, &receiver.url(), json!(["*"])).await;
    let dir = allowed.shutdown().await;
    // The same database, under a gateway that refuses private addresses:
    // to it, the hook now leads inside the network.
    let running = common::restart(dir.path()).await;
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let client = Client::new(format!("http://{}", running.addr), token.trim());
    let paused = client
        .call("deploy/v1/environment/pause", &json!({ "id": env }))
        .await
        .unwrap();
    let paused = client.wait(paused, WAIT).await.unwrap();
    expect(&paused, 200, Status::Success);
    let deadline = tokio::time::Instant::now() + WAIT;
    let attempt = loop {
        let listed = succeeded(
            &client,
            "deploy/v1/integration/deliveries",
            json!({ "id": hook["id"] }),
        )
        .await;
        if listed["count"].as_u64().unwrap_or(0) > 0 {
            break listed["results"][0].clone();
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(attempt["status_code"].is_null());
    assert!(
        attempt["error"]
            .as_str()
            .unwrap()
            .contains("inside the network"),
        "{attempt}"
    );
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    drop(running);
}

/// A gateway killed between two attempts: the next attempt is in the job
/// table, and a restarted gateway delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_mid_retry_still_delivers() {
    let receiver = Receiver::start(1).await;
    let dir = tempfile::tempdir().unwrap();
    let lease = Duration::from_millis(1000);
    let hooks = [(PRIVATE_HOOKS, "1")];
    let mut node = Node::start_configured(dir.path(), None, lease, 256, &hooks);
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let client = Client::new(&node.url, token.trim());
    let project = succeeded(
        &client,
        "console/v1/project/create",
        json!({ "name": "killed", "geo": "us" }),
    )
    .await["id"]
        .clone();
    let env = succeeded(
        &client,
        "deploy/v1/environment/create",
        json!({ "project_id": project, "name": "dev" }),
    )
    .await["id"]
        .clone();
    let hook = webhook(
        &client,
        &project,
        &receiver.url(),
        json!(["activity.complete"]),
    )
    .await;
    let paused = run(&client, "deploy/v1/environment/pause", json!({ "id": env })).await;
    expect(&paused, 200, Status::Success);
    // The first attempt fails; kill the gateway before the next one.
    let first = receiver.wait_for(1).await;
    node.kill();
    assert_eq!(first[0].status, 500);
    let delivery = header(&first[0], "x-actiongate-delivery").to_owned();

    let node = Node::start_configured(dir.path(), None, lease, 256, &hooks);
    let received = receiver.wait_for(2).await;
    let last = received.last().unwrap();
    assert_eq!(last.status, 200);
    assert!(received
        .iter()
        .all(|r| header(r, "x-actiongate-delivery") == delivery));
    assert!(signed_by(last, hook["secret"].as_str().unwrap()));
    let client = Client::new(&node.url, token.trim());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let listed = succeeded(
            &client,
            "deploy/v1/integration/deliveries",
            json!({ "id": hook["id"] }),
        )
        .await;
        if listed["results"][0]["delivery_status"] == "delivered" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{listed:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deliveries that ended are kept 30 days after they were made, with their
/// attempts, then swept; a pending one, however old, and a recent one stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_deliveries_are_swept_after_30_days() {
    let gw = common::start_with(|c| {
        common::allow_private_hooks(c);
        c.result_sweep_interval = Duration::from_millis(200);
    })
    .await;
    let client = gw.client("");
    let project = gw.project("kept").await["id"].clone();
    let hook = webhook(&client, &project, "http://127.0.0.1:9/hook", json!(["*"])).await;
    let hook = hook["id"].as_str().unwrap();
    let project = project.as_str().unwrap();
    let day = 24 * 60 * 60 * 1000_i64;
    let now = actiongate_wire::Timestamp::now_ms();
    let db = crate::common::database(&format!(
        "sqlite://{}",
        gw.dir.path().join("actiongate.db").display()
    ))
    .await;
    let rows = [
        ("dlv_old_delivered", "delivered", now - 31 * day),
        ("dlv_old_pending", "pending", now - 31 * day),
        ("dlv_recent_failed", "failed", now - 29 * day),
    ];
    for (id, status, at) in rows {
        for sql in [
            format!(
                "INSERT INTO deliveries (id, integration_id, project_id, activity_id, event, payload, \
                 status, attempts, created_at) VALUES ('{id}', '{hook}', '{project}', 'prq_x', \
                 'activity.complete', '{{}}', '{status}', 1, {at})"
            ),
            format!(
                "INSERT INTO delivery_attempts (id, delivery_id, integration_id, attempt, latency_ms, at) \
                 VALUES ('att_{id}', '{id}', '{hook}', 1, 5, {at})"
            ),
        ] {
            sea_orm::ConnectionTrait::execute_unprepared(&db, &sql)
                .await
                .unwrap();
        }
    }
    let ids = || async {
        let listed = succeeded(
            &client,
            "deploy/v1/integration/deliveries",
            json!({ "id": hook }),
        )
        .await;
        let mut ids: Vec<String> = listed["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids().await.len(), 3);
    let deadline = tokio::time::Instant::now() + WAIT;
    while ids().await.len() == 3 {
        assert!(tokio::time::Instant::now() < deadline, "never swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The list shows attempts: the old delivered one's went with it.
    assert_eq!(
        ids().await,
        ["att_dlv_old_pending", "att_dlv_recent_failed"]
    );
    let left = sea_orm::ConnectionTrait::query_one(
        &db,
        sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM deliveries WHERE id = 'dlv_old_delivered'",
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(left.try_get::<i64>("", "n").unwrap(), 0);
}
