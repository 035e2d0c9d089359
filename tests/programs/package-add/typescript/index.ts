// Stripe Connect and one organization's account on the SDK `pulumi package add` generated.
// Config: spaceinvoices:apiUrl, spaceinvoices:accessToken (secret) for the default provider;
// stripeSecretKey (secret), organizationId, applicationFee (default 1.5).
import * as pulumi from "@pulumi/pulumi";
import * as spaceinvoices from "@spaceinvoices/pulumi";

const config = new pulumi.Config();
const connect = new spaceinvoices.StripeConnectConfig("connect", {
    privateKey: config.requireSecret("stripeSecretKey"),
    publicKey: "pk_test_PackageAdd0000",
    applicationFee: config.getNumber("applicationFee") ?? 1.5,
    refreshUrl: "https://platform.example.com/onboarding/refresh",
    returnUrl: "https://platform.example.com/onboarding/return",
});
const acme = new spaceinvoices.OrganizationConnectAccount("acme", {
    organizationId: config.require("organizationId"),
}, { dependsOn: [connect] });
export const chargesEnabled = acme.chargesEnabled;
