"""The shapes inputs and answers must have, as plain functions: ids, URLs, Stripe keys and secrets.

Each check of an input is a function of the value (and, where it needs another input, pydantic's
``ValidationInfo``) that returns the value or raises ``ValueError`` with a message that never quotes
a secret. The resources attach them to their fields (``fields.describe(check=...)``); the wire models
use the answer checks at the end. Nothing here loads pydantic at import time.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from .errors import InvalidInputError

if TYPE_CHECKING:
    from pydantic import ValidationInfo

# -- Ids -----------------------------------------------------------------------------------------

OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")  # a Space Invoices (MongoDB) ObjectId


def is_object_id(value: str) -> bool:
    return OBJECT_ID.fullmatch(value) is not None


def validate_object_id(value: str) -> str:
    """A 24-hex id in lower case; anything else (path characters included) is refused."""
    if not is_object_id(value):
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ValueError(f"must be a Space Invoices id of 24 hexadecimal characters (got {shown!r})")
    return value.lower()


def checked_object_id(name: str, value: Any) -> str:
    """An id no ``check`` has seen (a function's argument, the state, ``get``): refused before it reaches a
    URL, as an InvalidInputError naming ``name``."""
    try:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return validate_object_id(value)
    except ValueError as error:
        raise InvalidInputError(name, str(error)) from None


# -- URLs ----------------------------------------------------------------------------------------

MAX_URL_LENGTH = 2048
NOT_A_URL = "must be an absolute http(s) URL such as https://example.com/stripe/return"
HOST_NAME = re.compile(r"[a-z0-9_.-]+")  # what urlsplit leaves of a host name (lower case)
# A host whose last label is a number is an IPv4 address to a browser ("0x7f.1", "2130706433").
NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")


def looks_like_http_url(value: str) -> bool:
    """An answer's URL (one the API made): an http(s) scheme and a host, nothing more is asked."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def browser_safe_url(value: str) -> tuple[SplitResult | None, str]:
    """The parts of an absolute http(s) URL that browsers and Python read alike, or None and why not.

    For URLs we send people to (Stripe's redirects): where ``urlsplit`` and a browser (the WHATWG URL
    standard) could read the host differently, the URL is refused rather than guessed at.
    """
    if any(c.isspace() or not c.isprintable() for c in value):
        return None, "must not contain spaces or control characters"
    if "\\" in value:
        return None, "must not contain backslashes: browsers read them as '/', which can change the host"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return None, NOT_A_URL
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, NOT_A_URL
    if "@" in parts.netloc:
        return None, ("must not have '@' before the host: it marks a user name or password, which would be "
                      "stored in plain text in the state, and makes the host easy to misread")
    if not _plain_host(parts.hostname, bracketed=parts.netloc.startswith("[")):
        return None, ("must name its host in plain ASCII (letters, digits, '-', '.'; xn--… for international "
                      "names) or as an IP address written in full: browsers read other hosts differently from Python")
    return parts, ""


def _plain_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:  # an IPv6 literal; zone ids ("%25eth0") are not allowed in URLs by browsers
        try:
            return "%" not in host and isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
        except ValueError:
            return False
    if not HOST_NAME.fullmatch(host):  # percent-encoding, non-ASCII (IDN look-alikes), ':' ...
        return False
    if NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]):
        try:  # then only a dotted quad in plain decimal means the same to both
            return str(ipaddress.IPv4Address(host)) == host
        except ValueError:
            return False
    return True


def redirect_url(value: str, info: ValidationInfo) -> str:
    """A URL Stripe sends the user to: browser-safe, and https when either Stripe key is a live one."""
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    parts, why_not = browser_safe_url(value)
    if parts is None:
        raise ValueError(why_not)
    live = "live" in (key_mode(info.data.get("private_key")), key_mode(info.data.get("public_key")))
    if live and parts.scheme != "https":
        raise ValueError("must use https: Stripe requires https redirect URLs with live keys")
    return value


# -- Stripe keys and secrets ---------------------------------------------------------------------

KEY_MODE = re.compile(r"^(?:sk|rk|pk)_(test|live)_")
# Stripe keys are letters and digits after the prefix; redaction relies on that shape too.
SECRET_KEY = re.compile(r"(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{4,247}")
PUBLISHABLE_KEY = re.compile(r"pk_(?:test|live)_[A-Za-z0-9]{4,247}")
MAX_WEBHOOK_SECRET_LENGTH = 256
MAX_CUSTOM_BYTES = 16 * 1024
# Secrets that would otherwise sit in plain text in the state, inside `custom`.
SECRETS_IN_CUSTOM = (
    (re.compile(r"(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{4,}"), "a Stripe secret or restricted key (sk_…, rk_…)",
     "private_key"),
    (re.compile(r"whsec_[A-Za-z0-9]{4,}"), "a Stripe webhook signing secret (whsec_…)", "connect_webhook_secret"),
)


def key_mode(key: Any) -> str | None:
    """'test' or 'live' for a Stripe key, None for anything else."""
    match = KEY_MODE.match(key) if isinstance(key, str) else None
    return match.group(1) if match else None


def stripe_secret_key(value: str) -> str:
    if value.startswith("pk_"):
        raise ValueError("looks like a publishable key; did you swap private_key and public_key?")
    if not SECRET_KEY.fullmatch(value):
        raise ValueError("must be a Stripe secret key (sk_test_…, sk_live_…) or restricted key (rk_test_…, rk_live_…)")
    return value


def stripe_publishable_key(value: str, info: ValidationInfo) -> str:
    """A publishable key of the same mode as ``private_key``."""
    if value.startswith(("sk_", "rk_")):
        raise ValueError("looks like a secret key; did you swap private_key and public_key?")
    if not PUBLISHABLE_KEY.fullmatch(value):
        raise ValueError("must be a Stripe publishable key (pk_test_… or pk_live_…)")
    private_mode = key_mode(info.data.get("private_key"))
    if private_mode and private_mode != key_mode(value):
        raise ValueError(f"is a {key_mode(value)} key but private_key is a {private_mode} key; use keys of the same mode")
    return value


def webhook_signing_secret(value: str) -> str:
    if (not value.startswith("whsec_") or len(value) > MAX_WEBHOOK_SECRET_LENGTH or not value.isascii()
            or not value.isprintable() or " " in value):
        raise ValueError("must be a Stripe webhook signing secret (whsec_…)")
    if value == "whsec_":
        raise ValueError("must have the secret itself after whsec_")
    return value


def secret_in(value: Any, where: str = "custom") -> tuple[str, str, str] | None:
    """(what, where, the input meant for it) for the first secret-shaped key or string in ``value``."""
    if isinstance(value, str):
        for shape, what, meant_for in SECRETS_IN_CUSTOM:
            if shape.search(value):
                return what, where, meant_for
        return None
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        if isinstance(key, str) and (found := secret_in(key, f"a key of {where}")):
            return found
        shown = repr(key) if len(repr(key)) <= 40 else repr(key)[:37] + "...'"
        if found := secret_in(item, f"{where}[{shown}]"):
            return found
    return None


def plain_json_object(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON object small enough to keep in the state, holding nothing shaped like a secret
    (it is stored in plain text); whole floats back to ints."""
    try:
        size = len(json.dumps(value, allow_nan=False))  # NaN and Infinity are not JSON
    except (TypeError, ValueError, RecursionError):
        raise ValueError("must be a JSON object") from None
    if size > MAX_CUSTOM_BYTES:
        raise ValueError(f"must be at most {MAX_CUSTOM_BYTES} bytes as JSON")
    if found := secret_in(value):
        what, where, meant_for = found
        raise ValueError(f"holds what looks like {what} in {where}: custom is stored in plain text in the "
                         f"state, so it may not hold secrets (pass it as {meant_for}, which is kept secret)")
    coerced: dict[str, Any] = coerce_numbers(value)  # a JSON object: still a dict
    return coerced


# -- Numbers -------------------------------------------------------------------------------------

def percent_as_number(value: Any) -> Any:
    """Before type validation: a number (not a bool), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number (percent, 0 to 99)")
    return float(value)


def percent_0_to_99(value: float) -> float:
    if not 0 <= value <= 99:
        raise ValueError(f"must be between 0 and 99 percent (got {value:g})")
    return value


def coerce_numbers(value: Any) -> Any:
    """Whole floats back to ints, recursively (the engine sends every number as a float)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: coerce_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_numbers(v) for v in value]
    return value
