"""`spaceinvoices-fleet links` and `status` (issue 21, "Fleets") under the real CLI against the sandbox:
the onboarding funnel and the entry URLs come from the shards' states with no API call; `status
--refresh` reads each account once and then shows onboarding finished in the sandbox; no URL or key
is printed anywhere but the links' own output. The fleet config's onboardingUrl sets the Connect
config's refresh and return URLs.
"""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from pulumi_spaceinvoices.fleet.layout import shard_of
from pulumi_spaceinvoices.onboarding_entry import EntrySigner
from tests.support import api_calls
from tests.test_fleet import fleet  # noqa: F401 - the fixture

pytestmark = pytest.mark.engine

SIGNING_KEY = "fleet-onboarding-signing-key-0123456789abcdef"
BASE = "https://onboard.platform.example.com"


def entry_orgs(text: str) -> dict[str, str]:
    return {row["organization"]: row["url"] for row in csv.DictReader(io.StringIO(text))}


def test_status_and_links_read_the_states_and_refresh_sees_onboarding_finished(fleet, sandbox, account):  # noqa: F811
    config = Path(fleet.path.parent, "fleet.yaml")
    config.write_text(config.read_text() + f"onboardingUrl: {BASE}/\n")
    orgs: list[str] = []
    while len({shard_of(o, 2) for o in orgs}) < 2 or len(orgs) < 4:
        orgs.append(sandbox.create_organization(account.id, name=f"Org {len(orgs)}"))
    inactive, active = orgs[-1], orgs[:-1]  # at least 4 organizations, in both shards
    n = len(orgs)
    listing = [{"id": o, "name": f"Org {i}", "active": o != inactive} for i, o in enumerate(orgs)]
    fleet("up", listing, "--shards", "2")
    connect = sandbox.store.connect_config(account.id)
    assert (connect["refresh_url"], connect["return_url"]) == (f"{BASE}/refresh", f"{BASE}/return")

    sandbox.clear_requests()
    shown = fleet("status", listing)
    total = json.loads(fleet.path.read_text())["stacks"]["total"]
    assert total == {"accounts": n, "complete": 0, "pending": n - 1, "inactive": 1, "listed_not_in_state": 0}, shown.stdout
    assert "total" in shown.stdout and "shard-00" in shown.stdout

    fleet.env["SPACEINVOICES_ONBOARDING_SIGNING_KEY"] = SIGNING_KEY
    links = fleet("links", listing)
    urls = entry_orgs(links.stdout[:links.stdout.rindex("spaceinvoices-fleet:")])
    assert sorted(urls) == sorted(active), "active accounts whose onboarding is not complete"
    assert api_calls(sandbox) == {}, "status and links call nothing"
    for org, url in urls.items():
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == BASE and parts.path == f"/o/{org}"
        assert EntrySigner(SIGNING_KEY).verify(org, None, parse_qs(parts.query)["sig"][0])

    done = orgs[:2]
    for org in done:  # onboarding finished at Stripe: the account's chargesEnabled turns true
        sandbox.store.set_charges_enabled(org, True)
    fleet("status", listing)
    assert json.loads(fleet.path.read_text())["stacks"]["total"]["complete"] == 0, "plain status shows the state"
    fleet("status", listing, "--refresh")
    summary = json.loads(fleet.path.read_text())
    assert summary["refreshed"] and summary["stacks"]["total"] == {
        "accounts": n, "complete": 2, "pending": n - 3, "inactive": 1, "listed_not_in_state": 0}
    assert api_calls(sandbox) == {"get_account": n}, "a refresh: one GET an account"

    sandbox.clear_requests()
    out = fleet.path.parent / "links.json"
    written = fleet("links", listing, "--output", str(out), "--output-format", "json")
    assert sorted(r["organization"] for r in json.loads(out.read_text())) == sorted(active[2:]), "finished ones left out"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    everyone = fleet("links", listing, "--all", "--output", str(out))
    assert sorted(entry_orgs(out.read_text())) == sorted(active) and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert api_calls(sandbox) == {}
    for result in (shown, written, everyone):
        assert "sig=" not in result.stdout and SIGNING_KEY not in result.stdout
    assert SIGNING_KEY not in links.stdout

    del fleet.env["SPACEINVOICES_ONBOARDING_SIGNING_KEY"]
    refused = fleet("links", listing, check=2)
    assert "export SPACEINVOICES_ONBOARDING_SIGNING_KEY" in refused.stdout
