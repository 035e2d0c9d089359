"""Shared fixtures: one sandbox per test session, reset before every test that uses it.

- `sandbox`: the running Sandbox (session-scoped). Each test that uses it, directly or through another
  fixture, starts with the start-up settings, no faults or latency, an empty request log and fresh
  rate-limit windows.
- `account`: a fresh account (.id, .token); `org_id`: an organization of that account.
- `http(token=None)`: a requests session bound to the sandbox URL; `api` (with the account's token)
  and `anon` (without a token) are two such sessions.
- `connect_body`: a valid body for POST /v1/stripe-connect; `connect_enabled`: Connect enabled for
  `account` with that body (the StripeConnect answer as a dict).
- `configured`: the provider process's settings (as `configure()` sets them) pointed at the sandbox
  with `account`'s token, as at the start of a deployment; `new_run()` starts another deployment
  (what a fresh provider process would forget).
- `workspace`: the real Pulumi CLI with a PULUMI_HOME, file backend and passphrase of the test's own
  (tests/realengine.py); a test that uses it needs `pulumi` on PATH (skips elsewhere, fails under CI=true).

Tiers: every test has exactly one of the markers pytest.ini registers (TIERS), from a
`pytestmark = pytest.mark.<tier>` at the top of its module, a mark on the test itself (modules whose
tests span tiers), or MODULE_TIERS for a module that cannot carry one. Collection fails, naming the
tests, when one has none or several. docs/testing.md describes the tiers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
import requests
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from pulumi_spaceinvoices import core
from pulumi_spaceinvoices.sandbox import Account, Sandbox, run_sandbox
from pulumi_spaceinvoices.settings import CONFIG_API_URL, CONFIG_TOKEN

_emails = itertools.count(1)

TIERS = ("unit", "sandbox", "stepwise", "engine", "native", "browser", "postgres", "release")
# Modules that cannot carry a `pytestmark` of their own: tests/test_upgrade.py, the compatibility
# contract with earlier releases (ARCHITECTURE.md), is left as it is.
MODULE_TIERS = {"test_upgrade.py": "engine"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: every collected test is checked, whatever is run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    untiered: list[str] = []
    for item in items:
        if item.path.name in MODULE_TIERS:
            item.add_marker(MODULE_TIERS[item.path.name])
        tiers = sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS})
        if len(tiers) != 1:
            untiered.append(f"  {item.nodeid}: {', '.join(tiers) or 'no tier'}")
    if untiered:
        raise pytest.UsageError(
            "every test needs exactly one tier marker (" + ", ".join(TIERS) + "): add "
            "`pytestmark = pytest.mark.<tier>` at the top of the module (or mark each test of a module "
            "whose tests span tiers); docs/testing.md says which tier is which. Tests without exactly one:\n"
            + "\n".join(untiered[:50]) + (f"\n  … and {len(untiered) - 50} more" if len(untiered) > 50 else ""))


class SandboxSession(requests.Session):
    """A requests session that takes paths relative to the sandbox URL and has a default timeout."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        super().__init__()
        self.base_url = base_url
        if token is not None:
            self.headers["Authorization"] = token

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 10)
        return super().request(method, self.base_url + url if url.startswith("/") else url, *args, **kwargs)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_sandbox_state(request: pytest.FixtureRequest) -> None:
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset()


@pytest.fixture
def account(sandbox: Sandbox) -> Account:
    return sandbox.create_account(email=f"ops-{next(_emails)}@example.com")


@pytest.fixture
def org_id(sandbox: Sandbox, account: Account) -> str:
    return sandbox.create_organization(account.id, name="Acme d.o.o.")


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[Callable[..., SandboxSession]]:
    sessions: list[SandboxSession] = []

    def make(token: str | None = None) -> SandboxSession:
        sessions.append(SandboxSession(sandbox.url, token))
        return sessions[-1]

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def api(http: Callable[..., SandboxSession], account: Account) -> SandboxSession:
    return http(account.token)


@pytest.fixture
def anon(http: Callable[..., SandboxSession]) -> SandboxSession:
    return http()


@pytest.fixture
def connect_body() -> dict[str, Any]:
    return {
        "privateKey": "sk_test_51SandboxPrivateKey0000wxyz",
        "publicKey": "pk_test_51SandboxPublicKey00000abcd",
        "applicationFee": 1.5,
        "refreshUrl": "https://platform.example.com/onboarding/refresh",
        "returnUrl": "https://platform.example.com/onboarding/done",
        "connectWebhookSecret": "whsec_SandboxConnectSecret0000efgh",
    }


@pytest.fixture
def connect_enabled(api: SandboxSession, connect_body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/stripe-connect", json=connect_body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def new_run() -> Callable[[], None]:
    def start() -> None:
        with core._lock:
            core._touched.clear()

    start()
    return start


@pytest.fixture
def configured(sandbox: Sandbox, account: Account, new_run: Callable[[], None]) -> None:
    # As the dynamic-provider server does: fresh runtime settings (no engine, so logs go to stderr).
    pulumi.runtime.configure(pulumi.runtime.Settings(project="test", stack="test"))
    config = Config({CONFIG_TOKEN: account.token, CONFIG_API_URL: sandbox.url}, "test")
    core.SpaceInvoicesProvider().configure(ConfigureRequest(config))


@pytest.fixture(scope="session")
def toolchains(tmp_path_factory: Any) -> Any:
    """The native programs' toolchain per language, built once a session (tests/native_sdks.py)."""
    from tests.native_sdks import Toolchains

    return Toolchains(tmp_path_factory.mktemp("toolchains"))


@pytest.fixture
def workspace(tmp_path: Any) -> Any:
    """A real-CLI workspace (tests/realengine.py): own PULUMI_HOME, file backend and passphrase."""
    from tests.realengine import Workspace

    return Workspace(tmp_path)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One PostgreSQL server for the session (tests/postgres.py), on loopback, removed afterwards."""
    from tests.postgres import PostgresServer

    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_backend(postgres: Any, request: pytest.FixtureRequest) -> str:
    """A new database of the session's server, as a `postgres://` Pulumi backend URL."""
    return postgres.backend_url(f"state_{next(_databases)}")


_databases = itertools.count(1)
