"""Lifecycles under the real Pulumi engine: the CLI, through the Automation API on a local program
folder (tests/programs/lifecycle), against the sandbox, with the API calls of every step counted
from the sandbox's request log.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.lifecycle import Step, assert_destroyed, drift_at_stripe, run_steps
from tests.realengine import PROGRAMS
from tests.support import api_calls

pytestmark = pytest.mark.engine

SECRET_KEY = "sk_test_RealEngineLifecycle0000"
WEBHOOK_SECRET = "whsec_RealEngineLifecycle0000"
CONNECT_TYPE = ":StripeConnectConfig"
ACCOUNT_TYPE = ":OrganizationConnectAccount"
TOKEN = "spaceinvoices:accessToken"
# What each step costs in API calls.
CREATE = {"get_connect": 1, "enable_connect": 1, "get_account": 2, "create_account": 1, "create_link": 1}
UPDATE_BOTH = {"update_connect": 1, "get_connect": 1, "update_account": 1, "get_account": 2}
READ_BOTH = {"get_connect": 1, "get_account": 1}
DEACTIVATE_BOTH = {"update_connect": 1, "update_account": 1}


@pytest.fixture
def lifecycle(workspace, sandbox, account):
    """The lifecycle program as a new stack, pointed at the sandbox with `account`'s token."""

    def make(**config: Any):
        return workspace.project(
            PROGRAMS / "lifecycle",
            config={"spaceinvoices:apiUrl": sandbox.url, TOKEN: account.token,
                    "stripeSecretKey": SECRET_KEY, **config},
            secrets={TOKEN, "stripeSecretKey", "connectWebhookSecret"},
        )

    return make


def test_preview_up_noop_update_refresh_replace_and_destroy_with_both_functions(
        lifecycle, sandbox, account, org_id):
    project = lifecycle(organizationId=org_id, onboardingLink=True)
    store = sandbox.store
    other_org = sandbox.create_organization(account.id, name="Other d.o.o.")
    first: dict[str, Any] = {}

    def first_up(up):
        outputs = first["outputs"] = up.outputs
        assert outputs["onboarding_url"].secret and outputs["onboarding_url"].value.startswith(sandbox.url)
        assert outputs["charges_enabled"].value is False
        assert store.org_account(org_id)["active"] is True

    def new_link(again):
        assert again.outputs["onboarding_url"].value != first["outputs"]["onboarding_url"].value

    def updated(_):
        assert store.org_account(org_id)["active"] is False
        assert store.connect_config(account.id)["application_fee"] == 2.5

    def drift_read(refresh):
        # The engine shows drift of inputs (Connect's `active`); `charges_enabled` is an output: it
        # changes in the state without counting as an update.
        assert "[diff: ~active]" in refresh.stdout
        state = {r["type"].rsplit(":", 1)[-1]: r["outputs"] for r in project.resources()}
        assert state["OrganizationConnectAccount"]["charges_enabled"] is True
        assert state["StripeConnectConfig"]["active"] is False

    def healed(up):
        assert store.connect_config(account.id)["active"] is True
        assert up.outputs["charges_enabled"].value is True
        assert up.outputs["onboarding_complete"].value is True
        assert up.outputs["payment_client_secret"].secret

    def replaced(_):
        assert api_calls(sandbox)["create_account"] == 1
        assert store.org_account(other_org)["active"] is True
        assert store.org_account(org_id)["active"] is False, "the replaced account is deactivated"

    run_steps(sandbox, project, [
        Step("preview", "preview", changes={"create": 3}, calls={},
             why="preview must not call the API, functions included"),
        Step("first up", changes={"create": 3}, calls=CREATE, then=first_up),
        # The resources make no call at all; the link function runs on every up: read the account, make a link.
        Step("no-op up", changes={}, calls={"get_account": 1, "create_link": 1}, then=new_link),
        Step("update", config={"accountActive": False, "applicationFee": 2.5}, changes={"update": 2},
             calls={**UPDATE_BOTH, "create_link": 1}, then=updated),
        Step("refresh, nothing drifted", "refresh", changes={}, calls=READ_BOTH,
             why="a refresh with nothing drifted reports no change",
             then=lambda _: project.preview("--expect-no-changes")),
        Step("refresh after drift", "refresh", before=lambda: drift_at_stripe(store, account.id, org_id),
             changes={"update": 1}, calls=READ_BOTH,
             why="refresh reads each resource once", then=drift_read),
        # Onboarded, the organization's invoices can be paid: the program now exports one's payment data;
        # the declared `active: true` of both is applied again.
        Step("heal, with a payment", config=lambda: {
            "shareableId": sandbox.create_invoice(org_id, amount=125.0, currency="EUR").shareable_id,
            "accountActive": True}, changes={"update": 2}, calls={**UPDATE_BOTH, "get_payment_intent": 1},
             why="no link is made once onboarding is complete", then=healed),
        Step("no-op up, onboarded", changes={}, calls={"get_account": 1, "get_payment_intent": 1},
             why="what the functions cost on every up"),
        Step("another organization", config={"organizationId": other_org}, changes={"replace": 1}, then=replaced),
        Step("destroy", "destroy", config={"shareableId": "", "onboardingLink": False}, changes={"delete": 3},
             calls=DEACTIVATE_BOTH,
             then=lambda _: assert_destroyed(store, account.id, org_id, other_org)),
    ])


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

    def adopted(_):
        assert sandbox.store.org_account(org_id)["active"] is True
        assert sandbox.store.count_org_accounts(org_id) == 1

    run_steps(sandbox, project, [
        Step("first up", changes={"create": 3}),
        Step("renamed with an alias", config={"accountName": "acme-renamed", "aliasOf": "acme"}, changes={},
             calls={}, why="a rename with an alias is no change at all"),
        Step("renamed without one", config={"accountName": "acme-again", "aliasOf": None},
             changes={"create": 1, "delete": 1}, calls={"get_account": 1},
             why="create adopts the account as it is; delete leaves it alone", then=adopted),
    ])


def test_token_rotation_changes_no_state_and_destroy_works_with_the_new_token(lifecycle, sandbox, account, org_id):
    project = lifecycle(organizationId=org_id)
    ours = lambda: project.resources(CONNECT_TYPE, show_secrets=True) + project.resources(ACCOUNT_TYPE)  # noqa: E731
    new_token = sandbox.create_token(account.id)
    before: list[Any] = []

    def unchanged(_):
        # Only the engine's default-provider entry changes: it holds the stack config (the token
        # encrypted, as every secret config value); the resources do not hold the token at all.
        assert ours() == before

    def destroyed(_):
        assert {r.account_id for r in sandbox.requests()} == {account.id}
        assert sandbox.store.org_account(org_id)["active"] is False
        assert account.token not in project.state_text() and new_token not in project.state_text()

    run_steps(sandbox, project, [
        Step("first up", changes={"create": 3}, then=lambda _: before.extend(ours())),
        Step("up with a new token", config={TOKEN: new_token}, secrets={TOKEN}, changes={}, calls={},
             then=unchanged),
        Step("destroy with the new token", "destroy", then=destroyed),
    ])


def test_an_up_that_fails_on_a_bad_token_converges_once_the_token_is_fixed(lifecycle, sandbox, account, org_id):
    project = lifecycle(organizationId=org_id)

    def failed(up):
        assert up.returncode != 0
        assert "The access token was rejected" in up.stdout
        assert "not-a-valid-token-0000" not in up.stdout
        assert sandbox.store.connect_config(account.id) is None

    def converged(_):
        assert sandbox.store.connect_config(account.id)["active"] is True
        assert sandbox.store.count_org_accounts(org_id) == 1
        assert len(project.resources(ACCOUNT_TYPE)) == 1 and len(project.resources(CONNECT_TYPE)) == 1

    run_steps(sandbox, project, [
        Step("up with a bad token", lambda: project.up(check=False), config={TOKEN: "not-a-valid-token-0000"},
             secrets={TOKEN}, then=failed),
        Step("up with the token fixed", project.up, config={TOKEN: account.token}, secrets={TOKEN}, then=converged),
        Step("no-change preview", lambda: project.preview("--expect-no-changes"), calls={}),
    ])


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

    def adopted(up):
        assert "the account already exists" in up.stdout and "adopting it" in up.stdout
        assert sandbox.store.count_org_accounts(org_id) == 1

    run_steps(sandbox, project, [
        Step("declared", project.up, config={"organizationId": org_id}, calls={"get_account": 1},
             why="already as declared: adopting costs one read", then=adopted),
    ])
