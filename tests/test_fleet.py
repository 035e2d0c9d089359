"""The fleet command (`spaceinvoices-fleet`) under the real Pulumi CLI, against the sandbox: one fleet
walked through its lifecycle (up, no-op up, preview, refresh, an added organization, a reshard that
moves organizations through the state, one shard alone, destroy), a failing shard, bad input, and
the layout's pure rules.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pulumi_spaceinvoices.fleet.layout import conflicts, jump_hash, plan_moves, shard_of, shard_stack
from pulumi_spaceinvoices.fleet.organizations import InputError, parse
from pulumi_spaceinvoices.fleet.runner import Progress, StackResult
from tests.lifecycle import Step, run_steps
from tests.support import api_calls

SECRET_KEY = "sk_test_FleetSecretKey000000wxyz"


# The layout: pure and fast.

@pytest.mark.unit
def test_jump_hash_moves_about_one_in_n_plus_one_and_only_to_the_new_shard():
    ids = [f"{i:024x}" for i in range(4000)]
    for n in (1, 3, 9):
        before = {i: shard_of(i, n) for i in ids}
        after = {i: shard_of(i, n + 1) for i in ids}
        moved = [i for i in ids if before[i] != after[i]]
        assert all(after[i] == n for i in moved), "an organization only ever moves to the new shard"
        assert abs(len(moved) / len(ids) - 1 / (n + 1)) < 0.04
    assert Counter(shard_of(i, 4) for i in ids).most_common()[-1][1] > 850, "shards are balanced"
    assert jump_hash(123456789, 1) == 0 and shard_of("AB" * 12, 7) == shard_of("ab" * 12, 7)


@pytest.mark.unit
def test_plan_moves_and_conflicts_read_the_states():
    a, b = "a" * 24, "b" * 24
    assert plan_moves({shard_stack(shard_of(a, 2)): {a}}, 2) == []
    wrong = shard_stack(1 - shard_of(b, 2))
    assert [(m.source, m.dest) for m in plan_moves({wrong: {b}}, 2)] == [(wrong, shard_stack(shard_of(b, 2)))]
    assert conflicts({"shard-00": {a, b}, "shard-01": {b}}) == {b: ["shard-00", "shard-01"]}


@pytest.mark.unit
@pytest.mark.parametrize(("text", "fmt", "message"), [
    ("- 'zz'\n", "yaml", "entry 1: 'zz' is not an organization id"),
    ("- 123456789012345678901234\n", "yaml", "quote it"),
    ('["' + "a" * 24 + '", "' + "A" * 24 + '"]', "json", "listed twice: input: entry 1 and input: entry 2"),
    ("id,name\n" + "a" * 24 + ",A\nnope,B\n", "csv", "line 3: 'nope' is not an organization id"),
    ("[]", "json", "empty. Refusing"),
    ("organizations: []\n", "yaml", "empty. Refusing"),
])
def test_bad_input_is_refused_naming_the_entry(text, fmt, message):
    with pytest.raises(InputError, match=None) as caught:
        parse(text, fmt)
    assert message in str(caught.value)


@pytest.mark.unit
def test_the_three_formats_read_the_same_organizations():
    a, b = "a" * 24, "b" * 24
    expected = [(a, "A", True), (b, None, False)]
    for text, fmt in [(f"- {{id: '{a}', name: A}}\n- {{id: '{b}', active: false}}\n", "yaml"),
                      (json.dumps([{"id": a, "name": "A"}, {"id": b, "active": False}]), "json"),
                      (f"id,name,active\n{a},A,\n{b},,false\n", "csv")]:
        assert [(o.id, o.name, o.active) for o in parse(text, fmt)] == expected


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.unit
def test_progress_redraws_a_line_per_stack_and_a_total_on_a_terminal_and_prints_plain_lines_in_ci():
    rows = [StackResult("connect", organizations=0), StackResult("shard-00", organizations=3),
            StackResult("shard-01", organizations=2)]
    terminal = Terminal()
    live = Progress(terminal)
    live.track(rows)
    rows[1].result, rows[1].done = "running", 2
    live.update(rows[1])
    live.say("moved 1 organization(s) from shard-00 to shard-01")
    frames = terminal.getvalue().split("\x1b[4F\x1b[J")  # each redraw first clears the 4 lines it drew
    assert len(frames) == 3
    assert frames[1].splitlines() == ["  connect    pending    0/0", "  shard-00   running    2/3",
                                      "  shard-01   pending    0/2", "  total                 2/5 organizations"]
    assert frames[2].splitlines()[0] == "moved 1 organization(s) from shard-00 to shard-01", "a message goes above"
    assert frames[2].splitlines()[2] == "  shard-00   running    2/3", "and the table is drawn again below it"

    plain = io.StringIO()  # CI: no cursor movement, one line per event, none per organization
    ci = Progress(plain)
    ci.track(rows)
    ci.update(rows[1])
    ci.update(rows[1], "succeeded in 1.5 s")
    assert plain.getvalue() == "shard-00: succeeded in 1.5 s\n"


# The command under the real CLI.

@pytest.fixture
def fleet(workspace, sandbox, account, tmp_path):
    config = tmp_path / "fleet.yaml"
    config.write_text("publicKey: pk_test_FleetPublicKey0000abcd\napplicationFee: 1.5\n")
    env = {**workspace.env, "SPACEINVOICES_ACCESS_TOKEN": account.token, "SPACEINVOICES_API_URL": sandbox.url,
           "STRIPE_SECRET_KEY": SECRET_KEY}

    def run(command: str, orgs: list[str] | str, *flags: str, check: int | None = 0) -> subprocess.CompletedProcess:
        listing = tmp_path / "orgs.json"
        listing.write_text(json.dumps(orgs) if isinstance(orgs, list) else orgs)
        result = subprocess.run(
            [sys.executable, "-m", "pulumi_spaceinvoices.fleet", command, str(listing), "--config", str(config),
             "--json", str(tmp_path / "summary.json"), *flags],
            env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        assert SECRET_KEY not in result.stdout and account.token not in result.stdout
        if check is not None:
            assert result.returncode == check, result.stdout
        return result

    run.summary = lambda: {s["stack"]: s for s in json.loads((tmp_path / "summary.json").read_text())["stacks"]}
    run.workspace = workspace
    run.env = env  # a test may add variables before its next run
    run.path = tmp_path / "summary.json"
    return run


def accounts_by_stack(workspace) -> dict[str, set[str]]:
    """org id -> the stacks whose state holds it (read from the file backend's checkpoints)."""
    found: dict[str, set[str]] = {}
    for path in Path(workspace.backend, ".pulumi", "stacks").rglob("*.json"):
        deployment = json.loads(path.read_text()).get("checkpoint", {}).get("latest") or {}
        for r in deployment.get("resources") or []:
            if r["type"].endswith(":OrganizationConnectAccount"):
                found.setdefault(r["id"], set()).add(path.stem)
    return found


@pytest.mark.engine
def test_a_fleet_lifecycle_makes_the_expected_calls_and_moves_organizations_when_resharded(
        fleet, sandbox, account):
    # Twelve organizations, three of which go to the new shard-03 when the fleet grows to 4 shards.
    movers: list[str] = []
    stayers: list[str] = []
    while len(movers) < 3 or len(stayers) < 9:
        org = sandbox.create_organization(account.id, name="Org")
        group = movers if shard_of(org, 4) == 3 else stayers
        group += [org] if len(group) < (3 if group is movers else 9) else []
    orgs = stayers + movers
    added = sandbox.create_organization(account.id, name="New")
    grown = [*orgs, added]
    before: dict[str, set[str]] = {}

    def created(_):
        summary = fleet.summary()
        assert set(summary) == {"connect", "shard-00", "shard-01", "shard-02"}
        assert sum(s["created"] for s in summary.values()) == 13
        assert sum(s["requests"] for s in summary.values()) == 26, "the summary's estimate: 2 calls a create"
        assert all(sandbox.store.org_account(o)["active"] for o in orgs)
        assert sorted(accounts_by_stack(fleet.workspace)) == sorted(orgs)

    def unchanged(_):
        assert {s["result"] for s in fleet.summary().values()} == {"unchanged"}, "nor starts an engine"

    def added_home(_):
        home = shard_stack(shard_of(added, 3))
        assert {s: r["created"] for s, r in fleet.summary().items() if r["created"]} == {home: 1}
        assert {s for s, r in fleet.summary().items() if r["result"] != "unchanged"} == {home}

    def moved(result):
        expected = [o for o in grown if shard_of(o, 4) != shard_of(o, 3)]
        reported = re.findall(r"moved (\d+) organization\(s\) from shard-0\d to shard-03", result.stdout)
        assert expected and sum(map(int, reported)) == len(expected), result.stdout
        assert {m["organization"] for m in json.loads(fleet.path.read_text())["moves"]} == set(expected)
        after = accounts_by_stack(fleet.workspace)
        assert all(len(after[o]) == 1 for o in grown) and sorted(after) == sorted(grown)
        assert all(after[o] == {shard_stack(shard_of(o, 4))} for o in grown)
        assert {o for o in grown if after[o] != before[o]} == set(expected)

    def one_shard(result):
        assert set(fleet.summary()) == {"shard-03"}, result.stdout

    def destroyed(_):
        assert api_calls(sandbox)["update_account"] == len(grown)
        assert not any(sandbox.store.org_account(o)["active"] for o in grown)

    run_steps(sandbox, None, [
        Step("up on 3 shards", lambda: fleet("up", orgs, "--shards", "3", "--parallel", "2"),
             calls={"get_connect": 1, "enable_connect": 1, "get_account": 12, "create_account": 12}, then=created),
        Step("no-op up", lambda: fleet("up", orgs), calls={}, why="a no-op up makes no call",  # the recorded layout
             then=unchanged),
        Step("preview", lambda: fleet("preview", orgs), calls={}),
        Step("refresh", lambda: fleet("refresh", orgs), calls={"get_connect": 1, "get_account": 12},
             why="refresh reads each resource once"),
        Step("an added organization", lambda: fleet("up", grown), calls={"get_account": 1, "create_account": 1},
             then=added_home),
        Step("reshard to 4", lambda: fleet("up", grown, "--shards", "4"),
             before=lambda: before.update(accounts_by_stack(fleet.workspace)), calls={},
             why="a reshard moves state: no create, no deactivation", then=moved),
        Step("one shard alone", lambda: fleet("up", grown, "--shard", "3"), calls={}, then=one_shard),
        Step("destroy", lambda: fleet("destroy", grown), then=destroyed),
    ])


@pytest.mark.engine
def test_a_failing_shard_is_reported_and_the_others_complete(fleet, sandbox, account):
    # Six organizations outside shard-00 of 3, so that going to 1 shard moves all of them.
    orgs: list[str] = []
    while len(orgs) < 6:
        org = sandbox.create_organization(account.id, name=f"Org {len(orgs)}")
        orgs += [org] if shard_of(org, 3) != 0 else []
    stranger = sandbox.create_organization(sandbox.create_account(email="other@example.com").id, name="Not ours")
    result = fleet("up", [*orgs, stranger], "--shards", "3", check=1)
    bad = shard_stack(shard_of(stranger, 3))
    summary = fleet.summary()
    assert summary[bad]["result"] == "failed" and f"{bad} failed" in result.stdout
    assert all(s["result"] == "succeeded" for name, s in summary.items() if name != bad)
    assert all(sandbox.store.org_account(o)["active"] for o in orgs if shard_stack(shard_of(o, 3)) != bad)

    sandbox.clear_requests()
    most = fleet("up", orgs, "--shards", "1", check=2)
    assert "add --yes" in most.stdout and "would move" in most.stdout

    # An account in two stacks' states (a hand edit, or a move cut short): refused, saying how to fix.
    from pulumi import automation as auto

    folder = Path(fleet.path.parent, "by-hand")
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text("name: spaceinvoices-fleet\nruntime: python\n")
    opts = auto.LocalWorkspaceOptions(env_vars=fleet.workspace.env)
    dup = next(o for o in orgs if shard_stack(shard_of(o, 3)) != bad)
    source = shard_stack(shard_of(dup, 3))
    other = next(shard_stack(i) for i in range(3) if shard_stack(i) not in (source, bad))
    exported = auto.select_stack(source, work_dir=str(folder), opts=opts).export_stack()
    copy = next(r for r in exported.deployment["resources"] if r.get("id") == dup)
    target = auto.select_stack(other, work_dir=str(folder), opts=opts)
    state = target.export_stack()
    provider = next((r for r in state.deployment["resources"] if r["type"].startswith("pulumi:providers:")), None)
    if provider is None:  # a stack of no account has no provider yet: take the source's along
        provider = next(r for r in exported.deployment["resources"] if r["type"].startswith("pulumi:providers:"))
        provider = {**provider, "urn": provider["urn"].replace(f":{source}::", f":{other}::")}
        state.deployment["resources"].append(provider)
    state.deployment["resources"].append({**copy, "urn": copy["urn"].replace(f":{source}::", f":{other}::"),
                                          "parent": next(r["urn"] for r in state.deployment["resources"]
                                                         if r["type"] == "pulumi:pulumi:Stack"),
                                          "provider": f"{provider['urn']}::{provider['id']}"})
    target.import_stack(state)
    refused = fleet("up", orgs, check=2)
    assert f"{dup} is in {', '.join(sorted([source, other]))}" in refused.stdout
    assert f"pulumi state delete --stack {other} 'urn:pulumi:{other}::" in refused.stdout
    assert api_calls(sandbox) == {}, "refusals come before any request"


@pytest.mark.engine
def test_bad_input_and_a_new_fleet_without_shards_are_refused_before_any_request(fleet, sandbox, account):
    org = sandbox.create_organization(account.id)
    sandbox.clear_requests()
    for orgs, message in [([], "empty. Refusing"), ([org, org.upper()], "listed twice"),
                          (["not-an-id"], "is not an organization id"), ([org], "a new fleet needs --shards")]:
        result = fleet("up", orgs, check=2)
        assert message in result.stdout
    assert api_calls(sandbox) == {}
    bare = fleet.path.parent / "bare.yaml"
    bare.write_text("project: spaceinvoices-fleet\n")
    assert "no publicKey" in fleet("up", [org], "--shards", "1", "--config", str(bare), check=2).stdout
    assert api_calls(sandbox) == {}
