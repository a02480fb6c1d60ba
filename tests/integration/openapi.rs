//! The OpenAPI document: generated from the route table, served without a
//! token, and checked by schemathesis against a live gateway.

use std::collections::BTreeSet;
use std::time::Duration;

use actiongate_client::Status;
use actiongate_gateway::config::Rate;
use actiongate_gateway::{Config, Gateway};
use serde_json::Value;

use crate::common::{self, expect};

async fn fetch(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let code = response.status().as_u16();
    (code, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_action_is_an_operation_of_the_document() {
    let gw = common::start().await;
    let (code, document) = fetch(&format!("{}/openapi.json", gw.url)).await;
    assert_eq!(code, 200);
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = document["paths"].as_object().unwrap();
    let services = common::services(&Config::default());
    let mut expected = BTreeSet::new();
    for service in &services {
        for (spec, _) in &service.actions {
            let path = format!("/{}/{}/{}", service.name, spec.version, spec.path);
            if spec.access == actiongate_service::Access::Internal {
                assert!(paths.get(&path).is_none(), "{path} is internal");
                continue;
            }
            let operation = &paths[&path]["post"];
            assert_eq!(operation["summary"], spec.summary, "{path}");
            let responses = operation["responses"].as_object().unwrap();
            // Every action can be answered 202 (designated, or slower than
            // its threshold); only a synchronous one answers 200.
            assert!(responses.contains_key("202"), "{path}");
            assert_eq!(
                responses.contains_key("200"),
                spec.mode == actiongate_service::Mode::Sync,
                "{path}"
            );
            for code in ["400", "401", "403", "404", "409", "429", "500", "503"] {
                assert!(responses.contains_key(code), "{path} lacks {code}");
            }
            assert!(
                !operation["requestBody"]["content"]["application/json"]["schema"].is_null(),
                "{path}"
            );
            let public = spec.least_role().is_none();
            assert_eq!(
                operation.get("security") == Some(&Value::Array(vec![])),
                public
            );
            expected.insert(path);
        }
    }
    let actions: BTreeSet<String> = paths
        .keys()
        .filter(|path| !path.starts_with("/request/"))
        .cloned()
        .collect();
    assert_eq!(actions, expected);
    // The envelope wraps the action's own output type.
    let result = &paths["/console/v1/project/get"]["post"]["responses"]["200"]["content"]
        ["application/json"]["schema"]["properties"]["result"];
    let name = result["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
    let project = &document["components"]["schemas"][name];
    assert!(project["properties"]["org"].is_object(), "{project}");
    // Polls, with their wait.
    let poll = &paths["/request/{request_id}"]["get"];
    assert!(poll["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|parameter| parameter["name"] == "wait" && parameter["in"] == "query"));

    // One service's own document has its actions only.
    let (code, console) = fetch(&format!("{}/console/openapi.json", gw.url)).await;
    assert_eq!(code, 200);
    assert!(console["paths"]
        .as_object()
        .unwrap()
        .keys()
        .all(|path| path.starts_with("/console/") || path.starts_with("/request/")));
    assert!(console["paths"]["/console/v1/project/get"].is_object());

    // It is read with GET only, and the answer to anything else is the
    // envelope.
    let reply = gw.call("openapi.json", serde_json::json!({})).await;
    expect(&reply, 405, Status::MethodNotAllowed);
}

/// schemathesis generates calls for every operation of the document (valid
/// ones and broken ones) and checks every answer against it: no 5xx, and
/// no status, header, content type or body the document does not allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_answer_that_disagrees_with_the_document() {
    let Some(schemathesis) = common::venv_program("schemathesis") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        // Calls without a token are part of the run; they must not get
        // the address shut out, nor the many calls a 429.
        rate_limits: actiongate_gateway::config::RateLimits {
            per_token: Rate(None),
            failed_auth: Rate(None),
            ..Default::default()
        },
        ..Config::default()
    };
    // The product's services: the test service's `panic` and `fail` answer
    // 5xx on purpose.
    let services = actiongate_services::builtin(&config).unwrap();
    let running = Gateway::start(config, services).await.unwrap();
    let boot = running.bootstrapped.as_ref().unwrap();
    let url = format!("http://{}", running.addr);
    let (_, document) = fetch(&format!("{url}/openapi.json")).await;
    let operations = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum::<usize>();

    let out = tokio::time::timeout(
        Duration::from_secs(600),
        tokio::process::Command::new(schemathesis)
            .current_dir(dir.path())
            .args([
                "run",
                &format!("{url}/openapi.json"),
                "--header",
                &format!("Authorization: Bearer {}", boot.secret),
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_headers_conformance,response_schema_conformance",
                "--max-examples",
                "25",
                "--seed",
                "20261127",
                "--workers",
                "2",
                "--no-color",
            ])
            .env("SCHEMATHESIS_TELEMETRY", "false")
            .output(),
    )
    .await
    .expect("schemathesis ends within 10 minutes")
    .expect("running schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("Tested: {operations}")),
        "not every one of the {operations} operations was tested:\n{stdout}"
    );
    assert!(!stdout.contains(" failed"), "{stdout}");
    eprintln!("{stdout}");
    running.shutdown().await;
}
