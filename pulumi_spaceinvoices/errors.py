"""The one error tree of pulumi-spaceinvoices.

    SpaceInvoicesError
    ├── ConfigurationError            no access token, a malformed API URL
    ├── InvalidInputError             a bad argument, caught before any request (names the property)
    ├── APIConnectionError            no HTTP answer: refused, reset, timed out (should_retry, may_have_applied)
    └── APIError                      the API answered with an error (status, code, message, details, method, path,
        │                             request_id; from_api: False when the answer was not the API's error object)
        ├── AuthenticationError       401/403: token rejected, or it may not see that object
        ├── NotFoundError             404 (route_level: the endpoint itself does not exist)
        ├── ValidationError           400/422 (details: [{path, code, message}])
        ├── RateLimitError            429 (retry_after, seconds)
        ├── ServerError               5xx
        └── UnexpectedResponseError   a success the client cannot use: a field missing or of the wrong
                                      type, a body that is not JSON, a redirect (fields: names only)

``str(error)`` says what failed, on which path, and what to do. It never contains the access token
or a secret value: every message passes through :func:`pulumi_spaceinvoices._redact.redact_text`,
and an answer the client cannot use is described by the names of its fields, never their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._redact import redact_text

TOKEN_HINT = (
    "Set it with `pulumi config set --secret spaceinvoices:accessToken <token>` "
    "or the SPACEINVOICES_ACCESS_TOKEN environment variable."
)


class SpaceInvoicesError(Exception):
    """Base class of every error this package raises."""


class ConfigurationError(SpaceInvoicesError):
    """The provider or client is not configured (no token, a malformed API URL)."""


class InvalidInputError(SpaceInvoicesError, ValueError):
    """An argument is invalid; raised before any request is sent."""

    def __init__(self, property_name: str, reason: str) -> None:
        self.property_name = property_name
        self.reason = reason
        super().__init__(f"{property_name}: {reason}")


class APIConnectionError(SpaceInvoicesError):
    """No HTTP answer arrived (connection refused or dropped, timeout)."""

    def __init__(
        self, message: str, *, method: str, path: str, should_retry: bool, may_have_applied: bool
    ) -> None:
        self.method = method
        self.path = path
        self.should_retry = should_retry
        self.may_have_applied = may_have_applied
        super().__init__(redact_text(f"{method} {path}: {message}"))


class APIError(SpaceInvoicesError):
    """The API answered with an error status."""

    hint = ""

    def __init__(
        self,
        *,
        status: int,
        method: str,
        path: str,
        code: str | None = None,
        message: str | None = None,
        name: str | None = None,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        from_api: bool = True,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.code = code
        self.message = redact_text(message or "")
        self.name = name
        self.details = details or []
        self.request_id = request_id
        self.from_api = from_api  # False: a proxy's page, an empty body; nothing in it came from the API
        super().__init__(self._describe())

    def _describe(self) -> str:
        label = " ".join(part for part in (str(self.status), self.code or self.name) if part)
        text = f"Space Invoices API: {self.method} {self.path} failed ({label})"
        if self.message:
            text += f": {self.message}"
        for item in self.details:
            where = item.get("path") or "body"
            text += f"\n  - {where}: {item.get('message') or item.get('code')}"
        if self.hint:
            text += f". {self.hint}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return redact_text(text)


class AuthenticationError(APIError):
    hint = "The access token was rejected, or it may not access this object. " + TOKEN_HINT


class NotFoundError(APIError):
    @classmethod
    def missing(cls, path: str, message: str) -> NotFoundError:
        """A GET of ``path`` found nothing where something must be (after a write, or before a change):
        the one way such an error is made, so each reads alike."""
        return cls(status=404, method="GET", path=path, message=message)

    @property
    def route_level(self) -> bool:
        """True when the endpoint itself does not exist (not just the object)."""
        return self.code == "ENDPOINT_NOT_FOUND"


class ValidationError(APIError):
    hint = "Check the values sent for the properties listed"


class RateLimitError(APIError):
    hint = "The API allows 100 requests per second per token; retries were exhausted"

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)


class ServerError(APIError):
    hint = "The Space Invoices API had a problem; retry later"


class UnexpectedResponseError(APIError):
    """The API answered with success (or a redirect), but not with something the client can use.

    ``problems`` lists ``(field, what is wrong)`` pairs, ``fields`` just the names; an empty name means
    the body as a whole (not JSON, not an object, missing). Values from the answer never appear:
    the fields that failed may be the very ones that hold secrets.
    """

    hint = ("The API answered in a way this version of the provider does not understand, or something "
            "between you and the API (a proxy, a captive portal) answered instead; retry later, and "
            "report it with the request id if it persists")

    def __init__(self, *, problems: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        self.problems = [(str(name), str(what)) for name, what in problems]
        self.fields = [name for name, _ in self.problems if name]
        super().__init__(**kwargs)

    def _describe(self) -> str:
        said = "; ".join(f"{name} {what}" if name else what for name, what in self.problems)
        text = (f"Space Invoices API: {self.method} {self.path} answered {self.status} with an answer the "
                f"client cannot use ({said or 'unreadable'}). {self.hint}")
        if self.request_id:
            text += f" (request id {self.request_id})"
        return redact_text(text)


def error_for_status(status: int, *, retry_after: float | None = None, **kwargs: Any) -> APIError:
    """The most specific APIError for an HTTP status."""
    if status == 429:
        return RateLimitError(status=status, retry_after=retry_after, **kwargs)
    if status in (401, 403):
        return AuthenticationError(status=status, **kwargs)
    if status == 404:
        return NotFoundError(status=status, **kwargs)
    if status in (400, 422):
        return ValidationError(status=status, **kwargs)
    if status >= 500:
        return ServerError(status=status, **kwargs)
    return APIError(status=status, **kwargs)
