"""The onboarding endpoint's own cost (docs/onboarding.md): `spaceinvoices-onboarding serve` as users
run it (one uvicorn process), in front of the sandbox.

- Entry pages: `connections` keep-alive clients in one asyncio process GET signed entry URLs of
  `orgs` organizations for `seconds`; pages served per second, and the endpoint's own time per
  request from its `Server-Timing` header (`app`: its time beyond the API, which is none here), p50
  and p99. Targets: at least 1,000 pages/s on 2 cores, p99 at most 5 ms.
- Minting: the button's POST for `mints` organizations, one at a time; the endpoint's own time
  beyond its two API calls (p50, p99), and the API's time (informational).

    python -m benchmarks --only onboarding
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from .report import Report, Row

KEY = "benchmark-onboarding-signing-key-0123456789abcdef"
TIMING = re.compile(rb"server-timing: app;dur=([0-9.]+), api;dur=([0-9.]+)", re.I)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _client(host: str, port: int, paths: list[bytes], until: float, seen: list[tuple[float, float]]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    served = index = 0
    while time.monotonic() < until:
        writer.write(b"GET " + paths[index % len(paths)] + b" HTTP/1.1\r\nHost: bench\r\n\r\n")
        index += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
        await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"an entry page answered {head.split(b' ', 2)[1].decode()}")
        timing = TIMING.search(head)
        seen.append((float(timing.group(1)), float(timing.group(2))))
        served += 1
    writer.close()
    return served


async def _load(url: str, paths: list[bytes], seconds: float, connections: int) -> tuple[float, list[tuple[float, float]]]:
    parts = urlsplit(url)
    seen: list[tuple[float, float]] = []
    started = time.monotonic()
    counts = await asyncio.gather(*[_client(parts.hostname, parts.port, paths, started + seconds, seen)
                                    for _ in range(connections)])
    return sum(counts) / (time.monotonic() - started), seen


def run(report: Report, *, orgs: int = 1000, seconds: float = 10.0, connections: int = 16, mints: int = 100,
        say: Any = print) -> None:
    from pulumi_spaceinvoices.onboarding_entry import entry_url
    from pulumi_spaceinvoices.sandbox import run_sandbox
    from tests.support import OnboardingProcess

    with run_sandbox(rate_limit=None) as sandbox:  # setup at full speed; the endpoint paces itself at 90/s
        account = sandbox.create_account()
        org_ids = [sandbox.create_organization(account.id, f"Org {n}") for n in range(max(orgs, mints))]
        with requests.Session() as api:
            api.headers["Authorization"] = account.token
            endpoint = OnboardingProcess(sandbox, account.token, signing_key=KEY,
                                         args=("--no-check", "--requests-per-second", "90", "--link-interval", "1"))
            api.post(f"{sandbox.url}/v1/stripe-connect", json={
                "privateKey": "sk_test_" + "b" * 24, "publicKey": "pk_test_" + "b" * 24, "applicationFee": 1,
                "refreshUrl": f"{endpoint.url}/refresh", "returnUrl": f"{endpoint.url}/return"}, timeout=10).raise_for_status()
            for org_id in org_ids[:mints]:
                api.post(f"{sandbox.url}/v1/organizations/{org_id}/stripe-connect/account", json={},
                         timeout=10).raise_for_status()
        paths = [entry_url("", org_id, KEY).encode() for org_id in org_ids[:orgs]]
        with endpoint:
            asyncio.run(_load(endpoint.url, paths[:50], 2.0, connections))  # warm-up
            rate, seen = asyncio.run(_load(endpoint.url, paths, seconds, connections))
            own = [app for app, _ in seen]
            say(f"  onboarding entry pages: {rate:,.0f}/s over {len(seen):,} requests; own time p50 "
                f"{percentile(own, 0.5):.3f} ms, p99 {percentile(own, 0.99):.3f} ms")
            mint_own, mint_api = _mint(endpoint.url, org_ids[:mints], KEY)
            say(f"  onboarding mints: own time p50 {percentile(mint_own, 0.5):.3f} ms, p99 "
                f"{percentile(mint_own, 0.99):.3f} ms; API p50 {statistics.median(mint_api):.1f} ms")
    report.add(
        Row("onboarding.entry_pages_per_s", "onboarding", "entry pages served per second (one process)", round(rate),
            "/s", 1000, ">=", detail=f"{connections} keep-alive connections, {seconds:g} s, {len(seen):,} pages, "
                                     f"{sys.platform}"),
        Row("onboarding.entry_own_p50_ms", "onboarding", "entry page: the endpoint's own time, p50",
            round(percentile(own, 0.5), 3), "ms"),
        Row("onboarding.entry_own_p99_ms", "onboarding", "entry page: the endpoint's own time, p99",
            round(percentile(own, 0.99), 3), "ms", 5.0),
        Row("onboarding.mint_own_p50_ms", "onboarding", "the button (mint): own time beyond the API, p50",
            round(percentile(mint_own, 0.5), 3), "ms"),
        Row("onboarding.mint_own_p99_ms", "onboarding", "the button (mint): own time beyond the API, p99",
            round(percentile(mint_own, 0.99), 3), "ms", 5.0,
            detail=f"{len(mint_own)} mints; API time p50 {statistics.median(mint_api):.1f} ms (2 calls)"),
    )


def _mint(base: str, org_ids: list[str], key: str) -> tuple[list[float], list[float]]:
    """The button pressed once per organization, as a browser does (page first, then its form)."""
    from pulumi_spaceinvoices.onboarding_entry import entry_url

    own: list[float] = []
    api: list[float] = []
    origin = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"
    for org_id in org_ids:
        with requests.Session() as browser:
            url = entry_url(base, org_id, key)
            page = browser.get(url, timeout=10)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            answer = browser.post(url, data={"csrf": csrf}, headers={"Origin": origin}, allow_redirects=False,
                                  timeout=30)
            if answer.status_code != 303:
                raise RuntimeError(f"the button answered {answer.status_code}")
            app, spent = (float(v) for v in TIMING.search(
                f"server-timing: {answer.headers['Server-Timing']}".encode()).groups())
            own.append(app)
            api.append(spent)
    return own, api

