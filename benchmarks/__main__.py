"""`python -m benchmarks [--quick] [--only SECTION,...] [--json PATH]`: print the table, write JSON."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .report import RESULTS_DIR
from .suite import SECTIONS, run


def _counts(text: str) -> list[int]:
    counts = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("expected positive numbers, comma-separated")
    return counts


def _layouts(text: str) -> list[tuple[int, int]]:
    try:
        layouts = [tuple(int(n) for n in part.lower().split("x")) for part in text.split(",") if part.strip()]
    except ValueError:
        layouts = []
    if not layouts or any(len(layout) != 2 or min(layout) < 1 for layout in layouts):
        raise argparse.ArgumentTypeError("expected SHARDSxK layouts, comma-separated, e.g. 1x1,10x5")
    return layouts  # type: ignore[return-value]


def _modes(text: str) -> list[str]:
    modes = [part.strip() for part in text.split(",") if part.strip()]
    if not modes or set(modes) - {"skip", "default"}:
        raise argparse.ArgumentTypeError("expected skip and/or default, comma-separated")
    return modes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="call counts, state size and a small scale run only: deterministic figures, ~30 s")
    parser.add_argument("--only", default="", help=f"comma-separated sections of: {', '.join(SECTIONS)}")
    parser.add_argument("--orgs", type=_counts, default=None,
                        help="organizations: the scale run takes the first (1000; quick 20), the cli section "
                             "each of a comma-separated list (100,1000; quick 20)")
    parser.add_argument("--resources", type=int, default=None,
                        help="resources in the program-side run (2500; quick 250)")
    parser.add_argument("--cli-checkpoint-max", type=int, default=1000,
                        help="largest N the cli section runs with default checkpoints (quadratic; 1000)")
    parser.add_argument("--cli-args", default="",
                        help="extra arguments for every pulumi command of the cli section, e.g. '--parallel 16'")
    parser.add_argument("--cli-no-settled", action="store_true",
                        help="cli section: skip the settled-program variant (docs/fleets.md)")
    parser.add_argument("--fleet-layouts", type=_layouts, default=None,
                        help="fleet section: SHARDSxK layouts, comma-separated (1x1,10x1,10x2,10x5,10x10; quick 2x2)")
    parser.add_argument("--fleet-modes", type=_modes, default=None,
                        help="fleet section: checkpoint modes, skip and/or default (both; default checkpoints "
                             "only up to --cli-checkpoint-max organizations a stack unless named here)")
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "latest.json", help="where to write the JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its target")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()] or None
    unknown = set(sections or ()) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")

    report = run(quick=args.quick, sections=sections, orgs=args.orgs, resources=args.resources,
                 cli_checkpoint_max=args.cli_checkpoint_max, cli_args=tuple(shlex.split(args.cli_args)),
                 cli_settled=not args.cli_no_settled, fleet_layouts=args.fleet_layouts,
                 fleet_modes=args.fleet_modes)
    print()
    print(report.table())
    for note in report.notes:
        print(f"note: {note}")
    path = report.write(args.json)
    print(f"\n{len(report.rows)} figures, {len(report.misses)} missed their target; JSON: {path}")
    return 1 if args.strict and report.misses else 0


if __name__ == "__main__":
    sys.exit(main())
