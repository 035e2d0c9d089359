"""Admin API under `/_sandbox/` for scripts in other processes (quickstart, examples, benchmarks).

No Space Invoices auth: the sandbox is a local test server. Admin calls are not rate limited, not
subject to faults, and not written to the request log.

    POST   /_sandbox/accounts                      {email?}                -> 201 {id, email, token}
    POST   /_sandbox/accounts/{id}/tokens                                  -> 201 {token}
    POST   /_sandbox/accounts/{id}/organizations   {name?}                 -> 201 {id, name, accountId}
    POST   /_sandbox/organizations/{id}/invoices   {amount, currency?, number?} -> 201 invoice
    GET    /_sandbox/invoices/{shareableId}                                -> invoice (with `paid`)
    POST   /_sandbox/demo                                                  -> the demo seed (same on every call)
    GET    /_sandbox/requests?operation=&method=                           -> {requests: [...]}
    DELETE /_sandbox/requests                                              -> 204
    POST   /_sandbox/faults   {kind: error|drop|lose_response|latency, operation?, method?, path?,
                               count?, status?, retryAfter?, seconds?}     -> 204
    DELETE /_sandbox/faults                                                -> 204 (faults and latency)
    GET    /_sandbox/settings                                              -> settings
    PATCH  /_sandbox/settings {secrets?, linkMethods?, linkDisallowed?, rateLimit?, linkExpirySeconds?}
    POST   /_sandbox/reset                                                 -> 204 (settings, faults, log)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from .api import control_of, read_body, store_of
from .control import Settings
from .wire import ApiError, Schema, not_found, validate

router = APIRouter(prefix="/_sandbox")

_FAULT_SCHEMA: Schema = {
    "kind": {"type": "string"}, "operation": {"type": "string"}, "method": {"type": "string"},
    "path": {"type": "string"}, "count": {"type": "number", "minimum": 1}, "status": {"type": "number"},
    "retryAfter": {"type": "number", "minimum": 0}, "seconds": {"type": "number", "minimum": 0},
}
_SETTINGS_SCHEMA: Schema = {
    "secrets": {"type": "string"}, "linkMethods": {"type": "array"}, "linkDisallowed": {"type": "string"},
    "rateLimit": {"type": "number", "minimum": 0}, "linkExpirySeconds": {"type": "number", "minimum": 0},
}


def _bad(exc: Exception) -> ApiError:
    return ApiError(422, str(exc), "INVALID_SANDBOX_REQUEST")


def invoice_json(invoice: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": invoice["id"], "shareableId": invoice["shareable_id"], "organizationId": invoice["organization_id"],
        "number": invoice["number"], "amount": invoice["amount"], "currency": invoice["currency"],
        "paid": invoice["paid"],
    }


def settings_json(settings: Settings) -> dict[str, Any]:
    return {
        "secrets": settings.secrets, "linkMethods": sorted(settings.link_methods),
        "linkDisallowed": settings.link_disallowed, "rateLimit": settings.rate_limit,
        "linkExpirySeconds": settings.link_expiry_seconds,
    }


@router.post("/accounts", status_code=201)
async def create_account(request: Request) -> dict[str, Any]:
    body = validate(await read_body(request), {"email": {"type": "string"}})
    account = store_of(request).create_account(body.get("email", "ops@example.com"))
    return {"id": account["id"], "email": account["email"], "token": account["token"]}


@router.post("/accounts/{account_id}/tokens", status_code=201)
async def create_token(request: Request, account_id: str) -> dict[str, Any]:
    if store_of(request).account(account_id) is None:
        raise not_found(f"Account {account_id} not found")
    return {"token": store_of(request).create_token(account_id)}


@router.post("/accounts/{account_id}/organizations", status_code=201)
async def create_organization(request: Request, account_id: str) -> dict[str, Any]:
    body = validate(await read_body(request), {"name": {"type": "string"}})
    store = store_of(request)
    if store.account(account_id) is None:
        raise not_found(f"Account {account_id} not found")
    name = body.get("name", "Organization")
    return {"id": store.create_organization(account_id, name), "name": name, "accountId": account_id}


@router.post("/organizations/{org_id}/invoices", status_code=201)
async def create_invoice(request: Request, org_id: str) -> dict[str, Any]:
    schema: Schema = {"amount": {"type": "number", "minimum": 0}, "currency": {"type": "string"}, "number": {"type": "string"}}
    body = validate(await read_body(request), schema, required=("amount",))
    store = store_of(request)
    if store.organization(org_id) is None:
        raise not_found(f"Organization {org_id} not found")
    invoice = store.create_invoice(
        org_id, amount=body["amount"], currency=body.get("currency", "EUR"), number=body.get("number")
    )
    return invoice_json(invoice)


@router.get("/invoices/{shareable_id}")
async def read_invoice(request: Request, shareable_id: str) -> dict[str, Any]:
    invoice = store_of(request).invoice(shareable_id)
    if invoice is None:
        raise not_found(f"Invoice {shareable_id} not found")
    return invoice_json(invoice)


@router.post("/demo")
async def seed_demo(request: Request) -> dict[str, Any]:
    demo = store_of(request).seed_demo()
    return {
        "accountId": demo["account_id"], "token": demo["token"], "organizationId": demo["organization_id"],
        "invoiceId": demo["invoice_id"], "shareableId": demo["shareable_id"],
    }


@router.get("/requests")
async def read_requests(request: Request, operation: str | None = None, method: str | None = None) -> JSONResponse:
    records = control_of(request).log.records(operation, method)
    return JSONResponse({"requests": [asdict(record) for record in records]})


@router.delete("/requests", status_code=204)
async def clear_requests(request: Request) -> Response:
    control_of(request).log.clear()
    return Response(status_code=204)


@router.post("/faults", status_code=204)
async def add_fault(request: Request) -> Response:
    body = validate(await read_body(request), _FAULT_SCHEMA, required=("kind",))
    faults = control_of(request).faults
    try:
        if body["kind"] == "latency":
            faults.set_latency(body.get("seconds", 0.0), body.get("operation"))
        else:
            faults.add(
                body["kind"], operation=body.get("operation"), count=int(body.get("count", 1)),
                status=int(body.get("status", 503)), retry_after=body.get("retryAfter"),
                path=body.get("path"), method=body.get("method"),
            )
    except ValueError as exc:  # also a bad regular expression (re.error is a ValueError)
        raise _bad(exc) from None
    return Response(status_code=204)


@router.delete("/faults", status_code=204)
async def clear_faults(request: Request) -> Response:
    control_of(request).faults.clear()
    return Response(status_code=204)


@router.get("/settings")
async def read_settings(request: Request) -> dict[str, Any]:
    return settings_json(control_of(request).settings)


@router.patch("/settings")
async def update_settings(request: Request) -> dict[str, Any]:
    body = validate(await read_body(request), _SETTINGS_SCHEMA)
    names = {"secrets": "secrets", "linkDisallowed": "link_disallowed", "linkExpirySeconds": "link_expiry_seconds"}
    changes = {names[key]: value for key, value in body.items() if key in names}
    if "linkMethods" in body:
        if not all(isinstance(method, str) for method in body["linkMethods"]):
            raise _bad(ValueError("linkMethods must be a list of HTTP verbs"))
        changes["link_methods"] = frozenset(method.upper() for method in body["linkMethods"])
    if "rateLimit" in body:
        changes["rate_limit"] = int(body["rateLimit"]) or None
    try:
        settings = control_of(request).update_settings(**changes)
    except ValueError as exc:
        raise _bad(exc) from None
    return settings_json(settings)


@router.post("/reset", status_code=204)
async def reset(request: Request) -> Response:
    control_of(request).reset()
    return Response(status_code=204)
