"""Stripe Connect and one OrganizationConnectAccount per id in the stack config list `organizations`."""

from __future__ import annotations

import pulumi

from pulumi_spaceinvoices import OrganizationConnectAccount, StripeConnectConfig

config = pulumi.Config()
connect = StripeConnectConfig(
    "connect",
    private_key=config.require_secret("stripeSecretKey"),
    public_key="pk_test_RealEngineFleet000000",
    application_fee=1.0,
    refresh_url="https://platform.example.com/onboarding/refresh",
    return_url="https://platform.example.com/onboarding/return",
)
for org_id in config.require_object("organizations"):
    OrganizationConnectAccount(f"org-{org_id}", organization_id=org_id,
                               opts=pulumi.ResourceOptions(depends_on=[connect]))
