"""The same fleet under both adapters, by hand: tests/programs/fleet (the dynamic providers) and
tests/programs/native-fleet (the native plugin through its generated Python SDK), each with N
organizations under the real `pulumi` CLI, against one sandbox with 20 ms latency and its 100
requests/s limit. Phases preview, up, no-op up, refresh, destroy, each a fresh `pulumi` process on
the default (file backend) checkpoints, after one untimed preview of each, the two adapters
alternating which goes first; the figures are wall time and API requests per phase, and the
native/dynamic ratio. Informational: no target.

    python -m benchmarks --only adapters --orgs 1000
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from .report import Report, Row

LATENCY = 0.020
RATE_LIMIT = 100
PHASES = ("preview", "up", "noop_up", "refresh", "destroy")


def run(report: Report, *, orgs: int, say: Any = print) -> None:
    from pulumi_spaceinvoices.sandbox import run_sandbox
    from tests.native_sdks import Toolchains
    from tests.realengine import PROGRAMS, Workspace, find_cli

    if find_cli() is None:
        report.notes.append("adapters: no pulumi CLI on PATH, section not run")
        return
    walls: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch, run_sandbox() as sandbox:
        root = Path(scratch)
        (root / "toolchains").mkdir()
        toolchains = Toolchains(root / "toolchains")
        sandbox.set_latency(LATENCY)
        sandbox.set_rate_limit(RATE_LIMIT)
        projects = {}
        for adapter, program in (("dynamic", PROGRAMS / "fleet"), ("native", PROGRAMS / "native-fleet")):
            account = sandbox.create_account(email=f"{adapter}-bench@example.com")
            organizations = [sandbox.create_organization(account.id, name=f"Org {i}") for i in range(orgs)]
            projects[adapter] = project = Workspace(root / adapter).project(program, config={
                "spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
                "stripeSecretKey": "sk_test_AdapterBenchmark0000", "organizations": organizations,
            }, secrets={"spaceinvoices:accessToken", "stripeSecretKey"})
            if adapter == "native":
                toolchains.prepare("python", project)
            project.preview()  # warm-up, untimed: bytecode and plugin caches as on a user's second run
            walls[adapter] = {}
        for index, phase in enumerate(PHASES):
            for adapter in ("dynamic", "native") if index % 2 == 0 else ("native", "dynamic"):  # no order bias
                project = projects[adapter]
                steps = {"preview": project.preview, "up": project.up, "noop_up": project.up,
                         "refresh": project.refresh, "destroy": project.destroy}
                sandbox.clear_requests()
                started = time.monotonic()
                steps[phase](timeout=3600)
                wall = walls[adapter][phase] = time.monotonic() - started
                requests = len(sandbox.requests())
                say(f"adapters: {adapter} {orgs} orgs {phase}: {wall:.1f} s, {requests} requests")
                report.add(
                    Row(f"adapters.{adapter}.{orgs}.{phase}.wall_s", "adapters",
                        f"{adapter}, {orgs} orgs: {phase}: wall time", round(wall, 2), "s"),
                    Row(f"adapters.{adapter}.{orgs}.{phase}.requests", "adapters",
                        f"{adapter}, {orgs} orgs: {phase}: API requests", requests, "calls"),
                )
    for phase in PHASES:
        report.add(Row(f"adapters.{orgs}.{phase}.ratio", "adapters", f"{orgs} orgs: {phase}: native / dynamic wall",
                       round(walls["native"][phase] / walls["dynamic"][phase], 2), "x"))
