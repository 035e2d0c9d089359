"""The Space Invoices API endpoints the sandbox serves (ARCHITECTURE.md, The Space Invoices API).

Route names are the operation names of the request log. Paths are the canonical, lower-case ones: the
middleware maps any casing onto them, resolves the token, and handles the link-verb switch.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from .control import Control
from .store import Store, is_object_id
from .wire import (
    CONNECT_SCHEMA,
    CONNECT_WIRE_TO_STORE,
    MAX_BODY_BYTES,
    NEW_ACCOUNT_SCHEMA,
    PATCH_ACCOUNT_SCHEMA,
    ApiError,
    connect_json,
    drain_body,
    not_found,
    org_account_json,
    parse_json,
    unauthorized,
    unprocessable,
    validate,
)

router = APIRouter()

AUTH_STATE = "sandbox_auth"
"""Key in the ASGI scope state where the middleware leaves (token given?, account id or None)."""


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store  # set by app.create_app
    return store


def control_of(request: Request) -> Control:
    control: Control = request.app.state.control  # set by app.create_app
    return control


def require_account(request: Request) -> str:
    """The caller's account id; ApiError 401 without a known token."""
    token_given: bool
    account_id: str | None
    token_given, account_id = request.scope.get("state", {}).get(AUTH_STATE, (False, None))
    if account_id is None:
        raise unauthorized() if not token_given else unauthorized("Invalid access token", "INVALID_TOKEN")
    return account_id


async def read_body(request: Request) -> Any:
    """The request's JSON body ({} when empty); 413 over MAX_BODY_BYTES, 415 when not JSON."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        await drain_body(request.receive)
        raise _too_large()
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await request.receive()
        if message["type"] != "http.request":  # the client went away
            break
        more = message.get("more_body", False)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            if more:
                await drain_body(request.receive)
            raise _too_large()
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(415, f'Content-type "{content_type}" is not supported.', "UNSUPPORTED_MEDIA_TYPE")
    return parse_json(raw)


def _too_large() -> ApiError:
    return ApiError(413, f"Request body is larger than {MAX_BODY_BYTES} bytes.", "ENTITY_TOO_LARGE")


def owned_organization(store: Store, org_id: str, account_id: str) -> dict[str, Any]:
    """The organization if the caller's account owns it: 404 when it does not exist, 401 when it
    belongs to another account (the API answers 401 when a token may not see an id)."""
    org = store.organization(org_id) if is_object_id(org_id) else None
    if org is None:
        raise not_found(f"Organization {org_id} not found")
    if org["account_id"] != account_id:
        raise unauthorized()
    return org


def no_content() -> Response:
    return Response(status_code=204)


# Account

@router.get("/v1/accounts/authorized", name="check_token")
async def check_token(request: Request) -> JSONResponse:
    account = store_of(request).account(require_account(request))
    assert account is not None
    return JSONResponse({"id": account["id"], "email": account["email"]})


# Stripe Connect config (one per account)

@router.get("/v1/stripe-connect", name="get_connect")
async def get_connect(request: Request) -> JSONResponse:
    record = store_of(request).connect_config(require_account(request))
    if record is None:
        raise not_found("Stripe Connect is not enabled for this account")
    return JSONResponse(connect_json(record, control_of(request).settings.secrets))


@router.post("/v1/stripe-connect", name="enable_connect")
async def enable_connect(request: Request) -> JSONResponse:
    account_id = require_account(request)
    body = validate(await read_body(request), CONNECT_SCHEMA, required=("privateKey", "publicKey"))
    fields = {CONNECT_WIRE_TO_STORE[key]: value for key, value in body.items()}
    record = store_of(request).enable_connect(account_id, fields)
    if record is None:
        raise unprocessable("Stripe Connect is already enabled for this account", "STRIPE_CONNECT_ALREADY_EXISTS")
    return JSONResponse(connect_json(record, control_of(request).settings.secrets))


@router.patch("/v1/stripe-connect", name="update_connect")
async def update_connect(request: Request) -> Response:
    account_id = require_account(request)
    body = validate(await read_body(request), CONNECT_SCHEMA)
    fields = {CONNECT_WIRE_TO_STORE[key]: value for key, value in body.items()}
    if store_of(request).update_connect(account_id, **fields) is None:
        raise not_found("Stripe Connect is not enabled for this account")
    return no_content()


# Stripe Connect accounts (one per organization)

@router.get("/v1/organizations/{org_id}/stripe-connect/account", name="get_account")
async def get_account(request: Request, org_id: str) -> JSONResponse:
    store = store_of(request)
    owned_organization(store, org_id, require_account(request))
    record = store.org_account(org_id)
    if record is None:
        raise not_found(f"Stripe Connect account for organization {org_id} not found")
    return JSONResponse(org_account_json(record))


@router.post("/v1/organizations/{org_id}/stripe-connect/account", name="create_account")
async def create_account(request: Request, org_id: str) -> JSONResponse:
    store = store_of(request)
    account_id = require_account(request)
    body = validate(await read_body(request), NEW_ACCOUNT_SCHEMA)
    owned_organization(store, org_id, account_id)
    config = store.connect_config(account_id)
    if config is None:
        raise unprocessable("Stripe Connect is not enabled for this account", "STRIPE_CONNECT_NOT_ENABLED")
    record = store.create_org_account(org_id, config["id"], active=body.get("active", True))
    if record is None:
        raise unprocessable(
            f"Organization {org_id} already has a Stripe Connect account", "STRIPE_CONNECT_ACCOUNT_ALREADY_EXISTS"
        )
    return JSONResponse(org_account_json(record))


@router.patch("/v1/stripe-connect/accounts/{record_id}", name="update_account")
async def update_account(request: Request, record_id: str) -> Response:
    store = store_of(request)
    account_id = require_account(request)
    body = validate(await read_body(request), PATCH_ACCOUNT_SCHEMA)
    record = store.org_account_by_id(record_id) if is_object_id(record_id) else None
    if record is None:
        raise not_found(f"Stripe Connect account {record_id} not found")
    if record["account_id"] != account_id:
        raise unauthorized()
    if "active" in body:
        store.update_org_account(record_id, active=body["active"])
    return no_content()


@router.api_route(
    "/v1/organizations/{org_id}/stripe-connect/account/link", methods=["POST", "GET"], name="create_link"
)
async def create_link(request: Request, org_id: str) -> JSONResponse:
    store = store_of(request)
    account_id = require_account(request)
    if request.method == "POST":
        await read_body(request)  # the doc page sends {}; anything else is ignored, but must be JSON
    owned_organization(store, org_id, account_id)
    if store.org_account(org_id) is None:
        raise unprocessable(
            f"Organization {org_id} has no Stripe Connect account yet; create it first",
            "STRIPE_CONNECT_ACCOUNT_NOT_FOUND",
        )
    token = store.create_link(org_id)
    return JSONResponse({"url": f"{str(request.base_url).rstrip('/')}/sandbox/onboarding/{token}"})


# Pay-now data (no auth: the shareable id is the credential)

def payment_refusal(store: Store, invoice: dict[str, Any]) -> ApiError | None:
    """Why the invoice cannot be paid through Stripe Connect now, or None when it can."""
    if invoice["paid"]:
        return unprocessable("This document is already paid", "DOCUMENT_ALREADY_PAID")
    org = store.organization(invoice["organization_id"])
    config = store.connect_config(org["account_id"]) if org else None
    account = store.org_account(invoice["organization_id"])
    if config is None or not config["active"]:
        return unprocessable("Stripe Connect is not active for this document", "STRIPE_CONNECT_NOT_ONBOARDED")
    if account is None or not account["active"] or not account["charges_enabled"]:
        return unprocessable(
            "The organization has not completed Stripe Connect onboarding", "STRIPE_CONNECT_NOT_ONBOARDED"
        )
    return None


@router.get("/v1/documents/{shareable_id}/stripe-connect/payment-intent", name="get_payment_intent")
async def get_payment_intent(request: Request, shareable_id: str) -> JSONResponse:
    store = store_of(request)
    invoice = store.invoice(shareable_id)
    if invoice is None:
        raise not_found(f"Document {shareable_id} not found")
    refusal = payment_refusal(store, invoice)
    if refusal is not None:
        raise refusal
    org = store.organization(invoice["organization_id"])
    config = store.connect_config(org["account_id"]) if org else None
    intent = store.payment_intent(shareable_id)
    assert config is not None and intent is not None
    return JSONResponse({
        "publicKey": config["public_key"],
        "clientSecret": intent["client_secret"],
        "paymentIntentId": intent["payment_intent_id"],
        "amount": intent["amount"],
        "currencyId": intent["currency"],
    })
