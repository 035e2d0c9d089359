"""Scale: organizations created, refreshed, updated and deleted through the real provider server.

The sandbox runs with added latency and its 100 requests/s limit. Each phase is a deployment: a
fresh `python -m pulumi.dynamic` process (the provider remembers per process what it created, as
under `pulumi`), `Configure` first, then one engine step per organization fired from a thread pool
(the engine sends up to `--parallel` steps at once; the server works on 4 at a time):

    create   Check + Create       refresh  Read
    update   Check + Diff + Update  delete   Delete

The bound for a phase that sends R requests is the slower of two limits:
    rate limit   R / 100 s                 (the API accepts 100 requests per second)
    4 threads    R * (latency + service) / 4  (each request holds one of the server's 4 threads)
where `service` is the sandbox's own median round trip without added latency. The figure is the
measured wall time (first step sent to last answer; process start-up reported apart) over that bound.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._common import TOKEN_KEY, enable_connect, median, raw_session, stack_config
from .report import Report, Row

RATE_LIMIT = 100
SERVER_THREADS = 4
CLIENT_THREADS = 32  # steps in flight at once: enough to keep the server's 4 threads busy
TYPE = "pulumi-python:dynamic/spaceinvoices:OrganizationConnectAccount"


class Phase:
    """One deployment step kind over every organization, against a fresh provider server."""

    def __init__(self, name: str, sandbox: Any, config: dict[str, Any]) -> None:
        self.name = name
        self.sandbox = sandbox
        self.config = config
        self.errors: list[str] = []
        self.wall = 0.0
        self.startup = 0.0
        self.peak_rss_mb = 0.0
        self.records: list[Any] = []

    def run(self, items: list[Any], step: Callable[[Any, Any], Any]) -> list[Any]:
        from tests.harness import ProviderError, ProviderServer, Secret

        self.sandbox.clear_requests()
        started = time.monotonic()
        server = ProviderServer(project="benchmarks", stack="scale")
        try:
            server.configure({**self.config, TOKEN_KEY: Secret(self.config[TOKEN_KEY])})
            self.startup = time.monotonic() - started

            def safe(item: Any) -> Any:
                try:
                    return step(server, item)
                except ProviderError as error:
                    self.errors.append(error.summary or error.details)
                    return None

            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
                results = list(pool.map(safe, items))
            self.wall = time.monotonic() - started
        finally:
            server.close()
            self.peak_rss_mb = server.peak_rss_mb()
        self.records = self.sandbox.requests()
        return results

    @property
    def requests(self) -> int:
        """Requests the sandbox served, refused ones (429) included."""
        return len(self.records)

    @property
    def throttled(self) -> int:
        return sum(1 for r in self.records if r.status == 429)

    @property
    def surfaced_429s(self) -> int:
        return sum(1 for e in self.errors if "429" in e or "RateLimit" in e)


def _service_time(url: str, token: str, samples: int = 40) -> float:
    """The sandbox's median round trip for one GET without added latency (paced under the limit)."""
    times = []
    with raw_session(token) as http:
        for _ in range(samples):
            started = time.perf_counter()
            http.get(url + "/v1/stripe-connect", timeout=10).raise_for_status()
            times.append(time.perf_counter() - started)
            time.sleep(0.011)
    return median(times[5:])


def run(report: Report, *, orgs: int, quick: bool, latency: float = 0.020) -> None:
    from pulumi.dynamic.dynamic import serialize_provider

    from pulumi_spaceinvoices.organization_connect_account import OrganizationConnectAccountProvider
    from pulumi_spaceinvoices.sandbox import run_sandbox

    provider = serialize_provider(OrganizationConnectAccountProvider())
    with run_sandbox(rate_limit=RATE_LIMIT) as sandbox:
        account = sandbox.create_account(email="bench-scale@example.com")
        enable_connect(sandbox.url, account.token)
        org_ids = [sandbox.create_organization(account.id, f"Scale {i}") for i in range(orgs)]
        service = _service_time(sandbox.url, account.token)
        sandbox.set_latency(latency)
        config = stack_config(sandbox.url, account.token)
        state: dict[str, dict[str, Any]] = {}

        def urn(org_id: str) -> str:
            return f"urn:pulumi:scale::benchmarks::{TYPE}::org-{org_id}"

        def create(server: Any, org_id: str) -> None:
            news = {"__provider": provider, "organization_id": org_id, "active": True}
            inputs, failures = server.check(urn(org_id), {}, news)
            if failures:
                raise RuntimeError(f"check failed: {failures}")
            id_, outs = server.create(urn(org_id), inputs)
            state[org_id] = {"id": id_, "inputs": inputs, "outputs": outs}

        def refresh(server: Any, org_id: str) -> None:
            entry = state[org_id]
            id_, outs, inputs = server.read(urn(org_id), entry["id"], entry["outputs"], entry["inputs"])
            if id_ != entry["id"]:
                raise RuntimeError(f"refresh lost {org_id}")
            entry.update(outputs=outs, inputs=inputs or entry["inputs"])

        def update(server: Any, org_id: str) -> None:
            entry = state[org_id]
            news = {**entry["inputs"], "active": False}
            inputs, _ = server.check(urn(org_id), entry["inputs"], news)
            diff = server.diff(urn(org_id), entry["id"], entry["outputs"], inputs, old_inputs=entry["inputs"])
            if diff.changes and not diff.replaces:
                outs = server.update(urn(org_id), entry["id"], entry["outputs"], inputs, old_inputs=entry["inputs"])
                entry.update(outputs=outs, inputs=inputs)

        def delete(server: Any, org_id: str) -> None:
            entry = state[org_id]
            server.delete(urn(org_id), entry["id"], entry["outputs"], old_inputs=entry["inputs"])

        phases = []
        for name, step in (("create", create), ("refresh", refresh), ("update", update), ("delete", delete)):
            phase = Phase(name, sandbox, config)
            phase.run(org_ids, step)
            phases.append(phase)
        accounts = [sandbox.store.org_account(org_id) for org_id in org_ids]

    per_request = latency + service
    details: dict[str, Any] = {"orgs": orgs, "latency_s": latency, "service_s": round(service, 5),
                               "client_threads": CLIENT_THREADS, "phases": {}}
    total_wall = total_bound = 0.0
    for phase in phases:
        accepted = phase.requests - phase.throttled
        rate_bound = accepted / RATE_LIMIT
        thread_bound = accepted * per_request / SERVER_THREADS
        bound = max(rate_bound, thread_bound)
        total_wall += phase.wall
        total_bound += bound
        details["phases"][phase.name] = {
            "wall_s": round(phase.wall, 2), "startup_s": round(phase.startup, 2), "requests": phase.requests,
            "throttled_429": phase.throttled, "errors": len(phase.errors), "surfaced_429s": phase.surfaced_429s,
            "rate_bound_s": round(rate_bound, 2), "thread_bound_s": round(thread_bound, 2),
            "ratio": round(phase.wall / bound, 3) if bound else None, "peak_rss_mb": round(phase.peak_rss_mb, 1),
            "by_operation": dict(Counter(f"{r.method} {r.operation}" for r in phase.records)),
            "first_errors": phase.errors[:3],
        }
        report.add(Row(f"scale.{phase.name}.calls_per_org", "scale", f"{phase.name}: API calls per organization",
                       _per(phase.requests, orgs), "calls", {"create": 2, "refresh": 1}.get(phase.name, 2),
                       "==" if phase.name == "refresh" else "<=",
                       detail=", ".join(k if v == orgs else f"{k} x{_per(v, orgs)}" for k, v in details["phases"][phase.name]
                                        ["by_operation"].items()),
                       deterministic=True))
        if not quick:
            report.add(Row(f"scale.{phase.name}.ratio", "scale", f"{phase.name}: wall time vs bound",
                           round(phase.wall / bound, 3), "x", 1.25,
                           detail=f"{phase.wall:.1f} s vs {bound:.1f} s (rate {rate_bound:.1f} s, "
                                  f"4 threads {thread_bound:.1f} s); start-up {phase.startup:.2f} s"))
    failures = sum(len(p.errors) for p in phases)
    surfaced = sum(p.surfaced_429s for p in phases)
    throttled = sum(p.throttled for p in phases)
    wrong = sum(1 for a in accounts if a is None or a["active"] is not False)
    details.update(total_wall_s=round(total_wall, 2), total_bound_s=round(total_bound, 2), final_state_wrong=wrong)
    report.extra["scale"] = details
    label = f"{orgs} orgs, {latency * 1000:.0f} ms latency, {RATE_LIMIT}/s limit"
    report.add(
        Row("scale.wall_s", "scale", f"all phases: wall time ({label})", round(total_wall, 1), "s",
            detail="create + refresh + update + delete, process start-ups excluded"),
        Row("scale.bound_s", "scale", "all phases: bound (rate limit, 4 threads)", round(total_bound, 1), "s",
            detail=f"per phase max(R/{RATE_LIMIT}, R x ({latency * 1000:.0f} + {service * 1000:.1f}) ms / "
                   f"{SERVER_THREADS}); R = requests accepted"),
        Row("scale.ratio", "scale", "all phases: wall time vs bound", round(total_wall / total_bound, 3), "x",
            None if quick else 1.25, detail="not a target in quick mode (start-up ramps dominate small runs)"
            if quick else ""),
        Row("scale.failures", "scale", "failed steps", failures, "", 0, "==",
            detail=f"plus {wrong} organizations not in the final state (inactive)"),
        Row("scale.surfaced_429s", "scale", "429s surfaced as errors", surfaced, "", 0, "==",
            detail=f"{throttled} requests answered 429 in all (retried by the client)"),
        Row("scale.peak_rss_mb", "scale", "provider process peak memory", round(max(p.peak_rss_mb for p in phases), 1),
            "MB", 150, detail="VmHWM of the largest of the four provider processes"),
    )


def _per(count: int, orgs: int) -> float | int:
    value = count / orgs
    return int(value) if value.is_integer() else round(value, 3)
