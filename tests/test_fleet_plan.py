"""The fleet's plan (pulumi_spaceinvoices/fleet/plan.py) as a pure function: states made up in memory,
no Pulumi CLI (PATH is emptied), no network, no file. The layout of the organizations into shards,
the moves of a reshard, the skip rule (an unchanged stack is skipped, --full runs all, a changed
organization runs its shard), the phases, and every refusal naming what is wrong. Then act carrying a
plan out on an in-memory fleet: moves, the recorded count, the phases in order."""

from __future__ import annotations

import pytest

from pulumi_spaceinvoices.fleet.layout import CONNECT_STACK, shard_of, shard_stack
from pulumi_spaceinvoices.fleet.organizations import InputError, Organization, parse
from pulumi_spaceinvoices.fleet.plan import UNCHANGED, Observed, Phase, Refused, Request, plan
from pulumi_spaceinvoices.fleet.scope import HASH_OUTPUT, VERSION_OUTPUT, StackState, fingerprint, version

pytestmark = pytest.mark.unit

SECRET = "sk_test_PlanSecretKey0000000wxyz"
ENV = {"SPACEINVOICES_ACCESS_TOKEN": "token", "STRIPE_SECRET_KEY": SECRET}
SETTINGS = {"publicKey": "pk_test_PlanPublicKey00000abcd", "applicationFee": 1.5}


@pytest.fixture(autouse=True)
def no_cli(monkeypatch):
    """Any call of the Pulumi CLI would fail: the plan must not need one."""
    monkeypatch.setenv("PATH", "")


def orgs(n: int, *, inactive: frozenset[int] = frozenset()) -> list[Organization]:
    return [Organization(f"{i + 1:024x}", active=i not in inactive) for i in range(n)]


def urn(stack: str, org: str) -> str:
    return f"urn:pulumi:{stack}::spaceinvoices-fleet::spaceinvoices:index:OrganizationConnectAccount::{org}"


def shard_state(stack: str, organizations: list[Organization], *, recorded: bool = True) -> StackState:
    """The state a finished `up` of `stack` leaves: its accounts and the fingerprint of its input."""
    spec = {"role": "shard", "organizations": [{"id": o.id, "active": o.active} for o in organizations]}
    return StackState(accounts={o.id: urn(stack, o.id) for o in organizations},
                      active={o.id: (o.active, o.active) for o in organizations},
                      outputs={HASH_OUTPUT: fingerprint(spec), VERSION_OUTPUT: version()} if recorded else {})


def connect_state(shards: int) -> StackState:
    spec = {"role": "connect", "shards": shards, "connect": {
        "publicKey": SETTINGS["publicKey"], "applicationFee": 1.5, "returnUrl": "https://example.com/onboarding/return",
        "refreshUrl": "https://example.com/onboarding/refresh", "secretKeyEnv": "STRIPE_SECRET_KEY"}}
    return StackState(configs=[{"public_key": SETTINGS["publicKey"], "application_fee": 1.5,
                                "return_url": "https://example.com/onboarding/return",
                                "refresh_url": "https://example.com/onboarding/refresh"}],
                      outputs={HASH_OUTPUT: fingerprint(spec, SECRET), VERSION_OUTPUT: version()})


def fleet_states(organizations: list[Organization], shards: int) -> dict[str, StackState]:
    """The states of a fleet whose last `up` declared exactly `organizations` over `shards` shards."""
    homes: dict[str, list[Organization]] = {shard_stack(i): [] for i in range(shards)}
    for org in organizations:
        homes[shard_stack(shard_of(org.id, shards))].append(org)
    return {CONNECT_STACK: connect_state(shards), **{s: shard_state(s, o) for s, o in homes.items()}}


def test_a_new_fleet_spreads_its_organizations_over_the_shards_connect_first():
    listed = orgs(40, inactive=frozenset({3}))
    decided = plan(Request("up", shards=3), listed, SETTINGS, Observed(), ENV)

    assert decided.shards == 3 and decided.recorded is None and decided.moves == []
    assert list(decided.shard_specs) == ["shard-00", "shard-01", "shard-02"]
    placed = {o["id"]: (stack, o["active"]) for stack, spec in decided.shard_specs.items()
              for o in spec["organizations"]}
    assert placed == {o.id: (shard_stack(shard_of(o.id, 3)), o.active) for o in listed}
    assert all(decided.shard_specs.values()), "40 organizations leave no shard empty"
    assert decided.connect_spec == {"role": "connect", "shards": 3, "connect": {
        "publicKey": SETTINGS["publicKey"], "applicationFee": 1.5, "returnUrl": "https://example.com/onboarding/return",
        "refreshUrl": "https://example.com/onboarding/refresh", "secretKeyEnv": "STRIPE_SECRET_KEY"}}
    assert decided.phases == [Phase((CONNECT_STACK,)),
                              Phase(("shard-00", "shard-01", "shard-02"), after=(CONNECT_STACK,),
                                    otherwise="the connect stack failed")]
    assert decided.why == {s: "changed: new stack" for s in [CONNECT_STACK, "shard-00", "shard-01", "shard-02"]}
    assert decided.unchanged == [] and decided.records_shards and decided.removals == []


def test_an_unchanged_fleet_runs_nothing_and_full_runs_every_stack():
    listed = orgs(12)
    states = fleet_states(listed, 3)

    same = plan(Request("up"), listed, SETTINGS, Observed(3, states), ENV)
    assert same.shards == 3, "the recorded count when --shards is not given"
    assert same.unchanged == ["shard-00", "shard-01", "shard-02", CONNECT_STACK]
    assert same.phases == [] and set(same.why.values()) == {UNCHANGED}
    assert not same.records_shards, "the count is recorded already and nothing moves"

    full = plan(Request("up", full=True), listed, SETTINGS, Observed(3, states), ENV)
    assert full.unchanged == [] and full.reasons == {}, "--full compares nothing"
    assert [p.stacks for p in full.phases] == [(CONNECT_STACK,), ("shard-00", "shard-01", "shard-02")]
    assert set(full.why.values()) == {"--full: runs whatever its state holds"}


def test_a_changed_organization_runs_its_shard_alone():
    listed = orgs(12)
    states = fleet_states(listed, 3)
    added = Organization(f"{99:024x}")
    deactivated = Organization(listed[0].id, active=False)
    changed = [deactivated, *listed[1:], added]

    decided = plan(Request("up"), changed, SETTINGS, Observed(3, states), ENV)
    home_added, home_deactivated = shard_stack(shard_of(added.id, 3)), shard_stack(shard_of(deactivated.id, 3))
    running = {home_added, home_deactivated}
    assert set(decided.unchanged) == {CONNECT_STACK, "shard-00", "shard-01", "shard-02"} - running
    assert [set(p.stacks) for p in decided.phases] == [running], "the connect stack is unchanged: one phase"
    assert "added 1" in decided.reasons[home_added] and "deactivated 1" in decided.reasons[home_deactivated]
    assert decided.why[home_added].startswith("changed: ") and "added 1" in decided.why[home_added]

    preview = plan(Request("preview"), changed, SETTINGS, Observed(3, states), {"STRIPE_SECRET_KEY": SECRET})
    assert [set(p.stacks) for p in preview.phases] == [running], "preview needs no access token; same scope"


def test_a_state_without_the_fingerprint_of_its_input_runs():
    listed = orgs(6)
    states = fleet_states(listed, 2)
    states["shard-01"] = shard_state("shard-01", [o for o in listed if shard_of(o.id, 2) == 1], recorded=False)
    decided = plan(Request("up"), listed, SETTINGS, Observed(2, states), ENV)
    assert decided.reasons["shard-01"] == ["no input fingerprint in the state"]
    assert [p.stacks for p in decided.phases] == [("shard-01",)]


def test_growing_the_shard_count_moves_the_organizations_whose_shard_changes():
    listed = orgs(30)
    states = fleet_states(listed, 3)
    decided = plan(Request("up", shards=4), listed, SETTINGS, Observed(3, states), ENV)

    expected = {o.id for o in listed if shard_of(o.id, 4) != shard_of(o.id, 3)}
    assert expected and {m.org_id for m in decided.moves} == expected
    assert all(m.dest == "shard-03" == shard_stack(shard_of(m.org_id, 4)) for m in decided.moves), "jump hashing"
    assert all(m.source == shard_stack(shard_of(m.org_id, 3)) for m in decided.moves)
    assert decided.records_shards and decided.removals == []
    assert decided.why["shard-03"] == f"changed: new stack, moved in {len(expected)}"
    assert "connect" in {s for p in decided.phases for s in p.stacks}, "the shard count is in its input"

    preview = plan(Request("preview", shards=4), listed, SETTINGS, Observed(3, states), ENV)
    assert preview.preview_of_moves and preview.phases == [], "a preview shows the moves and runs nothing"

    shrunk = plan(Request("up", shards=2, yes=True), listed, SETTINGS, Observed(3, states), ENV)
    assert {m.source for m in shrunk.moves} >= {"shard-02"} and shrunk.removals == ["shard-02"]


def test_refresh_and_destroy_name_the_existing_stacks_and_destroy_keeps_connect_for_last():
    listed = orgs(10)
    states = {s: st for s, st in fleet_states(listed, 3).items() if s != CONNECT_STACK}
    del states["shard-01"]

    refresh = plan(Request("refresh"), listed, SETTINGS, Observed(3, states), ENV)
    assert list(refresh.shard_specs) == ["shard-00", "shard-02"], "only the shard stacks that exist"
    assert refresh.phases == [Phase((CONNECT_STACK, "shard-00", "shard-02"))]

    destroy = plan(Request("destroy"), listed, {}, Observed(3, states), ENV)
    assert destroy.phases == [Phase(("shard-00", "shard-02")),
                              Phase((CONNECT_STACK,), after=("shard-00", "shard-02"),
                                    otherwise="a shard failed: the connect stack stays until every shard is "
                                              "destroyed")]

    one = plan(Request("up", shard=(2,), full=True), listed, SETTINGS, Observed(3, states), ENV)
    assert not one.run_connect and one.phases == [Phase(("shard-02",))]


@pytest.mark.parametrize("request_, env, settings, message", [
    (Request("up", parallel=0), ENV, SETTINGS, "--parallel and --shards must be at least 1"),
    (Request("up", shards=0), ENV, SETTINGS, "--parallel and --shards must be at least 1"),
    (Request("up", shards=2), {"STRIPE_SECRET_KEY": SECRET}, SETTINGS, "SPACEINVOICES_ACCESS_TOKEN is not set"),
    (Request("refresh", shards=2, policy_packs=("p",)), ENV, SETTINGS, "--policy-pack and --policy-pack-config apply"),
    (Request("up"), ENV, SETTINGS, "a new fleet needs --shards N"),
    (Request("up", shards=2, shard=(1, 2)), ENV, SETTINGS, "--shard 2: the fleet has shards 0..1"),
    (Request("up", shards=2), ENV, {}, "the fleet config has no publicKey"),
    (Request("up", shards=2), {"SPACEINVOICES_ACCESS_TOKEN": "t"}, SETTINGS, "export STRIPE_SECRET_KEY"),
    (Request("preview", shards=2), {}, {**SETTINGS, "secretKeyEnv": "OTHER_KEY"}, "export OTHER_KEY"),
])
def test_bad_input_is_refused_naming_what_is_wrong(request_, env, settings, message):
    with pytest.raises(Refused, match=message.replace(".", r"\.")):
        plan(request_, orgs(3), settings, Observed(), env)


def test_moves_are_refused_where_the_run_cannot_make_them_or_must_be_told():
    listed = orgs(12)
    states = fleet_states(listed, 3)
    for request in (Request("refresh", shards=4), Request("destroy", shards=4), Request("up", shards=4, shard=(0,)),
                    Request("up", shards=4, connect_only=True)):
        with pytest.raises(Refused, match=r"run `up --shards 4` over the whole fleet"):
            plan(request, listed, SETTINGS, Observed(3, states), ENV)
    with pytest.raises(Refused, match=r"1 shards would move \d+ of 12 organizations between stacks; add --yes"):
        plan(Request("up", shards=1), listed, SETTINGS, Observed(3, states), ENV)


def test_an_organization_in_two_states_is_refused_naming_it_and_the_fix():
    listed = orgs(4)
    states = fleet_states(listed, 2)
    org = listed[0].id
    home = shard_stack(shard_of(org, 2))
    other = "shard-01" if home == "shard-00" else "shard-00"
    states[other].accounts[org] = urn(other, org)
    with pytest.raises(Refused) as refused:
        plan(Request("up"), listed, SETTINGS, Observed(2, states), ENV)
    assert f"{org} is in shard-00, shard-01: keep it in {home}" in str(refused.value)
    assert f"pulumi state delete --stack {other} '{urn(other, org)}'" in str(refused.value)


@pytest.mark.parametrize("text, message", [
    (f'[{{"id": "{"a" * 24}", "activ": false}}]', "entry 1: unknown key(s) activ"),
    (f'[{{"id": "{"a" * 24}", "active": "no"}}]', "entry 1: active must be true or false"),
    (f'["{"a" * 24}", "{"A" * 24}"]', "listed twice: input: entry 1 and input: entry 2"),
])
def test_the_organizations_the_plan_is_given_were_refused_naming_the_entry_and_property(text, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text, "json")


class FakeFleet:
    """The state side of a fleet, in memory: what act asks of the backend, recorded in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def move(self, moves, urns, say) -> None:
        self.calls.append(("move", sorted((m.org_id, m.source, m.dest) for m in moves)))

    def record_shards(self, shards: int) -> None:
        self.calls.append(("record_shards", shards))

    def remove_empty(self, stack: str) -> None:
        self.calls.append(("remove_empty", stack))


class Quiet:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    def track(self, rows) -> None:
        pass


def test_act_moves_then_records_then_runs_the_phases_and_skips_the_shards_when_connect_fails(monkeypatch):
    from pulumi_spaceinvoices.fleet import cli, runner

    listed = orgs(30)
    decided = plan(Request("up", shards=2, yes=True), listed, SETTINGS, Observed(3, fleet_states(listed, 3)), ENV)
    ran: list[tuple[str, ...]] = []

    def run_stacks(fleet, command, specs, *, parallel, budget, progress, rows, options=None):
        ran.append(tuple(specs))
        for stack in specs:
            rows[stack].result = "failed" if stack == CONNECT_STACK else "succeeded"

    monkeypatch.setattr(runner, "run_stacks", run_stacks)
    fleet, progress = FakeFleet(), Quiet()
    rows = cli.act(decided, fleet, progress, 10.0)

    assert rows is not None and [c[0] for c in fleet.calls] == ["move", "record_shards", "remove_empty"]
    assert fleet.calls[0][1] == sorted((m.org_id, m.source, m.dest) for m in decided.moves)
    assert fleet.calls[1:] == [("record_shards", 2), ("remove_empty", "shard-02")]
    assert ran == [(CONNECT_STACK,)], "the shards wait for the connect stack"
    assert {s: (r.result, r.error) for s, r in rows.items() if s != CONNECT_STACK} == {
        "shard-00": ("skipped", "the connect stack failed"), "shard-01": ("skipped", "the connect stack failed")}
    assert "removed shard-02: outside 2 shards and empty" in progress.lines
