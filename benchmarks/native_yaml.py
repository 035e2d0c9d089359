"""One stack of N organizations through the native plugin from a Pulumi YAML program, by hand: no
Python program process at all (the YAML host is Go), to show how much of the single stack's time was
the Python program side (docs/fleets.md). The program is generated: the Connect config and N
`spaceinvoices:index:OrganizationConnectAccount`s on the default provider. Real CLI, sandbox with
20 ms latency and its 100 requests/s limit, `PULUMI_SKIP_CHECKPOINTS=true`; phases preview, up,
no-op up, refresh, destroy, each a fresh `pulumi` process; figures: wall, requests, 429s and the
ratio to the rate-limit bound (requests / 100 s).

    python -m benchmarks --only yaml --orgs 10000
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from .report import Report, Row

LATENCY = 0.020
RATE_LIMIT = 100
PHASES = ("preview", "up", "noop_up", "refresh", "destroy")


def program(organizations: list[str]) -> dict[str, Any]:
    resources: dict[str, Any] = {"connect": {"type": "spaceinvoices:index:StripeConnectConfig", "properties": {
        "privateKey": "${stripeSecretKey}", "publicKey": "pk_test_YamlBenchmark0000", "applicationFee": 1.0,
        "refreshUrl": "https://platform.example.com/onboarding/refresh",
        "returnUrl": "https://platform.example.com/onboarding/return"}}}
    for org_id in organizations:
        resources[f"org-{org_id}"] = {"type": "spaceinvoices:index:OrganizationConnectAccount",
                                      "properties": {"organizationId": org_id},
                                      "options": {"dependsOn": ["${connect}"]}}
    return {"name": "spaceinvoices-yaml-fleet", "runtime": "yaml",
            "config": {"stripeSecretKey": {"type": "string", "secret": True}}, "resources": resources}


def run(report: Report, *, orgs: int, say: Any = print) -> None:
    from pulumi_spaceinvoices.sandbox import run_sandbox
    from tests.realengine import Workspace, find_cli

    if find_cli() is None:
        report.notes.append("yaml: no pulumi CLI on PATH, section not run")
        return
    with tempfile.TemporaryDirectory() as scratch, run_sandbox() as sandbox:
        root = Path(scratch)
        sandbox.set_latency(LATENCY)
        sandbox.set_rate_limit(RATE_LIMIT)
        account = sandbox.create_account(email="yaml-bench@example.com")
        organizations = [sandbox.create_organization(account.id, name=f"Org {i}") for i in range(orgs)]
        source = root / "yaml-fleet"
        source.mkdir()
        (source / "Pulumi.yaml").write_text(yaml.safe_dump(program(organizations), sort_keys=False))
        project = Workspace(root / "ws", extra_env={"PULUMI_SKIP_CHECKPOINTS": "true"}).project(source, config={
            "spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
            "stripeSecretKey": "sk_test_YamlBenchmark0000"}, secrets={"spaceinvoices:accessToken", "stripeSecretKey"})
        steps = {"preview": project.preview, "up": project.up, "noop_up": project.up, "refresh": project.refresh,
                 "destroy": project.destroy}
        for phase in PHASES:
            sandbox.clear_requests()
            started = time.monotonic()
            steps[phase](timeout=7200)
            wall = time.monotonic() - started
            served = sandbox.requests()
            refused = sum(1 for r in served if r.status == 429)
            bound = (len(served) - refused) / RATE_LIMIT
            say(f"yaml: {orgs} orgs {phase}: {wall:.1f} s, {len(served)} requests, {refused} refused (429), "
                f"bound {bound:.0f} s")
            report.add(
                Row(f"yaml.{orgs}.{phase}.wall_s", "yaml", f"YAML, native, {orgs} orgs: {phase}: wall", round(wall, 1), "s"),
                Row(f"yaml.{orgs}.{phase}.requests", "yaml", f"YAML, native, {orgs} orgs: {phase}: requests",
                    len(served), "calls"),
                Row(f"yaml.{orgs}.{phase}.refused", "yaml", f"YAML, native, {orgs} orgs: {phase}: 429s", refused, "calls"),
            )
            if bound:
                report.add(Row(f"yaml.{orgs}.{phase}.ratio", "yaml", f"YAML, native, {orgs} orgs: {phase}: wall / bound",
                               round(wall / bound, 2), "x"))
