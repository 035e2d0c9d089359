// The native-provider lifecycle program (../yaml/Pulumi.yaml) on the generated TypeScript SDK.
// Config: apiUrl, accessToken (secret), stripeSecretKey (secret), organizationId, onboardingUrl,
// onboardingSigningKey (secret), applicationFee
// (default 1.5), accountActive (default true), shareableId (export the invoice's payment data).
import * as pulumi from "@pulumi/pulumi";
import * as spaceinvoices from "@spaceinvoices/pulumi";

const config = new pulumi.Config();

// example: Provider
const account = new spaceinvoices.Provider("account", {
    accessToken: config.requireSecret("accessToken"),
    apiUrl: config.require("apiUrl"),
    onboardingUrl: config.require("onboardingUrl"),
    onboardingSigningKey: config.requireSecret("onboardingSigningKey"),
});
// end example
// example: StripeConnectConfig
const connect = new spaceinvoices.StripeConnectConfig("connect", {
    privateKey: config.requireSecret("stripeSecretKey"),
    publicKey: "pk_test_NativeLifecycle0000",
    applicationFee: config.getNumber("applicationFee") ?? 1.5,
    refreshUrl: "https://platform.example.com/onboarding/refresh",
    returnUrl: "https://platform.example.com/onboarding/return",
}, { provider: account });
// end example
// example: OrganizationConnectAccount
const acme = new spaceinvoices.OrganizationConnectAccount("acme", {
    organizationId: config.require("organizationId"),
    active: config.getBoolean("accountActive") ?? true,
}, { provider: account, dependsOn: [connect] });
// end example
// example: OnboardingLink
const acmeLink = new spaceinvoices.OnboardingLink("acmeLink", {
    organizationId: acme.organizationId,
}, { provider: account });
// end example
// example: getOnboardingEntryUrl
const acmeEntry = spaceinvoices.getOnboardingEntryUrlOutput({ organizationId: acme.organizationId }, { provider: account });
// end example

// The stack outputs, as the other languages' programs export them.
const outputs: Record<string, pulumi.Output<unknown>> = {
    spaceInvoicesFee: connect.spaceInvoicesFee,
    chargesEnabled: acme.chargesEnabled,
    onboardingUrl: acmeLink.url,
    onboardingComplete: acmeLink.onboardingComplete,
    entryUrl: acmeEntry.url,
};

const shareableId = config.get("shareableId");
if (shareableId) {
    // example: getPaymentIntent
    const payment = spaceinvoices.getPaymentIntentOutput({ shareableId }, { provider: account, dependsOn: [acme] });
    outputs.paymentIntentId = payment.paymentIntentId;
    outputs.clientSecret = payment.clientSecret;
    // end example
}
export = outputs;
