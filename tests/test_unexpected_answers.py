"""Answers the client did not expect (ARCHITECTURE.md, Rules and Targets: clear errors, no secret in plain
text, ids validated), property-based: generated answers, served over real HTTP by a small local
server, to every client method, every provider operation and both functions.

Each outcome is a success with complete outputs, or a SpaceInvoicesError whose text, repr,
traceback and chained errors hold none of the canaries planted in the answers (secret-shaped ones,
which redaction would catch anyway, and plain ones, which only field-name-only errors keep out).
The answers, per operation:

- documented: every shape tests/data/stripe-connect-openapi.yaml allows (optional fields there or
  not, extra fields, secrets in full, masked or left out), with the ids the client needs. They are
  used: what they say reaches the result, secrets only where outputs are secret.
- mangled: a documented answer with one field removed, null, of the wrong type, an id that is not
  an ObjectId, or another organization than the one asked for. Tolerated where nothing depends on
  the field (complete outputs); otherwise an UnexpectedResponseError naming exactly that field.
- broken bodies: empty, an HTML page from a proxy, plain text, cut-off JSON, NaN and 1e400, invalid
  UTF-8, nesting deeper than the parser goes, JSON that is not an object, a body shorter than its
  Content-Length.
- other statuses: redirects, every error status with the API's error object, one of the wrong
  types, a proxy's page or nothing, reason phrases and request ids of any shape, Retry-After values
  that are not numbers.

Provider operations and functions get an answer (or two) per call they make, drawn from the same
classes; when every answer is documented the operation must succeed.
"""

from __future__ import annotations

import copy
import json
import re
import string
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timezone
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pydantic import ValidationError as PydanticValidationError

from pulumi_spaceinvoices import (
    APIConnectionError,
    APIError,
    NotFoundError,
    SpaceInvoicesClient,
    SpaceInvoicesError,
    UnexpectedResponseError,
    get_onboarding_link,
    get_payment_intent,
    models,
)
from pulumi_spaceinvoices import _functions as function_clients
from pulumi_spaceinvoices import client as client_module
from pulumi_spaceinvoices import core as provider_state
from pulumi_spaceinvoices import organization_connect_account as accounts_module
from pulumi_spaceinvoices import stripe_connect_config as config_module
from pulumi_spaceinvoices.errors import error_for_status
from pulumi_spaceinvoices.models import StripeConnectFields
from pulumi_spaceinvoices.organization_connect_account import OrganizationConnectAccountProvider
from pulumi_spaceinvoices.settings import CONFIG_API_URL, CONFIG_TOKEN
from pulumi_spaceinvoices.stripe_connect_config import StripeConnectConfigProvider
from tests.support import connect_inputs, serve_http

pytestmark = pytest.mark.unit

DOCUMENT = yaml.safe_load((Path(__file__).parent / "data" / "stripe-connect-openapi.yaml").read_text("utf-8"))
SCHEMAS = DOCUMENT["components"]["schemas"]

TOKEN = "tok-UNEXPECTEDanswers0123456789"
ORG = "644c214c6ee48100249d5d7a"
RECORD = "5f0c1e2d3a4b5c6d7e8f9012"
SHAREABLE = "share-UNEXPECTED"
CANARY = "CANARY"  # in every planted value: no error text may contain it
HEX = "0123456789abcdef"
ALNUM = string.ascii_letters + string.digits

CLIENT_RUNS = settings(max_examples=8, deadline=None, database=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PROVIDER_RUNS = settings(CLIENT_RUNS, max_examples=25)

# -- What the client needs from each answer (the models say why) ------------------------------------------

ANSWER_SCHEMA = {  # operation -> the document's schema of its 200 answer (None: a 204 with no body)
    "get_connect": "StripeConnect", "enable_connect": "StripeConnect", "update_connect": None,
    "get_account": "StripeConnectAccount", "create_account": "StripeConnectAccount", "update_account": None,
    "create_link": "OrganizationStripeConnectAccountLinkControllerGetStripeLinkResponse",
    "get_payment_intent": "StripeConnectPaymentIntent",
    "check_token": "AccountCheckAuthorizationAndReturnUserResponse",
}
# Fields without which an answer cannot be used, against what the document requires.
NEEDED = {
    "StripeConnect": {"publicKey"},
    "StripeConnectAccount": {"id"},
    "OrganizationStripeConnectAccountLinkControllerGetStripeLinkResponse": {"url"},
    "StripeConnectPaymentIntent": {"paymentIntentId", "clientSecret", "publicKey"},
    "AccountCheckAuthorizationAndReturnUserResponse": set(),
}
NOT_NEEDED_THOUGH_REQUIRED = {  # required by the document, but nothing in the client depends on them
    "StripeConnect": {"privateKey"},  # the API may leave secrets out (ARCHITECTURE.md, The Space Invoices API)
    "StripeConnectAccount": {"stripeAccountId", "stripeConnectId", "organizationId"},  # the org: asked for
    "StripeConnectPaymentIntent": {"currencyId"},
}
NEEDED_THOUGH_NOT_REQUIRED = {"StripeConnectAccount": {"id"}}  # every change is addressed by it
ID_FIELDS = {"StripeConnect": {"id"}, "StripeConnectAccount": {"id"}}  # ObjectIds: into the state or a URL
SECRET_FIELDS = {"privateKey", "webhookSecret", "connectWebhookSecret", "url", "clientSecret"}
SECRET_OUTPUTS = {"private_key", "connect_webhook_secret", "webhook_secret"}


MODELS = {"StripeConnect": models.StripeConnect, "StripeConnectAccount": models.StripeConnectAccount,
          "OrganizationStripeConnectAccountLinkControllerGetStripeLinkResponse": models.OnboardingLink,
          "StripeConnectPaymentIntent": models.PaymentIntent,
          "AccountCheckAuthorizationAndReturnUserResponse": models.TokenUser}


@pytest.mark.parametrize("schema_name", list(NEEDED))
def test_the_models_need_what_the_document_requires_except_where_they_say_why(schema_name):
    required = set(SCHEMAS[schema_name].get("required", []))
    expected = (required - NOT_NEEDED_THOUGH_REQUIRED.get(schema_name, set())) | NEEDED_THOUGH_NOT_REQUIRED.get(
        schema_name, set())
    model = MODELS[schema_name]
    assert {info.alias or name for name, info in model.model_fields.items() if info.is_required()} == expected
    assert NEEDED[schema_name] == expected


# -- The answer server ---------------------------------------------------------------------------------------

ROUTES = [  # (methods, path, operation); the API matches paths case-insensitively
    ({"GET"}, r"/v1/stripe-connect", "get_connect"),
    ({"POST"}, r"/v1/stripe-connect", "enable_connect"),
    ({"PATCH"}, r"/v1/stripe-connect", "update_connect"),
    ({"GET"}, r"/v1/organizations/[^/]+/stripe-connect/account", "get_account"),
    ({"POST"}, r"/v1/organizations/[^/]+/stripe-connect/account", "create_account"),
    ({"PATCH"}, r"/v1/stripe-connect/accounts/[^/]+", "update_account"),
    ({"GET", "POST"}, r"/v1/organizations/[^/]+/stripe-connect/account/link", "create_link"),
    ({"GET"}, r"/v1/documents/[^/]+/stripe-connect/payment-intent", "get_payment_intent"),
    ({"GET"}, r"/v1/accounts/authorized", "check_token"),
]


@dataclass(frozen=True)
class Answer:
    kind: str  # documented, absent, mangled, broken, status
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    reason: str | None = None
    short_by: int = 0  # Content-Length promises this many bytes more than are sent
    json: Any = None  # the body as sent, when it is JSON
    mutation: tuple[str, str] | None = None  # (field, how) for mangled answers
    expect: str = "error"  # ok | none | error: what a single client call must end in
    error_class: type[SpaceInvoicesError] = SpaceInvoicesError


@dataclass
class Script:
    """The answers of one example: per operation, served in order, the last one again and again."""

    answers: dict[str, list[Answer]]
    served: list[tuple[str, str, str, Answer]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, operation: str, method: str, path: str) -> Answer:
        with self.lock:
            queue = self.answers.get(operation) or [ROUTE_MISSING]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            self.served.append((operation, method, path, answer))
            return answer


ROUTE_MISSING = Answer("status", 404, json.dumps({"error": {"statusCode": 404, "name": "NotFoundError",
                                                            "message": "Endpoint not found",
                                                            "code": "ENDPOINT_NOT_FOUND"}}).encode())


class AnswerServer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: ClassVar[Script] = Script({})

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = urlsplit(self.path).path.lower()
        operation = next((op for methods, pattern, op in ROUTES
                          if self.command in methods and re.fullmatch(pattern, path)), "unknown")
        answer = AnswerServer.script.next(operation, self.command, path)
        self.send_response(answer.status, answer.reason)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body) + answer.short_by))
        if answer.short_by:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if answer.status not in (204, 304):
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PATCH = _serve

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_http(AnswerServer) as url:
        yield url


def serve(script: Script) -> Script:
    AnswerServer.script = script
    return script


# -- Canaries and documented answers ---------------------------------------------------------------------------

tags = st.text(ALNUM, min_size=4, max_size=10)


def canary_for(name: str) -> st.SearchStrategy[str]:
    """A value for a secret field: in full, masked, or not Stripe-shaped at all (redaction misses those)."""
    shapes = {
        "privateKey": ["sk_test_{c}{t}", "rk_" "live_{c}{t}", "{c}{t}", "sk_test_****{c}{t}", "sk_" "live_••••{c}{t}"],
        "webhookSecret": ["whsec_{c}{t}", "{c}-{t}", "whsec_****{c}{t}"],
        "connectWebhookSecret": ["whsec_{c}{t}", "{c}{t}", "whsec_…{c}{t}"],
        "url": ["https://connect.stripe.test/setup/s/{c}{t}", "http://127.0.0.1:9/onboard?token={c}{t}"],
        "clientSecret": ["pi_3Ab_secret_{c}{t}", "{c}-{t}"],
    }[name]
    return st.builds(lambda shape, tag: shape.format(c=CANARY, t=tag), st.sampled_from(shapes), tags)


date_times = st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat().replace("+00:00", "Z"))
object_ids = st.text(HEX + "ABCDEF", min_size=24, max_size=24)
json_scalars = (st.none() | st.booleans() | st.integers(-(2**53), 2**53)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
canary_values = st.one_of(tags.map(lambda t: f"{CANARY}{t}"), tags.map(lambda t: [f"{CANARY}{t}"]),
                          tags.map(lambda t: {"v": f"{CANARY}{t}"}))
extra_fields = st.dictionaries(st.text(ALNUM, min_size=1, max_size=8).map(lambda k: "x" + k),
                               json_values | canary_values, max_size=3)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the document allows for a schema (the subset it uses)."""
    kind = schema.get("type")
    if kind == "string":
        return {"date-time": date_times, "uri": st.sampled_from(["https://platform.example.com/r",
                                                                 "http://localhost:3000/done"])}.get(
            schema.get("format"), st.text(max_size=24))
    if kind == "number":
        low, high = schema.get("minimum", -1e9), schema.get("maximum", 1e9)
        return st.floats(low, high, allow_nan=False) | st.integers(int(low), int(high))
    if kind == "boolean":
        return st.booleans()
    if kind == "object" and schema.get("properties"):
        props = schema["properties"]
        required = set(schema.get("required", []))
        return st.fixed_dictionaries({k: from_schema(v) for k, v in props.items() if k in required},
                                     optional={k: from_schema(v) for k, v in props.items() if k not in required})
    return st.dictionaries(st.text(max_size=8), json_values, max_size=3)  # a free object (custom)


@cache
def answer_schema(schema_name: str) -> tuple[st.SearchStrategy[Any], Any]:
    """What the document allows for an answer: a strategy of bodies, and a validator of them."""
    schema = copy.deepcopy(SCHEMAS[schema_name])
    if schema_name == "StripeConnect":
        schema["required"].remove("privateKey")  # the API may leave it out (ARCHITECTURE.md, The Space Invoices API)
    return from_schema(schema), OAS30Validator(schema)


@st.composite
def documented_body(draw: st.DrawFn, schema_name: str) -> dict[str, Any]:
    """A body the document allows, with what the client needs: ids that are ObjectIds, the
    organization asked for (or none), an http(s) link; secrets are canaries, extra fields too."""
    bodies, validator = answer_schema(schema_name)
    body = draw(bodies)
    for name in ID_FIELDS.get(schema_name, ()):
        if name in body or name in NEEDED[schema_name]:
            body[name] = draw(object_ids)
    if schema_name == "StripeConnectAccount" and "organizationId" in body:
        body["organizationId"] = draw(st.sampled_from([ORG, ORG.upper()]))
    for name in SECRET_FIELDS & set(body):
        body[name] = draw(canary_for(name))
    for name in NEEDED[schema_name] - SECRET_FIELDS - ID_FIELDS.get(schema_name, set()):
        if body.get(name) == "":
            body[name] = draw(st.text(min_size=1, max_size=24))  # an empty id is as good as none
    validator.validate(body)  # still a body the document allows
    if schema_name != "AccountCheckAuthorizationAndReturnUserResponse":  # its fields are returned as they are
        body.update(draw(extra_fields))
    return body


def json_answer(kind: str, body: Any, status: int = 200, **kwargs: Any) -> Answer:
    return Answer(kind, status, json.dumps(body).encode(), json=body, **kwargs)


@st.composite
def documented(draw: st.DrawFn, operation: str) -> Answer:
    schema_name = ANSWER_SCHEMA[operation]
    if schema_name is None:  # a PATCH: 204 as documented, or a JSON body the client does not read
        return draw(st.sampled_from([Answer("documented", 204, headers=(), expect="none"),
                                     json_answer("documented", {}, expect="none"),
                                     json_answer("documented", {"count": 1, "x": f"{CANARY}1"}, expect="none")]))
    return json_answer("documented", draw(documented_body(schema_name)), expect="ok")


API_ERROR_CODES = ["ENTITY_NOT_FOUND", "VALIDATION_FAILED", "STRIPE_CONNECT_NOT_ENABLED",
                   "STRIPE_CONNECT_ALREADY_EXISTS", "STRIPE_CONNECT_ACCOUNT_ALREADY_EXISTS", "ENDPOINT_NOT_FOUND"]


def api_error_body(status: int, code: str | None, draw: st.DrawFn) -> dict[str, Any]:
    error: dict[str, Any] = {"statusCode": status, "name": "Error"}
    if code is not None:
        error.update(code=code, message=f"{code.lower().replace('_', ' ')}")
    if draw(st.booleans()):
        error["details"] = [{"path": "/applicationFee", "code": "maximum", "message": "must be <= 99",
                             "info": {"value": f"{CANARY}{draw(tags)}"}}]
    error["xtrace"] = f"{CANARY}{draw(tags)}"  # an extra field the client never shows
    return {"error": error}


@st.composite
def absent(draw: st.DrawFn, operation: str) -> Answer:
    """The API's own 404 for an object that does not exist (only reads answer it with None)."""
    return json_answer("absent", api_error_body(404, "ENTITY_NOT_FOUND", draw), 404,
                       expect="none" if operation in ("get_connect", "get_account") else "error",
                       error_class=NotFoundError)


# -- Mangled answers ---------------------------------------------------------------------------------------------

WRONG = {  # JSON type of a field -> values of other types (canaries where they can be)
    "string": [12345, 1.5, True, [f"{CANARY}s"], {"v": f"{CANARY}s"}],
    "number": [f"{CANARY}n", "1.5", True, [1], {"v": 1}],
    "boolean": [f"{CANARY}b", "true", 1, 0.0, [True], {"v": True}],
    "object": [f"{CANARY}o", [{"v": 1}], 7, True],
}
BAD_IDS = [f"{CANARY}-not-an-id", "../../admin", "5f0c1e2d3a4b5c6d7e8f901", "5f0c1e2d3a4b5c6d7e8f90123",
           "5f0c1e2d3a4b5c6d7e8f901g", "5f0c1e2d3a4b%2F5c6d7e8f90", 24 * "\uff10"]


@st.composite
def mangled(draw: st.DrawFn, operation: str, how: str | None = None) -> Answer:
    schema_name = ANSWER_SCHEMA[operation]
    body = draw(documented_body(schema_name))
    props = SCHEMAS[schema_name]["properties"]
    how = how or draw(st.sampled_from(sorted(mangling(schema_name))))
    name = draw(st.sampled_from(mangling(schema_name)[how]))
    if how == "remove":
        body.pop(name, None)
    elif how == "empty":
        body[name] = ""
    elif how == "null":
        body[name] = None
    elif how == "wrong-type":
        body[name] = draw(st.sampled_from(WRONG[props[name]["type"]]))
    elif how == "bad-id":
        body[name] = draw(st.sampled_from(BAD_IDS))
    else:
        body[name] = draw(st.sampled_from([RECORD, f"{CANARY}-org", ORG[:-1] + "0"]))
    tolerated = how in ("remove", "null") and name not in NEEDED[schema_name]
    return json_answer("mangled", body, mutation=(name, how), expect="ok" if tolerated else "error",
                       error_class=SpaceInvoicesError if tolerated else UnexpectedResponseError)


def mangling(schema_name: str) -> dict[str, list[str]]:
    """How an answer of this schema can be mangled, and which fields each way applies to."""
    props = SCHEMAS[schema_name].get("properties", {})
    ways = {"remove": sorted(props), "null": sorted(props), "wrong-type": sorted(props),
            "bad-id": sorted(ID_FIELDS.get(schema_name, ())),
            "foreign": ["organizationId"] if "organizationId" in props else [],
            "empty": sorted(name for name in NEEDED[schema_name] if props[name]["type"] == "string")}
    return {how: names for how, names in ways.items() if names}


# -- Broken bodies and other statuses --------------------------------------------------------------------------------

HTML = ("<!doctype html><html><head><title>Sign in to the office network</title></head><body>"
        "<form action='/login'><input name='session' value='{c}{t}'></form></body></html>")


@st.composite
def broken(draw: st.DrawFn, operation: str) -> Answer:
    reads = ANSWER_SCHEMA[operation] is not None
    tag = draw(tags)
    document = json.dumps(draw(documented_body(ANSWER_SCHEMA[operation] or "StripeConnect")))
    how = draw(st.sampled_from(["empty", "html", "text", "cut-json", "nan", "huge-number", "bad-utf8", "deep",
                                "list", "string", "number", "true", "null", "short-body"]))
    raw = {
        "empty": b"",
        "html": HTML.format(c=CANARY, t=tag).encode(),
        "text": f"upstream said: {CANARY}{tag}".encode(),
        "cut-json": document[: draw(st.integers(1, len(document) - 1))].encode(),
        "nan": b'{"publicKey": "pk", "applicationFee": NaN, "url": "https://x.test", "id": "' + RECORD.encode()
               + b'", "privateKey": "' + f"{CANARY}{tag}".encode() + b'"}',
        "huge-number": b'{"publicKey": "pk", "amount": 1e400, "applicationFee": 1e400, "clientSecret": "'
                       + f"{CANARY}{tag}".encode() + b'"}',
        "bad-utf8": b'{"publicKey": "\xff\xfe", "privateKey": "' + f"{CANARY}{tag}".encode() + b'"}',
        "deep": b"[" * 5_000 + b"]" * 5_000,  # deeper than the parser recurses
        "list": f"[{document}]".encode(),
        "string": json.dumps(f"{CANARY}{tag}").encode(),
        "number": b"42",
        "true": b"true",
        "null": b"null",
        "short-body": document.encode(),
    }[how]
    is_json = how in ("list", "string", "number", "true", "null")
    if how == "short-body":
        return Answer("broken", 200, raw, short_by=draw(st.integers(1, 50)), expect="error",
                      error_class=APIConnectionError, mutation=("", how))
    # A call that reads the answer needs a JSON object; a PATCH takes any JSON or none, never a page.
    if not reads and (how == "empty" or is_json):
        return Answer("broken", 200, raw, expect="none", mutation=("", how))
    headers = (("Content-Type", "text/html"),) if how == "html" else (("Content-Type", "application/json"),)
    return Answer("broken", 200, raw, headers, expect="error", error_class=UnexpectedResponseError,
                  mutation=("", how))


RETRY_AFTER = [None, "0", "0.01", "nan", "NaN", "inf", "-inf", "-1", "abc", "Wed, 21 Oct 2015 07:28:00 GMT",
               "1e400", "3600", " 0.02 "]
REQUEST_IDS = [None, "req_8f1c2d", "a" * 300, "has spaces and 'quotes'", "caf\u00e9"]
ERROR_STATUSES = [400, 401, 403, 404, 405, 409, 410, 413, 415, 418, 422, 429, 500, 502, 503, 504, 599]


@st.composite
def other_status(draw: st.DrawFn, operation: str, redirect: bool | None = None) -> Answer:
    tag = draw(tags)
    reason = draw(st.none() | st.just(f"{CANARY} {tag}"))
    request_id = draw(st.sampled_from(REQUEST_IDS))
    headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
    if request_id is not None:
        headers.append(("X-Request-Id", request_id))
    if draw(st.booleans()) if redirect is None else redirect:  # a redirect, which the API never sends
        status = draw(st.sampled_from([301, 302, 303, 307, 308]))
        headers += [("Location", f"https://login.example/?next={CANARY}{tag}"), ("Content-Type", "text/html")]
        return Answer("status", status, HTML.format(c=CANARY, t=tag).encode(), tuple(headers), reason,
                      expect="error", error_class=UnexpectedResponseError, mutation=("", f"redirect {status}"))
    status = draw(st.sampled_from(ERROR_STATUSES))
    retry_after = draw(st.sampled_from(RETRY_AFTER))  # read on every error answer, not only 429 and 503
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    shape = draw(st.sampled_from(["api", "api-wrong-types", "html", "empty", "json-list"]))
    if shape == "api":
        code = draw(st.sampled_from([None, *API_ERROR_CODES]))
        body = json.dumps(api_error_body(status, code, draw)).encode()
    elif shape == "api-wrong-types":
        body = json.dumps({"error": {"statusCode": str(status), "message": {"text": f"{CANARY}{tag}"},
                                     "code": [f"{CANARY}{tag}"], "details": f"{CANARY}{tag}"}}).encode()
    elif shape == "html":
        body = HTML.format(c=CANARY, t=tag).encode()
    elif shape == "empty":
        body = b""
    else:
        body = json.dumps([{"error": f"{CANARY}{tag}"}]).encode()
    error_class = type(error_for_status(status, method="GET", path="/"))
    # Reads take the API's own 404 for "absent"; a proxy's 404 page says nothing about the object.
    expect = "error"
    api_404 = status == 404 and shape == "api" and json.loads(body)["error"].get("code") != "ENDPOINT_NOT_FOUND"
    if api_404 and operation in ("get_connect", "get_account"):
        expect = "none"
    return Answer("status", status, body, tuple(headers), reason, expect=expect, error_class=error_class,
                  mutation=("", f"{status} {shape}"))


def classes_for(operation: str) -> dict[str, st.SearchStrategy[Answer]]:
    """The classes of answers an operation can get, each a strategy (mangled answers one per way)."""
    classes = {"documented": documented(operation), "broken": broken(operation),
               "redirect": other_status(operation, redirect=True), "error-status": other_status(operation, False)}
    schema_name = ANSWER_SCHEMA[operation]
    if schema_name is not None:
        classes.update({f"mangled-{how}": mangled(operation, how) for how in mangling(schema_name)})
    if operation in ("get_connect", "get_account"):
        classes["absent"] = absent(operation)
    return classes


def answers_for(operation: str) -> st.SearchStrategy[Answer]:
    """An answer of any class, the class drawn first so that each gets its share of the examples."""
    return st.sampled_from(sorted(classes_for(operation).items())).flatmap(lambda item: item[1])


# -- What every outcome must be ------------------------------------------------------------------------------------


def chain(error: BaseException) -> list[BaseException]:
    """The error and everything chained to it (causes and contexts, suppressed or not)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def assert_clean_failure(error: BaseException, expected: type[SpaceInvoicesError] = SpaceInvoicesError) -> None:
    assert isinstance(error, expected), f"{type(error).__name__} instead of {expected.__name__}: {error}"
    linked = chain(error)
    assert not any(isinstance(e, PydanticValidationError) for e in linked), "pydantic's error is chained"
    shown = [str(error), repr(error), *map(str, error.args),
             "".join(traceback.format_exception(type(error), error, error.__traceback__)),
             *(str(e) for e in linked)]
    for text in shown:
        assert CANARY not in text, f"a value from the answer leaked into the error: {text}"
    if isinstance(error, UnexpectedResponseError):
        assert error.status and error.method and error.path
        assert all(CANARY not in name for name in error.fields)


def outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return call(), None
    except Exception as error:  # everything is judged by assert_clean_failure, not only our tree
        return None, error


def no_canary_outside_secrets(outputs: dict[str, Any], secret_keys: set[str]) -> None:
    plain = {key: value for key, value in outputs.items() if key not in secret_keys}
    assert CANARY not in json.dumps(plain, default=str), plain


# -- Client methods --------------------------------------------------------------------------------------------------


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back off a hundred times faster; Retry-After is still honoured as sent (and capped as usual)."""
    real = client_module.retry_delay
    monkeypatch.setattr(client_module, "retry_delay",
                        lambda attempt, retry_after: real(attempt, retry_after, base=0.0025, cap=0.08))


def fast_client(url: str) -> SpaceInvoicesClient:
    # No pacing (the answer server has no rate limit), and a deadline shorter than the longest
    # Retry-After (30 s, capped): such an answer ends the call instead of waiting.
    return SpaceInvoicesClient(TOKEN, api_url=url, requests_per_second=0, max_attempts=3, deadline=10)


FIELDS = StripeConnectFields(private_key="sk_test_SENTsecret0123", public_key="pk_test_SENT0123", application_fee=2,
                             refresh_url="https://platform.example.com/r", return_url="https://platform.example.com/d")
CLIENT_CALLS: dict[str, Callable[[SpaceInvoicesClient], Any]] = {
    "get_connect": lambda api: api.get_stripe_connect(),
    "enable_connect": lambda api: api.enable_stripe_connect(FIELDS),
    "update_connect": lambda api: api.update_stripe_connect(FIELDS),
    "get_account": lambda api: api.get_connect_account(ORG),
    "create_account": lambda api: api.create_connect_account(ORG, active=True),
    "update_account": lambda api: api.update_connect_account(RECORD, active=False),
    "create_link": lambda api: api.create_onboarding_link(ORG),
    "get_payment_intent": lambda api: api.get_payment_intent(SHAREABLE),
    "check_token": lambda api: api.check_token(),
}


def assert_result_says_what_the_answer_said(result: Any, answer: Answer) -> None:
    """Every field of the answer the model knows reaches the result unchanged; a field left out is None."""
    if isinstance(result, dict):  # check_token: the user as the API sent it
        assert result == answer.json
        return
    for name, info in type(result).model_fields.items():
        assert getattr(result, name) == answer.json.get(info.alias or name), name


CLIENT_CASES = [pytest.param(operation, name, id=f"{operation}-{name}")
                for operation in CLIENT_CALLS for name in classes_for(operation)]


@pytest.mark.parametrize(("operation", "answer_class"), CLIENT_CASES)
@CLIENT_RUNS
@given(data=st.data())
def test_every_answer_to_a_client_call_is_used_or_fails_clearly_without_its_values(server, quick_backoff,
                                                                                  operation, answer_class, data):
    answer = data.draw(classes_for(operation)[answer_class], label="answer")
    event(f"{answer.kind}: {answer.mutation[1] if answer.mutation else answer.status}")
    script = serve(Script({operation: [answer]}))
    with fast_client(server) as api:
        result, error = outcome(lambda: CLIENT_CALLS[operation](api))
    assert len(script.served) <= 3  # max_attempts: never a loop
    if answer.expect == "error":
        assert error is not None, f"{answer.mutation} was taken: {result!r}"
        assert_clean_failure(error, answer.error_class)
        if answer.kind == "mangled":
            assert error.fields == [answer.mutation[0]], (error.fields, answer.mutation)
        if isinstance(error, APIError) and not isinstance(error, UnexpectedResponseError):
            assert error.status == answer.status
        return
    assert error is None, f"{answer.kind} {answer.mutation} failed: {error!r}"
    if answer.expect == "none":
        assert result is None
    else:
        assert_result_says_what_the_answer_said(result, answer)


# -- Provider operations and functions -----------------------------------------------------------------------------------

CONFIG_KEYS = set(config_module.INPUT_KEYS) | set(config_module.OUTPUT_ONLY_KEYS)
ACCOUNT_KEYS = set(accounts_module.INPUT_KEYS) | set(accounts_module.OUTPUT_ONLY_KEYS)
STORED_CONFIG_ID = "0a1b2c3d4e5f60718293a4b5"


def stored_config() -> dict[str, Any]:
    return {**connect_inputs(), "custom": None, "account_id": "acc-1", "space_invoices_fee": 0.5,
            "webhook_secret": "whsec_STOREDwebhook0123", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"}


def stored_account(record_id: str | None) -> dict[str, Any]:
    return {"organization_id": ORG, "active": True, "connect_account_id": record_id, "stripe_account_id": "acct_1",
            "stripe_connect_id": STORED_CONFIG_ID, "charges_enabled": False, "created_at": None, "updated_at": None}


@dataclass(frozen=True)
class Operation:
    name: str
    calls: tuple[str, ...]  # the operations it may send
    run: Callable[[dict[str, Any]], Any]
    check: Callable[[Any, Script, dict[str, Any]], None]


def _config_outputs(outs: dict[str, Any]) -> None:
    assert set(outs) == CONFIG_KEYS
    no_canary_outside_secrets(outs, SECRET_OUTPUTS)


def _account_outputs(outs: dict[str, Any]) -> None:
    assert set(outs) == ACCOUNT_KEYS
    assert outs["organization_id"] == ORG  # the organization asked for, never one from the answer
    assert re.fullmatch(r"[0-9a-fA-F]{24}", outs["connect_account_id"])
    no_canary_outside_secrets(outs, set())


def _last_used(script: Script, *operations: str) -> dict[str, Any]:
    """The body of the last answer of these operations that the client could use."""
    return [answer.json for op, _, _, answer in script.served if op in operations and answer.expect == "ok"][-1]


def _config_created(result: Any, script: Script, _: dict[str, Any]) -> None:
    _config_outputs(result.outs)
    body = _last_used(script, "get_connect", "enable_connect")
    assert result.id == (body.get("id") or config_module.SINGLETON_ID)
    assert result.outs["public_key"] == body["publicKey"]


def _config_read(result: Any, script: Script, _: dict[str, Any]) -> None:
    if result.id is None:
        assert result.outs == {}
        return
    _config_outputs(result.outs)
    assert set(result.inputs) == set(config_module.INPUT_KEYS)
    body = _last_used(script, "get_connect")
    assert result.id == (body.get("id") or STORED_CONFIG_ID) and result.outs["public_key"] == body["publicKey"]


def _config_updated(result: Any, script: Script, _: dict[str, Any]) -> None:
    _config_outputs(result.outs)
    assert result.outs["public_key"] == _last_used(script, "get_connect")["publicKey"]


def _account_done(result: Any, script: Script, _: dict[str, Any]) -> None:
    outs = result.outs
    if getattr(result, "id", ORG) is None:  # read: gone
        assert outs == {}
        return
    _account_outputs(outs)
    if hasattr(result, "id"):
        assert result.id == ORG
    body = _last_used(script, "get_account", "create_account")
    assert outs["connect_account_id"] == body["id"] and outs["charges_enabled"] == body.get("chargesEnabled")


def _nothing(result: Any, _script: Script, _draws: dict[str, Any]) -> None:
    assert result is None


def _link(result: Any, _script: Script, _: dict[str, Any]) -> None:
    assert result.organization_id == ORG
    if result.onboarding_complete:
        assert result.url is None
    else:
        assert result.url.startswith(("http://", "https://")) and result.expires_at
    assert CANARY not in f"{result.organization_id}{result.onboarding_complete}{result.expires_at}"


def _intent(result: Any, _script: Script, _: dict[str, Any]) -> None:
    assert result.payment_intent_id and result.public_key and result.client_secret
    assert CANARY not in f"{result.payment_intent_id}{result.public_key}{result.amount}{result.currency_id}"


def _stored_record(draws: dict[str, Any]) -> str | None:
    return draws["record"]


OPERATIONS = [
    Operation("StripeConnectConfig.create", ("get_connect", "enable_connect", "update_connect"),
              lambda d: StripeConnectConfigProvider().create(connect_inputs()), _config_created),
    Operation("StripeConnectConfig.read", ("get_connect",),
              lambda d: StripeConnectConfigProvider().read(STORED_CONFIG_ID, stored_config()), _config_read),
    Operation("StripeConnectConfig.update", ("update_connect", "get_connect"),
              lambda d: StripeConnectConfigProvider().update(STORED_CONFIG_ID, stored_config(),
                                                             connect_inputs(application_fee=7)), _config_updated),
    Operation("StripeConnectConfig.delete", ("update_connect",),
              lambda d: StripeConnectConfigProvider().delete(STORED_CONFIG_ID, stored_config()), _nothing),
    Operation("OrganizationConnectAccount.create", ("get_account", "create_account", "update_account"),
              lambda d: OrganizationConnectAccountProvider().create({"organization_id": ORG, "active": True}),
              _account_done),
    Operation("OrganizationConnectAccount.read", ("get_account",),
              lambda d: OrganizationConnectAccountProvider().read(ORG, stored_account(_stored_record(d))),
              _account_done),
    Operation("OrganizationConnectAccount.update", ("get_account", "update_account"),
              lambda d: OrganizationConnectAccountProvider().update(
                  ORG, stored_account(_stored_record(d)), {"organization_id": ORG, "active": False}), _account_done),
    Operation("OrganizationConnectAccount.delete", ("get_account", "update_account"),
              lambda d: OrganizationConnectAccountProvider().delete(ORG, stored_account(_stored_record(d))),
              _nothing),
    Operation("get_onboarding_link", ("get_account", "create_link"),
              lambda d: get_onboarding_link(ORG, access_token=TOKEN, api_url=d["url"]), _link),
    Operation("get_payment_intent", ("get_payment_intent",),
              lambda d: get_payment_intent(SHAREABLE, api_url=d["url"]), _intent),
]


@pytest.fixture
def provider_process(server: str, new_run: Callable[[], None], monkeypatch: pytest.MonkeyPatch,
                     quick_backoff: None) -> Iterator[Callable[[], None]]:
    """The provider process's settings pointed at the answer server, as configure() sets them, with a
    client that does not pace (no rate limit here); functions get their own clients, as in a program."""
    pulumi.runtime.configure(pulumi.runtime.Settings(project="test", stack="test"))
    provider_state.SpaceInvoicesProvider().configure(ConfigureRequest(Config({CONFIG_TOKEN: TOKEN,
                                                                               CONFIG_API_URL: server}, "test")))
    monkeypatch.setenv("SPACEINVOICES_DEADLINE", "10")
    monkeypatch.setattr(function_clients, "_clients", {})

    def fresh() -> None:
        new_run()  # each example is a deployment of its own
        with provider_state._lock:
            provider_state._client = fast_client(server)

    yield fresh
    with provider_state._lock:
        provider_state._client = None


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: o.name)
@PROVIDER_RUNS
@given(data=st.data())
def test_every_answer_to_a_provider_operation_or_function_is_used_or_fails_clearly(server, provider_process, capsys,
                                                                                   op, data):
    happy = data.draw(st.booleans(), label="every answer documented")
    draws = {"url": server, "record": data.draw(st.none() | st.just(RECORD), label="stored record id")}
    answers = {}
    for operation in op.calls:
        kinds = documented(operation) if happy else answers_for(operation)
        answers[operation] = data.draw(st.lists(kinds, min_size=1, max_size=2), label=operation)
    event(f"{op.name}: {'documented' if happy else 'any'}")
    provider_process()
    script = serve(Script(copy.deepcopy(answers)))
    result, error = outcome(lambda: op.run(draws))
    logged = capsys.readouterr()
    assert CANARY not in logged.out + logged.err
    assert len(script.served) <= 12  # a few calls, each at most 3 attempts: never a loop
    if error is not None:
        assert not happy, f"every answer was documented, yet: {error!r}"
        assert_clean_failure(error)
        return
    op.check(result, script, draws)


# -- The cases that started it, one by one ---------------------------------------------------------------------------


def _one(operation: str, body: Any, *, status: int = 200, headers: tuple[tuple[str, str], ...] = (),
         raw: bytes | None = None) -> Script:
    answer = Answer("case", status, raw if raw is not None else json.dumps(body).encode(),
                    (("Content-Type", "application/json"), *headers), json=body)
    return serve(Script({operation: [answer]}))


LEAKY_CONFIG = {"id": "0a1b2c3d4e5f60718293a4b5", "privateKey": "sk_" "live_51LEAKsecret0123456789",
                "webhookSecret": "whsec_LEAKwebhook0123456789", "connectWebhookSecret": "LEAK-connect-secret",
                "accountId": "acc-1"}


def test_a_connect_config_answer_missing_a_needed_field_names_it_and_quotes_no_value(server):
    # Before: pydantic's ValidationError escaped, quoting the whole body, secrets and all.
    body = {k: v for k, v in LEAKY_CONFIG.items()}
    _one("get_connect", body, headers=(("X-Request-Id", "req_42"),))
    with pytest.raises(UnexpectedResponseError) as caught:
        fast_client(server).get_stripe_connect()
    error = caught.value
    assert (error.status, error.method, error.path, error.request_id) == (200, "GET", "/v1/stripe-connect", "req_42")
    assert error.fields == ["publicKey"] and error.problems == [("publicKey", "is missing")]
    text = "".join(traceback.format_exception(error))
    assert "LEAK" not in text and error.__cause__ is None and error.__context__ is None
    assert "answered 200 with an answer the client cannot use (publicKey is missing)" in str(error)


def test_a_connect_config_answer_without_an_id_is_used_and_the_singleton_gets_an_id(server, provider_process):
    provider_process()
    body = {k: v for k, v in LEAKY_CONFIG.items() if k != "id"} | {"publicKey": "pk_test_NOID0123"}
    serve(Script({"get_connect": [json_answer("case", body)], "update_connect": [Answer("case", 204, headers=())]}))
    created = StripeConnectConfigProvider().create(connect_inputs())  # adopts: GET, PATCH, GET
    assert created.id == config_module.SINGLETON_ID
    assert StripeConnectConfigProvider().read(STORED_CONFIG_ID, created.outs).id == STORED_CONFIG_ID


@pytest.mark.parametrize("step", ["client", "create", "read", "update", "link"])
def test_an_account_answer_naming_another_organization_is_an_error_never_state(server, provider_process, step):
    provider_process()
    other = {"id": RECORD, "organizationId": "aaaaaaaaaaaaaaaaaaaaaaaa", "active": False, "chargesEnabled": False}
    serve(Script({"get_account": [json_answer("case", other)], "create_account": [json_answer("case", other)],
                  "update_account": [Answer("case", 204, headers=())]}))
    provider = OrganizationConnectAccountProvider()
    call = {
        "client": lambda: fast_client(server).get_connect_account(ORG),
        "create": lambda: provider.create({"organization_id": ORG, "active": True}),
        "read": lambda: provider.read(ORG, stored_account(RECORD)),
        "update": lambda: provider.update(ORG, stored_account(None), {"organization_id": ORG, "active": False}),
        "link": lambda: get_onboarding_link(ORG, access_token=TOKEN, api_url=server),
    }[step]
    with pytest.raises(UnexpectedResponseError) as caught:
        call()
    assert caught.value.fields == ["organizationId"]
    assert "names another organization than the one asked for" in str(caught.value)
    assert "aaaaaaaaaaaaaaaaaaaaaaaa" not in str(caught.value)


@pytest.mark.parametrize("record", ["../../v1/stripe-connect", "5f0c1e2d3a4b5c6d7e8f901", "%2e%2e%2fadmin0000000000",
                                    "5f0c1e2d3a4b5c6d7e8f9012?x"])
def test_an_account_record_id_from_an_answer_that_is_not_an_object_id_never_reaches_a_url(server, provider_process,
                                                                                          record):
    provider_process()
    script = serve(Script({"get_account": [json_answer("case", {"id": record, "organizationId": ORG,
                                                                "active": True})],
                           "update_account": [Answer("case", 204, headers=())]}))
    with pytest.raises(UnexpectedResponseError) as caught:
        OrganizationConnectAccountProvider().delete(ORG, stored_account(None))
    assert caught.value.fields == ["id"] and "24 hexadecimal" in str(caught.value)
    assert [op for op, *_ in script.served] == ["get_account"]  # no PATCH was sent


def test_a_proxys_html_page_is_an_unexpected_answer_not_a_config(server):
    serve(Script({"get_connect": [Answer("case", 200, HTML.format(c="LEAK", t="x").encode(),
                                         (("Content-Type", "text/html"),))]}))
    with pytest.raises(UnexpectedResponseError, match=r"a body that is not JSON") as caught:
        fast_client(server).get_stripe_connect()
    assert "LEAK" not in str(caught.value) and caught.value.fields == []


def test_a_404_that_is_not_the_apis_does_not_make_refresh_drop_the_resource(server, provider_process):
    provider_process()
    serve(Script({"get_account": [Answer("case", 404, b"<html>Not Found</html>", (("Content-Type", "text/html"),))]}))
    with pytest.raises(NotFoundError, match="not the Space Invoices API's: check the API URL"):
        OrganizationConnectAccountProvider().read(ORG, stored_account(RECORD))


@pytest.mark.parametrize("retry_after", ["nan", "inf", "-1", "soon"])
def test_a_retry_after_that_is_not_a_usable_number_falls_back_to_backoff(server, quick_backoff, retry_after):
    serve(Script({"get_connect": [Answer("case", 503, b"", (("Retry-After", retry_after),)),
                                  json_answer("case", {"publicKey": "pk_test_AFTER0123"})]}))
    assert fast_client(server).get_stripe_connect().public_key == "pk_test_AFTER0123"


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_neither_followed_nor_taken_for_success(server, status):
    script = serve(Script({"get_connect": [Answer("case", status, b"", (("Location", f"{server}/v1/elsewhere"),))],
                           "unknown": [json_answer("case", {"publicKey": "pk_test_REDIRECTED"})]}))
    with pytest.raises(UnexpectedResponseError, match="a redirect, which the client does not follow"):
        fast_client(server).get_stripe_connect()
    assert len(script.served) == 1


def test_the_servers_reason_phrase_and_an_odd_request_id_are_not_echoed(server, quick_backoff):
    serve(Script({"get_connect": [Answer("case", 500, b"", (("X-Request-Id", "id with 'LEAK' in it"),),
                                         reason="LEAK reason")]}))
    with pytest.raises(APIError) as caught:
        fast_client(server).get_stripe_connect()
    assert "LEAK" not in str(caught.value) and caught.value.request_id is None
    assert "Internal Server Error" in str(caught.value)


@pytest.mark.parametrize("body", [[], "a string", 7], ids=["list", "string", "number"])
def test_a_token_check_answered_with_something_else_than_an_object_fails_clearly(server, body):
    _one("check_token", body)
    with pytest.raises(UnexpectedResponseError, match="not a JSON object"):
        fast_client(server).check_token()
