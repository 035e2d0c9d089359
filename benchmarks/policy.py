"""What the policy pack adds to a preview (issue 23; docs/policy-pack.md): the `cli` section's stack
(examples/multi-org with N organizations, real CLI, sandbox process, skipped checkpoints) previewed
with and without `--policy-pack pulumi_spaceinvoices/policy/pack` (default pack config: every rule
runs on every resource, none fails), and with a no-op pack (one policy that returns at once: what
any Python pack costs), each first in turn, `rounds` times each after one untimed preview of each.
Figures: median wall time, median CPU seconds of the whole process tree (engine, language hosts,
program, provider, and the pack's own processes), the pack's CPU, and the ratios. Target: with /
without at most 1.10x.

    python -m benchmarks --only policy --orgs 1000
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from .cli import PhaseResult, SandboxProcess, Stack, find_cli, phase_timeout
from .report import Report, Row

TARGET = 1.10
# The least a Python pack can be: one resource policy that returns at once. What the engine, the
# language host's proxy and pulumi-policy cost any pack (two RPCs per resource: Remediate, Analyze).
FLOOR_PACK = """from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

PolicyPack("floor", [ResourceValidationPolicy("noop", "does nothing", lambda args, report: None)],
           EnforcementLevel.ADVISORY)
"""


def tree_cpu(result: PhaseResult) -> float:
    """CPU seconds of every process of the preview: the engine and everything it started."""
    return result.engine_cpu_s + sum(role["cpu_s"] for role in result.roles.values())


def run(report: Report, *, orgs: int, rounds: int = 3, say: Any = print) -> None:
    from pulumi_spaceinvoices.policy import pack_path

    cli = find_cli()
    if cli is None:
        report.notes.append("policy: skipped, `pulumi` is not on PATH (see tests/realengine.py for how to get it)")
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench-policy-"))
    sandbox = SandboxProcess(orgs, workdir)
    floor = workdir / "floor-pack"
    floor.mkdir()
    (floor / "PulumiPolicy.yaml").write_text("name: floor\nruntime: python\nversion: 0.0.1\n", encoding="utf-8")
    (floor / "__main__.py").write_text(FLOOR_PACK, encoding="utf-8")
    variants = {"without": (), "floor": ("--policy-pack", str(floor)), "with": ("--policy-pack", pack_path())}
    results: dict[str, list[PhaseResult]] = {name: [] for name in variants}
    try:
        stack = Stack(cli, workdir / "stack", "ours", "skip", sandbox.org_ids, sandbox)
        stack.init()
        timeout = phase_timeout(orgs, "skip")
        for args in variants.values():  # untimed: caches warm for both
            stack.run("preview", timeout, args)
        for index in range(rounds):
            names = list(variants)
            order = names[index % len(names):] + names[:index % len(names)]  # each first in turn
            for name in order:
                result = stack.run("preview", timeout, variants[name])
                if result.requests:
                    raise RuntimeError(f"a preview {name} the pack sent {result.requests} API requests")
                results[name].append(result)
                say(f"  policy {orgs} orgs preview {name:7} pack: {result.wall_s:6.1f} s wall, "
                    f"{tree_cpu(result):6.1f} s CPU (pack {result.roles.get('other', {}).get('cpu_s', 0.0):.1f} s), "
                    f"machine {result.machine_busy_cores:.2f} cores busy")
    finally:
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    wall = {name: statistics.median(r.wall_s for r in runs) for name, runs in results.items()}
    cpu = {name: statistics.median(tree_cpu(r) for r in runs) for name, runs in results.items()}
    pack_cpu = statistics.median(r.roles.get("other", {}).get("cpu_s", 0.0) for r in results["with"])
    floor_cpu = statistics.median(r.roles.get("other", {}).get("cpu_s", 0.0) for r in results["floor"])
    detail = f"median of {rounds}; without {{0:.1f}} s, with {{1:.1f}} s"
    report.extra["policy"] = {name: [{"wall_s": r.wall_s, "engine_cpu_s": r.engine_cpu_s, "roles": r.roles,
                                      "machine_busy_cores": r.machine_busy_cores} for r in runs]
                              for name, runs in results.items()}
    report.add(
        Row(f"policy.{orgs}.preview.wall_ratio", "policy", f"{orgs} orgs: preview wall, with pack / without",
            round(wall["with"] / wall["without"], 3), "x", TARGET, detail=detail.format(wall["without"], wall["with"])),
        Row(f"policy.{orgs}.preview.cpu_ratio", "policy", f"{orgs} orgs: preview CPU (all processes), with / without",
            round(cpu["with"] / cpu["without"], 3), "x", TARGET,
            detail=detail.format(cpu["without"], cpu["with"]) + f"; the pack's process {pack_cpu:.1f} s"),
        Row(f"policy.{orgs}.preview.pack_cpu_s", "policy", f"{orgs} orgs: the pack's processes' CPU (\"other\")",
            round(pack_cpu, 2), "s", detail=f"the no-op pack's: {floor_cpu:.1f} s"),
        Row(f"policy.{orgs}.preview.floor_wall_ratio", "policy", f"{orgs} orgs: preview wall, no-op pack / without",
            round(wall["floor"] / wall["without"], 3), "x", detail=f"no-op pack {wall['floor']:.1f} s"),
        Row(f"policy.{orgs}.preview.floor_cpu_ratio", "policy", f"{orgs} orgs: preview CPU, no-op pack / without",
            round(cpu["floor"] / cpu["without"], 3), "x", detail=f"no-op pack {cpu['floor']:.1f} s"),
        Row(f"policy.{orgs}.preview.over_floor", "policy", f"{orgs} orgs: preview wall, with pack / no-op pack",
            round(wall["with"] / wall["floor"], 3), "x"),
    )
