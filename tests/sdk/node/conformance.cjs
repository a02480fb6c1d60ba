// Conformance with the public Pangea Node.js SDK (pangea-node-sdk, pinned in
// package.json): calls, 202 polling, error classes and retries, against a
// live gateway. Run by tests/integration/sdk.rs with NODE_PATH pointing at
// the SDK that `make test` installs with `npm ci` into target/node-sdk.
"use strict";

const assert = require("node:assert/strict");
const { BaseService, PangeaConfig, PangeaErrors } = require("pangea-node-sdk");

const URL = process.env.ACTIONGATE_URL;
const TOKEN = process.env.ACTIONGATE_TOKEN;
const ORG_ID = process.env.ACTIONGATE_ORG_ID;
const TESTKIT_TOKEN = process.env.ACTIONGATE_TESTKIT_TOKEN;

function service(name, token = TOKEN, options = {}) {
  const config = new PangeaConfig({
    baseUrlTemplate: `${URL}/{SERVICE_NAME}`,
    pollResultTimeoutMs: 20000,
    ...options,
  });
  return new BaseService(name, token, config);
}

async function rejects(promise, errorClass, status) {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof errorClass, `${err.name}: ${err.message}`);
    if (status) {
      assert.equal(err.pangeaResponse.status, status);
    }
    return err;
  }
  assert.fail(`expected ${errorClass.name}`);
}

async function calls() {
  const console = service("console");
  const org = await console.post("v1beta/platform/org/get", { id: ORG_ID });
  assert.ok(org.success);
  assert.equal(org.status, "Success");
  assert.equal(org.result.id, ORG_ID);
  assert.match(org.request_id, /^prq_/);

  const created = await console.post("v1beta/platform/project/create", {
    org_id: ORG_ID,
    name: "From Node",
    geo: "us",
  });
  assert.equal(created.result.region, "us-west-1");

  // Designated async: the gateway answers 202, the SDK polls
  // GET /console/request/<id> until the result is there.
  const deleted = await console.post("v1beta/platform/project/delete", { id: created.result.id });
  assert.ok(deleted.success, deleted.status);
  assert.equal(deleted.gotResponse.status, 200);

  // An asynchronous environment clone, polled to its end.
  const project = await console.post("v1beta/platform/project/create", {
    org_id: ORG_ID,
    name: "node-environments",
    geo: "us",
  });
  const deploy = service("deploy");
  const staging = await deploy.post("v1/environment/create", {
    project_id: project.result.id,
    name: "staging",
  });
  const cloned = await deploy.post("v1/environment/clone", {
    id: staging.result.id,
    name: "staging-node",
  });
  assert.ok(cloned.success, cloned.status);
  assert.equal(cloned.result.parent, staging.result.id);

  // Without polling: the 202 itself, and the SDK's own poll of it.
  const accepted = await deploy.post(
    "v1/environment/clone",
    { id: staging.result.id, name: "staging-later" },
    { pollResultSync: false },
  ).catch((err) => err);
  const acceptedResponse =
    accepted instanceof PangeaErrors.AcceptedRequestException ? accepted.pangeaResponse : accepted;
  assert.equal(acceptedResponse.status, "Accepted");
  assert.equal(acceptedResponse.gotResponse.status, 202);
  // One GET a poll: still running is the SDK's AcceptedRequestException.
  let later;
  for (let tries = 0; !later && tries < 100; tries += 1) {
    try {
      later = await deploy.pollResult(acceptedResponse.request_id);
    } catch (err) {
      assert.ok(err instanceof PangeaErrors.AcceptedRequestException, String(err));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  assert.equal(later.status, "Success");
  assert.equal(later.result.name, "staging-later");
}

async function errors() {
  const console = service("console");
  const invalid = await rejects(
    console.post("v1beta/platform/project/create", { org_id: ORG_ID, geo: "us" }),
    PangeaErrors.ValidationError,
    "ValidationError",
  );
  assert.equal(invalid.errors[0].source, "/name");
  await rejects(
    service("console", "agt_bogus").post("v1beta/platform/org/get", { id: ORG_ID }),
    PangeaErrors.UnauthorizedError,
    "Unauthorized",
  );
  await rejects(
    service("console", TESTKIT_TOKEN).post("v1beta/platform/org/get", { id: ORG_ID }),
    PangeaErrors.ServiceNotAvailableError,
    "ServiceNotEnabled",
  );
  await rejects(console.post("v1beta/platform/nothing/here", {}), PangeaErrors.NotFound, "NotFound");
  await rejects(
    console.post("v1beta/platform/project/get", { id: "prj_nothing" }),
    PangeaErrors.APIError,
    "ResourceNotFound",
  );
}

async function retries() {
  const testkit = service("testkit", TESTKIT_TOKEN);
  // 503 once: the SDK retries with X-Pangea-Retried-Request-Ids, and the
  // second attempt is answered.
  const flaky = await testkit.post("v1/flaky", { key: `node-${Date.now()}` });
  assert.equal(flaky.status, "Success");
  assert.equal(flaky.result.attempt, 2);
  // 502 every time: retried, then the SDK's ProviderError.
  await rejects(testkit.post("v1/fail", {}), PangeaErrors.ProviderError, "ProviderError");
}

(async () => {
  await calls();
  await errors();
  await retries();
  console.log("pangea-node-sdk conformance: all checks passed");
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
