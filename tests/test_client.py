"""SpaceInvoicesClient against a running sandbox, over real HTTP."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from pulumi_spaceinvoices import (
    APIConnectionError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    ServerError,
    SpaceInvoicesClient,
    ValidationError,
)
from pulumi_spaceinvoices.client import USER_AGENT, retry_delay, should_retry
from pulumi_spaceinvoices.models import StripeConnectFields
from pulumi_spaceinvoices.settings import ENV_API_URL, ENV_TOKEN, resolve_settings
from tests.support import serve_http

SECRET_KEY = "sk_test_CLIENTsecret0123456789"
WEBHOOK_SECRET = "whsec_CLIENTwebhook0123456789"


def connect_fields(**overrides: object) -> StripeConnectFields:
    values = {
        "private_key": SECRET_KEY,
        "public_key": "pk_test_CLIENTpublic0123456789",
        "application_fee": 1.5,
        "refresh_url": "https://example.com/refresh",
        "return_url": "https://example.com/return",
        "connect_webhook_secret": WEBHOOK_SECRET,
    }
    values.update(overrides)
    return StripeConnectFields(**values)


@pytest.fixture
def client(sandbox, account) -> Iterator[SpaceInvoicesClient]:
    with SpaceInvoicesClient(account.token, api_url=sandbox.url, max_attempts=4, deadline=20) as api:
        yield api


@pytest.fixture
def enabled(client):
    return client.enable_stripe_connect(connect_fields())


# -- Every operation ---------------------------------------------------------------------------


@pytest.mark.unit
def test_connect_config_is_none_before_it_is_enabled(client):
    assert client.get_stripe_connect() is None


@pytest.mark.unit
def test_enable_returns_the_config_with_server_fields(client, enabled, account):
    assert enabled.id and enabled.account_id == account.id
    assert enabled.public_key == "pk_test_CLIENTpublic0123456789"
    assert enabled.application_fee == 1.5 and enabled.active is True
    assert enabled.webhook_secret and enabled.space_invoices_fee is not None


@pytest.mark.unit
def test_update_answers_204_and_the_next_read_shows_the_change(client, enabled, sandbox):
    assert client.update_stripe_connect(StripeConnectFields(application_fee=7)) is None
    assert client.get_stripe_connect().application_fee == 7
    assert sandbox.requests(operation="update_connect")[-1].status == 204


@pytest.mark.unit
def test_organization_account_lifecycle(client, enabled, org_id):
    assert client.get_connect_account(org_id) is None
    created = client.create_connect_account(org_id, active=True)
    assert created.organization_id == org_id and created.charges_enabled is False
    assert created.stripe_connect_id == enabled.id
    client.update_connect_account(created.id, active=False)
    assert client.get_connect_account(org_id).active is False


@pytest.mark.unit
def test_creating_an_account_twice_is_a_validation_error(client, enabled, org_id):
    client.create_connect_account(org_id)
    with pytest.raises(ValidationError) as caught:
        client.create_connect_account(org_id)
    assert caught.value.code == "STRIPE_CONNECT_ACCOUNT_ALREADY_EXISTS"


@pytest.mark.unit
def test_onboarding_link_uses_the_documented_post(client, enabled, org_id, sandbox):
    client.create_connect_account(org_id)
    link = client.create_onboarding_link(org_id)
    assert link.url.startswith(sandbox.url + "/sandbox/onboarding/")
    assert [r.method for r in sandbox.requests(operation="create_link")] == ["POST"]
    assert link.url not in repr(link)


@pytest.mark.unit
@pytest.mark.parametrize("disallowed", ["405", "404"])
def test_onboarding_link_falls_back_to_get_once_and_remembers(client, enabled, org_id, sandbox, disallowed):
    client.create_connect_account(org_id)
    sandbox.set_link_methods({"GET"}, disallowed=disallowed)
    first = client.create_onboarding_link(org_id)
    second = client.create_onboarding_link(org_id)
    assert first.url != second.url
    assert [r.method for r in sandbox.requests(operation="create_link")] == ["POST", "GET", "GET"]


@pytest.mark.unit
def test_onboarding_link_does_not_fall_back_on_an_object_level_404(client, enabled, sandbox):
    missing_org = "0" * 24
    with pytest.raises(NotFoundError):
        client.create_onboarding_link(missing_org)
    assert [r.method for r in sandbox.requests(operation="create_link")] == ["POST"]


@pytest.mark.unit
def test_payment_intent_is_public(sandbox, client, enabled, org_id):
    client.create_connect_account(org_id)
    sandbox.store.set_charges_enabled(org_id, True)
    invoice = sandbox.create_invoice(org_id, amount=99.5, currency="EUR")
    public = SpaceInvoicesClient(api_url=sandbox.url, config={})  # no token at all
    intent = public.get_payment_intent(invoice.shareable_id)
    assert intent.public_key.startswith("pk_test_") and intent.payment_intent_id.startswith("pi_")
    assert intent.amount == 99.5 and intent.client_secret not in repr(intent)
    record = sandbox.requests(operation="get_payment_intent")[-1]
    assert record.status == 200 and record.account_id is None


@pytest.mark.unit
def test_check_token_accepts_a_good_token_and_rejects_a_bad_one(client, sandbox):
    assert client.check_token()
    with pytest.raises(AuthenticationError) as caught:
        SpaceInvoicesClient("not-a-real-token-123", api_url=sandbox.url).check_token()
    text = str(caught.value)
    assert "access token was rejected" in text and "spaceinvoices:accessToken" in text
    assert "SPACEINVOICES_ACCESS_TOKEN" in text and "not-a-real-token-123" not in text


@pytest.mark.unit
def test_calls_that_need_a_token_fail_clearly_without_one(sandbox, monkeypatch):
    monkeypatch.delenv(ENV_TOKEN, raising=False)
    api = SpaceInvoicesClient(api_url=sandbox.url, config={})
    with pytest.raises(ConfigurationError, match="spaceinvoices:accessToken.*SPACEINVOICES_ACCESS_TOKEN"):
        api.get_stripe_connect()
    assert sandbox.requests() == []


# -- Error mapping -------------------------------------------------------------------------------


@pytest.mark.unit
def test_another_accounts_organization_is_an_authentication_error(client, enabled, sandbox):
    other = sandbox.create_account(email="other@example.com")
    their_org = sandbox.create_organization(other.id, name="Theirs")
    with pytest.raises(AuthenticationError) as caught:
        client.get_connect_account(their_org)
    assert caught.value.status == 401 and caught.value.method == "GET" and their_org in caught.value.path


@pytest.mark.unit
def test_validation_errors_carry_the_details(client):
    with pytest.raises(ValidationError) as caught:
        client.enable_stripe_connect(connect_fields(application_fee=150))
    error = caught.value
    assert error.status == 422 and error.details
    assert any("applicationFee" in str(d.get("path")) for d in error.details)
    assert "applicationFee" in str(error)
    assert SECRET_KEY not in str(error)


@pytest.mark.sandbox
def test_server_errors_after_retries_are_server_errors(client, sandbox):
    sandbox.fail_next("get_connect", status=500, count=10)
    with pytest.raises(ServerError) as caught:
        client.get_stripe_connect()
    assert caught.value.status == 500
    assert sandbox.count("get_connect") == client.max_attempts


@pytest.mark.unit
def test_rate_limit_errors_carry_retry_after_when_retries_run_out(sandbox, account):
    api = SpaceInvoicesClient(account.token, api_url=sandbox.url, max_attempts=1)
    sandbox.fail_next("get_connect", status=429, count=1, retry_after=2)
    with pytest.raises(RateLimitError) as caught:
        api.get_stripe_connect()
    assert caught.value.retry_after == 2


# -- Retries, Retry-After, deadline ------------------------------------------------------------------


@pytest.mark.sandbox
def test_transient_503s_on_a_get_are_retried(client, sandbox):
    sandbox.fail_next("get_connect", status=503, count=2)
    assert client.get_stripe_connect() is None
    assert [r.status for r in sandbox.requests(operation="get_connect")] == [503, 503, 404]


@pytest.mark.sandbox
def test_retry_after_is_honoured(client, sandbox):
    sandbox.fail_next("get_connect", status=429, count=1, retry_after=1)
    started = time.monotonic()
    client.get_stripe_connect()
    assert time.monotonic() - started >= 0.9  # waited as told, not the 0.25 s backoff
    assert sandbox.count("get_connect") == 2


@pytest.mark.unit
@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_post_is_not_repeated_after_an_ambiguous_failure(client, sandbox, status):
    sandbox.fail_next("enable_connect", status=status, count=1)
    with pytest.raises(ServerError):
        client.enable_stripe_connect(connect_fields())
    assert sandbox.count("enable_connect") == 1


@pytest.mark.unit
@pytest.mark.parametrize("operation", ["update_connect", "update_account"])
def test_a_patch_answered_500_is_retried(client, enabled, org_id, sandbox, operation):
    record = client.create_connect_account(org_id)
    sandbox.fail_next(operation, status=500, count=1)
    if operation == "update_connect":
        client.update_stripe_connect(connect_fields(application_fee=7))
        assert client.get_stripe_connect().application_fee == 7
    else:
        client.update_connect_account(record.id, active=False)
        assert client.get_connect_account(org_id).active is False
    assert [r.status for r in sandbox.requests(operation=operation)] == [500, 204]


@pytest.mark.unit
def test_a_post_refused_with_503_is_retried(client, sandbox, account):
    sandbox.fail_next("enable_connect", status=503, count=1)
    client.enable_stripe_connect(connect_fields())
    assert sandbox.count("enable_connect") == 2
    assert sandbox.store.connect_config(account.id) is not None


@pytest.mark.unit
def test_a_post_whose_answer_is_lost_is_not_repeated(client, sandbox, account):
    sandbox.lose_response_next("enable_connect", count=1)
    with pytest.raises(APIConnectionError) as caught:
        client.enable_stripe_connect(connect_fields())
    assert caught.value.may_have_applied is True and caught.value.should_retry is False
    assert sandbox.count("enable_connect") == 1
    assert sandbox.store.connect_config(account.id) is not None  # it was applied


@pytest.mark.unit
def test_a_dropped_connection_on_a_get_is_retried(client, sandbox):
    sandbox.drop_next("get_connect", count=1)
    assert client.get_stripe_connect() is None
    assert sandbox.count("get_connect") == 2


@pytest.mark.sandbox
def test_slow_answers_end_at_the_deadline(sandbox, account):
    api = SpaceInvoicesClient(account.token, api_url=sandbox.url, read_timeout=0.3, deadline=1.5, max_attempts=10)
    sandbox.set_latency(1.0, operation="get_connect")
    started = time.monotonic()
    with pytest.raises(APIConnectionError) as caught:
        api.get_stripe_connect()
    assert time.monotonic() - started < 1.5 + 1.0  # bounded by the deadline, not by 10 attempts
    assert "timed out" in str(caught.value)


@pytest.mark.unit
def test_connection_refused_is_an_api_connection_error():
    api = SpaceInvoicesClient("tok-123456", api_url="http://127.0.0.1:9", max_attempts=2, deadline=5)
    with pytest.raises(APIConnectionError) as caught:
        api.get_stripe_connect()
    assert caught.value.may_have_applied is False


@pytest.mark.unit
@pytest.mark.parametrize(
    ("method", "status", "sent", "repeatable", "expected"),
    [
        ("GET", None, True, None, True),  # reset after sending: a GET can be repeated
        ("POST", None, False, None, True),  # never connected: the server saw nothing
        ("POST", None, True, None, False),  # may have been applied
        ("POST", None, True, True, True),  # an explicitly repeatable POST (onboarding link)
        ("POST", 429, True, None, True),
        ("POST", 503, True, None, True),
        ("POST", 502, True, None, False),
        ("PATCH", 502, True, None, True),
        ("GET", 500, True, None, True),
        ("PATCH", 500, True, None, True),  # a PATCH sets absolute values: repeating it is safe
        ("DELETE", 500, True, None, True),
        ("POST", 500, True, None, False),  # a POST may have been applied
        ("POST", 500, True, True, False),  # the onboarding-link POST is not repeated after a 500 either
        ("POST", 504, True, True, True),  # ...though after a 504, as after a reset
        ("GET", 404, True, None, False),
        ("GET", 422, True, None, False),
    ],
)
def test_should_retry_rules(method, status, sent, repeatable, expected):
    assert should_retry(method=method, status=status, sent=sent, repeatable=repeatable) is expected


@pytest.mark.unit
def test_retry_delay_prefers_retry_after_and_otherwise_backs_off_with_jitter():
    assert retry_delay(1, 2.5) == 2.5
    assert retry_delay(1, 10_000) == 30.0  # capped
    assert retry_delay(1, None, rand=lambda: 0.0) == 0.125
    assert retry_delay(3, None, rand=lambda: 1.0) == 1.0
    assert retry_delay(20, None, rand=lambda: 1.0) == 8.0


@pytest.mark.sandbox
def test_pacing_keeps_one_process_under_the_rate_limit(sandbox, account):
    sandbox.set_rate_limit(100)
    api = SpaceInvoicesClient(account.token, api_url=sandbox.url, max_attempts=1)
    threads = [threading.Thread(target=lambda: [api.get_stripe_connect() for _ in range(40)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = [r.status for r in sandbox.requests(operation="get_connect")]
    assert len(statuses) == 160 and 429 not in statuses


@pytest.mark.unit
def test_concurrent_use_from_threads_shares_one_session(client, enabled, sandbox):
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                assert client.get_stripe_connect().id == enabled.id
        except BaseException as error:  # noqa: BLE001 - collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# -- What goes on the wire (a recording HTTP server) ---------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str]]] = []

    def _answer(self) -> None:
        _Recorder.seen.append((self.command, self.path, dict(self.headers)))
        body = json.dumps({"url": "https://x.test/1", "publicKey": "pk_test_1", "clientSecret": "pi_1_secret_2",
                           "paymentIntentId": "pi_1", "currencyId": "EUR"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    with serve_http(_Recorder) as url:
        yield url


@pytest.mark.unit
def test_the_token_is_sent_raw_with_the_user_agent(recorder):
    SpaceInvoicesClient("raw-token-abcdef", api_url=recorder).create_onboarding_link("a" * 24)
    method, path, headers = _Recorder.seen[0]
    assert headers["Authorization"] == "raw-token-abcdef"  # no "Bearer"
    assert headers["User-Agent"] == USER_AGENT
    assert "access_token" not in path


@pytest.mark.unit
def test_the_payment_intent_call_sends_no_authorization_header(recorder):
    SpaceInvoicesClient("raw-token-abcdef", api_url=recorder).get_payment_intent("share-1")
    assert "Authorization" not in _Recorder.seen[0][2]


@pytest.mark.unit
def test_ids_are_percent_encoded_into_one_path_segment(recorder):
    SpaceInvoicesClient("raw-token-abcdef", api_url=recorder).create_onboarding_link("../a/b?c#d")
    assert _Recorder.seen[0][1] == "/v1/organizations/..%2Fa%2Fb%3Fc%23d/stripe-connect/account/link"


# -- Redaction and settings -------------------------------------------------------------------------


@pytest.mark.unit
def test_debug_logs_and_errors_never_show_secrets(sandbox, account, org_id, caplog):
    caplog.set_level(logging.DEBUG, logger="pulumi_spaceinvoices")
    api = SpaceInvoicesClient(account.token, api_url=sandbox.url)
    api.enable_stripe_connect(connect_fields())
    api.create_connect_account(org_id)
    link = api.create_onboarding_link(org_id)
    with pytest.raises(ValidationError) as caught:
        api.enable_stripe_connect(connect_fields())
    logged = caplog.text
    assert "-> POST /v1/stripe-connect" in logged
    for secret in (account.token, SECRET_KEY, WEBHOOK_SECRET, link.url):
        assert secret not in logged
        assert secret not in str(caught.value) and secret not in repr(api)


@pytest.mark.unit
def test_settings_resolve_arguments_then_config_then_environment(monkeypatch):
    monkeypatch.setenv(ENV_TOKEN, "env-token-123")
    monkeypatch.setenv(ENV_API_URL, "http://env.example")
    config = {"spaceinvoices:accessToken": "cfg-token-123", "spaceinvoices:apiUrl": "http://cfg.example/"}
    assert resolve_settings("arg-token-123", "http://arg.example", config).access_token == "arg-token-123"
    from_config = resolve_settings(config=config)
    assert (from_config.access_token, from_config.api_url) == ("cfg-token-123", "http://cfg.example")
    from_env = resolve_settings()
    assert (from_env.access_token, from_env.api_url) == ("env-token-123", "http://env.example")
    assert "env-token-123" not in repr(from_env)


@pytest.mark.unit
def test_a_missing_token_names_both_ways_to_set_it(monkeypatch):
    monkeypatch.delenv(ENV_TOKEN, raising=False)
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(config={})
    assert "pulumi config set --secret spaceinvoices:accessToken" in str(caught.value)
    assert ENV_TOKEN in str(caught.value)


@pytest.mark.unit
def test_a_malformed_api_url_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="not an http"):
        SpaceInvoicesClient("tok-123456", api_url="ftp://example.com")


@pytest.mark.unit
@pytest.mark.parametrize("source", ["argument", "config", "environment"])
def test_a_token_a_header_cannot_carry_is_a_configuration_error_naming_its_source(source, monkeypatch, sandbox):
    bad = "tok en-with\nnewline"
    monkeypatch.delenv(ENV_TOKEN, raising=False)
    kwargs: dict[str, object] = {"api_url": sandbox.url, "config": {}}
    if source == "argument":
        kwargs["access_token"] = bad
    elif source == "config":
        kwargs["config"] = {"spaceinvoices:accessToken": bad}
    else:
        monkeypatch.setenv(ENV_TOKEN, bad)
    with pytest.raises(ConfigurationError) as caught:
        SpaceInvoicesClient(**kwargs)
    expected = {"argument": "access_token argument", "config": "spaceinvoices:accessToken", "environment": ENV_TOKEN}
    assert expected[source] in str(caught.value) and bad not in str(caught.value)
    assert sandbox.requests() == []


PACED_SCRIPT = """
import sys
from pulumi_spaceinvoices import SpaceInvoicesClient
api = SpaceInvoicesClient(sys.argv[1], api_url=sys.argv[2], max_attempts=1)
sys.stdin.readline()  # start together
for _ in range(150):
    try:
        api.get_stripe_connect()
    except Exception:
        pass
"""


def _side_by_side(sandbox, token: str, env: dict[str, str]) -> list:
    """Two processes with one token, each with its own client and pacer, started at once."""
    import os
    import subprocess
    import sys

    sandbox.clear_requests()
    procs = [subprocess.Popen([sys.executable, "-c", PACED_SCRIPT, token, sandbox.url], stdin=subprocess.PIPE,
                              env={**os.environ, **env}, text=True) for _ in range(2)]
    time.sleep(1.5)  # both imported and waiting
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        proc.communicate(timeout=60)
    return sandbox.requests(operation="get_connect")


@pytest.mark.sandbox
def test_processes_that_share_a_token_stay_under_its_limit_when_they_split_the_budget(sandbox, account):
    sandbox.set_rate_limit(100)
    split = [r.status for r in _side_by_side(sandbox, account.token, {"SPACEINVOICES_REQUESTS_PER_SECOND": "47.5"})]
    assert len(split) == 300 and 429 not in split
    unsplit = [r.status for r in _side_by_side(sandbox, account.token, {})]
    assert 429 in unsplit, "each at the default 95/s, together they exceed the token's 100/s"


@pytest.mark.sandbox
def test_processes_that_share_a_rate_file_pace_as_one_within_the_token_limit(sandbox, account, tmp_path):
    # 60/s each: apart 120/s, over the limit; on one schedule 60/s, with room for a busy machine's jitter.
    sandbox.set_rate_limit(100)
    pace = {"SPACEINVOICES_REQUESTS_PER_SECOND": "60"}
    assert 429 in [r.status for r in _side_by_side(sandbox, account.token, pace)], "apart, they pass the limit"
    served = _side_by_side(sandbox, account.token, {**pace, "SPACEINVOICES_RATE_FILE": str(tmp_path / "rate")})
    assert len(served) == 300 and 429 not in [r.status for r in served], "each at 60/s, together at 60/s too"
    stamps = sorted(r.timestamp for r in served)
    assert stamps[-1] - stamps[0] >= 299 / 60 - 0.05, "one schedule: 300 requests take at least 299 intervals"


@pytest.mark.unit
def test_a_rate_file_that_cannot_be_opened_is_a_configuration_error_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SPACEINVOICES_RATE_FILE", str(tmp_path / "missing" / "rate"))
    with pytest.raises(ConfigurationError, match="SPACEINVOICES_RATE_FILE: cannot open"):
        SpaceInvoicesClient("token-0000", api_url="http://127.0.0.1:9")


@pytest.mark.unit
@pytest.mark.parametrize("bad", ["0", "-5", "fast", "nan", "inf"])
def test_a_bad_requests_per_second_setting_is_a_configuration_error_naming_it(monkeypatch, bad):
    monkeypatch.setenv("SPACEINVOICES_REQUESTS_PER_SECOND", bad)
    with pytest.raises(ConfigurationError, match="SPACEINVOICES_REQUESTS_PER_SECOND must be a number of requests"):
        SpaceInvoicesClient("token-0000", api_url="http://127.0.0.1:9")
