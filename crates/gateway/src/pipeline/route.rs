//! Phase 1: resolve the route.
//!
//! The gateway's own endpoints come first: `/healthz`, `/readyz`,
//! `/version`, `/status`, `/metrics` and `/.well-known/jwks.json`, at the
//! root only.
//!
//! The service, local or upstream, is found from, in order: a leading
//! path segment naming it (`/console/v1beta/...`), the leading labels of
//! the `Host` header (`api.console.gw.example.com`), or the path alone
//! when exactly one service serves it (for an upstream, a path listed
//! under its `actions`). What remains is `/openapi.json`, `/request/<id>`
//! (a poll), `/request/cancel`, `/v1/upstream/status`, an action's
//! `version/resource/action`, or, on GET, `version/resource/<id>` for a
//! local service whose resource has a `get` action. Every POST path under
//! an upstream service is its action: the upstream says whether it exists.

use actiongate_wire::{ApiError, Status};
use http::request::Parts;
use http::Method;

use std::sync::Arc;

use crate::routes::{Action, RouteTable, ServiceRoutes};
use crate::upstream::table::{UpstreamService, UpstreamTable};

/// Where a request goes.
pub enum Route<'t> {
    /// `GET /request/<id>`.
    Poll { request_id: &'t str },
    /// `POST /request/cancel`.
    Cancel,
    /// `GET /openapi.json`, or `GET /<service>/openapi.json` for one.
    Document { service: Option<&'t ServiceRoutes> },
    /// The gateway's own state (see [`crate::health`]).
    Health(Health<'t>),
    Action {
        service: &'t ServiceRoutes,
        action: &'t Action,
        /// Set on `GET /<version>/<resource>/<id>`: the id to fetch.
        rest_id: Option<&'t str>,
    },
    /// `POST /<version>/<path>` under an upstream service.
    Upstream {
        service: &'t Arc<UpstreamService>,
        /// `version/resource/action`.
        key: &'t str,
    },
    /// `POST /v1/upstream/status`: the upstreams' health, for admins.
    UpstreamStatus,
    /// `GET /.well-known/jwks.json`: the keys upstream identities are
    /// signed with.
    Jwks,
}

/// The service a path prefix or `Host` named.
#[derive(Clone, Copy)]
enum Named<'t> {
    Local(&'t ServiceRoutes),
    Upstream(&'t Arc<UpstreamService>),
}

/// `GET /healthz`, `/readyz`, `/version`, `/status[/<canonical>]`,
/// `/metrics`.
pub enum Health<'t> {
    Live,
    Ready,
    Version,
    Status { only: Option<&'t str> },
    Metrics,
}

impl<'t> Health<'t> {
    /// The endpoint at `path`, which no service prefix precedes.
    fn at(path: &'t str) -> Option<Health<'t>> {
        Some(match path {
            "/healthz" => Health::Live,
            "/readyz" => Health::Ready,
            "/version" => Health::Version,
            "/metrics" => Health::Metrics,
            "/status" => Health::Status { only: None },
            _ => Health::Status {
                only: Some(path.strip_prefix("/status/")?),
            },
        })
    }
}

/// A resolved route and the service prefix the caller used, if any (poll
/// locations repeat it).
pub struct Resolved<'t> {
    pub route: Route<'t>,
    pub prefix: Option<&'t str>,
}

/// Why no route was found, and for `MethodNotAllowed` the method to use.
pub struct Rejected {
    pub error: ApiError,
    pub allow: Option<&'static str>,
}

impl From<ApiError> for Rejected {
    fn from(error: ApiError) -> Self {
        Rejected { error, allow: None }
    }
}

/// Where upstream identities' keys are published.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// The gateway's action reporting its upstreams' health.
pub const UPSTREAM_STATUS_PATH: &str = "/v1/upstream/status";

pub fn resolve<'t>(
    table: &'t RouteTable,
    upstreams: &'t UpstreamTable,
    parts: &'t Parts,
) -> Result<Resolved<'t>, Rejected> {
    let path = parts.uri.path();
    if path == JWKS_PATH {
        if parts.method != Method::GET {
            return Err(method_not_allowed(&parts.method, "GET"));
        }
        return Ok(Resolved {
            route: Route::Jwks,
            prefix: None,
        });
    }
    if let Some(health) = Health::at(path) {
        if parts.method != Method::GET {
            return Err(method_not_allowed(&parts.method, "GET"));
        }
        return Ok(Resolved {
            route: Route::Health(health),
            prefix: None,
        });
    }
    let (named, prefix, rest) = by_prefix(table, upstreams, path)
        .map(|(service, prefix, rest)| (Some(service), Some(prefix), rest))
        .unwrap_or_else(|| (by_host(table, upstreams, parts), None, path));

    if rest == "/openapi.json" {
        if parts.method != Method::GET {
            return Err(method_not_allowed(&parts.method, "GET"));
        }
        let service = match named {
            None => None,
            Some(Named::Local(service)) => Some(service),
            Some(Named::Upstream(service)) => {
                return Err(ApiError::new(
                    Status::NotFound,
                    format!(
                        "The {} service is an upstream; it publishes its own description",
                        service.name
                    ),
                )
                .into())
            }
        };
        return Ok(Resolved {
            route: Route::Document { service },
            prefix,
        });
    }
    if rest == "/request/cancel" {
        if parts.method != Method::POST {
            return Err(method_not_allowed(&parts.method, "POST"));
        }
        return Ok(Resolved {
            route: Route::Cancel,
            prefix,
        });
    }
    if let Some(request_id) = rest.strip_prefix("/request/") {
        if parts.method != Method::GET {
            return Err(method_not_allowed(&parts.method, "GET"));
        }
        return Ok(Resolved {
            route: Route::Poll { request_id },
            prefix,
        });
    }

    if named.is_none() && rest == UPSTREAM_STATUS_PATH {
        if parts.method != Method::POST {
            return Err(method_not_allowed(&parts.method, "POST"));
        }
        return Ok(Resolved {
            route: Route::UpstreamStatus,
            prefix,
        });
    }

    let key = rest.strip_prefix('/').unwrap_or(rest);
    let named = match named {
        Some(Named::Upstream(service)) => {
            return upstream_call(service, key, path, &parts.method)
                .map(|route| Resolved { route, prefix })
        }
        Some(Named::Local(service)) => Some(service),
        None => None,
    };
    if named.is_none() && table.services_with(key).next().is_none() {
        if let Some(service) = listed_upstream(upstreams, key)? {
            return upstream_call(service, key, path, &parts.method)
                .map(|route| Resolved { route, prefix });
        }
    }
    let route = match find(table, named, key)? {
        Some((service, action)) => {
            if parts.method != Method::POST {
                return Err(method_not_allowed(&parts.method, "POST"));
            }
            Route::Action {
                service,
                action,
                rest_id: None,
            }
        }
        None => match rest_get(table, named, key, &parts.method)? {
            Some(route) => route,
            None => {
                return Err(ApiError::new(
                    Status::NotFound,
                    format!("No route for {path}: calls are POST /<version>/<resource>/<action>, optionally under a service prefix"),
                )
                .into())
            }
        },
    };
    Ok(Resolved { route, prefix })
}

/// `version/resource/action` under an upstream: any such path is
/// forwarded, on POST.
fn upstream_call<'t>(
    service: &'t Arc<UpstreamService>,
    key: &'t str,
    path: &str,
    method: &Method,
) -> Result<Route<'t>, Rejected> {
    if key.split('/').filter(|s| !s.is_empty()).count() < 2 {
        return Err(ApiError::new(
            Status::NotFound,
            format!("No route for {path}: calls are POST /<version>/<resource>/<action>"),
        )
        .into());
    }
    if method != Method::POST {
        return Err(method_not_allowed(method, "POST"));
    }
    Ok(Route::Upstream { service, key })
}

/// The one upstream listing `key` under its `actions`.
fn listed_upstream<'t>(
    upstreams: &'t UpstreamTable,
    key: &str,
) -> Result<Option<&'t Arc<UpstreamService>>, Rejected> {
    let mut listing = upstreams.services_with(key);
    let Some(first) = listing.next() else {
        return Ok(None);
    };
    if listing.next().is_some() {
        let names: Vec<&str> = upstreams.services_with(key).map(|s| s.name).collect();
        return Err(ambiguous(key, &names));
    }
    Ok(Some(first))
}

/// A service named by its name or an alias: a local one, else an upstream.
fn service_named<'t>(
    table: &'t RouteTable,
    upstreams: &'t UpstreamTable,
    name: &str,
) -> Option<Named<'t>> {
    table
        .service_named(name)
        .map(Named::Local)
        .or_else(|| upstreams.service_named(name).map(Named::Upstream))
}

/// A leading path segment that names a service.
fn by_prefix<'t>(
    table: &'t RouteTable,
    upstreams: &'t UpstreamTable,
    path: &'t str,
) -> Option<(Named<'t>, &'t str, &'t str)> {
    let trimmed = path.strip_prefix('/')?;
    let (first, rest) = match trimmed.find('/') {
        Some(i) => (&trimmed[..i], &trimmed[i..]),
        None => (trimmed, ""),
    };
    service_named(table, upstreams, first).map(|service| (service, first, rest))
}

/// The longest run of leading `Host` labels that names a service.
fn by_host<'t>(
    table: &'t RouteTable,
    upstreams: &'t UpstreamTable,
    parts: &'t Parts,
) -> Option<Named<'t>> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host())?;
    let host = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let mut end = host.len();
    loop {
        if let Some(service) = service_named(table, upstreams, &host[..end]) {
            return Some(service);
        }
        end = host[..end].rfind('.')?;
    }
}

type Found<'t> = Option<(&'t ServiceRoutes, &'t Action)>;

fn find<'t>(
    table: &'t RouteTable,
    named: Option<&'t ServiceRoutes>,
    key: &str,
) -> Result<Found<'t>, Rejected> {
    if let Some(service) = named {
        return Ok(service.action(key).map(|action| (service, action)));
    }
    let mut candidates = table.services_with(key);
    let Some(first) = candidates.next() else {
        return Ok(None);
    };
    if candidates.next().is_some() {
        let names: Vec<&str> = table.services_with(key).map(|s| s.name).collect();
        return Err(ambiguous(key, &names));
    }
    Ok(first.action(key).map(|action| (first, action)))
}

/// `GET version/resource/<id>` served by `version/resource/get`.
fn rest_get<'t>(
    table: &'t RouteTable,
    named: Option<&'t ServiceRoutes>,
    key: &'t str,
    method: &Method,
) -> Result<Option<Route<'t>>, Rejected> {
    // Any other method on such a path is a call to an unknown action.
    if method != Method::GET {
        return Ok(None);
    }
    let Some((resource, id)) = key.rsplit_once('/') else {
        return Ok(None);
    };
    // `version/id` alone names no resource.
    if id.is_empty() || !resource.contains('/') {
        return Ok(None);
    }
    let get_key = format!("{resource}/get");
    let Some((service, action)) = find(table, named, &get_key)? else {
        return Ok(None);
    };
    Ok(Some(Route::Action {
        service,
        action,
        rest_id: Some(id),
    }))
}

fn ambiguous(key: &str, names: &[&str]) -> Rejected {
    ApiError::new(
        Status::AmbiguousRoute,
        format!(
            "Several services serve /{key} ({}); name one with a path prefix (/{}/{key}) or the Host header",
            names.join(", "),
            names[0]
        ),
    )
    .into()
}

fn method_not_allowed(method: &Method, allowed: &'static str) -> Rejected {
    Rejected {
        error: ApiError::new(
            Status::MethodNotAllowed,
            format!("{method} is not allowed here; use {allowed}"),
        ),
        allow: Some(allowed),
    }
}
