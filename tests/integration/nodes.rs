//! Gateways in child processes, for what only another process can show: a
//! `kill -9` mid-flight, and several nodes sharing one PostgreSQL.
//!
//! The child is this test binary itself, run for the one ignored test
//! [`child_node`], which serves the test services until it is killed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actiongate_entity::{job, project};
use actiongate_gateway::{Config, Gateway};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::common;

const DATA_DIR: &str = "ACTIONGATE_CHILD_DATA_DIR";
const DATABASE_URL: &str = "ACTIONGATE_CHILD_DATABASE_URL";
const LEASE_MS: &str = "ACTIONGATE_CHILD_LEASE_MS";
const CONCURRENCY: &str = "ACTIONGATE_CHILD_CONCURRENCY";
/// Set: webhooks may be delivered to loopback (the tests' receivers).
pub const PRIVATE_HOOKS: &str = "ACTIONGATE_CHILD_PRIVATE_HOOKS";

/// Runs in the child: a gateway with the test services, configured from
/// the environment, until the process is killed. Does nothing in a normal
/// test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started as a child process by the tests that need one"]
async fn child_node() {
    let Ok(data_dir) = std::env::var(DATA_DIR) else {
        return;
    };
    let lease_ms = std::env::var(LEASE_MS)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: PathBuf::from(data_dir),
        database_url: std::env::var(DATABASE_URL).ok(),
        job_lease: Duration::from_millis(lease_ms),
        job_claim_interval: Duration::from_millis(200),
        job_concurrency: std::env::var(CONCURRENCY)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        ..Config::default()
    };
    if std::env::var(PRIVATE_HOOKS).is_ok() {
        common::allow_private_hooks(&mut config);
    }
    let running = Gateway::start(config.clone(), common::services(&config))
        .await
        .expect("child gateway starts");
    println!("LISTENING http://{} {}", running.addr, running.node_id());
    std::future::pending::<()>().await;
}

/// A gateway in a child process.
pub struct Node {
    child: Child,
    pub url: String,
    /// Its name in the job table's `node_id`.
    pub node_id: String,
}

impl Node {
    /// Starts a node on `data_dir` (and `database_url`, if set) and waits
    /// until it listens.
    pub fn start(data_dir: &Path, database_url: Option<&str>, lease: Duration) -> Node {
        Node::start_with(data_dir, database_url, lease, 256)
    }

    /// [`Node::start`], running at most `concurrency` jobs at once.
    pub fn start_with(
        data_dir: &Path,
        database_url: Option<&str>,
        lease: Duration,
        concurrency: usize,
    ) -> Node {
        Node::start_configured(data_dir, database_url, lease, concurrency, &[])
    }

    /// [`Node::start_with`], with more of the child's variables.
    pub fn start_configured(
        data_dir: &Path,
        database_url: Option<&str>,
        lease: Duration,
        concurrency: usize,
        env: &[(&str, &str)],
    ) -> Node {
        let mut command = Command::new(std::env::current_exe().expect("the test binary"));
        command.envs(env.iter().copied());
        command
            .args(["--ignored", "--exact", "nodes::child_node", "--nocapture"])
            .env(DATA_DIR, data_dir)
            .env(LEASE_MS, lease.as_millis().to_string())
            .env(CONCURRENCY, concurrency.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(url) = database_url {
            command.env(DATABASE_URL, url);
        }
        let mut child = command.spawn().expect("starting a child node");
        let stdout = child.stdout.take().expect("child stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (url, node_id) = loop {
            let line = lines
                .next()
                .expect("the child node printed its address")
                .expect("reading the child's output");
            if let Some((url, node_id)) = line
                .strip_prefix("LISTENING ")
                .and_then(|rest| rest.split_once(' '))
            {
                break (url.to_owned(), node_id.to_owned());
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Node {
            child,
            url,
            node_id,
        }
    }

    /// `kill -9`: no shutdown, no hand-back, leases left to lapse.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The database URL of a SQLite data dir.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rw",
        data_dir.join("actiongate.db").display()
    )
}

/// How many projects have a name starting with `prefix`.
pub async fn count_projects_named(database_url: &str, prefix: &str) -> u64 {
    let db = crate::common::database(database_url).await;
    let count = project::Entity::find()
        .filter(project::Column::Name.starts_with(prefix))
        .count(&db)
        .await
        .unwrap();
    db.close().await.unwrap();
    count
}

/// Every row of the job table.
pub async fn job_rows(database_url: &str) -> Vec<job::Model> {
    let db = crate::common::database(database_url).await;
    let rows = job::Entity::find().all(&db).await.unwrap();
    db.close().await.unwrap();
    rows
}
