"""A real browser through the sandbox's Stripe stand-in pages: Debian's Chromium, driven by Playwright.

Onboarding: a link from `get_onboarding_link`, completed on the sandbox's page, lands on the
platform's return URL, and the resource's read then sees `charges_enabled`; a used or expired link
lands on the refresh URL. Through the onboarding endpoint: the entry URL's page, its button, Stripe's
page, then the endpoint's return page (complete, or "more details needed"); a used link comes back
through the endpoint's refresh to a fresh one. Payment: with the payment intent available, the pay page marks the invoice
paid. Each page is saved as a screenshot in test-artifacts/. Playwright never downloads a browser
here: it launches /usr/bin/chromium, which `.ci/run` installs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests

from pulumi_spaceinvoices import ValidationError, get_onboarding_link, get_payment_intent
from pulumi_spaceinvoices.onboarding_entry import entry_url
from pulumi_spaceinvoices.organization_connect_account import OrganizationConnectAccountProvider
from pulumi_spaceinvoices.stripe_connect_config import StripeConnectConfigProvider
from tests.support import (
    PUBLIC_KEY,
    SIGNING_KEY,
    OnboardingProcess,
    api_calls,
    connect_inputs,
    connect_to_endpoint,
    serve_http,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium (.ci/run installs it)"
)]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (it is in the dev extra)")


class PlatformPages(BaseHTTPRequestHandler):
    """The platform's own pages that Stripe sends people back to: /stripe/return and /stripe/refresh."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's method name)
        titles = {"/stripe/return": "Onboarding finished", "/stripe/refresh": "Onboarding link expired"}
        title = titles.get(self.path)
        body = f"<!doctype html><title>{title or 'Not found'}</title><h1 id='landing'>{title or 'Not found'}</h1>"
        self.send_response(200 if title else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def platform() -> Iterator[str]:
    with serve_http(PlatformPages) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 900, "height": 700})
    yield context.new_page()
    context.close()


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def connected(configured, platform, org_id) -> dict[str, Any]:
    """Connect enabled (returning to the platform's pages) and the organization's account, through the providers."""
    StripeConnectConfigProvider().create(
        connect_inputs(return_url=f"{platform}/stripe/return", refresh_url=f"{platform}/stripe/refresh")
    )
    return OrganizationConnectAccountProvider().create({"organization_id": org_id, "active": True}).outs


def new_link(sandbox: Any, account: Any, org_id: str) -> str:
    link = get_onboarding_link(org_id, access_token=account.token, api_url=sandbox.url)
    assert link.url and link.onboarding_complete is False
    return link.url


def test_onboarding_in_a_browser_lands_on_the_return_url_and_the_read_sees_charges_enabled(
    page, sandbox, account, org_id, connected, platform
):
    assert connected["charges_enabled"] is False
    page.goto(new_link(sandbox, account, org_id))
    assert page.title() == "Stripe Connect onboarding (sandbox)"
    assert page.inner_text("#organization-name") == "Acme d.o.o."
    screenshot(page, "onboarding")

    page.click("#complete-onboarding")
    page.wait_for_url(f"{platform}/stripe/return")
    assert page.inner_text("#landing") == "Onboarding finished"
    screenshot(page, "onboarding-return-url")

    read = OrganizationConnectAccountProvider().read(org_id, connected)
    assert read.id == org_id and read.outs["charges_enabled"] is True
    assert get_onboarding_link(org_id, access_token=account.token, api_url=sandbox.url).onboarding_complete is True


def test_a_used_or_expired_onboarding_link_lands_on_the_refresh_url(page, sandbox, account, org_id, connected, platform):
    expiring, used = new_link(sandbox, account, org_id), new_link(sandbox, account, org_id)

    sandbox.set_link_expiry(0)
    page.goto(expiring)
    page.wait_for_url(f"{platform}/stripe/refresh")
    assert page.inner_text("#landing") == "Onboarding link expired"
    screenshot(page, "onboarding-expired-link")
    sandbox.set_link_expiry(300)

    page.goto(used)
    page.click("#complete-onboarding")
    page.wait_for_url(f"{platform}/stripe/return")
    page.goto(used)  # the same link again
    page.wait_for_url(f"{platform}/stripe/refresh")
    screenshot(page, "onboarding-used-link")
    assert sandbox.store.org_account(org_id)["charges_enabled"] is True  # the one use counted


def test_the_pay_page_reached_through_the_payment_intent_flow_marks_the_invoice_paid(
    page, sandbox, account, org_id, connected, platform
):
    invoice = sandbox.create_invoice(org_id, amount=1250.0, currency="EUR")
    pay_page = f"{sandbox.url}/sandbox/pay/{invoice.shareable_id}"
    with pytest.raises(ValidationError, match="not completed Stripe Connect onboarding"):
        get_payment_intent(invoice.shareable_id, api_url=sandbox.url)
    page.goto(pay_page)
    assert "not available" in page.inner_text("#payment-unavailable")
    screenshot(page, "pay-before-onboarding")

    page.goto(new_link(sandbox, account, org_id))
    page.click("#complete-onboarding")
    page.wait_for_url(f"{platform}/stripe/return")
    intent = get_payment_intent(invoice.shareable_id, api_url=sandbox.url)  # what a "Pay now" button fetches
    assert intent.public_key == PUBLIC_KEY and intent.amount == 1250.0 and intent.currency_id == "EUR"

    page.goto(pay_page)
    assert page.inner_text("#invoice-number") == invoice.number
    assert page.inner_text("#invoice-amount") == "1,250.00"
    screenshot(page, "pay")
    page.click("#pay-now")
    page.wait_for_selector("#payment-status")
    assert page.inner_text("#payment-status") == "Paid"
    screenshot(page, "pay-paid")

    assert sandbox.store.invoice(invoice.shareable_id)["paid"] is True
    with pytest.raises(ValidationError, match="already paid"):
        get_payment_intent(invoice.shareable_id, api_url=sandbox.url)


# -- Through the onboarding endpoint: what an organization's admin does with the entry URL ---------------

@pytest.fixture
def onboarding(sandbox, account, configured, org_id) -> Iterator[Any]:
    """The onboarding endpoint on `localhost` (another site than the sandbox's 127.0.0.1, as Stripe is),
    Connect's refresh and return URLs pointing at it, and the organization's account."""
    endpoint = OnboardingProcess(sandbox, account.token, host="localhost", args=("--no-check", "--link-interval", "1"))
    connect_to_endpoint(endpoint.url, org_id)
    with endpoint:
        sandbox.clear_requests()
        yield endpoint


def test_onboarding_from_the_entry_url_to_complete_in_a_browser(page, sandbox, org_id, onboarding):
    page.goto(entry_url(onboarding.url, org_id, SIGNING_KEY))
    assert page.inner_text("#title") == "Set up payments" and page.inner_text("#organization") == org_id
    screenshot(page, "entry-page")
    assert api_calls(sandbox, clear=True) == {}, "opening the entry URL mints nothing"

    page.click("#continue")
    page.wait_for_url(f"{sandbox.url}/sandbox/onboarding/*")
    assert page.title() == "Stripe Connect onboarding (sandbox)"
    assert api_calls(sandbox, clear=True) == {"get_account": 1, "create_link": 1}

    page.click("#complete-onboarding")
    page.wait_for_url(f"{onboarding.url}/return")
    assert page.inner_text("#title") == "Onboarding complete"
    assert page.get_attribute("#onboarding-status", "data-status") == "complete"
    screenshot(page, "return-page-complete")
    assert api_calls(sandbox, clear=True) == {"get_account": 1}, "return reads the account: arriving there proves nothing"
    assert sandbox.store.org_account(org_id)["charges_enabled"] is True  # and the API agrees

    log = onboarding.stop()
    assert SIGNING_KEY not in log and "sig=" not in log and "si_onboarding=" not in log and "/sandbox/onboarding/" not in log


def test_a_used_link_lands_on_refresh_which_leads_to_a_fresh_link_in_a_browser(page, sandbox, org_id, onboarding):
    page.goto(entry_url(onboarding.url, org_id, SIGNING_KEY))
    page.click("#continue")
    page.wait_for_url(f"{sandbox.url}/sandbox/onboarding/*")
    first_link = page.url
    requests.post(first_link, allow_redirects=False, timeout=10)  # a mail scanner used it meanwhile
    sandbox.store.set_charges_enabled(org_id, False)
    sandbox.clear_requests()

    time.sleep(1.1)  # the endpoint's interval between two links of one organization (1 s here)
    page.click("#complete-onboarding")  # Stripe: a used link goes to refresh_url; the endpoint mints anew
    page.wait_for_url(f"{sandbox.url}/sandbox/onboarding/*")
    assert page.url != first_link
    assert api_calls(sandbox, clear=True) == {"get_account": 1, "create_link": 1}
    screenshot(page, "refresh-fresh-link")

    page.click("#complete-onboarding")
    page.wait_for_url(f"{onboarding.url}/return")
    assert page.get_attribute("#onboarding-status", "data-status") == "complete"


def test_return_without_finishing_offers_to_continue_in_a_browser(page, sandbox, org_id, onboarding):
    page.goto(entry_url(onboarding.url, org_id, SIGNING_KEY))
    page.click("#continue")
    page.wait_for_url(f"{sandbox.url}/sandbox/onboarding/*")
    page.goto(f"{onboarding.url}/return")  # the person left Stripe before the end
    assert page.inner_text("#title") == "More details needed"
    screenshot(page, "return-page-more-details")
    sandbox.clear_requests()
    time.sleep(1.1)
    page.click("#continue")
    page.wait_for_url(f"{sandbox.url}/sandbox/onboarding/*")
    assert api_calls(sandbox, clear=True) == {"get_account": 1, "create_link": 1}
