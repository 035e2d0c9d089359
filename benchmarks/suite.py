"""Runs the sections in order and collects one report."""

from __future__ import annotations

import time
from collections.abc import Iterable

from .report import Report

SECTIONS = ("calls", "imports", "overhead", "scale", "program", "cli", "adapters", "yaml", "fleet", "policy", "onboarding")
QUICK_SECTIONS = ("calls", "imports", "scale", "program", "cli", "fleet")


def run(*, quick: bool, sections: Iterable[str] | None = None, orgs: list[int] | None = None,
        resources: int | None = None, cli_checkpoint_max: int = 1000, cli_args: tuple[str, ...] = (),
        cli_settled: bool = True, fleet_layouts: list[tuple[int, int]] | None = None,
        fleet_modes: list[str] | None = None, log: bool = True) -> Report:
    """Run the chosen sections (all by default; in quick mode those without timing figures)."""
    chosen = [s for s in SECTIONS if s in set(sections or (QUICK_SECTIONS if quick else SECTIONS))]
    report = Report(mode="quick" if quick else "full")

    def say(message: str) -> None:
        if log:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    for section in chosen:
        say(f"{section} ...")
        started = time.monotonic()
        if section == "calls":
            from pulumi_spaceinvoices.sandbox import run_sandbox

            from . import calls

            with run_sandbox() as sandbox:
                calls.run(report, sandbox)
        elif section == "imports":
            from . import imports

            imports.run(report, runs=5 if quick else 41)
        elif section == "overhead":
            from . import overhead

            overhead.run(report, reads=200 if quick else 1000)
        elif section == "scale":
            from . import scale

            scale.run(report, orgs=orgs[0] if orgs else (20 if quick else 1000), quick=quick)
        elif section == "program":
            from . import program

            program.run(report, resources=resources or (250 if quick else 2500))
        elif section == "cli":
            from . import cli

            cli.run(report, orgs=orgs or ([20] if quick else [100, 1000]), quick=quick,
                    checkpoint_max=cli_checkpoint_max, extra_args=cli_args, settled=cli_settled, log=log)
        elif section == "adapters":
            from . import adapters

            adapters.run(report, orgs=orgs[0] if orgs else 200, say=say)
        elif section == "yaml":
            from . import native_yaml

            native_yaml.run(report, orgs=orgs[0] if orgs else 200, say=say)
        elif section == "fleet":
            from . import fleet

            fleet.run(report, orgs=orgs or ([20] if quick else [200]), quick=quick, layouts=fleet_layouts,
                      modes=fleet_modes, checkpoint_max=cli_checkpoint_max, say=say)
        elif section == "policy":
            from . import policy

            policy.run(report, orgs=orgs[0] if orgs else 200, say=say)
        elif section == "onboarding":
            from . import onboarding

            onboarding.run(report, seconds=3.0 if quick else 10.0, mints=20 if quick else 100, say=say)
        say(f"{section} done in {time.monotonic() - started:.1f} s")
    return report
