"""Helpers shared by several test files (the reliability and security suites, lifecycles, the browser).

- `connect_inputs()`: valid StripeConnectConfig inputs as `check` would return them.
- `config_matches` / `account_matches`: a provider's outputs agree with the sandbox's database.
- `engine(...)`: an `Engine` pointed at the sandbox with an account's token (a secret config value).
- `provider_string(provider)`: the serialized `__provider`, as a program registers it.
- `serve_http(handler)`: a real HTTP server on loopback with a `BaseHTTPRequestHandler`; yields its URL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pulumi.dynamic.dynamic import serialize_provider

from tests.harness import Engine

SECRET_KEY = "sk_test_RELIABILITYsecret0123456789"
PUBLIC_KEY = "pk_test_RELIABILITYpublic0123456789"
CONNECT_WEBHOOK = "whsec_RELIABILITYwebhook0123456789"

CONFIG_KEYS = ("private_key", "public_key", "application_fee", "refresh_url", "return_url",
               "connect_webhook_secret", "active")


def connect_inputs(**overrides: Any) -> dict[str, Any]:
    """Checked StripeConnectConfig inputs (defaults filled in)."""
    inputs: dict[str, Any] = {
        "private_key": SECRET_KEY,
        "public_key": PUBLIC_KEY,
        "application_fee": 1.5,
        "refresh_url": "https://platform.example.com/refresh",
        "return_url": "https://platform.example.com/return",
        "connect_webhook_secret": CONNECT_WEBHOOK,
        "active": True,
    }
    inputs.update(overrides)
    return inputs


def config_matches(outs: Mapping[str, Any], record: Mapping[str, Any] | None) -> None:
    """Assert StripeConnectConfig outputs equal the sandbox's record of the config."""
    assert record is not None, "the config is not in the sandbox's database"
    for key in CONFIG_KEYS:
        assert outs[key] == record[key], key
    assert outs["webhook_secret"] == record["webhook_secret"]
    assert outs["account_id"] == record["account_id"]


def account_matches(outs: Mapping[str, Any], record: Mapping[str, Any] | None) -> None:
    """Assert OrganizationConnectAccount outputs equal the sandbox's record of the account."""
    assert record is not None, "the account is not in the sandbox's database"
    assert outs["organization_id"] == record["organization_id"]
    assert outs["connect_account_id"] == record["id"]
    assert outs["stripe_account_id"] == record["stripe_account_id"]
    assert outs["active"] is record["active"]
    assert outs["charges_enabled"] is record["charges_enabled"]


def engine(program: Any, sandbox: Any, token: str, *, env: Mapping[str, str] | None = None,
           project: str = "reliability", stack: str = "dev") -> Engine:
    """An Engine whose stack config points the provider at the sandbox with `token` (secret)."""
    return Engine(
        program,
        project=project,
        stack=stack,
        config={"spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": token},
        secret_config={"spaceinvoices:accessToken"},
        env=dict(env or {}),
    )


def provider_string(provider: Any) -> str:
    """The `__provider` value a program registers for this provider."""
    return serialize_provider(provider)


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free loopback port in a thread; yields the base URL, stops on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
