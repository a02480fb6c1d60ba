"""The scenario with the Pangea Python SDK (pangea-sdk): create a project,
create an environment in it, clone the environment (the gateway answers
202 and the SDK polls), list the project's environments, and list its
activities (the clone is one).

    pip install pangea-sdk==6.13.0
    ACTIONGATE_URL=http://127.0.0.1:8080 ACTIONGATE_TOKEN=$(cat data/admin.token) python examples/python/scenario.py
"""

import os

from pangea.config import PangeaConfig
from pangea.response import PangeaResponseResult
from pangea.services.base import ServiceBase

URL = os.environ.get("ACTIONGATE_URL", "http://127.0.0.1:8080")
TOKEN = os.environ["ACTIONGATE_TOKEN"]
CONFIG = PangeaConfig(base_url_template=URL + "/{SERVICE_NAME}", poll_result_timeout=60)


class Console(ServiceBase):
    """An actiongate service: its name is its path prefix."""

    service_name = "console"

    def call(self, path: str, **params):
        return self.request.post(path, PangeaResponseResult, data=params)


class Deploy(Console):
    service_name = "deploy"


console = Console(TOKEN, config=CONFIG)
deploy = Deploy(TOKEN, config=CONFIG)

project = console.call("v1/project/create", name="example-python").result
print("project", project.id)
staging = deploy.call("v1/environment/create", project_id=project.id, name="staging").result
print("environment", staging.id)
# Answered 202; the SDK polls /deploy/request/<id> until the clone is done.
clone = deploy.call("v1/environment/clone", id=staging.id, name="staging-copy").result
print("clone", clone.id)
for env in deploy.call("v1/environment/list", project_id=project.id, order_by="name").result.results:
    print("  ", env["name"], env["id"], "from", env.get("parent"))
# Every operation that ran as an activity, newest first.
for activity in deploy.call("v1/activity/list", project_id=project.id).result.results:
    print("activity", activity["type"], activity["state"], activity["result"], activity["id"])
print("scenario done:", clone.id)
