"""Quickstart: enable Stripe Connect, create one organization's Connect account, export its entry URL.

`bash examples/quickstart/run.sh` runs this program against the local sandbox (Pulumi.yaml, beside
it, is its project). Stack config, set with `pulumi config set`:

    spaceinvoices:accessToken  secret; or the SPACEINVOICES_ACCESS_TOKEN environment variable
    spaceinvoices:apiUrl       optional; default https://api.spaceinvoices.com
    spaceinvoices:onboardingUrl         the onboarding endpoint's public base URL (or SPACEINVOICES_ONBOARDING_URL)
    spaceinvoices:onboardingSigningKey  secret, 32 bytes or more: what signs the entry URL (or SPACEINVOICES_ONBOARDING_SIGNING_KEY)
    organizationId             the organization's id (24 hexadecimal characters)
    stripeSecretKey            secret; sk_test_… (or rk_test_…)
    stripePublishableKey       pk_test_…
    applicationFee             optional; platform fee in percent, default 0
    returnUrl, refreshUrl      optional; where onboarding lands when finished / when the link is used or
                               expired: the endpoint's <onboardingUrl>/return and <onboardingUrl>/refresh
    active                     optional; false deactivates the organization's account, default true
    onboardingLinks            optional; true also exports a raw onboarding link, default false

Outputs: `entry_url` (a secret: the signed URL of the organization's onboarding page on the endpoint,
the same on every up, made with no API call), `organization_id` and `charges_enabled` (the onboarding
status as of the last up or refresh). With `onboardingLinks: true` also `onboarding_url` (a secret:
Stripe's link itself, single-use, expiring after about five minutes, made anew on every up, none once
onboarding is complete) and `onboarding_url_expires_at`. Stripe: "Don't email, text, or otherwise
send account link URLs outside of your platform application"; hand people the entry URL instead.
"""

from __future__ import annotations

import pulumi

from pulumi_spaceinvoices import (
    OrganizationConnectAccount,
    StripeConnectConfig,
    get_onboarding_entry_url_output,
    get_onboarding_link_output,
)

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

# From the account's output, so the URL is handed out once the account exists. It calls nothing:
# the endpoint makes Stripe's link only when the admin presses its button.
pulumi.export("entry_url", get_onboarding_entry_url_output(account.organization_id).url)
pulumi.export("organization_id", account.organization_id)
pulumi.export("charges_enabled", account.charges_enabled)
if config.get_bool("onboardingLinks"):
    # Stripe's link itself: single-use, minutes long, one API call per up (never in preview), and
    # never to be sent outside the platform (a mail scanner's preview uses it up).
    link = get_onboarding_link_output(account.organization_id)
    pulumi.export("onboarding_url", link.url)
    pulumi.export("onboarding_url_expires_at", link.expires_at)
