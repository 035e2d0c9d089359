"""API calls per operation, per resource type and per function, from the sandbox's request log;
and the state each resource stores (`__provider` length, checkpoint bytes).

Every stack runs through `tests.harness.Engine` (the SDK's real dynamic-provider server, a fresh
one per operation, as `pulumi` starts one per deployment). The counts do not depend on the
machine: the quick test asserts them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pulumi

from ._common import create_org_account, enable_connect, stack_config
from .report import Report, Row

CONFIG = "StripeConnectConfig"
ACCOUNT = "OrganizationConnectAccount"
ACCOUNTS_PER_STACK = 3


def connect_program(settings: dict[str, Any]) -> Callable[[], None]:
    def program() -> None:
        from pulumi_spaceinvoices import StripeConnectConfig

        StripeConnectConfig(
            "connect",
            private_key="sk_test_BENCHMARKsecret0123456789",
            public_key="pk_test_BENCHMARKpublic0123456789",
            application_fee=settings["fee"],
            refresh_url="https://platform.example.com/onboarding/refresh",
            return_url="https://platform.example.com/onboarding/done",
            connect_webhook_secret="whsec_BENCHMARKwebhook0123456789",
        )

    return program


def accounts_program(org_ids: list[str], settings: dict[str, Any]) -> Callable[[], None]:
    def program() -> None:
        from pulumi_spaceinvoices import OrganizationConnectAccount

        for i, org_id in enumerate(org_ids):
            OrganizationConnectAccount(f"org-{i}", organization_id=org_id, active=settings["active"])

    return program


class Counting:
    """Runs operations against one sandbox and turns its request log into rows."""

    def __init__(self, sandbox: Any, report: Report) -> None:
        self.sandbox = sandbox
        self.report = report
        self.details: dict[str, Any] = report.extra.setdefault("calls", {})

    def engine(self, program: Callable[[], None], token: str, stack: str) -> Any:
        from tests.harness import Engine

        config = stack_config(self.sandbox.url, token)
        # The CLI's language host also hands the program its config in PULUMI_CONFIG; the functions
        # read it from a worker thread, where the harness's context-local config is not visible.
        return Engine(program, project="benchmarks", stack=stack, config=config,
                      secret_config={"spaceinvoices:accessToken"}, env={"PULUMI_CONFIG": json.dumps(config)})

    def measure(self, key: str, label: str, action: Callable[[], Any], *, resources: int, limit: float,
                op: str = "<=", mutating_only: bool = False, check: Callable[[Any], bool] | None = None) -> Row:
        """Run `action`, count the requests it caused, and add one row (calls per resource)."""
        self.sandbox.clear_requests()
        result = action()
        if check is not None and not check(result):
            raise RuntimeError(f"{key}: the operation did not do what the benchmark expects: {result!r}")
        records = self.sandbox.requests()
        by_operation = Counter(f"{r.method} {r.operation}" for r in records)
        mutating = sum(1 for r in records if r.method != "GET")
        total = len(records)
        counted = mutating if mutating_only else total
        per_resource = _per(counted, resources)
        detail = ", ".join(f"{name}" if count == resources else f"{name} x{_per(count, resources)}"
                           for name, count in by_operation.items()) or "no calls"
        if mutating_only:
            detail = f"{_per(total, resources)} calls in all" + (f": {detail}" if total else "")
        self.details[key] = {
            "resources": resources, "calls": total, "mutating": mutating, "per_resource": per_resource,
            "by_operation": dict(by_operation), "statuses": dict(Counter(r.status for r in records)),
        }
        row = Row(key, "calls", label, per_resource, "calls", limit, op, detail, deterministic=True)
        self.report.add(row)
        return row


def run(report: Report, sandbox: Any) -> None:
    counting = Counting(sandbox, report)
    _connect_config(counting, sandbox, report)
    _org_accounts(counting, sandbox, report)
    _functions(counting, sandbox)


def _connect_config(c: Counting, sandbox: Any, report: Report) -> None:
    account = sandbox.create_account(email="bench-config@example.com")
    settings = {"fee": 1.5}
    eng = c.engine(connect_program(settings), account.token, "config")
    prefix = f"calls.{CONFIG}"
    c.measure(f"{prefix}.preview_create", f"{CONFIG}: preview (create pending), mutating", eng.preview,
              resources=1, limit=0, op="==", mutating_only=True, check=lambda r: r.creates == ["connect"])
    c.measure(f"{prefix}.create", f"{CONFIG}: create (new)", eng.up, resources=1, limit=2,
              check=lambda r: r.creates == ["connect"])
    _state_rows(report, eng, CONFIG, "connect")
    c.measure(f"{prefix}.up_noop", f"{CONFIG}: up with nothing changed", eng.up, resources=1, limit=0, op="==",
              check=lambda r: r.sames == ["connect"])
    settings["fee"] = 3.0
    c.measure(f"{prefix}.preview_update", f"{CONFIG}: preview (update pending), mutating", eng.preview,
              resources=1, limit=0, op="==", mutating_only=True, check=lambda r: r.updates == ["connect"])
    c.measure(f"{prefix}.refresh", f"{CONFIG}: refresh", eng.refresh, resources=1, limit=1, op="==",
              check=lambda r: r.ok)
    c.measure(f"{prefix}.update", f"{CONFIG}: update", eng.up, resources=1, limit=2,
              check=lambda r: r.updates == ["connect"])
    c.measure(f"{prefix}.delete", f"{CONFIG}: delete (deactivate)", eng.destroy, resources=1, limit=2,
              check=lambda r: r.deletes == ["connect"])

    # Adoption: Connect already enabled (with other settings) before the stack's first `up`.
    other = sandbox.create_account(email="bench-config-adopt@example.com")
    enable_connect(sandbox.url, other.token, applicationFee=7.0)
    adopt = c.engine(connect_program({"fee": 1.5}), other.token, "config-adopt")
    c.measure(f"{prefix}.create_adopting", f"{CONFIG}: create (adopting)", adopt.up, resources=1, limit=3,
              check=lambda r: r.creates == ["connect"])


def _org_accounts(c: Counting, sandbox: Any, report: Report) -> None:
    n = ACCOUNTS_PER_STACK
    account = sandbox.create_account(email="bench-accounts@example.com")
    enable_connect(sandbox.url, account.token)
    orgs = [sandbox.create_organization(account.id, f"Org {i}") for i in range(n)]
    settings = {"active": True}
    eng = c.engine(accounts_program(orgs, settings), account.token, "accounts")
    prefix = f"calls.{ACCOUNT}"

    def all_(kind: str) -> Callable[[Any], bool]:
        return lambda r: len(getattr(r, kind)) == n and r.ok

    c.measure(f"{prefix}.preview_create", f"{ACCOUNT}: preview (create pending), mutating", eng.preview,
              resources=n, limit=0, op="==", mutating_only=True, check=all_("creates"))
    c.measure(f"{prefix}.create", f"{ACCOUNT}: create (new)", eng.up, resources=n, limit=2, check=all_("creates"))
    _state_rows(report, eng, ACCOUNT, "org-0")
    c.measure(f"{prefix}.up_noop", f"{ACCOUNT}: up with nothing changed", eng.up, resources=n, limit=0, op="==",
              check=all_("sames"))
    settings["active"] = False
    c.measure(f"{prefix}.preview_update", f"{ACCOUNT}: preview (update pending), mutating", eng.preview,
              resources=n, limit=0, op="==", mutating_only=True, check=all_("updates"))
    c.measure(f"{prefix}.refresh", f"{ACCOUNT}: refresh", eng.refresh, resources=n, limit=1, op="==",
              check=lambda r: r.ok and len(r.sames) == n)
    c.measure(f"{prefix}.update", f"{ACCOUNT}: update", eng.up, resources=n, limit=2, check=all_("updates"))
    c.measure(f"{prefix}.delete", f"{ACCOUNT}: delete (deactivate)", eng.destroy, resources=n, limit=2,
              check=all_("deletes"))

    # Adoption, worst case: every account exists but is inactive, so each is read, patched, read again.
    other = sandbox.create_account(email="bench-accounts-adopt@example.com")
    enable_connect(sandbox.url, other.token)
    inactive = [sandbox.create_organization(other.id, f"Inactive {i}") for i in range(n)]
    as_declared = [sandbox.create_organization(other.id, f"Active {i}") for i in range(n)]
    for org_id in inactive:
        create_org_account(sandbox.url, other.token, org_id, active=False)
    for org_id in as_declared:
        create_org_account(sandbox.url, other.token, org_id, active=True)
    adopt = c.engine(accounts_program(inactive, {"active": True}), other.token, "accounts-adopt")
    c.measure(f"{prefix}.create_adopting", f"{ACCOUNT}: create (adopting, must change)", adopt.up, resources=n,
              limit=3, check=all_("creates"))
    same = c.engine(accounts_program(as_declared, {"active": True}), other.token, "accounts-adopt-same")
    c.measure(f"{prefix}.create_adopting_same", f"{ACCOUNT}: create (adopting, as declared)", same.up,
              resources=n, limit=3, check=all_("creates"))


def _functions(c: Counting, sandbox: Any) -> None:
    from pulumi_spaceinvoices import (
        get_onboarding_link,
        get_onboarding_link_output,
        get_payment_intent,
        get_payment_intent_output,
    )

    account = sandbox.create_account(email="bench-functions@example.com")
    enable_connect(sandbox.url, account.token)
    pending = sandbox.create_organization(account.id, "Pending")
    complete = sandbox.create_organization(account.id, "Complete")
    for org_id in (pending, complete):
        create_org_account(sandbox.url, account.token, org_id)
    sandbox.store.set_charges_enabled(complete, True)
    invoice = sandbox.create_invoice(complete, amount=1250.0, currency="EUR")
    url, token = sandbox.url, account.token
    prefix = "calls.function"

    c.measure(f"{prefix}.get_onboarding_link", "get_onboarding_link (onboarding pending)",
              lambda: get_onboarding_link(pending, access_token=token, api_url=url), resources=1, limit=2,
              check=lambda r: r.url is not None)
    c.measure(f"{prefix}.get_onboarding_link_complete", "get_onboarding_link (onboarding complete)",
              lambda: get_onboarding_link(complete, access_token=token, api_url=url), resources=1, limit=1,
              check=lambda r: r.onboarding_complete)
    c.measure(f"{prefix}.get_payment_intent", "get_payment_intent",
              lambda: get_payment_intent(invoice.shareable_id, api_url=url), resources=1, limit=1,
              check=lambda r: bool(r.client_secret))

    def link_program() -> None:
        link = get_onboarding_link_output(pending)
        pulumi.export("url", link.url)

    def intent_program() -> None:
        intent = get_payment_intent_output(invoice.shareable_id)
        pulumi.export("payment_intent_id", intent.payment_intent_id)

    for name, program, limit in (("get_onboarding_link_output", link_program, 2),
                                 ("get_payment_intent_output", intent_program, 1)):
        eng = c.engine(program, token, f"function-{name}")
        c.measure(f"{prefix}.{name}.preview", f"{name}: preview", eng.preview, resources=1, limit=0, op="==",
                  check=lambda r: r.ok)
        c.measure(f"{prefix}.{name}.up", f"{name}: up", eng.up, resources=1, limit=limit,
                  check=lambda r: r.ok and r.outputs)


def _state_rows(report: Report, eng: Any, type_name: str, resource_name: str) -> None:
    """`__provider` length and the bytes one resource takes in the checkpoint."""
    entry = eng.by_name(resource_name)
    provider = entry.provider_str or ""
    doc = next(r for r in json.loads(eng.state_json())["checkpoint"]["latest"]["resources"] if r["urn"] == entry.urn)
    doc.pop("harness:seq", None)
    compact = len(json.dumps(doc, separators=(",", ":")).encode())
    indented = len(json.dumps(doc, indent=4).encode())
    report.extra.setdefault("state", {})[type_name] = {
        "provider_chars": len(provider), "bytes_compact": compact, "bytes_indented": indented,
        "provider": provider,
    }
    report.add(
        Row(f"state.{type_name}.provider_chars", "state", f"{type_name}: __provider length", len(provider),
            "chars", 200, "<", "stored in inputs and outputs", deterministic=True),
        Row(f"state.{type_name}.bytes", "state", f"{type_name}: stored bytes per resource", compact, "bytes",
            detail=f"checkpoint entry as compact JSON ({indented} indented), secrets encrypted"),
    )


def _per(count: int, resources: int) -> float | int:
    value = count / resources
    return int(value) if value.is_integer() else round(value, 2)
