"""Both resources and both functions, each shaped by stack config, for the real-engine lifecycle tests.

Config (project namespace): `stripeSecretKey` (secret), `connectWebhookSecret` (secret, optional),
`applicationFee` (default 1.5),
`organizationId`, `accountName` (default "acme"), `aliasOf` (a former name of the account
resource), `accountActive` (default true), `onboardingLink` (default false: export a fresh link), `entryUrl` (default false: export the signed entry URL),
`shareableId` (export the invoice's payment data).
"""

from __future__ import annotations

import pulumi

from pulumi_spaceinvoices import (
    OrganizationConnectAccount,
    StripeConnectConfig,
    get_onboarding_entry_url_output,
    get_onboarding_link_output,
    get_payment_intent_output,
)

config = pulumi.Config()

connect = StripeConnectConfig(
    "connect",
    private_key=config.require_secret("stripeSecretKey"),
    public_key="pk_test_RealEngineLifecycle0000",
    application_fee=config.get_float("applicationFee") or 1.5,
    refresh_url="https://platform.example.com/onboarding/refresh",
    return_url="https://platform.example.com/onboarding/return",
    connect_webhook_secret=config.get_secret("connectWebhookSecret"),
)
pulumi.export("space_invoices_fee", connect.space_invoices_fee)

org_id = config.get("organizationId")
account = None
if org_id:
    alias = config.get("aliasOf")
    account = OrganizationConnectAccount(
        config.get("accountName") or "acme",
        organization_id=org_id,
        active=config.get_bool("accountActive") is not False,
        opts=pulumi.ResourceOptions(depends_on=[connect], aliases=[pulumi.Alias(name=alias)] if alias else None),
    )
    pulumi.export("charges_enabled", account.charges_enabled)
    if config.get_bool("onboardingLink"):
        link = get_onboarding_link_output(account.organization_id)
        pulumi.export("onboarding_url", link.url)
        pulumi.export("onboarding_complete", link.onboarding_complete)
    if config.get_bool("entryUrl"):  # signed with spaceinvoices:onboardingSigningKey, for spaceinvoices:onboardingUrl
        pulumi.export("entry_url", get_onboarding_entry_url_output(account.organization_id).url)

shareable_id = config.get("shareableId")
if shareable_id:
    # After the account: paying needs the organization's account active.
    intent = get_payment_intent_output(shareable_id, opts=pulumi.InvokeOutputOptions(depends_on=account))
    pulumi.export("payment_intent_id", intent.payment_intent_id)
    pulumi.export("payment_client_secret", intent.client_secret)
