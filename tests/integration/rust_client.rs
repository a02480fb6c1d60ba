//! The typed Rust client (`actiongate-client`'s `Gateway`) against a live
//! gateway: a typed call into each built-in service with the services' own
//! types, a 202 waited for, typed errors, timeouts, an `Idempotency-Key`,
//! and retries through a load balancer that loses an answer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actiongate_client::fields::{Name, Slug};
use actiongate_client::{
    access, console, deploy, CallOptions, Error, Gateway, Retries, Role, Status, Submitted,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::common;

// The test service's actions, declared as a client application declares
// the actions of a service of its own.
mod testkit {
    use serde_json::Value;

    actiongate_wire::actions! {
        service "testkit";
        Sleep: sync "v1" "sleep", Value => Value;
        Steps: async "v1" "steps/async", Value => Value;
    }
}

fn project(name: &str) -> console::project::Create {
    console::project::Create {
        org_id: None,
        name: Name::try_from(name).unwrap(),
        geo: None,
        region: None,
        display_name: None,
        description: None,
        color: None,
        single_server_mode: false,
        default_server_id: None,
        auto_error_tracking_enabled: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_reach_every_service_and_wait_for_accepted_ones() {
    let gw = common::start().await;
    let gateway = Gateway::new(&gw.url, &gw.token);

    let me = gateway
        .call::<access::UserMe>(&access::user::Empty {})
        .await
        .unwrap();
    assert_eq!(me.role, Role::Owner);

    let created = gateway
        .call::<console::ProjectCreate>(&project("typed"))
        .await
        .unwrap();
    assert_eq!(created.name, "typed");
    assert_eq!(created.org, me.org_id);
    let found = gateway
        .call::<console::ProjectGet>(&console::project::ProjectId {
            id: created.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(found.id, created.id);

    let staging = gateway
        .call::<deploy::EnvironmentCreate>(&deploy::environment::Create {
            project_id: created.id.clone(),
            name: Slug::try_from("staging").unwrap(),
            display_name: None,
            r#type: None,
            description: None,
            color: None,
            git_branch: None,
            settings: None,
        })
        .await
        .unwrap();
    let clone_of = |name: &str| deploy::environment::Clone {
        id: staging.id.clone(),
        name: Slug::try_from(name).unwrap(),
        display_name: None,
        r#type: None,
        description: None,
        color: None,
        git_branch: None,
    };
    // Designated asynchronous: `call` waits through the 202.
    let copy = gateway
        .call::<deploy::EnvironmentClone>(&clone_of("staging-copy"))
        .await
        .unwrap();
    assert_eq!(copy.parent.as_deref(), Some(staging.id.as_str()));
    // `submit` stops at the 202; `outcome` waits for it later.
    let Submitted::Accepted(pending) = gateway
        .submit::<deploy::EnvironmentClone>(&clone_of("second-copy"), &CallOptions::default())
        .await
        .unwrap()
    else {
        panic!("a designated-async call answered directly")
    };
    let second = gateway
        .outcome(&pending, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(second.result.name, "second-copy");
    assert_eq!(second.request_id, pending.request_id);

    let activities = gateway
        .call::<deploy::ActivityList>(&deploy::activity::List {
            project_id: created.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(activities.count, 2);
    assert!(activities
        .results
        .iter()
        .all(|a| a.r#type == "environment.clone"
            && a.state == deploy::activity::State::Complete
            && a.result == Some(deploy::activity::Outcome::Success)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_error_status_is_its_own_error() {
    let gw = common::start().await;
    let gateway = Gateway::new(&gw.url, &gw.token);

    let missing = gateway
        .call::<console::ProjectGet>(&console::project::ProjectId {
            id: "prj_missing".into(),
        })
        .await
        .unwrap_err();
    let Error::NotFound(failure) = &missing else {
        panic!("{missing:?}")
    };
    assert_eq!(failure.status, Status::ResourceNotFound);

    let invalid = gateway
        .call::<console::ProjectList>(&console::project::List {
            limit: Some(0),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let Error::Invalid(failure) = &invalid else {
        panic!("{invalid:?}")
    };
    assert_eq!(failure.status, Status::ValidationError);
    assert_eq!(failure.errors[0].source, "/limit");

    let stranger = gateway.with_token("agt_not_a_token");
    let unauthorized = stranger
        .call::<access::UserMe>(&access::user::Empty {})
        .await
        .unwrap_err();
    assert!(
        matches!(unauthorized, Error::Unauthorized(_)),
        "{unauthorized:?}"
    );

    let viewer = gateway.with_token(gw.create_token(&["--role", "viewer"]));
    let forbidden = viewer
        .call::<console::ProjectCreate>(&project("not-allowed"))
        .await
        .unwrap_err();
    assert_eq!(forbidden.status(), Some(Status::Forbidden));
    assert!(matches!(forbidden, Error::Forbidden(_)), "{forbidden:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_end_a_slow_answer_and_a_long_wait() {
    let gw = common::start().await;
    let impatient = Gateway::new(&gw.url, &gw.token)
        .timeout(Duration::from_millis(300))
        .retries(Retries::NONE);
    let slow = impatient
        .call::<testkit::Sleep>(&json!({ "ms": 1500 }))
        .await
        .unwrap_err();
    assert!(
        matches!(&slow, Error::Http(err) if err.is_timeout()),
        "{slow:?}"
    );

    let short_wait = Gateway::new(&gw.url, &gw.token).wait(Duration::from_secs(1));
    let running = short_wait
        .call::<testkit::Steps>(&json!({ "steps": 4, "step_ms": 1000 }))
        .await
        .unwrap_err();
    assert!(matches!(running, Error::StillRunning(_)), "{running:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_makes_a_repeat_answer_with_the_first_outcome() {
    let gw = common::start().await;
    let gateway = Gateway::new(&gw.url, &gw.token);
    let options = CallOptions {
        idempotency_key: Some("create-once".into()),
    };
    let first = gateway
        .call_with::<console::ProjectCreate>(&project("once"), &options)
        .await
        .unwrap();
    let again = gateway
        .call_with::<console::ProjectCreate>(&project("once"), &options)
        .await
        .unwrap();
    assert_eq!(again.result.id, first.result.id);
    assert_eq!(again.request_id, first.request_id);
    assert_eq!(gw.count_projects().await, 1);
}

/// A load balancer in front of the gateway that forwards every request and
/// records its headers, but loses the gateway's answer to the first POST
/// and answers 502 in its place, keeping the body (and so the request id).
struct LossyBalancer {
    addr: SocketAddr,
    posts: Arc<Mutex<Vec<http::HeaderMap>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LossyBalancer {
    async fn start(gateway: String) -> LossyBalancer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let posts: Arc<Mutex<Vec<http::HeaderMap>>> = Arc::default();
        let seen = posts.clone();
        let forward = reqwest::Client::new();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, forward, gateway) = (seen.clone(), forward.clone(), gateway.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (seen, forward, gateway) =
                            (seen.clone(), forward.clone(), gateway.clone());
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await?.to_bytes();
                            let first_post = parts.method == http::Method::POST && {
                                let mut seen = seen.lock().unwrap();
                                seen.push(parts.headers.clone());
                                seen.len() == 1
                            };
                            let mut headers = parts.headers.clone();
                            headers.remove(http::header::HOST);
                            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                            let answer = forward
                                .request(parts.method, format!("{gateway}{path}"))
                                .headers(headers)
                                .body(body)
                                .send()
                                .await
                                .expect("the gateway answers the balancer");
                            let status = if first_post {
                                http::StatusCode::BAD_GATEWAY
                            } else {
                                answer.status()
                            };
                            let mut response = Response::builder().status(status);
                            for name in ["content-type", "x-request-id", "retry-after"] {
                                if let Some(value) = answer.headers().get(name) {
                                    response = response.header(name, value);
                                }
                            }
                            let bytes = answer.bytes().await.unwrap_or_default();
                            Ok::<_, hyper::Error>(response.body(Full::new(bytes)).unwrap())
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        LossyBalancer { addr, posts, task }
    }
}

impl Drop for LossyBalancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_names_the_lost_attempt_and_the_gateway_answers_with_its_job() {
    let gw = common::start().await;
    let balancer = LossyBalancer::start(gw.url.clone()).await;
    let gateway = Gateway::new(format!("http://{}", balancer.addr), &gw.token).retries(Retries {
        attempts: 2,
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
    });
    let projects_before = gw.count_projects().await;

    // The job writes a project once; a second run would fail with Conflict.
    let answer = gateway
        .call_with::<testkit::Steps>(
            &json!({ "steps": 2, "step_ms": 100, "name": "written once" }),
            &CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(answer.result["name"], "written once");

    let posts = balancer.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 2, "one attempt lost, one retry");
    assert!(posts[0].get("x-pangea-retried-request-ids").is_none());
    let retried = posts[1]["x-pangea-retried-request-ids"].to_str().unwrap();
    // The retry named the lost attempt, and the gateway answered with the
    // job that attempt had started rather than running it again.
    assert_eq!(retried, answer.request_id.to_string());
    assert_eq!(gw.count_projects().await, projects_before + 1);
    let polled: Value = gw
        .client("")
        .get(&format!("request/{}", answer.request_id))
        .await
        .unwrap()
        .envelope
        .result;
    assert_eq!(polled["name"], "written once");
}
