"""Helpers shared by several test files (the reliability and security suites, lifecycles, the browser).

- `connect_inputs()`: valid StripeConnectConfig inputs as `check` would return them.
- `config_matches` / `account_matches`: a provider's outputs agree with the sandbox's database.
- `engine(...)`: an `Engine` pointed at the sandbox with an account's token (a secret config value).
- `provider_string(provider)`: the serialized `__provider`, as a program registers it.
- `serve_http(handler)`: a real HTTP server on loopback with a `BaseHTTPRequestHandler`; yields its URL.
- `live_secret_key(body)`: a fake `sk_live_` key, put together at run time.
- `OnboardingProcess`: `spaceinvoices-onboarding serve` in a process of its own, its output kept;
  `csrf_of(page)` its form's token; `connect_to_endpoint(url, *orgs)` Connect and the organizations'
  accounts set up to lead there.
- `api_calls(sandbox)`: the one count of the API operations the sandbox served since its log was
  last cleared (options: one account's, pages too, clear after); `api_calls_in_order` the same as
  a list in order, `api_calls_by_account` per account.
  (tests/lifecycle.py runs a lifecycle as a table of steps, each step's calls counted by it.)
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import requests
from pulumi.dynamic.dynamic import serialize_provider

from tests.harness import Engine

SECRET_KEY = "sk_test_RELIABILITYsecret0123456789"
PUBLIC_KEY = "pk_test_RELIABILITYpublic0123456789"
CONNECT_WEBHOOK = "whsec_RELIABILITYwebhook0123456789"

CONFIG_KEYS = ("private_key", "public_key", "application_fee", "refresh_url", "return_url",
               "connect_webhook_secret", "active")


def live_secret_key(body: str) -> str:
    """A fake live-mode Stripe secret key, put together at run time so that no string in the
    repository looks like a real live key (secret scanners rightly flag those)."""
    return "_".join(("sk", "live", body))


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


SIGNING_KEY = "onboarding-signing-key-for-tests-0123456789abcdef"


def _served(sandbox: Any, pages: bool, account: Any) -> Iterator[Any]:
    account_id = getattr(account, "id", account)
    for record in sandbox.requests():
        if (pages or not record.operation.startswith("page_")) and account_id in (None, record.account_id):
            yield record


def api_calls(sandbox: Any, *, account: Any = None, pages: bool = False, clear: bool = False) -> Counter[str]:
    """The operations `sandbox` served since its log was last cleared, counted by name: the API's, and
    with `pages=True` the pages a browser opens (`page_*`) too; of `account` alone (an Account or an
    account id) when given. `clear=True` clears the log after counting (the next count starts there).
    `sandbox` is anything with `requests()` and `clear_requests()`: the session's Sandbox, or a
    `RemoteSandbox` (a sandbox process, read through its admin API)."""
    counted = Counter(record.operation for record in _served(sandbox, pages, account))
    if clear:
        sandbox.clear_requests()
    return counted


class RemoteSandbox:
    """A sandbox in a process of its own (run.sh's), its request log read through its admin API, with
    the `requests()` and `clear_requests()` of the session's Sandbox: `api_calls` counts it the same."""

    def __init__(self, url: str) -> None:
        self.url = url

    def requests(self) -> list[SimpleNamespace]:
        answer = requests.get(f"{self.url}/_sandbox/requests", timeout=10)
        answer.raise_for_status()
        return [SimpleNamespace(**record) for record in answer.json()["requests"]]

    def clear_requests(self) -> None:
        requests.delete(f"{self.url}/_sandbox/requests", timeout=10).raise_for_status()


def api_calls_in_order(sandbox: Any, *, account: Any = None, pages: bool = False) -> list[str]:
    """What `api_calls` counts, as the list of operations in the order they were served."""
    return [record.operation for record in _served(sandbox, pages, account)]


def api_calls_by_account(sandbox: Any) -> dict[str, Counter[str]]:
    """`api_calls` split by the account whose token made each call: {account id: operations}."""
    found: dict[str, Counter[str]] = {}
    for record in _served(sandbox, False, None):
        found.setdefault(record.account_id, Counter())[record.operation] += 1
    return found


def connect_to_endpoint(endpoint_url: str, *org_ids: str) -> None:
    """Through the providers (the `configured` fixture's account): Connect enabled with Stripe's round
    trip leading to the onboarding endpoint, and each organization's account."""
    from pulumi_spaceinvoices.organization_connect_account import OrganizationConnectAccountProvider
    from pulumi_spaceinvoices.stripe_connect_config import StripeConnectConfigProvider

    StripeConnectConfigProvider().create(
        connect_inputs(refresh_url=f"{endpoint_url}/refresh", return_url=f"{endpoint_url}/return"))
    for org_id in org_ids:
        OrganizationConnectAccountProvider().create({"organization_id": org_id, "active": True})


def csrf_of(html: str) -> str:
    """The CSRF token of an onboarding page's button form."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no button form"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OnboardingProcess:
    """`spaceinvoices-onboarding serve` as a user runs it: a real process on a loopback port, its
    stderr (the access log included) kept for the tests' secret checks. `restart()` keeps the port."""

    def __init__(self, sandbox: Any, token: str, *, signing_key: str = SIGNING_KEY, port: int | None = None,
                 args: tuple[str, ...] = ("--no-check",), env: Mapping[str, str] | None = None,
                 host: str = "127.0.0.1", app: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        # host "localhost": another site than the sandbox's 127.0.0.1. `app`: (folder, "module:app") of an
        # ASGI app that mounts the endpoint at /onboarding, served by uvicorn instead of the command.
        self.url = f"http://{host}:{self.port}" + ("/onboarding" if app else "")
        self.app = app
        self.env = {**os.environ, "SPACEINVOICES_API_URL": sandbox.url, "SPACEINVOICES_ACCESS_TOKEN": token,
                    "SPACEINVOICES_ONBOARDING_URL": self.url, "SPACEINVOICES_ONBOARDING_SIGNING_KEY": signing_key,
                    **(env or {})}
        self.args = args
        self.logs: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._output: Any = None

    def start(self) -> OnboardingProcess:
        command = ([sys.executable, "-m", "uvicorn", "--app-dir", self.app[0], self.app[1], "--no-access-log"]
                   if self.app else [sys.executable, "-m", "pulumi_spaceinvoices.onboarding", "serve", *self.args])
        # Its output goes to a file, not a pipe: a pipe nobody reads fills up and stalls a busy server.
        self._output = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (open as long as the process runs)
        self._process = subprocess.Popen([*command, "--port", str(self.port)], env=self.env, stdout=self._output,
                                         stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the onboarding endpoint exited: {self.stop()}")
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"the onboarding endpoint did not start: {self.stop()}")

    def stop(self) -> str:
        """Stop it; returns (and keeps) what it printed."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._output.seek(0)
            self.logs.append(self._output.read())
            self._output.close()
            self._process = None
        return "".join(self.logs)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> OnboardingProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
