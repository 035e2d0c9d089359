"""Where the API endpoint and the access token come from.

First found wins: explicit arguments → stack config (``spaceinvoices:accessToken``,
``spaceinvoices:apiUrl``) → environment (``SPACEINVOICES_ACCESS_TOKEN``, ``SPACEINVOICES_API_URL``)
→ the default endpoint. In a Pulumi program the stack config is read with ``pulumi.Config``; in the
provider process it arrives through ``configure()`` and is passed here as ``config``.
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


def program_config() -> dict[str, Any]:
    """The ``spaceinvoices:*`` stack config visible to a running Pulumi program (empty outside one)."""
    import pulumi

    try:
        cfg = pulumi.Config(CONFIG_NAMESPACE)
        token, url = cfg.get("accessToken"), cfg.get("apiUrl")
    except Exception:  # no Pulumi program is running: config is simply absent
        return {}
    return {key: value for key, value in ((CONFIG_TOKEN, token), (CONFIG_API_URL, url)) if value}


def _config_value(config: Mapping[str, Any] | None, key: str) -> Any:
    if not config:
        return None
    value = config.get(key)
    return value if value not in (None, "") else None
