"""OrganizationConnectAccount's provider, method by method, against the sandbox."""

from __future__ import annotations

import pytest
from pulumi.output import UNKNOWN  # what the provider server passes for unknown values

from pulumi_spaceinvoices import SpaceInvoicesClient
from pulumi_spaceinvoices.organization_connect_account import (
    INPUT_KEYS,
    OUTPUT_ONLY_KEYS,
    OrganizationConnectAccountProvider,
)
from tests.support import api_calls_in_order

pytestmark = pytest.mark.unit


@pytest.fixture
def provider(configured, connect_enabled, sandbox) -> OrganizationConnectAccountProvider:
    sandbox.clear_requests()
    return OrganizationConnectAccountProvider()


@pytest.mark.parametrize(
    "bad_id",
    ["", "abc", "644c214c6ee48100249d5d7", "644c214c6ee48100249d5d7a0", "../644c214c6ee48100249d5d",
     "644c214c6ee48100249d5d7/", "644c214c6ee4%2F100249d5d7a", "644c214c6ee48100249d5d?a", "644c214c6ee48100249d5d#a",
     " 644c214c6ee48100249d5d7a", "644c214c6ee48100249d5d7ａ", "x" * 10_000],
)
def test_check_refuses_any_organization_id_that_is_not_24_hex(provider, sandbox, bad_id):
    result = provider.check({}, {"organization_id": bad_id})
    assert [f.property for f in result.failures] == ["organization_id"]
    assert "24 hexadecimal" in result.failures[0].reason and len(result.failures[0].reason) < 200
    assert sandbox.requests() == []


def test_check_normalises_the_id_and_defaults_active(provider, org_id):
    result = provider.check({}, {"organization_id": org_id.upper()})
    assert result.failures == [] and result.inputs == {"organization_id": org_id, "active": True}


def test_check_accepts_an_unknown_id_during_preview(provider):
    assert provider.check({}, {"organization_id": UNKNOWN}).failures == []


def test_diff_replaces_on_a_new_organization_and_updates_on_active(provider, org_id):
    olds = {"organization_id": org_id, "active": True, "charges_enabled": False}
    assert provider.diff(org_id, olds, {"organization_id": org_id, "active": True}).changes is False
    update = provider.diff(org_id, olds, {"organization_id": org_id, "active": False})
    assert update.changes is True and update.replaces == []
    replace = provider.diff(org_id, olds, {"organization_id": "1" * 24, "active": True})
    assert replace.replaces == ["organization_id"]


def test_create_makes_one_read_and_one_post(provider, sandbox, org_id):
    result = provider.create({"organization_id": org_id, "active": True})
    assert api_calls_in_order(sandbox) == ["get_account", "create_account"]
    assert result.id == org_id
    assert set(result.outs) == set(INPUT_KEYS) | set(OUTPUT_ONLY_KEYS)
    assert result.outs["charges_enabled"] is False and result.outs["stripe_account_id"].startswith("acct_")
    assert sandbox.store.count_org_accounts(org_id) == 1


def test_create_adopts_an_existing_account(provider, sandbox, org_id, client, capsys):
    existing = client.create_connect_account(org_id)
    sandbox.clear_requests()
    result = provider.create({"organization_id": org_id, "active": True})
    assert api_calls_in_order(sandbox) == ["get_account"]  # already in the declared state: nothing to change
    assert result.outs["connect_account_id"] == existing.id
    assert "adopting" in capsys.readouterr().err


def test_create_adopting_an_inactive_account_activates_it(provider, sandbox, org_id, client):
    existing = client.create_connect_account(org_id, active=False)
    sandbox.clear_requests()
    result = provider.create({"organization_id": org_id, "active": True})
    assert api_calls_in_order(sandbox) == ["get_account", "update_account", "get_account"]
    assert result.outs["active"] is True and result.outs["connect_account_id"] == existing.id


def test_create_reads_back_when_the_post_answer_is_lost(provider, sandbox, org_id):
    sandbox.lose_response_next("create_account", count=1)
    result = provider.create({"organization_id": org_id, "active": True})
    assert sandbox.count("create_account") == 1
    assert sandbox.store.count_org_accounts(org_id) == 1 and result.id == org_id


def test_create_for_an_unknown_organization_fails_clearly(provider):
    with pytest.raises(Exception, match=r"creating OrganizationConnectAccount for organization 0{24}.*404"):
        provider.create({"organization_id": "0" * 24, "active": True})


def test_read_shows_onboarding_progress(provider, sandbox, org_id):
    created = provider.create({"organization_id": org_id, "active": True})
    sandbox.store.set_charges_enabled(org_id, True)
    sandbox.clear_requests()
    result = provider.read(org_id, created.outs)
    assert api_calls_in_order(sandbox) == ["get_account"]
    assert result.outs["charges_enabled"] is True
    assert result.inputs == {"organization_id": org_id, "active": True}


def test_read_of_an_account_not_created_is_gone(provider, org_id):
    result = provider.read(org_id, {"organization_id": org_id})
    assert result.id is None and result.outs == {}


def test_update_patches_active_then_reads(provider, sandbox, org_id):
    created = provider.create({"organization_id": org_id, "active": True})
    sandbox.clear_requests()
    result = provider.update(org_id, created.outs, {"organization_id": org_id, "active": False})
    assert api_calls_in_order(sandbox) == ["update_account", "get_account"]
    assert result.outs["active"] is False and sandbox.store.org_account(org_id)["active"] is False


def test_delete_deactivates_with_one_call(provider, sandbox, org_id, new_run):
    created = provider.create({"organization_id": org_id, "active": True})
    new_run()
    sandbox.clear_requests()
    provider.delete(org_id, created.outs)
    assert api_calls_in_order(sandbox) == ["update_account"]
    assert sandbox.store.org_account(org_id)["active"] is False


def test_delete_of_an_account_that_is_gone_is_done(provider, sandbox, org_id):
    provider.delete(org_id, {"organization_id": org_id})
    assert api_calls_in_order(sandbox) == ["get_account"]


def test_delete_spares_an_account_this_run_created(provider, sandbox, org_id, capsys):
    """A resource renamed without an alias: the new name adopts, the old name's delete must not deactivate."""
    created = provider.create({"organization_id": org_id, "active": True})
    sandbox.clear_requests()
    provider.delete(org_id, created.outs)
    assert api_calls_in_order(sandbox) == []
    assert sandbox.store.org_account(org_id)["active"] is True
    assert "leaving the account active" in capsys.readouterr().err


@pytest.fixture
def client(sandbox, account) -> SpaceInvoicesClient:
    return SpaceInvoicesClient(account.token, api_url=sandbox.url)
