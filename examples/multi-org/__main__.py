"""Multi-org: Stripe Connect for the account, and one Connect account per listed organization.

The list (resource name -> organization id, or -> {id, active}) comes from the stack config object
`organizations` when set, else from a YAML file (`organizationsFile`, default organizations.yaml
beside this program). Adding a name creates just that account; removing one deactivates just that
one. Other stack config: as in the quickstart (`stripeSecretKey`, `stripePublishableKey`,
`applicationFee`, `returnUrl`, `refreshUrl`, `spaceinvoices:accessToken`, `spaceinvoices:apiUrl`,
`spaceinvoices:onboardingUrl`, `spaceinvoices:onboardingSigningKey`), plus `onboardingLinks`
(default false; true also makes Stripe's raw links, one API call per active organization per up).

Outputs: `charges_enabled` (name -> bool, as of the last up or refresh) and `entry_urls` (a secret;
name -> the signed entry URL of each active organization's onboarding page on the endpoint, made
with no API call, the same on every up). With `onboardingLinks: true` also `onboarding_urls` (a
secret; name -> a fresh single-use link, null once onboarded). Stripe: "Don't email, text, or
otherwise send account link URLs outside of your platform application"; the entry URLs are what to send.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import yaml

from pulumi_spaceinvoices import (
    OrganizationConnectAccount,
    StripeConnectConfig,
    get_onboarding_entry_url_output,
    get_onboarding_link_output,
)

HERE = Path(__file__).resolve().parent


def load_organizations(config: pulumi.Config) -> dict[str, dict[str, Any]]:
    """name -> {"id", "active"}, from stack config `organizations`, else the YAML file; checked."""
    listed = config.get_object("organizations")
    source = "stack config `organizations`"
    if listed is None:
        path = HERE / (config.get("organizationsFile") or "organizations.yaml")
        listed = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        source = str(path)
    if not isinstance(listed, dict):
        raise ValueError(f"{source}: expected a mapping of name -> organization id")
    organizations: dict[str, dict[str, Any]] = {}
    names_by_id: dict[str, str] = {}
    for name, entry in listed.items():
        entry = {"id": entry} if not isinstance(entry, dict) else entry
        org_id, active = entry.get("id"), entry.get("active", True)
        if not isinstance(org_id, str):
            raise ValueError(f"{source}: {name}: the organization id must be a quoted string (got {org_id!r})")
        if not isinstance(active, bool) or set(entry) - {"id", "active"}:
            raise ValueError(f"{source}: {name}: expected an id, or {{id: ..., active: true|false}}")
        org_id = org_id.lower()
        if org_id in names_by_id:
            raise ValueError(f"{source}: organization {org_id} is listed twice ({names_by_id[org_id]} and {name})")
        names_by_id[org_id] = str(name)
        organizations[str(name)] = {"id": org_id, "active": active}
    return organizations


config = pulumi.Config()
organizations = load_organizations(config)
# Raw links only when asked for: each costs an API call on every up, expires within minutes, and
# must not leave the platform; the entry URLs cost nothing and do not change.
make_links = config.get_bool("onboardingLinks") is True

connect = StripeConnectConfig(
    "connect",
    private_key=config.require_secret("stripeSecretKey"),
    public_key=config.require("stripePublishableKey"),
    application_fee=config.get_float("applicationFee") or 0.0,
    return_url=config.get("returnUrl") or "https://example.com/onboarding/return",
    refresh_url=config.get("refreshUrl") or "https://example.com/onboarding/refresh",
)

charges_enabled: dict[str, pulumi.Output[bool]] = {}
entry_urls: dict[str, pulumi.Output[str]] = {}
onboarding_urls: dict[str, pulumi.Output[str | None]] = {}
for name, org in organizations.items():
    account = OrganizationConnectAccount(
        name,
        organization_id=org["id"],
        active=org["active"],
        opts=pulumi.ResourceOptions(depends_on=[connect]),
    )
    charges_enabled[name] = account.charges_enabled
    if org["active"]:
        entry_urls[name] = get_onboarding_entry_url_output(account.organization_id).url
        if make_links:
            onboarding_urls[name] = get_onboarding_link_output(account.organization_id).url

pulumi.export("charges_enabled", pulumi.Output.all(**charges_enabled) if charges_enabled else {})
pulumi.export("entry_urls", pulumi.Output.secret(pulumi.Output.all(**entry_urls) if entry_urls else {}))
if make_links:
    pulumi.export("onboarding_urls", pulumi.Output.secret(pulumi.Output.all(**onboarding_urls) if onboarding_urls else {}))
