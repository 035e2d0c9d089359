"""The lifecycle through the real Pulumi CLI (Automation API, local file backend).

The CLI cannot be installed on the machines this project is built on (no registry ships it), so
these tests skip there; anywhere `pulumi` is on PATH they run the same lifecycle the harness tests
run, through the real engine.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pulumi
import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("pulumi") is None,
    reason="the Pulumi CLI is not on PATH (it cannot be installed here); the harness tests cover this lifecycle",
)

SECRET_KEY = "sk_test_CLIlifecycle0123456789"


def program(org_id: str, active: bool = True):
    def run() -> None:
        from pulumi_spaceinvoices import OrganizationConnectAccount, StripeConnectConfig

        connect = StripeConnectConfig(
            "connect",
            private_key=SECRET_KEY,
            public_key="pk_test_CLIlifecycle0123456789",
            application_fee=1.5,
            refresh_url="https://example.com/refresh",
            return_url="https://example.com/return",
        )
        account = OrganizationConnectAccount(
            "acme", organization_id=org_id, active=active, opts=pulumi.ResourceOptions(depends_on=[connect])
        )
        pulumi.export("charges_enabled", account.charges_enabled)

    return run


@pytest.fixture
def stack_factory(tmp_path: Path, sandbox, account):
    from pulumi import automation as auto

    backend = tmp_path / "state"
    backend.mkdir()
    env = {
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": "cli-lifecycle",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }

    def make(org_id: str, **kwargs):
        stack = auto.create_or_select_stack(
            stack_name="dev", project_name="cli-lifecycle", program=program(org_id, **kwargs),
            opts=auto.LocalWorkspaceOptions(env_vars=env, work_dir=str(tmp_path)),
        )
        stack.set_config("spaceinvoices:apiUrl", auto.ConfigValue(value=sandbox.url))
        stack.set_config("spaceinvoices:accessToken", auto.ConfigValue(value=account.token, secret=True))
        return stack

    return make


def test_up_noop_update_refresh_destroy_through_the_cli(stack_factory, sandbox, account, org_id, tmp_path):
    stack = stack_factory(org_id)
    up = stack.up()
    assert up.summary.resource_changes.get("create") == 3  # stack + 2 resources
    assert sandbox.store.org_account(org_id)["active"] is True

    sandbox.clear_requests()
    again = stack.up()
    assert again.summary.resource_changes.get("same") == 3
    assert [r for r in sandbox.requests() if r.method != "GET"] == []

    stack = stack_factory(org_id, active=False)
    stack.up()
    assert sandbox.store.org_account(org_id)["active"] is False

    sandbox.store.set_charges_enabled(org_id, True)
    stack.refresh()  # refresh updates resource state (stack outputs follow on the next up)
    resources = stack.export_stack().deployment["resources"]
    account_state = next(r for r in resources if r["type"].endswith(":OrganizationConnectAccount"))
    assert account_state["outputs"]["charges_enabled"] is True

    state = "".join(p.read_text() for p in (tmp_path / "state").rglob("*.json"))
    assert SECRET_KEY not in state and account.token not in state

    stack.destroy()
    assert sandbox.store.connect_config(account.id)["active"] is False
