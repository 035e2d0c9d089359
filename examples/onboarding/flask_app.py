"""The onboarding endpoint as a Flask view: the framework-free core, called with what Flask parsed.

    export SPACEINVOICES_ONBOARDING_URL=https://platform.example.com/onboarding   # and the other settings
    flask --app flask_app run

The same works in Django (a view on `onboarding/<path:path>`). Keep the server's access log off for
these paths, or make it drop the query string: entry URLs carry their signature there.
"""

from __future__ import annotations

from flask import Flask, Response, request

from pulumi_spaceinvoices.onboarding import OnboardingEndpoint, Settings, Visit

endpoint = OnboardingEndpoint(Settings.resolve())
app = Flask(__name__)


@app.route("/onboarding/<path:path>", methods=["GET", "HEAD", "POST"])
def onboarding(path: str) -> Response:
    reply = endpoint.handle(Visit(
        method=request.method, path=f"/{path}", query=request.args.to_dict(),
        headers={key.lower(): value for key, value in request.headers.items()},
        cookies=request.cookies.to_dict(), form=request.form.to_dict(), request=request,
    ))
    response = Response(reply.body, status=reply.status, headers=reply.headers)
    for cookie in reply.cookies:
        response.headers.add("Set-Cookie", cookie)
    return response
