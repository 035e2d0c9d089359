"""Import cost: `import pulumi` against `import pulumi` plus this package, in fresh interpreters.

Each run is a new `python` process that times only its import statement (interpreter start-up is
the same for all and left out), with every module loaded from cached bytecode; the cases are run
round-robin so drift hits them alike. The
realistic case imports what a program uses. It also lists which heavy modules got loaded: the
sandbox and its server libraries must not be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from ._common import ROOT, median
from .report import Report, Row

BASELINE = "import pulumi"
CASES = {
    "package": "import pulumi\nimport pulumi_spaceinvoices",
    # What the shipped programs (examples/quickstart, examples/multi-org) import.
    "program": "import pulumi\nfrom pulumi_spaceinvoices import StripeConnectConfig, OrganizationConnectAccount, "
               "get_onboarding_entry_url_output, get_onboarding_link_output",
}
SERVER_MODULES = ("pulumi_spaceinvoices.sandbox", "fastapi", "uvicorn", "starlette", "h11", "sqlite3")
WATCHED_MODULES = ("pydantic", "requests", "urllib3", "pulumi_spaceinvoices.client", "pulumi_spaceinvoices.models")

_CHILD = """
import json, sys, time
statement = sys.argv[1]
started = time.perf_counter()
exec(statement)
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "modules": sorted(sys.modules)}))
"""


def _once(statement: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, statement], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def run(report: Report, *, runs: int) -> None:
    times: dict[str, list[float]] = {"baseline": [], **{name: [] for name in CASES}}
    modules: dict[str, list[str]] = {}
    statements = {"baseline": BASELINE, **CASES}
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        # Every module from cached bytecode, as after `pip install`: with PYTHONDONTWRITEBYTECODE set
        # (as here) this editable checkout would otherwise be compiled from source at every import,
        # while pulumi's installed .pyc files are used. The cache lives outside the tree.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        for statement in statements.values():
            _once(statement, env)  # writes the bytecode cache and warms the file cache
        for _ in range(runs):
            for name, statement in statements.items():
                result = _once(statement, env)
                times[name].append(result["seconds"])
                modules[name] = result["modules"]
    base = median(times["baseline"])
    details = {name: {"median_ms": round(median(ts) * 1000, 1), "runs": len(ts)} for name, ts in times.items()}
    report.extra["imports"] = details
    report.add(Row("imports.pulumi_ms", "imports", "import pulumi (baseline), median", round(base * 1000, 1), "ms",
                   detail=f"{runs} fresh interpreters per case, import statement timed in the child, bytecode cached"))
    labels = {"package": "import pulumi_spaceinvoices", "program": "from pulumi_spaceinvoices import <what a program uses>"}
    for name in CASES:
        ours = median(times[name])
        report.add(Row(f"imports.{name}_ratio", "imports", f"{labels[name]}: cost vs import pulumi",
                       round(ours / base, 3), "x", 1.15,
                       detail=f"{(ours - base) * 1000:+.1f} ms over import pulumi ({ours * 1000:.1f} ms in all)"))
    program_modules = set(modules["program"]) - set(modules["baseline"])
    servers = sorted(m for m in program_modules if m.split(".")[0] in SERVER_MODULES or
                     any(m == s or m.startswith(s + ".") for s in SERVER_MODULES))
    watched = [m for m in WATCHED_MODULES if m in program_modules]
    report.extra["imports"]["program_modules_added"] = sorted(program_modules)
    report.add(Row("imports.server_modules", "imports", "sandbox/server modules loaded by a program's import",
                   len(servers), "modules", 0, "==", ", ".join(servers) or "none; also loaded: "
                   + (", ".join(watched) or "none of pydantic, requests, client, models"), deterministic=True))
