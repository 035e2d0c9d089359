"""The sandbox as a server (ARCHITECTURE.md, The sandbox and Targets): over real HTTP on loopback, every
authenticated operation refuses a missing, unknown or other account's token and does nothing;
malformed and oversized bodies get a 4xx on every endpoint that takes a body, never a 500; and a
short, bounded load test shows the rate limit holds under concurrent connections without errors.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_spaceinvoices.sandbox.wire import MAX_BODY_BYTES

PROPERTY = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # with {org}, {record}, {link}, {sid}, {account} placeholders
    json_body: bool = True  # the endpoint parses a JSON body (pages ignore theirs)


@pytest.fixture
def objects(sandbox, account, api, org_id, connect_body) -> dict[str, str]:
    """The account's Connect config, its organization's account, a link and an invoice."""
    assert api.post("/v1/stripe-connect", json=connect_body).status_code == 200
    record = api.post(f"/v1/organizations/{org_id}/stripe-connect/account", json={}).json()["id"]
    link = api.post(f"/v1/organizations/{org_id}/stripe-connect/account/link", json={}).json()["url"]
    invoice = sandbox.create_invoice(org_id)
    return {"org": org_id, "record": record, "link": link.rsplit("/", 1)[1], "sid": invoice.shareable_id,
            "account": account.id}


def _snapshot(sandbox, account, objects: dict[str, str]) -> tuple[Any, ...]:
    link = sandbox.store.link(objects["link"])
    return (sandbox.store.connect_config(account.id), sandbox.store.org_account(objects["org"]),
            sandbox.store.count_org_accounts(objects["org"]), link["used"])


# -- Tokens ----------------------------------------------------------------------------------------------

AUTHENTICATED = [
    Call("GET", "/v1/Accounts/authorized"),
    Call("GET", "/v1/stripe-connect"),
    Call("POST", "/v1/stripe-connect"),
    Call("PATCH", "/v1/stripe-connect"),
    Call("GET", "/v1/organizations/{org}/stripe-connect/account"),
    Call("POST", "/v1/organizations/{org}/stripe-connect/account"),
    Call("PATCH", "/v1/stripe-connect/accounts/{record}"),
    Call("POST", "/v1/organizations/{org}/stripe-connect/account/link"),
    Call("GET", "/v1/organizations/{org}/stripe-connect/account/link"),
]


def valid_body(call: Call) -> dict[str, Any] | None:
    """A body the endpoint would accept, so that only the token decides."""
    if call.method == "GET" or call.path.endswith("/link"):
        return None
    if call.path.endswith("stripe-connect"):
        return {"privateKey": "sk_test_intruder0000", "publicKey": "pk_test_intruder0000", "applicationFee": 50}
    return {"active": False}


@pytest.mark.unit
@pytest.mark.parametrize("call", AUTHENTICATED, ids=lambda c: f"{c.method} {c.path}")
@pytest.mark.parametrize("credential", ["none", "unknown", "uppercased", "truncated", "other account"])
def test_a_call_without_this_accounts_token_is_refused_and_changes_nothing(sandbox, http, account, objects, call,
                                                                          credential):
    token = {
        "none": None, "unknown": "f" * 64, "uppercased": account.token.upper(), "truncated": account.token[:-1],
        "other account": sandbox.create_account(email="intruder@example.com").token,
    }[credential]
    before = _snapshot(sandbox, account, objects)
    sandbox.clear_requests()
    response = http(token).request(call.method, call.path.format(**objects), json=valid_body(call))
    if credential == "other account" and "{" not in call.path:
        # Account-level paths act on the caller's own account: never on this one.
        assert response.status_code in (200, 204, 404, 422), response.text
        if response.ok and call.path != "/v1/Accounts/authorized":
            assert response.json()["accountId"] != account.id
    else:
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] in ("AUTHORIZATION_REQUIRED", "INVALID_TOKEN")
    assert _snapshot(sandbox, account, objects) == before
    assert [r.account_id for r in sandbox.requests()] != [account.id]


@pytest.mark.unit
@PROPERTY
@given(token=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=80))
def test_any_other_token_is_refused(sandbox, http, account, token):
    if token == account.token:
        return
    response = http(token).get("/v1/stripe-connect")
    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_TOKEN"


# -- Bodies -------------------------------------------------------------------------------------------------------

WITH_BODIES = [
    Call("POST", "/v1/stripe-connect"),
    Call("PATCH", "/v1/stripe-connect"),
    Call("POST", "/v1/organizations/{org}/stripe-connect/account"),
    Call("PATCH", "/v1/stripe-connect/accounts/{record}"),
    Call("POST", "/v1/organizations/{org}/stripe-connect/account/link"),
    Call("POST", "/_sandbox/accounts"),
    Call("POST", "/_sandbox/accounts/{account}/organizations"),
    Call("POST", "/_sandbox/organizations/{org}/invoices"),
    Call("POST", "/_sandbox/faults"),
    Call("PATCH", "/_sandbox/settings"),
    Call("POST", "/sandbox/onboarding/{link}", json_body=False),
    Call("POST", "/sandbox/pay/{sid}", json_body=False),
]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "application/merge-patch+json",
                 "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "garbage/?"]


def _is_json(raw: bytes) -> bool:
    import json

    try:
        json.loads(raw.decode("utf-8"))
    except (UnicodeError, ValueError, RecursionError):
        return False
    return True


malformed = (
    st.binary(min_size=1, max_size=200)
    | st.text(max_size=100).map(str.encode)
    | st.sampled_from([b"{", b'{"a":', b"[1,", b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe{}", b"{'a': 1}",
                       b'{"a": "\\ud800"}', b'{"a": 1,}', b"[" * 5000 + b"]" * 5000, b"nul", b"\x00"])
).filter(lambda raw: raw.strip() != b"" and not _is_json(raw))


@pytest.mark.unit
@PROPERTY
@given(raw=malformed, content_type=st.sampled_from(CONTENT_TYPES))
def test_malformed_bodies_get_a_4xx_on_every_endpoint_never_a_500(sandbox, api, objects, raw, content_type):
    sandbox.set_rate_limit(None)  # the limit would answer before the body is read
    for call in WITH_BODIES:
        response = api.request(call.method, call.path.format(**objects), data=raw, allow_redirects=False,
                               headers={"Content-Type": content_type} if content_type else {})
        assert response.status_code < 500, (call, raw, response.status_code, response.text)
        if call.json_body:
            assert response.status_code >= 400, (call, raw, response.status_code, response.text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=15,
)
# Bodies for the admin switches stay non-objects: a valid fault or setting would change the sandbox.
SWITCHES = {"/_sandbox/faults", "/_sandbox/settings"}


@pytest.mark.unit
@PROPERTY
@given(body=json_values | st.dictionaries(st.sampled_from(["privateKey", "publicKey", "applicationFee", "active",
                                                             "refreshUrl", "returnUrl", "custom", "amount", "email",
                                                             "name", "currency", "number", "id"]), json_values))
def test_well_formed_json_of_any_shape_never_gets_a_500(sandbox, api, objects, body):
    sandbox.set_rate_limit(None)
    for call in WITH_BODIES:
        if call.path in SWITCHES and isinstance(body, dict):
            continue
        response = api.request(call.method, call.path.format(**objects), json=body, allow_redirects=False)
        assert response.status_code < 500, (call, body, response.status_code, response.text)
    assert [r for r in sandbox.requests() if r.status is None or r.status >= 500] == []


@pytest.mark.unit
@pytest.mark.parametrize("call", [c for c in WITH_BODIES if c.json_body], ids=lambda c: f"{c.method} {c.path}")
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_oversized_body_gets_413_on_every_endpoint_and_the_connection_survives(sandbox, api, objects, call,
                                                                                  framing):
    payload = b'{"blob": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    data: Any = payload if framing == "content-length" else (payload[i:i + 8192] for i in range(0, len(payload), 8192))
    response = api.request(call.method, call.path.format(**objects), data=data,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert api.get("/v1/Accounts/authorized").status_code == 200


# -- Load ----------------------------------------------------------------------------------------------------------------


def _busiest_second(timestamps: list[float], window: float) -> int:
    """The most timestamps that fall in any window of the given length."""
    timestamps, most, start = sorted(timestamps), 0, 0
    for end, stamp in enumerate(timestamps):
        while stamp - timestamps[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.sandbox
def test_a_bounded_loopback_load_test_is_held_to_the_rate_limit_without_errors(sandbox, http, account):
    limit = sandbox.settings.rate_limit
    sessions = [http(account.token) for _ in range(8)]
    stop_at, most_per_session = time.monotonic() + 2.5, 400

    def hammer(session) -> list[tuple[int, str | None]]:
        answers = []
        while time.monotonic() < stop_at and len(answers) < most_per_session:
            response = session.get("/v1/Accounts/authorized")  # a connection error fails the test
            answers.append((response.status_code, response.headers.get("Retry-After")))
        return answers

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        answers = [answer for batch in pool.map(hammer, sessions) for answer in batch]
    elapsed = time.monotonic() - started
    statuses = {status for status, _ in answers}
    assert statuses == {200, 429}, statuses  # over the limit, and nothing but answers or refusals
    assert all(retry_after and int(retry_after) >= 1 for status, retry_after in answers if status == 429)
    logged = sandbox.requests()
    assert len(logged) == len(answers)  # every request was answered and recorded
    accepted = [r.timestamp for r in logged if r.status == 200]
    assert _busiest_second(accepted, window=0.99) <= limit
    assert len(accepted) <= limit * (elapsed + 1)
    time.sleep(1.0)
    assert http(account.token).get("/v1/Accounts/authorized").status_code == 200  # it recovers
