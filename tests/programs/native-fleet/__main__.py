"""tests/programs/fleet on the generated SDK (pulumi_spaceinvoices_native): the same resources and inputs."""

from __future__ import annotations

import pulumi
import pulumi_spaceinvoices_native as spaceinvoices

config = pulumi.Config()
connect = spaceinvoices.StripeConnectConfig(
    "connect",
    private_key=config.require_secret("stripeSecretKey"),
    public_key="pk_test_RealEngineFleet000000",
    application_fee=1.0,
    refresh_url="https://platform.example.com/onboarding/refresh",
    return_url="https://platform.example.com/onboarding/return",
)
for org_id in config.require_object("organizations"):
    spaceinvoices.OrganizationConnectAccount(f"org-{org_id}", organization_id=org_id,
                                             opts=pulumi.ResourceOptions(depends_on=[connect]))
