"""The onboarding endpoint over real HTTP: `spaceinvoices-onboarding serve` in a process of its own,
in front of the sandbox, with the sandbox's request log counting every API call.

The entry page mints nothing (previews and scanners consume nothing); the button mints one link and
answers 303; refresh and return take the organization from the signed cookie; every refusal is a 4xx
page with no API call; a burst stays within the throttle with no 429 from the API; a restart keeps
the entry URLs working; a key rotation refuses old URLs after its grace period; no log line holds a
token, key, link, signature or cookie.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from pulumi_spaceinvoices.onboarding import Throttle
from pulumi_spaceinvoices.onboarding_entry import entry_url, get_onboarding_entry_url
from pulumi_spaceinvoices.organization_connect_account import OrganizationConnectAccountProvider
from pulumi_spaceinvoices.stripe_connect_config import StripeConnectConfigProvider
from tests.support import (
    SECRET_KEY,
    SIGNING_KEY,
    OnboardingProcess,
    api_calls,
    connect_inputs,
    connect_to_endpoint,
    csrf_of,
    live_secret_key,
)

pytestmark = pytest.mark.sandbox

OTHER_KEY = "another-platforms-signing-key-0123456789abcdefgh"
PREVIEW_BOTS = ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "facebookexternalhit/1.1",
                "Mozilla/5.0 (compatible; Microsoft Office/16.0; ms-office; MSOffice 16)")





@pytest.fixture
def endpoint(sandbox: Any, account: Any, configured: None, org_id: str) -> Any:
    process = OnboardingProcess(sandbox, account.token)
    connect_to_endpoint(process.url, org_id)
    with process:
        sandbox.clear_requests()
        yield process


def url_for(endpoint: OnboardingProcess, org_id: str, *, key: str = SIGNING_KEY, until: date | None = None) -> str:
    return entry_url(endpoint.url, org_id, key, until)


def press_continue(browser: requests.Session, endpoint: OnboardingProcess, url: str) -> requests.Response:
    """What a person does: open the entry URL, press the button (a same-origin form POST)."""
    page = browser.get(url, timeout=10)
    assert page.status_code == 200, page.text
    return browser.post(url, data={"csrf": csrf_of(page.text)}, headers={"Origin": endpoint.url},
                        allow_redirects=False, timeout=10)


def test_the_entry_page_and_link_previews_mint_nothing(sandbox, endpoint, org_id):
    url = url_for(endpoint, org_id)
    page = requests.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200
    assert 'id="continue"' in page.text and org_id in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    for bot in PREVIEW_BOTS:
        assert requests.get(url, headers={"User-Agent": bot}, allow_redirects=False, timeout=10).status_code == 200
        head = requests.head(url, headers={"User-Agent": bot}, timeout=10)
        assert head.status_code == 200 and head.text == ""
    assert requests.head(f"{endpoint.url}/refresh", timeout=10).status_code == 400
    assert api_calls(sandbox) == Counter()


def test_the_button_mints_a_link_refresh_mints_another_and_return_reads_the_account(sandbox, endpoint, org_id):
    browser = requests.Session()
    started = press_continue(browser, endpoint, url_for(endpoint, org_id))
    assert started.status_code == 303
    first_link = started.headers["Location"]
    assert first_link.startswith(f"{sandbox.url}/sandbox/onboarding/")
    cookie = started.headers["Set-Cookie"]
    assert "si_onboarding=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https base URLs get Secure
    assert api_calls(sandbox) == Counter({"get_account": 1, "create_link": 1})

    time.sleep(3.1)  # the per-organization interval between two links
    sandbox.clear_requests()
    refreshed = browser.get(f"{endpoint.url}/refresh", allow_redirects=False, timeout=10)
    assert refreshed.status_code == 303
    second_link = refreshed.headers["Location"]
    assert second_link != first_link and second_link.startswith(f"{sandbox.url}/sandbox/onboarding/")
    assert api_calls(sandbox) == Counter({"get_account": 1, "create_link": 1})

    sandbox.clear_requests()
    pending = browser.get(f"{endpoint.url}/return", timeout=10)
    assert pending.status_code == 200 and 'data-status="pending"' in pending.text  # return proves nothing
    assert api_calls(sandbox) == Counter({"get_account": 1})

    finished = browser.post(second_link, allow_redirects=False, timeout=10)  # the sandbox's "Complete" button
    assert finished.status_code == 303 and finished.headers["Location"] == f"{endpoint.url}/return"
    sandbox.clear_requests()
    done = browser.get(finished.headers["Location"], timeout=10)
    assert done.status_code == 200 and 'data-status="complete"' in done.text
    assert api_calls(sandbox) == Counter({"get_account": 1})

    time.sleep(3.1)
    sandbox.clear_requests()
    again = press_continue(browser, endpoint, url_for(endpoint, org_id))
    assert again.status_code == 200 and 'data-status="complete"' in again.text  # no link once complete
    assert api_calls(sandbox) == Counter({"get_account": 1})

    log = endpoint.stop()
    assert "POST entry 303" in log and "GET refresh 303" in log and "GET return 200" in log
    session_value = cookie.split(";", 1)[0].split("=", 1)[1]
    for secret in (endpoint.env["SPACEINVOICES_ACCESS_TOKEN"], SIGNING_KEY, first_link, second_link,
                   first_link.rsplit("/", 1)[1], session_value, url_for(endpoint, org_id).split("sig=")[1], SECRET_KEY):
        assert secret not in log


def test_every_refusal_is_a_4xx_page_with_no_api_call(sandbox, endpoint, org_id, account):
    other_org = sandbox.create_organization(account.id, "Other")
    good = url_for(endpoint, org_id)
    signature = good.split("sig=")[1]
    middle = len(good) - 10
    tampered = good[:middle] + ("A" if good[middle] != "A" else "B") + good[middle + 1:]
    yesterday = date.today() - timedelta(days=2)
    browser = requests.Session()
    other_page = browser.get(url_for(endpoint, other_org), timeout=10)  # a real page and csrf, for the other org
    cases = {
        "unsigned": ("GET", f"{endpoint.url}/o/{org_id}", {}, 403),
        "tampered": ("GET", tampered, {}, 403),
        "another organization's signature": ("GET", f"{endpoint.url}/o/{other_org}?sig={signature}", {}, 403),
        "a foreign key": ("GET", url_for(endpoint, org_id, key=OTHER_KEY), {}, 403),
        "a changed day": ("GET", url_for(endpoint, org_id, until=date(2099, 1, 1)).split("&sig=")[0]
                          + f"&sig={signature}", {}, 403),
        "past its day": ("GET", url_for(endpoint, org_id, until=yesterday), {}, 410),
        "past its day, the button": ("POST", url_for(endpoint, org_id, until=yesterday), {"data": {"csrf": "x"}}, 410),
        "not an organization id": ("GET", f"{endpoint.url}/o/not-an-id?sig={signature}", {}, 404),
        "no CSRF token": ("POST", good, {}, 403),
        "another page's CSRF token": ("POST", good, {"data": {"csrf": csrf_of(other_page.text)}}, 403),
        "another site's form": ("POST", good, {"data": {"csrf": csrf_of(other_page.text)},
                                               "headers": {"Origin": "https://evil.example"}}, 403),
        "refresh without a cookie": ("GET", f"{endpoint.url}/refresh", {"cookies": {}}, 400),
        "return without a cookie": ("GET", f"{endpoint.url}/return", {"cookies": {}}, 400),
        "a forged cookie": ("GET", f"{endpoint.url}/refresh", {"cookies": {"si_onboarding": f"{org_id}.x.y"}}, 400),
        "continue without a cookie": ("POST", f"{endpoint.url}/continue", {"data": {"organization": org_id}}, 400),
        "an unknown path": ("GET", f"{endpoint.url}/admin", {}, 404),
    }
    for name, (method, url, extra, status) in cases.items():
        session = browser if name in ("another page's CSRF token", "another site's form") else requests.Session()
        answer = session.request(method, url, allow_redirects=False, timeout=10, **extra)
        assert answer.status_code == status, name
        assert answer.headers["Content-Type"].startswith("text/html"), name
    assert api_calls(sandbox) == Counter()

    # Another organization's cookie: a session for org A cannot continue org B's onboarding.
    OrganizationConnectAccountProvider().create({"organization_id": other_org, "active": True})
    started = press_continue(browser, endpoint, url_for(endpoint, other_org))
    assert started.status_code == 303
    sandbox.clear_requests()
    page = browser.get(url_for(endpoint, org_id), timeout=10)
    crossed = browser.post(f"{endpoint.url}/continue", data={"organization": org_id, "csrf": csrf_of(page.text)},
                           headers={"Origin": endpoint.url}, allow_redirects=False, timeout=10)
    assert crossed.status_code == 403
    assert api_calls(sandbox) == Counter()


def test_a_burst_mints_no_more_links_than_the_throttle_allows(sandbox, account, configured):
    orgs = [sandbox.create_organization(account.id, f"Shop {n}") for n in range(10)]
    process = OnboardingProcess(sandbox, account.token, args=("--no-check", "--requests-per-second", "10"))
    connect_to_endpoint(process.url, *orgs)
    with process:
        forms = []
        for org in orgs:  # each person's browser got its page (free) before the burst
            browser = requests.Session()
            url = url_for(process, org)
            forms.append((browser, url, csrf_of(browser.get(url, timeout=10).text)))
        sandbox.clear_requests()
        statuses: list[int] = []
        retry_after: list[str] = []
        lock = threading.Lock()

        def press(n: int) -> None:
            browser, url, csrf = forms[n % len(forms)]
            answer = requests.post(url, data={"csrf": csrf}, cookies=browser.cookies, headers={"Origin": process.url},
                                   allow_redirects=False, timeout=20)
            with lock:
                statuses.append(answer.status_code)
                if answer.status_code == 429:
                    retry_after.append(answer.headers["Retry-After"])

        started = time.monotonic()
        threads = [threading.Thread(target=press, args=(n,)) for n in range(100)]
        for n, thread in enumerate(threads):
            thread.start()
            time.sleep(max(0.0, started + n / 100 - time.monotonic()))  # 100 POSTs over one second
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    minted = sandbox.count("create_link")
    # One link per organization per 3 s, and 10 API calls/s overall (2 per link, a 1 s bucket to start).
    assert minted == statuses.count(303)
    assert minted <= min(len(orgs), int((10 + 10 * elapsed) / 2))
    assert minted >= 4  # the throttle lets the first of them through
    assert statuses.count(429) == 100 - minted and all(int(s) >= 1 for s in retry_after)
    assert [r for r in sandbox.requests() if r.status == 429] == []


def test_entry_urls_and_sessions_survive_a_restart(sandbox, endpoint, org_id):
    url = url_for(endpoint, org_id)
    browser = requests.Session()
    assert press_continue(browser, endpoint, url).status_code == 303
    endpoint.restart()
    time.sleep(3.1)
    assert requests.get(url, timeout=10).status_code == 200
    assert browser.get(f"{endpoint.url}/refresh", allow_redirects=False, timeout=10).status_code == 303


def test_a_key_rotation_refuses_old_urls_after_its_grace_period(sandbox, account, configured, org_id):
    new_key = "the-rotated-signing-key-0123456789abcdefghijklm"
    process = OnboardingProcess(sandbox, account.token)
    connect_to_endpoint(process.url, org_id)
    old_url, new_url = url_for(process, org_id), url_for(process, org_id, key=new_key)
    assert old_url != new_url
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    process.env.update({"SPACEINVOICES_ONBOARDING_SIGNING_KEY": new_key,
                        "SPACEINVOICES_ONBOARDING_PREVIOUS_KEY": SIGNING_KEY,
                        "SPACEINVOICES_ONBOARDING_PREVIOUS_KEY_UNTIL": tomorrow})
    with process:
        assert requests.get(old_url, timeout=10).status_code == 200  # in the grace period
        assert requests.get(new_url, timeout=10).status_code == 200
        process.env["SPACEINVOICES_ONBOARDING_PREVIOUS_KEY_UNTIL"] = "2020-01-01T00:00:00Z"
        process.restart()
        refused = requests.get(old_url, timeout=10)
        assert refused.status_code == 403 and "revoked" in refused.text
        assert requests.get(new_url, timeout=10).status_code == 200
        del process.env["SPACEINVOICES_ONBOARDING_PREVIOUS_KEY"], process.env["SPACEINVOICES_ONBOARDING_PREVIOUS_KEY_UNTIL"]
        process.restart()
        assert requests.get(old_url, timeout=10).status_code == 403
    assert api_calls(sandbox) == Counter({"get_connect": 1, "enable_connect": 1, "get_account": 1, "create_account": 1})


def test_the_function_makes_the_url_the_endpoint_accepts(endpoint, org_id, monkeypatch):
    monkeypatch.setenv("SPACEINVOICES_ONBOARDING_URL", endpoint.url)
    monkeypatch.setenv("SPACEINVOICES_ONBOARDING_SIGNING_KEY", SIGNING_KEY)
    made = get_onboarding_entry_url(org_id)
    assert made == get_onboarding_entry_url(org_id)  # deterministic
    assert made.url == url_for(endpoint, org_id) and SIGNING_KEY not in repr(made) and made.url not in repr(made)
    dated = get_onboarding_entry_url(org_id, valid_until="2099-12-31")
    assert dated.valid_until == "2099-12-31" and requests.get(dated.url, timeout=10).status_code == 200


@pytest.mark.parametrize(("env", "named"), [
    ({"SPACEINVOICES_ONBOARDING_SIGNING_KEY": "too-short"}, "shorter than 32 bytes"),
    ({"SPACEINVOICES_ONBOARDING_SIGNING_KEY": ""}, "No onboarding signing key is set"),
    ({"SPACEINVOICES_ONBOARDING_URL": "https://user:pass@onboard.example.com"}, "user name or password"),
    ({"SPACEINVOICES_ONBOARDING_URL": "onboard.example.com"}, "is not an http(s) URL"),
    ({"SPACEINVOICES_ONBOARDING_PREVIOUS_KEY": SIGNING_KEY + "-old"}, "SPACEINVOICES_ONBOARDING_PREVIOUS_KEY_UNTIL"),
])
def test_bad_settings_stop_the_command_with_the_setting_named(sandbox, account, env, named):
    process = OnboardingProcess(sandbox, account.token, env=env)
    with pytest.raises(RuntimeError, match="exited"):
        process.start()
    out = process.stop()
    assert named in out and "Traceback" not in out and "pass@" not in out


def test_live_keys_need_an_https_endpoint(sandbox, account, configured, org_id):
    process = OnboardingProcess(sandbox, account.token, args=())  # with the start-up check (one GET)
    StripeConnectConfigProvider().create(connect_inputs(
        private_key=live_secret_key("L" * 24), public_key="pk_live_" + "L" * 24,
        refresh_url="https://onboard.example.com/refresh", return_url="https://onboard.example.com/return"))
    with pytest.raises(RuntimeError, match="exited"):
        process.start()
    out = process.stop()
    # Not the key, nor any part of it: not even its prefix (live_secret_key("") is "sk_live_").
    assert "must be https" in out and "SPACEINVOICES_ONBOARDING_URL" in out and live_secret_key("") not in out


def test_the_throttle_spaces_links_per_organization_and_keeps_to_the_overall_rate():
    now = [0.0]
    throttle = Throttle(interval=3.0, per_second=4.0, clock=lambda: now[0])
    assert throttle.take(2, "a") == 0.0
    assert throttle.take(2, "a") == pytest.approx(3.0)  # the same organization again at once
    assert throttle.take(2, "b") == 0.0  # the bucket held 4 calls
    assert throttle.take(2, "c") == pytest.approx(0.5)  # empty: 2 calls at 4/s
    now[0] = 0.5
    assert throttle.take(2, "c") == 0.0
    assert throttle.take(1) == pytest.approx(0.25)
    now[0] = 3.0
    assert throttle.take(2, "a") == 0.0
