//! Stamps the build with its git commit and date, for `GET /version`.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    // Reproducible builds set SOURCE_DATE_EPOCH; otherwise, now.
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_secs() as i64)
        });
    let date = time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|at| at.date().to_string())
        .unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=ACTIONGATE_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=ACTIONGATE_BUILD_DATE={date}");
    // A new commit changes HEAD or the branch it points at.
    let git = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.git");
    for path in ["HEAD", "refs/heads"] {
        println!("cargo:rerun-if-changed={}", git.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
}
