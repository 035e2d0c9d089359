"""Builds the sandbox's ASGI application: the FastAPI routes wrapped in the sandbox middleware."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import admin, api, pages
from .control import Control
from .middleware import SandboxMiddleware
from .store import Store
from .wire import ApiError, endpoint_not_found, error_body


def create_app(store: Store, control: Control) -> SandboxMiddleware:
    """The sandbox as an ASGI app serving `store`, switched and recorded through `control`."""
    app = FastAPI(title="Space Invoices sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.control = control
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _server_error)
    return SandboxMiddleware(app, store, control, routes=[*api.router.routes, *pages.router.routes])


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # Only the admin routes get here (the middleware answers unknown API routes itself).
    if exc.status_code == 404:
        body = endpoint_not_found(request.method, request.url.path)
    else:
        body = error_body(exc.status_code, str(exc.detail), None)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [
        {"path": "/" + "/".join(str(part) for part in error["loc"][1:]), "code": error["type"], "message": error["msg"]}
        for error in exc.errors()
    ]
    return JSONResponse(error_body(422, "The request is invalid.", "VALIDATION_FAILED", details), status_code=422)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises the exception after this answer, so uvicorn logs the traceback.
    return JSONResponse(error_body(500), status_code=500)
