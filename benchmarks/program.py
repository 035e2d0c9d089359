"""Program side: N resources (one StripeConnectConfig, the rest OrganizationConnectAccounts)
registered under the SDK's mocks in a fresh interpreter: the time until every output resolved and
the peak memory, beside the same number of bare dynamic resources (the SDK's own floor)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from ._common import ROOT
from .report import Report, Row


def _child(resources: int, kind: str) -> dict[str, Any]:
    code = f"from benchmarks._program_child import main; main({resources}, {kind!r})"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(report: Report, *, resources: int) -> None:
    ours, bare = _child(resources, "ours"), _child(resources, "bare")
    report.extra["program"] = {"ours": ours, "bare": bare}
    per_ms = ours["register_s"] / resources * 1000
    grown, bare_grown = (r["peak_rss_mb"] - r["rss_after_import_mb"] for r in (ours, bare))
    report.add(
        Row("program.register_s", "program", f"{resources} resources registered under mocks",
            round(ours["register_s"], 2), "s",
            detail=f"{per_ms:.2f} ms per resource until every output resolved; bare dynamic resources "
                   f"{bare['register_s']:.2f} s ({ours['register_s'] / bare['register_s']:.2f}x)"),
        Row("program.peak_rss_mb", "program", "program process peak memory", round(ours["peak_rss_mb"], 1), "MB",
            detail=f"{grown:.0f} MB above the {ours['rss_after_import_mb']:.0f} MB after imports "
                   f"({grown * 1024 / resources:.0f} KB per resource; bare: {bare_grown * 1024 / resources:.0f} KB)"),
    )
