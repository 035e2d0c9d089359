"""The onboarding endpoint inside a platform's own web app, over real HTTP: mounted in a Starlette app
behind the platform's login (examples/onboarding/platform_app.py, its `authorize` hook), and as a
Flask view over the framework-free core (examples/onboarding/flask_app.py)."""

from __future__ import annotations

import importlib.util
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from pulumi_spaceinvoices.onboarding_entry import entry_url
from tests.support import (
    SIGNING_KEY,
    OnboardingProcess,
    api_calls,
    connect_to_endpoint,
    csrf_of,
    free_port,
)

pytestmark = pytest.mark.sandbox

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "onboarding"





def test_mounted_behind_the_platform_login_the_hook_decides_who_may_onboard(sandbox, account, configured, org_id):
    other_org = sandbox.create_organization(account.id, "Not yours")
    platform = OnboardingProcess(sandbox, account.token, app=(str(EXAMPLE), "platform_app:app"),
                                 env={"PLATFORM_SESSION_KEY": "platform-session-key-0123456789abcdef"})
    connect_to_endpoint(platform.url, org_id)
    with platform:
        sandbox.clear_requests()
        mine, theirs = entry_url(platform.url, org_id, SIGNING_KEY), entry_url(platform.url, other_org, SIGNING_KEY)
        browser = requests.Session()
        to_login = browser.get(mine, allow_redirects=False, timeout=10)
        assert to_login.status_code == 303 and to_login.headers["Location"].startswith("/login?next=")

        origin = f"{urlsplit(platform.url).scheme}://{urlsplit(platform.url).netloc}"
        back = parse_qs(urlsplit(to_login.headers["Location"]).query)["next"][0]
        signed_in = browser.get(f"{origin}/login", params={"organizations": org_id, "next": back}, timeout=10)
        assert signed_in.status_code == 200 and signed_in.url == mine  # back on the entry page, signed in
        assert browser.get(theirs, timeout=10).status_code == 403  # a valid URL, but not this user's organization
        assert api_calls(sandbox) == Counter()

        started = browser.post(mine, data={"csrf": csrf_of(signed_in.text)}, headers={"Origin": origin},
                               allow_redirects=False, timeout=10)
        assert started.status_code == 303 and started.headers["Location"].startswith(f"{sandbox.url}/sandbox/")
        assert "Path=/onboarding" in started.headers["Set-Cookie"]
        assert api_calls(sandbox) == Counter({"get_account": 1, "create_link": 1})
    assert SIGNING_KEY not in platform.stop() and "sig=" not in platform.stop()


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # the request line holds the signature
        pass


@pytest.fixture
def flask_site(sandbox: Any, account: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/onboarding"
    for name, value in {"SPACEINVOICES_API_URL": sandbox.url, "SPACEINVOICES_ACCESS_TOKEN": account.token,
                        "SPACEINVOICES_ONBOARDING_URL": base, "SPACEINVOICES_ONBOARDING_SIGNING_KEY": SIGNING_KEY}.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("flask_app", EXAMPLE / "flask_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = make_server("127.0.0.1", port, module.app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()


def test_a_flask_view_over_the_core_serves_the_same_flow(sandbox, configured, org_id, flask_site):
    connect_to_endpoint(flask_site, org_id)
    sandbox.clear_requests()
    url = entry_url(flask_site, org_id, SIGNING_KEY)
    browser = requests.Session()
    page = browser.get(url, timeout=10)
    assert page.status_code == 200 and 'id="continue"' in page.text
    assert requests.get(url.replace("sig=", "sig=x"), timeout=10).status_code == 403
    assert api_calls(sandbox) == Counter()
    started = browser.post(url, data={"csrf": csrf_of(page.text)}, headers={"Origin": "http://" + urlsplit(url).netloc},
                           allow_redirects=False, timeout=10)
    assert started.status_code == 303
    assert api_calls(sandbox) == Counter({"get_account": 1, "create_link": 1})
    assert browser.get(f"{flask_site}/return", timeout=10).text.count('data-status="pending"') == 1
