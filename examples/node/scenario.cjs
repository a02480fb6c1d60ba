// The scenario with the Pangea Node.js SDK (pangea-node-sdk): create a
// project, create an environment in it, clone the environment (the gateway
// answers 202 and the SDK polls), list the project's environments, and list
// its activities (the clone is one).
//
//   npm install pangea-node-sdk@5.6.0
//   ACTIONGATE_URL=http://127.0.0.1:8080 ACTIONGATE_TOKEN=$(cat data/admin.token) node examples/node/scenario.cjs
"use strict";

const { BaseService, PangeaConfig } = require("pangea-node-sdk");

const URL = process.env.ACTIONGATE_URL || "http://127.0.0.1:8080";
const TOKEN = process.env.ACTIONGATE_TOKEN;

// Any actiongate service: its name is its path prefix.
function service(name) {
  const config = new PangeaConfig({
    baseUrlTemplate: `${URL}/{SERVICE_NAME}`,
    pollResultTimeoutMs: 60000,
  });
  return new BaseService(name, TOKEN, config);
}

(async () => {
  const console_ = service("console");
  const deploy = service("deploy");
  const project = (await console_.post("v1/project/create", { name: "example-node" })).result;
  console.log("project", project.id);
  const staging = (
    await deploy.post("v1/environment/create", { project_id: project.id, name: "staging" })
  ).result;
  console.log("environment", staging.id);
  // Answered 202; the SDK polls /deploy/request/<id> until the clone is done.
  const clone = (await deploy.post("v1/environment/clone", { id: staging.id, name: "staging-copy" }))
    .result;
  console.log("clone", clone.id);
  const listed = await deploy.post("v1/environment/list", { project_id: project.id, order_by: "name" });
  for (const env of listed.result.results) {
    console.log("  ", env.name, env.id, "from", env.parent);
  }
  // Every operation that ran as an activity, newest first.
  const activities = await deploy.post("v1/activity/list", { project_id: project.id });
  for (const activity of activities.result.results) {
    console.log("activity", activity.type, activity.state, activity.result, activity.id);
  }
  console.log("scenario done:", clone.id);
})().catch((err) => {
  console.error(String(err));
  process.exit(1);
});
