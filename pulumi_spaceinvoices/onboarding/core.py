"""The onboarding endpoint's rules, free of any web framework.

:meth:`OnboardingEndpoint.handle` takes what a framework hands a view (a :class:`Visit`: method,
path, query, headers, cookies, form) and returns a :class:`Reply` (status, headers, cookies, HTML).
The Starlette app (``app.py``) is a thin adapter over it, and so can a Django or Flask view be.

Routes, relative to the endpoint's base URL (``spaceinvoices:onboardingUrl``):

- ``GET|HEAD /o/<organization>?[until=<day>&]sig=<signature>``: the entry page. The signature is
  checked and a "Continue to Stripe" button shown; nothing is minted and no API call made, so link
  previews and mail scanners consume nothing.
- ``POST`` to the same URL (the button): signature and CSRF token checked; the account read, then
  a fresh link minted and answered with 303, or "already complete". Sets a signed session cookie
  naming the organization, for Stripe's round trip.
- ``GET /refresh`` (the Connect config's ``refreshUrl``): the organization from the cookie; mints a
  fresh link and answers 303. Without a valid cookie: a page asking for the entry URL again.
- ``GET /return`` (``returnUrl``): reads the account (Stripe's return says nothing): complete, or
  "more details needed" with the button (``POST /continue``, cookie and CSRF checked).
- ``GET /health``: 200, no API call.

Anything unsigned, tampered, signed with a foreign or revoked key, past its day, or carrying another
organization's cookie gets a 4xx page and no API call. Links are throttled per organization and
overall (429 with ``Retry-After``). Nothing logged holds a token, link, signature or cookie.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from .. import onboarding_entry as entry
from ..errors import APIConnectionError, APIError, ConfigurationError, NotFoundError, SpaceInvoicesError
from ..validators import validate_object_id
from . import pages

logger = logging.getLogger("pulumi_spaceinvoices.onboarding")

SESSION_COOKIE = "si_onboarding"
CSRF_COOKIE = "si_onboarding_csrf"
SESSION_SALT = "pulumi-spaceinvoices.onboarding-session"
CSRF_SALT = "pulumi-spaceinvoices.onboarding-csrf"
DEFAULT_LINK_INTERVAL = 3.0
DEFAULT_REQUESTS_PER_SECOND = 10.0
DEFAULT_SESSION_SECONDS = 24 * 3600
# A link costs a read and a mint; the return page a read.
MINT_CALLS = 2
READ_CALLS = 1

# Whoever holds an authorizer may also send the person to its own login: True lets the visit go on,
# False refuses it (403), a string is a URL to redirect to (303).
Authorizer = Callable[[Any, str], "bool | str"]


@dataclass(frozen=True)
class Settings:
    """Everything the endpoint needs; :meth:`resolve` fills it from arguments and the environment."""

    base_url: str
    signing_key: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    api_url: str | None = None
    previous_key: str | None = field(default=None, repr=False)
    previous_key_until: datetime | None = None
    link_interval: float = DEFAULT_LINK_INTERVAL
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    session_seconds: int = DEFAULT_SESSION_SECONDS

    @classmethod
    def resolve(cls, *, base_url: str | None = None, signing_key: str | None = None,
                previous_key: str | None = None, previous_key_until: str | datetime | None = None,
                **rest: Any) -> Settings:
        """Settings from arguments, then the environment (``SPACEINVOICES_ONBOARDING_*``); a
        ConfigurationError naming the setting when one is missing or malformed."""
        import os

        from ..settings import (
            MIN_SIGNING_KEY_BYTES,
            resolve_api_url,
            resolve_onboarding_url,
            resolve_signing_key,
            resolve_token,
        )

        rest["access_token"] = resolve_token(rest.get("access_token"))
        rest["api_url"] = resolve_api_url(rest.get("api_url"))
        base = resolve_onboarding_url(base_url)
        key = resolve_signing_key(signing_key)
        previous = previous_key or os.environ.get(ENV_PREVIOUS_KEY) or None
        until_text = previous_key_until or os.environ.get(ENV_PREVIOUS_KEY_UNTIL) or None
        if previous is not None:
            if len(previous.encode()) < MIN_SIGNING_KEY_BYTES:
                raise ConfigurationError(f"The previous signing key ({ENV_PREVIOUS_KEY}) is shorter than {MIN_SIGNING_KEY_BYTES} bytes.")
            if until_text is None:
                raise ConfigurationError(
                    f"{ENV_PREVIOUS_KEY} is set without {ENV_PREVIOUS_KEY_UNTIL}: say until when (UTC, ISO 8601) "
                    "the URLs signed with it keep working.")
            from .._redact import register_secret

            register_secret(previous)
        until = _instant(until_text, ENV_PREVIOUS_KEY_UNTIL) if until_text is not None else None
        for name in ("link_interval", "requests_per_second", "session_seconds"):
            value = rest.get(name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name} must be a number greater than 0.")
        return cls(base_url=base, signing_key=key, previous_key=previous, previous_key_until=until,
                   **{k: v for k, v in rest.items() if v is not None})

    @property
    def secure(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def path_prefix(self) -> str:
        return urlsplit(self.base_url).path.rstrip("/")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}".lower()


ENV_PREVIOUS_KEY = "SPACEINVOICES_ONBOARDING_PREVIOUS_KEY"
ENV_PREVIOUS_KEY_UNTIL = "SPACEINVOICES_ONBOARDING_PREVIOUS_KEY_UNTIL"


def _instant(value: str | datetime, name: str) -> datetime:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(f"{name} must be a date or time in ISO 8601 (e.g. 2027-01-31T12:00:00Z).") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class Visit:
    """One request, as any web framework can describe it. Header names in lower case."""

    method: str
    path: str  # relative to the base URL: "/o/<id>", "/refresh", ...
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    request: Any = None  # the framework's own request, handed to the authorizer


@dataclass
class Reply:
    """What to answer: a status, headers, cookies to set (full Set-Cookie values) and an HTML body."""

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    api_seconds: float = 0.0  # time spent waiting for the Space Invoices API (Server-Timing)
    route: str = ""  # the route's name, for the access log (never the URL: its query holds the signature)


class Throttle:
    """Links per organization at most one every ``interval`` seconds, and API calls overall at most
    ``per_second`` (a token bucket of one second's worth), so the endpoint keeps to its share of the
    token's budget. ``take`` answers 0 when allowed, else the seconds to wait."""

    def __init__(self, interval: float, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.per_second = per_second
        self.clock = clock
        self._lock = threading.Lock()
        self._last_link: dict[str, float] = {}
        self._tokens = per_second
        self._filled_at = clock()

    def take(self, calls: int, organization_id: str | None = None) -> float:
        with self._lock:
            now = self.clock()
            self._tokens = min(self.per_second, self._tokens + (now - self._filled_at) * self.per_second)
            self._filled_at = now
            if organization_id is not None:
                since = now - self._last_link.get(organization_id, -math.inf)
                if since < self.interval:
                    return self.interval - since
            if self._tokens < calls:
                return (calls - self._tokens) / self.per_second
            self._tokens -= calls
            if organization_id is not None:
                self._last_link[organization_id] = now
                if len(self._last_link) > 100_000:  # forget organizations whose interval has long passed
                    self._last_link = {k: v for k, v in self._last_link.items() if now - v < self.interval}
            return 0.0


class OnboardingEndpoint:
    """The endpoint: one per process, safe for concurrent visits."""

    def __init__(self, settings: Settings, *, authorize: Authorizer | None = None,
                 client: Any = None) -> None:
        from itsdangerous import Signer, TimestampSigner

        self.settings = settings
        self.authorize = authorize
        self.throttle = Throttle(settings.link_interval, settings.requests_per_second)
        self._current = entry.EntrySigner(settings.signing_key)
        self._previous = entry.EntrySigner(settings.previous_key) if settings.previous_key else None
        self._sessions = [TimestampSigner(key, salt=SESSION_SALT, digest_method=hashlib.sha256)
                          for key in (settings.signing_key, settings.previous_key) if key]
        self._csrf = Signer(settings.signing_key, salt=CSRF_SALT, digest_method=hashlib.sha256)
        self._client = client
        self._client_lock = threading.Lock()

    # -- the API, through one client paced at this endpoint's share ------------------------------

    @property
    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                from ..client import SpaceInvoicesClient

                self._client = SpaceInvoicesClient(self.settings.access_token, api_url=self.settings.api_url,
                                                   requests_per_second=self.settings.requests_per_second)
            return self._client

    # -- routing ----------------------------------------------------------------------------------

    def handle(self, visit: Visit) -> Reply:
        method = visit.method.upper()
        path = visit.path.rstrip("/") or "/"
        if path.startswith(entry.ENTRY_PREFIX):
            route, handler = "entry", {"GET": self.entry_page, "HEAD": self.entry_page, "POST": self.start}.get(method)
        else:
            route, handler = path.lstrip("/"), {
                ("GET", "/refresh"): self.refresh, ("HEAD", "/refresh"): self.refresh_head,
                ("GET", "/return"): self.back, ("HEAD", "/return"): self.refresh_head,
                ("POST", "/continue"): self.resume,
                ("GET", "/health"): self.health, ("HEAD", "/health"): self.health,
            }.get((method, path))
        if handler is None:
            reply = pages.not_found() if not _known_path(path) else pages.method_not_allowed()
        else:
            reply = handler(visit)
        reply.route = reply.route or route or "unknown"
        reply.headers.update(pages.SECURITY_HEADERS)
        return reply

    # -- routes -----------------------------------------------------------------------------------

    def health(self, visit: Visit) -> Reply:
        return Reply(200, '{"status":"ok"}', {"Content-Type": "application/json"})

    def entry_page(self, visit: Visit) -> Reply:
        checked = self._entry(visit)
        if isinstance(checked, Reply):
            return checked
        org_id, _ = checked
        refused = self._authorization(visit, org_id)
        if refused:
            return refused
        nonce = secrets.token_urlsafe(16)
        reply = pages.entry(org_id, self._csrf_token(org_id, nonce))
        reply.cookies.append(self._cookie(CSRF_COOKIE, nonce, same_site="Strict", max_age=3600))
        return reply

    def start(self, visit: Visit) -> Reply:
        checked = self._entry(visit)
        if isinstance(checked, Reply):
            return checked
        org_id, _ = checked
        refused = self._csrf_refusal(visit, org_id) or self._authorization(visit, org_id)
        if refused:
            return refused
        reply = self._mint(org_id)
        reply.cookies.append(self._cookie(SESSION_COOKIE, self._sessions[0].sign(org_id).decode(),
                                          same_site="Lax", max_age=self.settings.session_seconds))
        return reply

    def refresh(self, visit: Visit) -> Reply:
        org_id = self._session(visit)
        if org_id is None:
            return pages.ask_for_entry_url()
        return self._authorization(visit, org_id) or self._mint(org_id)

    def refresh_head(self, visit: Visit) -> Reply:
        """HEAD of /refresh and /return: what a preview bot asks; never a link or an API call."""
        return Reply(200 if self._session(visit) else 400, "", {"Content-Type": "text/html; charset=utf-8"})

    def back(self, visit: Visit) -> Reply:
        org_id = self._session(visit)
        if org_id is None:
            return pages.ask_for_entry_url()
        refused = self._authorization(visit, org_id)
        if refused:
            return refused
        wait = self.throttle.take(READ_CALLS)
        if wait:
            return pages.throttled(wait)
        started = time.perf_counter()
        try:
            account = self.client.get_connect_account(org_id)
        except (APIError, APIConnectionError) as error:
            return self._api_failure(org_id, error, time.perf_counter() - started)
        spent = time.perf_counter() - started
        if account is None:
            reply = pages.no_account(org_id)
        elif account.charges_enabled:
            reply = pages.complete(org_id)
        else:
            nonce = secrets.token_urlsafe(16)
            reply = pages.more_details(org_id, self._csrf_token(org_id, nonce), f"{self.settings.path_prefix}/continue")
            reply.cookies.append(self._cookie(CSRF_COOKIE, nonce, same_site="Strict", max_age=3600))
        reply.api_seconds = spent
        return reply

    def resume(self, visit: Visit) -> Reply:
        org_id = self._session(visit)
        if org_id is None:
            return pages.ask_for_entry_url()
        if visit.form.get("organization") != org_id:  # a form for another organization than the cookie's
            return pages.refused("This page belongs to another organization's onboarding.", 403)
        return self._csrf_refusal(visit, org_id) or self._authorization(visit, org_id) or self._mint(org_id)

    # -- checks -----------------------------------------------------------------------------------

    def _entry(self, visit: Visit) -> tuple[str, date | None] | Reply:
        """The organization and day an entry URL names, or the refusal page."""
        raw = visit.path[len(entry.ENTRY_PREFIX):].strip("/")
        try:
            org_id = validate_object_id(raw)
        except ValueError:
            return pages.not_found()
        signature = visit.query.get("sig") or ""
        if not signature:
            return pages.refused("This onboarding address is incomplete: open the full link you were sent.", 403)
        try:
            day = entry.parse_valid_until(visit.query.get("until"))
        except SpaceInvoicesError:
            return pages.refused("This onboarding link is not valid.", 403)
        if not self._signed(org_id, day, signature):
            return pages.refused("This onboarding link is not valid or was revoked: ask your platform for a new "
                                 "one.", 403)
        if entry.expired(day):
            return pages.refused("This onboarding link has expired: ask your platform for a new one.", 410)
        return org_id, day

    def _in_grace(self) -> bool:
        """Whether what the previous key signed still counts (the grace period after a rotation)."""
        until = self.settings.previous_key_until
        return bool(self._previous and until and datetime.now(timezone.utc) <= until)

    def _signed(self, org_id: str, day: date | None, signature: str) -> bool:
        if self._current.verify(org_id, day, signature):
            return True
        return self._in_grace() and self._previous is not None and self._previous.verify(org_id, day, signature)

    def _session(self, visit: Visit) -> str | None:
        """The organization the session cookie names, if the cookie is ours, unaltered and not too old."""
        from itsdangerous import BadSignature

        value = visit.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        for index, signer in enumerate(self._sessions):
            if index and not self._in_grace():
                break
            try:
                return signer.unsign(value, max_age=self.settings.session_seconds).decode()
            except BadSignature:
                continue
        return None

    def _csrf_token(self, org_id: str, nonce: str) -> str:
        return self._csrf.get_signature(f"{org_id}|{nonce}").decode()

    def _csrf_refusal(self, visit: Visit, org_id: str) -> Reply | None:
        """A POST must come from our own page: the same origin, and the form's token made for the
        cookie this browser got with that page (a signed double-submit token)."""
        origin = (visit.headers.get("origin") or "").lower()
        if origin and origin != "null" and origin != self.settings.origin:
            return pages.refused("This request did not come from the onboarding page.", 403)
        nonce = visit.cookies.get(CSRF_COOKIE) or ""
        token = visit.form.get("csrf") or ""
        try:
            valid = bool(nonce and token) and self._csrf.verify_signature(f"{org_id}|{nonce}", token.encode("ascii"))
        except (UnicodeEncodeError, ValueError):
            valid = False
        if not valid:
            return pages.refused("This page is out of date: open your onboarding link again.", 403)
        return None

    def _authorization(self, visit: Visit, org_id: str) -> Reply | None:
        if self.authorize is None:
            return None
        verdict = self.authorize(visit.request, org_id)
        if verdict is True:
            return None
        if isinstance(verdict, str) and verdict:
            return Reply(303, "", {"Location": verdict})
        return pages.refused("You are not allowed to set up payments for this organization.", 403)

    # -- minting ----------------------------------------------------------------------------------

    def _mint(self, org_id: str) -> Reply:
        from ..onboarding_link import onboarding_link_with

        wait = self.throttle.take(MINT_CALLS, org_id)
        if wait:
            return pages.throttled(wait)
        started = time.perf_counter()
        try:
            result = onboarding_link_with(self.client, org_id)
        except (APIError, APIConnectionError) as error:
            return self._api_failure(org_id, error, time.perf_counter() - started)
        spent = time.perf_counter() - started
        if result.onboarding_complete or not result.url:
            reply = pages.complete(org_id)
        else:
            reply = Reply(303, "", {"Location": result.url, "Content-Type": "text/html; charset=utf-8"})
        reply.api_seconds = spent
        return reply

    def _api_failure(self, org_id: str, error: SpaceInvoicesError, spent: float) -> Reply:
        logger.warning("organization %s: %s", org_id, error)  # the error tree never holds a secret
        reply = pages.no_account(org_id) if isinstance(error, NotFoundError) else pages.unavailable()
        reply.api_seconds = spent
        return reply

    def _cookie(self, name: str, value: str, *, same_site: str, max_age: int) -> str:
        parts = [f"{name}={value}", f"Path={self.settings.path_prefix or '/'}", f"Max-Age={max_age}", "HttpOnly",
                 f"SameSite={same_site}"]
        if self.settings.secure:
            parts.append("Secure")
        return "; ".join(parts)


def _known_path(path: str) -> bool:
    return path in ("/refresh", "/return", "/continue", "/health")

