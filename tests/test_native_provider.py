"""The plugin's provider in process, without the engine: conversions between PropertyValues and the
core's dicts, preview without calls, the onboarding link's diff, errors as one line. The real-engine
behaviour is in tests/test_native_lifecycle.py."""

from __future__ import annotations

import asyncio

import pytest
from pulumi.dynamic import ConfigureRequest as DynamicConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.provider import (
    CheckRequest,
    ConfigureRequest,
    CreateRequest,
    DiffRequest,
    UpdateRequest,
)

from pulumi_spaceinvoices import core
from pulumi_spaceinvoices.errors import AuthenticationError, SpaceInvoicesError
from pulumi_spaceinvoices.plugin import server
from pulumi_spaceinvoices.plugin._names import camel, snake
from pulumi_spaceinvoices.plugin.provider import UNKNOWN, SpaceInvoicesPlugin, from_core, to_core
from pulumi_spaceinvoices.plugin.schema import organization_connect_account, stripe_connect_config

pytestmark = pytest.mark.unit

CONNECT = "urn:pulumi:dev::p::spaceinvoices:index:StripeConnectConfig::connect"
ACCOUNT = "urn:pulumi:dev::p::spaceinvoices:index:OrganizationConnectAccount::acme"
LINK = "urn:pulumi:dev::p::spaceinvoices:index:OnboardingLink::acmeLink"


def run(call):
    """One plugin call to completion, on a loop of its own: ``asyncio.run`` would also unset the
    thread's current loop, which the mock-based programs of other test files (pulumi.runtime.test) use."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(call)
    finally:
        loop.close()


@pytest.fixture
def plugin(sandbox, account, new_run):
    plugin = SpaceInvoicesPlugin()
    run(plugin.configure(ConfigureRequest(
        {}, {"accessToken": PropertyValue(account.token, is_secret=True), "apiUrl": PropertyValue(sandbox.url)},
        True, False)))
    yield plugin
    # The core's settings are per process: leave none behind for the next test.
    core.SpaceInvoicesProvider().configure(DynamicConfigureRequest(Config({}, "test")))


def test_names_are_camel_case_in_the_schema_and_snake_case_in_the_core():
    assert camel("organization_id") == "organizationId" and snake("organizationId") == "organization_id"
    assert camel("active") == "active" and snake(camel("space_invoices_fee")) == "space_invoices_fee"


def test_values_convert_both_ways_with_unknowns_numbers_and_secrets():
    props = {"privateKey": PropertyValue("sk_test_Abcd1234", is_secret=True), "applicationFee": PropertyValue(2.0),
             "custom": PropertyValue({"n": PropertyValue(1.0)}), "refreshUrl": PropertyValue(Computed())}
    values, secret = to_core(props)
    assert values == {"private_key": "sk_test_Abcd1234", "application_fee": 2.0, "custom": {"n": 1.0},
                      "refresh_url": UNKNOWN}
    assert secret == {"private_key"}
    back = from_core({**values, "webhook_secret": "whsec_x", "custom": {"n": 1}}, stripe_connect_config())
    assert back["privateKey"].is_secret and back["webhookSecret"].is_secret, "secrets from the schema"
    assert back["custom"].value["n"].value == 1.0 and not back["applicationFee"].is_secret
    assert back["refreshUrl"].value == UNKNOWN, "unknown goes back as the engine's marker"


def test_check_names_the_schema_property_and_adds_the_core_defaults(plugin, sandbox):
    sandbox.clear_requests()
    bad = run(plugin.check(CheckRequest(ACCOUNT, {}, {"organizationId": PropertyValue("../admin")}, b"")))
    assert [(f.property, f.reason[:30]) for f in bad.failures] == [
        ("organizationId", "must be a Space Invoices id of")]
    good = run(plugin.check(CheckRequest(ACCOUNT, {}, {"organizationId": PropertyValue("A" * 24)}, b"")))
    assert good.failures == [] and good.inputs == {"organizationId": PropertyValue("a" * 24),
                                                   "active": PropertyValue(True)}
    assert sandbox.requests() == []


def test_create_and_update_in_preview_return_unknowns_and_call_nothing(plugin, sandbox, org_id):
    sandbox.clear_requests()
    created = run(plugin.create(CreateRequest(ACCOUNT, {"organizationId": PropertyValue(org_id),
                                                                "active": PropertyValue(True)}, 60, True)))
    assert created.properties["organizationId"].value == org_id
    assert all(created.properties[camel(k)].value == UNKNOWN
               for k in organization_connect_account().output_keys if k not in ("organization_id", "active"))
    link = run(plugin.create(CreateRequest(LINK, {"organizationId": PropertyValue(org_id)}, 60, True)))
    assert link.properties["url"].value == UNKNOWN and link.properties["url"].is_secret
    olds = {"organizationId": PropertyValue(org_id), "active": PropertyValue(True),
            "connectAccountId": PropertyValue("b" * 24), "chargesEnabled": PropertyValue(False)}
    updated = run(plugin.update(UpdateRequest(ACCOUNT, org_id, olds, {**olds, "active": PropertyValue(False)},
                                                      60, [], True)))
    assert updated.properties["active"].value is False
    assert updated.properties["connectAccountId"].value == "b" * 24, "what the core's diff calls stable is kept"
    assert updated.properties["chargesEnabled"].value == UNKNOWN
    assert sandbox.requests() == []


def test_the_link_asks_for_an_update_while_onboarding_is_incomplete_and_never_after(plugin):
    org = PropertyValue("c" * 24)

    def diff(complete):
        state = {"organizationId": org, "onboardingComplete": PropertyValue(complete)}
        return run(plugin.diff(DiffRequest(LINK, "c" * 24, state, {"organizationId": org}, [])))

    assert diff(False).changes is True and diff(False).diffs == ["url"] and diff(False).replaces == []
    assert diff(True).changes is False
    moved = run(plugin.diff(DiffRequest(LINK, "c" * 24, {"organizationId": org,
                                                                 "onboardingComplete": PropertyValue(True)},
                                                {"organizationId": PropertyValue("d" * 24)}, [])))
    assert moved.changes is True and moved.diffs == ["organizationId"]


def test_the_core_diff_decides_and_the_plugin_only_shows_it(plugin, org_id):
    olds = {"organizationId": PropertyValue(org_id), "active": PropertyValue(True)}
    same = run(plugin.diff(DiffRequest(ACCOUNT, org_id, olds, dict(olds), [])))
    assert same.changes is False and same.diffs == []
    moved = run(plugin.diff(DiffRequest(ACCOUNT, org_id, olds, {**olds, "organizationId": PropertyValue(
        "e" * 24)}, [])))
    assert moved.changes and moved.replaces == ["organizationId"] and moved.diffs == ["organizationId"]


def test_our_error_is_found_behind_the_sdk_s_wrapper_and_others_are_not():
    from pulumi.provider.experimental.server import _raise_with_traceback

    def through_the_sdk(error):
        @_raise_with_traceback
        async def rpc(self, request, context):
            raise error

        try:
            run(rpc(None, None, None))
        except Exception as raised:
            assert "Traceback" in raised.args[0] or "File" in raised.args[0]  # what the SDK would send
            return raised

    ours = AuthenticationError(status=401, method="GET", path="/v1/stripe-connect", request_id="r-1")
    assert server.ours(through_the_sdk(ours)) is ours
    assert server.ours(through_the_sdk(ValueError("a bug"))) is None
    assert isinstance(server.ours(ours), SpaceInvoicesError)


def test_a_changed_provider_config_is_reported_as_a_change_which_the_sdk_s_diffconfig_gets_wrong():
    """A new token on an explicit provider must reach the engine as DIFF_SOME (then the engine
    configures a plugin with it); the SDK's servicer turns `changes=True` into DIFF_NONE."""
    from google.protobuf import struct_pb2 as struct
    from pulumi.provider.experimental.server import ProviderServicer
    from pulumi.runtime.proto import provider_pb2 as proto

    def request(old_token, new_token):
        olds, news = struct.Struct(), struct.Struct()
        olds.update({"accessToken": old_token, "apiUrl": "http://127.0.0.1:9"})
        news.update({"accessToken": new_token, "apiUrl": "http://127.0.0.1:9"})
        return proto.DiffRequest(urn="urn:pulumi:dev::p::pulumi:providers:spaceinvoices::live", id="i", olds=olds,
                                 news=news)

    def answer(servicer_type, old_token, new_token):
        servicer = servicer_type([], "0.1.0", SpaceInvoicesPlugin(), engine_address=None)
        return run(servicer.DiffConfig(request(old_token, new_token), None))

    rotated, same = ("the-old-token-0000", "a-new-token-0000"), ("the-old-token-0000", "the-old-token-0000")
    assert answer(server.servicer_class(), *rotated).changes == proto.DiffResponse.DIFF_SOME
    assert list(answer(server.servicer_class(), *rotated).diffs) == ["accessToken"]
    assert answer(server.servicer_class(), *rotated).replaces == [], "never a replace of every resource"
    assert answer(server.servicer_class(), *same).changes == proto.DiffResponse.DIFF_NONE
    # Why ours exists: when this starts failing, the SDK is fixed and the override can go.
    assert answer(ProviderServicer, *rotated).changes == proto.DiffResponse.DIFF_NONE
