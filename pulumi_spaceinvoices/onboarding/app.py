"""The onboarding endpoint as an ASGI app (Starlette): serve it with ``spaceinvoices-onboarding serve``
or mount it into your own app::

    from starlette.routing import Mount
    from pulumi_spaceinvoices.onboarding import create_app

    routes = [..., Mount("/onboarding", app=create_app())]   # spaceinvoices:onboardingUrl = https://<host>/onboarding

Every request goes to :meth:`OnboardingEndpoint.handle`; the ones that may call the API run in a
worker thread. The access log names the route, never the URL (its query holds the signature).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .core import Authorizer, OnboardingEndpoint, Settings, Visit

access_log = logging.getLogger("pulumi_spaceinvoices.onboarding.access")

MAX_FORM_BYTES = 4096
_OFFLINE_ROUTES = ("GET", "HEAD")  # entry pages and health: no API call, served on the event loop


def create_app(settings: Settings | None = None, *, authorize: Authorizer | None = None,
               endpoint: OnboardingEndpoint | None = None) -> Starlette:
    """The ASGI app. ``settings`` default to :meth:`Settings.resolve` (the environment);
    ``authorize(request, organization_id)`` may refuse a visit (False) or send it to a login (a URL)."""
    endpoint = endpoint or OnboardingEndpoint(settings or Settings.resolve(), authorize=authorize)

    async def dispatch(request: Request) -> Response:
        started = time.perf_counter()
        path = "/" + request.path_params.get("path", "")
        form: dict[str, str] = {}
        if request.method == "POST":
            body = await request.body()
            if len(body) > MAX_FORM_BYTES:
                return Response("request too large", status_code=413)
            form = dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=8))
        visit = Visit(request.method, path, dict(request.query_params), {k.lower(): v for k, v in request.headers.items()},
                      dict(request.cookies), form, request)
        offline = request.method in _OFFLINE_ROUTES and not path.startswith(("/refresh", "/return"))
        reply = endpoint.handle(visit) if offline else await run_in_threadpool(endpoint.handle, visit)
        body_text = "" if request.method == "HEAD" else reply.body
        response = Response(body_text, status_code=reply.status, headers=reply.headers)
        for cookie in reply.cookies:
            response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))
        own = time.perf_counter() - started - reply.api_seconds
        response.headers["Server-Timing"] = f"app;dur={own * 1000:.3f}, api;dur={reply.api_seconds * 1000:.3f}"
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("%s %s %d %.1fms", request.method, reply.route, reply.status,
                            (time.perf_counter() - started) * 1000)
        return response

    app = Starlette(routes=[Route("/{path:path}", dispatch, methods=["GET", "HEAD", "POST"])])
    app.state.endpoint = endpoint
    return app
