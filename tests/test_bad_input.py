"""Bad input (ARCHITECTURE.md, Targets: security), property-based: every input of both resources and both
functions. Each invalid value fails naming its property before any request reaches the sandbox;
each valid value round-trips unchanged (through check, the API and back, or onto the request path).

Invalid values include path-injection attempts in ids (`/`, `..`, `%2F`, `?`, `#`, whitespace,
unicode look-alikes), wrong types and oversized values.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from pulumi_spaceinvoices import InvalidInputError, SpaceInvoicesError, get_onboarding_link, get_payment_intent
from pulumi_spaceinvoices import core as provider_state
from pulumi_spaceinvoices import stripe_connect_config as config_module
from pulumi_spaceinvoices.organization_connect_account import OrganizationConnectAccountProvider
from pulumi_spaceinvoices.settings import CONFIG_API_URL, CONFIG_TOKEN
from pulumi_spaceinvoices.stripe_connect_config import StripeConnectConfigProvider
from tests.harness import ProviderServer
from tests.support import account_matches, config_matches, connect_inputs, provider_string

PROPERTY = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FEW = settings(PROPERTY, max_examples=15)

# -- What is valid -----------------------------------------------------------------------------------------

HEX = "0123456789abcdef"
ALNUM = string.ascii_letters + string.digits
VALID_ID = re.compile(r"[0-9a-f]{24}")
VALID_SHAREABLE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
VALID_SECRET_KEY = re.compile(r"(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{4,247}")
VALID_PUBLIC_KEY = re.compile(r"pk_(?:test|live)_[A-Za-z0-9]{4,247}")

org_ids = st.text(HEX, min_size=24, max_size=24)
shareable_ids = st.text(ALNUM + "-_", min_size=1, max_size=128)
key_bodies = st.text(ALNUM, min_size=4, max_size=100)
json_scalars = (st.none() | st.booleans() | st.integers(-(2**53), 2**53)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=5)


@st.composite
def urls(draw: st.DrawFn, scheme: str) -> str:
    labels = draw(st.lists(st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12),
                           min_size=1, max_size=3))
    host = ".".join([*labels, draw(st.text(string.ascii_lowercase, min_size=2, max_size=6))])
    port = draw(st.none() | st.integers(1, 65535))
    path = draw(st.lists(st.text(ALNUM + "-._~", min_size=1, max_size=12), max_size=4))
    query = draw(st.none() | st.text(ALNUM + "=&", min_size=1, max_size=20))
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}/{'/'.join(path)}"
    return url if query is None else f"{url}?{query}"


@st.composite
def valid_config_inputs(draw: st.DrawFn) -> dict[str, Any]:
    mode = draw(st.sampled_from(["test", "live"]))
    scheme = "https" if mode == "live" else draw(st.sampled_from(["http", "https"]))
    inputs: dict[str, Any] = {
        "private_key": f"{draw(st.sampled_from(['sk', 'rk']))}_{mode}_{draw(key_bodies)}",
        "public_key": f"pk_{mode}_{draw(key_bodies)}",
        "application_fee": draw(st.floats(0, 99) | st.integers(0, 99)),
        "refresh_url": draw(urls(scheme)),
        "return_url": draw(urls(scheme)),
        "active": draw(st.booleans()),
    }
    if draw(st.booleans()):
        inputs["connect_webhook_secret"] = "whsec_" + draw(key_bodies)
    if draw(st.booleans()):
        inputs["custom"] = draw(json_objects)
    return inputs


# -- What is not ------------------------------------------------------------------------------------------

PATH_TRICKS = ["/", "..", "../", "%2F", "%2f", "%2e%2e", "?", "#", "&", ";", "\\", " ", "\t", "\n", "\r\n",
               "\x00", "\x7f", "\u00a0", "\u200b", "\u2028", "\ufeff"]
LOOK_ALIKES = ["\uff10", "\uff11", "\uff41", "\u0430", "\u0435", "\u0441", "\u0660", "\u0966", "\U0001d7ce",
               "\u2215", "\uff0f", "\u2024", "\u0391"]
wrong_types = (st.integers() | st.floats() | st.booleans() | st.binary(max_size=8)
               | st.lists(st.integers(), max_size=3) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def tampered(valid: st.SearchStrategy[str], pieces: list[str]) -> st.SearchStrategy[str]:
    """A valid value with a piece inserted, or swapped in for as many characters (same length)."""
    @st.composite
    def build(draw: st.DrawFn) -> str:
        value, piece = draw(valid), draw(st.sampled_from(pieces))
        at = draw(st.integers(0, len(value)))
        if draw(st.booleans()):
            return value[:at] + piece + value[at:]
        return value[:at] + piece + value[at + len(piece):]

    return build()


def oversized(prefix: str, limit: int) -> st.SearchStrategy[str]:
    return st.integers(limit + 1, limit * 8).map(lambda n: prefix + "a" * (n - len(prefix)))


invalid_org_ids = (tampered(org_ids, PATH_TRICKS + LOOK_ALIKES) | oversized("", 24)
                   | st.text(max_size=30).filter(lambda s: not re.fullmatch(r"[0-9a-fA-F]{24}", s)))
invalid_shareable_ids = (tampered(shareable_ids, PATH_TRICKS + LOOK_ALIKES).filter(
    lambda s: not VALID_SHAREABLE_ID.fullmatch(s)) | oversized("", 128) | st.just(""))
not_a_key = st.text(max_size=40)
invalid_private_keys = (
    key_bodies.map(lambda b: "pk_test_" + b)  # swapped
    | st.sampled_from(["sk_prod_", "sk_", "SK_TEST_", "sk-test-", "rk_dev_", "whsec_", ""]).flatmap(
        lambda p: key_bodies.map(lambda b: p + b))
    | tampered(key_bodies.map(lambda b: "sk_test_" + b), PATH_TRICKS + LOOK_ALIKES + ["-", "*"]).filter(
        lambda s: not VALID_SECRET_KEY.fullmatch(s))
    | oversized("sk_test_", 255)
    | not_a_key.filter(lambda s: not VALID_SECRET_KEY.fullmatch(s))
)
invalid_public_keys = (
    key_bodies.map(lambda b: "sk_test_" + b) | key_bodies.map(lambda b: "rk_test_" + b)  # swapped
    | key_bodies.map(lambda b: "pk_live_" + b)  # the private key is a test key
    | tampered(key_bodies.map(lambda b: "pk_test_" + b), PATH_TRICKS + LOOK_ALIKES).filter(
        lambda s: not VALID_PUBLIC_KEY.fullmatch(s))
    | oversized("pk_test_", 255)
    | not_a_key.filter(lambda s: not VALID_PUBLIC_KEY.fullmatch(s))
)
invalid_fees = (st.floats().filter(lambda f: not 0 <= f <= 99) | st.integers().filter(lambda i: not 0 <= i <= 99)
                | st.text(max_size=5) | st.booleans() | st.lists(st.integers(), max_size=2))
HOST_LOOK_ALIKES = ["\uff0e", "\u3002", "\u2024", "\u0430", "\u00e9", "\uff41", "\u0131"]
NUMERIC_HOSTS = ["2130706433", "0x7f000001", "0x7f.1", "127.1", "0177.0.0.1", "127.0.0.01", "1.2.3.4.5",
                 "example.123", "256.0.0.1", "[fe80::1%25eth0]", "[::1"]


@st.composite
def unsafe_urls(draw: st.DrawFn) -> str:
    """URLs urlsplit takes, but with credentials in them, or a host a browser reads differently."""
    scheme, rest = draw(urls("https")).split("://", 1)
    authority, tail = rest.split("/", 1)
    host = authority.split(":")[0]
    kind = draw(st.sampled_from(["userinfo", "stray-at", "backslash", "percent-host", "look-alike", "numeric"]))
    if kind == "userinfo":
        user = draw(st.text(ALNUM + "-._~%!$&'()*+,;=", min_size=1, max_size=10))
        password = draw(st.none() | st.text(ALNUM + "-._~!$&'()*+,;=", max_size=12))
        authority = user + ("" if password is None else f":{password}") + "@" + authority
    elif kind == "stray-at":
        at = draw(st.integers(0, len(authority)))
        authority = authority[:at] + "@" + authority[at:]
    elif kind == "backslash":
        url = f"{scheme}://{authority}/{tail}"
        at = draw(st.integers(len(scheme) + 1, len(url)))
        return url[:at] + "\\" + url[at:]
    elif kind == "percent-host":
        at = draw(st.integers(0, len(host) - 1))
        authority = authority[:at] + f"%{ord(host[at]):02X}" + authority[at + 1:]
    elif kind == "look-alike":
        at = draw(st.integers(0, len(host)))
        authority = authority[:at] + draw(st.sampled_from(HOST_LOOK_ALIKES)) + authority[at:]
    else:
        authority = draw(st.sampled_from(NUMERIC_HOSTS)) + authority[len(host):]
    return f"{scheme}://{authority}/{tail}"


invalid_urls = (
    st.sampled_from(["ftp", "javascript", "file", "data", "mailto", "ws", "HTTPX"]).map(
        lambda s: f"{s}://example.com/x" if s != "javascript" else "javascript:alert(1)")
    | st.sampled_from(["example.com/return", "/return", "//example.com/return", "https://", "https:///x",
                       "http://:80/", "https://example.com:99999/", "https://example.com:port/", "https//example.com"])
    | tampered(urls("https"), [" ", "\t", "\n", "\x00", "\x7f", "\u2028", "\u00a0"])
    | oversized("https://example.com/", 2048)
    | unsafe_urls()
)
invalid_webhook_secrets = (
    st.just("whsec_")  # no secret after the prefix
    | st.sampled_from(["", "whsec", "sk_test_", "WHSEC_", "whsec-"]).flatmap(lambda p: key_bodies.map(lambda b: p + b))
    | tampered(key_bodies.map(lambda b: "whsec_" + b), [" ", "\t", "\n", "\x00", "\x7f", "\u00a0", "\u200b", "\u0430"])
    | oversized("whsec_", 256)
)
not_a_bool = (st.integers(-(2**53), 2**53) | st.floats() | st.text(max_size=5) | st.lists(st.booleans(), max_size=2)
              | st.dictionaries(st.text(max_size=2), st.booleans(), max_size=1))
secret_shaped = st.sampled_from(["sk_test_", "sk_" "live_", "rk_test_", "rk_" "live_", "whsec_"]).flatmap(
    lambda prefix: key_bodies.map(lambda body: prefix + body))


def _hide(obj: dict[str, Any], secret: str, where: str) -> dict[str, Any]:
    """`obj` with `secret` somewhere inside it: a value, a key, in a list, deep down, or inside a sentence."""
    return {
        "value": {**obj, "stripe": secret},
        "key": {**obj, secret: True},
        "list": {**obj, "keys": [1, secret]},
        "deep": {**obj, "a": {"b": [{"c": secret}]}},
        "sentence": {**obj, "note": f"rotate {secret} monthly"},
    }[where]


custom_with_secrets = st.builds(_hide, json_objects, secret_shaped,
                                st.sampled_from(["value", "key", "list", "deep", "sentence"]))
invalid_custom = (
    custom_with_secrets
    | st.lists(st.integers(), max_size=3) | st.text(max_size=5) | st.integers() | st.booleans()
    | json_objects.flatmap(lambda obj: st.sampled_from([math.nan, math.inf, -math.inf]).map(
        lambda bad: {**obj, "bad": [bad]}))
    | st.integers(17_000, 100_000).map(lambda n: {"blob": "x" * n})
)

INVALID_CONFIG: dict[str, st.SearchStrategy[Any]] = {
    "private_key": invalid_private_keys | wrong_types,
    "public_key": invalid_public_keys | wrong_types,
    "application_fee": invalid_fees,
    "refresh_url": invalid_urls | wrong_types,
    "return_url": invalid_urls | wrong_types,
    "connect_webhook_secret": invalid_webhook_secrets | wrong_types,
    "active": not_a_bool,
    "custom": invalid_custom,
}
SECRET_PROPERTIES = {"private_key", "connect_webhook_secret"}


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


# -- Fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def nothing_sent(sandbox) -> Callable[[], None]:
    """Assert the sandbox received no request since the last call, and start counting again."""
    def check() -> None:
        assert sandbox.requests() == []
        sandbox.clear_requests()

    sandbox.clear_requests()
    return check


def _configure_for(sandbox, token: str) -> None:
    config = Config({CONFIG_TOKEN: token, CONFIG_API_URL: sandbox.url}, "test")
    provider_state.SpaceInvoicesProvider().configure(ConfigureRequest(config))


# -- StripeConnectConfig --------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("prop", list(INVALID_CONFIG))
@PROPERTY
@given(data=st.data())
def test_an_invalid_config_input_fails_check_naming_it_and_sends_nothing(configured, nothing_sent, prop, data):
    value = data.draw(INVALID_CONFIG[prop], label=prop)
    result = StripeConnectConfigProvider().check({}, connect_inputs(**{prop: value}))
    assert [f.property for f in result.failures] == [prop], result.failures
    if prop in SECRET_PROPERTIES and isinstance(value, str) and len(value) >= 8:
        assert value not in result.failures[0].reason  # a rejected secret is not echoed
    nothing_sent()


@pytest.mark.unit
@pytest.mark.parametrize("prop", ["refresh_url", "return_url"])
@FEW
@given(url=urls("http"))
def test_an_http_url_with_live_keys_fails_check_naming_it(configured, prop, url):
    live = connect_inputs(private_key="sk_" "live_RELIABILITYsecret0123", public_key="pk_live_RELIABILITYpublic012",
                          **{prop: url})
    assert [f.property for f in StripeConnectConfigProvider().check({}, live).failures] == [prop]


@pytest.mark.unit
@PROPERTY
@given(name=st.text(min_size=1, max_size=20))
def test_an_unknown_config_property_fails_check_naming_it(configured, name):
    if name in (*config_module.INPUT_KEYS, *config_module.OUTPUT_ONLY_KEYS, "__provider"):
        return
    result = StripeConnectConfigProvider().check({}, {**connect_inputs(), name: "x"})
    assert [f.property for f in result.failures] == [name]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("private_key", "sk_test_" + "a" * 100_000),
        ("private_key", "sk_test_abc\x00def"),
        ("private_key", "sk_test_abc-def/ghi"),
        ("public_key", "pk_test_ab\u0441d1234"),
        ("refresh_url", "https://example.com:99999/refresh"),
        ("return_url", "https://example.com/\x00return"),
        ("return_url", "http://[::1/return"),
        ("connect_webhook_secret", "whsec_abc\u200bdef"),
        ("connect_webhook_secret", "whsec_abc\x00def"),
        ("custom", {"ratio": math.nan}),
        ("custom", {"limits": [1, math.inf]}),
        ("custom", _deep(5000)),
    ],
    ids=["huge-key", "key-control-char", "key-path-chars", "key-look-alike", "port-out-of-range", "url-nul",
         "url-broken-ipv6", "webhook-zero-width", "webhook-nul", "custom-nan", "custom-infinity", "custom-too-deep"],
)
def test_values_that_once_passed_check_fail_it_naming_their_property(configured, prop, value):
    result = StripeConnectConfigProvider().check({}, connect_inputs(**{prop: value}))
    assert [f.property for f in result.failures] == [prop]


@pytest.mark.unit
@pytest.mark.parametrize("prop", ["refresh_url", "return_url"])
@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://user:hunter2@platform.example.com/return", "plain text in the state"),
        ("https://platform.example.com@evil.example/return", "'@' before the host"),
        ("https://evil.example\\@platform.example.com/return", "backslashes"),
        ("https://evil.example\\platform.example.com/return", "backslashes"),
        ("https://platform%2eexample.com/return", "browsers read other hosts differently"),
        ("https://platform\uff0eexample.com/return", "browsers read other hosts differently"),
        ("https://2130706433/return", "IP address written in full"),
        ("https://0x7f.1/return", "IP address written in full"),
        ("https://[fe80::1%25eth0]/return", "browsers read other hosts differently"),
        ("https://platform.example.com/re\x01turn", "control characters"),
    ],
    ids=["userinfo", "stray-at", "backslash-at", "backslash", "percent-host", "fullwidth-dot", "decimal-ip",
         "hex-ip", "ipv6-zone", "control-char"],
)
def test_urls_with_credentials_or_a_host_browsers_read_otherwise_fail_check_saying_why(configured, prop, url, why):
    result = StripeConnectConfigProvider().check({}, connect_inputs(**{prop: url}))
    assert [f.property for f in result.failures] == [prop]
    assert why in result.failures[0].reason
    assert "hunter2" not in result.failures[0].reason  # a password is not echoed


@pytest.mark.unit
@pytest.mark.parametrize("url", ["https://[::1]:8443/return", "http://127.0.0.1:3000/done", "https://10.0.0.7/r",
                                 "https://xn--bcher-kva.example/return", "https://platform.example.com./return",
                                 "https://platform.example.com/@team/return?next=a@b#@c"])
def test_urls_with_hosts_both_read_alike_pass_check(configured, url):
    result = StripeConnectConfigProvider().check({}, connect_inputs(return_url=url))
    assert result.failures == [] and result.inputs["return_url"] == url


@pytest.mark.unit
def test_a_webhook_secret_with_nothing_after_its_prefix_fails_check_saying_so(configured):
    result = StripeConnectConfigProvider().check({}, connect_inputs(connect_webhook_secret="whsec_"))
    assert [(f.property, f.reason) for f in result.failures] == [
        ("connect_webhook_secret", "must have the secret itself after whsec_")]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("custom", "meant_for"),
    [
        ({"stripe": {"key": "sk_" "live_CUSTOMsecret0123456789"}}, "private_key"),
        ({"keys": ["rk_test_CUSTOMrestricted0123"]}, "private_key"),
        ({"note": "signing secret is whsec_CUSTOMwebhook0123456789"}, "connect_webhook_secret"),
        ({"sk_test_CUSTOMasakey0123456789": True}, "private_key"),
    ],
    ids=["secret-key", "restricted-key", "webhook-in-a-sentence", "as-a-key"],
)
def test_secrets_in_custom_fail_check_saying_why_without_echoing_them(configured, custom, meant_for):
    result = StripeConnectConfigProvider().check({}, connect_inputs(custom=custom))
    assert [f.property for f in result.failures] == ["custom"]
    reason = result.failures[0].reason
    assert "plain text in the state" in reason and meant_for in reason
    assert "CUSTOM" not in reason


@pytest.mark.unit
@FEW
@given(inputs=valid_config_inputs())
def test_valid_config_inputs_round_trip_unchanged_through_check_create_and_the_api(sandbox, inputs):
    account = sandbox.create_account()
    _configure_for(sandbox, account.token)
    provider = StripeConnectConfigProvider()
    result = provider.check({}, inputs)
    assert result.failures == []
    assert {key: result.inputs[key] for key in inputs} == inputs
    created = provider.create(result.inputs)
    assert {key: created.outs[key] for key in inputs} == inputs
    config_matches(created.outs, sandbox.store.connect_config(account.id))


# -- OrganizationConnectAccount ------------------------------------------------------------------------------


@pytest.mark.unit
@PROPERTY
@given(org=invalid_org_ids | wrong_types)
@example(org="../../admin").via("a traversal")
@example(org="644c214c6ee48100249d5d7a" * 40_000).via("a megabyte")
def test_an_invalid_organization_id_fails_check_naming_it_and_sends_nothing(configured, nothing_sent, org):
    result = OrganizationConnectAccountProvider().check({}, {"organization_id": org})
    assert [f.property for f in result.failures] == ["organization_id"]
    assert len(result.failures[0].reason) < 200  # an oversized value is not echoed in full
    nothing_sent()


@pytest.mark.unit
@PROPERTY
@given(active=not_a_bool)
def test_an_invalid_active_fails_check_naming_it(configured, org_id, active):
    result = OrganizationConnectAccountProvider().check({}, {"organization_id": org_id, "active": active})
    assert [f.property for f in result.failures] == ["active"]


@pytest.mark.unit
@PROPERTY
@given(org=invalid_org_ids | wrong_types, step=st.sampled_from(["read", "update", "delete"]))
@example(org="..%2F..%2Fadmin", step="read").via("an encoded traversal from a state file")
def test_an_invalid_id_from_state_is_refused_by_read_update_and_delete_before_any_request(
        configured, nothing_sent, org, step):
    # Read, update and delete take ids from the state (or from `get`), never passed through check.
    provider = OrganizationConnectAccountProvider()
    outs = {"organization_id": org, "active": True, "connect_account_id": None}
    call = {
        "read": lambda: provider.read(org, outs),
        "update": lambda: provider.update(org, outs, {**outs, "active": False}),
        "delete": lambda: provider.delete(org, outs),
    }[step]
    with pytest.raises(InvalidInputError) as caught:
        call()
    assert caught.value.property_name == "organization_id"
    nothing_sent()


@pytest.mark.unit
@PROPERTY
@given(record=(invalid_org_ids | wrong_types).filter(lambda r: bool(r)), step=st.sampled_from(["update", "delete"]))
def test_an_invalid_record_id_from_state_is_refused_before_any_request(configured, org_id, nothing_sent, record,
                                                                       step):
    provider = OrganizationConnectAccountProvider()
    outs = {"organization_id": org_id, "active": True, "connect_account_id": record}
    with pytest.raises(InvalidInputError) as caught:
        if step == "update":
            provider.update(org_id, outs, {"organization_id": org_id, "active": False})
        else:
            provider.delete(org_id, outs)
    assert caught.value.property_name == "connect_account_id"
    nothing_sent()


@pytest.mark.unit
@PROPERTY
@given(org=org_ids)
def test_a_valid_organization_id_reaches_the_request_path_unchanged(configured, sandbox, org):
    sandbox.clear_requests()
    provider = OrganizationConnectAccountProvider()
    checked = provider.check({}, {"organization_id": org})
    assert checked.failures == [] and checked.inputs["organization_id"] == org
    assert provider.read(org, checked.inputs).id is None  # not an organization of this account
    assert [r.path for r in sandbox.requests()] == [f"/v1/organizations/{org}/stripe-connect/account"]


@pytest.mark.unit
@FEW
@given(active=st.booleans(), upper=st.booleans())
def test_a_valid_account_round_trips_through_check_create_and_the_api(sandbox, account, configured,
                                                                       connect_enabled, active, upper):
    org = sandbox.create_organization(account.id)
    provider = OrganizationConnectAccountProvider()
    checked = provider.check({}, {"organization_id": org.upper() if upper else org, "active": active})
    assert checked.failures == [] and checked.inputs == {"organization_id": org, "active": active}
    created = provider.create(checked.inputs)
    assert created.id == org and {k: created.outs[k] for k in checked.inputs} == checked.inputs
    account_matches(created.outs, sandbox.store.org_account(org))


# -- Through the provider server, as the engine sends values -------------------------------------------------------


@pytest.mark.stepwise
def test_invalid_values_sent_the_way_the_engine_sends_them_fail_check_by_name(sandbox, account):
    account_type = "pulumi-python:dynamic/spaceinvoices:OrganizationConnectAccount"
    config_type = "pulumi-python:dynamic/spaceinvoices:StripeConnectConfig"
    accounts, configs = provider_string(OrganizationConnectAccountProvider()), provider_string(
        StripeConnectConfigProvider())
    sandbox.clear_requests()
    with ProviderServer() as server:
        server.configure({"spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token})

        @FEW
        @given(org=invalid_org_ids | st.integers() | st.booleans() | st.lists(st.text(max_size=3), max_size=2),
               active=st.none() | not_a_bool)
        def accounts_property(org: Any, active: Any) -> None:
            news = {"__provider": accounts, "organization_id": org, "active": active}
            _, failures = server.check(f"urn:pulumi:dev::p::{account_type}::a", {}, news)
            expected = {"organization_id"} | ({"active"} if active is not None else set())
            assert {f.property for f in failures} == expected

        @FEW
        @given(data=st.data())
        def configs_property(data: st.DataObject) -> None:
            prop = data.draw(st.sampled_from(sorted(INVALID_CONFIG)))
            value = data.draw(INVALID_CONFIG[prop].filter(lambda v: not isinstance(v, bytes)))
            news = {"__provider": configs, **connect_inputs(**{prop: value})}
            _, failures = server.check(f"urn:pulumi:dev::p::{config_type}::c", {}, news)
            assert [f.property for f in failures] == [prop]

        accounts_property()
        configs_property()
    assert sandbox.requests() == []


# -- get_onboarding_link and get_payment_intent ------------------------------------------------------------------

FUNCTION_CALLS: dict[str, Callable[..., Any]] = {
    "get_onboarding_link.organization_id": lambda sb, tok, v: get_onboarding_link(v, access_token=tok,
                                                                                  api_url=sb.url),
    "get_onboarding_link.access_token": lambda sb, tok, v: get_onboarding_link("a" * 24, access_token=v,
                                                                               api_url=sb.url),
    "get_onboarding_link.api_url": lambda sb, tok, v: get_onboarding_link("a" * 24, access_token=tok, api_url=v),
    "get_payment_intent.shareable_id": lambda sb, tok, v: get_payment_intent(v, api_url=sb.url),
    "get_payment_intent.api_url": lambda sb, tok, v: get_payment_intent("share-1", api_url=v),
}
invalid_api_urls = (st.sampled_from(["ftp://example.com", "example.com", "http://", "https:///v1", "file:///x",
                                     "javascript:alert(1)", "http//example.com", " "])
                    | st.text(max_size=20).filter(lambda s: "://" not in s and s.strip()))


def sendable_token(value: str) -> bool:
    """What a token may be: printable ASCII without spaces, once surrounding whitespace is trimmed."""
    token = value.strip()
    return bool(token) and token.isascii() and token.isprintable() and " " not in token


invalid_tokens = (st.text(min_size=1, max_size=40) | tampered(
    st.text(HEX, min_size=64, max_size=64), ["\r\n", "\n", "\x00", " ", "\u00e9", "\u2028"])).filter(
    lambda s: not sendable_token(s))
INVALID_FUNCTION_INPUTS: dict[str, st.SearchStrategy[Any]] = {
    "get_onboarding_link.organization_id": invalid_org_ids | wrong_types,
    "get_onboarding_link.access_token": invalid_tokens | wrong_types,
    "get_onboarding_link.api_url": invalid_api_urls | wrong_types,
    "get_payment_intent.shareable_id": invalid_shareable_ids | wrong_types,
    "get_payment_intent.api_url": invalid_api_urls | wrong_types,
}


@pytest.mark.unit
@pytest.mark.parametrize("target", list(INVALID_FUNCTION_INPUTS))
@PROPERTY
@given(data=st.data())
def test_an_invalid_function_argument_fails_naming_it_and_sends_nothing(sandbox, account, nothing_sent, monkeypatch,
                                                                        target, data):
    monkeypatch.delenv("SPACEINVOICES_ACCESS_TOKEN", raising=False)
    value = data.draw(INVALID_FUNCTION_INPUTS[target], label=target)
    with pytest.raises(InvalidInputError) as caught:
        FUNCTION_CALLS[target](sandbox, account.token, value)
    assert caught.value.property_name == target.split(".")[1]
    if target.endswith("access_token") and isinstance(value, str) and len(value) >= 8:
        assert value not in str(caught.value)
    nothing_sent()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("target", "value"),
    [
        ("get_onboarding_link.access_token", ["a-token-in-a-list"]),
        ("get_onboarding_link.access_token", 123456789),
        ("get_onboarding_link.access_token", "two words"),
        ("get_onboarding_link.access_token", "token\r\nX-Injected: 1"),
        ("get_onboarding_link.api_url", False),
        ("get_onboarding_link.api_url", "ftp://example.com"),
        ("get_payment_intent.api_url", 0),
    ],
    ids=["token-list", "token-number", "token-space", "token-header-injection", "url-false", "url-ftp", "url-zero"],
)
def test_function_arguments_that_once_reached_the_network_fail_naming_them(sandbox, account, nothing_sent, target,
                                                                           value):
    with pytest.raises(InvalidInputError) as caught:
        FUNCTION_CALLS[target](sandbox, account.token, value)
    assert caught.value.property_name == target.split(".")[1]
    nothing_sent()


@pytest.mark.unit
@PROPERTY
@given(org=org_ids)
def test_a_valid_organization_id_reaches_the_onboarding_request_unchanged(sandbox, account, org):
    sandbox.clear_requests()
    with pytest.raises(SpaceInvoicesError, match="no Stripe Connect account"):
        get_onboarding_link(org, access_token=account.token, api_url=sandbox.url)
    assert [r.path for r in sandbox.requests()] == [f"/v1/organizations/{org}/stripe-connect/account"]


@pytest.mark.unit
@PROPERTY
@given(shareable_id=shareable_ids)
def test_a_valid_shareable_id_reaches_the_payment_intent_request_unchanged(sandbox, shareable_id):
    sandbox.clear_requests()
    with pytest.raises(SpaceInvoicesError, match="404"):
        get_payment_intent(shareable_id, api_url=sandbox.url)
    assert [r.path for r in sandbox.requests()] == [f"/v1/documents/{shareable_id}/stripe-connect/payment-intent"]


@pytest.mark.unit
@pytest.mark.parametrize("suffix", ["", "/"])
def test_valid_function_arguments_are_used_as_given(sandbox, account, org_id, connect_enabled, suffix):
    from pulumi_spaceinvoices import SpaceInvoicesClient

    SpaceInvoicesClient(account.token, api_url=sandbox.url).create_connect_account(org_id)
    sandbox.store.set_charges_enabled(org_id, True)
    invoice = sandbox.create_invoice(org_id, amount=12.5)
    link = get_onboarding_link(org_id.upper(), access_token=account.token, api_url=sandbox.url + suffix)
    assert link.organization_id == org_id and link.onboarding_complete is True
    intent = get_payment_intent(invoice.shareable_id, api_url=sandbox.url + suffix)
    assert intent.amount == 12.5
    assert sandbox.requests()[-1].path == f"/v1/documents/{invoice.shareable_id}/stripe-connect/payment-intent"
