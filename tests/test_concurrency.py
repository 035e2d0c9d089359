"""Concurrency (ARCHITECTURE.md, Targets): many resources at once through one provider server while the
sandbox injects faults, and two runs racing on the same objects. No duplicates, no lost updates.

Calls go through the SDK's real dynamic-provider server (tests/harness/ProviderServer), as the
engine sends them: Check, then Create or Update, from many threads at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pulumi_spaceinvoices.organization_connect_account import OrganizationConnectAccountProvider
from pulumi_spaceinvoices.sandbox import Account, Sandbox
from pulumi_spaceinvoices.stripe_connect_config import StripeConnectConfigProvider
from tests.harness import ProviderServer, Secret
from tests.support import account_matches, config_matches, connect_inputs, provider_string

pytestmark = pytest.mark.stepwise

ACCOUNT_TYPE = "pulumi-python:dynamic/spaceinvoices:OrganizationConnectAccount"
CONFIG_TYPE = "pulumi-python:dynamic/spaceinvoices:StripeConnectConfig"
ORGANIZATIONS = 200


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::concurrency::{type_}::{name}"


@pytest.fixture
def start_server(sandbox: Sandbox) -> Iterator[Callable[[str], ProviderServer]]:
    servers: list[ProviderServer] = []

    def start(token: str) -> ProviderServer:
        server = ProviderServer(project="concurrency", stack="dev")
        servers.append(server)
        server.configure({"spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": Secret(token)})
        return server

    yield start
    for server in servers:
        server.close()


def _inject_spread_faults(sandbox: Sandbox, operation: str, paths: list[str]) -> None:
    """A transient fault for every fourth object, cycling through the kinds the client survives."""
    faults: list[Callable[[str], None]] = [
        lambda p: sandbox.fail_next(operation, status=503, path=p),
        lambda p: sandbox.fail_next(operation, status=429, retry_after=0.05, path=p),
        lambda p: sandbox.drop_next(operation, path=p),
        lambda p: sandbox.lose_response_next(operation, path=p),
    ]
    for i, path in enumerate(paths[::4]):
        faults[i % len(faults)](path)


def _run_all(calls: list[Callable[[], Any]], workers: int = 16) -> list[Any]:
    """Run every call from a thread pool at once; return results or the exceptions raised."""
    def attempt(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - collected and asserted on by the caller
            return error

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(attempt, calls))


def test_two_hundred_organizations_created_and_updated_at_once_under_faults_get_one_account_each(
        sandbox, account, connect_enabled, start_server):
    org_ids = [sandbox.create_organization(account.id, name=f"Org {i}") for i in range(ORGANIZATIONS)]
    server = start_server(account.token)
    provider = provider_string(OrganizationConnectAccountProvider())

    def create(org: str) -> Callable[[], tuple[str, dict[str, Any]]]:
        def call() -> tuple[str, dict[str, Any]]:
            checked, failures = server.check(urn(ACCOUNT_TYPE, org), {}, {"__provider": provider, "organization_id": org})
            assert failures == []
            return server.create(urn(ACCOUNT_TYPE, org), checked)

        return call

    # The GET of a quarter of the organizations and the POST of another quarter meet a fault.
    _inject_spread_faults(sandbox, "get_account", org_ids)
    _inject_spread_faults(sandbox, "create_account", org_ids[1:])
    created = _run_all([create(org) for org in org_ids])
    assert [c for c in created if isinstance(c, Exception)] == []
    assert [id_ for id_, _ in created] == org_ids
    for org, (_, outs) in zip(org_ids, created, strict=True):
        assert sandbox.store.count_org_accounts(org) == 1
        account_matches(outs, sandbox.store.org_account(org))
    faulted = [r for r in sandbox.requests() if r.fault]
    assert len(faulted) >= 2 * (ORGANIZATIONS // 4)  # the faults really happened

    def deactivate(org: str, outs: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        def call() -> dict[str, Any]:
            news = {"__provider": provider, "organization_id": org, "active": False}
            checked, _ = server.check(urn(ACCOUNT_TYPE, org), {}, news)
            assert server.diff(urn(ACCOUNT_TYPE, org), org, outs, checked).changes is True
            return server.update(urn(ACCOUNT_TYPE, org), org, outs, checked)

        return call

    sandbox.clear_faults()
    records = [sandbox.store.org_account(org)["id"] for org in org_ids]
    _inject_spread_faults(sandbox, "update_account", records)
    _inject_spread_faults(sandbox, "get_account", org_ids[1:])
    updated = _run_all([deactivate(org, outs) for org, (_, outs) in zip(org_ids, created, strict=True)])
    assert [u for u in updated if isinstance(u, Exception)] == []
    for org, outs in zip(org_ids, updated, strict=True):
        record = sandbox.store.org_account(org)
        assert record["active"] is False, f"the update of {org} was lost"
        account_matches(outs, record)
    assert all(sandbox.store.count_org_accounts(org) == 1 for org in org_ids)


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Start the calls at the same moment, each in its own thread."""
    barrier = threading.Barrier(len(calls))

    def start(call: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            barrier.wait()
            return call()

        return run

    return _run_all([start(call) for call in calls], workers=len(calls))


def test_two_runs_racing_to_create_one_organizations_account_make_one_and_agree_on_it(
        sandbox, account, org_id, connect_enabled, start_server):
    first, second = start_server(account.token), start_server(account.token)
    provider = provider_string(OrganizationConnectAccountProvider())
    news = {"__provider": provider, "organization_id": org_id}
    checked, _ = first.check(urn(ACCOUNT_TYPE, "acme"), {}, news)
    for server in (first, second):  # warm up: both processes have loaded the provider
        server.read(urn(ACCOUNT_TYPE, "acme"), org_id, {**checked})
    sandbox.clear_requests()
    sandbox.set_latency(0.5, "create_account")  # both reads see no account before either POST lands

    results = _race(lambda: first.create(urn(ACCOUNT_TYPE, "acme"), checked),
                    lambda: second.create(urn(ACCOUNT_TYPE, "acme-too"), checked))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sandbox.store.count_org_accounts(org_id) == 1
    record = sandbox.store.org_account(org_id)
    for id_, outs in results:
        assert id_ == org_id
        account_matches(outs, record)
    # Both runs tried to create it; the one that lost got 422 and adopted the winner's account.
    assert sorted(r.status for r in sandbox.requests(operation="create_account")) == [200, 422]


def test_two_runs_racing_to_change_different_settings_of_the_config_lose_neither_change(
        sandbox, account: Account, start_server):
    first, second = start_server(account.token), start_server(account.token)
    provider = provider_string(StripeConnectConfigProvider())
    target = urn(CONFIG_TYPE, "connect")
    declared = {"__provider": provider, **connect_inputs()}
    declared["private_key"] = Secret(declared["private_key"])
    checked, _ = first.check(target, {}, declared)
    config_id, outs = first.create(target, checked)
    second.read(target, config_id, outs)  # warm up the second process
    sandbox.set_latency(0.3, "update_connect")  # both PATCHes are in flight at once

    fee_change = {**checked, "application_fee": 4.0}
    url_change = {**checked, "return_url": "https://platform.example.com/welcome-back"}
    results = _race(lambda: first.update(target, config_id, outs, fee_change),
                    lambda: second.update(target, config_id, outs, url_change))
    assert [r for r in results if isinstance(r, Exception)] == []
    record = sandbox.store.connect_config(account.id)
    assert record["application_fee"] == 4.0 and record["return_url"] == "https://platform.example.com/welcome-back"
    assert results[0]["application_fee"] == 4.0
    assert results[1]["return_url"] == "https://platform.example.com/welcome-back"
    _, refreshed, _ = first.read(target, config_id, outs)
    config_matches({k: v.value if isinstance(v, Secret) else v for k, v in refreshed.items()}, record)
