//! The `actiongate serve` binary as a user runs it: the bootstrap token
//! printed once, one JSON log line per request without secrets, and a clean
//! exit on SIGTERM.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actiongate_client::{Client, Status};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::expect;

pub struct Served {
    child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
    pub url: String,
}

impl Served {
    /// Sends the process a signal (`-HUP`, `-KILL`, ...).
    pub async fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// Waits for the process to end (after a signal).
    pub async fn exited(mut self) {
        tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("the process ends")
            .unwrap();
    }
}

async fn serve(data_dir: &std::path::Path) -> Served {
    serve_with(data_dir, &[]).await
}

/// `actiongate serve` on `data_dir` with JSON logs and the settings in
/// `env` (`ACTIONGATE_*` variables), its output gathered.
pub async fn serve_with(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_actiongate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("ACTIONGATE_CONFIG", "/nonexistent/actiongate.toml")
        .env("ACTIONGATE_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting actiongate serve");
    let lines = collect_lines(child.stdout.take().unwrap());
    let url = wait_for(&lines, |lines| {
        lines
            .iter()
            .find_map(|line| line.strip_prefix("actiongate listening on "))
            .map(str::to_owned)
    })
    .await;
    Served { child, lines, url }
}

/// Every line `stdout` prints, gathered as it comes.
fn collect_lines(stdout: tokio::process::ChildStdout) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut reader = BufReader::new(stdout).lines();
    let collected = lines.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = reader.next_line().await {
            collected.lock().unwrap().push(line);
        }
    });
    lines
}

/// What `pick` finds in the output so far, waiting up to 10 s for it.
pub async fn wait_for<T>(lines: &Mutex<Vec<String>>, pick: impl Fn(&[String]) -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(found) = pick(&lines.lock().unwrap()) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not seen in the output: {:#?}", lines.lock().unwrap());
}

fn request_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "actiongate::request")
        .collect()
}

pub async fn terminate(mut served: Served) {
    let pid = served.child.id().unwrap().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), served.child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_each_request_once_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path()).await;
    let token = std::fs::read_to_string(dir.path().join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    // Stdout is a pipe here, as to a log shipper: the banner names the
    // file that holds the token, and never shows the token itself.
    let banner: Vec<String> = served
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("First start"))
        .cloned()
        .collect();
    assert_eq!(banner.len(), 1, "{banner:?}");
    assert!(banner[0].contains(&dir.path().join("admin.token").display().to_string()));

    let console = Client::new(format!("{}/console", served.url), &token);
    let ok = console.call("v1/org/list", &json!({})).await.unwrap();
    expect(&ok, 200, Status::Success);
    // The last character changed (to one it is not already).
    let (kept, last) = token.split_at(token.len() - 1);
    let forged = format!("{kept}{}", if last == "x" { "y" } else { "x" });
    let denied = console
        .with_token(&forged)
        .call("v1/org/list", &json!({}))
        .await
        .unwrap();
    expect(&denied, 401, Status::Unauthorized);

    // Lines reach stdout within the flush interval, one per request.
    let logged = wait_for(&served.lines, |lines| {
        let logged = request_lines(lines);
        (logged.len() >= 2).then_some(logged)
    })
    .await;
    assert_eq!(logged.len(), 2, "{logged:#?}");
    let first = &logged[0];
    assert_eq!(first["request_id"], ok.envelope.request_id.to_string());
    assert_eq!(first["service"], "console");
    assert_eq!(first["route"], "v1/org/list");
    assert_eq!(first["status"], "Success");
    assert_eq!(first["http"], 200);
    assert!(first["latency_us"].as_u64().is_some());
    assert_eq!(logged[1]["status"], "Unauthorized");
    assert_eq!(logged[1]["http"], 401);

    // The refusal is logged with the client's address and the token's
    // prefix, and nothing more of it.
    let failure = wait_for(&served.lines, |lines| {
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v.to_string().contains("authentication failed"))
    })
    .await;
    assert_eq!(failure["token_prefix"], "agt_", "{failure}");
    assert!(
        failure["client"].as_str().unwrap().starts_with("127.0.0.1"),
        "{failure}"
    );

    let all = served.lines.lock().unwrap().join("\n");
    assert!(
        !all.to_lowercase().contains("bearer "),
        "no Authorization header in the logs"
    );
    assert!(
        !all.contains(&token),
        "the token appears nowhere in the output"
    );
    assert!(
        !all.contains(&forged),
        "a refused token is not logged either"
    );
    terminate(served).await;

    // A second start on the same data dir prints no token.
    let again = serve(dir.path()).await;
    let console = Client::new(format!("{}/console", again.url), &token);
    expect(
        &console.call("v1/org/list", &json!({})).await.unwrap(),
        200,
        Status::Success,
    );
    assert!(!again.lines.lock().unwrap().join("\n").contains(&token));
    terminate(again).await;
}

/// At a terminal (a pseudo-terminal made by `script`), a person starting
/// the gateway for the first time is shown the admin token once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_shows_the_token_at_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "{} serve --listen 127.0.0.1:0 --data-dir {}",
        env!("CARGO_BIN_EXE_actiongate"),
        dir.path().display()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("ACTIONGATE_CONFIG", "/nonexistent/actiongate.toml")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("script(1), from util-linux");
    let lines = collect_lines(child.stdout.take().unwrap());
    wait_for(&lines, |lines| {
        lines
            .iter()
            .any(|l| l.contains("actiongate listening on"))
            .then_some(())
    })
    .await;
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let shown = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.trim() == token.trim())
        .count();
    assert_eq!(shown, 1, "{:?}", lines.lock().unwrap());
    // The gateway under script(1) outlives it: the hangup of the closing
    // terminal is its reload signal. It is stopped by its data dir's name.
    let stopped = Command::new("pkill")
        .args(["-TERM", "-f", &dir.path().display().to_string()])
        .status()
        .await
        .unwrap();
    assert!(stopped.success(), "the gateway under script(1) was found");
    child.kill().await.ok();
}

/// A log reader that stops reading (a log shipper that hangs) fills the
/// pipe; the gateway drops log lines instead of waiting on it, and goes on
/// answering every call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_reader_that_stops_reading_stalls_no_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_actiongate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("ACTIONGATE_CONFIG", "/nonexistent/actiongate.toml")
        .env("ACTIONGATE_LOG_FORMAT", "json")
        .env("ACTIONGATE_RATE_LIMITS__PER_TOKEN", "off")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting actiongate serve");
    // Read up to the banner, then never again: the pipe stays open and
    // fills up (64 KiB on Linux; each call logs a line of about 250 bytes).
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(stdout.read_line(&mut line).await.unwrap() > 0, "no banner");
        if let Some(url) = line.trim().strip_prefix("actiongate listening on ") {
            break url.to_owned();
        }
    };
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let client = Client::new(format!("{url}/console"), token.trim());
    let answered = tokio::time::timeout(Duration::from_secs(120), async {
        for call in 0..2000 {
            let reply = client
                .call("v1/project/list", &json!({}))
                .await
                .unwrap_or_else(|err| panic!("call {call}: {err}"));
            expect(&reply, 200, Status::Success);
        }
    })
    .await;
    assert!(answered.is_ok(), "calls stalled behind the log output");
    drop(stdout);
    child.kill().await.unwrap();
}

/// A tmpfs of `size` mounted on a new directory, unmounted on drop; `None`
/// (the test then skips, saying why) where this process may not mount.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|out| out.status.success());
        if !mounted {
            eprintln!("skipped: mounting a small tmpfs needs root");
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the disk with one file; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The database and the log file on one filesystem that fills up: writes
/// answer 503 saying storage is full (never 500), reads go on, nothing
/// stalls, and writes succeed again as soon as space is freed. The same
/// holds for designated-async calls, whose records the job writer commits:
/// each is accepted (and then done) or refused, never lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_costs_writes_a_503_until_space_returns() {
    let Some(disk) = SmallDisk::mount("24m") else {
        return;
    };
    let data_dir = disk.path().join("data");
    let log = std::fs::File::create(disk.path().join("actiongate.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_actiongate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env("ACTIONGATE_CONFIG", "/nonexistent/actiongate.toml")
        .env("ACTIONGATE_LOG_FORMAT", "json")
        .stdout(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("starting actiongate serve");
    let log_path = disk.path().join("actiongate.log");
    let mut url = None;
    for _ in 0..200 {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        url = text
            .lines()
            .find_map(|line| line.strip_prefix("actiongate listening on "))
            .map(str::to_owned);
        if url.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = url.expect("the gateway starts");
    let token = std::fs::read_to_string(data_dir.join("admin.token")).unwrap();
    let client = Client::new(format!("{url}/console"), token.trim());
    let create = |n: usize| json!({ "name": format!("full-{n}"), "description": "x".repeat(1000) });
    let mut doomed = Vec::new();
    for n in 0..20 {
        let reply = client
            .call(
                "v1/project/create",
                &json!({ "name": format!("doomed-{n}") }),
            )
            .await
            .unwrap();
        expect(&reply, 200, Status::Success);
        doomed.push(reply.envelope.result["id"].as_str().unwrap().to_owned());
    }

    let filler = disk.fill();
    let mut refused = 0;
    for n in 0..100 {
        let reply = tokio::time::timeout(
            Duration::from_secs(10),
            client.call("v1/project/create", &create(n)),
        )
        .await
        .expect("a write on a full disk is answered")
        .unwrap();
        assert_ne!(reply.http_status, 500, "{:?}", reply.envelope);
        if reply.envelope.status == Status::ServiceNotAvailable {
            assert!(
                reply.envelope.summary.contains("storage is full"),
                "{}",
                reply.envelope.summary
            );
            refused += 1;
        } else {
            expect(&reply, 200, Status::Success);
        }
    }
    // Some writes still fit in pages the database file already has.
    assert!(refused > 0, "the full disk never refused a write");
    let reply = client.call("v1/project/list", &json!({})).await.unwrap();
    expect(&reply, 200, Status::Success);
    let delete = |id: &str| {
        let input = json!({ "id": id });
        let client = &client;
        async move { client.call("v1/project/delete", &input).await }
    };
    let mut accepted = Vec::new();
    let mut refused_deletes = Vec::new();
    for id in &doomed {
        let reply = tokio::time::timeout(Duration::from_secs(10), delete(id))
            .await
            .expect("a call on a full disk is answered")
            .unwrap();
        match reply.envelope.status {
            Status::Accepted => accepted.push(reply),
            Status::ServiceNotAvailable => refused_deletes.push(id.clone()),
            _ => panic!("{} {:?}", reply.http_status, reply.envelope),
        }
    }

    std::fs::remove_file(filler).unwrap();
    let reply = client
        .call("v1/project/create", &create(1000))
        .await
        .unwrap();
    expect(&reply, 200, Status::Success);
    // The job writer takes new records again, and what it accepted while
    // the disk was full is done.
    for id in &refused_deletes {
        let reply = delete(id).await.unwrap();
        expect(&reply, 202, Status::Accepted);
        accepted.push(reply);
    }
    for reply in accepted {
        let done = client
            .wait(reply, Duration::from_secs(60))
            .await
            .expect("a final answer");
        expect(&done, 200, Status::Success);
    }
    for id in &doomed {
        let reply = client
            .call("v1/project/get", &json!({ "id": id }))
            .await
            .unwrap();
        assert_eq!(reply.http_status, 404, "{id} was deleted");
    }
    child.kill().await.unwrap();
}
