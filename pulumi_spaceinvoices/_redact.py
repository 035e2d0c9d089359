"""Redaction of secrets in text and JSON before anything is logged or raised."""

from __future__ import annotations

import re
import threading
from typing import Any

REDACTED = "[redacted]"

# Keys whose values are secret wherever they appear in a request or response body.
SECRET_KEYS = frozenset(
    {"privateKey", "webhookSecret", "connectWebhookSecret", "clientSecret", "url", "accessToken", "Authorization"}
)

_PATTERNS = re.compile(
    r"(?:sk|rk)_(?:test|live)_[A-Za-z0-9*•]+"  # Stripe secret and restricted keys
    r"|whsec_[A-Za-z0-9*•]+"  # webhook signing secrets
    r"|pi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"  # payment intent client secrets
)

_known: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value (a token, say) so it is scrubbed from every later message."""
    if value and len(value) >= 6:
        with _known_lock:
            _known.add(value)


def redact_text(text: str) -> str:
    """Replace known secrets and anything shaped like a Stripe secret in ``text``."""
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _PATTERNS.sub(REDACTED, text)


def redact_json(value: Any) -> Any:
    """A copy of a JSON value with secret keys and secret-shaped strings replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if k in SECRET_KEYS and v is not None else redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
