"""The sandbox over real HTTP: every endpoint's answers, the pages, and the test switches."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from pulumi_spaceinvoices.sandbox import Sandbox, run_sandbox

ROOT = Path(__file__).resolve().parents[1]
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def error_of(response: requests.Response, status: int) -> dict[str, Any]:
    """The `error` object of an error answer, after checking the status and the common shape."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["statusCode"] == status
    return error


@pytest.fixture
def connect_account(api, org_id, connect_enabled) -> dict[str, Any]:
    """The organization's Stripe Connect account, created through the API (not onboarded)."""
    response = api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def link_url(api, org_id, connect_account) -> str:
    return api.post(f"/v1/organizations/{org_id}/stripe-connect/account/link", json={}).json()["url"]


@pytest.fixture
def invoice(sandbox, org_id):
    return sandbox.create_invoice(org_id, amount=1250.0, currency="EUR")


# -- Tokens ------------------------------------------------------------------------------------


@pytest.mark.unit
def test_check_token_returns_the_account(api, account):
    response = api.get("/v1/Accounts/authorized")
    assert response.status_code == 200
    assert response.json() == {"id": account.id, "email": account.email}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("header", "code"),
    [(None, "AUTHORIZATION_REQUIRED"), ("not-a-token", "INVALID_TOKEN"), ("Bearer {token}", "INVALID_TOKEN")],
    ids=["missing", "unknown", "bearer-prefix"],
)
def test_calls_without_a_valid_raw_token_get_401(http, account, header, code):
    session = http(header.format(token=account.token) if header else None)
    for method, path in [("GET", "/v1/Accounts/authorized"), ("GET", "/v1/stripe-connect"),
                         ("POST", "/v1/stripe-connect")]:
        error = error_of(session.request(method, path, json={}), 401)
        assert error["name"] == "UnauthorizedError" and error["code"] == code


@pytest.mark.unit
def test_a_second_token_of_the_account_works_and_a_revoked_one_does_not(sandbox, http, account):
    token = sandbox.create_token(account.id)
    assert http(token).get("/v1/Accounts/authorized").json()["id"] == account.id
    sandbox.store.revoke_token(token)
    error_of(http(token).get("/v1/Accounts/authorized"), 401)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/v1/accounts/authorized", "check_token"),
        ("/V1/ACCOUNTS/AUTHORIZED", "check_token"),
        ("/v1/Stripe-Connect", "get_connect"),
        ("/v1/Organizations/{org}/Stripe-Connect/Account", "get_account"),
    ],
)
def test_paths_match_in_any_letter_case(sandbox, api, org_id, connect_account, path, operation):
    response = api.get(path.format(org=org_id))
    assert response.status_code == 200, response.text
    assert sandbox.requests()[-1].operation == operation


@pytest.mark.unit
def test_document_paths_match_in_any_letter_case(sandbox, anon, invoice):
    for prefix in ("/v1/Documents", "/v1/documents", "/V1/DOCUMENTS"):
        response = anon.get(f"{prefix}/{invoice.shareable_id}/stripe-connect/payment-intent")
        assert response.status_code == 422  # found (not 404), but not payable before onboarding
    assert sandbox.count("get_payment_intent") == 3


# -- Stripe Connect config -------------------------------------------------------------------------


@pytest.mark.unit
def test_connect_config_is_404_until_connect_is_enabled(api):
    error = error_of(api.get("/v1/stripe-connect"), 404)
    assert error["name"] == "NotFoundError" and error["code"] == "ENTITY_NOT_FOUND"


@pytest.mark.unit
def test_enabling_connect_returns_the_config_with_server_set_fields(api, account, connect_body):
    response = api.post("/v1/stripe-connect", json=connect_body)
    assert response.status_code == 200
    config = response.json()
    assert {key: config[key] for key in connect_body} == connect_body
    assert OBJECT_ID.match(config["id"]) and config["accountId"] == account.id
    assert config["webhookSecret"].startswith("whsec_")
    assert 0 <= config["spaceInvoicesFee"] <= 1
    assert config["active"] is True and config["custom"] == {}
    assert TIMESTAMP.match(config["createdAt"]) and config["updatedAt"] == config["createdAt"]
    assert api.get("/v1/stripe-connect").json() == config


@pytest.mark.unit
def test_enabling_connect_needs_only_the_two_keys(api):
    config = api.post("/v1/stripe-connect", json={"privateKey": "sk_test_x", "publicKey": "pk_test_x"}).json()
    assert config["active"] is True and "applicationFee" not in config and "returnUrl" not in config


@pytest.mark.unit
def test_enabling_connect_twice_is_422_already_exists(api, connect_enabled, connect_body):
    error = error_of(api.post("/v1/stripe-connect", json=connect_body), 422)
    assert error["name"] == "UnprocessableEntityError" and error["code"] == "STRIPE_CONNECT_ALREADY_EXISTS"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"privateKey": None}, "", "required"),
        ({"publicKey": None}, "", "required"),
        ({"applicationFee": 100}, "/applicationFee", "maximum"),
        ({"applicationFee": -0.5}, "/applicationFee", "minimum"),
        ({"applicationFee": "1"}, "/applicationFee", "type"),
        ({"applicationFee": True}, "/applicationFee", "type"),
        ({"returnUrl": "not a url"}, "/returnUrl", "format"),
        ({"refreshUrl": "https://"}, "/refreshUrl", "format"),
        ({"active": "yes"}, "/active", "type"),
        ({"custom": "x"}, "/custom", "type"),
        ({"privateKey": 42}, "/privateKey", "type"),
        ({"webhookSecret": "whsec_mine"}, "", "additionalProperties"),
        ({"unknown": 1}, "", "additionalProperties"),
    ],
)
def test_invalid_connect_bodies_get_422_with_details(api, connect_body, change, path, code):
    body = {**connect_body, **change}
    body = {key: value for key, value in body.items() if value is not None}
    error = error_of(api.post("/v1/stripe-connect", json=body), 422)
    assert error["code"] == "VALIDATION_FAILED"
    assert [(d["path"], d["code"]) for d in error["details"]] == [(path, code)]
    assert all(d["message"] for d in error["details"])


@pytest.mark.unit
def test_a_body_that_is_not_an_object_gets_422(api):
    error = error_of(api.post("/v1/stripe-connect", json=["privateKey"]), 422)
    assert error["details"] == [{"path": "", "code": "type", "message": "must be object", "info": {"type": "object"}}]


@pytest.mark.unit
def test_changing_the_config_answers_204_with_an_empty_body(api, connect_enabled):
    time.sleep(0.002)  # so that updatedAt moves
    response = api.patch("/v1/stripe-connect", json={"applicationFee": 2, "active": False, "custom": {"a": 1}})
    assert response.status_code == 204 and response.content == b""
    config = api.get("/v1/stripe-connect").json()
    assert (config["applicationFee"], config["active"], config["custom"]) == (2, False, {"a": 1})
    assert config["createdAt"] == connect_enabled["createdAt"] and config["updatedAt"] > config["createdAt"]


@pytest.mark.unit
def test_changing_the_config_before_enabling_is_404(api):
    assert error_of(api.patch("/v1/stripe-connect", json={"active": False}), 404)["code"] == "ENTITY_NOT_FOUND"


@pytest.mark.unit
def test_changing_the_config_validates_the_body(api, connect_enabled):
    error = error_of(api.patch("/v1/stripe-connect", json={"applicationFee": 120}), 422)
    assert error["details"][0]["path"] == "/applicationFee"


# -- Stripe Connect accounts -----------------------------------------------------------------------


@pytest.mark.unit
def test_creating_an_organization_account_returns_the_record(sandbox, org_id, connect_enabled, connect_account):
    assert OBJECT_ID.match(connect_account["id"])
    assert connect_account["stripeAccountId"].startswith("acct_")
    assert connect_account["stripeConnectId"] == connect_enabled["id"]
    assert connect_account["organizationId"] == org_id
    assert connect_account["chargesEnabled"] is False and connect_account["active"] is True
    assert TIMESTAMP.match(connect_account["createdAt"])
    assert sandbox.store.count_org_accounts(org_id) == 1


@pytest.mark.unit
def test_an_account_can_be_created_inactive(api, org_id, connect_enabled):
    response = api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={"active": False})
    assert response.json()["active"] is False


@pytest.mark.unit
def test_reading_the_organization_account_returns_it(api, org_id, connect_account):
    response = api.get(f"/v1/organizations/{org_id}/stripe-connect/account")
    assert response.status_code == 200 and response.json() == connect_account


@pytest.mark.unit
def test_the_organization_account_is_404_until_created(api, org_id, connect_enabled):
    error = error_of(api.get(f"/v1/organizations/{org_id}/stripe-connect/account"), 404)
    assert error["code"] == "ENTITY_NOT_FOUND"


@pytest.mark.unit
def test_creating_an_account_before_connect_is_enabled_is_422(api, org_id):
    error = error_of(api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={}), 422)
    assert error["code"] == "STRIPE_CONNECT_NOT_ENABLED"


@pytest.mark.unit
def test_creating_an_account_twice_is_422_and_keeps_one(sandbox, api, org_id, connect_account):
    error = error_of(api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={}), 422)
    assert error["code"] == "STRIPE_CONNECT_ACCOUNT_ALREADY_EXISTS"
    assert sandbox.store.count_org_accounts(org_id) == 1


@pytest.mark.unit
@pytest.mark.parametrize("unknown", ["0123456789abcdef01234567", "not-an-id"])
def test_an_unknown_organization_is_404(api, connect_enabled, unknown):
    for method in ("GET", "POST"):
        error = error_of(api.request(method, f"/v1/organizations/{unknown}/stripe-connect/account", json={}), 404)
        assert error["code"] == "ENTITY_NOT_FOUND" and "Organization" in error["message"]


@pytest.mark.unit
def test_creating_an_account_validates_the_body(api, org_id, connect_enabled):
    error = error_of(api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={"active": 1}), 422)
    assert error["details"][0]["path"] == "/active"


@pytest.mark.unit
def test_changing_an_account_answers_204_and_changes_active(sandbox, api, org_id, connect_account):
    response = api.patch(f"/v1/stripe-connect/accounts/{connect_account['id']}", json={"active": False})
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/v1/organizations/{org_id}/stripe-connect/account").json()["active"] is False
    assert sandbox.store.org_account(org_id)["active"] is False


@pytest.mark.unit
def test_changing_an_unknown_account_is_404(api, connect_enabled):
    error = error_of(api.patch("/v1/stripe-connect/accounts/0123456789abcdef01234567", json={"active": True}), 404)
    assert error["code"] == "ENTITY_NOT_FOUND"


# -- Accounts are kept apart ---------------------------------------------------------------------------


@pytest.mark.unit
def test_another_accounts_token_gets_401_on_organization_and_record_ids(sandbox, http, org_id, connect_account):
    other = sandbox.create_account(email="intruder@example.com")
    intruder = http(other.token)
    intruder.post("/v1/stripe-connect", json={"privateKey": "sk_test_o", "publicKey": "pk_test_o"})
    calls = [
        ("GET", f"/v1/organizations/{org_id}/stripe-connect/account"),
        ("POST", f"/v1/organizations/{org_id}/stripe-connect/account"),
        ("POST", f"/v1/organizations/{org_id}/stripe-connect/account/link"),
        ("GET", f"/v1/organizations/{org_id}/stripe-connect/account/link"),
        ("PATCH", f"/v1/stripe-connect/accounts/{connect_account['id']}"),
    ]
    for method, path in calls:
        error = error_of(intruder.request(method, path, json={"active": False}), 401)
        assert error["code"] == "AUTHORIZATION_REQUIRED"
    assert sandbox.store.org_account(org_id)["active"] is True


@pytest.mark.unit
def test_each_account_sees_only_its_own_connect_config(sandbox, http, api, connect_enabled):
    other = http(sandbox.create_account(email="other@example.com").token)
    error_of(other.get("/v1/stripe-connect"), 404)
    mine = other.post("/v1/stripe-connect", json={"privateKey": "sk_test_other", "publicKey": "pk_test_other"})
    assert mine.json()["id"] != connect_enabled["id"]
    assert api.get("/v1/stripe-connect").json() == connect_enabled


# -- Onboarding links ------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_the_onboarding_link_is_served_on_post_and_get(sandbox, api, org_id, connect_account, method):
    urls = {api.request(method, f"/v1/organizations/{org_id}/stripe-connect/account/link").json()["url"]
            for _ in range(2)}
    assert len(urls) == 2  # a new single-use link each time
    assert all(url.startswith(f"{sandbox.url}/sandbox/onboarding/") for url in urls)
    assert sandbox.count("create_link", method=method) == 2


@pytest.mark.unit
def test_an_onboarding_link_before_the_account_exists_is_422(api, org_id, connect_enabled):
    error = error_of(api.post(f"/v1/organizations/{org_id}/stripe-connect/account/link", json={}), 422)
    assert error["code"] == "STRIPE_CONNECT_ACCOUNT_NOT_FOUND"


@pytest.mark.unit
@pytest.mark.parametrize(("allowed", "refused"), [("GET", "POST"), ("POST", "GET")])
def test_a_disallowed_link_verb_gets_405(sandbox, api, org_id, connect_account, allowed, refused):
    sandbox.set_link_methods({allowed}, disallowed="405")
    path = f"/v1/organizations/{org_id}/stripe-connect/account/link"
    response = api.request(refused, path)
    error = error_of(response, 405)
    assert error["name"] == "MethodNotAllowedError" and response.headers["Allow"] == allowed
    assert api.request(allowed, path).status_code == 200
    assert [(r.method, r.status) for r in sandbox.requests(operation="create_link")] == [(refused, 405), (allowed, 200)]


@pytest.mark.unit
def test_a_disallowed_link_verb_can_get_a_route_level_404(sandbox, api, org_id, connect_account):
    sandbox.set_link_methods({"GET"}, disallowed="404")
    path = f"/v1/organizations/{org_id}/stripe-connect/account/link"
    error = error_of(api.post(path, json={}), 404)
    assert error == {"statusCode": 404, "name": "NotFoundError", "message": f'Endpoint "POST {path}" not found.',
                     "code": "ENDPOINT_NOT_FOUND"}
    assert api.get(path).status_code == 200


@pytest.mark.unit
@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nothing-here"), ("DELETE", "/v1/stripe-connect"),
                                              ("GET", "/v1/stripe-connect/"), ("PUT", "/sandbox/pay/x")])
def test_unknown_routes_get_loopbacks_route_level_404(sandbox, api, method, path):
    error = error_of(api.request(method, path), 404)
    assert error["code"] == "ENDPOINT_NOT_FOUND" and error["message"] == f'Endpoint "{method} {path}" not found.'
    assert sandbox.requests()[-1].operation == "unknown"


# -- Onboarding pages -----------------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_onboarding_page_names_the_organization_and_offers_the_button(link_url):
    page = requests.get(link_url, timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Stripe Connect onboarding (sandbox)</title>" in page.text
    assert "Acme d.o.o." in page.text
    assert re.search(r'<button id="complete-onboarding"[^>]*>Complete onboarding</button>', page.text)


@pytest.mark.unit
def test_completing_onboarding_enables_charges_and_redirects_to_the_return_url(
    sandbox, api, org_id, connect_body, link_url
):
    response = requests.post(link_url, allow_redirects=False, timeout=10)
    assert response.status_code == 303 and response.headers["Location"] == connect_body["returnUrl"]
    account = api.get(f"/v1/organizations/{org_id}/stripe-connect/account").json()
    assert account["chargesEnabled"] is True
    assert sandbox.count("page_onboarding", method="POST") == 1


@pytest.mark.unit
def test_a_used_link_redirects_to_the_refresh_url(connect_body, link_url):
    requests.post(link_url, allow_redirects=False, timeout=10)
    for method in ("GET", "POST"):
        response = requests.request(method, link_url, allow_redirects=False, timeout=10)
        assert response.status_code == 303 and response.headers["Location"] == connect_body["refreshUrl"]


@pytest.mark.unit
def test_an_expired_link_redirects_to_the_refresh_url_and_changes_nothing(sandbox, org_id, connect_body, link_url):
    sandbox.set_link_expiry(0)
    for method in ("GET", "POST"):
        response = requests.request(method, link_url, allow_redirects=False, timeout=10)
        assert response.status_code == 303 and response.headers["Location"] == connect_body["refreshUrl"]
    assert sandbox.store.org_account(org_id)["charges_enabled"] is False


@pytest.mark.unit
def test_an_unknown_link_is_a_404_page(sandbox):
    response = requests.get(f"{sandbox.url}/sandbox/onboarding/no-such-link", timeout=10)
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")


# -- Payment -------------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_payment_intent_is_refused_before_onboarding(anon, invoice, connect_account):
    error = error_of(anon.get(f"/v1/documents/{invoice.shareable_id}/stripe-connect/payment-intent"), 422)
    assert error["code"] == "STRIPE_CONNECT_NOT_ONBOARDED"


@pytest.mark.unit
def test_the_payment_intent_needs_no_token_once_onboarded(sandbox, anon, org_id, invoice, connect_body,
                                                          connect_account):
    sandbox.store.set_charges_enabled(org_id, True)
    response = anon.get(f"/v1/documents/{invoice.shareable_id}/stripe-connect/payment-intent")
    assert response.status_code == 200
    intent = response.json()
    assert intent["publicKey"] == connect_body["publicKey"]
    assert intent["amount"] == 1250.0 and intent["currencyId"] == "EUR"
    assert re.match(r"^pi_\w+$", intent["paymentIntentId"])
    assert intent["clientSecret"].startswith(intent["paymentIntentId"] + "_secret_")
    again = anon.get(f"/v1/documents/{invoice.shareable_id}/stripe-connect/payment-intent").json()
    assert again["paymentIntentId"] == intent["paymentIntentId"]
    assert sandbox.requests(operation="get_payment_intent")[-1].account_id is None


@pytest.mark.unit
@pytest.mark.parametrize("inactive", ["config", "account"])
def test_the_payment_intent_is_refused_when_connect_is_inactive(sandbox, anon, account, org_id, invoice,
                                                               connect_account, inactive):
    sandbox.store.set_charges_enabled(org_id, True)
    if inactive == "config":
        sandbox.store.update_connect(account.id, active=False)
    else:
        sandbox.store.update_org_account(connect_account["id"], active=False)
    error = error_of(anon.get(f"/v1/documents/{invoice.shareable_id}/stripe-connect/payment-intent"), 422)
    assert error["code"] == "STRIPE_CONNECT_NOT_ONBOARDED"


@pytest.mark.unit
def test_the_payment_intent_of_an_unknown_document_is_404(anon):
    error_of(anon.get("/v1/documents/no-such-document/stripe-connect/payment-intent"), 404)


@pytest.mark.unit
def test_the_pay_page_marks_the_invoice_paid(sandbox, anon, org_id, invoice, connect_account):
    sandbox.store.set_charges_enabled(org_id, True)
    page = requests.get(f"{sandbox.url}/sandbox/pay/{invoice.shareable_id}", timeout=10)
    assert page.status_code == 200
    assert invoice.number in page.text and "1,250.00" in page.text and "EUR" in page.text
    assert re.search(r'<button id="pay-now"[^>]*>Pay now</button>', page.text)

    paid = requests.post(f"{sandbox.url}/sandbox/pay/{invoice.shareable_id}", timeout=10)
    assert paid.status_code == 200 and '<p id="payment-status" class="status">Paid</p>' in paid.text
    assert sandbox.store.invoice(invoice.shareable_id)["paid"] is True
    error = error_of(anon.get(f"/v1/documents/{invoice.shareable_id}/stripe-connect/payment-intent"), 422)
    assert error["code"] == "DOCUMENT_ALREADY_PAID"


@pytest.mark.unit
def test_the_pay_page_refuses_before_onboarding(sandbox, invoice, connect_account):
    page = requests.get(f"{sandbox.url}/sandbox/pay/{invoice.shareable_id}", timeout=10)
    assert page.status_code == 200 and "pay-now" not in page.text
    refused = requests.post(f"{sandbox.url}/sandbox/pay/{invoice.shareable_id}", timeout=10)
    assert refused.status_code == 422
    assert sandbox.store.invoice(invoice.shareable_id)["paid"] is False


# -- Rate limit -------------------------------------------------------------------------------------------


@pytest.mark.sandbox
def test_the_rate_limit_answers_429_with_retry_after(sandbox, api):
    sandbox.set_rate_limit(5)
    statuses = [api.get("/v1/Accounts/authorized") for _ in range(12)]
    assert [r.status_code for r in statuses[:5]] == [200] * 5
    refused = [r for r in statuses if r.status_code == 429]
    assert len(refused) >= 5  # a loopback burst of 12 takes far less than the 1 s window
    error = error_of(refused[0], 429)
    assert error["name"] == "TooManyRequestsError" and error["code"] == "TOO_MANY_REQUESTS"
    assert refused[0].headers["Retry-After"] == "1"
    time.sleep(1.0)
    assert api.get("/v1/Accounts/authorized").status_code == 200


@pytest.mark.unit
def test_the_rate_limit_is_per_token(sandbox, http, api):
    sandbox.set_rate_limit(3)
    for _ in range(4):
        api.get("/v1/Accounts/authorized")
    assert api.get("/v1/Accounts/authorized").status_code == 429
    other = http(sandbox.create_account().token)
    assert other.get("/v1/Accounts/authorized").status_code == 200


@pytest.mark.unit
def test_the_default_limit_is_100_per_second_and_can_be_switched_off(sandbox, api):
    assert sandbox.settings.rate_limit == 100
    sandbox.set_rate_limit(None)
    assert all(api.get("/v1/Accounts/authorized").status_code == 200 for _ in range(120))


# -- Faults ---------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_fail_next_answers_the_status_for_count_calls_then_recovers(sandbox, api):
    sandbox.fail_next("get_connect", status=503, count=2)
    responses = [api.get("/v1/stripe-connect") for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 503, 404]
    assert responses[0].json() == {"error": {"statusCode": 503, "name": "ServiceUnavailableError"}}
    assert [(r.status, r.fault) for r in sandbox.requests()] == [(503, "error"), (503, "error"), (404, None)]


@pytest.mark.unit
def test_an_injected_429_carries_retry_after(sandbox, api):
    sandbox.fail_next("check_token", status=429, retry_after=2)
    response = api.get("/v1/Accounts/authorized")
    assert error_of(response, 429)["name"] == "TooManyRequestsError" and response.headers["Retry-After"] == "2"


@pytest.mark.unit
def test_faults_can_target_a_method_and_path_pattern(sandbox, api, connect_enabled):
    sandbox.fail_next(None, status=500, path=r"^/v1/stripe-connect$", method="PATCH")
    assert api.get("/v1/stripe-connect").status_code == 200
    assert api.patch("/v1/stripe-connect", json={}).status_code == 500
    assert api.patch("/v1/stripe-connect", json={}).status_code == 204


@pytest.mark.unit
def test_a_dropped_connection_is_a_connection_error_and_does_no_work(sandbox, api, org_id, connect_enabled):
    sandbox.drop_next("create_account")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={})
    assert sandbox.store.org_account(org_id) is None
    record = sandbox.requests(operation="create_account")[-1]
    assert (record.status, record.fault) == (None, "drop")
    assert api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={}).status_code == 200


@pytest.mark.unit
def test_a_lost_answer_is_a_connection_error_after_the_work_is_done(sandbox, api, org_id, connect_enabled):
    sandbox.lose_response_next("create_account")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={})
    assert sandbox.store.count_org_accounts(org_id) == 1
    record = sandbox.requests(operation="create_account")[-1]
    assert (record.status, record.fault) == (200, "lose_response")


@pytest.mark.unit
def test_a_session_keeps_working_after_its_connection_was_dropped(sandbox, api):
    assert api.get("/v1/Accounts/authorized").status_code == 200  # a pooled keep-alive connection
    sandbox.drop_next("check_token")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/v1/Accounts/authorized")
    assert api.get("/v1/Accounts/authorized").status_code == 200


@pytest.mark.unit
def test_latency_delays_the_targeted_operation(sandbox, api):
    sandbox.set_latency(0.3, operation="check_token")
    started = time.monotonic()
    api.get("/v1/Accounts/authorized")
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    api.get("/v1/stripe-connect")
    assert time.monotonic() - started < 0.25


@pytest.mark.unit
def test_clear_faults_removes_rules_and_latency(sandbox, api):
    sandbox.fail_next(None, status=500, count=5)
    sandbox.set_latency(1.0)
    sandbox.clear_faults()
    started = time.monotonic()
    assert api.get("/v1/Accounts/authorized").status_code == 200
    assert time.monotonic() - started < 0.5


@pytest.mark.unit
def test_a_request_in_flight_during_a_reset_leaves_no_trace_after_it(sandbox, http, account):
    sandbox.set_latency(0.3)
    slow = threading.Thread(target=http(account.token).get, args=("/v1/Accounts/authorized",))
    slow.start()
    time.sleep(0.1)  # it has arrived and waits out its latency
    sandbox.reset()
    sandbox.fail_next("check_token", status=500)
    slow.join()
    assert sandbox.requests() == []
    assert http(account.token).get("/v1/Accounts/authorized").status_code == 500  # the fault was not used up


@pytest.mark.unit
def test_unknown_fault_targets_are_refused(sandbox):
    with pytest.raises(ValueError, match="unknown operation"):
        sandbox.fail_next("get_everything")
    with pytest.raises(ValueError):
        sandbox.fail_next("get_connect", status=200)


# -- Secrets -----------------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("full", {"privateKey": "sk_test_51SandboxPrivateKey0000wxyz",
                  "connectWebhookSecret": "whsec_SandboxConnectSecret0000efgh"}),
        ("masked", {"privateKey": "sk_test_****wxyz", "connectWebhookSecret": "whsec_****efgh"}),
        ("omitted", {}),
    ],
)
def test_secrets_come_back_full_masked_or_omitted(sandbox, api, connect_body, mode, expected):
    sandbox.set_secrets_mode(mode)
    for response in (api.post("/v1/stripe-connect", json=connect_body), api.get("/v1/stripe-connect")):
        config = response.json()
        secrets = {key: config[key] for key in ("privateKey", "connectWebhookSecret") if key in config}
        assert secrets == expected
        assert ("webhookSecret" in config) is (mode != "omitted")
        assert config["publicKey"] == connect_body["publicKey"]  # publishable: never hidden
    if mode == "masked":
        assert re.match(r"^whsec_\*\*\*\*\w{4}$", config["webhookSecret"])
    assert sandbox.store.connect_config(config["accountId"])["private_key"] == connect_body["privateKey"]


# -- Request log ---------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_log_counts_calls_per_operation_and_method(sandbox, api, account, org_id, connect_account):
    api.get(f"/v1/organizations/{org_id}/stripe-connect/account/link")
    api.post(f"/v1/organizations/{org_id}/stripe-connect/account/link")
    assert sandbox.count("enable_connect") == 1 and sandbox.count("create_account") == 1
    assert sandbox.count("create_link") == 2 and sandbox.count("create_link", method="GET") == 1
    record = sandbox.requests(operation="create_account")[0]
    assert record.method == "POST" and record.status == 200 and record.account_id == account.id
    assert record.path == f"/v1/organizations/{org_id}/stripe-connect/account"
    sandbox.clear_requests()
    assert sandbox.requests() == []


@pytest.mark.unit
def test_the_log_never_holds_tokens_or_secret_values(sandbox, api, account, connect_body):
    api.post("/v1/stripe-connect", json=connect_body)
    api.get("/v1/stripe-connect")
    requests.get(f"{sandbox.url}/v1/Accounts/authorized", headers={"Authorization": "Bearer leaked-token"}, timeout=10)
    logged = repr(sandbox.requests()) + requests.get(f"{sandbox.url}/_sandbox/requests", timeout=10).text
    config = sandbox.store.connect_config(account.id)
    for secret in (account.token, "leaked-token", connect_body["privateKey"], connect_body["connectWebhookSecret"],
                   config["webhook_secret"]):
        assert secret not in logged


@pytest.mark.unit
def test_every_response_carries_the_request_id_of_its_log_record(sandbox, api):
    response = api.get("/v1/stripe-connect")
    assert response.headers["X-Request-Id"] == sandbox.requests()[-1].request_id


# -- Bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_malformed_json_is_400(api):
    error = error_of(api.post("/v1/stripe-connect", data=b'{"privateKey": ', headers={"Content-Type": "application/json"}), 400)
    assert error["name"] == "BadRequestError"


@pytest.mark.unit
def test_a_body_over_64_kib_is_413(api, org_id):
    body = {"privateKey": "sk_test_x", "publicKey": "pk_test_x", "custom": {"blob": "x" * (70 * 1024)}}
    assert error_of(api.post("/v1/stripe-connect", json=body), 413)["name"] == "PayloadTooLargeError"
    path = f"/v1/organizations/{org_id}/stripe-connect/account"
    huge = b"x" * (2 * 1024 * 1024)
    error_of(api.post(path, data=huge, headers={"Content-Type": "application/json"}), 413)
    chunked = (b"x" * 8192 for _ in range(32))  # no Content-Length: the limit applies while reading
    error_of(api.post(path, data=chunked, headers={"Content-Type": "application/json"}), 413)
    assert api.get("/v1/Accounts/authorized").status_code == 200  # the connection is still usable


@pytest.mark.unit
def test_a_body_that_is_not_json_is_415(api):
    error_of(api.post("/v1/stripe-connect", data="privateKey=x", headers={"Content-Type": "text/plain"}), 415)


@pytest.mark.unit
@pytest.mark.parametrize(
    "raw",
    [b"NaN", b'{"applicationFee": NaN}', b'{"applicationFee": 1e999}', b"\xff\xfe", b'"text"', b"[]", b"null",
     b'{"a":' * 50, b"[" * 100_000, b'{"privateKey": "\\ud800", "publicKey": "x"}',
     b'{"privateKey": "k", "publicKey": "p", "custom": {"a": [1, {"b": null}]}, "returnUrl": "http://[::1"}'],
)
def test_garbage_bodies_get_a_4xx_never_a_500(api, org_id, raw):
    calls = [("POST", "/v1/stripe-connect"), ("PATCH", "/v1/stripe-connect"),
             ("POST", f"/v1/organizations/{org_id}/stripe-connect/account")]
    for method, path in calls:
        response = api.request(method, path, data=raw, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (method, path, response.status_code, response.text)


# -- Admin API ----------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_admin_api_seeds_data_for_other_processes(sandbox):
    admin = f"{sandbox.url}/_sandbox"
    account = requests.post(f"{admin}/accounts", json={"email": "script@example.com"}, timeout=10).json()
    org = requests.post(f"{admin}/accounts/{account['id']}/organizations", json={"name": "Shop"}, timeout=10).json()
    invoice = requests.post(f"{admin}/organizations/{org['id']}/invoices", json={"amount": 99.5}, timeout=10).json()
    assert OBJECT_ID.match(org["id"]) and invoice["amount"] == 99.5 and invoice["currency"] == "EUR"
    auth = {"Authorization": account["token"]}
    assert requests.get(f"{sandbox.url}/v1/Accounts/authorized", headers=auth, timeout=10).status_code == 200
    assert requests.get(f"{admin}/invoices/{invoice['shareableId']}", timeout=10).json()["paid"] is False
    demo = requests.post(f"{admin}/demo", timeout=10).json()
    assert demo == requests.post(f"{admin}/demo", timeout=10).json()
    assert demo["token"] == sandbox.seed_demo().token


@pytest.mark.unit
def test_the_admin_api_reads_the_log_and_switches_faults_and_settings(sandbox, api):
    admin = f"{sandbox.url}/_sandbox"
    api.get("/v1/stripe-connect")
    records = requests.get(f"{admin}/requests", params={"operation": "get_connect"}, timeout=10).json()["requests"]
    assert [(r["operation"], r["status"]) for r in records] == [("get_connect", 404)]

    assert requests.post(f"{admin}/faults", json={"kind": "error", "operation": "get_connect", "status": 502},
                         timeout=10).status_code == 204
    assert api.get("/v1/stripe-connect").status_code == 502
    requests.post(f"{admin}/faults", json={"kind": "drop", "operation": "get_connect"}, timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get("/v1/stripe-connect")

    settings = requests.patch(f"{admin}/settings", json={"secrets": "masked", "linkMethods": ["get"],
                                                         "linkDisallowed": "404", "rateLimit": 0}, timeout=10).json()
    assert settings == {"secrets": "masked", "linkMethods": ["GET"], "linkDisallowed": "404", "rateLimit": None,
                        "linkExpirySeconds": 300.0}
    assert sandbox.settings.secrets == "masked"
    bad = requests.patch(f"{admin}/settings", json={"secrets": "half"}, timeout=10)
    assert error_of(bad, 422)["code"] == "INVALID_SANDBOX_REQUEST"

    assert requests.post(f"{admin}/reset", timeout=10).status_code == 204
    assert sandbox.settings.secrets == "full" and sandbox.requests() == []


@pytest.mark.unit
def test_admin_calls_are_not_logged_rate_limited_or_faulted(sandbox):
    sandbox.set_rate_limit(1)
    sandbox.fail_next(None, status=500, count=10)
    for _ in range(5):
        assert requests.get(f"{sandbox.url}/_sandbox/settings", timeout=10).status_code == 200
    assert sandbox.requests() == []


# -- Server --------------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_two_hundred_concurrent_requests_are_all_answered(sandbox, http, api, org_id, connect_account):
    sandbox.set_rate_limit(None)
    sessions = [http(api.headers["Authorization"]) for _ in range(50)]
    paths = ["/v1/stripe-connect", f"/v1/organizations/{org_id}/stripe-connect/account", "/v1/Accounts/authorized"]

    def call(i: int) -> int:
        return sessions[i % len(sessions)].get(paths[i % len(paths)]).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(call, range(200)))
    assert statuses == [200] * 200
    assert len(sandbox.requests()) == 200 + 2  # plus the two fixture calls


@pytest.mark.unit
def test_a_sandbox_starts_fast_on_a_free_port_and_stops_without_leaking_threads():
    before = set(threading.enumerate())
    started = time.monotonic()
    with run_sandbox(rate_limit=None) as sb:
        assert time.monotonic() - started < 1.0
        assert re.match(r"^http://127\.0\.0\.1:\d+$", sb.url)
        assert requests.get(f"{sb.url}/v1/Accounts/authorized", timeout=10).status_code == 401
    assert set(threading.enumerate()) <= before
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{sb.url}/v1/Accounts/authorized", timeout=2)


@pytest.mark.unit
def test_a_file_database_keeps_data_and_the_demo_token_across_restarts(tmp_path: Path):
    db = str(tmp_path / "sandbox.sqlite3")
    with Sandbox(db=db) as first:
        demo = first.seed_demo()
        first.store.set_meta("marker", "kept")
    with run_sandbox(db=db) as second:
        assert second.seed_demo() == demo
        assert second.store.meta("marker") == "kept"
        auth = {"Authorization": demo.token}
        assert requests.get(f"{second.url}/v1/Accounts/authorized", headers=auth, timeout=10).status_code == 200


@pytest.mark.sandbox
def test_the_command_line_prints_a_working_token_and_keeps_it_across_restarts(tmp_path: Path):
    database = str(tmp_path / "cli.db")
    with _command_line("--db", database) as banner:
        url = re.search(r"^export SPACEINVOICES_API_URL=(\S+)$", banner, re.M).group(1)
        token = re.search(r"^export SPACEINVOICES_ACCESS_TOKEN=(\S+)$", banner, re.M).group(1)
        org = re.search(r"organization id:\s+([0-9a-f]{24})", banner).group(1)
        headers = {"Authorization": token}
        assert requests.get(f"{url}/v1/Accounts/authorized", headers=headers, timeout=10).status_code == 200
        response = requests.get(f"{url}/v1/organizations/{org}/stripe-connect/account", headers=headers, timeout=10)
        assert error_of(response, 404)["code"] == "ENTITY_NOT_FOUND"  # the demo's own organization, no account yet
    with _command_line("--db", database) as again:
        assert f"export SPACEINVOICES_ACCESS_TOKEN={token}\n" in again and org in again


@pytest.mark.sandbox
def test_the_sandbox_loads_without_pulumi_and_the_package_without_the_sandbox():
    code = (
        "import sys, pulumi_spaceinvoices\n"
        "assert not {'fastapi', 'uvicorn', 'pulumi_spaceinvoices.sandbox'} & set(sys.modules)\n"
        "import pulumi_spaceinvoices.sandbox\n"
        "assert 'pulumi' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


@contextmanager
def _command_line(*args: str) -> Iterator[str]:
    """Run `python -m pulumi_spaceinvoices.sandbox` on a free port; yields its banner, then stops it
    with SIGTERM and checks that it exits cleanly."""
    command = [sys.executable, "-m", "pulumi_spaceinvoices.sandbox", "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        yield _read_until(process, "Press Ctrl-C", timeout=15)
    finally:
        process.terminate()
        # A generous bound: on a loaded machine a clean exit can be slow; what counts is that it is clean.
        assert process.wait(timeout=60) == 0


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """The process's output up to the line holding `marker` (read in a thread, so a silent or
    crashed process fails the test instead of hanging it)."""
    lines: list[str] = []
    found = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if marker in line:
                break
        found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(timeout) or marker not in "".join(lines):
        process.kill()
        stderr = process.stderr.read() if process.stderr else ""
        raise AssertionError(f"no {marker!r} within {timeout} s; output: {''.join(lines)!r} {stderr!r}")
    return "".join(lines)
