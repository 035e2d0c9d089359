"""Where the API endpoint and the access token come from.

First found wins: explicit arguments → stack config (``spaceinvoices:accessToken``,
``spaceinvoices:apiUrl``) → environment (``SPACEINVOICES_ACCESS_TOKEN``, ``SPACEINVOICES_API_URL``)
→ the default endpoint. In a Pulumi program the stack config is read with ``pulumi.Config``; in the
provider process it arrives through ``configure()`` and is passed here as ``config``.

The onboarding entry URLs' settings follow the same order: ``spaceinvoices:onboardingUrl`` /
``SPACEINVOICES_ONBOARDING_URL`` (where the onboarding endpoint is served) and
``spaceinvoices:onboardingSigningKey`` / ``SPACEINVOICES_ONBOARDING_SIGNING_KEY`` (secret).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._redact import register_secret
from .errors import TOKEN_HINT, ConfigurationError

DEFAULT_API_URL = "https://api.spaceinvoices.com"
TEST_API_URL = "https://api-test.spaceinvoices.com"
CONFIG_NAMESPACE = "spaceinvoices"
CONFIG_TOKEN = f"{CONFIG_NAMESPACE}:accessToken"
CONFIG_API_URL = f"{CONFIG_NAMESPACE}:apiUrl"
ENV_TOKEN = "SPACEINVOICES_ACCESS_TOKEN"
ENV_API_URL = "SPACEINVOICES_API_URL"
CONFIG_ONBOARDING_URL = f"{CONFIG_NAMESPACE}:onboardingUrl"
CONFIG_SIGNING_KEY = f"{CONFIG_NAMESPACE}:onboardingSigningKey"
ENV_ONBOARDING_URL = "SPACEINVOICES_ONBOARDING_URL"
ENV_SIGNING_KEY = "SPACEINVOICES_ONBOARDING_SIGNING_KEY"
# An HMAC key shorter than its 32-byte digest is weaker than the signature it makes.
MIN_SIGNING_KEY_BYTES = 32
SIGNING_KEY_HINT = (
    f"Set it with `pulumi config set --secret {CONFIG_SIGNING_KEY} <key>` or the {ENV_SIGNING_KEY} "
    f"environment variable: at least {MIN_SIGNING_KEY_BYTES} random bytes, e.g. `openssl rand -base64 32`."
)


@dataclass(frozen=True)
class Settings:
    api_url: str
    access_token: str = field(repr=False)


def resolve_api_url(api_url: str | None = None, config: Mapping[str, Any] | None = None) -> str:
    """The API base URL without a trailing slash, validated."""
    url = api_url or _config_value(config, CONFIG_API_URL) or os.environ.get(ENV_API_URL) or DEFAULT_API_URL
    url = str(url).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"The Space Invoices API URL {url!r} is not an http(s) URL ({CONFIG_API_URL} / {ENV_API_URL}).")
    return url


def resolve_token(access_token: str | None = None, config: Mapping[str, Any] | None = None) -> str | None:
    """The token from the argument, then ``config``, then the environment; None when none is set.

    A token that a header cannot carry (spaces, control or non-ASCII characters) is a
    ConfigurationError naming where it came from, rather than a failed request later.
    """
    sources = ((access_token, "the access_token argument"), (_config_value(config, CONFIG_TOKEN), CONFIG_TOKEN),
               (os.environ.get(ENV_TOKEN), ENV_TOKEN))
    value, source = next(((v, s) for v, s in sources if v not in (None, "")), (None, ""))
    if value is None or not str(value).strip():
        return None
    token = str(value).strip()
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigurationError(
            f"The Space Invoices access token from {source} contains spaces or characters an HTTP header cannot "
            f"carry; check how it was pasted. {TOKEN_HINT}"
        )
    register_secret(token)
    return token


def resolve_settings(
    access_token: str | None = None,
    api_url: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings from arguments, then ``config`` (stack config keys), then the environment."""
    token = resolve_token(access_token, config)
    if token is None:
        raise ConfigurationError(f"No Space Invoices access token is set. {TOKEN_HINT}")
    return Settings(api_url=resolve_api_url(api_url, config), access_token=token)


def resolve_onboarding_url(base_url: str | None = None, config: Mapping[str, Any] | None = None) -> str:
    """The onboarding endpoint's public base URL (no trailing slash): http(s), no credentials, no query."""
    url, source = _first((base_url, "the base_url argument"), (_config_value(config, CONFIG_ONBOARDING_URL),
                         CONFIG_ONBOARDING_URL), (os.environ.get(ENV_ONBOARDING_URL), ENV_ONBOARDING_URL))
    if url is None:
        raise ConfigurationError(
            f"No onboarding endpoint URL is set: set {CONFIG_ONBOARDING_URL} (pulumi config set) or "
            f"{ENV_ONBOARDING_URL} to the public URL where `spaceinvoices-onboarding` serves.")
    text = str(url).strip().rstrip("/")
    parts = urlsplit(text)
    problem = ("is not an http(s) URL" if parts.scheme not in ("http", "https") or not parts.hostname
               else "must not carry a user name or password" if parts.username or parts.password
               else "must not have a query or a fragment" if parts.query or parts.fragment or text.endswith("?")
               else "")
    if problem:
        raise ConfigurationError(f"The onboarding endpoint URL from {source} {problem}.")
    return text


def resolve_signing_key(signing_key: str | None = None, config: Mapping[str, Any] | None = None) -> str:
    """The entry URLs' signing key, at least 32 bytes; registered so that no message ever shows it."""
    key, source = _first((signing_key, "the signing_key argument"), (_config_value(config, CONFIG_SIGNING_KEY),
                         CONFIG_SIGNING_KEY), (os.environ.get(ENV_SIGNING_KEY), ENV_SIGNING_KEY))
    if key is None:
        raise ConfigurationError(f"No onboarding signing key is set. {SIGNING_KEY_HINT}")
    if not isinstance(key, str) or len(key.encode()) < MIN_SIGNING_KEY_BYTES:
        raise ConfigurationError(
            f"The onboarding signing key from {source} is shorter than {MIN_SIGNING_KEY_BYTES} bytes. {SIGNING_KEY_HINT}")
    register_secret(key)
    return key


def program_config() -> dict[str, Any]:
    """The ``spaceinvoices:*`` stack config visible to a running Pulumi program (empty outside one)."""
    import pulumi

    keys = (CONFIG_TOKEN, CONFIG_API_URL, CONFIG_ONBOARDING_URL, CONFIG_SIGNING_KEY)
    try:
        cfg = pulumi.Config(CONFIG_NAMESPACE)
        values = [cfg.get(key.split(":", 1)[1]) for key in keys]
    except Exception:  # no Pulumi program is running: config is simply absent
        return {}
    return {key: value for key, value in zip(keys, values, strict=True) if value}


def _first(*sources: tuple[Any, str]) -> tuple[Any, str]:
    """The first value that is set (not None, not empty) and where it came from."""
    return next(((value, source) for value, source in sources if value not in (None, "")), (None, ""))


def _config_value(config: Mapping[str, Any] | None, key: str) -> Any:
    if not config:
        return None
    value = config.get(key)
    return value if value not in (None, "") else None
