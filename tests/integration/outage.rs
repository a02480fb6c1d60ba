//! A database that is briefly away costs a 503, never an accepted request
//! and never the process: a PostgreSQL server crash-restarted in the middle
//! of a burst of asynchronous deletes, and a SQLite database locked by
//! another process past the busy timeout.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actiongate_client::{Client, Reply, Status};
use futures_util::stream::{self, StreamExt};
use serde_json::json;

use crate::common::{self, expect};

/// A PostgreSQL server of the test's own, so that stopping it disturbs no
/// other test.
struct OwnPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    /// `None` (the test skips) where the server binaries are not installed
    /// and the run does not require them.
    fn start() -> Option<OwnPostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .max();
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("ACTIONGATE_TEST_POSTGRES_URL").is_none(),
                "PostgreSQL server binaries are missing"
            );
            eprintln!("skipped: no PostgreSQL server binaries under /usr/lib/postgresql");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = OwnPostgres { bin, dir, port };
        if is_root() {
            run(Command::new("chown").arg("postgres").arg(server.dir.path()));
        }
        run(server
            .pg("initdb")
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
            .arg(server.data()));
        server.start_server();
        Some(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn start_server(&self) {
        let options = format!(
            "-h 127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run(self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-o", &options, "start"]));
    }

    /// As a crash would: no checkpoint, connections cut.
    fn kill(&self) {
        run(self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"]));
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn run(command: &mut Command) {
    let out = command.output().expect("running a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `reply` to its end, through 503s while the database is away.
async fn final_answer(client: &Client, reply: Reply) -> Reply {
    client
        .wait(reply, Duration::from_secs(120))
        .await
        .expect("a final answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_delete_completes_across_a_postgresql_crash_restart() {
    let Some(server) = OwnPostgres::start() else {
        return;
    };
    let gw = common::start_with(|c| c.database_url = Some(server.url())).await;
    let testkit = gw.client("testkit");
    let console = gw.client("console");
    const BURST: usize = 240;
    let mut ids = Vec::new();
    for n in 0..BURST {
        ids.push(
            gw.project(&format!("doomed {n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    // The burst, 8 at a time. Once a third of it is answered, jobs that
    // are sure to be mid-run when the server goes are started (three
    // 200 ms steps, then a write: a project of their own), the server is
    // killed, and started again 3 s later. Their writes meet the outage
    // (waiting for a connection, or failing and running again); a job run
    // twice after its write committed would end `Conflict`.
    const IN_FLIGHT: usize = 20;
    let answered = AtomicUsize::new(0);
    let burst = stream::iter(ids.clone())
        .map(|id| {
            let (console, answered) = (console.clone(), &answered);
            async move {
                let reply = console
                    .call("v1/project/delete", &json!({ "id": id }))
                    .await
                    .expect("an envelope, even while the database is away");
                answered.fetch_add(1, Ordering::Relaxed);
                (id, reply)
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>();
    let outage = async {
        while answered.load(Ordering::Relaxed) < BURST / 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut in_flight = Vec::new();
        for n in 0..IN_FLIGHT {
            let reply = testkit
                .call(
                    "v1/steps/async",
                    &json!({ "steps": 3, "step_ms": 200, "name": format!("in flight {n}") }),
                )
                .await
                .unwrap();
            expect(&reply, 202, Status::Accepted);
            in_flight.push(reply);
        }
        server.kill();
        tokio::time::sleep(Duration::from_secs(3)).await;
        server.start_server();
        in_flight
    };
    let (replies, in_flight) = tokio::join!(burst, outage);

    let mut accepted = Vec::new();
    let mut refused = 0;
    for (id, reply) in replies {
        match (reply.http_status, reply.envelope.status) {
            (202, Status::Accepted) | (200, Status::Success) => accepted.push((id, reply)),
            (503, Status::ServiceNotAvailable) => refused += 1,
            other => panic!("{id}: {other:?} {:#?}", reply.envelope),
        }
    }
    assert!(!accepted.is_empty());
    eprintln!(
        "{} accepted, {refused} refused with 503 during the outage",
        accepted.len()
    );
    for (id, reply) in accepted {
        let done = final_answer(&console, reply).await;
        expect(&done, 200, Status::Success);
        let gone = console
            .call("v1/project/get", &json!({ "id": id }))
            .await
            .unwrap();
        expect(&gone, 404, Status::ResourceNotFound);
    }
    for reply in in_flight {
        let done = final_answer(&testkit, reply).await;
        expect(&done, 200, Status::Success);
    }
    // The same process serves on: what was refused is still there, each
    // job in flight made its project once, and more can be made now.
    assert_eq!(gw.count_projects().await, (refused + IN_FLIGHT) as u64);
    let again = gw.project("after the outage").await;
    assert_eq!(again["name"], "after the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_database_answers_503_and_recovers() {
    let gw = common::start().await;
    let db_path = gw.dir.path().join("actiongate.db");
    // A job whose write comes while the lock is held: its write fails
    // after the busy timeout, and the job runs again once the lock is gone.
    let job = gw
        .client("testkit")
        .call(
            "v1/steps/async",
            &json!({ "steps": 1, "step_ms": 50, "name": "written after the lock" }),
        )
        .await
        .unwrap();
    expect(&job, 202, Status::Accepted);
    let db_path_for_lock = db_path.clone();
    // Another process's exclusive lock. Writers wait for it one at a time,
    // each up to the 5 s busy timeout: the job's write, at most one
    // bookkeeping write before it, then the call below, which waits for
    // its turn at most 10 s (the pool's acquire timeout) and then for the
    // lock. The lock outlasts them all.
    let locker = std::thread::spawn(move || {
        let connection = rusqlite::Connection::open(db_path_for_lock).unwrap();
        connection.execute_batch("BEGIN EXCLUSIVE").unwrap();
        std::thread::sleep(Duration::from_secs(17));
        connection.execute_batch("ROLLBACK").unwrap();
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    let blocked = reqwest::Client::new()
        .post(format!("{}/console/v1/project/create", gw.url))
        .bearer_auth(&gw.token)
        .json(&json!({ "name": "while locked" }))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status().as_u16(), 503);
    assert_eq!(blocked.headers()["retry-after"], "1");
    let blocked: serde_json::Value = blocked.json().await.unwrap();
    assert_eq!(blocked["status"], "ServiceNotAvailable");
    locker.join().unwrap();
    let after = gw
        .call(
            "console/v1/project/create",
            json!({ "name": "after the lock" }),
        )
        .await;
    expect(&after, 200, Status::Success);
    let done = final_answer(&gw.client("testkit"), job).await;
    expect(&done, 200, Status::Success);
    assert_eq!(gw.count_projects().await, 2);
    let attempts: i32 = rusqlite::Connection::open(&db_path)
        .unwrap()
        .query_row(
            "SELECT attempts FROM jobs WHERE request_id = ?1",
            [done.envelope.request_id.to_string()],
            |row| row.get(0),
        )
        .unwrap();
    assert!(
        attempts >= 2,
        "the job's write met the lock and it ran again"
    );
}
