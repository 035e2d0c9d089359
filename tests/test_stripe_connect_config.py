"""StripeConnectConfig's provider, method by method, against the sandbox (its request log is the proof)."""

from __future__ import annotations

import pytest
from pulumi.output import UNKNOWN  # what the provider server passes for unknown values

from pulumi_spaceinvoices import SpaceInvoicesClient
from pulumi_spaceinvoices.models import StripeConnectFields
from pulumi_spaceinvoices.stripe_connect_config import INPUT_KEYS, OUTPUT_ONLY_KEYS, StripeConnectConfigProvider
from tests.support import api_calls_in_order

pytestmark = pytest.mark.unit

SECRET_KEY = "sk_test_CONFIGsecret0123456789"
WEBHOOK = "whsec_CONFIGwebhook0123456789"


def declared(**overrides: object) -> dict[str, object]:
    inputs = {
        "private_key": SECRET_KEY,
        "public_key": "pk_test_CONFIGpublic0123456789",
        "application_fee": 1.5,
        "refresh_url": "https://example.com/refresh",
        "return_url": "https://example.com/return",
        "connect_webhook_secret": WEBHOOK,
    }
    inputs.update(overrides)
    return inputs


@pytest.fixture
def provider(configured, sandbox) -> StripeConnectConfigProvider:
    sandbox.clear_requests()
    return StripeConnectConfigProvider()


@pytest.fixture
def checked(provider):
    result = provider.check({}, declared())
    assert result.failures == []
    return result.inputs


# -- check ------------------------------------------------------------------------------------------


def test_check_fills_defaults_and_accepts_valid_inputs(provider):
    result = provider.check({}, declared())
    assert result.failures == []
    assert result.inputs["active"] is True and result.inputs["application_fee"] == 1.5


@pytest.mark.parametrize(
    ("overrides", "prop", "reason"),
    [
        ({"private_key": "pk_test_CONFIGpublic0123456789", "public_key": "pk_test_x1234567890"}, "private_key",
         "did you swap private_key and public_key?"),
        ({"public_key": "sk_test_CONFIGsecret0123456789"}, "public_key", "did you swap private_key and public_key?"),
        ({"private_key": "secret"}, "private_key", "must be a Stripe secret key"),
        ({"public_key": "pk_live_CONFIGpublic0123456789"}, "public_key", "use keys of the same mode"),
        ({"application_fee": 120.0}, "application_fee", "between 0 and 99"),
        ({"application_fee": -1.0}, "application_fee", "between 0 and 99"),
        ({"application_fee": "1"}, "application_fee", "must be a number"),
        ({"application_fee": True}, "application_fee", "must be a number"),
        ({"return_url": "example.com/return"}, "return_url", "absolute http(s) URL"),
        ({"refresh_url": "javascript:alert(1)"}, "refresh_url", "absolute http(s) URL"),
        ({"private_key": "sk_" "live_CONFIGsecret0123456789", "public_key": "pk_live_CONFIGpublic0123456789",
          "refresh_url": "http://example.com/refresh"}, "refresh_url", "must use https"),
        ({"connect_webhook_secret": "secret"}, "connect_webhook_secret", "whsec_"),
        ({"active": "yes"}, "active", "boolean"),
        ({"custom": ["not", "an", "object"]}, "custom", "dictionary"),
        ({"custom": {"blob": "x" * 20_000}}, "custom", "at most"),
        ({"private_key": None}, "private_key", "is required"),
        ({"colour": "blue"}, "colour", "is not a property"),
    ],
)
def test_check_names_each_bad_property_and_sends_nothing(provider, sandbox, overrides, prop, reason):
    result = provider.check({}, declared(**overrides))
    failures = {f.property: f.reason for f in result.failures}
    assert prop in failures and reason in failures[prop]
    assert SECRET_KEY not in " ".join(failures.values())
    assert sandbox.requests() == []


def test_check_accepts_unknown_values_during_preview(provider):
    result = provider.check({}, declared(private_key=UNKNOWN, return_url=UNKNOWN))
    assert result.failures == []
    assert result.inputs["private_key"] == UNKNOWN


# -- diff -----------------------------------------------------------------------------------------------


def test_diff_is_empty_when_nothing_changed_and_ignores_number_types(provider, checked):
    stored = {**checked, "application_fee": 1.5, "custom": {}, "__provider": "old"}
    result = provider.diff("id", stored, {**checked, "__provider": "new"})
    assert result.changes is False and result.replaces == []


def test_diff_reports_an_update_never_a_replacement(provider, checked):
    result = provider.diff("id", checked, {**checked, "application_fee": 3.0, "return_url": UNKNOWN})
    assert result.changes is True and result.replaces == []


# -- create ------------------------------------------------------------------------------------------


def test_create_enables_connect_with_one_read_and_one_post(provider, checked, sandbox, account):
    result = provider.create(checked)
    assert api_calls_in_order(sandbox) == ["get_connect", "enable_connect"]
    assert result.id == sandbox.store.connect_config(account.id)["id"]
    assert set(result.outs) == set(INPUT_KEYS) | set(OUTPUT_ONLY_KEYS)
    assert result.outs["private_key"] == SECRET_KEY and result.outs["webhook_secret"].startswith("whsec_")
    assert result.outs["account_id"] == account.id and result.outs["active"] is True


def test_create_adopts_an_existing_config_and_applies_the_declared_settings(provider, checked, sandbox, client,
                                                                           capsys):
    existing = client.enable_stripe_connect(StripeConnectFields(**{**declared(), "application_fee": 9}))
    sandbox.clear_requests()
    result = provider.create(checked)
    assert result.id == existing.id
    assert api_calls_in_order(sandbox) == ["get_connect", "update_connect", "get_connect"]
    assert result.outs["application_fee"] == 1.5
    assert "adopting" in capsys.readouterr().err


def test_create_reads_back_when_the_post_answer_is_lost(provider, checked, sandbox, account):
    sandbox.lose_response_next("enable_connect", count=1)
    result = provider.create(checked)
    assert sandbox.count("enable_connect") == 1  # never sent twice
    assert result.id == sandbox.store.connect_config(account.id)["id"]


def test_create_keeps_secrets_the_api_masks(provider, checked, sandbox):
    sandbox.set_secrets_mode("masked")
    result = provider.create(checked)
    assert result.outs["private_key"] == SECRET_KEY
    assert result.outs["connect_webhook_secret"] == WEBHOOK


# -- read ---------------------------------------------------------------------------------------------


def test_read_returns_live_state_and_refreshed_inputs(provider, checked, sandbox, account):
    created = provider.create(checked)
    sandbox.store.update_connect(account.id, application_fee=4)
    sandbox.clear_requests()
    result = provider.read(created.id, created.outs)
    assert api_calls_in_order(sandbox) == ["get_connect"]
    assert result.outs["application_fee"] == 4 and result.inputs["application_fee"] == 4
    assert result.inputs["private_key"] == SECRET_KEY and result.inputs["custom"] is None


@pytest.mark.parametrize("mode", ["masked", "omitted"])
def test_read_keeps_stored_secrets_when_the_api_hides_them(provider, checked, sandbox, mode):
    created = provider.create(checked)
    sandbox.set_secrets_mode(mode)
    result = provider.read(created.id, created.outs)
    assert result.outs["private_key"] == SECRET_KEY
    assert result.outs["webhook_secret"] == created.outs["webhook_secret"]
    assert provider.diff(created.id, result.outs, checked).changes is False  # no false drift


def test_read_of_a_config_that_was_never_enabled_is_gone(provider, sandbox):
    result = provider.read("0" * 24, {})
    assert result.id is None and result.outs == {}


# -- update ---------------------------------------------------------------------------------------------


def test_update_patches_only_what_changed_then_reads(provider, checked, sandbox, account):
    created = provider.create(checked)
    sandbox.clear_requests()
    result = provider.update(created.id, created.outs, {**checked, "application_fee": 2.5})
    assert api_calls_in_order(sandbox) == ["update_connect", "get_connect"]
    assert result.outs["application_fee"] == 2.5
    assert sandbox.store.connect_config(account.id)["application_fee"] == 2.5


# -- delete ---------------------------------------------------------------------------------------------


def test_delete_deactivates_with_one_call(provider, checked, sandbox, account, new_run):
    created = provider.create(checked)
    new_run()
    sandbox.clear_requests()
    provider.delete(created.id, created.outs)
    assert api_calls_in_order(sandbox) == ["update_connect"]
    assert sandbox.store.connect_config(account.id)["active"] is False


def test_delete_when_connect_was_never_enabled_is_done(provider, sandbox):
    provider.delete("0" * 24, {})
    assert api_calls_in_order(sandbox) == ["update_connect"]


def test_delete_spares_a_config_this_run_created_or_adopted(provider, checked, sandbox, account, capsys):
    created = provider.create(checked)
    sandbox.clear_requests()
    provider.delete(created.id, created.outs)
    assert api_calls_in_order(sandbox) == []
    assert sandbox.store.connect_config(account.id)["active"] is True
    assert "leaving Stripe Connect" in capsys.readouterr().err


def test_errors_name_the_resource_and_the_operation_without_secrets(provider, checked, sandbox):
    sandbox.fail_next("enable_connect", status=500, count=1)
    with pytest.raises(Exception) as caught:
        provider.create(checked)
    text = str(caught.value)
    assert text.startswith("enabling StripeConnectConfig:") and "500" in text
    assert SECRET_KEY not in text


@pytest.fixture
def client(sandbox, account) -> SpaceInvoicesClient:
    return SpaceInvoicesClient(account.token, api_url=sandbox.url)
