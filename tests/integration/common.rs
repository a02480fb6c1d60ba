//! The harness: start a gateway, call it, run the CLI against its database.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use actiongate_client::{Client, Reply, Status};
use actiongate_entity::{job, project};
use actiongate_gateway::{Config, Gateway, RunningGateway};
use actiongate_kit::fields::duplicate_is_conflict;
use actiongate_migration::columns::text;
use actiongate_migration::{
    Alias, DbErr, MigrationName, MigrationTrait, Query, SchemaManager, Table,
};
use actiongate_service::{ActionResult, ActionSpec, ApiError, Ctx, Role, Service, Timestamp};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A connection of the test's own to the database at `url`, for looking at
/// what the gateway stored. Like the gateway's pools, it runs without
/// sqlx's reaper of idle connections (the pool's default timeouts start
/// it): a race in sqlx 0.8 can wrap the reaper's idle count, and it then
/// spins a runtime worker for good (launchbadge/sqlx#3645), which hangs the
/// test's runtime at its end.
pub async fn database(url: &str) -> sea_orm::DatabaseConnection {
    use sea_orm::sqlx::{self, pool::PoolOptions};
    use sea_orm::{SqlxPostgresConnector, SqlxSqliteConnector};
    fn without_reaper<DB: sqlx::Database>() -> PoolOptions<DB> {
        PoolOptions::new().idle_timeout(None).max_lifetime(None)
    }
    if url.starts_with("sqlite:") {
        let pool = without_reaper().connect(url).await.expect("the database");
        SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
    } else {
        let pool = without_reaper().connect(url).await.expect("the database");
        SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
    }
}

/// A program of the test venv (target/test-venv: the Pangea SDK and
/// schemathesis, pinned in tests/requirements.txt), or `None` (the test
/// then skips, saying why) under a plain `cargo test` that has no venv.
/// `make test` makes the venv and sets `ACTIONGATE_REQUIRE_SDK`, so there
/// a missing venv fails.
pub fn venv_program(name: &str) -> Option<std::path::PathBuf> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    installed(
        root.join("target/test-venv/bin").join(name),
        "make test-venv",
    )
}

/// `path` if it exists; else `None` (the test skips, saying why) under a
/// plain `cargo test`, and a failure under `make test`
/// (`ACTIONGATE_REQUIRE_SDK`), which installs it with `make_it`.
pub fn installed(path: std::path::PathBuf, make_it: &str) -> Option<std::path::PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("ACTIONGATE_REQUIRE_SDK").is_none(),
        "{} is missing: run `{make_it}` (make test does it)",
        path.display()
    );
    eprintln!(
        "skipped: {} is missing; `make test` makes it ({make_it})",
        path.display()
    );
    None
}

/// Where `make test` installs the pinned Pangea Node.js SDK (`npm ci` of
/// tests/sdk/node), as `NODE_PATH` wants it; `None` (the test skips) under
/// a plain `cargo test` without it, and a failure under `make test`.
pub fn node_sdk_modules() -> Option<std::path::PathBuf> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("target/node-sdk/node_modules");
    installed(modules.join("pangea-node-sdk"), "make test-node").map(|_| modules)
}

/// How long tests wait for a job to finish.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestGateway {
    pub url: String,
    /// `http://<metrics_listen>`, when the config sets it.
    pub metrics_url: Option<String>,
    pub token: String,
    pub org_id: String,
    /// Set when it runs on PostgreSQL, for the CLI.
    pub database_url: Option<String>,
    running: Option<RunningGateway>,
    // Dropped last: the database lives here.
    pub dir: tempfile::TempDir,
}

/// A gateway with the console and test services, on an ephemeral port.
pub async fn start() -> TestGateway {
    start_with(|_| {}).await
}

pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestGateway {
    // The gateway's warnings and errors, shown with a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        token_last_used_interval: Duration::from_millis(100),
        ..Config::default()
    };
    configure(&mut config);
    let running = Gateway::start(config.clone(), services(&config))
        .await
        .expect("gateway starts");
    let boot = running
        .bootstrapped
        .as_ref()
        .expect("first start bootstraps");
    let token = std::fs::read_to_string(&boot.token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(token, boot.secret);
    TestGateway {
        url: format!("http://{}", running.addr),
        metrics_url: running.metrics_addr.map(|addr| format!("http://{addr}")),
        token,
        org_id: boot.org_id.clone(),
        database_url: config.database_url.clone(),
        running: Some(running),
        dir,
    }
}

/// Lets webhooks reach loopback, where the tests' receivers listen.
pub fn allow_private_hooks(config: &mut Config) {
    config.services.insert(
        "deploy".into(),
        figment::value::Value::from(figment::value::Dict::from([(
            "webhooks".to_owned(),
            figment::value::Value::from(figment::value::Dict::from([(
                "allow_private".to_owned(),
                figment::value::Value::from(true),
            )])),
        )])),
    );
}

/// Starts a gateway again on the database a stopped one left in `data_dir`.
pub async fn restart(data_dir: &Path) -> RunningGateway {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_owned(),
        ..Config::default()
    };
    Gateway::start(config.clone(), services(&config))
        .await
        .expect("gateway restarts")
}

/// The built-in services (the binary's list) and the tests' own.
pub fn services(config: &Config) -> Vec<Service> {
    let mut services = actiongate_services::builtin(config).expect("the built-in services");
    services.extend([
        testkit("testkit"),
        // Two services sharing a route, to test ambiguity.
        Service::new("alpha").action(
            ActionSpec::sync("v1", "shared/echo", "Echoed by alpha").role(Role::Viewer),
            echo,
        ),
        Service::new("beta").action(
            ActionSpec::sync("v1", "shared/echo", "Echoed by beta").role(Role::Viewer),
            echo,
        ),
    ]);
    services
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sleep {
    pub ms: u64,
    #[serde(default)]
    pub value: String,
}

async fn sleep(_ctx: Ctx, input: Sleep) -> ActionResult<Sleep> {
    tokio::time::sleep(Duration::from_millis(input.ms)).await;
    // A handler's own line, which the trace tests look for.
    tracing::info!(ms = input.ms, "slept");
    Ok(input)
}

/// Steps of `step_ms` with a cancellation checkpoint and a progress report
/// after each, then, if
/// `name` is set, one write: a project of that name in the caller's
/// organization. A run that is repeated after its write committed fails
/// with `Conflict`, and the row count shows every effect.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Steps {
    #[serde(default)]
    pub steps: u32,
    #[serde(default)]
    pub step_ms: u64,
    #[serde(default)]
    pub name: Option<String>,
}

async fn steps(ctx: Ctx, input: Steps) -> ActionResult<Value> {
    for done in 1..=input.steps {
        tokio::time::sleep(Duration::from_millis(input.step_ms)).await;
        ctx.checkpoint()?;
        ctx.progress(u8::try_from(done * 100 / input.steps).unwrap_or(100));
    }
    let Some(name) = input.name else {
        return Ok(json!({ "steps": input.steps }));
    };
    let txn = ctx.begin_write().await?;
    let now = Timestamp::now_ms();
    project::ActiveModel {
        id: Set(actiongate_wire::new_id("prj")),
        org_id: Set(ctx.principal.org_id.clone()),
        owner_id: Set(ctx.principal.user_id.clone()),
        name: Set(name.clone()),
        geo: Set("us".into()),
        region: Set("us-west-1".into()),
        display_name: Set(None),
        description: Set(None),
        color: Set(None),
        icon_path: Set(None),
        single_server_mode: Set(false),
        default_server_id: Set(None),
        auto_error_tracking_enabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(duplicate_is_conflict(
        &format!("{name:?} was written already"),
        "/name",
    ))?;
    txn.commit().await?;
    Ok(json!({ "steps": input.steps, "name": name }))
}

/// `v1/flaky`: 503 at the first call with a `key`, then answered: for
/// the SDKs' retries.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Flaky {
    pub key: String,
}

async fn flaky(_ctx: Ctx, input: Flaky) -> ActionResult<Value> {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap();
    if !seen.contains(&input.key) {
        seen.push(input.key);
        return Err(ApiError::new(Status::ServiceNotAvailable, "Not this time; retry").into());
    }
    Ok(json!({ "attempt": 2 }))
}

async fn fail(_ctx: Ctx, _input: Value) -> ActionResult<Value> {
    Err(ApiError::new(Status::ProviderError, "The upstream provider failed").into())
}

async fn panic(_ctx: Ctx, _input: Value) -> ActionResult<Value> {
    panic!("a bug in a handler")
}

async fn ping(_ctx: Ctx, _input: Value) -> ActionResult<Value> {
    Ok(json!({ "pong": true }))
}

async fn echo(ctx: Ctx, input: Value) -> ActionResult<Value> {
    Ok(json!({ "input": input, "org": ctx.principal.org_id }))
}

/// The test service's own table, created by its own migration.
struct NotesTable;

impl MigrationName for NotesTable {
    fn name(&self) -> &str {
        "m20261127_000007_testkit_notes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for NotesTable {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No IF NOT EXISTS: running this twice fails the start.
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("testkit_notes"))
                    .col(text(Alias::new("body")))
                    .to_owned(),
            )
            .await
    }
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Note {
    pub body: String,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Notes {
    pub bodies: Vec<String>,
}

/// Writes a row of the test service's own table and reads them all back.
async fn note(ctx: Ctx, input: Note) -> ActionResult<Notes> {
    let txn = ctx.begin_write().await?;
    let backend = txn.get_database_backend();
    let insert = Query::insert()
        .into_table(Alias::new("testkit_notes"))
        .columns([Alias::new("body")])
        .values_panic([input.body.into()])
        .to_owned();
    txn.execute(backend.build(&insert)).await?;
    let select = Query::select()
        .column(Alias::new("body"))
        .from(Alias::new("testkit_notes"))
        .to_owned();
    let bodies = txn
        .query_all(backend.build(&select))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "body"))
        .collect::<Result<_, _>>()?;
    txn.commit().await?;
    Ok(Notes { bodies })
}

/// An environment of the deploy service, as the testkit's `hold` names
/// it: the same kind, so the same serialization key as deploy's own
/// operations on it.
pub struct HeldEnvironment {
    project_id: String,
}

impl actiongate_kit::Record for HeldEnvironment {
    const KIND: &'static str = "environment";

    async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Self>, DbErr> {
        let row = db
            .query_one(sea_orm::Statement::from_sql_and_values(
                db.get_database_backend(),
                match db.get_database_backend() {
                    sea_orm::DbBackend::Postgres => {
                        "SELECT project_id FROM environments WHERE id = $1"
                    }
                    _ => "SELECT project_id FROM environments WHERE id = ?",
                },
                [id.into()],
            ))
            .await?;
        row.map(|row| row.try_get::<String>("", "project_id"))
            .transpose()
            .map(|project_id| project_id.map(|project_id| HeldEnvironment { project_id }))
    }

    fn project_id(&self) -> &str {
        &self.project_id
    }
}

/// Holds an environment's queue for `ms`, in 50 ms steps, each reported
/// (progress and a log line) and a cancellation checkpoint.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hold {
    pub id: String,
    pub ms: u64,
}

async fn hold(ctx: Ctx, input: Hold) -> ActionResult<Value> {
    ctx.describe(format!("holding {} for {} ms", input.id, input.ms));
    let steps = (input.ms / 50).max(1);
    for step in 1..=steps {
        tokio::time::sleep(Duration::from_millis(50)).await;
        ctx.checkpoint()?;
        ctx.progress(u8::try_from(step * 100 / steps).unwrap_or(100));
        if step == 1 || step == steps {
            ctx.log(format!("step {step} of {steps}"));
        }
    }
    Ok(json!({ "held": input.id }))
}

/// Test-only actions: slow ones for the async threshold, a failing one, one
/// on a table of the service's own.
pub fn testkit(name: &'static str) -> Service {
    Service::new(name)
        .migration(NotesTable)
        .action(
            ActionSpec::sync("v1", "note", "Noted").role(Role::Member),
            note,
        )
        .action(
            ActionSpec::sync("v1", "sleep", "Slept").role(Role::Viewer),
            sleep,
        )
        .action(
            ActionSpec::sync("v1", "sleep/patient", "Slept")
                .role(Role::Viewer)
                .threshold(Duration::from_secs(5)),
            sleep,
        )
        .action(
            ActionSpec::asynchronous("v1", "sleep/async", "Slept in the background")
                .role(Role::Viewer),
            sleep,
        )
        .action(
            ActionSpec::sync("v1", "flaky", "Answered the second time").role(Role::Viewer),
            flaky,
        )
        .action(
            ActionSpec::sync("v1", "fail", "Never").role(Role::Viewer),
            fail,
        )
        .action(
            ActionSpec::sync("v1", "panic", "Never").role(Role::Viewer),
            panic,
        )
        .action(
            ActionSpec::asynchronous("v1", "panic/async", "Never").role(Role::Viewer),
            panic,
        )
        .action(
            ActionSpec::sync("v1", "echo", "Echoed").role(Role::Viewer),
            echo,
        )
        .action(ActionSpec::sync("v1", "ping", "Pong").public(), ping)
        .action(
            ActionSpec::sync("v1", "steps", "Stepped").role(Role::Viewer),
            steps,
        )
        .action(
            ActionSpec::asynchronous("v1", "steps/async", "Stepped in the background")
                .role(Role::Viewer),
            steps,
        )
        .action(
            ActionSpec::asynchronous("v1", "hold", "Held")
                .role(Role::Member)
                .scope(actiongate_kit::record::<HeldEnvironment>("id"))
                .activity("environment.hold"),
            hold,
        )
}

impl TestGateway {
    /// A client under a service prefix (`console`, `testkit`, ...), or the root.
    pub fn client(&self, prefix: &str) -> Client {
        Client::new(format!("{}/{prefix}", self.url), &self.token)
    }

    /// The Prometheus exposition, read with the admin token.
    pub async fn metrics_text(&self) -> String {
        reqwest::Client::new()
            .get(format!("{}/metrics", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn call(&self, path: &str, body: Value) -> Reply {
        self.client("")
            .call(path, &body)
            .await
            .expect("an envelope")
    }

    pub async fn shutdown(mut self) -> tempfile::TempDir {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        self.dir
    }

    /// Runs the `actiongate` binary against this gateway's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut command = cli_command(self.dir.path(), args);
        if let Some(url) = &self.database_url {
            command.env("ACTIONGATE_DATABASE_URL", url);
        }
        command.output().expect("running actiongate")
    }

    /// Creates a token with the CLI and returns its secret.
    pub fn create_token(&self, args: &[&str]) -> String {
        let mut all = vec!["token", "create"];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        assert!(
            out.status.success(),
            "token create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A new project and one environment in it: their ids.
    pub async fn project_with_environment(
        &self,
        project: &str,
        environment: &str,
    ) -> (Value, Value) {
        let project = self.project(project).await["id"].clone();
        let environment = succeeded(
            &self.client(""),
            "deploy/v1/environment/create",
            json!({ "project_id": project, "name": environment }),
        )
        .await["id"]
            .clone();
        (project, environment)
    }

    /// Creates a project in the bootstrap organization.
    pub async fn project(&self, name: &str) -> Value {
        let reply = self
            .call(
                "console/v1/project/create",
                json!({ "name": name, "geo": "us" }),
            )
            .await;
        assert_eq!(
            reply.envelope.status,
            Status::Success,
            "{:?}",
            reply.envelope
        );
        reply.envelope.result
    }

    /// A new user of the bootstrap organization with `org_role`, created
    /// through `access/v1/user/create`, and a token acting for it.
    pub async fn person(&self, name: &str, org_role: &str) -> Person {
        let email = format!("{name}@example.com");
        let reply = self
            .call(
                "access/v1/user/create",
                json!({ "email": email, "name": name, "role": org_role }),
            )
            .await;
        expect(&reply, 200, Status::Success);
        let id = reply.envelope.result["id"].as_str().unwrap().to_owned();
        let token = self.create_token(&["--user", &id]);
        Person {
            id,
            email,
            client: self.client("").with_token(token),
        }
    }

    /// Makes `person` a member of `project` with `role`.
    pub async fn add_member(&self, project: &str, person: &Person, role: &str) {
        let reply = self
            .call(
                "access/v1/member/add",
                json!({ "project_id": project, "user_id": person.id, "role": role }),
            )
            .await;
        expect(&reply, 200, Status::Success);
    }

    /// How many requests of callers the job table holds, read from the
    /// database file.
    pub async fn count_jobs(&self) -> u64 {
        let url = format!(
            "sqlite://{}?mode=ro",
            self.dir.path().join("actiongate.db").display()
        );
        let db = database(&url).await;
        // Jobs callers made; not those the gateway starts itself (webhook
        // deliveries, which come and go on their own).
        let count = job::Entity::find()
            .filter(job::Column::TokenId.ne(""))
            .count(&db)
            .await
            .expect("a count");
        db.close().await.ok();
        count
    }

    /// The job table's row of `request_id`.
    pub async fn job_row(&self, request_id: &str) -> job::Model {
        let url = format!(
            "sqlite://{}?mode=ro",
            self.dir.path().join("actiongate.db").display()
        );
        let db = database(&url).await;
        let row = job::Entity::find_by_id(request_id)
            .one(&db)
            .await
            .expect("a read")
            .expect("the job's row");
        db.close().await.ok();
        row
    }

    pub async fn count_projects(&self) -> u64 {
        let reply = self.call("console/v1/project/list", json!({})).await;
        reply.envelope.result["count"].as_u64().expect("count")
    }
}

/// A user and a client with a token acting for it.
pub struct Person {
    pub id: String,
    pub email: String,
    pub client: Client,
}

impl Person {
    pub async fn call(&self, path: &str, body: Value) -> Reply {
        self.client.call(path, &body).await.expect("an envelope")
    }
}

pub fn cli(data_dir: &Path, args: &[&str]) -> std::process::Output {
    cli_command(data_dir, args)
        .output()
        .expect("running actiongate")
}

fn cli_command(data_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_actiongate"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        // The tests' settings are the defaults, whatever the working copy holds.
        .env("ACTIONGATE_CONFIG", "/nonexistent/actiongate.toml");
    command
}

/// Calls `path` and expects it to succeed directly: its result.
pub async fn succeeded(client: &Client, path: &str, body: Value) -> Value {
    let reply = client.call(path, &body).await.unwrap();
    expect(&reply, 200, Status::Success);
    reply.envelope.result
}

/// Asserts a failed reply's HTTP code and status, and that its field
/// errors point at `source`.
#[track_caller]
pub fn expect_at(reply: &Reply, http: u16, status: Status, source: &str) {
    expect(reply, http, status);
    let sources: Vec<&str> = reply.envelope.result["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["source"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(sources, [source], "{:#?}", reply.envelope);
}

/// Asserts the reply's HTTP code and status.
#[track_caller]
pub fn expect(reply: &Reply, http: u16, status: Status) {
    assert_eq!(
        (reply.http_status, reply.envelope.status),
        (http, status),
        "unexpected reply: {:#?}",
        reply.envelope
    );
}
