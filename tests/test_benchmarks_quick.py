"""The quick benchmark in CI: API calls per operation and `__provider` size stay within their targets.

Runs `python -m benchmarks --quick` (calls, a small scale run, the multi-org program with 20
organizations under the real `pulumi` CLI, and a fleet of 20 in 2 shards through `spaceinvoices-fleet`) in a subprocess and reads its JSON. Only deterministic
figures are asserted: call counts and the `__provider` length. Times never are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("benchmarks") / "quick.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "calls,scale,cli,fleet", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return json.loads(out.read_text())


def rows(report: dict[str, Any], prefix: str, suffix: str = "") -> list[dict[str, Any]]:
    found = [r for r in report["rows"] if r["key"].startswith(prefix) and r["key"].endswith(suffix)]
    assert found, f"no figures {prefix}*{suffix} in the report"
    return found


def misses(found: list[dict[str, Any]]) -> list[str]:
    return [f"{r['label']}: {r['value']} (target {r['target']}; {r['detail']})" for r in found if r["ok"] is not True]


def test_every_operation_and_function_stays_within_its_call_budget(quick):
    found = rows(quick, "calls.")
    assert all(r["deterministic"] for r in found)
    assert misses(found) == []
    expected = {"create", "create_adopting", "up_noop", "preview_create", "preview_update", "refresh", "update",
                "delete"}
    for type_name in ("StripeConnectConfig", "OrganizationConnectAccount"):
        assert {r["key"].split(".")[-1] for r in rows(quick, f"calls.{type_name}.")} >= expected


def test_nothing_changed_and_preview_make_no_calls_and_refresh_only_reads(quick):
    details = quick["details"]["calls"]
    for key, figures in details.items():
        if key.endswith((".up_noop", ".preview_create", ".preview_update", ".preview")):
            assert figures["calls"] == 0, key
        if key.endswith(".refresh"):
            assert figures["mutating"] == 0 and figures["per_resource"] == 1, key


def test_provider_string_stays_under_200_characters(quick):
    found = rows(quick, "state.", ".provider_chars")
    assert len(found) == 2
    assert misses(found) == []


def test_at_scale_each_organization_costs_the_same_calls_through_the_provider_server(quick):
    found = rows(quick, "scale.", ".calls_per_org")
    assert [r["key"] for r in found] == [f"scale.{p}.calls_per_org" for p in ("create", "refresh", "update", "delete")]
    assert misses(found) == []


def test_under_the_real_cli_each_phase_of_the_multi_org_program_makes_its_calls(quick):
    found = [r for r in quick["rows"] if r["key"].startswith("cli.") and r["key"].endswith(".requests")]
    if not found:
        reason = "; ".join(n for n in quick["notes"] if n.startswith("cli:")) or "no cli figures"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the cli benchmark section: {reason}", pytrace=False)
        pytest.skip(reason)
    assert misses(found) == []
    # 20 organizations and the one Connect config: create reads then posts, refresh reads once,
    # destroy deactivates with one PATCH (the record id is in the state), preview and no-op up call nothing.
    assert {r["key"]: r["value"] for r in found} == {
        "cli.20.skip.preview.requests": 0, "cli.20.skip.up.requests": 42, "cli.20.skip.noop_up.requests": 0,
        "cli.20.skip.refresh.requests": 21, "cli.20.skip.destroy.requests": 21,
    }


def test_a_fleet_run_makes_its_calls_in_every_phase_and_meets_no_429(quick):
    found = [r for r in quick["rows"] if r["key"].startswith("fleet.")]
    if not found and os.environ.get("CI", "").lower() != "true":
        pytest.skip("; ".join(n for n in quick["notes"] if n.startswith("fleet:")) or "no fleet figures")
    requests = {r["key"]: r["value"] for r in found if r["key"].endswith(".requests")}
    # Two shard stacks run at once (K = 2) and the connect stack: the same calls as one stack.
    assert requests == {
        "fleet.20.2x2.skip.preview.requests": 0, "fleet.20.2x2.skip.up.requests": 42,
        "fleet.20.2x2.skip.noop_up.requests": 0, "fleet.20.2x2.skip.refresh.requests": 21,
        "fleet.20.2x2.skip.destroy.requests": 21,
    }
    assert {r["key"]: r["value"] for r in found if r["key"].endswith(".refused")} == {
        f"fleet.20.2x2.skip.{phase}.refused": 0 for phase in ("preview", "up", "noop_up", "refresh", "destroy")}
    assert misses([r for r in found if r["target"]]) == []  # the walls and ratios of 20 have no target
