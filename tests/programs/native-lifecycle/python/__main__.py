"""The native-provider lifecycle program (../yaml/Pulumi.yaml) on the generated Python SDK.

Config: `apiUrl`, `accessToken` (secret), `stripeSecretKey` (secret), `organizationId`, `onboardingUrl`,
`onboardingSigningKey` (secret),
`applicationFee` (default 1.5), `accountActive` (default true), `shareableId` (export the invoice's
payment data through the getPaymentIntent invoke).
"""

import pulumi
import pulumi_spaceinvoices_native as spaceinvoices

config = pulumi.Config()

# example: Provider
account = spaceinvoices.Provider(
    "account",
    access_token=config.require_secret("accessToken"),
    api_url=config.require("apiUrl"),
    onboarding_url=config.require("onboardingUrl"),
    onboarding_signing_key=config.require_secret("onboardingSigningKey"),
)
# end example
# example: StripeConnectConfig
connect = spaceinvoices.StripeConnectConfig(
    "connect",
    private_key=config.require_secret("stripeSecretKey"),
    public_key="pk_test_NativeLifecycle0000",
    application_fee=config.get_float("applicationFee") or 1.5,
    refresh_url="https://platform.example.com/onboarding/refresh",
    return_url="https://platform.example.com/onboarding/return",
    opts=pulumi.ResourceOptions(provider=account),
)
# end example
# example: OrganizationConnectAccount
acme = spaceinvoices.OrganizationConnectAccount(
    "acme",
    organization_id=config.require("organizationId"),
    active=config.get_bool("accountActive") is not False,
    opts=pulumi.ResourceOptions(provider=account, depends_on=[connect]),
)
# end example
# example: OnboardingLink
acme_link = spaceinvoices.OnboardingLink(
    "acmeLink",
    organization_id=acme.organization_id,
    opts=pulumi.ResourceOptions(provider=account),
)
# end example
# example: getOnboardingEntryUrl
acme_entry = spaceinvoices.get_onboarding_entry_url_output(
    organization_id=acme.organization_id,
    opts=pulumi.InvokeOutputOptions(provider=account),
)
# end example

pulumi.export("spaceInvoicesFee", connect.space_invoices_fee)
pulumi.export("chargesEnabled", acme.charges_enabled)
pulumi.export("onboardingUrl", acme_link.url)
pulumi.export("onboardingComplete", acme_link.onboarding_complete)
pulumi.export("entryUrl", acme_entry.url)

shareable_id = config.get("shareableId")
if shareable_id:
    # example: getPaymentIntent
    payment = spaceinvoices.get_payment_intent_output(
        shareable_id=shareable_id,
        opts=pulumi.InvokeOutputOptions(provider=account, depends_on=[acme]),
    )
    pulumi.export("paymentIntentId", payment.payment_intent_id)
    pulumi.export("clientSecret", payment.client_secret)
    # end example
