//! The benchmark baseline: a bare hyper server on the same runtime and
//! connection builder as the gateway, answering every request with the same
//! kind of envelope the gateway writes for `greeter/v1/hello`, and nothing
//! else: no routing, authentication, decoding or logging.
//!
//! `actiongate-bench-bare <listen address>`

use std::convert::Infallible;

use actiongate_wire::{Envelope, RequestId, Status, Timestamp};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

// Request handling allocates many small, short-lived buffers; mimalloc
// serves them faster than the system allocator under concurrency.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn answer(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let request_time = Timestamp::now();
    // Read the body, as the gateway must.
    let _ = request.into_body().collect().await;
    let envelope = Envelope {
        request_id: RequestId::new(),
        request_time,
        response_time: Timestamp::now(),
        status: Status::Success,
        summary: "Greeted".into(),
        result: serde_json::json!({ "message": "Hello, world!" }),
    };
    let body = serde_json::to_vec(&envelope).expect("envelopes serialize");
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("valid header"),
    );
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("bare baseline listening on http://{addr}");
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let connection = builder
            .serve_connection(TokioIo::new(stream), service_fn(answer))
            .into_owned();
        tokio::spawn(connection);
    }
}
