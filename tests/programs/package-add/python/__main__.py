"""Stripe Connect and one organization's account on the SDK `pulumi package add` generated.

Config: `spaceinvoices:apiUrl`, `spaceinvoices:accessToken` (secret) for the default provider;
`stripeSecretKey` (secret), `organizationId`, `applicationFee` (default 1.5).
"""

import pulumi
import pulumi_spaceinvoices_native as spaceinvoices

config = pulumi.Config()
connect = spaceinvoices.StripeConnectConfig(
    "connect",
    private_key=config.require_secret("stripeSecretKey"),
    public_key="pk_test_PackageAdd0000",
    application_fee=config.get_float("applicationFee") or 1.5,
    refresh_url="https://platform.example.com/onboarding/refresh",
    return_url="https://platform.example.com/onboarding/return",
)
acme = spaceinvoices.OrganizationConnectAccount(
    "acme",
    organization_id=config.require("organizationId"),
    opts=pulumi.ResourceOptions(depends_on=[connect]),
)
pulumi.export("chargesEnabled", acme.charges_enabled)
