"""Quickstart: enable Stripe Connect, create one organization's Connect account, export its onboarding link.

`bash examples/quickstart/run.sh` runs this program against the local sandbox (Pulumi.yaml, beside
it, is its project). Stack config, set with `pulumi config set`:

    spaceinvoices:accessToken  secret; or the SPACEINVOICES_ACCESS_TOKEN environment variable
    spaceinvoices:apiUrl       optional; default https://api.spaceinvoices.com
    organizationId             the organization's id (24 hexadecimal characters)
    stripeSecretKey            secret; sk_test_… (or rk_test_…)
    stripePublishableKey       pk_test_…
    applicationFee             optional; platform fee in percent, default 0
    returnUrl, refreshUrl      optional; where onboarding lands when finished / when the link is used or expired
    active                     optional; false deactivates the organization's account, default true

Outputs: `organization_id`, `charges_enabled` (the onboarding status as of the last up or refresh),
`onboarding_url` (a secret: single-use, expires after about five minutes, made anew on every up;
none once onboarding is complete) and `onboarding_url_expires_at`.
"""

from __future__ import annotations

import pulumi

from pulumi_spaceinvoices import OrganizationConnectAccount, StripeConnectConfig, get_onboarding_link_output

config = pulumi.Config()
active = config.get_bool("active")

connect = StripeConnectConfig(
    "connect",
    private_key=config.require_secret("stripeSecretKey"),
    public_key=config.require("stripePublishableKey"),
    application_fee=config.get_float("applicationFee") or 0.0,
    return_url=config.get("returnUrl") or "https://example.com/onboarding/return",
    refresh_url=config.get("refreshUrl") or "https://example.com/onboarding/refresh",
)

account = OrganizationConnectAccount(
    "organization",
    organization_id=config.require("organizationId"),
    active=True if active is None else active,
    opts=pulumi.ResourceOptions(depends_on=[connect]),  # the API refuses accounts until Connect is enabled
)

# From the account's output, so the link is made once the account exists (never during preview).
link = get_onboarding_link_output(account.organization_id)

pulumi.export("organization_id", account.organization_id)
pulumi.export("charges_enabled", account.charges_enabled)
pulumi.export("onboarding_url", link.url)
pulumi.export("onboarding_url_expires_at", link.expires_at)
