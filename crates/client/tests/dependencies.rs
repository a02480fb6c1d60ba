//! A client application must not pull in the server: the client depends on
//! the services' `api` alone. Read from the resolved dependency graph of
//! this crate on its own, as an application that depends on it gets it.

use std::process::Command;

#[test]
fn the_client_pulls_in_no_server_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--package",
            "actiongate-client",
            "--edges",
            "normal,features",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).unwrap();
    // The services are there, as their types.
    for wanted in [
        "actiongate-console",
        "actiongate-access",
        "actiongate-deploy",
    ] {
        assert!(tree.contains(wanted), "{wanted} missing:\n{tree}");
    }
    for line in tree.lines() {
        let forbidden = [
            "sea-orm",
            "sqlx",
            "rusqlite",
            "libsqlite3",
            "actiongate-service ",
            "actiongate-kit",
            "actiongate-entity",
            "actiongate-gateway",
            "actiongate-migration",
            "feature \"server\"",
        ];
        for name in forbidden {
            assert!(!line.contains(name), "the client depends on {name}: {line}");
        }
    }
}
