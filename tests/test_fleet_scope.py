"""Fleet runs scoped to the change (issue 22): a stack whose state holds exactly what it must declare
is reported `unchanged` without starting its engine; every case that needs work still runs its
stack, shown under the real CLI with the sandbox's calls counted. The rule's pure part first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pulumi_spaceinvoices.fleet.layout import shard_of, shard_stack
from pulumi_spaceinvoices.fleet.scope import (
    HASH_OUTPUT,
    VERSION_OUTPUT,
    StackState,
    connect_reasons,
    fingerprint,
    shard_reasons,
    version,
)
from tests.support import api_calls
from tests.test_fleet import SECRET_KEY, fleet  # noqa: F401 - the fixture

A, B, C = "a" * 24, "b" * 24, "c" * 24


def shard_state(orgs: dict[str, bool], spec: dict | None = None, **changes) -> StackState:
    spec = spec or {"role": "shard", "organizations": [{"id": o, "active": a} for o, a in orgs.items()]}
    state = StackState(accounts={o: f"urn:{o}" for o in orgs}, active={o: (a, a) for o, a in orgs.items()},
                       outputs={HASH_OUTPUT: fingerprint(spec), VERSION_OUTPUT: version()})
    for key, value in changes.items():
        setattr(state, key, value)
    return state


@pytest.mark.unit
def test_each_difference_alone_runs_the_shard_and_only_an_exact_match_skips_it():
    spec = {"role": "shard", "organizations": [{"id": A, "active": True}, {"id": B, "active": False}]}
    assert shard_reasons(spec, shard_state({A: True, B: False})) == []
    assert fingerprint(spec) == fingerprint({"role": "shard", "organizations": spec["organizations"][::-1]})
    older = {"role": "shard", "organizations": [{"id": A, "active": True}]}
    cases = {
        "added 1": shard_state({A: True}, older),
        "missing from the state 1": shard_state({A: True}, spec),  # the same input, an account deleted by hand
        "removed 1": shard_state({A: True, B: False, C: True}, spec),
        "activated 1": shard_state({A: False, B: False}, spec),
        "deactivated 1": shard_state({A: True, B: True}, spec),
        "pending operations 1 (an interrupted run)": shard_state({A: True, B: False}, pending_operations=1),
        "resources awaiting deletion 1": shard_state({A: True, B: False}, awaiting_delete=1),
        "undeclared resources 1": shard_state({A: True, B: False}, others=1),
        "state older than input": shard_state({A: True, B: False},
                                              outputs={HASH_OUTPUT: "0" * 64, VERSION_OUTPUT: version()}),
        "no input fingerprint in the state": shard_state({A: True, B: False}, outputs={}),
        "new stack": StackState(exists=False),
    }
    for reason, state in cases.items():
        assert shard_reasons(spec, state) == [reason], reason
    made_by_old = shard_state({A: True, B: False}, outputs={HASH_OUTPUT: fingerprint(spec, made_by="old"),
                                                            VERSION_OUTPUT: "old"})
    assert shard_reasons(spec, made_by_old) == [f"made by old, now {version()}"]
    refreshed = shard_state({A: True, B: False}, active={A: (True, False), B: (False, False)})
    assert shard_reasons(spec, refreshed) == ["activated 1"], "an account deactivated outside, seen by refresh"


@pytest.mark.unit
def test_the_connect_stack_compares_its_settings_and_the_secret_keys_digest():
    connect = {"publicKey": "pk_test_x", "applicationFee": 1.5, "returnUrl": "https://p.example/return",
               "refreshUrl": "https://p.example/refresh", "secretKeyEnv": "STRIPE_SECRET_KEY"}
    spec = {"role": "connect", "shards": 2, "connect": connect}
    config = {"public_key": "pk_test_x", "application_fee": 1.5, "return_url": "https://p.example/return",
              "refresh_url": "https://p.example/refresh"}
    state = StackState(configs=[config], outputs={HASH_OUTPUT: fingerprint(spec, SECRET_KEY),
                                                  VERSION_OUTPUT: version()})
    assert connect_reasons(spec, state, SECRET_KEY) == []
    assert SECRET_KEY not in json.dumps(state.outputs)
    assert connect_reasons(spec, state, SECRET_KEY + "rotated") == ["settings changed"]
    assert connect_reasons({**spec, "shards": 3}, state, SECRET_KEY) == ["settings changed"]
    assert connect_reasons({**spec, "connect": {**connect, "applicationFee": 2.0}}, state, SECRET_KEY) == [
        "Connect settings changed"]
    assert connect_reasons(spec, StackState(configs=[], outputs=state.outputs), SECRET_KEY) == [
        "Connect configs in the state: 0, declared 1"]
    assert connect_reasons(spec, state, None) == ["no Stripe secret key to compare"]


# Under the real CLI.

def checkpoint(cli, stack: str) -> Path:
    [path] = Path(cli.workspace.backend, ".pulumi", "stacks").rglob(f"{stack}.json")
    return path


def edit_checkpoint(cli, stack: str, change) -> None:
    """Change a stack's checkpoint file in place, as an interrupted run or an older version leaves it
    (`pulumi stack import` would clear pending operations, so the file is written directly)."""
    path = checkpoint(cli, stack)
    data = json.loads(path.read_text())
    change(data["checkpoint"]["latest"])
    path.write_text(json.dumps(data))


def stack_outputs(deployment: dict) -> dict:
    return next(r for r in deployment["resources"] if r["type"] == "pulumi:pulumi:Stack")["outputs"]


def results(cli) -> dict[str, str]:
    return {s: r["result"] for s, r in cli.summary().items()}


@pytest.mark.engine
def test_unchanged_stacks_are_skipped_and_every_change_runs_its_stack(fleet, sandbox, account):  # noqa: F811
    orgs: dict[int, list[str]] = {0: [], 1: []}
    while min(len(v) for v in orgs.values()) < 2:
        org = sandbox.create_organization(account.id, name="Org")
        orgs[shard_of(org, 2)].append(org)
    (a1, a2, *_), (b1, *_) = orgs[0], orgs[1]
    listing = [{"id": o} for o in orgs[0] + orgs[1]]
    fleet("up", listing, "--shards", "2")
    assert set(results(fleet).values()) == {"succeeded"}

    sandbox.clear_requests()
    fleet("up", listing)
    assert results(fleet) == {"connect": "unchanged", "shard-00": "unchanged", "shard-01": "unchanged"}
    assert json.loads(fleet.path.read_text())["unchanged"] == ["connect", "shard-00", "shard-01"]
    full = fleet("up", listing, "--full")
    assert set(results(fleet).values()) == {"succeeded"}, full.stdout
    assert api_calls(sandbox) == {}, "skipped or not, a no-op calls nothing"

    # Removed (shard-00) and deactivated (shard-01): preview names each, up runs just those.
    changed = [o for o in listing if o["id"] != a2]
    changed[[o["id"] for o in changed].index(b1)] = {"id": b1, "active": False}
    preview = fleet("preview", changed)
    assert "shard-00: would run: removed 1" in preview.stdout and "shard-01: would run: deactivated 1" in preview.stdout
    assert results(fleet) == {"connect": "unchanged", "shard-00": "succeeded", "shard-01": "succeeded"}
    fleet("up", changed)
    assert fleet.summary()["shard-00"]["reasons"] == ["removed 1"]
    assert api_calls(sandbox) == {"update_account": 2, "get_account": 1}, "a2 deactivated, b1 deactivated and read back"
    assert not sandbox.store.org_account(a2)["active"] and not sandbox.store.org_account(b1)["active"]

    # An account deleted from the state by hand (shard-00), one reactivated (shard-01).
    urn = next(r["urn"] for r in json.loads(checkpoint(fleet, "shard-00").read_text())["checkpoint"]["latest"]
               ["resources"] if r.get("id") == a1)
    folder = fleet.path.parent / "by-hand"
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text("name: spaceinvoices-fleet\nruntime: python\n")
    deleted = subprocess.run(["pulumi", "state", "delete", "--stack", "shard-00", urn, "--yes"],
                             env=fleet.workspace.env, cwd=folder, text=True, capture_output=True)
    assert deleted.returncode == 0, deleted.stderr
    changed[[o["id"] for o in changed].index(b1)] = {"id": b1, "active": True}
    sandbox.clear_requests()
    fleet("up", changed)
    summary = fleet.summary()
    assert summary["shard-00"]["reasons"] == ["missing from the state 1"]
    assert summary["shard-01"]["reasons"] == ["activated 1"]
    assert api_calls(sandbox) == {"get_account": 2, "update_account": 1}, "a1 read and adopted; b1 reactivated"

    # An interrupted up: pending operations (shard-00); a state older than its input (shard-01).
    edit_checkpoint(fleet, "shard-00", lambda d: d.setdefault("pending_operations", []).append(
        {"resource": next(r for r in d["resources"] if r.get("id") == a1), "type": "updating"}))
    edit_checkpoint(fleet, "shard-01", lambda d: stack_outputs(d).update({"fleetInputHash": "0" * 64}))
    sandbox.clear_requests()
    fleet("up", changed)
    summary = fleet.summary()
    assert summary["shard-00"]["reasons"] == ["pending operations 1 (an interrupted run)"]
    assert summary["shard-01"]["reasons"] == ["state older than input"]
    assert summary["connect"]["result"] == "unchanged" and api_calls(sandbox) == {}

    # A state made by another version (shard-00); a changed connect setting; shard-01 untouched.
    edit_checkpoint(fleet, "shard-00", lambda d: stack_outputs(d).update(
        {"fleetVersion": "pulumi-spaceinvoices 0.1.0, pulumi 3.200.0"}))
    config = Path(fleet.path.parent, "fleet.yaml")
    config.write_text(config.read_text().replace("applicationFee: 1.5", "applicationFee: 2.5"))
    sandbox.clear_requests()
    fleet("up", changed)
    summary = fleet.summary()
    assert summary["shard-00"]["reasons"] == [f"made by pulumi-spaceinvoices 0.1.0, pulumi 3.200.0, now {version()}"]
    assert summary["connect"]["reasons"] == ["Connect settings changed"]
    assert summary["shard-01"]["result"] == "unchanged"
    assert api_calls(sandbox) == {"update_connect": 1, "get_connect": 1}
    assert sandbox.store.connect_config(account.id)["application_fee"] == 2.5

    # A policy pack and its config reach every stack's preview (here the pack shipped in the wheel).
    pack = subprocess.run([sys.executable, "-m", "pulumi_spaceinvoices.policy", "--path"], text=True,
                          capture_output=True, check=True).stdout.strip()
    policy_config = fleet.path.parent / "policy.json"
    policy_config.write_text(json.dumps({"spaceinvoices-application-fee": {"maxPercent": 2.0}}))
    sandbox.clear_requests()
    blocked = fleet("preview", changed, "--full", "--policy-pack", pack, "--policy-pack-config", str(policy_config),
                    check=1)
    assert "spaceinvoices-application-fee" in fleet.summary()["connect"]["error"], blocked.stdout
    assert {s: r["result"] for s, r in fleet.summary().items() if s != "connect"} == {
        "shard-00": "skipped", "shard-01": "skipped"}, "the connect stack failed first"
    assert api_calls(sandbox) == {}

    # A state that cannot be read is never unchanged: the command stops, naming the stack.
    checkpoint(fleet, "shard-01").write_text("{not json")
    sandbox.clear_requests()
    broken = fleet("up", changed, check=2)
    assert f"cannot read the state of stack {shard_stack(1)}" in broken.stdout and api_calls(sandbox) == {}
