//! The OpenAPI 3.1 document of the route table, made once, when first
//! asked for.
//!
//! Every operation comes from a registered action: its path from the spec,
//! its summary and who may call it from the registration line, its request
//! body and result from the input and output types (`schemars`, JSON
//! Schema 2020-12, which OpenAPI 3.1 uses as it is). What is written here
//! by hand is only what the gateway adds around every action: the
//! envelope, the statuses of the one status table with their HTTP codes,
//! bearer authentication, and the request endpoints (poll, cancel).
//!
//! Served at `GET /openapi.json` (every service) and
//! `GET /<service>/openapi.json` (one), with no token.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use actiongate_service::{Access, Mode, Scope};
use actiongate_wire::{AcceptedResult, FieldError, RequestId, Status, Timestamp};
use bytes::Bytes;
use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use crate::routes::{Action, RouteTable, ServiceRoutes};

/// Where the generated schemas live in the document.
const SCHEMAS: &str = "/components/schemas";

/// The documents, each made and serialized the first time it is asked
/// for: together they are megabytes that a gateway nobody reads them from
/// would hold for nothing.
pub struct Documents {
    routes: Arc<RouteTable>,
    public_url: Option<String>,
    all: OnceLock<Bytes>,
    by_service: HashMap<&'static str, OnceLock<Bytes>>,
}

impl Documents {
    pub fn new(routes: Arc<RouteTable>, public_url: Option<&str>) -> Documents {
        let by_service = routes
            .services()
            .iter()
            .map(|service| (service.name, OnceLock::new()))
            .collect();
        Documents {
            routes,
            public_url: public_url.map(str::to_owned),
            all: OnceLock::new(),
            by_service,
        }
    }

    /// The document of every service.
    pub fn all(&self) -> Bytes {
        let services = || self.routes.services().iter().collect::<Vec<_>>();
        self.all
            .get_or_init(|| render(&services(), self.public_url.as_deref()))
            .clone()
    }

    /// The document of one service, by its own name.
    pub fn service(&self, name: &str) -> Option<Bytes> {
        let (name, document) = self.by_service.get_key_value(name)?;
        let service = self.routes.services().iter().find(|s| s.name == *name)?;
        Some(
            document
                .get_or_init(|| render(&[service], self.public_url.as_deref()))
                .clone(),
        )
    }
}

fn render(services: &[&ServiceRoutes], public_url: Option<&str>) -> Bytes {
    let document = document(services, public_url);
    // A `Value` always serializes.
    let mut text = serde_json::to_vec(&document).unwrap_or_default();
    // `Bytes` would keep the growth's unused capacity for good.
    text.shrink_to_fit();
    Bytes::from(text)
}

/// The OpenAPI document of `services`.
pub fn document(services: &[&ServiceRoutes], public_url: Option<&str>) -> Value {
    let mut schemas = Schemas::new();
    let mut paths = Map::new();
    for service in services {
        let mut actions: Vec<&Action> = service.actions().collect();
        actions.sort_by_key(|action| (action.spec.path, action.spec.version));
        for action in actions {
            let path = format!(
                "/{}/{}/{}",
                service.name, action.spec.version, action.spec.path
            );
            paths.insert(
                path,
                json!({ "post": operation(service.name, action, &mut schemas) }),
            );
        }
    }
    paths.insert("/request/{request_id}".into(), poll_path(&mut schemas));
    paths.insert("/request/cancel".into(), cancel_path(&mut schemas));
    let (schemas, renamed) = schemas.finish();
    for body in paths
        .values_mut()
        .filter_map(|item| item.get_mut("post")?.get_mut("requestBody"))
    {
        rename_refs(body, &renamed);
    }
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "actiongate",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every call is POST /<service>/<version>/<resource>/<action> with a JSON \
                object, and every answer is the same envelope: request_id, request_time, \
                response_time, status, summary, result. An asynchronous call answers 202 with \
                `result.location`; GET it (with `?wait=<seconds>` to be answered as soon as it \
                ends) until the status is no longer Accepted.",
        },
        "tags": services.iter().map(|service| json!({ "name": service.name })).collect::<Vec<_>>(),
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An actiongate token (`actiongate token create`).",
                },
            },
            "schemas": schemas,
        },
    });
    if let Some(url) = public_url {
        document["servers"] = json!([{ "url": url.trim_end_matches('/') }]);
    }
    document
}

fn operation(service: &'static str, action: &Action, schemas: &mut Schemas) -> Value {
    let spec = &action.spec;
    let input = action.handler.input_schema(&mut schemas.input);
    let output = action.handler.output_schema(&mut schemas.output);
    let mut body = json!({ "application/json": { "schema": input } });
    if spec.accepts_files {
        body["multipart/form-data"] = json!({
            "schema": {
                "type": "object",
                "description": "The parameters as JSON in the part named `request`; each file in a part of its own.",
                "properties": { "request": { "type": "string" } },
            },
        });
    }
    let mut responses = Map::new();
    if spec.mode == Mode::Sync {
        responses.insert("200".into(), envelope(&[Status::Success], output));
    }
    responses.insert("202".into(), accepted(schemas));
    errors(&mut responses, schemas);
    let mut operation = json!({
        "operationId": format!("{service}.{}.{}", spec.version, spec.path.replace('/', ".")),
        "summary": spec.summary,
        // What custom roles' rules and authz/check name it by.
        "x-policy": actiongate_service::policy_code(service, spec.path),
        "description": description(action),
        "tags": [service],
        "requestBody": { "required": true, "content": body },
        "responses": responses,
    });
    if spec.access == Access::Public {
        operation["security"] = json!([]);
    }
    operation
}

/// Who may call the action and how it runs, in words.
fn description(action: &Action) -> String {
    let spec = &action.spec;
    let who = match spec.access {
        Access::Public => "Public: no token, no rate limit.".to_owned(),
        Access::Internal => "Run only by the gateway itself.".to_owned(),
        Access::Token(role) => {
            let role = role.as_str();
            match spec.scope {
                Scope::Org => format!("Least role: {role} in the organization."),
                Scope::Project { field } => {
                    format!("Least role: {role} in the project named by `{field}`.")
                }
                Scope::Record { field, kind, .. } => {
                    format!("Least role: {role} in the project of the {kind} named by `{field}`.")
                }
                Scope::OneOf(scopes) => {
                    let fields: Vec<String> = scopes
                        .iter()
                        .filter_map(Scope::field)
                        .map(|f| format!("`{f}`"))
                        .collect();
                    format!(
                        "Least role: {role} in the project named by {}, whichever is given.",
                        fields.join(" or ")
                    )
                }
            }
        }
    };
    let how = match spec.mode {
        Mode::Async => {
            "Designated asynchronous: every call answers 202; poll `result.location`.".to_owned()
        }
        Mode::Sync => format!(
            "Answers directly, or 202 if it runs longer than {} ms; then poll `result.location`.",
            action.threshold.as_millis()
        ),
    };
    format!("{who} {how}")
}

/// `GET /request/{request_id}`: a recorded request's state.
fn poll_path(schemas: &mut Schemas) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        envelope(
            &[Status::Success],
            json!({ "description": "the action's result" }),
        ),
    );
    responses.insert("202".into(), accepted(schemas));
    errors(&mut responses, schemas);
    json!({
        "get": {
            "operationId": "request.poll",
            "summary": "The state of a recorded request",
            "description": "Answered only to a token that could have made the call. A finished \
                request answers its stored envelope, as it would have been answered at once.",
            "tags": ["request"],
            "parameters": [
                {
                    "name": "request_id",
                    "in": "path",
                    "required": true,
                    "schema": schemas.output.subschema_for::<RequestId>(),
                },
                {
                    "name": "wait",
                    "in": "query",
                    "required": false,
                    "description": "Seconds to hold the poll open while the request is running; \
                        answered as soon as it ends.",
                    "schema": { "type": "integer", "minimum": 0, "maximum": 60 },
                },
            ],
            "responses": responses,
        },
    })
}

/// `POST /request/cancel`: stop a running request.
fn cancel_path(schemas: &mut Schemas) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        envelope(
            &[Status::Success],
            json!({ "description": "the request's new state" }),
        ),
    );
    errors(&mut responses, schemas);
    json!({
        "post": {
            "operationId": "request.cancel",
            "summary": "Cancel a recorded request",
            "tags": ["request"],
            "requestBody": {
                "required": true,
                "content": { "application/json": { "schema": {
                    "type": "object",
                    "required": ["request_id"],
                    "properties": { "request_id": schemas.output.subschema_for::<RequestId>() },
                } } },
            },
            "responses": responses,
        },
    })
}

fn accepted(schemas: &mut Schemas) -> Value {
    let result = schemas.output.subschema_for::<AcceptedResult>();
    envelope(&[Status::Accepted], result)
}

/// Every error status of the table, grouped by HTTP code: any action may
/// meet any of them (a bad body, a missing token, a database briefly away,
/// a record another call changed), so each operation lists them all.
fn errors(responses: &mut Map<String, Value>, schemas: &mut Schemas) {
    let result = json!({ "anyOf": [
        { "type": "null" },
        {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": { "type": "array", "items": schemas.output.subschema_for::<FieldError>() },
            },
        },
    ] });
    let mut by_code: BTreeMap<u16, Vec<Status>> = BTreeMap::new();
    for &status in Status::ALL {
        if status.http_code() >= 400 {
            by_code.entry(status.http_code()).or_default().push(status);
        }
    }
    for (code, statuses) in by_code {
        responses.insert(code.to_string(), envelope(&statuses, result.clone()));
    }
}

/// A response whose body is the envelope, with one of `statuses` and
/// `result` of the given schema.
fn envelope(statuses: &[Status], result: impl serde::Serialize) -> Value {
    let description = statuses
        .iter()
        .map(|status| format!("{}: {}", status.as_str(), status.meaning()))
        .collect::<Vec<_>>()
        .join("; ");
    let names: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    json!({
        "description": description,
        "content": { "application/json": { "schema": {
            "type": "object",
            "additionalProperties": false,
            "required": ["request_id", "request_time", "response_time", "status", "summary", "result"],
            "properties": {
                "request_id": { "$ref": format!("#{SCHEMAS}/RequestId") },
                "request_time": { "$ref": format!("#{SCHEMAS}/Timestamp") },
                "response_time": { "$ref": format!("#{SCHEMAS}/Timestamp") },
                "status": { "enum": names },
                "summary": { "type": "string" },
                "result": result,
            },
        } } },
    })
}

/// Two generators: inputs are described as they are deserialized (a field
/// with a default is optional), outputs as they are serialized.
struct Schemas {
    input: SchemaGenerator,
    output: SchemaGenerator,
}

impl Schemas {
    fn new() -> Schemas {
        let settings = SchemaSettings::draft2020_12().with(|settings| {
            settings.definitions_path = SCHEMAS.into();
            settings.meta_schema = None;
        });
        let mut output = settings.clone().for_serialize().into_generator();
        // The envelope refers to these by name.
        output.subschema_for::<RequestId>();
        output.subschema_for::<Timestamp>();
        Schemas {
            input: settings.for_deserialize().into_generator(),
            output,
        }
    }

    /// The named schemas of both generators in one map. A name both use
    /// for different schemas (a type with defaults, read and written) keeps
    /// the output's; the input's becomes `<name>Input`, as returned, for
    /// the request bodies to follow.
    fn finish(mut self) -> (Map<String, Value>, HashMap<String, String>) {
        let mut all = self.output.take_definitions(true);
        let inputs = self.input.take_definitions(true);
        let renamed: HashMap<String, String> = inputs
            .iter()
            .filter(|(name, schema)| all.get(*name).is_some_and(|other| other != *schema))
            .map(|(name, _)| (name.clone(), format!("{name}Input")))
            .collect();
        for (name, mut schema) in inputs {
            rename_refs(&mut schema, &renamed);
            let name = renamed.get(&name).cloned().unwrap_or(name);
            all.insert(name, schema);
        }
        (all, renamed)
    }
}

/// Points `$ref`s at renamed schemas.
fn rename_refs(value: &mut Value, renamed: &HashMap<String, String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("$ref") {
                if let Some(name) = reference.strip_prefix(&format!("#{SCHEMAS}/")) {
                    if let Some(new) = renamed.get(name) {
                        *reference = format!("#{SCHEMAS}/{new}");
                    }
                }
            }
            object
                .values_mut()
                .for_each(|value| rename_refs(value, renamed));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|value| rename_refs(value, renamed)),
        _ => {}
    }
}
