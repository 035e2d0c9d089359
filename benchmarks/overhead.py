"""Provider overhead: a provider `read` against the same GET sent with a plain `requests.Session`.

Both go to the same sandbox (rate limit off, no latency), interleaved and alternating in order, many
times; the figure is the ratio of the medians. The target applies to `read()` called in-process:
the provider's own cost (settings, client, retry/pacing bookkeeping, pydantic parsing, building
outputs). The same read through the SDK's gRPC provider server (protobuf and the server's
thread hop included) is reported beside it without a target. Every call starts after the same 11 ms
pause, so provider calls are over 1/95 s apart and the client's pacer never waits: pacing is a
throughput matter, measured by `scale`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from ._common import TOKEN_KEY, URL_KEY, create_org_account, enable_connect, median, raw_session, stack_config
from .report import Report, Row

IDLE = 0.011  # before every call: > 1/95 s, so the client's pacer never makes a provider call wait


def _interleaved(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Time each call `rounds` times, rotating which goes first; every call starts after the same
    idle pause, so none is favoured by a warmer server or CPU."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            time.sleep(IDLE)
            started = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - started)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    deciles = statistics.quantiles(times, n=10)
    return {"median_ms": round(median(times) * 1000, 3), "p10_ms": round(deciles[0] * 1000, 3),
            "p90_ms": round(deciles[-1] * 1000, 3), "n": len(times)}


def run(report: Report, *, reads: int) -> None:
    import pulumi
    from pulumi.dynamic import ConfigureRequest
    from pulumi.dynamic.config import Config
    from pulumi.dynamic.dynamic import serialize_provider

    from pulumi_spaceinvoices import core
    from pulumi_spaceinvoices.organization_connect_account import OrganizationConnectAccountProvider
    from pulumi_spaceinvoices.sandbox import run_sandbox
    from tests.harness import ProviderServer, Secret

    with run_sandbox(rate_limit=None) as sandbox:
        account = sandbox.create_account(email="bench-overhead@example.com")
        enable_connect(sandbox.url, account.token)
        org_id = sandbox.create_organization(account.id, "Overhead")
        create_org_account(sandbox.url, account.token, org_id)
        path = f"/v1/organizations/{org_id}/stripe-connect/account"

        # The provider in this process, configured as the provider server configures it.
        pulumi.runtime.configure(pulumi.runtime.Settings(project="benchmarks", stack="overhead"))
        config = Config({TOKEN_KEY: account.token, URL_KEY: sandbox.url}, "benchmarks")
        core.SpaceInvoicesProvider().configure(ConfigureRequest(config))
        provider = OrganizationConnectAccountProvider()
        outs = provider.read(org_id, {"organization_id": org_id}).outs

        plain, strict = raw_session(account.token), raw_session(account.token)
        strict.trust_env = False  # as the client's session: no proxy-environment or .netrc lookups
        url = sandbox.url + path

        def raw(session: Any) -> Callable[[], Any]:
            def get() -> Any:
                response = session.get(url, timeout=(5, 30))
                response.raise_for_status()
                return response.json()
            return get

        calls = {"raw": raw(plain), "raw_strict": raw(strict), "provider": lambda: provider.read(org_id, outs)}
        _interleaved(calls, max(20, reads // 10))  # warm-up: connections, pydantic schemas
        times = _interleaved(calls, reads)

        urn = "urn:pulumi:overhead::benchmarks::pulumi-python:dynamic/spaceinvoices:OrganizationConnectAccount::o"
        state = {"__provider": serialize_provider(provider), **outs}
        with ProviderServer(project="benchmarks", stack="overhead") as server:
            server.configure({**stack_config(sandbox.url, account.token), TOKEN_KEY: Secret(account.token)})
            through = {"raw": calls["raw"], "grpc": lambda: server.read(
                urn, org_id, state, {"organization_id": org_id, "active": True})}
            grpc_reads = max(20, reads // 2)
            _interleaved(through, max(20, grpc_reads // 10))
            grpc = _interleaved(through, grpc_reads)
        plain.close()
        strict.close()

    requests_served = len(sandbox.requests())
    stats = {"raw": _summary(times["raw"]), "raw_trust_env_off": _summary(times["raw_strict"]),
             "provider_read": _summary(times["provider"]), "raw_during_grpc": _summary(grpc["raw"]),
             "grpc_read": _summary(grpc["grpc"]), "requests_served": requests_served}
    report.extra["overhead"] = stats
    raw_ms, strict_ms = stats["raw"]["median_ms"], stats["raw_trust_env_off"]["median_ms"]
    provider_ms, grpc_ms = stats["provider_read"]["median_ms"], stats["grpc_read"]["median_ms"]
    report.add(
        Row("overhead.raw_ms", "overhead", "raw GET with a plain requests.Session, median", raw_ms, "ms",
            detail=f"{reads} interleaved rounds, same sandbox, rate limit off, {IDLE * 1000:.0f} ms idle before each"),
        Row("overhead.provider_ms", "overhead", "provider read() in-process, median", provider_ms, "ms",
            detail="OrganizationConnectAccountProvider.read: client, pacing, pydantic, outputs"),
        Row("overhead.provider_ratio", "overhead", "provider read() in-process vs raw GET", round(provider_ms / raw_ms, 3),
            "x", 1.15, detail=f"{provider_ms:.3f} ms vs {raw_ms:.3f} ms"),
        Row("overhead.provider_ratio_strict", "overhead", "provider read() vs raw GET with trust_env=False",
            round(provider_ms / strict_ms, 3), "x", 1.15,
            detail=f"{provider_ms:.3f} ms vs {strict_ms:.3f} ms: a raw session that skips proxy/.netrc lookups too"),
        Row("overhead.grpc_ratio", "overhead", "provider Read through the gRPC provider server vs raw GET",
            round(grpc_ms / stats["raw_during_grpc"]["median_ms"], 3), "x",
            detail=f"{grpc_ms:.3f} ms vs {stats['raw_during_grpc']['median_ms']:.3f} ms (informational: adds protobuf, "
                   "unpickling __provider and the server's thread hop)"),
    )
