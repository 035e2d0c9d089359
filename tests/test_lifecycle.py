"""Each resource's lifecycle through the SDK's real dynamic-provider server (tests/harness plays the engine).

Walks: create, up again (zero API calls), update, out-of-band change then refresh, token rotation,
destroy — checking the sandbox's data and its request log at each step.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from tests.support import engine

SECRET_KEY = "sk_test_LIFECYCLEsecret0123456789"
WEBHOOK = "whsec_LIFECYCLEwebhook0123456789"


def connect_program(settings: dict[str, Any]):
    def program() -> None:
        from pulumi_spaceinvoices import StripeConnectConfig

        connect = StripeConnectConfig(
            "connect",
            private_key=SECRET_KEY,
            public_key="pk_test_LIFECYCLEpublic0123456789",
            application_fee=settings["fee"],
            refresh_url="https://example.com/refresh",
            return_url="https://example.com/return",
            connect_webhook_secret=WEBHOOK,
        )
        pulumi.export("space_invoices_fee", connect.space_invoices_fee)
        pulumi.export("webhook_secret", connect.webhook_secret)

    return program


def account_program(settings: dict[str, Any]):
    def program() -> None:
        from pulumi_spaceinvoices import OrganizationConnectAccount

        for name, org_id in settings["orgs"].items():
            account = OrganizationConnectAccount(name, organization_id=org_id, active=settings["active"])
            pulumi.export(f"{name}_charges_enabled", account.charges_enabled)

    return program


@pytest.fixture
def engine_for(sandbox, account):
    return lambda program: engine(program, sandbox, account.token, project="lifecycle")


def mutating(sandbox) -> list[str]:
    return [r.operation for r in sandbox.requests() if r.method != "GET"]


def test_stripe_connect_config_lifecycle(engine_for, sandbox, account):
    settings = {"fee": 1.5}
    engine = engine_for(connect_program(settings))

    preview = engine.preview()
    assert preview.creates == ["connect"] and sandbox.requests() == []

    up = engine.up()
    assert up.creates == ["connect"]
    assert [r.operation for r in sandbox.requests()] == ["get_connect", "enable_connect"]
    entry = engine.by_name("connect")
    assert entry.id == sandbox.store.connect_config(account.id)["id"]
    assert {"private_key", "connect_webhook_secret", "webhook_secret"} <= entry.secret_outputs
    assert "webhook_secret" in up.secret_outputs and "space_invoices_fee" not in up.secret_outputs
    state = engine.state_json()
    assert SECRET_KEY not in state and WEBHOOK not in state and account.token not in state

    sandbox.clear_requests()
    again = engine.up()
    assert again.sames == ["connect"] and again.mutating_calls == []
    assert sandbox.requests() == []  # nothing changed: zero API calls

    settings["fee"] = 3.0
    update = engine.up()
    assert update.updates == ["connect"]
    assert [r.operation for r in sandbox.requests()] == ["update_connect", "get_connect"]
    assert sandbox.store.connect_config(account.id)["application_fee"] == 3.0

    quiet = engine.refresh()
    assert quiet.updates == []  # nothing drifted: refresh reports no change
    assert {"private_key", "connect_webhook_secret"} <= engine.by_name("connect").secret_inputs
    assert SECRET_KEY not in engine.state_json()

    sandbox.store.update_connect(account.id, application_fee=9.0)
    sandbox.clear_requests()
    engine.refresh()
    assert [r.operation for r in sandbox.requests()] == ["get_connect"]
    assert engine.by_name("connect").plain_outputs["application_fee"] == 9.0
    sandbox.clear_requests()
    converge = engine.up()  # the program still says 3.0: the drift is undone
    assert converge.updates == ["connect"]
    assert sandbox.store.connect_config(account.id)["application_fee"] == 3.0

    engine.config["spaceinvoices:accessToken"] = sandbox.create_token(account.id)
    sandbox.clear_requests()
    rotated = engine.up()
    assert rotated.sames == ["connect"] and sandbox.requests() == []  # rotating the token is no change

    engine.destroy()
    assert mutating(sandbox) == ["update_connect"]
    assert sandbox.store.connect_config(account.id)["active"] is False
    assert engine.state == {}


def test_organization_connect_account_lifecycle(engine_for, sandbox, account, org_id, connect_enabled):
    other_org = sandbox.create_organization(account.id, name="Beta")
    settings: dict[str, Any] = {"orgs": {"acme": org_id}, "active": True}
    engine = engine_for(account_program(settings))
    sandbox.clear_requests()

    up = engine.up()
    assert up.creates == ["acme"] and engine.by_name("acme").id == org_id
    assert [r.operation for r in sandbox.requests()] == ["get_account", "create_account"]
    assert up.outputs["acme_charges_enabled"] is False

    sandbox.clear_requests()
    assert engine.up().mutating_calls == [] and sandbox.requests() == []

    preview = engine.preview()
    assert preview.mutating_calls == [] and sandbox.requests() == []

    settings["active"] = False
    engine.up()
    assert [r.operation for r in sandbox.requests()] == ["update_account", "get_account"]
    assert sandbox.store.org_account(org_id)["active"] is False

    sandbox.store.set_charges_enabled(org_id, True)
    sandbox.clear_requests()
    engine.refresh()
    assert [r.operation for r in sandbox.requests()] == ["get_account"]
    assert engine.by_name("acme").plain_outputs["charges_enabled"] is True
    sandbox.clear_requests()
    assert engine.up().mutating_calls == []  # onboarding progress is not drift

    settings["orgs"] = {"acme": other_org}  # a new organization replaces: create the new, deactivate the old
    sandbox.clear_requests()
    replace = engine.up()
    assert replace.replaces == ["acme"]
    assert sandbox.store.org_account(other_org) is not None
    assert sandbox.store.org_account(org_id)["active"] is False

    engine.config["spaceinvoices:accessToken"] = sandbox.create_token(account.id)
    sandbox.clear_requests()
    engine.destroy()  # with the rotated token
    assert mutating(sandbox) == ["update_account"]
    assert sandbox.store.org_account(other_org)["active"] is False


def test_renaming_without_an_alias_keeps_the_account_active(engine_for, sandbox, account, org_id, connect_enabled):
    settings: dict[str, Any] = {"orgs": {"acme": org_id}, "active": True}
    engine = engine_for(account_program(settings))
    engine.up()
    settings["orgs"] = {"acme-renamed": org_id}
    renamed = engine.up()
    assert renamed.creates == ["acme-renamed"] and renamed.deletes == ["acme"]
    assert sandbox.store.org_account(org_id)["active"] is True
    assert sandbox.store.count_org_accounts(org_id) == 1


def test_bad_inputs_fail_the_preview_and_send_nothing(engine_for, sandbox):
    engine = engine_for(account_program({"orgs": {"acme": "../../admin"}, "active": True}))
    result = engine.preview(raise_on_error=False)
    assert [(f.name, f.property) for f in result.failures] == [("acme", "organization_id")]
    assert sandbox.requests() == []
