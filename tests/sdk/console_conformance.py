"""Drives a running actiongate with the public Pangea Python SDK, unmodified.

Started by tests/integration/sdk.rs, which passes in the environment:
ACTIONGATE_URL (the gateway's root), ACTIONGATE_TOKEN (an admin token),
ACTIONGATE_ORG_ID, ACTIONGATE_TESTKIT_TOKEN (a token enabled only for the
testkit service). Exits non-zero on the first failed check.
"""

import os
import sys

import pangea.exceptions as pe
from pangea.config import PangeaConfig
from pangea.response import PangeaResponseResult, TransferMethod
from pangea.services.base import ServiceBase

URL = os.environ["ACTIONGATE_URL"]
TOKEN = os.environ["ACTIONGATE_TOKEN"]
ORG_ID = os.environ["ACTIONGATE_ORG_ID"]
TESTKIT_TOKEN = os.environ["ACTIONGATE_TESTKIT_TOKEN"]


class Console(ServiceBase):
    """A client for the console service, as an SDK user would write one."""

    service_name = "api.console"

    def call(self, action, **params):
        return self.request.post(action, PangeaResponseResult, data=params)


def console(token=TOKEN):
    config = PangeaConfig(base_url_template=URL + "/{SERVICE_NAME}", poll_result_timeout=20)
    return Console(token, config=config)


class Deploy(Console):
    """The deploy service (environments), the same way."""

    service_name = "deploy"


# A 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f80f00000101000518d84e0000000049454e44ae426082"
)


def expect_raises(exception, fn, status):
    try:
        fn()
    except exception as err:
        assert err.response.status == status, (err.response.status, status)
        assert err.response.request_id.startswith("prq_")
        return err
    raise AssertionError(f"expected {exception.__name__}")


def main():
    client = console()

    org = client.call("v1beta/platform/org/get", id=ORG_ID)
    assert org.success and org.status == "Success"
    assert org.result.id == ORG_ID, org.result
    assert org.request_id.startswith("prq_")

    created = client.call("v1beta/platform/project/create", org_id=ORG_ID, name="From the SDK", geo="us")
    project_id = created.result.id
    assert created.result.region == "us-west-1"

    updated = client.call("v1beta/platform/project/update", id=project_id, name="Renamed by the SDK")
    assert updated.result.name == "Renamed by the SDK"

    listed = client.call("v1beta/platform/project/list", org_id=ORG_ID, filter={"search": "renamed"})
    assert listed.result.count == 1, listed.result
    assert listed.result.results[0]["id"] == project_id

    got = client.call("v1beta/platform/project/get", id=project_id)
    assert got.result.name == "Renamed by the SDK"

    # Designated async: the gateway answers 202 and the SDK polls
    # GET /api.console/request/<id> until the result is there.
    deleted = client.call("v1beta/platform/project/delete", id=project_id)
    assert deleted.success and deleted.http_status == 200, deleted.status
    assert deleted.result is not None

    # The SDK's exceptions for the gateway's error statuses.
    err = expect_raises(
        pe.ValidationException,
        lambda: client.call("v1beta/platform/project/create", org_id=ORG_ID, geo="us"),
        "ValidationError",
    )
    assert err.errors[0].source == "/name", err.errors
    expect_raises(pe.UnauthorizedException, lambda: console("agt_bogus").call("v1beta/platform/org/get", id=ORG_ID), "Unauthorized")
    expect_raises(
        pe.ServiceNotEnabledException,
        lambda: console(TESTKIT_TOKEN).call("v1beta/platform/org/get", id=ORG_ID),
        "ServiceNotEnabled",
    )
    expect_raises(pe.NotFound, lambda: client.call("v1beta/platform/nothing/here"), "NotFound")
    expect_raises(
        pe.PangeaAPIException,
        lambda: client.call("v1beta/platform/project/get", id=project_id),
        "ResourceNotFound",
    )
    environments(client)
    print("pangea-sdk conformance: all checks passed")


def environments(client):
    """Environments through the SDK: a call, an asynchronous clone the SDK
    polls to its end, a branch read back as an activity, a field error, and
    a file upload as the SDK sends files (multipart, with a `request`
    part)."""
    project_id = client.call("v1/project/create", name="sdk-environments").result.id
    config = PangeaConfig(base_url_template=URL + "/{SERVICE_NAME}", poll_result_timeout=20)
    deploy = Deploy(TOKEN, config=config)

    staging = deploy.call(
        "v1/environment/create", project_id=project_id, name="staging", type="staging", color="#F59E0B"
    )
    assert staging.status == "Success", staging.status
    assert staging.result.is_default is True, staging.result
    assert staging.result.type == "staging"

    cloned = deploy.call("v1/environment/clone", id=staging.result.id, name="staging-v2")
    assert cloned.success and cloned.http_status == 200, cloned.status
    assert cloned.result.parent == staging.result.id, cloned.result
    assert cloned.result.is_default is False

    listed = deploy.call("v1/environment/list", project_id=project_id)
    assert listed.result.count == 2, listed.result

    # A branch is an activity: the SDK follows its 202, and the activity is
    # read back by the request id that started it.
    branched = deploy.call("v1/environment/branch", id=staging.result.id, name="feature-x")
    assert branched.success and branched.http_status == 200, branched.status
    assert branched.result.parent == staging.result.id, branched.result
    activity = deploy.call("v1/activity/get", id=branched.request_id)
    assert activity.result.id == branched.request_id, activity.result
    assert activity.result.type == "environment.branch", activity.result
    assert activity.result.state == "complete", activity.result
    assert activity.result.result == "success", activity.result
    assert activity.result.completion_percent == 100, activity.result
    assert activity.result.environment_ids[0] == staging.result.id, activity.result

    err = expect_raises(
        pe.ValidationException,
        lambda: deploy.call("v1/environment/create", project_id=project_id, name="qa-env", color="orange"),
        "ValidationError",
    )
    assert err.errors[0].source == "/color", err.errors

    uploaded = client.request.post(
        "v1/project/icon/upload",
        PangeaResponseResult,
        data={"id": project_id, "transfer_method": TransferMethod.MULTIPART.value},
        files=[("file", ("icon.png", PNG, "image/png"))],
    )
    assert uploaded.status == "Success", uploaded.status
    assert uploaded.result.icon_path == f"/console/v1/project/icon/{project_id}", uploaded.result


if __name__ == "__main__":
    try:
        main()
    except AssertionError as err:
        import traceback

        traceback.print_exc()
        sys.exit(1)
