"""What the benchmark sections share: a sandbox account with Connect enabled, a plain HTTP session,
the stack config a provider gets, and medians."""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.harness` imports under the same name in the provider process
    sys.path.insert(0, str(ROOT))

TOKEN_KEY = "spaceinvoices:accessToken"
URL_KEY = "spaceinvoices:apiUrl"

CONNECT_BODY = {
    "privateKey": "sk_test_BENCHMARKsecret0123456789",
    "publicKey": "pk_test_BENCHMARKpublic0123456789",
    "applicationFee": 1.5,
    "refreshUrl": "https://platform.example.com/onboarding/refresh",
    "returnUrl": "https://platform.example.com/onboarding/done",
}


def raw_session(token: str | None) -> requests.Session:
    """A plain requests session with the headers the client sends (the raw-HTTP baseline)."""
    session = requests.Session()
    session.headers.update({"Accept": "application/json"})
    if token is not None:
        session.headers["Authorization"] = token
    return session


def enable_connect(url: str, token: str, **changes: Any) -> dict[str, Any]:
    """Enable Stripe Connect on the token's account with plain HTTP (not counted by any figure)."""
    with raw_session(token) as http:
        response = http.post(url + "/v1/stripe-connect", json={**CONNECT_BODY, **changes}, timeout=10)
        response.raise_for_status()
        return response.json()


def create_org_account(url: str, token: str, org_id: str, *, active: bool = True) -> dict[str, Any]:
    """Create an organization's Connect account with plain HTTP (objects a stack then adopts)."""
    with raw_session(token) as http:
        path = f"/v1/organizations/{org_id}/stripe-connect/account"
        response = http.post(url + path, json={"active": active}, timeout=10)
        response.raise_for_status()
        return response.json()


def stack_config(url: str, token: str) -> dict[str, Any]:
    return {URL_KEY: url, TOKEN_KEY: token}


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def table_main(argv: list[str], section: str, result: Callable[..., Any], table: Callable[[list[Any]], str]) -> int:
    """`python -m benchmarks.SECTION --table RESULTS.json ...`: the section's markdown table from saved runs."""
    if len(argv) >= 2 and argv[0] == "--table":
        results = [result(**r) for path in argv[1:]
                   for r in json.loads(Path(path).read_text(encoding="utf-8"))["details"][section]["results"]]
        print(table(results))
        return 0
    print(f"usage: python -m benchmarks.{section} --table RESULTS.json [MORE.json ...]", file=sys.stderr)
    return 2
