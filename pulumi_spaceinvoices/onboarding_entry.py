"""get_onboarding_entry_url / get_onboarding_entry_url_output: the durable URL an organization's admin gets.

Stripe's account links are single-use, expire within minutes and must not leave the platform (a mail
scanner that previews one uses it up). What leaves the platform is this entry URL instead: a page of
the onboarding endpoint (``spaceinvoices-onboarding``) that mints a fresh link only when a person
presses its button. The URL carries an HMAC signature (itsdangerous) over the organization id and an
optional last day, made with a key the platform holds, so it is:

- made without any API call, and the same on every run (no output change, no diff churn);
- refused by the endpoint once the key is rotated (after an optional grace period) or the day passed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

import pulumi

from .errors import ConfigurationError, InvalidInputError
from .fields import describe
from .settings import program_config, resolve_onboarding_url, resolve_signing_key
from .validators import checked_object_id

# Changing the salt or the signed text revokes every entry URL ever handed out: never change them.
SALT = "pulumi-spaceinvoices.onboarding-entry"
ENTRY_PREFIX = "/o/"


class EntrySigner:
    """Signs and checks what an entry URL asserts: this organization, until this day (or for good)."""

    def __init__(self, signing_key: str) -> None:
        from itsdangerous import Signer  # loads only where entry URLs are made or checked

        self._signer = Signer(signing_key, salt=SALT, key_derivation="hmac", digest_method=hashlib.sha256)

    @staticmethod
    def _text(organization_id: str, valid_until: date | None) -> str:
        return f"{organization_id}|{valid_until.isoformat() if valid_until else ''}"

    def signature(self, organization_id: str, valid_until: date | None = None) -> str:
        return self._signer.get_signature(self._text(organization_id, valid_until)).decode("ascii")

    def verify(self, organization_id: str, valid_until: date | None, signature: str) -> bool:
        # The exact text, compared in constant time: base64's last character has spare bits, so a
        # decoding check would also take a few altered spellings of the same signature.
        return hmac.compare_digest(self.signature(organization_id, valid_until).encode(), signature.encode())


def parse_valid_until(value: object, *, name: str = "valid_until") -> date | None:
    """A last valid day (UTC): a ``date`` or ``YYYY-MM-DD``; None or empty for no end."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):  # a datetime is a date too: refuse the ambiguity rather than drop the time
        raise InvalidInputError(name, "must be a day (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()) if len(value.strip()) == 10 else _bad_day(name)
        except ValueError:
            pass
    return _bad_day(name)


def _bad_day(name: str) -> date:
    raise InvalidInputError(name, "must be a day in the form YYYY-MM-DD (the last day the URL works, UTC)")


def expired(valid_until: date | None, *, today: date | None = None) -> bool:
    return valid_until is not None and (today or datetime.now(timezone.utc).date()) > valid_until


def entry_url(base_url: str, organization_id: str, signing_key: str, valid_until: date | None = None) -> str:
    """The entry URL: ``<base>/o/<organization>?[until=<day>&]sig=<signature>``."""
    query = {"until": valid_until.isoformat()} if valid_until else {}
    query["sig"] = EntrySigner(signing_key).signature(organization_id, valid_until)
    return f"{base_url}{ENTRY_PREFIX}{quote(organization_id, safe='')}?{urlencode(query)}"


@dataclass(frozen=True)
class GetOnboardingEntryUrlResult:
    """Result of :func:`get_onboarding_entry_url`."""

    organization_id: str = field(metadata=describe(
        "The organization the entry URL is for (24 hexadecimal characters)."))
    url: str = field(repr=False, metadata=describe(
        "The signed entry URL to hand to the organization's admin (a secret: it opens their onboarding).",
        secret=True))
    valid_until: str | None = field(default=None, metadata=describe(
        "The last day (UTC, YYYY-MM-DD) the URL works, or null when it works until the key is rotated."))


@dataclass(frozen=True)
class GetOnboardingEntryUrlOutputResult:
    """Result of :func:`get_onboarding_entry_url_output`: one Output per field, ``url`` secret."""

    organization_id: pulumi.Output[str]
    url: pulumi.Output[str]
    valid_until: pulumi.Output[str | None]


def get_onboarding_entry_url(
    organization_id: str,
    *,
    base_url: str | None = None,
    signing_key: str | None = None,
    valid_until: date | str | None = None,
) -> GetOnboardingEntryUrlResult:
    """The signed entry URL of an organization's onboarding (no API call; the same on every run).

    ``base_url`` and ``signing_key`` default to the stack config ``spaceinvoices:onboardingUrl`` and
    ``spaceinvoices:onboardingSigningKey`` (secret), then the environment variables
    ``SPACEINVOICES_ONBOARDING_URL`` and ``SPACEINVOICES_ONBOARDING_SIGNING_KEY``. Bad input is an
    InvalidInputError naming the argument; a missing setting a ConfigurationError naming both ways.
    """
    org_id = checked_object_id("organization_id", organization_id)
    day = parse_valid_until(valid_until)
    config = program_config()
    base = _setting("base_url", base_url, lambda: resolve_onboarding_url(base_url, config))
    key = _setting("signing_key", signing_key, lambda: resolve_signing_key(signing_key, config))
    return GetOnboardingEntryUrlResult(organization_id=org_id, url=entry_url(base, org_id, key, day),
                                       valid_until=day.isoformat() if day else None)


def _setting(name: str, given: object, resolve: Callable[[], str]) -> str:
    """A setting resolved; a bad explicit argument is an InvalidInputError naming it."""
    if given is not None and not isinstance(given, str):
        raise InvalidInputError(name, "must be a string")
    try:
        return resolve()
    except ConfigurationError as error:
        if given not in (None, ""):
            raise InvalidInputError(name, str(error)) from None
        raise


def get_onboarding_entry_url_output(
    organization_id: pulumi.Input[str],
    *,
    base_url: pulumi.Input[str] | None = None,
    signing_key: pulumi.Input[str] | None = None,
    valid_until: pulumi.Input[str] | None = None,
) -> GetOnboardingEntryUrlOutputResult:
    """The output form: known in preview too (nothing is called), ``url`` secret.

    Pass ``account.organization_id`` to hand the URL out only once the account exists.
    """

    def make(values: list[Any]) -> GetOnboardingEntryUrlResult:
        org_id, base, key, day = values
        return get_onboarding_entry_url(org_id, base_url=base, signing_key=key, valid_until=day)

    result = pulumi.Output.all(organization_id, base_url, pulumi.Output.unsecret(pulumi.Output.from_input(signing_key))
                               if signing_key is not None else None, valid_until).apply(make)
    return GetOnboardingEntryUrlOutputResult(
        organization_id=result.apply(lambda r: r.organization_id),
        url=pulumi.Output.secret(result.apply(lambda r: r.url)),
        valid_until=result.apply(lambda r: r.valid_until),
    )
