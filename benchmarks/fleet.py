"""Fleets (docs/fleets.md): N organizations through `spaceinvoices-fleet` under the real CLI, in
one shard stack and in S shards with K run at once, against one sandbox (its own process) with
20 ms latency and its 100 requests/s limit per token; phases preview, up, no-op up, refresh and
destroy, each one run of the command (so the connect stack, the state reads and every start-up
count, as for a user).

Figures per phase: wall, requests and 429s (the sandbox's log), wall / bound (accepted requests /
100 s), the peak of the command's whole process tree's summed resident memory (the fleet, every
`pulumi`, program and provider under it), CPU seconds of that tree, and each stack's seconds from
the command's JSON summary (the per-shard figures the 100,000-organization estimate is made of).

    python -m benchmarks --only fleet --orgs 1000,10000                       # ~1 h
    python -m benchmarks --only fleet --orgs 10000 --fleet-layouts 10x10 --fleet-modes default
    python -m benchmarks.fleet --table benchmarks/results/latest.json         # the markdown table
    python -m benchmarks.fleet --scope 1000,10000 [--out FILE.json]           # skipped vs --full (issue 22)

The scope runs (issue 22) take one fleet of N organizations in 10 shards, K = 2, after its `up`:
no-op `preview` and `up`, each skipping unchanged stacks and with `--full`; then one organization
added: `preview` skipped, `preview --full`, `up` skipped, and (a second one added) `up --full`.
Besides wall and the process tree's CPU, each gives the command's own time to list and read the
states and decide (`plan_seconds` of its JSON summary).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._common import table_main
from .cli import MODES, SandboxProcess, TreeSampler, find_cli, system_cpu
from .report import Report, Row

RATE_LIMIT = 100
PHASES = ("preview", "up", "noop_up", "refresh", "destroy")
COMMANDS = {"preview": "preview", "up": "up", "noop_up": "up", "refresh": "refresh", "destroy": "destroy"}
LAYOUTS = ((1, 1), (10, 1), (10, 2), (10, 5), (10, 10))  # (shards, K)
QUICK_LAYOUTS = ((2, 2),)
TARGET_RATIO = 1.15  # at 10,000 organizations (issue 16)
TARGET_FAST_S = 60.0  # the fleet's preview and no-op up at 10,000
PASSPHRASE = "benchmarks-fleet"
FLEET_CONFIG = {"project": "bench-fleet", "publicKey": "pk_test_FleetBenchmark0000", "applicationFee": 1.0,
                "returnUrl": "https://platform.example.com/onboarding/return",
                "refreshUrl": "https://platform.example.com/onboarding/refresh"}


@dataclass
class FleetPhase:
    orgs: int
    shards: int
    parallel: int
    mode: str
    phase: str
    wall_s: float
    requests: int = 0
    throttled: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    peak_tree_mb: float = 0.0
    largest_process_mb: float = 0.0
    cpu_s: float = 0.0
    sandbox_cpu_s: float = 0.0
    machine_busy_cores: float = 0.0
    first_request_s: float | None = None  # from the command's start
    last_request_s: float | None = None
    stack_seconds: dict[str, float] = field(default_factory=dict)
    tree_cpu_s: float | None = None  # exact: every process of the tree, reaped (the sampler misses short ones)
    plan_s: float | None = None  # listing and reading the states, deciding (the command's summary)
    unchanged: int = 0  # stacks reported unchanged

    @property
    def layout(self) -> str:
        return f"{self.shards}x{self.parallel}"

    @property
    def bound_s(self) -> float:
        return (self.requests - self.throttled) / RATE_LIMIT

    @property
    def ratio(self) -> float | None:
        return round(self.wall_s / self.bound_s, 2) if self.bound_s else None


def expected_requests(phase: str, orgs: int) -> int:
    """Every organization and the one Connect config: up GET + POST each, refresh one GET, destroy one
    PATCH, preview and no-op up none."""
    return {"preview": 0, "up": 2 * (orgs + 1), "noop_up": 0, "refresh": orgs + 1, "destroy": orgs + 1}[phase]


class FleetRun:
    """One fleet (a sandbox, a file backend, a Pulumi home) driven phase by phase."""

    def __init__(self, cli: str, root: Path, *, orgs: int, shards: int, parallel: int, mode: str) -> None:
        from tests.realengine import cli_environment

        self.root, self.orgs, self.shards, self.parallel, self.mode = root, orgs, shards, parallel, mode
        (root / "backend").mkdir(parents=True)
        self.sandbox = SandboxProcess(orgs, root)
        (root / "organizations.yaml").write_text(yaml.safe_dump(self.sandbox.org_ids), encoding="utf-8")
        (root / "fleet.yaml").write_text(yaml.safe_dump(FLEET_CONFIG), encoding="utf-8")
        self.env = cli_environment(cli, home=root / "home", backend=root / "backend", passphrase=PASSPHRASE, extra={
            **MODES[mode], "SPACEINVOICES_ACCESS_TOKEN": self.sandbox.token,
            "SPACEINVOICES_API_URL": self.sandbox.url, "STRIPE_SECRET_KEY": "sk_test_FleetBenchmark0000wxyz"})

    def run(self, phase: str, command_name: str | None = None, extra: tuple[str, ...] = ()) -> FleetPhase:
        summary = self.root / f"{phase}.json"
        command = [sys.executable, "-m", "pulumi_spaceinvoices.fleet", command_name or COMMANDS[phase],
                   str(self.root / "organizations.yaml"), "--config", str(self.root / "fleet.yaml"),
                   "--shards", str(self.shards), "--parallel", str(self.parallel), "--json", str(summary), *extra]
        self.sandbox.clear_requests()
        sandbox_cpu = self.sandbox.cpu_seconds()
        busy_before, _ = system_cpu()
        log = self.root / f"{phase}.log"
        started_at = time.time()  # the sandbox stamps its requests with the same clock
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command's tree, once reaped
        started = time.monotonic()
        with open(log, "w", encoding="utf-8") as out:
            process = subprocess.Popen(command, cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            sampler = TreeSampler(process.pid).start()
            try:
                code = process.wait(timeout=7200)
            finally:
                wall = time.monotonic() - started
                sampler.stop()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        busy_after, _ = system_cpu()
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        tree_cpu = reaped.ru_utime + reaped.ru_stime - children.ru_utime - children.ru_stime
        if code != 0:
            raise RuntimeError(f"fleet {phase} ({self.orgs} orgs, {self.shards} shard(s), K={self.parallel}, {self.mode} checkpoints) exited "
                               f"{code}:\n{log.read_text(encoding='utf-8', errors='replace')[-3000:]}")
        records = self.sandbox.requests()
        written = json.loads(summary.read_text(encoding="utf-8"))
        stacks = written["stacks"]
        stamps = [r["timestamp"] - started_at for r in records]
        return FleetPhase(
            orgs=self.orgs, shards=self.shards, parallel=self.parallel, mode=self.mode, phase=phase,
            wall_s=round(wall, 1), requests=len(records), throttled=sum(1 for r in records if r["status"] == 429),
            by_operation=dict(Counter(r["operation"] for r in records)),
            peak_tree_mb=round(sampler.peak_tree_kb / 1024, 1),
            largest_process_mb=round(max((p["hwm_kb"] for p in sampler.procs.values()), default=0) / 1024, 1),
            cpu_s=round(sum(p["cpu_s"] for p in sampler.procs.values()), 1), tree_cpu_s=round(tree_cpu, 1),
            sandbox_cpu_s=round(self.sandbox.cpu_seconds() - sandbox_cpu, 1),
            machine_busy_cores=round((busy_after - busy_before) / wall, 2),
            first_request_s=round(min(stamps), 1) if stamps else None,
            last_request_s=round(max(stamps), 1) if stamps else None,
            stack_seconds={s["stack"]: s["seconds"] for s in stacks if s["result"] == "succeeded"},
            plan_s=written.get("plan_seconds"), unchanged=len(written.get("unchanged") or []))

    def list_organizations(self, count: int) -> None:
        """Declare the sandbox's first `count` organizations (it holds a few more, to add later)."""
        (self.root / "organizations.yaml").write_text(yaml.safe_dump(self.sandbox.org_ids[:count]), encoding="utf-8")

    def stop(self) -> None:
        self.sandbox.stop()


def plan(orgs: list[int], *, quick: bool, layouts: list[tuple[int, int]] | None, modes: list[str] | None,
         checkpoint_max: int) -> list[tuple[int, int, int, str]]:
    """(orgs, shards, K, mode) to run: default checkpoints only where a stack holds at most
    `checkpoint_max` organizations (the file backend rewrites the whole checkpoint after each step)."""
    runs = []
    for n in orgs:
        for shards, parallel in layouts or (QUICK_LAYOUTS if quick else LAYOUTS):
            for mode in modes or (("skip",) if quick else ("skip", "default")):
                if mode == "default" and n / shards > checkpoint_max and not modes:
                    continue
                runs.append((n, shards, parallel, mode))
    return runs


def run(report: Report, *, orgs: list[int], quick: bool, layouts: list[tuple[int, int]] | None = None,
        modes: list[str] | None = None, checkpoint_max: int = 1000, say: Any = print) -> None:
    cli = find_cli()
    if cli is None:
        report.notes.append("fleet: no pulumi CLI on PATH, section not run")
        return
    results: list[FleetPhase] = []
    for n, shards, parallel, mode in plan(orgs, quick=quick, layouts=layouts, modes=modes,
                                          checkpoint_max=checkpoint_max):
        root = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
        fleet = FleetRun(cli, root, orgs=n, shards=shards, parallel=parallel, mode=mode)
        try:
            for phase in PHASES:
                result = fleet.run(phase)
                say(f"fleet: {n} orgs, {shards} shard(s), K={parallel}, {mode} checkpoints: {phase}: "
                    f"{result.wall_s:.1f} s, {result.requests} requests, {result.throttled} refused (429), "
                    f"{'' if result.ratio is None else f'{result.ratio:.2f}x the bound, '}peak {result.peak_tree_mb:.0f} MB, "
                    f"{result.machine_busy_cores:.2f} cores busy")
                results.append(result)
        finally:
            fleet.stop()
            shutil.rmtree(root, ignore_errors=True)
    add_rows(report, results)
    report.extra["fleet"] = {"rate_limit": RATE_LIMIT, "latency_s": 0.020, "cores": os.cpu_count(),
                             "results": [asdict(r) for r in results], "table_md": markdown_table(results)}
    say("\n" + markdown_table(results))


SCOPE_EXTRA = 2  # organizations the sandbox holds beyond N: the scope runs add them one at a time
SCOPE_PHASES = (  # (phase, command, flags, organizations declared beyond N)
    ("noop_preview", "preview", (), 0), ("noop_preview_full", "preview", ("--full",), 0),
    ("noop_up", "up", (), 0), ("noop_up_full", "up", ("--full",), 0),
    ("add1_preview", "preview", (), 1), ("add1_preview_full", "preview", ("--full",), 1),
    ("add1_up", "up", (), 1), ("add1_up_full", "up", ("--full",), 2),
)


def run_scope(orgs: list[int], *, shards: int = 10, parallel: int = 2, say: Any = print) -> list[FleetPhase]:
    """Skipped vs --full on one fleet per N (issue 22); skipped checkpoints, as the fleet figures."""
    cli = find_cli()
    if cli is None:
        raise SystemExit("no pulumi CLI on PATH")
    results: list[FleetPhase] = []
    for n in orgs:
        root = Path(tempfile.mkdtemp(prefix="bench-fleet-scope-"))
        fleet = FleetRun(cli, root, orgs=n + SCOPE_EXTRA, shards=shards, parallel=parallel, mode="skip")
        fleet.orgs = n
        try:
            fleet.list_organizations(n)
            first = fleet.run("up")
            say(f"fleet scope: {n} orgs: up {first.wall_s:.1f} s")
            for phase, command, flags, added in SCOPE_PHASES:
                fleet.list_organizations(n + added)
                result = fleet.run(phase, command, flags)
                results.append(result)
                say(f"fleet scope: {n} orgs, {shards} shards, K={parallel}: {phase}: {result.wall_s:.1f} s wall, "
                    f"{result.tree_cpu_s:.1f} CPU s, states read and plan {result.plan_s} s, {result.requests} requests, "
                    f"{result.unchanged} stacks unchanged")
        finally:
            fleet.stop()
            shutil.rmtree(root, ignore_errors=True)
    say("\n" + scope_table(results))
    return results


def scope_table(results: list[FleetPhase]) -> str:
    """Skipped against --full, per N: wall, CPU of the process tree, time to read the states."""
    lines = ["| orgs | run | skipped: wall s | CPU s | read states s | stacks run | --full: wall s | CPU s | "
             "read states s | requests |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by = {(r.orgs, r.phase): r for r in results}
    for n in dict.fromkeys(r.orgs for r in results):
        for label, skipped, full in (("no-op preview", "noop_preview", "noop_preview_full"),
                                     ("no-op up", "noop_up", "noop_up_full"),
                                     ("one added: preview", "add1_preview", "add1_preview_full"),
                                     ("one added: up", "add1_up", "add1_up_full")):
            a, b = by.get((n, skipped)), by.get((n, full))
            if a is None or b is None:
                continue
            ran = a.shards + 1 - a.unchanged
            lines.append(f"| {n:,} | {label} | {a.wall_s:.1f} | {a.tree_cpu_s:.1f} | {a.plan_s} | {ran} | "
                         f"{b.wall_s:.1f} | {b.tree_cpu_s:.1f} | {b.plan_s} | {a.requests} / {b.requests} |")
    return "\n".join(lines)


def add_rows(report: Report, results: list[FleetPhase]) -> None:
    for r in results:
        key = f"fleet.{r.orgs}.{r.layout}.{r.mode}.{r.phase}"
        where = f"{r.orgs} orgs, {r.shards} shard(s), K={r.parallel}, {r.mode} checkpoints: {r.phase}"
        large = r.orgs >= 10_000
        report.add(
            Row(f"{key}.requests", "fleet", f"{where}: requests", r.requests, "calls", expected_requests(r.phase, r.orgs),
                "==", detail=", ".join(f"{k} x{v}" for k, v in sorted(r.by_operation.items())), deterministic=True),
            Row(f"{key}.refused", "fleet", f"{where}: 429s", r.throttled, "calls", 0, "=="),
            Row(f"{key}.wall_s", "fleet", f"{where}: wall", r.wall_s, "s",
                TARGET_FAST_S if large and r.phase in ("preview", "noop_up") else None, "<",
                detail=f"peak {r.peak_tree_mb:.0f} MB (tree), largest process {r.largest_process_mb:.0f} MB, "
                       f"CPU {r.cpu_s:.0f} s + sandbox {r.sandbox_cpu_s:.0f} s, {r.machine_busy_cores:.2f} cores busy"),
        )
        if r.ratio is not None:
            report.add(Row(f"{key}.ratio", "fleet", f"{where}: wall / bound", r.ratio, "x",
                           TARGET_RATIO if large else None,
                           detail=f"bound {r.bound_s:.1f} s; requests sent from {r.first_request_s} s to "
                                  f"{r.last_request_s} s"))


def markdown_table(results: list[FleetPhase]) -> str:
    """One line per (N, layout, checkpoint mode): each phase's wall time, with its ratio to the bound."""
    lines = ["| orgs | shards | K | checkpoints | preview s | up s (x bound) | no-op up s | refresh s (x bound) | "
             "destroy s (x bound) | 429s | peak MB | slowest shard up s |",
             "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    runs: dict[tuple[int, int, int, str], dict[str, FleetPhase]] = {}
    for r in results:
        runs.setdefault((r.orgs, r.shards, r.parallel, r.mode), {})[r.phase] = r
    def cell(phases: dict[str, FleetPhase], phase: str) -> str:
        r = phases.get(phase)
        if r is None:
            return "n/a"
        return f"{r.wall_s:.1f}" + (f" ({r.ratio:.2f}x)" if r.ratio is not None else "")

    for (n, shards, parallel, mode), phases in runs.items():
        up = phases.get("up")
        slowest = max((s for k, s in up.stack_seconds.items() if k != "connect"), default=0) if up else 0
        lines.append(f"| {n:,} | {shards} | {parallel} | {mode} | {cell(phases, 'preview')} | {cell(phases, 'up')} | "
                     f"{cell(phases, 'noop_up')} | {cell(phases, 'refresh')} | {cell(phases, 'destroy')} | "
                     f"{sum(r.throttled for r in phases.values())} | "
                     f"{max(r.peak_tree_mb for r in phases.values()):.0f} | {slowest:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--scope"]:
        found = run_scope([int(n) for n in sys.argv[2].split(",")])
        if "--out" in sys.argv:
            Path(sys.argv[sys.argv.index("--out") + 1]).write_text(
                json.dumps([asdict(r) for r in found], indent=2) + "\n", encoding="utf-8")
        sys.exit(0)
    sys.exit(table_main(sys.argv[1:], "fleet", FleetPhase, markdown_table))
