//! Active health checks: with `health_path`, every target of the service
//! is sent `GET <target><health_path>` every `health_interval`. A 2xx
//! passes; anything else, or no answer within the interval, fails and
//! keeps the target out until a check passes ([`super::peer`]).

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use tokio_util::sync::CancellationToken;

use super::table::UpstreamService;

/// Checks `service`'s targets until `stop` is cancelled (the table it
/// belongs to was replaced, or the gateway stops).
pub fn spawn(service: Arc<UpstreamService>, stop: CancellationToken) {
    let Some(path) = service.settings.health_path.clone() else {
        return;
    };
    let every = service.settings.health_interval;
    tokio::spawn(async move {
        loop {
            for index in 0..service.peers.len() {
                let result = tokio::select! {
                    () = stop.cancelled() => return,
                    result = check(&service, index, &path) => result,
                };
                service.peers.checked(index, result);
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

async fn check(service: &UpstreamService, index: usize, path: &str) -> Result<(), String> {
    let uri = service
        .peers
        .get(index)
        .url
        .join(path)
        .map_err(|err| err.to_string())?;
    let request = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .body(Full::new(Bytes::new()))
        .map_err(|err| err.to_string())?;
    let answered = tokio::time::timeout(
        service.settings.health_interval,
        service.client.request(request),
    )
    .await;
    match answered {
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!(
            "health check answered {}",
            response.status().as_u16()
        )),
        Ok(Err(err)) => Err(format!(
            "health check failed: {}",
            super::forward::describe(&err)
        )),
        Err(_) => Err("health check timed out".into()),
    }
}
