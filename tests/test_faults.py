"""Faults (ARCHITECTURE.md, Targets: reliability): every resource operation and both functions against a
sandbox that answers 5xx bursts, 429 with Retry-After, latency beyond the read timeout, dropped
connections and POSTs whose answer is lost.

Transient faults must be survived within the retry budget; faults that persist (or that the retry
policy may not repeat) must end in an error naming the resource, the operation and the status,
never hang past the deadline, and a re-run must then converge: one account per organization and
outputs equal to the sandbox's database. The first part drives the providers in-process, step by
step; the second drives whole deployments through the SDK's provider server (tests/harness).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

from pulumi_spaceinvoices import (
    ConfigurationError,
    SpaceInvoicesClient,
    SpaceInvoicesError,
    get_onboarding_link,
    get_payment_intent,
)
from pulumi_spaceinvoices import _functions as function_clients
from pulumi_spaceinvoices import client as client_module
from pulumi_spaceinvoices import core as provider_state
from pulumi_spaceinvoices.client import ENV_DEADLINE, ENV_TIMEOUT
from pulumi_spaceinvoices.organization_connect_account import OrganizationConnectAccountProvider
from pulumi_spaceinvoices.sandbox import Account, Sandbox
from pulumi_spaceinvoices.stripe_connect_config import StripeConnectConfigProvider
from tests.support import account_matches, config_matches, connect_inputs, engine

# Transient faults get a roomy deadline (only the retry budget matters); persistent ones a short
# read timeout and deadline, set the way a provider process gets them: through the environment.
TRANSIENT_ENV = {ENV_TIMEOUT: "5", ENV_DEADLINE: "10"}
TIMEOUT, DEADLINE = 0.15, 0.6
PERSISTENT_ENV = {ENV_TIMEOUT: str(TIMEOUT), ENV_DEADLINE: str(DEADLINE)}
SLOW = 6.0  # injected latency: far beyond the read timeout, and beyond the bound asserted below
HANG_BOUND = 2 * DEADLINE + 3.0  # one operation may make two slow calls; the rest is slack


# -- The operations ---------------------------------------------------------------------------------


@dataclass
class World:
    """One test's account, organization and providers, plus what the setup created."""

    sandbox: Sandbox
    account: Account
    org_id: str
    connect: StripeConnectConfigProvider = field(default_factory=StripeConnectConfigProvider)
    accounts: OrganizationConnectAccountProvider = field(default_factory=OrganizationConnectAccountProvider)
    config: Any = None  # CreateResult of the StripeConnectConfig
    org_account: Any = None  # CreateResult of the OrganizationConnectAccount
    shareable_id: str = ""

    def config_record(self) -> dict[str, Any] | None:
        return self.sandbox.store.connect_config(self.account.id)

    def account_record(self) -> dict[str, Any] | None:
        return self.sandbox.store.org_account(self.org_id)


@dataclass(frozen=True)
class Target:
    """A resource operation or a function: what it needs, the requests it makes, how to run it
    and how to tell that it converged."""

    name: str
    needs: str  # nothing | config | account | onboarded
    steps: dict[str, str]  # sandbox operation -> how an error must name the failing step
    run: Callable[[World], Any]
    converged: Callable[[World, Any], None]


def _config_created(world: World, result: Any) -> None:
    assert result.id == world.config_record()["id"]
    config_matches(result.outs, world.config_record())


def _config_read(world: World, result: Any) -> None:
    assert result.id == world.config_record()["id"]
    config_matches(result.outs, world.config_record())


def _config_updated(world: World, result: Any) -> None:
    assert world.config_record()["application_fee"] == 7.5
    config_matches(result.outs, world.config_record())


def _config_deactivated(world: World, _result: Any) -> None:
    assert world.config_record()["active"] is False


def _account_created(world: World, result: Any) -> None:
    assert result.id == world.org_id
    assert world.sandbox.store.count_org_accounts(world.org_id) == 1
    account_matches(result.outs, world.account_record())


def _account_read(world: World, result: Any) -> None:
    assert result.id == world.org_id
    account_matches(result.outs, world.account_record())


def _account_updated(world: World, result: Any) -> None:
    assert world.account_record()["active"] is False
    account_matches(result.outs, world.account_record())


def _account_deactivated(world: World, _result: Any) -> None:
    assert world.account_record()["active"] is False
    assert world.sandbox.store.count_org_accounts(world.org_id) == 1


def _link_made(world: World, result: Any) -> None:
    assert result.url.startswith(f"{world.sandbox.url}/sandbox/onboarding/")
    link = world.sandbox.store.link(result.url.rsplit("/", 1)[1])
    assert link is not None and link["organization_id"] == world.org_id and not link["used"]
    assert world.sandbox.store.count_org_accounts(world.org_id) == 1


def _intent_read(world: World, result: Any) -> None:
    assert result.client_secret == world.sandbox.store.invoice(world.shareable_id)["client_secret"]


SC = "StripeConnectConfig"
OA = "OrganizationConnectAccount for organization {org}"
LINK = "get_onboarding_link for organization {org}"
INTENT = "get_payment_intent for document {sid}"

TARGETS = [
    Target("StripeConnectConfig.create", "nothing",
           {"get_connect": f"reading {SC}", "enable_connect": f"enabling {SC}"},
           lambda w: w.connect.create(connect_inputs()), _config_created),
    Target("StripeConnectConfig.read", "config", {"get_connect": f"reading {SC}"},
           lambda w: w.connect.read(w.config.id, w.config.outs), _config_read),
    Target("StripeConnectConfig.update", "config",
           {"update_connect": f"updating {SC}", "get_connect": f"reading {SC}"},
           lambda w: w.connect.update(w.config.id, w.config.outs, connect_inputs(application_fee=7.5)),
           _config_updated),
    Target("StripeConnectConfig.delete", "config", {"update_connect": f"deactivating {SC}"},
           lambda w: w.connect.delete(w.config.id, w.config.outs), _config_deactivated),
    Target("OrganizationConnectAccount.create", "config",
           {"get_account": f"reading {OA}", "create_account": f"creating {OA}"},
           lambda w: w.accounts.create({"organization_id": w.org_id, "active": True}), _account_created),
    Target("OrganizationConnectAccount.read", "account", {"get_account": f"reading {OA}"},
           lambda w: w.accounts.read(w.org_id, w.org_account.outs), _account_read),
    Target("OrganizationConnectAccount.update", "account",
           {"update_account": f"updating {OA}", "get_account": f"reading {OA}"},
           lambda w: w.accounts.update(w.org_id, w.org_account.outs, {"organization_id": w.org_id, "active": False}),
           _account_updated),
    Target("OrganizationConnectAccount.delete", "account", {"update_account": f"deactivating {OA}"},
           lambda w: w.accounts.delete(w.org_id, w.org_account.outs), _account_deactivated),
    Target("get_onboarding_link", "account", {"get_account": LINK, "create_link": LINK},
           lambda w: get_onboarding_link(w.org_id, access_token=w.account.token, api_url=w.sandbox.url),
           _link_made),
    Target("get_payment_intent", "onboarded", {"get_payment_intent": INTENT},
           lambda w: get_payment_intent(w.shareable_id, api_url=w.sandbox.url), _intent_read),
]

# What the retry policy may repeat, by the kind of request (docs/client-and-sandbox.md, "The client").
METHOD = {"get_connect": "GET", "get_account": "GET", "get_payment_intent": "GET", "update_connect": "PATCH",
          "update_account": "PATCH", "enable_connect": "POST", "create_account": "POST", "create_link": "POST"}
REPEATABLE_POST = {"create_link"}  # minting a second onboarding link is harmless


def kind_of(operation: str) -> str:
    return "POST*" if operation in REPEATABLE_POST else METHOD[operation]


STEPS = [pytest.param(target, op, id=f"{target.name}-{op}") for target in TARGETS for op in target.steps]


# -- The faults -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Sandbox, str], None]
    fails_on: frozenset[str] = frozenset()  # request kinds the policy may not repeat after this fault
    names: tuple[str, ...] = ()  # what the error must mention when it fails (any one of)


def _burst(*statuses: int, retry_after: float | None = None) -> Callable[[Sandbox, str], None]:
    def inject(sandbox: Sandbox, operation: str) -> None:
        for status in statuses:
            sandbox.fail_next(operation, status=status, retry_after=retry_after)

    return inject


TRANSIENT = [
    Fault("503-burst", _burst(503, 503)),
    Fault("502-then-504", _burst(502, 504), fails_on=frozenset({"POST"}), names=("502",)),
    Fault("500", _burst(500), fails_on=frozenset({"POST", "POST*"}), names=("500",)),  # PATCH sets absolute values
    Fault("429-retry-after", _burst(429, 429, retry_after=0.1)),
    Fault("dropped-connection", lambda sb, op: sb.drop_next(op)),
    Fault("lost-answer", lambda sb, op: sb.lose_response_next(op)),
]

PERSISTENT = [
    Fault("503-for-good", lambda sb, op: sb.fail_next(op, status=503, count=1000), names=("503",)),
    Fault("latency-beyond-read-timeout", lambda sb, op: sb.set_latency(SLOW, op), names=("timed out", "deadline")),
    Fault("dropped-every-time", lambda sb, op: sb.drop_next(op, count=1000),
          names=("connection failed", "deadline")),
]


# -- Fixtures -------------------------------------------------------------------------------------------


def _forget_clients() -> None:
    with provider_state._lock:
        provider_state._client = None


def _use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # Clients read the environment when they are built: start with none built.
    _forget_clients()
    monkeypatch.setattr(function_clients, "_clients", {})


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back off a hundred times faster (Retry-After is still honoured as sent). test_client proves
    the real delays; this matrix is about what is retried, what is not, and what happens next."""
    real = client_module.retry_delay
    monkeypatch.setattr(client_module, "retry_delay",
                        lambda attempt, retry_after: real(attempt, retry_after, base=0.0025, cap=0.08))


@pytest.fixture
def world_for(sandbox, account, org_id, configured, new_run, monkeypatch,
              quick_backoff) -> Iterator[Callable[[Target, dict[str, str]], World]]:
    def make(target: Target, env: dict[str, str]) -> World:
        _use_env(monkeypatch, env)
        world = World(sandbox, account, org_id)
        if target.needs != "nothing":
            world.config = world.connect.create(connect_inputs())
        if target.needs in ("account", "onboarded"):
            world.org_account = world.accounts.create({"organization_id": org_id, "active": True})
        if target.needs == "onboarded":
            sandbox.store.set_charges_enabled(org_id, True)
            world.shareable_id = sandbox.create_invoice(org_id, amount=99.0).shareable_id
        new_run()  # what was set up belongs to an earlier deployment
        sandbox.clear_requests()
        return world

    yield make
    _forget_clients()  # built with this test's timeouts


def _failure_text(target: Target, operation: str, world: World) -> str:
    return target.steps[operation].format(org=world.org_id, sid=world.shareable_id)


def _faulted(world: World, operation: str) -> bool:
    """Whether the injected fault really met a request of this operation."""
    return any(record.fault for record in world.sandbox.requests(operation=operation))


def _converged(world: World, target: Target, result: Any) -> None:
    target.converged(world, result)
    applied = [r for r in world.sandbox.requests() if r.method == "POST" and r.status == 200
               and r.operation in ("enable_connect", "create_account")]
    assert len(applied) <= 1, "a create was applied twice"


def _rerun_converges(world: World, target: Target, new_run: Callable[[], None]) -> None:
    world.sandbox.clear_faults()
    new_run()
    _converged(world, target, target.run(world))


# -- In-process: every step of every operation -------------------------------------------------------------


@pytest.mark.sandbox
@pytest.mark.parametrize("fault", TRANSIENT, ids=lambda f: f.name)
@pytest.mark.parametrize(("target", "operation"), STEPS)
def test_a_transient_fault_is_survived_or_fails_clearly_and_a_rerun_converges(world_for, new_run, target,
                                                                               operation, fault):
    world = world_for(target, TRANSIENT_ENV)
    fault.inject(world.sandbox, operation)
    if kind_of(operation) in fault.fails_on:
        with pytest.raises(SpaceInvoicesError) as caught:
            target.run(world)
        message = str(caught.value)
        assert _failure_text(target, operation, world) in message
        assert f"{METHOD[operation]} /v1/" in message and any(word in message for word in fault.names), message
        assert _faulted(world, operation)
        _rerun_converges(world, target, new_run)
    else:
        result = target.run(world)
        assert _faulted(world, operation)
        _converged(world, target, result)


@pytest.mark.sandbox
@pytest.mark.parametrize("fault", PERSISTENT, ids=lambda f: f.name)
@pytest.mark.parametrize(("target", "operation"), STEPS)
def test_a_persistent_fault_ends_in_a_clear_error_before_the_deadline_and_a_rerun_converges(
        world_for, new_run, target, operation, fault):
    world = world_for(target, PERSISTENT_ENV)
    fault.inject(world.sandbox, operation)
    started = time.monotonic()
    with pytest.raises(SpaceInvoicesError) as caught:
        target.run(world)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert _failure_text(target, operation, world) in message
    assert f"{METHOD[operation]} /v1/" in message and any(word in message for word in fault.names), message
    assert elapsed < HANG_BOUND, f"{target.name} took {elapsed:.1f} s with {SLOW} s answers"
    assert fault.name.startswith("latency") or _faulted(world, operation)  # slow answers are logged when sent
    _rerun_converges(world, target, new_run)


@pytest.mark.unit
def test_the_environment_sets_the_timeouts_of_clients_built_without_them(sandbox, monkeypatch):
    monkeypatch.setenv(ENV_TIMEOUT, "0.5")
    monkeypatch.setenv(ENV_DEADLINE, "2")
    client = SpaceInvoicesClient("tok-123456", api_url=sandbox.url)
    assert (client.read_timeout, client.deadline) == (0.5, 2.0)
    explicit = SpaceInvoicesClient("tok-123456", api_url=sandbox.url, read_timeout=3, deadline=9)
    assert (explicit.read_timeout, explicit.deadline) == (3, 9)


@pytest.mark.unit
@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf"])
def test_a_bad_timeout_in_the_environment_is_a_configuration_error_naming_it(sandbox, monkeypatch, value):
    monkeypatch.setenv(ENV_DEADLINE, value)
    with pytest.raises(ConfigurationError, match=ENV_DEADLINE):
        SpaceInvoicesClient("tok-123456", api_url=sandbox.url)


# -- Whole deployments through the provider server -----------------------------------------------------------


def _program(orgs: dict[str, str], settings: dict[str, Any]) -> Callable[[], None]:
    def program() -> None:
        from pulumi_spaceinvoices import OrganizationConnectAccount, StripeConnectConfig

        connect = StripeConnectConfig("connect", **{k: v for k, v in connect_inputs().items() if k != "active"})
        for name, org in orgs.items():
            OrganizationConnectAccount(name, organization_id=org, active=settings["active"],
                                       opts=pulumi.ResourceOptions(depends_on=[connect]))

    return program


def _state_matches_the_sandbox(eng, sandbox: Sandbox, account: Account, orgs: dict[str, str]) -> None:
    config_matches(eng.by_name("connect").plain_outputs, sandbox.store.connect_config(account.id))
    for name, org in orgs.items():
        assert sandbox.store.count_org_accounts(org) == 1
        account_matches(eng.by_name(name).plain_outputs, sandbox.store.org_account(org))


@pytest.fixture
def orgs(sandbox, account) -> dict[str, str]:
    return {name: sandbox.create_organization(account.id, name=name) for name in ("acme", "bolt", "cask")}


@pytest.mark.stepwise
def test_each_deployment_step_stopped_by_a_fault_converges_on_the_next_run(sandbox, account, orgs):
    settings = {"active": True}
    eng = engine(_program(orgs, settings), sandbox, account.token, env=PERSISTENT_ENV)

    # up: one organization's POST keeps failing (a POST is never repeated after a 500)
    sandbox.fail_next("create_account", status=500, count=1000, path=orgs["bolt"])
    failed = eng.up(raise_on_error=False)
    assert not failed.ok
    assert any(f"creating OrganizationConnectAccount for organization {orgs['bolt']}" in e and "500" in e
               for e in failed.errors), failed.errors
    sandbox.clear_faults()
    eng.up()
    _state_matches_the_sandbox(eng, sandbox, account, orgs)

    # update: the PATCH of one organization keeps failing
    settings["active"] = False
    sandbox.fail_next("update_account", status=503, count=1000, path=sandbox.store.org_account(orgs["cask"])["id"])
    failed = eng.up(raise_on_error=False)
    assert any("updating OrganizationConnectAccount" in e and "503" in e for e in failed.errors), failed.errors
    sandbox.clear_faults()
    eng.up()
    _state_matches_the_sandbox(eng, sandbox, account, orgs)
    assert all(sandbox.store.org_account(org)["active"] is False for org in orgs.values())

    # refresh: the state already matched the server, so no output changes
    before = {name: eng.by_name(name).plain_outputs for name in ("connect", *orgs)}
    eng.refresh()
    assert {name: eng.by_name(name).plain_outputs for name in before} == before

    # destroy: deactivating the config keeps timing out
    sandbox.set_latency(SLOW, "update_connect")
    failed = eng.destroy(raise_on_error=False)
    assert any("deactivating StripeConnectConfig" in e and ("timed out" in e or "deadline" in e)
               for e in failed.errors), failed.errors
    sandbox.clear_faults()
    eng.destroy()
    assert eng.state == {}
    assert sandbox.store.connect_config(account.id)["active"] is False
    assert all(sandbox.store.count_org_accounts(org) == 1 for org in orgs.values())


@pytest.mark.stepwise
def test_lost_answers_drops_and_bursts_during_an_up_still_create_one_account_each(sandbox, account, orgs):
    eng = engine(_program(orgs, {"active": True}), sandbox, account.token)
    sandbox.lose_response_next("enable_connect")
    sandbox.lose_response_next("create_account", path=orgs["acme"])
    sandbox.drop_next("create_account", path=orgs["bolt"])
    sandbox.fail_next("create_account", status=429, retry_after=0.2, path=orgs["cask"])
    sandbox.fail_next("get_account", status=503, count=2)
    sandbox.drop_next("get_connect")
    eng.up()
    _state_matches_the_sandbox(eng, sandbox, account, orgs)
    assert sandbox.count("enable_connect") == 1  # the lost answer was read back, not re-sent

    sandbox.clear_requests()
    again = eng.up()
    assert again.mutating_calls == [] and sandbox.requests() == []


@pytest.mark.stepwise
def test_a_provider_call_ends_at_its_deadline_even_when_the_api_never_answers(sandbox, account, orgs):
    eng = engine(_program(orgs, {"active": True}), sandbox, account.token, env=PERSISTENT_ENV)
    sandbox.set_latency(60.0, "get_connect")  # twice the default read timeout
    started = time.monotonic()
    failed = eng.up(raise_on_error=False)
    elapsed = time.monotonic() - started
    assert any("reading StripeConnectConfig" in e and ("timed out" in e or "deadline" in e)
               for e in failed.errors), failed.errors
    assert elapsed < 15, f"the run took {elapsed:.0f} s although the deadline is {DEADLINE} s"
    sandbox.clear_faults()
    eng.up()
    _state_matches_the_sandbox(eng, sandbox, account, orgs)
