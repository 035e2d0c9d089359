"""Both resources through the dynamic providers, written against the first release's API (ee7ad32)
so that every release since runs it unchanged; the upgrade tests (tests/test_upgrade.py) make the
stack with an old release and then run it with the working tree.

Config (project namespace): `stripeSecretKey`, `connectWebhookSecret` (secrets), `organizationId`,
`applicationFee` (default 1.5), `accountActive` (default true). No function: the onboarding link
makes a fresh link on every `up` by design, so it has no place in a check for "nothing changes".
"""

from __future__ import annotations

import pulumi

from pulumi_spaceinvoices import OrganizationConnectAccount, StripeConnectConfig

config = pulumi.Config()

connect = StripeConnectConfig(
    "connect",
    private_key=config.require_secret("stripeSecretKey"),
    public_key="pk_test_UpgradeDynamic0000",
    application_fee=config.get_float("applicationFee") or 1.5,
    refresh_url="https://platform.example.com/onboarding/refresh",
    return_url="https://platform.example.com/onboarding/return",
    connect_webhook_secret=config.require_secret("connectWebhookSecret"),
    custom={"team": "billing", "seats": 3},
)
account = OrganizationConnectAccount(
    "acme",
    organization_id=config.require("organizationId"),
    active=config.get_bool("accountActive") is not False,
    opts=pulumi.ResourceOptions(depends_on=[connect]),
)
pulumi.export("space_invoices_fee", connect.space_invoices_fee)
pulumi.export("charges_enabled", account.charges_enabled)
