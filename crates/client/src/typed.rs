//! The typed client: one call per declared action, with the action's own
//! input and output types, and what the Pangea SDKs do around a call:
//! retries with `X-Pangea-Retried-Request-Ids`, an optional
//! `Idempotency-Key`, timeouts, and 202s polled to their result.

use std::marker::PhantomData;
use std::time::Duration;

use actiongate_wire::{AcceptedResult, Action, RequestId, Status};

use crate::{Client, Error, Reply};

/// How often, and how patiently, a call is tried again.
///
/// A call is retried when the gateway answers 500, 502, 503 or 504, or
/// when the connection could not be made. Each retry names the earlier
/// attempts' request ids in `X-Pangea-Retried-Request-Ids`, so the gateway
/// answers with what an earlier attempt already did (a job it accepted)
/// instead of doing it twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retries {
    /// Attempts after the first; 0 turns retries off.
    pub attempts: u32,
    /// The wait before the first retry; it doubles for each next one.
    pub first_delay: Duration,
    /// The longest wait between two attempts, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for Retries {
    /// The Pangea SDKs' policy: 3 retries, from half a second.
    fn default() -> Self {
        Retries {
            attempts: 3,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl Retries {
    pub const NONE: Retries = Retries {
        attempts: 0,
        first_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// The wait before retry number `retry` (0 for the first), or the
    /// gateway's `Retry-After` if it asked for longer, within `max_delay`.
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        retry_after.map_or(backoff, |asked| asked.max(backoff).min(self.max_delay))
    }
}

/// What one call adds to the client's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// Sent as `Idempotency-Key`: the gateway answers a repeat of the same
    /// call with the same key by the first call's outcome.
    pub idempotency_key: Option<String>,
}

/// A successful call: its result and the envelope around it.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer<T> {
    pub result: T,
    pub request_id: RequestId,
    pub summary: String,
}

/// A call as it stands once the gateway has answered the POST.
#[derive(Clone, Debug, PartialEq)]
pub enum Submitted<A: Action> {
    /// Answered directly.
    Done(Answer<A::Output>),
    /// Accepted (202): running as a job; [`Gateway::outcome`] waits for it.
    Accepted(Pending<A>),
}

/// A call the gateway accepted and is still running.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending<A> {
    pub request_id: RequestId,
    pub accepted: AcceptedResult,
    action: PhantomData<fn() -> A>,
}

/// The typed client of one gateway, for one token.
///
/// ```no_run
/// use actiongate_client::{console, Gateway};
///
/// # async fn demo() -> Result<(), actiongate_client::Error> {
/// let gateway = Gateway::new("http://127.0.0.1:8080", "agt_...");
/// let project = gateway
///     .call::<console::ProjectGet>(&console::project::ProjectId { id: "prj_...".into() })
///     .await?;
/// println!("{} {}", project.id, project.name);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Gateway {
    client: Client,
    retries: Retries,
    wait: Duration,
}

impl Gateway {
    /// `url` is the gateway's root (`http://host:8080`): each call goes to
    /// `<url>/<service>/<version>/<path>`. Calls time out after 60 s, are
    /// retried as [`Retries::default`] says, and a 202 is waited for up to
    /// 5 minutes.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        Gateway {
            client: Client::new(url, token).with_timeout(Duration::from_secs(60)),
            retries: Retries::default(),
            wait: Duration::from_secs(300),
        }
    }

    /// Ends each HTTP request that takes longer than `timeout` (a poll:
    /// longer than it asked the gateway to hold, plus `timeout`).
    pub fn timeout(self, timeout: Duration) -> Self {
        Gateway {
            client: self.client.with_timeout(timeout),
            ..self
        }
    }

    pub fn retries(self, retries: Retries) -> Self {
        Gateway { retries, ..self }
    }

    /// How long [`Gateway::call`] waits for an accepted call's result
    /// before it gives up with [`Error::StillRunning`].
    pub fn wait(self, wait: Duration) -> Self {
        Gateway { wait, ..self }
    }

    /// The same gateway with another token.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Gateway {
            client: self.client.with_token(token),
            ..self.clone()
        }
    }

    /// The raw client underneath, for what no action declares.
    pub fn raw(&self) -> &Client {
        &self.client
    }

    /// Calls `A` and returns its result, waiting for it if the call was
    /// accepted as a job.
    pub async fn call<A: Action>(&self, input: &A::Input) -> Result<A::Output, Error> {
        let answer = self.call_with::<A>(input, &CallOptions::default()).await?;
        Ok(answer.result)
    }

    /// [`Gateway::call`], with per-call options, returning the envelope's
    /// request id and summary with the result.
    pub async fn call_with<A: Action>(
        &self,
        input: &A::Input,
        options: &CallOptions,
    ) -> Result<Answer<A::Output>, Error> {
        match self.submit::<A>(input, options).await? {
            Submitted::Done(answer) => Ok(answer),
            Submitted::Accepted(pending) => self.outcome(&pending, self.wait).await,
        }
    }

    /// Sends the call and returns as soon as the gateway has answered the
    /// POST: with the result, or with the job it accepted.
    pub async fn submit<A: Action>(
        &self,
        input: &A::Input,
        options: &CallOptions,
    ) -> Result<Submitted<A>, Error> {
        let path = format!("{}/{}/{}", A::SERVICE, A::VERSION, A::PATH);
        let mut retried: Vec<RequestId> = Vec::new();
        let mut retry = 0;
        let reply = loop {
            let mut request = self.client.post(&path).json(input);
            if let Some(key) = &options.idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            if !retried.is_empty() {
                request = request.header("X-Pangea-Retried-Request-Ids", join(&retried));
            }
            let outcome = self.client.send(request).await;
            let again = retry < self.retries.attempts;
            let retry_after = match &outcome {
                Ok(reply) if again && is_retried(reply.http_status) => {
                    retried.push(reply.envelope.request_id);
                    reply.retry_after
                }
                // A proxy's own error page in front of the gateway.
                Err(Error::NotAnEnvelope { status, .. }) if again && is_retried(*status) => None,
                Err(Error::Http(err)) if again && err.is_connect() => None,
                _ => break outcome?,
            };
            tokio::time::sleep(self.retries.delay(retry, retry_after)).await;
            retry += 1;
        };
        if let Some(accepted) = reply.accepted() {
            return Ok(Submitted::Accepted(Pending {
                request_id: reply.envelope.request_id,
                accepted,
                action: PhantomData,
            }));
        }
        answer::<A>(reply).map(Submitted::Done)
    }

    /// Waits up to `timeout` for an accepted call's result, with long-polls.
    pub async fn outcome<A: Action>(
        &self,
        pending: &Pending<A>,
        timeout: Duration,
    ) -> Result<Answer<A::Output>, Error> {
        let done = self
            .client
            .poll(
                pending.request_id,
                &pending.accepted,
                timeout,
                Duration::from_secs(30),
                |_| {},
            )
            .await?;
        answer::<A>(done)
    }
}

/// The result of a finished call, or the error its status stands for.
fn answer<A: Action>(reply: Reply) -> Result<Answer<A::Output>, Error> {
    if reply.envelope.status != Status::Success {
        return Err(Error::from_reply(reply));
    }
    let request_id = reply.envelope.request_id;
    let result = serde_json::from_value(reply.envelope.result)
        .map_err(|error| Error::UnexpectedResult { request_id, error })?;
    Ok(Answer {
        result,
        request_id,
        summary: reply.envelope.summary.into_owned(),
    })
}

/// The statuses worth another attempt: the gateway, or something in front
/// of it, was briefly unwell.
fn is_retried(http_status: u16) -> bool {
    matches!(http_status, 500 | 502 | 503 | 504)
}

fn join(ids: &[RequestId]) -> String {
    ids.iter()
        .map(RequestId::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_cap_and_honours_retry_after() {
        let retries = Retries::default();
        assert_eq!(retries.delay(0, None), Duration::from_millis(500));
        assert_eq!(retries.delay(2, None), Duration::from_secs(2));
        assert_eq!(retries.delay(10, None), Duration::from_secs(8));
        assert_eq!(
            retries.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            retries.delay(0, Some(Duration::from_secs(600))),
            Duration::from_secs(8)
        );
    }

    #[test]
    fn retried_ids_are_comma_separated() {
        let ids = [RequestId::new(), RequestId::new()];
        assert_eq!(join(&ids), format!("{},{}", ids[0], ids[1]));
    }
}
