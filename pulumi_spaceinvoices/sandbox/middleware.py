"""The sandbox's front door: an ASGI middleware around the FastAPI app.

For every request outside `/_sandbox/` it names the operation and maps the path, in any letter case,
onto the canonical route; resolves the access token; decides on arrival whether the rate limit
(paths under /v1) or an injected fault (error status, dropped connection, answer lost after the work
was done) applies; waits out any added latency; answers unknown routes and disallowed link verbs like
LoopBack; and records the request in the log (never a token, an onboarding link's token or the body)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from .api import AUTH_STATE
from .control import Control, FaultRule, RequestRecord
from .store import Store
from .transport import abort_connection
from .wire import drain_body, endpoint_not_found, error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ADMIN_PREFIX = "/_sandbox/"
SECRET_PATH_OPERATIONS = frozenset({"page_onboarding"})
"""Operations whose last path segment is a secret (an onboarding link's token): logged as [redacted]."""


@dataclass(frozen=True)
class _Route:
    template: str
    pattern: re.Pattern[str]
    operations: dict[str, str]  # HTTP method -> operation name


@dataclass(frozen=True)
class _Match:
    operation: str
    path: str  # canonical: the route's lower-case template with the request's parameter values


def _compile(routes: Iterable[BaseRoute]) -> list[_Route]:
    """One entry per path template of the given API and page routes."""
    by_template: dict[str, dict[str, str]] = {}
    for route in routes:
        if isinstance(route, APIRoute):
            by_template.setdefault(route.path, {}).update(dict.fromkeys(route.methods or (), route.name))
    compiled = []
    for template, operations in by_template.items():
        parts = re.split(r"\{(\w+)\}", template)  # literal, name, literal, name, ...
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
        compiled.append(_Route(template, re.compile(f"^{regex}$", re.IGNORECASE), operations))
    return compiled


class SandboxMiddleware:
    """Operation naming, case-insensitive paths, auth lookup, rate limit, faults and the request log."""

    def __init__(self, app: ASGIApp, store: Store, control: Control, routes: Iterable[BaseRoute]) -> None:
        """Wrap `app`; `routes` are its API and page routes, whose names are the operation names."""
        self.app = app
        self.store = store
        self.control = control
        self._routes = _compile(routes)

    def match(self, method: str, path: str) -> _Match:
        """The operation a request calls; `unknown` when no route has this path and verb."""
        for route in self._routes:
            found = route.pattern.match(path)
            if found:
                canonical = route.template.format(**found.groupdict())
                return _Match(route.operations.get(method, "unknown"), canonical)
        return _Match("unknown", path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        match = self.match(method, path)
        token = _header(scope, b"authorization")
        account_id = self.store.account_for_token(token) if token else None
        scope.setdefault("state", {})[AUTH_STATE] = (token is not None, account_id)
        if match.operation != "unknown":
            scope["path"], scope["raw_path"] = match.path, quote(match.path).encode("ascii")
        request_id = secrets.token_hex(8)
        logged_path = path.rsplit("/", 1)[0] + "/[redacted]" if match.operation in SECRET_PATH_OPERATIONS else path
        started = time.time()
        generation = self.control.log.generation
        recorded = False

        def record(status: int | None, fault: str | None = None) -> None:
            # Written before the answer (or the reset) leaves, so a client that has its answer always
            # finds its request in the log; dropped if the log was cleared since the request arrived.
            nonlocal recorded
            if not recorded:
                recorded = True
                self.control.log.add(RequestRecord(
                    method=method, path=logged_path, operation=match.operation, status=status, account_id=account_id,
                    timestamp=started, request_id=request_id, fault=fault,
                ), generation)

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start":
                record(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self._serve(scope, receive, send_recorded, match, token, record)
        finally:
            record(None)  # the app failed before answering

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        match: _Match,
        token: str | None,
        record: Callable[[int | None, str | None], None],
    ) -> None:
        # Everything is decided on arrival, before any added latency: a slow request still in flight
        # when a test resets the sandbox cannot use the next test's faults, settings or rate window.
        control, method = self.control, scope["method"]
        settings = control.settings
        wait: int | None = None
        if scope["path"].lower().startswith("/v1/"):
            client = scope.get("client") or ("unknown", 0)
            key = f"token:{token}" if token else f"client:{client[0]}"
            wait = control.limiter.check(key, settings.rate_limit)
        rule = control.faults.take(match.operation, method, match.path) if wait is None else None
        delay = control.faults.latency(match.operation)
        if delay:
            await asyncio.sleep(delay)

        if wait is not None:
            message = f"Rate limit exceeded: {settings.rate_limit} requests per second"
            await _respond(receive, send, 429, error_body(429, message, "TOO_MANY_REQUESTS"), retry_after=wait)
            return
        if rule is not None:
            await self._inject(rule, scope, receive, send, record)
            return

        if match.operation == "create_link" and method not in settings.link_methods:
            if settings.link_disallowed == "405":
                allowed = ", ".join(sorted(settings.link_methods))
                body = error_body(405, f"{method} is not allowed on {scope['path']}", "METHOD_NOT_ALLOWED")
                await _respond(receive, send, 405, body, allow=allowed)
            else:
                await _respond(receive, send, 404, endpoint_not_found(method, scope["path"]))
            return
        if match.operation == "unknown":
            await _respond(receive, send, 404, endpoint_not_found(method, scope["path"]))
            return
        await self.app(scope, receive, send)

    async def _inject(
        self,
        rule: FaultRule,
        scope: Scope,
        receive: Receive,
        send: Send,
        record: Callable[[int | None, str | None], None],
    ) -> None:
        if rule.kind == "error":
            if rule.status >= 500:
                body = error_body(rule.status)  # 5xx answers carry only statusCode and name
            elif rule.status == 429:
                body = error_body(429, "Too many requests", "TOO_MANY_REQUESTS")
            else:
                body = error_body(rule.status, "Fault injected by the sandbox", "SANDBOX_FAULT")
            record(rule.status, "error")
            await _respond(receive, send, rule.status, body, retry_after=rule.retry_after)
        elif rule.kind == "drop":
            record(None, "drop")
            await _drop(scope, receive)
        else:  # lose_response: do the work, then cut the connection instead of answering
            produced: list[int] = []

            async def swallow(message: Message) -> None:
                if message["type"] == "http.response.start":
                    produced.append(message["status"])

            await self.app(scope, receive, swallow)
            record(produced[0] if produced else None, "lose_response")
            await _drop(scope, receive)


def _header(scope: Scope, name: bytes) -> str | None:
    value: bytes
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _respond(
    receive: Receive,
    send: Send,
    status: int,
    body: dict[str, Any],
    *,
    retry_after: float | None = None,
    allow: str | None = None,
) -> None:
    """Send a JSON answer straight from the middleware, after reading the request body (so the
    connection stays usable for the next request)."""
    await drain_body(receive)
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", f"{retry_after:g}".encode()))
    if allow is not None:
        headers.append((b"allow", allow.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _drop(scope: Scope, receive: Receive) -> None:
    """Reset the connection, then wait until the server has noticed, so that it does not send a 500
    for an answer that was never started."""
    if not abort_connection(scope):
        raise RuntimeError("dropping a connection needs the sandbox server (SandboxH11Protocol)")

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(disconnected(), timeout=2.0)
