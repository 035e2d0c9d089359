"""Lifecycles under the real Pulumi engine: the CLI, through the Automation API on a local program
folder (tests/programs/lifecycle), against the sandbox, with the API calls of every step counted
from the sandbox's request log.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.realengine import PROGRAMS

pytestmark = pytest.mark.engine

SECRET_KEY = "sk_test_RealEngineLifecycle0000"
WEBHOOK_SECRET = "whsec_RealEngineLifecycle0000"
CONNECT_TYPE = ":StripeConnectConfig"
ACCOUNT_TYPE = ":OrganizationConnectAccount"


@pytest.fixture
def lifecycle(workspace, sandbox, account):
    """The lifecycle program as a new stack, pointed at the sandbox with `account`'s token."""

    def make(**config: Any):
        return workspace.project(
            PROGRAMS / "lifecycle",
            config={"spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
                    "stripeSecretKey": SECRET_KEY, **config},
            secrets={"spaceinvoices:accessToken", "stripeSecretKey", "connectWebhookSecret"},
        )

    return make


def calls(sandbox) -> Counter[str]:
    """Operations the sandbox served since the last clear, by name (the pages a browser opens excluded)."""
    return Counter(r.operation for r in sandbox.requests() if not r.operation.startswith("page_"))


def changes(result) -> dict[str, int]:
    return {kind: n for kind, n in result.summary.resource_changes.items() if kind != "same"}


def test_preview_up_noop_update_refresh_replace_and_destroy_with_both_functions(
        lifecycle, sandbox, account, org_id):
    project = lifecycle(organizationId=org_id, onboardingLink=True)
    stack = project.stack

    sandbox.clear_requests()
    preview = stack.preview()
    assert preview.change_summary == {"create": 3}
    assert calls(sandbox) == {}, "preview must not call the API, functions included"

    up = stack.up()
    assert changes(up) == {"create": 3}
    assert calls(sandbox) == {"get_connect": 1, "enable_connect": 1, "get_account": 2, "create_account": 1,
                              "create_link": 1}
    outputs = up.outputs
    assert outputs["onboarding_url"].secret and outputs["onboarding_url"].value.startswith(sandbox.url)
    assert outputs["charges_enabled"].value is False
    assert sandbox.store.org_account(org_id)["active"] is True

    sandbox.clear_requests()
    again = stack.up()
    assert changes(again) == {}
    # The resources make no call at all; the link function runs on every up: read the account, make a link.
    assert calls(sandbox) == {"get_account": 1, "create_link": 1}
    assert again.outputs["onboarding_url"].value != outputs["onboarding_url"].value

    project.set_config({"accountActive": False, "applicationFee": 2.5})
    sandbox.clear_requests()
    update = stack.up()
    assert changes(update) == {"update": 2}
    assert calls(sandbox) == {"update_connect": 1, "get_connect": 1, "update_account": 1, "get_account": 2,
                              "create_link": 1}
    assert sandbox.store.org_account(org_id)["active"] is False
    assert sandbox.store.connect_config(account.id)["application_fee"] == 2.5

    sandbox.clear_requests()
    quiet = stack.refresh()
    assert changes(quiet) == {}, "a refresh with nothing drifted reports no change"
    assert calls(sandbox) == {"get_connect": 1, "get_account": 1}
    project.preview("--expect-no-changes")

    sandbox.store.set_charges_enabled(org_id, True)  # the organization finished onboarding at Stripe
    sandbox.store.update_connect(account.id, active=False)  # and someone switched Connect off by hand
    sandbox.clear_requests()
    refresh = stack.refresh()
    # The engine shows drift of inputs (Connect's `active`); `charges_enabled` is an output: it
    # changes in the state without counting as an update.
    assert changes(refresh) == {"update": 1} and "[diff: ~active]" in refresh.stdout
    assert calls(sandbox) == {"get_connect": 1, "get_account": 1}, "refresh reads each resource once"
    state = {r["type"].rsplit(":", 1)[-1]: r["outputs"] for r in project.resources()}
    assert state["OrganizationConnectAccount"]["charges_enabled"] is True
    assert state["StripeConnectConfig"]["active"] is False

    # Onboarded, the organization's invoices can be paid: the program now exports one's payment data.
    invoice = sandbox.create_invoice(org_id, amount=125.0, currency="EUR")
    project.set_config({"shareableId": invoice.shareable_id, "accountActive": True})
    sandbox.clear_requests()
    healed = stack.up()  # the declared `active: true` of both is applied again
    assert changes(healed) == {"update": 2}
    assert sandbox.store.connect_config(account.id)["active"] is True
    assert healed.outputs["charges_enabled"].value is True
    assert healed.outputs["onboarding_complete"].value is True
    assert healed.outputs["payment_client_secret"].secret
    assert calls(sandbox) == {"update_connect": 1, "get_connect": 1, "update_account": 1, "get_account": 2,
                              "get_payment_intent": 1}, "no link is made once onboarding is complete"

    sandbox.clear_requests()
    assert changes(stack.up()) == {}
    assert calls(sandbox) == {"get_account": 1, "get_payment_intent": 1}, "what the functions cost on every up"

    other_org = sandbox.create_organization(account.id, name="Other d.o.o.")
    project.set_config({"organizationId": other_org})
    sandbox.clear_requests()
    replaced = stack.up()
    assert changes(replaced) == {"replace": 1}
    assert calls(sandbox)["create_account"] == 1
    assert sandbox.store.org_account(other_org)["active"] is True
    assert sandbox.store.org_account(org_id)["active"] is False, "the replaced account is deactivated"

    project.set_config({"shareableId": "", "onboardingLink": False})
    sandbox.clear_requests()
    destroy = stack.destroy()
    assert destroy.summary.resource_changes.get("delete") == 3
    assert calls(sandbox) == {"update_connect": 1, "update_account": 1}
    assert sandbox.store.connect_config(account.id)["active"] is False
    assert sandbox.store.org_account(other_org)["active"] is False
    assert sandbox.store.count_org_accounts(org_id) == 1 and sandbox.store.count_org_accounts(other_org) == 1


def test_stack_export_and_the_backend_hold_no_secret_in_plain_text(lifecycle, sandbox, account, org_id):
    project = lifecycle(organizationId=org_id, onboardingLink=True, connectWebhookSecret=WEBHOOK_SECRET)
    link = project.stack.up().outputs["onboarding_url"].value
    sandbox.store.set_charges_enabled(org_id, True)
    project.set_config({"shareableId": sandbox.create_invoice(org_id, amount=10.0, currency="EUR").shareable_id})
    result = project.stack.up()
    config = sandbox.store.connect_config(account.id)
    secrets = {
        "access token": account.token,
        "Stripe secret key": SECRET_KEY,
        "Connect webhook secret": WEBHOOK_SECRET,
        "webhook secret": config["webhook_secret"],
        "onboarding URL": link,
        "payment client secret": result.outputs["payment_client_secret"].value,
    }
    exported = project.pulumi("stack", "export").stdout
    everything = exported + project.state_text() + project.pulumi("stack", "output").stdout
    assert [name for name, value in secrets.items() if value in everything] == []
    resources = {r["type"].rsplit(":", 1)[-1]: r for r in project.resources()}
    connect = resources["StripeConnectConfig"]["outputs"]
    for key in ("private_key", "connect_webhook_secret", "webhook_secret"):
        assert connect[key].get("4dabf18193072939515e22adb298388d") == "1b47061264138c4ac30d75fd1eb44270", key


def test_renaming_with_an_alias_changes_nothing_and_without_one_adopts_and_keeps_the_account_active(
        lifecycle, sandbox, org_id):
    project = lifecycle(organizationId=org_id)
    stack = project.stack
    stack.up()

    project.set_config({"accountName": "acme-renamed", "aliasOf": "acme"})
    sandbox.clear_requests()
    aliased = stack.up()
    assert changes(aliased) == {}
    assert calls(sandbox) == {}, "a rename with an alias is no change at all"

    project.set_config({"accountName": "acme-again"})
    project.pulumi("config", "rm", "aliasOf")
    sandbox.clear_requests()
    renamed = stack.up()
    assert changes(renamed) == {"create": 1, "delete": 1}
    assert calls(sandbox) == {"get_account": 1}, "create adopts the account as it is; delete leaves it alone"
    assert sandbox.store.org_account(org_id)["active"] is True
    assert sandbox.store.count_org_accounts(org_id) == 1


def test_token_rotation_changes_no_state_and_destroy_works_with_the_new_token(lifecycle, sandbox, account, org_id):
    project = lifecycle(organizationId=org_id)
    stack = project.stack
    stack.up()
    ours = lambda: project.resources(CONNECT_TYPE, show_secrets=True) + project.resources(ACCOUNT_TYPE)  # noqa: E731
    before = ours()

    new_token = sandbox.create_token(account.id)
    project.set_config({"spaceinvoices:accessToken": new_token}, secrets={"spaceinvoices:accessToken"})
    sandbox.clear_requests()
    assert changes(stack.up()) == {}
    assert calls(sandbox) == {}
    # Only the engine's default-provider entry changes: it holds the stack config (the token
    # encrypted, as every secret config value); the resources do not hold the token at all.
    assert ours() == before

    stack.destroy()
    assert {r.account_id for r in sandbox.requests()} == {account.id}
    assert sandbox.store.org_account(org_id)["active"] is False
    assert account.token not in project.state_text() and new_token not in project.state_text()


def test_an_up_that_fails_on_a_bad_token_converges_once_the_token_is_fixed(lifecycle, sandbox, account, org_id):
    project = lifecycle(organizationId=org_id)
    project.set_config({"spaceinvoices:accessToken": "not-a-valid-token-0000"}, secrets={"spaceinvoices:accessToken"})
    failed = project.up(check=False)
    assert failed.returncode != 0
    assert "The access token was rejected" in failed.stdout
    assert "not-a-valid-token-0000" not in failed.stdout
    assert sandbox.store.connect_config(account.id) is None

    project.set_config({"spaceinvoices:accessToken": account.token}, secrets={"spaceinvoices:accessToken"})
    project.up()
    assert sandbox.store.connect_config(account.id)["active"] is True
    assert sandbox.store.count_org_accounts(org_id) == 1
    assert len(project.resources(ACCOUNT_TYPE)) == 1 and len(project.resources(CONNECT_TYPE)) == 1
    sandbox.clear_requests()
    project.preview("--expect-no-changes")
    assert calls(sandbox) == {}


def test_pulumi_import_fails_inside_the_sdk_and_declaring_the_resource_adopts_instead(
        lifecycle, sandbox, api, org_id, connect_enabled):
    """What docs/resources.md ("Adoption instead of import") says: `pulumi import` of a dynamic resource dies in
    the SDK's provider server before this package runs; declaring the resource adopts the object."""
    assert api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={}).status_code == 200
    project = lifecycle()
    project.up()
    imported = project.pulumi("import", "--yes", "pulumi-python:dynamic/spaceinvoices:OrganizationConnectAccount",
                              "acme", org_id, check=False)
    assert imported.returncode != 0 and "KeyError: '__provider'" in imported.stdout

    project.set_config({"organizationId": org_id})
    sandbox.clear_requests()
    adopted = project.up()
    assert "the account already exists" in adopted.stdout and "adopting it" in adopted.stdout
    assert calls(sandbox) == {"get_account": 1}, "already as declared: adopting costs one read"
    assert sandbox.store.count_org_accounts(org_id) == 1
