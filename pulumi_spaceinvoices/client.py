"""SpaceInvoicesClient: the one HTTP client that resources and functions share.

One lazily created ``requests.Session`` per client (safe for concurrent use from threads), a
timeout on every request, retries of transient failures (two pure functions below decide: retry
or not, and how long to wait), a total deadline per call, process-wide pacing under the API's
rate limit, and errors mapped into :mod:`pulumi_spaceinvoices.errors`. Set
``SPACEINVOICES_LOG=debug`` to log every request and response, with secrets redacted.

``SPACEINVOICES_TIMEOUT`` (the read timeout of each request) and ``SPACEINVOICES_DEADLINE`` (the total
time of one call, retries included), in seconds, override the defaults when the constructor is not
given ``read_timeout``/``deadline``: the only way to tune them in the provider process.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import struct
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar, overload
from urllib.parse import quote

import requests
import urllib3
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from ._redact import redact_json, redact_text
from ._version import __version__
from .errors import (
    TOKEN_HINT,
    APIConnectionError,
    APIError,
    ConfigurationError,
    NotFoundError,
    UnexpectedResponseError,
    error_for_status,
)
from .models import (
    OWN_ERRORS,
    ErrorAnswer,
    ErrorBody,
    OnboardingLink,
    PaymentIntent,
    StripeConnect,
    StripeConnectAccount,
    StripeConnectAccountFields,
    StripeConnectFields,
    TokenUser,
)
from .settings import resolve_api_url, resolve_token

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_DEADLINE = 90.0
# The API allows 100 requests/s; strict spacing at 95/s never puts more than 96 in any 1 s window.
DEFAULT_REQUESTS_PER_SECOND = 95.0
MAX_RETRY_AFTER = 30.0
USER_AGENT = f"pulumi-spaceinvoices/{__version__}"
ENV_TIMEOUT = "SPACEINVOICES_TIMEOUT"
ENV_DEADLINE = "SPACEINVOICES_DEADLINE"
# This process's share of the token's budget; processes sharing one token (a fleet's K shards) split it.
ENV_REQUESTS_PER_SECOND = "SPACEINVOICES_REQUESTS_PER_SECOND"
# Or share one schedule: processes on one machine naming the same file pace as one (the fleet's way).
ENV_RATE_FILE = "SPACEINVOICES_RATE_FILE"

logger = logging.getLogger("pulumi_spaceinvoices")
M = TypeVar("M", bound=BaseModel)

# Methods whose repetition cannot create a second object: safe to retry after the request was sent.
REPEATABLE_METHODS = frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE"})


def should_retry(*, method: str, status: int | None, sent: bool, repeatable: bool | None = None) -> bool:
    """Whether a failed attempt may be tried again.

    ``status`` is None when no HTTP answer arrived; ``sent`` tells whether the request may have
    reached the server then. ``repeatable`` overrides the method's own idempotency (a POST that
    only mints a fresh onboarding link is safe to repeat).

    - 429 and 503, or no connection at all: every method (the server did nothing).
    - A reset after sending, 502 and 504: idempotent methods (GET, PATCH, ...) and repeatable POSTs.
    - 500: idempotent methods only. PATCH sets absolute values here, so repeating it is safe, as
      stripe-python and go-retryablehttp do for 5xx on idempotent calls; a POST never is.
    """
    idempotent = method in REPEATABLE_METHODS
    if repeatable is None:
        repeatable = idempotent
    if status is None:
        return repeatable or not sent
    if status in (429, 503):  # the server refused the request without acting on it
        return True
    if status in (502, 504):  # a gateway gave up: the request may have been applied behind it
        return repeatable
    if status == 500:  # the server failed while acting: only a call that sets absolute values may repeat
        return idempotent
    return False


def retry_delay(attempt: int, retry_after: float | None, *, base: float = 0.25, cap: float = 8.0,
                rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: the server's Retry-After, else capped
    exponential backoff with jitter (between half and all of ``base * 2**(attempt-1)``)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    return min(cap, base * 2.0 ** (attempt - 1)) * (0.5 + rand() / 2)


class _Pacer:
    """Spaces requests evenly, process-wide per API URL, so one process stays under the limit. With a
    `shared_file`, the schedule (the next free slot, on the machine's monotonic clock) lives in that
    file under an exclusive lock, so every process naming it paces as one: together they keep to
    `per_second`, and whichever of them has work uses all of it."""

    def __init__(self, per_second: float, shared_file: str | None = None) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._fd = os.open(shared_file, os.O_RDWR | os.O_CREAT, 0o600) if shared_file else None

    def wait(self, deadline_at: float) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = self._book(now, self.interval)
        if slot > now:
            time.sleep(max(0.0, min(slot, deadline_at) - now))

    def pause(self, seconds: float) -> None:
        """Hold back every thread (and, shared, every process) after the server said 429."""
        self._book(time.monotonic() + seconds, 0.0)

    def _book(self, earliest: float, length: float) -> float:
        """The first free slot at or after `earliest`; the schedule is then taken until its end + `length`."""
        with self._lock:
            if self._fd is None:
                slot = max(earliest, self._next)
                self._next = max(self._next, slot + length)
                return slot
            import fcntl  # POSIX only, and only needed for a shared schedule

            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                raw = os.pread(self._fd, 8, 0)
                booked = struct.unpack("<d", raw)[0] if len(raw) == 8 else 0.0
                if booked > earliest + MAX_RETRY_AFTER + 60:  # from before a reboot: the clock restarted
                    booked = 0.0
                slot = max(earliest, booked)
                os.pwrite(self._fd, struct.pack("<d", max(booked, slot + length)), 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            return slot


_pacers: dict[tuple[str, float, str | None], _Pacer] = {}
_pacers_lock = threading.Lock()


def _pacer_for(api_url: str, per_second: float, shared_file: str | None = None) -> _Pacer:
    with _pacers_lock:
        key = (api_url, per_second, shared_file)
        if key not in _pacers:
            if shared_file and os.name != "posix":
                raise ConfigurationError(f"{ENV_RATE_FILE} needs a POSIX system (file locks); unset it here.")
            try:
                _pacers[key] = _Pacer(per_second, shared_file)
            except OSError as error:
                raise ConfigurationError(f"{ENV_RATE_FILE}: cannot open {shared_file!r} ({error.strerror}).") from None
        return _pacers[key]


def _configure_debug_logging() -> None:
    if os.environ.get("SPACEINVOICES_LOG", "").lower() == "debug" and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def _positive_from_env(name: str, default: float, what: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{name} must be {what}, not {raw!r}.")
    return value


def requests_per_second_from_env() -> float:
    """This process's pace: SPACEINVOICES_REQUESTS_PER_SECOND, else 95 (a ConfigurationError naming it when bad)."""
    return _positive_from_env(ENV_REQUESTS_PER_SECOND, DEFAULT_REQUESTS_PER_SECOND,
                              "a number of requests per second greater than 0")


def _seconds_from_env(name: str, default: float) -> float:
    return _positive_from_env(name, default, "a number of seconds greater than 0")


def _was_sent(exc: requests.RequestException) -> bool:
    """False only when the connection was never established, so the server saw nothing."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return not isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))


def path_segment(value: str) -> str:
    """Percent-encode a value for use as one URL path segment."""
    return quote(str(value), safe="")


CONNECT_PATH = "/v1/stripe-connect"  # the account's Connect config (a singleton)


def account_path(organization_id: str) -> str:
    """An organization's Connect account."""
    return f"/v1/organizations/{path_segment(organization_id)}/stripe-connect/account"


class SpaceInvoicesClient:
    """A client of the Space Invoices Stripe Connect API.

    >>> client = SpaceInvoicesClient(access_token="...", api_url="http://127.0.0.1:8787")
    >>> client.get_connect_account("644c214c6ee48100249d5d7a")

    The token and URL, when not given, come from ``config`` (stack config keys) or the environment
    (see :mod:`pulumi_spaceinvoices.settings`). Calls that need no token work without one.
    """

    def __init__(
        self,
        access_token: str | None = None,
        *,
        api_url: str | None = None,
        config: Mapping[str, Any] | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        deadline: float | None = None,
        requests_per_second: float | None = None,
    ) -> None:
        self.api_url = resolve_api_url(api_url, config)
        self._token = resolve_token(access_token, config)  # None: only calls that need it fail
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout if read_timeout is not None else _seconds_from_env(
            ENV_TIMEOUT, DEFAULT_READ_TIMEOUT)
        self.max_attempts = max(1, max_attempts)
        self.deadline = deadline if deadline is not None else _seconds_from_env(ENV_DEADLINE, DEFAULT_DEADLINE)
        if requests_per_second is None:
            requests_per_second = requests_per_second_from_env()
        self._pacer = _pacer_for(self.api_url, requests_per_second, os.environ.get(ENV_RATE_FILE) or None)
        self._session: requests.Session | None = None
        self._session_lock = threading.Lock()
        self._link_method = "POST"
        _configure_debug_logging()

    def __repr__(self) -> str:
        return f"SpaceInvoicesClient(api_url={self.api_url!r})"

    # -- Connect config (one per Space Invoices account) ---------------------------------------

    def get_stripe_connect(self) -> StripeConnect | None:
        """The account's Connect config, or None when Connect was never enabled."""
        return self._request_or_none("GET", CONNECT_PATH, model=StripeConnect)

    def enable_stripe_connect(self, fields: StripeConnectFields) -> StripeConnect:
        """Enable Connect (POST). Not retried once sent: callers read back on a lost answer."""
        return self._request("POST", CONNECT_PATH, body=fields.wire(), model=StripeConnect)

    def update_stripe_connect(self, fields: StripeConnectFields) -> None:
        """Change the Connect config (PATCH answers 204: read it again for the new state). It sets
        absolute values, so it is retried like a GET, 500 included."""
        self._request("PATCH", CONNECT_PATH, body=fields.wire())

    # -- Organization accounts (one per organization) -----------------------------------------

    def get_connect_account(self, organization_id: str) -> StripeConnectAccount | None:
        """The organization's Connect account, or None when it was not created yet. An answer that names
        another organization is an UnexpectedResponseError, never an account."""
        return self._request_or_none("GET", account_path(organization_id), model=StripeConnectAccount,
                                     context={"organization_id": organization_id})

    def create_connect_account(self, organization_id: str, *, active: bool | None = None) -> StripeConnectAccount:
        """Create the organization's Connect account (POST, not retried once sent)."""
        body = StripeConnectAccountFields(active=active).wire()
        return self._request("POST", account_path(organization_id), body=body, model=StripeConnectAccount,
                             context={"organization_id": organization_id})

    def update_connect_account(self, record_id: str, *, active: bool) -> None:
        """Activate or deactivate an account by its record id (PATCH answers 204; retried like a GET)."""
        path = f"/v1/stripe-connect/accounts/{path_segment(record_id)}"
        self._request("PATCH", path, body=StripeConnectAccountFields(active=active).wire())

    def create_onboarding_link(self, organization_id: str) -> OnboardingLink:
        """A fresh single-use onboarding URL.

        The doc page says POST, the OpenAPI document GET: POST first, and on 405 or a route-level
        404 switch this client to GET for good. Minting a link twice is harmless, so it retries.
        """
        path = account_path(organization_id) + "/link"
        method = self._link_method
        try:
            return self._request(method, path, body={} if method == "POST" else None, repeatable=True,
                                 model=OnboardingLink)
        except APIError as error:
            route_missing = error.status == 405 or (isinstance(error, NotFoundError) and error.route_level)
            if method != "POST" or not route_missing:
                raise
            logger.debug("POST %s is not served (%s); using GET from now on", path, error.status)
        self._link_method = "GET"
        return self._request("GET", path, repeatable=True, model=OnboardingLink)

    # -- Public and account calls --------------------------------------------------------------

    def get_payment_intent(self, shareable_id: str) -> PaymentIntent:
        """The "Pay now" data of a shared invoice; sent without any Authorization header."""
        path = f"/v1/documents/{path_segment(shareable_id)}/stripe-connect/payment-intent"
        return self._request("GET", path, auth=False, model=PaymentIntent)

    def check_token(self) -> dict[str, Any]:
        """The token's user, or AuthenticationError when the token is rejected."""
        user = self._request("GET", "/v1/Accounts/authorized", model=TokenUser)
        return dict(user.model_extra or {})

    def close(self) -> None:
        with self._session_lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def __enter__(self) -> SpaceInvoicesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- Transport -------------------------------------------------------------------------------

    def _session_(self) -> requests.Session:
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    session = requests.Session()
                    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
                    session.mount("http://", adapter)
                    session.mount("https://", adapter)
                    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
                    session.trust_env = False  # no .netrc credentials or proxy env surprises
                    self._session = session
        return self._session

    def _request_or_none(self, method: str, path: str, *, model: type[M],
                         context: dict[str, Any] | None = None) -> M | None:
        try:
            return self._request(method, path, model=model, context=context)
        except NotFoundError as error:
            # Absent only when the API itself says so: a proxy's 404 page says nothing about the object,
            # and taking it for "gone" would drop the resource from the state on refresh.
            if error.route_level or not error.from_api:
                raise
            return None

    @overload
    def _request(self, method: str, path: str, *, body: Any = None, auth: bool = True,
                 repeatable: bool | None = None, model: type[M], context: dict[str, Any] | None = None) -> M: ...

    @overload
    def _request(self, method: str, path: str, *, body: Any = None, auth: bool = True,
                 repeatable: bool | None = None, model: None = None, context: dict[str, Any] | None = None) -> None: ...

    def _request(self, method: str, path: str, *, body: Any = None, auth: bool = True,
                 repeatable: bool | None = None, model: type[M] | None = None,
                 context: dict[str, Any] | None = None) -> M | None:
        """Send one API call with retries; its answer as ``model`` (validated with ``context``), or
        None when no answer is expected (PATCH). A success the client cannot use is an
        UnexpectedResponseError."""
        headers = {}
        if auth:
            if not self._token:
                raise ConfigurationError(f"No Space Invoices access token is set. {TOKEN_HINT}")
            headers["Authorization"] = self._token
        deadline_at = time.monotonic() + self.deadline
        attempt = 0
        while True:
            attempt += 1
            self._pacer.wait(deadline_at)
            remaining = deadline_at - time.monotonic()
            if remaining <= 0:
                raise APIConnectionError(f"no answer within the {self.deadline:g} s deadline", method=method,
                                         path=path, should_retry=True, may_have_applied=attempt > 1)
            timeout = (min(self.connect_timeout, remaining), min(self.read_timeout, remaining))
            started = time.monotonic()
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("-> %s %s attempt %d body=%s", method, path, attempt, json.dumps(redact_json(body)))
            try:
                response = self._session_().request(method, self.api_url + path, json=body, headers=headers,
                                                    timeout=timeout, allow_redirects=False)
            except requests.RequestException as exc:
                sent = _was_sent(exc)
                retry = should_retry(method=method, status=None, sent=sent, repeatable=repeatable)
                logger.debug("<- %s %s no answer: %s", method, path, redact_text(type(exc).__name__))
                if retry and attempt < self.max_attempts and self._sleep_before_retry(attempt, None, deadline_at):
                    continue
                reason = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
                raise APIConnectionError(
                    f"{reason} ({type(exc).__name__}) after {attempt} attempt(s)", method=method, path=path,
                    should_retry=retry, may_have_applied=sent and method not in REPEATABLE_METHODS,
                ) from None
            elapsed_ms = (time.monotonic() - started) * 1000
            data = self._decode(response)
            if logger.isEnabledFor(logging.DEBUG):
                shown = f"<not JSON, {len(response.content)} bytes>" if data is NOT_JSON else json.dumps(
                    redact_json(data))
                logger.debug("<- %s %s %d in %.0f ms body=%s", method, path, response.status_code, elapsed_ms, shown)
            if 200 <= response.status_code < 300:
                return _answer(response, data, method, path, model, context)
            if response.status_code < 400:  # a redirect: the API has none, so someone else answered
                raise UnexpectedResponseError(problems=[("", "a redirect, which the client does not follow")],
                                              status=response.status_code, method=method, path=path,
                                              request_id=_request_id(response))
            retry_after = _retry_after(response)
            if response.status_code == 429 and retry_after:
                self._pacer.pause(retry_after)
            if (should_retry(method=method, status=response.status_code, sent=True, repeatable=repeatable)
                    and attempt < self.max_attempts
                    and self._sleep_before_retry(attempt, retry_after, deadline_at)):
                continue
            raise _error_from(response, data, method, path, retry_after)

    @staticmethod
    def _sleep_before_retry(attempt: int, retry_after: float | None, deadline_at: float) -> bool:
        """Sleep before the next attempt; False when that would pass the deadline."""
        delay = retry_delay(attempt, retry_after)
        if time.monotonic() + delay >= deadline_at:
            return False
        time.sleep(delay)
        return True

    @staticmethod
    def _decode(response: requests.Response) -> Any:
        """The JSON body: None when there is none, NOT_JSON when it is not JSON (an HTML page from a
        proxy, a cut-off body, NaN, a number no float can hold)."""
        if response.status_code == 204 or not response.content:
            return None
        try:
            return json.loads(response.content, parse_constant=_not_json, parse_float=_finite)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return NOT_JSON


class _NotJSON:
    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Any = _NotJSON()


def _not_json(constant: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):  # 1e400: too large for a float, and no value the state can hold
        raise ValueError("a number out of range")
    return value


def _answer(response: requests.Response, data: Any, method: str, path: str, model: type[M] | None,
            context: dict[str, Any] | None) -> M | None:
    """A success as ``model``, or UnexpectedResponseError naming what is wrong, by field name only.

    The error is raised outside the ``except`` block on purpose: pydantic's error quotes the values
    it refused (secrets among them), so it must be neither in the message nor chained as the cause
    or the context, where a traceback would print it.
    """
    if data is NOT_JSON:
        problems = [("", "a body that is not JSON")]
    elif model is None:
        return None  # nothing to read (a PATCH): a JSON body or none at all are both fine
    elif data is None:
        problems = [("", "no body")]
    else:
        try:
            return model.model_validate(data, context=context)
        except PydanticValidationError as error:
            problems = _problems(model, error)
    raise UnexpectedResponseError(problems=problems, status=response.status_code, method=method, path=path,
                                  request_id=_request_id(response))


def _problems(model: type[BaseModel], error: PydanticValidationError) -> list[tuple[str, str]]:
    """(field name, what is wrong) per field, from pydantic's ``loc`` and error type, never its ``input``."""
    known = set(model.model_fields) | {field.alias for field in model.model_fields.values() if field.alias}
    found: dict[str, str] = {}
    for item in error.errors(include_url=False, include_context=False, include_input=False):
        kind, loc = item["type"], item["loc"]
        if kind in OWN_ERRORS:
            what = item["msg"]  # written in models.py, with no value in it
        elif kind == "missing":
            what = "is missing"
        elif kind == "model_type" and not loc:
            what = "not a JSON object"
        elif kind.endswith("_type"):
            what = "has the wrong type"
        elif kind == "string_too_short":
            what = "is empty"
        else:
            what = "has a value the client cannot use"
        # Only a field the model declares is named: any other part of loc came from the answer.
        name = "" if not loc else str(loc[0]) if loc[0] in known else "a field"
        found.setdefault(name, what)
    return list(found.items())


# Request ids are shown in errors: only one of a plain shape (a hostile header could hold anything).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def _request_id(response: requests.Response) -> str | None:
    value = response.headers.get("X-Request-Id")
    return value if value is not None and _REQUEST_ID.fullmatch(value) else None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    # "nan" and "inf" parse as floats; NaN would reach time.sleep, which refuses it.
    return seconds if seconds is not None and math.isfinite(seconds) else None


def _error_from(response: requests.Response, data: Any, method: str, path: str,
                retry_after: float | None) -> APIError:
    try:
        error: ErrorBody | None = ErrorAnswer.model_validate(data).error if isinstance(data, dict) else None
    except PydanticValidationError:
        error = None  # not the API's error shape (a proxy's page, say): the status says what happened
    if error is None:
        message = _status_phrase(response.status_code)
        if response.status_code == 404:
            message = f"{message}, in an answer that is not the Space Invoices API's: check the API URL (spaceinvoices:apiUrl)"
        return error_for_status(response.status_code, method=method, path=path, message=message, from_api=False,
                                request_id=_request_id(response), retry_after=retry_after)
    return error_for_status(
        response.status_code,
        method=method,
        path=path,
        code=error.code,
        name=error.name,
        message=error.message,
        details=[detail.model_dump() for detail in error.details] if error.details else None,
        request_id=_request_id(response),
        retry_after=retry_after,
    )


def _status_phrase(status: int) -> str | None:
    """The standard reason phrase (the server's own could say anything)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None
