"""Programs under pulumi.runtime.set_mocks: what the resources register with the engine."""

from __future__ import annotations

import pulumi
import pytest
from pulumi.runtime import rpc

import pulumi_spaceinvoices as si

pytestmark = pytest.mark.unit

SECRET_KEY = "sk_test_PROGRAMsecret0123456789"
ORG = "644c214c6ee48100249d5d7a"


class Recorder(pulumi.runtime.Mocks):
    """Echoes inputs back as outputs (as the engine does for a dynamic resource) and keeps them."""

    def __init__(self) -> None:
        self.registered: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered[args.name] = args
        object_id = args.inputs.get("organization_id") or f"{args.name}-id"
        return object_id, dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@pytest.fixture
def mocks() -> Recorder:
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="test", stack="test", preview=False)
    return recorder


def connect_config(name: str = "connect") -> si.StripeConnectConfig:
    return si.StripeConnectConfig(
        name,
        private_key=SECRET_KEY,
        public_key="pk_test_PROGRAMpublic0123456789",
        application_fee=1.5,
        refresh_url="https://example.com/refresh",
        return_url="https://example.com/return",
    )



@pulumi.runtime.test
def test_resources_register_under_the_spaceinvoices_module(mocks):
    config = connect_config()
    account = si.OrganizationConnectAccount("acme", organization_id=ORG)

    def check(_):
        assert mocks.registered["connect"].typ == "pulumi-python:dynamic/spaceinvoices:StripeConnectConfig"
        assert mocks.registered["acme"].typ == "pulumi-python:dynamic/spaceinvoices:OrganizationConnectAccount"

    return pulumi.Output.all(config.id, account.id).apply(check)


@pulumi.runtime.test
def test_every_output_is_an_attribute_and_provider_is_small_and_plain(mocks):
    config = connect_config()
    account = si.OrganizationConnectAccount("acme", organization_id=ORG)
    for key in ("private_key", "active", "custom", "account_id", "space_invoices_fee", "webhook_secret",
                "created_at", "updated_at"):
        assert isinstance(getattr(config, key), pulumi.Output)
    for key in ("organization_id", "active", "connect_account_id", "stripe_account_id", "stripe_connect_id",
                "charges_enabled", "created_at", "updated_at"):
        assert isinstance(getattr(account, key), pulumi.Output)

    def check(_):
        config_inputs = mocks.registered["connect"].inputs
        account_inputs = mocks.registered["acme"].inputs
        for key in ("private_key", "public_key", "application_fee", "refresh_url", "return_url"):
            assert key in config_inputs
        assert account_inputs["organization_id"] == ORG
        for inputs in (config_inputs, account_inputs):
            provider = inputs["__provider"]
            assert isinstance(provider, str) and len(provider) < 200  # plain text, not a secret
        assert mocks.registered["connect"].inputs["__provider"] != mocks.registered["acme"].inputs["__provider"]

    return pulumi.Output.all(config.id, account.id).apply(check)


@pulumi.runtime.test
def test_secret_inputs_are_sent_as_secrets_even_when_given_as_plain_strings(mocks):
    config = connect_config()

    def check(values):
        private_key_input = mocks.registered["connect"].inputs["private_key"]
        assert rpc.is_rpc_secret(private_key_input)
        assert rpc.unwrap_rpc_secret(private_key_input) == SECRET_KEY
        assert values == [True, False]

    return pulumi.Output.all(
        pulumi.Output.is_secret(config.private_key), pulumi.Output.is_secret(config.public_key)
    ).apply(check)


@pulumi.runtime.test
def test_typed_output_attributes_carry_the_values(mocks):
    account = si.OrganizationConnectAccount("acme", organization_id=ORG, active=False)

    def check(values):
        assert values == [ORG, False, ORG]

    return pulumi.Output.all(account.organization_id, account.active, account.id).apply(check)


@pulumi.runtime.test
def test_args_objects_and_keyword_arguments_are_equivalent(mocks):
    by_args = si.OrganizationConnectAccount("by-args", si.OrganizationConnectAccountArgs(organization_id=ORG))
    by_keywords = si.OrganizationConnectAccount("by-keywords", organization_id=ORG)
    with pytest.raises(TypeError):
        si.OrganizationConnectAccount("typo", organisation_id=ORG)

    def check(_):
        assert mocks.registered["by-args"].inputs == mocks.registered["by-keywords"].inputs

    return pulumi.Output.all(by_args.id, by_keywords.id).apply(check)


@pulumi.runtime.test
def test_a_program_registers_2500_resources(mocks):
    accounts = [si.OrganizationConnectAccount(f"org-{i}", organization_id=f"{i:024x}") for i in range(2500)]

    def check(ids):
        assert len(ids) == 2500 and len(mocks.registered) == 2500
        assert ids[-1] == f"{2499:024x}"

    return pulumi.Output.all(*[a.id for a in accounts]).apply(check)


def test_public_names_are_exactly_the_intended_ones():
    assert sorted(si.__all__) == sorted([
        "APIConnectionError", "APIError", "AuthenticationError", "ConfigurationError", "DEFAULT_API_URL",
        "GetOnboardingEntryUrlOutputResult", "GetOnboardingEntryUrlResult",
        "GetOnboardingLinkOutputResult", "GetOnboardingLinkResult", "GetPaymentIntentOutputResult",
        "GetPaymentIntentResult", "InvalidInputError", "NotFoundError", "OrganizationConnectAccount",
        "OrganizationConnectAccountArgs", "RateLimitError", "ServerError", "SpaceInvoicesClient",
        "SpaceInvoicesError", "StripeConnectConfig", "StripeConnectConfigArgs", "TEST_API_URL",
        "UnexpectedResponseError", "ValidationError", "__version__", "get_onboarding_entry_url",
        "get_onboarding_entry_url_output", "get_onboarding_link",
        "get_onboarding_link_output", "get_payment_intent", "get_payment_intent_output",
    ])
    for name in si.__all__:
        assert getattr(si, name) is not None
