"""Wire format of the sandbox: error bodies, request-body validation and response shapes.

Errors follow Space Invoices (LoopBack): `{"error": {"statusCode", "name", "message", "code",
"details"?}}`; body validation reports AJV-style details `{path, code, message, info}`, with `path`
a JSON pointer and `code` the failed JSON-schema keyword, as LoopBack does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

MAX_BODY_BYTES = 64 * 1024

ERROR_NAMES = {
    400: "BadRequestError", 401: "UnauthorizedError", 403: "ForbiddenError", 404: "NotFoundError",
    405: "MethodNotAllowedError", 409: "ConflictError", 413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError", 422: "UnprocessableEntityError", 429: "TooManyRequestsError",
    500: "InternalServerError", 502: "BadGatewayError", 503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


def error_name(status: int) -> str:
    """The LoopBack error name for a status, e.g. 404 -> NotFoundError."""
    return ERROR_NAMES.get(status, "InternalServerError" if status >= 500 else "HttpError")


def error_body(
    status: int, message: str | None = None, code: str | None = None, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An error body; without a message only statusCode and name (as 5xx answers are)."""
    error: dict[str, Any] = {"statusCode": status, "name": error_name(status)}
    if message is not None:
        error["message"] = message
    if code is not None:
        error["code"] = code
    if details is not None:
        error["details"] = details
    return {"error": error}


class ApiError(Exception):
    """An error answer of the API; raised by handlers, rendered by the app's exception handler."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(status, message, code, details)
        self.headers = headers or {}


def not_found(message: str) -> ApiError:
    return ApiError(404, message, "ENTITY_NOT_FOUND")


def unauthorized(message: str = "Authorization Required", code: str = "AUTHORIZATION_REQUIRED") -> ApiError:
    return ApiError(401, message, code)


def unprocessable(message: str, code: str) -> ApiError:
    return ApiError(422, message, code)


def endpoint_not_found(method: str, path: str) -> dict[str, Any]:
    """LoopBack's answer for a route that does not exist."""
    return error_body(404, f'Endpoint "{method} {path}" not found.', "ENDPOINT_NOT_FOUND")


# Request bodies

Schema = dict[str, dict[str, Any]]

CONNECT_SCHEMA: Schema = {
    "privateKey": {"type": "string"},
    "publicKey": {"type": "string"},
    "connectWebhookSecret": {"type": "string"},
    "active": {"type": "boolean"},
    "refreshUrl": {"type": "string", "format": "uri"},
    "returnUrl": {"type": "string", "format": "uri"},
    "applicationFee": {"type": "number", "minimum": 0, "maximum": 99},
    "custom": {"type": "object"},
}
NEW_ACCOUNT_SCHEMA: Schema = {"active": {"type": "boolean"}}
PATCH_ACCOUNT_SCHEMA: Schema = {"id": {"type": "string"}, "active": {"type": "boolean"}}

CONNECT_WIRE_TO_STORE = {
    "privateKey": "private_key", "publicKey": "public_key", "connectWebhookSecret": "connect_webhook_secret",
    "active": "active", "refreshUrl": "refresh_url", "returnUrl": "return_url",
    "applicationFee": "application_fee", "custom": "custom",
}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "number": (int, float), "object": (dict,), "array": (list,),
}


def parse_json(raw: bytes) -> Any:
    """Parse a request body; ApiError 400 when it is not JSON (NaN and Infinity are not JSON, nor
    are lone surrogates, which could not be stored; nesting deep enough to exhaust the stack is refused)."""
    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise ApiError(400, f"Malformed JSON in request body: {exc}", "MALFORMED_REQUEST_BODY") from None
    return body


async def drain_body(receive: Callable[[], Awaitable[MutableMapping[str, Any]]], limit: int = 16 << 20) -> None:
    """Read and drop the rest of a request body (up to `limit` bytes), so the client can finish
    sending and read the answer instead of running into a connection reset."""
    seen = 0
    while seen <= limit:
        message = await receive()
        seen += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def validate(body: Any, schema: Schema, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check a parsed body against a flat schema; ApiError 422 with every problem found."""
    if not isinstance(body, dict):
        raise _invalid([_detail("", "type", "must be object", type="object")])
    details = [
        _detail("", "required", f"must have required property '{name}'", missingProperty=name)
        for name in required
        if name not in body
    ]
    details += [
        _detail("", "additionalProperties", "must NOT have additional properties", additionalProperty=name)
        for name in body
        if name not in schema
    ]
    for name, value in body.items():
        if name in schema:
            details += _check_value(f"/{name}", value, schema[name])
    if details:
        raise _invalid(details)
    return body


def _check_value(path: str, value: Any, rule: dict[str, Any]) -> list[dict[str, Any]]:
    kind = rule["type"]
    if not isinstance(value, _TYPES[kind]) or (kind == "number" and isinstance(value, bool)):
        return [_detail(path, "type", f"must be {kind}", type=kind)]
    if isinstance(value, (int, float)) and not math.isfinite(value):
        return [_detail(path, "type", "must be number", type=kind)]
    if "minimum" in rule and value < rule["minimum"]:
        return [_detail(path, "minimum", f"must be >= {rule['minimum']}", comparison=">=", limit=rule["minimum"])]
    if "maximum" in rule and value > rule["maximum"]:
        return [_detail(path, "maximum", f"must be <= {rule['maximum']}", comparison="<=", limit=rule["maximum"])]
    if rule.get("format") == "uri" and isinstance(value, str) and not is_uri(value):
        return [_detail(path, "format", 'must match format "uri"', format="uri")]
    return []


def is_uri(value: str) -> bool:
    """An absolute URI (scheme required, no whitespace); http(s) URIs need a host."""
    if not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not _SCHEME.match(parts.scheme):
        return False
    if parts.scheme.lower() in ("http", "https"):
        return bool(parts.hostname)
    return bool(parts.netloc or parts.path)


def _detail(path: str, code: str, message: str, **info: Any) -> dict[str, Any]:
    return {"path": path, "code": code, "message": message, "info": info}


def _invalid(details: list[dict[str, Any]]) -> ApiError:
    return ApiError(
        422,
        "The request body is invalid. See error object `details` property for more info.",
        "VALIDATION_FAILED",
        details=details,
    )


# Response shapes

SECRET_FIELDS = ("privateKey", "webhookSecret", "connectWebhookSecret")
_SECRET_PREFIX = re.compile(r"^(?:(?:sk|rk|pk)_(?:test|live)_|whsec_)")


def mask(value: str) -> str:
    """`sk_test_abc...1234` -> `sk_test_****1234`: the key-type prefix and the last 4 characters."""
    match = _SECRET_PREFIX.match(value)
    prefix = match.group(0) if match else ""
    rest = value[len(prefix):]
    return prefix + "****" + (rest[-4:] if len(rest) > 8 else "")


def connect_json(record: dict[str, Any], secrets: str = "full") -> dict[str, Any]:
    """A `StripeConnect` from a store record; `secrets` is full, masked or omitted. Unset
    optional fields are left out, as LoopBack does."""
    body = {
        "id": record["id"],
        "privateKey": record["private_key"],
        "publicKey": record["public_key"],
        "webhookSecret": record["webhook_secret"],
        "connectWebhookSecret": record["connect_webhook_secret"],
        "active": record["active"],
        "refreshUrl": record["refresh_url"],
        "returnUrl": record["return_url"],
        "applicationFee": record["application_fee"],
        "spaceInvoicesFee": record["space_invoices_fee"],
        "accountId": record["account_id"],
        "custom": record["custom"],
        "createdAt": record["created_at"],
        "updatedAt": record["updated_at"],
    }
    for name in SECRET_FIELDS:
        if secrets == "omitted":
            body.pop(name)
        elif secrets == "masked" and body[name] is not None:
            body[name] = mask(body[name])
    return {key: value for key, value in body.items() if value is not None}


def org_account_json(record: dict[str, Any]) -> dict[str, Any]:
    """A `StripeConnectAccount` from a store record. `custom` is not in the OpenAPI schema but is in
    the doc page's example, so it is sent (always empty)."""
    return {
        "id": record["id"],
        "stripeAccountId": record["stripe_account_id"],
        "stripeConnectId": record["stripe_connect_id"],
        "organizationId": record["organization_id"],
        "chargesEnabled": record["charges_enabled"],
        "active": record["active"],
        "createdAt": record["created_at"],
        "updatedAt": record["updated_at"],
        "custom": {},
    }
