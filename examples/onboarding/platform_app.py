"""A platform's own web app with the onboarding endpoint mounted at /onboarding, behind its login.

    export SPACEINVOICES_ONBOARDING_URL=https://platform.example.com/onboarding   # and the other settings
    export PLATFORM_SESSION_KEY=...                                              # the platform's own secret
    uvicorn platform_app:app --no-access-log

`authorize(request, organization_id)` lets a visit through only when the signed-in user administers
that organization, and sends anyone not signed in to the login page first. The demo login below
(`/login?organizations=<id>,<id>`) stands in for the platform's real one.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from pulumi_spaceinvoices.onboarding import Settings, create_app

sessions = URLSafeSerializer(os.environ["PLATFORM_SESSION_KEY"], salt="platform-login")


def administered(request: Request) -> set[str] | None:
    """The organizations the signed-in user administers; None when nobody is signed in."""
    try:
        return set(sessions.loads(request.cookies.get("platform_user", "")))
    except BadSignature:
        return None


def authorize(request: Request, organization_id: str) -> bool | str:
    organizations = administered(request)
    if organizations is None:  # sign in first, then come back to the same page
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return f"/login?next={quote(back, safe='')}"
    return organization_id in organizations


async def login(request: Request) -> Response:
    """Demo only: signs in as the administrator of the organizations listed in the query."""
    organizations = [o for o in request.query_params.get("organizations", "").split(",") if o]
    response = RedirectResponse(request.query_params.get("next") or "/", status_code=303)
    response.set_cookie("platform_user", sessions.dumps(organizations), httponly=True, samesite="lax")
    return response


app = Starlette(routes=[
    Route("/login", login),
    Mount("/onboarding", app=create_app(Settings.resolve(), authorize=authorize)),
])
