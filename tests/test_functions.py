"""get_onboarding_link(_output) and get_payment_intent(_output) against the sandbox."""

from __future__ import annotations

import pulumi
import pytest

from pulumi_spaceinvoices import (
    InvalidInputError,
    NotFoundError,
    SpaceInvoicesClient,
    get_onboarding_link,
    get_onboarding_link_output,
    get_payment_intent,
    get_payment_intent_output,
)
from tests.support import api_calls_in_order

pytestmark = pytest.mark.unit


class NoResources(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args):
        return {}


@pytest.fixture
def onboarding_org(sandbox, account, org_id, connect_enabled) -> str:
    SpaceInvoicesClient(account.token, api_url=sandbox.url).create_connect_account(org_id)
    sandbox.clear_requests()
    return org_id


def test_onboarding_link_for_a_pending_organization(sandbox, account, onboarding_org):
    result = get_onboarding_link(onboarding_org, access_token=account.token, api_url=sandbox.url)
    assert result.url.startswith(sandbox.url + "/sandbox/onboarding/")
    assert result.onboarding_complete is False and result.expires_at.endswith("Z")
    assert result.url not in repr(result)
    assert api_calls_in_order(sandbox) == ["get_account", "create_link"]


def test_no_link_is_made_once_onboarding_is_complete(sandbox, account, onboarding_org):
    sandbox.store.set_charges_enabled(onboarding_org, True)
    result = get_onboarding_link(onboarding_org, access_token=account.token, api_url=sandbox.url)
    assert result.onboarding_complete is True and result.url is None
    assert api_calls_in_order(sandbox) == ["get_account"]


def test_an_organization_without_an_account_gets_a_helpful_error(sandbox, account, org_id):
    with pytest.raises(NotFoundError, match="create an OrganizationConnectAccount"):
        get_onboarding_link(org_id, access_token=account.token, api_url=sandbox.url)


@pytest.mark.parametrize("bad", ["../x", "644c214c6ee48100249d5d7a/link", "", None, 42])
def test_a_bad_organization_id_is_refused_before_any_request(sandbox, account, bad):
    with pytest.raises(InvalidInputError, match="organization_id"):
        get_onboarding_link(bad, access_token=account.token, api_url=sandbox.url)
    assert sandbox.requests() == []


def test_payment_intent_after_onboarding(sandbox, account, onboarding_org):
    invoice = sandbox.create_invoice(onboarding_org, amount=1250.0, currency="EUR")
    sandbox.store.set_charges_enabled(onboarding_org, True)
    intent = get_payment_intent(invoice.shareable_id, api_url=sandbox.url)
    assert intent.public_key.startswith("pk_test_") and intent.client_secret.startswith("pi_")
    assert intent.amount == 1250.0 and intent.currency_id == "EUR"
    assert intent.client_secret not in repr(intent)


@pytest.mark.parametrize("bad", ["a/b", "..", "x?y", "", "é"])
def test_a_bad_shareable_id_is_refused_before_any_request(sandbox, bad):
    with pytest.raises(InvalidInputError, match="shareable_id"):
        get_payment_intent(bad, api_url=sandbox.url)
    assert sandbox.requests() == []


def test_output_forms_make_no_call_during_preview(sandbox, account, onboarding_org):
    pulumi.runtime.set_mocks(NoResources(), project="p", stack="s", preview=True)
    resolved: list[object] = []

    @pulumi.runtime.test
    def program():
        link = get_onboarding_link_output(onboarding_org, access_token=account.token, api_url=sandbox.url)
        intent = get_payment_intent_output("share-123", api_url=sandbox.url)
        return pulumi.Output.all(link.url, intent.client_secret).apply(resolved.append)

    program()
    assert resolved == []  # the values stayed unknown, so the callback never ran
    assert sandbox.requests() == []


def test_onboarding_link_output_marks_only_the_url_secret(sandbox, account, onboarding_org):
    pulumi.runtime.set_mocks(NoResources(), project="p", stack="s", preview=False)

    @pulumi.runtime.test
    def program():
        link = get_onboarding_link_output(onboarding_org, access_token=pulumi.Output.secret(account.token),
                                          api_url=sandbox.url)

        def check(values):
            url_secret, complete_secret, url, complete = values
            assert url_secret is True and complete_secret is False
            assert url.startswith(sandbox.url) and complete is False

        return pulumi.Output.all(
            pulumi.Output.is_secret(link.url), pulumi.Output.is_secret(link.onboarding_complete),
            link.url, link.onboarding_complete,
        ).apply(check)

    program()
    assert api_calls_in_order(sandbox) == ["get_account", "create_link"]


def test_secret_inputs_keep_results_secret(sandbox, account, onboarding_org):
    pulumi.runtime.set_mocks(NoResources(), project="p", stack="s", preview=False)

    @pulumi.runtime.test
    def program():
        link = get_onboarding_link_output(pulumi.Output.secret(onboarding_org), access_token=account.token,
                                          api_url=sandbox.url)
        return pulumi.Output.all(pulumi.Output.is_secret(link.onboarding_complete)).apply(check)

    def check(values):
        assert values == [True]

    program()


@pytest.mark.parametrize("as_list", [True, False])
def test_output_form_waits_for_depends_on_given_as_one_resource_or_a_list(sandbox, account, onboarding_org, as_list):
    pulumi.runtime.set_mocks(NoResources(), project="p", stack="s", preview=False)

    @pulumi.runtime.test
    def program():
        gate = pulumi.CustomResource("test:index:Gate", "gate", {})
        opts = pulumi.InvokeOutputOptions(depends_on=[gate] if as_list else gate)
        link = get_onboarding_link_output(onboarding_org, access_token=account.token, api_url=sandbox.url, opts=opts)
        return link.onboarding_complete.apply(lambda complete: check(complete))

    def check(complete):
        assert complete is False

    program()
    assert api_calls_in_order(sandbox) == ["get_account", "create_link"]
