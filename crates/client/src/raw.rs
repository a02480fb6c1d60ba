//! The raw client: make an action call by path, read the envelope, and
//! poll a 202 until it finishes. The typed [`crate::Gateway`] is built on
//! it; tests and tools that send what no action declares use it directly.

use std::time::Duration;

use actiongate_wire::{AcceptedResult, Envelope, RequestId, Status};
use serde::Serialize;

use crate::Error;

/// An answer: the HTTP status, the `x-request-id` and `Retry-After`
/// headers, and the envelope.
#[derive(Debug, Clone)]
pub struct Reply {
    pub http_status: u16,
    pub request_id_header: Option<String>,
    pub retry_after: Option<Duration>,
    pub envelope: Envelope,
}

impl Reply {
    /// The poll details of a 202.
    pub fn accepted(&self) -> Option<AcceptedResult> {
        if self.envelope.status != Status::Accepted {
            return None;
        }
        serde_json::from_value(self.envelope.result.clone()).ok()
    }
}

/// The raw client: any path, any JSON body, the envelope as it came.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    token: String,
    /// Each request's deadline, beyond what a long-poll is asked to hold.
    timeout: Option<Duration>,
}

impl Client {
    /// `base_url` is everything before `/<version>/...`: the gateway's root,
    /// or its root and a service prefix (`http://host:8080/console`).
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        Client {
            http: reqwest::Client::new(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            token: token.into(),
            timeout: None,
        }
    }

    /// Ends each request that takes longer than `timeout` (a long-poll:
    /// longer than it was asked to hold, plus `timeout`).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Client {
            timeout: Some(timeout),
            ..self
        }
    }

    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Client {
            token: token.into(),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// `POST <base>/<path>` with `params` as the JSON body.
    pub async fn call(&self, path: &str, params: &impl Serialize) -> Result<Reply, Error> {
        let request = self.http.post(self.url(path)).json(params);
        self.send(request).await
    }

    /// A `POST <base>/<path>` to finish (headers, body) and [`Client::send`].
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    /// `GET` of an absolute URL (a poll `location`) or a path under the base.
    pub async fn get(&self, url_or_path: &str) -> Result<Reply, Error> {
        let url = if url_or_path.starts_with("http://") || url_or_path.starts_with("https://") {
            url_or_path.to_owned()
        } else {
            self.url(url_or_path)
        };
        self.send(self.http.get(url)).await
    }

    /// Sends any request with this client's token and reads the envelope.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, Error> {
        let request = match self.timeout {
            Some(timeout) => request.timeout(timeout),
            None => request,
        };
        let response = request.bearer_auth(&self.token).send().await?;
        read_reply(response).await
    }

    /// Waits for a 202 to finish, with long-polls (`?wait=`), until
    /// `timeout` passes; any other reply is returned as it is. A poll
    /// answered 503 (the gateway's database briefly away) is tried again
    /// after its `Retry-After`, as the Pangea SDKs do.
    pub async fn wait(&self, reply: Reply, timeout: Duration) -> Result<Reply, Error> {
        self.wait_watching(reply, timeout, Duration::from_secs(30), |_| {})
            .await
    }

    /// [`Client::wait`], holding each long-poll at most `each` (whole
    /// seconds, at least 1) and telling `progress` what every 202 along the
    /// way said (its `completion_percent`, for a progress bar).
    pub async fn wait_watching(
        &self,
        reply: Reply,
        timeout: Duration,
        each: Duration,
        progress: impl FnMut(&AcceptedResult),
    ) -> Result<Reply, Error> {
        let Some(accepted) = reply.accepted() else {
            return Ok(reply);
        };
        self.poll(
            reply.envelope.request_id,
            &accepted,
            timeout,
            each,
            progress,
        )
        .await
    }

    /// Polls the accepted request `request_id` at `accepted.location` as
    /// [`Client::wait_watching`] does.
    pub async fn poll(
        &self,
        request_id: RequestId,
        accepted: &AcceptedResult,
        timeout: Duration,
        each: Duration,
        mut progress: impl FnMut(&AcceptedResult),
    ) -> Result<Reply, Error> {
        progress(accepted);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            // The gateway holds a poll at most 30 s; whole seconds, at least 1.
            let secs = remaining.as_secs().min(each.as_secs()).clamp(1, 30);
            let poll = self.http.get(format!("{}?wait={secs}", accepted.location));
            let poll = match self.timeout {
                Some(timeout) => poll.timeout(timeout + Duration::from_secs(secs)),
                None => poll,
            };
            let response = poll.bearer_auth(&self.token).send().await?;
            let polled = read_reply(response).await?;
            if let Some(pending) = polled.accepted() {
                progress(&pending);
            }
            if polled.http_status == 503 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            if polled.http_status != 202 {
                return Ok(polled);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::StillRunning(request_id));
            }
        }
    }
}

/// Reads an HTTP response as an envelope.
pub async fn read_reply(response: reqwest::Response) -> Result<Reply, Error> {
    let http_status = response.status().as_u16();
    let request_id_header = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs);
    let body = response.text().await?;
    let envelope = serde_json::from_str(&body).map_err(|error| Error::NotAnEnvelope {
        status: http_status,
        body: body.clone(),
        error,
    })?;
    Ok(Reply {
        http_status,
        request_id_header,
        retry_after,
        envelope,
    })
}
